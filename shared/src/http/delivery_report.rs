//! The providers' delivery report webhooks (`POST /twilio/status`,
//! `POST /plivo/status`): form parameters, signed by the provider, plus the
//! query we put in the callback URL. What Twilio's say is read here;
//! Plivo's, by its adapter (`PlivoReport`). AWS's events (`POST /aws/events`)
//! share only the body's bound: SNS posts JSON, read by `adapters::sns`.

use lambda_http::{Body, Request};

use super::params::MAX_BODY_BYTES;
use super::{ApiError, RequestError};
use crate::adapters::provider::{decoded_pairs, param, reported_code};
use crate::domain::{PhoneNumber, Timestamp, VerificationId};

/// A provider's status callback: form parameters (Twilio's `MessageStatus`
/// or `CallStatus`, `To`, ...) plus the query we put in the callback URL.
#[derive(Debug)]
pub struct DeliveryReport {
    /// Every form parameter, as the signature covers them all.
    pub params: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

/// A report's body as received (empty when none), within the size bound.
pub fn report_body(request: &Request) -> Result<&[u8], ApiError> {
    let body: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    match body.len() > MAX_BODY_BYTES {
        true => Err(RequestError::BodyTooLarge.into()),
        false => Ok(body),
    }
}

impl DeliveryReport {
    pub fn read(request: &Request) -> Result<Self, ApiError> {
        let body = report_body(request)?;
        Ok(Self {
            params: form_urlencoded::parse(body).into_owned().collect(),
            query: decoded_pairs(request.uri().query().unwrap_or("")),
        })
    }

    /// Whether the message or call never reached the user. A call that was
    /// `busy` or had `no-answer` did ring the phone: giving its limits back
    /// would let anyone ring a number again and again (call bombing).
    pub fn unreached(&self) -> bool {
        let message = param(&self.params, "MessageStatus");
        let call = param(&self.params, "CallStatus");
        matches!(message, Some("failed" | "undelivered")) || matches!(call, Some("failed"))
    }

    /// The Verify service of the message, unless it is the stack's own.
    pub fn service(&self) -> Option<&str> {
        param(&self.query, "service")
    }

    /// The number, verification and send time the report is about.
    pub fn code(&self) -> Result<(PhoneNumber, VerificationId, Timestamp), ApiError> {
        let malformed = || ApiError::from(RequestError::MalformedDeliveryReport);
        let to = param(&self.params, "To").ok_or_else(malformed)?;
        let phone = PhoneNumber::parse(to.trim_start_matches("whatsapp:"), None)
            .map_err(|_| malformed())?;
        let (id, sent_at) = reported_code(&self.query).ok_or_else(malformed)?;
        Ok((phone, id, sent_at))
    }
}
