//! The operator CLI (`phone-verification-admin`, `operator/`) against the
//! state the functions leave in DynamoDB Local: a locked number shown and
//! unlocked, budgets counted, a restriction fraud protection wrote listed and
//! lifted. It reads the configuration of each stack as the functions do.

use ::operator::{Admin, run};
use integration_tests::{Stack, dynamodb, unique_phone};
use phone_verification::adapters::dynamodb::DynamoDbStore;
use phone_verification::config::OperatorConfig;
use phone_verification::domain::PhoneNumber;
use phone_verification::ports::Clock;
use serde_json::Value;

/// The tool over the stack's table, with the stack's settings but the code
/// key, which the operator never holds.
async fn admin(stack: &Stack) -> Admin {
    Admin::new(
        DynamoDbStore::new(dynamodb().await, &stack.table),
        operator_config(stack),
    )
}

fn operator_config(stack: &Stack) -> OperatorConfig {
    OperatorConfig::from_lookup(|name| match name.starts_with("CODE_HMAC") {
        true => None,
        false => stack.setting(name),
    })
    .expect("the operator's configuration, without the code key")
}

/// Runs a command line at the stack's time: (exit code, output).
async fn admin_run(stack: &Stack, admin: &Admin, line: &str) -> (i32, String) {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    run(&args, admin, stack.clock.now()).await
}

/// The same with `--json`, decoded.
async fn admin_json(stack: &Stack, admin: &Admin, line: &str) -> (i32, Value) {
    let (code, output) = admin_run(stack, admin, &format!("{line} --json")).await;
    let value = serde_json::from_str(&output).unwrap_or_else(|_| panic!("JSON: {output}"));
    (code, value)
}

/// Every run of 5 or more digits in `output` is part of `typed`'s digits:
/// no other number, no code, no pseudonym's digits.
fn only_typed_digits(output: &str, typed: &str) {
    let typed: String = typed.chars().filter(char::is_ascii_digit).collect();
    for run in output
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 5)
    {
        assert!(
            typed.contains(run),
            "{run} is printed but is not the number typed:\n{output}"
        );
    }
}

#[tokio::test]
async fn show_reports_a_lock_and_unlock_lets_the_right_code_verify() {
    let stack = Stack::with_env(&[("LOCKOUT_AFTER_FAILED_CHECKS", "3")]).await;
    let admin = admin(&stack).await;
    let phone = unique_phone();
    // The send and the `show` 7 s later in one 10-minute window, whenever
    // the test runs (else "sends, 10 minutes" can read 0).
    stack.align_to_window(600);
    assert_eq!(stack.send(&phone).await.status, 200);
    let code = stack.code_sent_to(&phone).await;
    let wrong = stack.wrong_code_for(&phone).await;
    for _ in 0..3 {
        assert_eq!(
            stack.verify(&phone, &wrong).await.reason(),
            "incorrect_code"
        );
    }
    assert_eq!(stack.verify(&phone, &code).await.reason(), "number_locked");
    stack.clock.advance(7);

    let (exit, text) = admin_run(&stack, &admin, &format!("show {phone}")).await;
    println!("{text}");
    assert_eq!(exit, 0, "{text}");
    for line in [
        "status              pending (sms)",
        "code age            7 s (expires in 593 s)",
        "attempts            3 of 5 used",
        "failures            3 in a row (locked at 3)",
        "cooldown            53 s left",
        "sends, 10 minutes   1 of 5",
        "sends, today (UTC)  1 of 10",
        "calls, today (UTC)  0 of 3",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(text.contains("locked              yes, until "), "{text}");
    let (exit, json) = admin_json(&stack, &admin, &format!("show {phone}")).await;
    assert_eq!(exit, 0);
    assert_eq!(json["locked"], true);
    assert_eq!(json["attempts"], 3);
    assert_eq!(json["maxAttempts"], 5);
    assert_eq!(json["failures"], 3);
    assert_eq!(json["codeAgeSeconds"], 7);
    assert_eq!(json["sends10Minutes"]["used"], 1);
    assert_eq!(
        json["callsToday"],
        serde_json::json!({ "used": 0, "limit": 3 })
    );
    let pseudonym = stack
        .send_api
        .service()
        .pseudonym(&PhoneNumber::parse(&phone, None).unwrap());
    for output in [&text, &json.to_string()] {
        assert!(!output.contains(&code), "the code is printed: {output}");
        assert!(!output.contains(&wrong));
        assert!(!output.contains(&pseudonym.as_str()[3..]), "the pseudonym");
        only_typed_digits(output, &phone);
    }

    let (exit, text) = admin_run(&stack, &admin, &format!("unlock {phone}")).await;
    println!("{text}");
    assert_eq!(exit, 0, "{text}");
    assert!(
        text.contains("unlocked") && text.contains("failures 3 -> 0"),
        "{text}"
    );
    let (exit, again) = admin_json(&stack, &admin, &format!("unlock {phone}")).await;
    assert_eq!(exit, 0);
    assert_eq!(again["changed"], false, "idempotent: {again}");

    let verified = stack.verify(&phone, &code).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let (_, json) = admin_json(&stack, &admin, &format!("show {phone}")).await;
    assert_eq!(json["status"], "approved");
    assert_eq!(json["locked"], false);
    assert_eq!(json["failures"], 0);
}

#[tokio::test]
async fn budgets_count_the_hours_sends_and_approvals_by_country() {
    let stack = Stack::start().await;
    let admin = admin(&stack).await;
    let (us_one, us_two, france) = (unique_phone(), unique_phone(), "+33612345678");
    for phone in [&us_one, &us_two, france] {
        assert_eq!(stack.send(phone).await.status, 200);
    }
    let code = stack.code_sent_to(&us_one).await;
    assert_eq!(stack.verify(&us_one, &code).await.status, 200);

    // Every country with sends this hour (a Scan).
    let (exit, text) = admin_run(&stack, &admin, "budgets").await;
    println!("{text}");
    assert_eq!(exit, 0, "{text}");
    let (exit, json) = admin_json(&stack, &admin, "budgets").await;
    assert_eq!(exit, 0);
    assert_eq!(json["global"]["sends"], 3, "{json}");
    assert_eq!(json["global"]["budget"], 1_000);
    assert_eq!(json["global"]["approvals"], 1);
    assert_eq!(json["countries"]["US"]["sends"], 2);
    assert_eq!(json["countries"]["US"]["approvals"], 1);
    assert_eq!(json["countries"]["US"]["conversionPercent"], 50);
    assert_eq!(json["countries"]["US"]["budget"], 200);
    assert_eq!(json["countries"]["FR"]["sends"], 1);
    assert_eq!(
        json["countries"].as_object().unwrap().len(),
        2,
        "only countries with sends: {json}"
    );
    // Named countries: their items only.
    let (exit, json) = admin_json(&stack, &admin, "budgets us de").await;
    assert_eq!(exit, 0);
    assert_eq!(json["countries"]["US"]["sends"], 2);
    assert_eq!(json["countries"]["DE"]["sends"], 0);
    assert_eq!(json["countries"].get("FR"), None);
    assert_eq!(json["global"]["sends"], 3);
    assert_eq!(
        json["global"]["approvals"],
        Value::Null,
        "not every country"
    );
    // The next hour starts from nothing.
    stack.align_to_window(3_600);
    let (_, json) = admin_json(&stack, &admin, "budgets").await;
    assert_eq!(json["global"]["sends"], 0, "{json}");
}

#[tokio::test]
async fn a_restriction_fraud_protection_wrote_is_listed_and_lifted() {
    let stack = Stack::with_env(&[("FRAUD_MIN_SENDS_PER_PREFIX", "5")]).await;
    let admin = admin(&stack).await;
    let (exit, text) = admin_run(&stack, &admin, "restrictions").await;
    assert_eq!(exit, 0);
    assert!(text.contains("no restriction"), "{text}");
    // Sends into one range, from a new address each, none verified.
    assert_eq!(pump(&stack, 0..10).await, 5, "paused once it has 5 sends");

    let (exit, text) = admin_run(&stack, &admin, "restrictions").await;
    println!("{text}");
    assert_eq!(exit, 0, "{text}");
    assert!(
        text.contains("prefix  +1312555  in force, 3600 s left"),
        "{text}"
    );
    let (_, json) = admin_json(&stack, &admin, "restrictions").await;
    let restrictions = json["restrictions"].as_array().unwrap();
    assert_eq!(restrictions.len(), 1, "{json}");
    let restriction = &restrictions[0];
    assert_eq!(restriction["scope"], "prefix");
    assert_eq!(restriction["prefix"], "+1312555");
    assert_eq!(restriction["inForce"], true);
    assert_eq!(restriction["times"], 1);
    assert_eq!(restriction["sends"], 5);
    assert_eq!(restriction["approvals"], 0);
    only_typed_digits(&text, "+1312555");

    let (exit, text) = admin_run(&stack, &admin, "lift prefix +1312555").await;
    println!("{text}");
    assert_eq!(exit, 0, "{text}");
    assert!(
        text.starts_with("lifted the restriction of prefix +1312555"),
        "{text}"
    );
    let after = stack.send_from("198.51.100.200", &attack_number(20)).await;
    assert_eq!(after.status, 200, "the next send passes: {:?}", after.body);

    let (_, json) = admin_json(&stack, &admin, "restrictions").await;
    let restriction = &json["restrictions"][0];
    assert_eq!(restriction["inForce"], false, "{json}");
    assert_eq!(restriction["times"], 1, "kept, so a repeat lasts longer");
    assert!(restriction["exemptUntil"].is_string());
    assert_eq!(restriction["sends"], 6);
    // Idempotent; an unknown scope is an error.
    let (exit, text) = admin_run(&stack, &admin, "lift prefix +1312555").await;
    assert_eq!(exit, 0);
    assert!(text.contains("nothing changed"), "{text}");
    let (exit, text) = admin_run(&stack, &admin, "lift country FR").await;
    assert_eq!(exit, 1);
    assert!(text.contains("no restriction"), "{text}");

    // The next hour the prefix is judged again: the attack that comes back
    // is paused for twice as long, and the exemption is gone.
    stack.align_to_window(3_600);
    assert_eq!(pump(&stack, 30..40).await, 5);
    let (_, json) = admin_json(&stack, &admin, "restrictions").await;
    let restriction = &json["restrictions"][0];
    assert_eq!(restriction["inForce"], true, "{json}");
    assert_eq!(restriction["times"], 2);
    assert_eq!(restriction["secondsLeft"], 7_200);
    assert_eq!(restriction["exemptUntil"], Value::Null);
}

#[tokio::test]
async fn errors_exit_with_1_and_say_what_is_wrong() {
    let stack = Stack::start().await;
    let admin = admin(&stack).await;
    for (line, says) in [
        ("show 4155550123", "international format"),
        ("show +1415555012345678", "not a valid phone number"),
        ("unlock", "give the phone number"),
        ("lift prefix", "lift what"),
        ("show +14155550123", "no item for +14155550123"),
        ("unlock +14155550123", "no item for +14155550123"),
    ] {
        let (exit, output) = admin_run(&stack, &admin, line).await;
        assert_eq!(exit, 1, "{line}: {output}");
        assert!(output.contains(says), "{line}: {output}");
        let (exit, json) = admin_json(&stack, &admin, line).await;
        assert_eq!(exit, 1);
        assert!(json["error"].as_str().unwrap().contains(says), "{json}");
    }

    // DynamoDB out of reach (nothing listens on the discard port).
    let config = operator_config(&stack);
    let sdk = integration_tests::aws_config().load().await;
    let unreachable = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let admin = Admin::new(DynamoDbStore::new(unreachable, &stack.table), config);
    let (exit, output) = admin_run(&stack, &admin, "budgets").await;
    assert_eq!(exit, 1);
    assert!(output.contains("DynamoDB is unreachable"), "{output}");
}

/// Sends to the numbers `attempts` of one range (+1 312 555), each from an
/// address of its own and none verified, until fraud protection pauses the
/// range: how many were sent.
async fn pump(stack: &Stack, attempts: std::ops::Range<u32>) -> usize {
    let mut sent = 0;
    for n in attempts {
        let answer = stack
            .send_from(&format!("198.51.100.{n}"), &attack_number(n))
            .await;
        if answer.status != 200 {
            assert_eq!(answer.reason(), "destination_restricted");
            break;
        }
        sent += 1;
    }
    sent
}

/// The `n`th number of the pumped range.
fn attack_number(n: u32) -> String {
    format!("+1312555{:04}", 1_000 + n * 37)
}

#[tokio::test]
async fn show_finds_a_number_of_another_verify_service_with_its_sid() {
    let shop = "VAfedcba9876543210fedcba9876543210";
    let stack = Stack::with_env(&[("VERIFY_SERVICES", &format!("{shop}|Shop|8"))]).await;
    let admin = admin(&stack).await;
    let phone = unique_phone();
    let sent = stack
        .twilio_verify(
            "POST",
            &format!("/v2/Services/{shop}/Verifications"),
            &[("To", &phone), ("Channel", "sms")],
        )
        .await;
    assert_eq!(sent.status, 201, "{sent:?}");

    let (exit, own) = admin_run(&stack, &admin, &format!("show {phone}")).await;
    assert_eq!(exit, 1, "the stack's own service has nothing for it: {own}");
    let (exit, text) = admin_run(&stack, &admin, &format!("show --service {shop} {phone}")).await;
    assert_eq!(exit, 0, "{text}");
    assert!(text.contains("status              pending (sms)"), "{text}");
    let (exit, text) = admin_run(&stack, &admin, &format!("unlock {phone} --service {shop}")).await;
    assert_eq!(exit, 0, "{text}");
    assert!(text.contains("nothing changed"), "{text}");
}

/// Finding 4 of issue 20: what the operator holds (the identity key, so
/// every number's item; `UpdateItem` on the table, even beyond what its
/// policy allows) cannot plant a code. The operator asks a code for a number
/// of its own, then copies that item's code (MAC, key id, verification id,
/// expiry, attempts) onto the victim's item: its code does not verify the
/// victim, because the MAC binds the number under the code key, which the
/// operator never had.
#[tokio::test]
async fn the_operators_rights_cannot_plant_a_code() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::start().await;
    let (own, victim) = (unique_phone(), unique_phone());
    assert_eq!(stack.send(&own).await.status, 200);
    assert_eq!(stack.send(&victim).await.status, 200);
    let own_code = stack.code_sent_to(&own).await;
    let own_item = stack
        .stored_item(&own)
        .await
        .expect("the operator's own item");

    let config = operator_config(&stack);
    let victim_number = PhoneNumber::parse(&victim, None).unwrap();
    let victim_key = format!("number#{}", config.identities.number(&victim_number));
    let copied = ["code_mac", "key_id", "verification_id", "code_expires_at"];
    let mut update = dynamodb()
        .await
        .update_item()
        .table_name(&stack.table)
        .key("pk", AttributeValue::S(victim_key))
        .update_expression(format!(
            "SET {}, attempts = :zero, failures = :zero",
            copied.map(|name| format!("{name} = :{name}")).join(", ")
        ))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()));
    for name in copied {
        update = update.expression_attribute_values(format!(":{name}"), own_item[name].clone());
    }
    update.send().await.expect("the planted item is written");

    let answer = stack.verify(&victim, &own_code).await;
    assert_eq!(
        answer.reason(),
        "incorrect_code",
        "no proof for the victim: {answer:?}"
    );
}

/// The template's operator policy is what the CLI needs and no more: reads,
/// `UpdateItem` of the lock and restriction attributes only (so no code, MAC,
/// status or verification id can be written), and exactly the secrets the
/// CLI reads (`OPERATOR_SECRETS`): the identity keys, never the code key.
#[test]
fn the_operator_policy_grants_no_code_key_and_no_code_writes() {
    use serde_yaml_ng::Value as Yaml;
    let template = integration_tests::template();
    let policy = &template["Resources"]["OperatorPolicy"];
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("the policy's statements");
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|statement| statement["Sid"] == sid)
            .unwrap_or_else(|| panic!("a {sid} statement"))
    };
    let actions = |statement: &Yaml| -> Vec<String> {
        match &statement["Action"] {
            Yaml::Sequence(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            one => vec![one.as_str().unwrap().to_owned()],
        }
    };
    assert_eq!(
        actions(by_sid("Read")),
        ["dynamodb:BatchGetItem", "dynamodb:Scan"]
    );
    let update = by_sid("UnlockAndLift");
    assert_eq!(actions(update), ["dynamodb:UpdateItem"]);
    let attributes: Vec<&str> =
        update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
            .as_sequence()
            .expect("UpdateItem limited to listed attributes")
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
    assert_eq!(attributes, ["pk", "failures", "until", "exempt_until"]);
    let secrets = by_sid("IdentityKey");
    assert_eq!(actions(secrets), ["ssm:GetParameters"]);
    let parameters: Vec<String> = secrets["Resource"]
        .as_sequence()
        .expect("the parameters")
        .iter()
        .map(|arn| match arn {
            Yaml::Tagged(sub) => sub
                .value
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .into(),
            other => panic!("a !Sub parameter ARN: {other:?}"),
        })
        .collect();
    let read: Vec<String> = phone_verification::app::OPERATOR_SECRETS
        .iter()
        .map(|setting| setting.to_lowercase().replace('_', "-"))
        .collect();
    assert_eq!(parameters, read);
    assert!(read.iter().all(|name| !name.starts_with("code-")));
    // Nothing else: the statements are these three and KMS decryption.
    for statement in statements {
        let all = match statement {
            Yaml::Tagged(condition) => format!("{condition:?}"),
            _ => actions(statement).join(","),
        };
        assert!(
            !all.contains("PutItem") && !all.contains("Write") && !all.contains('*'),
            "{all}"
        );
    }
}
