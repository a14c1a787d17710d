//! Python regex constructs that need back-tracking, rewritten into equivalent forms
//! the linear engine runs.
//!
//! Owns the source-to-source rewrites of a Python pattern, each applied only where
//! the result provably matches the same lines with the same groups:
//! - A conditional `(?(g)yes|no)` is unfolded by case: the part of the pattern from
//!   the item that decides whether `g` takes part (`(?P<g>…)?`, or an alternation
//!   with `g` in some branches) to the end of its sequence is copied once per choice,
//!   in the order back-tracking tries them, with the conditional resolved in each
//!   copy. Group names repeated by the copies are renamed (`__cN_name`) and reported
//!   as aliases, so a match still reports the original names.
//! - A look-ahead loop `(?:(?!LIT).)*` (or `*?`) whose end is forced — followed by
//!   `$`, or by `LIT` itself — matches one text at most, so it can be replaced by a
//!   regular expression for "no `LIT` starts here" built from the string-matching
//!   automaton of `LIT`.
//! - A negative look-ahead `(?!LIT)` that ends the pattern holds exactly where the
//!   text that follows is not `LIT`, which a group can consume instead: it is named
//!   [`END_GROUP`], and the match ends where that group starts.
//!
//! - Any other look-ahead left (outside repetitions, in a pattern without flags) is
//!   intersected with what follows it: see `lookahead`, which holds the proofs.
//!
//! Anything else (the `s` and `x` flags, back-references, a conditional or a
//! look-ahead inside an unbounded repetition, an unforced look-ahead loop) is left
//! alone: the caller then keeps the back-tracking engine. It does not translate to
//! Rust syntax (see `pyre`).

mod lookahead;

/// A rewritten pattern and the renamed copies of its groups: (copy, original).
#[derive(Debug, Clone, PartialEq)]
pub struct Unfolded {
    pub pattern: String,
    pub aliases: Vec<(String, String)>,
}

/// The prefix of the names of the groups the translation adds (a group's copies, the
/// end of an unfolded look-ahead), which no filter's data holds. Not `__` alone:
/// Fail2ban's filters name groups of their own so (`__connid`, `__prefix`), and
/// those are in a failure's data as any other.
pub const INTERNAL_GROUP_PREFIX: &str = "__ferroban_";

/// Whether `name` is a group the translation added (see [`INTERNAL_GROUP_PREFIX`]).
pub fn is_internal_group(name: &str) -> bool {
    name.starts_with(INTERNAL_GROUP_PREFIX)
}

/// The group that stands for a final negative look-ahead: the match ends where it
/// starts.
pub const END_GROUP: &str = "__ferroban_lookahead_end";

/// Rewrite `src` if it has constructs this module can unfold; `None` otherwise.
pub fn unfold(src: &str) -> Option<Unfolded> {
    if !["(?(", "(?!", "(?="].iter().any(|c| src.contains(c)) {
        return None;
    }
    let mut parser = Parser {
        chars: src.chars().collect(),
        i: 0,
        flags: false,
        case_insensitive: false,
    };
    let mut tree = parser.alternation()?;
    if parser.i != parser.chars.len() {
        return None;
    }
    let mut renamer = Renamer::default();
    while let Some(name) = first_conditional(&tree) {
        if !split_on(&mut tree, &name, &mut renamer, false)? {
            return None;
        }
    }
    let flagged = parser.flags;
    let mut tree = match flagged {
        true => tree,
        false => lookahead_loops(&tree, &[]),
    };
    final_lookahead(&mut tree, parser.case_insensitive);
    // Case-insensitive patterns keep their look-aheads: the derivation compares
    // characters exactly.
    if !flagged && tree.iter().flatten().any(lookahead::has_lookahead) {
        if let Some(linear) = lookahead::rewrite(&tree, &mut renamer) {
            tree = linear;
        }
    }
    let pattern = emit_alt(&tree);
    (pattern != src).then_some(Unfolded {
        pattern,
        aliases: renamer.aliases,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A literal character and its source text.
    Lit(char, String),
    /// Any other atom: a class, an escape, `.`, `^`, `$`.
    Other(String),
    Group {
        open: String,
        name: Option<String>,
        body: Vec<Vec<Node>>,
    },
    Cond {
        name: String,
        yes: Vec<Vec<Node>>,
        no: Vec<Vec<Node>>,
    },
    Quant(Box<Node>, String),
}

struct Parser {
    chars: Vec<char>,
    i: usize,
    /// The pattern sets flags (`i`, `m`, `a`, `u`, `L`; others are not handled).
    flags: bool,
    /// One of them is `i` (global in Python, wherever it is written).
    case_insensitive: bool,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn rest_starts(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, c)| self.chars.get(self.i + k) == Some(&c))
    }

    fn alternation(&mut self) -> Option<Vec<Vec<Node>>> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.sequence()?);
        }
        Some(alts)
    }

    fn sequence(&mut self) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let atom = match self.quantifier()? {
                Some(q) => Node::Quant(Box::new(atom), q),
                None => atom,
            };
            items.push(atom);
        }
        Some(items)
    }

    fn quantifier(&mut self) -> Option<Option<String>> {
        let start = self.i;
        match self.peek() {
            Some('*' | '+' | '?') => self.i += 1,
            Some('{') => {
                let mut j = self.i + 1;
                while self
                    .chars
                    .get(j)
                    .is_some_and(|c| c.is_ascii_digit() || *c == ',')
                {
                    j += 1;
                }
                let inner: String = self.chars[self.i + 1..j].iter().collect();
                let valid = self.chars.get(j) == Some(&'}')
                    && !inner.is_empty()
                    && inner.matches(',').count() <= 1
                    && inner != ",";
                if !valid {
                    return Some(None);
                }
                self.i = j + 1;
            }
            _ => return Some(None),
        }
        match self.peek() {
            Some('?') => self.i += 1,
            Some('+') => return None, // possessive: leave alone
            _ => {}
        }
        Some(Some(self.chars[start..self.i].iter().collect()))
    }

    fn atom(&mut self) -> Option<Node> {
        let c = self.peek()?;
        match c {
            '(' => self.group(),
            '[' => self.class(),
            '\\' => self.escape(),
            '.' | '^' | '$' => {
                self.i += 1;
                Some(Node::Other(c.to_string()))
            }
            '*' | '+' | '?' => None,
            _ => {
                self.i += 1;
                Some(Node::Lit(c, c.to_string()))
            }
        }
    }

    fn escape(&mut self) -> Option<Node> {
        let c = *self.chars.get(self.i + 1)?;
        if c.is_ascii_alphanumeric() {
            // classes, anchors, hex and numeric escapes: all kept as written, but
            // back-references (digits) are not supported here
            if c.is_ascii_digit() || matches!(c, 'x' | 'u' | 'U' | 'N') {
                return None;
            }
            self.i += 2;
            return Some(Node::Other(format!("\\{c}")));
        }
        self.i += 2;
        Some(Node::Lit(c, format!("\\{c}")))
    }

    fn class(&mut self) -> Option<Node> {
        let start = self.i;
        self.i += 1;
        if self.peek() == Some('^') {
            self.i += 1;
        }
        if self.peek() == Some(']') {
            self.i += 1;
        }
        loop {
            match self.peek()? {
                '\\' => self.i += 2,
                ']' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        Some(Node::Other(self.chars[start..self.i].iter().collect()))
    }

    fn group(&mut self) -> Option<Node> {
        let (open, name) = if self.rest_starts("(?P<") {
            let close = self.chars[self.i..].iter().position(|&c| c == '>')? + self.i;
            let name: String = self.chars[self.i + 4..close].iter().collect();
            self.i = close + 1;
            (format!("(?P<{name}>"), Some(name))
        } else if self.rest_starts("(?(") {
            let close = self.chars[self.i..].iter().position(|&c| c == ')')? + self.i;
            let name: String = self.chars[self.i + 3..close].iter().collect();
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            self.i = close + 1;
            let mut branches = self.alternation()?;
            if self.peek() != Some(')') || branches.len() > 2 {
                return None;
            }
            self.i += 1;
            let no = match branches.len() {
                2 => branches.pop()?,
                _ => Vec::new(),
            };
            let yes = branches.pop()?;
            return Some(Node::Cond {
                name,
                yes: vec![yes],
                no: vec![no],
            });
        } else {
            let open = ["(?:", "(?=", "(?!", "(?<=", "(?<!"]
                .into_iter()
                .find(|o| self.rest_starts(o));
            match open {
                Some(o) => {
                    self.i += o.len();
                    (o.to_string(), None)
                }
                // flags, comments, back-references, atomic groups: not handled
                None if self.rest_starts("(?") => return self.flag_group(),
                None => {
                    self.i += 1;
                    ("(".to_string(), None)
                }
            }
        };
        let body = self.alternation()?;
        if self.peek() != Some(')') {
            return None;
        }
        self.i += 1;
        Some(Node::Group { open, name, body })
    }
}

impl Parser {
    /// `(?imaLu)`: kept as written (case-insensitivity does not change what the
    /// rewrites mean, except look-ahead loops, which are then left alone).
    fn flag_group(&mut self) -> Option<Node> {
        let close = self.chars[self.i..].iter().position(|&c| c == ')')? + self.i;
        let flags: String = self.chars[self.i + 2..close].iter().collect();
        if flags.is_empty() || !flags.chars().all(|c| "imaLu".contains(c)) {
            return None;
        }
        self.i = close + 1;
        self.flags = true;
        self.case_insensitive |= flags.contains('i');
        Some(Node::Other(format!("(?{flags})")))
    }
}

/// Replace a negative look-ahead of literals (`(?!A|B)`) that ends a top-level branch
/// by [`END_GROUP`] consuming "end of text, or none of those literals".
fn final_lookahead(alts: &mut [Vec<Node>], case_insensitive: bool) {
    for seq in alts.iter_mut() {
        let Some(Node::Group { open, body, .. }) = seq.last() else {
            continue;
        };
        let literals: Option<Vec<Vec<(char, String)>>> = body
            .iter()
            .map(|branch| {
                branch
                    .iter()
                    .map(|n| match n {
                        Node::Lit(c, src) => Some((*c, src.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let (Some(literals), true) = (literals, open == "(?!") else {
            continue;
        };
        if case_insensitive && differ_only_by_case(&literals) {
            continue;
        }
        let literals: Vec<&[(char, String)]> = literals.iter().map(Vec::as_slice).collect();
        let Some(consumed) = none_of(&literals) else {
            continue;
        };
        seq.pop();
        seq.push(Node::Other(format!("(?P<{END_GROUP}>{consumed})")));
    }
}

/// A regex consuming the end of the text, or a text that none of `literals` starts:
/// `\Z|[^ab]|a(?:…)|b(?:…)` over their trie. `None`: one of them is empty here (it
/// has been read whole).
fn none_of(literals: &[&[(char, String)]]) -> Option<String> {
    if literals.iter().any(|l| l.is_empty()) {
        return None;
    }
    let mut firsts: Vec<&(char, String)> = Vec::new();
    for l in literals {
        if !firsts.iter().any(|f| f.0 == l[0].0) {
            firsts.push(&l[0]);
        }
    }
    let class: String = firsts
        .iter()
        .map(|(c, src)| match c.is_ascii_alphanumeric() || *c == ' ' {
            true => c.to_string(),
            false => src.to_string(),
        })
        .collect();
    let mut parts = vec![r"\Z".to_string(), format!("[^{class}]")];
    for (c, src) in firsts {
        let rests: Vec<&[(char, String)]> = literals
            .iter()
            .filter(|l| l[0].0 == *c)
            .map(|l| &l[1..])
            .collect();
        if let Some(inner) = none_of(&rests) {
            parts.push(format!("{src}(?:{inner})"));
        }
    }
    Some(parts.join("|"))
}

/// Two literals with, at the same place, characters that differ only by case: the
/// trie of [`none_of`] would not be exact where case is ignored.
fn differ_only_by_case(literals: &[Vec<(char, String)>]) -> bool {
    literals.iter().any(|a| {
        literals.iter().any(|b| {
            a.iter()
                .zip(b)
                .any(|((x, _), (y, _))| x != y && x.to_lowercase().eq(y.to_lowercase()))
        })
    })
}

fn emit_alt(alts: &[Vec<Node>]) -> String {
    alts.iter()
        .map(|s| emit_seq(s))
        .collect::<Vec<_>>()
        .join("|")
}

fn emit_seq(items: &[Node]) -> String {
    items.iter().map(emit).collect()
}

fn emit(node: &Node) -> String {
    match node {
        Node::Lit(_, text) | Node::Other(text) => text.clone(),
        Node::Group { open, body, .. } => format!("{open}{})", emit_alt(body)),
        Node::Cond { name, yes, no } => {
            format!("(?({name}){}|{})", emit_alt(yes), emit_alt(no))
        }
        Node::Quant(node, q) => format!("{}{q}", emit(node)),
    }
}

/// The name of the first conditional, in pattern order.
fn first_conditional(alts: &[Vec<Node>]) -> Option<String> {
    alts.iter().flatten().find_map(conditional_in)
}

fn conditional_in(node: &Node) -> Option<String> {
    match node {
        Node::Cond { name, .. } => Some(name.clone()),
        Node::Group { body, .. } => first_conditional(body),
        Node::Quant(inner, _) => conditional_in(inner),
        Node::Lit(..) | Node::Other(_) => None,
    }
}

fn defines(node: &Node, name: &str) -> bool {
    match node {
        Node::Group {
            name: Some(n),
            body,
            ..
        } => n == name || body.iter().flatten().any(|n| defines(n, name)),
        Node::Group { body, .. } => body.iter().flatten().any(|n| defines(n, name)),
        Node::Cond { yes, no, .. } => yes.iter().chain(no).flatten().any(|n| defines(n, name)),
        Node::Quant(inner, _) => defines(inner, name),
        Node::Lit(..) | Node::Other(_) => false,
    }
}

fn refers(node: &Node, name: &str) -> bool {
    match node {
        Node::Cond { name: n, yes, no } => {
            n == name || yes.iter().chain(no).flatten().any(|x| refers(x, name))
        }
        Node::Group { body, .. } => body.iter().flatten().any(|x| refers(x, name)),
        Node::Quant(inner, _) => refers(inner, name),
        Node::Lit(..) | Node::Other(_) => false,
    }
}

/// Unfold the conditionals on `name` in the sequence (at any depth outside
/// repetitions) that holds both the item deciding `name` and the conditionals.
/// `Some(false)`: not found here; `None`: found but not unfoldable.
fn split_on(
    alts: &mut [Vec<Node>],
    name: &str,
    renamer: &mut Renamer,
    in_loop: bool,
) -> Option<bool> {
    for seq in alts.iter_mut() {
        let def = seq.iter().position(|n| defines(n, name));
        if let Some(i) = def {
            if seq[i + 1..].iter().any(|n| refers(n, name)) {
                if in_loop || refers(&seq[i], name) || seq[..i].iter().any(|n| refers(n, name)) {
                    return None;
                }
                let choices = choices_of(&seq[i], name)?;
                let rest: Vec<Node> = seq.drain(i..).skip(1).collect();
                let mut branches = Vec::new();
                for (k, (item, present)) in choices.into_iter().enumerate() {
                    let mut branch = vec![item];
                    branch.extend(rest.iter().map(|n| resolve(n, name, present)));
                    if k > 0 {
                        renamer.rename_seq(&mut branch);
                    }
                    branches.push(branch);
                }
                seq.push(Node::Group {
                    open: "(?:".into(),
                    name: None,
                    body: branches,
                });
                return Some(true);
            }
        }
        for node in seq.iter_mut() {
            let found = match node {
                Node::Group { body, .. } => split_on(body, name, renamer, in_loop)?,
                Node::Quant(inner, _) => match inner.as_mut() {
                    Node::Group { body, .. } => split_on(body, name, renamer, true)?,
                    _ => false,
                },
                Node::Cond { yes, no, .. } => {
                    split_on(yes, name, renamer, in_loop)? || split_on(no, name, renamer, in_loop)?
                }
                Node::Lit(..) | Node::Other(_) => false,
            };
            if found {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// The choices an item makes, in back-tracking order, each with whether group `name`
/// takes part: `(?P<name>X)?` (greedy), or a group whose branches each hold `name` as
/// a plain item or not at all.
fn choices_of(item: &Node, name: &str) -> Option<Vec<(Node, bool)>> {
    match item {
        Node::Quant(inner, q) if q == "?" => match inner.as_ref() {
            Node::Group { name: Some(n), .. } if n == name => Some(vec![
                ((**inner).clone(), true),
                (
                    Node::Group {
                        open: "(?:".into(),
                        name: None,
                        body: vec![vec![]],
                    },
                    false,
                ),
            ]),
            _ => None,
        },
        Node::Group {
            open,
            name: group_name,
            body,
        } if body.len() > 1 && group_name.as_deref() != Some(name) => body
            .iter()
            .map(|branch| {
                let plain = branch
                    .iter()
                    .any(|n| matches!(n, Node::Group { name: Some(x), .. } if x == name));
                let nested = branch.iter().any(|n| defines(n, name));
                if nested && !plain {
                    return None;
                }
                let node = Node::Group {
                    open: open.clone(),
                    name: group_name.clone(),
                    body: vec![branch.clone()],
                };
                Some((node, plain))
            })
            .collect(),
        _ => None,
    }
}

/// `node` with the conditionals on `name` replaced by their branch for `present`.
fn resolve(node: &Node, name: &str, present: bool) -> Node {
    let all = |alts: &[Vec<Node>]| -> Vec<Vec<Node>> {
        alts.iter()
            .map(|s| s.iter().map(|n| resolve(n, name, present)).collect())
            .collect()
    };
    match node {
        Node::Cond { name: n, yes, no } if n == name => Node::Group {
            open: "(?:".into(),
            name: None,
            body: all(if present { yes } else { no }),
        },
        Node::Cond { name: n, yes, no } => Node::Cond {
            name: n.clone(),
            yes: all(yes),
            no: all(no),
        },
        Node::Group {
            open,
            name: g,
            body,
        } => Node::Group {
            open: open.clone(),
            name: g.clone(),
            body: all(body),
        },
        Node::Quant(inner, q) => Node::Quant(Box::new(resolve(inner, name, present)), q.clone()),
        other => other.clone(),
    }
}

/// Renames the groups of copies, remembering each copy's original name.
#[derive(Default)]
struct Renamer {
    aliases: Vec<(String, String)>,
    next: usize,
}

impl Renamer {
    fn rename_seq(&mut self, seq: &mut [Node]) {
        self.next += 1;
        let tag = self.next;
        for node in seq {
            self.rename(node, tag);
        }
    }

    fn copy_name(&mut self, name: &str, tag: usize) -> String {
        let original = self
            .aliases
            .iter()
            .find(|(copy, _)| copy == name)
            .map_or(name, |(_, o)| o.as_str())
            .to_string();
        let copy = format!("{INTERNAL_GROUP_PREFIX}c{tag}_{original}");
        if !self.aliases.iter().any(|(c, _)| *c == copy) {
            self.aliases.push((copy.clone(), original));
        }
        copy
    }

    fn rename(&mut self, node: &mut Node, tag: usize) {
        match node {
            Node::Group { open, name, body } => {
                if let Some(n) = name {
                    let copy = self.copy_name(n, tag);
                    *open = format!("(?P<{copy}>");
                    *n = copy;
                }
                body.iter_mut().flatten().for_each(|n| self.rename(n, tag));
            }
            Node::Cond { name, yes, no } => {
                *name = self.copy_name(name, tag);
                yes.iter_mut()
                    .chain(no)
                    .flatten()
                    .for_each(|n| self.rename(n, tag));
            }
            Node::Quant(inner, _) => self.rename(inner, tag),
            Node::Lit(..) | Node::Other(_) => {}
        }
    }
}

/// The literal of a look-ahead loop body `(?:(?!LIT).)`, if `node` is one.
fn lookahead_loop_literal(node: &Node) -> Option<String> {
    let Node::Group { open, body, .. } = node else {
        return None;
    };
    let [seq] = body.as_slice() else { return None };
    let [Node::Group {
        open: la,
        body: la_body,
        ..
    }, Node::Other(dot)] = seq.as_slice()
    else {
        return None;
    };
    let [lit] = la_body.as_slice() else {
        return None;
    };
    let text: Option<String> = lit
        .iter()
        .map(|n| match n {
            Node::Lit(c, _) if *c != '\n' => Some(*c),
            _ => None,
        })
        .collect();
    (open == "(?:" && la == "(?!" && dot == ".")
        .then_some(text)
        .flatten()
        .filter(|t| !t.is_empty())
}

/// What follows a point of the pattern, as far as it decides a look-ahead loop's end.
enum Follows {
    /// `$`
    LineEnd,
    /// These literal characters (at least).
    Text(String),
}

fn follows(cont: &[&[Node]]) -> Option<Follows> {
    let mut text = String::new();
    for seq in cont {
        if let Some(stop) = collect_literal(seq, &mut text) {
            return stop;
        }
    }
    (!text.is_empty()).then_some(Follows::Text(text))
}

/// Append the literal characters `seq` starts with to `text`, entering groups with one
/// branch; `Some(answer)` where something else stops the collection.
fn collect_literal(seq: &[Node], text: &mut String) -> Option<Option<Follows>> {
    for node in seq {
        match node {
            Node::Lit(c, _) => text.push(*c),
            Node::Other(d) if d == "$" && text.is_empty() => return Some(Some(Follows::LineEnd)),
            Node::Group { open, body, .. }
                if body.len() == 1
                    && (open == "(" || open == "(?:" || open.starts_with("(?P<")) =>
            {
                if let Some(stop) = collect_literal(&body[0], text) {
                    return Some(stop);
                }
            }
            _ => return Some((!text.is_empty()).then(|| Follows::Text(std::mem::take(text)))),
        }
    }
    None
}

/// Rewrite the look-ahead loops whose end is forced; `cont` is what follows `alts`.
fn lookahead_loops(alts: &[Vec<Node>], cont: &[&[Node]]) -> Vec<Vec<Node>> {
    alts.iter()
        .map(|seq| {
            seq.iter()
                .enumerate()
                .map(|(i, node)| {
                    let mut after: Vec<&[Node]> = vec![&seq[i + 1..]];
                    after.extend_from_slice(cont);
                    match node {
                        Node::Quant(inner, q) if q == "*" || q == "*?" => {
                            let forced = lookahead_loop_literal(inner).and_then(|lit| {
                                let allowed = match follows(&after)? {
                                    Follows::LineEnd => avoiding(&lit, None),
                                    Follows::Text(t) if t.starts_with(&lit) => {
                                        avoiding(&lit, Some(&t))
                                    }
                                    Follows::Text(_) => return None,
                                };
                                Some(Node::Other(allowed))
                            });
                            forced.unwrap_or_else(|| node.clone())
                        }
                        Node::Group { open, name, body } => Node::Group {
                            open: open.clone(),
                            name: name.clone(),
                            body: if open.starts_with("(?=")
                                || open.starts_with("(?!")
                                || open.starts_with("(?<")
                            {
                                body.clone()
                            } else {
                                lookahead_loops(body, &after)
                            },
                        },
                        other => other.clone(),
                    }
                })
                .collect()
        })
        .collect()
}

/// Whether `lit` could start inside a text that ends in automaton state `state` (a
/// prefix of `lit` of that length) and end in `next`.
fn runs_into(lit: &[char], fail: &[usize], state: usize, next: &str) -> bool {
    let mut j = state;
    while j > 0 {
        if next.starts_with(&lit[j..].iter().collect::<String>()) {
            return true;
        }
        j = fail[j];
    }
    false
}

/// A regex (Python syntax) for the texts without a newline in which `lit` does not
/// start; with `next` (the text that follows, which starts with `lit`), also none
/// where `lit` would start inside and run on into `next`. Built from the
/// string-matching automaton of `lit` by state elimination.
fn avoiding(lit: &str, next: Option<&str>) -> String {
    let p: Vec<char> = lit.chars().collect();
    let m = p.len();
    // failure function
    let mut fail = vec![0usize; m + 1];
    let mut k = 0;
    for i in 1..m {
        while k > 0 && p[i] != p[k] {
            k = fail[k];
        }
        if p[i] == p[k] {
            k += 1;
        }
        fail[i + 1] = k;
    }
    let step = |mut state: usize, c: Option<char>| -> usize {
        // c None: a character not in lit
        loop {
            if state < m && Some(p[state]) == c {
                return state + 1;
            }
            if state == 0 {
                return 0;
            }
            state = fail[state];
        }
    };
    let mut alphabet: Vec<char> = p.clone();
    alphabet.sort_unstable();
    alphabet.dedup();
    let escape = |c: char| -> String {
        if c.is_ascii_alphanumeric() || c == ' ' {
            c.to_string()
        } else {
            format!("\\{c}")
        }
    };
    let other = format!(
        "[^{}\\n]",
        alphabet.iter().map(|c| escape(*c)).collect::<String>()
    );
    // states 0..m-1, start S = m, final F = m + 1
    let n = m + 2;
    let mut r: Vec<Vec<Option<String>>> = vec![vec![None; n]; n];
    let add = |r: &mut Vec<Vec<Option<String>>>, i: usize, j: usize, e: String| {
        r[i][j] = Some(match r[i][j].take() {
            Some(old) => format!("{old}|{e}"),
            None => e,
        });
    };
    for s in 0..m {
        for c in alphabet.iter().map(|c| Some(*c)).chain([None]) {
            let t = step(s, c);
            if t < m {
                let e = c.map_or(other.clone(), escape);
                add(&mut r, s, t, e);
            }
        }
        // an end state is allowed unless `lit` would start inside and end in `next`
        let ends_ok = match next {
            None => true,
            Some(next) => !runs_into(&p, &fail, s, next),
        };
        if ends_ok {
            add(&mut r, s, m + 1, String::new());
        }
    }
    add(&mut r, m, 0, String::new());
    let group = |e: &str| format!("(?:{e})");
    // the deepest states first: the expression stays close to the automaton
    for k in (0..m).rev() {
        let lp = r[k][k].take().map(|e| format!("{}*", group(&e)));
        for i in (0..n).filter(|&i| i != k) {
            let Some(ik) = r[i][k].clone() else { continue };
            for j in (0..n).filter(|&j| j != k) {
                let Some(kj) = r[k][j].clone() else { continue };
                let e = format!(
                    "{}{}{}",
                    group(&ik),
                    lp.clone().unwrap_or_default(),
                    group(&kj)
                );
                add(&mut r, i, j, e);
            }
        }
        // state k is gone: no edges into or out of it remain
        for row in r.iter_mut() {
            row[k] = None;
        }
        r[k].fill(None);
    }
    group(r[m][m + 1].as_deref().unwrap_or(r"[^\s\S]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_plain_patterns_alone() {
        assert_eq!(unfold(r"^Failed \S+ from (?P<host>\S+)$"), None);
    }

    #[test]
    fn unfolds_an_optional_group_condition() {
        let u = unfold(r"^(?P<a>x)?y(?(a)1|2)$").unwrap();
        assert_eq!(u.pattern, r"^(?:(?P<a>x)y(?:1)$|(?:)y(?:2)$)");
        assert!(u.aliases.is_empty());
    }

    #[test]
    fn unfolds_an_alternation_condition_and_renames_copies() {
        let u = unfold(r"^(?P<u>(?P<c>\d+)|\w+) z(?(c):|!)(?P<t>.)").unwrap();
        assert_eq!(
            u.pattern,
            r"^(?:(?P<u>(?P<c>\d+)) z(?::)(?P<t>.)|(?P<__ferroban_c1_u>\w+) z(?:!)(?P<__ferroban_c1_t>.))"
        );
        assert_eq!(
            u.aliases,
            [
                ("__ferroban_c1_u".into(), "u".into()),
                ("__ferroban_c1_t".into(), "t".into())
            ]
        );
    }

    #[test]
    fn a_final_negative_lookahead_is_consumed_by_the_end_group() {
        let u = unfold(r"failed:(?! lost)").unwrap();
        let re = regex::Regex::new(
            &crate::pyre::translate(&u.pattern, crate::pyre::Dollar::BeforeNewline)
                .unwrap()
                .pattern,
        )
        .unwrap();
        for (s, ok) in [
            ("failed:", true),
            ("failed:\n", true),
            ("failed: lost", false),
            ("failed: los", true),
            ("failed: lost; failed: x", true),
            ("failed: lot", true),
        ] {
            assert_eq!(re.is_match(s), ok, "{s:?}");
        }
        let m = re.captures("x failed: lo").unwrap();
        assert_eq!(m.name(END_GROUP).map(|g| g.start()), Some(9));
        // case-insensitive patterns keep the rewrite (both sides fold alike)
        assert!(unfold(r"(?i)a(?!b)").is_some());
        let alternatives = unfold(r"x(?!ab|ac|d)").unwrap().pattern;
        assert_eq!(
            alternatives,
            r"x(?P<__ferroban_lookahead_end>\Z|[^ad]|a(?:\Z|[^bc]))"
        );
        // where case is ignored, a trie over "ab" and "Ac" would not be exact
        assert_eq!(unfold(r"(?i)x(?!ab|Ac)"), None);
        assert_eq!(unfold(r"(?s)a(?!b)"), None);
    }

    #[test]
    fn conditions_inside_repetitions_stay() {
        assert_eq!(unfold(r"(?:(?P<a>x)?y(?(a)1|2))*"), None);
    }

    #[test]
    fn forced_lookahead_loops_become_linear() {
        let lin = |p: &str| regex::Regex::new(&unfold(p).unwrap().pattern).unwrap();
        let to_end = lin(r"^a(?:(?! from ).)*$");
        for (s, ok) in [
            ("a", true),
            ("ab from", true),
            ("ab from x", false),
            ("a fro from", true),
            ("a  from x", false),
            ("a from", true),
            ("a fromx from ", false),
        ] {
            assert_eq!(to_end.is_match(s), ok, "{s:?}");
        }
        let before = lin(r"^<(?P<u>(?:(?! from ).)*?) from x");
        // the loop takes the text up to the first " from " only
        assert!(before.is_match("<a b from x"));
        assert!(!before.is_match("<a from b from x"));
        assert!(!before.is_match("<a from from x"));
        // not forced: left to back-tracking
        assert_eq!(unfold(r"^(?:(?! from ).)*?x"), None);
    }
}
