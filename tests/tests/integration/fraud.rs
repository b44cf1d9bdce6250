//! Conversion-based fraud protection under a simulated SMS-pumping attack.
//! One hour of traffic, minute by minute: genuine users in the US (across
//! area codes) and in France ask for codes and 4 in 5 type theirs in; an
//! attacker pumps random numbers in one range (+1 312 555 ....) from a new
//! address each time and never converts. The same hour runs twice: with
//! static caps only, and with fraud protection. The figures it prints are
//! the ones docs/security.md shows.

use integration_tests::{Function, Stack};
use serde_json::json;

/// What one simulated hour gave.
#[derive(Debug, Default)]
struct Outcome {
    attack_tried: usize,
    attack_sent: usize,
    genuine_tried: usize,
    genuine_refused: usize,
    refusals_seen: Vec<String>,
}

/// Deterministic numbers for the run (no two alike within a run).
fn genuine_us(n: usize) -> String {
    let area = [415, 212, 617, 206, 305, 702, 512, 303][n % 8];
    format!("+1{area}{}{:04}", 234 + n % 500, n % 10_000)
}

fn genuine_fr(n: usize) -> String {
    format!("+336{:08}", 12_000_000 + n * 7_919)
}

fn attack_number(n: usize) -> String {
    format!("+1312555{:04}", (n * 7_919) % 10_000)
}

async fn simulate_one_hour(stack: &Stack) -> Outcome {
    stack.align_to_window(3_600);
    let mut outcome = Outcome::default();
    let mut genuine = 0;
    for minute in 0..60 {
        // 2 users in the US, 1 in France; 4 in 5 of them verify.
        for phone in [
            genuine_us(genuine),
            genuine_us(genuine + 1),
            genuine_fr(genuine),
        ] {
            genuine += 2;
            outcome.genuine_tried += 1;
            let ip = format!("203.0.{}.{}", genuine / 250, genuine % 250);
            let sent = stack.send_from(&ip, &phone).await;
            if sent.status != 200 {
                outcome.genuine_refused += 1;
                outcome.refusals_seen.push(sent.reason().to_owned());
                continue;
            }
            if genuine % 5 != 0 {
                let code = stack.code_sent_to(&phone).await;
                let params = json!({ "phoneNumber": phone, "phoneVerificationCode": code });
                let verified = stack.call_from(&ip, Function::Verify, params).await;
                assert_eq!(verified.status, 200, "{:?}", verified.body);
            }
        }
        // The attacker: 6 numbers a minute, each from an address of its own.
        for n in 0..6 {
            let attempt = minute * 6 + n;
            outcome.attack_tried += 1;
            let ip = format!("198.18.{}.{}", attempt / 250, attempt % 250);
            let answer = stack.send_from(&ip, &attack_number(attempt)).await;
            if answer.status == 200 {
                outcome.attack_sent += 1;
            } else {
                outcome.refusals_seen.push(answer.reason().to_owned());
            }
        }
        stack.clock.advance(60);
    }
    outcome.refusals_seen.sort();
    outcome.refusals_seen.dedup();
    outcome
}

#[tokio::test]
async fn a_pumping_attack_is_stopped_within_a_few_dozen_sms_and_genuine_users_pass() {
    let static_caps =
        simulate_one_hour(&Stack::with_env(&[("FRAUD_PROTECTION", "off")]).await).await;
    let protected = simulate_one_hour(&Stack::start().await).await;
    for (name, outcome) in [
        ("static caps only", &static_caps),
        ("fraud protection", &protected),
    ] {
        println!(
            "{name}: the attack got {} SMS of {} tried; genuine users refused: {} of {} \
             (reasons seen: {:?})",
            outcome.attack_sent,
            outcome.attack_tried,
            outcome.genuine_refused,
            outcome.genuine_tried,
            outcome.refusals_seen
        );
    }
    // Static caps: the attack spends most of the US budget (200 an hour),
    // then genuine US users are refused with it.
    assert!(static_caps.attack_sent > 100, "{static_caps:?}");
    assert!(static_caps.genuine_refused > 0, "{static_caps:?}");
    // Protection: the range is paused after its first 20 sends.
    assert!(protected.attack_sent <= 30, "{protected:?}");
    assert_eq!(protected.genuine_refused, 0, "{protected:?}");
    assert!(
        protected
            .refusals_seen
            .contains(&"destination_restricted".to_owned())
    );
}
