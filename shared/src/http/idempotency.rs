//! `Idempotency-Key`: a retried send with the same key gets the first
//! successful answer instead of sending another message.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ApiError, RequestError};
use crate::domain::PhoneNumber;
use crate::ports::{Claim, Clock, IdempotencyStore, StoreError, VerificationStore};
use crate::service::VerificationService;

/// Runs `send` once per idempotency key: a retry with the same key gets
/// the first successful answer instead of sending another message.
pub(super) async fn once<S: VerificationStore + IdempotencyStore, D, C: Clock>(
    service: &VerificationService<S, D, C>,
    key: &str,
    send: impl AsyncFnOnce() -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let store = service.store();
    match store.claim(key, service.now()).await? {
        Claim::First => {}
        Claim::InProgress => return Err(RequestError::IdempotencyKeyInUse.into()),
        Claim::Replay(answer) => {
            return serde_json::from_str(&answer).map_err(|_| {
                StoreError::Malformed("a stored idempotent answer is not JSON".into()).into()
            });
        }
    }
    let outcome = send().await;
    let now = service.now();
    let recorded = match &outcome {
        Ok(result) => store.complete(key, &result.to_string(), now).await,
        Err(_) => store.release(key, now).await,
    };
    if let Err(error) = recorded {
        tracing::error!(%error, "could not record the outcome of an idempotent send");
    }
    outcome
}

/// Idempotency keys are scoped to the number (the same key for another
/// number is another request) and hashed to a fixed-length item key.
pub(super) fn scoped_key(phone: &PhoneNumber, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(phone.as_e164())
        .chain_update(b"\n")
        .chain_update(key)
        .finalize();
    hex::encode(digest)
}
