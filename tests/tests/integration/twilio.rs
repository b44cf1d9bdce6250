//! The Twilio adapter: its request is valid under Twilio's official OpenAPI
//! spec (served by Prism), and every kind of Twilio error gets a clear answer
//! that leaves the user free to retry.

use secrecy::SecretBox;
use std::time::Duration;

use integration_tests::{ACCOUNT_SID, AUTH_TOKEN, MESSAGES_PATH, Options, Stack, unique_phone};
use phone_verification::adapters::twilio::{
    TwilioConfig, TwilioCredentials, TwilioSender, TwilioSenderId,
};
use phone_verification::domain::Channel;
use phone_verification::ports::{
    Content, Handover, MessageSender, OutgoingMessage, Speech, StatusCallbacks,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn prism_url() -> String {
    std::env::var("TWILIO_PRISM_URL").expect(
        "TWILIO_PRISM_URL is not set: run the tests with scripts/test.sh, which starts Prism \
         with Twilio's OpenAPI spec",
    )
}

fn sender_to(api_base: String, sender: TwilioSenderId) -> TwilioSender {
    TwilioSender::new(TwilioConfig {
        api_base,
        account_sid: ACCOUNT_SID.into(),
        credentials: TwilioCredentials {
            username: ACCOUNT_SID.into(),
            password: AUTH_TOKEN.into(),
        },
        sender,
        voice_from: Some("+15005550006".into()),
        whatsapp_from: Some("+14155238886".into()),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

const CONTENT_SID: &str = "HX0123456789abcdef0123456789abcdef";

/// A WhatsApp message as an approved authentication template.
fn whatsapp_template() -> OutgoingMessage {
    OutgoingMessage {
        answer_by: None,
        content: SecretBox::new(Box::new(Content::Template {
            sid: CONTENT_SID.into(),
            code: "123456".into(),
        })),
        ..message(Channel::Whatsapp)
    }
}

fn message(channel: Channel) -> OutgoingMessage {
    let speech = Speech {
        language: "en-US".into(),
        voice: "Polly.Joanna".into(),
        intro: "Your verification code is".into(),
        digits: "1, 2, 3, 4, 5, 6".into(),
        repeat: "Once again, your code is".into(),
    };
    OutgoingMessage {
        answer_by: None,
        status_callbacks: StatusCallbacks {
            twilio: Some("https://api.example.com/twilio/status".into()),
            ..Default::default()
        },
        ..integration_tests::outgoing_message(channel, "Your verification code is 123456.", speech)
    }
}

#[tokio::test]
async fn our_request_is_valid_under_twilios_openapi_spec() {
    for sender in [
        TwilioSenderId::From("+15005550006".into()),
        TwilioSenderId::MessagingService("MG0123456789abcdef0123456789abcdef".into()),
    ] {
        let result = sender_to(prism_url(), sender.clone())
            .send(&message(Channel::Sms))
            .await;
        assert_eq!(
            result,
            Ok(Handover::Accepted),
            "Prism refused the request with {sender:?}"
        );
    }
    let sender = sender_to(prism_url(), TwilioSenderId::From("+15005550006".into()));
    for channel in [Channel::Call, Channel::Whatsapp] {
        let result = sender.send(&message(channel)).await;
        assert_eq!(
            result,
            Ok(Handover::Accepted),
            "Prism refused the {channel:?} request"
        );
    }
    assert_eq!(
        sender.send(&whatsapp_template()).await,
        Ok(Handover::Accepted),
        "Prism refused the WhatsApp template (ContentSid, ContentVariables)"
    );
}

#[tokio::test]
async fn prism_really_rejects_requests_that_break_the_spec() {
    // Negative controls: without them the test above could pass vacuously.
    let http = phone_verification::adapters::https::client_builder()
        .build()
        .unwrap();
    let url = format!("{}{MESSAGES_PATH}", prism_url());
    let no_to = http
        .post(&url)
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .form(&[("From", "+15005550006"), ("Body", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_to.status(), 422);
    let no_auth = http
        .post(&url)
        .form(&[
            ("To", "+14155550123"),
            ("From", "+15005550006"),
            ("Body", "hi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    let json_body = http
        .post(&url)
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .json(&json!({ "To": "+14155550123", "From": "+15005550006", "Body": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 415);
    let call_without_from = http
        .post(url.replace("Messages.json", "Calls.json"))
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .form(&[("To", "+14155550123"), ("Twiml", "<Response/>")])
        .send()
        .await
        .unwrap();
    assert_eq!(call_without_from.status(), 422);
    // The spec constrains ContentSid (HX and 32 hex digits): Prism checks it.
    let bad_content_sid = http
        .post(&url)
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .form(&[
            ("To", "whatsapp:+14155550123"),
            ("From", "whatsapp:+14155238886"),
            ("ContentSid", "HX0123"),
            ("ContentVariables", r#"{"1":"123456"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_content_sid.status(), 422);
}

/// The exact request of a WhatsApp template: WhatsApp addresses, the
/// template's SID, the code as its one variable, and no free text.
#[tokio::test]
async fn a_whatsapp_template_is_sent_as_content_sid_and_variables_only() {
    let twilio = MockServer::start().await;
    integration_tests::twilio_accepts_messages(&twilio).await;
    let sender = sender_to(twilio.uri(), TwilioSenderId::From("+15005550006".into()));
    assert_eq!(
        sender.send(&whatsapp_template()).await,
        Ok(Handover::Accepted)
    );
    let requests = twilio.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url.path(), MESSAGES_PATH);
    let form: Vec<(String, String)> = form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    let names: Vec<&str> = form.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "To",
            "From",
            "ContentSid",
            "ContentVariables",
            "StatusCallback"
        ]
    );
    let field = |name: &str| &form.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(field("To"), "whatsapp:+14155550123");
    assert_eq!(field("From"), "whatsapp:+14155238886");
    assert_eq!(field("ContentSid"), CONTENT_SID);
    let variables: serde_json::Value = serde_json::from_str(field("ContentVariables")).unwrap();
    assert_eq!(variables, json!({ "1": "123456" }));
}

/// A stack whose Twilio answers every message with `response`.
async fn stack_where_twilio_answers(response: ResponseTemplate) -> Stack {
    let stack = Stack::start_with(Options {
        env: vec![("TWILIO_TIMEOUT_MS", "300".into())],
        twilio_accepts: false,
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(response)
        .mount(&stack.twilio)
        .await;
    stack
}

fn twilio_error(status: u16, code: u32) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code,
        "message": "The 'To' number +14155550123 is not a valid phone number.",
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status
    }))
}

#[tokio::test]
async fn each_twilio_failure_has_its_answer_and_withdraws_the_code() {
    let cases = [
        (twilio_error(400, 21211), 400, "recipient_invalid", None),
        (
            twilio_error(400, 21614),
            400,
            "recipient_cannot_receive",
            None,
        ),
        (twilio_error(400, 21612), 400, "recipient_unreachable", None),
        (twilio_error(400, 21610), 400, "recipient_opted_out", None),
        // Recipient-side refusals a client can provoke never become a 500
        // (and an operator alarm): To equals From, a blocked call, an
        // unknown code.
        (twilio_error(400, 21266), 400, "recipient_invalid", None),
        (twilio_error(400, 21216), 400, "recipient_unreachable", None),
        (twilio_error(400, 21999), 400, "recipient_unreachable", None),
        (
            twilio_error(401, 20003),
            500,
            "delivery_misconfigured",
            None,
        ),
        (
            twilio_error(400, 21606),
            500,
            "delivery_misconfigured",
            None,
        ),
        (
            twilio_error(429, 20429),
            503,
            "delivery_unavailable",
            Some("5"),
        ),
        (
            ResponseTemplate::new(503).set_body_string("Service Unavailable"),
            503,
            "delivery_unavailable",
            Some("5"),
        ),
    ];
    for (response, status, reason, retry_after) in cases {
        let stack = stack_where_twilio_answers(response).await;
        let phone = unique_phone();
        let answer = stack.send(&phone).await;
        assert_eq!(answer.status, status, "{reason}: {:?}", answer.body);
        assert_eq!(answer.reason(), reason);
        assert_eq!(
            answer.headers.get("retry-after").map(String::as_str),
            retry_after,
            "{reason}"
        );
        let text = answer.body.to_string();
        assert!(
            !text.contains(AUTH_TOKEN) && !text.contains(&phone) && !text.contains("21211"),
            "{text}"
        );

        // The undelivered code was withdrawn: nothing can be guessed...
        let item = stack
            .stored_item(&phone)
            .await
            .expect("the item keeps its place");
        assert_eq!(item["status"].as_s().unwrap(), "withdrawn", "{reason}");
        assert!(!item.contains_key("code_mac"), "{reason}");
        let verify = stack.verify(&phone, "123456").await;
        assert_eq!(verify.reason(), "no_pending_verification", "{reason}");
    }
}

/// Twilio taking the message but answering after our timeout (1 s here):
/// the message may well be on its way. The client used to get a 503 and,
/// like the Parse SDK, retried: 6 SMS with 6 codes went out, all withdrawn,
/// the limits given back. Now the first send is answered as sent (with
/// `"delivery": "unconfirmed"`), its code stays valid and its limits
/// counted, and a retry meets the cooldown: one SMS.
#[tokio::test]
async fn a_twilio_answer_after_our_timeout_counts_as_sent() {
    let stack =
        stack_where_twilio_answers(ResponseTemplate::new(201).set_delay(Duration::from_secs(2)))
            .await;
    let phone = unique_phone();
    let mut answers = Vec::new();
    for _ in 0..6 {
        let answer = stack.send(&phone).await;
        answers.push((answer.status, answer.reason().to_owned()));
        if answer.status == 200 {
            assert_eq!(answer.body["result"]["delivery"], "unconfirmed");
        }
    }
    assert_eq!(answers[0], (200, "<none>".to_owned()));
    assert!(
        answers[1..]
            .iter()
            .all(|(status, reason)| *status == 429 && reason == "resend_too_soon"),
        "{answers:?}"
    );
    let received = stack.twilio.received_requests().await.unwrap();
    assert_eq!(
        received.len(),
        1,
        "one SMS, however often the client retries"
    );
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(
        stack.verify(&phone, &code).await.status,
        200,
        "the code stays valid"
    );
}

/// Our own sender is never a recipient: refused before Twilio is called.
#[tokio::test]
async fn our_own_numbers_are_refused_up_front() {
    let stack = Stack::with_env(&[
        ("ENABLED_CHANNELS", "sms,call,whatsapp"),
        ("TWILIO_VOICE_FROM", "+14155550100"),
        ("TWILIO_WHATSAPP_FROM", "+14155238886"),
        (
            "TWILIO_WHATSAPP_CONTENT_SIDS",
            "en=HX0123456789abcdef0123456789abcdef",
        ),
    ])
    .await;
    for own in [
        integration_tests::FROM_NUMBER,
        "+14155550100",
        "+14155238886",
    ] {
        let answer = stack.send(own).await;
        assert_eq!(
            (answer.status, answer.reason()),
            (400, "own_number"),
            "{own}"
        );
    }
    assert!(stack.messages().await.is_empty());
    assert!(stack.calls().await.is_empty());
}

#[tokio::test]
async fn after_a_failed_send_the_user_can_simply_retry() {
    let stack = stack_where_twilio_answers(twilio_error(503, 20503)).await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 503);

    stack.twilio.reset().await;
    integration_tests::twilio_accepts_messages(&stack.twilio).await;
    assert_eq!(stack.send(&phone).await.status, 200);
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}
