//! Abuse limits: how often a number may receive codes, how many requests a
//! client may make, how many messages may go out per hour, and when a number
//! is locked after repeated wrong codes. DynamoDB enforces them atomically;
//! this module holds the numbers and the window arithmetic.

use super::Timestamp;

/// Every limit, with the defaults a production deployment starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Minimum time between two codes to one number.
    pub resend_cooldown_seconds: u64,
    /// Minimum time before a pending code's fallback (the next channel in
    /// `Channel::FALLBACK_ORDER`) may replace it: shorter than the cooldown,
    /// so a user whose SMS does not come is called without a full wait.
    pub fallback_after_seconds: u64,
    /// Codes per number per fixed 10-minute window.
    pub sends_per_10_minutes: u32,
    /// Codes per number per fixed UTC day.
    pub sends_per_day: u32,
    /// Calls per number per fixed UTC day, within `sends_per_day`: a call
    /// rings, so fallbacks cannot be used to ring a number again and again.
    pub calls_per_day: u32,
    /// Requests (sends and checks) per client IP per hour.
    pub client_requests_per_hour: u32,
    /// Codes sent per client IP per hour: far fewer than its requests, so a
    /// few addresses cannot spend a budget that everyone shares.
    pub client_sends_per_hour: u32,
    /// Requests and codes per Verify API key per hour, whatever `DeviceIp`
    /// says: a caller that rotates `DeviceIp` gets fresh client allowances,
    /// never past its key's ceiling.
    pub api_key_requests_per_hour: u32,
    pub api_key_sends_per_hour: u32,
    /// Consecutive wrong codes (across codes) after which a number is locked.
    pub failed_checks_before_lockout: u32,
    pub lockout_seconds: u64,
    /// Messages per hour to all numbers together.
    pub messages_per_hour: u32,
    /// Messages per hour to one destination country.
    pub messages_per_country_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            resend_cooldown_seconds: 60,
            fallback_after_seconds: 30,
            sends_per_10_minutes: 5,
            sends_per_day: 10,
            calls_per_day: 3,
            client_requests_per_hour: 150,
            client_sends_per_hour: 10,
            api_key_requests_per_hour: 5_000,
            api_key_sends_per_hour: 500,
            failed_checks_before_lockout: 20,
            lockout_seconds: 3_600,
            messages_per_hour: 1_000,
            messages_per_country_per_hour: 200,
        }
    }
}

/// An hourly allowance: requests, and codes sent among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub requests: u32,
    pub sends: u32,
}

impl Limits {
    /// How long a pending code's fallback waits: never longer than the cooldown.
    pub fn fallback_wait_seconds(&self) -> u64 {
        self.fallback_after_seconds
            .min(self.resend_cooldown_seconds)
    }

    /// A client's: its network, or an API key and its `DeviceIp`.
    pub fn client_allowance(&self) -> Allowance {
        Allowance {
            requests: self.client_requests_per_hour,
            sends: self.client_sends_per_hour,
        }
    }

    /// An API key's ceiling over all its `DeviceIp` clients.
    pub fn api_key_allowance(&self) -> Allowance {
        Allowance {
            requests: self.api_key_requests_per_hour,
            sends: self.api_key_sends_per_hour,
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ResendCooldown,
    NumberSendsPer10Minutes,
    NumberSendsPerDay,
    NumberCallsPerDay,
    NumberLocked,
    ClientRequests,
    ClientSends,
    MessagesPerHour,
    MessagesPerCountryPerHour,
    /// Fraud protection paused the destination's prefix.
    DestinationRestricted,
    /// Fraud protection restricts the destination (its prefix is paused or
    /// its country's cut budget spent): a proof of a human lets the send in.
    HumanProofRequired,
}

/// A refusal by a limit, with when trying again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitReached {
    pub limit: Limit,
    pub retry_after_seconds: u64,
}

/// A fixed time window: `[index * length, (index + 1) * length)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: i64,
    pub ends_at: Timestamp,
}

impl Window {
    pub const TEN_MINUTES: u64 = 600;
    pub const HOUR: u64 = 3_600;
    pub const DAY: u64 = 86_400;

    pub fn containing(now: Timestamp, length_seconds: u64) -> Self {
        let length = length_seconds as i64;
        let index = now.unix_seconds().div_euclid(length);
        Self {
            index,
            ends_at: Timestamp::from_unix_seconds((index + 1) * length),
        }
    }
}

/// How many items an hourly budget of `budget` messages is spread over. One
/// DynamoDB item takes about 1,000 write units a second and a transactional
/// write costs 2, so one item carries at most ~500 sends a second. A budget
/// above 100,000 an hour (28 a second on average, bursts far above) gets
/// one shard per 100,000: at 1,000 sends a second (3.6 million an hour)
/// that is 36 items of ~28 sends a second each. At most 48 shards, so that
/// a country's two hours of shards fit one BatchGetItem (100 keys).
pub fn budget_shards(budget: u32) -> u32 {
    budget.div_ceil(100_000).clamp(1, 48)
}

/// Each shard's share of `budget`, rounded up: all shards together allow at
/// most `shards - 1` messages more than the budget.
pub fn shard_budget(budget: u32) -> u32 {
    budget.div_ceil(budget_shards(budget))
}

/// Seconds from `now` until `later`, at least 1 (a `Retry-After: 0` invites a
/// retry loop).
pub fn seconds_until(now: Timestamp, later: Timestamp) -> u64 {
    u64::try_from(later.unix_seconds() - now.unix_seconds())
        .unwrap_or(0)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_their_length() {
        let now = Timestamp::from_unix_seconds(1_800_000_123);
        let ten = Window::containing(now, Window::TEN_MINUTES);
        assert_eq!(ten.index, 3_000_000);
        assert_eq!(ten.ends_at.unix_seconds(), 1_800_000_600);
        let day = Window::containing(now, Window::DAY);
        assert_eq!(day.ends_at.unix_seconds() % 86_400, 0);
        assert!(day.ends_at > now);
    }

    #[test]
    fn budgets_are_sharded_only_when_one_item_could_not_carry_them() {
        assert_eq!(budget_shards(1_000), 1);
        assert_eq!(budget_shards(100_000), 1);
        assert_eq!(budget_shards(100_001), 2);
        assert_eq!(budget_shards(3_600_000), 36);
        assert_eq!(budget_shards(u32::MAX), 48);
        assert_eq!(shard_budget(1_000), 1_000);
        assert_eq!(shard_budget(3_600_000), 100_000);
        assert_eq!(shard_budget(100_001), 50_001);
    }

    #[test]
    fn retry_after_is_never_zero() {
        let now = Timestamp::from_unix_seconds(100);
        assert_eq!(seconds_until(now, Timestamp::from_unix_seconds(160)), 60);
        assert_eq!(seconds_until(now, now), 1);
        assert_eq!(seconds_until(now, Timestamp::from_unix_seconds(50)), 1);
    }
}
