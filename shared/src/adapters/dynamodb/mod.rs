//! The verification store on DynamoDB. One table, generic key `pk`:
//!
//! - `phone#+14155550123`: the number's current verification (hash of the
//!   code, attempts, `code_expires_at`) and its cooldown and lockout (last
//!   send, consecutive failures): a fixed set of attributes, whatever its age;
//! - `phone#+14155550123#10m#<window>`, `phone#+14155550123#1d#<window>`: the
//!   number's sends per window; `client#<ip>#<hour>`, `budget#all#<hour>`,
//!   `budget#<country>#<hour>`: hourly counters. Each counter is an item of
//!   its own that the TTL removes after its window.
//!
//! Every change is conditional, so no limit can be raced past: a send is one
//! `TransactWriteItems` (number + its windows + client + budgets, all or
//! nothing), a check
//! one `UpdateItem` for the client and one for the attempt. Expiry is
//! enforced by the conditions; the TTL on `expires_at` only cleans up and may
//! lag by up to 48 hours.
//!
//! `keys` names the items, `counters` builds the counter updates,
//! `verifications` and `idempotency` implement the two ports (with
//! `traffic`, fraud protection's counts and restrictions), `refusals`
//! explains a failed condition from the item as it was, and `attributes`
//! reads and writes attribute values.

mod attributes;
mod counters;
mod health;
mod idempotency;
mod keys;
mod operations;
mod refusals;
mod traffic;
mod verifications;

use std::collections::HashMap;

pub use health::DynamoDbHealth;
pub use operations::{BudgetUse, Budgets, Lift, NumberState, RestrictionState, Unlock};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::domain::Pseudonym;
use crate::ports::StoreError;
use attributes::s;
use keys::number_key;

type Item = HashMap<String, AttributeValue>;

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const WITHDRAWN: &str = "withdrawn";

/// The number is not locked: fewer consecutive failures than the limit, or
/// the last one is older than the lockout.
const NOT_LOCKED: &str =
    "(attribute_not_exists(failures) OR failures < :lock_after OR last_attempt_at <= :lock_edge)";

#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// An `UpdateItem` on the number's item; `status` is a reserved word, so
    /// expressions say `#status`.
    fn update_number(&self, number: &Pseudonym) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&number_key(number)))
            .expression_attribute_names("#status", "status")
    }

    /// Opens the connection (credentials, DNS, TLS) with a cheap call at cold
    /// start, so the first request does not pay for it. Failures only log.
    pub async fn warm_up(&self) {
        let started = std::time::Instant::now();
        let result = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        let latency_ms = started.elapsed().as_millis();
        match result {
            Ok(_) => tracing::info!(latency_ms, "dynamodb connection warmed"),
            Err(error) => {
                tracing::warn!(
                    latency_ms,
                    error = describe(&error),
                    "dynamodb warm-up failed"
                )
            }
        }
    }
}

/// Runs a conditional update: `Ok(Ok(attributes))` when it was applied,
/// `Ok(Err(item as it was))` when the condition failed (`None`: no item).
async fn conditional(
    request: UpdateItemFluentBuilder,
) -> Result<Result<Option<Item>, Option<Item>>, StoreError> {
    let request = request
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let started = std::time::Instant::now();
    let result = request.send().await;
    let latency_ms = started.elapsed().as_millis();
    tracing::info!(operation = "UpdateItem", latency_ms, "dynamodb call");
    match result {
        Ok(output) => Ok(Ok(output.attributes)),
        Err(SdkError::ServiceError(failure))
            if matches!(
                failure.err(),
                UpdateItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            let UpdateItemError::ConditionalCheckFailedException(failed) = failure.into_err()
            else {
                unreachable!("matched above")
            };
            Ok(Err(failed.item))
        }
        Err(other) => Err(unavailable(other)),
    }
}

fn unavailable<E: ProvideErrorMetadata, R>(error: SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(describe(&error))
}

/// The error's code and message or its kind, for the logs. Never the raw
/// response: a failed request's body can echo items, i.e. phone numbers.
fn describe<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("unknown error"),
            service.err().message().unwrap_or("")
        ),
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(_) => "could not connect".into(),
        SdkError::ResponseError(_) => "unreadable response".into(),
        _ => "request could not be built".into(),
    }
}
