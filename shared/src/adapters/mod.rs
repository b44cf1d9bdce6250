//! Implementations of the ports: real ones for Lambda, in-memory ones for
//! fast unit tests and benchmarks.

pub mod clock;
pub mod dynamodb;
pub mod https;
pub mod memory;
pub mod ssm;
pub mod twilio;
