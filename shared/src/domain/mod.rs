//! Value types that parse, not validate: holding one means it is valid.

mod code;
mod phone_number;
mod time;
mod verification;

pub use code::{CodeFormatError, CodeLength, OneTimeCode};
pub use phone_number::{PhoneNumber, PhoneNumberError};
pub use time::Timestamp;
pub use verification::{Channel, CodeHasher, CodeMac, UnknownChannel, VerificationId};
