//! The server's own settings (`fail2ban.conf`/`fail2ban.local`, then
//! `ferroban.conf`/`ferroban.local`, `[Definition]` section).
//!
//! Owns the defaults for where the server keeps its socket, pid file, database and
//! log when the configuration does not say. It does not create any of them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::expr::parse_duration;
use crate::ini::Origin;
use crate::{parse_switch, Config, ConfigError};

/// Where the server logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    Stdout,
    Stderr,
    /// The syslog socket the lines are sent to (see [`ServerSettings::syslogsocket`]).
    Syslog(PathBuf),
    SystemdJournal,
}

/// The syslog socket of `syslogsocket = auto`.
const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

impl LogTarget {
    /// A `logtarget` as Fail2ban reads it: a special name (any case) or a file;
    /// `SYSLOG` sends to `syslogsocket` (Fail2ban's option: `auto` or a path).
    pub fn parse(text: &str, syslogsocket: &str) -> LogTarget {
        let text = text.trim();
        match text.to_uppercase().as_str() {
            "STDOUT" => LogTarget::Stdout,
            "STDERR" => LogTarget::Stderr,
            "SYSLOG" => LogTarget::Syslog(PathBuf::from(match syslogsocket.trim() {
                "auto" | "" => DEFAULT_SYSLOG_SOCKET,
                path => path,
            })),
            "SYSTEMD-JOURNAL" => LogTarget::SystemdJournal,
            _ => LogTarget::File(PathBuf::from(text)),
        }
    }
}

/// The server settings.
/// The options of the server's `[Definition]` (`fail2ban.conf`/`.local`,
/// `ferroban.local`), and Fail2ban's `allowipv6`, which ferroban accepts and has
/// no use for (it always handles IPv6).
pub const SERVER_OPTIONS: [&str; 14] = [
    "syslogsocket",
    "logtarget",
    "loglevel",
    "socket",
    "pidfile",
    "dbfile",
    "dbpurgeage",
    "dbmaxmatches",
    "maxtrackedaddresses",
    "maxbans",
    "metrics",
    "dashboard",
    "dashboard_token",
    "allowipv6",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub logtarget: LogTarget,
    /// Where `logtarget` was set (`None`: the default, or the command line).
    pub logtarget_origin: Option<Origin>,
    /// Fail2ban's `syslogsocket`, as written: `auto` (`/dev/log`) or a path.
    pub syslogsocket: String,
    /// Fail2ban's level names: CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG.
    pub loglevel: String,
    pub socket: PathBuf,
    pub pidfile: PathBuf,
    /// `None`: no database (`dbfile = :memory:` or `None`).
    pub dbfile: Option<PathBuf>,
    /// Whether `dbfile` was set by Fail2ban's own files (`fail2ban.conf` or
    /// `.local`): it is then Fail2ban's database, which ferroban must never
    /// write or create.
    pub dbfile_is_fail2bans: bool,
    /// Seconds after which ended bans are purged from the database.
    pub dbpurgeage: f64,
    /// Matched lines kept per ban in the database.
    pub dbmaxmatches: usize,
    /// Where the Prometheus metrics endpoint listens; `None`: off (the default).
    pub metrics: Option<SocketAddr>,
    /// Whether the HTTP listener also serves the dashboard (off by default).
    pub dashboard: bool,
    /// The bearer token that allows the dashboard's writes; `None`: read-only.
    pub dashboard_token: Option<String>,
    /// The file that sets `dashboard_token` (to warn when others can read it).
    pub dashboard_token_file: Option<PathBuf>,
    /// Addresses with failures counted at once, per jail; beyond it the ones with
    /// the oldest failures are forgotten.
    pub maxtrackedaddresses: usize,
    /// Bans held at once, per jail; beyond it new bans are refused and logged.
    pub maxbans: usize,
}

/// The configuration directories of an installed service.
const SYSTEM_CONFDIRS: [&str; 2] = ["/etc/ferroban", "/etc/fail2ban"];

/// Whether `confdir` is the installed service's configuration (not a copy under
/// test, not an example).
fn is_system_confdir(confdir: &Path) -> bool {
    let real = std::fs::canonicalize(confdir).unwrap_or_else(|_| confdir.to_path_buf());
    SYSTEM_CONFDIRS.iter().any(|d| real == Path::new(d))
}

impl ServerSettings {
    /// Where the server keeps its socket, pid file, database and log when the
    /// configuration in `confdir` does not say. The system's places
    /// (`/run/ferroban`, `/var/lib/ferroban`, `/var/log/ferroban.log`) only for the
    /// installed configuration run by root; otherwise the user's own temporary
    /// directory and standard error, so that a demo, a copy of the configuration
    /// under test or a user without privileges never touches the service's state.
    pub fn defaults_for(confdir: &Path) -> ServerSettings {
        let (run, state, logtarget) = if is_root() && is_system_confdir(confdir) {
            (
                PathBuf::from("/run/ferroban"),
                PathBuf::from("/var/lib/ferroban"),
                LogTarget::File(PathBuf::from("/var/log/ferroban.log")),
            )
        } else {
            let base = std::env::temp_dir().join(format!("ferroban-{}", current_uid()));
            (base.clone(), base, LogTarget::Stderr)
        };
        ServerSettings {
            logtarget,
            logtarget_origin: None,
            syslogsocket: "auto".into(),
            loglevel: "INFO".into(),
            socket: run.join("ferroban.sock"),
            pidfile: run.join("ferroban.pid"),
            dbfile: Some(state.join("ferroban.sqlite3")),
            dbfile_is_fail2bans: false,
            dbpurgeage: 86_400.0,
            dbmaxmatches: 10,
            metrics: None,
            dashboard: false,
            dashboard_token: None,
            dashboard_token_file: None,
            maxtrackedaddresses: 100_000,
            maxbans: 1_000_000,
        }
    }

    /// Read the settings under `basedir`; missing files and options keep the defaults.
    pub fn load(basedir: &Path) -> Result<ServerSettings, ConfigError> {
        let mut s = ServerSettings::defaults_for(basedir);
        for name in ["fail2ban", "ferroban"] {
            if let Some(cfg) = Config::read_named(basedir, name)? {
                s.apply(&cfg)?;
                if cfg.get("Definition", "dbfile", &[])?.is_some() {
                    s.dbfile_is_fail2bans = name == "fail2ban";
                }
            }
        }
        // a `syslogsocket` read after `logtarget` (in a later file) applies too
        if let LogTarget::Syslog(_) = s.logtarget {
            s.logtarget = LogTarget::parse("SYSLOG", &s.syslogsocket);
        }
        Ok(s)
    }

    /// The error of a `logtarget` file whose directory does not exist, named at the
    /// line that set it: most likely a typo, and the server makes no directory for
    /// it (nor does Fail2ban). `None` for a target given on the command line, whose
    /// opening says what is wrong.
    pub fn missing_log_directory(&self) -> Option<ConfigError> {
        let (LogTarget::File(path), Some(origin)) = (&self.logtarget, &self.logtarget_origin)
        else {
            return None;
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        if dir.is_dir() {
            return None;
        }
        Some(ConfigError::at(
            &origin.file,
            origin.line,
            format!(
                "logtarget = {}: the directory {} does not exist",
                path.display(),
                dir.display()
            ),
            format!(
                "correct the path, or create the directory (mkdir -p {})",
                dir.display()
            ),
        ))
    }

    /// The database Fail2ban's own files (`fail2ban.conf`, `fail2ban.local`,
    /// `fail2ban.d/`) under `basedir` name, whatever ferroban's own files say: the
    /// one Fail2ban itself writes. `None` when they name none (or `:memory:`).
    pub fn fail2bans_dbfile(basedir: &Path) -> Result<Option<PathBuf>, ConfigError> {
        let Some(cfg) = Config::read_named(basedir, "fail2ban")? else {
            return Ok(None);
        };
        if cfg.get("Definition", "dbfile", &[])?.is_none() {
            return Ok(None);
        }
        let mut s = ServerSettings::defaults_for(basedir);
        s.apply(&cfg)?;
        Ok(s.dbfile)
    }

    fn apply(&mut self, cfg: &Config) -> Result<(), ConfigError> {
        let get = |k: &str| cfg.get("Definition", k, &[]);
        let err = |k: &str, message: String, hint: &str| {
            let o = cfg.origin("Definition", k);
            let (file, line) = o.map(|o| (o.file, o.line)).unwrap_or_default();
            ConfigError::at(&file, line, message, hint)
        };
        if let Some(v) = get("syslogsocket")? {
            self.syslogsocket = v.trim().to_string();
        }
        if let Some(v) = get("logtarget")? {
            self.logtarget = LogTarget::parse(&v, &self.syslogsocket);
            self.logtarget_origin = cfg.origin("Definition", "logtarget");
        }
        if let Some(v) = get("loglevel")? {
            // Fail2ban's names, and Python's level numbers (`10` is DEBUG)
            let level = match v.trim().to_uppercase().as_str() {
                l @ ("CRITICAL" | "ERROR" | "WARNING" | "NOTICE" | "INFO" | "DEBUG"
                | "TRACEDEBUG" | "HEAVYDEBUG") => l.to_string(),
                "WARN" => "WARNING".into(),
                number if number.parse::<u32>().is_ok() => number.to_string(),
                other => return Err(err(
                    "loglevel",
                    format!("unknown loglevel {other:?}"),
                    "use CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG or a number (10 is DEBUG)",
                )),
            };
            self.loglevel = level;
        }
        if let Some(v) = get("socket")? {
            self.socket = PathBuf::from(v.trim());
        }
        if let Some(v) = get("pidfile")? {
            self.pidfile = PathBuf::from(v.trim());
        }
        if let Some(v) = get("dbfile")? {
            let v = v.trim();
            self.dbfile = match v {
                ":memory:" | "None" | "none" | "" => None,
                _ => Some(PathBuf::from(v)),
            };
        }
        if let Some(v) = get("dbpurgeage")? {
            self.dbpurgeage = parse_duration(&v)
                .map_err(|e| err("dbpurgeage", e.to_string(), "write a duration such as 1d"))?;
        }
        if let Some(v) = get("dbmaxmatches")? {
            self.dbmaxmatches = v.trim().parse().map_err(|_| {
                err(
                    "dbmaxmatches",
                    format!("dbmaxmatches = {v:?} is not a count"),
                    "write a number",
                )
            })?;
        }
        for (key, slot) in [
            ("maxtrackedaddresses", &mut self.maxtrackedaddresses),
            ("maxbans", &mut self.maxbans),
        ] {
            if let Some(v) = get(key)? {
                *slot = v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    err(
                        key,
                        format!("{key} = {v:?} is not a positive count"),
                        "write a number such as 100000",
                    )
                })?;
            }
        }
        if let Some(v) = get("metrics")? {
            self.metrics = parse_listen(&v).map_err(|e| {
                err(
                    "metrics",
                    e,
                    "write a port (9191: loopback only), an address with a port (192.0.2.1:9191, [::1]:9191), or off",
                )
            })?;
        }
        if let Some(v) = get("dashboard")? {
            self.dashboard = parse_switch(&v).ok_or_else(|| {
                err(
                    "dashboard",
                    format!("dashboard = {v:?} is not true or false"),
                    "write dashboard = true to serve the page, or false",
                )
            })?;
        }
        if let Some(v) = get("dashboard_token")? {
            let token = v.trim();
            self.dashboard_token = match token_problems(token) {
                _ if token.is_empty() => None,
                None => Some(token.to_string()),
                Some(problems) => {
                    return Err(err(
                        "dashboard_token",
                        format!(
                            "dashboard_token {problems}; it needs {MIN_TOKEN_LEN} or more \
                             printable ASCII characters without spaces"
                        ),
                        "e.g. from `openssl rand -hex 16`",
                    ))
                }
            };
            self.dashboard_token_file = match &self.dashboard_token {
                Some(_) => cfg.origin("Definition", "dashboard_token").map(|o| o.file),
                None => None,
            };
        }
        Ok(())
    }

    /// Where the HTTP listener listens: the `metrics` address, or, for the
    /// dashboard alone, loopback port [`DEFAULT_HTTP_PORT`]. `None`: no listener.
    pub fn http_listen(&self) -> Option<SocketAddr> {
        self.metrics.or_else(|| {
            self.dashboard
                .then(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_HTTP_PORT)))
        })
    }

    /// What to say of a `dashboard_token` in a file other users can read.
    pub fn readable_token_warning(&self) -> Option<String> {
        let file = self.dashboard_token_file.as_deref()?;
        crate::secret_file_warning("dashboard_token", file)
    }

    /// What to say of a dashboard that listens beyond this host: it serves its
    /// pages over plain HTTP and reads need no login, so whoever reaches the port
    /// reads the bans, their matched log lines and the fleet's hosts.
    pub fn open_dashboard_warning(&self) -> Option<String> {
        let addr = self
            .http_listen()
            .filter(|a| self.dashboard && !a.ip().is_loopback())?;
        Some(format!(
            "metrics = {addr}: the dashboard is reachable from the network, over plain HTTP \
             and without a login for reading: whoever reaches the port reads the bans, their \
             matched log lines and the fleet's hosts. Listen on 127.0.0.1 and put a TLS \
             reverse proxy with authentication in front (README, \"The dashboard\")"
        ))
    }
}

/// What is wrong with `token` as a `dashboard_token` (`is 5 characters and has a
/// space`), `None` when nothing is. The token's characters are never quoted: the
/// message goes to logs.
fn token_problems(token: &str) -> Option<String> {
    let mut problems = Vec::new();
    let n = token.chars().count();
    if n < MIN_TOKEN_LEN {
        problems.push(format!("is {n} character{}", if n == 1 { "" } else { "s" }));
    }
    // 1-based positions, for finding them in the file
    let positions = |bad: fn(char) -> bool| -> Vec<String> {
        let at = token.chars().enumerate().filter(|(_, c)| bad(*c));
        at.map(|(i, _)| (i + 1).to_string()).collect()
    };
    for (what, bad) in [
        // together: every character that is not printable ASCII
        ("a space", (|c: char| c == ' ') as fn(char) -> bool),
        ("a non-ASCII character", |c: char| !c.is_ascii()),
        ("a control character", |c: char| c.is_ascii_control()),
    ] {
        let at = positions(bad);
        if !at.is_empty() {
            let s = if at.len() == 1 { "" } else { "s" };
            problems.push(format!("has {what} (character{s} {})", at.join(", ")));
        }
    }
    (!problems.is_empty()).then(|| problems.join(" and "))
}

/// The port of the dashboard when `metrics` names none.
pub const DEFAULT_HTTP_PORT: u16 = 9191;
/// The shortest `dashboard_token` accepted.
const MIN_TOKEN_LEN: usize = 24;

/// The `metrics` setting: empty or `off` for none, a bare port for loopback only,
/// or an address with a port.
fn parse_listen(value: &str) -> Result<Option<SocketAddr>, String> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("false") {
        return Ok(None);
    }
    if let Ok(port) = v.parse::<u16>() {
        return Ok(Some(SocketAddr::from(([127, 0, 0, 1], port))));
    }
    v.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("metrics = {v:?} is not a port or an address with a port"))
}

/// The effective user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    current_uid() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail2ban_then_ferroban_settings() {
        let d = std::env::temp_dir().join(format!("ferroban-settings-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("fail2ban.conf"), "[Definition]\nloglevel = INFO\nlogtarget = /var/log/fail2ban.log\nsocket = /run/f.sock\ndbpurgeage = 1d\n").unwrap();
        std::fs::write(
            d.join("ferroban.local"),
            "[Definition]\nlogtarget = STDOUT\ndbfile = :memory:\n",
        )
        .unwrap();
        let s = ServerSettings::load(&d).unwrap();
        assert_eq!(s.logtarget, LogTarget::Stdout);
        assert_eq!(s.socket, PathBuf::from("/run/f.sock"));
        assert_eq!(s.dbfile, None);
        assert_eq!(s.dbpurgeage, 86400.0);
        std::fs::write(d.join("ferroban.local"), "[Definition]\nloglevel = LOUD\n").unwrap();
        let e = ServerSettings::load(&d).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    /// Fail2ban's `syslogsocket`: `auto` is `/dev/log`; a path set in a later file
    /// than `logtarget = SYSLOG` still applies.
    #[test]
    fn syslog_target_sends_to_syslogsocket() {
        let d = std::env::temp_dir().join(format!("ferroban-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("fail2ban.conf"),
            "[Definition]\nlogtarget = SYSLOG\n",
        )
        .unwrap();
        let s = ServerSettings::load(&d).unwrap();
        assert_eq!(s.syslogsocket, "auto");
        assert_eq!(s.logtarget, LogTarget::Syslog(PathBuf::from("/dev/log")));
        std::fs::write(
            d.join("fail2ban.local"),
            "[Definition]\nsyslogsocket = /run/other.sock\n",
        )
        .unwrap();
        let s = ServerSettings::load(&d).unwrap();
        assert_eq!(s.syslogsocket, "/run/other.sock");
        assert_eq!(
            s.logtarget,
            LogTarget::Syslog(PathBuf::from("/run/other.sock"))
        );
        assert_eq!(LogTarget::parse(" stdout ", "auto"), LogTarget::Stdout);
        assert_eq!(
            LogTarget::parse("/var/log/x.log", "auto"),
            LogTarget::File(PathBuf::from("/var/log/x.log"))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn only_the_installed_configuration_run_by_root_gets_the_services_places() {
        let copy = std::env::temp_dir().join(format!("ferroban-copy-{}", std::process::id()));
        std::fs::create_dir_all(&copy).unwrap();
        let s = ServerSettings::defaults_for(&copy);
        assert_eq!(s.logtarget, LogTarget::Stderr);
        for p in [&s.socket, &s.pidfile, s.dbfile.as_ref().unwrap()] {
            assert!(p.starts_with(std::env::temp_dir()), "{}", p.display());
        }
        let installed = ServerSettings::defaults_for(Path::new("/etc/ferroban"));
        if is_root() {
            assert_eq!(
                installed.socket,
                PathBuf::from("/run/ferroban/ferroban.sock")
            );
            assert_eq!(
                installed.logtarget,
                LogTarget::File(PathBuf::from("/var/log/ferroban.log"))
            );
        } else {
            assert_eq!(
                installed.socket, s.socket,
                "without root: the user's own places"
            );
        }
        std::fs::remove_dir_all(&copy).ok();
    }

    #[test]
    fn metrics_listen_addresses() {
        use super::parse_listen;
        assert_eq!(parse_listen("").unwrap(), None);
        assert_eq!(parse_listen("off").unwrap(), None);
        assert_eq!(
            parse_listen("9191").unwrap(),
            Some("127.0.0.1:9191".parse().unwrap())
        );
        assert_eq!(
            parse_listen("[::1]:9191").unwrap(),
            Some("[::1]:9191".parse().unwrap())
        );
        assert!(parse_listen("everywhere").is_err());
    }

    #[test]
    fn a_dashboard_listening_beyond_loopback_is_warned_about() {
        let settings = |metrics: &str, dashboard: bool| ServerSettings {
            metrics: super::parse_listen(metrics).unwrap(),
            dashboard,
            ..ServerSettings::defaults_for(std::path::Path::new("/etc/ferroban"))
        };
        let open = settings("0.0.0.0:9193", true).open_dashboard_warning();
        assert!(
            open.as_deref().is_some_and(
                |w| w.starts_with("metrics = 0.0.0.0:9193: the dashboard is reachable")
            ),
            "{open:?}"
        );
        assert!(settings("[::]:9193", true)
            .open_dashboard_warning()
            .is_some());
        // loopback, or metrics alone (counts, no lines or addresses of bans)
        assert_eq!(settings("9193", true).open_dashboard_warning(), None);
        assert_eq!(settings("[::1]:9193", true).open_dashboard_warning(), None);
        assert_eq!(
            settings("0.0.0.0:9193", false).open_dashboard_warning(),
            None
        );
        assert_eq!(settings("", true).open_dashboard_warning(), None);
    }

    #[test]
    fn a_bad_dashboard_token_is_told_exactly_what_is_wrong() {
        assert_eq!(token_problems("0123456789abcdef01234567"), None);
        assert_eq!(token_problems("short").as_deref(), Some("is 5 characters"));
        assert_eq!(
            token_problems("0123456789 abcdef 01234567").as_deref(),
            Some("has a space (characters 11, 18)")
        );
        assert_eq!(
            token_problems("0123456789abcdéf01234567").as_deref(),
            Some("has a non-ASCII character (character 15)")
        );
        assert_eq!(
            token_problems("a b\u{1}").as_deref(),
            Some("is 4 characters and has a space (character 2) and has a control character (character 4)")
        );
    }

    #[test]
    fn dashboard_switch_token_and_listener() {
        let d = std::env::temp_dir().join(format!("ferroban-dash-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let s = ServerSettings::load(&d).unwrap();
        assert!(!s.dashboard, "off by default");
        assert_eq!(s.http_listen(), None);
        std::fs::write(
            d.join("fail2ban.local"),
            "[Definition]\ndashboard = true\ndashboard_token = 0123456789abcdef01234567\n",
        )
        .unwrap();
        let s = ServerSettings::load(&d).unwrap();
        assert!(s.dashboard);
        assert_eq!(
            s.dashboard_token.as_deref(),
            Some("0123456789abcdef01234567")
        );
        assert_eq!(s.http_listen(), Some("127.0.0.1:9191".parse().unwrap()));
        assert_eq!(s.dashboard_token_file, Some(d.join("fail2ban.local")));
        std::fs::write(
            d.join("ferroban.local"),
            "[Definition]\nmetrics = 192.0.2.1:80\ndashboard_token = short\n",
        )
        .unwrap();
        let e = ServerSettings::load(&d).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert_eq!(
            e.message,
            "dashboard_token is 5 characters; it needs 24 or more printable ASCII characters \
             without spaces"
        );
        std::fs::write(
            d.join("ferroban.local"),
            "[Definition]\nmetrics = 192.0.2.1:80\ndashboard = maybe\n",
        )
        .unwrap();
        assert!(ServerSettings::load(&d).is_err());
        std::fs::write(
            d.join("ferroban.local"),
            "[Definition]\nmetrics = 192.0.2.1:80\n",
        )
        .unwrap();
        let s = ServerSettings::load(&d).unwrap();
        assert_eq!(s.http_listen(), Some("192.0.2.1:80".parse().unwrap()));
        std::fs::remove_dir_all(&d).ok();
    }
}
