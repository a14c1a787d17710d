//! What filter and action files have in common: a `[Definition]` and an `[Init]`.
//!
//! Owns Fail2ban's rule for combining them: the `[Definition]` options, then the
//! `[Init]` parameters (and their `known/` copies) with the bracket options given
//! where the file is used (`sshd[mode=aggressive]`) taking precedence, then `<tag>`
//! substitution across all of them. Options with a conditional twin
//! (`addr_set?family=inet6`) stay unsubstituted where they are referenced, because
//! their value is chosen only when the definition is used.

use crate::{tags, Config, ConfigError};

/// The options of a `[Definition]`/`[Init]` file, combined and substituted.
///
/// `definition_keys` limits which `[Definition]` options are taken (`None`: all);
/// `keep_tags` names tags that must survive substitution (filled in at run time).
pub(crate) fn combined_options(
    cfg: &Config,
    bracket_options: &[(String, String)],
    definition_keys: Option<&[&str]>,
    keep_tags: &[&str],
) -> Result<Vec<(String, String)>, ConfigError> {
    let popts: Vec<(String, String)> = bracket_options
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    let mut combined: Vec<(String, String)> = Vec::new();
    if cfg.has_section("Definition") {
        let keys: Vec<String> = match definition_keys {
            Some(keys) => keys.iter().map(|k| k.to_string()).collect(),
            None => cfg.options("Definition", false),
        };
        for opt in keys {
            if popts.iter().any(|(k, _)| *k == opt) {
                continue;
            }
            if let Some(v) = cfg.get("Definition", &opt, &popts)? {
                combined.push((opt, v));
            }
        }
    }
    let mut init: Vec<(String, String)> = popts.clone();
    if cfg.has_section("Init") {
        for opt in cfg.options("Init", false) {
            let v = cfg.get("Init", &opt, &[])?.unwrap_or_default();
            if !opt.starts_with("known/") {
                init.push((format!("known/{opt}"), v.clone()));
            }
            if !init.iter().any(|(k, _)| *k == opt) {
                init.push((opt, v));
            }
        }
    }
    for (k, v) in init {
        match combined.iter_mut().find(|(ck, _)| *ck == k) {
            Some(slot) => slot.1 = v,
            None => combined.push((k, v)),
        }
    }
    let mut ignore: Vec<String> = combined
        .iter()
        .filter_map(|(k, _)| k.split_once('?').map(|(b, _)| b.to_string()))
        .collect();
    ignore.extend(keep_tags.iter().map(|t| t.to_string()));
    let lookup = |tag: &str| cfg.get_ex("Definition", tag, &popts).ok().flatten();
    tags::substitute(&mut combined, &ignore, &lookup).map_err(|mut e| {
        e.file = cfg.files().last().cloned().unwrap_or_default();
        e
    })?;
    Ok(combined)
}
