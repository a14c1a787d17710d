//! The daemon end to end: a real `ferroban server` on a temporary directory
//! (configuration, logs, socket, SQLite database), fed by appending real log lines,
//! driven through its client, with a command action that records what it is told.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

mod common;
use common::fail2ban::Fail2ban;
use common::{stop_child, wait_for, with_empty_host_logs, Xorshift};

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A temporary ferroban installation.
struct Env {
    dir: PathBuf,
    /// The ban database the server is started with.
    db: PathBuf,
}

/// A running server; killed if a test fails.
struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TEST_FILTER: &str =
    "[Definition]\nfailregex = login failed from <HOST>(?: user=<F-USER>.*</F-USER>)?$\n";

impl Env {
    fn new(tag: &str) -> Env {
        // Tests run in parallel threads of one process: two with one tag would
        // share (and wipe) one directory.
        static TAGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let mut tags = TAGS.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!tags.iter().any(|t| t == tag), "Env tag {tag:?} used twice");
        tags.push(tag.to_string());
        drop(tags);
        let dir = std::env::temp_dir().join(format!("ferroban-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf/filter.d")).unwrap();
        std::fs::create_dir_all(dir.join("conf/action.d")).unwrap();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::write(dir.join("conf/filter.d/test.conf"), TEST_FILTER).unwrap();
        std::fs::write(
            dir.join("conf/action.d/record.conf"),
            "[Definition]\nactionstart = echo start <name> >> <out>\nactionstop = echo stop <name> >> <out>\n\
             actionban = echo ban <name> <ip> <bantime> <bancount> restored=<restored> user=<F-USER> >> <out>\n\
             actionunban = echo unban <name> <ip> >> <out>\n[Init]\nout = /dev/null\n",
        )
        .unwrap();
        // The logs the tests' jails read exist from the start: a jail whose log
        // is missing is refused, as Fail2ban refuses it.
        for name in ["app.log", "web.log"] {
            std::fs::write(dir.join("logs").join(name), "").unwrap();
        }
        let db = dir.join("db.sqlite3");
        Env { dir, db }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("conf")
    }
    fn socket(&self) -> PathBuf {
        self.dir.join("run/ferroban.sock")
    }
    fn out(&self) -> PathBuf {
        self.dir.join("actions.out")
    }
    fn own_log(&self) -> PathBuf {
        self.dir.join("ferroban.log")
    }
    fn log(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(name)
    }

    /// A `jail.local` with `[DEFAULT]` pointing the action at the record file.
    fn jails(&self, text: &str) {
        self.jails_recording_to(&self.out(), text);
    }

    /// [`Env::jails`] with the action recording to `out`.
    fn jails_recording_to(&self, out: &Path, text: &str) {
        let head = format!(
            "[DEFAULT]\nfilter = test\naction = record[out=\"{}\"]\nbackend = auto\nignoreip = 127.0.0.1/8\n",
            out.display()
        );
        std::fs::write(self.conf().join("jail.local"), format!("{head}{text}")).unwrap();
    }

    fn start(&self) -> Daemon {
        self.start_with(&[], &["--no-dry-run"])
    }

    /// The server command under `wrapper` (e.g. `unshare --net`) with `extra`
    /// options, on this installation's files.
    fn server_command(&self, wrapper: &[&str], extra: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.args(["server", "-f", "--loglevel", "INFO"])
            .args(extra)
            .arg("-c")
            .arg(self.conf())
            .arg("-s")
            .arg(self.socket())
            .arg("-p")
            .arg(self.dir.join("run/ferroban.pid"))
            .arg("--dbfile")
            .arg(&self.db)
            .arg("--logtarget")
            .arg(self.own_log())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Start the server under `wrapper` with `extra` options, and wait until it answers.
    fn start_with(&self, wrapper: &[&str], extra: &[&str]) -> Daemon {
        let child = self
            .server_command(wrapper, extra)
            .spawn()
            .expect("start the server");
        let daemon = Daemon { child };
        assert!(
            wait_for(10, || self.client(&["ping"]).status.success()),
            "server did not answer; its log:\n{}",
            std::fs::read_to_string(self.own_log()).unwrap_or_default()
        );
        daemon
    }

    fn client(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("-s")
            .arg(self.socket())
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .output()
            .unwrap()
    }

    fn client_text(&self, args: &[&str]) -> String {
        let o = self.client(args);
        assert!(
            o.status.success(),
            "ferroban {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Append failure lines stamped now.
    fn fail(&self, file: &str, ip: &str, times: usize) {
        self.fail_at(file, ip, times, jiff::Zoned::now());
    }

    fn fail_at(&self, file: &str, ip: &str, times: usize, at: jiff::Zoned) {
        let stamp = at.strftime("%Y-%m-%d %H:%M:%S").to_string();
        let lines: String = (0..times)
            .map(|_| format!("{stamp} login failed from {ip}\n"))
            .collect();
        append(&self.log(file), &lines);
    }

    fn out_text(&self) -> String {
        std::fs::read_to_string(self.out()).unwrap_or_default()
    }

    fn own_log_text(&self) -> String {
        std::fs::read_to_string(self.own_log()).unwrap_or_default()
    }

    fn wait_out(&self, needle: &str) -> bool {
        wait_for(15, || self.out_text().contains(needle))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn bans_unbans_on_expiry_and_honours_ignoreip_and_findtime() {
    let env = Env::new("expiry");
    // A ban starts at its failure's log time (whole seconds): 5 s leave time to see it.
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 3\nfindtime = 10m\nbantime = 5\n");
    let _d = env.start();
    // two failures are not enough; an old failure outside findtime does not count
    env.fail_at(
        "app.log",
        "192.0.2.1",
        1,
        jiff::Zoned::now()
            .checked_sub(jiff::Span::new().hours(2))
            .unwrap(),
    );
    env.fail("app.log", "192.0.2.1", 2);
    // ignoreip wins however often
    env.fail("app.log", "127.0.0.9", 5);
    assert!(
        wait_for(10, || env
            .client_text(&["status", "app"])
            .contains("Total failed:\t2")),
        "{}",
        env.client_text(&["status", "app"])
    );
    assert!(!env.out_text().contains("ban app 192.0.2.1"));
    env.fail("app.log", "192.0.2.1", 1);
    assert!(
        env.wait_out("ban app 192.0.2.1 5 1 restored=0"),
        "{}",
        env.out_text()
    );
    let status = env.client_text(&["status", "app"]);
    assert!(status.contains("Banned IP list:\t192.0.2.1"), "{status}");
    // what the filter found but could not count, shown by ferroban's own status
    assert!(
        status.contains("Failures older than findtime:\t1"),
        "{status}"
    );
    assert!(
        status.contains("Failures of ignored addresses:\t5"),
        "{status}"
    );
    assert!(
        env.wait_out("unban app 192.0.2.1"),
        "ban lifted after 5 s: {}",
        env.out_text()
    );
    assert!(!env.out_text().contains("127.0.0.9"));
    let log = env.own_log_text();
    assert!(log.contains("[app] Ignore 127.0.0.9 by ip"), "{log}");
    assert!(
        log.contains("fail2ban.actions        [") && log.contains("NOTICE  [app] Ban 192.0.2.1"),
        "{log}"
    );
    assert!(log.contains("NOTICE  [app] Unban 192.0.2.1"), "{log}");
}

#[test]
fn a_stop_unbans_every_ban_in_force_new_restored_or_set_by_hand() {
    // The actions keep no list of bans of their own: at stop the server names each
    // ban still in force, and an action without `actionflush` unbans each one.
    let env = Env::new("stop-unbans");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\nbantime = 1h\n");
    let d = env.start();
    env.fail("app.log", "192.0.2.30", 2);
    assert!(
        env.wait_out("ban app 192.0.2.30 3600 1 restored=0"),
        "{}",
        env.out_text()
    );
    env.client_text(&["stop"]);
    assert!(
        wait_for(15, || env.out_text().contains("stop app")),
        "{}",
        env.out_text()
    );
    drop(d);
    assert!(
        env.out_text().contains("unban app 192.0.2.30\nstop app"),
        "{}",
        env.out_text()
    );
    let d = env.start();
    assert!(
        env.wait_out("ban app 192.0.2.30 3600 1 restored=1"),
        "{}",
        env.out_text()
    );
    env.client_text(&["set", "app", "banip", "192.0.2.31"]);
    assert!(env.wait_out("ban app 192.0.2.31"), "{}", env.out_text());
    env.client_text(&["unban", "192.0.2.30"]);
    env.client_text(&["stop"]);
    assert!(
        wait_for(15, || env.out_text().matches("stop app").count() == 2),
        "{}",
        env.out_text()
    );
    drop(d);
    let out = env.out_text();
    let second_run = &out[out.find("restored=1").unwrap()..];
    assert_eq!(
        second_run.matches("unban app ").count(),
        2,
        "one unban by hand, one at stop: {out}"
    );
    assert!(
        second_run.ends_with("unban app 192.0.2.31\nstop app\n"),
        "{out}"
    );
}

#[test]
fn a_reload_that_changes_the_actions_moves_every_ban_to_the_new_ones() {
    // The old actions unban what the server names as in force; the new ones get
    // every ban, as restored.
    let env = Env::new("reload-actions");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\nbantime = 1h\n");
    let d = env.start();
    env.fail("app.log", "192.0.2.40", 2);
    env.client_text(&["set", "app", "banip", "192.0.2.41"]);
    assert!(
        env.wait_out("ban app 192.0.2.40 3600 1 restored=0"),
        "{}",
        env.out_text()
    );
    assert!(env.wait_out("ban app 192.0.2.41"), "{}", env.out_text());
    let second = env.dir.join("second.out");
    env.jails_recording_to(
        &second,
        "[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\nbantime = 1h\n",
    );
    assert_eq!(env.client_text(&["reload"]).trim(), "OK");
    let moved = || std::fs::read_to_string(&second).unwrap_or_default();
    assert!(
        wait_for(10, || moved().matches("restored=1").count() == 2),
        "{}",
        moved()
    );
    for ip in ["192.0.2.40", "192.0.2.41"] {
        assert!(
            env.out_text().contains(&format!("unban app {ip}\n")),
            "{}",
            env.out_text()
        );
    }
    assert!(env.out_text().ends_with("stop app\n"), "{}", env.out_text());
    drop(d);
}

#[test]
fn matched_lines_reach_actions_that_use_them_at_ban_unban_and_after_a_reload() {
    // A jail whose actions have no use for matched lines keeps none in memory for
    // its bans in force; a reload that brings an action using them reads them back
    // from the database, for its ban and for the unban to come.
    let env = Env::new("matched-lines");
    std::fs::write(
        env.conf().join("action.d/lines.conf"),
        "[Definition]\nactionban = echo ban <ip> lines=<matches> >> <out>\n\
         actionunban = echo unban <ip> lines=<matches> >> <out>\n[Init]\nout = /dev/null\n",
    )
    .unwrap();
    let jail = "[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\nbantime = 1h\n";
    env.jails(jail);
    let d = env.start();
    env.fail("app.log", "192.0.2.50", 2);
    assert!(env.wait_out("ban app 192.0.2.50"), "{}", env.out_text());
    let second = env.dir.join("second.out");
    std::fs::write(
        env.conf().join("jail.local"),
        format!(
            "[DEFAULT]\naction = lines[out=\"{}\"]\nfilter = test\nbackend = auto\n{jail}",
            second.display()
        ),
    )
    .unwrap();
    assert_eq!(env.client_text(&["reload"]).trim(), "OK");
    env.fail("app.log", "192.0.2.51", 2);
    let lines = || std::fs::read_to_string(&second).unwrap_or_default();
    assert!(
        wait_for(10, || lines().contains("ban 192.0.2.51 lines=")),
        "{}",
        lines()
    );
    env.client_text(&["set", "app", "unbanip", "192.0.2.50", "192.0.2.51"]);
    assert!(
        wait_for(10, || lines().matches("unban ").count() == 2),
        "{}",
        lines()
    );
    let out = lines();
    for ip in ["192.0.2.50", "192.0.2.51"] {
        for what in ["ban", "unban"] {
            let told = out
                .split(&format!("\n{what} {ip} lines="))
                .nth(1)
                .or_else(|| out.strip_prefix(&format!("{what} {ip} lines=")))
                .unwrap_or_default();
            assert!(
                told.lines()
                    .next()
                    .is_some_and(|l| l.ends_with(&format!("login failed from {ip}"))),
                "{what} of {ip} without its matched lines:\n{out}"
            );
        }
    }
    drop(d);
}

#[test]
fn bans_survive_kill_9_and_restarts() {
    let env = Env::new("restart");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\nbantime = 1h\nbantime.increment = true\nbantime.factor = 1\n");
    let mut d = env.start();
    env.fail("app.log", "192.0.2.10", 2);
    assert!(
        env.wait_out("ban app 192.0.2.10 3600 1"),
        "{}",
        env.out_text()
    );
    // killed without a chance to clean up; lines written while it is down are read
    // after the restart, the ones read before are not read again
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    env.fail("app.log", "192.0.2.12", 2);
    let d = env.start();
    assert!(
        env.wait_out("ban app 192.0.2.12 3600 1 restored=0"),
        "{}",
        env.out_text()
    );
    assert!(
        env.wait_out("ban app 192.0.2.10 3600 1 restored=1"),
        "restored: {}",
        env.out_text()
    );
    let status = env.client_text(&["status", "app"]);
    assert!(status.contains("192.0.2.10"), "{status}");
    assert!(
        status.contains("Total failed:\t2"),
        "only the lines written while it was down are counted: {status}"
    );
    // unbanned by hand, then caught again: a first ban again, as Fail2ban forgets
    // an address unbanned by hand (an ended ban's count goes on: see
    // bans_imported_from_a_database_fail2ban_server_wrote_are_restored_with_their_counts)
    env.client_text(&["unban", "192.0.2.10"]);
    assert!(env.wait_out("unban app 192.0.2.10"));
    env.fail("app.log", "192.0.2.10", 2);
    let first = "ban app 192.0.2.10 3600 1 restored=0";
    assert!(
        wait_for(15, || env.out_text().matches(first).count() == 2),
        "{}",
        env.out_text()
    );
    drop(d);
    // a ban made by the client is in the database before the client hears of it
    let mut d = env.start();
    assert_eq!(
        env.client_text(&["ban", "app", "192.0.2.11", "2001:db8::11"])
            .trim(),
        "2"
    );
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let _d = env.start();
    let banned = env.client_text(&["--json", "banned"]);
    assert!(
        banned.contains("192.0.2.11")
            && banned.contains("2001:db8::11")
            && banned.contains("192.0.2.10"),
        "{banned}"
    );
}

#[test]
fn rotation_both_ways_and_globs_lose_no_line() {
    let env = Env::new("rotate");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/*.log\nmaxretry = 1\nbantime = 1h\n");
    let _d = env.start();
    env.fail("app.log", "192.0.2.21", 1);
    assert!(env.wait_out("ban app 192.0.2.21"));
    // rename and create, with a last line written to the old file after the rename
    std::fs::rename(env.log("app.log"), env.dir.join("logs/app.log.1")).unwrap();
    env.fail("app.log.1", "192.0.2.22", 1);
    env.fail("app.log", "192.0.2.23", 1);
    assert!(env.wait_out("ban app 192.0.2.23"), "{}", env.out_text());
    // copytruncate
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(env.log("app.log"), "").unwrap();
    env.fail("app.log", "192.0.2.24", 1);
    assert!(env.wait_out("ban app 192.0.2.24"), "{}", env.out_text());
    // a file that appears later under the glob
    env.fail("other.log", "192.0.2.25", 1);
    assert!(env.wait_out("ban app 192.0.2.25"), "{}", env.out_text());
    let status = env.client_text(&["status", "app"]);
    assert!(status.contains("other.log"), "{status}");
}

#[test]
fn a_bad_reload_keeps_the_running_configuration() {
    let env = Env::new("reload");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\nbantime = 1h\n");
    let _d = env.start();
    env.client_text(&["ban", "app", "192.0.2.31"]);
    let good = std::fs::read_to_string(env.conf().join("jail.local")).unwrap();
    std::fs::write(
        env.conf().join("jail.local"),
        format!(
            "{good}\n[web]\nenabled = true\nlogpath = ../logs/web.log\nbantime = 3 fortnights\n"
        ),
    )
    .unwrap();
    let o = env.client(&["reload"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("jail.local:") && err.contains("fortnight") && err.contains("kept"),
        "{err}"
    );
    let status = env.client_text(&["status"]);
    assert!(status.contains("Jail list:\tapp"), "{status}");
    env.fail("app.log", "192.0.2.32", 1);
    assert!(
        env.wait_out("ban app 192.0.2.32"),
        "old configuration still bans"
    );
    std::fs::write(env.conf().join("jail.local"), format!("{good}\n[web]\nenabled = true\nlogpath = ../logs/web.log\nmaxretry = 1\nbantime = 3d\n")).unwrap();
    assert_eq!(env.client_text(&["reload"]).trim(), "OK");
    assert!(env
        .client_text(&["status"])
        .contains("Jail list:\tapp, web"));
    assert!(
        env.client_text(&["status", "app"]).contains("192.0.2.31"),
        "bans survive a reload"
    );
    env.fail("web.log", "192.0.2.33", 1);
    assert!(
        env.wait_out("ban web 192.0.2.33 259200"),
        "{}",
        env.out_text()
    );
    // A reload that goes through says what the server warned of as it read it,
    // after its answer: a misspelt option, and a filter mode that does not exist
    // (it leaves `<mdre-agressive>` in the failregex, which then matches nothing).
    std::fs::write(
        env.conf().join("filter.d/modal.conf"),
        "[Definition]\nmdre-normal =\nmdre-aggressive = (?: user=\\S+)?\n\
         failregex = login failed from <HOST><mdre-<mode>>$\n[Init]\nmode = normal\n",
    )
    .unwrap();
    std::fs::write(
        env.conf().join("jail.local"),
        format!(
            "{good}\n[web]\nenabled = true\nfilter = modal[mode=%(mode)s]\nmode = agressive\n\
             logpath = ../logs/web.log\nbantim = 1h\n"
        ),
    )
    .unwrap();
    // stdout and stderr on one pipe, as a terminal shows them
    let o = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(BIN)
        .arg("-s")
        .arg(env.socket())
        .arg("-c")
        .arg(env.conf())
        .arg("reload")
        .output()
        .unwrap();
    assert!(o.status.success());
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.starts_with("OK\nWARNING: "), "{said}");
    // named at the `mode =` line that set it
    let mode_line = good.lines().count() + 5;
    let mode_warning = format!(
        "{}:{mode_line}: [web] mode = agressive is not a mode of filter modal (its modes: \
         aggressive, normal): its regexes refer to <mdre-agressive>",
        env.conf().join("jail.local").display()
    );
    for warning in ["[web] bantim is not an option", &mode_warning] {
        assert!(said.contains(warning), "{warning}: {said}");
        assert!(
            env.own_log_text().contains(warning),
            "{warning}: {}",
            env.own_log_text()
        );
    }
}

#[test]
fn log_values_never_run_as_commands() {
    let env = Env::new("hostile");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\n");
    let _d = env.start();
    let pwned = env.dir.join("pwned");
    let p = pwned.display();
    let hostile = [
        format!("$(touch {p})"),
        format!("`touch {p}`"),
        format!("x; touch {p}"),
        format!("x' ; touch {p}; echo '"),
        format!("x\" ; touch {p}; echo \""),
        format!("x | touch {p}"),
        format!("x && touch {p}"),
    ];
    let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
    for (i, h) in hostile.iter().enumerate() {
        append(
            &env.log("app.log"),
            &format!("{stamp} login failed from 192.0.2.{} user={h}\n", 40 + i),
        );
    }
    // a line that only looks like an address is never banned
    append(
        &env.log("app.log"),
        &format!("{stamp} login failed from 999.1.1.1\n"),
    );
    assert!(
        env.wait_out(&format!("ban app 192.0.2.{}", 40 + hostile.len() - 1)),
        "{}",
        env.out_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pwned.exists(), "a value from the log ran as a command");
    let out = env.out_text();
    assert!(
        out.contains(&format!("user=$(touch {p})")),
        "the value arrives verbatim: {out}"
    );
    assert!(!out.contains("999.1.1.1"));
}

#[test]
fn the_socket_is_for_root_only() {
    let env = Env::new("socket");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let _d = env.start();
    let mode = std::fs::metadata(env.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    // What the server writes is its owner's alone, as Fail2ban's (umask 077): its
    // log, its pid file, and what its actions write.
    env.fail("app.log", "192.0.2.98", 3);
    assert!(env.wait_out("ban app 192.0.2.98"), "{}", env.own_log_text());
    for file in [env.own_log(), env.out(), env.dir.join("run/ferroban.pid")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} mode", file.display());
    }
    if !is_root() {
        eprintln!("SKIPPED the_socket_is_for_root_only (the other-user part): needs root to run a client as nobody");
        return;
    }
    let as_nobody = |args: &[&str]| {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(BIN);
        c.arg("-s").arg(env.socket()).args(args);
        // SAFETY: setgid/setuid in the child before exec; nothing else runs there.
        unsafe {
            c.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c.output().unwrap()
    };
    let o = as_nobody(&["status"]);
    assert!(
        !o.status.success(),
        "nobody reached the server through a 0600 socket"
    );
    // Even when the socket is opened up by mistake, the server refuses the peer.
    std::fs::set_permissions(env.dir.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(env.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = as_nobody(&["ban", "app", "192.0.2.99"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("only root"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!env.client_text(&["status", "app"]).contains("192.0.2.99"));
}

#[test]
fn fail2ban_client_grammar_and_output() {
    let env = Env::new("f2bclient");
    env.jails("[wordpress-auth]\nenabled = true\nlogpath = ../logs/app.log\nport = http,https\nmaxretry = 3\nbantime = 24h\n");
    let link = env.dir.join("fail2ban-client");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let f2b = |args: &[&str]| {
        Command::new(&link)
            .arg("-c")
            .arg(env.conf())
            .arg("-s")
            .arg(env.socket())
            .args(args)
            .output()
            .unwrap()
    };
    let test = f2b(&["-t"]);
    assert!(test.status.success());
    assert!(
        String::from_utf8_lossy(&test.stdout).starts_with("OK: configuration test is successful")
    );
    let _d = env.start();
    let text = |o: Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(text(f2b(&["ping"])), "Server replied: pong\n");
    assert_eq!(
        text(f2b(&["status"])),
        "Status\n|- Number of jail:\t1\n`- Jail list:\twordpress-auth\n"
    );
    assert_eq!(
        text(f2b(&["set", "wordpress-auth", "banip", "203.0.113.10"])),
        "1\n"
    );
    let status = text(f2b(&["status", "wordpress-auth"]));
    assert!(
        status.starts_with("Status for the jail: wordpress-auth\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  `- File list:\t")
            && status.ends_with("`- Actions\n   |- Currently banned:\t1\n   |- Total banned:\t1\n   `- Banned IP list:\t203.0.113.10\n"),
        "{status}"
    );
    assert_eq!(text(f2b(&["get", "wordpress-auth", "bantime"])), "86400\n");
    assert_eq!(
        text(f2b(&["set", "wordpress-auth", "unbanip", "203.0.113.10"])),
        "1\n"
    );
    let bad = f2b(&["set", "wordpress-auth", "banip", "not-an-ip"]);
    assert_eq!(bad.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid IP address"));
    // as Debian's client: the message on standard output, its log line on standard error
    let missing = f2b(&["status", "nope"]);
    assert_eq!(
        String::from_utf8_lossy(&missing.stdout),
        "Sorry but the jail 'nope' does not exist\n"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ERROR   NOK: ('nope',)"));
    assert_eq!(text(f2b(&["reload"])), "OK\n");
    assert_eq!(text(f2b(&["stop"])), "Shutdown successful\n");
    assert!(
        wait_for(10, || !env.socket().exists()),
        "socket removed at shutdown"
    );
    assert!(
        env.wait_out("stop wordpress-auth"),
        "actionstop ran: {}",
        env.out_text()
    );
    // fail2ban-server -b: detaches, and answers once it is ready
    std::fs::write(
        env.conf().join("fail2ban.local"),
        format!(
            "[Definition]\ndbfile = {}\nlogtarget = {}\n",
            env.dir.join("db.sqlite3").display(),
            env.own_log().display()
        ),
    )
    .unwrap();
    let server = env.dir.join("fail2ban-server");
    std::os::unix::fs::symlink(BIN, &server).unwrap();
    let pidfile = env.dir.join("run/f2b.pid");
    let started = Command::new(&server)
        .args(["-b", "-x", "--no-dry-run", "-c"])
        .arg(env.conf())
        .arg("-s")
        .arg(env.socket())
        .arg("-p")
        .arg(&pidfile)
        .output()
        .unwrap();
    assert!(started.status.success());
    // as Debian's fail2ban-server -b says once its server answers
    assert_eq!(text(started), "Server ready\n");
    assert_eq!(text(f2b(&["ping"])), "Server replied: pong\n");
    assert!(pidfile.exists(), "-p was passed on to the detached server");
    assert!(
        text(f2b(&["status", "wordpress-auth"])).contains("Total banned:\t0"),
        "unbanned by hand before the restart"
    );
    assert_eq!(text(f2b(&["stop"])), "Shutdown successful\n");
    assert!(wait_for(10, || !env.socket().exists()));
}

/// Options before the subcommand do not hide its `--help`: `ferroban -c DIR restart
/// --help` printed "OK" and reloaded the running server, and `stop --help` looked for a
/// jail named `--help`. Here every subcommand is asked, after `-s` and `-c`, with a
/// server running that must see none of it.
#[test]
fn help_after_the_client_options_is_help_and_reaches_no_server() {
    let env = Env::new("helpafteroptions");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let _daemon = env.start();
    for verb in [
        "restart",
        "stop",
        "reload",
        "import-fail2ban",
        "check",
        "ban",
        "status",
        "server",
        "audit",
    ] {
        for flag in ["--help", "-h"] {
            let help = env.client_text(&[verb, flag]);
            assert!(
                help.contains(&format!("Usage: ferroban {verb}")),
                "{verb} {flag}: {help}"
            );
        }
    }
    assert!(env
        .client_text(&["help", "check"])
        .contains("Usage: ferroban check"));
    assert!(
        env.client_text(&["regex", "--help"])
            .contains("Usage: ferroban regex"),
        "regex after the options takes its own --help"
    );
    assert!(
        env.client(&["ping"]).status.success(),
        "stopped by `stop --help`"
    );
    let log = env.own_log_text();
    assert!(
        !log.contains("Reload configuration"),
        "reloaded by a --help:\n{log}"
    );
}

/// `tool` run from the real Fail2ban (`/usr/bin/…`) and from ferroban linked under
/// that name in `dir`, with the same arguments: both outputs.
fn both_tools(dir: &Path, tool: &str, args: &[&str]) -> (String, String) {
    let link = dir.join(tool);
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).unwrap();
    }
    let run = |program: &Path| {
        let o = Command::new(program).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    (run(&Path::new("/usr/bin").join(tool)), run(&link))
}

// The older test above started fail2ban-server with `-b -x` as separate words and
// no command, so it passed while Debian's unit line `-xf start` was refused.
#[test]
fn fail2bans_tools_take_their_own_command_lines() {
    let env = Env::new("f2bgrammar");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    if Path::new("/usr/bin/fail2ban-server").exists() {
        for (tool, args) in [
            ("fail2ban-server", &["--str2sec", "1d2h"][..]),
            ("fail2ban-server", &["--str2sec", "90m"][..]),
            ("fail2ban-client", &["-V"][..]),
            ("fail2ban-regex", &["-V"][..]),
        ] {
            let (theirs, ours) = both_tools(&env.dir, tool, args);
            assert_eq!(ours, theirs, "{tool} {args:?}");
        }
        // No server: the same exit code and message (after the log line's time and
        // pid), which scripts look for.
        let nowhere = env.dir.join("no-server.sock");
        let nowhere = nowhere.to_str().unwrap();
        let refused = |program: &Path| {
            let o = Command::new(program)
                .args(["-s", nowhere, "status"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let message = stderr.split_once("]: ").map(|(_, m)| m.to_string());
            (o.status.code(), message.unwrap_or(stderr))
        };
        assert_eq!(
            refused(&env.dir.join("fail2ban-client")),
            refused(Path::new("/usr/bin/fail2ban-client"))
        );
    } else {
        eprintln!("SKIPPED comparison with Fail2ban's tools: fail2ban is not installed");
    }
    for tool in ["fail2ban-server", "fail2ban-client", "fail2ban-regex"] {
        let (_, help) = both_tools(&env.dir, tool, &["--help"]);
        assert!(help.contains(&format!("Usage: {tool} ")), "{help}");
    }
    let server = env.dir.join("fail2ban-server");
    let paths = |cmd: &mut Command| {
        cmd.arg("-c")
            .arg(env.conf())
            .arg("-s")
            .arg(env.socket())
            .arg("-p")
            .arg(env.dir.join("run/f2b.pid"));
    };
    let mut test = Command::new(&server);
    paths(&mut test);
    let test = test.arg("-t").output().unwrap();
    assert!(test.status.success());
    assert_eq!(
        String::from_utf8_lossy(&test.stdout),
        "OK: configuration test is successful\n",
        "Fail2ban's line alone, for scripts that compare it"
    );
    assert_eq!(
        String::from_utf8_lossy(&test.stderr),
        "(1 jail: app)\n",
        "the jails beside it, one jail, not \"1 jails\""
    );
    // -d prints the configuration and starts nothing, even with `start`.
    let mut dump = Command::new(&server);
    paths(&mut dump);
    let dump = dump.args(["-d", "start"]).output().unwrap();
    assert!(dump.status.success());
    assert!(String::from_utf8_lossy(&dump.stdout).contains("['add', 'app', 'auto']"));
    assert!(!env.client(&["ping"]).status.success());
    // Debian's unit: ExecStart=/usr/bin/fail2ban-server -xf start
    let mut start = Command::new(&server);
    paths(&mut start);
    start
        .arg("--dbfile")
        .arg(&env.db)
        .arg("--logtarget")
        .arg(env.own_log())
        .args(["-xf", "start"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _d = Daemon {
        child: start.spawn().unwrap(),
    };
    assert!(
        wait_for(10, || env.client(&["ping"]).status.success()),
        "{}",
        env.own_log_text()
    );
    // Any other command is a client's, as with Fail2ban.
    let mut status = Command::new(&server);
    paths(&mut status);
    let status = status.arg("status").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "Status\n|- Number of jail:\t1\n`- Jail list:\tapp\n"
    );
}

// Before, `check` said OK and the server ran the jail reading nothing: on Debian 12
// without rsyslog, sshd was unprotected and nobody was told.
#[test]
fn a_jail_whose_log_is_missing_is_refused_as_fail2ban_refuses_it() {
    let env = Env::new("nolog");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/missing.log\n");
    let refusal = "Have not found any log file for app jail";
    let check = env.client(&["check"]);
    let said = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(!check.status.success(), "{said}");
    let local = env.conf().join("jail.local");
    for part in [
        &format!("{}:8:", local.display()),
        refusal,
        "missing.log matches no file",
        "hint:",
    ] {
        assert!(said.contains(part), "{part}: {said}");
    }
    let started = env.server_command(&[], &[]).status().unwrap();
    assert!(!started.success());
    assert!(
        env.own_log_text().contains(refusal),
        "{}",
        env.own_log_text()
    );
    if Path::new("/usr/bin/fail2ban-client").exists() {
        let theirs = Command::new("/usr/bin/fail2ban-client")
            .arg("-c")
            .arg(env.conf())
            .arg("-t")
            .output()
            .unwrap();
        assert!(!theirs.status.success());
        // the same verdict, in the same words for scripts, from ours as
        // fail2ban-client: its last two lines after the message, the code 255
        let link = env.dir.join("fail2ban-client");
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        let ours = Command::new(&link)
            .arg("-c")
            .arg(env.conf())
            .arg("-t")
            .output()
            .unwrap();
        let verdicts = |o: &Output| -> Vec<String> {
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            let lines: Vec<&str> = err
                .lines()
                .filter_map(|l| l.split_once("]: ERROR   ").map(|(_, m)| m))
                .collect();
            let [.., failed, last] = lines[..] else {
                panic!("no error lines: {err}");
            };
            let failed = failed.split_once(": ").map_or(failed, |(head, _)| head);
            vec![failed.to_string(), last.to_string()]
        };
        assert_eq!(ours.status.code(), theirs.status.code());
        assert_eq!(verdicts(&ours), verdicts(&theirs));
        assert!(String::from_utf8_lossy(&theirs.stderr).contains(refusal));
        assert!(String::from_utf8_lossy(&ours.stderr).contains(refusal));
    }
    // sshd: the fix is named; a path of one's own may be mistyped, the system's
    // auth.log is missing without rsyslog.
    env.jails("[sshd]\nenabled = true\nlogpath = ../logs/auth.log\n");
    let said = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
    assert!(said.contains("set backend = systemd in [sshd]"), "{said}");
    assert!(said.contains("hint: correct logpath, or"), "{said}");
    if !Path::new("/var/log/auth.log").exists() {
        env.jails("[sshd]\nenabled = true\nlogpath = /var/log/auth.log\n");
        let said = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
        assert!(said.contains("hint: sshd logs to the journal"), "{said}");
    }

    // ferroban's own jail.conf reads sshd from the journal where auth.log is missing.
    let own = env.dir.join("own");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config"))
        .arg(&own)
        .status()
        .unwrap();
    assert!(copied.success());
    let dump = |sshd_log: &Path| {
        std::fs::write(
            own.join("jail.local"),
            format!(
                "[DEFAULT]\nsshd_log = {}\n[sshd]\nenabled = true\n",
                sshd_log.display()
            ),
        )
        .unwrap();
        let o = Command::new(BIN)
            .args(["server", "-d", "-c"])
            .arg(&own)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let auth_log = env.log("auth.log");
    assert!(dump(&auth_log).contains("['add', 'sshd', 'systemd']"));
    std::fs::write(&auth_log, "").unwrap();
    assert!(dump(&auth_log).contains("['add', 'sshd', 'auto']"));
}

/// The failures of `ip`, `minutes_ago` minutes ago, in `env`'s app.log.
fn failed_minutes_ago(env: &Env, ip: &str, minutes_ago: i64) {
    use jiff::ToSpan;
    let at = jiff::Zoned::now()
        .checked_sub(minutes_ago.minutes())
        .unwrap();
    env.fail_at("app.log", ip, 2, at);
}

// ferroban used to start every ban when it was made: on a log read late its ban
// ends differed from Fail2ban's, and it made bans Fail2ban drops as already over.
#[test]
fn a_log_read_late_gives_the_bans_and_ban_ends_fail2ban_gives() {
    let env = Env::new("late");
    failed_minutes_ago(&env, "198.51.100.1", 50); // its 10-minute ban ended 40 minutes ago
    failed_minutes_ago(&env, "198.51.100.2", 5); // in force for 5 more minutes
    failed_minutes_ago(&env, "198.51.100.3", 120); // older than findtime
    let policy = "maxretry = 2\nfindtime = 1h\nbantime = 10m\n";
    let Some(fail2ban) = Fail2ban::start(
        &env.dir.join("fail2ban"),
        &format!(
            "[app]\nenabled = true\nlogpath = {}\n{policy}",
            env.log("app.log").display()
        ),
    ) else {
        return;
    };
    assert!(
        fail2ban.wait_banned("app", "198.51.100.2"),
        "{}",
        fail2ban.log_text()
    );
    assert!(wait_for(10, || fail2ban
        .log_text()
        .contains("[app] Ignore 198.51.100.1, expired bantime")));
    let theirs = fail2ban.client(&["get", "app", "banip", "--with-time"]);
    let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
    fail2ban.stop();

    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = ../logs/app.log\n{policy}"
    ));
    let _d = env.start();
    assert!(
        wait_for(10, || env.own_log_text().contains("[app] Ban 198.51.100.2")),
        "{}",
        env.own_log_text()
    );
    assert!(env
        .own_log_text()
        .contains("[app] Ignore 198.51.100.1, expired bantime"));
    let ours = env.client_text(&["get", "app", "banip", "--with-time"]);
    assert_eq!(
        ours, theirs,
        "the same bans, from the same start to the same end"
    );
    assert!(
        theirs.contains("198.51.100.2 \t") && theirs.contains(" + 600 = "),
        "{theirs}"
    );
}

// Bans are logged when committed, after the batch of lines: a second failure in
// the same batch used to log "already banned" before the "Ban" it refers to.
#[test]
fn already_banned_is_logged_after_the_ban() {
    use jiff::ToSpan;
    let env = Env::new("already");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\n");
    let _d = env.start();
    let now = jiff::Zoned::now();
    let stamp = |z: &jiff::Zoned| z.strftime("%Y-%m-%d %H:%M:%S").to_string();
    // One write, so one batch; 10 s apart, so Fail2ban's level is NOTICE (not DEBUG).
    append(
        &env.log("app.log"),
        &format!(
            "{} login failed from 192.0.2.50\n{} login failed from 192.0.2.50\n",
            stamp(&now.checked_sub(10.seconds()).unwrap()),
            stamp(&now)
        ),
    );
    let log = || env.own_log_text();
    assert!(
        wait_for(10, || log().contains("192.0.2.50 already banned")),
        "{}",
        log()
    );
    let text = log();
    let ban = text.find("[app] Ban 192.0.2.50").expect("ban logged");
    let already = text
        .find("NOTICE  [app] 192.0.2.50 already banned")
        .expect(&text);
    assert!(ban < already, "{text}");
    // a later failure meets the committed ban: said at once, the same way
    append(
        &env.log("app.log"),
        &format!(
            "{} login failed from 192.0.2.50\n",
            stamp(&jiff::Zoned::now())
        ),
    );
    let said = || {
        log()
            .matches("NOTICE  [app] 192.0.2.50 already banned")
            .count()
    };
    assert!(wait_for(10, || said() == 2), "{}", log());
}

// A burst of offenders (a log read from its start) is committed 256 bans at a
// time: the commit that ends a drain of queued blocks early must still bring every
// ban to the actions and the database, once each. (What the batches save, memory at
// the peak, is measured by scripts/bench-server.sh, not here.)
#[test]
fn a_burst_of_offenders_is_banned_whole_and_once() {
    const OFFENDERS: usize = 1500;
    let env = Env::new("burst");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 3\n");
    let _d = env.start();
    let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
    let ip = |n: usize| format!("10.9.{}.{}", n >> 8, n & 255);
    let lines: String = (0..OFFENDERS)
        .map(|n| format!("{stamp} login failed from {}\n", ip(n)).repeat(3))
        .collect();
    append(&env.log("app.log"), &lines);
    let bans = || env.out_text().matches("ban app 10.9.").count();
    assert!(
        wait_for(120, || bans() >= OFFENDERS),
        "{} of {OFFENDERS} bans reached the action",
        bans()
    );
    let out = env.out_text();
    for n in 0..OFFENDERS {
        let line = format!("ban app {} ", ip(n));
        assert_eq!(out.matches(&line).count(), 1, "{line:?} in\n{out}");
    }
    let saved = || banned_in_database(&env.db).len();
    assert!(
        wait_for(20, || saved() == OFFENDERS),
        "{} of {OFFENDERS} bans in the database",
        saved()
    );
}

/// Reading the configuration and compiling the filters runs most of the binary's code
/// once, and recurses deeply; the kernel kept all of it mapped for the server's life:
/// about 80 % of the code, and the main thread's stack at its deepest (2 MB in a
/// debug build, 600 KB in a release build). Once ready, the server gives those pages
/// back: what it then runs is mapped again as it runs.
#[test]
fn an_idle_server_keeps_little_of_its_start_up_memory_resident() {
    let env = Env::new("idlecode");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let d = env.start();
    let pid = d.child.id();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    // The size and resident kB of the mappings `chosen` picks by permissions and path.
    let kib_of = |chosen: &dyn Fn(&str, &str) -> bool| {
        let (mut size, mut resident, mut in_it) = (0u64, 0u64, false);
        for line in smaps.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let kib = || {
                fields
                    .get(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            match fields.first() {
                Some(range) if range.contains('-') && !range.ends_with(':') => {
                    in_it = chosen(fields.get(1).unwrap_or(&""), fields.get(5).unwrap_or(&""));
                }
                Some(&"Size:") if in_it => size += kib(),
                Some(&"Rss:") if in_it => resident += kib(),
                _ => {}
            }
        }
        (size, resident)
    };
    let (code, code_resident) =
        kib_of(&|perms, path| perms.contains('x') && Path::new(path) == exe.as_path());
    assert!(code > 0, "no code mapping of {} in\n{smaps}", exe.display());
    assert!(
        code_resident * 2 < code,
        "{code_resident} of the {code} kB of code resident in an idle server"
    );
    let (_, stack_resident) = kib_of(&|_, path| path == "[stack]");
    assert!(
        stack_resident < 512,
        "{stack_resident} kB of the main thread's stack resident in an idle server"
    );
}

// Banning an ignored address used to answer `0` and nothing else.
#[test]
fn a_refused_ban_says_why_in_the_answer_and_the_log() {
    let env = Env::new("whynot");
    env.jails(
        "[app]\nenabled = true\nlogpath = ../logs/app.log\nignoreip = 127.0.0.1/8 203.0.113.0/24\n",
    );
    let _d = env.start();
    // A ban refused for an address is told on standard output, and the command
    // exits 1, as the README says of a refused command.
    let refused = |args: &[&str]| {
        let o = env.client(args);
        assert_eq!(o.status.code(), Some(1), "ferroban {args:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let answer = refused(&["ban", "app", "127.0.0.2", "203.0.113.9", "198.51.100.9"]);
    assert_eq!(
        answer.trim(),
        "1 banned; not banned: 127.0.0.2 (it is in ignoreip (127.0.0.0/8)), \
         203.0.113.9 (it is in ignoreip (203.0.113.0/24))"
    );
    // The answer may come before the log is flushed (once per round of events).
    assert!(wait_for(10, || env.own_log_text().contains(
        "[app] Ignore 203.0.113.9 by ip: not banned, it is in ignoreip (203.0.113.0/24)"
    )));
    // Loopback outside ignoreip is refused all the same, and said so.
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nignoreip =\nignoreself = false\n");
    env.client_text(&["reload"]);
    let answer = refused(&["ban", "app", "::1"]);
    assert_eq!(
        answer.trim(),
        "0 banned; not banned: ::1 (loopback is never banned)"
    );
    // Nothing refused: the bare count, as Fail2ban answers.
    assert_eq!(
        env.client_text(&["ban", "app", "198.51.100.10"]).trim(),
        "1"
    );
    // In Fail2ban's words (its client, scripts), the answer is its bare count
    // whatever was refused: the reasons are in the log.
    let fail2bans = env.client(&["set", "app", "banip", "::1", "198.51.100.11"]);
    assert!(fail2bans.status.success());
    assert_eq!(String::from_utf8_lossy(&fail2bans.stdout).trim(), "1");
    // A network, which Fail2ban bans, is refused as one, and the whole command
    // with it.
    let network = env.client(&["set", "app", "banip", "192.0.2.1", "198.51.100.0/24"]);
    assert!(!network.status.success());
    assert!(
        String::from_utf8_lossy(&network.stderr)
            .contains("'198.51.100.0/24' is a network: ferroban bans addresses"),
        "{network:?}"
    );
    assert!(!env.client_text(&["banned"]).contains("192.0.2.1'"));
    // What the client cannot send the server is said without one.
    for (args, said) in [
        (
            &["ban", "app"][..],
            "ban needs a jail and the addresses to ban",
        ),
        (&["unban"][..], "unban needs what to unban"),
    ] {
        let o = env.client(args);
        assert_eq!(o.status.code(), Some(1), "ferroban {args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(said), "{o:?}");
    }
}

/// The pid in the server's pid file.
fn pid_in(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn environment_of(pid: i32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default())
        .replace('\0', "\n")
}

// Before: the old server, still shutting down when the new one answered, deleted
// the new one's socket (only kill stopped it then), and the new server ran in the
// client's environment and network namespace.
#[test]
fn restart_keeps_the_socket_and_runs_where_the_server_ran() {
    let env = Env::new("restartsocket");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let private_net = is_root() && Path::new("/usr/bin/unshare").exists();
    if !private_net {
        eprintln!("SKIPPED network namespace part: needs root and unshare");
    }
    let wrapper: &[&str] = if private_net {
        &["unshare", "--net"]
    } else {
        &[]
    };
    let mut server = env.server_command(wrapper, &["--no-dry-run"]);
    server.env("FERROBAN_TEST_STARTED_BY", "service");
    // Its output goes to a file (as `logtarget = STDERR` in a terminal would go
    // there): the new server's goes on there, not to /dev/null.
    let output = env.dir.join("server.err");
    server.stderr(std::fs::File::create(&output).unwrap());
    let old = Daemon {
        child: server.spawn().unwrap(),
    };
    assert!(wait_for(10, || env.client(&["ping"]).status.success()));
    let old_pid = old.child.id() as i32;
    let old_netns = std::fs::metadata(format!("/proc/{old_pid}/ns/net")).unwrap();
    let restart = Command::new(BIN)
        .arg("-s")
        .arg(env.socket())
        .arg("-c")
        .arg(env.conf())
        .arg("restart")
        .env("FERROBAN_TEST_STARTED_BY", "client")
        .output()
        .unwrap();
    assert!(
        restart.status.success(),
        "{}",
        String::from_utf8_lossy(&restart.stderr)
    );
    drop(old); // reaped; it has exited already
    let pidfile = env.dir.join("run/ferroban.pid");
    let new_pid = pid_in(&pidfile).expect("the new server's pid file");
    assert_ne!(new_pid, old_pid);
    // The socket stays the new server's, also after the old one is gone.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        env.client(&["ping"]).status.success(),
        "{}",
        env.own_log_text()
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{new_pid}/fd/2")).unwrap(),
        output,
        "the new server's standard error"
    );
    let environ = environment_of(new_pid);
    assert!(
        environ.contains("FERROBAN_TEST_STARTED_BY=service"),
        "{environ}"
    );
    assert!(
        !environ.contains("FERROBAN_TEST_STARTED_BY=client"),
        "{environ}"
    );
    if private_net {
        use std::os::unix::fs::MetadataExt;
        let new_netns = std::fs::metadata(format!("/proc/{new_pid}/ns/net")).unwrap();
        let client_netns = std::fs::metadata("/proc/self/ns/net").unwrap();
        assert_eq!(new_netns.ino(), old_netns.ino(), "the server's namespace");
        assert_ne!(new_netns.ino(), client_netns.ino(), "not the client's");
    }
    // `stop` still reaches it: no kill needed.
    assert!(env.client(&["stop"]).status.success());
    let stopped = wait_for(15, || {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(new_pid, 0) != 0 }
    });
    if !stopped {
        // SAFETY: the test's own server, by its pid.
        unsafe { libc::kill(new_pid, libc::SIGKILL) };
    }
    assert!(stopped, "the restarted server did not stop");
    assert!(!env.socket().exists() && !pidfile.exists());
}

#[test]
fn a_stopping_server_leaves_a_newer_servers_socket_and_pid_file_alone() {
    let env = Env::new("ownsocket");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let mut older = env.start();
    // The path now goes to a newer server, while the older one still runs.
    std::fs::remove_file(env.socket()).unwrap();
    let newer = env.start();
    // SAFETY: the test's own child, by its pid.
    unsafe { libc::kill(older.child.id() as i32, libc::SIGTERM) };
    older.child.wait().unwrap();
    assert!(
        env.client(&["ping"]).status.success(),
        "the newer server's socket"
    );
    assert_eq!(
        pid_in(&env.dir.join("run/ferroban.pid")),
        Some(newer.child.id() as i32)
    );
}

// A bad failregex said "failregex #1" (0-based), no file or line, and a position
// inside the expanded <HOST>; a typo in a jail name said only "create sshdd.conf".
#[test]
fn configuration_errors_point_at_what_the_user_wrote() {
    let env = Env::new("messages");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    std::fs::write(
        env.conf().join("filter.d/test.local"),
        "[Definition]\nfailregex = ^ok from <HOST>$\n\n            ^bad <HOST> x)\n",
    )
    .unwrap();
    let said = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
    let local = env.conf().join("filter.d/test.local");
    for part in [
        &format!("{}:4:", local.display()),
        "failregex 2 of the filter",
        "unbalanced parenthesis at column 14:",
        "\n    ^bad <HOST> x)\n                 ^",
    ] {
        assert!(said.contains(part), "{part:?}: {said}");
    }
    std::fs::remove_file(&local).unwrap();
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n[tset]\nenabled = true\nfilter = %(__name__)s\nlogpath = ../logs/app.log\n");
    let said = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
    let jail_local = env.conf().join("jail.local");
    for part in [
        &format!("{}:11:", jail_local.display()),
        "[tset] filter \"tset\" not found",
        "did you mean filter = test?",
    ] {
        assert!(said.contains(part), "{part:?}: {said}");
    }
}

// The defaults for anything but the installed service put the socket, pid file
// and database under /tmp: a directory there that another user could write to is
// refused, so that nobody can plant a link where a root server writes.
#[test]
fn a_state_directory_others_can_write_is_refused() {
    let env = Env::new("sharedtmp");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let run = env.dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = env
        .server_command(&[], &[])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("is not a private directory of this user"),
        "{said}"
    );
    assert!(!env.socket().exists());
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _d = env.start();
}

#[test]
fn recidive_reads_ferrobans_own_log() {
    let stock = Path::new("/etc/fail2ban/filter.d");
    if !stock.join("recidive.conf").exists() {
        eprintln!("SKIPPED recidive_reads_ferrobans_own_log: Fail2ban's recidive filter is not installed (apt-get install fail2ban)");
        return;
    }
    let env = Env::new("recidive");
    for f in ["recidive.conf", "common.conf"] {
        std::fs::copy(stock.join(f), env.conf().join("filter.d").join(f)).unwrap();
    }
    let own_log = env.own_log();
    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\nbantime = 1h\n\n\
         [recidive]\nenabled = true\nfilter = recidive\nlogpath = {}\nmaxretry = 2\nfindtime = 1d\nbantime = 30d\n",
        own_log.display()
    ));
    let _d = env.start();
    env.fail("app.log", "192.0.2.60", 1);
    assert!(env.wait_out("ban app 192.0.2.60"));
    env.client_text(&["unban", "app", "192.0.2.60"]);
    env.fail("app.log", "192.0.2.60", 1);
    assert!(
        env.wait_out("ban recidive 192.0.2.60 2592000"),
        "recidive banned the repeat offender: {}\n{}",
        env.out_text(),
        env.own_log_text()
    );
    // Fail2ban's own tester, on ferroban's log, finds every Ban of the other jails.
    if let Ok(o) = Command::new("fail2ban-regex")
        .arg(&own_log)
        .arg(stock.join("recidive.conf"))
        .output()
    {
        let report = String::from_utf8_lossy(&o.stdout);
        let bans = env
            .own_log_text()
            .lines()
            .filter(|l| l.contains("NOTICE  [app] Ban "))
            .count();
        assert!(
            report.contains(&format!("{bans} matched")),
            "{bans} bans:\n{report}"
        );
    }
}

#[test]
fn journal_backend_reads_journal_files() {
    let stock = Path::new("/etc/fail2ban/filter.d");
    if !Path::new(common::JOURNAL_REMOTE).exists()
        || !stock.join("sshd.conf").exists()
        || Command::new("journalctl")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("SKIPPED journal_backend_reads_journal_files: needs journalctl, systemd-journal-remote and Fail2ban's sshd filter");
        return;
    }
    let env = Env::new("journal");
    for f in ["sshd.conf", "common.conf"] {
        std::fs::copy(stock.join(f), env.conf().join("filter.d").join(f)).unwrap();
    }
    let journal = env.dir.join("test.journal");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let mut export = String::new();
    for i in 0..3u128 {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=vps\n\
             SYSLOG_IDENTIFIER=sshd\n_PID=812\n_SYSTEMD_UNIT=sshd.service\n_COMM=sshd\n\
             MESSAGE=Failed password for root from 192.0.2.70 port 5{i}022 ssh2\n\n",
            now_us + i,
            1000 + i
        ));
    }
    common::write_journal(&journal, &export);
    // The guide's sshd jail: backend = systemd; the journal files are the test's.
    env.jails(&format!("[sshd]\nenabled = true\nfilter = sshd\nbackend = systemd[journalfiles=\"{}\"]\nmaxretry = 3\n", journal.display()));
    let _d = env.start();
    assert!(
        env.wait_out("ban sshd 192.0.2.70"),
        "{}\n{}",
        env.out_text(),
        env.own_log_text()
    );
    let status = env.client_text(&["status", "sshd"]);
    assert!(
        status.contains("Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd"),
        "{status}"
    );
}

/// A copy of the installed Fail2ban configuration, as an administrator has it.
fn stock_config(env: &Env) -> bool {
    if !Path::new("/etc/fail2ban/jail.conf").exists() {
        eprintln!("SKIPPED: Fail2ban's configuration is not installed (apt-get install fail2ban)");
        return false;
    }
    let ok = Command::new("cp")
        .arg("-a")
        .arg("/etc/fail2ban/.")
        .arg(env.conf())
        .status()
        .unwrap()
        .success();
    std::fs::write(env.conf().join("filter.d/test.conf"), TEST_FILTER).unwrap();
    let _ = std::fs::remove_file(env.conf().join("jail.local"));
    // Debian's file enables sshd on /var/log/auth.log, which a host without rsyslog
    // does not have; Fail2ban refuses that configuration there, and so does ferroban.
    let _ = std::fs::remove_file(env.conf().join("jail.d/defaults-debian.conf"));
    ok
}

/// `-d` prints a journal jail's settings as Debian's fail2ban-client prints them:
/// no log path (a journal jail reads none), `maxlines` a count; each line both print
/// for these settings is the same, word for word.
#[test]
fn the_dump_of_a_journal_jail_has_fail2bans_lines() {
    let env = Env::new("dumpjournal");
    if !stock_config(&env) {
        return;
    }
    std::fs::write(
        env.conf().join("jail.local"),
        "[sshd]\nenabled = true\nbackend = systemd\nbantime.increment = true\nbantime.maxtime = 1w\n",
    )
    .unwrap();
    let conf = env.conf().display().to_string();
    let (theirs, ours) = both_tools(&env.dir, "fail2ban-client", &["-c", &conf, "-d"]);
    let compared = [
        // (left out before: a dump that read as if increment were off)
        "['set', 'sshd', 'bantime.",
        "['add', 'sshd'",
        "['set', 'sshd', 'usedns'",
        "['set', 'sshd', 'prefregex'",
        "['set', 'sshd', 'maxlines'",
        "['set', 'sshd', 'datepattern'",
        "['set', 'sshd', 'addjournalmatch'",
        "['set', 'sshd', 'maxretry'",
        "['set', 'sshd', 'addaction'",
    ];
    for start in compared {
        let of = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with(start))
                .map(str::to_string)
                .collect()
        };
        assert!(!of(&theirs).is_empty(), "{start} in\n{theirs}");
        assert_eq!(of(&ours), of(&theirs), "{start}");
    }
    assert!(!ours.contains("'addlogpath'"), "{ours}");
}

/// A file that starts with a UTF-8 byte-order mark is read, and warned of:
/// Fail2ban's own tools refuse it.
#[test]
fn a_byte_order_mark_is_read_and_warned_of() {
    let env = Env::new("bom");
    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = {}\n",
        env.log("app.log").display()
    ));
    let local = env.conf().join("jail.local");
    let text = std::fs::read(&local).unwrap();
    std::fs::write(&local, [&[0xEF, 0xBB, 0xBF][..], &text].concat()).unwrap();
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "WARNING: {}:1: the file starts with a UTF-8 byte-order mark",
            local.display()
        )),
        "{err}"
    );
    std::fs::write(&local, text).unwrap();
    let err = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
    assert!(!err.contains("byte-order mark"), "{err}");
}

/// A lower-case tag no option defines (a misspelt option) is warned of at the line
/// of the regex that holds it: in the filter's file, or in the jail's section that
/// set the failregex.
#[test]
fn an_undefined_tag_is_warned_of_at_its_regexs_line() {
    let env = Env::new("undefinedtag");
    std::fs::write(
        env.conf().join("filter.d/typo.conf"),
        "[Definition]\nuser = <F-USER>\\S+</F-USER>\n\
         failregex = ^bad login from <HOST>$\n            ^bad user <usr> from <HOST>$\n",
    )
    .unwrap();
    env.jails(&format!(
        "[typo]\nenabled = true\nfilter = typo\nlogpath = {}\n\
         [inline]\nenabled = true\nlogpath = {}\nfailregex = ^x from <HOST>$\n    ^y <hots> from <HOST>$\n",
        env.log("app.log").display(),
        env.log("web.log").display()
    ));
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{err}");
    // fail2ban-client's `-t`, typed to ferroban's client, is the same test (it
    // went to the server as a command)
    let dash_t = env.client(&["-t"]);
    assert_eq!(
        (&dash_t.stdout, &dash_t.stderr, dash_t.status.code()),
        (&check.stdout, &check.stderr, Some(0))
    );
    let filter = env.conf().join("filter.d/typo.conf");
    assert!(
        err.contains(&format!(
            "WARNING: {}:4: [typo] filter typo's regexes refer to <usr>, which no option defines",
            filter.display()
        )),
        "{err}"
    );
    let local = env.conf().join("jail.local");
    assert!(
        err.contains(&format!(
            "WARNING: {}:14: [inline] filter test's regexes refer to <hots>",
            local.display()
        )),
        "{err}"
    );
}

/// Every jail of Fail2ban's jail.conf, enabled (on the journal, so that no log file
/// is missing) passes `check`, as `fail2ban-client -t` passes it. The nsd, asterisk,
/// freeswitch, counter-strike, murmur and pass2allow-ftp jails failed: their
/// `%(default/action_)s[name=…]` makes an action with two bracket groups.
/// A misspelt filter option is warned of: `mode = agressive` leaves sshd's
/// `<mdre-agressive>` in its failregex, matching nothing, where Fail2ban says OK.
#[test]
fn every_stock_jail_passes_check_and_a_misspelt_mode_or_option_is_warned_of() {
    let env = Env::new("stockjails");
    if !stock_config(&env) {
        return;
    }
    let jail_conf = std::fs::read_to_string(env.conf().join("jail.conf")).unwrap();
    let names: Vec<&str> = jail_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']'))
        .filter(|n| !matches!(*n, "INCLUDES" | "DEFAULT"))
        .collect();
    assert!(names.len() > 80, "{names:?}");
    let local: String = names
        .iter()
        .map(|n| format!("[{n}]\nenabled = true\nbackend = systemd\n"))
        .collect();
    std::fs::write(env.conf().join("jail.local"), &local).unwrap();
    let check = env.client(&["check"]);
    let (out, err) = (
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr),
    );
    assert!(check.status.success(), "{err}");
    assert!(out.contains(&format!("({} jails: ", names.len())), "{out}");
    assert!(!err.contains("no option defines"), "{err}");
    assert!(!err.contains("is not an option"), "{err}");
    std::fs::write(
        env.conf().join("jail.local"),
        "[sshd]\nenabled = true\nbackend = systemd\nmode = agressive\nbantim = 1h\n",
    )
    .unwrap();
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{err}");
    // named at the `mode =` line, and below at the `filter = NAME[mode=…]` line
    let local = env.conf().join("jail.local");
    assert!(
        err.contains(&format!(
            "WARNING: {}:4: [sshd] mode = agressive is not a mode of filter sshd (its modes: \
             aggressive, ddos, extra, normal): its regexes refer to <mdre-agressive",
            local.display()
        )),
        "{err}"
    );
    assert_eq!(
        err.matches("refer to <mdre-").count(),
        1,
        "one warning: {err}"
    );
    // ferroban's own sshd filter names its modes' options otherwise
    // (`closed-MODE`): the same warning.
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/filter.d");
    std::fs::copy(
        own.join("sshd.conf"),
        env.conf().join("filter.d/own-sshd.conf"),
    )
    .unwrap();
    std::fs::copy(
        own.join("ferroban-common.conf"),
        env.conf().join("filter.d/ferroban-common.conf"),
    )
    .unwrap();
    std::fs::create_dir_all(env.conf().join("jail.d")).unwrap();
    std::fs::write(
        env.conf().join("jail.d/own.local"),
        "[own]\nenabled = true\nfilter = own-sshd[mode=agressive]\nbackend = systemd\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
    assert!(
        err.contains(&format!(
            "WARNING: {}:3: [own] mode = agressive is not a mode of filter own-sshd (its \
             modes: aggressive, ddos, extra, normal): its regexes refer to <",
            env.conf().join("jail.d/own.local").display()
        )),
        "{err}"
    );
    std::fs::remove_file(env.conf().join("jail.d/own.local")).unwrap();
    assert!(
        err.contains(&format!(
            "WARNING: {}:5: [sshd] bantim is not an option, so this line changes nothing",
            local.display()
        )) && err.contains("did you mean bantime?"),
        "{err}"
    );
    // A recidive jail that reads another log than the server's own sees no ban.
    let own_log = env.dir.join("own.log");
    let other_log = env.dir.join("other.log");
    std::fs::write(&own_log, "").unwrap();
    std::fs::write(&other_log, "").unwrap();
    std::fs::write(
        env.conf().join("ferroban.local"),
        format!("[Definition]\nlogtarget = {}\n", own_log.display()),
    )
    .unwrap();
    for (logpath, warned) in [(&other_log, true), (&own_log, false)] {
        std::fs::write(
            &local,
            format!(
                "[recidive]\nenabled = true\nlogpath = {}\n",
                logpath.display()
            ),
        )
        .unwrap();
        let check = env.client(&["check"]);
        let err = String::from_utf8_lossy(&check.stderr);
        assert!(check.status.success(), "{err}");
        let said = format!(
            "[recidive] reads {}, but this server logs to {}: it never sees a ban",
            other_log.display(),
            own_log.display()
        );
        assert_eq!(err.contains(&said), warned, "{err}");
    }
    std::fs::remove_file(env.conf().join("ferroban.local")).unwrap();
    // Where a misspelt mode leaves a failregex without <HOST>, the error says so.
    std::fs::write(
        &local,
        "[nginx-http-auth]\nenabled = true\nbackend = systemd\nmode = agressive\n",
    )
    .unwrap();
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{err}");
    assert!(
        err.contains("mode = agressive is not a mode of filter nginx-http-auth (its modes:"),
        "{err}"
    );
    // A port list the firewall would refuse: refused here, at its line.
    std::fs::write(
        &local,
        "[sshd]\nenabled = true\nbackend = systemd\nport = 22 2222\n",
    )
    .unwrap();
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "{}:4: [sshd] port = 22 2222: \"22 2222\" is not a port number",
            local.display()
        )),
        "{err}"
    );
}

#[test]
fn the_guides_jail_local_runs_unchanged() {
    let env = Env::new("guide");
    if !stock_config(&env) {
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config/filter.d");
    for f in std::fs::read_dir(&examples).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, env.conf().join("filter.d").join(f.file_name().unwrap())).unwrap();
    }
    // As the guide's administrator first saved it: with a UTF-8 byte order mark.
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guide/jail.local"),
    )
    .unwrap();
    // The guide's host has its Apache, mail and Fail2ban logs; this one may not.
    let guide = with_empty_host_logs(&env.dir, &guide);
    std::fs::write(env.conf().join("jail.local"), format!("\u{feff}{guide}")).unwrap();
    let link = env.dir.join("fail2ban-client");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let test = Command::new(&link)
        .arg("-c")
        .arg(env.conf())
        .arg("-t")
        .output()
        .unwrap();
    // the jails are named on stderr (stdout has Fail2ban's line alone)
    let text = String::from_utf8_lossy(&test.stderr);
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        text
    );
    for jail in [
        "sshd",
        "apache-botsearch",
        "wordpress-auth",
        "wordpress-auth-hook",
        "apache-envscan",
        "postfix",
        "postfix-sasl",
        "postfix-protocol",
        "postfix-postscreen",
        "recidive",
    ] {
        assert!(text.contains(jail), "{jail} missing: {text}");
    }
    // The server runs it (actions only logged): banaction = nftables is the native,
    // batched implementation, with the stock file's parameters.
    let _d = env.start_with(&[], &["--dry-run"]);
    let status = env.client_text(&["status"]);
    assert!(status.contains("Number of jail:\t10"), "{status}");
    assert_eq!(
        env.client_text(&["ban", "wordpress-auth", "192.0.2.80"])
            .trim(),
        "1"
    );
    assert!(
        wait_for(10, || env.own_log_text().contains(
            "add element inet f2b-table addr-set-wordpress-auth { 192.0.2.80 }"
        )),
        "{}",
        env.own_log_text()
    );
    assert_eq!(
        env.client_text(&["get", "apache-envscan", "bantime"])
            .trim(),
        "604800"
    );
    assert_eq!(
        env.client_text(&["get", "apache-envscan", "bantime.maxtime"])
            .trim(),
        "2592000"
    );
    let sshd = env.client_text(&["status", "sshd"]);
    assert!(
        sshd.contains("Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd"),
        "{sshd}"
    );
    // `set` takes one value: unquoted words are refused, not cut to the first
    // (`2 days` would be 2 seconds); a change is logged, with how long it lasts.
    let refused = env.client(&["set", "sshd", "bantime", "2", "days"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("set sshd bantime takes one value, not 2 (2 days): quote it"),
        "{said}"
    );
    assert_eq!(env.client_text(&["get", "sshd", "bantime"]).trim(), "3600");
    assert_eq!(
        env.client_text(&["set", "sshd", "bantime", "2 days"])
            .trim(),
        "172800"
    );
    assert!(
        wait_for(5, || env
            .own_log_text()
            .contains("[sshd] set bantime 172800 (until the next reload)")),
        "{}",
        env.own_log_text()
    );
}

/// The filter options of each jail in a configuration dump (`-d`): option →
/// values, as text (Fail2ban's `multi-set` lists and single `set`s alike).
fn filter_options_dumped(lines: &str) -> std::collections::BTreeMap<(String, String), Vec<String>> {
    const FILTER_OPTIONS: [&str; 7] = [
        "usedns",
        "maxlines",
        "prefregex",
        "datepattern",
        "addfailregex",
        "addignoreregex",
        "addjournalmatch",
    ];
    let mut options = std::collections::BTreeMap::new();
    for line in lines.lines() {
        let Ok(serde_json::Value::Array(words)) = serde_json::from_str(line) else {
            continue;
        };
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let [verb, jail, option, values @ ..] = &words[..] else {
            continue;
        };
        let option = text(option);
        if !matches!(text(verb).as_str(), "set" | "multi-set")
            || !FILTER_OPTIONS.contains(&option.as_str())
        {
            continue;
        }
        let values: Vec<String> = match values {
            [serde_json::Value::Array(many)] => many.iter().map(text).collect(),
            // a journal match's words, as Fail2ban splits them
            words => vec![words.iter().map(text).collect::<Vec<_>>().join(" ")],
        };
        let entry: &mut Vec<String> = options.entry((text(jail), option)).or_default();
        entry.extend(values);
    }
    options
}

// Before, ferroban read these options from the filter only: a jail's own
// `ignoreregex` was dropped without a word (and the address it spares banned), a
// jail's own `failregex` never searched, and `check` said OK either way.
/// Filter options set in a jail's section, or in `[DEFAULT]`, replace the filter's
/// (`%(known/failregex)s` naming the filter's), as Debian's `fail2ban-client -d`
/// shows for the same configuration; and the server bans by them.
#[test]
fn a_jails_own_filter_options_replace_its_filters_as_in_fail2ban() {
    let env = Env::new("jailfilteropts");
    if !stock_config(&env) {
        return;
    }
    let auth = env.log("auth.log");
    let access = env.log("access.log");
    std::fs::write(&access, "").unwrap();
    std::fs::write(
        env.conf().join("jail.local"),
        format!(
            "[DEFAULT]\nbanaction = dummy\nignoreregex = ^never <HOST>$\n\n\
             [sshd]\nenabled = true\nbackend = polling\nlogpath = {auth}\n\
             failregex = %(known/failregex)s\n            ^bad login from <HOST>$\n\
             ignoreregex = for root from\njournalmatch = _COMM=sshd-session\n\n\
             [apache-auth]\nenabled = true\nlogpath = {access}\nusedns = no\n\
             prefregex = ^client <HOST> <F-CONTENT>.+</F-CONTENT>$\nignoreregex =\n\n\
             [nginx-http-auth]\nenabled = true\nlogpath = {access}\nmaxlines = 2\n\
             datepattern = ^%%b %%d %%H:%%M:%%S\n",
            auth = auth.display(),
            access = access.display(),
        ),
    )
    .unwrap();
    std::fs::write(&auth, "").unwrap();
    if python_fail2ban_client().is_some() {
        let conf = env.conf();
        let args = ["-c", conf.to_str().unwrap(), "-d"];
        let (theirs, ours) = both_tools(&env.dir, "fail2ban-client", &args);
        // Python's literals (both dumps are in Fail2ban's form) as JSON
        let as_json = |dump: &str| {
            let mut python = Command::new("python3")
                .args([
                    "-c",
                    "import ast, json, sys\nfor l in sys.stdin:\n    \
                     l.startswith('[') and print(json.dumps(ast.literal_eval(l)))",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            python
                .stdin
                .take()
                .unwrap()
                .write_all(dump.as_bytes())
                .unwrap();
            let out = python.wait_with_output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let theirs = filter_options_dumped(&as_json(&theirs));
        let key = |jail: &str, option: &str| (jail.to_string(), option.to_string());
        let sshd_failregex = &theirs[&key("sshd", "addfailregex")];
        assert!(sshd_failregex.len() > 2, "{theirs:?}");
        assert_eq!(sshd_failregex.last().unwrap(), "^bad login from <HOST>$");
        assert_eq!(
            theirs[&key("nginx-http-auth", "addignoreregex")],
            ["^never <HOST>$"]
        );
        assert_eq!(theirs[&key("apache-auth", "usedns")], ["no"]);
        // an empty one clears [DEFAULT]'s
        assert!(!theirs.contains_key(&key("apache-auth", "addignoreregex")));
        assert_eq!(filter_options_dumped(&as_json(&ours)), theirs, "{ours}");
    }

    // The server: the jail's ignoreregex spares root's failures, its own failregex
    // finds the others.
    let _d = env.start_with(&[], &["--dry-run"]);
    let now = jiff::Zoned::now().strftime("%b %d %H:%M:%S").to_string();
    let lines: String = (0..6)
        .map(|i| {
            format!(
                "{now} host sshd[1{i}]: Failed password for root from 192.0.2.45 port 22 ssh2\n\
                 {now} host sshd[2{i}]: bad login from 192.0.2.44\n"
            )
        })
        .collect();
    append(&auth, &lines);
    assert!(
        wait_for(10, || env
            .client_text(&["status", "sshd"])
            .contains("192.0.2.44")),
        "{}",
        env.own_log_text()
    );
    let status = env.client_text(&["status", "sshd"]);
    assert!(!status.contains("192.0.2.45"), "{status}");
    assert_eq!(
        env.client_text(&["get", "sshd", "ignoreregex"]),
        "The following regular expression are defined:\n`- [0]: for root from\n"
    );
}

// A fresh /etc/ferroban has every jail off: `check` said "(0 jails: )".
#[test]
fn check_says_what_to_do_when_no_jail_is_enabled() {
    let env = Env::new("nojail");
    env.jails("[app]\nenabled = false\nlogpath = ../logs/app.log\n");
    let said = env.client_text(&["check"]);
    assert!(
        said.contains("(no jail is enabled: set enabled = true in a jail of "),
        "{said}"
    );
}

// Before, `check` said OK and nothing more: the jail looked shared, and shared
// nothing.
#[test]
fn a_jail_in_a_fleet_without_a_fleet_section_is_warned_about() {
    let env = Env::new("fleetless");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nfleet = share\n");
    let check = env.client(&["check"]);
    let said = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(check.status.success(), "{said}");
    assert!(
        said.contains(
            "jail.local:9: [app] fleet = share does nothing: there is no [Fleet] section"
        ),
        "{said}"
    );
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let said = String::from_utf8_lossy(&env.client(&["check"]).stderr).into_owned();
    assert!(!said.contains("[Fleet]"), "{said}");
}

// A broken regex a jail sets is told where the jail sets it.
#[test]
fn a_bad_regex_set_in_a_jail_is_told_at_its_line() {
    let env = Env::new("jailbadregex");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nfailregex = ^ok <HOST>$\n  # the new one\n  ^bad (login from <HOST>$\n");
    let check = env.client(&["check"]);
    let said = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(!check.status.success(), "{said}");
    let local = env.conf().join("jail.local");
    for part in [
        &format!("{}:11:", local.display()),
        "failregex 2 set in the jail",
        "^bad (login from <HOST>$",
    ] {
        assert!(said.contains(part), "{part}: {said}");
    }
}

#[test]
fn native_nftables_bans_in_a_private_network_namespace() {
    let Some((env, d, pid)) = firewall_server(
        "native_nftables_bans_in_a_private_network_namespace",
        "nft",
        "nftables",
        "app",
        &["nft"],
        &["nft", "add", "table", "inet", "ferroban-probe"],
    ) else {
        return;
    };
    let nft = |args: &str| in_namespace_of(&pid, &format!("nft {args}"));
    env.fail("app.log", "192.0.2.90", 1);
    env.client_text(&["ban", "app", "2001:db8::90"]);
    assert!(
        wait_for(15, || nft("list set inet f2b-table addr-set-app")
            .contains("192.0.2.90")),
        "{}\n{}",
        nft("list ruleset"),
        env.own_log_text()
    );
    assert!(
        wait_for(15, || nft("list set inet f2b-table addr6-set-app")
            .contains("2001:db8::90")),
        "{}",
        nft("list ruleset")
    );
    let chain = nft("list chain inet f2b-table f2b-chain");
    assert!(
        chain.contains("tcp dport { 80, 443 } ip saddr @addr-set-app reject"),
        "{chain}"
    );
    assert!(
        !Command::new("nft")
            .args(["list", "table", "inet", "f2b-table"])
            .output()
            .unwrap()
            .stdout
            .windows(11)
            .any(|w| w == b"addr-set-app"),
        "the host's firewall is untouched"
    );
    env.client_text(&["unban", "192.0.2.90"]);
    assert!(
        wait_for(15, || !nft("list set inet f2b-table addr-set-app")
            .contains("192.0.2.90")),
        "{}",
        nft("list ruleset")
    );
    env.client_text(&["ban", "app", "192.0.2.91"]);
    assert!(wait_for(15, || nft("list set inet f2b-table addr-set-app")
        .contains("192.0.2.91")));
    // Someone flushes the whole ruleset (`systemctl reload nftables`): the next ban
    // puts the layout back, and with it every ban still in force, not only its own.
    nft("flush ruleset");
    env.client_text(&["ban", "app", "192.0.2.95"]);
    let restored = || {
        let v4 = nft("list set inet f2b-table addr-set-app");
        let v6 = nft("list set inet f2b-table addr6-set-app");
        v4.contains("192.0.2.95") && v4.contains("192.0.2.91") && v6.contains("2001:db8::90")
    };
    assert!(
        wait_for(15, restored),
        "{}\n{}",
        nft("list ruleset"),
        env.own_log_text()
    );
    assert!(nft("list chain inet f2b-table f2b-chain").contains("@addr-set-app reject"));
    assert!(
        env.own_log_text()
            .contains("2 of 2 bans in force made again"),
        "{}",
        env.own_log_text()
    );
    // Flushed again, and no ban comes: a reload (or, within 30 s, the actions' own
    // look) puts the rules and every ban back.
    nft("flush ruleset");
    env.client_text(&["reload"]);
    assert!(
        wait_for(15, || restored()
            && nft("list chain inet f2b-table f2b-chain")
                .contains("@addr-set-app reject")),
        "{}\n{}",
        nft("list ruleset"),
        env.own_log_text()
    );
    env.client_text(&["stop"]);
    assert!(wait_for(15, || !env.socket().exists()));
    drop(d);
}

#[test]
fn increments_count_every_jail_with_overalljails_and_polling_reads() {
    let env = Env::new("overall");
    env.jails(
        "[DEFAULT]\nmaxretry = 1\nbantime = 100\nbantime.increment = true\nbantime.overalljails = true\nbantime.factor = 1\n\
         [app]\nenabled = true\nlogpath = ../logs/app.log\n\
         [web]\nenabled = true\nbackend = polling\nlogpath = ../logs/web.log\n",
    );
    let _d = env.start();
    env.fail("app.log", "192.0.2.100", 1);
    assert!(
        env.wait_out("ban app 192.0.2.100 100 1"),
        "{}",
        env.out_text()
    );
    // the same address in another jail (read by polling): its second ban anywhere
    env.fail("web.log", "192.0.2.100", 1);
    assert!(
        env.wait_out("ban web 192.0.2.100 200 2"),
        "{}",
        env.out_text()
    );
    assert!(
        env.own_log_text()
            .contains("[web] Increase Ban 192.0.2.100 (2 # 3m 20s -> "),
        "{}",
        env.own_log_text()
    );
}

// Before, a known offender needed maxretry failures again (5 where Fail2ban bans
// at the 3rd): Fail2ban's observer counts each failure of an address the jail
// banned `n` times before as 2^n / 2 + 1.
#[test]
fn a_known_offenders_failures_count_more_as_fail2bans_observer_counts_them() {
    let env = Env::new("observer");
    env.jails(
        "[DEFAULT]\nmaxretry = 3\nfindtime = 600\nbantime = 2\nbantime.increment = true\nbantime.factor = 1\n\
         [app]\nenabled = true\nlogpath = ../logs/app.log\n",
    );
    let _d = env.start();
    // a ban that has ended (a ban lifted by hand is forgotten, as Fail2ban deletes it)
    env.fail("app.log", "192.0.2.120", 3);
    assert!(
        env.wait_out("ban app 192.0.2.120 2 1"),
        "{}",
        env.out_text()
    );
    assert!(env.wait_out("unban app 192.0.2.120"), "{}", env.out_text());
    // one failure after the ban counts as two: not yet three
    env.fail("app.log", "192.0.2.120", 1);
    let bad = "[app] Found 192.0.2.120, bad - ";
    assert!(
        wait_for(15, || env.own_log_text().contains(bad)),
        "{}",
        env.own_log_text()
    );
    assert!(
        env.own_log_text().contains(", 1 # -> 2\n"),
        "{}",
        env.own_log_text()
    );
    assert!(
        !env.out_text().contains("ban app 192.0.2.120 4 2"),
        "{}",
        env.out_text()
    );
    // the second bans, where the plain count would need a third
    env.fail("app.log", "192.0.2.120", 1);
    assert!(
        env.wait_out("ban app 192.0.2.120 4 2"),
        "{}\n{}",
        env.out_text(),
        env.own_log_text()
    );
    let log = env.own_log_text();
    let ban = log.find("[app] Ban 192.0.2.120\n").expect("the ban's line");
    let increase = log.find("[app] Increase Ban 192.0.2.120 (2 # 4s -> ");
    assert!(
        increase.is_some_and(|at| at > ban),
        "after the Ban line:\n{log}"
    );
}

/// Whether this test can run a server in a network namespace of its own: root, the
/// tools, and a `probe` command that the kernel accepts in a new namespace (root in a
/// container may still be denied namespaces or netfilter). Says why when it cannot.
fn firewall_namespace_ready(test: &str, tools: &[&str], probe: &[&str]) -> bool {
    let missing: Vec<&str> = ["unshare", "nsenter"]
        .iter()
        .chain(tools)
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {t}"))
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !is_root() || !missing.is_empty() {
        eprintln!("SKIPPED {test}: needs root and {missing:?}");
        return false;
    }
    let probe = Command::new("unshare")
        .arg("--net")
        .args(probe)
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!(
            "SKIPPED {test}: this machine refuses {probe:?} in a new network namespace: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        return false;
    }
    true
}

/// A server on a copy of the stock configuration, with one jail `jail` (the test
/// filter on app.log, maxretry 1, ports http and https) banning through `banaction`,
/// running in a network namespace of its own so that its firewall commands touch
/// nothing outside. `None` (with a SKIPPED line) where this machine cannot.
fn firewall_server(
    test: &str,
    tag: &str,
    banaction: &str,
    jail: &str,
    tools: &[&str],
    probe: &[&str],
) -> Option<(Env, Daemon, String)> {
    if !firewall_namespace_ready(test, tools, probe) {
        return None;
    }
    let env = Env::new(tag);
    if !stock_config(&env) {
        return None;
    }
    std::fs::write(
        env.conf().join("jail.local"),
        format!(
            "[DEFAULT]\nbanaction = {banaction}\n[{jail}]\nenabled = true\nfilter = test\nport = http,https\nlogpath = {}\nmaxretry = 1\nbantime = 1h\n",
            env.log("app.log").display()
        ),
    )
    .unwrap();
    let d = env.start_with(&["unshare", "--net"], &["--no-dry-run"]);
    let pid = d.child.id().to_string();
    Some((env, d, pid))
}

/// Run a shell command in the network namespace of process `pid`; stdout and stderr.
fn in_namespace_of(pid: &str, command: &str) -> String {
    let o = Command::new("nsenter")
        .args(["-t", pid, "-n", "sh", "-c", command])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// A named network namespace (`ip netns add`), which outlives the servers started
/// in it one after the other; deleted on drop.
struct NamedNamespace(String);

impl Drop for NamedNamespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// An installation on Fail2ban's stock configuration for a test that needs root,
/// `tools` and nftables in a network namespace; `None` after saying why the test
/// `test` is skipped.
fn nftables_stock_env(test: &str, tools: &[&str], tag: &str) -> Option<Env> {
    let probe = ["nft", "add", "table", "inet", "ferroban-probe"];
    if !firewall_namespace_ready(test, tools, &probe) {
        return None;
    }
    let env = Env::new(tag);
    stock_config(&env).then_some(env)
}

/// What the shell `script` prints (standard output, then error) run under
/// `unshare` with `namespaces` (`--net`, `--mount`).
fn unshared_output(namespaces: &[&str], script: &str) -> String {
    let out = Command::new("unshare")
        .args(namespaces)
        .args(["sh", "-c", script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// ferroban's `jail.local` of one jail `name` on the stock nftables action, reading
/// `app.log` with the test filter.
fn nftables_jail(env: &Env, name: &str) -> String {
    format!(
        "[DEFAULT]\nbanaction = nftables\n[{name}]\nenabled = true\nfilter = test\n\
         port = http\nlogpath = {}\n",
        env.log("app.log").display()
    )
}

/// A configuration of the real Fail2ban in the test's directory (returned) with one
/// jail, `app`, reading `app.log`, with the jail options `options` (lines).
fn fail2ban_config_with_app(env: &Env, options: &str) -> PathBuf {
    let dir = env.dir.join("f2b");
    let jail = format!(
        "[app]\nenabled = true\n{options}logpath = {}\n",
        env.log("app.log").display()
    );
    Fail2ban::write_config(&dir, &jail);
    dir
}

/// The shell lines that start the real fail2ban-server of the configuration `f2b`
/// in the background (for at most a minute) and wait until its client answers:
/// [`Fail2ban::start_written`] in shell, for a script run inside the test's own
/// network namespace, where that server must run to see the namespace's nftables.
fn fail2ban_started(f2b: &Path) -> String {
    let f2b = f2b.display();
    format!(
        "timeout 60 fail2ban-server -c {f2b} -xf start >/dev/null 2>&1 &\n\
         for i in $(seq 60); do fail2ban-client -c {f2b} ping >/dev/null 2>&1 && break; sleep 0.5; done\n"
    )
}

/// A Fail2ban that runs a jail of the same name in this network namespace, and has
/// banned nothing yet (no set to tell it by), is asked at its socket (the one
/// /etc/fail2ban names) and the start is refused: this server would delete that
/// shared set at stop. A Fail2ban whose jails have other names is no obstacle.
/// Both servers run in a mount namespace of the test's own, whose private
/// /run/fail2ban holds Fail2ban's socket.
#[test]
fn a_start_beside_fail2ban_running_a_jail_of_its_name_is_refused() {
    let Some(env) = nftables_stock_env(
        "a_start_beside_fail2ban_running_a_jail_of_its_name_is_refused",
        &["nft", "mount", "fail2ban-server"],
        "besidefail2ban",
    ) else {
        return;
    };
    let fail2ban = fail2ban_config_with_app(&env, "");
    // its socket where /etc/fail2ban says, in the test's private /run/fail2ban
    let conf = std::fs::read_to_string(fail2ban.join("fail2ban.conf")).unwrap();
    let conf = (conf.lines())
        .filter(|l| !l.starts_with("socket"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    std::fs::write(fail2ban.join("fail2ban.conf"), conf).unwrap();
    std::fs::create_dir_all("/run/fail2ban").unwrap();
    let local = env.conf().join("jail.local");
    std::fs::write(&local, nftables_jail(&env, "app")).unwrap();
    let server = format!(
        "timeout 20 {BIN} server -f --no-dry-run -c {} -s {} -p {} --dbfile :memory:",
        env.conf().display(),
        env.socket().display(),
        env.dir.join("ferroban.pid").display()
    );
    let script = format!(
        "mount -t tmpfs tmpfs /run/fail2ban || exit 90\n\
         {started}\
         {server} 2>&1; echo \"same name: exit $?\"\n\
         sed -i 's/^\\[app\\]/[web]/' {local}\n\
         {server} >/dev/null 2>&1 &\n\
         for i in $(seq 40); do {BIN} -s {sock} ping >/dev/null 2>&1 && break; sleep 0.25; done\n\
         {BIN} -s {sock} ping >/dev/null 2>&1 && echo 'other name: started'\n\
         {BIN} -s {sock} stop >/dev/null 2>&1\n\
         fail2ban-client -c {f2b} stop >/dev/null 2>&1\n\
         wait\n",
        started = fail2ban_started(&fail2ban),
        f2b = fail2ban.display(),
        local = local.display(),
        sock = env.socket().display(),
    );
    let text = unshared_output(&["--mount", "--net"], &script);
    assert!(
        text.contains("ERROR: the server on /var/run/fail2ban/fail2ban.sock (Fail2ban's socket) runs in this network namespace with jails of the names of this server's: app.")
            && text.contains("same name: exit 255"),
        "{text}"
    );
    assert!(text.contains("other name: started"), "{text}");
}

/// A ban the real Fail2ban put in its nftables set (its jail of the same name,
/// its socket elsewhere than /etc/fail2ban says, so only the set tells) makes
/// the start refuse, and the ban stays in the kernel.
#[test]
fn a_start_over_fail2bans_banned_set_is_refused_and_its_ban_stays() {
    let Some(env) = nftables_stock_env(
        "a_start_over_fail2bans_banned_set_is_refused_and_its_ban_stays",
        &["nft", "fail2ban-server"],
        "overfail2ban",
    ) else {
        return;
    };
    let fail2ban = fail2ban_config_with_app(&env, "port = http\naction = nftables\n");
    std::fs::copy(
        "/etc/fail2ban/action.d/nftables.conf",
        fail2ban.join("action.d/nftables.conf"),
    )
    .unwrap();
    std::fs::write(env.conf().join("jail.local"), nftables_jail(&env, "app")).unwrap();
    let script = format!(
        "{started}\
         fail2ban-client -c {f2b} set app banip 198.51.100.41 >/dev/null\n\
         timeout 20 {BIN} server -f --no-dry-run -c {conf} -s {sock} --dbfile :memory: 2>&1\n\
         echo \"exit $?\"\n\
         nft list set inet f2b-table addr-set-app\n\
         fail2ban-client -c {f2b} stop >/dev/null 2>&1\n\
         wait\n",
        started = fail2ban_started(&fail2ban),
        f2b = fail2ban.display(),
        conf = env.conf().display(),
        sock = env.socket().display(),
    );
    let text = unshared_output(&["--net"], &script);
    assert!(
        text.contains(
            "jail [app]: the nftables set inet f2b-table addr-set-app holds addresses this \
             server never banned (198.51.100.41)"
        ) && text.contains("exit 255"),
        "{text}"
    );
    assert!(text.contains("elements = { 198.51.100.41 }"), "{text}");
}

/// A crash leaves the kernel as it was. Before, two kinds of ban then stayed in
/// nftables that neither `banned` nor `unban` could see: the set and rule of a
/// jail removed from the configuration while the server was down, and, in a
/// jail's own set, a ban that ended meanwhile. Now the server at start removes the
/// first (for the jails its database holds bans of: a set of another jail may be
/// another daemon's, and stays) and empties its jails' sets before it bans again
/// what is in force.
#[test]
fn a_start_after_a_crash_leaves_no_ban_it_does_not_hold() {
    let Some(env) = nftables_stock_env(
        "a_start_after_a_crash_leaves_no_ban_it_does_not_hold",
        &["nft", "ip"],
        "stalesets",
    ) else {
        return;
    };
    let ns = NamedNamespace(format!("ferroban-stale-{}", std::process::id()));
    assert!(Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .unwrap()
        .success());
    let nft = |command: &str| {
        let o = Command::new("ip")
            .args(["netns", "exec", &ns.0, "sh", "-c", command])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let jail = |name: &str| {
        format!(
            "[{name}]\nenabled = true\nfilter = test\nport = http\nlogpath = {}\nmaxretry = 1\nbantime = 1h\n",
            env.log(&format!("{name}.log")).display()
        )
    };
    for name in ["app", "gone"] {
        std::fs::write(env.log(&format!("{name}.log")), "").unwrap();
    }
    let local = env.conf().join("jail.local");
    let head = "[DEFAULT]\nbanaction = nftables\n";
    std::fs::write(&local, format!("{head}{}{}", jail("app"), jail("gone"))).unwrap();
    let wrapper = ["ip", "netns", "exec", ns.0.as_str()];
    let d = env.start_with(&wrapper, &["--no-dry-run"]);
    assert!(wait_for(10, || env.client(&["ping"]).status.success()));
    env.client_text(&["ban", "app", "192.0.2.93"]);
    env.client_text(&["ban", "gone", "198.18.2.2"]);
    // a ban that ends while the server is down
    env.client_text(&["set", "app", "bantime", "1"]);
    env.client_text(&["ban", "app", "192.0.2.50"]);
    let ruleset = || nft("nft list ruleset");
    assert!(
        wait_for(10, || {
            let r = ruleset();
            r.contains("192.0.2.93") && r.contains("198.18.2.2") && r.contains("192.0.2.50")
        }),
        "{}",
        ruleset()
    );
    drop(d); // kill -9
             // While it is down: the jail is removed, and the short ban of `app` ends.
    std::fs::write(&local, format!("{head}{}", jail("app"))).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // A set of a jail this server never banned in: another daemon's, kept.
    nft(
        "nft add set inet f2b-table addr-set-other '{ type ipv4_addr; }'; \
         nft add element inet f2b-table addr-set-other '{ 192.0.2.201 }'",
    );
    assert!(ruleset().contains("192.0.2.201"), "{}", ruleset());
    // An address this server never banned, in its jail's own set: another daemon
    // uses that set (Fail2ban's nftables action names it alike). The server
    // refuses to start rather than empty it, and leaves nothing behind.
    nft("nft add element inet f2b-table addr-set-app { 203.0.113.77 }");
    let mut refused = env
        .server_command(&wrapper, &["--no-dry-run"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = wait_for(10, || refused.try_wait().ok().flatten().is_some());
    stop_child(&mut refused);
    let refused = refused.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(ended && !refused.status.success(), "{err}");
    assert!(
        err.contains(
            "jail [app]: the nftables set inet f2b-table addr-set-app holds addresses this \
             server never banned (203.0.113.77): another daemon uses it"
        ) && err.contains("nft flush set inet f2b-table addr-set-app"),
        "{err}"
    );
    let r = ruleset();
    assert!(
        r.contains("203.0.113.77") && r.contains("192.0.2.93"),
        "{r}"
    );
    assert!(!env.socket().exists(), "the refused start left its socket");
    nft("nft delete element inet f2b-table addr-set-app { 203.0.113.77 }");
    let d = env.start_with(&wrapper, &["--no-dry-run"]);
    assert!(wait_for(10, || env.client(&["ping"]).status.success()));
    assert!(
        wait_for(10, || ruleset().contains("192.0.2.93")),
        "the ban in force is made again: {}\n{}",
        ruleset(),
        env.own_log_text()
    );
    let r = ruleset();
    assert!(
        !r.contains("198.18.2.2") && !r.contains("addr-set-gone") && !r.contains("192.0.2.50"),
        "{r}"
    );
    assert!(
        r.contains("192.0.2.201"),
        "another daemon's set is kept: {r}"
    );
    let log = env.own_log_text();
    assert!(
        log.contains("removed from inet f2b-table the sets no jail uses")
            && log.contains("addr-set-gone (1 address)"),
        "{log}"
    );
    // A reload that would add a jail of the other daemon's name is refused
    // (it would take that set over), and the running jails stay.
    let other = format!(
        "[other]\nenabled = true\nfilter = test\nport = http\nlogpath = {}\n",
        env.log("app.log").display()
    );
    std::fs::write(&local, format!("{head}{}{other}", jail("app"))).unwrap();
    let reload = env.client(&["reload"]);
    let said = String::from_utf8_lossy(&reload.stdout).into_owned()
        + &String::from_utf8_lossy(&reload.stderr);
    assert!(!reload.status.success(), "{said}");
    assert!(
        said.contains(
            "jail [other]: the nftables set inet f2b-table addr-set-other holds addresses \
             this server never banned (192.0.2.201)"
        ),
        "{said}"
    );
    assert!(ruleset().contains("192.0.2.201"), "{}", ruleset());
    let status = env.client_text(&["status"]);
    assert!(status.contains("Number of jail:\t1"), "{status}");
    std::fs::write(&local, format!("{head}{}", jail("app"))).unwrap();
    // At stop its own sets go; the table stays for the other set, then goes
    // with it.
    env.client_text(&["stop"]);
    assert!(
        wait_for(10, || !ruleset().contains("addr-set-app")),
        "{}",
        ruleset()
    );
    assert!(ruleset().contains("192.0.2.201"), "{}", ruleset());
    drop(d);
}

/// Before, when the jail's rule was refused (its layout could not start), bans
/// still went into the set, which blocked nothing, and no retry ever put the rule
/// in. Now such a ban fails and is retried; once the configuration is mended and
/// reloaded, the rule and the ban are in the kernel. `check` (as root) asks nft
/// about the rule and refuses it before any of that, and a reload that would
/// break the rule again is refused, the working one kept.
#[test]
fn a_ban_while_the_jails_rule_is_refused_waits_for_the_rule() {
    let Some((env, d, pid)) = firewall_server(
        "a_ban_while_the_jails_rule_is_refused_waits_for_the_rule",
        "nftrefused",
        "nftables[blocktype=\"bogus\"]",
        "app",
        &["nft"],
        &["nft", "add", "table", "inet", "ferroban-probe"],
    ) else {
        return;
    };
    let nft = || in_namespace_of(&pid, "nft list ruleset");
    assert!(wait_for(10, || env.client(&["ping"]).status.success()));
    env.client_text(&["ban", "app", "192.0.2.93"]);
    assert!(
        wait_for(10, || env.own_log_text().contains(
            "the jail's rule is not in place, so these bans would block nothing"
        )),
        "{}",
        env.own_log_text()
    );
    assert!(
        !nft().contains("192.0.2.93"),
        "in a set no rule reads: {}",
        nft()
    );
    // `check` asks nft (without applying anything) and says so at once.
    let check = format!("{BIN} -c {} check; echo rc=$?", env.conf().display());
    let said = in_namespace_of(&pid, &check);
    // named at the `banaction` line that chose the action
    let at = env.conf().join("jail.local:2:");
    assert!(
        said.contains(&format!(
            "ERROR: {} [app] action nftables: nft refuses its rules",
            at.display()
        )) && said.contains("bogus")
            && !said.contains("rc=0"),
        "{said}"
    );
    let local = env.conf().join("jail.local");
    let mended = std::fs::read_to_string(&local)
        .unwrap()
        .replace("blocktype=\"bogus\"", "blocktype=\"reject\"");
    std::fs::write(&local, mended).unwrap();
    let said = in_namespace_of(&pid, &check);
    assert!(
        said.contains("OK: configuration test") && said.contains("rc=0"),
        "{said}"
    );
    assert!(
        env.client(&["reload"]).status.success(),
        "{}",
        env.own_log_text()
    );
    assert!(
        wait_for(15, || {
            let rules = nft();
            rules.contains("192.0.2.93") && rules.contains("saddr @addr-set-app reject")
        }),
        "{}\n{}",
        nft(),
        env.own_log_text()
    );
    // Broken again: the reload is refused, and the working rule and ban stay.
    let text = std::fs::read_to_string(&local).unwrap();
    std::fs::write(
        &local,
        text.replace("blocktype=\"reject\"", "blocktype=\"bogus\""),
    )
    .unwrap();
    let reload = env.client(&["reload"]);
    let said = String::from_utf8_lossy(&reload.stderr).into_owned();
    assert!(!reload.status.success(), "{said}");
    assert!(said.contains("nft refuses its rules"), "{said}");
    let rules = nft();
    assert!(
        rules.contains("192.0.2.93") && rules.contains("saddr @addr-set-app reject"),
        "{rules}"
    );
    drop(d);
}

#[test]
fn stock_iptables_multiport_with_batched_bans_in_a_private_network_namespace() {
    let Some((env, d, pid)) = firewall_server(
        "stock_iptables_multiport_with_batched_bans_in_a_private_network_namespace",
        "ipt",
        "iptables-multiport",
        "app",
        &["iptables", "iptables-restore", "ip6tables-restore"],
        &["iptables", "-N", "ferroban-probe"],
    ) else {
        return;
    };
    let ipt = |cmd: &str| in_namespace_of(&pid, cmd);
    // several addresses at once go in as one batch
    env.client_text(&["ban", "app", "192.0.2.91", "192.0.2.92", "2001:db8::91"]);
    assert!(
        wait_for(15, || ipt("iptables -S f2b-app").contains(
            "-A f2b-app -s 192.0.2.92/32 -j REJECT --reject-with icmp-port-unreachable"
        )),
        "{}\n{}",
        ipt("iptables -S"),
        env.own_log_text()
    );
    assert!(ipt("iptables -S f2b-app").contains("-s 192.0.2.91/32"));
    assert!(
        wait_for(15, || ipt("ip6tables -S f2b-app").contains(
            "-A f2b-app -s 2001:db8::91/128 -j REJECT --reject-with icmp6-port-unreachable"
        )),
        "{}",
        ipt("ip6tables -S")
    );
    assert!(
        ipt("iptables -S INPUT")
            .contains("-A INPUT -p tcp -m multiport --dports 80,443 -j f2b-app"),
        "{}",
        ipt("iptables -S INPUT")
    );
    // a failure line bans too, and an unban removes exactly that rule
    env.fail("app.log", "192.0.2.93", 1);
    assert!(wait_for(15, || ipt("iptables -S f2b-app").contains("192.0.2.93/32")));
    env.client_text(&["unban", "192.0.2.91"]);
    assert!(wait_for(15, || !ipt("iptables -S f2b-app").contains("192.0.2.91/32")));
    assert!(ipt("iptables -S f2b-app").contains("192.0.2.92/32"));
    assert!(
        !env.own_log_text().contains("batched ban refused"),
        "{}",
        env.own_log_text()
    );
    // The ruleset flushed under the jail (a firewall service's reload): a reload
    // (or, within 30 s, the action's own actioncheck) puts the chain back, and in
    // it every ban in force, each once.
    ipt("iptables -F");
    ipt("iptables -X");
    env.client_text(&["reload"]);
    let back = || {
        let chain = ipt("iptables -S f2b-app");
        chain.contains("192.0.2.92/32") && chain.contains("192.0.2.93/32")
    };
    assert!(
        wait_for(15, back),
        "{}\n{}",
        ipt("iptables -S"),
        env.own_log_text()
    );
    assert!(
        ipt("iptables -S INPUT").contains("-j f2b-app"),
        "{}",
        ipt("iptables -S INPUT")
    );
    assert_eq!(
        ipt("iptables -S f2b-app").matches("192.0.2.92/32").count(),
        1
    );
    env.client_text(&["stop"]);
    assert!(wait_for(15, || !env.socket().exists()));
    drop(d);
}

#[test]
fn stock_iptables_ipset_with_batched_bans_in_a_private_network_namespace() {
    let Some((env, d, pid)) = firewall_server(
        "stock_iptables_ipset_with_batched_bans_in_a_private_network_namespace",
        "ipset",
        "iptables-ipset-proto6",
        "web",
        &["iptables", "ipset"],
        &["ipset", "create", "ferroban-probe", "hash:ip"],
    ) else {
        return;
    };
    let sh = |cmd: &str| in_namespace_of(&pid, cmd);
    env.client_text(&["ban", "web", "192.0.2.81", "192.0.2.82", "2001:db8::81"]);
    assert!(
        wait_for(15, || sh("ipset list f2b-web").contains("192.0.2.82")),
        "{}\n{}",
        sh("ipset list"),
        env.own_log_text()
    );
    assert!(sh("ipset list f2b-web").contains("192.0.2.81"));
    assert!(
        wait_for(15, || sh("ipset list f2b-web6").contains("2001:db8::81")),
        "{}",
        sh("ipset list")
    );
    let input = sh("iptables -S INPUT");
    assert!(
        input.contains("-m multiport --dports 80,443 -m set --match-set f2b-web src -j REJECT"),
        "{input}"
    );
    env.fail("app.log", "192.0.2.83", 1);
    assert!(wait_for(15, || sh("ipset list f2b-web").contains("192.0.2.83")));
    env.client_text(&["unban", "192.0.2.81"]);
    assert!(wait_for(15, || !sh("ipset list f2b-web").contains("192.0.2.81")));
    assert!(sh("ipset list f2b-web").contains("192.0.2.82"));
    assert!(
        !env.own_log_text().contains("batched ban refused"),
        "{}",
        env.own_log_text()
    );
    env.client_text(&["stop"]);
    assert!(wait_for(15, || !env.socket().exists()));
    drop(d);
}

#[test]
fn bad_log_lines_are_read_past() {
    let env = Env::new("badlines");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\nbantime = 1h\n");
    let _d = env.start();
    let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
    let mut bytes: Vec<u8> = Vec::new();
    // not UTF-8, a NUL, a line far longer than any log line, an unfinished-looking one
    bytes.extend_from_slice(b"\xff\xfe\xfd login failed from \xc0\xaf\n");
    bytes.extend_from_slice(format!("{stamp} login failed from 192.0.2.120\0\n").as_bytes());
    bytes.extend_from_slice(
        format!(
            "{stamp} {} login failed from 999.0.0.1\n",
            "A".repeat(200_000)
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(format!("{stamp} login failed from 192.0.2.121\n").as_bytes());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.log("app.log"))
        .unwrap();
    f.write_all(&bytes).unwrap();
    drop(f);
    assert!(
        env.wait_out("ban app 192.0.2.121"),
        "the good line after the bad ones is read: {}",
        env.own_log_text()
    );
    let status = env.client_text(&["status", "app"]);
    assert!(
        status.contains("Currently banned:\t1"),
        "nothing else was banned: {status}"
    );
    assert!(env.client(&["ping"]).status.success());
}

/// The whole of a file, to show that nobody wrote to it.
fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

// The database is written by fail2ban-server itself (bans from its log and from
// Debian's fail2ban-client): an earlier version of this test inserted Python
// strings by hand, so the `data` column was TEXT, while Fail2ban 1.0 on Python 3
// writes a BLOB, and the import failed on every real database.
#[test]
fn bans_imported_from_a_database_fail2ban_server_wrote_are_restored_with_their_counts() {
    let env = Env::new("import");
    for name in ["short.log", "forever.log"] {
        std::fs::write(env.log(name), "").unwrap();
    }
    let logs = env.dir.join("logs");
    let Some(fail2ban) = Fail2ban::start(
        &env.dir.join("fail2ban"),
        &format!(
            "[app]\nenabled = true\nlogpath = {l}/app.log\nmaxretry = 2\nbantime = 1h\n\
             [short]\nenabled = true\nlogpath = {l}/short.log\nbantime = 1\n\
             [forever]\nenabled = true\nlogpath = {l}/forever.log\nbantime = -1\n",
            l = logs.display()
        ),
    ) else {
        return;
    };
    env.fail("app.log", "192.0.2.1", 2);
    assert!(
        fail2ban.wait_banned("app", "192.0.2.1"),
        "{}",
        fail2ban.log_text()
    );
    for (jail, ip) in [("short", "198.51.100.2"), ("forever", "2001:db8::7")] {
        let o = fail2ban.client(&["set", jail, "banip", ip]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // Banned from the log, then lifted by hand: ferroban, reading on where Fail2ban
    // stopped, does not count these lines again.
    env.fail("app.log", "192.0.2.9", 2);
    assert!(fail2ban.wait_banned("app", "192.0.2.9"));
    let o = fail2ban.client(&["set", "app", "unbanip", "192.0.2.9"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The 1-second ban ends before the import.
    std::thread::sleep(Duration::from_millis(1500));
    let source = fail2ban.database();
    fail2ban.stop();
    let written_by_fail2ban = file_bytes(&source);

    // The same log paths as Fail2ban's (a position is the path's)
    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = {l}/app.log\nmaxretry = 2\nbantime = 1h\n\
         [short]\nenabled = true\nlogpath = {l}/short.log\nmaxretry = 2\nbantime = 1h\n\
         [forever]\nenabled = true\nlogpath = {l}/forever.log\nbantime = -1\n",
        l = logs.display()
    ));
    // A copy of Fail2ban's configuration: Fail2ban's files name its database,
    // ferroban's own another, its own; the import with no file named reads
    // Fail2ban's (it read ferroban's dbfile, found it no Fail2ban database, and
    // looked for /var/lib/fail2ban/fail2ban.sqlite3).
    std::fs::write(
        env.conf().join("fail2ban.local"),
        format!("[Definition]\ndbfile = {}\n", source.display()),
    )
    .unwrap();
    std::fs::write(
        env.conf().join("ferroban.local"),
        format!("[Definition]\ndbfile = {}\n", env.db.display()),
    )
    .unwrap();
    let import = |env: &Env| env.client(&["import-fail2ban", source.to_str().unwrap()]);
    let first = env.client(&["import-fail2ban"]);
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(text.contains("imported 3 of 3 bans"), "{text}");
    assert!(text.contains("2 still in force"), "{text}");
    assert!(text.contains("1 log resumes where Fail2ban"), "{text}");
    assert!(
        String::from_utf8_lossy(&import(&env).stdout).contains("imported 0 of 3 bans"),
        "a second import adds nothing"
    );
    assert!(
        file_bytes(&source) == written_by_fail2ban,
        "the import changed Fail2ban's file"
    );
    let d = env.start();
    // In force: restored, with Fail2ban's ban time and count; the ended one is not.
    assert!(
        env.wait_out("ban app 192.0.2.1 3600 1 restored=1"),
        "{}",
        env.out_text()
    );
    assert!(
        env.wait_out("ban forever 2001:db8::7 -1 1 restored=1"),
        "{}",
        env.out_text()
    );
    assert!(
        !env.out_text().contains("198.51.100.2 "),
        "{}",
        env.out_text()
    );
    // New lines are read, old ones are not: the two new failures alone ban.
    env.fail("app.log", "192.0.2.9", 1);
    std::thread::sleep(Duration::from_millis(700));
    assert!(!env.out_text().contains("192.0.2.9 "), "{}", env.out_text());
    env.fail("app.log", "192.0.2.9", 1);
    assert!(env.wait_out("ban app 192.0.2.9 3600"), "{}", env.out_text());
    // While the server runs, an import is refused rather than half applied.
    let refused = import(&env);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it first"));
    drop(d);
    // ferroban's own database given where Fail2ban's is expected: named for what it
    // is, not failed on a missing column.
    let own = env.client(&["import-fail2ban", env.db.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&own.stderr);
    assert!(
        !own.status.success() && err.contains("is ferroban's own ban database"),
        "{err}"
    );
    // The ended ban still counts for increments: Fail2ban's count 1 goes on (an hour
    // here, so that the new ban has not ended by the time its line is read).
    std::fs::create_dir_all(env.conf().join("jail.d")).unwrap();
    std::fs::write(
        env.conf().join("jail.d/increment.local"),
        "[short]\nbantime.increment = true\n",
    )
    .unwrap();
    let _d = env.start();
    env.fail("short.log", "198.51.100.2", 2);
    assert!(
        env.wait_out("ban short 198.51.100.2 7200 2"),
        "{}{}",
        env.out_text(),
        env.own_log_text()
    );
}

/// A jail reading the journal starts, after the import, where Fail2ban's stopped:
/// failures Fail2ban banned for, and an administrator lifted, are not counted again.
#[test]
fn a_journal_fail2ban_read_is_not_counted_again_after_the_import() {
    if !Path::new(common::JOURNAL_REMOTE).exists()
        // Fail2ban's interpreter, which reads the journal through python3-systemd
        || Command::new("/usr/bin/python3")
            .args(["-c", "import systemd.journal"])
            .output()
            .map_or(true, |o| !o.status.success())
    {
        eprintln!("SKIPPED a_journal_fail2ban_read_is_not_counted_again_after_the_import: needs systemd-journal-remote and python3-systemd");
        return;
    }
    let env = Env::new("import-journal");
    let journal = env.dir.join("app.journal");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let export: String = (0..2u128)
        .map(|i| {
            format!(
                "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n\
                 _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=vps\n\
                 SYSLOG_IDENTIFIER=app\nMESSAGE=login failed from 192.0.2.71\n\n",
                now_us - 1_000_000 + i,
                1000 + i
            )
        })
        .collect();
    common::write_journal(&journal, &export);
    let jail = format!(
        "[app]\nenabled = true\nbackend = systemd[journalfiles=\"{}\"]\nmaxretry = 2\n",
        journal.display()
    );
    let Some(fail2ban) = Fail2ban::start(&env.dir.join("fail2ban"), &jail) else {
        return;
    };
    assert!(
        fail2ban.wait_banned("app", "192.0.2.71"),
        "{}",
        fail2ban.log_text()
    );
    let o = fail2ban.client(&["set", "app", "unbanip", "192.0.2.71"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let source = fail2ban.database();
    fail2ban.stop();

    env.jails(&jail);
    std::fs::write(
        env.conf().join("ferroban.local"),
        format!("[Definition]\ndbfile = {}\n", env.db.display()),
    )
    .unwrap();
    let import = env.client(&["import-fail2ban", source.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&import.stdout).into_owned();
    assert!(text.contains("1 log resumes where Fail2ban"), "{text}");
    let _d = env.start();
    let read = wait_for(10, || env.own_log_text().contains("Jail 'app' started"));
    assert!(read, "{}", env.own_log_text());
    std::thread::sleep(Duration::from_millis(1500));
    let status = env.client_text(&["status", "app"]);
    assert!(status.contains("Total failed:\t0"), "{status}");
    assert!(!env.out_text().contains("192.0.2.71"), "{}", env.out_text());
}

/// ferroban started on Fail2ban's own configuration directory, unchanged (the
/// migration guide's "keep /etc/fail2ban"), whose `dbfile` is Fail2ban's database.
fn ferroban_on(dir: &Path) -> Daemon {
    let child = Command::new(BIN)
        .args(["server", "-f", "-x", "-c"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = |args: &[&str]| Command::new(BIN).arg("-c").arg(dir).args(args).output();
    assert!(
        wait_for(10, || client(&["ping"]).is_ok_and(|o| o.status.success())),
        "ferroban did not answer; its log:\n{}",
        std::fs::read_to_string(dir.join("fail2ban.log")).unwrap_or_default()
    );
    Daemon { child }
}

/// An action's `<F-USER>` is the first failure's user, in Fail2ban and in ferroban:
/// Fail2ban's failure ticket is the first failure's, later ones adding to its count
/// and lines (ferroban gave the last one's). Both servers, in turn, on the same
/// configuration and lines, with an action that records what it is given.
#[test]
fn an_actions_failure_tags_are_the_first_failures_as_in_fail2ban() {
    let env = Env::new("firstdata");
    let dir = env.dir.join("fail2ban");
    let log = env.log("app.log");
    Fail2ban::write_config(
        &dir,
        &format!(
            "[app]\nenabled = true\nlogpath = {}\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\n",
            log.display()
        ),
    );
    std::fs::write(
        dir.join("filter.d/app.conf"),
        "[Definition]\nfailregex = login failed for <F-USER>\\S+</F-USER> from <HOST>\n",
    )
    .unwrap();
    let out = env.dir.join("actions.out");
    std::fs::write(
        dir.join("action.d/noop.conf"),
        format!(
            "[Definition]\nactionban = echo \"<ip> <F-USER> <failures>\" >> {}\nactionunban = true\n",
            out.display()
        ),
    )
    .unwrap();
    // two addresses, their failures interleaved; each is banned at its third
    let tries = [
        ("192.0.2.5", "alice"),
        ("192.0.2.6", "dave"),
        ("192.0.2.5", "bob"),
        ("192.0.2.6", "erin"),
        ("192.0.2.5", "carol"),
        ("192.0.2.6", "frank"),
    ];
    let run = |server: &dyn Fn() -> Box<dyn std::any::Any>| -> Vec<String> {
        std::fs::write(&log, "").unwrap();
        let _ = std::fs::remove_file(&out);
        let running = server();
        for (ip, user) in tries {
            let now = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S");
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            writeln!(f, "{now} login failed for {user} from {ip}").unwrap();
        }
        let recorded = || std::fs::read_to_string(&out).unwrap_or_default();
        assert!(
            wait_for(20, || recorded().lines().count() == 2),
            "{}",
            recorded()
        );
        drop(running);
        let mut lines: Vec<String> = recorded().lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    if !Path::new("/usr/bin/fail2ban-server").exists() {
        eprintln!("SKIPPED: fail2ban-server is not installed (Debian package fail2ban)");
        return;
    }
    let fail2ban = run(&|| Box::new(Fail2ban::start_written(&dir)));
    // Its bans are not restored by the next server: each starts with none.
    std::fs::remove_file(dir.join("fail2ban.sqlite3")).unwrap();
    let ferroban = run(&|| Box::new(ferroban_on(&dir)));
    assert_eq!(fail2ban, ["192.0.2.5 alice 3", "192.0.2.6 dave 3"]);
    assert_eq!(ferroban, fail2ban);
}

/// Jail `[app]` of fail2ban-server, reading `env`'s `app.log`.
fn fail2ban_app_jail(env: &Env) -> String {
    format!(
        "[app]\nenabled = true\nlogpath = {}\nbantime = 1h\n",
        env.log("app.log").display()
    )
}

/// The database fail2ban-server writes in `dir` (then stopped) with a ban of `ip`
/// in jail `[app]`; `None` (SKIPPED) without Fail2ban.
fn fail2ban_database_with_ban(env: &Env, dir: &Path, ip: &str) -> Option<PathBuf> {
    let fail2ban = Fail2ban::start(dir, &fail2ban_app_jail(env))?;
    let o = fail2ban.client(&["set", "app", "banip", ip]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let database = fail2ban.database();
    fail2ban.stop();
    Some(database)
}

#[test]
fn fail2bans_database_is_never_written_and_its_bans_move_to_ferrobans_own_beside_it() {
    let env = Env::new("takeover");
    let dir = env.dir.join("fail2ban");
    let Some(source) = fail2ban_database_with_ban(&env, &dir, "192.0.2.1") else {
        return;
    };
    let written_by_fail2ban = file_bytes(&source);
    let ferroban_log = || std::fs::read_to_string(dir.join("fail2ban.log")).unwrap_or_default();
    let client = |args: &[&str]| {
        let o = Command::new(BIN)
            .arg("-c")
            .arg(&dir)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };

    let d = ferroban_on(&dir);
    let own = dir.join("ferroban.sqlite3");
    assert!(
        wait_for(10, || ferroban_log().contains("Restore Ban 192.0.2.1")),
        "{}",
        ferroban_log()
    );
    let log = ferroban_log();
    assert!(
        log.contains(&format!(
            "dbfile {} is Fail2ban's database and is never written to; first start on it: \
             imported 1 of 1 bans",
            source.display()
        )),
        "{log}"
    );
    assert!(log.contains(&own.display().to_string()), "{log}");
    assert!(client(&["get", "dbfile"]).contains(&own.display().to_string()));
    assert_eq!(client(&["ban", "app", "203.0.113.77"]).trim(), "1");
    drop(d);

    // The second start uses ferroban's file and says so; nothing is imported twice.
    let d = ferroban_on(&dir);
    assert!(
        wait_for(10, || ferroban_log()
            .matches("Restore Ban 203.0.113.77")
            .count()
            == 1),
        "{}",
        ferroban_log()
    );
    assert!(ferroban_log().contains("its bans were imported before (at the first start"));
    drop(d);
    // By hand, with no file named: the configuration's dbfile is the one read (not
    // Debian's /var/lib/fail2ban, which this host may not have).
    let by_hand = client(&["import-fail2ban"]);
    assert!(by_hand.contains("imported 0 of 1 bans"), "{by_hand}");
    assert!(
        by_hand.contains(&format!("from {}", source.display())),
        "{by_hand}"
    );

    assert!(
        file_bytes(&source) == written_by_fail2ban,
        "ferroban changed Fail2ban's database"
    );
    assert!(!dir.join("fail2ban.sqlite3-wal").exists());
    // And Fail2ban goes back to it as it left it.
    let Some(fail2ban) = Fail2ban::start(&dir, &fail2ban_app_jail(&env)) else {
        return;
    };
    assert!(
        fail2ban.wait_banned("app", "192.0.2.1"),
        "{}",
        fail2ban.log_text()
    );
    // What Fail2ban bans then is taken by ferroban's next start, once.
    let o = fail2ban.client(&["set", "app", "banip", "192.0.2.2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fail2ban.stop();
    let d = ferroban_on(&dir);
    assert!(
        wait_for(10, || ferroban_log().contains("Restore Ban 192.0.2.2")),
        "{}",
        ferroban_log()
    );
    assert!(
        ferroban_log().contains("Fail2ban wrote it since the last import: imported 1 of 2 bans"),
        "{}",
        ferroban_log()
    );
    drop(d);
    let d = ferroban_on(&dir);
    assert!(
        wait_for(10, || ferroban_log()
            .matches("its bans were imported before")
            .count()
            == 2),
        "{}",
        ferroban_log()
    );
    drop(d);
}

/// `GET path` on `addr`, the whole answer.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn metrics_endpoint_and_json_status_report_each_jail() {
    let env = Env::new("metrics");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\n");
    // A free loopback port, found by binding and letting go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        env.conf().join("ferroban.local"),
        format!("[Definition]\nmetrics = {port}\n"),
    )
    .unwrap();
    let _d = env.start();
    env.fail("app.log", "192.0.2.70", 2);
    assert!(env.wait_out("ban app 192.0.2.70"), "{}", env.out_text());
    env.client_text(&["unban", "192.0.2.70"]);
    let addr = format!("127.0.0.1:{port}");
    let page = http_get(&addr, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    for line in [
        "ferroban_lines_read_total{jail=\"app\"} 2",
        "ferroban_failures_total{jail=\"app\"} 2",
        "ferroban_bans_total{jail=\"app\"} 1",
        "ferroban_unbans_total{jail=\"app\"} 1",
        "ferroban_banned{jail=\"app\"} 0",
        "ferroban_action_errors_total{jail=\"app\"} 0",
        "ferroban_processing_latency_seconds_count{jail=\"app\"} ",
    ] {
        assert!(page.contains(line), "{line} missing from:\n{page}");
    }
    assert!(http_get(&addr, "/other").starts_with("HTTP/1.1 404"));
    // Only loopback was asked for.
    let own = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .unwrap();
    if let Some(ip) = String::from_utf8_lossy(&own.stdout)
        .split_whitespace()
        .next()
    {
        let outside = format!("{ip}:{port}");
        if let Ok(sa) = outside.parse::<std::net::SocketAddr>() {
            assert!(
                std::net::TcpStream::connect_timeout(&sa, std::time::Duration::from_secs(2))
                    .is_err(),
                "the metrics endpoint answers on {outside}"
            );
        }
    }
    let status: serde_json::Value =
        serde_json::from_str(&env.client_text(&["status", "app", "--json"])).unwrap();
    assert_eq!(status[0][1][1][1], 2, "Total failed in {status}");
}

#[test]
fn systemd_hears_ready_once_the_server_answers() {
    let env = Env::new("notify");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let path = env.dir.join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    listener
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut child = env
        .server_command(&[], &["--dry-run"])
        .env("NOTIFY_SOCKET", &path)
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).expect("READY=1 within 10 s");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(
        ready.contains(&format!("MAINPID={}", child.id())),
        "{ready}"
    );
    // Ready means answering: the socket is up when systemd is told.
    assert!(env.client(&["ping"]).status.success());
    env.client(&["stop"]);
    let n = listener.recv(&mut buf).expect("STOPPING=1 at stop");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let _ = child.wait();
}

/// One raw request line on a fresh connection, and the answer line.
fn raw_request(socket: &Path, bytes: &[u8]) -> String {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let _ = s.write_all(bytes);
    let mut line = String::new();
    let _ = std::io::BufReader::new(s).read_line(&mut line);
    line
}

#[test]
fn the_control_socket_survives_bad_requests_and_floods() {
    let env = Env::new("control");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\n");
    let _d = env.start();
    let socket = env.socket();
    let mut oversized = vec![b'a'; (16 << 20) + 10];
    oversized.push(b'\n');
    for (request, error) in [
        (&b"not json\n"[..], "expected a JSON array"),
        (b"{\"ban\": 1}\n", "expected a JSON array"),
        (b"[]\n", "expected a JSON array"),
        (b"[1, 2]\n", "expected a JSON array"),
        (b"[\"set\"]\n", "\"ok\":false"),
        (b"[\"unbanip\", \"app\"]\n", "\"ok\":false"),
        (
            b"[\"set\", \"nosuchjail\", \"banip\", \"192.0.2.1\"]\n",
            "nosuchjail",
        ),
        (
            b"[\"set\", \"app\", \"banip\", \"999.1.1.1\"]\n",
            "\"ok\":false",
        ),
        (b"[\"get\", \"app\"]\n", "\"ok\":false"),
        (b"[\"\\u0000\", \"\\n\"]\n", "\"ok\":false"),
        (&oversized[..], "longer than"),
    ] {
        let answer = raw_request(&socket, request);
        assert!(
            answer.contains("\"ok\":false") && answer.contains(error),
            "{:?} answered {answer:?}",
            String::from_utf8_lossy(&request[..request.len().min(60)])
        );
    }
    assert!(env.client(&["ping"]).status.success());
    // Connections that never send anything: the first 64 hold a slot each, the rest
    // wait to be served (as a busy Fail2ban's clients wait: answered at once, they
    // would be answered in a protocol they may not speak); log lines are still
    // read and bans still made.
    let idle: Vec<std::os::unix::net::UnixStream> = (0..70)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    let queued = std::thread::spawn({
        let socket = socket.clone();
        move || raw_request(&socket, b"[\"ping\"]\n")
    });
    env.fail("app.log", "192.0.2.80", 1);
    assert!(env.wait_out("ban app 192.0.2.80"), "{}", env.out_text());
    assert!(
        !queued.is_finished(),
        "a 71st connection is served beyond the limit"
    );
    drop(idle);
    let answer = queued.join().unwrap();
    assert!(
        answer.contains("\"ok\":true") && answer.contains("pong"),
        "served once the idle connections are gone: {answer:?}"
    );
    assert!(env.client(&["ping"]).status.success());
    assert!(!env.client_text(&["banned"]).contains("999.1.1.1"));
}

#[test]
fn memory_bounds_on_tracked_addresses_and_bans_are_kept_and_said() {
    let env = Env::new("limits");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 2\n");
    std::fs::write(
        env.conf().join("ferroban.local"),
        "[Definition]\nmaxtrackedaddresses = 8\nmaxbans = 3\n",
    )
    .unwrap();
    let _d = env.start();
    for i in 1..=40 {
        env.fail("app.log", &format!("198.51.100.{i}"), 1);
    }
    assert!(
        wait_for(10, || env
            .own_log_text()
            .contains("the limit (maxtrackedaddresses)")),
        "{}",
        env.own_log_text()
    );
    assert!(wait_for(10, || {
        let status = env.client_text(&["status", "app"]);
        status.contains("Total failed:\t40")
    }));
    let status = env.client_text(&["status", "app"]);
    let tracked: usize = status
        .lines()
        .find_map(|l| l.split("Currently failed:\t").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(tracked <= 8, "{status}");
    // The newest address is still counted: its second failure bans.
    env.fail("app.log", "198.51.100.40", 1);
    assert!(env.wait_out("ban app 198.51.100.40"), "{}", env.out_text());
    assert_eq!(
        env.client_text(&["ban", "app", "203.0.113.1", "203.0.113.2", "203.0.113.3"])
            .trim(),
        "2"
    );
    assert!(
        wait_for(10, || env.own_log_text().contains(
            "203.0.113.3 not banned: the jail holds 3 bans, the limit (maxbans"
        )),
        "{}",
        env.own_log_text()
    );
    assert!(!env.client_text(&["banned"]).contains("203.0.113.3"));
}

#[test]
fn random_command_sequences_never_crash_the_server_or_ban_a_non_address() {
    let env = Env::new("cmdfuzz");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\n");
    let _d = env.start();
    let verbs = [
        "status",
        "set",
        "get",
        "banned",
        "unban",
        "reload",
        "start",
        "stop",
        "ping",
        "version",
        "flushlogs",
        "loglevel",
        "get",
        "set",
        "set",
        "echo",
        "",
        "\u{0}",
    ];
    let jails = ["app", "app", "nosuch", "", "app\n", "*", "../app"];
    let options = [
        "bantime",
        "findtime",
        "maxretry",
        "banip",
        "unbanip",
        "addignoreip",
        "delignoreip",
        "ignoreip",
        "maxmatches",
        "logpath",
        "banned",
        "actions",
        "bantime.increment",
        "x",
    ];
    let values = [
        "192.0.2.9",
        "2001:db8::9",
        "999.1.1.1",
        "192.0.2.0/24",
        "localhost",
        "-1",
        "0",
        "1e309",
        "18446744073709551616",
        "10m",
        "$(touch /tmp/ferroban-pwned)",
        "`id`",
        "",
        "\u{feff}",
        "a\nb",
        "--all",
        "--report-absent",
        "ä",
        "127.0.0.1",
    ];
    let seed = std::env::var("FERROBAN_CMDFUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d_u64);
    let rounds: usize = std::env::var("FERROBAN_CMDFUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let mut rng = Xorshift(seed);
    for round in 0..rounds {
        let mut words = vec![rng.pick(&verbs).to_string()];
        for _ in 0..rng.next() % 5 {
            let pool = match words.len() {
                1 => &jails[..],
                2 => &options[..],
                _ => &values[..],
            };
            words.push(rng.pick(pool).to_string());
        }
        if words.len() == 1 && words[0] == "stop" {
            continue; // stops the server: not what this test is about
        }
        let line = serde_json::to_string(&words).unwrap() + "\n";
        let answer = raw_request(&env.socket(), line.as_bytes());
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_else(|_| {
            panic!("round {round} (seed {seed}): {words:?} answered {answer:?}")
        });
        assert!(v["ok"].is_boolean(), "{words:?}: {answer}");
    }
    env.client(&["start", "app"]);
    assert!(env.client(&["ping"]).status.success());
    assert!(!Path::new("/tmp/ferroban-pwned").exists());
    let banned: serde_json::Value =
        serde_json::from_str(&env.client_text(&["--json", "banned"])).unwrap();
    for jail in banned.as_array().unwrap() {
        for ips in jail.as_object().unwrap().values() {
            for ip in ips.as_array().unwrap() {
                let ip = ip.as_str().unwrap();
                assert!(ip.parse::<std::net::IpAddr>().is_ok(), "banned {ip:?}");
            }
        }
    }
}

#[test]
fn a_catastrophic_filter_on_hostile_lines_does_not_stop_the_jail() {
    let env = Env::new("redos");
    std::fs::write(
        env.conf().join("filter.d/redos.conf"),
        "[Definition]\nfailregex = ^(?:(\\w+)\\s?)+(?<=\\d) from <HOST>$\n",
    )
    .unwrap();
    env.jails("[app]\nenabled = true\nfilter = redos\nlogpath = ../logs/app.log\nmaxretry = 2\n");
    let _d = env.start();
    // Each of these makes a back-tracking engine try every split of 40 letters.
    // Ten are enough to show the bound applies to each line; more only slow the
    // debug build down (each costs the bound's full 50,000 steps).
    let hostile = format!("{}b from 203.0.113.66\n", "a".repeat(40)).repeat(10);
    append(&env.log("app.log"), &hostile);
    append(
        &env.log("app.log"),
        "x1 from 192.0.2.51\ny2 from 192.0.2.51\n",
    );
    assert!(env.wait_out("ban app 192.0.2.51"), "{}", env.out_text());
    assert!(!env.out_text().contains("203.0.113.66"));
    let status = env.client_text(&["status", "app", "extended"]);
    assert!(
        status.contains("Searches abandoned at the step bound:\t10"),
        "{status}"
    );
}

/// Every thread's stack and allocator arena is resident memory: a server with no
/// `[Fleet]`, metrics or dashboard configured runs none of their threads (no
/// fleet connection, no HTTP listener, no async runtime), only its own few.
#[test]
fn a_plain_server_runs_only_its_own_threads() {
    let env = Env::new("threads");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let d = env.start();
    let tasks = format!("/proc/{}/task", d.child.id());
    let names = || {
        let mut names: Vec<String> = std::fs::read_dir(&tasks)
            .expect("the server's threads")
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|n| n.trim().to_string())
            // The thread of the client connection that asked `ping` may not have ended.
            .filter(|n| n != "ferroban-client")
            .collect();
        names.sort();
        names
    };
    // Thread names are cut to 15 bytes by the kernel.
    let own = [
        "ferroban",
        "ferroban-action",
        "ferroban-contro",
        "ferroban-files",
        "ferroban-signal",
    ];
    // Settled: while `actionstart` still runs, the thread reading its standard error
    // (named after the actions thread that made it) lives too, longer on a loaded
    // machine.
    wait_for(10, || names() == own);
    assert_eq!(names(), own, "threads of a server with one file jail");
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Tools and scripts read the database `get dbfile` names with Fail2ban's schema
/// (its `bans` columns and `bips` table): the queries of two such tools give the
/// same rows on ferroban's database as on the one Fail2ban's server writes for the
/// same bans.
#[test]
fn fail2bans_queries_read_the_database_get_dbfile_names() {
    let env = Env::new("dbreaders");
    let jail = fail2ban_app_jail(&env);
    let Some(fail2ban) = Fail2ban::start(&env.dir.join("fail2ban"), &jail) else {
        return;
    };
    env.jails(&jail);
    let _d = env.start();
    let ips = ["192.0.2.31", "192.0.2.32", "192.0.2.33"];
    for ip in ips {
        let o = fail2ban.client(&["set", "app", "banip", ip]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(env.client_text(&["ban", "app", ip]).trim(), "1");
    }
    assert!(wait_for(10, || banned_in_database(&env.db).len() == ips.len()));
    let queries = [
        // npm `fail2ban`'s ban history
        "SELECT jail, ip, typeof(timeofban), json_extract(data, '$.failures') FROM bans \
         WHERE jail LIKE 'app' ORDER BY timeofban ASC, ip",
        // the active bans of a script that reads bips
        "SELECT ip, jail, bantime, bancount FROM bips WHERE jail = 'app' \
         AND (bantime <= -1 OR (timeofban + bantime) > CAST(strftime('%s', 'now') AS INTEGER)) ORDER BY ip",
    ];
    let rows = |db: &str, query: &str| {
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sqlite3\nfor r in sqlite3.connect({db:?}, timeout=30).execute({query:?}): print(r)"
            ))
            .output()
            .expect("python3 reads the database");
        assert!(
            out.status.success(),
            "{db}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // `Current database file is:` then `` `- PATH ``
    let dbfile = |text: String| {
        let last = text.lines().last().unwrap_or_default();
        last.trim_start_matches("`- ").trim().to_string()
    };
    let theirs =
        dbfile(String::from_utf8_lossy(&fail2ban.client(&["get", "dbfile"]).stdout).into());
    let ours = dbfile(env.client_text(&["get", "dbfile"]));
    for query in queries {
        let (a, b) = (rows(&theirs, query), rows(&ours, query));
        assert!(a.contains("192.0.2.33"), "{query}: {a}");
        assert_eq!(b, a, "{query}");
    }
    // An unban by hand takes the address out of bips in both. (Fail2ban also
    // deletes it from bans; ferroban keeps it there, lifted, until purged.)
    fail2ban.client(&["set", "app", "unbanip", "192.0.2.33"]);
    env.client_text(&["unban", "192.0.2.33"]);
    let active = queries[1];
    assert!(wait_for(10, || !rows(&ours, active).contains("192.0.2.33")));
    assert_eq!(rows(&ours, active), rows(&theirs, active));
    fail2ban.stop();
}

/// The distinct addresses in the ban database.
fn banned_in_database(db: &Path) -> Vec<String> {
    // SQLite's own wait for a busy database (Python's default gives up after 5 s,
    // shorter than a commit of many bans on a loaded machine)
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3\nfor (ip,) in sqlite3.connect({:?}, timeout=30).execute('SELECT DISTINCT ip FROM bans'): print(ip)",
            db.display().to_string()
        ))
        .output()
        .expect("python3 reads the database");
    if !out.status.success() {
        // said, not fatal: the callers wait and ask again
        eprintln!(
            "reading {}: {}",
            db.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The soak test's log writer: addresses that must be banned, and controls that
/// must never be.
#[derive(Default)]
struct SoakLoad {
    next: u32,
    lines: u64,
    expected: Vec<String>,
    controls: Vec<String>,
}

impl SoakLoad {
    /// Append 100 addresses that fail 3 times (banned at maxretry 3) and 100 that
    /// fail twice (banned only if a line were counted twice); the last banned one.
    fn batch(&mut self, log: &Path) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            self.next += 1;
            let n = self.next;
            let banned = format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255);
            let control = format!("172.16.{}.{}", n >> 8 & 255, n & 255);
            text.push_str(&format!("login failed from {banned}\n").repeat(3));
            text.push_str(&format!("login failed from {control}\n").repeat(2));
            self.expected.push(banned);
            self.controls.push(control);
            self.lines += 5;
        }
        append(log, &text);
        self.expected.last().cloned().unwrap_or_default()
    }
}

/// Several minutes of it with FERROBAN_SOAK_SECS=300; a bounded run by default.
#[test]
fn soak_rotation_reload_kill9_and_a_full_disk_lose_no_ban_and_count_no_line_twice() {
    let secs: u64 = std::env::var("FERROBAN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut env = Env::new("soak");
    // The state on a small tmpfs of its own, so that the disk can be filled.
    let state = env.dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let tmpfs = is_root()
        && Command::new("mount")
            // Room for the database of the whole run (about 1 MB per 5 s of it);
            // the test fills the rest on purpose.
            .args([
                "-t",
                "tmpfs",
                "-o",
                // Private, as the server requires of a state directory under /tmp.
                &format!("size={}m,mode=0700", 16 + secs / 2),
                "tmpfs",
            ])
            .arg(&state)
            .status()
            .is_ok_and(|s| s.success());
    if !tmpfs {
        eprintln!("SKIPPED the full-disk part of the soak test: mounting a tmpfs needs root");
    }
    struct Unmount(PathBuf, bool);
    impl Drop for Unmount {
        fn drop(&mut self) {
            if self.1 {
                let _ = Command::new("umount").arg("-l").arg(&self.0).status();
            }
        }
    }
    let _unmount = Unmount(state.clone(), tmpfs);
    env.db = state.join("db.sqlite3");
    // With root, the bans also go into real nftables sets, in a network namespace
    // of the server's own (a new one after each kill -9: the restore fills it).
    let nft = firewall_namespace_ready(
        "the firewall part of the soak test",
        &["nft"],
        &["nft", "list", "ruleset"],
    );
    let firewall = if nft {
        "\n         nftables[port=\"http,https\"]"
    } else {
        ""
    };
    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 3\nfindtime = 1h\nbantime = 1d\n\
         action = record[out=\"{}\"]{firewall}\n",
        env.out().display()
    ));
    let wrapper: &[&str] = if nft { &["unshare", "--net"] } else { &[] };
    let start = |env: &Env| env.start_with(wrapper, &["--no-dry-run"]);
    let log = env.log("app.log");
    let mut d = start(&env);
    let mut load = SoakLoad::default();
    let mut restarts = 0u32;
    let mut faults: Vec<&str> = Vec::new();
    let mut rss_samples: Vec<u64> = Vec::new();
    let caught_up = |env: &Env, last: &str| env.wait_out(&format!("ban app {last} "));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut step = 0;
    while std::time::Instant::now() < deadline {
        let mut last = String::new();
        for _ in 0..5 {
            last = load.batch(&log);
        }
        match step % 5 {
            0 => {
                // Rotation by rename: the rest of the old file is still read.
                std::fs::rename(&log, log.with_extension("log.1")).unwrap();
                append(&log.with_extension("log.1"), "");
                std::fs::write(&log, "").unwrap();
                faults.push("rename");
            }
            1 => {
                // copytruncate loses what the reader has not read yet, by nature:
                // rotate once it has caught up, as logrotate's users must hope.
                assert!(caught_up(&env, &last), "{}", env.own_log_text());
                std::fs::copy(&log, log.with_extension("log.2")).unwrap();
                std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&log)
                    .unwrap();
                faults.push("copytruncate");
            }
            2 => {
                env.client_text(&["reload"]);
                faults.push("reload");
            }
            3 => {
                assert!(caught_up(&env, &last), "{}", env.own_log_text());
                d.child.kill().unwrap();
                d.child.wait().unwrap();
                load.batch(&log); // written while it is down
                d = start(&env);
                restarts += 1;
                faults.push("kill -9");
            }
            _ if tmpfs => {
                assert!(caught_up(&env, &last), "{}", env.own_log_text());
                let filler = state.join("filler");
                let _ = std::fs::write(&filler, vec![0u8; (32 + secs as usize) << 20]); // fills it up
                let last = load.batch(&log);
                assert!(
                    caught_up(&env, &last),
                    "bans go on with a full disk: {}",
                    env.own_log_text()
                );
                std::fs::remove_file(&filler).unwrap();
                // Space again: the bans made meanwhile reach the database.
                assert!(
                    wait_for(10, || banned_in_database(&env.db).contains(&last)),
                    "{}",
                    env.own_log_text()
                );
                faults.push("disk full");
            }
            _ => {}
        }
        rss_samples.push(rss_kib(d.child.id()));
        step += 1;
    }
    let (expected, controls, lines) = (&load.expected, &load.controls, load.lines);
    let last = expected.last().unwrap().clone();
    assert!(caught_up(&env, &last), "{}", env.own_log_text());
    // Every expected ban: in the server, in the action's record, in the database.
    let banned = env.client_text(&["--json", "banned"]);
    let out = env.out_text();
    let missing = || {
        let in_db: std::collections::HashSet<String> =
            banned_in_database(&env.db).into_iter().collect();
        expected
            .iter()
            .filter(|ip| !in_db.contains(*ip))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        wait_for(10, || missing().is_empty()),
        "bans missing from the database after the disk was freed: {:?}\n{}",
        missing(),
        env.own_log_text()
    );
    // Sets, not substring searches: a long run bans a hundred thousand addresses.
    let banned: std::collections::HashSet<&str> = banned
        .split(|c: char| "\"[]{}:,".contains(c) || c.is_whitespace())
        .collect();
    let acted: std::collections::HashSet<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ban app ")?.split(' ').next())
        .collect();
    for ip in expected {
        assert!(banned.contains(ip.as_str()), "{ip} not banned");
        assert!(acted.contains(ip.as_str()), "{ip} never reached the action");
    }
    if nft {
        let listing = in_namespace_of(
            &d.child.id().to_string(),
            "nft list set inet f2b-table addr-set-app",
        );
        let in_set: std::collections::HashSet<&str> = listing
            .split(|c: char| c == ',' || c == '{' || c == '}' || c.is_whitespace())
            .collect();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|ip| !in_set.contains(ip.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{} bans not in the kernel set, e.g. {:?}",
            missing.len(),
            missing.first()
        );
    }
    // No line was counted twice: an address with two failures is never banned.
    for ip in controls {
        assert!(
            !banned.contains(ip.as_str()),
            "{ip} banned: a line was counted twice"
        );
    }
    // Memory: every ban here is held for the whole run (bantime 1d), so the server
    // grows with them; beyond 2 KiB per ban held (matched lines, the expiry order,
    // the actions' record of what they applied) it must not.
    let settled = rss_samples.get(1).copied().unwrap_or(0).max(1);
    let end = *rss_samples.last().unwrap();
    let allowed = settled + 2 * expected.len() as u64 + 16 * 1024;
    eprintln!(
        "soak: {secs} s, {lines} lines, {} bans (checked in {}), {restarts} restarts (kill -9), faults {:?}, RSS {settled} -> {end} KiB ({} bytes per ban held)",
        expected.len(),
        if nft { "the database, the action record and the kernel set" } else { "the database and the action record" },
        faults,
        end.saturating_sub(settled) * 1024 / expected.len().max(1) as u64
    );
    assert!(
        end <= allowed,
        "memory grew beyond the bans held: {rss_samples:?}"
    );
    // And it is given back: with every ban lifted, the server returns to about
    // where it started (no leak across rotations, reloads and the full disk).
    env.client_text(&["unban", "--all"]);
    // (The controls are still counted, rightly: about half a KiB each.)
    let back = wait_for(20, || {
        rss_kib(d.child.id()) <= settled + 4 * 1024 + controls.len() as u64 / 2
    });
    eprintln!(
        "soak: all bans lifted: RSS {} KiB (started at {settled} KiB)",
        rss_kib(d.child.id())
    );
    assert!(back, "memory not given back after unban --all");
}

/// Debian's own `fail2ban-client` (Python), or `None` after saying why not.
fn python_fail2ban_client() -> Option<PathBuf> {
    let client = PathBuf::from("/usr/bin/fail2ban-client");
    let python = std::fs::read_to_string(&client).is_ok_and(|t| {
        t.starts_with("#!") && t.lines().next().is_some_and(|l| l.contains("python"))
    });
    if !python || !Path::new("/usr/bin/fail2ban-server").exists() {
        eprintln!("SKIPPED: Debian's Python fail2ban-client and fail2ban-server are not installed (apt-get install fail2ban)");
        return None;
    }
    Some(client)
}

/// Ends the process whose pid is in the file (Fail2ban's detached server) if a
/// test fails before stopping it.
struct StopByPidFile(PathBuf);

impl Drop for StopByPidFile {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(&self.0).ok();
        if let Some(pid) = pid.and_then(|p| p.trim().parse::<i32>().ok()) {
            // SAFETY: kill only sends a signal.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// The Python client's output for `words` on `socket`: exit code, stdout and
/// stderr, with times, pids and the given paths masked.
fn python_client_says(env: &Env, socket: &Path, words: &[&str], masks: &[(&Path, &str)]) -> String {
    let o = Command::new("/usr/bin/fail2ban-client")
        .arg("-c")
        .arg(env.conf())
        .arg("-s")
        .arg(socket)
        .args(words)
        .output()
        .unwrap();
    let text = format!(
        "$ {}\n{}{}rc={:?}\n",
        words.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        o.status.code()
    );
    mask(&text, masks)
}

fn mask(text: &str, masks: &[(&Path, &str)]) -> String {
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d+)?").unwrap();
    let pid = regex::Regex::new(r"\[\d+\]").unwrap();
    let mut text = pid
        .replace_all(&time.replace_all(text, "TIME"), "[PID]")
        .into_owned();
    for (path, name) in masks {
        text = text.replace(&path.display().to_string(), name);
    }
    text
}

/// A test directory for Debian's Python client: Fail2ban's own files (which that
/// client reads), with only the jail `app` (`options` in its section), whose action
/// `note` records its starts, stops and bans (with `<actname>`, which Fail2ban fills
/// in and `get JAIL action note actionban` shows filled); `None` after saying why when
/// Fail2ban is not installed.
fn python_client_env(tag: &str, options: &str) -> Option<Env> {
    python_fail2ban_client()?;
    let env = Env::new(tag);
    if !stock_config(&env) {
        return None;
    }
    // Only the test's jail: no jail.d (Debian's enables sshd there).
    for entry in std::fs::read_dir(env.conf().join("jail.d")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    std::fs::write(
        env.conf().join("action.d/note.conf"),
        "[Definition]\nactionstart = echo start <name> >> <out>\nactionstop = echo stop <name> >> <out>\n\
         actionban = echo ban <name> <ip> <actname> >> <out>\nactionunban = echo unban <name> <ip> >> <out>\n\
         [Init]\nout = /dev/null\n",
    )
    .unwrap();
    env.jails(&format!(
        "ignoreself = false\n[app]\nenabled = true\nlogpath = {}\naction = note[out=\"{}\"]\n{options}",
        env.log("app.log").display(),
        env.out().display()
    ));
    Some(env)
}

/// A step of the transcript below: `banned IP`, asked until it shows the ban (for
/// at most 10 s).
const BANNED_BY_NOW: &str = "banned-by-now";

#[test]
fn debians_fail2ban_client_prints_the_same_for_fail2ban_server_and_ferroban() {
    let Some(env) = python_client_env(
        "py-client",
        "maxretry = 3\nbantime = 1h\ndatepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S\n",
    ) else {
        return;
    };
    // Fail2ban's server keeps its state in the test directory (ferroban is told
    // the same on its command line).
    let f2b_socket = env.dir.join("run/f2b.sock");
    let (f2b_log, f2b_db) = (env.dir.join("f2b.log"), env.dir.join("f2b.sqlite3"));
    std::fs::write(
        env.conf().join("fail2ban.local"),
        format!(
            "[Definition]\nsocket = {}\npidfile = {}\nlogtarget = {}\ndbfile = {}\n",
            f2b_socket.display(),
            env.dir.join("run/f2b.pid").display(),
            f2b_log.display(),
            f2b_db.display()
        ),
    )
    .unwrap();
    let started = python_client_says(&env, &f2b_socket, &["start"], &[]);
    let _fail2ban = StopByPidFile(env.dir.join("run/f2b.pid"));
    assert!(
        started.contains("rc=Some(0)"),
        "fail2ban-server did not start: {started}"
    );
    let _ferroban = env.start();
    // a second log, added to the jail by command and removed again
    let other_log = env.log("other.log").display().to_string();
    std::fs::write(&other_log, "").unwrap();

    // Every command of the client's grammar that a server answers.
    let script: &[&[&str]] = &[
        &["ping"],
        &["version"],
        &["start"],
        &["status"],
        &["status", "app"],
        &["status", "app", "extended"],
        &["set", "app", "banip", "203.0.113.1", "203.0.113.2"],
        &["banned"],
        &["banned", "203.0.113.1"],
        &["get", "app", "banip"],
        &["get", "app", "banip", "--with-time"],
        &["status", "app"],
        &["set", "app", "unbanip", "203.0.113.1"],
        &["set", "app", "unbanip", "--report-absent", "203.0.113.9"],
        &["unban", "203.0.113.2"],
        &["set", "app", "banip", "203.0.113.3"],
        &["unban", "--all"],
        &["get", "app", "bantime"],
        &["set", "app", "bantime", "2h"],
        &["get", "app", "findtime"],
        &["set", "app", "findtime", "20m"],
        &["get", "app", "maxretry"],
        &["set", "app", "maxretry", "4"],
        &["get", "app", "maxmatches"],
        &["set", "app", "maxmatches", "5"],
        &["get", "app", "ignoreip"],
        &["set", "app", "addignoreip", "10.0.0.0/8"],
        &["set", "app", "delignoreip", "10.0.0.0/8"],
        &["get", "app", "ignoreself"],
        &["set", "app", "ignoreself", "true"],
        &["get", "app", "ignorecommand"],
        &["set", "app", "ignorecommand", ""],
        &["get", "app", "logpath"],
        &["get", "app", "logencoding"],
        &["get", "app", "journalmatch"],
        &["get", "app", "usedns"],
        &["set", "app", "usedns", "no"],
        &["get", "app", "actions"],
        &["get", "app", "ignoreregex"],
        &["get", "app", "datepattern"],
        &["get", "app", "maxlines"],
        &["set", "app", "maxlines", "3"],
        &["get", "app", "maxlines"],
        &["set", "app", "maxlines", "0"],
        &["set", "app", "maxlines", "x"],
        &["set", "app", "maxlines", "1"],
        // the filter changed by command, until the next reload
        &["set", "app", "addfailregex", "^bad login from <HOST>$"],
        &["set", "app", "addignoreregex", "trusted"],
        &["set", "app", "delignoreregex", "0"],
        &["set", "app", "delfailregex", "-1"],
        &["set", "app", "delfailregex", "7"],
        &["set", "app", "datepattern", "Epoch"],
        &["set", "app", "datepattern", "{^LN-BEG}%Y-%m-%d %H:%M:%S"],
        &["set", "app", "logtimezone", "UTC+0200"],
        &["get", "app", "logtimezone"],
        &["set", "app", "logencoding", "latin-1"],
        &["get", "app", "logencoding"],
        &["set", "app", "logencoding", "auto"],
        &["set", "app", "addlogpath", &other_log],
        &["set", "app", "dellogpath", &other_log],
        // the regexes as compiled: tags expanded (with the usedns they were built with)
        &["get", "app", "failregex"],
        &["get", "app", "bantime.maxtime"],
        &["get", "app", "bantime.increment"],
        &["get", "app", "bantime.factor"],
        &["set", "app", "bantime.increment", "true"],
        &["get", "app", "bantime.increment"],
        &["set", "app", "bantime.factor", "2"],
        &["set", "app", "bantime.multipliers", "1 2 4"],
        &["set", "app", "bantime.maxtime", "1d"],
        &["get", "app", "bantime.maxtime"],
        &["set", "app", "bantime.overalljails", "true"],
        &["set", "app", "bantime.increment", "false"],
        &["get", "app", "bantime.maxtime"],
        &["get", "app", "prefregex"],
        // (fail2ban-server 1.0.2 has no `get JAIL idle`; ferroban answers it)
        &["set", "app", "idle", "on"],
        &["set", "app", "idle", "off"],
        &["set", "app", "banip", "203.0.113.5"],
        &["get", "app", "banned", "203.0.113.5"],
        &["get", "app", "banned", "203.0.113.5", "203.0.113.6"],
        &["get", "app", "action", "note", "actionban"],
        &["get", "app", "action", "nosuch", "actionban"],
        &["get", "app", "actionproperties", "note"],
        &["get", "app", "actionmethods", "note"],
        &["get", "app", "actionproperties", "nosuch"],
        // every property actionproperties lists, also those the action file leaves out
        &["get", "app", "action", "note", "timeout"],
        &["get", "app", "action", "note", "actionflush"],
        &["get", "app", "action", "note", "actionreban"],
        &["get", "app", "action", "note", "actionrepair"],
        &["get", "app", "action", "note", "banEpoch"],
        &["get", "app", "action", "note", "actname"],
        &["get", "app", "action", "note", "name"],
        &["get", "app", "action", "note", "ESCAPE_CRE"],
        &["get", "app", "action", "note", "ESCAPE_VN_CRE"],
        &["set", "app", "unbanip", "203.0.113.5"],
        // an IPv4-mapped address is the IPv4 address: banned, found and unbanned as it
        &["set", "app", "banip", "::ffff:192.0.2.190"],
        &["banned", "192.0.2.190"],
        &["get", "app", "banned", "::ffff:192.0.2.190"],
        &["set", "app", "unbanip", "192.0.2.190"],
        // what is no address is banned nowhere, and unbanning it lifts nothing
        &["banned", "bogus"],
        &["unban", "bogus"],
        &["unban", "--all", "extra"],
        // the present ones are unbanned, and every absent one is named
        &["set", "app", "banip", "203.0.113.7", "203.0.113.8"],
        &[
            "set",
            "app",
            "unbanip",
            "--report-absent",
            "203.0.113.7",
            "203.0.113.20",
            "203.0.113.21",
        ],
        &["get", "app", "banip"],
        &["set", "app", "unbanip", "203.0.113.8"],
        // failures reported by hand: two texts are two failures, the fourth bans
        &[
            "set",
            "app",
            "attempt",
            "203.0.113.30",
            "login failed",
            "again",
        ],
        &["status", "app"],
        &["set", "app", "attempt", "203.0.113.30"],
        &["set", "app", "attempt", "203.0.113.30"],
        &[BANNED_BY_NOW, "203.0.113.30"],
        &["set", "app", "unbanip", "203.0.113.30"],
        &["get", "app", "logtimezone"],
        &["get", "app", "ignorecache"],
        &["get", "thread"],
        &["set", "app", "usedns", "bogus"],
        &["set", "loglevel", "10"],
        &["get", "loglevel"],
        &["set", "syslogsocket", "auto"],
        &["get", "dbmaxmatches"],
        &["set", "dbpurgeage", "2d"],
        &["get", "loglevel"],
        &["set", "loglevel", "INFO"],
        &["get", "logtarget"],
        &["get", "syslogsocket"],
        &["get", "dbfile"],
        &["get", "dbpurgeage"],
        &["status", "nope"],
        &["get", "nope", "bantime"],
        &["set", "nope", "banip", "203.0.113.4"],
        &["sleep", "0.1"],
        &["config-error", "hello"],
        &["multi-set", "app", "maxretry", "7"],
        &["stop", "--all"],
        &["status"],
        &["reload"],
        &["start", "app"],
        &["stop", "app"],
        &["status"],
        &["reload"],
        &["status", "app"],
        &["reload", "app"],
        &["reload", "--unban", "app"],
        &["restart", "app"],
        &["reload", "--if-exists", "nojail"],
        &["status", "app", "short"],
        &["echo", "hello", "world"],
        &["flushlogs"],
        &["stop"],
    ];
    let masks = |socket: &Path| {
        vec![
            (socket.to_path_buf(), "SOCKET"),
            (f2b_log.clone(), "LOGTARGET"),
            (env.own_log(), "LOGTARGET"),
            (f2b_db.clone(), "DBFILE"),
            (env.db.clone(), "DBFILE"),
        ]
    };
    let transcript = |socket: &Path| -> String {
        let owned = masks(socket);
        let masks: Vec<(&Path, &str)> = owned.iter().map(|(p, n)| (p.as_path(), *n)).collect();
        script
            .iter()
            .map(|words| match words {
                // fail2ban-server bans on its actions' thread, after it answered
                [BANNED_BY_NOW, ip] => {
                    let banned = || python_client_says(&env, socket, &["banned", ip], &masks);
                    wait_for(10, || banned().contains("[['app']]"));
                    banned()
                }
                _ => python_client_says(&env, socket, words, &masks),
            })
            .collect()
    };
    // ferroban's client reads a Fail2ban server, and prints what it prints for ferroban.
    let ours = |socket: &Path, words: &[&str]| {
        let o = Command::new(BIN)
            .arg("-s")
            .arg(socket)
            .args(words)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    for words in [&["status"][..], &["get", "app", "maxretry"], &["banned"]] {
        assert_eq!(
            ours(&f2b_socket, words),
            ours(&env.socket(), words),
            "ferroban {words:?}"
        );
    }
    // (ferroban's own status adds its counters; Fail2ban's has none to add.)
    let (code, status) = ours(&f2b_socket, &["status", "app"]);
    assert_eq!(code, Some(0));
    assert!(
        status.starts_with("Status for the jail: app\n|- Filter\n|  |- Currently failed:\t0\n")
            && status.ends_with("`- Banned IP list:\t\n"),
        "{status}"
    );
    assert_eq!(
        ours(&f2b_socket, &["ping"]),
        (Some(0), "Server replied: pong\n".into())
    );

    // What the actions ran, each server in its turn (the script ends in `stop`).
    let actions_before = env.out_text().len();
    let fail2ban = transcript(&f2b_socket);
    assert!(
        wait_for(10, || !f2b_socket.exists()),
        "fail2ban-server stopped"
    );
    let fail2ban_actions = env.out_text()[actions_before..].to_string();
    let ferroban = transcript(&env.socket());
    assert!(wait_for(10, || !env.socket().exists()), "ferroban stopped");
    let ferroban_actions = env.out_text()[actions_before + fail2ban_actions.len()..].to_string();
    for expected in [
        "Server replied: pong",
        "`- Banned IP list:\t203.0.113.1 203.0.113.2",
        "203.0.113.1 \tTIME + 3600 = TIME",
        "NOK: (\"not banned: ['203.0.113.9']\",)",
        "These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n`- 10.0.0.0/8",
        "Current date pattern set to: {^LN-BEG}%Y-%m-%d %H:%M:%S ({^LN-BEG}Year-Month-Day 24hour:Minute:Second)",
        "NOK: (\"not banned: ['203.0.113.20', '203.0.113.21']\",)",
        "$ get app action note ESCAPE_VN_CRE\nre.compile('\\\\W')",
        "$ banned 192.0.2.190\n[['app']]",
        "$ banned 203.0.113.30\n[['app']]",
        "Sorry but the jail 'nope' does not exist",
        "$ reload app\nOK",
        "$ stop\nShutdown successful",
        "Current syslog socket is:\n`- auto",
        "following properties:\nESCAPE_CRE, ESCAPE_VN_CRE, actionban, actioncheck, actionflush, \
         actionreban, actionreload, actionrepair, actionstart, actionstop, actionunban, actname, \
         banEpoch, name, out, timeout\n",
        "following methods:\nban, clearAllParams,",
        "$ set app maxlines 3\n3\nrc=Some(0)\n$ get app maxlines\n3\n",
        "maxlines must be integer greater than zero",
        "invalid literal for int() with base 10: 'x'",
        // (a regex's index looks like a pid to the mask)
        "`- [PID]: login failed from (?:\\[?(?:(?:::f{4,6}:)?(?P<ip4>",
        "(?: user=(?P<user>.*))?$",
    ] {
        assert!(
            fail2ban.contains(expected),
            "fail2ban-server's transcript lacks {expected:?}:\n{fail2ban}"
        );
    }
    let (ours_lines, theirs_lines): (Vec<&str>, Vec<&str>) =
        (ferroban.lines().collect(), fail2ban.lines().collect());
    for (n, (a, b)) in theirs_lines.iter().zip(&ours_lines).enumerate() {
        assert_eq!(
            a, b,
            "line {n} differs; fail2ban-server:\n{fail2ban}\nferroban:\n{ferroban}"
        );
    }
    assert_eq!(fail2ban, ferroban);
    // `restart app` stops the jail's actions and starts them again
    assert!(
        fail2ban_actions.contains("ban app 192.0.2.190 note\n")
            && fail2ban_actions.contains("stop app\nstart app\n"),
        "{fail2ban_actions}"
    );
    assert_eq!(
        fail2ban_actions, ferroban_actions,
        "the actions ran differently"
    );
    // A failure reported by hand is logged as an attempt (as Fail2ban logs it), not
    // as a setting.
    let log = env.own_log_text();
    assert!(
        log.contains("[app] Attempt 203.0.113.30") && !log.contains("set attempt"),
        "{log}"
    );
}

/// `set JAIL maxlines` takes effect on the lines read after it: a two-line
/// failregex cannot match while the jail buffers one line, and does once it
/// buffers two (the filter is built again for them).
#[test]
fn set_maxlines_lets_a_multi_line_failregex_match() {
    let env = Env::new("set-maxlines");
    std::fs::write(
        env.conf().join("filter.d/twolines.conf"),
        "[Definition]\nfailregex = attempt from <HOST>\\n.*denied$\n            ^\\s*sentinel from <HOST>$\n",
    )
    .unwrap();
    env.jails(
        "[app]\nenabled = true\nfilter = twolines\nlogpath = ../logs/app.log\nmaxretry = 1\n",
    );
    let _d = env.start();
    let two_lines = |ip: &str| {
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
        format!("{stamp} attempt from {ip}\n{stamp} denied\n")
    };
    // one line at a time: the pair is not seen; the sentinel after it shows the
    // pair was read
    let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
    append(
        &env.log("app.log"),
        &format!(
            "{}{stamp} sentinel from 192.0.2.99\n",
            two_lines("192.0.2.7")
        ),
    );
    assert!(env.wait_out("ban app 192.0.2.99"), "{}", env.own_log_text());
    assert_eq!(
        env.client_text(&["set", "app", "maxlines", "2"]).trim(),
        "2"
    );
    assert_eq!(env.client_text(&["get", "app", "maxlines"]).trim(), "2");
    append(&env.log("app.log"), &two_lines("192.0.2.8"));
    assert!(env.wait_out("ban app 192.0.2.8"), "{}", env.own_log_text());
    assert!(
        !env.out_text().contains("192.0.2.7"),
        "matched over one line: {}",
        env.out_text()
    );
}

/// The filter and the files a jail reads, changed by command (as Fail2ban's tools
/// change them): a failregex added matches the lines read after it, an ignoreregex
/// added spares them, a log added is read, and a log removed is no longer.
#[test]
fn a_jail_changed_by_command_reads_what_it_was_told() {
    let env = Env::new("set-filter");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 1\n");
    let _d = env.start();
    let now = || jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
    let said = env.client_text(&[
        "set",
        "app",
        "addfailregex",
        "bad password for .* from <HOST>$",
    ]);
    assert!(said.contains("bad password for .* from "), "{said}");
    let said = env.client_text(&["set", "app", "addignoreregex", "from 192\\.0\\.2\\.9$"]);
    assert!(said.contains("192"), "{said}");
    append(
        &env.log("app.log"),
        &format!(
            "{0} bad password for root from 192.0.2.9\n{0} bad password for root from 192.0.2.7\n",
            now()
        ),
    );
    assert!(env.wait_out("ban app 192.0.2.7"), "{}", env.own_log_text());
    // a log added is read from its start, and one removed is left
    append(
        &env.log("web.log"),
        &format!("{} login failed from 192.0.2.8\n", now()),
    );
    env.client_text(&[
        "set",
        "app",
        "addlogpath",
        &env.log("web.log").display().to_string(),
    ]);
    assert!(env.wait_out("ban app 192.0.2.8"), "{}", env.own_log_text());
    env.client_text(&[
        "set",
        "app",
        "dellogpath",
        &env.log("web.log").display().to_string(),
    ]);
    env.fail("web.log", "192.0.2.10", 1);
    env.fail("app.log", "192.0.2.11", 1);
    assert!(env.wait_out("ban app 192.0.2.11"), "{}", env.own_log_text());
    let out = env.out_text();
    assert!(
        !out.contains("192.0.2.9") && !out.contains("192.0.2.10"),
        "{out}"
    );
    // the jail's file read on in another encoding
    env.client_text(&["set", "app", "logencoding", "latin-1"]);
    let mut line = format!("{} login failed from 192.0.2.12 user=caf", now()).into_bytes();
    line.extend(b"\xe9\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(env.log("app.log"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, &line))
        .unwrap();
    assert!(env.wait_out("ban app 192.0.2.12"), "{}", env.own_log_text());
    assert!(env.out_text().contains("user=café"), "{}", env.out_text());
    // a regex that does not compile is refused, and the filter kept
    let o = env.client(&["set", "app", "addfailregex", "(unclosed <HOST>"]);
    assert!(!o.status.success());
    let regexes = env.client_text(&["get", "app", "failregex"]);
    assert_eq!(regexes.matches("from").count(), 2, "{regexes}");
}

/// ferroban linked as `fail2ban-client` prints what Debian's `fail2ban-client`
/// prints, to both streams, with its exit code: scripts parse that output (`banned`
/// as a Python list, regexes and action properties as trees, a refused command's
/// message on standard output). Both clients ask the same ferroban server the same
/// questions, none of which changes its state.
#[test]
fn ferroban_as_fail2ban_client_prints_what_debians_client_prints() {
    let Some(env) = python_client_env("as-f2b-client", "") else {
        return;
    };
    let _d = env.start();
    env.client_text(&["ban", "app", "203.0.113.1"]);
    let ours = env.dir.join("fail2ban-client");
    std::os::unix::fs::symlink(BIN, &ours).unwrap();
    let script: &[&[&str]] = &[
        &["ping"],
        &["status"],
        &["status", "app"],
        &["banned"],
        &["banned", "203.0.113.1"],
        &["get", "app", "banip"],
        &["get", "app", "banned", "203.0.113.1", "203.0.113.2"],
        &["get", "app", "failregex"],
        &["get", "app", "ignoreregex"],
        &["get", "app", "prefregex"],
        &["get", "app", "actions"],
        &["get", "app", "actionproperties", "note"],
        &["get", "app", "actionmethods", "note"],
        &["get", "app", "action", "note", "actionban"],
        &["get", "app", "maxlines"],
        &["get", "app", "logencoding"],
        &["get", "app", "bantime.increment"],
        &["get", "app", "ignorecommand"],
        &["get", "syslogsocket"],
        &["get", "logtarget"],
        &["get", "loglevel"],
        &["get", "dbfile"],
        &["get", "dbpurgeage"],
        &["status", "nope"],
        &["get", "nope", "bantime"],
        &["get", "app", "actionproperties", "nosuch"],
        &["set", "app", "maxlines", "0"],
        &["set", "app", "unbanip", "--report-absent", "203.0.113.9"],
    ];
    let run = |client: &Path, words: &[&str]| {
        let o = Command::new(client)
            .arg("-c")
            .arg(env.conf())
            .arg("-s")
            .arg(env.socket())
            .args(words)
            .output()
            .unwrap();
        format!("$ {}\n{}", words.join(" "), streams(&o))
    };
    let debian = Path::new("/usr/bin/fail2ban-client");
    for words in script {
        assert_eq!(run(&ours, words), run(debian, words));
    }
    let banned = run(&ours, &["banned"]);
    assert!(
        banned.contains("stdout:\n[{'app': ['203.0.113.1']}]\n"),
        "{banned}"
    );
    let refused = run(&ours, &["status", "nope"]);
    assert!(
        refused.contains("stdout:\nSorry but the jail 'nope' does not exist\n")
            && refused.contains("ERROR   NOK: ('nope',)")
            && refused.contains("rc=Some(255)"),
        "{refused}"
    );
    // `-i`: commands read a line at a time, a refused one not the last, until quit
    // (or the end of the input)
    let interactive = |client: &Path, first: &[&str], input: &str| {
        let mut command = Command::new(client);
        command
            .arg("-c")
            .arg(env.conf())
            .arg("-s")
            .arg(env.socket())
            .arg("-i")
            .args(first);
        streams(&common::run_with_input(&mut command, input))
    };
    for (first, input) in [
        (
            &[][..],
            "ping\nstatus nope\n\nget app banip\nset app addignoreip '10.0.0.0/8'\nquit\nstatus\n",
        ),
        (&["banned", "203.0.113.1"], "get app maxretry\n"),
    ] {
        let said = interactive(&ours, first, input);
        assert_eq!(
            said,
            interactive(debian, first, input),
            "-i {first:?} {input:?}"
        );
        assert!(said.contains("fail2ban> "), "{said}");
    }
}

/// A client's output and exit code, times and pids masked.
fn streams(o: &Output) -> String {
    let text = format!(
        "stdout:\n{}stderr:\n{}rc={:?}\n",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        o.status.code()
    );
    mask(&text, &[])
}

/// Speaks Fail2ban's protocol to the socket in argv[1] with pickles Python makes
/// here: each protocol version, then hostile ones; prints one line per answer.
const PICKLE_PROBE: &str = r#"
import os, pickle, socket, sys
path, marker = sys.argv[1], sys.argv[2]
END = b"<F2B_END_COMMAND>"

def ask(payload, conn=None):
    s = conn
    if s is None:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
    s.settimeout(20)
    s.sendall(payload + END)
    msg = b""
    while not msg.endswith(END):
        chunk = s.recv(65536)
        if not chunk:
            return ("closed", None)
        msg += chunk
    return pickle.loads(msg[:-len(END)])

def show(name, answer):
    code, value = answer
    text = value.args[0] if isinstance(value, BaseException) else value
    print(name, code, type(value).__name__, text, flush=True)

for proto in (0, 1, 2, 3, 4, 5):
    show("protocol%d" % proto, ask(pickle.dumps(["set", "app", "banip", "203.0.113.%d" % (10 + proto)], proto)))
    show("ping%d" % proto, ask(pickle.dumps(("ping", 0.5), proto)))

# Python 2 strings, as Go's og-rek encoder writes them (the Prometheus exporter).
show("python2-strings", ask(b"\x80\x02]q\x00(U\x04pingq\x01e."))

# What the Python client sends after starting a server, and with reload: the
# configuration as it read it (ferroban reads its own).
stream = [["set", "loglevel", "INFO"], ["add", "app", "auto"], ["set", "app", "maxretry", 3],
          ["multi-set", "app", "action", "note", [["actionban", "echo <ip>"]]], ["start", "app"]]
show("server-stream", ask(pickle.dumps(["server-stream", stream], 4)))
show("server-status", ask(pickle.dumps(["server-status"], 4)))
show("reload-stream", ask(pickle.dumps(["reload", "--all", [], stream], 4)))
show("reload-jail-stream", ask(pickle.dumps(["reload", "app", [], stream], 4)))
show("echo", ask(pickle.dumps(["echo", "a", "b"], 4)))

class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + marker,))

def bomb(n):
    return ["x" * 100] if n == 0 else [bomb(n - 1)] * 10

# Protocols 0 and 1 do not start with 0x80: such bytes go to the JSON side.
plain = socket.socket(socket.AF_UNIX)
plain.connect(path)
plain.settimeout(20)
plain.sendall(pickle.dumps(Evil(), 0) + END)
print("global-protocol0", plain.recv(4096).split(b"\n")[0].decode(), flush=True)

hostile = [
    ("global-protocol2", pickle.dumps(Evil(), 2)),
    ("stack-global-protocol5", pickle.dumps(Evil(), 5)),
    ("deep", b"\x80\x04" + b"]" * 100000 + b"a" * 99999 + b"."),
    ("huge-length", b"\x80\x04X\xff\xff\xff\x7f" + b"x" * 16),
    ("memo-bomb", pickle.dumps(bomb(9), 4)),
    ("truncated", pickle.dumps(["set", "app", "banip", "203.0.113.99"], 4)[:20]),
]
for name, payload in hostile:
    show(name, ask(payload))
conn = socket.socket(socket.AF_UNIX)
conn.connect(path)
show("same-connection-hostile", ask(hostile[0][1], conn))
show("same-connection-after", ask(pickle.dumps(["status"], 4), conn))
conn.sendall(b"<F2B_CLOSE_COMMAND>" + END)
print("closed-on-request", conn.recv(16) == b"", flush=True)
"#;

#[test]
fn every_pickle_protocol_is_served_and_hostile_pickles_are_refused_while_serving_on() {
    let env = Env::new("pickles");
    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = {}\n",
        env.log("app.log").display()
    ));
    let _d = env.start();
    let marker = env.dir.join("pwned");
    let Ok(out) = Command::new("python3")
        .args(["-c", PICKLE_PROBE])
        .arg(env.socket())
        .arg(&marker)
        .output()
    else {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Protocols 2 to 5 as the issue asks, and 0 and 1 (lists start with `(`, `]`).
    for proto in 0..=5 {
        assert!(
            text.contains(&format!("protocol{proto} 0 int 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("ping{proto} 0 str pong\n")),
            "{text}"
        );
    }
    assert!(text.contains("python2-strings 0 str pong\n"), "{text}");
    assert!(
        text.contains("global-protocol0 {\"error\":\"bad request: expected a JSON array of words\",\"ok\":false}"),
        "{text}"
    );
    for (name, why) in [
        ("global-protocol2", "opcode GLOBAL"),
        ("stack-global-protocol5", "opcode STACK_GLOBAL"),
        ("deep", "nests deeper"),
        ("huge-length", "ends early"),
        ("memo-bomb", "builds more than"),
        ("truncated", "ends early"),
        ("same-connection-hostile", "opcode GLOBAL"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no answer to {name}: {text}"));
        assert!(
            line.starts_with(&format!("{name} 1 ValueError bad request: ")) && line.contains(why),
            "{line}"
        );
    }
    for answer in [
        "server-stream 0 NoneType None",
        "server-status 0 str Server ready",
        "reload-stream 0 str OK",
        "reload-jail-stream 0 str OK",
        "echo 0 list ['a', 'b']",
    ] {
        assert!(text.contains(answer), "{answer}: {text}");
    }
    assert!(text.contains("same-connection-after 0 list"), "{text}");
    assert!(text.contains("closed-on-request True"), "{text}");
    assert!(!marker.exists(), "a pickle ran a command");
    let banned = env.client_text(&["get", "app", "banip"]);
    for proto in 0..=5 {
        assert!(
            banned.contains(&format!("203.0.113.{}", 10 + proto)),
            "{banned}"
        );
    }
    assert_eq!(env.client_text(&["ping"]), "Server replied: pong\n");
}

#[test]
fn debians_logrotate_snippet_reopens_ferrobans_log_through_the_python_client() {
    let snippet = Path::new("/etc/logrotate.d/fail2ban");
    if !is_root() || !Path::new("/usr/sbin/logrotate").exists() || !snippet.exists() {
        eprintln!("SKIPPED: needs root, logrotate and Debian's fail2ban logrotate snippet (apt-get install logrotate fail2ban)");
        return;
    }
    let Some(client) = python_fail2ban_client() else {
        return;
    };
    let env = Env::new("logrotate");
    env.jails(&format!(
        "[app]\nenabled = true\nlogpath = {}\n",
        env.log("app.log").display()
    ));
    let _d = env.start();
    env.client_text(&["ban", "app", "203.0.113.20"]);
    assert!(wait_for(10, || env
        .own_log_text()
        .contains("Ban 203.0.113.20")));
    // Debian's snippet as it is, pointed at this test's log and server.
    let text = std::fs::read_to_string(snippet).unwrap();
    assert!(text.contains("fail2ban-client flushlogs"), "{text}");
    let rotate = env.dir.join("logrotate.conf");
    std::fs::write(
        &rotate,
        text.replace(
            "/var/log/fail2ban.log",
            &env.own_log().display().to_string(),
        )
        .replace(
            "fail2ban-client",
            &format!(
                "{} -c {} -s {}",
                client.display(),
                env.conf().display(),
                env.socket().display()
            ),
        ),
    )
    .unwrap();
    let rotated = Command::new("/usr/sbin/logrotate")
        .arg("-f")
        .arg("-s")
        .arg(env.dir.join("logrotate.state"))
        .arg(&rotate)
        .output()
        .unwrap();
    assert!(
        rotated.status.success(),
        "logrotate: {}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let old = env.dir.join("ferroban.log.1");
    let old_text = || std::fs::read_to_string(&old).unwrap_or_default();
    assert!(
        old_text().contains("Ban 203.0.113.20"),
        "rotated away: {}",
        old_text()
    );
    env.client_text(&["ban", "app", "203.0.113.21"]);
    assert!(
        wait_for(10, || env.own_log_text().contains("Ban 203.0.113.21")),
        "the server writes to the new log after flushlogs: {}",
        env.own_log_text()
    );
    assert!(
        !old_text().contains("203.0.113.21"),
        "nothing more goes to the rotated log"
    );
}

/// Fills the listening queue of the socket in argv[1], says how many connections
/// that took, and holds them.
const FILL_QUEUE: &str = r#"
import socket, sys, time
held = []
while len(held) < 100000:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except BlockingIOError:
        break
    held.append(s)
print(len(held), flush=True)
time.sleep(60)
"#;

/// `ferroban --timeout 1 -s SOCKET status`: whether it ended by itself within 20 s,
/// its exit code and its stderr.
fn client_on_silent_socket(socket: &Path) -> (bool, Option<i32>, String) {
    let mut client = Command::new(BIN)
        .args(["--timeout", "1", "-s"])
        .arg(socket)
        .arg("status")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = wait_for(20, || client.try_wait().unwrap().is_some());
    if !ended {
        let _ = client.kill();
    }
    let out = client.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (ended, out.status.code(), err)
}

/// ferroban's own client exits 1 whenever it fails, whatever the failure: the
/// server refused, no server answers, or an argument is bad (before, the last two
/// exited 255, as Fail2ban's client does, which keeps its own codes).
#[test]
fn the_clients_failures_exit_1() {
    let env = Env::new("exit1");
    let nowhere = env.dir.join("no-server.sock");
    for args in [
        &["ping"][..],
        &["set", "sshd", "bantime", "2", "days"][..],
        &["--timeout", "soon", "status"][..],
    ] {
        let o = Command::new(BIN)
            .arg("-s")
            .arg(&nowhere)
            .args(args)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.starts_with("ERROR: "), "{args:?}: {said}");
    }
}

#[test]
fn the_client_gives_up_on_a_silent_server_and_names_it() {
    let env = Env::new("silent");
    std::fs::create_dir_all(env.dir.join("run")).unwrap();
    let socket = env.dir.join("run/silent.sock");
    // Accepts connections (the kernel does, into the queue) and never answers.
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let (ended, code, err) = client_on_silent_socket(&socket);
    assert!(ended, "the client hung on a server that does not answer");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("no answer from {} within 1 s", socket.display()))
            && err.contains(&format!("pid {}", std::process::id())),
        "the error names the socket and the process listening there: {err}"
    );
    // Once its queue is full, even connecting would wait for ever.
    let Ok(mut filler) = Command::new("python3")
        .args(["-c", FILL_QUEUE])
        .arg(&socket)
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED (full queue): python3 is not installed");
        return;
    };
    let mut held = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(filler.stdout.take().unwrap()),
        &mut held,
    )
    .unwrap();
    let (ended, code, err) = client_on_silent_socket(&socket);
    let _ = filler.kill();
    let _ = filler.wait();
    assert!(held.trim().parse::<u32>().is_ok_and(|n| n > 0), "{held}");
    assert!(ended, "the client hung connecting to a full queue");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("within 1 s (the server there: a server that accepts no connection)"),
        "{err}"
    );
}

// Before, `ferroban check -c DIR` took `-c DIR` as words it ignored and tested the
// default directory: during a migration, "OK" for another directory than the one
// named.
#[test]
fn check_tests_the_directory_named_after_the_verb_and_refuses_other_words() {
    let env = Env::new("checkdir");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/missing.log\n");
    let bad = env.conf();
    let good = env.dir.join("good");
    std::fs::create_dir_all(good.join("filter.d")).unwrap();
    std::fs::write(good.join("filter.d/test.conf"), TEST_FILTER).unwrap();
    std::fs::write(
        good.join("jail.local"),
        format!(
            "[app]\nenabled = true\nfilter = test\naction = dry-run\nlogpath = {}\n",
            env.log("app.log").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| Command::new(BIN).args(args).output().unwrap();
    let text = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let after = run(&["check", "-c", bad.to_str().unwrap()]);
    assert!(!after.status.success(), "{}", text(&after));
    assert!(
        text(&after).contains(&bad.join("jail.local").display().to_string()),
        "the directory named after the verb: {}",
        text(&after)
    );
    let both = run(&[
        "-c",
        good.to_str().unwrap(),
        "check",
        "-c",
        bad.to_str().unwrap(),
    ]);
    assert!(
        !both.status.success(),
        "the last -c is tested: {}",
        text(&both)
    );
    let ok = run(&["check", "-c", good.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", text(&ok));
    let words = run(&["-c", good.to_str().unwrap(), "check", "foo"]);
    assert!(!words.status.success());
    assert!(
        text(&words).contains("check takes no arguments"),
        "{}",
        text(&words)
    );
}

// Before, `restart` stopped the server (lifting its bans) and only then found that
// the new one could not start: the host was left unprotected, and the client waited
// 30 s to say "see its log".
#[test]
fn a_restart_with_a_broken_configuration_keeps_the_server_and_says_why() {
    let env = Env::new("restartbad");
    let jails = "[app]\nenabled = true\nlogpath = ../logs/app.log\nmaxretry = 3\n";
    env.jails(jails);
    let server = env.start();
    assert_eq!(env.client_text(&["ban", "app", "192.0.2.30"]).trim(), "1");
    env.jails(&jails.replace("maxretry = 3", "maxretry = three"));
    let started = std::time::Instant::now();
    let restart = env.client(&["restart"]);
    let said = String::from_utf8_lossy(&restart.stderr).into_owned();
    assert!(!restart.status.success(), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "at once, not after a timeout"
    );
    let local = env.conf().join("jail.local");
    for part in [&format!("{}:9:", local.display()), "three", "keeps running"] {
        assert!(said.contains(part), "{part}: {said}");
    }
    // the same server, with its ban
    assert_eq!(
        pid_in(&env.dir.join("run/ferroban.pid")),
        Some(server.child.id() as i32)
    );
    assert_eq!(
        env.client_text(&["get", "app", "banned", "192.0.2.30"])
            .trim(),
        "1"
    );
}

// Fail2ban's `get JAIL banned IP…` answers whether each address is banned (1 or 0,
// a list for several); before, ferroban answered the jail's whole ban list.
#[test]
fn get_banned_with_addresses_answers_one_or_zero_for_each() {
    let env = Env::new("getbanned");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let _server = env.start();
    env.client_text(&["ban", "app", "192.0.2.40"]);
    let get = |ips: &[&str]| {
        let mut args = vec!["get", "app", "banned"];
        args.extend(ips);
        env.client_text(&args).trim().to_string()
    };
    assert_eq!(get(&["192.0.2.40"]), "1");
    assert_eq!(get(&["192.0.2.41"]), "0");
    assert_eq!(
        get(&["192.0.2.40", "192.0.2.41", "not-an-address"]),
        "[1, 0, 0]"
    );
    // without addresses: the list, as fail2ban-client prints it (Python's repr)
    assert_eq!(get(&[]), "['192.0.2.40']");
    let debian = Path::new("/usr/bin/fail2ban-client");
    if !debian.exists() {
        eprintln!("SKIPPED Debian's fail2ban-client part: /usr/bin/fail2ban-client is missing");
        return;
    }
    let theirs = |ips: &[&str]| {
        let out = Command::new(debian)
            .arg("-s")
            .arg(env.socket())
            .args(["get", "app", "banned"])
            .args(ips)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(theirs(&["192.0.2.40"]), "1");
    assert_eq!(theirs(&["192.0.2.40", "192.0.2.41"]), "[1, 0]");
}

// Before, the client panicked ("failed printing to stdout") and aborted when its
// reader went away (`ferroban banned | grep -q ADDR`).
#[test]
fn a_client_whose_reader_goes_away_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new("clientpipe");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let _server = env.start();
    for ip in ["192.0.2.50", "192.0.2.51"] {
        env.client_text(&["ban", "app", ip]);
    }
    for verb in [&["banned"][..], &["status", "app"], &["status"]] {
        let mut child = Command::new(BIN)
            .arg("-s")
            .arg(env.socket())
            .args(verb)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // the reader is gone before the client writes its answer
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{verb:?}: {err}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
            "{verb:?}: {:?} {err}",
            out.status
        );
    }
}

// Before, `get JAIL action ACTION PROPERTY` answered the jail's `action` option for
// any action and property, also for an action the jail does not have.
#[test]
fn get_action_property_answers_that_property_of_that_action() {
    let env = Env::new("getaction");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    let _server = env.start();
    let ban = env.client_text(&["get", "app", "action", "record", "actionban"]);
    assert!(ban.starts_with("echo ban app <ip> "), "{ban}");
    let out = env.client_text(&["get", "app", "action", "record", "out"]);
    assert_eq!(out.trim(), env.out().display().to_string());
    for (args, error) in [
        (
            &["get", "app", "action", "nosuch", "actionban"][..],
            "Invalid Action name: nosuch",
        ),
        (
            &["get", "app", "action", "record", "nosuch"],
            "no property \"nosuch\"",
        ),
    ] {
        let o = env.client(args);
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && said.contains(error),
            "{args:?}: {said}"
        );
    }
}

// Before, these errors named no line of jail.local (a mistyped action named the
// missing action file; an ignoreip typo was looked up in DNS), or passed `check`
// (an option set twice in one section, which Fail2ban refuses to start with).
#[test]
fn check_names_the_line_of_each_mistake_as_written() {
    let env = Env::new("checklines");
    let local = env.conf().join("jail.local");
    std::fs::write(
        env.conf().join("filter.d/nohost.conf"),
        "[Definition]\n# no address here\nfailregex = ^bad login from somebody$\n",
    )
    .unwrap();
    let app = "[app]\nenabled = true\nlogpath = ../logs/app.log\n";
    for (extra, filter_file, line, words) in [
        (
            "action = recrd\n",
            false,
            9,
            &[
                "action \"recrd\" not found",
                "did you mean action = record?",
            ][..],
        ),
        (
            "action = smtp.py[dest=root@localhost]\n",
            false,
            9,
            &["uses smtp.py, one of Fail2ban's Python actions"],
        ),
        (
            "ignoreip = 127.0.0.1/8 10.0.0.300\n",
            false,
            9,
            &["\"10.0.0.300\" is not an address"],
        ),
        ("ignoreip = 127.0.0.1/33\n", false, 9, &["prefix too long"]),
        (
            "maxretry = 3\nfindtime = 1m\nmaxretry = 7\n",
            false,
            11,
            &["\"maxretry\" is already set in [app]"],
        ),
        (
            "filter = nohost\n",
            true,
            3,
            &[
                "has no group for the failure id",
                "^bad login from somebody$",
            ],
        ),
    ] {
        env.jails(&format!("{app}{extra}"));
        let check = env.client(&["check"]);
        let said = String::from_utf8_lossy(&check.stderr).into_owned();
        assert!(!check.status.success(), "{extra}: {said}");
        let file = if filter_file {
            env.conf().join("filter.d/nohost.conf")
        } else {
            local.clone()
        };
        let at = format!("{}:{line}:", file.display());
        assert!(said.contains(&at), "{extra}: {at} in {said}");
        for word in words {
            assert!(said.contains(word), "{extra}: {word} in {said}");
        }
    }
}

// Before, `ferroban reload` on Fail2ban's socket sent a bare reload, which
// fail2ban-server refused with a Python error about missing arguments.
#[test]
fn the_client_on_fail2bans_socket_sends_no_reload_it_would_refuse() {
    let env = Env::new("pyreload");
    let dir = env.dir.join("fail2ban");
    let Some(fail2ban) = Fail2ban::start(
        &dir,
        &format!(
            "[app]\nenabled = true\nlogpath = {}\n",
            env.log("app.log").display()
        ),
    ) else {
        return;
    };
    let ours = |args: &[&str]| {
        Command::new(BIN)
            .arg("-s")
            .arg(dir.join("fail2ban.sock"))
            .args(args)
            .output()
            .unwrap()
    };
    let status = ours(&["status"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let reload = ours(&["reload"]);
    let said = String::from_utf8_lossy(&reload.stderr);
    assert!(!reload.status.success());
    let hint = format!(
        "run /usr/bin/fail2ban-client -s {} reload",
        dir.join("fail2ban.sock").display()
    );
    assert!(said.contains(&hint), "{said}");
    assert!(!said.contains("missing"), "{said}");
    assert!(ours(&["ping"]).status.success(), "{}", fail2ban.log_text());
}

// Before, an ignoreip host name that did not resolve (a typo, or DNS down at boot)
// failed `check`, the start and every reload, without a file or line; Fail2ban
// accepts it, and it ignores nothing. The warning names the `ignoreip` line.
#[test]
fn an_ignoreip_name_that_does_not_resolve_is_a_warning_not_an_error() {
    let env = Env::new("unresolved");
    // `.invalid` never resolves (RFC 2606)
    env.jails(
        "[app]\nenabled = true\nlogpath = ../logs/app.log\nignoreip = 127.0.0.1/8 no-such-host.invalid\n",
    );
    let check = env.client(&["check"]);
    let said = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(check.status.success(), "{said}");
    let at = env.conf().join("jail.local:9:");
    let warning = format!(
        "{} [app] ignoreip entry \"no-such-host.invalid\" does not resolve",
        at.display()
    );
    assert!(said.contains(&format!("WARNING: {warning}")), "{said}");
    let _server = env.start();
    assert!(
        env.own_log_text().contains(&warning),
        "{}",
        env.own_log_text()
    );
    let shown = env.client_text(&["get", "app", "ignoreip"]);
    assert!(shown.contains("no-such-host.invalid"), "{shown}");
}

/// A firewall action whose program is not installed is warned of at the line that
/// chose it (`banaction`, else `action`).
#[test]
fn a_firewall_action_without_its_program_is_warned_of_at_its_line() {
    if [
        "/usr/sbin/shorewall",
        "/sbin/shorewall",
        "/usr/bin/shorewall",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
    {
        eprintln!(
            "SKIPPED: shorewall is installed here; the test needs a firewall tool that is not"
        );
        return;
    }
    let env = Env::new("notool");
    std::fs::write(
        env.conf().join("action.d/shorewall.conf"),
        "[Definition]\nactionban = true\nactionunban = true\n",
    )
    .unwrap();
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\nbanaction = shorewall\naction = %(banaction)s\n");
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(check.status.success(), "{err}");
    let warning = format!(
        "WARNING: {}:9: [app] action shorewall runs shorewall, which is not installed here",
        env.conf().join("jail.local").display()
    );
    assert!(err.contains(&warning), "{err}");
}

// A `logtarget` in a directory that does not exist (a typo) made that directory,
// and the server logged there; Fail2ban makes none. Now `check` and the start
// refuse it, naming the line, and make nothing.
#[test]
fn a_logtarget_in_a_missing_directory_is_refused_at_its_line() {
    let env = Env::new("logdir");
    env.jails("[app]\nenabled = true\nlogpath = ../logs/app.log\n");
    // `logtarget = DIR/ferroban.log` in ferroban.local, and what is said of it
    // while DIR does not exist
    let log_in = |dir: &Path| {
        let target = dir.join("ferroban.log");
        std::fs::write(
            env.conf().join("ferroban.local"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {}\n",
                target.display()
            ),
        )
        .unwrap();
        let said = format!(
            "{}:3: logtarget = {}: the directory {} does not exist",
            env.conf().join("ferroban.local").display(),
            target.display(),
            dir.display()
        );
        (target, said)
    };
    let missing = env.dir.join("no-such-dir");
    let (target, said_at) = log_in(&missing);
    let check = env.client(&["check"]);
    let err = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(!check.status.success(), "{err}");
    assert!(err.contains(&said_at) && err.contains("mkdir -p"), "{err}");
    // the server as the configuration says, its log target not on the command line
    let mut server = Command::new(BIN);
    server
        .args(["server", "-f", "-c"])
        .arg(env.conf())
        .arg("-s")
        .arg(env.socket())
        .arg("-p")
        .arg(env.dir.join("run/ferroban.pid"))
        .arg("--dbfile")
        .arg(&env.db)
        .stdin(Stdio::null());
    let refused = server.output().unwrap();
    let err = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "{err}");
    assert!(err.contains(&said_at), "{err}");
    assert!(!missing.exists(), "the directory was made");
    // once the directory is there, both go through
    std::fs::create_dir(&missing).unwrap();
    let check = env.client(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _d = Daemon {
        child: server
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    assert!(wait_for(10, || env.client(&["ping"]).status.success()));
    // A reload to another missing directory is refused at the line; the server
    // keeps its configuration and its log.
    let other = env.dir.join("no-such-dir-either");
    let (_, said_at) = log_in(&other);
    let reload = env.client(&["reload"]);
    let err = String::from_utf8_lossy(&reload.stderr).into_owned();
    assert!(!reload.status.success(), "{err}");
    assert!(err.contains(&said_at), "{err}");
    assert!(!other.exists(), "the directory was made");
    assert!(env.client(&["ping"]).status.success());
    let log = std::fs::read_to_string(&target).unwrap_or_default();
    assert!(log.contains("Reload configuration"), "{log}");
}

// ferroban refuses an option or a section written twice in one file because
// Fail2ban's own configuration test does: checked against Debian's fail2ban-client
// on a copy of the stock configuration, where both also accept the same option in
// two files and a repeated [DEFAULT].
#[test]
fn a_repeated_option_or_section_is_refused_by_both_ferroban_and_fail2ban() {
    let Some(fail2ban_client) = python_fail2ban_client() else {
        return;
    };
    let env = Env::new("repeated");
    if !stock_config(&env) {
        return;
    }
    std::fs::write(
        env.conf().join("fail2ban.local"),
        "[Definition]\nlogtarget = STDERR\n",
    )
    .unwrap();
    let log = env.log("app.log");
    let app = format!(
        "enabled = true\nfilter = test\nlogpath = {}\n",
        log.display()
    );
    let cases = [
        (format!("[app]\n{app}maxretry = 3\nmaxretry = 7\n"), false),
        (
            format!("[app]\n{app}[other]\nenabled = false\n[app]\nbantime = 1h\n"),
            false,
        ),
        (
            format!("[DEFAULT]\nbantime = 1h\n[app]\n{app}[DEFAULT]\nfindtime = 1h\n"),
            true,
        ),
    ];
    for (local, accepted) in cases {
        std::fs::write(env.conf().join("jail.local"), &local).unwrap();
        let theirs = Command::new(&fail2ban_client)
            .arg("-c")
            .arg(env.conf())
            .arg("-t")
            .output()
            .unwrap();
        let ours = Command::new(BIN)
            .arg("-c")
            .arg(env.conf())
            .arg("check")
            .output()
            .unwrap();
        let said = |o: &Output| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        assert_eq!(
            theirs.status.success(),
            accepted,
            "Fail2ban on {local:?}: {}",
            said(&theirs)
        );
        assert_eq!(
            ours.status.success(),
            accepted,
            "ferroban on {local:?}: {}",
            said(&ours)
        );
        if !accepted {
            assert!(
                said(&theirs).contains("already exists"),
                "{}",
                said(&theirs)
            );
            assert!(said(&ours).contains("already"), "{}", said(&ours));
        }
    }
}

/// "Currently failed" of `status JAIL` text (Fail2ban's layout, either server).
fn currently_failed(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.split_once("Currently failed:"))
        .and_then(|(_, n)| n.trim().parse().ok())
}

// A global `unban IP` used to forget the address's failures in every jail, so an
// admin who unbanned with it silently reset recidive-like jails. Fail2ban lifts
// bans and leaves the counts; checked against the real fail2ban-server.
#[test]
fn a_global_unban_leaves_the_other_jails_failure_counts_as_fail2ban_does() {
    let env = Env::new("unbancounts");
    let policy = |l: &str| {
        format!(
            "[app]\nenabled = true\nlogpath = {l}/app{s}.log\nmaxretry = 2\n\
             [watch]\nenabled = true\nlogpath = {l}/watch{s}.log\nmaxretry = 3\n",
            s = if l.starts_with("..") { "" } else { "-f" }
        )
    };
    for name in ["app-f.log", "watch-f.log", "watch.log"] {
        std::fs::write(env.log(name), "").unwrap();
    }
    let ip = "192.0.2.44";
    // What Fail2ban does: two failures in [watch], a ban in [app], `unban IP`.
    let logs = env.dir.join("logs");
    let Some(fail2ban) =
        Fail2ban::start(&env.dir.join("fail2ban"), &policy(&logs.to_string_lossy()))
    else {
        return;
    };
    env.fail("watch-f.log", ip, 2);
    env.fail("app-f.log", ip, 2);
    assert!(fail2ban.wait_banned("app", ip), "{}", fail2ban.log_text());
    let unbanned = fail2ban.client(&["unban", ip]);
    assert!(unbanned.status.success());
    let status = fail2ban.client(&["status", "watch"]);
    let theirs = currently_failed(&String::from_utf8_lossy(&status.stdout));
    fail2ban.stop();
    assert_eq!(theirs, Some(1), "Fail2ban keeps [watch]'s count");

    env.jails(&policy("../logs"));
    let _d = env.start();
    env.fail("watch.log", ip, 2);
    env.fail("app.log", ip, 2);
    assert!(
        env.wait_out(&format!("ban app {ip}")),
        "{}",
        env.own_log_text()
    );
    assert_eq!(env.client_text(&["unban", ip]).trim(), "1");
    let ours = currently_failed(&env.client_text(&["status", "watch"]));
    assert_eq!(ours, theirs, "[watch]'s count after the unban");
    // and its third failure bans there, as in Fail2ban
    env.fail("watch.log", ip, 1);
    assert!(
        env.wait_out(&format!("ban watch {ip}")),
        "{}",
        env.out_text()
    );
}

// On a host where Fail2ban never wrote its database, ferroban used to create its
// own at Fail2ban's dbfile place: fail2ban-server could not start on that file
// afterwards ("no such column: timeofban"), so going back to Fail2ban left
// nothing banning.
#[test]
fn fail2bans_dbfile_place_is_left_to_fail2ban_when_nothing_is_there_yet() {
    let env = Env::new("f2bplace");
    let f2b = env.dir.join("fail2ban");
    let jails = format!(
        "[app]\nenabled = true\nlogpath = {}\nmaxretry = 2\n",
        env.log("app.log").display()
    );
    // One configuration for both servers, whose dbfile does not exist yet.
    Fail2ban::write_config(&f2b, &jails);
    let f2b_db = f2b.join("fail2ban.sqlite3");
    let own = f2b.join("ferroban.sqlite3");
    let client = |args: &[&str]| {
        Command::new(BIN)
            .arg("-c")
            .arg(&f2b)
            .args(args)
            .output()
            .unwrap()
    };
    let mut daemon = ferroban_on(&f2b);
    env.fail("app.log", "192.0.2.81", 2);
    assert!(
        wait_for(10, || String::from_utf8_lossy(
            &client(&["get", "app", "banned", "192.0.2.81"]).stdout
        )
        .trim()
            == "1"),
        "{}",
        std::fs::read_to_string(f2b.join("fail2ban.log")).unwrap_or_default()
    );
    let used = String::from_utf8_lossy(&client(&["get", "dbfile"]).stdout).into_owned();
    assert!(used.contains(&own.display().to_string()), "{used}");
    assert!(client(&["stop"]).status.success());
    assert!(wait_for(10, || matches!(
        daemon.child.try_wait(),
        Ok(Some(_))
    )));
    assert!(!f2b_db.exists(), "ferroban created Fail2ban's database");
    assert!(own.exists());
    // Fail2ban, started on the same configuration afterwards, works there.
    let Some(fail2ban) = Fail2ban::start(&f2b, &jails) else {
        return;
    };
    let banned = fail2ban.client(&["set", "app", "banip", "192.0.2.82"]);
    assert!(banned.status.success(), "{}", fail2ban.log_text());
    assert!(fail2ban.wait_banned("app", "192.0.2.82"));
    assert!(f2b_db.exists(), "{}", fail2ban.log_text());
}

// An unban by hand used to keep the address's ban history, so with
// bantime.increment a false positive that an admin lifted got ever-longer bans.
// Fail2ban deletes the address from its database on `unbanip` (and a jail's
// every address on `unban --all`): the next ban is a first one again. Both
// servers are driven the same way and must give the same ban times.
#[test]
fn an_unban_by_hand_forgets_the_ban_history_as_fail2ban_does() {
    let env = Env::new("unbanhistory");
    let policy = |log: &str| {
        format!(
            "[app]\nenabled = true\nlogpath = {log}\nmaxretry = 1\nbantime = 600\n\
             bantime.increment = true\nbantime.factor = 1\n"
        )
    };
    let ip = "192.0.2.130";
    let f2b_log = env.log("app-f.log");
    std::fs::write(&f2b_log, "").unwrap();
    let Some(fail2ban) = Fail2ban::start(
        &env.dir.join("fail2ban"),
        &policy(&f2b_log.to_string_lossy()),
    ) else {
        return;
    };
    let ban_time = |text: &str| -> Option<String> {
        // `IP \tSTART + SECONDS = END`
        text.split(" + ")
            .nth(1)
            .and_then(|t| t.split(" = ").next())
            .map(str::to_string)
    };
    let mut theirs = Vec::new();
    for round in 0..3 {
        env.fail("app-f.log", ip, 1);
        assert!(fail2ban.wait_banned("app", ip), "{}", fail2ban.log_text());
        let listed = fail2ban.client(&["get", "app", "banip", "--with-time"]);
        theirs.push(ban_time(&String::from_utf8_lossy(&listed.stdout)));
        let how: &[&str] = if round == 1 {
            &["unban", "--all"]
        } else {
            &["set", "app", "unbanip", ip]
        };
        assert!(fail2ban.client(how).status.success());
        // Fail2ban's "already banned" check reads seconds: the next failure is later
        std::thread::sleep(Duration::from_millis(1100));
    }
    fail2ban.stop();
    assert_eq!(theirs, vec![Some("600".to_string()); 3], "Fail2ban's bans");

    env.jails(&policy("../logs/app.log"));
    let _d = env.start();
    let mut ours = Vec::new();
    for round in 0..3 {
        env.fail("app.log", ip, 1);
        let nth = format!("ban app {ip} ");
        assert!(
            wait_for(15, || env.out_text().matches(&nth).count() == round + 1),
            "{}",
            env.own_log_text()
        );
        ours.push(ban_time(&env.client_text(&[
            "get",
            "app",
            "banip",
            "--with-time",
        ])));
        let how: &[&str] = if round == 1 {
            &["unban", "--all"]
        } else {
            &["set", "app", "unbanip", ip]
        };
        assert!(env.client(how).status.success());
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert_eq!(ours, theirs, "the same ban times as Fail2ban");
}

// `unban 10.9.9.0/24` was refused as "not a valid IP address"; Fail2ban lifts
// the bans within the network. The same commands go to the real fail2ban-server
// and to ferroban, and their answers must agree.
#[test]
fn unban_takes_a_network_as_fail2ban_does() {
    let env = Env::new("unbannet");
    let f2b_log = env.log("app-f.log");
    std::fs::write(&f2b_log, "").unwrap();
    let jail = |log: &str| format!("[app]\nenabled = true\nlogpath = {log}\nbantime = 1h\n");
    let script: &[&[&str]] = &[
        &[
            "set", "app", "banip", "10.9.9.1", "10.9.9.2", "10.9.8.1", "10.9.7.1",
        ],
        &["unban", "10.9.9.0/24"],
        &["set", "app", "unbanip", "10.9.8.0/255.255.255.0"],
        &["get", "app", "banip"],
    ];
    let Some(fail2ban) =
        Fail2ban::start(&env.dir.join("fail2ban"), &jail(&f2b_log.to_string_lossy()))
    else {
        return;
    };
    let theirs: Vec<String> = script
        .iter()
        .map(|c| {
            String::from_utf8_lossy(&fail2ban.client(c).stdout)
                .trim()
                .to_string()
        })
        .collect();
    fail2ban.stop();
    assert_eq!(theirs[1..], ["2", "1", "10.9.7.1"], "Fail2ban: {theirs:?}");

    env.jails(&jail("../logs/app.log"));
    let _d = env.start();
    let ours: Vec<String> = script
        .iter()
        .map(|c| env.client_text(c).trim().to_string())
        .collect();
    assert_eq!(ours, theirs);
    assert!(env.wait_out("unban app 10.9.8.1"), "{}", env.out_text());
    let absent = env.client(&["set", "app", "unbanip", "--report-absent", "10.9.6.0/24"]);
    assert!(!absent.status.success());
}

// fail2ban-client says "Server ready" once the server it started answers, and
// "Shutdown successful" once the server is gone; `restart` says both, and
// `restart JAIL` restarts a jail (ferroban's client called it an invalid command);
// `echo`, `get JAIL banned` and `status JAIL short` print as fail2ban-client prints
// them (ferroban's server refused `echo` and ignored `short`). Before,
// ferroban's client said nothing for `start` and `restart`, and "Shutdown
// successful" while the server was still stopping its jails with its socket open:
// for half a second a `ping` met a socket that closed without an answer. And a
// `start` (or `fail2ban-server -b`) whose server exited at once on a broken
// configuration waited 30 s to say "see its log".
#[test]
fn start_restart_and_stop_say_what_debians_fail2ban_client_says() {
    let Some(env) = python_client_env("lifecycle", "") else {
        return;
    };
    // Each server in turn, with its state in the test directory.
    let server_files = |name: &str| {
        let at = |file: &str| env.dir.join(format!("run/{name}.{file}"));
        std::fs::write(
            env.conf().join("fail2ban.local"),
            format!(
                "[Definition]\nsocket = {}\npidfile = {}\nlogtarget = {}\ndbfile = {}\n",
                at("sock").display(),
                at("pid").display(),
                at("log").display(),
                at("sqlite3").display()
            ),
        )
        .unwrap();
        (at("sock"), StopByPidFile(at("pid")))
    };
    let script: &[&[&str]] = &[
        &["start"],
        &["restart"],
        // one jail: `reload --restart app`
        &["restart", "app"],
        &["restart", "--unban", "app"],
        // answered by the server, printed by the client
        &["echo", "hello", "world"],
        // the Fail2ban version the server speaks (scripts gate on it)
        &["version"],
        &["set", "app", "banip", "203.0.113.5"],
        &["get", "app", "banned"],
        &["status", "app", "short"],
        &["stop"],
    ];
    // Debian's client and server.
    let (f2b_socket, _fail2ban) = server_files("f2b");
    let theirs: Vec<String> = script
        .iter()
        .map(|words| python_client_says(&env, &f2b_socket, words, &[]))
        .collect();
    // ferroban's client, run as fail2ban-client, and the server it starts.
    let (socket, _ferroban) = server_files("ferroban");
    let client = env.dir.join("fail2ban-client");
    std::os::unix::fs::symlink(BIN, &client).unwrap();
    let says = |words: &[&str]| {
        let o = Command::new(&client)
            .arg("-c")
            .arg(env.conf())
            .arg("-s")
            .arg(&socket)
            .args(words)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        (
            stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code(),
        )
    };
    for (words, theirs) in script.iter().zip(&theirs) {
        let (stdout, stderr, rc) = says(words);
        let ours = format!("$ {}\n{stdout}rc={rc:?}\n", words.join(" "));
        // (Fail2ban's own warnings go to its stderr, with times: compare the rest)
        let theirs: String = theirs
            .lines()
            .filter(|l| !l.contains(" WARNING "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(ours, theirs, "ferroban's stderr: {stderr}");
        if *words == ["stop"] {
            // gone, not stopping
            let ping = says(&["ping"]);
            assert_eq!(ping.2, Some(255), "{ping:?}");
            assert!(
                ping.1.contains("Failed to access socket path"),
                "as fail2ban-client says it: {ping:?}"
            );
        }
    }

    // A configuration the server refuses: said at once, by the client and by
    // `fail2ban-server -b` alike.
    std::fs::write(
        env.conf().join("jail.local"),
        "[app]\nenabled = true\nfilter = test\nlogpath = /nonexistent/app.log\n",
    )
    .unwrap();
    let server = env.dir.join("fail2ban-server");
    std::os::unix::fs::symlink(BIN, &server).unwrap();
    let mut by_client = Command::new(&client);
    by_client
        .arg("-c")
        .arg(env.conf())
        .arg("-s")
        .arg(&socket)
        .arg("start");
    let mut by_server = Command::new(&server);
    by_server
        .args(["-b", "-c"])
        .arg(env.conf())
        .arg("-s")
        .arg(&socket);
    for mut run in [by_client, by_server] {
        let started = std::time::Instant::now();
        let o = run.output().unwrap();
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{said}");
        assert!(started.elapsed() < Duration::from_secs(10), "at once");
        for part in ["jail.local:4", "/nonexistent/app.log"] {
            assert!(said.contains(part), "{part}: {said}");
        }
    }
}

/// `--str2sec` converts a time without a server, and prints what Debian's
/// `fail2ban-client --str2sec` prints (an integer unless the time had a fraction).
#[test]
fn str2sec_converts_a_time_as_fail2bans_client_does() {
    let times = ["1h", "1d 2h", "1.5m", "90", "2w"];
    let ours: Vec<String> = times
        .iter()
        .map(|t| {
            let o = Command::new(BIN)
                .args(["-s", "/nonexistent.sock", "--str2sec", t])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{t}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
        .collect();
    assert_eq!(ours, ["3600", "93600", "90.0", "90", "1209600"]);
    let bad = Command::new(BIN)
        .args(["--str2sec", "bogus"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let debian = Path::new("/usr/bin/fail2ban-client");
    if !debian.exists() {
        eprintln!(
            "SKIPPED: the comparison with Debian's fail2ban-client (apt-get install fail2ban)"
        );
        return;
    }
    for (t, ours) in times.iter().zip(&ours) {
        let o = Command::new(debian)
            .args(["--str2sec", t])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), ours, "{t}");
    }
}

/// A jail that is in the configuration but not enabled, or enabled and stopped, is
/// "does not exist" to the server, in Fail2ban's words; ferroban's client adds why,
/// on a line of its own, and what to do.
#[test]
fn a_disabled_or_stopped_jail_is_said_to_be_so() {
    let env = Env::new("disabledjail");
    env.jails(
        "[app]\nenabled = true\nlogpath = ../logs/app.log\n\n[web]\nenabled = false\nlogpath = ../logs/app.log\n",
    );
    let _d = env.start();
    for words in [&["status", "web"][..], &["reload", "web"]] {
        let o = env.client(words);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("the jail 'web' does not exist"),
            "{words:?}: {err}"
        );
        assert!(
            err.contains(
                "hint: [web] is in the configuration but not enabled: set enabled = true in [web]"
            ),
            "{words:?}: {err}"
        );
    }
    let o = env.client(&["status", "nosuch"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the jail 'nosuch' does not exist") && !err.contains("hint"),
        "{err}"
    );
    // An enabled jail stopped by hand is not told to be enabled: it is started.
    env.client_text(&["stop", "app"]);
    let err = String::from_utf8_lossy(&env.client(&["status", "app"]).stderr).into_owned();
    assert!(
        err.contains("hint: [app] is enabled in the configuration but not running")
            && err.contains("ferroban start app")
            && !err.contains("set enabled = true"),
        "{err}"
    );
    env.client_text(&["start", "app"]);
    assert!(env.client(&["status", "app"]).status.success());
}

/// Beside a Fail2ban database named otherwise than `fail2ban.sqlite3`, ferroban
/// keeps its own as `NAME.ferroban.sqlite3` (two configurations whose databases
/// share a directory shared one before), fills it from Fail2ban's on the first
/// start, and says where the file an earlier ferroban shared is and what to do.
#[test]
fn beside_a_fail2ban_database_of_another_name_ferrobans_own_is_named_after_it() {
    let env = Env::new("ownname");
    let dir = env.dir.join("fail2ban");
    let Some(written) = fail2ban_database_with_ban(&env, &dir, "192.0.2.5") else {
        return;
    };
    let renamed = dir.join("test.sqlite3");
    std::fs::rename(&written, &renamed).unwrap();
    std::fs::write(
        dir.join("fail2ban.local"),
        format!("[Definition]\ndbfile = {}\n", renamed.display()),
    )
    .unwrap();
    // the one file an earlier ferroban kept for every Fail2ban database here
    let legacy = dir.join("ferroban.sqlite3");
    std::fs::write(&legacy, "").unwrap();
    let own = dir.join("test.ferroban.sqlite3");
    let log = || std::fs::read_to_string(dir.join("fail2ban.log")).unwrap_or_default();
    let _d = ferroban_on(&dir);
    assert!(
        wait_for(10, || log().contains("Restore Ban 192.0.2.5")),
        "{}",
        log()
    );
    assert!(
        log().contains(&format!(
            "An earlier ferroban kept the bans of every Fail2ban database in this directory in {}: \
             if they are this configuration's, stop ferroban and move that file to {}",
            legacy.display(),
            own.display()
        )),
        "{}",
        log()
    );
    assert!(own.is_file());
    assert_eq!(
        std::fs::read(&legacy).unwrap(),
        b"",
        "the old file is left alone"
    );
}
