//! Phone-number verification: the domain, its ports, the adapters that
//! implement them (DynamoDB, Twilio) and the Parse-style HTTP contract.
//!
//! Dependency direction: `http` -> `service` -> `ports` <- `adapters`;
//! `domain` holds the value types everyone shares. `app` wires it together;
//! `metrics` writes CloudWatch metrics (EMF) for the handlers and the service.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
#[cfg(test)]
mod env_docs_tests;
#[cfg(test)]
mod fuzz_tests;
pub mod http;
pub mod messages;
pub(crate) mod metrics;
pub mod ports;
pub mod proof;
pub mod service;
#[cfg(test)]
mod source_tokens;
