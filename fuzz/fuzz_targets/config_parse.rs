//! Any bytes as a configuration file: parsing and interpolating must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(ini) = ferroban_config::ini::parse(std::path::Path::new("fuzz.conf"), text) else { return };
    // The reader takes files: one in a directory of this process, removed again
    // at once, so that a run of millions of inputs leaves nothing in /tmp.
    let dir = std::env::temp_dir().join(format!("ferroban-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("f.conf");
    if std::fs::write(&file, text).is_ok() {
        if let Ok(cfg) = ferroban_config::Config::read_files(&[file]) {
            for (name, section) in &ini.sections {
                for key in section.keys() {
                    let _ = cfg.get(name, key, &[]);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
});
