//! `Idempotency-Key`: a retried send with the same key gets the first
//! successful answer instead of sending another message.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ApiError, RequestError};
use crate::domain::{PhoneNumber, Pseudonym};

/// The answer's field that holds the number.
const PHONE_NUMBER: &str = "phoneNumber";
use crate::ports::{Claim, Clock, IdempotencyStore, StoreError, VerificationStore};
use crate::service::VerificationService;

/// Runs `send` once per idempotency key: a retry with the same key gets
/// the first successful answer instead of sending another message. The
/// answer is stored without the phone number (storage never holds one):
/// the key is scoped to the number, so a replay puts back the caller's.
pub(super) async fn once<S: VerificationStore + IdempotencyStore, D, C: Clock>(
    service: &VerificationService<S, D, C>,
    key: &str,
    phone: &PhoneNumber,
    send: impl AsyncFnOnce() -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let store = service.store();
    match store.claim(key, service.now()).await? {
        Claim::First => {}
        Claim::InProgress => return Err(RequestError::IdempotencyKeyInUse.into()),
        Claim::Replay(answer) => {
            let mut answer: Value = serde_json::from_str(&answer).map_err(|_| {
                StoreError::Malformed("a stored idempotent answer is not JSON".into())
            })?;
            answer[PHONE_NUMBER] = phone.as_e164().into();
            return Ok(answer);
        }
    }
    let outcome = send().await;
    let now = service.now();
    let recorded = match &outcome {
        Ok(result) => {
            let mut stored = result.clone();
            if let Some(fields) = stored.as_object_mut() {
                fields.remove(PHONE_NUMBER);
            }
            store.complete(key, &stored.to_string(), now).await
        }
        Err(_) => store.release(key, now).await,
    };
    if let Err(error) = recorded {
        tracing::error!(%error, "could not record the outcome of an idempotent send");
    }
    outcome
}

/// Idempotency keys are scoped to the number (the same key for another
/// number is another request) and hashed to a fixed-length item key. The
/// number enters as its keyed pseudonym: an unkeyed hash of a number could
/// be reversed by trying every number.
pub(super) fn scoped_key(number: &Pseudonym, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(number.as_str())
        .chain_update(b"\n")
        .chain_update(key)
        .finalize();
    hex::encode(digest)
}
