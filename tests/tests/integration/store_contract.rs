//! One contract for both stores: every case runs against the in-memory store
//! (the unit tests' and benchmarks') and the DynamoDB store over DynamoDB
//! Local, so the two cannot drift apart.

use phone_verification::adapters::memory::InMemoryStore;
use phone_verification::domain::{
    Channel, Limit, LimitReached, Limits, Provider, Pseudonym, Restriction, Scope, Timestamp,
    Traffic, Window,
};
use phone_verification::ports::{
    Approval, AttemptRefused, Claim, CurrentVerification, Destination, IDEMPOTENCY_ANSWER_SECONDS,
    IDEMPOTENCY_LEASE_SECONDS, IdempotencyStore, NewVerification, Requester, VerificationStatus,
    VerificationStore,
};

trait Store: VerificationStore + IdempotencyStore {}
impl<S: VerificationStore + IdempotencyStore> Store for S {}

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);
const LIFETIME: u64 = 600;

use integration_tests::{new_verification as code_for, unique_client, unique_number as new_phone};

/// A fresh client per call, so that one case's sends do not spend another's allowance.
fn requester(client: &Pseudonym) -> Requester<'_> {
    Requester {
        client,
        ceiling: None,
        country: "US",
        prefix: "+1415555",
    }
}

/// A send to the contract's range, to `number`.
fn to(number: &Pseudonym) -> Destination<'_> {
    Destination {
        prefix: "+1415555",
        country: "US",
        number,
    }
}

async fn send(store: &impl Store, new: &NewVerification) -> Result<(), Limit> {
    send_until(store, new)
        .await
        .map_err(|reached| reached.limit)
}

/// A send, refused with its limit and when to try again.
async fn send_until(store: &impl Store, new: &NewVerification) -> Result<(), LimitReached> {
    let client = unique_client();
    store
        .save_new(new, requester(&client), &Limits::default())
        .await
        .expect("the store answers")
}

/// A call to `phone` at `at`, as the fallback of a pending SMS.
fn fallback_call(phone: &Pseudonym, at: Timestamp) -> NewVerification {
    NewVerification {
        channel: Channel::Call,
        fallback_from: Some(Channel::Sms),
        ..code_for(phone, at)
    }
}

fn refused(limit: Limit, retry_after_seconds: u64) -> Result<(), LimitReached> {
    Err(LimitReached {
        limit,
        retry_after_seconds,
    })
}

async fn attempt(
    store: &impl Store,
    phone: &Pseudonym,
    at: Timestamp,
) -> Result<u32, AttemptRefused> {
    store
        .count_attempt(phone, at, 3, &Limits::default())
        .await
        .expect("the store answers")
        .map(|counted| counted.attempts)
}

async fn a_code_is_counted_approved_once_and_then_spent(store: impl Store) {
    let phone = new_phone();
    let new = code_for(&phone, T0);
    send(&store, &new).await.unwrap();
    let counted = store
        .count_attempt(&phone, T0, 3, &Limits::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (counted.verification.id.as_str(), counted.attempts),
        (new.id.as_str(), 1)
    );
    assert_eq!(counted.key_id, "k1");
    assert_eq!(
        store.approve(&phone, &new.id, T0).await.unwrap(),
        Approval::Approved
    );
    assert_eq!(
        store.approve(&phone, &new.id, T0).await.unwrap(),
        Approval::AlreadyApproved
    );
    assert_eq!(
        attempt(&store, &phone, T0).await,
        Err(AttemptRefused::AlreadyApproved)
    );
}

async fn attempts_run_out_and_codes_expire(store: impl Store) {
    let phone = new_phone();
    send(&store, &code_for(&phone, T0)).await.unwrap();
    for expected in 1..=3 {
        assert_eq!(attempt(&store, &phone, T0).await, Ok(expected));
    }
    assert_eq!(
        attempt(&store, &phone, T0).await,
        Err(AttemptRefused::AttemptsExhausted)
    );

    let other = new_phone();
    send(&store, &code_for(&other, T0)).await.unwrap();
    let after = T0.plus_seconds(LIFETIME);
    assert_eq!(
        attempt(&store, &other, after).await,
        Err(AttemptRefused::NoPendingVerification)
    );
    assert_eq!(
        attempt(&store, &new_phone(), T0).await,
        Err(AttemptRefused::NoPendingVerification)
    );
}

async fn a_new_code_waits_out_the_cooldown_and_replaces_the_old(store: impl Store) {
    let phone = new_phone();
    let first = code_for(&phone, T0);
    send(&store, &first).await.unwrap();
    attempt(&store, &phone, T0).await.unwrap();
    assert_eq!(
        send(&store, &code_for(&phone, T0.plus_seconds(59))).await,
        Err(Limit::ResendCooldown)
    );
    let second = code_for(&phone, T0.plus_seconds(60));
    send(&store, &second).await.unwrap();
    assert_eq!(
        store
            .approve(&phone, &first.id, T0.plus_seconds(61))
            .await
            .unwrap(),
        Approval::Replaced
    );
    // The new code starts with all its attempts.
    assert_eq!(attempt(&store, &phone, T0.plus_seconds(61)).await, Ok(1));
}

async fn a_withdrawn_code_is_gone_and_lifts_the_cooldown_once(store: impl Store) {
    let phone = new_phone();
    let new = code_for(&phone, T0);
    send(&store, &new).await.unwrap();
    assert!(store.withdraw(&phone, &new.id, T0).await.unwrap());
    assert!(
        !store.withdraw(&phone, &new.id, T0).await.unwrap(),
        "withdrawn twice"
    );
    assert_eq!(
        attempt(&store, &phone, T0).await,
        Err(AttemptRefused::NoPendingVerification)
    );
    send(&store, &code_for(&phone, T0.plus_seconds(1)))
        .await
        .unwrap();
    // A report about an older code changes nothing.
    assert!(!store.withdraw(&phone, &new.id, T0).await.unwrap());
    assert_eq!(attempt(&store, &phone, T0.plus_seconds(1)).await, Ok(1));
}

async fn a_pending_code_falls_back_once_after_the_shorter_wait(store: impl Store) {
    let phone = new_phone();
    send(&store, &code_for(&phone, T0)).await.unwrap();
    let early = fallback_call(&phone, T0.plus_seconds(29));
    assert_eq!(
        send_until(&store, &early).await,
        refused(Limit::ResendCooldown, 1)
    );
    // A call that is no fallback waits the whole cooldown.
    let plain_call = NewVerification {
        fallback_from: None,
        ..fallback_call(&phone, T0.plus_seconds(30))
    };
    assert_eq!(
        send_until(&store, &plain_call).await,
        refused(Limit::ResendCooldown, 30)
    );
    send(&store, &fallback_call(&phone, T0.plus_seconds(30)))
        .await
        .unwrap();
    // The code now pending is the call: no second fallback.
    assert_eq!(
        send_until(&store, &fallback_call(&phone, T0.plus_seconds(60))).await,
        refused(Limit::ResendCooldown, 30)
    );

    // An approved code earns none.
    let phone = new_phone();
    let approved = code_for(&phone, T0);
    send(&store, &approved).await.unwrap();
    store.approve(&phone, &approved.id, T0).await.unwrap();
    assert_eq!(
        send_until(&store, &fallback_call(&phone, T0.plus_seconds(30))).await,
        refused(Limit::ResendCooldown, 30)
    );
}

async fn a_number_takes_3_calls_a_day(store: impl Store) {
    let phone = new_phone();
    let call = |n: u64| NewVerification {
        channel: Channel::Call,
        ..code_for(&phone, T0.plus_seconds(61 * n))
    };
    for n in 0..3 {
        send(&store, &call(n)).await.unwrap();
    }
    let day_ends = Window::containing(T0, Window::DAY).ends_at;
    let fourth = call(3);
    assert_eq!(
        send_until(&store, &fourth).await,
        refused(
            Limit::NumberCallsPerDay,
            (day_ends.unix_seconds() - fourth.created_at.unix_seconds()) as u64
        )
    );
    // Texts are bounded by their own limits.
    send(&store, &code_for(&phone, T0.plus_seconds(61 * 3)))
        .await
        .unwrap();
}

async fn a_number_takes_5_codes_per_10_minutes(store: impl Store) {
    let phone = new_phone();
    // Each send after the cooldown: the fixed 10-minute window counts them all.
    for n in 0..5 {
        let new = code_for(&phone, T0.plus_seconds(61 * n));
        send(&store, &new).await.unwrap();
    }
    assert_eq!(
        send(&store, &code_for(&phone, T0.plus_seconds(61 * 5))).await,
        Err(Limit::NumberSendsPer10Minutes)
    );
}

async fn a_client_has_an_hourly_allowance(store: impl Store) {
    let limits = Limits {
        client_requests_per_hour: 3,
        ..Limits::default()
    };
    let client = unique_client();
    for _ in 0..3 {
        store
            .count_client_request(&client, None, T0, &limits)
            .await
            .unwrap()
            .unwrap();
    }
    let refused = store
        .count_client_request(&client, None, T0, &limits)
        .await
        .unwrap();
    assert_eq!(refused.map_err(|r| r.limit), Err(Limit::ClientRequests));
}

/// A Verify API key's ceiling counts the requests and sends of all its
/// `DeviceIp` clients: fresh clients get no more past it.
async fn an_api_key_ceiling_holds_over_fresh_clients(store: impl Store) {
    let limits = Limits {
        api_key_requests_per_hour: 3,
        api_key_sends_per_hour: 2,
        ..Limits::default()
    };
    let key = unique_client();
    for _ in 0..3 {
        let fresh = unique_client();
        store
            .count_client_request(&fresh, Some(&key), T0, &limits)
            .await
            .unwrap()
            .unwrap();
    }
    let refused = store
        .count_client_request(&unique_client(), Some(&key), T0, &limits)
        .await
        .unwrap();
    assert_eq!(refused.map_err(|r| r.limit), Err(Limit::ClientRequests));

    let key = unique_client();
    let send_as = |client: Pseudonym| {
        let key = key.clone();
        let store = &store;
        let limits = &limits;
        async move {
            let new = code_for(&new_phone(), T0);
            let requester = Requester {
                ceiling: Some(&key),
                ..requester(&client)
            };
            store
                .save_new(&new, requester, limits)
                .await
                .unwrap()
                .map_err(|r| r.limit)
        }
    };
    assert_eq!(send_as(unique_client()).await, Ok(()));
    assert_eq!(send_as(unique_client()).await, Ok(()));
    assert_eq!(send_as(unique_client()).await, Err(Limit::ClientSends));
}

/// An approval after the code's lifetime is refused, even when the
/// attempt was counted in time.
async fn an_expired_code_is_not_approved(store: impl Store) {
    let phone = new_phone();
    let new = code_for(&phone, T0);
    send(&store, &new).await.unwrap();
    attempt(&store, &phone, T0.plus_seconds(LIFETIME - 1))
        .await
        .unwrap();
    assert_eq!(
        store
            .approve(&phone, &new.id, T0.plus_seconds(LIFETIME))
            .await
            .unwrap(),
        Approval::Expired
    );
}

async fn an_idempotency_key_is_leased_then_replayed_for_a_day(store: impl Store) {
    let key = phone_verification::domain::VerificationId::random();
    let key = key.as_str();
    assert_eq!(store.claim(key, T0).await.unwrap(), Claim::First);
    assert_eq!(store.claim(key, T0).await.unwrap(), Claim::InProgress);
    // A request that died holding the key blocks retries for the lease only.
    let lease_over = T0.plus_seconds(IDEMPOTENCY_LEASE_SECONDS);
    assert_eq!(store.claim(key, lease_over).await.unwrap(), Claim::First);
    store
        .complete(key, "{\"sent\":1}", lease_over)
        .await
        .unwrap();
    assert_eq!(
        store.claim(key, lease_over.plus_seconds(1)).await.unwrap(),
        Claim::Replay("{\"sent\":1}".into())
    );
    let day_over = lease_over.plus_seconds(IDEMPOTENCY_ANSWER_SECONDS);
    assert_eq!(store.claim(key, day_over).await.unwrap(), Claim::First);
    store.release(key, day_over).await.unwrap();
    assert_eq!(store.claim(key, day_over).await.unwrap(), Claim::First);
}

async fn traffic_counts_sends_and_approvals_and_keeps_restrictions(store: impl Store) {
    let limits = Limits::default();
    for _ in 0..3 {
        send(&store, &code_for(&new_phone(), T0)).await.unwrap();
    }
    let verified = new_phone();
    store
        .count_approval(to(&verified), T0.plus_seconds(86_400), T0, &limits)
        .await
        .unwrap();
    let now = store.traffic(to(&new_phone()), T0, &limits).await.unwrap();
    let three_one = Traffic {
        sends: 3,
        approvals: 1,
    };
    assert_eq!((now.prefix, now.country), (three_one, three_one));
    assert_eq!(now.country_previous_hour, Traffic::default());
    assert_eq!(now.prefix_restriction, None);

    let restriction = Restriction {
        until: T0.plus_seconds(60),
        times: 1,
        exempt_until: None,
    };
    let scope = Scope::Prefix("+1415555".into());
    store.restrict(&scope, restriction, T0).await.unwrap();
    let next_hour = store
        .traffic(to(&new_phone()), T0.plus_seconds(3_600), &limits)
        .await
        .unwrap();
    assert_eq!(next_hour.prefix, Traffic::default());
    assert_eq!(next_hour.country_previous_hour, three_one);
    assert_eq!(next_hour.prefix_restriction, Some(restriction));
    assert_eq!(next_hour.country_restriction, None);
}

/// An approval remembers its number as verified until the given time (it
/// then passes fraud protection's restrictions); other numbers are not.
async fn a_verified_number_is_remembered_until_its_time(store: impl Store) {
    let limits = Limits::default();
    let (verified, other) = (new_phone(), new_phone());
    let until = T0.plus_seconds(90 * 86_400);
    store
        .count_approval(to(&verified), until, T0, &limits)
        .await
        .unwrap();
    let seen = async |number, at| {
        store
            .traffic(to(number), at, &limits)
            .await
            .unwrap()
            .verified_before
    };
    assert!(seen(&verified, T0).await);
    assert!(seen(&verified, T0.plus_seconds(90 * 86_400 - 1)).await);
    assert!(!seen(&verified, until).await, "forgotten at its time");
    assert!(!seen(&other, T0).await);
}

/// A budget of a million an hour is spread over 10 items: the country's
/// traffic is still every send and approval.
async fn a_sharded_budget_still_counts_every_send_and_approval(store: impl Store) {
    let limits = Limits {
        messages_per_country_per_hour: 1_000_000,
        ..Limits::default()
    };
    for _ in 0..30 {
        let client = unique_client();
        let sent = store
            .save_new(&code_for(&new_phone(), T0), requester(&client), &limits)
            .await
            .unwrap();
        assert_eq!(sent, Ok(()));
    }
    for _ in 0..12 {
        store
            .count_approval(to(&new_phone()), T0, T0, &limits)
            .await
            .unwrap();
    }
    let traffic = store.traffic(to(&new_phone()), T0, &limits).await.unwrap();
    let expected = Traffic {
        sends: 30,
        approvals: 12,
    };
    assert_eq!((traffic.prefix, traffic.country), (expected, expected));
}

/// What the Verify API shows of a number's current verification, through
/// its approval and through a withdrawal.
async fn the_current_verification_is_read_back_as_it_stands(store: impl Store) {
    let expected = |new: &NewVerification, status| CurrentVerification {
        id: new.id.clone(),
        channel: new.channel,
        provider: new.provider,
        status,
        created_at: new.created_at,
        expires_at: new.expires_at,
    };
    let phone = new_phone();
    assert_eq!(store.current(&phone).await.unwrap(), None);
    let new = code_for(&phone, T0);
    send(&store, &new).await.unwrap();
    assert_eq!(
        store.current(&phone).await.unwrap(),
        Some(expected(&new, VerificationStatus::Pending))
    );
    store.approve(&phone, &new.id, T0).await.unwrap();
    assert_eq!(
        store.current(&phone).await.unwrap(),
        Some(expected(&new, VerificationStatus::Approved))
    );

    let phone = new_phone();
    let new = code_for(&phone, T0);
    send(&store, &new).await.unwrap();
    assert!(store.withdraw(&phone, &new.id, T0).await.unwrap());
    assert_eq!(
        store.current(&phone).await.unwrap(),
        Some(expected(&new, VerificationStatus::Withdrawn))
    );
}

/// Which provider sent a code: the expected one until a failover records
/// another, and a stale record never touches a newer code.
async fn a_code_remembers_the_provider_that_sent_it(store: impl Store) {
    let provider = async |phone| store.current(phone).await.unwrap().unwrap().provider;
    let phone = new_phone();
    let first = code_for(&phone, T0);
    send(&store, &first).await.unwrap();
    assert_eq!(provider(&phone).await, Some(Provider::Twilio));
    store
        .record_provider(&phone, &first.id, Provider::Plivo)
        .await
        .unwrap();
    assert_eq!(provider(&phone).await, Some(Provider::Plivo));
    // A test number's code (no provider) after the cooldown.
    let later = T0.plus_seconds(3_600);
    let second = NewVerification {
        provider: None,
        ..code_for(&phone, later)
    };
    send(&store, &second).await.unwrap();
    assert_eq!(provider(&phone).await, None);
    store
        .record_provider(&phone, &first.id, Provider::Aws)
        .await
        .unwrap();
    assert_eq!(
        provider(&phone).await,
        None,
        "a stale record changes nothing"
    );
}

macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        mod in_memory {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::InMemoryStore::default()).await
            })+
        }
        mod dynamodb_local {
            $(#[tokio::test]
            async fn $case() {
                super::$case(integration_tests::dynamodb_store().await).await
            })+
        }
    };
}

contract!(
    a_code_is_counted_approved_once_and_then_spent,
    attempts_run_out_and_codes_expire,
    a_new_code_waits_out_the_cooldown_and_replaces_the_old,
    a_withdrawn_code_is_gone_and_lifts_the_cooldown_once,
    a_pending_code_falls_back_once_after_the_shorter_wait,
    a_number_takes_3_calls_a_day,
    a_number_takes_5_codes_per_10_minutes,
    a_client_has_an_hourly_allowance,
    an_api_key_ceiling_holds_over_fresh_clients,
    an_expired_code_is_not_approved,
    an_idempotency_key_is_leased_then_replayed_for_a_day,
    traffic_counts_sends_and_approvals_and_keeps_restrictions,
    a_sharded_budget_still_counts_every_send_and_approval,
    a_verified_number_is_remembered_until_its_time,
    the_current_verification_is_read_back_as_it_stands,
    a_code_remembers_the_provider_that_sent_it,
);
