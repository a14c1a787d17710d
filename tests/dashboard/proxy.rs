//! The dashboard behind the TLS reverse proxy the README tells to put in front
//! of it: a real nginx with a certificate made by openssl, passing
//! `Host $proxy_host` (nginx's default) to the listener, and Chromium on the
//! proxy's address. The page's origin is then the proxy's, not the listener's,
//! and a click on Unban must still lift the ban.

use super::browser::{self, Browser};
use super::common::{free_port, have, start_nginx, stop_child, wait_for};
use super::{Server, TOKEN};

/// A self-signed certificate for 127.0.0.1 (`dir/proxy.crt`, `dir/proxy.key`).
fn certificate(dir: &std::path::Path) {
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("proxy.key"))
        .arg("-out")
        .arg(dir.join("proxy.crt"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn behind_a_tls_reverse_proxy_the_page_unbans() {
    let Some(chromium) = browser::chromium() else {
        println!(
            "SKIPPED: chromium is not installed (Debian package chromium; .ci/run installs it)"
        );
        return;
    };
    if !have("nginx") || !have("openssl") {
        println!("SKIPPED: nginx or openssl is not installed (.ci/run installs both)");
        return;
    }
    let server = Server::start(
        "proxy",
        &format!("dashboard = true\ndashboard_token = {TOKEN}\n"),
    );
    server.fail("x", "192.0.2.50");
    assert!(
        wait_for(15, || server.banned().len() == 1),
        "{}",
        server.log()
    );

    let dir = server.dir.join("proxy");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    certificate(&dir);
    let port = free_port();
    // As the README gives it: TLS here, the listener on loopback behind it.
    let location = format!(
        "ssl_certificate {d}/proxy.crt;\n    ssl_certificate_key {d}/proxy.key;\n    \
         location / {{ proxy_pass http://127.0.0.1:{}; }}",
        server.port,
        d = dir.display()
    );
    let mut nginx = start_nginx(
        None,
        &dir,
        &format!("127.0.0.1:{port} ssl"),
        "off",
        &location,
    );
    let url = format!("https://127.0.0.1:{port}/");
    let up = wait_for(10, || {
        std::process::Command::new("curl")
            .args(["-skf", "-o", "/dev/null", &url])
            .status()
            .is_ok_and(|s| s.success())
    });
    if !up {
        stop_child(&mut nginx);
        panic!(
            "nginx did not proxy: {:?}",
            std::fs::read_to_string(dir.join("nginx-error.log"))
        );
    }

    let mut b = Browser::launch_with(&chromium, 1000, 800, &["--ignore-certificate-errors"]);
    b.open(&format!("{url}#/bans"));
    let row = "button.unban[data-ip='192.0.2.50'][data-jail='web']";
    let shown = b.wait_for(&format!("document.querySelector(\"{row}\") !== null"), 20);
    // A wrong token is refused when it is typed, not at the first click.
    b.click("#token");
    b.type_text("not-the-token-0123456789");
    b.press_enter();
    let refused = b.wait_for(
        "document.getElementById('message').textContent.includes('token refused')",
        10,
    );
    b.eval("document.getElementById('token').value = ''");
    b.click("#token");
    b.type_text(TOKEN);
    b.press_enter();
    let enabled = b.wait_for(&format!("!document.querySelector(\"{row}\").disabled"), 10);
    if enabled {
        b.click(row);
    }
    let unbanned = wait_for(10, || server.banned().is_empty());
    let message = b.eval("document.getElementById('message').textContent");
    stop_child(&mut nginx);
    assert!(shown, "the bans page did not load through the proxy");
    assert!(refused, "a wrong token was not refused: {message}");
    assert!(enabled, "the token was not taken: {message}");
    assert!(
        unbanned,
        "the click through the proxy did not unban: {message}\n{}",
        server.log()
    );
}
