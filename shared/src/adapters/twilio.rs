//! Sends codes through Twilio with plain `reqwest` (there is no maintained
//! Rust SDK, and each send is one form-encoded POST): SMS and WhatsApp via
//! the Messages API (WhatsApp as an approved template: `ContentSid` and
//! `ContentVariables`), voice via the Calls API with inline TwiML, so the
//! code never appears in a URL.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha1::Sha1;

use super::provider::{self, xml_escape};
use crate::domain::Channel;
use crate::ports::{
    Content, DeliveryError, Handover, MessageSender, OutgoingMessage, RecipientProblem, Speech,
};

/// Who the message comes from: a phone number or a Messaging Service
/// (which picks the number itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSenderId {
    From(String),
    MessagingService(String),
}

/// Basic-auth credentials: the Account SID with its auth token, or an API
/// key SID with its secret.
#[derive(Debug, Clone)]
pub struct TwilioCredentials {
    pub username: String,
    pub password: SecretString,
}

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// `https://api.twilio.com`, or a fake's address in tests and local runs.
    pub api_base: String,
    pub account_sid: String,
    pub credentials: TwilioCredentials,
    pub sender: TwilioSenderId,
    /// Caller id for voice calls (a Twilio voice-capable number).
    pub voice_from: Option<String>,
    /// WhatsApp sender (`+14155238886`, without the `whatsapp:` prefix).
    pub whatsapp_from: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct TwilioSender {
    http: reqwest::Client,
    messages_url: String,
    calls_url: String,
    config: TwilioConfig,
}

/// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Debug, Deserialize)]
struct TwilioError {
    code: Option<u32>,
}

impl TwilioSender {
    pub fn new(config: TwilioConfig) -> Result<Self, reqwest::Error> {
        let http = provider::http_client(config.timeout)?;
        let account = format!(
            "{}/2010-04-01/Accounts/{}",
            config.api_base.trim_end_matches('/'),
            config.account_sid
        );
        Ok(Self {
            http,
            messages_url: format!("{account}/Messages.json"),
            calls_url: format!("{account}/Calls.json"),
            config,
        })
    }
}

impl MessageSender for TwilioSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<Handover, DeliveryError> {
        let (url, form) = self.request_for(message)?;
        let request = self
            .http
            .post(url)
            .basic_auth(
                &self.config.credentials.username,
                Some(self.config.credentials.password.expose_secret()),
            )
            .form(&form);
        let latency = (
            "TwilioLatency",
            &[("Channel", message.channel.as_str())][..],
        );
        let (response, latency_ms) = match provider::send("twilio", request, message, latency).await
        {
            Ok(answered) => answered,
            Err(outcome) => return outcome,
        };
        let status = response.status();
        if status.is_success() {
            tracing::info!(to = %message.to, status = status.as_u16(), latency_ms, "twilio accepted the message");
            return Ok(Handover::Accepted);
        }
        // Twilio's message text can quote the full number: log only the code.
        let code = response
            .json::<TwilioError>()
            .await
            .ok()
            .and_then(|body| body.code);
        tracing::warn!(to = %message.to, status = status.as_u16(), twilio_code = ?code, latency_ms, "twilio refused the message");
        Err(classify(status.as_u16(), code))
    }

    fn max_duration(&self) -> Duration {
        // The connection is opened at cold start; one timeout covers the rest.
        self.config.timeout
    }
}

impl TwilioSender {
    /// Opens the pooled TLS connection to Twilio at cold start (an
    /// unauthenticated HEAD of the API root), so the first code is not
    /// delayed by the handshake. Failures only log.
    pub async fn warm_up(&self) {
        let started = std::time::Instant::now();
        let result = self.http.head(&self.config.api_base).send().await;
        let latency_ms = started.elapsed().as_millis();
        match result {
            Ok(_) => tracing::info!(latency_ms, "twilio connection warmed"),
            Err(error) => {
                tracing::warn!(
                    latency_ms,
                    error = provider::describe_transport_error(&error),
                    "twilio warm-up failed"
                )
            }
        }
    }
}

/// Form fields of a Twilio API request.
type Form = Vec<(&'static str, String)>;

impl TwilioSender {
    /// The endpoint and form fields that deliver `message`, with the
    /// delivery report address when one is configured.
    fn request_for(&self, message: &OutgoingMessage) -> Result<(&str, Form), DeliveryError> {
        let (url, mut form) = self.delivery(message)?;
        if let Some(callback) = &message.status_callbacks.twilio {
            // Twilio signs the URL, with the query that names the code.
            form.push(("StatusCallback", provider::report_url(callback, message)));
        }
        Ok((url, form))
    }

    fn delivery(&self, message: &OutgoingMessage) -> Result<(&str, Form), DeliveryError> {
        let to = message.to.as_e164().to_owned();
        let missing = |what: &str| DeliveryError::Misconfigured(format!("no {what} is configured"));
        match (message.content.expose_secret(), message.channel) {
            (Content::Text(text), Channel::Sms) => {
                let sender = match &self.config.sender {
                    TwilioSenderId::From(number) => ("From", number.clone()),
                    TwilioSenderId::MessagingService(sid) => ("MessagingServiceSid", sid.clone()),
                };
                Ok((
                    &self.messages_url,
                    vec![("To", to), sender, ("Body", text.clone())],
                ))
            }
            // Free-form text: delivered only within a 24-hour session, or
            // in Twilio's sandbox.
            (Content::Text(text), Channel::Whatsapp) => Ok((
                &self.messages_url,
                self.whatsapp_form(&to, [("Body", text.clone())])?,
            )),
            (Content::Template { sid, .. }, Channel::Whatsapp) if sid.is_empty() => {
                Err(missing("WhatsApp template"))
            }
            // An approved template: its one variable, {{1}}, is the code.
            (Content::Template { sid, code }, Channel::Whatsapp) => Ok((
                &self.messages_url,
                self.whatsapp_form(
                    &to,
                    [
                        ("ContentSid", sid.clone()),
                        (
                            "ContentVariables",
                            serde_json::json!({ "1": code }).to_string(),
                        ),
                    ],
                )?,
            )),
            (Content::Speech(speech), Channel::Call) => {
                let from = self
                    .config
                    .voice_from
                    .as_ref()
                    .ok_or_else(|| missing("voice caller id"))?;
                Ok((
                    &self.calls_url,
                    vec![("To", to), ("From", from.clone()), ("Twiml", twiml(speech))],
                ))
            }
            _ => Err(DeliveryError::Misconfigured(format!(
                "no way to send this content by {}",
                message.channel.as_str()
            ))),
        }
    }
}

impl TwilioSender {
    /// A WhatsApp message to `to` from our WhatsApp sender, with `content`.
    fn whatsapp_form<const N: usize>(
        &self,
        to: &str,
        content: [(&'static str, String); N],
    ) -> Result<Form, DeliveryError> {
        let from = self.config.whatsapp_from.as_ref().ok_or_else(|| {
            DeliveryError::Misconfigured("no WhatsApp sender is configured".into())
        })?;
        let mut form = vec![
            ("To", format!("whatsapp:{to}")),
            ("From", format!("whatsapp:{from}")),
        ];
        form.extend(content);
        Ok(form)
    }
}

/// The call's script: the intro, the digits slowly, then both again.
fn twiml(speech: &Speech) -> String {
    let say = |text: &str| {
        format!(
            r#"<Say language="{}" voice="{}">{}</Say>"#,
            xml_escape(&speech.language),
            xml_escape(&speech.voice),
            text
        )
    };
    let digits = format!(
        r#"<prosody rate="slow">{}</prosody>"#,
        xml_escape(&speech.digits)
    );
    let pause = r#"<Pause length="1"/>"#;
    format!(
        "<Response>{}{pause}{}{pause}{}{pause}{}</Response>",
        say(&xml_escape(&speech.intro)),
        say(&digits),
        say(&xml_escape(&speech.repeat)),
        say(&digits),
    )
}

/// Checks `X-Twilio-Signature` on Twilio's requests to us: base64 of
/// HMAC-SHA1, keyed by the auth token, over the full URL followed by every
/// POST parameter's name and value, sorted by name.
#[derive(Debug, Clone)]
pub struct WebhookValidator {
    auth_token: SecretString,
}

impl WebhookValidator {
    pub fn new(auth_token: String) -> Self {
        Self {
            auth_token: auth_token.into(),
        }
    }

    /// Whether `signature` is Twilio's for a request to `url` (our public
    /// URL, without query string) with `query` (as received) and these form
    /// `params`. Constant-time.
    pub fn is_valid(
        &self,
        url: &str,
        query: Option<&str>,
        params: &[(String, String)],
        signature: &str,
    ) -> bool {
        let mut signed = match query {
            Some(query) => format!("{url}?{query}"),
            None => url.to_owned(),
        };
        let mut sorted: Vec<&(String, String)> = params.iter().collect();
        sorted.sort();
        for (name, value) in sorted {
            signed.push_str(name);
            signed.push_str(value);
        }
        let mut mac = Hmac::<Sha1>::new_from_slice(self.auth_token.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(signed.as_bytes());
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return false;
        };
        mac.verify_slice(&signature).is_ok()
    }
}

/// Maps Twilio's answer to what the caller can do about it. Only our own
/// credentials, account and sender are the operator's problem (a 500 and an
/// alarm); whatever else Twilio refuses is about the recipient, a 4xx the
/// client can act on, so no client can page the operator.
/// Codes: <https://www.twilio.com/docs/api/errors>.
fn classify(status: u16, code: Option<u32>) -> DeliveryError {
    let described = || {
        format!(
            "HTTP {status}, Twilio error {}",
            code.map_or("none".into(), |c| c.to_string())
        )
    };
    match (status, code) {
        (_, Some(21211 | 21217 | 21401 | 21421 | 13223 | 13224 | 21266)) => {
            DeliveryError::Recipient(RecipientProblem::InvalidNumber)
        }
        (_, Some(21614 | 21407 | 63003)) => {
            DeliveryError::Recipient(RecipientProblem::CannotReceive)
        }
        (_, Some(21408 | 21612 | 21635 | 21215 | 21216)) => {
            DeliveryError::Recipient(RecipientProblem::Unreachable)
        }
        (_, Some(21610)) => DeliveryError::Recipient(RecipientProblem::OptedOut),
        (429 | 500..=599, _) | (_, Some(20429)) => DeliveryError::Unavailable(described()),
        // Authentication, the account, the API base, the sender, the
        // Messaging Service: an operator must act.
        (401 | 403 | 404, _)
        | (
            _,
            Some(20003 | 20005 | 20404 | 21210 | 21212 | 21603 | 21606 | 21659 | 21660 | 21661),
        )
        | (_, Some(21701..=21712))
        | (_, None) => DeliveryError::Misconfigured(described()),
        _ => {
            tracing::warn!(
                error = described(),
                "twilio refused the recipient for a reason not on our list"
            );
            DeliveryError::Recipient(RecipientProblem::Unreachable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PhoneNumber, Timestamp, VerificationId};
    use secrecy::SecretBox;

    fn whatsapp(content: Content) -> OutgoingMessage {
        OutgoingMessage {
            answer_by: None,
            to: PhoneNumber::parse("+14155550123", None).unwrap(),
            channel: Channel::Whatsapp,
            content: SecretBox::new(Box::new(content)),
            verification_id: VerificationId::random(),
            sent_at: Timestamp::from_unix_seconds(1_800_000_000),
            status_callbacks: Default::default(),
        }
    }

    fn sender() -> TwilioSender {
        TwilioSender::new(TwilioConfig {
            api_base: "https://api.twilio.com".into(),
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            credentials: TwilioCredentials {
                username: "AC0123456789abcdef0123456789abcdef".into(),
                password: "token".to_owned().into(),
            },
            sender: TwilioSenderId::From("+15005550006".into()),
            voice_from: None,
            whatsapp_from: Some("+14155238886".into()),
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[test]
    fn a_whatsapp_template_goes_as_content_sid_and_variables_without_body() {
        let sender = sender();
        let (url, form) = sender
            .request_for(&whatsapp(Content::Template {
                sid: "HX0123456789abcdef0123456789abcdef".into(),
                code: "123456".into(),
            }))
            .unwrap();
        assert!(url.ends_with("/Messages.json"), "{url}");
        assert_eq!(
            form,
            [
                ("To", "whatsapp:+14155550123".to_owned()),
                ("From", "whatsapp:+14155238886".to_owned()),
                (
                    "ContentSid",
                    "HX0123456789abcdef0123456789abcdef".to_owned()
                ),
                ("ContentVariables", r#"{"1":"123456"}"#.to_owned()),
            ]
        );
        let (_, session) = sender
            .request_for(&whatsapp(Content::Text("Your code is 123456.".into())))
            .unwrap();
        assert_eq!(session[2], ("Body", "Your code is 123456.".to_owned()));
        let missing = sender.request_for(&whatsapp(Content::Template {
            sid: String::new(),
            code: "123456".into(),
        }));
        assert!(matches!(missing, Err(DeliveryError::Misconfigured(_))));
    }

    /// Signatures made by Twilio's own library (twilio-node 5,
    /// `getExpectedTwilioSignature`); the second is the example of Twilio's
    /// webhook security documentation.
    #[test]
    fn accepts_the_signatures_twilio_makes() {
        let report = WebhookValidator::new("test-auth-token".into());
        let url = "https://api.example.com/twilio/status";
        let query = "verification=0123456789abcdef0123456789abcdef&sent_at=1800000000";
        let params = [
            ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
            ("MessageStatus", "undelivered"),
            ("To", "+14155550123"),
            ("ErrorCode", "30003"),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert!(report.is_valid(url, Some(query), &params, "w7rAmUbiBGS05hPhvd3Tw3BmBso="));

        let docs = WebhookValidator::new("12345".into());
        let url = "https://mycompany.com/myapp.php";
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert!(docs.is_valid(
            url,
            Some("foo=1&bar=2"),
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn refuses_any_change_to_a_signed_request() {
        let docs = WebhookValidator::new("12345".into());
        let url = "https://mycompany.com/myapp.php";
        let params = |digits: &str| {
            [
                ("CallSid", "CA1234567890ABCDE"),
                ("Caller", "+12349013030"),
                ("Digits", digits),
                ("From", "+12349013030"),
                ("To", "+18005551212"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        let signature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert!(!docs.is_valid(url, Some("foo=1&bar=2"), &params("1235"), signature));
        assert!(!docs.is_valid(url, Some("foo=1&bar=3"), &params("1234"), signature));
        assert!(!docs.is_valid(url, None, &params("1234"), signature));
        assert!(!docs.is_valid(url, Some("foo=1&bar=2"), &params("1234"), "not base64!"));
        assert!(!docs.is_valid(url, Some("foo=1&bar=2"), &params("1234"), ""));
        let other_token = WebhookValidator::new("54321".into());
        assert!(!other_token.is_valid(url, Some("foo=1&bar=2"), &params("1234"), signature));
    }

    #[test]
    fn recipient_errors_are_the_users_to_fix() {
        assert_eq!(
            classify(400, Some(21211)),
            DeliveryError::Recipient(RecipientProblem::InvalidNumber)
        );
        assert_eq!(
            classify(400, Some(21614)),
            DeliveryError::Recipient(RecipientProblem::CannotReceive)
        );
        assert_eq!(
            classify(400, Some(21612)),
            DeliveryError::Recipient(RecipientProblem::Unreachable)
        );
        assert_eq!(
            classify(400, Some(21610)),
            DeliveryError::Recipient(RecipientProblem::OptedOut)
        );
    }

    #[test]
    fn overload_and_outages_are_retryable() {
        for (status, code) in [(429, Some(20429)), (503, None), (500, Some(20500))] {
            assert!(
                matches!(classify(status, code), DeliveryError::Unavailable(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn recipient_side_refusals_never_page_the_operator() {
        // To equals From, a call blocked by Twilio, and a code not on our list.
        for (status, code) in [(400, Some(21266)), (400, Some(21216)), (400, Some(21999))] {
            assert!(
                matches!(classify(status, code), DeliveryError::Recipient(_)),
                "{code:?}"
            );
        }
    }

    #[test]
    fn credential_and_sender_errors_are_for_the_operator() {
        for (status, code) in [
            (401, Some(20003)),
            (400, Some(21606)),
            (404, Some(20404)),
            (400, Some(21212)),
            (400, Some(21705)),
            (400, None),
        ] {
            assert!(
                matches!(classify(status, code), DeliveryError::Misconfigured(_)),
                "{status}"
            );
        }
    }
}
