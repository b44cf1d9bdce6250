//! `restrictions`: fraud protection's restrictions, in force and lifted
//! within two days, with this hour's traffic.

use phone_verification::adapters::dynamodb::RestrictionState;
use phone_verification::domain::Timestamp;
use serde_json::json;

use crate::admin::Admin;
use crate::output::{Answer, columns, conversion, scope_name, seconds_left, storage};

pub(crate) async fn restrictions(admin: &Admin, now: Timestamp) -> Result<Answer, String> {
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
