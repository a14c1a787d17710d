//! One date template: a regex that finds a timestamp in a line, and how to read it.
//!
//! Owns the construction rules Fail2ban applies to a `datepattern` (word or line
//! anchoring, `{^LN-BEG}`, `{UNB}`, `**` markers, global flags) and the three kinds of
//! templates: `%`-patterns, epoch numbers and TAI64N labels. It does not choose between
//! templates (that is the detector's job).

use std::sync::OnceLock;

use super::digits::{self, DigitMasks};
use super::strptime::{self, Fields};
use crate::anchored::AnchoredDfa;
use crate::pattern::{linear_form_of, linear_superset_of, Groups, MatchMemo, Mode, Pattern};
use crate::prefilter::is_word_byte;
use jiff::tz::TimeZone;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

pub const LINE_BEGIN: u8 = 8;
pub const LINE_END: u8 = 4;
pub const WORD_BEGIN: u8 = 2;
pub const WORD_END: u8 = 1;

/// How a template is anchored at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    None,
    Word,
    /// At the line start, after at most two non-word characters.
    Line,
}

#[derive(Debug)]
enum Kind {
    Pattern,
    Epoch { long: bool, group: usize },
    Tai64n,
}

/// A date template.
#[derive(Debug)]
pub struct Template {
    pub name: String,
    /// The Python-syntax regex searched for.
    pub regex: String,
    /// The `datepattern` text it was built from (pattern templates only).
    pub pattern: Option<String>,
    pub flags: u8,
    pub weight: f64,
    /// The date this template cuts out of a line always starts and ends with a word
    /// character, or sits at the line start: true of Fail2ban's own templates, set
    /// where they are built. A custom pattern is judged by its form (see
    /// [`Template::cuts_at_word_bounds`]).
    builtin_bounds: bool,
    /// Compiled on first use: a process holds dozens of default templates and most
    /// are never searched (the detector's screen rules them out).
    compiled: OnceLock<Result<Pattern, String>>,
    /// See [`Template::deciding_prefix_len`]; built on first use.
    start_first: OnceLock<Option<AnchoredDfa>>,
    /// See [`Template::digit_masks`]; built on first use.
    ascii_nfa: OnceLock<Option<regex_automata::nfa::thompson::NFA>>,
    /// See [`Template::clock_groups`]; found on first use.
    clock_groups: OnceLock<Option<ClockGroups>>,
    superset: Option<String>,
    kind: Kind,
}

/// The groups of a `%`-pattern template whose digits a clock's step changes: the
/// second, the minute, and the fraction (which the time does not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockGroups {
    pub second: Option<usize>,
    pub minute: Option<usize>,
    pub fraction: Option<usize>,
}

impl ClockGroups {
    /// The groups, in no order.
    pub(crate) fn all(&self) -> impl Iterator<Item = usize> {
        [self.second, self.minute, self.fraction]
            .into_iter()
            .flatten()
    }
}

/// An invalid date pattern.
#[derive(Debug, thiserror::Error)]
#[error("failed to set datepattern {pattern:?}: {message}")]
pub struct TemplateError {
    pub pattern: String,
    pub message: String,
}

struct Meta {
    grouped: Pattern,
    group: Pattern,
    global_flags: Pattern,
    no_word_bound_begin: Pattern,
    no_word_bound_end: Pattern,
    del_word_bounds: Pattern,
    line_bound_begin: Pattern,
    line_bound_end: Pattern,
    alpha: Pattern,
    epoch: Pattern,
    directive: Pattern,
}

fn meta() -> &'static Meta {
    static META: OnceLock<Meta> = OnceLock::new();
    META.get_or_init(|| {
        let p = |s: &str| Pattern::new(s, Mode::SingleLine).expect("built-in meta regex compiles");
        let directives = strptime::DIRECTIVES
            .iter()
            .filter(|d| d.len() > 1 || **d == "%")
            .copied()
            .collect::<Vec<_>>()
            .join("|");
        let singles: String = strptime::DIRECTIVES
            .iter()
            .filter(|d| d.len() == 1 && **d != "%")
            .copied()
            .collect();
        Meta {
            grouped: p(r"(?<!(?:\(\?))(?<!\\)\((?!\?)"),
            group: p(r"^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$"),
            global_flags: p(r"((?:^|(?!<\\))\(\?[a-z]+\))"),
            no_word_bound_begin: p(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)"),
            no_word_bound_end: p(r"(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$"),
            del_word_bounds: p(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$"),
            line_bound_begin: p(r"^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))"),
            line_bound_end: p(r"(?<![\\\|])(?:\$\)?)$"),
            alpha: p(r"(?<!\%)\%[aAbBpc]"),
            epoch: p(r"(?i)(?<!\\)\{L?EPOCH\}"),
            directive: p(&format!(r"%({directives}|[{singles}%])")),
        }
    })
}

fn span(g: &Groups, i: usize) -> Option<(usize, usize)> {
    g.get(i)
}

/// Replace every match of `re` in `s` by `f(s, match groups)` (Python's `re.sub`).
fn replace_all(re: &Pattern, s: &str, mut f: impl FnMut(&str, &Groups) -> String) -> String {
    let mut out = String::new();
    let mut last = 0;
    let mut pos = 0;
    while let Some(g) = re.search_range(s, pos, s.len()) {
        out.push_str(&s[last..g.start()]);
        out.push_str(&f(s, &g));
        last = g.end();
        pos = g.end();
        if g.end() == g.start() {
            match s[pos..].chars().next() {
                Some(c) => pos += c.len_utf8(),
                None => break,
            }
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Strip the anchoring markers of a pattern (Fail2ban's `unboundPattern`).
pub fn unbound_pattern(pattern: &str) -> String {
    let p = pattern.strip_prefix("{UNB}").unwrap_or(pattern);
    let p = p.strip_prefix("{^LN-BEG}").unwrap_or(p);
    let p = ["(?:^|\\b|\\W)", "(^|\\b|\\W)"]
        .iter()
        .find_map(|pre| p.strip_prefix(pre))
        .unwrap_or(p);
    p.strip_suffix("(?=\\b|\\W|$)").unwrap_or(p).to_string()
}

impl Template {
    fn build(
        name: String,
        regex: &str,
        begin: Begin,
        word_end: bool,
        kind: Kind,
        pattern: Option<String>,
    ) -> Result<Template, TemplateError> {
        let m = meta();
        let mut name = name;
        let mut regex = regex.trim().to_string();
        let gf = m
            .global_flags
            .search(&regex)
            .and_then(|g| span(&g, 1))
            .map(|(s, e)| regex[s..e].to_string());
        if let Some(flags) = &gf {
            regex = regex.replacen(flags.as_str(), "", 1);
        }
        let bound_begin = begin != Begin::None && m.no_word_bound_begin.search(&regex).is_none();
        let bound_end = word_end && m.no_word_bound_end.search(&regex).is_none();
        if m.grouped.search(&regex).is_none() {
            if let Some(g) = m.group.search(&regex) {
                let part = |i| {
                    span(&g, i)
                        .map(|(s, e)| regex[s..e].to_string())
                        .unwrap_or_default()
                };
                regex = format!("{}({}){}", part(1), part(2), part(3));
            }
        }
        let mut flags = 0;
        if bound_begin {
            if begin == Begin::Line {
                flags |= LINE_BEGIN;
                regex = format!(r"^(?:\W{{0,2}})?{regex}");
                if !name.starts_with("{^LN-BEG}") {
                    name = format!("{{^LN-BEG}}{name}");
                }
            } else {
                flags |= WORD_BEGIN;
                regex = format!(r"(?=^|\b|\W){regex}");
            }
        }
        if bound_end {
            flags |= WORD_END;
            regex.push_str(r"(?=\b|\W|$)");
        }
        if flags & LINE_BEGIN == 0 && m.line_bound_begin.search(&regex).is_some() {
            flags |= LINE_BEGIN;
        }
        if flags & LINE_END == 0 && m.line_bound_end.search(&regex).is_some() {
            flags |= LINE_END;
        }
        regex = replace_all(&m.del_word_bounds, &regex, |s, g| {
            s[g.start()..g.end()].replace("**", "")
        });
        if let Some(flags) = gf {
            regex = format!("{flags}{regex}");
        }
        let superset = linear_superset_of(&regex, Mode::SingleLine).map_err(|e| TemplateError {
            pattern: pattern.clone().unwrap_or_else(|| name.clone()),
            message: e.to_string(),
        })?;
        Ok(Template {
            name,
            regex,
            pattern,
            flags,
            weight: 1.0,
            builtin_bounds: false,
            compiled: OnceLock::new(),
            start_first: OnceLock::new(),
            ascii_nfa: OnceLock::new(),
            clock_groups: OnceLock::new(),
            superset,
            kind,
        })
    }

    fn compiled(&self) -> Option<&Pattern> {
        self.compiled
            .get_or_init(|| Pattern::new(&self.regex, Mode::SingleLine).map_err(|e| e.to_string()))
            .as_ref()
            .ok()
    }

    /// Compile now and report a failure (for templates from a configuration, whose
    /// errors belong at load time).
    pub fn compile(&self) -> Result<(), TemplateError> {
        match self.compiled() {
            Some(_) => Ok(()),
            None => Err(TemplateError {
                pattern: self.pattern.clone().unwrap_or_else(|| self.name.clone()),
                message: self
                    .compiled
                    .get()
                    .and_then(|r| r.as_ref().err().cloned())
                    .unwrap_or_default(),
            }),
        }
    }

    /// A template from a `%`-pattern such as `%Y-%m-%d %H:%M:%S`, with `{^LN-BEG}` and
    /// `{UNB}` prefixes understood.
    pub fn from_pattern(pattern: &str, now_year: i16) -> Result<Template, TemplateError> {
        let m = meta();
        let mut begin = Begin::Word;
        let mut word_end = true;
        let mut p = pattern;
        if let Some(rest) = p.strip_prefix("{UNB}") {
            p = rest;
            begin = Begin::None;
            word_end = false;
        }
        if begin != Begin::None {
            if let Some(rest) = p.strip_prefix("{^LN-BEG}") {
                p = rest;
                begin = Begin::Line;
            }
        }
        let mut unknown = None;
        let regex = replace_all(&m.directive, p, |s, g| {
            let key = span(g, 1).map(|(a, b)| &s[a..b]).unwrap_or("");
            strptime::directive_regex(key, now_year).unwrap_or_else(|| {
                unknown = Some(key.to_string());
                String::new()
            })
        });
        let name = replace_all(&m.directive, p, |s, g| {
            let key = span(g, 1).map(|(a, b)| &s[a..b]).unwrap_or("");
            strptime::directive_name(key)
        });
        let err = |message: String| TemplateError {
            pattern: pattern.to_string(),
            message,
        };
        if let Some(k) = unknown {
            return Err(err(format!("unknown directive %{k}")));
        }
        if regex.contains('%') && !p.contains("%%") {
            return Err(err(
                "unescaped percent sign (write %% for a literal %)".into()
            ));
        }
        let regex = if m.alpha.search(p).is_some() {
            format!("(?iu){regex}")
        } else {
            regex
        };
        Template::build(
            name,
            &regex,
            begin,
            word_end,
            Kind::Pattern,
            Some(pattern.to_string()),
        )
    }

    /// Epoch seconds (`EPOCH`) or milli/microseconds (`LEPOCH`); `line_begin_only` for the
    /// `^EPOCH` / `{^LN-BEG}EPOCH` forms; `pattern` for a custom `…{EPOCH}…` pattern.
    pub fn epoch(
        line_begin_only: bool,
        long: bool,
        pattern: Option<&str>,
    ) -> Result<Template, TemplateError> {
        let epoch_re = if long {
            r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"
        } else {
            r"\d{10,11}\b(?:\.\d{3,6})?"
        };
        let base = if long { "LongEpoch" } else { "Epoch" };
        if let Some(p) = pattern {
            let regex = format!(
                "({})",
                replace_all(&meta().epoch, p, |_, _| format!("({epoch_re})"))
            );
            return Template::build(
                p.to_string(),
                &regex,
                Begin::Word,
                true,
                Kind::Epoch { long, group: 2 },
                None,
            );
        }
        let built = if !line_begin_only {
            let regex = r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))%s)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))"
                .replace("%s", epoch_re);
            Template::build(
                base.to_string(),
                &regex,
                Begin::None,
                true,
                Kind::Epoch { long, group: 1 },
                None,
            )
        } else {
            let regex = format!(r"((?P<square>(?<=^\[))?{epoch_re})(?(square)(?=\]))");
            Template::build(
                base.to_string(),
                &regex,
                Begin::Line,
                true,
                Kind::Epoch { long, group: 1 },
                None,
            )
        };
        // digits after a line start, '[' or 'audit(', and before a word boundary
        built.map(Template::cutting_at_word_bounds)
    }

    pub(crate) fn cutting_at_word_bounds(mut self) -> Template {
        self.builtin_bounds = true;
        self
    }

    /// Whether cutting this template's date out of a line can never join two ASCII
    /// word characters (so a run of them absent from a line is absent from the line
    /// with its date cut out, which the literal prefilter relies on). True of
    /// Fail2ban's own templates, and of a custom pattern whose date (group 1, or the
    /// whole match) always sits next to a character that is no word character or at
    /// the line's start or end: `^[^\[]*\[({DATE})` (an access log's
    /// `[04/Dec/2026:…`) is, a date between two words is not. Worked out when asked
    /// (once a filter), never for the default templates.
    pub fn cuts_at_word_bounds(&self) -> bool {
        self.builtin_bounds || self.cut_is_bounded_by_its_form()
    }

    /// [`Template::cuts_at_word_bounds`] for a custom pattern: read from its linear
    /// form, where it has one (`false` otherwise, or where in doubt).
    fn cut_is_bounded_by_its_form(&self) -> bool {
        let Some(rust) = linear_form_of(&self.regex, Mode::SingleLine) else {
            return false;
        };
        regex_syntax::ParserBuilder::new()
            .build()
            .parse(&rust)
            .is_ok_and(|hir| cut_is_bounded(&hir))
    }

    /// TAI64N labels (`@4000…`), as written by daemontools/s6.
    pub fn tai64n(begin: Begin) -> Result<Template, TemplateError> {
        // ends in a hex digit before a word boundary: nothing after it can join a word
        Template::build(
            "TAI64N".to_string(),
            "@[0-9a-f]{24}",
            begin,
            true,
            Kind::Tai64n,
            None,
        )
        .map(Template::cutting_at_word_bounds)
    }

    /// A linear pattern that matches wherever this template does (see
    /// `Pattern::linear_superset`).
    pub fn linear_superset(&self) -> Option<&str> {
        self.superset.as_deref()
    }

    /// How many leading bytes of `line` decided this template's search of the whole
    /// line, when that is known: a line that starts with the same bytes gives the same
    /// match with the same groups.
    ///
    /// Why that is exact: it is known only for a template on the linear engine whose
    /// every match starts with `\A`, so its search of a line is the leftmost-first
    /// match anchored at byte 0. A deterministic automaton for that search
    /// (`AnchoredDfa`) reads the line byte by byte from one start state until it
    /// dies (no match can be found or extended); the match and where it ends are
    /// decided by the bytes read, up to and including the one it died on. A line with
    /// those bytes walks the same states and dies at the same byte. The groups of a
    /// match `0..e` depend on the bytes before `e` and on assertions at positions up to
    /// `e`, which look at the characters next to them: all among the bytes read, as
    /// the automaton reads the byte at `e` before it reports the match, and stops
    /// (giving no answer here) on a non-ASCII byte when Unicode word boundaries need
    /// a whole character. The regex is read in its Unicode form, which is the meaning
    /// of the pattern; the ASCII form it runs as on ASCII lines agrees with it.
    /// Everything a search derives from the linear match (group copies, a cut end) is
    /// a function of that match. A line read to its end without the automaton dying
    /// gives `None` (its end decided too).
    pub fn deciding_prefix_len(&self, line: &str) -> Option<usize> {
        self.start_first
            .get_or_init(|| AnchoredDfa::of(self.compiled()?.linear_source()?))
            .as_ref()?
            .deciding_prefix_len(line.as_bytes())
    }

    /// Which digits of `prefix` (a line start whose bytes decided this template's
    /// search, see [`Template::deciding_prefix_len`]) another line may have instead
    /// and be matched the same way (see `DigitMasks`).
    pub(crate) fn digit_masks(&self, prefix: &[u8]) -> Option<DigitMasks> {
        let nfa = self
            .ascii_nfa
            .get_or_init(|| digits::ascii_nfa(self.compiled()?.linear_source()?));
        DigitMasks::of(nfa.as_ref()?, prefix)
    }

    /// The second, minute and fraction groups of a `%`-pattern template (none for
    /// other kinds, nor when a name is taken twice).
    pub(crate) fn clock_groups(&self) -> Option<ClockGroups> {
        *self.clock_groups.get_or_init(|| {
            if !matches!(self.kind, Kind::Pattern) {
                return None;
            }
            let names = self.compiled()?.group_names();
            let only = |name: &str| {
                let mut found = names.iter().enumerate().filter(|(_, n)| *n == name);
                match (found.next(), found.next()) {
                    (Some((i, _)), None) => Ok(Some(i)),
                    (None, _) => Ok(None),
                    (Some(_), Some(_)) => Err(()),
                }
            };
            Some(ClockGroups {
                second: only("S").ok()?,
                minute: only("M").ok()?,
                fraction: only("f").ok()?,
            })
        })
    }

    /// Whether a date this template read from `text` (a match, its groups at `spans`
    /// from its start) is read with another minute or second by adding the
    /// difference (see `strptime::clock_is_linear`).
    pub(crate) fn clock_is_linear(
        &self,
        text: &str,
        spans: &[Option<(usize, usize)>],
        now: i64,
        tz: &TimeZone,
        default_tz: Option<i32>,
    ) -> bool {
        let fields = self.pattern_fields(text, |i| spans.get(i).copied().flatten());
        strptime::clock_is_linear(&fields, tz, now, default_tz)
    }

    /// The named fields of a `%`-pattern match in `line`, group `i` at `span(i)`.
    fn pattern_fields<'a>(
        &'a self,
        line: &'a str,
        span: impl Fn(usize) -> Option<(usize, usize)>,
    ) -> Fields<'a> {
        let names = self
            .compiled()
            .map(Pattern::group_names)
            .unwrap_or_default();
        // sized once: grown field by field it is reallocated several times
        let mut values = Vec::with_capacity(names.len());
        let fields = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty() && !crate::unfold::is_internal_group(n))
            .filter_map(|(i, n)| span(i).and_then(|(s, e)| Some((n.as_str(), line.get(s..e)?))));
        values.extend(fields);
        Fields { values }
    }

    /// Search for this template in `line[..end]` from `start`.
    pub fn search(&self, line: &str, start: usize, end: usize) -> Option<Groups> {
        self.compiled()?.search_range(line, start, end)
    }

    /// [`Template::search`], remembering the match in `memo` (see
    /// [`Pattern::search_range_memo`]): most lines repeat the last line's date text.
    pub fn search_memo(
        &self,
        line: &str,
        start: usize,
        end: usize,
        memo: &mut MatchMemo,
    ) -> Option<Groups> {
        self.compiled()?.search_range_memo(line, start, end, memo)
    }

    /// Span of the date text of a match (group 1, or the whole match).
    pub fn date_span(&self, g: &Groups) -> (usize, usize) {
        g.get(1).unwrap_or((g.start(), g.end()))
    }

    /// Whether Fail2ban holds the time of a match as a Python `int`, not a `float`
    /// (the same seconds either way; `fail2ban-regex -o row` prints them `1771808401`
    /// or `1771808401.0`): a `%`-pattern's time is `calendar.timegm`'s, an `int`, when
    /// its zone is known (a `%z` or `%Z` group that matched, or `logtimezone`, here
    /// `default_tz`), else `time.mktime`'s, a `float`; TAI64N's is an `int`, an
    /// epoch's a `float`.
    pub fn time_is_int(&self, g: &Groups, default_tz: Option<i32>) -> bool {
        match self.kind {
            Kind::Pattern => {
                let names = self
                    .compiled()
                    .map(Pattern::group_names)
                    .unwrap_or_default();
                let zone_read = |(i, name): (usize, &String)| {
                    matches!(name.as_str(), "z" | "Z") && g.get(i).is_some()
                };
                default_tz.is_some() || names.iter().enumerate().any(zone_read)
            }
            Kind::Epoch { .. } => false,
            Kind::Tai64n => true,
        }
    }

    /// The timestamp of a match, or `None` when the fields do not form a valid date.
    pub fn date(
        &self,
        line: &str,
        g: &Groups,
        now: i64,
        tz: &TimeZone,
        default_tz: Option<i32>,
    ) -> Option<f64> {
        match self.kind {
            Kind::Pattern => {
                let fields = self.pattern_fields(line, |i| g.get(i));
                strptime::fields_to_epoch(&fields, now, tz, default_tz)
            }
            Kind::Epoch { long, group } => {
                let (s, e) = g.get(group)?;
                let v = &line[s..e];
                let mut t: f64 = v.parse().ok()?;
                if long && v.len() >= 13 {
                    t /= if v.len() >= 16 && !v.contains('.') {
                        1_000_000.0
                    } else {
                        1000.0
                    };
                }
                Some(t)
            }
            Kind::Tai64n => {
                let (s, e) = g.get(1)?;
                let v = line.get(s + 2..(s + 17).min(e))?;
                i64::from_str_radix(v, 16).ok().map(|t| t as f64)
            }
        }
    }
}

/// Whether the date that a template of this form cuts out (group 1, which then takes
/// part in every match, or the whole match) always has, on one side, a character that
/// is no ASCII word character, or the line's start or end. Only a date in the
/// pattern's top-level sequence is judged; anything else is `false`.
fn cut_is_bounded(hir: &Hir) -> bool {
    let parts = match hir.kind() {
        HirKind::Concat(parts) => parts.as_slice(),
        _ => std::slice::from_ref(hir),
    };
    let is_group_1 = |h: &Hir| matches!(h.kind(), HirKind::Capture(c) if c.index == 1);
    match parts.iter().position(is_group_1) {
        Some(at) => {
            side_is_bounded(parts[..at].iter().rev(), Side::Before)
                || side_is_bounded(parts[at + 1..].iter(), Side::After)
        }
        // no group: the whole match, cut from the line's start
        None => {
            hir.properties().explicit_captures_len() == 0
                && parts
                    .first()
                    .is_some_and(|h| matches!(h.kind(), HirKind::Look(Look::Start)))
        }
    }
}

/// Which side of the date the parts of the pattern are on.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Before,
    After,
}

/// Whether the parts on one `side` of the date, nearest first, always put a
/// character that is no ASCII word character (or the line's start or end) next to
/// it. Parts that yield no word character but may yield nothing (Fail2ban's
/// `{^LN-BEG}` is `^(?:\W{0,2})?`) pass the question to the part beyond them.
fn side_is_bounded<'a>(nearest_first: impl Iterator<Item = &'a Hir>, side: Side) -> bool {
    for part in nearest_first {
        if !yields_no_word_character(part) {
            return match part.kind() {
                // `\[` after `abc`: a literal's character next to the date
                HirKind::Literal(lit) => {
                    let next_to_date = match side {
                        Side::Before => lit.0.last(),
                        Side::After => lit.0.first(),
                    };
                    next_to_date.is_some_and(|&b| !is_word_byte(b))
                }
                HirKind::Look(Look::Start) => side == Side::Before,
                HirKind::Look(Look::End) => side == Side::After,
                _ => false,
            };
        }
        if part.properties().minimum_len().is_some_and(|n| n > 0) {
            return true;
        }
    }
    false
}

/// Whether every character `part` may match is no ASCII word character.
fn yields_no_word_character(part: &Hir) -> bool {
    match part.kind() {
        HirKind::Empty => true,
        HirKind::Literal(lit) => lit.0.iter().all(|&b| !is_word_byte(b)),
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .iter()
            .all(|r| (r.start()..=r.end()).all(|b| !is_word_byte(b))),
        HirKind::Class(Class::Unicode(class)) => class.ranges().iter().all(|r| {
            (r.start()..=r.end())
                .take_while(char::is_ascii)
                .all(|c| !is_word_byte(c as u8))
        }),
        HirKind::Repetition(r) => yields_no_word_character(&r.sub),
        HirKind::Capture(c) => yields_no_word_character(&c.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            parts.iter().all(yields_no_word_character)
        }
        HirKind::Look(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template_shape() {
        let t = Template::from_pattern(
            r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
            2026,
        )
        .unwrap();
        assert_eq!(
            t.name,
            r"Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\.Microseconds)?(?: Zone offset)?"
        );
        assert_eq!(t.flags, WORD_BEGIN | WORD_END);
        let line = r#"1.2.3.4 - - [23/Feb/2026:10:00:01 +0900] "GET / HTTP/1.1" 200"#;
        let g = t.search(line, 0, line.len()).unwrap();
        let (s, e) = t.date_span(&g);
        assert_eq!(&line[s..e], "23/Feb/2026:10:00:01 +0900");
        let when = t
            .date(line, &g, 1_800_000_000, &TimeZone::UTC, None)
            .unwrap();
        assert_eq!(when, 1771808401.0);
        // Python's type of that time: an int with the zone, a float without it
        assert!(t.time_is_int(&g, None));
        let zoneless = r#"1.2.3.4 - - [23/Feb/2026:10:00:01] "GET / HTTP/1.1" 200"#;
        let g = t.search(zoneless, 0, zoneless.len()).unwrap();
        assert!(!t.time_is_int(&g, None));
        assert!(t.time_is_int(&g, Some(0)), "logtimezone names the zone");
    }

    #[test]
    fn line_begin_and_unbound() {
        let t = Template::from_pattern("{^LN-BEG}%H:%M:%S", 2026).unwrap();
        assert_eq!(t.name, "{^LN-BEG}24hour:Minute:Second");
        assert!(t.flags & LINE_BEGIN != 0);
        let t = Template::from_pattern("{UNB}^", 2026).unwrap();
        assert_eq!(t.regex, "^()");
        let t = Template::epoch(false, false, None).unwrap();
        let line = "audit(1124013600.123:45): x";
        let g = t.search(line, 0, line.len()).unwrap();
        assert_eq!(
            t.date(line, &g, 0, &TimeZone::UTC, None),
            Some(1124013600.123)
        );
        assert!(!t.time_is_int(&g, Some(0)), "an epoch is a float");
    }
}
