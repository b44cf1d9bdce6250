//! No phone number or client address at rest: after a whole flow (a send
//! with an idempotency key, a wrong code, a resend, the right code, a
//! client's counters), every item of the table is scanned and none may hold
//! the number (in any form) or the address. The dump is printed, as the
//! evidence docs/security.md shows.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{Function, Stack, dynamodb};
use serde_json::json;

/// The address every test event comes from (`requestContext.http.sourceIp`).
const CLIENT_ADDRESS: &str = "203.0.113.7";

#[tokio::test]
async fn no_item_holds_a_phone_number_or_a_client_address() {
    let stack = Stack::start().await;
    let phone = "+14155550123";
    let send = stack
        .call(
            Function::Send,
            json!({ "phoneNumber": phone, "idempotencyKey": "privacy-check-1" }),
        )
        .await;
    assert_eq!(send.status, 200, "{:?}", send.body);
    let wrong = stack.wrong_code_for(phone).await;
    assert_eq!(stack.verify(phone, &wrong).await.status, 400);
    stack.clock.advance(61);
    assert_eq!(stack.send(phone).await.status, 200);
    let code = stack.code_sent_to(phone).await;
    assert_eq!(stack.verify(phone, &code).await.status, 200);

    let items = dynamodb()
        .await
        .scan()
        .table_name(&stack.table)
        .consistent_read(true)
        .send()
        .await
        .expect("Scan works")
        .items
        .unwrap_or_default();
    let mut dump: Vec<String> = items.iter().map(render).collect();
    dump.sort();
    println!(
        "{} items after a whole flow:\n{}",
        dump.len(),
        dump.join("\n")
    );
    assert!(
        dump.iter().any(|item| item.contains("pk=number#")),
        "the number's item is there, under its pseudonym"
    );
    let forbidden = [
        phone,          // E.164
        &phone[1..],    // its digits
        &phone[2..],    // the national number
        "415-555-0123", // as people write it
        CLIENT_ADDRESS,
        &code, // and never the code itself
    ];
    for item in &dump {
        for needle in forbidden {
            assert!(!item.contains(needle), "{needle:?} is stored: {item}");
        }
    }
}

/// One item as `name=value` pairs, sorted by name; binary values as hex (a
/// number could only hide in them as text).
fn render(item: &std::collections::HashMap<String, AttributeValue>) -> String {
    let mut pairs: Vec<String> = item
        .iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::S(text) | AttributeValue::N(text) => text.clone(),
                AttributeValue::B(bytes) => format!(
                    "0x{} ({:?})",
                    hex(bytes.as_ref()),
                    String::from_utf8_lossy(bytes.as_ref())
                ),
                other => format!("{other:?}"),
            };
            format!("{name}={value}")
        })
        .collect();
    pairs.sort();
    pairs.join(" ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
