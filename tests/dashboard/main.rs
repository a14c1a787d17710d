//! The dashboard end to end: a real `ferroban server` with `dashboard = true`,
//! bans made from real log lines (some carrying markup an attacker would write),
//! and Debian's Chromium, headless, reading and clicking the page.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod browser;
#[path = "../common/mod.rs"]
mod common;
mod fleet;
mod proxy;
use browser::Browser;
use common::{free_port, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");
const TOKEN: &str = "test-token-0123456789abcdef";
const SCRIPT_LINE: &str = "<script>window.__pwned = 1</script>";
const IMG_LINE: &str = "\"><img src=x onerror=\"window.__pwned = 2\">";

/// A server on a temporary directory, killed and removed at the end.
struct Server {
    dir: PathBuf,
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Server {
    /// Start a server whose jail `web` bans at the first failure; `settings` go to
    /// ferroban.local after the listener's port.
    fn start(tag: &str, settings: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("ferroban-dash-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf/filter.d")).unwrap();
        std::fs::write(
            dir.join("conf/filter.d/login.conf"),
            "[Definition]\nfailregex = ^login failed user=.* from <HOST>$\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("conf/jail.local"),
            format!(
                "[web]\nenabled = true\nfilter = login\naction =\nbackend = polling\n\
                 logpath = {}\nmaxretry = 1\nbantime = 1h\n",
                dir.join("app.log").display()
            ),
        )
        .unwrap();
        std::fs::write(dir.join("app.log"), "").unwrap();
        let port = free_port();
        std::fs::write(
            dir.join("conf/ferroban.local"),
            format!("[Definition]\nmetrics = {port}\n{settings}"),
        )
        .unwrap();
        // As an editor leaves it: readable by all (the server warns about a token there).
        std::fs::set_permissions(
            dir.join("conf/ferroban.local"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        let child = Command::new(BIN)
            .args(["server", "-f", "--loglevel", "INFO", "-c"])
            .arg(dir.join("conf"))
            .arg("-s")
            .arg(dir.join("ferroban.sock"))
            .arg("-p")
            .arg(dir.join("ferroban.pid"))
            .arg("--dbfile")
            .arg(dir.join("db.sqlite3"))
            .arg("--logtarget")
            .arg(dir.join("ferroban.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let server = Server { dir, child, port };
        assert!(
            wait_for(15, || http(port, "GET", "/metrics", "", "").0 == 200),
            "the server did not listen; its log:\n{}",
            server.log()
        );
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ferroban.log")).unwrap_or_default()
    }

    /// Append a failure of `ip` whose user name is `user`.
    fn fail(&self, user: &str, ip: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("app.log"))
            .unwrap();
        writeln!(f, "login failed user={user} from {ip}").unwrap();
    }

    /// The addresses the server holds banned, asked through its control socket.
    fn banned(&self) -> Vec<String> {
        let out = Command::new(BIN)
            .arg("-s")
            .arg(self.dir.join("ferroban.sock"))
            .args(["get", "web", "banip"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    /// `ferroban reload`, through the server's socket, with its configuration.
    fn reload(&self) -> std::process::Output {
        Command::new(BIN)
            .arg("-s")
            .arg(self.dir.join("ferroban.sock"))
            .arg("-c")
            .arg(self.dir.join("conf"))
            .arg("reload")
            .output()
            .unwrap()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// One request to the listener on `port`: its status and body. `headers` may
/// start with its own `Host:`.
fn http(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let out = http_response(port, method, path, headers, body);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The whole answer to one request (status line, headers and body), empty when
/// the listener cannot be reached.
fn http_response(port: u16, method: &str, path: &str, headers: &str, body: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let host = if headers.starts_with("Host:") {
        String::new()
    } else {
        format!("Host: 127.0.0.1:{port}\r\n")
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\n{host}{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Where the test leaves its screenshots: target/dashboard/.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard")
}

#[test]
fn the_page_shows_bans_unbans_with_the_token_and_runs_nothing_from_logs() {
    let Some(chromium) = browser::chromium() else {
        println!(
            "SKIPPED: chromium is not installed (Debian package chromium; .ci/run installs it)"
        );
        return;
    };
    let server = Server::start(
        "browser",
        &format!("dashboard = true\ndashboard_token = {TOKEN}\n"),
    );
    server.fail("alice", "192.0.2.10");
    server.fail("bob", "192.0.2.11");
    server.fail(SCRIPT_LINE, "192.0.2.20");
    server.fail(IMG_LINE, "192.0.2.21");
    assert!(
        wait_for(15, || server.banned().len() == 4),
        "bans: {:?}\n{}",
        server.banned(),
        server.log()
    );

    let mut b = Browser::launch(&chromium, 1100, 900);
    b.open(&server.url());
    assert!(
        b.wait_for(
            "document.getElementById('main').dataset.ready === 'Overview'",
            20
        ),
        "the overview did not render: {}",
        b.eval("document.body.innerText")
    );
    let text = b.eval("document.body.innerText").to_string();
    assert!(
        text.contains("web") && text.contains("192.0.2.10"),
        "{text}"
    );
    // The totals say they count from the jails' start (the failures are not
    // kept across a restart, the bans restored at start are counted again).
    assert_eq!(
        b.eval("[...document.querySelectorAll('#jails-table thead th')].map(h => h.innerText).join('|')"),
        "Jail|Failing now|Failures since start|Banned now|Bans since start"
    );
    let since = b.eval("document.getElementById('since-start').innerText");
    assert!(
        since
            .as_str()
            .is_some_and(|s| s.starts_with("Since start: counted from 20")
                && s.contains("when the jails started")),
        "{since}"
    );
    assert!(
        b.wait_for("[...document.querySelectorAll('figure img')].every(i => i.complete && i.naturalWidth > 0)", 10),
        "the charts did not load"
    );
    b.screenshot(&artifacts().join("overview-light.png"));
    b.set_dark(true);
    assert_eq!(
        b.eval("getComputedStyle(document.body).backgroundColor"),
        "rgb(28, 25, 23)",
        "the dark scheme follows the system"
    );
    b.screenshot(&artifacts().join("overview-dark.png"));
    b.set_dark(false);

    // The bans table, read-only until the token is given.
    b.eval("location.hash = '#/bans'");
    assert!(b.wait_for(
        "document.getElementById('main').dataset.ready === 'Bans'",
        20
    ));
    let row = "button.unban[data-ip='192.0.2.10'][data-jail='web']";
    assert_eq!(
        b.eval(&format!("document.querySelector(\"{row}\").disabled")),
        true
    );
    let text = b
        .eval("document.querySelector('table').innerText")
        .to_string();
    assert!(
        text.contains("192.0.2.11") && text.contains("web"),
        "{text}"
    );

    // The page follows the server by itself, without a reload.
    b.eval("window.__same_page = true");
    server.fail("carol", "192.0.2.12");
    assert!(
        b.wait_for(
            "document.querySelector('table').innerText.includes('192.0.2.12')",
            20
        ),
        "the new ban did not appear"
    );
    assert_eq!(b.eval("window.__same_page"), true);

    // The server searches and sorts the table.
    b.click("#ban-search");
    b.type_text("192.0.2.11");
    assert!(
        b.wait_for(
            "document.querySelectorAll('tbody tr').length === 1 && \
             document.querySelector('tbody').innerText.includes('192.0.2.11')",
            10
        ),
        "{}",
        b.eval("document.getElementById('main').innerText")
    );
    b.eval("{ const s = document.getElementById('ban-search'); s.value = ''; s.dispatchEvent(new Event('input')) }");
    b.click("th button");
    assert!(b.wait_for(
        "document.querySelector('th[aria-sort=ascending]') !== null && \
         document.querySelectorAll('tbody tr').length === 5 && \
         document.querySelector('tbody td').innerText === '192.0.2.10'",
        10
    ));

    // The same by keyboard: Enter on the focused column heading reverses the order.
    b.eval("document.querySelector('th button').focus()");
    b.press_enter();
    assert!(b.wait_for(
        "document.querySelector('th[aria-sort=descending]') !== null && \
         document.querySelector('tbody td').innerText === '192.0.2.21'",
        10
    ));

    // A write without the token, from the page itself, is refused; the ban stays.
    let refused = b.eval(
        "fetch('/api/unban', {method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({jail: 'web', ip: '192.0.2.10'})}).then(r => r.status)",
    );
    assert_eq!(refused, 401);
    assert!(server.banned().contains(&"192.0.2.10".to_string()));

    // With the token typed in, the unban button lifts the ban in the server.
    b.click("#token");
    b.type_text(TOKEN);
    b.click("#token-form button");
    assert!(b.wait_for(&format!("!document.querySelector(\"{row}\").disabled"), 10));
    b.click(row);
    assert!(
        wait_for(10, || !server.banned().contains(&"192.0.2.10".to_string())),
        "the click did not unban: {:?}\n{}",
        server.banned(),
        server.log()
    );
    assert!(b.wait_for(
        "document.getElementById('message').textContent.includes('192.0.2.10')",
        10
    ));
    assert!(
        wait_for(5, || server.log().contains(
            "Dashboard unban of 192.0.2.10 in jail \"web\" from 127.0.0.1:"
        ) && server.log().contains(" changed")),
        "{}",
        server.log()
    );
    b.screenshot(&artifacts().join("bans.png"));

    // A server that stops answering: the page keeps its data, dimmed, says so,
    // and a write says it reached nothing; once it answers, the page recovers.
    b.eval(
        "window.__fetch = window.fetch; \
         window.fetch = () => Promise.reject(new TypeError('Failed to fetch')); refresh()",
    );
    assert!(
        b.wait_for(
            "document.getElementById('main').classList.contains('stale') && \
             document.getElementById('message').textContent.startsWith('cannot load')",
            10
        ),
        "{}",
        b.eval("document.getElementById('message').textContent")
    );
    b.eval("write('/api/unban', 'web', '192.0.2.11')");
    assert!(
        b.wait_for(
            "document.getElementById('message').textContent.includes('cannot reach the server')",
            10
        ),
        "{}",
        b.eval("document.getElementById('message').textContent")
    );
    b.eval("window.fetch = window.__fetch; refresh()");
    assert!(
        b.wait_for(
            "!document.getElementById('main').classList.contains('stale') && \
             document.getElementById('message').textContent === 'server reachable again'",
            10
        ),
        "{}",
        b.eval("document.getElementById('message').textContent")
    );
    assert!(server.banned().contains(&"192.0.2.11".to_string()));

    // The hostile lines are shown as text on the jail's page, and nothing ran.
    b.eval("location.hash = '#/jail/web'");
    assert!(b.wait_for(
        "document.getElementById('main').dataset.ready === 'Jail web'",
        20
    ));
    let lines = b.eval("document.getElementById('matches').innerText");
    let lines = lines.as_str().unwrap_or_default();
    assert!(lines.contains(SCRIPT_LINE), "{lines}");
    assert!(lines.contains(IMG_LINE), "{lines}");
    assert_eq!(b.eval("typeof window.__pwned"), "undefined");
    assert_eq!(
        b.eval("document.querySelectorAll('#main script, #main img, script:not([src=\"/app.js\"])').length"),
        0
    );
    // The second line of defence: even a script element put into the page (as a
    // bug might) does not run, because the CSP allows no inline script.
    b.eval(
        "{ const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; \
         document.body.append(s) }",
    );
    assert_eq!(b.eval("typeof window.__inline"), "undefined");
    b.screenshot(&artifacts().join("jail.png"));
}

/// A token is not guessed at the network's speed: the tenth wrong one from a source
/// within ten minutes locks it out (429, `Retry-After`), the right token included,
/// and the log says so once; a missing token does not count.
#[test]
fn wrong_tokens_lock_their_source_out() {
    let server = Server::start(
        "guesses",
        &format!("dashboard = true\ndashboard_token = {TOKEN}\n"),
    );
    let origin = format!("Origin: http://127.0.0.1:{}\r\n", server.port);
    let json = "Content-Type: application/json\r\n";
    let check = |auth: &str| {
        http(
            server.port,
            "POST",
            "/api/token",
            &format!("{origin}{json}{auth}"),
            "{}",
        )
        .0
    };
    let right = format!("Authorization: Bearer {TOKEN}\r\n");
    for _ in 0..20 {
        assert_eq!(check(""), 401, "no token");
    }
    assert_eq!(check(&right), 200, "missing tokens are no guesses");
    for i in 1..=10 {
        assert_eq!(check(&format!("Authorization: Bearer guess-{i}\r\n")), 401);
    }
    assert_eq!(check(&right), 429, "locked out, the right token too");
    let body = r#"{"jail": "web", "ip": "192.0.2.31"}"#;
    let headers = format!("{origin}{json}{right}");
    let answer = http_response(server.port, "POST", "/api/ban", &headers, body);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let retry = answer
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(retry.is_some_and(|s| s > 500 && s <= 600), "{answer}");
    assert!(server.banned().is_empty(), "no write went through");
    assert!(
        wait_for(5, || server.log().contains(
            "Dashboard: 10 wrong tokens from 127.0.0.1 within 10 minutes"
        )),
        "{}",
        server.log()
    );
    assert_eq!(
        server.log().matches("Dashboard: 10 wrong tokens").count(),
        1,
        "one lock-out, said once: {}",
        server.log()
    );
}

#[test]
fn writes_need_the_token_the_origin_and_post() {
    let server = Server::start(
        "writes",
        &format!("dashboard = true\ndashboard_token = {TOKEN}\n"),
    );
    server.fail("x", "192.0.2.30");
    assert!(
        wait_for(15, || server.banned().len() == 1),
        "{}",
        server.log()
    );
    let origin = format!("Origin: http://127.0.0.1:{}\r\n", server.port);
    let json = "Content-Type: application/json\r\n";
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let body = r#"{"jail": "web", "ip": "192.0.2.30"}"#;
    let post = |headers: &str| http(server.port, "POST", "/api/unban", headers, body).0;
    assert_eq!(post(&format!("{origin}{json}")), 401, "no token");
    assert_eq!(
        post(&format!(
            "{origin}{json}Authorization: Bearer wrong-{TOKEN}\r\n"
        )),
        401
    );
    assert_eq!(
        post(&format!("Origin: http://evil.example\r\n{json}{auth}")),
        403,
        "another site, even with the token"
    );
    assert_eq!(post(&format!("{json}{auth}")), 403, "no Origin");
    assert_eq!(
        http(
            server.port,
            "GET",
            "/api/unban?jail=web&ip=192.0.2.30",
            &auth,
            ""
        )
        .0,
        405
    );
    assert_eq!(
        server.banned(),
        vec!["192.0.2.30"],
        "every refusal left the ban"
    );
    // No CORS: a preflight gets nothing that would let another site in.
    let (status, _) = http(
        server.port,
        "OPTIONS",
        "/api/unban",
        "Origin: http://evil.example\r\n",
        "",
    );
    assert_eq!(status, 405);
    let bad_ip = r#"{"jail": "web", "ip": "192.0.2.30; reboot"}"#;
    let (status, answer) = http(
        server.port,
        "POST",
        "/api/ban",
        &format!("{origin}{json}{auth}"),
        bad_ip,
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(post(&format!("{origin}{json}{auth}")), 200);
    assert!(server.banned().is_empty());
    let log = server.log();
    assert!(
        log.contains("Dashboard unban of 192.0.2.30 in jail \"web\" from 127.0.0.1:"),
        "refusals are logged with what they asked: {log}"
    );
    assert!(
        log.contains("refused: cross-site write refused: Origin \"http://evil.example\"")
            && log.contains("refused: origin-less write refused"),
        "{log}"
    );
    assert!(
        log.contains("dashboard_token is in")
            && log.contains("which other users can read (mode 644)"),
        "a token in a file others can read is said: {log}"
    );
    // A ban the server refuses (this host's own address): a count of 0, the
    // server's words as the message, and the same words, unquoted, in the log.
    let own = r#"{"jail": "web", "ip": "127.0.0.1"}"#;
    let (status, answer) = http(
        server.port,
        "POST",
        "/api/ban",
        &format!("{origin}{json}{auth}"),
        own,
    );
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["changed"], 0, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("not banned: 127.0.0.1"), "{answer}");
    assert!(
        wait_for(5, || server
            .log()
            .lines()
            .any(|l| l.contains(
                "Dashboard ban of 127.0.0.1 in jail \"web\" from 127.0.0.1:"
            ) && l.ends_with(&format!(": {message}")))),
        "{}",
        server.log()
    );
    let (status, answer) = http(server.port, "GET", "/api/bans?sort=password", "", "");
    assert_eq!(status, 400, "{answer}");
    for key in ["failures", "origin"] {
        let (status, answer) = http(server.port, "GET", &format!("/api/bans?sort={key}"), "", "");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["writes"], true, "{answer}");
    }
    // The page checks a typed token before it keeps it; `bearer` in any case.
    let check = |headers: &str| http(server.port, "POST", "/api/token", headers, "{}").0;
    assert_eq!(check(&format!("{origin}{json}{auth}")), 200);
    assert_eq!(
        check(&format!("{origin}{json}Authorization: bearer {TOKEN}\r\n")),
        200
    );
    assert_eq!(
        check(&format!("{origin}{json}Authorization: Bearer x\r\n")),
        401
    );
    assert!(
        wait_for(5, || server
            .log()
            .contains("Dashboard token check from 127.0.0.1:")),
        "{}",
        server.log()
    );
    // The charts' counts come from the database: one failure, one ban this hour.
    let (_, activity) = http(server.port, "GET", "/api/activity?range=hour", "", "");
    let activity: Value = serde_json::from_str(&activity).unwrap();
    let web = &activity["series"][0];
    assert_eq!(web["jail"], "web", "{activity}");
    let sum = |k: &str| {
        web[k]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .sum::<u64>()
    };
    assert_eq!((sum("failures"), sum("bans")), (1, 1), "{activity}");

    // A leaked token is revoked by `reload`: the new one is in force at once, the
    // old one refused (before, it took a restart, and reload said nothing).
    const NEW_TOKEN: &str = "rotated-token-0123456789abcdef";
    let local = server.dir.join("conf/ferroban.local");
    let settings = std::fs::read_to_string(&local).unwrap();
    std::fs::write(&local, settings.replace(TOKEN, NEW_TOKEN)).unwrap();
    let reload = server.reload();
    let said = String::from_utf8_lossy(&reload.stderr).into_owned();
    assert!(reload.status.success(), "{said}");
    // the new token is in a file others can read: reload says so after its OK,
    // as check does, and the server logs it
    let readable = format!(
        "WARNING: dashboard_token is in {}, which other users can read",
        local.display()
    );
    assert!(said.contains(&readable), "{said}");
    // (once at start, once at the reload)
    assert!(
        wait_for(5, || server
            .log()
            .matches(&readable["WARNING: ".len()..])
            .count()
            == 2),
        "{}",
        server.log()
    );
    let ban = r#"{"jail": "web", "ip": "192.0.2.31"}"#;
    let with = |token: &str| {
        let headers = format!("{origin}{json}Authorization: Bearer {token}\r\n");
        http(server.port, "POST", "/api/ban", &headers, ban).0
    };
    assert_eq!(with(TOKEN), 401, "the old token after reload");
    assert_eq!(with(NEW_TOKEN), 200);
    assert!(
        server.log().contains("dashboard_token changed"),
        "{}",
        server.log()
    );
}

#[test]
fn without_the_setting_there_is_no_page_and_without_a_token_no_write() {
    let off = Server::start("off", "");
    let (status, body) = http(off.port, "GET", "/", "", "");
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE ferroban_banned gauge"),
        "/ stays the metrics: {body}"
    );
    assert_eq!(http(off.port, "GET", "/api/overview", "", "").0, 404);
    drop(off);
    let read_only = Server::start("readonly", "dashboard = true\n");
    read_only.fail("x", "192.0.2.40");
    assert!(wait_for(15, || read_only.banned().len() == 1));
    let (status, page) = http(read_only.port, "GET", "/", "", "");
    assert_eq!(status, 200);
    assert!(
        page.contains("<script src=\"/app.js\" defer></script>"),
        "{page}"
    );
    let headers = format!(
        "Origin: http://127.0.0.1:{}\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\n",
        read_only.port
    );
    let body = r#"{"jail": "web", "ip": "192.0.2.40"}"#;
    let (status, answer) = http(read_only.port, "POST", "/api/unban", &headers, body);
    assert_eq!(status, 403, "{answer}");
    // The page is told, so that it asks for no token.
    let (_, bans) = http(read_only.port, "GET", "/api/bans", "", "");
    let bans: Value = serde_json::from_str(&bans).unwrap();
    assert_eq!(bans["writes"], false, "{bans}");
    let (status, answer) = http(read_only.port, "POST", "/api/token", &headers, "{}");
    assert_eq!(status, 403, "{answer}");
    assert_eq!(read_only.banned(), vec!["192.0.2.40"]);
    // A site whose name resolves to loopback (DNS rebinding) reads nothing.
    let rebound = format!("Host: attacker.example:{}\r\n", read_only.port);
    assert_eq!(
        http(read_only.port, "GET", "/api/bans", &rebound, "").0,
        421
    );
    assert_eq!(
        http(read_only.port, "GET", "/", "Host: localhost\r\n", "").0,
        200
    );
    let (_, fleet) = http(read_only.port, "GET", "/api/fleet", "", "");
    let fleet: Value = serde_json::from_str(&fleet).unwrap();
    assert_eq!(fleet["configured"], false, "{fleet}");
    // Every page's own answer says so, whichever is opened first: the token field
    // showed on a Fleet or jail page opened directly.
    assert_eq!(fleet["writes"], false, "{fleet}");
    let (_, jail) = http(read_only.port, "GET", "/api/jail?name=web", "", "");
    let jail: Value = serde_json::from_str(&jail).unwrap();
    assert_eq!(jail["writes"], false, "{jail}");
    assert!(
        page.contains(r#"<form id="token-form" class="token" hidden>"#),
        "{page}"
    );
    // A listener change waits for a restart: `reload` says so after its OK, not
    // only the log.
    let local = read_only.dir.join("conf/ferroban.local");
    let settings = std::fs::read_to_string(&local).unwrap();
    std::fs::write(
        &local,
        settings.replace("dashboard = true", "dashboard = false"),
    )
    .unwrap();
    let reload = read_only.reload();
    let said = String::from_utf8_lossy(&reload.stderr);
    assert!(reload.status.success(), "{said}");
    assert!(
        said.contains("WARNING: dashboard or metrics changed: the HTTP listener keeps"),
        "{said}"
    );
    std::fs::write(&local, settings).unwrap();
    let Some(chromium) = browser::chromium() else {
        eprintln!("SKIPPED the read-only pages in a browser: chromium is not installed");
        return;
    };
    let mut b = Browser::launch(&chromium, 1100, 900);
    for (view, ready) in [
        ("#/fleet", "Fleet"),
        ("#/jail/web", "Jail web"),
        ("#/", "Overview"),
    ] {
        b.open(&format!("{}{view}", read_only.url()));
        let rendered = format!("document.getElementById('main').dataset.ready === '{ready}'");
        assert!(
            b.wait_for(&rendered, 20),
            "{view}: {}",
            b.eval("document.body.innerText")
        );
        assert_eq!(
            b.eval("document.getElementById('token-form').hidden"),
            Value::Bool(true),
            "{view} shows the token field of a read-only dashboard"
        );
    }
}
