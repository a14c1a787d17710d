//! How the server was asked to run: `ferroban server` and `fail2ban-server` options.

use std::path::PathBuf;

use anyhow::{bail, Result};
use ferroban_config::settings::{LogTarget, ServerSettings};

/// Options given on the command line (they win over the configuration files).
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub confdir: PathBuf,
    pub socket: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub logtarget: Option<String>,
    pub loglevel: Option<String>,
    pub dbfile: Option<PathBuf>,
    /// Stay in the foreground (`-f`); otherwise detach (`-b`, fail2ban-server's default).
    pub foreground: bool,
    /// Remove a stale socket without asking (`-x`).
    pub force: bool,
    /// Log what actions would run instead of running them.
    pub dry_run: bool,
    /// Count failures by their log time however old they are (to replay a log).
    pub replay: bool,
}

/// The configuration directory: `/etc/ferroban`, or `/etc/fail2ban` when that is
/// all there is.
pub fn default_confdir() -> PathBuf {
    let own = PathBuf::from("/etc/ferroban");
    if own.join("jail.conf").exists()
        || own.join("jail.local").exists()
        || !PathBuf::from("/etc/fail2ban").exists()
    {
        own
    } else {
        PathBuf::from("/etc/fail2ban")
    }
}

/// `ferroban server --help`, from the command-line definition.
pub fn server_usage() -> String {
    ferroban_cli::help(Some("server"))
}

impl ServerOptions {
    /// Parse server arguments; `fail2ban_server` selects that program's defaults.
    pub fn parse(args: &[String], fail2ban_server: bool) -> Result<ServerOptions> {
        let mut o = ServerOptions {
            confdir: default_confdir(),
            foreground: !fail2ban_server,
            dry_run: !ferroban_config::settings::is_root(),
            ..ServerOptions::default()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> Result<String> {
                match it.next() {
                    Some(v) => Ok(v.clone()),
                    None => bail!("option {name} needs a value"),
                }
            };
            match a.as_str() {
                "-c" | "--conf" => o.confdir = PathBuf::from(value(a)?),
                "-s" | "--socket" => o.socket = Some(PathBuf::from(value(a)?)),
                "-p" | "--pidfile" => o.pidfile = Some(PathBuf::from(value(a)?)),
                "--logtarget" => o.logtarget = Some(value(a)?),
                "--loglevel" => o.loglevel = Some(value(a)?),
                "--dbfile" => o.dbfile = Some(PathBuf::from(value(a)?)),
                "-f" | "--foreground" => o.foreground = true,
                "-b" | "--background" => o.foreground = false,
                "-x" | "--force" => o.force = true,
                "--dry-run" => o.dry_run = true,
                "--no-dry-run" => o.dry_run = false,
                "--replay" => o.replay = true,
                "--async" | "-d" | "-q" | "-v" => {}
                "--timeout" => {
                    value(a)?;
                }
                other => bail!("unknown server option {other:?}\n\n{}", server_usage()),
            }
        }
        Ok(o)
    }

    /// The settings from the configuration files, with the command line's overrides.
    pub fn settings(&self) -> Result<ServerSettings> {
        let mut s = ServerSettings::load(&self.confdir)?;
        if let Some(p) = &self.socket {
            s.socket = p.clone();
        }
        if let Some(p) = &self.pidfile {
            s.pidfile = p.clone();
        }
        if let Some(t) = &self.logtarget {
            s.logtarget = match t.to_uppercase().as_str() {
                "STDOUT" => LogTarget::Stdout,
                "STDERR" => LogTarget::Stderr,
                "SYSLOG" => LogTarget::Syslog,
                "SYSTEMD-JOURNAL" => LogTarget::SystemdJournal,
                _ => LogTarget::File(PathBuf::from(t)),
            };
        }
        if let Some(l) = &self.loglevel {
            s.loglevel = l.to_uppercase();
        }
        if let Some(d) = &self.dbfile {
            s.dbfile = (d.as_os_str() != ":memory:").then(|| d.clone());
        }
        Ok(s)
    }
}
