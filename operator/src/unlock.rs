//! `unlock +14155550123 [--service VA…]`: clears a number's lock (its
//! consecutive wrong codes).

use phone_verification::adapters::dynamodb::Unlock;
use phone_verification::domain::Timestamp;
use serde_json::json;

use crate::admin::{Admin, no_item, pseudonyms};
use crate::args::Number;
use crate::output::{Answer, storage};

pub(crate) async fn unlock(
    admin: &Admin,
    number: &Number,
    now: Timestamp,
) -> Result<Answer, String> {
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
