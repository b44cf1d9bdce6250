//! Sends codes through AWS End User Messaging SMS and Voice (the
//! `pinpoint-sms-voice-v2` API, awsJson 1.0 signed for `sms-voice`): SMS
//! with `SendTextMessage`, calls with `SendVoiceMessage` reading an SSML
//! script. Neither call takes an idempotency token, so the client never
//! retries: a retry after a lost answer could deliver a second code.
//!
//! [`classify`] sorts every failure into "certainly not sent" (an error,
//! which another provider may take over) and "maybe sent"
//! ([`Handover::Unconfirmed`], never taken over: a second code is worse
//! than a slow one).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_pinpointsmsvoicev2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_pinpointsmsvoicev2::config::retry::RetryConfig;
use aws_sdk_pinpointsmsvoicev2::config::timeout::TimeoutConfig;
use aws_sdk_pinpointsmsvoicev2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_pinpointsmsvoicev2::error::{
    BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError,
};
use aws_sdk_pinpointsmsvoicev2::types::{
    ConflictExceptionReason as Conflict, EventType, MessageType,
    ServiceQuotaExceededExceptionReason as Quota, ValidationExceptionReason as Invalid, VoiceId,
    VoiceMessageBodyTextType,
};
use aws_sdk_pinpointsmsvoicev2::{Client, Error};
use secrecy::ExposeSecret;

use serde::Deserialize;

use super::https;
use super::provider::{self, xml_escape};
use crate::domain::{Channel, PhoneNumber, Timestamp, VerificationId};
use crate::ports::{
    Content, DeliveryError, Handover, MessageSender, OutgoingMessage, RecipientProblem, Speech,
};

#[derive(Debug, Clone)]
pub struct AwsSmsConfig {
    /// Who the message comes from: a phone number, sender id or pool (id or
    /// ARN; a shared resource needs its ARN). Calls need a phone number or a
    /// pool with voice capability.
    pub origination_identity: String,
    /// Where delivery events go (name or ARN), if anywhere.
    pub configuration_set: Option<String>,
    pub protect_configuration_id: Option<String>,
    /// The Polly voice (`MATTHEW`, `Polly.Joanna`) of calls when neither the
    /// speech's voice nor its language match one the service has; `None`:
    /// the service's default (`MATTHEW`).
    pub voice_id: Option<String>,
    /// How long AWS may keep trying to deliver (the code's lifetime),
    /// within the API's 5 s to 72 h; `None`: AWS's default, 72 hours.
    pub time_to_live: Option<Duration>,
    /// The longest one send may take: AWS's answer, or `Unconfirmed`.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct AwsSmsSender {
    client: Client,
    config: AwsSmsConfig,
    voice_id: Option<VoiceId>,
    time_to_live: Option<i32>,
}

/// The bounds of `TimeToLive`, in seconds.
const TIME_TO_LIVE: std::ops::RangeInclusive<u64> = 5..=259_200;

impl AwsSmsSender {
    /// A client on `sdk_config`'s region, credentials and HTTP client (the
    /// shared `reqwest` pool), without retries and with `config.timeout`
    /// for the whole call. No I/O: credentials are resolved at the first send.
    pub fn new(sdk_config: &aws_config::SdkConfig, config: AwsSmsConfig) -> Self {
        let client_config = aws_sdk_pinpointsmsvoicev2::config::Builder::from(sdk_config)
            // Sends are not idempotent: one attempt, whatever the SDK
            // thinks is retryable (throttling, 5xx, timeouts).
            .retry_config(RetryConfig::disabled())
            // Both set: an unset one would be taken from `sdk_config`.
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(config.timeout)
                    .operation_attempt_timeout(config.timeout)
                    .build(),
            )
            .build();
        let voice_id = config.voice_id.as_deref().map(voice_named);
        let time_to_live = config.time_to_live.map(|ttl| {
            let seconds = ttl
                .as_secs()
                .clamp(*TIME_TO_LIVE.start(), *TIME_TO_LIVE.end());
            i32::try_from(seconds).expect("259200 fits an i32")
        });
        Self {
            client: Client::from_conf(client_config),
            config,
            voice_id,
            time_to_live,
        }
    }
}

impl MessageSender for AwsSmsSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<Handover, DeliveryError> {
        let handoff = Handoff::default();
        let started = Instant::now();
        let sent = match (message.content.expose_secret(), message.channel) {
            (Content::Text(text), Channel::Sms) => self.text(message, text, handoff.clone()).await,
            (Content::Speech(speech), Channel::Call) => {
                self.voice(message, speech, handoff.clone()).await
            }
            (_, Channel::Whatsapp) => {
                return Err(DeliveryError::Misconfigured(
                    "aws end user messaging sends sms and voice only".into(),
                ));
            }
            _ => {
                return Err(DeliveryError::Misconfigured(format!(
                    "no way to send this content by {}",
                    message.channel.as_str()
                )));
            }
        };
        let latency_ms = started.elapsed().as_millis();
        crate::metrics::milliseconds(
            "ProviderLatency",
            u64::try_from(latency_ms).unwrap_or(u64::MAX),
            &[("Provider", "aws"), ("Channel", message.channel.as_str())],
        );
        let error = match sent {
            Ok(message_id) => {
                tracing::info!(to = %message.to, message_id = message_id.as_deref(), latency_ms, "aws end user messaging accepted the message");
                return Ok(Handover::Accepted);
            }
            Err(error) => error,
        };
        // Never AWS's message text: it can quote the number.
        let outcome = classify(&error, handoff.happened());
        let error = describe(&error);
        match &outcome {
            Ok(_) => {
                tracing::warn!(to = %message.to, error, latency_ms, "aws end user messaging gave no clear answer: the message may have been sent")
            }
            Err(_) => {
                tracing::warn!(to = %message.to, error, latency_ms, "aws end user messaging refused the message")
            }
        }
        outcome
    }

    fn max_duration(&self) -> Duration {
        self.config.timeout
    }
}

/// The request fields of both operations, which share their names but not
/// their builder types.
macro_rules! common_fields {
    ($builder:expr, $sender:expr, $message:expr, $handoff:expr) => {
        $builder
            .destination_phone_number($message.to.as_e164())
            .origination_identity(&$sender.config.origination_identity)
            .set_configuration_set_name($sender.config.configuration_set.clone())
            .set_protect_configuration_id($sender.config.protect_configuration_id.clone())
            .set_time_to_live($sender.time_to_live)
            .set_context(Some(context($message)))
            .customize()
            .interceptor($handoff)
            .send()
            .await
            .map(|output| output.message_id)
            .map_err(|error| Box::new(error.map_service_error(Error::from)))
    };
}

impl AwsSmsSender {
    async fn text(
        &self,
        message: &OutgoingMessage,
        text: &str,
        handoff: Handoff,
    ) -> Result<Option<String>, Box<SdkError<Error>>> {
        let request = self
            .client
            .send_text_message()
            .message_body(text)
            .message_type(MessageType::Transactional);
        common_fields!(request, self, message, handoff)
    }

    async fn voice(
        &self,
        message: &OutgoingMessage,
        speech: &Speech,
        handoff: Handoff,
    ) -> Result<Option<String>, Box<SdkError<Error>>> {
        let request = self
            .client
            .send_voice_message()
            .message_body(ssml(speech))
            .message_body_text_type(VoiceMessageBodyTextType::Ssml)
            .set_voice_id(voice_for(speech).or_else(|| self.voice_id.clone()));
        common_fields!(request, self, message, handoff)
    }
}

/// Which code this is, and of which Verify service unless the stack's own,
/// echoed in AWS's delivery events (the code itself never goes there).
fn context(message: &OutgoingMessage) -> HashMap<String, String> {
    let service = message.status_callbacks.service.clone();
    [
        (
            "verification",
            Some(message.verification_id.as_str().to_owned()),
        ),
        ("sent_at", Some(message.sent_at.unix_seconds().to_string())),
        ("service", service),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), value?)))
    .collect()
}

/// The call's script, as for Twilio: the intro, the digits slowly (their
/// commas make the pauses), then both again.
fn ssml(speech: &Speech) -> String {
    let digits = format!(
        r#"<prosody rate="slow">{}</prosody>"#,
        xml_escape(&speech.digits)
    );
    format!(
        r#"<speak>{}<break time="500ms"/>{digits}<break time="1s"/>{}<break time="500ms"/>{digits}</speak>"#,
        xml_escape(&speech.intro),
        xml_escape(&speech.repeat),
    )
}

/// The speech's voice if the service has it (`Polly.Lea` is `LEA`), else
/// one for its language, else `None`.
fn voice_for(speech: &Speech) -> Option<VoiceId> {
    let name = speech.voice.strip_prefix("Polly.").unwrap_or(&speech.voice);
    let name = name.to_ascii_uppercase();
    if VoiceId::values().contains(&name.as_str()) {
        return Some(VoiceId::from(name.as_str()));
    }
    let voice = match speech.language.as_str() {
        "en-US" => VoiceId::Joanna,
        "en-GB" => VoiceId::Amy,
        "en-AU" => VoiceId::Nicole,
        "en-IN" => VoiceId::Raveena,
        "es-ES" => VoiceId::Lucia,
        "es-US" | "es-MX" => VoiceId::Lupe,
        "fr-FR" => VoiceId::Lea,
        "fr-CA" => VoiceId::Chantal,
        "de-DE" => VoiceId::Vicki,
        "pt-BR" => VoiceId::Camila,
        "pt-PT" => VoiceId::Ines,
        "it-IT" => VoiceId::Bianca,
        "nl-NL" => VoiceId::Lotte,
        "ja-JP" => VoiceId::Mizuki,
        "cmn-CN" => VoiceId::Zhiyu,
        "arb" => VoiceId::Zeina,
        "ru-RU" => VoiceId::Tatyana,
        "ko-KR" => VoiceId::Seoyeon,
        "pl-PL" => VoiceId::Ewa,
        "tr-TR" => VoiceId::Filiz,
        _ => return None,
    };
    Some(voice)
}

/// A voice by its Polly name, with or without `Polly.`, in any case.
fn voice_named(name: &str) -> VoiceId {
    let name = name.strip_prefix("Polly.").unwrap_or(name);
    VoiceId::from(name.to_ascii_uppercase().as_str())
}

/// Whether the request was handed to the HTTP client. Until then (the
/// endpoint, credentials and signature being resolved) nothing can have
/// left this process, whatever the error.
#[derive(Debug, Clone, Default)]
struct Handoff(Arc<AtomicBool>);

impl Handoff {
    fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for Handoff {
    fn name(&self) -> &'static str {
        "Handoff"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// What a failed call means. An error only when the message was certainly
/// not sent, so that another provider may take over:
///
/// - AWS answered with an error: see [`refusal`].
/// - Not handed to the HTTP client (construction, endpoint, credentials,
///   signing; or the timeout struck meanwhile): nothing was sent.
/// - The HTTP client could not connect (DNS, TCP, TLS: `reqwest` says
///   `is_connect`, see [`https::never_connected`]): nothing was written.
///   Any other connector error (`is_io` without that mark, `is_timeout`,
///   `is_other`) may come after the request was written: maybe sent.
/// - A timeout after the hand-off, or an answer we cannot read: maybe sent.
fn classify(error: &SdkError<Error>, handed_off: bool) -> Result<Handover, DeliveryError> {
    let described = || describe(error);
    match error {
        SdkError::ServiceError(service) => {
            refusal(service.err(), service.raw().status().as_u16(), described)
        }
        SdkError::ConstructionFailure(_) => Err(DeliveryError::Misconfigured(described())),
        SdkError::TimeoutError(_) if !handed_off => Err(DeliveryError::Unavailable(described())),
        // The endpoint (no region?), credentials or signature.
        SdkError::DispatchFailure(_) if !handed_off => {
            Err(DeliveryError::Misconfigured(described()))
        }
        // The request could not be put on the wire.
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            Err(DeliveryError::Misconfigured(described()))
        }
        SdkError::DispatchFailure(failure)
            if failure
                .as_connector_error()
                .is_some_and(https::never_connected) =>
        {
            Err(DeliveryError::Unavailable(described()))
        }
        _ => Ok(Handover::Unconfirmed),
    }
}

/// What AWS's error answer means. Only our account, permissions and
/// resources are the operator's problem (`Misconfigured`: a 500 and an
/// alarm); a refusal that depends on the destination is the recipient's,
/// so no client can page the operator by choosing a number or country.
/// Errors: <https://docs.aws.amazon.com/pinpoint/latest/apireference_smsvoicev2/API_SendTextMessage.html>.
fn refusal(
    error: &Error,
    status: u16,
    described: impl Fn() -> String,
) -> Result<Handover, DeliveryError> {
    use DeliveryError::{Misconfigured, Recipient, Unavailable};
    use RecipientProblem::{InvalidNumber, OptedOut, Unreachable};
    match error {
        // Refused before anything was done: later may work.
        Error::ThrottlingException(_) => Err(Unavailable(described())),
        // "Couldn't complete the request": perhaps after queueing it.
        Error::InternalServerException(_) => Ok(Handover::Unconfirmed),
        Error::ConflictException(conflict) => match conflict.reason() {
            // Checked before sending; no other provider may send either.
            Some(Conflict::DestinationPhoneNumberOptedOut) => Err(Recipient(OptedOut)),
            // Our own protect configuration blocks the destination (another
            // provider must not get round it), or the pool has no number
            // for the destination's country.
            Some(
                Conflict::DestinationPhoneNumberBlockedByProtectNumberOverride
                | Conflict::DestinationCountryBlockedByProtectConfiguration
                | Conflict::NoOriginationIdentitiesFound,
            ) => Err(Recipient(Unreachable)),
            // Sandbox (unverified destination), message type or capability
            // mismatch, inactive resource.
            _ => Err(Misconfigured(described())),
        },
        Error::ValidationException(invalid)
            if invalid.fields().iter().any(|field| {
                field
                    .name()
                    .to_ascii_lowercase()
                    .contains("destinationphonenumber")
            }) =>
        {
            Err(Recipient(InvalidNumber))
        }
        Error::ValidationException(invalid) => match invalid.reason() {
            // The destination's country is blocked or out of our reach.
            Some(
                Invalid::DestinationCountryBlocked
                | Invalid::CountryNotEnabled
                | Invalid::InvalidIdentityForDestinationCountry
                | Invalid::InternationalSendingNotSupported,
            ) => Err(Recipient(Unreachable)),
            // Sender id registration, ARNs, channel, size, price...
            _ => Err(Misconfigured(described())),
        },
        Error::ServiceQuotaExceededException(quota) => match quota.reason() {
            // This number got too many calls today.
            Some(Quota::DailyDestinationCallLimit) => Err(Recipient(Unreachable)),
            // Spend limits: an operator must raise them.
            _ => Err(Misconfigured(described())),
        },
        // Permissions, account disabled; unknown identity or set.
        Error::AccessDeniedException(_) | Error::ResourceNotFoundException(_) => {
            Err(Misconfigured(described()))
        }
        // Not in the model: the signature and credentials (4xx), the front
        // door (429 throttles, 5xx may follow a send).
        _ => match status {
            429 => Err(Unavailable(described())),
            500..=599 => Ok(Handover::Unconfirmed),
            _ => Err(Misconfigured(described())),
        },
    }
}

/// Names the failure for logs and errors: AWS's error code and reason,
/// never its message (which can quote the number).
fn describe(error: &SdkError<Error>) -> String {
    match error {
        SdkError::ServiceError(service) => {
            let error = service.err();
            let code = error.code().unwrap_or("an unknown error");
            let status = service.raw().status().as_u16();
            match reason(error) {
                Some(reason) => format!("HTTP {status}, {code} ({reason})"),
                None => format!("HTTP {status}, {code}"),
            }
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "timed out".into(),
        SdkError::DispatchFailure(failure) if failure.is_io() => "connection failed".into(),
        SdkError::ResponseError(_) => "an answer that could not be read".into(),
        // Construction, endpoint, credentials: their text names a setting.
        _ => DisplayErrorContext(error).to_string(),
    }
}

fn reason(error: &Error) -> Option<&str> {
    match error {
        Error::ValidationException(e) => e.reason().map(|r| r.as_str()),
        Error::ConflictException(e) => e.reason().map(|r| r.as_str()),
        Error::ServiceQuotaExceededException(e) => e.reason().map(|r| r.as_str()),
        Error::AccessDeniedException(e) => e.reason().map(|r| r.as_str()),
        _ => None,
    }
}

/// A delivery event of AWS End User Messaging, the `Message` of an SNS
/// notification from the configuration set's event destination:
/// <https://docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-format.html>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEvent {
    /// The number, and the code from the `context` we sent, of a message or
    /// call that never reached the user; none for other events (they need
    /// not be ours, nor carry them).
    pub code: Option<(PhoneNumber, VerificationId, Timestamp)>,
    /// The Verify service of the code, unless it is the stack's own.
    pub service: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventFields {
    event_type: String,
    destination_phone_number: Option<String>,
    #[serde(default)]
    context: HashMap<String, String>,
}

impl AwsEvent {
    pub fn parse(message: &str) -> Result<Self, MalformedEvent> {
        let fields: EventFields = serde_json::from_str(message).map_err(|_| MalformedEvent)?;
        let service = fields.context.get("service").cloned();
        let code = || {
            let context: Vec<(String, String)> = fields.context.into_iter().collect();
            let (verification, sent_at) = provider::reported_code(&context)?;
            let to = PhoneNumber::parse(fields.destination_phone_number.as_deref()?, None).ok()?;
            Some((to, verification, sent_at))
        };
        Ok(Self {
            code: match undelivered(&fields.event_type) {
                true => Some(code().ok_or(MalformedEvent)?),
                false => None,
            },
            service,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the AWS End User Messaging event is malformed")]
pub struct MalformedEvent;

/// Whether an event type says the code never reached the user. Not a call
/// that was busy or not answered, nor one whose time to live ran out (it
/// may have rung meanwhile): giving a call's limits back would let anyone
/// ring a number again and again, as for Twilio's `busy` and `no-answer`.
/// Not `TEXT_UNKNOWN` either (no final word from the carrier: it may have
/// arrived), nor the in-flight and delivered types.
fn undelivered(event_type: &str) -> bool {
    use EventType::*;
    matches!(
        EventType::from(event_type),
        TextBlocked
            | TextCarrierBlocked
            | TextCarrierUnreachable
            | TextInvalid
            | TextInvalidMessage
            | TextProtectBlocked
            | TextSpam
            | TextTtlExpired
            | TextUnreachable
            | VoiceFailed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_pinpointsmsvoicev2::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_pinpointsmsvoicev2::operation::send_text_message::SendTextMessageError;
    use aws_sdk_pinpointsmsvoicev2::types::error::{
        AccessDeniedException, ConflictException, InternalServerException,
        ResourceNotFoundException, ServiceQuotaExceededException, ThrottlingException,
        ValidationException,
    };
    use aws_sdk_pinpointsmsvoicev2::types::{
        AccessDeniedExceptionReason, ValidationExceptionField,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn answer(status: u16, error: impl Into<Error>) -> SdkError<Error> {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(error.into(), raw)
    }

    fn unmodeled(status: u16, code: &str) -> SdkError<Error> {
        let meta = ErrorMetadata::builder().code(code).build();
        answer(status, SendTextMessageError::generic(meta))
    }

    fn invalid(reason: Invalid) -> Error {
        Error::ValidationException(ValidationException::builder().reason(reason).build())
    }

    fn conflict(reason: Conflict) -> Error {
        Error::ConflictException(ConflictException::builder().reason(reason).build())
    }

    fn quota(reason: Quota) -> Error {
        Error::ServiceQuotaExceededException(
            ServiceQuotaExceededException::builder()
                .reason(reason)
                .build(),
        )
    }

    const MISCONFIGURED: &str = "Misconfigured";
    const UNAVAILABLE: &str = "Unavailable";

    /// The outcome, with a refusal's text left out.
    fn kind(outcome: &Result<Handover, DeliveryError>) -> String {
        match outcome {
            Ok(handover) => format!("{handover:?}"),
            Err(DeliveryError::Recipient(problem)) => format!("{problem:?}"),
            Err(DeliveryError::Misconfigured(_)) => MISCONFIGURED.into(),
            Err(DeliveryError::Unavailable(_)) => UNAVAILABLE.into(),
        }
    }

    #[test]
    fn classification_table() {
        let destination_field = ValidationExceptionField::builder()
            .name("DestinationPhoneNumber")
            .message("not a phone number")
            .build()
            .unwrap();
        let io = || ConnectorError::io("connection reset by peer".into());
        #[rustfmt::skip]
        let table: Vec<(&str, SdkError<Error>, bool, &str)> = vec![
            // AWS's answers: handed off, of course.
            ("throttled", answer(400, Error::ThrottlingException(ThrottlingException::builder().build())), true, UNAVAILABLE),
            ("internal error", answer(500, Error::InternalServerException(InternalServerException::builder().build())), true, "Unconfirmed"),
            ("opted out", answer(400, conflict(Conflict::DestinationPhoneNumberOptedOut)), true, "OptedOut"),
            ("protect override", answer(400, conflict(Conflict::DestinationPhoneNumberBlockedByProtectNumberOverride)), true, "Unreachable"),
            ("protect country", answer(400, conflict(Conflict::DestinationCountryBlockedByProtectConfiguration)), true, "Unreachable"),
            ("no identity for country", answer(400, conflict(Conflict::NoOriginationIdentitiesFound)), true, "Unreachable"),
            ("sandbox", answer(400, conflict(Conflict::DestinationPhoneNumberNotVerified)), true, MISCONFIGURED),
            ("type mismatch", answer(400, conflict(Conflict::MessageTypeMismatch)), true, MISCONFIGURED),
            ("country blocked", answer(400, invalid(Invalid::DestinationCountryBlocked)), true, "Unreachable"),
            ("country not enabled", answer(400, invalid(Invalid::CountryNotEnabled)), true, "Unreachable"),
            ("identity for country", answer(400, invalid(Invalid::InvalidIdentityForDestinationCountry)), true, "Unreachable"),
            ("bad destination", answer(400, Error::ValidationException(ValidationException::builder().reason(Invalid::InvalidParameter).fields(destination_field).build())), true, "InvalidNumber"),
            ("invalid parameter", answer(400, invalid(Invalid::InvalidParameter)), true, MISCONFIGURED),
            ("sender id", answer(400, invalid(Invalid::SenderIdNotRegistered)), true, MISCONFIGURED),
            ("invalid arn", answer(400, invalid(Invalid::InvalidArn)), true, MISCONFIGURED),
            ("no reason", answer(400, Error::ValidationException(ValidationException::builder().build())), true, MISCONFIGURED),
            ("spend limit", answer(400, quota(Quota::MonthlySpendLimitReachedForText)), true, MISCONFIGURED),
            ("daily calls", answer(400, quota(Quota::DailyDestinationCallLimit)), true, "Unreachable"),
            ("access denied", answer(400, Error::AccessDeniedException(AccessDeniedException::builder().build())), true, MISCONFIGURED),
            ("account disabled", answer(400, Error::AccessDeniedException(AccessDeniedException::builder().reason(AccessDeniedExceptionReason::AccountDisabled).build())), true, MISCONFIGURED),
            ("not found", answer(400, Error::ResourceNotFoundException(ResourceNotFoundException::builder().build())), true, MISCONFIGURED),
            ("bad signature", unmodeled(403, "InvalidSignatureException"), true, MISCONFIGURED),
            ("unknown credentials", unmodeled(400, "UnrecognizedClientException"), true, MISCONFIGURED),
            ("front door throttles", unmodeled(429, "TooManyRequestsException"), true, UNAVAILABLE),
            ("front door fails", unmodeled(503, "ServiceUnavailable"), true, "Unconfirmed"),
            // Never handed off.
            ("not built", SdkError::construction_failure("missing DestinationPhoneNumber"), false, MISCONFIGURED),
            ("no credentials", SdkError::dispatch_failure(ConnectorError::other("no credentials".into(), None)), false, MISCONFIGURED),
            ("timed out resolving credentials", SdkError::timeout_error("operation timeout"), false, UNAVAILABLE),
            ("not encodable", SdkError::dispatch_failure(ConnectorError::user("a streaming body".into())), true, MISCONFIGURED),
            // Handed off: maybe written.
            ("timed out", SdkError::timeout_error("operation timeout"), true, "Unconfirmed"),
            ("connector timed out", SdkError::dispatch_failure(ConnectorError::timeout("read timeout".into())), true, "Unconfirmed"),
            ("connection lost", SdkError::dispatch_failure(io()), true, "Unconfirmed"),
            ("other transport error", SdkError::dispatch_failure(ConnectorError::other("h2".into(), None)), true, "Unconfirmed"),
            ("unreadable answer", SdkError::response_error("bad json", HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::empty())), true, "Unconfirmed"),
        ];
        for (case, error, handed_off, expected) in table {
            assert_eq!(kind(&classify(&error, handed_off)), expected, "{case}");
        }
    }

    #[test]
    fn descriptions_name_the_code_and_reason_never_the_message() {
        let error = answer(
            400,
            Error::ValidationException(
                ValidationException::builder()
                    .message("+14155550123 is blocked")
                    .reason(Invalid::DestinationCountryBlocked)
                    .meta(
                        ErrorMetadata::builder()
                            .code("ValidationException")
                            .message("+14155550123 is blocked")
                            .build(),
                    )
                    .build(),
            ),
        );
        let described = describe(&error);
        assert_eq!(
            described,
            "HTTP 400, ValidationException (DESTINATION_COUNTRY_BLOCKED)"
        );
    }

    fn speech(language: &str, voice: &str) -> Speech {
        Speech {
            language: language.into(),
            voice: voice.into(),
            intro: "Your code is <b> & \"more\"".into(),
            digits: "1, 2, 3".into(),
            repeat: "Once again".into(),
        }
    }

    #[test]
    fn the_script_reads_the_digits_twice_and_escapes_the_text() {
        assert_eq!(
            ssml(&speech("en-US", "Polly.Joanna")),
            "<speak>Your code is &lt;b&gt; &amp; &quot;more&quot;<break time=\"500ms\"/>\
             <prosody rate=\"slow\">1, 2, 3</prosody><break time=\"1s\"/>Once again\
             <break time=\"500ms\"/><prosody rate=\"slow\">1, 2, 3</prosody></speak>"
        );
    }

    #[test]
    fn twilio_voice_names_map_to_the_services_voices() {
        assert_eq!(voice_for(&speech("fr-FR", "Polly.Lea")), Some(VoiceId::Lea));
        assert_eq!(voice_for(&speech("en-US", "Joanna")), Some(VoiceId::Joanna));
        // A voice the service lacks: one for the language, else none.
        assert_eq!(
            voice_for(&speech("en-GB", "Polly.Nobody")),
            Some(VoiceId::Amy)
        );
        assert_eq!(voice_for(&speech("hi-IN", "Polly.Aditi")), None);
        assert_eq!(voice_named("Polly.Matthew"), VoiceId::Matthew);
        assert_eq!(voice_named("brian"), VoiceId::Brian);
    }

    fn sdk_config() -> aws_config::SdkConfig {
        // As the functions' (shorter per-attempt timeout), to be overridden.
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .http_client(https::aws_http_client(Duration::from_millis(500)).unwrap())
            .retry_config(RetryConfig::standard())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(900))
                    .operation_timeout(Duration::from_secs(2))
                    .build(),
            )
            .build()
    }

    fn config(timeout: Duration) -> AwsSmsConfig {
        AwsSmsConfig {
            origination_identity: "pool-0123456789abcdef".into(),
            configuration_set: None,
            protect_configuration_id: None,
            voice_id: Some("Polly.Matthew".into()),
            time_to_live: Some(Duration::from_secs(1)),
            timeout,
        }
    }

    #[test]
    fn the_client_never_retries_and_one_timeout_bounds_the_call() {
        let sender = AwsSmsSender::new(&sdk_config(), config(Duration::from_secs(4)));
        let client = sender.client.config();
        assert_eq!(client.retry_config().unwrap().max_attempts(), 1);
        let timeouts = client.timeout_config().unwrap();
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(4)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(4))
        );
        assert_eq!(sender.max_duration(), Duration::from_secs(4));
        // Within the API's bounds.
        assert_eq!(sender.time_to_live, Some(5));
        assert_eq!(sender.voice_id, Some(VoiceId::Matthew));
    }

    fn event_json(event_type: &str, context: serde_json::Value) -> String {
        serde_json::json!({
            "eventType": event_type, "eventVersion": "1.0", "isFinal": true,
            "destinationPhoneNumber": "+14155550123",
            "messageId": "862a8790-60c0-4430-9b2b-658bdexample", "context": context,
        })
        .to_string()
    }

    #[test]
    fn an_undelivered_event_names_its_code_from_the_context() {
        let context = serde_json::json!({
            "verification": "0123456789abcdef0123456789abcdef", "sent_at": "1800000000",
        });
        let event = AwsEvent::parse(&event_json("TEXT_BLOCKED", context.clone())).unwrap();
        let (to, verification, sent_at) = event.code.expect("undelivered: the code");
        assert_eq!(to.as_e164(), "+14155550123");
        assert_eq!(verification.as_str(), "0123456789abcdef0123456789abcdef");
        assert_eq!(sent_at, Timestamp::from_unix_seconds(1_800_000_000));
        for kept in [
            "TEXT_DELIVERED",
            "TEXT_SUCCESSFUL",
            "TEXT_QUEUED",
            "TEXT_UNKNOWN",
            "VOICE_BUSY",
            "VOICE_NO_ANSWER",
            "VOICE_COMPLETED",
            "NEW_TYPE",
        ] {
            let event = AwsEvent::parse(&event_json(kept, context.clone())).unwrap();
            assert_eq!(
                event,
                AwsEvent {
                    code: None,
                    service: None,
                },
                "{kept}"
            );
        }
        assert!(
            AwsEvent::parse(&event_json("VOICE_FAILED", context))
                .unwrap()
                .code
                .is_some()
        );
    }

    #[test]
    fn an_undelivered_event_without_our_context_is_malformed_a_delivered_one_is_not() {
        let theirs = serde_json::json!({ "account": "bar" });
        assert_eq!(
            AwsEvent::parse(&event_json("TEXT_SPAM", theirs.clone())),
            Err(MalformedEvent)
        );
        assert!(AwsEvent::parse(&event_json("TEXT_DELIVERED", theirs)).is_ok());
        assert_eq!(AwsEvent::parse("not json"), Err(MalformedEvent));
    }
}
