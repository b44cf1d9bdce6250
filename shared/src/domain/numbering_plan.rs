//! libphonenumber's numbering plan, one part per country calling code,
//! split at build time (build.rs) into a const table. A part is decoded
//! and its patterns checked the first time a number with its code is
//! parsed, then kept: a cold start pays for the codes it meets, not for
//! all 215 of them. A code shared by several territories also has its main
//! territory as a part of its own (+1: the US alone, not 25 territories).

use std::sync::OnceLock;

use phonenumber::metadata::{Database, loader};

pub(super) struct CallingCode {
    code: u16,
    /// The territories (ISO 3166 codes) that share the code; "001" for
    /// non-geographic services.
    regions: &'static [&'static str],
    /// The territory most of the code's numbers belong to (+1: "US") and
    /// its metadata alone, postcard-encoded by build.rs; none when the code
    /// has one territory.
    main: Option<(&'static str, &'static [u8])>,
    /// Every territory's metadata.
    all: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/calling_codes.rs"));

/// The decoded parts, in `CALLING_CODES` order: main territories, all.
static MAIN: [OnceLock<Database>; CALLING_CODES.len()] =
    [const { OnceLock::new() }; CALLING_CODES.len()];
static ALL: [OnceLock<Database>; CALLING_CODES.len()] =
    [const { OnceLock::new() }; CALLING_CODES.len()];

/// The numbering plans to parse a number of `code` with, smallest first
/// (each decoded on first use): the code's main territory alone, which
/// decides for most numbers, then all its territories. A number valid in
/// the main territory is that territory's in the full plan too: the full
/// plan tries the main territory first. With a `region` other than the
/// main one, only the full plan has it.
pub(super) fn plans_for(
    code: u16,
    region: Option<&str>,
) -> impl Iterator<Item = &'static Database> {
    let index = CALLING_CODES.iter().position(|part| part.code == code);
    let main = index.and_then(|index| match CALLING_CODES[index].main {
        Some((main_region, metadata)) if region.is_none_or(|region| region == main_region) => {
            Some((&MAIN[index], metadata))
        }
        _ => None,
    });
    let all = index.map(|index| (&ALL[index], CALLING_CODES[index].all));
    main.into_iter()
        .chain(all)
        .map(|(plan, metadata)| plan.get_or_init(|| decode(metadata)))
}

fn decode(metadata: &[u8]) -> Database {
    let territories: Vec<loader::Metadata> =
        postcard::from_bytes(metadata).expect("metadata encoded by build.rs");
    Database::from(territories).expect("libphonenumber's patterns are valid")
}

/// The calling code of a territory ("US" -> 1).
pub(super) fn code_of_region(region: &str) -> Option<u16> {
    CALLING_CODES
        .iter()
        .find(|part| part.regions.contains(&region))
        .map(|part| part.code)
}

/// The calling code an international number starts with: calling codes are
/// prefix-free, so at most one of its first 1 to 3 digits is one.
pub(super) fn code_of_international(digits: &str) -> Option<u16> {
    (1..=3.min(digits.len()))
        .filter_map(|len| digits[..len].parse().ok())
        .find(|code| CALLING_CODES.iter().any(|part| part.code == *code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// openapi.yaml's `Region` lists exactly the regions a number can be
    /// parsed in, so that a schema-valid `defaultRegion` is never refused.
    #[test]
    fn openapi_lists_every_region_of_the_plan() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
        let spec: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut listed: Vec<_> = spec["components"]["schemas"]["Region"]["enum"]
            .as_array()
            .expect("Region is an enum")
            .iter()
            .map(|region| region.as_str().unwrap().to_owned())
            .collect();
        let mut plan: Vec<_> = CALLING_CODES
            .iter()
            .flat_map(|part| part.regions.iter())
            .filter(|region| **region != "001") // non-geographic codes
            .map(|region| region.to_string())
            .collect();
        listed.sort();
        plan.sort();
        plan.dedup();
        assert_eq!(listed, plan);
    }

    #[test]
    fn every_part_decodes() {
        assert!(CALLING_CODES.len() > 200);
        for part in CALLING_CODES {
            for plan in plans_for(part.code, None) {
                assert!(plan.by_code(&part.code).is_some(), "+{}", part.code);
            }
        }
        assert_eq!(plans_for(1, None).count(), 2);
        assert_eq!(plans_for(1, Some("US")).count(), 2);
        assert_eq!(plans_for(1, Some("CA")).count(), 1);
        assert_eq!(plans_for(33, None).count(), 1);
    }

    #[test]
    fn codes_are_found_by_region_and_by_number() {
        assert_eq!(code_of_region("US"), Some(1));
        assert_eq!(code_of_region("CA"), Some(1));
        assert_eq!(code_of_region("GB"), Some(44));
        assert_eq!(code_of_region("XX"), None);
        assert_eq!(code_of_international("14155550123"), Some(1));
        assert_eq!(code_of_international("442079460958"), Some(44));
        assert_eq!(code_of_international("380441234567"), Some(380));
        assert_eq!(code_of_international("999"), None);
    }
}
