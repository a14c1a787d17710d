//! The server's own log, line for line in Fail2ban's format.
//!
//! `2026-02-23 11:08:21,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban 192.0.2.7`
//! — so Fail2ban's `recidive` filter, and every script written for Fail2ban's log,
//! work on it. Owns the targets (a file, reopened by `flushlogs` for logrotate;
//! stdout; stderr; syslog; the systemd journal) and the level threshold.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};

use ferroban_actions::Severity;
use ferroban_config::settings::LogTarget;

/// The logger components of Fail2ban, whose names appear in each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Server,
    Jail,
    Filter,
    Actions,
    Database,
    Observer,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Server => "fail2ban.server",
            Component::Jail => "fail2ban.jail",
            Component::Filter => "fail2ban.filter",
            Component::Actions => "fail2ban.actions",
            Component::Database => "fail2ban.database",
            Component::Observer => "fail2ban.observer",
        }
    }
}

fn level_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Notice => "NOTICE",
        Severity::Info => "INFO",
        Severity::Debug => "DEBUG",
    }
}

/// A level from its Fail2ban name.
pub fn parse_level(name: &str) -> Option<Severity> {
    Some(match name.trim().to_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "ERROR" => Severity::Error,
        "WARNING" | "WARN" => Severity::Warning,
        "NOTICE" => Severity::Notice,
        "INFO" => Severity::Info,
        "DEBUG" | "TRACEDEBUG" | "HEAVYDEBUG" => Severity::Debug,
        _ => return None,
    })
}

thread_local! {
    /// Set on the server thread: its lines are flushed once per round of events
    /// (a burst of 100,000 bans is then a few writes, not 100,000).
    static DEFERRED: Cell<bool> = const { Cell::new(false) };
}

/// Let this thread's log lines wait for [`Logger::flush`].
pub fn defer_flushes_on_this_thread() {
    DEFERRED.with(|d| d.set(true));
}

enum Sink {
    File(BufWriter<File>),
    Stdout,
    Stderr,
    Syslog(Option<UnixDatagram>),
    Journal(Option<UnixDatagram>),
}

struct Inner {
    sink: Sink,
    level: Severity,
    target: LogTarget,
}

/// The shared logger (cheap to clone).
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Mutex<Inner>>,
    pid: u32,
}

fn open_sink(target: &LogTarget) -> std::io::Result<Sink> {
    Ok(match target {
        LogTarget::File(p) => {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            Sink::File(BufWriter::new(
                OpenOptions::new().create(true).append(true).open(p)?,
            ))
        }
        LogTarget::Stdout => Sink::Stdout,
        LogTarget::Stderr => Sink::Stderr,
        LogTarget::Syslog => Sink::Syslog(datagram("/dev/log")),
        LogTarget::SystemdJournal => Sink::Journal(datagram("/run/systemd/journal/socket")),
    })
}

fn datagram(path: &str) -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect(path).ok()?;
    Some(s)
}

/// Local time as Fail2ban prints it: `2026-02-23 11:08:21,123`.
pub fn timestamp(epoch: f64) -> String {
    let ts = jiff::Timestamp::from_millisecond((epoch * 1000.0) as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    format!(
        "{},{:03}",
        zoned.strftime("%Y-%m-%d %H:%M:%S"),
        zoned.millisecond()
    )
}

/// A time as Fail2ban prints it in messages: `2026-02-23 11:08:21`.
pub fn time_text(epoch: f64) -> String {
    let ts = jiff::Timestamp::from_second(epoch as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

impl Logger {
    pub fn open(target: &LogTarget, level: Severity) -> std::io::Result<Logger> {
        let sink = open_sink(target)?;
        Ok(Logger {
            inner: Arc::new(Mutex::new(Inner {
                sink,
                level,
                target: target.clone(),
            })),
            pid: std::process::id(),
        })
    }

    pub fn log(&self, component: Component, level: Severity, message: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if level > inner.level {
            return;
        }
        let pid = self.pid;
        let (name, lname) = (component.name(), level_name(level));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let line = || {
            format!(
                "{} {name:<24}[{pid}]: {lname:<7} {message}\n",
                timestamp(now)
            )
        };
        match &mut inner.sink {
            Sink::File(f) => {
                let _ = f.write_all(line().as_bytes());
                if !DEFERRED.with(Cell::get) {
                    let _ = f.flush();
                }
            }
            Sink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line().as_bytes());
            }
            Sink::Stderr => {
                let _ = std::io::stderr().lock().write_all(line().as_bytes());
            }
            Sink::Syslog(s) => {
                let pri = 3 * 8 + syslog_severity(level);
                let msg = format!("<{pri}>{name}[{pid}]: {lname} {message}");
                if let Some(s) = s {
                    let _ = s.send(msg.as_bytes());
                }
            }
            Sink::Journal(s) => {
                let msg = format!(
                    "MESSAGE={name}: {lname} {}\nPRIORITY={}\nSYSLOG_IDENTIFIER=ferroban\nSYSLOG_PID={pid}\n",
                    message.replace('\n', " "),
                    syslog_severity(level)
                );
                if let Some(s) = s {
                    let _ = s.send(msg.as_bytes());
                }
            }
        }
    }

    /// Write out lines a deferring thread left in the buffer.
    pub fn flush(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            if let Sink::File(f) = &mut inner.sink {
                let _ = f.flush();
            }
        }
    }

    /// Reopen the log file (after logrotate moved it). Returns the target's text.
    pub fn reopen(&self) -> std::io::Result<String> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("logger poisoned"))?;
        if let Sink::File(f) = &mut inner.sink {
            let _ = f.flush();
        }
        inner.sink = open_sink(&inner.target)?;
        Ok(target_text(&inner.target))
    }

    pub fn set_level(&self, level: Severity) {
        if let Ok(mut i) = self.inner.lock() {
            i.level = level;
        }
    }

    pub fn level(&self) -> &'static str {
        self.inner
            .lock()
            .map(|i| level_name(i.level))
            .unwrap_or("INFO")
    }

    pub fn target(&self) -> String {
        self.inner
            .lock()
            .map(|i| target_text(&i.target))
            .unwrap_or_default()
    }

    /// Switch to another target (when a reload changes `logtarget`).
    pub fn retarget(&self, target: &LogTarget) -> std::io::Result<()> {
        let sink = open_sink(target)?;
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("logger poisoned"))?;
        inner.sink = sink;
        inner.target = target.clone();
        Ok(())
    }
}

fn syslog_severity(level: Severity) -> u8 {
    match level {
        Severity::Critical => 2,
        Severity::Error => 3,
        Severity::Warning => 4,
        Severity::Notice => 5,
        Severity::Info => 6,
        Severity::Debug => 7,
    }
}

pub fn target_text(t: &LogTarget) -> String {
    match t {
        LogTarget::File(p) => p.display().to_string(),
        LogTarget::Stdout => "STDOUT".into(),
        LogTarget::Stderr => "STDERR".into(),
        LogTarget::Syslog => "SYSLOG".into(),
        LogTarget::SystemdJournal => "SYSTEMD-JOURNAL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_fail2ban_format() {
        let p = std::env::temp_dir().join(format!("ferroban-log-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = Logger::open(&LogTarget::File(p.clone()), Severity::Info).unwrap();
        l.log(Component::Actions, Severity::Notice, "[sshd] Ban 192.0.2.7");
        l.log(Component::Filter, Severity::Debug, "not shown");
        let text = std::fs::read_to_string(&p).unwrap();
        let re = regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.actions {8}\[\d+\]: NOTICE  \[sshd\] Ban 192\.0\.2\.7\n$").unwrap();
        assert!(re.is_match(&text), "{text:?}");
        // logrotate: moved away, then reopened
        std::fs::rename(&p, p.with_extension("1")).unwrap();
        l.reopen().unwrap();
        l.log(
            Component::Actions,
            Severity::Notice,
            "[sshd] Unban 192.0.2.7",
        );
        assert!(std::fs::read_to_string(&p).unwrap().contains("Unban"));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(p.with_extension("1"));
    }
}
