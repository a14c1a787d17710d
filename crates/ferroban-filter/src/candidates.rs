//! Which failregexes could match a buffer, found in one pass.
//!
//! Owns an automaton over the linear supersets of a filter's failregexes (each the
//! failregex itself when it runs on the linear engine), each cut before its first
//! run of any text (see `head`): one pass over the start of the buffer names the
//! failregexes worth a search with captures; the others cannot match and are
//! skipped. When every cut pattern is anchored at the buffer's start (`\A`, which is
//! `^` in single-line mode), that automaton is read from the first byte until it
//! dies, its states made as lines first reach them (see `anchored`); otherwise a
//! `RegexSet` searches the buffer. Each failregex anchored at the buffer's end (`$`)
//! has a second automaton, of its part after its last run of any text, read
//! backwards from the end (see `tail`), which the engine asks where a search of a
//! buffer has already been made. It does not capture anything or decide the
//! order in which failregexes are tried (the engine does, as Fail2ban does).

use std::sync::OnceLock;

use regex::bytes::{RegexSet, RegexSetBuilder};
use regex_syntax::hir::{Hir, HirKind};
use smallvec::SmallVec;

use crate::anchored::{ends_anchored, AnchoredDfa, EachMatchWalk, PrefixWalks};

/// A head shorter than this (in bytes, at least) tells too few buffers apart: the
/// whole pattern is kept.
const MIN_HEAD_LEN: usize = 3;

/// The failregexes' supersets, searched together.
#[derive(Debug)]
pub struct Candidates {
    search: SetSearch,
    /// Per failregex: its head is the whole of its superset (nothing was cut).
    uncut: Vec<bool>,
    /// Where the automaton's walks of recent buffers' first bytes left off.
    prefix_walks: PrefixWalks<EachMatchWalk>,
    /// The failregexes' tails, where any has one.
    tails: Option<Tails>,
}

/// The parts of the failregexes anchored at the buffer's end after their last run of
/// any text, each with an automaton read backwards.
///
/// Why one automaton per tail, made when first asked for: a walk is asked about one
/// failregex, and stops where that one's tail can no longer match. An automaton of
/// all the tails walks on while any can: over sshd's closes, to the address and past
/// it, where the one asked about dies within the `[preauth]` it lacks.
#[derive(Debug)]
struct Tails {
    /// Per failregex: its tail, if it has one.
    of: Vec<Option<Tail>>,
}

#[derive(Debug)]
struct Tail {
    hir: Hir,
    /// Its automaton, once asked for (`None` inside: it could not be made).
    dfa: OnceLock<Option<AnchoredDfa>>,
}

/// How the cut patterns are searched.
#[derive(Debug)]
enum SetSearch {
    /// Every cut pattern matches only at the buffer's start: an automaton reporting
    /// every pattern whose match starts there, read from the buffer's start until it
    /// dies.
    ///
    /// Why that is exact: a head that begins with `\A` matches only at offset 0, and
    /// an anchored automaton reporting all matches reaches a match state for every
    /// pattern with a match starting there (whatever its length) before it dies. `^`
    /// is `\A` there exactly when Fail2ban reads it so: it compiles failregexes with
    /// `re.MULTILINE` only when maxlines is above 1, and the engine then prefixes them
    /// with `(?m)`, whose `^` (`Look::StartLF`, holding after every newline of a
    /// multi-line buffer) keeps the general set.
    FromStart(Box<AnchoredDfa>),
    /// A match may start anywhere.
    Anywhere(RegexSet),
}

/// The failregexes (by index) that may match a buffer, as bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Possible {
    words: SmallVec<[u64; 2]>,
}

impl Possible {
    /// Whether failregex `index` may match.
    pub fn may_match(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    /// None of `count` failregexes.
    fn none_of(count: usize) -> Possible {
        Possible {
            words: smallvec::smallvec![0; count.div_ceil(64)],
        }
    }

    /// Failregex `index` (below the count made with) may match.
    fn add(&mut self, index: usize) {
        if let Some(word) = self.words.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    /// The indexes that may match, in order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.iter_from(0)
    }

    /// The indexes from `from` on that may match, in order: the set bits of each
    /// word, found by counting zeros (most words have a few).
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = usize> + '_ {
        let first_word = from / 64;
        let words = self.words.iter().enumerate().skip(first_word);
        words.flat_map(move |(w, &word)| {
            // the bits below `from` in its own word cleared
            let mut bits = match w == first_word {
                true => word & (u64::MAX << (from % 64)),
                false => word,
            };
            std::iter::from_fn(move || {
                let bit = bits.trailing_zeros();
                (bits != 0).then(|| {
                    bits &= bits - 1;
                    w * 64 + bit as usize
                })
            })
        })
    }
}

impl Candidates {
    /// A set over `supersets` (Rust syntax, in failregex order); `None` when a
    /// failregex has no linear superset or the set does not compile.
    pub fn new<'a>(supersets: impl IntoIterator<Item = Option<&'a str>>) -> Option<Candidates> {
        let patterns = supersets
            .into_iter()
            .map(|p| p.and_then(parse))
            .collect::<Option<Vec<Hir>>>()?;
        if patterns.len() < 2 {
            return None;
        }
        let tails = Tails::of(&patterns);
        let (heads, uncut): (Vec<Hir>, Vec<bool>) = patterns.into_iter().map(head).unzip();
        let search = match AnchoredDfa::all_of(&heads) {
            Some(dfa) => SetSearch::FromStart(Box::new(dfa)),
            None => {
                let sources: Vec<String> = heads.iter().map(Hir::to_string).collect();
                // ASCII classes: the set is only asked about ASCII buffers (see `possible`).
                let set = RegexSetBuilder::new(sources)
                    .unicode(false)
                    .size_limit(64 << 20)
                    .build()
                    .ok()?;
                SetSearch::Anywhere(set)
            }
        };
        Some(Candidates {
            search,
            uncut,
            prefix_walks: PrefixWalks::default(),
            tails,
        })
    }

    /// Whether failregex `index` may match `buffer` as far as its end tells: `false`
    /// only when it is anchored at the end (`$`) and the part after its last run of
    /// any text matches no end of `buffer`.
    ///
    /// Why backwards, and asked only after a first search: two failregexes often share
    /// a head and differ at the end (sshd's closes with and without `[preauth]`), and
    /// once one of them was searched (it matched, and every one is tried, or it did
    /// not) the other's search would read the whole line to fail; its tail fails
    /// within a few bytes of the end. Before the first search it is not asked: the
    /// first candidate most often matches, and its search decides at no extra cost.
    ///
    /// `one_line`: the caller knows `buffer` is one line (with or without its
    /// newline), which spares looking for another line in it.
    pub fn tail_may_match(&self, index: usize, buffer: &str, one_line: bool) -> bool {
        let Some(tails) = &self.tails else {
            return true;
        };
        let Some(tail) = tails.of.get(index).and_then(Option::as_ref) else {
            return true;
        };
        // `$` is also read as the end of a line (`(?m:$)`, where the buffer is one
        // line), which a buffer of several lines has inside it as well: those are
        // searched whole
        let bytes = buffer.as_bytes();
        let before_last = &bytes[..bytes.len().saturating_sub(1)];
        if !one_line && memchr::memchr(b'\n', before_last).is_some() {
            return true;
        }
        let dfa = tail.dfa.get_or_init(|| AnchoredDfa::reversed(&tail.hir));
        dfa.as_ref()
            .is_none_or(|dfa| dfa.matches_at_end(bytes) != Some(false))
    }

    /// Whether failregex `index` matches every buffer [`Candidates::possible`] names
    /// it for (not only may match): the automaton is read from the start and holds
    /// its superset uncut. Exact only when that superset is the failregex itself.
    pub fn names_only_matches(&self, index: usize) -> bool {
        self.reads_from_start() && self.uncut.get(index).copied().unwrap_or(false)
    }

    /// Whether the buffer is read from its start only, until the automaton dies (all
    /// cut patterns are anchored there), rather than searched.
    pub fn reads_from_start(&self) -> bool {
        matches!(self.search, SetSearch::FromStart(_))
    }

    /// Which failregexes may match `buffer`; `None`: any may (non-ASCII text where
    /// the ASCII set would not be a superset).
    pub fn possible(&mut self, buffer: &str) -> Option<Possible> {
        match &self.search {
            SetSearch::FromStart(dfa) => {
                // Why stopping at a non-ASCII byte is enough: up to that byte the
                // automaton reads what the failregexes' Unicode forms read, and on
                // ASCII characters the classes and word boundaries of the two forms
                // agree (the byte after a match, which `\b` or `$` looks at, is read
                // before the match is reported).
                let mut possible = Possible::none_of(dfa.pattern_len());
                let told =
                    dfa.each_match_remembered(buffer.as_bytes(), &mut self.prefix_walks, |i| {
                        possible.add(i)
                    });
                told.then_some(possible)
            }
            SetSearch::Anywhere(set) => {
                let matches = buffer.is_ascii().then(|| set.matches(buffer.as_bytes()))?;
                let mut possible = Possible::none_of(set.len());
                matches.iter().for_each(|i| possible.add(i));
                Some(possible)
            }
        }
    }
}

/// `pattern` (Rust syntax, ASCII classes) up to its first run of any text (`.*`,
/// `[^:]+?`: a repeated class of most bytes, the space among them), when that part
/// is long enough to tell buffers apart; else `pattern` itself (`None` when it
/// does not parse), and whether it is the whole of `pattern`.
///
/// Why: the part matches wherever the pattern does (a match of the whole begins with
/// a match of the part), so the set stays a superset of the failregexes; and a
/// failregex anchored at the start is decided within a few words, where the whole
/// keeps the DFA reading to the line's end (`.*`, then the rest). The engine searches
/// each failregex the set names, so a line the part passes and the whole does not
/// costs a search that finds nothing.
fn head(hir: Hir) -> (Hir, bool) {
    let mut items = Vec::new();
    if !items_before_any_text(&hir, &mut items) {
        let head = Hir::concat(items);
        if head.properties().minimum_len().unwrap_or(0) >= MIN_HEAD_LEN {
            return (head, false);
        }
    }
    (hir, true)
}

/// `pattern` (Rust syntax) with ASCII classes: the set is only asked about ASCII
/// text (see [`Candidates::possible`]), on which the two forms agree.
fn parse(pattern: &str) -> Option<Hir> {
    let parsed = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern);
    parsed.ok()
}

impl Tails {
    /// The tails of `patterns` (see `tail`); `None` when none has one.
    fn of(patterns: &[Hir]) -> Option<Tails> {
        let of: Vec<Option<Tail>> = patterns
            .iter()
            .map(|p| {
                Some(Tail {
                    hir: tail(p)?,
                    dfa: OnceLock::new(),
                })
            })
            .collect();
        of.iter().any(Option::is_some).then_some(Tails { of })
    }
}

/// The items of `pattern` (through concatenations and groups) after its last run of
/// any text, when it has one and they end with `\z` or `(?m:$)` (which the engine
/// gives a single-line pattern's `$`) and cannot match the empty text.
///
/// Why it is a test a buffer must pass: a match of the pattern ends with a match of
/// these items, which ends where the anchor holds: at the buffer's end, or before its
/// newline when it is one line ending with one (see [`Candidates::tail_may_match`]).
/// So where no end of the buffer matches them, the pattern has no match. Cut after
/// the last run of any text (`.*?`), they are read from the end for a few words at
/// most.
fn tail(pattern: &Hir) -> Option<Hir> {
    let mut items = Vec::new();
    if items_after_any_text(pattern, &mut items) {
        // no run of any text: its head is the whole of it
        return None;
    }
    items.reverse();
    let tail = Hir::concat(items);
    let ends = ends_anchored(&tail);
    (ends && tail.properties().minimum_len().unwrap_or(0) > 0).then_some(tail)
}

/// Push the items of `hir` (through concatenations and groups), from its last
/// backwards, onto `items` down to the last that holds a run of any text; whether
/// there was none.
fn items_after_any_text(hir: &Hir, items: &mut Vec<Hir>) -> bool {
    match hir.kind() {
        HirKind::Concat(parts) => parts
            .iter()
            .rev()
            .all(|part| items_after_any_text(part, items)),
        HirKind::Capture(capture) => items_after_any_text(&capture.sub, items),
        _ if holds_any_text(hir) => false,
        _ => {
            items.push(hir.clone());
            true
        }
    }
}

/// Push the items of `hir` (through concatenations and groups) onto `items` up to
/// the first that holds a run of any text; whether there was none.
fn items_before_any_text(hir: &Hir, items: &mut Vec<Hir>) -> bool {
    match hir.kind() {
        HirKind::Concat(parts) => parts.iter().all(|part| items_before_any_text(part, items)),
        HirKind::Capture(capture) => items_before_any_text(&capture.sub, items),
        _ if holds_any_text(hir) => false,
        _ => {
            items.push(hir.clone());
            true
        }
    }
}

/// Whether `hir` holds an unbounded repetition of a class of at least half the bytes,
/// the space among them (`.`, `[^:]`; not `\S` or `\s`).
fn holds_any_text(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Repetition(rep) if rep.max.is_none() && is_any_text(&rep.sub) => true,
        HirKind::Repetition(rep) => holds_any_text(&rep.sub),
        HirKind::Capture(capture) => holds_any_text(&capture.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().any(holds_any_text),
        _ => false,
    }
}

/// Whether `hir` is a class of at least half the bytes, the space among them.
fn is_any_text(hir: &Hir) -> bool {
    use regex_syntax::hir::Class;
    let (size, space) = match hir.kind() {
        HirKind::Class(Class::Bytes(class)) => (
            class
                .ranges()
                .iter()
                .map(|r| usize::from(r.end() - r.start()) + 1)
                .sum::<usize>(),
            class
                .ranges()
                .iter()
                .any(|r| (r.start()..=r.end()).contains(&b' ')),
        ),
        // (the set is parsed with ASCII classes: no Unicode class to weigh; any other
        // piece is not "any text", which keeps a longer part: still a superset)
        _ => return false,
    };
    space && size >= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_failregexes_that_may_match() {
        let mut c = Candidates::new([
            Some("^Failed .* from (\\S+)"),
            Some("^Invalid user"),
            Some("x"),
        ])
        .unwrap();
        let m = c.possible("Failed password from 192.0.2.1 x").unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(m.iter_from(1).collect::<Vec<_>>(), [2]);
        assert_eq!(m.iter_from(3).count(), 0);
        assert!(!c.reads_from_start());
        assert!(c.possible("Invalid usér").is_none());
        assert!(Candidates::new([Some("a"), None]).is_none());
    }

    #[test]
    fn failregexes_are_cut_before_their_first_run_of_any_text() {
        let mut c = Candidates::new([
            Some(r"^Failed \S+ for (?P<user>.*) from (?P<host>\S+)\s*$"),
            Some(r"^ab.*c"),
            Some(r"^User (?P<user>\S+) from (?P<host>\S+)$"),
        ])
        .unwrap();
        let mut possible = |buffer| c.possible(buffer).unwrap().iter().collect::<Vec<_>>();
        // the head "Failed \S+ for " names the first, though the whole does not match
        assert_eq!(possible("Failed password for root"), [0]);
        assert_eq!(possible("Failed password"), [] as [usize; 0]);
        // "ab" is too short to tell lines apart: the whole is kept
        assert_eq!(possible("abx"), [] as [usize; 0]);
        assert_eq!(possible("abxc"), [1]);
        // no run of any text (\S is not): the whole
        assert_eq!(possible("User x from"), [] as [usize; 0]);
        assert_eq!(possible("User x from y"), [2]);
        // a pattern kept whole names only buffers it matches; a cut one, or one of a
        // set searched anywhere, those it may match
        let named_only_matching: Vec<bool> = (0..4).map(|i| c.names_only_matches(i)).collect();
        assert_eq!(named_only_matching, [false, true, true, false]);
        let anywhere = Candidates::new([Some(r"^User (\S+)$"), Some(r"from \S+")]).unwrap();
        assert!(!anywhere.reads_from_start());
        assert!(!anywhere.names_only_matches(0));
    }

    #[test]
    fn anchored_heads_are_read_from_the_start_until_the_automaton_dies() {
        let mut c = Candidates::new([
            Some(r"^Failed \S+ for (?P<user>.*) from (?P<host>\S+)"),
            Some(r"^Invalid user"),
            Some(r"^ab\b"),
            Some(r"^(?:Invalid|Failed) "),
        ])
        .unwrap();
        assert!(c.reads_from_start());
        let mut possible = |buffer| c.possible(buffer).map(|p| p.iter().collect::<Vec<_>>());
        assert_eq!(possible("Failed password for root"), Some(vec![0, 3]));
        assert_eq!(possible("Invalid user x\n"), Some(vec![1, 3]));
        // the end of the buffer completes a match, and `\b` sees the byte after it
        assert_eq!(possible("ab"), Some(vec![2]));
        assert_eq!(possible("ab c"), Some(vec![2]));
        assert_eq!(possible("abc"), Some(vec![]));
        // a match must start the buffer
        assert_eq!(possible("x Invalid user"), Some(vec![]));
        // a non-ASCII byte read before the automaton dies: any may match
        assert_eq!(possible("Invalid usér"), None);
        // one read after it died is never seen
        assert_eq!(possible("Failed\té"), Some(vec![]));
        // a failregex not anchored at the start: the set searches the whole buffer
        let mut anywhere = Candidates::new([Some(r"^Invalid user"), Some(r"from \S+")]).unwrap();
        assert!(!anywhere.reads_from_start());
        let found = anywhere.possible("Invalid user from x").unwrap();
        assert_eq!(found.iter().collect::<Vec<_>>(), [0, 1]);
        // multi-line filters (`(?m)^`, holding after every newline) keep the set too:
        // read from the start, a failure on the buffer's second line would be missed
        let mut multi = Candidates::new([Some(r"(?m)^Failed x"), Some(r"(?m)^Invalid y")]).unwrap();
        assert!(!multi.reads_from_start());
        let found = multi.possible("noise\nInvalid y\n").unwrap();
        assert_eq!(found.iter().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_remembered_prefix_walk_names_what_a_whole_walk_names() {
        let heads = [
            Some(r"^Failed \S+ for (?P<user>.*) from (?P<host>\S+)"),
            Some(r"^Invalid user"),
            Some(r"^Invalid user \S+ from \S+ port \d+$"),
            Some(r"^Connection closed by \S+ port \d+\b"),
            Some(r"^pam_unix\(sshd:auth\): authentication failure;"),
        ];
        let mut remembering = Candidates::new(heads).unwrap();
        let whole_walk = Candidates::new(heads).unwrap();
        let SetSearch::FromStart(dfa) = &whole_walk.search else {
            panic!("anchored heads are read from the start");
        };
        let walked = |buffer: &str| {
            let mut found = Vec::new();
            dfa.each_match(buffer.as_bytes(), |i| found.push(i))
                .then(|| found.into_iter().collect::<std::collections::BTreeSet<_>>())
        };
        let mut buffers: Vec<String> = [
            // a match reported within the first 16 bytes, and more after them
            "Invalid user admin from 192.0.2.1 port 22",
            "Invalid user admin from 192.0.2.1 port 22 x",
            "Invalid user bob",
            // exactly the prefix: the buffer's end decides
            "Invalid user adm",
            "Invalid user ad",
            // dead within the prefix
            "Invalid usex admin from 192.0.2.1 port 22",
            "Connection reset by 192.0.2.1 port 22",
            // a non-ASCII byte after the prefix, and within it
            "Connection closed by hôst port 22",
            "Connection closé by host port 22",
            "Connection closed by 192.0.2.1 port 22",
            "Connection closed by 192.0.2.1 port 22x",
            "Failed password for root from 192.0.2.1",
            "Failed password for invalid user x from 192.0.2.1",
            "Failed password",
            "pam_unix(sshd:auth): authentication failure; rhost=192.0.2.1",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        // more prefixes than are remembered, with different walks: newer ones take
        // older ones' places
        buffers.extend((0..3 * 256).map(|i| match i % 3 {
            0 => format!("Invalid user {i:03} from 192.0.2.1 port 22"),
            1 => format!("Invalid usex{i:04} from 192.0.2.1 port 22"),
            _ => format!("Invalid user {i:03}"),
        }));
        for round in 0..2 {
            for buffer in &buffers {
                let named = remembering
                    .possible(buffer)
                    .map(|p| p.iter().collect::<std::collections::BTreeSet<_>>());
                assert_eq!(named, walked(buffer), "{buffer:?}, round {round}");
            }
        }
    }

    #[test]
    fn possible_failregexes_are_listed_from_any_index_across_words() {
        let mut possible = Possible::none_of(130);
        for i in [0, 5, 63, 64, 100, 129] {
            possible.add(i);
        }
        let from = |i| possible.iter_from(i).collect::<Vec<_>>();
        assert_eq!(from(0), [0, 5, 63, 64, 100, 129]);
        assert_eq!(from(5), [5, 63, 64, 100, 129]);
        assert_eq!(from(6), [63, 64, 100, 129]);
        assert_eq!(from(64), [64, 100, 129]);
        assert_eq!(from(101), [129]);
        assert_eq!(from(130), [] as [usize; 0]);
        assert_eq!(from(500), [] as [usize; 0]);
        assert!((0..130).all(|i| possible.may_match(i) == from(0).contains(&i)));
    }

    /// sshd's two closes in aggressive mode: the same head, told apart by their ends.
    const CLOSES: [&str; 2] = [
        r"^(?:Connection closed|Disconnected) (?:by|from)(?: user (\S+)|(.*?))? (?P<host>\d+(?:\.\d+){3})(?: port \d+)?\s+\[preauth\]\s*(?m:$)",
        r"^(?:Connection closed|Disconnected) (?:by|from)(?: user (\S+)|(.*?))? (?P<host>\d+(?:\.\d+){3})(?:(?: port \d+)?|\s*)(?:\n?\z)",
    ];

    #[test]
    fn failregexes_anchored_at_the_end_are_told_apart_by_their_ends() {
        let c = Candidates::new(CLOSES.map(Some)).unwrap();
        let may = |buffer: &str| [0, 1].map(|i| c.tail_may_match(i, buffer, false));
        let may_in_line = |buffer: &str| [0, 1].map(|i| c.tail_may_match(i, buffer, true));
        for end in ["", "\n"] {
            let closed = format!("Disconnected from 192.0.2.1 port 22 [preauth]{end}");
            assert_eq!(may(&closed), [true, false], "{closed:?}");
            assert_eq!(may_in_line(&closed), [true, false], "{closed:?}");
            let plain = format!("Disconnected from 192.0.2.1 port 22{end}");
            assert_eq!(may(&plain), [false, true], "{plain:?}");
            assert_eq!(may_in_line(&plain), [false, true], "{plain:?}");
        }
        // a non-ASCII byte read before a tail is told apart decides: it may match;
        // each tail is walked alone, and the plain close's dies at the `]` first
        assert_eq!(
            may("Disconnected from 192.0.2.1 port 22 [préauth]"),
            [true, false]
        );
        assert_eq!(
            may("Disconnected from 192.0.2.1 port 22 [preauth] é"),
            [true, true]
        );
        // `(?m:$)` also holds inside a buffer of several lines: searched whole
        let two_lines = "Disconnected from 192.0.2.1 port 22 [preauth]\nx\n";
        assert_eq!(may(two_lines), [true, true]);
        // no end anchor, or no run of any text to cut after: nothing to tell
        let c = Candidates::new([
            Some(r"^Invalid (.*) from \S+"),
            Some(r"^User \S+ from \S+$"),
        ])
        .unwrap();
        assert!(c.tail_may_match(0, "Invalid x from y z", false));
        assert!(c.tail_may_match(1, "Invalid x from y z", false));
    }

    /// The end is a test a buffer must pass: a failregex that matches is never told
    /// it cannot, whatever the buffer.
    #[test]
    fn a_buffer_a_failregex_matches_always_passes_its_end() {
        let c = Candidates::new(CLOSES.map(Some)).unwrap();
        let regexes = CLOSES.map(|p| regex::Regex::new(p).unwrap());
        let heads = [
            "Disconnected from",
            "Connection closed by",
            "Disconnected from user git",
        ];
        let middles = ["", " x", " user root", " invalid user a b c"];
        let addresses = ["192.0.2.1", "10.0.0.255", "1.2.3"];
        let ends = [
            "",
            " port 22",
            " port 22 [preauth]",
            " [preauth]",
            " port 22  [preauth] ",
            " port x",
            "  ",
            " [preauth",
            "[preauth]",
            " port 22 [preauth]\n",
            " port 22\n",
        ];
        let mut matched = [0, 0];
        for head in heads {
            for middle in middles {
                for address in addresses {
                    for end in ends {
                        let buffer = format!("{head}{middle} {address}{end}");
                        for (i, re) in regexes.iter().enumerate() {
                            if re.is_match(&buffer) {
                                matched[i] += 1;
                                assert!(c.tail_may_match(i, &buffer, false), "{i}: {buffer:?}");
                            }
                        }
                    }
                }
            }
        }
        // the buffers hold matches of each
        assert!(matched.iter().all(|&n| n > 20), "{matched:?}");
    }
}
