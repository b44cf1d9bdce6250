//! The verification rules, independent of HTTP, DynamoDB and Twilio.

use crate::domain::{
    Channel, CodeHasher, CodeLength, OneTimeCode, PhoneNumber, Timestamp, VerificationId,
};
use crate::ports::{
    AttemptRefused, Clock, DeliveryError, MessageSender, NewVerification, OutgoingMessage,
    StoreError, VerificationStore,
};

/// The tunable rules of a verification.
#[derive(Debug, Clone)]
pub struct Policy {
    pub code_length: CodeLength,
    pub code_ttl_seconds: u64,
    pub max_attempts: u32,
    /// Names the app in the message ("Your Acme verification code...").
    pub app_name: Option<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_length: CodeLength::default(),
            code_ttl_seconds: 600,
            max_attempts: 5,
            app_name: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SendRequest {
    pub phone: PhoneNumber,
    pub channel: Channel,
}

/// A code is on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub expires_at: Timestamp,
    pub attempts_remaining: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The code was withdrawn, so the user may simply ask again.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

/// The number is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub phone: PhoneNumber,
    pub verified_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the code does not match")]
    IncorrectCode { attempts_remaining: u32 },
    #[error("no code is pending for this number")]
    NoPendingVerification,
    #[error("the code expired")]
    Expired,
    #[error("the code was already used")]
    AlreadyUsed,
    #[error("all attempts for this code are used up")]
    AttemptsExhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AttemptRefused> for CheckError {
    fn from(refused: AttemptRefused) -> Self {
        match refused {
            AttemptRefused::NoPendingVerification => CheckError::NoPendingVerification,
            AttemptRefused::Expired => CheckError::Expired,
            AttemptRefused::AlreadyApproved => CheckError::AlreadyUsed,
            AttemptRefused::AttemptsExhausted => CheckError::AttemptsExhausted,
        }
    }
}

pub struct VerificationService<S, M, C> {
    store: S,
    sender: M,
    clock: C,
    hasher: CodeHasher,
    policy: Policy,
}

impl<S: VerificationStore, M: MessageSender, C: Clock> VerificationService<S, M, C> {
    pub fn new(store: S, sender: M, clock: C, hasher: CodeHasher, policy: Policy) -> Self {
        Self {
            store,
            sender,
            clock,
            hasher,
            policy,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Stores the hash of a new code (replacing any previous one), then sends
    /// the code. If sending fails the code is withdrawn again.
    pub async fn send_code(&self, request: SendRequest) -> Result<CodeSent, SendError> {
        let SendRequest { phone, channel } = request;
        let now = self.clock.now();
        let code = OneTimeCode::generate(self.policy.code_length);
        let id = VerificationId::random();
        let expires_at = now.plus_seconds(self.policy.code_ttl_seconds);
        self.store
            .save_new(&NewVerification {
                phone: phone.clone(),
                id: id.clone(),
                code_mac: self.hasher.mac(&phone, &id, &code),
                key_id: self.hasher.key_id().to_owned(),
                channel,
                created_at: now,
                expires_at,
            })
            .await?;
        let message = OutgoingMessage {
            to: phone.clone(),
            channel,
            body: self.message_body(&code),
        };
        if let Err(delivery) = self.sender.send(&message).await {
            if let Err(store) = self.store.withdraw(&phone, &id).await {
                // The undelivered code stays until it expires; nobody knows it.
                tracing::error!(phone = %phone, error = %store, "could not withdraw an undelivered code");
            }
            return Err(delivery.into());
        }
        Ok(CodeSent {
            phone,
            channel,
            expires_at,
            attempts_remaining: self.policy.max_attempts,
        })
    }

    /// Counts the attempt first, then compares in constant time; a match is
    /// approved with a conditional write, so a code works exactly once.
    pub async fn check_code(
        &self,
        phone: PhoneNumber,
        code: &OneTimeCode,
    ) -> Result<Approved, CheckError> {
        let now = self.clock.now();
        let attempt = self
            .store
            .count_attempt(&phone, now, self.policy.max_attempts)
            .await??;
        let matches = self.hasher.matches(
            &phone,
            &attempt.id,
            code,
            &attempt.key_id,
            &attempt.code_mac,
        );
        if !matches {
            return Err(CheckError::IncorrectCode {
                attempts_remaining: self.policy.max_attempts.saturating_sub(attempt.attempts),
            });
        }
        if self.store.approve(&phone, &attempt.id, now).await? {
            Ok(Approved {
                phone,
                verified_at: now,
            })
        } else {
            Err(CheckError::AlreadyUsed)
        }
    }

    fn message_body(&self, code: &OneTimeCode) -> String {
        match &self.policy.app_name {
            Some(app) => format!("Your {app} verification code is: {}", code.as_str()),
            None => format!("Your verification code is: {}", code.as_str()),
        }
    }
}
