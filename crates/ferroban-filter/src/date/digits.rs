//! Which digits a template's regex reads alike at each position of a line's start.
//!
//! Owns the per-position digit sets ([`DigitMasks`]) that let the detector take a
//! line whose deciding bytes differ from the last line's only in digits (the next
//! second, the next minute) as matched the same way, without a search. It does not
//! search, choose templates or read times.

use regex_automata::nfa::thompson::{self, State, NFA};
use regex_automata::util::primitives::StateID;

use crate::twopass::next_on_byte;

/// For each position of a line start, the digits that every thread of a template's
/// automaton, at that position of that line, takes the same way as the line's own
/// byte there.
///
/// Why a line with other digits there is matched the same way: the automaton (a
/// Thompson NFA of the template's ASCII form, which agrees with its Unicode form on
/// ASCII text) runs from the line start; at each position every live state either
/// steps on the byte to one next state or dies, and the assertions at a position
/// look only at whether the bytes next to it are word characters or line ends — the
/// same for any two digits. A byte that sends every live state where the old byte
/// sent it leaves the live states of the next position as they were, so a line that
/// differs only in such bytes walks through the same states at every position: every
/// thread takes the same path, so the leftmost-first match, its groups, and where a
/// deterministic automaton of it dies are all the same.
#[derive(Debug, Clone)]
pub struct DigitMasks {
    /// Bit `d` of entry `p`: digit `d` reads as the byte at `p` (0 where that byte is
    /// not a digit, or where no state is live any more).
    masks: Vec<u16>,
}

/// The automaton [`DigitMasks`] are worked out on: a template's regex (Rust syntax,
/// matches starting at the line start) in its ASCII form.
pub fn ascii_nfa(source: &str) -> Option<NFA> {
    let syntax = regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false);
    thompson::Compiler::new()
        .syntax(syntax)
        .configure(thompson::Config::new().utf8(false))
        .build(source)
        .ok()
}

impl DigitMasks {
    /// The masks of `prefix`, an ASCII line start, for the anchored search of `nfa`.
    pub fn of(nfa: &NFA, prefix: &[u8]) -> Option<DigitMasks> {
        if !prefix.is_ascii() {
            return None;
        }
        let mut seen = vec![false; nfa.states().len()];
        let mut live = vec![nfa.start_anchored()];
        let mut consuming = Vec::new();
        let mut masks = Vec::with_capacity(prefix.len());
        for (at, &byte) in prefix.iter().enumerate() {
            consuming.clear();
            seen.iter_mut().for_each(|s| *s = false);
            close(nfa, prefix, at, &live, &mut seen, &mut consuming);
            let step = |b: u8| {
                consuming
                    .iter()
                    .map(move |&id| next_on_byte(nfa.state(id), b))
            };
            let alike = |d: u8| step(b'0' + d).eq(step(byte));
            let mask = if byte.is_ascii_digit() && !consuming.is_empty() {
                (0..10).filter(|&d| alike(d)).fold(0u16, |m, d| m | 1 << d)
            } else {
                0
            };
            masks.push(mask);
            live.clear();
            live.extend(step(byte).flatten());
        }
        Some(DigitMasks { masks })
    }

    /// `new` (as long as the masks) reads as `old`, the line start they were worked out
    /// on: equal, or a digit among those read alike where they differ.
    pub fn reads_alike(&self, old: &[u8], new: &[u8]) -> bool {
        old.len() == self.masks.len()
            && all_differences(old, new, |p| {
                // a byte past `9` wraps to a large shift, which no mask has
                let digit = u32::from(new[p].wrapping_sub(b'0'));
                self.masks[p].checked_shr(digit).unwrap_or(0) & 1 != 0
            })
    }
}

/// Whether `ok` holds at every position where `a` and `b` differ (false when their
/// lengths differ). They are compared a word at a time: a line's date differs from
/// the last line's in a byte or two, and a call to `memcmp` costs more than the
/// compare. A position may be offered twice (the last word overlaps the one before).
#[inline]
pub fn all_differences(a: &[u8], b: &[u8], mut ok: impl FnMut(usize) -> bool) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return (0..n).all(|p| a[p] == b[p] || ok(p));
    }
    let word = |s: &[u8], at: usize| {
        (s.get(at..at + 8))
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let mut at = 0;
    while at < n {
        let start = at.min(n - 8);
        let mut diff = word(a, start) ^ word(b, start);
        while diff != 0 {
            let byte = diff.trailing_zeros() as usize / 8;
            if !ok(start + byte) {
                return false;
            }
            diff &= !(0xff << (byte * 8));
        }
        at += 8;
    }
    true
}

/// The consuming and match states reachable from `from` at position `at` of `hay`
/// without reading a byte (each once, marked in `seen`).
fn close(
    nfa: &NFA,
    hay: &[u8],
    at: usize,
    from: &[StateID],
    seen: &mut [bool],
    out: &mut Vec<StateID>,
) {
    let mut stack: Vec<StateID> = from.to_vec();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.as_usize()], true) {
            continue;
        }
        match nfa.state(id) {
            State::ByteRange { .. } | State::Sparse(_) | State::Dense(_) | State::Match { .. } => {
                out.push(id)
            }
            State::Look { look, next } => {
                if nfa.look_matcher().matches(*look, hay, at) {
                    stack.push(*next);
                }
            }
            State::Union { alternates } => stack.extend(alternates.iter().copied()),
            State::BinaryUnion { alt1, alt2 } => stack.extend([*alt1, *alt2]),
            State::Capture { next, .. } => stack.push(*next),
            State::Fail => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_read_alike_where_every_state_takes_them_alike() {
        let nfa = ascii_nfa(r"\A(?P<M>[0-5]\d):(?P<S>[0-5]?\d|6[01])\b").unwrap();
        let masks = DigitMasks::of(&nfa, b"07:13 x").unwrap();
        // minutes: a tens digit up to 5, any units digit
        assert!(masks.reads_alike(b"07:13 x", b"59:13 x"));
        assert!(!masks.reads_alike(b"07:13 x", b"67:13 x"));
        // seconds: `6` of `6[01]` parts from the other tens digits
        assert!(masks.reads_alike(b"07:13 x", b"07:59 x"));
        assert!(!masks.reads_alike(b"07:13 x", b"07:63 x"));
        // not digits, or not where the old line had one
        assert!(!masks.reads_alike(b"07:13 x", b"07:13 y"));
        assert!(!masks.reads_alike(b"07:13 x", b"07:1a x"));
        assert!(!masks.reads_alike(b"07:13 x", b"07:13 x "));
    }

    #[test]
    fn every_difference_is_offered() {
        let differences = |a: &[u8], b: &[u8]| {
            let mut found = Vec::new();
            let all = all_differences(a, b, |p| {
                found.push(p);
                true
            });
            found.sort_unstable();
            found.dedup();
            (all, found)
        };
        assert_eq!(
            differences(b"Feb 23 00:00:03 v", b"Feb 23 00:00:03 v"),
            (true, vec![])
        );
        assert_eq!(
            differences(b"Feb 23 00:00:03 v", b"Feb 23 00:10:04 w"),
            (true, vec![10, 14, 16])
        );
        assert_eq!(differences(b"Xeb 23 0", b"Feb 23 1"), (true, vec![0, 7]));
        assert_eq!(differences(b"12:5", b"12:6"), (true, vec![3]));
        assert_eq!(differences(b"12:5", b"12:56"), (false, vec![]));
        assert!(!all_differences(
            b"Feb 23 00:00:03 v",
            b"Feb 23 00:00:04 v",
            |p| p != 14
        ));
    }
}
