//! One attempt, one failure: ferroban's own sshd filter counts a client's
//! failures as Fail2ban's stock filter does. sshd writes several lines for one
//! attempt (pam_unix's "authentication failure", its own "Failed password", the
//! disconnect), and many connections interleave in a real log; a filter that
//! counts a line too many bans a user who mistyped a password twice.
//!
//! A generated log of interleaved sessions goes through ferroban's shipped filter
//! and through the stock one, run by the real fail2ban-regex; the failures per
//! address must be the same, in every mode and for every `publickey` setting.

use std::collections::BTreeMap;
use std::fmt::Write as _;

mod common;

use common::Xorshift;

/// Addresses the sessions come from: few enough that each has several sessions.
const CLIENTS: &[&str] = &[
    "192.0.2.1",
    "192.0.2.2",
    "192.0.2.3",
    "192.0.2.4",
    "192.0.2.5",
    "198.51.100.6",
    "198.51.100.7",
    "198.51.100.8",
    "203.0.113.9",
    "203.0.113.10",
    "2001:db8::11",
    "2001:db8::12",
];
const ACCOUNTS: &[&str] = &["root", "deploy", "git", "alice"];
const STRANGERS: &[&str] = &["admin", "oracle", "ubuntu", "test", "a b", ""];

/// The lines of one SSH connection, in the order sshd writes them (without the
/// syslog prefix).
fn session(rng: &mut Xorshift) -> Vec<String> {
    let addr = rng.pick(CLIENTS);
    let port = 1024 + rng.below(60000);
    let account = rng.pick(ACCOUNTS);
    let stranger = rng.pick(STRANGERS);
    let tries = 1 + rng.below(3);
    let pam = |user: &str| {
        let user = if user.is_empty() {
            String::new()
        } else {
            format!("  user={user}")
        };
        format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={addr}{user}")
    };
    let mut lines = Vec::new();
    if rng.below(3) == 0 {
        lines.push(format!(
            "Connection from {addr} port {port} on 192.0.2.250 port 22 rdomain \"\""
        ));
    }
    match rng.below(6) {
        // Wrong passwords of an account, then the client gives up or gets in.
        0 | 1 => {
            for _ in 0..tries {
                lines.push(pam(account));
                lines.push(format!(
                    "Failed password for {account} from {addr} port {port} ssh2"
                ));
            }
            if tries > 1 {
                lines.push(format!("PAM {} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={addr}  user={account}", tries - 1));
            }
            match rng.below(3) {
                0 => lines.push(format!(
                    "Connection closed by authenticating user {account} {addr} port {port} [preauth]"
                )),
                1 => {
                    lines.push(format!(
                        "Received disconnect from {addr} port {port}:11: Bye Bye [preauth]"
                    ));
                    lines.push(format!(
                        "Disconnected from authenticating user {account} {addr} port {port} [preauth]"
                    ));
                }
                _ => {
                    lines.push(format!(
                        "Accepted password for {account} from {addr} port {port} ssh2"
                    ));
                    lines.push(format!(
                        "pam_unix(sshd:session): session opened for user {account}(uid=1000) by (uid=0)"
                    ));
                }
            }
        }
        // An unknown user name.
        2 => {
            lines.push(format!("Invalid user {stranger} from {addr} port {port}"));
            for _ in 0..tries {
                lines.push("pam_unix(sshd:auth): check pass; user unknown".to_string());
                lines.push(pam(""));
                lines.push(format!(
                    "Failed password for invalid user {stranger} from {addr} port {port} ssh2"
                ));
            }
            lines.push(format!(
                "Connection closed by invalid user {stranger} {addr} port {port} [preauth]"
            ));
        }
        // Keys that sshd does not take (of an account or an unknown user), until
        // it gives up.
        3 => {
            let (who, closing) = if rng.below(2) == 0 {
                (account.to_string(), format!("authenticating user {account}"))
            } else {
                let who = format!("invalid user {stranger}");
                (who.clone(), who)
            };
            for key in 0..tries + 1 {
                lines.push(format!("Failed publickey for {who} from {addr} port {port} ssh2: ED25519 SHA256:a2V5bnVtYmVy{key}"));
            }
            if rng.below(2) == 0 {
                lines.push(format!("error: maximum authentication attempts exceeded for {who} from {addr} port {port} ssh2 [preauth]"));
                lines.push(format!("Disconnecting {closing} {addr} port {port}: Too many authentication failures [preauth]"));
            } else {
                lines.push(format!(
                    "Disconnecting: Too many authentication failures for {who} [preauth]"
                ));
                lines.push(format!("Connection closed by {addr} port {port} [preauth]"));
            }
        }
        // Keyboard-interactive through PAM.
        4 => {
            lines.push(pam(account));
            lines.push(format!(
                "Failed keyboard-interactive/pam for {account} from {addr} port {port} ssh2"
            ));
            lines.push(format!(
                "Connection reset by authenticating user {account} {addr} port {port} [preauth]"
            ));
        }
        // Scanners that never authenticate.
        _ => lines.push(match rng.below(5) {
            0 => format!("Did not receive identification string from {addr} port {port}"),
            1 => format!("banner exchange: Connection from {addr} port {port}: invalid format"),
            2 => format!("Unable to negotiate with {addr} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]"),
            3 => format!("Connection closed by {addr} port {port} [preauth]"),
            _ => format!("Received disconnect from {addr} port {port}:14: No supported authentication methods available [preauth]"),
        }),
    }
    lines
}

/// `sessions` connections, up to eight at a time, their lines interleaved as
/// sshd's processes write them, one a second, each with its process id.
fn interleaved_log(seed: u64, sessions: usize) -> String {
    let mut rng = Xorshift(seed);
    let mut open: Vec<(u32, std::collections::VecDeque<String>)> = Vec::new();
    let (mut started, mut pid, mut second) = (0, 1000u32, 0u32);
    let mut log = String::new();
    while started < sessions || !open.is_empty() {
        while open.len() < 8 && started < sessions {
            pid += 1 + rng.below(50) as u32;
            open.push((pid, session(&mut rng).into()));
            started += 1;
        }
        let i = rng.below(open.len() as u64) as usize;
        let line = open[i].1.pop_front().expect("a session has lines");
        let (h, m, s) = (10 + second / 3600, second / 60 % 60, second % 60);
        writeln!(
            log,
            "Jul  2 {h:02}:{m:02}:{s:02} web1 sshd[{}]: {line}",
            open[i].0
        )
        .expect("writing to a String");
        second += 1;
        if open[i].1.is_empty() {
            open.swap_remove(i);
        }
    }
    log
}

/// Failures per address.
fn per_address(hosts: Vec<String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for h in hosts {
        *counts.entry(h).or_insert(0) += 1;
    }
    counts
}

#[test]
fn interleaved_sessions_count_as_fail2ban_counts_them() {
    let dir = std::env::temp_dir().join(format!("ferroban-one-attempt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("auth.log");
    let log = interleaved_log(0x5eed_0f55d, 600);
    std::fs::write(&path, &log).unwrap();
    let pam_lines = log.matches("authentication failure; logname").count();
    assert!(
        pam_lines > 100,
        "the log has many attempts with a PAM line: {pam_lines}"
    );
    let variants = [
        "sshd[mode=normal]",
        "sshd[mode=ddos]",
        "sshd[mode=extra]",
        "sshd[mode=aggressive]",
        "sshd[publickey=invalid]",
        "sshd[publickey=any]",
        "sshd[publickey=ignore]",
    ];
    for filter in variants {
        let own = per_address(common::own_filter_hosts(
            env!("CARGO_BIN_EXE_ferroban"),
            filter,
            &path,
        ));
        let Some(stock) = common::stock_filter_hosts(filter, &path) else {
            break;
        };
        let stock = per_address(stock);
        assert!(
            stock.values().sum::<usize>() > 0,
            "{filter}: stock finds failures"
        );
        assert_eq!(
            own,
            stock,
            "{filter}: failures per address, ferroban (left) and Fail2ban (right); log in {}",
            path.display()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
