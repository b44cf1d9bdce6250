//! The verification store: a send in one transaction, attempts, approval
//! and withdrawal as conditional updates of the number's item.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::attributes::{get_b, get_n, get_s, n, s};
use super::keys::{lock_edge, number_key, number_ttl, prefix_key};
use super::refusals::{why_attempt_refused, why_transaction_canceled};
use super::{
    APPROVED, DynamoDbStore, Item, NOT_LOCKED, PENDING, WITHDRAWN, conditional, unavailable,
};
use crate::domain::{
    Channel, CodeMac, Limit, LimitReached, Limits, Provider, Pseudonym, Restriction, Scope,
    Timestamp, TrafficSnapshot, VerificationId, Window, seconds_until,
};
use crate::ports::{
    Approval, AttemptRefused, CountedAttempt, CurrentVerification, Destination, NewVerification,
    Requester, StoreError, VerificationStatus, VerificationStore,
};

impl VerificationStore for DynamoDbStore {
    async fn save_new(
        &self,
        new: &NewVerification,
        requester: Requester<'_>,
        limits: &Limits,
    ) -> Result<Result<(), LimitReached>, StoreError> {
        let now = new.created_at;
        // A test number's code has no provider: none of the previous code's stays.
        let (set_provider, remove_provider) = match new.provider {
            Some(_) => (", provider = :provider", ""),
            None => ("", ", provider"),
        };
        // The cooldown, or for a fallback the shorter wait after a code
        // still pending on the channel it falls back from.
        let fallback = match new.fallback_from {
            Some(_) => {
                " OR (channel = :fallback_from AND #status = :pending \
                 AND last_sent_at <= :fallback_edge)"
            }
            None => "",
        };
        let mut number = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&number_key(&new.number)))
            .update_expression(format!(
                "SET verification_id = :id, code_mac = :mac, key_id = :key_id, \
                 channel = :channel, #status = :pending, attempts = :zero, created_at = :now, \
                 code_expires_at = :code_expires_at, last_sent_at = :now, \
                 expires_at = :ttl{set_provider} REMOVE verified_at{remove_provider}"
            ))
            .condition_expression(format!(
                "(attribute_not_exists(last_sent_at) OR last_sent_at <= :cooldown_edge{fallback}) \
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
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(provider) = new.provider {
            number = number.expression_attribute_values(":provider", s(provider.as_str()));
        }
        if let Some(from) = new.fallback_from {
            number = number
                .expression_attribute_values(":fallback_from", s(from.as_str()))
                .expression_attribute_values(
                    ":fallback_edge",
                    n(now.unix_seconds() - limits.fallback_wait_seconds() as i64),
                );
        }
        let number = number
            .build()
            .map_err(|error| StoreError::Malformed(error.to_string()))?;
        // The number first: its refusal is the most specific explanation;
        // then the counters, in the order `counters` explains them below.
        let number_item = number_key(&new.number);
        let updates = [
            number,
            self.counter(
                format!("{number_item}#10m"),
                Window::TEN_MINUTES,
                limits.sends_per_10_minutes,
                now,
            )?,
            // A call counts against the day's calls too, on the same item.
            self.daily_counter(
                format!("{number_item}#1d"),
                limits,
                new.channel == Channel::Call,
                now,
            )?,
            self.client_counter(requester.client, now, limits.client_allowance(), true)?,
            self.budget_counter(requester.country, limits.messages_per_country_per_hour, now)?,
            self.budget_counter("all", limits.messages_per_hour, now)?,
            // Never refused: the prefix's sends, for fraud protection.
            self.tally(prefix_key(requester.prefix), now)?,
        ];
        // Last, so the others keep their places in `why_transaction_canceled`.
        let ceiling = requester
            .ceiling
            .map(|key| self.client_counter(key, now, limits.api_key_allowance(), true))
            .transpose()?;
        let items: Vec<TransactWriteItem> = updates
            .into_iter()
            .chain(ceiling)
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
        why_transaction_canceled(&reasons, new.fallback_from, now, limits).map(Err)
    }

    async fn withdraw(
        &self,
        number: &Pseudonym,
        id: &VerificationId,
        sent_at: Timestamp,
    ) -> Result<bool, StoreError> {
        // The cooldown is lifted only if it is still this send's.
        let request = self
            .update_number(number)
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

    async fn record_provider(
        &self,
        number: &Pseudonym,
        id: &VerificationId,
        provider: Provider,
    ) -> Result<(), StoreError> {
        let request = self
            .update_number(number)
            .update_expression("SET provider = :provider")
            .condition_expression("verification_id = :id AND #status = :pending")
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":provider", s(provider.as_str()));
        // A failed condition means a newer code replaced this one: nothing to do.
        let _ = conditional(request).await?;
        Ok(())
    }

    async fn count_client_request(
        &self,
        client: &Pseudonym,
        ceiling: Option<&Pseudonym>,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Result<(), LimitReached>, StoreError> {
        let refused = LimitReached {
            limit: Limit::ClientRequests,
            retry_after_seconds: seconds_until(now, Window::containing(now, Window::HOUR).ends_at),
        };
        let counter = self.client_counter(client, now, limits.client_allowance(), false)?;
        let Some(key) = ceiling else {
            let request = self
                .client
                .update_item()
                .table_name(counter.table_name)
                .set_key(Some(counter.key))
                .update_expression(counter.update_expression)
                .set_condition_expression(counter.condition_expression)
                .set_expression_attribute_values(counter.expression_attribute_values);
            return Ok(conditional(request).await?.map(|_| ()).map_err(|_| refused));
        };
        // With the key's ceiling: both counters in one transaction.
        let ceiling = self.client_counter(key, now, limits.api_key_allowance(), false)?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(
                [counter, ceiling]
                    .into_iter()
                    .map(|update| TransactWriteItem::builder().update(update).build())
                    .collect(),
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(failure))
                if matches!(
                    failure.err(),
                    TransactWriteItemsError::TransactionCanceledException(canceled)
                        if canceled.cancellation_reasons().iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed"))
                ) =>
            {
                Ok(Err(refused))
            }
            Err(other) => Err(unavailable(other)),
        }
    }

    async fn count_attempt(
        &self,
        number: &Pseudonym,
        now: Timestamp,
        max_attempts: u32,
        limits: &Limits,
    ) -> Result<Result<CountedAttempt, AttemptRefused>, StoreError> {
        // One write; a second only right after a lock ran out (or when a
        // concurrent attempt moved the count between the two cases).
        let mut lock_ran_out = false;
        for _ in 0..3 {
            let request = self.attempt(number, now, max_attempts, limits, lock_ran_out);
            match conditional(request).await? {
                Ok(Some(item)) => {
                    return Ok(Ok(CountedAttempt {
                        verification: current_verification(&item)?,
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
        number: &Pseudonym,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<Approval, StoreError> {
        let request = self
            .update_number(number)
            .update_expression(
                "SET #status = :approved, verified_at = :now, failures = :zero REMOVE code_mac",
            )
            .condition_expression(
                "verification_id = :id AND #status = :pending AND code_expires_at > :now",
            )
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":approved", s(APPROVED))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.unix_seconds()));
        Ok(match conditional(request).await? {
            Ok(_) => Approval::Approved,
            Err(Some(old)) if get_s(&old, "verification_id").ok() == Some(id.as_str()) => {
                match get_s(&old, "status").ok() {
                    Some(APPROVED) => Approval::AlreadyApproved,
                    Some(PENDING) => Approval::Expired,
                    _ => Approval::Replaced,
                }
            }
            Err(_) => Approval::Replaced,
        })
    }

    async fn current(&self, number: &Pseudonym) -> Result<Option<CurrentVerification>, StoreError> {
        let started = std::time::Instant::now();
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&number_key(number)))
            .consistent_read(true)
            .projection_expression(
                "verification_id, channel, provider, #status, created_at, code_expires_at",
            )
            .expression_attribute_names("#status", "status")
            .send()
            .await;
        let latency_ms = started.elapsed().as_millis();
        tracing::info!(operation = "GetItem", latency_ms, "dynamodb call");
        match result.map_err(unavailable)?.item {
            Some(item) => current_verification(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn traffic(
        &self,
        destination: Destination<'_>,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<TrafficSnapshot, StoreError> {
        self.read_traffic(destination, now, limits).await
    }

    async fn count_approval(
        &self,
        destination: Destination<'_>,
        remembered_until: Timestamp,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<(), StoreError> {
        self.add_approval(destination, remembered_until, now, limits)
            .await
    }

    async fn restrict(
        &self,
        scope: &Scope,
        restriction: Restriction,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.record_restriction(scope, restriction, now).await
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
        number: &Pseudonym,
        now: Timestamp,
        max_attempts: u32,
        limits: &Limits,
        lock_ran_out: bool,
    ) -> UpdateItemFluentBuilder {
        let request = self
            .update_number(number)
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

/// A number item's current verification.
fn current_verification(item: &Item) -> Result<CurrentVerification, StoreError> {
    let malformed = |what: &str| StoreError::Malformed(format!("number item: {what}"));
    let status = match get_s(item, "status")? {
        PENDING => VerificationStatus::Pending,
        APPROVED => VerificationStatus::Approved,
        WITHDRAWN => VerificationStatus::Withdrawn,
        _ => return Err(malformed("unknown status")),
    };
    let channel = get_s(item, "channel")?
        .parse()
        .map_err(|_| malformed("unknown channel"))?;
    Ok(CurrentVerification {
        id: VerificationId::from_stored(get_s(item, "verification_id")?.to_owned()),
        channel,
        // Absent before providers were recorded, and for test numbers.
        provider: get_s(item, "provider").ok().and_then(Provider::parse),
        status,
        created_at: Timestamp::from_unix_seconds(get_n(item, "created_at")?),
        expires_at: Timestamp::from_unix_seconds(get_n(item, "code_expires_at")?),
    })
}
