//! `phone-verification-admin`: an operator's look into a deployed stack's
//! table, and the two fixes an operator makes by hand (docs/operations.md).
//!
//! - `show +14155550123`: the number's state (status, code age, attempts,
//!   failures, lock, cooldown, sends against their limits);
//! - `unlock +14155550123`: clears the number's lock;
//! - both with `--service VA…` for a number in another Verify service
//!   (`VERIFY_SERVICES`), which keeps its own state;
//! - `budgets [CC ...]`: this hour's global and country budgets;
//! - `restrictions`: fraud protection's restrictions, with their traffic;
//! - `lift prefix +1312555`, `lift country US`: lifts a restriction now.
//!
//! It reads the stack's settings exactly as the functions do (environment,
//! `SETTINGS`, the keys from Parameter Store) and finds a number by its
//! pseudonym, as they do. The reading and writing is the DynamoDB adapter's
//! (`shared/src/adapters/dynamodb/operations.rs`); this crate parses the
//! arguments and formats the answers, as aligned text or, with `--json`, one
//! JSON object. It never prints a code, a code's hash, a key, a pseudonym or
//! any number but the one it was given.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use phone_verification::adapters::clock::SystemClock;
use phone_verification::adapters::dynamodb::{
    BudgetUse, Budgets, DynamoDbStore, Lift, NumberState, RestrictionState, Unlock,
};
use phone_verification::adapters::https;
use phone_verification::app;
use phone_verification::config::OperatorConfig;
use phone_verification::domain::{PhoneNumber, Pseudonym, Scope, Timestamp, Traffic};
use phone_verification::http::verify_v2::is_service_sid;
use phone_verification::ports::{Clock, StoreError};
use serde_json::{Value, json};

pub const USAGE: &str = "\
usage: phone-verification-admin [--json] COMMAND

commands:
  show +14155550123        a number's state: status, code age, attempts, failures,
                           lock, cooldown, sends against their limits
  unlock +14155550123      clear the number's lock (its consecutive wrong codes)
    --service VA...        show or unlock the number in another Verify service of
                           the stack (VERIFY_SERVICES): each keeps its own state
  budgets [CC ...]         this hour's global and country budgets; without
                           countries, every country with sends this hour (a Scan)
  restrictions             fraud protection's restrictions, in force and lifted
                           within two days, with this hour's traffic (a Scan)
  lift prefix +1312555     lift a prefix's restriction now
  lift country US          lift a country's restriction now

--json prints one JSON object. Settings are read as the functions read them:
VERIFICATIONS_TABLE, SETTINGS and the other variables from the environment,
the keys from it or from Parameter Store (<NAME>_PARAMETER), AWS credentials
and region as the AWS CLI finds them. Exit code 0, or 1 with a message.";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Show(Number),
    Unlock(Number),
    Budgets(Vec<String>),
    Restrictions,
    Lift(Scope),
    Help,
}

/// A number, in the stack's own service or in another Verify service
/// (`--service`), which keeps its own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub phone: PhoneNumber,
    pub service: Option<String>,
}

/// A command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    pub json: bool,
}

/// What the tool works on: the table, through the functions' adapter, and
/// the stack's configuration (the identity key, the limits; never the code key).
pub struct Admin {
    store: DynamoDbStore,
    config: OperatorConfig,
}

impl Admin {
    pub fn new(store: DynamoDbStore, config: OperatorConfig) -> Self {
        Self { store, config }
    }

    /// The stack's configuration and table, read as the functions read them.
    pub async fn from_environment() -> Result<Self, String> {
        let cannot =
            |error: &dyn std::fmt::Display| format!("cannot read the configuration: {error}");
        // The functions' SDK configuration (their TLS set-up and HTTP client)
        // with longer timeouts: an operator's network may be slower than
        // Lambda's, and a Scan page takes longer than an update.
        let http = https::aws_http_client(Duration::from_secs(5)).map_err(|e| cannot(&e))?;
        let aws = app::aws_config()
            .map_err(|error| cannot(&error))?
            .http_client(http)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .load()
            .await;
        if aws.region().is_none() {
            return Err(
                "no AWS region: set AWS_REGION (or a profile's region), that of the stack".into(),
            );
        }
        let settings = app::settings(&aws, app::OPERATOR_SECRETS)
            .await
            .map_err(|error| cannot(&error))?;
        let config = OperatorConfig::from_lookup(settings).map_err(|error| cannot(&error))?;
        let store = DynamoDbStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.table_name.clone(),
        );
        Ok(Self::new(store, config))
    }
}

/// The binary: parses `args` (without the program's name), reads the
/// configuration (not for a usage error or `help`), runs the command now.
pub async fn main(args: &[String]) -> (i32, String) {
    let invocation = match parse(args) {
        Ok(invocation) => invocation,
        Err(error) => return usage_error(&error, args),
    };
    if invocation.command == Command::Help {
        return (0, USAGE.into());
    }
    match Admin::from_environment().await {
        Ok(admin) => execute(&invocation, &admin, SystemClock.now()).await,
        Err(error) => failure(invocation.json, &error),
    }
}

/// Parses and runs `args` against `admin` at `now`: the exit code (0 or 1)
/// and what to print (stdout on 0, stderr on 1).
pub async fn run(args: &[String], admin: &Admin, now: Timestamp) -> (i32, String) {
    match parse(args) {
        Ok(invocation) => execute(&invocation, admin, now).await,
        Err(error) => usage_error(&error, args),
    }
}

fn usage_error(error: &str, args: &[String]) -> (i32, String) {
    let json = args.iter().any(|arg| arg == "--json");
    match json {
        true => failure(true, error),
        false => (1, format!("error: {error}\n\n{USAGE}")),
    }
}

/// Reads a command line (without the program's name). `--json` may stand
/// anywhere.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let json = args.iter().any(|arg| arg == "--json");
    let mut words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| *arg != "--json")
        .collect();
    let service = match words.iter().position(|word| *word == "--service") {
        Some(at) => {
            let sid = words.get(at + 1).copied().unwrap_or_default();
            if !is_service_sid(sid) {
                return Err("--service takes a Verify service SID: VA and 32 hex digits".into());
            }
            words.drain(at..at + 2);
            Some(sid.to_owned())
        }
        None => None,
    };
    if let Some(option) = words.iter().find(|word| {
        word.starts_with("--")
            || (word.starts_with('-') && !word[1..].starts_with(char::is_numeric))
    }) {
        return match *option {
            "-h" | "--help" => Ok(Invocation {
                command: Command::Help,
                json,
            }),
            other => Err(format!("unknown option {other}")),
        };
    }
    let number = |input: Option<&&str>| -> Result<Number, String> {
        let input = input.ok_or("give the phone number, e.g. +14155550123")?;
        let phone = PhoneNumber::parse(input, None)
            .map_err(|error| format!("not a phone number in international format: {error}"))?;
        Ok(Number {
            phone,
            service: service.clone(),
        })
    };
    let no_more = |rest: &[&str]| match rest {
        [] => Ok(()),
        [extra, ..] => Err(format!("unexpected argument {extra}")),
    };
    let command = match words.as_slice() {
        [] => return Err("give a command".into()),
        ["help"] => Command::Help,
        ["show", rest @ ..] => {
            let number = number(rest.first())?;
            no_more(rest.get(1..).unwrap_or_default())?;
            Command::Show(number)
        }
        ["unlock", rest @ ..] => {
            let number = number(rest.first())?;
            no_more(rest.get(1..).unwrap_or_default())?;
            Command::Unlock(number)
        }
        _ if service.is_some() => return Err("--service goes with show or unlock".into()),
        ["budgets", countries @ ..] => Command::Budgets(
            countries
                .iter()
                .map(|code| country(code))
                .collect::<Result<_, _>>()?,
        ),
        ["restrictions", rest @ ..] => {
            no_more(rest)?;
            Command::Restrictions
        }
        ["lift", "prefix", prefix, rest @ ..] => {
            no_more(rest)?;
            Command::Lift(Scope::Prefix(self::prefix(prefix)?))
        }
        ["lift", "country", code, rest @ ..] => {
            no_more(rest)?;
            Command::Lift(Scope::Country(country(code)?))
        }
        ["lift", ..] => {
            return Err("lift what: lift prefix +1312555, or lift country US".into());
        }
        [other, ..] => return Err(format!("unknown command {other}")),
    };
    Ok(Invocation { command, json })
}

/// `us` -> `US`; `001`: the numbers of no country.
fn country(code: &str) -> Result<String, String> {
    let code = code.trim().to_ascii_uppercase();
    let iso = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
    (iso || code == "001")
        .then_some(code)
        .ok_or_else(|| "a country is an ISO 3166 code such as US (001: no country)".into())
}

/// `+1312555` as fraud protection names prefixes: `+` and digits.
fn prefix(text: &str) -> Result<String, String> {
    let digits = text.trim().strip_prefix('+').unwrap_or_default();
    (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
        .ok_or_else(|| "a prefix is + and its digits, country code first: +1312555".into())
}

/// Runs a parsed command.
pub async fn execute(invocation: &Invocation, admin: &Admin, now: Timestamp) -> (i32, String) {
    let json = invocation.json;
    let answer = match &invocation.command {
        Command::Help => return (0, USAGE.into()),
        Command::Show(number) => show(admin, number, now).await,
        Command::Unlock(number) => unlock(admin, number, now).await,
        Command::Budgets(countries) => budgets(admin, countries, now).await,
        Command::Restrictions => restrictions(admin, now).await,
        Command::Lift(scope) => lift(admin, scope, now).await,
    };
    match answer {
        Ok(Answer { text, json: value }) => match json {
            true => (0, pretty(&value)),
            false => (0, text),
        },
        Err(error) => failure(json, &error),
    }
}

/// What a command answers, both ways.
struct Answer {
    text: String,
    json: Value,
}

fn failure(json: bool, message: &str) -> (i32, String) {
    match json {
        true => (1, pretty(&json!({ "error": message }))),
        false => (1, format!("error: {message}")),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn storage(error: StoreError) -> String {
    match error {
        StoreError::Unavailable(reason) => {
            format!("DynamoDB is unreachable or refused the request ({reason})")
        }
        StoreError::Malformed(reason) => format!("an item is not shaped as expected ({reason})"),
    }
}

/// The number's pseudonym under the current identity key, then under the
/// previous ones (a code sent before a rotation is still kept under those),
/// in its service.
fn pseudonyms(admin: &Admin, number: &Number) -> Vec<Pseudonym> {
    let stack = &admin.config.identities;
    let identities = match &number.service {
        Some(sid) => stack.for_service(sid),
        None => stack.clone(),
    };
    std::iter::once(identities.number(&number.phone))
        .chain(identities.number_before_rotation(&number.phone))
        .collect()
}

/// `i1` of `i1.5f3a...`: which identity key made the pseudonym (not the key).
fn key_id(pseudonym: &Pseudonym) -> &str {
    pseudonym.as_str().split('.').next().unwrap_or_default()
}

fn no_item(admin: &Admin, number: &Number) -> String {
    format!(
        "no item for {}{} in {}: no code was asked for it lately (items expire a day after \
         the last send or check, plus LOCKOUT_SECONDS), or under other keys",
        number.phone.as_e164(),
        number
            .service
            .as_ref()
            .map_or(String::new(), |sid| format!(" in service {sid}")),
        admin.config.table_name
    )
}

/// Seconds from `now` until `later` (0 when past).
fn seconds_left(now: Timestamp, later: Timestamp) -> u64 {
    u64::try_from(later.unix_seconds() - now.unix_seconds()).unwrap_or(0)
}

async fn show(admin: &Admin, number: &Number, now: Timestamp) -> Result<Answer, String> {
    let phone = &number.phone;
    let policy = &admin.config.policy;
    let limits = &policy.limits;
    let current = pseudonyms(admin, number);
    let mut found = None;
    for pseudonym in &current {
        if let Some(state) = admin
            .store
            .number_state(pseudonym, now, limits)
            .await
            .map_err(storage)?
        {
            found = Some((pseudonym, state));
            break;
        }
    }
    let Some((pseudonym, state)) = found else {
        return Err(no_item(admin, number));
    };
    let NumberState {
        status,
        channel,
        created_at,
        code_expires_at,
        verified_at,
        attempts,
        failures,
        last_attempt_at: _,
        locked_until,
        cooldown_until,
        sends_10_minutes,
        sends_today,
    } = state;
    let code_age = created_at.map(|at| seconds_left(at, now));
    let expires_in = code_expires_at.map(|at| seconds_left(now, at));
    let previous_key = (pseudonym != &current[0]).then(|| key_id(pseudonym));
    let mut rows = vec![("number", phone.as_e164().to_owned())];
    if let Some(id) = previous_key {
        rows.push(("found under", format!("the previous identity key {id}")));
    }
    rows.push((
        "status",
        match &channel {
            Some(channel) => format!("{status} ({channel})"),
            None => status.clone(),
        },
    ));
    rows.push((
        "code age",
        match (code_age, expires_in) {
            (Some(age), Some(0)) => format!("{age} s (expired)"),
            (Some(age), Some(left)) if status == "pending" => {
                format!("{age} s (expires in {left} s)")
            }
            (Some(age), _) => format!("{age} s"),
            (None, _) => "-".into(),
        },
    ));
    if let Some(at) = verified_at {
        rows.push(("verified at", at.to_string()));
    }
    rows.push((
        "attempts",
        format!("{attempts} of {} used", policy.max_attempts),
    ));
    rows.push((
        "failures",
        format!(
            "{failures} in a row (locked at {})",
            limits.failed_checks_before_lockout
        ),
    ));
    rows.push((
        "locked",
        match locked_until {
            Some(until) => format!("yes, until {until} ({} s left)", seconds_left(now, until)),
            None => "no".into(),
        },
    ));
    rows.push((
        "cooldown",
        match cooldown_until {
            Some(until) => format!("{} s left", seconds_left(now, until)),
            None => "none".into(),
        },
    ));
    rows.push((
        "sends, 10 minutes",
        format!("{sends_10_minutes} of {}", limits.sends_per_10_minutes),
    ));
    rows.push((
        "sends, today (UTC)",
        format!("{sends_today} of {}", limits.sends_per_day),
    ));
    let json = json!({
        "number": phone.as_e164(),
        "identityKeyId": key_id(pseudonym),
        "status": status,
        "channel": channel,
        "codeAgeSeconds": code_age,
        "codeExpiresInSeconds": expires_in,
        "verifiedAt": verified_at.map(|at| at.to_string()),
        "attempts": attempts,
        "maxAttempts": policy.max_attempts,
        "failures": failures,
        "lockAfterFailures": limits.failed_checks_before_lockout,
        "locked": locked_until.is_some(),
        "lockedUntil": locked_until.map(|at| at.to_string()),
        "lockSecondsLeft": locked_until.map(|at| seconds_left(now, at)),
        "cooldownSecondsLeft": cooldown_until.map(|at| seconds_left(now, at)).unwrap_or(0),
        "sends10Minutes": { "used": sends_10_minutes, "limit": limits.sends_per_10_minutes },
        "sendsToday": { "used": sends_today, "limit": limits.sends_per_day },
    });
    Ok(Answer {
        text: aligned(&rows),
        json,
    })
}

async fn unlock(admin: &Admin, number: &Number, now: Timestamp) -> Result<Answer, String> {
    let phone = &number.phone;
    let limits = &admin.config.policy.limits;
    let mut outcome = Unlock::NoItem;
    for pseudonym in pseudonyms(admin, number) {
        outcome = admin
            .store
            .unlock(&pseudonym, now, limits)
            .await
            .map_err(storage)?;
        if outcome != Unlock::NoItem {
            break;
        }
    }
    let e164 = phone.as_e164();
    let (text, failures_before, was_locked_until) = match outcome {
        Unlock::NoItem => return Err(no_item(admin, number)),
        Unlock::NothingToClear => (
            format!("{e164} has no failed checks and is not locked: nothing changed"),
            0,
            None,
        ),
        Unlock::Cleared {
            failures,
            was_locked_until: Some(until),
        } => (
            format!(
                "unlocked {e164}: failures {failures} -> 0, the lock until {until} is lifted; \
                 the user can check the pending code (if it has attempts left) or ask for a \
                 new one now"
            ),
            failures,
            Some(until),
        ),
        Unlock::Cleared {
            failures,
            was_locked_until: None,
        } => (
            format!("{e164} was not locked; its failures {failures} -> 0"),
            failures,
            None,
        ),
    };
    Ok(Answer {
        text,
        json: json!({
            "number": e164,
            "changed": failures_before > 0,
            "failuresBefore": failures_before,
            "failures": 0,
            "wasLocked": was_locked_until.is_some(),
            "wasLockedUntil": was_locked_until.map(|at| at.to_string()),
        }),
    })
}

fn conversion(traffic: Traffic) -> String {
    traffic
        .conversion_percent()
        .map_or("-".into(), |percent| format!("{percent}%"))
}

async fn budgets(admin: &Admin, countries: &[String], now: Timestamp) -> Result<Answer, String> {
    let policy = &admin.config.policy;
    let Budgets {
        hour_starts_at,
        global,
        countries,
    } = admin
        .store
        .budgets(countries, now, &policy.limits, &policy.fraud)
        .await
        .map_err(storage)?;
    let mut table = vec![
        [
            "scope",
            "sends",
            "budget",
            "used",
            "approvals",
            "conversion",
            "restricted until",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let row = |budget: &BudgetUse| {
        let traffic = Traffic {
            sends: budget.sends,
            approvals: budget.approvals.unwrap_or(0),
        };
        vec![
            budget.scope.clone(),
            budget.sends.to_string(),
            budget.budget.to_string(),
            format!(
                "{}%",
                u64::from(budget.sends) * 100 / u64::from(budget.budget.max(1))
            ),
            budget.approvals.map_or("-".into(), |a| a.to_string()),
            match budget.approvals {
                Some(_) => conversion(traffic),
                None => "-".into(),
            },
            budget
                .restricted_until
                .map_or("-".into(), |until| until.to_string()),
        ]
    };
    table.push(row(&global));
    table.extend(countries.iter().map(row));
    let mut text = format!(
        "budgets of the hour from {hour_starts_at} (sends and approvals summed over shards)\n{}",
        columns(&table)
    );
    if countries.is_empty() {
        text.push_str("\nno country has sends this hour");
    }
    let entry = |budget: &BudgetUse| {
        json!({
            "sends": budget.sends,
            "approvals": budget.approvals,
            "conversionPercent": budget.approvals.and_then(|approvals| Traffic {
                sends: budget.sends,
                approvals,
            }.conversion_percent()),
            "budget": budget.budget,
            "restrictedUntil": budget.restricted_until.map(|at| at.to_string()),
        })
    };
    let json = json!({
        "hourStartsAt": hour_starts_at.to_string(),
        "global": entry(&global),
        "countries": countries
            .iter()
            .map(|budget| (budget.scope.clone(), entry(budget)))
            .collect::<serde_json::Map<_, _>>(),
    });
    Ok(Answer { text, json })
}

fn scope_name(scope: &Scope) -> (&'static str, &str) {
    match scope {
        Scope::Prefix(prefix) => ("prefix", prefix),
        Scope::Country(country) => ("country", country),
    }
}

async fn restrictions(admin: &Admin, now: Timestamp) -> Result<Answer, String> {
    let found = admin
        .store
        .restrictions(now, &admin.config.policy.limits)
        .await
        .map_err(storage)?;
    let mut table = vec![
        [
            "scope",
            "",
            "state",
            "until",
            "times",
            "sends",
            "approvals",
            "conversion",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for RestrictionState {
        scope,
        restriction,
        in_force,
        traffic,
    } in &found
    {
        let (kind, name) = scope_name(scope);
        let state = match (in_force, restriction.exempt_until) {
            (true, _) => format!("in force, {} s left", seconds_left(now, restriction.until)),
            (false, Some(exempt)) if exempt > now => format!("lifted, exempt until {exempt}"),
            (false, _) => "lifted".into(),
        };
        table.push(vec![
            kind.into(),
            name.into(),
            state,
            restriction.until.to_string(),
            restriction.times.to_string(),
            traffic.sends.to_string(),
            traffic.approvals.to_string(),
            conversion(*traffic),
        ]);
    }
    let text = match found.is_empty() {
        true => "no restriction in force or lifted within the last two days".into(),
        false => format!(
            "restrictions (in force, then lifted within two days), with this hour's traffic\n{}",
            columns(&table)
        ),
    };
    let json = json!({
        "restrictions": found.iter().map(|state| {
            let (kind, name) = scope_name(&state.scope);
            json!({
                "scope": kind,
                kind: name,
                "inForce": state.in_force,
                "until": state.restriction.until.to_string(),
                "secondsLeft": seconds_left(now, state.restriction.until),
                "times": state.restriction.times,
                "exemptUntil": state.restriction.exempt_until.map(|at| at.to_string()),
                "sends": state.traffic.sends,
                "approvals": state.traffic.approvals,
                "conversionPercent": state.traffic.conversion_percent(),
            })
        }).collect::<Vec<_>>(),
    });
    Ok(Answer { text, json })
}

async fn lift(admin: &Admin, scope: &Scope, now: Timestamp) -> Result<Answer, String> {
    let outcome = admin.store.lift(scope, now).await.map_err(storage)?;
    let (kind, name) = scope_name(scope);
    let (text, lifted, restriction) = match outcome {
        Lift::NoRestriction => {
            return Err(format!(
                "{kind} {name} has no restriction (none in the last two days): nothing changed"
            ));
        }
        Lift::Lifted(was) => (
            format!(
                "lifted the restriction of {kind} {name}: it was in force until {} ({} s left; \
                 restricted {} time(s) within two days, kept so a repeat lasts longer). It is \
                 not judged again before the end of this hour",
                was.until,
                seconds_left(now, was.until),
                was.times
            ),
            true,
            was,
        ),
        Lift::NotInForce(was) => (
            format!(
                "{kind} {name} is not restricted now (its restriction ended {}): nothing changed",
                was.until
            ),
            false,
            was,
        ),
    };
    Ok(Answer {
        text,
        json: json!({
            "scope": kind,
            kind: name,
            "lifted": lifted,
            "wasUntil": restriction.until.to_string(),
            "until": match lifted {
                true => now.to_string(),
                false => restriction.until.to_string(),
            },
            "times": restriction.times,
        }),
    })
}

/// `label  value` lines, the values aligned.
fn aligned(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table: the first row is the header; numbers right-aligned.
fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric = |cell: &str| {
        !cell.is_empty()
            && cell
                .trim_end_matches('%')
                .bytes()
                .all(|b| b.is_ascii_digit())
    };
    rows.iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(cell, &width)| match numeric(cell) {
                    true => format!("{cell:>width$}"),
                    false => format!("{cell:<width$}"),
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_parse_with_json_anywhere() {
        let show = parse(&args("show +14155550123 --json")).unwrap();
        assert!(show.json);
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        assert_eq!(
            show.command,
            Command::Show(Number {
                phone: phone.clone(),
                service: None
            })
        );
        let sid = "VAfedcba9876543210fedcba9876543210";
        assert_eq!(
            parse(&args(&format!("unlock --service {sid} +14155550123")))
                .unwrap()
                .command,
            Command::Unlock(Number {
                phone,
                service: Some(sid.into())
            })
        );
        assert_eq!(
            parse(&args("--json budgets us fr")).unwrap().command,
            Command::Budgets(vec!["US".into(), "FR".into()])
        );
        assert_eq!(
            parse(&args("lift prefix +1312555")).unwrap().command,
            Command::Lift(Scope::Prefix("+1312555".into()))
        );
        assert_eq!(
            parse(&args("lift country ca")).unwrap().command,
            Command::Lift(Scope::Country("CA".into()))
        );
        assert_eq!(parse(&args("--help")).unwrap().command, Command::Help);
        assert_eq!(
            parse(&args("restrictions")).unwrap().command,
            Command::Restrictions
        );
    }

    #[test]
    fn bad_command_lines_are_refused_with_a_reason() {
        for (line, reason) in [
            ("", "give a command"),
            ("show", "give the phone number"),
            ("show 4155550123", "international format"),
            ("show +14155550123 extra", "unexpected argument extra"),
            ("unlock +1", "not a phone number"),
            ("budgets USA", "ISO 3166"),
            ("lift", "lift what"),
            ("lift prefix 1312555", "a prefix is +"),
            ("lift country +1", "ISO 3166"),
            ("frobnicate", "unknown command frobnicate"),
            ("show --verbose +14155550123", "unknown option --verbose"),
            ("show +14155550123 --service VA12", "VA and 32 hex digits"),
            (
                "budgets --service VAfedcba9876543210fedcba9876543210",
                "--service goes with show or unlock",
            ),
        ] {
            let error = parse(&args(line)).unwrap_err();
            assert!(error.contains(reason), "{line:?}: {error}");
        }
    }

    #[test]
    fn tables_align_their_columns() {
        let table = columns(&[
            vec!["scope".into(), "sends".into()],
            vec!["all".into(), "3".into()],
            vec!["US".into(), "120".into()],
        ]);
        assert_eq!(table, "scope  sends\nall        3\nUS       120");
        assert_eq!(
            aligned(&[("a", "1".into()), ("long", "2".into())]),
            "a     1\nlong  2"
        );
    }
}
