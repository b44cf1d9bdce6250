//! What an operator reads and changes (the `phone-verification-admin` tool
//! in `operator/`): a number's state, clearing its lock, the hour's budgets,
//! fraud protection's restrictions, lifting one. Never on a request's path:
//! reads are strongly consistent, and `budgets` without countries and
//! `restrictions` scan the table (an operator's occasional look, see
//! docs/operations.md for the cost).
//!
//! Nothing here returns a code, its hash or a key: the structs hold counts,
//! times and the readable scopes (prefixes, countries) only.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};

use super::attributes::{get_n_or_zero, get_s, n, s};
use super::keys::{budget_key, number_key, prefix_key, restriction_key};
use super::traffic::restriction_from;
use super::{DynamoDbStore, Item, conditional, unavailable};
use crate::domain::{
    FraudPolicy, Limits, Pseudonym, Restriction, Scope, Timestamp, Traffic, Window, budget_shards,
};
use crate::ports::StoreError;

/// A number's item as an operator sees it, with its send windows. The code
/// and its hash are never read out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberState {
    /// `pending`, `approved` or `withdrawn`.
    pub status: String,
    pub channel: Option<String>,
    /// When the current (or last) code was made.
    pub created_at: Option<Timestamp>,
    pub code_expires_at: Option<Timestamp>,
    pub verified_at: Option<Timestamp>,
    /// Checks of the current code.
    pub attempts: u32,
    /// Consecutive wrong codes, across codes.
    pub failures: u32,
    pub last_attempt_at: Option<Timestamp>,
    /// Locked (checks and sends refused) until then; `None`: not locked now.
    pub locked_until: Option<Timestamp>,
    /// No new code before then; `None`: no cooldown now.
    pub cooldown_until: Option<Timestamp>,
    /// Codes sent in the current 10-minute window and UTC day.
    pub sends_10_minutes: u32,
    pub sends_today: u32,
    /// Calls among today's codes.
    pub calls_today: u32,
}

/// What `unlock` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock {
    /// `failures` was set to 0 from this; `was_locked_until` when the
    /// number was locked at that moment.
    Cleared {
        failures: u32,
        was_locked_until: Option<Timestamp>,
    },
    /// No failures to clear: nothing was written.
    NothingToClear,
    /// The table holds no item for the number.
    NoItem,
}

/// One hourly budget's use: `all` or a country, summed over its shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetUse {
    /// `all` or an ISO 3166 country code (`US`; `001`: no country).
    pub scope: String,
    pub sends: u32,
    /// Approvals this hour (`None` for `all`: only countries count them,
    /// and the total is their sum only when every country is listed).
    pub approvals: Option<u32>,
    /// The budget in force: the configured one, cut while the country is
    /// restricted.
    pub budget: u32,
    /// The country's restriction, while in force.
    pub restricted_until: Option<Timestamp>,
}

/// This hour's budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    pub hour_starts_at: Timestamp,
    pub global: BudgetUse,
    pub countries: Vec<BudgetUse>,
}

/// A restriction item: in force, or lifted within the last two days (it is
/// kept that long so a repeat lasts longer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionState {
    pub scope: Scope,
    pub restriction: Restriction,
    pub in_force: bool,
    /// The scope's sends and approvals this hour.
    pub traffic: Traffic,
}

/// What `lift` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lift {
    /// It was in force (as given) and is lifted now.
    Lifted(Restriction),
    /// It was not in force (it ran out or was lifted): nothing was written.
    NotInForce(Restriction),
    /// The scope was never restricted (or not in the last two days).
    NoRestriction,
}

impl DynamoDbStore {
    /// The number's item and its current send windows (`None`: no item).
    pub async fn number_state(
        &self,
        number: &Pseudonym,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Option<NumberState>, StoreError> {
        let item_key = number_key(number);
        let window_key = |label: &str, length: u64| {
            format!(
                "{item_key}#{label}#{}",
                Window::containing(now, length).index
            )
        };
        let (ten_minutes, day) = (
            window_key("10m", Window::TEN_MINUTES),
            window_key("1d", Window::DAY),
        );
        let items = self
            .consistent_items(&[item_key.clone(), ten_minutes.clone(), day.clone()])
            .await?;
        let Some(item) = items.get(&item_key) else {
            return Ok(None);
        };
        let time = |name: &str| -> Result<Option<Timestamp>, StoreError> {
            Ok(match item.contains_key(name) {
                true => Some(Timestamp::from_unix_seconds(get_n_or_zero(item, name)?)),
                false => None,
            })
        };
        let count = |key: &str, attribute: &str| match items.get(key) {
            Some(counter) => get_n_or_zero::<u32>(counter, attribute),
            None => Ok(0),
        };
        let failures = get_n_or_zero(item, "failures")?;
        let last_attempt_at = time("last_attempt_at")?;
        let locked_until = last_attempt_at
            .filter(|_| failures >= limits.failed_checks_before_lockout)
            .map(|at| at.plus_seconds(limits.lockout_seconds))
            .filter(|until| *until > now);
        let cooldown_until = time("last_sent_at")?
            .map(|at| at.plus_seconds(limits.resend_cooldown_seconds))
            .filter(|until| *until > now);
        Ok(Some(NumberState {
            status: get_s(item, "status")?.to_owned(),
            channel: get_s(item, "channel").ok().map(str::to_owned),
            created_at: time("created_at")?,
            code_expires_at: time("code_expires_at")?,
            verified_at: time("verified_at")?,
            attempts: get_n_or_zero(item, "attempts")?,
            failures,
            last_attempt_at,
            locked_until,
            cooldown_until,
            sends_10_minutes: count(&ten_minutes, "hits")?,
            sends_today: count(&day, "hits")?,
            calls_today: count(&day, "calls")?,
        }))
    }

    /// Clears the number's consecutive failures, which lifts its lock: the
    /// owner can check the pending code (if attempts are left) or ask for a
    /// new one at once. Idempotent: with no failures nothing is written.
    pub async fn unlock(
        &self,
        number: &Pseudonym,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Unlock, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&number_key(number)))
            .update_expression("SET failures = :zero")
            .condition_expression("failures > :zero")
            .expression_attribute_values(":zero", n(0))
            .return_values(ReturnValue::AllOld);
        let old = match conditional(request).await? {
            Ok(Some(old)) => old,
            Ok(None) => {
                return Err(StoreError::Malformed(
                    "update returned no attributes".into(),
                ));
            }
            Err(Some(_)) => return Ok(Unlock::NothingToClear),
            Err(None) => return Ok(Unlock::NoItem),
        };
        let failures = get_n_or_zero(&old, "failures")?;
        let last_attempt_at = Timestamp::from_unix_seconds(get_n_or_zero(&old, "last_attempt_at")?);
        let locked_until = last_attempt_at.plus_seconds(limits.lockout_seconds);
        Ok(Unlock::Cleared {
            failures,
            was_locked_until: (failures >= limits.failed_checks_before_lockout
                && locked_until > now)
                .then_some(locked_until),
        })
    }

    /// This hour's global budget and the budgets of `countries`, summed over
    /// shards. With no countries: every country with sends this hour, found
    /// by a Scan of the whole table.
    pub async fn budgets(
        &self,
        countries: &[String],
        now: Timestamp,
        limits: &Limits,
        fraud: &FraudPolicy,
    ) -> Result<Budgets, StoreError> {
        let hour = Window::containing(now, Window::HOUR);
        let suffix = format!("#{}", hour.index);
        let complete = countries.is_empty();
        let (counters, restrictions) = if complete {
            let budget_items = self
                .scan_prefix("budget#", Some(&suffix))
                .await?
                .into_iter()
                .filter(|(key, _)| key.ends_with(&suffix))
                .collect::<HashMap<_, _>>();
            let countries: Vec<String> = budget_items
                .keys()
                .filter_map(|key| budget_scope(key, &suffix))
                .filter(|scope| scope != "all")
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let restrictions = self.country_restrictions(&countries).await?;
            (budget_items, restrictions)
        } else {
            let scopes = countries.iter().map(String::as_str).chain(["all"]);
            let suffix = suffix.as_str();
            let keys: Vec<String> = scopes
                .flat_map(|scope| {
                    let shards = match scope {
                        "all" => budget_shards(limits.messages_per_hour),
                        _ => budget_shards(limits.messages_per_country_per_hour),
                    };
                    (0..shards)
                        .map(move |shard| format!("{}{suffix}", budget_key(scope, shard, shards)))
                })
                .collect();
            (
                self.consistent_items(&keys).await?,
                self.country_restrictions(countries).await?,
            )
        };
        // Every counter of this hour, by scope.
        let mut by_scope: BTreeMap<String, Traffic> = countries
            .iter()
            .map(|country| (country.clone(), Traffic::default()))
            .collect();
        for (key, item) in &counters {
            if let Some(scope) = budget_scope(key, &suffix) {
                let total = by_scope.entry(scope).or_default();
                total.sends += get_n_or_zero::<u32>(item, "hits")?;
                total.approvals += get_n_or_zero::<u32>(item, "approvals")?;
            }
        }
        let global = by_scope.remove("all").unwrap_or_default();
        let countries: Vec<BudgetUse> = by_scope
            .into_iter()
            .map(|(country, traffic)| {
                let restricted_until = restrictions
                    .get(&country)
                    .map(|restriction| restriction.until)
                    .filter(|until| *until > now);
                let budget = match restricted_until {
                    Some(_) => fraud.restricted_budget(limits.messages_per_country_per_hour),
                    None => limits.messages_per_country_per_hour,
                };
                BudgetUse {
                    scope: country,
                    sends: traffic.sends,
                    approvals: Some(traffic.approvals),
                    budget,
                    restricted_until,
                }
            })
            .collect();
        let approvals = complete.then(|| countries.iter().filter_map(|c| c.approvals).sum());
        Ok(Budgets {
            hour_starts_at: Timestamp::from_unix_seconds(
                hour.ends_at.unix_seconds() - Window::HOUR as i64,
            ),
            global: BudgetUse {
                scope: "all".into(),
                sends: global.sends,
                approvals,
                budget: limits.messages_per_hour,
                restricted_until: None,
            },
            countries,
        })
    }

    /// Every restriction the table remembers (in force, or lifted within two
    /// days), found by a Scan, with its scope's traffic this hour; those in
    /// force first, then the latest.
    pub async fn restrictions(
        &self,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<Vec<RestrictionState>, StoreError> {
        let hour = Window::containing(now, Window::HOUR).index;
        let mut found = Vec::new();
        for (key, item) in self.scan_prefix("restriction#", None).await? {
            // Past its expiry, waiting for the TTL sweep: forgotten.
            if get_n_or_zero::<i64>(&item, "expires_at")? <= now.unix_seconds() {
                continue;
            }
            let scope = match key
                .strip_prefix("restriction#")
                .and_then(|rest| rest.split_once('#'))
            {
                Some(("prefix", prefix)) => Scope::Prefix(prefix.to_owned()),
                Some(("country", country)) => Scope::Country(country.to_owned()),
                _ => continue,
            };
            found.push((scope, restriction_from(&item)?));
        }
        let traffic_keys = |scope: &Scope| -> Vec<String> {
            match scope {
                Scope::Prefix(prefix) => vec![format!("{}#{hour}", prefix_key(prefix))],
                Scope::Country(country) => {
                    let shards = budget_shards(limits.messages_per_country_per_hour);
                    (0..shards)
                        .map(|shard| format!("{}#{hour}", budget_key(country, shard, shards)))
                        .collect()
                }
            }
        };
        let keys: Vec<String> = found
            .iter()
            .flat_map(|(scope, _)| traffic_keys(scope))
            .collect();
        let counters = self.consistent_items(&keys).await?;
        let mut states = found
            .into_iter()
            .map(|(scope, restriction)| {
                let mut traffic = Traffic::default();
                for item in traffic_keys(&scope).iter().filter_map(|k| counters.get(k)) {
                    traffic.sends += get_n_or_zero::<u32>(item, "hits")?;
                    traffic.approvals += get_n_or_zero::<u32>(item, "approvals")?;
                }
                Ok(RestrictionState {
                    in_force: restriction.until > now,
                    scope,
                    restriction,
                    traffic,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        states.sort_by(|a, b| {
            (b.in_force, b.restriction.until, &a.scope).cmp(&(
                a.in_force,
                a.restriction.until,
                &b.scope,
            ))
        });
        Ok(states)
    }

    /// Lifts the scope's restriction now: `until` becomes `now` (so the
    /// next send passes), `times` stays (a repeat still lasts longer), and
    /// the scope is exempt from judgement until this hour's counts start
    /// over (`exempt_until`). Idempotent: a restriction not in force is left
    /// as it is.
    pub async fn lift(&self, scope: &Scope, now: Timestamp) -> Result<Lift, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&restriction_key(scope)))
            .update_expression("SET #until = :now, exempt_until = :exempt_until")
            .condition_expression("#until > :now")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .expression_attribute_values(
                ":exempt_until",
                n(Window::containing(now, Window::HOUR).ends_at.unix_seconds()),
            )
            .return_values(ReturnValue::AllOld);
        Ok(match conditional(request).await? {
            Ok(Some(old)) => Lift::Lifted(restriction_from(&old)?),
            Ok(None) => {
                return Err(StoreError::Malformed(
                    "update returned no attributes".into(),
                ));
            }
            Err(Some(old)) => Lift::NotInForce(restriction_from(&old)?),
            Err(None) => Lift::NoRestriction,
        })
    }

    /// The latest restriction of each of `countries` that has one.
    async fn country_restrictions(
        &self,
        countries: &[String],
    ) -> Result<HashMap<String, Restriction>, StoreError> {
        let keys: Vec<String> = countries
            .iter()
            .map(|country| restriction_key(&Scope::Country(country.clone())))
            .collect();
        let items = self.consistent_items(&keys).await?;
        countries
            .iter()
            .zip(&keys)
            .filter_map(|(country, key)| {
                items
                    .get(key)
                    .map(|item| Ok((country.clone(), restriction_from(item)?)))
            })
            .collect()
    }

    /// The items under `keys` that exist, by key: strongly consistent
    /// BatchGetItems of at most 100 keys, unprocessed keys asked again.
    async fn consistent_items(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::new();
        let unique: BTreeSet<&String> = keys.iter().collect();
        let unique: Vec<&String> = unique.into_iter().collect();
        for chunk in unique.chunks(100) {
            let mut wanted = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(
                        chunk
                            .iter()
                            .map(|key| HashMap::from([("pk".to_owned(), s(key))]))
                            .collect(),
                    ))
                    .consistent_read(true)
                    .build()
                    .map_err(|error| StoreError::Malformed(error.to_string()))?,
            );
            let mut tries = 0;
            while let Some(request) = wanted.take() {
                tries += 1;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in output
                    .responses
                    .and_then(|mut responses| responses.remove(&self.table))
                    .unwrap_or_default()
                {
                    if let Some(AttributeValue::S(key)) = item.get("pk") {
                        found.insert(key.clone(), item);
                    }
                }
                wanted = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table));
                if wanted.is_some() {
                    if tries >= 8 {
                        return Err(StoreError::Unavailable(
                            "read throttled (unprocessed keys)".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << tries)).await;
                }
            }
        }
        Ok(found)
    }

    /// Every item whose key begins with `prefix` (and contains `part`, if
    /// given), by key: a Scan of the whole table, page by page.
    async fn scan_prefix(
        &self,
        prefix: &str,
        part: Option<&str>,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .scan()
                .table_name(&self.table)
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start);
            request = match part {
                Some(part) => request
                    .filter_expression("begins_with(pk, :prefix) AND contains(pk, :part)")
                    .expression_attribute_values(":part", s(part)),
                None => request.filter_expression("begins_with(pk, :prefix)"),
            };
            let output = request.send().await.map_err(unavailable)?;
            for item in output.items.unwrap_or_default() {
                if let Some(AttributeValue::S(key)) = item.get("pk") {
                    found.push((key.clone(), item));
                }
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(found);
            }
        }
    }
}

/// `budget#US#498800`, `budget#US#s3#498800` -> `US` (for `suffix`
/// `#498800`); `None` for another hour's item.
fn budget_scope(key: &str, suffix: &str) -> Option<String> {
    let scope = key.strip_prefix("budget#")?.strip_suffix(suffix)?;
    Some(scope.split('#').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_items_are_read_back_to_their_scope() {
        assert_eq!(
            budget_scope("budget#US#498800", "#498800").as_deref(),
            Some("US")
        );
        assert_eq!(
            budget_scope("budget#all#s3#498800", "#498800").as_deref(),
            Some("all")
        );
        assert_eq!(budget_scope("budget#US#498799", "#498800"), None);
        assert_eq!(budget_scope("prefix#+1415555#498800", "#498800"), None);
    }
}
