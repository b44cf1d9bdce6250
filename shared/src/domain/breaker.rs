//! A message provider's circuit breaker: after a run of failures it is
//! skipped for a cooldown, then one probe send decides whether it is back.
//! The rules live here; the health stores keep the state (in memory for
//! tests, in DynamoDB to share it across execution environments).

use super::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures within `window_seconds` that open the breaker.
    pub failures_to_open: u32,
    pub window_seconds: u64,
    /// How long an open breaker skips its provider.
    pub cooldown_seconds: u64,
    /// How long one environment holds the probe of a half-open breaker
    /// before another may take it (a probe that never reports back).
    pub probe_seconds: u64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures_to_open: 5,
            window_seconds: 30,
            cooldown_seconds: 60,
            probe_seconds: 15,
        }
    }
}

/// A provider's breaker as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerState {
    /// Failures since `window_ends_at - window_seconds`.
    pub failures: u32,
    pub window_ends_at: Timestamp,
    /// Set while open or half open: the end of the cooldown.
    pub open_until: Option<Timestamp>,
    /// Set while an environment probes the half-open provider.
    pub probe_until: Option<Timestamp>,
}

/// What the breaker says of a send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Healthy: send.
    Closed,
    /// Cooling down, or another environment probes: skip.
    Open,
    /// The cooldown is over and nobody probes: one send may probe.
    HalfOpen,
}

impl BreakerState {
    /// Healthy, with no failure counted.
    pub const CLOSED: Self = Self {
        failures: 0,
        window_ends_at: Timestamp::from_unix_seconds(0),
        open_until: None,
        probe_until: None,
    };

    pub fn admission(&self, now: Timestamp) -> Admission {
        match self.open_until {
            None => Admission::Closed,
            Some(until) if now < until => Admission::Open,
            Some(_) if self.probe_until.is_some_and(|probe| now < probe) => Admission::Open,
            Some(_) => Admission::HalfOpen,
        }
    }

    /// The state once this environment takes the probe.
    pub fn probing(self, policy: &BreakerPolicy, now: Timestamp) -> Self {
        Self {
            probe_until: Some(now.plus_seconds(policy.probe_seconds)),
            ..self
        }
    }

    /// The state after a failed send: counted in its window, and open once
    /// the window holds enough; a failed probe (or any failure while open)
    /// opens it for another cooldown.
    pub fn after_failure(self, policy: &BreakerPolicy, now: Timestamp) -> Self {
        let open = Self {
            failures: 0,
            window_ends_at: now,
            open_until: Some(now.plus_seconds(policy.cooldown_seconds)),
            probe_until: None,
        };
        if self.open_until.is_some() {
            return open;
        }
        let counted = match now < self.window_ends_at {
            true => Self {
                failures: self.failures + 1,
                ..self
            },
            false => Self {
                failures: 1,
                window_ends_at: now.plus_seconds(policy.window_seconds),
                ..self
            },
        };
        match counted.failures >= policy.failures_to_open {
            true => open,
            false => counted,
        }
    }

    /// Whether the breaker is open (or half open).
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_000 + seconds)
    }

    #[test]
    fn five_failures_in_30_seconds_open_it_for_a_minute_then_one_probe_decides() {
        let policy = BreakerPolicy::default();
        let mut state = BreakerState::CLOSED;
        for second in 0..4 {
            state = state.after_failure(&policy, at(second));
            assert_eq!(state.admission(at(second)), Admission::Closed);
        }
        state = state.after_failure(&policy, at(10));
        assert_eq!(state.admission(at(10)), Admission::Open);
        assert_eq!(state.admission(at(69)), Admission::Open);
        assert_eq!(state.admission(at(70)), Admission::HalfOpen);

        let probing = state.probing(&policy, at(70));
        assert_eq!(
            probing.admission(at(71)),
            Admission::Open,
            "one probe at a time"
        );
        assert_eq!(
            probing.admission(at(85)),
            Admission::HalfOpen,
            "a lost probe expires"
        );

        let failed_probe = probing.after_failure(&policy, at(72));
        assert_eq!(failed_probe.admission(at(131)), Admission::Open);
        assert_eq!(failed_probe.admission(at(132)), Admission::HalfOpen);
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_open_it() {
        let policy = BreakerPolicy::default();
        let mut state = BreakerState::CLOSED;
        for second in [0, 10, 20, 29, 31, 40, 50] {
            state = state.after_failure(&policy, at(second));
        }
        assert_eq!(state.admission(at(50)), Admission::Closed);
        assert_eq!(state.failures, 3, "the window started over at 31 s");
    }
}
