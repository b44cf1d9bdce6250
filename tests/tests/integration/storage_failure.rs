//! When DynamoDB fails, the answer is a retryable 503 that reveals nothing
//! internal, and no message was sent (Parse SDKs retry 5xx answers).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use integration_tests::{Function, Options, Stack, http_api_event, request_from, unique_phone};
use lambda_http::RequestExt;
use serde_json::json;

#[tokio::test]
async fn a_missing_table_gives_503_and_sends_nothing() {
    let stack = Stack::with_env(&[("VERIFICATIONS_TABLE", "no-such-table")]).await;
    let phone = unique_phone();

    for answer in [
        stack.send(&phone).await,
        stack.verify(&phone, "123456").await,
    ] {
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        assert_eq!(answer.body["code"], 1);
        assert_eq!(answer.reason(), "storage_unavailable");
        assert_eq!(answer.headers["retry-after"], "1");
        let text = answer.body.to_string();
        assert!(
            !text.contains("ResourceNotFound") && !text.contains("no-such-table"),
            "{text}"
        );
    }
    assert!(stack.messages().await.is_empty());
}

/// A stalled DynamoDB (it takes connections and never answers) used to hold
/// sends and checks for minutes. Every AWS call now has a timeout, so the
/// answer is a clean 503 in Parse format, well within the Lambda timeout.
#[tokio::test]
async fn a_stalled_dynamodb_gives_503_within_the_operation_timeout() {
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", black_hole.local_addr().unwrap());
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&held);
    tokio::spawn(async move {
        while let Ok((connection, _)) = black_hole.accept().await {
            keep.lock().await.push(connection); // never read, never answered
        }
    });
    let stack = Stack::start_with(Options {
        lambda_timeouts: true,
        ..Options::default()
    })
    .await;
    let stack = stack
        .redeployed_with(&[("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str())])
        .await;
    let phone = unique_phone();
    for name in ["send", "verify"] {
        let started = Instant::now();
        let answer = match name {
            "send" => stack.send(&phone).await,
            _ => stack.verify(&phone, "123456").await,
        };
        let took = started.elapsed();
        println!(
            "{name} against a stalled DynamoDB: {} after {took:?}",
            answer.status
        );
        assert_eq!(
            (answer.status, answer.reason()),
            (503, "storage_unavailable"),
            "{name}"
        );
        assert!(took < Duration::from_secs(5), "{name} took {took:?}");
    }
    assert!(stack.messages().await.is_empty());
}

/// A send whose invocation is about to end sends nothing: the caller would
/// be gone before Twilio answered. The code is withdrawn, and the 503 is
/// true: nothing was sent.
#[tokio::test]
async fn no_message_is_sent_too_close_to_the_deadline() {
    let stack = Stack::start().await; // Twilio timeout 1 s in these tests
    let phone = unique_phone();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = lambda_http::Context::default();
    context.deadline = now_ms + 1_000;
    let event = http_api_event(
        Function::Send,
        &json!({ "phoneNumber": phone }).to_string(),
        "application/json",
    );
    let request = request_from(&event).with_lambda_context(context);
    let answer = stack.call_request(Function::Send, request).await;
    assert_eq!(
        (answer.status, answer.reason()),
        (503, "delivery_unavailable")
    );
    assert!(stack.messages().await.is_empty());
    assert_eq!(
        stack.verify(&phone, "123456").await.reason(),
        "no_pending_verification"
    );
    assert_eq!(
        stack.send(&phone).await.status,
        200,
        "the cooldown was lifted"
    );
}
