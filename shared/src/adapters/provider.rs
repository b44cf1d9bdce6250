//! What the message providers' adapters (Twilio, Plivo) share: their HTTP
//! client, their delivery reports' settings, the delivery report address
//! and how it is read back, and what a request that got no answer means.

use std::time::{Duration, Instant};

use crate::domain::{Timestamp, VerificationId};
use crate::ports::{DeliveryError, Handover, OutgoingMessage};

/// A provider's delivery reports: how to check them (`validator`: Twilio's
/// `WebhookValidator`, Plivo's `SignatureValidator`), and where they go.
#[derive(Debug, Clone)]
pub struct DeliveryReports<V> {
    pub validator: V,
    /// Public URL of the provider's report route (`POST /twilio/status`,
    /// `POST /plivo/status`) when set by the operator (a custom domain, say);
    /// otherwise it is derived from API Gateway's request context.
    pub callback_url: Option<String>,
}

/// A client whose every request, connecting included, ends within
/// `timeout`. Connecting has half of it, so that a connection that cannot be
/// opened fails as such (certainly not sent) rather than as the request's
/// timeout, which fires first when both are equal (and means "maybe sent").
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    super::https::client_builder()
        .timeout(timeout)
        .connect_timeout(timeout / 2)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

/// `url` with `query` added to the query it may already have.
pub(crate) fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// `callback` with the query that identifies the code the report will be
/// about (not the code itself): `verification=<id>&sent_at=<unix seconds>`.
pub(crate) fn report_url(callback: &str, message: &OutgoingMessage) -> String {
    with_query(
        callback,
        &format!(
            "verification={}&sent_at={}",
            message.verification_id.as_str(),
            message.sent_at.unix_seconds()
        ),
    )
}

/// The name and value pairs of a query or form body, decoded.
pub(crate) fn decoded_pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// The value of the first pair named `name`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The code a delivery report is about, read back from the query
/// `report_url` added (decoded pairs): `None` unless both are well formed.
pub(crate) fn reported_code(query: &[(String, String)]) -> Option<(VerificationId, Timestamp)> {
    let id = param(query, "verification")
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let sent_at = param(query, "sent_at")?.parse().ok()?;
    Some((
        VerificationId::from_stored(id.to_owned()),
        Timestamp::from_unix_seconds(sent_at),
    ))
}

/// Sends `request`, which carries `message`, and records its latency as
/// `metric` with `dimensions`: the provider's answer and the latency, or,
/// when no answer came, what that means for the message.
pub(crate) async fn send(
    provider: &'static str,
    request: reqwest::RequestBuilder,
    message: &OutgoingMessage,
    (metric, dimensions): (&str, &[(&str, &str)]),
) -> Result<(reqwest::Response, u128), Result<Handover, DeliveryError>> {
    let started = Instant::now();
    let sent = request.send().await;
    let latency_ms = started.elapsed().as_millis();
    crate::metrics::milliseconds(
        metric,
        u64::try_from(latency_ms).unwrap_or(u64::MAX),
        dimensions,
    );
    match sent {
        Ok(response) => Ok((response, latency_ms)),
        Err(error) => Err(unanswered(provider, message, &error, latency_ms)),
    }
}

/// What a request that got no answer means. Not connected (refused, DNS,
/// TLS, connect timeout): the provider never saw it, so it was certainly
/// not sent. Anything later (timed out, connection lost): the provider may
/// well have taken it, and retrying, here or elsewhere, would send a
/// second code.
fn unanswered(
    provider: &'static str,
    message: &OutgoingMessage,
    error: &reqwest::Error,
    latency_ms: u128,
) -> Result<Handover, DeliveryError> {
    let described = describe_transport_error(error);
    if error.is_connect() {
        return Err(DeliveryError::Unavailable(format!(
            "{provider}: {described}"
        )));
    }
    tracing::warn!(
        provider,
        to = %message.to,
        error = described,
        latency_ms,
        "{provider} did not answer: the message may have been sent"
    );
    Ok(Handover::Unconfirmed)
}

/// Names the kind of failure without the URL (it holds the account's id).
pub(crate) fn describe_transport_error(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "could not connect".into()
    } else if error.is_timeout() {
        "timed out".into()
    } else {
        "request failed".into()
    }
}

/// `text` as XML character data or an attribute value (TwiML, SSML).
pub(crate) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, PhoneNumber};
    use crate::ports::Content;
    use secrecy::SecretBox;

    fn message() -> OutgoingMessage {
        OutgoingMessage {
            answer_by: None,
            to: PhoneNumber::parse("+14155550123", None).unwrap(),
            channel: Channel::Sms,
            content: SecretBox::new(Box::new(Content::Text("Your code is 123456.".into()))),
            verification_id: VerificationId::from_stored("0123456789abcdef0123456789abcdef".into()),
            sent_at: Timestamp::from_unix_seconds(1_800_000_000),
            status_callbacks: Default::default(),
        }
    }

    #[test]
    fn the_report_url_names_the_code_and_reads_back() {
        let message = message();
        let url = report_url("https://api.example.com/status", &message);
        assert_eq!(
            url,
            "https://api.example.com/status?verification=0123456789abcdef0123456789abcdef&sent_at=1800000000"
        );
        assert_eq!(
            report_url("https://api.example.com/status?service=VA1", &message),
            "https://api.example.com/status?service=VA1&verification=0123456789abcdef0123456789abcdef&sent_at=1800000000"
        );
        let query = decoded_pairs(url.split_once('?').unwrap().1);
        assert_eq!(
            reported_code(&query),
            Some((message.verification_id, message.sent_at))
        );
    }

    #[test]
    fn a_malformed_report_query_names_no_code() {
        for query in [
            "",
            "sent_at=1800000000",
            "verification=0123456789abcdef0123456789abcdef",
            "verification=0123&sent_at=1800000000",
            "verification=0123456789abcdef0123456789abcdeg&sent_at=1800000000",
            "verification=0123456789abcdef0123456789abcdef&sent_at=soon",
        ] {
            assert_eq!(reported_code(&decoded_pairs(query)), None, "{query}");
        }
    }
}
