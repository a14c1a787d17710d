//! The server's own log, line for line in Fail2ban's format.
//!
//! `2026-02-23 11:08:21,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban 192.0.2.7`
//! — so Fail2ban's `recidive` filter, and every script written for Fail2ban's log,
//! work on it. Owns the targets (a file, reopened by `flushlogs` for logrotate;
//! stdout; stderr; syslog; the systemd journal) and the level threshold.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};

use ferroban_actions::Severity;
use ferroban_config::settings::LogTarget;

/// The logger components of Fail2ban, whose names appear in each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Server,
    Jail,
    Filter,
    Actions,
    Database,
    Observer,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Server => "fail2ban.server",
            Component::Jail => "fail2ban.jail",
            Component::Filter => "fail2ban.filter",
            Component::Actions => "fail2ban.actions",
            Component::Database => "fail2ban.database",
            Component::Observer => "fail2ban.observer",
        }
    }
}

fn level_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Notice => "NOTICE",
        Severity::Info => "INFO",
        Severity::Debug => "DEBUG",
    }
}

/// A level from its Fail2ban name, or a Python logging number (`10` is DEBUG).
pub fn parse_level(name: &str) -> Option<Severity> {
    let name = name.trim();
    // Python's numeric levels, as Fail2ban takes them: lines at or above the number
    if let Ok(number) = name.parse::<u32>() {
        return Some(match number {
            0..=10 => Severity::Debug,
            11..=20 => Severity::Info,
            21..=25 => Severity::Notice,
            26..=30 => Severity::Warning,
            31..=40 => Severity::Error,
            _ => Severity::Critical,
        });
    }
    Some(match name.to_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "ERROR" => Severity::Error,
        "WARNING" | "WARN" => Severity::Warning,
        "NOTICE" => Severity::Notice,
        "INFO" => Severity::Info,
        "DEBUG" | "TRACEDEBUG" | "HEAVYDEBUG" => Severity::Debug,
        _ => return None,
    })
}

thread_local! {
    /// Set on the server thread: its lines are flushed once per round of events
    /// (a burst of 100,000 bans is then a few writes, not 100,000).
    static DEFERRED: Cell<bool> = const { Cell::new(false) };
}

/// Let this thread's log lines wait for [`Logger::flush`].
pub fn defer_flushes_on_this_thread() {
    DEFERRED.with(|d| d.set(true));
}

enum Sink {
    File(BufWriter<File>),
    Stdout,
    Stderr,
    Syslog(Option<UnixDatagram>),
    Journal(Option<UnixDatagram>),
}

struct Inner {
    sink: Sink,
    level: Severity,
    target: LogTarget,
    /// The line being made (its allocation serves every line).
    line: String,
    /// The start of the last line made for a file or stream.
    headers: Headers,
}

/// `{time},{ms} {component}[{pid}]: {level} `, kept for the lines that follow in
/// the same millisecond with the same component and level (a burst of `Found`
/// lines shares one).
#[derive(Default)]
struct Header {
    made_for: Option<(Component, Severity, i64)>,
    text: String,
}

/// The last two headers made: a brute-forcer's burst alternates `Found` lines
/// with `already banned` ones, and each kind keeps its own.
#[derive(Default)]
struct Headers {
    kept: [Header; 2],
    /// The one replaced next.
    oldest: usize,
}

impl Headers {
    /// The header of a line of `component` at `level` written at `millis`.
    fn get(&mut self, component: Component, level: Severity, millis: i64, pid: &str) -> &str {
        let wanted = Some((component, level, millis));
        let i = match self.kept.iter().position(|h| h.made_for == wanted) {
            Some(i) => i,
            None => {
                let i = self.oldest;
                self.oldest = 1 - i;
                let header = &mut self.kept[i];
                header.made_for = wanted;
                make_header(
                    &mut header.text,
                    millis,
                    component.name(),
                    pid,
                    level_name(level),
                );
                i
            }
        };
        &self.kept[i].text
    }
}

thread_local! {
    /// The time this thread's lines show while a [`HeldClock`] lives.
    static HELD_CLOCK: Cell<Option<f64>> = const { Cell::new(None) };
}

/// While it lives, the lines this thread writes show `time` instead of reading the
/// clock each (a block of lines is handled in milliseconds, and a clock read costs
/// as much as the rest of a `Found` line).
pub struct HeldClock {
    before: Option<f64>,
}

/// Show `time` on this thread's lines until the returned guard is dropped.
pub fn hold_clock(time: f64) -> HeldClock {
    HeldClock {
        before: HELD_CLOCK.with(|held| held.replace(Some(time))),
    }
}

impl Drop for HeldClock {
    fn drop(&mut self) {
        HELD_CLOCK.with(|held| held.set(self.before));
    }
}

/// The time a line written now shows (epoch seconds).
fn line_time() -> f64 {
    HELD_CLOCK.with(Cell::get).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    })
}

/// The shared logger (cheap to clone).
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Mutex<Inner>>,
    /// This process's id, as every line shows it.
    pid: Arc<str>,
}

/// `text` (an ASCII name: a component's or a level's) then spaces up to `width`
/// (at most 24) bytes, as `{text:<width}` writes it.
fn push_padded(line: &mut String, text: &str, width: usize) {
    const SPACES: &str = "                        ";
    line.push_str(text);
    line.push_str(&SPACES[..width.saturating_sub(text.len()).min(SPACES.len())]);
}

/// `{time},{ms:03} {name:<24}[{pid}]: {lname:<7} ` in `header` (replacing what it
/// held).
fn make_header(header: &mut String, millis: i64, name: &str, pid: &str, lname: &str) {
    header.clear();
    push_local_time(header, millis.div_euclid(1000) as f64);
    let ms = millis.rem_euclid(1000);
    let digit = |d: i64| char::from(b'0' + (d % 10) as u8);
    header.push(',');
    header.push(digit(ms / 100));
    header.push(digit(ms / 10));
    header.push(digit(ms));
    header.push(' ');
    push_padded(header, name, 24);
    header.push('[');
    header.push_str(pid);
    header.push_str("]: ");
    push_padded(header, lname, 7);
    header.push(' ');
}

fn open_sink(target: &LogTarget) -> std::io::Result<Sink> {
    Ok(match target {
        LogTarget::File(p) => {
            // no directory is made: a missing one is most likely a typo
            Sink::File(BufWriter::new(
                OpenOptions::new().create(true).append(true).open(p)?,
            ))
        }
        LogTarget::Stdout => Sink::Stdout,
        LogTarget::Stderr => Sink::Stderr,
        LogTarget::Syslog(socket) => Sink::Syslog(datagram(socket)),
        LogTarget::SystemdJournal => Sink::Journal(datagram("/run/systemd/journal/socket")),
    })
}

fn datagram(path: impl AsRef<std::path::Path>) -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect(path).ok()?;
    Some(s)
}

/// A time as Fail2ban prints it in messages: `2026-02-23 11:08:21`.
pub fn time_text(epoch: f64) -> String {
    let mut text = String::new();
    push_local_time(&mut text, epoch);
    text
}

/// The length of `2026-02-23 11:08:21`.
const TIME_TEXT_LEN: usize = 19;

/// Minutes whose text is kept: a log line shows the time it is written at and
/// often another (a failure's own time, in its `Found` line).
const KEPT_MINUTES: usize = 2;

/// Minutes (of UTC, `epoch / 60`) shown lately and their local texts up to the
/// seconds; `oldest` is the slot replaced next.
struct KeptMinutes {
    slots: [(Option<i64>, MinuteText); KEPT_MINUTES],
    oldest: usize,
}

/// A minute's local text, `YYYY-MM-DD HH:MM:00`, whose seconds are then put in;
/// or `PerSecond` when they cannot be (the zone's offset then has seconds, or
/// changes inside the minute), and each second is made whole.
enum MinuteText {
    FirstSecond([u8; TIME_TEXT_LEN]),
    PerSecond,
}

impl KeptMinutes {
    const fn new() -> KeptMinutes {
        KeptMinutes {
            slots: [(None, MinuteText::PerSecond), (None, MinuteText::PerSecond)],
            oldest: 0,
        }
    }

    /// `second` in the zone `zone` gives as `YYYY-MM-DD HH:MM:SS`, appended to
    /// `out` (the zone is asked for only when the minute's text is made).
    fn push(&mut self, out: &mut String, second: i64, zone: impl Fn() -> jiff::tz::TimeZone) {
        let minute = second.div_euclid(60);
        let i = match self.slots.iter().position(|(m, _)| *m == Some(minute)) {
            Some(i) => i,
            None => {
                let i = self.oldest;
                self.oldest = (i + 1) % KEPT_MINUTES;
                self.slots[i] = (Some(minute), minute_text(minute, &zone()));
                i
            }
        };
        match &self.slots[i].1 {
            MinuteText::FirstSecond(first) => {
                let mut text = *first;
                let s = second.rem_euclid(60) as u8;
                text[TIME_TEXT_LEN - 2] = b'0' + s / 10;
                text[TIME_TEXT_LEN - 1] = b'0' + s % 10;
                push_ascii(out, &text);
            }
            MinuteText::PerSecond => push_ascii(out, &local_time_text(second, &zone())),
        }
    }
}

/// The local text of UTC minute `minute` (see [`MinuteText`]).
fn minute_text(minute: i64, tz: &jiff::tz::TimeZone) -> MinuteText {
    let start = minute.saturating_mul(60);
    let offset = |second: i64| {
        jiff::Timestamp::from_second(second)
            .ok()
            .map(|ts| tz.to_offset(ts).seconds())
    };
    match (offset(start), offset(start.saturating_add(59))) {
        (Some(first), Some(last)) if first == last && first % 60 == 0 => {
            MinuteText::FirstSecond(local_time_text(start, tz))
        }
        _ => MinuteText::PerSecond,
    }
}

thread_local! {
    /// A burst of lines (a log read at start-up, a fleet join) shares a few minutes.
    static LAST_MINUTES: std::cell::RefCell<KeptMinutes> =
        const { std::cell::RefCell::new(KeptMinutes::new()) };
}

/// `epoch` (seconds) in local time as Fail2ban prints it in messages (`2026-02-23
/// 11:08:21`), appended to `out`: the `Found` line of every failure shows one, so
/// no text is made for it.
pub fn push_local_time(out: &mut String, epoch: f64) {
    LAST_MINUTES.with(|kept| {
        kept.borrow_mut()
            .push(out, epoch as i64, jiff::tz::TimeZone::system)
    })
}

/// `second` in zone `tz` as `YYYY-MM-DD HH:MM:SS`: the zone gives the offset, the
/// digits are placed by hand (jiff's general strftime cost more than all the rest
/// of a `Found` line). Years beyond 9999 cannot occur (jiff's range ends there).
fn local_time_text(second: i64, tz: &jiff::tz::TimeZone) -> [u8; TIME_TEXT_LEN] {
    let ts = jiff::Timestamp::from_second(second).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let t = tz.to_offset(ts).to_datetime(ts);
    let mut text = *b"0000-00-00 00:00:00";
    let mut place = |at: usize, width: usize, value: i32| {
        let mut v = value.clamp(0, 9999);
        for b in text[at..at + width].iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    place(0, 4, t.year().into());
    place(5, 2, t.month().into());
    place(8, 2, t.day().into());
    place(11, 2, t.hour().into());
    place(14, 2, t.minute().into());
    place(17, 2, t.second().into());
    text
}

/// `ip` appended to `out` as its `Display` writes it; IPv4 without the formatting
/// machinery (every `Found` line shows one), made in place and appended at once.
pub fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    use std::fmt::Write as _;
    match ip {
        std::net::IpAddr::V4(v4) => {
            // each octet's three places written, then as many kept as it has digits
            let mut text = [0u8; "255.255.255.255.".len()];
            let mut len = 0;
            for octet in v4.octets() {
                let (digits, count) = OCTET_TEXTS[usize::from(octet)];
                text[len..len + 3].copy_from_slice(&digits);
                len += count;
                text[len] = b'.';
                len += 1;
            }
            push_ascii(out, &text[..len - 1]);
        }
        std::net::IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// Each byte's decimal digits without leading zeros (then zeros up to three
/// places), and how many they are.
const OCTET_TEXTS: [([u8; 3], usize); 256] = {
    let mut texts = [([0u8; 3], 0); 256];
    let mut byte = 0;
    while byte < 256 {
        let digits = [
            (byte / 100) as u8,
            (byte / 10 % 10) as u8,
            (byte % 10) as u8,
        ];
        let count = if byte >= 100 {
            3
        } else if byte >= 10 {
            2
        } else {
            1
        };
        let mut place = 0;
        while place < count {
            texts[byte].0[place] = b'0' + digits[3 - count + place];
            place += 1;
        }
        texts[byte].1 = count;
        byte += 1;
    }
    texts
};

/// `ascii` (digits and separators made here) appended to `out`. Checked as UTF-8
/// (a few instructions on these short pieces) rather than trusted in `unsafe`.
fn push_ascii(out: &mut String, ascii: &[u8]) {
    debug_assert!(ascii.is_ascii());
    out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
}

impl Logger {
    pub fn open(target: &LogTarget, level: Severity) -> std::io::Result<Logger> {
        let sink = open_sink(target)?;
        Ok(Logger {
            inner: Arc::new(Mutex::new(Inner {
                sink,
                level,
                target: target.clone(),
                line: String::new(),
                headers: Headers::default(),
            })),
            pid: std::process::id().to_string().into(),
        })
    }

    pub fn log(&self, component: Component, level: Severity, message: &str) {
        self.log_with(component, level, |line| line.push_str(message));
    }

    /// [`Logger::log`] with the message appended to the line by `message` (a
    /// failure's `Found` line is made for every failure: piece by piece, it costs a
    /// fraction of the formatting machinery's price).
    pub fn log_with(
        &self,
        component: Component,
        level: Severity,
        message: impl FnOnce(&mut String),
    ) {
        use std::fmt::Write as _;
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if level > inner.level {
            return;
        }
        let pid = &self.pid;
        let (name, lname) = (component.name(), level_name(level));
        let inner = &mut *inner;
        let line = &mut inner.line;
        line.clear();
        match &inner.sink {
            Sink::File(_) | Sink::Stdout | Sink::Stderr => {
                let millis = (line_time() * 1000.0) as i64;
                line.push_str(inner.headers.get(component, level, millis, pid));
                message(line);
                line.push('\n');
            }
            Sink::Syslog(_) => {
                let pri = 3 * 8 + syslog_severity(level);
                let _ = write!(line, "<{pri}>{name}[{pid}]: {lname} ");
                message(line);
            }
            Sink::Journal(_) => {
                let mut text = String::new();
                message(&mut text);
                let _ = write!(
                    line,
                    "MESSAGE={name}: {lname} {}\nPRIORITY={}\nSYSLOG_IDENTIFIER=ferroban\nSYSLOG_PID={pid}\n",
                    text.replace('\n', " "),
                    syslog_severity(level)
                );
            }
        };
        match &mut inner.sink {
            Sink::File(f) => {
                let _ = f.write_all(line.as_bytes());
                if !DEFERRED.with(Cell::get) {
                    let _ = f.flush();
                }
            }
            Sink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::Syslog(Some(s)) | Sink::Journal(Some(s)) => {
                let _ = s.send(line.as_bytes());
            }
            Sink::Syslog(None) | Sink::Journal(None) => {}
        }
    }

    /// Write out lines a deferring thread left in the buffer.
    pub fn flush(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            if let Sink::File(f) = &mut inner.sink {
                let _ = f.flush();
            }
        }
    }

    /// Reopen the log file (after logrotate moved it); other targets are flushed.
    /// Returns whether a file was opened again (Fail2ban's `flushlogs` answers
    /// `rolled over` then, `flushed` for its other targets).
    pub fn reopen(&self) -> std::io::Result<bool> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("logger poisoned"))?;
        if let Sink::File(f) = &mut inner.sink {
            let _ = f.flush();
        }
        inner.sink = open_sink(&inner.target)?;
        Ok(matches!(inner.target, LogTarget::File(_)))
    }

    /// Whether lines of `level` are written (to skip making those that are not).
    pub fn enabled(&self, level: Severity) -> bool {
        self.inner.lock().is_ok_and(|i| level <= i.level)
    }

    pub fn set_level(&self, level: Severity) {
        if let Ok(mut i) = self.inner.lock() {
            i.level = level;
        }
    }

    pub fn target(&self) -> String {
        self.inner
            .lock()
            .map(|i| target_text(&i.target))
            .unwrap_or_default()
    }

    /// Switch to another target (when a reload changes `logtarget`).
    pub fn retarget(&self, target: &LogTarget) -> std::io::Result<()> {
        let sink = open_sink(target)?;
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("logger poisoned"))?;
        inner.sink = sink;
        inner.target = target.clone();
        Ok(())
    }
}

fn syslog_severity(level: Severity) -> u8 {
    match level {
        Severity::Critical => 2,
        Severity::Error => 3,
        Severity::Warning => 4,
        Severity::Notice => 5,
        Severity::Info => 6,
        Severity::Debug => 7,
    }
}

pub fn target_text(t: &LogTarget) -> String {
    match t {
        LogTarget::File(p) => p.display().to_string(),
        LogTarget::Stdout => "STDOUT".into(),
        LogTarget::Stderr => "STDERR".into(),
        LogTarget::Syslog(_) => "SYSLOG".into(),
        LogTarget::SystemdJournal => "SYSTEMD-JOURNAL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_right_whatever_seconds_were_kept() {
        let direct = |epoch: i64| strftime_text(epoch, &jiff::tz::TimeZone::system());
        // two seconds alternating (both kept), then a third that evicts the older,
        // then both of the first again
        let seconds = [
            1_771_811_342,
            1_771_811_999,
            1_771_811_342,
            1_780_000_000,
            1_771_811_999,
            1_771_811_342,
        ];
        for s in seconds {
            assert_eq!(time_text(s as f64 + 0.7), direct(s), "second {s}");
        }
    }

    /// `second` in `tz` as jiff's strftime writes it.
    fn strftime_text(second: i64, tz: &jiff::tz::TimeZone) -> String {
        jiff::Timestamp::from_second(second)
            .unwrap()
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The zones of `names` this machine's time zone database has.
    fn installed<'a>(names: &'a [&str]) -> impl Iterator<Item = (&'a str, jiff::tz::TimeZone)> {
        names
            .iter()
            .filter_map(|&name| match jiff::tz::TimeZone::get(name) {
                Ok(tz) => Some((name, tz)),
                Err(_) => {
                    eprintln!("SKIPPED zone {name}: not in this machine's time zone database");
                    None
                }
            })
    }

    #[test]
    fn local_time_digits_equal_strftime_across_zones_and_transitions() {
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
        ];
        for (name, tz) in installed(&zones) {
            // every 37 minutes and 11 seconds through 2026 (both DST changes of every
            // zone above), and a few far times
            let through_2026 = (1_767_225_600..1_798_761_600).step_by(2231);
            for second in through_2026.chain([0, 1, 951_782_400, 4_102_444_799, 253_402_207_200]) {
                let got = local_time_text(second, &tz);
                let want = strftime_text(second, &tz);
                assert_eq!(std::str::from_utf8(&got).unwrap(), want, "{name} {second}");
            }
        }
    }

    #[test]
    fn kept_minutes_give_every_second_as_strftime_does_across_transitions() {
        // Monrovia's offset had seconds until 1972 (-00:44:30), Amsterdam's until
        // 1937 (+00:19:32): their seconds are made one by one then.
        let zones = [
            "Europe/Berlin",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
            "Africa/Monrovia",
            "Europe/Amsterdam",
        ];
        for (name, tz) in installed(&zones) {
            let mut kept = KeptMinutes::new();
            let mut check = |second: i64| {
                let mut got = String::new();
                kept.push(&mut got, second, || tz.clone());
                assert_eq!(got, strftime_text(second, &tz), "{name} {second}");
            };
            // every second of the ten minutes around each change of offset from
            // 1930 to 2027, and the now and then of a log read late
            let from = jiff::Timestamp::from_second(-1_262_304_000).unwrap();
            let changes = tz
                .following(from)
                .take_while(|t| t.timestamp().as_second() < 1_798_761_600);
            for change in changes {
                let at = change.timestamp().as_second();
                for second in at - 300..at + 300 {
                    check(second);
                    check(second + 86_400);
                }
            }
            for second in (-1_262_304_000..-1_262_300_000).chain(0..4000) {
                check(second);
            }
        }
    }

    #[test]
    fn addresses_written_as_display_writes_them() {
        let addresses = [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "192.0.2.7",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ];
        for text in addresses {
            let ip: std::net::IpAddr = text.parse().unwrap();
            let mut out = String::from("x");
            push_ip(&mut out, ip);
            assert_eq!(out, format!("x{ip}"));
        }
        for byte in 0..=255u8 {
            let ip = std::net::IpAddr::from([byte, 255 - byte, byte / 7, byte]);
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn alternating_kinds_of_lines_in_one_millisecond_keep_their_own_headers() {
        let p = std::env::temp_dir().join(format!("ferroban-headers-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = Logger::open(&LogTarget::File(p.clone()), Severity::Info).unwrap();
        let kinds = [
            (Component::Filter, Severity::Info),
            (Component::Actions, Severity::Notice),
            (Component::Actions, Severity::Warning),
            (Component::Filter, Severity::Info),
            (Component::Actions, Severity::Notice),
            (Component::Filter, Severity::Info),
        ];
        {
            let _clock = hold_clock(1_772_000_000.25);
            for (n, (component, level)) in kinds.into_iter().enumerate() {
                l.log(component, level, &format!("line {n}"));
            }
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), kinds.len(), "{text}");
        for (n, (line, (component, level))) in lines.iter().zip(kinds).enumerate() {
            let want = format!(
                ",250 {:<24}[{}]: {:<7} line {n}",
                component.name(),
                std::process::id(),
                level_name(level)
            );
            assert!(line.ends_with(&want), "{line:?} should end {want:?}");
        }
        let _ = std::fs::remove_file(&p);
    }

    /// `logtarget = SYSLOG` sends each line, with its syslog priority, to the
    /// socket `syslogsocket` names (a datagram socket bound here stands in for
    /// the syslog daemon's).
    #[test]
    fn syslog_lines_go_to_the_syslogsocket() {
        let p = std::env::temp_dir().join(format!("ferroban-syslog-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let syslog = UnixDatagram::bind(&p).unwrap();
        syslog
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let target = LogTarget::parse("SYSLOG", &p.display().to_string());
        let l = Logger::open(&target, Severity::Info).unwrap();
        l.log(Component::Actions, Severity::Notice, "[sshd] Ban 192.0.2.7");
        let mut got = [0u8; 512];
        let n = syslog.recv(&mut got).unwrap();
        let line = String::from_utf8_lossy(&got[..n]);
        // facility daemon (3), severity notice (5)
        assert!(line.starts_with("<29>"), "{line}");
        assert!(line.ends_with("NOTICE [sshd] Ban 192.0.2.7"), "{line}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn lines_in_fail2ban_format() {
        let p = std::env::temp_dir().join(format!("ferroban-log-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = Logger::open(&LogTarget::File(p.clone()), Severity::Info).unwrap();
        l.log(Component::Actions, Severity::Notice, "[sshd] Ban 192.0.2.7");
        l.log(Component::Filter, Severity::Debug, "not shown");
        let text = std::fs::read_to_string(&p).unwrap();
        let re = regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.actions {8}\[\d+\]: NOTICE  \[sshd\] Ban 192\.0\.2\.7\n$").unwrap();
        assert!(re.is_match(&text), "{text:?}");
        // logrotate: moved away, then reopened
        std::fs::rename(&p, p.with_extension("1")).unwrap();
        assert!(l.reopen().unwrap(), "a file is rolled over");
        l.log(
            Component::Actions,
            Severity::Notice,
            "[sshd] Unban 192.0.2.7",
        );
        assert!(std::fs::read_to_string(&p).unwrap().contains("Unban"));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(p.with_extension("1"));
        // standard error is only flushed (Fail2ban's `flushlogs` answers `flushed`)
        let stderr = Logger::open(&LogTarget::Stderr, Severity::Info).unwrap();
        assert!(!stderr.reopen().unwrap());
    }
}
