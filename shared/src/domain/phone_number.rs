use std::fmt;
use std::str::FromStr;

use phonenumber::{Type, country};

use super::numbering_plan::{self, Plan, TYPES, Territory};

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
        let Input {
            text: input,
            region,
            international,
            digits,
            code,
        } = Input::read(input, default_region)?;
        let Some(code) = code else {
            return Err(PhoneNumberError::Invalid);
        };
        // An international number is read from its digits after the calling
        // code, as the crate reads `tel:+<code>-<digits>`, over the plan's
        // DFAs. National input is free text, which the crate reads; but
        // phonenumber 0.3 reads national input that starts with the region's
        // calling code as that code and the rest ("47123456" in NO as
        // +47 123456, "3906123456" in IT as +39 06123456, another line): it
        // is read whole first, as libphonenumber keeps it when it is valid.
        let code_digits = code.to_string();
        let whole = if international {
            Some(&digits[code_digits.len()..])
        } else {
            Some(digits.as_str()).filter(|digits| digits.starts_with(&code_digits))
        };
        // The region is for national input: phonenumber would read an
        // international number by the region's rules, not its own (the
        // national prefix of "+44 020 7946 0958" kept with "US").
        let region = region.filter(|_| !international);
        let region_code = region.as_ref().map(AsRef::as_ref);
        numbering_plan::plans_for(code, region_code)
            .find_map(|plan| {
                let whole = whole.and_then(|rest| Self::parse_digits(plan, region_code, rest));
                // National free text: the crate reads it.
                whole.or_else(|| {
                    (!international)
                        .then(|| Self::parse_free_text(plan, region, input))
                        .flatten()
                })
            })
            .ok_or(PhoneNumberError::Invalid)
    }

    /// The number `+<code><rest>` if it is valid in this numbering plan, as
    /// `phonenumber::parse_with` reads `tel:+<code>-<rest>` (with `region`:
    /// by that territory's rules), over the plan's DFAs.
    fn parse_digits(plan: Plan, region: Option<&str>, rest: &str) -> Option<Self> {
        let national = match read_national(plan, region, rest) {
            Read::National(national) => national,
            Read::Invalid => return None,
            // Rare: a transform rule applies (a +54 number written with its
            // national prefix...): the crate reads it, compiling its patterns.
            Read::NeedsCaptures => {
                let text = format!("tel:+{}-{rest}", plan.code);
                let region = region.and_then(|region| region.parse().ok());
                let number = phonenumber::parse_with(plan.database(), region, text).ok()?;
                return Self::checked(plan, &number);
            }
        };
        Self::valid(plan, national.to_owned())
    }

    /// National free text, read by the crate.
    fn parse_free_text(plan: Plan, region: Option<country::Id>, text: &str) -> Option<Self> {
        let number = phonenumber::parse_with(plan.database(), region, text).ok()?;
        Self::checked(plan, &number)
    }

    /// A number the crate read, if valid in this plan. After an
    /// international prefix ("011 44 ..." in the US) the crate reads a
    /// calling code only among the plan's; its `is_valid_with` also refused
    /// another code, and so does this.
    fn checked(plan: Plan, number: &phonenumber::PhoneNumber) -> Option<Self> {
        // Not `format_with`: its Display loads the whole plan.
        (number.code().value() == plan.code)
            .then(|| Self::valid(plan, number.national().to_string()))
            .flatten()
    }

    /// `+<plan's code><national>` if it is valid in this numbering plan (the
    /// crate's `is_valid_with`), with its territory and line type.
    fn valid(plan: Plan, national: String) -> Option<Self> {
        let e164 = format!("+{}{national}", plan.code);
        // E.164 allows 15 digits; the plan's patterns allow longer German
        // numbers (+49 and 14 digits), which no carrier would take.
        if e164.len() > 1 + 15 {
            return None;
        }
        let source = source_for(plan.territories, &national)?;
        if line_type(source, &national) == Type::Unknown {
            return None;
        }
        let (territory, kind) = classify(plan.territories, &national)?;
        Some(Self {
            e164,
            country_code: plan.code,
            region: territory.id.parse().ok(),
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

/// Input checked before any numbering plan is read: its characters and
/// length, the region, and the calling code its digits or region give.
struct Input<'a> {
    /// The trimmed input.
    text: &'a str,
    region: Option<country::Id>,
    /// It starts with `+`.
    international: bool,
    digits: String,
    code: Option<u16>,
}

impl<'a> Input<'a> {
    fn read(input: &'a str, default_region: Option<&str>) -> Result<Self, PhoneNumberError> {
        let region = default_region
            .map(|code| {
                country::Id::from_str(&code.trim().to_ascii_uppercase())
                    .map_err(|_| PhoneNumberError::InvalidRegion)
            })
            .transpose()?;
        let text = input.trim();
        let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
        if text.is_empty() || text.len() > MAX_INPUT_LENGTH || !text.chars().all(allowed) {
            return Err(PhoneNumberError::Invalid);
        }
        let international = text.starts_with('+');
        if region.is_none() && !international {
            return Err(PhoneNumberError::MissingCountryCode);
        }
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let code = match (international, &region) {
            (true, _) => numbering_plan::code_of_international(&digits),
            (false, Some(region)) => numbering_plan::code_of_region(region.as_ref()),
            (false, None) => None,
        };
        Ok(Self {
            text,
            region,
            international,
            digits,
            code,
        })
    }
}

/// What `phonenumber::parse_with` reads of `tel:+<code>-<rest>`.
enum Read<'a> {
    /// The national significant number.
    National(&'a str),
    /// The crate refuses it.
    Invalid,
    /// A transform rule applies to the national prefix: it needs the
    /// pattern's groups, which a DFA does not have.
    NeedsCaptures,
}

/// `phonenumber::parse_with(plan, region, "tel:+<code>-<rest>")`, step by
/// step (`rest` is ASCII digits), over the plan's DFAs.
fn read_national<'a>(plan: Plan, region: Option<&str>, rest: &'a str) -> Read<'a> {
    // `is_viable` wants three digits after the "-"; then the national number
    // must be longer than 2 (`MIN_LENGTH_FOR_NSN`).
    if rest.len() < 3 {
        return Read::Invalid;
    }
    // The territory whose national prefix to strip: the region's, or the
    // number's (found without its leading zeros).
    let territory = match region {
        Some(region) => plan.territories.iter().find(|t| t.id == region),
        None => source_for(plan.territories, rest.trim_start_matches('0')),
    };
    let mut national = rest;
    if let Some(territory) = territory {
        let Some(mut potential) = strip_prefix_for_parsing(territory, rest) else {
            return Read::NeedsCaptures;
        };
        if let Some(prefix) = territory.national_prefix {
            potential = potential.strip_prefix(prefix).unwrap_or(potential);
        }
        // `validator::length(.., Type::Unknown) != TooShort`.
        let length = potential.len() as u16;
        let too_short =
            territory.general.lengths.first().is_some_and(|&minimum| {
                !territory.local_lengths.contains(&length) && length < minimum
            });
        if !too_short {
            national = potential;
        }
    }
    // `MIN_LENGTH_FOR_NSN`, `MAX_LENGTH_FOR_NSN`, and `NationalNumber`:
    // leading zeros, then a number below 2^56.
    let significant = national.trim_start_matches('0');
    let fits = significant
        .parse::<u64>()
        .is_ok_and(|value| value < 1 << 56);
    if !(2..=17).contains(&national.len()) || !fits {
        return Read::Invalid;
    }
    Read::National(national)
}

/// `phonenumber`'s `helper::national_number`: the number without its
/// national prefix, as `national_prefix_for_parsing` finds it; none when a
/// transform rule would apply.
fn strip_prefix_for_parsing<'a>(territory: &Territory, national: &'a str) -> Option<&'a str> {
    let Some(pattern) = territory.national_prefix_for_parsing else {
        let prefix = territory.national_prefix.unwrap_or_default();
        return Some(national.strip_prefix(prefix).unwrap_or(national));
    };
    match pattern.match_end(national) {
        None => Some(national),
        // An empty match has not the transform rule's group (build.rs checks
        // that the group cannot match empty): the crate cuts nothing off.
        Some(end) if territory.transforms_national_prefix && end > 0 => None,
        // Without a transform rule, the crate cuts the match off (its
        // "viable" check compares the general pattern with itself).
        Some(end) => Some(&national[end..]),
    }
}

/// `phonenumber`'s `validator::source_for`: the territory whose rules a
/// number follows. The only territory of a calling code is taken as is (if
/// the crate knows its id).
fn source_for<'a>(territories: &'a [Territory], national: &str) -> Option<&'a Territory> {
    match territories {
        [only] => (only.id == "001" || only.id.parse::<country::Id>().is_ok()).then_some(only),
        _ => territories
            .iter()
            .find(|territory| belongs(territory, national)),
    }
}

/// Whether a number of a shared calling code is this territory's.
fn belongs(territory: &Territory, national: &str) -> bool {
    match territory.leading_digits {
        Some(digits) => digits.match_end(national).is_some(),
        None => line_type(territory, national) != Type::Unknown,
    }
}

/// The territory and line type of a valid number, found as
/// `phonenumber::PhoneNumber::metadata` and `number_type` do, but with the
/// leading zeros that some plans keep (Italy, Côte d'Ivoire, Congo): theirs
/// drop them, so "+225 07 ..." mobiles were of no type (no texts) and the
/// type and territory of "+39 0..." depended on the region given.
fn classify<'a>(territories: &'a [Territory], national: &str) -> Option<(&'a Territory, Type)> {
    let territory = territories.iter().find(|t| belongs(t, national))?;
    Some((territory, line_type(territory, national)))
}

/// `phonenumber::PhoneNumber::number_type`, of the number's own digits.
fn line_type(territory: &Territory, national: &str) -> Type {
    if !territory.general.is_match(national) {
        return Type::Unknown;
    }
    let matches = |kind: Type| {
        let index = TYPES.iter().position(|t| *t == kind).unwrap();
        territory.types[index]
            .as_ref()
            .is_some_and(|descriptor| descriptor.is_match(national))
    };
    let special = &TYPES[..TYPES.len() - 2];
    if let Some(kind) = special.iter().find(|kind| matches(**kind)) {
        return *kind;
    }
    // Where the two patterns are the same (US), both match: no telling.
    match (matches(Type::FixedLine), matches(Type::Mobile)) {
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
mod crate_oracle;

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
            let plan = plan.database();
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
