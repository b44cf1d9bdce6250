//! Splits libphonenumber's numbering plan (the metadata the `phonenumber`
//! crate ships) by country calling code, into a const table the functions
//! compile in. Loading the whole plan checks some 2,600 patterns: 88% of
//! a cold start's instructions. Split, a function decodes only the calling
//! codes it meets (see domain/numbering_plan.rs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata, loader};

fn main() {
    // The phonenumber crate's own plan, read back through its public
    // accessors as the loader's records, minus what parsing never reads.
    let mut by_code: BTreeMap<u16, Vec<loader::Metadata>> = BTreeMap::new();
    for code in 1..=999 {
        for territory in DATABASE.by_code(&code).unwrap_or_default() {
            by_code.entry(code).or_default().push(record(territory));
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut table = String::from("pub(super) static CALLING_CODES: &[CallingCode] = &[\n");
    for (code, territories) in &by_code {
        let write = |name: String, territories: &[loader::Metadata]| {
            let blob = postcard::to_allocvec(territories).expect("serializable metadata");
            std::fs::write(out.join(&name), blob).unwrap();
            format!("include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\"))")
        };
        let all = write(format!("calling_code_{code}.bin"), territories);
        // Most numbers of a shared code are its main territory's (+1: the US
        // among 25): that territory alone is a part of its own.
        let main = match territories.iter().find(|t| t.main_country_for_code) {
            Some(main) if territories.len() > 1 => format!(
                "Some(({:?}, {}))",
                main.id.clone().unwrap_or_default(),
                write(
                    format!("calling_code_{code}_main.bin"),
                    std::slice::from_ref(main)
                )
            ),
            _ => "None".into(),
        };
        let regions: Vec<String> = territories
            .iter()
            .filter_map(|t| t.id.clone())
            .map(|id| format!("{id:?}"))
            .collect();
        writeln!(
            table,
            "    CallingCode {{ code: {code}, regions: &[{}], main: {main}, all: {all} }},",
            regions.join(", ")
        )
        .unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("calling_codes.rs"), table).unwrap();
}

/// A territory as the loader's record, for `Database::from` at run time.
/// Parsing, validating and typing a number read the territory's codes,
/// prefixes and number-type patterns; its formatting rules and short-code
/// patterns are never read, yet each of their patterns would be checked at
/// every cold start, so they are left out.
fn record(territory: &Metadata) -> loader::Metadata {
    let types = territory.descriptors();
    loader::Metadata {
        general: Some(descriptor(types.general())),
        fixed_line: types.fixed_line().map(descriptor),
        mobile: types.mobile().map(descriptor),
        toll_free: types.toll_free().map(descriptor),
        premium_rate: types.premium_rate().map(descriptor),
        shared_cost: types.shared_cost().map(descriptor),
        personal_number: types.personal_number().map(descriptor),
        voip: types.voip().map(descriptor),
        pager: types.pager().map(descriptor),
        uan: types.uan().map(descriptor),
        voicemail: types.voicemail().map(descriptor),
        id: Some(territory.id().into()),
        country_code: Some(territory.country_code()),
        international_prefix: territory
            .international_prefix()
            .map(|regex| ascii_digits(regex.as_str())),
        preferred_international_prefix: territory.preferred_international_prefix().map(Into::into),
        national_prefix: territory.national_prefix().map(Into::into),
        preferred_extension_prefix: territory.preferred_extension_prefix().map(Into::into),
        national_prefix_for_parsing: territory
            .national_prefix_for_parsing()
            .map(|regex| ascii_digits(regex.as_str())),
        national_prefix_transform_rule: territory.national_prefix_transform_rule().map(Into::into),
        main_country_for_code: territory.is_main_country_for_code(),
        leading_digits: territory
            .leading_digits()
            .map(|regex| ascii_digits(regex.as_str())),
        mobile_number_portable: territory.is_mobile_number_portable(),
        ..Default::default()
    }
}

fn descriptor(descriptor: &Descriptor) -> loader::Descriptor {
    loader::Descriptor {
        national_number: Some(ascii_digits(descriptor.national_number().as_str())),
        possible_length: descriptor.possible_length().to_vec(),
        possible_local_length: descriptor.possible_local_length().to_vec(),
        example: descriptor.example().map(Into::into),
    }
}

/// `\d` is every Unicode digit to the regex crate, and compiling those
/// classes was most of the cost of a number's first check. The functions
/// only ever parse ASCII digits (PhoneNumber::parse refuses the rest), so
/// `[0-9]` matches the same. (No pattern has `\d` inside a class.)
fn ascii_digits(pattern: &str) -> String {
    pattern.replace(r"\d", "[0-9]")
}
