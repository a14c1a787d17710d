//! The client: ferroban's verbs, and `fail2ban-client`'s grammar when invoked by
//! that name.
//!
//! Owns turning a command line into the words the server understands, and the
//! server's answer into Fail2ban's output (`Status for the jail: …` trees, counts,
//! `Server replied: pong`), or JSON with `--json`. It never touches jails itself;
//! only `check` (the configuration test) and `start` work without a server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ferroban_cli::fail2ban_protocol::from_json;
use ferroban_cli::protocol::Refusal;
use ferroban_cli::python;
use serde_json::Value;

use crate::server::{
    check_config, config_warnings, options::default_confdir, refused_firewall_rules,
};
use crate::socket_client::{request, request_within, ClientError, DEFAULT_TIMEOUT};

/// `ferroban --help`, from the command-line definition.
pub fn usage() -> String {
    ferroban_cli::help(None)
}

/// Options shared by every client command.
#[derive(Debug, Clone)]
struct ClientOptions {
    confdir: PathBuf,
    socket: Option<PathBuf>,
    json: bool,
    /// How long to wait for the server's answer (`--timeout`, as fail2ban-client).
    timeout: Duration,
    /// Invoked as `fail2ban-client`: a refused command is reported as it reports
    /// one (scripts read the message on standard output).
    as_fail2ban_client: bool,
}

impl ClientOptions {
    fn socket(&self) -> PathBuf {
        self.socket.clone().unwrap_or_else(|| {
            ferroban_config::settings::ServerSettings::load(&self.confdir)
                .unwrap_or_else(|_| {
                    ferroban_config::settings::ServerSettings::defaults_for(&self.confdir)
                })
                .socket
        })
    }
}

/// How many words the client option `arg` takes after it (`-c DIR`: one), or
/// `None` when `arg` is no client option (a command word). `-p` and the flags
/// Fail2ban's client accepts are options only before the first word.
fn option_values(arg: &str, before_words: bool) -> Option<usize> {
    match arg {
        "-c" | "--conf" | "-s" | "--socket" | "--timeout" => Some(1),
        "-p" | "--pidfile" if before_words => Some(1),
        "--json" => Some(0),
        "-v" | "-q" | "-x" | "-b" | "-f" | "-i" | "--async" if before_words => Some(0),
        _ => None,
    }
}

/// Where the subcommand is in `ferroban [OPTIONS] SUBCOMMAND …`: the first word
/// that is not a client option or an option's value (`ferroban -c DIR restart
/// --help` asks for `restart`'s help, and must not restart anything).
pub fn subcommand_position(args: &[String]) -> Option<usize> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        match option_values(arg, true) {
            Some(values) => i += 1 + values,
            None => return Some(i),
        }
    }
    None
}

/// Split client options from the command words. `-c`, `-s` and `--timeout` may
/// also follow the verb (`ferroban check -c DIR`): taken as words, they would make
/// `check` test another directory than the one named, and say OK.
fn parse_options(args: &[String]) -> Result<(ClientOptions, Vec<String>)> {
    let mut o = ClientOptions {
        confdir: default_confdir(),
        socket: None,
        json: false,
        timeout: DEFAULT_TIMEOUT,
        as_fail2ban_client: false,
    };
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" | "--conf" => {
                o.confdir = PathBuf::from(
                    it.next()
                        .ok_or_else(|| anyhow::anyhow!("-c needs a directory"))?,
                )
            }
            "-s" | "--socket" => {
                o.socket = Some(PathBuf::from(
                    it.next()
                        .ok_or_else(|| anyhow::anyhow!("-s needs a path"))?,
                ))
            }
            "--timeout" => {
                o.timeout = parse_timeout(it.next().map(String::as_str))?;
            }
            "--json" => o.json = true,
            // `-p PIDFILE` and Fail2ban's flags: accepted, and of no use to a client
            other => match option_values(other, words.is_empty()) {
                Some(values) => {
                    it.by_ref().take(values).for_each(drop);
                }
                None => words.push(a.clone()),
            },
        }
    }
    Ok((o, words))
}

/// The time given to `--timeout` (seconds, or a duration such as `1m`).
fn parse_timeout(text: Option<&str>) -> Result<Duration> {
    let seconds = text
        .and_then(|t| ferroban_config::expr::parse_duration(t).ok())
        .filter(|s| *s > 0.0)
        .ok_or_else(|| anyhow::anyhow!("--timeout needs a time in seconds"))?;
    Ok(Duration::from_secs_f64(seconds))
}

/// `ferroban VERB …`: translate ferroban's verbs to the server's words.
pub fn run_ferroban(args: &[String]) -> Result<i32> {
    let (o, words) = parse_options(args)?;
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    if w.first() == Some(&"audit") {
        // `ferroban -c DIR audit …`: the audit reads the configuration itself.
        let mut audit_args = vec!["-c".to_string(), o.confdir.display().to_string()];
        if o.json {
            audit_args.push("--json".to_string());
        }
        audit_args.extend(words[1..].iter().cloned());
        return Ok(i32::from(crate::audit::run(&audit_args)));
    }
    let server_words: Vec<String> = match w.as_slice() {
        ["ban", jail, ips @ ..] if !ips.is_empty() => {
            strings(["set", jail, "banip", "--report-ignored"])
                .into_iter()
                .chain(ips.iter().map(|s| s.to_string()))
                .collect()
        }
        ["ban"] | ["ban", _] => {
            bail!("ban needs a jail and the addresses to ban: ferroban ban JAIL IP...")
        }
        ["unban"] => bail!(
            "unban needs what to unban: ferroban unban IP..., ferroban unban JAIL IP..., or \
             ferroban unban --all"
        ),
        // fail2ban-client's configuration test and dump, which need no server
        ["-t"] | ["--test"] => strings(["check"]),
        ["-d"] | ["--dp"] | ["--dump-pretty"] => {
            return Ok(test_configuration(&o.confdir, false, true, false).min(1));
        }
        ["unban", "--all"] => strings(["unban", "--all"]),
        ["status", jail] => strings(["status", jail, "extended"]),
        ["unban", first, rest @ ..]
            if first.parse::<std::net::IpAddr>().is_err() && !rest.is_empty() =>
        {
            strings(["set", first, "unbanip"])
                .into_iter()
                .chain(rest.iter().map(|s| s.to_string()))
                .collect()
        }
        ["help"] | ["--help"] | ["-h"] => {
            print!("{}", usage());
            return Ok(0);
        }
        ["help", verb] if ferroban_cli::is_subcommand(verb) => {
            print!("{}", ferroban_cli::help(Some(verb)));
            return Ok(0);
        }
        _ => words.clone(),
    };
    let display: Vec<String> = match w.first() {
        Some(&"ban") | Some(&"unban") => (server_words.iter())
            .filter(|w| *w != "--report-ignored")
            .cloned()
            .collect(),
        _ => words.clone(),
    };
    execute(&o, &server_words, &display, 1)
}

/// `fail2ban-client …`, in Fail2ban's grammar (shared with `fail2ban-server`).
pub fn run_fail2ban_client(args: &[String]) -> Result<i32> {
    let parsed = crate::fail2ban_cmdline::parse(args, false)?;
    if let Some(what) = &parsed.immediate {
        print!(
            "{}",
            crate::fail2ban_cmdline::immediate_text(what, "fail2ban-client")?
        );
        return Ok(0);
    }
    let o = ClientOptions {
        confdir: parsed.conf.clone().unwrap_or_else(default_confdir),
        socket: parsed.socket.clone(),
        json: false,
        timeout: match parsed.timeout.as_deref() {
            Some(t) => parse_timeout(Some(t))?,
            None => DEFAULT_TIMEOUT,
        },
        as_fail2ban_client: true,
    };
    let words = parsed.words;
    if parsed.interactive {
        return interactive(&o, &words);
    }
    if parsed.test || parsed.dump {
        return Ok(
            match test_configuration(&o.confdir, parsed.test, parsed.dump, true) {
                0 if words.is_empty() || !parsed.test => 0,
                0 => execute(&o, &words, &words, 255)?,
                _ => 255,
            },
        );
    }
    execute(&o, &words, &words, 255)
}

/// Fail2ban's `-i`: the command of the command line first (if any, and if it
/// fails nothing more), then one command a line from standard input, split as a
/// shell splits words, after Fail2ban's prompt, until `exit`, `quit` or the end of
/// the input (which, as Fail2ban's, ends with exit code 255).
fn interactive(o: &ClientOptions, first: &[String]) -> Result<i32> {
    if !first.is_empty() && execute(o, first, first, 255)? != 0 {
        return Ok(255);
    }
    let compat = ferroban_config::jail::FAIL2BAN_COMPAT_VERSION;
    println!("Fail2Ban v{compat} reads log file that contains password failure report");
    println!("and bans the corresponding IP addresses using firewall rules.\n");
    let mut line = String::new();
    loop {
        print!("fail2ban> ");
        std::io::Write::flush(&mut std::io::stdout())?;
        line.clear();
        if std::io::stdin().read_line(&mut line)? == 0 {
            println!();
            log_as_fail2ban_client("EOF when reading a line");
            return Ok(255);
        }
        let command = line.trim();
        match command {
            "exit" | "quit" => return Ok(0),
            "" => {}
            "help" => print!("{}", ferroban_cli::fail2ban_help("fail2ban-client")),
            _ => match shlex::split(command) {
                Some(words) if !words.is_empty() => {
                    if let Err(e) = execute(o, &words, &words, 255) {
                        eprintln!("ERROR: {e:#}");
                    }
                }
                _ => eprintln!("ERROR: {command:?}: a quote is not closed"),
            },
        }
    }
}

/// `-t` and `-d` of Fail2ban's tools: with `dump`, print the configuration in
/// `confdir` as the server reads it; with `test`, test it and say OK (as Fail2ban,
/// `-d` alone prints no verdict). Returns the exit code.
pub fn test_configuration(
    confdir: &std::path::Path,
    test: bool,
    dump: bool,
    as_fail2ban: bool,
) -> i32 {
    if dump {
        match crate::server::dump::dump_config(confdir) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("ERROR: {e:#}");
                return 255;
            }
        }
    }
    if test {
        check(confdir, as_fail2ban)
    } else {
        0
    }
}

fn strings<const N: usize>(a: [&str; N]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Why a jail the server does not know may be missing, when the error says it
/// does not exist (Fail2ban's words, which its clients read, so the hint is a
/// line of its own): its section is in the configuration but not enabled, or it is
/// enabled and was stopped (`stop JAIL`) since the server read it.
fn missing_jail_hint(confdir: &std::path::Path, error: &str) -> Option<String> {
    let name = error
        .split_once("jail '")
        .and_then(|(_, rest)| rest.split_once("' does not exist"))?
        .0;
    let cfg = ferroban_config::Config::read_named(confdir, "jail").ok()??;
    if !cfg.has_section(name) {
        return None;
    }
    let enabled = cfg
        .get(name, "enabled", &[])
        .ok()
        .flatten()
        .and_then(|v| ferroban_config::parse_switch(&v))
        .unwrap_or(false);
    Some(if enabled {
        format!(
            "[{name}] is enabled in the configuration but not running (stopped, or added \
             since the server read it): start it with `ferroban start {name}`"
        )
    } else {
        format!(
            "[{name}] is in the configuration but not enabled: set enabled = true in [{name}] \
             of {} and reload",
            confdir.join("jail.local").display()
        )
    })
}

/// The configuration test. `as_fail2ban` (`fail2ban-client -t`, `fail2ban-server
/// -t`): its verdict in Fail2ban's words, which scripts read: the OK line alone on
/// stdout (the jails on stderr), and a failure's error followed by Fail2ban's two
/// log lines.
fn check(confdir: &std::path::Path, as_fail2ban: bool) -> i32 {
    let checked = check_config(confdir).and_then(|jails| {
        let settings = ferroban_config::settings::ServerSettings::load(confdir)?;
        match settings.missing_log_directory() {
            Some(e) => Err(e.into()),
            None => Ok(jails),
        }
    });
    match checked {
        Ok(jails) => {
            for warning in config_warnings(confdir, &jails) {
                eprintln!("WARNING: {warning}");
            }
            let refused = refused_firewall_rules(&jails);
            if !refused.is_empty() {
                for error in refused {
                    eprintln!("ERROR: {error}");
                }
                return 255;
            }
            let names: Vec<&str> = jails.iter().map(|j| j.name()).collect();
            let what = match names.len() {
                0 => format!(
                    "no jail is enabled: set enabled = true in a jail of {}",
                    confdir.join("jail.local").display()
                ),
                1 => format!("1 jail: {}", names[0]),
                n => format!("{n} jails: {}", names.join(", ")),
            };
            if as_fail2ban {
                // Fail2ban's line alone on stdout, for scripts that compare it
                println!("OK: configuration test is successful");
                eprintln!("({what})");
            } else {
                println!("OK: configuration test is successful ({what})");
            }
            0
        }
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            if as_fail2ban {
                let first = format!("{e:#}");
                let first = first.lines().next().unwrap_or_default();
                log_as_fail2ban_client(&format!("Failed during configuration: {first}"));
                log_as_fail2ban_client("ERROR: test configuration failed");
            }
            255
        }
    }
}

fn execute(o: &ClientOptions, words: &[String], display: &[String], failure: i32) -> Result<i32> {
    let first = words.first().map(String::as_str);
    match first {
        None => {
            eprint!("{}", usage());
            return Ok(failure);
        }
        Some("check") if words.len() > 1 => {
            bail!(
                "check takes no arguments, not {:?}; give the directory as `ferroban -c DIR check`",
                words[1..].join(" ")
            )
        }
        Some("check") => {
            return Ok(if check(&o.confdir, false) == 0 {
                0
            } else {
                failure
            })
        }
        // Fail2ban's client converts a time here, without a server.
        Some("--str2sec") => {
            let text = words[1..].join(" ");
            let seconds = ferroban_config::expr::parse_duration(&text)
                .with_context(|| format!("--str2sec {text:?}"))?;
            // an integer where the text had none but integers, as Fail2ban prints it
            match text.contains('.') {
                true => println!("{seconds:?}"),
                false => println!("{}", seconds as i64),
            }
            return Ok(0);
        }
        Some("import-fail2ban") if words.len() <= 2 => {
            crate::import::import_fail2ban(
                &o.confdir,
                &o.socket(),
                words.get(1).map(String::as_str),
            )?;
            return Ok(0);
        }
        Some("start") if words.len() == 1 => return start_server(o, failure),
        // As fail2ban-client: `restart [--unban] [--if-exists] JAIL` is `reload
        // --restart …` of that jail.
        Some("restart") if words.len() > 1 => {
            let reload: Vec<String> = ["reload", "--restart"]
                .into_iter()
                .map(String::from)
                .chain(words[1..].iter().cloned())
                .collect();
            return execute(o, &reload, &reload, failure);
        }
        Some("restart") => {
            let socket = o.socket();
            // fail2ban-client's words, as it says them for each half
            let restarted = crate::restart::restart(&socket, || {
                let answer = request(&socket, &strings(["stop"]))?;
                println!("{}", beautify(&strings(["stop"]), &answer));
                Ok(())
            })?;
            if !restarted {
                return start_server(o, failure);
            }
            println!("Server ready");
            return Ok(0);
        }
        Some("fleet") if words.len() > 1 => {
            return match words[1].as_str() {
                "nats-config" => crate::fleet_cli::nats_config(&o.confdir, &words[2..]),
                other => {
                    bail!("unknown fleet command {other:?}; try `fleet` or `fleet nats-config`")
                }
            };
        }
        Some("server" | "regex") => bail!("{} is not a client command", words[0]),
        _ => {}
    }
    match request_within(&o.socket(), words, o.timeout) {
        // As fail2ban-client, the version is the Fail2ban version the server speaks,
        // as it answers on Fail2ban's socket (scripts gate features on it).
        Ok(_) if o.as_fail2ban_client && words == ["version"] => {
            println!("{}", ferroban_config::jail::FAIL2BAN_COMPAT_VERSION);
            Ok(0)
        }
        Ok(v) => {
            if words == ["stop"] && !server_gone_within(&o.socket(), Duration::from_secs(30)) {
                eprintln!(
                    "ERROR: the server still answers on {} 30 s after it was told to stop",
                    o.socket().display()
                );
                return Ok(failure);
            }
            if o.json {
                println!("{v}");
            } else {
                let text = beautify(display, &v);
                // (fail2ban-client prints an empty answer as an empty line)
                if !text.is_empty() || o.as_fail2ban_client {
                    println!("{text}");
                }
            }
            if !o.as_fail2ban_client && a_ban_was_refused(words, &v) {
                return Ok(failure);
            }
            if words.first().is_some_and(|w| w == "reload") && !o.as_fail2ban_client {
                // What the server logged as it read the configuration, said here too,
                // after its answer: a reload that says only OK hides a `bantim = 1h`
                // that changed nothing. (read, not compiled: what they say needs no regex)
                let jails = ferroban_config::jail::load_jails(&o.confdir)
                    .map(|c| c.jails)
                    .unwrap_or_default();
                let configs: Vec<_> = jails.iter().collect();
                // the answer is on stdout: out before the warnings on a shared pipe
                let _ = std::io::Write::flush(&mut std::io::stdout());
                let mistakes = crate::server::quiet_mistakes(&o.confdir, &configs);
                let fleet = ferroban_config::fleet::FleetSettings::load(&o.confdir);
                let settings = ferroban_config::settings::ServerSettings::load(&o.confdir);
                let secrets = crate::server::readable_secrets(
                    fleet.ok().flatten().as_ref(),
                    settings.ok().as_ref(),
                );
                for warning in mistakes.into_iter().chain(secrets) {
                    eprintln!("WARNING: {warning}");
                }
                // and what the server said of itself (a listener it keeps)
                if let Ok(Value::Array(notes)) =
                    request_within(&o.socket(), &["reload-notes".to_string()], o.timeout)
                {
                    for note in notes.iter().filter_map(Value::as_str) {
                        eprintln!("WARNING: {note}");
                    }
                }
            }
            Ok(0)
        }
        Err(ClientError::Server(e)) if o.as_fail2ban_client => {
            print_fail2ban_error(&e);
            Ok(failure)
        }
        Err(ClientError::Server(e)) => {
            eprintln!("ERROR: {e}");
            if let Some(hint) = missing_jail_hint(&o.confdir, &e.to_string()) {
                eprintln!("  hint: {hint}");
            }
            Ok(failure)
        }
        Err(ClientError::Connect(socket, _)) if o.as_fail2ban_client => {
            // the words scripts written for fail2ban-client look for
            let path = socket.display();
            log_as_fail2ban_client(&format!(
                "Failed to access socket path: {path}. Is fail2ban running?"
            ));
            Ok(failure)
        }
        Err(e @ ClientError::Connect(..)) => {
            eprintln!("ERROR: {e}");
            if o.socket.is_none() {
                eprintln!(
                    "  hint: that socket is the one the configuration in {} names; give \
                     -c DIR (the server's configuration) or -s SOCKET to reach another server",
                    o.confdir.display()
                );
            }
            Ok(failure)
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            Ok(failure)
        }
    }
}

/// Whether the answer to `set JAIL banip …` says an address was not banned (an
/// ignored one): the server then answers a sentence, not Fail2ban's bare count.
fn a_ban_was_refused(words: &[String], answer: &serde_json::Value) -> bool {
    words.get(2).is_some_and(|w| w == "banip")
        && answer.as_str().is_some_and(|a| a.contains("not banned: "))
}

/// Whether the server on `socket` is gone within `limit`: its socket no longer
/// takes connections. A server told to stop answers "stop" first, then stops its
/// jails (lifting their bans) with its socket still open; as fail2ban-client, the
/// client says "Shutdown successful" only after that, so that a `start` right
/// after finds no server.
fn server_gone_within(socket: &Path, limit: Duration) -> bool {
    wait_until(limit, || {
        matches!(
            request(socket, &strings(["ping"])),
            Err(ClientError::Connect(..))
        )
    })
}

/// Whether `done` came true within `limit` (asked every 50 ms).
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Start the server detached and wait until it answers.
fn start_server(o: &ClientOptions, failure: i32) -> Result<i32> {
    let socket = o.socket();
    if request(&socket, &strings(["ping"])).is_ok() {
        eprintln!("ERROR: Server already running");
        return Ok(failure);
    }
    let mut server = spawn_detached_server(&[
        "-c".into(),
        o.confdir.clone().into(),
        "-s".into(),
        socket.clone().into(),
    ])?;
    match await_started_server(&mut server, &socket, &o.confdir) {
        Ok(()) => {
            // as fail2ban-client says it
            println!("Server ready");
            Ok(0)
        }
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            Ok(failure)
        }
    }
}

/// Wait, at most 30 s, until the server just started detached as `server` answers
/// on `socket`. A server that fails first ends the wait at once, with the reason:
/// its configuration's error, as `check` reads `confdir`, where there is one (the
/// server said it only to its log), else its exit status. One that exits with
/// success has detached (`fail2ban-server -b`): its own child is waited for.
pub fn await_started_server(server: &mut Child, socket: &Path, confdir: &Path) -> Result<()> {
    let mut failed = None;
    let answered = wait_until(Duration::from_secs(30), || {
        failed = server.try_wait().ok().flatten().filter(|s| !s.success());
        failed.is_some() || request(socket, &strings(["ping"])).is_ok()
    });
    if let Some(status) = failed {
        if let Err(e) = check_config(confdir) {
            return Err(e.context(format!("the server stopped at once ({status})")));
        }
        bail!(
            "the server stopped at once ({status}) without answering on {}; see its log",
            socket.display()
        );
    }
    if !answered {
        bail!(
            "the server did not answer on {} within 30 s; see its log (`ferroban check` tests the configuration)",
            socket.display()
        );
    }
    Ok(())
}

/// Run `ferroban server ARGS -f` in a new session, detached from this terminal.
pub fn spawn_detached_server(args: &[std::ffi::OsString]) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("server").args(args).arg("-f");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and only detaches the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    Ok(cmd.spawn()?)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        // Python's, as fail2ban-client prints them
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(" "),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// Python's `str()` of an answer, as fail2ban-client prints one it has no format
/// for (`[{'sshd': ['192.0.2.1']}]`, `None`, `True`).
fn python_str(v: &Value) -> String {
    python::str(&from_json(v))
}

/// fail2ban-client's error output for a refused command: its text for the
/// server's exception on standard output, and its log line with the exception's
/// arguments on standard error.
fn print_fail2ban_error(refusal: &Refusal) {
    log_as_fail2ban_client(&format!("NOK: {}", refusal.fail2ban_args()));
    println!("{}", refusal.fail2ban_text());
}

/// An error on standard error as fail2ban-client logs one (its log line's format).
fn log_as_fail2ban_client(message: &str) {
    let now = jiff::Zoned::now();
    eprintln!(
        "{},{:03} fail2ban                [{}]: ERROR   {message}",
        now.strftime("%Y-%m-%d %H:%M:%S"),
        now.millisecond(),
        std::process::id(),
    );
}

/// Fail2ban's output for a command's result (its client's beautifier).
pub fn beautify(words: &[String], v: &Value) -> String {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let list = |head: &str, empty: &str, items: &Value| -> String {
        let items: Vec<String> = items
            .as_array()
            .map(|a| a.iter().map(value_text).collect())
            .unwrap_or_default();
        if items.is_empty() {
            return empty.to_string();
        }
        let mut out = head.to_string();
        for (i, it) in items.iter().enumerate() {
            out.push_str(if i + 1 == items.len() {
                "\n`- "
            } else {
                "\n|- "
            });
            out.push_str(it);
        }
        out
    };
    match w.as_slice() {
        ["ping", ..] => format!("Server replied: {}", value_text(v)),
        ["stop"] => "Shutdown successful".into(),
        ["stop", _] => "Jail stopped".into(),
        ["start", ..] => "Jail started".into(),
        ["flushlogs"] => format!("logs: {}", value_text(v)),
        ["echo", ..] => v
            .as_array()
            .map(|words| words.iter().map(value_text).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        ["status"] => tree("Status", v),
        ["fleet"] => crate::fleet_cli::status_text(v),
        ["status", jail, ..] => {
            let mut out = vec![format!("Status for the jail: {jail}")];
            let groups = v.as_array().cloned().unwrap_or_default();
            for (n, g) in groups.iter().enumerate() {
                let last = n + 1 == groups.len();
                out.push(format!("{} {}", branch(last), value_text(&g[0])));
                let items = g[1].as_array().cloned().unwrap_or_default();
                out.extend(tree_rows(if last { "   " } else { "|  " }, &items));
            }
            out.join("\n")
        }
        [_, "syslogsocket", ..] => format!("Current syslog socket is:\n`- {}", value_text(v)),
        [_, "logtarget", ..] => format!("Current logging target is:\n`- {}", value_text(v)),
        ["get", "loglevel"] | ["set", "loglevel", ..] => {
            format!("Current logging level is '{}'", value_text(v))
        }
        [_, "dbfile", ..] if v.is_null() => "Database currently disabled".into(),
        [_, "dbfile", ..] => format!("Current database file is:\n`- {}", value_text(v)),
        [_, "dbpurgeage", ..] if v.is_null() => "Database currently disabled".into(),
        [_, "dbpurgeage", ..] => format!(
            "Current database purge age is:\n`- {}seconds",
            value_text(v)
        ),
        ["get", _, "logpath"] => list(
            "Current monitored log file(s):",
            "No file is currently monitored",
            v,
        ),
        ["get", _, "ignoreip"] | ["set", _, "addignoreip" | "delignoreip", ..] => list(
            "These IP addresses/networks are ignored:",
            "No IP address/network is ignored",
            v,
        ),
        [_, _, "failregex" | "addfailregex" | "delfailregex", ..]
        | [_, _, "ignoreregex" | "addignoreregex" | "delignoreregex", ..] => {
            let regexes: Vec<String> = v
                .as_array()
                .map(|a| a.iter().map(value_text).collect())
                .unwrap_or_default();
            if regexes.is_empty() {
                return "No regular expression is defined".into();
            }
            let mut out = "The following regular expression are defined:".to_string();
            for (i, regex) in regexes.iter().enumerate() {
                let branch = branch(i + 1 == regexes.len());
                out.push_str(&format!("\n{branch} [{i}]: {regex}"));
            }
            out
        }
        [_, _, "logencoding", ..] => {
            format!("Current log encoding is set to:\n{}", value_text(v))
        }
        ["get", jail, "actions"] => match comma_list(v) {
            Some(names) => format!("The jail {jail} has the following actions:\n{names}"),
            None => format!("No actions for jail {jail}"),
        },
        ["get", jail, what @ ("actionproperties" | "actionmethods"), action, ..] => {
            let kind = &what["action".len()..];
            match comma_list(v) {
                Some(names) => {
                    format!("The jail {jail} action {action} has the following {kind}:\n{names}")
                }
                None => format!("No {kind} for jail {jail} action {action}"),
            }
        }
        ["get", _, "datepattern"] => match v.as_array().map(Vec::as_slice) {
            Some([Value::Null, name]) => {
                format!("Current date pattern set to: {}", value_text(name))
            }
            Some([pattern, name]) => format!(
                "Current date pattern set to: {} ({})",
                value_text(pattern),
                value_text(name)
            ),
            _ => "Current date pattern set to: Not set/required".into(),
        },
        ["get", _, "journalmatch"] => {
            let groups: Vec<String> = v
                .as_array()
                .map(|a| a.iter().map(value_text).collect())
                .unwrap_or_default();
            if groups.is_empty() {
                "No journal match filter set".into()
            } else {
                format!("Current match filter:\n{}", groups.join(" + "))
            }
        }
        // Python's repr of Fail2ban's answer: 1, or [1, 0] for several addresses
        ["get", _, "banned", _, ..] => match v.as_array() {
            Some(flags) => format!(
                "[{}]",
                flags.iter().map(value_text).collect::<Vec<_>>().join(", ")
            ),
            None => value_text(v),
        },
        ["get", _, "banip", rest @ ..] => {
            let sep = match rest.first() {
                Some(&"--with-time") => "\n",
                Some(s) => s,
                None => " ",
            };
            v.as_array()
                .map(|a| a.iter().map(value_text).collect::<Vec<_>>().join(sep))
                .unwrap_or_default()
        }
        _ => python_str(v),
    }
}

/// The names of a list answer joined by `, `; `None` for an empty list.
fn comma_list(v: &Value) -> Option<String> {
    let names: Vec<String> = v.as_array()?.iter().map(value_text).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn branch(last: bool) -> &'static str {
    if last {
        "`-"
    } else {
        "|-"
    }
}

/// `name:\tvalue` rows of a status tree, each under `indent`.
fn tree_rows(indent: &str, items: &[Value]) -> Vec<String> {
    items
        .iter()
        .enumerate()
        .map(|(n, it)| {
            format!(
                "{indent}{} {}:\t{}",
                branch(n + 1 == items.len()),
                value_text(&it[0]),
                value_text(&it[1])
            )
        })
        .collect()
}

fn tree(head: &str, v: &Value) -> String {
    let mut out = vec![head.to_string()];
    out.extend(tree_rows("", &v.as_array().cloned().unwrap_or_default()));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    /// The subcommand `main` finds after the options is the first word the client
    /// reads: `-c DIR restart --help` is `restart` asked for its help.
    #[test]
    fn the_subcommand_follows_the_options_and_their_values() {
        for line in [
            "restart --help",
            "-c /etc/fail2ban restart --help",
            "--conf DIR -s /run/x.sock --timeout 5 --json status sshd",
            "-p /run/x.pid -v -x stop",
            "--json -c DIR import-fail2ban -h",
            "-c DIR -- status",
        ] {
            let args = words(line);
            let at = subcommand_position(&args).expect(line);
            let (_, client_words) = parse_options(&args).expect(line);
            assert_eq!(client_words.first(), Some(&args[at]), "{line}");
        }
        assert_eq!(subcommand_position(&words("-c DIR --json")), None);
        assert_eq!(subcommand_position(&words("-c")), None);
    }

    /// Answers fail2ban-client has no format for are printed as Python prints them.
    #[test]
    fn answers_without_a_format_as_python_prints_them() {
        let banned = json!([{"sshd": ["192.0.2.1", "2001:db8::1"]}, {"web": []}]);
        assert_eq!(
            beautify(&words("banned"), &banned),
            "[{'sshd': ['192.0.2.1', '2001:db8::1']}, {'web': []}]"
        );
        assert_eq!(
            beautify(&words("get x bantime.increment"), &json!(false)),
            "False"
        );
        assert_eq!(
            beautify(&words("get x bantime.rndtime"), &Value::Null),
            "None"
        );
        assert_eq!(beautify(&words("get x maxlines"), &json!(3)), "3");
        assert_eq!(beautify(&words("get x usedns"), &json!("warn")), "warn");
        assert_eq!(python_str(&json!(600.0)), "600.0");
        assert_eq!(python_str(&json!([0.5])), "[0.5]");
    }

    #[test]
    fn regexes_and_action_names_as_trees_and_lists() {
        assert_eq!(
            beautify(&words("get x failregex"), &json!(["^a <HOST>$", "^b"])),
            "The following regular expression are defined:\n|- [0]: ^a <HOST>$\n`- [1]: ^b"
        );
        assert_eq!(
            beautify(&words("get x ignoreregex"), &json!([])),
            "No regular expression is defined"
        );
        assert_eq!(
            beautify(&words("get x actionmethods note"), &json!(["ban", "unban"])),
            "The jail x action note has the following methods:\nban, unban"
        );
        assert_eq!(
            beautify(&words("get x actionproperties note"), &json!([])),
            "No properties for jail x action note"
        );
        assert_eq!(
            beautify(&words("get x actions"), &json!([])),
            "No actions for jail x"
        );
        assert_eq!(
            beautify(&words("get syslogsocket"), &json!("auto")),
            "Current syslog socket is:\n`- auto"
        );
        assert_eq!(
            beautify(&words("set dbpurgeage 2d"), &json!(172800)),
            "Current database purge age is:\n`- 172800seconds"
        );
    }

    #[test]
    fn status_output_like_fail2ban_client() {
        let v = json!([["Number of jail", 2], ["Jail list", "sshd, wordpress-auth"]]);
        assert_eq!(
            beautify(&words("status"), &v),
            "Status\n|- Number of jail:\t2\n`- Jail list:\tsshd, wordpress-auth"
        );
        let v = json!([
            [
                "Filter",
                [
                    ["Currently failed", 1],
                    ["Total failed", 4],
                    ["File list", ["/var/log/apache2/access.log"]]
                ]
            ],
            [
                "Actions",
                [
                    ["Currently banned", 1],
                    ["Total banned", 1],
                    ["Banned IP list", ["192.0.2.7"]]
                ]
            ]
        ]);
        assert_eq!(
            beautify(&words("status wordpress-auth"), &v),
            "Status for the jail: wordpress-auth\n|- Filter\n|  |- Currently failed:\t1\n|  |- Total failed:\t4\n|  `- File list:\t/var/log/apache2/access.log\n`- Actions\n   |- Currently banned:\t1\n   |- Total banned:\t1\n   `- Banned IP list:\t192.0.2.7"
        );
        assert_eq!(beautify(&words("set x banip 1.2.3.4"), &json!(1)), "1");
        assert_eq!(
            beautify(&words("ping"), &json!("pong")),
            "Server replied: pong"
        );
    }
}
