//! A compiled Python-syntax regular expression on the right engine.
//!
//! Owns the choice of engine: the linear-time `regex` crate whenever the translated
//! pattern allows it, `fancy-regex` (with a bound on back-tracking steps, so that a
//! hostile line cannot stall the caller) only when it needs look-around,
//! back-references, conditionals or atomic groups. It does not know about tags or dates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use regex_automata::nfa::thompson;
use regex_automata::util::alphabet::ByteClasses;

use crate::anchored::{AnchoredDfa, MatchWalk, PrefixWalks};
use crate::host_branch::HostBranch;
use crate::pyre::{self, Dollar, TranslateError};
use crate::recent::Recent;
use crate::twopass::{self, Slot, TwoPass, UNSET};
use crate::unfold;

/// Back-tracking steps allowed per search before the line is given up as not matching.
/// About 2 ms of CPU for a hostile line (scripts/bench-redos.sh); Fail2ban's whole
/// corpus needs far fewer (it passes at 20,000 too).
pub const BACKTRACK_LIMIT: usize = 50_000;

/// Error compiling a pattern.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error("unable to compile regular expression {pattern:?}: {message}")]
    Compile { pattern: String, message: String },
}

/// A linear pattern compiled twice over: with ASCII classes for ASCII haystacks (the
/// usual log line) and with Unicode classes, compiled on the first haystack that
/// needs them. On ASCII text the two match the same; the ASCII form takes a fraction
/// of the memory (Unicode `\w` alone is thousands of automaton states).
#[derive(Debug)]
struct LinearRe {
    source: String,
    ascii: Option<regex::bytes::Regex>,
    unicode: OnceLock<Option<regex::Regex>>,
    /// Captures on ASCII haystacks without back-tracking, made on the first search
    /// with captures (or by [`Pattern::prepare`]).
    two_pass: OnceLock<Option<TwoPass>>,
}

impl LinearRe {
    fn new(pattern: &str) -> Result<LinearRe, String> {
        let ascii = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .ok();
        let unicode = OnceLock::new();
        if ascii.is_none() {
            // No ASCII form: the Unicode one is needed (and checked) now.
            let _ = unicode.set(Some(linear(pattern)?));
        }
        Ok(LinearRe {
            source: pattern.to_string(),
            ascii,
            unicode,
            two_pass: OnceLock::new(),
        })
    }

    fn unicode(&self) -> Option<&regex::Regex> {
        self.unicode
            .get_or_init(|| linear(&self.source).ok())
            .as_ref()
    }

    fn ascii_for<'a>(&'a self, hay: &str) -> Option<&'a regex::bytes::Regex> {
        // Without a Unicode form (too big to compile), the ASCII one is the best left.
        self.ascii
            .as_ref()
            .filter(|_| hay.is_ascii() || self.unicode().is_none())
    }

    fn groups(&self, hay: &str, start: usize) -> Option<Groups> {
        let mut groups = Groups::default();
        self.groups_into(hay, start, &mut groups, None)
            .then_some(groups)
    }

    /// The groups of the leftmost-first match from `start`, into `out` (its
    /// allocation kept); `false` when there is no match.
    /// `lease`: the caller's memory for the two passes, if it keeps one (see
    /// [`twopass::Lease`]).
    fn groups_into(
        &self,
        hay: &str,
        start: usize,
        out: &mut Groups,
        lease: Option<&mut twopass::Lease>,
    ) -> bool {
        // Checked once: a log line is scanned for it on every search with captures.
        let ascii = hay.is_ascii();
        let Some(re) = self
            .ascii
            .as_ref()
            .filter(|_| ascii || self.unicode().is_none())
        else {
            return match self.unicode().and_then(|re| re.captures_at(hay, start)) {
                Some(caps) => out.set_from(caps.iter().map(|m| m.map(|m| (m.start(), m.end())))),
                None => false,
            };
        };
        let bytes = hay.as_bytes();
        match self.two_pass_for(ascii) {
            Some(two_pass) if two_pass.searches_alone(bytes.len().saturating_sub(start)) => {
                // Alone only where a match is likely: the backward pass walks the
                // whole haystack, where the DFA gives up at the first byte no
                // match can take (a filter's single failregex on every line). The
                // literals every match begins with tell in a few bytes; without
                // them, the DFA is asked. Either rules a match out for good.
                let may_match = two_pass
                    .may_start_at(bytes, start)
                    .unwrap_or_else(|| re.is_match_at(bytes, start));
                if !may_match {
                    return false;
                }
                let slots = out.reset_slots(two_pass.slot_len());
                if let Some(found) = two_pass.search(bytes, start, slots, lease) {
                    return found;
                }
            }
            Some(two_pass) => {
                let Some(m) = re.find_at(bytes, start) else {
                    return false;
                };
                let slots = out.reset_slots(two_pass.slot_len());
                if two_pass.captures(bytes, m.start(), m.end(), slots, lease) {
                    return true;
                }
            }
            None => {}
        }
        match re.captures_at(bytes, start) {
            Some(caps) => out.set_from(caps.iter().map(|m| m.map(|m| (m.start(), m.end())))),
            None => false,
        }
    }

    /// [`LinearRe::groups`] of the match already found at `span` (by
    /// [`LinearRe::find_at`] from `start`): the two passes capture over that span
    /// without finding it again, where they serve.
    fn groups_of_match(&self, hay: &str, start: usize, span: (usize, usize)) -> Option<Groups> {
        let mut groups = Groups::default();
        if let Some(two_pass) = self.two_pass_for(hay.is_ascii()) {
            let slots = groups.reset_slots(two_pass.slot_len());
            if two_pass.captures(hay.as_bytes(), span.0, span.1, slots, None) {
                return Some(groups);
            }
        }
        self.groups_into(hay, start, &mut groups, None)
            .then_some(groups)
    }

    /// The two passes, built on first use, for a haystack that is ASCII or not: they
    /// use ASCII classes, so they serve ASCII haystacks of a pattern with an ASCII
    /// form only.
    fn two_pass_for(&self, ascii_hay: bool) -> Option<&TwoPass> {
        if !ascii_hay || self.ascii.is_none() {
            return None;
        }
        self.two_pass
            .get_or_init(|| TwoPass::new(&self.source))
            .as_ref()
    }

    /// Build now what a search with captures of an ASCII haystack builds on first
    /// use (see [`Pattern::prepare`]).
    fn prepare(&self) {
        self.two_pass_for(true);
    }

    fn find_at(&self, hay: &str, start: usize) -> Option<(usize, usize)> {
        match self.ascii_for(hay) {
            Some(re) => re
                .find_at(hay.as_bytes(), start)
                .map(|m| (m.start(), m.end())),
            None => self
                .unicode()?
                .find_at(hay, start)
                .map(|m| (m.start(), m.end())),
        }
    }

    fn is_match_at(&self, hay: &str, start: usize) -> bool {
        match self.ascii_for(hay) {
            Some(re) => re.is_match_at(hay.as_bytes(), start),
            None => self.unicode().is_some_and(|re| re.is_match_at(hay, start)),
        }
    }

    fn capture_names(&self) -> Vec<Option<String>> {
        match &self.ascii {
            Some(re) => re.capture_names().map(|n| n.map(str::to_string)).collect(),
            None => self
                .unicode()
                .map(|re| re.capture_names().map(|n| n.map(str::to_string)).collect())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug)]
enum Engine {
    Linear(LinearRe),
    /// Linear regex with back-references rewritten as group copies; a match whose copies
    /// disagree is re-decided by the back-tracking form (see `pyre::Translated`).
    LinearVerified {
        linear: LinearRe,
        pairs: Vec<(usize, usize)>,
        backtracking: fancy_regex::Regex,
    },
    /// Back-tracking, behind a linear screen (`pyre::Translated::screen`) that rules
    /// out most lines without back-tracking.
    Backtrack {
        screen: Option<LinearRe>,
        re: fancy_regex::Regex,
    },
}

/// How the pattern will be searched (Python's MULTILINE flag and the buffer shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Single-line buffers (a line, maybe followed by one newline).
    SingleLine,
    /// Python `re.MULTILINE` over multi-line buffers.
    MultiLine,
    /// No MULTILINE flag, but searched over multi-line buffers.
    OverMultiLine,
}

/// A compiled pattern.
#[derive(Debug)]
pub struct Pattern {
    engine: Engine,
    names: Vec<String>,
    /// A linear pattern matching wherever this one does (this one when it is linear).
    superset: Option<String>,
    /// Searches given up at the back-tracking step bound (and counted as no match).
    abandoned: AtomicU64,
    /// Groups copied by unfolding (see `unfold`): (copy index, original index). A
    /// match reports a copy's span under the original's name.
    aliases: Vec<(usize, usize)>,
    /// `unfold::END_GROUP`'s index: a match ends where this group starts.
    end_group: Option<usize>,
    /// The pattern without its "rest of the line" tail, when it has one (see
    /// [`RestOfLine`]).
    rest_of_line: Option<RestOfLine>,
    /// Unique among the patterns of the process (never 0), naming it in a [`MatchMemo`].
    id: u64,
    /// See [`Pattern::ascii_classes`]; made on the first [`Pattern::search_range_memo`].
    ascii_classes: OnceLock<Option<ByteClasses>>,
    /// The pattern as a leading run and the rest, when it has that shape (see
    /// [`LeadingRun`]).
    leading_run: Option<LeadingRun>,
}

/// Groups whose texts must agree: a back-referenced group's, its copy's (by index).
type CopyPairs = [(usize, usize)];

/// The linear form a search with a memo finds a pattern's matches with, and the
/// groups of it whose texts must agree (see [`Pattern::memo_form`]).
type MemoForm<'a> = (&'a LinearRe, Option<&'a CopyPairs>);

/// A pattern `^[^X]*R` (single-line) in which every match of `R` begins with `X`, an
/// ASCII punctuation byte: `^[^\[]*\[({DATE})`, the date pattern of Fail2ban's
/// access-log filters, whose run is the client address and the user before the date.
/// Searched from the haystack's start, it is `R` searched from the first `X`, which
/// reads the run with `memchr` instead of the automata, and lets `R`'s match (the
/// date alone) be remembered from line to line (see [`Pattern::search_range_memo`])
/// where the whole match differs with the address.
///
/// Why that is exact: `^` holds at the haystack's start only, and the greedy run
/// takes, first, every byte up to the first `X` (it cannot take an `X`); `R` is then
/// tried there, with its own priorities. Where it fails, the run gives bytes back,
/// but `R` cannot match after a shorter run: its match would begin with a byte that
/// is not `X`. So the pattern matches exactly when `R` matches at the first `X`, with
/// `R`'s groups (the run has none) and the whole match from the start. `R` searched
/// from the first `X` finds a match there first when there is one (leftmost); one
/// found further on is no match of the pattern.
#[derive(Debug)]
struct LeadingRun {
    byte: u8,
    rest: Box<Pattern>,
    /// `R`'s linear form (see [`Pattern::memo_form`]) as an automaton walked from the
    /// first `X`, made on the first search with a memo (or by [`Pattern::prepare`]):
    /// where a match begins is known, so its end is found by one anchored walk, not
    /// by searching for it.
    rest_dfa: OnceLock<Option<AnchoredDfa>>,
}

impl LeadingRun {
    /// The shape of `python`, when it has it (see [`LeadingRun`]).
    fn of(python: &str, mode: Mode) -> Option<LeadingRun> {
        if mode != Mode::SingleLine {
            return None;
        }
        // Inline flags first are `R`'s too; `m` and `x` would change what `^` and
        // the run mean.
        let flags = match python.strip_prefix("(?") {
            Some(f) => {
                let end = f.find(')')?;
                if !f[..end].bytes().all(|b| b"iuLas".contains(&b)) {
                    return None;
                }
                &python[..end + 3]
            }
            None => "",
        };
        let tail = python[flags.len()..].strip_prefix("^[^")?;
        let (byte, rest) = match tail.as_bytes() {
            [b'\\', byte, b']', b'*', ..] => (*byte, &tail[4..]),
            [byte, b']', b'*', ..] if !matches!(byte, b'\\' | b'^' | b']') => (*byte, &tail[3..]),
            _ => return None,
        };
        // a lazy or possessive run is another pattern
        if !byte.is_ascii_punctuation() || rest.starts_with(['?', '+']) {
            return None;
        }
        let rest = Pattern::new(&format!("{flags}{rest}"), mode).ok()?;
        // what begins every match of a linear pattern matching wherever `R` does
        // begins every match of `R`
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(rest.linear_superset()?)
            .ok()?;
        let prefixes = regex_syntax::hir::literal::Extractor::new().extract(&hir);
        let literals = prefixes.literals().filter(|l| !l.is_empty())?;
        literals
            .iter()
            .all(|l| l.as_bytes().first() == Some(&byte))
            .then(|| LeadingRun {
                byte,
                rest: Box::new(rest),
                rest_dfa: OnceLock::new(),
            })
    }

    /// [`Pattern::search_range_memo`] of the pattern from the haystack's start.
    fn search_memo(&self, hay: &str, end: usize, memo: &mut MatchMemo) -> Option<Groups> {
        let at = self.rest_at(hay, end)?;
        let mut found = match self.walk(hay, end, at) {
            Some((form, rest_end)) => {
                let span = (at, rest_end?);
                self.rest
                    .groups_of_span_memo(form, &hay[..end], at, span, memo)?
            }
            // a byte the automaton cannot read: searched
            None => self.rest.search_range_memo(hay, at, end, memo)?,
        };
        LeadingRun::make_whole(at, &mut found).then_some(found)
    }

    /// [`Pattern::search_range_into`] of the pattern from the haystack's start.
    fn search_into(&self, hay: &str, end: usize, out: &mut Groups) -> bool {
        let Some(at) = self.rest_at(hay, end) else {
            return false;
        };
        // no match at the first `X`: `R` is not searched for further on
        if let Some((_, None)) = self.walk(hay, end, at) {
            return false;
        }
        self.rest.search_range_into(hay, at, end, out) && LeadingRun::make_whole(at, out)
    }

    /// `R`'s linear form (see [`Pattern::memo_form`]) and the end of its match from
    /// `at` in `hay[..end]` (`None` inside: no match there), by one anchored walk of
    /// its automaton; `None` when `R` has no such form or automaton, or the walk met a
    /// byte the automaton cannot read.
    fn walk(&self, hay: &str, end: usize, at: usize) -> Option<(MemoForm<'_>, Option<usize>)> {
        let form = self.rest.memo_form()?;
        let rest_end = self.rest_dfa(form)?.match_end(&hay.as_bytes()[..end], at)?;
        Some((form, rest_end))
    }

    /// The automaton of `R`'s linear form `form`, built on first use.
    fn rest_dfa(&self, form: MemoForm<'_>) -> Option<&AnchoredDfa> {
        self.rest_dfa
            .get_or_init(|| AnchoredDfa::ascii_walked_from_match_start(&form.0.source))
            .as_ref()
    }

    /// Build now what a search of an ASCII haystack builds on first use.
    fn prepare(&self) {
        self.rest.prepare();
        if let Some(form) = self.rest.memo_form() {
            self.rest_dfa(form);
        }
    }

    /// Where `R` must match in `hay[..end]`: at its first `X`.
    fn rest_at(&self, hay: &str, end: usize) -> Option<usize> {
        memchr::memchr(self.byte, &hay.as_bytes()[..end])
    }

    /// `R`'s match (found from `at`) made the pattern's, the whole match from the
    /// start; `false` when it does not begin at `at` (no match of the pattern).
    fn make_whole(at: usize, groups: &mut Groups) -> bool {
        let begins_at = groups.start() == at;
        if begins_at {
            groups.set(0, Some((0, groups.end())));
        }
        begins_at
    }
}

/// The last [`Pattern::id`] given out.
static LAST_PATTERN_ID: AtomicU64 = AtomicU64::new(0);

/// A linear pattern `HEAD BETWEEN (?P<name>.+)$` (or `.*`), Fail2ban's usual
/// prefregex shape, searched as its head alone; `BETWEEN` (possibly absent) is one or
/// more pieces without groups that together match only a few literal texts, like
/// Fail2ban's sshd `(?:(?:error|fatal): (?:PAM: )?)?` or ferroban's
/// `(?:(?:error|fatal): )?(?:PAM: )?`.
///
/// Why that is exact: the tail has one way to match from a position `q` (the greedy
/// `.` loop runs to the next newline, where `$` holds), and it matches exactly when
/// that run is long enough (non-empty for `.+`). The paths of the pattern are ordered
/// by the head's choices first, then `BETWEEN`'s, so its leftmost-first match takes the
/// head's highest-priority path — the head's own leftmost-first match, which starts
/// where the pattern's does, as no match can start where the head does not — followed
/// by the first of `BETWEEN`'s texts, in the pattern's order, that follows the head's
/// match and leaves a long enough run. Only when none does is the whole pattern
/// searched. The head is shorter to search with captures than the line: the tail,
/// usually most of it, is never walked by the capture engine.
#[derive(Debug)]
struct RestOfLine {
    head: LinearRe,
    /// The head's automaton, when its matches start the haystack: its match is found
    /// there without the general search. Built on the first search (or by
    /// [`Pattern::prepare`]).
    head_dfa: OnceLock<Option<AnchoredDfa>>,
    /// `BETWEEN`'s texts in the order the pattern tries them (`[""]` without one).
    between: Vec<String>,
    /// The tail is `.+`, not `.*`.
    non_empty: bool,
    head_groups: HeadGroups,
}

/// How the groups of a head's match are found.
#[derive(Debug)]
enum HeadGroups {
    /// The head holds no group (a prefix without `F-MLFID`, as ferroban's postfix
    /// filter has; Fail2ban's has an unnamed one): the match's groups are the whole
    /// match and the tail.
    Ungrouped,
    /// The head is one group around all of it (but zero-width assertions), holding no
    /// other group: that group's span is the match's, no capture search needed.
    AroundAll,
    /// By a capture search, or from the head's recent matches (see [`RecentHeads`]).
    Searched(Mutex<RecentHeads>),
}

impl HeadGroups {
    fn of(head: &regex_syntax::hir::Hir) -> HeadGroups {
        use regex_syntax::hir::HirKind;
        let zero_width =
            |h: &regex_syntax::hir::Hir| matches!(h.kind(), HirKind::Look(_) | HirKind::Empty);
        let groups = head.properties().explicit_captures_len();
        let around_all = match head.kind() {
            HirKind::Capture(_) => groups == 1,
            HirKind::Concat(items) => {
                groups == 1
                    && items
                        .iter()
                        .all(|h| zero_width(h) || matches!(h.kind(), HirKind::Capture(_)))
            }
            _ => false,
        };
        match (groups, around_all) {
            (0, _) => HeadGroups::Ungrouped,
            (_, true) => HeadGroups::AroundAll,
            (_, false) => HeadGroups::Searched(Mutex::new(RecentHeads::new(head))),
        }
    }
}

/// The texts a piece of pattern without groups matches, in the order a leftmost-first
/// search tries them, if they are few (a literal, an alternation of them, an optional
/// one, a concatenation of those) and on one line.
fn literal_texts(hir: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    const MAX_TEXTS: usize = 16;
    let texts = match hir.kind() {
        HirKind::Empty => vec![String::new()],
        HirKind::Literal(literal) => vec![String::from_utf8(literal.0.to_vec()).ok()?],
        HirKind::Alternation(alternatives) => {
            let mut texts = Vec::new();
            for alternative in alternatives {
                texts.extend(literal_texts(alternative)?);
            }
            texts
        }
        HirKind::Repetition(rep) if rep.min == 0 && rep.max == Some(1) => {
            let mut texts = literal_texts(&rep.sub)?;
            match rep.greedy {
                true => texts.push(String::new()),
                false => texts.insert(0, String::new()),
            }
            texts
        }
        HirKind::Concat(items) => {
            let mut texts = vec![String::new()];
            for item in items {
                let next = literal_texts(item)?;
                if texts.len() * next.len() > MAX_TEXTS {
                    return None;
                }
                // the first item's choices come first, then the next item's
                texts = texts
                    .iter()
                    .flat_map(|a| next.iter().map(move |b| format!("{a}{b}")))
                    .collect();
            }
            texts
        }
        _ => return None,
    };
    (texts.len() <= MAX_TEXTS && texts.iter().all(|t| !t.contains('\n'))).then_some(texts)
}

/// Head matches per generation of [`HeadGroups::Searched`]: a connection's prefix
/// (`host sshd[pid]: `) comes back within a few dozen lines.
const RECENT_HEADS: usize = 64;

/// The groups of recent head matches (relative to the match's start), by what they
/// depend on: the match's text, whether it starts the haystack, and, when the head
/// has assertions that look at them (`\b`, `$`, multi-line `^`), the characters next
/// to it.
///
/// Why that is exact: on the linear engine the groups of a match are found by a
/// search confined to the match's span, in which only the characters next to the
/// span are visible, and only to assertions; `^` at the start of the haystack asks
/// only whether the span starts it.
#[derive(Debug)]
struct RecentHeads {
    spans: Recent<Vec<Option<(usize, usize)>>>,
    /// The head has assertions that see the characters next to the match.
    sees_neighbours: bool,
    /// The key being looked up (kept to reuse its allocation).
    key: String,
}

impl RecentHeads {
    fn new(head: &regex_syntax::hir::Hir) -> RecentHeads {
        let mut looks = head.properties().look_set();
        looks = looks.remove(regex_syntax::hir::Look::Start);
        RecentHeads {
            spans: Recent::new(RECENT_HEADS),
            sees_neighbours: !looks.is_empty(),
            key: String::new(),
        }
    }

    /// Make `self.key` name the match `hay[start..end]` with what its groups depend
    /// on. Each side of the text has a fixed width (a flag, and a character when
    /// neighbours count), so no two different matches share a key.
    fn set_key(&mut self, hay: &str, start: usize, end: usize) {
        let key = &mut self.key;
        key.clear();
        key.push(if start == 0 { '0' } else { '1' });
        if !self.sees_neighbours {
            key.push_str(&hay[start..end]);
            return;
        }
        key.push(hay[..start].chars().next_back().unwrap_or('0'));
        key.push_str(&hay[start..end]);
        let after = hay[end..].chars().next();
        key.push(after.unwrap_or('0'));
        key.push(if after.is_some() { '1' } else { '0' });
    }
}

/// The items of `hir`, its last group and whether that group takes a character at
/// least, when `hir` ends with the rest of the line in a group: `(.*)$` or
/// `(.+)$` (`.` not taking a newline, `$` before a newline or at the end).
fn rest_of_line_tail(
    hir: &regex_syntax::hir::Hir,
) -> Option<(&[regex_syntax::hir::Hir], &regex_syntax::hir::Capture, bool)> {
    use regex_syntax::hir::{Class, HirKind, Look};
    let any_but_newline = |h: &regex_syntax::hir::Hir| match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            c.ranges().len() == 2
                && (c.ranges()[0].start(), c.ranges()[0].end()) == ('\0', '\x09')
                && (c.ranges()[1].start(), c.ranges()[1].end()) == ('\x0B', char::MAX)
        }
        HirKind::Class(Class::Bytes(c)) => {
            c.ranges().len() == 2
                && (c.ranges()[0].start(), c.ranges()[0].end()) == (0, 9)
                && (c.ranges()[1].start(), c.ranges()[1].end()) == (11, 255)
        }
        _ => false,
    };
    let HirKind::Concat(items) = hir.kind() else {
        return None;
    };
    let [.., group, dollar] = items.as_slice() else {
        return None;
    };
    if !matches!(dollar.kind(), HirKind::Look(Look::EndLF)) {
        return None;
    }
    let HirKind::Capture(capture) = group.kind() else {
        return None;
    };
    let HirKind::Repetition(rep) = capture.sub.kind() else {
        return None;
    };
    if !(rep.greedy && rep.max.is_none() && rep.min <= 1 && any_but_newline(&rep.sub)) {
        return None;
    }
    Some((items, capture, rep.min == 1))
}

impl RestOfLine {
    /// The split of `pattern` (Rust syntax), if it has that shape.
    fn of(pattern: &str) -> Option<RestOfLine> {
        // Most patterns have not the shape: their ASCII form, parsed at a fraction
        // of the cost (no Unicode classes), tells. The shape is the same in both
        // forms, which differ in their classes and literals only; a pattern whose
        // ASCII form does not parse (a Unicode class) is parsed whole.
        let ascii = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern);
        if ascii.is_ok_and(|hir| rest_of_line_tail(&hir).is_none()) {
            return None;
        }
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        let (items, capture, non_empty) = rest_of_line_tail(&hir)?;
        // Where the head ends in the source: the start of `BETWEEN`, or of the tail.
        let ast = regex_syntax::ast::parse::Parser::new()
            .parse(pattern)
            .ok()?;
        let regex_syntax::ast::Ast::Concat(concat) = &ast else {
            return None;
        };
        let source_start = |from_end: usize| {
            let i = concat.asts.len().checked_sub(from_end)?;
            Some(concat.asts[i].span().start.offset)
        };
        let tail_index = capture.index as usize;
        // `BETWEEN` as the last `n` pieces before the tail, the most that leave a head
        // holding every other group (a smaller head, whose groups may all be around
        // it: see `HeadGroups`), down to none.
        let with_between = |n: usize| {
            let between = items.len().checked_sub(2 + n)?;
            let texts = match n {
                0 => vec![String::new()],
                _ => literal_texts(&regex_syntax::hir::Hir::concat(
                    items[between..items.len() - 2].to_vec(),
                ))?,
            };
            let head = &pattern[..source_start(2 + n)?];
            RestOfLine::split(head, &items[..between], texts, tail_index, non_empty)
        };
        (0..items.len().saturating_sub(2))
            .rev()
            .find_map(with_between)
    }

    /// The split with the head `head_source`, if that is the pattern's `head_items`
    /// and holds every group but the tail's.
    fn split(
        head_source: &str,
        head_items: &[regex_syntax::hir::Hir],
        between: Vec<String>,
        tail_index: usize,
        non_empty: bool,
    ) -> Option<RestOfLine> {
        let head_hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(head_source)
            .ok()?;
        let expected = regex_syntax::hir::Hir::concat(head_items.to_vec());
        if head_hir != expected || tail_index != head_hir.properties().explicit_captures_len() + 1 {
            return None;
        }
        Some(RestOfLine {
            head: LinearRe::new(head_source).ok()?,
            head_dfa: OnceLock::new(),
            between,
            non_empty,
            head_groups: HeadGroups::of(&head_hir),
        })
    }

    /// Whether the whole pattern matches, decided from the head's match, its groups
    /// then written into `out`; `None` when that is not decided by the head (no text
    /// of `BETWEEN` follows its match leaving a long enough rest), and the whole
    /// pattern must be searched (`out` is then left in no particular state).
    fn search(
        &self,
        hay: &str,
        start: usize,
        head_walks: Option<&mut PrefixWalks<MatchWalk>>,
        out: &mut Groups,
    ) -> Option<bool> {
        let Some((head_start, head_end)) = self.head_match(hay, start, head_walks) else {
            return Some(false);
        };
        let line_end =
            memchr::memchr(b'\n', &hay.as_bytes()[head_end..]).map_or(hay.len(), |p| head_end + p);
        let after_head = &hay[head_end..line_end];
        let shortest_tail = usize::from(self.non_empty);
        let between = self.between.iter().find(|text| {
            starts_with(after_head, text) && after_head.len() - text.len() >= shortest_tail
        })?;
        let tail = Some((head_end + between.len(), line_end));
        let whole = Some((head_start, line_end));
        // the groups written once, in their final form and in place (each move of
        // a `Groups` just written waits for the writes): the whole match, the
        // head's groups, the tail
        match &self.head_groups {
            HeadGroups::Ungrouped => out.set_from([whole, tail].into_iter()),
            HeadGroups::AroundAll => {
                let head = Some((head_start, head_end));
                out.set_from([whole, head, tail].into_iter())
            }
            HeadGroups::Searched(recent) => {
                let head = (head_start, head_end);
                self.searched_head_groups(recent, hay, start, head, out)?;
                out.set(0, whole);
                out.push(tail);
                true
            }
        };
        Some(true)
    }

    /// Build now what a search of an ASCII haystack builds on first use: the head's
    /// automaton, and its two passes where its groups are searched.
    fn prepare(&self) {
        self.head_dfa();
        if let HeadGroups::Searched(_) = self.head_groups {
            self.head.prepare();
        }
    }

    fn head_dfa(&self) -> Option<&AnchoredDfa> {
        self.head_dfa
            .get_or_init(|| AnchoredDfa::ascii_of(&self.head.source))
            .as_ref()
    }

    /// The span of the head's leftmost-first match.
    ///
    /// Why the automaton's answer is exact: it is built from the head's ASCII form and
    /// stops, giving no answer, at the first non-ASCII byte it reads; up to there it
    /// reads what either form of the head reads, and on ASCII characters the two forms'
    /// classes and word boundaries agree, so they match, and stop, alike.
    fn head_match(
        &self,
        hay: &str,
        start: usize,
        head_walks: Option<&mut PrefixWalks<MatchWalk>>,
    ) -> Option<(usize, usize)> {
        let end = self.head_dfa().and_then(|dfa| match head_walks {
            Some(walks) if start == 0 => dfa.match_end_remembered(hay.as_bytes(), walks),
            _ => dfa.match_end(hay.as_bytes(), start),
        });
        match end {
            Some(end) => end.map(|end| (start, end)),
            None => self.head.find_at(hay, start),
        }
    }

    /// The groups of the head's leftmost-first match `(s, e)`, into `out`, from its
    /// recent matches or searched (see [`HeadGroups::Searched`]).
    fn searched_head_groups(
        &self,
        recent: &Mutex<RecentHeads>,
        hay: &str,
        start: usize,
        (s, e): (usize, usize),
        out: &mut Groups,
    ) -> Option<()> {
        let Ok(mut recent) = recent.try_lock() else {
            *out = self.head.groups(hay, start)?;
            return Some(());
        };
        let recent = &mut *recent;
        recent.set_key(hay, s, e);
        let place = |spans: &Vec<Option<(usize, usize)>>| out.place(spans, s);
        let miss = match recent.spans.with(recent.key.as_bytes(), place) {
            Ok(()) => return Some(()),
            Err(miss) => miss,
        };
        let g = self.head.groups_of_match(hay, start, (s, e))?;
        recent
            .spans
            .insert(miss, recent.key.as_bytes(), g.shifted(s).collect());
        *out = g;
        Some(())
    }
}

/// `hay` starts with `text`; their first bytes are compared first, as most texts
/// tried differ there (no call to compare the rest).
fn starts_with(hay: &str, text: &str) -> bool {
    match (hay.as_bytes().first(), text.as_bytes().first()) {
        (_, None) => true,
        (Some(a), Some(b)) => a == b && hay.starts_with(text),
        (None, Some(_)) => false,
    }
}

/// The last match of a pattern, for [`Pattern::search_range_memo`]: its text, the
/// characters around it and its groups' spans relative to its start.
#[derive(Debug, Clone, Default)]
pub struct MatchMemo {
    /// The pattern that matched (its [`Pattern::id`]).
    pattern: u64,
    text: String,
    /// Found in an ASCII haystack, whose bytes' classes tell what the text reads as.
    ascii: bool,
    around: (Option<char>, Option<char>),
    spans: Vec<Option<(usize, usize)>>,
}

/// Groups a match holds without a heap allocation: a prefregex's (the whole match,
/// its `mlfid` and `content` groups), most failregexes' (the whole match, a user
/// and a host's three forms, flags: after unfolding, most of the stock sshd
/// filter's matches hold 5 to 8, one failregex's 21); a match with more groups
/// spills to the heap. Eight pairs of 32-bit positions, 64 bytes: 12 or 16 spill
/// less, but cost more instructions than the allocations they save, moving and
/// copying the larger value.
const INLINE_GROUPS: usize = 8;

/// A group's capture slots: where it starts, where it ends ([`UNSET`]: not passed).
type SlotPair = [Slot; 2];

type GroupSlots = smallvec::SmallVec<[SlotPair; INLINE_GROUPS]>;

/// Byte spans of the groups of one match; index 0 is the whole match. Held as the
/// capture slots the two passes write (see [`twopass::Slots`]): they write a match's
/// groups here, with no copy.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    slots: GroupSlots,
}

impl Groups {
    /// Become a copy of `other`, in this value's own allocation (a match remembered
    /// for a line that comes again is handed out this way on every repeat).
    pub fn copy_from(&mut self, other: &Groups) {
        self.slots.clone_from(&other.slots);
    }

    /// Span of group `i` (0 = whole match). Inlined: the engine reads every group of
    /// every match through it (it was a call per group). The start slot alone tells
    /// whether the group took part: every writer sets both slots of a group or
    /// neither (a match's path that enters a group leaves it again).
    #[inline]
    pub fn get(&self, i: usize) -> Option<(usize, usize)> {
        let [start, end] = *self.slots.get(i)?;
        debug_assert_eq!(start == UNSET, end == UNSET, "group {i} half passed");
        (start != UNSET).then_some((start as usize, end as usize))
    }

    /// Set group `i`'s span (a group this match has).
    fn set(&mut self, i: usize, span: Option<(usize, usize)>) {
        if let Some(pair) = self.slots.get_mut(i) {
            *pair = slot_pair(span);
        }
    }

    /// Add a group after the others.
    fn push(&mut self, span: Option<(usize, usize)>) {
        self.slots.push(slot_pair(span));
    }

    /// Room for `len` capture slots (of a match's groups, two per group), none
    /// passed, to be written: in place for as many as this holds (a search that
    /// reuses its `Groups` for the same pattern), else made anew in one go
    /// (`SmallVec::resize` pushes one at a time).
    fn reset_slots(&mut self, len: usize) -> &mut twopass::Slots {
        let groups = len / 2;
        if self.slots.len() == groups {
            self.slots.fill([UNSET; 2]);
        } else {
            self.slots = GroupSlots::from_elem([UNSET; 2], groups);
        }
        self.slots.as_flattened_mut()
    }

    /// Become the groups `spans`; `true`, for a caller that found a match.
    fn set_from(&mut self, spans: impl ExactSizeIterator<Item = Option<(usize, usize)>>) -> bool {
        self.reset_slots(2 * spans.len());
        for (pair, span) in self.slots.iter_mut().zip(spans) {
            *pair = slot_pair(span);
        }
        true
    }

    /// Groups from spans relative to `origin` (as [`Groups::shifted`] gives them).
    fn placed(spans: &[Option<(usize, usize)>], origin: usize) -> Groups {
        let mut groups = Groups::default();
        groups.place(spans, origin);
        groups
    }

    /// Become the groups of spans relative to `origin` (see [`Groups::placed`]).
    fn place(&mut self, spans: &[Option<(usize, usize)>], origin: usize) {
        self.set_from(
            spans
                .iter()
                .map(|span| span.map(|(a, b)| (a + origin, b + origin))),
        );
    }

    /// Every group's span, shifted to start at `origin` (which precedes them all).
    pub fn shifted(&self, origin: usize) -> impl Iterator<Item = Option<(usize, usize)>> + '_ {
        (0..self.slots.len()).map(move |i| self.get(i).map(|(a, b)| (a - origin, b - origin)))
    }
    /// The span from the first start to the last end of the groups but the whole
    /// match (group 0), `None` when none took part.
    pub fn inner_span(&self) -> Option<(usize, usize)> {
        let spans = self
            .slots
            .iter()
            .skip(1)
            .filter(|[start, _]| *start != UNSET);
        let (start, end) = spans.fold((UNSET, 0), |(a, b), [c, d]| (a.min(*c), b.max(*d)));
        (start != UNSET).then_some((start as usize, end as usize))
    }

    pub fn start(&self) -> usize {
        self.get(0).map(|s| s.0).unwrap_or(0)
    }
    pub fn end(&self) -> usize {
        self.get(0).map(|s| s.1).unwrap_or(0)
    }
}

/// The capture slots of a group's span.
fn slot_pair(span: Option<(usize, usize)>) -> SlotPair {
    let slot = |at: usize| {
        debug_assert!(at < UNSET as usize, "a haystack too long for a slot");
        Slot::try_from(at).unwrap_or(UNSET)
    };
    match span {
        Some((start, end)) => [slot(start), slot(end)],
        None => [UNSET; 2],
    }
}

fn linear(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| e.to_string())
}

fn backtracking(pattern: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// A Python pattern translated (see [`prepare`]): the translation, the mode prefix,
/// the main pattern and its linear superset.
type Prepared = (pyre::Translated, &'static str, String, Option<String>);

/// The translation of a Python pattern: the translation, the mode prefix, the main
/// linear pattern and its linear superset.
fn prepare(python: &str, mode: Mode) -> Result<Prepared, PatternError> {
    let dollar = match mode {
        Mode::OverMultiLine => Dollar::EndOrFinalNewline,
        _ => Dollar::BeforeNewline,
    };
    let t = pyre::translate(python, dollar)?;
    let prefix = if mode == Mode::MultiLine { "(?m)" } else { "" };
    let main = format!("{prefix}{}", t.pattern);
    let superset = match &t.screen {
        Some(s) => Some(format!("{prefix}{s}")),
        None if !t.needs_backtracking => Some(main.clone()),
        None => None,
    };
    Ok((t, prefix, main, superset))
}

/// The linear superset [`Pattern::new`] would give, without compiling anything
/// (checks the Python syntax only).
pub fn linear_superset_of(python: &str, mode: Mode) -> Result<Option<String>, PatternError> {
    prepare(python, mode).map(|(_, _, _, superset)| superset)
}

/// The linear form of a Python pattern (Rust syntax), with its groups and its
/// sequence of parts as they are, if it has one: not for a pattern that needs
/// back-tracking, nor one screened by a superset. A back-reference in it is a copy of
/// its group's body (a group of its own), which matches more: this is for reading a
/// pattern's shape, not for matching.
pub fn linear_form_of(python: &str, mode: Mode) -> Option<String> {
    let (t, _, main, _) = prepare(python, mode).ok()?;
    (!t.needs_backtracking && t.screen.is_none()).then_some(main)
}

impl Pattern {
    /// Compile a Python-syntax pattern for the given search mode: on the linear engine
    /// when it, or its unfolded form (see `unfold`), allows.
    pub fn new(python: &str, mode: Mode) -> Result<Pattern, PatternError> {
        let mut pattern = Pattern::compile_linear(python, mode)?;
        if let Some(run) = LeadingRun::of(python, mode).filter(|r| r.rest.names == pattern.names) {
            pattern.leading_run = Some(run);
        }
        Ok(pattern)
    }

    /// [`Pattern::new`] but for its [`LeadingRun`].
    fn compile_linear(python: &str, mode: Mode) -> Result<Pattern, PatternError> {
        // The original is compiled only when no unfolded linear form stands in for it:
        // its back-tracking form (and that form's screen) would be built for nothing,
        // a good part of a filter's start-up.
        let prepared = prepare(python, mode)?;
        if prepared.0.needs_backtracking {
            if let Some(linear) = Pattern::unfolded(python, mode, prepared.3.clone()) {
                return Ok(linear);
            }
        }
        Pattern::compile_prepared(prepared, python)
    }

    /// The linear pattern of the unfolded form of `python` (see `unfold`), when there is
    /// one; `superset` is the original's screen, which stands for the same lines in a
    /// candidate set (the unfolded form can be many times the original's size).
    fn unfolded(python: &str, mode: Mode, superset: Option<String>) -> Option<Pattern> {
        let unfolded = unfold::unfold(python)?;
        let mut linear = Pattern::compile(&unfolded.pattern, python, mode).ok()?;
        if linear.is_backtracking() {
            return None;
        }
        linear.aliases = unfolded
            .aliases
            .iter()
            .filter_map(|(copy, name)| Some((linear.group_index(copy)?, linear.group_index(name)?)))
            .collect();
        linear.end_group = linear.group_index(unfold::END_GROUP);
        linear.superset = superset.or(linear.superset);
        Some(linear)
    }

    /// Compile `python` (the pattern as written is `written`, for errors).
    fn compile(python: &str, written: &str, mode: Mode) -> Result<Pattern, PatternError> {
        Pattern::compile_prepared(prepare(python, mode)?, written)
    }

    /// [`Pattern::compile`] of a pattern already translated by [`prepare`].
    fn compile_prepared(prepared: Prepared, written: &str) -> Result<Pattern, PatternError> {
        let (t, prefix, main, superset) = prepared;
        let compile_err = |message: String| PatternError::Compile {
            pattern: written.to_string(),
            message,
        };
        let engine = if t.needs_backtracking {
            Engine::Backtrack {
                // A screen that does not compile (a quantified look-around, say) is
                // simply not used.
                screen: superset.as_deref().and_then(|s| LinearRe::new(s).ok()),
                re: backtracking(&main).map_err(compile_err)?,
            }
        } else if let Some(bt) = &t.backtracking_pattern {
            let linear = LinearRe::new(&main).map_err(compile_err)?;
            let names = linear.capture_names();
            let index = |n: &str| {
                names
                    .iter()
                    .position(|x| x.as_deref() == Some(n))
                    .unwrap_or(0)
            };
            let pairs = t
                .backref_copies
                .iter()
                .map(|(a, b)| (index(a), index(b)))
                .collect();
            let backtracking = backtracking(&format!("{prefix}{bt}")).map_err(compile_err)?;
            Engine::LinearVerified {
                linear,
                pairs,
                backtracking,
            }
        } else {
            Engine::Linear(LinearRe::new(&main).map_err(compile_err)?)
        };
        let engine_is_linear = matches!(engine, Engine::Linear(_));
        let names: Vec<String> = match &engine {
            Engine::Linear(re) | Engine::LinearVerified { linear: re, .. } => re
                .capture_names()
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            Engine::Backtrack { re, .. } => re
                .capture_names()
                .map(|n| n.unwrap_or("").to_string())
                .collect(),
        };
        Ok(Pattern {
            engine,
            names,
            superset,
            abandoned: AtomicU64::new(0),
            aliases: Vec::new(),
            end_group: None,
            rest_of_line: engine_is_linear.then(|| RestOfLine::of(&main)).flatten(),
            id: LAST_PATTERN_ID.fetch_add(1, Ordering::Relaxed) + 1,
            ascii_classes: OnceLock::new(),
            leading_run: None,
        })
    }

    /// The Rust-syntax pattern this one runs as, when it runs on the linear engine
    /// alone (for checking engines against each other).
    pub fn linear_source(&self) -> Option<&str> {
        match &self.engine {
            Engine::Linear(re) => Some(&re.source),
            _ => None,
        }
    }

    /// Two automata that tell, without a search with groups, that a match takes an
    /// address branch of `<HOST>` (see [`HostBranch`]), where this pattern runs on
    /// the linear engine alone, as written (its groups not copied by unfolding),
    /// and has the shape they need.
    pub(crate) fn host_branch(&self) -> Option<HostBranch> {
        let unfolded = !self.aliases.is_empty() || self.end_group.is_some();
        self.linear_source()
            .filter(|_| !unfolded)
            .and_then(HostBranch::of)
    }

    /// True when this pattern always runs on the back-tracking engine.
    pub fn is_backtracking(&self) -> bool {
        matches!(self.engine, Engine::Backtrack { .. })
    }

    /// True when a search may be given up at the step bound (some of it back-tracks).
    pub fn may_give_up(&self) -> bool {
        !matches!(self.engine, Engine::Linear(_))
    }

    /// A linear-engine pattern (Rust syntax) that matches wherever this one does, if
    /// there is one: for screening many patterns at once with a `RegexSet`.
    pub fn linear_superset(&self) -> Option<&str> {
        self.superset.as_deref()
    }

    /// Whether `hay` holds a match, found without its groups, where this pattern runs
    /// on the linear engine alone; `None` where a search with groups must decide
    /// (back-tracking, or a haystack too long for one).
    pub fn is_match(&self, hay: &str) -> Option<bool> {
        match &self.engine {
            Engine::Linear(re) if TwoPass::fits(hay.as_bytes()) => Some(re.is_match_at(hay, 0)),
            _ => None,
        }
    }

    /// The named groups that take part in every match, each with some text: reached
    /// from the top through concatenations and repetitions of at least one, never
    /// empty. Known without a search; empty where the pattern does not run on the
    /// linear engine as written (back-tracking, or unfolded into copies).
    pub fn groups_in_every_match(&self) -> Vec<String> {
        let mut names = Vec::new();
        let Engine::Linear(re) = &self.engine else {
            return names;
        };
        if !self.aliases.is_empty() || self.end_group.is_some() {
            return names;
        }
        if let Ok(hir) = regex_syntax::Parser::new().parse(&re.source) {
            push_groups_in_every_match(&hir, &mut names);
        }
        names
    }

    /// Names of the groups by index (`""` for unnamed ones and for index 0). Copies
    /// made for back-references are named `__bref…`.
    pub fn group_names(&self) -> &[String] {
        &self.names
    }

    /// Index of a named group.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Search `hay[..end]` from byte offset `start` (Python's `search(s, pos, endpos)`):
    /// context before `start` is visible to look-behind and `\b`, `^` matches only at 0.
    pub fn search_range(&self, hay: &str, start: usize, end: usize) -> Option<Groups> {
        let mut groups = Groups::default();
        self.search_range_into(hay, start, end, &mut groups)
            .then_some(groups)
    }

    /// Build now the automata that searches of ASCII haystacks build on first use:
    /// for a daemon, which compiles them at start instead of on the first lines it
    /// reads, when an attack may be under way. An anchored automaton's states are
    /// still made as lines first reach them (see `anchored`), and what only other
    /// haystacks need (the Unicode form) is built on first use.
    pub fn prepare(&self) {
        // what searches the pattern whole (their two passes) is built on first use
        // where the pattern's shape makes it the exception
        if let Some(split) = &self.rest_of_line {
            return split.prepare();
        }
        if let Some(run) = &self.leading_run {
            return run.prepare();
        }
        match &self.engine {
            Engine::Linear(re) | Engine::LinearVerified { linear: re, .. } => re.prepare(),
            // its screen is only asked whether a line may match: no captures
            Engine::Backtrack { .. } => {}
        }
    }

    /// [`Pattern::search_range`] into `out`, whose allocation is kept (a caller that
    /// keeps its `Groups` searches with no allocation); `false` when there is no match
    /// (`out` is then left in no particular state).
    pub fn search_range_into(&self, hay: &str, start: usize, end: usize, out: &mut Groups) -> bool {
        self.search_range_walks(hay, start, end, out, None, None)
    }

    /// [`Pattern::search_range_into`], the head's walks remembered in `head_walks`
    /// where given (see [`Pattern::search_remembering`]).
    #[inline(always)]
    fn search_range_walks(
        &self,
        hay: &str,
        start: usize,
        end: usize,
        out: &mut Groups,
        head_walks: Option<&mut PrefixWalks<MatchWalk>>,
        lease: Option<&mut twopass::Lease>,
    ) -> bool {
        if self.too_long(hay) {
            return false;
        }
        if let Some(run) = self.leading_run.as_ref().filter(|_| start == 0) {
            return run.search_into(hay, end, out);
        }
        let hay = &hay[..end];
        match &self.engine {
            Engine::Linear(re) => {
                match self
                    .rest_of_line
                    .as_ref()
                    .and_then(|split| split.search(hay, start, head_walks, out))
                {
                    Some(true) => {}
                    Some(false) => return false,
                    None if re.groups_into(hay, start, out, lease) => {}
                    None => return false,
                }
                self.undo_unfolding(out);
                true
            }
            Engine::LinearVerified {
                linear,
                pairs,
                backtracking,
            } => {
                if !linear.groups_into(hay, start, out, lease) {
                    return false;
                }
                let text = |i: usize| out.get(i).map(|(s, e)| &hay[s..e]);
                if pairs.iter().all(|&(a, b)| text(a) == text(b)) {
                    return true;
                }
                let Some(caps) = self.bounded(backtracking.captures_from_pos(hay, start)) else {
                    return false;
                };
                // Map the back-tracking form's groups onto this pattern's numbering.
                out.reset_slots(2 * self.names.len());
                for (i, name) in backtracking.capture_names().enumerate() {
                    let target = match name {
                        None if i == 0 => Some(0),
                        None => None,
                        Some(n) => self.group_index(n),
                    };
                    if let Some(t) = target {
                        out.set(t, caps.get(i).map(|m| (m.start(), m.end())));
                    }
                }
                true
            }
            Engine::Backtrack { screen, re } => {
                if screen.as_ref().is_some_and(|s| !s.is_match_at(hay, start)) {
                    return false;
                }
                match self.bounded(re.captures_from_pos(hay, start)) {
                    Some(caps) => {
                        let span = |i| caps.get(i).map(|m| (m.start(), m.end()));
                        out.set_from((0..caps.len()).map(span))
                    }
                    None => false,
                }
            }
        }
    }

    /// A linear match's groups as this pattern's source numbers them (see `unfold`):
    /// a copied group's span reported under the original's number, and the match
    /// ended where an unfolded look-ahead begins.
    fn undo_unfolding(&self, out: &mut Groups) {
        for &(copy, original) in &self.aliases {
            if let Some(span) = out.get(copy) {
                out.set(original, Some(span));
            }
        }
        if let Some((end, _)) = self.end_group.and_then(|i| out.get(i)) {
            out.set(0, Some((out.start(), end)));
        }
    }

    /// A back-tracking search result; one that hit the step bound counts as no match
    /// and is counted.
    fn bounded<'h>(
        &self,
        r: Result<Option<fancy_regex::Captures<'h>>, fancy_regex::Error>,
    ) -> Option<fancy_regex::Captures<'h>> {
        r.unwrap_or_else(|_| {
            self.abandoned.fetch_add(1, Ordering::Relaxed);
            None
        })
    }

    /// Whether `hay` is too long for its positions to be held as groups' spans (4 GiB
    /// or more, where a daemon's lines are at most 64 KiB): its search is given up
    /// and counted, as one past the back-tracking step bound is.
    fn too_long(&self, hay: &str) -> bool {
        if TwoPass::fits(hay.as_bytes()) {
            return false;
        }
        self.abandoned.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// How many searches were given up at the back-tracking step bound.
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// [`Pattern::search_range`] for patterns that often match alike texts (dates):
    /// the match is found without captures, and when its text is the last match's —
    /// or, on ASCII haystacks, reads as it byte for byte (see
    /// `Pattern::ascii_classes`) — and the characters around it are the same, the
    /// groups are the last match's.
    ///
    /// Why that is exact: on the linear engine, the groups of a match are found by a
    /// search confined to the match's span, in which only the characters next to the
    /// span are visible (to `\b`, `^`, `$`). The same text in the same surroundings
    /// gives the same groups; so does a text whose every byte is in the same class as
    /// the last one's, as the automaton's every step is the same for both. What is
    /// kept is the groups as the source numbers them (after `undo_unfolding`, which
    /// reads the match's groups alone): a date pattern with a back-reference is
    /// unfolded, and its matches are remembered too. So are those of a pattern whose
    /// linear form has the back-reference's group copied (`LinearVerified`), when
    /// the copy's text is the group's: by the same text only (see
    /// `Pattern::ascii_classes`), as a text read alike may differ there.
    pub fn search_range_memo(
        &self,
        hay: &str,
        start: usize,
        end: usize,
        memo: &mut MatchMemo,
    ) -> Option<Groups> {
        if self.too_long(hay) {
            return None;
        }
        if let Some(run) = self.leading_run.as_ref().filter(|_| start == 0) {
            return run.search_memo(hay, end, memo);
        }
        let Some(form) = self.memo_form() else {
            return self.search_range(hay, start, end);
        };
        let hay = &hay[..end];
        // no match of the linear form, none of a pattern it stands for
        let span = form.0.find_at(hay, start)?;
        self.groups_of_span_memo(form, hay, start, span, memo)
    }

    /// The linear form a search with a memo finds matches with, and the copies of
    /// back-referenced groups whose texts must agree (`LinearVerified`); `None` for a
    /// pattern searched without a memo.
    fn memo_form(&self) -> Option<MemoForm<'_>> {
        match &self.engine {
            _ if self.rest_of_line.is_some() => None,
            Engine::Linear(re) => Some((re, None)),
            Engine::LinearVerified { linear, pairs, .. } => Some((linear, Some(pairs))),
            Engine::Backtrack { .. } => None,
        }
    }

    /// The groups of the match at `(s, e)` of `hay` that this pattern's linear form
    /// `(re, copies)` (its [`Pattern::memo_form`]) finds searching from `start`, from
    /// `memo` when that holds a match alike (see [`Pattern::search_range_memo`]).
    fn groups_of_span_memo(
        &self,
        (re, copies): MemoForm<'_>,
        hay: &str,
        start: usize,
        (s, e): (usize, usize),
        memo: &mut MatchMemo,
    ) -> Option<Groups> {
        let text = &hay[s..e];
        let around = (hay[..s].chars().next_back(), hay[e..].chars().next());
        let classes = self.ascii_classes().filter(|_| hay.is_ascii());
        let reads_alike = match classes.filter(|_| memo.ascii) {
            Some(classes) => {
                memo.text.len() == text.len()
                    && (memo.text.bytes().zip(text.bytes()))
                        .all(|(a, b)| classes.get(a) == classes.get(b))
            }
            None => memo.text == text,
        };
        if memo.pattern != self.id || !reads_alike || memo.around != around {
            let mut g = re.groups_of_match(hay, start, (s, e))?;
            let text_of = |i: usize| g.get(i).map(|(a, b)| &hay[a..b]);
            if copies.is_some_and(|c| c.iter().any(|&(a, b)| text_of(a) != text_of(b))) {
                // the back-reference decides (see `search_range_into`): not remembered
                memo.pattern = 0;
                return self.search_range(hay, start, hay.len());
            }
            // what the memo keeps is what the groups become: the same for the same key
            self.undo_unfolding(&mut g);
            memo.pattern = self.id;
            memo.text.clear();
            memo.text.push_str(text);
            memo.ascii = classes.is_some();
            memo.around = around;
            memo.spans.clear();
            memo.spans.extend(g.shifted(s));
            return Some(g);
        }
        Some(Groups::placed(&memo.spans, s))
    }

    /// The byte classes of the automaton of a linear pattern's ASCII form (which
    /// searches ASCII haystacks): two bytes of one class are told apart by none of its
    /// transitions nor assertions.
    fn ascii_classes(&self) -> Option<&ByteClasses> {
        let Engine::Linear(re) = &self.engine else {
            return None;
        };
        self.ascii_classes
            .get_or_init(|| {
                re.ascii.as_ref()?;
                // the syntax of the ASCII form (see `LinearRe::new`)
                let syntax = regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false);
                let nfa = thompson::Compiler::new()
                    .syntax(syntax)
                    .configure(thompson::Config::new().utf8(false))
                    .build(&re.source)
                    .ok()?;
                Some(*nfa.byte_classes())
            })
            .as_ref()
    }

    /// Search the whole of `hay`.
    pub fn search(&self, hay: &str) -> Option<Groups> {
        self.search_range(hay, 0, hay.len())
    }

    /// [`Pattern::search_range_into`] over the whole of `hay`, for a caller that
    /// searches every line with this pattern (a prefregex): where the head's
    /// automaton was after the first bytes of recent lines is kept in `head_walks`
    /// (see [`PrefixWalks`]), which serves this pattern only.
    pub(crate) fn search_remembering(
        &self,
        hay: &str,
        head_walks: &mut PrefixWalks<MatchWalk>,
        out: &mut Groups,
    ) -> bool {
        self.search_range_walks(hay, 0, hay.len(), out, Some(head_walks), None)
    }

    /// [`Pattern::search_range_into`] over the whole of `hay`, for a caller that
    /// searches with this pattern line after line and keeps the memory of its two
    /// passes in `lease` (see [`twopass::Lease`]).
    pub(crate) fn search_leased(
        &self,
        hay: &str,
        out: &mut Groups,
        lease: &mut twopass::Lease,
    ) -> bool {
        self.search_range_walks(hay, 0, hay.len(), out, None, Some(lease))
    }
}

/// [`Pattern::groups_in_every_match`] under `hir`, onto `names`.
fn push_groups_in_every_match(hir: &regex_syntax::hir::Hir, names: &mut Vec<String>) {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Concat(parts) => parts
            .iter()
            .for_each(|part| push_groups_in_every_match(part, names)),
        HirKind::Repetition(rep) if rep.min >= 1 => push_groups_in_every_match(&rep.sub, names),
        HirKind::Capture(capture) => {
            let has_text = capture.sub.properties().minimum_len().unwrap_or(0) > 0;
            if let Some(name) = capture.name.as_deref().filter(|_| has_text) {
                names.push(name.to_string());
            }
            push_groups_in_every_match(&capture.sub, names);
        }
        // an alternation's branches, an optional part: not in every match
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only groups on every path of a match, with some text, are in every match; a
    /// back-tracking pattern's are not looked for.
    #[test]
    fn groups_in_every_match_are_those_no_branch_or_option_can_skip() {
        let every = |p: &str| {
            Pattern::new(p, Mode::SingleLine)
                .unwrap()
                .groups_in_every_match()
        };
        assert_eq!(
            every(r"^(?P<a>x)(?:(?P<b>y))+ (?P<c>z)? (?P<d>u|v) (?P<e>w*) (?P<f>(?P<g>t)|s)$"),
            ["a", "b", "d", "f"]
        );
        assert!(every(r"^(?P<a>x)(?=y)").is_empty());
        let linear = Pattern::new(r"^(?P<a>x) \d+$", Mode::SingleLine).unwrap();
        assert_eq!(linear.is_match("x 12"), Some(true));
        assert_eq!(linear.is_match("x y"), Some(false));
        assert_eq!(
            Pattern::new(r"^(?P<a>x)(?=y)", Mode::SingleLine)
                .unwrap()
                .is_match("xy"),
            None
        );
    }

    /// A haystack of 4 GiB or more cannot be held in the groups' 32-bit positions:
    /// its search is given up and counted, never answered with wrapped spans. (The
    /// buffer is zeroed memory, mapped as it is read, not allocated.)
    #[test]
    fn a_haystack_too_long_for_the_groups_is_given_up_and_counted() {
        let p = Pattern::new(r"^user (?P<u>\w+)", Mode::SingleLine).unwrap();
        assert!(p.search("user bob").is_some());
        let mut long = vec![0u8; UNSET as usize];
        long[..8].copy_from_slice(b"user bob");
        let hay = std::str::from_utf8(&long).unwrap();
        assert!(p.search(hay).is_none());
        assert_eq!(p.abandoned(), 1);
        let memo = &mut MatchMemo::default();
        assert!(p.search_range_memo(hay, 0, hay.len(), memo).is_none());
        assert_eq!(p.abandoned(), 2);
        assert!(
            p.search("user bob").is_some(),
            "a short line is searched again"
        );
    }

    #[test]
    fn ascii_and_unicode_lines_match_as_python_does() {
        let p = Pattern::new(r"user (?P<u>\w+) from (?P<h>\S+)\s*$", Mode::SingleLine).unwrap();
        let u = |line: &str| {
            let g = p.search(line)?;
            let (s, e) = g.get(p.group_index("u")?)?;
            Some(line[s..e].to_string())
        };
        assert_eq!(u("user bob from 192.0.2.1").as_deref(), Some("bob"));
        // Unicode classes for a line that is not ASCII, like Python's str patterns
        assert_eq!(u("user jösé from 192.0.2.1").as_deref(), Some("jösé"));
        assert_eq!(u("user x from 192.0.2.1\u{3000}").as_deref(), Some("x"));
        let digits = Pattern::new(r"^\d+$", Mode::SingleLine).unwrap();
        assert!(digits.search("123").is_some());
        assert!(
            digits.search("\u{661}\u{662}").is_some(),
            "Arabic-Indic digits are digits"
        );
        assert!(digits.search("12a").is_none());
    }

    #[test]
    fn a_head_seen_again_gets_its_groups_where_it_is() {
        // A group inside the head: its groups are searched, then remembered.
        let pref = Pattern::new(
            r"^(?P<mlfid>(?P<host>\S+) (?:\S+\[\d+\]: )?)(?P<content>.+)$",
            Mode::SingleLine,
        )
        .unwrap();
        let split = pref.rest_of_line.as_ref().unwrap();
        assert!(matches!(split.head_groups, HeadGroups::Searched(_)));
        let mlfid = pref.group_index("mlfid").unwrap();
        let host = pref.group_index("host").unwrap();
        let content = pref.group_index("content").unwrap();
        for _ in 0..3 {
            let line = "host sshd[42]: Failed password\n";
            let g = pref.search(line).unwrap();
            assert_eq!(g.get(mlfid), Some((0, 15)));
            assert_eq!(g.get(host), Some((0, 4)));
            assert_eq!(g.get(content), Some((15, 30)));
            let other = "host sshd[42]: Accepted\n";
            assert_eq!(pref.search(other).unwrap().get(content), Some((15, 23)));
            let elsewhere = "mail01 sshd[42]: Accepted\n";
            let g = pref.search(elsewhere).unwrap();
            assert_eq!(
                (g.get(host), g.get(content)),
                (Some((0, 6)), Some((17, 25)))
            );
        }
        // The same head text, where an assertion sees the next character: the
        // groups differ, and so must what is remembered.
        let looks = Pattern::new(
            r"^(?:(?P<a>x)\b|(?P<b>x))(?P<content>.+)$",
            Mode::SingleLine,
        )
        .unwrap();
        assert!(looks.rest_of_line.is_some());
        let (a, b) = (
            looks.group_index("a").unwrap(),
            looks.group_index("b").unwrap(),
        );
        for _ in 0..3 {
            let g = looks.search("x y\n").unwrap();
            assert_eq!((g.get(a), g.get(b)), (Some((0, 1)), None));
            let g = looks.search("xyz\n").unwrap();
            assert_eq!((g.get(a), g.get(b)), (None, Some((0, 1))));
        }
    }

    #[test]
    fn prepare_builds_what_the_first_ascii_search_would_and_no_more() {
        let built = |p: &Pattern| {
            let Engine::Linear(re) = &p.engine else {
                panic!("a linear pattern")
            };
            let head = p.rest_of_line.as_ref().map(|r| r.head_dfa.get().is_some());
            (
                re.two_pass.get().is_some(),
                head,
                re.unicode.get().is_some(),
            )
        };
        let pref = Pattern::new(
            r"^(?P<mlfid>\S+ \S+\[\d+\]: )(?P<content>.+)$",
            Mode::SingleLine,
        )
        .unwrap();
        let fail = Pattern::new(
            r"^Failed \S+ for (?P<user>\S+) from (?P<host>\S+)",
            Mode::SingleLine,
        )
        .unwrap();
        assert_eq!(built(&pref), (false, Some(false), false));
        assert_eq!(built(&fail), (false, None, false));
        pref.prepare();
        fail.prepare();
        // the head's automaton and the captures' two passes; the Unicode form waits
        // for a line that needs it
        assert_eq!(built(&pref), (false, Some(true), false));
        assert_eq!(built(&fail), (true, None, false));
        // The head's two passes only where its groups are searched: not for one
        // group around the whole head (whose span is the head's match)…
        let head_two_pass = |p: &Pattern| {
            let split = p.rest_of_line.as_ref().expect("a rest-of-line pattern");
            split.head.two_pass.get().is_some()
        };
        assert!(!head_two_pass(&pref));
        // …but for groups inside it
        let inner = Pattern::new(
            r"^(?P<mlfid>\S+ \S+\[(?P<pid>\d+)\]: )(?P<content>.+)$",
            Mode::SingleLine,
        )
        .unwrap();
        assert!(!head_two_pass(&inner));
        inner.prepare();
        assert!(head_two_pass(&inner));
        let line = "host sshd[42]: Failed password for root from 192.0.2.1\n";
        let content = pref.search(line).unwrap().get(2).unwrap();
        let g = fail.search(&line[content.0..]).unwrap();
        assert_eq!(
            g.get(2).map(|(s, e)| &line[content.0 + s..content.0 + e]),
            Some("192.0.2.1")
        );
    }

    #[test]
    fn rest_of_line_tail_is_searched_as_the_head_alone() {
        let pref = Pattern::new(
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?P<content>.+)$",
            Mode::SingleLine,
        )
        .unwrap();
        assert!(
            pref.rest_of_line.is_some(),
            "Fail2ban's prefregex shape is split"
        );
        let line = "host sshd[42]: Failed password\n";
        let g = pref.search(line).unwrap();
        let text = |g: &Groups, name| {
            g.get(pref.group_index(name).unwrap())
                .map(|(s, e)| &line[s..e])
        };
        assert_eq!(text(&g, "mlfid"), Some("host sshd[42]: "));
        assert_eq!(text(&g, "content"), Some("Failed password"));
        assert_eq!((g.start(), g.end()), (0, line.len() - 1));
        // The head's first choice leaves nothing for `.+`: the whole pattern decides,
        // taking a shorter head.
        let greedy = Pattern::new(r"^(?P<a>a+|b)(?P<content>.+)$", Mode::SingleLine).unwrap();
        assert!(greedy.rest_of_line.is_some());
        let g = greedy.search("aaa\n").unwrap();
        assert_eq!(g.get(1), Some((0, 2)));
        assert_eq!(g.get(2), Some((2, 3)));
        assert!(greedy.search("b\n").is_none());
        // not the shape: an alternation at the top, a tail that is not the rest
        for p in [r"^a|b(?P<c>.+)$", r"^a(?P<c>.+)x$", r"^a(?P<c>[^x]+)$"] {
            assert!(
                Pattern::new(p, Mode::SingleLine)
                    .unwrap()
                    .rest_of_line
                    .is_none(),
                "{p}"
            );
        }
    }

    /// A match's groups, as a comparable list.
    type Spans = Option<Vec<Option<(usize, usize)>>>;

    /// Every group of `p`'s match in each line, split and as the whole pattern's
    /// capture search gives them.
    fn split_and_whole(p: &Pattern, lines: &[&str]) -> Vec<(Spans, Spans)> {
        let whole = LinearRe::new(p.linear_source().unwrap()).unwrap();
        let spans = |g: Groups| g.shifted(0).collect::<Vec<_>>();
        lines
            .iter()
            .map(|line| (p.search(line).map(spans), whole.groups(line, 0).map(spans)))
            .collect()
    }

    #[test]
    fn literal_texts_between_head_and_rest_of_line_are_byte_checks() {
        let lines = [
            "host sshd[1]: Failed password\n",
            "host sshd[1]: error: PAM: Authentication failure",
            "host sshd[1]: error: PAM: ",
            "host sshd[1]: error: PAM: \nnext",
            "host sshd[1]: error: ",
            "host sshd[1]: error: \n",
            "host sshd[1]: fatal: x",
            "host sshd[1]: fatal: PAM:",
            "host sshd[1]: errorx",
            "host sshd[1]: ",
            "host sshd[1]: \nerror: y",
            "host x",
            "héllo wörld error: é",
        ];
        let sshd =
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?:(?:error|fatal): (?:PAM: )?)?(?P<content>.+)$";
        let ferroban_sshd =
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?:(?:error|fatal): )?(?:PAM: )?(?P<content>.+)$";
        let ungrouped = r"^\S+ (?:\S+\[\d+\]: )?(?:(?:error|fatal): )?(?P<content>.+)$";
        let shapes = [
            sshd,
            // the rest may be empty; the texts tried shortest first; not optional
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?:(?:error|fatal): (?:PAM: )?)?(?P<content>.*)$",
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?:(?:error|fatal): (?:PAM: )??)??(?P<content>.+)$",
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?:error: |fatal: )(?P<content>.+)$",
            // a head with groups of its own, found by a search
            r"^(?P<mlfid>(?P<host>\S+) (?:\S+\[\d+\]: )?)(?:(?:error|fatal): )?(?P<content>.+)$",
            // several pieces between (ferroban's sshd), one of them lazy
            ferroban_sshd,
            // a head without groups (ferroban's postfix: no F-MLFID)
            ungrouped,
            r"^(?P<mlfid>\S+ (?:\S+\[\d+\]: )?)(?:(?:error|fatal): )??(?:PAM: )?(?P<content>.+)$",
        ];
        for shape in shapes {
            let p = Pattern::new(shape, Mode::SingleLine).unwrap();
            let split = p.rest_of_line.as_ref().expect(shape);
            assert!(split.between.len() > 1, "{shape}");
            for _ in 0..2 {
                for (line, (got, want)) in lines.iter().zip(split_and_whole(&p, &lines)) {
                    assert_eq!(got, want, "{shape} on {line:?}");
                }
            }
        }
        // a head ending in a literal (split before it), and a zero-width item after a
        // head that is one group around all it matches
        let more_lines = [lines.as_slice(), &["host\tsshd[1]: x", "host  x", "host"]].concat();
        for shape in [
            r"^(?P<mlfid>\S+) (?P<content>.+)$",
            r"^(?P<mlfid>\S+)\b(?P<content>.+)$",
        ] {
            let p = Pattern::new(shape, Mode::SingleLine).unwrap();
            assert!(p.rest_of_line.is_some(), "{shape}");
            for _ in 0..2 {
                let found = more_lines.iter().zip(split_and_whole(&p, &more_lines));
                for (line, (got, want)) in found {
                    assert_eq!(got, want, "{shape} on {line:?}");
                }
            }
        }
        for shape in [sshd, ferroban_sshd] {
            // the head is the prefix group alone: its groups are never searched
            let p = Pattern::new(shape, Mode::SingleLine).unwrap();
            let split = p.rest_of_line.as_ref().unwrap();
            assert!(
                matches!(split.head_groups, HeadGroups::AroundAll),
                "{shape}"
            );
        }
        let p = Pattern::new(ungrouped, Mode::SingleLine).unwrap();
        let split = p.rest_of_line.as_ref().unwrap();
        assert!(matches!(split.head_groups, HeadGroups::Ungrouped));
        let p = Pattern::new(sshd, Mode::SingleLine).unwrap();
        let content = |line: &str| {
            let (s, e) = p.search(line)?.get(p.group_index("content")?)?;
            Some(line[s..e].to_string())
        };
        assert_eq!(content(lines[1]).as_deref(), Some("Authentication failure"));
        assert_eq!(content(lines[2]).as_deref(), Some("PAM: "));
        assert_eq!(content(lines[4]).as_deref(), Some("error: "));
        // the head's first choice leaves nothing: the whole pattern takes a shorter head
        assert_eq!(content(lines[9]).as_deref(), Some("sshd[1]: "));
    }

    #[test]
    fn memo_reuses_groups_only_for_the_same_text_in_the_same_surroundings() {
        let p = Pattern::new(r"(?:(?P<a>x)\B|(?P<b>x))", Mode::SingleLine).unwrap();
        let mut memo = MatchMemo::default();
        let which = |g: Option<Groups>| g.map(|g| (g.get(1), g.get(2)));
        assert_eq!(
            which(p.search_range_memo("-xy", 0, 3, &mut memo)),
            Some((Some((1, 2)), None))
        );
        // same text "x", another character after it: not the memo's groups
        assert_eq!(
            which(p.search_range_memo("--x ", 0, 4, &mut memo)),
            Some((None, Some((2, 3))))
        );
        // same text and surroundings, elsewhere in the line: the memo's groups, moved
        assert_eq!(
            which(p.search_range_memo("---x ", 0, 5, &mut memo)),
            Some((None, Some((3, 4))))
        );
        assert!(p.search_range_memo("abc", 0, 3, &mut memo).is_none());
    }

    #[test]
    fn memo_reuses_groups_for_a_text_of_the_same_byte_classes() {
        let p = Pattern::new(r"(?:(?P<low>[0-5])|(?P<high>[6-9]))x", Mode::SingleLine).unwrap();
        let mut memo = MatchMemo::default();
        let mut groups_of = |line: &str| {
            let g = p.search_range_memo(line, 0, line.len(), &mut memo);
            let which = g.map(|g| (g.get(1).is_some(), g.get(2).is_some()));
            (which, memo.text.clone())
        };
        assert_eq!(groups_of("3x"), (Some((true, false)), "3x".into()));
        // the same classes: the last match's groups, from the memo
        assert_eq!(groups_of("4x"), (Some((true, false)), "3x".into()));
        assert_eq!(groups_of("7x"), (Some((false, true)), "7x".into()));
        // not ASCII: the text itself decides
        assert_eq!(groups_of("é 8x"), (Some((false, true)), "8x".into()));
        assert_eq!(groups_of("é 2x"), (Some((true, false)), "2x".into()));
        // Dates of a log, one after the other, as a search without the memo finds them.
        let date = Pattern::new(
            r"(?P<b>[A-Z][a-z]{2}) +(?P<d>[0-3]?\d) (?P<H>[0-2]?\d):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?(?: (?P<Y>\d{4}))?",
            Mode::SingleLine,
        )
        .unwrap();
        let lines = [
            "Feb 23 00:00:03 host",
            "Feb 23 00:00:04 host",
            "Feb 23 00:00:59 host",
            "Feb 23 00:01:00 host",
            "Feb 23 00:01:69 host",
            "Feb 23 00:01 2026 x",
            "Feb  3 00:01:00 host",
            "Feb 13 00:01:00 2026",
            "Feb 13 00:01:00 20261",
            "Feb 13 10:01:00 host",
            "Feb 13 90:01:00 host",
            "Mar 13 10:01:00 hé",
            "Mar 13 10:01:01 h",
            "x Mar 13 10:01:02",
            "Mar 13 10:01:03",
        ];
        let mut memo = MatchMemo::default();
        for line in lines {
            let spans = |g: Groups| g.shifted(0).collect::<Vec<_>>();
            assert_eq!(
                date.search_range_memo(line, 0, line.len(), &mut memo)
                    .map(spans),
                date.search(line).map(spans),
                "{line}"
            );
        }
    }

    #[test]
    fn step_bound_abandons_and_counts() {
        // The look-behind can never hold after the a's, so every way of splitting them
        // (exponentially many) is tried.
        let p = Pattern::new(r"^(a|aa)+(?<!a)b|^c", Mode::SingleLine).unwrap();
        assert!(p.is_backtracking());
        assert!(p.search("c").is_some());
        // the linear screen turns away lines that cannot match: no back-tracking
        assert!(p.search(&"a".repeat(20_000)).is_none());
        assert_eq!(p.abandoned(), 0);
        // this one passes the screen, then back-tracks until the bound gives it up
        let hostile = format!("{}b", "a".repeat(20_000));
        assert!(p.search(&hostile).is_none());
        assert_eq!(p.abandoned(), 1);
    }

    #[test]
    fn a_leading_run_is_searched_from_its_first_stop_byte_only_where_that_is_exact() {
        let run = |p: &str| LeadingRun::of(p, Mode::SingleLine).map(|r| r.byte);
        assert_eq!(run(r"^[^\[]*\[(?P<d>\d+)/"), Some(b'['));
        assert_eq!(run(r"^[^\[]*(\[(?P<d>\d+)\s*\])"), Some(b'['));
        assert_eq!(run(r"^[^-]*-(?:-|-x)"), Some(b'-'));
        assert_eq!(run(r"(?iu)^[^\[]*\[(?P<b>feb)"), Some(b'['));
        assert_eq!(run(r"(?m)^[^\[]*\[b"), None);
        assert_eq!(run(r"(?x)^[^\[]*\[b"), None);
        // R may begin with another byte, or the run is lazy, or X is a letter
        assert_eq!(run(r"^[^\[]*(?:\[|a)b"), None);
        assert_eq!(run(r"^[^\[]*\[?b"), None);
        assert_eq!(run(r"^[^\[]*?\[b"), None);
        assert_eq!(run(r"^[^a]*ab"), None);
        assert_eq!(run(r"^[^\d]*\d"), None);
        assert_eq!(
            LeadingRun::of(r"^[^\[]*\[b", Mode::MultiLine).map(|r| r.byte),
            None
        );
    }

    #[test]
    fn a_pattern_with_a_leading_run_matches_as_searched_whole() {
        let patterns = [
            r"^[^\[]*\[(?P<d>\d{2})/(?P<b>[A-Z][a-z]{2})/(?P<y>\d{4})",
            r"^[^\[]*(\[(?P<d>\d{2})(?P<_sep>[-/])[A-Z][a-z]{2}(?P=_sep)\d{4}\s*\])",
            r"^[^\[]*\[(?P<x>\d+)?\]",
            r"(?iu)^[^\[]*\[(?P<d>\d{2})(?P<_sep>[-/])(?P<b>jan|feb|mar)(?P=_sep)(?P<y>\d{4})",
        ];
        let lines = [
            "83.77.202.167 - - [23/Feb/2026:22:40:00 +0900] \"GET / HTTP/1.1\"",
            "9.2.1.10 - - [23/Feb/2026:22:40:00 +0900] \"GET / HTTP/1.1\"",
            "[01/Jan/2025] at the start",
            "a [x] then [12/Mar/2024 ] later: the first [ decides, no match",
            "no bracket at all",
            "",
            "[]",
            "[",
            "é ü [23-Feb-2026 ] non-ASCII before",
            // the back-reference's copy differs, then agrees, in either separator
            "1.2.3.4 - - [23/Feb-2026 ]",
            "1.2.3.4 - - [23-Feb-2026 ]",
            "1.2.3.4 - - [23-Feb/2026 ]",
            "1.2.3.4 - - [23/Feb/2026 ]",
            "1.2.3.4 - - [23/Feb/2026 ]",
            // a byte the ASCII automaton cannot read, in the date and after it
            "1.2.3.4 - - [23/Fé/2026 ]",
            "1.2.3.4 - - [23/Feb/2026 é]",
        ];
        for source in patterns {
            let with_run = Pattern::new(source, Mode::SingleLine).unwrap();
            assert!(with_run.leading_run.is_some(), "{source}");
            let whole = Pattern::compile_linear(source, Mode::SingleLine).unwrap();
            let (mut memo, mut whole_memo) = (MatchMemo::default(), MatchMemo::default());
            for line in lines {
                let spans = |g: Option<Groups>| g.map(|g| g.shifted(0).collect::<Vec<_>>());
                let expected = spans(whole.search(line));
                assert_eq!(
                    spans(with_run.search(line)),
                    expected,
                    "{source} on {line:?}"
                );
                let memo_found = with_run.search_range_memo(line, 0, line.len(), &mut memo);
                assert_eq!(
                    spans(memo_found),
                    expected,
                    "{source} on {line:?}, remembered"
                );
                let whole_found = whole.search_range_memo(line, 0, line.len(), &mut whole_memo);
                assert_eq!(spans(whole_found), expected, "{source} on {line:?}, whole");
                // searched from further on, `^` cannot hold: the run is not used
                let later = spans(whole.search_range(line, 1, line.len()));
                assert_eq!(spans(with_run.search_range(line, 1, line.len())), later);
            }
        }
        // the first pattern's match on the first line: whole match from 0, date groups
        let p = Pattern::new(patterns[0], Mode::SingleLine).unwrap();
        let g = p.search(lines[0]).unwrap();
        assert_eq!(g.get(0), Some((0, 30)));
        assert_eq!(g.get(1), Some((19, 21)));
    }

    /// A caller's own memory for the capture passes gives what the engine's own
    /// gives, line after line, and serves whichever pattern it is handed to.
    #[test]
    fn a_search_with_a_leased_memory_finds_what_one_without_finds() {
        let sources = [
            r"^Failed (?:password|publickey) for (?:invalid user )?(?P<user>\S+) from (?P<host>\d+(?:\.\d+){3})(?: port \d+)?(?: ssh\d*)?\s*$",
            r"^(?:Connection closed|Disconnected) (?:by|from)(?: user (\S+)|(.*?))? (?P<host>\d+(?:\.\d+){3})(?: port \d+)?\s+\[preauth\]\s*$",
            // the same bytes told apart, other groups: one memory serving both would
            // hand the second the first's
            r"^(\w+) (\w+)$",
            r"^(\w+ \w+)$",
        ];
        let lines = [
            "Failed password for root from 192.0.2.1 port 22 ssh2",
            "Failed password for invalid user admin from 198.51.100.7 port 4022 ssh2",
            "Failed publickey for git from 203.0.113.9",
            "Connection closed by 192.0.2.1 port 22 [preauth]",
            "Disconnected from user bob 192.0.2.4 port 5 [preauth]",
            "Disconnected from 192.0.2.4 port 5",
            "Failed password for root from 192.0.2.1 port 22 ssh2",
            "nothing to see",
            "Failed password for é from 192.0.2.1 port 22 ssh2",
            "ab cd",
        ];
        let patterns = sources.map(|s| Pattern::new(s, Mode::SingleLine).unwrap());
        let spans = |g: &Groups| g.shifted(0).collect::<Vec<_>>();
        let mut shared = twopass::Lease::default();
        let mut own = sources.map(|_| twopass::Lease::default());
        // twice over: the second round is answered from what the leases remember
        for _ in 0..2 {
            for line in lines {
                for (p, lease) in patterns.iter().zip(own.iter_mut()) {
                    let expected = p.search(line);
                    let mut g = Groups::default();
                    let found = p.search_leased(line, &mut g, lease);
                    assert_eq!(found, expected.is_some(), "{line:?}");
                    let mut h = Groups::default();
                    assert_eq!(p.search_leased(line, &mut h, &mut shared), found);
                    if let Some(expected) = &expected {
                        assert_eq!(spans(&g), spans(expected), "{line:?}");
                        assert_eq!(spans(&h), spans(expected), "{line:?}, shared lease");
                    }
                }
            }
        }
        // the leases were used (the searches went through the two passes)
        assert!(own.iter().all(twopass::Lease::is_used) && shared.is_used());
    }
}
