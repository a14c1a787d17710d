//! Stock Fail2ban filters and the linear engine: every regex of the guide's jails'
//! filters, in every mode (and sshd with every `publickey` setting), runs on it (no
//! regex of theirs can be given up on a long hostile line), and README.md names
//! exactly the stock filters that still need back-tracking. Reads the installed
//! Fail2ban package's filters at test time.

use std::collections::BTreeSet;
use std::path::Path;

use ferroban_config::FilterDefinition;
use ferroban_filter::engine::Filter;
use jiff::tz::TimeZone;

const FAIL2BAN: &str = "/etc/fail2ban";

/// Filters of the guide's jails.
const GUIDE: &[&str] = &[
    "sshd",
    "postfix",
    "recidive",
    "apache-auth",
    "apache-badbots",
    "apache-botsearch",
    "apache-fakegooglebot",
    "apache-modsecurity",
    "apache-nohome",
    "apache-noscript",
    "apache-overflows",
    "apache-pass",
    "apache-shellshock",
];

fn installed() -> bool {
    let found = Path::new(FAIL2BAN).join("filter.d/sshd.conf").is_file();
    if !found {
        println!("SKIPPED: Fail2ban's filters are not installed in {FAIL2BAN}");
    }
    found
}

/// The modes a stock filter offers ("" for its default): the `Y` of each key
/// `X-Y…` where the filter refers to `<X-<mode>…>`.
fn modes(name: &str) -> Vec<String> {
    let path = Path::new(FAIL2BAN).join(format!("filter.d/{name}.conf"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let prefixes: BTreeSet<&str> = text
        .match_indices("-<mode>")
        .filter_map(|(at, _)| {
            let start = text[..at].rfind('<')? + 1;
            Some(&text[start..=at])
        })
        .collect();
    let mut modes = BTreeSet::from([String::new()]);
    for line in text.lines() {
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        for prefix in &prefixes {
            if let Some(rest) = key.trim().strip_prefix(prefix) {
                let mode = rest.split('-').next().unwrap_or_default();
                if !mode.is_empty() && !mode.starts_with('<') {
                    modes.insert(mode.to_string());
                }
            }
        }
    }
    modes.into_iter().collect()
}

/// The back-tracking regexes of a stock filter in a mode, as "kind #index";
/// `None` when ferroban cannot load the filter.
fn backtracking(name: &str, mode: &str) -> Option<Vec<String>> {
    let opts = match mode.is_empty() {
        true => vec![],
        false => vec![("mode".to_string(), mode.to_string())],
    };
    backtracking_with(name, opts)
}

fn backtracking_with(name: &str, opts: Vec<(String, String)>) -> Option<Vec<String>> {
    let def = FilterDefinition::load(Path::new(FAIL2BAN), name, &opts).ok()?;
    let filter = Filter::new(&def, None, TimeZone::UTC, 2026).ok()?;
    Some(
        filter
            .backtracking_regexes()
            .into_iter()
            .map(|(kind, i)| format!("{kind} #{i}"))
            .collect(),
    )
}

#[test]
fn guide_filters_never_backtrack_in_any_mode() {
    if !installed() {
        return;
    }
    let mut found = Vec::new();
    for name in GUIDE {
        let modes = modes(name);
        if *name == "sshd" || *name == "postfix" {
            assert!(modes.len() > 4, "{name}: modes found: {modes:?}");
        }
        for mode in modes {
            let regexes = backtracking(name, &mode)
                .unwrap_or_else(|| panic!("{name}[mode={mode}] loads and compiles"));
            found.extend(regexes.iter().map(|r| format!("{name}[mode={mode}] {r}")));
        }
    }
    // sshd's other option: how a failed public key counts
    for publickey in ["nofail", "invalid", "ignore", "any"] {
        for mode in modes("sshd") {
            let opts = vec![
                ("mode".to_string(), mode.clone()),
                ("publickey".to_string(), publickey.to_string()),
            ];
            let regexes = backtracking_with("sshd", opts).expect("sshd loads and compiles");
            found.extend(
                regexes
                    .iter()
                    .map(|r| format!("sshd[mode={mode}, publickey={publickey}] {r}")),
            );
        }
    }
    assert!(found.is_empty(), "back-tracking: {found:#?}");
}

/// README.md's section on hostile input lists the stock filters that still need
/// back-tracking (in any mode) in a table whose rows start `| name |`: the list
/// must be the truth. Prints the truth, for the README.
#[test]
fn readme_lists_the_stock_filters_that_backtrack() {
    if !installed() {
        return;
    }
    let mut truth = BTreeSet::new();
    let dir = Path::new(FAIL2BAN).join("filter.d");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "conf") || name.ends_with("common") {
            continue;
        }
        for mode in modes(name) {
            let regexes = backtracking(name, &mode).unwrap_or_default();
            if !regexes.is_empty() {
                println!("{name}[mode={mode}]: {}", regexes.join(", "));
                truth.insert(name.to_string());
            }
        }
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("still need back-tracking")
        .nth(1)
        .expect("README lists the stock filters that still need back-tracking");
    let listed: BTreeSet<String> = section
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .filter_map(|l| l.trim_start().strip_prefix('|')?.split('|').next())
        .map(|cell| cell.trim().trim_matches('`').to_string())
        .filter(|cell| !cell.is_empty() && !cell.starts_with('-') && cell != "stock filter")
        .collect();
    assert_eq!(
        listed, truth,
        "README's list of back-tracking stock filters"
    );
}
