//! The verification rules, independent of HTTP, DynamoDB and Twilio.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use secrecy::SecretBox;

use crate::adapters::human_proof::HumanProofChecker;
use crate::domain::{
    Channel, CodeHasher, CodeLength, DestinationPolicy, DestinationRefused, FraudMode, FraudPolicy,
    IdentityHasher, Limit, LimitReached, Limits, OneTimeCode, PhoneNumber, Provider, Pseudonym,
    Scope, Timestamp, VerificationId, seconds_until,
};
use crate::messages::Messages;
use crate::metrics;
use crate::ports::{
    Approval, AttemptRefused, Clock, CountedAttempt, CurrentVerification, DeliveryError,
    Destination, Dispatcher, Handover, NewVerification, OutgoingMessage, Requester,
    StatusCallbacks, StoreError, VerificationStatus, VerificationStore,
};

/// Time kept, after the provider's longest answer, to answer the caller.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// The tunable rules of a verification.
#[derive(Debug, Clone)]
pub struct Policy {
    pub code_length: CodeLength,
    pub code_ttl_seconds: u64,
    pub max_attempts: u32,
    /// Channels clients may ask for.
    pub enabled_channels: BTreeSet<Channel>,
    pub limits: Limits,
    pub destinations: DestinationPolicy,
    /// Fixed codes for test numbers (E.164), which never reach the message
    /// provider; their sends and checks count as any number's (the
    /// attempts, the lockout, the allowances). Empty unless explicitly enabled.
    pub test_numbers: HashMap<String, OneTimeCode>,
    /// Until when (exclusive) the test numbers work; after it, or when
    /// unset, they are ordinary numbers. Checked at each request, as a warm
    /// function may outlive the date its configuration was checked against.
    pub test_numbers_valid_until: Option<Timestamp>,
    /// Conversion-based protection against SMS pumping.
    pub fraud: FraudPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_length: CodeLength::default(),
            code_ttl_seconds: 600,
            max_attempts: 5,
            enabled_channels: BTreeSet::from([Channel::Sms]),
            limits: Limits::default(),
            destinations: DestinationPolicy::default(),
            test_numbers: HashMap::new(),
            test_numbers_valid_until: None,
            fraud: FraudPolicy::default(),
        }
    }
}

impl Policy {
    /// Whether a channel is enabled and reaches `phone` (its line type
    /// takes it): the channels a fallback may go to.
    fn channels_reaching(&self, phone: &PhoneNumber) -> impl Fn(Channel) -> bool {
        move |channel| {
            self.enabled_channels.contains(&channel)
                && self.destinations.check(phone, channel).is_ok()
        }
    }

    /// The fixed code of `phone` if it is a test number and test numbers
    /// are still valid at `now`.
    fn test_code(&self, phone: &PhoneNumber, now: Timestamp) -> Option<&OneTimeCode> {
        let fixed = self.test_numbers.get(phone.as_e164())?;
        if self
            .test_numbers_valid_until
            .is_some_and(|until| now < until)
        {
            Some(fixed)
        } else {
            tracing::warn!(phone = %phone, "test numbers expired (TEST_PHONE_NUMBERS_VALID_UNTIL): an ordinary number now");
            None
        }
    }
}

/// Whose hourly allowances a request counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client: its network (an IPv4 address, an IPv6 /64), or a Verify
    /// API key with the end user's network (`DeviceIp`).
    pub id: String,
    /// The API key above a `DeviceIp` client, whose ceiling counts them all.
    pub ceiling: Option<String>,
}

impl Client {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ceiling: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SendRequest {
    pub phone: PhoneNumber,
    pub channel: Channel,
    /// Who asks, for the hourly allowances.
    pub client: Client,
    /// BCP 47 tag of the user's language, if the client knows it.
    pub locale: Option<String>,
    /// Where each provider should report the delivery (`POST /twilio/status`,
    /// `POST /plivo/status`).
    pub status_callbacks: StatusCallbacks,
    /// When the caller stops waiting (the Lambda invocation's deadline).
    pub deadline: Option<Instant>,
    /// A proof of a human (a challenge's token), which lets the send
    /// through a fraud restriction of its range or country.
    pub human_proof: Option<String>,
}

/// A code is on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub phone: PhoneNumber,
    pub channel: Channel,
    /// The code's verification (a Verify API `VerificationSid`).
    pub id: VerificationId,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    pub resend_available_at: Timestamp,
    pub attempts_remaining: u32,
    /// Who took the message (none for a test number, which sends nothing).
    pub provider: Option<Provider>,
    /// The provider did not answer in time: the message may or may not
    /// arrive (the user can ask again after the cooldown).
    pub unconfirmed: bool,
    /// The channel the user may ask for sooner if this code does not come.
    pub fallback: Option<Fallback>,
}

/// The next channel of `Channel::FALLBACK_ORDER` for a code that does not
/// come, and from when a send on it is admitted (before the cooldown ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback {
    pub channel: Channel,
    pub available_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("channel {0:?} is not enabled")]
    ChannelDisabled(Channel),
    #[error(transparent)]
    Destination(#[from] DestinationRefused),
    #[error("limit reached: {0:?}")]
    Limited(LimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The code was withdrawn, so the user may simply ask again.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

/// The number is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub phone: PhoneNumber,
    pub verified_at: Timestamp,
    /// The verification approved.
    pub verification: CurrentVerification,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the code does not match")]
    IncorrectCode {
        attempts_remaining: u32,
        /// The verification checked.
        verification: CurrentVerification,
    },
    #[error("no code is pending for this number")]
    NoPendingVerification,
    #[error("the code was already used")]
    AlreadyUsed,
    /// The right code, but a newer one replaced it while it was checked.
    #[error("a newer code replaced this one")]
    Replaced,
    #[error("all attempts for this code are used up")]
    AttemptsExhausted,
    #[error("limit reached: {0:?}")]
    Limited(LimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AttemptRefused> for CheckError {
    fn from(refused: AttemptRefused) -> Self {
        match refused {
            AttemptRefused::NoPendingVerification => CheckError::NoPendingVerification,
            AttemptRefused::AlreadyApproved => CheckError::AlreadyUsed,
            AttemptRefused::AttemptsExhausted => CheckError::AttemptsExhausted,
            AttemptRefused::Locked(locked) => CheckError::Limited(locked),
        }
    }
}

/// A number's current verification, found by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub phone: PhoneNumber,
    number: Pseudonym,
    pub verification: CurrentVerification,
}

/// The service's secret keys: for code MACs, and for the pseudonyms of
/// numbers and client addresses.
#[derive(Debug, Clone)]
pub struct Keys {
    pub codes: CodeHasher,
    pub identities: IdentityHasher,
}

/// What sending needs beyond the rules: the message provider and the words
/// of each message. Only the send function has one.
#[derive(Clone)]
pub struct Delivery<M> {
    pub sender: M,
    pub messages: Messages,
    /// Checks proofs of a human, when the stack has a verifier for them.
    pub human_proof: Option<HumanProofChecker>,
}

/// The rules over the ports. `D` is `Delivery<M>` for a service that sends
/// codes, `()` for one that only checks them (the verify function holds no
/// message provider, so it cannot send: `send_code` does not exist there).
#[derive(Clone)]
pub struct VerificationService<S, D, C> {
    store: S,
    delivery: D,
    clock: C,
    hasher: CodeHasher,
    identities: IdentityHasher,
    policy: Policy,
}

impl<S: VerificationStore, C: Clock> VerificationService<S, (), C> {
    /// A service that checks codes and cannot send any.
    pub fn new(store: S, clock: C, keys: Keys, policy: Policy) -> Self {
        Self {
            store,
            delivery: (),
            clock,
            hasher: keys.codes,
            identities: keys.identities,
            policy,
        }
    }

    /// The same service, able to send codes through `sender`.
    pub fn with_delivery<M: Dispatcher>(
        self,
        sender: M,
        messages: Messages,
    ) -> VerificationService<S, Delivery<M>, C> {
        VerificationService {
            store: self.store,
            delivery: Delivery {
                sender,
                messages,
                human_proof: None,
            },
            clock: self.clock,
            hasher: self.hasher,
            identities: self.identities,
            policy: self.policy,
        }
    }
}

/// What a Verify service of its own changes in the stack's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRules {
    /// The service's `ServiceSid`: its numbers' pseudonyms are its own.
    pub sid: String,
    pub code_length: CodeLength,
    /// A subset of the stack's channels.
    pub channels: BTreeSet<Channel>,
}

impl<S: Clone, D: Clone, C: Clone> VerificationService<S, D, C> {
    /// The same service for another Verify service: the same store,
    /// provider, keys, limits and fraud protection, with the service's code
    /// length and channels, and its own verifications and per-number counts.
    pub fn for_service(&self, rules: &ServiceRules) -> Self {
        Self {
            identities: self.identities.for_service(&rules.sid),
            policy: Policy {
                code_length: rules.code_length,
                enabled_channels: rules.channels.clone(),
                ..self.policy.clone()
            },
            ..self.clone()
        }
    }
}

impl<S: VerificationStore, D, C: Clock> VerificationService<S, D, C> {
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Counts an approval towards its prefix's and country's conversion, and
    /// remembers the number as verified (it passes restrictions). A failure
    /// only logs: the user is verified either way.
    async fn count_conversion(&self, phone: &PhoneNumber, now: Timestamp) {
        let fraud = &self.policy.fraud;
        if fraud.mode == FraudMode::Off {
            return;
        }
        let destination = Destination {
            prefix: &fraud.prefix(phone),
            country: phone.region_code(),
            number: &self.identities.number(phone),
        };
        let remembered_until = now.plus_seconds(fraud.verified_memory_seconds);
        let counted = self
            .store
            .count_approval(destination, remembered_until, now, &self.policy.limits)
            .await;
        if let Err(error) = counted {
            tracing::warn!(%error, "could not count an approval for fraud protection");
        }
    }

    /// The number's pseudonym, then those under previous identity keys.
    fn pseudonyms(&self, phone: &PhoneNumber) -> impl Iterator<Item = Pseudonym> {
        std::iter::once(self.identities.number(phone))
            .chain(self.identities.number_before_rotation(phone))
    }

    /// What storage calls this number.
    pub fn pseudonym(&self, phone: &PhoneNumber) -> Pseudonym {
        self.identities.number(phone)
    }

    /// What the user may ask for if the verification `found` does not
    /// come: its fallback channel, from the end of the fallback wait, or at
    /// once after a withdrawal (undelivered, canceled). None once approved.
    pub fn fallback(&self, found: &Found) -> Option<Fallback> {
        let verification = &found.verification;
        let from = match verification.status {
            VerificationStatus::Approved => return None,
            VerificationStatus::Pending => verification
                .created_at
                .plus_seconds(self.policy.limits.fallback_wait_seconds()),
            VerificationStatus::Withdrawn => self.clock.now(),
        };
        self.fallback_of(&found.phone, verification.channel, from)
    }

    /// The fallback of a code sent on `channel`, admitted from `from`.
    fn fallback_of(
        &self,
        phone: &PhoneNumber,
        channel: Channel,
        from: Timestamp,
    ) -> Option<Fallback> {
        let next = channel.fallback(self.policy.channels_reaching(phone))?;
        Some(Fallback {
            channel: next,
            available_at: from,
        })
    }

    /// The number's current verification (under its current pseudonym, or
    /// one from before a key rotation).
    pub async fn current(&self, phone: &PhoneNumber) -> Result<Option<Found>, StoreError> {
        for number in self.pseudonyms(phone) {
            if let Some(verification) = self.store.current(&number).await? {
                return Ok(Some(Found {
                    phone: phone.clone(),
                    number,
                    verification,
                }));
            }
        }
        Ok(None)
    }

    /// The verification `id` names, while it is its number's current one and
    /// its code has not expired: the id itself says which number (see
    /// `IdentityHasher::verification_id`), storage says the rest. The
    /// request counts against `client`'s allowance first, as every check
    /// does, so ids cannot be probed without limit.
    pub async fn find(
        &self,
        id: &VerificationId,
        client: &Client,
    ) -> Result<Option<Found>, CheckError> {
        self.count_request(client).await?;
        let Some(phone) = self.identities.number_of(id) else {
            return Ok(None);
        };
        let now = self.clock.now();
        Ok(self
            .current(&phone)
            .await?
            .filter(|found| found.verification.id == *id && found.verification.expires_at > now))
    }

    /// Cancels a pending verification: its code stops working and a new one
    /// may be sent at once (the send counts still bound how often). `false`
    /// when it was no longer pending.
    pub async fn cancel(&self, found: &Found) -> Result<bool, StoreError> {
        let verification = &found.verification;
        if verification.status != VerificationStatus::Pending {
            return Ok(false);
        }
        self.store
            .withdraw(&found.number, &verification.id, verification.created_at)
            .await
    }

    /// Approves a pending verification without its code: the app's backend
    /// vouches for the user (Twilio's `Status=approved`). It counts towards
    /// fraud protection's conversion like any approval.
    pub async fn approve(&self, found: &Found) -> Result<Approval, StoreError> {
        let now = self.clock.now();
        let approval = self
            .store
            .approve(&found.number, &found.verification.id, now)
            .await?;
        if approval == Approval::Approved {
            self.count_conversion(&found.phone, now).await;
        }
        Ok(approval)
    }

    /// One request of `client` against its hourly allowance (and its API
    /// key's ceiling).
    async fn count_request(&self, client: &Client) -> Result<(), CheckError> {
        let ceiling = client
            .ceiling
            .as_deref()
            .map(|key| self.identities.client(key));
        self.store
            .count_client_request(
                &self.identities.client(&client.id),
                ceiling.as_ref(),
                self.clock.now(),
                &self.policy.limits,
            )
            .await?
            .map_err(CheckError::Limited)
    }

    /// The provider reports that the code sent at `sent_at` never reached
    /// the user: withdraw it and lift the cooldown, so the user can ask again
    /// now (the send counts still bound how often). `true` when a code was
    /// withdrawn, `false` when it was replaced or withdrawn already.
    pub async fn record_undelivered(
        &self,
        phone: &PhoneNumber,
        id: &VerificationId,
        sent_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut withdrawn = false;
        for number in self.pseudonyms(phone) {
            withdrawn = self.store.withdraw(&number, id, sent_at).await?;
            if withdrawn {
                break;
            }
        }
        tracing::info!(phone = %phone, withdrawn, "the code was not delivered");
        Ok(withdrawn)
    }

    /// Counts the request and the attempt first, then compares in constant
    /// time; a match is approved with a conditional write, so a code works
    /// exactly once.
    pub async fn check_code(
        &self,
        phone: PhoneNumber,
        code: &OneTimeCode,
        client: &Client,
    ) -> Result<Approved, CheckError> {
        self.count_request(client).await?;
        let now = self.clock.now();
        let limits = &self.policy.limits;
        // A code sent before a key rotation is kept under the number's
        // previous pseudonym: look there when none is pending under the new.
        let mut found = None;
        for number in self.pseudonyms(&phone) {
            match self
                .store
                .count_attempt(&number, now, self.policy.max_attempts, limits)
                .await?
            {
                Err(AttemptRefused::NoPendingVerification) => continue,
                counted => {
                    found = Some((number, counted?));
                    break;
                }
            }
        }
        let (number, attempt) = found.ok_or(CheckError::NoPendingVerification)?;
        self.compare(phone, &number, attempt, code, now).await
    }

    /// Checks `code` against the verification `find` found (the request
    /// was counted there): its attempt is counted first, as in `check_code`.
    pub async fn check_found(
        &self,
        found: Found,
        code: &OneTimeCode,
    ) -> Result<Approved, CheckError> {
        let now = self.clock.now();
        let attempt = self
            .store
            .count_attempt(
                &found.number,
                now,
                self.policy.max_attempts,
                &self.policy.limits,
            )
            .await??;
        if attempt.verification.id != found.verification.id {
            return Err(CheckError::Replaced);
        }
        self.compare(found.phone, &found.number, attempt, code, now)
            .await
    }

    /// Compares `code` with the counted attempt's MAC; approves on a match.
    async fn compare(
        &self,
        phone: PhoneNumber,
        number: &Pseudonym,
        attempt: CountedAttempt,
        code: &OneTimeCode,
        now: Timestamp,
    ) -> Result<Approved, CheckError> {
        let verification = attempt.verification;
        let matches = self.hasher.matches(
            &phone,
            &verification.id,
            code,
            &attempt.key_id,
            &attempt.code_mac,
        );
        if !matches {
            return Err(CheckError::IncorrectCode {
                attempts_remaining: self.policy.max_attempts.saturating_sub(attempt.attempts),
                verification,
            });
        }
        match self.store.approve(number, &verification.id, now).await? {
            Approval::Approved => {
                self.count_conversion(&phone, now).await;
                Ok(Approved {
                    phone,
                    verified_at: now,
                    verification: CurrentVerification {
                        status: VerificationStatus::Approved,
                        ..verification
                    },
                })
            }
            Approval::AlreadyApproved => Err(CheckError::AlreadyUsed),
            Approval::Replaced => Err(CheckError::Replaced),
            Approval::Expired => Err(CheckError::NoPendingVerification),
        }
    }
}

impl<S: VerificationStore, M: Dispatcher, C: Clock> VerificationService<S, Delivery<M>, C> {
    pub fn sender(&self) -> &M {
        &self.delivery.sender
    }

    /// The same service, with other words (another app name or code length).
    pub fn with_messages(mut self, messages: Messages) -> Self {
        self.delivery.messages = messages;
        self
    }

    /// The same service, letting a proof of a human through restrictions.
    pub fn with_human_proof(mut self, checker: Option<HumanProofChecker>) -> Self {
        self.delivery.human_proof = checker;
        self
    }

    /// Checks the destination, stores the hash of a new code if every send
    /// limit admits it (replacing any previous code), then sends the code.
    /// If sending fails the code is withdrawn and the cooldown lifted. A
    /// test number's code is its fixed one, stored and limited as any
    /// other, and never sent.
    pub async fn send_code(&self, request: SendRequest) -> Result<CodeSent, SendError> {
        let SendRequest {
            phone,
            channel,
            client,
            locale,
            status_callbacks,
            deadline,
            human_proof,
        } = request;
        if !self.policy.enabled_channels.contains(&channel) {
            return Err(SendError::ChannelDisabled(channel));
        }
        let now = self.clock.now();
        let expires_at = now.plus_seconds(self.policy.code_ttl_seconds);
        let id = self.identities.verification_id(&phone);
        let test_code = self.policy.test_code(&phone, now).cloned();
        let ceiling = client
            .ceiling
            .as_deref()
            .map(|key| self.identities.client(key));
        let client = self.identities.client(&client.id);
        let counted = async |refusal| self.counted(&client, ceiling.as_ref(), now, refusal).await;
        let prefix = self.policy.fraud.prefix(&phone);
        let number = self.identities.number(&phone);
        // A test number sends nothing: no destination or pumping to judge.
        let mut country_cut = false;
        let limits = match test_code {
            Some(_) => Cow::Borrowed(&self.policy.limits),
            None => {
                if let Err(refused) = self.policy.destinations.check(&phone, channel) {
                    return Err(counted(refused.into()).await);
                }
                let destination = Destination {
                    prefix: &prefix,
                    country: phone.region_code(),
                    number: &number,
                };
                match self.screen(destination, human_proof.as_deref(), now).await {
                    Err(paused) => return Err(counted(SendError::Limited(paused)).await),
                    Ok(Some(country_budget)) => {
                        country_cut = true;
                        Cow::Owned(Limits {
                            messages_per_country_per_hour: country_budget,
                            ..self.policy.limits.clone()
                        })
                    }
                    Ok(None) => Cow::Borrowed(&self.policy.limits),
                }
            }
        };
        let limits = limits.as_ref();
        let is_test_number = test_code.is_some();
        let code = test_code.unwrap_or_else(|| OneTimeCode::generate(self.policy.code_length));
        let fallback_from = channel.falls_back_from(self.policy.channels_reaching(&phone));
        let new = NewVerification {
            code_mac: self.hasher.mac(&phone, &id, &code),
            number,
            id,
            key_id: self.hasher.key_id().to_owned(),
            channel,
            // Corrected below if another provider of the route sends it.
            provider: match is_test_number {
                true => None,
                false => self
                    .delivery
                    .sender
                    .first_choice(phone.region_code(), channel),
            },
            fallback_from,
            created_at: now,
            expires_at,
        };
        let requester = Requester {
            client: &client,
            ceiling: ceiling.as_ref(),
            country: phone.region_code(),
            prefix: &prefix,
        };
        if let Err(mut limit) = self.store.save_new(&new, requester, limits).await? {
            // The cut budget is spent; the full one would have let a human in.
            if country_cut && limit.limit == Limit::MessagesPerCountryPerHour {
                limit.limit = self.restricted_refusal();
            }
            match limit.limit {
                Limit::MessagesPerHour | Limit::MessagesPerCountryPerHour => {
                    tracing::warn!(limit = ?limit.limit, country = requester.country, "message budget spent: sends refused until the hour ends");
                }
                Limit::ClientRequests => return Err(SendError::Limited(limit)),
                _ => {}
            }
            // The refused transaction counted nothing.
            return Err(counted(SendError::Limited(limit)).await);
        }
        let fallback_at = now.plus_seconds(limits.fallback_wait_seconds());
        let sent = CodeSent {
            fallback: self.fallback_of(&phone, channel, fallback_at),
            phone,
            channel,
            id: new.id.clone(),
            sent_at: now,
            expires_at,
            resend_available_at: now.plus_seconds(limits.resend_cooldown_seconds),
            attempts_remaining: self.policy.max_attempts,
            provider: None,
            unconfirmed: false,
        };
        if is_test_number {
            return Ok(sent);
        }
        let phone = &sent.phone;
        let messages = &self.delivery.messages;
        let language = messages.language_for(locale.as_deref(), phone);
        let message = OutgoingMessage {
            answer_by: deadline.and_then(|deadline| deadline.checked_sub(ANSWER_MARGIN)),
            to: phone.clone(),
            channel,
            content: SecretBox::new(Box::new(messages.render(channel, language, &code))),
            verification_id: new.id.clone(),
            sent_at: now,
            status_callbacks,
        };
        // Never send what the caller will not wait for (a stalled storage
        // call can use up the invocation): such a send fails like one the
        // provider refused, and nothing was sent.
        let delivered = match message.leaves_time_for(self.delivery.sender.max_duration()) {
            true => self.delivery.sender.dispatch(&message).await,
            false => {
                let time_left_ms = deadline.map(|deadline| {
                    deadline
                        .saturating_duration_since(Instant::now())
                        .as_millis()
                });
                tracing::warn!(phone = %phone, time_left_ms, "too close to the deadline to send");
                Err(DeliveryError::Unavailable(
                    "too close to the request's deadline".into(),
                ))
            }
        };
        let dispatched = match delivered {
            Ok(dispatched) => dispatched,
            Err(delivery) => {
                if let Err(store) = self.store.withdraw(&new.number, &new.id, now).await {
                    // The undelivered code stays until it expires; nobody knows it.
                    tracing::error!(phone = %phone, error = %store, "could not withdraw an undelivered code");
                }
                return Err(delivery.into());
            }
        };
        if new.provider != Some(dispatched.provider) {
            let recorded = self
                .store
                .record_provider(&new.number, &new.id, dispatched.provider)
                .await;
            if let Err(store) = recorded {
                // Only the per-provider approval count is off.
                tracing::warn!(error = %store, "could not record the provider that sent a code");
            }
        }
        // Maybe sent: the code stays valid and the limits counted, like any send.
        Ok(CodeSent {
            provider: Some(dispatched.provider),
            unconfirmed: dispatched.handover == Handover::Unconfirmed,
            ..sent
        })
    }

    /// Fraud protection's word on a send to `destination`: refused while its
    /// prefix is paused, and `Some(budget)` (cut) while its country is
    /// restricted. A scope found converting far below normal is restricted
    /// now. A number verified before, or a send with a valid proof of a
    /// human, passes both; in audit mode everything passes, counted. Fails
    /// open: without a snapshot the static caps still bound the bill.
    async fn screen(
        &self,
        destination: Destination<'_>,
        human_proof: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<u32>, LimitReached> {
        let fraud = &self.policy.fraud;
        let limits = &self.policy.limits;
        let Destination {
            prefix, country, ..
        } = destination;
        if fraud.mode == FraudMode::Off {
            return Ok(None);
        }
        let snapshot = match self.store.traffic(destination, now, limits).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(%error, "no traffic snapshot: fraud protection skipped for this send");
                return Ok(None);
            }
        };
        let assessment = fraud.assess(prefix, country, &snapshot, now);
        for (scope, restriction) in &assessment.new_restrictions {
            let (kind, traffic) = match scope {
                Scope::Prefix(_) => ("prefix", snapshot.prefix),
                Scope::Country(_) => ("country", snapshot.country),
            };
            tracing::warn!(
                ?scope,
                sends = traffic.sends,
                approvals = traffic.approvals,
                until = %restriction.until,
                times = restriction.times,
                "destination restricted: conversion far below its normal level"
            );
            metrics::count("Restrictions", &[("Scope", kind), ("Country", country)]);
            if let Err(error) = self.store.restrict(scope, *restriction, now).await {
                tracing::error!(%error, ?scope, "could not record a restriction");
            }
        }
        let restricted = assessment.prefix_paused_until.is_some() || assessment.country_capped;
        if !restricted {
            return Ok(None);
        }
        let passes = match (fraud.mode, snapshot.verified_before) {
            (FraudMode::Audit, _) => Some("audit"),
            (_, true) => Some("verified_before"),
            _ if self.is_human(human_proof).await => Some("human_proof"),
            _ => None,
        };
        if let Some(why) = passes {
            tracing::info!(why, country, "a fraud restriction let this send through");
            metrics::count("RestrictionsPassed", &[("Why", why), ("Country", country)]);
            return Ok(None);
        }
        if let Some(until) = assessment.prefix_paused_until {
            return Err(LimitReached {
                limit: self.restricted_refusal(),
                retry_after_seconds: seconds_until(now, until),
            });
        }
        Ok(Some(
            fraud.restricted_budget(limits.messages_per_country_per_hour),
        ))
    }

    /// Whether `token` proves a human. Without a verifier, a token, or an
    /// answer from the verifier, it does not: the restriction stands.
    async fn is_human(&self, token: Option<&str>) -> bool {
        let (Some(checker), Some(token)) = (&self.delivery.human_proof, token) else {
            return false;
        };
        match checker.passes(token).await {
            Ok(passes) => passes,
            Err(error) => {
                tracing::warn!(%error, "no verdict on a proof of a human: the restriction stands");
                false
            }
        }
    }

    /// How a restriction refuses: asking for a proof of a human where the
    /// stack checks them, a plain refusal where it does not.
    fn restricted_refusal(&self) -> Limit {
        match self.delivery.human_proof {
            Some(_) => Limit::HumanProofRequired,
            None => Limit::DestinationRestricted,
        }
    }

    /// A refused send still counts against the client's hourly allowance,
    /// so refusals (a cooldown, a line type) cannot be probed without limit.
    /// The refusal stands unless the allowance itself is spent.
    async fn counted(
        &self,
        client: &Pseudonym,
        ceiling: Option<&Pseudonym>,
        now: Timestamp,
        refusal: SendError,
    ) -> SendError {
        match self
            .store
            .count_client_request(client, ceiling, now, &self.policy.limits)
            .await
        {
            Ok(Err(spent)) => SendError::Limited(spent),
            Ok(Ok(())) => refusal,
            Err(error) => {
                tracing::warn!(%error, "could not count a refused send");
                refusal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::adapters::clock::ManualClock;
    use crate::adapters::memory::{InMemoryStore, RecordingSender};
    use crate::domain::Keyring;
    use crate::messages::MessageSettings;
    use crate::ports::{Content, RecipientProblem};

    type Service = VerificationService<InMemoryStore, Delivery<RecordingSender>, Arc<ManualClock>>;

    fn default_messages() -> Messages {
        Messages::new(MessageSettings::default(), CodeLength::default())
            .expect("the default messages fit")
    }

    fn keys() -> Keys {
        Keys {
            codes: CodeHasher::new(Keyring::new(
                "v1",
                b"unit-test key of at least 32 bytes".to_vec(),
            )),
            identities: IdentityHasher::new(Keyring::new(
                "i1",
                b"unit-test identity key, 32+ bytes".to_vec(),
            )),
        }
    }

    fn service() -> (Service, RecordingSender, Arc<ManualClock>) {
        let sender = RecordingSender::default();
        let clock = Arc::new(ManualClock::starting_at(Timestamp::from_unix_seconds(
            1_800_000_000,
        )));
        let service = VerificationService::new(
            InMemoryStore::default(),
            Arc::clone(&clock),
            keys(),
            Policy::default(),
        )
        .with_delivery(sender.clone(), default_messages());
        (service, sender, clock)
    }

    fn client() -> Client {
        Client::new("198.51.100.7")
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+14155550123", None).unwrap()
    }

    async fn try_send(service: &Service) -> Result<CodeSent, SendError> {
        try_send_on(service, Channel::Sms).await
    }

    async fn try_send_on(service: &Service, channel: Channel) -> Result<CodeSent, SendError> {
        service
            .send_code(SendRequest {
                phone: phone(),
                channel,
                client: client(),
                locale: None,
                status_callbacks: StatusCallbacks::default(),
                deadline: None,
                human_proof: None,
            })
            .await
    }

    async fn send(service: &Service) -> CodeSent {
        try_send(service).await.unwrap()
    }

    /// `stale` (unless it happens to equal `latest`) is a wrong code now,
    /// and `latest` verifies.
    async fn only_the_latest_verifies(
        service: &Service,
        stale: &OneTimeCode,
        latest: &OneTimeCode,
    ) {
        if stale.as_str() != latest.as_str() {
            assert!(matches!(
                service.check_code(phone(), stale, &client()).await,
                Err(CheckError::IncorrectCode { .. })
            ));
        }
        assert!(service.check_code(phone(), latest, &client()).await.is_ok());
    }

    /// The code in the last message "delivered" to the phone.
    fn received_code(sender: &RecordingSender) -> OneTimeCode {
        let digits: String = match sender.sent().last().unwrap().content.expose_secret() {
            Content::Text(text) => text.chars().filter(char::is_ascii_digit).collect(),
            Content::Speech(speech) => speech.digits.replace(", ", ""),
            Content::Template { code, .. } => code.clone(),
        };
        OneTimeCode::parse(&digits, CodeLength::default()).unwrap()
    }

    fn wrong(code: &OneTimeCode) -> OneTimeCode {
        let first = (code.as_str().as_bytes()[0] - b'0' + 1) % 10;
        OneTimeCode::parse(
            &format!("{first}{}", &code.as_str()[1..]),
            CodeLength::default(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_sent_code_verifies_once() {
        let (service, sender, _) = service();
        let sent = send(&service).await;
        assert_eq!(sent.expires_at, Timestamp::from_unix_seconds(1_800_000_600));
        assert_eq!(sent.attempts_remaining, 5);
        assert!(!sent.unconfirmed, "the provider took it");
        assert_eq!(sent.provider, Some(Provider::Twilio));
        let code = received_code(&sender);
        let approved = service.check_code(phone(), &code, &client()).await.unwrap();
        assert_eq!(approved.phone, phone());
        // Approvals are counted per the provider that sent the code.
        assert_eq!(approved.verification.provider, Some(Provider::Twilio));
        assert!(matches!(
            service.check_code(phone(), &code, &client()).await,
            Err(CheckError::AlreadyUsed)
        ));
    }

    #[tokio::test]
    async fn the_message_is_in_the_requested_language() {
        let (service, sender, _) = service();
        service
            .send_code(SendRequest {
                phone: phone(),
                channel: Channel::Sms,
                client: client(),
                locale: Some("fr-CA".into()),
                status_callbacks: StatusCallbacks::default(),
                deadline: None,
                human_proof: None,
            })
            .await
            .unwrap();
        let code = received_code(&sender);
        assert!(
            *sender.sent()[0].content.expose_secret()
                == Content::Text(format!("Votre code de vérification est {}.", code.as_str()))
        );
    }

    #[tokio::test]
    async fn a_resend_may_switch_to_a_call_within_the_same_limits() {
        let (mut service, sender, clock) = service();
        service.policy.enabled_channels.insert(Channel::Call);
        send(&service).await;
        assert!(matches!(
            try_send_on(&service, Channel::Call).await,
            Err(SendError::Limited(_))
        ));
        clock.advance(60);
        assert_eq!(
            try_send_on(&service, Channel::Call).await.unwrap().channel,
            Channel::Call
        );
        assert!(matches!(
            sender.sent()[1].content.expose_secret(),
            Content::Speech(_)
        ));
        let code = received_code(&sender);
        assert!(service.check_code(phone(), &code, &client()).await.is_ok());
    }

    #[tokio::test]
    async fn a_disabled_channel_is_refused() {
        let (service, sender, _) = service();
        let whatsapp = service
            .send_code(SendRequest {
                phone: phone(),
                channel: Channel::Whatsapp,
                client: client(),
                locale: None,
                status_callbacks: StatusCallbacks::default(),
                deadline: None,
                human_proof: None,
            })
            .await;
        assert!(matches!(
            whatsapp,
            Err(SendError::ChannelDisabled(Channel::Whatsapp))
        ));
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn wrong_codes_count_down_then_the_code_is_dead() {
        let (service, sender, _) = service();
        send(&service).await;
        let code = received_code(&sender);
        for remaining in (0..5).rev() {
            match service.check_code(phone(), &wrong(&code), &client()).await {
                Err(CheckError::IncorrectCode {
                    attempts_remaining, ..
                }) => {
                    assert_eq!(attempts_remaining, remaining)
                }
                other => panic!("expected an incorrect code, got {other:?}"),
            }
        }
        assert!(matches!(
            service.check_code(phone(), &code, &client()).await,
            Err(CheckError::AttemptsExhausted)
        ));
    }

    #[tokio::test]
    async fn the_fifth_attempt_may_still_be_right() {
        let (service, sender, _) = service();
        send(&service).await;
        let code = received_code(&sender);
        for _ in 0..4 {
            assert!(
                service
                    .check_code(phone(), &wrong(&code), &client())
                    .await
                    .is_err()
            );
        }
        assert!(service.check_code(phone(), &code, &client()).await.is_ok());
    }

    #[tokio::test]
    async fn codes_expire_after_the_ttl() {
        let (service, sender, clock) = service();
        send(&service).await;
        let code = received_code(&sender);
        clock.advance(599);
        assert!(matches!(
            service.check_code(phone(), &wrong(&code), &client()).await,
            Err(CheckError::IncorrectCode { .. })
        ));
        clock.advance(1);
        assert!(matches!(
            service.check_code(phone(), &code, &client()).await,
            Err(CheckError::NoPendingVerification)
        ));
    }

    #[tokio::test]
    async fn a_new_code_replaces_the_previous_one() {
        let (service, sender, clock) = service();
        send(&service).await;
        let first = received_code(&sender);
        clock.advance(60);
        send(&service).await;
        let second = received_code(&sender);
        only_the_latest_verifies(&service, &first, &second).await;
    }

    #[tokio::test]
    async fn an_unknown_number_has_nothing_pending() {
        let (service, _, _) = service();
        let code = OneTimeCode::parse("123456", CodeLength::default()).unwrap();
        assert!(matches!(
            service.check_code(phone(), &code, &client()).await,
            Err(CheckError::NoPendingVerification)
        ));
    }

    #[tokio::test]
    async fn an_undelivered_code_is_withdrawn() {
        let (service, sender, clock) = service();
        send(&service).await;
        let delivered = received_code(&sender);
        clock.advance(60);
        sender.answer_with(Err(DeliveryError::Recipient(
            RecipientProblem::InvalidNumber,
        )));
        let failed = try_send(&service).await;
        assert!(matches!(failed, Err(SendError::Delivery(_))));
        // Neither the undelivered code nor the one it replaced is usable...
        assert!(matches!(
            service.check_code(phone(), &delivered, &client()).await,
            Err(CheckError::NoPendingVerification)
        ));
        // ...and nothing stops the user from asking again.
        sender.answer_with(Ok(Handover::Accepted));
        send(&service).await;
        assert!(
            service
                .check_code(phone(), &received_code(&sender), &client())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_resend_waits_for_the_cooldown() {
        let (service, sender, clock) = service();
        send(&service).await;
        let refused = try_send(&service).await;
        match refused {
            Err(SendError::Limited(reached)) => {
                assert_eq!(reached.limit, Limit::ResendCooldown);
                assert_eq!(reached.retry_after_seconds, 60);
            }
            other => panic!("expected the cooldown, got {other:?}"),
        }
        clock.advance(60);
        send(&service).await;
        assert_eq!(sender.sent().len(), 2);
    }

    fn with_channels(service: &mut Service, channels: &[Channel]) {
        service.policy.enabled_channels = channels.iter().copied().collect();
    }

    /// The limit that refused `send`, and when to try again.
    fn refusal(send: Result<CodeSent, SendError>) -> (Limit, u64) {
        match send {
            Err(SendError::Limited(reached)) => (reached.limit, reached.retry_after_seconds),
            other => panic!("expected a limit, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_call_may_follow_a_pending_sms_after_the_fallback_wait() {
        let (mut service, sender, clock) = service();
        with_channels(&mut service, &[Channel::Sms, Channel::Call]);
        let sms = send(&service).await;
        let fallback = sms.fallback.expect("a call is the SMS's fallback");
        assert_eq!(fallback.channel, Channel::Call);
        assert_eq!(fallback.available_at, sms.sent_at.plus_seconds(30));
        clock.advance(29);
        assert_eq!(
            refusal(try_send_on(&service, Channel::Call).await),
            (Limit::ResendCooldown, 1),
            "the fallback's wait, not the cooldown's"
        );
        clock.advance(1);
        let call = try_send_on(&service, Channel::Call).await.unwrap();
        assert_eq!(call.fallback, None, "nothing comes after a call");
        assert!(matches!(
            sender.sent()[1].content.expose_secret(),
            Content::Speech(_)
        ));
        let code = received_code(&sender);
        assert!(service.check_code(phone(), &code, &client()).await.is_ok());
    }

    #[tokio::test]
    async fn the_same_channel_waits_the_full_cooldown() {
        let (mut service, _, clock) = service();
        with_channels(&mut service, &[Channel::Sms, Channel::Call]);
        send(&service).await;
        clock.advance(30);
        assert_eq!(
            refusal(try_send(&service).await),
            (Limit::ResendCooldown, 30)
        );
    }

    #[tokio::test]
    async fn only_the_next_channel_falls_back_and_each_code_once() {
        let (mut service, _, clock) = service();
        with_channels(
            &mut service,
            &[Channel::Sms, Channel::Call, Channel::Whatsapp],
        );
        let whatsapp = try_send_on(&service, Channel::Whatsapp).await.unwrap();
        assert_eq!(whatsapp.fallback.map(|f| f.channel), Some(Channel::Sms));
        clock.advance(30);
        // A call is not WhatsApp's fallback: it waits the cooldown.
        assert_eq!(
            refusal(try_send_on(&service, Channel::Call).await),
            (Limit::ResendCooldown, 30)
        );
        let sms = send(&service).await;
        assert_eq!(sms.fallback.map(|f| f.channel), Some(Channel::Call));
        // The WhatsApp code fell back already: a second SMS waits the cooldown.
        clock.advance(30);
        assert_eq!(
            refusal(try_send(&service).await),
            (Limit::ResendCooldown, 30)
        );
        // The SMS code's own fallback, a call, is due.
        try_send_on(&service, Channel::Call).await.unwrap();
        clock.advance(30);
        for channel in Channel::ALL {
            assert_eq!(
                refusal(try_send_on(&service, channel).await),
                (Limit::ResendCooldown, 30),
                "after a call, {channel:?} waits the cooldown"
            );
        }
    }

    #[tokio::test]
    async fn an_approved_code_earns_no_fallback() {
        let (mut service, sender, clock) = service();
        with_channels(&mut service, &[Channel::Sms, Channel::Call]);
        send(&service).await;
        let code = received_code(&sender);
        service.check_code(phone(), &code, &client()).await.unwrap();
        clock.advance(30);
        assert_eq!(
            refusal(try_send_on(&service, Channel::Call).await),
            (Limit::ResendCooldown, 30)
        );
    }

    #[tokio::test]
    async fn an_undelivered_code_lets_any_channel_in_at_once() {
        let (mut service, _, clock) = service();
        with_channels(&mut service, &[Channel::Sms, Channel::Call]);
        let sms = send(&service).await;
        clock.advance(5);
        assert!(
            service
                .record_undelivered(&phone(), &sms.id, sms.sent_at)
                .await
                .unwrap()
        );
        let call = try_send_on(&service, Channel::Call).await.unwrap();
        assert_eq!(call.channel, Channel::Call);
    }

    #[tokio::test]
    async fn calls_are_bounded_per_number_per_day_even_through_fallbacks() {
        let (mut service, sender, clock) = service();
        with_channels(&mut service, &[Channel::Sms, Channel::Call]);
        service.policy.limits.sends_per_10_minutes = 100;
        service.policy.limits.sends_per_day = 100;
        service.policy.limits.client_sends_per_hour = 100;
        let mut refused = None;
        for _ in 0..10 {
            send(&service).await;
            clock.advance(30);
            match try_send_on(&service, Channel::Call).await {
                Ok(_) => clock.advance(60),
                Err(error) => {
                    refused = Some(refusal(Err(error)));
                    clock.advance(30);
                }
            }
        }
        let calls = sender
            .sent()
            .iter()
            .filter(|message| message.channel == Channel::Call)
            .count();
        assert_eq!(calls, 3, "MAX_CALLS_PER_NUMBER_PER_DAY");
        assert_eq!(
            refused.map(|(limit, _)| limit),
            Some(Limit::NumberCallsPerDay)
        );
        // Texts go on within their own limits.
        assert_eq!(sender.sent().len(), 13);
    }

    #[tokio::test]
    async fn a_channel_that_is_off_is_never_offered() {
        let (mut service, _, clock) = service();
        assert_eq!(send(&service).await.fallback, None, "SMS only: no fallback");
        with_channels(&mut service, &[Channel::Sms, Channel::Whatsapp]);
        clock.advance(60);
        assert_eq!(send(&service).await.fallback, None, "calls are off");
        clock.advance(60);
        let whatsapp = try_send_on(&service, Channel::Whatsapp).await.unwrap();
        assert_eq!(whatsapp.fallback.map(|f| f.channel), Some(Channel::Sms));
    }

    #[tokio::test]
    async fn wrong_codes_lock_the_number_across_codes() {
        let (mut service, sender, clock) = service();
        service.policy.limits.failed_checks_before_lockout = 6;
        send(&service).await;
        let first = received_code(&sender);
        for _ in 0..5 {
            assert!(
                service
                    .check_code(phone(), &wrong(&first), &client())
                    .await
                    .is_err()
            );
        }
        clock.advance(60);
        send(&service).await;
        let second = received_code(&sender);
        assert!(
            service
                .check_code(phone(), &wrong(&second), &client())
                .await
                .is_err()
        );
        match service.check_code(phone(), &second, &client()).await {
            Err(CheckError::Limited(reached)) => assert_eq!(reached.limit, Limit::NumberLocked),
            other => panic!("expected a lockout, got {other:?}"),
        }
    }

    /// Makes `phone()` a test number with the fixed code 246810, valid
    /// until `valid_until` (without one it is an ordinary number).
    fn make_test_number(service: &mut Service, valid_until: Option<Timestamp>) -> OneTimeCode {
        let fixed = OneTimeCode::parse("246810", CodeLength::default()).unwrap();
        service
            .policy
            .test_numbers
            .insert(phone().as_e164().into(), fixed.clone());
        service.policy.test_numbers_valid_until = valid_until;
        fixed
    }

    #[tokio::test]
    async fn test_numbers_use_their_fixed_code_and_send_nothing() {
        let (mut service, sender, clock) = service();
        let fixed = make_test_number(&mut service, Some(clock.now().plus_seconds(3_600)));
        assert_eq!(send(&service).await.provider, None);
        assert!(sender.sent().is_empty());
        let approved = service
            .check_code(phone(), &fixed, &client())
            .await
            .unwrap();
        assert_eq!(approved.verification.provider, None);
    }

    /// A fixed code is known to whoever reads the configuration: it is
    /// guessed against the same attempts, cooldown and lockout as any code.
    #[tokio::test]
    async fn test_numbers_count_attempts_and_cooldowns_as_any_number() {
        let (mut service, sender, clock) = service();
        let fixed = make_test_number(&mut service, Some(clock.now().plus_seconds(3_600)));
        let sent = send(&service).await;
        assert_eq!(sent.resend_available_at, clock.now().plus_seconds(60));
        assert!(matches!(
            try_send(&service).await,
            Err(SendError::Limited(reached)) if reached.limit == Limit::ResendCooldown
        ));
        for remaining in (0..5).rev() {
            match service.check_code(phone(), &wrong(&fixed), &client()).await {
                Err(CheckError::IncorrectCode {
                    attempts_remaining, ..
                }) => assert_eq!(attempts_remaining, remaining),
                other => panic!("expected an incorrect code, got {other:?}"),
            }
        }
        assert!(matches!(
            service.check_code(phone(), &fixed, &client()).await,
            Err(CheckError::AttemptsExhausted)
        ));
        assert!(sender.sent().is_empty());
    }

    /// Configuration is checked at cold start; a warm function may outlive
    /// the date, so each request checks it again.
    #[tokio::test]
    async fn test_numbers_stop_working_at_their_expiry_in_a_warm_function() {
        let (mut service, sender, clock) = service();
        let fixed = make_test_number(&mut service, Some(clock.now().plus_seconds(3_600)));
        clock.advance(3_540);
        send(&service).await;
        assert!(sender.sent().is_empty(), "still valid a minute before");
        clock.advance(59);
        assert!(
            service.check_code(phone(), &fixed, &client()).await.is_ok(),
            "still valid a second before"
        );

        clock.advance(1);
        assert!(
            service
                .check_code(phone(), &fixed, &client())
                .await
                .is_err(),
            "the fixed code no longer verifies"
        );
        send(&service).await;
        assert_eq!(
            sender.sent().len(),
            1,
            "an ordinary number: a real code is sent"
        );
        let real = received_code(&sender);
        only_the_latest_verifies(&service, &fixed, &real).await;
    }

    #[tokio::test]
    async fn test_numbers_without_a_validity_are_ordinary_numbers() {
        let (mut service, sender, _) = service();
        make_test_number(&mut service, None);
        send(&service).await;
        assert_eq!(sender.sent().len(), 1);
    }

    #[tokio::test]
    async fn refused_destinations_send_nothing() {
        let (mut service, sender, _) = service();
        service
            .policy
            .destinations
            .denied_countries
            .insert("US".into());
        let refused = try_send(&service).await;
        assert!(matches!(
            refused,
            Err(SendError::Destination(
                DestinationRefused::CountryNotAllowed
            ))
        ));
        assert!(sender.sent().is_empty());
    }

    async fn send_before(service: &Service, deadline: Duration) -> Result<CodeSent, SendError> {
        service
            .send_code(SendRequest {
                deadline: Some(Instant::now() + deadline),
                human_proof: None,
                phone: phone(),
                channel: Channel::Sms,
                client: client(),
                locale: None,
                status_callbacks: StatusCallbacks::default(),
            })
            .await
    }

    #[tokio::test]
    async fn nothing_is_sent_when_the_caller_would_be_gone_before_the_answer() {
        let (service, sender, _) = service();
        let refused = send_before(&service, Duration::from_millis(100)).await;
        assert!(matches!(
            refused,
            Err(SendError::Delivery(DeliveryError::Unavailable(_)))
        ));
        assert!(sender.sent().is_empty());
        // The code was withdrawn with the cooldown: a send in time goes at once.
        send_before(&service, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(sender.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_report_withdraws_its_own_code_once() {
        let (service, sender, _) = service();
        send(&service).await;
        let message = sender.sent().pop().unwrap();
        let (id, sent_at) = (message.verification_id, message.sent_at);
        assert!(
            service
                .record_undelivered(&phone(), &id, sent_at)
                .await
                .unwrap()
        );
        assert!(
            !service
                .record_undelivered(&phone(), &id, sent_at)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_policy_is_the_one_given() {
        let policy = Policy {
            max_attempts: 3,
            ..Policy::default()
        };
        let service = VerificationService::new(
            InMemoryStore::default(),
            Arc::new(ManualClock::starting_at(Timestamp::from_unix_seconds(0))),
            keys(),
            policy,
        );
        assert_eq!(service.policy().max_attempts, 3);
    }

    #[tokio::test]
    async fn a_code_sent_before_an_identity_key_rotation_still_verifies() {
        let (before, sender, clock) = service();
        send(&before).await;
        let rotated = Keys {
            identities: IdentityHasher::new(
                Keyring::new("i2", b"the next identity key, 32+ bytes!".to_vec())
                    .with_previous_key("i1", b"unit-test identity key, 32+ bytes".to_vec()),
            ),
            ..keys()
        };
        assert_ne!(
            rotated.identities.number(&phone()),
            keys().identities.number(&phone())
        );
        let after =
            VerificationService::new(before.store().clone(), clock, rotated, Policy::default());
        let approved = after
            .check_code(phone(), &received_code(&sender), &client())
            .await;
        assert!(approved.is_ok(), "{approved:?}");
    }
}
