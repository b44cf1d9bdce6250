//! `Idempotency-Key` on send: a retried request gets the first answer and no
//! second SMS.

use std::sync::Arc;

use integration_tests::{Function, Options, Stack, http_api_event, unique_phone};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use wiremock::ResponseTemplate;
use wiremock::matchers::method;

async fn send_with_key(stack: &Stack, phone: &str, key: &str) -> integration_tests::Answer {
    stack
        .call(
            Function::Send,
            json!({ "phoneNumber": phone, "idempotencyKey": key }),
        )
        .await
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_answer_and_no_second_sms() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    let first = send_with_key(&stack, &phone, "signup-42").await;
    assert_eq!(first.status, 200);
    stack.clock.advance(5);
    let retry = send_with_key(&stack, &phone, "signup-42").await;
    assert_eq!(retry.status, 200, "not resend_too_soon: {:?}", retry.body);
    assert_eq!(retry.body, first.body);
    assert_eq!(stack.messages().await.len(), 1);

    // Without the key, the cooldown applies as usual.
    let plain = stack.send(&phone).await;
    assert_eq!(plain.reason(), "resend_too_soon");
}

#[tokio::test]
async fn the_key_may_come_as_a_header_and_is_scoped_to_the_number() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    let mut event: Value = serde_json::from_str(&http_api_event(
        Function::Send,
        &json!({ "phoneNumber": phone }).to_string(),
        "application/json",
    ))
    .unwrap();
    event["headers"]["idempotency-key"] = "header-key".into();
    let first = stack.call_event(Function::Send, &event.to_string()).await;
    let again = stack.call_event(Function::Send, &event.to_string()).await;
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(stack.messages().await.len(), 1);

    let other = send_with_key(&stack, &unique_phone(), "header-key").await;
    assert_eq!(other.status, 200);
    assert_eq!(
        stack.messages().await.len(),
        2,
        "another number is another request"
    );
}

#[tokio::test]
async fn a_failed_first_attempt_does_not_block_the_retry() {
    let stack = Stack::start_with(Options {
        twilio_accepts: false,
        ..Options::default()
    })
    .await;
    let phone = unique_phone();
    wiremock::Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&stack.twilio)
        .await;
    integration_tests::twilio_accepts_messages(&stack.twilio).await;

    assert_eq!(send_with_key(&stack, &phone, "k1").await.status, 503);
    let retry = send_with_key(&stack, &phone, "k1").await;
    assert_eq!(retry.status, 200, "{:?}", retry.body);
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

#[tokio::test]
async fn invalid_keys_are_refused() {
    let stack = Stack::start().await;
    for key in [String::new(), "has space".into(), "x".repeat(256)] {
        let answer = send_with_key(&stack, &unique_phone(), &key).await;
        assert_eq!(answer.status, 400, "{key:?}");
        assert_eq!(answer.reason(), "invalid_idempotency_key");
    }
    assert!(stack.messages().await.is_empty());
}

/// Found by schemathesis: a valid header used to hide an invalid parameter.
#[tokio::test]
async fn a_header_and_a_parameter_must_agree() {
    let stack = Stack::start().await;
    for (header, parameter) in [("good-key", "has space"), ("key-one", "key-two")] {
        let body = json!({ "phoneNumber": unique_phone(), "idempotencyKey": parameter });
        let mut event: Value = serde_json::from_str(&http_api_event(
            Function::Send,
            &body.to_string(),
            "application/json",
        ))
        .unwrap();
        event["headers"]["idempotency-key"] = header.into();
        let answer = stack.call_event(Function::Send, &event.to_string()).await;
        assert_eq!(answer.reason(), "invalid_idempotency_key", "{parameter}");
    }
    assert!(stack.messages().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_parallel_retries_send_one_message() {
    let stack = Arc::new(Stack::start().await);
    let phone = unique_phone();
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let (stack, phone) = (Arc::clone(&stack), phone.clone());
        tasks.spawn(async move { send_with_key(&stack, &phone, "double-tap").await });
    }
    let answers = tasks.join_all().await;
    assert_eq!(stack.messages().await.len(), 1);
    for answer in &answers {
        assert!(
            answer.status == 200 || answer.reason() == "idempotency_key_in_use",
            "{answer:?}"
        );
    }
}
