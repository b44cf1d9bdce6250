//! Conversion-based fraud protection. SMS pumping sends codes to numbers
//! nobody owns (the attacker earns a share of the fee), so those codes are
//! never approved. Each destination prefix and country counts its sends
//! and approvals per hour; a scope whose conversion (approvals / sends) falls
//! far below its normal level is restricted for a while: a prefix is paused,
//! a country's hourly budget is cut. Static caps bound the bill; this tells
//! a pumping attack from a busy hour.
//!
//! The normal level is learnt, not configured: a prefix is compared with the
//! rest of its country in the same hour, a country with its own previous
//! hour. With too little traffic to judge, the expected conversion stands in.
//!
//! A restriction must not become a weapon against the range's genuine users
//! (a few dozen unchecked sends could otherwise shut a victim's range): a
//! number verified before passes it, a send with a proof of a human passes
//! it, and a restriction grows only while the attack goes on, up to a cap.

use super::{PhoneNumber, Timestamp};

/// The thresholds; `docs/security.md#fraud-protection` explains the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudPolicy {
    pub mode: FraudMode,
    /// Digits of the E.164 number (country code included) that make a prefix.
    pub prefix_digits: usize,
    /// Sends in the hour before a prefix is judged.
    pub prefix_min_sends: u32,
    /// Sends in the hour before a country is judged.
    pub country_min_sends: u32,
    /// Restricted below this share of the normal conversion (percent).
    pub conversion_ratio_percent: u32,
    /// The conversion assumed when there is too little traffic to learn it.
    pub expected_conversion_percent: u32,
    /// How long a first restriction lasts; a repeat while the attack goes
    /// on doubles it, up to `max_restriction_seconds`.
    pub restriction_seconds: u64,
    pub max_restriction_seconds: u64,
    /// How long a verified number is remembered: it passes restrictions.
    pub verified_memory_seconds: u64,
    /// A restricted country keeps this share of its hourly budget (percent).
    pub restricted_country_budget_percent: u32,
}

impl Default for FraudPolicy {
    fn default() -> Self {
        Self {
            mode: FraudMode::Enforce,
            prefix_digits: 7,
            prefix_min_sends: 20,
            country_min_sends: 100,
            conversion_ratio_percent: 25,
            expected_conversion_percent: 50,
            restriction_seconds: 3_600,
            max_restriction_seconds: 6 * 3_600,
            verified_memory_seconds: 90 * 86_400,
            restricted_country_budget_percent: 10,
        }
    }
}

/// What fraud protection does with its judgement (`FRAUD_PROTECTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudMode {
    Off,
    /// Judges, records and counts restrictions, and refuses nothing: to
    /// learn what enforcing would do to a stack's real traffic.
    Audit,
    Enforce,
}

/// Sends and approvals of one scope in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub sends: u32,
    pub approvals: u32,
}

impl Traffic {
    fn without(self, part: Traffic) -> Traffic {
        Traffic {
            sends: self.sends.saturating_sub(part.sends),
            approvals: self.approvals.saturating_sub(part.approvals),
        }
    }

    /// Approvals per hundred sends (`None` without sends).
    pub fn conversion_percent(self) -> Option<u32> {
        (self.sends > 0).then(|| {
            (u64::from(self.approvals.min(self.sends)) * 100 / u64::from(self.sends)) as u32
        })
    }
}

/// A restriction in force, and how many came before it (for escalation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restriction {
    pub until: Timestamp,
    pub times: u32,
    /// Set when an operator lifted it: the scope is not judged again before
    /// then (the end of the hour of the lift, when its counts start over),
    /// so the counts the operator overruled do not restrict it at once again.
    pub exempt_until: Option<Timestamp>,
}

/// Where a send goes, as fraud protection sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The first digits of the number (`+1415555`): a range of at most a
    /// few thousand numbers, never one number.
    Prefix(String),
    /// ISO 3166 region (`US`).
    Country(String),
}

/// What storage knows about a send's prefix and country right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    pub prefix: Traffic,
    pub country: Traffic,
    pub country_previous_hour: Traffic,
    /// The latest restriction of each scope, lifted or not.
    pub prefix_restriction: Option<Restriction>,
    pub country_restriction: Option<Restriction>,
    /// The number was verified within `verified_memory_seconds`.
    pub verified_before: bool,
}

/// The decision for one send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// The prefix is paused until then: the send is refused.
    pub prefix_paused_until: Option<Timestamp>,
    /// The country's budget is cut (to `restricted_country_budget_percent`).
    pub country_capped: bool,
    /// Restrictions to record now (scope, until, times so far).
    pub new_restrictions: Vec<(Scope, Restriction)>,
}

impl FraudPolicy {
    /// The prefix of `phone`: its first `prefix_digits` digits, but always
    /// leaving at least four out, so a prefix never names one number.
    pub fn prefix(&self, phone: &PhoneNumber) -> String {
        let digits = &phone.as_e164()[1..];
        let length = self
            .prefix_digits
            .min(digits.len().saturating_sub(4))
            .max(1);
        format!("+{}", &digits[..length])
    }

    /// Judges a send to `prefix` in `country` from the hour's traffic so far.
    pub fn assess(
        &self,
        prefix: &str,
        country: &str,
        snapshot: &TrafficSnapshot,
        now: Timestamp,
    ) -> Assessment {
        let mut assessment = Assessment::default();
        let in_force = |restriction: Option<Restriction>| restriction.filter(|r| r.until > now);
        let judged = |restriction: Option<Restriction>| {
            restriction
                .and_then(|r| r.exempt_until)
                .is_none_or(|exempt_until| exempt_until <= now)
        };
        let country_normal = self.normal(snapshot.country_previous_hour, self.country_min_sends);
        match in_force(snapshot.country_restriction) {
            Some(_) => assessment.country_capped = true,
            None if judged(snapshot.country_restriction)
                && self.far_below(snapshot.country, self.country_min_sends, country_normal) =>
            {
                assessment.country_capped = true;
                let restriction = self.next(snapshot.country_restriction, now);
                assessment
                    .new_restrictions
                    .push((Scope::Country(country.to_owned()), restriction));
            }
            None => {}
        }
        // The rest of the country this hour is the prefix's normal level.
        let rest = snapshot.country.without(snapshot.prefix);
        let prefix_normal = match rest.conversion_percent() {
            Some(conversion) if rest.sends >= self.prefix_min_sends => conversion,
            _ => country_normal,
        };
        match in_force(snapshot.prefix_restriction) {
            Some(restriction) => assessment.prefix_paused_until = Some(restriction.until),
            None if judged(snapshot.prefix_restriction)
                && self.far_below(snapshot.prefix, self.prefix_min_sends, prefix_normal) =>
            {
                let restriction = self.next(snapshot.prefix_restriction, now);
                assessment.prefix_paused_until = Some(restriction.until);
                assessment
                    .new_restrictions
                    .push((Scope::Prefix(prefix.to_owned()), restriction));
            }
            None => {}
        }
        assessment
    }

    /// `traffic` had enough sends to judge and converts at less than
    /// `conversion_ratio_percent` of `normal`.
    fn far_below(&self, traffic: Traffic, min_sends: u32, normal_percent: u32) -> bool {
        traffic.sends >= min_sends
            && u64::from(traffic.approvals) * 100 * 100
                < u64::from(traffic.sends)
                    * u64::from(normal_percent)
                    * u64::from(self.conversion_ratio_percent)
    }

    fn normal(&self, traffic: Traffic, min_sends: u32) -> u32 {
        match traffic.conversion_percent() {
            Some(conversion) if traffic.sends >= min_sends => conversion,
            _ => self.expected_conversion_percent,
        }
    }

    /// The next restriction after `previous`: twice as long when the attack
    /// went on within `restriction_seconds` of its end (an attacker who
    /// waits one out is back on a longer one), up to the cap; a first
    /// length again once the scope was quiet for that long.
    fn next(&self, previous: Option<Restriction>, now: Timestamp) -> Restriction {
        let continued = |r: &Restriction| r.until.plus_seconds(self.restriction_seconds) > now;
        let times = previous.filter(continued).map_or(0, |r| r.times);
        let seconds = self
            .restriction_seconds
            .saturating_mul(1 << times.min(16))
            .min(self.max_restriction_seconds);
        Restriction {
            until: now.plus_seconds(seconds),
            times: times + 1,
            exempt_until: None,
        }
    }

    /// The country budget while a country is restricted (at least one).
    pub fn restricted_budget(&self, budget: u32) -> u32 {
        (u64::from(budget) * u64::from(self.restricted_country_budget_percent) / 100).max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

    fn traffic(sends: u32, approvals: u32) -> Traffic {
        Traffic { sends, approvals }
    }

    fn assess(snapshot: TrafficSnapshot) -> Assessment {
        FraudPolicy::default().assess("+1312555", "US", &snapshot, NOW)
    }

    #[test]
    fn a_prefix_is_the_first_digits_and_never_a_whole_number() {
        let policy = FraudPolicy::default();
        let us = PhoneNumber::parse("+14155550123", None).unwrap();
        assert_eq!(policy.prefix(&us), "+1415555");
        let short = PhoneNumber::parse("+3705001234", None);
        if let Ok(short) = short {
            assert!(short.as_e164().len() - policy.prefix(&short).len() >= 4);
        }
    }

    #[test]
    fn a_prefix_that_never_converts_is_paused_once_it_has_enough_sends() {
        let snapshot = TrafficSnapshot {
            prefix: traffic(19, 0),
            country: traffic(119, 80),
            ..TrafficSnapshot::default()
        };
        assert_eq!(
            assess(snapshot.clone()),
            Assessment::default(),
            "too few to judge"
        );
        let snapshot = TrafficSnapshot {
            prefix: traffic(20, 0),
            country: traffic(120, 80),
            ..snapshot
        };
        let assessment = assess(snapshot);
        let paused_until = NOW.plus_seconds(3_600);
        assert_eq!(assessment.prefix_paused_until, Some(paused_until));
        assert_eq!(
            assessment.new_restrictions,
            [(
                Scope::Prefix("+1312555".into()),
                Restriction {
                    until: paused_until,
                    times: 1,
                    exempt_until: None,
                }
            )]
        );
        assert!(!assessment.country_capped);
    }

    #[test]
    fn a_prefix_converting_like_its_country_is_left_alone() {
        let assessment = assess(TrafficSnapshot {
            prefix: traffic(40, 24),
            country: traffic(400, 300),
            ..TrafficSnapshot::default()
        });
        assert_eq!(assessment, Assessment::default());
    }

    #[test]
    fn the_prefix_is_judged_against_the_rest_of_its_country() {
        // 10 of 100 converting is bad where the rest converts at 80 %, and
        // normal where the whole country converts at 10 %.
        let bad = assess(TrafficSnapshot {
            prefix: traffic(100, 10),
            country: traffic(200, 90),
            ..TrafficSnapshot::default()
        });
        assert!(bad.prefix_paused_until.is_some());
        let normal_here = assess(TrafficSnapshot {
            prefix: traffic(100, 10),
            country: traffic(200, 20),
            country_previous_hour: traffic(200, 20),
            ..TrafficSnapshot::default()
        });
        assert_eq!(normal_here.prefix_paused_until, None);
    }

    #[test]
    fn a_country_far_below_its_previous_hour_gets_a_cut_budget_not_a_pause() {
        let assessment = assess(TrafficSnapshot {
            prefix: traffic(1, 0),
            country: traffic(100, 5),
            country_previous_hour: traffic(300, 210),
            ..TrafficSnapshot::default()
        });
        assert!(assessment.country_capped);
        assert_eq!(assessment.prefix_paused_until, None);
        assert_eq!(
            assessment.new_restrictions[0].0,
            Scope::Country("US".into())
        );
        assert_eq!(FraudPolicy::default().restricted_budget(200), 20);
        assert_eq!(FraudPolicy::default().restricted_budget(5), 1);
    }

    #[test]
    fn a_restriction_in_force_holds_and_a_lifted_one_escalates_when_it_recurs() {
        let in_force = Restriction {
            until: NOW.plus_seconds(10),
            times: 1,
            exempt_until: None,
        };
        let held = assess(TrafficSnapshot {
            prefix_restriction: Some(in_force),
            ..TrafficSnapshot::default()
        });
        assert_eq!(held.prefix_paused_until, Some(in_force.until));
        assert!(held.new_restrictions.is_empty(), "recorded already");
        let lifted = Restriction {
            until: NOW,
            times: 2,
            exempt_until: None,
        };
        let again = assess(TrafficSnapshot {
            prefix: traffic(30, 0),
            country: traffic(30, 0),
            prefix_restriction: Some(lifted),
            ..TrafficSnapshot::default()
        });
        assert_eq!(
            again.new_restrictions,
            [(
                Scope::Prefix("+1312555".into()),
                Restriction {
                    until: NOW.plus_seconds(4 * 3_600),
                    times: 3,
                    exempt_until: None,
                }
            )]
        );
        let long = FraudPolicy::default().next(
            Some(Restriction {
                until: NOW,
                times: 40,
                exempt_until: None,
            }),
            NOW,
        );
        assert_eq!(long.until, NOW.plus_seconds(6 * 3_600), "6 hours at most");
    }

    #[test]
    fn a_day_of_sustained_attack_pauses_for_1_2_4_then_6_hours_and_a_quiet_scope_starts_over() {
        let policy = FraudPolicy::default();
        let mut now = NOW;
        let mut previous = None;
        let mut hours = Vec::new();
        // The attacker comes back the moment each pause ends.
        while now < NOW.plus_seconds(86_400) {
            let restriction = policy.next(previous, now);
            hours.push((restriction.until.unix_seconds() - now.unix_seconds()) / 3_600);
            now = restriction.until;
            previous = Some(restriction);
        }
        assert_eq!(hours, [1, 2, 4, 6, 6, 6]);
        let after_a_quiet_hour = policy.next(previous, now.plus_seconds(3_600));
        assert_eq!(after_a_quiet_hour.times, 1);
        assert_eq!(
            after_a_quiet_hour.until,
            now.plus_seconds(2 * 3_600),
            "a first pause's length again"
        );
    }

    #[test]
    fn a_scope_an_operator_lifted_is_not_judged_again_until_its_exemption_ends() {
        let lifted = Restriction {
            until: NOW,
            times: 1,
            exempt_until: Some(NOW.plus_seconds(600)),
        };
        let snapshot = TrafficSnapshot {
            prefix: traffic(30, 0),
            country: traffic(300, 10),
            prefix_restriction: Some(lifted),
            country_restriction: Some(lifted),
            ..TrafficSnapshot::default()
        };
        assert_eq!(assess(snapshot.clone()), Assessment::default());
        let later = NOW.plus_seconds(600);
        let again = FraudPolicy::default().assess("+1312555", "US", &snapshot, later);
        assert!(again.country_capped);
        assert_eq!(
            again.prefix_paused_until,
            Some(later.plus_seconds(2 * 3_600)),
            "judged again, and escalated"
        );
    }

    #[test]
    fn conversion_counts_at_most_every_send() {
        assert_eq!(traffic(0, 0).conversion_percent(), None);
        assert_eq!(traffic(4, 3).conversion_percent(), Some(75));
        assert_eq!(traffic(4, 9).conversion_percent(), Some(100));
    }
}
