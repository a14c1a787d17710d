//! One action of a jail: its operations run as shell scripts.
//!
//! Owns Fail2ban's life cycle of a command action: `actionstart` once, or per
//! address family on its first ban when the action has family variants;
//! `actionban`/`actionunban` (many bans in one shell); on a failed ban,
//! `actioncheck`, then `actionrepair` (or stop and start) and one more try;
//! `actionflush` (or an unban per address) and `actionstop` at the end. In dry-run
//! mode it reports each script instead of running it.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferroban_config::action::ActionDefinition;

use crate::tags::{substitute_dynamic, substitute_static, Script};
use crate::{Action, BanTicket, Log, Severity};

/// Bans put into one shell script at most.
const BATCH: usize = 100;
/// Default limit for one script (`timeout` parameter of the action).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A command action and which families it has started.
pub struct CommandAction {
    def: ActionDefinition,
    /// Family ("" when the action has no variants) → started.
    started: HashMap<&'static str, bool>,
    dry_run: bool,
    timeout: Duration,
    hostname: String,
    /// `actionrepair` (or a restart) put the environment back after a failed ban
    /// (see [`Action::take_repaired`]).
    repaired: bool,
}

/// What `actioncheck` found, and what was done about it.
enum Sanity {
    Sane,
    Repaired,
    Broken,
}

fn truthy(v: Option<&str>) -> Option<bool> {
    v.map(|v| {
        matches!(
            v.trim().to_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

impl CommandAction {
    pub fn new(def: ActionDefinition, dry_run: bool) -> CommandAction {
        let timeout = def
            .get("timeout", None)
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        CommandAction {
            def,
            started: HashMap::new(),
            dry_run,
            timeout,
            hostname: hostname(),
            repaired: false,
        }
    }

    pub fn definition(&self) -> &ActionDefinition {
        &self.def
    }

    fn family_key(&self, ticket: &BanTicket) -> &'static str {
        if self.def.has_family_variants() {
            ticket.family()
        } else {
            ""
        }
    }

    fn on_demand(&self) -> bool {
        truthy(self.def.get("actionstart_on_demand", None))
            .unwrap_or(self.def.has_family_variants())
    }

    fn start_family(&mut self, family: &'static str, log: Log) -> bool {
        let ok = self.run_operation("actionstart", family, log);
        if ok {
            self.started.insert(family, false);
        }
        ok
    }

    /// Start the family of `ticket` if it is not yet, and count it as holding bans
    /// from now on (so that stop removes them). False if it could not start.
    pub fn prepare_for(&mut self, ticket: &BanTicket, log: Log) -> bool {
        let family = self.family_key(ticket);
        self.prepare_family(family, log)
    }

    fn prepare_family(&mut self, family: &'static str, log: Log) -> bool {
        if !self.started.contains_key(family) && !self.start_family(family, log) {
            return false;
        }
        self.started.insert(family, true);
        true
    }

    /// The static part of an operation's script, `None` when it is not defined.
    fn operation(&self, op: &str, family: &str, log: Log) -> Option<String> {
        let raw = self.def.get(op, (!family.is_empty()).then_some(family))?;
        if raw.trim().is_empty() {
            return None;
        }
        match substitute_static(&self.def, raw, (!family.is_empty()).then_some(family)) {
            Ok(s) => Some(s),
            Err(e) => {
                log(
                    Severity::Error,
                    format!("action {}: {op}: {e}", self.def.name),
                );
                None
            }
        }
    }

    fn run_operation(&mut self, op: &str, family: &'static str, log: Log) -> bool {
        match self.operation(op, family, log) {
            None => true,
            Some(text) => self
                .run(
                    &Script {
                        text,
                        env: Vec::new(),
                    },
                    op,
                    log,
                )
                .is_ok(),
        }
    }

    fn run(&self, script: &Script, what: &str, log: Log) -> Result<String, ()> {
        if self.dry_run {
            log(
                Severity::Notice,
                format!(
                    "dry-run: action {} {what} would run: {}",
                    self.def.name,
                    script.text.trim()
                ),
            );
            return Ok(String::new());
        }
        log(
            Severity::Debug,
            format!("action {} {what}: {}", self.def.name, script.text.trim()),
        );
        run_script(script, self.timeout).map_err(|e| {
            log(
                Severity::Error,
                format!("action {} {what} failed: {e}", self.def.name),
            );
        })
    }

    /// Run `op` for every ticket in one script; returns the tickets it failed for.
    fn batch<'t>(
        &self,
        op: &str,
        family: &'static str,
        tickets: &[&'t BanTicket],
        log: Log,
    ) -> Vec<&'t BanTicket> {
        let Some(cmd) = self.operation(op, family, log) else {
            return Vec::new();
        };
        if tickets.len() == 1 || self.dry_run {
            return tickets
                .iter()
                .copied()
                .filter(|t| self.run(&self.single(&cmd, t), op, log).is_err())
                .collect();
        }
        let mut script = Script::default();
        for (i, t) in tickets.iter().enumerate() {
            let body =
                substitute_dynamic(&cmd, t, &self.hostname, &format!("_{i}"), &mut script.env);
            // Each ban in its own group; a failure is marked and the rest still run.
            script.text.push_str(&format!(
                "{{\n{body}\n}} || echo 'ferroban-failed {i}' >&2\n"
            ));
        }
        script.text.push_str("echo 'ferroban-done' >&2\n");
        log(
            Severity::Debug,
            format!(
                "action {} {op} for {} addresses in one script",
                self.def.name,
                tickets.len()
            ),
        );
        match run_script_output(&script, self.timeout) {
            Ok((_, stderr)) if stderr.contains("ferroban-done") => tickets
                .iter()
                .enumerate()
                .filter(|(i, _)| stderr.contains(&format!("ferroban-failed {i}\n")))
                .map(|(_, t)| *t)
                .collect(),
            // The script ended early (an `exit` inside): run one by one.
            _ => tickets
                .iter()
                .copied()
                .filter(|t| self.run(&self.single(&cmd, t), op, log).is_err())
                .collect(),
        }
    }

    fn single(&self, cmd: &str, t: &BanTicket) -> Script {
        let mut env = Vec::new();
        let text = substitute_dynamic(cmd, t, &self.hostname, "", &mut env);
        Script { text, env }
    }

    /// After a failed ban: check, repair (or restart), and try once more.
    fn repair_and_retry(&mut self, family: &'static str, t: &BanTicket, log: Log) -> bool {
        match self.check_or_repair(family, log) {
            // The environment is sane: the ban itself is the problem.
            Sanity::Sane => self.retry_ban(family, t, log),
            Sanity::Repaired => self.retry_ban(family, t, log),
            Sanity::Broken => false,
        }
    }

    /// Run `actioncheck` of `family`; where it fails, `actionrepair` (or a restart
    /// of the family), which [`Action::take_repaired`] then reports.
    fn check_or_repair(&mut self, family: &'static str, log: Log) -> Sanity {
        if let Some(check) = self.operation("actioncheck", family, log) {
            let script = Script {
                text: check,
                env: vec![],
            };
            if self.run(&script, "actioncheck", log).is_ok() {
                return Sanity::Sane;
            }
            log(
                Severity::Error,
                format!(
                    "action {}: invariant check failed, trying to restore a sane environment",
                    self.def.name
                ),
            );
        }
        let repaired = match self.operation("actionrepair", family, log) {
            Some(text) => self
                .run(&Script { text, env: vec![] }, "actionrepair", log)
                .is_ok(),
            None => {
                self.run_operation("actionstop", family, log);
                self.start_family(family, log)
            }
        };
        self.repaired |= repaired;
        match repaired {
            true => Sanity::Repaired,
            false => Sanity::Broken,
        }
    }

    /// [`Action::verify`] for the stock firewall actions whose `actioncheck` only
    /// looks (iptables' `-C`, ipset's `list`): each started family checked, and
    /// repaired where its chain or set is gone.
    pub fn verify_started(&mut self, log: Log) {
        if self.def.is_dry_run() || self.dry_run {
            return;
        }
        let started: Vec<&'static str> = (self.started.iter())
            .filter(|(_, on)| **on)
            .map(|(family, _)| *family)
            .collect();
        for family in started {
            if self.operation("actioncheck", family, log).is_some() {
                self.check_or_repair(family, log);
            }
        }
    }

    fn retry_ban(&self, family: &'static str, t: &BanTicket, log: Log) -> bool {
        match self.operation("actionban", family, log) {
            Some(cmd) => self.run(&self.single(&cmd, t), "actionban", log).is_ok(),
            None => true,
        }
    }
}

impl Action for CommandAction {
    fn name(&self) -> &str {
        &self.def.name
    }

    /// Run `actionstart` (unless it waits for the first ban of a family).
    fn start(&mut self, log: Log) -> bool {
        if self.on_demand() {
            return true;
        }
        self.start_family("", log)
    }

    /// Ban `tickets`; returns the ones whose ban failed even after repair.
    fn ban(&mut self, tickets: &[BanTicket], log: Log) -> Vec<BanTicket> {
        if self.def.is_dry_run() {
            for t in tickets {
                let duration = if t.bantime < 0.0 {
                    "permanently".to_string()
                } else {
                    format!("for {} s", t.bantime as i64)
                };
                log(
                    Severity::Notice,
                    format!("dry-run: would ban {} {duration}", t.ip),
                );
            }
            return Vec::new();
        }
        let norestored = truthy(self.def.get("norestored", None)).unwrap_or(false);
        let tickets: Vec<&BanTicket> = tickets
            .iter()
            .filter(|t| !(norestored && t.restored))
            .collect();
        let mut failed = Vec::new();
        for family in ["", "inet4", "inet6"] {
            let group: Vec<&BanTicket> = tickets
                .iter()
                .copied()
                .filter(|t| self.family_key(t) == family)
                .collect();
            if group.is_empty() {
                continue;
            }
            if !self.prepare_family(family, log) {
                failed.extend(group.into_iter().cloned());
                continue;
            }
            for chunk in group.chunks(BATCH) {
                for t in self.batch("actionban", family, chunk, log) {
                    if !self.repair_and_retry(family, t, log) {
                        failed.push(t.clone());
                    }
                }
            }
            self.started.insert(family, true);
        }
        failed
    }

    /// Unban `tickets` (only in families that were started).
    fn unban(&mut self, tickets: &[BanTicket], log: Log) {
        if self.def.is_dry_run() {
            for t in tickets {
                log(Severity::Notice, format!("dry-run: would unban {}", t.ip));
            }
            return;
        }
        for family in ["", "inet4", "inet6"] {
            if self.started.get(family) != Some(&true) {
                continue;
            }
            let group: Vec<&BanTicket> = tickets
                .iter()
                .filter(|t| self.family_key(t) == family)
                .collect();
            for chunk in group.chunks(BATCH) {
                self.batch("actionunban", family, chunk, log);
            }
        }
    }

    /// Remove every ban (`actionflush`, or an unban per address) and run
    /// `actionstop` for every started family.
    fn take_repaired(&mut self) -> bool {
        std::mem::take(&mut self.repaired)
    }

    fn stop(&mut self, banned: &[BanTicket], log: Log) {
        if self.def.is_dry_run() {
            return;
        }
        let families: Vec<&'static str> = self.started.keys().copied().collect();
        for family in families {
            if self.started.get(family) == Some(&true) {
                if self.operation("actionflush", family, log).is_some() {
                    self.run_operation("actionflush", family, log);
                } else {
                    let group: Vec<&BanTicket> = banned
                        .iter()
                        .filter(|t| self.family_key(t) == family)
                        .collect();
                    for chunk in group.chunks(BATCH) {
                        self.batch("actionunban", family, chunk, log);
                    }
                }
            }
            self.run_operation("actionstop", family, log);
        }
        self.started.clear();
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Run `program` with `input` on its standard input: its output, or its standard
/// error as the error message.
pub(crate) fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Run a script with `/bin/sh`; its standard error is the error message.
pub fn run_script(script: &Script, timeout: Duration) -> Result<String, String> {
    let (status_ok, stderr) = run_script_output(script, timeout)?;
    if status_ok {
        Ok(stderr)
    } else {
        Err(if stderr.trim().is_empty() {
            "exited with an error".into()
        } else {
            stderr.trim().to_string()
        })
    }
}

/// Run a script; `(exit status was 0, standard error)`.
fn run_script_output(script: &Script, timeout: Duration) -> Result<(bool, String), String> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script.text)
        .envs(script.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(1 << 20).read_to_string(&mut s);
        }
        s
    });
    let start = Instant::now();
    let mut pause = Duration::from_micros(50);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs_f64()));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let err = reader.join().unwrap_or_default();
    Ok((status.success(), err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn ticket(ip: &str, matches: &[&str]) -> BanTicket {
        BanTicket {
            matches: matches.iter().map(|s| (*s).into()).collect(),
            ..crate::test_ticket(ip)
        }
    }

    fn def(dir: &std::path::Path, extra: &[(&str, &str)]) -> ActionDefinition {
        let out = dir.join("out");
        let mut options: Vec<(String, String)> = vec![
            (
                "actionstart".into(),
                format!("echo start >> {}", out.display()),
            ),
            (
                "actionban".into(),
                format!("echo ban <ip> <matches> >> {}", out.display()),
            ),
            (
                "actionunban".into(),
                format!("echo unban <ip> >> {}", out.display()),
            ),
            (
                "actionstop".into(),
                format!("echo stop >> {}", out.display()),
            ),
        ];
        for (k, v) in extra {
            options.retain(|(key, _)| key != k);
            options.push((k.to_string(), v.to_string()));
        }
        ActionDefinition {
            name: "t".into(),
            file: "t".into(),
            files: vec![],
            options,
            init_options: vec![],
        }
    }

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ferroban-cmd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn life_cycle_and_batches() {
        let d = tempdir("life");
        let logs = RefCell::new(Vec::new());
        let log = |_: Severity, m: String| logs.borrow_mut().push(m);
        let mut a = CommandAction::new(def(&d, &[]), false);
        assert!(a.start(&log));
        let many: Vec<BanTicket> = (1..=5)
            .map(|i| ticket(&format!("192.0.2.{i}"), &["m"]))
            .collect();
        assert!(a.ban(&many, &log).is_empty());
        a.unban(&many[..1], &log);
        a.stop(&many[1..], &log);
        let out = std::fs::read_to_string(d.join("out")).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "start", "{out}");
        assert_eq!(
            lines[1..6],
            [
                "ban 192.0.2.1 m",
                "ban 192.0.2.2 m",
                "ban 192.0.2.3 m",
                "ban 192.0.2.4 m",
                "ban 192.0.2.5 m"
            ]
        );
        assert_eq!(lines[6], "unban 192.0.2.1");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("unban")).count(),
            5,
            "stop without actionflush unbans each"
        );
        assert_eq!(*lines.last().unwrap(), "stop");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn hostile_matches_run_nothing() {
        let d = tempdir("hostile");
        let pwned = d.join("pwned");
        let p = pwned.display().to_string();
        let hostile = [
            format!("'; touch {p}; echo '"),
            format!("\"; touch {p}; echo \""),
            format!("$(touch {p})"),
            format!("`touch {p}`"),
            format!("x\ntouch {p}"),
            format!("a; touch {p}"),
            format!("a | touch {p}"),
        ];
        let log = |_: Severity, _: String| {};
        let mut a = CommandAction::new(def(&d, &[]), false);
        // in a batch and one by one
        let batch: Vec<BanTicket> = hostile
            .iter()
            .enumerate()
            .map(|(i, h)| ticket(&format!("192.0.2.{}", i + 1), &[h]))
            .collect();
        assert!(a.ban(&batch, &log).is_empty());
        for (i, h) in hostile.iter().enumerate() {
            assert!(a
                .ban(&[ticket(&format!("198.51.100.{}", i + 1), &[h])], &log)
                .is_empty());
        }
        assert!(!pwned.exists(), "a log value ran as a command");
        let out = std::fs::read_to_string(d.join("out")).unwrap();
        assert!(
            out.contains(&format!("$(touch {p})")),
            "values arrive verbatim: {out}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn failed_ban_is_repaired_and_retried() {
        let d = tempdir("repair");
        let flag = d.join("ok");
        let f = flag.display().to_string();
        let out = d.join("out").display().to_string();
        let logs = RefCell::new(Vec::new());
        let log = |_: Severity, m: String| logs.borrow_mut().push(m);
        let mut a = CommandAction::new(
            def(
                &d,
                &[
                    (
                        "actionban",
                        &format!("test -e {f} && echo ban <ip> >> {out}"),
                    ),
                    ("actioncheck", &format!("test -e {f}")),
                    ("actionrepair", &format!("touch {f}")),
                ],
            ),
            false,
        );
        assert!(a.ban(&[ticket("192.0.2.1", &[])], &log).is_empty());
        assert!(std::fs::read_to_string(d.join("out"))
            .unwrap()
            .contains("ban 192.0.2.1"));
        assert!(logs
            .borrow()
            .iter()
            .any(|m| m.contains("invariant check failed")));
        let mut broken = CommandAction::new(
            def(&d, &[("actionban", "false"), ("actioncheck", "false")]),
            false,
        );
        assert_eq!(
            broken.ban(&[ticket("192.0.2.2", &[])], &log).len(),
            1,
            "reported as failed, not lost"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn family_variants_start_on_demand() {
        let d = tempdir("family");
        let out = d.join("out").display().to_string();
        let mut def = def(&d, &[("set", "v4"), ("set?family=inet6", "v6")]);
        def.options[0].1 = format!("echo start <set> >> {out}");
        def.options[1].1 = format!("echo ban <set> <ip> >> {out}");
        let log = |_: Severity, _: String| {};
        let mut a = CommandAction::new(def, false);
        assert!(a.start(&log));
        assert!(!d.join("out").exists(), "nothing started before a ban");
        a.ban(
            &[ticket("2001:db8::1", &[]), ticket("192.0.2.1", &[])],
            &log,
        );
        let text = std::fs::read_to_string(d.join("out")).unwrap();
        assert_eq!(
            text,
            "start v4\nban v4 192.0.2.1\nstart v6\nban v6 2001:db8::1\n"
        );
        std::fs::remove_dir_all(&d).ok();
    }
}
