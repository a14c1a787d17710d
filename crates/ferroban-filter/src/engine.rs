//! The filter: from a log line to failures.
//!
//! Owns one filter's regexes (`prefregex`, `failregex`, `ignoreregex`), its multi-line
//! buffer (`maxlines`), its date detector and the multi-line failure-id cache
//! (`<F-MLFID>`). A line goes in; failures (host or failure-id, time, captured fields,
//! matched lines) come out, exactly as Fail2ban's `Filter.processLine` would produce
//! them. It does not count failures, resolve names or ban anything.

use std::borrow::Cow;
use std::sync::Arc;

use ferroban_config::FilterDefinition;
use jiff::tz::TimeZone;

use crate::anchored::{MatchWalk, PrefixWalks};
use crate::candidates::{Candidates, Possible};
use crate::date::{DateDetector, TemplateError};
use crate::faildata::{key, FailData, Interned, Key, Layout, Line, Text, Value, NAMES};
use crate::host_branch::{HostBranch, ADDRESS_GROUPS};
use crate::merge::{self, KeyOrder, Merged, Spares};
use crate::mlfid::MlfidCache;
use crate::pattern::{Groups, Mode, Pattern, PatternError};
use crate::prefilter::Prefilter;
use crate::recent::Recent;
use crate::tags;
use crate::twopass;
use crate::unfold;

/// Why a filter could not be built. A regex is named by its place in its option,
/// counted from 1 (`index` is 0-based), as `check` names it; the pattern's error is
/// part of the message, not a separate cause (it would be said twice).
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("failregex {}: {error}", .index + 1)]
    FailRegex { index: usize, error: PatternError },
    #[error("failregex {} {regex:?} has no group for the failure id: use <HOST>, <ADDR>, <F-ID>… (or put one in prefregex)", .index + 1)]
    NoFailureId { index: usize, regex: String },
    #[error("ignoreregex {}: {error}", .index + 1)]
    IgnoreRegex { index: usize, error: PatternError },
    #[error("prefregex: {0}")]
    PrefRegex(PatternError),
    #[error("cannot add an empty regex")]
    Empty,
    #[error(transparent)]
    DatePattern(#[from] TemplateError),
    #[error("maxlines must be an integer greater than zero, not {0:?}")]
    MaxLines(String),
    #[error("unknown or unsupported time zone {0:?} (use UTC, an offset like +0200 or an abbreviation like CET)")]
    TimeZone(String),
}

/// Single-line buffers whose failregex matches are remembered (per generation, see
/// [`Recent`]): some hundred kilobytes.
const RECENT_BUFFERS: usize = 512;

/// What searching a single-line buffer with the failregexes found: the failregexes
/// that matched (index and groups, in order; nearly always one at most, held in
/// place) and how many searches were given up.
#[derive(Debug, Default)]
struct Searched {
    matches: smallvec::SmallVec<[(usize, Groups); 1]>,
    abandoned: u64,
}

impl Searched {
    /// The first match's failregex, its data read from its groups where they are into
    /// `fail` (see [`FailureData::read`]: a remembered match serves every repeat without
    /// a copy), the later matches (`check_all`) copied into `later`; and the searches
    /// given up.
    fn read(
        &self,
        data: &FailureData<'_>,
        fail: &mut FailData,
        later: &mut LaterMatches,
    ) -> (Option<usize>, u64) {
        let mut matches = self.matches.iter();
        let first = matches.next();
        if let Some((fi, g)) = first {
            data.read(*fi, g, fail);
        }
        later.copy(matches);
        (first.map(|(fi, _)| *fi), self.abandoned)
    }
}

/// The failregex matches of a single-line buffer after the first (`check_all`),
/// copied from its search or its remembered answer. The groups held are kept from
/// line to line for their allocations (a match with many groups spills to the heap):
/// the next line's are copied into them.
#[derive(Debug, Default)]
struct LaterMatches {
    held: Vec<(usize, Groups)>,
    /// How many of `held` are this buffer's.
    len: usize,
}

impl LaterMatches {
    /// Become a copy of `matches`.
    fn copy<'a>(&mut self, matches: impl Iterator<Item = &'a (usize, Groups)>) {
        self.len = 0;
        for (fi, g) in matches {
            match self.held.get_mut(self.len) {
                Some(held) => {
                    held.0 = *fi;
                    held.1.copy_from(g);
                }
                None => self.held.push((*fi, g.clone())),
            }
            self.len += 1;
        }
    }

    /// The first match of a failregex from index `from` on.
    fn first_from(&self, from: usize) -> Option<&(usize, Groups)> {
        self.held[..self.len].iter().find(|(fi, _)| *fi >= from)
    }
}

/// How a failregex match's groups become failure data: the failregexes and the text
/// they searched.
struct FailureData<'a> {
    fail: &'a [Rx],
    text: &'a str,
    /// The caller only counts failures: of a failregex whose matches are all
    /// failures, only what a merge reads is read (see [`Rx::counted_slots`]).
    counts_only: bool,
}

impl FailureData<'_> {
    /// The data of failregex `fi`'s match `g` into `fail` (see [`Rx::groups_into`]).
    fn read(&self, fi: usize, g: &Groups, fail: &mut FailData) {
        let rx = &self.fail[fi];
        match rx.counted_slots.as_deref().filter(|_| self.counts_only) {
            Some(slots) => rx.counted_into(slots, self.text, g, fail),
            None => rx.groups_into(self.text, g, fail),
        }
    }
}

/// What a buffer's search fills in, kept from line to line for its allocations.
#[derive(Debug, Default)]
struct MatchScratch {
    /// The prefregex's groups as failure data.
    pre_groups: FailData,
    /// The prefregex's match, written in place by its search.
    pref_groups: Groups,
    /// A failregex match's groups, when a multi-line buffer is split by them.
    groups: Groups,
}

/// How the matches of a failregex end their connection (`F-MLFFORGET`), where every
/// match does so either as no failure by itself (`F-NOFAIL` or `F-MLFGAINED`, each
/// taking part with some text) or as a failure (neither group): what
/// `merge::forgets_as_no_failure` reads of such a match is known without its groups,
/// but for its user, and what a merge makes of a failure's is known outright. The
/// daemon drops a no-failure close when the connection has nothing a merge would
/// change, a quarter of a busy auth.log's lines, and then need not find the match's
/// groups; the tester's summary counts either kind so (see
/// [`Filter::forgets_unsearched`]).
#[derive(Debug, Clone, Copy)]
struct Ending {
    /// As a failure: the failregex has neither `F-NOFAIL` nor `F-MLFGAINED`, so a
    /// merge gives a failure whatever the connection holds (or a pending one). Only
    /// a caller that reads no match data may leave its data unread (see
    /// [`Filter::reads_match_data`]).
    is_failure: bool,
    /// By `F-MLFGAINED` (a login), which clears the connection's pending failures.
    gained: bool,
    /// Its matches may name a user, which decides when the connection has an entry.
    names_user: bool,
    /// The candidates name it only for buffers it matches: no search needs to confirm.
    named_exactly: bool,
    /// Where its id may be a host name (`<HOST>`'s `dns` group), not an address: the
    /// indices of its address groups (`ip4`, `ip6`), which tell whether a match names
    /// an address after all (see [`Rx::names_address`]).
    address_groups: Option<[Option<usize>; 2]>,
}

impl Ending {
    /// The names whose values the forget decision reads.
    const DECISIVE: [&str; 5] = ["nofail", "mlfgained", "mlfforget", "mlfpending", "user"];

    /// Whether a prefregex leaves the decision to its failregexes: it gives them the
    /// multi-line id and none of the names the decision reads.
    fn may_follow(pref: &Rx) -> bool {
        pref.alternates.is_empty() && !Ending::DECISIVE.iter().any(|n| pref.has_group(n))
    }

    /// The ending of `rx`'s matches, if every one ends its connection as no failure,
    /// or every one as a failure (`named_exactly`: see
    /// [`Candidates::names_only_matches`]; the candidates' set holds the failregex
    /// itself only when it runs on the linear engine alone).
    fn of(rx: &Rx, named_exactly: bool) -> Option<Ending> {
        // (most failregexes forget nothing: their pattern is not parsed again)
        if !rx.has_group("mlfforget") {
            return None;
        }
        let every = rx.pattern.groups_in_every_match();
        let always = |name: &str| every.iter().any(|n| n == name);
        let gained = always("mlfgained");
        let no_failure = gained || (always("nofail") && !rx.has_group("mlfgained"));
        let is_failure = !rx.has_group("nofail") && !rx.has_group("mlfgained");
        let own_id_or_pending = rx.has_group("mlfid") || rx.has_group("mlfpending");
        let alternates_user_only = rx.alternates.iter().all(|(_, m)| m.key().name() == "user");
        let decided = no_failure || is_failure;
        if !always("mlfforget") || !decided || own_id_or_pending || !alternates_user_only {
            return None;
        }
        let superset_is_itself = rx
            .pattern
            .linear_source()
            .is_some_and(|linear| rx.pattern.linear_superset() == Some(linear));
        Some(Ending {
            is_failure,
            gained,
            names_user: rx.has_group("user") || !rx.alternates.is_empty(),
            named_exactly: named_exactly && superset_is_itself,
            address_groups: rx
                .has_group("dns")
                .then(|| ADDRESS_GROUPS.map(|name| rx.pattern.group_index(name))),
        })
    }
}

/// Whether a match's data `fail` (of a failregex with [`Rx::counted_slots`]) makes a
/// failure whatever its connection holds, with an id that is its own address: it does
/// not make itself no failure, and names an address and no other failure id. (A
/// host name is no address: a caller turns it into addresses, or into none where it
/// does not resolve, as Fail2ban does; and a match without an address of its own may
/// take its connection's.)
fn counts_as_failure(fail: &FailData) -> bool {
    let names = &*NAMES;
    let no_failure = fail.truthy(&names.nofail) || fail.truthy(&names.mlfgained);
    !no_failure && fail.holds_address() && fail.text(&names.fid).is_none()
}

/// What [`Filter::next_failregex_match`] found.
enum NextMatch {
    /// A failregex (by index) matched; its data was read.
    Found(usize),
    /// A failregex matched a line that closes its connection, its data not read (see
    /// [`Filter::forgets_unsearched`]).
    ClosedUnread(ClosedUnread),
    /// No failregex (from the index asked) matches.
    Nothing,
}

impl From<Option<usize>> for NextMatch {
    fn from(found: Option<usize>) -> NextMatch {
        found.map_or(NextMatch::Nothing, NextMatch::Found)
    }
}

/// One failure found in the buffer.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Index of the failregex that matched.
    pub regex_index: usize,
    /// The failure id: the host as written in the line, or the `<F-ID>` value.
    pub id: Text,
    /// When it happened (epoch seconds), if known.
    pub time: Option<f64>,
    /// Fail2ban holds `time` as a Python `int`, not a `float` (a date read with its
    /// zone known, see [`crate::date::Template::time_is_int`]): only
    /// `fail2ban-regex -o row` shows it.
    pub time_is_int: bool,
    /// Its data, shared with the filter's multi-line cache (see [`Failure::data`]).
    merged: Arc<Merged>,
}

impl Failure {
    /// The matched lines (original text).
    pub fn matches(&self) -> &[Line] {
        self.merged.matches()
    }

    /// A `<F-NOFAIL>` match: reported to nobody.
    pub fn is_nofail(&self) -> bool {
        self.merged.is_nofail()
    }

    /// A captured field by name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.merged.text(name)
    }

    /// Fail2ban's data of this failure: the captured groups (lower-case names, without
    /// `F-`) and what merging adds (`matches`, the matched lines; `users`, ...), in
    /// name order. Made on each call.
    pub fn data(&self) -> FailData {
        self.merged.to_data()
    }

    /// [`Failure::data`]'s names and values in the order Fail2ban's dict holds them
    /// (the order they were set in), where the filter records it (see
    /// [`Filter::records_key_order`]), else in name order.
    pub fn data_in_order(&self) -> Vec<(&'static str, Value)> {
        let fields = self.merged.to_data_in_order().into_iter();
        fields.map(|(k, v)| (k.name(), v)).collect()
    }

    /// The host name this failure is for, when it names no address: its `dns`
    /// field, when that is its id and it has no `ip4` or `ip6` field.
    pub fn host_name(&self) -> Option<&str> {
        let m = &self.merged;
        if m.group_text(&NAMES.ip4).is_some() || m.group_text(&NAMES.ip6).is_some() {
            return None;
        }
        m.group_text(&NAMES.dns).filter(|n| *n == self.id)
    }
}

/// A line's failures: nearly always none or one, held in place (no allocation per
/// line).
pub type Failures = smallvec::SmallVec<[Failure; 1]>;

/// A failregex match waiting for its id (a multi-line failure pending).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PendingMatch {
    /// Index of the failregex that matched.
    pub regex_index: usize,
    /// When the line happened, as a failure of it would be dated.
    pub time: Option<f64>,
}

/// The outcome of one line.
#[derive(Debug, Default)]
pub struct LineResult {
    /// Failures with an id, `<F-NOFAIL>` ones included (see [`Failure::is_nofail`]).
    pub failures: Failures,
    /// Failregexes that matched without an id yet (a multi-line failure pending).
    pub pending: Vec<PendingMatch>,
    /// Ignoreregexes that matched, once per time one did; empty: not ignored.
    pub ignored_by: Vec<usize>,
    /// Whether the prefregex matched on its last search (which may be an earlier
    /// line's, when this one was ignored first — as Fail2ban reports it).
    pub prefregex_matched: bool,
    /// Lines buffered before this one that a multi-line match took from the buffer.
    pub absorbed: Vec<String>,
    /// A connection-closing line a failregex matched, reported here in place of its
    /// failure, its data not read (only where the caller reads none: see
    /// [`Filter::reads_match_data`]).
    pub closed_unread: Option<ClosedUnread>,
    /// Failregexes (by index) that matched for a failure, counted without its data
    /// (only where the caller reads none: see [`Filter::reads_match_data`]).
    pub failures_unread: Vec<usize>,
}

/// A connection-closing line found without its data read: which failregex matched
/// it, and what it counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedUnread {
    pub regex_index: usize,
    /// A failure (or a pending one: neither is ignored); else a `<F-NOFAIL>` match,
    /// which the line is ignored for.
    pub is_failure: bool,
}

impl LineResult {
    /// Empty it for the next line, keeping its vectors' allocations.
    fn clear(&mut self) {
        self.failures.clear();
        self.pending.clear();
        self.ignored_by.clear();
        self.prefregex_matched = false;
        self.absorbed.clear();
        self.closed_unread = None;
        self.failures_unread.clear();
    }

    /// Ignored: by an ignoreregex, or as a `<F-NOFAIL>` match.
    pub fn is_ignored(&self) -> bool {
        !self.ignored_by.is_empty()
            || self.failures.iter().any(Failure::is_nofail)
            || self.closed_unread.is_some_and(|c| !c.is_failure)
    }

    /// A failregex matched, for a failure or a pending one (and it was not ignored).
    pub fn is_match(&self) -> bool {
        !self.is_ignored() && self.failregex_matched()
    }

    /// A failregex matched, for a failure or a pending one, ignored or not.
    pub fn failregex_matched(&self) -> bool {
        let unread = self.closed_unread.is_some() || !self.failures_unread.is_empty();
        !self.failures.is_empty() || !self.pending.is_empty() || unread
    }
}

/// A line's text: borrowed from the caller while only its own search reads it (a
/// single-line buffer), shared once something keeps it (a failure's matched lines,
/// the multi-line buffer). A line that matches nothing is never copied.
#[derive(Debug, Clone)]
enum LineText<'a> {
    Borrowed(&'a str),
    Shared(Line),
}

impl LineText<'_> {
    /// The text as a shared line (made now when it was borrowed).
    fn share(&self) -> Line {
        match self {
            LineText::Borrowed(text) => Line::from(*text),
            LineText::Shared(line) => line.clone(),
        }
    }
}

impl std::ops::Deref for LineText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            LineText::Borrowed(text) => text,
            LineText::Shared(line) => line,
        }
    }
}

impl<'a> From<&'a str> for LineText<'a> {
    fn from(text: &'a str) -> Self {
        LineText::Borrowed(text)
    }
}

impl From<String> for LineText<'_> {
    fn from(text: String) -> Self {
        LineText::Shared(text.into())
    }
}

/// A line's time as Fail2ban holds it: epoch seconds, a Python `int` or `float`.
#[derive(Debug, Clone, Copy)]
struct LineTime {
    seconds: f64,
    is_int: bool,
}

impl LineTime {
    /// Seconds Fail2ban holds as a `float` (a time that is not a read date's).
    fn float(seconds: f64) -> LineTime {
        LineTime {
            seconds,
            is_int: false,
        }
    }
}

/// A line in the buffer: its text and the span of its date.
#[derive(Debug, Clone)]
struct BufLine<'a> {
    text: LineText<'a>,
    date: (usize, usize),
}

/// Buffered lines are the same when their texts and dates are (however held).
impl PartialEq for BufLine<'_> {
    fn eq(&self, other: &Self) -> bool {
        *self.text == *other.text && self.date == other.date
    }
}

impl BufLine<'_> {
    fn without_date(&self) -> String {
        let mut s = String::with_capacity(self.text.len());
        s.push_str(&self.text[..self.date.0]);
        s.push_str(&self.text[self.date.1..]);
        s
    }

    /// This line with its text shared, to be kept beyond the caller's borrow.
    fn kept(&self) -> BufLine<'static> {
        BufLine {
            text: LineText::Shared(self.text.share()),
            date: self.date,
        }
    }
}

fn join_buffer(lines: &[BufLine<'_>]) -> String {
    join_buffer_into(String::new(), lines)
}

/// [`join_buffer`] into `s` (cleared first): its allocation is reused.
fn join_buffer_into(mut s: String, lines: &[BufLine<'_>]) -> String {
    s.clear();
    s.reserve(lines.iter().map(|l| l.text.len() + 1).sum());
    for l in lines {
        s.push_str(&l.text[..l.date.0]);
        s.push_str(&l.text[l.date.1..]);
        s.push('\n');
    }
    s
}

/// The text a buffer's search reads: the buffer's lines joined (dates cut out, each
/// line ending in `\n`) in a string of the filter's (owned), or a single line's text
/// after its date, followed by its `\n`, where it is in the caller's text (borrowed:
/// the same bytes, not copied).
type SearchText<'a> = Cow<'a, str>;

/// Keep only `text[start..end]` and a `\n` after it; a borrowed text is copied into
/// `spare` for that (whose allocation is reused).
fn cut_search_text(text: &mut SearchText<'_>, start: usize, end: usize, spare: &mut String) {
    match text {
        Cow::Owned(text) => {
            text.truncate(end);
            text.drain(..start);
            text.push('\n');
        }
        Cow::Borrowed(borrowed) => {
            let mut cut = std::mem::take(spare);
            cut.clear();
            cut.push_str(&borrowed[start..end]);
            cut.push('\n');
            *text = Cow::Owned(cut);
        }
    }
}

/// The allocation of a joined (owned) text, for the next line's.
fn spare_of(text: SearchText<'_>) -> Option<String> {
    match text {
        Cow::Owned(text) => Some(text),
        Cow::Borrowed(_) => None,
    }
}

/// A compiled failregex or ignoreregex.
#[derive(Debug)]
struct Rx {
    pattern: Pattern,
    /// The groups the data holds (not unnamed ones, nor copies made for matching):
    /// (group index, data key), in key order.
    keys: Vec<(usize, Key)>,
    /// The filter's failure data layout, and (group index, slot) of `keys` in it
    /// (see [`place_failure_data`]).
    layout: &'static Layout,
    slots: Vec<(usize, usize)>,
    /// The part of `slots` a caller that only counts failures needs, where every
    /// match is a failure whatever its connection holds (see [`Rx::counted_slots`]).
    counted_slots: Option<Vec<(usize, usize)>>,
    skiplines: Vec<usize>,
    /// (group index, merged name) of `F-ALT_*` groups, sorted by group name.
    alternates: Vec<(usize, Interned)>,
    /// The memory of its capture passes, kept from one failregex search to the next
    /// (see [`twopass::Lease`]).
    lease: twopass::Lease,
    /// What tells that a match names an address without a search with groups, made
    /// on the first close that asks (see [`Rx::shows_address`]); `Some(None)` where
    /// the pattern has not the shape for it.
    host_branch: Option<Option<HostBranch>>,
}

impl Rx {
    fn new(source: &str, mode: Mode, use_dns: &str) -> Result<Rx, PatternError> {
        let expanded = tags::expand(source, use_dns);
        let pattern = Pattern::new(&expanded, mode)?;
        let names = pattern.group_names();
        let skiplines = (0..)
            .map_while(|n| pattern.group_index(&format!("skiplines{n}")))
            .collect();
        let mut alternates: Vec<(String, usize, String)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let rest = n.strip_prefix("alt_")?;
                if rest.is_empty() {
                    return None;
                }
                // alt_user_1 → user
                let base = match rest.rfind('_') {
                    Some(p)
                        if rest[p + 1..].chars().all(|c| c.is_ascii_digit())
                            && p + 1 < rest.len() =>
                    {
                        &rest[..p]
                    }
                    _ => rest,
                };
                let merged = match base {
                    "id" => "fid",
                    "port" => "fport",
                    b => b,
                };
                Some((n.clone(), i, merged.to_string()))
            })
            .collect();
        alternates.sort();
        let mut keys: Vec<(usize, Key)> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty() && !unfold::is_internal_group(n))
            .map(|(i, n)| (i, key(n)))
            .collect();
        keys.sort_by_key(|(_, k)| k.name());
        Ok(Rx {
            keys,
            layout: Layout::of([]),
            slots: Vec::new(),
            counted_slots: None,
            pattern,
            skiplines,
            alternates: alternates
                .into_iter()
                .map(|(_, i, m)| (i, Interned::new(&m)))
                .collect(),
            lease: twopass::Lease::default(),
            host_branch: None,
        })
    }

    /// The data of the groups `g` of a match in `buf`, into `d` (emptied first, given
    /// the layout the regex was placed in), whose allocation is reused.
    fn groups_into(&self, buf: &str, g: &Groups, d: &mut FailData) {
        debug_assert_eq!(self.slots.len(), self.keys.len(), "not placed in a layout");
        let values = d.emptied(self.layout);
        for &(i, slot) in &self.slots {
            if let Some(value) = values.get_mut(slot) {
                Value::put_captured(value, g.get(i).map(|(s, e)| &buf[s..e]));
            }
        }
        for (i, merged) in &self.alternates {
            let v = g.get(*i).map(|(s, e)| &buf[s..e]).filter(|v| !v.is_empty());
            if let Some(v) = v {
                if !d.truthy(merged) {
                    d.insert(merged.key(), Value::Text(Some(Text::from(v))));
                }
            }
        }
    }

    /// The groups of `slots` (of its [`Rx::counted_slots`]) of a match `g` in `buf`
    /// that took part in it, into `d` (emptied first, given the layout the regex was
    /// placed in). One that took none is left out: a merge reads it as one not set.
    fn counted_into(&self, slots: &[(usize, usize)], buf: &str, g: &Groups, d: &mut FailData) {
        let values = d.emptied(self.layout);
        for &(i, slot) in slots {
            if let (Some(value), Some((start, end))) = (values.get_mut(slot), g.get(i)) {
                Value::put_captured(value, Some(&buf[start..end]));
            }
        }
    }

    /// Where a match of this failregex is a failure whatever its connection holds
    /// unless it makes itself no failure (`F-NOFAIL`, `F-MLFGAINED`), the slots of
    /// the groups a merge reads of it, as far as a caller that only counts failures
    /// sees: its user, its id's groups and those two. Such a failregex sets none of
    /// the other names that change how it merges (`F-MLFFORGET`, `F-MLFPENDING`, its
    /// own `F-MLFID`), nor a name by an `F-ALT_` group, and names an id of its own;
    /// nor does the prefregex `pref` (but the multi-line id) or give an id.
    fn counted_slots(&self, pref: Option<&Rx>) -> Option<Vec<(usize, usize)>> {
        let names = &*NAMES;
        let ids = [&names.fid, &names.ip4, &names.ip6, &names.dns].map(|n| n.key());
        let gives_id = |rx: &Rx| rx.keys.iter().any(|(_, k)| ids.contains(k));
        let pref_decides = pref.is_some_and(|p| !Ending::may_follow(p) || gives_id(p));
        let changes_the_merge = ["mlfforget", "mlfpending", "mlfid"]
            .iter()
            .any(|n| self.has_group(n));
        if pref_decides || changes_the_merge || !self.alternates.is_empty() || !gives_id(self) {
            return None;
        }
        let read = [names.user.key(), names.nofail.key(), names.mlfgained.key()];
        let read = |i: usize| {
            let key = self.keys.iter().find(|(j, _)| *j == i).map(|(_, k)| *k);
            key.is_some_and(|k| ids.contains(&k) || read.contains(&k))
        };
        Some(
            self.slots
                .iter()
                .copied()
                .filter(|(i, _)| read(*i))
                .collect(),
        )
    }

    /// The data of the groups `g` of a match in `buf` added to `d`, each name that
    /// `d` has not: [`Rx::groups_into`] another map, then [`FailData::add_missing`],
    /// without that map. Only for a regex without `F-ALT_` groups.
    fn add_missing_groups(&self, buf: &str, g: &Groups, d: &mut FailData) {
        debug_assert!(self.alternates.is_empty());
        for (i, name) in &self.keys {
            d.add_captured(*name, g.get(*i).map(|(s, e)| &buf[s..e]));
        }
    }

    /// Whether two automata show that it matches `buf` and its match names an
    /// address, taking an address branch of `<HOST>` (see [`HostBranch`]); `false`:
    /// not shown, a search with groups decides ([`Rx::names_address`]).
    fn shows_address(&mut self, buf: &str) -> bool {
        let pattern = &self.pattern;
        self.host_branch
            .get_or_insert_with(|| pattern.host_branch())
            .as_mut()
            .is_some_and(|branch| branch.takes_address(buf))
    }

    /// Whether its match in `buf` names an address, one of its `address_groups`
    /// taking part (a host name is none): a search with groups, into `groups`.
    fn names_address(
        &mut self,
        buf: &str,
        address_groups: [Option<usize>; 2],
        groups: &mut Groups,
    ) -> bool {
        let found = self.pattern.search_leased(buf, groups, &mut self.lease);
        let took_part = |index: Option<usize>| index.is_some_and(|i| groups.get(i).is_some());
        found && address_groups.into_iter().any(took_part)
    }

    /// Leave group `name` out of the data; its index, if the regex has it.
    fn take_group(&mut self, name: &str) -> Option<usize> {
        let at = self.keys.iter().position(|(_, k)| &**k == name)?;
        Some(self.keys.remove(at).0)
    }

    /// The names of its data in the order Fail2ban's `getGroups` sets them: its
    /// groups by number, then the names its `F-ALT_` groups set (in group name
    /// order).
    fn keys_as_set(&self) -> impl Iterator<Item = Key> + '_ {
        let mut keys = self.keys.clone();
        keys.sort_by_key(|(i, _)| *i);
        let alternates = self.alternates.iter().map(|(_, name)| name.key());
        keys.into_iter().map(|(_, k)| k).chain(alternates)
    }

    fn has_group(&self, name: &str) -> bool {
        self.pattern.group_index(name).is_some()
    }
}

/// Literals one of which every match of any of the failregexes `fail` holds (see
/// [`Prefilter`]); `None` when one of them has none.
fn failregex_literals(fail: &[Rx]) -> Option<Prefilter> {
    fail.iter()
        .map(|r| r.pattern.linear_superset())
        .collect::<Option<Vec<_>>>()
        .and_then(Prefilter::for_patterns)
}

/// The layout of a filter's failure data (see [`Layout`]): the names of its
/// failregexes' and prefregex's groups, and those the engine reads or merging adds;
/// each regex is told its groups' slots in it.
fn place_failure_data(fail: &mut [Rx], pref: Option<&mut Rx>) -> &'static Layout {
    let groups = fail.iter().chain(pref.as_deref()).flat_map(|rx| {
        let keys = rx.keys.iter().map(|(_, k)| *k);
        keys.chain(rx.alternates.iter().map(|(_, name)| name.key()))
    });
    let layout = Layout::of(groups.chain(NAMES.all()));
    for rx in fail.iter_mut().chain(pref) {
        rx.layout = layout;
        rx.slots = rx
            .keys
            .iter()
            .filter_map(|(i, k)| Some((*i, layout.slot(*k)?)))
            .collect();
    }
    layout
}

/// `regex` (a failregex, ignoreregex or prefregex of `spec`) as its filter
/// compiles it, and as Fail2ban shows it (`get JAIL failregex`, fail2ban-regex's
/// report): tags expanded with the filter's `usedns`.
pub fn expanded_regex(spec: &FilterDefinition, regex: &str) -> String {
    tags::expand(regex, use_dns(spec))
}

/// The filter's `usedns` (`warn`, Fail2ban's default, when unset).
fn use_dns(spec: &FilterDefinition) -> &str {
    spec.usedns.as_deref().unwrap_or("warn")
}

/// The named groups of `pattern`'s match `g` in `text`, in the pattern's order,
/// each with its text (see [`Filter::prefregex_groups`]). Out of line: only
/// `fail2ban-regex -v` asks for them.
#[cold]
#[inline(never)]
fn named_groups(pattern: &Pattern, text: &str, g: &Groups) -> Vec<(String, Option<String>)> {
    let names = pattern.group_names().iter().enumerate();
    names
        .filter(|(_, name)| !name.is_empty() && !unfold::is_internal_group(name))
        .map(|(i, name)| (name.clone(), g.get(i).map(|(s, e)| text[s..e].to_string())))
        .collect()
}

/// Which buffer lines a match covered: (matched, unmatched), as Fail2ban splits them.
fn split_matched<'a, 'l>(
    buf: &str,
    g: &Groups,
    rx: &Rx,
    lines: &'a [BufLine<'l>],
) -> (Cow<'a, [BufLine<'l>]>, Vec<BufLine<'static>>) {
    if lines.len() <= 1 {
        return (Cow::Borrowed(lines), Vec::new());
    }
    let start = buf[..(g.start() + 1).min(buf.len())]
        .rfind('\n')
        .map_or(0, |p| p + 1);
    let end = buf[g.end().saturating_sub(1)..]
        .find('\n')
        .map_or(buf.len(), |p| g.end().saturating_sub(1) + p + 1);
    let first = buf[..start].matches('\n').count().min(lines.len());
    let last = buf[..end].matches('\n').count().clamp(first, lines.len());
    let mut matched = lines[first..last].to_vec();
    let mut unmatched: Vec<_> = lines[..first].iter().map(BufLine::kept).collect();
    let mut skipped: Vec<&str> = Vec::new();
    for &i in &rx.skiplines {
        if let Some((s, e)) = g.get(i) {
            skipped.extend(buf[s..e].lines());
        }
    }
    let mut n = 0;
    for sk in skipped {
        if let Some(m) = matched[n.min(matched.len())..]
            .iter()
            .position(|l| l.without_date() == sk)
        {
            unmatched.push(matched.remove(n + m).kept());
            n += m;
        }
    }
    unmatched.extend(lines[last..].iter().map(BufLine::kept));
    (Cow::Owned(matched), unmatched)
}

/// A filter with its state.
#[derive(Debug)]
pub struct Filter {
    fail: Vec<Rx>,
    ignore: Vec<Rx>,
    pref: Option<Rx>,
    /// The prefregex's `content` group index.
    pref_content: Option<usize>,
    maxlines: usize,
    detector: DateDetector,
    prefilter: Option<Prefilter>,
    /// Over a multi-line buffer (which the prefilter cannot skip: every line must
    /// enter it): literals one of which every failregex match holds, searched for in
    /// the very text the failregexes search, before they do. Most buffers of a
    /// shared log (slapd's 20 lines of an auth.log) hold none.
    buffer_gate: Option<Prefilter>,
    /// The failregexes worth a search on a buffer, in one pass.
    candidates: Option<Candidates>,
    /// Where the prefregex head's automaton was after recent lines' first bytes.
    head_walks: PrefixWalks<MatchWalk>,
    /// Per failregex: how its matches end their connection, where every one does so
    /// as no failure (see [`Filter::forgets_unsearched`]).
    endings: Vec<Option<Ending>>,
    /// The prefregex's `mlfid` group index, where the endings above may apply.
    pref_mlfid: Option<usize>,
    /// The multi-line buffer (a single line is searched without one).
    buffer: Vec<BufLine<'static>>,
    last_date: Option<LineTime>,
    last_time_text: String,
    /// Each id's merged failure, shared with the last failure reported for it (as
    /// Fail2ban's cache and failure share one dict); `None` only while it is merged.
    mlfid_cache: merge::Cache,
    /// The prefregex's last search result (see `LineResult::prefregex_matched`).
    pref_matched: bool,
    /// Report every failregex that matches a line, not only the first (as
    /// `fail2ban-regex` does); the daemon stops at the first.
    pub check_all: bool,
    /// Drop failures still waiting for an id (multi-line) instead of reporting them.
    pub ignore_pending: bool,
    /// Keep the named groups of the prefregex's last match (see
    /// [`Filter::prefregex_groups`]): `fail2ban-regex -v` lists them.
    pub record_prefregex_groups: bool,
    /// The caller reads the data of the matches it is given, not only what each
    /// counts as: else a connection-closing line may be reported in
    /// [`LineResult::closed_unread`], its data not read (`fail2ban-regex`'s summary
    /// counts such lines and prints none of their data). The daemon, which stops at
    /// the first match (not `check_all`), drops matches that are no failure either
    /// way: a close that is no failure is left unread there too.
    pub reads_match_data: bool,
    /// The caller reads a failure's matched lines ([`Failure::matches`], its data's
    /// `matches`): else none are kept (each a copy of its line), and a failure's
    /// lines are empty. The tester's summary reads none; the daemon hands them to
    /// its actions and its database.
    pub keeps_matched_lines: bool,
    /// Record the order Fail2ban's dict of a failure holds its names in (see
    /// [`Failure::data_in_order`]): `fail2ban-regex -o row` prints it.
    pub records_key_order: bool,
    prefregex_groups: Vec<(String, Option<String>)>,
    /// The failregex searches of recent single-line buffers, and whether they found
    /// the matches (`check_all`) or the first only.
    recent: Recent<Searched>,
    recent_all: bool,
    /// The failregex matches of the single-line buffer being searched after the
    /// first (`check_all`): its later searches (from the next failregex on) are
    /// answered from here, not looked up again.
    later_matches: LaterMatches,
    /// The groups of a search that tells whether a close names an address (see
    /// [`Rx::names_address`]), kept for their allocation.
    address_search: Groups,
    /// Searches given up at the step bound that a remembered answer stood for (the
    /// same line again: given up again, but without the search).
    recalled_abandoned: u64,
    /// Some failregex may give a search up at the step bound (see
    /// [`Pattern::may_give_up`]).
    fail_may_give_up: bool,
    /// The allocation of the text searched last, for the next line's.
    spare_text: String,
    /// The last line's match data, kept for its allocations (boxed: taken out and
    /// put back on every line, it moves as a pointer).
    spare_match: Option<Box<MatchScratch>>,
    /// The allocations of earlier failures' data, for the next ones' (see
    /// [`Filter::recycle`]).
    spares: Spares,
}

impl Filter {
    /// Build a filter from its definition. `logtimezone` (a jail option) is the fixed
    /// zone of dates without one, else `tz` (local time) applies; `now_year` selects the
    /// years `%ExY` accepts.
    pub fn new(
        spec: &FilterDefinition,
        logtimezone: Option<&str>,
        tz: TimeZone,
        now_year: i16,
    ) -> Result<Filter, FilterError> {
        let use_dns = use_dns(spec);
        let maxlines = match &spec.maxlines {
            None => 1,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if n > 0 => n as usize,
                _ => return Err(FilterError::MaxLines(v.clone())),
            },
        };
        let multi = maxlines > 1;
        let other_mode = if multi {
            Mode::OverMultiLine
        } else {
            Mode::SingleLine
        };
        let mut pref = match spec.prefregex.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => Some(Rx::new(p, other_mode, use_dns).map_err(FilterError::PrefRegex)?),
            None => None,
        };
        // The prefregex's content is what the failregexes search, never failure data.
        let pref_content = pref.as_mut().and_then(|p| p.take_group("content"));
        let mut fail = Vec::new();
        for (index, r) in spec.failregex.iter().enumerate() {
            if r.trim().is_empty() {
                return Err(FilterError::Empty);
            }
            let mode = if multi {
                Mode::MultiLine
            } else {
                Mode::SingleLine
            };
            let rx = Rx::new(r, mode, use_dns)
                .map_err(|error| FilterError::FailRegex { index, error })?;
            let has_id = |rx: &Rx| {
                ["fid", "ip4", "ip6", "dns", "mlfid"]
                    .iter()
                    .any(|g| rx.has_group(g))
            };
            if !has_id(&rx) && !pref.as_ref().is_some_and(has_id) {
                return Err(FilterError::NoFailureId {
                    index,
                    regex: r.clone(),
                });
            }
            fail.push(rx);
        }
        let mut ignore = Vec::new();
        for (index, r) in spec.ignoreregex.iter().enumerate() {
            let rx = Rx::new(r, other_mode, use_dns)
                .map_err(|error| FilterError::IgnoreRegex { index, error })?;
            ignore.push(rx);
        }
        let default_tz = match logtimezone {
            None => None,
            Some(z) => Some(
                crate::date::zone_offset(z).ok_or_else(|| FilterError::TimeZone(z.to_string()))?,
            ),
        };
        let mut detector = match &spec.datepattern {
            Some(p) => DateDetector::from_patterns(p, tz, now_year)?,
            None => DateDetector::with_defaults(tz, now_year),
        };
        detector.set_default_tz(default_tz);
        // Lines may be skipped before date detection only when one line is one buffer,
        // cutting a date out cannot create a literal (see `prefilter`), and no line
        // can be counted as ignored before a failregex is tried. With a prefregex, a
        // line must match it first: its literals select the lines.
        let early_ignore = !ignore.is_empty() && ignore.len() + 2 < fail.len();
        let prefilter = match maxlines == 1 && detector.cuts_at_word_bounds() && !early_ignore {
            true => match &pref {
                Some(pref) => pref
                    .pattern
                    .linear_superset()
                    .and_then(|p| Prefilter::for_patterns([p])),
                None => failregex_literals(&fail),
            },
            false => None,
        };
        let failure_data_layout = place_failure_data(&mut fail, pref.as_mut());
        for rx in &mut fail {
            rx.counted_slots = rx.counted_slots(pref.as_ref());
        }
        let buffer_gate = (maxlines > 1).then(|| failregex_literals(&fail)).flatten();
        let candidates = Candidates::new(fail.iter().map(|r| r.pattern.linear_superset()));
        let pref_mlfid = pref
            .as_ref()
            .filter(|p| Ending::may_follow(p))
            .and_then(|p| p.pattern.group_index(NAMES.mlfid.key().name()));
        let endings = match pref_mlfid {
            Some(_) => fail
                .iter()
                .enumerate()
                .map(|(i, rx)| {
                    let named_exactly =
                        candidates.as_ref().is_some_and(|c| c.names_only_matches(i));
                    Ending::of(rx, named_exactly)
                })
                .collect(),
            None => Vec::new(),
        };
        let fail_may_give_up = fail.iter().any(|rx| rx.pattern.may_give_up());
        Ok(Filter {
            fail_may_give_up,
            pref_content,
            candidates,
            head_walks: PrefixWalks::default(),
            endings,
            pref_mlfid,
            fail,
            ignore,
            pref,
            maxlines,
            detector,
            prefilter,
            buffer_gate,
            buffer: Vec::new(),
            last_date: None,
            last_time_text: String::new(),
            mlfid_cache: MlfidCache::default(),
            pref_matched: false,
            check_all: false,
            ignore_pending: true,
            record_prefregex_groups: false,
            reads_match_data: true,
            keeps_matched_lines: true,
            records_key_order: false,
            prefregex_groups: Vec::new(),
            recent: Recent::new(RECENT_BUFFERS),
            recent_all: false,
            later_matches: LaterMatches::default(),
            address_search: Groups::default(),
            recalled_abandoned: 0,
            spare_text: String::new(),
            spare_match: None,
            spares: Spares::new(FailData::with_layout(failure_data_layout)),
        })
    }

    /// Multi-line buffer size.
    pub fn maxlines(&self) -> usize {
        self.maxlines
    }

    /// Regex searches given up at the back-tracking step bound (each counted as no
    /// match): a sign of hostile lines or of a filter that back-tracks badly.
    pub fn abandoned_searches(&self) -> u64 {
        self.fail
            .iter()
            .chain(&self.ignore)
            .chain(&self.pref)
            .map(|rx| rx.pattern.abandoned())
            .sum::<u64>()
            + self.recalled_abandoned
    }

    /// The regexes that run on the back-tracking engine (bounded, so a hostile line
    /// may be given up), as `("failregex", index)`, `("ignoreregex", index)` or
    /// `("prefregex", 0)`.
    pub fn backtracking_regexes(&self) -> Vec<(&'static str, usize)> {
        let kinds = [("failregex", &self.fail), ("ignoreregex", &self.ignore)];
        let listed = kinds.into_iter().flat_map(|(kind, rxs)| {
            rxs.iter()
                .enumerate()
                .filter(|(_, rx)| rx.pattern.is_backtracking())
                .map(move |(i, _)| (kind, i))
        });
        let pref = self.pref.iter().filter(|rx| rx.pattern.is_backtracking());
        pref.map(|_| ("prefregex", 0)).chain(listed).collect()
    }

    /// The named groups of the prefregex's last match, in the order the prefregex
    /// defines them, each with its text (`None`: it took no part), as Fail2ban's
    /// `groupdict()`; recorded only with [`Filter::record_prefregex_groups`].
    pub fn prefregex_groups(&self) -> &[(String, Option<String>)] {
        &self.prefregex_groups
    }

    /// The date detector, for its statistics.
    pub fn date_detector(&self) -> &DateDetector {
        &self.detector
    }

    /// Literals a line must contain to produce a failure, when lines may be skipped
    /// before date detection (a single-line filter whose every failregex has a
    /// mandatory literal, with Fail2ban's own date templates). A caller that skips a
    /// line should pass the line just before the next one it processes to
    /// [`Filter::observe_date`], so that a line without a date borrows the right one.
    pub fn prefilter(&self) -> Option<&Prefilter> {
        self.prefilter.as_ref()
    }

    /// Build now what every line's search needs and would build on first use: the
    /// prefregex's automata (see [`Pattern::prepare`]; an anchored automaton's states
    /// are made as lines reach them), for a daemon that should not make its first
    /// lines wait on them. A failregex's are still built when a line
    /// first may match it (most of a filter's failregexes never match most logs:
    /// building all of them costs about 0.2 MB a jail), and the date templates when
    /// lines ask for them (which of the default ones a log uses only its lines tell).
    pub fn prepare(&self) {
        if let Some(pref) = &self.pref {
            pref.pattern.prepare();
        }
    }

    /// Take note of a line's date only (it was skipped by the prefilter).
    pub fn observe_date(&mut self, line: &str, now: i64) {
        self.read_date(line, now);
    }

    /// Process a line read from a file. `now` is the current time (epoch seconds).
    pub fn process_line(&mut self, line: &str, now: i64) -> LineResult {
        let mut result = LineResult::default();
        self.process_line_into(line, now, &mut result);
        result
    }

    /// [`Filter::process_line`] into `result` (the last line's, emptied first): a
    /// caller that processes many lines keeps one, and its vectors' allocations.
    pub fn process_line_into(&mut self, line: &str, now: i64, result: &mut LineResult) {
        self.recycle(result);
        let (line, date) = self.read_date(line, now);
        self.find_failure(line, None, date, result);
    }

    /// [`Filter::process_line_into`] for a line given with the `\n` that ends it in
    /// the caller's text (`ended` is the line and that `\n`): a single-line buffer is
    /// searched there, not copied, when the line's date begins it.
    pub fn process_ended_line_into(&mut self, ended: &str, now: i64, result: &mut LineResult) {
        let Some(line) = ended.strip_suffix('\n') else {
            return self.process_line_into(ended, now, result);
        };
        self.recycle(result);
        let (line, date) = self.read_date(line, now);
        // the searched text, the line without its date, is contiguous in `ended`
        let in_place = match (&line.text, line.date) {
            (LineText::Borrowed(_), (0, date_end)) => Some(&ended[date_end..]),
            (LineText::Borrowed(_), (start, end)) if start == end => Some(ended),
            _ => None,
        };
        self.find_failure(line, in_place, date, result);
    }

    /// Empty the last line's `result` for the next line. The data of its failures
    /// that nothing holds any more (not the multi-line cache, not the caller) is
    /// emptied and kept, with its allocations: a failure's data is an `Arc` around
    /// its groups' slots, and its matched lines a vector, three allocations a
    /// failure otherwise.
    fn recycle(&mut self, result: &mut LineResult) {
        for failure in result.failures.drain(..) {
            self.spares.recycle(failure.merged);
        }
        result.clear();
    }

    /// Process a line whose time is known already (a journal entry): no date is
    /// searched in it.
    pub fn process_dated_line(&mut self, line: &str, time: f64) -> LineResult {
        let line = BufLine {
            text: line.into(),
            date: (0, 0),
        };
        let mut result = LineResult::default();
        self.find_failure(line, None, Some(LineTime::float(time)), &mut result);
        result
    }

    /// Find the line's date (or borrow the last one), as Fail2ban's `processLine`:
    /// the line as it will be buffered, and its time.
    fn read_date<'a>(&mut self, line: &'a str, now: i64) -> (BufLine<'a>, Option<LineTime>) {
        let found = self.detector.find(line, now);
        // a date with a valid time: the common case, kept short
        if let Some((f, seconds)) = found
            .and_then(|f| Some((f, f.time?)))
            .filter(|(f, _)| f.start != f.end)
        {
            // most lines repeat the last line's date: its text is kept already
            if !f.repeats_last {
                self.last_time_text.clear();
                self.last_time_text.push_str(&line[f.start..f.end]);
            }
            let time = LineTime {
                seconds,
                is_int: f.time_is_int,
            };
            self.last_date = Some(time);
            let line = BufLine {
                text: line.into(),
                date: (f.start, f.end),
            };
            return (line, Some(time));
        }
        let nowf = now as f64;
        let recent_last = self.last_date.filter(|d| d.seconds > nowf - 60.0);
        let (span, date) = match found {
            // an empty date ({NONE}) with no recent one to borrow: the line is "now"
            Some(f) if f.start == f.end && recent_last.is_none() => {
                ((f.start, f.end), Some(LineTime::float(nowf)))
            }
            Some(f) => ((f.start, f.end), None),
            None => ((0, 0), None),
        };
        // Without a usable date the line borrows the last one seen within a minute, and
        // is then searched whole (its own unreadable date text included).
        let line = match (date, recent_last) {
            (None, Some(_)) => BufLine {
                text: format!("{}{}", self.last_time_text, line).into(),
                date: (0, self.last_time_text.len()),
            },
            _ => BufLine {
                text: line.into(),
                date: span,
            },
        };
        (line, date.or(recent_last))
    }

    /// Indexes of the ignoreregexes matching `buf` (all are tried with `check_all`,
    /// else the first that matches ends the search).
    fn ignored(&self, buf: &str) -> Vec<usize> {
        let mut found = Vec::new();
        for (i, rx) in self.ignore.iter().enumerate() {
            if rx.pattern.search(buf).is_some() {
                found.push(i);
                if !self.check_all {
                    break;
                }
            }
        }
        found
    }

    /// The failures of the buffer with `line` added, into `result` (empty);
    /// `in_place` is the text a single-line buffer of it would join, where the
    /// caller holds it already.
    fn find_failure(
        &mut self,
        line: BufLine<'_>,
        in_place: Option<&str>,
        date: Option<LineTime>,
        result: &mut LineResult,
    ) {
        if self.maxlines == 1 {
            // what a single-line buffer leaves behind is never searched again
            let mut replaced = None;
            self.match_buffer(&[line], in_place, &mut replaced, date, result);
            result.prefregex_matched = self.pref_matched;
            return;
        }
        let before = self.buffer.clone();
        self.buffer.push(line.kept());
        let excess = self.buffer.len().saturating_sub(self.maxlines);
        self.buffer.drain(..excess);
        let lines = std::mem::take(&mut self.buffer);
        let mut replaced = None;
        self.match_buffer(&lines, None, &mut replaced, date, result);
        self.buffer = lines;
        if let Some(kept) = replaced {
            // into the buffer's own allocation, which the next line reuses
            self.buffer.clear();
            self.buffer.extend(kept);
        }
        result.prefregex_matched = self.pref_matched;
        // The earlier lines (but one the buffer was full with, which drops out
        // anyway) that a match took: Fail2ban's tester counts them as matched.
        let full = usize::from(before.len() >= self.maxlines);
        result.absorbed = before
            .into_iter()
            .skip(full)
            .filter(|l| !self.buffer.contains(l))
            .map(|l| l.text.to_string())
            .collect();
    }

    /// Fail2ban's `findFailure` over the buffered `lines`; `replaced` receives what
    /// stays buffered when that is not `lines` (the prefregex content, or the lines a
    /// failregex did not consume). `in_place` is their joined text, where the caller
    /// holds it already (a single line followed by its `\n`).
    fn match_buffer(
        &mut self,
        lines: &[BufLine<'_>],
        in_place: Option<&str>,
        replaced: &mut Option<Vec<BufLine<'static>>>,
        date: Option<LineTime>,
        result: &mut LineResult,
    ) {
        let text = match in_place {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(join_buffer_into(
                std::mem::take(&mut self.spare_text),
                lines,
            )),
        };
        debug_assert_eq!(*text, join_buffer(lines), "not the buffer's text");
        let mut buf = Some(text);
        let mut scratch = self.spare_match.take().unwrap_or_default();
        self.search_buffer(lines, replaced, date, &mut buf, &mut scratch, result);
        if let Some(text) = buf.and_then(spare_of) {
            self.spare_text = text;
        }
        self.spare_match = Some(scratch);
    }

    /// [`Filter::match_buffer`] with the buffer's text joined in `buf` (the text
    /// being searched, `None` when it must be joined again from what stays buffered).
    fn search_buffer(
        &mut self,
        lines: &[BufLine<'_>],
        replaced: &mut Option<Vec<BufLine<'static>>>,
        date: Option<LineTime>,
        buf: &mut Option<SearchText<'_>>,
        scratch: &mut MatchScratch,
        result: &mut LineResult,
    ) {
        let MatchScratch {
            pre_groups,
            pref_groups,
            groups,
        } = scratch;
        if !self.ignore.is_empty() && self.ignore.len() + 2 < self.fail.len() {
            result.ignored_by = self.ignored(buf.as_deref().unwrap_or(""));
            if !result.ignored_by.is_empty() {
                return;
            }
        }

        pre_groups.clear();
        // The prefregex's match, read at the first failure (most lines have none),
        // and where in the text the failregexes search.
        let mut pref_match = None;
        let mut content_at = 0;
        if let Some(pref) = &self.pref {
            let b = buf.as_deref().unwrap_or("");
            let found = pref
                .pattern
                .search_remembering(b, &mut self.head_walks, pref_groups);
            self.pref_matched = found;
            if !found {
                return;
            }
            let g = &*pref_groups;
            if self.record_prefregex_groups {
                self.prefregex_groups = named_groups(&pref.pattern, b, g);
            }
            let content = self.pref_content.and_then(|i| g.get(i));
            match content.filter(|(start, end)| end > start) {
                // One line per buffer, its content up to the line's end (the usual
                // prefregex): searched in place, where nothing needs to keep it.
                Some((start, end)) if self.maxlines == 1 && b.len() == end + 1 => {
                    content_at = start;
                    pref_match = Some(g);
                }
                Some((start, end)) => {
                    pref.groups_into(b, g, pre_groups);
                    if self.maxlines > 1 {
                        *replaced = Some(vec![BufLine {
                            text: LineText::Shared(b[start..end].into()),
                            date: (0, 0),
                        }]);
                        *buf = None;
                    } else if let Some(text) = buf {
                        // The content is what is searched from now on: cut in place.
                        cut_search_text(text, start, end, &mut self.spare_text);
                    }
                }
                None => pref_match = Some(g),
            }
        }

        // The multi-line id's span, where the first failregex to match may end the
        // connection unsearched (see `Filter::forgets_unsearched`).
        let ending_mlfid = match (&pref_match, self.pref_mlfid) {
            (Some(g), Some(i)) if self.forgets_early() => g.get(i),
            _ => None,
        };
        // Which failregexes may match the buffer being searched (recomputed when it
        // changes); `None` before the first search or when any may.
        let mut possible = None;
        let mut from = 0;
        while from < self.fail.len() {
            let b = match buf.take() {
                Some(b) => b,
                None => {
                    possible = None;
                    content_at = 0;
                    Cow::Owned(join_buffer(replaced.as_deref().unwrap_or(lines)))
                }
            };
            let text = &b[content_at..];
            let mut fail = std::mem::take(&mut self.spares.fail);
            let mlfid = ending_mlfid
                .filter(|_| from == 0)
                .and_then(|(start, end)| b.get(start..end));
            let found =
                self.next_failregex_match(text, from, &mut possible, groups, &mut fail, mlfid);
            let fi = match found {
                NextMatch::Found(fi) => fi,
                other => {
                    // A close found unread is dropped where failures that are none are.
                    if let NextMatch::ClosedUnread(closed) = other {
                        let reported = closed.is_failure || self.check_all;
                        result.closed_unread = Some(closed).filter(|_| reported);
                    }
                    self.spares.fail = fail;
                    *buf = Some(b);
                    break;
                }
            };
            // the match's groups, when a multi-line buffer is split by them (a
            // single-line buffer's may be read where they are remembered)
            let g = &*groups;
            from = fi + 1;
            if self.ignore.is_empty()
                && self.counts_failures_unread()
                && self.fail[fi].counted_slots.is_some()
                && counts_as_failure(&fail)
            {
                // A failure whatever its connection holds, whose data nothing reads:
                // counted, and merged as far as later merges read (the prefregex
                // gives such a failure nothing but the multi-line id).
                let mlfid = self.pref_mlfid.and_then(|i| match &pref_match {
                    Some(pg) => pg.get(i).and_then(|(start, end)| b.get(start..end)),
                    None => pre_groups.text(&NAMES.mlfid),
                });
                match mlfid {
                    Some(mlfid) => {
                        merge::count_failure(&mut self.mlfid_cache, &mut self.spares, mlfid, fail)
                    }
                    None => self.spares.fail = fail,
                }
                result.failures_unread.push(fi);
                self.searched(b, buf, replaced, Vec::new());
                if !self.check_all {
                    break;
                }
                continue;
            }
            if let Some(pref) = &self.pref {
                match &pref_match {
                    // A single-line buffer stays as it is while its failregexes are
                    // tried: its prefregex groups are read into each failure's data.
                    Some(pg) if self.maxlines == 1 && pref.alternates.is_empty() => {
                        pref.add_missing_groups(&b, pg, &mut fail);
                    }
                    Some(pg) => {
                        pref.groups_into(&b, pg, pre_groups);
                        pref_match = None;
                        fail.add_missing(pre_groups);
                    }
                    None => fail.add_missing(pre_groups),
                }
            }
            let (matched_lines, unmatched) = split_matched(text, g, &self.fail[fi], lines);
            if !self.ignore.is_empty() {
                // Over a multi-line buffer only the lines the failregex matched count.
                let ignored = if self.maxlines > 1 {
                    self.ignored(&join_buffer(&matched_lines))
                } else {
                    self.ignored(text)
                };
                if !ignored.is_empty() {
                    result.ignored_by.extend(ignored);
                    self.searched(b, buf, replaced, unmatched);
                    if !self.check_all {
                        break;
                    }
                    continue;
                }
            }
            self.searched(b, buf, replaced, unmatched);
            let kept: &[BufLine<'_>] = if self.keeps_matched_lines {
                &matched_lines
            } else {
                &[]
            };
            let matched_text = kept.iter().map(|l| l.text.share());
            let mlfid = fail.text_owned(&NAMES.mlfid);
            let order = match self.records_key_order {
                true => self.key_order(fi, &fail),
                false => KeyOrder::default(),
            };
            let mut merged = match &mlfid {
                Some(mlfid) => {
                    let cache = &mut self.mlfid_cache;
                    if !self.check_all
                        && merge::forgets_as_no_failure(cache, &mut self.spares, mlfid, &fail)
                    {
                        // its allocation serves the next match's data
                        self.spares.fail = fail;
                        return;
                    }
                    let merged =
                        merge::merge(cache, &mut self.spares, mlfid, fail, order, matched_text);
                    if merged.is_nofail() && !self.check_all {
                        return;
                    }
                    merged
                }
                None => merge::single(&mut self.spares, fail, order, matched_text),
            };
            let text = |m: &Merged, k: &Interned| m.group_text_owned(k);
            let fid = text(&merged, &NAMES.fid);
            let address = text(&merged, &NAMES.ip4).or_else(|| text(&merged, &NAMES.ip6));
            // As Fail2ban: an address with another failure id is that id's, the address
            // kept in the data as `ip` (of the dict its multi-line cache shares); a host
            // name's addresses are its ids whatever the failure id (it is resolved
            // later, as a host name alone is); else the failure id, or none yet.
            let id = match (fid, address) {
                (Some(fid), Some(address)) if fid != address => {
                    let address = Value::Text(Some(address));
                    let cache = &mut self.mlfid_cache;
                    merge::set_shared(cache, mlfid.as_deref(), &mut merged, &NAMES.ip, address);
                    Some(fid)
                }
                (_, Some(address)) => Some(address),
                (fid, None) => text(&merged, &NAMES.dns).or(fid),
            };
            let Some(id) = id else {
                // Pending: only the cached entry (shared with this failure) lives on.
                drop(merged);
                if let Some(mlfid) = &mlfid {
                    merge::note_pending(&mut self.mlfid_cache, mlfid);
                }
                if !self.check_all && self.ignore_pending {
                    return;
                }
                result.pending.push(PendingMatch {
                    regex_index: fi,
                    time: date.map(|d| d.seconds),
                });
                if !self.check_all {
                    break;
                }
                continue;
            };
            result.failures.push(Failure {
                regex_index: fi,
                id,
                time: date.map(|d| d.seconds),
                time_is_int: date.is_some_and(|d| d.is_int),
                merged,
            });
            if !self.check_all {
                break;
            }
        }
    }

    /// The order Fail2ban's dict of failregex `fi`'s match holds the names of its
    /// data `fail` in, before any merge: the prefregex's groups, then the failregex's
    /// (each regex's in the order Python numbers them, then the names its `F-ALT_`
    /// groups set).
    #[cold]
    fn key_order(&self, fi: usize, fail: &FailData) -> KeyOrder {
        let regexes = self.pref.iter().chain(self.fail.get(fi));
        let names = regexes.flat_map(Rx::keys_as_set);
        KeyOrder::of(names.filter(|k| fail.get(k).is_some()))
    }

    /// After a failregex matched the buffer `b`: it is the buffer the next
    /// failregexes search (`check_all`, one line), or the lines the match did not
    /// take (`unmatched`) are, and `b`'s allocation serves the next line.
    fn searched<'b>(
        &mut self,
        b: SearchText<'b>,
        buf: &mut Option<SearchText<'b>>,
        replaced: &mut Option<Vec<BufLine<'static>>>,
        unmatched: Vec<BufLine<'static>>,
    ) {
        if !self.check_all || self.maxlines > 1 {
            *replaced = Some(unmatched);
            *buf = None;
            self.keep_spare(b);
        } else {
            *buf = Some(b);
        }
    }

    /// Keep a searched text's allocation for the next line's.
    fn keep_spare(&mut self, text: SearchText<'_>) {
        if let Some(text) = spare_of(text) {
            self.spare_text = text;
        }
    }

    /// The first failregex from index `from` on that matches `buf`; its match's data
    /// goes to `fail`, and over a multi-line buffer (which is split by them) its
    /// groups to `groups`. A single-line buffer seen recently is answered from
    /// [`Recent`], its data read where the match is remembered: it stays the same
    /// while its failregexes are tried, so all that match it (or, when the search
    /// stops at the first, that one) are found and remembered at once.
    ///
    /// `ending_mlfid`: the buffer's multi-line id, where a match that ends the
    /// connection as no failure may be found without its data (see
    /// [`Filter::forgets_unsearched`]).
    fn next_failregex_match(
        &mut self,
        buf: &str,
        from: usize,
        possible: &mut Option<Possible>,
        groups: &mut Groups,
        fail: &mut FailData,
        ending_mlfid: Option<&str>,
    ) -> NextMatch {
        if self.maxlines > 1 {
            let Some(fi) = self.search_failregexes(buf, from, possible, groups) else {
                return NextMatch::Nothing;
            };
            let data = FailureData {
                fail: &self.fail,
                text: buf,
                counts_only: false,
            };
            data.read(fi, groups, fail);
            return NextMatch::Found(fi);
        }
        let data = FailureData {
            fail: &self.fail,
            text: buf,
            counts_only: self.counts_failures_unread(),
        };
        if from > 0 {
            // the same buffer: its first look-up kept what it found after `from - 1`
            let Some((fi, g)) = self.later_matches.first_from(from) else {
                return NextMatch::Nothing;
            };
            data.read(*fi, g, fail);
            return NextMatch::Found(*fi);
        }
        let all = self.check_all;
        if self.recent_all != all {
            self.recent.clear();
            self.recent_all = all;
        }
        let later = &mut self.later_matches;
        let miss = match self
            .recent
            .with(buf.as_bytes(), |searched| searched.read(&data, fail, later))
        {
            Ok((found, abandoned)) => {
                // counted once per line, as if searched (from the first failregex on)
                self.recalled_abandoned += abandoned;
                return found.into();
            }
            Err(miss) => miss,
        };
        if let Some(mlfid) = ending_mlfid {
            if let Some(fi) = self.forgets_unsearched(buf, possible, mlfid) {
                return NextMatch::ClosedUnread(fi);
            }
        }
        let counts = self.fail_may_give_up;
        let abandoned_before = if counts {
            self.failregexes_abandoned()
        } else {
            0
        };
        let mut searched = Searched::default();
        let mut next = 0;
        let mut groups = Groups::default();
        while let Some(fi) = self.search_failregexes(buf, next, possible, &mut groups) {
            next = fi + 1;
            searched.matches.push((fi, std::mem::take(&mut groups)));
            if !all {
                break;
            }
        }
        if counts {
            searched.abandoned = self.failregexes_abandoned() - abandoned_before;
        }
        let data = FailureData {
            fail: &self.fail,
            text: buf,
            counts_only: self.counts_failures_unread(),
        };
        let (found, _) = searched.read(&data, fail, &mut self.later_matches);
        self.recent.insert(miss, buf.as_bytes(), searched);
        found.into()
    }

    /// Whether failures may be counted without their data (see
    /// [`LineResult::failures_unread`]): the caller reads no match data, keeps no
    /// matched lines and drops no pending failure, on single lines.
    fn counts_failures_unread(&self) -> bool {
        let reads = self.reads_match_data || self.keeps_matched_lines || self.records_key_order;
        !reads && !self.ignore_pending && self.maxlines == 1
    }

    /// Whether lines whose first matching failregex ends the connection may be
    /// decided without its groups: where a failure that is no failure is dropped
    /// (not `check_all`) or the data of matches is not read, on single lines with no
    /// ignoreregex to try first.
    fn forgets_early(&self) -> bool {
        let unread = !self.check_all || !self.reads_match_data;
        unread && self.maxlines == 1 && self.ignore.is_empty() && !self.endings.is_empty()
    }

    /// The first failregex that may match `buf` (of the multi-line id `mlfid`), if it
    /// ends the connection (an [`Ending`]), matches, and is decided without the
    /// match's groups, and the id forgotten as its merge would forget it:
    ///
    /// - as no failure, where it leaves nothing behind when merged, decided as
    ///   `merge::forgets_as_no_failure` decides: its user is read only where the
    ///   id's entry makes it count, and then by the search;
    /// - as a failure, for a caller that reads no match data and drops no pending
    ///   failure: the merge gives a failure (or a pending one) whatever the id holds.
    ///
    /// The search would find that failregex first (the earlier ones cannot match), and
    /// with `check_all` only that one (no later one may match, as far as the other
    /// candidates' ends tell); the merge would give a
    /// `<F-NOFAIL>` failure, which the daemon drops and a caller that reads no such data
    /// only counts, or a failure that such a caller only counts: the line's result is
    /// the same.
    fn forgets_unsearched(
        &mut self,
        buf: &str,
        possible: &mut Option<Possible>,
        mlfid: &str,
    ) -> Option<ClosedUnread> {
        if possible.is_none() {
            *possible = self.candidates.as_mut().and_then(|c| c.possible(buf));
        }
        let mut may_match = possible.as_ref()?.iter();
        let fi = may_match.next()?;
        let ending = (*self.endings.get(fi)?)?;
        if ending.is_failure && (self.reads_match_data || self.ignore_pending) {
            return None;
        }
        // with `check_all`, no later failregex may match (sshd's closes with and
        // without `[preauth]` share their head; their ends tell them apart)
        let candidates = self.candidates.as_ref();
        let later_may_match = |later| candidates.is_none_or(|c| c.tail_may_match(later, buf, true));
        if self.check_all && may_match.any(later_may_match) {
            return None;
        }
        // Where Fail2ban turns a failure's host name into addresses (or into none
        // where it does not resolve): for every failregex tried, and for a failure.
        // There a match that may name a host is decided unread where its id is an
        // address: its connection's, which the merge keeps whatever the match names,
        // or else its own, which two automata show or a search with groups tells.
        let needs_address = self.check_all || ending.is_failure;
        let address_groups = ending.address_groups.filter(|_| needs_address);
        let (rx, groups) = (&mut self.fail[fi], &mut self.address_search);
        // A match the candidates do not name exactly is confirmed; where it may have
        // to be shown to name an address, the automata that show it show that it
        // matches as well, at the confirmation's cost, so they are asked first.
        let mut shown = None;
        if !ending.named_exactly {
            shown = address_groups.map(|_| rx.shows_address(buf));
            if shown != Some(true) && rx.pattern.is_match(buf) != Some(true) {
                return None;
            }
        }
        let closed = ClosedUnread {
            regex_index: fi,
            is_failure: ending.is_failure,
        };
        let (cache, spares) = (&mut self.mlfid_cache, &mut self.spares);
        let names_address = || {
            address_groups.is_none_or(|a| {
                shown.unwrap_or_else(|| rx.shows_address(buf)) || rx.names_address(buf, a, groups)
            })
        };
        if ending.is_failure {
            return merge::forget(cache, spares, mlfid, names_address).then_some(closed);
        }
        let user = if ending.names_user { None } else { Some(None) };
        let forgotten =
            merge::forgets_ending(cache, spares, mlfid, ending.gained, user, names_address);
        (forgotten == Some(true)).then_some(closed)
    }

    /// Searches of the failregexes given up at the step bound so far.
    fn failregexes_abandoned(&self) -> u64 {
        self.fail.iter().map(|rx| rx.pattern.abandoned()).sum()
    }

    /// Search `buf` with the failregexes from index `from` on, in order, for the first
    /// that matches, its groups into `groups`; `possible` holds (or receives) which may
    /// match it at all.
    fn search_failregexes(
        &mut self,
        buf: &str,
        from: usize,
        possible: &mut Option<Possible>,
        groups: &mut Groups,
    ) -> Option<usize> {
        if possible.is_none() {
            // a buffer without the failregexes' literals: none can match
            if from == 0
                && self
                    .buffer_gate
                    .as_ref()
                    .is_some_and(|g| !g.may_match(buf.as_bytes()))
            {
                return None;
            }
            *possible = self.candidates.as_mut().and_then(|c| c.possible(buf));
        }
        let failregexes = self.fail.len();
        let mut matches = |fi: &usize| {
            self.fail
                .get_mut(*fi)
                .is_some_and(|rx| rx.pattern.search_leased(buf, groups, &mut rx.lease))
        };
        let Some(possible) = possible else {
            return (from..failregexes).find(matches);
        };
        // Once the buffer was searched (a failregex before `from` matched, or one
        // here did not), a candidate is first asked whether its end can match.
        let mut searched = from > 0;
        let candidates = self.candidates.as_ref();
        let one_line = self.maxlines == 1;
        possible.iter_from(from).find(|fi| {
            if searched && candidates.is_some_and(|c| !c.tail_may_match(*fi, buf, one_line)) {
                return false;
            }
            searched = true;
            matches(fi)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(failregex: &[&str], datepattern: Option<&str>, maxlines: Option<&str>) -> Filter {
        let def = FilterDefinition {
            failregex: failregex.iter().map(|s| s.to_string()).collect(),
            datepattern: datepattern.map(str::to_string),
            maxlines: maxlines.map(str::to_string),
            ..Default::default()
        };
        Filter::new(&def, None, TimeZone::UTC, 2026).unwrap()
    }

    /// Each way the prefregex hands the failregexes their text: its content searched
    /// where it is (up to the line's end), cut out (ending before it), or the whole
    /// line (no content group); its own groups reach the failure in each.
    #[test]
    fn prefregex_content_in_place_cut_or_whole_line() {
        let line = "2027-01-15 07:59:30 web sshd[12]: auth failed for root from 192.0.2.1 port 22";
        let cases = [
            r"^\s*(?P<daemonhost>\S+) sshd\[\d+\]: <F-CONTENT>.+</F-CONTENT>$",
            r"^\s*(?P<daemonhost>\S+) sshd\[\d+\]: <F-CONTENT>.+ from \S+</F-CONTENT> port \d+$",
            r"^\s*(?P<daemonhost>\S+) sshd\[\d+\]: ",
        ];
        for (i, pref) in cases.iter().enumerate() {
            // anchored at the content's start: a whole-line search would not match
            let failregex = match i {
                2 => r"auth failed for (?P<user>\S+) from <HOST>",
                _ => r"^auth failed for (?P<user>\S+) from <HOST>",
            };
            let def = FilterDefinition {
                failregex: vec![failregex.to_string()],
                prefregex: Some(pref.to_string()),
                ..Default::default()
            };
            let mut f = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
            for check_all in [false, true] {
                f.check_all = check_all;
                // twice: searched, then answered from the recent texts
                for _ in 0..2 {
                    let r = f.process_line(line, 1_800_000_000);
                    assert_eq!(r.failures.len(), 1, "prefregex {pref}");
                    let failure = &r.failures[0];
                    assert_eq!(&*failure.id, "192.0.2.1");
                    assert_eq!(failure.field("user"), Some("root"));
                    assert_eq!(failure.field("daemonhost"), Some("web"), "prefregex {pref}");
                }
            }
        }
    }

    #[test]
    fn a_failure_made_in_an_earlier_ones_data_carries_nothing_of_it() {
        let now = 1_800_000_000;
        let def = FilterDefinition {
            failregex: vec![
                r"^auth failed for (?P<user>\S+) from <HOST>$".to_string(),
                r"^scan from <HOST>$".to_string(),
            ],
            ..Default::default()
        };
        let mut filter = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
        let mut reused = LineResult::default();
        let lines = [
            "auth failed for bob from 192.0.2.1",
            "scan from 192.0.2.2",
            "scan from 192.0.2.3",
            "auth failed for eve from 192.0.2.4",
        ];
        let seen = |r: &LineResult| -> Vec<(String, Option<String>, Vec<String>)> {
            let f = |x: &Failure| {
                let matches = x.matches().iter().map(|l| l.to_string()).collect();
                (
                    x.id.to_string(),
                    x.field("user").map(str::to_string),
                    matches,
                )
            };
            r.failures.iter().map(f).collect()
        };
        for line in lines.iter().chain(&lines) {
            filter.process_line_into(line, now, &mut reused);
            let fresh = Filter::new(&def, None, TimeZone::UTC, 2026)
                .unwrap()
                .process_line(line, now);
            assert_eq!(seen(&reused), seen(&fresh), "{line}");
            assert_eq!(
                reused.failures[0].data().iter().count(),
                fresh.failures[0].data().iter().count()
            );
        }
    }

    /// A line given with its `\n` (searched where it is when its date begins it or
    /// it has none, else joined) gets the failures the line alone gets: wherever its
    /// date is, with each way the prefregex hands on its text, and with a `$` that
    /// sees the `\n`.
    #[test]
    fn a_line_with_its_newline_gets_the_failures_of_the_line_alone() {
        let now = 1_800_000_000;
        let prefregexes = [
            None,
            Some(r"^\s*(?P<daemonhost>\S+) sshd\[\d+\]: <F-CONTENT>.+</F-CONTENT>$"),
            Some(
                r"^\s*(?P<daemonhost>\S+) sshd\[\d+\]: <F-CONTENT>.+ from \S+</F-CONTENT> port \d+$",
            ),
        ];
        let lines = [
            "2027-01-15 07:59:30 web sshd[12]: auth failed for root from 192.0.2.1 port 22",
            "web sshd[12]: auth failed for bob from 192.0.2.2 port 22 2027-01-15 07:59:31",
            "web sshd[12]: auth failed for eve from 192.0.2.3 port 22",
            "2027-01-15 07:59:32 web sshd[12]: auth failed for root from 192.0.2.4 port 22 ",
        ];
        let failures = |r: &LineResult| -> Vec<(usize, String, Option<f64>, Vec<String>)> {
            r.failures
                .iter()
                .map(|x| {
                    let fields = ["user", "daemonhost"].map(|n| x.field(n).unwrap_or("-"));
                    let matches = x.matches().iter().map(|l| l.to_string());
                    let seen = fields.iter().map(|s| s.to_string()).chain(matches);
                    (x.regex_index, x.id.to_string(), x.time, seen.collect())
                })
                .collect()
        };
        for pref in prefregexes {
            let def = FilterDefinition {
                failregex: vec![
                    r"auth failed for (?P<user>\S+) from <HOST>( port \d+)?$".to_string(),
                    r"auth failed for root from <HOST>".to_string(),
                ],
                prefregex: pref.map(str::to_string),
                ..Default::default()
            };
            let new = || Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
            let (mut alone, mut ended) = (new(), new());
            let (mut r_alone, mut r_ended) = (LineResult::default(), LineResult::default());
            let mut found = 0;
            // twice: searched, then answered from the recent texts
            for line in lines.iter().chain(&lines) {
                alone.process_line_into(line, now, &mut r_alone);
                ended.process_ended_line_into(&format!("{line}\n"), now, &mut r_ended);
                assert_eq!(failures(&r_alone), failures(&r_ended), "{pref:?}: {line}");
                found += r_alone.failures.len();
            }
            assert!(found >= 4, "{pref:?}: {found} failures");
            // without its `\n`, a line is taken as it is
            ended.process_ended_line_into(lines[0], now, &mut r_ended);
            alone.process_line_into(lines[0], now, &mut r_alone);
            assert_eq!(failures(&r_alone), failures(&r_ended));
        }
    }

    #[test]
    fn prefilter_only_where_skipping_is_safe() {
        let lits = |f: &Filter| f.prefilter().map(|p| p.literals().collect::<Vec<_>>());
        let auth = r"^auth failed for \S+ from <HOST>$";
        assert_eq!(
            lits(&filter(&[auth], None, None)),
            Some(vec!["failed".to_string()])
        );
        // a multi-line buffer needs every line
        assert_eq!(lits(&filter(&[auth], None, Some("2"))), None);
        // a custom date pattern might join words when it is cut out
        assert_eq!(lits(&filter(&[auth], Some("%Y%m%d"), None)), None);
        // Fail2ban's own templates, or none at all, are fine
        assert!(lits(&filter(&[auth], Some("{^LN-BEG}"), None)).is_some());
        assert!(lits(&filter(&[auth], Some("{NONE}"), None)).is_some());
        // a failregex without a mandatory literal
        assert_eq!(lits(&filter(&[auth, r"^\S+ <HOST>$"], None, None)), None);
    }

    #[test]
    fn a_multi_line_buffer_is_searched_only_with_the_failregexes_literals() {
        let now = 1_800_000_000; // 2027-01-15
        let slapd_like = r"^\s*conn=\d+ ACCEPT from <HOST><SKIPLINES>\s*conn=\d+ RESULT err=49$";
        let mut f = filter(&[slapd_like], None, Some("5"));
        let gate = |f: &Filter| {
            f.buffer_gate
                .as_ref()
                .map(|g| g.literals().collect::<Vec<_>>())
        };
        assert_eq!(gate(&f), Some(vec!["RESULT".to_string()]));
        // past the gate's sample of 512 buffers, which held no ACCEPT and no RESULT
        for i in 0..600 {
            let r = f.process_line(&format!("2027-01-15 07:59:30 cron[{i}]: job done"), now);
            assert!(r.failures.is_empty());
        }
        f.process_line("2027-01-15 07:59:31 conn=7 ACCEPT from 192.0.2.9", now);
        f.process_line("2027-01-15 07:59:31 conn=7 BIND dn=x", now);
        let r = f.process_line("2027-01-15 07:59:32 conn=7 RESULT err=49", now);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(&*r.failures[0].id, "192.0.2.9");
    }

    #[test]
    fn dateless_line_borrows_the_date_of_a_skipped_line() {
        let now = 1_800_000_000; // 2027-01-15
        let mut f = filter(&[r"^  auth failed from <HOST>$"], None, None);
        let dated = "2027-01-15 07:59:30 server: something else";
        let dateless = "  auth failed from 192.0.2.1";
        assert!(!f.prefilter().unwrap().may_match(dated.as_bytes()));
        f.observe_date(dated, now);
        let r = f.process_line(dateless, now);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].time, Some(1_799_999_970.0));
    }

    /// A dateless line borrows the text of the last date read, whichever shortcut
    /// read it: a repeat of the line before (its text kept) or a step to the next
    /// second (its text copied).
    #[test]
    fn dateless_line_borrows_the_last_date_text_after_repeats_and_steps() {
        let now = 1_800_000_000; // 2027-01-15
        let mut f = filter(&[r"^  auth failed from <HOST>$"], None, None);
        let dateless = "  auth failed from 192.0.2.1";
        // syslog's dates, whose digits the template reads alike (steps apply)
        let dated = |second: u32| format!("Jan 15 07:59:{second} server: something else");
        for first in [30, 45, 57] {
            // searched (after the dateless line), repeated, stepped, repeated
            for second in [first, first, first + 1, first + 1] {
                f.observe_date(&dated(second), now);
            }
            let r = f.process_line(dateless, now);
            assert_eq!(r.failures.len(), 1);
            let failure = &r.failures[0];
            let second = first + 1;
            assert_eq!(failure.time, Some(1_799_999_940.0 + f64::from(second)));
            let text = format!("Jan 15 07:59:{second}");
            assert!(
                failure.matches()[0].starts_with(&text),
                "{:?}",
                failure.matches()
            );
        }
    }

    /// The daemon's way (stop at the first match, drop what is no failure) skips
    /// the merge of a connection-closing line that stays no failure; it must count
    /// exactly what the full merge counts, here taken from fail2ban-regex's way
    /// (every failure reported) over failregexes that never match the same line.
    #[test]
    fn a_forgetting_no_failure_counts_as_the_full_merge_does() {
        let def = connection_filter(&[
            r"^Failed password for <F-USER>\S+</F-USER> from <HOST>$",
            r"^<F-NOFAIL><F-MLFFORGET>Closed</F-MLFFORGET></F-NOFAIL> by(?: user <F-USER>\S+</F-USER>)? <HOST>$",
            r"^<F-MLFFORGET><F-MLFGAINED>Accepted</F-MLFGAINED></F-MLFFORGET> for <F-USER>\S+</F-USER> from <HOST>$",
            r"^Too many failures$",
            r"^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>$",
            r"^<F-NOFAIL><F-MLFFORGET>Disconnected</F-MLFFORGET></F-NOFAIL> from .*? <HOST>$",
        ]);
        let lines = [
            // closed with nothing before it, then after one user's failure
            "s[1]: Closed by 192.0.2.1",
            "s[2]: Failed password for root from 192.0.2.2",
            "s[2]: Closed by user root 192.0.2.2",
            // a second user makes the close a failure
            "s[3]: Failed password for root from 192.0.2.3",
            "s[3]: Closed by user admin 192.0.2.3",
            // a pending failure (no address yet) makes it one, unless a login clears it
            "s[4]: Too many failures",
            "s[4]: Closed by 192.0.2.4",
            "s[5]: Too many failures",
            "s[5]: Accepted for bob from 192.0.2.5",
            // an address lent by an earlier line: a failure, the close is none
            "s[7]: Connection from 192.0.2.7",
            "s[7]: Too many failures",
            "s[7]: Closed by 192.0.2.7",
            // a login after two users' failures counts; the id is forgotten after
            "s[6]: Failed password for root from 192.0.2.6",
            "s[6]: Failed password for admin from 192.0.2.6",
            "s[6]: Accepted for bob from 192.0.2.6",
            "s[6]: Closed by 192.0.2.6",
            "s[6]: Failed password for carol from 192.0.2.6",
            "s[6]: Closed by user dave 192.0.2.6",
            // a close by a failregex cut before its `.*?` (confirmed by a search), with
            // and without a failure before it, and one that only its cut part matches
            "s[8]: Failed password for root from 192.0.2.8",
            "s[8]: Disconnected from port 22 192.0.2.8",
            "s[9]: Disconnected from port 22 192.0.2.9",
            "s[9]: Disconnected from nowhere",
            "s[9]: Failed password for root from 192.0.2.9",
            // a close naming a user, of an id whose entry names none: decided unread
            "s[10]: Connection from 192.0.2.10",
            "s[10]: Closed by user bob 192.0.2.10",
        ];
        // The closing lines' regexes are decided without their groups in the daemon's
        // way; the others are not closing lines.
        let endings = Filter::new(&def, None, TimeZone::UTC, 2026)
            .unwrap()
            .endings;
        let ending = |e: &Option<Ending>| e.map(|e| (e.gained, e.names_user, e.named_exactly));
        let endings: Vec<_> = endings.iter().map(ending).collect();
        let closed = Some((false, true, true));
        let accepted = Some((true, true, true));
        let disconnected = Some((false, false, false));
        assert_eq!(endings, [None, closed, accepted, None, None, disconnected]);
        let counted = |check_all: bool| {
            let mut f = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
            f.check_all = check_all;
            let mut found = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                let r = f.process_line(&format!("2026-01-15 07:59:{i:02} {line}"), 1_800_000_000);
                for x in r.failures.iter().filter(|x| !x.is_nofail()) {
                    found.push((i, x.id.to_string(), x.matches().len()));
                }
            }
            found
        };
        let daemon = counted(false);
        assert_eq!(daemon, counted(true));
        // fail2ban-regex's summary, which reads no data of no-failure matches, sees
        // each line as the full merge leaves it; some closes are found unread
        let (summary, unread, _) = summary_view(&def, &lines, false);
        assert_eq!(
            summary_counts(summary),
            summary_counts(summary_view(&def, &lines, true).0)
        );
        assert!(unread >= 3, "{unread} closes found unread");
        let lines_counted: Vec<usize> = daemon.iter().map(|x| x.0).collect();
        assert_eq!(lines_counted, [1, 3, 4, 6, 10, 12, 13, 14, 16, 17, 18, 22]);
    }

    /// A filter that keeps no matched lines (the tester's summary) finds the same
    /// failures, with the same data, each without its lines.
    #[test]
    fn failures_without_their_lines_are_the_same_failures() {
        let def = connection_filter(&[
            r"^Failed password for <F-USER>\S+</F-USER> from <HOST>$",
            r"^<F-NOFAIL><F-MLFFORGET>Closed</F-MLFFORGET></F-NOFAIL> by <HOST>$",
        ]);
        let lines = [
            "s[1]: Failed password for root from 192.0.2.1",
            "s[1]: Failed password for admin from 192.0.2.1",
            "s[1]: Closed by 192.0.2.1",
            "s[2]: Failed password for bob from 192.0.2.2",
        ];
        let found = |keeps_matched_lines: bool| {
            let mut f = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
            f.check_all = true;
            f.keeps_matched_lines = keeps_matched_lines;
            let mut found = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                let r = f.process_line(&format!("2026-01-15 07:59:{i:02} {line}"), 1_800_000_000);
                for x in &r.failures {
                    let data = x.data();
                    let data = data.iter().filter(|(k, _)| &***k != "matches");
                    let data: Vec<String> = data.map(|(k, v)| format!("{k}={v:?}")).collect();
                    found.push((
                        (i, x.id.to_string(), x.is_nofail(), data),
                        x.matches().len(),
                    ));
                }
            }
            found
        };
        let (kept, kept_lines): (Vec<_>, Vec<_>) = found(true).into_iter().unzip();
        let (unkept, unkept_lines): (Vec<_>, Vec<_>) = found(false).into_iter().unzip();
        assert_eq!(kept, unkept);
        assert_eq!(kept_lines, [1, 1, 1, 1]);
        assert_eq!(unkept_lines, [0, 0, 0, 0]);
    }

    /// A filter of `failregex` over lines `s[PID]: …` (the multi-line id), dated.
    fn connection_filter(failregex: &[&str]) -> FilterDefinition {
        FilterDefinition {
            prefregex: Some(r"^\s*<F-MLFID>s\[\d+\]: </F-MLFID><F-CONTENT>.+</F-CONTENT>$".into()),
            failregex: failregex.iter().map(|r| r.to_string()).collect(),
            datepattern: Some("^%Y-%m-%d %H:%M:%S".into()),
            ..Default::default()
        }
    }

    /// What fail2ban-regex's summary sees of a line: ignored or not, matched or not,
    /// the failregexes that matched, the failures' ids, the ignoreregexes that matched.
    type Seen = (bool, bool, Vec<usize>, Vec<String>, Vec<usize>);

    /// What fail2ban-regex's summary sees of each of `lines` (every failregex
    /// tried), and how many closes and how many failures were found unread.
    /// `reads_match_data` as the tester's: its summary reads none, `-o` reads the
    /// matches' data and lines.
    fn summary_view(
        def: &FilterDefinition,
        lines: &[&str],
        reads_match_data: bool,
    ) -> (Vec<Seen>, usize, usize) {
        let mut f = Filter::new(def, None, TimeZone::UTC, 2026).unwrap();
        f.check_all = true;
        f.ignore_pending = false;
        f.reads_match_data = reads_match_data;
        f.keeps_matched_lines = reads_match_data;
        let (mut closes, mut failures) = (0, 0);
        let mut seen = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let r = f.process_line(&format!("2026-01-15 07:59:{i:02} {line}"), 1_800_000_000);
            closes += usize::from(r.closed_unread.is_some());
            failures += r.failures_unread.len();
            let regexes = r
                .failures
                .iter()
                .map(|x| x.regex_index)
                .chain(r.closed_unread.map(|c| c.regex_index))
                .chain(r.failures_unread.iter().copied());
            let ids = r
                .failures
                .iter()
                .filter(|x| !x.is_nofail())
                .map(|x| x.id.to_string());
            seen.push((
                r.is_ignored(),
                r.failregex_matched(),
                regexes.collect(),
                ids.collect(),
                r.ignored_by.clone(),
            ));
        }
        (seen, closes, failures)
    }

    /// What the summary counts of a line: ignored or not, matched or not, the
    /// failregexes that matched (the ids of matches found unread are not read).
    type Counted = (bool, bool, Vec<usize>);

    /// [`Counted`] of each line seen.
    fn summary_counts(seen: Vec<Seen>) -> Vec<Counted> {
        seen.into_iter().map(|(i, m, r, _, _)| (i, m, r)).collect()
    }

    /// What the summary counts of each of `lines`, checked against what a caller
    /// that reads every match's data counts (which gets no match unread), and how
    /// many closes and failures the summary found unread.
    fn counted_both_ways(def: &FilterDefinition, lines: &[&str]) -> (Vec<Counted>, usize, usize) {
        let (summary, closes, failures) = summary_view(def, lines, false);
        let summary = summary_counts(summary);
        let (full, read_closes, read_failures) = summary_view(def, lines, true);
        assert_eq!(summary, summary_counts(full));
        assert_eq!(
            (read_closes, read_failures),
            (0, 0),
            "a caller that reads match data gets every match"
        );
        (summary, closes, failures)
    }

    /// fail2ban-regex's summary, which reads no match data, counts a close that is a
    /// failure (ddos mode's `[preauth]` close) without its data, and forgets its
    /// connection as the full merge does; a line that another failregex's end may
    /// match too, or that only the failregex's head matches, is searched whole.
    #[test]
    fn a_close_that_fails_counts_unread_as_the_full_merge_does() {
        let def = connection_filter(&[
            r"^Failed password for <F-USER>\S+</F-USER> from <HOST>$",
            r"^Too many failures$",
            r"^<F-MLFFORGET>Connection closed</F-MLFFORGET> by(?: user <F-USER>\S+</F-USER>)? <HOST> \[preauth\]$",
            r"^<F-NOFAIL><F-MLFFORGET>Connection closed</F-MLFFORGET></F-NOFAIL> by(?: user <F-USER>\S+</F-USER>)? <HOST>$",
            r"^<F-MLFFORGET>Disconnected</F-MLFFORGET> from .*? <HOST>$",
        ]);
        let lines = [
            // a close that fails, with nothing before it, then after a failure
            "s[1]: Connection closed by 192.0.2.1 [preauth]",
            "s[2]: Failed password for root from 192.0.2.2",
            "s[2]: Connection closed by user root 192.0.2.2 [preauth]",
            // forgotten: a second user's close is no failure (one user known)
            "s[2]: Connection closed by user admin 192.0.2.2",
            // not forgotten: the second user makes that close a failure
            "s[3]: Failed password for root from 192.0.2.3",
            "s[3]: Connection closed by user admin 192.0.2.3",
            // a pending failure, then the close that fails and forgets it: a close
            // after it is none (a pending failure would make it one)
            "s[4]: Too many failures",
            "s[4]: Connection closed by 192.0.2.4 [preauth]",
            "s[4]: Connection closed by 192.0.2.4",
            // a close by a failregex cut before its `.*?` (confirmed by a search),
            // and a line only its cut part matches
            "s[5]: Failed password for root from 192.0.2.5",
            "s[5]: Disconnected from user root 192.0.2.5",
            "s[5]: Connection closed by user admin 192.0.2.5",
            "s[6]: Disconnected from nowhere",
        ];
        let (summary, unread, _) = counted_both_ways(&def, &lines);
        let ignored: Vec<bool> = summary.iter().map(|s| s.0).collect();
        let f = false;
        assert_eq!(
            ignored,
            [f, f, f, true, f, f, f, f, true, f, f, true, f],
            "{summary:?}"
        );
        assert_eq!(
            summary[12],
            (false, false, vec![]),
            "matched by a head only"
        );
        assert!(unread >= 5, "{unread} closes found unread");
        // the daemon's way (it reads every failure's data): its closes that fail are
        // failures with their addresses, none of them reported unread
        let mut daemon = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
        let mut closes = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let r = daemon.process_line(&format!("2026-01-15 07:59:{i:02} {line}"), 1_800_000_000);
            assert_eq!(r.closed_unread.filter(|c| c.is_failure), None, "{line}");
            let failure = r.failures.iter().find(|x| !x.is_nofail());
            if let Some(x) = failure.filter(|x| [2, 4].contains(&x.regex_index)) {
                closes.push((i, x.id.to_string()));
            }
        }
        let address = |i: usize, a: &str| (i, a.to_string());
        assert_eq!(
            closes,
            [
                address(0, "192.0.2.1"),
                address(2, "192.0.2.2"),
                address(7, "192.0.2.4"),
                address(10, "192.0.2.5")
            ]
        );
    }

    /// fail2ban-regex's summary counts a failure that no connection can make no
    /// failure without its data, and leaves in the multi-line cache what later
    /// merges decide by: the connection's users (a second one makes a login a
    /// failure), no pending failure, and its address (a later line without one takes
    /// it, and is no pending failure that would make the close a failure).
    #[test]
    fn a_failure_counts_unread_as_the_full_merge_does() {
        let def = connection_filter(&[
            r"^Failed (?:<F-NOFAIL>publickey</F-NOFAIL>|\S+) for <F-USER>\S+</F-USER> from <HOST>$",
            r"^Too many failures$",
            r"^<F-NOFAIL><F-MLFFORGET>Connection closed</F-MLFFORGET></F-NOFAIL> by <HOST>$",
            r"^<F-MLFFORGET><F-MLFGAINED>Accepted \w+</F-MLFGAINED></F-MLFFORGET> for <F-USER>\S+</F-USER> from <HOST>$",
            r"^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>$",
        ]);
        let lines = [
            // two users' failures: the login of the second is a failure too
            "s[1]: Connection from 192.0.2.1",
            "s[1]: Failed password for root from 192.0.2.1",
            "s[1]: Failed password for admin from 192.0.2.1",
            "s[1]: Accepted password for admin from 192.0.2.1",
            // a failure that makes itself none (read whole), then one user's login
            "s[2]: Failed publickey for root from 192.0.2.2",
            "s[2]: Accepted publickey for root from 192.0.2.2",
            // a pending failure, then a failure that clears it: the close is none
            "s[3]: Too many failures",
            "s[3]: Failed password for root from 192.0.2.3",
            "s[3]: Connection closed by 192.0.2.3",
            // a pending failure alone makes the close a failure
            "s[4]: Too many failures",
            "s[4]: Connection closed by 192.0.2.4",
            // a failure's address serves the line after it: no pending failure
            "s[5]: Failed password for root from 192.0.2.5",
            "s[5]: Too many failures",
            "s[5]: Connection closed by 192.0.2.5",
            // a new connection under a pid seen before
            "s[1]: Failed password for root from 192.0.2.6",
            "s[1]: Accepted password for root from 192.0.2.6",
        ];
        let (summary, _, unread) = counted_both_ways(&def, &lines);
        let ignored: Vec<bool> = summary.iter().map(|s| s.0).collect();
        let (t, f) = (true, false);
        assert_eq!(
            ignored,
            [t, f, f, f, t, t, f, f, t, f, f, f, f, t, f, t],
            "{summary:?}"
        );
        // the five `Failed password` lines, and none of the others
        assert_eq!(unread, 5, "{summary:?}");
    }

    /// As Fail2ban: an address with another failure id (`<F-ID>`) is that id's, kept
    /// as `ip`; a host name's addresses are the ids (resolved later), with no `ip`.
    #[test]
    fn a_host_name_is_the_id_of_its_failure_whatever_the_failure_id() {
        let def = connection_filter(&[r"^login failed user=<F-ID>\S+</F-ID> from <HOST>$"]);
        let mut f = Filter::new(&def, None, TimeZone::UTC, 2026).unwrap();
        let failure = |f: &mut Filter, line: &str| {
            let r = f.process_line(&format!("2026-01-15 07:59:00 {line}"), 1_800_000_000);
            let x = r.failures.first().expect("a failure");
            (x.id.to_string(), x.field("ip").map(str::to_string))
        };
        let named = failure(&mut f, "s[1]: login failed user=bob from gw.example.org");
        assert_eq!(named, ("gw.example.org".into(), None));
        let addressed = failure(&mut f, "s[2]: login failed user=bob from 192.0.2.9");
        assert_eq!(addressed, ("bob".into(), Some("192.0.2.9".into())));
    }

    /// A close that a later failregex also matches is searched whole where every
    /// failregex is tried: the later one's failure counts.
    #[test]
    fn a_close_another_failregex_also_matches_is_not_found_unread() {
        let def = connection_filter(&[
            r"^<F-NOFAIL><F-MLFFORGET>Closed</F-MLFFORGET></F-NOFAIL> by <HOST>$",
            r"^Closed by <HOST>\s*$",
            r"^Closed by <HOST> port \d+$",
        ]);
        let lines = [
            "s[1]: Closed by 192.0.2.1",
            "s[2]: Closed by 192.0.2.2 port 22",
        ];
        let (summary, unread, _) = summary_view(&def, &lines, false);
        let full = summary_view(&def, &lines, true).0;
        assert_eq!(
            summary_counts(summary.clone()),
            summary_counts(full.clone())
        );
        assert_eq!(summary[0].2, [0, 1]);
        assert_eq!(full[0].3, ["192.0.2.1"]);
        assert_eq!(summary[1].2, [2]);
        // the other's head may match, so the close is searched too
        assert_eq!(unread, 0);
    }

    /// With an ignoreregex, which is tried on what a failregex matched, a close is
    /// searched whole: the ignoreregex's hit counts.
    #[test]
    fn a_close_is_not_found_unread_where_an_ignoreregex_may_match_it() {
        let mut def = connection_filter(&[
            r"^Failed password from <HOST>$",
            r"^<F-NOFAIL><F-MLFFORGET>Closed</F-MLFFORGET></F-NOFAIL> by <HOST>$",
        ]);
        def.ignoreregex = vec![r"by 192\.0\.2\.1$".to_string()];
        let lines = ["s[1]: Closed by 192.0.2.1", "s[2]: Closed by 192.0.2.2"];
        let (summary, unread, _) = summary_view(&def, &lines, false);
        assert_eq!(summary, summary_view(&def, &lines, true).0);
        assert_eq!(summary[0].4, [0]);
        assert_eq!(unread, 0);
    }

    #[test]
    fn a_line_seen_again_gets_the_same_failures_in_either_search_mode() {
        let now = 1_800_000_000;
        let mut f = filter(
            &[
                r"^ auth failed for (?P<user>\S+) from <HOST>$",
                r"^ auth failed for admin from <HOST>$",
                r"^ auth failed for \S+ from <HOST>$",
            ],
            None,
            None,
        );
        let found = |f: &mut Filter, line: &str| -> Vec<(usize, String, Option<String>)> {
            let r = f.process_line(line, now);
            r.failures
                .iter()
                .map(|x| {
                    (
                        x.regex_index,
                        x.id.to_string(),
                        x.field("user").map(str::to_string),
                    )
                })
                .collect()
        };
        let admin = "2027-01-15 07:59:30 auth failed for admin from 192.0.2.1";
        let root = "2027-01-15 07:59:31 auth failed for root from 192.0.2.1";
        // stopping at the first match (the daemon's way) remembers the first only...
        f.check_all = false;
        let first = found(&mut f, admin);
        assert_eq!(first.iter().map(|x| x.0).collect::<Vec<_>>(), [0]);
        assert_eq!(
            found(&mut f, admin),
            first,
            "answered from the recent texts"
        );
        // ...which does not stand for all of them (fail2ban-regex's way)
        f.check_all = true;
        let all = found(&mut f, admin);
        assert_eq!(all.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(all[0], first[0]);
        assert_eq!(all[0].2.as_deref(), Some("admin"));
        assert_eq!(found(&mut f, admin), all, "answered from the recent texts");
        assert_eq!(found(&mut f, root).len(), 2);
    }
}
