//! `ferroban`: one binary, dispatched by subcommand or by the name it is invoked as
//! (`fail2ban-regex`, `fail2ban-server` and `fail2ban-client` behave like those
//! tools).
//!
//! The data path lives in the crates: ferroban-sources (files, journal) →
//! ferroban-filter (regexes, dates) → ferroban-jail (fail tracker, bans) →
//! ferroban-actions; ferroban-config reads the configuration and ferroban-db keeps
//! what must survive. Here: the server around them (`server`), the client (`client`)
//! and the filter tester (`regex_tool`).

mod client;
mod fleet_cli;
mod import;
mod regex_tool;
mod server;

use std::process::ExitCode;

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn run_server(args: &[String], fail2ban_server: bool) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", server::options::server_usage());
        return ExitCode::SUCCESS;
    }
    let options = match server::ServerOptions::parse(args, fail2ban_server) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            return exit(255);
        }
    };
    if !options.foreground {
        let forwarded: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let started = options
            .settings()
            .and_then(|s| client::spawn_detached_server(&forwarded).map(|_| s.socket));
        return match started {
            Ok(socket) => {
                for _ in 0..600 {
                    if server::control::request(&socket, &["ping".to_string()]).is_ok() {
                        return ExitCode::SUCCESS;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                eprintln!(
                    "ERROR: the server did not answer on {} within 30 s",
                    socket.display()
                );
                exit(255)
            }
            Err(e) => {
                eprintln!("ERROR: {e:#}");
                exit(255)
            }
        };
    }
    match server::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            exit(255)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let rest = args.get(1..).unwrap_or_default();
    let client_result = |r: anyhow::Result<i32>| match r {
        Ok(code) => exit(code),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            exit(255)
        }
    };
    match invoked_as.as_str() {
        "fail2ban-regex" => return regex_tool::main(rest),
        "fail2ban-server" => return run_server(rest, true),
        "fail2ban-client" => return client_result(client::run_fail2ban_client(rest)),
        _ => {}
    }
    let asks_help = rest.iter().skip(1).any(|a| a == "-h" || a == "--help");
    match rest.first().map(String::as_str) {
        Some(sub) if asks_help && sub != "regex" && ferroban_cli::is_subcommand(sub) => {
            print!("{}", ferroban_cli::help(Some(sub)));
            ExitCode::SUCCESS
        }
        Some("regex") => regex_tool::main(&rest[1..]),
        Some("server") => run_server(&rest[1..], false),
        Some("version" | "--version" | "-V") => {
            println!("ferroban {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None => {
            print!("{}", client::usage());
            ExitCode::SUCCESS
        }
        Some(_) => client_result(client::run_ferroban(rest)),
    }
}
