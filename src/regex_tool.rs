//! `ferroban regex` / `fail2ban-regex`: run a filter over a log and report.
//!
//! Owns the tester's command line (Fail2ban's `fail2ban-regex` grammar plus `--json`
//! and `--now`), reading the log in a streaming way, and the two outputs: the
//! `fail2ban-regex` report and one JSON object per failure. Matching itself is the
//! filter engine's.

use std::borrow::Cow;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ferroban_cli::pickle::PyValue;
use ferroban_cli::python::{float as py_float, repr_str as py_repr};
use ferroban_config::{parse_name_with_options, FilterDefinition};
use ferroban_filter::{Filter, LineResult, Value};
use ferroban_sources::journal::{History, JournalSpec};
use jiff::tz::TimeZone;

use crate::fail2ban_cmdline::{immediate_text, Immediate};

/// The tester's help, from the command-line definition.
fn help() -> String {
    ferroban_cli::help(Some("regex"))
}

/// What the command line asks for.
enum Parsed {
    Run(Box<Options>),
    /// `--help`, `-V`, `--version`.
    Immediate(Immediate),
}

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    log: String,
    filter: String,
    ignore: Option<String>,
    config: Option<PathBuf>,
    datepattern: Option<String>,
    /// `--timezone`: the zone of dates that name none (the jails' `logtimezone`).
    timezone: Option<String>,
    /// `-m`: the journal's entries to read (`FIELD=value [+ FIELD=value…]`),
    /// instead of the filter's `journalmatch`.
    journalmatch: Option<String>,
    maxlines: Option<String>,
    encoding: Option<String>,
    out: Option<String>,
    usedns: Option<String>,
    verbose: bool,
    print_all_matched: bool,
    print_all_missed: bool,
    print_all_ignored: bool,
    print_no_missed: bool,
    print_no_ignored: bool,
    no_check_all: bool,
    json: bool,
    now: Option<i64>,
    no_progress: bool,
    no_prefilter: bool,
    raw: bool,
}

fn parse_args(args: &[String]) -> Result<Parsed> {
    let mut o = Options::default();
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("option {name} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Immediate(Immediate::Help)),
            "-V" => return Ok(Parsed::Immediate(Immediate::Version { short: true })),
            "--version" => return Ok(Parsed::Immediate(Immediate::Version { short: false })),
            "-c" | "--config" => o.config = Some(PathBuf::from(value(flag)?)),
            "-d" | "--datepattern" => o.datepattern = Some(value(flag)?),
            "-L" | "--maxlines" => o.maxlines = Some(value(flag)?),
            "-e" | "--encoding" => o.encoding = Some(value(flag)?),
            "-o" | "--out" => o.out = Some(value(flag)?),
            "--usedns" => o.usedns = Some(value(flag)?),
            "--timezone" | "--TZ" => o.timezone = Some(value(flag)?),
            "-m" | "--journalmatch" => o.journalmatch = Some(value(flag)?),
            "-l" | "--log-level" | "--verbosity" => {
                value(flag)?;
            }
            "--now" => o.now = Some(value(flag)?.parse().context("--now takes epoch seconds")?),
            "-r" | "--raw" => o.raw = true,
            "-D" | "--debuggex" | "-t" | "--log-traceback" | "--full-traceback" | "--VD"
            | "--verbose-date" => {}
            "-v" | "--verbose" => o.verbose = true,
            "--print-all-matched" => o.print_all_matched = true,
            "--print-all-missed" => o.print_all_missed = true,
            "--print-all-ignored" => o.print_all_ignored = true,
            "--print-no-missed" => o.print_no_missed = true,
            "--print-no-ignored" => o.print_no_ignored = true,
            "--no-check-all" => o.no_check_all = true,
            "--json" => o.json = true,
            "--no-progress" => o.no_progress = true,
            "--no-prefilter" => o.no_prefilter = true,
            f if f.starts_with('-') && f.len() > 1 && positional.is_empty() => {
                bail!("unknown option {f}\n\n{}", help())
            }
            _ => positional.push(a.clone()),
        }
    }
    if positional.len() < 2 || positional.len() > 3 {
        bail!(
            "expected LOG FILTER [IGNOREREGEX], got {} argument(s)\n\n{}",
            positional.len(),
            help()
        );
    }
    let mut p = positional.into_iter();
    o.log = p.next().unwrap_or_default();
    o.filter = p.next().unwrap_or_default();
    o.ignore = p.next();
    Ok(Parsed::Run(Box::new(o)))
}

/// Entry point; `args` excludes the program name, `tool` is `regex` or
/// `fail2ban-regex` (for the help and version texts).
pub fn main(args: &[String], tool: &str) -> ExitCode {
    match parse_args(args) {
        Ok(Parsed::Immediate(what)) => match immediate_text(&what, tool) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ERROR: {e:#}");
                ExitCode::from(255)
            }
        },
        Ok(Parsed::Run(mut o)) => {
            // Under Fail2ban's name, Fail2ban's report exactly: every line's date is
            // read, as scripts that compare its "Date template hits" expect.
            o.no_prefilter |= tool == "fail2ban-regex";
            match run(&o) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ERROR: {e:#}");
                    ExitCode::from(255)
                }
            }
        }
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn config_dir(o: &Options) -> PathBuf {
    if let Some(c) = &o.config {
        return c.clone();
    }
    let own = Path::new("/etc/ferroban");
    if own.join("filter.d").is_dir() {
        own.to_path_buf()
    } else {
        PathBuf::from("/etc/fail2ban")
    }
}

/// How the FILTER argument was understood, for the report header.
enum FilterSource {
    Named {
        name: String,
        basedir: PathBuf,
        options: Vec<(String, String)>,
    },
    File {
        path: PathBuf,
        options: Vec<(String, String)>,
    },
    Regex(String),
}

impl FilterSource {
    /// The report's header line for this source (`kind`: failregex or ignoreregex),
    /// and a line with the filter's options when it was given some.
    fn describe(&self, kind: &str) -> String {
        let (mut text, options) = match self {
            FilterSource::Named {
                name,
                basedir,
                options,
            } => (
                format!(
                    "Use {kind:>11} filter file : {name}, basedir: {}",
                    basedir.display()
                ),
                options,
            ),
            FilterSource::File { path, options } => {
                (format!("Use {kind:>11} file : {}", path.display()), options)
            }
            FilterSource::Regex(r) => return format!("Use {kind:>11} line : {}", shorten(r)),
        };
        if !options.is_empty() {
            // Python's repr of the options dict, as fail2ban-regex prints it
            let dict: Vec<String> = options
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
                .collect();
            text.push_str(&format!("\nUse   filter options : {{{}}}", dict.join(", ")));
        }
        text
    }
}

/// Resolve a FILTER (or IGNOREREGEX) argument into a definition: a filter file's
/// path or a filter's name, either with options (`sshd[mode=aggressive]`,
/// `/etc/fail2ban/filter.d/sshd.conf[mode=aggressive]`), or a regex.
/// `logtype` is the filter's option of that name, unless the argument gives one (as
/// fail2ban-regex sets `journal` for the journal).
fn resolve_filter(
    arg: &str,
    basedir: &Path,
    logtype: &str,
) -> Result<(FilterDefinition, FilterSource)> {
    if Path::new(arg).is_file() {
        return filter_file(Path::new(arg), Vec::new(), logtype);
    }
    if let Ok((name, opts)) = parse_name_with_options(arg) {
        if name.contains('/') && Path::new(&name).is_file() {
            return filter_file(Path::new(&name), opts, logtype);
        }
        let looks_like_name = !name.is_empty() && !name.contains(['/', ' ', '^', '\\', '<', '(']);
        let fdir = basedir.join("filter.d");
        let exists = ["conf", "local"]
            .iter()
            .any(|e| fdir.join(format!("{name}.{e}")).is_file());
        if looks_like_name && exists {
            let def = FilterDefinition::load(basedir, &name, &with_logtype(&opts, logtype))
                .map_err(anyhow::Error::new)?;
            let basedir = basedir.to_path_buf();
            return Ok((
                def,
                FilterSource::Named {
                    name,
                    basedir,
                    options: opts,
                },
            ));
        }
        if looks_like_name && arg.ends_with(".conf") {
            bail!("filter file {arg:?} not found");
        }
    }
    let def = FilterDefinition {
        failregex: vec![arg.to_string()],
        ..Default::default()
    };
    Ok((def, FilterSource::Regex(arg.to_string())))
}

/// A filter file given by its path, with `options`. A file inside a filter.d
/// directory is that directory's named filter (its .local and includes apply), as
/// fail2ban-regex treats it.
fn filter_file(
    path: &Path,
    options: Vec<(String, String)>,
    logtype: &str,
) -> Result<(FilterDefinition, FilterSource)> {
    let loaded = with_logtype(&options, logtype);
    let dir = path
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "filter.d"));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let (Some(dir), Some(name)) = (dir, stem) {
        let basedir = dir.parent().unwrap_or(Path::new("")).to_path_buf();
        let def = FilterDefinition::load(&basedir, &name, &loaded).map_err(anyhow::Error::new)?;
        let source = FilterSource::Named {
            name,
            basedir,
            options,
        };
        return Ok((def, source));
    }
    let def = FilterDefinition::load_file(path, &loaded).map_err(anyhow::Error::new)?;
    let path = path.to_path_buf();
    Ok((def, FilterSource::File { path, options }))
}

/// A journal entry's time as fail2ban-regex shows it before the entry's line:
/// ISO 8601 in `offset` (the journal library takes the local zone's offset of
/// when it started), microseconds when there are any
/// (`2026-12-02T09:52:12.876208+00:00`), as Python's `isoformat()` of it.
fn journal_time_text(time: f64, offset: &TimeZone) -> String {
    let micros = (time * 1e6).round() as i64;
    let Ok(at) = jiff::Timestamp::from_microsecond(micros) else {
        return String::new();
    };
    let local = at.to_zoned(offset.clone());
    let fraction = match micros.rem_euclid(1_000_000) {
        0 => String::new(),
        us => format!(".{us:06}"),
    };
    format!(
        "{}{fraction}{}",
        local.strftime("%Y-%m-%dT%H:%M:%S"),
        local.strftime("%:z")
    )
}

/// `systemd-journal[journalpath=DIR, journalfiles=FILE…]` as the LOG argument: the
/// journal to read, its entries chosen by `-m` (else, once the filter is read, by
/// its `journalmatch`); `None` for any other LOG.
fn journal_log(o: &Options) -> Result<Option<JournalSpec>> {
    if !o.log.starts_with("systemd-journal") || Path::new(&o.log).is_file() {
        return Ok(None);
    }
    let (name, options) = parse_name_with_options(&o.log).map_err(anyhow::Error::msg)?;
    if name != "systemd-journal" {
        return Ok(None);
    }
    let (files, directory) = ferroban_config::jail::journal_place(&options);
    Ok(Some(JournalSpec {
        source: "regex".into(),
        matches: o.journalmatch.iter().cloned().collect(),
        files,
        directory,
        cursor: None,
        since: 0.0,
    }))
}

/// What the tester reads: the journal, or a log (a file, or the text given) with
/// its size for the progress bar.
enum Input {
    Journal(JournalSpec),
    Log(Box<dyn Read>, u64),
}

/// A filter's options with `logtype` added, unless they set it.
fn with_logtype(options: &[(String, String)], logtype: &str) -> Vec<(String, String)> {
    let mut options = options.to_vec();
    if !options.iter().any(|(k, _)| k == "logtype") {
        options.push(("logtype".into(), logtype.into()));
    }
    options
}

/// The filter to test, and the ignoreregex given; `logtype` is the filter option
/// for the lines read (`journal` for the journal's, as a journal jail's).
fn build_spec(
    o: &Options,
    basedir: &Path,
    logtype: &str,
) -> Result<(FilterDefinition, FilterSource, Option<FilterSource>)> {
    let (mut spec, source) = resolve_filter(&o.filter, basedir, logtype)?;
    let mut ignore_source = None;
    if let Some(ig) = &o.ignore {
        let (idef, isrc) = resolve_filter(ig, basedir, logtype)?;
        match isrc {
            FilterSource::Regex(_) => spec.ignoreregex.extend(idef.failregex),
            _ => spec.ignoreregex.extend(idef.ignoreregex),
        }
        ignore_source = Some(isrc);
    }
    if let Some(u) = &o.usedns {
        spec.usedns = Some(u.clone());
    }
    Ok((spec, source, ignore_source))
}

/// Decode a raw line: Latin-1 when asked, else UTF-8 with each invalid sequence
/// replaced by U+FFFD, as `fail2ban-regex` (Python's `errors='replace'`) and the
/// daemon read it: a Latin-1 user name in a UTF-8 log is `j\u{fffd}r\u{fffd}me` in
/// both rows.
fn decode(raw: &[u8], latin1: bool) -> Cow<'_, str> {
    match latin1 {
        true => Cow::Owned(raw.iter().map(|&b| b as char).collect()),
        false => String::from_utf8_lossy(raw),
    }
}

/// What the report counts: fail2ban-regex's line statistics.
#[derive(Default)]
struct Stats {
    tested: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    matched_lines: Vec<String>,
    missed_lines: Vec<String>,
    ignored_lines: Vec<String>,
    fail_hits: Vec<u64>,
    ignore_hits: Vec<u64>,
    prefregex_hits: u64,
    /// Lines the prefilter ruled out whose date was never read (that of the last
    /// before a tested line is read, for the tested one to borrow).
    skipped: u64,
    /// With `-v`: the prefregex's groups of its first matches, as Python prints
    /// them (then `...`)…
    prefregex_groups: Vec<String>,
    /// …and each failregex's matches: the failure id and when (see
    /// [`Stats::record_verbose`]).
    fail_matches: Vec<Vec<String>>,
}

const MAX_PRINTED_LINES: u64 = 20;

impl Stats {
    /// Count one tested line as ignored, matched or missed (and keep it for printing).
    fn record(&mut self, o: &Options, line: &str, result: &LineResult) {
        // A multi-line match takes earlier, so far missed, lines with it.
        for absorbed in &result.absorbed {
            if let Some(i) = self.missed_lines.iter().position(|l| l == absorbed) {
                self.missed_lines.remove(i);
            }
            if o.print_all_matched {
                self.matched_lines.push(absorbed.clone());
            }
            self.matched += 1;
            self.missed -= 1;
        }
        self.tested += 1;
        let regexes = result
            .failures
            .iter()
            .map(|f| f.regex_index)
            .chain(result.pending.iter().map(|p| p.regex_index))
            .chain(result.closed_unread.map(|c| c.regex_index))
            .chain(result.failures_unread.iter().copied());
        for i in regexes {
            if let Some(h) = self.fail_hits.get_mut(i) {
                *h += 1;
            }
        }
        for &i in &result.ignored_by {
            if let Some(h) = self.ignore_hits.get_mut(i) {
                *h += 1;
            }
        }
        self.prefregex_hits += u64::from(result.prefregex_matched);
        if result.is_ignored() {
            self.ignored += 1;
            if !o.print_no_ignored && (o.print_all_ignored || self.ignored <= MAX_PRINTED_LINES + 1)
            {
                self.ignored_lines.push(line.to_string());
            }
        } else if result.failregex_matched() {
            self.matched += 1;
            if o.print_all_matched {
                self.matched_lines.push(line.to_string());
            }
        } else {
            self.miss(o, || line.to_string());
        }
    }

    /// What `-v` lists of a tested line, as fail2ban-regex lists it: the
    /// prefregex's groups (of the first lines it matched), and under each failregex
    /// every match's id (`None` while pending) and local time, noting one that
    /// came after two failures of the same line ("multiple regex matched"). Out of
    /// line: the common run does not list them, and its per-line path stays short.
    #[cold]
    #[inline(never)]
    fn record_verbose(&mut self, filter: &Filter, result: &LineResult, zone: &TimeZone) {
        if result.prefregex_matched {
            let shown = self.prefregex_groups.len() as u64;
            if shown < MAX_PRINTED_LINES {
                let groups: Vec<String> = filter
                    .prefregex_groups()
                    .iter()
                    .map(|(name, text)| {
                        let text = text.as_deref().map_or("None".to_string(), py_repr);
                        format!("{}: {text}", py_repr(name))
                    })
                    .collect();
                self.prefregex_groups
                    .push(format!("{{{}}}", groups.join(", ")));
            } else if shown == MAX_PRINTED_LINES {
                self.prefregex_groups.push("...".to_string());
            }
        }
        // in failregex order, as Fail2ban's filter finds them
        let mut found: Vec<(usize, Option<&str>, Option<f64>, bool)> = result
            .failures
            .iter()
            .map(|f| (f.regex_index, Some(&*f.id), f.time, f.is_nofail()))
            .chain(
                result
                    .pending
                    .iter()
                    .map(|p| (p.regex_index, None, p.time, false)),
            )
            .collect();
        found.sort_by_key(|(i, ..)| *i);
        let mut failures_before = 0;
        for (i, id, time, nofail) in found {
            let multiple = match failures_before > 1 {
                true => " (multiple regex matched)",
                false => "",
            };
            if let Some(list) = self.fail_matches.get_mut(i) {
                list.push(format!(
                    "    {}  {}{multiple}",
                    id.unwrap_or("None"),
                    ctime(time, zone)
                ));
            }
            failures_before += usize::from(!nofail);
        }
    }

    /// Count a missed line; its text is only made when it will be printed.
    fn miss(&mut self, o: &Options, line: impl FnOnce() -> String) {
        self.missed += 1;
        if !o.print_no_missed && (o.print_all_missed || self.missed <= MAX_PRINTED_LINES + 1) {
            self.missed_lines.push(line());
        }
    }
}

/// Lines in, results out: the tester's loop over a log.
struct Tester<'a, W: Write> {
    o: &'a Options,
    filter: Filter,
    stats: Stats,
    out: W,
    now: i64,
    /// The local zone, which fail2ban-regex shows times in.
    zone: TimeZone,
    latin1: bool,
    report: bool,
    /// Use the filter's prefilter to skip lines that cannot match.
    skip: bool,
    lineno: u64,
    /// The last line of the block before, if it was skipped: its date is read before
    /// the next tested line.
    skipped_before: Option<Vec<u8>>,
    resolver: Resolver,
    /// The last tested line's result, kept for its allocations.
    result: LineResult,
}

/// Host names in failures turned into addresses, as fail2ban-regex does unless `-r`:
/// one failure per address; a name that does not resolve (or `usedns = no`) gives none.
struct Resolver {
    usedns: String,
    cache: std::collections::HashMap<String, Vec<String>>,
}

impl Resolver {
    fn resolve(&mut self, failures: &mut ferroban_filter::Failures) {
        if self.usedns == "raw" {
            return;
        }
        // most failures have an address: nothing to rebuild
        if !failures.iter().any(|f| f.host_name().is_some()) {
            return;
        }
        let mut out = ferroban_filter::Failures::with_capacity(failures.len());
        for f in failures.drain(..) {
            let Some(name) = f.host_name().map(str::to_string) else {
                out.push(f);
                continue;
            };
            let usedns = self.usedns.clone();
            let addresses = self
                .cache
                .entry(name.clone())
                .or_insert_with(|| lookup(&name, &usedns));
            for a in addresses.iter() {
                let mut g = f.clone();
                g.id = a.as_str().into();
                out.push(g);
            }
        }
        *failures = out;
    }
}

/// Addresses of a host name (`usedns` yes or warn), or the address it already is.
fn lookup(name: &str, usedns: &str) -> Vec<String> {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return vec![ip.to_string()];
    }
    if !matches!(usedns, "yes" | "warn") {
        return Vec::new();
    }
    let mut v: Vec<String> = (name, 0)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip().to_string()).collect())
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

/// Log bytes read at a time (their whole lines are tested; the unfinished last one
/// with the next read).
const BLOCK: u64 = 1 << 17;

impl<W: Write> Tester<'_, W> {
    /// Run every line of `reader` through the filter. The log is read straight into
    /// one block (no copy through a read buffer); the block's unfinished last line is
    /// moved to its front and completed by the next read.
    fn feed(&mut self, mut reader: impl Read, size: u64) -> Result<()> {
        let progress = !self.o.no_progress && size > (64 << 20) && std::io::stderr().is_terminal();
        let mut block = Vec::with_capacity(BLOCK as usize + 4096);
        let mut consumed = 0u64;
        loop {
            let unfinished = block.len();
            if (&mut reader).take(BLOCK).read_to_end(&mut block)? == 0 {
                // A last line without its newline is still being written: like
                // fail2ban-regex (and a daemon tailing the file), leave it.
                break;
            }
            let Some(last_newline) = memchr::memrchr(b'\n', &block[unfinished..]) else {
                continue; // one line longer than a block: read on
            };
            let whole = unfinished + last_newline + 1;
            consumed += whole as u64;
            self.block(&block[..whole])?;
            block.drain(..whole);
            if progress {
                eprint!(
                    "\r{:3}% ({} lines)",
                    consumed * 100 / size.max(1),
                    self.lineno
                );
            }
        }
        if progress {
            eprint!("\r{:40}\r", "");
        }
        Ok(())
    }

    /// A block of whole lines: the lines with a prefilter literal are tested, the
    /// others only counted.
    fn block(&mut self, block: &[u8]) -> Result<()> {
        // Checked once: a block of valid UTF-8 is made of lines of valid UTF-8 (they
        // end at an ASCII newline), taken from it as they are.
        let checked = std::str::from_utf8(block).ok().filter(|_| !self.latin1);
        let mut pos = 0;
        while pos < block.len() {
            let next = match self.filter.prefilter().filter(|_| self.skip) {
                Some(p) => p.next_line(block, pos).unwrap_or(block.len()),
                None => pos,
            };
            let mut last = None;
            // (most often none: every line of an auth.log holds sshd's literal)
            if next > pos {
                for line in lines(&block[pos..next]) {
                    self.skipped(line);
                    last = Some(line);
                }
            }
            if next >= block.len() {
                // the next tested line is in a later block: this one is gone by then
                if let Some(line) = last {
                    self.skipped_before = Some(line.to_vec());
                }
                break;
            }
            // A line without a date borrows the previous line's: read that one.
            let carried = self.skipped_before.take();
            if let Some(line) = last.or(carried.as_deref()) {
                self.observe_date(line);
            }
            let end = memchr::memchr(b'\n', &block[next..]).map_or(block.len(), |i| next + i);
            self.tested(&line_text(block, checked, next..end, self.latin1))?;
            pos = end + 1;
        }
        Ok(())
    }

    /// A line that cannot match: counted (as fail2ban-regex would), its date not read.
    fn skipped(&mut self, raw: &[u8]) {
        self.lineno += 1;
        let raw = trim_eol(raw);
        // comments and empty lines are no lines to fail2ban-regex, skipped or not
        if is_comment_or_empty(raw) {
            return;
        }
        self.stats.skipped += 1;
        if self.report {
            self.stats.tested += 1;
            let latin1 = self.latin1;
            self.stats.miss(self.o, || decode(raw, latin1).into_owned());
        }
    }

    /// Run every entry of the journal that `spec` names (all there is, oldest
    /// first) through the filter, as `fail2ban-regex systemd-journal` does.
    fn feed_journal(&mut self, spec: &JournalSpec) -> Result<()> {
        // the offset of now for every entry, as Python's journal library takes it
        let offset = TimeZone::fixed(self.zone.to_offset(jiff::Timestamp::now()));
        let mut entries = History::start(spec).map_err(anyhow::Error::msg)?;
        for (line, time) in entries.by_ref() {
            self.tested_entry(&line, time, &offset)?;
        }
        entries.finish().map_err(anyhow::Error::msg)
    }

    /// A skipped line's date taken note of (the next tested line may borrow it); not
    /// a comment's, which fail2ban-regex never reads.
    fn observe_date(&mut self, raw: &[u8]) {
        let raw = trim_eol(raw);
        if is_comment_or_empty(raw) {
            return;
        }
        let text = decode(raw, self.latin1);
        self.filter.observe_date(&text, self.now);
        // its date was read after all (and counted among the hits)
        self.stats.skipped = self.stats.skipped.saturating_sub(1);
    }

    /// A line run through the filter; `ended` is the line, or the line with the `\n`
    /// that ends it (see [`line_text`]).
    fn tested(&mut self, ended: &str) -> Result<()> {
        self.lineno += 1;
        let line = ended.strip_suffix('\n').unwrap_or(ended);
        // fail2ban-regex skips them whatever it prints (with `-o` too): a comment in
        // a multi-line filter's buffer would push a real line out of it
        if is_comment_or_empty(trim_eol(line.as_bytes())) {
            return Ok(());
        }
        self.filter
            .process_ended_line_into(ended, self.now, &mut self.result);
        self.report_line(line)
    }

    /// A journal entry run through the filter: its line as Fail2ban formats it,
    /// dated by the entry (no date is searched in it), and listed after its time
    /// (`shown_in`: the zone fail2ban-regex shows it in).
    #[cold]
    #[inline(never)]
    fn tested_entry(&mut self, line: &str, time: f64, shown_in: &TimeZone) -> Result<()> {
        self.lineno += 1;
        self.result = self.filter.process_dated_line(line, time);
        self.report_line(&format!("{} {line}", journal_time_text(time, shown_in)))
    }

    /// What the last tested `line` gave, printed or counted.
    fn report_line(&mut self, line: &str) -> Result<()> {
        if !self.o.raw && !self.o.json {
            self.resolver.resolve(&mut self.result.failures);
        }
        let result = &self.result;
        if self.o.json {
            for f in result.failures.iter().filter(|f| !f.is_nofail()) {
                writeln!(self.out, "{}", json_failure(self.lineno, f))?;
            }
        } else if let Some(fmt) = &self.o.out {
            if result.ignored_by.is_empty() {
                for f in result.failures.iter().filter(|f| !f.is_nofail()) {
                    print_out(&mut self.out, fmt, f)?;
                }
            }
        } else {
            self.stats.record(self.o, line, result);
            if self.o.verbose {
                self.stats.record_verbose(&self.filter, result, &self.zone);
            }
        }
        Ok(())
    }
}

/// The text of the line `block[range]` without its line end: borrowed from
/// `checked` (the block, already known to be UTF-8) when there is that, else decoded.
/// A borrowed text not ending in `\r` is given with the `\n` after it, where there
/// is one: the filter searches a line with its `\n`, there, without a copy.
fn line_text<'a>(
    block: &'a [u8],
    checked: Option<&'a str>,
    range: std::ops::Range<usize>,
    latin1: bool,
) -> Cow<'a, str> {
    let raw = trim_eol(&block[range.clone()]);
    let newline = usize::from(raw.len() == range.len() && block.get(range.end) == Some(&b'\n'));
    match checked {
        Some(text) => Cow::Borrowed(&text[range.start..range.start + raw.len() + newline]),
        None => decode(raw, latin1),
    }
}

/// The lines of a run of whole lines (each without its newline).
fn lines(run: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', run).map(move |nl| {
        let line = &run[start..nl];
        start = nl + 1;
        line
    })
}

/// A line fail2ban-regex does not test: empty, or a comment (`#` first, as in
/// Fail2ban's sample logs).
fn is_comment_or_empty(line: &[u8]) -> bool {
    matches!(line.first(), None | Some(b'#'))
}

fn trim_eol(mut raw: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = raw {
        raw = rest;
    }
    raw
}

fn run(o: &Options) -> Result<()> {
    let basedir = config_dir(o);
    let mut journal = journal_log(o)?;
    let logtype = if journal.is_some() { "journal" } else { "file" };
    let (mut spec, source, ignore_source) = build_spec(o, &basedir, logtype)?;
    if let Some(journal) = journal.as_mut().filter(|j| j.matches.is_empty()) {
        journal.matches = spec.journalmatch.clone();
    }
    // fail2ban-regex applies (and reports) -L and -d before it reads the filter; the
    // filter's own values are reported after its name, unless overridden.
    let filter_maxlines = spec.maxlines.is_some() && o.maxlines.is_none();
    let filter_datepattern = spec.datepattern.clone().filter(|_| o.datepattern.is_none());
    if let Some(l) = &o.maxlines {
        spec.maxlines = Some(l.clone());
    }
    if let Some(d) = &o.datepattern {
        spec.datepattern = Some(d.clone());
    }
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let local_zone = tz.clone();
    let now = o.now.unwrap_or_else(|| jiff::Timestamp::now().as_second());
    // %ExY accepts years up to a few after the real current year, whatever --now says
    // (Fail2ban builds that regex from the clock too).
    let now_year = jiff::Timestamp::now().to_zoned(tz.clone()).year();
    let mut filter =
        Filter::new(&spec, o.timezone.as_deref(), tz, now_year).context("invalid filter")?;
    filter.check_all = !o.no_check_all && o.out.is_none();
    filter.record_prefregex_groups = o.verbose;
    // Only `-o` and `--json` print failures (their data, their lines); the summary
    // counts them, and `-v` lists no-failure matches' data too.
    let prints_failures = o.out.is_some() || o.json;
    filter.ignore_pending = prints_failures;
    filter.keeps_matched_lines = prints_failures;
    filter.records_key_order = o.out.as_deref() == Some("row");
    filter.reads_match_data = prints_failures || o.verbose;
    // the encodings a jail's logencoding takes, and no other: a name it does not
    // know is refused, not read as UTF-8 (fail2ban-regex refuses it too)
    let latin1 = match o.encoding.as_deref() {
        None => false,
        Some(name) => match ferroban_sources::Encoding::from_name(name) {
            Some(encoding) => encoding == ferroban_sources::Encoding::Latin1,
            None => bail!(
                "encoding {name:?} is not supported: use utf-8 (the default; bytes that are \
                 not UTF-8 are read as Latin-1) or latin-1"
            ),
        },
    };

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let report = !o.json && o.out.is_none();
    if report {
        let maxlines = format!("Use         maxlines : {}", filter.maxlines());
        let datepattern = |p: &str| {
            format!(
                "Use      datepattern : {p} : {}",
                date_pattern_name(&filter)
            )
        };
        if o.maxlines.is_some() {
            writeln!(out, "{maxlines}")?;
        }
        if let Some(d) = &o.datepattern {
            writeln!(out, "{}", datepattern(d))?;
        }
        writeln!(out, "\nRunning tests\n=============\n")?;
        writeln!(out, "{}", source.describe("failregex"))?;
        if filter_maxlines {
            writeln!(out, "{maxlines}")?;
        }
        if let Some(d) = &filter_datepattern {
            writeln!(out, "{}", datepattern(d))?;
        }
        if let Some(s) = &ignore_source {
            writeln!(out, "{}", s.describe("ignoreregex"))?;
        }
    }

    let path = Path::new(&o.log);
    let input = if let Some(journal) = journal {
        if report {
            writeln!(out, "Use         systemd journal")?;
            writeln!(out, "Use         encoding : UTF-8")?;
            if !journal.matches.is_empty() {
                let matches = journal.matches.join(" + ");
                writeln!(out, "Use    journal match : {matches}")?;
            }
            writeln!(out)?;
        }
        Input::Journal(journal)
    } else if path.is_file() {
        let f = std::fs::File::open(path)
            .with_context(|| format!("cannot open log {}", path.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        if report {
            writeln!(out, "Use         log file : {}", path.display())?;
            let encoding = if latin1 { "latin-1" } else { "UTF-8" };
            writeln!(out, "Use         encoding : {encoding}\n")?;
        }
        Input::Log(Box::new(f), size)
    } else {
        if report && o.log.contains('\n') {
            writeln!(
                out,
                "Use      multi line : {} line(s)",
                o.log.lines().count()
            )?;
        } else if report {
            writeln!(out, "Use      single line : {}", shorten(&o.log))?;
        }
        let text = std::io::Cursor::new(format!("{}\n", o.log).into_bytes());
        Input::Log(Box::new(text), 0)
    };

    let started = Instant::now();
    let mut tester = Tester {
        o,
        stats: Stats {
            fail_hits: vec![0; spec.failregex.len()],
            ignore_hits: vec![0; spec.ignoreregex.len()],
            fail_matches: vec![Vec::new(); spec.failregex.len()],
            ..Default::default()
        },
        filter,
        out,
        now,
        zone: local_zone,
        latin1,
        report,
        skip: !o.no_prefilter,
        lineno: 0,
        skipped_before: None,
        result: LineResult::default(),
        resolver: Resolver {
            usedns: spec.usedns.clone().unwrap_or_else(|| "warn".to_string()),
            cache: Default::default(),
        },
    };
    // fail2ban-regex reads the journal's entries without a date detector unless a
    // date pattern is set, and then reports no template hits
    let dates_searched = !matches!(input, Input::Journal(_)) || spec.datepattern.is_some();
    match input {
        Input::Journal(journal) => tester.feed_journal(&journal)?,
        Input::Log(reader, size) => tester.feed(reader, size)?,
    }
    let abandoned = tester.filter.abandoned_searches();
    if abandoned > 0 {
        eprintln!(
            "WARNING: {abandoned} regex search(es) given up after {} back-tracking steps \
             (counted as not matching)",
            ferroban_filter::pattern::BACKTRACK_LIMIT
        );
    }
    let Tester {
        mut out,
        filter,
        stats,
        ..
    } = tester;
    if report {
        print_report(
            &mut out,
            o,
            &spec,
            &filter,
            &stats,
            dates_searched,
            started.elapsed().as_secs_f64(),
        )?;
    }
    out.flush()?;
    Ok(())
}

/// How fail2ban-regex names a date pattern: the template's name, or "Default
/// Detectors" for a whole set.
fn date_pattern_name(filter: &Filter) -> &str {
    filter.date_detector().fail2ban_description().1
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        let head: String = s.chars().take(35).collect();
        let tail: String = s
            .chars()
            .rev()
            .take(35)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{head} ... {tail}")
    } else {
        s.to_string()
    }
}

/// The `--json` record of one failure (the conformance contract).
fn json_failure(lineno: u64, f: &ferroban_filter::Failure) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("lineno".into(), lineno.into());
    obj.insert("host".into(), f.id.as_str().into());
    obj.insert(
        "time".into(),
        f.time
            .map_or(serde_json::Value::Null, serde_json::Value::from),
    );
    obj.insert("attempts".into(), f.matches().len().into());
    for (k, v) in f.data().iter() {
        if matches!(
            &**k,
            "matches" | "nofail" | "mlfpending" | "mlfforget" | "mlfgained" | "nofail-matches"
        ) {
            continue;
        }
        let v = match v {
            Value::Text(t) => t
                .as_deref()
                .map_or(serde_json::Value::Null, serde_json::Value::from),
            Value::Set(s) => s.iter().map(|t| t.as_str()).collect::<Vec<_>>().into(),
            Value::Lines(l) => l.iter().map(|t| &**t).collect::<Vec<_>>().into(),
            Value::Flag(n) => (*n).into(),
        };
        obj.entry(k.to_string()).or_insert(v);
    }
    serde_json::Value::Object(obj).to_string()
}

/// A failure's time as Python prints it: an `int` or a `float`, as Fail2ban holds it.
fn py_time(f: &ferroban_filter::Failure) -> Option<String> {
    let seconds = f.time?;
    Some(match f.time_is_int {
        true => format!("{seconds:.0}"),
        false => py_float(seconds),
    })
}

fn print_out(out: &mut impl Write, fmt: &str, f: &ferroban_filter::Failure) -> Result<()> {
    match fmt {
        "id" | "fid" => writeln!(out, "{}", f.id)?,
        "ip" => writeln!(out, "{}", f.field("ip").unwrap_or(&f.id))?,
        "msg" => {
            for m in f.matches() {
                writeln!(out, "{m}")?;
            }
        }
        "row" => {
            // Python's repr of fail2ban-regex's row (its dict's keys in the order set)
            let fields: Vec<String> = f
                .data_in_order()
                .iter()
                .filter(|(k, _)| *k != "matches")
                .map(|(k, v)| format!("{}: {}", py_repr(k), py_value(v)))
                .collect();
            let time = py_time(f).unwrap_or_else(|| "None".to_string());
            writeln!(
                out,
                "[{},\t{time},\t{{{}}}],",
                py_repr(&f.id),
                fields.join(", ")
            )?
        }
        t if !t.contains('<') => writeln!(out, "{}", f.field(t).unwrap_or("None"))?,
        template => {
            let mut s = template.to_string();
            s = s
                .replace("<ip>", f.field("ip").unwrap_or(&f.id))
                .replace("<fid>", &f.id);
            s = s.replace("<time>", &py_time(f).unwrap_or_default());
            for (k, v) in f.data().iter() {
                if let Value::Text(Some(t)) = v {
                    s = s
                        .replace(&format!("<F-{}>", k.to_uppercase()), t)
                        .replace(&format!("<{k}>"), t);
                }
            }
            if s.contains("<msg>") {
                for m in f.matches() {
                    writeln!(out, "{}", s.replace("<msg>", m))?;
                }
            } else {
                writeln!(out, "{s}")?;
            }
        }
    }
    Ok(())
}

/// A time as fail2ban-regex `-v` shows a match's: Python's `time.ctime` layout
/// in `zone`, local time (`Mon Feb 23 00:00:01 2026`); none: now, as Python's.
fn ctime(time: Option<f64>, zone: &TimeZone) -> String {
    let second = time.map_or_else(|| jiff::Timestamp::now().as_second(), |t| t.floor() as i64);
    jiff::Timestamp::from_second(second)
        .map(|t| {
            t.to_zoned(zone.clone())
                .strftime("%a %b %d %H:%M:%S %Y")
                .to_string()
        })
        .unwrap_or_default()
}

/// Python's `repr` of a failure value.
fn py_value(v: &Value) -> String {
    let texts = |texts: &mut dyn Iterator<Item = &str>| texts.map(PyValue::str).collect();
    ferroban_cli::python::repr(&match v {
        Value::Text(Some(t)) => PyValue::str(t.as_str()),
        Value::Text(None) => PyValue::None,
        Value::Lines(l) => PyValue::List(texts(&mut l.iter().map(|t| &**t))),
        Value::Set(s) => PyValue::Set(texts(&mut s.iter().map(|t| t.as_str()))),
        Value::Flag(n) => PyValue::Int(*n),
    })
}

fn pprint_list(out: &mut impl Write, items: &[String], header: Option<&str>) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let head = header.map(|h| format!("|- {h}\n")).unwrap_or_default();
    writeln!(out, "{head}|  {}\n`-", items.join("\n|  "))?;
    Ok(())
}

fn print_report(
    out: &mut impl Write,
    o: &Options,
    spec: &FilterDefinition,
    filter: &Filter,
    stats: &Stats,
    dates_searched: bool,
    secs: f64,
) -> Result<()> {
    writeln!(out, "\nResults\n=======")?;
    if let Some(p) = &spec.prefregex {
        writeln!(out, "\nPrefregex: {} total", stats.prefregex_hits)?;
        let mut items = vec![ferroban_filter::expanded_regex(spec, p)];
        items.extend(stats.prefregex_groups.iter().map(|g| format!("    {g}")));
        pprint_list(out, &items, None)?;
    }
    let no_matches = Vec::new();
    for (title, regexes, hits, matches) in [
        (
            "Failregex",
            &spec.failregex,
            &stats.fail_hits,
            &stats.fail_matches,
        ),
        (
            "Ignoreregex",
            &spec.ignoreregex,
            &stats.ignore_hits,
            &no_matches,
        ),
    ] {
        let total: u64 = hits.iter().sum();
        let mut items = Vec::new();
        for (i, (r, h)) in regexes.iter().zip(hits).enumerate() {
            if *h > 0 || o.verbose {
                items.push(format!("{:2}) [{h}] {r}", i + 1));
            }
            items.extend(matches.get(i).into_iter().flatten().cloned());
        }
        writeln!(out, "\n{title}: {total} total")?;
        pprint_list(out, &items, Some(" #) [# of hits] regular expression"))?;
    }
    if dates_searched {
        writeln!(out, "\nDate template hits:")?;
        let templates: Vec<String> = filter
            .date_detector()
            .templates()
            .filter(|(_, hits)| *hits > 0 || o.verbose)
            .map(|(t, hits)| format!("[{hits}] {}", t.name))
            .collect();
        pprint_list(out, &templates, Some("[# of hits] date format"))?;
    }
    writeln!(
        out,
        "\nLines: {} lines, {} ignored, {} matched, {} missed",
        stats.tested, stats.ignored, stats.matched, stats.missed
    )?;
    writeln!(out, "[processed in {secs:.2} sec]\n")?;
    if stats.skipped > 0 {
        let (lines, were) = match stats.skipped {
            1 => ("line", "was"),
            _ => ("lines", "were"),
        };
        writeln!(
            out,
            "[{} {lines} without the filter's literals {were} not date-checked: the date \
             template hits above are the other lines' (--no-prefilter checks all)]\n",
            stats.skipped
        )?;
    }
    let mut print_lines = |kind: &str, count: u64, lines: &[String], all: bool| -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let header = format!("{}{} line(s):", kind[..1].to_uppercase(), &kind[1..]);
        if count < MAX_PRINTED_LINES || all {
            let lines: Vec<String> = lines.iter().map(|l| l.trim_end().to_string()).collect();
            pprint_list(out, &lines, Some(&header))?;
        } else {
            writeln!(
                out,
                "{header} too many to print.  Use --print-all-{kind} to print all {count} lines"
            )?;
        }
        Ok(())
    };
    if o.print_all_matched {
        print_lines("matched", stats.matched, &stats.matched_lines, true)?;
    }
    if !o.print_no_ignored {
        print_lines(
            "ignored",
            stats.ignored,
            &stats.ignored_lines,
            o.print_all_ignored,
        )?;
    }
    if !o.print_no_missed {
        print_lines(
            "missed",
            stats.missed,
            &stats.missed_lines,
            o.print_all_missed,
        )?;
    }
    Ok(())
}
