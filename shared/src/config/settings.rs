//! Reading single values: the `SETTINGS` variable, blank-as-unset, whole
//! numbers in a range, and checked strings.

use std::collections::HashMap;

use super::ConfigError;

/// The settings that may also be given in the one `SETTINGS` variable
/// (`NAME=value` pairs separated by spaces), which the template fills from
/// its `Settings` parameter so that tuning values ask no deploy question.
pub const TUNING_SETTINGS: [&str; 60] = [
    "CODE_LENGTH",
    "CODE_TTL_SECONDS",
    "MAX_CHECK_ATTEMPTS",
    "CODE_HMAC_KEY_ID",
    "RESEND_COOLDOWN_SECONDS",
    "FALLBACK_AFTER_SECONDS",
    "MAX_SENDS_PER_NUMBER_PER_10_MINUTES",
    "MAX_SENDS_PER_NUMBER_PER_DAY",
    "MAX_CALLS_PER_NUMBER_PER_DAY",
    "MAX_REQUESTS_PER_CLIENT_PER_HOUR",
    "MAX_SENDS_PER_CLIENT_PER_HOUR",
    "MAX_REQUESTS_PER_API_KEY_PER_HOUR",
    "MAX_SENDS_PER_API_KEY_PER_HOUR",
    "LOCKOUT_AFTER_FAILED_CHECKS",
    "LOCKOUT_SECONDS",
    "MAX_MESSAGES_PER_HOUR",
    "MAX_MESSAGES_PER_COUNTRY_PER_HOUR",
    "ALLOWED_COUNTRIES",
    "DENIED_COUNTRIES",
    "ENABLE_TEST_PHONE_NUMBERS",
    "TEST_PHONE_NUMBERS_VALID_UNTIL",
    "PARSE_APPLICATION_ID",
    "AUTOFILL_DOMAIN",
    "ANDROID_APP_HASH",
    "FRAUD_PROTECTION",
    "FRAUD_PREFIX_DIGITS",
    "FRAUD_MIN_SENDS_PER_PREFIX",
    "FRAUD_MIN_SENDS_PER_COUNTRY",
    "FRAUD_CONVERSION_RATIO_PERCENT",
    "FRAUD_EXPECTED_CONVERSION_PERCENT",
    "FRAUD_RESTRICTION_SECONDS",
    "FRAUD_RESTRICTED_COUNTRY_BUDGET_PERCENT",
    "FRAUD_MAX_RESTRICTION_SECONDS",
    "FRAUD_VERIFIED_MEMORY_DAYS",
    "HUMAN_PROOF_VERIFY_URL",
    "ENABLED_CHANNELS",
    "DELIVERY_ROUTES",
    "PLIVO_SENDER",
    "PLIVO_API_BASE",
    "PLIVO_TIMEOUT_MS",
    "PLIVO_STATUS_CALLBACK_URL",
    "PLIVO_VOICE_FROM",
    "PLIVO_ANSWER_URL",
    "AWS_SMS_ORIGINATION_IDENTITY",
    "AWS_SMS_CONFIGURATION_SET",
    "AWS_SMS_PROTECT_CONFIGURATION_ID",
    "AWS_SMS_VOICE_ID",
    "AWS_SMS_TIMEOUT_MS",
    "AWS_SNS_CERT_BASE",
    "STATUS_CALLBACK_URL",
    "TWILIO_API_BASE",
    "TWILIO_TIMEOUT_MS",
    "TWILIO_VOICE_FROM",
    "TWILIO_WHATSAPP_FROM",
    "TWILIO_WHATSAPP_CONTENT_SIDS",
    "WHATSAPP_MODE",
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
pub(super) fn getter(lookup: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| lookup(name).filter(|value| !value.trim().is_empty())
}

/// Reads `name` as a whole number in `range`, `default` when unset.
pub(super) fn number(
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
                problem: "is not a whole number in the allowed range (see docs/configuration.md)",
            })
    })
}

/// `https://...`, or plain `http://` to this machine (local fakes only).
pub(super) fn is_public_or_loopback_url(url: &str) -> bool {
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
pub(super) fn checked(
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

/// Whether an app name fits the messages: one line of at most 20 characters.
pub(super) fn fits_app_name(name: &str) -> bool {
    name.chars().count() <= 20 && !name.contains('\n')
}
