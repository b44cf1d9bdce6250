use std::str::FromStr;

use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use super::{Keyring, OneTimeCode, PhoneNumber};

/// Random 128-bit id of one sent code; bound into the code's MAC so a hash
/// cannot be replayed against another verification of the same number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerificationId(String);

impl VerificationId {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random number generator failed");
        Self(hex::encode(bytes))
    }

    /// Rebuilds an id read back from storage.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its Verify API `VerificationSid`: `VE` and the 32 hex digits.
    pub fn sid(&self) -> String {
        format!("VE{}", self.0)
    }
}

/// HMAC-SHA256 of a code: what storage keeps instead of the code.
#[derive(Debug, Clone)]
pub struct CodeMac(SecretSlice<u8>);

impl CodeMac {
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// Computes and checks code MACs under a secret key with an id, so stored
/// hashes say which key made them. The current key signs; previous keys
/// still verify the codes they signed, so keys rotate without failing codes
/// in flight.
#[derive(Debug, Clone)]
pub struct CodeHasher(Keyring);

impl CodeHasher {
    pub fn new(keys: Keyring) -> Self {
        Self(keys)
    }

    pub fn key_id(&self) -> &str {
        self.0.current_id()
    }

    /// The code keys, from which keys for other secrets about a code derive
    /// (a Plivo call's sealed script).
    pub fn keys(&self) -> &Keyring {
        &self.0
    }

    /// MAC over number, verification id and code, each on its own line (none
    /// of them can contain a newline, so the encoding is unambiguous).
    pub fn mac(&self, phone: &PhoneNumber, id: &VerificationId, code: &OneTimeCode) -> CodeMac {
        CodeMac::from_stored(
            keyed(self.0.current(), phone, id, code)
                .finalize()
                .into_bytes()
                .to_vec(),
        )
    }

    /// Constant-time comparison of `code` against a stored MAC, under the
    /// key that made it. A MAC of an unknown key id never matches.
    pub fn matches(
        &self,
        phone: &PhoneNumber,
        id: &VerificationId,
        code: &OneTimeCode,
        stored_key_id: &str,
        stored: &CodeMac,
    ) -> bool {
        self.0.get(stored_key_id).is_some_and(|key| {
            keyed(key, phone, id, code)
                .verify_slice(stored.as_bytes())
                .is_ok()
        })
    }
}

fn keyed(key: &[u8], phone: &PhoneNumber, id: &VerificationId, code: &OneTimeCode) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in [phone.as_e164(), id.as_str(), code.as_str()] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    mac
}

/// How the code reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Channel {
    #[default]
    Sms,
    /// A voice call that reads the code.
    Call,
    Whatsapp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown channel. Channels: sms, call, whatsapp.")]
pub struct UnknownChannel;

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Call, Channel::Whatsapp];

    /// The order in which a code that did not come falls back: SMS after
    /// WhatsApp, a call after SMS. Never backwards, so a chain of fallbacks
    /// ends.
    pub const FALLBACK_ORDER: [Channel; 3] = [Channel::Whatsapp, Channel::Sms, Channel::Call];

    /// The channel a code sent on `self` falls back to: the next one in
    /// `FALLBACK_ORDER` that `admits` (the enabled channels that reach
    /// the number).
    pub fn fallback(self, admits: impl Fn(Channel) -> bool) -> Option<Channel> {
        Self::FALLBACK_ORDER
            .into_iter()
            .skip_while(|&channel| channel != self)
            .skip(1)
            .find(|&channel| admits(channel))
    }

    /// The channel whose fallback `self` is: the nearest before it in
    /// `FALLBACK_ORDER` that `admits`.
    pub fn falls_back_from(self, admits: impl Fn(Channel) -> bool) -> Option<Channel> {
        Self::FALLBACK_ORDER
            .into_iter()
            .rev()
            .skip_while(|&channel| channel != self)
            .skip(1)
            .find(|&channel| admits(channel))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Whatsapp => "whatsapp",
        }
    }
}

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == value)
            .ok_or(UnknownChannel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hasher_shows_its_key_id_never_its_key() {
        let hasher = CodeHasher::new(
            Keyring::new("v2", b"a secret key of at least 32 bytes!".to_vec())
                .with_previous_key("v1", b"an older key of at least 32 bytes".to_vec()),
        );
        assert_eq!(
            format!("{hasher:?}"),
            r#"CodeHasher(Keyring { id: "v2", key: SecretBox<[u8]>([REDACTED]), previous: {"v1": SecretBox<[u8]>([REDACTED])} })"#
        );
    }

    #[test]
    fn a_code_mac_never_shows_its_bytes() {
        let mac = CodeMac::from_stored(vec![0xab; 32]);
        assert_eq!(format!("{mac:?}"), "CodeMac(SecretBox<[u8]>([REDACTED]))");
    }
    use crate::domain::CodeLength;

    fn hasher() -> CodeHasher {
        CodeHasher::new(Keyring::new(
            "v1",
            b"0123456789abcdef0123456789abcdef".to_vec(),
        ))
    }

    fn fixture() -> (PhoneNumber, VerificationId, OneTimeCode) {
        (
            PhoneNumber::parse("+14155550123", None).unwrap(),
            VerificationId::random(),
            OneTimeCode::parse("123456", CodeLength::default()).unwrap(),
        )
    }

    #[test]
    fn the_right_code_matches_its_mac() {
        let (phone, id, code) = fixture();
        let mac = hasher().mac(&phone, &id, &code);
        assert!(hasher().matches(&phone, &id, &code, "v1", &mac));
    }

    #[test]
    fn the_mac_is_bound_to_code_number_verification_and_key() {
        let (phone, id, code) = fixture();
        let mac = hasher().mac(&phone, &id, &code);
        let other_code = OneTimeCode::parse("123457", CodeLength::default()).unwrap();
        let other_phone = PhoneNumber::parse("+14155550124", None).unwrap();
        let other_id = VerificationId::random();
        let other_key = CodeHasher::new(Keyring::new(
            "v1",
            b"another key of thirty-two bytes!".to_vec(),
        ));
        assert!(!hasher().matches(&phone, &id, &other_code, "v1", &mac));
        assert!(!hasher().matches(&other_phone, &id, &code, "v1", &mac));
        assert!(!hasher().matches(&phone, &other_id, &code, "v1", &mac));
        assert!(!other_key.matches(&phone, &id, &code, "v1", &mac));
        assert!(!hasher().matches(&phone, &id, &code, "v0", &mac));
    }

    #[test]
    fn previous_keys_still_verify_their_codes_after_a_rotation() {
        let (phone, id, code) = fixture();
        let old_mac = hasher().mac(&phone, &id, &code);
        let rotated = CodeHasher::new(
            Keyring::new("v2", b"the new key, also thirty-two bytes".to_vec())
                .with_previous_key("v1", b"0123456789abcdef0123456789abcdef".to_vec()),
        );
        assert!(rotated.matches(&phone, &id, &code, "v1", &old_mac));
        assert!(
            !rotated.matches(&phone, &id, &code, "v2", &old_mac),
            "the id selects the key"
        );
        let new_mac = rotated.mac(&phone, &id, &code);
        assert_ne!(
            new_mac.as_bytes(),
            old_mac.as_bytes(),
            "the current key signs"
        );
        assert!(rotated.matches(&phone, &id, &code, "v2", &new_mac));
        assert!(
            !hasher().matches(&phone, &id, &code, "v2", &new_mac),
            "retired keys are gone"
        );
    }

    #[test]
    fn the_mac_is_sha256_sized_and_does_not_contain_the_code() {
        let (phone, id, code) = fixture();
        let mac = hasher().mac(&phone, &id, &code);
        assert_eq!(mac.as_bytes().len(), 32);
        assert!(!hex::encode(mac.as_bytes()).contains(code.as_str()));
    }

    #[test]
    fn verification_ids_are_random_128_bit_hex() {
        let a = VerificationId::random();
        let b = VerificationId::random();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn fallbacks_go_forward_to_the_next_admitted_channel() {
        let all = |_| true;
        assert_eq!(Channel::Whatsapp.fallback(all), Some(Channel::Sms));
        assert_eq!(Channel::Sms.fallback(all), Some(Channel::Call));
        assert_eq!(Channel::Call.fallback(all), None);
        assert_eq!(Channel::Call.falls_back_from(all), Some(Channel::Sms));
        assert_eq!(Channel::Sms.falls_back_from(all), Some(Channel::Whatsapp));
        assert_eq!(Channel::Whatsapp.falls_back_from(all), None);
        // A channel left out (disabled, or not reaching the number) is skipped.
        let no_sms = |channel| channel != Channel::Sms;
        assert_eq!(Channel::Whatsapp.fallback(no_sms), Some(Channel::Call));
        assert_eq!(
            Channel::Call.falls_back_from(no_sms),
            Some(Channel::Whatsapp)
        );
        let sms_only = |channel| channel == Channel::Sms;
        assert_eq!(Channel::Sms.fallback(sms_only), None);
        assert_eq!(Channel::Sms.falls_back_from(sms_only), None);
    }

    #[test]
    fn channels_parse_from_their_wire_names() {
        assert_eq!("sms".parse(), Ok(Channel::Sms));
        assert_eq!("call".parse(), Ok(Channel::Call));
        assert_eq!("whatsapp".parse(), Ok(Channel::Whatsapp));
        assert_eq!("SMS".parse::<Channel>(), Err(UnknownChannel));
        assert_eq!("pigeon".parse::<Channel>(), Err(UnknownChannel));
    }
}
