//! `phone-verification-admin`: see the library (`operator/src/lib.rs`) and
//! docs/operations.md.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (code, output) = operator::main(&args).await;
    match code {
        0 => println!("{output}"),
        _ => eprintln!("{output}"),
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
