//! Reading the systemd journal through `journalctl`.
//!
//! One `journalctl --follow -o json` per journal jail, with the filter's
//! `journalmatch` as its match arguments. Entries become lines the way Fail2ban
//! formats them (`HOST IDENT[PID]: MESSAGE`), with the entry's own time, so
//! `logtype = journal` filters match them unchanged. Reading resumes after the
//! stored cursor, or `findtime` before now on a first start.

use std::io::{BufRead, BufReader, Lines, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Sink, SourceEvent};

/// Most entries handed on in one event.
const BATCH: usize = 1000;

/// Where and what to read.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalSpec {
    /// The name events carry (the jail's).
    pub source: String,
    /// Match lines; each is `FIELD=value [+ FIELD=value …]`, lines are alternatives.
    pub matches: Vec<String>,
    /// Journal files instead of the system journal.
    pub files: Vec<PathBuf>,
    /// A journal directory instead of the system journal.
    pub directory: Option<PathBuf>,
    /// Resume after this cursor…
    pub cursor: Option<String>,
    /// …or else start at this epoch time.
    pub since: f64,
}

impl JournalSpec {
    /// The `journalctl` arguments: followed from the cursor (or `since`) on.
    pub fn arguments(&self) -> Vec<String> {
        let mut args = vec!["--follow".to_string()];
        match &self.cursor {
            Some(c) => args.push(format!("--after-cursor={c}")),
            None => {
                // to the microsecond, as journalctl reads it: a start taken over
                // from Fail2ban is the microsecond after the last entry it read
                let us = (self.since.max(0.0) * 1e6).round() as i64;
                let (seconds, us) = (us / 1_000_000, us % 1_000_000);
                args.push(format!("--since=@{seconds}.{us:06}"));
            }
        }
        args.extend(self.history_arguments());
        args
    }

    /// The `journalctl` arguments that print every entry there is and end (the
    /// filter tester's reading of the journal).
    pub fn history_arguments(&self) -> Vec<String> {
        let mut args = vec![
            "--output=json".to_string(),
            "--no-pager".into(),
            "--quiet".into(),
        ];
        for f in &self.files {
            args.push(format!("--file={}", f.display()));
        }
        if let Some(d) = &self.directory {
            args.push(format!("--directory={}", d.display()));
        }
        for (i, m) in self.matches.iter().enumerate() {
            if i > 0 {
                args.push("+".into());
            }
            args.extend(m.split_whitespace().map(str::to_string));
        }
        args
    }
}

/// Every entry there is of the journal a [`JournalSpec`] names, oldest first, as
/// lines formatted as Fail2ban formats them with their times: what the filter
/// tester reads (`fail2ban-regex systemd-journal`). One `journalctl` that prints and
/// ends; [`History::finish`] tells whether it read the journal.
pub struct History {
    child: Child,
    output: Lines<BufReader<ChildStdout>>,
    arguments: Vec<String>,
    /// Why reading journalctl's output stopped early.
    failed: Option<String>,
}

impl History {
    /// Start reading the entries `spec` names.
    pub fn start(spec: &JournalSpec) -> Result<History, String> {
        let arguments = spec.history_arguments();
        let mut child = journalctl(&arguments)?;
        let stdout = child.stdout.take().ok_or("no journalctl output")?;
        Ok(History {
            child,
            output: BufReader::new(stdout).lines(),
            arguments,
            failed: None,
        })
    }

    /// Wait for journalctl: an error naming its call and its reason when it could
    /// not read the journal (a path to nothing, say), not a journal of no entries.
    pub fn finish(mut self) -> Result<(), String> {
        let mut err = String::new();
        if let Some(s) = self.child.stderr.as_mut() {
            let _ = s.take(4096).read_to_string(&mut err);
        }
        let status = self.child.wait().map_err(|e| format!("journalctl: {e}"))?;
        match self.failed.take() {
            Some(failed) => Err(format!("reading journalctl's output: {failed}")),
            None if status.success() => Ok(()),
            None => Err(format!(
                "journalctl {}: {}",
                self.arguments.join(" "),
                err.trim()
            )),
        }
    }
}

impl Iterator for History {
    /// An entry's line and time.
    type Item = (String, f64);

    fn next(&mut self) -> Option<(String, f64)> {
        while self.failed.is_none() {
            match self.output.next()? {
                Ok(json) => match parse_entry(&json) {
                    Some((line, time, _cursor)) => return Some((line, time)),
                    None => continue,
                },
                Err(e) => self.failed = Some(e.to_string()),
            }
        }
        None
    }
}

/// `journalctl ARGUMENTS`, its output and errors piped.
fn journalctl(arguments: &[String]) -> Result<Child, String> {
    Command::new("journalctl")
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run journalctl: {e} (install systemd or use a file backend)"))
}

/// How long a reader waits before it runs `journalctl` again after it ended.
const RERUN_PAUSE: Duration = Duration::from_secs(5);

/// A running journal reader.
pub struct JournalReader {
    child: Arc<Mutex<Option<Child>>>,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

/// A reader's stop request: set once, it ends the pause between two runs of
/// `journalctl` at once (a server stopping ten journal jails must not wait for ten
/// pauses one after another), and keeps a run from starting.
#[derive(Default)]
struct Stop {
    requested: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn request(&self) {
        *self.requested.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    fn requested(&self) -> bool {
        *self.requested.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for `pause` unless a stop is requested first; whether one was.
    fn wait(&self, pause: Duration) -> bool {
        let guard = self.requested.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, pause, |requested| !*requested)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

impl JournalReader {
    pub fn start(spec: JournalSpec, mut sink: Sink) -> JournalReader {
        let child: Arc<Mutex<Option<Child>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(Stop::default());
        let (c, s) = (child.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("ferroban-journal-{}", spec.source))
            .spawn(move || {
                let mut spec = spec;
                while !s.requested() {
                    match follow(&spec, &c, &s, &mut sink) {
                        Ok(Flow::SinkGone) => return,
                        Ok(Flow::Ended(cursor)) => spec.cursor = cursor.or(spec.cursor.take()),
                        Err(e) => {
                            if !sink(SourceEvent::Warning(format!(
                                "journal of [{}]: {e}",
                                spec.source
                            ))) {
                                return;
                            }
                        }
                    }
                    if s.wait(RERUN_PAUSE) {
                        return;
                    }
                }
            })
            .ok();
        JournalReader {
            child,
            stop,
            thread,
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.request();
        if let Ok(mut c) = self.child.lock() {
            if let Some(child) = c.as_mut() {
                let _ = child.kill();
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for JournalReader {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How one run of `journalctl` ended.
enum Flow {
    /// Nobody listens any more.
    SinkGone,
    /// journalctl ended; resume after this cursor.
    Ended(Option<String>),
}

/// Run one `journalctl` until it ends.
fn follow(
    spec: &JournalSpec,
    slot: &Arc<Mutex<Option<Child>>>,
    stop: &Stop,
    sink: &mut Sink,
) -> Result<Flow, String> {
    let mut child = journalctl(&spec.arguments())?;
    let stdout = child.stdout.take().ok_or("no journalctl output")?;
    let mut stderr = child.stderr.take();
    if let Ok(mut s) = slot.lock() {
        // A stop requested while journalctl started found no child to end: end it
        // here (a stop after this finds it in the slot).
        if stop.requested() {
            let _ = child.kill();
        }
        *s = Some(child);
    }
    let mut reader = BufReader::new(stdout);
    let mut cursor = spec.cursor.clone();
    let mut batch: Vec<(String, f64)> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if n > 0 {
            if let Some((text, time, c)) = parse_entry(&line) {
                batch.push((text, time));
                cursor = c.or(cursor);
            }
        }
        let buffered_line = reader.buffer().contains(&b'\n');
        if (n == 0 || !buffered_line || batch.len() >= BATCH) && !batch.is_empty() {
            let event = SourceEvent::Journal {
                source: spec.source.clone(),
                entries: std::mem::take(&mut batch),
                cursor: cursor.clone(),
            };
            if !sink(event) {
                return Ok(Flow::SinkGone);
            }
        }
        if n == 0 {
            break;
        }
    }
    let mut err = String::new();
    if let Some(s) = stderr.as_mut() {
        let _ = s.take(4096).read_to_string(&mut err);
    }
    if let Ok(mut s) = slot.lock() {
        if let Some(mut c) = s.take() {
            let _ = c.wait();
        }
    }
    if err.trim().is_empty() {
        Ok(Flow::Ended(cursor))
    } else {
        Err(format!("journalctl: {}", err.trim()))
    }
}

fn field_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        // Binary fields come as byte arrays.
        serde_json::Value::Array(a) if a.iter().all(|b| b.is_u64()) => {
            let bytes: Vec<u8> = a
                .iter()
                .filter_map(|b| b.as_u64().map(|b| b as u8))
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        serde_json::Value::Array(a) => Some(
            a.iter()
                .filter_map(field_text)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// One `journalctl -o json` line: the formatted line, its time and its cursor.
pub fn parse_entry(json: &str) -> Option<(String, f64, Option<String>)> {
    let v: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
    let get = |k: &str| v.get(k).and_then(field_text).filter(|s| !s.is_empty());
    let mut parts: Vec<String> = Vec::new();
    if let Some(h) = get("_HOSTNAME") {
        parts.push(h);
    }
    if let Some(ident) = get("SYSLOG_IDENTIFIER").or_else(|| get("_COMM")) {
        let pid = get("SYSLOG_PID").or_else(|| get("_PID"));
        let ident = match pid {
            Some(p) => format!("{ident}[{p}]:"),
            None => format!("{ident}:"),
        };
        // the kernel's lines carry their time since boot, as in its own log
        let since_boot = (ident == "kernel:")
            .then(|| get("_SOURCE_MONOTONIC_TIMESTAMP").or_else(|| get("__MONOTONIC_TIMESTAMP")))
            .flatten()
            .and_then(|us| us.parse::<f64>().ok());
        parts.push(ident);
        if let Some(us) = since_boot {
            parts.push(format!("[{:12.6}]", us / 1e6));
        }
    }
    parts.push(get("MESSAGE").unwrap_or_default());
    let text = parts.join(" ").replace('\n', "\\n");
    // the time the source gave, where it gave one (as Fail2ban dates an entry)
    let time = get("_SOURCE_REALTIME_TIMESTAMP")
        .or_else(|| get("__REALTIME_TIMESTAMP"))?
        .parse::<f64>()
        .ok()?
        / 1e6;
    Some((text, time, get("__CURSOR")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_formatted_like_fail2ban() {
        let (text, time, cursor) = parse_entry(
            r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"vps","SYSLOG_IDENTIFIER":"sshd","_PID":"812","MESSAGE":"Failed password for root from 192.0.2.7 port 22 ssh2\nmore"}"#,
        )
        .unwrap();
        assert_eq!(
            text,
            "vps sshd[812]: Failed password for root from 192.0.2.7 port 22 ssh2\\nmore"
        );
        assert!((time - 1_700_000_000.123456).abs() < 1e-6);
        assert_eq!(cursor.as_deref(), Some("s=1;i=2"));
        let (bin, _, _) =
            parse_entry(r#"{"__REALTIME_TIMESTAMP":"1","_COMM":"x","MESSAGE":[104,105]}"#).unwrap();
        assert_eq!(bin, "x: hi");
        assert!(parse_entry("not json").is_none());
        // the source's time first; the kernel's time since boot in its line
        let (kernel, time, _) = parse_entry(
            r#"{"__REALTIME_TIMESTAMP":"1700000001000000","_SOURCE_REALTIME_TIMESTAMP":"1700000000500000","SYSLOG_IDENTIFIER":"kernel","_SOURCE_MONOTONIC_TIMESTAMP":"1234567890","MESSAGE":"IN=eth0 SRC=192.0.2.9"}"#,
        )
        .unwrap();
        assert_eq!(kernel, "kernel: [ 1234.567890] IN=eth0 SRC=192.0.2.9");
        assert!((time - 1_700_000_000.5).abs() < 1e-6);
    }

    #[test]
    fn a_reader_stops_at_once_between_two_runs_of_journalctl() {
        // journalctl ends at once on a directory that is no journal (or is missing):
        // the reader then pauses before it runs it again, and a stop must not wait
        // for the pause (a server stopping ten journal jails waited 50 s).
        let spec = JournalSpec {
            source: "sshd".into(),
            matches: vec![],
            files: vec![PathBuf::from("/nonexistent/ferroban-test.journal")],
            directory: None,
            cursor: None,
            since: 0.0,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = JournalReader::start(spec, Box::new(move |event| tx.send(event).is_ok()));
        // the first run has ended (its warning came) and the pause begun
        let ended = rx.recv_timeout(Duration::from_secs(10));
        assert!(
            matches!(ended, Ok(SourceEvent::Warning(_))),
            "journalctl on a missing file did not end with a warning"
        );
        let began = std::time::Instant::now();
        reader.stop();
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "stopping took {:?}",
            began.elapsed()
        );
    }

    #[test]
    fn match_arguments() {
        let spec = JournalSpec {
            source: "sshd".into(),
            matches: vec![
                "_SYSTEMD_UNIT=sshd.service + _COMM=sshd".into(),
                "_COMM=dropbear".into(),
            ],
            files: vec![PathBuf::from("/tmp/a.journal")],
            directory: None,
            cursor: None,
            since: 100.5,
        };
        assert_eq!(
            spec.arguments(),
            vec![
                "--follow",
                "--since=@100.500000",
                "--output=json",
                "--no-pager",
                "--quiet",
                "--file=/tmp/a.journal",
                "_SYSTEMD_UNIT=sshd.service",
                "+",
                "_COMM=sshd",
                "+",
                "_COMM=dropbear"
            ]
        );
        // the tester's reading: everything there is, then the end
        let history = spec.history_arguments();
        assert_eq!(history, spec.arguments()[2..]);
    }
}
