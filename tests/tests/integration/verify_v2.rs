//! Twilio Verify v2 on our functions, through the real handlers and
//! DynamoDB Local: the flow a twilio-node backend runs, Twilio's answers and
//! error codes, API-key authentication that changes nothing when it fails,
//! and the limits under the attacks a backend's key could mount.

use std::sync::Arc;

use integration_tests::{
    APPROVER_API_KEY, Answer, Stack, VERIFY_API_KEY, VERIFY_SERVICE_SID, unique_phone,
};
use serde_json::Value;
use tokio::task::JoinSet;

fn verifications() -> String {
    format!("/v2/Services/{VERIFY_SERVICE_SID}/Verifications")
}

fn check_path() -> String {
    format!("/v2/Services/{VERIFY_SERVICE_SID}/VerificationCheck")
}

fn verification(sid: &str) -> String {
    format!("{}/{sid}", verifications())
}

async fn create(stack: &Stack, phone: &str) -> Answer {
    stack
        .twilio_verify(
            "POST",
            &verifications(),
            &[("To", phone), ("Channel", "sms")],
        )
        .await
}

async fn check(stack: &Stack, phone: &str, code: &str) -> Answer {
    stack
        .twilio_verify("POST", &check_path(), &[("To", phone), ("Code", code)])
        .await
}

/// The Twilio error an answer carries: `(status, code)`, with the body
/// checked to be Twilio's error shape.
fn twilio_error(answer: &Answer) -> (u16, u64) {
    let body = &answer.body;
    let code = body["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("{answer:?}"));
    assert_eq!(body["status"], answer.status, "{answer:?}");
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}"),
        "{answer:?}"
    );
    assert!(body["message"].is_string(), "{answer:?}");
    (answer.status, code)
}

fn sid_of(answer: &Answer) -> String {
    answer.body["sid"].as_str().expect("a sid").to_owned()
}

#[tokio::test]
async fn a_twilio_node_flow_sends_refuses_a_wrong_code_and_approves_once() {
    let stack = Stack::with_env(&[(
        "PROOF_SIGNING_KEY",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )])
    .await;
    let phone = unique_phone();

    let created = create(&stack, &phone).await;
    assert_eq!(created.status, 201, "{created:?}");
    let body = &created.body;
    let sid = sid_of(&created);
    assert!(
        sid.len() == 34 && sid.starts_with("VE") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{sid}"
    );
    assert_eq!(body["service_sid"], VERIFY_SERVICE_SID);
    assert_eq!(body["to"], phone.as_str());
    assert_eq!(body["channel"], "sms");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["valid"], false);
    assert_eq!(body["send_code_attempts"][0]["channel"], "sms");
    assert_eq!(
        body["url"],
        format!("https://api.example.com{}", verification(&sid))
    );
    assert_eq!(stack.messages().await.len(), 1);

    let wrong = check(&stack, &phone, &stack.wrong_code_for(&phone).await).await;
    assert_eq!(wrong.status, 200, "{wrong:?}");
    assert_eq!(
        (
            &wrong.body["status"],
            &wrong.body["valid"],
            &wrong.body["sid"]
        ),
        (
            &Value::from("pending"),
            &Value::from(false),
            &Value::from(sid.as_str())
        )
    );
    assert!(!wrong.headers.contains_key("x-verification-token"));

    let fetched = stack.twilio_verify("GET", &verification(&sid), &[]).await;
    assert_eq!(
        (fetched.status, &fetched.body["status"]),
        (200, &"pending".into())
    );

    let code = stack.code_sent_to(&phone).await;
    let right = check(&stack, &phone, &code).await;
    assert_eq!(right.status, 200, "{right:?}");
    assert_eq!(right.body["status"], "approved");
    assert_eq!(right.body["valid"], true);
    assert_eq!(
        right.body["sna_attempts_error_codes"],
        serde_json::json!([])
    );
    let token = &right.headers["x-verification-token"];
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let again = check(&stack, &phone, &code).await;
    assert_eq!(twilio_error(&again), (404, 20404));
    assert_eq!(
        again.body["message"],
        format!("The requested resource {} was not found", check_path())
    );
    let fetched = stack.twilio_verify("GET", &verification(&sid), &[]).await;
    assert_eq!(fetched.body["status"], "approved");
}

#[tokio::test]
async fn bad_or_missing_credentials_get_twilios_401_and_change_nothing() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    let form = [("To", phone.as_str()), ("Channel", "sms")];
    let (key, secret) = VERIFY_API_KEY;
    let near_miss = format!("{}x", &secret[..secret.len() - 1]);
    for credentials in [
        None,
        Some((key, near_miss.as_str())),
        Some(("SKother", secret)),
        Some(("", "")),
    ] {
        stack.take_dynamodb_calls();
        for (method, path) in [
            ("POST", verifications()),
            ("POST", check_path()),
            ("GET", verification(&format!("VE{}", "0".repeat(32)))),
        ] {
            let answer = stack
                .twilio_verify_as(credentials, method, &path, &form)
                .await;
            assert_eq!(
                twilio_error(&answer),
                (401, 20003),
                "{credentials:?} {path}"
            );
            assert_eq!(answer.body["message"], "Authenticate");
            assert_eq!(
                answer.headers["www-authenticate"],
                "Basic realm=\"Twilio API\""
            );
        }
        assert_eq!(
            stack.take_dynamodb_calls(),
            Vec::<String>::new(),
            "{credentials:?}"
        );
    }
    assert!(stack.messages().await.is_empty(), "nothing was sent");
    assert!(
        stack.stored_item(&phone).await.is_none(),
        "nothing was stored"
    );
}

/// A request (method, path, form) and the Twilio error (status, code,
/// message) it must get.
type Case<'a> = (
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    (u16, u64),
    &'a str,
);

#[tokio::test]
async fn refusals_carry_twilios_codes() {
    let stack = Stack::with_env(&[("ALLOWED_COUNTRIES", "US,CA")]).await;
    let phone = unique_phone();
    let cases: [Case; 7] = [
        (
            "POST",
            verifications(),
            vec![("To", &phone), ("Channel", "sms"), ("CustomCode", "123456")],
            (400, 60200),
            "Invalid parameter: CustomCode",
        ),
        (
            "POST",
            verifications(),
            vec![("To", "+1415"), ("Channel", "sms")],
            (400, 60200),
            "Invalid parameter: To",
        ),
        (
            "POST",
            verifications(),
            vec![("Channel", "sms")],
            (400, 60200),
            "Invalid parameter: To",
        ),
        (
            "POST",
            verifications(),
            vec![("To", &phone), ("Channel", "carrier-pigeon")],
            (400, 60200),
            "Invalid parameter: Channel",
        ),
        (
            "POST",
            verifications(),
            vec![("To", &phone), ("Channel", "call")],
            (400, 60223),
            "Delivery channel disabled",
        ),
        (
            "POST",
            verifications(),
            vec![("To", "+442079460958"), ("Channel", "sms")],
            (403, 60605),
            "Verification delivery attempt blocked",
        ),
        (
            "POST",
            format!("/v2/Services/VA{}/Verifications", "f".repeat(32)),
            vec![("To", &phone), ("Channel", "sms")],
            (404, 20404),
            "",
        ),
    ];
    for (method, path, form, expected, message) in cases {
        let answer = stack.twilio_verify(method, &path, &form).await;
        assert_eq!(
            twilio_error(&answer),
            expected,
            "{path} {form:?}: {answer:?}"
        );
        if !message.is_empty() {
            assert_eq!(answer.body["message"], message);
        }
    }

    assert_eq!(create(&stack, &phone).await.status, 201);
    let resend = create(&stack, &phone).await;
    assert_eq!(twilio_error(&resend), (429, 60212), "cooldown: {resend:?}");
    assert!(resend.headers.contains_key("retry-after"));

    let no_code = stack
        .twilio_verify("POST", &check_path(), &[("To", phone.as_str())])
        .await;
    assert_eq!(twilio_error(&no_code), (400, 60200));
    assert_eq!(no_code.body["message"], "Invalid parameter: Code");
    let never_sent = check(&stack, &unique_phone(), "123456").await;
    assert_eq!(twilio_error(&never_sent), (404, 20404));
    let unknown_sid = stack
        .twilio_verify("GET", &verification(&format!("VE{}", "a".repeat(32))), &[])
        .await;
    assert_eq!(twilio_error(&unknown_sid), (404, 20404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_are_evaluated_five_times_then_max_check_attempts() {
    let stack = Arc::new(Stack::start().await);
    let phone = unique_phone();
    assert_eq!(create(&stack, &phone).await.status, 201);
    let wrong = stack.wrong_code_for(&phone).await;
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let (stack, phone, wrong) = (Arc::clone(&stack), phone.clone(), wrong.clone());
        tasks.spawn(async move { check(&stack, &phone, &wrong).await });
    }
    let answers = tasks.join_all().await;
    let pending = answers.iter().filter(|a| a.status == 200).count();
    let exhausted = answers
        .iter()
        .filter(|a| a.status == 429 && a.body["code"] == 60202)
        .count();
    assert_eq!((pending, exhausted), (5, 15), "{answers:?}");
    let right = check(&stack, &phone, &stack.code_sent_to(&phone).await).await;
    assert_eq!(twilio_error(&right), (429, 60202), "the right code after");
}

#[tokio::test]
async fn a_verification_is_checked_fetched_canceled_and_approved_by_its_sid() {
    let stack = Stack::start().await;

    let phone = unique_phone();
    let sid = sid_of(&create(&stack, &phone).await);
    let code = stack.code_sent_to(&phone).await;
    let by_sid = stack
        .twilio_verify(
            "POST",
            &check_path(),
            &[("VerificationSid", sid.as_str()), ("Code", code.as_str())],
        )
        .await;
    assert_eq!(
        (by_sid.status, &by_sid.body["status"]),
        (200, &"approved".into())
    );
    assert_eq!(
        by_sid.body["to"],
        phone.as_str(),
        "the SID names its number"
    );

    let phone = unique_phone();
    let sid = sid_of(&create(&stack, &phone).await);
    let code = stack.code_sent_to(&phone).await;
    let canceled = stack
        .twilio_verify("POST", &verification(&sid), &[("Status", "canceled")])
        .await;
    assert_eq!(
        (canceled.status, &canceled.body["status"]),
        (200, &"canceled".into())
    );
    assert_eq!(
        twilio_error(&check(&stack, &phone, &code).await),
        (404, 20404)
    );
    let again = stack
        .twilio_verify("POST", &verification(&sid), &[("Status", "canceled")])
        .await;
    assert_eq!(
        twilio_error(&again),
        (404, 20404),
        "only a pending one changes"
    );
    assert_eq!(
        create(&stack, &phone).await.status,
        201,
        "no cooldown after a cancel"
    );

    let phone = unique_phone();
    let sid = sid_of(&create(&stack, &phone).await);
    let approved = stack
        .twilio_verify_as(
            Some(APPROVER_API_KEY),
            "POST",
            &verification(&sid),
            &[("Status", "approved")],
        )
        .await;
    assert_eq!(
        (approved.status, &approved.body["valid"]),
        (200, &true.into())
    );
    let code = stack.code_sent_to(&phone).await;
    assert_eq!(
        twilio_error(&check(&stack, &phone, &code).await),
        (404, 20404)
    );

    let bad_status = stack
        .twilio_verify("POST", &verification(&sid), &[("Status", "expired")])
        .await;
    assert_eq!(twilio_error(&bad_status), (400, 60200));
}

#[tokio::test]
async fn an_old_sid_stops_naming_a_verification_once_a_new_code_replaces_it() {
    let stack = Stack::start().await;
    let phone = unique_phone();
    let first = sid_of(&create(&stack, &phone).await);
    stack.clock.advance(120);
    let second = sid_of(&create(&stack, &phone).await);
    assert_ne!(first, second);
    let old = stack.twilio_verify("GET", &verification(&first), &[]).await;
    assert_eq!(twilio_error(&old), (404, 20404));
    let current = stack
        .twilio_verify("GET", &verification(&second), &[])
        .await;
    assert_eq!(current.status, 200);
    // An expired code is gone too.
    stack.clock.advance(3_600);
    let expired = stack
        .twilio_verify("GET", &verification(&second), &[])
        .await;
    assert_eq!(twilio_error(&expired), (404, 20404));
}

#[tokio::test]
async fn client_allowances_key_on_the_api_key_and_the_device_ip_it_passes() {
    let stack = Stack::with_env(&[("MAX_SENDS_PER_CLIENT_PER_HOUR", "2")]).await;
    for _ in 0..2 {
        assert_eq!(create(&stack, &unique_phone()).await.status, 201);
    }
    // Another source address does not help: the key is the client.
    let third = create(&stack, &unique_phone()).await;
    assert_eq!(twilio_error(&third), (429, 20429), "{third:?}");

    let phone = unique_phone();
    let from_device = |ip: &'static str, phone: String| {
        let stack = &stack;
        async move {
            stack
                .twilio_verify(
                    "POST",
                    &verifications(),
                    &[("To", phone.as_str()), ("Channel", "sms"), ("DeviceIp", ip)],
                )
                .await
        }
    };
    assert_eq!(from_device("198.51.100.7", phone).await.status, 201);
    let bad_ip = from_device("not-an-ip", unique_phone()).await;
    assert_eq!(twilio_error(&bad_ip), (400, 60200));
    assert_eq!(bad_ip.body["message"], "Invalid parameter: DeviceIp");
}

/// A second Verify service of the same stack: its own app name, 8-digit
/// codes and SMS only (the stack also enables calls).
const SHOP_SID: &str = "VAfedcba9876543210fedcba9876543210";

async fn two_service_stack() -> Stack {
    Stack::with_env(&[
        ("ENABLED_CHANNELS", "sms,call"),
        ("VERIFY_SERVICES", &format!("{SHOP_SID}|Shop|8|sms")),
    ])
    .await
}

fn shop(path: &str) -> String {
    format!("/v2/Services/{SHOP_SID}{path}")
}

async fn create_in_shop(stack: &Stack, phone: &str, channel: &str) -> Answer {
    stack
        .twilio_verify(
            "POST",
            &shop("/Verifications"),
            &[("To", phone), ("Channel", channel)],
        )
        .await
}

async fn check_in_shop(stack: &Stack, phone: &str, code: &str) -> Answer {
    stack
        .twilio_verify(
            "POST",
            &shop("/VerificationCheck"),
            &[("To", phone), ("Code", code)],
        )
        .await
}

#[tokio::test]
async fn each_service_keeps_its_own_verifications_code_length_app_name_and_channels() {
    let stack = two_service_stack().await;
    let phone = unique_phone();
    let own = create(&stack, &phone).await;
    assert_eq!(own.status, 201, "{own:?}");
    let own_code = stack.code_sent_to(&phone).await;
    assert_eq!(own_code.len(), 6);

    // The own service's cooldown and pending code are not the shop's.
    let in_shop = create_in_shop(&stack, &phone, "sms").await;
    assert_eq!(in_shop.status, 201, "{in_shop:?}");
    assert_eq!(in_shop.body["service_sid"], SHOP_SID);
    assert_eq!(
        in_shop.body["url"],
        format!(
            "https://api.example.com{}",
            shop(&format!("/Verifications/{}", sid_of(&in_shop)))
        )
    );
    let shop_code = stack.code_sent_to(&phone).await;
    assert_eq!(shop_code.len(), 8, "the shop's codes have 8 digits");
    let bodies: Vec<String> = stack
        .messages()
        .await
        .into_iter()
        .map(|message| message["Body"].clone())
        .collect();
    assert!(!bodies[0].contains("Shop"), "{bodies:?}");
    assert!(
        bodies[1].starts_with("Your Shop verification code is"),
        "{bodies:?}"
    );
    assert_eq!(
        twilio_error(&create_in_shop(&stack, &phone, "sms").await),
        (429, 60212),
        "the shop's own cooldown"
    );

    // Neither service sees the other's verification.
    let crossed = stack
        .twilio_verify(
            "GET",
            &shop(&format!("/Verifications/{}", sid_of(&own))),
            &[],
        )
        .await;
    assert_eq!(twilio_error(&crossed), (404, 20404));
    assert_eq!(
        twilio_error(&check(&stack, &phone, &shop_code).await),
        (400, 60200),
        "an 8-digit code is no code of the own service"
    );
    assert_eq!(
        twilio_error(&create_in_shop(&stack, &unique_phone(), "call").await),
        (400, 60223),
        "the shop has no calls"
    );

    let approved = check_in_shop(&stack, &phone, &shop_code).await;
    assert_eq!(approved.body["status"], "approved", "{approved:?}");
    let fetched = stack
        .twilio_verify("GET", &verification(&sid_of(&own)), &[])
        .await;
    assert_eq!(
        fetched.body["status"], "pending",
        "the own one is untouched"
    );
    assert_eq!(
        check(&stack, &phone, &own_code).await.body["status"],
        "approved"
    );
}

#[tokio::test]
async fn a_delivery_report_withdraws_the_code_of_its_own_service_only() {
    let stack = two_service_stack().await;
    let phone = unique_phone();
    assert_eq!(create(&stack, &phone).await.status, 201);
    let own_code = stack.code_sent_to(&phone).await;
    assert_eq!(create_in_shop(&stack, &phone, "sms").await.status, 201);
    let shop_code = stack.code_sent_to(&phone).await;
    let callback = stack.messages().await.pop().unwrap()["StatusCallback"].clone();
    assert!(
        callback.starts_with(&format!(
            "https://api.example.com/twilio/status?service={SHOP_SID}&verification="
        )),
        "{callback}"
    );

    let params = [
        ("MessageSid", "SM0123"),
        ("MessageStatus", "undelivered"),
        ("To", phone.as_str()),
        ("ErrorCode", "30003"),
    ];
    let answer = crate::delivery_reports::report(&stack, &callback, &params, None).await;
    assert_eq!(answer.body["result"]["withdrawn"], true, "{answer:?}");
    let withdrawn = check_in_shop(&stack, &phone, &shop_code).await;
    assert_eq!(twilio_error(&withdrawn), (404, 20404));
    assert_eq!(
        create_in_shop(&stack, &phone, "sms").await.status,
        201,
        "the shop's cooldown is lifted"
    );
    assert_eq!(
        check(&stack, &phone, &own_code).await.body["status"],
        "approved"
    );

    // A signed report naming a service the stack does not serve is refused.
    let unknown = callback.replace(SHOP_SID, "VA00000000000000000000000000000000");
    let refused = crate::delivery_reports::report(&stack, &unknown, &params, None).await;
    assert_eq!(refused.status, 400, "{refused:?}");
}
