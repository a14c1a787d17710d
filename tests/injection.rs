//! Log injection against the shipped filters (config/filter.d): text a client
//! chooses — a user name, a URL, a user agent, a forged second line, thousands of
//! addresses, a megabyte of junk, bytes that are not UTF-8 — never chooses the
//! address that is counted.

use std::io::Write;

mod filter_runs;

/// The addresses `ferroban regex --json` reports for `log` (raw bytes) with a
/// shipped filter, one per line that failed. A host that is not an address (a
/// million digits read as a host name) is left out: the daemon never bans one
/// (tests/daemon.rs, bad_log_lines_are_read_past).
fn hosts(filter: &str, log: &[u8]) -> Vec<String> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("ferroban-inject-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hostile.log");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(log)
        .unwrap();
    let found = filter_runs::own_filter_hosts(filter, &path);
    std::fs::remove_dir_all(&dir).ok();
    found
        .into_iter()
        .filter(|h| h.parse::<std::net::IpAddr>().is_ok())
        .collect()
}

const REAL: &str = "198.51.100.77";

#[test]
fn sshd_counts_the_client_whatever_the_user_name_holds() {
    let many: Vec<String> = (0..3000)
        .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
        .collect();
    let log = [
        format!("Jul  2 10:00:01 h sshd[1]: Failed password for invalid user 1.2.3.4 from {REAL} port 22 ssh2"),
        format!("Jul  2 10:00:02 h sshd[1]: Failed password for invalid user x from 1.2.3.4 port 22 ssh2 from {REAL} port 22 ssh2"),
        // A forged second line, as rsyslog writes a newline in a user name.
        format!("Jul  2 10:00:03 h sshd[1]: Invalid user a#012Jul  2 10:00:03 h sshd[2]: Failed password for root from 1.2.3.4 port 1 ssh2 from {REAL} port 22"),
        format!("Jul  2 10:00:04 h sshd[1]: Failed password for invalid user {} from {REAL} port 22 ssh2", many.join(" ")),
    ]
    .join("\n")
        + "\n";
    assert_eq!(hosts("sshd", log.as_bytes()), vec![REAL; 4]);
}

#[test]
fn web_filters_count_the_connection_not_the_request() {
    let hook = format!(
        "[Sat Jul 02 10:00:01.000000 2005] [php:notice] [pid 1] [client {REAL}:5000] WP-LOGIN-FAIL user=x ip=1.2.3.4 ip=5.6.7.8 ua=a ip=9.9.9.9 b\n"
    );
    assert_eq!(hosts("wordpress-auth-hook", hook.as_bytes()), vec![REAL]);
    let envscan = format!(
        "{REAL} - - [02/Jul/2005:10:00:01 +0000] \"GET /.env?a=+from+1.2.3.4 HTTP/1.1\" 404 1 \"1.2.3.4 - - [x] \\\"GET /.env HTTP/1.1\\\" 404\" \"5.6.7.8\"\n"
    );
    assert_eq!(hosts("apache-envscan", envscan.as_bytes()), vec![REAL]);
    let nginx = format!(
        "2005/07/02 10:00:01 [error] 1#1: *1 user \"a\": password mismatch, client: 1.2.3.4, server: x, request: \"GET / HTTP/1.1\", host: \"x\"\": password mismatch, client: {REAL}, server: s, request: \"GET / HTTP/1.1\", host: \"s\"\n"
    );
    assert_eq!(hosts("nginx-http-auth", nginx.as_bytes()), vec![REAL]);
}

#[test]
fn junk_lines_are_read_past_and_the_next_real_one_counts() {
    let mut log = Vec::new();
    log.extend_from_slice(b"Jul  2 10:00:01 h sshd[1]: Failed password for root from ");
    log.extend(std::iter::repeat_n(b'9', 1 << 20)); // a megabyte of digits
    log.extend_from_slice(b" port 22 ssh2\n");
    log.extend_from_slice(b"Jul  2 10:00:02 h sshd[1]: Failed password for \xff\xfe\0\x01 from 1.2.3.4\0 port 22 ssh2\n");
    log.extend_from_slice(b"\0\0\0\xc3\x28\n");
    log.extend_from_slice(format!("Jul  2 10:00:03 h sshd[1]: Failed password for \u{0}x\u{7f} from {REAL} port 22 ssh2\n").as_bytes());
    assert_eq!(hosts("sshd", &log), vec![REAL]);
}

/// The one kind of line where ferroban's sshd filter and Fail2ban's stock one
/// disagree on the corpus: a password failure of an invalid user with text after
/// "ssh2". sshd appends nothing after a password failure, so that text is the end
/// of the user name the client chose, and the client is the last address. The
/// stock filter bans the first one, which the client wrote (the line is in
/// config/samples/sshd, with this explanation).
#[test]
fn stock_sshd_lets_the_user_name_choose_the_address() {
    let line = "Jul  2 10:00:23 web1 sshd[4123]: Failed password for invalid user x from 198.51.100.33 port 5558 ssh2: from 192.0.2.97 port 1 ssh2";
    let samples =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/samples/sshd"))
            .unwrap();
    assert!(samples.lines().any(|l| l == line), "the line is a sample");
    assert_eq!(
        hosts("sshd", format!("{line}\n").as_bytes()),
        vec!["192.0.2.97"]
    );
    let dir = std::env::temp_dir().join(format!("ferroban-stock-inject-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sshd.log");
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let stock = filter_runs::stock_filter_hosts("sshd", &path);
    std::fs::remove_dir_all(&dir).ok();
    if let Some(stock) = stock {
        assert_eq!(
            stock,
            vec!["198.51.100.33"],
            "stock bans the address in the user name"
        );
    }
}

/// nginx writes the decoded URL as the file name of a failed open(): quotes and a
/// fake "client:" in it do not choose the address.
#[test]
fn nginx_botsearch_counts_the_client_not_the_file_name() {
    let log = format!(
        "2005/07/02 14:00:11 [error] 8#8: *5 open() \"/var/www/html/pma\" failed (2: No such file or directory), client: 1.2.3.4, server: x, request: \"GET /pma HTTP/1.1\", host: \"x\"\" failed (2: No such file or directory), client: {REAL}, server: s, request: \"GET /pma%22 HTTP/1.1\", host: \"s\"\n"
    );
    assert_eq!(hosts("nginx-botsearch", log.as_bytes()), vec![REAL]);
}
