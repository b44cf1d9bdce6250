//! Server-to-server authentication: HTTP Basic with an API key SID and
//! secret, as Twilio's libraries send it. Each key is scoped: the services
//! it may use, and whether it may approve a verification without its code.

use base64::Engine;
use lambda_http::Request;
use lambda_http::http::header;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::is_service_sid;

/// The API keys that may call the Verify API (`VERIFY_API_KEYS`, from
/// Parameter Store): several at once, so a key rotates without downtime.
#[derive(Debug, Clone)]
pub struct ApiKeys(Vec<ApiKey>);

/// One key: its SID, its secret and what it may do.
#[derive(Debug, Clone)]
struct ApiKey {
    sid: String,
    secret: SecretString,
    grant: Grant,
}

/// What an authenticated key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The services it may call: `None` is the stack's own only.
    services: Option<Services>,
    /// May set `Status=approved` (approve without a code): off unless granted.
    pub approve: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Services {
    All,
    Listed(Vec<String>),
}

/// The key that authenticated a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sid: String,
    pub grant: Grant,
}

impl Grant {
    /// Whether the key may call service `sid` of a stack whose own is `own`.
    pub fn may_use(&self, sid: &str, own: &str) -> bool {
        match &self.services {
            None => sid == own,
            Some(Services::All) => true,
            Some(Services::Listed(sids)) => sids.iter().any(|listed| listed == sid),
        }
    }

    /// The services the key names, to be checked against the configured ones.
    pub fn listed_services(&self) -> &[String] {
        match &self.services {
            Some(Services::Listed(sids)) => sids,
            _ => &[],
        }
    }

    /// `|`-separated: service SIDs, `*` (every service) and `approve`;
    /// empty: the stack's own service, no approval.
    fn parse(grants: &str) -> Option<Self> {
        let mut grant = Grant {
            services: None,
            approve: false,
        };
        for item in grants.split('|').map(str::trim).filter(|g| !g.is_empty()) {
            match (item, &mut grant.services) {
                ("approve", _) => grant.approve = true,
                ("*", None) => grant.services = Some(Services::All),
                (sid, None) if is_service_sid(sid) => {
                    grant.services = Some(Services::Listed(vec![sid.to_owned()]));
                }
                (sid, Some(Services::Listed(sids))) if is_service_sid(sid) => {
                    sids.push(sid.to_owned());
                }
                _ => return None,
            }
        }
        Some(grant)
    }
}

/// Secrets shorter than this are refused by the configuration.
pub const MIN_SECRET_LENGTH: usize = 16;

impl ApiKeys {
    /// Comma-separated `SID:secret[:grants]` (see `Grant::parse`); `None`
    /// when one is malformed (an empty SID or one of other than letters and
    /// digits, a secret shorter than 16 characters or with a `:`, an
    /// unknown grant).
    pub fn parse(list: &str) -> Option<Self> {
        let keys: Option<Vec<_>> = list
            .split(',')
            .map(|entry| {
                let mut fields = entry.trim().splitn(3, ':');
                let (sid, secret) = (fields.next()?, fields.next()?);
                let grant = Grant::parse(fields.next().unwrap_or_default())?;
                let well_formed = !sid.is_empty()
                    && sid.bytes().all(|b| b.is_ascii_alphanumeric())
                    && secret.len() >= MIN_SECRET_LENGTH;
                well_formed.then(|| ApiKey {
                    sid: sid.to_owned(),
                    secret: SecretString::from(secret.to_owned()),
                    grant,
                })
            })
            .collect();
        keys.filter(|keys| !keys.is_empty()).map(Self)
    }

    /// Each key's grant, to check the services they name.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.0.iter().map(|key| &key.grant)
    }

    /// The key the request's `Authorization: Basic` header holds, if it is
    /// one of ours. Every key's secret is compared, each in constant time,
    /// so the answer's timing does not tell which part of a guess was right.
    pub fn authenticate(&self, request: &Request) -> Option<Caller> {
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
        for key in &self.0 {
            let matches = key.sid.as_bytes().ct_eq(sid.as_bytes())
                & key
                    .secret
                    .expose_secret()
                    .as_bytes()
                    .ct_eq(secret.as_bytes());
            if bool::from(matches) {
                found = Some(Caller {
                    sid: key.sid.clone(),
                    grant: key.grant.clone(),
                });
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
        let with = |value: &str| {
            keys.authenticate(&request(Some(value)))
                .map(|caller| caller.sid)
        };
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

    const OWN: &str = "VA00000000000000000000000000000001";
    const SHOP: &str = "VA00000000000000000000000000000002";
    const BANK: &str = "VA00000000000000000000000000000003";

    fn grant_of(entry: &str) -> Grant {
        let keys = ApiKeys::parse(entry).unwrap();
        keys.grants().next().unwrap().clone()
    }

    #[test]
    fn a_key_uses_its_own_services_and_approves_only_when_granted() {
        let plain = grant_of("SK1:secret 0123456789abc");
        assert!(plain.may_use(OWN, OWN) && !plain.may_use(SHOP, OWN));
        assert!(!plain.approve, "approval without a code is off by default");

        let listed = grant_of(&format!("SK1:secret 0123456789abc:{SHOP}|{BANK}"));
        assert!(listed.may_use(SHOP, OWN) && listed.may_use(BANK, OWN));
        assert!(!listed.may_use(OWN, OWN), "only what it lists");
        assert_eq!(listed.listed_services(), [SHOP, BANK]);

        let all = grant_of("SK1:secret 0123456789abc:*|approve");
        assert!(all.may_use(OWN, OWN) && all.may_use(BANK, OWN) && all.approve);
    }

    #[test]
    fn malformed_key_lists_are_refused() {
        for list in [
            "",
            "SK1",
            "SK1:short",
            ":secret 0123456789abc",
            "SK 1:secret 0123456789abc",
            "SK1:secret 0123456789abc:VA1",
            "SK1:secret 0123456789abc:approve|admin",
            "SK1:secret 0123456789abc:*|VA00000000000000000000000000000002",
            "SK1:secret:with a colon 0123456789",
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
