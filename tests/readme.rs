//! The README's first screen, followed literally: the server command of its first
//! block and every command of its second-terminal block, run as written (with
//! `target/release/ferroban` standing for the binary under test), twice in a row.
//! Both runs must ban what the README says, and the demo must keep its state out of
//! the installed service's places.

use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::wait_for;

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The lines of the README's code block that follows the line containing `after`.
fn code_block_after(readme: &str, after: &str) -> Vec<String> {
    let start = readme.find(after).expect(after);
    readme[start..]
        .split("```")
        .nth(1)
        .expect("a code block")
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// The words after `prefix` on `line`, without a trailing comment.
fn words_after(line: &str, prefix: &str) -> Vec<String> {
    line.trim_start_matches(prefix)
        .split('#')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn run(args: &[String]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

#[test]
fn the_readme_demo_works_as_written_twice_in_a_row() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let server_line = code_block_after(&readme, "On a fresh Debian 12 machine")
        .into_iter()
        .find(|l| l.starts_with("cargo run --release -- server"))
        .expect("the server command");
    let server_args = words_after(&server_line, "cargo run --release --");
    let commands: Vec<Vec<String>> = code_block_after(&readme, "In a second terminal")
        .iter()
        .filter(|l| l.starts_with("target/release/ferroban "))
        .map(|l| words_after(l, "target/release/ferroban"))
        .collect();
    assert!(commands.len() >= 5, "{commands:?}");
    assert_eq!(
        commands.last().and_then(|c| c.last()).map(String::as_str),
        Some("stop"),
        "the block ends by stopping the server"
    );
    let client = |words: &[&str]| {
        let mut args = commands[0][..2].to_vec(); // -c examples/config
        args.extend(words.iter().map(|w| w.to_string()));
        run(&args)
    };
    for round in 1..=2 {
        // As root the example's nftables action is real: keep it in a network
        // namespace of its own, as every firewall test does.
        let mut server = if is_root() && Path::new("/usr/bin/unshare").exists() {
            let mut c = Command::new("unshare");
            c.arg("--net").arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        let mut child = server
            .args(&server_args)
            .current_dir(ROOT)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let banned = || String::from_utf8_lossy(&client(&["banned"]).stdout).into_owned();
        let both = wait_for(15, || {
            let b = banned();
            b.contains("203.0.113.10") && b.contains("192.0.2.66")
        });
        if !both {
            let _ = child.kill();
            let _ = child.wait();
            panic!("round {round}: not banned as the README says: {}", banned());
        }
        for (option, service) in [
            ("socket", "/run/ferroban"),
            ("pidfile", "/run/ferroban"),
            ("dbfile", "/var/lib/ferroban"),
        ] {
            let answer = String::from_utf8_lossy(&client(&["get", option]).stdout).into_owned();
            assert!(
                !answer.contains(service),
                "round {round}: {option}: {answer}"
            );
        }
        for words in &commands {
            let o = run(words);
            assert!(
                o.status.success(),
                "round {round}: ferroban {}: {}{}",
                words.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let exited = wait_for(15, || matches!(child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = child.kill();
        }
        let _ = child.wait();
        assert!(exited, "round {round}: the server did not stop");
    }
    // With no server, the client says which configuration it read and which
    // socket it tried.
    let o = client(&["status"]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        said.contains("cannot connect to ") && said.contains("configuration in examples/config"),
        "{said}"
    );
}
