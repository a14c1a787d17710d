//! Literal prefilter: which lines could match a filter at all.
//!
//! Owns the derivation of literals every match of a filter must contain (from the
//! regexes' syntax trees: a mandatory literal of each failregex) and the test of a
//! line, or of a whole block of lines, for them. A line without any of them cannot
//! match, so the engine may skip it before date detection — which is where the time
//! goes. It does not decide whether skipping is allowed (the filter does).
//!
//! The literals are cut down to runs of ASCII word characters. The engine searches a
//! line with its date cut out; a word run cannot be created by that cut, because date
//! templates are anchored at word boundaries (the filter only uses the prefilter when
//! all of its templates are), so a run absent from the whole line is absent from the
//! cut line too.
//!
//! Searching costs a few hundred instructions a line. Where nearly every line holds a
//! literal (an auth.log read with a filter whose literal is "sshd"), that is lost, so
//! the search pauses while it rules out too few lines (see `Payoff`): a paused
//! prefilter lets every line through, which only means more lines are tested.

use std::sync::atomic::{AtomicU32, Ordering};

use aho_corasick::AhoCorasick;
use regex_syntax::hir::{Hir, HirKind};

/// Literals of which every match contains at least one.
#[derive(Debug)]
pub struct Prefilter {
    automaton: AhoCorasick,
    literals: Vec<Vec<u8>>,
    payoff: Payoff,
}

impl Clone for Prefilter {
    fn clone(&self) -> Self {
        Prefilter {
            automaton: self.automaton.clone(),
            literals: self.literals.clone(),
            payoff: Payoff::default(),
        }
    }
}

/// Shortest literal worth a prefilter: shorter ones would let most lines through.
const MIN_LITERAL: usize = 3;

impl Prefilter {
    /// A prefilter for patterns (Rust syntax, linear engine) of which a line must
    /// match at least one; `None` when one of them has no usable mandatory literal.
    pub fn for_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<Prefilter> {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        for p in patterns {
            let hir = regex_syntax::ParserBuilder::new().build().parse(p).ok()?;
            let set = required(&hir)?;
            if set.iter().any(|l| l.len() < MIN_LITERAL) {
                return None;
            }
            for l in set {
                if !literals.contains(&l) {
                    literals.push(l);
                }
            }
        }
        if literals.is_empty() {
            return None;
        }
        let automaton = AhoCorasick::new(&literals).ok()?;
        Some(Prefilter {
            automaton,
            literals,
            payoff: Payoff::default(),
        })
    }

    /// The literals, for reports.
    pub fn literals(&self) -> impl Iterator<Item = String> + '_ {
        self.literals
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
    }

    /// Could `line` match? (`true` without a search while the prefilter is paused.)
    pub fn may_match(&self, line: &[u8]) -> bool {
        if !self.payoff.searching() {
            return true;
        }
        let found = self.automaton.is_match(line);
        self.payoff.note(!found);
        found
    }

    /// Where the next line that could match begins in `hay` (lines end with `\n`),
    /// from the line that begins at `from` on: the line of the next literal, or (while
    /// the prefilter is paused) the line at `from`.
    pub fn next_line(&self, hay: &[u8], from: usize) -> Option<usize> {
        if from >= hay.len() {
            return None;
        }
        if !self.payoff.searching() {
            return Some(from);
        }
        let input = aho_corasick::Input::new(hay).span(from..hay.len());
        let hit = self.automaton.find(input).map(|m| m.start());
        let line =
            hit.map(|at| memchr::memrchr(b'\n', &hay[from..at]).map_or(from, |i| from + i + 1));
        self.payoff.note(line != Some(from));
        line
    }
}

/// Searches (lines or runs of lines asked about) over which the prefilter's payoff is
/// judged…
const PAYOFF_WINDOW: u32 = 1024;
/// …it pauses when it ruled out fewer than one in this many of them…
const PAYOFF_RATIO: u32 = 8;
/// …for this many questions, answered without a search; then it is judged again.
const PAUSE: u32 = 16 * PAYOFF_WINDOW;

/// Whether searching for the literals pays: a search that rules a line out saves
/// that line's date and regexes (a thousand instructions or more), one that finds a
/// literal in the line asked about costs a few hundred for nothing; below one in
/// [`PAYOFF_RATIO`] ruled out, searching costs more than it saves. Atomics (relaxed:
/// plain loads and stores) only so that a filter may be shared; the counts need no
/// precision.
#[derive(Debug, Default)]
struct Payoff {
    asked: AtomicU32,
    ruled_out: AtomicU32,
    paused: AtomicU32,
}

impl Payoff {
    /// Whether to search now (a paused prefilter counts its question down).
    #[inline]
    fn searching(&self) -> bool {
        let paused = self.paused.load(Ordering::Relaxed);
        if paused == 0 {
            return true;
        }
        self.paused.store(paused - 1, Ordering::Relaxed);
        false
    }

    /// A search done: whether it ruled out the line asked about (at least).
    fn note(&self, ruled_out: bool) {
        let asked = self.asked.load(Ordering::Relaxed) + 1;
        let out = self.ruled_out.load(Ordering::Relaxed) + u32::from(ruled_out);
        if asked < PAYOFF_WINDOW {
            self.asked.store(asked, Ordering::Relaxed);
            self.ruled_out.store(out, Ordering::Relaxed);
            return;
        }
        if out * PAYOFF_RATIO < asked {
            self.paused.store(PAUSE, Ordering::Relaxed);
        }
        self.asked.store(0, Ordering::Relaxed);
        self.ruled_out.store(0, Ordering::Relaxed);
    }
}

/// A set of literals every match of `hir` contains one of, or `None`.
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(lit) => longest_word_run(&lit.0).map(|r| vec![r]),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Concat(subs) => subs.iter().filter_map(required).max_by_key(|set| {
            // the best set has the longest shortest literal, then the fewest literals
            let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
            (shortest, usize::MAX - set.len())
        }),
        HirKind::Alternation(subs) => {
            let mut all = Vec::new();
            for s in subs {
                all.extend(required(s)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// The longest run of ASCII word characters in a literal.
fn longest_word_run(bytes: &[u8]) -> Option<Vec<u8>> {
    bytes
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .max_by_key(|run| run.len())
        .filter(|run| !run.is_empty())
        .map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(patterns: &[&str]) -> Option<Vec<String>> {
        Prefilter::for_patterns(patterns.iter().copied()).map(|p| p.literals().collect())
    }

    #[test]
    fn mandatory_literals() {
        assert_eq!(
            lits(&[
                r#"^\S+ - - \[.*\] "(GET|POST) (?:/[^"]*)?wp-login\.php(?:\?.*)? HTTP/[^"]+" 403 .*"#
            ]),
            Some(vec!["login".to_string()])
        );
        assert_eq!(
            lits(&[
                r"warning: .*SASL (?:LOGIN|PLAIN) authentication failed",
                r"non-SMTP command from"
            ]),
            Some(vec!["authentication".to_string(), "command".to_string()])
        );
        assert_eq!(
            lits(&[r"(?:alpha|beta) \d+"]),
            Some(vec!["alpha".to_string(), "beta".to_string()])
        );
    }

    #[test]
    fn no_prefilter_without_a_literal_in_every_regex() {
        assert_eq!(lits(&[r"^\S+ fail", r"\d+"]), None);
        assert_eq!(lits(&[r"(?i)failed password"]), None);
        assert_eq!(lits(&[r"(?:failed)? x"]), None);
        assert_eq!(lits(&[r"(?:ab|longer)"]), None);
    }

    #[test]
    fn finds_the_lines_of_hits_in_blocks() {
        let p = Prefilter::for_patterns([r"wp-login\.php"]).unwrap();
        let block = b"a\nb wp-login.php\nc\n";
        assert_eq!(p.next_line(block, 0), Some(2));
        assert_eq!(p.next_line(block, 2), Some(2));
        assert_eq!(p.next_line(block, 17), None);
        assert!(!p.may_match(b"nothing here"));
    }

    #[test]
    fn pauses_while_nearly_every_line_has_a_literal_and_judges_again() {
        let p = Prefilter::for_patterns([r"sshd"]).unwrap();
        // one line in ten ruled out: more than one in eight get through for nothing
        for i in 0..PAYOFF_WINDOW {
            let line: &[u8] = if i % 10 == 0 { b"cron" } else { b"sshd[1]" };
            assert_eq!(p.may_match(line), i % 10 != 0);
        }
        // paused: every line may match, found literal or not
        for _ in 0..PAUSE {
            assert!(p.may_match(b"cron"));
        }
        // searching again, and it pays now: it stays on
        for _ in 0..2 * PAYOFF_WINDOW {
            assert!(!p.may_match(b"cron"));
        }
        let block = b"cron\ncron\nsshd[1]\n";
        assert_eq!(p.next_line(block, 0), Some(10));
    }

    #[test]
    fn keeps_searching_where_it_rules_out_one_line_in_eight() {
        let p = Prefilter::for_patterns([r"sshd"]).unwrap();
        for i in 0..4 * PAYOFF_WINDOW {
            let line: &[u8] = if i % 8 == 0 { b"cron" } else { b"sshd[1]" };
            assert_eq!(p.may_match(line), i % 8 != 0, "line {i}");
        }
    }
}
