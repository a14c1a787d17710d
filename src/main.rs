//! `ferroban`: one binary, dispatched by subcommand or by the name it is invoked as
//! (`fail2ban-regex` behaves like `ferroban regex`).

mod regex_tool;

use std::process::ExitCode;

const USAGE: &str = "usage: ferroban <command> [args]

commands:
  regex [OPTIONS] LOG FILTER [IGNOREREGEX]   test a filter against a log (fail2ban-regex)
  version                                    print the version

Run `ferroban regex --help` for the filter tester's options.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .map(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if invoked_as == "fail2ban-regex" {
        return regex_tool::main(&args[1..]);
    }
    match args.get(1).map(String::as_str) {
        Some("regex") => regex_tool::main(&args[2..]),
        Some("version" | "--version" | "-V") => {
            println!("ferroban {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("ferroban: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
