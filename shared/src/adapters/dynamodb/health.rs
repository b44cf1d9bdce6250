//! The message providers' circuit breakers, shared by every execution
//! environment: one small `provider#<name>` item each (`failures`,
//! `window_ends_at`, `open_until`, `probe_until`). Each environment reads a
//! breaker at most once every 2 s (an eventually consistent `GetItem`) and
//! writes only when a send failed, or succeeded after failures: a healthy
//! provider costs one read per environment every 2 s, nothing per send.
//! When DynamoDB cannot be reached every provider is admitted: the breaker
//! only ever saves time, it never stops a send.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::ReturnValue;

use super::attributes::{get_n, get_n_or_zero, n, s};
use super::keys::provider_key;
use super::{DynamoDbStore, Item, conditional, describe};
use crate::domain::{Admission, BreakerPolicy, BreakerState, Provider, Timestamp};
use crate::ports::{ProviderHealth, ProviderOutcome, StoreError};

/// How long an environment trusts what it last read or wrote of a breaker.
const FRESH_FOR: Duration = Duration::from_secs(2);

pub struct DynamoDbHealth {
    store: DynamoDbStore,
    policy: BreakerPolicy,
    seen: Mutex<HashMap<Provider, (Instant, BreakerState)>>,
}

impl DynamoDbHealth {
    pub fn new(store: DynamoDbStore, policy: BreakerPolicy) -> Self {
        Self {
            store,
            policy,
            seen: Mutex::default(),
        }
    }

    fn remember(&self, provider: Provider, state: BreakerState) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(provider, (Instant::now(), state));
    }

    fn remembered(&self, provider: Provider) -> Option<BreakerState> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&provider)
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, state)| *state)
    }

    /// The breaker as this environment last saw it, read again when stale.
    async fn state(&self, provider: Provider) -> Result<BreakerState, StoreError> {
        if let Some(state) = self.remembered(provider) {
            return Ok(state);
        }
        let item = self
            .store
            .client
            .get_item()
            .table_name(&self.store.table)
            .key("pk", s(&provider_key(provider)))
            .send()
            .await
            .map_err(|error| StoreError::Unavailable(describe(&error)))?
            .item;
        let state = item.as_ref().map_or(Ok(BreakerState::CLOSED), breaker)?;
        self.remember(provider, state);
        Ok(state)
    }

    /// One conditional update of the breaker: the state it left, or the
    /// state it found when its condition failed (`Err`).
    async fn update(
        &self,
        provider: Provider,
        expression: &str,
        condition: Option<&str>,
        values: &[(&str, i64)],
    ) -> Result<Result<BreakerState, BreakerState>, StoreError> {
        let mut request = self
            .store
            .client
            .update_item()
            .table_name(&self.store.table)
            .key("pk", s(&provider_key(provider)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, n(value));
        }
        let state = |item: Option<Item>| item.as_ref().map_or(Ok(BreakerState::CLOSED), breaker);
        let result = match conditional(request).await? {
            Ok(new) => Ok(state(new)?),
            Err(old) => Err(state(old)?),
        };
        self.remember(provider, *result.as_ref().unwrap_or_else(|old| old));
        Ok(result)
    }

    /// An unconditional update of the breaker.
    async fn set(
        &self,
        provider: Provider,
        expression: &str,
        values: &[(&str, i64)],
    ) -> Result<BreakerState, StoreError> {
        let written = self.update(provider, expression, None, values).await?;
        Ok(written.unwrap_or_else(|found| found))
    }

    async fn take_probe(&self, provider: Provider, now: Timestamp) -> Result<bool, StoreError> {
        let probe = now.plus_seconds(self.policy.probe_seconds).unix_seconds();
        let taken = self
            .update(
                provider,
                "SET probe_until = :probe",
                Some("open_until <= :now AND (attribute_not_exists(probe_until) OR probe_until <= :now)"),
                &[(":probe", probe), (":now", now.unix_seconds())],
            )
            .await?;
        Ok(taken.is_ok())
    }

    async fn open(&self, provider: Provider, now: Timestamp) -> Result<(), StoreError> {
        let until = now
            .plus_seconds(self.policy.cooldown_seconds)
            .unix_seconds();
        let opened = self
            .update(
                provider,
                "SET open_until = :until, failures = :zero REMOVE probe_until",
                // Only one environment opens it (and says so); a failed probe reopens it.
                Some("attribute_not_exists(open_until) OR open_until <= :now"),
                &[
                    (":until", until),
                    (":zero", 0),
                    (":now", now.unix_seconds()),
                ],
            )
            .await?;
        if opened.is_ok() {
            tracing::warn!(
                provider = provider.as_str(),
                open_for_seconds = self.policy.cooldown_seconds,
                "circuit opened: the provider is skipped"
            );
            circuit(provider, "opened");
        }
        Ok(())
    }

    async fn count_failure(&self, provider: Provider, now: Timestamp) -> Result<(), StoreError> {
        if self.state(provider).await?.is_open() {
            return self.open(provider, now).await;
        }
        let counted = self
            .update(
                provider,
                "ADD failures :one",
                Some("window_ends_at > :now AND attribute_not_exists(open_until)"),
                &[(":one", 1), (":now", now.unix_seconds())],
            )
            .await?;
        let failures = match counted {
            Ok(state) => state.failures,
            Err(found) if found.is_open() => return Ok(()),
            // No window, or its window is over: this failure starts one.
            Err(_) => {
                let window = now.plus_seconds(self.policy.window_seconds).unix_seconds();
                self.set(
                    provider,
                    "SET failures = :one, window_ends_at = :window",
                    &[(":one", 1), (":window", window)],
                )
                .await?;
                1
            }
        };
        if failures >= self.policy.failures_to_open {
            self.open(provider, now).await?;
        }
        Ok(())
    }

    async fn close(&self, provider: Provider) -> Result<(), StoreError> {
        let was = self.state(provider).await?;
        if !was.is_open() && was.failures == 0 {
            return Ok(());
        }
        self.set(
            provider,
            "SET failures = :zero REMOVE open_until, probe_until",
            &[(":zero", 0)],
        )
        .await?;
        if was.is_open() {
            tracing::info!(
                provider = provider.as_str(),
                "circuit closed: the provider is back"
            );
            circuit(provider, "closed");
        }
        Ok(())
    }
}

impl ProviderHealth for DynamoDbHealth {
    async fn admits(&self, provider: Provider, now: Timestamp) -> bool {
        let admitted = match self.state(provider).await {
            Ok(state) => match state.admission(now) {
                Admission::Closed => Ok(true),
                Admission::Open => Ok(false),
                Admission::HalfOpen => self.take_probe(provider, now).await,
            },
            Err(error) => Err(error),
        };
        admitted.unwrap_or_else(|error| {
            tracing::warn!(provider = provider.as_str(), %error, "provider health unreadable: admitted");
            true
        })
    }

    async fn record(&self, provider: Provider, outcome: ProviderOutcome, now: Timestamp) {
        let recorded = match outcome {
            ProviderOutcome::Failed => self.count_failure(provider, now).await,
            ProviderOutcome::Answered => self.close(provider).await,
        };
        if let Err(error) = recorded {
            tracing::warn!(provider = provider.as_str(), %error, "provider health not recorded");
        }
    }
}

/// A breaker from its item.
fn breaker(item: &Item) -> Result<BreakerState, StoreError> {
    let time = |name| -> Result<Option<Timestamp>, StoreError> {
        match item.contains_key(name) {
            true => Ok(Some(Timestamp::from_unix_seconds(get_n(item, name)?))),
            false => Ok(None),
        }
    };
    Ok(BreakerState {
        failures: get_n_or_zero(item, "failures")?,
        window_ends_at: Timestamp::from_unix_seconds(get_n_or_zero(item, "window_ends_at")?),
        open_until: time("open_until")?,
        probe_until: time("probe_until")?,
    })
}

/// `ProviderCircuit` by provider and change (opened, closed): the alarm
/// watches `opened`.
fn circuit(provider: Provider, change: &'static str) {
    crate::metrics::count(
        "ProviderCircuit",
        &[("Provider", provider.as_str()), ("Change", change)],
    );
}
