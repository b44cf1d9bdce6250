//! Server-to-server authentication: HTTP Basic with an API key SID and
//! secret, as Twilio's libraries send it.

use base64::Engine;
use lambda_http::Request;
use lambda_http::http::header;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The API keys that may call the Verify API (`VERIFY_API_KEYS`, from
/// Parameter Store): several at once, so a key rotates without downtime.
#[derive(Debug, Clone)]
pub struct ApiKeys(Vec<(String, SecretString)>);

/// Secrets shorter than this are refused by the configuration.
pub const MIN_SECRET_LENGTH: usize = 16;

impl ApiKeys {
    /// `SID:secret` pairs separated by commas; `None` when one is malformed
    /// (an empty SID, a `:` in it, a secret shorter than 16 characters).
    pub fn parse(list: &str) -> Option<Self> {
        let keys: Option<Vec<_>> = list
            .split(',')
            .map(|pair| {
                let (sid, secret) = pair.trim().split_once(':')?;
                let well_formed = !sid.is_empty()
                    && sid.bytes().all(|b| b.is_ascii_alphanumeric())
                    && secret.len() >= MIN_SECRET_LENGTH;
                well_formed.then(|| (sid.to_owned(), SecretString::from(secret.to_owned())))
            })
            .collect();
        keys.filter(|keys| !keys.is_empty()).map(Self)
    }

    /// The SID of the key the request's `Authorization: Basic` header holds,
    /// if it is one of ours. Every key's secret is compared, each in
    /// constant time, so the answer's timing does not tell which part of a
    /// guess was right.
    pub fn authenticate(&self, request: &Request) -> Option<String> {
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (sid, secret) = decoded.split_once(':')?;
        let mut found = None;
        for (key_sid, key_secret) in &self.0 {
            let matches = key_sid.as_bytes().ct_eq(sid.as_bytes())
                & key_secret
                    .expose_secret()
                    .as_bytes()
                    .ct_eq(secret.as_bytes());
            if bool::from(matches) {
                found = Some(key_sid.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    fn basic(sid: &str, secret: &str) -> String {
        let pair = format!("{sid}:{secret}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    #[test]
    fn any_configured_key_authenticates_and_nothing_else_does() {
        let keys =
            ApiKeys::parse("SKold:old secret 0123456789, SKnew:new secret 0123456789").unwrap();
        let with = |value: &str| keys.authenticate(&request(Some(value)));
        assert_eq!(
            with(&basic("SKold", "old secret 0123456789")).as_deref(),
            Some("SKold")
        );
        assert_eq!(
            with(&basic("SKnew", "new secret 0123456789")).as_deref(),
            Some("SKnew")
        );
        for refused in [
            basic("SKold", "new secret 0123456789"),
            basic("SKnew", "new secret 012345678"),
            basic("SKother", "new secret 0123456789"),
            basic("", ""),
            "Basic !!!".into(),
            "Bearer SKnew:new secret 0123456789".into(),
        ] {
            assert_eq!(with(&refused), None, "{refused}");
        }
        assert_eq!(keys.authenticate(&request(None)), None);
    }

    #[test]
    fn malformed_key_lists_are_refused() {
        for list in [
            "",
            "SK1",
            "SK1:short",
            ":secret 0123456789abc",
            "SK 1:secret 0123456789abc",
        ] {
            assert!(ApiKeys::parse(list).is_none(), "{list}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let keys = ApiKeys::parse("SK1:secret 0123456789abc").unwrap();
        assert!(!format!("{keys:?}").contains("secret 0123456789abc"));
    }
}
