//! Pseudonyms: what storage holds instead of a phone number or a client's
//! IP address. A pseudonym is an HMAC of the value under a key of its own
//! (`IDENTITY_HMAC_KEY`), so a leaked table or backup does not reveal who
//! verified, and nobody without the key can test a guessed number against
//! it (numbers are few enough to enumerate; an unkeyed hash would not
//! protect them).

use aes::Aes128;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt};
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use super::{Keyring, PhoneNumber, VerificationId};

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
pub struct IdentityHasher {
    keys: Keyring,
    /// The Verify service whose numbers these are; `None` for the stack's
    /// own (and its Parse endpoints'), whose pseudonyms are unchanged.
    service: Option<String>,
}

impl IdentityHasher {
    pub fn new(keys: Keyring) -> Self {
        Self {
            keys,
            service: None,
        }
    }

    /// The same keys, for the numbers of another Verify service: each
    /// service keeps its own verifications and per-number counts under
    /// pseudonyms of its own, as Twilio keeps them per service. Client
    /// addresses and verification ids are the same in every service.
    pub fn for_service(&self, sid: &str) -> Self {
        Self {
            keys: self.keys.clone(),
            service: Some(sid.to_owned()),
        }
    }

    fn number_under(&self, key_id: &str, key: &[u8], phone: &PhoneNumber) -> Pseudonym {
        match &self.service {
            None => pseudonym(key_id, key, "number", phone.as_e164()),
            Some(sid) => pseudonym(
                key_id,
                key,
                "number",
                &format!("{} in {sid}", phone.as_e164()),
            ),
        }
    }

    /// The number's pseudonym under the current key.
    pub fn number(&self, phone: &PhoneNumber) -> Pseudonym {
        self.number_under(self.keys.current_id(), self.keys.current(), phone)
    }

    /// The number's pseudonyms under previous keys: where a code sent
    /// before a rotation is still found.
    pub fn number_before_rotation(&self, phone: &PhoneNumber) -> Vec<Pseudonym> {
        self.keys
            .previous()
            .map(|(id, key)| self.number_under(id, key, phone))
            .collect()
    }

    /// A client address's pseudonym (its hourly allowances are keyed by it).
    pub fn client(&self, address: &str) -> Pseudonym {
        pseudonym(
            self.keys.current_id(),
            self.keys.current(),
            "client",
            address,
        )
    }

    /// A new verification id for a code sent to `phone`: one AES block that
    /// holds the number's digits, 48 random bits and a 24-bit zero tag,
    /// under a key derived from the identity key. It looks random to
    /// anyone else and differs for every code, yet names its number to us:
    /// the Verify API's `VerificationSid` is found without an index item
    /// and without a number at rest.
    pub fn verification_id(&self, phone: &PhoneNumber) -> VerificationId {
        let digits: u64 = phone.as_e164()[1..]
            .parse()
            .expect("an E.164 number has at most 15 digits");
        let mut block = [0u8; 16];
        block[..7].copy_from_slice(&digits.to_be_bytes()[1..]);
        OsRng
            .try_fill_bytes(&mut block[7..13])
            .expect("the operating system's random number generator failed");
        id_cipher(self.keys.current()).encrypt_block(GenericArray::from_mut_slice(&mut block));
        VerificationId::from_stored(hex::encode(block))
    }

    /// The number a verification id was made for, under the current or a
    /// previous key; `None` for an id that is not one of ours (a random or
    /// forged id fails the zero tag but once in 2^24, and then names a
    /// number whose stored id still differs).
    pub fn number_of(&self, id: &VerificationId) -> Option<PhoneNumber> {
        let sealed: [u8; 16] = hex::decode(id.as_str()).ok()?.try_into().ok()?;
        let mut keys =
            std::iter::once(self.keys.current()).chain(self.keys.previous().map(|(_, key)| key));
        keys.find_map(|key| {
            let mut block = sealed;
            id_cipher(key).decrypt_block(GenericArray::from_mut_slice(&mut block));
            if block[13..] != [0, 0, 0] {
                return None;
            }
            let mut digits = [0u8; 8];
            digits[1..].copy_from_slice(&block[..7]);
            PhoneNumber::parse(&format!("+{}", u64::from_be_bytes(digits)), None).ok()
        })
    }
}

/// AES-128 under a key of its own, derived from an identity key.
fn id_cipher(identity_key: &[u8]) -> Aes128 {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(identity_key).expect("HMAC accepts keys of any length");
    mac.update(b"verification id\n");
    <Aes128 as aes::cipher::KeyInit>::new(GenericArray::from_slice(
        &mac.finalize().into_bytes()[..16],
    ))
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
    fn each_verify_service_has_its_own_number_pseudonyms_and_shares_the_rest() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        let shop = hasher().for_service("VAshop");
        let bank = hasher().for_service("VAbank");
        let numbers = [
            hasher().number(&phone),
            shop.number(&phone),
            bank.number(&phone),
        ];
        assert_ne!(numbers[0], numbers[1]);
        assert_ne!(numbers[0], numbers[2]);
        assert_ne!(numbers[1], numbers[2]);
        assert_eq!(shop.client("203.0.113.7"), hasher().client("203.0.113.7"));
        let id = shop.verification_id(&phone);
        assert_eq!(bank.number_of(&id), Some(phone.clone()));
        let after = IdentityHasher::new(
            Keyring::new("i3", b"the next identity key, 32+ bytes".to_vec())
                .with_previous_key("i2", b"identity key of at least 32 bytes".to_vec()),
        )
        .for_service("VAshop");
        assert_eq!(
            after.number_before_rotation(&phone),
            vec![numbers[1].clone()]
        );
    }

    #[test]
    fn a_verification_id_names_its_number_to_the_key_holder_alone() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        let first = hasher().verification_id(&phone);
        let second = hasher().verification_id(&phone);
        assert_ne!(first, second, "every code has its own id");
        for id in [&first, &second] {
            assert_eq!(id.as_str().len(), 32);
            assert!(!id.as_str().contains("4155550123"));
            assert_eq!(hasher().number_of(id), Some(phone.clone()));
        }
        let other_key = IdentityHasher::new(Keyring::new(
            "i2",
            b"another key of at least 32 bytes".to_vec(),
        ));
        assert_eq!(other_key.number_of(&first), None);
        assert_eq!(hasher().number_of(&VerificationId::random()), None);
        let not_hex = VerificationId::from_stored("zz".repeat(16));
        assert_eq!(hasher().number_of(&not_hex), None);
        // The longest numbers (15 digits) fit too.
        let long = PhoneNumber::parse("+491234567890123", None);
        if let Ok(long) = long {
            assert_eq!(
                hasher().number_of(&hasher().verification_id(&long)),
                Some(long)
            );
        }
    }

    #[test]
    fn ids_made_before_a_rotation_still_name_their_number() {
        let phone = PhoneNumber::parse("+442079460958", None).unwrap();
        let id = hasher().verification_id(&phone);
        let after = IdentityHasher::new(
            Keyring::new("i3", b"the next identity key, 32+ bytes".to_vec())
                .with_previous_key("i2", b"identity key of at least 32 bytes".to_vec()),
        );
        assert_eq!(after.number_of(&id), Some(phone));
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
