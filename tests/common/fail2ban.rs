//! The real Fail2ban, for tests that need what it writes (its database, its bans
//! and their times): a `fail2ban-server` on a configuration directory of its own
//! (socket, pid file, log and database inside it), driven with Debian's
//! `fail2ban-client`. Nothing here imitates Fail2ban; it runs it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The failure line both servers' test filters match: `DATE login failed from IP`.
pub const FAILREGEX: &str = "login failed from <HOST>";

/// A running `fail2ban-server`; stopped (and killed if need be) when dropped.
pub struct Fail2ban {
    /// Its configuration directory, which also holds its socket, log and database.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Fail2ban {
    /// Start `fail2ban-server -xf start` on `dir` with `jails` (jail.conf sections;
    /// the filter `app` matches [`FAILREGEX`], the action `noop` does nothing).
    /// `None`, after a `SKIPPED` line, when Fail2ban is not installed.
    pub fn start(dir: &Path, jails: &str) -> Option<Fail2ban> {
        Fail2ban::write_config(dir, jails);
        Fail2ban::start_written(dir)
    }

    /// [`Fail2ban::start`] on a configuration written already (by
    /// [`Fail2ban::write_config`], then changed).
    pub fn start_written(dir: &Path) -> Option<Fail2ban> {
        if !Path::new("/usr/bin/fail2ban-server").exists() {
            eprintln!("SKIPPED: fail2ban-server is not installed (Debian package fail2ban)");
            return None;
        }
        let child = Command::new("fail2ban-server")
            .arg("-c")
            .arg(dir)
            .args(["-xf", "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run fail2ban-server");
        let server = Fail2ban {
            dir: dir.to_path_buf(),
            child: Some(child),
        };
        assert!(
            super::wait_for(30, || server.client(&["ping"]).status.success()),
            "fail2ban-server did not answer; its log:\n{}",
            server.log_text()
        );
        Some(server)
    }

    /// Write the configuration [`Fail2ban::start`] runs on into `dir` (its
    /// socket, pid file, log and database inside it), starting nothing: for a
    /// test that runs ferroban on Fail2ban's configuration first.
    pub fn write_config(dir: &Path, jails: &str) {
        std::fs::create_dir_all(dir.join("filter.d")).unwrap();
        std::fs::create_dir_all(dir.join("action.d")).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/fail2ban.log\nsyslogsocket = auto\n\
                 socket = {d}/fail2ban.sock\npidfile = {d}/fail2ban.pid\n\
                 dbfile = {d}/fail2ban.sqlite3\ndbpurgeage = 1d\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("filter.d/app.conf"),
            format!("[Definition]\nfailregex = {FAILREGEX}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("action.d/noop.conf"),
            "[Definition]\nactionban = true\nactionunban = true\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("jail.conf"),
            format!("[DEFAULT]\nbackend = polling\nfilter = app\naction = noop\n{jails}"),
        )
        .unwrap();
    }

    /// Debian's `fail2ban-client -c DIR ARGS`.
    pub fn client(&self, args: &[&str]) -> Output {
        Command::new("/usr/bin/fail2ban-client")
            .arg("-c")
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run fail2ban-client")
    }

    /// Wait until `ip` is banned in `jail` (read through fail2ban-client).
    pub fn wait_banned(&self, jail: &str, ip: &str) -> bool {
        super::wait_for(20, || {
            String::from_utf8_lossy(&self.client(&["get", jail, "banned", ip]).stdout).trim() == "1"
        })
    }

    pub fn database(&self) -> PathBuf {
        self.dir.join("fail2ban.sqlite3")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("fail2ban.log")).unwrap_or_default()
    }

    /// `fail2ban-client stop`, and wait for the server to exit.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.client(&["stop"]);
            if !super::wait_for(20, || matches!(child.try_wait(), Ok(Some(_)))) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Fail2ban {
    fn drop(&mut self) {
        self.shut_down();
    }
}
