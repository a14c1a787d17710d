//! Fail2ban's command-line grammar, shared by `fail2ban-server` and
//! `fail2ban-client` (and by `ferroban server`, which adds a few long options of
//! its own).
//!
//! Owns splitting the arguments the way Fail2ban's getopt does: short options
//! `hc:s:p:xfbdtviqV` that combine (`-xf`, `-xfc DIR`) and take their value
//! attached or as the next word; long options, also as unique prefixes and with
//! `--opt=value`; options end at the first word that is not one. It does not act on
//! them: the server and the client decide what each means.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// Options that print something and end the program at once, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Immediate {
    Help,
    /// `-V` (the number only) or `--version`.
    Version {
        short: bool,
    },
    /// `--str2sec TEXT`: a time abbreviation in seconds.
    Str2sec(String),
}

/// What the command line says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fail2banArgs {
    pub conf: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub loglevel: Option<String>,
    pub logtarget: Option<String>,
    /// `-d`, `--dp`: print the configuration.
    pub dump: bool,
    /// `-t`: test the configuration.
    pub test: bool,
    /// `-x`: remove a stale socket.
    pub force: bool,
    /// `-b` (true) or `-f` (false), the last one given.
    pub background: Option<bool>,
    pub timeout: Option<String>,
    /// ferroban's own server options: `--dbfile FILE`.
    pub dbfile: Option<PathBuf>,
    /// `--dry-run` (true) or `--no-dry-run` (false).
    pub dry_run: Option<bool>,
    /// `--replay`: read the logs from their start.
    pub replay: bool,
    /// `-i`: the client reads its commands from standard input, one a line.
    pub interactive: bool,
    pub immediate: Option<Immediate>,
    /// The command after the options (`start`, `status sshd`, …).
    pub words: Vec<String>,
}

/// Short options, and whether each takes a value.
const SHORT: &[(char, bool)] = &[
    ('h', false),
    ('c', true),
    ('s', true),
    ('p', true),
    ('x', false),
    ('f', false),
    ('b', false),
    ('d', false),
    ('t', false),
    ('v', false),
    ('i', false),
    ('q', false),
    ('V', false),
];

/// Fail2ban's long options, and whether each takes a value.
const LONG: &[(&str, bool)] = &[
    ("loglevel", true),
    ("logtarget", true),
    ("syslogsocket", true),
    ("test", false),
    ("async", false),
    ("conf", true),
    ("pidfile", true),
    ("pname", true),
    ("socket", true),
    ("timeout", true),
    ("str2sec", true),
    ("help", false),
    ("version", false),
    ("dp", false),
    ("dump-pretty", false),
];

/// ferroban's additions, accepted by the server only.
const SERVER_LONG: &[(&str, bool)] = &[
    ("dbfile", true),
    ("dry-run", false),
    ("no-dry-run", false),
    ("replay", false),
];

/// Parse `args` (without the program name). `server` accepts ferroban's own
/// server options too.
pub fn parse(args: &[String], server: bool) -> Result<Fail2banArgs> {
    let long: Vec<(&str, bool)> = if server {
        LONG.iter().chain(SERVER_LONG).copied().collect()
    } else {
        LONG.to_vec()
    };
    let mut out = Fail2banArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (given, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let (name, takes_value) = long_option(&long, given)?;
            let value = if takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => Some(next_value(args, &mut i, arg)?),
                }
            } else if inline.is_some() {
                bail!("option --{name} takes no value");
            } else {
                None
            };
            apply(&mut out, name, value)?;
        } else if arg.len() > 1 && arg.starts_with('-') {
            for (at, c) in arg[1..].char_indices() {
                let Some(&(_, takes_value)) = SHORT.iter().find(|(s, _)| *s == c) else {
                    bail!("unknown option -{c}");
                };
                if takes_value {
                    let rest = &arg[1 + at + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        next_value(args, &mut i, &format!("-{c}"))?
                    } else {
                        rest.to_string()
                    };
                    apply(&mut out, &c.to_string(), Some(value))?;
                    break;
                }
                apply(&mut out, &c.to_string(), None)?;
            }
        } else {
            i -= 1;
            break;
        }
        if out.immediate.is_some() {
            return Ok(out);
        }
    }
    out.words = args[i..].to_vec();
    Ok(out)
}

/// The long option `given` names: itself, or the one option it is a prefix of.
fn long_option<'a>(long: &[(&'a str, bool)], given: &str) -> Result<(&'a str, bool)> {
    if let Some(&exact) = long.iter().find(|(n, _)| *n == given) {
        return Ok(exact);
    }
    let candidates: Vec<&(&str, bool)> =
        long.iter().filter(|(n, _)| n.starts_with(given)).collect();
    match candidates.as_slice() {
        [one] => Ok(**one),
        [] => bail!("unknown option --{given}"),
        many => bail!(
            "option --{given} is ambiguous: {}",
            many.iter()
                .map(|(n, _)| format!("--{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn next_value(args: &[String], i: &mut usize, option: &str) -> Result<String> {
    let Some(v) = args.get(*i) else {
        bail!("option {option} needs a value");
    };
    *i += 1;
    Ok(v.clone())
}

/// Record option `name` (a short letter or a long name without dashes).
fn apply(out: &mut Fail2banArgs, name: &str, value: Option<String>) -> Result<()> {
    let v = || value.clone().unwrap_or_default();
    match name {
        "c" | "conf" => out.conf = Some(PathBuf::from(v())),
        "s" | "socket" => out.socket = Some(PathBuf::from(v())),
        "p" | "pidfile" => out.pidfile = Some(PathBuf::from(v())),
        "loglevel" => out.loglevel = Some(v()),
        "logtarget" => out.logtarget = Some(v()),
        "d" | "dp" | "dump-pretty" => out.dump = true,
        "t" | "test" => out.test = true,
        "x" => out.force = true,
        "b" => out.background = Some(true),
        "f" => out.background = Some(false),
        "timeout" => out.timeout = Some(v()),
        "dbfile" => out.dbfile = Some(PathBuf::from(v())),
        "dry-run" => out.dry_run = Some(true),
        "no-dry-run" => out.dry_run = Some(false),
        "replay" => out.replay = true,
        "h" | "help" => out.immediate = Some(Immediate::Help),
        "V" => out.immediate = Some(Immediate::Version { short: true }),
        "version" => out.immediate = Some(Immediate::Version { short: false }),
        "str2sec" => out.immediate = Some(Immediate::Str2sec(v())),
        "i" => out.interactive = true,
        // Verbosity of the tool's own stderr, the process name, syslog's socket and
        // Fail2ban's internal start mode change nothing in ferroban.
        "v" | "q" | "pname" | "syslogsocket" | "async" => {}
        other => bail!("option {other} is not handled"),
    }
    Ok(())
}

/// What an [`Immediate`] option prints for `tool`: one of Fail2ban's tools
/// (`fail2ban-server`, …) or a ferroban subcommand (`server`, `regex`).
pub fn immediate_text(what: &Immediate, tool: &str) -> Result<String> {
    let compat = ferroban_config::jail::FAIL2BAN_COMPAT_VERSION;
    let own = env!("CARGO_PKG_VERSION");
    let fail2bans = tool.starts_with("fail2ban-");
    Ok(match what {
        Immediate::Help if fail2bans => ferroban_cli::fail2ban_help(tool),
        Immediate::Help => ferroban_cli::help(Some(tool)),
        // Scripts compare -V with Fail2ban's versions: the one ferroban follows.
        Immediate::Version { short: true } => format!("{compat}\n"),
        // Fail2ban's first line, which scripts read, then which program this is
        Immediate::Version { short: false } if tool == "fail2ban-regex" => {
            format!("{tool} {compat} (ferroban {own})\n")
        }
        Immediate::Version { short: false } if fail2bans => {
            format!("Fail2Ban v{compat} (ferroban {own})\n")
        }
        Immediate::Version { short: false } => format!("ferroban {own}\n"),
        Immediate::Str2sec(text) => format!("{}\n", str2sec(text)?),
    })
}

/// `--str2sec`: Fail2ban prints whole seconds without a fraction.
pub fn str2sec(text: &str) -> Result<String> {
    let seconds = ferroban_config::expr::parse_duration(text)
        .map_err(|e| anyhow::anyhow!("--str2sec {text:?}: {e}"))?;
    Ok(if seconds.fract() == 0.0 {
        format!("{}", seconds as i64)
    } else {
        format!("{seconds}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn debians_unit_line_and_combined_flags() {
        let a = parse(&words("-xf start"), true).unwrap();
        assert!(a.force);
        assert_eq!(a.background, Some(false));
        assert_eq!(a.words, words("start"));
        let a = parse(&words("-xfc /etc/fail2ban -s/run/f.sock -b start"), true).unwrap();
        assert_eq!(a.conf, Some(PathBuf::from("/etc/fail2ban")));
        assert_eq!(a.socket, Some(PathBuf::from("/run/f.sock")));
        assert_eq!(a.background, Some(true));
    }

    #[test]
    fn long_options_prefixes_values_and_the_end_of_options() {
        let a = parse(
            &words("--sock /s --loglevel=DEBUG --pname x --async -vvq -t status -t"),
            false,
        )
        .unwrap();
        assert_eq!(a.socket, Some(PathBuf::from("/s")));
        assert_eq!(a.loglevel.as_deref(), Some("DEBUG"));
        assert!(a.test);
        assert_eq!(a.words, words("status -t"), "options end at the command");
        assert!(parse(&words("--d"), false).is_err(), "--d is ambiguous");
        assert!(
            parse(&words("--dbfile x"), false).is_err(),
            "a server option"
        );
        assert!(parse(&words("--dbfile x --replay"), true).unwrap().replay);
        assert!(parse(&words("-Z"), false).is_err());
        assert!(parse(&words("-c"), false).is_err());
    }

    #[test]
    fn immediate_options_stop_parsing() {
        let a = parse(&words("-V --bogus"), false).unwrap();
        assert_eq!(a.immediate, Some(Immediate::Version { short: true }));
        let a = parse(&words("--str2sec 1d2h"), true).unwrap();
        assert_eq!(a.immediate, Some(Immediate::Str2sec("1d2h".into())));
        assert_eq!(str2sec("1d2h").unwrap(), "93600");
        assert_eq!(
            parse(&words("--dp"), false).map(|a| a.dump).ok(),
            Some(true),
            "--dp is not a prefix of --dump-pretty only"
        );
    }
}
