//! A running jail: its filter, fail tracker, bans, ignore list and actions.
//!
//! Owns the path of one line through one jail: prefilter, filter, the age check
//! against `findtime`, address parsing (only a valid IP address goes further),
//! the ignore list, and the fail tracker, which says when to ban. Making the ban
//! (its duration, the database, the log line) is the server's job, because bans
//! of several jails are committed together.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use ferroban_actions::{ActionRunner, BanTicket};
use ferroban_config::jail::{Backend, JailConfig};
use ferroban_filter::pattern::PatternError;
use ferroban_filter::{Failure, Filter, FilterError, LineResult, Value};
use ferroban_jail::{Ban, BanList, BanPolicy, FailTracker, FailureEvent, IgnoreList, Offence};

use super::log::{push_ip, push_local_time, Component, Logger};
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
    /// The filter's result for the last line, kept for the next one to refill.
    line_result: LineResult,
    /// Failures per address, each count with its first failure where the jail
    /// keeps it (see [`Jail::keeps_first_failures`]).
    pub tracker: FailTracker<Failure>,
    pub bans: BanList,
    pub ignore: IgnoreList,
    pub policy: BanPolicy,
    pub runner: Option<ActionRunner>,
    patterns: Vec<glob::Pattern>,
    pub stats: JailStats,
    pub metrics: super::metrics::JailMetrics,
    /// Failures (address, time) for fleet-wide counting, taken by the server.
    pub fleet_failures: Vec<(IpAddr, f64)>,
    /// `[{name}] Found `, the start of the line logged for every failure.
    found_prefix: String,
    /// `set JAIL idle on`: lines are read and not looked at (no failure is
    /// counted); the bans in force still end.
    pub idle: bool,
    /// When the jail started (epoch seconds): its failure and ban totals
    /// ([`FailTracker::total_failed`], [`BanList::total`]) count from then, and
    /// are not kept across a restart (bans restored at start are counted again).
    pub started: f64,
    /// Whether an action of the jail may put a ban's matched lines in a command
    /// (`<matches>`…): only then do its bans in force keep them in memory (the
    /// database has them for the dashboard).
    pub keeps_matched_lines: bool,
    /// Whether an action of the jail puts a failure's data in a command
    /// (`<F-USER>`…): only then does the tracker keep each count's first failure,
    /// whose data the ban carries, as in Fail2ban (whose failure ticket is the
    /// first one's, later failures adding to its count and lines).
    pub keeps_first_failures: bool,
    /// With `bantime.increment`: the addresses this jail banned before, each with
    /// its latest ban's count and start, from the database and the bans since.
    /// A failure of such an address after that ban counts as several (see
    /// [`repeat_offender_weight`]), as Fail2ban's observer counts it. `None`
    /// without `bantime.increment` (or until the server reads them).
    pub ban_history: Option<HashMap<IpAddr, (u32, f64)>>,
}

/// How many failures one failure of an address counts for, when the jail banned it
/// `count` times before: Fail2ban's observer (`failureFound`) counts it as
/// 2^count / 2 + 1 (2, 3, 5, 9 … for the 1st, 2nd, 3rd, 4th ban), at most
/// `maxretry`, so a known offender is banned again after fewer tries.
pub fn repeat_offender_weight(count: u32, maxretry: u32) -> u32 {
    if count == 0 {
        return 1;
    }
    let weight = (1u64 << count.min(20)) / 2 + 1;
    weight.min(u64::from(maxretry.max(1))) as u32
}

/// Whether an action of `config` may put a ban's matched lines in a command.
fn keeps_matched_lines(config: &JailConfig) -> bool {
    config
        .actions
        .iter()
        .any(ferroban_actions::uses_matched_lines)
}

/// Whether an action of `config` puts a failure's data in a command.
fn keeps_first_failures(config: &JailConfig) -> bool {
    config
        .actions
        .iter()
        .any(ferroban_actions::uses_failure_fields)
}

/// Build the filter of a jail configuration.
pub fn build_filter(config: &JailConfig) -> Result<Filter, String> {
    let tz = jiff::tz::TimeZone::system();
    let year = jiff::Zoned::now().year();
    let mut filter =
        Filter::new(&config.filter, config.logtimezone.as_deref(), tz, year).map_err(|e| {
            regex_error_where_written(config, &e).unwrap_or_else(|| {
                format!("jail [{}], filter {}: {e}", config.name, config.filter.name)
            })
        })?;
    filter.ignore_pending = true;
    Ok(filter)
}

/// A failregex or ignoreregex that does not compile, told as written: its file and
/// line, the regex before `%(…)s` and tag substitution, and the column in it.
/// `None` when the regex cannot be found where it was set (the filter's files or
/// the jail's section).
fn regex_error_where_written(config: &JailConfig, e: &FilterError) -> Option<String> {
    let (option, index, source) = match e {
        FilterError::FailRegex { index, error } => ("failregex", *index, Some(error)),
        FilterError::IgnoreRegex { index, error } => ("ignoreregex", *index, Some(error)),
        FilterError::NoFailureId { index, regex } => {
            let text = config.filter.locate_regex("failregex", *index)?;
            let hint = unresolved_tags(regex)
                .first()
                .map(|tag| format!("; {}", unresolved_tag_hint(config, tag)))
                .unwrap_or_default();
            return Some(format!(
                "{}:{}: jail [{}], filter {}: failregex {} {}: has no group for the failure id: \
                 use <HOST>, <ADDR>, <F-ID>… (or put one in prefregex){hint}:\n    {}",
                text.file.display(),
                text.line,
                config.name,
                config.filter.name,
                index + 1,
                match text.in_jail {
                    true => "set in the jail",
                    false => "of the filter",
                },
                text.text
            ));
        }
        _ => return None,
    };
    let written = config.filter.locate_regex(option, index)?;
    let (message, column) = match source {
        Some(PatternError::Translate(t)) => (
            t.message.clone(),
            Some(column_as_written(&written.text, &t.pattern, t.position)),
        ),
        Some(PatternError::Compile { message, .. }) => (message.clone(), None),
        None => return None,
    };
    let whose = match written.in_jail {
        true => "set in the jail",
        false => "of the filter",
    };
    let head = format!(
        "{}:{}: jail [{}], filter {}: {option} {} {whose}",
        written.file.display(),
        written.line,
        config.name,
        config.filter.name,
        index + 1
    );
    let text = &written.text;
    Some(match column {
        Some(c) => format!(
            "{head}: {message} at column {c}:\n    {text}\n    {:>c$}",
            "^"
        ),
        None => format!("{head}: {message}:\n    {text}"),
    })
}

/// The `<name>` tags left in `regex` after every option was substituted: Fail2ban's
/// regex tags are upper case (`<HOST>`, `<F-USER>`), so a lower-case one is an
/// option reference that nothing defines, and stays as literal text.
pub(super) fn unresolved_tags(regex: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    let mut from = 0;
    while let Some((start, end)) = ferroban_config::tags::next_tag(regex, from) {
        let name = &regex[start + 1..end - 1];
        // `(?P<name>…)` is a group of the regex, not a tag
        let group = regex[..start].ends_with("?P");
        let lower = name.starts_with(|c: char| c.is_ascii_lowercase());
        if lower && !group && !names.contains(&name) {
            names.push(name);
        }
        from = end;
    }
    names
}

/// A `mode` that the jail's filter does not have, when it is what left `<tag>`
/// unresolved: the tag is a mode's option named with the mode the jail gives its
/// filter (`<mdre-agressive-other>` of Fail2ban's sshd, `<closed-agressive>` of
/// ferroban's, from `filter = sshd[mode=agressive]`, or `mode = agressive` that the
/// stock jail passes on as `sshd[mode=%(mode)s]`). Returns the mode written and the
/// filter's modes: the names that make options of the same form (`mdre-MODE-other`,
/// `closed-MODE`).
pub(super) fn misspelt_mode(config: &JailConfig, tag: &str) -> Option<(String, Vec<String>)> {
    let (_, filter_options) =
        ferroban_config::parse_name_with_options(config.options.get("filter")?).ok()?;
    let (_, mode) = filter_options.iter().find(|(k, _)| k == "mode")?;
    let mode = mode.trim();
    let (prefix, suffix) = tag
        .match_indices(mode)
        .map(|(at, _)| (&tag[..at], &tag[at + mode.len()..]))
        .find(|(prefix, suffix)| {
            !mode.is_empty()
                && (prefix.is_empty() || prefix.ends_with('-'))
                && (suffix.is_empty() || suffix.starts_with('-'))
        })?;
    let modes = filter_modes(&config.filter.files, prefix, suffix);
    // a mode the filter has is not what left the tag
    (!modes.iter().any(|m| m == mode)).then(|| (mode.to_string(), modes))
}

/// `FILE:LINE: ` of the line that gave `config`'s filter the mode `mode`: its
/// `mode =` (which the stock jail passes on as `sshd[mode=%(mode)s]`), else its
/// `filter = NAME[mode=…]`.
pub(super) fn mode_place(config: &JailConfig, mode: &str) -> String {
    match config.options.get("mode").is_some_and(|m| m.trim() == mode) {
        true => config.place_of("mode"),
        false => config.place_of("filter"),
    }
}

/// `FILE:LINE: ` of the line that chose `config`'s action `action`: its
/// `banaction =` where that names it (the stock `action` is made of it), else its
/// `action =`.
pub(super) fn action_place(config: &JailConfig, action: &str) -> String {
    let names_it = |key: &str| {
        let value = config.options.get(key).map(|v| v.trim_start());
        value.is_some_and(|v| v.split('[').next() == Some(action))
    };
    match ["banaction", "banaction_allports"]
        .into_iter()
        .find(|k| names_it(k))
    {
        Some(key) => config.place_of(key),
        None => config.place_of("action"),
    }
}

/// What most likely left `<tag>` unresolved in `config`'s filter: a mode it does
/// not have (see [`misspelt_mode`]), with the modes it has; else a misspelt filter
/// option in general.
pub(super) fn unresolved_tag_hint(config: &JailConfig, tag: &str) -> String {
    match misspelt_mode(config, tag) {
        Some((mode, modes)) => mode_not_in_filter(&config.filter.name, &mode, &modes),
        None => format!(
            "<{tag}> is left in it, which no option defines: a misspelt filter option \
             leaves such a tag"
        ),
    }
}

/// `mode = MODE is not a mode of filter NAME (its modes: …)`.
pub(super) fn mode_not_in_filter(filter: &str, mode: &str, modes: &[String]) -> String {
    let known = match modes.is_empty() {
        true => String::new(),
        false => format!(" (its modes: {})", modes.join(", ")),
    };
    format!("mode = {mode} is not a mode of filter {filter}{known}")
}

/// The modes a filter offers: the names that make its options `PREFIX` + name +
/// `SUFFIX` (a mode's own options, not another mode's variants: with `mdre-` and
/// nothing after, `mdre-normal-other` is part of mode `normal`).
fn filter_modes(files: &[std::path::PathBuf], prefix: &str, suffix: &str) -> Vec<String> {
    let Ok(cfg) = ferroban_config::Config::read_files(files) else {
        return Vec::new();
    };
    let mut names: Vec<String> = ["Definition", "Init"]
        .iter()
        .filter_map(|s| cfg.section(s))
        .flat_map(|s| {
            s.keys().filter_map(|k| {
                k.strip_prefix(prefix)?
                    .strip_suffix(suffix)
                    .filter(|name| !name.is_empty() && !name.contains('-'))
                    .map(str::to_string)
            })
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The 1-based column in `written` of byte `position` of `expanded` (what `written`
/// became after substitution), aligning their common start and end. A position
/// inside substituted text is given as the first column where the two differ.
fn column_as_written(written: &str, expanded: &str, position: usize) -> usize {
    let common_start = written
        .bytes()
        .zip(expanded.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let common_end = written
        .bytes()
        .rev()
        .zip(expanded.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(written.len() - common_start);
    let byte = if position < common_start {
        position
    } else if position >= expanded.len().saturating_sub(common_end) {
        written
            .len()
            .saturating_sub(expanded.len().saturating_sub(position))
    } else {
        common_start
    };
    written
        .char_indices()
        .take_while(|(i, _)| *i < byte)
        .count()
        + 1
}

/// The jail's `logpath`s as glob patterns, for telling which files are its.
fn log_patterns(config: &JailConfig) -> Vec<glob::Pattern> {
    config
        .logpaths
        .iter()
        .filter_map(|p| glob::Pattern::new(&p.display().to_string()).ok())
        .collect()
}

impl Jail {
    /// `set JAIL maxlines`, `addfailregex` and the like: the filter is built again
    /// from the jail's configuration as `change` leaves it (regexes compile anew,
    /// with the prefregex and buffer they now have), its multi-line state started
    /// afresh; on an error the jail keeps the filter and configuration it has.
    pub fn change_filter(
        &mut self,
        change: impl FnOnce(&mut JailConfig) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut config = self.config.clone();
        change(&mut config)?;
        self.filter = build_filter(&config)?;
        self.prepare_filter();
        self.config = config;
        Ok(())
    }

    /// A jail from its configuration (its actions are not started yet).
    pub fn new(config: JailConfig) -> Result<Jail, String> {
        let filter = build_filter(&config)?;
        let ignore = IgnoreList::new(
            &config.ignoreip,
            config.ignoreself,
            config.ignorecommand.clone(),
        )
        .map_err(|e| format!("jail [{}]: {e}", config.name))?;
        let patterns = log_patterns(&config);
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
            line_result: LineResult::default(),
            has_skipped: false,
            runner: None,
            stats: JailStats::default(),
            metrics: Default::default(),
            fleet_failures: Vec::new(),
            found_prefix: format!("[{}] Found ", config.name),
            idle: false,
            started: super::now(),
            keeps_matched_lines: keeps_matched_lines(&config),
            keeps_first_failures: keeps_first_failures(&config),
            ban_history: None,
            config,
        })
    }

    /// Follow the `logpaths` of the configuration as it is now (after `set JAIL
    /// addlogpath`).
    pub fn refresh_log_patterns(&mut self) {
        self.patterns = log_patterns(&self.config);
    }

    /// A warning for each `ignoreip` host name that did not resolve when the jail
    /// was made (it ignores nothing until the next reload).
    pub fn unresolved_ignoreip(&self) -> Vec<String> {
        // said as the jail is made (start, reload, check), when its list is the
        // configuration's `ignoreip` alone
        let place = self.config.place_of("ignoreip");
        self.ignore
            .unresolved()
            .iter()
            .map(|(name, why)| {
                format!(
                    "{place}[{}] ignoreip entry {name:?} does not resolve ({why}): it ignores \
                     nothing until the jail is reloaded",
                    self.name()
                )
            })
            .collect()
    }

    /// Build now what the filter's every line needs (its prefregex's automata, see
    /// `Filter::prepare`), not on the first line it reads; a check of the
    /// configuration, which builds jails too, does not need them.
    pub fn prepare_filter(&self) {
        self.filter.prepare();
    }

    /// Take the configuration of `fresh`, a newly built jail of the same name;
    /// counts and bans are kept.
    pub fn reconfigure(&mut self, fresh: Jail) {
        self.filter = fresh.filter;
        self.prepare_filter();
        self.ignore = fresh.ignore;
        self.patterns = fresh.patterns;
        self.policy = fresh.policy;
        self.tracker.set_policy(
            fresh.config.findtime,
            fresh.config.maxretry,
            fresh.config.maxmatches,
        );
        self.keeps_matched_lines = fresh.keeps_matched_lines;
        self.keeps_first_failures = fresh.keeps_first_failures;
        if self.policy.increment.is_none() {
            self.ban_history = None;
        }
        self.config = fresh.config;
    }

    /// Note a ban of `address` (its `count`, its `start`) in the jail's history,
    /// where it keeps one.
    pub fn note_ban_history(&mut self, address: IpAddr, count: u32, start: f64) {
        if let Some(history) = &mut self.ban_history {
            history.insert(address, (count, start));
        }
    }

    /// How many failures a failure of `address` at `when` counts for (see
    /// [`repeat_offender_weight`]), and the Fail2ban line that says so when more
    /// than one: only after the address's latest ban here (older lines, read
    /// again, count once).
    fn weight_of(&self, address: IpAddr, when: f64) -> (u32, Option<String>) {
        let Some(&(count, start)) = self.ban_history.as_ref().and_then(|h| h.get(&address)) else {
            return (1, None);
        };
        let weight = repeat_offender_weight(count, self.config.maxretry);
        if weight <= 1 || when <= start {
            return (1, None);
        }
        let mut line = format!("[{}] Found {address}, bad - ", self.config.name);
        super::log::push_local_time(&mut line, when);
        line.push_str(&format!(", {count} # -> {weight}"));
        if weight >= self.config.maxretry {
            line.push_str(", Ban");
        }
        (weight, Some(line))
    }

    /// Store a ban in force: without its matched lines unless an action may use
    /// them later (an unban, or a ban again by actions a reload brings). They are
    /// the largest part of a ban (about 500 bytes of sshd's three lines against
    /// 150 for the rest), and the actions' tickets already took theirs.
    pub fn keep_ban(&mut self, mut ban: Ban) -> bool {
        if !self.keeps_matched_lines {
            ban.matches = Vec::new();
        }
        self.bans.insert(ban)
    }

    /// Whether this jail's failures are counted across the fleet too.
    fn counts_across_fleet(&self) -> bool {
        self.config.fleetmaxretry.is_some() && self.config.fleet.publishes()
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

    /// Run one line through the jail. `time` is given for journal entries. The
    /// addresses that reached `maxretry` are added to `offences`. `ended` is the line,
    /// with the `\n` that ends it when the caller's text has one there (the filter
    /// then searches it in place).
    pub fn process_line(
        &mut self,
        ended: &str,
        time: Option<f64>,
        now: f64,
        replay: bool,
        log: &Logger,
        offences: &mut Vec<JailOffence>,
    ) {
        if self.idle {
            return;
        }
        let line = ended.strip_suffix('\n').unwrap_or(ended);
        if time.is_none() {
            if let Some(pf) = self.filter.prefilter() {
                if !pf.may_match(line.as_bytes()) {
                    self.skipped_line.clear();
                    self.skipped_line.push_str(line);
                    self.has_skipped = true;
                    return;
                }
            }
            if self.has_skipped {
                self.has_skipped = false;
                self.filter.observe_date(&self.skipped_line, now as i64);
            }
        }
        // the last line's result, refilled in place: its vectors keep their
        // allocations, and most lines (no failure) move nothing
        match time {
            Some(t) => self.line_result = self.filter.process_dated_line(line, t),
            None => self
                .filter
                .process_ended_line_into(ended, now as i64, &mut self.line_result),
        }
        if self.line_result.failures.is_empty() {
            return;
        }
        let failures = std::mem::take(&mut self.line_result.failures);
        for failure in failures.iter().filter(|f| !f.is_nofail()) {
            self.count_failure(failure, now, replay, log, offences);
        }
        self.line_result.failures = failures;
    }

    /// Count one failure the filter found, read at `now`: the age check, then each
    /// of its addresses. Out of line: most lines have no failure, and their way
    /// through `process_line` stays short.
    #[inline(never)]
    fn count_failure(
        &mut self,
        failure: &Failure,
        now: f64,
        replay: bool,
        log: &Logger,
        offences: &mut Vec<JailOffence>,
    ) {
        let when = failure.time.unwrap_or(now);
        if !replay && when < now - self.config.findtime {
            self.stats.too_old += 1;
            return;
        }
        // An address as written (nearly always) is not put in a list.
        if let Some(v4) = plain_ipv4(&failure.id) {
            // The parser takes an IPv4 address only as `Display` writes it (no
            // leading zeros): the id is its text for the `Found` line.
            let address = IpAddr::V4(v4);
            self.count_address(address, Some(&failure.id), when, failure, log, offences);
            return;
        }
        let id = bare_id(&failure.id);
        match id.parse::<IpAddr>() {
            Ok(address) => self.count_address(address, None, when, failure, log, offences),
            Err(_) => {
                for address in self.resolve(id, log) {
                    self.count_address(address, None, when, failure, log, offences);
                }
            }
        }
    }

    /// Count a failure at `when` of `address` (`text`: as `Display` writes it, when
    /// at hand): the ignore list, the `Found` line, the tracker; an offence is added
    /// to `offences`.
    fn count_address(
        &mut self,
        address: IpAddr,
        text: Option<&str>,
        when: f64,
        failure: &Failure,
        log: &Logger,
        offences: &mut Vec<JailOffence>,
    ) {
        if let Some(reason) = self.ignore.check(address) {
            self.stats.ignored += 1;
            log.log(
                Component::Filter,
                Severity::Info,
                &format!("[{}] Ignore {address} by {reason}", self.config.name),
            );
            return;
        }
        log.log_with(Component::Filter, Severity::Info, |line| {
            // `[{jail}] Found {ip} - {time}`
            line.push_str(&self.found_prefix);
            match text {
                Some(text) => line.push_str(text),
                None => push_ip(line, address),
            }
            line.push_str(" - ");
            push_local_time(line, when);
        });
        let (weight, bad) = self.weight_of(address, when);
        if let Some(bad) = bad {
            log.log(Component::Observer, Severity::Info, &bad);
        }
        let first = self.keeps_first_failures.then_some(failure);
        let offence = self.track(address, when, failure.matches(), weight, first, log);
        offences.extend(offence.map(|mut offence| {
            let failure = offence.first.take().map_or_else(|| failure.clone(), |f| *f);
            JailOffence { offence, failure }
        }));
    }

    /// Count a failure at `when` of `address`, which the ignore list has let
    /// through, with its matched lines, the failures it stands for and the data the
    /// tracker keeps of it (see [`FailTracker::add_counted`]): the tracker, and the
    /// fleet's share of it.
    pub fn track(
        &mut self,
        address: IpAddr,
        when: f64,
        matches: &[Arc<str>],
        count: u32,
        data: Option<&Failure>,
        log: &Logger,
    ) -> Option<Offence<Failure>> {
        let event = FailureEvent {
            ip: address,
            time: when,
            matches,
        };
        let evicted = self.tracker.evicted();
        let offence = self.tracker.add_counted(event, count, data);
        // One host counts for at most maxretry - 1 across the fleet: the failure
        // that reaches maxretry bans here instead.
        if offence.is_none() && self.counts_across_fleet() {
            self.fleet_failures.push((address, when));
        }
        if self.tracker.evicted() > evicted {
            log.log(
                Component::Filter,
                Severity::Warning,
                &format!(
                    "[{}] {} addresses with failures: the limit (maxtrackedaddresses); \
                     forgot the {} with the oldest failures",
                    self.config.name,
                    self.tracker.max_addresses(),
                    self.tracker.evicted() - evicted
                ),
            );
        }
        offence
    }

    /// The addresses of a failure id (bare, see [`bare_id`]) that is not an
    /// address itself: its DNS addresses when `usedns` allows.
    fn resolve(&mut self, id: &str, log: &Logger) -> Vec<IpAddr> {
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

/// `text` as an IPv4 address if it is one as the standard parser takes it (four
/// decimal numbers up to 255, without leading zeros) — that parser's answer for
/// such a text, for a fraction of its cost: nearly every failure id is one.
fn plain_ipv4(text: &str) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut done = 0;
    // the octet being read: its value and how many digits it has so far
    let (mut value, mut digits) = (0u16, 0);
    for &byte in text.as_bytes() {
        let digit = byte.wrapping_sub(b'0');
        if digit < 10 {
            value = value * 10 + u16::from(digit);
            digits += 1;
            if digits > 3 {
                return None;
            }
        } else if byte == b'.' && done < 3 {
            octets[done] = octet(value, digits)?;
            done += 1;
            (value, digits) = (0, 0);
        } else {
            return None;
        }
    }
    if done != 3 {
        return None;
    }
    octets[3] = octet(value, digits)?;
    Some(std::net::Ipv4Addr::from(octets))
}

/// The octet written with `digits` digits (at most 3) worth `value`: one digit at
/// least, no leading zero, at most 255.
fn octet(value: u16, digits: usize) -> Option<u8> {
    const SMALLEST: [u16; 4] = [1, 0, 10, 100];
    if digits == 0 || value < SMALLEST[digits] {
        return None;
    }
    u8::try_from(value).ok()
}

/// A failure id without the blanks and brackets around it (`[2001:db8::1]`).
fn bare_id(id: &str) -> &str {
    id.trim().trim_start_matches('[').trim_end_matches(']')
}

/// An address that reached `maxretry`, and the failure that made it.
pub struct JailOffence {
    pub offence: Offence<Failure>,
    /// Its data is read only for a ban (see [`JailOffence::action_fields`]). The
    /// failure shares it with the filter, which never changes shared data in place.
    failure: Failure,
}

impl JailOffence {
    /// The failure's captured fields for action tags (`<F-USER>`…): its texts but
    /// the address, id and matched lines, which tags of their own carry. Made only
    /// for a ban: most offences of a burst are by an address banned already.
    pub fn action_fields(&self) -> Vec<(String, String)> {
        self.failure
            .data()
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    **k,
                    "ip4" | "ip6" | "dns" | "host" | "fid" | "mlfid" | "matches"
                )
            })
            .filter_map(|(k, v)| match v {
                Value::Text(Some(t)) => Some((k.to_string(), t.to_string())),
                _ => None,
            })
            .collect()
    }
}

/// The actions' view of a ban.
pub fn ticket(ban: &Ban) -> BanTicket {
    BanTicket {
        ip: ban.ip,
        failures: ban.failures,
        time: ban.start,
        bantime: ban.duration,
        bancount: ban.count,
        matches: ban.matches.clone(),
        fields: ban.fields.clone(),
        restored: ban.restored,
    }
}

/// A jail `t` of one failregex, reading nothing, with more jail `options` (lines
/// of `name = value`), configured in `dir` (for tests).
#[cfg(test)]
pub(crate) fn test_jail(dir: &Path, failregex: &str, options: &str) -> Jail {
    std::fs::create_dir_all(dir.join("filter.d")).unwrap();
    std::fs::write(
        dir.join("filter.d/t.conf"),
        format!("[Definition]\nfailregex = {failregex}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("jail.local"),
        format!(
            "[t]\nenabled = true\nfilter = t\nlogpath = /dev/null\nbackend = polling\n{options}"
        ),
    )
    .unwrap();
    let config = ferroban_config::jail::load_jails(dir)
        .unwrap()
        .jails
        .remove(0);
    Jail::new(config).unwrap()
}

// The integration tests' helpers (their xorshift generator), so that there is one.
#[cfg(test)]
#[path = "../../tests/common/mod.rs"]
mod test_common;

#[cfg(test)]
mod tests {
    #[test]
    fn a_known_offenders_failure_counts_as_fail2bans_observer_counts_it() {
        let weights: Vec<u32> = (0..6).map(|n| repeat_offender_weight(n, 10)).collect();
        assert_eq!(weights, [1, 2, 3, 5, 9, 10]);
        assert_eq!(repeat_offender_weight(40, 5), 5);
        assert_eq!(repeat_offender_weight(3, 0), 1);
    }

    use super::test_common::Xorshift as Rng;
    use super::*;
    use ferroban_config::settings::LogTarget;

    /// Whether `ip` is inside `net` ("a.b.c.d/len", "v6/len" or a single address),
    /// computed here independently of the ignore list's own code.
    fn inside(net: &str, ip: IpAddr) -> bool {
        let (addr, len) = net.split_once('/').unwrap_or((net, ""));
        let Ok(base) = addr.parse::<IpAddr>() else {
            return false;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (base, ip) {
            (IpAddr::V4(b), IpAddr::V4(i)) => {
                let len: u32 = len.parse().unwrap_or(32);
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                u32::from(b) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(i)) => {
                let len: u32 = len.parse().unwrap_or(128);
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                u128::from(b) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }

    #[test]
    fn columns_are_counted_in_the_regex_as_written() {
        let written = "^bad <HOST> x)";
        let expanded = "^bad (?:\\[?(?P<ip4>[0-9.]+)\\]?) x)";
        let paren = expanded.len() - 1;
        assert_eq!(column_as_written(written, expanded, paren), 14);
        assert_eq!(column_as_written(written, expanded, 1), 2, "before the tag");
        assert_eq!(
            column_as_written(written, expanded, 9),
            6,
            "inside the tag: its start"
        );
        assert_eq!(
            column_as_written("é(", "é(", 2),
            2,
            "columns count characters"
        );
    }

    #[test]
    fn plain_ipv4_answers_as_the_standard_parser() {
        let pieces = [
            "", "0", "00", "01", "1", "9", "10", "99", "100", "199", "255", "256", "299", "999",
            "1000", "0255", "a", "+1", "-1", " 1", "1 ", "١",
        ];
        let mut texts = Vec::new();
        for a in pieces {
            for b in pieces {
                texts.push(format!("{a}.{b}"));
                texts.push(format!("{a}.{b}.1"));
                texts.push(format!("1.{a}.{b}.1.2"));
                for c in pieces {
                    texts.push(format!("{a}.{b}.{c}.1"));
                    texts.push(format!("1.{a}.{b}.{c}"));
                }
            }
        }
        texts.extend(
            [
                "",
                ".",
                "...",
                "1.2.3.4.",
                ".1.2.3.4",
                "1..2.3",
                "[1.2.3.4]",
                "::1",
            ]
            .map(String::from),
        );
        let mut taken = 0;
        for text in &texts {
            let want = text.parse::<std::net::Ipv4Addr>().ok();
            assert_eq!(plain_ipv4(text), want, "{text:?}");
            taken += usize::from(want.is_some());
        }
        assert!(taken > 1000, "the cases must hold addresses: {taken}");
    }

    #[test]
    fn found_lines_show_the_address_as_display_writes_it() {
        let dir = std::env::temp_dir().join(format!("ferroban-found-{}", std::process::id()));
        let mut jail = test_jail(&dir, "^fail from <HOST>$", "maxretry = 100\n");
        let log_file = dir.join("log");
        let log = Logger::open(&LogTarget::File(log_file.clone()), Severity::Info).unwrap();
        let ids = [
            "192.0.2.7",
            "[192.0.2.8]",
            "2001:DB8:0:0::9",
            "[2001:db8::a]",
            "10.0.0.255",
        ];
        for id in ids {
            let line = format!("fail from {id}");
            jail.process_line(&line, Some(1000.0), 1000.0, true, &log, &mut Vec::new());
        }
        log.flush();
        let text = std::fs::read_to_string(&log_file).unwrap();
        let found: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("] Found ")?.1.split_once(" - "))
            .map(|(ip, _)| ip)
            .collect();
        let want: Vec<String> = ids
            .iter()
            .map(|id| bare_id(id).parse::<IpAddr>().unwrap().to_string())
            .collect();
        assert_eq!(found, want, "{text}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn random_configurations_and_lines_never_ban_an_ignored_loopback_or_own_address() {
        let dir = std::env::temp_dir().join(format!("ferroban-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The client address is the one after "from", but a user name may carry
        // another: only the real one may count.
        let failregex = "^auth failure user=.* from <HOST> port \\d+$";
        let log = Logger::open(&LogTarget::File(dir.join("log")), Severity::Critical).unwrap();
        let own = ferroban_jail::ignore::own_addresses();
        let pool: Vec<IpAddr> = [
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "::ffff:127.0.0.1",
            "192.0.2.1",
            "192.0.2.200",
            "198.51.100.7",
            "198.51.100.255",
            "203.0.113.9",
            "10.0.0.1",
            "2001:db8::1",
            "2001:db8:0:1::5",
            "::ffff:192.0.2.1",
            "fe80::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .chain(own.iter().copied())
        .collect();
        let nets = [
            "192.0.2.0/24",
            "192.0.2.1",
            "198.51.100.0/25",
            "203.0.113.9/32",
            "2001:db8::/48",
            "10.0.0.0/8",
            "0.0.0.0/1",
            "2001:db8::1",
            "198.51.100.128/25",
        ];
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut banned = 0;
        for case in 0..150 {
            let ignoreip: Vec<&str> = nets.iter().copied().filter(|_| rng.below(4) == 0).collect();
            let ignoreself = rng.below(2) == 0;
            let options = format!(
                "maxretry = {}\nignoreip = {}\nignoreself = {ignoreself}\n",
                1 + rng.below(2),
                ignoreip.join(" ")
            );
            let mut jail = test_jail(&dir, failregex, &options);
            for _ in 0..60 {
                let real = pool[rng.below(pool.len() as u64) as usize];
                let decoy = pool[rng.below(pool.len() as u64) as usize];
                let line = format!("auth failure user=x from {decoy} port 1 from {real} port 22");
                let mut offences = Vec::new();
                jail.process_line(&line, Some(1000.0), 1000.0, true, &log, &mut offences);
                for found in offences {
                    banned += 1;
                    let ip = found.offence.ip;
                    let why = format!("case {case}: {ip} banned from {line:?} with ignoreip {ignoreip:?}, ignoreself {ignoreself}");
                    let v4 = |a: IpAddr| match a {
                        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
                        v4 => v4,
                    };
                    assert_eq!(v4(ip), v4(real), "{why}");
                    assert!(!ip.is_loopback() && !inside("127.0.0.0/8", ip), "{why}");
                    assert!(!ignoreip.iter().any(|n| inside(n, ip)), "{why}");
                    assert!(
                        !(ignoreself && own.iter().any(|o| inside(&o.to_string(), ip))),
                        "{why}"
                    );
                }
            }
        }
        assert!(
            banned > 100,
            "the cases must ban somebody to prove anything: {banned}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
