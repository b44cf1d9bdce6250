//! The send function's handlers: `sendVerificationCode`, the providers'
//! (Twilio's, Plivo's, AWS's) delivery reports, and Plivo calls' scripts.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::answer::{respond, respond_with, xml};
use super::delivery_report::{DeliveryReport, report_body};
use super::gateway::{Route, client_address, deadline, public_url};
use super::idempotency::{once, scoped_key};
use super::params::Params;
use super::paths::{PLIVO_ANSWER_ROUTE, PLIVO_STATUS_ROUTE, STATUS_ROUTE};
use super::side_effects::count_sent;
use super::verify_services::VerifyServices;
use super::{ApiError, RequestError};
use crate::adapters::DeliveryReports;
use crate::adapters::aws_sms::AwsEvent;
use crate::adapters::plivo::{NONCE_HEADER, PlivoReport, SIGNATURE_HEADER, SignatureValidator};
use crate::adapters::plivo_call::{PlivoAnswers, answer_xml};
use crate::adapters::sns::{Delivery as SnsDelivery, Envelope, SnsVerifier};
use crate::adapters::twilio::WebhookValidator;
use crate::domain::{PhoneNumber, Provider, Timestamp, VerificationId};
use crate::metrics;
use crate::ports::{Clock, Dispatcher, IdempotencyStore, StatusCallbacks, VerificationStore};
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
    /// Accepts AWS End User Messaging's events, through SNS, when set.
    aws_events: Option<SnsVerifier>,
    /// Serves Plivo calls' scripts when set (with Plivo's reports).
    plivo_answers: Option<PlivoAnswers>,
    /// Serves Twilio Verify's `verifications.create` when set.
    pub(super) verify_api: Option<VerifyServices<VerificationService<S, Delivery<M>, C>>>,
}
impl<S: VerificationStore + IdempotencyStore, M: Dispatcher, C: Clock> SendApi<S, M, C> {
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
            aws_events: None,
            plivo_answers: None,
            verify_api: None,
        }
    }

    /// The same function, taking Plivo's delivery reports and serving its
    /// calls' scripts too when set.
    pub fn with_plivo(
        mut self,
        plivo_reports: Option<DeliveryReports<SignatureValidator>>,
        plivo_answers: Option<PlivoAnswers>,
    ) -> Self {
        self.plivo_reports = plivo_reports;
        self.plivo_answers = plivo_answers;
        self
    }

    /// The same function, taking AWS End User Messaging's events too when set.
    pub fn with_aws_events(mut self, aws_events: Option<SnsVerifier>) -> Self {
        self.aws_events = aws_events;
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
            plivo_answer: self.plivo_answers.as_ref().and_then(|answers| {
                route_url(answers.answer_url.as_ref(), request, PLIVO_ANSWER_ROUTE)
            }),
            service: None,
        }
    }

    /// Withdraws the code a signed report of `provider` says never reached
    /// the user (`unreached`: its number, verification and send time), of
    /// the Verify service the report's `service` names (the stack's own when
    /// none), and counts the report. Withdrawing twice withdraws nothing
    /// more: a replayed report, or one about a code replaced since, answers
    /// `{"withdrawn": false}`.
    async fn withdraw(
        &self,
        provider: Provider,
        service: Option<&str>,
        unreached: Option<(PhoneNumber, VerificationId, Timestamp)>,
    ) -> Result<Value, ApiError> {
        let outcome = match unreached {
            Some(_) => "unreached",
            None => "other",
        };
        metrics::count(
            "DeliveryReports",
            &[("Provider", provider.as_str()), ("Outcome", outcome)],
        );
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
            self.withdraw(Provider::Twilio, report.service(), unreached)
                .await
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
            signed_by_plivo(validator, &url, &request, &form)?;
            let query = request.uri().query();
            let PlivoReport {
                to,
                verification,
                sent_at,
                undelivered,
                ..
            } = PlivoReport::parse(query, &form.params)
                .map_err(|_| RequestError::MalformedDeliveryReport)?;
            let unreached = undelivered.then_some((to, verification, sent_at));
            self.withdraw(Provider::Plivo, form.service(), unreached)
                .await
        };
        respond("plivoStatus", started, outcome.await)
    }

    /// `POST /aws/events`: Amazon SNS's delivery of an AWS End User
    /// Messaging event, checked (topic, date, SNS's signature) before it is
    /// read. As Twilio's reports: a code that never arrived is withdrawn,
    /// and a replay withdraws nothing more. SNS's subscription confirmation
    /// is confirmed, its unsubscription only logged.
    pub async fn aws_events(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let sns = self
                .aws_events
                .as_ref()
                .ok_or(RequestError::DeliveryReportsDisabled)?;
            let envelope = Envelope::parse(report_body(&request)?)?;
            sns.check(&envelope, self.service.now()).await?;
            match envelope.delivery()? {
                SnsDelivery::Notification(message) => {
                    let event = AwsEvent::parse(message)?;
                    self.withdraw(Provider::Aws, event.service.as_deref(), event.code)
                        .await
                }
                SnsDelivery::SubscriptionConfirmation(url) => {
                    sns.confirm(url).await?;
                    tracing::info!(
                        message_id = envelope.message_id(),
                        "subscribed to the sns topic of aws events"
                    );
                    Ok(json!({ "confirmed": true }))
                }
                SnsDelivery::UnsubscribeConfirmation => {
                    tracing::warn!(
                        message_id = envelope.message_id(),
                        "unsubscribed from the sns topic of aws events: no more aws delivery events"
                    );
                    Ok(json!({ "unsubscribed": true }))
                }
            }
        };
        respond("awsEvents", started, outcome.await)
    }

    /// `POST /plivo/answer`: Plivo fetching the script of a call it placed
    /// (V3-signed), sealed in the URL we gave it. Answers Plivo XML that
    /// speaks the code, until the code expires.
    pub async fn plivo_answer(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            // Plivo signs with the auth token its reports are checked with.
            let (Some(answers), Some(reports)) = (&self.plivo_answers, &self.plivo_reports) else {
                return Err(RequestError::DeliveryReportsDisabled.into());
            };
            let form = DeliveryReport::read(&request)?;
            let url = route_url(answers.answer_url.as_ref(), &request, PLIVO_ANSWER_ROUTE);
            signed_by_plivo(
                &reports.validator,
                &url.unwrap_or_default(),
                &request,
                &form,
            )?;
            let script = answers
                .scripts
                .open(request.uri().query(), self.service.now())?;
            // Which code's call picked up (its id, never the code).
            tracing::info!(
                verification = script.verification.as_str(),
                "plivo fetched a call's script"
            );
            Ok(answer_xml(&script.speech))
        };
        respond_with("plivoAnswer", started, outcome.await, xml)
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
    route_url(reports?.callback_url.as_ref(), request, route)
}

/// The public URL of `route`: the operator's `configured` one, else the
/// route on the API that received `request` (from API Gateway's request
/// context).
fn route_url(configured: Option<&String>, request: &Request, route: Route) -> Option<String> {
    configured.cloned().or_else(|| public_url(request, route.1))
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

/// Whether Plivo signed (V3) `request`, sent to our `url` with `form`.
fn signed_by_plivo(
    validator: &SignatureValidator,
    url: &str,
    request: &Request,
    form: &DeliveryReport,
) -> Result<(), ApiError> {
    let (nonce, signatures) = (
        header(request, NONCE_HEADER),
        header(request, SIGNATURE_HEADER),
    );
    match validator.is_valid(url, request.uri().query(), &form.params, nonce, signatures) {
        true => Ok(()),
        false => Err(RequestError::InvalidSignature.into()),
    }
}

/// A header's value as text; empty when absent or not text.
fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}
