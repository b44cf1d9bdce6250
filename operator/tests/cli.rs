//! The built binary: argument errors and missing settings exit with 1 and a
//! message on stderr, before any AWS call; `--help` exits with 0.

use std::process::{Command, Output};

/// Runs the binary with `args` in an environment holding only a region (no
/// table, no keys, no credentials, no instance metadata).
fn admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phone-verification-admin"))
        .args(args)
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn argument_errors_exit_with_1_and_the_usage() {
    for (args, says) in [
        (&[][..], "give a command"),
        (&["show", "4155550123"][..], "international format"),
        (
            &["show", "+14155550123", "+14155550124"][..],
            "unexpected argument",
        ),
        (&["budgets", "USA"][..], "ISO 3166"),
        (&["lift", "prefix", "1312555"][..], "a prefix is +"),
        (&["forget", "+14155550123"][..], "unknown command forget"),
    ] {
        let output = admin(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            stderr.contains("usage: phone-verification-admin"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    let json = admin(&["--json", "show", "4155550123"]);
    assert_eq!(json.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&json.stderr).expect("a JSON error");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("international format")
    );
}

#[test]
fn help_exits_with_0_and_a_missing_setting_is_named() {
    let help = admin(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("lift country US"));
    let unset = admin(&["show", "+14155550123"]);
    let stderr = text(&unset.stderr);
    assert_eq!(unset.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("VERIFICATIONS_TABLE"), "{stderr}");
}
