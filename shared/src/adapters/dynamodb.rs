//! The verification store on DynamoDB: one item per phone number, every
//! change one conditional `UpdateItem` (the only action the functions need).
//!
//! Expiry is enforced by the conditions (`expires_at > :now`); the table's
//! TTL on `expires_at` only cleans up, and may lag by up to 48 hours.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::domain::{CodeMac, PhoneNumber, Timestamp, VerificationId};
use crate::ports::{
    AttemptRefused, CountedAttempt, NewVerification, StoreError, VerificationStore,
};

type Item = HashMap<String, AttributeValue>;

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const WITHDRAWN: &str = "withdrawn";

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
    fn update(&self, phone: &PhoneNumber) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("phone_number", s(phone.as_e164()))
            .expression_attribute_names("#status", "status")
    }
}

/// Runs a conditional update: `Ok(Ok(attributes))` when it was applied,
/// `Ok(Err(item as it was))` when the condition failed (`None`: no item).
async fn conditional(
    request: UpdateItemFluentBuilder,
) -> Result<Result<Option<Item>, Option<Item>>, StoreError> {
    match request.send().await {
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

fn unavailable(error: SdkError<UpdateItemError>) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(&error).to_string())
}

impl VerificationStore for DynamoDbStore {
    async fn save_new(&self, new: &NewVerification) -> Result<(), StoreError> {
        let request = self
            .update(&new.phone)
            .update_expression(
                "SET verification_id = :id, code_mac = :mac, key_id = :key_id, \
                 channel = :channel, #status = :pending, attempts = :zero, \
                 created_at = :now, expires_at = :expires_at REMOVE verified_at",
            )
            .expression_attribute_values(":id", s(new.id.as_str()))
            .expression_attribute_values(
                ":mac",
                AttributeValue::B(Blob::new(new.code_mac.as_bytes())),
            )
            .expression_attribute_values(":key_id", s(&new.key_id))
            .expression_attribute_values(":channel", s(new.channel.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(new.created_at.unix_seconds()))
            .expression_attribute_values(":expires_at", n(new.expires_at.unix_seconds()));
        request.send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn withdraw(&self, phone: &PhoneNumber, id: &VerificationId) -> Result<(), StoreError> {
        let request = self
            .update(phone)
            .update_expression("SET #status = :withdrawn REMOVE code_mac")
            .condition_expression("verification_id = :id AND #status = :pending")
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":withdrawn", s(WITHDRAWN));
        // A failed condition means a newer code replaced this one: fine.
        conditional(request).await.map(|_| ())
    }

    async fn count_attempt(
        &self,
        phone: &PhoneNumber,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Result<CountedAttempt, AttemptRefused>, StoreError> {
        let request = self
            .update(phone)
            .update_expression("SET attempts = attempts + :one")
            .condition_expression("#status = :pending AND expires_at > :now AND attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .expression_attribute_values(":max", n(max_attempts))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match conditional(request).await? {
            Ok(Some(item)) => Ok(Ok(CountedAttempt {
                id: VerificationId::from_stored(get_s(&item, "verification_id")?.to_owned()),
                code_mac: CodeMac::from_stored(get_b(&item, "code_mac")?.to_vec()),
                key_id: get_s(&item, "key_id")?.to_owned(),
                attempts: get_n(&item, "attempts")?,
                expires_at: Timestamp::from_unix_seconds(get_n(&item, "expires_at")?),
            })),
            Ok(None) => Err(StoreError::Malformed(
                "update returned no attributes".into(),
            )),
            Err(old) => Ok(Err(why_refused(old.as_ref(), now, max_attempts)?)),
        }
    }

    async fn approve(
        &self,
        phone: &PhoneNumber,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let request = self
            .update(phone)
            .update_expression("SET #status = :approved, verified_at = :now REMOVE code_mac")
            .condition_expression("verification_id = :id AND #status = :pending")
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":approved", s(APPROVED))
            .expression_attribute_values(":now", n(now.unix_seconds()));
        Ok(conditional(request).await?.is_ok())
    }
}

/// Explains a failed attempt condition from the item as it was.
fn why_refused(
    item: Option<&Item>,
    now: Timestamp,
    max_attempts: u32,
) -> Result<AttemptRefused, StoreError> {
    let Some(item) = item else {
        return Ok(AttemptRefused::NoPendingVerification);
    };
    let expires_at = Timestamp::from_unix_seconds(get_n(item, "expires_at")?);
    Ok(match get_s(item, "status")? {
        APPROVED => AttemptRefused::AlreadyApproved,
        PENDING if expires_at <= now => AttemptRefused::Expired,
        PENDING if get_n::<u32>(item, "attempts")? >= max_attempts => {
            AttemptRefused::AttemptsExhausted
        }
        _ => AttemptRefused::NoPendingVerification,
    })
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn attribute<'a>(item: &'a Item, name: &str) -> Result<&'a AttributeValue, StoreError> {
    item.get(name)
        .ok_or_else(|| StoreError::Malformed(format!("attribute {name} is missing")))
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match attribute(item, name)? {
        AttributeValue::S(value) => Ok(value),
        _ => Err(StoreError::Malformed(format!(
            "attribute {name} is not a string"
        ))),
    }
}

fn get_b<'a>(item: &'a Item, name: &str) -> Result<&'a [u8], StoreError> {
    match attribute(item, name)? {
        AttributeValue::B(value) => Ok(value.as_ref()),
        _ => Err(StoreError::Malformed(format!(
            "attribute {name} is not binary"
        ))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match attribute(item, name)? {
        AttributeValue::N(value) => value
            .parse()
            .map_err(|_| StoreError::Malformed(format!("attribute {name} is out of range"))),
        _ => Err(StoreError::Malformed(format!(
            "attribute {name} is not a number"
        ))),
    }
}
