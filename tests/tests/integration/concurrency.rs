//! Limits must hold when requests race: every check is counted by one
//! conditional write in DynamoDB before the code is compared.

use std::sync::Arc;

use integration_tests::{Answer, Stack, unique_phone};
use tokio::task::JoinSet;

/// Runs `count` verifications of `code` at once on the multi-thread runtime.
async fn verify_in_parallel(
    stack: &Arc<Stack>,
    phone: &str,
    code: &str,
    count: usize,
) -> Vec<Answer> {
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let (stack, phone, code) = (Arc::clone(stack), phone.to_owned(), code.to_owned());
        tasks.spawn(async move { stack.verify(&phone, &code).await });
    }
    tasks.join_all().await
}

fn count(answers: &[Answer], reason: &str) -> usize {
    answers.iter().filter(|a| a.reason() == reason).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_wrong_codes_are_evaluated_at_most_five_times() {
    let stack = Arc::new(Stack::start().await);
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;
    let wrong = stack.wrong_code_for(&phone).await;

    let answers = verify_in_parallel(&stack, &phone, &wrong, 50).await;

    assert_eq!(count(&answers, "incorrect_code"), 5, "evaluated guesses");
    assert_eq!(count(&answers, "max_attempts_reached"), 45);
    let right = stack.verify(&phone, &code).await;
    assert_eq!(
        right.reason(),
        "max_attempts_reached",
        "the right code is refused after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_parallel_right_codes_approve_exactly_once() {
    let stack = Arc::new(Stack::start().await);
    let phone = unique_phone();
    stack.send(&phone).await;
    let code = stack.code_sent_to(&phone).await;

    let answers = verify_in_parallel(&stack, &phone, &code, 10).await;

    let approved = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(approved, 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.status != 200) {
        assert!(
            ["code_already_used", "max_attempts_reached"].contains(&answer.reason()),
            "{answer:?}"
        );
    }
}

/// The right code checked while a resend replaces it: the answer used to be
/// `code_already_used`, which misleads; it is `code_replaced` ("enter the
/// newer code"), and the newer code works. Interleaved at the store, where
/// the race happens.
#[tokio::test]
async fn the_right_code_racing_a_resend_is_told_it_was_replaced() {
    use phone_verification::domain::{Limits, PhoneNumber};
    use phone_verification::ports::{Approval, Clock, VerificationStore};

    let stack = Stack::start().await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    let store = stack.send_api.service().store();
    let parsed = stack
        .send_api
        .service()
        .pseudonym(&PhoneNumber::parse(&phone, None).unwrap());
    let now = stack.clock.now();
    let counted = store
        .count_attempt(&parsed, now, 5, &Limits::default())
        .await
        .unwrap()
        .unwrap();
    // Meanwhile the user asked for a new code.
    stack.clock.advance(61);
    assert_eq!(stack.send(&phone).await.status, 200);
    let newer = stack.code_sent_to(&phone).await;
    let approve_counted = async || {
        store
            .approve(&parsed, &counted.verification.id, stack.clock.now())
            .await
    };
    assert_eq!(approve_counted().await.unwrap(), Approval::Replaced);
    assert_eq!(stack.verify(&phone, &newer).await.status, 200);
    assert_eq!(approve_counted().await.unwrap(), Approval::Replaced);
}
