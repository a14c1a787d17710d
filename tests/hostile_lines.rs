//! No give-ups on hostile lines: lines of 32,000 characters and more, with long
//! client-chosen text where each look-ahead of the guide's stock filters looks
//! (sshd's user names and algorithm names, postfix's commands and disconnect
//! statistics, recidive's jail names, apache-auth's user and module names), give
//! the same failures per address with ferroban (Fail2ban's stock filters, on the
//! linear engine) as with the real `fail2ban-regex`, run here, and ferroban gives
//! no search up.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");

/// Seconds one `fail2ban-regex` run may take (it takes about one on these lines).
const FAIL2BAN_REGEX_LIMIT: &str = "300";

/// Each filter (with its modes) and its hostile lines; every line is at least
/// 32,000 characters long. Addresses under 192.0.2.100 fail, the others must not.
fn cases() -> Vec<(&'static str, Vec<String>)> {
    let ssh = "Nov 26 13:03:29 srv sshd[45]:";
    let smtp = "Feb 10 13:26:34 srv postfix/smtpd[123]:";
    let f2b = "2026-11-29 12:00:00,123 fail2ban.actions        [123]: NOTICE  ";
    let web = "[Thu Jul 11 01:21:43 2013]";
    let sshd = vec![
        format!(
            "{ssh} Failed password for invalid user {} from 192.0.2.1 port 4711 ssh2",
            ["ab"; 10_700].join(" ")
        ),
        format!(
            "{ssh} Unable to negotiate with 192.0.2.2 port 55419: no matching {} found. Their offer: none [preauth]",
            "c".repeat(32_000)
        ),
        format!(
            "{ssh} Unable to negotiate with 192.0.2.3 port 55419: no matching {} {} {} found. Their offer: none",
            "a".repeat(11_000),
            "b".repeat(11_000),
            "found".repeat(2_200)
        ),
        // no failure; a back-tracker tries every length of both words first (and
        // gave this line up before the rewrite)
        format!(
            "{ssh} no matching {} {} found found:",
            "a".repeat(16_000),
            "b".repeat(16_000)
        ),
    ];
    let postfix = vec![
        format!(
            "{smtp} disconnect from unknown[192.0.2.4] ehlo=1{} auth=0/1 quit=1 commands=2/3",
            " x=1".repeat(8_000)
        ),
        format!(
            "{smtp} lost connection after D{} from spammer.example.com[192.0.2.5]",
            "A".repeat(32_000)
        ),
        format!(
            "{smtp} disconnect from unknown[192.0.2.108] ehlo=1{} auth=1/1 quit=1 commands=2/3",
            " x=1".repeat(8_000)
        ),
        format!(
            "{smtp} lost connection after DATA from unknown[192.0.2.109] {}",
            "z".repeat(32_000)
        ),
    ];
    let recidive = vec![
        format!("{f2b}[{}] Ban 192.0.2.6", "j".repeat(32_000)),
        format!("{f2b}[recidive{}] Ban 192.0.2.7", "x".repeat(32_000)),
        format!("{f2b}[recidive] {}] Ban 192.0.2.110", "] ".repeat(16_000)),
    ];
    let apache_auth = vec![
        format!(
            "{web} [error] [client 192.0.2.8] user {}not found: /",
            "u v ".repeat(8_000)
        ),
        format!(
            "{web} [{}:error] [pid 1] [client 192.0.2.9] user x not found: /",
            "m".repeat(32_000)
        ),
        format!(
            "{web} [error] [client 192.0.2.111] user `{} not found: /",
            "w".repeat(32_000)
        ),
        format!(
            "{web} [evasive20:error] [client 192.0.2.112] user y not found: /{}",
            "z".repeat(32_000)
        ),
    ];
    vec![
        ("sshd[mode=normal]", sshd.clone()),
        ("sshd[mode=extra]", sshd.clone()),
        ("sshd[mode=aggressive]", sshd),
        ("postfix[mode=ddos]", postfix.clone()),
        ("postfix[mode=aggressive]", postfix),
        ("recidive", recidive),
        ("apache-auth", apache_auth),
    ]
}

/// Failures per address.
fn counts(hosts: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for host in hosts {
        *counts.entry(host.trim().to_string()).or_default() += 1;
    }
    counts
}

/// The addresses the real fail2ban-regex finds, one per failure, in bounded time;
/// `None` when it is not installed.
fn fail2ban_regex(log: &std::path::Path, filter: &str) -> Option<Vec<String>> {
    let out = Command::new("timeout")
        .args([
            FAIL2BAN_REGEX_LIMIT,
            "fail2ban-regex",
            "-o",
            "<ip>",
            "-c",
            "/etc/fail2ban",
        ])
        .arg(log)
        .arg(filter)
        .output()
        .ok()?;
    if out.status.code() == Some(127) {
        return None;
    }
    assert!(
        out.status.success(),
        "fail2ban-regex {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn hostile_lines_count_as_fail2ban_counts_them() {
    if !common::have("fail2ban-regex") || !std::path::Path::new("/etc/fail2ban/filter.d").is_dir() {
        println!("SKIPPED: fail2ban-regex and Fail2ban's filters are not installed (apt-get install fail2ban)");
        return;
    }
    let scratch = common::Scratch::new("ferroban-hostile-lines");
    for (i, (filter, lines)) in cases().into_iter().enumerate() {
        assert!(
            lines.iter().all(|l| l.len() >= 32_000),
            "{filter}: long lines"
        );
        let log = scratch.0.join(format!("{i}.log"));
        std::fs::write(&log, lines.join("\n") + "\n").unwrap();
        let Some(stock) = fail2ban_regex(&log, filter) else {
            println!("SKIPPED: fail2ban-regex did not run");
            return;
        };
        let (own, stderr) = common::ferroban_regex_report(
            BIN,
            [
                "-c".as_ref(),
                "/etc/fail2ban".as_ref(),
                log.as_os_str(),
                filter.as_ref(),
            ],
        );
        assert!(!stderr.contains("given up"), "{filter}: {stderr}");
        let stock = counts(&stock);
        assert!(!stock.is_empty(), "{filter}: Fail2ban finds failures");
        assert_eq!(counts(&own), stock, "{filter}: failures per address");
    }
}
