//! `phone-verification-admin`: an operator's look into a deployed stack's
//! table, and the two fixes an operator makes by hand (docs/operations.md).
//!
//! - `show +14155550123`: the number's state (status, code age, attempts,
//!   failures, lock, cooldown, sends against their limits);
//! - `unlock +14155550123`: clears the number's lock;
//! - both with `--service VA…` for a number in another Verify service
//!   (`VERIFY_SERVICES`), which keeps its own state;
//! - `budgets [CC ...]`: this hour's global and country budgets;
//! - `restrictions`: fraud protection's restrictions, with their traffic;
//! - `lift prefix +1312555`, `lift country US`: lifts a restriction now.
//!
//! It reads the stack's settings exactly as the functions do (environment,
//! `SETTINGS`, the keys from Parameter Store) and finds a number by its
//! pseudonym, as they do. The reading and writing is the DynamoDB adapter's
//! (`shared/src/adapters/dynamodb/operations.rs`); this crate parses the
//! arguments and formats the answers, as aligned text or, with `--json`, one
//! JSON object. It never prints a code, a code's hash, a key, a pseudonym or
//! any number but the one it was given.
//!
//! The modules: `args` (the usage, the commands, `parse`), `admin` (`Admin`:
//! the table and configuration; finding a number's item), one module per
//! command (`show`, `unlock`, `budgets`, `restrictions`, `lift`), and `output`
//! (the answer, failures, text formatting) which the commands share. This file
//! runs a command line: `main` (the binary's), `run` and `execute`.

mod admin;
mod args;
mod budgets;
mod lift;
mod output;
mod restrictions;
mod show;
mod unlock;

use phone_verification::adapters::clock::SystemClock;
use phone_verification::domain::Timestamp;
use phone_verification::ports::Clock;

pub use crate::admin::Admin;
pub use crate::args::{Command, Invocation, Number, USAGE, parse};
use crate::output::{Answer, failure, pretty};

/// The binary: parses `args` (without the program's name), reads the
/// configuration (not for a usage error or `help`), runs the command now.
pub async fn main(args: &[String]) -> (i32, String) {
    let invocation = match parse(args) {
        Ok(invocation) => invocation,
        Err(error) => return usage_error(&error, args),
    };
    if invocation.command == Command::Help {
        return (0, USAGE.into());
    }
    match Admin::from_environment().await {
        Ok(admin) => execute(&invocation, &admin, SystemClock.now()).await,
        Err(error) => failure(invocation.json, &error),
    }
}

/// Parses and runs `args` against `admin` at `now`: the exit code (0 or 1)
/// and what to print (stdout on 0, stderr on 1).
pub async fn run(args: &[String], admin: &Admin, now: Timestamp) -> (i32, String) {
    match parse(args) {
        Ok(invocation) => execute(&invocation, admin, now).await,
        Err(error) => usage_error(&error, args),
    }
}

fn usage_error(error: &str, args: &[String]) -> (i32, String) {
    let json = args.iter().any(|arg| arg == "--json");
    match json {
        true => failure(true, error),
        false => (1, format!("error: {error}\n\n{USAGE}")),
    }
}

/// Runs a parsed command.
pub async fn execute(invocation: &Invocation, admin: &Admin, now: Timestamp) -> (i32, String) {
    let json = invocation.json;
    let answer = match &invocation.command {
        Command::Help => return (0, USAGE.into()),
        Command::Show(number) => show::show(admin, number, now).await,
        Command::Unlock(number) => unlock::unlock(admin, number, now).await,
        Command::Budgets(countries) => budgets::budgets(admin, countries, now).await,
        Command::Restrictions => restrictions::restrictions(admin, now).await,
        Command::Lift(scope) => lift::lift(admin, scope, now).await,
    };
    match answer {
        Ok(Answer { text, json: value }) => match json {
            true => (0, pretty(&value)),
            false => (0, text),
        },
        Err(error) => failure(json, &error),
    }
}
