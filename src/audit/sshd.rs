//! `sshd-password-authentication` and `sshd-root-login`: does sshd refuse
//! passwords and root?
//!
//! Asks sshd itself (`sshd -T -f FILE`, the settings it would run with) and, where
//! that cannot run (not installed, not root, no host keys) or refuses the
//! configuration (then sshd would not start: at least WARN), reads the file and
//! its `Include`s as sshd does: keywords in any case, the first value wins. The
//! files are also read beside `sshd -T` to name the line that sets a value (the
//! fix says to change it there or to set it in a file read earlier) and for the
//! `Match` blocks, which `sshd -T` without `-C` does not apply: `Match all`
//! overrides the global value for every connection, and another block that lets
//! passwords or root in for some connections is named.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{run_program, Finding, ProgramError, Scope};

/// Settings as lower-case keyword to lower-case values. `sshd -T` prints some
/// keywords once per value (`port`, `listenaddress`), so a keyword may have
/// several; from a file only the first is kept, as sshd keeps it.
type Values = HashMap<String, Vec<String>>;

/// What `sshd -T -f FILE` said, asked once per audit (see [`Scope`]).
#[derive(Debug)]
pub enum SshdT {
    /// The effective settings it printed.
    Ran(Values),
    /// No sshd in PATH.
    NotInstalled,
    /// sshd is there but did not print its settings (not root, no host keys, a
    /// timeout): why.
    Failed(String),
    /// sshd refused the configuration (a bad keyword or value): its first error
    /// line. sshd would not start with it.
    Refused(String),
}

/// `sshd -T -f FILE` for this audit, run by the first check that asks.
fn sshd_t(ctx: &Scope) -> &SshdT {
    ctx.sshd_t.get_or_init(|| {
        let file = ctx.sshd_config.to_string_lossy();
        match run_program("sshd", &["-T", "-f", &file]) {
            Ok(out) if out.success => SshdT::Ran(parse_sshd_t(&out.stdout)),
            Ok(out) => {
                let why = out.stderr.lines().next().unwrap_or("").trim();
                if is_config_error(why) {
                    SshdT::Refused(why.to_string())
                } else {
                    SshdT::Failed(format!("sshd -T -f {file} failed: {why}"))
                }
            }
            Err(ProgramError::NotInstalled(_)) => SshdT::NotInstalled,
            Err(e) => SshdT::Failed(e.to_string()),
        }
    })
}

/// `sshd -T` output: one `keyword value` line per setting, and one line per
/// value for those that take several.
fn parse_sshd_t(stdout: &str) -> Values {
    let mut values = Values::new();
    for (keyword, value) in stdout.lines().filter_map(|l| l.split_once(' ')) {
        values
            .entry(keyword.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_ascii_lowercase());
    }
    values
}

/// sshd's effective settings and where they came from.
struct Settings<'a> {
    /// The global values: from `sshd -T`, else from the files.
    values: Cow<'a, Values>,
    /// What they were read from (and why not from `sshd -T`).
    source: String,
    /// The files as read, when they could be: where a value is set, and the
    /// `Match` blocks (`sshd -T` without `-C` applies none).
    files: Option<ConfigFiles>,
    /// `sshd -T`'s first error line when it refused the configuration.
    refused: Option<String>,
}

impl Settings<'_> {
    fn get<'a>(&'a self, keyword: &str, default: &'a str) -> &'a str {
        self.values
            .get(keyword)
            .and_then(|v| v.first())
            .map_or(default, String::as_str)
    }

    /// Whether the main file has an `Include` (taken to have one when the files
    /// could not be read).
    fn main_includes(&self) -> bool {
        self.files.as_ref().is_none_or(|f| f.main_includes)
    }

    /// What to add to what was seen when sshd refused the configuration.
    fn refused_note(&self) -> String {
        match &self.refused {
            Some(why) => format!(
                "; sshd -T failed: {why}: sshd would refuse this configuration (it would not \
                 start, or not restart), so these values are read from the files"
            ),
            None => String::new(),
        }
    }
}

fn settings(ctx: &Scope) -> Result<Settings<'_>, Finding> {
    let file = ctx.sshd_config.to_string_lossy().into_owned();
    let read = || {
        let mut files = ConfigFiles::default();
        read_config(&ctx.sshd_config, &mut files, None, 0).map(|()| files)
    };
    let (source, refused) = match sshd_t(ctx) {
        SshdT::Ran(values) => {
            return Ok(Settings {
                values: Cow::Borrowed(values),
                source: format!("sshd -T -f {file}"),
                files: read().ok(),
                refused: None,
            })
        }
        SshdT::NotInstalled => (file.clone(), None),
        SshdT::Failed(why) => (format!("{file}; {why}"), None),
        SshdT::Refused(why) => (file.clone(), Some(why.clone())),
    };
    if !ctx.sshd_config.exists() {
        return Err(Finding::skip(format!(
            "{file} does not exist and sshd -T could not run (is OpenSSH installed?)"
        )));
    }
    let files = read().map_err(|e| Finding::skip(format!("cannot read {file}: {e}")))?;
    Ok(Settings {
        values: Cow::Owned(files.values()),
        source,
        files: Some(files),
        refused,
    })
}

/// The ports sshd listens on, from `sshd -T` (its `port` lines, and the port of
/// each `listenaddress`), or why it could not run (not root, no host keys). The
/// file is not read instead: the defaults and `ListenAddress host:port` would
/// make that a guess, and a wrong guess passes a port. No sshd installed listens
/// nowhere: no ports, not an error.
pub fn ports(ctx: &Scope) -> Result<Vec<u16>, String> {
    match sshd_t(ctx) {
        SshdT::Ran(values) => Ok(ports_of(values)),
        SshdT::NotInstalled => Ok(Vec::new()),
        SshdT::Failed(why) => Err(why.clone()),
        SshdT::Refused(why) => Err(format!("sshd -T refused the configuration: {why}")),
    }
}

/// The ports in `sshd -T` settings, sorted and without repeats.
fn ports_of(values: &Values) -> Vec<u16> {
    let listed = |keyword: &str| values.get(keyword).into_iter().flatten();
    let mut ports: Vec<u16> = listed("port")
        .filter_map(|p| p.parse().ok())
        .chain(
            listed("listenaddress")
                .map(String::as_str)
                .filter_map(listen_port),
        )
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The port of a `listenaddress` value as `sshd -T` prints it: `0.0.0.0:22` or
/// `[::]:2222`, the port always given, followed by `rdomain NAME` when the
/// address has a routing domain.
fn listen_port(value: &str) -> Option<u16> {
    let address = value.split_whitespace().next()?;
    let (_, port) = match address.strip_prefix('[') {
        Some(v6) => v6.split_once("]:")?,
        None => address.rsplit_once(':')?,
    };
    port.parse().ok()
}

/// Where a setting was read: a file and its line (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    file: PathBuf,
    line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}", self.file.display(), self.line)
    }
}

/// One setting as written: its lower-case value and where it is.
#[derive(Debug, Clone)]
struct Setting {
    value: String,
    at: Origin,
}

/// A `Match` block: its criteria as written, where its `Match` line is, and the
/// settings under it (the first value of each keyword).
#[derive(Debug, Clone)]
struct MatchBlock {
    criteria: String,
    at: Origin,
    settings: HashMap<String, Setting>,
}

impl MatchBlock {
    /// `Match all`: it applies to every connection.
    fn is_all(&self) -> bool {
        self.criteria.eq_ignore_ascii_case("all")
    }
}

/// The configuration files as sshd reads them: the global settings (the first
/// value of each keyword, and where it is) and the `Match` blocks in order.
#[derive(Debug, Default)]
struct ConfigFiles {
    global: HashMap<String, Setting>,
    matches: Vec<MatchBlock>,
    /// Whether the main file has an `Include` line.
    main_includes: bool,
}

impl ConfigFiles {
    /// The global values alone, as [`Values`].
    fn values(&self) -> Values {
        self.global
            .iter()
            .map(|(k, s)| (k.clone(), vec![s.value.clone()]))
            .collect()
    }

    /// The first `Match all` block that sets `keyword`: its value overrides the
    /// global one for every connection (sshd_config(5): the keywords of a matching
    /// block override the global section; the first matching block's value wins).
    fn match_all(&self, keyword: &str) -> Option<(&MatchBlock, &Setting)> {
        self.matches
            .iter()
            .filter(|m| m.is_all())
            .find_map(|m| m.settings.get(keyword).map(|s| (m, s)))
    }
}

/// Read one sshd configuration file into `files` (first value wins), following
/// `Include` (globs; relative to /etc/ssh, as sshd takes them). Lines after a
/// `Match` line belong to that block until the next `Match` line or the end of
/// the file; an `Include` inside a block adds its lines to the block.
fn read_config(
    path: &Path,
    files: &mut ConfigFiles,
    mut block: Option<usize>,
    depth: usize,
) -> std::io::Result<()> {
    if depth > 16 {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, value) = line
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or((line, ""));
        let keyword = keyword.to_ascii_lowercase();
        let value = value
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .trim();
        let at = Origin {
            file: path.to_path_buf(),
            line: number + 1,
        };
        match keyword.as_str() {
            "match" => {
                files.matches.push(MatchBlock {
                    criteria: value.to_string(),
                    at,
                    settings: HashMap::new(),
                });
                block = Some(files.matches.len() - 1);
            }
            "include" => {
                files.main_includes |= depth == 0;
                for pattern in value.split_whitespace() {
                    let full = if pattern.starts_with('/') {
                        PathBuf::from(pattern)
                    } else {
                        Path::new("/etc/ssh").join(pattern)
                    };
                    let mut found: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                        .map(|g| g.flatten().collect())
                        .unwrap_or_default();
                    found.sort();
                    for f in found {
                        read_config(&f, files, block, depth + 1)?;
                    }
                }
            }
            _ => {
                let settings = match block.and_then(|i| files.matches.get_mut(i)) {
                    Some(m) => &mut m.settings,
                    None => &mut files.global,
                };
                settings.entry(keyword).or_insert_with(|| Setting {
                    value: value.to_ascii_lowercase(),
                    at,
                });
            }
        }
    }
    Ok(())
}

/// A value in force for a connection no `Match` block but `Match all` applies to,
/// and where it is set when the files say.
struct Effective<'a> {
    value: &'a str,
    /// The line that sets it, and the `Match all` block it is in, if any.
    set_at: Option<(&'a Origin, Option<&'a MatchBlock>)>,
}

impl<'a> Settings<'a> {
    /// The value of `keyword` for every connection: a `Match all` block's if one
    /// sets it (it overrides the global value, also where `sshd -T` printed the
    /// global one: without `-C` it applies no `Match` block), else the global
    /// value, else `default`.
    fn effective(&'a self, keyword: &str, default: &'a str) -> Effective<'a> {
        if let Some((block, setting)) = self.files.as_ref().and_then(|f| f.match_all(keyword)) {
            return Effective {
                value: &setting.value,
                set_at: Some((&setting.at, Some(block))),
            };
        }
        let value = self.get(keyword, default);
        let set_at = self
            .files
            .as_ref()
            .and_then(|f| f.global.get(keyword))
            .filter(|s| s.value == value)
            .map(|s| (&s.at, None));
        Effective { value, set_at }
    }

    /// `; Match … (FILE line N) sets KEYWORD VALUE for those connections` for each
    /// `Match` block (not `Match all`, whose value is the effective one) that sets
    /// `keyword` to one of `unsafe_values` other than `effective`.
    fn match_notes(&self, name: &str, effective: &str, unsafe_values: &[&str]) -> String {
        let keyword = name.to_ascii_lowercase();
        let Some(files) = &self.files else {
            return String::new();
        };
        let mut notes = String::new();
        for m in files.matches.iter().filter(|m| !m.is_all()) {
            if let Some(s) = m.settings.get(&keyword) {
                if s.value != effective && unsafe_values.contains(&s.value.as_str()) {
                    notes.push_str(&format!(
                        "; Match {} ({}) sets {name} {} for those connections",
                        m.criteria, m.at, s.value
                    ));
                }
            }
        }
        notes
    }
}

/// How to make `name` `wanted` when it is now set at `set_at` (if known): change
/// it there, or, for a file `main` includes, put it in a file that sorts before
/// it, because sshd keeps the first value it reads. `main_includes`: whether
/// `main` has an `Include` line.
fn fix_setting(
    main: &Path,
    main_includes: bool,
    name: &str,
    wanted: &str,
    set_at: Option<(&Origin, Option<&MatchBlock>)>,
) -> String {
    let setting = format!("`{name} {wanted}`");
    match set_at {
        Some((at, Some(block))) => format!(
            "set {setting} at {at}, under `Match {}` ({}), which overrides the global \
             settings for every connection",
            block.criteria, block.at
        ),
        Some((at, None)) => {
            let earlier = at.file.parent().map(|d| d.join("00-hardening.conf"));
            match (earlier, at.file.file_name()) {
                (Some(earlier), Some(name_now))
                    if at.file != main && Path::new(name_now) > Path::new("00-hardening.conf") =>
                {
                    format!(
                        "change it to {setting} at {at}, where it is set now, or put {setting} \
                         in a file of the same `Include` that sorts before it (e.g. {}): sshd \
                         keeps the first value it reads",
                        earlier.display()
                    )
                }
                _ => format!(
                    "change it to {setting} at {at}, where it is set now (sshd keeps the first \
                     value it reads)"
                ),
            }
        }
        None if main_includes => format!(
            "set {setting} before any other value of it: sshd keeps the first value it reads, so \
             in {} above its `Include`, or in the file of the directory it includes that \
             sorts first (e.g. 00-hardening.conf)",
            main.display()
        ),
        None => format!(
            "set {setting} in {}, above any `Match` block (sshd keeps the first value it reads)",
            main.display()
        ),
    }
}

/// Whether the first error line of `sshd -T` says the configuration is wrong
/// (`FILE line N: Bad configuration option: …`, `… line N: unsupported option …`,
/// `FILE: terminating, N bad configuration options`), as opposed to sshd being
/// unable to run here (not root, no host keys).
fn is_config_error(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("bad configuration option")
        || lower.contains("terminating,")
        || lower.match_indices(" line ").any(|(i, m)| {
            lower[i + m.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
}

pub fn password_authentication(ctx: &Scope) -> Finding {
    let s = match settings(ctx) {
        Ok(s) => s,
        Err(skip) => return skip,
    };
    let password = s.effective("passwordauthentication", "yes");
    let kbd_default = s.get("challengeresponseauthentication", "yes");
    let keyboard = s.effective("kbdinteractiveauthentication", kbd_default);
    let pam = s.effective("usepam", "no").value;
    let notes = s.match_notes("PasswordAuthentication", password.value, &["yes"]);
    let seen = format!(
        "PasswordAuthentication {}, KbdInteractiveAuthentication {}, UsePAM {pam} ({}){}{notes}",
        password.value,
        keyboard.value,
        s.source,
        s.refused_note()
    );
    let mut fixes = Vec::new();
    if password.value == "yes" {
        fixes.push(fix_setting(
            &ctx.sshd_config,
            s.main_includes(),
            "PasswordAuthentication",
            "no",
            password.set_at,
        ));
    }
    if keyboard.value == "yes" && pam == "yes" {
        fixes.push(fix_setting(
            &ctx.sshd_config,
            s.main_includes(),
            "KbdInteractiveAuthentication",
            "no",
            keyboard.set_at,
        ));
    }
    if !notes.is_empty() {
        fixes.push("remove `PasswordAuthentication yes` from the Match blocks named".into());
    }
    if s.refused.is_some() {
        fixes.insert(0, REFUSED_FIX.into());
    }
    let fix = if fixes.is_empty() {
        String::new()
    } else {
        format!("{}; log in with keys", fixes.join("; "))
    };
    if password.value == "yes" {
        Finding::fail(seen, fix)
    } else if keyboard.value == "yes" && pam == "yes" {
        Finding::warn(format!("{seen}: PAM may still ask for a password"), fix)
    } else if !notes.is_empty() || s.refused.is_some() {
        Finding::warn(seen, fix)
    } else {
        Finding::pass(seen)
    }
}

pub fn root_login(ctx: &Scope) -> Finding {
    let s = match settings(ctx) {
        Ok(s) => s,
        Err(skip) => return skip,
    };
    let root = s.effective("permitrootlogin", "prohibit-password");
    let password = s.effective("passwordauthentication", "yes").value;
    let notes = s.match_notes(
        "PermitRootLogin",
        root.value,
        &["yes", "without-password", "prohibit-password"],
    );
    let seen = format!(
        "PermitRootLogin {} ({}){}",
        root.value,
        s.source,
        s.refused_note()
    );
    let mut fixes = Vec::new();
    if s.refused.is_some() {
        fixes.push(REFUSED_FIX.to_string());
    }
    // the global value, unless it is right already (only a Match block is not)
    if root.value != "no" {
        fixes.push(fix_setting(
            &ctx.sshd_config,
            s.main_includes(),
            "PermitRootLogin",
            "no",
            root.set_at,
        ));
    }
    if !notes.is_empty() {
        fixes.push("remove PermitRootLogin from the Match blocks named".into());
    }
    fixes.push("use sudo from a named account".into());
    let fix = fixes.join("; ");
    match root.value {
        "no" if notes.is_empty() && s.refused.is_none() => Finding::pass(seen),
        "no" => Finding::warn(format!("{seen}{notes}"), fix),
        "yes" if password == "yes" => Finding::fail(
            format!(
                "{seen}: root can log in, with a password too (PasswordAuthentication yes){notes}"
            ),
            fix,
        ),
        "yes" => {
            let keyboard = s.effective(
                "kbdinteractiveauthentication",
                s.get("challengeresponseauthentication", "yes"),
            );
            let pam = s.effective("usepam", "no").value;
            let how = if keyboard.value == "yes" && pam == "yes" {
                "root can log in with a key, and with a password through PAM \
                 (PasswordAuthentication no, but KbdInteractiveAuthentication yes and UsePAM yes)"
            } else {
                "root can log in with a key (not with a password: PasswordAuthentication no)"
            };
            // Where a Match block turns passwords on, root can use one there.
            let passwords = s.match_notes("PasswordAuthentication", password, &["yes"]);
            Finding::fail(format!("{seen}: {how}{notes}{passwords}"), fix)
        }
        _ => Finding::warn(format!("{seen}: root can log in with a key{notes}"), fix),
    }
}

/// The first step of the fix when sshd refused the configuration.
const REFUSED_FIX: &str = "fix the error `sshd -T` names (check with `sshd -t`) before sshd is \
                           restarted: it would not start";

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn the_first_value_wins_includes_are_followed_and_match_blocks_skipped() {
        let dir = std::env::temp_dir().join(format!("ferroban-sshd-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        std::fs::write(
            dir.join("conf.d/10-hardening.conf"),
            "PasswordAuthentication no\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "# comment\nInclude {}/conf.d/*.conf\npasswordauthentication yes\n\
                 PermitRootLogin=yes\nMatch User backup\n  PermitRootLogin no\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut files = ConfigFiles::default();
        read_config(&dir.join("sshd_config"), &mut files, None, 0).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let values = files.values();
        assert_eq!(values["passwordauthentication"], ["no"]);
        assert_eq!(values["permitrootlogin"], ["yes"]);
        assert_eq!(files.matches.len(), 1);
        assert_eq!(files.matches[0].criteria, "User backup");
        assert_eq!(files.matches[0].settings["permitrootlogin"].value, "no");
    }

    /// A directory of its own for one test, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("ferroban-sshd-{test}-{}", std::process::id()));
            std::fs::create_dir_all(dir.join("sshd_config.d")).unwrap();
            Dir(dir)
        }

        /// Write `text` to `name` in the directory; its path.
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A scope reading `config`, where `sshd -T` said `sshd_t`.
    fn scope(config: &Path, sshd_t: SshdT) -> Scope {
        let said = std::sync::OnceLock::new();
        let _ = said.set(sshd_t);
        Scope {
            jails: Ok(Vec::new()),
            confdir: PathBuf::new(),
            urls: Vec::new(),
            sshd_config: config.to_path_buf(),
            smtp: String::new(),
            sshd_t: std::sync::Arc::new(said),
        }
    }

    #[test]
    fn the_fix_names_the_file_that_sets_the_value_and_a_file_read_before_it() {
        let dir = Dir::new("include");
        let dropin = dir.write(
            "sshd_config.d/50-cloud-init.conf",
            "PasswordAuthentication yes\nPermitRootLogin yes\n",
        );
        let config = dir.write(
            "sshd_config",
            &format!(
                "Include {}/sshd_config.d/*.conf\nPasswordAuthentication no\n",
                dir.0.display()
            ),
        );
        let ctx = scope(&config, SshdT::NotInstalled);
        let earlier = dir.0.join("sshd_config.d/00-hardening.conf");
        let f = password_authentication(&ctx);
        assert_eq!(f.status, Status::Fail, "{}", f.seen);
        assert!(
            f.fix.contains(&format!(
                "at {} line 1, where it is set now",
                dropin.display()
            )),
            "{}",
            f.fix
        );
        assert!(f.fix.contains(&earlier.display().to_string()), "{}", f.fix);
        assert!(
            f.fix.contains("sshd keeps the first value it reads"),
            "{}",
            f.fix
        );
        let f = root_login(&ctx);
        assert!(
            f.fix.contains(&format!(
                "`PermitRootLogin no` at {} line 2",
                dropin.display()
            )),
            "{}",
            f.fix
        );
        // `sshd -T` gives the value; the files still say where it is set.
        let values = parse_sshd_t("passwordauthentication yes\npermitrootlogin yes\n");
        let f = password_authentication(&scope(&config, SshdT::Ran(values)));
        assert!(f.fix.contains("50-cloud-init.conf line 1"), "{}", f.fix);
        // Set in sshd_config itself: change it there, no drop-in sorts before it.
        let config = dir.write("sshd_config", "PasswordAuthentication yes\n");
        let f = password_authentication(&scope(&config, SshdT::NotInstalled));
        assert!(
            f.fix.contains(&format!("at {} line 1", config.display())),
            "{}",
            f.fix
        );
        assert!(!f.fix.contains("00-hardening.conf"), "{}", f.fix);
    }

    #[test]
    fn a_configuration_sshd_refuses_is_named_and_warns() {
        let dir = Dir::new("refused");
        let config = dir.write(
            "sshd_config",
            "PermitRootLogin bogus\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
        );
        let why = format!("{} line 1: unsupported option \"bogus\".", config.display());
        assert!(is_config_error(&why));
        assert!(is_config_error(
            "/etc/ssh/sshd_config: terminating, 1 bad configuration options"
        ));
        assert!(!is_config_error("sshd: no hostkeys available -- exiting."));
        assert!(!is_config_error(
            "Privilege separation user sshd does not exist"
        ));
        let ctx = scope(&config, SshdT::Refused(why.clone()));
        for f in [password_authentication(&ctx), root_login(&ctx)] {
            assert!(f.status >= Status::Warn, "{f:?}");
            assert!(
                f.seen.contains(&format!("sshd -T failed: {why}")),
                "{}",
                f.seen
            );
            assert!(
                f.seen.contains("sshd would refuse this configuration"),
                "{}",
                f.seen
            );
        }
    }

    #[test]
    fn match_blocks_that_let_passwords_or_root_in_are_named() {
        let dir = Dir::new("match");
        let config = dir.write(
            "sshd_config",
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n\
             Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n  PermitRootLogin prohibit-password\n\
             Match User backup\n  PasswordAuthentication no\n",
        );
        let ctx = scope(&config, SshdT::NotInstalled);
        let f = password_authentication(&ctx);
        assert_eq!(f.status, Status::Warn, "{}", f.seen);
        assert!(
            f.seen.contains(&format!(
                "Match Address 10.0.0.0/8 ({} line 4) sets PasswordAuthentication yes for those \
                 connections",
                config.display()
            )),
            "{}",
            f.seen
        );
        assert!(!f.seen.contains("User backup"), "{}", f.seen);
        let f = root_login(&ctx);
        assert_eq!(f.status, Status::Warn, "{}", f.seen);
        assert!(
            f.seen
                .contains("sets PermitRootLogin prohibit-password for those connections"),
            "{}",
            f.seen
        );
        // the global line is right already: only the Match block is to change
        assert!(
            f.fix
                .starts_with("remove PermitRootLogin from the Match blocks named")
                && !f.fix.contains("change it to"),
            "{}",
            f.fix
        );
    }

    /// A file without `Include` is not told to put a value above its `Include`.
    #[test]
    fn the_fix_names_an_include_only_where_there_is_one() {
        let dir = Dir::new("no-include");
        let config = dir.write("sshd_config", "# only a comment\n");
        let ctx = scope(&config, SshdT::NotInstalled);
        let fix = password_authentication(&ctx).fix;
        assert!(
            fix.contains(&format!(
                "set `PasswordAuthentication no` in {}, above any `Match` block",
                config.display()
            )) && !fix.contains("Include"),
            "{fix}"
        );
        let empty = config.with_file_name("sshd_config.d");
        let include = format!("Include {}/*.conf\n", empty.display());
        let config = dir.write("sshd_config", &include);
        let fix = password_authentication(&scope(&config, SshdT::NotInstalled)).fix;
        assert!(fix.contains("above its `Include`"), "{fix}");
    }

    #[test]
    fn match_all_overrides_the_global_value_for_every_connection() {
        let dir = Dir::new("match-all");
        let config = dir.write(
            "sshd_config",
            "PasswordAuthentication no\nPermitRootLogin no\nMatch all\nPasswordAuthentication yes\n",
        );
        let f = password_authentication(&scope(&config, SshdT::NotInstalled));
        assert_eq!(f.status, Status::Fail, "{}", f.seen);
        assert!(
            f.seen.starts_with("PasswordAuthentication yes"),
            "{}",
            f.seen
        );
        assert!(f.fix.contains("under `Match all`"), "{}", f.fix);
        // sshd -T without -C applies no Match block, sshd does.
        let values = parse_sshd_t("passwordauthentication no\npermitrootlogin no\n");
        let f = password_authentication(&scope(&config, SshdT::Ran(values)));
        assert_eq!(f.status, Status::Fail, "{}", f.seen);
    }

    #[test]
    fn root_with_a_key_only_is_not_said_to_log_in_with_a_password() {
        let dir = Dir::new("root");
        let config = dir.write(
            "sshd_config",
            "PermitRootLogin yes\nPasswordAuthentication no\n",
        );
        let f = root_login(&scope(&config, SshdT::NotInstalled));
        assert_eq!(f.status, Status::Fail, "{}", f.seen);
        assert!(f.seen.contains("root can log in with a key"), "{}", f.seen);
        assert!(!f.seen.contains("with a password too"), "{}", f.seen);
        assert!(f.seen.contains("not with a password"), "{}", f.seen);
        let config = dir.write(
            "sshd_config",
            "PermitRootLogin yes\nPasswordAuthentication no\nUsePAM yes\n\
             Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n",
        );
        let f = root_login(&scope(&config, SshdT::NotInstalled));
        assert!(f.seen.contains("with a password through PAM"), "{}", f.seen);
        assert!(
            f.seen
                .contains("sets PasswordAuthentication yes for those connections"),
            "{}",
            f.seen
        );
        let config = dir.write(
            "sshd_config",
            "PermitRootLogin yes\nPasswordAuthentication yes\n",
        );
        let f = root_login(&scope(&config, SshdT::NotInstalled));
        assert!(
            f.seen.contains("root can log in, with a password too"),
            "{}",
            f.seen
        );
    }

    /// Lines as OpenSSH's `sshd -T` prints them (servconf.c `dump_config`):
    /// every port, then every listen address with its port, IPv6 in brackets,
    /// and ` rdomain NAME` after one that has a routing domain.
    const SSHD_T: &str = "port 22\nport 2222\naddressfamily any\n\
                          listenaddress [::]:2222\nlistenaddress 0.0.0.0:22 rdomain x\n\
                          listenaddress [2001:db8::1]:8022 rdomain blue\n\
                          listenaddress 192.0.2.1:9022\n\
                          permitrootlogin without-password\nPasswordAuthentication no\n\
                          usepam yes\nauthorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n";

    #[test]
    fn sshd_t_lines_are_read_once_with_every_value() {
        let values = parse_sshd_t(SSHD_T);
        assert_eq!(values["port"], ["22", "2222"]);
        assert_eq!(values["listenaddress"].len(), 4);
        assert_eq!(values["passwordauthentication"], ["no"]);
        assert_eq!(
            values["authorizedkeysfile"],
            [".ssh/authorized_keys .ssh/authorized_keys2"]
        );
        assert_eq!(ports_of(&values), [22, 2222, 8022, 9022]);
        let settings = Settings {
            values: Cow::Borrowed(&values),
            source: String::new(),
            files: None,
            refused: None,
        };
        assert_eq!(settings.get("permitrootlogin", "no"), "without-password");
        assert_eq!(settings.get("kbdinteractiveauthentication", "yes"), "yes");
    }

    #[test]
    fn listen_addresses_give_their_port() {
        assert_eq!(listen_port("[::]:2222"), Some(2222));
        assert_eq!(listen_port("0.0.0.0:22 rdomain x"), Some(22));
        assert_eq!(listen_port("[fe80::1%eth0]:22"), Some(22));
        assert_eq!(listen_port("[::]"), None);
        assert_eq!(listen_port("0.0.0.0:ssh"), None);
        assert_eq!(listen_port(""), None);
    }
}
