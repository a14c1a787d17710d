//! Wrong dashboard tokens, counted by source: a token is not guessed at the speed
//! of the network.
//!
//! Owns the count and the lock-out only. `writes` decides what a wrong token is
//! (an `Authorization: Bearer` that is not the token) and answers a locked-out
//! source before it checks anything. Sources are addresses, IPv6 ones by their
//! /64 (a host there picks any address of its network). Behind a reverse proxy,
//! every client is the proxy's address, and shares one count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens a source may give within [`WINDOW`] before it is locked out.
pub const MAX_WRONG: u32 = 10;

/// How long a source's wrong tokens count, from its first; a locked-out source
/// is refused until the window ends.
pub const WINDOW: Duration = Duration::from_secs(600);

/// Sources counted at once: beyond it, those whose window has ended are
/// forgotten, and if none has, a new source is not counted (its guesses are
/// then bounded by the others' windows ending, not by its own).
const MAX_SOURCES: usize = 10_000;

/// The wrong tokens of each source within its window.
#[derive(Debug, Default)]
pub struct Guesses {
    sources: Mutex<HashMap<IpAddr, Window>>,
}

/// A source's window: when its first wrong token came, and how many since.
#[derive(Debug, Clone, Copy)]
struct Window {
    first: Instant,
    wrong: u32,
}

impl Guesses {
    /// How much longer `peer` is locked out at `now`, if it is.
    pub fn locked_for(&self, peer: IpAddr, now: Instant) -> Option<Duration> {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let window = sources.get(&source(peer))?;
        let left = (window.first + WINDOW).checked_duration_since(now)?;
        (window.wrong >= MAX_WRONG && !left.is_zero()).then_some(left)
    }

    /// Count a wrong token from `peer` at `now`; whether it locks the source out.
    pub fn wrong(&self, peer: IpAddr, now: Instant) -> bool {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let key = source(peer);
        if !sources.contains_key(&key) && sources.len() >= MAX_SOURCES {
            sources.retain(|_, w| now.saturating_duration_since(w.first) < WINDOW);
            if sources.len() >= MAX_SOURCES {
                return false;
            }
        }
        let window = sources.entry(key).or_insert(Window {
            first: now,
            wrong: 0,
        });
        if now.saturating_duration_since(window.first) >= WINDOW {
            // the last window has ended: this wrong token opens the next
            window.first = now;
            window.wrong = 0;
        }
        window.wrong += 1;
        window.wrong == MAX_WRONG
    }

    /// The right token from `peer`: its wrong ones are forgotten.
    pub fn right(&self, peer: IpAddr) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources.remove(&source(peer));
    }
}

/// The source `peer` counts as: itself, or its /64 for IPv6 (an IPv4 address
/// written in IPv6 is its IPv4 address).
fn source(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenth_wrong_token_locks_the_source_out_until_its_window_ends() {
        let g = Guesses::default();
        let start = Instant::now();
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 1..MAX_WRONG {
            assert!(!g.wrong(peer, start + Duration::from_secs(u64::from(i - 1))));
            assert_eq!(g.locked_for(peer, start + Duration::from_secs(20)), None);
        }
        assert!(g.wrong(peer, start + Duration::from_secs(30)));
        let left = g.locked_for(peer, start + Duration::from_secs(100));
        assert_eq!(left, Some(WINDOW - Duration::from_secs(100)));
        // another source is not locked out, and the window's end frees this one
        assert_eq!(g.locked_for("192.0.2.8".parse().unwrap(), start), None);
        assert_eq!(g.locked_for(peer, start + WINDOW), None);
        // a new window counts from one again
        assert!(!g.wrong(peer, start + WINDOW));
        assert_eq!(g.locked_for(peer, start + WINDOW), None);
    }

    #[test]
    fn the_right_token_forgets_the_wrong_ones() {
        let g = Guesses::default();
        let now = Instant::now();
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 1..MAX_WRONG {
            g.wrong(peer, now);
        }
        g.right(peer);
        assert!(!g.wrong(peer, now));
        assert_eq!(g.locked_for(peer, now), None);
    }

    #[test]
    fn an_ipv6_network_counts_as_one_source() {
        let g = Guesses::default();
        let now = Instant::now();
        for i in 1..=MAX_WRONG {
            let peer: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            assert_eq!(g.wrong(peer, now), i == MAX_WRONG);
        }
        let elsewhere = |a: &str| g.locked_for(a.parse().unwrap(), now);
        assert!(elsewhere("2001:db8:1:2:ffff::1").is_some());
        assert!(elsewhere("2001:db8:1:3::1").is_none());
        // an IPv4 address written in IPv6 is that address
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        for _ in 0..MAX_WRONG {
            g.wrong(mapped, now);
        }
        assert!(elsewhere("192.0.2.9").is_some());
    }
}
