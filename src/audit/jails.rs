//! The checks of the jails themselves: `jail-log-missing` (is there anything to
//! read?), `jail-never-matched` (does the filter fit the log?) and
//! `admin-not-ignored` (could the admin running the audit lock themselves out?).
//!
//! They read the enabled jails of the configuration directory, the jails' logs
//! (the last [`LOG_TAIL`] bytes of each) and the journal through `journalctl`;
//! they never start a jail or touch the firewall. The admin's address comes from
//! [`super::session`].

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ferroban_config::jail::{Backend, JailConfig};
use ferroban_filter::date::DateDetector;
use ferroban_jail::IgnoreList;

use super::{run_program, Finding, Scope, Status};

/// How much of the end of each log `jail-never-matched` reads.
const LOG_TAIL: u64 = 32 << 20;
/// How long a log must span before a filter that never matched it is suspicious.
const QUIET_DAYS: f64 = 2.0;

pub fn log_missing(ctx: &Scope) -> Finding {
    if let Some(fail) = ctx.unreadable() {
        return fail;
    }
    let jails = match ctx.jails() {
        Ok(j) => j,
        Err(skip) => return skip,
    };
    if jails.is_empty() {
        return Finding::warn(
            format!("no jail is enabled in {}", ctx.confdir.display()),
            "enable the jails of the services you run in jail.local",
        );
    }
    let mut status = Status::Pass;
    let mut seen = Vec::new();
    for jail in jails {
        let (s, text) = match &jail.backend {
            Backend::Systemd { files, directory } => {
                journal_entries(jail, files, directory.as_deref())
            }
            Backend::Inotify | Backend::Polling => log_files(jail),
        };
        status = status.max(s);
        seen.push((s, format!("[{}] {text}", jail.name)));
    }
    let seen = seen_text(&seen);
    match status {
        Status::Pass => Finding::pass(seen),
        Status::Skip => Finding::skip(seen),
        Status::Warn => Finding::warn(
            seen,
            "check the service logs to the journal under that match (journalmatch), or point \
             the jail at its log file",
        ),
        Status::Fail => Finding::fail(
            seen,
            "point logpath at the service's real log, or read the journal with \
             `backend = systemd` (sshd on Debian 12 without rsyslog)",
        ),
    }
}

/// What a finding says it saw, one `(status, text)` per jail or log: where some
/// are not a pass, those alone and how many others were fine (the one at fault is
/// hard to spot among every jail); else all of them.
fn seen_text(seen: &[(Status, String)]) -> String {
    let faults: Vec<&str> = (seen.iter())
        .filter(|(s, _)| *s != Status::Pass)
        .map(|(_, text)| text.as_str())
        .collect();
    if faults.is_empty() {
        let all: Vec<&str> = seen.iter().map(|(_, text)| text.as_str()).collect();
        return all.join("; ");
    }
    let text = faults.join("; ");
    match seen.len() - faults.len() {
        0 => text,
        1 => format!("{text} (1 other fine)"),
        fine => format!("{text} ({fine} others fine)"),
    }
}

/// Whether the jail's log paths exist: (status, what was seen).
fn log_files(jail: &JailConfig) -> (Status, String) {
    let mut missing = Vec::new();
    let mut found = Vec::new();
    for pattern in &jail.logpaths {
        let files: Vec<PathBuf> = ferroban_sources::files::expand(pattern)
            .into_iter()
            .filter(|p| p.exists())
            .collect();
        if files.is_empty() {
            missing.push(pattern.display().to_string());
        } else {
            found.extend(files.iter().map(|p| p.display().to_string()));
        }
    }
    if missing.is_empty() {
        (Status::Pass, format!("reads {}", found.join(", ")))
    } else {
        (Status::Fail, format!("no file at {}", missing.join(", ")))
    }
}

/// Whether the journal has an entry for the jail's match: (status, what was seen).
fn journal_entries(
    jail: &JailConfig,
    files: &[PathBuf],
    directory: Option<&Path>,
) -> (Status, String) {
    let mut args: Vec<String> = vec!["--quiet".into(), "--lines=1".into(), "--output=cat".into()];
    for f in files {
        args.push(format!("--file={}", f.display()));
    }
    if let Some(d) = directory {
        args.push(format!("--directory={}", d.display()));
    }
    let matches: Vec<String> = jail
        .filter
        .journalmatch
        .iter()
        .flat_map(|m| m.split_whitespace().map(str::to_string))
        .collect();
    args.extend(matches.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let what = if matches.is_empty() {
        "the whole journal".to_string()
    } else {
        format!("journal match {}", matches.join(" "))
    };
    match run_program("journalctl", &refs) {
        Ok(out) if out.success && !out.stdout.trim().is_empty() => {
            (Status::Pass, format!("{what} has entries"))
        }
        Ok(out) if out.success => (Status::Warn, format!("{what} finds no entries")),
        Ok(out) => (
            Status::Skip,
            format!("journalctl failed for {what}: {}", out.stderr.trim()),
        ),
        Err(e) => (Status::Skip, e.to_string()),
    }
}

pub fn never_matched(ctx: &Scope) -> Finding {
    let jails = match ctx.jails() {
        Ok(j) => j,
        Err(skip) => return skip,
    };
    let mut status = Status::Pass;
    let mut seen = Vec::new();
    // the command that tests the first quiet jail's filter on its log
    let mut test_command = None;
    for jail in jails {
        if matches!(jail.backend, Backend::Systemd { .. }) {
            continue;
        }
        let files: Vec<PathBuf> = jail
            .logpaths
            .iter()
            .flat_map(|p| ferroban_sources::files::expand(p))
            .filter(|p| p.is_file())
            .collect();
        for file in files {
            match scan_log(jail, &file) {
                Ok(scan) if scan.matches == 0 && scan.span_days >= QUIET_DAYS => {
                    status = status.max(Status::Warn);
                    let said = format!(
                        "[{}] {}: {} lines over {:.0} days, none matched",
                        jail.name,
                        file.display(),
                        scan.lines,
                        scan.span_days
                    );
                    seen.push((Status::Warn, said));
                    test_command.get_or_insert_with(|| {
                        format!(
                            "ferroban regex -c {} {} {}",
                            ctx.confdir.display(),
                            file.display(),
                            jail.filter.name
                        )
                    });
                }
                Ok(scan) => seen.push((
                    Status::Pass,
                    format!(
                        "[{}] {}: {} of {} lines matched",
                        jail.name,
                        file.display(),
                        scan.matches,
                        scan.lines
                    ),
                )),
                Err(e) => {
                    status = status.max(Status::Skip);
                    let said = format!("[{}] {}: {e}", jail.name, file.display());
                    seen.push((Status::Skip, said));
                }
            }
        }
    }
    if seen.is_empty() {
        return Finding::skip(
            "no enabled jail has a log file to read (journal jails are not scanned)",
        );
    }
    let seen = seen_text(&seen);
    match status {
        Status::Warn | Status::Fail => Finding::warn(
            seen,
            format!(
                "test the filter on the log: `{}`; the filter or the log format (LogFormat, \
                 syslog template) may be wrong",
                test_command.unwrap_or_else(|| "ferroban regex -c CONFDIR LOG FILTER".into())
            ),
        ),
        Status::Skip => Finding::skip(seen),
        Status::Pass => Finding::pass(seen),
    }
}

/// What a filter found in the end of one log.
struct Scan {
    lines: usize,
    matches: usize,
    /// Days between the first and the last dated line read.
    span_days: f64,
}

fn scan_log(jail: &JailConfig, path: &Path) -> Result<Scan, String> {
    let mut filter = crate::server::build_filter(jail)?;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > LOG_TAIL {
        file.seek(SeekFrom::Start(len - LOG_TAIL))
            .map_err(|e| e.to_string())?;
    }
    let mut bytes = Vec::new();
    file.take(LOG_TAIL)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if len > LOG_TAIL && !lines.is_empty() {
        // The first line read is cut in the middle.
        lines.remove(0);
    }
    let now = jiff::Timestamp::now().as_second();
    let matches = lines
        .iter()
        .filter(|l| filter.process_line(l, now).is_match())
        .count();
    let mut dates =
        DateDetector::with_defaults(jiff::tz::TimeZone::system(), jiff::Zoned::now().year());
    let mut first_time = |it: &mut dyn Iterator<Item = &&str>| {
        it.take(50)
            .find_map(|l| dates.find(l, now).and_then(|d| d.time))
    };
    let first = first_time(&mut lines.iter());
    let last = first_time(&mut lines.iter().rev());
    let span_days = match (first, last) {
        (Some(a), Some(b)) => (b - a).abs() / 86_400.0,
        _ => 0.0,
    };
    Ok(Scan {
        lines: lines.len(),
        matches,
        span_days,
    })
}

pub fn admin_not_ignored(ctx: &Scope) -> Finding {
    let (admin, source) = match super::session::find() {
        Ok(found) => (found.address, found.source),
        Err(why) => {
            return Finding::skip(format!("no SSH session of the admin found: {why}"));
        }
    };
    let jails = match ctx.jails() {
        Ok(j) => j,
        Err(skip) => return skip,
    };
    let mut exposed = Vec::new();
    for jail in jails {
        // No ignorecommand: the audit runs nothing the configuration names.
        match IgnoreList::new(&jail.ignoreip, jail.ignoreself, None) {
            Ok(list) if list.check(admin).is_some() => {}
            Ok(_) => exposed.push(jail.name.clone()),
            Err(e) => return Finding::skip(format!("[{}] ignoreip: {e}", jail.name)),
        }
    }
    if exposed.is_empty() {
        Finding::pass(format!(
            "{admin} (from {source}) is in every enabled jail's ignoreip"
        ))
    } else {
        Finding::warn(
            format!(
                "{admin} (from {source}) is not ignored by jail {}",
                exposed.join(", ")
            ),
            format!(
                "add {admin} (or its network) to `ignoreip` in jail.local's [DEFAULT], so a \
                 burst of mistyped passwords cannot lock you out"
            ),
        )
    }
}
