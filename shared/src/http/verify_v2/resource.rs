//! The Verification and VerificationCheck resources as Twilio's spec
//! (`twilio_verify_v2.json`) shapes them.

use serde_json::{Value, json};

use crate::domain::{Channel, PhoneNumber, Timestamp, VerificationId};
use crate::service::Fallback;

/// What a Verify answer says about one verification.
pub(super) struct View<'a> {
    pub service_sid: &'a str,
    pub id: &'a VerificationId,
    pub to: &'a PhoneNumber,
    pub channel: Channel,
    /// `pending`, `approved`, `canceled` (Twilio's words).
    pub status: &'static str,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The resource's public URL, when API Gateway says where it is.
    pub url: Option<String>,
    /// Our extension, as the Parse answer's `fallback`: the channel to ask
    /// for if the code does not come, and from when.
    pub fallback: Option<Fallback>,
}

impl View<'_> {
    fn common(&self) -> Value {
        json!({
            "sid": self.id.sid(),
            "service_sid": self.service_sid,
            // No Twilio account is involved.
            "account_sid": null,
            "to": self.to.as_e164(),
            "channel": self.channel.as_str(),
            "status": self.status,
            "valid": self.status == "approved",
            "amount": null,
            "payee": null,
            "date_created": self.created_at.to_string(),
            "date_updated": self.updated_at.to_string(),
        })
    }

    /// A Verification resource.
    pub fn verification(&self) -> Value {
        let mut resource = self.common();
        resource["lookup"] = json!({});
        resource["send_code_attempts"] = json!([{
            "time": self.created_at.to_string(),
            "channel": self.channel.as_str(),
            "attempt_sid": format!("VL{}", self.id.as_str()),
        }]);
        resource["sna"] = Value::Null;
        resource["url"] = self.url.clone().into();
        if let Some(fallback) = self.fallback {
            resource["fallback"] = json!({
                "channels": [fallback.channel.as_str()],
                "available_at": fallback.available_at.to_string(),
            });
        }
        resource
    }

    /// A VerificationCheck resource.
    pub fn check(&self) -> Value {
        let mut resource = self.common();
        resource["sna_attempts_error_codes"] = json!([]);
        resource
    }
}
