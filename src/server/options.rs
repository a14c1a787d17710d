//! How the server was asked to run: `ferroban server` and `fail2ban-server` options.

use std::path::PathBuf;

use anyhow::Result;
use ferroban_config::settings::{LogTarget, ServerSettings};

use crate::fail2ban_cmdline::Fail2banArgs;

/// Options given on the command line (they win over the configuration files);
/// parsed by [`crate::fail2ban_cmdline`], Fail2ban's grammar.
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
    /// Read the logs from their start and count every failure however old (to
    /// replay a log).
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

impl ServerOptions {
    /// The options of a parsed command line; `fail2ban_server` selects that
    /// program's defaults (detached).
    pub fn from_args(args: &Fail2banArgs, fail2ban_server: bool) -> ServerOptions {
        ServerOptions {
            confdir: args.conf.clone().unwrap_or_else(default_confdir),
            socket: args.socket.clone(),
            pidfile: args.pidfile.clone(),
            logtarget: args.logtarget.clone(),
            loglevel: args.loglevel.clone(),
            dbfile: args.dbfile.clone(),
            foreground: !args.background.unwrap_or(fail2ban_server),
            force: args.force,
            dry_run: args
                .dry_run
                .unwrap_or(!ferroban_config::settings::is_root()),
            replay: args.replay,
        }
    }

    /// The command line of a foreground server with these options, for starting
    /// one detached (`fail2ban-server` without `-f`, `ferroban start`).
    pub fn foreground_args(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> =
            vec!["-f".into(), "-c".into(), (&self.confdir).into()];
        let mut pair = |flag: &str, value: Option<std::ffi::OsString>| {
            if let Some(v) = value {
                out.push(flag.into());
                out.push(v);
            }
        };
        pair("-s", self.socket.clone().map(Into::into));
        pair("-p", self.pidfile.clone().map(Into::into));
        pair("--logtarget", self.logtarget.clone().map(Into::into));
        pair("--loglevel", self.loglevel.clone().map(Into::into));
        pair("--dbfile", self.dbfile.clone().map(Into::into));
        for (on, flag) in [
            (self.force, "-x"),
            (self.replay, "--replay"),
            (self.dry_run, "--dry-run"),
            (!self.dry_run, "--no-dry-run"),
        ] {
            if on {
                out.push(flag.into());
            }
        }
        out
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
            s.logtarget = LogTarget::parse(t, &s.syslogsocket);
            s.logtarget_origin = None;
        }
        if let Some(l) = &self.loglevel {
            s.loglevel = l.to_uppercase();
        }
        if let Some(d) = &self.dbfile {
            s.dbfile = (d.as_os_str() != ":memory:").then(|| d.clone());
            s.dbfile_is_fail2bans = false;
        }
        Ok(s)
    }
}
