//! What the verification service needs from the outside world. Adapters in
//! `crate::adapters` implement these traits: DynamoDB, Twilio, the clock.

use std::future::Future;
use std::time::{Duration, Instant};

use secrecy::{CloneableSecret, SecretBox};
use zeroize::Zeroize;

use crate::domain::{
    Channel, CodeMac, LimitReached, Limits, PhoneNumber, Provider, Pseudonym, Restriction, Scope,
    Timestamp, TrafficSnapshot, VerificationId,
};

/// A freshly sent code, as storage keeps it: the number's pseudonym and the
/// code's MAC, never the number or the code.
#[derive(Debug, Clone)]
pub struct NewVerification {
    pub number: Pseudonym,
    pub id: VerificationId,
    pub code_mac: CodeMac,
    pub key_id: String,
    pub channel: Channel,
    /// The provider expected to send it (its route's first); corrected by
    /// `record_provider` when another one did.
    pub provider: Option<Provider>,
    /// The channel this send is the fallback of: a code pending on it,
    /// neither approved nor withdrawn, may be replaced once
    /// `fallback_after_seconds` have passed instead of the full cooldown.
    pub fallback_from: Option<Channel>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Who asks and where the message goes: the keys of the per-client and
/// per-country counters a send is admitted against.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    /// The pseudonym of the client: its network as API Gateway saw it, or
    /// a Verify API key and the end user's network (`DeviceIp`).
    pub client: &'a Pseudonym,
    /// The pseudonym of the Verify API key above a `DeviceIp` client: a
    /// ceiling that counts every request of the key.
    pub ceiling: Option<&'a Pseudonym>,
    /// The destination's ISO 3166 region ("US").
    pub country: &'a str,
    /// The destination's prefix (`+1415555`), whose sends fraud protection counts.
    pub prefix: &'a str,
}

/// Where a send goes, as fraud protection judges it: its range and
/// country, and the number (which passes restrictions once verified).
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub prefix: &'a str,
    /// ISO 3166 region ("US").
    pub country: &'a str,
    pub number: &'a Pseudonym,
}

/// A pending verification whose attempt counter was just incremented.
#[derive(Debug, Clone)]
pub struct CountedAttempt {
    /// The verification the attempt is on (pending).
    pub verification: CurrentVerification,
    pub code_mac: CodeMac,
    pub key_id: String,
    /// Attempts used, including this one.
    pub attempts: u32,
}

/// Why no attempt could be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptRefused {
    /// Nothing was sent to this number, the code was withdrawn, or its
    /// lifetime is over (whatever became of it).
    NoPendingVerification,
    /// Approved, and still within its lifetime.
    AlreadyApproved,
    AttemptsExhausted,
    /// Too many consecutive wrong codes for this number, across codes.
    Locked(LimitReached),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Storage could not be reached or refused the request; nothing changed
    /// as far as we know, so the client may retry.
    #[error("verification storage is unavailable: {0}")]
    Unavailable(String),
    /// Storage answered with an item this code cannot read.
    #[error("verification storage returned a malformed item: {0}")]
    Malformed(String),
}

/// Every write is one conditional DynamoDB request: there is no
/// read-modify-write, so concurrent requests cannot break a limit.
pub trait VerificationStore: Send + Sync {
    /// Replaces whatever verification the number had with this one, if
    /// every send limit admits it: the number's cooldown (or the fallback
    /// wait, for the fallback of a pending code), windows, calls and
    /// lockout, the client's allowance and the global and country budgets.
    /// All counters move together or not at all.
    fn save_new(
        &self,
        new: &NewVerification,
        requester: Requester<'_>,
        limits: &Limits,
    ) -> impl Future<Output = Result<Result<(), LimitReached>, StoreError>> + Send;

    /// Withdraws a code that could not be delivered (unless a newer one
    /// replaced it meanwhile, or it was already withdrawn) and lifts the
    /// number's cooldown, so the user can ask again at once. The send counts
    /// are never given back: they bound how many messages and calls one
    /// number can get, refunds or not. `true` when a code was withdrawn.
    fn withdraw(
        &self,
        number: &Pseudonym,
        id: &VerificationId,
        sent_at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that `provider`, not the expected one, sent verification
    /// `id` (after a failover), unless a newer code replaced it meanwhile.
    fn record_provider(
        &self,
        number: &Pseudonym,
        id: &VerificationId,
        provider: Provider,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts one request of `client` against its hourly allowance, and
    /// of `ceiling` (its API key) against the key's: both or neither.
    fn count_client_request(
        &self,
        client: &Pseudonym,
        ceiling: Option<&Pseudonym>,
        now: Timestamp,
        limits: &Limits,
    ) -> impl Future<Output = Result<Result<(), LimitReached>, StoreError>> + Send;

    /// Atomically counts one attempt against the pending code, before the
    /// code is compared (and one against the number's consecutive failures):
    /// refused when none is pending, it expired, `max_attempts` are used up
    /// or the number is locked.
    fn count_attempt(
        &self,
        number: &Pseudonym,
        now: Timestamp,
        max_attempts: u32,
        limits: &Limits,
    ) -> impl Future<Output = Result<Result<CountedAttempt, AttemptRefused>, StoreError>> + Send;

    /// Marks verification `id` approved if it is still pending and its code
    /// has not expired at `now`, and clears the number's consecutive failures.
    fn approve(
        &self,
        number: &Pseudonym,
        id: &VerificationId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Approval, StoreError>> + Send;

    /// The number's current verification, read consistently (`None`: no
    /// code was ever sent, or its item expired).
    fn current(
        &self,
        number: &Pseudonym,
    ) -> impl Future<Output = Result<Option<CurrentVerification>, StoreError>> + Send;

    /// This hour's (and the country's previous hour's) sends and approvals
    /// of the destination's prefix and country, their latest restrictions,
    /// and whether the number was verified before. A snapshot for fraud
    /// protection: read without locking, it may lag a little.
    fn traffic(
        &self,
        destination: Destination<'_>,
        now: Timestamp,
        limits: &Limits,
    ) -> impl Future<Output = Result<TrafficSnapshot, StoreError>> + Send;

    /// Counts an approval towards the conversion of the destination's prefix
    /// and country, and remembers the number as verified until `remembered_until`.
    fn count_approval(
        &self,
        destination: Destination<'_>,
        remembered_until: Timestamp,
        now: Timestamp,
        limits: &Limits,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a restriction of `scope` (it lifts itself at `until`).
    fn restrict(
        &self,
        scope: &Scope,
        restriction: Restriction,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What became of an approval.
/// Where a number's current code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStatus {
    Pending,
    Approved,
    /// Withdrawn: never delivered, or canceled.
    Withdrawn,
}

/// A number's current verification as the Verify API shows it (never its
/// code or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentVerification {
    pub id: VerificationId,
    pub channel: Channel,
    /// Who sent its code (unknown for a test number's, and for codes stored
    /// before providers were recorded): approvals count per provider.
    pub provider: Option<Provider>,
    pub status: VerificationStatus,
    pub created_at: Timestamp,
    /// When its code stops working.
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Approved,
    /// Another request approved this code first.
    AlreadyApproved,
    /// A newer code replaced it (or it was withdrawn) after it was counted.
    Replaced,
    /// Its code expired before the approval.
    Expired,
}

/// What a claim on an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its earlier request failed): go ahead.
    First,
    /// A request with this key succeeded: its answer, as stored.
    Replay(String),
    /// A request with this key is still running.
    InProgress,
}

/// How long a claimed key blocks a concurrent retry, and how long an answer
/// is replayed.
pub const IDEMPOTENCY_LEASE_SECONDS: u64 = 30;
pub const IDEMPOTENCY_ANSWER_SECONDS: u64 = 86_400;

/// Remembers the answers of sends made with an `Idempotency-Key`, so that a
/// retried request gets the first answer instead of a second SMS.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for one request (for a short lease), unless it is taken.
    fn claim(
        &self,
        key: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Stores the successful answer for replays (for a day).
    fn complete(
        &self,
        key: &str,
        answer: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives the key back after a failed request, so a retry runs again.
    fn release(
        &self,
        key: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A message carrying a code; its content is a secret (redacted in `Debug`).
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub to: PhoneNumber,
    pub channel: Channel,
    pub content: SecretBox<Content>,
    /// Which code this is, so a delivery report can withdraw it.
    pub verification_id: VerificationId,
    pub sent_at: Timestamp,
    /// Where each provider should report the delivery, if anywhere.
    pub status_callbacks: StatusCallbacks,
    /// The latest an attempt may end, when the caller waits only so long: a
    /// provider that may take longer is not tried (nothing is sent).
    pub answer_by: Option<Instant>,
}

impl OutgoingMessage {
    /// Whether an attempt that may take `attempt` still ends by `answer_by`:
    /// the one rule for the first provider and for each one after it.
    pub fn leaves_time_for(&self, attempt: Duration) -> bool {
        self.answer_by
            .is_none_or(|by| Instant::now() + attempt <= by)
    }
}

/// Each provider's URL for delivery reports (our `POST /<provider>/status`),
/// if it has one: every adapter takes its own. Plivo also fetches a call's
/// script from us (`POST /plivo/answer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCallbacks {
    pub twilio: Option<String>,
    pub plivo: Option<String>,
    pub plivo_answer: Option<String>,
    /// The Verify service the reports are about, unless it is the stack's
    /// own: the URLs say it in their query; AWS, which takes no URL, in the
    /// message's context.
    pub service: Option<String>,
}

impl StatusCallbacks {
    /// Each URL there is, changed by `change`.
    pub fn map(self, change: impl Fn(String) -> String) -> Self {
        Self {
            twilio: self.twilio.map(&change),
            plivo: self.plivo.map(&change),
            plivo_answer: self.plivo_answer.map(&change),
            service: self.service,
        }
    }
}

/// What the message says.
#[derive(Clone, PartialEq, Eq)]
pub enum Content {
    /// The text of an SMS or WhatsApp message.
    Text(String),
    /// The script of a voice call.
    Speech(Speech),
    /// A template the provider holds, whose one variable is the code: a
    /// WhatsApp authentication template (Twilio Content SID `HX…`).
    Template { sid: String, code: String },
}

/// A call reads `intro`, the digits, then `repeat` and the digits again.
#[derive(Clone, PartialEq, Eq)]
pub struct Speech {
    /// Language of the voice (`fr-FR`).
    pub language: String,
    /// Twilio voice name (`Polly.Lea`).
    pub voice: String,
    pub intro: String,
    /// The code with a pause after each digit: "1, 2, 3".
    pub digits: String,
    pub repeat: String,
}

// The content holds the code: wiped on drop, and cloned only on purpose.
impl Zeroize for Content {
    fn zeroize(&mut self) {
        match self {
            Content::Text(text) => text.zeroize(),
            Content::Speech(speech) => speech.digits.zeroize(),
            Content::Template { code, .. } => code.zeroize(),
        }
    }
}

impl CloneableSecret for Content {}

/// Why the provider refused a message to this recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientProblem {
    /// The provider says the number is not a valid phone number.
    InvalidNumber,
    /// The number cannot receive this channel (e.g. a landline for SMS).
    CannotReceive,
    /// The number is valid but cannot be reached (unroutable, blocked region).
    Unreachable,
    /// The recipient opted out (replied STOP).
    OptedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the provider refused the recipient: {0:?}")]
    Recipient(RecipientProblem),
    /// Credentials, sender or account are wrong: an operator must act.
    #[error("the message provider is misconfigured: {0}")]
    Misconfigured(String),
    /// Rate-limited, down or timed out: retrying later may work.
    #[error("the message provider is unavailable: {0}")]
    Unavailable(String),
}

/// What became of a message the provider may have taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// The provider accepted it.
    Accepted,
    /// The request went out but no answer came in time: the provider may
    /// well have sent it. Treated as sent, never as "nothing was sent".
    Unconfirmed,
}

/// Which provider took a message, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatched {
    pub provider: Provider,
    pub handover: Handover,
}

/// The service's way out: each message goes through one provider of its
/// route (`crate::adapters::routed`), each provider a `MessageSender`.
pub trait Dispatcher: Send + Sync {
    /// Sends `message`. An error means it was certainly not sent.
    fn dispatch(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<Dispatched, DeliveryError>> + Send;

    /// The longest one attempt can take.
    fn max_duration(&self) -> Duration;

    /// The provider a message to `country` on `channel` goes to while its
    /// route's first provider is healthy.
    fn first_choice(&self, country: &str, channel: Channel) -> Option<Provider>;
}

pub trait MessageSender: Send + Sync {
    /// Hands `message` to the provider. An error means it was certainly not sent.
    fn send(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<Handover, DeliveryError>> + Send;

    /// The longest `send` can take (its timeout).
    fn max_duration(&self) -> Duration;
}

/// What a send showed of its provider's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderOutcome {
    /// It answered: accepted, or refused this recipient.
    Answered,
    /// It certainly did not take the message (down, throttled, refused us),
    /// or took too long to say (maybe sent): either way, unhealthy.
    Failed,
}

/// Each provider's circuit breaker, shared by every execution environment
/// (`crate::domain::BreakerPolicy`). A health store that cannot be reached
/// admits every provider: the breaker only ever saves time.
pub trait ProviderHealth: Send + Sync {
    /// Whether to try `provider` now: its breaker is closed, or it is half
    /// open and this call won the one probe.
    fn admits(&self, provider: Provider, now: Timestamp) -> impl Future<Output = bool> + Send;

    /// Records what a send that `admits` let through showed.
    fn record(
        &self,
        provider: Provider,
        outcome: ProviderOutcome,
        now: Timestamp,
    ) -> impl Future<Output = ()> + Send;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_shows_its_recipient_and_channel_never_its_content() {
        let message = OutgoingMessage {
            answer_by: None,
            to: PhoneNumber::parse("+14155550123", None).unwrap(),
            channel: Channel::Sms,
            content: SecretBox::new(Box::new(Content::Text("Your code is 987654.".into()))),
            verification_id: VerificationId::random(),
            sent_at: Timestamp::from_unix_seconds(0),
            status_callbacks: StatusCallbacks::default(),
        };
        let debug = format!("{message:?}");
        assert!(
            debug.contains("Sms") && debug.contains("[REDACTED]"),
            "{debug}"
        );
        assert!(!debug.contains("987654"), "{debug}");
    }

    #[test]
    fn zeroizing_a_template_wipes_its_code() {
        let mut content = Content::Template {
            sid: "HX0123456789abcdef0123456789abcdef".into(),
            code: "987654".into(),
        };
        content.zeroize();
        assert!(matches!(content, Content::Template { code, .. } if code.is_empty()));
    }
}
