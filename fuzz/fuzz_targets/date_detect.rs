//! Any line through the default date templates, and any text as a date pattern.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ferroban_filter::date::DateDetector;
use jiff::tz::TimeZone;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut d = DateDetector::with_defaults(TimeZone::UTC, 2026);
    for line in text.lines() {
        let _ = d.find(line, 1_800_000_000);
    }
    if let Ok(mut d) = DateDetector::from_patterns(text.lines().next().unwrap_or(""), TimeZone::UTC, 2026) {
        let _ = d.find(text, 1_800_000_000);
    }
});
