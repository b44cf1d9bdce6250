//! Faults at the network level, injected by a TCP proxy between the
//! functions and DynamoDB Local and between the functions and the Twilio
//! fake, or by the Twilio fake's answers, while 12 users send and check at
//! once. For every fault the same invariants hold:
//! - no SMS behind a 5xx: a send answered 5xx got no message out;
//! - no approved code lost: an approval stays approved after the fault;
//! - no user locked out by our fault: once it ends (and the cooldown of
//!   sends that may have gone out has passed), every user can verify;
//! - answers within the deadline, however the dependency misbehaves;
//! - recovery on the first request after the fault ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::fault_proxy::{Fault, FaultProxy};
use integration_tests::{MESSAGES_PATH, Options, Stack, unique_phone};
use serde_json::json;
use tokio::task::JoinSet;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const USERS: usize = 12;
/// The Lambda timeout is 10 s; every answer must come well before it.
const DEADLINE: Duration = Duration::from_secs(6);

/// How the Twilio fake answers a message.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TwilioAnswer {
    Accepts,
    Throttles,
    Fails,
    /// Accepts, but after the functions' Twilio timeout (1 s here).
    AcceptsLate,
}

/// The Twilio fake: answers as told, and keeps each message it accepted.
#[derive(Clone)]
struct Twilio {
    answer: Arc<Mutex<TwilioAnswer>>,
    accepted: Arc<Mutex<Vec<(String, String)>>>,
}

impl Respond for Twilio {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        let answer = *self.answer.lock().unwrap();
        let error = |status: u16, code: u32| {
            ResponseTemplate::new(status)
                .set_body_json(json!({ "code": code, "message": "fault", "status": status }))
        };
        match answer {
            TwilioAnswer::Throttles => error(429, 20429),
            TwilioAnswer::Fails => error(500, 20500),
            TwilioAnswer::Accepts | TwilioAnswer::AcceptsLate => {
                self.accepted
                    .lock()
                    .unwrap()
                    .push((form["To"].clone(), form["Body"].clone()));
                let accepted = ResponseTemplate::new(201).set_body_json(
                    json!({ "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued" }),
                );
                match answer {
                    TwilioAnswer::AcceptsLate => accepted.set_delay(Duration::from_millis(1500)),
                    _ => accepted,
                }
            }
        }
    }
}

impl Twilio {
    fn sent_to(&self, phone: &str) -> Vec<String> {
        let accepted = self.accepted.lock().unwrap();
        accepted
            .iter()
            .filter(|(to, _)| to == phone)
            .map(|(_, body)| body.chars().filter(char::is_ascii_digit).take(6).collect())
            .collect()
    }
}

/// A stack whose DynamoDB and Twilio are reached through fault proxies,
/// with the functions' own AWS timeouts.
struct FaultyStack {
    stack: Stack,
    dynamodb: FaultProxy,
    twilio_link: FaultProxy,
    twilio: Twilio,
}

impl FaultyStack {
    async fn start() -> Self {
        let stack = Stack::start_with(Options {
            // The test's requests all come from one address.
            env: vec![("MAX_SENDS_PER_CLIENT_PER_HOUR", "1000".into())],
            twilio_accepts: false,
            lambda_timeouts: true,
        })
        .await;
        let twilio = Twilio {
            answer: Arc::new(Mutex::new(TwilioAnswer::Accepts)),
            accepted: Arc::default(),
        };
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .respond_with(twilio.clone())
            .mount(&stack.twilio)
            .await;
        let dynamodb_address: SocketAddr = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .expect("DynamoDB Local")
            .trim_start_matches("http://")
            .parse()
            .expect("host:port");
        let dynamodb = FaultProxy::start(dynamodb_address).await;
        let twilio_link = FaultProxy::start(*stack.twilio.address()).await;
        let stack = stack
            .redeployed_with(&[
                ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url().as_str()),
                ("TWILIO_API_BASE", twilio_link.url().as_str()),
            ])
            .await;
        Self {
            stack,
            dynamodb,
            twilio_link,
            twilio,
        }
    }
}

/// What one user saw during the fault.
#[derive(Debug, Default)]
struct Seen {
    statuses: Vec<u16>,
    slowest: Duration,
    approved_code: Option<String>,
    sms_behind_5xx: bool,
}

/// One user: send, then check the code that arrived (if any).
async fn user(faulty: Arc<FaultyStack>, phone: String) -> Seen {
    let mut seen = Seen::default();
    let before = faulty.twilio.sent_to(&phone).len();
    let started = Instant::now();
    let sent = faulty.stack.send(&phone).await;
    seen.slowest = started.elapsed();
    seen.statuses.push(sent.status);
    let codes = faulty.twilio.sent_to(&phone);
    if sent.status >= 500 && codes.len() > before {
        seen.sms_behind_5xx = true;
    }
    if let Some(code) = codes.last().filter(|_| sent.status == 200) {
        let started = Instant::now();
        let checked = faulty.stack.verify(&phone, code).await;
        seen.slowest = seen.slowest.max(started.elapsed());
        seen.statuses.push(checked.status);
        if checked.status == 200 {
            seen.approved_code = Some(code.clone());
        }
    }
    seen
}

/// Runs the users while `inject` holds the fault, ends it with `clear`, then
/// checks every invariant and prints the figures.
async fn scenario(name: &str, inject: impl Fn(&FaultyStack), clear: impl Fn(&FaultyStack)) {
    let faulty = Arc::new(FaultyStack::start().await);
    let phones: Vec<String> = (0..USERS).map(|_| unique_phone()).collect();
    // A warm stack first, as a Lambda environment is: pooled connections.
    user(Arc::clone(&faulty), unique_phone()).await;
    inject(&faulty);
    let mut users = JoinSet::new();
    for phone in phones.clone() {
        users.spawn(user(Arc::clone(&faulty), phone));
    }
    let seen = users.join_all().await;
    clear(&faulty);

    // The first request after the fault is served.
    let first = faulty.stack.send(&unique_phone()).await;
    assert_eq!(
        first.status, 200,
        "{name}: first send after the fault: {:?}",
        first.body
    );

    // Nobody is locked out: past the cooldown of what may have been sent,
    // every user who is not verified yet gets a code and verifies.
    faulty.stack.clock.advance(61);
    for (phone, seen) in phones.iter().zip(&seen) {
        match &seen.approved_code {
            Some(code) => assert_eq!(
                faulty.stack.verify(phone, code).await.reason(),
                "code_already_used",
                "{name}: an approval was lost"
            ),
            None => {
                let sent = faulty.stack.send(phone).await;
                assert_eq!(
                    sent.status, 200,
                    "{name}: {phone} locked out: {:?}",
                    sent.body
                );
                let code = faulty.twilio.sent_to(phone).pop().expect("a message");
                let checked = faulty.stack.verify(phone, &code).await;
                assert_eq!(checked.status, 200, "{name}: {phone}: {:?}", checked.body);
            }
        }
    }

    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for status in seen.iter().flat_map(|s| &s.statuses) {
        *statuses.entry(*status).or_default() += 1;
    }
    let mut statuses: Vec<_> = statuses.into_iter().collect();
    statuses.sort();
    let slowest = seen.iter().map(|s| s.slowest).max().unwrap_or_default();
    let approved = seen.iter().filter(|s| s.approved_code.is_some()).count();
    println!(
        "fault | {name} | answers {statuses:?} | slowest {slowest:.1?} | verified during it {approved}/{USERS} | no SMS behind a 5xx, no approval lost, nobody locked out, first request after it served"
    );
    assert!(
        seen.iter().all(|s| !s.sms_behind_5xx),
        "{name}: an SMS went out behind a 5xx"
    );
    assert!(slowest < DEADLINE, "{name}: an answer took {slowest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_latency() {
    scenario(
        "DynamoDB 200 ms slower",
        |f| f.dynamodb.set(Fault::Latency(Duration::from_millis(200))),
        |f| f.dynamodb.set(Fault::None),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_paused() {
    scenario(
        "DynamoDB paused",
        |f| f.dynamodb.set(Fault::Pause),
        |f| f.dynamodb.set(Fault::None),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_killed_and_restarted() {
    scenario(
        "DynamoDB killed, then restarted",
        |f| f.dynamodb.set(Fault::Down),
        |f| f.dynamodb.set(Fault::None),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_reset() {
    scenario(
        "every open connection reset (DynamoDB and Twilio)",
        |f| {
            f.dynamodb.reset_connections();
            f.twilio_link.reset_connections();
        },
        |_| {},
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twilio_down() {
    scenario(
        "Twilio unreachable",
        |f| f.twilio_link.set(Fault::Down),
        |f| f.twilio_link.set(Fault::None),
    )
    .await;
}

async fn twilio_answering(name: &str, answer: TwilioAnswer) {
    scenario(
        name,
        |f| *f.twilio.answer.lock().unwrap() = answer,
        |f| *f.twilio.answer.lock().unwrap() = TwilioAnswer::Accepts,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twilio_throttling() {
    twilio_answering("Twilio 429", TwilioAnswer::Throttles).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twilio_failing() {
    twilio_answering("Twilio 500", TwilioAnswer::Fails).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twilio_accepting_after_the_timeout() {
    twilio_answering(
        "Twilio accepts after our timeout",
        TwilioAnswer::AcceptsLate,
    )
    .await;
}
