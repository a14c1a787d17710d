//! Fleet-wide failure counting for one jail (`fleetmaxretry`).
//!
//! Every host sees the same stream of failures, so every host reaches the same
//! verdict on its own. Each origin counts for at most `maxretry - 1` failures per
//! address within `findtime`, so one host alone (honest or not) never causes a
//! fleet ban: its own `maxretry` bans locally first.

use std::collections::HashMap;
use std::net::IpAddr;

/// Addresses counted at once; beyond it the ones with the oldest failures go.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug)]
pub struct FleetCounter {
    findtime: f64,
    per_origin: usize,
    limit: usize,
    failures: HashMap<IpAddr, Vec<(String, f64)>>,
}

impl FleetCounter {
    /// A counter banning at `limit` failures within `findtime`, each origin
    /// counting for at most `maxretry - 1`.
    pub fn new(findtime: f64, maxretry: u32, limit: u32) -> FleetCounter {
        FleetCounter {
            findtime,
            per_origin: maxretry.saturating_sub(1).max(1) as usize,
            limit: limit.max(1) as usize,
            failures: HashMap::new(),
        }
    }

    /// Count a failure of `ip` seen by `origin` at `time`; `true` when the fleet
    /// total reached the limit (the address is then forgotten).
    pub fn add(&mut self, origin: &str, ip: IpAddr, time: f64, now: f64) -> bool {
        if time < now - self.findtime {
            return false;
        }
        if self.failures.len() >= MAX_ADDRESSES && !self.failures.contains_key(&ip) {
            self.expire(now);
            if self.failures.len() >= MAX_ADDRESSES {
                return false;
            }
        }
        let list = self.failures.entry(ip).or_default();
        list.retain(|(_, t)| *t >= now - self.findtime);
        if list.iter().filter(|(o, _)| o == origin).count() >= self.per_origin {
            return false;
        }
        list.push((origin.to_string(), time));
        if list.len() >= self.limit {
            self.failures.remove(&ip);
            return true;
        }
        false
    }

    /// Forget failures older than `findtime`.
    pub fn expire(&mut self, now: f64) {
        let since = now - self.findtime;
        self.failures.retain(|_, list| {
            list.retain(|(_, t)| *t >= since);
            !list.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    #[test]
    fn two_and_two_reach_four_one_host_alone_never_does() {
        let mut c = FleetCounter::new(600.0, 3, 4);
        assert!(!c.add("a", ip(), 1.0, 1.0));
        assert!(!c.add("a", ip(), 2.0, 2.0));
        for t in 3..10 {
            assert!(
                !c.add("a", ip(), f64::from(t), f64::from(t)),
                "one host counts for maxretry - 1 at most"
            );
        }
        assert!(!c.add("b", ip(), 10.0, 10.0));
        assert!(c.add("b", ip(), 11.0, 11.0), "2 + 2 = fleetmaxretry");
    }

    #[test]
    fn failures_older_than_findtime_do_not_count() {
        let mut c = FleetCounter::new(60.0, 3, 4);
        c.add("a", ip(), 0.0, 0.0);
        c.add("a", ip(), 1.0, 1.0);
        c.add("b", ip(), 100.0, 100.0);
        assert!(!c.add("b", ip(), 101.0, 101.0), "a's two are too old");
        assert!(!c.add("c", ip(), 10.0, 101.0), "itself too old");
    }
}
