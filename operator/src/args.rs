//! The command line: the usage text, the commands and their arguments, and
//! `parse`, which reads them (and refuses a bad line with a reason).

use phone_verification::domain::{PhoneNumber, Scope};
use phone_verification::http::verify_v2::is_service_sid;

pub const USAGE: &str = "\
usage: phone-verification-admin [--json] COMMAND

commands:
  show +14155550123        a number's state: status, code age, attempts, failures,
                           lock, cooldown, sends against their limits
  unlock +14155550123      clear the number's lock (its consecutive wrong codes)
    --service VA...        show or unlock the number in another Verify service of
                           the stack (VERIFY_SERVICES): each keeps its own state
  budgets [CC ...]         this hour's global and country budgets; without
                           countries, every country with sends this hour (a Scan)
  restrictions             fraud protection's restrictions, in force and lifted
                           within two days, with this hour's traffic (a Scan)
  lift prefix +1312555     lift a prefix's restriction now
  lift country US          lift a country's restriction now

--json prints one JSON object. Settings are read as the functions read them:
VERIFICATIONS_TABLE, SETTINGS and the other variables from the environment,
the keys from it or from Parameter Store (<NAME>_PARAMETER), AWS credentials
and region as the AWS CLI finds them. Exit code 0, or 1 with a message.";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Show(Number),
    Unlock(Number),
    Budgets(Vec<String>),
    Restrictions,
    Lift(Scope),
    Help,
}

/// A number, in the stack's own service or in another Verify service
/// (`--service`), which keeps its own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub phone: PhoneNumber,
    pub service: Option<String>,
}

/// A command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    pub json: bool,
}

/// Reads a command line (without the program's name). `--json` may stand
/// anywhere.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let json = args.iter().any(|arg| arg == "--json");
    let mut words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| *arg != "--json")
        .collect();
    let service = match words.iter().position(|word| *word == "--service") {
        Some(at) => {
            let sid = words.get(at + 1).copied().unwrap_or_default();
            if !is_service_sid(sid) {
                return Err("--service takes a Verify service SID: VA and 32 hex digits".into());
            }
            words.drain(at..at + 2);
            Some(sid.to_owned())
        }
        None => None,
    };
    if let Some(option) = words.iter().find(|word| {
        word.starts_with("--")
            || (word.starts_with('-') && !word[1..].starts_with(char::is_numeric))
    }) {
        return match *option {
            "-h" | "--help" => Ok(Invocation {
                command: Command::Help,
                json,
            }),
            other => Err(format!("unknown option {other}")),
        };
    }
    let number = |input: Option<&&str>| -> Result<Number, String> {
        let input = input.ok_or("give the phone number, e.g. +14155550123")?;
        let phone = PhoneNumber::parse(input, None)
            .map_err(|error| format!("not a phone number in international format: {error}"))?;
        Ok(Number {
            phone,
            service: service.clone(),
        })
    };
    let no_more = |rest: &[&str]| match rest {
        [] => Ok(()),
        [extra, ..] => Err(format!("unexpected argument {extra}")),
    };
    let command = match words.as_slice() {
        [] => return Err("give a command".into()),
        ["help"] => Command::Help,
        ["show", rest @ ..] => {
            let number = number(rest.first())?;
            no_more(rest.get(1..).unwrap_or_default())?;
            Command::Show(number)
        }
        ["unlock", rest @ ..] => {
            let number = number(rest.first())?;
            no_more(rest.get(1..).unwrap_or_default())?;
            Command::Unlock(number)
        }
        _ if service.is_some() => return Err("--service goes with show or unlock".into()),
        ["budgets", countries @ ..] => Command::Budgets(
            countries
                .iter()
                .map(|code| country(code))
                .collect::<Result<_, _>>()?,
        ),
        ["restrictions", rest @ ..] => {
            no_more(rest)?;
            Command::Restrictions
        }
        ["lift", "prefix", prefix, rest @ ..] => {
            no_more(rest)?;
            Command::Lift(Scope::Prefix(self::prefix(prefix)?))
        }
        ["lift", "country", code, rest @ ..] => {
            no_more(rest)?;
            Command::Lift(Scope::Country(country(code)?))
        }
        ["lift", ..] => {
            return Err("lift what: lift prefix +1312555, or lift country US".into());
        }
        [other, ..] => return Err(format!("unknown command {other}")),
    };
    Ok(Invocation { command, json })
}

/// `us` -> `US`; `001`: the numbers of no country.
fn country(code: &str) -> Result<String, String> {
    let code = code.trim().to_ascii_uppercase();
    let iso = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
    (iso || code == "001")
        .then_some(code)
        .ok_or_else(|| "a country is an ISO 3166 code such as US (001: no country)".into())
}

/// `+1312555` as fraud protection names prefixes: `+` and digits.
fn prefix(text: &str) -> Result<String, String> {
    let digits = text.trim().strip_prefix('+').unwrap_or_default();
    (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
        .ok_or_else(|| "a prefix is + and its digits, country code first: +1312555".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_parse_with_json_anywhere() {
        let show = parse(&args("show +14155550123 --json")).unwrap();
        assert!(show.json);
        let phone = PhoneNumber::parse("+14155550123", None).unwrap();
        assert_eq!(
            show.command,
            Command::Show(Number {
                phone: phone.clone(),
                service: None
            })
        );
        let sid = "VAfedcba9876543210fedcba9876543210";
        assert_eq!(
            parse(&args(&format!("unlock --service {sid} +14155550123")))
                .unwrap()
                .command,
            Command::Unlock(Number {
                phone,
                service: Some(sid.into())
            })
        );
        assert_eq!(
            parse(&args("--json budgets us fr")).unwrap().command,
            Command::Budgets(vec!["US".into(), "FR".into()])
        );
        assert_eq!(
            parse(&args("lift prefix +1312555")).unwrap().command,
            Command::Lift(Scope::Prefix("+1312555".into()))
        );
        assert_eq!(
            parse(&args("lift country ca")).unwrap().command,
            Command::Lift(Scope::Country("CA".into()))
        );
        assert_eq!(parse(&args("--help")).unwrap().command, Command::Help);
        assert_eq!(
            parse(&args("restrictions")).unwrap().command,
            Command::Restrictions
        );
    }

    #[test]
    fn bad_command_lines_are_refused_with_a_reason() {
        for (line, reason) in [
            ("", "give a command"),
            ("show", "give the phone number"),
            ("show 4155550123", "international format"),
            ("show +14155550123 extra", "unexpected argument extra"),
            ("unlock +1", "not a phone number"),
            ("budgets USA", "ISO 3166"),
            ("lift", "lift what"),
            ("lift prefix 1312555", "a prefix is +"),
            ("lift country +1", "ISO 3166"),
            ("frobnicate", "unknown command frobnicate"),
            ("show --verbose +14155550123", "unknown option --verbose"),
            ("show +14155550123 --service VA12", "VA and 32 hex digits"),
            (
                "budgets --service VAfedcba9876543210fedcba9876543210",
                "--service goes with show or unlock",
            ),
        ] {
            let error = parse(&args(line)).unwrap_err();
            assert!(error.contains(reason), "{line:?}: {error}");
        }
    }
}
