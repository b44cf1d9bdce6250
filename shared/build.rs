//! Splits libphonenumber's numbering plan (the metadata the `phonenumber`
//! crate ships) by country calling code, into a const table the functions
//! compile in. Loading the whole plan decodes and checks some 8,000
//! patterns, about 60 ms of CPU at every cold start; split, a function
//! decodes only the calling codes it meets (see domain/numbering_plan.rs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use phonenumber::metadata::loader;

fn main() {
    let xml = phonenumber_dir().join("assets/PhoneNumberMetadata.xml");
    println!("cargo:rerun-if-changed={}", xml.display());
    let file = std::fs::File::open(&xml).expect("the phonenumber crate's metadata");
    let plan = loader::load(std::io::BufReader::new(file)).expect("valid numbering plan");

    let mut by_code: BTreeMap<u16, Vec<loader::Metadata>> = BTreeMap::new();
    for mut territory in plan {
        strip_what_parsing_never_reads(&mut territory);
        match_ascii_digits_only(&mut territory);
        let code = territory
            .country_code
            .expect("every territory has a calling code");
        by_code.entry(code).or_default().push(territory);
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
        let main = match territories.iter().position(|t| t.main_country_for_code) {
            Some(index) if territories.len() > 1 => write(
                format!("calling_code_{code}_main.bin"),
                std::slice::from_ref(&territories[index]),
            ),
            _ => "&[]".into(),
        };
        let regions: Vec<String> = territories
            .iter()
            .filter_map(|t| t.id.clone())
            .map(|id| format!("{id:?}"))
            .collect();
        let main_region = territories
            .iter()
            .find(|t| t.main_country_for_code)
            .or(territories.first())
            .and_then(|t| t.id.clone())
            .unwrap_or_default();
        writeln!(
            table,
            "    CallingCode {{ code: {code}, regions: &[{}], main_region: {main_region:?}, \
             main: {main}, all: {all} }},",
            regions.join(", ")
        )
        .unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("calling_codes.rs"), table).unwrap();
}

/// Parsing, validating and typing a number reads the territory's codes,
/// prefixes and number-type patterns; formatting rules and the short-code
/// patterns are never read, yet each of their patterns would be checked at
/// every cold start.
fn strip_what_parsing_never_reads(territory: &mut loader::Metadata) {
    territory.formats.clear();
    territory.international_formats.clear();
    for unused in [
        &mut territory.emergency,
        &mut territory.short_code,
        &mut territory.standard_rate,
        &mut territory.carrier,
        &mut territory.no_international,
    ] {
        *unused = None;
    }
}

/// `\d` is every Unicode digit to the regex crate, and compiling those
/// classes was most of the cost of a number's first check. The functions
/// only ever parse ASCII digits (PhoneNumber::parse refuses the rest), so
/// `[0-9]` matches the same. (No pattern has `\d` inside a class.)
fn match_ascii_digits_only(territory: &mut loader::Metadata) {
    let ascii = |pattern: &mut Option<String>| {
        if let Some(pattern) = pattern {
            *pattern = pattern.replace(r"\d", "[0-9]");
        }
    };
    ascii(&mut territory.leading_digits);
    ascii(&mut territory.international_prefix);
    ascii(&mut territory.national_prefix_for_parsing);
    for descriptor in [
        &mut territory.general,
        &mut territory.fixed_line,
        &mut territory.mobile,
        &mut territory.toll_free,
        &mut territory.premium_rate,
        &mut territory.shared_cost,
        &mut territory.personal_number,
        &mut territory.voip,
        &mut territory.pager,
        &mut territory.uan,
        &mut territory.voicemail,
    ]
    .into_iter()
    .flatten()
    {
        ascii(&mut descriptor.national_number);
    }
}

/// Where cargo unpacked the `phonenumber` crate (a registry, a vendor
/// directory or git): `cargo metadata` knows.
fn phonenumber_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("Cargo.toml");
    // Only this target's packages: all of them are downloaded by now.
    let target = std::env::var("TARGET").unwrap();
    let output = Command::new(cargo)
        .args(["metadata", "--format-version=1", "--offline"])
        .args(["--filter-platform", &target, "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"] == "phonenumber")
        .expect("phonenumber is a dependency");
    PathBuf::from(package["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf()
}
