//! `ferroban audit`: the hardening guide's checks of this host, as one command.
//!
//! Owns the list of checks, running each with a deadline, and the two outputs (a
//! table, or one JSON object per check) with the exit code. Each check lives in
//! the submodule of what it looks at and returns a [`Finding`]; none of them
//! changes anything on the host, and none connects anywhere but this host. A check
//! that cannot look (a tool missing, no permission, too slow) says SKIP with the
//! reason: it never passes what it did not see.

/// Where the hardening guide the fixes point to is: installed by the package and
/// `make install`, or in the source for a build that was not installed.
macro_rules! hardening_guide {
    () => {
        "/usr/share/doc/ferroban/vps-hardening.md (in the source: \
         examples/vps-hardening/README.md)"
    };
}

mod firewall;
mod jails;
mod ports;
mod session;
mod smtp;
mod sshd;
mod web;

use std::io::Read;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ferroban_config::jail::{load_jails_as_written, JailConfig};
use serde_json::json;

/// How long one check may take before it is reported as skipped.
const CHECK_DEADLINE: Duration = Duration::from_secs(20);
/// How long one program a check runs (nft, sshd -T, postconf, …) may take.
const PROGRAM_DEADLINE: Duration = Duration::from_secs(10);

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Skip => "SKIP",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// What one check found: its status, what was seen, and the fix in one line
/// (empty when there is nothing to fix).
#[derive(Debug, Clone)]
pub struct Finding {
    pub status: Status,
    pub seen: String,
    pub fix: String,
}

impl Finding {
    fn pass(seen: impl Into<String>) -> Finding {
        Finding {
            status: Status::Pass,
            seen: seen.into(),
            fix: String::new(),
        }
    }

    fn skip(why: impl Into<String>) -> Finding {
        Finding {
            status: Status::Skip,
            seen: why.into(),
            fix: String::new(),
        }
    }

    fn warn(seen: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            status: Status::Warn,
            seen: seen.into(),
            fix: fix.into(),
        }
    }

    fn fail(seen: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            status: Status::Fail,
            seen: seen.into(),
            fix: fix.into(),
        }
    }
}

/// What the checks may look at, from the command line.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The enabled jails, or why they could not be read.
    jails: std::result::Result<Vec<JailConfig>, String>,
    /// The configuration directory read.
    confdir: PathBuf,
    /// `--url`: the sites to probe for secret files.
    urls: Vec<String>,
    /// `--sshd-config`: sshd's configuration file.
    sshd_config: PathBuf,
    /// `--smtp`: where the SMTP server listens.
    smtp: String,
    /// What `sshd -T` said, asked once per audit: three checks read it, and
    /// each run of sshd reads its whole configuration and host keys again.
    sshd_t: Arc<OnceLock<sshd::SshdT>>,
}

/// The check ids, in the order they run and print. These names are fixed.
const CHECKS: [&str; 9] = [
    "firewall-default-policy",
    "listening-without-jail",
    "web-secret-files",
    "smtp-auth-port-25",
    "sshd-password-authentication",
    "sshd-root-login",
    "jail-log-missing",
    "jail-never-matched",
    "admin-not-ignored",
];

fn run_check(id: &str, ctx: &Scope) -> Finding {
    match id {
        "firewall-default-policy" => firewall::default_policy(),
        "listening-without-jail" => ports::listening_without_jail(ctx),
        "web-secret-files" => web::secret_files(ctx),
        "smtp-auth-port-25" => smtp::auth_on_port_25(ctx),
        "sshd-password-authentication" => sshd::password_authentication(ctx),
        "sshd-root-login" => sshd::root_login(ctx),
        "jail-log-missing" => jails::log_missing(ctx),
        "jail-never-matched" => jails::never_matched(ctx),
        "admin-not-ignored" => jails::admin_not_ignored(ctx),
        _ => Finding::skip(format!("unknown check {id}")),
    }
}

/// Run the check `id` on a thread of its own, giving up after [`CHECK_DEADLINE`].
fn run_with_deadline(id: &'static str, ctx: &Scope) -> Finding {
    let (tx, rx) = mpsc::channel();
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("audit-{id}"))
        .spawn(move || {
            let _ = tx.send(run_check(id, &ctx));
        });
    if let Err(e) = spawned {
        return Finding::skip(format!("could not start the check: {e}"));
    }
    rx.recv_timeout(CHECK_DEADLINE).unwrap_or_else(|_| {
        Finding::skip(format!(
            "did not finish within {} s",
            CHECK_DEADLINE.as_secs()
        ))
    })
}

/// Why a program gave no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramError {
    /// Not found in PATH: the program is not installed.
    NotInstalled(&'static str),
    /// It could not be started or waited for: why, naming the program.
    Failed(String),
    /// Still running after [`PROGRAM_DEADLINE`]; it was killed.
    TimedOut(&'static str),
}

impl std::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgramError::NotInstalled(program) => write!(f, "{program} is not installed"),
            ProgramError::Failed(why) => f.write_str(why),
            ProgramError::TimedOut(program) => write!(
                f,
                "{program} did not finish within {} s",
                PROGRAM_DEADLINE.as_secs()
            ),
        }
    }
}

/// The checks report why a program did not run as text, in what they saw.
impl From<ProgramError> for String {
    fn from(e: ProgramError) -> String {
        e.to_string()
    }
}

/// The output of `program args`, or why there is none: not installed, failed to
/// start, or still running after [`PROGRAM_DEADLINE`] (then it is killed).
/// Whether a file named `program` is in one of PATH's directories.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn run_program(
    program: &'static str,
    args: &[&str],
) -> std::result::Result<ProgramOutput, ProgramError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ProgramError::NotInstalled(program),
            // A directory of PATH this user may not search (root's, for one)
            // makes the search fail with EACCES where the program is nowhere.
            std::io::ErrorKind::PermissionDenied if !on_path(program) => {
                ProgramError::NotInstalled(program)
            }
            _ => ProgramError::Failed(format!("cannot run {program}: {e}")),
        })?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // Read both pipes on threads so that a chatty program cannot block on a full
    // pipe while we wait for it.
    let out = std::thread::spawn(move || read_all(stdout.as_mut()));
    let err = std::thread::spawn(move || read_all(stderr.as_mut()));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < PROGRAM_DEADLINE => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProgramError::TimedOut(program));
            }
            Err(e) => {
                return Err(ProgramError::Failed(format!(
                    "cannot wait for {program}: {e}"
                )))
            }
        }
    };
    Ok(ProgramOutput {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn read_all(pipe: Option<&mut impl Read>) -> String {
    let mut bytes = Vec::new();
    if let Some(p) = pipe {
        let _ = p.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What a program printed, and whether it succeeded.
struct ProgramOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Command-line options of `ferroban audit`.
struct Options {
    json: bool,
    only: Vec<String>,
    context: Scope,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut json = false;
    let mut only = Vec::new();
    let mut urls = Vec::new();
    let mut confdir = None;
    let mut sshd_config = PathBuf::from("/etc/ssh/sshd_config");
    let mut smtp = "127.0.0.1:25".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "--json" => json = true,
            "--url" => urls.push(value()?),
            "--only" => {
                let names = value()?;
                let before = only.len();
                // Empty names (`a,`, `a,,b`) are ignored.
                only.extend(
                    names
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
                if only.len() == before {
                    bail!(
                        "--only {names:?} names no check; the checks are: {}",
                        CHECKS.join(", ")
                    );
                }
            }
            "-c" | "--conf" => {
                let dir = PathBuf::from(value()?);
                // A misspelt directory is a wrong option, not a host without jails.
                if !dir.is_dir() {
                    bail!("-c {}: no such directory; give the configuration directory, e.g. /etc/fail2ban", dir.display());
                }
                confdir = Some(dir);
            }
            "--sshd-config" => sshd_config = PathBuf::from(value()?),
            "--smtp" => {
                smtp = value()?;
                // An address that cannot be read is a wrong option (exit 2), not a
                // check that could not look.
                let Some(addresses) = smtp
                    .to_socket_addrs()
                    .ok()
                    .map(Iterator::collect::<Vec<_>>)
                    .filter(|a| !a.is_empty())
                else {
                    bail!("--smtp {smtp:?}: expected HOST:PORT, e.g. 127.0.0.1:25");
                };
                // The audit looks at this host only, as --url does.
                let own = ferroban_jail::ignore::own_addresses();
                if let Some(other) = addresses
                    .iter()
                    .map(std::net::SocketAddr::ip)
                    .find(|ip| !ip.is_loopback() && !own.contains(ip))
                {
                    bail!("--smtp {smtp:?}: {other} is not an address of this host; the audit checks this host only");
                }
            }
            other => bail!("unknown audit option {other:?}; see ferroban audit --help"),
        }
    }
    if let Some(unknown) = only.iter().find(|id| !CHECKS.contains(&id.as_str())) {
        bail!(
            "unknown check {unknown:?}; the checks are: {}",
            CHECKS.join(", ")
        );
    }
    for url in &urls {
        web::parse_url(url).map_err(|e| anyhow::anyhow!("--url {url}: {e}"))?;
    }
    let confdir = confdir.unwrap_or_else(crate::server::options::default_confdir);
    // What the server would refuse to start with: its own settings and [Fleet] too.
    let jails = ferroban_config::settings::ServerSettings::load(&confdir)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            ferroban_config::fleet::FleetSettings::load(&confdir).map_err(|e| e.to_string())
        })
        .and_then(|_| {
            load_jails_as_written(&confdir)
                .map(|c| c.jails)
                .map_err(|e| format!("{e:#}"))
        })
        // one line in a finding: an error's hint is on a line of its own
        .map_err(|e| e.lines().map(str::trim).collect::<Vec<_>>().join("; "));
    Ok(Options {
        json,
        only,
        context: Scope {
            jails,
            confdir,
            urls,
            sshd_config,
            smtp,
            sshd_t: Arc::default(),
        },
    })
}

/// `ferroban audit [--json] [--url URL]... [--only ID,...]`.
pub fn main(args: &[String]) -> ExitCode {
    ExitCode::from(run(args))
}

/// Run the audit; its exit code.
pub fn run(args: &[String]) -> u8 {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", ferroban_cli::help(Some("audit")));
        return 0;
    }
    let options = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            return 2;
        }
    };
    let results: Vec<(&str, Finding)> = CHECKS
        .iter()
        .filter(|id| options.only.is_empty() || options.only.iter().any(|o| o == *id))
        .map(|&id| (id, run_with_deadline(id, &options.context)))
        .collect();
    if options.json {
        for (id, f) in &results {
            println!(
                "{}",
                json!({"id": id, "status": f.status.label(), "seen": f.seen, "fix": f.fix})
            );
        }
    } else {
        print!("{}", table(&results));
    }
    let worst = results
        .iter()
        .map(|(_, f)| f.status)
        .max()
        .unwrap_or(Status::Pass);
    exit_code(worst)
}

/// The exit code for the worst status of a run. 0 is kept for runs where every
/// check passed: a check that could not look has not passed, so a run with a SKIP
/// and nothing worse gets a code of its own (3, as monitoring plugins say
/// UNKNOWN) instead of reading as "all good" to a script that tests `$?`. A
/// warning or a failure says more about the host than a SKIP, so they win.
fn exit_code(worst: Status) -> u8 {
    match worst {
        Status::Fail => 2,
        Status::Warn => 1,
        Status::Skip => 3,
        Status::Pass => 0,
    }
}

/// The table: one block per check, its status and id on the first line, what was
/// seen and the fix indented below (seen texts are too long for columns).
fn table(results: &[(&str, Finding)]) -> String {
    let mut out = String::new();
    for (id, f) in results {
        out.push_str(&format!("{:<5} {id}\n", f.status.label()));
        out.push_str(&format!("      seen: {}\n", f.seen));
        if !f.fix.is_empty() {
            out.push_str(&format!("      fix:  {}\n", f.fix));
        }
    }
    let count = |s: Status| results.iter().filter(|(_, f)| f.status == s).count();
    out.push_str(&format!(
        "\n{} passed, {} warned, {} failed, {} skipped\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    out
}

impl Scope {
    /// The enabled jails, or a SKIP finding saying why they could not be read
    /// (the first jail check fails instead: see [`Scope::unreadable`]).
    fn jails(&self) -> std::result::Result<&[JailConfig], Finding> {
        self.jails.as_deref().map_err(|e| {
            Finding::skip(format!(
                "the configuration in {} could not be read: {e}",
                self.confdir.display()
            ))
        })
    }

    /// A FAIL finding when the configuration cannot be read: the server would not
    /// start with it, so no jail protects anything (not a check that could not look).
    fn unreadable(&self) -> Option<Finding> {
        let e = self.jails.as_ref().err()?;
        Some(Finding::fail(
            format!(
                "the configuration in {} could not be read, so the server would not start: {e}",
                self.confdir.display()
            ),
            format!(
                "mend it (`ferroban check -c {}` names the file and line)",
                self.confdir.display()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `list` with `-c` an empty directory: a configuration with no jail.
    fn args(list: &[&str]) -> Vec<String> {
        let empty =
            std::env::temp_dir().join(format!("ferroban-audit-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let mut all: Vec<String> = list.iter().map(|a| a.to_string()).collect();
        all.extend(["-c".to_string(), empty.display().to_string()]);
        all
    }

    #[test]
    fn a_misspelt_configuration_directory_is_an_option_error() {
        let e = parse_args(&["-c".to_string(), "/etc/fail2ban-typo".to_string()])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("-c /etc/fail2ban-typo: no such directory; give the configuration directory, e.g. /etc/fail2ban")
        );
        assert_eq!(
            run(&["-c".to_string(), "/etc/fail2ban-typo".to_string()]),
            2
        );
    }

    #[test]
    fn an_smtp_address_that_cannot_be_read_is_an_option_error() {
        let e = parse_args(&args(&["--smtp", "nonsense"]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("--smtp \"nonsense\": expected HOST:PORT, e.g. 127.0.0.1:25")
        );
        assert_eq!(run(&args(&["--smtp=nonsense"])), 2);
        let o = parse_args(&args(&["--smtp", "127.0.0.1:2525"])).unwrap();
        assert_eq!(o.context.smtp, "127.0.0.1:2525");
        // Another host's server is not this audit's to probe.
        let e = parse_args(&args(&["--smtp", "192.0.2.1:25"]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("--smtp \"192.0.2.1:25\": 192.0.2.1 is not an address of this host; the audit checks this host only")
        );
    }

    #[test]
    fn empty_check_names_in_only_are_ignored() {
        let o = parse_args(&args(&["--only", "sshd-root-login,"])).unwrap();
        assert_eq!(o.only, ["sshd-root-login"]);
        let o = parse_args(&args(&["--only", " ,sshd-root-login,,jail-log-missing"])).unwrap();
        assert_eq!(o.only, ["sshd-root-login", "jail-log-missing"]);
        assert!(parse_args(&args(&["--only", ","])).is_err());
        assert!(parse_args(&args(&["--only", "sshd-root-login,bogus"])).is_err());
    }
}
