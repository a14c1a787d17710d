//! The fleet end to end: a real nats-server and several real `ferroban server`s
//! on loopback (the harness is tests/common/fleet.rs). Each test uses its own port and
//! directories; without nats-server installed the tests say SKIPPED.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferroban_fleet::counter::{MAX_SKEW, ORIGIN_SHARE};
use serde_json::Value;

mod common;
use common::fleet::{engine_for, nats_server_missing, Engine, Host, HostSpec, LOGINS};
use common::{have, is_root, wait_for, Netns, Scratch};

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");

/// Publish `payload` on `subject` with a bare NATS client of our own, logged in
/// as `login`; returns what the engine answered up to its PONG.
fn raw_publish(port: u16, login: (&str, &str), subject: &str, payload: &str) -> String {
    raw_flood(port, login, &[(subject.to_string(), payload.to_string())])
}

/// Publish every `(subject, payload)` of `messages` on one connection of a bare
/// NATS client logged in as `login`, as a compromised member could; returns the
/// engine's answer up to the PONG that follows them (an `-ERR` if it refused any).
fn raw_flood(port: u16, login: (&str, &str), messages: &[(String, String)]) -> String {
    let frames: String = messages
        .iter()
        .map(|(subject, payload)| format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()))
        .collect();
    raw_frames(port, login, &frames)
}

/// Send protocol `frames` (`PUB`, `HPUB`…) on one connection of a bare NATS
/// client logged in as `login`; returns the engine's answer up to the PONG that
/// follows them.
fn raw_frames(port: u16, login: (&str, &str), frames: &str) -> String {
    use std::io::{BufRead, BufReader, BufWriter, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    let connect = serde_json::json!({"user": login.0, "pass": login.1, "verbose": false,
        "pedantic": false, "headers": true});
    let mut w = BufWriter::new(stream);
    write!(w, "CONNECT {connect}\r\n{frames}PING\r\n").unwrap();
    w.flush().unwrap();
    let mut answer = String::new();
    // Bounded: the engine answers PONG once it read everything before the PING.
    for _ in 0..1000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.starts_with("PING") {
            let _ = w.write_all(b"PONG\r\n").and_then(|()| w.flush());
            continue;
        }
        answer.push_str(&line);
        if line.starts_with("PONG") {
            break;
        }
    }
    answer
}

/// Honest hosts for `logins`, with `jail` added to their jail, started and
/// connected.
fn connected_hosts(root: &Path, engine: &Engine, logins: &[(&str, &str)], jail: &str) -> Vec<Host> {
    let specs = logins.iter().map(|(name, password)| HostSpec {
        jail,
        ..HostSpec::honest(name, password)
    });
    connected(root, engine, specs)
}

/// Hosts of `specs`, started and connected.
fn connected<'a>(
    root: &Path,
    engine: &Engine,
    specs: impl IntoIterator<Item = HostSpec<'a>>,
) -> Vec<Host> {
    specs
        .into_iter()
        .map(|spec| {
            let mut h = Host::new(BIN, root, engine, &spec);
            h.start();
            h.wait_connected();
            h
        })
        .collect()
}

/// A host without an action, started and connected.
fn quiet_host(root: &Path, engine: &Engine, name: &'static str, password: &'static str) -> Host {
    let spec = HostSpec {
        action: "",
        ..HostSpec::honest(name, password)
    };
    let mut host = Host::new(BIN, root, engine, &spec);
    host.start();
    host.wait_connected();
    host
}

/// Seconds within which fleet traffic arrives.
const SOON: u64 = 10;

#[test]
fn bans_propagate_to_every_host_and_the_origins_unban_lifts_them() {
    let Some((root, engine)) = engine_for(BIN, "propagate") else {
        return;
    };
    let mut hosts: Vec<Host> = LOGINS
        .iter()
        .map(|(name, password)| Host::new(BIN, &root.0, &engine, &HostSpec::honest(name, password)))
        .collect();
    // web1's ferroban.local (its password) readable by all; the others' mode 600,
    // except web2's, which holds no secret: its password is in a file of its own
    // in ferroban.d/, of mode 600, as the warning advises.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = || std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(hosts[0].dir.join("conf/ferroban.local"), mode()).unwrap();
        let local = hosts[1].dir.join("conf/ferroban.local");
        let text = std::fs::read_to_string(&local).unwrap();
        assert!(text.contains("password = pw-two\n"), "{text}");
        std::fs::write(&local, text.replace("password = pw-two\n", "")).unwrap();
        std::fs::set_permissions(&local, mode()).unwrap();
        let secret = hosts[1].dir.join("conf/ferroban.d/secret.local");
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(&secret, "[Fleet]\npassword = pw-two\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for h in &mut hosts {
        h.start();
        h.wait_connected();
    }
    assert!(
        hosts[0].log().contains("[Fleet] password (or token) is in")
            && hosts[0].log().contains(&format!(
                "which other users can read (mode 644): chmod 600 it, or move its line, under \
                 its section header, to a file of its own of mode 600 such as {}",
                hosts[0].dir.join("conf/ferroban.d/secret.local").display()
            )),
        "{}",
        hosts[0].log()
    );
    for h in &hosts[1..] {
        assert!(
            !h.log().contains("[Fleet] password (or token) is in"),
            "mode 600 is no reason to warn: {}",
            h.log()
        );
    }
    // `check` says so too, and still passes.
    for (h, warns) in hosts.iter().zip([true, false, false]) {
        let checked = h.client(&["check"]);
        let said = String::from_utf8_lossy(&checked.stderr);
        assert!(checked.status.success(), "{said}");
        assert_eq!(
            said.contains("WARNING: [Fleet] password (or token) is in"),
            warns,
            "{said}"
        );
    }
    hosts[0].fail("192.0.2.7", 3);
    for h in &hosts {
        assert!(
            wait_for(SOON, || h.bans_of("192.0.2.7") == 1),
            "ban did not arrive: {}\n{}",
            h.actions(),
            h.log()
        );
    }
    for h in &hosts[1..] {
        assert!(
            h.log().contains("NOTICE  [t] Ban 192.0.2.7 (fleet: web1)"),
            "{}",
            h.log()
        );
        let fleet = h.fleet();
        assert_eq!(fleet["configured"], Value::Bool(true));
        assert!(fleet["applied"].as_u64() >= Some(1), "{fleet}");
        let web1 = fleet["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "web1").cloned())
            .unwrap_or(Value::Null);
        assert_eq!(web1["bans"], 1, "{fleet}");
        let status = String::from_utf8_lossy(&h.client(&["status", "t"]).stdout).to_string();
        assert!(
            status.contains("Fleet bans (fleet = share):\t1"),
            "{status}"
        );
        assert!(web1["last_seen"].as_f64().is_some(), "{fleet}");
    }
    assert!(hosts[0].client(&["unban", "192.0.2.7"]).status.success());
    for h in &hosts[1..] {
        assert!(
            wait_for(SOON, || h.unbans_of("192.0.2.7") == 1),
            "the origin's unban did not lift it: {}",
            h.actions()
        );
        // The lift names its origin, as the received ban did.
        assert!(
            h.log()
                .contains("NOTICE  [t] Unban 192.0.2.7 (fleet: web1)\n"),
            "{}",
            h.log()
        );
    }
    // The origin's own unban is its own, and says nothing of the fleet.
    assert!(
        hosts[0].log().contains("NOTICE  [t] Unban 192.0.2.7\n"),
        "{}",
        hosts[0].log()
    );
    // The figures add up: every ban or lift received is applied, already
    // held, a lift or refused; the origin counts only what the engine confirmed.
    for h in &hosts[1..] {
        let f = h.fleet();
        let n = |k: &str| f[k].as_u64().unwrap_or(u64::MAX / 8);
        assert!(n("lifts") >= 1, "{f}");
        assert_eq!(
            n("received"),
            n("applied") + n("already_held") + n("lifts") + n("refused_received"),
            "{f}"
        );
    }
    let origin = hosts[0].fleet();
    assert!(
        origin["published"].as_u64() >= Some(2),
        "ban and unban: {origin}"
    );
    assert_eq!(origin["unconfirmed"], 0, "{origin}");
    let metrics = hosts[1].client(&["metrics"]);
    let text = String::from_utf8_lossy(&metrics.stdout);
    assert!(text.contains("ferroban_fleet_connected 1"), "{text}");
    assert!(text.contains("ferroban_fleet_applied_total 1"), "{text}");
    // The metrics give the figures `--json` gives, and they add up the same way.
    let metric = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name}: {text}"))
    };
    let f = hosts[1].fleet();
    for (name, key) in [
        ("ferroban_fleet_received_total", "received"),
        ("ferroban_fleet_already_held_total", "already_held"),
        ("ferroban_fleet_lifts_total", "lifts"),
        ("ferroban_fleet_refused_received_total", "refused_received"),
        (
            "ferroban_fleet_failures_received_total",
            "failures_received",
        ),
        ("ferroban_fleet_failures_refused_total", "failures_refused"),
        ("ferroban_fleet_unconfirmed_total", "unconfirmed"),
    ] {
        assert_eq!(Some(metric(name)), f[key].as_u64(), "{name}: {text}\n{f}");
    }
    assert_eq!(
        metric("ferroban_fleet_received_total"),
        metric("ferroban_fleet_applied_total")
            + metric("ferroban_fleet_already_held_total")
            + metric("ferroban_fleet_lifts_total")
            + metric("ferroban_fleet_refused_received_total"),
        "{text}"
    );
}

#[test]
fn fleet_counting_two_and_two_bans_everywhere_one_and_one_nowhere() {
    let Some((root, engine)) = engine_for(BIN, "count") else {
        return;
    };
    let hosts = connected_hosts(&root.0, &engine, &LOGINS, "fleetmaxretry = 4");
    hosts[0].fail("198.51.100.1", 1);
    hosts[1].fail("198.51.100.1", 1);
    hosts[0].fail("198.51.100.2", 2);
    hosts[1].fail("198.51.100.2", 2);
    for h in &hosts {
        assert!(
            wait_for(SOON, || h.bans_of("198.51.100.2") == 1),
            "2 + 2 did not ban everywhere: {}\n{}",
            h.actions(),
            h.log()
        );
    }
    // The 1 + 1 failures were written before the 2 + 2 and have been counted by
    // now: they stay below fleetmaxretry.
    std::thread::sleep(Duration::from_millis(500));
    for h in &hosts {
        assert_eq!(h.bans_of("198.51.100.1"), 0, "1 + 1 banned: {}", h.log());
        assert_eq!(
            h.bans_of("198.51.100.2"),
            1,
            "banned once only: {}",
            h.actions()
        );
    }
}

#[test]
fn failures_made_while_the_engine_is_down_count_once_it_returns() {
    let Some((root, mut engine)) = engine_for(BIN, "held-failures") else {
        return;
    };
    let hosts = connected_hosts(&root.0, &engine, &LOGINS, "fleetmaxretry = 4");
    engine.kill();
    assert!(wait_for(SOON, || hosts[0].fleet()["connected"] == false));
    hosts[0].fail("198.51.100.9", 2);
    // Read (and handed to the fleet thread) while the engine is away.
    assert!(
        wait_for(SOON, || hosts[0]
            .log()
            .matches("Found 198.51.100.9")
            .count()
            == 2),
        "{}",
        hosts[0].log()
    );
    engine.run();
    for h in &hosts {
        h.wait_connected();
    }
    hosts[1].fail("198.51.100.9", 2);
    for h in &hosts {
        assert!(
            wait_for(SOON, || h.bans_of("198.51.100.9") == 1),
            "the failures from the outage were not counted: {}\n{}",
            h.actions(),
            h.log()
        );
    }
}

#[test]
fn reload_applies_a_changed_fleet_section_and_keeps_the_old_one_when_it_is_bad() {
    let Some((root, engine)) = engine_for(BIN, "reload") else {
        return;
    };
    let hosts = connected_hosts(&root.0, &engine, &LOGINS, "");
    let local = hosts[0].dir.join("conf/ferroban.local");
    let good = std::fs::read_to_string(&local).unwrap();
    // A bad section: refused with its file and line, the old one runs on.
    std::fs::write(&local, good.replace("url = nats://", "url = http://")).unwrap();
    let out = hosts[0].client(&["reload"]);
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    let line = good.lines().position(|l| l.starts_with("url = ")).unwrap() + 1;
    assert!(
        said.contains(&format!("ferroban.local:{line}")) && said.contains("[Fleet]"),
        "the error names neither the file and line nor the section: {said}"
    );
    // A misspelt key is an error too, for `check` as for `reload`: without it
    // `nmae` left the host under its hostname.
    std::fs::write(&local, good.replace("name = web1", "nmae = web9")).unwrap();
    let line = good.lines().position(|l| l.starts_with("name = ")).unwrap() + 1;
    for command in ["check", "reload"] {
        let out = hosts[0].client(&[command]);
        let said = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{command}: {said}");
        assert!(
            said.contains(&format!(
                "ferroban.local:{line}: [Fleet] has no option \"nmae\""
            )) && said.contains("did you mean name?"),
            "{command}: {said}"
        );
    }
    hosts[0].fail("192.0.2.41", 3);
    assert!(
        wait_for(SOON, || hosts[2].bans_of("192.0.2.41") == 1),
        "the old settings stopped working: {}",
        hosts[0].log()
    );
    // A changed section: the host reconnects with it (here, another login).
    std::fs::write(
        &local,
        good.replace("name = web1", "name = web3")
            .replace("user = web1", "user = web3")
            .replace("password = pw-one", "password = pw-three"),
    )
    .unwrap();
    // ... in a file others can read: the reload warns, as a start does.
    let warning = "which other users can read (mode 644)";
    assert!(!hosts[0].log().contains(warning), "{}", hosts[0].log());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(&local, mode).unwrap();
    }
    assert!(hosts[0].client(&["reload"]).status.success());
    assert!(hosts[0].log().contains(warning), "{}", hosts[0].log());
    assert!(
        wait_for(SOON, || hosts[0].fleet()["name"] == "web3"
            && hosts[0].fleet()["connected"] == true),
        "{}",
        hosts[0].log()
    );
    hosts[0].fail("192.0.2.42", 3);
    assert!(
        wait_for(SOON, || hosts[1]
            .log()
            .contains("Ban 192.0.2.42 (fleet: web3)")),
        "not published under the new name: {}",
        hosts[1].log()
    );
    assert!(hosts[0]
        .log()
        .contains("fleet: [Fleet] changed; reconnecting with the new settings"));
    // The section removed: the host leaves the fleet, and `--json` keeps every
    // key it had (zero), so that a reader need not tell the two apart.
    let joined = hosts[0].fleet();
    let without = good.split("[Fleet]").next().unwrap();
    std::fs::write(&local, without).unwrap();
    assert!(hosts[0].client(&["reload"]).status.success());
    let left = hosts[0].fleet();
    assert_eq!(left["configured"], false, "{left}");
    for key in joined.as_object().unwrap().keys() {
        assert!(
            left.get(key).is_some(),
            "no {key} when not configured: {left}"
        );
    }
}

#[test]
fn the_receivers_ignoreip_wins() {
    let Some((root, engine)) = engine_for(BIN, "ignore") else {
        return;
    };
    let mut specs: Vec<HostSpec> = LOGINS.iter().map(|(n, p)| HostSpec::honest(n, p)).collect();
    specs[1].jail = "ignoreip = 127.0.0.1/8 203.0.113.0/24";
    let hosts: Vec<Host> = specs
        .iter()
        .map(|s| {
            let mut h = Host::new(BIN, &root.0, &engine, s);
            h.start();
            h.wait_connected();
            h
        })
        .collect();
    assert!(hosts[0]
        .client(&["ban", "t", "203.0.113.5", "192.0.2.99"])
        .status
        .success());
    assert!(wait_for(SOON, || hosts[2].bans_of("203.0.113.5") == 1
        && hosts[1].bans_of("192.0.2.99") == 1));
    assert_eq!(
        hosts[1].bans_of("203.0.113.5"),
        0,
        "ignored here: {}",
        hosts[1].log()
    );
    assert_eq!(hosts[1].fleet()["refused"]["ignored"], 1);
    assert!(hosts[1]
        .log()
        .contains("[t] Ignore 203.0.113.5 by ip (fleet: web1)"));
}

#[test]
fn impersonation_and_a_wrong_password_are_refused_while_both_hosts_ban_locally() {
    let Some((root, engine)) = engine_for(BIN, "impostor") else {
        return;
    };
    let mut observer = Host::new(BIN, &root.0, &engine, &HostSpec::honest("web3", "pw-three"));
    observer.start();
    observer.wait_connected();
    // web2's login publishing under web1's name, and web1's name with a wrong password.
    let impostor = HostSpec {
        user: "web2",
        password: "pw-two",
        ..HostSpec::honest("web1", "")
    };
    let wrong = HostSpec {
        password: "not-the-password",
        ..HostSpec::honest("web1", "")
    };
    let mut hosts: Vec<Host> = [impostor, wrong]
        .iter()
        .map(|s| {
            let mut h = Host::new(BIN, &root.0, &engine, s);
            h.start();
            h
        })
        .collect();
    hosts[0].fail("192.0.2.10", 3);
    hosts[1].fail("192.0.2.11", 3);
    assert!(wait_for(SOON, || hosts[0].bans_of("192.0.2.10") == 1
        && hosts[1].bans_of("192.0.2.11") == 1));
    // A client of its own with web2's login, writing a ban under web1's key with a
    // payload that claims web1: the engine refuses it, nobody applies it.
    let forged =
        r#"{"origin":"web1","jail":"t","ip":"192.0.2.13","start":1,"end":null,"op":"ban"}"#;
    let answer = raw_publish(
        engine.port,
        ("web2", "pw-two"),
        "$KV.ferroban.web1.t.192_0_2_13",
        forged,
    );
    assert!(
        answer.contains("Permissions Violation for Publish"),
        "{answer}"
    );
    // A control ban from the honest side shows the observer is listening.
    let mut honest = Host::new(BIN, &root.0, &engine, &HostSpec::honest("web2", "pw-two"));
    honest.start();
    honest.wait_connected();
    honest.fail("192.0.2.12", 3);
    assert!(wait_for(SOON, || observer.bans_of("192.0.2.12") == 1));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(observer.bans_of("192.0.2.10"), 0, "{}", observer.log());
    assert_eq!(observer.bans_of("192.0.2.13"), 0, "{}", observer.log());
    assert_eq!(observer.bans_of("192.0.2.11"), 0, "{}", observer.log());
    for h in &hosts {
        let fleet = h.fleet();
        assert_eq!(fleet["connected"], Value::Bool(false), "{fleet}");
        assert_eq!(fleet["outbox"], 1, "kept for later: {fleet}");
    }
    // Why, in `ferroban fleet`: web2's login under the name web1 is named as
    // such, not as a timeout, and without waiting for one.
    let why = |h: &Host| h.fleet()["last_error"].as_str().unwrap_or("").to_string();
    assert!(
        why(&hosts[0])
            .contains("[Fleet] name = web1 probably does not match the login's user (web2)"),
        "{}",
        hosts[0].fleet()
    );
    assert!(
        !why(&hosts[0]).contains("timed out"),
        "named before the request timed out: {}",
        why(&hosts[0])
    );
    assert!(
        hosts[0]
            .log()
            .contains("probably does not match the login's user (web2)"),
        "{}",
        hosts[0].log()
    );
    // The refusal says it is one, not that the engine is unreachable.
    assert!(
        hosts[0]
            .log()
            .contains("WARNING fleet: the engine refused this host's replies: "),
        "{}",
        hosts[0].log()
    );
    // A wrong password: the user named, once, and what to check.
    assert_eq!(
        why(&hosts[1]),
        "the engine refused user \"web1\"'s login (authorization violation): check [Fleet] \
         user and password against the engine's configuration",
        "{}",
        hosts[1].fleet()
    );
    for h in &hosts {
        assert!(
            !h.log().contains("engine unreachable"),
            "the engine answered: {}",
            h.log()
        );
    }
    let text = String::from_utf8_lossy(&hosts[1].client(&["fleet"]).stdout).to_string();
    assert!(
        text.contains("NOT connected")
            && text.contains("|- Last error (")
            && text.contains("authorization violation"),
        "{text}"
    );
    let log = engine.log();
    assert!(
        log.contains("Subscription Violation - User \"web2\", Subject \"_INBOX_web1."),
        "{log}"
    );
    assert!(
        log.contains("authentication error - User \"web1\""),
        "{log}"
    );
    // Local banning still works for both after the refusals.
    hosts[0].fail("192.0.2.20", 3);
    hosts[1].fail("192.0.2.21", 3);
    assert!(wait_for(SOON, || hosts[0].bans_of("192.0.2.20") == 1
        && hosts[1].bans_of("192.0.2.21") == 1));
    for h in &mut hosts {
        h.stop();
    }
}

#[test]
fn the_engine_killed_and_restarted_loses_nothing_and_doubles_nothing() {
    let Some((root, mut engine)) = engine_for(BIN, "kill") else {
        return;
    };
    let hosts = connected_hosts(&root.0, &engine, &LOGINS, "");
    hosts[0].fail("192.0.2.1", 3);
    assert!(wait_for(SOON, || hosts[2].bans_of("192.0.2.1") == 1));
    engine.kill();
    let during: Vec<String> = (1..=5).map(|i| format!("198.51.100.{i}")).collect();
    for ip in &during {
        hosts[0].fail(ip, 3);
    }
    assert!(
        wait_for(SOON, || during.iter().all(|ip| hosts[0].bans_of(ip) == 1)),
        "local banning waits on the engine: {}",
        hosts[0].log()
    );
    assert!(wait_for(SOON, || hosts[0].fleet()["outbox"] == 5));
    engine.run();
    for h in &hosts[1..] {
        assert!(
            wait_for(30, || during.iter().all(|ip| h.bans_of(ip) == 1)),
            "the outbox did not arrive: {}\n{}",
            h.actions(),
            h.log()
        );
    }
    assert!(wait_for(SOON, || hosts[0].fleet()["outbox"] == 0));
    std::thread::sleep(Duration::from_millis(500));
    for h in &hosts {
        for ip in during.iter().map(String::as_str).chain(["192.0.2.1"]) {
            assert_eq!(h.bans_of(ip), 1, "{ip} twice: {}", h.actions());
        }
    }
    let unreachable = hosts[0].log().matches("fleet: engine unreachable").count();
    assert_eq!(unreachable, 1, "said once: {}", hosts[0].log());
}

#[test]
fn the_engine_back_with_its_storage_wiped_gets_every_hosts_bans_again() {
    let Some((root, mut engine)) = engine_for(BIN, "wipe") else {
        return;
    };
    let mut first = connected_hosts(&root.0, &engine, &LOGINS[..2], "");
    first[0].fail("192.0.2.31", 3);
    first[1].fail("192.0.2.32", 3);
    assert!(wait_for(SOON, || first[0].bans_of("192.0.2.32") == 1
        && first[1].bans_of("192.0.2.31") == 1));
    engine.kill();
    engine.wipe_storage();
    engine.run();
    for h in &first {
        assert!(wait_for(30, || h.log().contains("storage was lost")));
    }
    // A host joining now learns both bans from the wiped engine.
    let mut late = Host::new(BIN, &root.0, &engine, &HostSpec::honest("web3", "pw-three"));
    late.start();
    assert!(
        wait_for(SOON, || late.bans_of("192.0.2.31") == 1
            && late.bans_of("192.0.2.32") == 1),
        "{}\n{}",
        late.actions(),
        late.log()
    );
    assert_eq!(first[0].bans_of("192.0.2.32"), 1, "{}", first[0].actions());
    assert_eq!(first[1].bans_of("192.0.2.31"), 1, "{}", first[1].actions());
    // Restarted without the engine, a host keeps the bans it received.
    engine.kill();
    first[1].stop();
    first[1].start();
    assert!(first[1]
        .log()
        .contains("Restore Ban 192.0.2.31 (fleet: web1)"));
}

#[test]
fn a_host_joining_late_receives_10000_bans() {
    let Some((root, engine)) = engine_for(BIN, "join") else {
        return;
    };
    let origin = quiet_host(&root.0, &engine, "web1", "pw-one");
    let ips: Vec<String> = (0..10_000u32)
        .map(|i| format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let mut args = vec!["ban", "t"];
    args.extend(ips.iter().map(String::as_str));
    let out = origin.client(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_for(30, || origin.fleet()["outbox"] == 0));
    let late = quiet_host(&root.0, &engine, "web2", "pw-two");
    assert!(
        wait_for(30, || late.banned_count() == 10_000),
        "{} of 10000: {}",
        late.banned_count(),
        late.fleet()
    );
    assert_eq!(late.fleet()["applied"], 10_000);
}

/// A member may write its own keys only. A message with JetStream's
/// `Nats-Rollup: all` header, published on its own key, would purge the whole
/// bucket: every host's bans, which a host joining later then never receives.
#[test]
fn a_member_cannot_purge_the_other_members_bans_with_a_rollup() {
    let Some((root, engine)) = engine_for(BIN, "rollup") else {
        return;
    };
    let origin = quiet_host(&root.0, &engine, "web1", "pw-one");
    let out = origin.client(&["ban", "t", "192.0.2.50"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_for(SOON, || origin.fleet()["outbox"] == 0));
    // the compromised member web2, by hand
    for rollup in ["all", "sub"] {
        let headers = format!("NATS/1.0\r\nNats-Rollup: {rollup}\r\n\r\n");
        let payload = "{}";
        let frame = format!(
            "HPUB $KV.ferroban.web2.t.192_0_2_99 {} {}\r\n{headers}{payload}\r\n",
            headers.len(),
            headers.len() + payload.len()
        );
        raw_frames(engine.port, ("web2", "pw-two"), &frame);
    }
    let late = quiet_host(&root.0, &engine, "web3", "pw-three");
    assert!(
        wait_for(SOON, || late.banned_count() >= 1),
        "web1's ban did not reach a host joining after the rollup: {}",
        late.fleet()
    );
}

/// A member may publish on its own keys only, also through the engine: a push
/// consumer it makes cannot deliver the bucket's messages onto another host's key
/// (the engine would store them there, as that host's bans).
#[test]
fn a_member_cannot_have_the_engine_write_another_hosts_keys() {
    let Some((root, engine)) = engine_for(BIN, "deliver") else {
        return;
    };
    let attacker = quiet_host(&root.0, &engine, "web2", "pw-two");
    let out = attacker.client(&["ban", "t", "192.0.2.77"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_for(SOON, || attacker.fleet()["outbox"] == 0));
    let consumer = serde_json::json!({
        "stream_name": "KV_ferroban",
        "config": {
            "deliver_subject": "$KV.ferroban.web1.t.192_0_2_77",
            "filter_subject": "$KV.ferroban.web2.>",
            "deliver_policy": "all", "ack_policy": "none", "replay_policy": "instant"
        }
    })
    .to_string();
    let frame = format!(
        "PUB $JS.API.CONSUMER.CREATE.KV_ferroban _INBOX_web2.made {}\r\n{consumer}\r\n",
        consumer.len()
    );
    // (nats-server 2.9 refuses it: "consumer deliver subject forms a cycle")
    raw_frames(engine.port, ("web2", "pw-two"), &frame);
    std::thread::sleep(Duration::from_secs(1));
    let late = quiet_host(&root.0, &engine, "web3", "pw-three");
    assert!(
        wait_for(SOON, || late.banned_count() >= 1),
        "{}",
        late.fleet()
    );
    let hosts = late.fleet()["hosts"].to_string();
    assert!(
        !hosts.contains("web1"),
        "a ban stored under web1's name: {hosts}"
    );
}

/// A bucket made allowing rollups or with a limit that drops bans (by an older
/// ferroban, or by a member after the engine lost its storage) is reported on every
/// host, with how to make it anew.
#[test]
fn a_bucket_that_lets_bans_vanish_is_reported() {
    let Some((root, engine)) = engine_for(BIN, "rollup-bucket") else {
        return;
    };
    // as a member could make them after the engine lost its storage
    let limits = serde_json::json!({
        "allow_rollup_hdrs": true, "storage": "file", "discard": "old", "num_replicas": 1,
        "max_msgs": 3, "max_bytes": -1, "max_age": 0, "max_msg_size": -1,
        "retention": "limits"
    });
    let create = |name: &str, subjects: &str, extra: Value| {
        let mut config = limits.clone();
        config["name"] = name.into();
        config["subjects"] = serde_json::json!([subjects]);
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        let config = config.to_string();
        let frame = format!(
            "PUB $JS.API.STREAM.CREATE.{name} _INBOX_web1.made {}\r\n{config}\r\n",
            config.len()
        );
        raw_frames(engine.port, ("web1", "pw-one"), &frame);
    };
    create(
        "KV_ferroban",
        "$KV.ferroban.>",
        serde_json::json!({"max_msgs_per_subject": 1, "deny_delete": true, "allow_direct": true}),
    );
    create(
        "ferroban_failures",
        "ferroban.fail.>",
        serde_json::json!({}),
    );
    let host = &connected_hosts(&root.0, &engine, &LOGINS[..1], "")[0];
    assert!(host.fleet()["last_error"].is_string(), "{}", host.fleet());
    let log = host.log();
    for said in [
        "bucket ferroban was made allowing rollups",
        "with max_msgs 3 (by ferroban before",
        "remove the stream directory KV_ferroban under",
        "stream ferroban_failures was made allowing rollups",
        "remove the stream directory ferroban_failures under",
    ] {
        assert!(log.contains(said), "{said}: {log}");
    }
}

#[test]
fn bad_input_is_counted_by_reason_and_logged_once_per_origin() {
    let Some((root, engine)) = engine_for(BIN, "junk") else {
        return;
    };
    let mut observer = Host::new(BIN, &root.0, &engine, &HostSpec::honest("web3", "pw-three"));
    observer.start();
    observer.wait_connected();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let ban = |jail: &str, ip: &str, end: f64| {
        format!(
            r#"{{"origin":"web2","jail":"{jail}","ip":"{ip}","start":{now},"end":{end},"op":"ban"}}"#
        )
    };
    // web2's own login may write under its own name: what it writes is checked.
    let junk = [
        ("web2.t.192_0_2_41", "not json".to_string()),
        ("web2.t.999_1_1_1", ban("t", "999.1.1.1", now + 600.0)),
        ("web2.t.192_0_2_42", ban("t", "192.0.2.42", now - 600.0)),
        ("web2.t.192_0_2_43", ban("t", "192.0.2.43", now + 1e10)),
        (
            "web2.t.192_0_2_44",
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(2000)),
        ),
        (
            "web2.nosuch.192_0_2_45",
            ban("nosuch", "192.0.2.45", now + 600.0),
        ),
    ];
    for (key, value) in &junk {
        let answer = raw_publish(
            engine.port,
            ("web2", "pw-two"),
            &format!("$KV.ferroban.{key}"),
            value,
        );
        assert!(!answer.contains("-ERR"), "{key}: {answer}");
    }
    let refused = |reason: &str| observer.fleet()["refused"][reason].as_u64().unwrap_or(0);
    for reason in [
        "malformed",
        "bad_address",
        "expired",
        "far_future",
        "oversized",
        "unknown_jail",
    ] {
        assert!(
            wait_for(SOON, || refused(reason) == 1),
            "{reason}: {}\n{}",
            observer.fleet(),
            observer.log()
        );
    }
    assert!(observer.client(&["ping"]).status.success());
    let log = observer.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("fleet: refused") && l.contains("\"web2\""))
        .count();
    assert_eq!(lines, 1, "one line a minute per origin: {log}");
    assert_eq!(observer.banned_count(), 0, "{log}");
}

#[test]
fn in_a_network_namespace_a_ban_reaches_every_hosts_kernel_set() {
    if nats_server_missing() {
        return;
    }
    if !is_root() || !have("ip") || !have("nft") {
        eprintln!("SKIPPED: kernel sets in a network namespace need root, ip and nft");
        return;
    }
    let ns = match Netns::new("ferroban-fleet-kernel-") {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED: cannot create a network namespace: {why}");
            return;
        }
    };
    let root = Scratch::new("ferroban-fleet-kernel");
    let engine = Engine::start(BIN, &root.0.join("engine"), &LOGINS, Some(&ns.name));
    // The addresses in nftables set `set` of table `table` in the namespace.
    let set_elements = |table: &str, set: &str| {
        let out = ns
            .command("nft")
            .args(["list", "set", "inet", table, set])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let actions: Vec<String> = LOGINS
        .iter()
        .map(|(name, _)| format!("nftables[table=f2b-{name}, port=\"22\"]"))
        .collect();
    let specs = LOGINS
        .iter()
        .zip(&actions)
        .map(|((name, password), action)| HostSpec {
            action,
            ..HostSpec::honest(name, password)
        });
    let hosts = connected(&root.0, &engine, specs);
    hosts[0].fail("192.0.2.77", 3);
    for (name, _) in LOGINS {
        let table = format!("f2b-{name}");
        assert!(
            wait_for(SOON, || set_elements(&table, "addr-set-t")
                .contains("192.0.2.77")),
            "not in {table}: {}\n{}",
            set_elements(&table, "addr-set-t"),
            hosts[2].log()
        );
    }
    drop(hosts);
    drop(engine);
}

/// A publication the engine refuses while the host stays connected (its login
/// may not write its own keys, an administrator's mistake) stays in the outbox,
/// is counted, and is sent again by the housekeeping (once a minute) after the
/// engine's authorization is mended: the other hosts then apply the ban.
#[test]
fn a_refused_publication_stays_in_the_outbox_and_is_sent_again_once_allowed() {
    let Some((root, engine)) = engine_for(BIN, "resend") else {
        return;
    };
    let own_keys = "\"$KV.ferroban.web1.>\", ";
    engine.change_authorization(|auth| {
        assert!(auth.contains(own_keys), "{auth}");
        auth.replacen(own_keys, "", 1)
    });
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..2], "");
    hosts[0].fail("192.0.2.30", 3);
    // the engine gives no acknowledgement: the publication times out (10 s)
    assert!(
        wait_for(SOON + 10, || hosts[0].fleet()["unconfirmed"].as_u64()
            >= Some(1)),
        "{}",
        hosts[0].fleet()
    );
    let fleet = hosts[0].fleet();
    // This host's own publications are not refusals of what it received, and
    // what the engine did not confirm is not published.
    assert_eq!(fleet["refused"], serde_json::json!({}), "{fleet}");
    assert_eq!(fleet["published"], 0, "{fleet}");
    assert_eq!(
        hosts[0].bans_of("192.0.2.30"),
        1,
        "banned locally all the same"
    );
    assert_eq!(fleet["outbox"], 1, "kept for later: {fleet}");
    assert_eq!(fleet["connected"], Value::Bool(true), "{fleet}");
    assert_eq!(hosts[1].bans_of("192.0.2.30"), 0, "{}", hosts[1].log());

    engine.change_authorization(|auth| {
        auth.replacen(
            "publish: { allow: [",
            &format!("publish: {{ allow: [{own_keys}"),
            1,
        )
    });
    // the housekeeping runs once a minute
    assert!(
        wait_for(90, || hosts[1].bans_of("192.0.2.30") == 1),
        "sent again: {}, {}",
        hosts[0].fleet(),
        hosts[0].log()
    );
    assert!(
        wait_for(SOON, || hosts[0].fleet()["outbox"] == 0),
        "{}",
        hosts[0].fleet()
    );
    for h in &mut hosts {
        h.stop();
    }
}

/// A compromised member floods the failures' stream under its own login: more
/// addresses than a receiver's counter ever held, dated years ahead (which would
/// never expire) and dated now (beyond its share of the counter). The receivers
/// refuse the first, count the second only up to the member's share, say so, and
/// a spread attack from the other members is still banned everywhere.
#[test]
fn a_member_flooding_the_failures_cannot_switch_off_fleet_counting() {
    let Some((root, engine)) = engine_for(BIN, "flood") else {
        return;
    };
    let honest = [LOGINS[0], LOGINS[2]];
    let hosts = connected_hosts(&root.0, &engine, &honest, "fleetmaxretry = 4");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let failure = |i: u32, time: f64| {
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        (
            "ferroban.fail.web2.t".to_string(),
            format!(r#"{{"origin":"web2","jail":"t","ip":"{ip}","time":{time}}}"#),
        )
    };
    // 100,001 addresses filled the old counter for good (half of them dated
    // years ahead, half minutes beyond the tolerated skew); then 10,000 more
    // than the member's share, dated now.
    let ahead = 100_001u32;
    let over_share = 10_000u32;
    let share = u32::try_from(ORIGIN_SHARE).unwrap();
    let mut flood: Vec<(String, String)> = (0..ahead)
        .map(|i| match i % 2 {
            0 => failure(i, now + 9.0 * 365.0 * 86_400.0),
            _ => failure(i, now + MAX_SKEW + 600.0),
        })
        .collect();
    flood.extend((0..share + over_share).map(|i| failure(i + (1 << 20), now)));
    let answer = raw_flood(engine.port, ("web2", "pw-two"), &flood);
    assert!(
        answer.contains("PONG") && !answer.contains("-ERR"),
        "{answer}"
    );
    let refused = |h: &Host, reason: &str| h.fleet()["refused"][reason].as_u64().unwrap_or(0);
    for h in &hosts {
        assert!(
            wait_for(120, || refused(h, "ahead_of_clock") == u64::from(ahead)
                && refused(h, "counter_full") == u64::from(over_share)),
            "the flood was not refused as it should: {}\n{}",
            h.fleet(),
            h.log()
        );
        // Said once a minute: once, unless the flood took over a minute here.
        let log = h.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARNING") && l.contains("the fleet counter is full for web2"))
            .collect();
        assert!(!lines.is_empty(), "said: {log}");
        // whole phrases, across the message's wrapped source lines
        for line in &lines {
            assert!(line.contains("failures held, its share is"), "{line}");
            let message = line
                .split_once("WARNING")
                .map_or("", |(_, m)| m.trim_start());
            assert!(!message.contains("  "), "no run of spaces: {line}");
        }
        let warnings: Vec<jiff::civil::DateTime> = lines
            .iter()
            .map(|l| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &l[..19]).unwrap())
            .collect();
        // (the log's times are whole seconds, taken a moment after the decision)
        for pair in warnings.windows(2) {
            assert!(
                pair[1].duration_since(pair[0]).as_secs() >= 59,
                "said once a minute at most: {log}"
            );
        }
        let text = String::from_utf8_lossy(&h.client(&["fleet"]).stdout).to_string();
        assert!(
            text.contains(&format!("ahead_of_clock {ahead}"))
                && text.contains(&format!("counter_full {over_share}")),
            "{text}"
        );
    }
    // The spread attack of the finding, 2 + 2 = fleetmaxretry 4.
    hosts[0].fail("198.51.100.50", 2);
    hosts[1].fail("198.51.100.50", 2);
    for h in &hosts {
        assert!(
            wait_for(SOON, || h.bans_of("198.51.100.50") == 1),
            "the spread attack was not banned after the flood: {}\n{}",
            h.fleet(),
            h.log()
        );
        assert!(
            h.log()
                .contains("198.51.100.50 reached fleetmaxretry 4 across the fleet")
                || h.log().contains("Ban 198.51.100.50"),
            "{}",
            h.log()
        );
    }
    assert_eq!(hosts[0].banned_count(), 1, "nothing of the flood is banned");
}

// Before, an admin's `unban` of a ban received from the fleet lasted until the next
// connection to the engine (or restart), which sends every ban in force again: the
// ban came back, and nothing said the admin had lifted it.
#[test]
fn a_received_ban_lifted_here_by_hand_stays_lifted_until_the_origin_bans_anew() {
    let Some((root, engine)) = engine_for(BIN, "liftedhere") else {
        return;
    };
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..2], "");
    let ip = "192.0.2.61";
    assert!(hosts[0].client(&["ban", "t", ip]).status.success());
    assert!(
        wait_for(SOON, || hosts[1].bans_of(ip) == 1),
        "{}",
        hosts[1].log()
    );
    let lifted = hosts[1].client(&["unban", "t", ip]);
    assert_eq!(String::from_utf8_lossy(&lifted.stdout).trim(), "1");
    // Restarted, the host hears the ban again from the engine: it stays lifted.
    hosts[1].stop();
    hosts[1].start();
    hosts[1].wait_connected();
    let refused = |h: &Host| h.fleet()["refused"]["lifted_here"].as_u64().unwrap_or(0);
    assert!(
        wait_for(SOON, || refused(&hosts[1]) >= 1),
        "{}\n{}",
        hosts[1].fleet(),
        hosts[1].log()
    );
    assert_eq!(
        hosts[1].bans_of(ip),
        1,
        "not banned again: {}",
        hosts[1].actions()
    );
    assert!(
        hosts[1]
            .log()
            .contains(&format!("[t] {ip} from web1 was lifted here by hand")),
        "{}",
        hosts[1].log()
    );
    // The origin lifts its ban and bans again (a new offence): applied here.
    assert!(hosts[0].client(&["unban", "t", ip]).status.success());
    std::thread::sleep(Duration::from_millis(1100));
    assert!(hosts[0].client(&["ban", "t", ip]).status.success());
    assert!(
        wait_for(SOON, || hosts[1].bans_of(ip) == 2),
        "{}\n{}",
        hosts[1].actions(),
        hosts[1].log()
    );
}

// Before, a fleet ban lifted by hand came back when a counting host restarted
// within findtime: it read the failures' stream back and counted again the
// failures the first ban had taken. A ban takes the failures before it, as a
// jail's own tracker forgets them.
#[test]
fn a_fleet_ban_lifted_by_hand_stays_lifted_when_a_host_restarts_within_findtime() {
    let Some((root, engine)) = engine_for(BIN, "consumed") else {
        return;
    };
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..2], "fleetmaxretry = 4");
    let ip = "198.51.100.77";
    hosts[0].fail(ip, 2);
    hosts[1].fail(ip, 2);
    for h in &hosts {
        assert!(
            wait_for(SOON, || h.bans_of(ip) == 1),
            "2 + 2 did not ban: {}\n{}",
            h.actions(),
            h.log()
        );
    }
    for h in &hosts {
        assert!(h.client(&["unban", "t", ip]).status.success());
        assert!(wait_for(SOON, || h.unbans_of(ip) == 1), "{}", h.actions());
    }
    hosts[1].stop();
    hosts[1].start();
    hosts[1].wait_connected();
    let consumed = |h: &Host| h.fleet()["refused"]["consumed"].as_u64().unwrap_or(0);
    assert!(
        wait_for(SOON, || consumed(&hosts[1]) >= 2),
        "the failures read back were not refused: {}\n{}",
        hosts[1].fleet(),
        hosts[1].log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        hosts[1].bans_of(ip),
        1,
        "banned again after the restart: {}\n{}",
        hosts[1].actions(),
        hosts[1].log()
    );
    // New failures after the lift count again: 2 + 2 bans anew.
    hosts[0].fail(ip, 2);
    hosts[1].fail(ip, 2);
    assert!(
        wait_for(SOON, || hosts[1].bans_of(ip) == 2),
        "new failures did not ban: {}\n{}",
        hosts[1].actions(),
        hosts[1].log()
    );
    assert!(
        !hosts[1].log().contains("another host publishes"),
        "{}",
        hosts[1].log()
    );
}

/// A password rotated on the engine before the host has it: the session ends, and
/// the log says the login is refused (not only that the engine went away); the
/// new password on the host, reloaded, brings it back.
#[test]
fn a_password_rotated_on_the_engine_first_is_said_to_refuse_the_login() {
    let Some((root, engine)) = engine_for(BIN, "rotate") else {
        return;
    };
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..1], "");
    let rotated = Command::new(BIN)
        .args([
            "fleet",
            "nats-config",
            "web1=pw-one-rotated",
            "web2=pw-two",
            "web3=pw-three",
        ])
        .output()
        .unwrap();
    assert!(rotated.status.success());
    engine.change_authorization(|_| String::from_utf8_lossy(&rotated.stdout).into_owned());
    let said = "WARNING fleet: the engine refused user \"web1\"'s login (authorization violation)";
    assert!(
        wait_for(SOON + 10, || hosts[0].log().contains(said)),
        "{}",
        hosts[0].log()
    );
    let conf = hosts[0].dir.join("conf/ferroban.local");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("password = pw-one", "password = pw-one-rotated"),
    )
    .unwrap();
    assert!(hosts[0].client(&["reload"]).status.success());
    hosts[0].wait_connected();
    // The last error is kept across the reload of [Fleet], as across reconnections:
    // `null` only when there was none since the server started.
    let fleet = hosts[0].fleet();
    assert!(
        fleet["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused user \"web1\"'s login")),
        "{fleet}"
    );
    for h in &mut hosts {
        h.stop();
    }
}

/// Two hosts given one `[Fleet] name` (a cloned configuration) skip each other's
/// bans as their own: the one running first says so, in its log and in `fleet`,
/// once its twin publishes; a host's own restart is no twin.
#[test]
fn two_hosts_with_one_name_are_told_apart_and_reported() {
    let Some((root, engine)) = engine_for(BIN, "twins") else {
        return;
    };
    let (name, password) = LOGINS[0];
    let spec = HostSpec::honest(name, password);
    let mut first = Host::new(BIN, &root.0.join("first"), &engine, &spec);
    first.start();
    first.wait_connected();
    assert!(first.client(&["ban", "t", "192.0.2.10"]).status.success());
    first.stop();
    let started = std::time::Instant::now();
    first.start();
    first.wait_connected();
    // Only what the engine stores 10 s after a process started can be a twin's
    // (TWIN_MARGIN in crates/ferroban-fleet/src/link.rs).
    std::thread::sleep(Duration::from_secs(11).saturating_sub(started.elapsed()));
    assert!(first.client(&["ban", "t", "192.0.2.11"]).status.success());
    let mut twin = Host::new(BIN, &root.0.join("twin"), &engine, &spec);
    twin.start();
    twin.wait_connected();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !first.log().contains("another host publishes"),
        "its own restart taken for a twin: {}",
        first.log()
    );
    assert!(twin.client(&["ban", "t", "192.0.2.12"]).status.success());
    let said = "another host publishes as \"web1\": two hosts have [Fleet] name = web1";
    assert!(
        wait_for(SOON, || first.log().contains(said)),
        "{}",
        first.log()
    );
    let last_error = first.fleet()["last_error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(last_error.starts_with(&said[..30]), "{last_error}");
    // `ferroban fleet` says so while connected too, where it shows no last error.
    let text = String::from_utf8_lossy(&first.client(&["fleet"]).stdout).into_owned();
    assert!(
        text.contains("connected to") && text.contains("|- Twin ("),
        "{text}"
    );
    assert!(
        text.contains("another host publishes as \"web1\""),
        "{text}"
    );
    // The same bans are not what the fleet is for: the twin's ban stays out.
    assert_eq!(first.bans_of("192.0.2.12"), 0, "{}", first.actions());
    assert!(twin.client(&["ban", "t", "192.0.2.13"]).status.success());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        first.log().matches(said).count(),
        1,
        "said once: {}",
        first.log()
    );
}

// Before, when both hosts had counted an address to fleetmaxretry, an unban on one
// lasted until it restarted: the other host's ban, which had arrived while this one
// held its own (and so was not applied), came back with the engine's replay.
#[test]
fn an_own_fleet_ban_lifted_here_keeps_the_others_older_bans_out_after_a_restart() {
    let Some((root, engine)) = engine_for(BIN, "liftedown") else {
        return;
    };
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..2], "fleetmaxretry = 4");
    let ip = "198.51.100.78";
    hosts[0].fail(ip, 2);
    hosts[1].fail(ip, 2);
    for h in &hosts {
        assert!(
            wait_for(SOON, || h.bans_of(ip) == 1),
            "2 + 2 did not ban: {}\n{}",
            h.actions(),
            h.log()
        );
    }
    // Lifted on one host only; the other keeps its own ban.
    assert!(hosts[1].client(&["unban", "t", ip]).status.success());
    assert!(wait_for(SOON, || hosts[1].unbans_of(ip) == 1));
    hosts[1].stop();
    hosts[1].start();
    hosts[1].wait_connected();
    let refused = |h: &Host| h.fleet()["refused"]["lifted_here"].as_u64().unwrap_or(0);
    assert!(
        wait_for(SOON, || refused(&hosts[1]) >= 1),
        "web1's ban, replayed, was not refused: {}\n{}",
        hosts[1].fleet(),
        hosts[1].log()
    );
    assert_eq!(
        hosts[1].bans_of(ip),
        1,
        "banned again after the restart: {}\n{}",
        hosts[1].actions(),
        hosts[1].log()
    );
    assert_eq!(hosts[0].unbans_of(ip), 0, "{}", hosts[0].actions());
    // A new ban by the other host (a new offence) is applied here.
    assert!(hosts[0].client(&["unban", "t", ip]).status.success());
    std::thread::sleep(Duration::from_millis(1100));
    assert!(hosts[0].client(&["ban", "t", ip]).status.success());
    assert!(
        wait_for(SOON, || hosts[1].bans_of(ip) == 2),
        "{}\n{}",
        hosts[1].actions(),
        hosts[1].log()
    );
}

// The engine sends every ban in force again on each reconnection, not only at a
// host's start: bans lifted here with `unban --all` stay lifted through one.
#[test]
fn received_bans_lifted_with_unban_all_stay_lifted_when_the_engine_returns() {
    let Some((root, mut engine)) = engine_for(BIN, "liftedall") else {
        return;
    };
    let hosts = connected_hosts(&root.0, &engine, &LOGINS[..2], "");
    let ips = ["192.0.2.71", "192.0.2.72"];
    for ip in ips {
        assert!(hosts[0].client(&["ban", "t", ip]).status.success());
    }
    assert!(
        wait_for(SOON, || ips.iter().all(|ip| hosts[1].bans_of(ip) == 1)),
        "{}",
        hosts[1].log()
    );
    let lifted = hosts[1].client(&["unban", "--all"]);
    assert_eq!(String::from_utf8_lossy(&lifted.stdout).trim(), "2");
    engine.kill();
    assert!(wait_for(SOON, || hosts[1].fleet()["connected"] == false));
    engine.run();
    hosts[1].wait_connected();
    let refused = |h: &Host| h.fleet()["refused"]["lifted_here"].as_u64().unwrap_or(0);
    assert!(
        wait_for(SOON, || refused(&hosts[1]) >= 2),
        "{}\n{}",
        hosts[1].fleet(),
        hosts[1].log()
    );
    for ip in ips {
        assert_eq!(
            hosts[1].bans_of(ip),
            1,
            "banned again: {}",
            hosts[1].actions()
        );
        assert_eq!(hosts[0].unbans_of(ip), 0, "the origin keeps its ban");
    }
}

/// Now, in epoch seconds.
fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

// Before, a restart read the failures' stream back and stamped each origin in it
// with the time it was read: a host idle (or dead) since looked active, and the
// members disagreed on when it was last seen.
#[test]
fn a_members_last_seen_is_its_last_activity_also_after_the_other_restarts() {
    let Some((root, engine)) = engine_for(BIN, "lastseen") else {
        return;
    };
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..2], "fleetmaxretry = 4");
    let last_seen = |h: &Host, name: &str| -> Option<f64> {
        let fleet = h.fleet();
        let host = fleet["hosts"]
            .as_array()?
            .iter()
            .find(|x| x["name"] == name)?
            .clone();
        host["last_seen"].as_f64()
    };
    let before = epoch_now();
    // web2's only activity: one failure, published for fleet counting (below
    // every limit: no ban anywhere).
    hosts[1].fail("198.51.100.90", 1);
    assert!(
        wait_for(SOON, || last_seen(&hosts[0], "web2").is_some()),
        "web1 did not hear of web2: {}\n{}",
        hosts[0].fleet(),
        hosts[1].log()
    );
    let active = last_seen(&hosts[0], "web2").unwrap_or(f64::NAN);
    assert!(
        before - 1.0 <= active && active <= epoch_now(),
        "{active} not between {before} and now"
    );
    std::thread::sleep(Duration::from_secs(2));
    let restart = epoch_now();
    hosts[0].stop();
    hosts[0].start();
    hosts[0].wait_connected();
    // web1 reads web2's failure back from the stream (within findtime) ...
    assert!(
        wait_for(SOON, || hosts[0].fleet()["failures_received"].as_u64()
            >= Some(1)),
        "{}\n{}",
        hosts[0].fleet(),
        hosts[0].log()
    );
    // ... and web2 is last seen when it failed, not when web1 read it again.
    let seen = last_seen(&hosts[0], "web2");
    assert!(
        seen.is_some_and(|t| (t - active).abs() < 0.5 && t < restart),
        "web2 last seen {seen:?} after web1's restart at {restart}; it was active at {active}: {}",
        hosts[0].fleet()
    );
    assert_eq!(
        hosts[0].bans_of("198.51.100.90"),
        0,
        "{}",
        hosts[0].actions()
    );
}

// Before, a request the engine refused (here: a bucket the authorization block
// was not made for) only timed out after 10 s and was logged as the engine being
// unreachable.
#[test]
fn a_publication_the_engine_refuses_is_said_to_be_refused_at_once() {
    let Some((root, engine)) = engine_for(BIN, "otherbucket") else {
        return;
    };
    let mut host = Host::new(BIN, &root.0, &engine, &HostSpec::honest("web1", "pw-one"));
    let local = host.dir.join("conf/ferroban.local");
    let text = std::fs::read_to_string(&local).unwrap();
    std::fs::write(&local, text + "bucket = other\n").unwrap();
    host.start();
    let why = |h: &Host| h.fleet()["last_error"].as_str().unwrap_or("").to_string();
    assert!(
        wait_for(5, || why(&host).starts_with(
            "the engine refused a publication of this host: Permissions Violation for Publish \
             to \"$JS.API.STREAM.INFO.KV_other\"; check that [Fleet] bucket = other is the \
             bucket the engine's authorization block was made for"
        )),
        "{}\n{}",
        host.fleet(),
        host.log()
    );
    assert!(
        host.log()
            .contains("WARNING fleet: the engine refused a publication of this host: "),
        "{}",
        host.log()
    );
    assert!(!host.log().contains("engine unreachable"), "{}", host.log());
    // name and user are both web1: the hint that they may differ would mislead
    assert!(
        !why(&host).contains("probably does not match"),
        "{}",
        why(&host)
    );
    assert_eq!(host.fleet()["connected"], Value::Bool(false));
}

/// A private CA made as docs/fleet.md makes it (openssl), with the engine's
/// certificate for 127.0.0.1 and a client certificate for each of `clients`;
/// `None` (SKIPPED) without openssl.
fn fleet_ca(dir: &Path, clients: &[&str]) -> Option<()> {
    if !have("openssl") {
        eprintln!("SKIPPED: openssl is not installed (apt-get install openssl)");
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-sha256",
        "-days",
        "3650",
        "-nodes",
        "-keyout",
        "fleet-ca.key",
        "-out",
        "fleet-ca.pem",
        "-subj",
        "/CN=ferroban fleet CA",
    ]);
    let signed = |name: &str, subject: &str, ext: &str| {
        let (key, csr, pem, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extfile), ext).unwrap();
        openssl(&[
            "req", "-newkey", "rsa:2048", "-sha256", "-nodes", "-keyout", &key, "-out", &csr,
            "-subj", subject,
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "fleet-ca.pem",
            "-CAkey",
            "fleet-ca.key",
            "-CAcreateserial",
            "-days",
            "825",
            "-sha256",
            "-extfile",
            &extfile,
            "-out",
            &pem,
        ]);
    };
    signed(
        "server",
        "/CN=engine.example",
        "subjectAltName = DNS:engine.example, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
    );
    for client in clients {
        signed(
            client,
            &format!("/CN={client}"),
            "extendedKeyUsage = clientAuth\n",
        );
    }
    Some(())
}

/// The fleet over TLS, set up as docs/fleet.md says: hosts that trust the
/// engine's CA share bans; a host without `tls_ca` is told to set it, and one
/// that reaches the engine at a name its certificate does not hold is told so.
#[test]
fn over_tls_hosts_that_trust_the_engines_ca_share_bans_and_the_others_are_told_why_not() {
    if nats_server_missing() {
        return;
    }
    let root = Scratch::new("ferroban-fleet-tls");
    let pki = root.0.join("pki");
    if fleet_ca(&pki, &[]).is_none() {
        return;
    }
    let tls = format!(
        "cert_file: {:?}, key_file: {:?}",
        pki.join("server.pem").display().to_string(),
        pki.join("server.key").display().to_string()
    );
    let engine = Engine::start_with_tls(BIN, &root.0.join("engine"), &LOGINS, None, Some(&tls));
    let trusting = format!("tls_ca = {}", pki.join("fleet-ca.pem").display());
    let specs = LOGINS[..2].iter().map(|(name, password)| HostSpec {
        fleet: &trusting,
        ..HostSpec::honest(name, password)
    });
    let mut hosts = connected(&root.0, &engine, specs);
    let status = String::from_utf8_lossy(&hosts[0].client(&["fleet"]).stdout).into_owned();
    assert!(
        status.contains(&format!(
            "connected to tls://127.0.0.1:{} as web1",
            engine.port
        )),
        "{status}"
    );
    hosts[0].fail("192.0.2.40", 3);
    assert!(
        wait_for(SOON, || hosts[1].bans_of("192.0.2.40") == 1),
        "ban did not arrive over TLS: {}\n{}",
        hosts[1].actions(),
        hosts[1].log()
    );
    // web3 without tls_ca: the engine's CA is no public one.
    let (name, password) = LOGINS[2];
    let mut untrusting = Host::new(BIN, &root.0, &engine, &HostSpec::honest(name, password));
    untrusting.start();
    let said = "this host does not trust the engine's certificate";
    assert!(
        wait_for(SOON, || untrusting.log().contains(said)),
        "{}",
        untrusting.log()
    );
    let fleet = untrusting.fleet();
    assert_eq!(fleet["connected"], Value::Bool(false), "{fleet}");
    assert!(
        fleet["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(said) && e.contains("set tls_ca in [Fleet]")),
        "{fleet}"
    );
    untrusting.stop();
    // web3 trusting the CA but reaching the engine as `localhost`, a name the
    // certificate does not hold.
    let conf = untrusting.dir.join("conf/ferroban.local");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("tls://127.0.0.1:", "tls://localhost:") + &trusting + "\n",
    )
    .unwrap();
    untrusting.start();
    let said = "the engine's certificate does not name the host this host reached it at";
    assert!(
        wait_for(SOON, || untrusting.log().contains(said)),
        "{}",
        untrusting.log()
    );
    untrusting.stop();
    for h in &mut hosts {
        h.stop();
    }
}

/// An engine that asks every client for a certificate signed by the fleet's CA
/// (`verify: true`): a host with `tls_cert` and `tls_key` joins; one without, or
/// with another CA's certificate, is refused, and its status and log say why.
#[test]
fn an_engine_that_verifies_clients_takes_hosts_with_a_certificate_of_its_ca() {
    if nats_server_missing() {
        return;
    }
    let root = Scratch::new("ferroban-fleet-mtls");
    let pki = root.0.join("pki");
    if fleet_ca(&pki, &["web1", "web2"]).is_none() {
        return;
    }
    let file = |name: &str| pki.join(name).display().to_string();
    let tls = format!(
        "cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true",
        file("server.pem"),
        file("server.key"),
        file("fleet-ca.pem")
    );
    let engine = Engine::start_with_tls(BIN, &root.0.join("engine"), &LOGINS, None, Some(&tls));
    let with_cert = |name: &str| {
        format!(
            "tls_ca = {}\ntls_cert = {}\ntls_key = {}",
            file("fleet-ca.pem"),
            file(&format!("{name}.pem")),
            file(&format!("{name}.key"))
        )
    };
    let fleet_lines = [with_cert("web1"), with_cert("web2")];
    let specs = LOGINS[..2]
        .iter()
        .zip(&fleet_lines)
        .map(|((name, password), fleet)| HostSpec {
            fleet,
            ..HostSpec::honest(name, password)
        });
    let mut hosts = connected(&root.0, &engine, specs);
    hosts[1].fail("192.0.2.41", 3);
    assert!(
        wait_for(SOON, || hosts[0].bans_of("192.0.2.41") == 1),
        "ban did not arrive: {}\n{}",
        hosts[0].actions(),
        hosts[0].log()
    );
    let (name, password) = LOGINS[2];
    let ca_only = format!("tls_ca = {}", file("fleet-ca.pem"));
    let spec = HostSpec {
        fleet: &ca_only,
        ..HostSpec::honest(name, password)
    };
    let mut without = Host::new(BIN, &root.0, &engine, &spec);
    without.start();
    assert!(
        wait_for(SOON, || without.fleet()["last_error"].is_string()),
        "{}",
        without.log()
    );
    let fleet = without.fleet();
    assert_eq!(fleet["connected"], Value::Bool(false), "{fleet}");
    let said = "the engine asks for a client certificate and this host has none";
    assert!(
        fleet["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(said) && e.contains("set tls_cert and tls_key")),
        "{fleet}"
    );
    without.stop();
    // A client certificate of another CA.
    let other = root.0.join("other-pki");
    fleet_ca(&other, &["web3"]).unwrap();
    let conf = without.dir.join("conf/ferroban.local");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        format!(
            "{text}tls_cert = {}\ntls_key = {}\n",
            other.join("web3.pem").display(),
            other.join("web3.key").display()
        ),
    )
    .unwrap();
    without.start();
    assert!(
        wait_for(SOON, || without.fleet()["last_error"].is_string()),
        "{}",
        without.log()
    );
    let said = format!(
        "the engine refused this host's client certificate, [Fleet] tls_cert = {}",
        other.join("web3.pem").display()
    );
    assert!(
        wait_for(SOON, || without.log().contains(&said)),
        "{}",
        without.log()
    );
    assert_eq!(without.fleet()["connected"], Value::Bool(false));
    without.stop();
    for h in &mut hosts {
        h.stop();
    }
}

/// `fleet nats-config`'s bucket: `--bucket NAME` or `--bucket=NAME`, else the
/// configuration's; a misspelt option, a `--bucket` with no name and a `[Fleet]`
/// that does not load are refused, where before the first became a host named
/// `--bucket` and the others made the block for the default bucket.
#[test]
fn nats_config_takes_its_bucket_as_given_or_configured_and_refuses_the_rest() {
    let root = Scratch::new("ferroban-natsconfig");
    let conf = root.0.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(BIN)
            .arg("-c")
            .arg(&conf)
            .args(["fleet", "nats-config"])
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        (o.status.code(), stdout, stderr)
    };
    for args in [
        &["--bucket", "prod", "web1=pw"][..],
        &["--bucket=prod", "web1=pw"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(out.contains("\"$KV.prod.web1.>\""), "{args:?}: {out}");
        assert!(!out.contains("--bucket"), "{args:?}: {out}");
    }
    let (code, _, err) = run(&["web1=pw", "--bucket"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--bucket needs the bucket's name"), "{err}");
    let (code, _, err) = run(&["--buckt", "prod", "web1=pw"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown option \"--buckt\""), "{err}");
    std::fs::write(
        conf.join("ferroban.local"),
        "[Fleet]\nurl = nats://127.0.0.1:4222\nbucket = staging\n",
    )
    .unwrap();
    let (code, out, err) = run(&["web1=pw"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"$KV.staging.web1.>\""), "{out}");
    std::fs::write(conf.join("ferroban.local"), "[Fleet]\nbucket = staging\n").unwrap();
    let (code, out, err) = run(&["web1=pw"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains("does not load (mend it, or give --bucket)")
            && err.contains("ferroban.local:2")
            && err.contains("[Fleet] has no url"),
        "{err}"
    );
    let (code, out, _) = run(&["--bucket", "prod", "web1=pw"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"$KV.prod.web1.>\""), "{out}");
}

/// A jail that publishes its failures but counts none (`fleet = publish` with
/// `fleetmaxretry`): those made while the engine was away are published once it
/// returns (before, only the failures of jails that count were kept, so these
/// were dropped); the host reads no failure back, so refuses none (before, it
/// refused its own, in its name); and a reload that gives a jail `fleetmaxretry`
/// starts reading the fleet's failures (before, the link kept its first window).
#[test]
fn a_publishing_jails_failures_are_kept_through_an_outage_and_not_read_back() {
    let Some((root, mut engine)) = engine_for(BIN, "publish-failures") else {
        return;
    };
    let mut hosts = connected_hosts(&root.0, &engine, &LOGINS[..1], "fleetmaxretry = 4");
    let mut spec = HostSpec::honest(LOGINS[1].0, LOGINS[1].1);
    spec.jail = "fleet = publish\nfleetmaxretry = 4";
    let mut publisher = Host::new(BIN, &root.0, &engine, &spec);
    publisher.start();
    publisher.wait_connected();
    engine.kill();
    assert!(wait_for(SOON, || publisher.fleet()["connected"] == false));
    publisher.fail("198.51.100.20", 2);
    assert!(
        wait_for(SOON, || publisher
            .log()
            .matches("Found 198.51.100.20")
            .count()
            == 2),
        "{}",
        publisher.log()
    );
    engine.run();
    publisher.wait_connected();
    hosts[0].wait_connected();
    hosts[0].fail("198.51.100.20", 2);
    assert!(
        wait_for(SOON, || hosts[0].bans_of("198.51.100.20") == 1),
        "the publishing jail's failures from the outage were not counted: {}\n{}",
        hosts[0].actions(),
        hosts[0].log()
    );
    let fleet = publisher.fleet();
    assert_eq!(fleet["failures_received"], 0, "{fleet}");
    assert_eq!(fleet["failures_refused"], 0, "{fleet}");
    assert_eq!(
        publisher.bans_of("198.51.100.20"),
        0,
        "{}",
        publisher.actions()
    );
    // Now the publisher counts too: a reload switches the reading on.
    let local = publisher.dir.join("conf/jail.local");
    let text = std::fs::read_to_string(&local).unwrap();
    std::fs::write(&local, text.replace("fleet = publish\n", "fleet = share\n")).unwrap();
    assert!(publisher.client(&["reload"]).status.success());
    assert!(
        wait_for(SOON, || {
            publisher.log().contains(
            "fleet: the jails' fleet, fleetmaxretry or findtime changed how far back failures matter"
        )
        }),
        "{}",
        publisher.log()
    );
    publisher.wait_connected();
    hosts[0].fail("198.51.100.21", 2);
    publisher.fail("198.51.100.21", 2);
    assert!(
        wait_for(SOON, || publisher.bans_of("198.51.100.21") == 1),
        "2 + 2 did not ban on the host that counts since its reload: {}\n{}",
        publisher.actions(),
        publisher.log()
    );
    publisher.stop();
    for h in &mut hosts {
        h.stop();
    }
}
