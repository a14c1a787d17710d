//! ferroban's command line, described once: the `--help` texts, the man pages and
//! the shell completions are all rendered from [`command`]; and the control
//! protocol ([`protocol`]) that carries the same words from client to server.
//!
//! Owns the names, arguments and help of every subcommand. It does not parse: the
//! binary keeps its own parsers because it must also accept Fail2ban's grammars
//! (`fail2ban-client`, `fail2ban-server`, `fail2ban-regex`) word for word. A test
//! in the binary checks that every subcommand described here is dispatched there.

use clap::{Arg, ArgAction, Command};

pub mod fail2ban_protocol;
pub mod pickle;
pub mod protocol;
pub mod python;

/// The configuration directory option, shared by the client, server and tester.
fn confdir() -> Arg {
    Arg::new("conf")
        .short('c')
        .long("conf")
        .value_name("DIR")
        .help("Configuration directory (default /etc/ferroban, else /etc/fail2ban)")
        .value_hint(clap::ValueHint::DirPath)
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn value(name: &'static str, value_name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).value_name(value_name).help(help)
}

fn words(name: &'static str, value_name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .num_args(0..)
        .value_name(value_name)
        .help(help)
}

/// `ferroban server`: the daemon.
fn server() -> Command {
    Command::new("server")
        .about("Run the daemon (also as `fail2ban-server`)")
        .long_about(
            "Run the daemon: watch the jails' logs and the journal, count failures and ban \
             offenders through the jails' actions. Stays in the foreground; as \
             `fail2ban-server` it detaches unless -f is given. Without root, actions are only \
             logged (dry-run) unless --no-dry-run is given.",
        )
        .arg(confdir())
        .arg(
            Arg::new("socket")
                .short('s')
                .value_name("SOCKET")
                .help("Control socket path"),
        )
        .arg(
            Arg::new("pidfile")
                .short('p')
                .value_name("PIDFILE")
                .help("Pid file path"),
        )
        .arg(
            flag(
                "foreground",
                "Stay in the foreground (the default for `ferroban server`)",
            )
            .short('f'),
        )
        .arg(flag("background", "Detach (the default for `fail2ban-server`)").short('b'))
        .arg(flag("force", "Remove a stale socket without complaint").short('x'))
        .arg(value(
            "logtarget",
            "TARGET",
            "A file, STDOUT, STDERR, SYSLOG or SYSTEMD-JOURNAL",
        ))
        .arg(value(
            "loglevel",
            "LEVEL",
            "CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG or a number (10 is DEBUG)",
        ))
        .arg(value("dbfile", "FILE", "Ban database (:memory: for none)"))
        .arg(flag(
            "dry-run",
            "Log what the actions would do instead of doing it (the default when not root)",
        ))
        .arg(flag("no-dry-run", "Run the actions even when not root"))
        .arg(flag(
            "replay",
            "Read the logs from their start (not from where the last run stopped) and count \
             every failure however old, as if it happened now",
        ))
}

/// `ferroban regex`: the filter tester.
fn regex() -> Command {
    Command::new("regex")
        .about("Test a filter on a log (also as `fail2ban-regex`)")
        .arg(
            Arg::new("log")
                .required(true)
                .value_name("LOG")
                .help("A log file, systemd-journal[journalpath=DIR] (the journal), a single log line, or several lines separated by newlines")
                .value_hint(clap::ValueHint::FilePath),
        )
        .arg(
            Arg::new("filter").required(true).value_name("FILTER").help(
                "A filter name with options (sshd[mode=aggressive]), a filter file, or a regex",
            ),
        )
        .arg(
            Arg::new("ignoreregex")
                .value_name("IGNOREREGEX")
                .help("A regex, or a filter whose ignoreregex is used"),
        )
        .arg(
            Arg::new("config")
                .short('c')
                .long("config")
                .value_name("DIR")
                .help("Configuration directory (default /etc/ferroban, else /etc/fail2ban)"),
        )
        .arg(
            value(
                "datepattern",
                "PATTERN",
                "Date pattern (overrides the filter's)",
            )
            .short('d'),
        )
        .arg(
            value(
                "journalmatch",
                "MATCH",
                "Journal entries to read (FIELD=value [+ …]), instead of the filter's journalmatch",
            )
            .short('m'),
        )
        .arg(value(
            "timezone",
            "ZONE",
            "Zone of dates that name none (UTC, +0200, CET; a jail's logtimezone)",
        ))
        .arg(value("maxlines", "N", "Lines buffered for multi-line regexes").short('L'))
        .arg(
            value(
                "encoding",
                "ENC",
                "Log encoding: utf-8 (the default; bytes that are not UTF-8 are read as Latin-1) or latin-1",
            )
            .short('e'),
        )
        .arg(
            value(
                "out",
                "FMT",
                "Print per match: id, ip, msg, row, a field name, or a <tag> template",
            )
            .short('o'),
        )
        .arg(flag("raw", "Do not resolve host names (--json never does)").short('r'))
        .arg(value("usedns", "MODE", "yes, warn, no, raw"))
        .arg(flag("verbose", "More detail (every regex, every template)").short('v'))
        .arg(flag("print-all-matched", "Print every matched line"))
        .arg(flag("print-all-missed", "Print every missed line"))
        .arg(flag("print-all-ignored", "Print every ignored line"))
        .arg(flag("print-no-missed", "Print no missed line"))
        .arg(flag("print-no-ignored", "Print no ignored line"))
        .arg(flag("no-check-all", "Stop at the first matching failregex"))
        .arg(flag(
            "json",
            "One JSON object per line that produced a failure",
        ))
        .arg(value(
            "now",
            "EPOCH",
            "The current time, for dates without a year (and replays)",
        ))
        .arg(flag("no-progress", "Never show the progress bar"))
        .arg(flag(
            "no-prefilter",
            "Read the date of every line, also of lines that cannot match (date template hits \
             then count every line, as fail2ban-regex)",
        ))
}

/// `ferroban audit`: the hardening guide's checks of this host.
fn audit() -> Command {
    Command::new("audit")
        .about("Check this host as the hardening guide does (firewall, services, sshd, jails)")
        .long_about(
            "Check this host as the hardening guide does, read-only: the firewall's default \
             policy, public services without a jail, secret files a web server hands out, AUTH \
             on SMTP port 25, sshd's passwords and root login, jails whose log is missing or \
             never matched, and whether the admin's SSH address is in ignoreip. Prints PASS, \
             WARN, FAIL or SKIP per check with what was seen and the fix.",
        )
        // In after_help, not long_about: `ferroban audit --help` prints the short
        // help, and a script writer needs the codes.
        .after_help(
            "Exit code: 0 every check run passed; otherwise the worst finding: 2 a failure \
             (or a wrong option), 1 a warning, 3 a check that could not look (SKIP) and \
             nothing worse.",
        )
        .arg(confdir())
        .arg(flag("json", "One JSON object per check: id, status, seen, fix"))
        .arg(
            value("url", "URL", "A site to probe for secret files (repeatable; default http://127.0.0.1/ when port 80 listens)")
                .action(ArgAction::Append),
        )
        .arg(value("only", "ID,...", "Run only these checks"))
        .arg(value("sshd-config", "FILE", "sshd's configuration (default /etc/ssh/sshd_config)"))
        .arg(value("smtp", "ADDR:PORT", "The SMTP server to ask, on this host (default 127.0.0.1:25)"))
}

/// The client commands, which talk to the running server (except `check`, `start`
/// and `import-fail2ban`).
fn client_commands() -> Vec<Command> {
    vec![
        Command::new("status")
            .about("Jails, or one jail's failures and bans")
            .arg(Arg::new("jail").value_name("JAIL"))
            .arg(flag("json", "Answer in JSON")),
        Command::new("ban")
            .about("Ban addresses in a jail")
            .arg(Arg::new("jail").required(true).value_name("JAIL"))
            .arg(words("ip", "IP", "Addresses to ban").num_args(1..).required(true)),
        Command::new("unban")
            .about("Lift bans, in one jail or everywhere")
            .arg(words("ip", "IP", "[JAIL] addresses to unban"))
            .arg(flag("all", "Lift every ban")),
        Command::new("banned")
            .about("Banned addresses per jail, or the jails that ban an address")
            .arg(words("ip", "IP", "Addresses to look up")),
        Command::new("reload")
            .about("Apply the configuration on disk; on error the running one stays")
            .arg(Arg::new("jail").value_name("JAIL"))
            .arg(flag("unban", "Also lift every ban")),
        Command::new("start")
            .about("Start the server, or one jail")
            .arg(Arg::new("jail").value_name("JAIL")),
        Command::new("stop")
            .about("Stop the server (lifting its bans from the firewall), or one jail")
            .arg(Arg::new("jail").value_name("JAIL")),
        Command::new("restart")
            .about("Stop and start the server; with JAIL, restart that jail (`reload --restart JAIL`)")
            .arg(Arg::new("jail").value_name("JAIL"))
            .arg(flag("unban", "With JAIL: also lift its bans")),
        Command::new("get")
            .about("Read a jail option: bantime, findtime, maxretry, ignoreip, banip, logpath, ...")
            .arg(Arg::new("jail").required(true).value_name("JAIL"))
            .arg(Arg::new("option").required(true).value_name("OPTION")),
        Command::new("set")
            .about("Change a jail option: bantime, findtime, maxretry, addignoreip, banip, unbanip, ...")
            .after_help("A changed option lasts until the configuration is read again (reload, restart): \
                         write it in jail.local to keep it. Options with one value take one word: quote \
                         a value with spaces (set sshd bantime \"2 days\").")
            .arg(Arg::new("jail").required(true).value_name("JAIL"))
            .arg(Arg::new("option").required(true).value_name("OPTION"))
            .arg(words("value", "VALUE", "The new value: one for bantime, findtime, maxretry, …; addresses for banip, unbanip, addignoreip, delignoreip")),
        Command::new("fleet")
            .about("The fleet: connection, hosts, outbox, bans received/applied/refused; \
                    `fleet nats-config [--bucket NAME] [--stdin] NAME=PASSWORD...` prints nats-server's authorization block")
            .arg(words(
                "args",
                "nats-config [--bucket NAME] [--stdin] NAME=PASSWORD",
                "Print nats-server's authorization block for these hosts (--bucket: the fleet's bucket, if not `ferroban`; --stdin: NAME=PASSWORD lines read from standard input, kept out of the process list)",
            ))
            .arg(flag("json", "Answer in JSON")),
        Command::new("flushlogs").about("Reopen the log file (after logrotate)"),
        Command::new("check")
            .about("Test the configuration and report errors with file and line"),
        Command::new("ping").about("Check that the server answers"),
        Command::new("version").about("Print the version"),
        Command::new("import-fail2ban")
            .about("Carry the bans in force (and ban counts) over from Fail2ban's database")
            .arg(
                Arg::new("dbfile")
                    .value_name("DBFILE")
                    .help("Fail2ban's database (default: the dbfile of fail2ban.conf/.local in -c DIR, else /var/lib/fail2ban/fail2ban.sqlite3)")
                    .value_hint(clap::ValueHint::FilePath),
            ),
    ]
}

/// The options `fail2ban-server` and `fail2ban-client` share (Fail2ban's one
/// command-line grammar): combined short flags (`-xf`), values after the flag.
fn fail2ban_options() -> Vec<Arg> {
    let short = |name: &'static str, c: char, help: &'static str| {
        Arg::new(name)
            .short(c)
            .action(ArgAction::SetTrue)
            .help(help)
    };
    vec![
        confdir(),
        Arg::new("socket")
            .short('s')
            .long("socket")
            .value_name("FILE")
            .help("Control socket path"),
        Arg::new("pidfile")
            .short('p')
            .long("pidfile")
            .value_name("FILE")
            .help("Pid file path"),
        value(
            "pname",
            "NAME",
            "Process name (accepted; ferroban keeps its own)",
        ),
        value(
            "loglevel",
            "LEVEL",
            "CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG or a number (10 is DEBUG)",
        ),
        value(
            "logtarget",
            "TARGET",
            "A file, STDOUT, STDERR, SYSLOG or SYSTEMD-JOURNAL",
        ),
        value("syslogsocket", "FILE", "Syslog socket (auto or a path)"),
        short(
            "dump",
            'd',
            "Print the configuration as the server reads it",
        ),
        flag("dp", "The same, one setting per line").alias("dump-pretty"),
        flag("test", "Test the configuration (also before start)").short('t'),
        short(
            "interactive",
            'i',
            "Read commands from standard input, one a line, until exit or quit",
        ),
        short("verbose", 'v', "More output on standard error"),
        short("quiet", 'q', "Less output on standard error"),
        short(
            "force",
            'x',
            "Remove a stale socket when starting the server",
        ),
        short("background", 'b', "Start the server detached (the default)"),
        short("foreground", 'f', "Start the server in the foreground"),
        flag("async", "Accepted for Fail2ban's internal use; no effect"),
        value(
            "timeout",
            "TIME",
            "How long to wait for the server to start or answer",
        ),
        value(
            "str2sec",
            "STRING",
            "Print a time abbreviation (1h30m) in seconds",
        ),
        Arg::new("version")
            .short('V')
            .long("version")
            .action(ArgAction::SetTrue)
            .help("Print the version (-V: the number only)"),
    ]
}

/// `fail2ban-server`: ferroban's server under Fail2ban's name and grammar.
fn fail2ban_server() -> Command {
    Command::new("fail2ban-server")
        .about("ferroban's server, under Fail2ban's name and command line")
        .long_about(
            "ferroban's daemon taking fail2ban-server's command line (Debian's unit runs \
             `fail2ban-server -xf start`). Detaches unless -f is given. Any command other \
             than `start` is sent to the running server, as fail2ban-client would.",
        )
        .args(fail2ban_options())
        .arg(words(
            "command",
            "start",
            "start (the default), or a client command",
        ))
}

/// `fail2ban-client`: ferroban's client under Fail2ban's name and grammar.
fn fail2ban_client() -> Command {
    Command::new("fail2ban-client")
        .about("ferroban's client, under Fail2ban's name and command line")
        .long_about(
            "Sends Fail2ban's commands to the server and prints Fail2ban's answers: start, \
             stop, reload [JAIL], restart [JAIL], status [JAIL], ping, set JAIL \
             banip|unbanip IP..., set JAIL attempt IP [TEXT...], get JAIL OPTION, set JAIL \
             OPTION VALUE, unban IP...|--all, banned [IP...], flushlogs, version; with -i, \
             one command a line from standard input.",
        )
        .args(fail2ban_options())
        .arg(words("command", "COMMAND", "A Fail2ban client command"))
}

/// `fail2ban-regex`: the filter tester under Fail2ban's name.
fn fail2ban_regex() -> Command {
    regex()
        .name("fail2ban-regex")
        .about("ferroban's filter tester, under Fail2ban's name and command line")
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version"),
        )
}

/// The commands ferroban also answers to when installed under Fail2ban's names.
pub fn fail2ban_commands() -> Vec<Command> {
    vec![fail2ban_server(), fail2ban_client(), fail2ban_regex()]
}

/// The help text of one of Fail2ban's tools (`fail2ban-server`, …).
pub fn fail2ban_help(tool: &str) -> String {
    fail2ban_commands()
        .into_iter()
        .find(|c| c.get_name() == tool)
        .map(|mut c| c.render_help().to_string())
        .unwrap_or_default()
}

/// The files ferroban uses, for the FILES section of the man pages: each path
/// (for root with the installed configuration) and what it is, with the place
/// used otherwise.
pub fn files() -> &'static [(&'static str, &'static str)] {
    &[
        (
            "/etc/ferroban/",
            "The configuration: ferroban.conf and ferroban.local (the server's settings), \
             jail.conf, jail.local and jail.d/ (the jails), filter.d/ and action.d/. When \
             only /etc/fail2ban exists, that is read instead, with fail2ban.conf and \
             fail2ban.local. Another directory is given with -c.",
        ),
        (
            "/run/ferroban/ferroban.sock",
            "The control socket (mode 0600), for root with the installed configuration. \
             With another configuration directory or without root: \
             /tmp/ferroban-UID/ferroban.sock. The socket setting of ferroban.local (or \
             fail2ban.conf) wins; -s names another on the command line.",
        ),
        (
            "/run/ferroban/ferroban.pid",
            "The server's process id; otherwise /tmp/ferroban-UID/ferroban.pid (setting \
             pidfile, option -p).",
        ),
        (
            "/var/lib/ferroban/ferroban.sqlite3",
            "The ban database: bans in force, ban counts, read positions; otherwise \
             /tmp/ferroban-UID/ferroban.sqlite3 (setting dbfile, option --dbfile). When \
             dbfile names Fail2ban's database, ferroban never writes it: it keeps \
             ferroban.sqlite3 beside it, filled with Fail2ban's bans on the first start.",
        ),
        (
            "/var/log/ferroban.log",
            "The log, in Fail2ban's format (what the recidive jail reads); otherwise \
             standard error (setting logtarget, option --logtarget).",
        ),
    ]
}

/// The whole command line.
pub fn command() -> Command {
    Command::new("ferroban")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A Fail2ban-compatible intrusion-prevention daemon")
        .long_about(
            "ferroban watches logs and the systemd journal, finds attacks with Fail2ban's \
             filters, counts failures per address in a time window and bans offenders \
             through nftables (or other firewall actions). It reads /etc/ferroban, or an \
             existing /etc/fail2ban unchanged. Installed as fail2ban-client, \
             fail2ban-server or fail2ban-regex, the same binary takes those tools' \
             command lines.",
        )
        // `ferroban help` would be a twin of --help, and "help" is no server command.
        .disable_help_subcommand(true)
        .arg(confdir())
        .arg(
            Arg::new("socket")
                .short('s')
                .long("socket")
                .value_name("SOCKET")
                .help("Control socket (default: the configuration's)"),
        )
        .arg(flag("json", "Print the server's answer as JSON"))
        .arg(value(
            "timeout",
            "SECONDS",
            "How long to wait for the server's answer (default 30)",
        ))
        .subcommand(server())
        .subcommand(regex())
        .subcommand(audit())
        .subcommands(client_commands())
}

/// Whether `name` is one of ferroban's subcommands.
pub fn is_subcommand(name: &str) -> bool {
    command().find_subcommand(name).is_some()
}

/// The help text of `ferroban`, or of one of its subcommands.
pub fn help(subcommand: Option<&str>) -> String {
    let cmd = command();
    let sub = subcommand.and_then(|name| Some((name, cmd.find_subcommand(name)?.clone())));
    let mut target = match sub {
        Some((name, sub)) => sub.bin_name(format!("ferroban {name}")),
        None => cmd.bin_name("ferroban"),
    };
    target.render_help().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_definition_is_consistent() {
        super::command().debug_assert();
    }

    #[test]
    fn fail2bans_tools_are_consistent_and_name_themselves() {
        for mut c in super::fail2ban_commands() {
            c.clone().debug_assert();
            let name = c.get_name().to_string();
            assert!(c.render_help().to_string().contains(&name), "{name}");
        }
        assert!(super::fail2ban_help("fail2ban-server").contains("--str2sec"));
    }

    #[test]
    fn subcommand_help_names_the_subcommand() {
        assert!(super::help(Some("server")).contains("ferroban server"));
        assert!(super::help(None).contains("import-fail2ban"));
    }
}
