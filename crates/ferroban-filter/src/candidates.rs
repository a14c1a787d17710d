//! Which failregexes could match a buffer, found in one pass.
//!
//! Owns a `RegexSet` over the linear supersets of a filter's failregexes (each the
//! failregex itself when it runs on the linear engine), each cut before its first
//! run of any text (see [`head`]): one lazy-DFA pass over the start of the buffer
//! names the failregexes worth a search with captures; the others cannot match and
//! are skipped. It does not capture anything or decide the order in which
//! failregexes are tried (the engine does, as Fail2ban does).

use regex::bytes::{RegexSet, RegexSetBuilder};
use regex_syntax::hir::{Hir, HirKind};

/// A head shorter than this (in bytes, at least) tells too few buffers apart: the
/// whole pattern is kept.
const MIN_HEAD_LEN: usize = 3;

/// The failregexes' supersets, searched together.
#[derive(Debug)]
pub struct Candidates {
    set: RegexSet,
}

impl Candidates {
    /// A set over `supersets` (Rust syntax, in failregex order); `None` when a
    /// failregex has no linear superset or the set does not compile.
    pub fn new<'a>(supersets: impl IntoIterator<Item = Option<&'a str>>) -> Option<Candidates> {
        let patterns = supersets.into_iter().collect::<Option<Vec<_>>>()?;
        if patterns.len() < 2 {
            return None;
        }
        let patterns: Vec<String> = patterns.into_iter().map(head).collect();
        // ASCII classes: the set is only asked about ASCII buffers (see `possible`).
        let set = RegexSetBuilder::new(patterns)
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .ok()?;
        Some(Candidates { set })
    }

    /// Which failregexes may match `buffer` (by index); `None`: any may (the buffer
    /// is not ASCII, where the ASCII set would not be a superset).
    pub fn possible(&self, buffer: &str) -> Option<regex::bytes::SetMatches> {
        buffer
            .is_ascii()
            .then(|| self.set.matches(buffer.as_bytes()))
    }
}

/// `pattern` (Rust syntax, ASCII classes) up to its first run of any text (`.*`,
/// `[^:]+?`: a repeated class of most bytes, the space among them), when that part
/// is long enough to tell buffers apart; else `pattern` itself.
///
/// Why: the part matches wherever the pattern does (a match of the whole begins with
/// a match of the part), so the set stays a superset of the failregexes; and a
/// failregex anchored at the start is decided within a few words, where the whole
/// keeps the DFA reading to the line's end (`.*`, then the rest). The engine searches
/// each failregex the set names, so a line the part passes and the whole does not
/// costs a search that finds nothing.
fn head(pattern: &str) -> String {
    let parsed = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern);
    let Ok(hir) = parsed else {
        return pattern.to_string();
    };
    let mut items = Vec::new();
    if !items_before_any_text(&hir, &mut items) {
        let head = Hir::concat(items);
        if head.properties().minimum_len().unwrap_or(0) >= MIN_HEAD_LEN {
            return head.to_string();
        }
    }
    pattern.to_string()
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
        let c = Candidates::new([
            Some("^Failed .* from (\\S+)"),
            Some("^Invalid user"),
            Some("x"),
        ])
        .unwrap();
        let m = c.possible("Failed password from 192.0.2.1 x").unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), [0, 2]);
        assert!(c.possible("Invalid usér").is_none());
        assert!(Candidates::new([Some("a"), None]).is_none());
    }

    #[test]
    fn failregexes_are_cut_before_their_first_run_of_any_text() {
        let c = Candidates::new([
            Some(r"^Failed \S+ for (?P<user>.*) from (?P<host>\S+)\s*$"),
            Some(r"^ab.*c"),
            Some(r"^User (?P<user>\S+) from (?P<host>\S+)$"),
        ])
        .unwrap();
        let possible = |buffer| c.possible(buffer).unwrap().iter().collect::<Vec<_>>();
        // the head "Failed \S+ for " names the first, though the whole does not match
        assert_eq!(possible("Failed password for root"), [0]);
        assert_eq!(possible("Failed password"), [] as [usize; 0]);
        // "ab" is too short to tell lines apart: the whole is kept
        assert_eq!(possible("abx"), [] as [usize; 0]);
        assert_eq!(possible("abxc"), [1]);
        // no run of any text (\S is not): the whole
        assert_eq!(possible("User x from"), [] as [usize; 0]);
        assert_eq!(possible("User x from y"), [2]);
    }
}
