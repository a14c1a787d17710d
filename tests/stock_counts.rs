//! The filters added for issue 15 count failures as Fail2ban's stock filters do:
//! on Fail2ban's own sample log for each service, in every mode, ferroban with
//! its own filter reports the same addresses, each as many times, as Fail2ban
//! with its stock filter (run here, at test time). A filter that counted one
//! attempt twice, or missed one, would ban sooner or later than Fail2ban.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

mod common;

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
    ("asterisk", &[]),
    ("assp", &[]),
    ("kerio", &[]),
    ("cyrus-imap", &[]),
    ("freeswitch", &["normal", "ddos", "extra"]),
    ("solid-pop3d", &[]),
    ("ejabberd-auth", &[]),
    ("drupal-auth", &[]),
    ("uwimap-auth", &[]),
    ("domino-smtp", &[]),
    ("znc-adminlog", &[]),
    ("mssql-auth", &[]),
    ("directadmin", &[]),
    ("scanlogd", &[]),
    ("monitorix", &[]),
    ("qmail", &[]),
    ("suhosin", &[]),
    ("oracleims", &[]),
    ("screensharingd", &[]),
    ("zoneminder", &[]),
    ("wuftpd", &[]),
    ("openwebmail", &[]),
    ("nsd", &[]),
    ("murmur", &[]),
    ("3proxy", &[]),
    ("xinetd-fail", &[]),
    ("tine20", &[]),
    ("softethervpn", &[]),
    ("portsentry", &[]),
    ("perdition", &[]),
    ("horde", &[]),
    ("groupoffice", &[]),
    ("froxlor-auth", &[]),
    ("counter-strike", &[]),
    ("squirrelmail", &[]),
    ("nagios", &[]),
    ("gssftpd", &[]),
    ("centreon", &[]),
    // Not here: sogo-auth, which counts the proxy's X-Forwarded-For entry where
    // stock counts the client's (tests/injection.rs), and slapd, whose
    // connections are generated in tests/connection_filters.rs.
];

/// How often each address failed, from one host per failure. Addresses are
/// compared parsed, so "2001:DB8::1" and "2001:db8::1" are one.
fn counts(filter: &str, hosts: Vec<String>) -> BTreeMap<IpAddr, usize> {
    let mut counts = BTreeMap::new();
    for host in hosts {
        let ip: IpAddr = host
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{filter}: not an address: {host:?}"));
        *counts.entry(ip.to_canonical()).or_default() += 1;
    }
    counts
}

#[test]
fn new_filters_count_each_address_as_often_as_stock_fail2ban() {
    for (name, modes) in FILTERS {
        let log = Path::new(CORPUS).join(name);
        let variants: Vec<String> = if modes.is_empty() {
            vec![name.to_string()]
        } else {
            modes.iter().map(|m| format!("{name}[mode={m}]")).collect()
        };
        for filter in &variants {
            let Some(stock) = common::stock_filter_hosts(filter, &log) else {
                return;
            };
            let stock = counts(filter, stock);
            let own = counts(
                filter,
                common::own_filter_hosts(env!("CARGO_BIN_EXE_ferroban"), filter, &log),
            );
            assert!(!stock.is_empty(), "{filter}: stock finds failures");
            assert_eq!(own, stock, "{filter}: per-address failure counts");
        }
    }
}
