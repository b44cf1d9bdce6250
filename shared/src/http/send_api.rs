//! The send function's handlers: `sendVerificationCode` and Twilio's
//! delivery reports.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::RequestError;
use super::answer::respond;
use super::delivery_report::DeliveryReport;
use super::gateway::{client_address, deadline, public_url};
use super::idempotency::{once, scoped_key};
use super::params::Params;
use super::paths::STATUS_ROUTE;
use super::side_effects::count_sent;
use super::verify_services::VerifyServices;
use crate::adapters::twilio::DeliveryReports;
use crate::ports::{Clock, IdempotencyStore, MessageSender, VerificationStore};
use crate::service::{Delivery, SendRequest, VerificationService};

/// The send function: sends codes, and takes Twilio's delivery reports.
pub struct SendApi<S, M, C> {
    service: VerificationService<S, Delivery<M>, C>,
    /// Required on every call when set (`X-Parse-Application-Id`).
    application_id: Option<String>,
    /// Accepts Twilio's delivery reports when set.
    delivery_reports: Option<DeliveryReports>,
    /// Serves Twilio Verify's `verifications.create` when set.
    pub(super) verify_api: Option<VerifyServices<VerificationService<S, Delivery<M>, C>>>,
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
            verify_api: None,
        }
    }

    /// The same function, serving the Verify API too when `verify_api` is set.
    pub fn with_verify_api(
        mut self,
        verify_api: Option<VerifyServices<VerificationService<S, Delivery<M>, C>>>,
    ) -> Self {
        self.verify_api = verify_api;
        self
    }

    pub fn service(&self) -> &VerificationService<S, Delivery<M>, C> {
        &self.service
    }

    /// Where Twilio should report on messages sent for `request`.
    pub(super) fn status_callback(&self, request: &Request) -> Option<String> {
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
            // A report on another Verify service's message says which.
            let service = match (report.service(), &self.verify_api) {
                (None, _) => &self.service,
                (Some(sid), Some(api)) => api
                    .service(sid)
                    .ok_or(RequestError::MalformedDeliveryReport)?,
                (Some(_), None) => return Err(RequestError::MalformedDeliveryReport.into()),
            };
            let withdrawn = match report.unreached().then(|| report.code()).transpose()? {
                Some((phone, id, sent_at)) => {
                    service.record_undelivered(&phone, &id, sent_at).await?
                }
                None => false,
            };
            Ok(json!({ "withdrawn": withdrawn }))
        };
        respond("twilioStatus", started, outcome.await)
    }

    /// `POST /functions/sendVerificationCode` `{"phoneNumber", "channel"?, "locale"?,
    /// "idempotencyKey"?, "humanProof"?}` (or an `Idempotency-Key` header).
    pub async fn send_verification_code(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let params = Params::read(&request, self.application_id.as_deref())?;
            let phone = params.phone_number()?;
            let channel = params.channel()?;
            let locale = params.locale()?.map(str::to_owned);
            let human_proof = params.human_proof()?;
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
                        human_proof: human_proof.clone(),
                    })
                    .await?;
                count_sent(&sent);
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
                Some(key) => {
                    once(
                        &self.service,
                        &scoped_key(&self.service.pseudonym(&phone), &key),
                        &phone,
                        send,
                    )
                    .await
                }
                None => send().await,
            }
        };
        respond("sendVerificationCode", started, outcome.await)
    }
}
