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

use aho_corasick::AhoCorasick;
use regex_syntax::hir::{Hir, HirKind};

/// Literals of which every match contains at least one.
#[derive(Debug, Clone)]
pub struct Prefilter {
    automaton: AhoCorasick,
    literals: Vec<Vec<u8>>,
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
        })
    }

    /// The literals, for reports.
    pub fn literals(&self) -> impl Iterator<Item = String> + '_ {
        self.literals
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
    }

    /// Could `line` match?
    pub fn may_match(&self, line: &[u8]) -> bool {
        self.automaton.is_match(line)
    }

    /// Offset of the next literal in `hay` at or after `from`.
    pub fn next_hit(&self, hay: &[u8], from: usize) -> Option<usize> {
        let input = aho_corasick::Input::new(hay).span(from..hay.len());
        self.automaton.find(input).map(|m| m.start())
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
    fn finds_hits_in_blocks() {
        let p = Prefilter::for_patterns([r"wp-login\.php"]).unwrap();
        let block = b"a\nb wp-login.php\nc\n";
        assert_eq!(p.next_hit(block, 0), Some(7));
        assert_eq!(p.next_hit(block, 8), None);
        assert!(!p.may_match(b"nothing here"));
    }
}
