//! Counting failures per address inside the `findtime` window.
//!
//! Owns the window arithmetic only: times are the log lines' own times, so replaying
//! an old log counts exactly what was inside the window then. It does not decide
//! whether a failure is too old to count at all (that needs "now", the caller's).

use std::collections::hash_map::Entry::{Occupied, Vacant};
use std::net::IpAddr;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::AddressMap;

/// Failures an address's entry holds without an allocation of its own: Fail2ban's
/// default `maxretry` (and so `maxmatches`). A larger one spills to the heap.
const INLINE_FAILURES: usize = 5;

/// Matched lines of an address, oldest first.
pub type Matches = SmallVec<[Arc<str>; INLINE_FAILURES]>;

/// One failure found by a filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureEvent<'a> {
    pub ip: IpAddr,
    /// Epoch seconds from the log line.
    pub time: f64,
    /// The lines that matched (borrowed from the filter's result: a line is shared,
    /// not copied, until an offence hands it on).
    pub matches: &'a [Arc<str>],
}

/// An address that reached `maxretry` failures within `findtime`; `D`: what the
/// caller kept of its first failure (see [`FailTracker::add_counted`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Offence<D = ()> {
    pub ip: IpAddr,
    pub failures: u32,
    /// Time of the last failure (epoch seconds).
    pub time: f64,
    /// Up to `maxmatches` matched lines, oldest first (still shared: most offences
    /// of a burst find the address banned already and need no copy of them).
    pub matches: Matches,
    /// The first failure's data, where the caller gave it.
    pub first: Option<Box<D>>,
}

/// An address's failures: an entry is made for nearly every failure's address
/// (each offence ends one), so it is made without allocating.
#[derive(Debug)]
struct Entry<D> {
    /// Times of the failures inside the window, at most `maxretry`, oldest first.
    times: SmallVec<[f64; INLINE_FAILURES]>,
    matches: Matches,
    /// The data of the failure its count started with (boxed: most callers keep
    /// none, and an entry stays small).
    first: Option<Box<D>>,
}

impl<D> Default for Entry<D> {
    fn default() -> Entry<D> {
        Entry {
            times: SmallVec::new(),
            matches: Matches::new(),
            first: None,
        }
    }
}

/// A matched line is kept up to this many bytes: a hostile 1 MiB line must not
/// cost a megabyte per address and match.
pub const MAX_MATCH_BYTES: usize = 4096;

/// `line` cut to at most `max` bytes (at a character boundary), marked with "…".
fn shortened(line: Arc<str>, max: usize) -> Arc<str> {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end]).into()
}

/// Failures of one jail, per address, for at most `max_addresses` addresses, each
/// with the data `D` of the failure its count started with (none by default).
#[derive(Debug)]
pub struct FailTracker<D = ()> {
    findtime: f64,
    maxretry: u32,
    maxmatches: usize,
    max_addresses: usize,
    entries: AddressMap<Entry<D>>,
    total: u64,
    /// Addresses forgotten early because the bound was reached, since start.
    evicted: u64,
}

impl<D: Clone> FailTracker<D> {
    pub fn new(findtime: f64, maxretry: u32, maxmatches: usize) -> FailTracker<D> {
        FailTracker {
            findtime,
            maxretry: maxretry.max(1),
            maxmatches,
            max_addresses: usize::MAX,
            entries: AddressMap::default(),
            total: 0,
            evicted: 0,
        }
    }

    /// Track at most `max` addresses at once (at least 1).
    pub fn set_max_addresses(&mut self, max: usize) {
        self.max_addresses = max.max(1);
    }

    /// The most addresses tracked at once.
    pub fn max_addresses(&self) -> usize {
        self.max_addresses
    }

    /// Addresses forgotten early because the bound was reached, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Make room for one more address: forget those whose last failure is outside
    /// the window ending at `now`, and if that is not enough, the eighth with the
    /// oldest last failure (so that the scan is paid once per many new addresses,
    /// not on each). Returns how many were forgotten early.
    fn make_room(&mut self, now: f64) -> usize {
        self.expire(now);
        if self.entries.len() < self.max_addresses {
            return 0;
        }
        let mut lasts: Vec<f64> = self
            .entries
            .values()
            .filter_map(|e| e.times.last().copied())
            .collect();
        let drop = (self.entries.len() / 8).max(1).min(lasts.len());
        let (_, cut, _) = lasts.select_nth_unstable_by(drop - 1, f64::total_cmp);
        let cut = *cut;
        let before = self.entries.len();
        let mut left = drop;
        self.entries.retain(|_, e| {
            let old = left > 0 && e.times.last().is_none_or(|t| *t <= cut);
            if old {
                left -= 1;
            }
            !old
        });
        let gone = before - self.entries.len();
        self.evicted += gone as u64;
        gone
    }

    /// Change the policy (on reload); counts already made are kept.
    pub fn set_policy(&mut self, findtime: f64, maxretry: u32, maxmatches: usize) {
        self.findtime = findtime;
        self.maxretry = maxretry.max(1);
        self.maxmatches = maxmatches;
    }

    /// Count a failure. Returns the offence when the address now has `maxretry`
    /// failures within `findtime` of this one; its count starts over then.
    pub fn add(&mut self, failure: FailureEvent) -> Option<Offence<D>> {
        self.add_counted(failure, 1, None)
    }

    /// [`FailTracker::add`] for one failure that counts as `count` (at least 1):
    /// Fail2ban's attempt reported by command with several matched lines. It is
    /// one failure in the total, as Fail2ban counts it. `data`: the failure's, kept
    /// (a copy) when it starts the address's count (no failure within `findtime`
    /// before it) or none is kept yet, and handed back with the offence, as
    /// Fail2ban's failure ticket is its first failure's.
    pub fn add_counted(
        &mut self,
        failure: FailureEvent,
        count: u32,
        data: Option<&D>,
    ) -> Option<Offence<D>> {
        let count = count.clamp(1, self.maxretry) as usize;
        self.total += 1;
        if self.entries.len() >= self.max_addresses && !self.entries.contains_key(&failure.ip) {
            self.make_room(failure.time);
        }
        // one look-up: an offence removes the entry found here
        let mut found = match self.entries.entry(failure.ip) {
            Occupied(found) => found,
            Vacant(new) => new.insert_entry(Entry::default()),
        };
        let entry = found.get_mut();
        let oldest_counted = failure.time - self.findtime;
        let outside = entry
            .times
            .iter()
            .take_while(|t| **t < oldest_counted)
            .count();
        // the oldest make room first: the entry never grows past `maxretry` (which a
        // reload may have lowered)
        if outside == entry.times.len() || entry.first.is_none() {
            entry.first = data.map(|d| Box::new(d.clone()));
        }
        let over = (entry.times.len() - outside + count).saturating_sub(self.maxretry as usize);
        if outside + over > 0 {
            entry.times.drain(..outside + over);
        }
        entry.times.extend(std::iter::repeat_n(failure.time, count));
        // nor past `maxmatches`
        let kept = if self.maxmatches > 0 {
            failure.matches
        } else {
            &[]
        };
        for line in kept {
            let over = (entry.matches.len() + 1).saturating_sub(self.maxmatches);
            if over > 0 {
                entry.matches.drain(..over);
            }
            entry.matches.push(shortened(line.clone(), MAX_MATCH_BYTES));
        }
        if entry.times.len() < self.maxretry as usize {
            return None;
        }
        let entry = found.remove();
        Some(Offence {
            ip: failure.ip,
            failures: entry.times.len() as u32,
            time: failure.time,
            matches: entry.matches,
            first: entry.first,
        })
    }

    /// Forget addresses whose last failure is older than `findtime` before `now`.
    pub fn expire(&mut self, now: f64) {
        let oldest = now - self.findtime;
        self.entries
            .retain(|_, e| e.times.last().is_some_and(|t| *t >= oldest));
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

    /// Count a failure of `ip` at `time`, whose matched line says when.
    fn add(t: &mut FailTracker, ip: &str, time: f64) -> Option<Offence> {
        let line: Arc<str> = format!("line at {time}").into();
        t.add(FailureEvent {
            ip: ip.parse().unwrap(),
            time,
            matches: &[line],
        })
    }

    /// The offence carries the data of the failure its count started with: the
    /// first, or the first after a gap of `findtime` (Fail2ban's ticket).
    #[test]
    fn the_offence_carries_the_first_failures_data() {
        let mut t: FailTracker<&str> = FailTracker::new(600.0, 3, 5);
        let line: [Arc<str>; 1] = ["a line".into()];
        let mut add = |time, user| {
            let event = FailureEvent {
                ip: "192.0.2.1".parse().unwrap(),
                time,
                matches: &line,
            };
            t.add_counted(event, 1, Some(&user))
        };
        assert!(add(0.0, "old").is_none());
        // a gap of findtime: the count, and its first failure, start again
        assert!(add(700.0, "alice").is_none());
        assert!(add(710.0, "bob").is_none());
        let offence = add(720.0, "carol").expect("the third failure bans");
        assert_eq!(offence.first.as_deref(), Some(&"alice"));
        // the next count starts with its own first failure
        assert!(add(730.0, "dave").is_none());
        add(731.0, "eve");
        assert_eq!(add(732.0, "frank").unwrap().first.as_deref(), Some(&"dave"));
    }

    #[test]
    fn a_failure_counted_twice_is_two_toward_maxretry_and_one_in_the_total() {
        let mut t: FailTracker = FailTracker::new(600.0, 3, 5);
        let lines: [Arc<str>; 2] = ["first".into(), "second".into()];
        let event = |time| FailureEvent {
            ip: "192.0.2.1".parse().unwrap(),
            time,
            matches: &lines,
        };
        assert!(t.add_counted(event(10.0), 2, None).is_none());
        assert_eq!((t.currently_failed(), t.total_failed()), (1, 1));
        let offence = t
            .add_counted(event(11.0), 1, None)
            .expect("the third failure bans");
        assert_eq!(offence.failures, 3);
        assert_eq!(t.total_failed(), 2);
        // more than maxretry at once is maxretry, not more
        let offence = t.add_counted(event(12.0), 40, None).expect("bans at once");
        assert_eq!(offence.failures, 3);
    }

    #[test]
    fn a_flood_of_addresses_is_bounded_and_the_newest_still_count() {
        let mut t = FailTracker::new(600.0, 2, 5);
        t.set_max_addresses(1000);
        for i in 0..100_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            assert!(add(&mut t, &ip, 10.0 + f64::from(i) / 1000.0).is_none());
            assert!(t.currently_failed() <= 1000);
        }
        assert!(t.evicted() >= 99_000, "{}", t.evicted());
        // The address seen last is still counted: its second failure bans.
        let last = std::net::Ipv4Addr::from(0x0a00_0000 + 99_999u32).to_string();
        assert!(add(&mut t, &last, 120.0).is_some());
    }

    #[test]
    fn a_huge_matched_line_is_kept_shortened() {
        let mut t = FailTracker::new(600.0, 2, 5);
        let huge: Arc<str> = format!("é{}", "x".repeat(1 << 20)).into();
        t.add(FailureEvent {
            ip: "192.0.2.9".parse().unwrap(),
            time: 1.0,
            matches: &[huge],
        });
        let o = add(&mut t, "192.0.2.9", 2.0).unwrap();
        assert!(o.matches[0].len() <= MAX_MATCH_BYTES + '…'.len_utf8());
        assert!(o.matches[0].starts_with('é') && o.matches[0].ends_with('…'));
    }

    #[test]
    fn maxretry_within_findtime() {
        let mut t = FailTracker::new(600.0, 3, 2);
        assert!(add(&mut t, "192.0.2.1", 0.0).is_none());
        assert!(add(&mut t, "192.0.2.1", 100.0).is_none());
        // outside the window of the first: only two count
        assert!(add(&mut t, "192.0.2.1", 650.0).is_none());
        let o = add(&mut t, "192.0.2.1", 700.0).expect("three within 600 s");
        assert_eq!(o.failures, 3);
        assert_eq!(o.time, 700.0);
        assert_eq!(
            o.matches.iter().map(|m| &**m).collect::<Vec<_>>(),
            ["line at 650", "line at 700"],
            "maxmatches keeps the newest"
        );
        assert_eq!(
            t.currently_failed(),
            0,
            "counting starts over after an offence"
        );
        assert!(add(&mut t, "192.0.2.2", 0.0).is_none());
        assert_eq!(t.total_failed(), 5);
    }

    #[test]
    fn old_entries_expire() {
        let mut t = FailTracker::new(600.0, 3, 3);
        add(&mut t, "192.0.2.1", 0.0);
        add(&mut t, "192.0.2.2", 500.0);
        t.expire(700.0);
        assert_eq!(t.currently_failed(), 1);
    }

    #[test]
    fn a_lowered_maxretry_counts_the_newest_failures_only() {
        let mut t = FailTracker::new(600.0, 10, 10);
        for time in 1..=6 {
            assert!(add(&mut t, "192.0.2.1", f64::from(time)).is_none());
        }
        t.set_policy(600.0, 3, 2);
        let o = add(&mut t, "192.0.2.1", 7.0).expect("3 of the 7 failures are enough now");
        assert_eq!(o.failures, 3);
        assert_eq!(
            o.matches.iter().map(|m| &**m).collect::<Vec<_>>(),
            ["line at 6", "line at 7"]
        );
    }

    #[test]
    fn more_failures_than_held_inline_count_alike() {
        let mut t = FailTracker::new(600.0, 12, 12);
        for time in 1..12 {
            assert!(add(&mut t, "2001:db8::7", f64::from(time)).is_none());
        }
        let o = add(&mut t, "2001:db8::7", 12.0).expect("the twelfth failure");
        assert_eq!((o.failures, o.matches.len()), (12, 12));
        assert_eq!(&*o.matches[0], "line at 1");
    }

    #[test]
    fn maxretry_one_bans_at_once() {
        let mut t = FailTracker::new(86400.0, 1, 1);
        assert!(add(&mut t, "2001:db8::1", 5.0).is_some());
    }
}
