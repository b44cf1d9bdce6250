//! AWS End User Messaging's delivery events (`POST /aws/events`), as Amazon
//! SNS delivers them, through the send handler and DynamoDB Local: a send
//! through an AWS fake puts the code's id and send time in the message's
//! `Context`; an event that echoes it, signed as SNS signs (RSA with the
//! fixture's key, its certificate served by a fake of SNS's host), withdraws
//! an undelivered code and lifts the cooldown. Forged, foreign, stale or
//! malformed deliveries change nothing, and neither does a replay.

use base64::Engine;
use integration_tests::{Answer, Options, Stack, code_in, unique_phone};
use num_bigint::BigUint;
use phone_verification::domain::Timestamp;
use phone_verification::ports::Clock;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::delivery_reports::{assert_withdrawn, post_body};

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:phone-verification-events";
const CERT_PATH: &str = "/SimpleNotificationService-0123456789abcdef.pem";
const CERT: &str = include_str!("../../fixtures/sns/cert.pem");
const KEY: &str = include_str!("../../fixtures/sns/signing-key.txt");

/// A stack sending every message through an AWS fake, taking the events of
/// `TOPIC` with SNS's host faked by the returned server.
async fn aws_stack() -> (Stack, MockServer, MockServer) {
    let (aws, sns) = fakes().await;
    let stack = stack_with(&aws, &sns.uri(), &[]).await;
    (stack, aws, sns)
}

/// AWS's fake, which takes every message, and SNS's, which serves the
/// certificate.
async fn fakes() -> (MockServer, MockServer) {
    let (aws, sns) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_json(json!({ "MessageId": "862a8790-60c0-4430-9b2b-658bdexample" })),
        )
        .mount(&aws)
        .await;
    Mock::given(method("GET"))
        .and(path(CERT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(CERT))
        .mount(&sns)
        .await;
    (aws, sns)
}

async fn stack_with(aws: &MockServer, sns_base: &str, more: &[(&'static str, String)]) -> Stack {
    Stack::start_with(Options {
        env: [
            ("DELIVERY_ROUTES", "*=aws".to_owned()),
            (
                "AWS_SMS_ORIGINATION_IDENTITY",
                "pool-0123456789abcdef".to_owned(),
            ),
            ("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2", aws.uri()),
            ("AWS_SMS_EVENTS_TOPIC_ARN", TOPIC.to_owned()),
            ("AWS_SNS_CERT_BASE", sns_base.to_owned()),
        ]
        .into_iter()
        .chain(more.iter().cloned())
        .collect(),
        ..Options::default()
    })
    .await
}

/// Sends a code through AWS: the code, and the `Context` AWS was given.
async fn send(stack: &Stack, aws: &MockServer, phone: &str) -> (String, Value) {
    assert_eq!(stack.send(phone).await.status, 200);
    last_sent(aws).await
}

/// The code and the `Context` of the last message AWS was given.
async fn last_sent(aws: &MockServer) -> (String, Value) {
    let requests = aws.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    let code = code_in(sent["MessageBody"].as_str().unwrap());
    let context = sent["Context"].clone();
    assert!(!context.to_string().contains(&code), "never the code");
    (code, context)
}

/// AWS End User Messaging's event of `event_type` about a message to `to`.
fn event(event_type: &str, to: &str, context: &Value) -> String {
    json!({
        "eventType": event_type, "eventVersion": "1.0", "eventTimestamp": 1_729_099_299_998u64,
        "isFinal": true, "originationPhoneNumber": "+18445550123", "destinationPhoneNumber": to,
        "isoCountryCode": "US", "messageId": "862a8790-60c0-4430-9b2b-658bdexample",
        "messageType": "TRANSACTIONAL", "messageStatus": event_type.trim_start_matches("TEXT_"),
        "context": context, "totalMessageParts": 1,
    })
    .to_string()
}

/// SNS's time format (milliseconds, UTC), `offset` seconds from the stack's now.
fn sns_time(stack: &Stack, offset: i64) -> String {
    let at = Timestamp::from_unix_seconds(stack.clock.now().unix_seconds() + offset);
    at.to_string().replace('Z', ".655Z")
}

/// An SNS notification of `message`, signed with `version`.
fn notification(stack: &Stack, sns: &MockServer, message: &str, version: &str) -> Value {
    signed(
        json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC,
            "Message": message,
            "Timestamp": sns_time(stack, -2),
            "SigningCertURL": format!("{}{CERT_PATH}", sns.uri()),
            "UnsubscribeURL": format!("{}/?Action=Unsubscribe", sns.uri()),
        }),
        version,
    )
}

/// `envelope` with `SignatureVersion` and the signature SNS would give it.
fn signed(mut envelope: Value, version: &str) -> Value {
    envelope["SignatureVersion"] = version.into();
    envelope["Signature"] = sign(&string_to_sign(&envelope), version).into();
    envelope
}

/// What SNS signs: each present field of the type's list, `name\nvalue\n`.
fn string_to_sign(envelope: &Value) -> String {
    let fields: &[&str] = match envelope["Type"].as_str().unwrap() {
        "Notification" => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        _ => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
    };
    fields
        .iter()
        .filter_map(|name| Some(format!("{name}\n{}\n", envelope[*name].as_str()?)))
        .collect()
}

/// RSASSA-PKCS1-v1_5 with the fixture's key: SHA1 for version 1, SHA256
/// for version 2, base64.
fn sign(text: &str, version: &str) -> String {
    const SHA1_INFO: [u8; 15] = [
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    const SHA256_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let number = |name: &str| {
        let hex = KEY
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap();
        BigUint::parse_bytes(hex.as_bytes(), 16).unwrap()
    };
    let (n, d) = (number("n="), number("d="));
    let mut digest = match version {
        "1" => SHA1_INFO.to_vec(),
        _ => SHA256_INFO.to_vec(),
    };
    match version {
        "1" => digest.extend(Sha1::digest(text.as_bytes())),
        _ => digest.extend(Sha256::digest(text.as_bytes())),
    }
    let length = n.to_bytes_be().len();
    let mut block = vec![0x00, 0x01];
    block.resize(length - digest.len() - 1, 0xff);
    block.push(0x00);
    block.extend(digest);
    let signature = BigUint::from_bytes_be(&block).modpow(&d, &n).to_bytes_be();
    let mut padded = vec![0; length - signature.len()];
    padded.extend(signature);
    base64::engine::general_purpose::STANDARD.encode(padded)
}

/// SNS's POST of `envelope` (JSON as text/plain, its headers).
async fn deliver(stack: &Stack, envelope: &Value) -> Answer {
    let kind = envelope["Type"].as_str().unwrap_or_default();
    let headers = [
        ("x-amz-sns-message-type", kind),
        ("x-amz-sns-topic-arn", TOPIC),
    ];
    let body = envelope.to_string();
    let content_type = "text/plain; charset=UTF-8";
    post_body(stack, "/aws/events", "", &body, content_type, &headers).await
}

/// How many times SNS's fake served `path`.
async fn fetches(sns: &MockServer, path: &str) -> usize {
    let requests = sns.received_requests().await.unwrap();
    requests.iter().filter(|r| r.url.path() == path).count()
}

/// `code` is still pending, and the cooldown still holds.
async fn assert_pending(stack: &Stack, phone: &str, code: &str) {
    assert_eq!(stack.send(phone).await.reason(), "resend_too_soon");
    assert_eq!(stack.verify(phone, code).await.status, 200);
}

#[tokio::test]
async fn a_signed_undelivered_event_withdraws_the_code_and_lifts_the_cooldown() {
    let (stack, aws, sns) = aws_stack().await;
    let phone = unique_phone();
    let (code, context) = send(&stack, &aws, &phone).await;
    assert!(stack.messages().await.is_empty(), "through AWS, not Twilio");
    assert_eq!(stack.send(&phone).await.reason(), "resend_too_soon");

    let blocked = notification(&stack, &sns, &event("TEXT_BLOCKED", &phone, &context), "2");
    let answer = deliver(&stack, &blocked).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["result"]["withdrawn"], true);
    assert_withdrawn(&stack, &phone, &code).await;
}

#[tokio::test]
async fn signature_versions_1_and_2_both_verify_and_the_certificate_is_fetched_once() {
    let (stack, aws, sns) = aws_stack().await;
    for (version, event_type) in [("1", "TEXT_CARRIER_UNREACHABLE"), ("2", "TEXT_TTL_EXPIRED")] {
        let phone = unique_phone();
        let (code, context) = send(&stack, &aws, &phone).await;
        let envelope = notification(&stack, &sns, &event(event_type, &phone, &context), version);
        let answer = deliver(&stack, &envelope).await;
        assert_eq!(
            answer.body["result"]["withdrawn"], true,
            "{version}: {answer:?}"
        );
        assert_withdrawn(&stack, &phone, &code).await;
    }
    assert_eq!(fetches(&sns, CERT_PATH).await, 1, "cached by URL");
}

#[tokio::test]
async fn a_delivered_event_or_a_call_that_rang_changes_nothing() {
    let (stack, aws, sns) = aws_stack().await;
    let phone = unique_phone();
    let (code, context) = send(&stack, &aws, &phone).await;
    for event_type in [
        "TEXT_DELIVERED",
        "TEXT_SUCCESSFUL",
        "TEXT_UNKNOWN",
        "VOICE_BUSY",
    ] {
        let envelope = notification(&stack, &sns, &event(event_type, &phone, &context), "2");
        let answer = deliver(&stack, &envelope).await;
        assert_eq!(answer.status, 200, "{event_type}: {answer:?}");
        assert_eq!(answer.body["result"]["withdrawn"], false, "{event_type}");
    }
    assert_pending(&stack, &phone, &code).await;
}

#[tokio::test]
async fn a_replayed_event_changes_nothing_more() {
    let (stack, aws, sns) = aws_stack().await;
    let phone = unique_phone();
    let (_, context) = send(&stack, &aws, &phone).await;
    let envelope = notification(&stack, &sns, &event("TEXT_SPAM", &phone, &context), "2");
    let first = deliver(&stack, &envelope).await;
    assert_eq!(first.body["result"]["withdrawn"], true, "{first:?}");

    // SNS's retry of the same delivery: nothing left to withdraw.
    let replayed = deliver(&stack, &envelope).await;
    assert_eq!(replayed.status, 200, "{replayed:?}");
    assert_eq!(replayed.body["result"]["withdrawn"], false);

    // Nor does it touch the code the user asked for since.
    let (code, _) = send(&stack, &aws, &phone).await;
    let replayed = deliver(&stack, &envelope).await;
    assert_eq!(replayed.body["result"]["withdrawn"], false);
    assert_pending(&stack, &phone, &code).await;
}

#[tokio::test]
async fn forged_foreign_stale_and_malformed_deliveries_are_refused_and_change_nothing() {
    let (stack, aws, sns) = aws_stack().await;
    let phone = unique_phone();
    let (code, context) = send(&stack, &aws, &phone).await;
    let message = event("TEXT_BLOCKED", &phone, &context);
    let good = notification(&stack, &sns, &message, "2");
    let tampered = |change: &dyn Fn(&mut Value)| {
        let mut envelope = good.clone();
        change(&mut envelope);
        envelope
    };
    let resigned = |change: &dyn Fn(&mut Value)| signed(tampered(change), "2");
    let other_host = "https://sns.us-east-1.amazonaws.com.example.com/cert.pem";
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "another message under the signature",
            tampered(&|e| e["Message"] = event("TEXT_BLOCKED", "+14155550100", &context).into()),
            403,
            "invalid_signature",
        ),
        (
            "another date under the signature",
            tampered(&|e| e["Timestamp"] = sns_time(&stack, -3).into()),
            403,
            "invalid_signature",
        ),
        (
            "signed with SHA1 but said SHA256",
            tampered(&|e| e["Signature"] = signed(good.clone(), "1")["Signature"].clone()),
            403,
            "invalid_signature",
        ),
        (
            "an unknown signature version",
            tampered(&|e| e["SignatureVersion"] = "3".into()),
            403,
            "invalid_signature",
        ),
        (
            "not base64",
            tampered(&|e| e["Signature"] = "not base64!".into()),
            403,
            "invalid_signature",
        ),
        (
            "a certificate on another host",
            resigned(&|e| e["SigningCertURL"] = other_host.into()),
            403,
            "invalid_signature",
        ),
        (
            "a certificate over plain http elsewhere",
            resigned(&|e| {
                let url = format!("{}{CERT_PATH}", sns.uri()).replace("127.0.0.1", "localhost");
                e["SigningCertURL"] = url.into();
            }),
            403,
            "invalid_signature",
        ),
        (
            "not a .pem",
            resigned(&|e| e["SigningCertURL"] = format!("{}/cert.txt", sns.uri()).into()),
            403,
            "invalid_signature",
        ),
        (
            "a certificate SNS does not have",
            resigned(&|e| e["SigningCertURL"] = format!("{}/other.pem", sns.uri()).into()),
            403,
            "invalid_signature",
        ),
        (
            "another topic, signed",
            resigned(&|e| e["TopicArn"] = TOPIC.replace("events", "other").into()),
            403,
            "unknown_topic",
        ),
        (
            "two hours old",
            resigned(&|e| e["Timestamp"] = sns_time(&stack, -7_200).into()),
            400,
            "stale_delivery_report",
        ),
        (
            "ten minutes ahead",
            resigned(&|e| e["Timestamp"] = sns_time(&stack, 600).into()),
            400,
            "stale_delivery_report",
        ),
        (
            "no date",
            resigned(&|e| e["Timestamp"] = "yesterday".into()),
            400,
            "invalid_delivery_report",
        ),
        (
            "an undelivered event without our context",
            resigned(&|e| e["Message"] = event("TEXT_BLOCKED", &phone, &json!({})).into()),
            400,
            "invalid_delivery_report",
        ),
        (
            "not an SNS delivery",
            json!({ "eventType": "TEXT_BLOCKED" }),
            400,
            "invalid_delivery_report",
        ),
    ];
    for (case, envelope, status, reason) in cases {
        let answer = deliver(&stack, &envelope).await;
        assert_eq!((answer.status, answer.reason()), (status, reason), "{case}");
    }
    let not_json = post_body(
        &stack,
        "/aws/events",
        "",
        "Type=Notification",
        "text/plain",
        &[],
    );
    assert_eq!(not_json.await.reason(), "invalid_delivery_report");
    let fetched: Vec<String> = sns
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(
        fetched.iter().all(|p| p == CERT_PATH || p == "/other.pem"),
        "only .pem paths on SNS's host: {fetched:?}"
    );
    assert_pending(&stack, &phone, &code).await;
}

#[tokio::test]
async fn a_subscription_confirmation_is_confirmed_once_on_sns_host_only() {
    let (stack, _aws, sns) = aws_stack().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .and(query_param("Action", "ConfirmSubscription"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>",
        ))
        .mount(&sns)
        .await;
    let confirmation = |subscribe_url: String| {
        signed(
            json!({
                "Type": "SubscriptionConfirmation",
                "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
                "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
                "TopicArn": TOPIC,
                "Message": format!("You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
                "SubscribeURL": subscribe_url,
                "Timestamp": sns_time(&stack, -1),
                "SigningCertURL": format!("{}{CERT_PATH}", sns.uri()),
            }),
            "2",
        )
    };
    let query = format!("?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37");
    let answer = deliver(&stack, &confirmation(format!("{}/{query}", sns.uri()))).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["result"]["confirmed"], true);
    assert_eq!(fetches(&sns, "/").await, 1);

    // Signed, but it would have us call another host: never called.
    let elsewhere = MockServer::start().await;
    let foreign = confirmation(format!("{}/{query}", elsewhere.uri()));
    let answer = deliver(&stack, &foreign).await;
    assert_eq!((answer.status, answer.reason()), (403, "invalid_signature"));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert_eq!(fetches(&sns, "/").await, 1);

    let mut unsubscribed = confirmation(format!("{}/{query}", sns.uri()));
    unsubscribed["Type"] = "UnsubscribeConfirmation".into();
    let answer = deliver(&stack, &signed(unsubscribed, "2")).await;
    assert_eq!(answer.body["result"]["unsubscribed"], true, "{answer:?}");
    assert_eq!(fetches(&sns, "/").await, 1, "only logged");
}

#[tokio::test]
async fn an_undelivered_event_of_another_verify_service_withdraws_its_code() {
    const SHOP_SID: &str = "VAfedcba9876543210fedcba9876543210";
    let (aws, sns) = fakes().await;
    let shop = ("VERIFY_SERVICES", format!("{SHOP_SID}|Shop|8|sms"));
    let stack = stack_with(&aws, &sns.uri(), &[shop]).await;
    let phone = unique_phone();
    let verifications = format!("/v2/Services/{SHOP_SID}/Verifications");
    let form = [("To", phone.as_str()), ("Channel", "sms")];
    let create = || stack.twilio_verify("POST", &verifications, &form);
    let created = create().await;
    assert_eq!(created.status, 201, "{created:?}");
    let (code, context) = last_sent(&aws).await;
    assert_eq!(code.len(), 8, "the shop's code");
    assert_eq!(context["service"], SHOP_SID);

    let blocked = event("TEXT_BLOCKED", &phone, &context);
    let answer = deliver(&stack, &notification(&stack, &sns, &blocked, "2")).await;
    assert_eq!(answer.body["result"]["withdrawn"], true, "{answer:?}");
    assert_eq!(create().await.status, 201, "the shop's cooldown is lifted");

    // Signed, but naming a service the stack does not serve.
    let mut unknown = context.clone();
    unknown["service"] = "VA00000000000000000000000000000000".into();
    let blocked = event("TEXT_BLOCKED", &phone, &unknown);
    let refused = deliver(&stack, &notification(&stack, &sns, &blocked, "2")).await;
    assert_eq!(
        (refused.status, refused.reason()),
        (400, "invalid_delivery_report")
    );
}

#[tokio::test]
async fn an_unreachable_certificate_changes_nothing_and_asks_sns_to_retry() {
    let aws = MockServer::start().await;
    // Nothing listens there: refused at once.
    let stack = stack_with(&aws, "http://127.0.0.1:9", &[]).await;
    let sns_base = "http://127.0.0.1:9";
    let mut envelope = json!({
        "Type": "Notification", "MessageId": "m", "TopicArn": TOPIC,
        "Message": event("TEXT_BLOCKED", "+14155550123", &json!({})),
        "Timestamp": sns_time(&stack, 0), "SigningCertURL": format!("{sns_base}{CERT_PATH}"),
    });
    envelope = signed(envelope, "2");
    let answer = deliver(&stack, &envelope).await;
    assert_eq!(
        (answer.status, answer.reason()),
        (503, "delivery_report_unverifiable")
    );
}

#[tokio::test]
async fn events_are_refused_when_no_topic_is_configured() {
    let stack = Stack::start().await;
    let sns = MockServer::start().await;
    let envelope = notification(
        &stack,
        &sns,
        &event("TEXT_BLOCKED", "+14155550123", &json!({})),
        "2",
    );
    let answer = deliver(&stack, &envelope).await;
    assert_eq!(
        (answer.status, answer.reason()),
        (404, "delivery_reports_disabled")
    );
}
