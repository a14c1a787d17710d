//! Reading one filter definition (`filter.d/NAME.conf` and its overlays).
//!
//! Owns Fail2ban's rules for what a filter's options are: the `[Definition]` values,
//! `[Init]` parameters that options given in brackets (`sshd[mode=aggressive]`)
//! override, `known/` copies, and `<tag>` substitution across all of them. The result
//! is plain text per option; compiling it is the filter engine's job.

use std::path::{Path, PathBuf};

use crate::ini::Origin;
use crate::{definition, Config, ConfigError};

/// The options a filter definition provides, as text.
#[derive(Debug, Clone, Default)]
pub struct FilterDefinition {
    /// The filter's name (file name without `.conf`).
    pub name: String,
    /// The files that were read.
    pub files: Vec<PathBuf>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub prefregex: Option<String>,
    pub maxlines: Option<String>,
    pub datepattern: Option<String>,
    pub journalmatch: Vec<String>,
    pub usedns: Option<String>,
    /// The options a jail's section (or its `[DEFAULT]`) set in place of the filter's,
    /// each with where: as in Fail2ban, a jail's `failregex`, `ignoreregex`,
    /// `prefregex`, `maxlines`, `datepattern`, `journalmatch` or `usedns` replaces the
    /// filter's (and may name it as `%(known/failregex)s`).
    pub set_in_jail: Vec<(String, Origin)>,
}

/// Where a regex of a filter is written (see [`FilterDefinition::locate_regex`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRegex {
    pub file: PathBuf,
    pub line: usize,
    /// The regex as written there, before `%(…)s` and tag substitution.
    pub text: String,
    /// Whether a jail's section set it (else the filter's files).
    pub in_jail: bool,
}

/// The `[Definition]` options of a filter, which a jail's section may also set.
pub const DEFINITION_OPTIONS: [&str; 7] = [
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

/// Split `name[opt=val, opt2="a,b"]` into the name and its options.
pub fn parse_name_with_options(spec: &str) -> Result<(String, Vec<(String, String)>), String> {
    let spec = spec.trim();
    let Some(open) = spec.find('[') else {
        return Ok((spec.to_string(), Vec::new()));
    };
    let name = spec[..open].trim().to_string();
    let body = spec[open + 1..]
        .trim_end()
        .strip_suffix(']')
        .ok_or_else(|| format!("missing ']' in {spec:?}"))?;
    let mut opts = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("expected option=value in {spec:?} at {rest:?}"))?;
        let key = rest[..eq].trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(format!("bad option name {key:?} in {spec:?}"));
        }
        rest = &rest[eq + 1..];
        let (value, after) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = rest[1..]
                    .find(q)
                    .ok_or_else(|| format!("unterminated quote in {spec:?}"))?;
                (rest[1..1 + end].to_string(), &rest[end + 2..])
            }
            _ => {
                let end = rest.find([',', ']']).unwrap_or(rest.len());
                (rest[..end].trim().to_string(), &rest[end..])
            }
        };
        // as Python's dict, a name given again replaces the earlier value
        opts.retain(|(k, _)| k != key);
        opts.push((key.to_string(), value));
        // options are separated by `,`, or by `][` between two bracket groups
        // (`%(default/action_)s[name=…]` in jail.conf's nsd or asterisk jails
        // becomes `iptables-multiport[port="53", …][name=nsd-tcp, …]`)
        let after = after.trim_start();
        rest = match after.strip_prefix(']') {
            Some(next) => next
                .trim_start()
                .strip_prefix('[')
                .ok_or_else(|| format!("expected `[` after `]` in {spec:?}"))?,
            None => after.strip_prefix(',').unwrap_or(after),
        }
        .trim_start();
    }
    Ok((name, opts))
}

impl FilterDefinition {
    /// Read filter `name` from `basedir/filter.d/` with bracket options `opts`.
    pub fn load(
        basedir: &Path,
        name: &str,
        opts: &[(String, String)],
    ) -> Result<FilterDefinition, ConfigError> {
        let dir = basedir.join("filter.d");
        let cfg = Config::read_named(&dir, name)?.ok_or_else(|| {
            ConfigError::at(
                &dir.join(format!("{name}.conf")),
                0,
                format!("filter {name:?} not found"),
                format!("create {name}.conf or {name}.local in {}", dir.display()),
            )
        })?;
        FilterDefinition::from_config(name, &cfg, opts)
    }

    /// Read a filter from an explicit file (and its `.local` and includes).
    pub fn load_file(
        path: &Path,
        opts: &[(String, String)],
    ) -> Result<FilterDefinition, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::at(
                path,
                0,
                "filter file not found",
                "give a filter name, a path to a .conf file or a regex",
            ));
        }
        let cfg = Config::read_files(&[path.to_path_buf()])?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        FilterDefinition::from_config(&name, &cfg, opts)
    }

    fn from_config(
        name: &str,
        cfg: &Config,
        opts: &[(String, String)],
    ) -> Result<FilterDefinition, ConfigError> {
        let combined = definition::combined_options(cfg, opts, Some(&DEFINITION_OPTIONS), &[])?;
        let mut filter = FilterDefinition {
            name: name.to_string(),
            files: cfg.files().to_vec(),
            ..Default::default()
        };
        for (option, value) in combined {
            filter.set(&option, &value);
        }
        Ok(filter)
    }

    /// Every option of filter `name` with bracket options `opts`, combined and
    /// substituted, each named `known/OPTION`: what a jail's section may refer to
    /// (`%(known/failregex)s`), as Fail2ban merges them into it.
    pub fn known_options(
        basedir: &Path,
        name: &str,
        opts: &[(String, String)],
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let dir = basedir.join("filter.d");
        let Some(cfg) = Config::read_named(&dir, name)? else {
            return Ok(Vec::new());
        };
        // every option the filter's files give, their [DEFAULT]s' included
        let keys = cfg.options("Definition", true);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let combined = definition::combined_options(&cfg, opts, Some(&keys), &[])?;
        Ok(combined
            .into_iter()
            .filter(|(k, _)| !k.starts_with("known/"))
            .map(|(k, v)| (format!("known/{k}"), v))
            .collect())
    }

    /// Set `option` (one of [`DEFINITION_OPTIONS`]; others are ignored) to `value` as
    /// written in a configuration file: multi-line ones one entry per non-empty line,
    /// an empty value unsets.
    pub fn set(&mut self, option: &str, value: &str) {
        let lines = || {
            value
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
        };
        let single = || Some(value.to_string()).filter(|v| !v.is_empty());
        match option {
            "failregex" => self.failregex = lines().collect(),
            "ignoreregex" => self.ignoreregex = lines().collect(),
            "journalmatch" => self.journalmatch = lines().collect(),
            "prefregex" => self.prefregex = single(),
            "maxlines" => self.maxlines = single(),
            "datepattern" => self.datepattern = single(),
            "usedns" => self.usedns = single(),
            _ => {}
        }
    }

    /// Where the `index`-th (0-based) regex of `option` (`failregex`, `ignoreregex`)
    /// is written: in the jail's section when the jail set the option, else in the
    /// filter's files. `None` when it cannot be told.
    pub fn locate_regex(&self, option: &str, index: usize) -> Option<WrittenRegex> {
        if let Some((_, origin)) = self.set_in_jail.iter().find(|(o, _)| o == option) {
            let text = std::fs::read_to_string(&origin.file).ok()?;
            let written: Vec<(usize, String)> = regexes_written_from(&text, origin.line).collect();
            let total = match option {
                "failregex" => self.failregex.len(),
                _ => self.ignoreregex.len(),
            };
            let (line, written) = written_regex(written, total, index)?;
            return Some(WrittenRegex {
                file: origin.file.clone(),
                line,
                text: written,
                in_jail: true,
            });
        }
        let (file, line, text) = locate_regex(&self.files, option, index)?;
        Some(WrittenRegex {
            file,
            line,
            text,
            in_jail: false,
        })
    }
}

/// Where the `index`-th (0-based) regex of option `option` (`failregex`,
/// `ignoreregex`) of a filter read from `files` is written: the file, its line and
/// the regex as written there (before `%(…)s` and tag substitution). The last file
/// that sets the option wins, as in reading. `None` when it cannot be told (the
/// option is built from another one).
fn locate_regex(files: &[PathBuf], option: &str, index: usize) -> Option<(PathBuf, usize, String)> {
    files.iter().rev().find_map(|file| {
        let text = std::fs::read_to_string(file).ok()?;
        let ini = crate::ini::parse(file, &text).ok()?;
        let line = ini.section("Definition")?.get(option)?.origin.line;
        let (line, written) = regexes_written_from(&text, line).nth(index)?;
        Some((file.clone(), line, written))
    })
}

/// Which of the lines `written` of an option that reads as `total` regexes holds
/// regex `index`: one regex a line, but a line with a reference (`%(known/failregex)s`,
/// the filter's own) may stand for several, so the lines after the last such one are
/// counted from the end. `None` for a regex a reference stands for.
fn written_regex(
    mut written: Vec<(usize, String)>,
    total: usize,
    index: usize,
) -> Option<(usize, String)> {
    let plain_tail = match written.iter().rposition(|(_, text)| text.contains("%(")) {
        None if written.len() == total => return written.into_iter().nth(index),
        None => return None,
        Some(last) => written.len() - last - 1,
    };
    let from_end = total.checked_sub(index)?;
    if from_end == 0 || from_end > plain_tail {
        return None;
    }
    let at = written.len() - from_end;
    Some(written.swap_remove(at))
}

/// The regexes of a multi-line option whose first line is line `line` (1-based) of
/// `text`, each with its line: the value after `=` (when not empty), then every
/// indented line up to the next option, skipping blank and comment lines.
fn regexes_written_from(text: &str, line: usize) -> impl Iterator<Item = (usize, String)> + '_ {
    let mut lines = text.lines().enumerate().skip(line.saturating_sub(1));
    let first = lines.next().and_then(|(n, raw)| {
        let value = raw.split_once(['=', ':']).map_or("", |(_, v)| v).trim();
        (!value.is_empty()).then(|| (n + 1, value.to_string()))
    });
    let rest = lines
        .filter(|(_, raw)| {
            let trimmed = raw.trim();
            !(trimmed.is_empty() || trimmed.starts_with(['#', ';']))
        })
        .take_while(|(_, raw)| raw.starts_with([' ', '\t']))
        .map(|(n, raw)| (n + 1, raw.trim().to_string()));
    first.into_iter().chain(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regex_is_found_where_it_is_written() {
        let d = std::env::temp_dir().join(format!("ferroban-locate-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let conf = d.join("f.conf");
        let local = d.join("f.local");
        std::fs::write(&conf, "[Definition]\nfailregex = ^a <HOST>$\n").unwrap();
        std::fs::write(
            &local,
            "[Definition]\n# mine\nfailregex = ^ok <HOST>$\n\n  # old one\n    ^bad <HOST> (x\nignoreregex =\n",
        )
        .unwrap();
        let files = [conf.clone(), local.clone()];
        assert_eq!(
            locate_regex(&files, "failregex", 1),
            Some((local.clone(), 6, "^bad <HOST> (x".to_string()))
        );
        assert_eq!(locate_regex(&files, "failregex", 0).unwrap().1, 3);
        assert_eq!(locate_regex(&files[..1], "failregex", 0).unwrap().1, 2);
        assert_eq!(locate_regex(&files, "failregex", 2), None);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_regex_after_the_filters_own_is_found_where_the_jail_writes_it() {
        let lines = |texts: &[&str]| -> Vec<(usize, String)> {
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| (i + 3, t.to_string()))
                .collect()
        };
        // `%(known/failregex)s` stands for the filter's 22, then the jail's own two
        let written = lines(&["%(known/failregex)s", "^one <HOST>$", "^Bad (login <HOST>$"]);
        assert_eq!(
            written_regex(written.clone(), 24, 23),
            Some((5, "^Bad (login <HOST>$".to_string()))
        );
        assert_eq!(written_regex(written.clone(), 24, 22).map(|w| w.0), Some(4));
        assert_eq!(
            written_regex(written.clone(), 24, 5),
            None,
            "one of the filter's"
        );
        assert_eq!(written_regex(written, 24, 24), None);
        // without a reference: one regex a line
        let plain = lines(&["^a <HOST>$", "^b <HOST>$"]);
        assert_eq!(written_regex(plain.clone(), 2, 1).map(|w| w.0), Some(4));
        assert_eq!(written_regex(plain, 3, 0), None, "lines that do not add up");
    }

    #[test]
    fn names_with_options() {
        let (n, o) = parse_name_with_options(r#"sshd[mode=aggressive, port="22,2222"]"#).unwrap();
        assert_eq!(n, "sshd");
        assert_eq!(
            o,
            vec![
                ("mode".into(), "aggressive".into()),
                ("port".into(), "22,2222".into())
            ]
        );
        assert_eq!(parse_name_with_options("apache-auth").unwrap().1, vec![]);
        assert!(parse_name_with_options("x[a=1").is_err());
        // jail.conf's `%(default/action_)s[name=%(__name__)s-tcp, …]`: two groups,
        // the later value of a name replacing the earlier (nsd, asterisk, murmur…)
        let (n, o) = parse_name_with_options(
            r#"iptables-multiport[port="0:65535", protocol="tcp", chain="<known/chain>"][name=cs-tcp, port="27030,27031", protocol="tcp"]"#,
        )
        .unwrap();
        assert_eq!(n, "iptables-multiport");
        let o: Vec<(&str, &str)> = o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            o,
            [
                ("chain", "<known/chain>"),
                ("name", "cs-tcp"),
                ("port", "27030,27031"),
                ("protocol", "tcp")
            ]
        );
        let (_, o) = parse_name_with_options("a[x=1] [y=2]").unwrap();
        assert_eq!(o.len(), 2);
        assert!(parse_name_with_options("a[x=1]y=2]").is_err());
    }
}
