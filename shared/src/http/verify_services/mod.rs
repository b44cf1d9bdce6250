//! The Verify API as a stack configures it: its services (its own and any
//! others) and the API keys that may call them. The Verify handlers serve
//! these services; the send function's delivery reports find theirs here.

mod auth;

pub use auth::{ApiKeys, Caller, Grant, MIN_SECRET_LENGTH};

use crate::ports::StatusCallbacks;
use crate::service::ServiceRules;

/// The Verify API as configured: the stack's own service
/// (`VERIFY_SERVICE_SID`, with the stack's app name, code length and
/// channels), any others (`VERIFY_SERVICES`), and the API keys that may call
/// them.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    pub sid: String,
    pub others: Vec<OtherService>,
    pub keys: ApiKeys,
}

/// Another Verify service of the stack: its rules, and the app name its
/// messages use (the stack's when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherService {
    pub rules: ServiceRules,
    pub app_name: Option<String>,
}

/// A function's Verify API: the keys, and a verification service (`V`) per
/// service SID, the stack's own first.
pub struct VerifyServices<V> {
    pub(super) keys: ApiKeys,
    services: Vec<(String, V)>,
}

impl<V> VerifyServices<V> {
    /// `own` serves the stack's service; `other` makes each other one's.
    pub fn new(
        settings: VerifySettings,
        own: V,
        mut other: impl FnMut(&OtherService) -> V,
    ) -> Self {
        let others = settings
            .others
            .iter()
            .map(|service| (service.rules.sid.clone(), other(service)));
        Self {
            keys: settings.keys,
            services: std::iter::once((settings.sid, own)).chain(others).collect(),
        }
    }

    /// The service `sid` names.
    pub fn service(&self, sid: &str) -> Option<&V> {
        self.entry(sid).map(|(_, service)| service)
    }

    pub(super) fn entry(&self, sid: &str) -> Option<&(String, V)> {
        self.services.iter().find(|(known, _)| known == sid)
    }

    /// The stack's own service's SID.
    pub(super) fn own_sid(&self) -> &str {
        self.services.first().map_or("", |(own, _)| own.as_str())
    }

    /// Where the providers report on a message of service `sid`: the
    /// stack's own reports go to `callbacks` as the Parse endpoints' do,
    /// another's say which service they are about (the providers sign the
    /// whole URL).
    pub(super) fn callback_for(&self, sid: &str, callbacks: StatusCallbacks) -> StatusCallbacks {
        match self.own_sid() == sid {
            true => callbacks,
            false => StatusCallbacks {
                service: Some(sid.to_owned()),
                ..callbacks.map(|url| format!("{url}?service={sid}"))
            },
        }
    }
}

/// Whether `sid` is shaped as a Twilio Verify service SID: `VA` and 32 hex
/// digits.
pub fn is_service_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("VA") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}
