//! Reader for Fail2ban's configuration dialect.
//!
//! Owns everything between files on disk and option values: the INI grammar
//! ([`ini`]), the set of files one name stands for (`name.conf`, `name.d/*.conf`,
//! `name.local`, `name.d/*.local`, `[INCLUDES] before/after`), how they overlay each
//! other (with `%(known/…)s` keeping the overridden values), `%(name)s` and
//! `%(section/name)s` interpolation ([`Config::get`]), `<tag>` substitution
//! ([`tags`]) and the reading of one filter definition ([`filter`]). It does not
//! compile regexes or know what options mean.
//!
//! Every error names the file and line and says what to do.

pub mod action;
mod definition;
pub mod expr;
pub mod filter;
pub mod fleet;
pub mod ignoreip;
pub mod ini;
pub mod jail;
pub mod misspelt;
pub mod settings;
pub mod suggest;
pub mod tags;

use std::path::{Path, PathBuf};

pub use filter::{parse_name_with_options, FilterDefinition};
pub use ini::{Entry, IniFile, Origin, Section};

/// A warning when `file`, which holds a secret (`what`: the dashboard's token, the
/// fleet's password), can be read by other users than its owner: whoever reads the
/// dashboard's token can unban, whoever reads the fleet's password can publish bans
/// in this host's name. It says what to do: `chmod 600` the file, or, for
/// `ferroban.local` and its kin, move the secret to a `.local` file of its own in
/// `ferroban.d/`, which [`Config::read_named`] reads too.
pub fn secret_file_warning(what: &str, file: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        let own_file = own_secret_file(file).map_or_else(String::new, |f| {
            format!(
                ", or move its line, under its section header, to a file of its own of \
                 mode 600 such as {}",
                f.display()
            )
        });
        format!(
            "{what} is in {}, which other users can read (mode {:o}): chmod 600 it{own_file}",
            file.display(),
            mode & 0o777
        )
    })
}

/// Where a secret set in `file` (`DIR/NAME.local` or `DIR/NAME.conf`) can live in a
/// file of its own that is read with it: `DIR/NAME.d/secret.local`. `None` for a
/// file that is in such a directory already.
fn own_secret_file(file: &Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    if dir.extension().is_some_and(|e| e == "d") {
        return None;
    }
    let stem = file.file_stem()?.to_str()?;
    Some(dir.join(format!("{stem}.d")).join("secret.local"))
}

/// A configuration error: where, what, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}{}", file.display(), if *line > 0 { format!(":{line}") } else { String::new() }, if hint.is_empty() { String::new() } else { format!("\n  hint: {hint}") })]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, 0 when the error is about the file as a whole.
    pub line: usize,
    pub message: String,
    pub hint: String,
}

impl ConfigError {
    pub fn at(
        file: &Path,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// A yes/no value as Fail2ban writes them (`true`, `on`, `1`, …); `None` when it is
/// neither.
pub fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

/// The most nested `%(…)s` references followed.
const MAX_INTERPOLATION_DEPTH: usize = 10;
/// Interpolated values larger than this are refused (a value that doubles at each
/// level of nesting would otherwise exhaust memory).
const MAX_VALUE_LEN: usize = 1 << 20;

/// Several files read as one configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    defaults: Section,
    sections: Vec<(String, Section)>,
    files: Vec<PathBuf>,
}

fn read_file(path: &Path) -> Result<Option<IniFile>, ConfigError> {
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigError::at(
            path,
            0,
            format!("cannot read: {e}"),
            "check the file's permissions",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ConfigError::at(
            path,
            line,
            "the file is not valid UTF-8",
            "save the file as UTF-8",
        )
    })?;
    ini::parse(path, &text).map(Some)
}

/// `file`, then its `.local` twin if that exists and is not listed already.
fn with_local(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files {
        out.push(f.clone());
        let local = f.with_extension("local");
        if local != *f && !files.contains(&local) && local.is_file() {
            out.push(local);
        }
    }
    out
}

/// Where `path` points when it is a symbolic link to nothing (a configuration
/// copied without the files its links point to).
pub(crate) fn dangling_link(path: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(path).ok()?;
    (!path.exists()).then_some(target)
}

/// What to do about a [`dangling_link`].
pub(crate) const DANGLING_LINK_HINT: &str =
    "mend the link, or copy the configuration with the files links point to (cp -aL)";

impl Config {
    /// Read the files one name stands for under `basedir` (`jail` → `jail.conf`,
    /// `jail.d/*.conf`, `jail.local`, `jail.d/*.local`). `Ok(None)` if none exists.
    pub fn read_named(basedir: &Path, name: &str) -> Result<Option<Config>, ConfigError> {
        let base = basedir.join(name);
        let sorted_glob = |ext: &str| -> Vec<PathBuf> {
            let dir = PathBuf::from(format!("{}.d", base.display()));
            let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == ext))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        let mut files = vec![PathBuf::from(format!("{}.conf", base.display()))];
        files.extend(sorted_glob("conf"));
        files.push(PathBuf::from(format!("{}.local", base.display())));
        files.extend(sorted_glob("local"));
        if let Some((file, target)) = files.iter().find_map(|f| Some((f, dangling_link(f)?))) {
            return Err(ConfigError::at(
                file,
                0,
                format!(
                    "is a symbolic link to {}, which does not exist",
                    target.display()
                ),
                DANGLING_LINK_HINT,
            ));
        }
        files.retain(|f| f.exists());
        if files.is_empty() {
            return Ok(None);
        }
        Config::read_files(&files).map(Some)
    }

    /// Read `files` (and what they include) as one configuration, later files
    /// overriding earlier ones.
    pub fn read_files(files: &[PathBuf]) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut order = Vec::new();
        for f in with_local(files) {
            expand_includes(&f, &mut Vec::new(), &mut order)?;
        }
        for f in order {
            if let Some(ini) = read_file(&f)? {
                cfg.merge(ini);
                cfg.files.push(f);
            }
        }
        Ok(cfg)
    }

    fn merge(&mut self, ini: IniFile) {
        for (k, e) in ini.defaults.iter() {
            self.defaults.insert(k.to_string(), e.clone());
        }
        for (name, section) in ini.sections {
            // [Init?family=inet6] holds conditional values of [Init]: key?family=inet6
            let (name, section) = match name.split_once('?') {
                Some((base, cond))
                    if !base.is_empty()
                        && base.chars().all(|c| c.is_alphanumeric() || c == '_') =>
                {
                    let mut s = Section::default();
                    for (k, e) in section.iter() {
                        s.insert(format!("{k}?{cond}"), e.clone());
                    }
                    (base.to_string(), s)
                }
                _ => (name, section),
            };
            match self.sections.iter().position(|(n, _)| *n == name) {
                Some(i) => {
                    let known_name = format!("KNOWN/{name}");
                    let mut known = Section::default();
                    for (k, _) in section.iter() {
                        if let Some(old) = self.sections[i].1.get(k) {
                            known.insert(k.to_string(), old.clone());
                        }
                    }
                    let kidx = match self.sections.iter().position(|(n, _)| *n == known_name) {
                        Some(k) => k,
                        None => {
                            self.sections.push((known_name, Section::default()));
                            self.sections.len() - 1
                        }
                    };
                    for (k, e) in known.iter() {
                        self.sections[kidx].1.insert(k.to_string(), e.clone());
                    }
                    for (k, e) in section.iter() {
                        self.sections[i].1.insert(k.to_string(), e.clone());
                    }
                }
                None => self.sections.push((name, section)),
            }
        }
    }

    /// The files read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Section names (without the internal `KNOWN/` copies).
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.starts_with("KNOWN/"))
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// A section by name (`DEFAULT` gives the defaults).
    pub fn section(&self, name: &str) -> Option<&Section> {
        if name == "DEFAULT" {
            return Some(&self.defaults);
        }
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    pub fn defaults(&self) -> &Section {
        &self.defaults
    }

    /// Option names of a section, optionally with the `[DEFAULT]` ones.
    pub fn options(&self, section: &str, with_defaults: bool) -> Vec<String> {
        let mut v: Vec<String> = self
            .section(section)
            .map(|s| s.keys().map(str::to_string).collect())
            .unwrap_or_default();
        if with_defaults {
            for k in self.defaults.keys() {
                if !v.iter().any(|x| x == k) {
                    v.push(k.to_string());
                }
            }
        }
        v
    }

    fn raw_lookup<'a>(
        &'a self,
        section: &str,
        option: &str,
        vars: &'a [(String, String)],
    ) -> Option<(&'a str, Option<&'a Origin>)> {
        if let Some((_, v)) = vars.iter().find(|(k, _)| k.to_lowercase() == option) {
            return Some((v.as_str(), None));
        }
        if let Some(e) = self.section(section).and_then(|s| s.get(option)) {
            return Some((e.value.as_str(), Some(&e.origin)));
        }
        self.defaults
            .get(option)
            .map(|e| (e.value.as_str(), Some(&e.origin)))
    }

    /// The value of `option` in `section` (falling back to `[DEFAULT]`), with `vars`
    /// taking precedence, and `%(…)s` references resolved. `Ok(None)` when unset.
    pub fn get(
        &self,
        section: &str,
        option: &str,
        vars: &[(String, String)],
    ) -> Result<Option<String>, ConfigError> {
        let option = option.to_lowercase();
        let Some((raw, origin)) = self.raw_lookup(section, &option, vars) else {
            return Ok(None);
        };
        let origin = origin.cloned().unwrap_or(Origin {
            file: PathBuf::from(format!("<option {option}>")),
            line: 0,
        });
        let mut out = String::new();
        self.interpolate(section, raw, vars, &origin, 0, &mut out)?;
        Ok(Some(out))
    }

    /// Where `option` of `section` (or of `[DEFAULT]`) was set, for error messages.
    pub fn origin(&self, section: &str, option: &str) -> Option<Origin> {
        self.raw_lookup(section, &option.to_lowercase(), &[])
            .and_then(|(_, o)| o.cloned())
    }

    /// Fail2ban's `get_ex`: like [`Config::get`], but `sec/opt` names another section
    /// (`known/opt` is the value before the last override, `default/opt` the default).
    pub fn get_ex(
        &self,
        section: &str,
        option: &str,
        vars: &[(String, String)],
    ) -> Result<Option<String>, ConfigError> {
        if let Some((sec, opt)) = option.split_once('/') {
            if !sec.is_empty() && !opt.is_empty() && !opt.contains(char::is_whitespace) {
                let candidates: Vec<String> = match sec.to_lowercase().as_str() {
                    "known" => vec![format!("KNOWN/{section}"), section.to_string()],
                    "default" => vec!["DEFAULT".to_string()],
                    _ => vec![sec.to_string()],
                };
                for c in candidates {
                    if self
                        .section(&c)
                        .is_some_and(|s| s.contains(&opt.to_lowercase()))
                    {
                        return self.get(&c, opt, &[]);
                    }
                }
            }
        }
        self.get(section, option, vars)
    }

    /// Resolve a `sec/opt` reference used inside `%(sec/opt)s`.
    fn cross_section(&self, section: &str, reference: &str) -> Option<String> {
        let (sec, opt) = reference.split_once('/')?;
        let lower = sec.to_lowercase();
        let found = match lower.as_str() {
            "default" => None,
            "known" => self
                .section(&format!("KNOWN/{section}"))
                .and_then(|s| s.get(opt)),
            _ => self.section(sec).and_then(|s| s.get(opt)),
        };
        found
            .or_else(|| self.defaults.get(opt))
            .map(|e| e.value.clone())
    }

    fn interpolate(
        &self,
        section: &str,
        rest: &str,
        vars: &[(String, String)],
        origin: &Origin,
        depth: usize,
        out: &mut String,
    ) -> Result<(), ConfigError> {
        let err =
            |message: String, hint: &str| ConfigError::at(&origin.file, origin.line, message, hint);
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(err(
                format!(
                    "interpolation nested deeper than {MAX_INTERPOLATION_DEPTH} levels in {rest:?}"
                ),
                "look for options that refer to each other in a loop",
            ));
        }
        let mut rest = rest;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            if out.len() > MAX_VALUE_LEN {
                return Err(err(
                    "value grows beyond 1 MiB through interpolation".into(),
                    "check the %(...)s references",
                ));
            }
            match rest.as_bytes().get(1) {
                Some(b'%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some(b'(') => {
                    let name = rest
                        .find(")s")
                        .map(|close| &rest[2..close])
                        .filter(|name| !name.is_empty() && !name.contains(')'));
                    let Some(name) = name else {
                        return Err(err(
                            format!("bad interpolation reference {rest:?}"),
                            "write %(name)s, or %% for a literal percent sign",
                        ));
                    };
                    let close = 2 + name.len();
                    rest = &rest[close + 2..];
                    let key = name.to_lowercase();
                    let value = if key == "__name__" {
                        Some(section.to_string())
                    } else {
                        match self.raw_lookup(section, &key, vars) {
                            Some((v, _)) => Some(v.to_string()),
                            None if name.contains('/') => self.cross_section(section, name),
                            None => None,
                        }
                    };
                    let Some(value) = value else {
                        return Err(err(
                            format!("option {name:?} referenced as %({name})s is not defined in [{section}] or [DEFAULT]"),
                            "define it, or write %% for a literal percent sign",
                        ));
                    };
                    if value.contains('%') {
                        self.interpolate(section, &value, vars, origin, depth + 1, out)?;
                    } else {
                        out.push_str(&value);
                    }
                }
                _ => {
                    return Err(err(
                        format!("'%' must be followed by '%' or '(', found {rest:?}"),
                        "write %% for a literal percent sign (e.g. in datepattern)",
                    ))
                }
            }
        }
        out.push_str(rest);
        Ok(())
    }
}

/// Depth-first `[INCLUDES]` expansion: before-files, the file, after-files.
fn expand_includes(
    file: &Path,
    seen: &mut Vec<PathBuf>,
    order: &mut Vec<PathBuf>,
) -> Result<(), ConfigError> {
    let Some(ini) = read_file(file)? else {
        return Ok(());
    };
    let mut one = Config::default();
    one.merge(ini);
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut lists: [Vec<PathBuf>; 2] = [Vec::new(), Vec::new()];
    if one.has_section("INCLUDES") {
        for (i, key) in ["before", "after"].iter().enumerate() {
            let Some(v) = one.get("INCLUDES", key, &[])? else {
                continue;
            };
            for name in v.split('\n').filter(|s| !s.trim().is_empty()) {
                let p = dir.join(name.trim());
                if seen.contains(&p) || p == file {
                    continue;
                }
                lists[i].push(p);
            }
        }
    }
    seen.push(file.to_path_buf());
    let [before, after] = lists;
    for p in with_local(&before) {
        expand_includes(&p, seen, order)?;
    }
    order.push(file.to_path_buf());
    for p in with_local(&after) {
        expand_includes(&p, seen, order)?;
    }
    seen.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_file_linked_to_nothing_is_named_with_its_link() {
        // The example's jail.conf links to ../../config: copied without -L, it
        // used to read as missing, and the jails then had no filter.
        let dir = std::env::temp_dir().join(format!("ferroban-linked-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("../../config/jail.conf", dir.join("jail.conf")).unwrap();
        std::fs::write(dir.join("jail.local"), "[sshd]\nenabled = true\n").unwrap();
        let e = Config::read_named(&dir, "jail").unwrap_err();
        assert_eq!(e.file, dir.join("jail.conf"));
        assert!(
            e.message
                .contains("is a symbolic link to ../../config/jail.conf, which does not exist"),
            "{e}"
        );
        assert!(e.hint.contains("cp -aL"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_token_file_others_can_read_is_said() {
        use std::os::unix::fs::PermissionsExt;
        let file = std::env::temp_dir().join(format!("ferroban-token-{}", std::process::id()));
        std::fs::write(&file, "[Definition]\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let said = super::secret_file_warning("dashboard_token", &file).unwrap();
        assert!(said.contains("mode 644"), "{said}");
        assert!(said.contains(": chmod 600 it, or move its line"), "{said}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(super::secret_file_warning("dashboard_token", &file), None);
        std::fs::remove_file(&file).ok();
    }

    #[test]
    fn a_secret_readable_by_others_is_told_where_it_can_live_and_that_file_is_read() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir_with(&[("ferroban.local", "[Fleet]\nurl = nats://x\n")]);
        let local = d.join("ferroban.local");
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o644)).unwrap();
        let said = super::secret_file_warning("[Fleet] password (or token)", &local).unwrap();
        let advised = d.join("ferroban.d/secret.local");
        assert!(
            said.ends_with(&format!(
                "chmod 600 it, or move its line, under its section header, to a file of its \
                 own of mode 600 such as {}",
                advised.display()
            )),
            "{said}"
        );
        // The advice works: that file is read with ferroban.local, and at mode
        // 600 draws no warning.
        std::fs::create_dir_all(d.join("ferroban.d")).unwrap();
        std::fs::write(&advised, "[Fleet]\npassword = s3cret\n").unwrap();
        std::fs::set_permissions(&advised, std::fs::Permissions::from_mode(0o600)).unwrap();
        let cfg = Config::read_named(&d, "ferroban").unwrap().unwrap();
        assert_eq!(
            cfg.get("Fleet", "password", &[]).unwrap().as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            cfg.origin("Fleet", "password").map(|o| o.file),
            Some(advised.clone())
        );
        assert_eq!(
            super::secret_file_warning("[Fleet] password (or token)", &advised),
            None
        );
        // A file in ferroban.d already is only told to chmod.
        std::fs::set_permissions(&advised, std::fs::Permissions::from_mode(0o640)).unwrap();
        let said = super::secret_file_warning("[Fleet] password (or token)", &advised).unwrap();
        assert!(said.ends_with("(mode 640): chmod 600 it"), "{said}");
        std::fs::remove_dir_all(&d).ok();
    }

    fn dir_with(files: &[(&str, &str)]) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "ferroban-config-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        for (name, text) in files {
            let p = d.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    #[test]
    fn includes_locals_known_and_interpolation() {
        let d = dir_with(&[
            ("common.conf", "[DEFAULT]\n_daemon = \\S*\nprefix = %(_daemon)s\\[\\d+\\]:\n"),
            ("x.conf", "[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = %(prefix)s fail <HOST>\nname = %(__name__)s\n[Init]\nmode = normal\n"),
            ("x.local", "[Definition]\nfailregex = %(known/failregex)s\n            other <HOST>\n"),
            ("x.d/a.conf", "[Init]\nmode = extra\n"),
        ]);
        let cfg = Config::read_named(&d, "x").unwrap().unwrap();
        let f = cfg.get("Definition", "failregex", &[]).unwrap().unwrap();
        assert_eq!(f, "\\S*\\[\\d+\\]: fail <HOST>\nother <HOST>");
        assert_eq!(
            cfg.get("Definition", "name", &[]).unwrap().unwrap(),
            "Definition"
        );
        assert_eq!(cfg.get("Init", "mode", &[]).unwrap().unwrap(), "extra");
        let vars = vec![("mode".to_string(), "aggressive".to_string())];
        assert_eq!(
            cfg.get("Init", "mode", &vars).unwrap().unwrap(),
            "aggressive"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn interpolation_errors_are_located() {
        let d = dir_with(&[(
            "y.conf",
            "[Definition]\n\nfailregex = %(missing)s\ndatepattern = %Y\nbroken = a %(oops\n",
        )]);
        let cfg = Config::read_named(&d, "y").unwrap().unwrap();
        let e = cfg.get("Definition", "failregex", &[]).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("missing"));
        let e = cfg.get("Definition", "datepattern", &[]).unwrap_err();
        assert!(e.hint.contains("%%"));
        let e = cfg.get("Definition", "broken", &[]).unwrap_err();
        assert_eq!(e.line, 5);
        assert!(e.message.contains("bad interpolation reference"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn interpolation_bomb_is_refused() {
        let mut text = String::from("[d]\na0 = xxxxxxxxxxxxxxxx\n");
        for i in 1..10 {
            text.push_str(&format!(
                "a{i} = %(a{})s%(a{})s%(a{})s%(a{})s\n",
                i - 1,
                i - 1,
                i - 1,
                i - 1
            ));
        }
        let d = dir_with(&[("z.conf", &text)]);
        let cfg = Config::read_named(&d, "z").unwrap().unwrap();
        assert!(cfg.get("d", "a9", &[]).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }
}
