//! The send function's handlers: `sendVerificationCode` and the providers'
//! (Twilio's, Plivo's) delivery reports.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::answer::respond;
use super::delivery_report::DeliveryReport;
use super::gateway::{Route, client_address, deadline, public_url};
use super::idempotency::{once, scoped_key};
use super::params::Params;
use super::paths::{PLIVO_STATUS_ROUTE, STATUS_ROUTE};
use super::side_effects::count_sent;
use super::verify_services::VerifyServices;
use super::{ApiError, RequestError};
use crate::adapters::DeliveryReports;
use crate::adapters::plivo::{NONCE_HEADER, PlivoReport, SIGNATURE_HEADER, SignatureValidator};
use crate::adapters::twilio::WebhookValidator;
use crate::domain::{PhoneNumber, Timestamp, VerificationId};
use crate::ports::{Clock, IdempotencyStore, MessageSender, StatusCallbacks, VerificationStore};
use crate::service::{Delivery, SendRequest, VerificationService};

/// The send function: sends codes, and takes the providers' delivery reports.
pub struct SendApi<S, M, C> {
    service: VerificationService<S, Delivery<M>, C>,
    /// Required on every call when set (`X-Parse-Application-Id`).
    application_id: Option<String>,
    /// Accepts Twilio's delivery reports when set.
    delivery_reports: Option<DeliveryReports<WebhookValidator>>,
    /// Accepts Plivo's delivery reports when set.
    plivo_reports: Option<DeliveryReports<SignatureValidator>>,
    /// Serves Twilio Verify's `verifications.create` when set.
    pub(super) verify_api: Option<VerifyServices<VerificationService<S, Delivery<M>, C>>>,
}
impl<S: VerificationStore + IdempotencyStore, M: MessageSender, C: Clock> SendApi<S, M, C> {
    pub fn new(
        service: VerificationService<S, Delivery<M>, C>,
        application_id: Option<String>,
        delivery_reports: Option<DeliveryReports<WebhookValidator>>,
    ) -> Self {
        Self {
            service,
            application_id,
            delivery_reports,
            plivo_reports: None,
            verify_api: None,
        }
    }

    /// The same function, taking Plivo's delivery reports too when set.
    pub fn with_plivo_reports(
        mut self,
        plivo_reports: Option<DeliveryReports<SignatureValidator>>,
    ) -> Self {
        self.plivo_reports = plivo_reports;
        self
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

    /// Where each provider should report on messages sent for `request`.
    pub(super) fn status_callbacks(&self, request: &Request) -> StatusCallbacks {
        StatusCallbacks {
            twilio: callback_url(self.delivery_reports.as_ref(), request, STATUS_ROUTE),
            plivo: callback_url(self.plivo_reports.as_ref(), request, PLIVO_STATUS_ROUTE),
        }
    }

    /// Withdraws the code a signed report says never reached the user
    /// (`unreached`: its number, verification and send time), of the Verify
    /// service the report's `service` names (the stack's own when none).
    /// Withdrawing twice withdraws nothing more: a replayed report, or one
    /// about a code replaced since, answers `{"withdrawn": false}`.
    async fn withdraw(
        &self,
        service: Option<&str>,
        unreached: Option<(PhoneNumber, VerificationId, Timestamp)>,
    ) -> Result<Value, ApiError> {
        let service = match (service, &self.verify_api) {
            (None, _) => &self.service,
            (Some(sid), Some(api)) => api
                .service(sid)
                .ok_or(RequestError::MalformedDeliveryReport)?,
            (Some(_), None) => return Err(RequestError::MalformedDeliveryReport.into()),
        };
        let withdrawn = match unreached {
            Some((phone, id, sent_at)) => service.record_undelivered(&phone, &id, sent_at).await?,
            None => false,
        };
        Ok(json!({ "withdrawn": withdrawn }))
    }

    /// `POST /twilio/status`: Twilio's delivery report for a code. A code
    /// that never arrived is withdrawn so the user may ask again at once.
    pub async fn twilio_status(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let (validator, url, report) =
                received(self.delivery_reports.as_ref(), &request, STATUS_ROUTE)?;
            let signature = header(&request, "x-twilio-signature");
            if !validator.is_valid(&url, request.uri().query(), &report.params, signature) {
                return Err(RequestError::InvalidSignature.into());
            }
            let unreached = report.unreached().then(|| report.code()).transpose()?;
            // A report on another Verify service's message says which.
            self.withdraw(report.service(), unreached).await
        };
        respond("twilioStatus", started, outcome.await)
    }

    /// `POST /plivo/status`: Plivo's delivery report for a code, with its V3
    /// signature. As Twilio's: a code that never arrived is withdrawn.
    pub async fn plivo_status(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let (validator, url, form) =
                received(self.plivo_reports.as_ref(), &request, PLIVO_STATUS_ROUTE)?;
            let query = request.uri().query();
            let (nonce, signatures) = (
                header(&request, NONCE_HEADER),
                header(&request, SIGNATURE_HEADER),
            );
            if !validator.is_valid(&url, query, &form.params, nonce, signatures) {
                return Err(RequestError::InvalidSignature.into());
            }
            let PlivoReport {
                to,
                verification,
                sent_at,
                undelivered,
                ..
            } = PlivoReport::parse(query, &form.params)
                .map_err(|_| RequestError::MalformedDeliveryReport)?;
            let unreached = undelivered.then_some((to, verification, sent_at));
            self.withdraw(form.service(), unreached).await
        };
        respond("plivoStatus", started, outcome.await)
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
                        status_callbacks: self.status_callbacks(&request),
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
                if let Some(fallback) = sent.fallback {
                    result["fallback"] = json!({
                        "channels": [fallback.channel.as_str()],
                        "availableAt": fallback.available_at.to_string(),
                    });
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

/// Where a provider whose `reports` are on should report on messages sent
/// for `request`: the operator's URL, else `route` on the API that received
/// `request` (from API Gateway's request context).
fn callback_url<V>(
    reports: Option<&DeliveryReports<V>>,
    request: &Request,
    route: Route,
) -> Option<String> {
    let reports = reports?;
    reports
        .callback_url
        .clone()
        .or_else(|| public_url(request, route.1))
}

/// A delivery report to `route`, when its provider's `reports` are on: what
/// checks its signature, the URL the provider signed (the one we gave it
/// when sending) and the report.
fn received<'a, V>(
    reports: Option<&'a DeliveryReports<V>>,
    request: &Request,
    route: Route,
) -> Result<(&'a V, String, DeliveryReport), ApiError> {
    let reports = reports.ok_or(RequestError::DeliveryReportsDisabled)?;
    let report = DeliveryReport::read(request)?;
    let url = callback_url(Some(reports), request, route).unwrap_or_default();
    Ok((&reports.validator, url, report))
}

/// A header's value as text; empty when absent or not text.
fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}
