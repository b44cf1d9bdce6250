//! Each function's one entry point: dispatches a request to the handler of
//! the route it matched (the routes are data, in `paths`).

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use super::RequestError;
use super::answer::respond;
use super::gateway::match_route;
use super::paths::{
    AWS_EVENTS_ROUTE, CHECK_ROUTE, CREATE_ROUTE, FETCH_ROUTE, JWKS_ROUTE, PLIVO_ANSWER_ROUTE,
    PLIVO_STATUS_ROUTE, SEND_ROUTE, STATUS_ROUTE, UPDATE_ROUTE, VERIFY_ROUTE,
};
use super::send_api::SendApi;
use super::verify_api::VerifyApi;
use super::verify_v2;
use crate::ports::{Clock, Dispatcher, IdempotencyStore, VerificationStore};

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
impl<S: VerificationStore + IdempotencyStore, M: Dispatcher, C: Clock> HttpFunction
    for SendApi<S, M, C>
{
    async fn handle(&self, request: Request) -> Response<Body> {
        let routes = [
            SEND_ROUTE,
            STATUS_ROUTE,
            PLIVO_STATUS_ROUTE,
            AWS_EVENTS_ROUTE,
            PLIVO_ANSWER_ROUTE,
            CREATE_ROUTE,
        ];
        match match_route(&request, &routes) {
            Ok(SEND_ROUTE) => self.send_verification_code(request).await,
            Ok(STATUS_ROUTE) => self.twilio_status(request).await,
            Ok(PLIVO_STATUS_ROUTE) => self.plivo_status(request).await,
            Ok(AWS_EVENTS_ROUTE) => self.aws_events(request).await,
            Ok(PLIVO_ANSWER_ROUTE) => self.plivo_answer(request).await,
            Ok(_) => match &self.verify_api {
                Some(api) => api.create(&request, self.status_callbacks(&request)).await,
                None => verify_v2::disabled("verifyV2Create", &request),
            },
            Err(path_known) => no_route(path_known, "sendVerificationCode"),
        }
    }
}

impl<S: VerificationStore, C: Clock> HttpFunction for VerifyApi<S, C> {
    async fn handle(&self, request: Request) -> Response<Body> {
        let routes = [
            VERIFY_ROUTE,
            JWKS_ROUTE,
            CHECK_ROUTE,
            FETCH_ROUTE,
            UPDATE_ROUTE,
        ];
        match match_route(&request, &routes) {
            Ok(VERIFY_ROUTE) => self.verify_phone_number(request).await,
            Ok(JWKS_ROUTE) => self.jwks(),
            Ok(route) => {
                let Some(api) = &self.verify_api else {
                    return verify_v2::disabled("verifyV2", &request);
                };
                let proof = self.proof.as_ref();
                match route {
                    CHECK_ROUTE => api.check(proof, &request).await,
                    FETCH_ROUTE => api.fetch(&request).await,
                    _ => api.update(proof, &request).await,
                }
            }
            Err(path_known) => no_route(path_known, "verifyPhoneNumber"),
        }
    }
}
