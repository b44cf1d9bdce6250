//! Property-based fuzzing of everything that reads client or Twilio input:
//! the Parse request body (`Params`), the phone number and code parsers and
//! Twilio's delivery reports.
//!
//! Every property holds for any input: no panic, every error is a 4xx
//! `ApiError` (a 5xx would make Parse SDKs retry a request that can never
//! succeed), and what is accepted is well formed and stable (an E.164
//! number reads back as itself, whatever the separators around it).
//!
//! Each property runs `PROPTEST_CASES` cases (256 by default) from a random
//! seed; a failure is shrunk, printed and saved under
//! `shared/proptest-regressions/` so the next run replays it first. Run
//! with `--nocapture` to see the number of cases and the time per property.

use std::cell::Cell;
use std::time::Instant;

use lambda_http::http::{HeaderValue, Method, Uri};
use lambda_http::{Body, Request};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseResult, TestRunner};
use serde_json::{Map, Value};

use crate::domain::{CodeLength, OneTimeCode, PhoneNumber, PhoneNumberError};
use crate::http::delivery_report::DeliveryReport;
use crate::http::params::Params;
use crate::http::{ApiError, MAX_BODY_BYTES};

// ---------------------------------------------------------------------------
// Running and checking
// ---------------------------------------------------------------------------

/// Runs one property with the default configuration (`PROPTEST_CASES`
/// cases, failures persisted), then prints how many inputs it ran and how
/// long it took.
fn check<S: Strategy>(name: &'static str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: std::fmt::Debug,
{
    let config = ProptestConfig {
        source_file: Some(file!()),
        test_name: Some(name),
        ..ProptestConfig::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let ran = Cell::new(0u32);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| {
        ran.set(ran.get() + 1);
        test(value)
    });
    eprintln!(
        "fuzz {name}: {} inputs ({cases} cases configured) in {:.2?}",
        ran.get(),
        started.elapsed()
    );
    if let Err(failure) = result {
        panic!("{name}: {failure}");
    }
}

fn assert_client_error(error: &ApiError, what: &str) -> TestCaseResult {
    prop_assert!(
        error.status().is_client_error(),
        "{what}: {:?} answers {} ({:?})",
        error.reason,
        error.status(),
        error.message
    );
    Ok(())
}

/// `^\+[1-9][0-9]{6,14}$`
fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A parsed number is E.164, reads back as itself, and its mask hides it.
fn check_number(number: &PhoneNumber, what: &str) -> TestCaseResult {
    let e164 = number.as_e164();
    prop_assert!(is_e164(e164), "{what}: {e164:?} is not E.164");
    let again = PhoneNumber::parse(e164, None);
    prop_assert_eq!(again.as_ref(), Ok(number), "{}: {} read again", what, e164);
    let again = again.unwrap();
    prop_assert_eq!(again.region_code(), number.region_code());
    prop_assert_eq!(again.kind(), number.kind());
    let masked = number.masked();
    prop_assert_eq!(masked.len(), e164.len());
    prop_assert!(
        masked.contains('*') && masked != e164,
        "{masked} shows {e164}"
    );
    Ok(())
}

fn header(value: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(value).expect("strategies make valid header values")
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Bytes a header value may hold: visible ASCII, tab, and obs-text
/// (0x80-0xFF, not UTF-8 and not readable with `to_str`).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(
            prop_oneof![8 => 0x20u8..=0x7e, 2 => 0x80u8..=0xff, 1 => Just(b'\t')],
            0..40,
        ),
        1 => "[!-~]{250,260}".prop_map(String::into_bytes),
        1 => any::<String>()
            .prop_map(String::into_bytes)
            .prop_filter("a header value", |b| HeaderValue::from_bytes(b).is_ok()),
    ]
}

const SEPARATORS: &[char] = &[' ', '-', '.', '(', ')', '+', '/', '\t'];

/// Text around phone numbers: ASCII digits and separators, Unicode digits
/// and spaces, and a few letters.
fn phone_like() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        10 => prop::char::range('0', '9'),
        4 => prop::sample::select(SEPARATORS),
        2 => prop::sample::select(&[
            '٠', '٤', '۱', '०', '৩', '๑', '０', '５', '𝟘', '𝟡', '¹', '½', '①',
        ][..]),
        1 => prop::sample::select(&[
            '\u{a0}', '\u{2009}', '\u{202f}', '\u{3000}', '\n', '\u{feff}', '\u{200b}',
            '\u{2011}', '\u{2013}', '\u{ff0b}', '\u{ff08}',
        ][..]),
        1 => prop::sample::select(&['a', 'e', 'x', 't', 'l', ':', ';', '#', '*', ','][..]),
    ];
    prop_oneof![
        4 => prop::collection::vec(character, 0..45).prop_map(String::from_iter),
        2 => "\\+?[0-9]{0,20}",
        1 => any::<String>(),
        1 => "[ +0-9().-]{41,200}",
        1 => "\\+[0-9]{2000,5000}",
    ]
}

fn region() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        3 => prop::sample::select(&[
            "US", "us", " gb ", "FR", "DE", "IT", "CA", "JM", "RU", "KZ", "BR", "AR", "MX",
            "IN", "CN", "JP", "AU", "NZ", "SH", "NU", "VA", "NO", "SG", "CI", "CG", "JE", "AQ", "XX",
            "ZZ", "001", "",
            "U S", "usa", "Us\u{0}",
        ][..])
        .prop_map(|r| Some(r.to_owned())),
        1 => "[A-Z]{2}".prop_map(Some),
        1 => any::<String>().prop_map(Some),
    ]
}

fn code_like() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ \t]{0,2}[0-9]{0,12}[ \t]{0,2}",
        2 => prop::collection::vec(
            prop_oneof![
                8 => prop::char::range('0', '9'),
                1 => prop::sample::select(&['٣', '０', '𝟡', '²', ' ', '\u{3000}', '-', '+', '.', 'e'][..]),
            ],
            0..14,
        )
        .prop_map(String::from_iter),
        1 => any::<String>(),
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const PARAMETERS: &[&str] = &[
    "phoneNumber",
    "defaultRegion",
    "countryCode",
    "channel",
    "locale",
    "idempotencyKey",
    "phoneVerificationCode",
    "_ApplicationId",
    "_ClientVersion",
    "_InstallationId",
];

/// A value that means something for some parameter, or any JSON.
fn parameter_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => phone_like().prop_map(Value::String),
        1 => region().prop_map(|r| r.map_or(Value::Null, Value::String)),
        1 => prop::sample::select(&["sms", "call", "whatsapp", "SMS", " sms", "email", ""][..])
            .prop_map(Value::from),
        1 => "[a-zA-Z0-9_-]{0,40}".prop_map(Value::String),
        2 => code_like().prop_map(Value::String),
        1 => prop::sample::select(&["appId", "other", ""][..]).prop_map(Value::from),
        2 => json_value(),
    ]
}

fn parameters() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        4 => prop::sample::select(PARAMETERS).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    prop::collection::vec((name, parameter_value()), 0..8)
        .prop_map(|pairs| pairs.into_iter().collect())
}

/// A request body: JSON objects (as sent, or with a byte order mark and
/// spaces), other JSON, bytes, text, or more than `MAX_BODY_BYTES`.
fn body_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
    let object = || parameters().prop_map(|map| Value::Object(map).to_string().into_bytes());
    prop_oneof![
        1 => Just(None),
        6 => object().prop_map(Some),
        1 => (object(), any::<bool>(), "[ \t\r\n]{0,3}").prop_map(|(json, bom, space)| {
            let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(space.as_bytes());
            bytes.extend(json);
            bytes.extend_from_slice(space.as_bytes());
            Some(bytes)
        }),
        1 => json_value().prop_map(|value| Some(value.to_string().into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Some),
        1 => any::<String>().prop_map(|text| Some(text.into_bytes())),
        1 => (MAX_BODY_BYTES - 40..MAX_BODY_BYTES + 40).prop_map(|len| {
            let padding = "x".repeat(len - 20);
            let mut bytes = format!(r#"{{"p":"{padding}","phoneNumber":1}}"#).into_bytes();
            bytes.truncate(len);
            Some(bytes)
        }),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        5 => Just(Method::POST),
        1 => prop::sample::select(&["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "post", "FUZZ"][..])
            .prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        4 => prop::sample::select(&[
            "application/json",
            "application/json; charset=utf-8",
            " APPLICATION/JSON ;x=y",
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            ";",
            "application/json\u{e9}",
        ][..])
        .prop_map(|t| Some(t.as_bytes().to_vec())),
        1 => Just(Some(b"application/json\xff".to_vec())),
        1 => header_bytes().prop_map(Some),
    ]
}

#[derive(Debug, Clone)]
struct ParseRequest {
    method: Method,
    content_type: Option<Vec<u8>>,
    /// `None`: `Body::Empty`.
    body: Option<Vec<u8>>,
    /// Send a UTF-8 body as `Body::Text` (else `Body::Binary`).
    text: bool,
    application_id_header: Option<Vec<u8>>,
    idempotency_key_header: Option<Vec<u8>>,
    /// The application id the deployment expects.
    expected_application_id: Option<&'static str>,
}

impl ParseRequest {
    fn body(&self, text: bool) -> Body {
        match &self.body {
            None => Body::Empty,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(utf8) if text => Body::Text(utf8.to_owned()),
                _ => Body::Binary(bytes.clone()),
            },
        }
    }

    fn request(&self, text: bool) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method(self.method.clone())
            .uri("https://example.com/functions/sendVerificationCode");
        for (name, value) in [
            ("content-type", &self.content_type),
            ("x-parse-application-id", &self.application_id_header),
            ("idempotency-key", &self.idempotency_key_header),
        ] {
            if let Some(value) = value {
                builder = builder.header(name, header(value));
            }
        }
        builder.body(self.body(text)).unwrap()
    }
}

fn parse_request() -> impl Strategy<Value = ParseRequest> {
    let application_id = prop_oneof![
        2 => Just(None),
        2 => Just(Some(b"appId".to_vec())),
        1 => header_bytes().prop_map(Some),
    ];
    let idempotency_key = prop_oneof![
        2 => Just(None),
        1 => "[!-~]{1,20}".prop_map(|k| Some(k.into_bytes())),
        1 => header_bytes().prop_map(Some),
    ];
    (
        method(),
        content_type(),
        body_bytes(),
        any::<bool>(),
        application_id,
        idempotency_key,
        prop::option::of(Just("appId")),
    )
        .prop_map(
            |(method, content_type, body, text, app_header, key_header, expected)| ParseRequest {
                method,
                content_type,
                body,
                text,
                application_id_header: app_header,
                idempotency_key_header: key_header,
                expected_application_id: expected,
            },
        )
}

// ---------------------------------------------------------------------------
// Params: the Parse request body
// ---------------------------------------------------------------------------

/// What `Params::read` gives, reduced to what can be compared.
fn read_outcome(request: &Request, application_id: Option<&str>) -> Result<(), ApiError> {
    Params::read(request, application_id).map(drop)
}

#[test]
fn parse_requests_are_read_without_panics_and_refused_with_4xx() {
    check("params_read", parse_request(), |input| {
        let request = input.request(input.text);
        let expected = input.expected_application_id;
        let read = Params::read(&request, expected);
        // The body reads the same as text or as bytes.
        prop_assert_eq!(
            read.as_ref().map(drop).map_err(Clone::clone),
            read_outcome(&input.request(!input.text), expected)
        );
        let params = match read {
            Err(error) => return assert_client_error(&error, "read"),
            Ok(params) => params,
        };
        prop_assert_eq!(&input.method, &Method::POST);
        prop_assert!(input.body.is_some());
        if let Some(expected) = expected {
            let body = input.body.as_deref().unwrap();
            let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let in_body = body.get("_ApplicationId").and_then(Value::as_str);
            let in_header = input.application_id_header.as_deref();
            prop_assert!(
                in_header == Some(expected.as_bytes()) || in_body == Some(expected),
                "accepted without the application id"
            );
        }

        match params.phone_number() {
            Ok(number) => check_number(&number, "phoneNumber")?,
            Err(error) => assert_client_error(&error, "phoneNumber")?,
        }
        if let Err(error) = params.channel() {
            assert_client_error(&error, "channel")?;
        }
        match params.locale() {
            Ok(Some(tag)) => prop_assert!(
                (2..=35).contains(&tag.len())
                    && tag
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "locale {tag:?}"
            ),
            Ok(None) => {}
            Err(error) => assert_client_error(&error, "locale")?,
        }
        match params.idempotency_key(&request) {
            Ok(Some(key)) => {
                prop_assert!(
                    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()),
                    "idempotency key {key:?}"
                );
                if let Some(header) = &input.idempotency_key_header {
                    prop_assert_eq!(key.as_bytes(), header.as_slice());
                }
            }
            Ok(None) => prop_assert!(input.idempotency_key_header.is_none()),
            Err(error) => assert_client_error(&error, "idempotencyKey")?,
        }
        for digits in CodeLength::MIN..=CodeLength::MAX {
            let length = CodeLength::new(digits).unwrap();
            match params.code(length) {
                Ok(code) => prop_assert!(
                    code.as_str().len() == length.digits()
                        && code.as_str().bytes().all(|b| b.is_ascii_digit()),
                    "code of {digits}"
                ),
                Err(error) => assert_client_error(&error, "phoneVerificationCode")?,
            }
        }
        Ok(())
    });
}

fn json_request(parameters: Value) -> Request {
    lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri("/functions/sendVerificationCode")
        .header("content-type", "application/json")
        .body(Body::Text(parameters.to_string()))
        .unwrap()
}

/// `phoneNumber` and `phoneVerificationCode` read from a body mean what
/// the parsers make of the same strings.
#[test]
fn parameters_read_as_their_parsers_read_them() {
    let strategy = (
        phone_like(),
        region(),
        any::<bool>(),
        code_like(),
        CodeLength::MIN..=CodeLength::MAX,
    );
    check(
        "params_agree_with_parsers",
        strategy,
        |(number, region, alias, code, digits)| {
            let region_name = if alias {
                "countryCode"
            } else {
                "defaultRegion"
            };
            let mut body = serde_json::json!({
                "phoneNumber": number,
                "phoneVerificationCode": code,
            });
            if let Some(region) = &region {
                body[region_name] = Value::from(region.as_str());
            }
            let request = json_request(body);
            let params = Params::read(&request, None).unwrap();

            let parsed = PhoneNumber::parse(&number, region.as_deref());
            match params.phone_number() {
                Ok(read) => prop_assert_eq!(Ok(read), parsed),
                Err(error) if number.trim().is_empty() => {
                    prop_assert_eq!(error.status().as_u16(), 400);
                    prop_assert!(parsed.is_err());
                }
                Err(error) => prop_assert_eq!(Err(error), parsed.map_err(ApiError::from)),
            }

            let length = CodeLength::new(digits).unwrap();
            let parsed = OneTimeCode::parse(&code, length);
            match params.code(length) {
                Ok(read) => {
                    prop_assert_eq!(Ok(read.as_str()), parsed.as_ref().map(OneTimeCode::as_str))
                }
                Err(error) => {
                    assert_client_error(&error, "phoneVerificationCode")?;
                    prop_assert!(parsed.is_err());
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// PhoneNumber
// ---------------------------------------------------------------------------

#[test]
fn any_text_parses_to_e164_or_to_a_4xx() {
    check(
        "phone_number_any_text",
        (phone_like(), region()),
        |(input, region)| {
            let parsed = PhoneNumber::parse(&input, region.as_deref());
            match &parsed {
                Ok(number) => {
                    check_number(number, &input)?;
                    prop_assert!(input.trim().len() <= 40);
                }
                Err(error) => {
                    assert_client_error(&ApiError::from(error.clone()), &input)?;
                    if *error == PhoneNumberError::MissingCountryCode {
                        prop_assert!(region.is_none() && !input.trim().starts_with('+'));
                    }
                }
            }
            // International input means the same with any valid region.
            let valid_region =
                region.filter(|r| PhoneNumber::parse("+14155550123", Some(r)).is_ok());
            if input.trim().starts_with('+')
                && let Some(region) = valid_region
            {
                let without = PhoneNumber::parse(&input, None);
                prop_assert_eq!(parsed, without, "{:?} with {:?} and without", input, region);
            }
            Ok(())
        },
    );
}

/// Valid numbers, one or two per numbering plan that behaves differently:
/// region, calling code, national significant number, national prefix.
const VALID: &[(&str, &str, &str, &str)] = &[
    ("US", "1", "4155550123", "1"),
    ("CA", "1", "6042531234", "1"),
    ("JM", "1", "8765230123", "1"),
    ("GB", "44", "2079460958", "0"),
    ("GB", "44", "7400123456", "0"),
    ("FR", "33", "612345678", "0"),
    ("DE", "49", "15123456789", "0"),
    ("DE", "49", "30123456", "0"),
    ("IT", "39", "0212345678", ""),
    ("IT", "39", "3123456789", ""),
    ("IT", "39", "3906123456", ""),
    ("ES", "34", "612345678", ""),
    ("AU", "61", "412345678", "0"),
    ("JP", "81", "9012345678", "0"),
    ("BR", "55", "11961234567", "0"),
    ("IN", "91", "8123456789", "0"),
    ("RU", "7", "9123456789", "8"),
    ("KZ", "7", "7710009998", "8"),
    ("CN", "86", "13123456789", "0"),
    ("NG", "234", "8021234567", "0"),
    ("SG", "65", "81234567", ""),
    ("SG", "65", "65123456", ""),
    ("CH", "41", "781234567", "0"),
    ("NO", "47", "47123456", ""),
    ("NO", "47", "91234567", ""),
    ("NZ", "64", "211234567", "0"),
    ("ZA", "27", "711234567", "0"),
    ("CI", "225", "0712345678", ""),
    ("CG", "242", "061234567", ""),
    ("SH", "290", "22158", ""),
    ("NU", "683", "7012", ""),
    ("001", "800", "12345678", ""),
];

#[test]
fn the_valid_examples_are_valid() {
    for (region, code, national, trunk) in VALID {
        let e164 = format!("+{code}{national}");
        let number = PhoneNumber::parse(&e164, None).unwrap_or_else(|e| panic!("{e164}: {e}"));
        assert_eq!(number.as_e164(), e164);
        assert_eq!(number.region_code(), *region, "{e164}");
        if *region != "001" {
            for national in [national.to_string(), format!("{trunk}{national}")] {
                let number = PhoneNumber::parse(&national, Some(region));
                assert_eq!(
                    number.as_ref().map(PhoneNumber::as_e164),
                    Ok(e164.as_str()),
                    "{national} in {region}"
                );
            }
        }
    }
}

/// Splits `digits` at `cuts` (positions, any order) and joins the groups
/// with `separators` (cycled).
fn grouped(digits: &str, cuts: &[usize], separators: &[&str]) -> String {
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (digits.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut text = String::new();
    let mut start = 0;
    for (i, &cut) in cuts
        .iter()
        .filter(|&&cut| cut > 0 && cut < digits.len())
        .enumerate()
    {
        text.push_str(&digits[start..cut]);
        text.push_str(separators[i % separators.len()]);
        start = cut;
    }
    text.push_str(&digits[start..]);
    text
}

#[derive(Debug, Clone)]
struct Formatting {
    /// Index in `VALID`.
    example: usize,
    /// Digits that replace the last ones of the example.
    last_digits: String,
    cuts: Vec<usize>,
    separators: Vec<&'static str>,
    /// Put the first group in brackets.
    brackets: bool,
    /// Keep the national prefix after the calling code ("+44 020 ...").
    trunk_in_international: bool,
    /// Index in `VALID` of a region to give with the international form.
    other: usize,
    padding: (&'static str, &'static str),
}

fn formatting() -> impl Strategy<Value = Formatting> {
    let separator = prop::sample::select(&[" ", "-", ".", " - ", "  "][..]);
    let padding = prop::sample::select(&["", " ", "\t", "\n", "\u{a0}", "\u{3000}", "\r\n "][..]);
    (
        0..VALID.len(),
        "[0-9]{0,4}",
        prop::collection::vec(0usize..20, 0..5),
        prop::collection::vec(separator, 1..3),
        any::<bool>(),
        (padding.clone(), padding),
        (any::<bool>(), 0..VALID.len()),
    )
        .prop_map(
            |(example, last_digits, cuts, separators, brackets, padding, (trunk, other))| {
                Formatting {
                    example,
                    last_digits,
                    cuts,
                    separators,
                    brackets,
                    trunk_in_international: trunk,
                    other,
                    padding,
                }
            },
        )
}

/// A valid number keeps its E.164 whatever spaces, dashes, dots and
/// brackets surround its digits, in international form and in national
/// form with its region.
#[test]
fn formatting_does_not_change_the_number() {
    check("phone_number_formatting", formatting(), |f| {
        let (region, calling_code, example, trunk) = VALID[f.example];
        let kept = example.len().saturating_sub(f.last_digits.len());
        let national = format!(
            "{}{}",
            &example[..kept],
            &f.last_digits[..example.len() - kept]
        );
        let e164 = format!("+{calling_code}{national}");
        let Ok(number) = PhoneNumber::parse(&e164, None) else {
            // Other last digits can make it invalid; the formatting too, then.
            return Ok(());
        };
        check_number(&number, &e164)?;
        let expected = number.as_e164();
        let wrap = |text: String| {
            if f.brackets {
                let first = text
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(text.len());
                format!("({}){}", &text[..first], &text[first..])
            } else {
                text
            }
        };

        let international = format!(
            "{}+{calling_code} {}{}",
            f.padding.0,
            wrap(grouped(&national, &f.cuts, &f.separators)),
            f.padding.1
        );
        let parsed = PhoneNumber::parse(&international, None);
        if international.trim().len() <= 40 {
            prop_assert_eq!(
                parsed.as_ref().map(PhoneNumber::as_e164),
                Ok(expected),
                "{:?}",
                international
            );
        } else {
            prop_assert_eq!(parsed, Err(PhoneNumberError::Invalid));
        }
        // With the national prefix kept ("+44 020 ...") and any region.
        let trunk_kept = if f.trunk_in_international && trunk != "1" {
            trunk
        } else {
            ""
        };
        let international = format!("+{calling_code} {trunk_kept}{national}");
        let other = VALID[f.other].0;
        let other = (other != "001").then_some(other);
        let parsed = PhoneNumber::parse(&international, other);
        prop_assert_eq!(
            parsed.as_ref().map(PhoneNumber::as_e164),
            Ok(expected),
            "{:?} with {:?}",
            international,
            other
        );

        if region == "001" {
            return Ok(());
        }
        for national_form in [national.clone(), format!("{trunk}{national}")] {
            let input = format!(
                "{}{}{}",
                f.padding.0,
                wrap(grouped(&national_form, &f.cuts, &f.separators)),
                f.padding.1
            );
            let parsed = PhoneNumber::parse(&input, Some(region));
            prop_assert_eq!(
                parsed.as_ref().map(PhoneNumber::as_e164),
                Ok(expected),
                "{:?} in {}",
                input,
                region
            );
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// OneTimeCode
// ---------------------------------------------------------------------------

#[test]
fn codes_are_exactly_the_configured_number_of_ascii_digits() {
    check(
        "one_time_code",
        (code_like(), CodeLength::MIN..=CodeLength::MAX),
        |(input, digits)| {
            let length = CodeLength::new(digits).unwrap();
            let trimmed = input.trim();
            let expected_ok =
                trimmed.len() == length.digits() && trimmed.bytes().all(|b| b.is_ascii_digit());
            match OneTimeCode::parse(&input, length) {
                Ok(code) => {
                    prop_assert!(expected_ok, "{input:?} accepted");
                    prop_assert_eq!(code.as_str(), trimmed);
                    let debug = format!("{code:?}");
                    prop_assert!(!debug.contains(code.as_str()), "Debug shows the code");
                }
                Err(error) => {
                    prop_assert!(!expected_ok, "{input:?} refused");
                    let error = ApiError::from(error);
                    assert_client_error(&error, &input)?;
                    prop_assert!(error.message.contains(&digits.to_string()));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn codes_round_trip_with_any_surrounding_spaces() {
    let strategy = (CodeLength::MIN..=CodeLength::MAX).prop_flat_map(|digits| {
        (
            Just(digits),
            prop::collection::vec(prop::char::range('0', '9'), usize::from(digits))
                .prop_map(String::from_iter),
            "[ \t\n\r\u{a0}\u{3000}]{0,3}",
            "[ \t\n\r\u{a0}\u{3000}]{0,3}",
        )
    });
    check(
        "one_time_code_round_trip",
        strategy,
        |(digits, code, before, after)| {
            let length = CodeLength::new(digits).unwrap();
            let parsed = OneTimeCode::parse(&format!("{before}{code}{after}"), length);
            prop_assert_eq!(parsed.as_ref().map(OneTimeCode::as_str), Ok(code.as_str()));
            let generated = OneTimeCode::generate(length);
            let reparsed = OneTimeCode::parse(generated.as_str(), length);
            prop_assert_eq!(
                reparsed.as_ref().map(OneTimeCode::as_str),
                Ok(generated.as_str())
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// DeliveryReport: Twilio's status callback
// ---------------------------------------------------------------------------

fn form_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => prop::sample::select(&["MessageStatus", "CallStatus", "To", "From", "MessageSid", "messagestatus", ""][..])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let value = prop_oneof![
        3 => prop::sample::select(&[
            "failed", "undelivered", "delivered", "sent", "busy", "no-answer", "completed",
            "FAILED", " failed", "",
        ][..])
        .prop_map(str::to_owned),
        3 => phone_like(),
        1 => phone_like().prop_map(|number| format!("whatsapp:{number}")),
        1 => any::<String>(),
    ];
    prop::collection::vec((name, value), 0..8)
}

fn query_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => prop::sample::select(&["verification", "sent_at", "Verification", "x"][..])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let value = prop_oneof![
        2 => "[0-9a-fA-F]{32}",
        1 => "[0-9a-fA-F]{30,34}",
        2 => any::<i64>().prop_map(|t| t.to_string()),
        1 => prop::sample::select(&["+5", " 5", "1e3", "-0", "99999999999999999999", "", "1.5"][..])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    prop::collection::vec((name, value), 0..5)
}

fn encoded(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[derive(Debug, Clone)]
enum ReportBody {
    Empty,
    Form(Vec<(String, String)>),
    Raw(Vec<u8>),
    Huge(usize),
}

#[derive(Debug, Clone)]
struct ReportRequest {
    body: ReportBody,
    text: bool,
    /// Pairs the query is made of, or a raw query.
    query: Result<Vec<(String, String)>, String>,
}

impl ReportRequest {
    fn body_bytes(&self) -> Option<Vec<u8>> {
        match &self.body {
            ReportBody::Empty => None,
            ReportBody::Form(pairs) => Some(encoded(pairs).into_bytes()),
            ReportBody::Raw(bytes) => Some(bytes.clone()),
            ReportBody::Huge(len) => {
                let mut body = encoded(&[("MessageStatus".into(), "failed".into())]);
                body.push('&');
                body.extend(std::iter::repeat_n('x', len - body.len()));
                Some(body.into_bytes())
            }
        }
    }

    fn request(&self, text: bool) -> Option<Request> {
        let query = match &self.query {
            Ok(pairs) => encoded(pairs),
            Err(raw) => raw.clone(),
        };
        let uri: Uri = format!("https://example.com/delivery-report?{query}")
            .parse()
            .ok()?;
        let body = match self.body_bytes() {
            None => Body::Empty,
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(utf8) if text => Body::Text(utf8),
                Ok(utf8) => Body::Binary(utf8.into_bytes()),
                Err(bytes) => Body::Binary(bytes.into_bytes()),
            },
        };
        Some(
            lambda_http::http::Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .unwrap(),
        )
    }
}

fn report_request() -> impl Strategy<Value = ReportRequest> {
    let body = prop_oneof![
        1 => Just(ReportBody::Empty),
        6 => form_pairs().prop_map(ReportBody::Form),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(ReportBody::Raw),
        1 => "[a-zA-Z0-9%&=+;._~-]{0,64}".prop_map(|raw| ReportBody::Raw(raw.into_bytes())),
        1 => (MAX_BODY_BYTES - 10..MAX_BODY_BYTES + 10).prop_map(ReportBody::Huge),
    ];
    let query = prop_oneof![
        4 => query_pairs().prop_map(Ok),
        1 => "[a-zA-Z0-9%&=+;._~/?:@!$'()*,-]{0,64}".prop_map(Err),
    ];
    (body, any::<bool>(), query).prop_map(|(body, text, query)| ReportRequest { body, text, query })
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[test]
fn delivery_reports_are_read_without_panics_and_refused_with_4xx() {
    check("delivery_report", report_request(), |input| {
        let Some(request) = input.request(input.text) else {
            return Ok(());
        };
        let body_len = input.body_bytes().map_or(0, |b| b.len());
        let report = match DeliveryReport::read(&request) {
            Err(error) => {
                prop_assert!(body_len > MAX_BODY_BYTES);
                return assert_client_error(&error, "read");
            }
            Ok(report) => report,
        };
        prop_assert!(body_len <= MAX_BODY_BYTES);
        let other = DeliveryReport::read(&input.request(!input.text).unwrap()).unwrap();
        prop_assert_eq!(&report.params, &other.params);
        if let ReportBody::Form(pairs) = &input.body {
            prop_assert_eq!(&report.params, pairs);
        }

        let unreached = matches!(
            first(&report.params, "MessageStatus"),
            Some("failed" | "undelivered")
        ) || first(&report.params, "CallStatus") == Some("failed");
        prop_assert_eq!(report.unreached(), unreached);

        match report.code() {
            Ok((phone, id, sent_at)) => {
                check_number(&phone, "To")?;
                let to = first(&report.params, "To").unwrap();
                prop_assert_eq!(
                    PhoneNumber::parse(to.trim_start_matches("whatsapp:"), None),
                    Ok(phone)
                );
                prop_assert!(
                    id.as_str().len() == 32 && id.as_str().bytes().all(|b| b.is_ascii_hexdigit())
                );
                if let Ok(query) = &input.query {
                    prop_assert_eq!(first(query, "verification"), Some(id.as_str()));
                    prop_assert_eq!(
                        first(query, "sent_at").and_then(|t| t.parse::<i64>().ok()),
                        Some(sent_at.unix_seconds())
                    );
                }
            }
            Err(error) => assert_client_error(&error, "code")?,
        }
        Ok(())
    });
}
