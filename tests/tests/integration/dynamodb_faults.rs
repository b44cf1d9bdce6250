//! DynamoDB answers that DynamoDB Local never gives, from aws-smithy-mocks:
//! a transaction canceled by a concurrent one is retried, then reported as
//! retryable; throttling is retryable (503), never a refused limit; each
//! cancellation reason names its limit.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::{
    ProvisionedThroughputExceededException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use phone_verification::adapters::dynamodb::DynamoDbStore;
use phone_verification::domain::{Limit, Limits, Timestamp};
use phone_verification::ports::{Requester, StoreError, VerificationStore};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn store(rules: &[&Rule]) -> DynamoDbStore {
    let client: Client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |config| {
        config.retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    });
    DynamoDbStore::new(client, "t")
}

/// The send's six writes: number, 10-minute and day windows, client,
/// country budget, global budget.
fn canceled(reasons: [Option<&str>; 7]) -> TransactWriteItemsError {
    let reasons = reasons.map(|code| {
        let mut reason = CancellationReason::builder();
        if let Some(code) = code {
            reason = reason.code(code);
        }
        reason.build()
    });
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons.to_vec()))
            .build(),
    )
}

async fn send(store: &DynamoDbStore) -> Result<Result<(), Limit>, StoreError> {
    let new = integration_tests::new_verification(&integration_tests::unique_number(), NOW);
    let client = integration_tests::unique_client();
    let requester = Requester {
        client: &client,
        ceiling: None,
        country: "US",
        prefix: "+1415555",
    };
    let outcome = store.save_new(&new, requester, &Limits::default()).await?;
    Ok(outcome.map_err(|reached| reached.limit))
}

const CONFLICT: Option<&str> = Some("TransactionConflict");
const FAILED: Option<&str> = Some("ConditionalCheckFailed");
const NONE: Option<&str> = Some("None");

#[tokio::test]
async fn a_send_conflicting_with_another_is_retried_until_it_goes_through() {
    let conflicts = mock!(Client::transact_write_items)
        .sequence()
        .error(|| canceled([NONE, NONE, NONE, NONE, CONFLICT, CONFLICT, NONE]))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    assert_eq!(send(&store(&[&conflicts])).await.unwrap(), Ok(()));
    assert_eq!(conflicts.num_calls(), 3);
}

#[tokio::test]
async fn a_send_that_keeps_conflicting_is_retryable_not_refused() {
    let conflicts = mock!(Client::transact_write_items)
        .sequence()
        .error(|| canceled([NONE, NONE, NONE, NONE, NONE, CONFLICT, NONE]))
        .repeatedly()
        .build();
    let outcome = send(&store(&[&conflicts])).await;
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "{outcome:?}"
    );
    assert_eq!(conflicts.num_calls(), 4, "tried 4 times in all");
}

#[tokio::test]
async fn a_conflict_beside_a_failed_limit_is_the_limit() {
    let refused = mock!(Client::transact_write_items)
        .then_error(|| canceled([NONE, NONE, NONE, NONE, FAILED, CONFLICT, NONE]));
    assert_eq!(
        send(&store(&[&refused])).await.unwrap(),
        Err(Limit::MessagesPerCountryPerHour)
    );
    assert_eq!(refused.num_calls(), 1, "a refused limit is not retried");
}

#[tokio::test]
async fn each_cancellation_reason_names_its_limit() {
    for (index, limit) in [
        (1, Limit::NumberSendsPer10Minutes),
        (2, Limit::NumberSendsPerDay),
        (4, Limit::MessagesPerCountryPerHour),
        (5, Limit::MessagesPerHour),
    ] {
        let mut reasons = [NONE; 7];
        reasons[index] = FAILED;
        let refused = mock!(Client::transact_write_items).then_error(move || canceled(reasons));
        assert_eq!(
            send(&store(&[&refused])).await.unwrap(),
            Err(limit),
            "{index}"
        );
    }
}

#[tokio::test]
async fn a_refused_number_item_explains_the_cooldown() {
    let refused = mock!(Client::transact_write_items).then_error(|| {
        let number = CancellationReason::builder()
            .code("ConditionalCheckFailed")
            .item(
                "last_sent_at",
                AttributeValue::N((NOW.unix_seconds() - 10).to_string()),
            )
            .build();
        let mut reasons = vec![number];
        reasons.extend((0..6).map(|_| CancellationReason::builder().code("None").build()));
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        )
    });
    assert_eq!(
        send(&store(&[&refused])).await.unwrap(),
        Err(Limit::ResendCooldown)
    );
}

#[tokio::test]
async fn throttling_is_retryable_never_a_refusal() {
    let throttled = mock!(Client::transact_write_items).then_error(|| {
        TransactWriteItemsError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("Rate of requests exceeds the allowed throughput.")
                .build(),
        )
    });
    let outcome = send(&store(&[&throttled])).await;
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "{outcome:?}"
    );

    let phone = integration_tests::unique_number();
    let throttled = mock!(Client::update_item).then_error(|| {
        UpdateItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder().build(),
        )
    });
    let check = store(&[&throttled])
        .count_attempt(&phone, NOW, 5, &Limits::default())
        .await;
    assert!(
        matches!(check, Err(StoreError::Unavailable(_))),
        "{check:?}"
    );
}
