use lambda_http::http::{Method, header};
use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use crate::domain::{Channel, CodeLength, OneTimeCode, PhoneNumber};

use super::ApiError;

/// Requests are a few dozen bytes; anything this big is not a client of ours.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("use POST")]
    MethodNotAllowed,
    #[error("no such route")]
    UnknownRoute,
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("empty body")]
    EmptyBody,
    #[error("body too large")]
    BodyTooLarge,
    #[error("body is not JSON")]
    InvalidJson,
    #[error("body is not a JSON object")]
    NotAnObject,
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("parameter {0} must be a string")]
    NotAString(&'static str),
    #[error("invalid locale")]
    InvalidLocale,
    #[error("invalid human proof")]
    InvalidHumanProof,
    #[error("wrong or missing application id")]
    WrongApplicationId,
    #[error("invalid idempotency key")]
    InvalidIdempotencyKey,
    #[error("idempotency key in use")]
    IdempotencyKeyInUse,
    #[error("delivery reports are not enabled")]
    DeliveryReportsDisabled,
    #[error("invalid provider signature")]
    InvalidSignature,
    #[error("malformed delivery report")]
    MalformedDeliveryReport,
}

/// The parameters of a cloud-function call: the JSON object in the body,
/// without the `_`-prefixed fields the Parse SDKs add.
#[derive(Debug)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Reads a JSON object sent as `application/json` or `text/plain` (as
    /// the Parse JS SDK does); API Gateway's base64 bodies arrive decoded.
    /// When `application_id` is set, the request must carry it.
    pub fn read(request: &Request, application_id: Option<&str>) -> Result<Self, ApiError> {
        Ok(Self::read_object(request, application_id)?)
    }

    fn read_object(request: &Request, application_id: Option<&str>) -> Result<Self, RequestError> {
        if request.method() != Method::POST {
            return Err(RequestError::MethodNotAllowed);
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        if !matches!(
            content_type.as_deref(),
            None | Some("application/json" | "text/plain")
        ) {
            return Err(RequestError::UnsupportedMediaType);
        }
        let bytes: &[u8] = match request.body() {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => return Err(RequestError::InvalidJson),
        };
        // Some clients (.NET, PowerShell) start UTF-8 text with a byte order mark.
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(RequestError::EmptyBody);
        }
        if bytes.len() > MAX_BODY_BYTES {
            return Err(RequestError::BodyTooLarge);
        }
        let Value::Object(mut object) =
            serde_json::from_slice(bytes).map_err(|_| RequestError::InvalidJson)?
        else {
            return Err(RequestError::NotAnObject);
        };
        if let Some(expected) = application_id {
            let from_header = request
                .headers()
                .get("x-parse-application-id")
                .and_then(|value| value.to_str().ok());
            let from_body = object.get("_ApplicationId").and_then(Value::as_str);
            if from_header.or(from_body) != Some(expected) {
                return Err(RequestError::WrongApplicationId);
            }
        }
        object.retain(|name, _| !name.starts_with('_'));
        Ok(Self(object))
    }

    /// An optional string parameter; `null` counts as absent.
    fn optional_str(&self, name: &'static str) -> Result<Option<&str>, RequestError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(RequestError::NotAString(name)),
        }
    }

    fn required_str(&self, name: &'static str) -> Result<&str, RequestError> {
        self.optional_str(name)?
            .filter(|text| !text.trim().is_empty())
            .ok_or(RequestError::Missing(name))
    }

    /// `phoneNumber`, in international form or national with a
    /// `defaultRegion` (alias `countryCode`) such as "US".
    pub fn phone_number(&self) -> Result<PhoneNumber, ApiError> {
        let number = self.required_str("phoneNumber")?;
        let region = match self.optional_str("defaultRegion")? {
            Some(region) => Some(region),
            None => self.optional_str("countryCode")?,
        };
        Ok(PhoneNumber::parse(number, region)?)
    }

    /// `channel`, `sms` when absent.
    pub fn channel(&self) -> Result<Channel, ApiError> {
        Ok(self
            .optional_str("channel")?
            .map(str::parse)
            .transpose()?
            .unwrap_or_default())
    }

    /// `locale`: a BCP 47 language tag such as `en` or `pt-BR`.
    pub fn locale(&self) -> Result<Option<&str>, ApiError> {
        let locale = self.optional_str("locale")?;
        match locale {
            Some(tag) if !well_formed_locale(tag) => Err(RequestError::InvalidLocale.into()),
            _ => Ok(locale),
        }
    }

    /// `humanProof`: a human check's token, for a restricted destination.
    pub fn human_proof(&self) -> Result<Option<String>, ApiError> {
        match self.optional_str("humanProof")? {
            Some(token) if !well_formed_human_proof(token) => {
                Err(RequestError::InvalidHumanProof.into())
            }
            token => Ok(token.map(str::to_owned)),
        }
    }

    /// The `Idempotency-Key` header or the `idempotencyKey` parameter: 1 to
    /// 255 visible ASCII characters. When both are given, both must be valid
    /// and the same.
    pub fn idempotency_key(&self, request: &Request) -> Result<Option<String>, ApiError> {
        let from_header = request
            .headers()
            .get("idempotency-key")
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| RequestError::InvalidIdempotencyKey)
            })
            .transpose()?;
        let key = match (from_header, self.optional_str("idempotencyKey")?) {
            (None, None) => return Ok(None),
            (Some(header), Some(body)) if header != body => {
                return Err(RequestError::InvalidIdempotencyKey.into());
            }
            (Some(key), _) | (None, Some(key)) => key,
        };
        let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Some(key.to_owned()))
        } else {
            Err(RequestError::InvalidIdempotencyKey.into())
        }
    }

    /// `phoneVerificationCode`: exactly `length` digits, as a string.
    pub fn code(&self, length: CodeLength) -> Result<OneTimeCode, ApiError> {
        let code = self.required_str("phoneVerificationCode")?;
        Ok(OneTimeCode::parse(code, length)?)
    }
}

/// A human check's token as the providers issue them: visible ASCII, at
/// most 4096 characters (Turnstile's are up to 2048).
pub(crate) fn well_formed_human_proof(token: &str) -> bool {
    (1..=4096).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// A BCP 47 language tag's shape (`pt-BR`, `zh_Hant`): what a locale may be.
pub(crate) fn well_formed_locale(tag: &str) -> bool {
    (2..=35).contains(&tag.len())
        && tag.split(['-', '_']).all(|part| {
            !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}
