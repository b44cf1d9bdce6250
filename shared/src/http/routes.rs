//! Each function's routes (as in template.yaml, with the Verify API's in
//! `verify_v2`; a test holds the two to each
//! other) and the one entry point that dispatches a request to its handler.

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use super::RequestError;
use super::answer::respond;
use super::gateway::{Route, match_route};
use super::send_api::SendApi;
use super::verify_api::VerifyApi;
use super::verify_v2::{CHECK_ROUTE, CREATE_ROUTE, FETCH_ROUTE, UPDATE_ROUTE};
use crate::ports::{Clock, IdempotencyStore, MessageSender, VerificationStore};

/// `sendVerificationCode`'s routes, as in template.yaml.
pub const SEND_ROUTE: Route = ("POST", "/functions/sendVerificationCode");
pub const STATUS_ROUTE: Route = ("POST", "/twilio/status");
/// `verifyPhoneNumber`'s routes.
pub const VERIFY_ROUTE: Route = ("POST", "/functions/verifyPhoneNumber");
pub const JWKS_ROUTE: Route = ("GET", "/.well-known/jwks.json");

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
impl<S: VerificationStore + IdempotencyStore, M: MessageSender, C: Clock> HttpFunction
    for SendApi<S, M, C>
{
    async fn handle(&self, request: Request) -> Response<Body> {
        match match_route(&request, &[SEND_ROUTE, STATUS_ROUTE, CREATE_ROUTE]) {
            Ok(SEND_ROUTE) => self.send_verification_code(request).await,
            Ok(STATUS_ROUTE) => self.twilio_status(request).await,
            Ok(_) => self.verify_v2_create(request).await,
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
            Ok(route) => self.verify_v2(route, request).await,
            Err(path_known) => no_route(path_known, "verifyPhoneNumber"),
        }
    }
}
