//! Calls through Plivo, through the real send handler and DynamoDB Local,
//! with a fake that speaks Plivo's Call API: a call carries an `answer_url`
//! whose script is sealed; Plivo's signed fetch of it gets Plivo XML that
//! speaks the code, which then verifies. A forged, changed or late fetch
//! gets nothing. A call Plivo certainly did not place fails over to
//! Twilio's call; one it may have placed, or whose number it refused, does
//! not.

use std::time::Duration;

use integration_tests::{
    Answer, Function, Options, PLIVO_AUTH_TOKEN, Stack, plivo_fake, unique_phone,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::delivery_reports::{assert_withdrawn, post_report};
use crate::plivo_reports::signed_post;

const ANSWER: &str = "https://api.example.com/plivo/answer";
/// Plivo's Call API for `integration_tests::PLIVO_AUTH_ID`.
const CALL_PATH: &str = "/v1/Account/MAZDQ1ZJIYMDZKMMZKYM/Call/";

/// A stack whose messages and calls go through `route`, with Plivo's Call
/// API answering `plivo_answers` (a call fired when `None`).
pub(crate) async fn stack_routing(
    route: &str,
    plivo_answers: Option<ResponseTemplate>,
) -> (Stack, MockServer) {
    let (plivo, mut env) = plivo_fake().await;
    if let Some(answer) = plivo_answers {
        Mock::given(method("POST"))
            .and(path(CALL_PATH))
            .respond_with(answer)
            .with_priority(1)
            .mount(&plivo)
            .await;
    }
    env.push(("DELIVERY_ROUTES", route.to_owned()));
    env.push(("ENABLED_CHANNELS", "sms,call".to_owned()));
    env.push(("PLIVO_TIMEOUT_MS", "1000".to_owned()));
    let stack = Stack::start_with(Options {
        env,
        ..Options::default()
    })
    .await;
    (stack, plivo)
}

async fn call(stack: &Stack, phone: &str, locale: &str) -> Answer {
    stack
        .call(
            Function::Send,
            json!({ "phoneNumber": phone, "channel": "call", "locale": locale }),
        )
        .await
}

/// The body of every call Plivo was asked to place.
async fn plivo_calls(plivo: &MockServer) -> Vec<Value> {
    plivo
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == CALL_PATH)
        .map(|request| serde_json::from_slice(&request.body).expect("a JSON call"))
        .collect()
}

/// Plivo's fetch of a call's `answer_url`, signed with `token` as Plivo signs.
async fn fetch(stack: &Stack, answer_url: &str, token: &str) -> Answer {
    let params = [
        ("CallUUID", "ac3b4e6a-7f1d-11e1-8ea7-1231380bc196"),
        ("CallStatus", "in-progress"),
        ("Direction", "outbound"),
        ("From", "14155550100"),
        ("To", "14155550123"),
    ];
    signed_post(stack, "/plivo/answer", answer_url, &params, token).await
}

/// The code an XML script speaks: its first run of digits and commas.
fn spoken_code(xml: &str) -> String {
    xml.split(['<', '>'])
        .find(|text| {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
        })
        .expect("the script speaks the digits")
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[tokio::test]
async fn a_call_through_plivo_speaks_the_code_from_its_sealed_answer_url() {
    let (stack, plivo) = stack_routing("*=plivo", None).await;
    let phone = unique_phone();
    let answer = call(&stack, &phone, "fr").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(stack.calls().await.is_empty(), "through Plivo, not Twilio");
    let calls = plivo_calls(&plivo).await;
    assert_eq!(calls.len(), 1, "one Call request");
    let placed = &calls[0];
    assert_eq!(placed["to"], phone.trim_start_matches('+'));
    assert_eq!(placed["from"], "14155550100");
    assert_eq!(placed["answer_method"], "POST");
    let hangup = placed["hangup_url"].as_str().expect("a hangup report URL");
    assert!(
        hangup.starts_with("https://api.example.com/plivo/status?verification="),
        "{hangup}"
    );
    let answer_url = placed["answer_url"].as_str().expect("an answer URL");
    assert!(
        answer_url.starts_with(&format!("{ANSWER}?key=v1&script=")),
        "{answer_url}"
    );

    let script = fetch(&stack, answer_url, PLIVO_AUTH_TOKEN).await;
    assert_eq!(script.status, 200, "{script:?}");
    assert_eq!(script.headers["content-type"], "application/xml");
    assert_eq!(script.headers["cache-control"], "no-store");
    let xml = script.body.as_str().expect("an XML document");
    assert!(
        xml.contains(r#"<Speak voice="Polly.Lea" language="fr-FR">"#),
        "{xml}"
    );
    assert!(xml.ends_with("<Hangup/></Response>"), "{xml}");
    let code = spoken_code(xml);
    assert_eq!(code.len(), 6, "{xml}");
    // The code, digit by digit, twice; and nowhere in the URL Plivo holds.
    let separated = code
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(xml.matches(&separated).count(), 2, "{xml}");
    for clear in [
        code.as_str(),
        separated.as_str(),
        &separated.replace(", ", "%2C+"),
    ] {
        assert!(!answer_url.contains(clear), "{answer_url} holds {clear}");
        assert!(!hangup.contains(clear), "{hangup} holds {clear}");
    }

    // Plivo may fetch it again (a retried fetch); it says the same.
    let again = fetch(&stack, answer_url, PLIVO_AUTH_TOKEN).await;
    assert_eq!(spoken_code(again.body.as_str().unwrap()), code);
    let verified = stack.verify(&phone, &code).await;
    assert_eq!(verified.status, 200, "{verified:?}");
    assert_eq!(verified.body["result"]["status"], "approved");
}

#[tokio::test]
async fn forged_changed_or_late_fetches_get_no_script() {
    let (stack, plivo) = stack_routing("*=plivo", None).await;
    let phone = unique_phone();
    assert_eq!(call(&stack, &phone, "en").await.status, 200);
    let answer_url = plivo_calls(&plivo).await[0]["answer_url"]
        .as_str()
        .unwrap()
        .to_owned();

    let forged = fetch(&stack, &answer_url, "another-token").await;
    assert_eq!((forged.status, forged.reason()), (403, "invalid_signature"));
    let unsigned = post_report(&stack, "/plivo/answer", &answer_url, &[], &[]).await;
    assert_eq!(
        (unsigned.status, unsigned.reason()),
        (403, "invalid_signature")
    );

    // Signed, but the script changed (one character) or dropped, or under
    // a key this stack does not have.
    let (head, token) = answer_url.split_once("script=").unwrap();
    let flipped = match token.as_bytes()[20] {
        b'A' => 'B',
        _ => 'A',
    };
    let changed = format!("{head}script={}{flipped}{}", &token[..20], &token[21..]);
    let other_key = answer_url.replace("key=v1", "key=v0");
    let dropped = format!("{ANSWER}?key=v1");
    for url in [&changed, &other_key, &dropped] {
        let refused = fetch(&stack, url, PLIVO_AUTH_TOKEN).await;
        assert_eq!(
            (refused.status, refused.reason()),
            (400, "invalid_call_script"),
            "{url}"
        );
        assert!(!refused.body.to_string().contains("Speak"));
    }

    // Once the code has expired, its script is not spoken either.
    stack.clock.advance(600);
    let late = fetch(&stack, &answer_url, PLIVO_AUTH_TOKEN).await;
    assert_eq!((late.status, late.reason()), (410, "call_script_expired"));
}

#[tokio::test]
async fn a_script_is_refused_when_plivo_is_not_configured() {
    let stack = Stack::start().await;
    let answer = fetch(
        &stack,
        &format!("{ANSWER}?key=v1&script=AAAA"),
        PLIVO_AUTH_TOKEN,
    )
    .await;
    assert_eq!(
        (answer.status, answer.reason()),
        (404, "delivery_reports_disabled")
    );
}

/// Plivo's signed hangup report of the call to `phone` with `status`.
async fn hangup(stack: &Stack, hangup_url: &str, phone: &str, status: &str) -> Answer {
    let to = phone.trim_start_matches('+');
    let params = [
        ("CallUUID", "ac3b4e6a-7f1d-11e1-8ea7-1231380bc196"),
        ("CallStatus", status),
        ("HangupCause", "NORMAL_CLEARING"),
        ("To", to),
        ("From", "14155550100"),
    ];
    signed_post(
        stack,
        "/plivo/status",
        hangup_url,
        &params,
        PLIVO_AUTH_TOKEN,
    )
    .await
}

#[tokio::test]
async fn a_failed_call_withdraws_its_code_a_call_that_rang_does_not() {
    let (stack, plivo) = stack_routing("*=plivo", None).await;
    let phone = unique_phone();
    assert_eq!(call(&stack, &phone, "en").await.status, 200);
    let placed = plivo_calls(&plivo).await.remove(0);
    let hangup_url = placed["hangup_url"].as_str().unwrap();
    let code = spoken_code(
        fetch(
            &stack,
            placed["answer_url"].as_str().unwrap(),
            PLIVO_AUTH_TOKEN,
        )
        .await
        .body
        .as_str()
        .unwrap(),
    );
    // It rang: the code stays, the cooldown holds (no call bombing).
    for status in ["busy", "no-answer", "completed"] {
        let answer = hangup(&stack, hangup_url, &phone, status).await;
        assert_eq!(
            answer.body["result"]["withdrawn"], false,
            "{status}: {answer:?}"
        );
    }
    assert_eq!(call(&stack, &phone, "en").await.reason(), "resend_too_soon");
    // It could not be placed: withdrawn, and the user may ask again at once.
    let failed = hangup(&stack, hangup_url, &phone, "failed").await;
    assert_eq!(failed.body["result"]["withdrawn"], true, "{failed:?}");
    assert_withdrawn(&stack, &phone, &code).await;
}

fn plivo_error(status: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb",
        "error": error,
    }))
}

#[tokio::test]
async fn a_call_plivo_certainly_did_not_place_fails_over_to_twilio_once() {
    for (case, refusal) in [
        ("503", plivo_error(503, "server error")),
        ("429", plivo_error(429, "too many requests")),
        ("401", plivo_error(401, "authentication failed")),
    ] {
        let (stack, plivo) = stack_routing("*/call=plivo,twilio;*=twilio", Some(refusal)).await;
        let answer = call(&stack, &unique_phone(), "en").await;
        assert_eq!(answer.status, 200, "{case}: {answer:?}");
        assert_eq!(plivo_calls(&plivo).await.len(), 1, "{case}");
        assert_eq!(
            stack.calls().await.len(),
            1,
            "{case}: exactly one call through Twilio"
        );
        assert_eq!(
            stack.twilio.received_requests().await.unwrap().len(),
            1,
            "{case}: and nothing else"
        );
    }
}

#[tokio::test]
async fn a_call_plivo_may_have_placed_or_whose_number_it_refused_is_not_placed_again() {
    let fired = ResponseTemplate::new(201)
        .set_body_json(json!({"message": "call fired", "request_uuid": "r"}))
        .set_delay(Duration::from_millis(1_500));
    for (case, refusal, status) in [
        ("no answer in time", fired, 200),
        (
            "invalid number",
            plivo_error(400, "14155550123 is not a valid phone number"),
            400,
        ),
    ] {
        let (stack, plivo) = stack_routing("*/call=plivo,twilio;*=twilio", Some(refusal)).await;
        let answer = call(&stack, &unique_phone(), "en").await;
        assert_eq!(answer.status, status, "{case}: {answer:?}");
        assert_eq!(plivo_calls(&plivo).await.len(), 1, "{case}");
        assert!(
            stack.calls().await.is_empty(),
            "{case}: never a second call"
        );
        if status == 200 {
            assert_eq!(answer.body["result"]["delivery"], "unconfirmed", "{case}");
        }
    }
}
