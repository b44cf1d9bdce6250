//! The counters: one item per key and window, incremented under a condition
//! that it stays below its maximum; the TTL removes it after its window.

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, Update};

use super::DynamoDbStore;
use super::attributes::{n, s};
use super::keys::{budget_key, client_key};
use crate::domain::{Allowance, Limits, Pseudonym, Timestamp, Window, budget_shards, shard_budget};
use crate::ports::StoreError;

/// An hourly counter below its maximum.
const COUNTER_UPDATE: &str = "ADD hits :one SET expires_at = :counter_ttl";
const COUNTER_BELOW_MAX: &str = "attribute_not_exists(hits) OR hits < :max";

/// `counter` also counting `attribute` (a client's sends, a number's calls)
/// on the same item, refused at `max` as well as at its own maximum.
fn also_counting(counter: UpdateBuilder, attribute: &str, max: u32) -> UpdateBuilder {
    counter
        .update_expression(format!(
            "ADD hits :one, {attribute} :one SET expires_at = :counter_ttl"
        ))
        .condition_expression(format!(
            "({COUNTER_BELOW_MAX}) AND (attribute_not_exists({attribute}) OR {attribute} < :max_{attribute})"
        ))
        .expression_attribute_values(format!(":max_{attribute}"), n(max))
}

impl DynamoDbStore {
    /// One request of `client` in this hour, and one send if `sending`:
    /// the client's hourly counter counts both, each against its own maximum.
    pub(super) fn client_counter(
        &self,
        client: &Pseudonym,
        now: Timestamp,
        allowance: Allowance,
        sending: bool,
    ) -> Result<Update, StoreError> {
        let counter = self
            .counter_update(client_key(client), Window::HOUR, allowance.requests, now)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let counter = match sending {
            true => also_counting(counter, "sends", allowance.sends),
            false => counter,
        };
        counter
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))
    }

    /// One hit on the counter `key` of the window of `length` seconds that
    /// holds `now`, refused at `max`; the item expires an hour after its window.
    pub(super) fn counter(
        &self,
        key: String,
        length: u64,
        max: u32,
        now: Timestamp,
    ) -> Result<Update, StoreError> {
        self.counter_update(key, length, max, now)
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))
    }

    /// One send to a number on the counter `key` of its UTC day, refused
    /// at `sends_per_day`; a call also counts against `calls_per_day`.
    pub(super) fn daily_counter(
        &self,
        key: String,
        limits: &Limits,
        call: bool,
        now: Timestamp,
    ) -> Result<Update, StoreError> {
        let counter = self.counter_update(key, Window::DAY, limits.sends_per_day, now);
        let counter = match call {
            true => also_counting(counter, "calls", limits.calls_per_day)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                ),
            false => counter,
        };
        counter
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))
    }

    /// One hit on a budget: on a random shard when the budget is sharded,
    /// each shard refusing at its share.
    pub(super) fn budget_counter(
        &self,
        scope: &str,
        budget: u32,
        now: Timestamp,
    ) -> Result<Update, StoreError> {
        let shards = budget_shards(budget);
        let shard = rand::random_range(0..shards);
        self.counter(
            budget_key(scope, shard, shards),
            Window::HOUR,
            shard_budget(budget),
            now,
        )
    }

    /// One hit on the hourly counter `key`, never refused (a tally).
    pub(super) fn tally(&self, key: String, now: Timestamp) -> Result<Update, StoreError> {
        let window = Window::containing(now, Window::HOUR);
        Update::builder()
            .table_name(&self.table)
            .key("pk", s(&format!("{key}#{}", window.index)))
            .update_expression(COUNTER_UPDATE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":counter_ttl", n(window.ends_at.unix_seconds() + 3_600))
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))
    }

    fn counter_update(&self, key: String, length: u64, max: u32, now: Timestamp) -> UpdateBuilder {
        let window = Window::containing(now, length);
        Update::builder()
            .table_name(&self.table)
            .key("pk", s(&format!("{key}#{}", window.index)))
            .update_expression(COUNTER_UPDATE)
            .condition_expression(COUNTER_BELOW_MAX)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":counter_ttl", n(window.ends_at.unix_seconds() + 3_600))
    }
}
