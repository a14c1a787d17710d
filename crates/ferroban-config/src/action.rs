//! Reading one action definition (`action.d/NAME.conf` and its overlays).
//!
//! Owns what Fail2ban's action files mean as configuration: the operations
//! (`actionstart`, `actionban`, …), the `[Init]` parameters that `name[param=value]`
//! in a jail overrides, and the `[Init?family=inet6]` variants. Tags that are only
//! known when an address is banned (`<ip>`, `<matches>`, …) are left in place; filling
//! them in and running commands is the actions crate's job.

use std::path::{Path, PathBuf};

use crate::{definition, Config, ConfigError};

/// The operations an action file may define.
pub const OPERATIONS: [&str; 10] = [
    "actionstart",
    "actionstop",
    "actioncheck",
    "actionban",
    "actionunban",
    "actionflush",
    "actionrepair",
    "actionreload",
    "actionprolong",
    "actionreban",
];

/// Tags that are filled in per ban and must survive reading.
const RUN_TIME_TAGS: [&str; 5] = [
    "matches",
    "ipmatches",
    "ipjailmatches",
    "timeout",
    "bantime",
];

/// The name of the action that only logs what it would do.
pub const DRY_RUN: &str = "dry-run";

/// Firewall actions ferroban implements natively (batched, without a process per
/// address); an action file of the same name only supplies their parameters.
pub const NATIVE_FIREWALLS: [&str; 3] = ["nftables", "nftables-multiport", "nftables-allports"];

/// One action of a jail, as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionDefinition {
    /// The action's name in its jail (the file name, told apart when one file is used
    /// twice with different `name=` parameters, as Fail2ban does).
    pub name: String,
    /// The file name in `action.d` (without `.conf`), or [`DRY_RUN`].
    pub file: String,
    /// The files that were read.
    pub files: Vec<PathBuf>,
    /// Every option, substituted as far as reading allows. Conditional variants are
    /// stored as `key?family=inet6`.
    pub options: Vec<(String, String)>,
    /// The options Fail2ban sets on its action object, where its `get JAIL
    /// actionproperties` finds them: the `[Init]` ones and the jail's bracket ones
    /// (not their `known/` copies), sorted. The `[Definition]` ones are not.
    pub init_options: Vec<String>,
}

/// The names of [`ActionDefinition::init_options`]: `cfg`'s `[Init]` options and
/// the bracket options `opts`, sorted, each once.
fn init_options(cfg: Option<&Config>, opts: &[(String, String)]) -> Vec<String> {
    let init = cfg
        .filter(|cfg| cfg.has_section("Init"))
        .map(|cfg| cfg.options("Init", false))
        .unwrap_or_default();
    let mut names: Vec<String> = init
        .into_iter()
        .chain(opts.iter().map(|(k, _)| k.to_lowercase()))
        .filter(|k| !k.starts_with("known/"))
        .collect();
    names.sort();
    names.dedup();
    names
}

impl ActionDefinition {
    /// Read action `file` from `basedir/action.d/` for jail `jail`, with the bracket
    /// options `opts` given in the jail's `action =` line.
    pub fn load(
        basedir: &Path,
        file: &str,
        jail: &str,
        opts: &[(String, String)],
    ) -> Result<ActionDefinition, ConfigError> {
        let mut opts = opts.to_vec();
        let name_opt = opts
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone());
        let name = match name_opt {
            Some(n) => n,
            None => {
                opts.push(("name".into(), jail.to_string()));
                jail.to_string()
            }
        };
        let actname = match opts.iter().find(|(k, _)| k == "actname") {
            Some((_, v)) => v.clone(),
            None => {
                let actname = match name.strip_prefix(jail) {
                    _ if name == jail => file.to_string(),
                    Some(rest) => format!("{file}{rest}"),
                    None => format!("{file}-{name}"),
                };
                // as Fail2ban, the name is also the `<actname>` tag (dummy.conf logs it)
                opts.push(("actname".into(), actname.clone()));
                actname
            }
        };
        let dir = basedir.join("action.d");
        if let Some(module) = file.strip_suffix(".py") {
            return Err(ConfigError::at(
                &dir.join(file),
                0,
                format!("jail [{jail}] uses {file}, one of Fail2ban's Python actions, which ferroban does not run"),
                format!(
                    "use a command action instead (for mail, sendmail-whois or sendmail-whois-lines; \
                     write your own action.d/{module}.conf for anything else)"
                ),
            ));
        }
        let cfg = match Config::read_named(&dir, file)? {
            Some(cfg) => cfg,
            None if file == DRY_RUN || NATIVE_FIREWALLS.contains(&file) => {
                return Ok(ActionDefinition {
                    name: actname,
                    file: file.to_string(),
                    files: Vec::new(),
                    init_options: init_options(None, &opts),
                    options: opts,
                })
            }
            None => {
                return Err(ConfigError::at(
                    &dir.join(format!("{file}.conf")),
                    0,
                    format!("action {file:?} (used by jail [{jail}]) not found"),
                    format!(
                        "create {file}.conf in {}, or use `{DRY_RUN}` to only log bans",
                        dir.display()
                    ),
                ))
            }
        };
        let options = definition::combined_options(&cfg, &opts, None, &RUN_TIME_TAGS)?;
        Ok(ActionDefinition {
            name: actname,
            file: file.to_string(),
            files: cfg.files().to_vec(),
            init_options: init_options(Some(&cfg), &opts),
            options,
        })
    }

    /// The built-in action that only logs. A `dry-run.conf` (ferroban ships one to
    /// document it) cannot turn it into a command action.
    pub fn is_dry_run(&self) -> bool {
        self.file == DRY_RUN
    }

    /// An option's value, for `family` when the action has a variant for it.
    pub fn get(&self, key: &str, family: Option<&str>) -> Option<&str> {
        if let Some(f) = family {
            let cond = format!("{key}?family={f}");
            if let Some((_, v)) = self.options.iter().find(|(k, _)| *k == cond) {
                return Some(v);
            }
        }
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the action's rules match the jail's `port`: a native firewall, or
    /// a command that writes `<port>` (substituted by now, as far as reading
    /// allows: so its value, where it is one).
    pub fn uses_port(&self) -> bool {
        let value = self.get("port", None).filter(|v| !v.trim().is_empty());
        NATIVE_FIREWALLS.contains(&self.file.as_str())
            || self.options.iter().any(|(k, v)| {
                k != "port" && (v.contains("<port>") || value.is_some_and(|p| v.contains(p)))
            })
    }

    /// Whether any option depends on the address family (then `actionstart` runs per
    /// family when the first address of that family is banned, as in Fail2ban).
    pub fn has_family_variants(&self) -> bool {
        self.options.iter().any(|(k, _)| k.contains("?family="))
    }
}

/// Why `value` is not a list of ports a firewall takes, if it is not: each item,
/// between commas, a port number, a range (`1000:2000` or `1000-2000`) or a
/// service name of `/etc/services` (`ssh`, `https`), as nftables and iptables
/// resolve them. A list they refuse leaves the jail's rule out of the firewall,
/// while its bans still fill the set. Names are not checked where
/// `/etc/services` cannot be read.
pub fn port_list_error(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return Some("the port list is empty".into());
    }
    value
        .split(',')
        .map(str::trim)
        .find_map(|item| port_item_error(item).map(|why| format!("{item:?} {why}")))
}

fn port_item_error(item: &str) -> Option<&'static str> {
    let number_ok = |n: &str| n.parse::<u16>().is_ok();
    if item.is_empty() {
        return Some("is empty (two commas in a row?)");
    }
    if item.bytes().all(|b| b.is_ascii_digit()) {
        return (!number_ok(item)).then_some("is above 65535");
    }
    if let Some((low, high)) = item.split_once([':', '-']).filter(|(l, h)| {
        !l.is_empty() && !h.is_empty() && (l.bytes().chain(h.bytes())).all(|b| b.is_ascii_digit())
    }) {
        return match (low.parse::<u16>(), high.parse::<u16>()) {
            (Ok(l), Ok(h)) if l <= h => None,
            (Ok(_), Ok(_)) => Some("is a range that ends before it starts"),
            _ => Some("is a range beyond 65535"),
        };
    }
    let name_like = item.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && item
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
    if !name_like {
        return Some("is not a port number, a range or a service name");
    }
    match service_names() {
        Some(names) if !names.contains(item) => Some("is not a service name of /etc/services"),
        _ => None,
    }
}

/// The service names and aliases of `/etc/services`, read once; `None` when it
/// cannot be read.
fn service_names() -> Option<&'static std::collections::HashSet<String>> {
    static NAMES: std::sync::OnceLock<Option<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            let text = std::fs::read_to_string("/etc/services").ok()?;
            let names = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or(""))
                .flat_map(|l| {
                    let mut words = l.split_whitespace();
                    let name = words.next();
                    let _port = words.next();
                    name.into_iter().chain(words).map(str::to_string)
                })
                .collect();
            Some(names)
        })
        .as_ref()
}

/// Split a multi-line `action =` value into `name[options]` items.
pub fn split_actions(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in value.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if depth > 0 => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, c) if c.is_whitespace() && depth == 0 => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists_are_those_a_firewall_takes() {
        for good in [
            "ssh",
            "22",
            "ssh,2222",
            " 80, 443 ",
            "0:65535",
            "1000-2000",
            "ftp,ftp-data,ftps",
        ] {
            assert_eq!(port_list_error(good), None, "{good}");
        }
        let bad = [
            (
                "22 2222",
                "\"22 2222\" is not a port number, a range or a service name",
            ),
            ("ssh,22e2", "\"22e2\" is not a port number"),
            ("70000", "\"70000\" is above 65535"),
            (
                "2000:1000",
                "\"2000:1000\" is a range that ends before it starts",
            ),
            ("1:99999", "\"1:99999\" is a range beyond 65535"),
            ("ssh,,22", "\"\" is empty"),
            ("", "the port list is empty"),
        ];
        for (value, why) in bad {
            let said = port_list_error(value).unwrap_or_default();
            assert!(said.starts_with(why), "{value:?}: {said}");
        }
        if std::path::Path::new("/etc/services").is_file() {
            assert_eq!(
                port_list_error("ssh,sshh").as_deref(),
                Some("\"sshh\" is not a service name of /etc/services")
            );
        }
    }

    #[test]
    fn actions_split_outside_brackets() {
        let v = split_actions(
            "nftables[port=\"http, https\", protocol=tcp]\n   sendmail-whois[dest=\"a b\"]  dry-run",
        );
        assert_eq!(
            v,
            vec![
                "nftables[port=\"http, https\", protocol=tcp]",
                "sendmail-whois[dest=\"a b\"]",
                "dry-run"
            ]
        );
    }

    #[test]
    fn family_variants_and_run_time_tags() {
        let dir = std::env::temp_dir().join(format!("ferroban-action-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("action.d")).unwrap();
        std::fs::write(
            dir.join("action.d/t.conf"),
            "[Definition]\nactionban = add <addr_set> <ip> <matches> port <port>\n[Init]\nport = ssh\naddr_set = v4-<name>\nchain = INPUT\n[Init?family=inet6]\naddr_set = v6-<name>\n",
        )
        .unwrap();
        let a = ActionDefinition::load(
            &dir,
            "t",
            "web",
            &[
                ("port".into(), "http".into()),
                ("chain".into(), "<known/chain>-x".into()),
            ],
        )
        .unwrap();
        assert_eq!(a.name, "t");
        assert_eq!(
            a.get("actionban", None),
            Some("add <addr_set> <ip> <matches> port http")
        );
        assert_eq!(
            a.get("addr_set", None),
            Some("v4-<name>"),
            "resolved when used"
        );
        assert_eq!(a.get("addr_set", Some("inet6")), Some("v6-web"));
        assert_eq!(a.get("chain", None), Some("INPUT-x"));
        assert!(a.has_family_variants());
        let named =
            ActionDefinition::load(&dir, "t", "web", &[("name".into(), "web-v2".into())]).unwrap();
        assert_eq!(named.name, "t-v2");
        // `<actname>` is the action's name, as Fail2ban fills it in
        assert_eq!(a.get("actname", None), Some("t"));
        assert_eq!(named.get("actname", None), Some("t-v2"));
        let given = ActionDefinition::load(&dir, "t", "web", &[("actname".into(), "n".into())]);
        assert_eq!(given.unwrap().get("actname", None), Some("n"));
        let missing = ActionDefinition::load(&dir, "nope", "web", &[]).unwrap_err();
        assert!(missing.to_string().contains("not found"), "{missing}");
        assert!(ActionDefinition::load(&dir, DRY_RUN, "web", &[])
            .unwrap()
            .is_dry_run());
        let python = ActionDefinition::load(&dir, "smtp.py", "web", &[]).unwrap_err();
        assert!(python.to_string().contains("Python actions"), "{python}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
