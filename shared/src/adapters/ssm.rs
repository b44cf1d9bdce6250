//! Secrets from AWS Systems Manager Parameter Store (SecureString), read
//! once at cold start: `<SETTING>_PARAMETER` names the parameter that holds
//! `<SETTING>`. Plain environment values remain for local runs.

use std::collections::HashMap;

use aws_sdk_ssm::error::DisplayErrorContext;

/// The settings that are secrets and may live in Parameter Store.
pub const SECRET_SETTINGS: [&str; 5] = [
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY_SECRET",
    "CODE_HMAC_KEY",
    "CODE_HMAC_PREVIOUS_KEYS",
    "PROOF_SIGNING_KEY",
];

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read secrets from SSM Parameter Store: {0}")]
    Unavailable(String),
    #[error("SSM parameters not found (or not readable): {0}")]
    NotFound(String),
}

/// Reads every secret whose `<SETTING>_PARAMETER` is set, in one
/// `GetParameters` call with decryption; no call when none is set.
pub async fn load_secrets(
    client: &aws_sdk_ssm::Client,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, SecretsError> {
    let wanted: Vec<(&str, String)> = SECRET_SETTINGS
        .iter()
        .filter_map(|setting| {
            lookup(&format!("{setting}_PARAMETER"))
                .filter(|name| !name.trim().is_empty())
                .map(|name| (*setting, name))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let output = client
        .get_parameters()
        .set_names(Some(wanted.iter().map(|(_, name)| name.clone()).collect()))
        .with_decryption(true)
        .send()
        .await
        .map_err(|error| SecretsError::Unavailable(DisplayErrorContext(&error).to_string()))?;
    if !output.invalid_parameters().is_empty() {
        return Err(SecretsError::NotFound(
            output.invalid_parameters().join(", "),
        ));
    }
    let values: HashMap<&str, &str> = output
        .parameters()
        .iter()
        .filter_map(|parameter| Some((parameter.name()?, parameter.value()?)))
        .collect();
    wanted
        .iter()
        .map(|(setting, name)| {
            values
                .get(name.as_str())
                .map(|value| (setting.to_string(), value.to_string()))
                .ok_or_else(|| SecretsError::NotFound(name.clone()))
        })
        .collect()
}
