//! The providers' circuit breakers as deployed: shared through DynamoDB
//! Local by environments that each keep their own short-lived view, so one
//! environment's failures stop the others, and when the cooldown ends one
//! probe goes through, whatever the number of environments asking at once.

use std::sync::Arc;

use phone_verification::adapters::dynamodb::DynamoDbHealth;
use phone_verification::domain::{BreakerPolicy, Provider, Timestamp};
use phone_verification::ports::{ProviderHealth, ProviderOutcome};

use integration_tests::dynamodb_store;

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_unix_seconds(2_000_000_000).plus_seconds(seconds)
}

#[tokio::test]
async fn five_failures_in_one_environment_open_the_breaker_for_every_environment() {
    let store = dynamodb_store().await;
    let environments: Vec<Arc<DynamoDbHealth>> = (0..20)
        .map(|_| Arc::new(DynamoDbHealth::new(store.clone(), BreakerPolicy::default())))
        .collect();
    let (first, others) = environments.split_first().unwrap();
    for second in 0..4 {
        first
            .record(Provider::Twilio, ProviderOutcome::Failed, at(second))
            .await;
    }
    assert!(
        others[0].admits(Provider::Twilio, at(4)).await,
        "4 failures: still closed"
    );
    first
        .record(Provider::Twilio, ProviderOutcome::Failed, at(5))
        .await;

    // Environments that never saw a failure skip twilio, and only twilio.
    for other in &others[1..] {
        assert!(!other.admits(Provider::Twilio, at(6)).await);
        assert!(other.admits(Provider::Aws, at(6)).await);
    }

    // The cooldown over, 18 environments ask at once: one probes.
    let mut asks = tokio::task::JoinSet::new();
    for other in &others[1..] {
        let other = Arc::clone(other);
        asks.spawn(async move { other.admits(Provider::Twilio, at(66)).await });
    }
    let admitted = asks
        .join_all()
        .await
        .into_iter()
        .filter(|&admitted| admitted);
    assert_eq!(admitted.count(), 1, "exactly one probe");

    // The probe succeeds: closed for everyone (after their 2 s view).
    others[1]
        .record(Provider::Twilio, ProviderOutcome::Answered, at(67))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    for other in &others[2..] {
        assert!(other.admits(Provider::Twilio, at(68)).await);
    }
}

#[tokio::test]
async fn a_failed_probe_opens_the_breaker_for_another_cooldown() {
    let store = dynamodb_store().await;
    let health = DynamoDbHealth::new(store.clone(), BreakerPolicy::default());
    for second in 0..5 {
        health
            .record(Provider::Plivo, ProviderOutcome::Failed, at(second))
            .await;
    }
    assert!(health.admits(Provider::Plivo, at(64)).await, "the probe");
    health
        .record(Provider::Plivo, ProviderOutcome::Failed, at(65))
        .await;
    let fresh = DynamoDbHealth::new(store, BreakerPolicy::default());
    assert!(!fresh.admits(Provider::Plivo, at(124)).await);
    assert!(fresh.admits(Provider::Plivo, at(125)).await);
}

#[tokio::test]
async fn an_unreachable_table_admits_every_provider() {
    let store = phone_verification::adapters::dynamodb::DynamoDbStore::new(
        integration_tests::dynamodb().await,
        "no-such-table",
    );
    let health = DynamoDbHealth::new(store, BreakerPolicy::default());
    for second in 0..10 {
        health
            .record(Provider::Twilio, ProviderOutcome::Failed, at(second))
            .await;
    }
    assert!(health.admits(Provider::Twilio, at(10)).await);
}
