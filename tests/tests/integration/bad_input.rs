//! Malformed requests get a 4xx with a stable reason, never a 5xx or a panic,
//! and never reach Twilio.

use integration_tests::{Function, Stack, http_api_event, unique_phone};
use serde_json::json;

/// (function, content type, raw body, expected status, expected reason)
fn malformed_requests() -> Vec<(Function, &'static str, String, u16, &'static str)> {
    use Function::{Send, Verify};
    let json = "application/json";
    let ok_phone = "+14155550100";
    vec![
        (Send, json, String::new(), 400, "missing_body"),
        (Send, json, "   ".into(), 400, "missing_body"),
        (Send, json, "{".into(), 400, "invalid_json"),
        (
            Send,
            json,
            "phoneNumber=+14155550100".into(),
            400,
            "invalid_json",
        ),
        (
            Send,
            json,
            "[\"+14155550100\"]".into(),
            400,
            "body_not_an_object",
        ),
        (
            Send,
            json,
            "\"+14155550100\"".into(),
            400,
            "body_not_an_object",
        ),
        (Send, json, "null".into(), 400, "body_not_an_object"),
        (
            Send,
            json,
            format!("{{\"phoneNumber\":\"{}\"}}", "1".repeat(20_000)),
            413,
            "body_too_large",
        ),
        (
            Send,
            "application/x-www-form-urlencoded",
            "phoneNumber=%2B14155550100".into(),
            415,
            "unsupported_media_type",
        ),
        (Send, json, "{}".into(), 400, "missing_parameter"),
        (
            Send,
            json,
            json!({ "phoneNumber": "" }).to_string(),
            400,
            "missing_parameter",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": null }).to_string(),
            400,
            "missing_parameter",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": 14155550100_u64 }).to_string(),
            400,
            "invalid_parameter_type",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": ["+14155550100"] }).to_string(),
            400,
            "invalid_parameter_type",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "(415) 555-0100" }).to_string(),
            400,
            "phone_number_missing_country_code",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "4155550100" }).to_string(),
            400,
            "phone_number_missing_country_code",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "+1 415 555" }).to_string(),
            400,
            "invalid_phone_number",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "+999123456789" }).to_string(),
            400,
            "invalid_phone_number",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "call me maybe" }).to_string(),
            400,
            "invalid_phone_number",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "+14155550100\u{0000}" }).to_string(),
            400,
            "invalid_phone_number",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": "4155550100", "defaultRegion": "Narnia" }).to_string(),
            400,
            "invalid_default_region",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": ok_phone, "channel": "pigeon" }).to_string(),
            400,
            "unsupported_channel",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": ok_phone, "channel": 1 }).to_string(),
            400,
            "invalid_parameter_type",
        ),
        (
            Send,
            json,
            json!({ "phoneNumber": ok_phone, "locale": "<script>" }).to_string(),
            400,
            "invalid_locale",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": ok_phone }).to_string(),
            400,
            "missing_parameter",
        ),
        (
            Verify,
            json,
            json!({ "phoneVerificationCode": "123456" }).to_string(),
            400,
            "missing_parameter",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": ok_phone, "phoneVerificationCode": "12a456" }).to_string(),
            400,
            "invalid_code_format",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": ok_phone, "phoneVerificationCode": "12345" }).to_string(),
            400,
            "invalid_code_format",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": ok_phone, "phoneVerificationCode": "1234567" }).to_string(),
            400,
            "invalid_code_format",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": ok_phone, "phoneVerificationCode": "１２３４５６" }).to_string(),
            400,
            "invalid_code_format",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": ok_phone, "phoneVerificationCode": 123456 }).to_string(),
            400,
            "invalid_parameter_type",
        ),
        (
            Verify,
            json,
            json!({ "phoneNumber": "+1", "phoneVerificationCode": "123456" }).to_string(),
            400,
            "invalid_phone_number",
        ),
    ]
}

#[tokio::test]
async fn every_malformed_request_gets_a_4xx_with_its_reason() {
    let stack = Stack::start().await;
    let cases = malformed_requests();
    assert!(cases.len() >= 20);
    for (function, content_type, body, status, reason) in cases {
        let event = http_api_event(function, &body, content_type);
        let answer = stack.call_event(function, &event).await;
        let shown: String = body.chars().take(60).collect();
        assert_eq!(
            answer.status, status,
            "{function:?} {shown:?}: {:?}",
            answer.body
        );
        assert_eq!(answer.reason(), reason, "{function:?} {shown:?}");
        assert!(
            [107, 142].contains(&answer.body["code"].as_u64().unwrap()),
            "{shown:?}"
        );
        assert!(answer.body["error"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(
            answer.headers["content-type"],
            "application/json; charset=utf-8"
        );
    }
    assert!(
        stack.messages().await.is_empty(),
        "no malformed request reaches Twilio"
    );
}

#[tokio::test]
async fn methods_other_than_post_are_refused() {
    let stack = Stack::start().await;
    let body = json!({ "phoneNumber": unique_phone() }).to_string();
    let event = http_api_event(Function::Send, &body, "application/json")
        .replace("\"method\":\"POST\"", "\"method\":\"GET\"");
    let answer = stack.call_event(Function::Send, &event).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.reason(), "method_not_allowed");
}

/// Each function answers exactly its own routes: API Gateway's route key
/// when there is one, else the exact method and path (a function URL).
#[tokio::test]
async fn each_route_maps_to_its_handler_exactly() {
    let stack = Stack::start().await;
    let event = |function, route_key: &str, path: &str| {
        let mut event: serde_json::Value = serde_json::from_str(&http_api_event(
            function,
            "MessageStatus=failed",
            "application/x-www-form-urlencoded",
        ))
        .unwrap();
        event["routeKey"] = route_key.into();
        event["requestContext"]["routeKey"] = route_key.into();
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["path"] = path.into();
        event.to_string()
    };
    for (function, route_key, path, status, reason) in [
        // A path that merely ends like a route is no route.
        (
            Function::Send,
            "$default",
            "/x/twilio/status",
            404,
            "unknown_function",
        ),
        (
            Function::Send,
            "POST /x/twilio/status",
            "/x/twilio/status",
            404,
            "unknown_function",
        ),
        // One function never serves the other's routes.
        (
            Function::Send,
            "POST /functions/verifyPhoneNumber",
            "/functions/verifyPhoneNumber",
            404,
            "unknown_function",
        ),
        (
            Function::Verify,
            "POST /twilio/status",
            "/twilio/status",
            404,
            "unknown_function",
        ),
        (
            Function::Verify,
            "GET /functions/verifyPhoneNumber",
            "/functions/verifyPhoneNumber",
            405,
            "method_not_allowed",
        ),
        // Without a route key, the exact path still routes.
        (
            Function::Send,
            "$default",
            "/twilio/status",
            403,
            "invalid_signature",
        ),
    ] {
        let answer = stack
            .call_event(function, &event(function, route_key, path))
            .await;
        assert_eq!(
            (answer.status, answer.reason()),
            (status, reason),
            "{route_key} {path}"
        );
    }
}

/// A crafted event whose base64 body does not decode used to panic inside
/// lambda_http, ending the execution environment: now it is a 400.
#[tokio::test]
async fn an_undecodable_base64_body_is_a_400_not_a_crash() {
    let stack = Stack::start().await;
    let mut event: serde_json::Value = serde_json::from_str(&http_api_event(
        Function::Send,
        "%%% not base64 %%%",
        "application/json",
    ))
    .unwrap();
    event["isBase64Encoded"] = true.into();
    let answer = stack.call_event(Function::Send, &event.to_string()).await;
    assert_eq!((answer.status, answer.reason()), (400, "invalid_json"));
}

/// .NET and PowerShell clients may start UTF-8 text with a byte order mark.
#[tokio::test]
async fn a_body_starting_with_a_byte_order_mark_is_read() {
    let stack = Stack::start().await;
    let body = format!("\u{feff}{}", json!({ "phoneNumber": unique_phone() }));
    let answer = stack
        .call_event(
            Function::Send,
            &http_api_event(Function::Send, &body, "application/json"),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[tokio::test]
async fn error_answers_never_echo_the_number() {
    let stack = Stack::start().await;
    let answer = stack
        .call(Function::Send, json!({ "phoneNumber": "+1 415 555 01" }))
        .await;
    assert_eq!(answer.reason(), "invalid_phone_number");
    assert!(
        !answer.body.to_string().contains("415 555 01"),
        "{:?}",
        answer.body
    );
}
