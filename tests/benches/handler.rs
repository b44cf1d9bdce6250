//! The handlers' own cost, without I/O: both functions over in-memory ports,
//! from a decoded API Gateway request to the finished response.
//!
//!   cargo bench -p integration-tests --bench handler

use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::{Function, http_api_event};
use lambda_http::Request;
use phone_verification::adapters::clock::{ManualClock, SystemClock};
use phone_verification::adapters::memory::{InMemoryStore, RecordingSender};
use phone_verification::domain::{CodeHasher, FraudMode, FraudPolicy, Keyring, Limits};
use phone_verification::http::{HttpFunction, SendApi, VerifyApi};
use phone_verification::messages::{MessageSettings, Messages};
use phone_verification::ports::Clock;
use phone_verification::service::{Keys, Policy, VerificationService};
use serde_json::json;

const ROUNDS: usize = 20_000;

fn request(function: Function, params: serde_json::Value) -> Request {
    lambda_http::request::from_str(&http_api_event(
        function,
        &params.to_string(),
        "application/json",
    ))
    .expect("a valid event")
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{name:<32} n={:<6} p50={:>6.1} µs  p99={:>6.1} µs  max={:>7.1} µs",
        samples.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples.last().unwrap().as_secs_f64() * 1e6,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let policy = Policy {
        // Every round is a new number from one client: lift the limits that
        // would otherwise (rightly) refuse it.
        limits: Limits {
            client_requests_per_hour: u32::MAX,
            client_sends_per_hour: u32::MAX,
            api_key_requests_per_hour: u32::MAX,
            api_key_sends_per_hour: u32::MAX,
            messages_per_hour: u32::MAX,
            messages_per_country_per_hour: u32::MAX,
            ..Limits::default()
        },
        // The rounds' numbers share prefixes and never convert: fraud
        // protection would (rightly) pause them.
        fraud: FraudPolicy {
            mode: FraudMode::Off,
            ..FraudPolicy::default()
        },
        ..Policy::default()
    };
    let clock = Arc::new(ManualClock::starting_at(SystemClock.now()));
    // Both functions share one in-memory table, as both Lambda functions
    // share one DynamoDB table.
    let store = InMemoryStore::default();
    let keys = Keys {
        codes: CodeHasher::new(Keyring::new(
            "v1",
            b"benchmark key of at least 32 bytes".to_vec(),
        )),
        identities: integration_tests::identities(),
    };
    let messages = Messages::new(MessageSettings::default(), policy.code_length).unwrap();
    let send_api = SendApi::new(
        VerificationService::new(
            store.clone(),
            Arc::clone(&clock),
            keys.clone(),
            policy.clone(),
        )
        .with_delivery(RecordingSender::default(), messages),
        None,
        None,
    );
    let verify_api = VerifyApi::new(
        VerificationService::new(store, clock, keys, policy),
        None,
        None,
    );
    let phones: Vec<String> = (0..ROUNDS)
        .map(|n| {
            format!(
                "+1{}555{:04}",
                [415, 212, 312, 617, 206, 305][n / 10_000 % 6],
                n % 10_000
            )
        })
        .collect();

    let sends: Vec<Request> = phones
        .iter()
        .map(|p| request(Function::Send, json!({ "phoneNumber": p })))
        .collect();
    let mut send_times = Vec::with_capacity(ROUNDS);
    for request in sends {
        let started = Instant::now();
        let response = send_api.handle(request).await;
        send_times.push(started.elapsed());
        assert_eq!(response.status(), 200);
    }

    let verifies: Vec<Request> = phones
        .iter()
        .map(|p| {
            request(
                Function::Verify,
                json!({ "phoneNumber": p, "phoneVerificationCode": "0000000" }),
            )
        })
        .chain(phones.iter().map(|p| {
            request(
                Function::Verify,
                json!({ "phoneNumber": p, "phoneVerificationCode": "000000" }),
            )
        }))
        .collect();
    let mut malformed_times = Vec::with_capacity(ROUNDS);
    let mut verify_times = Vec::with_capacity(ROUNDS);
    for (n, request) in verifies.into_iter().enumerate() {
        let started = Instant::now();
        let response = verify_api.handle(request).await;
        let elapsed = started.elapsed();
        if n < ROUNDS {
            assert_eq!(response.status(), 400);
            malformed_times.push(elapsed);
        } else {
            assert!([200, 400].contains(&response.status().as_u16()));
            verify_times.push(elapsed);
        }
    }

    println!(
        "handler overhead, in-memory ports ({} rounds each):",
        ROUNDS
    );
    percentiles("sendVerificationCode (200)", send_times);
    percentiles("verifyPhoneNumber (checked)", verify_times);
    percentiles("verifyPhoneNumber (malformed)", malformed_times);
}
