//! The commands the control socket carries, in Fail2ban's word grammar.
//!
//! `["status", "sshd"]`, `["set", "sshd", "banip", "192.0.2.7"]`, … — the same
//! words `fail2ban-client` sends, so the client only translates ferroban's verbs.
//! Results are JSON shaped like Fail2ban's (status is a list of name/value pairs);
//! the client formats them. Every address is parsed before anything is done.
//! Values carry the types fail2ban-server gives them (numbers as numbers, flags as
//! booleans), and failures say their kind ([`CommandError`]), so that the Fail2ban
//! protocol can answer with the exception Fail2ban's clients expect.

use std::net::IpAddr;

use ferroban_actions::Severity;
use ferroban_cli::pickle::PyValue;
use ferroban_cli::protocol::Refusal;
use ferroban_cli::python::repr_str;
use ferroban_config::filter::FilterDefinition;
use ferroban_config::fleet::FleetMode;
use ferroban_config::ignoreip::{parse_ignore_entry, IgnoreEntry};
use ferroban_config::jail::{ban_time_increment, Backend};
use ferroban_config::parse_switch;
use ferroban_config::settings::LogTarget;
use ferroban_filter::expanded_regex;
use ferroban_jail::{Ban, IgnoreList};
use serde_json::{json, Value};

use super::log::{self, Component};
use super::{now, ReloadOptions, Server};

/// Why a command failed. The text is what both protocols' clients show; the kind
/// decides which exception a Fail2ban client is sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("Sorry but the jail '{0}' does not exist")]
    UnknownJail(String),
    /// Words that are no command.
    #[error("{0}")]
    Invalid(String),
    /// A value that cannot be used: an address, a number, a duration.
    #[error("{0}")]
    BadValue(String),
    /// Understood, and could not be done.
    #[error("{0}")]
    Failed(String),
    /// A name that is not there, as fail2ban-server's KeyError (an action).
    #[error("{0}")]
    Missing(String),
}

impl CommandError {
    /// The exception fail2ban-server raises in its place (a reference a Python
    /// client resolves): sent as such to Fail2ban's clients, and beside the message
    /// to ferroban's, which print as fail2ban-client from it.
    pub fn exception(&self) -> PyValue {
        let (module, name, arg) = match self {
            CommandError::UnknownJail(jail) => {
                ("fail2ban.exceptions", "UnknownJailException", jail)
            }
            CommandError::BadValue(why) => ("builtins", "ValueError", why),
            CommandError::Missing(why) => ("builtins", "KeyError", why),
            CommandError::Invalid(why) | CommandError::Failed(why) => {
                ("builtins", "Exception", why)
            }
        };
        PyValue::Exception {
            module: module.into(),
            name: name.into(),
            args: vec![PyValue::str(arg.as_str())],
        }
    }

    /// The refusal ferroban's protocol answers: the message, and the exception.
    pub fn refusal(&self) -> Refusal {
        Refusal {
            message: self.to_string(),
            exception: Some(self.exception()),
        }
    }
}

impl From<String> for CommandError {
    fn from(why: String) -> Self {
        CommandError::BadValue(why)
    }
}

pub type Reply = Result<Value, CommandError>;

/// An address as Fail2ban reads it (see [`parse_ips`]), if `word` is one.
fn parse_ip(word: &str) -> Option<IpAddr> {
    word.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Addresses as Fail2ban reads them: an IPv4-mapped IPv6 address
/// (`::ffff:192.0.2.1`) is the IPv4 address, so that it is banned, found and
/// unbanned as the address its traffic comes from.
fn parse_ips(words: &[&str]) -> Result<Vec<IpAddr>, String> {
    if words.is_empty() {
        return Err("no address given".into());
    }
    words
        .iter()
        .map(|w| parse_ip(w).ok_or_else(|| not_an_address(w)))
        .collect()
}

/// Why `word` cannot be banned. A network (`198.51.100.0/24`, which Fail2ban
/// bans) is said to be one: ferroban's firewall sets hold addresses.
fn not_an_address(word: &str) -> String {
    match word.trim().parse::<ipnet::IpNet>() {
        Ok(_) => format!(
            "'{word}' is a network: ferroban bans addresses, not networks (its firewall \
             sets hold addresses); ban its addresses, or block it with a firewall rule \
             of your own; nothing of this command was banned"
        ),
        Err(_) => format!("'{word}' is not a valid IP address"),
    }
}

/// What an unban names: an address, or a network (`10.9.9.0/24`), which stands
/// for the addresses banned within it, as Fail2ban's unban takes it.
enum UnbanTarget {
    Address(IpAddr),
    Network(ipnet::IpNet),
    /// Neither: never banned, so never unbanned (Fail2ban's answer for it too).
    Nothing,
}

fn parse_unban_target(word: &str) -> UnbanTarget {
    // the syntax of ignoreip's networks, dotted masks included
    match parse_ignore_entry(word.trim()) {
        Ok(IgnoreEntry::Address(ip)) => UnbanTarget::Address(ip.to_canonical()),
        Ok(IgnoreEntry::Network(ip, prefix)) => {
            ipnet::IpNet::new(ip, prefix).map_or(UnbanTarget::Nothing, UnbanTarget::Network)
        }
        _ => UnbanTarget::Nothing,
    }
}

/// The addresses `target` names in jail `idx`: the address (banned or not: its
/// ban history is forgotten all the same), or the banned ones within a network.
fn unban_addresses(server: &Server, idx: usize, target: &UnbanTarget) -> Vec<IpAddr> {
    match target {
        UnbanTarget::Address(ip) => vec![*ip],
        UnbanTarget::Network(net) => server.jails[idx]
            .bans
            .addresses()
            .into_iter()
            .filter(|ip| net.contains(ip))
            .collect(),
        UnbanTarget::Nothing => Vec::new(),
    }
}

/// Unban what `words` name in jail `idx`, as Fail2ban's `removeBannedIP`: every
/// banned address among them is unbanned; the words that name none are returned.
fn unban_words<'w>(server: &mut Server, idx: usize, words: &[&'w str]) -> (usize, Vec<&'w str>) {
    let mut absent = Vec::new();
    let mut addresses = Vec::new();
    for word in words {
        let named = unban_addresses(server, idx, &parse_unban_target(word));
        if named
            .iter()
            .all(|ip| server.jails[idx].bans.get(ip).is_none())
        {
            absent.push(*word);
        }
        addresses.extend(named);
    }
    (server.unban_by_hand(idx, Some(&addresses)), absent)
}

/// Carry out one command.
pub fn execute(server: &mut Server, words: &[String]) -> Reply {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["ping", ..] => Ok(json!("pong")),
        ["version"] => Ok(json!(env!("CARGO_PKG_VERSION"))),
        ["status"] => Ok(status(server)),
        ["metrics"] => Ok(Value::String(server.metrics_text())),
        ["dashboard", rest @ ..] => {
            super::dashboard::api::execute(server, rest).map_err(CommandError::from)
        }
        ["fleet"] => Ok(server.fleet_status()),
        ["status", jail, rest @ ..] => jail_status(server, jail, rest.first().copied()),
        // Fail2ban's: the words back, for a client to test the connection with
        ["echo", rest @ ..] => Ok(json!(rest)),
        ["banned", ips @ ..] => banned(server, ips),
        ["reload", rest @ ..] => {
            let how = ReloadOptions {
                unban: rest.contains(&"--unban"),
                restart: rest.contains(&"--restart"),
                if_exists: rest.contains(&"--if-exists"),
            };
            let jail = rest.iter().find(|a| !a.starts_with("--")).copied();
            server.reload(jail, how).map(|_| json!("OK")).map_err(|e| {
                let msg = format!("reload failed, the running configuration is kept: {e:#}");
                server.log.log(Component::Server, Severity::Error, &msg);
                CommandError::Failed(msg)
            })
        }
        // ferroban's own: what the last reload said of the running server
        ["reload-notes"] => Ok(json!(server.reload_notes)),
        ["stop"] => {
            server.stop_requested = true;
            Ok(Value::Null)
        }
        // every jail stops; the server runs on, as Fail2ban's
        ["stop", "--all"] => {
            while !server.jails.is_empty() {
                server.stop_jail(0);
            }
            Ok(Value::Null)
        }
        ["stop", jail] => {
            let idx = server.jail_index(jail)?;
            server.stop_jail(idx);
            Ok(Value::Null)
        }
        ["start"] => Err(CommandError::Failed("Server already running".into())),
        // Fail2ban's client reports a configuration it could not read this way
        ["config-error", message @ ..] => {
            server
                .log
                .log(Component::Server, Severity::Error, &message.join(" "));
            Ok(Value::Null)
        }
        // Fail2ban's client makes jails this way from the configuration it read;
        // ferroban makes them from its own reading of the configuration.
        ["add", jail, ..] => Err(CommandError::Failed(format!(
            "ferroban makes jails from the configuration: add [{jail}] to jail.local \
             (enabled = true) and run reload"
        ))),
        ["start", jail] => start_jail(server, jail),
        ["unban", "--all"] => {
            let n = (0..server.jails.len())
                .map(|idx| server.unban_by_hand(idx, None))
                .sum::<usize>();
            Ok(json!(n))
        }
        ["unban", words @ ..] if !words.is_empty() => {
            let n = (0..server.jails.len())
                .map(|idx| unban_words(server, idx, words).0)
                .sum::<usize>();
            Ok(json!(n))
        }
        ["flushlogs"] => server
            .log
            .reopen()
            .map(|file| json!(if file { "rolled over" } else { "flushed" }))
            .map_err(|e| CommandError::Failed(e.to_string())),
        // as it was set (`10`, `DEBUG`), as Fail2ban answers
        ["get", "loglevel"] => Ok(json!(server.settings.loglevel)),
        ["get", "logtarget"] => Ok(json!(server.log.target())),
        ["get", "dbfile"] => Ok(server
            .settings
            .dbfile
            .as_ref()
            .map_or(Value::Null, |p| json!(p.display().to_string()))),
        ["get", "dbpurgeage"] => Ok(json!(server.settings.dbpurgeage as i64)),
        ["get", "dbmaxmatches"] => Ok(json!(server.settings.dbmaxmatches)),
        // Until the next reload, as Fail2ban (the configuration file keeps its value).
        ["set", "dbpurgeage", age] => {
            let age = seconds(age)?;
            server.settings.dbpurgeage = age;
            Ok(json!(age as i64))
        }
        ["set", "dbmaxmatches", count] => {
            let count = count
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("dbmaxmatches {count:?} is not a count"))?;
            server.settings.dbmaxmatches = count;
            Ok(json!(count))
        }
        // Fail2ban's threads' stack size; ferroban's threads keep the system's
        ["get", "thread"] => Ok(json!({ "stacksize": 0 })),
        ["get", "syslogsocket"] => Ok(json!(server.settings.syslogsocket)),
        ["get", "socket"] => Ok(json!(server.settings.socket.display().to_string())),
        ["get", "pidfile"] => Ok(json!(server.settings.pidfile.display().to_string())),
        // Until the next reload, as Fail2ban's.
        ["set", "logtarget", target] => {
            let target = LogTarget::parse(target, &server.settings.syslogsocket);
            server
                .log
                .retarget(&target)
                .map_err(|e| CommandError::Failed(format!("Failed to change log target: {e}")))?;
            server.settings.logtarget = target;
            Ok(json!(server.log.target()))
        }
        ["set", "syslogsocket", socket] => {
            server.settings.syslogsocket = socket.to_string();
            if matches!(server.settings.logtarget, LogTarget::Syslog(_)) {
                let target = LogTarget::parse("SYSLOG", socket);
                server.log.retarget(&target).map_err(|e| {
                    CommandError::Failed(format!("Failed to change syslog socket: {e}"))
                })?;
                server.settings.logtarget = target;
            }
            Ok(json!(socket))
        }
        // The database is opened once, with the jails that use it (Fail2ban
        // refuses the change while it has jails; ferroban reads it at start).
        ["set", "dbfile", file] => {
            let current = server.settings.dbfile.as_ref();
            if current.is_some_and(|p| p.as_os_str() == *file)
                || (current.is_none() && file.eq_ignore_ascii_case("none"))
            {
                return Ok(current.map_or(Value::Null, |p| json!(p.display().to_string())));
            }
            Err(CommandError::Failed(
                "Cannot change database when there are jails present: set dbfile in \
                 fail2ban.local and restart ferroban"
                    .into(),
            ))
        }
        ["set", "loglevel", level] => {
            let l =
                log::parse_level(level).ok_or_else(|| format!("unknown log level {level:?}"))?;
            server.log.set_level(l);
            server.settings.loglevel = level.trim().to_uppercase();
            Ok(json!(server.settings.loglevel))
        }
        ["get", jail, option, rest @ ..] => get(server, jail, option, rest),
        ["set", jail, option, values @ ..] => {
            let reply = set(server, jail, option, values)?;
            // Bans, unbans and failures reported by hand log themselves; a
            // changed setting says it lasts until the configuration is read again.
            if !matches!(*option, "banip" | "unbanip" | "attempt") {
                server.log.log(
                    Component::Server,
                    Severity::Notice,
                    &format!("[{jail}] set {option} {reply} (until the next reload)"),
                );
            }
            Ok(reply)
        }
        _ => Err(CommandError::Invalid(format!(
            "Invalid command {:?}",
            words.join(" ")
        ))),
    }
}

impl Server {
    fn jail_index(&self, name: &str) -> Result<usize, CommandError> {
        self.jails
            .iter()
            .position(|j| j.name() == name)
            .ok_or_else(|| CommandError::UnknownJail(name.to_string()))
    }
}

fn status(server: &Server) -> Value {
    let mut names: Vec<&str> = server.jails.iter().map(|j| j.name()).collect();
    names.sort_unstable();
    json!([
        ["Number of jail", names.len()],
        ["Jail list", names.join(", ")]
    ])
}

/// A jail's status in Fail2ban's shape, in a flavor: `short` leaves the banned
/// addresses out (as Fail2ban's), `extended` adds ferroban's counters of what the
/// filter could not use.
fn jail_status(server: &Server, name: &str, flavor: Option<&str>) -> Reply {
    let extended = flavor == Some("extended");
    let j = &server.jails[server.jail_index(name)?];
    let source = if j.is_journal() {
        json!(["Journal matches", j.config.filter.journalmatch.join(" + ")])
    } else {
        let mut files: Vec<String> = j
            .config
            .logpaths
            .iter()
            .flat_map(|p| ferroban_sources::files::expand(p))
            .map(|p| p.display().to_string())
            .collect();
        files.dedup();
        json!(["File list", files])
    };
    let ips: Vec<String> = j.bans.addresses().iter().map(IpAddr::to_string).collect();
    let mut filter = vec![
        json!(["Currently failed", j.tracker.currently_failed()]),
        json!(["Total failed", j.tracker.total_failed()]),
        source,
    ];
    if extended {
        filter.extend([
            json!(["Failures older than findtime", j.stats.too_old]),
            json!(["Failures without an address", j.stats.not_an_address]),
            json!(["Failures of ignored addresses", j.stats.ignored]),
            json!([
                "Searches abandoned at the step bound",
                j.abandoned_searches()
            ]),
        ]);
    }
    let mut actions = vec![
        json!(["Currently banned", j.bans.len()]),
        json!(["Total banned", j.bans.total()]),
    ];
    // Fail2ban's `short` flavor leaves the list out (a jail may ban thousands)
    if flavor != Some("short") {
        actions.push(json!(["Banned IP list", ips]));
    }
    if j.config.fleet != FleetMode::Off {
        let received = j.bans.iter().filter(|b| b.origin.is_some()).count();
        actions.push(json!([
            format!("Fleet bans (fleet = {})", j.config.fleet.as_str()),
            received
        ]));
    }
    Ok(json!([["Filter", filter], ["Actions", actions]]))
}

/// Fail2ban's `banned`: every jail's list, or for each word the jails that ban
/// it (none for a word that is no address).
fn banned(server: &Server, words: &[&str]) -> Reply {
    if words.is_empty() {
        let list: Vec<Value> = server
            .jails
            .iter()
            .map(|j| json!({ j.name(): j.bans.addresses().iter().map(IpAddr::to_string).collect::<Vec<_>>() }))
            .collect();
        return Ok(Value::from(list));
    }
    Ok(Value::from(
        words
            .iter()
            .map(|word| {
                let jails: Vec<&str> = match parse_ip(word) {
                    Some(ip) => server
                        .jails
                        .iter()
                        .filter(|j| j.bans.get(&ip).is_some())
                        .map(|j| j.name())
                        .collect(),
                    None => Vec::new(),
                };
                json!(jails)
            })
            .collect::<Vec<_>>(),
    ))
}

fn start_jail(server: &mut Server, name: &str) -> Reply {
    // Starting a running jail changes nothing, and is no error (as in Fail2ban).
    if server.jail_index(name).is_ok() {
        return Ok(Value::Null);
    }
    let jail = super::check_config(&server.options.confdir)
        .map_err(|e| CommandError::Failed(format!("{e:#}")))?
        .into_iter()
        .find(|j| j.name() == name)
        .ok_or_else(|| CommandError::UnknownJail(name.to_string()))?;
    server
        .add_jail(jail, true)
        .map_err(|e| CommandError::Failed(format!("{e:#}")))?;
    server.start_sources();
    Ok(Value::Null)
}

fn count<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{option} {value:?} is not a count"))
}

fn seconds(value: &str) -> Result<f64, String> {
    ferroban_config::expr::parse_duration(value).map_err(|e| e.to_string())
}

fn get(server: &Server, name: &str, option: &str, rest: &[&str]) -> Reply {
    let j = &server.jails[server.jail_index(name)?];
    let c = &j.config;
    Ok(match option {
        // Fail2ban: whether each address is banned, 1 or 0 (a list for several).
        "banned" if !rest.is_empty() => {
            let banned =
                |word: &&str| i64::from(parse_ip(word).is_some_and(|ip| j.bans.get(&ip).is_some()));
            match rest {
                [one] => json!(banned(one)),
                many => json!(many.iter().map(banned).collect::<Vec<_>>()),
            }
        }
        "banip" | "banned" => {
            let with_time = rest.first() == Some(&"--with-time");
            let list: Vec<String> = j
                .bans
                .addresses()
                .iter()
                .map(|ip| match (with_time, j.bans.get(ip)) {
                    (true, Some(b)) => format!(
                        "{ip} \t{} + {} = {}",
                        log::time_text(b.start),
                        b.duration as i64,
                        // a permanent ban ends at Fail2ban's "end of time"
                        b.end()
                            .map_or("9999-12-31 23:59:59".to_string(), log::time_text)
                    ),
                    _ => ip.to_string(),
                })
                .collect();
            json!(list)
        }
        "bantime" => json!(j.policy.bantime as i64),
        "findtime" => json!(c.findtime as i64),
        "maxretry" => json!(c.maxretry),
        "maxmatches" => json!(c.maxmatches),
        "ignoreip" => json!(j.ignore.entries()),
        "ignoreself" => json!(c.ignoreself),
        "ignorecommand" => json!(c.ignorecommand.clone().unwrap_or_default()),
        "logpath" => json!(c
            .logpaths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()),
        // `auto` reads UTF-8 (as Fail2ban on a UTF-8 locale), and says so.
        "logencoding" if c.logencoding == "auto" => json!("UTF-8"),
        "logencoding" => json!(c.logencoding),
        // Only a journal jail has a match (Fail2ban: "No journal match filter set").
        "journalmatch" if !matches!(c.backend, Backend::Systemd { .. }) => json!([]),
        "journalmatch" => json!(c
            .filter
            .journalmatch
            .iter()
            .map(|m| m.split_whitespace().collect::<Vec<_>>())
            .collect::<Vec<_>>()),
        "usedns" => json!(c.usedns),
        "logtimezone" => json!(c.logtimezone),
        // as written, or None (Fail2ban answers its parsed form, or None)
        "ignorecache" => json!(c.options.get("ignorecache")),
        "actions" => json!(c.actions.iter().map(|a| a.name.clone()).collect::<Vec<_>>()),
        // The names Fail2ban's `get` lists for one of its command actions.
        "actionproperties" | "actionmethods" => {
            let [action] = rest else {
                return Err(CommandError::Invalid(format!(
                    "Invalid command: get JAIL {option} ACTION"
                )));
            };
            let Some(a) = c.actions.iter().find(|a| a.name == *action) else {
                return Err(CommandError::Missing(format!(
                    "Invalid Action name: {action}"
                )));
            };
            if option == "actionmethods" {
                json!(COMMAND_ACTION_METHODS)
            } else {
                let mut names: Vec<&str> = COMMAND_ACTION_PROPERTIES.to_vec();
                names.extend(a.init_options.iter().map(String::as_str));
                names.sort_unstable();
                names.dedup();
                json!(names)
            }
        }
        // An action's property, as the jail's action reads it (tags the server fills
        // in at ban time, <ip> and the like, left as they are).
        "action" if !rest.is_empty() => {
            let [action, property] = rest else {
                return Err(CommandError::Invalid(
                    "Invalid command: get JAIL action ACTION PROPERTY".into(),
                ));
            };
            let Some(a) = c.actions.iter().find(|a| a.name == *action) else {
                return Err(CommandError::Missing(format!(
                    "Invalid Action name: {action}"
                )));
            };
            match a.options.iter().find(|(k, _)| k == property) {
                Some((_, v)) => json!(v),
                None => match *property {
                    "name" => json!(name),
                    "actname" => json!(a.name),
                    // Fail2ban's defaults for what the action file leaves out
                    "timeout" => json!(60),
                    "banEpoch" => json!(0),
                    p if COMMAND_ACTION_PROPERTIES.contains(&p) && p.starts_with("action") => {
                        json!("")
                    }
                    // the patterns of Fail2ban's escaping of tags' values (a
                    // compiled regex on its socket, see `fail2ban_wire::shape`)
                    "ESCAPE_CRE" => json!(r#"[\\#&;`|*?~<>\^\(\)\[\]{}$'"\n\r]"#),
                    "ESCAPE_VN_CRE" => json!(r"\W"),
                    _ => {
                        return Err(CommandError::Invalid(format!(
                            "action {action} of jail {name} has no property {property:?}"
                        )))
                    }
                },
            }
        }
        // As Fail2ban compiled them: tags expanded, with the filter's `usedns`
        // (a later `set JAIL usedns` changes what is resolved, not the regexes).
        "failregex" => json!(expanded(&c.filter.failregex, &c.filter)),
        "ignoreregex" => json!(expanded(&c.filter.ignoreregex, &c.filter)),
        // Fail2ban's (pattern, readable name), read off the templates the filter's
        // `datepattern` builds: `('^%Y-%m-%d', '^Year-Month-Day')`, `(None,
        // '{^LN-BEG}Epoch')`, or `(None, 'Default Detectors')` for its set.
        "datepattern" => {
            let detector = ferroban_filter::date::DateDetector::from_patterns(
                c.filter.datepattern.as_deref().unwrap_or_default(),
                jiff::tz::TimeZone::UTC,
                jiff::Zoned::now().year(),
            )
            .map_err(|e| CommandError::Failed(e.to_string()))?;
            let (pattern, name) = detector.fail2ban_description();
            json!([pattern, name])
        }
        "prefregex" => json!(c
            .filter
            .prefregex
            .as_deref()
            .map(|p| expanded_regex(&c.filter, p))
            .unwrap_or_default()),
        "idle" => json!(j.idle),
        // One line unless the filter says more, as Fail2ban.
        "maxlines" => match &c.filter.maxlines {
            Some(n) => json!(n
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("maxlines {n:?} is not a count"))?),
            None => json!(1),
        },
        // What is set (in seconds), or None, as fail2ban-server answers; kept while
        // the increment is off, as Fail2ban keeps it.
        "bantime.maxtime" | "bantime.rndtime" => json!(c
            .options
            .get(option)
            .and_then(|v| seconds(v).ok())
            .map(|t| t as i64)),
        "bantime.increment" => json!(c.options.get(option).map(|v| parse_switch(v) == Some(true))),
        other if other.starts_with("bantime.") => json!(c.options.get(other)),
        other => match c.options.get(other) {
            Some(v) => json!(v),
            None => {
                return Err(CommandError::Invalid(format!(
                    "Invalid command: no option {other:?} in jail {name}"
                )))
            }
        },
    })
}

/// `regexes` as `filter` compiles them (see [`expanded_regex`]).
fn expanded(regexes: &[String], filter: &FilterDefinition) -> Vec<String> {
    regexes.iter().map(|r| expanded_regex(filter, r)).collect()
}

/// What Fail2ban's `get JAIL actionproperties` lists for every command action (the
/// attributes of its Python object), beside the action's own `[Init]` options…
const COMMAND_ACTION_PROPERTIES: [&str; 15] = [
    "ESCAPE_CRE",
    "ESCAPE_VN_CRE",
    "actionban",
    "actioncheck",
    "actionflush",
    "actionreban",
    "actionreload",
    "actionrepair",
    "actionstart",
    "actionstop",
    "actionunban",
    "actname",
    "banEpoch",
    "name",
    "timeout",
];

/// …and what its `get JAIL actionmethods` lists (the object's methods).
const COMMAND_ACTION_METHODS: [&str; 15] = [
    "ban",
    "clearAllParams",
    "consistencyCheck",
    "escapeTag",
    "executeCmd",
    "flush",
    "invalidateBanEpoch",
    "prolong",
    "reban",
    "reload",
    "replaceDynamicTags",
    "replaceTag",
    "start",
    "stop",
    "unban",
];

fn set(server: &mut Server, name: &str, option: &str, values: &[&str]) -> Reply {
    let idx = server.jail_index(name)?;
    // One value: `set sshd bantime 2 days` would otherwise set 2 seconds.
    let one = || match values {
        [value] => Ok(*value),
        [] => Err(format!("set {name} {option}: a value is needed")),
        [_, ..] => Err(format!(
            "set {name} {option} takes one value, not {} ({}): quote it, as in \
             set {name} {option} \"{}\"",
            values.len(),
            values.join(" "),
            values.join(" ")
        )),
    };
    match option {
        // With `--report-ignored` (ferroban's own `ban`) the answer says which
        // addresses were refused and why; else it is Fail2ban's bare count, which
        // scripts read, and the refusals are in the log.
        "banip" => {
            let (report_ignored, values) = match values {
                ["--report-ignored", values @ ..] => (true, values),
                values => (false, values),
            };
            let ips = parse_ips(values)?;
            let mut n = 0;
            let mut refused = Vec::new();
            for ip in ips {
                if let Some(reason) = server.jails[idx].ignore.check(ip) {
                    let why = reason.explain();
                    server.log.log(
                        Component::Filter,
                        Severity::Notice,
                        &format!("[{name}] Ignore {ip} by {reason}: not banned, {why}"),
                    );
                    refused.push(format!("{ip} ({why})"));
                    continue;
                }
                let ban = Ban {
                    ip,
                    start: now(),
                    duration: 0.0,
                    count: 0,
                    failures: 0,
                    matches: vec![],
                    fields: vec![],
                    origin: None,
                    restored: false,
                };
                if server.ban(idx, ban) {
                    n += 1;
                }
            }
            if refused.is_empty() || !report_ignored {
                Ok(json!(n))
            } else {
                Ok(json!(format!(
                    "{n} banned; not banned: {}",
                    refused.join(", ")
                )))
            }
        }
        // Every banned address named is unbanned; with `--report-absent` the
        // answer is then an error naming each word that named none.
        "unbanip" => {
            let (report_absent, words) = match values {
                ["--report-absent", words @ ..] => (true, words),
                words => (false, words),
            };
            if words.is_empty() {
                return Err(CommandError::BadValue("no address given".into()));
            }
            let (unbanned, absent) = unban_words(server, idx, words);
            if report_absent && !absent.is_empty() {
                let names: Vec<String> = absent.iter().map(|w| repr_str(w)).collect();
                return Err(CommandError::BadValue(format!(
                    "not banned: [{}]",
                    names.join(", ")
                )));
            }
            Ok(json!(unbanned))
        }
        // Fail2ban's failure reported by hand (an application's failed login, say):
        // counted as a filter's, with the texts given as its matched lines (two
        // texts, two failures); 1, or 0 when the address is ignored.
        "attempt" => {
            let [address, texts @ ..] = values else {
                return Err(CommandError::BadValue(format!(
                    "set {name} attempt IP [TEXT…]: an address is needed"
                )));
            };
            let ip = parse_ip(address)
                .ok_or_else(|| format!("'{address}' is not a valid IP address"))?;
            Ok(json!(server.attempt(idx, ip, texts)))
        }
        "idle" => {
            let value = one()?;
            let idle =
                parse_switch(value).ok_or_else(|| format!("idle {value:?} is not on or off"))?;
            server.jails[idx].idle = idle;
            Ok(json!(idle))
        }
        "bantime" => {
            let v = seconds(one()?)?;
            server.jails[idx].policy.bantime = v;
            server.jails[idx].config.bantime = v;
            Ok(json!(v as i64))
        }
        "findtime" | "maxretry" | "maxmatches" => {
            let j = &mut server.jails[idx];
            let v = one()?;
            // Answered with the value in force, typed as fail2ban-server does.
            let now = match option {
                "findtime" => {
                    j.config.findtime = seconds(v)?;
                    json!(j.config.findtime as i64)
                }
                "maxretry" => {
                    j.config.maxretry = count(option, v)?;
                    json!(j.config.maxretry)
                }
                _ => {
                    j.config.maxmatches = count(option, v)?;
                    json!(j.config.maxmatches)
                }
            };
            j.tracker
                .set_policy(j.config.findtime, j.config.maxretry, j.config.maxmatches);
            Ok(now)
        }
        "addignoreip" => {
            for v in values {
                server.jails[idx].ignore.add(v)?;
            }
            Ok(json!(server.jails[idx].ignore.entries()))
        }
        "delignoreip" => {
            for v in values {
                server.jails[idx].ignore.remove(v);
            }
            Ok(json!(server.jails[idx].ignore.entries()))
        }
        "ignoreself" | "ignorecommand" => {
            let j = &mut server.jails[idx];
            if option == "ignoreself" {
                j.config.ignoreself = parse_switch(one()?) == Some(true);
            } else {
                let command = values.join(" ");
                j.config.ignorecommand = (!command.trim().is_empty()).then_some(command);
            }
            let mut fresh =
                IgnoreList::new(&[], j.config.ignoreself, j.config.ignorecommand.clone())?;
            for e in j.ignore.entries() {
                fresh.add(&e)?;
            }
            j.ignore = fresh;
            Ok(if option == "ignoreself" {
                json!(j.config.ignoreself)
            } else {
                json!(values.join(" "))
            })
        }
        // Fail2ban's: a value it does not know is the safe `no`, and said so.
        "usedns" => {
            let asked = one()?.trim().to_lowercase();
            let mode = if ["yes", "warn", "no", "raw"].contains(&asked.as_str()) {
                asked
            } else {
                server.log.log(
                    Component::Server,
                    Severity::Error,
                    &format!("[{name}] Incorrect value {asked:?} specified for usedns: using the safe 'no'"),
                );
                "no".to_string()
            };
            server.jails[idx].config.usedns = mode.clone();
            Ok(json!(mode))
        }
        // Fail2ban's errors for a value that is no count, or none above zero.
        "maxlines" => {
            let lines = one()?;
            let lines: i64 = lines
                .trim()
                .parse()
                .map_err(|_| format!("invalid literal for int() with base 10: '{lines}'"))?;
            let lines = usize::try_from(lines)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| "maxlines must be integer greater than zero".to_string())?;
            server.jails[idx].change_filter(|c| {
                c.filter.maxlines = Some(lines.to_string());
                Ok(())
            })?;
            Ok(json!(lines))
        }
        // The ban-time increment, made again from the jail's options with this
        // one changed (until the next reload), as the configuration makes it.
        "bantime.increment"
        | "bantime.factor"
        | "bantime.formula"
        | "bantime.multipliers"
        | "bantime.maxtime"
        | "bantime.rndtime"
        | "bantime.overalljails" => {
            let value = values.join(" ");
            let j = &mut server.jails[idx];
            let mut options = j.config.options.clone();
            options.insert(option.to_string(), value);
            let increment = ban_time_increment(&options)?;
            j.config.options = options;
            j.config.increment = increment.clone();
            j.policy.increment = increment;
            get(server, name, option, &[])
        }
        // The filter's definition, changed until the next reload; each answers
        // what `get JAIL` then answers for it, as Fail2ban.
        "addfailregex" | "addignoreregex" => {
            let regex = one()?;
            server.jails[idx].change_filter(|c| {
                // Its tags expand with the `usedns` in force now (a later `set
                // usedns` leaves it as it is), as Fail2ban compiles it.
                let mut now = c.filter.clone();
                now.usedns = Some(c.usedns.clone());
                let regex = expanded_regex(&now, regex);
                regexes_of(&mut c.filter, option).push(regex);
                Ok(())
            })?;
            get(server, name, &option[3..], &[])
        }
        "delfailregex" | "delignoreregex" => {
            let index = one()?;
            let index: i64 = index
                .trim()
                .parse()
                .map_err(|_| format!("invalid literal for int() with base 10: '{index}'"))?;
            let count = regexes_of(&mut server.jails[idx].config.filter, option).len();
            // Python's index: -1 is the last
            let at = if index < 0 {
                count as i64 + index
            } else {
                index
            };
            match usize::try_from(at).ok().filter(|at| *at < count) {
                Some(at) => server.jails[idx].change_filter(|c| {
                    regexes_of(&mut c.filter, option).remove(at);
                    Ok(())
                })?,
                // logged, and the list answered unchanged, as by Fail2ban
                None => server.log.log(
                    Component::Filter,
                    Severity::Error,
                    &format!(
                        "[{name}] Cannot remove regular expression. Index {index} is not valid"
                    ),
                ),
            }
            get(server, name, &option[3..], &[])
        }
        "prefregex" | "datepattern" | "logtimezone" => {
            let value = one()?.trim().to_string();
            server.jails[idx].change_filter(|c| {
                let value = (!value.is_empty()).then_some(value);
                match option {
                    "prefregex" => c.filter.prefregex = value,
                    "datepattern" => c.filter.datepattern = value,
                    _ => c.logtimezone = value,
                }
                Ok(())
            })?;
            get(server, name, option, &[])
        }
        "addlogpath" | "dellogpath" => {
            let (path, start) = match values {
                [path] => (path, "head"),
                [path, start] => (path, *start),
                _ => {
                    return Err("set JAIL addlogpath takes one file, and head or tail"
                        .to_string()
                        .into())
                }
            };
            change_logpath(server, idx, option == "addlogpath", path, start)?;
            get(server, name, "logpath", &[])
        }
        // the jail's files read on in this encoding from the next line
        "logencoding" => {
            let encoding = one()?.trim().to_string();
            if ferroban_sources::Encoding::from_name(&encoding).is_none() {
                return Err(CommandError::BadValue(format!(
                    "unknown encoding: {encoding} (ferroban reads UTF-8 and Latin-1 logs)"
                )));
            }
            server.jails[idx].config.logencoding = encoding;
            server.start_sources();
            get(server, name, option, &[])
        }
        "addjournalmatch" | "deljournalmatch" => {
            change_journalmatch(server, idx, option == "addjournalmatch", values)?;
            get(server, name, "journalmatch", &[])
        }
        other => Err(CommandError::Invalid(format!(
            "Invalid command: cannot set {other:?} of jail {name}"
        ))),
    }
}

/// The failregexes or the ignoreregexes, as `option` (`addfailregex`…) names them.
fn regexes_of<'f>(filter: &'f mut FilterDefinition, option: &str) -> &'f mut Vec<String> {
    if option.ends_with("failregex") {
        &mut filter.failregex
    } else {
        &mut filter.ignoreregex
    }
}

/// `set JAIL addlogpath PATH [head]` / `dellogpath PATH`: the jail follows the
/// file from its start (failures older than findtime do not count), or no longer.
fn change_logpath(
    server: &mut Server,
    idx: usize,
    add: bool,
    path: &str,
    start: &str,
) -> Result<(), CommandError> {
    let jail = &mut server.jails[idx];
    if jail.is_journal() {
        return Err(CommandError::BadValue(format!(
            "jail {} reads the journal, not log files",
            jail.name()
        )));
    }
    let path = std::path::PathBuf::from(path);
    if add {
        match start.to_lowercase().as_str() {
            "head" => {}
            "tail" => {
                return Err(CommandError::BadValue(
                    "ferroban reads an added log from its start (head), where failures \
                     older than findtime do not count; tail is not supported"
                        .into(),
                ))
            }
            _ => {
                return Err(CommandError::BadValue(
                    "File option must be 'head' or 'tail'".into(),
                ))
            }
        }
        if let Err(e) = std::fs::File::open(&path) {
            return Err(CommandError::Failed(format!("{}: {e}", path.display())));
        }
        if !jail.config.logpaths.contains(&path) {
            jail.config.logpaths.push(path);
        }
    } else {
        jail.config.logpaths.retain(|p| *p != path);
    }
    jail.refresh_log_patterns();
    server.path_jails.clear();
    server.start_sources();
    Ok(())
}

/// `set JAIL addjournalmatch M… [+ M…]` / `deljournalmatch M…`: the jail's journal
/// reader starts again with the matches changed.
fn change_journalmatch(
    server: &mut Server,
    idx: usize,
    add: bool,
    words: &[&str],
) -> Result<(), CommandError> {
    let jail = &mut server.jails[idx];
    if !jail.is_journal() {
        return Err(CommandError::BadValue(format!(
            "jail {} reads log files, not the journal",
            jail.name()
        )));
    }
    let matches = &mut jail.config.filter.journalmatch;
    if add {
        matches.extend(
            words
                .split(|w| *w == "+")
                .filter(|group| !group.is_empty())
                .map(|group| group.join(" ")),
        );
    } else if words.is_empty() {
        matches.clear();
    } else {
        let group = words.join(" ");
        let at = matches
            .iter()
            .position(|m| m.split_whitespace().eq(words.iter().copied()))
            .ok_or_else(|| CommandError::BadValue(format!("Match {group:?} not found")))?;
        matches.remove(at);
    }
    let name = jail.name().to_string();
    if let Some(reader) = server.journals.remove(&name) {
        reader.stop();
    }
    server.start_sources();
    Ok(())
}
