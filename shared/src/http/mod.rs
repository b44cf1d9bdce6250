//! The Parse Cloud Code style HTTP contract: `POST /functions/<name>` with a
//! JSON object of parameters; answers `{"result": ...}` or
//! `{"code", "error", "reason"}`.
//!
//! `params` reads requests, `answer` builds responses, `reason` lists every
//! failure clients can see, `errors` is the one place where every error
//! becomes an HTTP answer, `handlers` ties them to the service.

mod answer;
mod errors;
mod gateway;
mod handlers;
mod metrics;
pub(crate) mod params;
mod reason;

pub use answer::ApiError;
pub use gateway::with_decodable_body;
pub use handlers::{
    HttpFunction, JWKS_ROUTE, SEND_ROUTE, STATUS_ROUTE, SendApi, VERIFY_ROUTE, VerifyApi,
};
pub use params::{MAX_BODY_BYTES, RequestError};
pub use reason::Reason;
