//! Generated junk through the config parser, the regex translator and the date
//! detector: errors are fine, panics are not. (The fuzz targets in fuzz/ explore
//! further; this keeps a deterministic slice of that in every test run.)

use ferroban_filter::date::DateDetector;
use ferroban_filter::pattern::{Mode, Pattern};
use jiff::tz::TimeZone;

mod common;
use common::Xorshift as Junk;

#[test]
fn config_parser_never_panics() {
    let alphabet = [
        "[",
        "]",
        "=",
        ":",
        " ",
        "\n",
        "\n  ",
        "#",
        ";",
        " ;",
        "%",
        "%(",
        ")s",
        "%%",
        "a",
        "b",
        "DEFAULT",
        "Definition",
        "INCLUDES",
        "before",
        "<",
        ">",
        "known/",
        "/",
        "\u{feff}",
        "é",
        "\t",
        "\r\n",
    ];
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    let dir = std::env::temp_dir().join(format!("ferroban-junk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("j.conf");
    let mut parsed = 0;
    for _ in 0..3000 {
        let text = junk.string(&alphabet, 60);
        if ferroban_config::ini::parse(&file, &text).is_ok() {
            parsed += 1;
        }
        std::fs::write(&file, &text).unwrap();
        if let Ok(cfg) = ferroban_config::Config::read_files(std::slice::from_ref(&file)) {
            for s in cfg.sections().map(str::to_string).collect::<Vec<_>>() {
                for k in cfg.options(&s, true) {
                    let _ = cfg.get(&s, &k, &[]);
                }
            }
        }
    }
    // the generator reaches past the first line
    assert!(parsed > 100, "only {parsed} of 3000 junk files parsed");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn regex_translation_never_panics() {
    let alphabet = [
        "(",
        ")",
        "(?P<a>",
        "(?P<b>",
        "(?P=a)",
        "(?(a)",
        "|",
        "(?=",
        "(?!",
        "(?<=",
        "(?<!",
        "(?:",
        "[",
        "]",
        "^",
        "-",
        "\\",
        "\\d",
        "\\1",
        "{",
        "}",
        "{2,",
        "3}",
        "*",
        "+",
        "?",
        ".",
        "$",
        "a",
        "<HOST>",
        "<F-USER>",
        "</F-USER>",
        "<SKIPLINES>",
        "(?i)",
        "(?x)",
        "#",
        " ",
        "é",
        "&&",
        "~~",
    ];
    let mut junk = Junk(0x2545_f491_4f6c_dd1d);
    let mut compiled = 0;
    for _ in 0..2000 {
        let re = ferroban_filter::tags::expand(&junk.string(&alphabet, 12), "yes");
        if let Ok(p) = Pattern::new(&re, Mode::SingleLine) {
            compiled += 1;
            let _ = p.search("a 1.2.3.4 b\n");
        }
    }
    assert!(
        compiled > 100,
        "only {compiled} of 2000 junk regexes compiled"
    );
}

#[test]
fn date_detection_never_panics() {
    let alphabet = [
        "2026",
        "-",
        "02",
        "23",
        " ",
        "T",
        ":",
        "11",
        "08",
        "21",
        ",",
        ".",
        "934",
        "+09:00",
        "Feb",
        "Mon",
        "[",
        "]",
        "/",
        "@4000000063",
        "1770000000",
        "é",
        "Z",
        "CET",
        "\t",
    ];
    let mut junk = Junk(0xdead_beef_cafe_f00d);
    let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
    let mut found = 0;
    for _ in 0..2000 {
        if d.find(&junk.string(&alphabet, 16), 1_800_000_000).is_some() {
            found += 1;
        }
    }
    assert!(found > 50, "only {found} of 2000 junk lines had a date");
    for _ in 0..60 {
        let pattern = junk.string(
            &[
                "%Y",
                "%m",
                "%d",
                "%H",
                "%",
                "{^LN-BEG}",
                "EPOCH",
                "{DATE}",
                "(",
                ")",
                "x",
            ],
            6,
        );
        if let Ok(mut d) = DateDetector::from_patterns(&pattern, TimeZone::UTC, 2026) {
            let _ = d.find("2026-02-23 11:08:21 x", 1_800_000_000);
        }
    }
}
