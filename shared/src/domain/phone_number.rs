use std::fmt;
use std::str::FromStr;

use phonenumber::metadata::{Database, Descriptor, Metadata};
use phonenumber::{Type, country};

use super::numbering_plan;

/// A valid phone number in E.164 form (`+14155550123`).
///
/// `Display` and `Debug` mask it (country code and last two digits), so a
/// full number cannot end up in a log line by accident; `as_e164` is the
/// deliberate way to read it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    region: Option<country::Id>,
    kind: Type,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error(
        "The phone number has no country code. Send it in international format: \
         +<country code><number>, e.g. +14155550123."
    )]
    MissingCountryCode,
    #[error("The phone number is not a valid phone number.")]
    Invalid,
    #[error("The default region must be a two-letter ISO 3166 country code such as \"US\".")]
    InvalidRegion,
}

/// Longest input worth parsing; the longest E.164 number has 15 digits, the
/// rest allows for spaces, dashes and brackets.
const MAX_INPUT_LENGTH: usize = 40;

impl PhoneNumber {
    /// Parses a number in international form, or in national form when a
    /// `default_region` (ISO 3166 alpha-2, e.g. "US") says where it is from.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, PhoneNumberError> {
        let region = default_region
            .map(|code| {
                country::Id::from_str(&code.trim().to_ascii_uppercase())
                    .map_err(|_| PhoneNumberError::InvalidRegion)
            })
            .transpose()?;
        let input = input.trim();
        let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
        if input.is_empty() || input.len() > MAX_INPUT_LENGTH || !input.chars().all(allowed) {
            return Err(PhoneNumberError::Invalid);
        }
        let international = input.starts_with('+');
        if region.is_none() && !international {
            return Err(PhoneNumberError::MissingCountryCode);
        }
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        let code = match (international, &region) {
            (true, _) => numbering_plan::code_of_international(&digits),
            (false, Some(region)) => numbering_plan::code_of_region(region.as_ref()),
            (false, None) => None,
        };
        // International input reaches the crate as an RFC 3966
        // `tel:+<code>-<number>`: read the same (tested on every example
        // number of the plan), without the free-text parser, whose Unicode
        // patterns cost ~10 M instructions to compile at every cold start.
        let text = match (international, code) {
            (true, Some(code)) => {
                let code = code.to_string();
                format!("tel:+{code}-{}", &digits[code.len()..])
            }
            _ => input.to_owned(),
        };
        // phonenumber 0.3 reads national input that starts with the
        // region's calling code as that code and the rest ("47123456" in NO
        // as +47 123456, "3906123456" in IT as +39 06123456, another line):
        // read it whole first, as libphonenumber keeps it when it is valid.
        let whole = match (international, code) {
            (false, Some(code)) if digits.starts_with(&code.to_string()) => {
                Some(format!("tel:+{code}-{digits}"))
            }
            _ => None,
        };
        // The region is for national input: phonenumber would read an
        // international number by the region's rules, not its own (the
        // national prefix of "+44 020 7946 0958" kept with "US").
        let region = region.filter(|_| !international);
        let region_code = region.as_ref().map(AsRef::as_ref);
        code.into_iter()
            .flat_map(|code| numbering_plan::plans_for(code, region_code))
            .find_map(|plan| {
                whole
                    .iter()
                    .chain([&text])
                    .find_map(|text| Self::parse_with(plan, region, text))
            })
            .ok_or(PhoneNumberError::Invalid)
    }

    /// The number if it is valid in this numbering plan.
    fn parse_with(plan: &Database, region: Option<country::Id>, text: &str) -> Option<Self> {
        let number = phonenumber::parse_with(plan, region, text).ok()?;
        // Not `format_with`: its Display loads the whole plan.
        let national = number.national().to_string();
        let e164 = format!("+{}{national}", number.code().value());
        // E.164 allows 15 digits; the plan's patterns allow longer German
        // numbers (+49 and 14 digits), which no carrier would take.
        if e164.len() > 1 + 15 || !phonenumber::is_valid_with(plan, &number) {
            return None;
        }
        let (territory, kind) = classify(plan, number.code().value(), &national)?;
        Some(Self {
            e164,
            country_code: number.code().value(),
            region: territory.id().parse().ok(),
            kind,
        })
    }

    pub fn as_e164(&self) -> &str {
        &self.e164
    }

    /// The ISO 3166 code of the region, e.g. "US"; "001" for non-geographic numbers.
    pub fn region_code(&self) -> &str {
        self.region.as_ref().map_or("001", AsRef::as_ref)
    }

    /// The line type (mobile, fixed line, premium rate...) from the numbering plan.
    pub fn kind(&self) -> Type {
        self.kind
    }

    /// `+1*******23`: enough to correlate log lines, not enough to identify.
    pub fn masked(&self) -> String {
        let prefix_len = 1 + self.country_code.to_string().len();
        let hidden = self.e164.len().saturating_sub(prefix_len + 2);
        format!(
            "{}{}{}",
            &self.e164[..prefix_len],
            "*".repeat(hidden),
            &self.e164[prefix_len + hidden..]
        )
    }
}

/// The territory and line type of a valid number, found as
/// `phonenumber::PhoneNumber::metadata` and `number_type` do, but with the
/// leading zeros that some plans keep (Italy, Côte d'Ivoire, Congo): theirs
/// drop them, so "+225 07 ..." mobiles were of no type (no texts) and the
/// type and territory of "+39 0..." depended on the region given.
fn classify<'a>(plan: &'a Database, code: u16, national: &str) -> Option<(&'a Metadata, Type)> {
    let territories = plan.by_code(&code)?;
    let territory = territories
        .into_iter()
        .find(|meta| match meta.leading_digits() {
            Some(digits) => digits.find(national).is_some_and(|m| m.start() == 0),
            None => line_type(meta, national) != Type::Unknown,
        })?;
    Some((territory, line_type(territory, national)))
}

/// `phonenumber::PhoneNumber::number_type`, of the number's own digits.
fn line_type(territory: &Metadata, national: &str) -> Type {
    let types = territory.descriptors();
    let matches =
        |descriptor: Option<&Descriptor>| descriptor.is_some_and(|d| d.is_match(national));
    if !types.general().is_match(national) {
        return Type::Unknown;
    }
    let special = [
        Type::PremiumRate,
        Type::TollFree,
        Type::SharedCost,
        Type::Voip,
        Type::PersonalNumber,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
    ];
    if let Some(kind) = special.into_iter().find(|kind| matches(types.get(*kind))) {
        return kind;
    }
    // Where the two patterns are the same (US), both match: no telling.
    match (matches(types.fixed_line()), matches(types.mobile())) {
        (true, true) => Type::FixedLineOrMobile,
        (true, false) => Type::FixedLine,
        (false, true) => Type::Mobile,
        (false, false) => Type::Unknown,
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_input_becomes_e164() {
        for input in [
            "+14155550123",
            "+1 (415) 555-0123",
            " +1.415.555.0123 ",
            "+1-415-555-0123",
        ] {
            let number = PhoneNumber::parse(input, None).unwrap();
            assert_eq!(number.as_e164(), "+14155550123", "input {input:?}");
        }
        let uk = PhoneNumber::parse("+44 20 7946 0958", None).unwrap();
        assert_eq!(uk.as_e164(), "+442079460958");
        assert_eq!(uk.region_code(), "GB");
        assert_eq!(uk.kind(), Type::FixedLine);
    }

    /// Every example number of every territory in the plan parses from
    /// `tel:+...` exactly as the free-text parser reads `+<code> <number>`.
    #[test]
    fn international_input_parses_as_the_free_text_parser_reads_it() {
        let mut compared = 0;
        for code in 1..=999 {
            let Some(plan) = numbering_plan::plans_for(code, None).last() else {
                continue;
            };
            for territory in plan.by_code(&code).unwrap_or_default() {
                let types = territory.descriptors();
                let examples = [types.fixed_line(), types.mobile(), types.toll_free()]
                    .into_iter()
                    .chain([types.premium_rate(), types.voip(), types.personal_number()])
                    .chain([
                        types.pager(),
                        types.uan(),
                        types.voicemail(),
                        types.shared_cost(),
                    ])
                    .flatten()
                    .filter_map(|descriptor| descriptor.example());
                for example in examples {
                    let free_text = format!("+{code} {example}");
                    let expected = phonenumber::parse_with(plan, None, &free_text)
                        .ok()
                        .filter(|number| phonenumber::is_valid_with(plan, number))
                        .map(|number| format!("+{}{}", code, number.national()));
                    let parsed = PhoneNumber::parse(&free_text, None).ok();
                    assert_eq!(
                        parsed.as_ref().map(PhoneNumber::as_e164),
                        expected.as_deref(),
                        "{free_text}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 1_000, "{compared} examples");
    }

    /// +1 is shared by 25 territories: the US part decides first, and the
    /// others are still found.
    #[test]
    fn territories_sharing_a_calling_code_are_told_apart() {
        for (input, region, expected) in [
            ("+1 415 555 0123", None, "US"),
            ("+1 604 253 1234", None, "CA"),
            ("604 253 1234", Some("CA"), "CA"),
            ("+1 876 927 1234", None, "JM"),
            ("+7 912 345 6789", None, "RU"),
            ("+7 701 234 5678", None, "KZ"),
        ] {
            let number = PhoneNumber::parse(input, region).unwrap();
            assert_eq!(number.region_code(), expected, "{input}");
        }
    }

    /// Parsing reads only the calling codes it meets (the numbering plan's
    /// parts): libphonenumber's whole plan (645 M instructions to load) is
    /// never loaded.
    #[test]
    fn parsing_never_loads_the_whole_numbering_plan() {
        for (input, region) in [
            ("+14155550123", None),
            ("+44 20 7946 0958", None),
            ("06 12 34 56 78", Some("FR")),
            ("+999 1", None),
        ] {
            let _ = PhoneNumber::parse(input, region).map(|number| number.to_string());
        }
        assert!(once_cell::sync::Lazy::get(&phonenumber::metadata::DATABASE).is_none());
    }

    #[test]
    fn national_input_needs_a_country_code_or_a_region() {
        assert_eq!(
            PhoneNumber::parse("(415) 555-0123", None),
            Err(PhoneNumberError::MissingCountryCode)
        );
        let number = PhoneNumber::parse("(415) 555-0123", Some("us")).unwrap();
        assert_eq!(number.as_e164(), "+14155550123");
        let french = PhoneNumber::parse("06 12 34 56 78", Some("FR")).unwrap();
        assert_eq!(french.as_e164(), "+33612345678");
    }

    #[test]
    fn rejects_what_is_not_a_phone_number() {
        for input in [
            "",
            "+",
            "hello",
            "+1415555012a",
            "+1 415 555",
            "+999 1234567",
            "+14155550123; DROP TABLE",
            "+1415555012345678901234567890123456789012345",
            "+٤١٥٥٥٥٠١٢٣",
        ] {
            assert_eq!(
                PhoneNumber::parse(input, None),
                Err(PhoneNumberError::Invalid),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn rejects_an_unknown_region() {
        assert_eq!(
            PhoneNumber::parse("4155550123", Some("XX")),
            Err(PhoneNumberError::InvalidRegion)
        );
    }

    #[test]
    fn display_and_debug_never_show_the_full_number() {
        let number = PhoneNumber::parse("+14155550123", None).unwrap();
        assert_eq!(number.to_string(), "+1********23");
        assert_eq!(format!("{number:?}"), "PhoneNumber(+1********23)");
        let uk = PhoneNumber::parse("+442079460958", None).unwrap();
        assert_eq!(uk.masked(), "+44********58");
    }

    #[test]
    fn arbitrary_printable_input_never_panics() {
        // A cheap fuzz pass over the characters that survive the pre-filter.
        let alphabet: Vec<char> = "0123456789 +-().".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let len = (state % 24) as usize;
            let input: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = PhoneNumber::parse(&input, None);
            let _ = PhoneNumber::parse(&input, Some("DE"));
        }
    }

    #[test]
    fn input_is_read_up_to_40_characters() {
        // Spaces inside the number, where they are allowed.
        let padded = |length: usize| format!("+1{}4155550123", " ".repeat(length - 12));
        assert!(PhoneNumber::parse(&padded(MAX_INPUT_LENGTH), None).is_ok());
        assert_eq!(
            PhoneNumber::parse(&padded(MAX_INPUT_LENGTH + 1), None),
            Err(PhoneNumberError::Invalid)
        );
    }

    // Regressions the property tests (fuzz_tests.rs) found.

    /// phonenumber 0.3 took the first digits of national input for the calling
    /// code when they were the region's own: valid numbers were refused, and
    /// an Italian mobile became a Rome landline (a code sent to someone else).
    #[test]
    fn national_numbers_starting_with_their_calling_code_are_read_whole() {
        for (input, region, expected) in [
            ("3906123456", "IT", "+393906123456"),
            ("392 123 4567", "IT", "+393921234567"),
            ("47123456", "NO", "+4747123456"),
            ("4712 3456", "NO", "+4747123456"),
            ("6512 3456", "SG", "+6565123456"),
            ("771 000 9998", "KZ", "+77710009998"),
            ("8 771 000 9998", "KZ", "+77710009998"),
            ("1 415 555 0123", "US", "+14155550123"),
        ] {
            let number = PhoneNumber::parse(input, Some(region));
            assert_eq!(
                number.as_ref().map(PhoneNumber::as_e164),
                Ok(expected),
                "{input} in {region}"
            );
            let international = PhoneNumber::parse(expected, None).unwrap();
            assert_eq!(number.unwrap(), international);
        }
    }

    /// With a region, international input was read by that region's rules:
    /// the national prefix of "+44 020 7946 0958" stayed in with "US", and a
    /// number valid without a region was refused with one.
    #[test]
    fn international_numbers_read_the_same_with_any_region() {
        for (input, expected) in [
            ("+950220000", "+95220000"),
            ("+44 020 7946 0958", "+442079460958"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+33 06 12 34 56 78", "+33612345678"),
        ] {
            for region in [None, Some("US"), Some("FR"), Some("GB")] {
                let number = PhoneNumber::parse(input, region);
                assert_eq!(
                    number.as_ref().map(PhoneNumber::as_e164),
                    Ok(expected),
                    "{input} with {region:?}"
                );
            }
        }
    }

    /// phonenumber 0.3 finds the type and territory of a number without the
    /// leading zeros some plans keep: Ivorian and Congolese mobiles were of no
    /// type (refused for texts), and "010000" in VA was of no country ("001")
    /// but Italian when read back from its E.164.
    #[test]
    fn numbers_with_leading_zeros_have_their_type_and_territory() {
        for (input, region, e164, territory, kind) in [
            ("010000", Some("VA"), "+39010000", "IT", Type::FixedLine),
            (
                "+39 02 1234 5678",
                None,
                "+390212345678",
                "IT",
                Type::FixedLine,
            ),
            (
                "0212345678",
                Some("VA"),
                "+390212345678",
                "IT",
                Type::FixedLine,
            ),
            (
                "06 698 12345",
                Some("VA"),
                "+390669812345",
                "VA",
                Type::FixedLine,
            ),
            (
                "+225 07 12 34 56 78",
                None,
                "+2250712345678",
                "CI",
                Type::Mobile,
            ),
            (
                "+242 06 123 4567",
                None,
                "+242061234567",
                "CG",
                Type::Mobile,
            ),
        ] {
            let number = PhoneNumber::parse(input, region).unwrap();
            assert_eq!(
                (number.as_e164(), number.region_code(), number.kind()),
                (e164, territory, kind),
                "{input} in {region:?}"
            );
            assert_eq!(PhoneNumber::parse(e164, None), Ok(number));
        }
    }

    /// The plan's German patterns allow 14 digits after +49: 16 in all, more
    /// than E.164 (and Twilio) allow.
    #[test]
    fn numbers_longer_than_e164_allows_are_refused() {
        for (input, region) in [("20100000000000", Some("DE")), ("+49 20100000000000", None)] {
            assert_eq!(
                PhoneNumber::parse(input, region),
                Err(PhoneNumberError::Invalid),
                "{input}"
            );
        }
        let longest = PhoneNumber::parse("+49 2010000000000", None).unwrap();
        assert_eq!(longest.as_e164(), "+492010000000000");
    }
}
