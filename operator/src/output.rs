//! What the commands share to answer: `Answer` (text and JSON), the exit
//! code and message of a failure, the store's errors in words, and the text
//! formatting (aligned values, tables, seconds left, conversion, scope names).

use phone_verification::domain::{Scope, Timestamp, Traffic};
use phone_verification::ports::StoreError;
use serde_json::{Value, json};

/// What a command answers, both ways.
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) json: Value,
}

pub(crate) fn failure(json: bool, message: &str) -> (i32, String) {
    match json {
        true => (1, pretty(&json!({ "error": message }))),
        false => (1, format!("error: {message}")),
    }
}

pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

pub(crate) fn storage(error: StoreError) -> String {
    match error {
        StoreError::Unavailable(reason) => {
            format!("DynamoDB is unreachable or refused the request ({reason})")
        }
        StoreError::Malformed(reason) => format!("an item is not shaped as expected ({reason})"),
    }
}

/// Seconds from `now` until `later` (0 when past).
pub(crate) fn seconds_left(now: Timestamp, later: Timestamp) -> u64 {
    u64::try_from(later.unix_seconds() - now.unix_seconds()).unwrap_or(0)
}

pub(crate) fn conversion(traffic: Traffic) -> String {
    traffic
        .conversion_percent()
        .map_or("-".into(), |percent| format!("{percent}%"))
}

pub(crate) fn scope_name(scope: &Scope) -> (&'static str, &str) {
    match scope {
        Scope::Prefix(prefix) => ("prefix", prefix),
        Scope::Country(country) => ("country", country),
    }
}

/// `label  value` lines, the values aligned.
pub(crate) fn aligned(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table: the first row is the header; numbers right-aligned.
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
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
