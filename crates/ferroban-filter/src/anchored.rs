//! Linear patterns whose every match starts the haystack (`^…`), on a fully built
//! deterministic automaton read from a start position until it dies: for one
//! pattern, where its leftmost-first match ends and how many bytes decided it; for
//! several ([`AnchoredDfa::all_of`]), which of them match there.
//!
//! Owns that automaton, built from a pattern's Unicode form (the meaning of the
//! pattern), or from its ASCII form for ASCII text (on which the two agree), far
//! smaller and quicker to build, and copied into a table of its own whose walk is a
//! class look-up and a table look-up per byte (see [`Table`]). It does not capture
//! groups and does not search where a match could start anywhere.

use std::collections::HashMap;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::{Hir, Look};

/// A deterministic automaton for linear patterns whose every match starts with `\A`.
#[derive(Debug)]
pub struct AnchoredDfa {
    table: Table,
    /// The start state at the haystack's start (nothing before it to look at),
    /// where nearly every walk begins…
    start_of_text: u32,
    /// …and after each byte, for a walk from inside the haystack.
    start_after: Box<[u32; 256]>,
    patterns: usize,
}

/// The automaton's transitions, renumbered so that one comparison tells the states
/// a walk must stop at: a row of `stride` entries per state (a column per byte
/// class, the last for the haystack's end), each the row offset of the next state.
/// The dead state's row comes first, then the quit state's (a byte the automaton
/// cannot read), then the match states', then the rest, from `first_plain` on.
#[derive(Debug)]
struct Table {
    next: Vec<u32>,
    /// Each byte's column.
    column_of: [u8; 256],
    stride: u32,
    first_plain: u32,
    /// The patterns each match state reports, by row number (none for dead and quit).
    matches: Vec<Box<[u32]>>,
}

/// The dead state's row offset; the quit state's is the next row.
const DEAD: u32 = 0;

/// Bounds on one automaton: a date template or a prefregex head takes well under a
/// megabyte; a pattern past them simply has none…
const ONE_PATTERN_LIMIT: usize = 4 << 20;
/// …and a filter's failregex heads together a few.
const PATTERNS_LIMIT: usize = 8 << 20;

impl AnchoredDfa {
    /// The automaton for a linear pattern (Rust syntax), when its matches all start
    /// with `\A`.
    pub fn of(source: &str) -> Option<AnchoredDfa> {
        AnchoredDfa::of_source(source, true)
    }

    /// [`AnchoredDfa::of`] for ASCII text: the automaton stops (cannot tell) at the
    /// first non-ASCII byte it reads.
    pub fn ascii_of(source: &str) -> Option<AnchoredDfa> {
        AnchoredDfa::of_source(source, false)
    }

    /// [`AnchoredDfa::ascii_of`] for a pattern whose matches need not start with
    /// `\A`, for a caller that walks it only from where its match must start (see
    /// `pattern::LeadingRun`): [`AnchoredDfa::match_end`] is then its anchored search.
    pub fn ascii_walked_from_match_start(source: &str) -> Option<AnchoredDfa> {
        let hir = AnchoredDfa::parse(source, false)?;
        AnchoredDfa::build(
            &[hir],
            MatchKind::LeftmostFirst,
            false,
            ONE_PATTERN_LIMIT,
            false,
        )
    }

    /// The automaton reporting every one of `patterns` (parsed with ASCII classes)
    /// that matches from the start, when all their matches start with `\A`; it stops
    /// at the first non-ASCII byte it reads, as [`AnchoredDfa::ascii_of`]'s.
    pub fn all_of(patterns: &[Hir]) -> Option<AnchoredDfa> {
        AnchoredDfa::build(patterns, MatchKind::All, false, PATTERNS_LIMIT, true)
    }

    fn of_source(source: &str, unicode: bool) -> Option<AnchoredDfa> {
        let hir = AnchoredDfa::parse(source, unicode)?;
        AnchoredDfa::build(
            &[hir],
            MatchKind::LeftmostFirst,
            unicode,
            ONE_PATTERN_LIMIT,
            true,
        )
    }

    fn parse(source: &str, unicode: bool) -> Option<Hir> {
        regex_syntax::ParserBuilder::new()
            .unicode(unicode)
            .utf8(unicode)
            .build()
            .parse(source)
            .ok()
    }

    /// The automaton for `patterns`; with `only_from_text_start`, only when their
    /// every match starts with `\A` (a walk from inside the haystack is then a
    /// search for a match there, which `\A` rules out).
    fn build(
        patterns: &[Hir],
        kind: MatchKind,
        unicode: bool,
        size_limit: usize,
        only_from_text_start: bool,
    ) -> Option<AnchoredDfa> {
        let anchored = |hir: &Hir| hir.properties().look_set_prefix().contains(Look::Start);
        if only_from_text_start && !patterns.iter().all(anchored) {
            return None;
        }
        let mut config = dense::Config::new()
            .match_kind(kind)
            .start_kind(StartKind::Anchored)
            .unicode_word_boundary(true)
            .dfa_size_limit(Some(size_limit))
            .determinize_size_limit(Some(size_limit));
        if !unicode {
            config = (0x80..=0xFF).fold(config, |c, byte| c.quit(byte, true));
        }
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().utf8(unicode))
            .build_many_from_hir(patterns)
            .ok()?;
        let dfa = dense::Builder::new()
            .configure(config)
            .build_from_nfa(&nfa)
            .ok()?;
        let start = |look_behind: Option<u8>| {
            let config = start::Config::new()
                .anchored(Anchored::Yes)
                .look_behind(look_behind);
            // a start the automaton cannot take (a byte it quits on before it): it
            // cannot tell, as at a quit byte
            dfa.start_state(&config).ok()
        };
        let starts: Vec<Option<StateID>> = std::iter::once(None)
            .chain((0..=u8::MAX).map(Some))
            .map(start)
            .collect();
        let (table, row_of) = Table::of(&dfa, starts.iter().flatten().copied())?;
        let quit = table.stride;
        let row = |id: &Option<StateID>| id.and_then(|id| row_of.get(&id).copied()).unwrap_or(quit);
        let start_of_text = row(&starts[0]);
        let mut start_after = Box::new([quit; 256]);
        for (after, id) in start_after.iter_mut().zip(&starts[1..]) {
            *after = row(id);
        }
        Some(AnchoredDfa {
            table,
            start_of_text,
            start_after,
            patterns: dfa.pattern_len(),
        })
    }

    /// The number of bytes of `hay` read until the automaton died, if it did.
    pub fn deciding_prefix_len(&self, hay: &[u8]) -> Option<usize> {
        self.walk(hay, 0, |_, _| {})?.died_at
    }

    /// The end of the leftmost-first match of `hay` from `start` (a match starts there
    /// or nowhere), `Some(None)` when there is none; `None` when the automaton cannot
    /// tell (it stopped at a non-ASCII byte it cannot read).
    pub fn match_end(&self, hay: &[u8], start: usize) -> Option<Option<usize>> {
        let mut match_end = None;
        let walk = self.walk(hay, start, |_, at| match_end = Some(at))?;
        if walk.died_at.is_none() && self.table.is_match(self.table.at_end(walk.state)) {
            return Some(Some(hay.len()));
        }
        Some(match_end)
    }

    /// Call `matched` with each pattern matching `hay` from its start; `false` when
    /// the automaton cannot tell (it stopped at a non-ASCII byte it cannot read).
    pub fn each_match(&self, hay: &[u8], mut matched: impl FnMut(usize)) -> bool {
        let mut noted = None;
        let mut note = |state: u32| {
            // a state reached again (a match extending) reports the same patterns
            if noted != Some(state) {
                noted = Some(state);
                for &pattern in self.table.patterns(state) {
                    matched(pattern as usize);
                }
            }
        };
        let Some(walk) = self.walk(hay, 0, |state, _| note(state)) else {
            return false;
        };
        if walk.died_at.is_none() {
            let state = self.table.at_end(walk.state);
            if self.table.is_match(state) {
                note(state);
            }
        }
        true
    }

    /// How many patterns the automaton reports.
    pub fn pattern_len(&self) -> usize {
        self.patterns
    }

    /// Read `hay` from `start` until the automaton dies or the haystack ends, calling
    /// `matched` with each match state and the end of its match; `None` when it stops
    /// at a byte it cannot read.
    fn walk(&self, hay: &[u8], start: usize, mut matched: impl FnMut(u32, usize)) -> Option<Walk> {
        let table = &self.table;
        let mut state = match start.checked_sub(1) {
            None => self.start_of_text,
            Some(before) => self.start_after[usize::from(*hay.get(before)?)],
        };
        if table.is_quit(state) {
            return None;
        }
        for (at, &byte) in (start..).zip(hay.get(start..)?) {
            state = table.after(state, byte);
            if state >= table.first_plain {
                continue;
            }
            // A match is seen one byte late: the state after the byte at `at`
            // holds a match ending at `at`.
            if state == DEAD {
                let died_at = Some(at + 1);
                return Some(Walk { state, died_at });
            } else if table.is_quit(state) {
                return None;
            }
            matched(state, at);
        }
        let died_at = None;
        Some(Walk { state, died_at })
    }
}

impl Table {
    /// The table of the states of `dfa` reachable from `starts`, and each such
    /// state's row offset by its id in `dfa`; `None` when the table is too large
    /// for row offsets in `u32`.
    fn of(
        dfa: &dense::DFA<Vec<u32>>,
        starts: impl Iterator<Item = StateID>,
    ) -> Option<(Table, HashMap<StateID, u32>)> {
        let classes = dfa.byte_classes();
        let stride = classes.alphabet_len();
        let class_bytes: Vec<u8> = classes
            .representatives(..)
            .filter_map(|u| u.as_u8())
            .collect();
        // every reachable state, by a walk over each class (and the end) from the starts
        let mut states: Vec<StateID> = starts.collect();
        let mut seen: std::collections::HashSet<StateID> = states.iter().copied().collect();
        let mut i = 0;
        while let Some(&id) = states.get(i) {
            i += 1;
            let next = class_bytes.iter().map(|&b| dfa.next_state(id, b));
            for to in next.chain([dfa.next_eoi_state(id)]) {
                if seen.insert(to) {
                    states.push(to);
                }
            }
        }
        // rows: dead, quit, the match states, the rest
        let (mut special, mut plain): (Vec<StateID>, Vec<StateID>) = states
            .into_iter()
            .filter(|&id| !dfa.is_dead_state(id) && !dfa.is_quit_state(id))
            .partition(|&id| dfa.is_match_state(id));
        let first_plain = u32::try_from((special.len() + 2) * stride).ok()?;
        let mut order = Vec::with_capacity(special.len() + plain.len());
        order.append(&mut special);
        order.append(&mut plain);
        let quit = u32::try_from(stride).ok()?;
        let mut row_of = HashMap::new();
        for (n, &id) in order.iter().enumerate() {
            row_of.insert(id, u32::try_from((n + 2) * stride).ok()?);
        }
        // the dead and quit states too, where a start is one of them
        for id in seen {
            let special_row = if dfa.is_dead_state(id) { DEAD } else { quit };
            row_of.entry(id).or_insert(special_row);
        }
        let row = |id: StateID| row_of.get(&id).copied().unwrap_or(quit);
        let mut next = vec![DEAD; stride];
        next.extend(std::iter::repeat_n(quit, stride));
        let mut matches = vec![Box::default(), Box::default()];
        for &id in &order {
            next.extend(class_bytes.iter().map(|&b| row(dfa.next_state(id, b))));
            next.push(row(dfa.next_eoi_state(id)));
            if dfa.is_match_state(id) {
                let reported = (0..dfa.match_len(id)).map(|i| dfa.match_pattern(id, i).as_u32());
                matches.push(reported.collect());
            }
        }
        let mut column_of = [0u8; 256];
        for (byte, column) in column_of.iter_mut().enumerate() {
            *column = classes.get(byte as u8);
        }
        let table = Table {
            next,
            column_of,
            stride: quit,
            first_plain,
            matches,
        };
        Some((table, row_of))
    }

    /// The state after `state` reads `byte`.
    #[inline(always)]
    fn after(&self, state: u32, byte: u8) -> u32 {
        let column = u32::from(self.column_of[usize::from(byte)]);
        // (every entry is a row of the table: the quit state is never read)
        self.next
            .get((state + column) as usize)
            .copied()
            .unwrap_or(self.stride)
    }

    /// The state after `state` when the haystack ends.
    fn at_end(&self, state: u32) -> u32 {
        let end = state + self.stride - 1;
        self.next.get(end as usize).copied().unwrap_or(self.stride)
    }

    fn is_quit(&self, state: u32) -> bool {
        state == self.stride
    }

    fn is_match(&self, state: u32) -> bool {
        state < self.first_plain && state > self.stride
    }

    /// The patterns a state reports (none but for a match state).
    fn patterns(&self, state: u32) -> &[u32] {
        let row = (state / self.stride) as usize;
        self.matches.get(row).map_or(&[], |p| p)
    }
}

/// Where [`AnchoredDfa::walk`] got to.
struct Walk {
    /// The state after the last byte read.
    state: u32,
    /// The number of bytes of the haystack read when the automaton died, if it did.
    died_at: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_patterns_only() {
        assert!(AnchoredDfa::of(r"a+").is_none());
        let dfa = AnchoredDfa::of(r"^(?:ab|a)c?").unwrap();
        assert_eq!(dfa.match_end(b"abcd", 0), Some(Some(3)));
        assert_eq!(dfa.match_end(b"ad", 0), Some(Some(1)));
        // the end of the haystack completes a match
        assert_eq!(dfa.match_end(b"abc", 0), Some(Some(3)));
        assert_eq!(dfa.match_end(b"a", 0), Some(Some(1)));
        assert_eq!(dfa.match_end(b"xab", 0), Some(None));
        // `^` holds at the haystack's start only
        assert_eq!(dfa.match_end(b"xab", 1), Some(None));
        // the match is reported at the byte after it; the automaton dies at the next
        assert_eq!(dfa.deciding_prefix_len(b"abcde"), Some(5));
        assert_eq!(dfa.deciding_prefix_len(b"abcd"), None);
        let word = AnchoredDfa::of(r"^\w+\b").unwrap();
        assert_eq!(word.match_end(b"ab c", 0), Some(Some(2)));
        // a Unicode word boundary's automaton stops at the first non-ASCII byte
        assert_eq!(word.match_end("ab é".as_bytes(), 0), None);
        // so does the ASCII form's at any it reads (the byte after a match included)
        let ascii = AnchoredDfa::ascii_of(r"^\S+").unwrap();
        assert_eq!(ascii.match_end(b"ab c", 0), Some(Some(2)));
        assert_eq!(ascii.match_end("aé c".as_bytes(), 0), None);
        assert_eq!(ascii.match_end("ab é".as_bytes(), 0), None);
    }

    #[test]
    fn the_table_walks_as_the_automaton_it_was_copied_from() {
        // from every position (the start states after each kind of byte), with word
        // boundaries, line anchors and a pattern that can never match (a dead start)
        let hays = ["ab cd\nab-x", "a", "", "\nab", "x_ab ab", "ab\r\nab"];
        for source in [
            r"^ab\b",
            r"^(?:a|ab)(?:c|\b)",
            r"^ab(?m:$)",
            r"^\Bab",
            r"^[^\s\S]",
        ] {
            let dfa = AnchoredDfa::of(source).unwrap();
            let re = regex::bytes::Regex::new(source).unwrap();
            for hay in hays.map(str::as_bytes) {
                for start in 0..=hay.len() {
                    // a match found from `start` by the regex crate starts there
                    let expected = re.find_at(hay, start).filter(|m| m.start() == start);
                    let got = dfa.match_end(hay, start);
                    assert_eq!(
                        got,
                        Some(expected.map(|m| m.end())),
                        "{source} {hay:?} {start}"
                    );
                }
            }
        }
        // several patterns at once report each of theirs that matches
        let parse = |p| {
            let parsed = regex_syntax::ParserBuilder::new()
                .unicode(false)
                .build()
                .parse(p);
            parsed.expect("the test's patterns parse")
        };
        let heads: Vec<Hir> = [r"^ab", r"^a\b", r"^abc", r"^x"].map(parse).into();
        let all = AnchoredDfa::all_of(&heads).unwrap();
        assert_eq!(all.pattern_len(), 4);
        let reported = |hay: &str| {
            let mut found = Vec::new();
            all.each_match(hay.as_bytes(), |i| found.push(i))
                .then_some(found)
        };
        assert_eq!(reported("abc"), Some(vec![0, 2]));
        assert_eq!(reported("a b"), Some(vec![1]));
        assert_eq!(reported("ab"), Some(vec![0]));
        assert_eq!(reported("y"), Some(vec![]));
        assert_eq!(reported("aé"), None);
    }
}
