//! A jail's actions on their own thread.
//!
//! Owns the order of work for one jail's actions and what the firewall was told:
//! bans queued while a slow action runs are taken together in the next batch, a ban
//! an action failed is retried with growing pauses (and reported each time) until
//! it succeeds or the address is unbanned, and at stop every address the server
//! names as still banned is removed. It keeps no list of bans of its own: the
//! server's ban list is the one record (a second copy cost 150–250 bytes a ban), so
//! where an action had to rebuild what the firewall lost (a flushed ruleset), the
//! worker asks the server for every ban in force and makes them again with that
//! action. The server never waits for it except at stop.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferroban_config::action::ActionDefinition;

use crate::command::CommandAction;
use crate::iptables::{IptablesAction, BATCHED_STOCK};
use crate::nftables::{Backend, NftAction};
use crate::{Action, BanTicket};
use ferroban_config::action::NATIVE_FIREWALLS;

/// How serious a report is (Fail2ban's log levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

/// Something an action has to say.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub severity: Severity,
    pub jail: String,
    pub message: String,
}

/// Where reports go.
pub type ReportSink = Arc<dyn Fn(Report) + Send + Sync>;

/// Where a jail's worker asks for every ban in force, to make them again with its
/// action number `n` (whose firewall state was lost and rebuilt): the server answers
/// with [`ActionRunner::restore`]. `false` when the request could not be queued
/// now; it is asked again a second later. It must not block: the server may be
/// waiting for the worker.
pub type RestoreSink = Arc<dyn Fn(usize) -> bool + Send + Sync>;

/// How long a restore request that could not be queued waits to be asked again.
const RESTORE_ASK_PAUSE: Duration = Duration::from_secs(1);
/// How often the actions look whether the firewall still holds what they set up
/// (see [`Action::verify`]).
const VERIFY_EVERY: Duration = Duration::from_secs(30);

/// Longest pause between retries of a failed ban.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(300);
/// Bans and unbans in one round above which the freed memory is handed back.
const LARGE_BATCH: usize = 1000;

enum Job {
    Ban(Vec<BanTicket>),
    Unban(Vec<BanTicket>),
    /// Every ban in force, for the action of that number to make again.
    Restore(usize, Vec<BanTicket>),
    /// Look now whether the firewall still holds what the actions set up.
    Verify,
    /// Stop, removing the bans still in force (the server's list of them).
    Stop(Sender<()>, Vec<BanTicket>),
}

impl Job {
    /// How many addresses the job concerns.
    fn len(&self) -> usize {
        match self {
            Job::Ban(t) | Job::Unban(t) | Job::Restore(_, t) => t.len(),
            Job::Stop(_, banned) => banned.len(),
            Job::Verify => 0,
        }
    }
}

/// The worker thread of one jail's actions.
pub struct ActionRunner {
    jobs: Sender<Job>,
    thread: Option<JoinHandle<()>>,
    definitions: Vec<ActionDefinition>,
}

/// An action whose lost firewall state was rebuilt, waiting for the bans in force.
#[derive(Default)]
struct Restoring {
    /// The server was asked for them.
    asked: bool,
    /// Addresses the action banned since the rebuild, which need not be made again
    /// (a command action's second `actionban` would add a second rule, which one
    /// `actionunban` would not remove).
    banned_since: HashSet<IpAddr>,
}

struct Retry {
    due: Instant,
    pause: Duration,
    action: usize,
    ticket: BanTicket,
}

impl ActionRunner {
    /// Start the actions of `jail` (their `actionstart` runs on the new thread).
    pub fn start(
        jail: &str,
        definitions: Vec<ActionDefinition>,
        dry_run: bool,
        report: ReportSink,
        restore: RestoreSink,
    ) -> ActionRunner {
        let (jobs, rx) = channel();
        let defs = definitions.clone();
        let jail = jail.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("ferroban-actions-{jail}"))
            .spawn(move || {
                let actions = defs.into_iter().map(|d| build_action(d, dry_run)).collect();
                Worker {
                    jail,
                    actions,
                    retries: Vec::new(),
                    report,
                    restore,
                    restoring: HashMap::new(),
                    next_verify: Instant::now() + VERIFY_EVERY,
                }
                .run(rx)
            })
            .ok();
        ActionRunner {
            jobs,
            thread,
            definitions,
        }
    }

    /// The definitions this runner was started with (to tell whether a reload
    /// changed them).
    pub fn definitions(&self) -> &[ActionDefinition] {
        &self.definitions
    }

    pub fn ban(&self, tickets: Vec<BanTicket>) {
        if !tickets.is_empty() {
            let _ = self.jobs.send(Job::Ban(tickets));
        }
    }

    pub fn unban(&self, tickets: Vec<BanTicket>) {
        if !tickets.is_empty() {
            let _ = self.jobs.send(Job::Unban(tickets));
        }
    }

    /// Have the actions look now whether the firewall still holds what they set up
    /// (a reload after `systemctl reload nftables`), as they do every 30 s; what
    /// was lost is rebuilt and gets the bans in force back.
    pub fn verify(&self) {
        let _ = self.jobs.send(Job::Verify);
    }

    /// Every ban in force (`tickets`), for action number `action` to make again: the
    /// answer to its [`RestoreSink`] request. Ignored unless that action asked.
    pub fn restore(&self, action: usize, tickets: Vec<BanTicket>) {
        let _ = self.jobs.send(Job::Restore(action, tickets));
    }

    /// Finish queued work, remove the bans in `banned` (every ban still in force:
    /// by `actionflush` where the action has one, else one `actionunban` each), run
    /// `actionstop`, and wait.
    pub fn stop(mut self, banned: Vec<BanTicket>) {
        self.shutdown(banned);
    }

    fn shutdown(&mut self, banned: Vec<BanTicket>) {
        let (tx, rx) = channel();
        if self.jobs.send(Job::Stop(tx, banned)).is_ok() {
            let _ = rx.recv();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A runner dropped without [`ActionRunner::stop`] still runs `actionflush` and
/// `actionstop`; it has no list of bans to unban one by one.
impl Drop for ActionRunner {
    fn drop(&mut self) {
        self.shutdown(Vec::new());
    }
}

/// The programs Fail2ban's stock firewall actions run, by the start of their
/// file's name, each with the Debian package that has it (the first prefix that
/// fits wins).
const STOCK_FIREWALL_TOOLS: [(&str, &[(&str, &str)]); 8] = [
    (
        "iptables-ipset",
        &[("iptables", "iptables"), ("ipset", "ipset")],
    ),
    // ferroban's own ipset action
    ("ipset", &[("iptables", "iptables"), ("ipset", "ipset")]),
    ("iptables", &[("iptables", "iptables")]),
    ("ufw", &[("ufw", "ufw")]),
    ("firewallcmd", &[("firewall-cmd", "firewalld")]),
    (
        "shorewall-ipset",
        &[("shorewall", "shorewall"), ("ipset", "ipset")],
    ),
    ("shorewall", &[("shorewall", "shorewall")]),
    ("route", &[("ip", "iproute2")]),
];

/// The program the firewall action `def` cannot work without, with the Debian
/// package that has it, when it is missing here: `nft` for the native nftables
/// action (unless libnftables loads), and for Fail2ban's stock ones the program
/// their commands run (`iptables`, `ipset`, `ufw`, `firewall-cmd`, …). `None` for
/// every other action (their commands are their own).
pub fn missing_firewall_tool(def: &ActionDefinition) -> Option<(&'static str, &'static str)> {
    let file = def.file.as_str();
    let needs: &[(&str, &str)] = if NATIVE_FIREWALLS.contains(&file) {
        if crate::nftables::Library::open().is_some() {
            return None;
        }
        &[("nft", "nftables")]
    } else {
        STOCK_FIREWALL_TOOLS
            .iter()
            .find(|(prefix, _)| file.starts_with(prefix))?
            .1
    };
    needs.iter().copied().find(|(program, _)| !on_path(program))
}

/// What nft says against the native nftables action `def`'s table, chain, sets
/// and rules, checked without applying them (`nft --check`). A value nft refuses
/// (`blocktype`, a protocol, the chain's hook) would leave the jail blocking
/// nothing, its bans failing, until it is mended. `None` when nft accepts them, for
/// every other action, and where nft cannot be asked: only root may, and without
/// `nft` [`missing_firewall_tool`] says so.
pub fn refused_firewall_rule(def: &ActionDefinition) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !NATIVE_FIREWALLS.contains(&def.file.as_str()) || !on_path("nft") {
        return None;
    }
    crate::nftables::refused_layout(def)
}

/// Whether `program` is an executable file in a directory of `PATH` (or of the
/// sbin directories root's PATH has, which a user's may not).
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(std::path::PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join(program))
        .any(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The implementation for a definition: the native, batched one for the firewall
/// kinds ferroban knows, the action file's commands for everything else.
fn build_action(def: ActionDefinition, dry_run: bool) -> Box<dyn Action> {
    if NATIVE_FIREWALLS.contains(&def.file.as_str()) {
        Box::new(NftAction::new(&def, Backend::detect(dry_run)))
    } else if BATCHED_STOCK.contains(&def.file.as_str()) && !def.files.is_empty() {
        match IptablesAction::new(def.clone(), dry_run) {
            Some(batched) => Box::new(batched),
            None => Box::new(CommandAction::new(def, dry_run)),
        }
    } else {
        Box::new(CommandAction::new(def, dry_run))
    }
}

struct Worker {
    jail: String,
    actions: Vec<Box<dyn Action>>,
    retries: Vec<Retry>,
    report: ReportSink,
    restore: RestoreSink,
    /// By action number: those waiting for the bans in force.
    restoring: HashMap<usize, Restoring>,
    /// When the actions next look whether their firewall state is still there.
    next_verify: Instant,
}

impl Worker {
    fn run(mut self, rx: Receiver<Job>) {
        let report = self.report.clone();
        let jail = self.jail.clone();
        let log = move |severity: Severity, message: String| {
            report(Report {
                severity,
                jail: jail.clone(),
                message,
            })
        };
        for a in &mut self.actions {
            if !a.start(&log) {
                log(
                    Severity::Error,
                    format!(
                        "action {} did not start; its bans will be retried",
                        a.name()
                    ),
                );
            }
        }
        loop {
            let wait = self
                .retries
                .iter()
                .map(|r| r.due.saturating_duration_since(Instant::now()))
                .min()
                .unwrap_or(Duration::from_secs(3600));
            let wait = match self.restoring.values().any(|r| !r.asked) {
                true => wait.min(RESTORE_ASK_PAUSE),
                false => wait,
            };
            let wait = wait.min(self.next_verify.saturating_duration_since(Instant::now()));
            let first = match rx.recv_timeout(wait) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Job::Stop(channel().0, Vec::new())),
            };
            // Take everything queued: consecutive bans become one batch.
            let mut jobs: Vec<Job> = first.into_iter().collect();
            while let Ok(j) = rx.try_recv() {
                jobs.push(j);
            }
            let mut bans: Vec<BanTicket> = Vec::new();
            let large = jobs.iter().map(Job::len).sum::<usize>() > LARGE_BATCH;
            for job in jobs {
                match job {
                    Job::Ban(t) => bans.extend(t),
                    Job::Unban(t) => {
                        self.ban_all(std::mem::take(&mut bans), &log);
                        self.unban_all(t, &log);
                    }
                    Job::Verify => self.next_verify = Instant::now(),
                    Job::Restore(action, t) => {
                        self.ban_all(std::mem::take(&mut bans), &log);
                        self.restore_all(action, t, &log);
                    }
                    Job::Stop(done, banned) => {
                        self.ban_all(std::mem::take(&mut bans), &log);
                        for a in &mut self.actions {
                            a.stop(&banned, &log);
                        }
                        let _ = done.send(());
                        return;
                    }
                }
            }
            self.ban_all(bans, &log);
            self.run_retries(&log);
            self.verify_due(&log);
            self.ask_restores();
            if large {
                // The tickets and scripts of a large batch were freed on this
                // thread, after the server thread last gave memory back.
                // SAFETY: malloc_trim only returns unused heap pages.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        }
    }

    fn ban_all(&mut self, tickets: Vec<BanTicket>, log: &dyn Fn(Severity, String)) {
        if tickets.is_empty() {
            return;
        }
        for action in 0..self.actions.len() {
            let failed = self.ban_by(action, &tickets, log);
            self.retry_soon(action, failed, log);
        }
    }

    /// Ban `tickets` with action number `action`; the tickets that failed. Where the
    /// action had to rebuild its firewall state to do it, the bans made before are
    /// gone: the server is to be asked for them (see [`Worker::ask_restores`]).
    fn ban_by(
        &mut self,
        action: usize,
        tickets: &[BanTicket],
        log: &dyn Fn(Severity, String),
    ) -> Vec<BanTicket> {
        let Some(a) = self.actions.get_mut(action) else {
            return Vec::new();
        };
        let failed = a.ban(tickets, log);
        if a.take_repaired() {
            self.note_repaired(action, log);
        }
        if let Some(r) = self.restoring.get_mut(&action) {
            let done = tickets
                .iter()
                .filter(|t| failed.iter().all(|f| f.ip != t.ip));
            r.banned_since.extend(done.map(|t| t.ip));
        }
        failed
    }

    /// Every [`VERIFY_EVERY`], have each action look whether the firewall still
    /// holds what it set up; one that had to rebuild it gets the bans in force back.
    fn verify_due(&mut self, log: &dyn Fn(Severity, String)) {
        if Instant::now() < self.next_verify {
            return;
        }
        self.next_verify = Instant::now() + VERIFY_EVERY;
        for action in 0..self.actions.len() {
            let Some(a) = self.actions.get_mut(action) else {
                continue;
            };
            a.verify(log);
            if a.take_repaired() {
                self.note_repaired(action, log);
            }
        }
    }

    /// Action number `action` rebuilt the firewall state it had lost: the server is
    /// to be asked for the bans in force (see [`Worker::ask_restores`]).
    fn note_repaired(&mut self, action: usize, log: &dyn Fn(Severity, String)) {
        let Some(a) = self.actions.get(action) else {
            return;
        };
        log(
            Severity::Warning,
            format!(
                "action {}: the firewall had lost its rules and bans; they are rebuilt, \
                 and every ban of the jail is made again",
                a.name()
            ),
        );
        self.restoring.entry(action).or_default();
    }

    /// Retry the bans `failed` by action number `action` in a second.
    fn retry_soon(
        &mut self,
        action: usize,
        failed: Vec<BanTicket>,
        log: &dyn Fn(Severity, String),
    ) {
        let Some(a) = self.actions.get(action) else {
            return;
        };
        for t in failed {
            log(
                Severity::Error,
                format!(
                    "ban of {} by action {} failed; retrying in 1 s",
                    t.ip,
                    a.name()
                ),
            );
            self.retries.push(Retry {
                due: Instant::now() + Duration::from_secs(1),
                pause: Duration::from_secs(1),
                action,
                ticket: t,
            });
        }
    }

    /// Ask the server for the bans in force, for each action that rebuilt its
    /// firewall state and has not asked yet.
    fn ask_restores(&mut self) {
        for (action, r) in &mut self.restoring {
            if !r.asked {
                r.asked = (self.restore)(*action);
            }
        }
    }

    /// Make the bans in force (`tickets`) again with action number `action`, but
    /// those it made since its rebuild; ignored unless it asked for them.
    fn restore_all(
        &mut self,
        action: usize,
        tickets: Vec<BanTicket>,
        log: &dyn Fn(Severity, String),
    ) {
        let Some(r) = self.restoring.remove(&action) else {
            return;
        };
        let Some(a) = self.actions.get_mut(action) else {
            return;
        };
        let missing: Vec<BanTicket> = tickets
            .into_iter()
            .filter(|t| !r.banned_since.contains(&t.ip))
            .collect();
        if missing.is_empty() {
            return;
        }
        let failed = a.ban(&missing, log);
        // A rebuild while putting them back asks for no second round: each failed
        // ban is retried on its own.
        a.take_repaired();
        log(
            Severity::Notice,
            format!(
                "action {}: {} of {} bans in force made again",
                a.name(),
                missing.len() - failed.len(),
                missing.len()
            ),
        );
        self.retry_soon(action, failed, log);
    }

    fn unban_all(&mut self, tickets: Vec<BanTicket>, log: &dyn Fn(Severity, String)) {
        self.retries
            .retain(|r| !tickets.iter().any(|t| t.ip == r.ticket.ip));
        for a in &mut self.actions {
            a.unban(&tickets, log);
        }
    }

    fn run_retries(&mut self, log: &dyn Fn(Severity, String)) {
        let now = Instant::now();
        let (due, later): (Vec<Retry>, Vec<Retry>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|r| r.due <= now);
        self.retries = later;
        // The due retries of one action go in one batch, as first bans do.
        let mut by_action: HashMap<usize, Vec<Retry>> = HashMap::new();
        for r in due {
            by_action.entry(r.action).or_default().push(r);
        }
        for (index, retries) in by_action {
            let tickets: Vec<BanTicket> = retries.iter().map(|r| r.ticket.clone()).collect();
            let failed = self.ban_by(index, &tickets, log);
            let Some(a) = self.actions.get(index) else {
                continue;
            };
            let (again, done): (Vec<Retry>, Vec<Retry>) = retries
                .into_iter()
                .partition(|r| failed.iter().any(|t| t.ip == r.ticket.ip));
            if !done.is_empty() {
                log(
                    Severity::Notice,
                    format!(
                        "{} ban(s) by action {} succeeded on retry",
                        done.len(),
                        a.name()
                    ),
                );
            }
            for mut r in again {
                r.pause = (r.pause * 2).min(MAX_RETRY_PAUSE);
                r.due = Instant::now() + r.pause;
                log(
                    Severity::Error,
                    format!(
                        "ban of {} by action {} failed again; retrying in {} s",
                        r.ticket.ip,
                        a.name(),
                        r.pause.as_secs()
                    ),
                );
                self.retries.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_firewall_program_is_looked_for_where_root_has_it() {
        assert!(on_path("sh"));
        assert!(!on_path("ferroban-no-such-program"));
        let def = |file: &str| ActionDefinition {
            file: file.to_string(),
            ..Default::default()
        };
        // every other action's commands are its own
        assert_eq!(missing_firewall_tool(&def("sendmail-whois")), None);
        let iptables_here = on_path("iptables");
        assert_eq!(
            missing_firewall_tool(&def("iptables-multiport")).is_none(),
            iptables_here
        );
        // Fail2ban's other stock firewalls, by the program their commands run
        for (file, program, package) in [
            ("ufw", "ufw", "ufw"),
            ("firewallcmd-rich-rules", "firewall-cmd", "firewalld"),
            ("shorewall", "shorewall", "shorewall"),
        ] {
            let missing = missing_firewall_tool(&def(file));
            match on_path(program) {
                true => assert_eq!(missing, None, "{file}"),
                false => assert_eq!(missing, Some((program, package)), "{file}"),
            }
        }
    }

    #[test]
    fn failing_action_is_retried_and_slow_one_does_not_block_the_caller() {
        let d = std::env::temp_dir().join(format!("ferroban-runner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let flag = d.join("ready").display().to_string();
        // The action cannot finish before `go` exists, which only the test (or, if
        // the runner wrongly waited for the action, a watchdog after 30 s) creates.
        let go_path = d.join("go");
        let go = go_path.display().to_string();
        let watchdog = go_path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(30));
            let _ = std::fs::write(watchdog, "");
        });
        let out = d.join("out").display().to_string();
        let def = ActionDefinition {
            name: "flaky".into(),
            file: "flaky".into(),
            files: vec![],
            options: vec![
                (
                    "actionban".into(),
                    format!("until [ -e {go} ]; do sleep 0.01; done; test -e {flag} && echo ban <ip> >> {out}"),
                ),
                ("actionunban".into(), format!("echo unban <ip> >> {out}")),
            ],
            init_options: vec![],
        };
        let reports: Arc<Mutex<Vec<Report>>> = Arc::default();
        let r2 = reports.clone();
        let runner = ActionRunner::start(
            "web",
            vec![def],
            false,
            Arc::new(move |r| r2.lock().unwrap().push(r)),
            Arc::new(|_| true),
        );
        runner.ban(vec![crate::test_ticket("192.0.2.1")]);
        assert!(
            !go_path.exists(),
            "queuing a ban does not wait for the action"
        );
        std::fs::write(&go_path, "").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reports
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.message.contains("retrying"))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::write(&flag, "").unwrap();
        while !d.join("out").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        runner.stop(vec![crate::test_ticket("192.0.2.1")]);
        let text = std::fs::read_to_string(d.join("out")).unwrap_or_default();
        assert_eq!(
            text, "ban 192.0.2.1\nunban 192.0.2.1\n",
            "retried ban made, then removed at stop"
        );
        assert!(reports
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.severity == Severity::Error));
        std::fs::remove_dir_all(&d).ok();
    }

    /// A firewall that lost its state (here a file the action keeps its bans in,
    /// deleted as a flushed ruleset would be) is rebuilt at the next ban; the worker
    /// then asks for every ban in force and makes each again once: not the one that
    /// found the loss, whose second `actionban` would be a second rule.
    #[test]
    fn bans_lost_with_the_firewall_state_are_made_again_after_its_repair() {
        let d = std::env::temp_dir().join(format!("ferroban-restore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let fw = d.join("fw");
        let f = fw.display().to_string();
        let (start, stop) = (format!("touch {f}"), format!("rm -f {f}"));
        let (check, ban) = (
            format!("test -e {f}"),
            format!("test -e {f} && echo <ip> >> {f}"),
        );
        let def = crate::test_definition(
            "filefw",
            &[
                ("actionstart", &start),
                ("actionstop", &stop),
                ("actioncheck", &check),
                ("actionban", &ban),
                ("actionunban", "true"),
            ],
        );
        let asked: Arc<Mutex<Vec<usize>>> = Arc::default();
        let asked_by_worker = asked.clone();
        let runner = ActionRunner::start(
            "web",
            vec![def],
            false,
            Arc::new(|_| {}),
            // the server's queue full at the first request: asked again a second later
            Arc::new(move |action| {
                let mut asked = asked_by_worker.lock().unwrap();
                asked.push(action);
                asked.len() > 1
            }),
        );
        let read = || std::fs::read_to_string(&fw).unwrap_or_default();
        let wait = |what: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !what() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            what()
        };
        let (a, b, c) = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .map(crate::test_ticket)
            .into();
        runner.ban(vec![a.clone(), b.clone()]);
        assert!(wait(&|| read().lines().count() == 2), "{}", read());
        assert!(asked.lock().unwrap().is_empty(), "nothing was lost yet");
        std::fs::remove_file(&fw).unwrap();
        runner.ban(vec![c.clone()]);
        assert!(
            wait(&|| asked.lock().unwrap().len() == 2),
            "not asked again"
        );
        assert_eq!(*asked.lock().unwrap(), [0, 0]);
        assert_eq!(read(), "192.0.2.3\n", "the repair kept only the new ban");
        // the server's answer: every ban in force, the new one among them
        runner.restore(0, vec![a, b, c]);
        assert!(wait(&|| read().lines().count() == 3), "{}", read());
        let mut lines: Vec<String> = read().lines().map(str::to_string).collect();
        lines.sort();
        assert_eq!(lines, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        // an answer nobody asked for (a second, stale one) changes nothing
        runner.restore(0, vec![crate::test_ticket("192.0.2.9")]);
        runner.ban(vec![crate::test_ticket("192.0.2.4")]);
        assert!(wait(&|| read().contains("192.0.2.4")), "{}", read());
        assert!(!read().contains("192.0.2.9"), "{}", read());
        runner.stop(Vec::new());
        std::fs::remove_dir_all(&d).ok();
    }
}
