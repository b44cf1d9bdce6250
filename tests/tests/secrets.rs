//! Secrets from SSM Parameter Store (moto's SSM server stands in for AWS):
//! read in one call with decryption, and a missing parameter stops the
//! start with its name.

use std::collections::HashMap;

use aws_sdk_ssm::types::ParameterType;
use phone_verification::adapters::ssm::{SecretsError, load_secrets};
use phone_verification::config::Config;

async fn ssm() -> aws_sdk_ssm::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_SSM").is_ok(),
        "AWS_ENDPOINT_URL_SSM is not set: run the tests with scripts/test.sh, which starts moto's SSM server"
    );
    aws_sdk_ssm::Client::new(&aws_config::load_from_env().await)
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

    let env: HashMap<String, String> = [
        (
            "TWILIO_AUTH_TOKEN_PARAMETER",
            format!("{prefix}/auth-token"),
        ),
        ("CODE_HMAC_KEY_PARAMETER", format!("{prefix}/hmac-key")),
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
    let secrets = load_secrets(&client, lookup).await.expect("secrets load");
    assert_eq!(secrets["TWILIO_AUTH_TOKEN"], "token-from-ssm");
    assert_eq!(secrets.len(), 2);

    let config = Config::from_lookup(|name| secrets.get(name).cloned().or_else(|| lookup(name)))
        .expect("a complete configuration");
    assert_eq!(config.twilio.credentials.password, "token-from-ssm");
}

#[tokio::test]
async fn a_missing_parameter_is_named() {
    let client = ssm().await;
    let lookup =
        |name: &str| (name == "PROOF_SIGNING_KEY_PARAMETER").then(|| "/does/not/exist".to_owned());
    match load_secrets(&client, lookup).await {
        Err(SecretsError::NotFound(names)) => assert!(names.contains("/does/not/exist")),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn without_parameter_settings_nothing_is_fetched() {
    // An unreachable endpoint proves no call is made.
    let config = aws_config::from_env()
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    let client = aws_sdk_ssm::Client::new(&config);
    assert!(load_secrets(&client, |_| None).await.unwrap().is_empty());
}
