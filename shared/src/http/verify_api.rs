//! The verify function's handlers: `verifyPhoneNumber` and the proof key.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::answer::{public_json, respond};
use super::gateway::client_address;
use super::params::Params;
use super::side_effects::approval_token;
use super::verify_services::VerifyServices;
use super::{ApiError, Reason};

use crate::ports::{Clock, VerificationStore};
use crate::proof::{Earned, Method, PARSE_SERVICE, ProofSigner};
use crate::service::VerificationService;

/// The verify function: checks codes, and publishes the proof key.
pub struct VerifyApi<S, C> {
    service: VerificationService<S, (), C>,
    /// Required on every call when set (`X-Parse-Application-Id`).
    application_id: Option<String>,
    /// Signs a proof of verification on approval when set.
    pub(super) proof: Option<ProofSigner>,
    /// Serves Twilio Verify's checks, fetches and updates when set.
    pub(super) verify_api: Option<VerifyServices<VerificationService<S, (), C>>>,
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
            verify_api: None,
        }
    }

    /// The same function, serving the Verify API too when `verify_api` is set.
    pub fn with_verify_api(
        mut self,
        verify_api: Option<VerifyServices<VerificationService<S, (), C>>>,
    ) -> Self {
        self.verify_api = verify_api;
        self
    }

    pub fn service(&self) -> &VerificationService<S, (), C> {
        &self.service
    }

    /// `GET /.well-known/jwks.json`: the public key of the proof tokens.
    pub fn jwks(&self) -> Response<Body> {
        match &self.proof {
            Some(signer) => public_json(signer.jwks(self.service.now())),
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
            let token = approval_token(
                self.proof.as_ref(),
                &Earned {
                    phone: &approved.phone,
                    verified_at: approved.verified_at,
                    service: PARSE_SERVICE,
                    verification: &approved.verification.id,
                    method: Method::Code,
                },
                approved.verification.provider,
            );
            let mut result = json!({
                "status": "approved",
                "phoneNumber": approved.phone.as_e164(),
                "verifiedAt": approved.verified_at.to_string(),
            });
            if let Some(token) = token {
                result["token"] = token.into();
            }
            Ok(result)
        };
        respond("verifyPhoneNumber", started, outcome.await)
    }
}
