//! In-memory ports with the same semantics as the DynamoDB store, for unit
//! tests of the domain rules and for benchmarks without I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::{
    Admission, BreakerPolicy, BreakerState, Channel, Limit, LimitReached, Limits, Provider,
    Pseudonym, Restriction, Scope, Timestamp, Traffic, TrafficSnapshot, VerificationId, Window,
    seconds_until,
};
use crate::ports::{
    Approval, AttemptRefused, Claim, CountedAttempt, CurrentVerification, DeliveryError,
    Destination, Dispatched, Dispatcher, Handover, IDEMPOTENCY_ANSWER_SECONDS,
    IDEMPOTENCY_LEASE_SECONDS, IdempotencyStore, MessageSender, NewVerification, OutgoingMessage,
    ProviderHealth, ProviderOutcome, Requester, StoreError, VerificationStatus, VerificationStore,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Approved,
    Withdrawn,
}

/// A stored code as the port reports it.
fn current_verification(code: &NewVerification, status: Status) -> CurrentVerification {
    CurrentVerification {
        id: code.id.clone(),
        channel: code.channel,
        provider: code.provider,
        status: match status {
            Status::Pending => VerificationStatus::Pending,
            Status::Approved => VerificationStatus::Approved,
            Status::Withdrawn => VerificationStatus::Withdrawn,
        },
        created_at: code.created_at,
        expires_at: code.expires_at,
    }
}

/// A number's state: its current code (if any) and its limits.
#[derive(Debug, Clone, Default)]
struct NumberState {
    code: Option<(NewVerification, Status, u32)>,
    last_sent_at: Option<Timestamp>,
    /// Sends per (window length, window index).
    sends: HashMap<(u64, i64), u32>,
    /// Calls per UTC day (window index).
    calls: HashMap<i64, u32>,
    failures: u32,
    last_attempt_at: Option<Timestamp>,
}

impl NumberState {
    fn lockout(&self, now: Timestamp, limits: &Limits) -> Option<LimitReached> {
        let unlocks_at = self.last_attempt_at?.plus_seconds(limits.lockout_seconds);
        (self.failures >= limits.failed_checks_before_lockout && unlocks_at > now).then(|| {
            LimitReached {
                limit: Limit::NumberLocked,
                retry_after_seconds: seconds_until(now, unlocks_at),
            }
        })
    }

    fn send_refusal(&self, new: &NewVerification, limits: &Limits) -> Option<LimitReached> {
        let now = new.created_at;
        if let Some(locked) = self.lockout(now, limits) {
            return Some(locked);
        }
        // The fallback of a code still pending on its channel waits less.
        let falls_back = matches!(
            (&self.code, new.fallback_from),
            (Some((code, Status::Pending, _)), Some(from)) if code.channel == from
        );
        let wait = match falls_back {
            true => limits.fallback_wait_seconds(),
            false => limits.resend_cooldown_seconds,
        };
        if let Some(next) = self.last_sent_at.map(|t| t.plus_seconds(wait))
            && next > now
        {
            return Some(LimitReached {
                limit: Limit::ResendCooldown,
                retry_after_seconds: seconds_until(now, next),
            });
        }
        // As the DynamoDB store explains a refusal: the day's calls first,
        // unless the day's sends are spent too.
        let day = Window::containing(now, Window::DAY);
        let count = |counted: Option<&u32>| counted.copied().unwrap_or(0);
        if new.channel == Channel::Call
            && count(self.calls.get(&day.index)) >= limits.calls_per_day
            && count(self.sends.get(&(Window::DAY, day.index))) < limits.sends_per_day
        {
            return Some(LimitReached {
                limit: Limit::NumberCallsPerDay,
                retry_after_seconds: seconds_until(now, day.ends_at),
            });
        }
        [
            (
                Window::TEN_MINUTES,
                limits.sends_per_10_minutes,
                Limit::NumberSendsPer10Minutes,
            ),
            (Window::DAY, limits.sends_per_day, Limit::NumberSendsPerDay),
        ]
        .into_iter()
        .find_map(|(length, max, limit)| {
            let window = Window::containing(now, length);
            (count(self.sends.get(&(length, window.index))) >= max).then(|| LimitReached {
                limit,
                retry_after_seconds: seconds_until(now, window.ends_at),
            })
        })
    }
}

#[derive(Debug, Default)]
struct State {
    numbers: HashMap<Pseudonym, NumberState>,
    /// Hourly counters by key and hour index.
    counters: HashMap<(String, i64), u32>,
    /// Approvals per prefix and country key (`prefix#..`, `budget#..`) and hour.
    approvals: HashMap<(String, i64), u32>,
    restrictions: HashMap<Scope, Restriction>,
    /// Numbers verified before, until when they are remembered.
    verified: HashMap<Pseudonym, Timestamp>,
    /// Idempotency keys: until when each is held, and the stored answer if
    /// its request completed.
    idempotency: HashMap<String, (Timestamp, Option<String>)>,
}

impl State {
    fn counter_full(&self, key: &str, max: u32, now: Timestamp) -> bool {
        let hour = Window::containing(now, Window::HOUR).index;
        self.counters
            .get(&(key.to_owned(), hour))
            .copied()
            .unwrap_or(0)
            >= max
    }

    fn count(&mut self, key: &str, now: Timestamp) {
        let hour = Window::containing(now, Window::HOUR).index;
        *self.counters.entry((key.to_owned(), hour)).or_default() += 1;
    }

    fn traffic(&self, key: &str, hour: i64) -> Traffic {
        let key = (key.to_owned(), hour);
        Traffic {
            sends: self.counters.get(&key).copied().unwrap_or(0),
            approvals: self.approvals.get(&key).copied().unwrap_or(0),
        }
    }
}

/// One mutex makes each call atomic, as each DynamoDB conditional write is.
#[derive(Debug, Default, Clone)]
pub struct InMemoryStore(Arc<Mutex<State>>);

impl InMemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

fn hour_limit(limit: Limit, now: Timestamp) -> LimitReached {
    LimitReached {
        limit,
        retry_after_seconds: seconds_until(now, Window::containing(now, Window::HOUR).ends_at),
    }
}

impl VerificationStore for InMemoryStore {
    async fn save_new(
        &self,
        new: &NewVerification,
        requester: Requester<'_>,
        limits: &Limits,
    ) -> Result<Result<(), LimitReached>, StoreError> {
        let now = new.created_at;
        let mut state = self.state();
        let number = state.numbers.entry(new.number.clone()).or_default();
        if let Some(refusal) = number.send_refusal(new, limits) {
            return Ok(Err(refusal));
        }
        let client = format!("client#{}", requester.client);
        let client_sends = format!("client-sends#{}", requester.client);
        let country = format!("budget#{}", requester.country);
        let ceiling = requester.ceiling.map(|key| format!("client#{key}"));
        let ceiling_sends = requester.ceiling.map(|key| format!("client-sends#{key}"));
        let ceilings = ceiling
            .iter()
            .zip(&ceiling_sends)
            .flat_map(|(requests, sends)| {
                [
                    (
                        requests.as_str(),
                        limits.api_key_requests_per_hour,
                        Limit::ClientRequests,
                    ),
                    (
                        sends.as_str(),
                        limits.api_key_sends_per_hour,
                        Limit::ClientSends,
                    ),
                ]
            });
        let counters: Vec<_> = [
            (
                client.as_str(),
                limits.client_requests_per_hour,
                Limit::ClientRequests,
            ),
            (
                client_sends.as_str(),
                limits.client_sends_per_hour,
                Limit::ClientSends,
            ),
            (
                country.as_str(),
                limits.messages_per_country_per_hour,
                Limit::MessagesPerCountryPerHour,
            ),
            (
                "budget#all",
                limits.messages_per_hour,
                Limit::MessagesPerHour,
            ),
        ]
        .into_iter()
        .chain(ceilings)
        .collect();
        if let Some((_, _, limit)) = counters
            .iter()
            .find(|(key, max, _)| state.counter_full(key, *max, now))
        {
            return Ok(Err(hour_limit(*limit, now)));
        }
        for (key, _, _) in counters {
            state.count(key, now);
        }
        state.count(&format!("prefix#{}", requester.prefix), now);
        let number = state.numbers.entry(new.number.clone()).or_default();
        number.code = Some((new.clone(), Status::Pending, 0));
        number.last_sent_at = Some(now);
        // Only the current windows count: past ones are dropped, as the
        // DynamoDB store's counter items expire.
        number
            .sends
            .retain(|&(length, index), _| index == Window::containing(now, length).index);
        for length in [Window::TEN_MINUTES, Window::DAY] {
            *number
                .sends
                .entry((length, Window::containing(now, length).index))
                .or_default() += 1;
        }
        let today = Window::containing(now, Window::DAY).index;
        number.calls.retain(|&day, _| day == today);
        if new.channel == Channel::Call {
            *number.calls.entry(today).or_default() += 1;
        }
        Ok(Ok(()))
    }

    async fn withdraw(
        &self,
        pseudonym: &Pseudonym,
        id: &VerificationId,
        sent_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(number) = state.numbers.get_mut(pseudonym) else {
            return Ok(false);
        };
        if let Some((current, status @ Status::Pending, _)) = &mut number.code
            && &current.id == id
            && number.last_sent_at == Some(sent_at)
        {
            *status = Status::Withdrawn;
            number.last_sent_at = None;
            return Ok(true);
        }
        Ok(false)
    }

    async fn record_provider(
        &self,
        pseudonym: &Pseudonym,
        id: &VerificationId,
        provider: Provider,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(NumberState {
            code: Some((current, Status::Pending, _)),
            ..
        }) = state.numbers.get_mut(pseudonym)
            && &current.id == id
        {
            current.provider = Some(provider);
        }
        Ok(())
    }

    async fn count_client_request(
        &self,
        client: &Pseudonym,
        ceiling: Option<&Pseudonym>,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Result<(), LimitReached>, StoreError> {
        let mut state = self.state();
        let counters: Vec<(String, u32)> =
            std::iter::once((client, limits.client_requests_per_hour))
                .chain(ceiling.map(|key| (key, limits.api_key_requests_per_hour)))
                .map(|(pseudonym, max)| (format!("client#{pseudonym}"), max))
                .collect();
        if counters
            .iter()
            .any(|(key, max)| state.counter_full(key, *max, now))
        {
            return Ok(Err(hour_limit(Limit::ClientRequests, now)));
        }
        for (key, _) in &counters {
            state.count(key, now);
        }
        Ok(Ok(()))
    }

    async fn count_attempt(
        &self,
        pseudonym: &Pseudonym,
        now: Timestamp,
        max_attempts: u32,
        limits: &Limits,
    ) -> Result<Result<CountedAttempt, AttemptRefused>, StoreError> {
        let mut state = self.state();
        let Some(number) = state.numbers.get_mut(pseudonym) else {
            return Ok(Err(AttemptRefused::NoPendingVerification));
        };
        if let Some(locked) = number.lockout(now, limits) {
            return Ok(Err(AttemptRefused::Locked(locked)));
        }
        let Some((new, status, attempts)) = &mut number.code else {
            return Ok(Err(AttemptRefused::NoPendingVerification));
        };
        // After its lifetime a code is answered as if it never existed.
        let alive = new.expires_at > now;
        match status {
            Status::Approved if alive => return Ok(Err(AttemptRefused::AlreadyApproved)),
            Status::Pending if alive => {}
            _ => return Ok(Err(AttemptRefused::NoPendingVerification)),
        }
        if *attempts >= max_attempts {
            return Ok(Err(AttemptRefused::AttemptsExhausted));
        }
        *attempts += 1;
        let counted = CountedAttempt {
            verification: current_verification(new, Status::Pending),
            code_mac: new.code_mac.clone(),
            key_id: new.key_id.clone(),
            attempts: *attempts,
        };
        // Not locked but at the limit: a lock ran out, the count starts again.
        if number.failures >= limits.failed_checks_before_lockout {
            number.failures = 0;
        }
        number.failures += 1;
        number.last_attempt_at = Some(now);
        Ok(Ok(counted))
    }

    async fn approve(
        &self,
        pseudonym: &Pseudonym,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<Approval, StoreError> {
        let mut state = self.state();
        let Some(number) = state.numbers.get_mut(pseudonym) else {
            return Ok(Approval::Replaced);
        };
        match &mut number.code {
            Some((current, Status::Pending, _))
                if &current.id == id && current.expires_at <= now =>
            {
                Ok(Approval::Expired)
            }
            Some((current, status @ Status::Pending, _)) if &current.id == id => {
                *status = Status::Approved;
                number.failures = 0;
                Ok(Approval::Approved)
            }
            Some((current, Status::Approved, _)) if &current.id == id => {
                Ok(Approval::AlreadyApproved)
            }
            _ => Ok(Approval::Replaced),
        }
    }

    async fn current(&self, number: &Pseudonym) -> Result<Option<CurrentVerification>, StoreError> {
        let state = self.state();
        Ok(state
            .numbers
            .get(number)
            .and_then(|number| number.code.as_ref())
            .map(|(code, status, _)| current_verification(code, *status)))
    }

    async fn traffic(
        &self,
        Destination {
            prefix,
            country,
            number,
        }: Destination<'_>,
        now: Timestamp,
        _limits: &Limits,
    ) -> Result<TrafficSnapshot, StoreError> {
        let state = self.state();
        let hour = Window::containing(now, Window::HOUR).index;
        let country_key = format!("budget#{country}");
        Ok(TrafficSnapshot {
            prefix: state.traffic(&format!("prefix#{prefix}"), hour),
            country: state.traffic(&country_key, hour),
            country_previous_hour: state.traffic(&country_key, hour - 1),
            prefix_restriction: state
                .restrictions
                .get(&Scope::Prefix(prefix.to_owned()))
                .copied(),
            country_restriction: state
                .restrictions
                .get(&Scope::Country(country.to_owned()))
                .copied(),
            verified_before: state.verified.get(number).is_some_and(|until| *until > now),
        })
    }

    async fn count_approval(
        &self,
        Destination {
            prefix,
            country,
            number,
        }: Destination<'_>,
        remembered_until: Timestamp,
        now: Timestamp,
        _limits: &Limits,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state.verified.insert(number.clone(), remembered_until);
        let hour = Window::containing(now, Window::HOUR).index;
        for key in [format!("prefix#{prefix}"), format!("budget#{country}")] {
            *state.approvals.entry((key, hour)).or_default() += 1;
        }
        Ok(())
    }

    async fn restrict(
        &self,
        scope: &Scope,
        restriction: Restriction,
        _now: Timestamp,
    ) -> Result<(), StoreError> {
        self.state().restrictions.insert(scope.clone(), restriction);
        Ok(())
    }
}

impl IdempotencyStore for InMemoryStore {
    async fn claim(&self, key: &str, now: Timestamp) -> Result<Claim, StoreError> {
        let mut state = self.state();
        Ok(match state.idempotency.get(key) {
            Some((until, Some(answer))) if now < *until => Claim::Replay(answer.clone()),
            Some((until, None)) if now < *until => Claim::InProgress,
            _ => {
                let lease_ends = now.plus_seconds(IDEMPOTENCY_LEASE_SECONDS);
                state.idempotency.insert(key.to_owned(), (lease_ends, None));
                Claim::First
            }
        })
    }

    async fn complete(&self, key: &str, answer: &str, now: Timestamp) -> Result<(), StoreError> {
        let until = now.plus_seconds(IDEMPOTENCY_ANSWER_SECONDS);
        self.state()
            .idempotency
            .insert(key.to_owned(), (until, Some(answer.to_owned())));
        Ok(())
    }

    async fn release(&self, key: &str, _now: Timestamp) -> Result<(), StoreError> {
        self.state().idempotency.remove(key);
        Ok(())
    }
}

/// Keeps every message it takes; can be told to answer otherwise.
#[derive(Debug, Clone)]
pub struct RecordingSender {
    sent: Arc<Mutex<Vec<OutgoingMessage>>>,
    answer: Arc<Mutex<Result<Handover, DeliveryError>>>,
}

impl Default for RecordingSender {
    fn default() -> Self {
        Self {
            sent: Arc::default(),
            answer: Arc::new(Mutex::new(Ok(Handover::Accepted))),
        }
    }
}

impl RecordingSender {
    /// The messages it took (accepted, or left unconfirmed).
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes every later send answer `answer`; an error takes no message.
    pub fn answer_with(&self, answer: Result<Handover, DeliveryError>) {
        *self.answer.lock().unwrap_or_else(|p| p.into_inner()) = answer;
    }
}

/// As the only provider of every route: Twilio's stand-in.
impl Dispatcher for RecordingSender {
    async fn dispatch(&self, message: &OutgoingMessage) -> Result<Dispatched, DeliveryError> {
        let handover = self.send(message).await?;
        Ok(Dispatched {
            provider: Provider::Twilio,
            handover,
        })
    }

    fn max_duration(&self) -> std::time::Duration {
        MessageSender::max_duration(self)
    }

    fn first_choice(&self, _country: &str, _channel: Channel) -> Option<Provider> {
        Some(Provider::Twilio)
    }
}

impl MessageSender for RecordingSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<Handover, DeliveryError> {
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if answer.is_ok() {
            self.sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(message.clone());
        }
        answer
    }

    fn max_duration(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// The providers' breakers in one process (tests; DynamoDB shares them).
#[derive(Debug, Default, Clone)]
pub struct MemoryHealth {
    policy: BreakerPolicy,
    breakers: Arc<Mutex<HashMap<Provider, BreakerState>>>,
}

impl MemoryHealth {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            breakers: Arc::default(),
        }
    }

    pub fn state(&self, provider: Provider) -> BreakerState {
        let breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        breakers
            .get(&provider)
            .copied()
            .unwrap_or(BreakerState::CLOSED)
    }

    fn set(&self, provider: Provider, state: BreakerState) {
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        breakers.insert(provider, state);
    }
}

impl ProviderHealth for MemoryHealth {
    async fn admits(&self, provider: Provider, now: Timestamp) -> bool {
        let state = self.state(provider);
        match state.admission(now) {
            Admission::Closed => true,
            Admission::Open => false,
            Admission::HalfOpen => {
                self.set(provider, state.probing(&self.policy, now));
                true
            }
        }
    }

    async fn record(&self, provider: Provider, outcome: ProviderOutcome, now: Timestamp) {
        let state = match outcome {
            ProviderOutcome::Answered => BreakerState::CLOSED,
            ProviderOutcome::Failed => self.state(provider).after_failure(&self.policy, now),
        };
        self.set(provider, state);
    }
}
