//! Look-aheads rewritten for the linear engine (src/unfold/lookahead.rs) match as
//! Python's `re` does: for every text up to a few tokens long over an alphabet
//! chosen to hit each state of the look-ahead, the match (or none) and every
//! named group's span are those the real Python gives, run here at test time.

use std::io::Write;
use std::process::{Command, Stdio};

use ferroban_filter::pattern::{Mode, Pattern};

/// Patterns with the look-ahead constructs of Fail2ban's stock filters, each with
/// the tokens its texts are made of.
const CASES: &[(&str, &[&str])] = &[
    // sshd extra: a look-ahead ending a bounded repetition, at the pattern's end
    (
        r"^a (?:(?:\w+ (?!found\b)){0,2}\w+)",
        &["a ", "found", "foun", "x", " ", "_", "."],
    ),
    // … and followed by more pattern
    (
        r"^a (?:(?:\w+ (?!found\b)){0,2}\w+) found:",
        &["a ", "found", "fo", "x", " ", ":"],
    ),
    // postfix ddos: a look-ahead inside a branch, a positive one ending a branch
    (
        r"^(?:lost after(?! DATA) [A-Z]+|disc(?= from \S+(?: \S+=\d+)* auth=0/(?:[1-9]|\d\d+))|HANG) (?P<content>.+)$",
        &[
            "lost after",
            "disc",
            " from",
            " DATA",
            " DAT",
            " D",
            "X",
            " a=1",
            " auth=0/",
            "1",
            "0",
            "\n",
        ],
    ),
    // recidive: a look-ahead before a loop that ends on its last character
    (
        r"^N \[(?!rec\])(?:.*)\] B (?P<ip>\d)$",
        &["N [", "rec", "re", "]", "] B ", "x", "1"],
    ),
    // apache-auth: a one-character look-ahead before a capturing group
    (
        r"^user (?!`)(?P<user>(?:\S*|.*?)) (?:failure|not found)\b",
        &["user ", "`", "a", " ", "not found", "failure", "x"],
    ),
    // apache-auth's prefregex: inside a capturing group's branch
    (
        r"^\[(:?error|(?!eva)\S+:\S+)\] (?P<content>.+)$",
        &["[", "error", "eva", "ev", "x", ":", "] ", "y"],
    ),
    // named-refused: a look-ahead of alternatives, then more pattern
    (
        r"^(?:(?!error|info|in)[\w-]+: )?(?:(?:error|info):\s*)?client (?P<ip>\d)",
        &["error", "info", "in", "i", "e", "-", ": ", "client ", "1"],
    ),
    // a look-ahead ending in \b inside a capturing group, then more pattern
    (
        r"^(?P<w>\w+ (?!ab\b)\w*)-(?P<t>\w)",
        &["x ", "ab", "a", "b", "-", "c", " "],
    ),
];

/// Every text of at most `len` tokens with a newline at most at its end (what
/// `Mode::SingleLine` searches: a line, maybe with its newline).
fn texts(tokens: &[&str], len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut layer = vec![String::new()];
    for _ in 0..len {
        layer = layer
            .iter()
            .flat_map(|t| tokens.iter().map(move |tok| format!("{t}{tok}")))
            .collect();
        layer.retain(|t| !t.strip_suffix('\n').unwrap_or(t).contains('\n'));
        all.extend(layer.iter().cloned());
    }
    all
}

/// One line per text: "-" (no match) or the whole span then each named group's
/// span, `start,end` (`-1,-1` for a group that took no part), sorted by name.
const PYTHON: &str = r#"
import re, sys
pattern = re.compile(sys.stdin.readline().rstrip("\n"))
names = sorted(pattern.groupindex)
for line in sys.stdin.read().split("\0")[:-1]:
    m = pattern.search(line)
    if m is None:
        print("-")
    else:
        print(" ".join("%d,%d" % m.span(g) for g in [0] + names))
"#;

fn python_results(pattern: &str, texts: &[String]) -> Option<Vec<String>> {
    let mut child = Command::new("python3")
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut input = format!("{pattern}\n");
    for t in texts {
        input.push_str(t);
        input.push('\0');
    }
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    assert!(out.status.success(), "python3 failed on {pattern:?}");
    Some(
        String::from_utf8(out.stdout)
            .ok()?
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// The same line for ferroban's pattern; `names` are Python's group names.
fn ferroban_result(p: &Pattern, names: &[String], text: &str) -> String {
    let Some(g) = p.search(text) else {
        return "-".into();
    };
    let span = |i: Option<usize>| {
        let (s, e) = i
            .and_then(|i| g.get(i))
            .map_or((-1, -1), |(s, e)| (s as i64, e as i64));
        format!("{s},{e}")
    };
    std::iter::once(span(Some(0)))
        .chain(names.iter().map(|n| span(p.group_index(n))))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn rewritten_lookaheads_match_as_python_does() {
    for (pattern, tokens) in CASES {
        let p = Pattern::new(pattern, Mode::SingleLine).unwrap();
        assert!(!p.is_backtracking(), "{pattern} still back-tracks");
        // as many tokens as keeps the texts to some tens of thousands
        let len = (1..=5)
            .take_while(|&n| tokens.len().pow(n) <= 20_000)
            .count();
        let texts = texts(tokens, len);
        let Some(expected) = python_results(pattern, &texts) else {
            println!("SKIPPED: python3 is not installed");
            return;
        };
        let mut names: Vec<String> = p
            .group_names()
            .iter()
            .filter(|n| !n.is_empty() && !ferroban_filter::unfold::is_internal_group(n))
            .cloned()
            .collect();
        names.sort();
        let mut matched = 0;
        for (text, want) in texts.iter().zip(&expected) {
            let got = ferroban_result(&p, &names, text);
            assert_eq!(&got, want, "{pattern} on {text:?}");
            matched += usize::from(got != "-");
        }
        assert!(matched > 0, "{pattern}: some text matches");
    }
}
