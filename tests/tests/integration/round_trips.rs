//! DynamoDB round trips per request, counted by an SDK interceptor on the
//! real client: no read before a write, no Scan, no extra call.

use integration_tests::{Stack, unique_phone};

#[tokio::test]
async fn each_request_makes_the_fewest_dynamodb_calls() {
    let stack = Stack::start().await;
    let phone = unique_phone();

    stack.send(&phone).await;
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["TransactWriteItems"],
        "send: one transaction"
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
        ["UpdateItem", "UpdateItem", "UpdateItem"],
        "right code: the two above, then the approval"
    );

    stack.send(&phone).await; // inside the cooldown
    assert_eq!(
        stack.take_dynamodb_calls(),
        ["TransactWriteItems", "UpdateItem"],
        "a refused send: the refused transaction, then the client counter it did not count"
    );
}

#[tokio::test]
async fn malformed_requests_never_reach_dynamodb() {
    let stack = Stack::start().await;
    stack.verify("+1 415", "123456").await;
    stack.verify(&unique_phone(), "12ab56").await;
    assert!(stack.take_dynamodb_calls().is_empty());
}
