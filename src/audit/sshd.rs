//! `sshd-password-authentication` and `sshd-root-login`: does sshd refuse
//! passwords and root?
//!
//! Asks sshd itself (`sshd -T -f FILE`, the settings it would run with) and, where
//! that cannot run (not installed, not root, no host keys), reads the file and
//! its `Include`s as sshd does: keywords in any case, the first value wins, and a
//! `Match` block applies only to some connections, so it is not read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{run_program, Finding, ProgramError, Scope};

/// Settings as lower-case keyword to lower-case values. `sshd -T` prints some
/// keywords once per value (`port`, `listenaddress`), so a keyword may have
/// several; from a file only the first is kept, as sshd keeps it.
type Values = HashMap<String, Vec<String>>;

/// What `sshd -T -f FILE` said, asked once per audit (see [`Scope`]).
#[derive(Debug)]
pub enum SshdT {
    /// The effective settings it printed.
    Ran(Values),
    /// No sshd in PATH.
    NotInstalled,
    /// sshd is there but did not print its settings (not root, no host keys, a
    /// bad file, a timeout): why.
    Failed(String),
}

/// `sshd -T -f FILE` for this audit, run by the first check that asks.
fn sshd_t(ctx: &Scope) -> &SshdT {
    ctx.sshd_t.get_or_init(|| {
        let file = ctx.sshd_config.to_string_lossy();
        match run_program("sshd", &["-T", "-f", &file]) {
            Ok(out) if out.success => SshdT::Ran(parse_sshd_t(&out.stdout)),
            Ok(out) => {
                let why = out.stderr.lines().next().unwrap_or("").trim();
                SshdT::Failed(format!("sshd -T -f {file} failed: {why}"))
            }
            Err(ProgramError::NotInstalled(_)) => SshdT::NotInstalled,
            Err(e) => SshdT::Failed(e.to_string()),
        }
    })
}

/// `sshd -T` output: one `keyword value` line per setting, and one line per
/// value for those that take several.
fn parse_sshd_t(stdout: &str) -> Values {
    let mut values = Values::new();
    for (keyword, value) in stdout.lines().filter_map(|l| l.split_once(' ')) {
        values
            .entry(keyword.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_ascii_lowercase());
    }
    values
}

/// sshd's effective settings and where they came from.
struct Settings<'a> {
    values: Cow<'a, Values>,
    source: String,
}

impl Settings<'_> {
    fn get<'a>(&'a self, keyword: &str, default: &'a str) -> &'a str {
        self.values
            .get(keyword)
            .and_then(|v| v.first())
            .map_or(default, String::as_str)
    }
}

fn settings(ctx: &Scope) -> Result<Settings<'_>, Finding> {
    let file = ctx.sshd_config.to_string_lossy().into_owned();
    if let SshdT::Ran(values) = sshd_t(ctx) {
        return Ok(Settings {
            values: Cow::Borrowed(values),
            source: format!("sshd -T -f {file}"),
        });
    }
    if !ctx.sshd_config.exists() {
        return Err(Finding::skip(format!(
            "{file} does not exist and sshd -T could not run (is OpenSSH installed?)"
        )));
    }
    let mut values = Values::new();
    read_config(&ctx.sshd_config, &mut values, 0)
        .map_err(|e| Finding::skip(format!("cannot read {file}: {e}")))?;
    Ok(Settings {
        values: Cow::Owned(values),
        source: file,
    })
}

/// The ports sshd listens on, from `sshd -T` (its `port` lines, and the port of
/// each `listenaddress`), or why it could not run (not root, no host keys). The
/// file is not read instead: the defaults and `ListenAddress host:port` would
/// make that a guess, and a wrong guess passes a port. No sshd installed listens
/// nowhere: no ports, not an error.
pub fn ports(ctx: &Scope) -> Result<Vec<u16>, String> {
    match sshd_t(ctx) {
        SshdT::Ran(values) => Ok(ports_of(values)),
        SshdT::NotInstalled => Ok(Vec::new()),
        SshdT::Failed(why) => Err(why.clone()),
    }
}

/// The ports in `sshd -T` settings, sorted and without repeats.
fn ports_of(values: &Values) -> Vec<u16> {
    let listed = |keyword: &str| values.get(keyword).into_iter().flatten();
    let mut ports: Vec<u16> = listed("port")
        .filter_map(|p| p.parse().ok())
        .chain(
            listed("listenaddress")
                .map(String::as_str)
                .filter_map(listen_port),
        )
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The port of a `listenaddress` value as `sshd -T` prints it: `0.0.0.0:22` or
/// `[::]:2222`, the port always given, followed by `rdomain NAME` when the
/// address has a routing domain.
fn listen_port(value: &str) -> Option<u16> {
    let address = value.split_whitespace().next()?;
    let (_, port) = match address.strip_prefix('[') {
        Some(v6) => v6.split_once("]:")?,
        None => address.rsplit_once(':')?,
    };
    port.parse().ok()
}

/// Read one sshd configuration file into `values` (first value wins), following
/// `Include` (globs; relative to /etc/ssh, as sshd takes them).
fn read_config(path: &Path, values: &mut Values, depth: usize) -> std::io::Result<()> {
    if depth > 16 {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, value) = line
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or((line, ""));
        let keyword = keyword.to_ascii_lowercase();
        let value = value
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .trim();
        match keyword.as_str() {
            "match" => return Ok(()),
            "include" => {
                for pattern in value.split_whitespace() {
                    let full = if pattern.starts_with('/') {
                        PathBuf::from(pattern)
                    } else {
                        Path::new("/etc/ssh").join(pattern)
                    };
                    let mut files: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                        .map(|g| g.flatten().collect())
                        .unwrap_or_default();
                    files.sort();
                    for f in files {
                        read_config(&f, values, depth + 1)?;
                    }
                }
            }
            _ => {
                values
                    .entry(keyword)
                    .or_insert_with(|| vec![value.to_ascii_lowercase()]);
            }
        }
    }
    Ok(())
}

pub fn password_authentication(ctx: &Scope) -> Finding {
    let s = match settings(ctx) {
        Ok(s) => s,
        Err(skip) => return skip,
    };
    let password = s.get("passwordauthentication", "yes");
    let keyboard = s.get(
        "kbdinteractiveauthentication",
        s.get("challengeresponseauthentication", "yes"),
    );
    let pam = s.get("usepam", "no");
    let seen = format!(
        "PasswordAuthentication {password}, KbdInteractiveAuthentication {keyboard}, \
         UsePAM {pam} ({})",
        s.source
    );
    const FIX: &str = "set `PasswordAuthentication no` and `KbdInteractiveAuthentication no` \
                       in /etc/ssh/sshd_config.d/ and log in with keys";
    if password == "yes" {
        Finding::fail(seen, FIX)
    } else if keyboard == "yes" && pam == "yes" {
        Finding::warn(format!("{seen}: PAM may still ask for a password"), FIX)
    } else {
        Finding::pass(seen)
    }
}

pub fn root_login(ctx: &Scope) -> Finding {
    let s = match settings(ctx) {
        Ok(s) => s,
        Err(skip) => return skip,
    };
    let root = s.get("permitrootlogin", "prohibit-password");
    let seen = format!("PermitRootLogin {root} ({})", s.source);
    const FIX: &str = "set `PermitRootLogin no` and use sudo from a named account";
    match root {
        "no" => Finding::pass(seen),
        "yes" => Finding::fail(format!("{seen}: root can log in with a password"), FIX),
        _ => Finding::warn(format!("{seen}: root can log in with a key"), FIX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_wins_includes_are_followed_and_match_blocks_skipped() {
        let dir = std::env::temp_dir().join(format!("ferroban-sshd-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        std::fs::write(
            dir.join("conf.d/10-hardening.conf"),
            "PasswordAuthentication no\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "# comment\nInclude {}/conf.d/*.conf\npasswordauthentication yes\n\
                 PermitRootLogin=yes\nMatch User backup\n  PermitRootLogin no\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut values = Values::new();
        read_config(&dir.join("sshd_config"), &mut values, 0).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(values["passwordauthentication"], ["no"]);
        assert_eq!(values["permitrootlogin"], ["yes"]);
    }

    /// Lines as OpenSSH's `sshd -T` prints them (servconf.c `dump_config`):
    /// every port, then every listen address with its port, IPv6 in brackets,
    /// and ` rdomain NAME` after one that has a routing domain.
    const SSHD_T: &str = "port 22\nport 2222\naddressfamily any\n\
                          listenaddress [::]:2222\nlistenaddress 0.0.0.0:22 rdomain x\n\
                          listenaddress [2001:db8::1]:8022 rdomain blue\n\
                          listenaddress 192.0.2.1:9022\n\
                          permitrootlogin without-password\nPasswordAuthentication no\n\
                          usepam yes\nauthorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n";

    #[test]
    fn sshd_t_lines_are_read_once_with_every_value() {
        let values = parse_sshd_t(SSHD_T);
        assert_eq!(values["port"], ["22", "2222"]);
        assert_eq!(values["listenaddress"].len(), 4);
        assert_eq!(values["passwordauthentication"], ["no"]);
        assert_eq!(
            values["authorizedkeysfile"],
            [".ssh/authorized_keys .ssh/authorized_keys2"]
        );
        assert_eq!(ports_of(&values), [22, 2222, 8022, 9022]);
        let settings = Settings {
            values: Cow::Borrowed(&values),
            source: String::new(),
        };
        assert_eq!(settings.get("permitrootlogin", "no"), "without-password");
        assert_eq!(settings.get("kbdinteractiveauthentication", "yes"), "yes");
    }

    #[test]
    fn listen_addresses_give_their_port() {
        assert_eq!(listen_port("[::]:2222"), Some(2222));
        assert_eq!(listen_port("0.0.0.0:22 rdomain x"), Some(22));
        assert_eq!(listen_port("[fe80::1%eth0]:22"), Some(22));
        assert_eq!(listen_port("[::]"), None);
        assert_eq!(listen_port("0.0.0.0:ssh"), None);
        assert_eq!(listen_port(""), None);
    }
}
