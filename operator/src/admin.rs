//! What the commands work on: `Admin` (the table, through the functions'
//! adapter, and the stack's configuration, read as the functions read them),
//! and how a number is found in it (its pseudonyms, and the error when it has
//! no item).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use phone_verification::adapters::dynamodb::DynamoDbStore;
use phone_verification::adapters::https;
use phone_verification::app;
use phone_verification::config::OperatorConfig;
use phone_verification::domain::Pseudonym;

use crate::args::Number;

/// What the tool works on: the table, through the functions' adapter, and
/// the stack's configuration (the identity key, the limits; never the code key).
pub struct Admin {
    pub(crate) store: DynamoDbStore,
    pub(crate) config: OperatorConfig,
}

impl Admin {
    pub fn new(store: DynamoDbStore, config: OperatorConfig) -> Self {
        Self { store, config }
    }

    /// The stack's configuration and table, read as the functions read them.
    pub async fn from_environment() -> Result<Self, String> {
        let cannot =
            |error: &dyn std::fmt::Display| format!("cannot read the configuration: {error}");
        // The functions' SDK configuration (their TLS set-up and HTTP client)
        // with longer timeouts: an operator's network may be slower than
        // Lambda's, and a Scan page takes longer than an update.
        let http = https::aws_http_client(Duration::from_secs(5)).map_err(|e| cannot(&e))?;
        let aws = app::aws_config()
            .map_err(|error| cannot(&error))?
            .http_client(http)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .load()
            .await;
        if aws.region().is_none() {
            return Err(
                "no AWS region: set AWS_REGION (or a profile's region), that of the stack".into(),
            );
        }
        let settings = app::settings(&aws, app::OPERATOR_SECRETS)
            .await
            .map_err(|error| cannot(&error))?;
        let config = OperatorConfig::from_lookup(settings).map_err(|error| cannot(&error))?;
        let store = DynamoDbStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.table_name.clone(),
        );
        Ok(Self::new(store, config))
    }
}

/// The number's pseudonym under the current identity key, then under the
/// previous ones (a code sent before a rotation is still kept under those),
/// in its service.
pub(crate) fn pseudonyms(admin: &Admin, number: &Number) -> Vec<Pseudonym> {
    let stack = &admin.config.identities;
    let identities = match &number.service {
        Some(sid) => stack.for_service(sid),
        None => stack.clone(),
    };
    std::iter::once(identities.number(&number.phone))
        .chain(identities.number_before_rotation(&number.phone))
        .collect()
}

pub(crate) fn no_item(admin: &Admin, number: &Number) -> String {
    format!(
        "no item for {}{} in {}: no code was asked for it lately (items expire a day after \
         the last send or check, plus LOCKOUT_SECONDS), or under other keys",
        number.phone.as_e164(),
        number
            .service
            .as_ref()
            .map_or(String::new(), |sid| format!(" in service {sid}")),
        admin.config.table_name
    )
}
