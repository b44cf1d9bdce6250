//! Pseudonyms: what storage holds instead of a phone number or a client's
//! IP address. A pseudonym is an HMAC of the value under a key of its own
//! (`IDENTITY_HMAC_KEY`), so a leaked table or backup does not reveal who
//! verified, and nobody without the key can test a guessed number against
//! it (numbers are few enough to enumerate; an unkeyed hash would not
//! protect them).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Keyring, PhoneNumber};

/// `<key id>.<32 hex digits>`: 128 bits of HMAC-SHA256, and the id of the
/// key that made it (a rotation starts new pseudonyms).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(String);

impl Pseudonym {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Makes pseudonyms under the current key, and under previous keys for
/// what was stored before a rotation.
#[derive(Debug, Clone)]
pub struct IdentityHasher(Keyring);

impl IdentityHasher {
    pub fn new(keys: Keyring) -> Self {
        Self(keys)
    }

    /// The number's pseudonym under the current key.
    pub fn number(&self, phone: &PhoneNumber) -> Pseudonym {
        pseudonym(
            self.0.current_id(),
            self.0.current(),
            "number",
            phone.as_e164(),
        )
    }

    /// The number's pseudonyms under previous keys: where a code sent
    /// before a rotation is still found.
    pub fn number_before_rotation(&self, phone: &PhoneNumber) -> Vec<Pseudonym> {
        self.0
            .previous()
            .map(|(id, key)| pseudonym(id, key, "number", phone.as_e164()))
            .collect()
    }

    /// A client address's pseudonym (its hourly allowances are keyed by it).
    pub fn client(&self, address: &str) -> Pseudonym {
        pseudonym(self.0.current_id(), self.0.current(), "client", address)
    }
}

/// The kind of value is part of the input, so a number and an address that
/// happened to be the same string would still differ.
fn pseudonym(key_id: &str, key: &[u8], kind: &str, value: &str) -> Pseudonym {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in [kind, value] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    let digest = mac.finalize().into_bytes();
    Pseudonym(format!("{key_id}.{}", hex::encode(&digest[..16])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> IdentityHasher {
        IdentityHasher::new(Keyring::new(
            "i2",
            b"identity key of at least 32 bytes".to_vec(),
        ))
    }

    #[test]
    fn a_pseudonym_is_stable_keyed_and_holds_no_digit_of_the_number() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        let pseudonym = hasher().number(&phone);
        assert_eq!(pseudonym, hasher().number(&phone));
        assert!(pseudonym.as_str().starts_with("i2."));
        assert_eq!(pseudonym.as_str().len(), "i2.".len() + 32);
        assert!(!pseudonym.as_str().contains("4155550123"));
        let other_key = IdentityHasher::new(Keyring::new(
            "i2",
            b"another key of at least 32 bytes".to_vec(),
        ));
        assert_ne!(pseudonym, other_key.number(&phone));
    }

    #[test]
    fn numbers_and_addresses_of_the_same_text_differ() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        assert_ne!(hasher().number(&phone), hasher().client("+14155550123"));
    }

    #[test]
    fn previous_keys_give_the_pseudonyms_made_before_a_rotation() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        let before = hasher();
        let after = IdentityHasher::new(
            Keyring::new("i3", b"the next identity key, 32+ bytes".to_vec())
                .with_previous_key("i2", b"identity key of at least 32 bytes".to_vec()),
        );
        assert_ne!(after.number(&phone), before.number(&phone));
        assert_eq!(
            after.number_before_rotation(&phone),
            vec![before.number(&phone)]
        );
    }
}
