//! `ferroban restart` (and `fail2ban-client restart`): stop the running server and
//! start it again as it was started, not as the client happens to run.
//!
//! Owns finding the running server (its pid, from the control socket's peer
//! credentials), taking what it ran with before it stops (command line, working
//! directory, environment, network namespace, where its output went), waiting until
//! it has exited, and starting the new one with those, in a session of its own. A
//! server systemd runs is restarted by systemd (`systemctl restart UNIT`), so that
//! the new one runs in its unit, with its sandbox and supervision. The server's own
//! shutdown removes only the socket and pid file it made, so the new server keeps
//! them. The configuration the new server will read is tested first: one that
//! would not start leaves the running server alone, as `reload` does. It does not
//! decide when a restart is wanted.

use std::ffi::OsString;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::client::{await_started_server, wait_until};
use crate::procfs;

/// How long the old server may take to exit, and the new one to answer.
const LIMIT: Duration = Duration::from_secs(30);

/// What a running server was started with.
struct Started {
    pid: i32,
    argv: Vec<OsString>,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
    /// Its network namespace, held open so that it outlives the old server.
    netns: std::fs::File,
    /// Where its standard output and error went (a terminal, a pipe, a file),
    /// opened again for the new server; `None` where that cannot be (a socket).
    output: [Option<std::fs::File>; 2],
}

/// The pid of the server listening on `socket`, from the kernel's peer credentials.
fn server_pid(socket: &Path) -> Option<i32> {
    let stream = UnixStream::connect(socket).ok()?;
    crate::server::control::peer_credentials(&stream)
        .map(|c| c.pid)
        .filter(|pid| *pid > 0)
}

impl Started {
    fn of(pid: i32) -> Result<Started> {
        let argv = procfs::fields(pid, "cmdline")
            .with_context(|| format!("reading /proc/{pid}/cmdline"))?;
        if argv.is_empty() {
            bail!("process {pid} has no command line");
        }
        let env = procfs::environ(pid).with_context(|| format!("reading /proc/{pid}/environ"))?;
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .with_context(|| format!("reading the working directory of process {pid}"))?;
        let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("opening the network namespace of process {pid}"))?;
        let reopen = |fd: i32| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(format!("/proc/{pid}/fd/{fd}"))
                .ok()
        };
        Ok(Started {
            pid,
            argv,
            cwd,
            env,
            netns,
            output: [reopen(1), reopen(2)],
        })
    }

    /// The systemd service the server runs as, when systemd started it.
    fn systemd_unit(&self) -> Option<String> {
        let by_systemd = self.env.iter().any(|(k, _)| k == "INVOCATION_ID");
        let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", self.pid)).ok()?;
        service_of(&cgroup, by_systemd).map(str::to_string)
    }

    /// The old server's standard output (0) or error (1) for the new one: its log
    /// goes on where it went (`logtarget = STDERR` in a terminal or to a file).
    fn output_for(&self, which: usize) -> Stdio {
        self.output[which]
            .as_ref()
            .and_then(|f| f.try_clone().ok())
            .map_or_else(Stdio::null, Stdio::from)
    }

    /// The configuration directory the server reads: its `-c`, relative to its
    /// working directory, or the default.
    fn confdir(&self) -> Result<PathBuf> {
        let args: Vec<String> = self
            .argv
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // `ferroban server …`, or `fail2ban-server …` (the grammar is the same)
        let (args, fail2ban_server) = match args.first() {
            Some(first) if first == "server" => (&args[1..], false),
            _ => (&args[..], true),
        };
        let parsed = crate::fail2ban_cmdline::parse(args, true)
            .with_context(|| format!("reading the command line of process {}", self.pid))?;
        let options = crate::server::ServerOptions::from_args(&parsed, fail2ban_server);
        Ok(self.cwd.join(options.confdir))
    }

    /// Start the server again with the same command line, directory, environment
    /// and network namespace, detached from this terminal.
    fn start_again(&self) -> Result<Child> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        // The name it was run as selects the grammar (fail2ban-server, ferroban).
        cmd.arg0(&self.argv[0])
            .args(&self.argv[1..])
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(self.output_for(0))
            .stderr(self.output_for(1));
        let netns: Option<RawFd> = (!same_namespace(&self.netns)?).then(|| self.netns.as_raw_fd());
        // SAFETY: setsid and setns are async-signal-safe system calls; the file
        // descriptor stays open in this process until the child has started.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                if let Some(fd) = netns {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd.spawn().with_context(|| {
            format!(
                "starting the server again in the network namespace of process {}",
                self.pid
            )
        })
    }
}

/// The unit of a process that systemd started (`by_systemd`: it has systemd's
/// `INVOCATION_ID`), from its `/proc/PID/cgroup`: the last part of its control
/// group's path, when that is a service.
fn service_of(cgroup: &str, by_systemd: bool) -> Option<&str> {
    if !by_systemd {
        return None;
    }
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    path.rsplit('/')
        .next()
        .filter(|unit| unit.ends_with(".service"))
}

/// Restart the service `unit` through systemd and wait for a new server (not
/// `old_pid`) to answer on `socket`.
fn restart_by_systemd(unit: &str, old_pid: i32, socket: &Path) -> Result<()> {
    let status = Command::new("systemctl")
        .args(["restart", unit])
        .status()
        .with_context(|| format!("running systemctl restart {unit}"))?;
    if !status.success() {
        bail!("systemctl restart {unit} failed ({status}); see journalctl -u {unit}");
    }
    if !wait_until(LIMIT, || {
        server_pid(socket).is_some_and(|pid| pid != old_pid)
    }) {
        bail!("{unit} restarted, but no new server answers on {} within {LIMIT:?}; see journalctl -u {unit}", socket.display());
    }
    Ok(())
}

/// Whether `netns` is this process's own network namespace.
fn same_namespace(netns: &std::fs::File) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let theirs = netns.metadata()?;
    let ours = std::fs::metadata("/proc/self/ns/net")?;
    Ok(theirs.dev() == ours.dev() && theirs.ino() == ours.ino())
}

/// Whether process `pid` still runs (an exited one its parent has not reaped yet,
/// a zombie, does not).
fn alive(pid: i32) -> bool {
    procfs::stat(pid).is_ok_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// Restart the server on `socket`: `stop` is sent through `stop`, and the new
/// server must answer on `socket` (see [`await_started_server`]). Returns false
/// when no server runs there (the caller starts one).
pub fn restart(socket: &Path, stop: impl FnOnce() -> Result<()>) -> Result<bool> {
    let Some(pid) = server_pid(socket) else {
        return Ok(false);
    };
    let started = Started::of(pid)?;
    let confdir = started.confdir()?;
    if let Err(e) = crate::server::check_config(&confdir) {
        bail!(
            "{e:#}\n  the server keeps running with the configuration it has (nothing \
             was stopped); fix the error, test with `ferroban -c {} check`, then restart",
            confdir.display()
        );
    }
    if let Some(unit) = started.systemd_unit() {
        restart_by_systemd(&unit, pid, socket)?;
        return Ok(true);
    }
    stop()?;
    if !wait_until(LIMIT, || !alive(pid)) {
        bail!("the server (pid {pid}) did not exit within {LIMIT:?}");
    }
    let mut child = started.start_again()?;
    await_started_server(&mut child, socket, &confdir)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_systemd_started_is_known_by_its_service() {
        let unit = "0::/system.slice/ferroban.service\n";
        assert_eq!(service_of(unit, true), Some("ferroban.service"));
        // cgroup v1 lines before the unified one
        let v1 = "12:pids:/system.slice/ferroban.service\n0::/system.slice/ferroban.service\n";
        assert_eq!(service_of(v1, true), Some("ferroban.service"));
        // started by hand in a login session, or in a container's root group
        assert_eq!(
            service_of("0::/user.slice/user-0.slice/session-3.scope\n", true),
            None
        );
        assert_eq!(service_of("0::/\n", true), None);
        // a service's cgroup, but not started by systemd (no INVOCATION_ID)
        assert_eq!(service_of(unit, false), None);
    }
}
