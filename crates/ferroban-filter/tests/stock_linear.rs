//! Stock Fail2ban filters of the guide's jails that run entirely on the linear engine:
//! no regex of theirs can be given up on a long hostile line. (README.md lists the
//! ones that still need back-tracking, and why.) Reads the installed Fail2ban
//! package's filters at test time.

use std::path::Path;

use ferroban_config::FilterDefinition;
use ferroban_filter::engine::Filter;
use jiff::tz::TimeZone;

const FAIL2BAN: &str = "/etc/fail2ban";

/// Filters of the guide's jails, with the modes in which they never back-track.
const STOCK: &[(&str, &[&str])] = &[
    ("sshd", &["normal", "ddos"]),
    (
        "postfix",
        &["more", "auth", "normal", "rbl", "extra", "errors"],
    ),
    ("apache-badbots", &[""]),
    ("apache-botsearch", &[""]),
    ("apache-fakegooglebot", &[""]),
    ("apache-modsecurity", &[""]),
    ("apache-nohome", &[""]),
    ("apache-noscript", &[""]),
    ("apache-overflows", &[""]),
    ("apache-pass", &[""]),
    ("apache-shellshock", &[""]),
];

#[test]
fn stock_filters_never_backtrack() {
    if !Path::new(FAIL2BAN).join("filter.d/sshd.conf").is_file() {
        println!("SKIPPED: Fail2ban's filters are not installed in {FAIL2BAN}");
        return;
    }
    let mut backtracking = Vec::new();
    for (name, modes) in STOCK {
        for mode in *modes {
            let opts = match mode.is_empty() {
                true => vec![],
                false => vec![("mode".to_string(), mode.to_string())],
            };
            let def = FilterDefinition::load(Path::new(FAIL2BAN), name, &opts).unwrap();
            let filter = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
            for (kind, i) in filter.backtracking_regexes() {
                backtracking.push(format!("{name}[mode={mode}] {kind} #{i}"));
            }
        }
    }
    assert!(backtracking.is_empty(), "back-tracking: {backtracking:#?}");
}
