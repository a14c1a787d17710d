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

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}
