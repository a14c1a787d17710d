//! `ferroban audit` against real services: nginx answering 200, 301 and 403 for
//! `/.env`, Postfix with and without AUTH on port 25, nftables and iptables-legacy
//! rulesets that accept and drop by default, public listeners — each in a network
//! namespace this test makes — and sshd configurations, a jail whose log is
//! missing or never matched, the admin's SSH address (also as sudo leaves it, in
//! PID and mount namespaces of its own) and the exit codes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{have, is_root, start_nginx, stop_child, wait_for, Netns, Scratch};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");

/// A child process stopped on drop (see [`stop_child`]).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        stop_child(&mut self.0);
    }
}

/// The findings of `ferroban audit --json ARGS` run by `command`: (status, seen)
/// of each check id, and the exit code.
fn audit(mut command: Command, args: &[&str]) -> (Vec<(String, String, String)>, i32) {
    let out = command
        .arg("audit")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let findings = parse_findings(&String::from_utf8_lossy(&out.stdout));
    (findings, out.status.code().unwrap_or(-1))
}

/// (id, status, seen) of each line of `ferroban audit --json` output.
fn parse_findings(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let field = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {l}"))
                    .to_string()
            };
            assert!(v.get("fix").is_some_and(Value::is_string), "{l}");
            (field("id"), field("status"), field("seen"))
        })
        .collect()
}

/// The status and what was seen for the one check `id` run alone.
fn check(command: Command, id: &str, args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["--only", id];
    all.extend_from_slice(args);
    let (findings, code) = audit(command, &all);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let (found, status, seen) = findings.into_iter().next().unwrap();
    assert_eq!(found, id);
    (status, seen, code)
}

fn ferroban() -> Command {
    Command::new(BIN)
}

fn in_ns(ns: &Netns) -> Command {
    ns.command(BIN)
}

/// A namespace for `test`, or None after saying why the test is skipped.
fn namespace(test: &str, tools: &[&str]) -> Option<Netns> {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if !is_root() || !missing.is_empty() {
        eprintln!("SKIPPED {test}: needs root and {tools:?} (missing: {missing:?})");
        return None;
    }
    Netns::new("fbaud")
        .map_err(|e| eprintln!("SKIPPED {test}: cannot create a network namespace: {e}"))
        .ok()
}

/// nginx in `ns` on 127.0.0.1:8080 with `location` rules for dot-files, serving
/// `www/` where `.env` exists.
fn nginx(ns: &Netns, dir: &Path, location: &str) -> Running {
    std::fs::create_dir_all(dir.join("www/.git")).unwrap();
    std::fs::write(dir.join("www/.env"), "DB_PASSWORD=secret\n").unwrap();
    std::fs::write(dir.join("www/.git/config"), "[core]\n").unwrap();
    let child = start_nginx(Some(&ns.name), dir, "127.0.0.1:8080", "off", location);
    let running = Running(child);
    let up = wait_for(10, || {
        ns.command("curl")
            .args(["-s", "-o", "/dev/null", "http://127.0.0.1:8080/"])
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        up,
        "nginx did not start: {:?}",
        std::fs::read_to_string(dir.join("nginx-error.log"))
    );
    running
}

#[test]
fn web_secret_files_200_fails_301_warns_403_passes() {
    let test = "web_secret_files_200_fails_301_warns_403_passes";
    let Some(ns) = namespace(test, &["ip", "nginx", "curl"]) else {
        return;
    };
    let scratch = Scratch::new("ferroban-audit-web");
    let url = ["--url", "http://127.0.0.1:8080/"];
    let cases = [
        ("", "FAIL", "/.env: 200", 2),
        (
            "location ~ /\\. { return 301 https://$host$request_uri; }",
            "WARN",
            "/.env: 301 to https://127.0.0.1/.env",
            1,
        ),
        ("location ~ /\\. { deny all; }", "PASS", "/.env: 403", 0),
    ];
    for (location, expected, detail, exit) in cases {
        let server = nginx(&ns, &scratch.0, location);
        let (status, seen, code) = check(in_ns(&ns), "web-secret-files", &url);
        drop(server);
        assert_eq!(status, expected, "{location}: {seen}");
        assert!(seen.contains(detail), "{location}: {seen}");
        assert!(seen.contains("/wp-config.php.bak: 404"), "{seen}");
        assert_eq!(code, exit, "{seen}");
    }
    // A site named by host name is still asked on this host, and another host's
    // address is refused without a request.
    let server = nginx(&ns, &scratch.0, "location ~ /\\. { deny all; }");
    let (status, seen, _) = check(
        in_ns(&ns),
        "web-secret-files",
        &["--url", "http://www.example.org:8080/"],
    );
    assert_eq!(status, "PASS", "{seen}");
    let (status, seen, _) = check(
        in_ns(&ns),
        "web-secret-files",
        &["--url", "http://192.0.2.1/"],
    );
    drop(server);
    assert_eq!(status, "SKIP", "{seen}");
    assert!(seen.contains("not an address of this host"), "{seen}");
}

/// Postfix in `ns`, on 127.0.0.1:25, configured by `main` and `master` (its own
/// configuration and queue under `dir`). Stopped on drop.
struct Postfix<'a> {
    ns: &'a Netns,
    config: PathBuf,
}

impl<'a> Postfix<'a> {
    fn start(ns: &'a Netns, dir: &Path, main: &str, master: &str) -> Postfix<'a> {
        let config = dir.join("etc");
        let _ = std::fs::remove_dir_all(dir.join("spool"));
        for d in ["etc", "spool", "data"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        // The master's lock lives in data_directory, which Postfix wants as its own.
        let chown = Command::new("chown")
            .arg("postfix")
            .arg(dir.join("data"))
            .status();
        assert!(chown.is_ok_and(|s| s.success()));
        let d = dir.display();
        std::fs::write(
            config.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {d}/spool\ndata_directory = {d}/data\n\
                 inet_interfaces = loopback-only\ninet_protocols = ipv4\nmydestination =\n\
                 myhostname = audit-test.invalid\nmaillog_file = /dev/stdout\n{main}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            config.join("master.cf"),
            format!(
                "{master}\npostlog unix-dgram n - n - 1 postlogd\n\
                 proxymap unix - - n - - proxymap\nanvil unix - - n - 1 anvil\n\
                 rewrite unix - - n - - trivial-rewrite\n"
            ),
        )
        .unwrap();
        let started = ns
            .command("postfix")
            .arg("-c")
            .arg(&config)
            .arg("start")
            .stdout(Stdio::null())
            .status();
        assert!(started.is_ok_and(|s| s.success()), "postfix did not start");
        let postfix = Postfix { ns, config };
        let up = wait_for(10, || {
            ns.command("python3")
                .args([
                    "-c",
                    "import socket; socket.create_connection(('127.0.0.1', 25), 1)",
                ])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(up, "postfix does not listen on 127.0.0.1:25");
        postfix
    }

    /// `ferroban audit` in the namespace, with postconf reading this Postfix.
    fn audit(&self) -> Command {
        let mut c = in_ns(self.ns);
        c.env("MAIL_CONFIG", &self.config);
        c
    }
}

impl Drop for Postfix<'_> {
    fn drop(&mut self) {
        let _ = self
            .ns
            .command("postfix")
            .arg("-c")
            .arg(&self.config)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn smtp_auth_on_port_25_warns_and_postscreen_is_noted() {
    let test = "smtp_auth_on_port_25_warns_and_postscreen_is_noted";
    let Some(ns) = namespace(test, &["ip", "postfix", "postconf", "python3"]) else {
        return;
    };
    let scratch = Scratch::new("ferroban-audit-smtp");
    let (status, seen, _) = {
        let postfix = Postfix::start(
            &ns,
            &scratch.0,
            "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = cyrus",
            "smtp inet n - n - - smtpd",
        );
        check(postfix.audit(), "smtp-auth-port-25", &[])
    };
    assert_eq!(status, "WARN", "{seen}");
    assert!(
        seen.contains("offers AUTH") && seen.contains("PLAIN"),
        "{seen}"
    );
    assert!(seen.contains("postscreen off"), "{seen}");
    let (status, seen, code) = {
        let postfix = Postfix::start(
            &ns,
            &scratch.0,
            "smtpd_sasl_auth_enable = no",
            "smtp inet n - n - 1 postscreen\nsmtpd pass - - n - - smtpd",
        );
        check(postfix.audit(), "smtp-auth-port-25", &[])
    };
    assert_eq!(status, "PASS", "{seen}");
    assert!(seen.contains("does not offer AUTH"), "{seen}");
    assert!(seen.contains("postscreen on"), "{seen}");
    assert_eq!(code, 0);
}

#[test]
fn firewall_accepting_by_default_fails_and_dropping_passes() {
    let test = "firewall_accepting_by_default_fails_and_dropping_passes";
    let Some(ns) = namespace(test, &["ip", "nft"]) else {
        return;
    };
    let (status, seen, code) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    assert!(seen.contains("no input chain"), "{seen}");
    let load = |ruleset: &str| load_nft(&ns, ruleset);
    load("flush ruleset\ntable inet filter {\n chain input { type filter hook input priority 0; policy accept;\n  tcp dport 22 accept\n }\n}\n");
    let (status, seen, _) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!(status, "FAIL", "{seen}");
    assert!(seen.contains("inet filter input: policy accept"), "{seen}");
    load("flush ruleset\ntable inet filter {\n chain input { type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  tcp dport 22 accept\n }\n}\n");
    let (status, seen, code) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!((status.as_str(), code), ("PASS", 0), "{seen}");
    assert!(seen.contains("policy drop"), "{seen}");
}

/// Load an nftables `ruleset` in `ns`.
fn load_nft(ns: &Netns, ruleset: &str) {
    use std::io::Write;
    let mut nft = ns
        .command("nft")
        .arg("-f")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    nft.stdin
        .take()
        .unwrap()
        .write_all(ruleset.as_bytes())
        .unwrap();
    assert!(nft.wait().unwrap().success(), "{ruleset}");
}

/// Run `program args` in `ns`; it must succeed.
fn run_in(ns: &Netns, program: &str, args: &[&str]) {
    let out = ns.command(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn firewall_drop_policy_after_an_accept_everything_rule_fails() {
    let test = "firewall_drop_policy_after_an_accept_everything_rule_fails";
    let Some(ns) = namespace(test, &["ip", "nft"]) else {
        return;
    };
    load_nft(&ns, "flush ruleset\ntable inet filter {\n chain input { type filter hook input priority 0; policy drop;\n  tcp dport 22 accept\n  counter accept\n  drop\n }\n}\n");
    let (status, seen, code) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    assert!(
        seen.contains("inet filter input: policy drop, but rule 2 accepts every packet"),
        "{seen}"
    );
    // The table names the rule to remove.
    let out = in_ns(&ns)
        .args(["audit", "--only", "firewall-default-policy"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fix:  remove the rule that accepts every packet (or all of a kind), or narrow its match to the services you run (`nft delete rule inet filter input handle"),
        "{text}"
    );
}

#[test]
fn firewall_iptables_legacy_policy_is_read() {
    let test = "firewall_iptables_legacy_policy_is_read";
    let Some(ns) = namespace(test, &["ip", "nft", "iptables-legacy", "ip6tables-legacy"]) else {
        return;
    };
    let scratch = Scratch::new("ferroban-audit-legacy");
    // A global IPv6 address, so that IPv6 counts too.
    run_in(&ns, "ip", &["addr", "add", "2001:db8::1/128", "dev", "lo"]);
    run_in(&ns, "iptables-legacy", &["-P", "INPUT", "DROP"]);
    let (status, seen, _) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!(status, "FAIL", "{seen}");
    assert!(
        seen.contains("IPv4 denies by default (iptables-legacy filter INPUT: policy DROP)"),
        "{seen}"
    );
    assert!(
        seen.contains("IPv6: no input chain in nftables or iptables-legacy"),
        "{seen}"
    );
    run_in(&ns, "ip6tables-legacy", &["-P", "INPUT", "DROP"]);
    let (status, seen, code) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!((status.as_str(), code), ("PASS", 0), "{seen}");
    assert!(
        seen.contains("IPv6 denies by default (ip6tables-legacy filter INPUT: policy DROP)"),
        "{seen}"
    );
    // Without nft, the legacy chains that deny are enough to pass, and the
    // audit says why nftables was not read.
    let only = |tools: &[&str]| {
        let dir = scratch.0.join(tools.join("+"));
        std::fs::create_dir_all(&dir).unwrap();
        for tool in tools.iter().chain(&["ip"]) {
            let path = which(tool);
            std::os::unix::fs::symlink(path, dir.join(tool)).unwrap();
        }
        let mut command = in_ns(&ns);
        command.env("PATH", &dir);
        command
    };
    let legacy_only = only(&["iptables-legacy", "ip6tables-legacy"]);
    let (status, seen, _) = check(legacy_only, "firewall-default-policy", &[]);
    assert_eq!(status, "PASS", "{seen}");
    assert!(seen.contains("nft is not installed"), "{seen}");
    // Legacy tables the audit cannot read (no iptables-legacy) are never taken
    // for an open host or a closed one: SKIP.
    let (status, seen, _) = check(only(&["nft"]), "firewall-default-policy", &[]);
    assert_eq!(status, "SKIP", "{seen}");
    run_in(&ns, "iptables-legacy", &["-I", "INPUT", "-j", "ACCEPT"]);
    let (status, seen, _) = check(in_ns(&ns), "firewall-default-policy", &[]);
    assert_eq!(status, "FAIL", "{seen}");
    assert!(
        seen.contains("iptables-legacy filter INPUT: policy DROP, but rule 1 accepts every packet"),
        "{seen}"
    );
}

/// Where `tool` is on this PATH.
fn which(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} is not on PATH"))
}

#[test]
fn public_listeners_need_a_jail_and_databases_must_not_listen() {
    let test = "public_listeners_need_a_jail_and_databases_must_not_listen";
    let Some(ns) = namespace(test, &["ip", "python3"]) else {
        return;
    };
    let scratch = Scratch::new("ferroban-audit-ports");
    let conf = jail_config(
        &scratch.0,
        "[ssh-guard]\nenabled = true\nport = ssh\nfilter = demo\nlogpath = {log}\n",
    );
    let listen = |port: u16| listen(&ns, port);
    let conf_arg = conf.to_string_lossy().into_owned();
    let ssh = listen(22);
    let (status, seen, _) = check(in_ns(&ns), "listening-without-jail", &["-c", &conf_arg]);
    assert_eq!(status, "PASS", "{seen}");
    assert!(seen.contains("22 (ssh): jail ssh-guard"), "{seen}");
    let smtp = listen(25);
    let (status, seen, code) = check(in_ns(&ns), "listening-without-jail", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("WARN", 1), "{seen}");
    assert!(seen.contains("25 (smtp): no enabled jail"), "{seen}");
    let mysql = listen(3306);
    let (status, seen, code) = check(in_ns(&ns), "listening-without-jail", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    assert!(seen.contains("3306 (mysql)"), "{seen}");
    // The database's advice comes first, and the unwatched port's stays beside it.
    let out = in_ns(&ns)
        .args([
            "audit",
            "--json",
            "--only",
            "listening-without-jail",
            "-c",
            &conf_arg,
        ])
        .output()
        .unwrap();
    let finding: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fix = finding["fix"].as_str().unwrap_or_default();
    assert!(
        fix.starts_with("bind 3306 (mysql) to 127.0.0.1")
            && fix.contains(
                "enable a jail for 25 (smtp) in jail.local (e.g. [postfix] enabled = true)"
            )
            && !fix.contains("3306 (mysql) in jail.local")
            && !fix.contains("mysqld"),
        "{fix}"
    );
    drop((ssh, smtp, mysql));
}

/// A python3 listening on 0.0.0.0:`port` in `ns`, until dropped.
fn listen(ns: &Netns, port: u16) -> Running {
    let script = format!(
        "import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('0.0.0.0', {port}))\ns.listen()\ntime.sleep(60)\n"
    );
    let child = ns.command("python3").args(["-c", &script]).spawn().unwrap();
    let running = Running(child);
    let up = wait_for(10, || {
        std::fs::read_to_string(format!("/proc/{}/net/tcp", running.0.id()))
            .is_ok_and(|t| t.contains(&format!(":{port:04X} 00000000:0000 0A")))
    });
    assert!(up, "nothing listens on {port}");
    running
}

#[test]
fn unknown_public_ports_warn_unless_a_jail_names_them() {
    let test = "unknown_public_ports_warn_unless_a_jail_names_them";
    let Some(ns) = namespace(test, &["ip", "python3"]) else {
        return;
    };
    let scratch = Scratch::new("ferroban-audit-unknown-ports");
    // The jail of the field guide's sshd, banning on port 22 only, while an
    // sshd (or anything) listens on 2222.
    let jails = |port: &str| {
        format!("[sshd]\nenabled = true\nport = {port}\nfilter = demo\nlogpath = {{log}}\n")
    };
    let conf = jail_config(&scratch.0, &jails("ssh"));
    let conf_arg = conf.to_string_lossy().into_owned();
    // sshd -T may run on this host (root, OpenSSH installed): it then reads this
    // file and names 2222 as sshd's port.
    let sshd_config = scratch.0.join("sshd_config");
    std::fs::write(&sshd_config, "Port 2222\n").unwrap();
    let sshd_arg = sshd_config.to_string_lossy().into_owned();
    let args = ["-c", &conf_arg, "--sshd-config", &sshd_arg];
    let moved = listen(&ns, 2222);
    let (status, seen, code) = check(in_ns(&ns), "listening-without-jail", &args);
    assert_eq!((status.as_str(), code), ("WARN", 1), "{seen}");
    assert!(seen.contains("2222"), "{seen}");
    assert!(!seen.contains("2222: jail") && !seen.contains("2222 (ssh, from sshd -T): jail"));
    let sshd_runs = have("sshd")
        && Command::new("sshd")
            .args(["-T", "-f", &sshd_arg])
            .output()
            .is_ok_and(|o| o.status.success());
    if sshd_runs {
        assert!(
            seen.contains("2222 (ssh, from sshd -T): no enabled jail"),
            "{seen}"
        );
    } else {
        eprintln!("{test}: sshd -T cannot run here; 2222 is checked as an unknown port");
        assert!(
            seen.contains("no enabled jail names in `port`: 2222"),
            "{seen}"
        );
    }
    // A jail whose bans cover 2222 watches it, by number.
    let conf = jail_config(&scratch.0, &jails("ssh,2222"));
    assert_eq!(conf.to_string_lossy(), conf_arg);
    let (status, seen, code) = check(in_ns(&ns), "listening-without-jail", &args);
    assert_eq!((status.as_str(), code), ("PASS", 0), "{seen}");
    assert!(seen.contains("jail sshd"), "{seen}");
    drop(moved);
}

/// A configuration directory with a `demo` filter (it matches `auth failure from
/// <HOST>`) and `jails`; `{log}` in them is the scratch directory's `demo.log`.
fn jail_config(dir: &Path, jails: &str) -> PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(conf.join("filter.d")).unwrap();
    std::fs::create_dir_all(conf.join("action.d")).unwrap();
    std::fs::write(
        conf.join("filter.d/demo.conf"),
        "[Definition]\nfailregex = auth failure from <HOST>$\n",
    )
    .unwrap();
    let log = dir.join("demo.log");
    std::fs::write(
        conf.join("jail.conf"),
        format!(
            "[DEFAULT]\nbanaction = dry-run\nignoreip = 127.0.0.1/8\n{}",
            jails.replace("{log}", &log.to_string_lossy())
        ),
    )
    .unwrap();
    conf
}

#[test]
fn a_jail_whose_log_is_missing_fails_and_one_that_never_matches_warns() {
    let scratch = Scratch::new("ferroban-audit-jails");
    // beside it, a jail whose log is there and matches
    let good_log = scratch.0.join("good.log");
    std::fs::write(
        &good_log,
        "2026-11-20T10:00:00 auth failure from 192.0.2.8\n2026-11-23T10:00:00 x\n",
    )
    .unwrap();
    let conf = jail_config(
        &scratch.0,
        &format!(
            "[demo]\nenabled = true\nfilter = demo\nlogpath = {{log}}\n\
             [good]\nenabled = true\nfilter = demo\nlogpath = {}\n",
            good_log.display()
        ),
    );
    let conf_arg = conf.to_string_lossy().into_owned();
    let log = scratch.0.join("demo.log");
    let (status, seen, code) = check(ferroban(), "jail-log-missing", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    // the jail at fault alone, and how many others are fine
    assert!(
        seen.contains(&format!(
            "[demo] no file at {} (1 other fine)",
            log.display()
        )),
        "{seen}"
    );
    assert!(!seen.contains("[good]"), "{seen}");
    // The configuration may also come before the subcommand, as for the client.
    let mut before = ferroban();
    before.args(["-c", &conf_arg]);
    let (status, seen_before, _) = check(before, "jail-log-missing", &[]);
    assert_eq!((status.as_str(), seen_before), ("FAIL", seen.clone()));
    // Three days of lines the filter does not match.
    let day = |d: u32| format!("2026-11-{d:02}T10:00:00 session opened for alice\n");
    std::fs::write(&log, format!("{}{}{}", day(20), day(21), day(23))).unwrap();
    let (status, seen, _) = check(ferroban(), "jail-log-missing", &["-c", &conf_arg]);
    assert_eq!(status, "PASS", "{seen}");
    assert!(
        seen.contains("[demo] reads") && seen.contains("[good] reads"),
        "{seen}"
    );
    let (status, seen, code) = check(ferroban(), "jail-never-matched", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("WARN", 1), "{seen}");
    assert!(
        seen.contains("3 lines over 3 days, none matched (1 other fine)"),
        "{seen}"
    );
    assert!(!seen.contains("[good]"), "{seen}");
    // the fix is the command that tests this jail's filter on this log
    let json = |id: &str| -> Value {
        let out = ferroban()
            .args(["audit", "--json", "--only", id, "-c", &conf_arg])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let fix = json("jail-never-matched")["fix"].to_string();
    assert!(
        fix.contains(&format!(
            "`ferroban regex -c {conf_arg} {} demo`",
            log.display()
        )),
        "{fix}"
    );
    std::fs::write(
        &log,
        format!(
            "{}2026-11-22T10:00:00 auth failure from 192.0.2.7\n{}",
            day(20),
            day(23)
        ),
    )
    .unwrap();
    let (status, seen, _) = check(ferroban(), "jail-never-matched", &["-c", &conf_arg]);
    assert_eq!(status, "PASS", "{seen}");
    assert!(seen.contains("1 of 3 lines matched"), "{seen}");
    // A configuration the server would not start with protects nothing: a failure,
    // not a check that could not look (it was a SKIP, exit 3).
    let jail_local = conf.join("jail.local");
    std::fs::write(
        &jail_local,
        "[demo]\nenabled = true\n[demo]\nenabled = true\n",
    )
    .unwrap();
    let (status, seen, code) = check(ferroban(), "jail-log-missing", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    assert!(seen.contains("so the server would not start"), "{seen}");
    assert!(seen.contains("jail.local:3"), "{seen}");
    std::fs::remove_file(&jail_local).unwrap();
    std::fs::write(
        conf.join("ferroban.local"),
        "[Fleet]\nurl = nats://x\nnmae = web1\n",
    )
    .unwrap();
    let (status, seen, code) = check(ferroban(), "jail-log-missing", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    assert!(seen.contains("nmae"), "{seen}");
    // the error's hint stays on the finding's one line
    let seen = json("jail-log-missing")["seen"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(seen.contains("hint: ") && !seen.contains('\n'), "{seen}");
}

#[test]
fn the_admins_ssh_address_must_be_ignored() {
    let scratch = Scratch::new("ferroban-audit-admin");
    let jails = "[demo]\nenabled = true\nfilter = demo\nlogpath = {log}\n";
    let conf = jail_config(&scratch.0, jails);
    std::fs::write(scratch.0.join("demo.log"), "").unwrap();
    let conf_arg = conf.to_string_lossy().into_owned();
    // Without the variables the answer depends on who runs the tests (their
    // terminal and parents): see the_admins_address_is_found_under_sudo.
    let mut from_ssh = ferroban();
    from_ssh.env("SSH_CLIENT", "203.0.113.5 50022 22");
    let (status, seen, code) = check(from_ssh, "admin-not-ignored", &["-c", &conf_arg]);
    assert_eq!((status.as_str(), code), ("WARN", 1), "{seen}");
    assert!(
        seen.contains("203.0.113.5 (from SSH_CLIENT)") && seen.contains("demo"),
        "{seen}"
    );
    std::fs::write(
        conf.join("jail.local"),
        "[DEFAULT]\nignoreip = 127.0.0.1/8 203.0.113.0/24\n",
    )
    .unwrap();
    let mut from_ssh = ferroban();
    from_ssh.env("SSH_CLIENT", "203.0.113.5 50022 22");
    let (status, seen, _) = check(from_ssh, "admin-not-ignored", &["-c", &conf_arg]);
    assert_eq!(status, "PASS", "{seen}");
}

/// Runs `ferroban audit` as `sudo` would leave it, in a PID and mount namespace
/// of its own (so that no process of the test's own session is its parent, and
/// /run is a fresh tmpfs): MODE is `none` (no terminal), `utmp` (a terminal whose
/// login in /var/run/utmp comes from VALUE) or `parent` (a parent shell with
/// SSH_CONNECTION from VALUE). Writes the audit's output to OUT (and in `utmp`
/// mode what `who -m` says to OUT.who) and exits with its code.
const SUDO_LIKE: &str = r#"
import os, pty, subprocess, sys, time
mode, value, out = sys.argv[1:4]
command = sys.argv[4:]
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)

def child():
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    if mode == "utmp":
        line = os.ttyname(0)[len("/dev/"):]
        # A USER_PROCESS (7) login on the line, written by util-linux's utmpdump
        # from its text form (type one digit, pid five: it reads those columns at
        # fixed places), so that glibc's layout is not assumed here.
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S,000000+00:00", time.gmtime())
        text = "[7] [%05d] [%-4.4s] [%-8s] [%-12s] [%-20s] [%-15s] [%s]\n" % (
            os.getpid() % 100000, line[-4:], "admin", line, value, "0.0.0.0", stamp)
        with open("/var/run/utmp", "wb") as f:
            subprocess.run(["utmpdump", "-r"], input=text.encode(), stdout=f,
                           stderr=subprocess.DEVNULL, check=True)
        # What `who am i` (coreutils, through glibc) reads for this terminal.
        who = subprocess.run(["who", "-m"], stdout=subprocess.PIPE, check=True).stdout
        with open(out + ".who", "wb") as f:
            f.write(who)
    if mode == "parent":
        env = dict(os.environ, SSH_CONNECTION=value + " 50022 10.0.0.1 22")
        script = 'env -u SSH_CONNECTION -u SSH_CLIENT "$@"; exit $?'
        os.execvpe("sh", ["sh", "-c", script, "sh"] + command, env)
    os.execvp(command[0], command)

if mode == "utmp":
    pid, master = pty.fork()
else:
    pid = os.fork()
    if pid == 0:
        os.setsid()
if pid == 0:
    try:
        child()
    finally:
        os._exit(127)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn the_admins_address_is_found_under_sudo() {
    let test = "the_admins_address_is_found_under_sudo";
    let tools = ["unshare", "python3", "mount", "utmpdump", "who"];
    let missing: Vec<&str> = tools.into_iter().filter(|t| !have(t)).collect();
    if !is_root() || !missing.is_empty() {
        eprintln!("SKIPPED {test}: needs root and {tools:?} (missing: {missing:?})");
        return;
    }
    let namespaces = ["--mount", "--pid", "--fork", "--mount-proc"];
    let probe = Command::new("unshare")
        .args(namespaces)
        .arg("true")
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED {test}: cannot make PID and mount namespaces: {probe:?}");
        return;
    }
    let scratch = Scratch::new("ferroban-audit-sudo");
    let conf = jail_config(
        &scratch.0,
        "[demo]\nenabled = true\nfilter = demo\nlogpath = {log}\n",
    );
    let conf_arg = conf.to_string_lossy().into_owned();
    let runner = scratch.0.join("sudo_like.py");
    std::fs::write(&runner, SUDO_LIKE).unwrap();
    let out = scratch.0.join("out");
    let run = |mode: &str, value: &str, ssh_client: Option<&str>| {
        let mut c = Command::new("unshare");
        c.args(namespaces)
            .arg("python3")
            .arg(&runner)
            .args([mode, value])
            .arg(&out)
            .args([BIN, "audit", "--json", "--only", "admin-not-ignored"])
            .args(["-c", &conf_arg])
            .env_remove("SSH_CONNECTION")
            .env_remove("SSH_CLIENT");
        if let Some(v) = ssh_client {
            c.env("SSH_CLIENT", v);
        }
        let code = c.status().unwrap().code().unwrap_or(-1);
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let findings = parse_findings(&text);
        assert_eq!(findings.len(), 1, "{mode} {value}: {text:?}");
        let (_, status, seen) = findings.into_iter().next().unwrap();
        (status, seen, code)
    };
    // Nowhere to look: a SKIP that says so, and not a pass.
    let (status, seen, code) = run("none", "", None);
    assert_eq!((status.as_str(), code), ("SKIP", 3), "{seen}");
    assert!(
        seen.contains("SSH_CONNECTION and SSH_CLIENT are not set"),
        "{seen}"
    );
    assert!(seen.contains("no controlling terminal"), "{seen}");
    // A mangled variable is named as such, not as missing.
    let (status, seen, _) = run("none", "", Some("garbage"));
    assert_eq!(status, "SKIP", "{seen}");
    assert!(
        seen.contains("SSH_CLIENT is set but unreadable (\"garbage\""),
        "{seen}"
    );
    // sudo's env_reset dropped the variables, but the terminal's login in utmp
    // (as `who am i` reads it) or the parent's environment still has them.
    let (status, seen, code) = run("utmp", "203.0.113.5", None);
    assert_eq!((status.as_str(), code), ("WARN", 1), "{seen}");
    assert!(
        seen.starts_with("203.0.113.5 (from the login on pts/"),
        "{seen}"
    );
    assert!(seen.contains("in /var/run/utmp)"), "{seen}");
    // `who -m` on the same terminal and file finds the same login.
    let who = std::fs::read_to_string(scratch.0.join("out.who")).unwrap_or_default();
    let who_line = who.split_whitespace().nth(1).unwrap_or("?");
    assert!(who.trim_end().ends_with("(203.0.113.5)"), "{who:?}");
    assert!(
        seen.contains(&format!("the login on {who_line} in")),
        "{seen} / who -m: {who:?}"
    );
    let (status, seen, _) = run("utmp", "admin.example.org", None);
    assert_eq!(status, "SKIP", "{seen}");
    assert!(
        seen.contains("names host \"admin.example.org\", not an address"),
        "{seen}"
    );
    let (status, seen, code) = run("parent", "2001:db8::5", None);
    assert_eq!((status.as_str(), code), ("WARN", 1), "{seen}");
    assert!(
        seen.starts_with("2001:db8::5 (from SSH_CONNECTION of parent process ")
            && seen.contains(" (sh)) is not ignored by jail demo"),
        "{seen}"
    );
    std::fs::write(
        conf.join("jail.local"),
        "[DEFAULT]\nignoreip = 127.0.0.1/8 203.0.113.0/24\n",
    )
    .unwrap();
    let (status, seen, code) = run("utmp", "203.0.113.5", None);
    assert_eq!((status.as_str(), code), ("PASS", 0), "{seen}");
}

#[test]
fn sshd_passwords_and_root_are_read_from_its_configuration() {
    let scratch = Scratch::new("ferroban-audit-sshd");
    let file = scratch.0.join("sshd_config");
    let file_arg = file.to_string_lossy().into_owned();
    std::fs::write(&file, "PasswordAuthentication yes\nPermitRootLogin yes\n").unwrap();
    let (status, seen, code) = check(
        ferroban(),
        "sshd-password-authentication",
        &["--sshd-config", &file_arg],
    );
    assert_eq!((status.as_str(), code), ("FAIL", 2), "{seen}");
    assert!(seen.contains("PasswordAuthentication yes"), "{seen}");
    let (status, seen, _) = check(ferroban(), "sshd-root-login", &["--sshd-config", &file_arg]);
    assert_eq!(status, "FAIL", "{seen}");
    std::fs::write(
        &file,
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n",
    )
    .unwrap();
    let (status, seen, _) = check(
        ferroban(),
        "sshd-password-authentication",
        &["--sshd-config", &file_arg],
    );
    assert_eq!(status, "PASS", "{seen}");
    let (status, seen, _) = check(ferroban(), "sshd-root-login", &["--sshd-config", &file_arg]);
    assert_eq!(status, "PASS", "{seen}");
}

#[test]
fn every_check_runs_once_in_order_and_bad_options_are_named() {
    let scratch = Scratch::new("ferroban-audit-all");
    let conf = jail_config(&scratch.0, "");
    let conf_arg = conf.to_string_lossy().into_owned();
    let (findings, code) = audit(
        ferroban(),
        &["-c", &conf_arg, "--sshd-config", "/nonexistent"],
    );
    let ids: Vec<&str> = findings.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "firewall-default-policy",
            "listening-without-jail",
            "web-secret-files",
            "smtp-auth-port-25",
            "sshd-password-authentication",
            "sshd-root-login",
            "jail-log-missing",
            "jail-never-matched",
            "admin-not-ignored",
        ]
    );
    for (id, status, _) in &findings {
        assert!(
            ["PASS", "WARN", "FAIL", "SKIP"].contains(&status.as_str()),
            "{id}: {status}"
        );
    }
    // The worst finding decides; a SKIP is not a pass, but a warning or a
    // failure says more.
    let has = |s: &str| findings.iter().any(|(_, status, _)| status == s);
    let worst = if has("FAIL") {
        2
    } else if has("WARN") {
        1
    } else if has("SKIP") {
        3
    } else {
        0
    };
    assert_eq!(code, worst);
    let out = ferroban()
        .args(["audit", "--only", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("firewall-default-policy"));
}

#[test]
fn a_skipped_check_is_not_a_pass() {
    let scratch = Scratch::new("ferroban-audit-skip");
    let conf = jail_config(&scratch.0, "");
    let conf_arg = conf.to_string_lossy().into_owned();
    // The finding's run: sshd_config missing, so the check cannot look.
    let (status, seen, code) = check(
        ferroban(),
        "sshd-root-login",
        &["--sshd-config", "/nonexistent"],
    );
    assert_eq!((status.as_str(), code), ("SKIP", 3), "{seen}");
    // Only SKIPs: still not 0.
    let (findings, code) = audit(
        ferroban(),
        &[
            "--only",
            "sshd-root-login,jail-never-matched",
            "-c",
            &conf_arg,
            "--sshd-config",
            "/nonexistent",
        ],
    );
    assert!(findings.iter().all(|(_, s, _)| s == "SKIP"), "{findings:?}");
    assert_eq!(code, 3);
    // A warning says more than a SKIP, and wins.
    let conf = jail_config(
        &scratch.0,
        "[demo]\nenabled = true\nfilter = demo\nlogpath = {log}\n",
    );
    let conf_arg = conf.to_string_lossy().into_owned();
    let mut from_ssh = ferroban();
    from_ssh.env("SSH_CLIENT", "203.0.113.5 50022 22");
    let (findings, code) = audit(
        from_ssh,
        &[
            "--only",
            "sshd-root-login,admin-not-ignored",
            "-c",
            &conf_arg,
            "--sshd-config",
            "/nonexistent",
        ],
    );
    let statuses: Vec<&str> = findings.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!((statuses, code), (vec!["SKIP", "WARN"], 1));
    let help = ferroban().args(["audit", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("3 a check that could not look"));
}
