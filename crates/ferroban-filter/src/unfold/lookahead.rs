//! Look-aheads anywhere in a pattern, intersected with what follows them.
//!
//! Owns the rewrite of a negative look-ahead of literals, `(?!LIT|LIT…)` (each may
//! end in `\b` after a word character), followed by any look-ahead-free pattern, and
//! of a positive look-ahead followed by the rest of the line. It must not change which
//! lines match, which of Python's paths wins, or any group's span; where it cannot
//! prove that, it gives up and the caller keeps the back-tracking engine.
//!
//! Proof sketch, negative look-ahead. Python tries the paths of a pattern in a fixed
//! priority order and keeps the first that succeeds; `(?!LIT)` at point `p` of a path
//! fails exactly when the characters the path (and, past the match, the text) has
//! from `p` on start with `LIT`. Reading those characters one at a time, a path is in
//! one of three states: `LIT[..s]` read so far ("pending `s`"), a character that
//! differs read ("discharged": the look-ahead holds whatever follows), or all of
//! `LIT` read ("dead"); with several literals, `s` is a node of their trie.
//! [`Deriver::derive`] rewrites what follows `p` so that every path is kept,
//! unchanged, when it is discharged, and dropped when it is dead:
//! - a single-character item (a literal, a class, `.`, `\S`…) is split into the
//!   characters that lead on from `s` (one part per next node) and the rest
//!   (discharged). The parts match disjoint characters, so at most one can take a
//!   given text: the split keeps every path and their order. (A class with escapes,
//!   `[\w-]`, loses those characters as `(?:[^\WX]|-)`: alternatives that may
//!   overlap, but for one character a second alternative only repeats the first's
//!   path, so the first success is the same);
//! - a repetition is unrolled one turn (`X*` is `XX*|` — greedy order — and `X*?` is
//!   `|XX*?`), which is the order Python tries them in; `X` must consume something,
//!   so every turn advances or ends the pending state: the unrolling is finite;
//! - zero-width items (`^`, `$`, `\b`, look-behinds) read nothing and pass the state
//!   on;
//! - at the end of a group, the paths leaving it pending `s` go on with what follows
//!   the group. Where that continuation is, from `s`, discharged on every path (its
//!   first character never is `LIT[s]`) or dead on every path, the group keeps its
//!   shape: the exits pending `s` are kept or dropped. Otherwise the continuation is
//!   copied into each branch (`(?:A|B)C` is `(?:AC|BC)` and `(?:A)?C` is `(?:AC|C)`,
//!   the same paths in the same order); a capturing group cannot be opened up like
//!   that, and the rewrite gives up;
//! - at the end of the pattern, a path still pending `s` needs the text after the
//!   match not to start with `LIT[s..]`: a group named [`END_GROUP`] consumes "the end
//!   of the text, or a character that differs from the next one of `LIT[s..]`" (one
//!   way at most), and the match ends where that group starts.
//!
//! Repeated copies of a capturing group are renamed afterwards ([`dedupe_names`]);
//! only one copy can take part in a match, since the copies lie on different branches.
//!
//! Proof sketch, positive look-ahead `(?=P)` followed by `LIT (?P<g>.+)$` (or `.*`):
//! that rest has one way to match, taking the line to its end. When `P` starts with
//! `LIT`, cannot cross a newline and has no groups, "some prefix of the line from
//! here matches `P`" is "the rest of the line after `LIT` matches `P'.*`" (`P'` is `P`
//! without `LIT`); so the rest becomes `LIT (?P<g>(?:P').*)$`, with the same span for
//! `g`. `P'` must consume something where `g` was `.+`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::{Node, Renamer, END_GROUP};
use crate::pyre::{self, Dollar};

type Alts = Vec<Vec<Node>>;

/// Why a rewrite stopped.
#[derive(Debug, PartialEq)]
enum Fail {
    /// A look-ahead's continuation lies outside its group and is neither discharged
    /// nor dead as a whole: the enclosing group must take the continuation in.
    Mixed,
    /// Not provably exact here.
    Unsupported,
}

/// Steps a rewrite may take: copies multiply where look-aheads nest in bounded
/// repetitions, and a pattern that would take more is left to back-tracking.
const BUDGET: usize = 100_000;

struct Budget(Cell<usize>);

impl Budget {
    fn spend(&self) -> Result<(), Fail> {
        let left = self.0.get().checked_sub(1).ok_or(Fail::Unsupported)?;
        self.0.set(left);
        Ok(())
    }
}

/// What a look-ahead's literal needs at one position.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Char(char),
    /// `\b` after a word character: a character that is not a word character, or the
    /// end of the text.
    NotWordOrEnd,
}

/// One sequence of what follows the point being rewritten, and whether it lies
/// inside a capturing group.
#[derive(Clone, Copy)]
struct Frame<'a> {
    seq: &'a [Node],
    captured: bool,
}

/// Rewrite every look-ahead of `alts` (top-level branches) into linear forms;
/// `None` where one cannot be proved exact.
pub(super) fn rewrite(alts: &[Vec<Node>], renamer: &mut Renamer) -> Option<Alts> {
    let budget = Budget(Cell::new(BUDGET));
    let mut out = Vec::new();
    for seq in alts {
        out.extend(rewrite_seq(seq, &[], false, &budget).ok()?);
    }
    if out.is_empty() {
        out.push(vec![never()]);
    }
    dedupe_names(&mut out, renamer);
    Some(out)
}

/// Whether `node` is, or holds, a look-ahead.
pub(super) fn has_lookahead(node: &Node) -> bool {
    match node {
        Node::Group { open, body, .. } => {
            open == "(?!" || open == "(?=" || body.iter().flatten().any(has_lookahead)
        }
        Node::Quant(inner, _) => has_lookahead(inner),
        Node::Cond { yes, no, .. } => yes.iter().chain(no).flatten().any(has_lookahead),
        Node::Lit(..) | Node::Other(_) => false,
    }
}

/// `seq` (followed by `cont`) without look-aheads, as alternatives. The items after
/// the first look-ahead are rewritten first, so a derivation never meets one.
fn rewrite_seq(
    seq: &[Node],
    cont: &[Frame],
    captured: bool,
    budget: &Budget,
) -> Result<Alts, Fail> {
    budget.spend()?;
    let Some(i) = seq.iter().position(has_lookahead) else {
        return Ok(vec![seq.to_vec()]);
    };
    let (head, item) = (&seq[..i], &seq[i]);
    let rest = as_seq(rewrite_seq(&seq[i + 1..], cont, captured, budget)?);
    let tails: Alts = match item {
        Node::Group { open, body, .. } if open == "(?!" => {
            let trie = Trie::of(body).ok_or(Fail::Unsupported)?;
            let deriver = Deriver {
                trie: &trie,
                budget,
            };
            deriver.derive(&rest, 0, cont, captured)?
        }
        Node::Group { open, body, .. } if open == "(?=" => {
            vec![line_tail_lookahead(body, &rest, cont)?]
        }
        _ => {
            let mut frames = vec![Frame {
                seq: &rest,
                captured,
            }];
            frames.extend_from_slice(cont);
            match rewrite_item(item, &frames, captured, budget) {
                Ok(node) => vec![prepend(node, &rest)],
                Err(Fail::Mixed) => {
                    let mut tails = Vec::new();
                    for choice in open_up(item, false).ok_or(Fail::Mixed)? {
                        let mut branch = choice;
                        branch.extend(rest.iter().cloned());
                        tails.extend(rewrite_seq(&branch, cont, captured, budget)?);
                    }
                    tails
                }
                Err(e) => return Err(e),
            }
        }
    };
    Ok(vec![[head.to_vec(), as_seq(tails)].concat()])
}

/// A group holding look-aheads, rewritten in place (its branches followed by `cont`).
fn rewrite_item(
    item: &Node,
    cont: &[Frame],
    captured: bool,
    budget: &Budget,
) -> Result<Node, Fail> {
    match item {
        Node::Group { open, name, body } if !is_lookaround(open) => {
            let inner = captured || is_capturing(open);
            let mut new_body = Vec::new();
            for branch in body {
                new_body.extend(rewrite_seq(branch, cont, inner, budget)?);
            }
            if new_body.is_empty() {
                new_body.push(vec![never()]);
            }
            Ok(Node::Group {
                open: open.clone(),
                name: name.clone(),
                body: new_body,
            })
        }
        // a repetition is opened up by the caller (bounded ones only)
        Node::Quant(..) => Err(Fail::Mixed),
        _ => Err(Fail::Unsupported),
    }
}

/// `(?=P)` followed by `rest`, which must be `LIT (?P<g>.+)$` (or `.*`) at the end
/// of the pattern: `LIT (?P<g>(?:P').*)$` (see the module doc).
fn line_tail_lookahead(body: &Alts, rest: &[Node], cont: &[Frame]) -> Result<Vec<Node>, Fail> {
    if cont.iter().any(|f| !f.seq.is_empty()) {
        return Err(match rest.is_empty() {
            true => Fail::Mixed,
            false => Fail::Unsupported,
        });
    }
    let [p] = body.as_slice() else {
        return Err(Fail::Unsupported);
    };
    let k = rest
        .iter()
        .take_while(|n| matches!(n, Node::Lit(..)))
        .count();
    let [Node::Group {
        open,
        name,
        body: group_body,
    }, Node::Other(dollar)] = &rest[k..]
    else {
        return Err(Fail::Unsupported);
    };
    let [branch] = group_body.as_slice() else {
        return Err(Fail::Unsupported);
    };
    let [Node::Quant(dot, q)] = branch.as_slice() else {
        return Err(Fail::Unsupported);
    };
    let at_least_one = match q.as_str() {
        "+" => true,
        "*" => false,
        _ => return Err(Fail::Unsupported),
    };
    let same_start = p.len() >= k && p[..k] == rest[..k];
    let p_rest = p.get(k..).unwrap_or_default();
    if dollar != "$"
        || **dot != Node::Other(".".into())
        || !same_start
        || !p_rest.iter().all(stays_on_line)
        || (at_least_one && p_rest.iter().all(nullable))
    {
        return Err(Fail::Unsupported);
    }
    let line = vec![
        non_capturing(vec![p_rest.to_vec()]),
        Node::Quant(Box::new(Node::Other(".".into())), "*".into()),
    ];
    let mut out = rest[..k].to_vec();
    out.push(Node::Group {
        open: open.clone(),
        name: name.clone(),
        body: vec![line],
    });
    out.push(Node::Other("$".into()));
    Ok(out)
}

/// `node` matches within one line, has no capturing group and no assertion.
fn stays_on_line(node: &Node) -> bool {
    match node {
        Node::Lit(c, _) => *c != '\n',
        Node::Other(atom) => CharSet::of(atom).is_some_and(|set| !set.contains('\n')),
        Node::Group { open, body, .. } => open == "(?:" && body.iter().flatten().all(stays_on_line),
        Node::Quant(inner, _) => stays_on_line(inner),
        Node::Cond { .. } => false,
    }
}

/// Derivation of a pattern with respect to one look-ahead literal.
struct Deriver<'a> {
    trie: &'a Trie,
    budget: &'a Budget,
}

impl Deriver<'_> {
    /// The alternatives, in Python's order, for `seq` pending `s` (followed by `cont`,
    /// which is left to its owner unchanged).
    fn derive(&self, seq: &[Node], s: usize, cont: &[Frame], captured: bool) -> Result<Alts, Fail> {
        self.budget.spend()?;
        if self.trie.nodes[s].end {
            return Ok(Vec::new());
        }
        let Some((first, rest)) = seq.split_first() else {
            return self.exit(s, cont, captured);
        };
        if self.discharges(first, s) {
            return Ok(vec![seq.to_vec()]);
        }
        let mut frames = vec![Frame {
            seq: rest,
            captured,
        }];
        frames.extend_from_slice(cont);
        if self.transparent(first, s) && self.derive(rest, s, cont, captured)? == [rest.to_vec()] {
            return Ok(vec![seq.to_vec()]);
        }
        match self.derive_item(first, s, &frames, captured) {
            Ok(alts) if alts.is_empty() => Ok(alts),
            Ok(alts) => Ok(vec![[as_seq(alts), rest.to_vec()].concat()]),
            Err(Fail::Mixed) if !rest.is_empty() => {
                self.derive_inline(first, rest, s, cont, captured)
            }
            Err(e) => Err(e),
        }
    }

    /// Where a sequence ends pending `s`: what follows decides.
    fn exit(&self, s: usize, cont: &[Frame], captured: bool) -> Result<Alts, Fail> {
        let Some((next, more)) = cont.split_first() else {
            if captured {
                // the end group would widen the capturing group around it
                return Err(Fail::Mixed);
            }
            return Ok(vec![vec![end_group(self.trie.not_starting(s))]]);
        };
        if next.seq.is_empty() {
            return self.exit(s, more, captured);
        }
        let after = self.derive(next.seq, s, more, next.captured)?;
        if after.is_empty() {
            Ok(Vec::new())
        } else if after == [next.seq.to_vec()] {
            Ok(vec![Vec::new()])
        } else {
            Err(Fail::Mixed)
        }
    }

    /// `[node]` pending `s`, keeping a group's shape.
    fn derive_item(
        &self,
        node: &Node,
        s: usize,
        cont: &[Frame],
        captured: bool,
    ) -> Result<Alts, Fail> {
        match node {
            Node::Lit(c, _) => match self.trie.step(s, *c) {
                Some(t) => Ok(prefix(node, self.derive(&[], t, cont, captured)?)),
                None => Ok(vec![vec![node.clone()]]),
            },
            Node::Other(atom) if is_zero_width(atom) => {
                Ok(prefix(node, self.derive(&[], s, cont, captured)?))
            }
            Node::Other(atom) => {
                let set = CharSet::of(atom).ok_or(Fail::Unsupported)?;
                let (hits, miss) = set.split(&self.trie.nodes[s])?;
                let mut alts = Vec::new();
                for (hit, t) in hits {
                    alts.extend(prefix(&hit, self.derive(&[], t, cont, captured)?));
                }
                alts.extend(miss.map(|m| vec![m]));
                Ok(alts)
            }
            Node::Group { open, .. } if open.starts_with("(?<") => {
                Ok(prefix(node, self.derive(&[], s, cont, captured)?))
            }
            Node::Group { open, name, body } if !is_lookaround(open) => {
                let inner = captured || is_capturing(open);
                let mut new_body = Vec::new();
                for branch in body {
                    new_body.extend(self.derive(branch, s, cont, inner)?);
                }
                Ok(match new_body.is_empty() {
                    true => Vec::new(),
                    false => vec![vec![Node::Group {
                        open: open.clone(),
                        name: name.clone(),
                        body: new_body,
                    }]],
                })
            }
            Node::Quant(..) => {
                let mut alts = Vec::new();
                for choice in open_up(node, true).ok_or(Fail::Unsupported)? {
                    alts.extend(self.derive(&choice, s, cont, captured)?);
                }
                Ok(alts)
            }
            _ => Err(Fail::Unsupported),
        }
    }

    /// `node` then `rest` pending `s`, with `rest` copied into `node`'s choices.
    fn derive_inline(
        &self,
        node: &Node,
        rest: &[Node],
        s: usize,
        cont: &[Frame],
        captured: bool,
    ) -> Result<Alts, Fail> {
        let mut alts = Vec::new();
        match node {
            Node::Lit(c, _) => match self.trie.step(s, *c) {
                Some(t) => alts.extend(prefix(node, self.derive(rest, t, cont, captured)?)),
                None => alts.push(prepend(node.clone(), rest)),
            },
            Node::Other(atom) if is_zero_width(atom) => {
                alts.extend(prefix(node, self.derive(rest, s, cont, captured)?));
            }
            Node::Other(atom) => {
                let set = CharSet::of(atom).ok_or(Fail::Unsupported)?;
                let (hits, miss) = set.split(&self.trie.nodes[s])?;
                for (hit, t) in hits {
                    alts.extend(prefix(&hit, self.derive(rest, t, cont, captured)?));
                }
                alts.extend(miss.map(|m| prepend(m, rest)));
            }
            _ => {
                for choice in open_up(node, true).ok_or(Fail::Unsupported)? {
                    alts.extend(self.derive(
                        &[choice, rest.to_vec()].concat(),
                        s,
                        cont,
                        captured,
                    )?);
                }
            }
        }
        Ok(alts)
    }

    /// Every path of `node` starts with a character that discharges pending `s`.
    fn discharges(&self, node: &Node, s: usize) -> bool {
        match node {
            Node::Lit(c, _) => self.trie.step(s, *c).is_none(),
            Node::Other(atom) => {
                CharSet::of(atom).is_some_and(|set| set.misses(&self.trie.nodes[s]))
            }
            Node::Group { open, body, .. } => {
                !is_lookaround(open)
                    && body
                        .iter()
                        .all(|b| b.first().is_some_and(|n| self.discharges(n, s)))
            }
            Node::Quant(inner, q) => {
                Rep::parse(q).is_some_and(|r| r.min > 0) && self.discharges(inner, s)
            }
            Node::Cond { .. } => false,
        }
    }

    /// An optional repetition whose every turn discharges pending `s`.
    fn transparent(&self, node: &Node, s: usize) -> bool {
        matches!(node, Node::Quant(inner, _) if self.discharges(inner, s))
    }
}

/// The choices of a non-capturing group, or of a repetition (one turn unrolled, in
/// Python's order); `unbounded` allows `*`, `+` and `{m,}`. `None` for anything else,
/// and for repetitions that hold a capturing group or may match empty.
fn open_up(node: &Node, unbounded: bool) -> Option<Alts> {
    match node {
        Node::Group { open, body, .. } if open == "(?:" => Some(body.clone()),
        Node::Quant(inner, q) => {
            let rep = Rep::parse(q)?;
            if has_capture(inner) || nullable(inner) || (rep.max.is_none() && !unbounded) {
                return None;
            }
            let again = rep
                .less_one()
                .map(|r| Node::Quant(inner.clone(), r.to_string()));
            let turn: Vec<Node> = std::iter::once((**inner).clone()).chain(again).collect();
            Some(match (rep.min > 0, rep.lazy) {
                (true, _) => vec![turn],
                (false, false) => vec![turn, Vec::new()],
                (false, true) => vec![Vec::new(), turn],
            })
        }
        _ => None,
    }
}

/// A repetition count: `{min,max}` and whether it is lazy.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rep {
    min: u32,
    max: Option<u32>,
    lazy: bool,
}

impl Rep {
    fn parse(q: &str) -> Option<Rep> {
        let (q, lazy) = match q.strip_suffix('?') {
            Some(q) if !q.is_empty() => (q, true),
            _ => (q, false),
        };
        let (min, max) = match q {
            "*" => (0, None),
            "+" => (1, None),
            "?" => (0, Some(1)),
            _ => {
                let inner = q.strip_prefix('{')?.strip_suffix('}')?;
                match inner.split_once(',') {
                    None => (inner.parse().ok()?, Some(inner.parse().ok()?)),
                    Some((a, b)) => (
                        if a.is_empty() { 0 } else { a.parse().ok()? },
                        if b.is_empty() {
                            None
                        } else {
                            Some(b.parse().ok()?)
                        },
                    ),
                }
            }
        };
        Some(Rep { min, max, lazy })
    }

    /// The repetition left after one turn; `None` when no turn is left.
    fn less_one(self) -> Option<Rep> {
        let max = match self.max {
            Some(0 | 1) => return None,
            m => m.map(|m| m - 1),
        };
        Some(Rep {
            min: self.min.saturating_sub(1),
            max,
            lazy: self.lazy,
        })
    }
}

impl std::fmt::Display for Rep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (0, None) => f.write_str("*")?,
            (1, None) => f.write_str("+")?,
            (0, Some(1)) => f.write_str("?")?,
            (m, None) => write!(f, "{{{m},}}")?,
            (m, Some(n)) if m == n => write!(f, "{{{m}}}")?,
            (m, Some(n)) => write!(f, "{{{m},{n}}}")?,
        }
        if self.lazy {
            f.write_str("?")?;
        }
        Ok(())
    }
}

/// A set split: the parts that move a look-ahead on (each with the node it moves
/// to), and the part that discharges it.
type Split = (Vec<(Node, usize)>, Option<Node>);

/// A single-character atom: `[^BODY]` or `[BODY]` in Python class syntax.
#[derive(Debug, Clone, PartialEq)]
enum CharSet {
    Not(String),
    Any(String),
}

impl CharSet {
    fn of(atom: &str) -> Option<CharSet> {
        let not = |b: &str| Some(CharSet::Not(b.to_string()));
        match atom {
            "." => not(r"\n"),
            r"\S" => not(r"\s"),
            r"\s" => not(r"\S"),
            r"\w" => not(r"\W"),
            r"\W" => not(r"\w"),
            r"\d" => not(r"\D"),
            r"\D" => not(r"\d"),
            _ => {
                let body = atom.strip_prefix('[')?.strip_suffix(']')?;
                match body.strip_prefix('^') {
                    Some(b) if !b.is_empty() => not(b),
                    Some(_) => None,
                    None if !body.is_empty() => Some(CharSet::Any(body.to_string())),
                    None => None,
                }
            }
        }
    }

    fn class(&self) -> String {
        match self {
            CharSet::Not(b) => format!("[^{b}]"),
            CharSet::Any(b) => format!("[{b}]"),
        }
    }

    /// Whether the set holds `c`, as ferroban's own translation of it decides
    /// (remembered: a derivation asks about the same few sets again and again).
    fn contains(&self, c: char) -> bool {
        thread_local! {
            static KNOWN: RefCell<HashMap<(String, char), bool>> = RefCell::default();
        }
        let class = self.class();
        if let Some(known) = KNOWN.with(|k| k.borrow().get(&(class.clone(), c)).copied()) {
            return known;
        }
        let holds = pyre::translate(&class, Dollar::BeforeNewline)
            .ok()
            .and_then(|t| regex::Regex::new(&t.pattern).ok())
            .is_some_and(|re| re.is_match(&c.to_string()));
        KNOWN.with(|k| k.borrow_mut().insert((class, c), holds));
        holds
    }

    /// No character of the set moves the look-ahead on from `node`.
    fn misses(&self, node: &TrieNode) -> bool {
        node.next.iter().all(|(need, _)| match need {
            Need::Char(c) => !self.contains(*c),
            Need::NotWordOrEnd => self.word_chars_only(),
        })
    }

    fn word_chars_only(&self) -> bool {
        match self {
            CharSet::Not(b) => b == r"\W",
            CharSet::Any(b) => class_items(b).is_some_and(|(escapes, ranges)| {
                escapes.iter().all(|e| matches!(e, 'w' | 'd'))
                    && ranges
                        .iter()
                        .all(|&(a, z)| (a..=z).all(|c| c.is_ascii_alphanumeric() || c == '_'))
            }),
        }
    }

    /// The set split into the characters that move the look-ahead on from `node`
    /// (each with the node it moves to) and the others (`None` when there are none).
    fn split(&self, node: &TrieNode) -> Result<Split, Fail> {
        if let [(Need::NotWordOrEnd, t)] = node.next.as_slice() {
            return match self {
                CharSet::Not(b) => Ok((
                    vec![(Node::Other(format!(r"[^{b}\w]")), *t)],
                    Some(Node::Other(format!(r"[^{b}\W]"))),
                )),
                CharSet::Any(_) if self.word_chars_only() => Ok((vec![], Some(self.node()))),
                CharSet::Any(_) => Err(Fail::Unsupported),
            };
        }
        let hits: Vec<(char, usize)> = node
            .next
            .iter()
            .filter_map(|(need, t)| match need {
                Need::Char(c) if self.contains(*c) => Some((*c, *t)),
                _ => None,
            })
            .collect();
        if hits.is_empty() {
            return Ok((vec![], Some(self.node())));
        }
        let miss = match self {
            CharSet::Not(b) => {
                let taken: String = hits.iter().map(|(c, _)| escape(*c)).collect();
                Some(Node::Other(format!("[^{b}{taken}]")))
            }
            // each class escape less the characters is a class of its own, and
            // overlapping single characters as alternatives match as one class does
            CharSet::Any(b) => {
                let (escapes, mut kept) = class_items(b).ok_or(Fail::Unsupported)?;
                let taken: String = hits.iter().map(|(c, _)| escape(*c)).collect();
                for (c, _) in &hits {
                    kept = kept
                        .into_iter()
                        .flat_map(|(a, z)| without(a, z, *c))
                        .collect();
                }
                let mut parts: Vec<String> = escapes
                    .iter()
                    .map(|e| format!("[^\\{}{taken}]", swap_case(*e)))
                    .collect();
                if !kept.is_empty() {
                    let body: String = kept
                        .iter()
                        .map(|&(a, z)| match a == z {
                            true => escape(a),
                            false => format!("{}-{}", escape(a), escape(z)),
                        })
                        .collect();
                    parts.push(format!("[{body}]"));
                }
                match parts.len() {
                    0 => None,
                    1 => parts.pop().map(Node::Other),
                    _ => Some(non_capturing(
                        parts.into_iter().map(|p| vec![Node::Other(p)]).collect(),
                    )),
                }
            }
        };
        let hits = hits
            .into_iter()
            .map(|(c, t)| (Node::Lit(c, escape(c)), t))
            .collect();
        Ok((hits, miss))
    }

    fn node(&self) -> Node {
        Node::Other(self.class())
    }
}

/// Class escapes (`w` for `\w`, …), and characters and ranges.
type ClassItems = (Vec<char>, Vec<(char, char)>);

/// The items of a class body: its class escapes (`w` for `\w`, …) and its
/// characters and ranges; `None` for other escapes.
fn class_items(body: &str) -> Option<ClassItems> {
    let mut escapes = Vec::new();
    let mut chars = Vec::new();
    let mut it = body.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                let e = it.next()?;
                if "wWdDsS".contains(e) {
                    escapes.push(e);
                    continue;
                }
                if e.is_ascii_alphanumeric() {
                    return None;
                }
                chars.push((e, false));
            }
            '-' => chars.push((c, true)),
            _ => chars.push((c, false)),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some(('-', true)), Some(&(z, _))) => {
                out.push((chars[i].0, z));
                i += 3;
            }
            _ => {
                out.push((chars[i].0, chars[i].0));
                i += 1;
            }
        }
    }
    Some((escapes, out))
}

/// `\w` for `\W` and so on.
fn swap_case(escape: char) -> char {
    match escape.is_ascii_lowercase() {
        true => escape.to_ascii_uppercase(),
        false => escape.to_ascii_lowercase(),
    }
}

/// The range `a..=z` without `c`, as ranges.
fn without(a: char, z: char, c: char) -> Vec<(char, char)> {
    if c < a || c > z {
        return vec![(a, z)];
    }
    let before = char::from_u32(c as u32 - 1).filter(|_| c > a);
    let after = char::from_u32(c as u32 + 1).filter(|_| c < z);
    before
        .map(|b| (a, b))
        .into_iter()
        .chain(after.map(|n| (n, z)))
        .collect()
}

/// The literals of a negative look-ahead, as a trie: state `s` is node `s`, the
/// text read so far on the way to it.
struct Trie {
    nodes: Vec<TrieNode>,
}

#[derive(Default)]
struct TrieNode {
    /// What moves the state on, and to which node.
    next: Vec<(Need, usize)>,
    /// A whole literal has been read: the look-ahead fails.
    end: bool,
}

impl Trie {
    /// The trie of `(?!A|B…)`'s body: each branch literal characters, maybe ending
    /// in `\b` after a word character (which must then be the only way on).
    fn of(body: &Alts) -> Option<Trie> {
        let mut trie = Trie {
            nodes: vec![TrieNode::default()],
        };
        for branch in body {
            let mut s = 0;
            for need in literal(branch)? {
                let known = trie.nodes[s].next.iter().find(|(n, _)| *n == need);
                s = match known {
                    Some(&(_, t)) => t,
                    None => {
                        trie.nodes.push(TrieNode::default());
                        let t = trie.nodes.len() - 1;
                        trie.nodes[s].next.push((need, t));
                        t
                    }
                };
            }
            trie.nodes[s].end = true;
        }
        let mixed = trie.nodes.iter().any(|n| {
            n.next.len() > 1 && n.next.iter().any(|(need, _)| *need == Need::NotWordOrEnd)
        });
        (!mixed).then_some(trie)
    }

    /// The state after `c` from `s`; `None`: `c` discharges the look-ahead.
    fn step(&self, s: usize, c: char) -> Option<usize> {
        self.nodes[s].next.iter().find_map(|(need, t)| {
            let moves = match need {
                Need::Char(x) => *x == c,
                Need::NotWordOrEnd => !is_word(c),
            };
            moves.then_some(*t)
        })
    }

    /// A regex consuming the end of the text or the one character where the text
    /// stops following every literal from `s` on (one way at most).
    fn not_starting(&self, s: usize) -> String {
        let next = &self.nodes[s].next;
        if let [(Need::NotWordOrEnd, _)] = next.as_slice() {
            // `\b` after a word character is not there: a word character follows
            return r"\w".to_string();
        }
        let chars: String = next
            .iter()
            .filter_map(|(need, _)| match need {
                Need::Char(c) => Some(escape(*c)),
                Need::NotWordOrEnd => None,
            })
            .collect();
        let mut parts = vec![r"\Z".to_string(), format!("[^{chars}]")];
        for (need, t) in next {
            if let (Need::Char(c), false) = (need, self.nodes[*t].end) {
                parts.push(format!("{}(?:{})", escape(*c), self.not_starting(*t)));
            }
        }
        parts.join("|")
    }
}

/// One branch of `(?!…)`'s body as a literal.
fn literal(seq: &[Node]) -> Option<Vec<Need>> {
    let mut lit = Vec::new();
    for (i, node) in seq.iter().enumerate() {
        match node {
            Node::Lit(c, _) if *c != '\n' => lit.push(Need::Char(*c)),
            Node::Other(b) if b == r"\b" && i + 1 == seq.len() => match lit.last() {
                Some(Need::Char(c)) if is_word(*c) => lit.push(Need::NotWordOrEnd),
                _ => return None,
            },
            _ => return None,
        }
    }
    (!lit.is_empty()).then_some(lit)
}

/// The [`END_GROUP`] consuming `regex`.
fn end_group(regex: String) -> Node {
    Node::Group {
        open: format!("(?P<{END_GROUP}>"),
        name: Some(END_GROUP.into()),
        body: vec![vec![Node::Other(regex)]],
    }
}

/// Rename the second and later copies of each group name, reporting them as aliases
/// of the original.
fn dedupe_names(alts: &mut Alts, renamer: &mut Renamer) {
    let mut seen = Vec::new();
    for node in alts.iter_mut().flatten() {
        dedupe_node(node, &mut seen, renamer);
    }
}

fn dedupe_node(node: &mut Node, seen: &mut Vec<String>, renamer: &mut Renamer) {
    match node {
        Node::Group { open, name, body } => {
            if let Some(n) = name {
                if seen.contains(n) {
                    renamer.next += 1;
                    let copy = renamer.copy_name(n, renamer.next);
                    *open = format!("(?P<{copy}>");
                    *n = copy;
                }
                seen.push(n.clone());
            }
            for child in body.iter_mut().flatten() {
                dedupe_node(child, seen, renamer);
            }
        }
        Node::Quant(inner, _) => dedupe_node(inner, seen, renamer),
        Node::Cond { yes, no, .. } => {
            for child in yes.iter_mut().chain(no).flatten() {
                dedupe_node(child, seen, renamer);
            }
        }
        Node::Lit(..) | Node::Other(_) => {}
    }
}

fn has_capture(node: &Node) -> bool {
    match node {
        Node::Group { open, body, .. } => {
            is_capturing(open) || body.iter().flatten().any(has_capture)
        }
        Node::Quant(inner, _) => has_capture(inner),
        Node::Cond { .. } => true,
        Node::Lit(..) | Node::Other(_) => false,
    }
}

fn nullable(node: &Node) -> bool {
    match node {
        Node::Lit(..) => false,
        Node::Other(atom) => is_zero_width(atom),
        Node::Group { open, body, .. } => {
            is_lookaround(open) || body.iter().any(|b| b.iter().all(nullable))
        }
        Node::Quant(inner, q) => Rep::parse(q).is_none_or(|r| r.min == 0) || nullable(inner),
        Node::Cond { .. } => true,
    }
}

fn is_capturing(open: &str) -> bool {
    open == "(" || open.starts_with("(?P<")
}

fn is_lookaround(open: &str) -> bool {
    matches!(open, "(?=" | "(?!" | "(?<=" | "(?<!")
}

fn is_zero_width(atom: &str) -> bool {
    matches!(atom, "^" | "$" | r"\b" | r"\B" | r"\A" | r"\Z")
}

/// Python's `\w` (Unicode): letters, digits and the underscore.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `c` as a Python literal (in or out of a class).
fn escape(c: char) -> String {
    match c.is_ascii_alphanumeric() || c == ' ' || !c.is_ascii() {
        true => c.to_string(),
        false => format!("\\{c}"),
    }
}

fn prefix(node: &Node, alts: Alts) -> Alts {
    alts.into_iter()
        .map(|a| prepend(node.clone(), &a))
        .collect()
}

fn prepend(node: Node, rest: &[Node]) -> Vec<Node> {
    std::iter::once(node).chain(rest.iter().cloned()).collect()
}

/// Alternatives as one sequence (a non-capturing group where there are several, a
/// class that never matches where there are none).
fn as_seq(mut alts: Alts) -> Vec<Node> {
    match alts.len() {
        0 => vec![never()],
        1 => alts.pop().unwrap_or_default(),
        _ => vec![non_capturing(alts)],
    }
}

/// An item that never matches.
fn never() -> Node {
    Node::Other(r"[^\s\S]".into())
}

fn non_capturing(body: Alts) -> Node {
    Node::Group {
        open: "(?:".into(),
        name: None,
        body,
    }
}

#[cfg(test)]
mod tests {
    use crate::unfold::unfold;

    #[test]
    fn a_lookahead_before_a_loop_keeps_the_loop_whole() {
        let u = unfold(r"^\[(?!ab\])(?:.*)\]$").unwrap();
        assert_eq!(
            u.pattern,
            r"^\[(?:(?:a(?:b[^\n\]].*|[^\nb].*|)|[^\na].*|))\]$"
        );
    }

    #[test]
    fn copies_of_groups_are_renamed() {
        let u = unfold(r"^(?:x(?= a\d)|y) (?P<g>.+)$").unwrap();
        assert_eq!(
            u.pattern,
            r"^(?:x (?P<g>(?:a\d).*)$|y (?P<__ferroban_c1_g>.+)$)"
        );
        assert_eq!(
            u.aliases,
            [("__ferroban_c1_g".to_string(), "g".to_string())]
        );
    }

    #[test]
    fn what_cannot_be_proved_is_left_alone() {
        // inside an unbounded repetition
        assert_eq!(unfold(r"^(?:,(?!R=)\w+)*$"), None);
        // ignoring case
        assert_eq!(unfold(r"(?i)^(?!ab)\w+ x"), None);
        // `\b` beside another way on in the trie
        assert_eq!(unfold(r"^(?!ab\b|abc)\w+ x"), None);
        // the end group would widen a capturing group
        assert_eq!(unfold(r"^(?P<g>a(?!bc))"), None);
        // a positive look-ahead followed by anything but the rest of the line
        assert_eq!(unfold(r"^a(?=b)\w x"), None);
    }

    #[test]
    fn nested_bounded_repetitions_stop_at_the_budget() {
        let many = r"^(?:(?:(?:\w+ (?!found\b)){0,9} ){0,9} ){0,9}x";
        assert_eq!(unfold(many), None);
    }
}
