//! Counting failures per address inside the `findtime` window.
//!
//! Owns the window arithmetic only: times are the log lines' own times, so replaying
//! an old log counts exactly what was inside the window then. It does not decide
//! whether a failure is too old to count at all (that needs "now", the caller's).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// One failure found by a filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureEvent {
    pub ip: IpAddr,
    /// Epoch seconds from the log line.
    pub time: f64,
    /// The lines that matched.
    pub matches: Vec<String>,
    /// Captured `F-*` fields and the like, for action tags.
    pub fields: Vec<(String, String)>,
}

/// An address that reached `maxretry` failures within `findtime`.
#[derive(Debug, Clone, PartialEq)]
pub struct Offence {
    pub ip: IpAddr,
    pub failures: u32,
    /// Time of the last failure (epoch seconds).
    pub time: f64,
    /// Up to `maxmatches` matched lines, oldest first.
    pub matches: Vec<String>,
    /// Fields of the last failure.
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Entry {
    times: VecDeque<f64>,
    matches: VecDeque<String>,
}

/// Failures of one jail, per address.
#[derive(Debug)]
pub struct FailTracker {
    findtime: f64,
    maxretry: u32,
    maxmatches: usize,
    entries: HashMap<IpAddr, Entry>,
    total: u64,
}

impl FailTracker {
    pub fn new(findtime: f64, maxretry: u32, maxmatches: usize) -> FailTracker {
        FailTracker {
            findtime,
            maxretry: maxretry.max(1),
            maxmatches,
            entries: HashMap::new(),
            total: 0,
        }
    }

    /// Change the policy (on reload); counts already made are kept.
    pub fn set_policy(&mut self, findtime: f64, maxretry: u32, maxmatches: usize) {
        self.findtime = findtime;
        self.maxretry = maxretry.max(1);
        self.maxmatches = maxmatches;
    }

    /// Count a failure. Returns the offence when the address now has `maxretry`
    /// failures within `findtime` of this one; its count starts over then.
    pub fn add(&mut self, failure: FailureEvent) -> Option<Offence> {
        self.total += 1;
        let entry = self.entries.entry(failure.ip).or_default();
        let oldest_counted = failure.time - self.findtime;
        while entry.times.front().is_some_and(|t| *t < oldest_counted) {
            entry.times.pop_front();
        }
        entry.times.push_back(failure.time);
        while entry.times.len() > self.maxretry as usize {
            entry.times.pop_front();
        }
        entry.matches.extend(failure.matches);
        while entry.matches.len() > self.maxmatches {
            entry.matches.pop_front();
        }
        if entry.times.len() < self.maxretry as usize {
            return None;
        }
        let entry = self.entries.remove(&failure.ip)?;
        Some(Offence {
            ip: failure.ip,
            failures: entry.times.len() as u32,
            time: failure.time,
            matches: entry.matches.into(),
            fields: failure.fields,
        })
    }

    /// Forget addresses whose last failure is older than `findtime` before `now`.
    pub fn expire(&mut self, now: f64) {
        let oldest = now - self.findtime;
        self.entries
            .retain(|_, e| e.times.back().is_some_and(|t| *t >= oldest));
    }

    /// Forget an address (it was banned by hand, or unbanned).
    pub fn forget(&mut self, ip: &IpAddr) {
        self.entries.remove(ip);
    }

    /// Addresses with failures counted now.
    pub fn currently_failed(&self) -> usize {
        self.entries.len()
    }

    /// Failures counted since start.
    pub fn total_failed(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(ip: &str, time: f64) -> FailureEvent {
        FailureEvent {
            ip: ip.parse().unwrap(),
            time,
            matches: vec![format!("line at {time}")],
            fields: vec![],
        }
    }

    #[test]
    fn maxretry_within_findtime() {
        let mut t = FailTracker::new(600.0, 3, 2);
        assert!(t.add(fail("192.0.2.1", 0.0)).is_none());
        assert!(t.add(fail("192.0.2.1", 100.0)).is_none());
        // outside the window of the first: only two count
        assert!(t.add(fail("192.0.2.1", 650.0)).is_none());
        let o = t.add(fail("192.0.2.1", 700.0)).expect("three within 600 s");
        assert_eq!(o.failures, 3);
        assert_eq!(o.time, 700.0);
        assert_eq!(
            o.matches,
            vec!["line at 650", "line at 700"],
            "maxmatches keeps the newest"
        );
        assert_eq!(
            t.currently_failed(),
            0,
            "counting starts over after an offence"
        );
        assert!(t.add(fail("192.0.2.2", 0.0)).is_none());
        assert_eq!(t.total_failed(), 5);
    }

    #[test]
    fn old_entries_expire() {
        let mut t = FailTracker::new(600.0, 3, 3);
        t.add(fail("192.0.2.1", 0.0));
        t.add(fail("192.0.2.2", 500.0));
        t.expire(700.0);
        assert_eq!(t.currently_failed(), 1);
    }

    #[test]
    fn maxretry_one_bans_at_once() {
        let mut t = FailTracker::new(86400.0, 1, 1);
        assert!(t.add(fail("2001:db8::1", 5.0)).is_some());
    }
}
