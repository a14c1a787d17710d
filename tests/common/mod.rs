//! Helpers shared by the integration tests.
// Each test file uses a part of this module.
#![allow(dead_code)]

/// A small deterministic generator (xorshift): a failing case can be replayed
/// from its seed.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Fewer than `max_parts` pieces of `alphabet`, joined.
    pub fn string(&mut self, alphabet: &[&str], max_parts: u64) -> String {
        let n = self.next() % max_parts;
        (0..n).map(|_| self.pick(alphabet)).collect()
    }
}

/// The standard output of a finished command that had to succeed.
fn stdout_of(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `FERROBAN regex --json ARGS` (in UTC): the host of each failure, in order.
/// `ferroban` is the binary (`env!("CARGO_BIN_EXE_ferroban")` in a test).
pub fn ferroban_regex_hosts<S: AsRef<std::ffi::OsStr>>(
    ferroban: &str,
    args: impl IntoIterator<Item = S>,
) -> Vec<String> {
    let out = std::process::Command::new(ferroban)
        .args(["regex", "--json"])
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    stdout_of(out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["host"].as_str().unwrap().to_string()
        })
        .collect()
}

/// The addresses the real fail2ban-regex bans for `log` (a file, or one log
/// line) with the filter file `filter_file`, one per failure; None when
/// fail2ban-regex is not installed.
pub fn fail2ban_regex_ips(
    log: impl AsRef<std::ffi::OsStr>,
    filter_file: &str,
) -> Option<Vec<String>> {
    let out = std::process::Command::new("fail2ban-regex")
        .args(["-o", "<ip>"])
        .arg(log)
        .arg(filter_file)
        .output()
        .ok()?;
    Some(stdout_of(out).lines().map(str::to_string).collect())
}
