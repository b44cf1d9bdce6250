//! Fraud protection's data: each prefix's hourly sends and approvals (its
//! `prefix#` item), each country's (the `hits` and `approvals` of its budget
//! items, summed over shards), the latest restriction of each scope, and
//! the numbers verified before (a `verified#` item per pseudonym, which
//! expires). Read in one eventually consistent BatchGetItem per send;
//! approvals are counted with plain updates after the fact.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::attributes::{get_n, get_n_or_zero, n, s};
use super::keys::{budget_key, prefix_key, restriction_key, verified_key};
use super::{DynamoDbStore, Item, unavailable};
use crate::domain::{
    Limits, Restriction, Scope, Timestamp, Traffic, TrafficSnapshot, Window, budget_shards,
};
use crate::ports::{Destination, StoreError};

/// How long a lifted restriction is remembered, so a repeat lasts longer.
const RESTRICTION_MEMORY_SECONDS: u64 = 2 * 86_400;

impl DynamoDbStore {
    pub(super) async fn read_traffic(
        &self,
        Destination {
            prefix,
            country,
            number,
        }: Destination<'_>,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<TrafficSnapshot, StoreError> {
        let hour = Window::containing(now, Window::HOUR).index;
        let shards = budget_shards(limits.messages_per_country_per_hour);
        let country_keys = |hour: i64| {
            (0..shards).map(move |shard| format!("{}#{hour}", budget_key(country, shard, shards)))
        };
        let prefix_restriction = restriction_key(&Scope::Prefix(prefix.to_owned()));
        let country_restriction = restriction_key(&Scope::Country(country.to_owned()));
        let prefix_now = format!("{}#{hour}", prefix_key(prefix));
        let verified = verified_key(number);
        let keys: Vec<String> = [
            prefix_restriction.clone(),
            country_restriction.clone(),
            prefix_now.clone(),
            verified.clone(),
        ]
        .into_iter()
        .chain(country_keys(hour))
        .chain(country_keys(hour - 1))
        .collect();
        let items = self.batch_get(&keys).await?;
        let traffic = |keys: &mut dyn Iterator<Item = String>| -> Result<Traffic, StoreError> {
            let mut total = Traffic::default();
            for item in keys.filter_map(|key| items.get(&key)) {
                total.sends += get_n_or_zero::<u32>(item, "hits")?;
                total.approvals += get_n_or_zero::<u32>(item, "approvals")?;
            }
            Ok(total)
        };
        let restriction = |key: &str| -> Result<Option<Restriction>, StoreError> {
            items.get(key).map(restriction_from).transpose()
        };
        Ok(TrafficSnapshot {
            prefix: traffic(&mut std::iter::once(prefix_now))?,
            country: traffic(&mut country_keys(hour))?,
            country_previous_hour: traffic(&mut country_keys(hour - 1))?,
            prefix_restriction: restriction(&prefix_restriction)?,
            country_restriction: restriction(&country_restriction)?,
            // Past its expiry, waiting for the TTL sweep: forgotten.
            verified_before: match items.get(&verified) {
                Some(item) => get_n::<i64>(item, "expires_at")? > now.unix_seconds(),
                None => false,
            },
        })
    }

    /// The items under `keys` that exist, by key. Keys left unprocessed
    /// (throttling) make the read fail: a partial snapshot would misjudge.
    async fn batch_get(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        let wanted = KeysAndAttributes::builder()
            .set_keys(Some(
                keys.iter()
                    .map(|key| HashMap::from([("pk".to_owned(), s(key))]))
                    .collect(),
            ))
            .consistent_read(false)
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, wanted)
            .send()
            .await
            .map_err(unavailable)?;
        if output
            .unprocessed_keys
            .as_ref()
            .is_some_and(|unprocessed| !unprocessed.is_empty())
        {
            return Err(StoreError::Unavailable(
                "traffic read throttled (unprocessed keys)".into(),
            ));
        }
        let items = output
            .responses
            .and_then(|mut responses| responses.remove(&self.table))
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(key)) => Some((key.clone(), item)),
                _ => None,
            })
            .collect())
    }

    pub(super) async fn add_approval(
        &self,
        Destination {
            prefix,
            country,
            number,
        }: Destination<'_>,
        remembered_until: Timestamp,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<(), StoreError> {
        let window = Window::containing(now, Window::HOUR);
        let shards = budget_shards(limits.messages_per_country_per_hour);
        let shard = rand::random_range(0..shards);
        let approve = |key: String| {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&format!("{key}#{}", window.index)))
                .update_expression("ADD approvals :one SET expires_at = :ttl")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(window.ends_at.unix_seconds() + 3_600))
                .send()
        };
        let remember = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&verified_key(number)))
            .update_expression("SET expires_at = :until")
            .expression_attribute_values(":until", n(remembered_until.unix_seconds()))
            .send();
        let (prefix, country, verified) = tokio::join!(
            approve(prefix_key(prefix)),
            approve(budget_key(country, shard, shards)),
            remember
        );
        prefix.map_err(unavailable)?;
        country.map_err(unavailable)?;
        verified.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn record_restriction(
        &self,
        scope: &Scope,
        restriction: Restriction,
        _now: Timestamp,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&restriction_key(scope)))
            .update_expression(
                "SET #until = :until, times = :times, expires_at = :ttl REMOVE exempt_until",
            )
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":until", n(restriction.until.unix_seconds()))
            .expression_attribute_values(":times", n(restriction.times))
            .expression_attribute_values(
                ":ttl",
                n(restriction
                    .until
                    .plus_seconds(RESTRICTION_MEMORY_SECONDS)
                    .unix_seconds()),
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// A restriction item's restriction (`exempt_until` only after an
/// operator's lift).
pub(super) fn restriction_from(item: &Item) -> Result<Restriction, StoreError> {
    Ok(Restriction {
        until: Timestamp::from_unix_seconds(get_n_or_zero(item, "until")?),
        times: get_n_or_zero(item, "times")?,
        exempt_until: match item.contains_key("exempt_until") {
            true => Some(Timestamp::from_unix_seconds(get_n(item, "exempt_until")?)),
            false => None,
        },
    })
}
