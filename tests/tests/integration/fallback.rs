//! Channel fallback through the real handlers and DynamoDB Local: a call
//! may follow a pending SMS after `FALLBACK_AFTER_SECONDS` instead of the
//! cooldown, on the Parse and the Verify API; the conditional write admits
//! one fallback per code however many race for it; calls stay bounded per
//! number and day however the channels alternate.

use std::sync::Arc;

use integration_tests::{Answer, Function, Stack, VERIFY_SERVICE_SID, unique_phone};
use phone_verification::domain::Timestamp;
use phone_verification::ports::Clock;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::delivery_reports::report;
use crate::limits::assert_limited;

async fn sms_and_calls(extra: &[(&'static str, &str)]) -> Stack {
    let mut env = vec![("ENABLED_CHANNELS", "sms,call")];
    env.extend_from_slice(extra);
    Stack::with_env(&env).await
}

async fn send_on(stack: &Stack, phone: &str, channel: &str) -> Answer {
    stack
        .call(
            Function::Send,
            json!({ "phoneNumber": phone, "channel": channel }),
        )
        .await
}

fn verifications() -> String {
    format!("/v2/Services/{VERIFY_SERVICE_SID}/Verifications")
}

/// A Verify API verification of `phone` on `channel`.
async fn create(stack: &Stack, phone: &str, channel: &str) -> Answer {
    let form = [("To", phone), ("Channel", channel)];
    stack.twilio_verify("POST", &verifications(), &form).await
}

/// The verification `answer` made: `GET` with no form, `POST` with `Status`.
async fn on_verification(
    stack: &Stack,
    method: &str,
    answer: &Answer,
    form: &[(&str, &str)],
) -> Answer {
    let path = format!(
        "{}/{}",
        verifications(),
        answer.body["sid"].as_str().unwrap()
    );
    stack.twilio_verify(method, &path, form).await
}

/// The Verify API's `fallback`, due at `at`.
fn offers_a_call_at(at: Timestamp) -> Value {
    json!({ "channels": ["call"], "available_at": at.to_string() })
}

/// The answer's `fallback`, `seconds` after now.
fn offers_a_call_in(stack: &Stack, seconds: u64) -> Value {
    json!({
        "channels": ["call"],
        "availableAt": stack.clock.now().plus_seconds(seconds).to_string(),
    })
}

#[tokio::test]
async fn a_call_follows_a_pending_sms_after_the_fallback_wait() {
    let stack = sms_and_calls(&[]).await;
    let phone = unique_phone();
    let sms = stack.send(&phone).await;
    assert_eq!(sms.status, 200, "{sms:?}");
    assert_eq!(sms.body["result"]["fallback"], offers_a_call_in(&stack, 30));

    stack.clock.advance(10);
    let too_soon = send_on(&stack, &phone, "call").await;
    assert_limited(&too_soon, "resend_too_soon", 20);
    // The same channel waits the whole cooldown.
    stack.clock.advance(20);
    assert_limited(&stack.send(&phone).await, "resend_too_soon", 30);

    let call = send_on(&stack, &phone, "call").await;
    assert_eq!(call.status, 200, "{call:?}");
    assert_eq!(call.body["result"]["channel"], "call");
    assert!(
        call.body["result"].get("fallback").is_none(),
        "nothing comes after a call: {call:?}"
    );
    assert_eq!(stack.calls().await.len(), 1);
    // Only the latest code works: the call's.
    let texted = stack.code_sent_to(&phone).await;
    let called = stack.code_called_to(&phone).await;
    if texted != called {
        assert_eq!(
            stack.verify(&phone, &texted).await.reason(),
            "incorrect_code"
        );
    }
    assert_eq!(stack.verify(&phone, &called).await.status, 200);
}

#[tokio::test]
async fn an_approved_code_earns_no_fallback() {
    let stack = sms_and_calls(&[]).await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
    stack.clock.advance(30);
    assert_limited(
        &send_on(&stack, &phone, "call").await,
        "resend_too_soon",
        30,
    );
    assert!(stack.calls().await.is_empty());
}

#[tokio::test]
async fn the_verify_api_falls_back_to_a_call_with_a_new_sid() {
    let stack = sms_and_calls(&[]).await;
    let phone = unique_phone();
    let sms = create(&stack, &phone, "sms").await;
    assert_eq!(sms.status, 201, "{sms:?}");
    assert_eq!(
        sms.body["fallback"],
        offers_a_call_at(stack.clock.now().plus_seconds(30))
    );

    stack.clock.advance(29);
    let too_soon = create(&stack, &phone, "call").await;
    assert_eq!(
        (too_soon.status, &too_soon.body["code"]),
        (429, &json!(60212))
    );
    assert_eq!(too_soon.headers["retry-after"], "1");

    stack.clock.advance(1);
    let call = create(&stack, &phone, "call").await;
    assert_eq!(call.status, 201, "{call:?}");
    assert_eq!(call.body["channel"], "call");
    assert_ne!(
        call.body["sid"], sms.body["sid"],
        "every send is a new code"
    );
    assert_eq!(call.body["send_code_attempts"][0]["channel"], "call");
    assert!(call.body.get("fallback").is_none(), "{call:?}");
    assert_eq!(stack.calls().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_fallbacks_place_one_call() {
    let stack = Arc::new(sms_and_calls(&[]).await);
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    stack.clock.advance(30);
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let (stack, phone) = (Arc::clone(&stack), phone.clone());
        tasks.spawn(async move { send_on(&stack, &phone, "call").await });
    }
    let answers = tasks.join_all().await;
    let admitted = answers.iter().filter(|a| a.status == 200).count();
    println!("20 parallel fallback calls: {admitted} admitted");
    assert_eq!(admitted, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 || a.reason() == "resend_too_soon"),
        "{answers:?}"
    );
    assert_eq!(stack.calls().await.len(), 1);
}

#[tokio::test]
async fn alternating_channels_cannot_ring_a_number_more_than_the_call_bound() {
    let stack = sms_and_calls(&[
        ("MAX_SENDS_PER_NUMBER_PER_10_MINUTES", "100"),
        ("MAX_SENDS_PER_NUMBER_PER_DAY", "100"),
        ("MAX_SENDS_PER_CLIENT_PER_HOUR", "1000"),
    ])
    .await;
    stack.align_to_window(86_400);
    let victim = unique_phone();
    let mut refused = Vec::new();
    // SMS, its fallback call as soon as it is due, again and again.
    for _ in 0..10 {
        assert_eq!(stack.send(&victim).await.status, 200);
        stack.clock.advance(30);
        let call = send_on(&stack, &victim, "call").await;
        if call.status != 200 {
            refused.push(call.reason().to_owned());
        }
        stack.clock.advance(60);
    }
    let calls = stack.calls().await.len();
    println!(
        "call bombing through fallbacks: 10 SMS and 10 fallback calls asked, {calls} calls placed"
    );
    assert_eq!(calls, 3, "MAX_CALLS_PER_NUMBER_PER_DAY");
    assert_eq!(refused, vec!["too_many_calls_24_hours"; 7]);
    assert_eq!(
        stack.messages().await.len(),
        10,
        "texts have their own limits"
    );
}

#[tokio::test]
async fn after_an_undelivered_report_the_next_send_goes_at_once_and_offers_a_call() {
    let stack = sms_and_calls(&[]).await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    let callback = stack.messages().await.pop().unwrap()["StatusCallback"].clone();
    stack.clock.advance(5);
    let undelivered = [
        ("MessageSid", "SM0123"),
        ("MessageStatus", "undelivered"),
        ("To", phone.as_str()),
        ("ErrorCode", "30003"),
    ];
    let answer = report(&stack, &callback, &undelivered, None).await;
    assert_eq!(answer.body["result"]["withdrawn"], true, "{answer:?}");

    let again = stack.send(&phone).await;
    assert_eq!(again.status, 200, "no cooldown after an undelivered code");
    assert_eq!(
        again.body["result"]["fallback"],
        offers_a_call_in(&stack, 30)
    );
    stack.clock.advance(30);
    assert_eq!(send_on(&stack, &phone, "call").await.status, 200);
}

#[tokio::test]
async fn a_fetch_says_when_the_fallback_is_due_and_after_an_undelivered_report_that_it_is_due_now()
{
    let stack = sms_and_calls(&[]).await;
    let phone = unique_phone();
    let created = create(&stack, &phone, "sms").await;
    let due = stack.clock.now().plus_seconds(30);
    stack.clock.advance(10);
    let pending = on_verification(&stack, "GET", &created, &[]).await;
    assert_eq!(pending.body["status"], "pending", "{pending:?}");
    assert_eq!(pending.body["fallback"], offers_a_call_at(due));

    let callback = stack.messages().await.pop().unwrap()["StatusCallback"].clone();
    let undelivered = [
        ("MessageSid", "SM0123"),
        ("MessageStatus", "undelivered"),
        ("To", phone.as_str()),
    ];
    assert_eq!(
        report(&stack, &callback, &undelivered, None).await.body["result"]["withdrawn"],
        true
    );
    let canceled = on_verification(&stack, "GET", &created, &[]).await;
    assert_eq!(canceled.body["status"], "canceled", "{canceled:?}");
    assert_eq!(
        canceled.body["fallback"],
        offers_a_call_at(stack.clock.now())
    );
    let call = create(&stack, &phone, "call").await;
    assert_eq!(call.status, 201, "at once: {call:?}");

    // An approved verification earns none.
    stack.clock.advance(60);
    let sms = create(&stack, &phone, "sms").await;
    let code = stack.code_sent_to(&phone).await;
    let check = format!("/v2/Services/{VERIFY_SERVICE_SID}/VerificationCheck");
    let approved = stack
        .twilio_verify("POST", &check, &[("To", &phone), ("Code", &code)])
        .await;
    assert_eq!(approved.body["status"], "approved", "{approved:?}");
    let fetched = on_verification(&stack, "GET", &sms, &[]).await;
    assert_eq!(fetched.body["status"], "approved", "{fetched:?}");
    assert!(fetched.body.get("fallback").is_none(), "{fetched:?}");
}

#[tokio::test]
async fn a_canceled_verification_offers_its_fallback_at_once() {
    let stack = sms_and_calls(&[]).await;
    let phone = unique_phone();
    let created = create(&stack, &phone, "sms").await;
    stack.clock.advance(3);
    let canceled = on_verification(&stack, "POST", &created, &[("Status", "canceled")]).await;
    assert_eq!(canceled.body["status"], "canceled", "{canceled:?}");
    assert_eq!(
        canceled.body["fallback"],
        offers_a_call_at(stack.clock.now())
    );
    assert_eq!(create(&stack, &phone, "call").await.status, 201);
}
