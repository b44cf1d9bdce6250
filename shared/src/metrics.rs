//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per
//! event, which CloudWatch Logs turns into metrics without an API call (so
//! no latency and no extra IAM permission).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Namespace of every metric, as the template's alarms expect it.
pub const NAMESPACE: &str = "PhoneVerification";

/// Counts one `metric`, in total and per each of `dimensions`.
pub fn count(metric: &str, dimensions: &[(&str, &str)]) {
    println!(
        "{}",
        document(metric, 1, "Count", dimensions, &[], now_ms())
    );
}

/// As `count`, and also per the `crossed` dimensions together (`Provider`
/// and `Country`: each provider's conversion in each country).
pub fn count_crossed(metric: &str, dimensions: &[(&str, &str)], crossed: &[&str]) {
    println!(
        "{}",
        document(metric, 1, "Count", dimensions, crossed, now_ms())
    );
}

/// Records a duration of `metric` in milliseconds (a latency), in total and
/// per each of `dimensions`.
pub fn milliseconds(metric: &str, milliseconds: u64, dimensions: &[(&str, &str)]) {
    println!(
        "{}",
        document(
            metric,
            milliseconds,
            "Milliseconds",
            dimensions,
            &[],
            now_ms()
        )
    );
}

fn document(
    metric: &str,
    value: u64,
    unit: &str,
    dimensions: &[(&str, &str)],
    crossed: &[&str],
    timestamp_ms: u128,
) -> Value {
    // `[]` is the total; each dimension on its own gives the breakdown.
    let mut sets = vec![Vec::<&str>::new()];
    sets.extend(dimensions.iter().map(|(name, _)| vec![*name]));
    if !crossed.is_empty() {
        sets.push(crossed.to_vec());
    }
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{ "Name": metric, "Unit": unit }],
            }],
        }),
    );
    doc.insert(metric.into(), value.into());
    for (name, value) in dimensions {
        doc.insert((*name).into(), (*value).into());
    }
    Value::Object(doc)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_embedded_metric_format() {
        let doc = document(
            "CodesSent",
            1,
            "Count",
            &[("Country", "US"), ("Channel", "sms")],
            &[],
            1_800_000_000_000,
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_800_000_000_000_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "PhoneVerification",
                        "Dimensions": [[], ["Country"], ["Channel"]],
                        "Metrics": [{ "Name": "CodesSent", "Unit": "Count" }],
                    }],
                },
                "CodesSent": 1,
                "Country": "US",
                "Channel": "sms",
            })
        );
    }

    #[test]
    fn latencies_are_milliseconds() {
        let doc = document(
            "TwilioLatency",
            245,
            "Milliseconds",
            &[("Channel", "sms")],
            &[],
            1_800_000_000_000,
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_800_000_000_000_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "PhoneVerification",
                        "Dimensions": [[], ["Channel"]],
                        "Metrics": [{ "Name": "TwilioLatency", "Unit": "Milliseconds" }],
                    }],
                },
                "TwilioLatency": 245,
                "Channel": "sms",
            })
        );
    }

    #[test]
    fn crossed_dimensions_add_one_set_of_them_together() {
        let doc = document(
            "Approvals",
            1,
            "Count",
            &[("Country", "IN"), ("Provider", "plivo")],
            &["Provider", "Country"],
            1_800_000_000_000,
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[], ["Country"], ["Provider"], ["Provider", "Country"]])
        );
        assert_eq!(
            (&doc["Country"], &doc["Provider"]),
            (&json!("IN"), &json!("plivo"))
        );
    }
}
