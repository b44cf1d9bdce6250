//! `show +14155550123 [--service VA…]`: a number's state (status, code age,
//! attempts, failures, lock, cooldown, sends against their limits).

use phone_verification::adapters::dynamodb::NumberState;
use phone_verification::domain::{Pseudonym, Timestamp};
use serde_json::json;

use crate::admin::{Admin, no_item, pseudonyms};
use crate::args::Number;
use crate::output::{Answer, aligned, seconds_left, storage};

/// `i1` of `i1.5f3a...`: which identity key made the pseudonym (not the key).
fn key_id(pseudonym: &Pseudonym) -> &str {
    pseudonym.as_str().split('.').next().unwrap_or_default()
}

pub(crate) async fn show(admin: &Admin, number: &Number, now: Timestamp) -> Result<Answer, String> {
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
        calls_today,
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
    rows.push((
        "calls, today (UTC)",
        format!("{calls_today} of {}", limits.calls_per_day),
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
        "callsToday": { "used": calls_today, "limit": limits.calls_per_day },
    });
    Ok(Answer {
        text: aligned(&rows),
        json,
    })
}
