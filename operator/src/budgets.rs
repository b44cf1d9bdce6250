//! `budgets [CC ...]`: this hour's global and country budgets, with their
//! sends, approvals and conversion.

use phone_verification::adapters::dynamodb::{BudgetUse, Budgets};
use phone_verification::domain::{Timestamp, Traffic};
use serde_json::json;

use crate::admin::Admin;
use crate::output::{Answer, columns, conversion, storage};

pub(crate) async fn budgets(
    admin: &Admin,
    countries: &[String],
    now: Timestamp,
) -> Result<Answer, String> {
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
