//! The verify function's settings: the proof signing key.

use base64::Engine;

use super::settings::{getter, number};
use super::{Config, ConfigError, VerifyConfig};
use crate::adapters::clock::SystemClock;
use crate::domain::Timestamp;
use crate::ports::Clock;
use crate::proof::ProofSigner;

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
