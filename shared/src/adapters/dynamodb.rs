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

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use crate::domain::{
    CodeMac, Limit, LimitReached, Limits, PhoneNumber, Timestamp, VerificationId, Window,
    seconds_until,
};
use crate::ports::{
    Approval, AttemptRefused, Claim, CountedAttempt, IDEMPOTENCY_ANSWER_SECONDS,
    IDEMPOTENCY_LEASE_SECONDS, IdempotencyStore, NewVerification, Requester, StoreError,
    VerificationStore,
};

type Item = HashMap<String, AttributeValue>;

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const WITHDRAWN: &str = "withdrawn";

/// The number is not locked: fewer consecutive failures than the limit, or
/// the last one is older than the lockout.
const NOT_LOCKED: &str =
    "(attribute_not_exists(failures) OR failures < :lock_after OR last_attempt_at <= :lock_edge)";

/// An hourly counter below its maximum.
const COUNTER_UPDATE: &str = "ADD hits :one SET expires_at = :counter_ttl";
const COUNTER_BELOW_MAX: &str = "attribute_not_exists(hits) OR hits < :max";

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
    fn update_number(&self, phone: &PhoneNumber) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&number_key(phone)))
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

    /// One request of `client` in this hour, and one send if `sending`:
    /// the client's hourly counter counts both, each against its own maximum.
    fn client_counter(
        &self,
        client: &str,
        now: Timestamp,
        limits: &Limits,
        sending: bool,
    ) -> Result<Update, StoreError> {
        let counter = self
            .counter_update(
                client_key(client),
                Window::HOUR,
                limits.client_requests_per_hour,
                now,
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let counter = if sending {
            counter
                .update_expression("ADD hits :one, sends :one SET expires_at = :counter_ttl")
                .condition_expression(format!(
                    "({COUNTER_BELOW_MAX}) AND (attribute_not_exists(sends) OR sends < :max_sends)"
                ))
                .expression_attribute_values(":max_sends", n(limits.client_sends_per_hour))
        } else {
            counter
        };
        counter
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))
    }

    /// One hit on the counter `key` of the window of `length` seconds that
    /// holds `now`, refused at `max`; the item expires an hour after its window.
    fn counter(
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

fn number_key(phone: &PhoneNumber) -> String {
    format!("phone#{}", phone.as_e164())
}

fn client_key(client: &str) -> String {
    format!("client#{client}")
}

/// Number items live as long as their longest-lived limit needs them.
fn number_ttl(now: Timestamp, limits: &Limits) -> AttributeValue {
    n(now
        .plus_seconds(Window::DAY + limits.lockout_seconds)
        .unix_seconds())
}

fn lock_edge(now: Timestamp, limits: &Limits) -> AttributeValue {
    n(now.unix_seconds() - limits.lockout_seconds as i64)
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

impl VerificationStore for DynamoDbStore {
    async fn save_new(
        &self,
        new: &NewVerification,
        requester: Requester<'_>,
        limits: &Limits,
    ) -> Result<Result<(), LimitReached>, StoreError> {
        let now = new.created_at;
        let number = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&number_key(&new.phone)))
            .update_expression(
                "SET verification_id = :id, code_mac = :mac, key_id = :key_id, \
                 channel = :channel, #status = :pending, attempts = :zero, created_at = :now, \
                 code_expires_at = :code_expires_at, last_sent_at = :now, expires_at = :ttl \
                 REMOVE verified_at",
            )
            .condition_expression(format!(
                "(attribute_not_exists(last_sent_at) OR last_sent_at <= :cooldown_edge) \
                 AND {NOT_LOCKED}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":id", s(new.id.as_str()))
            .expression_attribute_values(
                ":mac",
                AttributeValue::B(Blob::new(new.code_mac.as_bytes())),
            )
            .expression_attribute_values(":key_id", s(&new.key_id))
            .expression_attribute_values(":channel", s(new.channel.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .expression_attribute_values(":code_expires_at", n(new.expires_at.unix_seconds()))
            .expression_attribute_values(":ttl", number_ttl(now, limits))
            .expression_attribute_values(
                ":cooldown_edge",
                n(now.unix_seconds() - limits.resend_cooldown_seconds as i64),
            )
            .expression_attribute_values(":lock_after", n(limits.failed_checks_before_lockout))
            .expression_attribute_values(":lock_edge", lock_edge(now, limits))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))?;
        // The number first: its refusal is the most specific explanation;
        // then the counters, in the order `counters` explains them below.
        let phone = number_key(&new.phone);
        let updates = [
            number,
            self.counter(
                format!("{phone}#10m"),
                Window::TEN_MINUTES,
                limits.sends_per_10_minutes,
                now,
            )?,
            self.counter(
                format!("{phone}#1d"),
                Window::DAY,
                limits.sends_per_day,
                now,
            )?,
            self.client_counter(requester.client, now, limits, true)?,
            self.counter(
                format!("budget#{}", requester.country),
                Window::HOUR,
                limits.messages_per_country_per_hour,
                now,
            )?,
            self.counter(
                "budget#all".into(),
                Window::HOUR,
                limits.messages_per_hour,
                now,
            )?,
        ];
        let items: Vec<TransactWriteItem> = updates
            .into_iter()
            .map(|update| TransactWriteItem::builder().update(update).build())
            .collect();
        let mut tries = 0;
        let reasons = loop {
            tries += 1;
            let request = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()));
            let started = std::time::Instant::now();
            let result = request.send().await;
            let latency_ms = started.elapsed().as_millis();
            tracing::info!(
                operation = "TransactWriteItems",
                latency_ms,
                "dynamodb call"
            );
            let failure = match result {
                Ok(_) => return Ok(Ok(())),
                Err(SdkError::ServiceError(failure))
                    if matches!(
                        failure.err(),
                        TransactWriteItemsError::TransactionCanceledException(_)
                    ) =>
                {
                    failure.into_err()
                }
                Err(other) => return Err(unavailable(other)),
            };
            let TransactWriteItemsError::TransactionCanceledException(canceled) = failure else {
                unreachable!("matched above")
            };
            let reasons = canceled.cancellation_reasons.unwrap_or_default();
            // Concurrent sends touching the same budget item conflict instead
            // of queueing: try again shortly, a few times, before giving up.
            let conflict = reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"));
            let condition_failed = reasons
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"));
            if conflict && !condition_failed && tries < 4 {
                let pause = 10 * tries + rand::random_range(0..20);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                continue;
            }
            break reasons;
        };
        let failed = |index: usize| {
            reasons
                .get(index)
                .filter(|reason| reason.code() == Some("ConditionalCheckFailed"))
        };
        let counters = [
            (1, Limit::NumberSendsPer10Minutes, Window::TEN_MINUTES),
            (2, Limit::NumberSendsPerDay, Window::DAY),
            (3, Limit::ClientRequests, Window::HOUR),
            (4, Limit::MessagesPerCountryPerHour, Window::HOUR),
            (5, Limit::MessagesPerHour, Window::HOUR),
        ];
        if let Some(reason) = failed(3) {
            // The client's item: its requests or its sends are used up.
            let requests = match reason.item() {
                Some(item) => get_n_or_zero::<u32>(item, "hits")?,
                None => 0,
            };
            if requests < limits.client_requests_per_hour && failed(0).is_none() {
                return Ok(Err(LimitReached {
                    limit: Limit::ClientSends,
                    retry_after_seconds: seconds_until(
                        now,
                        Window::containing(now, Window::HOUR).ends_at,
                    ),
                }));
            }
        }
        if let Some(reason) = failed(0) {
            let item = reason.item().ok_or_else(|| {
                StoreError::Malformed("a failed send condition returned no item".into())
            })?;
            return why_send_refused(item, now, limits).map(Err);
        }
        match counters.iter().find(|(index, ..)| failed(*index).is_some()) {
            Some(&(_, limit, length)) => Ok(Err(LimitReached {
                limit,
                retry_after_seconds: seconds_until(now, Window::containing(now, length).ends_at),
            })),
            // Canceled for another reason (a conflicting transaction): retryable.
            None => Err(StoreError::Unavailable(format!(
                "send transaction canceled: {:?}",
                reasons
                    .iter()
                    .map(|r| r.code().unwrap_or("None"))
                    .collect::<Vec<_>>()
            ))),
        }
    }

    async fn withdraw(
        &self,
        phone: &PhoneNumber,
        id: &VerificationId,
        sent_at: Timestamp,
    ) -> Result<bool, StoreError> {
        // The cooldown is lifted only if it is still this send's.
        let request = self
            .update_number(phone)
            .update_expression("SET #status = :withdrawn REMOVE code_mac, last_sent_at")
            .condition_expression(
                "verification_id = :id AND #status = :pending AND last_sent_at = :sent_at",
            )
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":withdrawn", s(WITHDRAWN))
            .expression_attribute_values(":sent_at", n(sent_at.unix_seconds()));
        // A failed condition means a newer code replaced this one, or it
        // was withdrawn already: nothing to do.
        Ok(conditional(request).await?.is_ok())
    }

    async fn count_client_request(
        &self,
        client: &str,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Result<(), LimitReached>, StoreError> {
        let counter = self.client_counter(client, now, limits, false)?;
        let request = self
            .client
            .update_item()
            .table_name(counter.table_name)
            .set_key(Some(counter.key))
            .update_expression(counter.update_expression)
            .set_condition_expression(counter.condition_expression)
            .set_expression_attribute_values(counter.expression_attribute_values);
        Ok(conditional(request)
            .await?
            .map(|_| ())
            .map_err(|_| LimitReached {
                limit: Limit::ClientRequests,
                retry_after_seconds: seconds_until(
                    now,
                    Window::containing(now, Window::HOUR).ends_at,
                ),
            }))
    }

    async fn count_attempt(
        &self,
        phone: &PhoneNumber,
        now: Timestamp,
        max_attempts: u32,
        limits: &Limits,
    ) -> Result<Result<CountedAttempt, AttemptRefused>, StoreError> {
        // One write; a second only right after a lock ran out (or when a
        // concurrent attempt moved the count between the two cases).
        let mut lock_ran_out = false;
        for _ in 0..3 {
            let request = self.attempt(phone, now, max_attempts, limits, lock_ran_out);
            match conditional(request).await? {
                Ok(Some(item)) => {
                    return Ok(Ok(CountedAttempt {
                        id: VerificationId::from_stored(
                            get_s(&item, "verification_id")?.to_owned(),
                        ),
                        code_mac: CodeMac::from_stored(get_b(&item, "code_mac")?.to_vec()),
                        key_id: get_s(&item, "key_id")?.to_owned(),
                        attempts: get_n(&item, "attempts")?,
                    }));
                }
                Ok(None) => {
                    return Err(StoreError::Malformed(
                        "update returned no attributes".into(),
                    ));
                }
                Err(old) => match why_attempt_refused(old.as_ref(), now, max_attempts, limits)? {
                    Some(refused) => return Ok(Err(refused)),
                    // Nothing refuses it: the other case of the lock applies.
                    None => lock_ran_out = !lock_ran_out,
                },
            }
        }
        Err(StoreError::Malformed(
            "an attempt was refused but no rule explains it".into(),
        ))
    }

    async fn approve(
        &self,
        phone: &PhoneNumber,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<Approval, StoreError> {
        let request = self
            .update_number(phone)
            .update_expression(
                "SET #status = :approved, verified_at = :now, failures = :zero REMOVE code_mac",
            )
            .condition_expression("verification_id = :id AND #status = :pending")
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":approved", s(APPROVED))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.unix_seconds()));
        Ok(match conditional(request).await? {
            Ok(_) => Approval::Approved,
            Err(Some(old))
                if get_s(&old, "verification_id").ok() == Some(id.as_str())
                    && get_s(&old, "status").ok() == Some(APPROVED) =>
            {
                Approval::AlreadyApproved
            }
            Err(_) => Approval::Replaced,
        })
    }
}

impl DynamoDbStore {
    /// Counts one attempt on the pending code, before it is compared, and one
    /// consecutive failure of the number. While the number is under its
    /// lockout limit the failures go up by one; once a lock has run out they
    /// start again at one, so that a typo after a lock does not lock the
    /// owner out for another full period.
    fn attempt(
        &self,
        phone: &PhoneNumber,
        now: Timestamp,
        max_attempts: u32,
        limits: &Limits,
        lock_ran_out: bool,
    ) -> UpdateItemFluentBuilder {
        let request = self
            .update_number(phone)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .expression_attribute_values(":ttl", number_ttl(now, limits))
            .expression_attribute_values(":max", n(max_attempts))
            .expression_attribute_values(":lock_after", n(limits.failed_checks_before_lockout))
            .return_values(ReturnValue::AllNew);
        let (failures, lock) = if lock_ran_out {
            (
                "failures = :one",
                "failures >= :lock_after AND last_attempt_at <= :lock_edge",
            )
        } else {
            (
                "failures = if_not_exists(failures, :zero) + :one",
                "(attribute_not_exists(failures) OR failures < :lock_after)",
            )
        };
        let request = if lock_ran_out {
            request.expression_attribute_values(":lock_edge", lock_edge(now, limits))
        } else {
            request.expression_attribute_values(":zero", n(0))
        };
        request
            .update_expression(format!(
                "SET attempts = attempts + :one, {failures}, last_attempt_at = :now, expires_at = :ttl"
            ))
            .condition_expression(format!(
                "#status = :pending AND code_expires_at > :now AND attempts < :max AND {lock}"
            ))
    }
}

impl DynamoDbStore {
    fn update_key(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&format!("idempotency#{key}")))
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

/// The lockout, if the number is locked now.
fn lockout(
    item: &Item,
    now: Timestamp,
    limits: &Limits,
) -> Result<Option<LimitReached>, StoreError> {
    if get_n_or_zero::<u32>(item, "failures")? < limits.failed_checks_before_lockout {
        return Ok(None);
    }
    let unlocks_at = Timestamp::from_unix_seconds(get_n_or_zero(item, "last_attempt_at")?)
        .plus_seconds(limits.lockout_seconds);
    Ok((unlocks_at > now).then(|| LimitReached {
        limit: Limit::NumberLocked,
        retry_after_seconds: seconds_until(now, unlocks_at),
    }))
}

/// Explains a failed send condition from the number's item as it was.
fn why_send_refused(
    item: &Item,
    now: Timestamp,
    limits: &Limits,
) -> Result<LimitReached, StoreError> {
    if let Some(locked) = lockout(item, now, limits)? {
        return Ok(locked);
    }
    let next_send = Timestamp::from_unix_seconds(get_n_or_zero(item, "last_sent_at")?)
        .plus_seconds(limits.resend_cooldown_seconds);
    if next_send > now {
        return Ok(LimitReached {
            limit: Limit::ResendCooldown,
            retry_after_seconds: seconds_until(now, next_send),
        });
    }
    Err(StoreError::Malformed(
        "a send was refused but no limit explains it".into(),
    ))
}

/// Explains a failed attempt condition from the number's item as it was;
/// `None` when no rule refuses it (the lock's other case applies).
fn why_attempt_refused(
    item: Option<&Item>,
    now: Timestamp,
    max_attempts: u32,
    limits: &Limits,
) -> Result<Option<AttemptRefused>, StoreError> {
    let Some(item) = item else {
        return Ok(Some(AttemptRefused::NoPendingVerification));
    };
    if let Some(locked) = lockout(item, now, limits)? {
        return Ok(Some(AttemptRefused::Locked(locked)));
    }
    // After its lifetime a code is answered as if it never existed, so that
    // no probe learns that this number asked for, or used, a code.
    let alive = Timestamp::from_unix_seconds(get_n_or_zero(item, "code_expires_at")?) > now;
    let status = get_s(item, "status")?;
    if !alive || status != PENDING {
        return Ok(Some(match status {
            APPROVED if alive => AttemptRefused::AlreadyApproved,
            _ => AttemptRefused::NoPendingVerification,
        }));
    }
    Ok(if get_n::<u32>(item, "attempts")? >= max_attempts {
        Some(AttemptRefused::AttemptsExhausted)
    } else {
        None
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

/// A counter that was never written counts as zero.
fn get_n_or_zero<T: std::str::FromStr + Default>(item: &Item, name: &str) -> Result<T, StoreError> {
    if item.contains_key(name) {
        get_n(item, name)
    } else {
        Ok(T::default())
    }
}
