//! Any text as a Python regex with Fail2ban tags: translating and compiling must never
//! panic, and a compiled pattern must search its own source without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ferroban_filter::pattern::{Mode, Pattern};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let expanded = ferroban_filter::tags::expand(text, "yes");
    for mode in [Mode::SingleLine, Mode::MultiLine, Mode::OverMultiLine] {
        if let Ok(p) = Pattern::new(&expanded, mode) {
            let _ = p.search(text);
        }
    }
});
