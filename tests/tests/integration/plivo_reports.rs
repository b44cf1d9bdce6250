//! Plivo's delivery reports (`POST /plivo/status`) through the send handler
//! and DynamoDB Local: a send through Plivo gives it the URL of the route;
//! a report signed with Plivo's V3 signature that the code was undelivered
//! withdraws it and lifts the cooldown, as Twilio's does. A forged, unsigned
//! or malformed report changes nothing, and neither does a replay.

use base64::Engine;
use hmac::{Hmac, Mac};
use integration_tests::{Answer, PLIVO_AUTH_TOKEN, Stack, code_in, unique_phone};
use serde_json::Value;
use sha2::Sha256;
use wiremock::MockServer;

use crate::delivery_reports::{assert_withdrawn, post_report};
use crate::plivo_calls::stack_routing;
/// Derived from the test events' `requestContext.domainName` and `$default` stage.
const CALLBACK: &str = "https://api.example.com/plivo/status";
const NONCE: &str = "12345678901234567890";

/// A stack sending every message through a Plivo fake that queues it.
async fn plivo_stack() -> (Stack, MockServer) {
    stack_routing("*=plivo", None).await
}

/// Sends a code through Plivo: the code, and the URL Plivo was given.
async fn send(stack: &Stack, plivo: &MockServer, phone: &str) -> (String, String) {
    assert_eq!(stack.send(phone).await.status, 200);
    let requests = plivo.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    let code = code_in(sent["text"].as_str().unwrap());
    let url = sent["url"].as_str().expect("a report URL").to_owned();
    assert!(
        url.starts_with(&format!("{CALLBACK}?verification=")),
        "{url}"
    );
    assert!(!url.contains(&code), "the code is never in a URL");
    (code, url)
}

/// Signs like Plivo (V3): HMAC-SHA256 of the URL, `?`, the sorted query,
/// `.`, each sorted form parameter's name and value, `.` and the nonce.
fn plivo_signature(token: &str, url: &str, params: &[(&str, &str)], nonce: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let mut query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut params = params.to_vec();
    params.sort();
    let params: String = params.iter().map(|(k, v)| format!("{k}{v}")).collect();
    let text = format!("{base}?{}.{params}.{nonce}", query.join("&"));
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Plivo's POST of `params` to `url`, signed as Plivo signs it.
async fn signed_report(stack: &Stack, url: &str, params: &[(&str, &str)]) -> Answer {
    signed_post(stack, "/plivo/status", url, params, PLIVO_AUTH_TOKEN).await
}

/// Plivo's POST of `params` to `url` (our route `path`), signed with `token`.
pub(crate) async fn signed_post(
    stack: &Stack,
    path: &str,
    url: &str,
    params: &[(&str, &str)],
    token: &str,
) -> Answer {
    let signature = plivo_signature(token, url, params, NONCE);
    let headers = [
        ("x-plivo-signature-v3", signature.as_str()),
        ("x-plivo-signature-v3-nonce", NONCE),
    ];
    post_report(stack, path, url, params, &headers).await
}

/// Plivo's report that the message to `to` has `status`.
fn report_params<'a>(to: &'a str, status: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("MessageUUID", "db3ce55a-7f1d-11e1-8ea7-1231380bc196"),
        ("Status", status),
        ("To", to),
        ("From", "14155550100"),
        ("ErrorCode", "50"),
    ]
}

/// `code` is still pending, and the cooldown still holds.
async fn assert_pending(stack: &Stack, phone: &str, code: &str) {
    assert_eq!(stack.send(phone).await.reason(), "resend_too_soon");
    assert_eq!(stack.verify(phone, code).await.status, 200);
}

#[tokio::test]
async fn a_signed_undelivered_report_withdraws_the_code_and_lifts_the_cooldown() {
    let (stack, plivo) = plivo_stack().await;
    let phone = unique_phone();
    let (code, url) = send(&stack, &plivo, &phone).await;
    assert!(
        stack.messages().await.is_empty(),
        "through Plivo, not Twilio"
    );
    assert_eq!(stack.send(&phone).await.reason(), "resend_too_soon");

    // Plivo writes the number without its `+`.
    let to = phone.trim_start_matches('+');
    let answer = signed_report(&stack, &url, &report_params(to, "undelivered")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["result"]["withdrawn"], true);
    assert_withdrawn(&stack, &phone, &code).await;
}

#[tokio::test]
async fn a_replayed_report_changes_nothing_more() {
    let (stack, plivo) = plivo_stack().await;
    let phone = unique_phone();
    let (_, url) = send(&stack, &plivo, &phone).await;
    let params = report_params(phone.trim_start_matches('+'), "failed");
    let first = signed_report(&stack, &url, &params).await;
    assert_eq!(first.body["result"]["withdrawn"], true, "{first:?}");

    // The same report again (same signature, same nonce): nothing left to
    // withdraw, and the cooldown the first lifted stays lifted.
    let replayed = signed_report(&stack, &url, &params).await;
    assert_eq!(replayed.status, 200, "{replayed:?}");
    assert_eq!(replayed.body["result"]["withdrawn"], false);

    // Nor does it touch the code the user asked for since.
    let (code, _) = send(&stack, &plivo, &phone).await;
    let replayed = signed_report(&stack, &url, &params).await;
    assert_eq!(replayed.body["result"]["withdrawn"], false);
    assert_pending(&stack, &phone, &code).await;
}

#[tokio::test]
async fn a_delivered_report_changes_nothing() {
    let (stack, plivo) = plivo_stack().await;
    let phone = unique_phone();
    let (code, url) = send(&stack, &plivo, &phone).await;
    let answer = signed_report(&stack, &url, &report_params(&phone, "delivered")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["result"]["withdrawn"], false);
    assert_pending(&stack, &phone, &code).await;
}

#[tokio::test]
async fn forged_unsigned_and_malformed_reports_are_refused_and_change_nothing() {
    let (stack, plivo) = plivo_stack().await;
    let phone = unique_phone();
    let (code, url) = send(&stack, &plivo, &phone).await;
    let params = report_params(&phone, "undelivered");
    let delivered = report_params(&phone, "delivered");
    let other_code = url.replace("sent_at=", "sent_at=1");
    let twilio_url = url.replace("/plivo/", "/twilio/");
    for (case, signature) in [
        (
            "another token",
            plivo_signature("another-token", &url, &params, NONCE),
        ),
        (
            "another report",
            plivo_signature(PLIVO_AUTH_TOKEN, &url, &delivered, NONCE),
        ),
        (
            "another code",
            plivo_signature(PLIVO_AUTH_TOKEN, &other_code, &params, NONCE),
        ),
        (
            "another URL",
            plivo_signature(PLIVO_AUTH_TOKEN, &twilio_url, &params, NONCE),
        ),
        (
            "another nonce",
            plivo_signature(PLIVO_AUTH_TOKEN, &url, &params, "1"),
        ),
        ("not base64", "not base64!".to_owned()),
        ("empty", String::new()),
    ] {
        let headers = [
            ("x-plivo-signature-v3", signature.as_str()),
            ("x-plivo-signature-v3-nonce", NONCE),
        ];
        let answer = post_report(&stack, "/plivo/status", &url, &params, &headers).await;
        assert_eq!(
            (answer.status, answer.reason()),
            (403, "invalid_signature"),
            "{case}"
        );
    }
    let unsigned = post_report(&stack, "/plivo/status", &url, &params, &[]).await;
    assert_eq!(
        (unsigned.status, unsigned.reason()),
        (403, "invalid_signature")
    );

    // Signed, but without the number it is about.
    let without_number: Vec<_> = params
        .into_iter()
        .filter(|(name, _)| *name != "To")
        .collect();
    let malformed = signed_report(&stack, &url, &without_number).await;
    assert_eq!(
        (malformed.status, malformed.reason()),
        (400, "invalid_delivery_report")
    );

    assert_pending(&stack, &phone, &code).await;
}

#[tokio::test]
async fn reports_are_refused_when_plivo_is_not_configured() {
    let stack = Stack::start().await;
    let url = format!("{CALLBACK}?verification=0123456789abcdef0123456789abcdef&sent_at=1");
    let answer = signed_report(&stack, &url, &report_params("14155550123", "failed")).await;
    assert_eq!(
        (answer.status, answer.reason()),
        (404, "delivery_reports_disabled")
    );
}
