//! Reading one filter definition (`filter.d/NAME.conf` and its overlays).
//!
//! Owns Fail2ban's rules for what a filter's options are: the `[Definition]` values,
//! `[Init]` parameters that options given in brackets (`sshd[mode=aggressive]`)
//! override, `known/` copies, and `<tag>` substitution across all of them. The result
//! is plain text per option; compiling it is the filter engine's job.

use std::path::{Path, PathBuf};

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
}

const DEFINITION_OPTIONS: [&str; 7] = [
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
                let end = rest.find(',').unwrap_or(rest.len());
                (rest[..end].trim().to_string(), &rest[end..])
            }
        };
        opts.push((key.to_string(), value));
        let after = after.trim_start();
        rest = after.strip_prefix(',').unwrap_or(after).trim_start();
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
        let get = |k: &str| {
            combined
                .iter()
                .find(|(ck, _)| ck == k)
                .map(|(_, v)| v.clone())
        };
        let lines = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| {
                    v.split('\n')
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(FilterDefinition {
            name: name.to_string(),
            files: cfg.files().to_vec(),
            failregex: lines("failregex"),
            ignoreregex: lines("ignoreregex"),
            prefregex: get("prefregex").filter(|v| !v.is_empty()),
            maxlines: get("maxlines").filter(|v| !v.is_empty()),
            datepattern: get("datepattern").filter(|v| !v.is_empty()),
            journalmatch: lines("journalmatch"),
            usedns: get("usedns").filter(|v| !v.is_empty()),
        })
    }
}

/// Where the `index`-th (0-based) regex of option `option` (`failregex`,
/// `ignoreregex`) of a filter read from `files` is written: the file, its line and
/// the regex as written there (before `%(…)s` and tag substitution). The last file
/// that sets the option wins, as in reading. `None` when it cannot be told (the
/// option is built from another one).
pub fn locate_regex(
    files: &[PathBuf],
    option: &str,
    index: usize,
) -> Option<(PathBuf, usize, String)> {
    files.iter().rev().find_map(|file| {
        let text = std::fs::read_to_string(file).ok()?;
        let ini = crate::ini::parse(file, &text).ok()?;
        let line = ini.section("Definition")?.get(option)?.origin.line;
        let mut regexes = Vec::new();
        for (n, raw) in text.lines().enumerate().skip(line - 1) {
            let trimmed = raw.trim();
            let first = n + 1 == line;
            if first {
                let value = raw.split_once(['=', ':']).map_or("", |(_, v)| v).trim();
                if !value.is_empty() {
                    regexes.push((n + 1, value.to_string()));
                }
            } else if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                continue;
            } else if raw.starts_with([' ', '\t']) {
                regexes.push((n + 1, trimmed.to_string()));
            } else {
                break;
            }
        }
        let (line, written) = regexes.into_iter().nth(index)?;
        Some((file.clone(), line, written))
    })
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
    }
}
