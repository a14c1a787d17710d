//! Reading the jails (`jail.conf`, `jail.d/*.conf`, `jail.local`, `jail.d/*.local`).
//!
//! Owns turning an enabled jail's text options into typed policy: durations,
//! counts, the backend, log paths, ignore lists, ban-time increments, its filter and
//! its actions. Every value that does not parse is an error naming the file and line
//! it came from. Nothing here runs: this is the configuration a server is built from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::action::{split_actions, ActionDefinition};
use crate::expr::{parse_duration, Expr};
use crate::filter::DEFINITION_OPTIONS;
use crate::fleet::{is_fleet_token, FleetMode};
use crate::ini::Origin;
use crate::{parse_name_with_options, Config, ConfigError, FilterDefinition};

/// The version ferroban reports where Fail2ban's is expected (`%(fail2ban_version)s`).
pub const FAIL2BAN_COMPAT_VERSION: &str = "1.0.2";

/// How a jail reads its logs.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// inotify, falling back to polling (`auto`, `pyinotify`, `gamin`, `inotify`).
    Inotify,
    /// Look at the files every second (`polling`).
    Polling,
    /// The systemd journal, read through `journalctl` (`systemd[journalpath=…]`).
    Systemd {
        /// Journal files to read instead of the system journal (`journalfiles`).
        files: Vec<PathBuf>,
        /// A journal directory to read instead of the system journal (`journalpath`).
        directory: Option<PathBuf>,
    },
}

/// The journal that backend options name (`systemd[…]`, and fail2ban-regex's
/// `systemd-journal[…]`): the files of `journalfiles` (separated by spaces or
/// commas), and the directory `journalpath`; none: the system's journal.
pub fn journal_place(options: &[(String, String)]) -> (Vec<PathBuf>, Option<PathBuf>) {
    let option = |key: &str| {
        options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let files = option("journalfiles")
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .collect();
    (files, option("journalpath").map(PathBuf::from))
}

/// How ban times grow for returning addresses (`bantime.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct BanTimeIncrement {
    pub factor: f64,
    /// `bantime.formula` (`None`: Fail2ban's default, doubling per ban).
    pub formula: Option<Expr>,
    /// `bantime.multipliers` (used instead of the formula when given).
    pub multipliers: Vec<f64>,
    pub maxtime: Option<f64>,
    pub rndtime: Option<f64>,
    /// Count bans of the address in every jail, not only this one.
    pub overalljails: bool,
}

/// One enabled jail, typed.
#[derive(Debug, Clone)]
pub struct JailConfig {
    pub name: String,
    pub backend: Backend,
    /// Why the backend is not the one `backend` names (no log file, so
    /// `nologs_backend` was taken), for the server's log.
    pub backend_note: Option<String>,
    /// Log path patterns (globs allowed); relative ones are taken from the
    /// configuration directory.
    pub logpaths: Vec<PathBuf>,
    pub logencoding: String,
    pub logtimezone: Option<String>,
    pub maxretry: u32,
    pub maxmatches: usize,
    /// Seconds.
    pub findtime: f64,
    /// Seconds; negative means permanent.
    pub bantime: f64,
    pub increment: Option<BanTimeIncrement>,
    /// Addresses, networks and host names never banned.
    pub ignoreip: Vec<String>,
    pub ignoreself: bool,
    pub ignorecommand: Option<String>,
    pub usedns: String,
    pub filter: FilterDefinition,
    pub actions: Vec<ActionDefinition>,
    /// How the jail takes part in the fleet (`fleet`).
    pub fleet: FleetMode,
    /// Failures across the fleet within `findtime` that ban everywhere
    /// (`fleetmaxretry`); at least `maxretry`, so one host alone never reaches it.
    pub fleetmaxretry: Option<u32>,
    /// The longest a ban received from the fleet lasts here, in seconds
    /// (`fleetmaxbantime`).
    pub fleetmaxbantime: Option<f64>,
    /// Every option as text (for `get`), `[DEFAULT]` included.
    pub options: BTreeMap<String, String>,
    /// Where each of `options` was set last (see [`JailConfig::place_of`]).
    pub origins: BTreeMap<String, Origin>,
    /// What Fail2ban would run without a word although it cannot be meant (no
    /// action, a time that never bans, a log path that reads nothing), each with
    /// its file and line: `check` prints them, the server logs them.
    pub warnings: Vec<String>,
}

impl JailConfig {
    /// `FILE:LINE: ` where `key` was set last, to begin a message about its value
    /// (nothing for an option no file set).
    pub fn place_of(&self, key: &str) -> String {
        place(self.origins.get(key))
    }
}

/// `FILE:LINE: ` of `origin`, or nothing.
fn place(origin: Option<&Origin>) -> String {
    origin.map_or_else(String::new, |o| {
        format!("{}:{}: ", o.file.display(), o.line)
    })
}

/// All enabled jails of a configuration directory.
#[derive(Debug, Clone)]
pub struct JailsConfig {
    pub basedir: PathBuf,
    pub jails: Vec<JailConfig>,
    /// The jail files read.
    pub files: Vec<PathBuf>,
}

/// The `bantime.*` options of a jail, in the order Fail2ban's reader lists them.
pub fn bantime_options() -> impl Iterator<Item = &'static str> {
    JAIL_OPTIONS
        .into_iter()
        .filter(|option| option.starts_with("bantime."))
}

const JAIL_OPTIONS: [&str; 29] = [
    "enabled",
    "backend",
    "maxretry",
    "maxmatches",
    "findtime",
    "bantime",
    "bantime.increment",
    "bantime.factor",
    "bantime.formula",
    "bantime.multipliers",
    "bantime.maxtime",
    "bantime.rndtime",
    "bantime.overalljails",
    "ignorecommand",
    "ignoreself",
    "ignoreip",
    "filter",
    "logtimezone",
    "logencoding",
    "logpath",
    "action",
    "usedns",
    "port",
    "protocol",
    "chain",
    "banaction",
    "fleet",
    "fleetmaxretry",
    "fleetmaxbantime",
];

/// Read every enabled jail under `basedir`. A jail whose log files are all
/// missing is an error, as in Fail2ban.
pub fn load_jails(basedir: &Path) -> Result<JailsConfig, ConfigError> {
    read_jails(basedir, true)
}

/// Read every enabled jail under `basedir` as written, also those whose log files
/// are missing (for `ferroban audit`, which reports them instead of stopping).
pub fn load_jails_as_written(basedir: &Path) -> Result<JailsConfig, ConfigError> {
    read_jails(basedir, false)
}

fn read_jails(basedir: &Path, logs_required: bool) -> Result<JailsConfig, ConfigError> {
    if !basedir.is_dir() {
        let (what, hint) = match basedir.parent().filter(|_| basedir.is_file()) {
            Some(dir) => (
                "is a file, not the configuration directory",
                format!("give the directory that holds it: -c {}", dir.display()),
            ),
            None => (
                "does not exist",
                "give the directory that holds jail.conf, such as -c /etc/fail2ban".to_string(),
            ),
        };
        return Err(ConfigError::at(basedir, 0, what, hint));
    }
    let cfg = Config::read_named(basedir, "jail")?.ok_or_else(|| {
        ConfigError::at(
            &basedir.join("jail.conf"),
            0,
            "no jail configuration found",
            "create jail.conf or jail.local in the configuration directory",
        )
    })?;
    // the server's own log: it makes the file as it starts, so a jail reading it
    // (recidive) is not refused before the first start
    let own_log = match crate::settings::ServerSettings::load(basedir).map(|s| s.logtarget) {
        Ok(crate::settings::LogTarget::File(file)) => Some(file),
        _ => None,
    };
    let mut jails = Vec::new();
    for name in cfg.sections() {
        if name == "INCLUDES" || name == "DEFAULT" || name.contains('/') {
            continue;
        }
        let reader = JailReader {
            cfg: &cfg,
            basedir,
            name,
            logs_required,
            own_log: own_log.as_deref(),
        };
        if reader.bool("enabled")?.unwrap_or(false) {
            jails.push(reader.read()?);
        }
    }
    Ok(JailsConfig {
        basedir: basedir.to_path_buf(),
        jails,
        files: cfg.files().to_vec(),
    })
}

/// A jail's options as text, read into types with errors that say where and
/// what to write: a jail section being read ([`JailReader`]), or a running
/// jail's options as a command changes them ([`ban_time_increment`]).
trait JailOptions {
    fn text(&self, key: &str) -> Result<Option<String>, ConfigError>;

    fn error(&self, key: &str, message: String, hint: &str) -> ConfigError;

    fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        let Some(v) = self.text(key)? else {
            return Ok(None);
        };
        match v.trim().to_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "enabled" => Ok(Some(true)),
            "false" | "no" | "off" | "0" | "disabled" | "" => Ok(Some(false)),
            _ => Err(self.error(
                key,
                format!("{key} = {v:?} is not a yes/no value"),
                "write true or false",
            )),
        }
    }

    fn duration(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.text(key)? {
            Some(v) if !v.trim().is_empty() => parse_duration(&v).map(Some).map_err(|e| {
                self.error(
                    key,
                    format!("{key}: {}", e),
                    "write seconds or a duration like 10m, 1h30m, 7d, 1w; -1 for permanent",
                )
            }),
            _ => Ok(None),
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.text(key)? {
            Some(v) if !v.trim().is_empty() => Expr::parse(&v)
                .map_err(|e| e.message)
                .and_then(|e| e.eval(&|_| None))
                .map(Some)
                .map_err(|m| self.error(key, format!("{key} = {v:?}: {m}"), "write a number")),
            _ => Ok(None),
        }
    }

    fn increment(&self) -> Result<Option<BanTimeIncrement>, ConfigError> {
        if !self.bool("bantime.increment")?.unwrap_or(false) {
            return Ok(None);
        }
        let formula = match self.text("bantime.formula")? {
            Some(f) if !f.trim().is_empty() => Some(Expr::parse(&f).map_err(|e| {
                self.error(
                    "bantime.formula",
                    e.to_string(),
                    "use ban.Time, ban.Count, banFactor, arithmetic and math.exp",
                )
            })?),
            _ => None,
        };
        let multipliers = self
            .text("bantime.multipliers")?
            .unwrap_or_default()
            .split_whitespace()
            .map(|m| {
                m.parse::<f64>().map_err(|_| {
                    self.error(
                        "bantime.multipliers",
                        format!("multiplier {m:?} is not a number"),
                        "write numbers separated by spaces, e.g. 1 2 4 8",
                    )
                })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        Ok(Some(BanTimeIncrement {
            factor: self.number("bantime.factor")?.unwrap_or(1.0),
            formula,
            multipliers,
            maxtime: self.duration("bantime.maxtime")?,
            rndtime: self.duration("bantime.rndtime")?,
            overalljails: self.bool("bantime.overalljails")?.unwrap_or(false),
        }))
    }
}

impl JailOptions for JailReader<'_> {
    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.cfg.get(self.name, key, &self.vars())
    }

    fn error(&self, key: &str, message: String, hint: &str) -> ConfigError {
        let origin = self.cfg.origin(self.name, key);
        let (file, line) = match origin {
            Some(o) => (o.file, o.line),
            None => (self.basedir.join("jail.conf"), 0),
        };
        ConfigError::at(&file, line, format!("[{}] {message}", self.name), hint)
    }
}

/// The options of a running jail (`get`'s view of them), for `set JAIL bantime.*`.
struct RunningOptions<'a>(&'a BTreeMap<String, String>);

impl JailOptions for RunningOptions<'_> {
    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.0.get(key).cloned())
    }

    fn error(&self, _key: &str, message: String, hint: &str) -> ConfigError {
        ConfigError::at(Path::new(""), 0, message, hint)
    }
}

/// The ban-time increment that `options` (a running jail's, `bantime.*` among
/// them) make, or why they make none: for `set JAIL bantime.…`, which changes
/// one of them until the next reload.
pub fn ban_time_increment(
    options: &BTreeMap<String, String>,
) -> Result<Option<BanTimeIncrement>, String> {
    RunningOptions(options)
        .increment()
        .map_err(|e| format!("{} ({})", e.message, e.hint))
}

struct JailReader<'a> {
    cfg: &'a Config,
    basedir: &'a Path,
    name: &'a str,
    /// Whether a jail none of whose log files exist is refused.
    logs_required: bool,
    /// The file the server logs to, which it makes at start (not required to exist).
    own_log: Option<&'a Path>,
}

impl JailReader<'_> {
    fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("fail2ban_version".into(), FAIL2BAN_COMPAT_VERSION.into()),
            (
                "fail2ban_confpath".into(),
                self.basedir.display().to_string(),
            ),
        ]
    }

    fn count(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        match self.text(key)? {
            Some(v) if !v.trim().is_empty() => v.trim().parse::<u32>().map(Some).map_err(|_| {
                self.error(
                    key,
                    format!("{key} = {v:?} is not a whole number"),
                    "write a count such as 3",
                )
            }),
            _ => Ok(None),
        }
    }

    fn read(&self) -> Result<JailConfig, ConfigError> {
        self.check_filter_exists()?;
        let logpaths = self.logpaths()?;
        let (backend, backend_note) = self.backend_for(&logpaths)?;
        let filter = self.filter(&backend)?;
        let maxretry = self.count("maxretry")?.unwrap_or(3).max(1);
        let mut options = BTreeMap::new();
        let mut origins = BTreeMap::new();
        for key in self.cfg.options(self.name, true) {
            if let Ok(Some(v)) = self.text(&key) {
                if let Some(origin) = self.cfg.origin(self.name, &key) {
                    origins.insert(key.clone(), origin);
                }
                options.insert(key, v);
            }
        }
        let mut jail = JailConfig {
            name: self.name.to_string(),
            backend_note,
            logpaths,
            logencoding: self.text("logencoding")?.unwrap_or_else(|| "auto".into()),
            logtimezone: self.text("logtimezone")?.filter(|v| !v.trim().is_empty()),
            maxretry,
            maxmatches: self
                .count("maxmatches")?
                .map_or(maxretry as usize, |n| n as usize),
            findtime: self.duration("findtime")?.unwrap_or(600.0),
            bantime: self.duration("bantime")?.unwrap_or(600.0),
            increment: self.increment()?,
            ignoreip: self.ignoreip()?,
            ignoreself: self.bool("ignoreself")?.unwrap_or(true),
            ignorecommand: self.text("ignorecommand")?.filter(|v| !v.trim().is_empty()),
            // the filter's, or the jail's where it set one (as Fail2ban sends them)
            usedns: filter.usedns.clone().unwrap_or_else(|| "warn".into()),
            actions: self.actions()?,
            fleet: self.fleet_mode()?,
            fleetmaxretry: self.fleetmaxretry(maxretry)?,
            fleetmaxbantime: self.fleetmaxbantime()?,
            backend,
            filter,
            options,
            origins,
            warnings: Vec::new(),
        };
        jail.warnings = self.quiet_mistakes(&jail);
        Ok(jail)
    }

    /// The warnings of [`JailConfig::warnings`] for `jail`, as read here.
    fn quiet_mistakes(&self, jail: &JailConfig) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut warn = |key: &str, what: String| {
            let at = place(self.cfg.origin(self.name, key).as_ref());
            warnings.push(format!("{at}[{}] {what}", self.name));
        };
        if jail.actions.is_empty() {
            warn(
                "action",
                "has no action: it counts failures and logs bans, but blocks nothing \
                 (set banaction, or action)"
                    .into(),
            );
        }
        let fleet_options = ["fleetmaxretry", "fleetmaxbantime"];
        let own = self.cfg.section(self.name);
        let set_here = |o: &str| own.is_some_and(|s| s.contains(o));
        if jail.fleet == FleetMode::Off {
            for option in fleet_options.into_iter().filter(|o| set_here(o)) {
                warn(
                    option,
                    format!("{option} does nothing with fleet = off (set fleet = share)"),
                );
            }
        } else if jail.fleet == FleetMode::Publish && set_here("fleetmaxbantime") {
            // (fleetmaxretry still has a publishing jail send its failures)
            warn(
                "fleetmaxbantime",
                "fleetmaxbantime does nothing with fleet = publish, which applies no \
                 received ban (set fleet = share)"
                    .into(),
            );
        }
        if jail.bantime == 0.0 {
            warn(
                "bantime",
                "bantime = 0: each ban ends as it begins, so the jail blocks nothing \
                 (a negative bantime bans for good)"
                    .into(),
            );
        }
        if jail.findtime <= 0.0 && jail.maxretry > 1 {
            warn(
                "findtime",
                format!(
                    "findtime = 0: no two failures fall within it, so maxretry = {} is never \
                     reached",
                    jail.maxretry
                ),
            );
        }
        if matches!(jail.backend, Backend::Systemd { .. }) {
            return warnings;
        }
        for path in &jail.logpaths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            if looks_like_an_option_line(&name) {
                warn(
                    "logpath",
                    format!(
                        "logpath {} looks like an option line: a line that starts with a \
                         space continues the value above it; write {} at the line's start",
                        path.display(),
                        name.trim()
                    ),
                );
            } else if !matches_a_file(path) {
                let others = jail.logpaths.iter().any(|p| p != path && matches_a_file(p));
                let meanwhile = match others {
                    true => "the jail reads only its other logs until it appears",
                    // (accepted only where the server makes the file: its own log)
                    false => "the jail reads it once it is made",
                };
                warn(
                    "logpath",
                    format!("logpath {} matches no file: {meanwhile}", path.display()),
                );
            }
        }
        warnings
    }

    /// A jail whose filter file does not exist is most often a typo in the jail's
    /// name (`[sshdd]`, whose filter is its name): say where the jail is enabled,
    /// and which jail or filter name is closest.
    fn check_filter_exists(&self) -> Result<(), ConfigError> {
        let spec = self.text("filter")?.unwrap_or_default();
        let Ok((name, _)) = parse_name_with_options(&spec) else {
            return Ok(()); // filter() reports a malformed value
        };
        let dir = self.basedir.join("filter.d");
        let exists = |n: &str| {
            ["conf", "local"]
                .iter()
                .any(|e| dir.join(format!("{n}.{e}")).is_file())
        };
        if name.trim().is_empty() || name.contains('/') || exists(&name) {
            return Ok(());
        }
        // The jail's own `filter =` line where it has one, else the line that
        // enabled it (its filter then is the default, named after the jail).
        let named_by = match self
            .cfg
            .section(self.name)
            .is_some_and(|s| s.contains("filter"))
        {
            true => "filter",
            false => "enabled",
        };
        if let Some(link) = crate::dangling_link(&dir.join(format!("{name}.conf"))) {
            return Err(self.error(
                named_by,
                format!(
                    "filter {name:?} not found: {} is a symbolic link to {}, which does not exist",
                    dir.join(format!("{name}.conf")).display(),
                    link.display()
                ),
                crate::DANGLING_LINK_HINT,
            ));
        }
        let jails: Vec<&str> = self
            .cfg
            .sections()
            .filter(|s| !matches!(*s, "DEFAULT" | "INCLUDES") && *s != self.name)
            .collect();
        let filters = conf_names(&dir);
        let create = format!("create {name}.conf or {name}.local in {}", dir.display());
        let hint = match (
            crate::suggest::closest(self.name, jails.iter().copied()),
            crate::suggest::closest(&name, filters.iter().map(String::as_str)),
        ) {
            (Some(jail), _) => format!("did you mean the jail [{jail}]? Otherwise {create}"),
            (None, Some(filter)) => format!("did you mean filter = {filter}? Otherwise {create}"),
            (None, None) => create,
        };
        Err(self.error(
            named_by,
            format!(
                "filter {name:?} not found: there is no {name}.conf in {}",
                dir.display()
            ),
            &hint,
        ))
    }

    /// The `logpath` patterns, relative ones taken from the configuration directory.
    fn logpaths(&self) -> Result<Vec<PathBuf>, ConfigError> {
        Ok(self
            .text("logpath")?
            .unwrap_or_default()
            .split('\n')
            .flat_map(|l| {
                // "path tail" / "path head" flags of Fail2ban are accepted and ignored.
                let l = l.trim();
                let l = l
                    .strip_suffix(" tail")
                    .or_else(|| l.strip_suffix(" head"))
                    .unwrap_or(l);
                (!l.is_empty()).then(|| self.basedir.join(l.trim()))
            })
            .collect())
    }

    /// The backend, checked against the log files as Fail2ban checks them: a jail
    /// that reads files but whose `logpath` matches none is refused, unless
    /// ferroban's `nologs_backend` names what to read instead (ferroban's own
    /// jail.conf has sshd fall back to the journal where there is no auth.log).
    fn backend_for(&self, logpaths: &[PathBuf]) -> Result<(Backend, Option<String>), ConfigError> {
        let backend = self.backend("backend")?;
        if matches!(backend, Backend::Systemd { .. }) {
            return Ok((backend, None));
        }
        if logpaths.is_empty() {
            return Err(self.error(
                "logpath",
                "has no logpath".into(),
                "set logpath to the log file(s) to watch, or backend = systemd",
            ));
        }
        if let Some(dir) = logpaths.iter().find(|p| p.is_dir()) {
            return Err(self.error(
                "logpath",
                format!("logpath {} is a directory, not a log file", dir.display()),
                &format!(
                    "name the log file(s) in it, e.g. logpath = {}",
                    dir.join("*.log").display()
                ),
            ));
        }
        if logpaths.iter().any(|p| matches_a_file(p)) {
            return Ok((backend, None));
        }
        let shown = logpaths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if self
            .text("nologs_backend")?
            .is_some_and(|t| !t.trim().is_empty())
        {
            let note = format!("no file matches logpath {shown}: reading nologs_backend instead");
            return Ok((self.backend("nologs_backend")?, Some(note)));
        }
        if !self.logs_required || logpaths.iter().all(|p| Some(p.as_path()) == self.own_log) {
            return Ok((backend, None));
        }
        let sshd = self.name == "sshd"
            || self
                .cfg
                .get(self.name, "filter", &[])
                .ok()
                .flatten()
                .is_some_and(|f| f.trim().starts_with("sshd"));
        // the distributions' own auth logs: missing where rsyslog is not installed
        let system_log = |p: &PathBuf| {
            ["/var/log/auth.log", "/var/log/secure", "/var/log/messages"]
                .iter()
                .any(|l| p.as_path() == Path::new(l))
        };
        let hint = if sshd && logpaths.iter().all(system_log) {
            "sshd logs to the journal on hosts without rsyslog (Debian 12's default): set \
             backend = systemd in [sshd] of jail.local"
                .to_string()
        } else if sshd {
            "correct logpath, or, as sshd logs to the journal on hosts without rsyslog \
             (Debian 12's default), set backend = systemd in [sshd] of jail.local"
                .to_string()
        } else {
            "create the file, correct logpath, or set backend = systemd if the service logs \
             to the journal"
                .to_string()
        };
        Err(self.error(
            "logpath",
            format!(
                "Have not found any log file for {} jail: logpath {shown} matches no file",
                self.name
            ),
            &hint,
        ))
    }

    fn fleet_mode(&self) -> Result<FleetMode, ConfigError> {
        let text = self.text("fleet")?.unwrap_or_default();
        let mode = FleetMode::parse(&text).ok_or_else(|| {
            self.error(
                "fleet",
                format!("fleet = {text:?} is not a fleet mode"),
                "write off, share, publish or apply",
            )
        })?;
        if mode != FleetMode::Off && !is_fleet_token(self.name) {
            return Err(self.error(
                "fleet",
                "this jail's name cannot travel in the fleet".into(),
                "name jails in the fleet with letters, digits, '-' and '_' only",
            ));
        }
        Ok(mode)
    }

    /// `fleetmaxbantime`: a time above zero (a received ban that ends at once, or a
    /// negative cap that caps nothing, cannot be meant).
    fn fleetmaxbantime(&self) -> Result<Option<f64>, ConfigError> {
        match self.duration("fleetmaxbantime")? {
            Some(t) if t <= 0.0 => Err(self.error(
                "fleetmaxbantime",
                format!("fleetmaxbantime = {t} is not a time above zero"),
                "write the longest a ban received from the fleet lasts here, such as 1d \
                 (leave it out for no limit)",
            )),
            other => Ok(other),
        }
    }

    /// `fleetmaxretry`, which must exceed what one host may count (`maxretry - 1`).
    fn fleetmaxretry(&self, maxretry: u32) -> Result<Option<u32>, ConfigError> {
        let Some(n) = self.count("fleetmaxretry")? else {
            return Ok(None);
        };
        if n < maxretry {
            return Err(self.error(
                "fleetmaxretry",
                format!(
                    "fleetmaxretry = {n} is below maxretry = {maxretry}: one host alone \
                     could cause a fleet ban"
                ),
                "set fleetmaxretry to maxretry or more",
            ));
        }
        Ok(Some(n))
    }

    fn backend(&self, key: &str) -> Result<Backend, ConfigError> {
        let text = self.text(key)?.unwrap_or_else(|| "auto".into());
        let (name, opts) = parse_name_with_options(&text)
            .map_err(|m| self.error(key, m, "write e.g. auto, polling or systemd"))?;
        match name.to_lowercase().as_str() {
            "auto" | "pyinotify" | "inotify" | "gamin" => Ok(Backend::Inotify),
            "polling" => Ok(Backend::Polling),
            "systemd" => {
                let (files, directory) = journal_place(&opts);
                Ok(Backend::Systemd { files, directory })
            }
            other => Err(self.error(
                key,
                format!("unknown backend {other:?}"),
                "use auto, pyinotify, polling or systemd",
            )),
        }
    }

    fn filter(&self, backend: &Backend) -> Result<FilterDefinition, ConfigError> {
        let spec = self.text("filter")?.unwrap_or_default();
        if spec.trim().is_empty() {
            return Err(self.error(
                "filter",
                "has no filter".into(),
                "set filter = NAME (a file in filter.d)",
            ));
        }
        let (name, mut opts) = parse_name_with_options(&spec)
            .map_err(|m| self.error("filter", m, "write filter = name or name[option=value]"))?;
        if !opts.iter().any(|(k, _)| k == "logtype") {
            let logtype = match backend {
                Backend::Systemd { .. } => "journal",
                _ => "file",
            };
            opts.push(("logtype".into(), logtype.into()));
        }
        let mut filter = FilterDefinition::load(self.basedir, &name, &opts)?;
        self.set_filter_options(&mut filter, &name, &opts)?;
        Ok(filter)
    }

    /// Fail2ban's rule for filter options set in a jail's section (or `[DEFAULT]`):
    /// each replaces the filter's, and may refer to the filter's options as
    /// `%(known/NAME)s` (`failregex = %(known/failregex)s` plus a line adds one).
    fn set_filter_options(
        &self,
        filter: &mut FilterDefinition,
        name: &str,
        opts: &[(String, String)],
    ) -> Result<(), ConfigError> {
        let set: Vec<(&str, Origin)> = DEFINITION_OPTIONS
            .iter()
            .filter_map(|&option| Some((option, self.cfg.origin(self.name, option)?)))
            .collect();
        if set.is_empty() {
            return Ok(());
        }
        let mut vars = self.vars();
        vars.extend(FilterDefinition::known_options(self.basedir, name, opts)?);
        for (option, origin) in set {
            let value = self.cfg.get(self.name, option, &vars)?.unwrap_or_default();
            filter.set(option, &value);
            filter.set_in_jail.push((option.to_string(), origin));
        }
        Ok(())
    }

    fn actions(&self) -> Result<Vec<ActionDefinition>, ConfigError> {
        let text = self.text("action")?.unwrap_or_default();
        let mut actions: Vec<ActionDefinition> = Vec::new();
        for item in split_actions(&text) {
            let (file, opts) = parse_name_with_options(&item)
                .map_err(|m| self.error("action", m, "write action = name[param=value, …]"))?;
            let action = ActionDefinition::load(self.basedir, &file, self.name, &opts)
                .map_err(|e| self.locate_missing_action(&file, e))?;
            self.check_ports(&action)?;
            if actions.iter().any(|a| a.name == action.name) {
                return Err(self.error(
                    "action",
                    format!("action {:?} is used twice", action.name),
                    "give the second one a different name=… parameter",
                ));
            }
            actions.push(action);
        }
        Ok(actions)
    }

    /// Refuse a `port` the action's firewall would refuse: its rule would be left
    /// out while its bans still fill the set, and the jail would block nothing.
    fn check_ports(&self, action: &ActionDefinition) -> Result<(), ConfigError> {
        let Some(ports) = action.get("port", None).filter(|_| action.uses_port()) else {
            return Ok(());
        };
        let Some(why) = crate::action::port_list_error(ports) else {
            return Ok(());
        };
        let key = match self.cfg.origin(self.name, "port") {
            Some(_) => "port",
            None => "action",
        };
        Err(self.error(
            key,
            format!(
                "port = {ports}: {why}, so action {} could not block it",
                action.name
            ),
            "write port numbers, ranges (1000:2000) or service names (ssh, https), \
             separated by commas: port = ssh,2222",
        ))
    }

    /// The `ignoreip` entries, each an address, a network or a host name (names are
    /// resolved when the jail starts, not here).
    fn ignoreip(&self) -> Result<Vec<String>, ConfigError> {
        let text = self.text("ignoreip")?.unwrap_or_default();
        let entries: Vec<String> = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for entry in &entries {
            crate::ignoreip::parse_ignore_entry(entry).map_err(|why| {
                self.error(
                    "ignoreip",
                    why,
                    "write addresses (192.0.2.1), networks (192.0.2.0/24) or host names, \
                     separated by spaces",
                )
            })?;
        }
        Ok(entries)
    }

    /// An action file that does not exist is most often a typo in `banaction` (or
    /// `banaction_allports`, or `action` itself): point at the line that names it,
    /// not at the missing file, and name the closest action there is. Any other
    /// error as it is.
    fn locate_missing_action(&self, file: &str, error: ConfigError) -> ConfigError {
        let dir = self.basedir.join("action.d");
        let names = |key: &str| {
            self.text(key).ok().flatten().is_some_and(|v| {
                split_actions(&v)
                    .iter()
                    .any(|item| parse_name_with_options(item).is_ok_and(|(name, _)| name == file))
            })
        };
        let key = || {
            ["banaction", "banaction_allports", "action"]
                .into_iter()
                .find(|key| names(key))
                .unwrap_or("action")
        };
        if error.line == 0 && error.file == dir.join(file) {
            // refused as a whole (a Python action): at the line that uses it
            return self.error(key(), error.message, &error.hint);
        }
        let missing = error.line == 0 && error.file == dir.join(format!("{file}.conf"));
        if !missing {
            return error;
        }
        let key = key();
        let actions = conf_names(&dir);
        let natives = crate::action::NATIVE_FIREWALLS.iter().copied();
        let closest =
            crate::suggest::closest(file, actions.iter().map(String::as_str).chain(natives));
        let hint = match closest {
            Some(name) => format!("did you mean {key} = {name}? Otherwise {}", error.hint),
            None => error.hint.clone(),
        };
        self.error(
            key,
            format!(
                "action {file:?} not found: there is no {file}.conf in {}",
                dir.display()
            ),
            &hint,
        )
    }
}

/// Whether a log path's last part reads like `maxretry = 2`: an option written
/// indented under `logpath`, which INI reads as another line of its value.
fn looks_like_an_option_line(name: &str) -> bool {
    let Some((key, _)) = name.split_once('=') else {
        return false;
    };
    let key = key.trim();
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.'))
}

/// Whether the log path pattern `pattern` names at least one existing path (as
/// Fail2ban's glob does: `/dev/null` or a pipe counts).
fn matches_a_file(pattern: &Path) -> bool {
    let text = pattern.display().to_string();
    if !text.contains(['*', '?', '[']) {
        return pattern.exists();
    }
    glob::glob(&text).is_ok_and(|mut g| g.any(|p| p.is_ok()))
}

/// Options `get`/`set` know for a jail (the rest are read-only text).
pub fn known_jail_options() -> &'static [&'static str] {
    &JAIL_OPTIONS
}

/// The names of the `.conf` files in `dir` (without `.conf`), for "did you mean"
/// hints; none when it cannot be read.
fn conf_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|f| f.strip_suffix(".conf").map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ferroban-jail-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn guide_style_jails() {
        let d = tempdir("guide");
        write(
            &d,
            "filter.d/web.conf",
            "[Definition]\nfailregex = ^<HOST> bad\n",
        );
        write(
            &d,
            "action.d/fw.conf",
            "[Definition]\nactionban = fw add <ip> <port>\n[Init]\nport = 0\n",
        );
        write(
            &d,
            "jail.conf",
            "[DEFAULT]\nbantime = 1h\nfindtime = 10m\nmaxretry = 3\nbanaction = fw\naction_ = %(banaction)s[port=\"%(port)s\"]\naction = %(action_)s\nport = 0:65535\nignoreip = 127.0.0.1/8 ::1, 10.0.0.1\n[web]\nfilter = web\nlogpath = logs/*.log\n",
        );
        write(
            &d,
            "jail.local",
            "[DEFAULT]\nbantime.increment = true\nbantime.factor = 2\nbantime.maxtime = 7d\n[web]\nenabled = true\nport = http,https\nbantime = 1h30m\n[off]\nfilter = nothing-here\n",
        );
        write(&d, "logs/a.log", "");
        let cfg = load_jails(&d).unwrap();
        assert_eq!(cfg.jails.len(), 1, "only enabled jails");
        let j = &cfg.jails[0];
        assert_eq!(j.bantime, 5400.0);
        assert_eq!(j.findtime, 600.0);
        assert_eq!(j.maxretry, 3);
        assert_eq!(j.maxmatches, 3);
        assert_eq!(j.ignoreip, vec!["127.0.0.1/8", "::1", "10.0.0.1"]);
        assert_eq!(j.logpaths, vec![d.join("logs/*.log")]);
        assert_eq!(j.backend, Backend::Inotify);
        let inc = j.increment.as_ref().unwrap();
        assert_eq!((inc.factor, inc.maxtime), (2.0, Some(7.0 * 86400.0)));
        assert_eq!(j.actions.len(), 1);
        assert_eq!(
            j.actions[0].get("actionban", None),
            Some("fw add <ip> http,https")
        );
        assert_eq!(j.filter.failregex, vec!["^<HOST> bad"]);
        std::fs::remove_dir_all(&d).ok();
    }

    // A copy of examples/config made with `cp -a` keeps its filter.d links, which then
    // point nowhere: the error said there was no such file while `ls` showed it.
    #[test]
    fn a_filter_linked_to_nothing_is_told_as_a_broken_link() {
        let d = tempdir("dangling");
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nfilter = web\nlogpath = x.log\n",
        );
        write(&d, "x.log", "");
        std::fs::create_dir_all(d.join("filter.d")).unwrap();
        std::os::unix::fs::symlink("../../gone/web.conf", d.join("filter.d/web.conf")).unwrap();
        let e = load_jails(&d).unwrap_err().to_string();
        assert!(
            e.contains("is a symbolic link to ../../gone/web.conf, which does not exist"),
            "{e}"
        );
        assert!(e.contains("cp -aL"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    /// What Fail2ban runs without a word, warned of at its line: a jail without
    /// action, times that never ban, an option indented into logpath's value, a
    /// log path that matches nothing while another does. A directory as logpath is
    /// refused.
    #[test]
    fn quiet_mistakes_are_warned_of_at_their_line() {
        let d = tempdir("quiet");
        write(
            &d,
            "filter.d/web.conf",
            "[Definition]\nfailregex = ^<HOST> bad\n",
        );
        write(&d, "x.log", "");
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nfilter = web\nlogpath = x.log\n  maxretry = 2\n  gone.log\n\
             bantime = 0\nfindtime = 0\naction =\n",
        );
        let jails = load_jails(&d).unwrap();
        let warnings = &jails.jails[0].warnings;
        let at = |line: usize| format!("{}:{line}: [web] ", d.join("jail.local").display());
        let expected = [
            (9, "has no action"),
            (7, "bantime = 0: each ban ends as it begins"),
            (
                8,
                "findtime = 0: no two failures fall within it, so maxretry = 3",
            ),
            (4, "logpath "),
            (4, "logpath "),
        ];
        assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
        for (warning, (line, start)) in warnings.iter().zip(expected) {
            assert!(
                warning.starts_with(&format!("{}{start}", at(line))),
                "{warning}"
            );
        }
        assert!(warnings[3].ends_with("write maxretry = 2 at the line's start"));
        assert!(warnings[4].contains(
            "gone.log matches no file: the jail reads only its other logs until it appears"
        ));
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nfilter = web\nlogpath = x.log\naction = dry-run\n",
        );
        assert_eq!(
            load_jails(&d).unwrap().jails[0].warnings,
            Vec::<String>::new()
        );
        std::fs::create_dir_all(d.join("logs")).unwrap();
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nfilter = web\nlogpath = logs\n",
        );
        let e = load_jails(&d).unwrap_err();
        assert!(e.message.contains("is a directory, not a log file"), "{e}");
        assert!(e.hint.contains("logs/*.log"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_file_or_a_missing_directory_given_for_the_configuration_is_named() {
        let d = tempdir("notadir");
        write(&d, "jail.local", "[web]\nenabled = true\n");
        let e = load_jails(&d.join("jail.local")).unwrap_err();
        assert_eq!(e.message, "is a file, not the configuration directory");
        assert_eq!(
            e.hint,
            format!("give the directory that holds it: -c {}", d.display())
        );
        let e = load_jails(&d.join("nowhere")).unwrap_err();
        assert_eq!(e.message, "does not exist", "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn fleet_options_that_cannot_be_meant() {
        let d = tempdir("fleetopts");
        write(
            &d,
            "filter.d/web.conf",
            "[Definition]\nfailregex = ^<HOST> bad\n",
        );
        write(&d, "x.log", "");
        let jail = "[web]\nenabled = true\nfilter = web\nlogpath = x.log\naction = dry-run\n";
        for bad in ["-5", "0"] {
            write(
                &d,
                "jail.local",
                &format!("{jail}fleet = share\nfleetmaxbantime = {bad}\n"),
            );
            let e = load_jails(&d).unwrap_err();
            assert!(e.message.contains("is not a time above zero"), "{e}");
            assert_eq!(e.line, 7, "{e}");
        }
        write(&d, "jail.local", &format!("{jail}fleetmaxretry = 4\n"));
        let warnings = &load_jails(&d).unwrap().jails[0].warnings;
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0]
            .ends_with("[web] fleetmaxretry does nothing with fleet = off (set fleet = share)"));
        // publish: fleetmaxretry sends the failures, fleetmaxbantime does nothing
        write(
            &d,
            "jail.local",
            &format!("{jail}fleet = publish\nfleetmaxretry = 4\nfleetmaxbantime = 1d\n"),
        );
        let warnings = &load_jails(&d).unwrap().jails[0].warnings;
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0]
                .contains("jail.local:8: [web] fleetmaxbantime does nothing with fleet = publish"),
            "{warnings:#?}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let d = tempdir("err");
        write(
            &d,
            "filter.d/web.conf",
            "[Definition]\nfailregex = ^<HOST> bad\n",
        );
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nfilter = web\nlogpath = x.log\n\nbantime = 1 fortnight\n",
        );
        write(&d, "x.log", "");
        let e = load_jails(&d).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.file.ends_with("jail.local"), "{e}");
        assert!(
            e.to_string().contains("fortnight") && e.to_string().contains("hint"),
            "{e}"
        );
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nfilter = web\nlogpath = x.log\naction = missing-one\n",
        );
        let e = load_jails(&d).unwrap_err();
        assert!(e.to_string().contains("missing-one"), "{e}");
        write(&d, "jail.local", "[web]\nenabled = true\nfilter = web\n");
        assert!(load_jails(&d).unwrap_err().to_string().contains("logpath"));
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn the_servers_own_log_is_not_required_before_the_first_start() {
        // recidive reads the log the server makes as it starts: refused before that,
        // the first start of a fresh /etc/ferroban stopped at its own check
        let d = tempdir("ownlog");
        let own = d.join("log/ferroban.log");
        write(
            &d,
            "filter.d/recidive.conf",
            "[Definition]\nfailregex = Ban <HOST>\n",
        );
        write(
            &d,
            "fail2ban.conf",
            &format!("[Definition]\nlogtarget = {}\n", own.display()),
        );
        let jail = format!(
            "[recidive]\nenabled = true\nfilter = recidive\nlogpath = {}\n",
            own.display()
        );
        write(&d, "jail.local", &jail);
        assert!(load_jails(&d).is_ok());
        // another missing log is still refused
        write(
            &d,
            "jail.local",
            &format!(
                "{jail}[other]\nenabled = true\nfilter = recidive\nlogpath = {}\n",
                d.join("log/other.log").display()
            ),
        );
        let e = load_jails(&d).unwrap_err().to_string();
        assert!(
            e.contains("Have not found any log file for other jail"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_logpath_without_a_file_is_refused_or_falls_back_to_nologs_backend() {
        let d = tempdir("nologs");
        write(
            &d,
            "filter.d/sshd.conf",
            "[Definition]\nfailregex = ^Failed for <HOST>\njournalmatch = _COMM=sshd\n",
        );
        write(
            &d,
            "jail.conf",
            "[sshd]\nfilter = sshd\nlogpath = /nonexistent/auth.log\n",
        );
        write(&d, "jail.local", "[sshd]\nenabled = true\n");
        let e = load_jails(&d).unwrap_err();
        assert!(e.file.ends_with("jail.conf") && e.line == 3, "{e}");
        let text = e.to_string();
        for part in [
            "Have not found any log file for sshd jail",
            "/nonexistent/auth.log",
            "backend = systemd",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        write(
            &d,
            "jail.local",
            "[sshd]\nenabled = true\nnologs_backend = systemd\n",
        );
        let j = &load_jails(&d).unwrap().jails[0];
        assert!(matches!(j.backend, Backend::Systemd { .. }));
        assert!(j
            .backend_note
            .as_deref()
            .is_some_and(|n| n.contains("/nonexistent/auth.log")));
        write(&d, "auth.log", "");
        write(
            &d,
            "jail.conf",
            "[sshd]\nfilter = sshd\nlogpath = auth.log\n",
        );
        let j = &load_jails(&d).unwrap().jails[0];
        assert_eq!(j.backend, Backend::Inotify, "the file is there: it is read");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_typo_in_a_jail_name_names_the_line_and_the_closest_jail() {
        let d = tempdir("typo");
        write(
            &d,
            "filter.d/sshd.conf",
            "[Definition]\nfailregex = ^Failed for <HOST>\n",
        );
        write(&d, "x.log", "");
        write(
            &d,
            "jail.conf",
            "[DEFAULT]\nfilter = %(__name__)s\nlogpath = x.log\n[sshd]\nport = ssh\n",
        );
        write(&d, "jail.local", "# mine\n[sshdd]\nenabled = true\n");
        let e = load_jails(&d).unwrap_err();
        assert!(e.file.ends_with("jail.local") && e.line == 3, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("[sshdd] filter \"sshdd\" not found"),
            "{text}"
        );
        assert!(text.contains("did you mean the jail [sshd]?"), "{text}");
        // A misspelt `filter =` is named at its own line, in whichever file sets
        // it last (it was named at the jail's `enabled` line).
        write(
            &d,
            "jail.local",
            "[web]\nenabled = true\nport = 80\nfilter = shd\n",
        );
        let e = load_jails(&d).unwrap_err();
        assert!(e.file.ends_with("jail.local") && e.line == 4, "{e}");
        assert!(e.to_string().contains("did you mean filter = sshd?"), "{e}");
        write(&d, "jail.d/zz.local", "[web]\nfilter = shdd\n");
        let e = load_jails(&d).unwrap_err();
        assert!(e.file.ends_with("jail.d/zz.local") && e.line == 2, "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn fleet_options() {
        let d = tempdir("fleet");
        write(
            &d,
            "filter.d/web.conf",
            "[Definition]\nfailregex = ^<HOST> bad\n",
        );
        write(&d, "x.log", "");
        let jail = |extra: &str| {
            write(
                &d,
                "jail.local",
                &format!(
                    "[web]\nenabled = true\nfilter = web\nlogpath = x.log\nmaxretry = 3\n{extra}"
                ),
            );
            load_jails(&d)
        };
        let plain = jail("").unwrap();
        assert_eq!(plain.jails[0].fleet, FleetMode::Off);
        assert_eq!(plain.jails[0].fleetmaxretry, None);
        let j = jail("fleet = share\nfleetmaxretry = 4\nfleetmaxbantime = 1d\n").unwrap();
        assert_eq!(j.jails[0].fleet, FleetMode::Share);
        assert_eq!(j.jails[0].fleetmaxretry, Some(4));
        assert_eq!(j.jails[0].fleetmaxbantime, Some(86400.0));
        let e = jail("fleet = everywhere\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = jail("fleet = share\nfleetmaxretry = 2\n").unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.to_string().contains("one host alone"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn systemd_backend_options() {
        let d = tempdir("sd");
        write(&d, "filter.d/sshd.conf", "[Definition]\nfailregex = ^Failed for <HOST>\njournalmatch = _SYSTEMD_UNIT=sshd.service + _COMM=sshd\n");
        write(&d, "jail.local", "[sshd]\nenabled = true\nfilter = sshd\nbackend = systemd[journalpath=/tmp/j, journalfiles=\"/a /b\"]\n");
        let j = &load_jails(&d).unwrap().jails[0];
        assert_eq!(
            j.backend,
            Backend::Systemd {
                files: vec![PathBuf::from("/a"), PathBuf::from("/b")],
                directory: Some(PathBuf::from("/tmp/j"))
            }
        );
        assert_eq!(
            j.filter.journalmatch,
            vec!["_SYSTEMD_UNIT=sshd.service + _COMM=sshd"]
        );
        std::fs::remove_dir_all(&d).ok();
    }
}
