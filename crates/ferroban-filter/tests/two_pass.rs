//! The two-pass capture search (`twopass.rs`) against the `regex` crate's own
//! capture search, on every linear regex of every stock Fail2ban filter and the lines
//! of Fail2ban's own sample log for that filter: the same groups, span for span.
//! Reads the installed Fail2ban package's filters and samples at test time. Also
//! constructed cases: priorities, greedy and lazy loops, empty loops.

use std::path::Path;

use ferroban_config::FilterDefinition;
use ferroban_filter::candidates::Candidates;
use ferroban_filter::date::DateDetector;
use ferroban_filter::pattern::{Mode, Pattern};
use ferroban_filter::tags;
use ferroban_filter::twopass::{Slot, TwoPass, UNSET};

const FILTERS: &str = "/etc/fail2ban/filter.d";
const SAMPLES: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

#[test]
fn two_pass_captures_are_the_back_trackers() {
    let Some(filters) = stock_filters() else {
        return;
    };
    let (mut compared, mut searched_alone) = (0, 0);
    for (name, def, texts) in filters {
        let regexes = def
            .failregex
            .iter()
            .chain(&def.ignoreregex)
            .chain(&def.prefregex);
        for python in regexes {
            let Ok(pattern) = Pattern::new(&tags::expand(python, "warn"), Mode::SingleLine) else {
                continue;
            };
            let Some(source) = pattern.linear_source() else {
                continue;
            };
            let (matches, handed_back) = compare(source, &texts);
            assert_eq!(handed_back, 0, "{name}: {source}");
            compared += matches;
            let alone = |t: TwoPass| t.searches_alone(usize::MAX);
            searched_alone += usize::from(TwoPass::new(source).is_some_and(alone));
        }
    }
    assert!(compared > 1000, "only {compared} matches compared");
    assert!(
        searched_alone > 100,
        "only {searched_alone} regexes searched alone"
    );
    println!("{compared} matches compared, {searched_alone} regexes searched alone");
}

/// The candidate set (`candidates.rs`, which cuts each failregex short, and reads
/// anchored ones from the text's start only) names every failregex that matches a
/// text, on every stock filter's sample texts.
#[test]
fn candidates_name_every_failregex_that_matches() {
    let Some(filters) = stock_filters() else {
        return;
    };
    let (mut matched, mut sets, mut from_start) = (0, 0, 0);
    for (name, def, texts) in filters {
        let patterns: Option<Vec<Pattern>> = def
            .failregex
            .iter()
            .map(|p| Pattern::new(&tags::expand(p, "warn"), Mode::SingleLine).ok())
            .collect();
        let Some(patterns) = patterns else {
            continue;
        };
        let Some(mut candidates) = Candidates::new(patterns.iter().map(|p| p.linear_superset()))
        else {
            continue;
        };
        sets += 1;
        from_start += usize::from(candidates.reads_from_start());
        for text in &texts {
            let possible = candidates.possible(text).expect("the texts are ASCII");
            for (i, pattern) in patterns.iter().enumerate() {
                if pattern.search(text).is_some() {
                    assert!(possible.may_match(i), "{name}: failregex {i} on {text:?}");
                    matched += 1;
                }
            }
        }
    }
    assert!(sets > 30, "only {sets} filters with a candidate set");
    assert!(
        from_start > 10,
        "only {from_start} sets read from the start"
    );
    assert!(matched > 400, "only {matched} matches checked");
}

/// Each stock filter with a sample log: its name, definition and the texts its
/// regexes are searched in (each ASCII line with its date cut out, as the engine
/// searches it, and the prefregex's content of that); `None` (said) when Fail2ban
/// is not installed.
fn stock_filters() -> Option<Vec<(String, FilterDefinition, Vec<String>)>> {
    if !Path::new(FILTERS).is_dir() || !Path::new(SAMPLES).is_dir() {
        println!("SKIPPED: Fail2ban's filters or sample logs are not installed");
        return None;
    }
    let mut filters = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(FILTERS).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(samples) = std::fs::read_to_string(Path::new(SAMPLES).join(name)) else {
            continue;
        };
        let Ok(def) = FilterDefinition::load(Path::new("/etc/fail2ban"), name, &[]) else {
            continue;
        };
        // The texts the regexes are searched in: each line with its date cut out, as
        // the engine searches it, and the prefregex's content of that.
        let mut dates = DateDetector::with_defaults(jiff::tz::TimeZone::UTC, 2026);
        let prefregex = def
            .prefregex
            .as_deref()
            .and_then(|p| Pattern::new(&tags::expand(p, "warn"), Mode::SingleLine).ok());
        let mut texts = Vec::new();
        for line in samples
            .lines()
            .filter(|l| l.is_ascii() && !l.starts_with('#'))
        {
            let cut = match dates.find(line, 1_800_000_000) {
                Some(d) => format!("{}{}\n", &line[..d.start], &line[d.end..]),
                None => format!("{line}\n"),
            };
            let content = prefregex.as_ref().and_then(|p| {
                let g = p.search(&cut)?;
                let (s, e) = g.get(p.group_index("content")?)?;
                Some(format!("{}\n", &cut[s..e]))
            });
            texts.extend(content);
            texts.push(cut);
        }
        filters.push((name.to_string(), def, texts));
    }
    Some(filters)
}

/// Each text's leftmost-first match of `pattern`: the two passes must give the
/// `regex` crate's groups, or hand the search back (only empty loops may); for a
/// pattern anchored at the start (which they may search alone), also with no span
/// given, from the text's start and from one byte in, matching or not. Returns
/// (matches, handed back).
fn compare(pattern: &str, texts: &[impl AsRef<str>]) -> (usize, usize) {
    let regex = regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("a linear pattern compiles");
    let two_pass = TwoPass::new(pattern).expect("a linear pattern compiles for two passes");
    let groups = |caps: regex::bytes::Captures| -> Vec<_> {
        caps.iter()
            .map(|m| m.map(|m| (m.start(), m.end())))
            .collect()
    };
    let (mut matches, mut handed_back) = (0, 0);
    for text in texts {
        let hay = text.as_ref().as_bytes();
        for start in [0, 1].into_iter().filter(|&s| s <= hay.len()) {
            if two_pass.is_start_anchored() {
                let expected = regex.captures_at(hay, start).map(groups);
                // the literals every match begins with never rule a match out
                if expected.is_some() {
                    assert_ne!(two_pass.may_start_at(hay, start), Some(false), "{pattern}");
                }
                match search(&two_pass, hay, start) {
                    Some(found) => assert_eq!(found, expected, "{pattern} on {:?}", text.as_ref()),
                    None => handed_back += 1,
                }
            }
        }
        let Some(caps) = regex.captures(hay) else {
            continue;
        };
        let whole = caps.get(0).expect("group 0 is the match");
        let span = (whole.start(), whole.end());
        let expected = groups(caps);
        matches += 1;
        match captures(&two_pass, hay, span) {
            Some(found) => assert_eq!(found, expected, "{pattern} on {:?}", text.as_ref()),
            None => handed_back += 1,
        }
    }
    (matches, handed_back)
}

/// [`TwoPass::search`] into a buffer that holds a stale match's slots (each search
/// must write every slot): the groups, `Some(None)` for no match.
fn search(two_pass: &TwoPass, hay: &[u8], start: usize) -> Option<Option<Vec<Span>>> {
    let mut slots = vec![0; two_pass.slot_len()];
    let found = two_pass.search(hay, start, &mut slots, None)?;
    Some(found.then(|| spans(&slots)))
}

/// [`TwoPass::captures`] of the match at `span`, into a buffer that holds a stale
/// match's slots.
fn captures(two_pass: &TwoPass, hay: &[u8], span: (usize, usize)) -> Option<Vec<Span>> {
    let mut slots = vec![0; two_pass.slot_len()];
    two_pass
        .captures(hay, span.0, span.1, &mut slots, None)
        .then(|| spans(&slots))
}

/// The groups' spans of capture slots.
fn spans(slots: &[Slot]) -> Vec<Span> {
    let span = |pair: &[Slot]| {
        (pair[0] != UNSET && pair[1] != UNSET).then_some((pair[0] as usize, pair[1] as usize))
    };
    slots.chunks_exact(2).map(span).collect()
}

/// A group's span (`None`: it took no part).
type Span = Option<(usize, usize)>;

/// Every pattern finds a match in `texts`, with the `regex` crate's groups, and the
/// two passes hand none back.
fn assert_same_groups(patterns: &[&str], texts: &[&str]) {
    for p in patterns {
        let (matches, handed_back) = compare(p, texts);
        assert!(matches > 0, "{p} matches none of the texts");
        assert_eq!(handed_back, 0, "{p}");
    }
}

#[test]
fn two_pass_takes_the_back_trackers_path() {
    let texts = [
        "user a b from 1.2.3.4 from 5.6.7.8 port 22",
        "user from from from 9.9.9.9",
        "aaaa",
        "ab ab ab",
        "x: y: z",
        "word boundary: foo-bar baz",
        "xyzz tail",
        "key=a b c end",
    ];
    // priority between alternatives, greedy and lazy repetition, groups that take
    // part or not, word boundaries and anchors
    let patterns = [
        r"user (?P<u>.*) from (?P<h>\S+)",
        r"user (?P<u>.*?) from (?P<h>\S+)",
        r"(?P<a>a|aa)(?P<b>a*)",
        r"(?P<a>a+?)(?P<b>a{2})$",
        r"(?:(?P<x>ab) )+(?P<y>ab)",
        r"^(?P<k>[^:]+): (?P<v>.*?)(?:: (?P<w>.*))?$",
        r"\b(?P<w>\w+)\b-(?P<z>\w+)",
        r"(?P<one>x)?(?P<two>y)?",
        // more than two alternatives that take the same byte (the set decides), and
        // a set needed only late in the span (the backward pass then runs from there)
        r"(?P<a>x|xy|xyz)(?P<b>z?)(?P<c>.*)",
        r"key=(?P<k>[a-z]) (?P<r>.*) (?P<e>\w+)",
    ];
    assert_same_groups(&patterns, &texts);
}

/// A run of literal bytes is crossed in one move (`TwoPass::literal_run`): before,
/// between and after groups, at the span's end, and in a text too short for it.
#[test]
fn two_pass_crosses_literal_runs_as_the_back_tracker_reads_them() {
    let texts = [
        "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2",
        "Failed password for root from 10.0.0.2 port 4711 ssh2",
        "Failed password for ro",
        "xx Failed password for x from y port 1 ssh2",
        "port 12345 ssh2",
    ];
    let patterns = [
        r"^Failed password for (?P<u>.*?) from (?P<h>\S+) port \d+ ssh2$",
        r"Failed password for (?:invalid user )?(?P<u>\S+) from (?P<h>\S+)",
        r"(?P<all>Failed password for )(?P<rest>.*)",
        r"port (?P<p>\d\d\d\d\d) ssh2",
        r"for (?P<u>ro|root)",
    ];
    assert_same_groups(&patterns, &texts);
}

#[test]
fn two_pass_gives_empty_loops_the_same_groups_or_hands_them_back() {
    // the inner group can repeat empty, a loop the back-tracker cuts; also loops
    // empty through an assertion or a capture alone, which the walk passes in one step
    let empty_loops = [
        r"(?:(?P<e>a*))*b",
        r"(?P<o>(?:a?)*)c",
        r"(?:(?P<w>\b)|a)*b",
        r"(?:(?P<n>)|a)+c",
    ];
    for p in empty_loops {
        let (matches, _) = compare(p, &["aab", "b", "aac", "c"]);
        assert!(matches > 0, "{p}");
    }
}

#[test]
fn two_pass_assertions_hold_where_the_regex_crates_do() {
    // every ASCII assertion, next to word bytes, non-word bytes, `\r`, `\n` (in the
    // middle of a buffer too) and the haystack's edges
    let texts = [
        "foo\nbar baz\n",
        "\r\nab-cd\r\n_x9\r",
        "-a-",
        "a",
        "",
        " x_y9 z\n\nq",
        "line one\nline two\r\n",
    ];
    let patterns = [
        r"(?m)^(?P<l>\w+)$",
        r"(?m)(?P<l>[a-z ]+)$\n^(?P<n>\w*)",
        r"\b(?P<w>\w+)\b",
        r"\B(?P<i>\w)\B",
        r"(?P<s>\b{start}\w)(?P<e>\w*\b{end})",
        r"\b{start-half}(?P<h>[a-z]+)\b{end-half}",
        r"(?Rm)^(?P<c>[^\r\n]*)$",
        r"\A(?P<a>\W*)(?P<b>\w*)",
        r"(?P<z>\w+\s*)\z",
        r"(?P<g>\S+)\s*$",
        // searched by the two passes alone: anchored at the start, ending at a line's end
        r"^(?P<f>\w+)(?: (?P<r>.*?))?\s*(?m:$)",
        r"\A(?P<p>[^\n]*\b)\s*\z",
    ];
    assert_same_groups(&patterns, &texts);
}

#[test]
fn two_pass_searches_alone_a_short_haystack_whose_match_ends_early() {
    // anchored at the start, not ending at a line's end: searched alone in a short
    // haystack, where the match may end before it does, or a longer match be
    // possible that leftmost-first does not take, or no match at all
    let texts = [
        "Failed password for root from 1.2.3.4 port 22 ssh2",
        "Failed publickey for invalid user a b from 1.2.3.4 from 5.6.7.8",
        "Failed none for x from y: z",
        "Failed",
        "abcabc tail",
        "ab",
        "xyyy",
        "x",
        "",
    ];
    let patterns = [
        r"^Failed (?:(?P<n>publickey)|\S+) for (?:invalid user )?(?P<u>\S+|.*?) from (?P<h>\S+)",
        r"^Failed (?P<m>\S+) for (?P<u>[^:]+?)(?P<c>: )?",
        r"^(?P<a>a|ab)(?P<b>c?)",
        r"^(?:(?P<x>abc)|abcabc)(?P<t> tail)?",
        r"^x(?P<l>y*?)(?P<r>y?)",
    ];
    for p in patterns {
        let two_pass = TwoPass::new(p).unwrap();
        assert!(!two_pass.searches_alone(usize::MAX), "{p}");
        assert!(two_pass.searches_alone(texts[0].len()), "{p}");
    }
    assert_same_groups(&patterns, &texts);
}

#[test]
fn two_pass_searches_alone_while_matches_leave_little_after_them() {
    let two_pass = TwoPass::new(r"^(?P<d>\d+) ").unwrap();
    assert!(two_pass.searches_alone(100));
    let long_tail = format!("12 {}", "x".repeat(100));
    let found = search(&two_pass, long_tail.as_bytes(), 0).unwrap().unwrap();
    assert_eq!(found[1], Some((0, 2)));
    assert!(
        !two_pass.searches_alone(100),
        "its last match left most of its haystack"
    );
    assert!(captures(&two_pass, b"34 x", (0, 3)).is_some());
    assert!(two_pass.searches_alone(100), "its last match left little");
    assert!(!two_pass.searches_alone(1000), "a long haystack");
}

#[test]
fn two_pass_answers_a_haystack_of_a_shape_seen_before_as_the_back_tracker_does() {
    // Searches are remembered by the shape of the haystack (each byte's class for the
    // automaton, and what its assertions see): haystacks that differ only within
    // classes (digits, letters the pattern does not name) are answered from memory,
    // at their own offsets; a byte of another class, a different length or a start
    // other than the haystack's gives another shape, and its own answer.
    let texts = [
        "Failed password for root from 1.2.3.4 port 22",
        "Failed password for root from 5.6.7.8 port 99",
        "Failed password for toor from 9.8.7.6 port 11",
        "Failed password for root from 5.6.7.8 port 9x",
        "Failed password for root from 5.6.7.8 port 999",
        "Failed password for root from 5.6.7.8:port 99",
        "Failed publickey for root from 5.6.7.8 port 99",
        "Failed password for invalid user x from 5.6.7.8 port 99",
        "Failed password for invalid user y from 5.6.7.8 port 99",
        "Failed password for invalid user y from 5.6.7.8 port 99 ",
        "xFailed password for root from 1.2.3.4 port 22",
    ];
    let pattern = r"^Failed (?:(?P<n>publickey)|\S+) for (?:invalid user )?(?P<u>\S+|.*?) from (?P<h>\S+) port (?P<p>\d+)$";
    // twice: the second round is answered from memory, and must agree
    for round in 0..2 {
        let (matches, handed_back) = compare(pattern, &texts);
        assert_eq!((matches, handed_back), (7, 0), "round {round}");
    }
    // a start after the haystack's: the start assertion holds nowhere there
    let two_pass = TwoPass::new(pattern).unwrap();
    let hay = texts[0].as_bytes();
    assert!(search(&two_pass, hay, 0).unwrap().is_some());
    let shifted = format!("x{}", texts[0]);
    assert_eq!(search(&two_pass, shifted.as_bytes(), 1), Some(None));
    assert!(search(&two_pass, hay, 0).unwrap().is_some());
}

#[test]
fn two_pass_serves_only_what_it_can_prove() {
    // Unicode word boundaries are not served: the caller searches with the regex crate
    assert!(TwoPass::new(r"(?u:\b)a").is_none());
    // searched alone only when anchored at the start and ending at a line's end, or
    // anchored at the start in a short haystack
    for (p, alone, alone_in_short) in [
        (r"^(?P<f>\w+)(?: (?P<r>.*?))?\s*(?m:$)", true, true),
        (r"\A(?P<p>[^\n]*\b)\s*\z", true, true),
        (r"\A(?P<a>\W*)(?P<b>\w*)", false, true),
        (r"^[^\[]*\[(?P<d>\d+)", false, true),
        (r"(?P<g>\S+)\s*$", false, false),
        (r"(?m)^(?P<g>\S+)", false, false),
    ] {
        let two_pass = TwoPass::new(p).unwrap();
        assert_eq!(two_pass.searches_alone(usize::MAX), alone, "{p}");
        assert_eq!(two_pass.searches_alone(100), alone_in_short, "{p}");
    }
    // a start a match needs is checked by its first literals, where they are long
    // enough to be worth it; else nothing is ruled out that way
    let failed = TwoPass::new(r"^(?:Failed|Invalid) (?P<u>\S+)$").unwrap();
    assert_eq!(failed.may_start_at(b"Failed x", 0), Some(true));
    assert_eq!(failed.may_start_at(b"Invalid x", 0), Some(true));
    assert_eq!(failed.may_start_at(b"Accepted x", 0), Some(false));
    let short = TwoPass::new(r"^(?:a|b) (?P<u>\S+)$").unwrap();
    assert_eq!(short.may_start_at(b"a x", 0), None);
    // too many literals: those another begins are left out ("Closed by " begins
    // "Closed by user "), and the rest cut shorter until few enough are left
    let many = TwoPass::new(
        r"^(?:Closed|Reset|Lost|Dropped) (?:by|from)(?: (?:invalid|valid) user)? (?P<h>\S+)$",
    )
    .unwrap();
    for hay in [
        "Closed by 1.2.3.4",
        "Reset from valid user 1.2.3.4",
        "Lost by x",
    ] {
        assert_eq!(many.may_start_at(hay.as_bytes(), 0), Some(true), "{hay}");
    }
    assert_eq!(many.may_start_at(b"Closed at 1.2.3.4", 0), Some(false));
    assert_eq!(many.may_start_at(b"Lost byx", 0), Some(false));
    let classes = TwoPass::new(r"^pam_[a-z]+\(sshd:auth\): (?P<r>.*)$").unwrap();
    assert_eq!(
        classes.may_start_at(b"pam_unix(sshd:auth): x", 0),
        Some(true)
    );
    assert_eq!(classes.may_start_at(b"PAM: x", 0), Some(false));
    let alternatives = (0..40).map(|i| format!("k{i:02}")).collect::<Vec<_>>();
    let forty = TwoPass::new(&format!(r"^(?:{}) (?P<v>\S+)$", alternatives.join("|"))).unwrap();
    // cut to "k0".."k3": shorter than worth checking
    assert_eq!(forty.may_start_at(b"k07 x", 0), None);
    let twenty = (0..20).map(|i| format!("ab{}{}", ["c", "d"][i / 10], i % 10));
    let twenty = TwoPass::new(&format!(
        r"^(?:{}) (?P<v>\S+)$",
        twenty.collect::<Vec<_>>().join("|")
    ));
    // cut to "abc", "abd"
    let twenty = twenty.unwrap();
    assert_eq!(twenty.may_start_at(b"abd7 x", 0), Some(true));
    assert_eq!(twenty.may_start_at(b"abc", 0), Some(true));
    assert_eq!(twenty.may_start_at(b"abe1 x", 0), Some(false));
}
