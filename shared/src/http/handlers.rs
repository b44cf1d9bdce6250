use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use sha2::{Digest, Sha256};

use super::answer::{public_json, success};
use super::gateway::{Route, client_address, deadline, match_route, public_url};
use super::metrics;
use super::params::{DeliveryReport, Params};
use super::{ApiError, Reason, RequestError};
use crate::adapters::twilio::DeliveryReports;
use crate::domain::PhoneNumber;
use crate::ports::{Claim, Clock, IdempotencyStore, MessageSender, StoreError, VerificationStore};
use crate::proof::ProofSigner;
use crate::service::{Delivery, SendRequest, VerificationService};

/// `sendVerificationCode`'s routes, as in template.yaml.
pub const SEND_ROUTE: Route = ("POST", "/functions/sendVerificationCode");
pub const STATUS_ROUTE: Route = ("POST", "/twilio/status");
/// `verifyPhoneNumber`'s routes.
pub const VERIFY_ROUTE: Route = ("POST", "/functions/verifyPhoneNumber");
pub const JWKS_ROUTE: Route = ("GET", "/.well-known/jwks.json");

/// The send function: sends codes, and takes Twilio's delivery reports.
pub struct SendApi<S, M, C> {
    service: VerificationService<S, Delivery<M>, C>,
    /// Required on every call when set (`X-Parse-Application-Id`).
    application_id: Option<String>,
    /// Accepts Twilio's delivery reports when set.
    delivery_reports: Option<DeliveryReports>,
}

/// The verify function: checks codes, and publishes the proof key.
pub struct VerifyApi<S, C> {
    service: VerificationService<S, (), C>,
    /// Required on every call when set (`X-Parse-Application-Id`).
    application_id: Option<String>,
    /// Signs a proof of verification on approval when set.
    proof: Option<ProofSigner>,
}

/// One Lambda function's HTTP entry point: routes a request to its handler.
pub trait HttpFunction: Send + Sync {
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send;
}

/// An answer for a request that matched none of a function's routes.
fn no_route(path_known: bool, function: &str) -> Response<Body> {
    let error = if path_known {
        RequestError::MethodNotAllowed
    } else {
        RequestError::UnknownRoute
    };
    respond(function, Instant::now(), Err(error.into()))
}

impl<S: VerificationStore + IdempotencyStore, M: MessageSender, C: Clock> SendApi<S, M, C> {
    pub fn new(
        service: VerificationService<S, Delivery<M>, C>,
        application_id: Option<String>,
        delivery_reports: Option<DeliveryReports>,
    ) -> Self {
        Self {
            service,
            application_id,
            delivery_reports,
        }
    }

    pub fn service(&self) -> &VerificationService<S, Delivery<M>, C> {
        &self.service
    }

    /// Where Twilio should report on messages sent for `request`.
    fn status_callback(&self, request: &Request) -> Option<String> {
        let reports = self.delivery_reports.as_ref()?;
        reports
            .callback_url
            .clone()
            .or_else(|| public_url(request, STATUS_ROUTE.1))
    }

    /// `POST /twilio/status`: Twilio's delivery report for a code. A code
    /// that never arrived is withdrawn so the user may ask again at once.
    pub async fn twilio_status(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let reports = self
                .delivery_reports
                .as_ref()
                .ok_or(RequestError::DeliveryReportsDisabled)?;
            let report = DeliveryReport::read(&request)?;
            let signature = request
                .headers()
                .get("x-twilio-signature")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            // The URL Twilio signed is the one we gave it when sending.
            let url = self.status_callback(&request).unwrap_or_default();
            if !reports
                .validator
                .is_valid(&url, request.uri().query(), &report.params, signature)
            {
                return Err(RequestError::InvalidSignature.into());
            }
            let withdrawn = match report.unreached().then(|| report.code()).transpose()? {
                Some((phone, id, sent_at)) => {
                    self.service
                        .record_undelivered(&phone, &id, sent_at)
                        .await?
                }
                None => false,
            };
            Ok(json!({ "withdrawn": withdrawn }))
        };
        respond("twilioStatus", started, outcome.await)
    }

    /// `POST /functions/sendVerificationCode` `{"phoneNumber", "channel"?, "locale"?,
    /// "idempotencyKey"?}` (or an `Idempotency-Key` header).
    pub async fn send_verification_code(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let params = Params::read(&request, self.application_id.as_deref())?;
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
                        status_callback: self.status_callback(&request),
                        deadline: deadline(&request),
                    })
                    .await?;
                metrics::count(
                    "CodesSent",
                    &[
                        ("Country", sent.phone.region_code()),
                        ("Channel", sent.channel.as_str()),
                    ],
                );
                let mut result = json!({
                    "status": "pending",
                    "phoneNumber": sent.phone.as_e164(),
                    "channel": sent.channel.as_str(),
                    "expiresAt": sent.expires_at.to_string(),
                    "resendAvailableAt": sent.resend_available_at.to_string(),
                    "attemptsRemaining": sent.attempts_remaining,
                });
                if sent.unconfirmed {
                    result["delivery"] = "unconfirmed".into();
                }
                Ok(result)
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
}

impl<S: VerificationStore, C: Clock> VerifyApi<S, C> {
    pub fn new(
        service: VerificationService<S, (), C>,
        application_id: Option<String>,
        proof: Option<ProofSigner>,
    ) -> Self {
        Self {
            service,
            application_id,
            proof,
        }
    }

    pub fn service(&self) -> &VerificationService<S, (), C> {
        &self.service
    }

    /// `GET /.well-known/jwks.json`: the public key of the proof tokens.
    pub fn jwks(&self) -> Response<Body> {
        match &self.proof {
            Some(signer) => public_json(signer.jwks()),
            None => ApiError::from(Reason::ProofTokensDisabled).into_response(),
        }
    }

    /// `POST /functions/verifyPhoneNumber` `{"phoneNumber", "phoneVerificationCode"}`.
    pub async fn verify_phone_number(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let params = Params::read(&request, self.application_id.as_deref())?;
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
            if let Some(signer) = &self.proof {
                result["token"] = signer.sign(&approved.phone, approved.verified_at).into();
            }
            Ok(result)
        };
        respond("verifyPhoneNumber", started, outcome.await)
    }
}

impl<S: VerificationStore + IdempotencyStore, M: MessageSender, C: Clock> HttpFunction
    for SendApi<S, M, C>
{
    async fn handle(&self, request: Request) -> Response<Body> {
        match match_route(&request, &[SEND_ROUTE, STATUS_ROUTE]) {
            Ok(SEND_ROUTE) => self.send_verification_code(request).await,
            Ok(_) => self.twilio_status(request).await,
            Err(path_known) => no_route(path_known, "sendVerificationCode"),
        }
    }
}

impl<S: VerificationStore, C: Clock> HttpFunction for VerifyApi<S, C> {
    async fn handle(&self, request: Request) -> Response<Body> {
        match match_route(&request, &[VERIFY_ROUTE, JWKS_ROUTE]) {
            Ok(VERIFY_ROUTE) => self.verify_phone_number(request).await,
            Ok(_) => self.jwks(),
            Err(path_known) => no_route(path_known, "verifyPhoneNumber"),
        }
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
                &[("Reason", error.reason.as_str()), ("Function", function)],
            );
            tracing::info!(
                function,
                status = error.status().as_u16(),
                outcome = "refused",
                reason = error.reason.as_str(),
                latency_us,
                "request answered"
            );
            error.into_response()
        }
    }
}
