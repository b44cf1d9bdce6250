//! A signed proof of verification: on approval the app's own backend gets a
//! short-lived JWT (EdDSA / Ed25519) it can check offline against the
//! published JWKS, instead of trusting the client's word. The token says how
//! it was earned: through which service, for which verification, by which
//! method, so a relying party can refuse what it did not ask for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};

use crate::domain::{PhoneNumber, Timestamp, VerificationId};

/// The `svc` claim of a token earned through the Parse endpoints.
pub const PARSE_SERVICE: &str = "parse";

/// How a verification was approved: the `amr` claim (RFC 8176 names the
/// first; the second is ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The user typed the code sent to the number: `otp`.
    Code,
    /// A backend with the right to approve vouched for the user (the Verify
    /// API's `Status=approved`): `backend`.
    Backend,
}

impl Method {
    fn amr(self) -> &'static str {
        match self {
            Method::Code => "otp",
            Method::Backend => "backend",
        }
    }
}

/// What an approval proves: the number, when, through which service (a
/// Verify service SID, or `PARSE_SERVICE`), which verification and how.
#[derive(Debug, Clone, Copy)]
pub struct Earned<'a> {
    pub phone: &'a PhoneNumber,
    pub verified_at: Timestamp,
    pub service: &'a str,
    pub verification: &'a VerificationId,
    pub method: Method,
}

/// A key retired by a rotation: still published until the last token it
/// signed has expired (`retired_at` plus the token lifetime), never used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    pub key_id: String,
    pub public_key: VerifyingKey,
    pub retired_at: Timestamp,
}

/// `Debug` shows no secret: `SigningKey`'s own prints only the public key
/// (and the key is wiped on drop).
#[derive(Debug, Clone)]
pub struct ProofSigner {
    key: SigningKey,
    key_id: String,
    issuer: String,
    audience: Option<String>,
    ttl_seconds: u64,
    previous: Option<RetiredKey>,
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
            previous: None,
        }
    }

    /// The same signer, also publishing the key it replaced.
    pub fn with_previous(mut self, previous: RetiredKey) -> Self {
        self.previous = Some(previous);
        self
    }

    /// A JWT saying the number was verified at `earned.verified_at`, and
    /// how; valid for the configured TTL, with a unique `jti` so a backend
    /// can refuse replays.
    pub fn sign(&self, earned: &Earned<'_>) -> String {
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": self.key_id });
        let phone = earned.phone.as_e164();
        let at = earned.verified_at;
        let mut claims = json!({
            "iss": self.issuer,
            "sub": phone,
            "phone_number": phone,
            "phone_number_verified": true,
            "verified_at": at.unix_seconds(),
            "svc": earned.service,
            "vid": earned.verification.sid(),
            "amr": [earned.method.amr()],
            "iat": at.unix_seconds(),
            "exp": at.plus_seconds(self.ttl_seconds).unix_seconds(),
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

    /// The public keys as a JSON Web Key Set (RFC 7517, RFC 8037) at `now`:
    /// the current key, and the previous one while tokens it signed live.
    pub fn jwks(&self, now: Timestamp) -> Value {
        let previous = self
            .previous
            .as_ref()
            .filter(|retired| now < retired.retired_at.plus_seconds(self.ttl_seconds));
        let keys: Vec<Value> = std::iter::once((&self.key_id, self.key.verifying_key()))
            .chain(previous.map(|retired| (&retired.key_id, retired.public_key)))
            .map(|(key_id, public_key)| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(public_key.to_bytes()),
                    "kid": key_id,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        json!({ "keys": keys })
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

    const AT: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+14155550123", None).unwrap()
    }

    fn sign(signer: &ProofSigner, method: Method) -> String {
        let id = VerificationId::from_stored("0123456789abcdef0123456789abcdef".into());
        signer.sign(&Earned {
            phone: &phone(),
            verified_at: AT,
            service: "VA00000000000000000000000000000001",
            verification: &id,
            method,
        })
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_token_verifies_with_the_published_key_and_carries_the_claims() {
        let token = sign(&signer(), Method::Code);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            json!({ "alg": "EdDSA", "typ": "JWT", "kid": "k1" })
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["phone_number"], "+14155550123");
        assert_eq!(claims["aud"], "my-app");
        assert_eq!(claims["svc"], "VA00000000000000000000000000000001");
        assert_eq!(claims["vid"], "VE0123456789abcdef0123456789abcdef");
        assert_eq!(claims["amr"], json!(["otp"]));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );

        let jwk = &signer().jwks(AT)["keys"][0];
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
        let jti = |token: String| decode(token.split('.').nth(1).unwrap())["jti"].clone();
        assert_ne!(
            jti(sign(&signer(), Method::Code)),
            jti(sign(&signer(), Method::Code))
        );
    }

    #[test]
    fn a_backend_approval_says_so() {
        let claims = decode(sign(&signer(), Method::Backend).split('.').nth(1).unwrap());
        assert_eq!(claims["amr"], json!(["backend"]));
    }

    #[test]
    fn a_rotated_key_is_published_for_one_token_lifetime_after_the_rotation() {
        let old = signer();
        let token = sign(&old, Method::Code);
        let rotated_at = AT.plus_seconds(10);
        let new = ProofSigner::new([9; 32], "k2".into(), old.issuer.clone(), None, 300)
            .with_previous(RetiredKey {
                key_id: "k1".into(),
                public_key: old.key.verifying_key(),
                retired_at: rotated_at,
            });
        let kids = |now: Timestamp| -> Vec<Value> {
            new.jwks(now)["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|key| key["kid"].clone())
                .collect()
        };
        assert_eq!(kids(rotated_at), [json!("k2"), json!("k1")]);
        assert_eq!(
            kids(rotated_at.plus_seconds(299)),
            [json!("k2"), json!("k1")]
        );
        assert_eq!(
            kids(rotated_at.plus_seconds(300)),
            [json!("k2")],
            "its last token expired"
        );
        // The old token still checks against the published old key.
        let published = new.jwks(rotated_at)["keys"][1]["x"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(published, old.jwks(AT)["keys"][0]["x"]);
        let header = decode(token.split('.').next().unwrap());
        assert_eq!(header["kid"], "k1");
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", signer()).contains("[7"));
    }
}
