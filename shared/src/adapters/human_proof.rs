//! The proof of a human that lets a send through a fraud restriction: a
//! token the client got from a challenge (Cloudflare Turnstile, Google
//! reCAPTCHA, hCaptcha), checked with its provider's `siteverify` call,
//! which all three speak alike: a form POST of `secret` and `response`,
//! answered `{"success": true|false, ...}`. An app attestation (App Check,
//! Play Integrity) fits behind a small function that speaks the same.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Where and with what secret tokens are checked.
#[derive(Debug, Clone)]
pub struct HumanProofConfig {
    pub verify_url: String,
    pub secret: SecretString,
}

/// How long a check may take: it only runs for a send that a restriction
/// would refuse, and a refusal is the answer if it takes longer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct HumanProofChecker {
    http: reqwest::Client,
    config: HumanProofConfig,
}

#[derive(Debug, Deserialize)]
struct SiteVerify {
    success: bool,
}

/// Why no verdict came back (the send is refused as without a proof).
#[derive(Debug, thiserror::Error)]
#[error("the human proof check failed: {0}")]
pub struct HumanProofUnavailable(String);

impl HumanProofChecker {
    pub fn new(config: HumanProofConfig) -> Result<Self, reqwest::Error> {
        let http = super::https::client_builder()
            .timeout(CHECK_TIMEOUT)
            .connect_timeout(CHECK_TIMEOUT)
            .build()?;
        Ok(Self { http, config })
    }

    /// Whether the provider vouches for `token` (each token once: the
    /// providers refuse a token they have seen).
    pub async fn passes(&self, token: &str) -> Result<bool, HumanProofUnavailable> {
        let unavailable = |error: reqwest::Error| HumanProofUnavailable(error.to_string());
        let answer = self
            .http
            .post(&self.config.verify_url)
            .form(&[
                ("secret", self.config.secret.expose_secret()),
                ("response", token),
            ])
            .send()
            .await
            .map_err(unavailable)?;
        if !answer.status().is_success() {
            return Err(HumanProofUnavailable(format!("HTTP {}", answer.status())));
        }
        let verdict: SiteVerify = answer.json().await.map_err(unavailable)?;
        Ok(verdict.success)
    }
}
