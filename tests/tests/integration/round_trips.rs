//! DynamoDB round trips per request, counted by an SDK interceptor on the
//! real client: no read before a write but fraud protection's one snapshot,
//! no Scan, no extra call.

use integration_tests::{Stack, VERIFY_SERVICE_SID, unique_phone};

#[tokio::test]
async fn each_request_makes_the_fewest_dynamodb_calls() {
    let stack = Stack::start().await;
    let phone = unique_phone();

    stack.send(&phone).await;
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["BatchGetItem", "TransactWriteItems"],
        "send: fraud protection's traffic snapshot, then one transaction"
    );

    let wrong = stack.wrong_code_for(&phone).await;
    stack.verify(&phone, &wrong).await;
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["UpdateItem", "UpdateItem"],
        "wrong code: the client counter, then the counted attempt"
    );

    let code = stack.code_sent_to(&phone).await;
    stack.verify(&phone, &code).await;
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["UpdateItem"; 6],
        "right code: the two above, the approval, then the approval counted for the \
         prefix and the country and the number remembered as verified (three updates at once)"
    );

    stack.send(&phone).await; // inside the cooldown
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["BatchGetItem", "TransactWriteItems", "UpdateItem"],
        "a refused send: the snapshot, the refused transaction, then the client counter it \
         did not count"
    );
}

#[tokio::test]
async fn without_fraud_protection_a_send_is_one_transaction() {
    let stack = Stack::with_env(&[("FRAUD_PROTECTION", "off")]).await;
    let phone = unique_phone();
    stack.send(&phone).await;
    assert_eq!(stack.take_dynamodb_calls(), ["TransactWriteItems"]);
    let code = stack.code_sent_to(&phone).await;
    stack.verify(&phone, &code).await;
    assert_eq!(stack.take_dynamodb_calls(), ["UpdateItem"; 3]);
}

#[tokio::test]
async fn malformed_requests_never_reach_dynamodb() {
    let stack = Stack::start().await;
    stack.verify("+1 415", "123456").await;
    stack.verify(&unique_phone(), "12ab56").await;
    assert!(stack.take_dynamodb_calls().is_empty());
}

#[tokio::test]
async fn a_verify_api_check_by_to_reads_nothing_more_than_a_parse_check() {
    let stack = Stack::with_env(&[("FRAUD_PROTECTION", "off")]).await;
    let phone = unique_phone();
    let verifications = format!("/v2/Services/{VERIFY_SERVICE_SID}/Verifications");
    let check = format!("/v2/Services/{VERIFY_SERVICE_SID}/VerificationCheck");
    let sent = stack
        .twilio_verify(
            "POST",
            &verifications,
            &[("To", &phone), ("Channel", "sms")],
        )
        .await;
    stack.take_dynamodb_calls();

    let wrong = stack.wrong_code_for(&phone).await;
    let answer = stack
        .twilio_verify("POST", &check, &[("To", &phone), ("Code", &wrong)])
        .await;
    assert_eq!(
        (&answer.body["status"], &answer.body["sid"]),
        (&"pending".into(), &sent.body["sid"])
    );
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["UpdateItem", "UpdateItem"],
        "the client counter, then the counted attempt, which returns what the answer shows"
    );
    let code = stack.code_sent_to(&phone).await;
    let answer = stack
        .twilio_verify("POST", &check, &[("To", &phone), ("Code", &code)])
        .await;
    assert_eq!(
        (
            &answer.body["status"],
            &answer.body["sid"],
            &answer.body["channel"]
        ),
        (&"approved".into(), &sent.body["sid"], &"sms".into())
    );
    assert_eq!(answer.body["date_created"], sent.body["date_created"]);
    assert_eq!(stack.take_dynamodb_calls(), ["UpdateItem"; 3]);
}
