//! The one place where errors become HTTP answers: each error picks its
//! [`Reason`], which fixes status, Parse code and message. Expected failures
//! are 4xx; a 5xx means nothing was sent and nothing changed, because Parse
//! SDKs retry every 5xx. Internal causes are logged here, never sent.

use super::{ApiError, MAX_BODY_BYTES, Reason, RequestError};
use crate::adapters::aws_sms::MalformedEvent;
use crate::adapters::plivo_call::ScriptRefused;
use crate::adapters::sns::SnsRefusal;
use crate::domain::{
    CodeFormatError, DestinationRefused, Limit, LimitReached, PhoneNumberError, UnknownChannel,
};
use crate::ports::{DeliveryError, RecipientProblem, StoreError};
use crate::service::{CheckError, SendError};

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        use RequestError::*;
        match error {
            UnknownRoute => Reason::UnknownFunction.into(),
            MethodNotAllowed => Reason::MethodNotAllowed.into(),
            UnsupportedMediaType => Reason::UnsupportedMediaType.into(),
            EmptyBody => Reason::MissingBody.into(),
            BodyTooLarge => ApiError::from(Reason::BodyTooLarge).message(format!(
                "The request body is larger than {MAX_BODY_BYTES} bytes."
            )),
            InvalidJson => Reason::InvalidJson.into(),
            NotAnObject => Reason::BodyNotAnObject.into(),
            Missing(name) => ApiError::from(Reason::MissingParameter)
                .message(format!("The parameter {name} is required."))
                .detail("parameter", name),
            NotAString(name) => ApiError::from(Reason::InvalidParameterType)
                .message(format!("The parameter {name} must be a string."))
                .detail("parameter", name),
            InvalidLocale => Reason::InvalidLocale.into(),
            InvalidHumanProof => Reason::InvalidHumanProof.into(),
            InvalidIdempotencyKey => Reason::InvalidIdempotencyKey.into(),
            IdempotencyKeyInUse => Reason::IdempotencyKeyInUse.into(),
            DeliveryReportsDisabled => Reason::DeliveryReportsDisabled.into(),
            InvalidSignature => Reason::InvalidSignature.into(),
            MalformedDeliveryReport => Reason::InvalidDeliveryReport.into(),
            WrongApplicationId => Reason::InvalidApplicationId.into(),
        }
    }
}

impl From<SnsRefusal> for ApiError {
    fn from(refusal: SnsRefusal) -> Self {
        tracing::warn!(%refusal, "an SNS delivery was refused");
        match refusal {
            SnsRefusal::Malformed => Reason::InvalidDeliveryReport,
            SnsRefusal::ForeignTopic => Reason::UnknownTopic,
            SnsRefusal::Stale => Reason::StaleDeliveryReport,
            SnsRefusal::BadSignature => Reason::InvalidSignature,
            SnsRefusal::Unreachable => Reason::DeliveryReportUnverifiable,
        }
        .into()
    }
}

impl From<ScriptRefused> for ApiError {
    fn from(refused: ScriptRefused) -> Self {
        match refused {
            ScriptRefused::Invalid => Reason::InvalidCallScript,
            ScriptRefused::Expired => Reason::CallScriptExpired,
        }
        .into()
    }
}

impl From<MalformedEvent> for ApiError {
    fn from(_: MalformedEvent) -> Self {
        RequestError::MalformedDeliveryReport.into()
    }
}

impl From<PhoneNumberError> for ApiError {
    fn from(error: PhoneNumberError) -> Self {
        match error {
            PhoneNumberError::MissingCountryCode => Reason::PhoneNumberMissingCountryCode,
            PhoneNumberError::Invalid => Reason::InvalidPhoneNumber,
            PhoneNumberError::InvalidRegion => Reason::InvalidDefaultRegion,
        }
        .into()
    }
}

impl From<UnknownChannel> for ApiError {
    fn from(_: UnknownChannel) -> Self {
        Reason::UnsupportedChannel.into()
    }
}

impl From<CodeFormatError> for ApiError {
    fn from(error: CodeFormatError) -> Self {
        ApiError::from(Reason::InvalidCodeFormat).message(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "verification storage failed");
        match error {
            StoreError::Unavailable(_) => Reason::StorageUnavailable,
            StoreError::Malformed(_) => Reason::InternalError,
        }
        .into()
    }
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Store(store) => store.into(),
            SendError::Destination(refused) => refused.into(),
            SendError::ChannelDisabled(channel) => {
                ApiError::from(Reason::ChannelDisabled).message(format!(
                    "The {} channel is not enabled on this service.",
                    channel.as_str()
                ))
            }
            SendError::Limited(limit) => limit.into(),
            SendError::Delivery(delivery) => delivery.into(),
        }
    }
}

impl From<DeliveryError> for ApiError {
    fn from(error: DeliveryError) -> Self {
        match error {
            DeliveryError::Recipient(problem) => match problem {
                RecipientProblem::InvalidNumber => Reason::RecipientInvalid,
                RecipientProblem::CannotReceive => Reason::RecipientCannotReceive,
                RecipientProblem::Unreachable => Reason::RecipientUnreachable,
                RecipientProblem::OptedOut => Reason::RecipientOptedOut,
            }
            .into(),
            DeliveryError::Misconfigured(cause) => {
                tracing::error!(cause = %cause, "the message provider refused our request: check the Twilio settings");
                Reason::DeliveryMisconfigured.into()
            }
            DeliveryError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "the message provider is unavailable");
                Reason::DeliveryUnavailable.into()
            }
        }
    }
}

impl From<CheckError> for ApiError {
    fn from(error: CheckError) -> Self {
        match error {
            CheckError::IncorrectCode {
                attempts_remaining, ..
            } => ApiError::from(Reason::IncorrectCode)
                .detail("attemptsRemaining", attempts_remaining),
            CheckError::NoPendingVerification => Reason::NoPendingVerification.into(),
            CheckError::AlreadyUsed => Reason::CodeAlreadyUsed.into(),
            CheckError::Replaced => Reason::CodeReplaced.into(),
            CheckError::AttemptsExhausted => {
                ApiError::from(Reason::MaxAttemptsReached).detail("attemptsRemaining", 0)
            }
            CheckError::Limited(limit) => limit.into(),
            CheckError::Store(store) => store.into(),
        }
    }
}

impl From<DestinationRefused> for ApiError {
    fn from(refused: DestinationRefused) -> Self {
        match refused {
            DestinationRefused::CountryNotAllowed => Reason::CountryNotAllowed,
            DestinationRefused::PremiumRate => Reason::PremiumRateNumber,
            DestinationRefused::CannotReceiveSms => Reason::NumberCannotReceiveSms,
            DestinationRefused::OwnNumber => Reason::OwnNumber,
        }
        .into()
    }
}

impl From<LimitReached> for ApiError {
    fn from(reached: LimitReached) -> Self {
        let reason = match reached.limit {
            Limit::ResendCooldown => Reason::ResendTooSoon,
            Limit::NumberSendsPer10Minutes => Reason::TooManyCodes10Minutes,
            Limit::NumberSendsPerDay => Reason::TooManyCodes24Hours,
            Limit::NumberCallsPerDay => Reason::TooManyCalls24Hours,
            Limit::NumberLocked => Reason::NumberLocked,
            Limit::ClientRequests => Reason::TooManyRequestsFromClient,
            Limit::ClientSends => Reason::TooManyCodesFromClient,
            Limit::MessagesPerHour => Reason::MessageBudgetExhausted,
            Limit::MessagesPerCountryPerHour => Reason::CountryBudgetExhausted,
            Limit::DestinationRestricted => Reason::DestinationRestricted,
            Limit::HumanProofRequired => Reason::HumanProofRequired,
        };
        ApiError::from(reason).retry_after(reached.retry_after_seconds)
    }
}
