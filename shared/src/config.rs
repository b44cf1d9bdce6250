//! Configuration from environment variables, checked once at start-up so a
//! deployment with a missing or bad value fails at init with a clear message
//! instead of on the first request. Empty values count as unset (SAM passes
//! empty strings for optional parameters).

use std::time::Duration;

use crate::adapters::twilio::{
    DeliveryReports, TwilioConfig, TwilioCredentials, TwilioSenderId, WebhookValidator,
};
use std::collections::{BTreeSet, HashMap};

use base64::Engine;

use crate::domain::{
    Channel, CodeHasher, CodeLength, DestinationPolicy, Limits, NO_COUNTRY, OneTimeCode,
    PhoneNumber,
};
use crate::messages::{MessageSettings, MessageTooLong, Messages};
use crate::proof::ProofSigner;
use crate::service::Policy;

/// What both functions need.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub hasher: CodeHasher,
    pub policy: Policy,
    /// When set, requests must carry it (`X-Parse-Application-Id` or `_ApplicationId`).
    pub parse_application_id: Option<String>,
}

/// The send function's configuration: Twilio and the message texts.
#[derive(Debug, Clone)]
pub struct SendConfig {
    pub common: Config,
    pub twilio: TwilioConfig,
    pub messages: Messages,
    /// Present when Twilio's delivery reports can be checked (an auth token
    /// is known): they go to `POST /twilio/status`.
    pub delivery_reports: Option<DeliveryReports>,
}

/// The verify function's configuration: the proof signing key.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub common: Config,
    /// When set, approvals carry a signed proof (JWT).
    pub proof: Option<ProofSigner>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing configuration: set the environment variable {0}")]
    Missing(&'static str),
    #[error("missing configuration: set {0} or {1}")]
    MissingOneOf(&'static str, &'static str),
    #[error("invalid configuration: {0}")]
    Messages(#[from] MessageTooLong),
    #[error("invalid configuration: {name} {problem}")]
    Invalid {
        name: &'static str,
        problem: &'static str,
    },
    #[error(
        "invalid configuration: SETTINGS holds {0}, which is not a tuning setting (see README)"
    )]
    UnknownSetting(String),
}

/// The settings that may also be given in the one `SETTINGS` variable
/// (`NAME=value` pairs separated by spaces), which the template fills from
/// its `Settings` parameter so that tuning values ask no deploy question.
pub const TUNING_SETTINGS: [&str; 27] = [
    "CODE_LENGTH",
    "CODE_TTL_SECONDS",
    "MAX_CHECK_ATTEMPTS",
    "CODE_HMAC_KEY_ID",
    "RESEND_COOLDOWN_SECONDS",
    "MAX_SENDS_PER_NUMBER_PER_10_MINUTES",
    "MAX_SENDS_PER_NUMBER_PER_DAY",
    "MAX_REQUESTS_PER_CLIENT_PER_HOUR",
    "MAX_SENDS_PER_CLIENT_PER_HOUR",
    "LOCKOUT_AFTER_FAILED_CHECKS",
    "LOCKOUT_SECONDS",
    "MAX_MESSAGES_PER_HOUR",
    "MAX_MESSAGES_PER_COUNTRY_PER_HOUR",
    "ALLOWED_COUNTRIES",
    "DENIED_COUNTRIES",
    "ENABLE_TEST_PHONE_NUMBERS",
    "TEST_PHONE_NUMBERS",
    "PARSE_APPLICATION_ID",
    "AUTOFILL_DOMAIN",
    "ANDROID_APP_HASH",
    "STATUS_CALLBACK_URL",
    "TWILIO_TIMEOUT_MS",
    "TWILIO_VOICE_FROM",
    "PROOF_KEY_ID",
    "PROOF_ISSUER",
    "PROOF_AUDIENCE",
    "PROOF_TOKEN_TTL_SECONDS",
];

/// `lookup` extended by the `SETTINGS` variable: a name is read from its own
/// variable, else from its `NAME=value` entry there. Unknown names, malformed
/// entries and names given both ways are refused, so a typo fails at start.
pub fn with_settings(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    let mut settings = HashMap::new();
    for entry in lookup("SETTINGS").iter().flat_map(|s| s.split_whitespace()) {
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| ConfigError::UnknownSetting(entry.to_owned()))?;
        if !TUNING_SETTINGS.contains(&name) {
            return Err(ConfigError::UnknownSetting(name.to_owned()));
        }
        if lookup(name).is_some_and(|own| !own.trim().is_empty())
            || settings.insert(name.to_owned(), value.to_owned()).is_some()
        {
            return Err(ConfigError::Invalid {
                name: "SETTINGS",
                problem: "sets a value twice (or one that also has its own variable)",
            });
        }
    }
    Ok(move |name: &str| lookup(name).or_else(|| settings.get(name).cloned()))
}

/// Reads a setting, treating blank values as unset.
fn getter(lookup: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| lookup(name).filter(|value| !value.trim().is_empty())
}

/// Reads `name` as a whole number in `range`, `default` when unset.
fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    get(name).map_or(Ok(default), |text| {
        text.trim()
            .parse::<u64>()
            .ok()
            .filter(|value| range.contains(value))
            .ok_or(ConfigError::Invalid {
                name,
                problem: "is not a whole number in the allowed range (see README)",
            })
    })
}

impl Config {
    /// Reads each common setting through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let require = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let enabled_channels: BTreeSet<Channel> = get("ENABLED_CHANNELS")
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
            .collect::<Result<_, _>>()?;
        let hmac_key = require("CODE_HMAC_KEY")?;
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
        let number = |name, default, range| number(&get, name, default, range);
        let code_length =
            CodeLength::new(number("CODE_LENGTH", 6, 4..=10)? as u8).unwrap_or_default();
        let count = |name: &'static str, default: u64, max: u64| {
            number(name, default, 1..=max).map(|value| value as u32)
        };
        let limits = Limits {
            resend_cooldown_seconds: number("RESEND_COOLDOWN_SECONDS", 60, 0..=86_400)?,
            sends_per_10_minutes: count("MAX_SENDS_PER_NUMBER_PER_10_MINUTES", 5, 1_000)?,
            sends_per_day: count("MAX_SENDS_PER_NUMBER_PER_DAY", 10, 10_000)?,
            client_requests_per_hour: count("MAX_REQUESTS_PER_CLIENT_PER_HOUR", 150, 10_000_000)?,
            client_sends_per_hour: count("MAX_SENDS_PER_CLIENT_PER_HOUR", 10, 10_000_000)?,
            failed_checks_before_lockout: count("LOCKOUT_AFTER_FAILED_CHECKS", 20, 100)?,
            lockout_seconds: number("LOCKOUT_SECONDS", 3_600, 60..=604_800)?,
            messages_per_hour: count("MAX_MESSAGES_PER_HOUR", 1_000, 10_000_000)?,
            messages_per_country_per_hour: count(
                "MAX_MESSAGES_PER_COUNTRY_PER_HOUR",
                200,
                10_000_000,
            )?,
        };
        let destinations = DestinationPolicy {
            allowed_countries: get("ALLOWED_COUNTRIES")
                .map(|list| countries("ALLOWED_COUNTRIES", &list))
                .transpose()?,
            denied_countries: get("DENIED_COUNTRIES").map_or(Ok(BTreeSet::new()), |list| {
                countries("DENIED_COUNTRIES", &list)
            })?,
            // Known to the send function only (it holds the Twilio settings).
            own_numbers: BTreeSet::new(),
        };
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
            hasher,
            policy: Policy {
                code_length,
                code_ttl_seconds: number("CODE_TTL_SECONDS", 600, 60..=86_400)?,
                max_attempts: number("MAX_CHECK_ATTEMPTS", 5, 1..=20)? as u32,
                enabled_channels,
                limits,
                destinations,
                test_numbers,
            },
            parse_application_id: get("PARSE_APPLICATION_ID"),
        })
    }
}

impl SendConfig {
    /// The common settings plus Twilio's and the messages'.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let mut common = Config::from_lookup(&get)?;
        let account_sid =
            get("TWILIO_ACCOUNT_SID").ok_or(ConfigError::Missing("TWILIO_ACCOUNT_SID"))?;
        let credentials = match (
            get("TWILIO_API_KEY_SID"),
            get("TWILIO_API_KEY_SECRET"),
            get("TWILIO_AUTH_TOKEN"),
        ) {
            (Some(username), Some(password), _) => TwilioCredentials { username, password },
            (Some(_), None, _) => return Err(ConfigError::Missing("TWILIO_API_KEY_SECRET")),
            (None, _, Some(password)) => TwilioCredentials {
                username: account_sid.clone(),
                password,
            },
            (None, _, None) => {
                return Err(ConfigError::MissingOneOf(
                    "TWILIO_AUTH_TOKEN",
                    "TWILIO_API_KEY_SID with TWILIO_API_KEY_SECRET",
                ));
            }
        };
        // TWILIO_SENDER (the template's one question) is either kind.
        let is_service = |sid: &str| sid.starts_with("MG") && sid.len() == 34;
        let sender = get("TWILIO_SENDER");
        let sender = match (
            get("TWILIO_MESSAGING_SERVICE_SID").or(sender.clone().filter(|s| is_service(s))),
            get("TWILIO_FROM_NUMBER").or(sender.filter(|s| !is_service(s))),
        ) {
            (Some(sid), _) => TwilioSenderId::MessagingService(sid),
            (None, Some(number)) => TwilioSenderId::From(number),
            (None, None) => {
                return Err(ConfigError::MissingOneOf(
                    "TWILIO_FROM_NUMBER",
                    "TWILIO_MESSAGING_SERVICE_SID",
                ));
            }
        };
        let enabled_channels = &common.policy.enabled_channels;
        let voice_from = get("TWILIO_VOICE_FROM").or_else(|| match &sender {
            TwilioSenderId::From(number) if number.starts_with('+') => Some(number.clone()),
            _ => None,
        });
        if enabled_channels.contains(&Channel::Call) && voice_from.is_none() {
            return Err(ConfigError::MissingOneOf(
                "TWILIO_VOICE_FROM",
                "TWILIO_FROM_NUMBER",
            ));
        }
        let whatsapp_from = get("TWILIO_WHATSAPP_FROM");
        if enabled_channels.contains(&Channel::Whatsapp) && whatsapp_from.is_none() {
            return Err(ConfigError::Missing("TWILIO_WHATSAPP_FROM"));
        }
        // Twilio refuses (21266) to send from one of our numbers to itself.
        let own_sender = match &sender {
            TwilioSenderId::From(number) => Some(number.clone()),
            TwilioSenderId::MessagingService(_) => None,
        };
        common.policy.destinations.own_numbers =
            [own_sender, voice_from.clone(), whatsapp_from.clone()]
                .into_iter()
                .flatten()
                .filter_map(|number| PhoneNumber::parse(&number, None).ok())
                .map(|number| number.as_e164().to_owned())
                .collect();
        let message_settings = MessageSettings {
            app_name: get("APP_NAME")
                .map(|name| {
                    checked(
                        "APP_NAME",
                        name,
                        |n| n.chars().count() <= 20 && !n.contains('\n'),
                        "must be one line of at most 20 characters",
                    )
                })
                .transpose()?,
            autofill_domain: get("AUTOFILL_DOMAIN")
                .map(|domain| {
                    checked(
                        "AUTOFILL_DOMAIN",
                        domain,
                        |d| {
                            d.len() <= 40
                                && d.contains('.')
                                && d.bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                        },
                        "must be a host name such as example.com",
                    )
                })
                .transpose()?,
            android_app_hash: get("ANDROID_APP_HASH")
                .map(|hash| {
                    checked(
                        "ANDROID_APP_HASH",
                        hash,
                        |h| {
                            h.len() == 11
                                && h.bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                        },
                        "must be the 11-character app hash of Android's SMS Retriever API",
                    )
                })
                .transpose()?,
        };
        let callback_url = get("STATUS_CALLBACK_URL")
            .map(|url| {
                checked(
                    "STATUS_CALLBACK_URL",
                    url,
                    |u| is_public_or_loopback_url(u) && !u.contains('?'),
                    "must be the https URL of POST /twilio/status, without query string",
                )
            })
            .transpose()?;
        // Twilio signs its requests with the account's auth token, even when
        // we call it with an API key: without one, reports cannot be trusted.
        let delivery_reports = match (get("TWILIO_AUTH_TOKEN"), callback_url) {
            (Some(token), callback_url) => Some(DeliveryReports {
                validator: WebhookValidator::new(token),
                callback_url,
            }),
            (None, Some(_)) => return Err(ConfigError::Missing("TWILIO_AUTH_TOKEN")),
            (None, None) => None,
        };
        let api_base = get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into());
        let api_base = checked(
            "TWILIO_API_BASE",
            api_base,
            |url| is_public_or_loopback_url(url) && !url.ends_with('/'),
            "must be an https URL without trailing slash (plain http only for 127.0.0.1 or localhost)",
        )?;
        Ok(Self {
            messages: Messages::new(message_settings, common.policy.code_length)?,
            twilio: TwilioConfig {
                api_base,
                account_sid,
                credentials,
                sender,
                voice_from,
                whatsapp_from,
                timeout: Duration::from_millis(number(
                    &get,
                    "TWILIO_TIMEOUT_MS",
                    5_000,
                    100..=60_000,
                )?),
            },
            delivery_reports,
            common,
        })
    }
}

impl VerifyConfig {
    /// The common settings plus the proof signing key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let common = Config::from_lookup(&get)?;
        let proof = get("PROOF_SIGNING_KEY")
            .map(|key| -> Result<ProofSigner, ConfigError> {
                let seed = base64::engine::general_purpose::STANDARD
                    .decode(key.trim())
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or(ConfigError::Invalid {
                        name: "PROOF_SIGNING_KEY",
                        problem: "must be 32 random bytes in base64 (openssl rand -base64 32)",
                    })?;
                Ok(ProofSigner::new(
                    seed,
                    get("PROOF_KEY_ID").unwrap_or_else(|| "proof-1".into()),
                    get("PROOF_ISSUER").unwrap_or_else(|| "phone-verification".into()),
                    get("PROOF_AUDIENCE"),
                    number(&get, "PROOF_TOKEN_TTL_SECONDS", 300, 30..=3_600)?,
                ))
            })
            .transpose()?;
        Ok(Self { common, proof })
    }
}

/// `https://...`, or plain `http://` to this machine (local fakes only).
fn is_public_or_loopback_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .or_else(|| {
            url.strip_prefix("http://").filter(|rest| {
                ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| {
                    rest.strip_prefix(host)
                        .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
                })
            })
        })
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

/// `value` if it passes `valid`, else an `Invalid` error naming `name`.
fn checked(
    name: &'static str,
    value: String,
    valid: impl Fn(&str) -> bool,
    problem: &'static str,
) -> Result<String, ConfigError> {
    if valid(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid { name, problem })
    }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn minimal() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("VERIFICATIONS_TABLE", "verifications"),
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("TWILIO_FROM_NUMBER", "+15005550006"),
            ("CODE_HMAC_KEY", "0123456789abcdef0123456789abcdef"),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<SendConfig, ConfigError> {
        SendConfig::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn minimal_settings_get_the_documented_defaults() {
        let config = load(&minimal()).unwrap();
        assert_eq!(config.common.policy.code_length.digits(), 6);
        assert_eq!(config.common.policy.code_ttl_seconds, 600);
        assert_eq!(config.common.policy.max_attempts, 5);
        assert_eq!(config.twilio.api_base, "https://api.twilio.com");
        assert_eq!(
            config.twilio.credentials.username,
            "AC00000000000000000000000000000000"
        );
        assert_eq!(
            config.twilio.sender,
            TwilioSenderId::From("+15005550006".into())
        );
        assert_eq!(config.twilio.timeout, Duration::from_secs(5));
        assert_eq!(config.common.hasher.key_id(), "v1");
        assert_eq!(config.common.parse_application_id, None);
        assert_eq!(config.common.policy.limits, Limits::default());
        let destinations = &config.common.policy.destinations;
        assert_eq!(destinations.allowed_countries, None);
        assert!(destinations.denied_countries.is_empty());
        assert_eq!(
            destinations.own_numbers.iter().collect::<Vec<_>>(),
            ["+15005550006"],
            "our sender is never a recipient"
        );
        assert!(config.common.policy.test_numbers.is_empty());
    }

    #[test]
    fn limits_and_country_lists_are_read() {
        let mut vars = minimal();
        vars.insert("RESEND_COOLDOWN_SECONDS", "30");
        vars.insert("MAX_MESSAGES_PER_HOUR", "20");
        vars.insert("ALLOWED_COUNTRIES", "us, ca");
        vars.insert("DENIED_COUNTRIES", "FR");
        let config = load(&vars).unwrap();
        assert_eq!(config.common.policy.limits.resend_cooldown_seconds, 30);
        assert_eq!(config.common.policy.limits.messages_per_hour, 20);
        let destinations = config.common.policy.destinations;
        let allowed = destinations.allowed_countries.unwrap();
        assert_eq!(allowed.into_iter().collect::<Vec<_>>(), ["CA", "US"]);
        assert!(destinations.denied_countries.contains("FR"));
        vars.insert("ALLOWED_COUNTRIES", "US,001");
        vars.insert("DENIED_COUNTRIES", "001");
        let destinations = load(&vars).unwrap().common.policy.destinations;
        assert!(destinations.allowed_countries.unwrap().contains("001"));
        assert!(destinations.denied_countries.contains("001"));
        vars.insert("DENIED_COUNTRIES", "France");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "DENIED_COUNTRIES",
                ..
            })
        ));
    }

    #[test]
    fn previous_hmac_keys_are_read_for_rotation() {
        let mut vars = minimal();
        vars.insert("CODE_HMAC_KEY_ID", "v2");
        vars.insert(
            "CODE_HMAC_PREVIOUS_KEYS",
            "v1:0123456789abcdef0123456789abcdef",
        );
        assert_eq!(load(&vars).unwrap().common.hasher.key_id(), "v2");
        for bad in [
            "v1",
            "v1:short",
            "v2:0123456789abcdef0123456789abcdef",
            ":0123456789abcdef0123456789abcdef",
        ] {
            vars.insert("CODE_HMAC_PREVIOUS_KEYS", bad);
            assert!(
                matches!(
                    load(&vars),
                    Err(ConfigError::Invalid {
                        name: "CODE_HMAC_PREVIOUS_KEYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn test_numbers_need_the_explicit_switch() {
        let mut vars = minimal();
        vars.insert("TEST_PHONE_NUMBERS", "+14155550199=123456");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                ..
            })
        ));
        vars.insert("ENABLE_TEST_PHONE_NUMBERS", "true");
        let config = load(&vars).unwrap();
        assert_eq!(
            config.common.policy.test_numbers["+14155550199"].as_str(),
            "123456"
        );
        vars.insert("TEST_PHONE_NUMBERS", "+14155550199=12345");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                ..
            })
        ));
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in ["VERIFICATIONS_TABLE", "TWILIO_ACCOUNT_SID", "CODE_HMAC_KEY"] {
            let mut vars = minimal();
            vars.remove(name);
            assert_eq!(load(&vars).unwrap_err(), ConfigError::Missing(name));
            vars.insert(name, "  ");
            assert_eq!(
                load(&vars).unwrap_err(),
                ConfigError::Missing(name),
                "blank {name}"
            );
        }
        let mut vars = minimal();
        vars.remove("TWILIO_AUTH_TOKEN");
        assert!(
            load(&vars)
                .unwrap_err()
                .to_string()
                .contains("TWILIO_AUTH_TOKEN")
        );
        let mut vars = minimal();
        vars.remove("TWILIO_FROM_NUMBER");
        assert!(
            load(&vars)
                .unwrap_err()
                .to_string()
                .contains("TWILIO_MESSAGING_SERVICE_SID")
        );
    }

    #[test]
    fn api_keys_and_messaging_services_are_preferred_when_given() {
        let mut vars = minimal();
        vars.insert("TWILIO_API_KEY_SID", "SK123");
        vars.insert("TWILIO_API_KEY_SECRET", "secret");
        vars.insert("TWILIO_MESSAGING_SERVICE_SID", "MG123");
        let config = load(&vars).unwrap();
        assert_eq!(config.twilio.credentials.username, "SK123");
        assert_eq!(config.twilio.credentials.password, "secret");
        assert_eq!(
            config.twilio.sender,
            TwilioSenderId::MessagingService("MG123".into())
        );
        vars.remove("TWILIO_API_KEY_SECRET");
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing("TWILIO_API_KEY_SECRET")
        );
    }

    #[test]
    fn out_of_range_numbers_and_short_keys_are_refused() {
        for (name, value) in [
            ("CODE_LENGTH", "3"),
            ("CODE_LENGTH", "11"),
            ("CODE_LENGTH", "six"),
            ("CODE_TTL_SECONDS", "0"),
            ("MAX_CHECK_ATTEMPTS", "0"),
            ("TWILIO_TIMEOUT_MS", "-5"),
            ("CODE_HMAC_KEY", "short"),
        ] {
            let mut vars = minimal();
            vars.insert(name, value);
            match load(&vars) {
                Err(ConfigError::Invalid { name: named, .. }) => assert_eq!(named, name),
                other => panic!("{name}={value} gave {other:?}"),
            }
        }
        let mut vars = minimal();
        vars.insert("CODE_LENGTH", "8");
        assert_eq!(load(&vars).unwrap().common.policy.code_length.digits(), 8);
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let config = load(&minimal()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(!debug.contains("\"token\""), "{debug}");
    }
}

#[cfg(test)]
mod per_function_tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name: &str| vars.get(name).cloned()
    }

    const VERIFY_ONLY: [(&str, &str); 3] = [
        ("VERIFICATIONS_TABLE", "verifications"),
        ("CODE_HMAC_KEY", "0123456789abcdef0123456789abcdef"),
        (
            "PROOF_SIGNING_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ];

    #[test]
    fn verify_needs_no_twilio_setting_and_send_needs_no_proof_key() {
        let verify = VerifyConfig::from_lookup(lookup(&VERIFY_ONLY)).unwrap();
        assert!(verify.proof.is_some());
        assert_eq!(
            SendConfig::from_lookup(lookup(&VERIFY_ONLY)).unwrap_err(),
            ConfigError::Missing("TWILIO_ACCOUNT_SID")
        );
    }

    #[test]
    fn tuning_values_come_from_settings_and_typos_are_refused() {
        let with = |settings: &str| {
            let mut vars = VERIFY_ONLY.to_vec();
            vars.push(("SETTINGS", settings));
            with_settings(lookup(&vars)).and_then(VerifyConfig::from_lookup)
        };
        let config =
            with("MAX_CHECK_ATTEMPTS=3  ALLOWED_COUNTRIES=US,CA\nCODE_TTL_SECONDS=120").unwrap();
        assert_eq!(config.common.policy.max_attempts, 3);
        assert_eq!(config.common.policy.code_ttl_seconds, 120);
        assert_eq!(
            config
                .common
                .policy
                .destinations
                .allowed_countries
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            with("MAX_CHECK_ATTEMPT=3").unwrap_err(),
            ConfigError::UnknownSetting("MAX_CHECK_ATTEMPT".into())
        );
        assert_eq!(
            with("CODE_HMAC_KEY=x").unwrap_err(),
            ConfigError::UnknownSetting("CODE_HMAC_KEY".into()),
            "secrets never go through SETTINGS"
        );
        assert!(matches!(
            with("MAX_CHECK_ATTEMPTS=3 MAX_CHECK_ATTEMPTS=4"),
            Err(ConfigError::Invalid {
                name: "SETTINGS",
                ..
            })
        ));
        assert!(matches!(
            with("MAX_CHECK_ATTEMPTS=99"),
            Err(ConfigError::Invalid {
                name: "MAX_CHECK_ATTEMPTS",
                ..
            })
        ));
    }

    #[test]
    fn one_sender_setting_takes_a_number_or_a_messaging_service() {
        let mut vars = VERIFY_ONLY.to_vec();
        vars.extend([
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("TWILIO_SENDER", "MG0123456789abcdef0123456789abcdef"),
        ]);
        let config = SendConfig::from_lookup(lookup(&vars)).unwrap();
        assert!(matches!(
            config.twilio.sender,
            TwilioSenderId::MessagingService(_)
        ));
        assert_eq!(config.twilio.voice_from, None);
        vars.pop();
        vars.push(("TWILIO_SENDER", "+15005550006"));
        let config = SendConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            config.twilio.sender,
            TwilioSenderId::From("+15005550006".into())
        );
        assert_eq!(config.twilio.voice_from.as_deref(), Some("+15005550006"));
    }

    #[test]
    fn plain_http_is_allowed_only_to_this_machine() {
        for (url, allowed) in [
            ("https://api.twilio.com", true),
            ("http://127.0.0.1:3010", true),
            ("http://localhost:3010", true),
            ("http://localhost.evil.example", false),
            ("http://api.twilio.com", false),
            ("ftp://127.0.0.1", false),
            ("https://", false),
        ] {
            assert_eq!(is_public_or_loopback_url(url), allowed, "{url}");
        }
    }
}
