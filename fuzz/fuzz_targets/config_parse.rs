//! Any bytes as a configuration file: parsing and interpolating must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(ini) = ferroban_config::ini::parse(std::path::Path::new("fuzz.conf"), text) else { return };
    let dir = std::env::temp_dir().join(format!("ferroban-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("f.conf");
    if std::fs::write(&file, text).is_err() {
        return;
    }
    if let Ok(cfg) = ferroban_config::Config::read_files(&[file]) {
        for (name, section) in &ini.sections {
            for key in section.keys() {
                let _ = cfg.get(name, key, &[]);
            }
        }
    }
});
