//! A running jail: its filter, fail tracker, bans, ignore list and actions.
//!
//! Owns the path of one line through one jail: prefilter, filter, the age check
//! against `findtime`, address parsing (only a valid IP address goes further),
//! the ignore list, and the fail tracker, which says when to ban. Making the ban
//! (its duration, the database, the log line) is the server's job, because bans
//! of several jails are committed together.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use ferroban_actions::{ActionRunner, BanTicket};
use ferroban_config::jail::{Backend, JailConfig};
use ferroban_filter::{Filter, Value};
use ferroban_jail::ignore::IgnoreReason;
use ferroban_jail::{Ban, BanList, BanPolicy, FailTracker, FailureEvent, IgnoreList, Offence};

use super::log::{time_text, Component, Logger};
use ferroban_actions::Severity;

/// Counters shown by `status` and worth watching.
#[derive(Debug, Default, Clone)]
pub struct JailStats {
    /// Failures older than `findtime` when read (replayed logs).
    pub too_old: u64,
    /// Failure ids that are not IP addresses and could not be resolved.
    pub not_an_address: u64,
    pub ignored: u64,
}

pub struct Jail {
    pub config: JailConfig,
    filter: Filter,
    /// The last line the prefilter skipped (its date may be borrowed by the next).
    skipped_line: String,
    has_skipped: bool,
    pub tracker: FailTracker,
    pub bans: BanList,
    pub ignore: IgnoreList,
    pub policy: BanPolicy,
    pub runner: Option<ActionRunner>,
    patterns: Vec<glob::Pattern>,
    pub stats: JailStats,
    pub metrics: super::metrics::JailMetrics,
}

/// Build the filter of a jail configuration.
pub fn build_filter(config: &JailConfig) -> Result<Filter, String> {
    let tz = jiff::tz::TimeZone::system();
    let year = jiff::Zoned::now().year();
    let mut filter = Filter::new(&config.filter, config.logtimezone.as_deref(), tz, year)
        .map_err(|e| format!("jail [{}], filter {}: {e}", config.name, config.filter.name))?;
    filter.ignore_pending = true;
    Ok(filter)
}

impl Jail {
    /// A jail from its configuration (its actions are not started yet).
    pub fn new(config: JailConfig) -> Result<Jail, String> {
        let filter = build_filter(&config)?;
        let ignore = IgnoreList::new(
            &config.ignoreip,
            config.ignoreself,
            config.ignorecommand.clone(),
        )
        .map_err(|e| format!("jail [{}]: {e}", config.name))?;
        let patterns = config
            .logpaths
            .iter()
            .filter_map(|p| glob::Pattern::new(&p.display().to_string()).ok())
            .collect();
        Ok(Jail {
            tracker: FailTracker::new(config.findtime, config.maxretry, config.maxmatches),
            bans: BanList::default(),
            policy: BanPolicy {
                bantime: config.bantime,
                increment: config.increment.clone(),
            },
            ignore,
            patterns,
            filter,
            skipped_line: String::new(),
            has_skipped: false,
            runner: None,
            stats: JailStats::default(),
            metrics: Default::default(),
            config,
        })
    }

    /// Take the configuration of `fresh`, a newly built jail of the same name;
    /// counts and bans are kept.
    pub fn reconfigure(&mut self, fresh: Jail) {
        self.filter = fresh.filter;
        self.ignore = fresh.ignore;
        self.patterns = fresh.patterns;
        self.policy = fresh.policy;
        self.tracker.set_policy(
            fresh.config.findtime,
            fresh.config.maxretry,
            fresh.config.maxmatches,
        );
        self.config = fresh.config;
    }

    /// Regex searches given up at the back-tracking step bound (hostile lines).
    pub fn abandoned_searches(&self) -> u64 {
        self.filter.abandoned_searches()
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn is_journal(&self) -> bool {
        matches!(self.config.backend, Backend::Systemd { .. })
    }

    /// Whether this jail reads `path`.
    pub fn watches(&self, path: &Path) -> bool {
        !self.is_journal() && self.patterns.iter().any(|p| p.matches_path(path))
    }

    /// Run one line through the jail. `time` is given for journal entries. Returns
    /// the addresses that reached `maxretry`.
    pub fn process_line(
        &mut self,
        line: &str,
        time: Option<f64>,
        now: f64,
        replay: bool,
        log: &Logger,
    ) -> Vec<Offence> {
        if time.is_none() {
            if let Some(pf) = self.filter.prefilter() {
                if !pf.may_match(line.as_bytes()) {
                    self.skipped_line.clear();
                    self.skipped_line.push_str(line);
                    self.has_skipped = true;
                    return Vec::new();
                }
            }
            if self.has_skipped {
                self.has_skipped = false;
                self.filter.observe_date(&self.skipped_line, now as i64);
            }
        }
        let result = match time {
            Some(t) => self.filter.process_dated_line(line, t),
            None => self.filter.process_line(line, now as i64),
        };
        let mut offences = Vec::new();
        for failure in result.failures.iter().filter(|f| !f.is_nofail()) {
            let when = failure.time.unwrap_or(now);
            if !replay && when < now - self.config.findtime {
                self.stats.too_old += 1;
                continue;
            }
            let fields: Vec<(String, String)> = failure
                .data
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "ip4" | "ip6" | "dns" | "host" | "fid" | "mlfid" | "matches"
                    )
                })
                .filter_map(|(k, v)| match v {
                    Value::Text(Some(t)) => Some((k.clone(), t.clone())),
                    _ => None,
                })
                .collect();
            for ip in self.addresses(&failure.id, log) {
                if let Some(reason) = self.ignore.check(ip) {
                    self.stats.ignored += 1;
                    let by = match reason {
                        IgnoreReason::Listed(_) => "ip".to_string(),
                        IgnoreReason::OwnAddress => "ignoreself rule".to_string(),
                        IgnoreReason::Command => "command".to_string(),
                    };
                    log.log(
                        Component::Filter,
                        Severity::Info,
                        &format!("[{}] Ignore {ip} by {by}", self.config.name),
                    );
                    continue;
                }
                log.log(
                    Component::Filter,
                    Severity::Info,
                    &format!("[{}] Found {ip} - {}", self.config.name, time_text(when)),
                );
                let event = FailureEvent {
                    ip,
                    time: when,
                    matches: failure.matches().to_vec(),
                    fields: fields.clone(),
                };
                let evicted = self.tracker.evicted();
                offences.extend(self.tracker.add(event));
                if self.tracker.evicted() > evicted {
                    log.log(
                        Component::Filter,
                        Severity::Warning,
                        &format!(
                            "[{}] {} addresses with failures: the limit (maxtrackedaddresses); \
                             forgot the {} with the oldest failures",
                            self.config.name,
                            self.tracker.currently_failed()
                                + (self.tracker.evicted() - evicted) as usize
                                - 1,
                            self.tracker.evicted() - evicted
                        ),
                    );
                }
            }
        }
        offences
    }

    /// The addresses a failure id stands for: itself if it is an address, else its
    /// DNS addresses when `usedns` allows.
    fn addresses(&mut self, id: &str, log: &Logger) -> Vec<IpAddr> {
        let id = id.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = id.parse::<IpAddr>() {
            return vec![ip];
        }
        let usedns = self.config.usedns.to_lowercase();
        let valid_name = !id.is_empty()
            && id.len() <= 253
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if usedns == "no" || usedns == "raw" || !valid_name {
            self.stats.not_an_address += 1;
            return Vec::new();
        }
        let addrs: Vec<IpAddr> = (id, 0)
            .to_socket_addrs()
            .map(|a| a.map(|sa| sa.ip()).collect())
            .unwrap_or_default();
        if usedns == "warn" {
            log.log(
                Component::Filter,
                Severity::Warning,
                &format!(
                    "[{}] Determined IP using DNS Lookup: {id} = {addrs:?}",
                    self.config.name
                ),
            );
        }
        if addrs.is_empty() {
            self.stats.not_an_address += 1;
        }
        addrs
    }
}

/// The actions' view of a ban.
pub fn ticket(ban: &Ban, restored: bool) -> BanTicket {
    BanTicket {
        ip: ban.ip,
        failures: ban.failures,
        time: ban.start,
        bantime: ban.duration,
        bancount: ban.count,
        matches: ban.matches.clone(),
        fields: ban.fields.clone(),
        restored,
    }
}
