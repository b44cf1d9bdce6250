//! The parser before the numbering plan's patterns were compiled at build
//! time: the `phonenumber` crate's own reading, validation and typing over
//! its `Database` (regex compiled at run time). The DFA-based parser must
//! give exactly its answers: E.164, territory, line type, or refusal.

use std::sync::LazyLock;

use phonenumber::metadata::{Database, Descriptor, Metadata};
use phonenumber::{Type, country};
use proptest::prelude::*;

use super::super::numbering_plan;
use super::*;

/// `PhoneNumber::parse` as it was, the crate doing everything.
/// (The input checks before any plan is read are the parser's own `Input`:
/// only the reading over the plan differs.)
fn crate_parse(input: &str, default_region: Option<&str>) -> Result<PhoneNumber, PhoneNumberError> {
    let Input {
        text: input,
        region,
        international,
        digits,
        code,
    } = Input::read(input, default_region)?;
    let text = match (international, code) {
        (true, Some(code)) => {
            let code = code.to_string();
            format!("tel:+{code}-{}", &digits[code.len()..])
        }
        _ => input.to_owned(),
    };
    let whole = match (international, code) {
        (false, Some(code)) if digits.starts_with(&code.to_string()) => {
            Some(format!("tel:+{code}-{digits}"))
        }
        _ => None,
    };
    let region = region.filter(|_| !international);
    let region_code = region.as_ref().map(AsRef::as_ref);
    code.into_iter()
        .flat_map(|code| numbering_plan::plans_for(code, region_code))
        .find_map(|plan| {
            whole
                .iter()
                .chain([&text])
                .find_map(|text| crate_parse_with(plan.database(), region, text))
        })
        .ok_or(PhoneNumberError::Invalid)
}

fn crate_parse_with(
    plan: &Database,
    region: Option<country::Id>,
    text: &str,
) -> Option<PhoneNumber> {
    let number = phonenumber::parse_with(plan, region, text).ok()?;
    let national = number.national().to_string();
    let e164 = format!("+{}{national}", number.code().value());
    if e164.len() > 1 + 15 || !phonenumber::is_valid_with(plan, &number) {
        return None;
    }
    let (territory, kind) = crate_classify(plan, number.code().value(), &national)?;
    Some(PhoneNumber {
        e164,
        country_code: number.code().value(),
        region: territory.id().parse().ok(),
        kind,
    })
}

fn crate_classify<'a>(
    plan: &'a Database,
    code: u16,
    national: &str,
) -> Option<(&'a Metadata, Type)> {
    let territories = plan.by_code(&code)?;
    let territory = territories
        .into_iter()
        .find(|meta| match meta.leading_digits() {
            Some(digits) => digits.find(national).is_some_and(|m| m.start() == 0),
            None => crate_line_type(meta, national) != Type::Unknown,
        })?;
    Some((territory, crate_line_type(territory, national)))
}

fn crate_line_type(territory: &Metadata, national: &str) -> Type {
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
    match (matches(types.fixed_line()), matches(types.mobile())) {
        (true, true) => Type::FixedLineOrMobile,
        (true, false) => Type::FixedLine,
        (false, true) => Type::Mobile,
        (false, false) => Type::Unknown,
    }
}

/// Every territory: its calling code, id, national prefix and example
/// numbers (national significant numbers), from the crate's plan.
fn territories() -> Vec<(u16, String, Option<String>, Vec<String>)> {
    TERRITORIES.clone()
}

type Examples = Vec<(u16, String, Option<String>, Vec<String>)>;

static TERRITORIES: LazyLock<Examples> = LazyLock::new(|| {
    let mut all = Vec::new();
    for code in 1..=999 {
        let Some(plan) = numbering_plan::plans_for(code, None).last() else {
            continue;
        };
        for territory in plan.database().by_code(&code).unwrap_or_default() {
            let types = territory.descriptors();
            let examples = [Some(types.general()), types.fixed_line(), types.mobile()]
                .into_iter()
                .chain([types.toll_free(), types.premium_rate(), types.voip()])
                .chain([types.personal_number(), types.pager(), types.uan()])
                .chain([types.voicemail(), types.shared_cost()])
                .flatten()
                .filter_map(|descriptor| descriptor.example().map(str::to_owned))
                .collect();
            let prefix = territory.national_prefix().map(str::to_owned);
            all.push((code, territory.id().to_owned(), prefix, examples));
        }
    }
    all
});

fn assert_same(input: &str, region: Option<&str>) {
    assert_eq!(
        PhoneNumber::parse(input, region),
        crate_parse(input, region),
        "{input:?} in {region:?}"
    );
}

/// Every example number of every type of every territory, in international
/// form (with and without a region) and in national form with the
/// territory as region (with and without its national prefix).
#[test]
fn every_example_number_parses_as_the_crate_parses_it() {
    let mut compared = 0;
    for (code, id, prefix, examples) in territories() {
        let region = Some(id.as_str()).filter(|id| *id != "001");
        for example in examples {
            assert_same(&format!("+{code}{example}"), None);
            assert_same(&format!("+{code} {example}"), region);
            // With the national prefix (or a 0) the international form
            // should not have: the crate strips it.
            for prefix in [prefix.as_deref(), Some("0")].into_iter().flatten() {
                assert_same(&format!("+{code}{prefix}{example}"), None);
            }
            if region.is_some() {
                assert_same(&example, region);
                assert_same(&format!("{code}{example}"), region);
                if let Some(prefix) = &prefix {
                    assert_same(&format!("{prefix}{example}"), region);
                    assert_same(&format!("{code}{prefix}{example}"), region);
                }
            }
            compared += 1;
        }
    }
    assert!(compared > 1_100, "{compared} examples");
}

/// National input that dials out first ("011 44 ..." in the US): the
/// region's plan has not the other calling code, and refuses it.
#[test]
fn numbers_after_an_international_prefix_parse_as_the_crate_parses_them() {
    // 207 946 0958 is also a valid number in Maine: not what was dialled.
    assert_same("011 44 207 946 0958", Some("US"));
    assert_eq!(
        PhoneNumber::parse("011 44 207 946 0958", Some("US")),
        Err(PhoneNumberError::Invalid)
    );
    // Each region's international prefix, and one it does not use.
    let dialling = [("US", "011"), ("GB", "00"), ("AU", "0011"), ("JP", "010")];
    let dialling = dialling
        .into_iter()
        .chain([("BR", "0015"), ("KR", "001"), ("FR", "011")]);
    let dialling: Vec<_> = dialling.collect();
    for (code, _, example) in examples() {
        for (region, idd) in &dialling {
            assert_same(&format!("{idd} {code} {example}"), Some(region));
        }
    }
}

/// Every example number (and it after its national prefix) cut at every
/// length: the lengths around the shortest where the crate keeps or drops
/// a national prefix.
#[test]
fn example_numbers_cut_short_parse_as_the_crate_parses_them() {
    for (code, region, example) in examples() {
        for cut in 0..example.len() {
            let number = &example[..cut];
            assert_same(&format!("+{code}{number}"), None);
            if region != "001" {
                assert_same(&format!("{code}{number}"), Some(&region));
            }
        }
    }
}

/// International numbers, the common case, are read over the DFAs alone:
/// no `Database` decoded, no regex compiled (`Plan::database` counts its
/// calls per thread).
#[test]
fn international_numbers_never_read_the_crates_database() {
    let territories = territories();
    let before = numbering_plan::database_reads();
    for (code, _, _, examples) in territories {
        for example in examples {
            let reads = numbering_plan::database_reads();
            let _ = PhoneNumber::parse(&format!("+{code}{example}"), None);
            assert_eq!(numbering_plan::database_reads(), reads, "+{code}{example}");
        }
    }
    for input in [
        "+14155550123",
        "+1 604 253 1234",
        "+44 20 7946 0958",
        "+5491123456789",
    ] {
        PhoneNumber::parse(input, None).unwrap();
    }
    assert_eq!(numbering_plan::database_reads(), before);
}

fn codes() -> Vec<(u16, Vec<String>)> {
    let mut codes: Vec<(u16, Vec<String>)> = Vec::new();
    for (code, id, _, _) in territories() {
        match codes.last_mut() {
            Some((last, regions)) if *last == code => regions.push(id),
            _ => codes.push((code, vec![id])),
        }
    }
    codes
}

/// Every example number, also after its territory's national prefix.
fn examples() -> Vec<(u16, String, String)> {
    territories()
        .into_iter()
        .flat_map(|(code, id, prefix, examples)| {
            examples.into_iter().flat_map(move |example| {
                let prefixed = prefix.as_ref().map(|prefix| format!("{prefix}{example}"));
                [Some(example), prefixed]
                    .into_iter()
                    .flatten()
                    .map(|example| (code, id.clone(), example))
                    .collect::<Vec<_>>()
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// Random digits after every calling code, in international form and in
    /// national form with one of the code's territories as region.
    #[test]
    fn random_digits_parse_as_the_crate_parses_them(
        pick in any::<prop::sample::Index>(),
        region in any::<prop::sample::Index>(),
        digits in "[0-9]{0,17}",
    ) {
        static CODES: LazyLock<Vec<(u16, Vec<String>)>> = LazyLock::new(codes);
        let (code, regions) = pick.get(&CODES);
        assert_same(&format!("+{code}{digits}"), None);
        let region = region.get(regions);
        if region != "001" {
            assert_same(&digits, Some(region));
        }
    }

    /// Numbers near valid ones: an example number (or it after its national
    /// prefix) cut short, with random digits after it.
    #[test]
    fn numbers_near_example_numbers_parse_as_the_crate_parses_them(
        pick in any::<prop::sample::Index>(),
        cut in 0..16usize,
        tail in "[0-9]{0,4}",
    ) {
        static EXAMPLES: LazyLock<Vec<(u16, String, String)>> = LazyLock::new(examples);
        let (code, region, example) = pick.get(&EXAMPLES);
        let number = format!("{}{tail}", &example[..cut.min(example.len())]);
        assert_same(&format!("+{code}{number}"), None);
        if region != "001" {
            assert_same(&number, Some(region));
            assert_same(&format!("{code}{number}"), Some(region));
        }
    }
}

/// A warm parse, this parser against the crate's (both with their
/// patterns already compiled or read): `cargo test --release -p
/// phone-verification --lib warm_parse -- --ignored --nocapture`.
#[test]
#[ignore = "a timing, for docs/benchmark.md"]
fn warm_parse_time() {
    use std::time::Instant;
    let inputs = [
        "+14155550123",
        "+1 (212) 555-0199",
        "+44 20 7946 0958",
        "+33 6 12 34 56 78",
    ];
    for input in inputs {
        assert_same(input, None);
    }
    let time = |parse: fn(&str, Option<&str>) -> Result<PhoneNumber, PhoneNumberError>| {
        let start = Instant::now();
        for _ in 0..20_000 {
            for input in inputs {
                std::hint::black_box(parse(std::hint::black_box(input), None).unwrap());
            }
        }
        start.elapsed().as_nanos() as f64 / (20_000 * inputs.len()) as f64
    };
    for _ in 0..3 {
        let (ours, theirs) = (time(PhoneNumber::parse), time(crate_parse));
        println!("warm parse: {ours:.0} ns (DFAs), {theirs:.0} ns (the crate's)");
    }
}
