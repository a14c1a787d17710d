//! Which branch of `<HOST>` a failregex's match takes, told by two automaton walks.
//!
//! Owns one question: does the leftmost-first match of a pattern `A H B`, where `H`
//! is `<HOST>`'s alternation (its address branches first, the host name's last) at
//! the pattern's top level, take an address branch? The engine asks it of a line
//! that closes its connection (see `Filter::forgets_unsearched`), where the answer
//! decides whether the close counts without its data; a search with groups answers
//! it too, at several times the cost. This module must only ever answer "yes" where
//! that search would find `ip4` or `ip6` taking part; where it cannot prove it, it
//! answers "not shown" and the caller searches.
//!
//! Proof. A back-tracking matcher (Python's, and the linear engine's paths with it)
//! tries the ways `A` can match in a fixed priority order, and for each the rest
//! `H B` from where that way ends; within `H`, the address branches before the host
//! name. The first way `A` matches at all is the match of `A` alone, which a DFA
//! finds with the same priority (leftmost-first): it ends at `p`. If an address
//! branch followed by `B` matches from `p`, that first way of `A` succeeds with the
//! first address branch that can: no later way of `A` and no host-name branch is
//! tried. So "`A` alone ends at `p`, and `ADDR B` matches anchored at `p`" proves
//! the match takes an address branch (and that there is a match). Where `ADDR B`
//! fails at `p`, the match may take the host name at `p`, or a later way of `A`:
//! not shown. Every address branch must hold `ip4` or `ip6` on each of its paths,
//! so that taking it means one of them takes part.
//!
//! Only ASCII haystacks are answered: the automata are built with ASCII classes,
//! which read ASCII text as the pattern's Unicode ones do (as `pattern` builds
//! its ASCII form). A haystack the search gives up on (too long for its groups'
//! positions) is not answered either.

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

use crate::twopass::TwoPass;

/// The groups that hold an address: a branch of `H` that always sets one of them is
/// an address branch.
pub(crate) const ADDRESS_GROUPS: [&str; 2] = ["ip4", "ip6"];
/// The groups of `<HOST>`: a top-level part that holds none of them is not `H`.
const HOST_GROUPS: [&str; 3] = ["ip4", "ip6", "dns"];

/// The two automata of the proof, for one pattern: `A` alone, and `ADDR B`.
#[derive(Debug)]
pub(crate) struct HostBranch {
    head: Regex,
    head_cache: meta::Cache,
    address_tail: Regex,
    address_tail_cache: meta::Cache,
}

impl HostBranch {
    /// The automata for the linear pattern `source`, when it has the shape the proof
    /// needs: `<HOST>`'s alternation once, at its top level, led by address branches.
    pub(crate) fn of(source: &str) -> Option<HostBranch> {
        let config = syntax::Config::new().unicode(false).utf8(false);
        let hir = syntax::parse_with(source, &config).ok()?;
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let mut holding_host = parts
            .iter()
            .enumerate()
            .filter(|(_, part)| HOST_GROUPS.iter().any(|name| has_group(part, name)));
        let (at, host) = holding_host.next()?;
        if holding_host.next().is_some() {
            return None;
        }
        let HirKind::Alternation(branches) = host.kind() else {
            return None;
        };
        let address_branches: Vec<Hir> = branches
            .iter()
            .take_while(|branch| always_holds_address(branch))
            .map(without_groups)
            .collect();
        if address_branches.is_empty() {
            return None;
        }
        let head = Hir::concat(parts[..at].iter().map(without_groups).collect());
        let mut tail = vec![Hir::alternation(address_branches)];
        tail.extend(parts[at + 1..].iter().map(without_groups));
        let build = |hir: &Hir| {
            meta::Builder::new()
                .syntax(config)
                .configure(meta::Config::new().utf8_empty(false))
                .build_from_hir(hir)
                .ok()
        };
        let head = build(&head)?;
        let address_tail = build(&Hir::concat(tail))?;
        Some(HostBranch {
            head_cache: head.create_cache(),
            head,
            address_tail_cache: address_tail.create_cache(),
            address_tail,
        })
    }

    /// Whether the pattern matches `hay` (searched whole) and its match is shown to
    /// take an address branch of `<HOST>`; `false`: not shown (no match, a host name,
    /// or a haystack this does not answer).
    pub(crate) fn takes_address(&mut self, hay: &str) -> bool {
        // (a haystack too long for groups' positions: the search gives it up, and
        // so does this, to answer as it does)
        if !hay.is_ascii() || !TwoPass::fits(hay.as_bytes()) {
            return false;
        }
        let hay = hay.as_bytes();
        let Some(head) = self
            .head
            .search_half_with(&mut self.head_cache, &Input::new(hay))
        else {
            return false;
        };
        let rest = Input::new(hay)
            .range(head.offset()..)
            .anchored(Anchored::Yes);
        self.address_tail
            .search_half_with(&mut self.address_tail_cache, &rest)
            .is_some()
    }
}

/// Whether a group named `name` is anywhere in `hir`.
fn has_group(hir: &Hir, name: &str) -> bool {
    match hir.kind() {
        HirKind::Capture(capture) => {
            capture.name.as_deref() == Some(name) || has_group(&capture.sub, name)
        }
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            parts.iter().any(|part| has_group(part, name))
        }
        HirKind::Repetition(rep) => has_group(&rep.sub, name),
        _ => false,
    }
}

/// Whether every match of `hir` sets `ip4` or `ip6`.
fn always_holds_address(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Capture(capture) => {
            capture
                .name
                .as_deref()
                .is_some_and(|name| ADDRESS_GROUPS.contains(&name))
                || always_holds_address(&capture.sub)
        }
        HirKind::Concat(parts) => parts.iter().any(always_holds_address),
        HirKind::Alternation(branches) => branches.iter().all(always_holds_address),
        HirKind::Repetition(rep) => rep.min >= 1 && always_holds_address(&rep.sub),
        _ => false,
    }
}

/// `hir` with its groups made plain (the automata only match; a part of a pattern
/// would also number its groups with gaps, which the compiler refuses).
fn without_groups(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Capture(Capture { sub, .. }) => without_groups(sub),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(without_groups).collect()),
        HirKind::Alternation(branches) => {
            Hir::alternation(branches.iter().map(without_groups).collect())
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(without_groups(&rep.sub)),
            ..rep.clone()
        }),
        _ => hir.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{Groups, Mode, Pattern};
    use crate::tags;

    /// sshd's closes as Fail2ban's stock filter writes them (the user part of
    /// `mdre-normal-other`, a `Received disconnect` close, an `Accepted` login), and
    /// one searched for anywhere in the line (no `^`).
    const CLOSES: [&str; 4] = [
        r"^(?:Connection (?:closed|reset)|Disconnected) (?:by|from)(?: (?:invalid|authenticating) user <F-USER>\S+|.*?</F-USER>)? <HOST>(?:(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*|\s*)$",
        r"^Received disconnect from <HOST>(?: (?:port \d+|on \S+)){0,2}:\s*11:",
        r"^Accepted \w+ for <F-USER>\S+</F-USER> from <HOST>(?:\s|$)",
        r"(?:by|from)(?: user <F-USER>\S+|.*?</F-USER>)? <HOST>(?: port \d+)?\s*$",
    ];

    /// Lines that take each branch, and lines made so that a way of the pattern
    /// that reads a host name comes before one that reads an address.
    const LINES: [&str; 16] = [
        "Disconnected from invalid user admin 192.0.2.7 port 5122 [preauth]",
        "Disconnected from authenticating user root 2001:db8::7 port 22 [preauth]",
        "Connection closed by 192.0.2.7 port 5122",
        "Connection reset by [2001:db8::1] port 5122",
        "Disconnected from host.example.org port 22",
        "Disconnected from invalid user a host on 192.0.2.7",
        "Disconnected from invalid user a host on 192.0.2.7 port 1",
        "Disconnected from invalid user 192.0.2.8 host port 1",
        "Disconnected from 192.0.2.7x port 1",
        "Disconnected from invalid user 1.2.3.4.5 port 1",
        "Connection closed by authenticating user x 999.1.1.1 port 2 [preauth]",
        "Received disconnect from 192.0.2.9 port 40000:11: Bye Bye [preauth]",
        "Received disconnect from gw.example.net port 40000:11: Bye Bye",
        "Received disconnect from 192.0.2.9.example:11: x",
        "Accepted publickey for alice from 192.0.2.10 port 22 ssh2",
        "Accepted password for bob from bob.example.com port 22 ssh2",
    ];

    /// What the search with groups says: a match, with `ip4` or `ip6` taking part.
    fn searched(pattern: &Pattern, line: &str) -> bool {
        let mut groups = Groups::default();
        if !pattern.search_range_into(line, 0, line.len(), &mut groups) {
            return false;
        }
        let took_part = |name| {
            pattern
                .group_index(name)
                .is_some_and(|i| groups.get(i).is_some())
        };
        ADDRESS_GROUPS.into_iter().any(took_part)
    }

    /// Every "yes" is the search's, and the usual closes naming an address are
    /// answered without it; a host name before an address is left to the search.
    #[test]
    fn an_address_is_shown_only_where_the_search_with_groups_finds_one() {
        let mut answered = 0;
        for close in CLOSES {
            let pattern = Pattern::new(&tags::expand(close, "yes"), Mode::SingleLine).unwrap();
            let mut branch = HostBranch::of(pattern.linear_source().unwrap())
                .unwrap_or_else(|| panic!("no proof built for {close}"));
            for line in LINES {
                let shown = branch.takes_address(line);
                let found = searched(&pattern, line);
                assert!(
                    !shown || found,
                    "{line:?} shown to name an address by {close}"
                );
                answered += usize::from(shown);
            }
        }
        let with = |line: &str| {
            let pattern = Pattern::new(&tags::expand(CLOSES[0], "yes"), Mode::SingleLine).unwrap();
            let mut branch = HostBranch::of(pattern.linear_source().unwrap()).unwrap();
            (branch.takes_address(line), searched(&pattern, line))
        };
        assert_eq!(with(LINES[0]), (true, true));
        assert_eq!(with(LINES[1]), (true, true));
        assert_eq!(with(LINES[3]), (true, true));
        // a host name where the first way of the user part ends: the search decides
        assert_eq!(with(LINES[5]), (false, false));
        assert_eq!(with(LINES[4]), (false, false));
        assert!(
            answered >= 7,
            "only {answered} lines answered without a search"
        );
    }

    /// Lines pieced together from the words of sshd's closes, addresses and host
    /// names in every position (a fixed sequence, 50,000 lines a pattern): no "yes"
    /// that the search with groups does not give.
    #[test]
    fn generated_lines_agree_with_the_search_with_groups() {
        const HEADS: [&str; 6] = [
            "Disconnected from",
            "Disconnected from invalid user",
            "Connection closed by authenticating user",
            "Connection reset by",
            "Received disconnect from",
            "Accepted password for x from",
        ];
        const WORDS: [&str; 10] = [
            "x",
            "on",
            "port",
            "22",
            "[preauth]",
            "192.0.2.7",
            "2001:db8::1",
            "host.example",
            "1.2.3.4.5",
            "192.0.2.7:11:",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize % n
        };
        for close in CLOSES {
            let pattern = Pattern::new(&tags::expand(close, "yes"), Mode::SingleLine).unwrap();
            let mut branch = HostBranch::of(pattern.linear_source().unwrap()).unwrap();
            let (mut shown, mut found) = (0, 0);
            for _ in 0..50_000 {
                let mut line = HEADS[next(HEADS.len())].to_string();
                for _ in 0..1 + next(5) {
                    line.push(' ');
                    line.push_str(WORDS[next(WORDS.len())]);
                }
                let yes = branch.takes_address(&line);
                let search = searched(&pattern, &line);
                assert!(
                    !yes || search,
                    "{line:?} shown to name an address by {close}"
                );
                shown += usize::from(yes);
                found += usize::from(search);
            }
            assert!(
                shown > 0 && found > 0,
                "{close}: {shown} shown, {found} found"
            );
        }
    }

    /// Patterns without `<HOST>` at their top level, or with a host name only, get
    /// no proof.
    #[test]
    fn no_proof_without_host_at_the_top_level() {
        let proof = |python: &str| {
            let pattern = Pattern::new(&tags::expand(python, "yes"), Mode::SingleLine).unwrap();
            HostBranch::of(pattern.linear_source().unwrap()).is_some()
        };
        assert!(proof(r"^from <HOST> port \d+$"));
        assert!(!proof(r"^from (?P<h><HOST>) port \d+$"));
        assert!(!proof(r"^from (?:nowhere|<HOST>) port \d+$"));
        assert!(!proof(r"^from <DNS> port \d+$"));
        assert!(!proof(r"^user \S+$"));
    }
}
