//! Failover between providers through the real send handler and DynamoDB
//! Local, with fakes speaking Twilio's and Plivo's wire formats: a send goes
//! to the second provider of its route only when the first certainly did not
//! take it, so each accepted send reaches exactly one provider. Each case
//! counts the requests each fake received and checks the client's answer.

use std::time::Duration;

use integration_tests::{MESSAGES_PATH, Options, Stack, plivo_fake, unique_phone};
use serde_json::json;
use tokio::io::AsyncReadExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A stack routing every message to Twilio, then Plivo; Twilio answers
/// `twilio` (unless `twilio_base` points it elsewhere), Plivo accepts.
async fn twilio_thenplivo(
    twilio: Option<ResponseTemplate>,
    twilio_base: Option<String>,
) -> (Stack, MockServer) {
    let (plivo, mut env) = plivo_fake().await;
    env.push(("DELIVERY_ROUTES", "*=twilio,plivo".to_owned()));
    env.push(("PLIVO_TIMEOUT_MS", "1000".to_owned()));
    env.extend(twilio_base.map(|base| ("TWILIO_API_BASE", base)));
    let stack = Stack::start_with(Options {
        env,
        twilio_accepts: false,
        ..Options::default()
    })
    .await;
    if let Some(answer) = twilio {
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .respond_with(answer)
            .mount(&stack.twilio)
            .await;
    }
    (stack, plivo)
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

fn twilio_error(status: u16, code: u32) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code, "message": "refused", "more_info": "", "status": status,
    }))
}

fn twilio_accepted() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
    }))
}

/// The provider a number's current code is stored with.
async fn stored_provider(stack: &Stack, phone: &str) -> Option<String> {
    let item = stack.stored_item(phone).await.expect("the number's item");
    item.get("provider")
        .map(|value| value.as_s().unwrap().clone())
}

/// Approvals are counted per provider (conversion per provider and
/// country): the code remembers the route's first provider, and the one
/// that really sent it after a failover.
#[tokio::test]
async fn a_code_remembers_which_provider_sent_it() {
    let (stack, _plivo) = twilio_thenplivo(Some(twilio_accepted()), None).await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    assert_eq!(
        stored_provider(&stack, &phone).await.as_deref(),
        Some("twilio")
    );

    let (stack, _plivo) = twilio_thenplivo(Some(twilio_error(503, 20500)), None).await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    assert_eq!(
        stored_provider(&stack, &phone).await.as_deref(),
        Some("plivo")
    );
}

#[tokio::test]
async fn certain_failures_fail_over_and_the_code_arrives_once_through_plivo() {
    for (case, twilio) in [
        ("503 before acceptance", twilio_error(503, 20500)),
        ("429 throttled", twilio_error(429, 20429)),
        ("401 our credentials", twilio_error(401, 20003)),
    ] {
        let (stack, plivo) = twilio_thenplivo(Some(twilio), None).await;
        let answer = stack.send(&unique_phone()).await;
        assert_eq!(answer.status, 200, "{case}: {answer:?}");
        assert_eq!(received(&stack.twilio).await, 1, "{case}");
        assert_eq!(
            received(&plivo).await,
            1,
            "{case}: exactly one message through Plivo"
        );
        let sent: serde_json::Value =
            serde_json::from_slice(&plivo.received_requests().await.unwrap()[0].body).unwrap();
        assert!(
            sent["url"]
                .as_str()
                .is_some_and(|url| url.starts_with("https://api.example.com/plivo/status?")),
            "{case}: Plivo reports to its own route: {sent}"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_fails_over() {
    // Nothing listens on the discard port: Twilio never saw the request.
    let (stack, plivo) = twilio_thenplivo(None, Some("http://127.0.0.1:9".into())).await;
    let answer = stack.send(&unique_phone()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(received(&plivo).await, 1);
}

#[tokio::test]
async fn a_timeout_after_the_request_was_written_never_sends_a_second_code() {
    let slow = twilio_accepted().set_delay(Duration::from_millis(1_500));
    let (stack, plivo) = twilio_thenplivo(Some(slow), None).await;
    let answer = stack.send(&unique_phone()).await;
    assert_eq!(
        answer.status, 200,
        "maybe sent: the code stays valid: {answer:?}"
    );
    assert_eq!(received(&stack.twilio).await, 1);
    assert_eq!(
        received(&plivo).await,
        0,
        "no second provider for a maybe-sent code"
    );
}

#[tokio::test]
async fn a_reset_after_the_request_was_written_never_sends_a_second_code() {
    // A "Twilio" that reads the request, then drops the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let resets = tokio::spawn(async move {
        let (mut connection, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let read = connection.read(&mut request).await.unwrap();
        assert!(read > 0, "the request was written");
        drop(connection);
    });
    let (stack, plivo) = twilio_thenplivo(None, Some(format!("http://{address}"))).await;
    let answer = stack.send(&unique_phone()).await;
    resets.await.unwrap();
    assert_eq!(answer.status, 200, "maybe sent: {answer:?}");
    assert_eq!(received(&plivo).await, 0);
}

#[tokio::test]
async fn a_recipients_refusal_is_not_sent_around_by_another_provider() {
    // 21610: the recipient replied STOP.
    let (stack, plivo) = twilio_thenplivo(Some(twilio_error(400, 21610)), None).await;
    let answer = stack.send(&unique_phone()).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(received(&plivo).await, 0);
}

#[tokio::test]
async fn after_five_failures_the_dead_provider_is_skipped_and_each_code_still_arrives_once() {
    let (stack, plivo) = twilio_thenplivo(Some(twilio_error(503, 20500)), None).await;
    for _ in 0..8 {
        let answer = stack.send(&unique_phone()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    assert_eq!(
        received(&stack.twilio).await,
        5,
        "the circuit opened after 5 failures"
    );
    assert_eq!(received(&plivo).await, 8, "every code through Plivo, once");
}

#[tokio::test]
async fn when_every_provider_fails_the_client_gets_a_503_and_can_ask_again() {
    let (stack, plivo) = twilio_thenplivo(Some(twilio_error(503, 20500)), None).await;
    let down = ResponseTemplate::new(503).set_body_json(json!({"api_id": "x", "error": "down"}));
    plivo.reset().await;
    Mock::given(method("POST"))
        .respond_with(down)
        .mount(&plivo)
        .await;
    let phone = unique_phone();
    let answer = stack.send(&phone).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.reason(), "delivery_unavailable");
    // Nothing was sent, so nothing holds the user back.
    plivo.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"message_uuid": ["u"]})))
        .mount(&plivo)
        .await;
    assert_eq!(stack.send(&phone).await.status, 200);
}
