//! `sshd-password-authentication` and `sshd-root-login`: does sshd refuse
//! passwords and root?
//!
//! Asks sshd itself (`sshd -T -f FILE`, the settings it would run with) and, where
//! that cannot run (not installed, not root, no host keys), reads the file and
//! its `Include`s as sshd does: keywords in any case, the first value wins, and a
//! `Match` block applies only to some connections, so it is not read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{run_program, Finding, Scope};

/// sshd's effective settings, lower-case keyword to lower-case value, and where
/// they came from.
struct Settings {
    values: HashMap<String, String>,
    source: String,
}

impl Settings {
    fn get<'a>(&'a self, keyword: &str, default: &'a str) -> &'a str {
        self.values.get(keyword).map_or(default, String::as_str)
    }
}

fn settings(ctx: &Scope) -> Result<Settings, Finding> {
    let file = ctx.sshd_config.to_string_lossy().into_owned();
    if let Ok(out) = run_program("sshd", &["-T", "-f", &file]) {
        if out.success {
            let values = out
                .stdout
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
                .collect();
            return Ok(Settings {
                values,
                source: format!("sshd -T -f {file}"),
            });
        }
    }
    if !ctx.sshd_config.exists() {
        return Err(Finding::skip(format!(
            "{file} does not exist and sshd -T could not run (is OpenSSH installed?)"
        )));
    }
    let mut values = HashMap::new();
    read_config(&ctx.sshd_config, &mut values, 0)
        .map_err(|e| Finding::skip(format!("cannot read {file}: {e}")))?;
    Ok(Settings {
        values,
        source: file,
    })
}

/// The ports sshd listens on, from `sshd -T` (its `port` lines, and the port of
/// each `listenaddress`), or why it could not run (not installed, not root, no
/// host keys). The file is not read instead: the defaults and `ListenAddress
/// host:port` would make that a guess, and a wrong guess passes a port. No sshd
/// installed listens nowhere: no ports, not an error.
pub fn ports(ctx: &Scope) -> Result<Vec<u16>, String> {
    let file = ctx.sshd_config.to_string_lossy().into_owned();
    let out = match run_program("sshd", &["-T", "-f", &file]) {
        Ok(out) => out,
        Err(_) if !installed("sshd") => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if !out.success {
        let why = out.stderr.lines().next().unwrap_or("").trim().to_string();
        return Err(format!("sshd -T -f {file} failed: {why}"));
    }
    let mut ports: Vec<u16> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let (keyword, value) = l.split_once(' ')?;
            match keyword.to_ascii_lowercase().as_str() {
                "port" => value.trim().parse().ok(),
                "listenaddress" => value.trim().rsplit_once(':')?.1.parse().ok(),
                _ => None,
            }
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// Whether `program` is a file in one of the PATH's directories.
fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Read one sshd configuration file into `values` (first value wins), following
/// `Include` (globs; relative to /etc/ssh, as sshd takes them).
fn read_config(
    path: &Path,
    values: &mut HashMap<String, String>,
    depth: usize,
) -> std::io::Result<()> {
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
                    .or_insert_with(|| value.to_ascii_lowercase());
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
        let mut values = HashMap::new();
        read_config(&dir.join("sshd_config"), &mut values, 0).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(values["passwordauthentication"], "no");
        assert_eq!(values["permitrootlogin"], "yes");
    }
}
