//! Failures as Twilio Verify answers them: Twilio's error codes for the
//! same situations (https://www.twilio.com/docs/api/errors), in its error
//! body `{code, message, more_info, status}`. Every refusal the Parse API
//! can give has its Twilio code here (the match is exhaustive).

use std::borrow::Cow;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use crate::http::{ApiError, Reason};

/// Why a Verify API request failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// No or wrong API key credentials.
    Unauthenticated,
    /// No such service or verification (or no longer pending): Twilio's
    /// 20404 for the resource path.
    NotFound,
    /// A parameter Twilio would refuse, by its name (`To`, `Code`...).
    InvalidParameter(&'static str),
    /// `Status=approved` by a key without the right to approve.
    ApprovalNotAllowed,
    /// A refusal the Parse API gives too.
    Api(ApiError),
}

impl<E: Into<ApiError>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::Api(error.into())
    }
}

/// A Twilio error answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TwilioError {
    pub status: StatusCode,
    pub code: u32,
    pub message: Cow<'static, str>,
    pub retry_after_seconds: Option<u64>,
    /// Our `reason`, for the log line and the metric (not in the body).
    pub reason: &'static str,
}

impl TwilioError {
    fn new(status: StatusCode, code: u32, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_seconds: None,
            reason: "",
        }
    }

    pub fn body(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        })
    }
}

impl Failure {
    /// The Twilio error for this failure on `resource` (the request's path
    /// below `/v2`, as Twilio names it in its 20404 message).
    pub fn twilio(self, resource: &str) -> TwilioError {
        let not_found = || {
            TwilioError::new(
                StatusCode::NOT_FOUND,
                20404,
                format!("The requested resource {resource} was not found"),
            )
        };
        let invalid = |name: &str| {
            TwilioError::new(
                StatusCode::BAD_REQUEST,
                60200,
                format!("Invalid parameter: {name}"),
            )
        };
        match self {
            Failure::Unauthenticated => TwilioError {
                reason: "unauthenticated",
                ..TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
            },
            Failure::NotFound => TwilioError {
                reason: "not_found",
                ..not_found()
            },
            Failure::InvalidParameter(name) => TwilioError {
                reason: "invalid_parameter",
                ..invalid(name)
            },
            Failure::ApprovalNotAllowed => TwilioError {
                reason: "approval_not_allowed",
                ..TwilioError::new(
                    StatusCode::FORBIDDEN,
                    20403,
                    "This API key may not approve verifications without a code",
                )
            },
            Failure::Api(error) => {
                use Reason::*;
                let too_many = |code, message: &'static str| {
                    TwilioError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
                };
                let twilio = match error.reason {
                    // API Gateway answers an unknown method itself, with 404.
                    UnknownFunction
                    | MethodNotAllowed
                    | NoPendingVerification
                    | CodeAlreadyUsed
                    | CodeReplaced
                    | ProofTokensDisabled
                    | DeliveryReportsDisabled => not_found(),
                    UnsupportedMediaType
                    | MissingBody
                    | BodyTooLarge
                    | InvalidJson
                    | BodyNotAnObject
                    | MissingParameter
                    | InvalidParameterType
                    | InvalidIdempotencyKey
                    | InvalidDeliveryReport
                    | StaleDeliveryReport
                    | InvalidCallScript
                    | CallScriptExpired => {
                        TwilioError::new(StatusCode::BAD_REQUEST, 60200, error.message)
                    }
                    InvalidApplicationId | InvalidSignature | UnknownTopic => {
                        TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
                    }
                    IdempotencyKeyInUse => {
                        too_many(60212, "Too many concurrent requests for phone number")
                    }
                    PhoneNumberMissingCountryCode
                    | InvalidPhoneNumber
                    | InvalidDefaultRegion
                    | OwnNumber => invalid("To"),
                    UnsupportedChannel => invalid("Channel"),
                    InvalidLocale => invalid("Locale"),
                    InvalidHumanProof => invalid("HumanProof"),
                    InvalidCodeFormat | IncorrectCode => invalid("Code"),
                    ChannelDisabled => TwilioError::new(
                        StatusCode::BAD_REQUEST,
                        60223,
                        "Delivery channel disabled",
                    ),
                    CountryNotAllowed | PremiumRateNumber => TwilioError::new(
                        StatusCode::FORBIDDEN,
                        60605,
                        "Verification delivery attempt blocked",
                    ),
                    NumberCannotReceiveSms | RecipientCannotReceive => TwilioError::new(
                        StatusCode::FORBIDDEN,
                        60205,
                        "SMS is not supported by landline phone number",
                    ),
                    RecipientInvalid => {
                        TwilioError::new(StatusCode::BAD_REQUEST, 60006, "Invalid Phone Number")
                    }
                    RecipientUnreachable => TwilioError::new(
                        StatusCode::BAD_REQUEST,
                        21612,
                        "The 'To' phone number is not currently reachable",
                    ),
                    RecipientOptedOut => TwilioError::new(
                        StatusCode::BAD_REQUEST,
                        21610,
                        "Attempt to send to unsubscribed recipient",
                    ),
                    MaxAttemptsReached | NumberLocked => {
                        too_many(60202, "Max check attempts reached")
                    }
                    ResendTooSoon => {
                        too_many(60212, "Too many concurrent requests for phone number")
                    }
                    TooManyCodes10Minutes | TooManyCodes24Hours | TooManyCalls24Hours => {
                        too_many(60203, "Max send attempts reached")
                    }
                    TooManyRequestsFromClient
                    | TooManyCodesFromClient
                    | MessageBudgetExhausted
                    | CountryBudgetExhausted => too_many(20429, "Too Many Requests"),
                    DestinationRestricted => {
                        too_many(60410, "Verification delivery attempt blocked")
                    }
                    HumanProofRequired => too_many(
                        60410,
                        "Verification delivery attempt blocked: send the end user's human check token as HumanProof",
                    ),
                    StorageUnavailable | DeliveryUnavailable | DeliveryReportUnverifiable => {
                        TwilioError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            20503,
                            "Service unavailable",
                        )
                    }
                    DeliveryMisconfigured | InternalError => TwilioError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        20500,
                        "Internal Server Error",
                    ),
                };
                TwilioError {
                    retry_after_seconds: error.retry_after_seconds,
                    reason: error.reason.as_str(),
                    ..twilio
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Twilio code the API answers with, with the HTTP status Twilio's
    /// error pages give it.
    const TWILIO_STATUS: &[(u32, u16)] = &[
        (20003, 401),
        (20403, 403),
        (20404, 404),
        (20429, 429),
        (20500, 500),
        (20503, 503),
        (21610, 400),
        (21612, 400),
        (60006, 400),
        (60200, 400),
        (60202, 429),
        (60203, 429),
        (60205, 403),
        (60212, 429),
        (60223, 400),
        (60410, 429),
        (60605, 403),
    ];

    #[test]
    fn every_refusal_has_a_twilio_code_with_twilios_status() {
        let failures = Reason::ALL
            .iter()
            .map(|reason| Failure::Api(ApiError::from(*reason)))
            .chain([
                Failure::Unauthenticated,
                Failure::NotFound,
                Failure::InvalidParameter("To"),
                Failure::ApprovalNotAllowed,
            ]);
        for failure in failures {
            let described = format!("{failure:?}");
            let error = failure.twilio("/Services/VA1/Verifications");
            let expected = TWILIO_STATUS
                .iter()
                .find(|(code, _)| *code == error.code)
                .unwrap_or_else(|| panic!("{described}: code {} is not listed", error.code));
            assert_eq!(error.status.as_u16(), expected.1, "{described}");
            assert!(!error.reason.is_empty(), "{described}");
        }
    }

    #[test]
    fn the_body_is_twilios_error_shape() {
        let error = Failure::NotFound.twilio("/Services/VA1/VerificationCheck");
        assert_eq!(
            error.body(),
            json!({
                "code": 20404,
                "message": "The requested resource /Services/VA1/VerificationCheck was not found",
                "more_info": "https://www.twilio.com/docs/errors/20404",
                "status": 404,
            })
        );
    }
}
