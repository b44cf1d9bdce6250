//! The settings both functions read: table, code key, code policy, limits,
//! destinations and test numbers.

use std::collections::{BTreeSet, HashMap};

use super::settings::{getter, number};
use super::{Config, ConfigError};
use crate::domain::{
    Channel, CodeHasher, CodeLength, DestinationPolicy, Limits, NO_COUNTRY, OneTimeCode,
    PhoneNumber,
};
use crate::service::Policy;

impl Config {
    /// Reads each common setting through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let require = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let code_length =
            CodeLength::new(number(&get, "CODE_LENGTH", 6, 4..=10)? as u8).unwrap_or_default();
        let test_numbers = get("TEST_PHONE_NUMBERS")
            .map_or(Ok(HashMap::new()), |list| test_numbers(&list, code_length))?;
        if !test_numbers.is_empty() && get("ENABLE_TEST_PHONE_NUMBERS").as_deref() != Some("true") {
            return Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                problem: "is set but ENABLE_TEST_PHONE_NUMBERS is not \"true\" (never enable test numbers in production)",
            });
        }
        Ok(Self {
            table_name: require("VERIFICATIONS_TABLE")?,
            hasher: code_hasher(&get)?,
            policy: Policy {
                code_length,
                code_ttl_seconds: number(&get, "CODE_TTL_SECONDS", 600, 60..=86_400)?,
                max_attempts: number(&get, "MAX_CHECK_ATTEMPTS", 5, 1..=20)? as u32,
                enabled_channels: enabled_channels(&get)?,
                limits: limits(&get)?,
                destinations: destinations(&get)?,
                test_numbers,
            },
            parse_application_id: get("PARSE_APPLICATION_ID"),
        })
    }
}

/// `sms,call,whatsapp`; only SMS when unset.
fn enabled_channels(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BTreeSet<Channel>, ConfigError> {
    get("ENABLED_CHANNELS")
        .unwrap_or_else(|| "sms".into())
        .split(',')
        .map(|name| {
            name.trim()
                .to_ascii_lowercase()
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    name: "ENABLED_CHANNELS",
                    problem: "must be a comma-separated list of sms, call, whatsapp",
                })
        })
        .collect()
}

/// The current code key and, for rotation, the previous ones (`id:key,...`).
fn code_hasher(get: &impl Fn(&str) -> Option<String>) -> Result<CodeHasher, ConfigError> {
    let hmac_key = get("CODE_HMAC_KEY").ok_or(ConfigError::Missing("CODE_HMAC_KEY"))?;
    if hmac_key.len() < CodeHasher::MIN_KEY_BYTES {
        return Err(ConfigError::Invalid {
            name: "CODE_HMAC_KEY",
            problem: "must be at least 32 bytes of random data",
        });
    }
    let key_id = get("CODE_HMAC_KEY_ID").unwrap_or_else(|| "v1".into());
    let mut hasher = CodeHasher::new(key_id.clone(), hmac_key.into_bytes());
    for entry in get("CODE_HMAC_PREVIOUS_KEYS")
        .iter()
        .flat_map(|list| list.split(','))
    {
        let (id, key) = entry
            .trim()
            .split_once(':')
            .filter(|(id, key)| !id.is_empty() && *id != key_id && key.len() >= CodeHasher::MIN_KEY_BYTES)
            .ok_or(ConfigError::Invalid {
                name: "CODE_HMAC_PREVIOUS_KEYS",
                problem: "must be comma-separated id:key pairs, keys of 32+ bytes, ids other than CODE_HMAC_KEY_ID",
            })?;
        hasher = hasher.with_previous_key(id, key.as_bytes().to_vec());
    }
    Ok(hasher)
}

/// The per-number, per-client and budget limits.
fn limits(get: &impl Fn(&str) -> Option<String>) -> Result<Limits, ConfigError> {
    let count = |name: &'static str, default: u64, max: u64| {
        number(get, name, default, 1..=max).map(|value| value as u32)
    };
    Ok(Limits {
        resend_cooldown_seconds: number(get, "RESEND_COOLDOWN_SECONDS", 60, 0..=86_400)?,
        sends_per_10_minutes: count("MAX_SENDS_PER_NUMBER_PER_10_MINUTES", 5, 1_000)?,
        sends_per_day: count("MAX_SENDS_PER_NUMBER_PER_DAY", 10, 10_000)?,
        client_requests_per_hour: count("MAX_REQUESTS_PER_CLIENT_PER_HOUR", 150, 10_000_000)?,
        client_sends_per_hour: count("MAX_SENDS_PER_CLIENT_PER_HOUR", 10, 10_000_000)?,
        failed_checks_before_lockout: count("LOCKOUT_AFTER_FAILED_CHECKS", 20, 100)?,
        lockout_seconds: number(get, "LOCKOUT_SECONDS", 3_600, 60..=604_800)?,
        messages_per_hour: count("MAX_MESSAGES_PER_HOUR", 1_000, 10_000_000)?,
        messages_per_country_per_hour: count("MAX_MESSAGES_PER_COUNTRY_PER_HOUR", 200, 10_000_000)?,
    })
}

/// The country allow and deny lists.
fn destinations(get: &impl Fn(&str) -> Option<String>) -> Result<DestinationPolicy, ConfigError> {
    Ok(DestinationPolicy {
        allowed_countries: get("ALLOWED_COUNTRIES")
            .map(|list| countries("ALLOWED_COUNTRIES", &list))
            .transpose()?,
        denied_countries: get("DENIED_COUNTRIES").map_or(Ok(BTreeSet::new()), |list| {
            countries("DENIED_COUNTRIES", &list)
        })?,
        // Known to the send function only (it holds the Twilio settings).
        own_numbers: BTreeSet::new(),
    })
}

/// `US, ca,DE,001` -> {"001", "CA", "DE", "US"}: ISO 3166 alpha-2 codes, and
/// "001" for the numbers of no country (satellite and international networks).
fn countries(name: &'static str, list: &str) -> Result<BTreeSet<String>, ConfigError> {
    list.split(',')
        .map(|code| code.trim().to_ascii_uppercase())
        .map(|code| {
            let iso = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
            (iso || code == NO_COUNTRY)
                .then_some(code)
                .ok_or(ConfigError::Invalid {
                    name,
                    problem: "must be comma-separated ISO 3166 country codes such as US,CA (001: numbers of no country)",
                })
        })
        .collect()
}

/// `+14155550100=123456,+14155550101=654321`: test numbers and their fixed codes.
fn test_numbers(
    list: &str,
    length: CodeLength,
) -> Result<HashMap<String, OneTimeCode>, ConfigError> {
    let invalid = ConfigError::Invalid {
        name: "TEST_PHONE_NUMBERS",
        problem: "must be comma-separated +E164=CODE pairs with codes of CODE_LENGTH digits",
    };
    list.split(',')
        .map(|pair| {
            let (number, code) = pair.split_once('=').ok_or(invalid.clone())?;
            let number = PhoneNumber::parse(number, None).map_err(|_| invalid.clone())?;
            let code = OneTimeCode::parse(code, length).map_err(|_| invalid.clone())?;
            Ok((number.as_e164().to_owned(), code))
        })
        .collect()
}
