//! The multi-line failure-id cache (`<F-MLFID>`), with Fail2ban's rule exactly.
//!
//! Owns which connection ids (an sshd pid, say) are remembered, and for how long: at
//! most [`MLFID_CACHE_MAX`] ids, each for [`MLFID_CACHE_SECONDS`] of wall-clock time
//! from when it was first stored. When a new id comes to a full cache, the oldest
//! entries by first storage go: every expired one at the front, and the first one
//! that has not expired. Updating a remembered id neither moves it nor extends its
//! life. This is Fail2ban's `Utils.Cache(maxCount=100, maxTime=300)` as its filter
//! uses it; any other rule merges a reused pid's lines into an old connection's
//! failure (an `Accepted` line counted as a failure) or forgets a live one. It does
//! not know what it stores or what a failure is.

use std::collections::VecDeque;

use hashbrown::hash_map::RawEntryMut;

type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// An id as the cache keeps it: a short one (an sshd connection's host and pid,
/// say; up to 24 bytes) inline, without an allocation.
type Id = compact_str::CompactString;

/// How many ids Fail2ban's filter remembers.
pub const MLFID_CACHE_MAX: usize = 100;
/// How long (seconds of wall-clock time) Fail2ban's filter remembers an id.
pub const MLFID_CACHE_SECONDS: f64 = 300.0;

/// The clock of the lifetimes, in seconds: the system's coarse monotonic clock.
///
/// Why coarse: it is read once for every failure a multi-line filter merges (seven
/// lines in ten of a busy auth.log). The precise clock reads the time-stamp counter,
/// about 38 ns on a virtual machine; the coarse one reads what the kernel last
/// stored, about 6 ns, a few milliseconds behind, which a 300-second lifetime does
/// not notice. Monotonic, so a wall-clock step does not expire every id at once or
/// keep them forever.
pub(crate) fn clock() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes only the `timespec` it is given, which lives
    // for the call. It cannot fail: the pointer is valid, and the clock exists on
    // every Linux since 2.6.32 (ferroban runs on Linux only).
    let result = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    debug_assert_eq!(result, 0, "CLOCK_MONOTONIC_COARSE unreadable");
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    expires: f64,
    /// Position in the insertion order (matches one item of `order`).
    serial: u64,
}

/// An insertion-ordered map with a size limit and a lifetime per entry.
#[derive(Debug)]
pub struct MlfidCache<V> {
    entries: HashMap<Id, Entry<V>>,
    /// Keys in insertion order; an item whose serial no longer matches its entry's
    /// (removed, or removed and stored again) is stale and skipped.
    order: VecDeque<(u64, Id)>,
    next_serial: u64,
    max: usize,
    lifetime: f64,
}

impl<V> Default for MlfidCache<V> {
    fn default() -> Self {
        MlfidCache::new(MLFID_CACHE_MAX, MLFID_CACHE_SECONDS)
    }
}

impl<V> MlfidCache<V> {
    /// A cache of at most `max` entries, each living `lifetime` seconds.
    pub fn new(max: usize, lifetime: f64) -> Self {
        MlfidCache {
            entries: HashMap::default(),
            order: VecDeque::new(),
            next_serial: 0,
            max,
            lifetime,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value stored for `key`, unless it has expired at `now` (it is then removed).
    pub fn get(&mut self, key: &str, now: f64) -> Option<&mut V> {
        match self.entries.raw_entry_mut().from_key(key) {
            RawEntryMut::Occupied(e) if e.get().expires > now => Some(&mut e.into_mut().value),
            // as `unset` (its place in `order` goes stale)
            RawEntryMut::Occupied(e) => {
                e.remove();
                None
            }
            RawEntryMut::Vacant(_) => None,
        }
    }

    /// The value stored for `key`, expired or not (no clock involved): for changing a
    /// value in place, as Fail2ban changes the dict it shares with the cache.
    pub fn peek_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key).map(|e| &mut e.value)
    }

    /// Store `value` for `key` at `now`: a full cache first drops its expired front and
    /// its oldest live entry; a key still present keeps its place and gets a new life.
    pub fn set(&mut self, key: &str, value: V, now: f64) {
        if self.entries.len() >= self.max {
            while let Some((serial, old)) = self.order.pop_front() {
                // one look-up to read the entry and remove it
                let RawEntryMut::Occupied(entry) = self.entries.raw_entry_mut().from_key(&old)
                else {
                    continue;
                };
                if entry.get().serial != serial {
                    continue;
                }
                let expired = entry.get().expires <= now;
                entry.remove();
                if !expired && self.entries.len() < self.max {
                    break;
                }
            }
        }
        let expires = now + self.lifetime;
        match self.entries.raw_entry_mut().from_key(key) {
            RawEntryMut::Occupied(mut e) => {
                let entry = e.get_mut();
                entry.value = value;
                entry.expires = expires;
            }
            RawEntryMut::Vacant(e) => {
                let serial = self.next_serial;
                self.next_serial += 1;
                let id = Id::from(key);
                self.order.push_back((serial, id.clone()));
                e.insert(
                    id,
                    Entry {
                        value,
                        expires,
                        serial,
                    },
                );
                self.drop_stale_order();
            }
        }
    }

    /// Forget `key`; the value it had, for its allocations to serve again.
    pub fn unset(&mut self, key: &str) -> Option<V> {
        self.entries.remove(key).map(|e| e.value)
    }

    /// Removed keys leave stale items in `order`; keep it within a bound.
    fn drop_stale_order(&mut self) {
        if self.order.len() > 2 * self.max.max(self.entries.len()) + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(serial, k)| entries.get(k).is_some_and(|e| e.serial == *serial));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifetime_clock_counts_seconds_and_only_forward() {
        let before = clock();
        std::thread::sleep(std::time::Duration::from_millis(60));
        let after = clock();
        // coarse: a tick or two behind, never a unit off (nanoseconds, milliseconds)
        assert!(after - before >= 0.03, "{before} -> {after}");
        assert!(after - before < 5.0, "{before} -> {after}");
    }

    fn keys(c: &MlfidCache<u32>) -> Vec<String> {
        let mut k: Vec<String> = c.entries.keys().map(Id::to_string).collect();
        k.sort();
        k
    }

    #[test]
    fn full_cache_drops_its_oldest_live_entry() {
        let mut c = MlfidCache::new(3, 300.0);
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            c.set(k, i as u32, 0.0);
        }
        // changing a value keeps its place: "a" is still the oldest
        *c.peek_mut("a").unwrap() = 10;
        c.set("d", 3, 2.0);
        assert_eq!(keys(&c), ["b", "c", "d"]);
        // a key already present still makes room when the cache is full
        c.set("c", 20, 3.0);
        assert_eq!(keys(&c), ["c", "d"]);
        assert_eq!(c.get("c", 3.0).copied(), Some(20));
    }

    #[test]
    fn expired_entries_at_the_front_go_together_with_one_live_one() {
        let mut c = MlfidCache::new(3, 100.0);
        c.set("old1", 1, 0.0);
        c.set("old2", 2, 10.0);
        c.set("live", 3, 150.0);
        // at 200: old1 and old2 have expired (100, 110), live has not (250)
        c.set("new", 4, 200.0);
        assert_eq!(keys(&c), ["new"]);
    }

    #[test]
    fn entries_expire_from_their_first_storage() {
        let mut c = MlfidCache::new(100, 300.0);
        c.set("pid", 1, 0.0);
        *c.peek_mut("pid").unwrap() = 2;
        assert_eq!(c.get("pid", 299.0).copied(), Some(2));
        assert_eq!(c.get("pid", 300.0).copied(), None);
        assert!(c.is_empty());
    }

    #[test]
    fn removed_keys_do_not_hold_places() {
        let mut c = MlfidCache::new(2, 300.0);
        for i in 0..1000 {
            c.set("x", i, 0.0);
            c.unset("x");
        }
        assert!(c.order.len() <= 2 * 2 + 17);
        c.set("a", 1, 0.0);
        c.set("b", 2, 0.0);
        c.set("c", 3, 0.0);
        assert_eq!(keys(&c), ["b", "c"]);
    }
}
