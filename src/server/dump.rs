//! `-d` / `--dp` of `fail2ban-server` and `fail2ban-client`: the configuration as
//! the server reads it, one setting per line in Fail2ban's command words
//! (`['set', 'sshd', 'maxretry', 5]`), for debugging a configuration.
//!
//! Owns only the rendering; reading and checking are `check_config`'s.

use std::path::Path;

use anyhow::Result;
use ferroban_cli::fail2ban_protocol::from_json;
use ferroban_cli::python;
use ferroban_config::jail::Backend;
use serde_json::{json, Value};

/// The lines of the dump for the configuration in `confdir`.
pub fn dump_config(confdir: &Path) -> Result<Vec<String>> {
    let settings = ferroban_config::settings::ServerSettings::load(confdir)?;
    let mut out: Vec<Value> = vec![
        json!(["set", "loglevel", settings.loglevel]),
        json!([
            "set",
            "logtarget",
            super::log::target_text(&settings.logtarget)
        ]),
        json!([
            "set",
            "dbfile",
            settings
                .dbfile
                .as_ref()
                .map_or(":memory:".to_string(), |p| p.display().to_string())
        ]),
    ];
    for jail in super::check_config(confdir)? {
        let c = &jail.config;
        let backend = match c.backend {
            Backend::Inotify => "auto",
            Backend::Polling => "polling",
            Backend::Systemd { .. } => "systemd",
        };
        out.push(json!(["add", c.name, backend]));
        // a journal jail reads no file (its logpath is not used), as Fail2ban dumps it
        let logpaths = match c.backend {
            Backend::Systemd { .. } => &[][..],
            _ => &c.logpaths[..],
        };
        for p in logpaths {
            out.push(json!([
                "set",
                c.name,
                "addlogpath",
                p.display().to_string()
            ]));
        }
        out.push(json!(["set", c.name, "usedns", c.usedns]));
        let filter = &c.filter;
        // in Fail2ban's order; maxlines a count, as Fail2ban reads it (`1`, not `'1'`)
        let maxlines = filter.maxlines.as_ref().map(|lines| {
            lines
                .trim()
                .parse::<i64>()
                .map_or_else(|_| json!(lines), |n| json!(n))
        });
        let set = [
            ("prefregex", filter.prefregex.as_ref().map(|v| json!(v))),
            ("maxlines", maxlines),
            ("datepattern", filter.datepattern.as_ref().map(|v| json!(v))),
        ];
        for (option, value) in set {
            if let Some(value) = value {
                out.push(json!(["set", c.name, option, value]));
            }
        }
        for m in &filter.journalmatch {
            // one word each, as Fail2ban splits them
            let mut words = vec!["set", &c.name, "addjournalmatch"];
            words.extend(m.split_whitespace());
            out.push(json!(words));
        }
        for r in &c.filter.failregex {
            out.push(json!(["set", c.name, "addfailregex", r]));
        }
        for r in &c.filter.ignoreregex {
            out.push(json!(["set", c.name, "addignoreregex", r]));
        }
        out.push(json!(["set", c.name, "maxretry", c.maxretry]));
        out.push(json!(["set", c.name, "findtime", c.findtime as i64]));
        out.push(json!(["set", c.name, "bantime", c.bantime as i64]));
        // as Fail2ban's reader gives them: each one set, the two switches as booleans
        for option in ferroban_config::jail::bantime_options() {
            let Some(text) = c.options.get(option) else {
                continue;
            };
            let value = match option {
                "bantime.increment" | "bantime.overalljails" => {
                    json!(ferroban_config::parse_switch(text).unwrap_or(false))
                }
                _ => json!(text),
            };
            out.push(json!(["set", c.name, option, value]));
        }
        for ip in &c.ignoreip {
            out.push(json!(["set", c.name, "addignoreip", ip]));
        }
        for a in &c.actions {
            out.push(json!(["set", c.name, "addaction", a.name]));
        }
        out.push(json!(["start", c.name]));
    }
    // Python's text of each command's words, as Fail2ban prints them
    Ok(out.iter().map(|v| python::str(&from_json(v))).collect())
}
