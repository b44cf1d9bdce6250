//! When DynamoDB fails, the answer is a retryable 503 that reveals nothing
//! internal, and no message was sent (Parse SDKs retry 5xx answers).

use integration_tests::{Stack, unique_phone};

#[tokio::test]
async fn a_missing_table_gives_503_and_sends_nothing() {
    let stack = Stack::with_env(&[("VERIFICATIONS_TABLE", "no-such-table")]).await;
    let phone = unique_phone();

    for answer in [
        stack.send(&phone).await,
        stack.verify(&phone, "123456").await,
    ] {
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        assert_eq!(answer.body["code"], 1);
        assert_eq!(answer.reason(), "storage_unavailable");
        assert_eq!(answer.headers["retry-after"], "1");
        let text = answer.body.to_string();
        assert!(
            !text.contains("ResourceNotFound") && !text.contains("no-such-table"),
            "{text}"
        );
    }
    assert!(stack.messages().await.is_empty());
}
