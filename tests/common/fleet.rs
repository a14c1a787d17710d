//! A real fleet for tests: nats-server with JetStream, whose authorization is
//! exactly what `ferroban fleet nats-config` prints, and real `ferroban server`s,
//! each in its own directory, fed by appending log lines and recording what
//! their action is told. Nothing here imitates nats-server; it runs it.
//!
//! The `ferroban` binary is passed in (`env!("CARGO_BIN_EXE_ferroban")` in an
//! integration test): this module is also compiled into the binary's unit tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use super::{command_in, free_port, have, wait_for, Scratch};

/// The logins (host name, password) of the fleet most tests use.
pub const LOGINS: [(&str, &str); 3] =
    [("web1", "pw-one"), ("web2", "pw-two"), ("web3", "pw-three")];

/// Whether nats-server is missing (then a `SKIPPED` line says so).
pub fn nats_server_missing() -> bool {
    let missing = !have("nats-server");
    if missing {
        eprintln!("SKIPPED: nats-server is not installed (apt-get install nats-server)");
    }
    missing
}

/// A test's directory (named by `tag`) and an engine for [`LOGINS`]; `None`
/// (SKIPPED) without nats-server.
pub fn engine_for(ferroban: &str, tag: &str) -> Option<(Scratch, Engine)> {
    if nats_server_missing() {
        return None;
    }
    let root = Scratch::new(&format!("ferroban-fleet-{tag}"));
    let engine = Engine::start(ferroban, &root.0.join("engine"), &LOGINS, None);
    Some((root, engine))
}

/// nats-server with JetStream on a loopback port; `kill -9`ed when dropped.
pub struct Engine {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    netns: Option<String>,
    /// Whether it listens for TLS only (then its URL is `tls://`).
    tls: bool,
}

impl Engine {
    /// Start it in `dir` (in network namespace `netns`, if given) with the
    /// authorization block `ferroban fleet nats-config --stdin` prints for
    /// `logins` (name, password), given as `NAME=PASSWORD` lines on its standard
    /// input as an administrator would: every fleet test runs that path.
    pub fn start(
        ferroban: &str,
        dir: &Path,
        logins: &[(&str, &str)],
        netns: Option<&str>,
    ) -> Engine {
        Engine::start_with_tls(ferroban, dir, logins, netns, None)
    }

    /// [`Engine::start`], listening for TLS only when `tls` is the body of a
    /// nats-server `tls { … }` block (`cert_file: …, key_file: …`).
    pub fn start_with_tls(
        ferroban: &str,
        dir: &Path,
        logins: &[(&str, &str)],
        netns: Option<&str>,
        tls: Option<&str>,
    ) -> Engine {
        std::fs::create_dir_all(dir).unwrap();
        let pairs: String = logins.iter().map(|(n, p)| format!("{n}={p}\n")).collect();
        let out = super::run_with_input(
            Command::new(ferroban).args(["fleet", "nats-config", "--stdin"]),
            &pairs,
        );
        assert!(
            out.status.success(),
            "nats-config: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join("auth.conf"), &out.stdout).unwrap();
        let port = free_port();
        std::fs::write(
            dir.join("nats.conf"),
            format!(
                "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?} }}\n{}include auth.conf\n",
                dir.join("store").display().to_string(),
                tls.map(|t| format!("tls {{ {t} }}\n")).unwrap_or_default()
            ),
        )
        .unwrap();
        let mut engine = Engine {
            child: None,
            port,
            dir: dir.to_path_buf(),
            netns: netns.map(str::to_string),
            tls: tls.is_some(),
        };
        engine.run();
        engine
    }

    /// Start (or restart) nats-server and wait until it says it is ready.
    pub fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))
            .unwrap();
        let ready = |log: String| log.matches("Server is ready").count();
        let before = ready(self.log());
        let child = command_in(self.netns.as_deref(), "nats-server")
            .arg("-c")
            .arg(self.dir.join("nats.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        assert!(
            wait_for(10, || ready(self.log()) > before),
            "nats-server did not start: {}",
            self.log()
        );
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Change its authorization file (`auth.conf`, as `edit` returns it from the
    /// current one) and have the running nats-server reload it (SIGHUP), as an
    /// administrator would; waits until it says it reloaded.
    pub fn change_authorization(&self, edit: impl FnOnce(String) -> String) {
        let path = self.dir.join("auth.conf");
        let changed = edit(std::fs::read_to_string(&path).unwrap());
        std::fs::write(&path, changed).unwrap();
        let reloaded = |log: String| log.matches("Reloaded server configuration").count();
        let before = reloaded(self.log());
        let pid = self.child.as_ref().expect("nats-server runs").id();
        let hup = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
        assert!(
            wait_for(10, || reloaded(self.log()) > before),
            "nats-server did not reload: {}",
            self.log()
        );
    }

    pub fn wipe_storage(&self) {
        std::fs::remove_dir_all(self.dir.join("store")).unwrap();
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a host logs in and what its configuration says besides the defaults.
pub struct HostSpec<'a> {
    pub name: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    /// Lines added to jail `t`.
    pub jail: &'a str,
    /// The action; `record` writes each ban and unban to `out`.
    pub action: &'a str,
    /// Lines for the `[Definition]` section of ferroban.local (`metrics`,
    /// `dashboard`).
    pub definition: &'a str,
    /// Lines added to its `[Fleet]` section (`tls_ca`, …).
    pub fleet: &'a str,
}

impl<'a> HostSpec<'a> {
    /// A host that logs in under its own name and records its bans.
    pub fn honest(name: &'a str, password: &'a str) -> HostSpec<'a> {
        HostSpec {
            name,
            user: name,
            password,
            jail: "",
            action: "record",
            definition: "",
            fleet: "",
        }
    }
}

/// One ferroban host: jail `t` (fleet = share) reading `logs/app.log`, its bans
/// recorded in `out`; killed when dropped.
pub struct Host {
    ferroban: String,
    pub dir: PathBuf,
    child: Option<Child>,
    netns: Option<String>,
}

impl Host {
    /// Write the configuration of `spec` under `root`, for `engine`'s fleet.
    pub fn new(ferroban: &str, root: &Path, engine: &Engine, spec: &HostSpec) -> Host {
        let dir = root.join(format!("host-{}-{}", spec.name, spec.user));
        std::fs::create_dir_all(dir.join("conf/filter.d")).unwrap();
        std::fs::create_dir_all(dir.join("conf/action.d")).unwrap();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::write(dir.join("logs/app.log"), "").unwrap();
        std::fs::write(
            dir.join("conf/filter.d/test.conf"),
            "[Definition]\nfailregex = ^login failed from <HOST>$\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("conf/action.d/record.conf"),
            format!(
                "[Definition]\nactionban = echo ban <name> <ip> >> {out}\n\
                 actionunban = echo unban <name> <ip> >> {out}\n",
                out = dir.join("out").display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("conf/jail.local"),
            format!(
                // the defaults in [DEFAULT], so that a spec's jail options override
                // them (an option twice in [t] is refused, as Fail2ban refuses it)
                "[DEFAULT]\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\nignoreip = 127.0.0.1/8\n\
                 fleet = share\n[t]\nenabled = true\nfilter = test\nlogpath = {}\naction = {}\n{}\n",
                dir.join("logs/app.log").display(),
                spec.action,
                spec.jail
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("conf/ferroban.local"),
            format!(
                "[Definition]\n{}\n[Fleet]\nurl = {}\nname = {}\nuser = {}\npassword = {}\n{}\n",
                spec.definition,
                engine.url(),
                spec.name,
                spec.user,
                spec.password,
                spec.fleet
            ),
        )
        .unwrap();
        // readable by its owner only whatever the umask, so that the server has
        // no warning about it (a test that wants one sets another mode)
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(dir.join("conf/ferroban.local"), mode).unwrap();
        Host {
            ferroban: ferroban.to_string(),
            dir,
            child: None,
            netns: engine.netns.clone(),
        }
    }

    /// Start `ferroban server` and wait until it answers.
    pub fn start(&mut self) {
        let child = command_in(self.netns.as_deref(), &self.ferroban)
            .args(["server", "-f", "--loglevel", "INFO", "-c"])
            .arg(self.dir.join("conf"))
            .arg("-s")
            .arg(self.socket())
            .arg("-p")
            .arg(self.dir.join("pid"))
            .arg("--dbfile")
            .arg(self.dir.join("db.sqlite3"))
            .arg("--logtarget")
            .arg(self.dir.join("log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferroban");
        self.child = Some(child);
        assert!(
            wait_for(10, || self.client(&["ping"]).status.success()),
            "ferroban did not answer: {}",
            self.log()
        );
    }

    /// `ferroban stop`, and wait for the server to exit.
    pub fn stop(&mut self) {
        let _ = self.client(&["stop"]);
        if let Some(mut c) = self.child.take() {
            if !wait_for(10, || c.try_wait().is_ok_and(|s| s.is_some())) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// The client on this host's socket and configuration.
    pub fn client(&self, args: &[&str]) -> Output {
        Command::new(&self.ferroban)
            .arg("-s")
            .arg(self.socket())
            .arg("-c")
            .arg(self.dir.join("conf"))
            .args(args)
            .output()
            .unwrap()
    }

    /// `ferroban --json fleet`, or null.
    pub fn fleet(&self) -> Value {
        let out = self.client(&["--json", "fleet"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    pub fn wait_connected(&self) {
        assert!(
            wait_for(15, || self.fleet()["connected"] == Value::Bool(true)),
            "not connected to the engine: {}",
            self.log()
        );
    }

    /// Append `n` failures of `ip` to the log.
    pub fn fail(&self, ip: &str, n: usize) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("logs/app.log"))
            .unwrap();
        for _ in 0..n {
            writeln!(f, "login failed from {ip}").unwrap();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// What the `record` action wrote.
    pub fn actions(&self) -> String {
        std::fs::read_to_string(self.dir.join("out")).unwrap_or_default()
    }

    /// How often the action was told to ban `ip`.
    pub fn bans_of(&self, ip: &str) -> usize {
        let line = format!("ban t {ip}");
        self.actions().lines().filter(|l| *l == line).count()
    }

    pub fn unbans_of(&self, ip: &str) -> usize {
        let line = format!("unban t {ip}");
        self.actions().lines().filter(|l| *l == line).count()
    }

    /// Bans in force in jail `t`, from its status.
    pub fn banned_count(&self) -> u64 {
        let out = self.client(&["--json", "status", "t"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v[1][1][0][1].as_u64().unwrap_or(0)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
