//! Splits libphonenumber's numbering plan (the metadata the `phonenumber`
//! crate ships) by country calling code, into a const table the functions
//! compile in. Loading the whole plan checks some 2,600 patterns: 88% of
//! a cold start's instructions. Split, a function decodes only the calling
//! codes it meets (see domain/numbering_plan.rs).
//!
//! It also compiles the patterns that parsing, validating and typing an
//! international number read (each type's national number, the leading
//! digits, the national prefix for parsing) into DFAs, serialized into one
//! blob. The `regex` crate compiled them on first use: ~20 M instructions
//! for +1 alone, at every cold start. Read back zero-copy, a DFA costs a
//! check of its bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata, loader};
use regex_automata::dfa::{StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_syntax::hir::{Hir, HirKind};

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
    let mut patterns = Patterns::default();
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
        let territories: Vec<String> = territories
            .iter()
            .map(|territory| patterns.territory(territory))
            .collect();
        writeln!(
            table,
            "    CallingCode {{ code: {code}, regions: &[{}], main: {main}, all: {all}, \
             territories: &[{}] }},",
            regions.join(", "),
            territories.join(", ")
        )
        .unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("patterns.bin"), &patterns.blob).unwrap();
    let ranges: Vec<String> = patterns.ranges.iter().map(|r| format!("{r:?}")).collect();
    writeln!(
        table,
        "/// Where each pattern's DFA is in patterns.bin ({} bytes).\n\
         static PATTERNS: [std::ops::Range<usize>; {}] = [{}];",
        patterns.blob.len(),
        ranges.len(),
        ranges.join(", ")
    )
    .unwrap();
    std::fs::write(out.join("calling_codes.rs"), table).unwrap();
}

/// The patterns compiled to DFAs, each once however many territories share
/// it.
#[derive(Default)]
struct Patterns {
    blob: Vec<u8>,
    ranges: Vec<std::ops::Range<usize>>,
    index: HashMap<String, usize>,
}

impl Patterns {
    /// A territory as numbering_plan.rs's `Territory`, in Rust.
    fn territory(&mut self, territory: &loader::Metadata) -> String {
        let mut descriptor = |descriptor: &Option<loader::Descriptor>| match descriptor {
            Some(descriptor) => format!(
                "Some(Descriptor {{ pattern: Pattern({}), lengths: &{:?} }})",
                self.pattern(descriptor.national_number.as_deref().unwrap()),
                descriptor.possible_length
            ),
            None => "None".into(),
        };
        // In the order `line_type` tries them (numbering_plan::TYPES).
        let types = [
            &territory.premium_rate,
            &territory.toll_free,
            &territory.shared_cost,
            &territory.voip,
            &territory.personal_number,
            &territory.pager,
            &territory.uan,
            &territory.voicemail,
            &territory.fixed_line,
            &territory.mobile,
        ]
        .map(&mut descriptor);
        let general = territory.general.as_ref().unwrap();
        let general = format!(
            "Descriptor {{ pattern: Pattern({}), lengths: &{:?} }}",
            self.pattern(general.national_number.as_deref().unwrap()),
            general.possible_length
        );
        let local_lengths = &territory.general.as_ref().unwrap().possible_local_length;
        let leading_digits = territory.leading_digits.as_deref().map(|p| self.pattern(p));
        let for_parsing = territory.national_prefix_for_parsing.as_deref();
        if let (Some(pattern), Some(_)) = (for_parsing, &territory.national_prefix_transform_rule) {
            check_transformed_prefix(pattern);
        }
        let for_parsing = for_parsing.map(|p| self.pattern(p));
        format!(
            "Territory {{ id: {:?}, general: {general}, local_lengths: &{local_lengths:?}, \
             types: [{}], leading_digits: {:?}, national_prefix: {:?}, \
             national_prefix_for_parsing: {:?}, transforms_national_prefix: {} }}",
            territory.id.as_deref().unwrap(),
            types.join(", "),
            Pattern(leading_digits),
            territory.national_prefix.as_deref(),
            Pattern(for_parsing),
            territory.national_prefix_transform_rule.is_some(),
        )
    }

    /// The index of the pattern's DFA: anchored (a match starts where the
    /// search does, as the crate's `find(..).start() == 0`), leftmost-first
    /// (the regex crate's match end), over bytes, with byte classes, sparse
    /// (no alignment needed, a third of the dense table's size), and with the
    /// regex crate's syntax as the crate compiles it (whitespace ignored).
    fn pattern(&mut self, pattern: &str) -> usize {
        if let Some(index) = self.index.get(pattern) {
            return *index;
        }
        let dfa = dense::Builder::new()
            .syntax(syntax_config())
            .thompson(thompson::Config::new().utf8(false))
            .configure(
                dense::Config::new()
                    .start_kind(StartKind::Anchored)
                    .byte_classes(true),
            )
            .build(pattern)
            .unwrap_or_else(|error| panic!("{pattern}: {error}"));
        let bytes = dfa.to_sparse().unwrap().to_bytes_little_endian();
        let start = self.blob.len();
        self.blob.extend_from_slice(&bytes);
        self.ranges.push(start..self.blob.len());
        self.index.insert(pattern.to_owned(), self.ranges.len() - 1);
        self.ranges.len() - 1
    }
}

/// Writes `Some(Pattern(index))` or `None`.
struct Pattern(Option<usize>);

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(index) => write!(f, "Some(Pattern({index}))"),
            None => f.write_str("None"),
        }
    }
}

/// Patterns as the crate compiles them (`ignore_whitespace`), over ASCII
/// bytes: the patterns are ASCII and `\d` is already `[0-9]`.
fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .ignore_whitespace(true)
}

/// Where a territory transforms its national prefix (`national_prefix_for_parsing`
/// and a transform rule with `$1`...), the crate applies the rule when the
/// pattern's last group took part in the match. A DFA has no groups: run
/// time applies the rule through the crate when the match is not empty, and
/// takes an empty match as one without the group. That holds when the last
/// group cannot match empty, which this checks.
fn check_transformed_prefix(pattern: &str) {
    fn groups<'a>(hir: &'a Hir, found: &mut Vec<(u32, &'a Hir)>) {
        match hir.kind() {
            HirKind::Capture(capture) => {
                found.push((capture.index, &capture.sub));
                groups(&capture.sub, found);
            }
            HirKind::Concat(subs) | HirKind::Alternation(subs) => {
                subs.iter().for_each(|sub| groups(sub, found));
            }
            HirKind::Repetition(repetition) => groups(&repetition.sub, found),
            _ => {}
        }
    }
    let hir = syntax::parse_with(pattern, &syntax_config()).unwrap();
    let mut found = Vec::new();
    groups(&hir, &mut found);
    let last = found.iter().max_by_key(|(index, _)| *index);
    let (_, last) = last.unwrap_or_else(|| panic!("{pattern}: a transform rule needs a group"));
    assert!(
        last.properties().minimum_len().is_some_and(|len| len > 0),
        "{pattern}: its last group can match empty"
    );
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
