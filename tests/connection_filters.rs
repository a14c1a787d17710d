//! Filters that join the lines of one connection by its id (mongodb-auth,
//! stunnel, slapd) count per address what Fail2ban counts. Generated logs of
//! interleaved connections, some failing and some not, go through
//! `ferroban regex` with ferroban's filter and through the real
//! fail2ban-regex: with the stock filter where Fail2ban ships one that reads
//! the format, otherwise with the same filter file. A real stunnel writes the
//! last log.

mod common;

use common::{free_port, Xorshift};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
const CLIENTS: [&str; 5] = [
    "192.0.2.1",
    "192.0.2.2",
    "198.51.100.3",
    "203.0.113.4",
    "2001:db8::5",
];

/// Failures per address.
type Counts = BTreeMap<String, usize>;

fn count(addresses: Vec<String>) -> Counts {
    let mut counts = Counts::new();
    for a in addresses {
        *counts.entry(a).or_default() += 1;
    }
    counts
}

fn ferroban_counts(log: &Path, filter: &str) -> Counts {
    count(common::ferroban_regex_hosts(
        env!("CARGO_BIN_EXE_ferroban"),
        [
            "-c".as_ref(),
            CONFIG.as_ref(),
            log.as_os_str(),
            filter.as_ref(),
        ],
    ))
}

/// Failures per address from the real fail2ban-regex with the filter file
/// `fail2ban_filter` and from ferroban with its filter `own_filter`; None (and
/// SKIPPED) without fail2ban-regex. The log is removed.
fn both_counts(log: &Path, fail2ban_filter: &str, own_filter: &str) -> Option<(Counts, Counts)> {
    let fail2ban =
        common::fail2ban_regex_ips([log.as_os_str(), fail2ban_filter.as_ref()]).map(count);
    let own = ferroban_counts(log, own_filter);
    std::fs::remove_dir_all(log.parent().unwrap()).ok();
    if fail2ban.is_none() {
        eprintln!("SKIPPED: fail2ban-regex is not installed (apt-get install fail2ban)");
    }
    Some((fail2ban?, own))
}

fn write_log(name: &str, lines: &[String]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferroban-conn-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("generated.log");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// One connection of a generated log: its id and the messages still to be
/// written for it (the last one ends it).
struct Connection {
    id: u64,
    messages: Vec<String>,
}

/// Interleave `connections` in order, `max_open` at a time, writing one message
/// of each open connection in turn; each line stamped by
/// `stamp(second, id, message)`.
fn interleave(
    connections: Vec<Connection>,
    max_open: usize,
    stamp: impl Fn(u64, u64, &str) -> String,
) -> Vec<String> {
    let mut waiting = connections.into_iter();
    let mut open: Vec<Connection> = Vec::new();
    let mut lines = Vec::new();
    let mut second = 0;
    loop {
        while open.len() < max_open {
            match waiting.next() {
                Some(c) => open.push(c),
                None => break,
            }
        }
        if open.is_empty() {
            return lines;
        }
        for c in &mut open {
            let message = c.messages.remove(0);
            lines.push(stamp(second, c.id, &message));
            second += 1;
        }
        open.retain(|c| !c.messages.is_empty());
    }
}

/// MongoDB 2.6 connections (ids never reused, as mongod numbers them), about
/// half failing one to three times, and the failed connections per client.
fn mongodb_connections(rng: &mut Xorshift) -> (Vec<Connection>, Counts) {
    let mut failed = Counts::new();
    let connections = (0..300)
        .map(|id| {
            let client = CLIENTS[rng.below(CLIENTS.len() as u64) as usize];
            let failures = rng.below(2) * (1 + rng.below(3));
            let mut messages: Vec<String> = (0..failures)
                .map(|_| "Failed to authenticate root@admin with mechanism MONGODB-CR: AuthenticationFailed UserNotFound Could not find user root@admin".to_string())
                .collect();
            if failures > 0 {
                *failed.entry(client.to_string()).or_default() += 1;
            }
            messages.push(" authenticate db: admin { authenticate: 1 }".to_string());
            // mongod writes an IPv6 client in brackets before the port.
            let address = if client.contains(':') {
                format!("[{client}]")
            } else {
                client.to_string()
            };
            messages.push(format!(
                "end connection {address}:{} (0 connections now open)",
                40000 + id
            ));
            Connection { id, messages }
        })
        .collect();
    (connections, failed)
}

/// "HH:MM:SS" for the `second`-th second of a generated log's day.
fn clock(second: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        second / 3600 % 24,
        second / 60 % 60,
        second % 60
    )
}

fn mongodb_line(second: u64, id: u64, message: &str) -> String {
    format!("2016-11-20T{}.000+0100 [conn{id}] {message}", clock(second))
}

/// Two connections at a time: every failure is within the ten lines Fail2ban's
/// stock filter looks back, so stock counts every failed connection once.
#[test]
fn mongodb_counts_a_failed_connection_once_as_fail2ban_does() {
    let (connections, failed) = mongodb_connections(&mut Xorshift(0x6d6f6e676f));
    let log = write_log("mongodb", &interleave(connections, 2, mongodb_line));
    let stock_filter = "/etc/fail2ban/filter.d/mongodb-auth.conf";
    let Some((stock, own)) = both_counts(&log, stock_filter, "mongodb-auth") else {
        return;
    };
    assert_eq!(stock, failed);
    assert_eq!(own, failed);
}

/// Eight connections at a time: a failure may be further back than the ten
/// lines stock Fail2ban joins; ferroban joins by connection id, not by
/// distance, and still counts each failed connection once.
#[test]
fn mongodb_joins_a_connection_however_far_apart_its_lines_are() {
    let (connections, failed) = mongodb_connections(&mut Xorshift(0x6d6f6e6770));
    let log = write_log("mongodb-busy", &interleave(connections, 8, mongodb_line));
    let own = ferroban_counts(&log, "mongodb-auth");
    std::fs::remove_dir_all(log.parent().unwrap()).ok();
    assert_eq!(own, failed);
}

#[test]
fn stunnel_joins_the_accept_and_the_error_of_one_connection_as_fail2ban_does() {
    let mut rng = Xorshift(0x73746e6c);
    let mut failed = Counts::new();
    let connections = (0..300)
        .map(|id| {
            let client = CLIENTS[rng.below(CLIENTS.len() as u64) as usize];
            let mut messages = vec![format!(
                "LOG5[{id}]: Service [imaps] accepted connection from {client}:{}",
                40000 + id
            )];
            if rng.below(2) == 0 {
                *failed.entry(client.to_string()).or_default() += 1;
                messages.push(format!("LOG3[{id}]: SSL_accept: ../ssl/statem/statem_srvr.c:3517: error:0A0000C7:SSL routines::peer did not return a certificate"));
                messages.push(format!("LOG5[{id}]: Connection reset/closed: 0 byte(s) sent to TLS, 0 byte(s) sent to socket"));
            } else {
                messages.push(format!("LOG5[{id}]: Connection reset/closed: 120 byte(s) sent to TLS, 80 byte(s) sent to socket"));
            }
            Connection { id, messages }
        })
        .collect();
    let lines = interleave(connections, 8, |s, _, m| {
        format!("2024.03.05 {} {m}", clock(s))
    });
    let log = write_log("stunnel", &lines);
    // Fail2ban's stock stunnel filter reads only stunnel 4's one-line format:
    // here the engines are compared on ferroban's filter file.
    let own_filter_file = format!("{CONFIG}/filter.d/stunnel.conf");
    let Some((fail2ban, own)) = both_counts(&log, &own_filter_file, "stunnel") else {
        return;
    };
    assert_eq!(fail2ban, failed);
    assert_eq!(own, failed);
}

/// OpenLDAP connections, two at a time (within the 20 lines Fail2ban's stock
/// filter joins), about half with one to three failed binds: stock and
/// ferroban both count a failed connection once, however many binds failed on
/// it. IPv4 clients only: the stock filter does not read slapd's bracketed
/// IPv6 addresses (config/samples/slapd has one).
#[test]
fn slapd_counts_a_failed_connection_once_as_fail2ban_does() {
    let mut rng = Xorshift(0x736c617064);
    let mut failed = Counts::new();
    let connections = (0..300)
        .map(|id| {
            let client = CLIENTS[rng.below(4) as usize];
            let failures = rng.below(2) * (1 + rng.below(3));
            let mut messages = vec![format!(
                "conn={id} fd=12 ACCEPT from IP={client}:{} (IP=0.0.0.0:389)",
                40000 + id
            )];
            for op in 0..failures {
                messages.push(format!(
                    "conn={id} op={op} BIND dn=\"uid=admin,dc=example,dc=org\" method=128"
                ));
                messages.push(format!("conn={id} op={op} RESULT tag=97 err=49 text="));
            }
            if failures > 0 {
                *failed.entry(client.to_string()).or_default() += 1;
            }
            messages.push(format!("conn={id} op={failures} UNBIND"));
            messages.push(format!("conn={id} fd=12 closed"));
            Connection { id, messages }
        })
        .collect();
    let lines = interleave(connections, 2, |s, _, m| {
        format!("Jul  2 {} ldap slapd[900]: {m}", clock(s))
    });
    let log = write_log("slapd", &lines);
    let stock_filter = "/etc/fail2ban/filter.d/slapd.conf";
    let Some((stock, own)) = both_counts(&log, stock_filter, "slapd") else {
        return;
    };
    assert_eq!(stock, failed);
    assert_eq!(own, failed);
}

/// Debian 12's stunnel, asking for client certificates, on loopback: three TLS
/// clients without one and a client that drops the connection. Its log counts
/// three failures for 127.0.0.1, in ferroban and in Fail2ban's engine.
#[test]
fn a_real_stunnel_log_counts_each_client_without_a_certificate() {
    let runs = |program: &str, arg: &str| Command::new(program).arg(arg).output().is_ok();
    if !(runs("stunnel4", "-version") && runs("openssl", "version")) {
        eprintln!("SKIPPED: needs stunnel4 and openssl (apt-get install stunnel4 openssl)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ferroban-stunnel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, cert, log) = (
        dir.join("key.pem"),
        dir.join("cert.pem"),
        dir.join("stunnel.log"),
    );
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let port = free_port();
    let config = format!(
        "foreground = yes\npid =\noutput = {log}\n[tls]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{backend}\ncert = {cert}\nkey = {key}\nCAfile = {cert}\nverifyChain = yes\n",
        log = log.display(),
        backend = free_port(),
        cert = cert.display(),
        key = key.display(),
    );
    std::fs::write(dir.join("stunnel.conf"), config).unwrap();
    let mut server = Command::new("stunnel4")
        .arg(dir.join("stunnel.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let listening = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    for _ in 0..3 {
        Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .output()
            .unwrap();
    }
    // The last line stunnel writes for a connection ends its record: wait for
    // all four (the probe above and three clients).
    let ended = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::fs::read_to_string(&log).is_ok_and(|l| l.matches("]: Connection ").count() >= 4)
    });
    server.kill().ok();
    server.wait().ok();
    assert!(
        listening && ended,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let own_filter_file = format!("{CONFIG}/filter.d/stunnel.conf");
    let Some((fail2ban, own)) = both_counts(&log, &own_filter_file, "stunnel") else {
        return;
    };
    let expected = Counts::from([("127.0.0.1".to_string(), 3)]);
    assert_eq!(own, expected);
    assert_eq!(fail2ban, expected);
}
