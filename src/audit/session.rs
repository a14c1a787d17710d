//! Where the admin running the audit is connected from, for `admin-not-ignored`.
//!
//! The documented invocation is `sudo ferroban audit`, and sudo's env_reset drops
//! SSH_CONNECTION and SSH_CLIENT, so this process's own environment is only the
//! first place looked. Then, as `who am i` does, the utmp entry of the
//! controlling terminal's line: sshd writes the client's address there, and sudo
//! copies the entry to the terminal it makes with `use_pty`. Last, the
//! SSH_CONNECTION or SSH_CLIENT of the parent processes (sudo keeps the user's
//! environment in its own), up the chain while /proc lets us read it.
//!
//! Only a valid IP address is used: a host name (sshd's `UseDNS`) or a mangled
//! variable could stand for anything, and the check would then pass or warn
//! about an address that is not the admin's.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;

use crate::procfs;

/// The variables sshd sets; SSH_CONNECTION first, as it is the newer and fuller.
const VARIABLES: [&str; 2] = ["SSH_CONNECTION", "SSH_CLIENT"];
/// glibc's utmp file (`/var/run` is `/run` on Debian).
const UTMP: &str = "/var/run/utmp";
/// glibc's `struct utmp` on Linux: 384 bytes, the same on 32- and 64-bit.
const UTMP_RECORD: usize = 384;
/// `ut_type` of a login.
const USER_PROCESS: i16 = 7;
/// How many parents to read before giving up (a chain is a handful long).
const MAX_ANCESTORS: usize = 64;

/// The admin's address and where it was read, for the `seen` text.
#[derive(Debug)]
pub struct Admin {
    pub address: IpAddr,
    pub source: String,
}

/// The admin's address, or every reason it was not found.
pub fn find() -> Result<Admin, String> {
    let mut why = Vec::new();
    for var in VARIABLES {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let value = value.to_string_lossy();
        match address_in(&value) {
            Some(address) => {
                return Ok(Admin {
                    address,
                    source: var.to_string(),
                })
            }
            None => why.push(format!(
                "{var} is set but unreadable ({}, not an address and ports)",
                quoted(&value)
            )),
        }
    }
    if why.is_empty() {
        why.push("SSH_CONNECTION and SSH_CLIENT are not set (sudo drops them)".to_string());
    }
    // Read once: the terminal for utmp, the parent for the chain.
    let me = match procfs::stat("self") {
        Ok(me) => me,
        Err(e) => {
            why.push(format!("cannot read /proc/self/stat: {e}"));
            return Err(why.join("; "));
        }
    };
    match from_utmp(me.tty_nr) {
        Ok(admin) => return Ok(admin),
        Err(e) => why.push(e),
    }
    match from_parents(me.ppid) {
        Ok(admin) => return Ok(admin),
        Err(e) => why.push(e),
    }
    Err(why.join("; "))
}

/// The client address at the start of an SSH_CONNECTION or SSH_CLIENT value
/// (`ADDRESS PORT [SERVER PORT]`), IPv4-mapped IPv6 addresses as IPv4 (ignoreip
/// names them so).
fn address_in(value: &str) -> Option<IpAddr> {
    let address: IpAddr = value.split_whitespace().next()?.parse().ok()?;
    Some(address.to_canonical())
}

/// A value for a message: quoted, escaped and cut short.
fn quoted(value: &str) -> String {
    let cut: String = value.chars().take(60).collect();
    let more = if cut.len() < value.len() { "…" } else { "" };
    format!("\"{}\"{more}", cut.escape_debug())
}

/// The login on this process's terminal, whose device number is `tty_nr`.
fn from_utmp(tty_nr: u64) -> Result<Admin, String> {
    let line = controlling_terminal(tty_nr)?;
    let records = std::fs::read(UTMP).map_err(|e| format!("cannot read {UTMP}: {e}"))?;
    let host = utmp_host(&records, &line)
        .ok_or_else(|| format!("{UTMP} has no login on {line}, this process's terminal"))?;
    if host.is_empty() {
        return Err(format!("the login on {line} in {UTMP} is local"));
    }
    match host.parse::<IpAddr>() {
        Ok(address) => Ok(Admin {
            address: address.to_canonical(),
            source: format!("the login on {line} in {UTMP}"),
        }),
        Err(_) => Err(format!(
            "the login on {line} in {UTMP} names host {}, not an address",
            quoted(&host)
        )),
    }
}

/// The remote host of the last login on `line` (`pts/3`) in utmp records.
fn utmp_host(records: &[u8], line: &str) -> Option<String> {
    let text = |bytes: &[u8]| {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    records
        .chunks_exact(UTMP_RECORD)
        .rev()
        .find(|r| i16::from_ne_bytes([r[0], r[1]]) == USER_PROCESS && text(&r[8..40]) == line)
        .map(|r| text(&r[76..332]))
}

/// The line (`pts/3`, `tty1`) of this process's controlling terminal: the
/// device whose number /proc/self/stat gives (`device`), looked up in /dev/pts
/// and /dev. stdin may be redirected (`sudo ferroban audit < /dev/null`); the
/// controlling terminal is still the session's.
fn controlling_terminal(device: u64) -> Result<String, String> {
    if device == 0 {
        return Err("no controlling terminal".to_string());
    }
    for dir in ["/dev/pts", "/dev"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if dir == "/dev" && !name.starts_with("tty") {
                continue;
            }
            if entry.metadata().is_ok_and(|m| m.rdev() == device) {
                let path = entry.path();
                let line = path.strip_prefix("/dev").unwrap_or(&path);
                return Ok(line.to_string_lossy().into_owned());
            }
        }
    }
    Err(format!(
        "the controlling terminal (device {device:#x}) is not in /dev"
    ))
}

fn parent_of(pid: u32) -> Result<u32, String> {
    procfs::stat(pid)
        .map(|s| s.ppid)
        .map_err(|_| format!("cannot read the parent in /proc/{pid}/stat"))
}

/// SSH_CONNECTION or SSH_CLIENT in the environment of this process's parent
/// (`ppid`) or the parents above it.
fn from_parents(ppid: u32) -> Result<Admin, String> {
    let none = "no parent process has SSH_CONNECTION or SSH_CLIENT";
    let mut pid = ppid;
    for _ in 0..MAX_ANCESTORS {
        // pid 1 is init (or the first process of a PID namespace), which no
        // login started.
        if pid <= 1 {
            return Err(none.to_string());
        }
        let environ = procfs::environ(pid).map_err(|e| {
            format!("{none} up to process {pid}, whose environment cannot be read ({e})")
        })?;
        for var in VARIABLES {
            let value = environ.iter().find(|(name, _)| name == var);
            if let Some(address) = value.and_then(|(_, v)| address_in(&v.to_string_lossy())) {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|n| format!(" ({})", n.trim()))
                    .unwrap_or_default();
                return Ok(Admin {
                    address,
                    source: format!("{var} of parent process {pid}{name}"),
                });
            }
        }
        pid = parent_of(pid)?;
    }
    Err(format!("{none} in {MAX_ANCESTORS} generations"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// utmp records written by util-linux's `utmpdump -r` from its text form
    /// (`[type] [pid] [id] [user] [line] [host] [addr] [time]`), so that the
    /// reader is checked against glibc's layout as another program writes it,
    /// not against offsets this test shares with the reader. utmpdump reads the
    /// first columns at fixed places: the type is one digit and the pid five.
    /// None, after saying why, without utmpdump.
    fn utmpdump(records: &[(i16, &str, &str)]) -> Option<Vec<u8>> {
        use std::io::Write;
        let text: String = records
            .iter()
            .enumerate()
            .map(|(i, (kind, line, host))| {
                // ut_id: the line's last four characters, as login and sshd set it.
                let id = line.get(line.len().saturating_sub(4)..).unwrap_or(line);
                format!(
                    "[{kind}] [{:05}] [{id:<4.4}] [admin   ] [{line:<12}] [{host:<20}] \
                     [0.0.0.0        ] [2024-05-01T10:00:00,000000+00:00]\n",
                    1000 + i
                )
            })
            .collect();
        let child = std::process::Command::new("utmpdump")
            .arg("-r")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("SKIPPED utmp records from utmpdump: utmpdump (util-linux) is not installed");
            return None;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "utmpdump -r: {text}");
        assert_eq!(out.stdout.len(), records.len() * UTMP_RECORD, "{text}");
        Some(out.stdout)
    }

    /// (line, host) of each login `who FILE` (coreutils, through glibc's utmp
    /// reader) lists in the utmp records `file`; None without `who`.
    fn who(file: &std::path::Path) -> Option<Vec<(String, String)>> {
        let out = std::process::Command::new("who").arg(file).output().ok()?;
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        Some(
            text.lines()
                .map(|l| {
                    let line = l.split_whitespace().nth(1).unwrap_or_default();
                    let host = l
                        .rsplit_once('(')
                        .and_then(|(_, h)| h.strip_suffix(')'))
                        .unwrap_or_default();
                    (line.to_string(), host.to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn only_an_address_is_taken_from_the_variables() {
        assert_eq!(
            address_in("203.0.113.5 50022 22"),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(
            address_in("::ffff:203.0.113.5 50022 10.0.0.1 22"),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(address_in("garbage"), None);
        assert_eq!(address_in(""), None);
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn the_last_login_on_the_line_gives_the_host() {
        // A login on pts/3 after a dead process on the same line (DEAD_PROCESS, 8).
        let Some(mut records) = utmpdump(&[
            (USER_PROCESS, "pts/1", "198.51.100.1"),
            (8, "pts/3", "198.51.100.2"),
            (USER_PROCESS, "pts/3", "2001:db8::7"),
            (USER_PROCESS, "pts/30", "198.51.100.3"),
        ]) else {
            return;
        };
        // `who` reads the same file as glibc does: each login it lists is the
        // one found here.
        let file = std::env::temp_dir().join(format!("ferroban-utmp-{}", std::process::id()));
        std::fs::write(&file, &records).unwrap();
        let listed = who(&file);
        std::fs::remove_file(&file).unwrap();
        match listed {
            Some(listed) => {
                assert_eq!(listed.len(), 3, "{listed:?}");
                for (line, host) in &listed {
                    assert_eq!(utmp_host(&records, line).as_ref(), Some(host), "{listed:?}");
                }
            }
            None => eprintln!("SKIPPED the cross-check with who: who is not installed"),
        }
        assert_eq!(utmp_host(&records, "pts/3").as_deref(), Some("2001:db8::7"));
        assert_eq!(utmp_host(&records, "pts/4"), None);
        // A cut record at the end is not read.
        records.truncate(records.len() - 1);
        assert_eq!(utmp_host(&records, "pts/30"), None);
    }
}
