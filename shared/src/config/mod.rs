//! Configuration from environment variables, checked once at start-up so a
//! deployment with a missing or bad value fails at init with a clear message
//! instead of on the first request. Empty values count as unset (SAM passes
//! empty strings for optional parameters).
//!
//! `settings` reads and checks single values; `common`, `send` and `verify`
//! build what both functions, the send function and the verify function need.

mod common;
mod send;
mod settings;
#[cfg(test)]
mod tests;
mod verify;

use std::collections::HashMap;

pub use settings::{TUNING_SETTINGS, with_settings};

use crate::adapters::DeliveryReports;
use crate::adapters::aws_sms::AwsSmsConfig;
use crate::adapters::human_proof::HumanProofConfig;
use crate::adapters::plivo::{PlivoConfig, SignatureValidator};
use crate::adapters::plivo_call::PlivoAnswers;
use crate::adapters::sns::SnsConfig;
use crate::adapters::twilio::{TwilioConfig, WebhookValidator};
use crate::domain::{IdentityHasher, Routes};
use crate::http::verify_v2::VerifySettings;
use crate::messages::{MessageTooLong, Messages};
use crate::proof::ProofSigner;
use crate::service::{Keys, Policy};

/// What both functions need.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// The code key, and the identity key of the pseudonyms of numbers and
    /// client addresses (the only form in which storage holds them).
    pub keys: Keys,
    pub policy: Policy,
    /// When set, requests must carry it (`X-Parse-Application-Id` or `_ApplicationId`).
    pub parse_application_id: Option<String>,
    /// When set, the functions also serve Twilio Verify's API.
    pub verify_api: Option<VerifySettings>,
}

/// What the operator CLI needs: the table, the limits it reports against,
/// and the identity key that finds a number's pseudonym. Not the code key:
/// whoever holds the operator's credentials cannot make a code that verifies.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    pub table_name: String,
    pub identities: IdentityHasher,
    pub policy: Policy,
}

/// The send function's configuration: the providers, their routes and the
/// message texts.
#[derive(Debug, Clone)]
pub struct SendConfig {
    pub common: Config,
    /// Twilio, when configured (every message goes through it by default).
    pub twilio: Option<TwilioConfig>,
    /// Which providers each message goes through (`DELIVERY_ROUTES`).
    pub routes: Routes,
    /// Plivo, when configured.
    pub plivo: Option<PlivoConfig>,
    /// AWS End User Messaging SMS and Voice, when configured.
    pub aws_sms: Option<AwsSmsConfig>,
    pub messages: Messages,
    /// Each other Verify service's messages (`VERIFY_SERVICES`), by SID.
    pub service_messages: HashMap<String, Messages>,
    /// Present when Twilio's delivery reports can be checked (an auth token
    /// is known): they go to `POST /twilio/status`.
    pub delivery_reports: Option<DeliveryReports<WebhookValidator>>,
    /// Present when Plivo is configured (its auth token signs its reports):
    /// they go to `POST /plivo/status`.
    pub plivo_reports: Option<DeliveryReports<SignatureValidator>>,
    /// Present when AWS End User Messaging's events come through SNS
    /// (`AWS_SMS_EVENTS_TOPIC_ARN`): they go to `POST /aws/events`.
    pub aws_events: Option<SnsConfig>,
    /// Present when Plivo is configured: its calls fetch their script from
    /// `POST /plivo/answer`.
    pub plivo_answers: Option<PlivoAnswers>,
    /// When set, a send with a valid proof of a human passes fraud
    /// protection's restrictions.
    pub human_proof: Option<HumanProofConfig>,
}

/// The verify function's configuration: the proof signing key.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub common: Config,
    /// When set, approvals carry a signed proof (JWT).
    pub proof: Option<ProofSigner>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing configuration: set the environment variable {0}")]
    Missing(&'static str),
    #[error("missing configuration: set {0} or {1}")]
    MissingOneOf(&'static str, &'static str),
    #[error("invalid configuration: {0}")]
    Messages(#[from] MessageTooLong),
    #[error("invalid configuration: {name} {problem}")]
    Invalid {
        name: &'static str,
        problem: &'static str,
    },
    #[error(
        "invalid configuration: SETTINGS holds {0}, which is not a tuning setting (see docs/configuration.md)"
    )]
    UnknownSetting(String),
}
