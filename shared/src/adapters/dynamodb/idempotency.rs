//! The idempotency store: one item per key, a lease while the first request
//! runs, then its answer for a day.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

use super::attributes::{get_s, n, s};
use super::keys::idempotency_key;
use super::{DynamoDbStore, conditional, unavailable};
use crate::domain::Timestamp;
use crate::ports::{
    Claim, IDEMPOTENCY_ANSWER_SECONDS, IDEMPOTENCY_LEASE_SECONDS, IdempotencyStore, StoreError,
};

impl DynamoDbStore {
    fn update_key(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&idempotency_key(key)))
    }
}

impl IdempotencyStore for DynamoDbStore {
    async fn claim(&self, key: &str, now: Timestamp) -> Result<Claim, StoreError> {
        let request = self
            .update_key(key)
            .update_expression("SET expires_at = :lease_ends")
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .expression_attribute_values(
                ":lease_ends",
                n(now.plus_seconds(IDEMPOTENCY_LEASE_SECONDS).unix_seconds()),
            );
        Ok(match conditional(request).await? {
            Ok(_) => Claim::First,
            Err(Some(item)) if item.contains_key("answer") => {
                Claim::Replay(get_s(&item, "answer")?.to_owned())
            }
            Err(_) => Claim::InProgress,
        })
    }

    async fn complete(&self, key: &str, answer: &str, now: Timestamp) -> Result<(), StoreError> {
        let request = self
            .update_key(key)
            .update_expression("SET answer = :answer, expires_at = :expires_at")
            .expression_attribute_values(":answer", s(answer))
            .expression_attribute_values(
                ":expires_at",
                n(now.plus_seconds(IDEMPOTENCY_ANSWER_SECONDS).unix_seconds()),
            );
        request.send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn release(&self, key: &str, now: Timestamp) -> Result<(), StoreError> {
        // An expired lease is free to claim: no DeleteItem permission needed.
        let request = self
            .update_key(key)
            .update_expression("SET expires_at = :now")
            .expression_attribute_values(":now", n(now.unix_seconds()));
        request.send().await.map_err(unavailable)?;
        Ok(())
    }
}
