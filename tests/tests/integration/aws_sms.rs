//! The AWS End User Messaging adapter against a fake of
//! `sms-voice.<region>.amazonaws.com` that speaks its wire format (awsJson
//! 1.0: `POST /`, `X-Amz-Target`, JSON bodies, `__type` errors): the exact
//! request, one request per send whatever the answer (the client never
//! retries), and which failures are certain and which may have sent.

use std::time::{Duration, Instant};

use aws_sdk_pinpointsmsvoicev2::config::{Credentials, Region};
use phone_verification::adapters::aws_sms::{AwsSmsConfig, AwsSmsSender};
use phone_verification::domain::Channel;
use phone_verification::ports::{
    DeliveryError, Handover, MessageSender, OutgoingMessage, RecipientProblem, Speech,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const POOL: &str = "arn:aws:sms-voice:us-east-1:111122223333:pool/pool-0123456789abcdef";
const SEND_TEXT: &str = "PinpointSMSVoiceV2.SendTextMessage";
const SEND_VOICE: &str = "PinpointSMSVoiceV2.SendVoiceMessage";

/// A sender whose SDK talks to `endpoint` in us-east-1, with static
/// credentials, as the functions build theirs (shared HTTP client).
async fn sender_to(endpoint: &str, timeout: Duration) -> AwsSmsSender {
    sender_in(Some(Region::new("us-east-1")), endpoint, timeout).await
}

async fn sender_in(region: Option<Region>, endpoint: &str, timeout: Duration) -> AwsSmsSender {
    let sdk = integration_tests::aws_config()
        .region(region)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .load()
        .await;
    AwsSmsSender::new(
        &sdk,
        AwsSmsConfig {
            origination_identity: POOL.into(),
            configuration_set: Some("otp".into()),
            protect_configuration_id: Some("protect-0123456789abcdef".into()),
            voice_id: None,
            time_to_live: Some(Duration::from_secs(600)),
            timeout,
        },
    )
}

fn message(channel: Channel) -> OutgoingMessage {
    let speech = Speech {
        language: "fr-FR".into(),
        voice: "Polly.Lea".into(),
        intro: "Votre code de vérification est".into(),
        digits: "4, 8, 2, 9, 1, 3".into(),
        repeat: "Je répète : <votre> code est".into(),
    };
    integration_tests::outgoing_message(channel, "Your verification code is 482913.", speech)
}

/// A fake that answers `target` with `response`, on awsJson 1.0 only.
async fn aws_answering(target: &str, response: ResponseTemplate) -> MockServer {
    let aws = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", target))
        .and(header("content-type", "application/x-amz-json-1.0"))
        .respond_with(response)
        .mount(&aws)
        .await;
    aws
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .set_body_json(json!({ "MessageId": "862a8790-60c0-4430-9b2b-658bdexample" }))
}

/// An error as AWS sends it: `__type` (with its namespace) and members.
fn aws_error(status: u16, error_type: &str, members: Value) -> ResponseTemplate {
    let mut body = json!({
        "__type": format!("com.amazonaws.pinpointsmsvoicev2#{error_type}"),
        "message": "Destination +14155550123 cannot receive this message",
    });
    body.as_object_mut()
        .unwrap()
        .extend(members.as_object().unwrap().clone());
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .set_body_json(body)
}

async fn the_only_request(aws: &MockServer) -> Request {
    let mut requests = aws.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request per send");
    requests.pop().unwrap()
}

fn header_of<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn an_sms_is_one_signed_transactional_send_text_message() {
    let aws = aws_answering(SEND_TEXT, accepted()).await;
    let sender = sender_to(&aws.uri(), Duration::from_secs(5)).await;
    let sms = message(Channel::Sms);
    assert_eq!(sender.send(&sms).await, Ok(Handover::Accepted));

    let request = the_only_request(&aws).await;
    let authorization = header_of(&request, "authorization");
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=test/")
            && authorization.contains("/us-east-1/sms-voice/aws4_request"),
        "{authorization}"
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "DestinationPhoneNumber": "+14155550123",
            "OriginationIdentity": POOL,
            "MessageBody": "Your verification code is 482913.",
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": "otp",
            "TimeToLive": 600,
            "Context": {
                "verification": sms.verification_id.as_str(),
                "sent_at": "1800000000",
            },
            "ProtectConfigurationId": "protect-0123456789abcdef",
        })
    );
}

#[tokio::test]
async fn a_call_reads_an_ssml_script_with_the_digits_twice() {
    let aws = aws_answering(SEND_VOICE, accepted()).await;
    let sender = sender_to(&aws.uri(), Duration::from_secs(5)).await;
    assert_eq!(
        sender.send(&message(Channel::Call)).await,
        Ok(Handover::Accepted)
    );

    let request = the_only_request(&aws).await;
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["DestinationPhoneNumber"], "+14155550123");
    assert_eq!(body["OriginationIdentity"], POOL);
    assert_eq!(body["MessageBodyTextType"], "SSML");
    assert_eq!(body["VoiceId"], "LEA");
    assert_eq!(body["ConfigurationSetName"], "otp");
    assert!(body.get("MessageType").is_none(), "{body}");
    let script = body["MessageBody"].as_str().unwrap();
    let ssml = roxmltree::Document::parse(script).expect("well-formed SSML");
    assert_eq!(ssml.root_element().tag_name().name(), "speak");
    let read: Vec<&str> = ssml
        .descendants()
        .filter(|node| node.has_tag_name("prosody"))
        .filter_map(|node| node.text())
        .collect();
    assert_eq!(read, ["4, 8, 2, 9, 1, 3", "4, 8, 2, 9, 1, 3"]);
    let text: String = ssml.descendants().filter_map(|node| node.text()).collect();
    assert!(text.contains("Je répète : <votre> code est"), "{text}");
}

/// Each answer AWS may give, what it means, and that it took one request
/// (the SDK would retry throttling and 500s three times by default).
#[tokio::test]
async fn every_answer_is_one_request_and_only_certain_failures_are_errors() {
    let cases = [
        (
            aws_error(400, "ThrottlingException", json!({})),
            Err("Unavailable"),
        ),
        (
            aws_error(
                500,
                "InternalServerException",
                json!({ "RequestId": "r-1" }),
            ),
            Ok(Handover::Unconfirmed),
        ),
        (
            aws_error(
                400,
                "ConflictException",
                json!({ "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "ResourceType": "opt-out-list", "ResourceId": "Default" }),
            ),
            Err("OptedOut"),
        ),
        (
            aws_error(
                400,
                "ValidationException",
                json!({ "Reason": "DESTINATION_COUNTRY_BLOCKED" }),
            ),
            Err("Unreachable"),
        ),
        (
            aws_error(
                400,
                "ValidationException",
                json!({ "Reason": "INVALID_PARAMETER", "Fields": [{ "Name": "DestinationPhoneNumber", "Message": "invalid" }] }),
            ),
            Err("InvalidNumber"),
        ),
        (
            aws_error(
                400,
                "ValidationException",
                json!({ "Reason": "SENDER_ID_NOT_REGISTERED" }),
            ),
            Err("Misconfigured"),
        ),
        (
            aws_error(400, "AccessDeniedException", json!({})),
            Err("Misconfigured"),
        ),
        (
            aws_error(
                400,
                "ServiceQuotaExceededException",
                json!({ "Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT" }),
            ),
            Err("Misconfigured"),
        ),
    ];
    for (response, expected) in cases {
        let aws = aws_answering(SEND_TEXT, response).await;
        let sender = sender_to(&aws.uri(), Duration::from_secs(5)).await;
        let outcome = sender.send(&message(Channel::Sms)).await;
        let kind = match &outcome {
            Ok(handover) => Ok(*handover),
            Err(DeliveryError::Recipient(RecipientProblem::OptedOut)) => Err("OptedOut"),
            Err(DeliveryError::Recipient(RecipientProblem::Unreachable)) => Err("Unreachable"),
            Err(DeliveryError::Recipient(RecipientProblem::InvalidNumber)) => Err("InvalidNumber"),
            Err(DeliveryError::Recipient(RecipientProblem::CannotReceive)) => Err("CannotReceive"),
            Err(DeliveryError::Misconfigured(_)) => Err("Misconfigured"),
            Err(DeliveryError::Unavailable(_)) => Err("Unavailable"),
        };
        assert_eq!(kind, expected, "{outcome:?}");
        // The refusal names AWS's code, never its message (the number).
        if let Err(DeliveryError::Misconfigured(text) | DeliveryError::Unavailable(text)) = &outcome
        {
            assert!(text.contains("Exception"), "{text}");
            assert!(!text.contains("4155550123"), "{text}");
        }
        the_only_request(&aws).await;
    }
}

#[tokio::test]
async fn no_answer_in_time_may_have_sent_and_is_not_retried() {
    let aws = aws_answering(SEND_TEXT, accepted().set_delay(Duration::from_secs(3))).await;
    let sender = sender_to(&aws.uri(), Duration::from_millis(300)).await;
    let started = Instant::now();
    assert_eq!(
        sender.send(&message(Channel::Sms)).await,
        Ok(Handover::Unconfirmed)
    );
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    the_only_request(&aws).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_certain_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let sender = sender_to(&endpoint, Duration::from_secs(5)).await;
    let outcome = sender.send(&message(Channel::Sms)).await;
    assert!(
        matches!(outcome, Err(DeliveryError::Unavailable(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn whatsapp_is_refused_without_a_request() {
    let aws = aws_answering(SEND_TEXT, accepted()).await;
    let sender = sender_to(&aws.uri(), Duration::from_secs(5)).await;
    let outcome = sender.send(&message(Channel::Whatsapp)).await;
    assert!(
        matches!(outcome, Err(DeliveryError::Misconfigured(_))),
        "{outcome:?}"
    );
    assert!(aws.received_requests().await.unwrap().is_empty());
}

/// Without a region the request cannot be signed: it never leaves, and
/// that is the operator's to fix, not a message that may have gone.
#[tokio::test]
async fn a_request_that_cannot_be_signed_is_never_sent() {
    let aws = aws_answering(SEND_TEXT, accepted()).await;
    let sender = sender_in(None, &aws.uri(), Duration::from_secs(5)).await;
    let outcome = sender.send(&message(Channel::Sms)).await;
    assert!(
        matches!(outcome, Err(DeliveryError::Misconfigured(_))),
        "{outcome:?}"
    );
    assert!(aws.received_requests().await.unwrap().is_empty());
}
