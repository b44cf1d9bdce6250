//! The items' keys, and how long number items live.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::n;
use crate::domain::{Limits, PhoneNumber, Timestamp, Window};

pub(super) fn number_key(phone: &PhoneNumber) -> String {
    format!("phone#{}", phone.as_e164())
}

pub(super) fn client_key(client: &str) -> String {
    format!("client#{client}")
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
