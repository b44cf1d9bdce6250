//! Twilio's delivery reports (`POST /twilio/status`): a signed report of an
//! undelivered code withdraws it and lifts the cooldown; a bad signature
//! changes nothing. The callback URL comes from API Gateway's request
//! context (domain name and stage), never from a header the client sends.

use base64::Engine;
use hmac::{Hmac, Mac};
use integration_tests::{AUTH_TOKEN, Answer, Function, Stack, http_api_event, unique_phone};
use serde_json::Value;
use sha1::Sha1;

/// Derived from the test events' `requestContext.domainName` and `$default` stage.
const CALLBACK: &str = "https://api.example.com/twilio/status";

/// Reports are on whenever the auth token Twilio signs with is known.
async fn reporting_stack() -> Stack {
    Stack::start().await
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
pub(crate) async fn report(
    stack: &Stack,
    callback_url: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> Answer {
    let signature = signature.map_or_else(|| twilio_signature(callback_url, params), str::to_owned);
    let headers = [("x-twilio-signature", signature.as_str())];
    post_report(stack, "/twilio/status", callback_url, params, &headers).await
}

/// A provider's POST of the form `params` with `headers` to our route
/// `path`, at the `callback_url` we gave it (its query is ours).
pub(crate) async fn post_report(
    stack: &Stack,
    path: &str,
    callback_url: &str,
    params: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let query = callback_url.split_once('?').map_or("", |(_, q)| q);
    let form = "application/x-www-form-urlencoded";
    post_body(stack, path, query, &body, form, headers).await
}

/// A POST of `body` (of `content_type`) with `headers` to the send
/// function's route `path`, with `query`.
pub(crate) async fn post_body(
    stack: &Stack,
    path: &str,
    query: &str,
    body: &str,
    content_type: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut event: Value =
        serde_json::from_str(&http_api_event(Function::Send, body, content_type)).unwrap();
    event["rawPath"] = path.into();
    event["routeKey"] = format!("POST {path}").into();
    event["requestContext"]["routeKey"] = format!("POST {path}").into();
    event["requestContext"]["http"]["path"] = path.into();
    event["rawQueryString"] = query.into();
    for (name, value) in headers {
        event["headers"][*name] = (*value).into();
    }
    stack.call_event(Function::Send, &event.to_string()).await
}

/// Sends a code and returns the callback URL Twilio was given.
async fn send_and_get_callback(stack: &Stack, phone: &str) -> String {
    assert_eq!(stack.send(phone).await.status, 200);
    let callback = last_callback(stack).await;
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
    assert_withdrawn(&stack, &phone, &code).await;
}

/// `code` was withdrawn, and the cooldown with it.
pub(crate) async fn assert_withdrawn(stack: &Stack, phone: &str, code: &str) {
    assert_eq!(
        stack.verify(phone, code).await.reason(),
        "no_pending_verification"
    );
    assert_eq!(
        stack.send(phone).await.status,
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

async fn last_callback(stack: &Stack) -> String {
    stack.messages().await.pop().unwrap()["StatusCallback"].clone()
}

/// A send through the HTTP API whose request context says `domain` and
/// `stage`, with a `host` header an attacker chose.
async fn send_through(stack: &Stack, domain: &str, stage: &str) -> Answer {
    let phone = unique_phone();
    let body = serde_json::json!({ "phoneNumber": phone }).to_string();
    let mut event: Value =
        serde_json::from_str(&http_api_event(Function::Send, &body, "application/json")).unwrap();
    event["requestContext"]["domainName"] = domain.into();
    event["requestContext"]["stage"] = stage.into();
    event["headers"]["host"] = "attacker.example".into();
    event["headers"]["x-forwarded-host"] = "attacker.example".into();
    stack.call_event(Function::Send, &event.to_string()).await
}

#[tokio::test]
async fn the_callback_url_comes_from_the_request_context_or_the_override() {
    let stack = Stack::start().await;
    assert_eq!(
        send_through(&stack, "abc123.execute-api.eu-west-1.amazonaws.com", "prod")
            .await
            .status,
        200
    );
    let callback = last_callback(&stack).await;
    assert!(
        callback
            .starts_with("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/twilio/status?"),
        "{callback}"
    );
    assert!(!callback.contains("attacker"));

    let stack = Stack::with_env(&[(
        "STATUS_CALLBACK_URL",
        "https://verify.example.com/twilio/status",
    )])
    .await;
    assert_eq!(
        send_through(
            &stack,
            "abc123.execute-api.eu-west-1.amazonaws.com",
            "$default"
        )
        .await
        .status,
        200
    );
    let callback = last_callback(&stack).await;
    assert!(
        callback.starts_with("https://verify.example.com/twilio/status?verification="),
        "{callback}"
    );
}

#[tokio::test]
async fn reports_are_refused_without_the_auth_token_twilio_signs_with() {
    let stack = Stack::with_env(&[
        ("TWILIO_AUTH_TOKEN", ""),
        ("TWILIO_API_KEY_SID", "SK0123456789abcdef0123456789abcdef"),
        ("TWILIO_API_KEY_SECRET", "secret"),
    ])
    .await;
    let params = [("MessageStatus", "failed"), ("To", "+14155550123")];
    let answer = report(&stack, CALLBACK, &params, None).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.reason(), "delivery_reports_disabled");
}

/// Call bombing through refunds: an attacker asks for calls to a victim and
/// forges nothing, but every failed or unanswered call used to give the
/// limits back. Now `busy` and `no-answer` (the phone rang) give nothing
/// back, a refund lifts only the cooldown, and the send counts bound the
/// calls: at most MAX_SENDS_PER_NUMBER_PER_10_MINUTES (5) in 10 minutes.
#[tokio::test]
async fn reports_cannot_be_used_to_ring_a_number_again_and_again() {
    let stack = Stack::with_env(&[("ENABLED_CHANNELS", "sms,call")]).await;
    let victim = unique_phone();
    let call = serde_json::json!({ "phoneNumber": victim, "channel": "call" });

    assert_eq!(stack.call(Function::Send, call.clone()).await.status, 200);
    let callback = stack.calls().await.pop().unwrap()["StatusCallback"].clone();
    for status in ["busy", "no-answer"] {
        let params = [
            ("CallSid", "CA0123"),
            ("CallStatus", status),
            ("To", victim.as_str()),
        ];
        let answer = report(&stack, &callback, &params, None).await;
        assert_eq!(
            answer.body["result"]["withdrawn"], false,
            "{status}: the phone rang"
        );
    }
    assert_eq!(
        stack.call(Function::Send, call.clone()).await.reason(),
        "resend_too_soon"
    );

    // Each call "fails" at once and is reported: 15 tries within a minute.
    let failed = [
        ("CallSid", "CA0123"),
        ("CallStatus", "failed"),
        ("To", victim.as_str()),
    ];
    let mut refused = Vec::new();
    for _ in 0..15 {
        let callback = stack.calls().await.pop().unwrap()["StatusCallback"].clone();
        report(&stack, &callback, &failed, None).await;
        let replayed = report(&stack, &callback, &failed, None).await;
        assert_eq!(
            replayed.body["result"]["withdrawn"], false,
            "a replay withdraws nothing"
        );
        let answer = stack.call(Function::Send, call.clone()).await;
        if answer.status != 200 {
            refused.push(answer.reason().to_owned());
        }
    }
    let calls = stack.calls().await.len();
    println!("call bombing: 16 call requests with failed-call reports placed {calls} calls");
    assert_eq!(calls, 3, "MAX_CALLS_PER_NUMBER_PER_DAY bounds the calls");
    assert!(
        refused.iter().all(|r| r == "too_many_calls_24_hours"),
        "{refused:?}"
    );
    // The last call failed: a text may go at once, within its own limits.
    assert_eq!(stack.send(&victim).await.status, 200);
}
