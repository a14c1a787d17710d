//! `[Fleet] credentials` (a NATS `.creds` file: user JWT and NKey seed) against a
//! real nats-server in operator mode. Every JWT is made at test time by the
//! official NATS JWT library (Debian's golang-github-nats-io-jwt-dev, the library
//! nsc and nats-server use), through the small Go program in
//! tests/fixtures/nats-jwt: an operator, a system account, an account with
//! JetStream and its users, each user given the permissions of its entry in the
//! block `ferroban fleet nats-config` prints, as docs/fleet.md tells an
//! administrator to do. The engine and the hosts are tests/common/fleet.rs's.
//! Without nats-server, Go or the library's sources the tests say SKIPPED.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

mod common;
use common::fleet::{nats_server_missing, Engine, Host, HostSpec};
use common::{have, run_with_input, wait_for, Scratch};

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");

/// Seconds within which fleet traffic arrives.
const SOON: u64 = 10;

/// Where Debian's golang-github-nats-io-jwt-dev puts the library's sources (and
/// golang-github-nats-io-nkeys-dev those of nkeys, beside it).
const GOPATH: &str = "/usr/share/gocode";
const JWT_SOURCES: &str = "/usr/share/gocode/src/github.com/nats-io/jwt/v2";
const NKEYS_SOURCES: &str = "/usr/share/gocode/src/github.com/nats-io/nkeys";
const INSTALL: &str =
    "apt-get install golang-go golang-github-nats-io-jwt-dev golang-github-nats-io-nkeys-dev";

/// The JWT maker (tests/fixtures/nats-jwt), built once per test process with the
/// Debian Go toolchain and sources, offline (GOPATH mode, no module proxy);
/// `None` (SKIPPED) when they are not installed.
fn jwt_maker() -> Option<&'static Path> {
    static MAKER: OnceLock<Option<PathBuf>> = OnceLock::new();
    MAKER
        .get_or_init(|| {
            if !have("go") {
                eprintln!("SKIPPED: Go is not installed ({INSTALL})");
                return None;
            }
            for sources in [JWT_SOURCES, NKEYS_SOURCES] {
                if !Path::new(sources).is_dir() {
                    eprintln!("SKIPPED: {sources} is missing ({INSTALL})");
                    return None;
                }
            }
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let maker = tmp.join("nats-jwt");
            let out = Command::new("go")
                .args(["build", "-o"])
                .arg(&maker)
                .arg("main.go")
                .current_dir(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/nats-jwt"
                ))
                .env("GO111MODULE", "off")
                .env("GOPATH", GOPATH)
                .env("GOPROXY", "off")
                .env("GOFLAGS", "")
                .env("GOTOOLCHAIN", "local")
                .env("GOCACHE", tmp.join("nats-jwt-go-cache"))
                .output()
                .expect("run go build");
            assert!(
                out.status.success(),
                "building tests/fixtures/nats-jwt: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(maker)
        })
        .as_deref()
}

/// A user the JWT maker makes: `pub_`/`sub` are its allowed subjects (none:
/// unrestricted); a stranger's JWT is signed by an account of another operator.
struct JwtUser {
    name: &'static str,
    file: &'static str,
    pub_: Vec<String>,
    sub: Vec<String>,
    stranger: bool,
}

/// The publish and subscribe subjects that `ferroban fleet nats-config` allows
/// `host` in `auth_conf` (the block it printed).
fn allowed_subjects(auth_conf: &str, host: &str) -> (Vec<String>, Vec<String>) {
    let list = |line: &str| -> Vec<String> {
        let (Some(open), Some(close)) = (line.find('['), line.rfind(']')) else {
            panic!("no list in {line:?}");
        };
        serde_json::from_str(&line[open..=close]).expect("a list of quoted subjects")
    };
    let user = format!("user: {}", json!(host));
    let entry = auth_conf
        .split_once(&user)
        .unwrap_or_else(|| panic!("no {user} in {auth_conf}"))
        .1;
    let field = |key: &str| {
        entry
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .map(list)
            .unwrap_or_else(|| panic!("no {key} for {host} in {auth_conf}"))
    };
    (field("publish:"), field("subscribe:"))
}

/// A user of `host`'s name with exactly the permissions `ferroban fleet
/// nats-config` gives it, written to `file`.
fn fleet_user(auth_conf: &str, host: &'static str, file: &'static str) -> JwtUser {
    let (pub_, sub) = allowed_subjects(auth_conf, host);
    assert!(
        pub_.iter().any(|s| s.starts_with("$JS.API."))
            && pub_.iter().any(|s| s.starts_with("$KV.")),
        "{pub_:?}"
    );
    JwtUser {
        name: host,
        file,
        pub_,
        sub,
        stranger: false,
    }
}

/// A fleet engine in operator mode: nats-server with JetStream, trusting one
/// operator whose account (JetStream enabled) holds the users `users` makes from
/// the `ferroban fleet nats-config` block for `hosts`; their `.creds` files are in
/// the returned directory. `None` (SKIPPED) when a program is missing.
fn operator_engine(
    tag: &str,
    hosts: &[&str],
    users: impl FnOnce(&str) -> Vec<JwtUser>,
) -> Option<(Scratch, Engine, PathBuf)> {
    if nats_server_missing() {
        return None;
    }
    let maker = jwt_maker()?;
    let root = Scratch::new(&format!("ferroban-fleet-creds-{tag}"));
    // The engine of tests/common, first started as it always is (with the block
    // nats-config prints for `hosts`, whose permissions the JWTs copy), then
    // restarted on the same port in operator mode: its configuration includes
    // auth.conf, which now holds the operator, its accounts and the resolver.
    let logins: Vec<(&str, &str)> = hosts.iter().map(|h| (*h, "unused")).collect();
    let dir = root.0.join("engine");
    let mut engine = Engine::start(BIN, &dir, &logins, None);
    engine.kill();
    let auth = std::fs::read_to_string(dir.join("auth.conf")).expect("auth.conf");
    let spec: Vec<Value> = users(&auth)
        .iter()
        .map(|u| json!({"name": u.name, "file": u.file, "pub": u.pub_, "sub": u.sub, "stranger": u.stranger}))
        .collect();
    let creds = root.0.join("creds");
    std::fs::create_dir_all(&creds).expect("creds dir");
    let out = run_with_input(
        Command::new(maker).arg(&creds),
        &json!({ "users": spec }).to_string(),
    );
    assert!(
        out.status.success(),
        "nats-jwt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let operator = String::from_utf8(out.stdout).expect("UTF-8 configuration");
    assert!(operator.starts_with("operator: ey"), "{operator}");
    std::fs::write(dir.join("auth.conf"), operator).expect("write auth.conf");
    // what JetStream stored in password mode (account $G) has no place here
    engine.wipe_storage();
    engine.run();
    let log = engine.log();
    assert!(
        log.contains("Trusted Operators") && log.contains("ferroban-test"),
        "not in operator mode: {log}"
    );
    Some((root, engine, creds))
}

/// Host `name` (recording its bans) logging in with the `.creds` file `creds`
/// instead of a user and password.
fn creds_host(root: &Path, engine: &Engine, name: &'static str, creds: &Path) -> Host {
    let host = Host::new(BIN, root, engine, &HostSpec::honest(name, "unused"));
    set_credentials(&host, name, None, creds);
    host
}

/// Replace host `name`'s login in its ferroban.local (user and password, or
/// `credentials = old`) with `credentials = creds`.
fn set_credentials(host: &Host, name: &str, old: Option<&Path>, creds: &Path) {
    let local = host.dir.join("conf/ferroban.local");
    let text = std::fs::read_to_string(&local).expect("ferroban.local");
    let login = match old {
        None => format!("user = {name}\npassword = unused\n"),
        Some(old) => format!("credentials = {}\n", old.display()),
    };
    assert!(text.contains(&login), "{text}");
    let changed = text.replace(&login, &format!("credentials = {}\n", creds.display()));
    std::fs::write(&local, changed).expect("write ferroban.local");
}

fn last_error(host: &Host) -> String {
    host.fleet()["last_error"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A refused host still bans locally, keeps the ban for the engine (outbox),
/// answers, and says the engine refused it, not that it is unreachable.
fn still_bans_locally(host: &Host, ip: &str) {
    host.fail(ip, 3);
    assert!(
        wait_for(SOON, || host.bans_of(ip) == 1),
        "no local ban: {}\n{}",
        host.actions(),
        host.log()
    );
    assert!(
        wait_for(SOON, || host.fleet()["outbox"] == 1),
        "the ban is not kept for the engine: {}",
        host.fleet()
    );
    assert!(host.client(&["ping"]).status.success(), "{}", host.log());
    let fleet = host.fleet();
    assert_eq!(fleet["connected"], Value::Bool(false), "{fleet}");
    assert!(
        !host.log().contains("engine unreachable"),
        "the engine answered: {}",
        host.log()
    );
    assert!(!host.log().contains("panicked"), "{}", host.log());
}

#[test]
fn creds_logins_share_bans_through_an_engine_in_operator_mode() {
    let hosts = ["web1", "web2"];
    let Some((root, engine, creds)) = operator_engine("share", &hosts, |auth| {
        vec![
            fleet_user(auth, "web1", "web1.creds"),
            fleet_user(auth, "web2", "web2.creds"),
        ]
    }) else {
        return;
    };
    let mut hosts: Vec<Host> = hosts
        .iter()
        .map(|name| creds_host(&root.0, &engine, name, &creds.join(format!("{name}.creds"))))
        .collect();
    for h in &mut hosts {
        // the .creds file is its owner's alone: nothing to warn of
        let checked = h.client(&["check"]);
        let said = String::from_utf8_lossy(&checked.stderr).into_owned();
        assert!(checked.status.success(), "{said}");
        assert!(!said.contains("WARNING"), "{said}");
        h.start();
        h.wait_connected();
    }
    // Its NKey seed is the host's secret: a file others can read is warned of.
    let web1_creds = creds.join("web1.creds");
    let mode = |m: u32| std::fs::set_permissions(&web1_creds, PermissionsExt::from_mode(m));
    mode(0o644).expect("chmod");
    let said = String::from_utf8_lossy(&hosts[0].client(&["check"]).stderr).into_owned();
    mode(0o600).expect("chmod");
    assert!(
        said.contains(&format!(
            "[Fleet] credentials = {}: its NKey seed is readable by other users (mode 644)",
            web1_creds.display()
        )),
        "{said}"
    );
    for (from, to, ip) in [(0, 1, "192.0.2.7"), (1, 0, "192.0.2.8")] {
        hosts[from].fail(ip, 3);
        for h in &hosts {
            assert!(
                wait_for(SOON, || h.bans_of(ip) == 1),
                "ban of {ip} did not arrive: {}\n{}",
                h.actions(),
                h.log()
            );
        }
        let origin = ["web1", "web2"][from];
        assert!(
            hosts[to]
                .log()
                .contains(&format!("NOTICE  [t] Ban {ip} (fleet: {origin})")),
            "{}",
            hosts[to].log()
        );
    }
    for (h, other) in hosts.iter().zip(["web2", "web1"]) {
        let fleet = h.fleet();
        assert_eq!(fleet["connected"], Value::Bool(true), "{fleet}");
        assert_eq!(fleet["outbox"], 0, "{fleet}");
        assert_eq!(fleet["last_error"], Value::Null, "{fleet}");
        let seen = fleet["hosts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == other).cloned())
            .unwrap_or(Value::Null);
        assert_eq!(seen["bans"], 1, "{fleet}");
    }
    // The JWT's permissions hold: the engine refused nothing of the fleet's work.
    assert!(!engine.log().contains("Violation"), "{}", engine.log());
    for h in &mut hosts {
        h.stop();
    }
}

#[test]
fn a_creds_login_of_an_untrusted_operator_is_refused_and_its_bans_wait_for_the_engine() {
    let hosts = ["web1", "web3"];
    let Some((root, engine, creds)) = operator_engine("untrusted", &hosts, |auth| {
        let stranger = JwtUser {
            stranger: true,
            file: "web3-stranger.creds",
            ..fleet_user(auth, "web3", "")
        };
        vec![
            fleet_user(auth, "web1", "web1.creds"),
            fleet_user(auth, "web3", "web3.creds"),
            stranger,
        ]
    }) else {
        return;
    };
    let mut observer = creds_host(&root.0, &engine, "web1", &creds.join("web1.creds"));
    observer.start();
    observer.wait_connected();
    let stranger_creds = creds.join("web3-stranger.creds");
    let mut host = creds_host(&root.0, &engine, "web3", &stranger_creds);
    host.start();
    let said = format!(
        "the engine refused the login of {} (authorization violation): check [Fleet] \
         credentials against the engine's accounts",
        stranger_creds.display()
    );
    assert!(
        wait_for(SOON, || last_error(&host) == said),
        "{}\n{}",
        host.fleet(),
        host.log()
    );
    assert!(
        host.log().contains(&format!("WARNING fleet: {said}")),
        "{}",
        host.log()
    );
    let text = String::from_utf8_lossy(&host.client(&["fleet"]).stdout).into_owned();
    assert!(
        text.contains("NOT connected") && text.contains(&said),
        "{text}"
    );
    assert!(
        engine.log().contains("authentication error"),
        "{}",
        engine.log()
    );
    still_bans_locally(&host, "192.0.2.30");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(observer.bans_of("192.0.2.30"), 0, "{}", observer.log());
    // A file that is no usable .creds (its seed cut short) is a setting to fix,
    // said so, not the engine being away.
    let broken = creds.join("web3-broken.creds");
    let text = std::fs::read_to_string(creds.join("web3.creds")).expect("web3.creds");
    let seed = text
        .lines()
        .find(|l| l.starts_with("SU"))
        .expect("a user seed");
    std::fs::write(&broken, text.replace(seed, &seed[..8])).expect("write");
    set_credentials(&host, "web3", Some(&stranger_creds), &broken);
    assert!(host.client(&["reload"]).status.success(), "{}", host.log());
    let unusable = format!("cannot use [Fleet] credentials = {}", broken.display());
    assert!(
        wait_for(SOON, || last_error(&host).starts_with(&unusable)),
        "{}\n{}",
        host.fleet(),
        host.log()
    );
    assert!(!host.log().contains("engine unreachable"), "{}", host.log());
    // The administrator gives it a .creds file of the engine's account: the ban
    // kept meanwhile reaches the fleet.
    let trusted = creds.join("web3.creds");
    set_credentials(&host, "web3", Some(&broken), &trusted);
    assert!(host.client(&["reload"]).status.success(), "{}", host.log());
    host.wait_connected();
    assert!(
        wait_for(SOON, || observer.bans_of("192.0.2.30") == 1),
        "the kept ban did not arrive: {}\n{}",
        observer.actions(),
        host.log()
    );
    assert!(
        wait_for(SOON, || host.fleet()["outbox"] == 0),
        "{}",
        host.fleet()
    );
    assert_eq!(host.bans_of("192.0.2.30"), 1, "{}", host.actions());
    host.stop();
    observer.stop();
}

#[test]
fn a_creds_user_denied_the_fleets_subjects_is_said_to_be_refused() {
    let hosts = ["web4", "web5"];
    let Some((root, engine, creds)) = operator_engine("denied", &hosts, |auth| {
        let web4 = fleet_user(auth, "web4", "web4.creds");
        let web5 = fleet_user(auth, "web5", "web5.creds");
        vec![
            // its failures and its inbox only: no $JS.API.… nor $KV.…
            JwtUser {
                pub_: web4
                    .pub_
                    .iter()
                    .filter(|s| !s.starts_with('$'))
                    .cloned()
                    .collect(),
                ..web4
            },
            // all it may publish, but its replies denied
            JwtUser {
                sub: vec!["nothing.>".into()],
                ..web5
            },
        ]
    }) else {
        return;
    };
    let mut denied = creds_host(&root.0, &engine, "web4", &creds.join("web4.creds"));
    let mut deaf = creds_host(&root.0, &engine, "web5", &creds.join("web5.creds"));
    denied.start();
    deaf.start();
    // Said as a refusal, naming the subject, at once (not after a request timed out).
    let publication = "the engine refused a publication of this host: Permissions Violation for \
                       Publish to \"$JS.API.STREAM.INFO.KV_ferroban\"";
    assert!(
        wait_for(5, || last_error(&denied).starts_with(publication)),
        "{}\n{}",
        denied.fleet(),
        denied.log()
    );
    let replies = "the engine refused this host's replies: Permissions Violation for \
                   Subscription to \"_INBOX_web5.…";
    assert!(
        wait_for(5, || last_error(&deaf).starts_with(replies)),
        "{}\n{}",
        deaf.fleet(),
        deaf.log()
    );
    for h in [&denied, &deaf] {
        assert!(!last_error(h).contains("timed out"), "{}", last_error(h));
        // the permissions to mend are the user JWT's: there is no authorization block
        assert!(
            last_error(h).contains("the user JWT of [Fleet] credentials = ")
                && !last_error(h).contains("authorization block"),
            "{}",
            last_error(h)
        );
        assert!(
            h.log().contains("WARNING fleet: the engine refused "),
            "{}",
            h.log()
        );
    }
    let log = engine.log();
    assert!(
        log.contains("Publish Violation") && log.contains("$JS.API.STREAM.INFO.KV_ferroban"),
        "{log}"
    );
    assert!(
        log.contains("Subscription Violation") && log.contains("_INBOX_web5."),
        "{log}"
    );
    still_bans_locally(&denied, "192.0.2.40");
    still_bans_locally(&deaf, "192.0.2.41");
    denied.stop();
    deaf.stop();
}
