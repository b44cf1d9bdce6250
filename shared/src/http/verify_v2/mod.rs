//! Twilio Verify v2, served by our functions: the calls an app's backend
//! makes through Twilio's libraries (`verifications.create`,
//! `verificationChecks.create`, `verifications(sid).fetch()` and
//! `.update()`), with Twilio's form bodies, JSON answers and error codes, so
//! a Verify user switches by changing one URL. The same service, rules,
//! limits, hashing and channels answer as on the Parse endpoints. Callers
//! are servers: they authenticate with an API key (HTTP Basic), and their
//! allowances are keyed on it. A Verify answer has no field for the proof
//! token, so an approval carries it in the `X-Verification-Token` header.

mod errors;
mod resource;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use errors::Failure;
use resource::View;

use super::answer::json_response;
use super::gateway::{Route, deadline, network, path_parameter, public_url};
use super::params::{MAX_BODY_BYTES, RequestError, well_formed_human_proof, well_formed_locale};
pub use super::paths::{CHECK_ROUTE, CREATE_ROUTE, FETCH_ROUTE, UPDATE_ROUTE};
use super::side_effects::{approval_token, count_sent};
use super::verify_services::Caller;
pub use super::verify_services::{
    ApiKeys, Grant, MIN_SECRET_LENGTH, OtherService, VerifyServices, VerifySettings, is_service_sid,
};
use crate::domain::{Channel, OneTimeCode, PhoneNumber, VerificationId};
use crate::metrics;
use crate::ports::{
    Approval, Clock, CurrentVerification, Dispatcher, StatusCallbacks, VerificationStatus,
    VerificationStore,
};
use crate::proof::{Earned, Method, ProofSigner};
use crate::service::{CheckError, Client, Delivery, Found, SendRequest, VerificationService};

/// The header an approval's proof token travels in.
pub const TOKEN_HEADER: &str = "x-verification-token";

/// An authenticated call to our service.
struct Call<'a> {
    request: &'a Request,
    service_sid: &'a str,
    /// The key that made the call, and what it may do.
    caller: Caller,
    /// Whose allowances the call counts against: the API key, or the key
    /// and the end user's network when the backend passes it (`DeviceIp`),
    /// with the key's ceiling above.
    client: Client,
    form: HashMap<String, String>,
}

impl Call<'_> {
    fn optional(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }

    fn required(&self, name: &'static str) -> Result<&str, Failure> {
        self.optional(name)
            .filter(|value| !value.is_empty())
            .ok_or(Failure::InvalidParameter(name))
    }

    /// `To`, which Twilio wants in E.164.
    fn to(&self, value: &str) -> Result<PhoneNumber, Failure> {
        PhoneNumber::parse(value, None).map_err(|_| Failure::InvalidParameter("To"))
    }

    /// The verification the path's `Sid` names, while it is current.
    async fn found<S: VerificationStore, D, C: Clock>(
        &self,
        service: &VerificationService<S, D, C>,
        sid: Option<String>,
    ) -> Result<Found, Failure> {
        let id = sid
            .as_deref()
            .and_then(|sid| sid.strip_prefix("VE"))
            .filter(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(Failure::NotFound)?;
        let id = VerificationId::from_stored(id.to_ascii_lowercase());
        service
            .find(&id, &self.client)
            .await?
            .ok_or(Failure::NotFound)
    }

    fn view<'a>(
        &'a self,
        phone: &'a PhoneNumber,
        verification: &'a CurrentVerification,
        status: &'static str,
    ) -> View<'a> {
        View {
            service_sid: self.service_sid,
            id: &verification.id,
            to: phone,
            channel: verification.channel,
            status,
            created_at: verification.created_at,
            updated_at: verification.created_at,
            url: self.url(&verification.id),
            fallback: None,
        }
    }

    fn url(&self, id: &VerificationId) -> Option<String> {
        let path = format!(
            "/v2/Services/{}/Verifications/{}",
            self.service_sid,
            id.sid()
        );
        public_url(self.request, &path)
    }
}

/// A successful answer: its status, the resource, and a proof token.
struct Answer {
    status: StatusCode,
    resource: Value,
    token: Option<String>,
}

impl Answer {
    fn ok(resource: Value) -> Self {
        Self {
            status: StatusCode::OK,
            resource,
            token: None,
        }
    }
}

/// Twilio's word for where a verification stands.
fn status_of(found: &Found) -> &'static str {
    match found.verification.status {
        VerificationStatus::Pending => "pending",
        VerificationStatus::Approved => "approved",
        VerificationStatus::Withdrawn => "canceled",
    }
}

impl<S: VerificationStore, M: Dispatcher, C: Clock>
    VerifyServices<VerificationService<S, Delivery<M>, C>>
{
    /// `POST /v2/Services/{ServiceSid}/Verifications`: `To`, `Channel`,
    /// `Locale`, `DeviceIp`. Sends a code, as `sendVerificationCode` does.
    pub async fn create(
        &self,
        request: &Request,
        status_callbacks: StatusCallbacks,
    ) -> Response<Body> {
        self.serve(
            "verifyV2Create",
            request,
            CREATE_ROUTE,
            async |call, service| {
                let phone = call.to(call.required("To")?)?;
                // Codes come from our CSPRNG only.
                if call
                    .optional("CustomCode")
                    .is_some_and(|code| !code.is_empty())
                {
                    return Err(Failure::InvalidParameter("CustomCode"));
                }
                let channel: Channel = call
                    .required("Channel")?
                    .parse()
                    .map_err(|_| Failure::InvalidParameter("Channel"))?;
                let locale = match call.optional("Locale") {
                    Some(tag) if !well_formed_locale(tag) => {
                        return Err(Failure::InvalidParameter("Locale"));
                    }
                    tag => tag.map(str::to_owned),
                };
                // Our extension: the end user's human check token, for a
                // restricted destination.
                let human_proof = match call.optional("HumanProof") {
                    Some(token) if !well_formed_human_proof(token) => {
                        return Err(Failure::InvalidParameter("HumanProof"));
                    }
                    token => token.map(str::to_owned),
                };
                let sent = service
                    .send_code(SendRequest {
                        phone,
                        channel,
                        client: call.client.clone(),
                        locale,
                        status_callbacks: self.callback_for(call.service_sid, status_callbacks),
                        deadline: deadline(request),
                        human_proof,
                    })
                    .await?;
                count_sent(&sent);
                let view = View {
                    service_sid: call.service_sid,
                    id: &sent.id,
                    to: &sent.phone,
                    channel: sent.channel,
                    status: "pending",
                    created_at: sent.sent_at,
                    updated_at: sent.sent_at,
                    url: call.url(&sent.id),
                    fallback: sent.fallback,
                };
                Ok(Answer {
                    status: StatusCode::CREATED,
                    ..Answer::ok(view.verification())
                })
            },
        )
        .await
    }
}

impl<S: VerificationStore, D, C: Clock> VerifyServices<VerificationService<S, D, C>> {
    /// `POST /v2/Services/{ServiceSid}/VerificationCheck`: `Code`, and `To`
    /// or `VerificationSid`. A wrong code is `pending` (with an attempt
    /// used), the right one `approved`; a verification no longer pending is
    /// not found, as on Twilio.
    pub async fn check(&self, proof: Option<&ProofSigner>, request: &Request) -> Response<Body> {
        self.serve(
            "verifyV2Check",
            request,
            CHECK_ROUTE,
            async |call, service| {
                let code = call.required("Code")?;
                let code = OneTimeCode::parse(code, service.policy().code_length)
                    .map_err(|_| Failure::InvalidParameter("Code"))?;
                // By SID, the verification is read first, to find its number.
                let (phone, checked) = match (call.optional("To"), call.optional("VerificationSid"))
                {
                    (to, Some(sid)) => {
                        let found = call.found(service, Some(sid.to_owned())).await?;
                        if to.is_some_and(|to| call.to(to).ok().as_ref() != Some(&found.phone)) {
                            return Err(Failure::InvalidParameter("To"));
                        }
                        (found.phone.clone(), service.check_found(found, &code).await)
                    }
                    (Some(to), None) => {
                        let phone = call.to(to)?;
                        let checked = service.check_code(phone.clone(), &code, &call.client);
                        (phone, checked.await)
                    }
                    (None, None) => return Err(Failure::InvalidParameter("To")),
                };
                // The check's own write returns the verification the answer shows.
                let (status, token, checked) = match checked {
                    Ok(approved) => {
                        let token = approval_token(
                            proof,
                            &Earned {
                                phone: &approved.phone,
                                verified_at: approved.verified_at,
                                service: call.service_sid,
                                verification: &approved.verification.id,
                                method: Method::Code,
                            },
                            approved.verification.provider,
                        );
                        ("approved", token, approved.verification)
                    }
                    Err(CheckError::IncorrectCode { verification, .. }) => {
                        ("pending", None, verification)
                    }
                    Err(
                        CheckError::NoPendingVerification
                        | CheckError::AlreadyUsed
                        | CheckError::Replaced,
                    ) => return Err(Failure::NotFound),
                    Err(other) => return Err(other.into()),
                };
                let view = View {
                    updated_at: service.now(),
                    ..call.view(&phone, &checked, status)
                };
                Ok(Answer {
                    token,
                    ..Answer::ok(view.check())
                })
            },
        )
        .await
    }

    /// `GET /v2/Services/{ServiceSid}/Verifications/{Sid}`.
    pub async fn fetch(&self, request: &Request) -> Response<Body> {
        self.serve(
            "verifyV2Fetch",
            request,
            FETCH_ROUTE,
            async |call, service| {
                let sid = path_parameter(request, FETCH_ROUTE, "Sid");
                let found = call.found(service, sid).await?;
                let view = View {
                    fallback: service.fallback(&found),
                    ..call.view(&found.phone, &found.verification, status_of(&found))
                };
                Ok(Answer::ok(view.verification()))
            },
        )
        .await
    }

    /// `POST /v2/Services/{ServiceSid}/Verifications/{Sid}` with `Status`:
    /// `canceled` withdraws the code (a new one may be sent at once),
    /// `approved` approves without a code (the backend vouches for the
    /// user). Only a pending verification changes.
    pub async fn update(&self, proof: Option<&ProofSigner>, request: &Request) -> Response<Body> {
        self.serve(
            "verifyV2Update",
            request,
            UPDATE_ROUTE,
            async |call, service| {
                let status = call.required("Status")?;
                if !["canceled", "approved"].contains(&status) {
                    return Err(Failure::InvalidParameter("Status"));
                }
                // Approving without a code is a right of its own.
                if status == "approved" && !call.caller.grant.approve {
                    return Err(Failure::ApprovalNotAllowed);
                }
                let sid = path_parameter(request, UPDATE_ROUTE, "Sid");
                let found = call.found(service, sid).await?;
                if found.verification.status != VerificationStatus::Pending {
                    return Err(Failure::NotFound);
                }
                let now = service.now();
                let (status, token, fallback) = if status == "canceled" {
                    if !service.cancel(&found).await? {
                        return Err(Failure::NotFound);
                    }
                    // Withdrawn: its fallback (any channel, in fact) may go at once.
                    let mut canceled = found.clone();
                    canceled.verification.status = VerificationStatus::Withdrawn;
                    ("canceled", None, service.fallback(&canceled))
                } else {
                    if service.approve(&found).await? != Approval::Approved {
                        return Err(Failure::NotFound);
                    }
                    let earned = Earned {
                        phone: &found.phone,
                        verified_at: now,
                        service: call.service_sid,
                        verification: &found.verification.id,
                        method: Method::Backend,
                    };
                    let token = approval_token(proof, &earned, found.verification.provider);
                    ("approved", token, None)
                };
                let view = View {
                    updated_at: now,
                    fallback,
                    ..call.view(&found.phone, &found.verification, status)
                };
                Ok(Answer {
                    token,
                    ..Answer::ok(view.verification())
                })
            },
        )
        .await
    }

    /// Authenticates the call, checks the service and reads the form, then
    /// answers with `work`'s outcome.
    async fn serve(
        &self,
        function: &str,
        request: &Request,
        route: Route,
        work: impl AsyncFnOnce(&Call<'_>, &VerificationService<S, D, C>) -> Result<Answer, Failure>,
    ) -> Response<Body> {
        let started = Instant::now();
        let outcome = async {
            let caller = self
                .keys
                .authenticate(request)
                .ok_or(Failure::Unauthenticated)?;
            let sid = path_parameter(request, route, "ServiceSid").unwrap_or_default();
            // A service the key may not use is answered as one that does
            // not exist, as Twilio answers another account's.
            let (service_sid, service) = self
                .entry(&sid)
                .filter(|(sid, _)| caller.grant.may_use(sid, self.own_sid()))
                .ok_or(Failure::NotFound)?;
            let form = read_form(request)?;
            let key = format!("api-key:{}", caller.sid);
            let client = match form.get("DeviceIp").map(|ip| ip.parse::<IpAddr>()) {
                Some(Ok(ip)) => Client {
                    id: format!("{key} device:{}", network(ip)),
                    ceiling: Some(key),
                },
                Some(Err(_)) => return Err(Failure::InvalidParameter("DeviceIp")),
                None => Client::new(key),
            };
            let call = Call {
                request,
                service_sid,
                caller,
                client,
                form,
            };
            work(&call, service).await
        };
        respond(function, started, request.raw_http_path(), outcome.await)
    }
}

/// The answer on a Verify route of a stack without the Verify API.
pub fn disabled(function: &str, request: &Request) -> Response<Body> {
    respond(
        function,
        Instant::now(),
        request.raw_http_path(),
        Err(Failure::NotFound),
    )
}

/// The form-encoded parameters (Twilio's libraries send no other body).
fn read_form(request: &Request) -> Result<HashMap<String, String>, Failure> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge.into());
    }
    let mut form = HashMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        form.entry(name.into_owned()).or_insert(value.into_owned());
    }
    Ok(form)
}

/// Logs one line (no number, code or key) and builds the Twilio answer.
fn respond(
    function: &str,
    started: Instant,
    resource: &str,
    outcome: Result<Answer, Failure>,
) -> Response<Body> {
    let latency_us = started.elapsed().as_micros();
    match outcome {
        Ok(answer) => {
            let status = answer.status.as_u16();
            tracing::info!(
                function,
                status,
                outcome = "ok",
                latency_us,
                "request answered"
            );
            let mut response = json_response(answer.status, &answer.resource, None);
            if let Some(token) = answer.token.and_then(|t| HeaderValue::from_str(&t).ok()) {
                response.headers_mut().insert(TOKEN_HEADER, token);
            }
            response
        }
        Err(failure) => {
            let error = failure.twilio(resource);
            metrics::count(
                "Refusals",
                &[("Reason", error.reason), ("Function", function)],
            );
            tracing::info!(
                function,
                status = error.status.as_u16(),
                outcome = "refused",
                reason = error.reason,
                code = error.code,
                latency_us,
                "request answered"
            );
            let mut response =
                json_response(error.status, &error.body(), error.retry_after_seconds);
            if error.status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Twilio API\""),
                );
            }
            response
        }
    }
}
