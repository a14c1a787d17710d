//! What a ban does outside ferroban: the actions.
//!
//! [`tags`] fills an `action.d` command with the action's parameters and the ban's
//! values; values that came from a log line never enter the script text, they are
//! passed as environment variables. [`command`] runs the operations of one action
//! (`actionstart` per address family, `actionban`, `actioncheck`/`actionrepair` on
//! failure, …), batching many bans into one shell. [`runner`] gives each jail a
//! worker thread, so a slow action never stalls reading logs, and retries failures.
//! Nothing here decides whether to ban: a [`BanTicket`] is an order.

pub mod command;
pub mod iptables;
pub mod nftables;
pub mod runner;
pub mod tags;

use std::net::IpAddr;

pub use runner::{
    missing_firewall_tool, refused_firewall_rule, ActionRunner, Report, RestoreSink, Severity,
};
pub use tags::{uses_failure_fields, uses_matched_lines};

/// Where an action's messages go.
pub type Log<'a> = &'a dyn Fn(Severity, String);

/// One action of a jail, as the runner drives it.
pub trait Action: Send {
    fn name(&self) -> &str;
    /// Prepare (`actionstart`); false if that failed (bans are then retried).
    fn start(&mut self, log: Log) -> bool;
    /// Ban; returns the tickets whose ban failed even after repair.
    fn ban(&mut self, tickets: &[BanTicket], log: Log) -> Vec<BanTicket>;
    fn unban(&mut self, tickets: &[BanTicket], log: Log);
    /// Remove every ban still in place (`banned`) and undo `start`.
    fn stop(&mut self, banned: &[BanTicket], log: Log);
    /// Whether the action rebuilt what `start` set up since it was last asked: the
    /// firewall had lost it (a flushed ruleset, a deleted chain), and with it every
    /// ban made before, which must be made again. Only what failed and was repaired
    /// counts, never a first start.
    fn take_repaired(&mut self) -> bool {
        false
    }
    /// Look whether what `start` set up is still in the firewall, and rebuild it
    /// if not (then [`Action::take_repaired`] says so). Asked now and then while no
    /// ban comes, so that a ruleset flushed under the jail (`systemctl reload
    /// nftables`) is not left empty until the next ban. Only where looking is cheap.
    fn verify(&mut self, _log: Log) {}
}

/// One ban (or unban) for the actions, with every value a tag may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct BanTicket {
    pub ip: IpAddr,
    pub failures: u32,
    /// Ban start, epoch seconds.
    pub time: f64,
    /// Seconds; negative means permanent.
    pub bantime: f64,
    pub bancount: u32,
    pub matches: Vec<std::sync::Arc<str>>,
    /// Captured fields (`user`, …, or `F-USER` names), from the log line.
    pub fields: Vec<(String, String)>,
    /// Restored from the database at start (actions with `norestored` skip it).
    pub restored: bool,
}

impl BanTicket {
    /// `inet4` or `inet6`, as Fail2ban's `<family>`.
    pub fn family(&self) -> &'static str {
        match self.ip {
            IpAddr::V4(_) => "inet4",
            IpAddr::V6(_) => "inet6",
        }
    }
}

/// An action definition for tests: action.d file name `file` with `options`, read
/// from no file (as a built-in action is).
#[cfg(test)]
pub(crate) fn test_definition(
    file: &str,
    options: &[(&str, &str)],
) -> ferroban_config::action::ActionDefinition {
    ferroban_config::action::ActionDefinition {
        name: file.into(),
        file: file.into(),
        files: vec![],
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        init_options: vec![],
    }
}

/// A ticket for tests: one failure, banned for 60 s.
#[cfg(test)]
pub(crate) fn test_ticket(ip: &str) -> BanTicket {
    BanTicket {
        ip: ip.parse().expect("a test address"),
        failures: 1,
        time: 0.0,
        bantime: 60.0,
        bancount: 1,
        matches: vec![],
        fields: vec![],
        restored: false,
    }
}
