//! Linear patterns whose every match starts the haystack (`^…`), on a fully built
//! deterministic automaton read from a start position until it dies: for one
//! pattern, where its leftmost-first match ends and how many bytes decided it; for
//! several ([`AnchoredDfa::all_of`]), which of them match there.
//!
//! Owns that automaton, built from a pattern's Unicode form (the meaning of the
//! pattern), or from its ASCII form for ASCII text (on which the two agree), far
//! smaller and quicker to build. It does not capture groups and does not search where
//! a match could start anywhere.

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Hir, Look};

/// A deterministic automaton for linear patterns whose every match starts with `\A`.
#[derive(Debug)]
pub struct AnchoredDfa {
    dfa: dense::DFA<Vec<u32>>,
    /// The start state at the haystack's start (nothing before it to look at),
    /// where nearly every walk begins.
    start_of_text: StateID,
}

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

    /// The automaton reporting every one of `patterns` (parsed with ASCII classes)
    /// that matches from the start, when all their matches start with `\A`; it stops
    /// at the first non-ASCII byte it reads, as [`AnchoredDfa::ascii_of`]'s.
    pub fn all_of(patterns: &[Hir]) -> Option<AnchoredDfa> {
        AnchoredDfa::build(patterns, MatchKind::All, false, PATTERNS_LIMIT)
    }

    fn of_source(source: &str, unicode: bool) -> Option<AnchoredDfa> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(unicode)
            .utf8(unicode)
            .build()
            .parse(source)
            .ok()?;
        AnchoredDfa::build(&[hir], MatchKind::LeftmostFirst, unicode, ONE_PATTERN_LIMIT)
    }

    fn build(
        patterns: &[Hir],
        kind: MatchKind,
        unicode: bool,
        size_limit: usize,
    ) -> Option<AnchoredDfa> {
        let anchored = |hir: &Hir| hir.properties().look_set_prefix().contains(Look::Start);
        if !patterns.iter().all(anchored) {
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
        let start_of_text = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .ok()?;
        Some(AnchoredDfa { dfa, start_of_text })
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
        if walk.died_at.is_none() && self.ends_in_match(walk.state) {
            return Some(Some(hay.len()));
        }
        Some(match_end)
    }

    /// Call `matched` with each pattern matching `hay` from its start; `false` when
    /// the automaton cannot tell (it stopped at a non-ASCII byte it cannot read).
    pub fn each_match(&self, hay: &[u8], mut matched: impl FnMut(usize)) -> bool {
        let mut noted = None;
        let mut note = |state: StateID| {
            // a state reached again (a match extending) reports the same patterns
            if noted != Some(state) {
                noted = Some(state);
                for i in 0..self.dfa.match_len(state) {
                    matched(self.dfa.match_pattern(state, i).as_usize());
                }
            }
        };
        let Some(walk) = self.walk(hay, 0, |state, _| note(state)) else {
            return false;
        };
        if walk.died_at.is_none() {
            let state = self.dfa.next_eoi_state(walk.state);
            if self.dfa.is_match_state(state) {
                note(state);
            }
        }
        true
    }

    /// How many patterns the automaton reports.
    pub fn pattern_len(&self) -> usize {
        self.dfa.pattern_len()
    }

    /// Whether the end of the haystack, after `state`, completes a match.
    fn ends_in_match(&self, state: StateID) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(state))
    }

    /// Read `hay` from `start` until the automaton dies or the haystack ends, calling
    /// `matched` with each match state and the end of its match; `None` when it stops
    /// at a byte it cannot read.
    fn walk(
        &self,
        hay: &[u8],
        start: usize,
        mut matched: impl FnMut(StateID, usize),
    ) -> Option<Walk> {
        let mut state = match start {
            0 => self.start_of_text,
            _ => {
                let input = Input::new(hay).range(start..).anchored(Anchored::Yes);
                self.dfa.start_state_forward(&input).ok()?
            }
        };
        for (at, &byte) in (start..).zip(hay.get(start..)?) {
            state = self.dfa.next_state(state, byte);
            if !self.dfa.is_special_state(state) {
                continue;
            }
            // A match is seen one byte late: the state after the byte at `at`
            // holds a match ending at `at`.
            if self.dfa.is_match_state(state) {
                matched(state, at);
            } else if self.dfa.is_dead_state(state) {
                let died_at = Some(at + 1);
                return Some(Walk { state, died_at });
            } else if self.dfa.is_quit_state(state) {
                return None;
            }
        }
        let died_at = None;
        Some(Walk { state, died_at })
    }
}

/// Where [`AnchoredDfa::walk`] got to.
struct Walk {
    /// The state after the last byte read.
    state: StateID,
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
}
