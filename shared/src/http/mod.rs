//! The Parse Cloud Code style HTTP contract: `POST /functions/<name>` with a
//! JSON object of parameters; answers `{"result": ...}` or
//! `{"code", "error", "reason"}`.
//!
//! Three layers, each using only the ones below it (`layers_tests` holds
//! them so):
//! - `routes` dispatches a request to the handler of its route;
//! - the handlers tie the contracts to the service: `send_api` and
//!   `verify_api` (Parse), `verify_v2` (Twilio Verify); none uses another;
//! - the helpers, without a cycle among them: `paths` lists every route as
//!   data; `params` reads Parse parameters and `delivery_report` the
//!   providers' report webhooks; `answer` builds responses, `reason` lists every failure
//!   clients can see, `errors` is the one place where every error becomes
//!   an HTTP answer; `idempotency` serves the handlers; `gateway` reads what
//!   API Gateway adds; `side_effects` is what a sent code and an approval do
//!   in either API; `verify_services` holds the stack's Verify services and
//!   API keys.

mod answer;
pub(crate) mod delivery_report;
mod errors;
mod gateway;
mod idempotency;
#[cfg(test)]
mod layers_tests;
pub(crate) mod params;
mod paths;
mod reason;
mod routes;
mod send_api;
mod side_effects;
mod verify_api;
mod verify_services;
pub mod verify_v2;

pub use answer::ApiError;
pub use gateway::with_decodable_body;
pub use params::{MAX_BODY_BYTES, RequestError};
pub use paths::{
    AWS_EVENTS_ROUTE, JWKS_ROUTE, PLIVO_ANSWER_ROUTE, PLIVO_STATUS_ROUTE, SEND_ROUTE, STATUS_ROUTE,
    VERIFY_ROUTE,
};
pub use reason::Reason;
pub use routes::HttpFunction;
pub use send_api::SendApi;
pub use verify_api::VerifyApi;
