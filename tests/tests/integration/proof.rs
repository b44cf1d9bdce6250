//! The signed proof of verification: the token verifies with the published
//! key; a tampered or expired token does not.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use integration_tests::{Function, Stack, http_api_event, unique_phone};
use phone_verification::ports::Clock;
use serde_json::Value;

/// 32 bytes, base64: `openssl rand -base64 32`.
const SIGNING_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

async fn proof_stack() -> Stack {
    Stack::with_env(&[
        ("PROOF_SIGNING_KEY", SIGNING_KEY),
        ("PROOF_KEY_ID", "test-key"),
        ("PROOF_ISSUER", "https://verify.example.com"),
        ("PROOF_AUDIENCE", "my-backend"),
    ])
    .await
}

/// `GET /.well-known/jwks.json`, as API Gateway delivers it.
fn jwks_event() -> String {
    http_api_event(Function::Verify, "", "application/json")
        .replace("POST", "GET")
        .replace("/functions/verifyPhoneNumber", "/.well-known/jwks.json")
}

async fn jwks(stack: &Stack) -> Value {
    let event = jwks_event();
    let answer = stack.call_event(Function::Verify, &event).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.headers["cache-control"], "public, max-age=3600");
    answer.body
}

/// What the app's backend does: find the key by `kid`, check the signature,
/// the algorithm, the audience and the expiry.
fn verify(token: &str, jwks: &Value, now: i64) -> Result<Value, &'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("not a JWS");
    };
    let decode = |part: &str| -> Result<Value, &'static str> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "bad base64")?;
        serde_json::from_slice(&bytes).map_err(|_| "bad JSON")
    };
    let header_json = decode(header)?;
    if header_json["alg"] != "EdDSA" {
        return Err("unexpected algorithm");
    }
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["kid"] == header_json["kid"]))
        .ok_or("unknown key")?;
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().ok_or("no x")?)
        .map_err(|_| "bad key")?
        .try_into()
        .map_err(|_| "bad key length")?;
    let key = VerifyingKey::from_bytes(&x).map_err(|_| "bad key")?;
    let signature = Signature::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "bad base64")?,
    )
    .map_err(|_| "bad signature")?;
    key.verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "signature mismatch")?;
    let claims = decode(claims)?;
    if claims["aud"] != "my-backend" {
        return Err("wrong audience");
    }
    if claims["exp"].as_i64().ok_or("no exp")? <= now {
        return Err("expired");
    }
    Ok(claims)
}

async fn approved_token(stack: &Stack, phone: &str) -> String {
    stack.send(phone).await;
    let code = stack.code_sent_to(phone).await;
    let answer = stack.verify(phone, &code).await;
    assert_eq!(answer.status, 200);
    answer.body["result"]["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

#[tokio::test]
async fn the_token_verifies_with_the_published_key() {
    let stack = proof_stack().await;
    let phone = unique_phone();
    let token = approved_token(&stack, &phone).await;
    let now = stack.clock.now().unix_seconds();
    let claims = verify(&token, &jwks(&stack).await, now).expect("a valid token");
    assert_eq!(claims["phone_number"], phone.as_str());
    assert_eq!(claims["sub"], phone.as_str());
    assert_eq!(claims["phone_number_verified"], true);
    assert_eq!(claims["iss"], "https://verify.example.com");
    assert_eq!(claims["verified_at"], now);
    assert_eq!(claims["exp"].as_i64().unwrap() - now, 300);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn a_tampered_token_fails() {
    let stack = proof_stack().await;
    let token = approved_token(&stack, &unique_phone()).await;
    let keys = jwks(&stack).await;
    let now = stack.clock.now().unix_seconds();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["phone_number"] = "+14155550999".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(verify(&forged, &keys, now), Err("signature mismatch"));
    let other_key = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","kid":"other"}"#),
        parts[1],
        parts[2]
    );
    assert_eq!(verify(&other_key, &keys, now), Err("unknown key"));
}

#[tokio::test]
async fn an_expired_token_fails() {
    let stack = proof_stack().await;
    let token = approved_token(&stack, &unique_phone()).await;
    let keys = jwks(&stack).await;
    let issued = stack.clock.now().unix_seconds();
    assert!(verify(&token, &keys, issued + 299).is_ok());
    assert_eq!(verify(&token, &keys, issued + 300), Err("expired"));
}

#[tokio::test]
async fn without_a_key_there_is_no_token_and_no_jwks() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    let answer = stack.verify(&phone, &code).await;
    assert!(answer.body["result"].get("token").is_none());
    let event = jwks_event();
    assert_eq!(
        stack.call_event(Function::Verify, &event).await.reason(),
        "proof_tokens_disabled"
    );
}

/// A rotation of the signing key breaks no token in flight: the JWKS
/// publishes the replaced key for one token lifetime, then drops it.
#[tokio::test]
async fn after_a_rotation_the_old_key_is_published_for_one_token_lifetime() {
    let stack = proof_stack().await;
    let old_token = approved_token(&stack, &unique_phone()).await;
    let rotated_at = stack.clock.now();
    let previous = format!("test-key,{SIGNING_KEY},{rotated_at}");
    let stack = stack
        .redeployed_with(&[
            (
                "PROOF_SIGNING_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
            ("PROOF_KEY_ID", "test-key-2"),
            ("PROOF_PREVIOUS_KEY", &previous),
        ])
        .await;
    let keys = jwks(&stack).await;
    let kids: Vec<&Value> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| &key["kid"])
        .collect();
    assert_eq!(kids, ["test-key-2", "test-key"]);
    let now = stack.clock.now().unix_seconds();
    assert!(verify(&old_token, &keys, now).is_ok(), "a token in flight");
    let new_token = approved_token(&stack, &unique_phone()).await;
    assert!(verify(&new_token, &keys, now).is_ok());

    stack.clock.advance(300);
    let keys = jwks(&stack).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["kid"], "test-key-2");
    let now = stack.clock.now().unix_seconds();
    assert_eq!(verify(&old_token, &keys, now), Err("unknown key"));
}
