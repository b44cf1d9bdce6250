//! The settings both functions read: table, code key, code policy, limits,
//! destinations and test numbers.

use std::collections::{BTreeSet, HashMap};

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use super::settings::{checked, fits_app_name, getter, number};
use super::{Config, ConfigError, OperatorConfig};
use crate::adapters::clock::SystemClock;
use crate::domain::Timestamp;
use crate::domain::{
    Channel, CodeHasher, CodeLength, DestinationPolicy, FraudMode, FraudPolicy, IdentityHasher,
    Keyring, Limits, NO_COUNTRY, OneTimeCode, PhoneNumber,
};
use crate::http::verify_v2::{ApiKeys, OtherService, VerifySettings, is_service_sid};
use crate::ports::Clock;
use crate::service::{Keys, Policy, ServiceRules};

impl Config {
    /// Reads each common setting through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_at(lookup, SystemClock.now())
    }

    /// As `from_lookup`, with dates (the test numbers' validity) checked
    /// against `now`.
    pub fn from_lookup_at(
        lookup: impl Fn(&str) -> Option<String>,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let policy = policy(&get, now)?;
        Ok(Self {
            verify_api: verify_api(&get, &policy)?,
            table_name: table_name(&get)?,
            keys: Keys {
                codes: CodeHasher::new(keyring(
                    &get,
                    [
                        "CODE_HMAC_KEY",
                        "CODE_HMAC_KEY_ID",
                        "CODE_HMAC_PREVIOUS_KEYS",
                    ],
                    "v1",
                )?),
                identities: identities(&get)?,
            },
            policy,
            parse_application_id: get("PARSE_APPLICATION_ID"),
        })
    }
}

impl OperatorConfig {
    /// Reads the operator's settings through `lookup`: never the code key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        Ok(Self {
            policy: policy(&get, SystemClock.now())?,
            table_name: table_name(&get)?,
            identities: identities(&get)?,
        })
    }
}

fn table_name(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    get("VERIFICATIONS_TABLE").ok_or(ConfigError::Missing("VERIFICATIONS_TABLE"))
}

/// The identity key, which makes the pseudonyms of numbers and addresses.
fn identities(get: &impl Fn(&str) -> Option<String>) -> Result<IdentityHasher, ConfigError> {
    Ok(IdentityHasher::new(keyring(
        get,
        [
            "IDENTITY_HMAC_KEY",
            "IDENTITY_HMAC_KEY_ID",
            "IDENTITY_HMAC_PREVIOUS_KEYS",
        ],
        "i1",
    )?))
}

/// The code policy, limits, destinations, test numbers and fraud protection.
fn policy(get: &impl Fn(&str) -> Option<String>, now: Timestamp) -> Result<Policy, ConfigError> {
    let code_length =
        CodeLength::new(number(get, "CODE_LENGTH", 6, 4..=10)? as u8).unwrap_or_default();
    let test_numbers = get("TEST_PHONE_NUMBERS")
        .map_or(Ok(HashMap::new()), |list| test_numbers(&list, code_length))?;
    if !test_numbers.is_empty() && get("ENABLE_TEST_PHONE_NUMBERS").as_deref() != Some("true") {
        return Err(ConfigError::Invalid {
            name: "TEST_PHONE_NUMBERS",
            problem: "is set but ENABLE_TEST_PHONE_NUMBERS is not \"true\" (never enable test numbers in production)",
        });
    }
    let test_numbers_valid_until = match test_numbers.is_empty() {
        true => None,
        false => Some(test_numbers_valid_until(get, now)?),
    };
    Ok(Policy {
        code_length,
        code_ttl_seconds: number(get, "CODE_TTL_SECONDS", 600, 60..=86_400)?,
        max_attempts: number(get, "MAX_CHECK_ATTEMPTS", 5, 1..=20)? as u32,
        enabled_channels: enabled_channels(get)?,
        limits: limits(get)?,
        destinations: destinations(get)?,
        test_numbers,
        test_numbers_valid_until,
        fraud: fraud_policy(get)?,
    })
}

/// The Verify API's service and keys: both set, or neither (it is off);
/// and any other services (`VERIFY_SERVICES`).
fn verify_api(
    get: &impl Fn(&str) -> Option<String>,
    policy: &Policy,
) -> Result<Option<VerifySettings>, ConfigError> {
    let (sid, keys) = match (get("VERIFY_SERVICE_SID"), get("VERIFY_API_KEYS")) {
        (None, None) if get("VERIFY_SERVICES").is_some() => {
            return Err(ConfigError::Missing("VERIFY_SERVICE_SID"));
        }
        (None, None) => return Ok(None),
        (Some(sid), Some(keys)) => (sid.trim().to_owned(), keys),
        (None, Some(_)) => return Err(ConfigError::Missing("VERIFY_SERVICE_SID")),
        (Some(_), None) => return Err(ConfigError::Missing("VERIFY_API_KEYS")),
    };
    let sid = checked(
        "VERIFY_SERVICE_SID",
        sid,
        is_service_sid,
        "must be VA followed by 32 hex digits, as a Twilio Verify service SID",
    )?;
    let keys = ApiKeys::parse(&keys).ok_or(ConfigError::Invalid {
        name: "VERIFY_API_KEYS",
        problem: "must be comma-separated SID:secret or SID:secret:grants (letters and digits in the SID, secrets of 16 or more characters without ':', grants of service SIDs, '*' and 'approve' separated by '|')",
    })?;
    let others = match get("VERIFY_SERVICES") {
        Some(list) => other_services(&list, &sid, policy)?,
        None => Vec::new(),
    };
    let configured =
        |listed: &String| *listed == sid || others.iter().any(|other| other.rules.sid == *listed);
    if !keys
        .grants()
        .all(|grant| grant.listed_services().iter().all(configured))
    {
        return Err(ConfigError::Invalid {
            name: "VERIFY_API_KEYS",
            problem: "grants a service that is neither VERIFY_SERVICE_SID nor in VERIFY_SERVICES",
        });
    }
    Ok(Some(VerifySettings { sid, others, keys }))
}

/// The most services `VERIFY_SERVICES` may add (each costs a little init).
const MAX_OTHER_SERVICES: usize = 20;

/// `VERIFY_SERVICES`: `;`-separated `SID|app name|code length|channels`,
/// where each field after the SID may be left out or empty for the stack's
/// own (`APP_NAME`, `CODE_LENGTH`, `ENABLED_CHANNELS`); e.g.
/// `VA…|Shop|8|sms,call;VA…|Bank`.
fn other_services(
    list: &str,
    own_sid: &str,
    policy: &Policy,
) -> Result<Vec<OtherService>, ConfigError> {
    let invalid = |problem| ConfigError::Invalid {
        name: "VERIFY_SERVICES",
        problem,
    };
    let mut services: Vec<OtherService> = Vec::new();
    for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut fields = entry.split('|').map(str::trim);
        let sid = fields.next().unwrap_or_default();
        if !is_service_sid(sid) {
            return Err(invalid(
                "must start each service with its SID: VA followed by 32 hex digits",
            ));
        }
        if sid == own_sid || services.iter().any(|other| other.rules.sid == sid) {
            return Err(invalid(
                "names a service twice (VERIFY_SERVICE_SID is already the stack's own)",
            ));
        }
        let mut field = || fields.next().filter(|f| !f.is_empty());
        let app_name = match field() {
            Some(name) if !fits_app_name(name) => {
                return Err(invalid("gives an app name longer than 20 characters"));
            }
            name => name.map(str::to_owned),
        };
        let code_length = match field() {
            None => policy.code_length,
            Some(length) => length
                .parse()
                .ok()
                .and_then(CodeLength::new)
                .ok_or(invalid(
                    "gives a code length that is not a whole number from 4 to 10",
                ))?,
        };
        let channels = match field() {
            None => policy.enabled_channels.clone(),
            Some(list) => channels("VERIFY_SERVICES", list)?,
        };
        if fields.next().is_some() {
            return Err(invalid(
                "has more than SID|app name|code length|channels in a service",
            ));
        }
        services.push(OtherService {
            rules: ServiceRules {
                sid: sid.to_owned(),
                code_length,
                channels,
            },
            app_name,
        });
    }
    if services.len() > MAX_OTHER_SERVICES {
        return Err(invalid("adds more than 20 services"));
    }
    Ok(services)
}

/// `sms,call,whatsapp`; only SMS when unset.
fn enabled_channels(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BTreeSet<Channel>, ConfigError> {
    channels(
        "ENABLED_CHANNELS",
        &get("ENABLED_CHANNELS").unwrap_or_else(|| "sms".into()),
    )
}

/// A comma-separated list of channels, in setting `name`.
fn channels(name: &'static str, list: &str) -> Result<BTreeSet<Channel>, ConfigError> {
    list.split(',')
        .map(|channel| {
            channel
                .trim()
                .to_ascii_lowercase()
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    name,
                    problem: "must be a comma-separated list of sms, call, whatsapp",
                })
        })
        .collect()
}

/// A key setting `name` (32+ bytes), its id (`<name>_ID`, `default_id` when
/// unset) and, for rotation, the previous keys (`<name>_PREVIOUS_KEYS`:
/// `id:key,...`).
fn keyring(
    get: &impl Fn(&str) -> Option<String>,
    [name, id_name, previous_name]: [&'static str; 3],
    default_id: &str,
) -> Result<Keyring, ConfigError> {
    let key = get(name).ok_or(ConfigError::Missing(name))?;
    if key.len() < Keyring::MIN_KEY_BYTES {
        return Err(ConfigError::Invalid {
            name,
            problem: "must be at least 32 bytes of random data",
        });
    }
    let key_id = get(id_name).unwrap_or_else(|| default_id.into());
    let mut keys = Keyring::new(key_id.clone(), key.into_bytes());
    for entry in get(previous_name).iter().flat_map(|list| list.split(',')) {
        let (id, key) = entry
            .trim()
            .split_once(':')
            .filter(|(id, key)| !id.is_empty() && *id != key_id && key.len() >= Keyring::MIN_KEY_BYTES)
            .ok_or(ConfigError::Invalid {
                name: previous_name,
                problem: "must be comma-separated id:key pairs, keys of 32+ bytes, ids other than the current key's",
            })?;
        keys = keys.with_previous_key(id, key.as_bytes().to_vec());
    }
    Ok(keys)
}

/// The per-number, per-client and budget limits.
fn limits(get: &impl Fn(&str) -> Option<String>) -> Result<Limits, ConfigError> {
    let count = |name: &'static str, default: u64, max: u64| {
        number(get, name, default, 1..=max).map(|value| value as u32)
    };
    Ok(Limits {
        resend_cooldown_seconds: number(get, "RESEND_COOLDOWN_SECONDS", 60, 0..=86_400)?,
        fallback_after_seconds: number(get, "FALLBACK_AFTER_SECONDS", 30, 0..=86_400)?,
        sends_per_10_minutes: count("MAX_SENDS_PER_NUMBER_PER_10_MINUTES", 5, 1_000)?,
        sends_per_day: count("MAX_SENDS_PER_NUMBER_PER_DAY", 10, 10_000)?,
        calls_per_day: count("MAX_CALLS_PER_NUMBER_PER_DAY", 3, 10_000)?,
        client_requests_per_hour: count("MAX_REQUESTS_PER_CLIENT_PER_HOUR", 150, 10_000_000)?,
        client_sends_per_hour: count("MAX_SENDS_PER_CLIENT_PER_HOUR", 10, 10_000_000)?,
        api_key_requests_per_hour: count("MAX_REQUESTS_PER_API_KEY_PER_HOUR", 5_000, 10_000_000)?,
        api_key_sends_per_hour: count("MAX_SENDS_PER_API_KEY_PER_HOUR", 500, 10_000_000)?,
        failed_checks_before_lockout: count("LOCKOUT_AFTER_FAILED_CHECKS", 20, 100)?,
        lockout_seconds: number(get, "LOCKOUT_SECONDS", 3_600, 60..=604_800)?,
        messages_per_hour: count("MAX_MESSAGES_PER_HOUR", 1_000, 10_000_000)?,
        messages_per_country_per_hour: count("MAX_MESSAGES_PER_COUNTRY_PER_HOUR", 200, 10_000_000)?,
    })
}

/// Conversion-based fraud protection (`docs/security.md#fraud-protection`).
fn fraud_policy(get: &impl Fn(&str) -> Option<String>) -> Result<FraudPolicy, ConfigError> {
    let mode = match get("FRAUD_PROTECTION").as_deref().map(str::trim) {
        None | Some("on") => FraudMode::Enforce,
        Some("audit") => FraudMode::Audit,
        Some("off") => FraudMode::Off,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "FRAUD_PROTECTION",
                problem: "must be on, audit or off",
            });
        }
    };
    // Each threshold: its own variable, the default's value, an allowed range.
    let count = |name, default: u32, range| {
        number(get, name, u64::from(default), range).map(|value| value as u32)
    };
    let d = FraudPolicy::default();
    Ok(FraudPolicy {
        mode,
        prefix_digits: count("FRAUD_PREFIX_DIGITS", d.prefix_digits as u32, 4..=10)? as usize,
        prefix_min_sends: count(
            "FRAUD_MIN_SENDS_PER_PREFIX",
            d.prefix_min_sends,
            5..=100_000,
        )?,
        country_min_sends: count(
            "FRAUD_MIN_SENDS_PER_COUNTRY",
            d.country_min_sends,
            5..=1_000_000,
        )?,
        conversion_ratio_percent: count(
            "FRAUD_CONVERSION_RATIO_PERCENT",
            d.conversion_ratio_percent,
            1..=100,
        )?,
        expected_conversion_percent: count(
            "FRAUD_EXPECTED_CONVERSION_PERCENT",
            d.expected_conversion_percent,
            1..=100,
        )?,
        restriction_seconds: number(
            get,
            "FRAUD_RESTRICTION_SECONDS",
            d.restriction_seconds,
            60..=86_400,
        )?,
        max_restriction_seconds: number(
            get,
            "FRAUD_MAX_RESTRICTION_SECONDS",
            d.max_restriction_seconds,
            60..=86_400,
        )?,
        verified_memory_seconds: number(
            get,
            "FRAUD_VERIFIED_MEMORY_DAYS",
            d.verified_memory_seconds / 86_400,
            0..=400,
        )? * 86_400,
        restricted_country_budget_percent: count(
            "FRAUD_RESTRICTED_COUNTRY_BUDGET_PERCENT",
            d.restricted_country_budget_percent,
            0..=100,
        )?,
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

/// How far ahead test numbers may be valid: long enough for an app store
/// review, short enough that a forgotten review number dies by itself.
const TEST_NUMBERS_MAX_DAYS: i64 = 90;

/// Until when (exclusive) test numbers work: `TEST_PHONE_NUMBERS_VALID_UNTIL`,
/// a UTC date (valid through the end of that day) or an RFC 3339 time, still
/// ahead of `now` and at most 90 days ahead (a date: at most 90 days after
/// today).
fn test_numbers_valid_until(
    get: &impl Fn(&str) -> Option<String>,
    now: Timestamp,
) -> Result<Timestamp, ConfigError> {
    let invalid = |problem| ConfigError::Invalid {
        name: "TEST_PHONE_NUMBERS_VALID_UNTIL",
        problem,
    };
    let text = get("TEST_PHONE_NUMBERS_VALID_UNTIL")
        .ok_or(ConfigError::Missing("TEST_PHONE_NUMBERS_VALID_UNTIL"))?;
    let text = text.trim();
    // (the end of the validity, the moment the 90-day limit applies to)
    let (until, named) = match (utc_date(text), OffsetDateTime::parse(text, &Rfc3339)) {
        (Some(day_start), _) => (day_start + 86_400, day_start),
        (None, Ok(time)) => (time.unix_timestamp(), time.unix_timestamp()),
        (None, Err(_)) => {
            return Err(invalid(
                "must be a UTC date such as 2026-12-31 (valid through its end) or an RFC 3339 time such as 2026-12-31T18:00:00Z",
            ));
        }
    };
    let now = now.unix_seconds();
    if until <= now {
        return Err(invalid(
            "has passed: the test numbers expired (remove TEST_PHONE_NUMBERS, or set a new date for the next review)",
        ));
    }
    if named > now + TEST_NUMBERS_MAX_DAYS * 86_400 {
        return Err(invalid(
            "is more than 90 days ahead: test numbers are for a review window, not for good",
        ));
    }
    Ok(Timestamp::from_unix_seconds(until))
}

/// `2026-12-31` -> the Unix time of that day's start, UTC.
fn utc_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |part: &str, len: usize| {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i32>().ok())
            .flatten()
    };
    if parts.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(
        digits(year, 4)?,
        Month::try_from(u8::try_from(digits(month, 2)?).ok()?).ok()?,
        u8::try_from(digits(day, 2)?).ok()?,
    )
    .ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}
