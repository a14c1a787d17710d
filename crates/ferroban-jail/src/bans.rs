//! The bans a jail holds, how long each lasts, and which ends next.
//!
//! Owns the ban-time arithmetic (`bantime`, and with `bantime.increment` the
//! formula or multipliers, `maxtime` and `rndtime`, as Fail2ban computes them) and
//! the expiry order (a heap, so the next expiry is known without scanning). It does
//! not know about the database or the firewall: callers record and enforce.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hash::BuildHasher as _;
use std::net::IpAddr;

use ferroban_config::jail::BanTimeIncrement;
use hashbrown::HashTable;

/// One ban in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub ip: IpAddr,
    /// Epoch seconds.
    pub start: f64,
    /// Seconds; negative means permanent.
    pub duration: f64,
    /// How many times the address has been banned, this ban included.
    pub count: u32,
    pub failures: u32,
    pub matches: Vec<std::sync::Arc<str>>,
    /// Captured fields of the last failure (`F-USER`, …), for action tags.
    pub fields: Vec<(String, String)>,
    /// The fleet host this ban was received from; `None` for this host's own.
    pub origin: Option<std::sync::Arc<str>>,
    /// Restored from the database at start (its actions' tickets say so: an action
    /// with `norestored` skips it, and `<restored>` is 1).
    pub restored: bool,
}

impl Ban {
    /// When the ban ends (`None`: never).
    pub fn end(&self) -> Option<f64> {
        (self.duration >= 0.0).then_some(self.start + self.duration)
    }

    /// Whether it is still in force at `now`.
    pub fn in_force(&self, now: f64) -> bool {
        self.end().is_none_or(|end| end > now)
    }
}

/// How long a jail bans.
#[derive(Debug, Clone, PartialEq)]
pub struct BanPolicy {
    pub bantime: f64,
    pub increment: Option<BanTimeIncrement>,
}

impl BanPolicy {
    /// The duration of a ban of an address banned `previous` times before.
    pub fn duration(&self, previous: u32) -> f64 {
        let base = self.bantime;
        let Some(inc) = &self.increment else {
            return base;
        };
        if base < 0.0 || previous == 0 {
            return base;
        }
        let count = f64::from(previous);
        let mut t = if !inc.multipliers.is_empty() {
            let i = (previous as usize).min(inc.multipliers.len() - 1);
            base * inc.factor * inc.multipliers[i]
        } else {
            let computed = match &inc.formula {
                Some(f) => f
                    .eval(&|name| match name {
                        "ban.Time" => Some(base),
                        "ban.Count" => Some(count),
                        "banFactor" => Some(inc.factor),
                        _ => None,
                    })
                    .unwrap_or(base),
                None => base * 2f64.powf(count.min(20.0)) * inc.factor,
            };
            computed.max(base)
        };
        if let Some(max) = inc.maxtime {
            t = t.min(max);
        }
        if let Some(rnd) = inc.rndtime {
            t += random_unit() * rnd;
        }
        if t.is_finite() {
            t
        } else {
            base
        }
    }

    /// The longest ban this policy can give (negative: permanent possible).
    pub fn max_duration(&self) -> f64 {
        match &self.increment {
            Some(inc) => inc.maxtime.unwrap_or(-1.0),
            None => self.bantime,
        }
    }
}

/// A number in [0, 1) that a botnet cannot predict from the ban time alone.
fn random_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Expiry(f64, IpAddr);

impl Eq for Expiry {}
impl PartialOrd for Expiry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Expiry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// The bans of one jail, with their expiry order.
#[derive(Debug, Default)]
pub struct BanList {
    /// The bans, found by their address: a table of bans, not a map from address
    /// to ban, so that the address is held once (a map's entry was 136 bytes, the
    /// table's 112; a host may hold 100,000 bans).
    bans: HashTable<Ban>,
    /// A random key per list (the addresses are chosen by whoever writes the logs).
    hasher: foldhash::fast::RandomState,
    /// Ends of bans, soonest first. Entries of bans removed or replaced stay until
    /// they come up and are then skipped.
    expiry: BinaryHeap<Reverse<Expiry>>,
    total: u64,
}

impl BanList {
    /// Add a ban. Returns `false` (and changes nothing) if the address is banned.
    pub fn insert(&mut self, ban: Ban) -> bool {
        if self.get(&ban.ip).is_some() {
            return false;
        }
        if let Some(end) = ban.end() {
            self.expiry.push(Reverse(Expiry(end, ban.ip)));
        }
        self.total += 1;
        let hasher = &self.hasher;
        self.bans
            .insert_unique(hasher.hash_one(ban.ip), ban, |b| hasher.hash_one(b.ip));
        true
    }

    /// Lift a ban now.
    pub fn remove(&mut self, ip: &IpAddr) -> Option<Ban> {
        let ban = self.take(ip);
        self.shrink_if_sparse();
        ban
    }

    /// The ban of `ip`, taken out of the table.
    fn take(&mut self, ip: &IpAddr) -> Option<Ban> {
        let found = self
            .bans
            .find_entry(self.hasher.hash_one(ip), |b| b.ip == *ip);
        found.ok().map(|entry| entry.remove().0)
    }

    /// After many bans ended, give their room back: the map keeps its capacity and
    /// the expiry heap its stale entries otherwise (100,000 lifted bans would hold
    /// on to tens of megabytes).
    fn shrink_if_sparse(&mut self) {
        const SMALL: usize = 1024;
        if self.bans.capacity() > SMALL && self.bans.len() < self.bans.capacity() / 4 {
            let hasher = &self.hasher;
            self.bans.shrink_to_fit(|b| hasher.hash_one(b.ip));
        }
        if self.expiry.len() > SMALL && self.expiry.len() > 2 * self.bans.len() {
            self.expiry = self
                .bans
                .iter()
                .filter_map(|b| Some(Reverse(Expiry(b.end()?, b.ip))))
                .collect();
        }
    }

    /// Give the ban of `ip` its matched lines: a server that kept none for it (no
    /// action had a use for them) reads them back when an action comes to need them.
    /// Returns `false` if `ip` is not banned.
    pub fn set_matches(&mut self, ip: &IpAddr, matches: Vec<std::sync::Arc<str>>) -> bool {
        let found = self
            .bans
            .find_mut(self.hasher.hash_one(ip), |b| b.ip == *ip);
        found.map(|ban| ban.matches = matches).is_some()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&Ban> {
        self.bans.find(self.hasher.hash_one(ip), |b| b.ip == *ip)
    }

    /// When the next ban ends.
    pub fn next_expiry(&mut self) -> Option<f64> {
        while let Some(Reverse(Expiry(end, ip))) = self.expiry.peek().copied() {
            if self.get(&ip).and_then(Ban::end) == Some(end) {
                return Some(end);
            }
            self.expiry.pop();
        }
        None
    }

    /// Remove and return the bans that ended at or before `now`.
    pub fn take_expired(&mut self, now: f64) -> Vec<Ban> {
        let mut out = Vec::new();
        while let Some(end) = self.next_expiry() {
            if end > now {
                break;
            }
            if let Some(Reverse(Expiry(_, ip))) = self.expiry.pop() {
                if let Some(b) = self.take(&ip) {
                    out.push(b);
                }
            }
        }
        self.shrink_if_sparse();
        out
    }

    /// Remove every ban.
    pub fn drain(&mut self) -> Vec<Ban> {
        self.expiry = BinaryHeap::new();
        std::mem::take(&mut self.bans).into_iter().collect()
    }

    /// Addresses banned now, in address order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self.bans.iter().map(|b| b.ip).collect();
        v.sort();
        v
    }

    pub fn iter(&self) -> impl Iterator<Item = &Ban> {
        self.bans.iter()
    }

    pub fn len(&self) -> usize {
        self.bans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
    }

    /// Bans made since start (restored ones included).
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroban_config::expr::Expr;

    fn inc(factor: f64) -> BanTimeIncrement {
        BanTimeIncrement {
            factor,
            formula: None,
            multipliers: vec![],
            maxtime: None,
            rndtime: None,
            overalljails: false,
        }
    }

    fn ban(ip: &str, start: f64, duration: f64) -> Ban {
        Ban {
            ip: ip.parse().unwrap(),
            start,
            duration,
            count: 1,
            failures: 3,
            matches: vec![],
            fields: vec![],
            origin: None,
            restored: false,
        }
    }

    #[test]
    fn increments_like_fail2ban() {
        let p = BanPolicy {
            bantime: 3600.0,
            increment: Some(BanTimeIncrement {
                maxtime: Some(7.0 * 86400.0),
                ..inc(2.0)
            }),
        };
        assert_eq!(p.duration(0), 3600.0);
        assert_eq!(p.duration(1), 3600.0 * 2.0 * 2.0);
        assert_eq!(p.duration(2), 3600.0 * 4.0 * 2.0);
        assert_eq!(p.duration(10), 7.0 * 86400.0, "maxtime caps");
        let m = BanPolicy {
            bantime: 60.0,
            increment: Some(BanTimeIncrement {
                multipliers: vec![1.0, 5.0, 30.0],
                ..inc(1.0)
            }),
        };
        assert_eq!(
            (m.duration(1), m.duration(2), m.duration(9)),
            (300.0, 1800.0, 1800.0)
        );
        let f = BanPolicy {
            bantime: 100.0,
            increment: Some(BanTimeIncrement {
                formula: Some(Expr::parse("ban.Time + ban.Count * 10").unwrap()),
                ..inc(1.0)
            }),
        };
        assert_eq!(f.duration(3), 130.0);
        let r = BanPolicy {
            bantime: 100.0,
            increment: Some(BanTimeIncrement {
                rndtime: Some(50.0),
                ..inc(1.0)
            }),
        };
        let d = r.duration(1);
        assert!((200.0..250.0).contains(&d), "{d}");
        assert_eq!(
            BanPolicy {
                bantime: -1.0,
                increment: Some(inc(2.0))
            }
            .duration(3),
            -1.0
        );
        assert_eq!(
            BanPolicy {
                bantime: 600.0,
                increment: None
            }
            .duration(5),
            600.0
        );
    }

    #[test]
    fn expiry_in_order_and_replaced_entries_skipped() {
        let mut l = BanList::default();
        assert!(l.insert(ban("192.0.2.1", 0.0, 100.0)));
        assert!(l.insert(ban("192.0.2.2", 0.0, 50.0)));
        assert!(l.insert(ban("192.0.2.3", 0.0, -1.0)));
        assert!(!l.insert(ban("192.0.2.1", 10.0, 10.0)), "already banned");
        assert_eq!(l.next_expiry(), Some(50.0));
        l.remove(&"192.0.2.2".parse().unwrap());
        assert_eq!(l.next_expiry(), Some(100.0), "removed ban's entry skipped");
        assert!(l.take_expired(99.0).is_empty());
        let gone = l.take_expired(100.0);
        assert_eq!(gone.len(), 1);
        assert_eq!(l.next_expiry(), None, "permanent bans never expire");
        assert_eq!(l.len(), 1);
        assert_eq!(l.total(), 3);
    }
}
