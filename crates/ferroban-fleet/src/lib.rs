//! ferroban's fleet: hosts share bans and fleet-wide failure counts through NATS
//! JetStream (nats-server 2.9 and later).
//!
//! A KV bucket holds the bans in force, one key per origin host, jail and address
//! (`web2.sshd.192_0_2_7`); a watch on it gives the snapshot and then live updates,
//! so joining and propagation are one mechanism. A stream carries failures for
//! `fleetmaxretry` counting. The connection lives on its own thread ([`link`]);
//! the server talks to it only through [`FleetCommand`]s (never blocking) and
//! hears back through [`FleetEvent`]s. What a received ban does on this host — the
//! ignore lists, rate limits, the jail's action — is decided by the server with
//! the helpers here ([`limits`], [`counter`]); nothing in this crate touches the
//! firewall or the database.

pub mod authz;
pub mod counter;
pub mod limits;
pub mod link;
pub mod wire;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub use link::FleetLink;

/// A ban published by another host, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetBan {
    pub origin: String,
    pub jail: String,
    pub ip: IpAddr,
    pub start: f64,
    /// Epoch seconds; `None`: permanent at the origin.
    pub end: Option<f64>,
    /// The failures that caused the ban at the origin (`None`: a host that does
    /// not send them).
    pub failures: Option<u32>,
}

/// An origin lifting its ban.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetLift {
    pub origin: String,
    pub jail: String,
    pub ip: IpAddr,
}

/// A failure seen by some host (this one included), for fleet counting.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetFailure {
    pub origin: String,
    pub jail: String,
    pub ip: IpAddr,
    pub time: f64,
}

/// What this host sends to the fleet.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A ban in force until `end` (`None`: permanent), caused by `failures`.
    Ban {
        jail: String,
        ip: IpAddr,
        start: f64,
        end: Option<f64>,
        failures: u32,
    },
    /// A ban lifted by hand: lifted everywhere.
    Unban { jail: String, ip: IpAddr, at: f64 },
    /// A ban that ended on its own: its key is deleted (which lifts nothing).
    Ended { jail: String, ip: IpAddr },
}

/// The server's orders to the fleet thread.
#[derive(Debug)]
pub enum FleetCommand {
    /// Publish these; the ids (outbox rows) come back in [`FleetEvent::Published`]
    /// once the engine stored them. Dropped while disconnected: the outbox keeps them.
    Publish(Vec<(Option<i64>, Outgoing)>),
    /// A failure of a jail with `fleetmaxretry`. While the engine is away the
    /// last 10,000 are kept, and those still within findtime published when it
    /// returns.
    Failure {
        jail: String,
        ip: IpAddr,
        time: f64,
    },
    Stop,
}

/// Log levels of the fleet's own lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Info,
}

/// What the fleet thread tells the server.
#[derive(Debug)]
pub enum FleetEvent {
    /// Connected to the engine. `republish_since`: this host's bans made since then
    /// may be missing there (all of them when `None`: the engine is new or lost its
    /// storage); the outbox is to be sent again in any case.
    Connected {
        republish_since: Option<f64>,
    },
    /// Outbox rows the engine stored.
    Published(Vec<i64>),
    Bans(Vec<FleetBan>),
    Lifts(Vec<FleetLift>),
    Failures(Vec<FleetFailure>),
    Log(Level, String),
}

/// Why a received ban or failure was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    Malformed,
    Oversized,
    BadAddress,
    /// The claimed origin is not the name it was published under.
    Impersonation,
    Expired,
    FarFuture,
    UnknownJail,
    /// The jail here does not apply fleet bans (`fleet = off` or `publish`).
    NotApplied,
    /// The receiving jail's ignoreip, ignoreself, ignorecommand or loopback rule.
    Ignored,
    RateOrigin,
    RateTotal,
    /// The receiving jail holds `maxbans` bans already.
    JailFull,
    /// A failure dated more than [`counter::MAX_SKEW`] ahead of this host's clock.
    AheadOfClock,
    /// A failure dated before the receiving jail's `findtime`.
    Stale,
    /// A failure not counted because its origin's share of the fleet counter
    /// (or the whole counter) is full.
    CounterFull,
    /// A ban an admin lifted here by hand (`ferroban unban`), sent again (the
    /// engine replays the bans in force on every connection).
    LiftedHere,
    /// A failure dated before a ban of its address here, which took it (a
    /// restart reads the stream back over `findtime`).
    Consumed,
}

impl Refusal {
    /// The name shown in `ferroban fleet` and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Oversized => "oversized",
            Refusal::BadAddress => "bad_address",
            Refusal::Impersonation => "impersonation",
            Refusal::Expired => "expired",
            Refusal::FarFuture => "far_future",
            Refusal::UnknownJail => "unknown_jail",
            Refusal::NotApplied => "not_applied",
            Refusal::Ignored => "ignored",
            Refusal::RateOrigin => "rate_origin",
            Refusal::RateTotal => "rate_total",
            Refusal::JailFull => "jail_full",
            Refusal::AheadOfClock => "ahead_of_clock",
            Refusal::Stale => "stale",
            Refusal::CounterFull => "counter_full",
            Refusal::LiftedHere => "lifted_here",
            Refusal::Consumed => "consumed",
        }
    }
}

/// The fleet's figures, shared by the fleet thread and the server.
///
/// Bans and lifts from other hosts add up: `received` = `applied` +
/// `already_held` + `lifts` + `refused_received` (this host's own entries, as the
/// bucket echoes them, are not received).
#[derive(Debug, Default, Clone)]
pub struct FleetStats {
    pub connected: bool,
    /// Why the last connection attempt or session failed, and when (epoch
    /// seconds); kept after reconnecting, so that a flapping link can be read.
    pub last_error: Option<(String, f64)>,
    /// Another process seen publishing under this host's name (a cloned
    /// configuration), and when: a problem while connected, so kept apart from
    /// `last_error`, and shown whether or not the link is up.
    pub twin: Option<(String, f64)>,
    /// Hosts seen (this one included) and when they were last active, epoch
    /// seconds: when the engine stored their latest ban, lift or failure (never
    /// later than this host's clock), and for this host its latest publication.
    /// Messages read back at a restart or reconnection keep their own times.
    pub hosts: BTreeMap<String, f64>,
    /// Bans and lifts received from other hosts.
    pub received: u64,
    /// Received bans applied here.
    pub applied: u64,
    /// Received bans of addresses this jail already bans (nothing to do).
    pub already_held: u64,
    /// Received lifts (an origin's unban values), whether or not they lifted a
    /// ban here.
    pub lifts: u64,
    /// Received bans and lifts refused (their reasons are in `refused`).
    pub refused_received: u64,
    /// Failures received for fleet counting (this host's own included).
    pub failures_received: u64,
    /// Failures received and refused (their reasons are in `refused`).
    pub failures_refused: u64,
    /// Received bans, lifts and failures refused, by reason.
    pub refused: BTreeMap<Refusal, u64>,
    /// Messages the engine confirmed it stored (bans, lifts, failures).
    pub published: u64,
    /// This host's publications the engine did not confirm (refused, or no
    /// answer in time); outbox rows among them are sent again.
    pub unconfirmed: u64,
}

pub type SharedStats = Arc<Mutex<FleetStats>>;

/// What a refusal was about, for the figures that must add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A ban or lift from the bucket.
    Entry,
    /// A failure from the failures' stream.
    Failure,
}

/// Count a refusal in `stats`.
pub fn count_refusal(stats: &SharedStats, what: Refused, why: Refusal) {
    if let Ok(mut s) = stats.lock() {
        *s.refused.entry(why).or_default() += 1;
        match what {
            Refused::Entry => s.refused_received += 1,
            Refused::Failure => s.failures_refused += 1,
        }
    }
}
