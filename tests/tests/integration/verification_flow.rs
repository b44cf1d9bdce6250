//! The whole flow through the real handlers, DynamoDB Local and a Twilio fake.

use integration_tests::{
    ACCOUNT_SID, FROM_NUMBER, Function, Stack, base64_http_api_event, http_api_event, unique_phone,
};
use serde_json::json;

#[tokio::test]
async fn send_then_wrong_then_right_then_reuse_refused() {
    let stack = Stack::start().await;
    let phone = unique_phone();

    let sent = stack.send(&phone).await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let result = &sent.body["result"];
    assert_eq!(result["status"], "pending");
    assert_eq!(result["phoneNumber"], phone.as_str());
    assert_eq!(result["channel"], "sms");
    assert_eq!(result["attemptsRemaining"], 5);
    assert!(result["expiresAt"].as_str().unwrap().ends_with('Z'));

    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["To"], phone);
    assert_eq!(messages[0]["From"], FROM_NUMBER);
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));

    let wrong = stack
        .verify(&phone, &stack.wrong_code_for(&phone).await)
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["code"], 141);
    assert_eq!(wrong.reason(), "incorrect_code");
    assert_eq!(wrong.body["error"], "Invalid verification code.");
    assert_eq!(wrong.body["attemptsRemaining"], 4);

    let right = stack.verify(&phone, &code).await;
    assert_eq!(right.status, 200, "{:?}", right.body);
    assert_eq!(right.body["result"]["status"], "approved");
    assert_eq!(right.body["result"]["phoneNumber"], phone.as_str());
    assert!(right.body["result"]["verifiedAt"].is_string());

    let reuse = stack.verify(&phone, &code).await;
    assert_eq!(reuse.status, 409);
    assert_eq!(reuse.reason(), "code_already_used");
}

#[tokio::test]
async fn storage_holds_a_keyed_hash_with_ttl_never_the_code() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    let item = stack.stored_item(&phone).await.expect("an item per number");

    let mac = item["code_mac"].as_b().expect("binary MAC").as_ref();
    assert_eq!(mac.len(), 32, "HMAC-SHA256");
    for (name, value) in &item {
        let text = format!("{value:?}");
        assert!(!text.contains(&code), "attribute {name} holds the code");
    }
    let number = |name: &str| item[name].as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!(number("code_expires_at") - number("created_at"), 600);
    assert!(
        number("expires_at") > number("code_expires_at"),
        "the TTL keeps the number's limits past the code's expiry"
    );
    assert_eq!(item["key_id"].as_s().unwrap(), "v1");
    assert_eq!(item["status"].as_s().unwrap(), "pending");

    stack.verify(&phone, &code).await;
    let approved = stack.stored_item(&phone).await.unwrap();
    assert_eq!(approved["status"].as_s().unwrap(), "approved");
    assert!(
        !approved.contains_key("code_mac"),
        "a used code's hash is deleted"
    );
}

#[tokio::test]
async fn codes_expire_by_condition_not_by_ttl_sweep() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;

    stack.clock.advance(599);
    let still_valid = stack
        .verify(&phone, &stack.wrong_code_for(&phone).await)
        .await;
    assert_eq!(still_valid.reason(), "incorrect_code");

    stack.clock.advance(1);
    let expired = stack.verify(&phone, &code).await;
    assert_eq!(expired.status, 404);
    assert_eq!(expired.body["code"], 141);
    assert_eq!(expired.reason(), "no_pending_verification");
}

/// Silent probing: after a code's lifetime, whatever became of it (used,
/// expired, withdrawn), the answer is exactly that for a number that never
/// asked for a code, so a probe learns nothing.
#[tokio::test]
async fn after_its_lifetime_a_code_leaves_no_trace_in_the_answers() {
    let stack = Stack::start().await;
    let never_asked = stack.verify(&unique_phone(), "123456").await;
    assert_eq!(never_asked.reason(), "no_pending_verification");

    let used = unique_phone();
    stack.send(&used).await;
    let code = stack.code_sent_to(&used).await;
    assert_eq!(stack.verify(&used, &code).await.status, 200);
    assert_eq!(
        stack.verify(&used, "123456").await.reason(),
        "code_already_used",
        "within its lifetime"
    );
    let expired = unique_phone();
    stack.send(&expired).await;

    stack.clock.advance(20 * 60); // ~20 minutes later, as the attack found
    for phone in [&used, &expired] {
        let probe = stack.verify(phone, "123456").await;
        assert_eq!(
            (probe.status, &probe.body),
            (never_asked.status, &never_asked.body),
            "{phone}"
        );
    }
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    let wrong = stack.wrong_code_for(&phone).await;

    for remaining in (0..5).rev() {
        let answer = stack.verify(&phone, &wrong).await;
        assert_eq!(answer.reason(), "incorrect_code");
        assert_eq!(answer.body["attemptsRemaining"], remaining);
    }
    let dead = stack.verify(&phone, &code).await;
    assert_eq!(dead.status, 429);
    assert_eq!(dead.body["code"], 155);
    assert_eq!(dead.reason(), "max_attempts_reached");

    // A new code (after the resend cooldown) starts a new count.
    stack.clock.advance(60);
    stack.send(&phone).await;
    let fresh = stack.code_sent_to(&phone).await;
    assert_eq!(stack.verify(&phone, &fresh).await.status, 200);
}

#[tokio::test]
async fn a_new_send_replaces_the_previous_code() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let first = stack.code_sent_to(&phone).await;
    stack.clock.advance(60);
    assert_eq!(stack.send(&phone).await.status, 200);
    let second = stack.code_sent_to(&phone).await;
    if first != second {
        assert_eq!(
            stack.verify(&phone, &first).await.reason(),
            "incorrect_code"
        );
    }
    assert_eq!(stack.verify(&phone, &second).await.status, 200);
}

#[tokio::test]
async fn a_number_without_a_code_has_nothing_pending() {
    let stack = Stack::start().await;
    let answer = stack.verify(&unique_phone(), "123456").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["code"], 141);
    assert_eq!(answer.reason(), "no_pending_verification");
}

#[tokio::test]
async fn national_numbers_work_with_a_default_region() {
    let stack = Stack::start().await;
    let answer = stack
        .call(
            Function::Send,
            json!({ "phoneNumber": "(415) 555-0177", "defaultRegion": "US" }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["result"]["phoneNumber"], "+14155550177");
    assert_eq!(stack.messages().await[0]["To"], "+14155550177");
}

#[tokio::test]
async fn the_parse_js_sdk_request_shape_is_understood() {
    // What `Parse.Cloud.run` sends: text/plain JSON with `_`-prefixed fields.
    let stack = Stack::start().await;
    let phone = unique_phone();
    let body = json!({
        "phoneNumber": phone,
        "_ApplicationId": "myAppId",
        "_JavaScriptKey": "jsKey",
        "_ClientVersion": "js8.6.2",
        "_InstallationId": "8a1b9f8e-0000-4000-8000-000000000000"
    })
    .to_string();
    let answer = stack
        .call_event(
            Function::Send,
            &http_api_event(Function::Send, &body, "text/plain"),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    let code = stack.code_sent_to(&phone).await;
    let verify =
        json!({ "phoneNumber": phone, "phoneVerificationCode": code, "_ApplicationId": "myAppId" });
    let event = base64_http_api_event(Function::Verify, &verify.to_string(), "text/plain");
    let answer = stack.call_event(Function::Verify, &event).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[tokio::test]
async fn a_configured_application_id_is_required() {
    let stack = Stack::with_env(&[("PARSE_APPLICATION_ID", "myAppId")]).await;
    let phone = unique_phone();

    let without = stack.send(&phone).await;
    assert_eq!(without.status, 403);
    assert_eq!(without.body["code"], 119);
    assert_eq!(without.reason(), "invalid_application_id");

    let wrong = stack
        .call(
            Function::Send,
            json!({ "phoneNumber": phone, "_ApplicationId": "other" }),
        )
        .await;
    assert_eq!(wrong.status, 403);

    let right = stack
        .call(
            Function::Send,
            json!({ "phoneNumber": phone, "_ApplicationId": "myAppId" }),
        )
        .await;
    assert_eq!(right.status, 200);
    assert!(
        stack.messages().await.len() == 1,
        "refused requests send nothing"
    );
}

#[tokio::test]
async fn code_length_is_configurable() {
    let stack = Stack::with_env(&[("CODE_LENGTH", "8")]).await;
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(code.len(), 8);
    assert_eq!(
        stack.verify(&phone, &code[..6]).await.reason(),
        "invalid_code_format"
    );
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

#[tokio::test]
async fn the_sender_can_be_a_messaging_service() {
    let stack = Stack::with_env(&[(
        "TWILIO_MESSAGING_SERVICE_SID",
        "MG0123456789abcdef0123456789abcdef",
    )])
    .await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    let message = &stack.messages().await[0];
    assert_eq!(
        message["MessagingServiceSid"],
        "MG0123456789abcdef0123456789abcdef"
    );
    assert!(!message.contains_key("From"));
    assert!(ACCOUNT_SID.starts_with("AC"));
}
