//! Voice and WhatsApp channels, languages and autofill lines, through the
//! real handlers with a Twilio fake that records each request.

use std::collections::HashMap;

use integration_tests::{CALLS_PATH, Function, Stack, unique_phone};
use serde_json::json;

/// The Content SIDs of the WhatsApp authentication templates, English and French.
const EN_TEMPLATE: &str = "HX0123456789abcdef0123456789abcdef";
const FR_TEMPLATE: &str = "HXfedcba9876543210fedcba9876543210";

/// Every channel, WhatsApp as in production: approved templates.
async fn all_channels() -> Stack {
    Stack::with_env(&[
        ("ENABLED_CHANNELS", "sms,call,whatsapp"),
        ("TWILIO_WHATSAPP_FROM", "+14155238886"),
        (
            "TWILIO_WHATSAPP_CONTENT_SIDS",
            "en=HX0123456789abcdef0123456789abcdef,fr=HXfedcba9876543210fedcba9876543210",
        ),
        ("APP_NAME", "Acme"),
    ])
    .await
}

/// The code in a template message: its one variable.
fn template_code(message: &HashMap<String, String>) -> String {
    let variables: serde_json::Value =
        serde_json::from_str(&message["ContentVariables"]).expect("ContentVariables is JSON");
    assert_eq!(
        variables.as_object().map(|o| o.len()),
        Some(1),
        "one variable: {variables}"
    );
    variables["1"]
        .as_str()
        .expect("variable 1 is the code")
        .to_owned()
}

async fn send(stack: &Stack, params: serde_json::Value) -> integration_tests::Answer {
    stack.call(Function::Send, params).await
}

#[tokio::test]
async fn a_call_reads_the_code_digit_by_digit_twice_in_well_formed_twiml() {
    let stack = all_channels().await;
    let phone = unique_phone();
    let answer = send(&stack, json!({ "phoneNumber": phone, "channel": "call" })).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["result"]["channel"], "call");
    assert!(stack.messages().await.is_empty());

    let calls = stack.calls().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["To"], phone);
    assert_eq!(calls[0]["From"], integration_tests::FROM_NUMBER);
    let twiml = &calls[0]["Twiml"];
    let document = roxmltree::Document::parse(twiml).expect("well-formed TwiML");
    assert_eq!(document.root_element().tag_name().name(), "Response");
    let says: Vec<_> = document
        .descendants()
        .filter(|node| node.has_tag_name("Say"))
        .collect();
    assert_eq!(says.len(), 4, "intro, digits, repeat, digits");
    for say in &says {
        assert_eq!(say.attribute("language"), Some("en-US"));
        assert_eq!(say.attribute("voice"), Some("Polly.Joanna"));
    }
    let digits: Vec<String> = says
        .iter()
        .filter_map(|say| say.descendants().find(|n| n.has_tag_name("prosody")))
        .map(|prosody| prosody.text().unwrap().to_owned())
        .collect();
    assert_eq!(digits.len(), 2, "the code is read twice");
    assert_eq!(digits[0], digits[1]);
    let code: String = digits[0].split(", ").collect();
    assert_eq!(code.len(), 6, "digits spaced by commas: {:?}", digits[0]);
    assert!(says[0].text().unwrap().contains("Acme"));

    // The code is in no URL: not in the path, not in a query string.
    for request in stack.twilio.received_requests().await.unwrap() {
        assert!(!request.url.as_str().contains(&code), "{}", request.url);
        assert_eq!(request.url.path(), CALLS_PATH);
        assert!(request.url.query().is_none());
    }
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

#[tokio::test]
async fn whatsapp_sends_the_approved_template_with_the_code_as_its_variable() {
    let stack = all_channels().await;
    let phone = unique_phone();
    let answer = send(
        &stack,
        json!({ "phoneNumber": phone, "channel": "whatsapp" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let message = &stack.messages().await[0];
    let mut fields: Vec<&str> = message.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "ContentSid",
            "ContentVariables",
            "From",
            "StatusCallback",
            "To"
        ],
        "no Body: WhatsApp delivers only the template outside a session"
    );
    assert_eq!(message["To"], format!("whatsapp:{phone}"));
    assert_eq!(message["From"], "whatsapp:+14155238886");
    assert_eq!(message["ContentSid"], EN_TEMPLATE);
    let code = template_code(message);
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

#[tokio::test]
async fn the_whatsapp_template_follows_the_language_and_falls_back_to_english() {
    let stack = all_channels().await;
    for (params, template) in [
        (json!({ "locale": "fr-CA" }), FR_TEMPLATE),
        (json!({ "locale": "de-AT" }), EN_TEMPLATE),
        (json!({}), EN_TEMPLATE),
    ] {
        let phone = unique_phone();
        let mut request = json!({ "phoneNumber": phone, "channel": "whatsapp" });
        request
            .as_object_mut()
            .unwrap()
            .extend(params.as_object().unwrap().clone());
        assert_eq!(send(&stack, request).await.status, 200, "{params}");
        let message = stack
            .messages()
            .await
            .into_iter()
            .find(|m| m["To"] == format!("whatsapp:{phone}"))
            .unwrap();
        assert_eq!(message["ContentSid"], template, "{params}");
    }
    // A French number without a locale: its country's language.
    let french = "+33612345678";
    send(
        &stack,
        json!({ "phoneNumber": french, "channel": "whatsapp" }),
    )
    .await;
    let message = stack.messages().await.pop().unwrap();
    assert_eq!(message["To"], format!("whatsapp:{french}"));
    assert_eq!(message["ContentSid"], FR_TEMPLATE);
}

/// Free-form text: only for Twilio's sandbox and 24-hour sessions.
#[tokio::test]
async fn whatsapp_in_session_mode_sends_free_text() {
    let stack = Stack::with_env(&[
        ("ENABLED_CHANNELS", "sms,whatsapp"),
        ("TWILIO_WHATSAPP_FROM", "+14155238886"),
        ("WHATSAPP_MODE", "session"),
        ("APP_NAME", "Acme"),
    ])
    .await;
    let phone = unique_phone();
    let answer = send(
        &stack,
        json!({ "phoneNumber": phone, "channel": "whatsapp" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let message = &stack.messages().await[0];
    assert_eq!(message["To"], format!("whatsapp:{phone}"));
    assert_eq!(message["From"], "whatsapp:+14155238886");
    assert!(message["Body"].starts_with("Your Acme verification code is "));
    assert!(!message.contains_key("ContentSid"));
    let code = stack.code_sent_to(&format!("whatsapp:{phone}")).await;
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

#[tokio::test]
async fn channels_must_be_enabled_and_known() {
    let stack = Stack::start().await; // sms only, the default
    for (channel, reason) in [
        ("call", "channel_disabled"),
        ("whatsapp", "channel_disabled"),
        ("fax", "unsupported_channel"),
    ] {
        let answer = send(
            &stack,
            json!({ "phoneNumber": unique_phone(), "channel": channel }),
        )
        .await;
        assert_eq!(answer.status, 400, "{channel}");
        assert_eq!(answer.reason(), reason, "{channel}");
    }
    assert!(stack.twilio.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_resend_may_switch_from_sms_to_a_call() {
    let stack = all_channels().await;
    let phone = unique_phone();
    assert_eq!(
        send(&stack, json!({ "phoneNumber": phone })).await.status,
        200
    );
    let too_soon = send(&stack, json!({ "phoneNumber": phone, "channel": "call" })).await;
    assert_eq!(
        too_soon.reason(),
        "resend_too_soon",
        "the same limits apply"
    );
    stack.clock.advance(60);
    let call = send(&stack, json!({ "phoneNumber": phone, "channel": "call" })).await;
    assert_eq!(call.status, 200);
    assert_eq!(stack.calls().await.len(), 1);
}

#[tokio::test]
async fn the_language_follows_the_locale_then_the_country() {
    let stack = all_channels().await;
    let phone = unique_phone();
    send(&stack, json!({ "phoneNumber": phone, "locale": "de-AT" })).await;
    assert!(stack.messages().await[0]["Body"].starts_with("Ihr Acme Bestätigungscode lautet "));

    send(&stack, json!({ "phoneNumber": "+33612345678" })).await;
    assert!(stack.messages().await[1]["Body"].starts_with("Votre code de vérification Acme est "));

    send(
        &stack,
        json!({ "phoneNumber": "+33612345679", "channel": "call", "locale": "ja" }),
    )
    .await;
    assert!(stack.calls().await[0]["Twiml"].contains(r#"language="ja-JP" voice="Polly.Mizuki""#));
}

#[tokio::test]
async fn the_sms_ends_with_the_autofill_lines() {
    let stack = Stack::with_env(&[
        ("AUTOFILL_DOMAIN", "example.com"),
        ("ANDROID_APP_HASH", "FA+9qCX9VSu"),
    ])
    .await;
    let phone = unique_phone();
    send(&stack, json!({ "phoneNumber": phone })).await;
    let body = stack.messages().await[0]["Body"].clone();
    let lines: Vec<&str> = body.lines().collect();
    let code = lines.last().unwrap().rsplit('#').next().unwrap();
    assert_eq!(
        lines,
        [
            format!("Your verification code is {code}.").as_str(),
            "FA+9qCX9VSu",
            "",
            &format!("@example.com #{code}")
        ]
    );
    assert_eq!(stack.verify(&phone, code).await.status, 200);
}
