//! Sends codes through Plivo with plain `reqwest` (one JSON POST a message
//! or call, basic auth with the Auth ID and token), and reads Plivo's
//! delivery reports and calls' hangup reports: their V3 signature and what
//! they say. SMS go through the Message API; calls through the Call API,
//! whose `answer_url` carries the call's script sealed (`plivo_call`).
//!
//! Another provider may be tried only when Plivo certainly did not take a
//! message, so each outcome is told apart (`classify`, the same for
//! messages and calls): not connected, 429 and 5xx are `Unavailable`; our
//! credentials, account or sender are `Misconfigured`; a refused recipient
//! is `Recipient`; a request sent but not answered is
//! `Handover::Unconfirmed`, never an error.
//!
//! Not in this slice: WhatsApp.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::plivo_call::CallScripts;
use super::provider;
use crate::domain::{Channel, PhoneNumber, Timestamp, VerificationId};
use crate::ports::{
    Content, DeliveryError, Handover, MessageSender, OutgoingMessage, RecipientProblem,
};

/// The headers of Plivo's V3 signature of a request to us.
pub const SIGNATURE_HEADER: &str = "x-plivo-signature-v3";
pub const NONCE_HEADER: &str = "x-plivo-signature-v3-nonce";

/// Who the message comes from, as Plivo's request names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlivoSenderId {
    /// A Plivo number with its country code (`14155550100`), a short code
    /// or an alphanumeric sender id.
    Src(String),
    /// A Powerpack, which picks the number itself.
    PowerpackUuid(String),
}

#[derive(Debug, Clone)]
pub struct PlivoConfig {
    /// `https://api.plivo.com`, or a fake's address in tests and local runs.
    pub api_base: String,
    pub auth_id: String,
    pub auth_token: SecretString,
    pub sender: PlivoSenderId,
    /// The caller id of calls: a Plivo number with its country code
    /// (`14155550100`). Without one, calls are refused as misconfigured.
    pub voice_from: Option<String>,
    /// Seals each call's script into its answer URL.
    pub scripts: CallScripts,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct PlivoSender {
    http: reqwest::Client,
    messages_url: String,
    calls_url: String,
    config: PlivoConfig,
}

/// What Plivo is asked for.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum PlivoRequest<'a> {
    Message(MessageRequest<'a>),
    Call(CallRequest<'a>),
}

/// The body of `POST /v1/Account/{auth_id}/Message/`.
#[derive(Debug, Serialize)]
struct MessageRequest<'a> {
    #[serde(flatten)]
    sender: &'a PlivoSenderId,
    /// The number with its country code, without `+`.
    dst: &'a str,
    text: &'a str,
    /// Where Plivo POSTs the delivery reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

/// The body of `POST /v1/Account/{auth_id}/Call/`:
/// <https://docs.plivo.com/docs/voice/api/call/make-a-call>.
#[derive(Debug, Serialize)]
struct CallRequest<'a> {
    from: &'a str,
    /// The number with its country code, without `+`.
    to: &'a str,
    /// Our `POST /plivo/answer`, with the sealed script in its query.
    answer_url: String,
    answer_method: &'static str,
    /// Where Plivo POSTs the call's hangup report (our `POST /plivo/status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    hangup_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hangup_method: Option<&'static str>,
    /// The script takes well under a minute: a call that stays open (a
    /// voicemail left recording, say) is cut, not billed for hours.
    time_limit: u32,
}

/// Plivo's answer: `{"api_id", "message": "message(s) queued",
/// "message_uuid": [...]}` when a message is queued, `{"api_id", "message":
/// "call fired", "request_uuid"}` when a call is, `{"api_id", "error":
/// "..."}` when not. The error is text, and can quote the full number.
#[derive(Debug, Default, Deserialize)]
struct PlivoAnswer {
    #[serde(default)]
    message_uuid: Vec<String>,
    request_uuid: Option<String>,
    error: Option<serde_json::Value>,
}

impl PlivoSender {
    pub fn new(config: PlivoConfig) -> Result<Self, reqwest::Error> {
        let account = format!(
            "{}/v1/Account/{}",
            config.api_base.trim_end_matches('/'),
            config.auth_id
        );
        Ok(Self {
            http: provider::http_client(config.timeout)?,
            messages_url: format!("{account}/Message/"),
            calls_url: format!("{account}/Call/"),
            config,
        })
    }

    fn request_for<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> Result<PlivoRequest<'a>, DeliveryError> {
        let to = message.to.as_e164().trim_start_matches('+');
        // Messages report deliveries, calls their hangup, to the same route.
        let report_url = message
            .status_callbacks
            .plivo
            .as_deref()
            .map(|callback| provider::report_url(callback, message));
        let missing = |what: &str| DeliveryError::Misconfigured(format!("no {what} for plivo"));
        match (message.content.expose_secret(), message.channel) {
            (Content::Text(text), Channel::Sms) => Ok(PlivoRequest::Message(MessageRequest {
                sender: &self.config.sender,
                dst: to,
                text,
                url: report_url,
            })),
            (Content::Speech(speech), Channel::Call) => {
                let from = self
                    .config
                    .voice_from
                    .as_deref()
                    .ok_or_else(|| missing("voice caller id"))?;
                let answer = message
                    .status_callbacks
                    .plivo_answer
                    .as_deref()
                    .ok_or_else(|| missing("public answer url"))?;
                let script =
                    self.config
                        .scripts
                        .seal(&message.verification_id, message.sent_at, speech);
                Ok(PlivoRequest::Call(CallRequest {
                    from,
                    to,
                    answer_url: provider::with_query(answer, &script),
                    answer_method: "POST",
                    hangup_method: report_url.as_ref().map(|_| "POST"),
                    hangup_url: report_url,
                    time_limit: 120,
                }))
            }
            _ => Err(DeliveryError::Misconfigured(format!(
                "plivo sends sms and calls only, not {}",
                message.channel.as_str()
            ))),
        }
    }
}

impl MessageSender for PlivoSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<Handover, DeliveryError> {
        let body = self.request_for(message)?;
        let url = match body {
            PlivoRequest::Message(_) => &self.messages_url,
            PlivoRequest::Call(_) => &self.calls_url,
        };
        let request = self
            .http
            .post(url)
            .basic_auth(
                &self.config.auth_id,
                Some(self.config.auth_token.expose_secret()),
            )
            .json(&body);
        let dimensions = [("Provider", "plivo"), ("Channel", message.channel.as_str())];
        let latency = ("ProviderLatency", &dimensions[..]);
        let (response, latency_ms) = match provider::send("plivo", request, message, latency).await
        {
            Ok(answered) => answered,
            Err(outcome) => return outcome,
        };
        let status = response.status().as_u16();
        // The status decides; the body only adds detail, if it arrives.
        let answer = response.json::<PlivoAnswer>().await.unwrap_or_default();
        if (200..300).contains(&status) {
            tracing::info!(to = %message.to, status, message_uuid = ?answer.message_uuid, request_uuid = answer.request_uuid, latency_ms, "plivo accepted the message");
            return Ok(Handover::Accepted);
        }
        let error = answer.error.map(|error| match error {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        });
        let refusal = classify(status, error.as_deref(), &self.config.sender);
        tracing::warn!(to = %message.to, status, error = error.as_deref().map(redact), ?refusal, latency_ms, "plivo refused the message");
        Err(refusal)
    }

    fn max_duration(&self) -> Duration {
        self.config.timeout
    }
}

/// Maps Plivo's refusal to what the caller can do about it. `Unavailable`
/// and `Misconfigured` say the message was certainly not sent and that
/// another provider may do better; a refusal about the recipient (an
/// opt-out above all) must never look like either.
///
/// | HTTP | `error` says | outcome |
/// |---|---|---|
/// | 429, 5xx | anything | `Unavailable` |
/// | 400 | `<number> is not a valid phone number` (not our own `src`) | `Recipient(InvalidNumber)` |
/// | 400 | not an SMS enabled number | `Recipient(CannotReceive)` |
/// | 400 | opted out, unsubscribed, blocked by STOP | `Recipient(OptedOut)` |
/// | 400 | anything else | `Misconfigured` |
/// | 401, 403, 404, any other | anything | `Misconfigured` |
///
/// Only the first 400 text is documented (enhanced destination number
/// validation: <https://plivo.com/docs/messaging/concepts/destination-number-validation>);
/// the others are matched in case Plivo refuses them up front one day: an
/// opt-out is documented as a later `failed` report with error code 200.
fn classify(status: u16, error: Option<&str>, sender: &PlivoSenderId) -> DeliveryError {
    let text = error.unwrap_or_default().to_ascii_lowercase();
    let says = |phrases: &[&str]| phrases.iter().any(|phrase| text.contains(phrase));
    // "<src> is not a valid phone number" is about our sender.
    let names_our_sender = match sender {
        PlivoSenderId::Src(src) => {
            let src = src.trim_start_matches('+');
            !src.is_empty() && text.contains(src)
        }
        PlivoSenderId::PowerpackUuid(_) => false,
    };
    let described = || {
        format!(
            "HTTP {status}, Plivo error {:?}",
            error.map(redact).unwrap_or_default()
        )
    };
    match status {
        429 | 500..=599 => DeliveryError::Unavailable(described()),
        400 if says(&["is not a valid phone number"]) && !names_our_sender => {
            DeliveryError::Recipient(RecipientProblem::InvalidNumber)
        }
        400 if says(&["not an sms enabled", "not sms enabled"]) && !names_our_sender => {
            DeliveryError::Recipient(RecipientProblem::CannotReceive)
        }
        400 if says(&[
            "opted out",
            "opted-out",
            "opt-out",
            "unsubscribed",
            "blocked by stop",
        ]) =>
        {
            DeliveryError::Recipient(RecipientProblem::OptedOut)
        }
        _ => DeliveryError::Misconfigured(described()),
    }
}

/// Plivo's error text with every digit masked (it can quote the full
/// number), and cut short.
fn redact(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// Checks Plivo's V3 signature of its requests to us (`X-Plivo-Signature-V3`
/// with `X-Plivo-Signature-V3-Nonce`): base64 of HMAC-SHA256, keyed by the
/// auth token, over the URL without query, `?` and the query's parameters
/// sorted (`name=value` joined by `&`), `.` if there are both query and
/// form parameters, every form parameter's name and value sorted, `.` and
/// the nonce. As Plivo's SDKs compute it (plivo-python
/// `utils/signature_v3.py`, plivo-node `utils/v3Security.js`), for POSTs,
/// which delivery reports are unless a send asks otherwise (ours never do).
#[derive(Debug, Clone)]
pub struct SignatureValidator {
    auth_token: SecretString,
}

impl SignatureValidator {
    pub fn new(auth_token: SecretString) -> Self {
        Self { auth_token }
    }

    /// Whether `signatures` (the header: one or more, comma-separated)
    /// holds Plivo's signature with `nonce` of a POST to `url` (our public
    /// URL, without query) with `query` (as received) and these form
    /// `params`. Constant-time.
    pub fn is_valid(
        &self,
        url: &str,
        query: Option<&str>,
        params: &[(String, String)],
        nonce: &str,
        signatures: &str,
    ) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.auth_token.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(signed_text(url, query, params, nonce).as_bytes());
        let expected = mac.finalize().into_bytes();
        let base64 = base64::engine::general_purpose::STANDARD;
        signatures
            .split(',')
            .filter_map(|signature| base64.decode(signature.trim()).ok())
            .fold(false, |valid, signature| {
                valid | bool::from(signature.as_slice().ct_eq(expected.as_slice()))
            })
    }
}

/// What V3 signs of a POST; see `SignatureValidator`.
fn signed_text(url: &str, query: Option<&str>, params: &[(String, String)], nonce: &str) -> String {
    let mut query = provider::decoded_pairs(query.unwrap_or_default());
    query.sort();
    let query = query
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut params: Vec<&(String, String)> = params.iter().collect();
    params.sort();
    let mut text = url.to_owned();
    if !query.is_empty() || !params.is_empty() {
        text.push('?');
        text.push_str(&query);
    }
    if !query.is_empty() && !params.is_empty() {
        text.push('.');
    }
    for (name, value) in params {
        text.push_str(name);
        text.push_str(value);
    }
    text.push('.');
    text.push_str(nonce);
    text
}

/// A report Plivo POSTs to a message's `url` on each change of its status
/// (`queued`, `sent`, `delivered`, `undelivered`, `failed`):
/// <https://docs.plivo.com/docs/messaging/api/message/message-status-callbacks>,
/// or to a call's `hangup_url` when it ends (`CallStatus` `completed`,
/// `busy`, `no-answer`, `timeout`, `failed`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlivoReport {
    /// `MessageUUID`, or a call's `CallUUID` (`RequestUUID` if it has none).
    pub uuid: String,
    pub to: PhoneNumber,
    /// The code the message carried, from the query we added to the URL.
    pub verification: VerificationId,
    pub sent_at: Timestamp,
    /// The code never reached the user: a message `failed`, `undelivered`
    /// or `rejected`, or a call `failed`. A call that was `busy` or had
    /// `no-answer` did ring the phone: giving its limits back would let
    /// anyone ring a number again and again (as Twilio's reports).
    pub undelivered: bool,
    /// Plivo's SMS error code on failed and undelivered reports (50: invalid
    /// destination, 200: the recipient opted out):
    /// <https://plivo.com/docs/messaging/troubleshooting/error-codes>.
    pub error_code: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Plivo delivery report is malformed")]
pub struct MalformedReport;

impl PlivoReport {
    /// Reads a report from the request's `query` (as received) and its
    /// form `params`.
    pub fn parse(
        query: Option<&str>,
        params: &[(String, String)],
    ) -> Result<Self, MalformedReport> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.trim())
                .filter(|value| !value.is_empty())
        };
        let query = provider::decoded_pairs(query.unwrap_or_default());
        let (verification, sent_at) = provider::reported_code(&query).ok_or(MalformedReport)?;
        let to = get("To").ok_or(MalformedReport)?;
        let to = PhoneNumber::parse(&format!("+{}", to.trim_start_matches('+')), None)
            .map_err(|_| MalformedReport)?;
        let (uuid, undelivered) = match get("MessageUUID") {
            Some(uuid) => {
                let status = get("Status").ok_or(MalformedReport)?;
                (
                    uuid,
                    matches!(status, "failed" | "undelivered" | "rejected"),
                )
            }
            None => {
                let uuid = get("CallUUID")
                    .or_else(|| get("RequestUUID"))
                    .ok_or(MalformedReport)?;
                (uuid, get("CallStatus").ok_or(MalformedReport)? == "failed")
            }
        };
        Ok(Self {
            uuid: uuid.to_owned(),
            to,
            verification,
            sent_at,
            undelivered,
            error_code: get("ErrorCode").and_then(|code| code.parse().ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Keyring;
    use crate::ports::{Speech, StatusCallbacks};
    use secrecy::SecretBox;

    const SRC: &str = "14155550100";

    fn sender(sender: PlivoSenderId) -> PlivoSender {
        PlivoSender::new(PlivoConfig {
            api_base: "https://api.plivo.com/".into(),
            auth_id: "MA0123456789ABCDEF01".into(),
            auth_token: "token".to_owned().into(),
            sender,
            voice_from: Some(SRC.into()),
            scripts: scripts(),
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    fn scripts() -> CallScripts {
        CallScripts::new(&Keyring::new("v1", [7u8; 32]), 600)
    }

    fn message(channel: Channel, content: Content) -> OutgoingMessage {
        OutgoingMessage {
            answer_by: None,
            to: PhoneNumber::parse("+14155550123", None).unwrap(),
            channel,
            content: SecretBox::new(Box::new(content)),
            verification_id: VerificationId::from_stored("0123456789abcdef0123456789abcdef".into()),
            sent_at: Timestamp::from_unix_seconds(1_800_000_000),
            status_callbacks: StatusCallbacks {
                plivo: Some("https://api.example.com/plivo/status".into()),
                plivo_answer: Some("https://api.example.com/plivo/answer".into()),
                ..Default::default()
            },
        }
    }

    fn sms() -> OutgoingMessage {
        message(Channel::Sms, Content::Text("Your code is 123456.".into()))
    }

    #[test]
    fn an_sms_is_one_json_request_with_the_report_url() {
        let plivo = sender(PlivoSenderId::Src(SRC.into()));
        assert_eq!(
            plivo.messages_url,
            "https://api.plivo.com/v1/Account/MA0123456789ABCDEF01/Message/"
        );
        let message = sms();
        let body = serde_json::to_value(plivo.request_for(&message).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "src": SRC,
                "dst": "14155550123",
                "text": "Your code is 123456.",
                "url": "https://api.example.com/plivo/status?verification=0123456789abcdef0123456789abcdef&sent_at=1800000000",
            })
        );

        let powerpack = sender(PlivoSenderId::PowerpackUuid("d35f2e82".into()));
        let no_reports = OutgoingMessage {
            answer_by: None,
            status_callbacks: Default::default(),
            ..sms()
        };
        let body = serde_json::to_value(powerpack.request_for(&no_reports).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "powerpack_uuid": "d35f2e82",
                "dst": "14155550123",
                "text": "Your code is 123456.",
            })
        );
    }

    fn call() -> OutgoingMessage {
        message(
            Channel::Call,
            Content::Speech(Speech {
                language: "en-US".into(),
                voice: "Polly.Joanna".into(),
                intro: "Your code is".into(),
                digits: "1, 2, 3, 4, 5, 6".into(),
                repeat: "Once again".into(),
            }),
        )
    }

    #[test]
    fn a_call_is_one_json_request_whose_answer_url_seals_the_script() {
        let plivo = sender(PlivoSenderId::Src(SRC.into()));
        assert_eq!(
            plivo.calls_url,
            "https://api.plivo.com/v1/Account/MA0123456789ABCDEF01/Call/"
        );
        let mut body = serde_json::to_value(plivo.request_for(&call()).unwrap()).unwrap();
        let answer_url = body["answer_url"].take();
        assert_eq!(
            body,
            serde_json::json!({
                "from": SRC,
                "to": "14155550123",
                "answer_url": null,
                "answer_method": "POST",
                "hangup_url": "https://api.example.com/plivo/status?verification=0123456789abcdef0123456789abcdef&sent_at=1800000000",
                "hangup_method": "POST",
                "time_limit": 120,
            })
        );
        let answer_url = answer_url.as_str().unwrap();
        let query = answer_url
            .strip_prefix("https://api.example.com/plivo/answer?key=v1&script=")
            .map(|token| format!("key=v1&script={token}"))
            .expect(answer_url);
        // The digits are sealed, never in clear (nor URL-encoded).
        assert!(!answer_url.contains("1, 2") && !answer_url.contains("1%2C"));
        let script = scripts()
            .open(Some(&query), Timestamp::from_unix_seconds(1_800_000_001))
            .unwrap();
        assert_eq!(script.speech.digits, "1, 2, 3, 4, 5, 6");
    }

    #[test]
    fn a_call_needs_a_caller_id_and_an_answer_url() {
        let mut no_caller = sender(PlivoSenderId::Src(SRC.into()));
        no_caller.config.voice_from = None;
        let mut no_answer = call();
        no_answer.status_callbacks.plivo_answer = None;
        for (plivo, message) in [
            (&no_caller, call()),
            (&sender(PlivoSenderId::Src(SRC.into())), no_answer),
        ] {
            assert!(matches!(
                plivo.request_for(&message),
                Err(DeliveryError::Misconfigured(_))
            ));
        }
    }

    #[test]
    fn only_sms_text_and_calls_are_sent() {
        let plivo = sender(PlivoSenderId::Src(SRC.into()));
        for message in [
            message(Channel::Whatsapp, Content::Text("Your code is 1.".into())),
            message(
                Channel::Whatsapp,
                Content::Template {
                    sid: "HX0123".into(),
                    code: "123456".into(),
                },
            ),
            message(
                Channel::Sms,
                Content::Template {
                    sid: "HX0123".into(),
                    code: "123456".into(),
                },
            ),
        ] {
            assert!(matches!(
                plivo.request_for(&message),
                Err(DeliveryError::Misconfigured(_))
            ));
        }
    }

    #[test]
    fn each_refusal_has_its_class() {
        // The class of an outcome, for the table.
        let class = |outcome: DeliveryError| match outcome {
            DeliveryError::Unavailable(_) => "unavailable",
            DeliveryError::Misconfigured(_) => "misconfigured",
            DeliveryError::Recipient(RecipientProblem::InvalidNumber) => "invalid number",
            DeliveryError::Recipient(RecipientProblem::CannotReceive) => "cannot receive",
            DeliveryError::Recipient(RecipientProblem::OptedOut) => "opted out",
            DeliveryError::Recipient(RecipientProblem::Unreachable) => "unreachable",
        };
        let src = PlivoSenderId::Src(format!("+{SRC}"));
        for (status, error, expected) in [
            (429, Some("too many requests"), "unavailable"),
            (500, Some("server error"), "unavailable"),
            (502, None, "unavailable"),
            (
                503,
                Some("14155550123 is not a valid phone number"),
                "unavailable",
            ),
            (
                400,
                Some("14155550123 is not a valid phone number"),
                "invalid number",
            ),
            (
                400,
                Some("14155550123 is not an SMS enabled phone number"),
                "cannot receive",
            ),
            (400, Some("destination number has opted out"), "opted out"),
            (
                400,
                Some("Source number blocked by STOP from destination"),
                "opted out",
            ),
            // Our own number, refused: the operator's to fix.
            (
                400,
                Some("14155550100 is not a valid phone number"),
                "misconfigured",
            ),
            (
                400,
                Some("This caller ID is not allowed for outbound message"),
                "misconfigured",
            ),
            (400, Some("unknown parameter"), "misconfigured"),
            (400, None, "misconfigured"),
            (401, Some("authentication failed"), "misconfigured"),
            (403, None, "misconfigured"),
            (404, Some("not found"), "misconfigured"),
            (405, None, "misconfigured"),
        ] {
            assert_eq!(
                class(classify(status, error, &src)),
                expected,
                "{status} {error:?}"
            );
        }
    }

    #[test]
    fn a_refusal_never_quotes_a_full_number() {
        let outcome = classify(
            400,
            Some("+14155550100 is not a valid phone number"),
            &PlivoSenderId::Src(SRC.into()),
        );
        let DeliveryError::Misconfigured(described) = outcome else {
            panic!("{outcome:?}");
        };
        assert!(!described.contains("4155550100"), "{described}");
        assert!(
            described.contains("is not a valid phone number"),
            "{described}"
        );
    }

    const TOKEN: &str = "plivo-test-auth-token";
    const URL: &str = "https://api.example.com/plivo/status";
    const QUERY: &str = "verification=0123456789abcdef0123456789abcdef&sent_at=1800000000";
    const NONCE: &str = "12345678901234567890";

    fn report_params() -> Vec<(String, String)> {
        [
            ("MessageUUID", "db3ce55a-7f1d-11e1-8ea7-1231380bc196"),
            ("Status", "undelivered"),
            ("To", "14155550123"),
            ("From", "14155550100"),
            ("ErrorCode", "50"),
            ("Units", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// The vectors were computed apart from this code, with Python's `hmac`
    /// over the text below, and checked with Plivo's own
    /// `plivo.utils.validate_v3_signature` (plivo-python 4.63.0):
    ///
    /// ```python
    /// import base64, hashlib, hmac
    /// text = ("https://api.example.com/plivo/status"
    ///         "?sent_at=1800000000&verification=0123456789abcdef0123456789abcdef"
    ///         ".ErrorCode50From14155550100MessageUUIDdb3ce55a-7f1d-11e1-8ea7-1231380bc196"
    ///         "StatusundeliveredTo14155550123Units1"
    ///         ".12345678901234567890")
    /// base64.b64encode(hmac.new(b"plivo-test-auth-token", text.encode(), hashlib.sha256).digest())
    /// # 8QoBbn4+rg9XQ6Dv7vvBvWnWIiJas/6M0RaFxzbbWjk=
    /// # without the query: URL + "?" + params + "." + nonce (no "." after "?"):
    /// # JzEcm99qPkgkzttexZ3s0ND4ZxV8S62ssHfYtee+IwE=
    /// ```
    #[test]
    fn accepts_the_signatures_plivo_makes() {
        let validator = SignatureValidator::new(TOKEN.to_owned().into());
        let params = report_params();
        assert_eq!(
            signed_text(URL, Some(QUERY), &params, NONCE),
            "https://api.example.com/plivo/status?sent_at=1800000000&verification=0123456789abcdef0123456789abcdef\
             .ErrorCode50From14155550100MessageUUIDdb3ce55a-7f1d-11e1-8ea7-1231380bc196\
             StatusundeliveredTo14155550123Units1.12345678901234567890"
        );
        let signature = "8QoBbn4+rg9XQ6Dv7vvBvWnWIiJas/6M0RaFxzbbWjk=";
        assert!(validator.is_valid(URL, Some(QUERY), &params, NONCE, signature));
        // The header may list several signatures: any one will do.
        assert!(validator.is_valid(
            URL,
            Some(QUERY),
            &params,
            NONCE,
            &format!("AAAA,{signature}")
        ));
        assert!(validator.is_valid(
            URL,
            None,
            &params,
            NONCE,
            "JzEcm99qPkgkzttexZ3s0ND4ZxV8S62ssHfYtee+IwE="
        ));
    }

    #[test]
    fn refuses_any_change_to_a_signed_report() {
        let validator = SignatureValidator::new(TOKEN.to_owned().into());
        let signature = "8QoBbn4+rg9XQ6Dv7vvBvWnWIiJas/6M0RaFxzbbWjk=";
        let mut delivered = report_params();
        delivered[1].1 = "delivered".into();
        let other_code = QUERY.replace("0123", "4567");
        for (query, params, nonce, signature) in [
            (Some(QUERY), delivered.as_slice(), NONCE, signature),
            (
                Some(other_code.as_str()),
                &report_params(),
                NONCE,
                signature,
            ),
            (None, &report_params(), NONCE, signature),
            (
                Some(QUERY),
                &report_params(),
                "12345678901234567891",
                signature,
            ),
            (Some(QUERY), &report_params(), NONCE, ""),
            (Some(QUERY), &report_params(), NONCE, "not base64!"),
        ] {
            assert!(!validator.is_valid(URL, query, params, nonce, signature));
        }
        let other_token = SignatureValidator::new("another-token".to_owned().into());
        assert!(!other_token.is_valid(URL, Some(QUERY), &report_params(), NONCE, signature));
    }

    #[test]
    fn a_report_names_the_code_and_whether_it_arrived() {
        let report = PlivoReport::parse(Some(QUERY), &report_params()).unwrap();
        assert_eq!(
            report,
            PlivoReport {
                uuid: "db3ce55a-7f1d-11e1-8ea7-1231380bc196".into(),
                to: PhoneNumber::parse("+14155550123", None).unwrap(),
                verification: VerificationId::from_stored(
                    "0123456789abcdef0123456789abcdef".into()
                ),
                sent_at: Timestamp::from_unix_seconds(1_800_000_000),
                undelivered: true,
                error_code: Some(50),
            }
        );
        for (status, undelivered) in [
            ("queued", false),
            ("sent", false),
            ("delivered", false),
            ("failed", true),
            ("rejected", true),
            ("undelivered", true),
        ] {
            let mut params = report_params();
            params[1].1 = status.into();
            let report = PlivoReport::parse(Some(QUERY), &params).unwrap();
            assert_eq!(report.undelivered, undelivered, "{status}");
        }
    }

    #[test]
    fn a_call_that_failed_is_undelivered_one_that_rang_is_not() {
        let hangup = |status: &str| {
            [
                ("CallUUID", "ac3b4e6a-7f1d-11e1-8ea7-1231380bc196"),
                ("CallStatus", status),
                ("HangupCause", "NORMAL_CLEARING"),
                ("To", "14155550123"),
                ("From", "14155550100"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec()
        };
        for (status, undelivered) in [
            ("completed", false),
            ("busy", false),
            ("no-answer", false),
            ("timeout", false),
            ("failed", true),
        ] {
            let report = PlivoReport::parse(Some(QUERY), &hangup(status)).unwrap();
            assert_eq!(report.undelivered, undelivered, "{status}");
            assert_eq!(report.uuid, "ac3b4e6a-7f1d-11e1-8ea7-1231380bc196");
        }
        let no_status: Vec<_> = hangup("failed")
            .into_iter()
            .filter(|(name, _)| name != "CallStatus")
            .collect();
        assert_eq!(
            PlivoReport::parse(Some(QUERY), &no_status),
            Err(MalformedReport)
        );
    }

    #[test]
    fn a_report_without_its_code_or_number_is_malformed() {
        assert_eq!(
            PlivoReport::parse(None, &report_params()),
            Err(MalformedReport)
        );
        for missing in ["MessageUUID", "Status", "To"] {
            let params: Vec<_> = report_params()
                .into_iter()
                .filter(|(name, _)| name != missing)
                .collect();
            assert_eq!(
                PlivoReport::parse(Some(QUERY), &params),
                Err(MalformedReport),
                "{missing}"
            );
        }
        let mut bad_number = report_params();
        bad_number[2].1 = "12".into();
        assert_eq!(
            PlivoReport::parse(Some(QUERY), &bad_number),
            Err(MalformedReport)
        );
    }
}
