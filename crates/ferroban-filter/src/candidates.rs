//! Which failregexes could match a buffer, found in one pass.
//!
//! Owns a `RegexSet` over the linear supersets of a filter's failregexes (each the
//! failregex itself when it runs on the linear engine): one lazy-DFA pass over the
//! buffer names the failregexes worth a search with captures; the others cannot
//! match and are skipped. It does not capture anything or decide the order in which
//! failregexes are tried (the engine does, as Fail2ban does).

use regex::bytes::{RegexSet, RegexSetBuilder};

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
}
