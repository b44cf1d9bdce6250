//! Secrets from AWS Systems Manager Parameter Store (SecureString), read
//! once at cold start: `<SETTING>_PARAMETER` names the parameter that holds
//! `<SETTING>`. Plain environment values remain for local runs.

use std::collections::HashMap;

use aws_sdk_ssm::error::DisplayErrorContext;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read secrets from SSM Parameter Store: {0}")]
    Unavailable(String),
}

/// Reads each of `settings` whose `<SETTING>_PARAMETER` is set, in one
/// `GetParameters` call with decryption; no call when none is set. A
/// parameter that does not exist is an optional secret left out (the
/// configuration then says which required setting is missing); its name is
/// logged.
pub async fn load_secrets(
    client: &aws_sdk_ssm::Client,
    settings: &[&str],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, SecretsError> {
    let wanted: Vec<(&str, String)> = settings
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
        let missing = output.invalid_parameters().join(", ");
        tracing::info!(missing, "these secrets are not in Parameter Store");
    }
    let values: HashMap<&str, &str> = output
        .parameters()
        .iter()
        .filter_map(|parameter| Some((parameter.name()?, parameter.value()?)))
        .collect();
    Ok(wanted
        .iter()
        .filter_map(|(setting, name)| {
            let value = values.get(name.as_str())?;
            Some((setting.to_string(), value.to_string()))
        })
        .collect())
}
