//! The trust boundaries between callers (issue 20), attacked through the
//! real handlers and DynamoDB Local: API keys scoped to services, approval
//! without a code as a right of its own, proofs that say how they were
//! earned, allowances that rotating `DeviceIp` or IPv6 addresses do not
//! renew, and reads counted before they are made.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::{APPROVER_API_KEY, Answer, Stack, VERIFY_SERVICE_SID, unique_phone};
use serde_json::{Value, json};

/// 32 bytes, base64.
const SIGNING_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const SHOP_SID: &str = "VAfedcba9876543210fedcba9876543210";
/// A key of the shop's service only.
const SHOP_KEY: (&str, &str) = ("SKshop", "shop-only-secret-0123456789");

/// Two services; the stack's key for both (no approval), an approver, and a
/// key of the shop alone.
async fn stack_with(extra: &[(&'static str, &str)]) -> Stack {
    let keys = format!(
        "SKtest:integration-verify-secret-0123:*,{}:{}:*|approve,{}:{}:{SHOP_SID}",
        APPROVER_API_KEY.0, APPROVER_API_KEY.1, SHOP_KEY.0, SHOP_KEY.1
    );
    let services = format!("{SHOP_SID}|Shop|6|sms");
    let mut env = vec![
        ("PROOF_SIGNING_KEY", SIGNING_KEY),
        ("VERIFY_SERVICES", services.as_str()),
        ("VERIFY_API_KEYS", keys.as_str()),
    ];
    env.extend_from_slice(extra);
    Stack::with_env(&env).await
}

fn path(service: &str, rest: &str) -> String {
    format!("/v2/Services/{service}{rest}")
}

async fn create_as(stack: &Stack, key: (&str, &str), service: &str, phone: &str) -> Answer {
    stack
        .twilio_verify_as(
            Some(key),
            "POST",
            &path(service, "/Verifications"),
            &[("To", phone), ("Channel", "sms")],
        )
        .await
}

/// A create by the stack's key for the end user at `device_ip`.
async fn create_for_device(stack: &Stack, device_ip: &str) -> Answer {
    stack
        .twilio_verify(
            "POST",
            &path(VERIFY_SERVICE_SID, "/Verifications"),
            &[
                ("To", unique_phone().as_str()),
                ("Channel", "sms"),
                ("DeviceIp", device_ip),
            ],
        )
        .await
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn a_key_of_one_service_finds_nothing_in_another() {
    let stack = stack_with(&[]).await;
    let phone = unique_phone();
    assert_eq!(
        create_as(&stack, SHOP_KEY, SHOP_SID, &phone).await.status,
        201
    );
    let elsewhere = create_as(&stack, SHOP_KEY, VERIFY_SERVICE_SID, &unique_phone()).await;
    assert_eq!(
        (elsewhere.status, &elsewhere.body["code"]),
        (404, &json!(20404)),
        "{elsewhere:?}"
    );
    // Nothing was sent for the refused call: one message, the shop's.
    assert_eq!(stack.messages().await.len(), 1);
}

/// Finding 1: any key could approve any pending verification without its
/// code and get a proof. Now that is a right a key must be given, and the
/// proof says it was a backend's approval, not a code.
#[tokio::test]
async fn approving_without_a_code_needs_the_right_and_the_proof_says_so() {
    let stack = stack_with(&[]).await;
    let phone = unique_phone();
    let key = integration_tests::VERIFY_API_KEY;
    let created = create_as(&stack, key, VERIFY_SERVICE_SID, &phone).await;
    let sid = created.body["sid"].as_str().unwrap().to_owned();
    let update = |key| {
        let (stack, sid) = (&stack, sid.clone());
        async move {
            stack
                .twilio_verify_as(
                    Some(key),
                    "POST",
                    &path(VERIFY_SERVICE_SID, &format!("/Verifications/{sid}")),
                    &[("Status", "approved")],
                )
                .await
        }
    };
    let refused = update(key).await;
    assert_eq!(
        (refused.status, &refused.body["code"]),
        (403, &json!(20403)),
        "{refused:?}"
    );
    assert!(!refused.headers.contains_key("x-verification-token"));
    let fetched = stack
        .twilio_verify(
            "GET",
            &path(VERIFY_SERVICE_SID, &format!("/Verifications/{sid}")),
            &[],
        )
        .await;
    assert_eq!(fetched.body["status"], "pending", "nothing changed");

    let approved = update(APPROVER_API_KEY).await;
    assert_eq!(approved.status, 200, "{approved:?}");
    let token = claims(approved.headers["x-verification-token"].as_str());
    assert_eq!(token["amr"], json!(["backend"]));
    assert_eq!(token["svc"], VERIFY_SERVICE_SID);
    assert_eq!(token["vid"], sid);
}

/// A token says through which service and how it was earned: a relying
/// party that asked for the shop's code checks refuses the others.
#[tokio::test]
async fn tokens_name_their_service_verification_and_method() {
    let stack = stack_with(&[]).await;
    let phone = unique_phone();
    let created = create_as(&stack, SHOP_KEY, SHOP_SID, &phone).await;
    let code = stack.code_sent_to(&phone).await;
    let checked = stack
        .twilio_verify_as(
            Some(SHOP_KEY),
            "POST",
            &path(SHOP_SID, "/VerificationCheck"),
            &[("To", phone.as_str()), ("Code", code.as_str())],
        )
        .await;
    assert_eq!(checked.status, 200, "{checked:?}");
    let shop = claims(checked.headers["x-verification-token"].as_str());
    assert_eq!(
        (&shop["svc"], &shop["vid"], &shop["amr"]),
        (&json!(SHOP_SID), &created.body["sid"], &json!(["otp"]))
    );

    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    let parse = stack.verify(&phone, &code).await;
    let parse = claims(parse.body["result"]["token"].as_str().unwrap());
    assert_eq!(
        (&parse["svc"], &parse["amr"]),
        (&json!("parse"), &json!(["otp"]))
    );
    assert!(parse["vid"].as_str().unwrap().starts_with("VE"));
}

/// Finding 3: a caller rotating `DeviceIp` got a fresh allowance each time.
/// The key's ceiling counts them all.
#[tokio::test]
async fn rotating_device_ip_stops_at_the_keys_ceiling() {
    let stack = stack_with(&[("MAX_SENDS_PER_API_KEY_PER_HOUR", "3")]).await;
    let mut statuses = Vec::new();
    for device in 1..=5 {
        let answer = create_for_device(&stack, &format!("198.51.100.{device}")).await;
        statuses.push((answer.status, answer.body["code"].clone()));
    }
    let refused = (429, json!(20429));
    assert_eq!(statuses[..3].iter().filter(|s| s.0 == 201).count(), 3);
    assert_eq!(statuses[3..], [refused.clone(), refused], "{statuses:?}");
    assert_eq!(stack.messages().await.len(), 3);
}

/// Finding 3: every address of an IPv6 /64 is one subscriber's: on the
/// Parse API and as a `DeviceIp`, they share one allowance.
#[tokio::test]
async fn ipv6_addresses_of_one_64_share_an_allowance_on_both_apis() {
    let stack = stack_with(&[("MAX_SENDS_PER_CLIENT_PER_HOUR", "2")]).await;
    let mut parse = Vec::new();
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        parse.push(stack.send_from(ip, &unique_phone()).await.status);
    }
    assert_eq!(parse, [200, 200, 429]);
    assert_eq!(
        stack
            .send_from("2001:db8:1:3::1", &unique_phone())
            .await
            .status,
        200,
        "another /64 is another client"
    );
    let mut device = Vec::new();
    for ip in ["2001:db8:9:9::1", "2001:db8:9:9::2", "2001:db8:9:9::3"] {
        device.push(create_for_device(&stack, ip).await.status);
    }
    assert_eq!(device, [201, 201, 429]);
}

/// Finding 6: a fetch, an update or a check by SID read the table before
/// any allowance was counted, so SIDs could be probed without limit.
#[tokio::test]
async fn reads_by_sid_count_against_the_allowance_first() {
    let stack = stack_with(&[("MAX_REQUESTS_PER_CLIENT_PER_HOUR", "4")]).await;
    let fetch = |sid: &'static str| {
        let stack = &stack;
        async move {
            stack
                .twilio_verify(
                    "GET",
                    &path(VERIFY_SERVICE_SID, &format!("/Verifications/{sid}")),
                    &[],
                )
                .await
        }
    };
    let unknown = "VE0123456789abcdef0123456789abcdef";
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(fetch(unknown).await.body["code"].clone());
    }
    assert_eq!(
        codes,
        [
            json!(20404),
            json!(20404),
            json!(20404),
            json!(20404),
            json!(20429)
        ]
    );
}
