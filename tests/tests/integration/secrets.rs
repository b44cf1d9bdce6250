//! Secrets from SSM Parameter Store (moto's SSM server stands in for AWS):
//! read in one call with decryption; each function reads only its own; a
//! parameter that does not exist is an optional secret left out.

use std::collections::HashMap;

use aws_sdk_ssm::types::ParameterType;
use phone_verification::adapters::ssm::load_secrets;
use phone_verification::app::{self, SEND_SECRETS, VERIFY_SECRETS};
use phone_verification::config::{ConfigError, SendConfig, VerifyConfig};
use secrecy::ExposeSecret;

async fn ssm() -> aws_sdk_ssm::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_SSM").is_ok(),
        "AWS_ENDPOINT_URL_SSM is not set: run the tests with scripts/test.sh, which starts moto's SSM server"
    );
    aws_sdk_ssm::Client::new(&integration_tests::aws_config().load().await)
}

async fn put_secret(client: &aws_sdk_ssm::Client, name: &str, value: &str) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("moto stores the parameter");
}

#[tokio::test]
async fn secrets_named_by_parameter_settings_are_read_and_override_nothing_else() {
    let client = ssm().await;
    let prefix = format!("/phone-verification/test-{}", std::process::id());
    put_secret(&client, &format!("{prefix}/auth-token"), "token-from-ssm").await;
    put_secret(
        &client,
        &format!("{prefix}/hmac-key"),
        "hmac-key-from-ssm-0123456789abcdef",
    )
    .await;
    put_secret(
        &client,
        &format!("{prefix}/identity-key"),
        "identity-key-from-ssm-0123456789ab",
    )
    .await;

    let env: HashMap<String, String> = [
        (
            "TWILIO_AUTH_TOKEN_PARAMETER",
            format!("{prefix}/auth-token"),
        ),
        ("CODE_HMAC_KEY_PARAMETER", format!("{prefix}/hmac-key")),
        (
            "IDENTITY_HMAC_KEY_PARAMETER",
            format!("{prefix}/identity-key"),
        ),
        ("VERIFICATIONS_TABLE", "verifications".into()),
        (
            "TWILIO_ACCOUNT_SID",
            "AC0123456789abcdef0123456789abcdef".into(),
        ),
        ("TWILIO_FROM_NUMBER", "+15005550006".into()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    let lookup = |name: &str| env.get(name).cloned();
    let secrets = load_secrets(&client, SEND_SECRETS, lookup)
        .await
        .expect("secrets load");
    assert_eq!(secrets["TWILIO_AUTH_TOKEN"], "token-from-ssm");
    assert_eq!(secrets.len(), 3);

    let config =
        SendConfig::from_lookup(|name| secrets.get(name).cloned().or_else(|| lookup(name)))
            .expect("a complete configuration");
    assert_eq!(
        config
            .twilio
            .as_ref()
            .unwrap()
            .credentials
            .password
            .expose_secret(),
        "token-from-ssm"
    );

    // The verify function never reads the Twilio secret, even when named.
    let secrets = load_secrets(&client, VERIFY_SECRETS, lookup)
        .await
        .expect("secrets load");
    assert!(!secrets.contains_key("TWILIO_AUTH_TOKEN"));
    assert_eq!(secrets.len(), 2);
    let config =
        VerifyConfig::from_lookup(|name| secrets.get(name).cloned().or_else(|| lookup(name)))
            .expect("a complete configuration");
    assert!(config.proof.is_none());
}

#[tokio::test]
async fn a_missing_parameter_is_left_out_and_a_required_one_is_named() {
    let client = ssm().await;
    let lookup =
        |name: &str| (name == "CODE_HMAC_KEY_PARAMETER").then(|| "/does/not/exist".to_owned());
    let secrets = load_secrets(&client, VERIFY_SECRETS, lookup)
        .await
        .expect("a missing parameter is no error");
    assert!(secrets.is_empty());
    let config = VerifyConfig::from_lookup(|name| {
        secrets
            .get(name)
            .cloned()
            .or_else(|| (name == "VERIFICATIONS_TABLE").then(|| "t".into()))
    });
    assert_eq!(config.unwrap_err(), ConfigError::Missing("CODE_HMAC_KEY"));
}

#[tokio::test]
async fn without_parameter_settings_nothing_is_fetched() {
    // An unreachable endpoint proves no call is made.
    let config = app::aws_config()
        .expect("an HTTP client")
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    let client = aws_sdk_ssm::Client::new(&config);
    assert!(
        load_secrets(&client, SEND_SECRETS, |_| None)
            .await
            .unwrap()
            .is_empty()
    );
}
