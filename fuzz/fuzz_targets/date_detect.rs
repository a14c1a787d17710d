//! Any line through the default date templates, and any text as a date pattern.
#![no_main]
use std::sync::{Mutex, OnceLock};

use ferroban_filter::date::DateDetector;
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;

/// Built once: compiling the default templates costs far more than one input.
fn defaults() -> &'static Mutex<DateDetector> {
    static D: OnceLock<Mutex<DateDetector>> = OnceLock::new();
    D.get_or_init(|| Mutex::new(DateDetector::with_defaults(TimeZone::UTC, 2026)))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mut d) = defaults().lock() {
        for line in text.lines() {
            let _ = d.find(line, 1_800_000_000);
        }
    }
    let first = text.lines().next().unwrap_or("");
    if !first.contains("{^LN-BEG}") && !first.contains("{DEFAULT}") && !first.to_uppercase().contains("{DATE}") {
        if let Ok(mut d) = DateDetector::from_patterns(first, TimeZone::UTC, 2026) {
            let _ = d.find(text, 1_800_000_000);
        }
    }
});
