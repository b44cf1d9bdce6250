//! The one list of machine-readable reasons a request can fail with: each
//! one's HTTP status, Parse error code, human message and `Retry-After`.
//! Answers, the metrics dimension and `openapi.yaml` (checked by a test)
//! all come from this table.

use lambda_http::http::StatusCode;

use parse_code::{
    INTERNAL_SERVER_ERROR, INVALID_JSON, OPERATION_FORBIDDEN, REQUEST_LIMIT_EXCEEDED,
    SCRIPT_FAILED, VALIDATION_ERROR,
};

/// Parse Server error codes (`Parse.Error`), which Parse SDKs understand.
mod parse_code {
    pub const INTERNAL_SERVER_ERROR: u16 = 1;
    pub const INVALID_JSON: u16 = 107;
    pub const OPERATION_FORBIDDEN: u16 = 119;
    pub const SCRIPT_FAILED: u16 = 141;
    pub const VALIDATION_ERROR: u16 = 142;
    pub const REQUEST_LIMIT_EXCEEDED: u16 = 155;
}

macro_rules! reasons {
    ($($variant:ident = $name:literal, $status:ident, $parse_code:ident, $retry:expr, $message:literal;)+) => {
        /// Why a request failed, as clients see it in `reason`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($variant,)+
        }

        impl Reason {
            /// Every reason, in the order of the table.
            pub const ALL: &[Reason] = &[$(Reason::$variant,)+];

            /// The stable `reason` string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $name,)+
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Reason::$variant => StatusCode::$status,)+
                }
            }

            /// The `Parse.Error` code, which Parse SDKs read.
            pub fn parse_code(self) -> u16 {
                match self {
                    $(Reason::$variant => $parse_code,)+
                }
            }

            /// The message shown to the user, unless the answer gives a more
            /// precise one (naming a parameter, say).
            pub fn message(self) -> &'static str {
                match self {
                    $(Reason::$variant => $message,)+
                }
            }

            /// Seconds before a retry can succeed, where that is fixed.
            /// Limits compute theirs from the window.
            pub fn retry_after_seconds(self) -> Option<u64> {
                match self {
                    $(Reason::$variant => $retry,)+
                }
            }
        }
    };
}

reasons! {
    // The request itself.
    UnknownFunction = "unknown_function", NOT_FOUND, SCRIPT_FAILED, None,
        "There is no such function.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, VALIDATION_ERROR, None,
        "Cloud functions are called with POST.";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, INVALID_JSON, None,
        "Send the parameters as a JSON object (Content-Type application/json or text/plain).";
    MissingBody = "missing_body", BAD_REQUEST, INVALID_JSON, None,
        "The request has no body: send the parameters as a JSON object.";
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE, VALIDATION_ERROR, None,
        "The request body is larger than 16384 bytes.";
    InvalidJson = "invalid_json", BAD_REQUEST, INVALID_JSON, None,
        "The request body is not valid JSON.";
    BodyNotAnObject = "body_not_an_object", BAD_REQUEST, INVALID_JSON, None,
        "The request body must be a JSON object of parameters.";
    InvalidApplicationId = "invalid_application_id", FORBIDDEN, OPERATION_FORBIDDEN, None,
        "The application id is missing or wrong.";
    MissingParameter = "missing_parameter", BAD_REQUEST, VALIDATION_ERROR, None,
        "A required parameter is missing.";
    InvalidParameterType = "invalid_parameter_type", BAD_REQUEST, VALIDATION_ERROR, None,
        "A parameter must be a string.";
    InvalidIdempotencyKey = "invalid_idempotency_key", BAD_REQUEST, VALIDATION_ERROR, None,
        "The idempotency key must be 1 to 255 visible ASCII characters, the same in the header and the parameter if both are sent.";
    IdempotencyKeyInUse = "idempotency_key_in_use", CONFLICT, VALIDATION_ERROR, Some(2),
        "A request with this idempotency key is still running. Retry in a few seconds.";

    // The parameters.
    PhoneNumberMissingCountryCode = "phone_number_missing_country_code", BAD_REQUEST, VALIDATION_ERROR, None,
        "The phone number has no country code. Send it in international format: +<country code><number>, e.g. +14155550123.";
    InvalidPhoneNumber = "invalid_phone_number", BAD_REQUEST, VALIDATION_ERROR, None,
        "The phone number is not a valid phone number.";
    InvalidDefaultRegion = "invalid_default_region", BAD_REQUEST, VALIDATION_ERROR, None,
        "The default region must be a two-letter ISO 3166 country code such as \"US\".";
    UnsupportedChannel = "unsupported_channel", BAD_REQUEST, VALIDATION_ERROR, None,
        "Unknown channel. Channels: sms, call, whatsapp.";
    ChannelDisabled = "channel_disabled", BAD_REQUEST, VALIDATION_ERROR, None,
        "This channel is not enabled on this service.";
    InvalidLocale = "invalid_locale", BAD_REQUEST, VALIDATION_ERROR, None,
        "The locale must be a language tag such as \"en\" or \"pt-BR\".";
    InvalidHumanProof = "invalid_human_proof", BAD_REQUEST, VALIDATION_ERROR, None,
        "The humanProof must be the token of a human check (visible characters, at most 4096).";
    InvalidCodeFormat = "invalid_code_format", BAD_REQUEST, VALIDATION_ERROR, None,
        "The verification code does not have the expected number of digits.";

    // The destination policy.
    CountryNotAllowed = "country_not_allowed", BAD_REQUEST, VALIDATION_ERROR, None,
        "Verification codes cannot be sent to phone numbers in this country.";
    PremiumRateNumber = "premium_rate_number", BAD_REQUEST, VALIDATION_ERROR, None,
        "Verification codes are not sent to premium-rate numbers.";
    NumberCannotReceiveSms = "number_cannot_receive_sms", BAD_REQUEST, VALIDATION_ERROR, None,
        "This phone number cannot receive text messages. Use a mobile number, or ask for a call.";
    OwnNumber = "own_number", BAD_REQUEST, VALIDATION_ERROR, None,
        "This is the service's own phone number; use yours.";

    // Twilio refused the recipient.
    RecipientInvalid = "recipient_invalid", BAD_REQUEST, VALIDATION_ERROR, None,
        "The message provider says this is not a valid phone number.";
    RecipientCannotReceive = "recipient_cannot_receive", BAD_REQUEST, VALIDATION_ERROR, None,
        "This phone number cannot receive text messages (is it a landline?).";
    RecipientUnreachable = "recipient_unreachable", BAD_REQUEST, VALIDATION_ERROR, None,
        "Messages cannot be delivered to this phone number.";
    RecipientOptedOut = "recipient_opted_out", BAD_REQUEST, VALIDATION_ERROR, None,
        "This phone number has opted out of messages from us (reply START to opt back in).";

    // Checking a code.
    IncorrectCode = "incorrect_code", BAD_REQUEST, SCRIPT_FAILED, None,
        "Invalid verification code.";
    NoPendingVerification = "no_pending_verification", NOT_FOUND, SCRIPT_FAILED, None,
        "No verification code is pending for this phone number. Request a new code.";
    CodeAlreadyUsed = "code_already_used", CONFLICT, SCRIPT_FAILED, None,
        "The verification code was already used.";
    CodeReplaced = "code_replaced", CONFLICT, SCRIPT_FAILED, None,
        "A newer verification code was sent. Enter that one.";
    MaxAttemptsReached = "max_attempts_reached", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many incorrect attempts for this code. Request a new code.";

    // Limits (each answer carries its own Retry-After).
    ResendTooSoon = "resend_too_soon", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "A code was just sent to this number. Wait before asking for another.";
    TooManyCodes10Minutes = "too_many_codes_10_minutes", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many codes were sent to this number in the last minutes.";
    TooManyCodes24Hours = "too_many_codes_24_hours", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many codes were sent to this number today.";
    TooManyCalls24Hours = "too_many_calls_24_hours", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many calls were made to this number today. Ask for a text message instead.";
    NumberLocked = "number_locked", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many incorrect codes for this number. Try again later.";
    TooManyRequestsFromClient = "too_many_requests_from_client", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many requests from this client. Try again later.";
    TooManyCodesFromClient = "too_many_codes_from_client", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Too many verification codes requested from this client. Try again later.";
    MessageBudgetExhausted = "message_budget_exhausted", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Verification messages are temporarily unavailable. Try again later.";
    CountryBudgetExhausted = "country_budget_exhausted", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Verification messages to this country are temporarily unavailable. Try again later.";
    DestinationRestricted = "destination_restricted", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Verification messages to this number range are paused for a while. Try again later.";
    HumanProofRequired = "human_proof_required", TOO_MANY_REQUESTS, REQUEST_LIMIT_EXCEEDED, None,
        "Verification messages to this destination are restricted for a while. Solve the human check and send its token as humanProof.";

    // Proof tokens and the providers' delivery reports.
    ProofTokensDisabled = "proof_tokens_disabled", NOT_FOUND, OPERATION_FORBIDDEN, None,
        "This service does not issue proof tokens (PROOF_SIGNING_KEY is not set).";
    DeliveryReportsDisabled = "delivery_reports_disabled", NOT_FOUND, OPERATION_FORBIDDEN, None,
        "Delivery reports are not enabled (the provider's auth token is not configured).";
    InvalidSignature = "invalid_signature", FORBIDDEN, OPERATION_FORBIDDEN, None,
        "The delivery report's signature does not match this request.";
    InvalidDeliveryReport = "invalid_delivery_report", BAD_REQUEST, VALIDATION_ERROR, None,
        "The delivery report lacks its number, verification or send time.";
    UnknownTopic = "unknown_topic", FORBIDDEN, OPERATION_FORBIDDEN, None,
        "The event comes from an SNS topic this service does not take events from.";
    StaleDeliveryReport = "stale_delivery_report", BAD_REQUEST, VALIDATION_ERROR, None,
        "The delivery report is dated too long ago or in the future.";
    InvalidCallScript = "invalid_call_script", BAD_REQUEST, VALIDATION_ERROR, None,
        "The call's answer URL does not hold a script of this service.";
    CallScriptExpired = "call_script_expired", GONE, SCRIPT_FAILED, None,
        "The call's code has expired.";

    // Our side: 5xx means nothing was sent and nothing changed.
    StorageUnavailable = "storage_unavailable", SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR, Some(1),
        "The service is temporarily unavailable. Please try again.";
    DeliveryUnavailable = "delivery_unavailable", SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR, Some(5),
        "The verification code could not be sent right now. Please try again.";
    DeliveryReportUnverifiable = "delivery_report_unverifiable", SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR, Some(5),
        "The delivery report could not be checked right now. Nothing changed; please send it again.";
    DeliveryMisconfigured = "delivery_misconfigured", INTERNAL_SERVER_ERROR, INTERNAL_SERVER_ERROR, None,
        "The verification code could not be sent. Nothing was sent; please try again later.";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, INTERNAL_SERVER_ERROR, None,
        "Something went wrong on our side.";
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    use super::*;
    use crate::http::MAX_BODY_BYTES;

    #[test]
    fn reasons_are_unique_snake_case_strings() {
        let names: HashSet<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
        for name in names {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn a_5xx_is_only_ever_our_side_and_parse_code_1() {
        for reason in Reason::ALL {
            assert_eq!(
                reason.status().is_server_error(),
                reason.parse_code() == INTERNAL_SERVER_ERROR,
                "{reason:?}"
            );
        }
    }

    fn openapi() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
        let text = std::fs::read_to_string(path).expect("openapi.yaml beside Cargo.toml");
        serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML")
    }

    #[test]
    fn openapi_lists_every_reason_with_its_status_parse_code_and_message() {
        let spec = openapi();
        let listed: Vec<_> = spec["components"]["schemas"]["Reason"]["oneOf"]
            .as_array()
            .expect("Reason is a oneOf of consts")
            .iter()
            .map(|entry| {
                (
                    entry["const"].as_str().unwrap_or_default().to_owned(),
                    entry["x-status"].as_u64(),
                    entry["x-parse-code"].as_u64(),
                    entry["description"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let table: Vec<_> = Reason::ALL
            .iter()
            .map(|reason| {
                (
                    reason.as_str().to_owned(),
                    Some(u64::from(reason.status().as_u16())),
                    Some(u64::from(reason.parse_code())),
                    reason.message().to_owned(),
                )
            })
            .collect();
        assert_eq!(listed, table);
    }

    /// Each operation's error answers name their reasons; a reason listed
    /// under a status must have that status, and every reason a client can
    /// meet must be listed somewhere.
    #[test]
    fn openapi_answers_list_reasons_under_their_own_status() {
        let spec = openapi();
        let mut seen = HashSet::new();
        for (path, operations) in spec["paths"].as_object().expect("paths") {
            for (method, operation) in operations.as_object().expect("operations") {
                for (status, answer) in operation["responses"].as_object().expect("responses") {
                    let schema = &answer["content"]["application/json"]["schema"];
                    let Some(parts) = schema["allOf"].as_array() else {
                        continue;
                    };
                    for name in parts[1]["properties"]["reason"]["enum"]
                        .as_array()
                        .expect("an error answer lists its reasons")
                    {
                        let name = name.as_str().expect("a reason is a string");
                        let reason = Reason::ALL
                            .iter()
                            .find(|r| r.as_str() == name)
                            .unwrap_or_else(|| panic!("{method} {path}: unknown reason {name}"));
                        assert_eq!(reason.status().as_str(), status, "{method} {path}: {name}");
                        seen.insert(*reason);
                    }
                }
            }
        }
        // Only crafted events reach these: API Gateway routes each path and
        // method to its function and answers anything else itself.
        let gateway_only = [Reason::UnknownFunction, Reason::MethodNotAllowed];
        let missing: Vec<_> = Reason::ALL
            .iter()
            .filter(|r| !seen.contains(r) && !gateway_only.contains(r))
            .collect();
        assert!(missing.is_empty(), "not in any answer: {missing:?}");
    }

    /// The table of errors in docs/api.md: each row's reasons have the
    /// row's status and Parse code, and every reason is in a row.
    #[test]
    fn the_error_table_in_the_api_docs_agrees_with_the_reasons() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
        let doc = std::fs::read_to_string(path).expect("docs/api.md");
        let mut seen = HashSet::new();
        for row in doc.lines().filter(|line| line.starts_with("| ")) {
            let cells: Vec<_> = row.split('|').map(str::trim).collect();
            let (Ok(status), Ok(code)) = (cells[1].parse::<u16>(), cells[2].parse::<u16>()) else {
                continue;
            };
            for name in cells[3].split('`').skip(1).step_by(2) {
                let reason = Reason::ALL
                    .iter()
                    .find(|r| r.as_str() == name)
                    .unwrap_or_else(|| panic!("docs/api.md: unknown reason {name}"));
                assert_eq!(
                    (reason.status().as_u16(), reason.parse_code()),
                    (status, code),
                    "docs/api.md: {name}"
                );
                seen.insert(*reason);
            }
        }
        let missing: Vec<_> = Reason::ALL.iter().filter(|r| !seen.contains(r)).collect();
        assert!(
            missing.is_empty(),
            "not in the table of docs/api.md: {missing:?}"
        );
    }

    #[test]
    fn the_body_size_message_names_the_real_bound() {
        assert!(
            Reason::BodyTooLarge
                .message()
                .contains(&MAX_BODY_BYTES.to_string())
        );
    }
}
