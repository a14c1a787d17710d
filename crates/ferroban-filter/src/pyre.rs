//! Python `re` syntax → Rust regex syntax.
//!
//! Fail2ban filters are written for Python's `re` module. This module owns the
//! translation of that dialect into the syntax of the `regex` crate (linear time) or,
//! only when a pattern needs look-around, back-references, conditionals or atomic
//! groups, of `fancy-regex` (back-tracking, run with a step bound). It does not know
//! about Fail2ban tags (`<HOST>` …): those are expanded before translation.
//!
//! Semantic points that differ between the two dialects and are handled here:
//! - Python's `$` (without MULTILINE) matches at the end *or before a final newline*.
//!   The engine always searches a buffer whose only newline outside multi-line mode is
//!   the final one, so `$` is emitted as `(?m:$)`, which is exactly that.
//! - A `{` that does not start a valid quantifier is a literal in Python.
//! - `[` inside a class is a literal in Python, a nested class in Rust; `&&`, `--`,
//!   `~~` are set operators in Rust classes. They are escaped.
//! - `\Z` is Rust's `\z`; `{,n}` is `{0,n}`; `(?#…)` comments are dropped; verbose
//!   mode `(?x)` is applied here (whitespace and comments removed).

use std::fmt::Write as _;

/// A pattern translated to Rust syntax.
#[derive(Debug, Clone)]
pub struct Translated {
    /// The pattern in `regex`/`fancy-regex` syntax.
    pub pattern: String,
    /// True when the pattern needs the back-tracking engine.
    pub needs_backtracking: bool,
    /// Back-references rewritten as copies of the referenced group for the linear
    /// engine: (referenced group, copy group). A match is valid only when both captured
    /// the same text; otherwise the back-tracking form must decide.
    pub backref_copies: Vec<(String, String)>,
    /// The pattern with real back-references, for the back-tracking engine, when
    /// `backref_copies` is not empty.
    pub backtracking_pattern: Option<String>,
    /// For a back-tracking pattern: a linear pattern that matches wherever it does (and
    /// more): look-arounds dropped, conditionals turned into alternations,
    /// back-references into `.*?`. A line it does not match is skipped without
    /// back-tracking at all.
    pub screen: Option<String>,
    /// Named groups, in order of appearance.
    pub group_names: Vec<String>,
}

/// A pattern Python's `re` would reject, or that we cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position} in regex {pattern:?}")]
pub struct TranslateError {
    pub message: String,
    pub position: usize,
    pub pattern: String,
}

/// Look-aheads Fail2ban puts around date templates, and linear equivalents.
///
/// `(?=\b|\W|$)` fails only between two word characters, which is what
/// `\b|\b{end-half}` says. `(?=^|\b|\W)` additionally fails at the very end after a
/// non-word character; it is always followed by a template that consumes at least one
/// character, so that position can never start a match and the same replacement holds.
/// Fail2ban's IPv6 pattern (`tags::IP6`, the `<HOST>`, `<ADDR>`, `<IP6>` tags) ends in
/// `(?<=:):`. Every repetition of the group before it ends in `:`, so that look-behind
/// always holds and a plain `:` is the same language — which keeps `<HOST>` on the
/// linear-time engine.
const IPV6_LINEAR: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)";

/// The back-tracking engine does not know `\b{end-half}`, so the choice is made when
/// the translation is finished: [`BOUNDARY_MARK`] stands in until then.
const WORD_BOUNDARY_LOOKAHEADS: [(&str, &str); 2] = [
    (r"(?=^|\b|\W)", r"(?=^|\b|\W)"),
    (r"(?=\b|\W|$)", r"(?=\b|\W|$)"),
];
const BOUNDARY_MARK: char = '\u{E000}';
const LINEAR_BOUNDARY: &str = r"(?:\b|\b{end-half})";

struct Translator<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
    out: String,
    fancy: bool,
    names: Vec<String>,
    verbose: bool,
    /// Open groups: the name (if any) and where its body starts in `out`.
    depth: usize,
    dollar: Dollar,
    target: Target,
    /// Open groups, and where the body of each starts in `out`.
    groups: Vec<(Open, usize)>,
    /// Translated bodies of closed named groups without nested groups.
    bodies: Vec<(String, String)>,
    /// (referenced group, copy group) for back-references run on the linear engine.
    backref_copies: Vec<(String, String)>,
}

/// What Python's `$` means for the buffers a pattern will search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dollar {
    /// The buffer's only newline is its last character, or the pattern is MULTILINE:
    /// `$` matches before any newline and at the end (zero-width, exact).
    BeforeNewline,
    /// A non-MULTILINE pattern over a multi-line buffer: at the end, or consuming the
    /// final newline.
    EndOrFinalNewline,
}

/// Translate a Python regular expression into Rust regex syntax.
pub fn translate(src: &str, dollar: Dollar) -> Result<Translated, TranslateError> {
    let linear = run(src, dollar, Target::Linear)?;
    if linear.fancy {
        let screen = run(src, dollar, Target::Screen)?;
        return Ok(Translated {
            pattern: linear.out,
            needs_backtracking: true,
            group_names: linear.names,
            backref_copies: Vec::new(),
            backtracking_pattern: None,
            screen: Some(screen.out),
        });
    }
    let backtracking_pattern = match linear.backref_copies.is_empty() {
        true => None,
        false => Some(run(src, dollar, Target::Backtracking)?.out),
    };
    Ok(Translated {
        pattern: linear.out,
        needs_backtracking: false,
        group_names: linear.names,
        backref_copies: linear.backref_copies,
        backtracking_pattern,
        screen: None,
    })
}

/// What a translation run produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// For the linear engine where possible: simple back-references become copies.
    Linear,
    /// For the back-tracking engine: everything as written.
    Backtracking,
    /// A linear superset of the pattern (see `Translated::screen`).
    Screen,
}

/// What an open group is, for what its closing parenthesis must do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Open {
    Plain,
    Named(String),
    /// A look-around being dropped (screen): its text starts at this offset of `out`.
    Dropped(usize),
    /// A conditional turned into an alternation (screen).
    Conditional,
}

fn run(src: &str, dollar: Dollar, target: Target) -> Result<Translator<'_>, TranslateError> {
    let mut t = Translator {
        dollar,
        target,
        groups: Vec::new(),
        bodies: Vec::new(),
        backref_copies: Vec::new(),
        src,
        chars: src.char_indices().collect(),
        i: 0,
        out: String::with_capacity(src.len() + 16),
        fancy: false,
        names: Vec::new(),
        verbose: false,
        depth: 0,
    };
    t.run()?;
    // Resolve the word-boundary look-aheads for the engine this output is for.
    let linear = match target {
        Target::Linear => !t.fancy,
        Target::Backtracking => false,
        Target::Screen => true,
    };
    let mut out = String::with_capacity(t.out.len());
    for (i, part) in t.out.split(BOUNDARY_MARK).enumerate() {
        out.push_str(if i % 2 == 1 && linear {
            LINEAR_BOUNDARY
        } else {
            part
        });
    }
    t.out = out;
    Ok(t)
}

impl Translator<'_> {
    fn open(&mut self, kind: Open) {
        self.depth += 1;
        self.groups.push((kind, self.out.len()));
    }

    fn screen(&self) -> bool {
        self.target == Target::Screen
    }

    /// Open a look-around (or, for the screen, start dropping one).
    fn lookaround(&mut self, opener: &str) {
        if self.screen() {
            self.open(Open::Dropped(self.out.len()));
        } else {
            self.fancy = true;
            self.out.push_str(opener);
            self.open(Open::Plain);
        }
    }

    fn err(&self, message: impl Into<String>) -> TranslateError {
        TranslateError {
            message: message.into(),
            position: self
                .chars
                .get(self.i)
                .map(|c| c.0)
                .unwrap_or(self.src.len()),
            pattern: self.src.to_string(),
        }
    }

    fn peek(&self, off: usize) -> Option<char> {
        self.chars.get(self.i + off).map(|c| c.1)
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        let pos = self
            .chars
            .get(self.i)
            .map(|c| c.0)
            .unwrap_or(self.src.len());
        self.src[pos..].starts_with(s)
    }

    fn run(&mut self) -> Result<(), TranslateError> {
        while let Some(c) = self.peek(0) {
            if self.verbose && c.is_whitespace() {
                self.i += 1;
                continue;
            }
            if self.verbose && c == '#' {
                while let Some(c) = self.peek(0) {
                    self.i += 1;
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            match c {
                '\\' => self.escape(false)?,
                '[' => self.class()?,
                '(' => self.group()?,
                ')' => {
                    if self.depth == 0 {
                        return Err(self.err("unbalanced parenthesis"));
                    }
                    self.depth -= 1;
                    self.i += 1;
                    match self.groups.pop() {
                        Some((Open::Named(name), start)) => {
                            let body = self.out[start..].to_string();
                            if !body.contains('(') {
                                self.bodies.push((name, body));
                            }
                        }
                        Some((Open::Dropped(at), _)) => {
                            self.out.truncate(at);
                            continue;
                        }
                        // either branch may be taken, or none when there is no `|`
                        Some((Open::Conditional, _)) => self.out.push('|'),
                        _ => {}
                    }
                    self.out.push(')');
                }
                '{' => self.brace(),
                '}' => {
                    self.out.push_str("\\}");
                    self.i += 1;
                }
                '$' => {
                    self.out.push_str(match self.dollar {
                        Dollar::BeforeNewline => "(?m:$)",
                        Dollar::EndOrFinalNewline => "(?:\\n?\\z)",
                    });
                    self.i += 1;
                }
                '*' | '+' | '?' => {
                    self.out.push(c);
                    self.i += 1;
                    // Possessive quantifiers (Python 3.11) need the back-tracking engine;
                    // a lazy `?` is passed through.
                    if self.peek(0) == Some('+') {
                        return Err(self.err("possessive quantifiers are not supported"));
                    }
                }
                _ => {
                    self.out.push(c);
                    self.i += 1;
                }
            }
        }
        if self.depth != 0 {
            return Err(self.err("missing ), unterminated subpattern"));
        }
        Ok(())
    }

    /// `{m,n}` quantifier, or a literal brace as Python treats it.
    fn brace(&mut self) {
        let mut j = self.i + 1;
        let mut lo = String::new();
        let mut hi = String::new();
        let mut comma = false;
        while let Some(&(_, c)) = self.chars.get(j) {
            match c {
                '0'..='9' if !comma => lo.push(c),
                '0'..='9' => hi.push(c),
                ',' if !comma => comma = true,
                '}' => break,
                _ => {
                    j = usize::MAX;
                    break;
                }
            }
            j += 1;
        }
        let closed = j != usize::MAX && self.chars.get(j).map(|c| c.1) == Some('}');
        if closed && (!lo.is_empty() || (comma && !hi.is_empty())) {
            let lo = if lo.is_empty() { "0".to_string() } else { lo };
            if comma {
                let _ = write!(self.out, "{{{lo},{hi}}}");
            } else {
                let _ = write!(self.out, "{{{lo}}}");
            }
            self.i = j + 1;
        } else {
            self.out.push_str("\\{");
            self.i += 1;
        }
    }

    fn group(&mut self) -> Result<(), TranslateError> {
        // self.peek(0) == '('
        if self.rest_starts_with(crate::tags::IP6) {
            self.out.push_str(IPV6_LINEAR);
            self.i += crate::tags::IP6.chars().count();
            return Ok(());
        }
        for (python, rust) in WORD_BOUNDARY_LOOKAHEADS {
            if self.rest_starts_with(python) {
                self.out.push(BOUNDARY_MARK);
                self.out.push_str(rust);
                self.out.push(BOUNDARY_MARK);
                self.i += python.chars().count();
                return Ok(());
            }
        }
        if self.peek(1) != Some('?') {
            self.out.push('(');
            self.i += 1;
            self.open(Open::Plain);
            return Ok(());
        }
        let after = self.i + 2;
        self.i = after;
        match self.peek(0) {
            Some(':') => {
                self.out.push_str("(?:");
                self.i += 1;
                self.open(Open::Plain);
            }
            Some(c @ ('=' | '!')) => {
                self.i += 1;
                self.lookaround(&format!("(?{c}"));
            }
            Some('>') => {
                self.i += 1;
                if self.screen() {
                    self.out.push_str("(?:");
                } else {
                    self.fancy = true;
                    self.out.push_str("(?>");
                }
                self.open(Open::Plain);
            }
            Some('<') if matches!(self.peek(1), Some('=') | Some('!')) => {
                let opener = format!("(?<{}", self.peek(1).unwrap_or('='));
                self.i += 2;
                self.lookaround(&opener);
            }
            Some('#') => {
                while let Some(c) = self.peek(0) {
                    self.i += 1;
                    if c == ')' {
                        return Ok(());
                    }
                }
                return Err(self.err("missing ), unterminated comment"));
            }
            Some('P') if self.peek(1) == Some('<') => {
                self.i += 2;
                let name = self.read_name('>')?;
                if self.names.contains(&name) {
                    return Err(self.err(format!("redefinition of group name {name:?}")));
                }
                let _ = write!(self.out, "(?P<{name}>");
                self.names.push(name.clone());
                self.open(Open::Named(name));
            }
            Some('P') if self.peek(1) == Some('=') => {
                self.i += 2;
                let name = self.read_name(')')?;
                if !self.names.contains(&name) {
                    return Err(self.err(format!("unknown group name {name:?}")));
                }
                let body = self
                    .bodies
                    .iter()
                    .find(|b| b.0 == name)
                    .map(|b| b.1.clone());
                match body {
                    _ if self.screen() => self.out.push_str("(?s:.*?)"),
                    Some(body) if self.target == Target::Linear => {
                        let copy = format!(
                            "{}bref{}_{}",
                            crate::unfold::INTERNAL_GROUP_PREFIX,
                            self.backref_copies.len(),
                            name
                        );
                        let _ = write!(self.out, "(?P<{copy}>{body})");
                        self.names.push(copy.clone());
                        self.backref_copies.push((name, copy));
                    }
                    _ => {
                        self.fancy = true;
                        let _ = write!(self.out, "\\k<{name}>");
                    }
                }
            }
            Some('(') => {
                self.i += 1;
                let name = self.read_name(')')?;
                if self.screen() {
                    self.out.push_str("(?:");
                    self.open(Open::Conditional);
                    return Ok(());
                }
                self.fancy = true;
                // fancy-regex reads `(?(name)` as a look-ahead condition; a group
                // reference is written `(?(<name>)` (or a number).
                if name.chars().all(|c| c.is_ascii_digit()) {
                    let _ = write!(self.out, "(?({name})");
                } else {
                    let _ = write!(self.out, "(?(<{name}>)");
                }
                self.open(Open::Plain);
            }
            Some(_) => self.flags()?,
            None => return Err(self.err("unexpected end of pattern")),
        }
        Ok(())
    }

    /// Inline flags: `(?aiLmsux)` or scoped `(?aiLmsux-imsx:…)`.
    fn flags(&mut self) -> Result<(), TranslateError> {
        let mut on = String::new();
        let mut off = String::new();
        let mut neg = false;
        loop {
            let c = self.peek(0).ok_or_else(|| self.err("missing flag"))?;
            self.i += 1;
            match c {
                'i' | 'm' | 's' => {
                    if neg {
                        off.push(c)
                    } else {
                        on.push(c)
                    }
                }
                'x' => {
                    if !neg {
                        self.verbose = true;
                    }
                }
                'a' | 'u' | 'L' => {}
                '-' => neg = true,
                ')' => {
                    if !on.is_empty() || !off.is_empty() {
                        let _ = write!(
                            self.out,
                            "(?{on}{}{off})",
                            if off.is_empty() { "" } else { "-" }
                        );
                    }
                    return Ok(());
                }
                ':' => {
                    let _ = write!(
                        self.out,
                        "(?{on}{}{off}:",
                        if off.is_empty() { "" } else { "-" }
                    );
                    self.open(Open::Plain);
                    return Ok(());
                }
                _ => return Err(self.err(format!("unknown extension ?{c}"))),
            }
        }
    }

    fn read_name(&mut self, end: char) -> Result<String, TranslateError> {
        let mut name = String::new();
        loop {
            let c = self
                .peek(0)
                .ok_or_else(|| self.err("missing group name terminator"))?;
            self.i += 1;
            if c == end {
                break;
            }
            name.push(c);
        }
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid && !name.chars().all(|c| c.is_ascii_digit()) {
            return Err(self.err(format!("bad character in group name {name:?}")));
        }
        Ok(name)
    }

    /// A backslash escape; `in_class` selects class semantics (`\b` is backspace there).
    fn escape(&mut self, in_class: bool) -> Result<(), TranslateError> {
        let c = self
            .peek(1)
            .ok_or_else(|| self.err("bad escape (end of pattern)"))?;
        self.i += 2;
        match c {
            'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 't' | 'r' | 'f' | 'v' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'b' if in_class => self.out.push_str("\\x08"),
            'b' | 'B' | 'A' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'Z' if !in_class => self.out.push_str("\\z"),
            'a' => self.out.push_str("\\x07"),
            'x' => {
                let hex = self.take_hex(2)?;
                let _ = write!(self.out, "\\x{{{hex}}}");
            }
            'u' => {
                let hex = self.take_hex(4)?;
                let _ = write!(self.out, "\\x{{{hex}}}");
            }
            'U' => {
                let hex = self.take_hex(8)?;
                let _ = write!(self.out, "\\x{{{hex}}}");
            }
            '0'..='7'
                if c == '0'
                    || (self.peek(0).is_some_and(|d| ('0'..='7').contains(&d))
                        && self.peek(1).is_some_and(|d| ('0'..='7').contains(&d))) =>
            {
                let mut v = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek(0).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            self.i += 1;
                        }
                        None => break,
                    }
                }
                let _ = write!(self.out, "\\x{{{v:x}}}");
            }
            '1'..='9' if !in_class => {
                let mut n = c.to_digit(10).unwrap_or(0);
                if let Some(d) = self.peek(0).and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d;
                    self.i += 1;
                }
                if self.screen() {
                    self.out.push_str("(?s:.*?)");
                } else {
                    self.fancy = true;
                    let _ = write!(self.out, "\\{n}");
                }
            }
            c if c.is_ascii_alphanumeric() => {
                self.i -= 1;
                return Err(self.err(format!("bad escape \\{c}")));
            }
            c => push_literal(&mut self.out, c),
        }
        Ok(())
    }

    fn take_hex(&mut self, n: usize) -> Result<String, TranslateError> {
        let mut s = String::new();
        for _ in 0..n {
            match self.peek(0) {
                Some(c) if c.is_ascii_hexdigit() => {
                    s.push(c);
                    self.i += 1;
                }
                _ => return Err(self.err("incomplete hex escape")),
            }
        }
        Ok(s)
    }

    fn class(&mut self) -> Result<(), TranslateError> {
        self.out.push('[');
        self.i += 1;
        if self.peek(0) == Some('^') {
            self.out.push('^');
            self.i += 1;
        }
        let mut first = true;
        // Whether the previous item can start a range (a single character).
        let mut prev_single = false;
        loop {
            let c = self
                .peek(0)
                .ok_or_else(|| self.err("unterminated character set"))?;
            match c {
                ']' if !first => {
                    self.out.push(']');
                    self.i += 1;
                    return Ok(());
                }
                '\\' => {
                    let e = self.peek(1);
                    self.escape(true)?;
                    prev_single = !matches!(e, Some('d' | 'D' | 's' | 'S' | 'w' | 'W'));
                }
                '-' => {
                    let next = self.peek(1);
                    let range = prev_single && !first && next.is_some() && next != Some(']');
                    if range {
                        self.out.push('-');
                        self.i += 1;
                        // the range end
                        if self.peek(0) == Some('\\') {
                            self.escape(true)?;
                        } else if let Some(e) = self.peek(0) {
                            push_class_literal(&mut self.out, e);
                            self.i += 1;
                        }
                        prev_single = false;
                    } else {
                        self.out.push_str("\\-");
                        self.i += 1;
                        prev_single = true;
                    }
                }
                _ => {
                    push_class_literal(&mut self.out, c);
                    self.i += 1;
                    prev_single = true;
                }
            }
            first = false;
        }
    }
}

fn push_literal(out: &mut String, c: char) {
    if regex_syntax_is_meta(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_whitespace() || c == '#' {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

fn push_class_literal(out: &mut String, c: char) {
    match c {
        '[' | ']' | '&' | '~' | '-' | '^' | '\\' => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_whitespace() || c == '#' => {
            let _ = write!(out, "\\x{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

fn regex_syntax_is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(s: &str) -> String {
        translate(s, Dollar::BeforeNewline).unwrap().pattern
    }

    #[test]
    fn dollar_matches_before_final_newline() {
        let p = tr(r"^foo$");
        let re = regex::Regex::new(&p).unwrap();
        assert!(re.is_match("foo\n"));
        assert!(re.is_match("foo"));
        assert!(!re.is_match("foo bar\n"));
    }

    #[test]
    fn literal_braces_and_classes() {
        assert_eq!(tr(r"a{DATE}"), r"a\{DATE\}");
        assert_eq!(tr(r"a{2,}"), r"a{2,}");
        assert_eq!(tr(r"a{,3}"), r"a{0,3}");
        assert_eq!(tr(r"[[]"), r"[\[]");
        assert_eq!(tr(r"[\w\-.^_]"), r"[\w\-.\^_]");
        assert_eq!(tr(r"[a-z&]"), r"[a-z\&]");
        assert_eq!(tr(r"[]x]"), r"[\]x]");
        regex::Regex::new(&tr(r"[\w-]")).unwrap();
    }

    #[test]
    fn named_groups_and_backrefs() {
        let t = translate(r"(?P<sep>[-/])x(?P=sep)", Dollar::BeforeNewline).unwrap();
        // runs linear, with a copy group verified after the match
        assert!(!t.needs_backtracking);
        assert_eq!(t.group_names, vec!["sep", "__ferroban_bref0_sep"]);
        let re = fancy_regex::Regex::new(t.backtracking_pattern.as_deref().unwrap()).unwrap();
        assert!(re.is_match("-x-").unwrap());
        assert!(!re.is_match("-x/").unwrap());
    }

    #[test]
    fn conditionals_and_lookaround() {
        let t = translate(r"(?P<a>\[)?x(?(a)\])", Dollar::BeforeNewline).unwrap();
        let re = fancy_regex::Regex::new(&t.pattern).unwrap();
        assert!(re.is_match("[x]").unwrap());
        assert!(re.is_match("x").unwrap());
        let t = translate(r"^(?P<c>a)?b(?(c)c|d)$", Dollar::BeforeNewline).unwrap();
        let re = fancy_regex::Regex::new(&t.pattern).unwrap();
        assert!(re.is_match("abc").unwrap());
        assert!(re.is_match("bd").unwrap());
        assert!(!re.is_match("abd").unwrap());
        let t = translate(r"(?<=a)b(?!c)", Dollar::BeforeNewline).unwrap();
        assert!(t.needs_backtracking);
    }

    #[test]
    fn screen_is_a_linear_superset() {
        let t = translate(
            r"^(?P<c>\[)?x(?<=x)(?(c)\]|y)(?!z)(?P=c)?(?>w)$",
            Dollar::BeforeNewline,
        )
        .unwrap();
        assert!(t.needs_backtracking);
        let screen = regex::Regex::new(t.screen.as_deref().unwrap()).unwrap();
        let full = fancy_regex::Regex::new(&t.pattern).unwrap();
        for s in ["[x][w", "xyw", "[x]w", "xw", "xyz", "q"] {
            if full.is_match(s).unwrap() {
                assert!(screen.is_match(s), "screen must accept {s:?}");
            }
        }
        assert!(!screen.is_match("q"));
    }

    #[test]
    fn escapes() {
        assert_eq!(tr(r"\Z"), r"\z");
        assert_eq!(tr(r"\/"), r"/");
        assert_eq!(tr(r"\ "), r"\x{20}");
        assert_eq!(tr(r"\x41"), r"\x{41}");
        assert!(translate(r"\q", Dollar::BeforeNewline).is_err());
        assert_eq!(tr(r"(?#comment)a"), "a");
        assert_eq!(tr("(?x) a b # c\n d"), "abd");
    }

    #[test]
    fn errors_not_panics() {
        for bad in ["(", ")", "[a", "(?P<1a>x)", "\\", "(?P=nope)", "a++"] {
            assert!(translate(bad, Dollar::BeforeNewline).is_err(), "{bad}");
        }
    }
}
