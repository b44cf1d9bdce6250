//! The items' keys, and how long number items live.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::n;
use crate::domain::{Limits, Provider, Pseudonym, Scope, Timestamp, Window};

/// A number's item, by the number's pseudonym (never the number itself).
pub(super) fn number_key(number: &Pseudonym) -> String {
    format!("number#{number}")
}

/// A client's hourly counter, by its address's pseudonym.
pub(super) fn client_key(client: &Pseudonym) -> String {
    format!("client#{client}")
}

/// An hourly budget's counter (`all` or a country), on `shard` of `shards`:
/// unsharded budgets keep one item per hour.
pub(super) fn budget_key(scope: &str, shard: u32, shards: u32) -> String {
    if shards == 1 {
        format!("budget#{scope}")
    } else {
        format!("budget#{scope}#s{shard}")
    }
}

/// A prefix's hourly sends and approvals. A prefix (`+1415555`) always
/// leaves digits out: it names a range of numbers, never one.
pub(super) fn prefix_key(prefix: &str) -> String {
    format!("prefix#{prefix}")
}

/// The latest restriction of a prefix or a country.
pub(super) fn restriction_key(scope: &Scope) -> String {
    match scope {
        Scope::Prefix(prefix) => format!("restriction#prefix#{prefix}"),
        Scope::Country(country) => format!("restriction#country#{country}"),
    }
}

/// A number verified before (fraud protection lets it through restrictions).
pub(super) fn verified_key(number: &Pseudonym) -> String {
    format!("verified#{number}")
}

/// Number items live as long as their longest-lived limit needs them.
pub(super) fn number_ttl(now: Timestamp, limits: &Limits) -> AttributeValue {
    n(now
        .plus_seconds(Window::DAY + limits.lockout_seconds)
        .unix_seconds())
}

pub(super) fn lock_edge(now: Timestamp, limits: &Limits) -> AttributeValue {
    n(now.unix_seconds() - limits.lockout_seconds as i64)
}

/// A request's `Idempotency-Key`, already scoped to its number by the handler.
pub(super) fn idempotency_key(key: &str) -> String {
    format!("idempotency#{key}")
}

/// A message provider's circuit breaker, shared by every environment.
pub(super) fn provider_key(provider: Provider) -> String {
    format!("provider#{}", provider.as_str())
}
