//! Readers of a process's files in /proc, for `restart` (what the running server
//! was started with, and whether it still runs) and the audit (the admin's
//! terminal and parent processes).
//!
//! A process is named as /proc names it: a pid, or `self`.

use std::ffi::OsString;
use std::fmt::Display;
use std::os::unix::ffi::OsStringExt;

/// The fields of /proc/PID/stat that are used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `Z` (exited, not reaped), `X` (dead), …
    pub state: char,
    /// The parent's pid.
    pub ppid: u32,
    /// The controlling terminal's device number; 0 for none.
    pub tty_nr: u64,
}

/// /proc/PID/stat of process `pid`.
pub fn stat(pid: impl Display) -> std::io::Result<Stat> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)?;
    parse_stat(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{path} does not read as a stat line"),
        )
    })
}

/// The fields of a /proc/PID/stat text. They are counted after the last `)`:
/// the command name before it is in parentheses and may hold spaces and
/// parentheses itself.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    // state ppid pgrp session tty_nr …
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let tty_nr = fields.nth(2)?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        tty_nr,
    })
}

/// The NUL-separated fields of /proc/PID/NAME (`cmdline`, `environ`), empty
/// ones left out.
pub fn fields(pid: impl Display, name: &str) -> std::io::Result<Vec<OsString>> {
    let bytes = std::fs::read(format!("/proc/{pid}/{name}"))?;
    Ok(split_fields(&bytes))
}

fn split_fields(bytes: &[u8]) -> Vec<OsString> {
    bytes
        .split(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| OsString::from_vec(f.to_vec()))
        .collect()
}

/// The environment of process `pid` (/proc/PID/environ), as (name, value) in
/// order. An entry without `=` is left out; a value may hold `=` itself.
pub fn environ(pid: impl Display) -> std::io::Result<Vec<(OsString, OsString)>> {
    Ok(split_environ(fields(pid, "environ")?))
}

fn split_environ(entries: Vec<OsString>) -> Vec<(OsString, OsString)> {
    entries
        .into_iter()
        .filter_map(|entry| {
            let mut name = entry.into_vec();
            let at = name.iter().position(|&b| b == b'=')?;
            let value = name.split_off(at + 1);
            name.truncate(at);
            Some((OsString::from_vec(name), OsString::from_vec(value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "42 (a) b (c)) S 7 42 42 34816 42 4194560";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                ppid: 7,
                tty_nr: 34816
            })
        );
        assert_eq!(parse_stat("42 (cut) Z 1"), None);
        assert_eq!(parse_stat("no name"), None);
        // This thread (the test harness's main thread, /proc/self, is asleep
        // waiting for it): running, with the process's parent.
        let me = stat("thread-self").unwrap();
        assert_eq!(me.state, 'R');
        assert_eq!(me.ppid, std::os::unix::process::parent_id());
    }

    #[test]
    fn environ_splits_at_nul_and_the_first_equals_sign() {
        let raw = b"HOME=/root\0SSH_CLIENT_X=1\0\0NOEQUALS\0SSH_CLIENT=192.0.2.4 1 22\0A=b=c\0";
        let env = split_environ(split_fields(raw));
        let pairs: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        let want = [
            ("HOME", "/root"),
            ("SSH_CLIENT_X", "1"),
            ("SSH_CLIENT", "192.0.2.4 1 22"),
            ("A", "b=c"),
        ];
        assert_eq!(
            pairs,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        // This process's own environment reads back as std sees it.
        let mine = environ("self").unwrap();
        let path = std::env::var_os("PATH");
        assert_eq!(
            mine.into_iter().find(|(k, _)| k == "PATH").map(|(_, v)| v),
            path
        );
    }
}
