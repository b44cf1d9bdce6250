//! The one place where errors become HTTP answers. Expected failures are
//! 4xx; a 5xx means nothing was sent and nothing changed, because Parse SDKs
//! retry every 5xx. Internal causes are logged here, never sent.

use lambda_http::http::StatusCode;

use super::answer::parse_code::{
    INTERNAL_SERVER_ERROR, INVALID_JSON, OPERATION_FORBIDDEN, REQUEST_LIMIT_EXCEEDED,
    SCRIPT_FAILED, VALIDATION_ERROR,
};
use super::{ApiError, MAX_BODY_BYTES, RequestError};
use crate::domain::{
    CodeFormatError, DestinationRefused, Limit, LimitReached, PhoneNumberError, UnknownChannel,
};
use crate::ports::{DeliveryError, RecipientProblem, StoreError};
use crate::service::{CheckError, SendError};

fn bad_request(reason: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, VALIDATION_ERROR, reason, message)
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        use RequestError::*;
        match error {
            UnknownRoute => ApiError::new(
                StatusCode::NOT_FOUND,
                SCRIPT_FAILED,
                "unknown_function",
                "There is no such function.",
            ),
            MethodNotAllowed => ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                VALIDATION_ERROR,
                "method_not_allowed",
                "Cloud functions are called with POST.",
            ),
            UnsupportedMediaType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_JSON,
                "unsupported_media_type",
                "Send the parameters as a JSON object (Content-Type application/json or text/plain).",
            ),
            EmptyBody => ApiError::new(
                StatusCode::BAD_REQUEST,
                INVALID_JSON,
                "missing_body",
                "The request has no body: send the parameters as a JSON object.",
            ),
            BodyTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                VALIDATION_ERROR,
                "body_too_large",
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
            ),
            InvalidJson => ApiError::new(
                StatusCode::BAD_REQUEST,
                INVALID_JSON,
                "invalid_json",
                "The request body is not valid JSON.",
            ),
            NotAnObject => ApiError::new(
                StatusCode::BAD_REQUEST,
                INVALID_JSON,
                "body_not_an_object",
                "The request body must be a JSON object of parameters.",
            ),
            Missing(name) => bad_request(
                "missing_parameter",
                format!("The parameter {name} is required."),
            )
            .detail("parameter", name),
            NotAString(name) => bad_request(
                "invalid_parameter_type",
                format!("The parameter {name} must be a string."),
            )
            .detail("parameter", name),
            InvalidLocale => bad_request(
                "invalid_locale",
                "The locale must be a language tag such as \"en\" or \"pt-BR\".",
            ),
            InvalidIdempotencyKey => bad_request(
                "invalid_idempotency_key",
                "The idempotency key must be 1 to 255 visible ASCII characters.",
            ),
            IdempotencyKeyInUse => ApiError::new(
                StatusCode::CONFLICT,
                VALIDATION_ERROR,
                "idempotency_key_in_use",
                "A request with this idempotency key is still running. Retry in a few seconds.",
            )
            .retry_after(2),
            DeliveryReportsDisabled => ApiError::new(
                StatusCode::NOT_FOUND,
                OPERATION_FORBIDDEN,
                "delivery_reports_disabled",
                "Delivery reports are not enabled (STATUS_CALLBACK_URL is not set).",
            ),
            InvalidSignature => ApiError::new(
                StatusCode::FORBIDDEN,
                OPERATION_FORBIDDEN,
                "invalid_signature",
                "The X-Twilio-Signature header does not match this request.",
            ),
            MalformedDeliveryReport => bad_request(
                "invalid_delivery_report",
                "The delivery report lacks its number, verification or send time.",
            ),
            WrongApplicationId => ApiError::new(
                StatusCode::FORBIDDEN,
                OPERATION_FORBIDDEN,
                "invalid_application_id",
                "The application id is missing or wrong.",
            ),
        }
    }
}

impl From<PhoneNumberError> for ApiError {
    fn from(error: PhoneNumberError) -> Self {
        let reason = match error {
            PhoneNumberError::MissingCountryCode => "phone_number_missing_country_code",
            PhoneNumberError::Invalid => "invalid_phone_number",
            PhoneNumberError::InvalidRegion => "invalid_default_region",
        };
        bad_request(reason, error.to_string())
    }
}

impl From<UnknownChannel> for ApiError {
    fn from(error: UnknownChannel) -> Self {
        bad_request("unsupported_channel", error.to_string())
    }
}

impl From<CodeFormatError> for ApiError {
    fn from(error: CodeFormatError) -> Self {
        bad_request("invalid_code_format", error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "verification storage failed");
        match error {
            StoreError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                INTERNAL_SERVER_ERROR,
                "storage_unavailable",
                "The service is temporarily unavailable. Please try again.",
            )
            .retry_after(1),
            StoreError::Malformed(_) => internal_error(),
        }
    }
}

fn internal_error() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side.",
    )
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Store(store) => store.into(),
            SendError::Destination(refused) => refused.into(),
            SendError::ChannelDisabled(channel) => bad_request(
                "channel_disabled",
                format!(
                    "The {} channel is not enabled on this service.",
                    channel.as_str()
                ),
            ),
            SendError::Limited(limit) => limit.into(),
            SendError::Delivery(delivery) => delivery.into(),
        }
    }
}

impl From<DeliveryError> for ApiError {
    fn from(error: DeliveryError) -> Self {
        match error {
            DeliveryError::Recipient(problem) => {
                let (reason, message) = match problem {
                    RecipientProblem::InvalidNumber => (
                        "recipient_invalid",
                        "The message provider says this is not a valid phone number.",
                    ),
                    RecipientProblem::CannotReceive => (
                        "recipient_cannot_receive",
                        "This phone number cannot receive text messages (is it a landline?).",
                    ),
                    RecipientProblem::Unreachable => (
                        "recipient_unreachable",
                        "Messages cannot be delivered to this phone number.",
                    ),
                    RecipientProblem::OptedOut => (
                        "recipient_opted_out",
                        "This phone number has opted out of messages from us (reply START to opt back in).",
                    ),
                };
                bad_request(reason, message)
            }
            DeliveryError::Misconfigured(cause) => {
                tracing::error!(cause = %cause, "the message provider refused our request: check the Twilio settings");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    INTERNAL_SERVER_ERROR,
                    "delivery_misconfigured",
                    "The verification code could not be sent. Nothing was sent; please try again later.",
                )
            }
            DeliveryError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "the message provider is unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    INTERNAL_SERVER_ERROR,
                    "delivery_unavailable",
                    "The verification code could not be sent right now. Please try again.",
                )
                .retry_after(5)
            }
        }
    }
}

impl From<CheckError> for ApiError {
    fn from(error: CheckError) -> Self {
        let failed =
            |status, reason, message: &str| ApiError::new(status, SCRIPT_FAILED, reason, message);
        match error {
            CheckError::IncorrectCode { attempts_remaining } => failed(
                StatusCode::BAD_REQUEST,
                "incorrect_code",
                "Invalid verification code.",
            )
            .detail("attemptsRemaining", attempts_remaining),
            CheckError::NoPendingVerification => failed(
                StatusCode::NOT_FOUND,
                "no_pending_verification",
                "No verification code is pending for this phone number. Request a new code.",
            ),
            CheckError::AlreadyUsed => failed(
                StatusCode::CONFLICT,
                "code_already_used",
                "The verification code was already used.",
            ),
            CheckError::Replaced => failed(
                StatusCode::CONFLICT,
                "code_replaced",
                "A newer verification code was sent. Enter that one.",
            ),
            CheckError::AttemptsExhausted => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                REQUEST_LIMIT_EXCEEDED,
                "max_attempts_reached",
                "Too many incorrect attempts for this code. Request a new code.",
            )
            .detail("attemptsRemaining", 0),
            CheckError::Limited(limit) => limit.into(),
            CheckError::Store(store) => store.into(),
        }
    }
}

impl From<DestinationRefused> for ApiError {
    fn from(refused: DestinationRefused) -> Self {
        let reason = match refused {
            DestinationRefused::CountryNotAllowed => "country_not_allowed",
            DestinationRefused::PremiumRate => "premium_rate_number",
            DestinationRefused::CannotReceiveSms => "number_cannot_receive_sms",
            DestinationRefused::OwnNumber => "own_number",
        };
        bad_request(reason, refused.to_string())
    }
}

impl From<LimitReached> for ApiError {
    fn from(reached: LimitReached) -> Self {
        let (reason, message) = match reached.limit {
            Limit::ResendCooldown => (
                "resend_too_soon",
                "A code was just sent to this number. Wait before asking for another.",
            ),
            Limit::NumberSendsPer10Minutes => (
                "too_many_codes_10_minutes",
                "Too many codes were sent to this number in the last minutes.",
            ),
            Limit::NumberSendsPerDay => (
                "too_many_codes_24_hours",
                "Too many codes were sent to this number today.",
            ),
            Limit::NumberLocked => (
                "number_locked",
                "Too many incorrect codes for this number. Try again later.",
            ),
            Limit::ClientRequests => (
                "too_many_requests_from_client",
                "Too many requests from this client. Try again later.",
            ),
            Limit::ClientSends => (
                "too_many_codes_from_client",
                "Too many verification codes requested from this client. Try again later.",
            ),
            Limit::MessagesPerHour => (
                "message_budget_exhausted",
                "Verification messages are temporarily unavailable. Try again later.",
            ),
            Limit::MessagesPerCountryPerHour => (
                "country_budget_exhausted",
                "Verification messages to this country are temporarily unavailable. Try again later.",
            ),
        };
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            REQUEST_LIMIT_EXCEEDED,
            reason,
            message,
        )
        .retry_after(reached.retry_after_seconds)
    }
}
