//! The verify function's settings: the proof signing key.

use base64::Engine;
use ed25519_dalek::SigningKey;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::settings::{getter, number};
use super::{Config, ConfigError, VerifyConfig};
use crate::adapters::clock::SystemClock;
use crate::domain::Timestamp;
use crate::ports::Clock;
use crate::proof::{ProofSigner, RetiredKey};

impl VerifyConfig {
    /// The common settings plus the proof signing key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_at(lookup, SystemClock.now())
    }

    /// As `from_lookup`, with dates checked against `now`.
    pub fn from_lookup_at(
        lookup: impl Fn(&str) -> Option<String>,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let common = Config::from_lookup_at(&get, now)?;
        let proof = get("PROOF_SIGNING_KEY")
            .map(|key| -> Result<ProofSigner, ConfigError> {
                let seed = seed(&key).ok_or(ConfigError::Invalid {
                    name: "PROOF_SIGNING_KEY",
                    problem: "must be 32 random bytes in base64 (openssl rand -base64 32)",
                })?;
                let key_id = get("PROOF_KEY_ID").unwrap_or_else(|| "proof-1".into());
                let previous = get("PROOF_PREVIOUS_KEY")
                    .map(|entry| {
                        retired_key(&entry)
                            .filter(|retired| retired.key_id != key_id)
                            .ok_or(ConfigError::Invalid {
                                name: "PROOF_PREVIOUS_KEY",
                                problem: "must be KEY_ID,KEY,RETIRED_AT: the replaced key's id (not PROOF_KEY_ID) and base64 key, and the RFC 3339 time of the rotation",
                            })
                    })
                    .transpose()?;
                let signer = ProofSigner::new(
                    seed,
                    key_id,
                    get("PROOF_ISSUER").unwrap_or_else(|| "phone-verification".into()),
                    get("PROOF_AUDIENCE"),
                    number(&get, "PROOF_TOKEN_TTL_SECONDS", 300, 30..=3_600)?,
                );
                Ok(match previous {
                    Some(previous) => signer.with_previous(previous),
                    None => signer,
                })
            })
            .transpose()?;
        Ok(Self { common, proof })
    }
}

/// A 32-byte Ed25519 seed in base64.
fn seed(text: &str) -> Option<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
}

/// `KEY_ID,KEY,RETIRED_AT`: a key replaced at `RETIRED_AT` (RFC 3339),
/// published until the tokens it signed have expired.
fn retired_key(entry: &str) -> Option<RetiredKey> {
    let mut fields = entry.split(',').map(str::trim);
    let (key_id, key, retired_at) = (fields.next()?, fields.next()?, fields.next()?);
    let retired_at = OffsetDateTime::parse(retired_at, &Rfc3339).ok()?;
    (fields.next().is_none() && !key_id.is_empty()).then_some(())?;
    Some(RetiredKey {
        key_id: key_id.to_owned(),
        public_key: SigningKey::from_bytes(&seed(key)?).verifying_key(),
        retired_at: Timestamp::from_unix_seconds(retired_at.unix_timestamp()),
    })
}
