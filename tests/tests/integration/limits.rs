//! Every abuse limit against DynamoDB Local, through the real handlers: just
//! under passes, at the limit refuses with its reason and `Retry-After`, and
//! once the window has passed (moved clock) it allows again.

use std::sync::Arc;

use integration_tests::{Answer, Function, Stack, unique_phone};
use serde_json::json;
use tokio::task::JoinSet;

/// Asserts a 429 with `reason`, Parse code 155 and a matching `Retry-After`.
pub(crate) fn assert_limited(answer: &Answer, reason: &str, retry_after: u64) {
    assert_eq!(answer.status, 429, "{:?}", answer.body);
    assert_eq!(answer.body["code"], 155);
    assert_eq!(answer.reason(), reason);
    assert_eq!(answer.headers["retry-after"], retry_after.to_string());
    assert_eq!(answer.body["retryAfter"], retry_after);
}

#[tokio::test]
async fn resend_cooldown_is_60_seconds() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    let sent = stack.send(&phone).await;
    assert_eq!(sent.status, 200);
    let expires = sent.body["result"]["expiresAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let resend = sent.body["result"]["resendAvailableAt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(resend < expires, "resend {resend} before expiry {expires}");

    assert_limited(&stack.send(&phone).await, "resend_too_soon", 60);
    stack.clock.advance(59);
    assert_limited(&stack.send(&phone).await, "resend_too_soon", 1);
    stack.clock.advance(1);
    assert_eq!(stack.send(&phone).await.status, 200);
    assert_eq!(
        stack.messages().await.len(),
        2,
        "refused sends reach no one"
    );
}

#[tokio::test]
async fn at_most_5_codes_per_number_per_10_minutes() {
    let stack = Stack::with_env(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    stack.align_to_window(600);
    let phone = unique_phone();
    for _ in 0..5 {
        assert_eq!(stack.send(&phone).await.status, 200);
        stack.clock.advance(10);
    }
    assert_limited(&stack.send(&phone).await, "too_many_codes_10_minutes", 550);
    stack.clock.advance(550);
    assert_eq!(stack.send(&phone).await.status, 200);
    assert_eq!(stack.messages().await.len(), 6);
}

#[tokio::test]
async fn at_most_10_codes_per_number_per_day() {
    let stack = Stack::with_env(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    stack.align_to_window(86_400);
    let phone = unique_phone();
    for _ in 0..10 {
        assert_eq!(stack.send(&phone).await.status, 200);
        stack.clock.advance(600); // a new 10-minute window each time
    }
    assert_limited(
        &stack.send(&phone).await,
        "too_many_codes_24_hours",
        86_400 - 6_000,
    );
    stack.clock.advance(86_400 - 6_000);
    assert_eq!(stack.send(&phone).await.status, 200);
}

#[tokio::test]
async fn each_client_ip_has_an_hourly_allowance_for_sends_and_checks() {
    let stack = Stack::with_env(&[("MAX_REQUESTS_PER_CLIENT_PER_HOUR", "3")]).await;
    stack.align_to_window(3_600);
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    assert_eq!(stack.send(&unique_phone()).await.status, 200);
    let wrong = stack.wrong_code_for(&phone).await;
    assert_eq!(
        stack.verify(&phone, &wrong).await.reason(),
        "incorrect_code"
    );

    assert_limited(
        &stack.send(&unique_phone()).await,
        "too_many_requests_from_client",
        3_600,
    );
    assert_limited(
        &stack.verify(&phone, &wrong).await,
        "too_many_requests_from_client",
        3_600,
    );
    assert_eq!(stack.messages().await.len(), 2);

    stack.clock.advance(3_600);
    assert_eq!(stack.send(&unique_phone()).await.status, 200);
}

/// `times` wrong guesses at the number's current code, each refused as such.
async fn guess_wrong(stack: &Stack, phone: &str, times: usize) {
    let wrong = stack.wrong_code_for(phone).await;
    for _ in 0..times {
        assert_eq!(stack.verify(phone, &wrong).await.reason(), "incorrect_code");
    }
}

#[tokio::test]
async fn consecutive_wrong_codes_lock_the_number_across_codes() {
    let stack = Stack::with_env(&[
        ("LOCKOUT_AFTER_FAILED_CHECKS", "7"),
        ("LOCKOUT_SECONDS", "3600"),
    ])
    .await;
    let phone = unique_phone();
    stack.send(&phone).await;
    guess_wrong(&stack, &phone, 5).await;
    // A fresh code does not reset the count of consecutive failures.
    stack.clock.advance(60);
    assert_eq!(stack.send(&phone).await.status, 200);
    let code = stack.code_sent_to(&phone).await;
    guess_wrong(&stack, &phone, 2).await;
    assert_limited(&stack.verify(&phone, &code).await, "number_locked", 3_600);
    stack.clock.advance(100);
    assert_limited(&stack.send(&phone).await, "number_locked", 3_500);

    stack.clock.advance(3_500);
    assert_eq!(stack.send(&phone).await.status, 200);
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(stack.verify(&phone, &code).await.status, 200);
}

/// A lock that ran out forgives: the owner's first typo afterwards does not
/// lock them out for another full period; the count starts again, so a
/// slow brute force still meets a lock every LOCKOUT_AFTER_FAILED_CHECKS.
#[tokio::test]
async fn after_a_lock_runs_out_one_typo_does_not_lock_again() {
    let stack = Stack::with_env(&[
        ("LOCKOUT_AFTER_FAILED_CHECKS", "5"),
        ("LOCKOUT_SECONDS", "3600"),
    ])
    .await;
    let phone = unique_phone();
    stack.send(&phone).await;
    guess_wrong(&stack, &phone, 5).await;
    assert_eq!(stack.send(&phone).await.reason(), "number_locked");

    stack.clock.advance(3_600);
    assert_eq!(stack.send(&phone).await.status, 200);
    let code = stack.code_sent_to(&phone).await;
    let typo = stack.wrong_code_for(&phone).await;
    let answer = stack.verify(&phone, &typo).await;
    assert_eq!(answer.reason(), "incorrect_code");
    assert_eq!(answer.body["attemptsRemaining"], 4);
    assert_eq!(
        stack.verify(&phone, &code).await.status,
        200,
        "not locked again"
    );

    // An attacker after the lock gets the limit again, not more.
    stack.clock.advance(60);
    stack.send(&phone).await;
    guess_wrong(&stack, &phone, 5).await;
    stack.clock.advance(60);
    assert_eq!(stack.send(&phone).await.reason(), "number_locked");
}

#[tokio::test]
async fn the_hourly_message_budget_caps_all_sends() {
    let stack = Stack::with_env(&[("MAX_MESSAGES_PER_HOUR", "3")]).await;
    stack.align_to_window(3_600);
    for _ in 0..3 {
        assert_eq!(stack.send(&unique_phone()).await.status, 200);
    }
    assert_limited(
        &stack.send(&unique_phone()).await,
        "message_budget_exhausted",
        3_600,
    );
    assert_eq!(stack.messages().await.len(), 3);
    stack.clock.advance(3_600);
    assert_eq!(stack.send(&unique_phone()).await.status, 200);
}

#[tokio::test]
async fn each_country_has_its_own_hourly_budget() {
    let stack = Stack::with_env(&[("MAX_MESSAGES_PER_COUNTRY_PER_HOUR", "2")]).await;
    stack.align_to_window(3_600);
    for _ in 0..2 {
        assert_eq!(stack.send(&unique_phone()).await.status, 200);
    }
    assert_limited(
        &stack.send(&unique_phone()).await,
        "country_budget_exhausted",
        3_600,
    );
    let uk_mobile = stack
        .call(Function::Send, json!({ "phoneNumber": "+447911123456" }))
        .await;
    assert_eq!(
        uk_mobile.status, 200,
        "another country still has its budget"
    );
}

#[tokio::test]
async fn destinations_are_checked_before_anything_is_sent() {
    let stack = Stack::with_env(&[("DENIED_COUNTRIES", "FR")]).await;
    for (number, reason) in [
        ("+33612345678", "country_not_allowed"),
        ("+449098790000", "premium_rate_number"),
        ("+442079460958", "number_cannot_receive_sms"),
        // Satellite and international networks belong to no country: refused
        // unless the allow-list names "001" (classic SMS pumping targets).
        ("+881612345678", "country_not_allowed"),
        ("+870773111632", "country_not_allowed"),
        ("+883510012345", "country_not_allowed"),
    ] {
        let answer = stack
            .call(Function::Send, json!({ "phoneNumber": number }))
            .await;
        assert_eq!(answer.status, 400, "{number}");
        assert_eq!(answer.body["code"], 142);
        assert_eq!(answer.reason(), reason, "{number}");
    }
    let allow_list = Stack::with_env(&[("ALLOWED_COUNTRIES", "US,CA")]).await;
    let german = allow_list
        .call(Function::Send, json!({ "phoneNumber": "+4915123456789" }))
        .await;
    assert_eq!(german.reason(), "country_not_allowed");
    assert_eq!(allow_list.send(&unique_phone()).await.status, 200);
    assert!(stack.messages().await.is_empty());

    let satellites = Stack::with_env(&[("ALLOWED_COUNTRIES", "US,001")]).await;
    assert_eq!(satellites.send("+881612345678").await.status, 200);
}

async fn test_number_stack() -> Stack {
    use phone_verification::{adapters::clock::SystemClock, ports::Clock};
    // A review window: a month from now (at most 90 days are accepted).
    let valid_until = SystemClock.now().plus_seconds(30 * 86_400).to_string();
    Stack::with_env(&[
        ("ENABLE_TEST_PHONE_NUMBERS", "true"),
        ("TEST_PHONE_NUMBERS", "+14155550199=246810"),
        ("TEST_PHONE_NUMBERS_VALID_UNTIL", &valid_until),
    ])
    .await
}

#[tokio::test]
async fn test_numbers_never_reach_twilio_and_verify_with_their_fixed_code() {
    let stack = test_number_stack().await;
    assert_eq!(stack.send("+14155550199").await.status, 200);
    assert_eq!(
        stack.verify("+14155550199", "135790").await.reason(),
        "incorrect_code"
    );
    assert_eq!(stack.verify("+14155550199", "246810").await.status, 200);
    assert!(stack.twilio.received_requests().await.unwrap().is_empty());
    // Stored as any code: its MAC, never the code.
    let item = stack.stored_item("+14155550199").await.expect("an item");
    assert!(!format!("{item:?}").contains("246810"));
}

/// Whoever learns a test number's fixed code (it is in the configuration)
/// or guesses it meets the limits of any number: the attempts of the code,
/// the cooldown, and the lockout; `attemptsRemaining` counts down.
#[tokio::test]
async fn a_test_number_is_guessed_against_the_same_attempts_and_cooldown() {
    let stack = test_number_stack().await;
    assert_eq!(stack.send("+14155550199").await.status, 200);
    assert_eq!(stack.send("+14155550199").await.reason(), "resend_too_soon");
    for remaining in (0..5).rev() {
        let wrong = stack.verify("+14155550199", "135790").await;
        assert_eq!(wrong.reason(), "incorrect_code");
        assert_eq!(wrong.body["attemptsRemaining"], remaining, "{wrong:?}");
    }
    assert_eq!(
        stack.verify("+14155550199", "246810").await.reason(),
        "max_attempts_reached",
        "the fixed code no longer works once the attempts are spent"
    );
    assert!(stack.twilio.received_requests().await.unwrap().is_empty());
}

async fn send_in_parallel(stack: &Arc<Stack>, phones: Vec<String>) -> Vec<Answer> {
    let mut tasks = JoinSet::new();
    for phone in phones {
        let stack = Arc::clone(stack);
        tasks.spawn(async move { stack.send(&phone).await });
    }
    tasks.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_sends_to_one_number_send_one_message() {
    let stack = Arc::new(Stack::start().await);
    let phone = unique_phone();
    let answers = send_in_parallel(&stack, vec![phone; 20]).await;
    assert_eq!(
        answers.iter().filter(|a| a.status == 200).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 || a.reason() == "resend_too_soon"),
        "{answers:?}"
    );
    assert_eq!(stack.messages().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_of_20_holds_against_100_parallel_sends() {
    let stack = Arc::new(
        Stack::with_env(&[
            ("MAX_MESSAGES_PER_HOUR", "20"),
            ("MAX_SENDS_PER_CLIENT_PER_HOUR", "1000"),
        ])
        .await,
    );
    stack.align_to_window(3_600);
    let phones = (0..100).map(|_| unique_phone()).collect();
    let answers = send_in_parallel(&stack, phones).await;
    let sent = stack.messages().await.len();
    let refused = answers
        .iter()
        .filter(|a| a.reason() == "message_budget_exhausted")
        .count();
    println!("100 parallel sends: {sent} sent, {refused} refused");
    assert_eq!(sent, 20, "against a budget of 20");
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), sent);
    assert_eq!(sent + refused, 100, "{answers:?}");
    assert!(refused > 0, "the budget never refused a send");
}

/// A number's item keeps a fixed set of attributes however many sends it
/// sees: the windows' counters are items of their own, which expire.
#[tokio::test]
async fn a_numbers_item_does_not_grow_with_its_sends() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    let first = stack.stored_item(&phone).await.unwrap();
    let mut sent = 1;
    for n in 1..100 {
        // Every gap: the cooldown, a new 10-minute window, a new day.
        stack.clock.advance([61, 601, 86_401][n % 3]);
        if stack.send(&phone).await.status == 200 {
            sent += 1;
        }
    }
    let last = stack.stored_item(&phone).await.unwrap();
    let size = |item: &std::collections::HashMap<String, _>| {
        item.iter()
            .map(|(name, value)| name.len() + format!("{value:?}").len())
            .sum::<usize>()
    };
    println!(
        "after {sent} sends over 100 windows: {} attributes, ~{} bytes (after 1 send: {}, ~{})",
        last.len(),
        size(&last),
        first.len(),
        size(&first)
    );
    assert!(sent >= 90, "{sent}");
    let mut names: Vec<_> = last.keys().collect();
    names.sort();
    let mut first_names: Vec<_> = first.keys().collect();
    first_names.sort();
    assert_eq!(
        names, first_names,
        "the same attributes, none added per window"
    );
}

/// Budget exhaustion as a denial of service: from 2 addresses, 300 sends to
/// random US numbers used to spend the US hourly budget (200) and lock real
/// users out for the rest of the hour. Each address may now send 10 codes an
/// hour (its checks keep their own, larger allowance), so spending a
/// country's default budget takes 20 addresses, and the global one 100.
#[tokio::test]
async fn a_few_addresses_cannot_spend_a_budget_everyone_shares() {
    let stack = Stack::start().await;
    stack.align_to_window(3_600);
    let random_us = |n: usize| {
        format!(
            "+1{}{}{:04}",
            [415, 212, 312][n % 3],
            201 + n / 10_000,
            n % 10_000
        )
    };
    let mut attack_sent = 0;
    for (a, attacker) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        for n in 0..150 {
            let answer = stack.send_from(attacker, &random_us(a * 1_000 + n)).await;
            match answer.status {
                200 => attack_sent += 1,
                _ => assert_eq!(answer.reason(), "too_many_codes_from_client"),
            }
        }
    }
    // Real users, each on an address of their own, mixed in.
    let mut users_refused = 0;
    for user in 0..30 {
        let answer = stack
            .send_from(&format!("203.0.113.{user}"), &random_us(5_000 + user))
            .await;
        users_refused += usize::from(answer.status != 200);
    }
    println!(
        "2 attacking addresses x 150 sends: {attack_sent} codes sent; 30 real users refused: {users_refused}"
    );
    assert_eq!(attack_sent, 20);
    assert_eq!(users_refused, 0);

    // The figure: it takes 200 / 10 = 20 addresses to spend the US budget
    // (static caps alone: fraud protection would stop this earlier).
    let stack = Stack::with_env(&[("FRAUD_PROTECTION", "off")]).await;
    stack.align_to_window(3_600);
    let (mut spent, mut addresses) = (0, 0);
    while spent < 200 && addresses < 25 {
        addresses += 1;
        for n in 0..15 {
            let ip = format!("198.51.101.{addresses}");
            let answer = stack.send_from(&ip, &random_us(addresses * 100 + n)).await;
            spent += usize::from(answer.status == 200);
        }
    }
    println!("addresses needed to spend the US hourly budget: {addresses}");
    assert_eq!((spent, addresses), (200, 20));
    let late = stack.send_from("203.0.113.250", &random_us(9_999)).await;
    assert_eq!(late.reason(), "country_budget_exhausted");
}

/// Refused sends count against the client's allowance too: 400 refusals
/// from one address used to count as nothing, so a line type or a running
/// cooldown (someone is verifying right now) could be probed without limit.
#[tokio::test]
async fn refused_sends_count_against_the_client_allowance() {
    let stack = Stack::with_env(&[("MAX_REQUESTS_PER_CLIENT_PER_HOUR", "5")]).await;
    stack.align_to_window(3_600);
    for _ in 0..3 {
        let fixed_line = stack
            .call(Function::Send, json!({ "phoneNumber": "+442079460958" }))
            .await;
        assert_eq!(fixed_line.reason(), "number_cannot_receive_sms");
    }
    let phone = unique_phone();
    assert_eq!(stack.send(&phone).await.status, 200);
    assert_eq!(stack.send(&phone).await.reason(), "resend_too_soon");
    assert_limited(
        &stack.send(&phone).await,
        "too_many_requests_from_client",
        3_600,
    );
    assert_eq!(
        stack.verify(&phone, "123456").await.reason(),
        "too_many_requests_from_client"
    );
}
