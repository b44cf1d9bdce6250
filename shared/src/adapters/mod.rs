//! Implementations of the ports: real ones for Lambda, in-memory ones for
//! fast unit tests and benchmarks (feature `memory-store`, never in a
//! function's build).

pub mod aws_sms;
pub mod clock;
pub mod dynamodb;
pub mod https;
pub mod human_proof;
#[cfg(any(test, feature = "memory-store"))]
pub mod memory;
pub mod plivo;
pub mod plivo_call;
pub(crate) mod provider;
pub use provider::DeliveryReports;
pub mod routed;
pub mod sns;
pub mod ssm;
pub mod twilio;
