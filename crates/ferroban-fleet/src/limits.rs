//! Limits on what other hosts can make this one do: received bans per origin and
//! in total (token buckets), and complaints about bad input logged at most once a
//! minute per origin.
//!
//! Owns only the arithmetic; the caller counts and logs what is refused.

use std::collections::HashMap;

use crate::Refusal;

/// Bursts may use this many seconds' worth of the rate at once (a host joining
/// receives every ban in force in one go).
const BURST_SECONDS: f64 = 100.0;
/// Complaints about one origin are logged at most this often (seconds).
const COMPLAINT_INTERVAL: f64 = 60.0;

/// A token bucket: `rate` per second, holding up to `rate * BURST_SECONDS`.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    updated: f64,
}

impl Bucket {
    fn full(rate: f64, now: f64) -> Bucket {
        Bucket {
            tokens: rate * BURST_SECONDS,
            updated: now,
        }
    }

    fn refill(&mut self, rate: f64, now: f64) {
        let elapsed = (now - self.updated).max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(rate * BURST_SECONDS);
        self.updated = now;
    }
}

/// The rate limits on received bans.
#[derive(Debug)]
pub struct RateLimits {
    origin_rate: f64,
    total_rate: f64,
    origins: HashMap<String, Bucket>,
    total: Option<Bucket>,
}

impl RateLimits {
    pub fn new(origin_rate: u32, total_rate: u32) -> RateLimits {
        RateLimits {
            origin_rate: f64::from(origin_rate),
            total_rate: f64::from(total_rate),
            origins: HashMap::new(),
            total: None,
        }
    }

    /// Take one ban from `origin` at `now`, or say which limit it is over.
    pub fn admit(&mut self, origin: &str, now: f64) -> Result<(), Refusal> {
        let total = self
            .total
            .get_or_insert_with(|| Bucket::full(self.total_rate, now));
        total.refill(self.total_rate, now);
        let own = match self.origins.get_mut(origin) {
            Some(b) => b,
            None => self
                .origins
                .entry(origin.to_string())
                .or_insert_with(|| Bucket::full(self.origin_rate, now)),
        };
        own.refill(self.origin_rate, now);
        if own.tokens < 1.0 {
            return Err(Refusal::RateOrigin);
        }
        if total.tokens < 1.0 {
            return Err(Refusal::RateTotal);
        }
        own.tokens -= 1.0;
        total.tokens -= 1.0;
        Ok(())
    }
}

/// Remembers when each origin was last complained about.
#[derive(Debug, Default)]
pub struct Complaints {
    last: HashMap<String, f64>,
}

impl Complaints {
    /// Whether a complaint about `origin` at `now` is to be logged (at most one a
    /// minute per origin); the others are only counted.
    pub fn should_log(&mut self, origin: &str, now: f64) -> bool {
        match self.last.get_mut(origin) {
            Some(t) if now - *t < COMPLAINT_INTERVAL => false,
            Some(t) => {
                *t = now;
                true
            }
            None => {
                self.last.insert(origin.to_string(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_origin_is_held_to_its_rate_and_the_others_go_on() {
        let mut limits = RateLimits::new(10, 1000);
        let burst = (10.0 * BURST_SECONDS) as usize;
        for _ in 0..burst {
            limits.admit("web2", 0.0).unwrap();
        }
        assert_eq!(limits.admit("web2", 0.0), Err(Refusal::RateOrigin));
        assert_eq!(limits.admit("web3", 0.0), Ok(()), "another origin");
        assert_eq!(limits.admit("web2", 1.0), Ok(()), "refilled after 1 s");
    }

    #[test]
    fn the_total_holds_all_origins_together() {
        let mut limits = RateLimits::new(1000, 1);
        let burst = BURST_SECONDS as usize;
        for i in 0..burst {
            limits.admit(&format!("h{i}"), 0.0).unwrap();
        }
        assert_eq!(limits.admit("fresh", 0.0), Err(Refusal::RateTotal));
    }

    #[test]
    fn complaints_once_a_minute_per_origin() {
        let mut c = Complaints::default();
        assert!(c.should_log("web2", 0.0));
        assert!(!c.should_log("web2", 30.0));
        assert!(c.should_log("web3", 30.0));
        assert!(c.should_log("web2", 61.0));
    }
}
