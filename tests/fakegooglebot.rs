//! The apache-fakegooglebot jail's ignorecommand
//! (config/filter.d/ignorecommands/apache-fakegooglebot): an address is spared
//! only when its reverse DNS name is Google's and that name resolves back to it.
//!
//! The DNS is real but private: a dnsmasq on loopback, inside a network and mount
//! namespace this test makes, with resolv.conf and nsswitch.conf bind-mounted to
//! point at it. Nothing leaves the machine. The command run is the one the
//! shipped jail.conf configures, run the way ferroban runs it (`/bin/sh -c` with
//! `<ip>` replaced).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{have, is_root};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config");

/// Where every address of the test points, and what the command must answer.
const CASES: &[(&str, &str, bool)] = &[
    // A real crawler: reverse and forward agree.
    ("66.249.66.1", "real crawler", true),
    ("2001:4860:4801:10::1", "real crawler over IPv6", true),
    // The impostor's own reverse zone says googlebot.com; Google's forward zone
    // does not list the impostor.
    ("192.0.2.6", "reverse name forged", false),
    // A look-alike domain that merely contains googlebot.com.
    ("192.0.2.7", "look-alike domain", false),
    // No reverse name at all.
    ("192.0.2.8", "no reverse name", false),
];

/// dnsmasq's records for [`CASES`].
const RECORDS: &[&str] = &[
    "--host-record=crawl-66-249-66-1.googlebot.com,66.249.66.1",
    "--host-record=crawl-v6.googlebot.com,2001:4860:4801:10::1",
    "--host-record=crawl-1.googlebot.com,66.249.66.9",
    "--ptr-record=6.2.0.192.in-addr.arpa,crawl-1.googlebot.com",
    "--ptr-record=7.2.0.192.in-addr.arpa,crawl.googlebot.com.example.net",
    "--host-record=crawl.googlebot.com.example.net,192.0.2.7",
];

/// The ignorecommand of the shipped apache-fakegooglebot jail, enabled through a
/// jail.local in a copy of config/.
fn configured_ignorecommand(work: &Path) -> String {
    let conf = work.join("config");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(CONFIG)
        .arg(&conf)
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(
        conf.join("jail.local"),
        "[apache-fakegooglebot]\nenabled = true\n",
    )
    .unwrap();
    let jails = ferroban_config::jail::load_jails_as_written(&conf).unwrap();
    let jail = jails
        .jails
        .iter()
        .find(|j| j.name == "apache-fakegooglebot")
        .expect("the jail is in jail.conf");
    jail.ignorecommand
        .clone()
        .expect("the jail sets an ignorecommand")
}

/// A shell script that, inside fresh namespaces, serves [`RECORDS`] on loopback
/// and prints "ADDRESS STATUS" for the command run on each case.
fn driver(work: &Path, command: &str) -> PathBuf {
    std::fs::write(
        work.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    std::fs::write(work.join("nsswitch.conf"), "hosts: dns\n").unwrap();
    let records = RECORDS.join(" ");
    let mut script = format!(
        "set -e\n\
         mount --bind {w}/resolv.conf /etc/resolv.conf\n\
         mount --bind {w}/nsswitch.conf /etc/nsswitch.conf\n\
         ip link set lo up\n\
         dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
           --listen-address=127.0.0.1 --port=53 --pid-file= --log-facility=- {records} 2>/dev/null &\n\
         dns=$!\n\
         trap 'kill $dns' EXIT\n\
         i=0\n\
         until getent hosts crawl-66-249-66-1.googlebot.com >/dev/null; do\n\
           i=$((i + 1)); [ $i -lt 100 ] || exit 3; sleep 0.05\n\
         done\n\
         set +e\n",
        w = work.display()
    );
    for (addr, _, _) in CASES {
        // As ferroban runs it: the parsed address replaces <ip>, then sh -c.
        let run = command.replace("<ip>", addr);
        script.push_str(&format!(
            "/bin/sh -c '{run}' </dev/null >/dev/null 2>&1; echo \"{addr} $?\"\n"
        ));
    }
    let path = work.join("driver.sh");
    std::fs::write(&path, script).unwrap();
    path
}

#[test]
fn only_addresses_whose_dns_proves_google_are_spared() {
    if !is_root() || !have("unshare") || !have("dnsmasq") {
        eprintln!(
            "SKIPPED only_addresses_whose_dns_proves_google_are_spared: needs root, unshare and dnsmasq (apt-get install dnsmasq-base)"
        );
        return;
    }
    let work = std::env::temp_dir().join(format!("ferroban-googlebot-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let command = configured_ignorecommand(&work);
    let out = Command::new("unshare")
        .args(["--mount", "--net", "sh"])
        .arg(driver(&work, &command))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&work).ok();
    assert!(
        out.status.success(),
        "the private DNS did not come up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers = String::from_utf8_lossy(&out.stdout);
    for (addr, what, spared) in CASES {
        let status = answers
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{addr} ")))
            .unwrap_or_else(|| panic!("no answer for {addr}: {answers}"));
        let expected = if *spared { "0" } else { "1" };
        assert_eq!(status, expected, "{addr} ({what})");
    }
}

#[test]
fn anything_but_an_address_is_refused_before_any_lookup() {
    let script = Path::new(CONFIG).join("filter.d/ignorecommands/apache-fakegooglebot");
    for bad in ["", "x;reboot", "$(id)", "-h", "66.249.66.1 2>/tmp/x"] {
        let out = Command::new(&script).arg(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}
