//! Value types that parse, not validate: holding one means it is valid.

mod breaker;
mod code;
mod destination;
mod fraud;
mod identity;
mod keyring;
mod limits;
mod numbering_plan;
mod phone_number;
mod routes;
mod time;
mod verification;

pub use breaker::{Admission, BreakerPolicy, BreakerState};
pub use code::{CodeFormatError, CodeLength, OneTimeCode};
pub use destination::{DestinationPolicy, DestinationRefused, NO_COUNTRY};
pub use fraud::{Assessment, FraudMode, FraudPolicy, Restriction, Scope, Traffic, TrafficSnapshot};
pub use identity::{IdentityHasher, Pseudonym};
pub use keyring::Keyring;
pub use limits::{
    Allowance, Limit, LimitReached, Limits, Window, budget_shards, seconds_until, shard_budget,
};
pub use phone_number::{PhoneNumber, PhoneNumberError};
pub use routes::{Provider, Routes, RoutesError};
pub use time::Timestamp;
pub use verification::{Channel, CodeHasher, CodeMac, UnknownChannel, VerificationId};
