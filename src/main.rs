//! `ferroban`: one binary, dispatched by subcommand or by the name it is invoked as
//! (`fail2ban-regex`, `fail2ban-server` and `fail2ban-client` behave like those
//! tools).
//!
//! The data path lives in the crates: ferroban-sources (files, journal) →
//! ferroban-filter (regexes, dates) → ferroban-jail (fail tracker, bans) →
//! ferroban-actions; ferroban-config reads the configuration and ferroban-db keeps
//! what must survive. Here: the server around them (`server`), the client (`client`,
//! which talks to a server through `socket_client`) and the filter tester
//! (`regex_tool`).

mod audit;
mod client;
mod fail2ban_cmdline;
mod fleet_cli;
mod import;
mod procfs;
mod regex_tool;
mod restart;
mod server;
mod socket_client;

use std::process::ExitCode;

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// `ferroban server` and `fail2ban-server`: Fail2ban's server grammar (`-xf start`,
/// `-t`, `-d`, `--str2sec`, …); as with Fail2ban, any command but `start` given to
/// `fail2ban-server` goes to the running server like a client's.
fn run_server(args: &[String], fail2ban_server: bool) -> ExitCode {
    let tool = if fail2ban_server {
        "fail2ban-server"
    } else {
        "server"
    };
    let parsed = match fail2ban_cmdline::parse(args, true) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ERROR: {e:#} (see {} --help)", tool_name(tool));
            return exit(255);
        }
    };
    if let Some(what) = &parsed.immediate {
        return match fail2ban_cmdline::immediate_text(what, tool) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ERROR: {e:#}");
                exit(255)
            }
        };
    }
    let starts = parsed.words.is_empty() || parsed.words == ["start"];
    if !starts {
        if fail2ban_server {
            return client_result(client::run_fail2ban_client(args), 255);
        }
        eprintln!(
            "ERROR: unexpected {:?}: ferroban server takes options and at most `start`",
            parsed.words.join(" ")
        );
        return exit(255);
    }
    let options = server::ServerOptions::from_args(&parsed, fail2ban_server);
    if parsed.test || parsed.dump {
        // As Fail2ban: `-t start` tests, then starts; `-d` only prints.
        let code =
            client::test_configuration(&options.confdir, parsed.test, parsed.dump, fail2ban_server);
        if code != 0 || parsed.words.is_empty() || !parsed.test {
            return exit(code);
        }
    }
    if !options.foreground {
        let started = options.settings().and_then(|s| {
            let mut server = client::spawn_detached_server(&options.foreground_args())?;
            client::await_started_server(&mut server, &s.socket, &options.confdir)
        });
        return match started {
            Ok(()) => {
                // as fail2ban-server -b says it
                println!("Server ready");
                ExitCode::SUCCESS
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

/// How a user calls `tool`: `fail2ban-server`, or `ferroban server`.
fn tool_name(tool: &str) -> String {
    if tool.starts_with("fail2ban-") {
        tool.to_string()
    } else {
        format!("ferroban {tool}")
    }
}

/// The exit code of a client: `code` as the command ends, or `failure` after an
/// error (255 for Fail2ban's client, as it exits; 1 for ferroban's own, as a
/// refused command exits).
fn client_result(r: anyhow::Result<i32>, failure: i32) -> ExitCode {
    match r {
        Ok(code) => exit(code),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            exit(failure)
        }
    }
}

/// A tool whose reader stops reading (`ferroban regex … | head`, `ferroban banned |
/// grep -q ADDR`) ends quietly, as `cat` or `grep` do: the default action of
/// SIGPIPE, which Rust's runtime ignores (a write then fails, and the tool reported
/// "Broken pipe", or panicked in `println!`). Not the server, which must outlive any
/// client that hangs up; the client's own writes to the control socket never raise
/// SIGPIPE (see `socket_client`), so a server that hangs up is still reported.
fn end_quietly_on_closed_pipe() {
    // SAFETY: called first in `main`, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
    let runs_server =
        invoked_as == "fail2ban-server" || rest.first().is_some_and(|a| a == "server");
    if !runs_server {
        end_quietly_on_closed_pipe();
    }
    match invoked_as.as_str() {
        "fail2ban-regex" => return regex_tool::main(rest, "fail2ban-regex"),
        "fail2ban-server" => return run_server(rest, true),
        "fail2ban-client" => return client_result(client::run_fail2ban_client(rest), 255),
        _ => {}
    }
    // Client options (`-c DIR`, `-s SOCKET`, `--json`…) may come before the
    // subcommand: `ferroban -c DIR restart --help` asks for help, and must not restart.
    let at = client::subcommand_position(rest);
    let (options, after) = match at {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let with_options = || [options, after].concat();
    let asks_help = after.iter().any(|a| a == "-h" || a == "--help");
    match at.map(|i| rest[i].as_str()) {
        Some(sub) if asks_help && sub != "regex" && ferroban_cli::is_subcommand(sub) => {
            print!("{}", ferroban_cli::help(Some(sub)));
            ExitCode::SUCCESS
        }
        // regex prints its own help, whatever client options came before
        Some("regex") if asks_help => regex_tool::main(after, "regex"),
        Some("regex") => regex_tool::main(&with_options(), "regex"),
        Some("audit") if options.is_empty() => audit::main(after),
        Some("server") => run_server(&with_options(), false),
        Some("version" | "--version" | "-V") if options.is_empty() => {
            println!("ferroban {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None if options.is_empty() => {
            print!("{}", client::usage());
            ExitCode::SUCCESS
        }
        _ => client_result(client::run_ferroban(rest), 1),
    }
}
