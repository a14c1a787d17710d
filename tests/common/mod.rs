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
