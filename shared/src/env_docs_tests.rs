//! Every environment variable the code reads is documented in
//! docs/configuration.md, and nothing documented there is stale.
//!
//! The functions: every `.rs` file under `shared/src` and `functions/*/src`,
//! without test files (`*tests*`) and `#[cfg(test)]` items, is read as tokens.
//! A name counts as read when it is the name argument of a reading call
//! (`get("NAME")`, `require("NAME")`, `lookup("NAME")`, `number(&get, "NAME", ..)`,
//! `keyring(&get, ["NAME", "NAME_ID", ..])`,
//! `count("NAME", ..)`, `std::env::var("NAME")`), an entry of a `*_SETTINGS` or
//! `*_SECRETS` list, or `<SECRET>_PARAMETER` for each entry of a `*_SECRETS`
//! list when the code builds names with a `"{..}_PARAMETER"` format string.
//! The scripts: `scripts/*.sh` (`${NAME:-..}` and the like), `scripts/*.mjs`
//! (`process.env.NAME`) and `scripts/*.py` (`os.environ.get("NAME")`).
//!
//! The documentation: the names in backticks in the first column of each
//! table of docs/configuration.md; the table under "## Local scripts" is the
//! scripts', every other table the functions'.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::source_tokens::{Token, read, tokens, without_test_items};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const DOCS: &str = "docs/configuration.md";
const SCRIPTS_HEADING: &str = "## Local scripts";

/// The calls that read a setting by name (the last path segment is compared).
const READERS: [&str; 8] = [
    "get", "require", "lookup", "number", "count", "var", "var_os", "keyring",
];

/// Upper-case string literals in the functions' code that name no
/// environment variable the functions read at run time.
const NOT_ENV: [(&str, &str); 1] = [(
    "OUT_DIR",
    "env!(\"OUT_DIR\"): Cargo's build directory, read at compile time",
)];

/// Documented variables that a library reads, not our code: each with the
/// call in our code that hands them to that library, which must be there.
const LIBRARY_READ: [(&str, &str, &str); 3] = [
    (
        "RUST_LOG",
        "init_default_subscriber",
        "lambda_runtime's log set-up, called in app.rs",
    ),
    (
        "AWS_LAMBDA_LOG_LEVEL",
        "init_default_subscriber",
        "lambda_runtime's log set-up, called in app.rs",
    ),
    (
        "AWS_LAMBDA_LOG_FORMAT",
        "init_default_subscriber",
        "lambda_runtime's log set-up, called in app.rs",
    ),
];

/// Variables the scripts read that are not this project's knobs.
const SCRIPT_GENERIC: [(&str, &str); 2] = [
    (
        "PATH",
        "the search path: arm64-check.mjs looks for qemu on it",
    ),
    (
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED",
        "the AWS SDK for JavaScript's own switch, which dynamodb-local.mjs sets",
    ),
];

/// `NAME`: an upper-case letter, then upper-case letters, digits and `_`.
fn is_env_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// What one file of the functions' code tells: the names it reads, the
/// entries of its `*_SECRETS` lists, the suffixes of its `"{..}_SUFFIX"`
/// format strings, and every upper-case literal with a `_` in it.
#[derive(Debug, Default)]
struct CodeScan {
    read: BTreeSet<String>,
    secrets: BTreeSet<String>,
    suffixes: BTreeSet<String>,
    literals: BTreeSet<String>,
}

fn scan_code(source: &str, scan: &mut CodeScan) {
    let tokens = without_test_items(tokens(source));
    let str_at = |i: usize| match tokens.get(i) {
        Some(Token::Str(text)) => Some(text.as_str()),
        _ => None,
    };
    for (i, token) in tokens.iter().enumerate() {
        match token {
            // reader( "NAME"   or   reader( &get, "NAME"   or   reader( get, "NAME"
            Token::Ident(name) if READERS.contains(&name.as_str()) => {
                if tokens.get(i + 1) != Some(&Token::Punct('(')) {
                    continue;
                }
                let mut j = i + 2;
                if str_at(j).is_none() {
                    if tokens.get(j) == Some(&Token::Punct('&')) {
                        j += 1;
                    }
                    if !matches!(tokens.get(j), Some(Token::Ident(_)))
                        || tokens.get(j + 1) != Some(&Token::Punct(','))
                    {
                        continue;
                    }
                    j += 2;
                }
                if let Some(text) = str_at(j).filter(|text| is_env_name(text)) {
                    scan.read.insert(text.to_owned());
                }
                // reader( &get, [ "NAME", "NAME_ID", ... ]: a group of settings
                if tokens.get(j) == Some(&Token::Punct('[')) {
                    let group = tokens[j + 1..]
                        .iter()
                        .take_while(|token| **token != Token::Punct(']'))
                        .filter_map(|token| match token {
                            Token::Str(text) if is_env_name(text) => Some(text.clone()),
                            _ => None,
                        });
                    scan.read.extend(group);
                }
            }
            // const X_SETTINGS ... = [ "NAME", ... ];  (and X_SECRETS)
            Token::Ident(name)
                if (name.ends_with("_SETTINGS") || name.ends_with("_SECRETS"))
                    && i > 0
                    && tokens[i - 1] == Token::Ident("const".into()) =>
            {
                let entries = tokens[i..]
                    .iter()
                    .skip_while(|token| **token != Token::Punct('='))
                    .take_while(|token| **token != Token::Punct(';'))
                    .filter_map(|token| match token {
                        Token::Str(text) if is_env_name(text) => Some(text.clone()),
                        _ => None,
                    });
                for entry in entries {
                    scan.read.insert(entry.clone());
                    if name.ends_with("_SECRETS") {
                        scan.secrets.insert(entry);
                    }
                }
            }
            Token::Str(text) => {
                if is_env_name(text) && text.contains('_') {
                    scan.literals.insert(text.clone());
                }
                // "{setting}_PARAMETER"
                if let Some(suffix) = text
                    .strip_prefix('{')
                    .and_then(|rest| rest.split_once('}'))
                    .map(|(_, suffix)| suffix)
                    .filter(|suffix| suffix.starts_with('_') && is_env_name(&suffix[1..]))
                {
                    scan.suffixes.insert(suffix.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// The names a script reads: `${NAME:-..}` (also `-`, `:=`, `=`, `:+`, `+`,
/// `:?`, `?`) in shell, `process.env.NAME` and `process.env['NAME']` in
/// JavaScript, `os.environ.get("NAME")`, `os.environ["NAME"]` and
/// `os.getenv("NAME")` in Python.
fn scan_script(source: &str, extension: &str) -> BTreeSet<String> {
    let name_at = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    let mut add = |name: String| {
        if is_env_name(&name) {
            found.insert(name);
        }
    };
    match extension {
        "sh" => {
            for (i, _) in source.match_indices("${") {
                let rest = &source[i + 2..];
                let name = name_at(rest);
                let after = rest[name.len()..].trim_start_matches(':');
                if after.starts_with(['-', '=', '+', '?']) {
                    add(name);
                }
            }
        }
        "mjs" | "js" => {
            for (i, _) in source.match_indices("process.env") {
                let rest = &source[i + "process.env".len()..];
                if let Some(rest) = rest.strip_prefix('.') {
                    add(name_at(rest));
                } else if let Some(rest) = rest.strip_prefix("['").or(rest.strip_prefix("[\"")) {
                    add(name_at(rest));
                }
            }
        }
        "py" => {
            for pattern in ["os.environ.get(\"", "os.environ[\"", "os.getenv(\""] {
                for (i, _) in source.match_indices(pattern) {
                    add(name_at(&source[i + pattern.len()..]));
                }
            }
        }
        _ => {}
    }
    found
}

/// The names in backticks in the first column of each table row of `doc`:
/// (the functions' tables, the local scripts' table).
fn documented(doc: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut functions, mut scripts) = (BTreeSet::new(), BTreeSet::new());
    let mut in_scripts = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_scripts = line.trim() == SCRIPTS_HEADING;
        }
        let Some(first) = line.strip_prefix('|').and_then(|row| row.split('|').next()) else {
            continue;
        };
        let names = first
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|name| is_env_name(name))
            .map(str::to_owned);
        if in_scripts {
            scripts.extend(names);
        } else {
            functions.extend(names);
        }
    }
    (functions, scripts)
}

/// Every `.rs` file under `dir`, without test files.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains("tests") {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, files);
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

fn code_scan() -> (CodeScan, String) {
    let root = Path::new(ROOT);
    let mut files = Vec::new();
    rust_files(&root.join("shared/src"), &mut files);
    for entry in std::fs::read_dir(root.join("functions"))
        .expect("functions/")
        .flatten()
    {
        rust_files(&entry.path().join("src"), &mut files);
    }
    let mut scan = CodeScan::default();
    let mut all_code = String::new();
    for file in &files {
        let source = read(file);
        scan_code(&source, &mut scan);
        all_code.push_str(&source);
    }
    for suffix in &scan.suffixes {
        let names: Vec<String> = scan
            .secrets
            .iter()
            .map(|s| format!("{s}{suffix}"))
            .collect();
        scan.read.extend(names);
    }
    (scan, all_code)
}

fn scripts_read() -> BTreeSet<String> {
    let dir = Path::new(ROOT).join("scripts");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("scripts/").flatten() {
        let path = entry.path();
        if let Some(extension) = path.extension().and_then(|e| e.to_str())
            && path.is_file()
        {
            found.extend(scan_script(&read(&path), extension));
        }
    }
    found
}

/// The names in `names` that `known` does not accept.
fn missing(names: &BTreeSet<String>, known: impl Fn(&str) -> bool) -> Vec<&String> {
    names.iter().filter(|name| !known(name)).collect()
}

#[test]
fn every_environment_variable_read_is_documented_and_nothing_documented_is_stale() {
    let (scan, code) = code_scan();
    let scripts = scripts_read();
    let (doc_functions, doc_scripts) = documented(&read(&Path::new(ROOT).join(DOCS)));

    // The scans must see what is certainly there, or they have gone blind.
    for name in ["VERIFICATIONS_TABLE", "SETTINGS", "CODE_HMAC_KEY_PARAMETER"] {
        assert!(scan.read.contains(name), "the code scan misses {name}");
    }
    assert!(
        scripts.contains("GATEWAY_PORT"),
        "the script scan misses GATEWAY_PORT"
    );
    assert!(
        doc_scripts.contains("GATEWAY_PORT") && doc_functions.contains("VERIFICATIONS_TABLE"),
        "no tables found in {DOCS} (is the scripts' table under {SCRIPTS_HEADING:?}?)"
    );

    let library = |name: &str| LIBRARY_READ.iter().any(|(n, _, _)| *n == name);
    let generic = |name: &str| SCRIPT_GENERIC.iter().any(|(n, _)| *n == name);
    let not_env = |name: &str| NOT_ENV.iter().any(|(n, _)| *n == name);
    let mut problems = Vec::new();
    let mut report = |what: &str, names: Vec<&String>| {
        if !names.is_empty() {
            problems.push(format!("{what}: {names:?}"));
        }
    };
    report(
        &format!("read by the functions, not in {DOCS}"),
        missing(&scan.read, |n| doc_functions.contains(n)),
    );
    report(
        &format!("in {DOCS}, read by no function (stale?)"),
        missing(&doc_functions, |n| scan.read.contains(n) || library(n)),
    );
    report(
        &format!("read by scripts/, not in the {SCRIPTS_HEADING:?} table of {DOCS}"),
        missing(&scripts, |n| doc_scripts.contains(n) || generic(n)),
    );
    report(
        &format!("in the {SCRIPTS_HEADING:?} table of {DOCS}, read by no script (stale?)"),
        missing(&doc_scripts, |n| scripts.contains(n)),
    );
    // A name in the code that no reading pattern above recognises: a new
    // way of reading the environment (add it to READERS) or not a variable
    // (add it to NOT_ENV, with the reason).
    report(
        "upper-case literals in the functions' code that no reader pattern recognises",
        missing(&scan.literals, |n| scan.read.contains(n) || not_env(n)),
    );
    // The allow-lists must stay true.
    let gone: Vec<String> = LIBRARY_READ
        .iter()
        .filter(|(name, call, _)| !code.contains(call) || !doc_functions.contains(*name))
        .map(|(name, call, _)| format!("{name} (through {call})"))
        .chain(
            SCRIPT_GENERIC
                .iter()
                .filter(|(name, _)| !scripts.contains(*name))
                .map(|(name, _)| name.to_string()),
        )
        .chain(
            NOT_ENV
                .iter()
                .filter(|(name, _)| !scan.literals.contains(*name))
                .map(|(name, _)| name.to_string()),
        )
        .collect();
    report("allow-list entries no longer needed", gone.iter().collect());

    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn the_code_scan_finds_each_way_of_reading_and_skips_tests() {
    let source = r#"
        // get("IN_A_COMMENT")
        const TUNING_SETTINGS: [&str; 1] = ["TUNED"];
        pub const SEND_SECRETS: &[&str] = &["SECRET_KEY"];
        fn f() {
            let a = get("PLAIN");
            let b = number(&get, "NUMBERED", 5, 1..=9);
            let c = count(
                "COUNTED",
                1,
                2,
            );
            let d = std::env::var("FROM_ENV");
            let e = lookup(&format!("{setting}_PARAMETER"));
            let f = require("REQUIRED");
            let g = headers.get("x-lower-case");
            let h = '{';
            let i = Missing("LABEL_ONLY");
            let j = keyring(&get, ["A_KEY", "A_KEY_ID"], "v1");
        }
        #[cfg(test)]
        mod tests {
            fn g() { get("TEST_ONLY"); let s = "}"; }
        }
        fn after() { get("AFTER_TESTS"); }
    "#;
    let mut scan = CodeScan::default();
    scan_code(source, &mut scan);
    let read: Vec<&str> = scan.read.iter().map(String::as_str).collect();
    assert_eq!(
        read,
        [
            "AFTER_TESTS",
            "A_KEY",
            "A_KEY_ID",
            "COUNTED",
            "FROM_ENV",
            "NUMBERED",
            "PLAIN",
            "REQUIRED",
            "SECRET_KEY",
            "TUNED"
        ]
    );
    assert_eq!(scan.suffixes.iter().collect::<Vec<_>>(), ["_PARAMETER"]);
    assert!(scan.literals.contains("LABEL_ONLY"));
    assert!(!scan.literals.contains("TEST_ONLY"));
}

#[test]
fn the_script_scan_finds_defaults_and_process_env() {
    let shell = r#"PORT="${GATEWAY_PORT:-3000}"; [[ "${READY:-}" == 1 ]]; echo "${PLAIN}" "${lower:-x}" "${ASSIGN:=y}""#;
    assert_eq!(
        scan_script(shell, "sh").into_iter().collect::<Vec<_>>(),
        ["ASSIGN", "GATEWAY_PORT", "READY"]
    );
    let js = "const a = process.env.MAX_X || 5; const b = process.env['Y_Y']; `${error?.stack}`";
    assert_eq!(
        scan_script(js, "mjs").into_iter().collect::<Vec<_>>(),
        ["MAX_X", "Y_Y"]
    );
    let py = r#"os.environ.get("EMULATOR_URL", "x"); os.environ["SETTINGS"]"#;
    assert_eq!(
        scan_script(py, "py").into_iter().collect::<Vec<_>>(),
        ["EMULATOR_URL", "SETTINGS"]
    );
}

#[test]
fn documented_names_come_from_the_first_column_by_table() {
    let doc = "## Function settings\n\
        | variable | default | meaning |\n|---|---|---|\n\
        | `A_B` + `C_D` *S* | `x` | see `NOT_THIS` |\n\
        ## Local scripts\n\
        | `PORT_X` | `dev.sh` | `8000` | |\n";
    let (functions, scripts) = documented(doc);
    assert_eq!(functions.into_iter().collect::<Vec<_>>(), ["A_B", "C_D"]);
    assert_eq!(scripts.into_iter().collect::<Vec<_>>(), ["PORT_X"]);
}
