//! Fleet-wide failure counting for one jail (`fleetmaxretry`).
//!
//! Every host sees the same stream of failures, so every host reaches the same
//! verdict on its own. Each origin counts for at most `maxretry - 1` failures per
//! address within `findtime`, so one host alone (honest or not) never causes a
//! fleet ban: its own `maxretry` bans locally first.
//!
//! What one origin can do to the count is bounded, because a compromised member
//! publishes whatever its login allows: a failure dated more than [`MAX_SKEW`]
//! ahead of this host's clock is refused (else it would never leave the window,
//! and a member could fill the counter for good), one dated before `findtime` is
//! refused, and each origin holds at most [`ORIGIN_SHARE`] failures here, so a
//! member flooding the stream fills only its own share and the others' failures
//! are still counted.
//!
//! A ban of an address here takes its failures up to the ban (as a jail's own
//! tracker forgets them): they never count again, also when a restart reads the
//! stream back over `findtime`, which would otherwise ban again an address an
//! administrator had just lifted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::Refusal;

/// How far ahead of this host's clock a failure may be dated (seconds): the
/// clock skew tolerated between hosts. Hosts are expected to run NTP; five
/// minutes is far beyond its errors and short against any useful `findtime`.
pub const MAX_SKEW: f64 = 300.0;
/// Failures one origin may have counted at once in one jail. Far above what an
/// honest host's log yields within a `findtime` (its own `maxretry` bans the
/// addresses behind most of them), and small enough that a member filling it
/// costs a receiver a few MiB.
pub const ORIGIN_SHARE: usize = 50_000;
/// Failures counted at once in one jail, all origins together: a last bound on
/// memory, reached only when five or more origins fill their share (or a
/// compromised engine forges origins).
pub const TOTAL_CAPACITY: usize = 250_000;
/// When full, the whole counter is swept for expired failures at most this often
/// (seconds): a sweep per dropped failure would let a flood cost O(n) each.
const SWEEP_INTERVAL: f64 = 1.0;

/// What counting one failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Counted; the fleet total is below the limit.
    Counted,
    /// Not counted: its origin already counts `maxretry - 1` for this address
    /// within `findtime` (an honest host whose own `maxretry` is about to ban).
    OriginAtMost,
    /// The fleet total reached the limit (the address's count is then forgotten).
    Reached,
}

#[derive(Debug)]
pub struct FleetCounter {
    findtime: f64,
    per_origin: usize,
    limit: usize,
    origin_share: usize,
    total_capacity: usize,
    failures: HashMap<IpAddr, Vec<(Arc<str>, f64)>>,
    /// Failures held per origin (the sums over `failures`, kept to bound each
    /// origin without scanning), with the origin's shared name: one allocation
    /// per origin, found with the count in one lookup per failure.
    held: HashMap<Arc<str>, (Arc<str>, usize)>,
    total: usize,
    last_sweep: f64,
    /// Per address, the time up to which its failures were taken by a ban here.
    consumed: HashMap<IpAddr, f64>,
}

impl FleetCounter {
    /// A counter banning at `limit` failures within `findtime`, each origin
    /// counting for at most `maxretry - 1`.
    pub fn new(findtime: f64, maxretry: u32, limit: u32) -> FleetCounter {
        FleetCounter::with_capacity(findtime, maxretry, limit, ORIGIN_SHARE, TOTAL_CAPACITY)
    }

    /// As [`FleetCounter::new`], with other bounds (for tests).
    pub fn with_capacity(
        findtime: f64,
        maxretry: u32,
        limit: u32,
        origin_share: usize,
        total_capacity: usize,
    ) -> FleetCounter {
        FleetCounter {
            findtime,
            per_origin: maxretry.saturating_sub(1).max(1) as usize,
            limit: limit.max(1) as usize,
            origin_share: origin_share.max(1),
            total_capacity: total_capacity.max(1),
            failures: HashMap::new(),
            held: HashMap::new(),
            total: 0,
            last_sweep: f64::NEG_INFINITY,
            consumed: HashMap::new(),
        }
    }

    /// `ip` was banned here at `at`: its failures dated up to then are forgotten
    /// and never counted again ([`Refusal::Consumed`]).
    pub fn consume(&mut self, ip: IpAddr, at: f64) {
        let until = self.consumed.entry(ip).or_insert(at);
        *until = until.max(at);
        let until = *until;
        if let Some(list) = self.failures.get_mut(&ip) {
            forget(list, |t| t <= until, &mut self.held, &mut self.total);
            if list.is_empty() {
                self.failures.remove(&ip);
            }
        }
    }

    /// Failures held now, in all and for `origin`.
    pub fn held(&self, origin: &str) -> (usize, usize) {
        (self.total, self.held.get(origin).map_or(0, |(_, n)| *n))
    }

    /// Count a failure of `ip` seen by `origin` at `time`, at `now`. Refused when
    /// dated too far ahead ([`Refusal::AheadOfClock`]) or before `findtime`
    /// ([`Refusal::Stale`]), or when the origin's share or the whole counter is
    /// full ([`Refusal::CounterFull`]).
    pub fn add(
        &mut self,
        origin: &str,
        ip: IpAddr,
        time: f64,
        now: f64,
    ) -> Result<Counted, Refusal> {
        if !time.is_finite() || time > now + MAX_SKEW {
            return Err(Refusal::AheadOfClock);
        }
        let since = now - self.findtime;
        if time < since {
            return Err(Refusal::Stale);
        }
        if self.consumed.get(&ip).is_some_and(|&until| time <= until) {
            return Err(Refusal::Consumed);
        }
        // This address's expired failures go first: they may make room.
        if let Some(list) = self.failures.get_mut(&ip) {
            forget(list, |t| t < since, &mut self.held, &mut self.total);
            let mine = list.iter().filter(|(o, _)| &**o == origin).count();
            if mine >= self.per_origin {
                return Ok(Counted::OriginAtMost);
            }
        }
        if !self.has_room(origin) && now - self.last_sweep >= SWEEP_INTERVAL {
            self.expire(now);
        }
        if !self.has_room(origin) {
            return Err(Refusal::CounterFull);
        }
        let name = match self.held.get_mut(origin) {
            Some((name, n)) => {
                *n += 1;
                name.clone()
            }
            None => {
                let name: Arc<str> = Arc::from(origin);
                self.held.insert(name.clone(), (name.clone(), 1));
                name
            }
        };
        self.total += 1;
        let list = self.failures.entry(ip).or_default();
        list.push((name, time));
        // Two origins at least, whatever the settings (with maxretry = 1 one
        // origin's share would equal the limit): one host alone never bans fleet-wide.
        let several = list.iter().any(|(o, _)| *o != list[0].0);
        if list.len() >= self.limit && several {
            let last = list.iter().map(|(_, t)| *t).fold(time, f64::max);
            self.consume(ip, last);
            return Ok(Counted::Reached);
        }
        Ok(Counted::Counted)
    }

    fn has_room(&self, origin: &str) -> bool {
        self.total < self.total_capacity
            && self.held.get(origin).map_or(0, |(_, n)| *n) < self.origin_share
    }

    /// Forget failures older than `findtime`.
    pub fn expire(&mut self, now: f64) {
        self.last_sweep = now;
        let since = now - self.findtime;
        let (held, total) = (&mut self.held, &mut self.total);
        self.failures.retain(|_, list| {
            forget(list, |t| t < since, held, total);
            !list.is_empty()
        });
        self.held.retain(|_, (_, n)| *n > 0);
        self.consumed.retain(|_, until| *until >= since);
    }
}

/// Remove the failures of `list` dated as `old` says, keeping the sums right
/// (each failure was added to both: a sum at 0 here is a bookkeeping bug).
fn forget(
    list: &mut Vec<(Arc<str>, f64)>,
    old: impl Fn(f64) -> bool,
    held: &mut HashMap<Arc<str>, (Arc<str>, usize)>,
    total: &mut usize,
) {
    list.retain(|(o, t)| {
        if !old(*t) {
            return true;
        }
        if let Some((_, n)) = held.get_mut(o) {
            debug_assert!(*n > 0, "{o}'s count below its failures");
            *n -= 1;
        }
        debug_assert!(*total > 0, "the total below the failures");
        *total -= 1;
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    fn nth(i: u32) -> IpAddr {
        IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8])
    }

    #[test]
    fn two_and_two_reach_four_one_host_alone_never_does() {
        let mut c = FleetCounter::new(600.0, 3, 4);
        assert_eq!(c.add("a", ip(), 1.0, 1.0), Ok(Counted::Counted));
        assert_eq!(c.add("a", ip(), 2.0, 2.0), Ok(Counted::Counted));
        for t in 3..10 {
            assert_eq!(
                c.add("a", ip(), f64::from(t), f64::from(t)),
                Ok(Counted::OriginAtMost),
                "one host counts for maxretry - 1 at most"
            );
        }
        assert_eq!(c.add("b", ip(), 10.0, 10.0), Ok(Counted::Counted));
        assert_eq!(
            c.add("b", ip(), 11.0, 11.0),
            Ok(Counted::Reached),
            "2 + 2 = fleetmaxretry"
        );
        assert_eq!(c.held("a"), (0, 0), "a reached address is forgotten");
    }

    #[test]
    fn a_ban_takes_the_failures_before_it_and_they_never_count_again() {
        let mut c = FleetCounter::new(600.0, 3, 4);
        c.add("a", ip(), 1.0, 1.0).unwrap();
        c.consume(ip(), 5.0);
        assert_eq!(
            c.held("a"),
            (0, 0),
            "the failures the ban took are forgotten"
        );
        assert_eq!(c.add("b", ip(), 4.0, 6.0), Err(Refusal::Consumed));
        assert_eq!(c.add("b", ip(), 6.0, 6.0), Ok(Counted::Counted));
        // Reaching the limit takes the failures too: read again (a restart reads
        // the stream back), they are refused, not counted towards a second ban.
        for (origin, t) in [("a", 7.0), ("a", 8.0), ("b", 9.0)] {
            c.add(origin, ip(), t, 9.0).unwrap();
        }
        for (origin, t) in [("a", 7.0), ("a", 8.0), ("b", 6.0), ("b", 9.0)] {
            assert_eq!(c.add(origin, ip(), t, 10.0), Err(Refusal::Consumed));
        }
        assert_eq!(c.add("a", ip(), 11.0, 11.0), Ok(Counted::Counted));
        // forgotten with the window
        c.expire(700.0);
        assert_eq!(c.add("a", ip(), 200.0, 700.0), Ok(Counted::Counted));
    }

    #[test]
    fn failures_older_than_findtime_do_not_count() {
        let mut c = FleetCounter::new(60.0, 3, 4);
        c.add("a", ip(), 0.0, 0.0).unwrap();
        c.add("a", ip(), 1.0, 1.0).unwrap();
        c.add("b", ip(), 100.0, 100.0).unwrap();
        assert_eq!(
            c.add("b", ip(), 101.0, 101.0),
            Ok(Counted::Counted),
            "a's two are too old"
        );
        assert_eq!(
            c.add("c", ip(), 10.0, 101.0),
            Err(Refusal::Stale),
            "itself too old"
        );
        assert_eq!(c.held("a"), (2, 0), "a's expired failures were released");
    }

    #[test]
    fn failures_dated_ahead_of_the_clock_are_refused() {
        let mut c = FleetCounter::new(600.0, 3, 4);
        let now = 1_000_000.0;
        assert_eq!(
            c.add("a", ip(), now + 9.0 * 365.0 * 86_400.0, now),
            Err(Refusal::AheadOfClock)
        );
        assert_eq!(
            c.add("a", ip(), now + MAX_SKEW + 1.0, now),
            Err(Refusal::AheadOfClock)
        );
        assert_eq!(c.add("a", ip(), f64::NAN, now), Err(Refusal::AheadOfClock));
        assert_eq!(c.held("a"), (0, 0), "nothing refused is held");
        // Within the skew: counted, and it leaves the window like any other.
        assert_eq!(
            c.add("a", ip(), now + MAX_SKEW - 1.0, now),
            Ok(Counted::Counted)
        );
        c.expire(now + MAX_SKEW + 600.0);
        assert_eq!(c.held("a"), (0, 0), "expired");
    }

    /// The finding's attack: one member floods the stream with more addresses
    /// than the counter holds. Its share fills, the rest of its flood is refused
    /// as counter_full, and the other members' failures still reach the limit.
    #[test]
    fn one_origin_flooding_cannot_stop_the_others_from_reaching_the_limit() {
        let (share, capacity) = (1_000, 5_000);
        let mut c = FleetCounter::with_capacity(600.0, 3, 6, share, capacity);
        let now = 1_000_000.0;
        let mut full = 0;
        for i in 0..(capacity as u32 * 2) {
            // dated now and far ahead, as a member could
            for time in [now, now + 1e8] {
                match c.add("web2", nth(i), time, now) {
                    Ok(Counted::Counted) => {}
                    Err(Refusal::CounterFull) => full += 1,
                    Err(Refusal::AheadOfClock) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(c.held("web2"), (share, share), "web2 holds its share only");
        assert_eq!(full, capacity * 2 - share, "every drop is reported");
        // The spread attack: 2 + 2 + 2 from three members, web2 included.
        let target: IpAddr = "198.51.100.50".parse().unwrap();
        let mut last = None;
        for origin in ["web1", "mail1", "web2"] {
            for _ in 0..2 {
                last = Some(c.add(origin, target, now, now));
            }
        }
        assert_eq!(
            last,
            Some(Err(Refusal::CounterFull)),
            "web2's share is full"
        );
        for _ in 0..2 {
            last = Some(c.add("web3", target, now, now));
        }
        assert_eq!(
            last,
            Some(Ok(Counted::Reached)),
            "2 + 2 + 2 from the others"
        );
    }

    #[test]
    fn the_total_capacity_bounds_all_origins_and_frees_up_as_failures_expire() {
        let mut c = FleetCounter::with_capacity(60.0, 3, 4, 10, 20);
        let now = 1_000.0;
        for origin in ["a", "b"] {
            for i in 0..10 {
                assert_eq!(c.add(origin, nth(i), now, now), Ok(Counted::Counted));
            }
        }
        assert_eq!(c.add("c", nth(99), now, now), Err(Refusal::CounterFull));
        // A sweep happens at most once a second while full.
        assert_eq!(
            c.add("c", nth(99), now + 61.0, now + 61.0),
            Ok(Counted::Counted),
            "the old ones expired"
        );
        assert_eq!(c.held("c"), (1, 1));
    }

    /// A flood against a full counter costs a sweep of it at most once a second,
    /// not one per refused failure, even when a sweep would now make room.
    #[test]
    fn a_full_counter_is_swept_at_most_once_a_second() {
        let mut c = FleetCounter::with_capacity(60.0, 3, 4, 10, 20);
        let now = 1_000.0;
        for origin in ["a", "b"] {
            for i in 0..10 {
                let counted = c.add(origin, nth(i), now - 59.8, now);
                assert_eq!(counted, Ok(Counted::Counted));
            }
        }
        // Full, and nothing has expired yet: swept for nothing.
        assert_eq!(c.add("c", nth(99), now, now), Err(Refusal::CounterFull));
        // Half a second later all twenty are older than findtime, but the last
        // sweep is less than a second old.
        assert_eq!(
            c.add("c", nth(98), now + 0.5, now + 0.5),
            Err(Refusal::CounterFull),
            "swept again within a second"
        );
        assert_eq!(c.held("a"), (20, 10), "nothing was swept");
        assert_eq!(
            c.add("c", nth(98), now + 1.0, now + 1.0),
            Ok(Counted::Counted),
            "a second after the last sweep, the next one makes room"
        );
        assert_eq!(c.held("c"), (1, 1));
    }

    #[test]
    fn one_origin_never_reaches_the_limit_alone_even_with_maxretry_one() {
        let mut c = FleetCounter::new(600.0, 1, 1);
        assert_eq!(c.add("a", ip(), 1.0, 1.0), Ok(Counted::Counted));
        assert_eq!(c.add("a", ip(), 2.0, 2.0), Ok(Counted::OriginAtMost));
        assert_eq!(c.add("b", ip(), 3.0, 3.0), Ok(Counted::Reached));
    }
}
