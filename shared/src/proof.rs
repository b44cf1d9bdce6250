//! A signed proof of verification: on approval the app's own backend gets a
//! short-lived JWT (EdDSA / Ed25519) it can check offline against the
//! published JWKS, instead of trusting the client's word.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use crate::domain::{PhoneNumber, Timestamp, VerificationId};

/// `Debug` shows no secret: `SigningKey`'s own prints only the public key
/// (and the key is wiped on drop).
#[derive(Debug, Clone)]
pub struct ProofSigner {
    key: SigningKey,
    key_id: String,
    issuer: String,
    audience: Option<String>,
    ttl_seconds: u64,
}

impl ProofSigner {
    /// `seed` is the 32-byte Ed25519 private key.
    pub fn new(
        seed: [u8; 32],
        key_id: String,
        issuer: String,
        audience: Option<String>,
        ttl_seconds: u64,
    ) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
            key_id,
            issuer,
            audience,
            ttl_seconds,
        }
    }

    /// A JWT saying `phone` was verified at `verified_at`; valid for the
    /// configured TTL, with a unique `jti` so a backend can refuse replays.
    pub fn sign(&self, phone: &PhoneNumber, verified_at: Timestamp) -> String {
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": self.key_id });
        let mut claims = json!({
            "iss": self.issuer,
            "sub": phone.as_e164(),
            "phone_number": phone.as_e164(),
            "phone_number_verified": true,
            "verified_at": verified_at.unix_seconds(),
            "iat": verified_at.unix_seconds(),
            "exp": verified_at.plus_seconds(self.ttl_seconds).unix_seconds(),
            "jti": VerificationId::random().as_str(),
        });
        if let Some(audience) = &self.audience {
            claims["aud"] = audience.clone().into();
        }
        let signing_input = format!("{}.{}", encode(&header), encode(&claims));
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// The public key as a JSON Web Key Set (RFC 7517, RFC 8037).
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
                "kid": self.key_id,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
    }
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;

    fn signer() -> ProofSigner {
        ProofSigner::new(
            [7; 32],
            "k1".into(),
            "https://verify.example".into(),
            Some("my-app".into()),
            300,
        )
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_token_verifies_with_the_published_key_and_carries_the_claims() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        let token = signer().sign(&phone, Timestamp::from_unix_seconds(1_800_000_000));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            json!({ "alg": "EdDSA", "typ": "JWT", "kid": "k1" })
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["phone_number"], "+14155550123");
        assert_eq!(claims["aud"], "my-app");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );

        let jwk = &signer().jwks()["keys"][0];
        let x: [u8; 32] = URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = VerifyingKey::from_bytes(&x).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(key.verify(input.as_bytes(), &signature).is_ok());
        let forged = format!(
            "{}.{}",
            parts[0],
            encode(&json!({ "phone_number": "+14155550999" }))
        );
        assert!(key.verify(forged.as_bytes(), &signature).is_err());
    }

    #[test]
    fn every_token_has_its_own_id() {
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        let now = Timestamp::from_unix_seconds(1_800_000_000);
        let jti = |token: String| decode(token.split('.').nth(1).unwrap())["jti"].clone();
        assert_ne!(
            jti(signer().sign(&phone, now)),
            jti(signer().sign(&phone, now))
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", signer()).contains("[7"));
    }
}
