//! The policy half of a jail: what happens to a failure after a filter found it.
//!
//! [`tracker`] counts failures per address within `findtime` (by the time in the log
//! line, as Fail2ban does) and says when an address has reached `maxretry`;
//! [`ignore`] decides which addresses are never banned; [`bans`] holds the bans in
//! force, computes their duration (including `bantime.increment`) and says which
//! expire next. Nothing here reads files, touches the firewall or the database.

pub mod bans;
pub mod ignore;
pub mod tracker;

/// A map keyed by address, hashed with a random key per map (the addresses are
/// chosen by whoever writes to the logs) by a faster hash than the standard one:
/// every failure looks its address up.
pub type AddressMap<V> =
    std::collections::HashMap<std::net::IpAddr, V, foldhash::fast::RandomState>;

pub use bans::{Ban, BanList, BanPolicy};
pub use ignore::IgnoreList;
pub use tracker::{FailTracker, FailureEvent, Offence};
