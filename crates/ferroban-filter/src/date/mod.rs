//! Date detection: finding the timestamp in a log line.
//!
//! Owns the list of date templates of one filter (Fail2ban's default set, or the
//! filter's `datepattern`s), the choice of the template for each line — the last one
//! that hit is tried first, in the same place of the line; a template that hits often
//! moves up; a line that starts with the bytes that decided the last line's date, found
//! at the line start, has that date without a search, and one that starts with them but
//! for digits the template reads alike (see `digits`) has that match — and the conversion
//! of the found text to epoch seconds in the right zone, stepped from the last date's
//! when only its minute and second moved.
//! It does not look at anything in the line but the date.

mod digits;
mod strptime;
mod template;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;

use crate::pattern::{Groups, MatchMemo};
use digits::{all_differences, DigitMasks};

pub use strptime::zone_offset;
pub use template::{unbound_pattern, Begin, Template, TemplateError, LINE_BEGIN, LINE_END};

/// Fail2ban's default date patterns, in its order.
const DEFAULT_PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    "EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    "TAI64N",
];

/// Build the template for a pattern string: `EPOCH`, `LEPOCH`, `TAI64N` (with `^` or
/// `{^LN-BEG}`), a pattern with `{EPOCH}` in it, or a `%`-pattern.
fn pattern_template(pattern: &str, now_year: i16) -> Result<Template, TemplateError> {
    let key = if pattern.contains('%') {
        pattern.to_string()
    } else {
        pattern.to_uppercase()
    };
    if key.contains("EPOCH") {
        let custom = pattern.to_uppercase().contains("{EPOCH}")
            || pattern.to_uppercase().contains("{LEPOCH}");
        if custom {
            return Template::epoch(false, key.contains("LEPOCH"), Some(pattern));
        }
        match key.as_str() {
            "EPOCH" | "{^LN-BEG}EPOCH" | "^EPOCH" => {
                return Template::epoch(key != "EPOCH", false, None)
            }
            "LEPOCH" | "{^LN-BEG}LEPOCH" | "^LEPOCH" => {
                return Template::epoch(key != "LEPOCH", true, None)
            }
            _ => {}
        }
    }
    match key.as_str() {
        "TAI64N" => Template::tai64n(Begin::None),
        "{^LN-BEG}TAI64N" | "^TAI64N" => Template::tai64n(Begin::Line),
        _ => Template::from_pattern(pattern, now_year),
    }
}

/// The same template anchored by `wrap` (line start, or a `{DATE}` pre-match).
fn anchored_template(
    t: &Template,
    wrap: &dyn Fn(&str) -> String,
    now_year: i16,
) -> Result<Template, TemplateError> {
    match &t.pattern {
        Some(p) => pattern_template(&wrap(p), now_year),
        None => pattern_template(&wrap(&t.name), now_year),
    }
}

/// Fail2ban's default template list: anchored copies (weight 100) first, then the
/// plain templates. Built once per process (per `%ExY` year), like Fail2ban's cache.
fn default_templates(now_year: i16) -> Vec<Arc<Template>> {
    type ByYear = Vec<(i16, Vec<Arc<Template>>)>;
    static CACHE: OnceLock<Mutex<ByYear>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, list)) = cache.iter().find(|(y, _)| *y == now_year) {
        return list.clone();
    }
    let list = build_default_templates(now_year);
    cache.push((now_year, list.clone()));
    list
}

fn build_default_templates(now_year: i16) -> Vec<Arc<Template>> {
    let builtin = Template::cutting_at_word_bounds;
    let plain: Vec<Template> = DEFAULT_PATTERNS
        .iter()
        .map(|p| builtin(pattern_template(p, now_year).expect("default date patterns compile")))
        .collect();
    let mut anchored = Vec::new();
    for t in &plain {
        if t.name.starts_with("{^LN-BEG}") || t.name.starts_with('^') {
            continue;
        }
        let mut a = builtin(
            anchored_template(t, &|s| format!("{{^LN-BEG}}{s}"), now_year)
                .expect("anchored defaults compile"),
        );
        if a.name != t.name {
            a.weight = 100.0;
            anchored.push(Arc::new(a));
        }
    }
    anchored.extend(plain.into_iter().map(Arc::new));
    anchored
}

#[derive(Debug, Clone)]
struct Slot {
    template: Arc<Template>,
    /// Lines this template gave the date of.
    hits: u64,
    /// Times its regex matched at all (Fail2ban's template-level counter).
    raw_hits: u64,
    /// The wall-clock time of its last hit (see [`DateDetector::clock`]).
    last_used: SystemTime,
    distance: usize,
    /// Index of this template's linear superset in the detector's screen.
    screen_index: Option<usize>,
    /// This template's last match, whose groups a match of the same text reuses: one
    /// per template, as the templates searched on a line take turns (one memo for
    /// all would be another template's at each search).
    memo: MatchMemo,
}

impl Slot {
    fn weight(&self) -> f64 {
        self.hits as f64 * self.template.weight / (self.distance.max(1) as f64)
    }
}

/// The date found in a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundDate {
    /// Byte span of the date text in the line (may be empty for `{NONE}`).
    pub start: usize,
    pub end: usize,
    /// Epoch seconds, or `None` when the text did not form a valid date.
    pub time: Option<f64>,
    /// Fail2ban holds `time` as a Python `int` (see [`Template::time_is_int`]).
    pub time_is_int: bool,
    /// Index of the template in the detector's current order.
    pub template: usize,
    /// The line repeats the date of the line before (the text, where it is, and what
    /// it reads as), so a caller that kept that line's date text has this one.
    pub repeats_last: bool,
}

/// Finds dates in lines with a list of templates.
#[derive(Debug, Clone)]
pub struct DateDetector {
    slots: Vec<Slot>,
    last_index: usize,
    last_pos: (usize, Option<char>, Option<char>),
    last_end: (usize, Option<char>, Option<char>),
    first_unused: usize,
    /// All templates' linear supersets in one set: a full search skips the templates
    /// that cannot match the line (one scan of the line instead of one per template).
    screen: Option<regex::bytes::RegexSet>,
    default_tz: Option<i32>,
    tz: TimeZone,
    /// The last date read: a line with the same date text reads it from here.
    last_read: Option<DateRead>,
    /// The last line's date, when a line starting with the same bytes has it too.
    last_line: Option<LastLine>,
    /// The leading bytes of the last line that decided its date (see [`LastLine`];
    /// kept apart to reuse its allocation).
    last_prefix: Vec<u8>,
    /// The groups of the last line's match (kept apart to reuse their allocation).
    last_groups: Groups,
    /// Which digits of `last_prefix` another line may have and be matched the same
    /// way: worked out for the first line that differs from it only in digits.
    last_masks: Option<Option<DigitMasks>>,
    /// When masks are worth working out (see [`MaskPacing`]).
    mask_pacing: MaskPacing,
    /// The wall clock, read once per line whose date text is new, and the time stamp
    /// of every hit until the next such line. Fail2ban stamps a hit with `time.time()`
    /// and reads the stamps only in `_reorderTemplate`, which moves a template above
    /// one whose stamp is more than [`UNUSED_FOR`] older than its own. A hit between
    /// two such lines repeats the last line's date text at the same `now` (see
    /// [`DateDetector::repeat_last_line`]), read microseconds after the clock was
    /// (the lines of one second of a log come together): the stamps are the ones
    /// Fail2ban takes but for those microseconds, which decide the rule only when two
    /// stamps are 300 s apart to within them — where Fail2ban's own choice depends on
    /// how fast it happened to run. Reading the clock per hit cost more than the rest
    /// of a repeated line's date.
    clock: SystemTime,
}

/// The last line's date, found by a template anchored at the line start whose search
/// is decided by a bounded prefix of the line (`Template::deciding_prefix_len`): a
/// line with the same prefix, read at the same `now`, has the same date. That
/// template is the one [`DateDetector::match_time`] tries first, and as it is anchored
/// its match is taken without looking at other templates — so the whole choice, not
/// only the search, is the last line's.
#[derive(Debug, Clone, Copy)]
struct LastLine {
    now: i64,
    /// The template's whole match (the date may be a group of it).
    span: (usize, usize),
    found: FoundDate,
    /// The characters on both sides of the match's ends are among the deciding bytes:
    /// a line starting with them has the same, and the detector's note of them
    /// (`last_pos`, `last_end`) stays as it is.
    neighbours_decided: bool,
}

/// A date text and what it was read as. The time depends only on the template, the
/// text its groups captured, the current time (for dates without a year) and the
/// zones (fixed for a detector), so the same match gives the same time.
#[derive(Debug, Clone)]
struct DateRead {
    template: Arc<Template>,
    /// The match's text that its time is read from (see [`read_span`]).
    text: String,
    /// The match's groups in `text`, by group number (see [`spans_in_read`]).
    spans: Vec<Option<(usize, usize)>>,
    now: i64,
    time: Option<f64>,
    /// How this date steps with the clock: worked out for the first date that differs
    /// from it (`None` inside when it does not step).
    clock: Option<Option<ClockStep>>,
}

/// Where a read date's second and minute are (spans in its text), which of its bytes
/// the clock's groups hold (bit `i` for byte `i`), and whether its every other minute
/// and second is read by adding the difference.
#[derive(Debug, Clone, Copy)]
struct ClockStep {
    second: Option<(usize, usize)>,
    minute: Option<(usize, usize)>,
    bytes: u64,
    /// The read text's minute and second, in seconds.
    at: i64,
    /// Whether the date's other minutes and seconds read as it plus the difference
    /// (see `strptime::clock_is_linear`), worked out for the first step.
    linear: Option<bool>,
}

impl ClockStep {
    /// The minute and second of `text` (a date alike the read one), in seconds; `None`
    /// for a second of 60 or 61, which reads as no date at all (as Python's datetime).
    fn seconds_of(&self, text: &[u8]) -> Option<i64> {
        let value = |span: Option<(usize, usize)>| match span {
            None => Some(0),
            Some((a, b)) => (text.get(a..b)?.iter()).try_fold(0, |n, d| {
                d.is_ascii_digit().then(|| 10 * n + i64::from(d - b'0'))
            }),
        };
        let (second, minute) = (value(self.second)?, value(self.minute)?);
        (second < 60 && minute < 60).then_some(60 * minute + second)
    }
}

/// The part of a date match that its time is read from: from the first of its groups
/// (but the whole match) to the end of the last, or the whole match when it has no
/// other group. A template's time reads named groups only, or an epoch's group, never
/// group 0: and a `datepattern` may begin its match well before the date, at the
/// line's start (`^[^\[]*\[({DATE})`), where an access log's client address is. The
/// same date after an address of another length is then known for the same.
fn read_span(g: &Groups) -> (usize, usize) {
    g.inner_span().unwrap_or((g.start(), g.end()))
}

/// The groups of a match in its [`read_span`] starting at `origin`, by number; the
/// whole match's as `None` (not read; and where it is all there is, it is the whole
/// read text).
fn spans_in_read(g: &Groups, origin: usize) -> impl Iterator<Item = Option<(usize, usize)>> + '_ {
    let groups = g.shifted(0).skip(1);
    let in_read = groups.map(move |s| s.map(|(a, b)| (a - origin, b - origin)));
    std::iter::once(None).chain(in_read)
}

impl DateRead {
    /// The same template's match, at the same `now`, with its groups where they were
    /// in the text its time is read from (which begins at `origin`).
    fn is_alike(&self, template: &Arc<Template>, g: &Groups, origin: usize, now: i64) -> bool {
        Arc::ptr_eq(&self.template, template)
            && self.now == now
            && g.get(self.spans.len()).is_none()
            && (self.spans.iter().enumerate().skip(1))
                .all(|(k, span)| g.get(k).map(|(a, b)| (a - origin, b - origin)) == *span)
    }

    /// The clock's step of this date, if it has one (see [`ClockStep`]).
    fn clock_step(&self) -> Option<ClockStep> {
        let groups = self.template.clock_groups()?;
        let span_of = |k: Option<usize>| k.and_then(|k| self.spans.get(k).copied().flatten());
        if self.text.len() > 64 {
            return None;
        }
        let bytes = (groups.all())
            .filter_map(|k| span_of(Some(k)))
            .flat_map(|(a, b)| a..b)
            .fold(0u64, |bits, i| bits | 1 << i);
        let mut step = ClockStep {
            second: span_of(groups.second),
            minute: span_of(groups.minute),
            bytes,
            at: 0,
            linear: None,
        };
        step.at = step.seconds_of(self.text.as_bytes())?;
        Some(step)
    }

    /// The time of `text`, a match alike this one (see [`DateRead::is_alike`]) whose
    /// bytes differ only in the second, minute or fraction, from this one's time and
    /// the difference; `None` when that does not give it. It becomes this read's text
    /// and time.
    fn step(&mut self, text: &str, tz: &TimeZone, default_tz: Option<i32>) -> Option<Option<f64>> {
        let old_time = self.time?;
        let (old, new) = (self.text.as_bytes(), text.as_bytes());
        if self.clock.is_none() {
            self.clock = Some(self.clock_step());
        }
        let clock = self.clock.as_mut().and_then(Option::as_mut)?;
        if !all_differences(old, new, |i| clock.bytes >> i & 1 != 0) {
            return None;
        }
        let at = clock.seconds_of(new)?;
        // worked out last: it reads two dates whole
        let (template, spans, now) = (&self.template, &self.spans, self.now);
        let linear = *(clock.linear).get_or_insert_with(|| {
            template.clock_is_linear(&self.text, spans, now, tz, default_tz)
        });
        if !linear {
            return None;
        }
        let time = Some(old_time + (at - clock.at) as f64);
        clock.at = at;
        self.text.clear();
        self.text.push_str(text);
        self.time = time;
        Some(time)
    }
}

/// When the detector works out [`DigitMasks`] for a line start: at once, unless the
/// last masks it worked out took no line; then only after twice as many searches as
/// the time before (up to 63). A log whose dates alternate between digits read
/// unlike would otherwise pay for masks on every line; a log whose clock moves on
/// pays for them once per change of hour or day.
#[derive(Debug, Clone, Copy, Default)]
struct MaskPacing {
    /// Masks worked out in a row that took no line.
    misses: u32,
    /// Searches since masks were last worked out.
    searches: u32,
    /// The last masks took a line.
    took: bool,
}

impl MaskPacing {
    fn due(&self) -> bool {
        self.searches >= (1 << self.misses.min(6)) - 1
    }
    fn worked_out(&mut self) {
        self.searches = 0;
        self.took = false;
    }
    fn took(&mut self) {
        self.took = true;
        self.misses = 0;
    }
    fn missed(&mut self) {
        if !self.took {
            self.misses = self.misses.saturating_add(1);
        }
    }
    fn searched(&mut self) {
        self.searches = self.searches.saturating_add(1);
    }
}

const NONE_INDEX: usize = usize::MAX;

/// A template not hit for this long before another's hit gives way to it (Fail2ban's
/// `_reorderTemplate`).
const UNUSED_FOR: Duration = Duration::from_secs(300);

/// Character ending at byte `pos` (Python's `line[pos-1:pos]`).
fn char_before(line: &str, pos: usize) -> Option<char> {
    line.get(..pos).and_then(|s| s.chars().next_back())
}
/// Character starting at byte `pos` (Python's `line[pos:pos+1]`).
fn char_at(line: &str, pos: usize) -> Option<char> {
    line.get(pos..).and_then(|s| s.chars().next())
}

/// The screen over these template patterns, compiled once per process: every jail
/// with the default templates shares one (a clone shares the compiled set).
fn screen_for(patterns: Vec<String>) -> Option<regex::bytes::RegexSet> {
    type Screens = Vec<(Vec<String>, Option<regex::bytes::RegexSet>)>;
    static CACHE: OnceLock<Mutex<Screens>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, set)) = cache.iter().find(|(p, _)| *p == patterns) {
        return set.clone();
    }
    // ASCII classes: the same language as the Unicode ones on ASCII lines, at a
    // fraction of the memory; other lines are not screened.
    let set = regex::bytes::RegexSetBuilder::new(&patterns)
        .unicode(false)
        .build()
        .ok();
    cache.push((patterns, set.clone()));
    set
}

impl DateDetector {
    fn empty(tz: TimeZone) -> DateDetector {
        DateDetector {
            slots: Vec::new(),
            last_index: NONE_INDEX,
            last_pos: (1, None, None),
            last_end: (usize::MAX, None, None),
            first_unused: 0,
            screen: None,
            default_tz: None,
            tz,
            last_read: None,
            last_line: None,
            last_prefix: Vec::new(),
            last_groups: Groups::default(),
            last_masks: None,
            mask_pacing: MaskPacing::default(),
            clock: SystemTime::UNIX_EPOCH,
        }
    }

    /// A detector with Fail2ban's default templates.
    pub fn with_defaults(tz: TimeZone, now_year: i16) -> DateDetector {
        let mut d = DateDetector::empty(tz);
        d.add_defaults(None, None, &default_templates(now_year), now_year);
        d.build_screen();
        d
    }

    /// A detector for a filter's `datepattern` value (one pattern per line; special
    /// values `{^LN-BEG}`, `{DEFAULT}`, `{NONE}` and patterns containing `{DATE}`).
    pub fn from_patterns(
        value: &str,
        tz: TimeZone,
        now_year: i16,
    ) -> Result<DateDetector, TemplateError> {
        let mut d = DateDetector::empty(tz);
        let defaults = default_templates(now_year);
        for p in value.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
            d.append_pattern(p, &defaults, now_year)?;
        }
        d.build_screen();
        Ok(d)
    }

    fn build_screen(&mut self) {
        let mut patterns = Vec::new();
        for slot in &mut self.slots {
            if let Some(p) = slot.template.linear_superset() {
                slot.screen_index = Some(patterns.len());
                patterns.push(p.to_string());
            }
        }
        // Without a screen every template is simply searched.
        self.screen = screen_for(patterns);
        if self.screen.is_none() {
            self.slots.iter_mut().for_each(|s| s.screen_index = None);
        }
    }

    /// True when every template's date starts and ends at word boundaries (see
    /// `Template::cuts_at_word_bounds`), so that a run of word characters absent from a
    /// line is also absent from the line with its date cut out.
    pub fn cuts_at_word_bounds(&self) -> bool {
        self.slots.iter().all(|s| s.template.cuts_at_word_bounds())
    }

    /// Interpret dates without a zone in this fixed offset (minutes), as `logtimezone`.
    pub fn set_default_tz(&mut self, minutes: Option<i32>) {
        self.default_tz = minutes;
        self.last_read = None;
        self.last_line = None;
    }

    fn push(&mut self, template: Arc<Template>, ignore_dup: bool) -> Result<(), TemplateError> {
        if self.slots.iter().any(|s| s.template.name == template.name) {
            if ignore_dup {
                return Ok(());
            }
            return Err(TemplateError {
                pattern: template.name.clone(),
                message: "there is already a template with this name".into(),
            });
        }
        self.slots.push(Slot {
            template,
            hits: 0,
            raw_hits: 0,
            last_used: SystemTime::UNIX_EPOCH,
            distance: 0x7fff_ffff,
            screen_index: None,
            memo: MatchMemo::default(),
        });
        Ok(())
    }

    fn append_pattern(
        &mut self,
        pattern: &str,
        defaults: &[Arc<Template>],
        now_year: i16,
    ) -> Result<(), TemplateError> {
        let key = if pattern.contains('%') {
            pattern.to_string()
        } else {
            pattern.to_uppercase()
        };
        match key.as_str() {
            "{^LN-BEG}" => {
                self.add_defaults(Some(LINE_BEGIN), None, defaults, now_year);
                Ok(())
            }
            "{DEFAULT}" => {
                self.add_defaults(None, None, defaults, now_year);
                Ok(())
            }
            k if k.contains("{DATE}") => {
                self.add_defaults(None, Some(pattern), defaults, now_year);
                Ok(())
            }
            "{NONE}" => {
                let t = Template::from_pattern("{UNB}^", now_year)?;
                // it cuts nothing
                let t = t.cutting_at_word_bounds();
                self.push(Arc::new(t), false)
            }
            _ => {
                // Fail2ban caches templates by pattern: a pattern that is one of its
                // defaults (`{^LN-BEG}Epoch`, say) is that very template, weight and all.
                let t = pattern_template(pattern, now_year)?;
                let t = match defaults.iter().find(|d| d.name == t.name) {
                    Some(d) => d.clone(),
                    None => {
                        t.compile()?;
                        Arc::new(t)
                    }
                };
                self.push(t, false)
            }
        }
    }

    fn add_defaults(
        &mut self,
        require_flags: Option<u8>,
        pre_match: Option<&str>,
        all: &[Arc<Template>],
        now_year: i16,
    ) {
        let ignore_dup = !self.slots.is_empty();
        // With a {DATE} pre-match only the plain defaults are wrapped (as Fail2ban does).
        let plain_start = all.len() - DEFAULT_PATTERNS.len();
        let list: &[Arc<Template>] = if pre_match.is_some() {
            &all[plain_start..]
        } else {
            all
        };
        for t in list {
            if let Some(f) = require_flags {
                if t.flags & f == 0 {
                    continue;
                }
            }
            let t = match pre_match {
                Some(pm) => {
                    let wrap = |s: &str| replace_date_marker(pm, &unbound_pattern(s));
                    match anchored_template(t, &wrap, now_year) {
                        Ok(a) => Arc::new(a),
                        Err(_) => continue,
                    }
                }
                None => t.clone(),
            };
            let _ = self.push(t, ignore_dup);
        }
    }

    /// The templates in their current order.
    pub fn templates(&self) -> impl Iterator<Item = (&Template, u64)> {
        self.slots.iter().map(|s| (&*s.template, s.hits))
    }

    /// What Fail2ban says of its date detector (its `get JAIL datepattern`, and
    /// fail2ban-regex's `Use datepattern` line): the first template's pattern and
    /// readable name when there are one or two templates, `(None, "Default
    /// Detectors")` when there are none or more (Fail2ban's set). Epoch and TAI64N
    /// templates have no pattern, only a name.
    pub fn fail2ban_description(&self) -> (Option<&str>, &str) {
        match self.slots.as_slice() {
            [first] | [first, _] => (first.template.pattern.as_deref(), &first.template.name),
            _ => (None, "Default Detectors"),
        }
    }

    /// Find the date in `line` and read its time (`now` for dates without year/day).
    #[inline]
    pub fn find(&mut self, line: &str, now: i64) -> Option<FoundDate> {
        match self.repeat_last_line(line, now) {
            Some(found) => Some(found),
            None => self.search(line, now),
        }
    }

    /// [`DateDetector::find`] by a search (kept out of line: most lines repeat the
    /// last one's date, which takes a few instructions).
    #[inline(never)]
    fn search(&mut self, line: &str, now: i64) -> Option<FoundDate> {
        self.mask_pacing.searched();
        self.last_line = None;
        self.clock = SystemTime::now();
        let (g, index) = self.match_time(line)?;
        let template = self.slots[index].template.clone();
        let (start, end) = template.date_span(&g);
        let time = if start == end {
            None
        } else {
            self.read_date(&template, line, &g, now)
        };
        let found = FoundDate {
            start,
            end,
            time,
            time_is_int: template.time_is_int(&g, self.default_tz),
            template: index,
            repeats_last: false,
        };
        self.remember_line(&template, line, now, &g, found);
        Some(found)
    }

    /// The last line's date for a line that starts with the bytes that decided it
    /// (see [`LastLine`]), counted as [`DateDetector::match_time`] counts a hit; or,
    /// for a line starting with them but for some digits, the date read from that
    /// line by the last line's match (see [`DateDetector::step_last_line`]).
    #[inline(always)]
    fn repeat_last_line(&mut self, line: &str, now: i64) -> Option<FoundDate> {
        let last = self.last_line.as_ref().filter(|l| l.now == now)?;
        let head = line.as_bytes().get(..self.last_prefix.len())?;
        if !all_differences(head, &self.last_prefix, |_| false) {
            return self.step_last_line(line, now);
        }
        let (i, span) = (last.found.template, last.span);
        let found = FoundDate {
            repeats_last: true,
            ..last.found
        };
        self.slots[i].raw_hits += 1;
        // The last line's hit noted where its match ends the same characters, and
        // left this template first (no move up the list): only the count is left.
        if last.neighbours_decided && i == self.last_index {
            self.count_hit(i, span.0);
        } else {
            self.note_hit(line, i, span);
        }
        Some(found)
    }

    /// The date of a line whose start differs from the last line's deciding bytes
    /// only in digits that the template reads alike there (see [`DigitMasks`]): its
    /// search would take the same template (tried first, and anchored, as the last
    /// line's) with the same match and groups, so they are taken as found, and the
    /// date is read from this line's text.
    #[inline(never)]
    fn step_last_line(&mut self, line: &str, now: i64) -> Option<FoundDate> {
        let last = self.last_line?;
        let head = line.as_bytes().get(..self.last_prefix.len())?;
        let i = last.found.template;
        if self.last_masks.is_none() {
            // worked out only for a line that may read alike
            let digits_only = (head.iter().zip(&self.last_prefix))
                .all(|(a, b)| a == b || (a.is_ascii_digit() && b.is_ascii_digit()));
            if !digits_only || !self.mask_pacing.due() {
                return None;
            }
            self.mask_pacing.worked_out();
            self.last_masks = Some(self.slots[i].template.digit_masks(&self.last_prefix));
        }
        let masks = self.last_masks.as_ref().and_then(Option::as_ref)?;
        if !masks.reads_alike(&self.last_prefix, head) {
            self.mask_pacing.missed();
            return None;
        }
        self.mask_pacing.took();
        self.last_prefix.copy_from_slice(head);
        self.clock = SystemTime::now();
        self.slots[i].raw_hits += 1;
        let i = self.note_hit(line, i, last.span);
        let (start, end) = (last.found.start, last.found.end);
        let time = if start == end {
            None
        } else {
            self.step_date(i, line, now)
        };
        let found = FoundDate {
            time,
            template: i,
            // other digits: another text, which a caller keeping the last one copies
            repeats_last: false,
            ..last.found
        };
        self.last_line = Some(LastLine { found, ..last });
        Some(found)
    }

    /// Remember a line's date for [`DateDetector::repeat_last_line`], when its template
    /// allows.
    fn remember_line(
        &mut self,
        template: &Template,
        line: &str,
        now: i64,
        groups: &Groups,
        found: FoundDate,
    ) {
        let span = (groups.start(), groups.end());
        // an anchored template's match is taken first (see `match_time`)
        if template.flags & (LINE_BEGIN | LINE_END) == 0 {
            return;
        }
        let Some(deciding) = template.deciding_prefix_len(line) else {
            return;
        };
        self.last_prefix.clear();
        self.last_prefix
            .extend_from_slice(&line.as_bytes()[..deciding]);
        self.last_groups.copy_from(groups);
        self.last_masks = None;
        // the character before a position ends by it; the one at it must end by `deciding`
        let decided =
            |pos: usize| char_at(line, pos).is_some_and(|c| pos + c.len_utf8() <= deciding);
        self.last_line = Some(LastLine {
            now,
            span,
            found,
            neighbours_decided: decided(span.0) && decided(span.1),
        });
    }

    /// The time of the last line's match read in `line` (see
    /// [`DateDetector::step_last_line`]): a step from the last read, which is that
    /// match's (every date read becomes the last read, see [`DateDetector::read_date`]),
    /// or else a read.
    fn step_date(&mut self, template: usize, line: &str, now: i64) -> Option<f64> {
        let groups = &self.last_groups;
        if let Some(read) = self.last_read.as_mut() {
            let (start, end) = read_span(groups);
            debug_assert!(read.is_alike(&self.slots[template].template, groups, start, now));
            let text = &line[start..end];
            if let Some(time) = read.step(text, &self.tz, self.default_tz) {
                return time;
            }
        }
        let template = self.slots[template].template.clone();
        let groups = std::mem::take(&mut self.last_groups);
        let time = self.read_date(&template, line, &groups, now);
        self.last_groups = groups;
        time
    }

    /// The time of a template's match, read once per distinct date text, and by a
    /// step from the last one when it differs from it only in the clock's digits.
    fn read_date(
        &mut self,
        template: &Arc<Template>,
        line: &str,
        g: &Groups,
        now: i64,
    ) -> Option<f64> {
        let (start, end) = read_span(g);
        let text = &line[start..end];
        if let Some(read) =
            (self.last_read.as_mut()).filter(|r| r.is_alike(template, g, start, now))
        {
            if read.text == text {
                return read.time;
            }
            if let Some(time) = read.step(text, &self.tz, self.default_tz) {
                return time;
            }
        }
        let time = template.date(line, g, now, &self.tz, self.default_tz);
        // the last read's buffers take this one (no allocation per date)
        let (mut text_buf, mut spans) = self
            .last_read
            .take()
            .map_or_else(Default::default, |r| (r.text, r.spans));
        text_buf.clear();
        text_buf.push_str(text);
        spans.clear();
        spans.extend(spans_in_read(g, start));
        self.last_read = Some(DateRead {
            template: template.clone(),
            text: text_buf,
            spans,
            now,
            time,
            clock: None,
        });
        time
    }

    /// Fail2ban's template choice (see module doc); returns the match and the index of
    /// the template in the (possibly re-ordered) list.
    fn match_time(&mut self, line: &str) -> Option<(crate::pattern::Groups, usize)> {
        if self.slots.is_empty() {
            return None;
        }
        let n = self.slots.len();
        let mut found: Option<(crate::pattern::Groups, usize, usize, usize)> = None;
        let mut ignore_by_search = NONE_INDEX;
        let mut matched: Option<(crate::pattern::Groups, usize)> = None;
        let i = self.last_index;
        if i < n {
            let template = self.slots[i].template.clone();
            let anchored = template.flags & (LINE_BEGIN | LINE_END) != 0;
            let m = if anchored {
                ignore_by_search = i;
                template.search_memo(line, 0, line.len(), &mut self.slots[i].memo)
            } else {
                let (distance, before, at) = self.last_pos;
                let (endpos, end_before, end_at) = self.last_end;
                let start_ok = char_before(line, distance) == before
                    || (char_at(line, distance) == at && at.is_some_and(|c| !c.is_alphanumeric()));
                let end_ok = char_at(line, endpos) == end_at
                    || (char_before(line, endpos) == end_before
                        && end_before.is_some_and(|c| !c.is_alphanumeric()));
                let in_bounds = distance <= line.len()
                    && endpos <= line.len()
                    && line.is_char_boundary(distance)
                    && line.is_char_boundary(endpos)
                    && distance <= endpos;
                if start_ok && end_ok && in_bounds {
                    template.search_memo(line, distance, endpos, &mut self.slots[i].memo)
                } else {
                    ignore_by_search = i;
                    template.search_memo(line, 0, line.len(), &mut self.slots[i].memo)
                }
            };
            if let Some(g) = m {
                self.slots[i].raw_hits += 1;
                let (distance, endpos) = (g.start(), g.end());
                if n == 1 || anchored || (distance == self.last_pos.0 && endpos == self.last_end.0)
                {
                    matched = Some((g, i));
                } else {
                    found = Some((g, distance, endpos, i));
                }
            }
        }
        if matched.is_none() {
            let candidates = self
                .screen
                .as_ref()
                .filter(|_| line.is_ascii())
                .map(|s| s.matches(line.as_bytes()));
            let ruled_out = |slot: &Slot| match (slot.screen_index, &candidates) {
                (Some(k), Some(c)) => !c.matched(k),
                _ => false,
            };
            let mut i = 0;
            while i < n {
                if i == ignore_by_search || ruled_out(&self.slots[i]) {
                    i += 1;
                    continue;
                }
                let template = self.slots[i].template.clone();
                let memo = &mut self.slots[i].memo;
                if let Some(g) = template.search_memo(line, 0, line.len(), memo) {
                    self.slots[i].raw_hits += 1;
                    let distance = g.start();
                    if i + 1 >= n || template.flags & (LINE_BEGIN | LINE_END) != 0 {
                        matched = Some((g, i));
                        break;
                    }
                    if distance == 0 && self.slots[i].hits > 0 && self.slots[i + 1].raw_hits == 0 {
                        matched = Some((g, i));
                        break;
                    }
                    if distance > self.slots[i].distance || distance > self.last_pos.0 {
                        if found.as_ref().is_none_or(|f| distance < f.1) {
                            let end = g.end();
                            found = Some((g, distance, end, i));
                        }
                        i += 1;
                        continue;
                    }
                    matched = Some((g, i));
                    break;
                }
                i += 1;
            }
            if matched.is_none() {
                if let Some((g, _, _, i)) = found {
                    matched = Some((g, i));
                }
            }
        }
        let (g, i) = matched?;
        let i = self.note_hit(line, i, (g.start(), g.end()));
        Some((g, i))
    }

    /// Count a hit of template `i` matching `span` of `line`; returns the template's
    /// index after the hit (it may move up).
    #[inline(never)]
    fn note_hit(&mut self, line: &str, i: usize, (distance, endpos): (usize, usize)) -> usize {
        self.count_hit(i, distance);
        self.last_pos = (
            distance,
            char_before(line, distance),
            char_at(line, distance),
        );
        self.last_end = (endpos, char_before(line, endpos), char_at(line, endpos));
        let i = if i != 0 && i != self.last_index {
            self.reorder(i)
        } else {
            i
        };
        self.last_index = i;
        i
    }

    /// Count a hit of template `i` whose match starts at `distance`.
    fn count_hit(&mut self, i: usize, distance: usize) {
        let slot = &mut self.slots[i];
        slot.hits += 1;
        slot.last_used = self.clock;
        slot.distance = distance;
        if self.first_unused == i {
            self.first_unused += 1;
        }
    }

    /// Move a template that hits up the list (Fail2ban's `_reorderTemplate`).
    fn reorder(&mut self, num: usize) -> usize {
        let untime = (self.slots[num].last_used)
            .checked_sub(UNUSED_FOR)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let weight = self.slots[num].weight();
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        let movable = |slots: &[Slot], pos: usize| {
            weight > slots[pos].weight() || untime > slots[pos].last_used
        };
        if !movable(&self.slots, pos) {
            if pos == num - 1 {
                return num;
            }
            pos = num - 1;
            if !movable(&self.slots, pos) {
                return num;
            }
        }
        let slot = self.slots.remove(num);
        self.slots.insert(pos, slot);
        while self.first_unused < self.slots.len() && self.slots[self.first_unused].hits > 0 {
            self.first_unused += 1;
        }
        pos
    }
}

/// Replace `{DATE}` (any case, not escaped) in a pre-match pattern.
fn replace_date_marker(pre_match: &str, date: &str) -> String {
    let mut out = String::new();
    let mut rest = pre_match;
    while let Some(i) = rest.to_uppercase().find("{DATE}") {
        let escaped = rest[..i].ends_with('\\');
        out.push_str(&rest[..i]);
        if escaped {
            out.push_str(&rest[i..i + 6]);
        } else {
            out.push_str(date);
        }
        rest = &rest[i + 6..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_find_common_formats() {
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        let now = 1_800_000_000;
        let cases = [
            (
                "2026-02-23 11:08:21,934 fail2ban.filter",
                "2026-02-23 11:08:21,934",
            ),
            ("Feb 23 11:08:21 host sshd[1]: x", "Feb 23 11:08:21"),
            // not ASCII: searched without the screen
            ("Feb 23 11:08:22 hôst sshd[1]: é", "Feb 23 11:08:22"),
            (
                r#"1.2.3.4 - - [23/Feb/2026:10:49:04 +0900] "GET /""#,
                "23/Feb/2026:10:49:04 +0900",
            ),
            (
                "[Mon Feb 23 10:49:04.192500 2026] [php:notice]",
                "Mon Feb 23 10:49:04.192500 2026",
            ),
            (
                "2026-02-08T00:00:12.443401+09:00 mimura-soft postfix/smtpd[1]:",
                "2026-02-08T00:00:12.443401+09:00",
            ),
        ];
        for (line, date) in cases {
            let f = d
                .find(line, now)
                .unwrap_or_else(|| panic!("no date in {line}"));
            assert_eq!(&line[f.start..f.end], date, "{line}");
            assert!(f.time.is_some(), "{line}");
        }
    }

    #[test]
    fn none_pattern_matches_empty() {
        let mut d = DateDetector::from_patterns("{NONE}", TimeZone::UTC, 2026).unwrap();
        let f = d.find("anything", 0).unwrap();
        assert_eq!((f.start, f.end, f.time), (0, 0, None));
    }
}
#[cfg(test)]
mod old_now_tests {
    use super::*;
    #[test]
    fn explicit_year_wins_over_an_old_now() {
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        let line = "[Sun Sep 14 21:44:43.008606 2014] [authz_core:error] [pid 10691] [client 192.3.9.178:44271] x";
        let f = d.find(line, 1124013600).unwrap();
        assert_eq!(&line[f.start..f.end], "Sun Sep 14 21:44:43.008606 2014");
        assert_eq!(f.time, Some(1410731083.0));
    }
}

#[cfg(test)]
mod repeat_tests {
    use super::*;

    /// Every line's date as found by `d`, and the template order (and where the last
    /// match was) after each line; with `shortcut` false, the last line's date is
    /// forgotten before each line so that every line is searched.
    fn dates(
        d: &mut DateDetector,
        lines: &[&str],
        shortcut: bool,
    ) -> Vec<(Option<FoundDate>, Vec<String>)> {
        lines
            .iter()
            .map(|line| {
                if !shortcut {
                    d.last_line = None;
                }
                // whether the line repeats the last one's is what differs between the two
                let found = (d.find(line, 1_800_000_000)).map(|f| FoundDate {
                    repeats_last: false,
                    ..f
                });
                // what the next line's search starts from: the same either way
                let noted = format!("{:?} {:?} {}", d.last_pos, d.last_end, d.last_index);
                let mut state: Vec<String> = d.templates().map(|(t, _)| t.name.clone()).collect();
                state.push(noted);
                (found, state)
            })
            .collect()
    }

    const LINES: [&str; 16] = [
        "Feb 23 00:00:03 vps sshd[301]: Invalid user a",
        "Feb 23 00:00:03 vps sshd[302]: Invalid user b",
        // the same date text, then what the template could take in too
        "Feb 23 00:00:03 2025 vps sshd[303]: x",
        "Feb 23 00:00:03.123456 vps sshd[304]: x",
        "Feb 23 00:00:03.123456 2024 vps sshd[304]: x",
        "Feb 23 00:00:031 vps sshd[305]: x",
        "Feb 23 00:00:03",
        "Feb 23 00:00:03 ",
        "Feb 23 00:00:03é vps",
        "Feb 23 00:00:03 vps sshd[306]: Invalid user é",
        // no date, then other templates
        "no date here at all",
        "Feb 23 00:00:03 vps sshd[307]: back",
        "2026-02-23 11:08:21,934 fail2ban.filter",
        "2026-02-23 11:08:21,934 fail2ban.filter again",
        r#"1.2.3.4 - - [23/Feb/2026:10:49:04 +0900] "GET /""#,
        "Feb 23 00:00:03 vps sshd[308]: again",
    ];

    #[test]
    fn a_repeated_line_start_gives_what_a_search_gives() {
        let mut shortcut = DateDetector::with_defaults(TimeZone::UTC, 2026);
        let mut searched = shortcut.clone();
        let got = dates(&mut shortcut, &LINES, true);
        assert_eq!(got, dates(&mut searched, &LINES, false));
        let text = |i: usize| got[i].0.map(|f| &LINES[i][f.start..f.end]);
        assert_eq!(text(1), Some("Feb 23 00:00:03"));
        assert_eq!(text(2), Some("Feb 23 00:00:03 2025"));
        assert_eq!(text(3), Some("Feb 23 00:00:03.123456"));
        assert_eq!(text(4), Some("Feb 23 00:00:03.123456 2024"));
        assert_eq!(got[5].0, None);
        assert_eq!(text(6), Some("Feb 23 00:00:03"));
        assert_eq!(got[10].0, None);
        assert_eq!(text(13), Some("2026-02-23 11:08:21,934"));
    }

    #[test]
    fn a_configured_line_start_pattern_gives_what_a_search_gives() {
        let lines = [
            "2026-02-23 11:08:21 a",
            "2026-02-23 11:08:21 b",
            "2026-02-23 11:08:211 c",
            "2026-02-23 11:08:21",
            "-2026-02-23 11:08:21 d",
            "--2026-02-23 11:08:21 e",
            "-\u{2013}2026-02-23 11:08:21 f",
            "-\u{2013}2026-02-23 11:08:21 g",
            "\u{e9}2026-02-23 11:08:21 h",
            "2026-02-23 11:08:21\u{e9} i",
            "2026-02-23 11:08:21\u{e9} j",
        ];
        let pattern = "{^LN-BEG}%ExY-%m-%d %H:%M:%S";
        let mut shortcut = DateDetector::from_patterns(pattern, TimeZone::UTC, 2026).unwrap();
        let mut searched = shortcut.clone();
        let got = dates(&mut shortcut, &lines, true);
        assert_eq!(got, dates(&mut searched, &lines, false));
        let text = |i: usize| got[i].0.map(|f| &lines[i][f.start..f.end]);
        assert_eq!(text(1), Some("2026-02-23 11:08:21"));
        assert_eq!(got[2].0, None);
        assert_eq!(text(5), Some("2026-02-23 11:08:21"));
        assert_eq!(text(7), Some("2026-02-23 11:08:21"));
        assert_eq!(got[8].0, None);
    }

    #[test]
    fn the_syslog_template_is_decided_by_the_line_start() {
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        let line = "Feb 23 00:00:03 vps sshd[301]: x";
        let f = d.find(line, 0).unwrap();
        let template = &d.slots[f.template].template;
        assert_eq!(
            template.deciding_prefix_len(line),
            Some(17),
            "{}",
            template.name
        );
        assert!(d.last_line.is_some());
        // a line starting the same way is answered from the last line (marked here
        // to tell), counting a hit
        let hits = d.slots[f.template].hits;
        let marked = FoundDate {
            time: Some(-1.0),
            ..f
        };
        if let Some(last) = d.last_line.as_mut() {
            last.found = marked;
        }
        let repeated = FoundDate {
            repeats_last: true,
            ..marked
        };
        assert_eq!(
            d.find("Feb 23 00:00:03 vps sshd[302]: y", 0),
            Some(repeated)
        );
        assert_eq!(d.slots[f.template].hits, hits + 1);
        // not so at another `now`, nor when a byte the search read differs
        assert_eq!(d.find("Feb 23 00:00:03 vps sshd[302]: y", 1), Some(f));
        let f = d.find("Feb 23 00:00:03 vps sshd[302]: y", 0);
        assert_eq!(d.find("Feb 23 00:00:03 Vps", 0), f);
        assert!(d.find("Feb 23 00:00:03 2026 vps", 0) != f);
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;

    /// A found date's span and time.
    type Shape = (usize, usize, Option<f64>);

    /// Each line's date found by `d` in turn (most of them taken by a step from the
    /// line before), next to the one a detector that saw only that line finds.
    fn stepped_and_fresh(
        d: &mut DateDetector,
        lines: &[&str],
        now: i64,
    ) -> Vec<(Option<Shape>, Option<Shape>)> {
        let fresh = d.clone();
        let shape = |f: FoundDate| (f.start, f.end, f.time);
        lines
            .iter()
            .map(|line| {
                let stepped = d.find(line, now).map(shape);
                (stepped, fresh.clone().find(line, now).map(shape))
            })
            .collect()
    }

    /// Asserts that `d` finds in each line what a fresh copy finds; returns that.
    fn assert_all_alike(d: &mut DateDetector, lines: &[&str], now: i64) -> Vec<Option<Shape>> {
        let found = stepped_and_fresh(d, lines, now);
        for (line, (stepped, fresh)) in lines.iter().zip(&found) {
            assert_eq!(stepped, fresh, "{line}");
        }
        found.into_iter().map(|(stepped, _)| stepped).collect()
    }

    /// 2026-02-23 12:00:00 UTC
    const NOW: i64 = 1_771_848_000;

    #[test]
    fn a_custom_date_next_to_a_non_word_character_cannot_join_words() {
        let bounded = |pattern: &str| {
            DateDetector::from_patterns(pattern, TimeZone::UTC, 2026)
                .unwrap()
                .cuts_at_word_bounds()
        };
        // after '[' (Apache's access log), or at the line's start
        assert!(bounded(r"^[^\[]*\[({DATE})"));
        assert!(bounded("^%Y-%m-%d %H:%M:%S"));
        assert!(bounded(r"^[^\[]*\[({DATE})\n{^LN-BEG}"));
        // "abc[04/Dec/2026:…]def" less its date is "abcdef": a word made by the cut
        assert!(!bounded(r"^[^\[]*(\[{DATE}\s*\])"));
        assert!(!bounded("x(%Y%m%d)y"));
        assert!(bounded("ab:(%Y%m%d)y"));
        // Fail2ban's {^LN-BEG}: up to two non-word characters after the line's start
        assert!(bounded(
            r"{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d %H:%M:%S"
        ));
        assert!(!bounded(r"^\w?(%Y%m%d)y"));
    }

    #[test]
    fn a_date_after_client_addresses_of_any_length_reads_as_searched() {
        // the match begins at the line's start, the date after the address
        let mut d = DateDetector::from_patterns(r"^[^\[]*\[({DATE})", TimeZone::UTC, 2026).unwrap();
        let lines = [
            "83.77.202.167 - - [23/Feb/2026:22:40:00 +0900] \"GET / HTTP/1.1\" 200 1",
            "9.2.1.10 - - [23/Feb/2026:22:40:00 +0900] \"GET / HTTP/1.1\" 200 1",
            "9.2.1.10 - - [23/Feb/2026:22:40:01 +0900] \"GET / HTTP/1.1\" 200 1",
            "159.105.254.175 - - [23/Feb/2026:22:41:07 +0900] \"GET / HTTP/1.1\" 200 1",
            "1.1.1.1 - - [24/Feb/2026:00:00:00 +0100] \"GET / HTTP/1.1\" 200 1",
            "1.1.1.1 - - [24/Feb/2026:00:00:00 +0900] \"GET / HTTP/1.1\" 200 1",
            "10.1.1.1 - - [24/Feb/2026:00:00:00 +0900] \"GET / HTTP/1.1\" 200 1",
        ];
        let found = assert_all_alike(&mut d, &lines, NOW);
        // 22:40 at +0900 is 13:40 UTC, 100 minutes after NOW
        let time = |i: usize| found[i].and_then(|f| f.2);
        assert_eq!(time(1), Some((NOW + 6000) as f64));
        assert_eq!(time(2), Some((NOW + 6001) as f64));
        assert_eq!(time(5), time(6));
        assert_eq!(time(4), time(5).map(|t| t + 8.0 * 3600.0));
    }

    #[test]
    fn syslog_seconds_minutes_hours_and_days_roll_over() {
        let lines = [
            "Feb 23 00:00:03 vps sshd[1]: a",
            "Feb 23 00:00:04 vps sshd[1]: b",
            "Feb 23 00:00:09 vps sshd[1]: c",
            "Feb 23 00:00:10 vps sshd[1]: d",
            "Feb 23 00:00:59 vps sshd[1]: e",
            "Feb 23 00:01:00 vps sshd[1]: minute",
            "Feb 23 00:09:59 vps sshd[1]: f",
            "Feb 23 00:10:00 vps sshd[1]: g",
            "Feb 23 00:59:59 vps sshd[1]: h",
            "Feb 23 01:00:00 vps sshd[1]: hour",
            "Feb 23 09:59:59 vps sshd[1]: i",
            "Feb 23 10:00:00 vps sshd[1]: j",
            "Feb 23 23:59:59 vps sshd[1]: k",
            "Feb 24 00:00:00 vps sshd[1]: day, after now: last year",
            "Feb 19 00:00:00 vps sshd[1]: l",
            "Feb 20 00:00:00 vps sshd[1]: m",
            "Feb  9 00:00:00 vps sshd[1]: n",
            "Feb 10 00:00:00 vps sshd[1]: o",
            // not a date of this template, then not digits
            "Feb 10 00:00:60 vps sshd[1]: leap second",
            "Feb 10 00:00:61 vps sshd[1]: p",
            "Feb 10 00:00:70 vps sshd[1]: q",
            "Feb 10 00:00:01 vps sshd[1]: r",
            "Mar 10 00:00:02 vps sshd[1]: month",
            "Mar 10 00:00:03 vpt sshd[1]: host",
            "Mar 10 00:00:04 2025 vps sshd[1]: with a year",
            "Mar 10 00:00:05 2025 vps sshd[1]: s",
            "Mar 10 00:00:05 2024 vps sshd[1]: t",
            "Mar 10 00:00:05.123456 2024 vps sshd[1]: fraction",
            "Mar 10 00:00:06.923456 2024 vps sshd[1]: u",
        ];
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        assert_all_alike(&mut d, &lines, NOW);
        // the steps were taken
        assert!(matches!(d.last_masks, Some(Some(_))));
        assert!(d.last_read.as_ref().is_some_and(|r| r.clock.is_some()));
    }

    #[test]
    fn dates_alternating_between_unlike_digits_pace_the_masks() {
        let lines: Vec<String> = (0..40)
            .map(|i| format!("Feb 23 00:00:{} vps sshd[1]: x", ["03", "61"][i % 2]))
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        assert_all_alike(&mut d, &lines, NOW);
        assert!(d.mask_pacing.misses >= 4, "{:?}", d.mask_pacing);
        // a clock moving on again: after at most 63 searches, masks take a line again
        let steady: Vec<String> = (0..64)
            .map(|s| format!("Feb 23 00:0{}:{:02} vps sshd[1]: x", s / 60, s % 60))
            .collect();
        let steady: Vec<&str> = steady.iter().map(String::as_str).collect();
        assert_all_alike(&mut d, &steady, NOW);
        assert_eq!(d.mask_pacing.misses, 0);
    }

    #[test]
    fn dates_with_year_fraction_and_zone() {
        let lines = [
            "2025-12-31 23:59:58,934 fail2ban.filter a",
            "2025-12-31 23:59:59,001 fail2ban.filter b",
            "2026-01-01 00:00:00,002 fail2ban.filter year",
            "2026-01-01 00:00:00,003 fail2ban.filter fraction",
            "2026-01-01 00:00:01 fail2ban.filter no fraction",
            "2026-02-08T00:00:12.443401+09:00 mimura postfix/smtpd[1]: zone",
            "2026-02-08T00:00:13.443401+09:00 mimura postfix/smtpd[1]: c",
            "2026-02-08T00:00:13.443401+08:00 mimura postfix/smtpd[1]: other zone",
            "2026-02-08T00:00:13.443401+08:30 mimura postfix/smtpd[1]: d",
            "2026-02-08T00:59:59.443401-01:00 mimura postfix/smtpd[1]: e",
        ];
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        assert_all_alike(&mut d, &lines, NOW);
        let pattern = "{^LN-BEG}%ExY-%m-%d %H:%M:%S(?:,%f)?";
        let mut d = DateDetector::from_patterns(pattern, TimeZone::UTC, 2026).unwrap();
        assert_all_alike(&mut d, &lines[..5], NOW);
    }

    #[test]
    fn a_date_that_crosses_now_within_its_hour_is_read_whole() {
        // a day after now is 2026-02-24 12:00: a date without a year after it is last year's
        let lines = [
            "Feb 24 11:59:58 vps sshd[1]: a",
            "Feb 24 11:59:59 vps sshd[1]: b",
            "Feb 24 12:00:00 vps sshd[1]: c",
            "Feb 24 12:00:01 vps sshd[1]: last year",
            "Feb 24 12:59:59 vps sshd[1]: d",
            "Feb 24 11:30:00 vps sshd[1]: e",
        ];
        let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
        let got = stepped_and_fresh(&mut d, &lines, NOW);
        for (line, (stepped, fresh)) in lines.iter().zip(&got) {
            assert_eq!(stepped, fresh, "{line}");
        }
        let year = 365 * 86_400;
        let time = |i: usize| got[i].0.and_then(|f| f.2).unwrap_or_default();
        assert_eq!(time(3) - time(2), 1.0 - year as f64);
    }

    #[test]
    fn local_zones_with_transitions_near_are_read_whole() {
        for (zone, lines) in [
            // 2026-03-29 02:00 CET becomes 03:00 CEST
            (
                "Europe/Berlin",
                [
                    "Mar 29 01:59:58 vps sshd[1]: a",
                    "Mar 29 01:59:59 vps sshd[1]: b",
                    "Mar 29 02:30:00 vps sshd[1]: in the gap",
                    "Mar 29 02:30:01 vps sshd[1]: c",
                    "Mar 29 03:00:00 vps sshd[1]: d",
                ],
            ),
            // 2026-10-04 02:00 becomes 02:30 (a half hour's daylight saving)
            (
                "Australia/Lord_Howe",
                [
                    "Oct  4 02:10:00 vps sshd[1]: in the gap",
                    "Oct  4 02:29:59 vps sshd[1]: a",
                    "Oct  4 02:30:00 vps sshd[1]: b",
                    "Oct  4 02:45:00 vps sshd[1]: c",
                    "Oct  4 02:45:01 vps sshd[1]: d",
                ],
            ),
        ] {
            let Ok(tz) = TimeZone::get(zone) else {
                panic!("time zone {zone} is not installed (tzdata)");
            };
            // late in 2026: these dates are this year's
            let now = 1_795_000_000;
            let mut d = DateDetector::with_defaults(tz, 2026);
            assert_all_alike(&mut d, &lines, now);
        }
    }
}
