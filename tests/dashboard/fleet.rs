//! The dashboard with a real fleet: nats-server and two ferroban hosts (see
//! tests/common/fleet.rs), the second one serving the dashboard. A ban made on
//! the first must show its origin on the second's bans page, and the second's
//! fleet page must show the connection, the first host and the outbox.

use serde_json::Value;

use super::browser::{self, Browser};
use super::common::fleet::{engine_for, Host, HostSpec};
use super::common::{free_port, wait_for};
use super::{artifacts, http, BIN};

/// A JavaScript expression: the texts of the cells of the row of table `table`
/// (an id) whose first cell is `first`, keyed by their column's heading; null
/// when there is no such row.
fn row_of(table: &str, first: &str) -> String {
    format!(
        "(() => {{ const t = document.getElementById({table:?}); if (!t) return null;
           const heads = [...t.querySelectorAll('thead th')].map(h => h.innerText.trim());
           const row = [...t.querySelectorAll('tbody tr')].find(r => r.cells[0].innerText === {first:?});
           return row ? Object.fromEntries([...row.cells].map((c, i) => [heads[i], c.innerText])) : null; }})()"
    )
}

/// A JavaScript expression: the value of fact `term` on the fleet page.
fn fact(term: &str) -> String {
    format!(
        "(() => {{ const dt = [...document.querySelectorAll('#fleet-facts dt')].find(d => d.innerText === {term:?});
           return dt ? dt.nextElementSibling.innerText : null; }})()"
    )
}

#[test]
fn a_fleet_ban_shows_its_origin_and_the_fleet_page_the_hosts_and_the_outbox() {
    let Some(chromium) = browser::chromium() else {
        println!(
            "SKIPPED: chromium is not installed (Debian package chromium; .ci/run installs it)"
        );
        return;
    };
    let Some((root, mut engine)) = engine_for(BIN, "dashboard") else {
        return;
    };
    let port = free_port();
    let definition = format!("metrics = {port}\ndashboard = true\n");
    let mut a = Host::new(BIN, &root.0, &engine, &HostSpec::honest("web1", "pw-one"));
    let mut b = Host::new(
        BIN,
        &root.0,
        &engine,
        &HostSpec {
            definition: &definition,
            ..HostSpec::honest("web2", "pw-two")
        },
    );
    for h in [&mut a, &mut b] {
        h.start();
        h.wait_connected();
    }
    a.fail("192.0.2.7", 3);
    b.fail("192.0.2.8", 3);
    // and one by hand on A: no failures behind it (it read as "unknown" on B)
    let by_hand = a.client(&["ban", "t", "192.0.2.10"]);
    assert!(
        by_hand.status.success(),
        "{}",
        String::from_utf8_lossy(&by_hand.stderr)
    );
    assert!(
        wait_for(10, || b.bans_of("192.0.2.7") == 1
            && b.bans_of("192.0.2.8") == 1
            && b.bans_of("192.0.2.10") == 1),
        "{}\n{}",
        b.actions(),
        b.log()
    );

    // The API says where each ban came from: A's name, or null for B's own.
    let (status, body) = http(port, "GET", "/api/bans?sort=ip&order=asc", "", "");
    assert_eq!(status, 200, "{body}");
    let bans: Value = serde_json::from_str(&body).unwrap();
    let field = |ip: &str, name: &str| {
        bans["bans"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["ip"] == ip))
            .map(|r| r[name].clone())
    };
    assert_eq!(
        field("192.0.2.7", "origin"),
        Some(Value::from("web1")),
        "{bans}"
    );
    assert_eq!(field("192.0.2.8", "origin"), Some(Value::Null), "{bans}");
    // A received ban has no ban count here (it is its origin's), and shows the
    // failures that caused it at its origin.
    assert_eq!(field("192.0.2.7", "count"), Some(Value::Null), "{bans}");
    assert_eq!(
        field("192.0.2.7", "failures"),
        Some(Value::from(3)),
        "{bans}"
    );
    assert_eq!(
        field("192.0.2.10", "failures"),
        Some(Value::from(0)),
        "{bans}"
    );
    assert_eq!(field("192.0.2.8", "count"), Some(Value::from(1)), "{bans}");
    assert_eq!(
        field("192.0.2.8", "failures"),
        Some(Value::from(3)),
        "{bans}"
    );

    let mut page = Browser::launch(&chromium, 1100, 900);
    page.open(&format!("http://127.0.0.1:{port}/#/bans"));
    assert!(
        page.wait_for(
            "document.getElementById('main').dataset.ready === 'Bans'",
            20
        ),
        "the bans page did not render: {}",
        page.eval("document.body.innerText")
    );
    let fleet_ban = page.eval(&row_of("bans-table", "192.0.2.7"));
    assert_eq!(fleet_ban["Origin"], "web1", "{fleet_ban}");
    assert_eq!(fleet_ban["Jail"], "t", "{fleet_ban}");
    assert_eq!(fleet_ban["Ban count"], "received", "{fleet_ban}");
    assert_eq!(fleet_ban["Failures"], "3", "{fleet_ban}");
    let hand_ban = page.eval(&row_of("bans-table", "192.0.2.10"));
    assert_eq!(hand_ban["Failures"], "0", "{hand_ban}");
    let own_ban = page.eval(&row_of("bans-table", "192.0.2.8"));
    assert_eq!(own_ban["Origin"], "local", "{own_ban}");
    page.screenshot(&artifacts().join("fleet-bans.png"));

    // The fleet page: the connection, host A heard of just now, the outbox.
    page.eval("location.hash = '#/fleet'");
    assert!(
        page.wait_for(
            "document.getElementById('main').dataset.ready === 'Fleet'",
            20
        ),
        "the fleet page did not render: {}",
        page.eval("document.body.innerText")
    );
    assert_eq!(
        page.eval("document.getElementById('fleet-state').innerText"),
        format!("connected to {}", engine.url())
    );
    let web1 = page.eval(&row_of("fleet-hosts", "web1"));
    assert_eq!(web1["Bans"], "2", "{web1}");
    let api_fleet: Value =
        serde_json::from_str(&http(port, "GET", "/api/fleet", "", "").1).unwrap();
    assert!(
        api_fleet["hosts"][0]["last_seen"].is_f64(),
        "web1 was heard of: {api_fleet}"
    );
    assert!(
        web1["Last activity"]
            .as_str()
            .is_some_and(|s| s.ends_with(" ago")),
        "{web1}"
    );
    let web2 = page.eval(&row_of("fleet-hosts", "web2 (this host)"));
    assert_eq!(web2["Bans"], "1", "its own ban: {web2}");
    assert_eq!(page.eval(&fact("Outbox")), "0");
    // Every figure of `ferroban fleet --json` is on the page.
    let figures = [
        ("Published", "published"),
        ("Unconfirmed", "unconfirmed"),
        ("Received", "received"),
        ("Applied", "applied"),
        ("Already held", "already_held"),
        ("Lifts", "lifts"),
        ("Refused (received)", "refused_received"),
        ("Failures received", "failures_received"),
        ("Failures refused", "failures_refused"),
    ];
    for (label, key) in figures {
        let api_fleet: Value =
            serde_json::from_str(&http(port, "GET", "/api/fleet", "", "").1).unwrap();
        let want = api_fleet[key].to_string();
        assert!(
            page.wait_for(&format!("{} === '{want}'", fact(label)), 10),
            "{label}: {} on the page, {want} in the API",
            page.eval(&fact(label))
        );
    }
    page.screenshot(&artifacts().join("fleet.png"));

    // Without the engine B still bans, into its outbox; the page follows by itself.
    engine.kill();
    b.fail("192.0.2.9", 3);
    assert!(
        page.wait_for(
            &format!(
                "document.getElementById('fleet-state').innerText === 'not connected ({})' && {} === '1'",
                engine.url(),
                fact("Outbox")
            ),
            20
        ),
        "{}\n{}",
        page.eval("document.getElementById('main').innerText"),
        b.log()
    );
    // and says why it is not connected: the engine's last error, and when.
    assert!(
        page.wait_for(
            "/^Last error \\(20\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\): ./.test((document.getElementById('fleet-error') || {innerText: ''}).innerText)",
            20
        ),
        "{}",
        page.eval("document.getElementById('main').innerText")
    );
    assert_eq!(
        page.eval(&fact("Published")),
        "1",
        "the engine confirmed B's ban"
    );
    page.screenshot(&artifacts().join("fleet-outbox.png"));
}
