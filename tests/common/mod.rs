//! Helpers shared by the integration tests.
// Each test file uses a part of this module.
#![allow(dead_code)]

pub mod fail2ban;
pub mod fleet;

/// A small deterministic generator (xorshift): a failing case can be replayed
/// from its seed.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Fewer than `max_parts` pieces of `alphabet`, joined.
    pub fn string(&mut self, alphabet: &[&str], max_parts: u64) -> String {
        let n = self.next() % max_parts;
        (0..n).map(|_| self.pick(alphabet)).collect()
    }
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A network namespace of the test's own, with loopback up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Create `name` (made unique with the pid and a count), or say why it cannot be
    /// made.
    pub fn new(name: &str) -> Result<Netns, String> {
        // Tests of one file run in parallel threads of one process: the pid alone
        // would give them all the same name, and all but one would skip.
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{name}{}-{n}", std::process::id());
        let o = std::process::Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
        }
        let ns = Netns { name };
        ns.command("ip")
            .args(["link", "set", "lo", "up"])
            .output()
            .map_err(|e| e.to_string())?;
        Ok(ns)
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> std::process::Command {
        command_in(Some(&self.name), program)
    }
}

/// `program` to be run in network namespace `netns`, or here when `None`.
pub fn command_in(netns: Option<&str>, program: &str) -> std::process::Command {
    match netns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => std::process::Command::new(program),
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A test's directory under the system's temporary one, named by `name` and
/// the pid, emptied at start and removed when dropped.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The standard output of a finished command that had to succeed.
fn stdout_of(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `FERROBAN regex --json ARGS` (in UTC): the host of each failure, in order.
/// `ferroban` is the binary (`env!("CARGO_BIN_EXE_ferroban")` in a test).
pub fn ferroban_regex_hosts<S: AsRef<std::ffi::OsStr>>(
    ferroban: &str,
    args: impl IntoIterator<Item = S>,
) -> Vec<String> {
    ferroban_regex_report(ferroban, args).0
}

/// The same, with what the tool reported on its standard error (warnings).
pub fn ferroban_regex_report<S: AsRef<std::ffi::OsStr>>(
    ferroban: &str,
    args: impl IntoIterator<Item = S>,
) -> (Vec<String>, String) {
    let out = std::process::Command::new(ferroban)
        .args(["regex", "--json"])
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hosts = stdout_of(out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["host"].as_str().unwrap().to_string()
        })
        .collect();
    (hosts, stderr)
}

/// The addresses the real `fail2ban-regex ARGS` bans (`ARGS` end in the log, a
/// file or one line, and the filter), one per failure; None when fail2ban-regex
/// is not installed.
pub fn fail2ban_regex_ips<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> Option<Vec<String>> {
    let out = std::process::Command::new("fail2ban-regex")
        .args(["-o", "<ip>"])
        .args(args)
        .output()
        .ok()?;
    Some(stdout_of(out).lines().map(str::to_string).collect())
}

/// The hosts, one per failure in log order, that the filter `filter` (a name with
/// options, e.g. "sshd[mode=ddos]") of ferroban's shipped configuration (config/)
/// finds in the log file `log`. Lines without a year are read as of 2005 (the
/// `--now` of Fail2ban's samples). `ferroban` is the binary, as for
/// [`ferroban_regex_hosts`].
pub fn own_filter_hosts(ferroban: &str, filter: &str, log: &std::path::Path) -> Vec<String> {
    ferroban_regex_hosts(
        ferroban,
        [
            "--now".as_ref(),
            "1124013600".as_ref(),
            "-c".as_ref(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/config").as_ref(),
            log.as_os_str(),
            filter.as_ref(),
        ],
    )
}

/// The same with Fail2ban's stock filter of that name (/etc/fail2ban), run by the
/// real fail2ban-regex; None (after printing why) when Fail2ban is not installed.
pub fn stock_filter_hosts(filter: &str, log: &std::path::Path) -> Option<Vec<String>> {
    let found = std::path::Path::new("/etc/fail2ban/filter.d/common.conf")
        .exists()
        .then(|| {
            fail2ban_regex_ips([
                "-c".as_ref(),
                "/etc/fail2ban".as_ref(),
                log.as_os_str(),
                filter.as_ref(),
            ])
        })
        .flatten();
    if found.is_none() {
        eprintln!("SKIPPED: fail2ban-regex and Fail2ban's filters are not installed (apt-get install fail2ban)");
    }
    found
}

/// Whether `done` becomes true within `secs` seconds, asked every 50 ms.
pub fn wait_for(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}

/// `text` (a jail.local written for a real host) with every `/var/log/…` path
/// moved under `dir`, where each is created empty: a jail whose log is missing is
/// refused (as Fail2ban refuses it), and the test host need not run Apache or
/// Postfix. Nothing else in the text changes.
pub fn with_empty_host_logs(dir: &std::path::Path, text: &str) -> String {
    let logs = dir.join("var-log");
    for (at, _) in text.match_indices("/var/log/") {
        let path: String = text[at + "/var/log/".len()..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let file = logs.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "").unwrap();
    }
    text.replace("/var/log/", &format!("{}/", logs.display()))
}

/// Stop a child: SIGTERM first, so that a server such as nginx takes its workers
/// (and their listening sockets) with it, then SIGKILL after 5 s. A SIGKILLed
/// nginx master leaves its workers running.
pub fn stop_child(child: &mut std::process::Child) {
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    if !wait_for(5, || child.try_wait().is_ok_and(|s| s.is_some())) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// nginx in the network namespace `netns` (here when `None`), in the foreground, serving `dir/www`
/// on `listen` with its pid, error log (`dir/nginx-error.log`) and temporary files
/// under `dir`; `access_log` is a file and format, or `off`, and `extra` goes into
/// the server block. Stop it with [`stop_child`].
pub fn start_nginx(
    netns: Option<&str>,
    dir: &std::path::Path,
    listen: &str,
    access_log: &str,
    extra: &str,
) -> std::process::Child {
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{}}\n\
             http {{\n  access_log {access_log};\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n\
             fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
             server {{\n    listen {listen};\n    root {d}/www;\n    {extra}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    command_in(netns, "nginx")
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Run `command` with `input` on its standard input (then closed), and collect
/// its output and exit status.
pub fn run_with_input(command: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // dropped at the end of the statement: closed, so that the command reads to the end
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// systemd's `systemd-journal-remote`, which writes journal files (the tests make
/// theirs with it, as the journal would), when it is installed.
pub const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

/// Write the journal file `path` from `export` (the journal's export format:
/// `FIELD=value` lines, an empty line after each entry) with systemd-journal-remote.
pub fn write_journal(path: &std::path::Path, export: &str) {
    let mut command = std::process::Command::new(JOURNAL_REMOTE);
    command.arg("-o").arg(path).arg("-");
    assert!(
        run_with_input(&mut command, export).status.success(),
        "systemd-journal-remote wrote {}",
        path.display()
    );
}
