//! The Parse Cloud Code style HTTP contract: `POST /functions/<name>` with a
//! JSON object of parameters; answers `{"result": ...}` or
//! `{"code", "error", "reason"}`.
//!
//! `routes` dispatches a request to `send_api` or `verify_api`, the
//! handlers that tie the contract to the service. `params` reads Parse
//! parameters and `delivery_report` Twilio's webhook; `answer` builds
//! responses, `reason` lists every failure clients can see, `errors` is the
//! one place where every error becomes an HTTP answer; `idempotency` serves
//! the handlers; `gateway` reads what API Gateway adds.

mod answer;
pub(crate) mod delivery_report;
mod errors;
mod gateway;
mod idempotency;
pub(crate) mod params;
mod reason;
mod routes;
mod send_api;
mod verify_api;
pub mod verify_v2;

pub use answer::ApiError;
pub use gateway::with_decodable_body;
pub use params::{MAX_BODY_BYTES, RequestError};
pub use reason::Reason;
pub use routes::{HttpFunction, JWKS_ROUTE, SEND_ROUTE, STATUS_ROUTE, VERIFY_ROUTE};
pub use send_api::SendApi;
pub use verify_api::VerifyApi;
