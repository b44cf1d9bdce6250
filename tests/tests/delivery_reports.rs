//! Twilio's delivery reports (`POST /twilio/status`): a signed report of an
//! undelivered code withdraws it and lifts the cooldown; a bad signature
//! changes nothing.

use base64::Engine;
use hmac::{Hmac, Mac};
use integration_tests::{AUTH_TOKEN, Answer, Function, Stack, http_api_event, unique_phone};
use serde_json::Value;
use sha1::Sha1;

const CALLBACK: &str = "https://api.example.com/twilio/status";

async fn reporting_stack() -> Stack {
    Stack::with_env(&[("STATUS_CALLBACK_URL", CALLBACK)]).await
}

/// Signs like Twilio: HMAC-SHA1 of the URL and the sorted parameters.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let signed: String = sorted
        .iter()
        .fold(url.to_owned(), |acc, (k, v)| acc + k + v);
    let mut mac = Hmac::<Sha1>::new_from_slice(AUTH_TOKEN.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Twilio's POST to the callback URL it was given, signed with `signature`
/// (or correctly when `None`).
async fn report(
    stack: &Stack,
    callback_url: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let query = callback_url.split_once('?').map_or("", |(_, q)| q);
    let mut event: Value = serde_json::from_str(&http_api_event(
        Function::Send,
        &body,
        "application/x-www-form-urlencoded",
    ))
    .unwrap();
    event["rawPath"] = "/twilio/status".into();
    event["routeKey"] = "POST /twilio/status".into();
    event["requestContext"]["http"]["path"] = "/twilio/status".into();
    event["rawQueryString"] = query.into();
    let signature = signature.map_or_else(|| twilio_signature(callback_url, params), str::to_owned);
    event["headers"]["x-twilio-signature"] = signature.into();
    stack.call_event(Function::Send, &event.to_string()).await
}

/// Sends a code and returns the callback URL Twilio was given.
async fn send_and_get_callback(stack: &Stack, phone: &str) -> String {
    assert_eq!(stack.send(phone).await.status, 200);
    let message = stack.messages().await.pop().unwrap();
    let callback = message["StatusCallback"].clone();
    assert!(
        callback.starts_with(&format!("{CALLBACK}?verification=")),
        "{callback}"
    );
    let code = stack.code_sent_to(phone).await;
    assert!(!callback.contains(&code), "the code is never in a URL");
    callback
}

#[tokio::test]
async fn an_undelivered_report_withdraws_the_code_and_lifts_the_cooldown() {
    let stack = reporting_stack().await;
    let phone = unique_phone();
    let callback = send_and_get_callback(&stack, &phone).await;
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(stack.send(&phone).await.reason(), "resend_too_soon");

    let params = [
        ("MessageSid", "SM0123"),
        ("MessageStatus", "undelivered"),
        ("To", phone.as_str()),
        ("ErrorCode", "30003"),
    ];
    let answer = report(&stack, &callback, &params, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["result"]["withdrawn"], true);

    assert_eq!(
        stack.verify(&phone, &code).await.reason(),
        "no_pending_verification"
    );
    assert_eq!(
        stack.send(&phone).await.status,
        200,
        "the user may ask again at once"
    );
}

#[tokio::test]
async fn a_delivered_report_changes_nothing() {
    let stack = reporting_stack().await;
    let phone = unique_phone();
    let callback = send_and_get_callback(&stack, &phone).await;
    let params = [
        ("MessageSid", "SM0123"),
        ("MessageStatus", "delivered"),
        ("To", phone.as_str()),
    ];
    let answer = report(&stack, &callback, &params, None).await;
    assert_eq!(answer.body["result"]["withdrawn"], false);
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_changes_nothing() {
    let stack = reporting_stack().await;
    let phone = unique_phone();
    let callback = send_and_get_callback(&stack, &phone).await;
    let params = [
        ("MessageSid", "SM0123"),
        ("MessageStatus", "failed"),
        ("To", phone.as_str()),
    ];
    let forged_url = callback.replace("sent_at=", "sent_at=1");
    let signed_elsewhere = twilio_signature(&forged_url, &params);
    for signature in ["", "AAAA", signed_elsewhere.as_str()] {
        let answer = report(&stack, &callback, &params, Some(signature)).await;
        assert_eq!(answer.status, 403, "{signature:?}");
        assert_eq!(answer.reason(), "invalid_signature");
    }
    assert_eq!(
        stack.send(&phone).await.reason(),
        "resend_too_soon",
        "nothing was withdrawn"
    );
}

#[tokio::test]
async fn reports_are_refused_when_not_configured() {
    let stack = Stack::start().await;
    let params = [("MessageStatus", "failed"), ("To", "+14155550123")];
    let answer = report(&stack, CALLBACK, &params, None).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.reason(), "delivery_reports_disabled");
}
