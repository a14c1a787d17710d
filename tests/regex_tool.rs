//! The filter tester end to end: the guide's jails (the vps-hardening profile, with
//! the shipped filters) on the guide's log lines.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

/// The report `program ARGS` prints (in the crate's directory), without its
/// "[processed in …]" line: the one that differs from run to run.
fn report_of(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    without_timing(&out.stdout)
}

/// A report's text without its "[processed in …]" line.
fn without_timing(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.starts_with("[processed in"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn ferroban(args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroban"))
        .args(args)
        .env("TZ", "UTC")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ferroban runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn json_hosts(log: &str, filter: &str) -> Vec<(u64, String, f64)> {
    let (out, err, ok) = ferroban(&[
        "regex",
        "--json",
        "--now",
        "1780000000",
        "-c",
        "examples/vps-hardening",
        log,
        filter,
    ]);
    assert!(ok, "{err}");
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["lineno"].as_u64().unwrap(),
                v["host"].as_str().unwrap().to_string(),
                v["time"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn wordpress_auth_matches_403_logins_only() {
    let hits = json_hosts("examples/logs/access.log", "wordpress-auth");
    let lines: Vec<u64> = hits.iter().map(|h| h.0).collect();
    assert_eq!(lines, vec![2, 3, 5, 8]);
    assert_eq!(hits[0].1, "203.0.113.10");
    assert_eq!(hits[3].1, "2001:db8::5");
    // 23/Feb/2026:10:49:02 +0900
    assert_eq!(hits[0].2, 1771811342.0);
}

#[test]
fn envscan_hook_and_mail_filters() {
    let hits = json_hosts("examples/logs/access.log", "apache-envscan");
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![6, 7]);
    let hits = json_hosts("examples/logs/error.log", "wordpress-auth-hook");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].1, "172.29.112.1");
    let sasl = json_hosts("examples/logs/mail.log", "postfix-sasl");
    assert_eq!(sasl.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1]);
    // 2026-02-08T00:00:12.443401+09:00
    assert_eq!(sasl[0].2, 1770476412.0);
    let proto = json_hosts("examples/logs/mail.log", "postfix-protocol");
    assert_eq!(proto.iter().map(|h| h.0).collect::<Vec<_>>(), vec![3, 4]);
    let screen = json_hosts("examples/logs/mail.log", "postfix-postscreen");
    assert_eq!(
        screen
            .iter()
            .map(|h| (h.0, h.1.as_str()))
            .collect::<Vec<_>>(),
        vec![(5, "198.51.100.25")]
    );
}

#[test]
fn report_has_fail2ban_regex_layout() {
    let args = [
        "regex",
        "-c",
        "examples/config",
        "examples/logs/access.log",
        "wordpress-auth",
    ];
    let (out, err, ok) = ferroban(&args);
    assert!(ok, "{err}");
    // By default the lines without "login" are not date-checked, and the report says
    // how many: all 8 but the 7 whose date was read (the 4 tested, and the 3 skipped
    // ones each right before a tested line, whose date it may borrow). It said 3.
    assert!(out.contains("|  [7] Day"), "{out}");
    assert!(
        out.contains("[1 line without the filter's literals was not date-checked"),
        "{out}"
    );
    // comments and empty lines are no lines, skipped or not (Fail2ban's sample logs
    // are half comments: the note said 368 lines of a 148-line log)
    let dir = std::env::temp_dir().join(format!("ferroban-rt-skip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("commented.log");
    let access = std::fs::read_to_string("examples/logs/access.log").unwrap();
    let commented: String = access
        .lines()
        .map(|l| format!("# a comment\n\n{l}\n"))
        .collect();
    std::fs::write(&log, commented).unwrap();
    let with_comments = [&args[..3], &[log.to_str().unwrap(), args[4]]].concat();
    let (commented_out, err, ok) = ferroban(&with_comments);
    assert!(ok, "{err}");
    assert!(
        commented_out.contains("|  [5] Day")
            && commented_out
                .contains("[3 lines without the filter's literals were not date-checked"),
        "{commented_out}"
    );
    std::fs::remove_dir_all(&dir).ok();
    let (out, err, ok) = ferroban(&[&args[..], &["--no-prefilter"]].concat());
    assert!(ok, "{err}");
    assert!(!out.contains("not date-checked"), "{out}");
    assert!(
        out.contains("Use   failregex filter file : wordpress-auth, basedir: examples/config"),
        "{out}"
    );
    assert!(out.contains("Failregex: 4 total"), "{out}");
    assert!(out.contains("|  [8] Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?"), "{out}");
    assert!(
        out.contains("Lines: 8 lines, 0 ignored, 4 matched, 4 missed"),
        "{out}"
    );
}

#[test]
fn single_line_and_regex_string() {
    let line = "203.0.113.9 - - [23/Feb/2026:10:49:02 +0900] \"POST /wp-login.php HTTP/1.1\" 403 1";
    let (out, _, ok) = ferroban(&["regex", "-o", "ip", line, r"^<HOST> .* 403 \d+$"]);
    assert!(ok);
    assert_eq!(out.trim(), "203.0.113.9");
}

/// A fresh scratch directory for one test.
fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferroban-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_filter_is_a_clear_error() {
    let dir = scratch_dir("badfilter");
    std::fs::create_dir_all(dir.join("filter.d")).unwrap();
    let check = |text: &str| -> String {
        std::fs::write(dir.join("filter.d/bad.conf"), text).unwrap();
        let (_, err, ok) = ferroban(&["regex", "-c", dir.to_str().unwrap(), "x", "bad"]);
        assert!(!ok, "{text:?} was accepted");
        err
    };
    // BOM accepted; the bad interpolation on line 3 is reported with file and line.
    let err = check("\u{feff}[Definition]\n\nfailregex = %(nope)s <HOST>\n");
    assert!(err.contains("bad.conf:3"), "{err}");
    assert!(err.contains("nope"), "{err}");
    let err = check("[Definition]\nfailregex = ^(unclosed <HOST>\n");
    // counted from 1, as check counts it, and the regex's error said once
    assert!(err.contains("failregex 1: "), "{err}");
    assert_eq!(err.matches("unterminated").count(), 1, "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn hostile_line_is_given_up_and_counted() {
    // A look-behind that never holds makes the back-tracking engine try every way of
    // splitting the a's; the step bound cuts it off, the line counts as not matching
    // and the tester says so.
    let line = format!("{}b 192.0.2.1", "a".repeat(20_000));
    let (out, err, ok) = ferroban(&["regex", "--json", &line, r"^(a|aa)+(?<!a)b <HOST>"]);
    assert!(ok, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("1 regex search(es) given up"), "{err}");
}

/// A Latin-1 user name in a UTF-8 log: each byte that is not UTF-8 becomes U+FFFD,
/// as in fail2ban-regex's row (Python's `errors='replace'`) and in the daemon. The
/// tester read such a line as Latin-1 (`jérôme`), so its row differed.
#[test]
fn rows_of_a_line_that_is_not_utf8_are_fail2ban_regex_s() {
    let Some(reference) = fail2ban_regex_with_stock_sshd() else {
        return;
    };
    let dir = scratch_dir("latin-rows");
    let log = dir.join("auth.log");
    std::fs::write(
        &log,
        b"Dec  6 10:00:01 host sshd[123]: Failed password for invalid user j\xe9r\xf4me from 192.0.2.9 port 5555 ssh2\n",
    )
    .unwrap();
    let log = log.to_string_lossy().into_owned();
    let args = ["-c", "/etc/fail2ban", "-o", "row", &log, "sshd"];
    let theirs = reference_output(&reference, &args);
    let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
    assert!(ok, "{err}");
    let theirs = rows_as_python_reads_them(&theirs);
    assert!(
        theirs.contains("('user', 'j\u{fffd}r\u{fffd}me')"),
        "{theirs}"
    );
    assert_eq!(rows_as_python_reads_them(ours.as_bytes()), theirs);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn undecodable_line_is_read_not_dropped() {
    // Bytes that are not UTF-8 are replaced, so the rest of the line still counts.
    let dir = scratch_dir("badbytes");
    let log = dir.join("access.log");
    let mut bytes =
        b"203.0.113.7 - - [23/Feb/2026:10:49:02 +0900] \"POST /wp-login.php?u=".to_vec();
    bytes.extend_from_slice(b"\xff\xfe HTTP/1.1\" 403 1\nnot a log line \xc3\n");
    std::fs::write(&log, bytes).unwrap();
    let (out, err, ok) = ferroban(&[
        "regex",
        "-c",
        "examples/config",
        log.to_str().unwrap(),
        "wordpress-auth",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Lines: 2 lines, 0 ignored, 1 matched, 1 missed"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_utf8_log_is_read_by_its_encoding_and_without_its_crlf() {
    // A log of valid UTF-8 is read a block at a time; each line still loses its CRLF,
    // and `--encoding latin1` still reads every byte as one character (as Python does).
    let dir = scratch_dir("encodings");
    let log = dir.join("auth.log");
    std::fs::write(
        &log,
        "2026-02-23 10:49:02 auth failed for jos\u{e9} from 192.0.2.7\r\n\
         2026-02-23 10:49:03 auth failed for ana from 192.0.2.8\r\n",
    )
    .unwrap();
    let users = |extra: &[&str]| {
        let mut args = vec!["regex", "-o", "<F-USER> <ip>"];
        args.extend_from_slice(extra);
        args.extend([
            log.to_str().unwrap(),
            r"^ auth failed for <F-USER>\S+</F-USER> from <HOST>$",
        ]);
        let (out, err, ok) = ferroban(&args);
        assert!(ok, "{err}");
        out
    };
    assert_eq!(users(&[]), "jos\u{e9} 192.0.2.7\nana 192.0.2.8\n");
    assert_eq!(
        users(&["--encoding", "latin1"]),
        "jos\u{c3}\u{a9} 192.0.2.7\nana 192.0.2.8\n"
    );
    assert_eq!(
        users(&["-e", "ISO-8859-1"]),
        users(&["--encoding", "latin1"])
    );
    // an encoding it cannot read is refused, not read as UTF-8 under that name
    for unknown in ["foo", "cp1252"] {
        let (_, err, ok) =
            ferroban(&["regex", "-e", unknown, log.to_str().unwrap(), "from <HOST>"]);
        assert!(!ok, "-e {unknown}");
        assert!(
            err.contains(&format!("encoding {unknown:?} is not supported")),
            "{err}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn invoked_as_fail2ban_regex() {
    let dir = scratch_dir("argv0");
    let link = dir.join("fail2ban-regex");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ferroban"), &link).unwrap();
    let out = Command::new(&link)
        .args([
            "-c",
            "examples/config",
            "examples/logs/error.log",
            "wordpress-auth-hook",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Lines: 2 lines, 0 ignored, 1 matched, 1 missed"),
        "{text}"
    );
    // Under Fail2ban's name, Fail2ban's report exactly: every line date-checked,
    // with no option (`ferroban regex` needs --no-prefilter for that).
    if let Some(reference) = fail2ban_regex() {
        let args = [
            "examples/logs/access.log",
            "examples/config/filter.d/wordpress-auth.conf",
        ];
        let report = |program: &Path| {
            let out = Command::new(program)
                .args(args)
                .env("TZ", "UTC")
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            without_timing(&out.stdout)
        };
        let ours = report(&link);
        assert!(!ours.contains("not date-checked"), "{ours}");
        assert_eq!(ours, report(&reference));
        // --version's words are Fail2ban's, then which program this is
        let version = |program: &Path| {
            let out = Command::new(program).arg("--version").output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let (ours, theirs) = (version(&link), version(&reference));
        let first = theirs.lines().next().unwrap_or_default();
        assert!(
            ours.starts_with(&format!("{first} (ferroban ")),
            "{ours} / {theirs}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `-o` templates print what fail2ban-regex prints: `<time>` as Python's float
/// (`1771842542.0`, and a fraction when the date has one) or, for a date in a known
/// zone, its int (`1771842542`), the address, a group.
#[test]
fn output_templates_as_fail2ban_regex() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let dir = scratch_dir("out-templates");
    let log = dir.join("app.log");
    std::fs::write(
        &log,
        "2026-02-23 10:49:02 auth failed for ana from 192.0.2.7\n\
         2026-02-23 10:49:03.250 auth failed for bob from 2001:db8::8\n",
    )
    .unwrap();
    let regex = r"^ auth failed for <F-USER>\S+</F-USER> from <HOST>$";
    for template in ["<time> <ip> <F-USER>", "<fid>\t<time>", "user"] {
        let args = ["-o", template, log.to_str().unwrap(), regex];
        let theirs = reference_output(&reference, &args);
        let (ours, err, ok) = ferroban(&[&["regex"][..], &args[..]].concat());
        assert!(ok, "{err}");
        assert_eq!(ours, String::from_utf8_lossy(&theirs), "-o {template:?}");
    }
    // `--timezone`: the zone of dates that name none. Fail2ban then prints an `int`,
    // its zoned date's Python type, where it prints a `float` without a zone.
    let args = [
        "--timezone",
        "UTC+0200",
        "-o",
        "<time>",
        log.to_str().unwrap(),
        regex,
    ];
    let theirs = reference_output(&reference, &args);
    let (ours, err, ok) = ferroban(&[&["regex"][..], &args[..]].concat());
    assert!(ok, "{err}");
    assert_eq!(ours, String::from_utf8_lossy(&theirs), "--timezone");
    assert!(!ours.contains('.'), "zoned times are whole seconds: {ours}");
    let times = |text: &str| -> Vec<f64> { text.lines().map(|l| l.parse().unwrap()).collect() };
    let ours = times(&ours);
    let utc = [
        "regex",
        "--timezone",
        "UTC",
        "-o",
        "<time>",
        log.to_str().unwrap(),
        regex,
    ];
    let (utc, _, _) = ferroban(&utc);
    let two_hours_before: Vec<f64> = times(&utc).iter().map(|t| t - 7200.0).collect();
    assert_eq!(ours, two_hours_before, "the zone moved the times");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `systemd-journal[journalfiles=…]` as the log: the journal's entries, formatted
/// and dated as Fail2ban's journal backend does, with the filter's `journalmatch`
/// (or `-m`), and the report fail2ban-regex prints for them, line for line. The
/// journal file is written by systemd's own `systemd-journal-remote`.
#[test]
fn journal_entries_as_fail2ban_regex_reads_them() {
    let reference = which("fail2ban-regex");
    let python_systemd = Command::new("/usr/bin/python3")
        .args(["-c", "import systemd.journal"])
        .status()
        .is_ok_and(|s| s.success());
    let remote = Path::new(common::JOURNAL_REMOTE).exists();
    let (Ok(reference), true, true) = (reference, remote, python_systemd) else {
        eprintln!(
            "SKIPPED: needs fail2ban-regex, systemd-journal-remote and python3-systemd \
             (apt-get install fail2ban systemd-journal-remote python3-systemd)"
        );
        return;
    };
    let dir = scratch_dir("journal");
    let journal = dir.join("test.journal");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    // (identifier, more fields, message): one entry whose source gave its own time
    // (5 s before the journal got it), and a kernel line (no pid) with its time
    // since boot
    let source_time = format!("_SOURCE_REALTIME_TIMESTAMP={}\n", now_us - 5_000_000);
    let entries = [
        (
            "sshd",
            "_PID=800\n_SYSTEMD_UNIT=sshd.service\n",
            "Failed password for root from 192.0.2.70 port 51022 ssh2",
        ),
        (
            "sshd",
            "_PID=801\n_SYSTEMD_UNIT=sshd.service\n",
            "Invalid user admin from 192.0.2.71 port 4242",
        ),
        (
            "sshd",
            &format!("_PID=802\n_SYSTEMD_UNIT=sshd.service\n{source_time}"),
            "Connection closed by 192.0.2.72 port 1 [preauth]",
        ),
        (
            "cron",
            "_PID=803\n_SYSTEMD_UNIT=cron.service\n",
            "Failed password for root from 192.0.2.99 port 1 ssh2",
        ),
        (
            "kernel",
            "_SOURCE_MONOTONIC_TIMESTAMP=1234567890\n",
            "IN=eth0 SRC=192.0.2.98 DST=192.0.2.1 PROTO=TCP",
        ),
    ];
    let mut export = String::new();
    for (i, (comm, fields, message)) in entries.iter().enumerate() {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n\
             _HOSTNAME=vps\nSYSLOG_IDENTIFIER={comm}\n{fields}_COMM={comm}\nMESSAGE={message}\n\n",
            now_us + i as u128 * 1000,
            1000 + i,
        ));
    }
    common::write_journal(&journal, &export);
    let log = format!("systemd-journal[journalfiles={}]", journal.display());
    for (extra, filter) in [
        (&[][..], "sshd"),
        (&["-v"], "sshd"),
        (&["--print-all-matched", "--print-all-ignored"], "sshd"),
        (&["-m", "_COMM=cron"], "sshd"),
        (
            &["-m", "SYSLOG_IDENTIFIER=kernel", "--print-all-matched"],
            "kernel: \\[ *\\d+\\.\\d+\\] IN=\\S+ SRC=<HOST>",
        ),
    ] {
        let report = |program: &Path, tool: &[&str]| {
            report_of(program, &[tool, extra, &[&log, filter]].concat())
        };
        let theirs = report(&reference, &[]);
        let ours = report(Path::new(env!("CARGO_BIN_EXE_ferroban")), &["regex"]);
        assert_eq!(ours, theirs, "{extra:?}");
        if extra.is_empty() {
            assert!(
                theirs.contains("Lines: 3 lines, 1 ignored, 2 matched, 0 missed"),
                "the sshd unit's three entries: {theirs}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A journal that cannot be read is an error that names it, not a report of no
/// lines (journalctl's own reason with it).
#[test]
fn a_journal_that_cannot_be_read_is_an_error() {
    if Command::new("journalctl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: journalctl is not installed (apt-get install systemd)");
        return;
    }
    let dir = scratch_dir("no-journal");
    let missing = dir.join("nothing-here");
    let log = format!("systemd-journal[journalpath={}]", missing.display());
    let (out, err, ok) = ferroban(&["regex", &log, "sshd"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("journalctl") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(!out.contains("Lines: 0 lines"), "no report: {out}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `-v` lists what fail2ban-regex `-v` lists: every template, the prefregex's
/// groups of the lines it matched (Python's dict), and under each failregex each
/// match's id and time, pending ones as `None`; line for line, on Fail2ban's own
/// samples of filters with and without a prefregex and multi-line merges.
#[test]
fn verbose_report_is_identical_to_fail2ban_regex() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let corpus = Path::new("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
    for filter in ["sshd", "postfix", "apache-auth", "dovecot", "recidive"] {
        let log = corpus.join(filter);
        let log = log.to_str().unwrap();
        let report = |program: &Path, extra: &[&str]| {
            report_of(
                program,
                &[extra, &["-v", "-c", "/etc/fail2ban", log, filter]].concat(),
            )
        };
        let theirs = report(&reference, &[]);
        assert!(
            theirs.contains("|      {'mlfid'") || filter != "sshd",
            "{theirs}"
        );
        let ours = report(
            Path::new(env!("CARGO_BIN_EXE_ferroban")),
            &["regex", "--no-prefilter"],
        );
        assert_eq!(ours, theirs, "{filter}");
    }
}

/// The report, line for line, against the real fail2ban-regex (Debian package
/// fail2ban, installed by CI): the guide's filters on the bundled logs, and every stock
/// filter on Fail2ban's own sample log. With `--no-prefilter` only the "[processed in
/// …]" line may differ; by default the date template counts may too.
#[test]
fn report_is_identical_to_fail2ban_regex() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let mut cases: Vec<Vec<String>> = [
        &[
            "examples/logs/access.log",
            "examples/config/filter.d/wordpress-auth.conf",
        ][..],
        &[
            "-c",
            "examples/config",
            "examples/logs/mail.log",
            "postfix-postscreen",
        ],
        &[
            "examples/logs/error.log",
            "WP-LOGIN-FAIL user=.* ip=<HOST> .*",
        ],
        &[
            "--print-all-matched",
            "-c",
            "examples/config",
            "examples/logs/access.log",
            "apache-envscan",
        ],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();
    let corpus = Path::new("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
    let mut stock: Vec<String> = std::fs::read_dir("/etc/fail2ban/filter.d")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.path().file_stem()?.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    stock.sort();
    for name in stock.iter().filter(|n| corpus.join(n).is_file()) {
        let log = corpus.join(name).to_string_lossy().into_owned();
        cases.push(vec![
            "-c".into(),
            "/etc/fail2ban".into(),
            log.clone(),
            name.clone(),
        ]);
        // A connection-closing line ends its id unsearched in the daemon's way (stop
        // at the first match, drop what is no failure): sshd's in each mode. The
        // summary counts closes without their data with every failregex tried too,
        // those that are failures (ddos, extra and aggressive mode) among them.
        if name == "sshd" {
            for mode in ["normal", "ddos", "extra", "aggressive"] {
                let filter = format!("sshd[mode={mode}]");
                cases.push(
                    ["--no-check-all", "-c", "/etc/fail2ban", &log, &filter]
                        .map(String::from)
                        .to_vec(),
                );
                if mode != "normal" {
                    cases.push(
                        ["-c", "/etc/fail2ban", &log, &filter]
                            .map(String::from)
                            .to_vec(),
                    );
                }
            }
        }
    }
    assert!(
        cases.len() > 80,
        "the stock filters and their samples are installed"
    );
    let without_dates = |s: &str| -> String {
        let mut in_dates = false;
        s.lines()
            .filter(|l| {
                in_dates =
                    (in_dates || l.starts_with("Date template hits:")) && !l.starts_with('`');
                !in_dates && !l.starts_with('`') && !l.contains("not date-checked") && !l.is_empty()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in &cases {
        let theirs = Command::new(&reference)
            .args(args)
            .env("TZ", "UTC")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let theirs = without_timing(&theirs.stdout);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (exact, err, ok) = ferroban(&[&["regex", "--no-prefilter"], &args[..]].concat());
        assert!(ok, "{err}");
        assert_eq!(without_timing(exact.as_bytes()), theirs, "{args:?}");
        let (fast, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
        assert!(ok, "{err}");
        assert_eq!(
            without_dates(&without_timing(fast.as_bytes())),
            without_dates(&theirs),
            "{args:?}"
        );
    }
}

/// Debian's `fail2ban-regex`, the reference; `None` (the test says it skips) when
/// it is not installed.
fn fail2ban_regex() -> Option<PathBuf> {
    let found = which("fail2ban-regex").ok();
    if found.is_none() {
        eprintln!("SKIPPED: fail2ban-regex is not installed (apt-get install fail2ban)");
    }
    found
}

/// What fail2ban-regex (`reference`) prints with `args`, in UTC as [`ferroban`]
/// runs; it must succeed.
fn reference_output(reference: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(reference)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("fail2ban-regex runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Whether Fail2ban's stock sshd filter is in /etc/fail2ban (else the test says it
/// skips).
fn stock_sshd_filter() -> bool {
    let installed = Path::new("/etc/fail2ban/filter.d/sshd.conf").is_file();
    if !installed {
        eprintln!("SKIPPED: Fail2ban's stock filters are not installed (apt-get install fail2ban)");
    }
    installed
}

/// fail2ban-regex, where Fail2ban's stock sshd filter is installed beside it: what
/// the tests that compare the stock filter with it need (each says when it skips).
fn fail2ban_regex_with_stock_sshd() -> Option<PathBuf> {
    fail2ban_regex().filter(|_| stock_sshd_filter())
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}

/// `-o row` and `-o msg` print fail2ban-regex's rows and matched lines on every stock
/// filter's sample log. Those logs hold comment lines (`# failJSON: …`), which
/// fail2ban-regex never tests, whatever it prints: one in a multi-line filter's
/// buffer would push a real line out of it (ejabberd-auth's two-line failure was
/// missing), and one before a line without a date would lend it its date. Groups a
/// filter names with `__` (mongodb-auth's `__connid`, slapd's `__prefix`) are its
/// own and in the rows. The rows are compared as Python reads them, a dict's keys in
/// the order they were set (Fail2ban's merge of a multi-line failure moves some
/// last), a set's members sorted (Python prints them in the order of their hashes,
/// which vary from run to run), a time as the Python `int` or `float` it is (an `int`
/// where the date had a zone), and one taken from the clock (a line without a date)
/// read as "now".
#[test]
fn rows_and_matched_lines_are_fail2ban_regex_s_on_every_sample_log() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let corpus = Path::new("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
    let mut names: Vec<String> = std::fs::read_dir("/etc/fail2ban/filter.d")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.path().file_stem()?.to_string_lossy().into_owned()))
                .filter(|name| corpus.join(name).is_file())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert!(
        names.len() > 80,
        "the stock filters and their samples are installed"
    );
    let mut rows_seen = 0;
    for name in &names {
        let log = corpus.join(name).to_string_lossy().into_owned();
        for format in ["row", "msg"] {
            let args = ["-c", "/etc/fail2ban", "-o", format, &log, name];
            let theirs = reference_output(&reference, &args);
            let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
            assert!(ok, "{err}");
            if format == "msg" {
                assert_eq!(ours, String::from_utf8_lossy(&theirs), "{name} -o msg");
            } else {
                let theirs = rows_as_python_reads_them(&theirs);
                rows_seen += theirs.lines().count();
                assert_eq!(
                    rows_as_python_reads_them(ours.as_bytes()),
                    theirs,
                    "{name} -o row"
                );
            }
        }
    }
    assert!(rows_seen > 500, "rows compared: {rows_seen}");
}

/// `-o row` output as Python reads it, a row a line: a set's members sorted (Python
/// prints them in the order of their hashes, which vary from run to run), a time as
/// the `int` or `float` it is, and "now" within an hour of now.
fn rows_as_python_reads_them(rows: &[u8]) -> String {
    const AS_PYTHON_READS_IT: &str = r#"
import ast, sys, time
for line in sys.stdin:
    fid, when, data = ast.literal_eval(line.rstrip().rstrip(","))
    if isinstance(when, (int, float)) and abs(when - time.time()) < 3600:
        when = "now"
    items = [(k, sorted(v) if isinstance(v, set) else v) for k, v in data.items()]
    print(repr([fid, when, items]))
"#;
    let mut python = Command::new("python3")
        .args(["-c", AS_PYTHON_READS_IT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    // written from a thread: python answers as it reads, and a large answer would
    // fill its stdout pipe while this side still writes
    let mut stdin = python.stdin.take().unwrap();
    let input = rows.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = python.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(rows));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Write an auth.log of `lines` lines from `scripts/gen-authlog.py` to `log`, its
/// sshd pids wrapping at `pid_max`, and return its text.
fn generated_authlog(log: &std::path::Path, lines: usize, pid_max: usize) -> String {
    let (lines, pid_max) = (lines.to_string(), pid_max.to_string());
    let generated = Command::new("python3")
        .args(["scripts/gen-authlog.py", &lines, "--pid-max", &pid_max])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs the generator");
    assert!(generated.status.success());
    std::fs::write(log, &generated.stdout).unwrap();
    String::from_utf8(generated.stdout).expect("the generator writes UTF-8")
}

/// The rows of sshd's merged connections are fail2ban-regex's, their keys in the
/// order Fail2ban's merge leaves them: on a generated auth.log whose connections
/// fail, log in after a typo, close and reuse pids, in the mode with the most
/// failregexes (normal's merges are a subset).
#[test]
fn rows_of_merged_sshd_connections_are_fail2ban_regex_s() {
    let Some(reference) = fail2ban_regex_with_stock_sshd() else {
        return;
    };
    let dir = scratch_dir("merged-rows");
    let log = dir.join("auth.log");
    generated_authlog(&log, 8000, 3000);
    let log = log.to_string_lossy().into_owned();
    let args = [
        "-c",
        "/etc/fail2ban",
        "-o",
        "row",
        &log,
        "sshd[mode=aggressive]",
    ];
    let theirs = reference_output(&reference, &args);
    let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
    assert!(ok, "{err}");
    let theirs = rows_as_python_reads_them(&theirs);
    // merged rows: a user set (`users`) after the groups of the id's first line
    assert!(theirs.matches("'users'").count() > 500, "{theirs}");
    assert_eq!(rows_as_python_reads_them(ours.as_bytes()), theirs);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A filter whose failures have an id (`<F-ID>`, a user) besides the address, over
/// multi-line connections: Fail2ban keeps the address as `ip` in the dict its
/// connection cache shares, so a later line of the connection starts from it (its
/// row shows `ip` where the first set it, and the first address where it sets
/// none). The rows must be fail2ban-regex's.
#[test]
fn rows_of_failure_ids_with_an_address_are_fail2ban_regex_s() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let dir = scratch_dir("fid-rows");
    let filter = dir.join("fid.conf");
    std::fs::write(
        &filter,
        "[Definition]\n\
         prefregex = ^\\s*<F-MLFID>conn\\d+</F-MLFID> <F-CONTENT>.+</F-CONTENT>$\n\
         failregex = ^login failed user=<F-ID>\\S+</F-ID> from <HOST>$\n\
         \x20           ^login failed user=<F-USER>\\S+</F-USER> again$\n\
         \x20           ^closed<F-NOFAIL></F-NOFAIL>$\n\
         datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S\n",
    )
    .unwrap();
    let log = dir.join("app.log");
    std::fs::write(
        &log,
        "2026-12-04 01:00:00 conn1 login failed user=bob from 192.0.2.1\n\
         2026-12-04 01:00:01 conn1 login failed user=alice again\n\
         2026-12-04 01:00:02 conn1 login failed user=carol from 192.0.2.2\n\
         2026-12-04 01:00:03 conn1 closed\n\
         2026-12-04 01:00:04 conn3 login failed user=bob from 192.0.2.7\n\
         2026-12-04 01:00:05 conn3 login failed user=192.0.2.8 from 192.0.2.8\n\
         2026-12-04 01:00:06 conn3 login failed user=zed again\n\
         2026-12-04 01:00:07 conn4 login failed user=amy from 2001:db8::1\n\
         2026-12-04 01:00:08 conn4 login failed user=2001:db8::1 from 2001:db8::1\n",
    )
    .unwrap();
    let args = ["-o", "row", log.to_str().unwrap(), filter.to_str().unwrap()];
    let theirs = reference_output(&reference, &args);
    let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
    assert!(ok, "{err}");
    // conn3's later rows keep the address its first line set: 192.0.2.7
    assert_eq!(ours.matches("'ip': '192.0.2.7'").count(), 3, "{ours}");
    assert_eq!(ours, String::from_utf8_lossy(&theirs));
    std::fs::remove_dir_all(dir).unwrap();
}

/// sshd reuses pids, and Fail2ban's stock filter keys its multi-line cache by them: a
/// reused pid's `Accepted` line merged into an old connection's failure counts against
/// the legitimate address. On a generated auth.log whose pids repeat (a pid space of
/// 6,000: more than Fail2ban's 100 remembered ids between reuses, fewer than 1,000),
/// the failures per address must be those of the real fail2ban-regex, in the mode that
/// uses the cache most (normal) and the one with the most regexes (aggressive).
#[test]
fn reused_sshd_pids_count_as_in_fail2ban() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let dir = scratch_dir("reused-pids");
    let log = dir.join("auth.log");
    let text = generated_authlog(&log, 40000, 6000);
    assert!(
        accepted_by_pid_of_other_address_failure(&text) > 10,
        "the log reuses pids of failed connections for accepted ones"
    );
    let log = log.to_string_lossy().into_owned();
    let per_address = |out: &[u8]| {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for ip in String::from_utf8_lossy(out).lines() {
            *counts.entry(ip.to_string()).or_default() += 1;
        }
        counts
    };
    // fail2ban-regex's way (every failregex tried), and the daemon's (stop at the
    // first match, drop what is no failure: a closing line may end its id unsearched)
    let ways: [&[&str]; 3] = [
        &["sshd[mode=normal]"],
        &["sshd[mode=aggressive]"],
        &["sshd[mode=normal]", "--no-check-all"],
    ];
    for way in ways {
        let (filter, options) = (way[0], &way[1..]);
        let args = [options, &["-c", "/etc/fail2ban", "-o", "ip", &log, filter]].concat();
        let theirs = reference_output(&reference, &args);
        let (ours, err, ok) = ferroban(&[&["regex", "--no-prefilter"], &args[..]].concat());
        assert!(ok, "{err}");
        let (ours, theirs) = (per_address(ours.as_bytes()), per_address(&theirs));
        assert!(theirs.len() > 50, "{way:?}: {theirs:?}");
        assert_eq!(ours, theirs, "{way:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A connection's lines that name a host instead of an address (sshd with `UseDNS
/// yes`): fail2ban-regex turns each such failure id into addresses, and a name that
/// does not resolve (`.invalid` never does) into none, so the line is not counted.
/// Closes and failures the summary decides without their data must count as such a
/// line does: the summary's `Lines:` and hits are the real fail2ban-regex's in every
/// mode, with closes that follow an address, a name, or nothing of their connection.
#[test]
fn lines_naming_a_host_count_as_in_fail2ban_regex() {
    let Some(reference) = fail2ban_regex_with_stock_sshd() else {
        return;
    };
    let dir = scratch_dir("host-names");
    let log = dir.join("auth.log");
    let lines = [
        // a close alone, before and after authentication
        "sshd[101]: Connection closed by host.example.invalid port 40001 [preauth]",
        "sshd[102]: Connection closed by host.example.invalid port 40002",
        "sshd[103]: Disconnected from host.example.invalid port 40003",
        // a failure that names a host, then its close
        "sshd[104]: Failed password for root from host.example.invalid port 40004 ssh2",
        "sshd[104]: Connection closed by authenticating user root host.example.invalid port 40004 [preauth]",
        // a failure from an address, then a close that names a host: the id is the address
        "sshd[105]: Failed password for root from 192.0.2.5 port 40005 ssh2",
        "sshd[105]: Connection closed by authenticating user root host.example.invalid port 40005 [preauth]",
        "sshd[106]: Failed password for root from 192.0.2.6 port 40006 ssh2",
        "sshd[106]: Disconnected from authenticating user root host.example.invalid port 40006",
        // the same with addresses throughout
        "sshd[107]: Failed password for root from 192.0.2.7 port 40007 ssh2",
        "sshd[107]: Connection closed by authenticating user root 192.0.2.7 port 40007 [preauth]",
        "sshd[108]: Connection closed by 192.0.2.8 port 40008 [preauth]",
        "sshd[109]: Received disconnect from 192.0.2.9 port 40009:11: Bye Bye [preauth]",
        "sshd[109]: Disconnected from 192.0.2.9 port 40009 [preauth]",
        "sshd[110]: Accepted password for root from host.example.invalid port 40010 ssh2",
    ];
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("Mar 19 16:47:{i:02} srv {l}\n"))
        .collect();
    std::fs::write(&log, text).unwrap();
    let log = log.to_string_lossy().into_owned();
    let summary = |out: &[u8]| -> Vec<String> {
        let text = String::from_utf8_lossy(out);
        let counted = |l: &&str| l.starts_with("Lines:") || l.contains(") [");
        text.lines().filter(counted).map(str::to_string).collect()
    };
    for mode in ["normal", "ddos", "extra", "aggressive"] {
        let filter = format!("sshd[mode={mode}]");
        for options in [&[][..], &["--no-check-all"][..]] {
            let args = [options, &["-c", "/etc/fail2ban", &log, &filter]].concat();
            let theirs = summary(&reference_output(&reference, &args));
            let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
            assert!(ok, "{err}");
            assert_eq!(summary(ours.as_bytes()), theirs, "{args:?}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// How many `Accepted` lines come from an sshd pid under which another address failed
/// before (a reused pid: a typo before a login fails from the same address).
fn accepted_by_pid_of_other_address_failure(log: &str) -> usize {
    let mut failed = std::collections::HashMap::<&str, Vec<&str>>::new();
    let mut count = 0;
    for line in log.lines() {
        let Some((_, rest)) = line.split_once(" sshd[") else {
            continue;
        };
        let Some((pid, message)) = rest.split_once("]: ") else {
            continue;
        };
        let from = message
            .split(" from ")
            .nth(1)
            .and_then(|r| r.split(' ').next());
        let Some(address) = from else { continue };
        if message.starts_with("Failed ") {
            failed.entry(pid).or_default().push(address);
        } else if message.starts_with("Accepted ")
            && failed
                .get(pid)
                .is_some_and(|a| a.iter().any(|f| *f != address))
        {
            count += 1;
        }
    }
    count
}

/// A 32,000-character `Failed password for invalid user ab ab …` line: the stock sshd
/// filter's conditional and look-ahead regex runs on the linear engine, so the line
/// is counted, as Fail2ban counts it, and nothing is given up.
#[test]
fn long_client_chosen_user_is_counted_not_given_up() {
    let dir = scratch_dir("long-user");
    let log = dir.join("auth.log");
    let line = format!(
        "Feb 23 10:00:00 vps sshd[123]: Failed password for invalid user {}from 192.0.2.9 port 22 ssh2\n",
        "ab ".repeat(10_700)
    );
    std::fs::write(&log, &line).unwrap();
    let log = log.to_string_lossy().into_owned();
    let args = ["-c", "/etc/fail2ban", "-o", "ip", &log, "sshd"];
    if !stock_sshd_filter() {
        return;
    }
    let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
    assert!(ok, "{err}");
    assert_eq!(ours, "192.0.2.9\n");
    assert!(!err.contains("given up"), "{err}");
    if let Ok(reference) = which("fail2ban-regex") {
        let theirs = Command::new(reference).args(args).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&theirs.stdout), ours);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `-o msg` prints each failure's matched lines, as fail2ban-regex does, also where
/// a connection's failure gathers several lines (the stock sshd filter's multi-line
/// merge): the summary keeps no matched lines, `-o` must keep them all.
#[test]
fn matched_lines_of_merged_failures_as_fail2ban_regex_prints_them() {
    let Some(reference) = fail2ban_regex_with_stock_sshd() else {
        return;
    };
    let dir = scratch_dir("matched-lines");
    let log = dir.join("auth.log");
    std::fs::write(
        &log,
        "Feb 23 00:00:00 vps sshd[301]: Invalid user hadoop from 185.246.108.197 port 64342\n\
         Feb 23 00:00:00 vps sshd[301]: pam_unix(sshd:auth): check pass; user unknown\n\
         Feb 23 00:00:00 vps sshd[301]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=185.246.108.197\n\
         Feb 23 00:00:01 vps sshd[301]: Failed password for invalid user hadoop from 185.246.108.197 port 64342 ssh2\n\
         Feb 23 00:00:02 vps sshd[302]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root\n\
         Feb 23 00:00:03 vps sshd[302]: Failed password for root from 203.0.113.5 port 50022 ssh2\n\
         Feb 23 00:00:04 vps sshd[302]: Failed password for root from 203.0.113.5 port 50022 ssh2\n\
         Feb 23 00:00:05 vps sshd[301]: Connection closed by invalid user hadoop 185.246.108.197 port 64342 [preauth]\n",
    )
    .unwrap();
    let log = log.to_string_lossy().into_owned();
    for template in ["msg", "<ip> <msg>"] {
        let args = ["-c", "/etc/fail2ban", "-o", template, &log, "sshd"];
        let theirs = Command::new(&reference).args(args).output().unwrap();
        let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
        assert!(ok, "{err}");
        assert_eq!(
            ours,
            String::from_utf8_lossy(&theirs.stdout),
            "-o {template:?}"
        );
        // the pam line is no failure by itself: it is printed as a merged one's line
        assert!(ours.contains("authentication failure;"), "{ours}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `ferroban regex … | head -1`: the tool ends on the closed pipe, as `cat` would
/// (killed by SIGPIPE), with nothing on stderr; before, it printed "ERROR: Broken
/// pipe" and exited 255.
#[test]
fn a_reader_that_stops_reading_ends_the_tool_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let dir = scratch_dir("pipe");
    let log = dir.join("access.log");
    // far more output than a pipe holds, so the tool is still writing when the
    // reader goes away
    let line = "203.0.113.7 - - [23/Feb/2026:10:49:02 +0900] \"GET /.env HTTP/1.1\" 404 0\n";
    std::fs::write(&log, line.repeat(20_000)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroban"))
        .args(["regex", "-c", "examples/vps-hardening", "-o", "ip"])
        .arg(&log)
        .arg("apache-envscan")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferroban runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "203.0.113.7\n");
    // the reader is gone (stdout dropped above)
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn lines_across_read_blocks_are_each_read_once_and_an_unfinished_last_one_is_left() {
    // Megabytes of lines (many read blocks), with one line longer than a block, so
    // that lines straddle block ends; the last line has no newline yet.
    let dir = scratch_dir("blocks");
    let log = dir.join("blocks.log");
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..50_000u32 {
        if i == 12_345 {
            text.push_str(&"x".repeat(1_500_000));
            text.push('\n');
        }
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        text.push_str(&format!("auth failure for user{i} from {ip} here\n"));
        expected.push(ip);
    }
    text.push_str("auth failure for late from 192.0.2.1 here");
    assert!(text.len() > 3 << 20);
    std::fs::write(&log, text).unwrap();
    let (out, err, ok) = ferroban(&[
        "regex",
        "-o",
        "ip",
        log.to_str().unwrap(),
        r"^auth failure for \S+ from <HOST> here$",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A filter file's path with options (`/etc/fail2ban/filter.d/sshd.conf[mode=aggressive]`)
/// is that filter with those options, as Debian's fail2ban-regex reads it; before,
/// the path was taken for a regex and refused.
#[test]
fn a_filter_path_with_options_is_read_as_fail2ban_regex_reads_it() {
    let sshd = Path::new("/etc/fail2ban/filter.d/sshd.conf");
    let reference = Path::new("/usr/bin/fail2ban-regex");
    if !sshd.exists() || !reference.exists() {
        eprintln!("SKIPPED: needs Debian's fail2ban (/etc/fail2ban, /usr/bin/fail2ban-regex)");
        return;
    }
    let dir = scratch_dir("pathopts");
    let log = dir.join("auth.log");
    // a kex failure: counted in aggressive mode only
    std::fs::write(
        &log,
        "Dec  2 10:00:01 host sshd[1234]: Failed password for invalid user admin from 192.0.2.10 port 40000 ssh2\n\
         Dec  2 10:00:02 host sshd[1235]: Unable to negotiate with 192.0.2.11 port 40001: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]\n",
    )
    .unwrap();
    let log = log.to_str().unwrap();
    let report = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("Use   ") || l.starts_with("Lines: "))
            .map(str::to_string)
            .collect()
    };
    for filter in [
        "/etc/fail2ban/filter.d/sshd.conf[mode=aggressive]",
        "sshd[mode=aggressive]",
    ] {
        let (ours, err, ok) = ferroban(&["regex", "-c", "/etc/fail2ban", log, filter]);
        assert!(ok, "{filter}: {err}");
        let theirs = Command::new(reference)
            .args([log, filter])
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
        assert_eq!(report(&ours), report(&theirs), "{filter}");
        assert!(
            ours.contains("Use   filter options : {'mode': 'aggressive'}"),
            "{ours}"
        );
        assert!(
            ours.contains("Lines: 2 lines, 0 ignored, 2 matched"),
            "{ours}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

/// The prefilter chooses each failregex's literals by the lines they rule out, over
/// the first 512 lines (in an access log, `HTTP` rules out none; `env` or `php`
/// nearly all), and works with a custom `datepattern` whose date sits after `[`. A
/// failure after that choice must still be found: on a generated access log with
/// probes well past the first 512 lines, the rows are fail2ban-regex's, for
/// ferroban's own filters and Fail2ban's that read such logs.
#[test]
fn rows_past_the_prefilter_s_sample_are_fail2ban_regex_s() {
    let Some(reference) = fail2ban_regex() else {
        return;
    };
    let generated = Command::new("python3")
        .args(["scripts/gen-accesslog.py", "3000"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs the generator");
    assert!(generated.status.success());
    let probes = [
        r#""GET /phpmyadmin/index.php HTTP/1.1" 404 162 "-" "Mozilla/5.0""#,
        r#""GET /index.php?page=http://203.0.113.9/x.txt HTTP/1.1" 200 512 "-" "Mozilla/5.0""#,
        r#""GET /.git/config HTTP/1.1" 404 162 "-" "Mozilla/5.0""#,
    ];
    let mut log_text = String::new();
    for (i, line) in String::from_utf8_lossy(&generated.stdout)
        .lines()
        .enumerate()
    {
        // a probe every 97 lines from line 600 on, in the generated line's place
        let probe = (i >= 600 && i % 97 == 0).then(|| probes[i / 97 % probes.len()]);
        match (probe, line.find('"')) {
            (Some(probe), Some(request)) => {
                log_text.push_str(&format!("{}{probe}", &line[..request]))
            }
            _ => log_text.push_str(line),
        }
        log_text.push('\n');
    }
    let dir = scratch_dir("sampled-prefilter");
    let log = dir.join("access.log");
    std::fs::write(&log, &log_text).unwrap();
    let log = log.to_string_lossy().into_owned();
    let own = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let cases = [
        (own, "apache-envscan"),
        (own, "nginx-botsearch"),
        (own, "php-url-fopen"),
        ("/etc/fail2ban", "nginx-botsearch"),
        ("/etc/fail2ban", "php-url-fopen"),
        ("/etc/fail2ban", "apache-pass"),
    ];
    for (config, filter) in cases {
        let args = ["-c", config, "-o", "row", &log, filter];
        let theirs = reference_output(&reference, &args);
        let (ours, err, ok) = ferroban(&[&["regex"], &args[..]].concat());
        assert!(ok, "{err}");
        let theirs = rows_as_python_reads_them(&theirs);
        if filter != "apache-pass" {
            // every probe of its kind past the sample, and the generator's own
            assert!(theirs.lines().count() >= 8, "{config} {filter}: {theirs}");
        }
        assert_eq!(
            rows_as_python_reads_them(ours.as_bytes()),
            theirs,
            "{config} {filter}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
