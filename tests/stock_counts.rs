//! The filters added for issue 15 count failures as Fail2ban's stock filters do:
//! on Fail2ban's own sample log for each service, in every mode, ferroban with
//! its own filter reports the same addresses, each as many times, as Fail2ban
//! with its stock filter (run here, at test time). A filter that counted one
//! attempt twice, or missed one, would ban sooner or later than Fail2ban.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

const OWN_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
const STOCK_CONFIG: &str = "/etc/fail2ban";
const CORPUS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

/// The filters and the modes each has (none: a filter without modes).
const FILTERS: &[(&str, &[&str])] = &[
    ("nginx-limit-req", &[]),
    ("nginx-bad-request", &[]),
    ("apache-badbots", &[]),
    ("apache-noscript", &[]),
    ("apache-overflows", &[]),
    ("apache-nohome", &[]),
    ("apache-shellshock", &[]),
    ("apache-modsecurity", &[]),
    ("apache-fakegooglebot", &[]),
    ("apache-pass", &[]),
    ("php-url-fopen", &[]),
    ("lighttpd-auth", &[]),
    ("haproxy-http-auth", &[]),
    ("traefik-auth", &["normal", "ddos", "aggressive"]),
    ("courier-auth", &[]),
    ("courier-smtp", &[]),
    ("exim", &["normal", "aggressive"]),
    ("exim-spam", &[]),
    ("sendmail-auth", &[]),
    ("sendmail-reject", &["normal", "extra", "aggressive"]),
    ("sieve", &[]),
];

/// How often each address failed, as `tool -c CONFIG -o ip LOG FILTER` prints it
/// (one address per failure). Addresses are compared parsed, so "2001:DB8::1"
/// and "2001:db8::1" are one.
fn failures(
    tool: &str,
    args: &[&str],
    config: &str,
    log: &Path,
    filter: &str,
) -> BTreeMap<IpAddr, usize> {
    let out = common::stdout_of(
        Command::new(tool)
            .args(args)
            .args(["-c", config, "-o", "ip"])
            .arg(log)
            .arg(filter),
    );
    let mut counts = BTreeMap::new();
    for line in out.lines() {
        let ip: IpAddr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{tool} {filter}: not an address: {line:?}"));
        *counts.entry(ip).or_default() += 1;
    }
    counts
}

#[test]
fn new_filters_count_each_address_as_often_as_stock_fail2ban() {
    let have_fail2ban = Command::new("fail2ban-regex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_fail2ban || !Path::new(CORPUS).is_dir() {
        eprintln!(
            "SKIPPED new_filters_count_each_address_as_often_as_stock_fail2ban: needs Fail2ban (apt-get install fail2ban)"
        );
        return;
    }
    for (name, modes) in FILTERS {
        let log = Path::new(CORPUS).join(name);
        let variants: Vec<String> = if modes.is_empty() {
            vec![name.to_string()]
        } else {
            modes.iter().map(|m| format!("{name}[mode={m}]")).collect()
        };
        for filter in &variants {
            let stock = failures("fail2ban-regex", &[], STOCK_CONFIG, &log, filter);
            let own = failures(
                env!("CARGO_BIN_EXE_ferroban"),
                &["regex"],
                OWN_CONFIG,
                &log,
                filter,
            );
            assert!(!stock.is_empty(), "{filter}: stock finds failures");
            assert_eq!(own, stock, "{filter}: per-address failure counts");
        }
    }
}
