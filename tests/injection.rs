//! Log injection against the shipped filters (config/filter.d): text a client
//! chooses — a user name, a URL, a user agent, a forged second line, thousands of
//! addresses, a megabyte of junk, bytes that are not UTF-8 — never chooses the
//! address that is counted.

mod common;

use std::io::Write;

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
    let hosts = common::own_filter_hosts(env!("CARGO_BIN_EXE_ferroban"), filter, &path);
    std::fs::remove_dir_all(&dir).ok();
    hosts
        .into_iter()
        .filter(|h| h.parse::<std::net::IpAddr>().is_ok())
        .collect()
}

const REAL: &str = "198.51.100.77";

/// Every (filter, log line) counts one failure, for [`REAL`].
fn each_counts_only_real(cases: &[(&str, String)]) {
    for (filter, log) in cases {
        assert_eq!(hosts(filter, log.as_bytes()), vec![REAL], "{filter}");
    }
}

/// No (filter, log line) counts a failure.
fn each_counts_nothing(cases: &[(&str, String)]) {
    for (filter, log) in cases {
        assert!(hosts(filter, log.as_bytes()).is_empty(), "{filter}");
    }
}

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
fn issue_15_web_filters_count_the_connection_not_the_request() {
    let cases = [
        ("lighttpd-auth", format!("2005-07-02 10:00:01: (mod_auth.c.528) password doesn't match for /x username: a, IP: 1.2.3.4, IP: {REAL}\n")),
        ("haproxy-http-auth", format!("Jul  2 10:00:01 lb haproxy[1]: {REAL}:5000 [02/Jul/2005:10:00:01.000] www www/<NOSRV> -1/-1/-1/-1/0 401 263 - - PR-- 1/1/0/0/0 0/0 \"GET /?1.2.3.4:5000 HTTP/1.1\"\n")),
        ("apache-badbots", format!("{REAL} - - [02/Jul/2005:10:00:01 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"EmailWolf 1.2.3.4 - - [x] \\\"GET / HTTP/1.1\\\" 200 1\"\n")),
        ("apache-modsecurity", format!("[Sat Jul 02 10:00:01 2005] [error] [client {REAL}] ModSecurity: Access denied with code 403 (phase 2). [uri \"/[client 1.2.3.4]\"]\n")),
        ("php-url-fopen", format!("{REAL} - - [02/Jul/2005:10:00:01 +0000] \"GET /?f=http://1.2.3.4/ HTTP/1.1\" 200 1 \"1.2.3.4 - - [x]\" \"-\"\n")),
    ];
    each_counts_only_real(&cases);
}

#[test]
fn issue_15_mail_filters_count_the_client_not_the_user_or_the_envelope() {
    let cases = [
        ("courier-auth", format!("Jul  2 10:00:01 m imapd: LOGIN FAILED, user=x, ip=[1.2.3.4], port=[1], ip=[::ffff:{REAL}], port=[2]\n")),
        ("sendmail-auth", format!("Jul  2 10:00:01 m sm-mta[1]: 162CA1aB000001: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=x, relay=[1.2.3.4], relay=[{REAL}]\n")),
        ("exim", format!("2005-07-02 10:00:01 SMTP protocol error in \"AUTH x\" H=(a) [1.2.3.4] AUTH command used when not advertised\" H=(b) [{REAL}] AUTH command used when not advertised\n")),
        ("exim-spam", format!("2005-07-02 10:00:01 1dRlZa-0002B0-Ad SA: Action: silently tossed message: score=40.0 required=5.0 (scanned in 1/1 secs | Message-Id: x). From <a> (host=y [1.2.3.4]) for z). From <b> (host=NULL [{REAL}]) for r@example.org\n")),
        ("sieve", format!("Jul  2 10:00:01 m cyrus/timsieved[1]: badlogin: x[{REAL}] [1.2.3.4] authentication failure\n")),
    ];
    each_counts_only_real(&cases);
    // Where client text stands on both sides of the host, or an envelope address
    // would have to hold a space to carry one, the line is not read at all.
    let ambiguous = [
        ("exim", format!("2005-07-02 10:00:01 SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected \"RSET\" H=(a) [1.2.3.4]:1 I=[10.0.0.1]:25 next input=\"\" H=(b) [{REAL}]:2 I=[10.0.0.1]:25 next input=\"QUIT\"\n")),
        ("sendmail-reject", format!("Jul  2 10:00:01 m sm-mta[1]: 162CA1aB000001: ruleset=check_rcpt, arg1=<\"a, relay=[1.2.3.4], reject=550 5.7.1 <a@b>... Relaying denied. x\"@b>, relay=[{REAL}], reject=550 5.7.1 <\"a\"@b>... Relaying denied. Proper authentication required.\n")),
        ("exim-spam", format!("2005-07-02 10:00:01 1dRlZa-0002B0-Ae F=<\"a H=(x) [1.2.3.4] P=esmtp rejected by local_scan(): x\"@b> H=(x) [{REAL}] P=esmtp rejected by local_scan(): Rejected\n")),
    ];
    each_counts_nothing(&ambiguous);
}

/// Issue 15, part 4: telephony, mail, directory, chat and panel filters, where
/// the line carries a From header, a caller name, a JID, a URL or a user name.
#[test]
fn issue_15_part_4_filters_count_the_client_not_what_it_sent() {
    let cases = [
        ("asterisk", format!("[2005-07-02 10:00:01] NOTICE[1] chan_sip.c: Registration from '<sip:x' failed for '1.2.3.4' - Wrong password'>' failed for '{REAL}' - Wrong password\n")),
        ("asterisk", format!("[2005-07-02 10:00:01] NOTICE[1] res_pjsip/pjsip_distributor.c: Request from '<sip:x' failed for '1.2.3.4:1' (callid: 1) - Failed to authenticate>' failed for '{REAL}:5060' (callid: 1.2.3.4) - Failed to authenticate\n")),
        ("asterisk", format!("[2005-07-02 10:00:01] SECURITY[1] res_security_log.c: SecurityEvent=\"InvalidAccountID\",EventTV=\"x\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"1\",SessionID=\"\",RemoteAddress=\"IPV4/UDP/1.2.3.4/5060\"\",LocalAddress=\"IPV4/UDP/10.0.0.1/5060\",RemoteAddress=\"IPV4/UDP/{REAL}/5060\"\n")),
        ("freeswitch", format!("2005-07-02 10:00:01.000001 [WARNING] sofia_reg.c:1 Can't find user [x] from 1.2.3.4 @example.org] from {REAL}\n")),
        ("kerio", format!("[02/Jul/2005 10:00:01] Attempt to deliver to unknown recipient <a>, from <b>, IP address 1.2.3.4>, from <c>, IP address {REAL}\n")),
        ("cyrus-imap", format!("Jul  2 10:00:01 m cyrus/imap[1]: badlogin: x [{REAL}] plaintext badlogin: y [1.2.3.4] SASL(-13): authentication failure: checkpass failed\n")),
        ("solid-pop3d", format!("Jul  2 10:00:01 m solid-pop3d[1]: authentication failed for user x - 1.2.3.4 - {REAL}\n")),
        ("ejabberd-auth", format!("2005-07-02 10:00:01.000 [info] <0.1.0>@ejabberd_c2s:handle_auth_failure:1 (tls|<0.2.0>) Failed c2s PLAIN authentication for x@1.2.3.4:from:1.2.3.4 from ::FFFF:{REAL}: Invalid username or password\n")),
        ("drupal-auth", format!("Jul  2 10:00:01 w drupal: https://example.org|1|user|{REAL}|https://example.org/?a=|user|1.2.3.4||https://example.org/|0||Login attempt failed for admin.\n")),
        ("uwimap-auth", format!("Jul  2 10:00:01 m imapd[1]: Login failed user=x host=a [1.2.3.4] auth=x host=b [{REAL}]\n")),
        ("domino-smtp", format!("2005-07-02 10:00:01   smtp: x [1.2.3.4] authentication failure using internet password [{REAL}] authentication failure using internet password\n")),
        ("znc-adminlog", format!("[2005-07-02 10:00:01] [x] failed to login from 1.2.3.4] failed to login from {REAL}\n")),
        ("mssql-auth", format!("2005-07-02 10:00:01.00 Logon       Login failed for user 'x'. Reason: y [CLIENT: 1.2.3.4]'. Reason: z. [CLIENT: {REAL}]\n")),
        ("sogo-auth", format!("Jul  2 10:00:01 sogod [1]: SOGoRootPage Login from '1.2.3.4, {REAL}' for user 'x' might not have worked - password policy: 65535  grace: -1  expire: -1  bound: 0\n")),
        ("suhosin", format!("Jul  2 10:00:01 w suhosin[1]: ALERT - dropped variable 'x' (attacker '1.2.3.4', file '/a')' (attacker '{REAL}', file '/var/www/index.php')\n")),
        ("screensharingd", format!("Jul  2 10:00:01 mac screensharingd[1]: Authentication: FAILED :: User Name: x :: Viewer Address: 1.2.3.4 :: Type: DH :: Viewer Address: {REAL} :: Type: DH\n")),
        ("nsd", format!("[2005-07-02 10:00:01.000] nsd[1]: info: ratelimit block query 1.2.3.4 TYPE255 type any target 10.0.0.0/24 query {REAL} TYPE255\n")),
        ("murmur", format!("<W>2005-07-02 10:00:01.000 1 => <1:x(-1)> Rejected connection from 1.2.3.4:1: Invalid server password(-1)> Rejected connection from {REAL}:2: Invalid server password\n")),
        ("zoneminder", format!("[Sat Jul 02 10:00:01.000001 2005] [php:notice] [pid 1] [client {REAL}:1] ERR [Login denied for user \"[client 1.2.3.4:1]\"], referer: x\n")),
        ("horde", format!("Jul  2 10:00:01 HORDE [error] [horde] FAILED LOGIN for x [1.2.3.4] to Horde [on line 1 of \"/a\"] [{REAL}] to Horde [on line 116 of \"/usr/share/horde/login.php\"]\n")),
        ("tine20", format!("1 2 -- none -- - 2005-07-02T10:00:01+00:00 WARN (4): Tinebase_Controller::login::106 Login with username x from 1.2.3.4 failed (-1)! from {REAL} failed (-1)!\n")),
        ("softethervpn", format!("2005-07-02 10:00:01.000 Connection \"CID-1\": User authentication failed. The user name that has been provided was \"x\", from 1.2.3.4.\", from {REAL}.\n")),
        ("groupoffice", format!("[2005-07-02 10:00:01]LOGIN FAILED for user: \"x\" from IP: 1.2.3.4\" from IP: {REAL}\n")),
        ("counter-strike", format!("L 07/02/2005 - 10:00:01: Bad Rcon: \"rcon 1 \"x\" from \"1.2.3.4:1\"\" from \"{REAL}:27005\"\n")),
        ("squirrelmail", format!("07/02/2005 10:00:01 [LOGIN_ERROR] x from 1.2.3.4: Unknown user or password incorrect. (d) from {REAL}: Unknown user or password incorrect.\n")),
        ("portsentry", format!("1120291201 - 07/02/2005 10:00:01 Host: 1.2.3.4/{REAL} Port: 1 TCP Blocked\n")),
        ("monitorix", format!("Sat Jul 02 10:00:01 2005 - NOTEXIST - [{REAL}] File does not exist: /x - NOTEXIST - [1.2.3.4] File does not exist: /y\n")),
    ];
    each_counts_only_real(&cases);
    // Where client text stands on both sides of the address (a caller name and
    // an extension; a forwarded list and a user name), a quote in it stops the
    // line from being read at all.
    let ambiguous = [
        ("asterisk", format!("[2005-07-02 10:00:01] NOTICE[1] chan_sip.c: Call from 'x' ({REAL}:5060) to extension '1' (1.2.3.4:1) to extension '1' rejected because extension not found in context 'public'.\n")),
        ("sogo-auth", format!("Jul  2 10:00:01 sogod [1]: SOGoRootPage Login from '1.2.3.4' for user 'x' might not have worked - password policy: 1  grace: 1  expire: 1  bound: 0, {REAL}' for user 'y' might not have worked - password policy: 65535  grace: -1  expire: -1  bound: 0\n")),
    ];
    each_counts_nothing(&ambiguous);
}

/// Two sample lines (config/samples/courier-auth and config/samples/exim) where
/// Fail2ban's stock filter counts an address the client wrote: a user name that
/// carries "ip=[ADDR]", and a pipelining error whose client-chosen command holds
/// a quote. ferroban counts the real client, or (where the line is ambiguous)
/// nothing.
#[test]
fn stock_courier_and_exim_filters_let_the_client_choose_the_address() {
    let cases = [
        (
            "courier-auth",
            "Jul  2 13:10:05 mail imapd: LOGIN FAILED, user=x, ip=[203.0.113.16], port=[1], ip=[::ffff:192.0.2.163], port=[50000]",
            vec!["192.0.2.163"],
            "203.0.113.16",
        ),
        (
            "exim",
            "2005-07-02 15:10:11 [8106] SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected \"RSET\" H=(x) [203.0.113.24]:1 I=[198.51.100.1]:25 next input=\"\" H=(x) [192.0.2.219]:50219 I=[198.51.100.1]:25 next input=\"QUIT\\r\\n\"",
            vec![],
            "203.0.113.24",
        ),
    ];
    for (filter, line, ours, forged) in cases {
        let samples = std::fs::read_to_string(format!(
            "{}/config/samples/{filter}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(
            samples.lines().any(|l| l == line),
            "{filter}: a sample line"
        );
        assert_eq!(
            hosts(filter, format!("{line}\n").as_bytes()),
            ours,
            "{filter}"
        );
        let dir = std::env::temp_dir().join(format!(
            "ferroban-stock-inject-{filter}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("forged.log");
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let stock = common::stock_filter_hosts(filter, &path);
        std::fs::remove_dir_all(&dir).ok();
        if let Some(stock) = stock {
            assert_eq!(
                stock,
                vec![forged],
                "{filter}: stock counts the forged address"
            );
        }
    }
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

/// The lines of config/samples marked `# stock bans: ADDR`: where Fail2ban's
/// stock filter of the same name lets a client choose the address. Each is
/// run through the real fail2ban-regex with the installed stock filter, which
/// must ban ADDR, and through ferroban's filter, which must ban the address
/// the line's failJSON names instead.
#[test]
fn where_stock_filters_let_a_client_choose_the_address_ferroban_does_not() {
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/config/samples");
    let mut checked = 0;
    for entry in std::fs::read_dir(samples).unwrap() {
        let path = entry.unwrap().path();
        let filter = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut stock_host = None;
        let mut own_host = None;
        for line in text.lines() {
            if let Some(host) = line.strip_prefix("# stock bans: ") {
                stock_host = Some(host.trim().to_string());
            } else if let Some(json) = line.strip_prefix("# failJSON: ") {
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                own_host = v["host"].as_str().map(str::to_string);
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                if let (Some(stock), Some(own)) = (stock_host.take(), own_host.take()) {
                    assert_ne!(stock, own, "{filter}: {line}");
                    let stock_filter = format!("/etc/fail2ban/filter.d/{filter}.conf");
                    let Some(banned) = common::fail2ban_regex_ips([line, stock_filter.as_str()])
                    else {
                        eprintln!(
                            "SKIPPED: fail2ban-regex is not installed (apt-get install fail2ban)"
                        );
                        return;
                    };
                    assert_eq!(banned, vec![stock], "{filter}: {line}");
                    assert_eq!(hosts(&filter, format!("{line}\n").as_bytes()), vec![own]);
                    checked += 1;
                }
                own_host = None;
            }
        }
    }
    assert!(checked > 0, "no sample line is marked `# stock bans:`");
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
