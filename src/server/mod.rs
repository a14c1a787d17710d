//! `ferroban server`: the daemon that protects a host.
//!
//! One thread owns all state (the jails, their bans, the database) and handles
//! events in order: lines from the sources, commands from the control socket,
//! signals, and the timer of the next ban to expire. Sources, the control socket
//! and each jail's actions run on their own threads and talk to it through one
//! bounded channel, so a flood of lines slows the readers down instead of
//! filling memory. Bans are written to the database before they are logged,
//! answered or sent to the actions: a ban reported as made survives `kill -9`.

mod commands;
pub mod control;
mod dashboard;
pub mod dump;
mod fail2ban_wire;
mod fleet;
mod http;
mod jail;
pub mod log;
mod memory;
mod metrics;
mod notify;
pub mod options;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ferroban_actions::{nftables, ActionRunner, Report, Severity};
use ferroban_config::action::{ActionDefinition, NATIVE_FIREWALLS};
use ferroban_config::filter::FilterDefinition;
use ferroban_config::fleet::{FleetMode, FleetSettings};
use ferroban_config::jail::{load_jails, Backend, JailConfig};
use ferroban_config::settings::{LogTarget, ServerSettings};
use ferroban_db::{BanRecord, Database, FilePosition};
use ferroban_jail::{AddressMap, Ban, Offence};
use ferroban_sources::files::{FileWatcher, Watch};
use ferroban_sources::journal::{JournalReader, JournalSpec};
use ferroban_sources::{Encoding, LineBlock, SourceEvent};

pub use jail::build_filter;
use jail::{ticket, Jail, JailOffence};
use log::{push_ip, Component, Logger};
pub use options::ServerOptions;

/// What the server thread handles.
pub enum Event {
    Source(SourceEvent),
    Command {
        words: Vec<String>,
        reply: Sender<commands::Reply>,
    },
    Signal(i32),
    /// From the fleet thread.
    Fleet(ferroban_fleet::FleetEvent),
    /// From a jail's actions: action number `action` rebuilt the firewall state it
    /// had lost, and needs every ban of the jail in force to make them again.
    RestoreBans {
        jail: String,
        action: usize,
    },
}

/// Events queued at most before sources wait.
const QUEUE: usize = 256;
/// Bans made from the queued events that end a commit: a burst of lines (a log read
/// from its start) then reaches the firewall a batch at a time, and the batch's
/// rows, database pages and messages are not held for the whole burst at once.
const COMMIT_BANS: usize = 256;
/// How often bans the database refused are offered to it again.
const UNSAVED_RETRY: Duration = Duration::from_secs(2);
/// How often failure counts older than `findtime` are forgotten.
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// The key a jail's journal reading is kept under in the database (its cursor, and
/// the time it starts from after Fail2ban's database was imported).
pub(crate) fn journal_source(jail: &str) -> String {
    format!("journal:{jail}")
}

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A new ban of the batch being committed, as its address's entry lists it.
struct PendingBan {
    jail: usize,
    count: u32,
    start: f64,
}

/// An `already banned` note kept for after the `Ban` line it refers to (made into
/// text only when written: a brute-forcer's burst makes thousands).
struct AlreadyBanned {
    severity: Severity,
    jail: usize,
    ip: std::net::IpAddr,
}

/// Fail2ban's `[JAIL] Increase Ban IP (COUNT # 2h -> 2026-12-06 10:12:16)`, or
/// `(COUNT # permanent -> infinite)`.
fn push_increase_ban(line: &mut String, jail: &str, ban: &Ban) {
    line.push_str(&format!(
        "[{jail}] Increase Ban {} ({} # ",
        ban.ip, ban.count
    ));
    if ban.duration < 0.0 {
        line.push_str("permanent -> infinite)");
        return;
    }
    line.push_str(&fail2ban_duration(ban.duration));
    line.push_str(" -> ");
    log::push_local_time(line, ban.start + ban.duration);
    line.push(')');
}

/// A duration as Fail2ban's `MyTime.seconds2str` writes it: at most three units,
/// rounded to the smallest of them (`2h`, `1d 2h 5m`, `59m 50s`, `1y 3w 4d`).
fn fail2ban_duration(seconds: f64) -> String {
    let units = |parts: &[(i64, &str)]| {
        let words: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, unit)| format!("{n}{unit}"))
            .collect();
        words.join(" ")
    };
    let round = |per: f64| (seconds / per).round_ties_even() as i64;
    if seconds >= 31_536_000.0 {
        let d = round(86_400.0);
        return units(&[(d / 365, "y"), (d % 365 / 7, "w"), (d % 365 % 7, "d")]);
    }
    if seconds >= 604_800.0 {
        let h = round(3_600.0);
        return units(&[(h / 168, "w"), (h % 168 / 24, "d"), (h % 24, "h")]);
    }
    if seconds >= 86_400.0 {
        let m = round(60.0);
        return units(&[(m / 1_440, "d"), (m % 1_440 / 60, "h"), (m % 60, "m")]);
    }
    if seconds >= 3_595.0 {
        let tens = round(10.0);
        return units(&[(tens / 360, "h"), (tens % 360 / 6, "m")]);
    }
    let s = seconds as i64;
    match units(&[(s / 60, "m"), (s % 60, "s")]) {
        empty if empty.is_empty() => "0".into(),
        text => text,
    }
}

/// `[{jail}] {ip} already banned`, appended to `line`.
fn push_already_banned(line: &mut String, jail: &str, ip: std::net::IpAddr) {
    line.push('[');
    line.push_str(jail);
    line.push_str("] ");
    push_ip(line, ip);
    line.push_str(" already banned");
}

/// The ban of an offence found here, starting at `start`, with the failure's
/// captured `fields` for the actions (its duration and count are the jail's to
/// set, see `Server::ban`).
fn offence_ban<D>(o: &Offence<D>, start: f64, fields: Vec<(String, String)>) -> Ban {
    Ban {
        ip: o.ip,
        start,
        duration: 0.0,
        count: 0,
        failures: o.failures,
        // shared with the tracker's (and the actions') copies, not copied
        matches: o.matches.to_vec(),
        fields,
        origin: None,
        restored: false,
    }
}

/// How a `reload` goes (Fail2ban's options of the same names).
#[derive(Debug, Default, Clone, Copy)]
pub struct ReloadOptions {
    /// Lift the reloaded jails' bans first.
    pub unban: bool,
    /// Stop the reloaded jails and start them again (their actions stop and start).
    pub restart: bool,
    /// A jail that is neither running nor configured is no error.
    pub if_exists: bool,
}

/// The server's state, owned by its thread.
pub struct Server {
    options: ServerOptions,
    settings: ServerSettings,
    jails: Vec<Jail>,
    db: Database,
    log: Logger,
    events: SyncSender<Event>,
    files: Option<FileWatcher>,
    journals: HashMap<String, JournalReader>,
    /// Which jails read a path (filled on first sight of the path).
    path_jails: HashMap<PathBuf, Vec<usize>>,
    positions: Vec<FilePosition>,
    cursors: Vec<(String, String)>,
    /// Bans made while handling the current events, committed together.
    new_bans: Vec<(usize, Ban)>,
    /// The same, by address.
    new_by_ip: AddressMap<Vec<PendingBan>>,
    /// `already banned` notes about the new bans, written after their `Ban` lines.
    after_ban_lines: Vec<AlreadyBanned>,
    /// The same, counted per jail (for `maxbans`).
    new_per_jail: HashMap<usize, usize>,
    /// Bans the database refused (disk full), written again later.
    unsaved: Vec<BanRecord>,
    unsaved_retry: Instant,
    /// Whether writing read positions fails now (said once, not per batch).
    positions_failing: bool,
    /// Failed firewall calls per jail, counted from the actions' reports.
    action_errors: metrics::ActionErrors,
    /// Failures and bans per minute, written for the dashboard's charts.
    activity: dashboard::activity::ActivityRecorder,
    stop_requested: bool,
    /// The socket file this server created (device, inode).
    socket_id: Option<(u64, u64)>,
    /// The fleet, when `[Fleet]` is configured.
    fleet: Option<fleet::Fleet>,
    /// The token the running dashboard checks writes against, when it runs.
    dashboard_token: Option<dashboard::Token>,
    /// What the last reload logged of the running server that the configuration
    /// alone does not tell (a listener kept until restart), for `ferroban reload`
    /// to print after its answer (the `reload-notes` command).
    pub(crate) reload_notes: Vec<String>,
}

/// Load the jails of `confdir` and build them (filters compiled, ignore lists
/// resolved): the configuration test, and what start, reload and `start JAIL` use,
/// so that nothing is compiled twice.
pub fn check_config(confdir: &Path) -> Result<Vec<Jail>> {
    ServerSettings::load(confdir)?;
    FleetSettings::load(confdir)?;
    let cfg = load_jails(confdir)?;
    cfg.jails
        .into_iter()
        .map(|j| {
            if let Backend::Inotify | Backend::Polling = j.backend {
                if Encoding::from_name(&j.logencoding).is_none() {
                    bail!(
                        "jail [{}]: logencoding {:?} is not supported; use auto, utf-8 or latin-1",
                        j.name,
                        j.logencoding
                    );
                }
            }
            Jail::new(j).map_err(|e| anyhow!(e))
        })
        .collect()
}

/// The native nftables actions of `jails` whose rules nft refuses, checked
/// without applying them (as root only; see
/// [`ferroban_actions::refused_firewall_rule`]): one error a jail and action, what
/// nft said. `check` prints them; a reload with any is refused.
pub fn refused_firewall_rules<'a>(jails: impl IntoIterator<Item = &'a Jail>) -> Vec<String> {
    let mut refused = Vec::new();
    for jail in jails {
        for action in &jail.config.actions {
            if let Some(why) = ferroban_actions::refused_firewall_rule(action) {
                refused.push(format!(
                    "{}[{}] action {}: nft refuses its rules, so its bans would block \
                     nothing; mend the value nft points at (blocktype, protocol, port, \
                     chain_hook, …):\n{why}",
                    jail::action_place(&jail.config, &action.name),
                    jail.name(),
                    action.name
                ));
            }
        }
    }
    refused
}

/// What `check` warns about in a configuration that loads (`jails`, from
/// [`check_config`]): the [`quiet_mistakes`], ignoreip names that do not resolve, firewall actions whose
/// program is not installed, jails in a fleet that is not configured, and secrets (the fleet's password, the dashboard's
/// token) in files other users can read.
pub fn config_warnings(confdir: &Path, jails: &[Jail]) -> Vec<String> {
    let mut warnings = quiet_mistakes(confdir, &configs_of(jails));
    warnings.extend(jails.iter().flat_map(|j| j.unresolved_ignoreip()));
    for jail in jails {
        for action in &jail.config.actions {
            if let Some((program, package)) = ferroban_actions::missing_firewall_tool(action) {
                warnings.push(format!(
                    "{}[{}] action {} runs {program}, which is not installed here: its bans \
                     will fail (apt-get install {package}, or run the server with --dry-run)",
                    jail::action_place(&jail.config, &action.name),
                    jail.name(),
                    action.name
                ));
            }
        }
    }
    let fleet = FleetSettings::load(confdir).ok().flatten();
    if fleet.is_none() {
        for jail in jails.iter().filter(|j| j.config.fleet != FleetMode::Off) {
            warnings.push(format!(
                "{}[{}] fleet = {} does nothing: there is no [Fleet] section (the engine to \
                 share through; see /usr/share/doc/ferroban/fleet.md, in the source docs/fleet.md)",
                jail.config.place_of("fleet"),
                jail.name(),
                jail.config.fleet.as_str()
            ));
        }
    }
    let settings = ServerSettings::load(confdir).ok();
    warnings.extend(
        settings
            .as_ref()
            .and_then(ServerSettings::open_dashboard_warning),
    );
    warnings.extend(readable_secrets(fleet.as_ref(), settings.as_ref()));
    warnings
}

/// A warning for each secret (the fleet's password or token, the dashboard's
/// token) in a file that other users can read: what `check` says, and `reload`
/// after its answer.
pub fn readable_secrets(
    fleet: Option<&FleetSettings>,
    settings: Option<&ServerSettings>,
) -> Vec<String> {
    let fleet = fleet.and_then(FleetSettings::readable_secret_warning);
    fleet
        .into_iter()
        .chain(settings.and_then(ServerSettings::readable_token_warning))
        .collect()
}

/// What Fail2ban runs without a word although it cannot be meant: the options
/// that look misspelt in the jail files of `confdir` and in the filters `jails`
/// use (each filter once), each jail's own (no action, a time that never bans, a
/// log path that reads nothing), option references left in a filter's regexes (a
/// filter mode that does not exist), and a recidive jail that reads another log
/// than the one this server writes. `check` prints them, the server logs them at
/// start and reload, and `reload` prints them after its answer.
pub fn quiet_mistakes(confdir: &Path, jails: &[&JailConfig]) -> Vec<String> {
    let mut warnings = ferroban_config::misspelt::misspelt_jail_options(confdir);
    warnings.extend(ferroban_config::misspelt::misspelt_server_options(confdir));
    warnings.extend(jails.iter().flat_map(|j| j.warnings.iter().cloned()));
    warnings.extend(jails.iter().flat_map(|j| unresolved_option_tags(j)));
    let mut filters: Vec<&[PathBuf]> = jails.iter().map(|j| &j.filter.files[..]).collect();
    filters.sort();
    filters.dedup();
    for files in filters {
        warnings.extend(ferroban_config::misspelt::misspelt_filter_options(files));
    }
    if let Ok(settings) = ServerSettings::load(confdir) {
        warnings.extend(
            jails
                .iter()
                .filter_map(|j| recidive_elsewhere(j, &settings.logtarget)),
        );
    }
    warnings.extend(byte_order_marks(confdir, jails));
    warnings
}

/// A warning for each configuration file read that starts with a UTF-8 byte-order
/// mark (some Windows editors write one): ferroban reads it, but Fail2ban's own
/// tools refuse the file ("File contains no section headers"), and Debian's
/// Python client reads the configuration before it sends a reload.
fn byte_order_marks(confdir: &Path, jails: &[&JailConfig]) -> Vec<String> {
    let in_dir = |dir: PathBuf| {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries.map(|e| e.path()).collect::<Vec<_>>()
    };
    let mut files = in_dir(confdir.to_path_buf());
    for sub in ["jail.d", "fail2ban.d", "ferroban.d"] {
        files.extend(in_dir(confdir.join(sub)));
    }
    files.retain(|f| f.extension().is_some_and(|e| e == "conf" || e == "local"));
    files.extend(jails.iter().flat_map(|j| j.filter.files.iter().cloned()));
    files.sort();
    files.dedup();
    let starts_with_mark = |file: &PathBuf| {
        let mut head = [0u8; 3];
        let read = std::fs::File::open(file).and_then(|mut f| {
            use std::io::Read;
            f.read_exact(&mut head)
        });
        read.is_ok() && head == [0xEF, 0xBB, 0xBF]
    };
    (files.iter().filter(|f| starts_with_mark(f)))
        .map(|f| {
            format!(
                "{}:1: the file starts with a UTF-8 byte-order mark: ferroban reads it, but \
                 Fail2ban's own tools refuse it (File contains no section headers); save it \
                 without one (sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)",
                f.display()
            )
        })
        .collect()
}

/// A warning for a jail with Fail2ban's `recidive` filter that reads log files
/// of which none is the file this server logs to: it would never see a ban (the
/// stock one reads /var/log/fail2ban.log, where a server on /etc/ferroban writes
/// /var/log/ferroban.log). Said only when the server logs to a file.
fn recidive_elsewhere(config: &JailConfig, logtarget: &LogTarget) -> Option<String> {
    let LogTarget::File(own) = logtarget else {
        return None;
    };
    let reads_files = matches!(config.backend, Backend::Inotify | Backend::Polling);
    if config.filter.name != "recidive" || !reads_files {
        return None;
    }
    let own_real = own.canonicalize().ok();
    let same = |p: &PathBuf| p == own || (own_real.is_some() && p.canonicalize().ok() == own_real);
    if config.logpaths.iter().any(same) {
        return None;
    }
    let read: Vec<String> = config
        .logpaths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Some(format!(
        "[{}] reads {}, but this server logs to {}: it never sees a ban; set logpath = {}",
        config.name,
        read.join(", "),
        own.display(),
        own.display()
    ))
}

fn configs_of(jails: &[Jail]) -> Vec<&JailConfig> {
    jails.iter().map(|j| &j.config).collect()
}

/// Log the [`quiet_mistakes`] at start and reload: a `bantim = 1h` leaves the
/// jail at its old ban time, and only this line says so.
fn warn_quiet_mistakes(log: &Logger, confdir: &Path, jails: &[Jail]) {
    for warning in quiet_mistakes(confdir, &configs_of(jails)) {
        log.log(Component::Server, Severity::Warning, &warning);
    }
}

/// A warning for each `<name>` left in a jail's regexes after every option was
/// substituted: Fail2ban's regex tags are upper case (`<HOST>`, `<F-USER>`), so a
/// lower-case one is an option reference nothing defines, and stays as literal text.
/// Fail2ban says nothing of it either; it is how a misspelt filter option shows
/// (`mode = agressive` leaves `<mdre-agressive>` in sshd's failregex, and the jail
/// quietly matches less than in any real mode).
fn unresolved_option_tags(config: &JailConfig) -> Vec<String> {
    let filter = &config.filter;
    let regexes = filter
        .failregex
        .iter()
        .chain(&filter.ignoreregex)
        .chain(&filter.prefregex);
    let mut names: Vec<&str> = Vec::new();
    for name in regexes.flat_map(|r| jail::unresolved_tags(r)) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut warnings: Vec<String> = Vec::new();
    let mut modes_told = false;
    for name in names {
        match jail::misspelt_mode(config, name) {
            // one warning for a misspelt mode, however many of its tags it left
            Some(_) if modes_told => {}
            Some((mode, modes)) => {
                modes_told = true;
                warnings.push(format!(
                    "{}[{}] {}: its regexes refer to <{name}>, which no option defines, and \
                     match nothing as written there; set mode to one of the filter's",
                    jail::mode_place(config, &mode),
                    config.name,
                    jail::mode_not_in_filter(&filter.name, &mode, &modes),
                ));
            }
            None => warnings.push(format!(
                "{}[{}] filter {}'s regexes refer to <{name}>, which no option defines: it \
                 stays as text, and that regex matches nothing as written; a misspelt \
                 filter option leaves such a tag (ignore this if <{name}> is meant \
                 literally)",
                tag_place(filter, name),
                config.name,
                filter.name,
            )),
        }
    }
    warnings
}

/// `FILE:LINE: ` of the first failregex (else ignoreregex) of `filter` that holds
/// `<name>` after substitution, where it is written; nothing when none can be told
/// (a prefregex's, or one built from other options).
fn tag_place(filter: &FilterDefinition, name: &str) -> String {
    let tag = format!("<{name}>");
    let written = [
        ("failregex", &filter.failregex),
        ("ignoreregex", &filter.ignoreregex),
    ]
    .into_iter()
    .find_map(|(option, regexes)| {
        let index = regexes.iter().position(|r| r.contains(&tag))?;
        filter.locate_regex(option, index)
    });
    written.map_or_else(String::new, |w| {
        format!("{}:{}: ", w.file.display(), w.line)
    })
}

/// Run the server until it is told to stop.
pub fn run(options: ServerOptions) -> Result<()> {
    // What the server and its actions create is for their owner alone (the log
    // names attackers and users; an action's files can hold bans), as Fail2ban.
    // SAFETY: umask only changes this process's file creation mask.
    unsafe { libc::umask(0o077) };
    let mut settings = options.settings()?;
    let level = log::parse_level(&settings.loglevel).unwrap_or(Severity::Info);
    if let Some(e) = settings.missing_log_directory() {
        return Err(e.into());
    }
    let logger = Logger::open(&settings.logtarget, level)
        .with_context(|| format!("cannot open log {}", log::target_text(&settings.logtarget)))?;
    let jails = check_config(&options.confdir).map_err(|e| {
        // (standard error gets it once, as the command's error)
        if !matches!(settings.logtarget, LogTarget::Stderr) {
            logger.log(
                Component::Server,
                Severity::Error,
                &format!("configuration error: {e:#}"),
            );
        }
        e
    })?;
    warn_quiet_mistakes(&logger, &options.confdir, &jails);
    if crate::socket_client::request(&settings.socket, &["ping".to_string()]).is_ok() {
        bail!(
            "a server is already running on {}",
            settings.socket.display()
        );
    }
    ensure_private_state_dirs(&settings)?;
    if settings.socket.exists() && !options.force {
        logger.log(
            Component::Server,
            Severity::Warning,
            &format!("removing stale socket {}", settings.socket.display()),
        );
    }
    let listener = control::bind(&settings.socket)
        .with_context(|| format!("cannot create socket {}", settings.socket.display()))?;
    let socket_id = file_id(&settings.socket);
    let (tx, rx) = sync_channel(QUEUE);
    signals(tx.clone());
    write_pidfile(&settings.pidfile);
    logger.log(
        Component::Server,
        Severity::Info,
        &format!(
            "Starting ferroban v{} (Fail2ban {} compatible)",
            env!("CARGO_PKG_VERSION"),
            ferroban_config::jail::FAIL2BAN_COMPAT_VERSION
        ),
    );
    if options.dry_run {
        logger.log(
            Component::Server,
            Severity::Notice,
            "dry-run: actions are logged, not run",
        );
    }
    let (db, takeover) = crate::import::open_server_database(&settings)?;
    if let Some(note) = takeover {
        logger.log(Component::Database, Severity::Warning, &note);
        // `get dbfile` answers with the file really used.
        settings.dbfile = Some(PathBuf::from(db.path()));
    }
    logger.log(
        Component::Database,
        Severity::Info,
        &format!("Connected to ferroban persistent database '{}'", db.path()),
    );
    let mut server = Server {
        options,
        settings,
        jails: Vec::new(),
        db,
        log: logger,
        events: tx.clone(),
        files: None,
        journals: HashMap::new(),
        path_jails: HashMap::new(),
        positions: Vec::new(),
        cursors: Vec::new(),
        new_bans: Vec::new(),
        new_by_ip: AddressMap::default(),
        after_ban_lines: Vec::new(),
        new_per_jail: HashMap::new(),
        unsaved: Vec::new(),
        unsaved_retry: Instant::now(),
        positions_failing: false,
        action_errors: Default::default(),
        activity: Default::default(),
        stop_requested: false,
        socket_id,
        fleet: None,
        dashboard_token: None,
        reload_notes: Vec::new(),
    };
    if let Err(e) = server.start(jails, &tx) {
        // what did start (jails' actions, the socket, the pid file) is undone
        server.shutdown();
        return Err(e);
    }
    let socket = server.settings.socket.clone();
    std::thread::Builder::new()
        .name("ferroban-control".into())
        .spawn(move || control::serve(listener, tx, socket))?;
    server.log.log(
        Component::Server,
        Severity::Info,
        &format!("Server ready (socket {})", server.settings.socket.display()),
    );
    notify::notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    memory::release_after_startup();
    server.event_loop(rx);
    notify::notify("STOPPING=1");
    server.shutdown();
    Ok(())
}

/// The device and inode of the file at `path`, to recognise it later.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// The directories of the socket, pid file and database when they are in the
/// shared temporary directory (the defaults for anything but the installed
/// service): made mode 0700 when missing, and refused unless this user owns them
/// and nobody else may write there, so that another local user cannot plant a
/// link where the server (perhaps root) writes.
fn ensure_private_state_dirs(settings: &ServerSettings) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let shared = std::env::temp_dir();
    let dirs = [
        settings.socket.parent(),
        settings.pidfile.parent(),
        settings.dbfile.as_deref().and_then(Path::parent),
    ];
    for dir in dirs
        .into_iter()
        .flatten()
        .filter(|d| d.starts_with(&shared) && *d != shared)
    {
        match std::fs::symlink_metadata(dir) {
            Err(_) => std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?,
            Ok(m) => {
                let uid = ferroban_config::settings::current_uid();
                if !m.is_dir() || m.uid() != uid || m.mode() & 0o022 != 0 {
                    bail!(
                        "{} is not a private directory of this user (owner uid {}, mode {:o}): \
                         another user could plant links there; remove it, or set socket, \
                         pidfile and dbfile in ferroban.local",
                        dir.display(),
                        m.uid(),
                        m.mode() & 0o7777
                    );
                }
            }
        }
    }
    Ok(())
}

/// What a ban's log line adds when it came from the fleet: ` (fleet: web2)`.
fn fleet_suffix(ban: &Ban) -> String {
    ban.origin
        .as_ref()
        .map(|o| format!(" (fleet: {o})"))
        .unwrap_or_default()
}

fn write_pidfile(path: &Path) {
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::write(path, format!("{}\n", std::process::id()));
}

/// Turn SIGTERM/SIGINT (stop), SIGHUP (reload) and SIGUSR1 (reopen the log) into
/// events, on a thread of their own.
fn signals(events: SyncSender<Event>) {
    // SAFETY: the signal set is initialised by sigemptyset before use; blocking
    // these signals in this (main) thread is inherited by threads started later.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let _ = std::thread::Builder::new()
            .name("ferroban-signals".into())
            .spawn(move || loop {
                let mut sig: libc::c_int = 0;
                if libc::sigwait(&set, &mut sig) == 0 && events.send(Event::Signal(sig)).is_err() {
                    return;
                }
            });
    }
}

impl Server {
    fn report_sink(&self) -> Arc<dyn Fn(Report) + Send + Sync> {
        let log = self.log.clone();
        let errors = self.action_errors.clone();
        Arc::new(move |r: Report| {
            if r.severity <= Severity::Error {
                if let Ok(mut e) = errors.lock() {
                    *e.entry(r.jail.clone()).or_default() += 1;
                }
            }
            log.log(
                Component::Actions,
                r.severity,
                &format!("[{}] {}", r.jail, r.message),
            )
        })
    }

    /// Where the actions of jail `jail` ask for its bans in force (see
    /// [`ferroban_actions::RestoreSink`]); never waits for room in the queue.
    fn restore_sink(&self, jail: &str) -> ferroban_actions::RestoreSink {
        let events = self.events.clone();
        let jail = jail.to_string();
        Arc::new(move |action| {
            let jail = jail.clone();
            events.try_send(Event::RestoreBans { jail, action }).is_ok()
        })
    }

    /// Hand every ban of jail `jail` in force to its action number `action`, which
    /// lost them with the firewall state it rebuilt.
    fn restore_to_action(&mut self, jail: &str, action: usize) {
        let Some(jail) = self.jails.iter().find(|j| j.name() == jail) else {
            return;
        };
        if let Some(runner) = &jail.runner {
            runner.restore(action, jail.bans.iter().map(ticket).collect());
        }
    }

    /// Serve the metrics, and the dashboard when enabled, on `addr`. A failure is
    /// reported and the server goes on: the firewall matters more than its figures.
    fn start_http(&mut self, addr: std::net::SocketAddr, events: SyncSender<Event>) {
        let dashboard = self.settings.dashboard.then(|| {
            let token = dashboard::Token::new(self.settings.dashboard_token.clone().into());
            self.dashboard_token = Some(token.clone());
            dashboard::Dashboard::new(token, self.log.clone())
        });
        let what = match (&dashboard, self.settings.dashboard_token.is_some()) {
            (None, _) => format!("Metrics on http://{addr}/metrics"),
            (Some(_), true) => format!("Dashboard on http://{addr}/ (writes with the token)"),
            (Some(_), false) => {
                format!("Dashboard on http://{addr}/ (read-only: no dashboard_token)")
            }
        };
        if let Some(warning) = self.settings.open_dashboard_warning() {
            self.log.log(Component::Server, Severity::Warning, &warning);
        }
        if let Some(warning) = dashboard
            .as_ref()
            .and_then(|_| self.settings.readable_token_warning())
        {
            self.log.log(Component::Server, Severity::Warning, &warning);
        }
        let routes = http::Routes::new(events, dashboard);
        let started = std::net::TcpListener::bind(addr).and_then(|listener| {
            std::thread::Builder::new()
                .name("ferroban-http".into())
                .spawn(move || http::serve(listener, routes))
        });
        match started {
            Ok(_) => self.log.log(Component::Server, Severity::Info, &what),
            Err(e) => self.log.log(
                Component::Server,
                Severity::Error,
                &format!("HTTP listener {addr}: {e}; running without it"),
            ),
        }
    }

    /// The Prometheus exposition of every jail.
    fn metrics_text(&self) -> String {
        let errors = self
            .action_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        let figures: Vec<metrics::JailFigures> = self
            .jails
            .iter()
            .map(|j| metrics::JailFigures {
                name: j.name(),
                metrics: &j.metrics,
                failures: j.tracker.total_failed(),
                bans: j.bans.total(),
                banned: j.bans.len(),
                action_errors: errors.get(j.name()).copied().unwrap_or(0),
            })
            .collect();
        metrics::render(&figures) + &self.fleet_metrics()
    }

    /// At start, remove what jails removed while the server was down left in the
    /// native nftables tables (see [`nftables::remove_unused_sets`]): the sets of
    /// jails that this server's database holds bans of.
    fn remove_unused_firewall_sets(&self) {
        if self.options.dry_run {
            return;
        }
        let natives: Vec<&ActionDefinition> = (self.jails.iter())
            .flat_map(|j| &j.config.actions)
            .filter(|d| NATIVE_FIREWALLS.contains(&d.file.as_str()))
            .collect();
        if natives.is_empty() {
            return;
        }
        let log = |severity: Severity, message: String| {
            self.log.log(Component::Actions, severity, &message)
        };
        // only the sets of jails this server banned in: the others may be another
        // daemon's (Fail2ban's nftables action uses the same table)
        let former = match self.db.jails_with_bans() {
            Ok(jails) => jails,
            Err(e) => {
                log(
                    Severity::Warning,
                    format!("reading the database's jails: {e}"),
                );
                return;
            }
        };
        nftables::remove_unused_sets(&natives, &former, &log);
    }

    /// Start the jails (their actions, then the bans in force), the fleet, the log
    /// sources and the dashboard.
    fn start(&mut self, jails: Vec<Jail>, events: &SyncSender<Event>) -> Result<()> {
        self.refuse_foreign_set_entries(&jails.iter().collect::<Vec<_>>())?;
        self.purge();
        for jail in jails {
            self.add_jail(jail, false)?;
        }
        self.remove_unused_firewall_sets();
        self.restore_bans(None)?;
        // The charts count from here: restored bans are not new activity.
        self.take_activity_baseline();
        let fleet_settings = FleetSettings::load(&self.options.confdir)?;
        self.start_fleet(fleet_settings, None)?;
        self.reset_fleet_counters();
        self.start_sources();
        if let Some(addr) = self.settings.http_listen() {
            self.start_http(addr, events.clone());
        }
        Ok(())
    }

    /// Refuse to start `jails` (at the server's start, or new in a reload) where a
    /// jail's native nftables set already holds an address this server's database
    /// never banned in that jail: the set is another daemon's (Fail2ban's nftables
    /// action makes the same table and set names, so a Fail2ban running the same
    /// jails shares them), and starting would empty it, and stopping delete it,
    /// lifting that daemon's bans with no word to it. At start, read before the
    /// purge, which could forget the record of a ban that ended while this server
    /// was down and still sits in the set.
    fn refuse_foreign_set_entries(&self, jails: &[&Jail]) -> Result<()> {
        if self.options.dry_run {
            return Ok(());
        }
        fn natives(jail: &Jail) -> Vec<&ActionDefinition> {
            (jail.config.actions.iter())
                .filter(|d| NATIVE_FIREWALLS.contains(&d.file.as_str()))
                .collect()
        }
        let with_firewall: Vec<&Jail> = (jails.iter().copied())
            .filter(|j| !natives(j).is_empty())
            .collect();
        if with_firewall.is_empty() {
            return Ok(());
        }
        self.refuse_running_fail2bans_jails(&with_firewall)?;
        let actions: Vec<(&Jail, &ActionDefinition)> = (with_firewall.iter())
            .flat_map(|jail| natives(jail).into_iter().map(move |def| (*jail, def)))
            .collect();
        let defs: Vec<&ActionDefinition> = actions.iter().map(|(_, def)| *def).collect();
        for (i, set, addresses) in nftables::addresses_in_sets(&defs) {
            let jail = actions[i].0;
            let never_ours: Vec<&String> = (addresses.iter())
                .filter(|ip| self.db.has_banned(ip, jail.name()).ok() == Some(false))
                .collect();
            let Some(first) = never_ours.first() else {
                continue;
            };
            let more = match never_ours.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            bail!(
                "jail [{}]: the nftables set {set} holds addresses this server never \
                 banned ({first}{more}): another daemon uses it (Fail2ban's nftables \
                 action makes the same table and set names), or this server's ban \
                 database is not the one it had. Starting would empty that set and \
                 stopping would delete it. Stop the other daemon first (systemctl stop \
                 fail2ban), or give this jail another name, or start with --dry-run; \
                 if no other daemon uses the set, empty it and start again: nft flush \
                 set {set}",
                jail.name()
            );
        }
        Ok(())
    }

    /// Refuse to start where Fail2ban's server (at the socket /etc/fail2ban names,
    /// when that is not this server's) runs in this network namespace with a jail
    /// of the name of one of `jails` (those with a native nftables action): that
    /// jail's bans go into the same set, which this server would delete at stop.
    /// A Fail2ban jail that banned nothing yet has no set to tell it by.
    fn refuse_running_fail2bans_jails(&self, jails: &[&Jail]) -> Result<()> {
        let fail2ban = Path::new("/etc/fail2ban");
        let Ok(theirs) = ServerSettings::load(fail2ban) else {
            return Ok(());
        };
        if theirs.socket == self.settings.socket {
            return Ok(());
        }
        let Some(running) = crate::socket_client::jails_sharing_this_firewall(&theirs.socket)
        else {
            return Ok(());
        };
        let shared: Vec<&str> = (jails.iter().map(|j| j.name()))
            .filter(|name| running.iter().any(|r| r == name))
            .collect();
        if shared.is_empty() {
            return Ok(());
        }
        bail!(
            "the server on {} (Fail2ban's socket) runs in this network namespace with \
             jails of the names of this server's: {}. Their bans go into the same nftables \
             sets (Fail2ban's nftables action makes the same table and set names), which \
             this server would empty at start and delete at stop. Stop it first \
             (systemctl stop fail2ban), or give these jails other names, or start with \
             --dry-run",
            theirs.socket.display(),
            shared.join(", ")
        );
    }

    /// Start a built jail: its actions, then (with `restore`) its bans from the
    /// database.
    fn add_jail(&mut self, mut jail: Jail, restore: bool) -> Result<()> {
        self.log.log(
            Component::Jail,
            Severity::Info,
            &format!("Creating new jail '{}'", jail.name()),
        );
        if let Some(note) = &jail.config.backend_note {
            self.log.log(
                Component::Jail,
                Severity::Notice,
                &format!("[{}] {note}", jail.name()),
            );
        }
        for warning in jail.unresolved_ignoreip() {
            self.log.log(Component::Jail, Severity::Warning, &warning);
        }
        jail.runner = Some(ActionRunner::start(
            jail.name(),
            jail.config.actions.clone(),
            self.options.dry_run,
            self.report_sink(),
            self.restore_sink(jail.name()),
        ));
        jail.tracker
            .set_max_addresses(self.settings.maxtrackedaddresses);
        jail.prepare_filter();
        jail.started = now();
        let idx = self.jails.len();
        self.jails.push(jail);
        self.read_ban_history(idx);
        if restore {
            let name = self.jails[idx].name().to_string();
            self.restore_bans(Some(&name))?;
        }
        self.log.log(
            Component::Jail,
            Severity::Info,
            &format!("Jail '{}' started", self.jails[idx].name()),
        );
        self.path_jails.clear();
        Ok(())
    }

    /// Put the bans still in force back in place (of one jail, or of all), before
    /// any line is read.
    fn restore_bans(&mut self, only: Option<&str>) -> Result<()> {
        let records = self.db.bans_in_force(now())?;
        let mut tickets: HashMap<usize, Vec<ferroban_actions::BanTicket>> = HashMap::new();
        let index: HashMap<String, usize> = self
            .jails
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name().to_string(), i))
            .collect();
        for r in records {
            if only.is_some_and(|n| n != r.jail) {
                continue;
            }
            let (Some(&idx), Ok(ip)) = (index.get(&r.jail), r.ip.parse()) else {
                continue;
            };
            let ban = Ban {
                ip,
                start: r.start,
                duration: r.duration,
                count: r.count,
                failures: r.failures,
                matches: r.matches.into_iter().map(Arc::from).collect(),
                fields: r.fields,
                origin: r.origin.as_deref().map(Arc::from),
                restored: true,
            };
            let restored = ticket(&ban);
            let suffix = fleet_suffix(&ban);
            if self.jails[idx].keep_ban(ban) {
                self.log.log(
                    Component::Actions,
                    Severity::Notice,
                    &format!("[{}] Restore Ban {ip}{suffix}", r.jail),
                );
                tickets.entry(idx).or_default().push(restored);
            }
        }
        for (idx, t) in tickets {
            if let Some(r) = &self.jails[idx].runner {
                r.ban(t);
            }
        }
        Ok(())
    }

    fn stop_jail(&mut self, idx: usize) {
        // Bans made earlier in this round name their jail by index: committed now,
        // before the indices move (a command can come between lines and the commit).
        self.commit();
        let mut jail = self.jails.remove(idx);
        if let Some(j) = self.journals.remove(jail.name()) {
            j.stop();
        }
        let mut banned = Vec::with_capacity(jail.bans.len());
        for ban in jail.bans.drain() {
            self.log.log(
                Component::Actions,
                Severity::Notice,
                &format!("[{}] Unban {}", jail.name(), ban.ip),
            );
            banned.push(ticket(&ban));
        }
        if let Some(r) = jail.runner.take() {
            r.stop(banned);
        }
        self.log.log(
            Component::Jail,
            Severity::Info,
            &format!("Jail '{}' stopped", jail.name()),
        );
        self.path_jails.clear();
    }

    fn watches(&self) -> Vec<Watch> {
        let mut out: Vec<Watch> = Vec::new();
        for j in self.jails.iter().filter(|j| !j.is_journal()) {
            let encoding = Encoding::from_name(&j.config.logencoding).unwrap_or(Encoding::Utf8);
            for p in &j.config.logpaths {
                if !out.iter().any(|w| w.pattern == *p) {
                    out.push(Watch {
                        pattern: p.clone(),
                        encoding,
                    });
                }
            }
        }
        out
    }

    fn sink(&self) -> ferroban_sources::Sink {
        let tx = self.events.clone();
        Box::new(move |e| tx.send(Event::Source(e)).is_ok())
    }

    /// Start (or update) the file watcher and the journal readers.
    fn start_sources(&mut self) {
        let watches = self.watches();
        match &self.files {
            Some(f) => f.set_watches(watches),
            None => {
                // A replay reads the logs from their start, wherever it stopped
                // before.
                let mut resume = HashMap::new();
                for w in watches.iter().filter(|_| !self.options.replay) {
                    let paths = ferroban_sources::files::expand(&w.pattern);
                    for p in paths.iter().map(|p| p.display().to_string()) {
                        if let Ok(Some(pos)) = self.db.position(&p) {
                            resume.insert(p, pos);
                        }
                    }
                }
                self.files = Some(FileWatcher::start(watches, resume, self.sink()));
            }
        }
        for idx in 0..self.jails.len() {
            let j = &self.jails[idx];
            let Backend::Systemd { files, directory } = &j.config.backend else {
                continue;
            };
            if self.journals.contains_key(j.name()) {
                continue;
            }
            let spec = JournalSpec {
                source: j.name().to_string(),
                matches: j.config.filter.journalmatch.clone(),
                files: files.clone(),
                directory: directory.clone(),
                cursor: self
                    .db
                    .cursor(&journal_source(j.name()))
                    .ok()
                    .flatten()
                    .filter(|_| !self.options.replay),
                since: if self.options.replay {
                    0.0
                } else {
                    // after the last entry Fail2ban read, when its database was
                    // imported (a microsecond: journalctl's resolution)
                    let taken_over = self.db.journal_start(&journal_source(j.name()));
                    let recent = now() - j.config.findtime;
                    taken_over
                        .ok()
                        .flatten()
                        .map_or(recent, |t| (t + 1e-6).max(recent))
                },
            };
            let name = j.name().to_string();
            let reader = JournalReader::start(spec, self.sink());
            self.journals.insert(name, reader);
        }
    }

    /// Let the dashboard's activity recorder see every jail as it is now, so that
    /// the first lines a jail reads count as activity and its restored bans do not.
    fn take_activity_baseline(&mut self) {
        self.activity
            .tick(&self.jails, &mut self.db, now(), &self.log);
    }

    fn event_loop(&mut self, rx: Receiver<Event>) {
        log::defer_flushes_on_this_thread();
        let mut last_housekeeping = Instant::now();
        // Set by work, cleared when the freed memory was returned in a quiet moment.
        let mut busy_since_trim = true;
        while !self.stop_requested {
            let wait = self.next_expiry().map_or(Duration::from_secs(1), |t| {
                Duration::from_secs_f64((t - now()).clamp(0.0, 1.0))
            });
            match rx.recv_timeout(wait) {
                Ok(ev) => {
                    busy_since_trim = true;
                    self.handle(ev);
                    // Whatever else is queued goes into the same commit, up to a
                    // batch of bans.
                    for _ in 0..QUEUE {
                        if self.stop_requested || self.new_bans.len() >= COMMIT_BANS {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(ev) => self.handle(ev),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) if busy_since_trim => {
                    // A quiet second after work (a burst of lines, a reload, the
                    // actions starting): give the memory it freed back.
                    busy_since_trim = false;
                    self.db.release_memory();
                    memory::release_free_heap();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.commit();
            self.expire_bans();
            self.activity
                .tick(&self.jails, &mut self.db, now(), &self.log);
            self.log.flush();
            if last_housekeeping.elapsed() >= HOUSEKEEPING {
                last_housekeeping = Instant::now();
                let t = now();
                for j in &mut self.jails {
                    j.tracker.expire(t);
                }
                self.fleet_housekeeping();
                self.purge();
            }
        }
    }

    fn next_expiry(&mut self) -> Option<f64> {
        self.jails
            .iter_mut()
            .filter_map(|j| j.bans.next_expiry())
            .min_by(f64::total_cmp)
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Source(SourceEvent::Lines {
                path,
                lines,
                position,
            }) => {
                self.lines(&path, &lines);
                self.positions.retain(|p| p.path != position.path);
                self.positions.push(position);
            }
            Event::Source(SourceEvent::Journal {
                source,
                entries,
                cursor,
            }) => {
                if let Some(idx) = self.jails.iter().position(|j| j.name() == source) {
                    let t = now();
                    // one clock read for the block's log lines too
                    let _clock = log::hold_clock(t);
                    let started = std::time::Instant::now();
                    let mut offences = Vec::new();
                    for (line, time) in &entries {
                        self.jails[idx].process_line(
                            line,
                            Some(*time),
                            t,
                            self.options.replay,
                            &self.log,
                            &mut offences,
                        );
                        self.offences(idx, &mut offences, t);
                    }
                    self.jails[idx]
                        .metrics
                        .observe(entries.len(), started.elapsed());
                }
                if let Some(c) = cursor {
                    self.cursors.push((journal_source(&source), c));
                }
            }
            Event::Source(SourceEvent::Warning(w)) => {
                self.log.log(Component::Server, Severity::Warning, &w)
            }
            Event::Command { words, reply } => {
                let result = commands::execute(self, &words);
                // Bans a command made are committed, and what it logged is written,
                // before it is answered: a client that reads the log next finds it.
                self.commit();
                self.log.flush();
                let _ = reply.send(result);
            }
            Event::Signal(sig) if sig == libc::SIGHUP => {
                if let Err(e) = self.reload(None, ReloadOptions::default()) {
                    self.log.log(
                        Component::Server,
                        Severity::Error,
                        &format!("reload failed, old configuration kept: {e}"),
                    );
                }
            }
            Event::Signal(sig) if sig == libc::SIGUSR1 => {
                let _ = self.log.reopen();
            }
            Event::Signal(_) => self.stop_requested = true,
            Event::Fleet(event) => self.fleet_event(event),
            Event::RestoreBans { jail, action } => self.restore_to_action(&jail, action),
        }
    }

    fn lines(&mut self, path: &Path, lines: &LineBlock) {
        let jails = match self.path_jails.get(path) {
            Some(j) => j.clone(),
            None => {
                let j: Vec<usize> = (0..self.jails.len())
                    .filter(|&i| self.jails[i].watches(path))
                    .collect();
                self.path_jails.insert(path.to_path_buf(), j.clone());
                j
            }
        };
        let t = now();
        // one clock read for the block's log lines too
        let _clock = log::hold_clock(t);
        let started = std::time::Instant::now();
        let mut count = 0;
        // one list for the block's offences (a brute-forcer's burst makes thousands)
        let mut offences = Vec::new();
        for line in lines.ended_lines() {
            count += 1;
            for &idx in &jails {
                let jail = &mut self.jails[idx];
                jail.process_line(line, None, t, self.options.replay, &self.log, &mut offences);
                if !offences.is_empty() {
                    self.offences(idx, &mut offences, t);
                }
            }
        }
        for &idx in &jails {
            self.jails[idx].metrics.observe(count, started.elapsed());
        }
    }

    /// Ban the offences of jail `idx` (taken from the list), found at `t` (the time
    /// their lines were read).
    fn offences(&mut self, idx: usize, offences: &mut Vec<JailOffence>, t: f64) {
        for found in offences.drain(..) {
            let o = &found.offence;
            // As Fail2ban: a ban starts at the failure's log time, and one that has
            // ended by the time its log is read is not made. A replay counts old
            // lines as if they happened now, so its bans start now.
            let start = if self.options.replay {
                t
            } else {
                o.time.min(t)
            };
            let bantime = self.jails[idx].policy.bantime;
            if bantime >= 0.0 && start + bantime < t {
                self.log.log(
                    Component::Actions,
                    Severity::Info,
                    &format!(
                        "[{}] Ignore {}, expired bantime",
                        self.jails[idx].name(),
                        o.ip
                    ),
                );
                continue;
            }
            // Most offences of a brute-forcer's burst are by an address banned
            // already: its matched lines are not copied for nothing.
            if self.note_if_banned(idx, o.ip, start) {
                continue;
            }
            self.ban(idx, offence_ban(o, start, found.action_fields()));
        }
    }

    /// Count a failure of `ip` reported by command (`set JAIL attempt`) with the
    /// texts as its matched lines, worth one failure each (one without), as
    /// Fail2ban's: 1, or 0 when the jail ignores the address. A ban follows when
    /// they reach `maxretry`, as for a filter's failures.
    fn attempt(&mut self, idx: usize, ip: std::net::IpAddr, texts: &[&str]) -> usize {
        let name = self.jails[idx].name().to_string();
        if let Some(reason) = self.jails[idx].ignore.check(ip) {
            self.jails[idx].stats.ignored += 1;
            self.log.log(
                Component::Filter,
                Severity::Notice,
                &format!("[{name}] Ignore {ip} by {reason}: attempt not counted"),
            );
            return 0;
        }
        let t = now();
        self.log.log(
            Component::Filter,
            Severity::Info,
            &format!("[{name}] Attempt {ip} - {}", log::time_text(t)),
        );
        let lines: Vec<Arc<str>> = texts.iter().map(|text| Arc::from(*text)).collect();
        let count = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        if let Some(o) = self.jails[idx].track(ip, t, &lines, count, None, &self.log) {
            self.ban(idx, offence_ban(&o, t, Vec::new()));
        }
        1
    }

    /// Make a ban in jail `idx` (duration and count from its policy and history).
    /// Returns false if the address is banned there already (or the jail is full).
    fn ban(&mut self, idx: usize, mut ban: Ban) -> bool {
        if self.note_if_banned(idx, ban.ip, ban.start) || !self.room(idx, &ban.ip) {
            return false;
        }
        let jail = &self.jails[idx];
        let pending = self.new_by_ip.get(&ban.ip);
        let overall = jail
            .policy
            .increment
            .as_ref()
            .is_some_and(|i| i.overalljails);
        let previous = if jail.policy.increment.is_some() {
            let scope = (!overall).then(|| jail.name().to_string());
            let stored = self
                .db
                .ban_count(&ban.ip.to_string(), scope.as_deref())
                .unwrap_or(0);
            let pending = pending
                .into_iter()
                .flatten()
                .filter(|p| overall || p.jail == idx)
                .map(|p| p.count)
                .max()
                .unwrap_or(0);
            stored.max(pending)
        } else {
            0
        };
        ban.count = previous + 1;
        ban.duration = jail.policy.duration(previous);
        self.jails[idx].note_ban_history(ban.ip, ban.count, ban.start);
        self.queue_ban(idx, ban);
        true
    }

    /// Whether `ip` is banned in jail `idx` already, or about to be; if so, logs
    /// that a failure at `time` found it banned.
    fn note_if_banned(&mut self, idx: usize, ip: std::net::IpAddr, time: f64) -> bool {
        let Some((since, pending_ban)) = self.banned_since(idx, &ip) else {
            return false;
        };
        // Fail2ban's levels: how long after the ban the failure happened.
        let after = time - since;
        let severity = if after < 3.0 {
            Severity::Debug
        } else if after < 60.0 {
            Severity::Notice
        } else {
            Severity::Warning
        };
        // A brute-forcer's lines read after its ban (a burst, or a log read from
        // its start) come by the thousand: the note is written straight in.
        if !pending_ban {
            let jail = self.jails[idx].name();
            self.log.log_with(Component::Actions, severity, |line| {
                push_already_banned(line, jail, ip)
            });
        } else if self.log.enabled(severity) {
            // Its `Ban` line is written at the commit: say this after it.
            self.after_ban_lines.push(AlreadyBanned {
                severity,
                jail: idx,
                ip,
            });
        }
        true
    }

    /// Whether `ip` is banned in jail `idx`, or about to be.
    fn held(&self, idx: usize, ip: &std::net::IpAddr) -> bool {
        self.banned_since(idx, ip).is_some()
    }

    /// When `ip`'s ban in jail `idx` started, and whether it is only about to be
    /// made (in the batch committed next); `None` when it is not banned there.
    fn banned_since(&self, idx: usize, ip: &std::net::IpAddr) -> Option<(f64, bool)> {
        match self.jails[idx].bans.get(ip) {
            Some(b) => Some((b.start, false)),
            None => self
                .new_by_ip
                .get(ip)?
                .iter()
                .find(|p| p.jail == idx)
                .map(|p| (p.start, true)),
        }
    }

    /// Whether jail `idx` may hold one more ban (`maxbans`); says so if not.
    fn room(&self, idx: usize, ip: &std::net::IpAddr) -> bool {
        let jail = &self.jails[idx];
        let held = jail.bans.len() + self.new_per_jail.get(&idx).copied().unwrap_or(0);
        if held >= self.settings.maxbans {
            self.log.log(
                Component::Actions,
                Severity::Error,
                &format!(
                    "[{}] {ip} not banned: the jail holds {held} bans, the limit (maxbans in \
                     ferroban.conf); raise it, or shorten bantime",
                    jail.name(),
                ),
            );
            return false;
        }
        true
    }

    /// Add a ban whose duration is settled to those committed next.
    fn queue_ban(&mut self, idx: usize, ban: Ban) {
        self.jails[idx].tracker.forget(&ban.ip);
        self.fleet_consume(idx, ban.ip, ban.start);
        self.new_by_ip.entry(ban.ip).or_default().push(PendingBan {
            jail: idx,
            count: ban.count,
            start: ban.start,
        });
        self.new_bans.push((idx, ban));
        *self.new_per_jail.entry(idx).or_default() += 1;
    }

    /// Write bans that the database refused earlier, at most every
    /// [`UNSAVED_RETRY`].
    fn save_unsaved_bans(&mut self) {
        if self.unsaved.is_empty() || Instant::now() < self.unsaved_retry {
            return;
        }
        match self.db.add_bans(&self.unsaved) {
            Ok(()) => {
                self.log.log(
                    Component::Database,
                    Severity::Notice,
                    &format!(
                        "{} bans written to the database after an earlier failure",
                        self.unsaved.len()
                    ),
                );
                self.unsaved.clear();
            }
            Err(_) => self.unsaved_retry = Instant::now() + UNSAVED_RETRY,
        }
    }

    /// Write the new bans, then the read positions, and only then hand the bans to
    /// the actions and log them: a ban reported anywhere is on disk, and so is the
    /// position past the lines that caused it, so a `kill -9` right after a ban
    /// neither loses it nor reads those lines (and counts them) again.
    fn commit(&mut self) {
        self.save_unsaved_bans();
        self.publish_failures();
        self.save_new_bans();
        self.save_read_positions();
        self.publish_new_bans();
        self.dispatch_new_bans();
    }

    /// Write the bans made since the last commit to the database.
    fn save_new_bans(&mut self) {
        if self.new_bans.is_empty() {
            return;
        }
        let records: Vec<BanRecord> = self
            .new_bans
            .iter()
            .map(|(i, b)| BanRecord {
                jail: self.jails[*i].name().to_string(),
                ip: b.ip.to_string(),
                start: b.start,
                duration: b.duration,
                count: b.count,
                failures: b.failures,
                matches: b
                    .matches
                    .iter()
                    .rev()
                    .take(self.settings.dbmaxmatches)
                    .rev()
                    .map(|m| m.to_string())
                    .collect(),
                fields: b.fields.clone(),
                origin: b.origin.as_deref().map(str::to_string),
            })
            .collect();
        if let Err(e) = self.db.add_bans(&records) {
            // Still ban: the firewall matters more than the record, which is
            // written again until the database takes it (a full disk, a lock).
            self.log.log(
                Component::Database,
                Severity::Error,
                &format!(
                    "{e}; the bans are made and will be written when the database \
                     accepts them again"
                ),
            );
            self.unsaved.extend(records);
            self.unsaved_retry = Instant::now() + UNSAVED_RETRY;
        }
    }

    /// Hand the new bans to their jails' actions, then log them.
    fn dispatch_new_bans(&mut self) {
        if self.new_bans.is_empty() {
            return;
        }
        // The actions get the bans before they are logged: writing 100,000 log
        // lines then overlaps with the firewall work on the actions' threads.
        let mut per_jail: HashMap<usize, Vec<ferroban_actions::BanTicket>> = HashMap::new();
        for (idx, ban) in &self.new_bans {
            per_jail.entry(*idx).or_default().push(ticket(ban));
        }
        for (idx, tickets) in per_jail {
            if let Some(r) = &self.jails[idx].runner {
                r.ban(tickets);
            }
        }
        self.new_by_ip.clear();
        self.new_per_jail.clear();
        // Below NOTICE the 100,000 lines of a fleet join are not even made.
        let say = self.log.enabled(Severity::Notice);
        let _clock = log::hold_clock(now());
        for (idx, ban) in std::mem::take(&mut self.new_bans) {
            let jail = &mut self.jails[idx];
            if say {
                self.log.log(
                    Component::Actions,
                    Severity::Notice,
                    &format!("[{}] Ban {}{}", jail.name(), ban.ip, fleet_suffix(&ban)),
                );
                // after the ban, as Fail2ban's observer says it
                let increased = ban.count > 1 && ban.origin.is_none();
                if increased && jail.policy.increment.is_some() {
                    self.log
                        .log_with(Component::Observer, Severity::Notice, |line| {
                            push_increase_ban(line, jail.name(), &ban)
                        });
                }
            }
            jail.keep_ban(ban);
        }
        for note in std::mem::take(&mut self.after_ban_lines) {
            let jail = self.jails[note.jail].name();
            self.log
                .log_with(Component::Actions, note.severity, |line| {
                    push_already_banned(line, jail, note.ip)
                });
        }
    }

    /// Write the read positions and journal cursors of the lines handled so far.
    fn save_read_positions(&mut self) {
        if !self.positions.is_empty() {
            // Kept until written: the newest position per file replaces older ones.
            match self.db.set_positions(&self.positions) {
                Ok(()) => {
                    self.positions.clear();
                    self.positions_failing = false;
                }
                Err(e) if !self.positions_failing => {
                    self.positions_failing = true;
                    self.log.log(
                        Component::Database,
                        Severity::Error,
                        &format!("{e}; read positions are kept in memory until it works again"),
                    );
                }
                Err(_) => {}
            }
        }
        for (source, cursor) in std::mem::take(&mut self.cursors) {
            let _ = self.db.set_cursor(&source, &cursor);
        }
    }

    fn expire_bans(&mut self) {
        let t = now();
        let mut ended = Vec::new();
        for j in &mut self.jails {
            let gone = j.bans.take_expired(t);
            if gone.is_empty() {
                continue;
            }
            j.metrics.unbans += gone.len() as u64;
            for b in &gone {
                self.log.log(
                    Component::Actions,
                    Severity::Notice,
                    &format!("[{}] Unban {}", j.config.name, b.ip),
                );
            }
            if let Some(r) = &j.runner {
                r.unban(gone.iter().map(ticket).collect());
            }
            if j.config.fleet.publishes() {
                ended.push((j.config.name.clone(), gone));
            }
        }
        for (jail, gone) in ended {
            self.publish_ended(&jail, &gone);
        }
    }

    /// Lift bans by an administrator's command (`unban`, `set JAIL unbanip`,
    /// `reload --unban`, the dashboard) in jail `idx`: of `ips`, or of every address (`None`, `unban
    /// --all`). As Fail2ban deletes those addresses from its database (also
    /// where they are not banned), their earlier bans in the jail no longer
    /// lengthen the next one.
    pub(super) fn unban_by_hand(&mut self, idx: usize, ips: Option<&[std::net::IpAddr]>) -> usize {
        let lifted = match ips {
            Some(ips) => self.unban(idx, ips, None),
            None => {
                let all = self.jails[idx].bans.addresses();
                self.unban(idx, &all, None)
            }
        };
        // `None` here: every address of the jail, also those not banned now
        let texts: Option<Vec<String>> =
            ips.map(|ips| ips.iter().map(ToString::to_string).collect());
        // and no longer count their failures more
        if let Some(history) = &mut self.jails[idx].ban_history {
            match ips {
                Some(ips) => history.retain(|ip, _| !ips.contains(ip)),
                None => history.clear(),
            }
        }
        let jail = self.jails[idx].name().to_string();
        if let Err(e) = self.db.forget_ban_counts(&jail, texts.as_deref()) {
            self.log
                .log(Component::Database, Severity::Error, &e.to_string());
        }
        lifted
    }

    /// Lift bans of `ips` in jail `idx` now (by command, or, with `fleet_origin`,
    /// that origin's lift of its fleet ban, which the log line names as a received
    /// ban's does: `Unban 192.0.2.7 (fleet: web1)`). Failure counts are left
    /// as they are, as Fail2ban leaves them: a global `unban IP` must not reset
    /// the count of a jail that did not ban (recidive's, for one).
    fn unban(&mut self, idx: usize, ips: &[std::net::IpAddr], fleet_origin: Option<&str>) -> usize {
        let gone: Vec<Ban> = ips
            .iter()
            .filter_map(|ip| self.jails[idx].bans.remove(ip))
            .collect();
        self.jails[idx].metrics.unbans += gone.len() as u64;
        let name = self.jails[idx].name().to_string();
        let texts: Vec<String> = gone.iter().map(|b| b.ip.to_string()).collect();
        let at = now();
        self.note_lifted_here(idx, &gone, at);
        if let Err(e) = self.db.lift(Some(&name), &texts, at) {
            self.log
                .log(Component::Database, Severity::Error, &e.to_string());
        }
        let suffix = fleet_origin.map_or_else(String::new, |o| format!(" (fleet: {o})"));
        for b in &gone {
            self.log.log(
                Component::Actions,
                Severity::Notice,
                &format!("[{name}] Unban {}{suffix}", b.ip),
            );
        }
        if let Some(r) = &self.jails[idx].runner {
            r.unban(gone.iter().map(ticket).collect());
        }
        self.publish_unbans(idx, &gone);
        gone.len()
    }

    fn purge(&mut self) {
        match self.db.purge(now() - self.settings.dbpurgeage) {
            Ok(n) if n > 0 => self.log.log(
                Component::Database,
                Severity::Info,
                &format!("Purged {n} ended bans from the database"),
            ),
            Err(e) => self
                .log
                .log(Component::Database, Severity::Error, &e.to_string()),
            _ => {}
        }
    }

    /// Apply the configuration on disk (all jails, or one). On an error in the
    /// configuration nothing changes.
    fn reload(&mut self, only: Option<&str>, how: ReloadOptions) -> Result<()> {
        self.log
            .log(Component::Server, Severity::Info, "Reload configuration");
        self.reload_notes.clear();
        let settings = self.options.settings()?;
        if settings.logtarget != self.settings.logtarget {
            if let Some(e) = settings.missing_log_directory() {
                return Err(e.into());
            }
        }
        let fleet_settings = FleetSettings::load(&self.options.confdir)?;
        let fresh = check_config(&self.options.confdir)?;
        // A rule nft refuses would leave the jail blocking nothing: the running
        // configuration stays, as with any other error. Unchanged actions keep the
        // rules they have (asking nft again costs a process each).
        if !self.options.dry_run {
            let reloaded = fresh.iter().filter(|j| only.is_none_or(|n| n == j.name()));
            let refused = refused_firewall_rules(reloaded.filter(|j| self.actions_changed(j)));
            if !refused.is_empty() {
                bail!("{}", refused.join("\n"));
            }
        }
        // A jail new to this server must not take over another daemon's set.
        let new: Vec<&Jail> = (fresh.iter())
            .filter(|j| only.is_none_or(|n| n == j.name()))
            .filter(|j| !self.jails.iter().any(|running| running.name() == j.name()))
            .collect();
        self.refuse_foreign_set_entries(&new)?;
        warn_quiet_mistakes(&self.log, &self.options.confdir, &fresh);
        if let Some(name) = only {
            if !fresh.iter().any(|j| j.name() == name)
                && !self.jails.iter().any(|j| j.name() == name)
            {
                if how.if_exists {
                    return Ok(());
                }
                bail!("the jail '{name}' does not exist");
            }
        }
        if how.unban {
            let targets: Vec<usize> = (0..self.jails.len())
                .filter(|&i| only.is_none_or(|n| self.jails[i].name() == n))
                .collect();
            // as `unban --all` (Fail2ban's reload --unban is its unban of all)
            for idx in targets {
                self.unban_by_hand(idx, None);
            }
        }
        // Stopped here (actionstop runs), and started below as a new jail
        // (actionstart runs, its bans are restored from the database).
        if how.restart {
            while let Some(idx) = self
                .jails
                .iter()
                .position(|j| only.is_none_or(|n| n == j.name()))
            {
                self.stop_jail(idx);
            }
        }
        // Jails gone from the configuration stop.
        let mut i = 0;
        while i < self.jails.len() {
            let name = self.jails[i].name().to_string();
            let wanted = only.is_none_or(|n| n == name);
            if wanted && !fresh.iter().any(|j| j.name() == name) {
                self.stop_jail(i);
            } else {
                i += 1;
            }
        }
        for jail in fresh {
            if only.is_some_and(|n| n != jail.name()) {
                continue;
            }
            match self.jails.iter().position(|j| j.name() == jail.name()) {
                Some(idx) => self.reconfigure_jail(idx, jail),
                None => self.add_jail(jail, true)?,
            }
        }
        if only.is_none() {
            if let Some(l) = log::parse_level(&settings.loglevel) {
                self.log.set_level(l);
                self.settings.loglevel = settings.loglevel.clone();
            }
            if settings.logtarget != self.settings.logtarget {
                self.log.retarget(&settings.logtarget)?;
            }
            self.settings.dbpurgeage = settings.dbpurgeage;
            self.settings.dbmaxmatches = settings.dbmaxmatches;
            self.reload_dashboard(&settings);
            self.reload_fleet(fleet_settings)?;
        }
        self.path_jails.clear();
        self.reset_fleet_counters();
        self.start_sources();
        self.log
            .log(Component::Server, Severity::Info, "Reload finished");
        self.take_activity_baseline();
        memory::release_after_startup();
        Ok(())
    }

    /// A changed `dashboard_token` is in force at once; the listener itself
    /// (`dashboard`, `metrics`) changes only at a restart, which the log says.
    fn reload_dashboard(&mut self, fresh: &ServerSettings) {
        if let Some(token) = &self.dashboard_token {
            if fresh.dashboard_token != self.settings.dashboard_token {
                *token.write().unwrap_or_else(|e| e.into_inner()) = fresh.dashboard_token.clone();
                self.settings.dashboard_token = fresh.dashboard_token.clone();
                let now = match fresh.dashboard_token {
                    Some(_) => "the new token is in force, the old one refused",
                    None => "dashboard writes are off",
                };
                self.log.log(
                    Component::Server,
                    Severity::Notice,
                    &format!("dashboard_token changed: {now}"),
                );
                if let Some(warning) = fresh.readable_token_warning() {
                    self.log.log(Component::Server, Severity::Warning, &warning);
                }
            }
        }
        if fresh.http_listen() != self.settings.http_listen()
            || fresh.dashboard != self.settings.dashboard
        {
            let note = "dashboard or metrics changed: the HTTP listener keeps its settings \
                        until ferroban restarts";
            self.log.log(Component::Server, Severity::Warning, note);
            self.reload_notes.push(note.to_string());
        }
    }

    /// Whether `fresh` is a new jail, or one whose actions differ from its
    /// running namesake's.
    fn actions_changed(&self, fresh: &Jail) -> bool {
        let running = self.jails.iter().find(|j| j.name() == fresh.name());
        running
            .and_then(|j| j.runner.as_ref())
            .is_none_or(|r| r.definitions() != fresh.config.actions.as_slice())
    }

    fn reconfigure_jail(&mut self, idx: usize, fresh: Jail) {
        let actions_changed = self.actions_changed(&fresh);
        let jc = &fresh.config;
        let journal_changed = self.jails[idx].config.backend != jc.backend
            || self.jails[idx].config.filter.journalmatch != jc.filter.journalmatch;
        self.jails[idx].reconfigure(fresh);
        self.read_ban_history(idx);
        if journal_changed {
            if let Some(j) = self.journals.remove(self.jails[idx].name()) {
                j.stop();
            }
        }
        if actions_changed {
            let name = self.jails[idx].name().to_string();
            let jail = &mut self.jails[idx];
            if let Some(old) = jail.runner.take() {
                old.stop(jail.bans.iter().map(ticket).collect());
            }
            if self.jails[idx].keeps_matched_lines {
                self.read_back_matched_lines(idx);
            }
            let runner = ActionRunner::start(
                &name,
                self.jails[idx].config.actions.clone(),
                self.options.dry_run,
                self.report_sink(),
                self.restore_sink(&name),
            );
            runner.ban(
                self.jails[idx]
                    .bans
                    .iter()
                    // as restored: an action with `norestored` skips them
                    .map(|b| ferroban_actions::BanTicket {
                        restored: true,
                        ..ticket(b)
                    })
                    .collect(),
            );
            self.jails[idx].runner = Some(runner);
        } else if let Some(runner) = &self.jails[idx].runner {
            // a reload is what an administrator runs after reloading the firewall
            runner.verify();
        }
    }

    /// Read what jail `idx` banned before from the database, where it counts a
    /// known offender's failures more (`bantime.increment`) and has not read it yet.
    fn read_ban_history(&mut self, idx: usize) {
        let jail = &self.jails[idx];
        if jail.policy.increment.is_none() || jail.ban_history.is_some() {
            return;
        }
        let history = match self.db.ban_history(jail.name()) {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|(ip, count, start)| Some((ip.parse().ok()?, (count, start))))
                .collect(),
            Err(e) => {
                self.log.log(
                    Component::Database,
                    Severity::Error,
                    &format!(
                        "[{}] {e}; earlier offenders' failures count once until a restart",
                        jail.name()
                    ),
                );
                HashMap::new()
            }
        };
        self.jails[idx].ban_history = Some(history);
    }

    /// Give the bans of jail `idx` that hold no matched lines (its actions had no
    /// use for them) the lines the database kept, for actions that now do.
    fn read_back_matched_lines(&mut self, idx: usize) {
        let records = match self.db.bans_in_force(now()) {
            Ok(records) => records,
            Err(e) => {
                self.log
                    .log(Component::Database, Severity::Error, &e.to_string());
                return;
            }
        };
        let jail = &mut self.jails[idx];
        for r in records {
            let Ok(ip) = r.ip.parse() else { continue };
            if r.jail == jail.name() && jail.bans.get(&ip).is_some_and(|b| b.matches.is_empty()) {
                jail.bans
                    .set_matches(&ip, r.matches.into_iter().map(Arc::from).collect());
            }
        }
    }

    fn shutdown(&mut self) {
        self.log
            .log(Component::Server, Severity::Info, "Shutdown in progress...");
        self.commit();
        self.activity.flush(&self.jails, &mut self.db, &self.log);
        if let Some(f) = self.fleet.take() {
            f.stop();
        }
        if let Some(f) = self.files.take() {
            f.stop();
        }
        for (_, j) in self.journals.drain() {
            j.stop();
        }
        while !self.jails.is_empty() {
            let last = self.jails.len() - 1;
            self.stop_jail(last);
        }
        // Only what this server made: after a restart the path may already be the
        // new server's.
        if self.socket_id.is_some() && file_id(&self.settings.socket) == self.socket_id {
            let _ = std::fs::remove_file(&self.settings.socket);
        }
        let own_pid = std::fs::read_to_string(&self.settings.pidfile)
            .is_ok_and(|p| p.trim() == std::process::id().to_string());
        if own_pid {
            let _ = std::fs::remove_file(&self.settings.pidfile);
        }
        self.log
            .log(Component::Server, Severity::Info, "Exiting ferroban");
        self.log.flush();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_fail2bans_seconds2str_writes_them() {
        // as Fail2ban 1.0.2's MyTime.seconds2str wrote them (its docstring says "1y"
        // for 365.5 days; it writes "1y 1d")
        for (seconds, text) in [
            (86_400.0 * 390.0, "1y 3w 4d"),
            (86_400.0 * 368.0, "1y 3d"),
            (86_400.0 * 365.5, "1y 1d"),
            (5_400.0, "1h 30m"),
            (648_000.0, "1w 12h"),
            (86_400.0 * 2.0 + 3_600.0 * 7.0 + 60.0 * 15.0, "2d 7h 15m"),
            (86_400.0 * 2.0 + 3_599.0, "2d 1h"),
            (3_600.0 - 5.0, "1h"),
            (3_600.0 - 10.0, "59m 50s"),
            (59.0, "59s"),
            (7_200.0, "2h"),
            (200.0, "3m 20s"),
            (0.0, "0"),
        ] {
            assert_eq!(fail2ban_duration(seconds), text, "{seconds}");
        }
        // and as the installed Fail2ban writes them now, across each unit's edges
        let seconds: Vec<i64> = vec![
            0, 1, 59, 60, 61, 599, 3_589, 3_590, 3_594, 3_595, 3_600, 3_629, 3_630, 5_400, 86_399,
            86_400, 86_429, 86_430, 90_061, 604_799, 604_800, 606_599, 606_600, 648_000,
            31_535_999, 31_536_000, 31_579_200, 31_795_200, 33_696_000,
        ];
        let script = "import sys\nfrom fail2ban.server.mytime import MyTime\n\
                      for a in sys.argv[1:]: print(MyTime.seconds2str(int(a)))";
        let run = std::process::Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .args(seconds.iter().map(i64::to_string))
            .output();
        let Some(theirs) = run.ok().filter(|o| o.status.success()) else {
            eprintln!("SKIPPED the comparison with Fail2ban's seconds2str: no /usr/bin/python3 with fail2ban");
            return;
        };
        let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
        let ours: Vec<String> = seconds
            .iter()
            .map(|s| fail2ban_duration(*s as f64))
            .collect();
        assert_eq!(theirs.lines().collect::<Vec<_>>(), ours);
    }

    use super::*;

    /// A ban holds its failures' lines as the tracker held them, not copies: with
    /// thousands of bans (each also held by its jail's actions), copies were a
    /// megabyte for every 3,000 bans.
    #[test]
    fn a_ban_shares_the_matched_lines_of_its_offence() {
        let line: Arc<str> = Arc::from(
            "Dec  5 10:00:00 vps sshd[7]: Failed password for root from 192.0.2.7 port 22 ssh2",
        );
        let offence: Offence = Offence {
            ip: "192.0.2.7".parse().expect("an address"),
            failures: 3,
            time: 0.0,
            matches: [line.clone()].into_iter().collect(),
            first: None,
        };
        let ban = offence_ban(&offence, 0.0, Vec::new());
        assert_eq!(ban.matches.len(), 1);
        assert!(
            Arc::ptr_eq(&ban.matches[0], &line),
            "the matched line was copied"
        );
    }
}
