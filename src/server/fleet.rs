//! The server's side of the fleet: what this host publishes, and what it does
//! with what the other hosts publish.
//!
//! Owns the receiver's decisions — the receiving jail's ignoreip, ignoreself,
//! ignorecommand and loopback rule, its fleet mode, the rate limits per origin
//! and in total, the cap `fleetmaxbantime`, fleet-wide failure counting — and
//! the outbox (this host's bans and lifts, in the database until the engine
//! stored them). The connection itself is the fleet thread's
//! ([`ferroban_fleet::FleetLink`]); nothing here waits on the network.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use ferroban_actions::Severity;
use ferroban_config::fleet::{FleetAuth, FleetMode, FleetSettings};
use ferroban_db::{OutboxEntry, OutboxKind};
use ferroban_fleet::counter::{Counted, FleetCounter, ORIGIN_SHARE};
use ferroban_fleet::limits::{Complaints, RateLimits};
use ferroban_fleet::link::Lookback;
use ferroban_fleet::{
    count_refusal, FleetBan, FleetCommand, FleetEvent, FleetFailure, FleetLift, FleetLink,
    FleetStats, Level, Outgoing, Refusal, Refused, SharedStats,
};
use ferroban_jail::Ban;
use serde_json::{json, Value};

use super::jail::Jail;
use super::log::Component;
use super::{now, Event, Server};

/// The fleet as the server holds it.
pub struct Fleet {
    link: FleetLink,
    settings: FleetSettings,
    /// What the link was started with: a reload that changes it restarts the link.
    lookback: Lookback,
    stats: SharedStats,
    limits: RateLimits,
    complaints: Complaints,
    /// When each jail's fleet counter was last said to be full.
    full_complaints: Complaints,
    /// Fleet-wide failure counts, per jail name.
    counters: HashMap<String, FleetCounter>,
    /// Received bans lifted here (by hand, or as their origin lifted them), and
    /// this host's own bans lifted by hand (which cover every origin's ban of the
    /// address: the others' bans arrived while this host held its own, and were
    /// not applied). The engine sends every ban in force again on each connection
    /// (and at start), so without this a lift by hand lasted until the next
    /// reconnection. A ban the origin made before the lift is not applied again; a
    /// newer one is (a new offence). Read at start from the database's lifted
    /// bans, which keep their origin (so a mark lasts `dbpurgeage` after the lift).
    lifted_here: LiftedHere,
}

/// Received bans lifted here, by address: each with its jail, its origin (or
/// [`ANY_ORIGIN`]) and when.
#[derive(Default)]
struct LiftedHere(HashMap<IpAddr, Vec<Lift>>);

/// The origin of the lift of a ban this host made itself: it covers the bans of
/// every origin made before it. Not a host name (those are fleet tokens).
const ANY_ORIGIN: &str = "*";

struct Lift {
    jail: String,
    origin: String,
    at: f64,
}

impl LiftedHere {
    /// Note that `origin`'s ban of `ip` in `jail` was lifted here at `at`.
    fn note(&mut self, jail: &str, ip: IpAddr, origin: &str, at: f64) {
        let lifts = self.0.entry(ip).or_default();
        match lifts
            .iter_mut()
            .find(|l| l.jail == jail && l.origin == origin)
        {
            Some(l) => l.at = l.at.max(at),
            None => lifts.push(Lift {
                jail: jail.to_string(),
                origin: origin.to_string(),
                at,
            }),
        }
    }

    /// Whether `b` is a ban lifted here (or an older one of the same origin, or
    /// of any origin older than a lift of this host's own ban); a newer ban of its
    /// origin ends that origin's mark. No allocation: a join replays every ban in
    /// force.
    fn covers(&mut self, b: &FleetBan) -> bool {
        let Some(lifts) = self.0.get_mut(&b.ip) else {
            return false;
        };
        let marks = |l: &Lift| l.jail == b.jail && (l.origin == b.origin || l.origin == ANY_ORIGIN);
        if lifts.iter().any(|l| marks(l) && b.start <= l.at) {
            return true;
        }
        lifts.retain(|l| !(l.jail == b.jail && l.origin == b.origin));
        if lifts.is_empty() {
            self.0.remove(&b.ip);
        }
        false
    }
}

/// How far back the fleet's failures matter to `jails`: the longest `findtime` of
/// those that count the fleet's failures (`fleetmaxretry`, applying), and of
/// those that publish their failures (`fleetmaxretry`, publishing).
fn fleet_lookback(jails: &[Jail]) -> Lookback {
    let longest = |takes_part: fn(FleetMode) -> bool| {
        jails
            .iter()
            .filter(|j| j.config.fleetmaxretry.is_some() && takes_part(j.config.fleet))
            .map(|j| j.config.findtime)
            .reduce(f64::max)
    };
    Lookback {
        counted: longest(FleetMode::applies),
        published: longest(FleetMode::publishes).unwrap_or(0.0),
    }
}

/// Start the fleet thread when the configuration has a `[Fleet]` section.
/// `kept`: the figures of the link it replaces (a reload of `[Fleet]`), which
/// count since the server started; none at start.
pub fn start(
    settings: Option<FleetSettings>,
    jails: &[Jail],
    events: SyncSender<Event>,
    kept: Option<FleetStats>,
) -> Result<Option<Fleet>> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    let lookback = fleet_lookback(jails);
    let stats = FleetStats {
        connected: false,
        ..kept.unwrap_or_default()
    };
    let stats: SharedStats = Arc::new(Mutex::new(stats));
    let sink = Arc::new(move |e| events.send(Event::Fleet(e)).is_ok());
    let link = FleetLink::start(settings.clone(), lookback, sink, stats.clone())?;
    Ok(Some(Fleet {
        link,
        lookback,
        limits: RateLimits::new(settings.hostrate, settings.totalrate),
        settings,
        stats,
        full_complaints: Complaints::default(),
        complaints: Complaints::default(),
        lifted_here: LiftedHere::default(),
        counters: HashMap::new(),
    }))
}

impl Fleet {
    pub fn stop(self) {
        self.link.stop();
    }
}

fn level(l: Level) -> Severity {
    match l {
        Level::Error => Severity::Error,
        Level::Warning => Severity::Warning,
        Level::Notice => Severity::Notice,
        Level::Info => Severity::Info,
    }
}

/// The end of a received ban here: the origin's, capped by `fleetmaxbantime`.
fn received_end(origin_end: Option<f64>, cap: Option<f64>, now: f64) -> Option<f64> {
    match (origin_end, cap.map(|c| now + c)) {
        (Some(end), Some(capped)) => Some(end.min(capped)),
        (end, None) => end,
        (None, capped) => capped,
    }
}

/// `name` from `names`, added when missing.
fn shared_name(names: &mut Vec<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(n) = names.iter().find(|n| &***n == name) {
        return n.clone();
    }
    let n: Arc<str> = Arc::from(name);
    names.push(n.clone());
    n
}

/// What the outbox row `e` asks to publish, a ban caused by `failures` (`None`:
/// an address that does not parse, which ferroban never writes).
fn outgoing(e: &OutboxEntry, failures: u32) -> Option<Outgoing> {
    let ip: IpAddr = e.ip.parse().ok()?;
    let jail = e.jail.clone();
    Some(match e.kind {
        OutboxKind::Ban { start, end } => Outgoing::Ban {
            jail,
            ip,
            start,
            end,
            failures,
        },
        OutboxKind::Unban { at } => Outgoing::Unban { jail, ip, at },
    })
}

impl Server {
    fn fleet_log(&self, severity: Severity, text: &str) {
        self.log.log(Component::Server, severity, text);
    }

    /// Handle what the fleet thread says.
    pub(super) fn fleet_event(&mut self, event: FleetEvent) {
        match event {
            FleetEvent::Connected { republish_since } => self.fleet_connected(republish_since),
            FleetEvent::Published(ids) => {
                if let Err(e) = self.db.remove_from_outbox(&ids) {
                    self.fleet_log(Severity::Error, &e.to_string());
                }
            }
            FleetEvent::Bans(bans) => self.fleet_bans(bans),
            FleetEvent::Lifts(lifts) => self.fleet_lifts(lifts),
            FleetEvent::Failures(failures) => self.fleet_failures(failures),
            FleetEvent::Log(l, text) => self.fleet_log(level(l), &text),
        }
    }

    /// A reload's `[Fleet]` section: when it changed, the fleet thread is
    /// restarted with it (the outbox keeps what the old one had not published;
    /// the new one sends it again once connected). Without a section, this host
    /// leaves the fleet.
    pub(super) fn reload_fleet(&mut self, settings: Option<FleetSettings>) -> Result<()> {
        let running = self.fleet.as_ref().map(|f| (&f.settings, f.lookback));
        let lookback = fleet_lookback(&self.jails);
        let note = match (running, &settings) {
            (Some((old, old_lookback)), Some(new)) if old == new => {
                if old_lookback == lookback {
                    return Ok(());
                }
                "fleet: the jails' fleet, fleetmaxretry or findtime changed how far back \
                 failures matter; reconnecting"
            }
            (None, None) => return Ok(()),
            (_, Some(_)) => "fleet: [Fleet] changed; reconnecting with the new settings",
            (_, None) => {
                "fleet: [Fleet] removed; leaving the fleet (the bans received stay until they end)"
            }
        };
        self.fleet_log(Severity::Notice, note);
        let mut kept = None;
        if let Some(old) = self.fleet.take() {
            kept = old.stats.lock().ok().map(|s| s.clone());
            // a twin of the old name is no twin of a new one
            let renamed = settings.as_ref().map(|s| &s.name) != Some(&old.settings.name);
            if let Some(stats) = kept.as_mut().filter(|_| renamed) {
                stats.twin = None;
            }
            old.stop();
        }
        self.start_fleet(settings, kept)
    }

    /// Join the fleet of `settings` (none: stay out): warn when its password is
    /// in a file other users can read, start the fleet thread, and read which
    /// received bans were lifted here. The counters are filled by
    /// [`Server::reset_fleet_counters`], which start and reload run next.
    pub(super) fn start_fleet(
        &mut self,
        settings: Option<FleetSettings>,
        kept: Option<FleetStats>,
    ) -> Result<()> {
        if let Some(warning) = settings
            .as_ref()
            .and_then(FleetSettings::readable_secret_warning)
        {
            self.log.log(Component::Server, Severity::Warning, &warning);
        }
        self.fleet = start(settings, &self.jails, self.events.clone(), kept)?;
        self.load_lifted_here();
        Ok(())
    }

    /// Read the received bans lifted here from the database (see
    /// [`Fleet::lifted_here`]).
    pub(super) fn load_lifted_here(&mut self) {
        let Some(f) = self.fleet.as_mut() else {
            return;
        };
        match self.db.lifted_bans() {
            Ok(rows) => {
                for lifted in rows {
                    if let Ok(ip) = lifted.ip.parse() {
                        let origin = lifted.origin.as_deref().unwrap_or(ANY_ORIGIN);
                        f.lifted_here.note(&lifted.jail, ip, origin, lifted.at);
                    }
                }
            }
            Err(e) => self
                .log
                .log(Component::Database, Severity::Error, &e.to_string()),
        }
    }

    /// Empty the fleet counters (a reload may have changed the jails' limits) and
    /// mark in them the failures taken by the bans of the last `findtime`, read
    /// from the database: the engine sends the failures' stream back over
    /// `findtime` at start and on reconnection (see [`FleetCounter::consume`]).
    pub(super) fn reset_fleet_counters(&mut self) {
        let Some(f) = self.fleet.as_mut() else {
            return;
        };
        f.counters.clear();
        // No jail counts across the fleet: nothing to read (a scan of every ban).
        let Some(lookback) = fleet_lookback(&self.jails).counted else {
            return;
        };
        let recent = match self.db.latest_bans_since(now() - lookback) {
            Ok(rows) => rows,
            Err(e) => {
                self.log
                    .log(Component::Database, Severity::Error, &e.to_string());
                return;
            }
        };
        for (jail, ip, start) in recent {
            let idx = self.jails.iter().position(|j| j.name() == jail);
            if let (Some(idx), Ok(ip)) = (idx, ip.parse()) {
                self.fleet_consume(idx, ip, start);
            }
        }
    }

    /// Bans of jail `idx` were lifted here at `at`: those received from the fleet
    /// are not applied again when the engine sends them again (see
    /// [`Fleet::lifted_here`]).
    pub(super) fn note_lifted_here(&mut self, idx: usize, gone: &[Ban], at: f64) {
        let Some(f) = self.fleet.as_mut() else {
            return;
        };
        let jail = self.jails[idx].name();
        for b in gone {
            let origin = b.origin.as_deref().unwrap_or(ANY_ORIGIN);
            f.lifted_here.note(jail, b.ip, origin, at);
        }
    }

    /// Whether `b` is a ban lifted here (see [`LiftedHere::covers`]).
    fn lifted_here(&mut self, b: &FleetBan) -> bool {
        self.fleet.as_mut().is_some_and(|f| f.lifted_here.covers(b))
    }

    fn fleet_send(&self, command: FleetCommand) {
        if let Some(f) = &self.fleet {
            f.link.send(command);
        }
    }

    /// The engine is reachable: send the outbox again, and this host's bans in
    /// force that it may lack (all of them when it is new or was wiped).
    fn fleet_connected(&mut self, republish_since: Option<f64>) {
        self.publish_outbox();
        let mut items = Vec::new();
        for j in self.jails.iter().filter(|j| j.config.fleet.publishes()) {
            for b in j.bans.iter() {
                if b.origin.is_none() && republish_since.is_none_or(|t| b.start >= t) {
                    items.push((
                        None,
                        Outgoing::Ban {
                            jail: j.name().to_string(),
                            ip: b.ip,
                            start: b.start,
                            end: b.end(),
                            failures: b.failures,
                        },
                    ));
                }
            }
        }
        if !items.is_empty() {
            self.fleet_send(FleetCommand::Publish(items));
        }
    }

    /// Hand the outbox to the fleet thread (again: publishing is idempotent).
    fn publish_outbox(&mut self) {
        let items: Vec<(Option<i64>, Outgoing)> = match self.db.outbox() {
            Ok(rows) => rows
                .iter()
                .filter_map(|e| Some((Some(e.id), outgoing(e, self.failures_behind(e))?)))
                .collect(),
            Err(e) => {
                self.fleet_log(Severity::Error, &e.to_string());
                Vec::new()
            }
        };
        if !items.is_empty() {
            self.fleet_send(FleetCommand::Publish(items));
        }
    }

    /// The failures behind the ban an outbox row publishes, from the ban in
    /// force (0 once it is gone).
    fn failures_behind(&self, e: &OutboxEntry) -> u32 {
        let ip: Option<IpAddr> = e.ip.parse().ok();
        self.jails
            .iter()
            .find(|j| j.name() == e.jail)
            .zip(ip)
            .and_then(|(j, ip)| j.bans.get(&ip))
            .map_or(0, |b| b.failures)
    }

    /// Put this host's new bans (of jails that publish) in the outbox and hand
    /// them to the fleet thread. Called when the bans are committed.
    pub(super) fn publish_new_bans(&mut self) {
        if self.fleet.is_none() {
            return;
        }
        let entries: Vec<(OutboxEntry, u32)> = self
            .new_bans
            .iter()
            .filter(|(idx, b)| b.origin.is_none() && self.jails[*idx].config.fleet.publishes())
            .map(|(idx, b)| {
                let entry = OutboxEntry {
                    id: 0,
                    jail: self.jails[*idx].name().to_string(),
                    ip: b.ip.to_string(),
                    kind: OutboxKind::Ban {
                        start: b.start,
                        end: b.end(),
                    },
                };
                (entry, b.failures)
            })
            .collect();
        self.send_through_outbox(entries);
    }

    /// Lifts by hand of this host's bans are lifted everywhere.
    pub(super) fn publish_unbans(&mut self, idx: usize, gone: &[Ban]) {
        if self.fleet.is_none() || !self.jails[idx].config.fleet.publishes() {
            return;
        }
        let at = now();
        let entries: Vec<(OutboxEntry, u32)> = gone
            .iter()
            .filter(|b| b.origin.is_none())
            .map(|b| {
                let entry = OutboxEntry {
                    id: 0,
                    jail: self.jails[idx].name().to_string(),
                    ip: b.ip.to_string(),
                    kind: OutboxKind::Unban { at },
                };
                (entry, 0)
            })
            .collect();
        self.send_through_outbox(entries);
    }

    /// Store `entries` (each with the failures behind its ban) in the outbox and
    /// hand them to the fleet thread.
    fn send_through_outbox(&mut self, with_failures: Vec<(OutboxEntry, u32)>) {
        if with_failures.is_empty() {
            return;
        }
        let (entries, failures): (Vec<OutboxEntry>, Vec<u32>) = with_failures.into_iter().unzip();
        let ids: Vec<Option<i64>> = match self.db.add_to_outbox(&entries) {
            Ok(ids) => ids.into_iter().map(Some).collect(),
            Err(e) => {
                // Published without a row: a restart then republishes all bans in force.
                self.fleet_log(Severity::Error, &e.to_string());
                vec![None; entries.len()]
            }
        };
        let items = ids
            .into_iter()
            .zip(entries.iter().zip(failures))
            .filter_map(|(id, (e, n))| Some((id, outgoing(e, n)?)))
            .collect();
        self.fleet_send(FleetCommand::Publish(items));
    }

    /// This host's bans that ended on their own leave the bucket (which lifts
    /// nothing elsewhere: the receivers' own timers end them).
    pub(super) fn publish_ended(&self, jail: &str, gone: &[Ban]) {
        if self.fleet.is_none() {
            return;
        }
        let items: Vec<(Option<i64>, Outgoing)> = gone
            .iter()
            .filter(|b| b.origin.is_none())
            .map(|b| {
                (
                    None,
                    Outgoing::Ended {
                        jail: jail.to_string(),
                        ip: b.ip,
                    },
                )
            })
            .collect();
        if !items.is_empty() {
            self.fleet_send(FleetCommand::Publish(items));
        }
    }

    /// Hand the failures the jails collected for fleet counting to the fleet thread.
    /// Without a fleet they are dropped.
    pub(super) fn publish_failures(&mut self) {
        for j in &mut self.jails {
            let failures = std::mem::take(&mut j.fleet_failures);
            let Some(f) = &self.fleet else {
                continue;
            };
            for (ip, time) in failures {
                f.link.send(FleetCommand::Failure {
                    jail: j.config.name.clone(),
                    ip,
                    time,
                });
            }
        }
    }

    /// Count a refusal, and log it at most once a minute per origin.
    fn fleet_refuse(
        &mut self,
        what: Refused,
        origin: &str,
        why: Refusal,
        text: impl FnOnce() -> String,
    ) {
        let Some(f) = &mut self.fleet else {
            return;
        };
        count_refusal(&f.stats, what, why);
        if f.complaints.should_log(origin, now()) {
            let line = text();
            self.fleet_log(Severity::Notice, &line);
        }
    }

    /// The jail a fleet ban is for, if it exists and applies fleet bans.
    fn applying_jail(&mut self, origin: &str, jail: &str) -> Option<usize> {
        let Some(idx) = self.jails.iter().position(|j| j.name() == jail) else {
            self.refuse_unknown_jail(Refused::Entry, origin, jail);
            return None;
        };
        if !self.jails[idx].config.fleet.applies() {
            let mode = self.jails[idx].config.fleet.as_str();
            self.fleet_refuse(Refused::Entry, origin, Refusal::NotApplied, || {
                format!("fleet: [{jail}] does not apply fleet bans (fleet = {mode}); {origin}'s are not applied")
            });
            return None;
        }
        Some(idx)
    }

    /// Refuse a ban or failure (`what`) for a jail that does not run here.
    fn refuse_unknown_jail(&mut self, what: Refused, origin: &str, jail: &str) {
        let sent = match what {
            Refused::Entry => "bans",
            Refused::Failure => "failures",
        };
        self.fleet_refuse(what, origin, Refusal::UnknownJail, || {
            format!("fleet: {origin} sent {sent} for jail '{jail}', which does not run here (more are counted, logged once a minute)")
        });
    }

    /// Whether the receiving jail's ignore rules keep `ip`.
    fn ignored_here(&mut self, what: Refused, idx: usize, origin: &str, ip: IpAddr) -> bool {
        let Some(reason) = self.jails[idx].ignore.check(ip) else {
            return false;
        };
        let jail = self.jails[idx].name().to_string();
        self.fleet_refuse(what, origin, Refusal::Ignored, || {
            format!("[{jail}] Ignore {ip} by {reason} (fleet: {origin})")
        });
        true
    }

    fn fleet_bans(&mut self, bans: Vec<FleetBan>) {
        let t = now();
        let mut applied = 0;
        let mut already_held = 0;
        // One shared name per origin, not one allocation per ban (a join is
        // 100,000 bans, mostly from a few origins).
        let mut origins: Vec<Arc<str>> = Vec::new();
        for b in bans {
            let Some(idx) = self.applying_jail(&b.origin, &b.jail) else {
                continue;
            };
            if self.lifted_here(&b) {
                let (jail, ip, origin) = (&b.jail, b.ip, b.origin.clone());
                self.fleet_refuse(Refused::Entry, &origin, Refusal::LiftedHere, || {
                    format!("fleet: [{jail}] {ip} from {origin} was lifted here by hand; its ban is not applied again (more are counted, logged once a minute)")
                });
                continue;
            }
            if self.ignored_here(Refused::Entry, idx, &b.origin, b.ip) {
                continue;
            }
            if self.held(idx, &b.ip) {
                already_held += 1;
                continue;
            }
            let admitted = self
                .fleet
                .as_mut()
                .map_or(Err(Refusal::RateTotal), |f| f.limits.admit(&b.origin, t));
            if let Err(why) = admitted {
                let origin = b.origin.clone();
                self.fleet_refuse(Refused::Entry, &origin, why, || {
                    format!(
                        "fleet: {origin}'s bans are over the rate limit ({}); not applied (more are counted, logged once a minute)",
                        why.as_str()
                    )
                });
                continue;
            }
            if !self.room(idx, &b.ip) {
                // `room` logged it; counted so that the figures add up.
                if let Some(f) = &self.fleet {
                    count_refusal(&f.stats, Refused::Entry, Refusal::JailFull);
                }
                continue;
            }
            let end = received_end(b.end, self.jails[idx].config.fleetmaxbantime, t);
            self.queue_ban(
                idx,
                Ban {
                    ip: b.ip,
                    start: t,
                    duration: end.map_or(-1.0, |e| (e - t).max(0.0)),
                    // Received bans do not count towards this host's increments.
                    count: 0,
                    failures: b.failures.unwrap_or(0),
                    matches: Vec::new(),
                    fields: Vec::new(),
                    origin: Some(shared_name(&mut origins, &b.origin)),
                    restored: false,
                },
            );
            applied += 1;
        }
        if let Some(f) = &self.fleet {
            if let Ok(mut s) = f.stats.lock() {
                s.applied += applied;
                s.already_held += already_held;
            }
        }
    }

    /// An origin lifted its ban: lift it here, if it is that origin's (logged
    /// `Unban 192.0.2.7 (fleet: web1)`).
    fn fleet_lifts(&mut self, lifts: Vec<FleetLift>) {
        for l in lifts {
            let Some(idx) = self.jails.iter().position(|j| j.name() == l.jail) else {
                continue;
            };
            let from_origin = self.jails[idx]
                .bans
                .get(&l.ip)
                .is_some_and(|b| b.origin.as_deref() == Some(l.origin.as_str()));
            if from_origin {
                self.unban(idx, &[l.ip], Some(&l.origin));
            }
        }
    }

    /// The jail a fleet failure is counted in, with its `fleetmaxretry`: one of
    /// that name that applies the fleet's bans and counts its failures. This
    /// host's own failures come back from the stream: where they are not
    /// counted, they are nothing to refuse.
    fn counting_jail(&mut self, f: &FleetFailure) -> Option<(usize, u32)> {
        let own = self
            .fleet
            .as_ref()
            .is_some_and(|fleet| fleet.settings.name == f.origin);
        let Some(idx) = self.jails.iter().position(|j| j.name() == f.jail) else {
            if !own {
                self.refuse_unknown_jail(Refused::Failure, &f.origin, &f.jail);
            }
            return None;
        };
        let config = &self.jails[idx].config;
        match config.fleetmaxretry {
            Some(limit) if config.fleet.applies() => return Some((idx, limit)),
            _ if own => return None,
            _ => {}
        }
        let why = match config.fleet.applies() {
            true => "it has no fleetmaxretry".to_string(),
            false => format!("fleet = {}", config.fleet.as_str()),
        };
        let (jail, origin) = (&f.jail, &f.origin);
        self.fleet_refuse(Refused::Failure, origin, Refusal::NotApplied, || {
            format!("fleet: [{jail}] does not count the fleet's failures ({why}); {origin}'s are not counted")
        });
        None
    }

    /// Count failures across the fleet; an address reaching `fleetmaxretry` is
    /// banned here (every host sharing the jail reaches the same verdict).
    fn fleet_failures(&mut self, failures: Vec<FleetFailure>) {
        let t = now();
        for f in failures {
            let Some((idx, limit)) = self.counting_jail(&f) else {
                continue;
            };
            if self.ignored_here(Refused::Failure, idx, &f.origin, f.ip) {
                continue;
            }
            let Some(counter) = self.fleet_counter(idx) else {
                return;
            };
            let counted = counter.add(&f.origin, f.ip, f.time, t);
            let reached = match counted {
                Ok(c) => c == Counted::Reached,
                Err(why) => {
                    self.fleet_failure_refused(&f, why, t);
                    false
                }
            };
            if reached && !self.held(idx, &f.ip) {
                self.log.log(
                    Component::Filter,
                    Severity::Notice,
                    &format!(
                        "[{}] {} reached fleetmaxretry {limit} across the fleet",
                        f.jail, f.ip
                    ),
                );
                self.ban(
                    idx,
                    Ban {
                        ip: f.ip,
                        start: t,
                        duration: 0.0,
                        count: 0,
                        failures: limit,
                        matches: Vec::new(),
                        fields: Vec::new(),
                        origin: None,
                        restored: false,
                    },
                );
            }
        }
    }

    /// The fleet counter of jail `idx`, made on first use; `None` without a fleet
    /// or when the jail does not count across it (`fleetmaxretry`).
    fn fleet_counter(&mut self, idx: usize) -> Option<&mut FleetCounter> {
        let jail = &self.jails[idx].config;
        let limit = jail.fleetmaxretry?;
        let counters = &mut self.fleet.as_mut()?.counters;
        // looked up by name first: no allocation per failure
        if !counters.contains_key(&jail.name) {
            let counter = FleetCounter::new(jail.findtime, jail.maxretry, limit);
            counters.insert(jail.name.clone(), counter);
        }
        counters.get_mut(&jail.name)
    }

    /// Jail `idx` bans `ip` from `at` on: the fleet failures of the address up to
    /// then are taken by that ban, as the jail's own tracker forgets its failures
    /// (see [`FleetCounter::consume`]).
    pub(super) fn fleet_consume(&mut self, idx: usize, ip: IpAddr, at: f64) {
        if let Some(counter) = self.fleet_counter(idx) {
            counter.consume(ip, at);
        }
    }

    /// Count a failure the fleet counter refused, and say why: a failure dated
    /// ahead of the clock (once a minute per origin; a clock to fix, or a member
    /// trying to fill the counter), or the counter full (a WARNING at most once a
    /// minute per jail: from then on that origin's failures are not counted
    /// across the fleet). Failures older than `findtime` are only counted: a
    /// restart reads the stream back for the longest `findtime` of all jails.
    fn fleet_failure_refused(&mut self, f: &FleetFailure, why: Refusal, t: f64) {
        let Some(fleet) = &mut self.fleet else {
            return;
        };
        match why {
            Refusal::CounterFull => {
                count_refusal(&fleet.stats, Refused::Failure, why);
                // A flood refuses every failure: the figures are read only
                // for the line logged once a minute.
                if fleet.full_complaints.should_log(&f.jail, t) {
                    let dropped = fleet
                        .stats
                        .lock()
                        .map_or(0, |s| s.refused.get(&why).copied().unwrap_or(0));
                    let (total, origin_held) = fleet
                        .counters
                        .get(&f.jail)
                        .map_or((0, 0), |c| c.held(&f.origin));
                    let (jail, origin) = (&f.jail, &f.origin);
                    self.fleet_log(
                        Severity::Warning,
                        &format!(
                            "fleet: [{jail}] the fleet counter is full for {origin} ({origin_held} \
                             failures held, its share is {ORIGIN_SHARE}; {total} held in all): its \
                             new failures are not counted across the fleet until older ones \
                             leave findtime ({dropped} dropped so far, counted as refused \
                             counter_full; logged once a minute)"
                        ),
                    );
                }
            }
            Refusal::AheadOfClock => {
                let ahead = f.time - t;
                let (jail, origin, ip) = (&f.jail, &f.origin, f.ip);
                self.fleet_refuse(Refused::Failure, origin, why, || {
                    format!(
                        "fleet: [{jail}] {origin}'s failure of {ip} is dated {ahead:.0} s ahead of \
                         this host's clock (more than {:.0} s): not counted; check both clocks \
                         (more are counted as ahead_of_clock, logged once a minute)",
                        ferroban_fleet::counter::MAX_SKEW
                    )
                });
            }
            _ => count_refusal(&fleet.stats, Refused::Failure, why),
        }
    }

    /// Housekeeping: forget fleet counts older than `findtime`, and send the
    /// outbox again when the engine is reachable (rows whose acks were refused
    /// or timed out — a loaded engine — would otherwise wait for a reconnection).
    pub(super) fn fleet_housekeeping(&mut self) {
        let t = now();
        let Some(f) = &mut self.fleet else {
            return;
        };
        for c in f.counters.values_mut() {
            c.expire(t);
        }
        let connected = f.stats.lock().is_ok_and(|s| s.connected);
        if connected && self.db.outbox_len().unwrap_or(0) > 0 {
            self.publish_outbox();
        }
    }

    /// Bans in force per origin (this host's own, of jails that publish, under
    /// its own name).
    fn bans_by_origin(&self) -> BTreeMap<String, u64> {
        let own = self.fleet.as_ref().map(|f| f.settings.name.clone());
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for j in &self.jails {
            for b in j.bans.iter() {
                let origin = match (&b.origin, &own) {
                    (Some(o), _) => o.to_string(),
                    (None, Some(me)) if j.config.fleet.publishes() => me.clone(),
                    _ => continue,
                };
                *out.entry(origin).or_default() += 1;
            }
        }
        out
    }

    /// The answer to `["fleet"]`.
    pub(super) fn fleet_status(&self) -> Value {
        let Some(f) = &self.fleet else {
            return json!({
                "configured": false, "connected": false, "url": "", "name": "", "user": null,
                "hosts": [], "outbox": 0, "last_error": null, "last_error_at": null,
                "twin": null, "twin_at": null,
                "received": 0, "applied": 0, "already_held": 0, "lifts": 0,
                "refused_received": 0, "failures_received": 0, "failures_refused": 0,
                "published": 0, "unconfirmed": 0, "refused": {},
            });
        };
        let stats = f.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let bans = self.bans_by_origin();
        let mut names: Vec<&String> = stats.hosts.keys().chain(bans.keys()).collect();
        names.sort();
        names.dedup();
        let hosts: Vec<Value> = names
            .iter()
            .map(|n| {
                json!({
                    "name": n,
                    "last_seen": stats.hosts.get(*n).copied(),
                    "bans": bans.get(*n).copied().unwrap_or(0),
                })
            })
            .collect();
        let refused: serde_json::Map<String, Value> = stats
            .refused
            .iter()
            .map(|(r, n)| (r.as_str().to_string(), json!(n)))
            .collect();
        json!({
            "configured": true,
            "connected": stats.connected,
            "url": f.settings.urls_for_display(),
            "name": f.settings.name,
            // The login, when a user name gives it (its name must be the host's).
            "user": match &f.settings.auth {
                FleetAuth::UserPassword { user, .. } => Some(user.as_str()),
                _ => None,
            },
            "hosts": hosts,
            "outbox": self.db.outbox_len().unwrap_or(0),
            // The link's last error and when (null: none since start), kept after
            // reconnecting; whether it is connected now is `connected`.
            "last_error": stats.last_error.as_ref().map(|(why, _)| why),
            "last_error_at": stats.last_error.as_ref().map(|(_, at)| at),
            // Another host publishing under this one's name, and when (null: none).
            "twin": stats.twin.as_ref().map(|(why, _)| why),
            "twin_at": stats.twin.as_ref().map(|(_, at)| at),
            // received = applied + already_held + lifts + refused_received
            "received": stats.received,
            "applied": stats.applied,
            "already_held": stats.already_held,
            "lifts": stats.lifts,
            "refused_received": stats.refused_received,
            "failures_received": stats.failures_received,
            "failures_refused": stats.failures_refused,
            // Confirmed by the engine only; what it did not confirm is `unconfirmed`.
            "published": stats.published,
            "unconfirmed": stats.unconfirmed,
            "refused": refused,
        })
    }

    /// The `ferroban_fleet_*` metrics (empty without a fleet).
    pub(super) fn fleet_metrics(&self) -> String {
        let Some(f) = &self.fleet else {
            return String::new();
        };
        let stats = f.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: Vec<(String, u64)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in rows {
                out.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        let one = |v: u64| vec![(String::new(), v)];
        metric(
            "ferroban_fleet_connected",
            "gauge",
            "Whether the fleet engine is reachable (1) or not (0).",
            one(u64::from(stats.connected)),
        );
        metric(
            "ferroban_fleet_outbox",
            "gauge",
            "Bans and lifts waiting to be published.",
            one(self.db.outbox_len().unwrap_or(0) as u64),
        );
        metric(
            "ferroban_fleet_hosts",
            "gauge",
            "Fleet hosts seen, this one included.",
            one(stats.hosts.len() as u64),
        );
        metric(
            "ferroban_fleet_published_total",
            "counter",
            "Messages published to the fleet and confirmed by the engine.",
            one(stats.published),
        );
        metric(
            "ferroban_fleet_unconfirmed_total",
            "counter",
            "This host's publications the engine did not confirm (refused or timed out).",
            one(stats.unconfirmed),
        );
        metric(
            "ferroban_fleet_received_total",
            "counter",
            "Bans and lifts received from other hosts.",
            one(stats.received),
        );
        metric(
            "ferroban_fleet_applied_total",
            "counter",
            "Received bans applied here.",
            one(stats.applied),
        );
        metric(
            "ferroban_fleet_already_held_total",
            "counter",
            "Received bans of addresses the jail here already bans.",
            one(stats.already_held),
        );
        metric(
            "ferroban_fleet_lifts_total",
            "counter",
            "Lifts received from other hosts (their origins' unbans).",
            one(stats.lifts),
        );
        metric(
            "ferroban_fleet_refused_received_total",
            "counter",
            "Received bans and lifts refused.",
            one(stats.refused_received),
        );
        metric(
            "ferroban_fleet_failures_received_total",
            "counter",
            "Failures received for fleet counting, this host's own included.",
            one(stats.failures_received),
        );
        metric(
            "ferroban_fleet_failures_refused_total",
            "counter",
            "Failures received and refused.",
            one(stats.failures_refused),
        );
        metric(
            "ferroban_fleet_refused_total",
            "counter",
            "Received bans, lifts and failures refused, by reason.",
            stats
                .refused
                .iter()
                .map(|(r, n)| (format!("{{reason=\"{}\"}}", r.as_str()), *n))
                .collect(),
        );
        metric(
            "ferroban_fleet_bans",
            "gauge",
            "Bans in force here by origin host.",
            self.bans_by_origin()
                .into_iter()
                .map(|(o, n)| (format!("{{origin=\"{o}\"}}"), n))
                .collect(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::received_end;

    #[test]
    fn received_bans_end_at_the_origins_end_capped_by_fleetmaxbantime() {
        assert_eq!(received_end(Some(1100.0), None, 1000.0), Some(1100.0));
        assert_eq!(received_end(Some(5000.0), Some(60.0), 1000.0), Some(1060.0));
        assert_eq!(received_end(Some(1010.0), Some(60.0), 1000.0), Some(1010.0));
        assert_eq!(received_end(None, Some(60.0), 1000.0), Some(1060.0));
        assert_eq!(received_end(None, None, 1000.0), None);
    }
}
