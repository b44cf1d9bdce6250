use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::ApiError;
use super::answer::success;
use super::params::{Params, client_address};
use crate::ports::{Clock, MessageSender, VerificationStore};
use crate::service::{SendRequest, VerificationService};

/// The two cloud functions over one verification service.
pub struct Api<S, M, C> {
    service: VerificationService<S, M, C>,
    application_id: Option<String>,
}

impl<S: VerificationStore, M: MessageSender, C: Clock> Api<S, M, C> {
    pub fn new(service: VerificationService<S, M, C>, application_id: Option<String>) -> Self {
        Self {
            service,
            application_id,
        }
    }

    /// `POST /functions/sendVerificationCode` `{"phoneNumber", "channel"?, "locale"?}`.
    pub async fn send_verification_code(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let params = Params::read(&request, self.application_id.as_deref())?;
            let phone = params.phone_number()?;
            let channel = params.channel()?;
            params.locale()?;
            let sent = self
                .service
                .send_code(SendRequest {
                    phone,
                    channel,
                    client: client_address(&request),
                })
                .await?;
            Ok(json!({
                "status": "pending",
                "phoneNumber": sent.phone.as_e164(),
                "channel": sent.channel.as_str(),
                "expiresAt": sent.expires_at.to_string(),
                "resendAvailableAt": sent.resend_available_at.to_string(),
                "attemptsRemaining": sent.attempts_remaining,
            }))
        };
        respond("sendVerificationCode", started, outcome.await)
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
            Ok(json!({
                "status": "approved",
                "phoneNumber": approved.phone.as_e164(),
                "verifiedAt": approved.verified_at.to_string(),
            }))
        };
        respond("verifyPhoneNumber", started, outcome.await)
    }
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
