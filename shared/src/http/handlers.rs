use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use sha2::{Digest, Sha256};

use lambda_http::http::StatusCode;

use super::answer::{public_json, success};
use super::metrics;
use super::params::{DeliveryReport, Params, client_address};
use super::parse_code;
use super::{ApiError, RequestError};
use crate::adapters::twilio::WebhookValidator;
use crate::domain::PhoneNumber;
use crate::ports::{Claim, Clock, IdempotencyStore, MessageSender, StoreError, VerificationStore};
use crate::proof::ProofSigner;
use crate::service::{SendRequest, VerificationService};

/// The two cloud functions over one verification service.
pub struct Api<S, M, C> {
    service: VerificationService<S, M, C>,
    settings: ApiSettings,
}

/// The optional parts of the API.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Required on every call when set (`X-Parse-Application-Id`).
    pub application_id: Option<String>,
    /// Signs a proof of verification on approval when set.
    pub proof: Option<ProofSigner>,
    /// Accepts Twilio's delivery reports when set.
    pub delivery_reports: Option<WebhookValidator>,
}

impl<S: VerificationStore + IdempotencyStore, M: MessageSender, C: Clock> Api<S, M, C> {
    pub fn new(service: VerificationService<S, M, C>, settings: ApiSettings) -> Self {
        Self { service, settings }
    }

    pub fn service(&self) -> &VerificationService<S, M, C> {
        &self.service
    }

    /// `POST /twilio/status`: Twilio's delivery report for a code. A code
    /// that never arrived is withdrawn so the user may ask again at once.
    pub async fn twilio_status(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let validator = self
                .settings
                .delivery_reports
                .as_ref()
                .ok_or(RequestError::DeliveryReportsDisabled)?;
            let report = DeliveryReport::read(&request)?;
            let signature = request
                .headers()
                .get("x-twilio-signature")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            if !validator.is_valid(request.uri().query(), &report.params, signature) {
                return Err(RequestError::InvalidSignature.into());
            }
            let undelivered = report.undelivered();
            if let Some((phone, id, sent_at)) = undelivered.then(|| report.code()).transpose()? {
                self.service
                    .record_undelivered(&phone, &id, sent_at)
                    .await?;
            }
            Ok(json!({ "withdrawn": undelivered }))
        };
        respond("twilioStatus", started, outcome.await)
    }

    /// `GET /.well-known/jwks.json`: the public key of the proof tokens.
    pub fn jwks(&self) -> Response<Body> {
        match &self.settings.proof {
            Some(signer) => public_json(signer.jwks()),
            None => ApiError::new(
                StatusCode::NOT_FOUND,
                parse_code::OPERATION_FORBIDDEN,
                "proof_tokens_disabled",
                "This service does not issue proof tokens (PROOF_SIGNING_KEY is not set).",
            )
            .into_response(),
        }
    }

    /// `POST /functions/sendVerificationCode` `{"phoneNumber", "channel"?, "locale"?,
    /// "idempotencyKey"?}` (or an `Idempotency-Key` header).
    pub async fn send_verification_code(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let params = Params::read(&request, self.settings.application_id.as_deref())?;
            let phone = params.phone_number()?;
            let channel = params.channel()?;
            let locale = params.locale()?.map(str::to_owned);
            let key = params.idempotency_key(&request)?;
            let send = async || {
                let sent = self
                    .service
                    .send_code(SendRequest {
                        phone: phone.clone(),
                        channel,
                        client: client_address(&request),
                        locale: locale.clone(),
                    })
                    .await?;
                metrics::count(
                    "CodesSent",
                    &[
                        ("Country", sent.phone.region_code()),
                        ("Channel", sent.channel.as_str()),
                    ],
                );
                Ok(json!({
                    "status": "pending",
                    "phoneNumber": sent.phone.as_e164(),
                    "channel": sent.channel.as_str(),
                    "expiresAt": sent.expires_at.to_string(),
                    "resendAvailableAt": sent.resend_available_at.to_string(),
                    "attemptsRemaining": sent.attempts_remaining,
                }))
            };
            match key {
                Some(key) => self.once(&scoped_key(&phone, &key), send).await,
                None => send().await,
            }
        };
        respond("sendVerificationCode", started, outcome.await)
    }

    /// Runs `send` once per idempotency key: a retry with the same key gets
    /// the first successful answer instead of sending another message.
    async fn once(
        &self,
        key: &str,
        send: impl AsyncFnOnce() -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let store = self.service.store();
        match store.claim(key, self.service.now()).await? {
            Claim::First => {}
            Claim::InProgress => return Err(RequestError::IdempotencyKeyInUse.into()),
            Claim::Replay(answer) => {
                return serde_json::from_str(&answer).map_err(|_| {
                    StoreError::Malformed("a stored idempotent answer is not JSON".into()).into()
                });
            }
        }
        let outcome = send().await;
        let now = self.service.now();
        let recorded = match &outcome {
            Ok(result) => store.complete(key, &result.to_string(), now).await,
            Err(_) => store.release(key, now).await,
        };
        if let Err(error) = recorded {
            tracing::error!(%error, "could not record the outcome of an idempotent send");
        }
        outcome
    }

    /// `POST /functions/verifyPhoneNumber` `{"phoneNumber", "phoneVerificationCode"}`.
    pub async fn verify_phone_number(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let params = Params::read(&request, self.settings.application_id.as_deref())?;
            let phone = params.phone_number()?;
            let code = params.code(self.service.policy().code_length)?;
            let approved = self
                .service
                .check_code(phone, &code, &client_address(&request))
                .await?;
            metrics::count("Approvals", &[]);
            let mut result = json!({
                "status": "approved",
                "phoneNumber": approved.phone.as_e164(),
                "verifiedAt": approved.verified_at.to_string(),
            });
            if let Some(signer) = &self.settings.proof {
                result["token"] = signer.sign(&approved.phone, approved.verified_at).into();
            }
            Ok(result)
        };
        respond("verifyPhoneNumber", started, outcome.await)
    }
}

/// Idempotency keys are scoped to the number (the same key for another
/// number is another request) and hashed to a fixed-length item key.
fn scoped_key(phone: &PhoneNumber, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(phone.as_e164())
        .chain_update(b"\n")
        .chain_update(key)
        .finalize();
    hex::encode(digest)
}

/// Logs one line per request (no number, no code) and builds the answer.
fn respond(function: &str, started: Instant, outcome: Result<Value, ApiError>) -> Response<Body> {
    let latency_us = started.elapsed().as_micros();
    match outcome {
        Ok(result) => {
            tracing::info!(
                function,
                status = 200,
                outcome = "ok",
                latency_us,
                "request answered"
            );
            success(result)
        }
        Err(error) => {
            metrics::count(
                "Refusals",
                &[("Reason", error.reason), ("Function", function)],
            );
            tracing::info!(
                function,
                status = error.status.as_u16(),
                outcome = "refused",
                reason = error.reason,
                latency_us,
                "request answered"
            );
            error.into_response()
        }
    }
}
