//! Helpers shared by the integration tests.
// Each test file uses a part of this module.
#![allow(dead_code)]

pub mod fail2ban;

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

/// Wait up to `secs` seconds for `done`, looking every 50 ms; its last answer.
pub fn wait_for(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}

/// `text` (a jail.local written for a real host) with every `/var/log/…` path
/// moved under `dir`, where each is created empty: a jail whose log is missing is
/// refused (as Fail2ban refuses it), and the test host need not run Apache or
/// Postfix. Nothing else in the text changes.
pub fn with_empty_host_logs(dir: &std::path::Path, text: &str) -> String {
    let logs = dir.join("var-log");
    for (at, _) in text.match_indices("/var/log/") {
        let path: String = text[at + "/var/log/".len()..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let file = logs.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "").unwrap();
    }
    text.replace("/var/log/", &format!("{}/", logs.display()))
}
