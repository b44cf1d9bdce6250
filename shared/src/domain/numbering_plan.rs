//! libphonenumber's numbering plan, one part per country calling code,
//! split at build time (build.rs) into a const table. A part is decoded
//! and its patterns checked the first time a number with its code is
//! parsed, then kept: a cold start pays for the codes it meets, not for
//! all 215 of them. A code shared by several territories also has its main
//! territory as a part of its own (+1: the US alone, not 25 territories).
//!
//! Each territory's patterns are also here as DFAs compiled by build.rs
//! (`Territory`, `Pattern`): validating and typing a number, and reading an
//! international one, search those, and compile no regex at run time. The
//! crate's `Database` of a part is decoded only to read national free text.

use std::ops::Range;
use std::sync::OnceLock;

use phonenumber::metadata::{Database, loader};
use regex_automata::dfa::{Automaton, sparse};
use regex_automata::{Anchored, Input};

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
    /// The territories, in the crate's order (the main one first).
    territories: &'static [Territory],
}

/// What parsing reads of a territory, its patterns as DFAs.
pub(super) struct Territory {
    /// ISO 3166 code, "001" for non-geographic services.
    pub(super) id: &'static str,
    /// Every valid number of the territory matches it.
    pub(super) general: Descriptor,
    /// The general lengths only dialled locally.
    pub(super) local_lengths: &'static [u16],
    /// The number types, in the order of `TYPES`.
    pub(super) types: [Option<Descriptor>; TYPES.len()],
    /// Which numbers of a shared calling code are this territory's.
    pub(super) leading_digits: Option<Pattern>,
    pub(super) national_prefix: Option<&'static str>,
    pub(super) national_prefix_for_parsing: Option<Pattern>,
    /// Whether the national prefix has a transform rule (`$1`...).
    pub(super) transforms_national_prefix: bool,
}

/// The number types a territory's `types` holds, in the order
/// `phonenumber`'s `number_type` tries them (fixed line and mobile last).
pub(super) const TYPES: [phonenumber::Type; 10] = {
    use phonenumber::Type::*;
    [
        PremiumRate,
        TollFree,
        SharedCost,
        Voip,
        PersonalNumber,
        Pager,
        Uan,
        Voicemail,
        FixedLine,
        Mobile,
    ]
};

/// A number type's pattern and lengths.
pub(super) struct Descriptor {
    pub(super) pattern: Pattern,
    /// The national number's possible lengths; empty: any.
    pub(super) lengths: &'static [u16],
}

impl Descriptor {
    /// `phonenumber`'s `Descriptor::is_match`: one of the lengths, and the
    /// pattern matches from the first digit (not necessarily to the last).
    pub(super) fn is_match(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.pattern.match_end(national).is_some()
    }
}

/// One of the plan's patterns, compiled by build.rs into an anchored,
/// leftmost-first DFA.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pattern(usize);

impl Pattern {
    /// Where the regex crate's leftmost-first match starting at the first
    /// byte ends, if the pattern matches there.
    pub(super) fn match_end(self, text: &str) -> Option<usize> {
        let input = Input::new(text).anchored(Anchored::Yes);
        let found = self.dfa().try_search_fwd(&input);
        found
            .expect("no quit bytes or look-around a DFA lacks")
            .map(|m| m.offset())
    }

    /// The DFA, read from build.rs's bytes on first use (a check of the
    /// bytes, no compilation) and kept. Boxed: a DFA's header is ~700
    /// bytes, which 1,258 slots would add to the binary's data (0.9 MB).
    fn dfa(self) -> &'static sparse::DFA<&'static [u8]> {
        static DFAS: [OnceLock<Box<sparse::DFA<&[u8]>>>; PATTERNS.len()] =
            [const { OnceLock::new() }; PATTERNS.len()];
        DFAS[self.0].get_or_init(|| {
            let bytes: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/patterns.bin"));
            let bytes = &bytes[Range::clone(&PATTERNS[self.0])];
            let dfa = sparse::DFA::from_bytes(bytes).expect("a DFA written by build.rs");
            Box::new(dfa.0)
        })
    }
}

include!(concat!(env!("OUT_DIR"), "/calling_codes.rs"));

/// The decoded parts, in `CALLING_CODES` order: main territories, all.
static MAIN: [OnceLock<Database>; CALLING_CODES.len()] =
    [const { OnceLock::new() }; CALLING_CODES.len()];
static ALL: [OnceLock<Database>; CALLING_CODES.len()] =
    [const { OnceLock::new() }; CALLING_CODES.len()];

/// A numbering plan to parse a number with: some territories of one
/// calling code, as DFAs, and as the crate's `Database` (decoded on first
/// use, for national free text only).
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub(super) code: u16,
    /// In the crate's order: the main territory first.
    pub(super) territories: &'static [Territory],
    database: &'static OnceLock<Database>,
    metadata: &'static [u8],
}

impl Plan {
    /// The crate's `Database` of the same territories.
    pub(super) fn database(&self) -> &'static Database {
        #[cfg(test)]
        DATABASE_READS.with(|reads| reads.set(reads.get() + 1));
        self.database.get_or_init(|| decode(self.metadata))
    }
}

#[cfg(test)]
thread_local! {
    static DATABASE_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many times this thread has asked for a plan's `Database`.
#[cfg(test)]
pub(super) fn database_reads() -> usize {
    DATABASE_READS.with(std::cell::Cell::get)
}

/// The numbering plans to parse a number of `code` with, smallest first:
/// the code's main territory alone, which decides for most numbers, then
/// all its territories. A number valid in the main territory is that
/// territory's in the full plan too: the full plan tries the main territory
/// first. With a `region` other than the main one, only the full plan has it.
pub(super) fn plans_for(code: u16, region: Option<&str>) -> impl Iterator<Item = Plan> {
    let index = CALLING_CODES.iter().position(|part| part.code == code);
    let main = index.and_then(|index| {
        let part = &CALLING_CODES[index];
        match part.main {
            Some((main_region, metadata)) if region.is_none_or(|region| region == main_region) => {
                Some(Plan {
                    code,
                    territories: &part.territories[..1],
                    database: &MAIN[index],
                    metadata,
                })
            }
            _ => None,
        }
    });
    let all = index.map(|index| Plan {
        code,
        territories: CALLING_CODES[index].territories,
        database: &ALL[index],
        metadata: CALLING_CODES[index].all,
    });
    main.into_iter().chain(all)
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

    /// Every part decodes, and its territories (with their DFAs) are the
    /// crate's, in the crate's order.
    #[test]
    fn every_part_decodes() {
        assert!(CALLING_CODES.len() > 200);
        for part in CALLING_CODES {
            for plan in plans_for(part.code, None) {
                let database = plan.database().by_code(&part.code);
                let ids: Vec<&str> = database.iter().flatten().map(|t| t.id()).collect();
                let ours: Vec<&str> = plan.territories.iter().map(|t| t.id).collect();
                assert_eq!(ids, ours, "+{}", part.code);
            }
        }
        assert_eq!(plans_for(1, None).count(), 2);
        assert_eq!(plans_for(1, Some("US")).count(), 2);
        assert_eq!(plans_for(1, Some("CA")).count(), 1);
        assert_eq!(plans_for(33, None).count(), 1);
    }

    /// Each DFA finds what the crate's regex finds: a match from the first
    /// digit (number types, leading digits) and where it ends (national
    /// prefix for parsing), over example numbers, their beginnings and
    /// random digits.
    #[test]
    fn every_dfa_matches_as_the_crates_regex() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut compared = 0;
        for part in CALLING_CODES {
            let plan = plans_for(part.code, None).last().unwrap();
            let theirs = plan.database().by_code(&part.code).unwrap();
            for (ours, theirs) in plan.territories.iter().zip(theirs) {
                let types = theirs.descriptors();
                let mut texts: Vec<String> = TYPES
                    .iter()
                    .filter_map(|kind| types.get(*kind).and_then(|d| d.example()))
                    .flat_map(|example| (0..=example.len()).map(|end| example[..end].to_owned()))
                    .collect();
                texts.extend((0..300).map(|_| {
                    let len = random() % 18;
                    (0..len)
                        .map(|_| char::from(b'0' + (random() % 10) as u8))
                        .collect()
                }));
                assert_eq!(ours.general.lengths, types.general().possible_length());
                assert_eq!(ours.local_lengths, types.general().possible_local_length());
                let mut pairs = vec![(ours.general.pattern, types.general().national_number())];
                for (kind, descriptor) in TYPES.iter().zip(&ours.types) {
                    let theirs = types.get(*kind).map(|d| d.national_number());
                    assert_eq!(
                        descriptor.is_some(),
                        theirs.is_some(),
                        "{} {kind:?}",
                        ours.id
                    );
                    let lengths = types.get(*kind).map(|d| d.possible_length());
                    assert_eq!(descriptor.as_ref().map(|d| d.lengths), lengths);
                    pairs.extend(descriptor.as_ref().map(|d| d.pattern).zip(theirs));
                }
                pairs.extend(ours.leading_digits.zip(theirs.leading_digits()));
                pairs.extend(
                    ours.national_prefix_for_parsing
                        .zip(theirs.national_prefix_for_parsing()),
                );
                assert_eq!(
                    ours.leading_digits.is_some(),
                    theirs.leading_digits().is_some()
                );
                let for_parsing = theirs.national_prefix_for_parsing().is_some();
                assert_eq!(ours.national_prefix_for_parsing.is_some(), for_parsing);
                assert_eq!(ours.national_prefix, theirs.national_prefix());
                let transforms = theirs.national_prefix_transform_rule().is_some();
                assert_eq!(ours.transforms_national_prefix, transforms);
                for (pattern, regex) in pairs {
                    for text in &texts {
                        let expected = regex.find(text).filter(|m| m.start() == 0).map(|m| m.end());
                        assert_eq!(pattern.match_end(text), expected, "{} {text:?}", ours.id);
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 500_000, "{compared}");
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
