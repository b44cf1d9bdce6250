//! Where codes may be sent: a country allow-list or deny-list, and no
//! premium-rate or SMS-incapable numbers (the usual SMS pumping targets).
//! Numbers of no country (region "001": satellite and international
//! networks such as +881, +882, +883, +870) are pumping targets too: they
//! receive codes only when the allow-list names "001".

use std::collections::BTreeSet;

use phonenumber::Type;

use super::{Channel, PhoneNumber};

/// The region code of numbers that belong to no country.
pub const NO_COUNTRY: &str = "001";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// When set, only these ISO 3166 regions ("US", "DE") may receive codes;
    /// "001" admits the numbers of no country.
    pub allowed_countries: Option<BTreeSet<String>>,
    /// These regions never receive codes.
    pub denied_countries: BTreeSet<String>,
    /// Our own sender numbers (E.164): Twilio refuses to send from a number
    /// to itself, so they are refused up front.
    pub own_numbers: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DestinationRefused {
    #[error("Verification codes cannot be sent to phone numbers in this country.")]
    CountryNotAllowed,
    #[error("Verification codes are not sent to premium-rate numbers.")]
    PremiumRate,
    #[error(
        "This phone number cannot receive text messages. Use a mobile number, or ask for a call."
    )]
    CannotReceiveSms,
    #[error("This is the service's own phone number; use yours.")]
    OwnNumber,
}

impl DestinationPolicy {
    pub fn check(&self, phone: &PhoneNumber, channel: Channel) -> Result<(), DestinationRefused> {
        if self.own_numbers.contains(phone.as_e164()) {
            return Err(DestinationRefused::OwnNumber);
        }
        let region = phone.region_code();
        let allowed = match &self.allowed_countries {
            Some(allowed) => allowed.contains(region),
            None => region != NO_COUNTRY,
        };
        if !allowed || self.denied_countries.contains(region) {
            return Err(DestinationRefused::CountryNotAllowed);
        }
        match (phone.kind(), channel) {
            (Type::PremiumRate | Type::SharedCost, _) => Err(DestinationRefused::PremiumRate),
            // A call reaches any line; texts need a line that takes messages.
            (_, Channel::Call) => Ok(()),
            (
                Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber | Type::Voip,
                Channel::Sms | Channel::Whatsapp,
            ) => Ok(()),
            (_, Channel::Sms | Channel::Whatsapp) => Err(DestinationRefused::CannotReceiveSms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> PhoneNumber {
        PhoneNumber::parse(text, None).unwrap()
    }

    fn set(codes: &[&str]) -> BTreeSet<String> {
        codes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn mobile_numbers_anywhere_pass_by_default() {
        let policy = DestinationPolicy::default();
        for mobile in [
            "+14155550123",
            "+447911123456",
            "+33612345678",
            "+4915123456789",
        ] {
            assert_eq!(
                policy.check(&number(mobile), Channel::Sms),
                Ok(()),
                "{mobile}"
            );
        }
    }

    #[test]
    fn premium_rate_and_fixed_lines_are_refused_for_sms() {
        let policy = DestinationPolicy::default();
        // UK 09xx premium rate, French 089x premium rate, UK London fixed line.
        assert_eq!(
            policy.check(&number("+449098790000"), Channel::Sms),
            Err(DestinationRefused::PremiumRate)
        );
        assert_eq!(
            policy.check(&number("+33899123456"), Channel::Sms),
            Err(DestinationRefused::PremiumRate)
        );
        assert_eq!(
            policy.check(&number("+442079460958"), Channel::Sms),
            Err(DestinationRefused::CannotReceiveSms)
        );
    }

    #[test]
    fn fixed_lines_can_take_a_call_but_premium_rate_never() {
        let policy = DestinationPolicy::default();
        assert_eq!(
            policy.check(&number("+442079460958"), Channel::Call),
            Ok(())
        );
        assert_eq!(
            policy.check(&number("+442079460958"), Channel::Whatsapp),
            Err(DestinationRefused::CannotReceiveSms)
        );
        assert_eq!(
            policy.check(&number("+449098790000"), Channel::Call),
            Err(DestinationRefused::PremiumRate)
        );
    }

    #[test]
    fn allow_list_admits_only_its_countries() {
        let policy = DestinationPolicy {
            allowed_countries: Some(set(&["US", "CA"])),
            ..DestinationPolicy::default()
        };
        assert_eq!(policy.check(&number("+14155550123"), Channel::Sms), Ok(()));
        assert_eq!(
            policy.check(&number("+33612345678"), Channel::Sms),
            Err(DestinationRefused::CountryNotAllowed)
        );
    }

    #[test]
    fn deny_list_refuses_its_countries() {
        let policy = DestinationPolicy {
            denied_countries: set(&["FR"]),
            ..DestinationPolicy::default()
        };
        assert_eq!(
            policy.check(&number("+33612345678"), Channel::Sms),
            Err(DestinationRefused::CountryNotAllowed)
        );
        assert_eq!(
            policy.check(&number("+4915123456789"), Channel::Sms),
            Ok(())
        );
    }

    /// Iridium (+881 6), Inmarsat (+870), an international network (+883 5).
    const NO_COUNTRY_NUMBERS: [&str; 3] = ["+881612345678", "+870773111632", "+883510012345"];

    #[test]
    fn numbers_of_no_country_are_refused_unless_allowed_by_name() {
        for text in NO_COUNTRY_NUMBERS {
            let phone = number(text);
            assert_eq!(phone.region_code(), NO_COUNTRY, "{text}");
            for channel in [Channel::Sms, Channel::Call] {
                assert_eq!(
                    DestinationPolicy::default().check(&phone, channel),
                    Err(DestinationRefused::CountryNotAllowed),
                    "{text} by {channel:?}"
                );
            }
            let allowed = DestinationPolicy {
                allowed_countries: Some(set(&["US", NO_COUNTRY])),
                ..DestinationPolicy::default()
            };
            assert_eq!(allowed.check(&phone, Channel::Call), Ok(()), "{text}");
        }
    }
}
