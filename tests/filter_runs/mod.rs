//! Running a filter on a log file, for the tests that compare filters: one of
//! ferroban's shipped configuration (config/) through `ferroban regex`, and
//! Fail2ban's stock one through the real fail2ban-regex.

/// The hosts, one per failure in log order, that the filter `filter` (a name with
/// options, e.g. "sshd[mode=ddos]") of ferroban's shipped configuration (config/)
/// finds in the log file `log`. Lines without a year are read as of 2005 (the
/// `--now` of Fail2ban's samples).
pub fn own_filter_hosts(filter: &str, log: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferroban"))
        .args(["regex", "--json", "--now", "1124013600", "-c"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .arg(log)
        .arg(filter)
        .env("TZ", "UTC")
        .output()
        .expect("ferroban runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object a line");
            v["host"].as_str().expect("a host").to_string()
        })
        .collect()
}

/// The same with Fail2ban's stock filter of that name (/etc/fail2ban), run by the
/// real fail2ban-regex; None (after printing why) when Fail2ban is not installed.
pub fn stock_filter_hosts(filter: &str, log: &std::path::Path) -> Option<Vec<String>> {
    let run = std::process::Command::new("fail2ban-regex")
        .args(["-o", "ip", "-c", "/etc/fail2ban"])
        .arg(log)
        .arg(filter)
        .output();
    let out = match run {
        Ok(out) if std::path::Path::new("/etc/fail2ban/filter.d/common.conf").exists() => out,
        _ => {
            eprintln!("SKIPPED: fail2ban-regex and Fail2ban's filters are not installed (apt-get install fail2ban)");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}
