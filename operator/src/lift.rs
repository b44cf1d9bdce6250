//! `lift prefix +1312555`, `lift country US`: lifts a restriction now.

use phone_verification::adapters::dynamodb::Lift;
use phone_verification::domain::{Scope, Timestamp};
use serde_json::json;

use crate::admin::Admin;
use crate::output::{Answer, scope_name, seconds_left, storage};

pub(crate) async fn lift(admin: &Admin, scope: &Scope, now: Timestamp) -> Result<Answer, String> {
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
