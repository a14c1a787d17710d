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
//!
//! A regex usually holds several such sets (each word of a concatenation, or each
//! alternation of words): `HTTP` and `.env`/`.git`/… are both in every match of an
//! access-log filter for secret files, but every line of an access log holds the
//! first and few the second. Which set rules out most lines depends on the log, not
//! on the regex, so the prefilter starts with each regex's best set by its form
//! (longest shortest literal) and, over the first 512 lines asked
//! about, counts how many hold each candidate set; then it keeps, for each regex,
//! the set the fewest lines held. Any of them is exact: only speed depends on it.
//!
//! Searching costs a few hundred instructions a line. Where nearly every line holds a
//! literal (an auth.log read with a filter whose literal is "sshd"), that is lost, so
//! the search pauses while it rules out too few lines (see `Payoff`): a paused
//! prefilter lets every line through, which only means more lines are tested.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use aho_corasick::AhoCorasick;
use regex_syntax::hir::{Hir, HirKind};

/// Literals of which every match contains at least one.
#[derive(Debug)]
pub struct Prefilter {
    /// Each regex's candidate sets of literals, its best by form first.
    choices: Vec<Vec<LiteralSet>>,
    /// The best set by form of each regex, searched until the sample is taken…
    by_form: Search,
    /// …and the set of each that held the fewest sampled lines, after it.
    by_sample: OnceLock<Search>,
    /// The sample being taken; `None` when there is nothing to choose, or once chosen.
    sample: Mutex<Option<Sample>>,
    /// The sample as it starts (no line counted), for a copy to take its own.
    fresh_sample: Option<Sample>,
    /// Whether a sample is being taken (read without the lock on every line).
    sampling: AtomicBool,
    payoff: Payoff,
}

/// Literals every match of a regex contains one of.
type LiteralSet = Vec<Vec<u8>>;

/// Literals searched for together, and their automaton.
#[derive(Debug, Clone)]
struct Search {
    automaton: AhoCorasick,
    /// The vectorised search (Teddy) for a few literals, where the CPU has it: the
    /// automaton alone picks its own prefilter, and for two or three literals it picks
    /// one that scans for their rarest bytes by an English frequency table, which a
    /// log's digits and letters defeat (a third of the time on an access log).
    packed: Option<aho_corasick::packed::Searcher>,
    literals: Vec<Vec<u8>>,
}

impl Search {
    /// The union of `sets`; `None` if the automaton cannot be built.
    fn of<'a>(sets: impl IntoIterator<Item = &'a LiteralSet>) -> Option<Search> {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        for l in sets.into_iter().flatten() {
            if !literals.contains(l) {
                literals.push(l.clone());
            }
        }
        let automaton = automaton_of(&literals).ok()?;
        let packed = match literals.len() {
            // one literal: the automaton searches it as a substring already
            1 => None,
            _ => aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(&literals)
                .build(),
        };
        Some(Search {
            automaton,
            packed,
            literals,
        })
    }

    /// Whether `hay` holds one of the literals.
    fn is_in(&self, hay: &[u8]) -> bool {
        match &self.packed {
            Some(packed) => packed.find(hay).is_some(),
            None => self.automaton.is_match(hay),
        }
    }

    /// Where the first literal in `hay[from..]` starts.
    fn first_from(&self, hay: &[u8], from: usize) -> Option<usize> {
        match &self.packed {
            Some(packed) => packed
                .find_in(hay, aho_corasick::Span::from(from..hay.len()))
                .map(|m| m.start()),
            None => {
                let input = aho_corasick::Input::new(hay).span(from..hay.len());
                self.automaton.find(input).map(|m| m.start())
            }
        }
    }
}

/// The automaton that finds `literals`. Leftmost-first: the question is only whether
/// (and from which line on) a literal occurs, which any match kind answers alike, and
/// this kind lets the automaton use its vectorised search (Teddy) where the
/// standard kind falls back to scanning for rare bytes, which an auth.log's lines
/// are full of.
fn automaton_of(literals: &[Vec<u8>]) -> Result<AhoCorasick, aho_corasick::BuildError> {
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(literals)
}

/// How many of the sampled lines held each candidate set of each regex.
#[derive(Debug, Clone)]
struct Sample {
    /// By regex, by candidate set (in `Prefilter::choices`' order): its automaton and
    /// the lines that held one of its literals.
    counts: Vec<Vec<(AhoCorasick, u32)>>,
    lines: u32,
}

/// Lines sampled before each regex's set is chosen: enough to tell a literal on
/// every line from one on a few, few enough that the sample's searches (one per
/// candidate set a line) cost nothing over a log.
const SAMPLE_LINES: u32 = 512;
/// Sampled lines that one set may hold more than another and still count as few:
/// a set of fewer literals is then kept (its search costs less on every line).
const HIT_STEP: u32 = 8;
/// Candidate sets kept per regex (the best by form).
const MAX_CHOICES: usize = 8;

impl Clone for Prefilter {
    /// A copy that chooses afresh, from its own sample.
    fn clone(&self) -> Self {
        Prefilter::starting(
            self.choices.clone(),
            self.by_form.clone(),
            self.fresh_sample.clone(),
        )
    }
}

/// Shortest literal worth a prefilter: shorter ones would let most lines through.
const MIN_LITERAL: usize = 3;

impl Prefilter {
    /// A prefilter for patterns (Rust syntax, linear engine) of which a line must
    /// match at least one; `None` when one of them has no usable mandatory literal.
    pub fn for_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<Prefilter> {
        let mut choices = Vec::new();
        for p in patterns {
            let hir = regex_syntax::ParserBuilder::new().build().parse(p).ok()?;
            let sets = candidate_sets(&hir);
            if sets.is_empty() {
                return None;
            }
            choices.push(sets);
        }
        if choices.is_empty() {
            return None;
        }
        Prefilter::with_choices(choices)
    }

    /// A prefilter that searches each regex's first set until its sample chooses.
    fn with_choices(choices: Vec<Vec<LiteralSet>>) -> Option<Prefilter> {
        let by_form = Search::of(choices.iter().filter_map(|sets| sets.first()))?;
        let sample = match choices.iter().any(|sets| sets.len() > 1) {
            true => Some(Sample {
                counts: choices
                    .iter()
                    .map(|sets| {
                        sets.iter()
                            .map(|set| automaton_of(set).map(|a| (a, 0)))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?,
                lines: 0,
            }),
            false => None,
        };
        Some(Prefilter::starting(choices, by_form, sample))
    }

    /// A prefilter that has seen no line yet.
    fn starting(
        choices: Vec<Vec<LiteralSet>>,
        by_form: Search,
        sample: Option<Sample>,
    ) -> Prefilter {
        Prefilter {
            sampling: AtomicBool::new(sample.is_some()),
            sample: Mutex::new(sample.clone()),
            fresh_sample: sample,
            choices,
            by_form,
            by_sample: OnceLock::new(),
            payoff: Payoff::default(),
        }
    }

    /// What is searched now.
    fn search(&self) -> &Search {
        self.by_sample.get().unwrap_or(&self.by_form)
    }

    /// The literals searched for now, for reports.
    pub fn literals(&self) -> impl Iterator<Item = String> + '_ {
        self.search()
            .literals
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
    }

    /// Could `line` match? (`true` without a search while the prefilter is paused.)
    pub fn may_match(&self, line: &[u8]) -> bool {
        let found = match self.payoff.searching() {
            true => {
                let found = self.search().is_in(line);
                self.payoff.note(!found);
                found
            }
            false => true,
        };
        if self.sampling.load(Ordering::Relaxed) {
            self.sample_line(line);
        }
        found
    }

    /// Where the next line that could match begins in `hay` (lines end with `\n`),
    /// from the line that begins at `from` on: the line of the next literal, or (while
    /// the prefilter is paused) the line at `from`.
    pub fn next_line(&self, hay: &[u8], mut from: usize) -> Option<usize> {
        // While sampling, line by line: each is counted.
        while self.sampling.load(Ordering::Relaxed) && from < hay.len() {
            let end = memchr::memchr(b'\n', &hay[from..]).map_or(hay.len(), |i| from + i + 1);
            if self.may_match(&hay[from..end]) {
                return Some(from);
            }
            from = end;
        }
        if from >= hay.len() {
            return None;
        }
        if !self.payoff.searching() {
            return Some(from);
        }
        let hit = self.search().first_from(hay, from);
        let line =
            hit.map(|at| memchr::memrchr(b'\n', &hay[from..at]).map_or(from, |i| from + i + 1));
        self.payoff.note(line != Some(from));
        line
    }

    /// Count which candidate sets `line` holds; the last line of the sample chooses.
    /// (Skipped while another thread counts: the sample need not be exact.)
    fn sample_line(&self, line: &[u8]) {
        let Ok(mut taking) = self.sample.try_lock() else {
            return;
        };
        let Some(sample) = taking.as_mut() else {
            return;
        };
        for (automaton, held) in sample.counts.iter_mut().flatten() {
            *held += u32::from(automaton.is_match(line));
        }
        sample.lines += 1;
        if sample.lines < SAMPLE_LINES {
            return;
        }
        let chosen = self
            .choices
            .iter()
            .zip(&sample.counts)
            .map(|(sets, counts)| {
                // the fewest lines held (counted in steps of HIT_STEP lines), then the
                // fewest literals (one is a vectorised substring search, a hundred
                // a byte-by-byte walk), then the best by form
                let cost = |i: usize| (counts[i].1 / HIT_STEP, sets[i].len());
                let fewest = (0..sets.len()).min_by_key(|&i| cost(i)).unwrap_or(0);
                &sets[fewest]
            });
        if let Some(search) = Search::of(chosen) {
            let _ = self.by_sample.set(search);
        }
        *taking = None;
        self.sampling.store(false, Ordering::Relaxed);
        // judged afresh: a pause was the set by form's
        self.payoff.reset();
    }
}

/// Searches (lines or runs of lines asked about) over which the prefilter's payoff is
/// judged…
const PAYOFF_WINDOW: u32 = 1024;
/// …it pauses when it ruled out fewer than one in this many of them…
const PAYOFF_RATIO: u32 = 8;
/// …for this many questions, answered without a search; then it is judged again.
const PAUSE: u32 = 16 * PAYOFF_WINDOW;

/// Whether searching for the literals pays: a search that rules a line out saves
/// that line's date and regexes (a thousand instructions or more), one that finds a
/// literal in the line asked about costs a few hundred for nothing; below one in
/// [`PAYOFF_RATIO`] ruled out, searching costs more than it saves. Atomics (relaxed:
/// plain loads and stores) only so that a filter may be shared; the counts need no
/// precision.
#[derive(Debug, Default)]
struct Payoff {
    asked: AtomicU32,
    ruled_out: AtomicU32,
    paused: AtomicU32,
}

impl Payoff {
    /// Whether to search now (a paused prefilter counts its question down).
    #[inline]
    fn searching(&self) -> bool {
        let paused = self.paused.load(Ordering::Relaxed);
        if paused == 0 {
            return true;
        }
        self.paused.store(paused - 1, Ordering::Relaxed);
        false
    }

    /// Judged afresh, from no question asked.
    fn reset(&self) {
        self.asked.store(0, Ordering::Relaxed);
        self.ruled_out.store(0, Ordering::Relaxed);
        self.paused.store(0, Ordering::Relaxed);
    }

    /// A search done: whether it ruled out the line asked about (at least).
    fn note(&self, ruled_out: bool) {
        let asked = self.asked.load(Ordering::Relaxed) + 1;
        let out = self.ruled_out.load(Ordering::Relaxed) + u32::from(ruled_out);
        if asked < PAYOFF_WINDOW {
            self.asked.store(asked, Ordering::Relaxed);
            self.ruled_out.store(out, Ordering::Relaxed);
            return;
        }
        if out * PAYOFF_RATIO < asked {
            self.paused.store(PAUSE, Ordering::Relaxed);
        }
        self.asked.store(0, Ordering::Relaxed);
        self.ruled_out.store(0, Ordering::Relaxed);
    }
}

/// The sets of literals every match of `hir` contains one of (each word of a
/// concatenation gives one), without those with a literal shorter than
/// [`MIN_LITERAL`]; the best by form first (the longest shortest literal, then the
/// fewest literals; among equals the last, as `required` picks), at most
/// [`MAX_CHOICES`].
fn candidate_sets(hir: &Hir) -> Vec<LiteralSet> {
    fn collect(hir: &Hir, sets: &mut Vec<LiteralSet>) {
        match hir.kind() {
            HirKind::Concat(subs) => subs.iter().for_each(|s| collect(s, sets)),
            HirKind::Capture(c) => collect(&c.sub, sets),
            HirKind::Repetition(r) if r.min >= 1 => collect(&r.sub, sets),
            _ => sets.extend(required(hir)),
        }
    }
    let mut sets = Vec::new();
    collect(hir, &mut sets);
    sets.retain(|set| set.iter().all(|l| l.len() >= MIN_LITERAL));
    let form = |set: &LiteralSet| {
        let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
        (shortest, usize::MAX - set.len())
    };
    let mut ranked: Vec<(usize, LiteralSet)> = sets.into_iter().enumerate().collect();
    ranked.sort_by_key(|(i, set)| std::cmp::Reverse((form(set), *i)));
    let mut best: Vec<LiteralSet> = Vec::new();
    for (_, set) in ranked {
        if !best.contains(&set) && best.len() < MAX_CHOICES {
            best.push(set);
        }
    }
    best
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

/// A character of the runs the literals are cut to: an ASCII word character. A date
/// template's cut is judged by the same definition (`Template::cuts_at_word_bounds`).
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The longest run of ASCII word characters in a literal.
fn longest_word_run(bytes: &[u8]) -> Option<Vec<u8>> {
    bytes
        .split(|&b| !is_word_byte(b))
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

    /// An access-log filter for secret files: every line holds `HTTP`, few a secret.
    const SECRETS: &str = r#"^\S+ "GET /(?:\.env|\.git) HTTP/1\.1" 404"#;

    fn access_line(i: usize) -> String {
        let path = if i % 100 == 7 { ".env" } else { "index.html" };
        format!("192.0.2.{} \"GET /{path} HTTP/1.1\" 404\n", i % 250)
    }

    #[test]
    fn keeps_the_set_of_literals_fewest_sampled_lines_hold() {
        let p = Prefilter::for_patterns([SECRETS]).unwrap();
        // by form: the longest literal, which every line of an access log holds
        assert_eq!(p.literals().collect::<Vec<_>>(), ["HTTP"]);
        for i in 0..SAMPLE_LINES as usize {
            let line = access_line(i);
            assert!(p.may_match(line.as_bytes()), "line {i} holds HTTP");
        }
        assert_eq!(p.literals().collect::<Vec<_>>(), ["env", "git"]);
        assert!(!p.may_match(access_line(0).as_bytes()));
        assert!(p.may_match(access_line(7).as_bytes()));
        // a copy takes its own sample
        assert_eq!(p.clone().literals().collect::<Vec<_>>(), ["HTTP"]);
    }

    #[test]
    fn samples_line_by_line_in_blocks_and_skips_after() {
        let p = Prefilter::for_patterns([SECRETS]).unwrap();
        let lines: Vec<String> = (0..3 * SAMPLE_LINES as usize).map(access_line).collect();
        let block = lines.concat();
        let mut starts = Vec::new();
        let mut at = 0;
        for line in &lines {
            starts.push(at);
            at += line.len();
        }
        let mut returned = Vec::new();
        let mut from = 0;
        while let Some(line_start) = p.next_line(block.as_bytes(), from) {
            returned.push(starts.binary_search(&line_start).expect("a line's start"));
            from = line_start + block[line_start..].find('\n').unwrap() + 1;
        }
        // the sample's lines all held the set by form; after it, only secrets
        let sampled = SAMPLE_LINES as usize;
        assert_eq!(returned[..sampled], (0..sampled).collect::<Vec<_>>());
        let after: Vec<usize> = (sampled..lines.len()).filter(|i| i % 100 == 7).collect();
        assert_eq!(returned[sampled..], after);
    }

    #[test]
    fn no_prefilter_without_a_literal_in_every_regex() {
        assert_eq!(lits(&[r"^\S+ fail", r"\d+"]), None);
        assert_eq!(lits(&[r"(?i)failed password"]), None);
        assert_eq!(lits(&[r"(?:failed)? x"]), None);
        assert_eq!(lits(&[r"(?:ab|longer)"]), None);
    }

    #[test]
    fn finds_the_lines_of_hits_in_blocks() {
        let p = Prefilter::for_patterns([r"wp-login\.php"]).unwrap();
        let block = b"a\nb wp-login.php\nc\n";
        assert_eq!(p.next_line(block, 0), Some(2));
        assert_eq!(p.next_line(block, 2), Some(2));
        assert_eq!(p.next_line(block, 17), None);
        assert!(!p.may_match(b"nothing here"));
    }

    #[test]
    fn pauses_while_nearly_every_line_has_a_literal_and_judges_again() {
        let p = Prefilter::for_patterns([r"sshd"]).unwrap();
        // one line in ten ruled out: more than one in eight get through for nothing
        for i in 0..PAYOFF_WINDOW {
            let line: &[u8] = if i % 10 == 0 { b"cron" } else { b"sshd[1]" };
            assert_eq!(p.may_match(line), i % 10 != 0);
        }
        // paused: every line may match, found literal or not
        for _ in 0..PAUSE {
            assert!(p.may_match(b"cron"));
        }
        // searching again, and it pays now: it stays on
        for _ in 0..2 * PAYOFF_WINDOW {
            assert!(!p.may_match(b"cron"));
        }
        let block = b"cron\ncron\nsshd[1]\n";
        assert_eq!(p.next_line(block, 0), Some(10));
    }

    #[test]
    fn keeps_searching_where_it_rules_out_one_line_in_eight() {
        let p = Prefilter::for_patterns([r"sshd"]).unwrap();
        for i in 0..4 * PAYOFF_WINDOW {
            let line: &[u8] = if i % 8 == 0 { b"cron" } else { b"sshd[1]" };
            assert_eq!(p.may_match(line), i % 8 != 0, "line {i}");
        }
    }
}
