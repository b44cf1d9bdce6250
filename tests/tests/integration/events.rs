//! Every file in events/ (used with `sam local invoke -e` and
//! `cargo lambda invoke --data-file`) goes through the real handler, so the
//! examples cannot rot. A new file needs an expectation here.

use std::path::Path;

use integration_tests::{Function, Stack};

/// (file, function, status, reason) — `None` reason means success.
const EXPECTED: &[(&str, Function, u16, Option<&str>)] = &[
    ("send-verification-code.json", Function::Send, 200, None),
    (
        "send-verification-code-parse-sdk.json",
        Function::Send,
        200,
        None,
    ),
    (
        "send-verification-code-rest-api.json",
        Function::Send,
        200,
        None,
    ),
    (
        "send-verification-code-national-number.json",
        Function::Send,
        400,
        Some("phone_number_missing_country_code"),
    ),
    (
        "send-verification-code-unknown-channel.json",
        Function::Send,
        400,
        Some("unsupported_channel"),
    ),
    (
        "verify-phone-number.json",
        Function::Verify,
        404,
        Some("no_pending_verification"),
    ),
    (
        "verify-phone-number-rest-api.json",
        Function::Verify,
        404,
        Some("no_pending_verification"),
    ),
    (
        "verify-phone-number-malformed-code.json",
        Function::Verify,
        400,
        Some("invalid_code_format"),
    ),
    (
        "verify-phone-number-invalid-json.json",
        Function::Verify,
        400,
        Some("invalid_json"),
    ),
];

#[tokio::test]
async fn every_event_file_gives_its_expected_answer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("events/ exists")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "files {files:?}: each needs an expectation"
    );

    for (file, function, status, reason) in EXPECTED {
        // A fresh stack per event: verify events expect nothing pending.
        let stack = Stack::start().await;
        let event =
            std::fs::read_to_string(dir.join(file)).unwrap_or_else(|_| panic!("{file} is missing"));
        let answer = stack.call_event(*function, &event).await;
        assert_eq!(answer.status, *status, "{file}: {:?}", answer.body);
        match reason {
            Some(reason) => assert_eq!(answer.reason(), *reason, "{file}"),
            None => assert_eq!(
                answer.body["result"]["phoneNumber"], "+14155550123",
                "{file}"
            ),
        }
    }
}
