//! The two-pass capture search (`twopass.rs`) against the `regex` crate's own
//! capture search, on every linear regex of every stock Fail2ban filter and the lines
//! of Fail2ban's own sample log for that filter: the same groups, span for span.
//! Reads the installed Fail2ban package's filters and samples at test time.

use std::path::Path;

use ferroban_config::FilterDefinition;
use ferroban_filter::date::DateDetector;
use ferroban_filter::pattern::{Mode, Pattern};
use ferroban_filter::tags;
use ferroban_filter::twopass::TwoPass;

const FILTERS: &str = "/etc/fail2ban/filter.d";
const SAMPLES: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

#[test]
fn two_pass_captures_are_the_back_trackers() {
    if !Path::new(FILTERS).is_dir() || !Path::new(SAMPLES).is_dir() {
        println!("SKIPPED: Fail2ban's filters or sample logs are not installed");
        return;
    }
    let mut compared = 0;
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
            let Ok(regex) = regex::bytes::RegexBuilder::new(source)
                .unicode(false)
                .build()
            else {
                continue;
            };
            let two_pass = TwoPass::new(source).expect("a linear pattern compiles for two passes");
            for hay in &texts {
                let Some(caps) = regex.captures(hay.as_bytes()) else {
                    continue;
                };
                let whole = caps.get(0).unwrap();
                let expected: Vec<_> = caps
                    .iter()
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .collect();
                let found = two_pass.captures(hay.as_bytes(), whole.start(), whole.end());
                assert_eq!(found, Some(expected), "{name}: {source}\non {hay}");
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "only {compared} matches compared");
    println!("{compared} matches compared");
}
