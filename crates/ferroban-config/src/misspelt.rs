//! Options in the jail files that nothing reads and that look like a misspelt
//! option: `bantim = 1h`, `maxretrry = 3`, `enabeld = true`.
//!
//! Fail2ban reads such a line without a word, and so does the rest of this crate,
//! because an unknown option may be a variable that another value interpolates
//! (`sshd_log`, `action_mwl`). The jail then runs with the default it was meant to
//! change, or, for `enabeld`, not at all. This module owns only the question "which
//! keys look like a typo": a key no reader takes, that no value, filter or action
//! refers to, and that is one or two edits from an option a reader takes. It warns;
//! it never refuses a configuration Fail2ban would run.

use std::path::{Path, PathBuf};

use crate::filter::DEFINITION_OPTIONS;
use crate::jail::known_jail_options;
use crate::settings::SERVER_OPTIONS;
use crate::{Config, Entry};

/// Options a jail section (or `[DEFAULT]`) may set besides the jail's own and the
/// filter's ([`DEFINITION_OPTIONS`]): the ones Fail2ban's stock `jail.conf` hands
/// to filters and actions by interpolation, and ferroban's `nologs_backend`.
const PASSED_ON_OPTIONS: [&str; 8] = [
    "mode",
    "logtype",
    "nologs_backend",
    "banaction_allports",
    "destemail",
    "sender",
    "sendername",
    "mta",
];

/// One warning per key of the jail files under `basedir` that looks like a
/// misspelt option, with its file and line and the option it is probably meant to
/// be. None when the jail files cannot be read: loading them reports that.
pub fn misspelt_jail_options(basedir: &Path) -> Vec<String> {
    let Ok(Some(cfg)) = Config::read_named(basedir, "jail") else {
        return Vec::new();
    };
    let known: Vec<&str> = known_jail_options()
        .iter()
        .chain(&DEFINITION_OPTIONS)
        .chain(&PASSED_ON_OPTIONS)
        .copied()
        .collect();
    let referenced = References::gather(basedir, &cfg);
    let mut warnings = misspelt_jail_sections(&cfg);
    let sections = std::iter::once("DEFAULT").chain(cfg.sections().filter(|s| *s != "INCLUDES"));
    for section_name in sections {
        let Some(section) = cfg.section(section_name) else {
            continue;
        };
        for (key, entry) in section.iter() {
            if !is_candidate(key, &known, &referenced) {
                continue;
            }
            if let Some(meant) = crate::suggest::closest(key, known.iter().copied()) {
                warnings.push(warning(entry, section_name, key, meant));
            }
        }
    }
    warnings
}

/// One warning per key of a filter's `[Definition]` (read from `files`, the
/// filter's files as [`crate::FilterDefinition`] lists them) that looks like a
/// misspelt option: a `failregx` in `filter.d/NAME.local` leaves the filter's own
/// failregex alone. None when the files cannot be read: loading them reports that.
pub fn misspelt_filter_options(files: &[PathBuf]) -> Vec<String> {
    let Ok(cfg) = Config::read_files(files) else {
        return Vec::new();
    };
    let referenced = References::of_values(&cfg);
    let mut warnings: Vec<String> = cfg
        .sections()
        .filter(|name| !FILTER_SECTIONS.contains(name))
        .filter_map(|name| {
            let meant = section_meant(name, &FILTER_SECTIONS)?;
            section_warning(&cfg, name, meant)
        })
        .collect();
    warnings.extend(misspelt_definition_keys(
        &cfg,
        &DEFINITION_OPTIONS,
        &referenced,
    ));
    warnings
}

/// A warning for each key of `cfg`'s `[Definition]` that is none of `known`, that
/// no value refers to, and that is close to one of `known`.
fn misspelt_definition_keys(cfg: &Config, known: &[&str], referenced: &References) -> Vec<String> {
    let Some(definition) = cfg.section("Definition") else {
        return Vec::new();
    };
    definition
        .iter()
        .filter(|(key, _)| is_candidate(key, known, referenced))
        .filter_map(|(key, entry)| {
            let meant = crate::suggest::closest(key, known.iter().copied())?;
            Some(warning(entry, "Definition", key, meant))
        })
        .collect()
}

/// One warning per key of the server's settings (`[Definition]` of
/// `fail2ban.conf`/`.local` and `ferroban.local` under `basedir`) that looks like
/// a misspelt option: `dbpurgeag = 1d` leaves the default purge age in force.
pub fn misspelt_server_options(basedir: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    for name in ["fail2ban", "ferroban"] {
        let Ok(Some(cfg)) = Config::read_named(basedir, name) else {
            continue;
        };
        let referenced = References::of_values(&cfg);
        warnings.extend(misspelt_definition_keys(&cfg, &SERVER_OPTIONS, &referenced));
    }
    warnings
}

/// The sections a filter file has a use for.
const FILTER_SECTIONS: [&str; 3] = ["INCLUDES", "Definition", "Init"];

/// A warning for each section of the jail files that looks like a misspelt one:
/// `[DEFUALT]` or `[default]` (a jail of that name, not the defaults: its
/// `ignoreip` protects nobody), or, in the files an administrator writes
/// (`.local`, `jail.d/`), a section that enables nothing, names no filter or log
/// of its own, and is one typo from a jail (`[ssh]` for `[sshd]`).
fn misspelt_jail_sections(cfg: &Config) -> Vec<String> {
    let names: Vec<&str> = cfg.sections().collect();
    let mut warnings = Vec::new();
    for &name in &names {
        if matches!(name, "INCLUDES" | "DEFAULT") {
            continue;
        }
        let Some(section) = cfg.section(name) else {
            continue;
        };
        let meant = match section_meant(name, &["DEFAULT", "INCLUDES"]) {
            Some(meant) => meant,
            None => {
                let enables = section
                    .get("enabled")
                    .is_some_and(|e| crate::parse_switch(&e.value) == Some(true));
                let written_by_hand = section
                    .iter()
                    .all(|(_, e)| is_override_file(&e.origin.file));
                // a jail of its own, kept disabled, names its filter or log
                let own_jail = section.contains("filter") || section.contains("logpath");
                if enables || own_jail || !written_by_hand {
                    continue;
                }
                let others = names.iter().copied().filter(|other| *other != name);
                let Some(meant) = section_meant(name, &others.collect::<Vec<_>>()) else {
                    continue;
                };
                meant
            }
        };
        warnings.extend(section_warning(cfg, name, meant));
    }
    warnings
}

/// The section `name` probably means, if it is a typo of one of `known`: the same
/// name but for case or spaces, or one or two edits from it.
fn section_meant<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let bare = name.trim();
    known
        .iter()
        .copied()
        .find(|k| *k != name && k.eq_ignore_ascii_case(bare))
        .or_else(|| crate::suggest::closest(bare, known.iter().copied()))
}

/// Whether `file` is one an administrator writes: a `.local` file, or one in a
/// `.d` directory.
fn is_override_file(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == "local")
        || file
            .parent()
            .and_then(Path::extension)
            .is_some_and(|e| e == "d")
}

/// The warning for section `name`, which probably means `meant`, at its first
/// option (none for a section without options: it changes nothing either way).
fn section_warning(cfg: &Config, name: &str, meant: &str) -> Option<String> {
    let (_, first) = cfg.section(name)?.iter().next()?;
    Some(format!(
        "{}:{}: [{name}] is not a section that is read, so its options change nothing \
         (Fail2ban ignores them too): did you mean [{meant}]?",
        first.origin.file.display(),
        first.origin.line,
    ))
}

/// Whether `key` may be a typo: not a private variable (`_name`, by Fail2ban's
/// convention), not a known option, and not used anywhere.
fn is_candidate(key: &str, known: &[&str], referenced: &References) -> bool {
    !key.starts_with('_') && !known.contains(&key) && !referenced.mention(key)
}

fn warning(entry: &Entry, section: &str, key: &str, meant: &str) -> String {
    format!(
        "{}:{}: [{section}] {key} is not an option, so this line changes nothing \
         (Fail2ban ignores it too): did you mean {meant}?",
        entry.origin.file.display(),
        entry.origin.line,
    )
}

/// The text in which a variable can be used: every value of the jail files, and
/// every filter and action file (their `<tag>`s may name a jail's option).
struct References {
    text: String,
}

impl References {
    fn gather(basedir: &Path, cfg: &Config) -> References {
        let mut text = References::of_values(cfg).text;
        for dir in ["filter.d", "action.d"] {
            let Ok(entries) = std::fs::read_dir(basedir.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(file_text) = std::fs::read_to_string(entry.path()) {
                    text.push_str(&file_text);
                }
            }
        }
        References { text }
    }

    /// Every value of `cfg`, in every section.
    fn of_values(cfg: &Config) -> References {
        let mut text = String::new();
        let sections = std::iter::once("DEFAULT").chain(cfg.sections());
        for section in sections.filter_map(|s| cfg.section(s)) {
            for (_, entry) in section.iter() {
                text.push_str(&entry.value);
                text.push('\n');
            }
        }
        References { text }
    }

    /// Whether `key` is used as `%(key)s`, `%(section/key)s` or `<key>`.
    fn mention(&self, key: &str) -> bool {
        [
            format!("%({key})s"),
            format!("/{key})s"),
            format!("<{key}>"),
        ]
        .iter()
        .any(|form| self.text.contains(form.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferroban-misspelt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_misspelt_server_option_is_named_in_either_file() {
        let d = tempdir("server");
        write(
            &d,
            "fail2ban.local",
            "[Definition]\nloglevel = INFO\ndbpurgeag = 1d\nold_socket = /run/x\nsocket = %(old_socket)s\n",
        );
        write(
            &d,
            "ferroban.local",
            "[Definition]\nmaxtrackedadresses = 5\n",
        );
        let warnings = misspelt_server_options(&d);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].ends_with("fail2ban.local:3: [Definition] dbpurgeag is not an option, so this line changes nothing (Fail2ban ignores it too): did you mean dbpurgeage?"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("ferroban.local:2: [Definition] maxtrackedadresses")
                && warnings[1].ends_with("did you mean maxtrackedaddresses?"),
            "{warnings:?}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_misspelt_option_is_named_with_its_line_and_the_option_meant() {
        let d = tempdir("typos");
        write(
            &d,
            "jail.conf",
            "[DEFAULT]\nbantime = 10m\nsshd_log = /var/log/auth.log\n\n[sshd]\nlogpath = %(sshd_log)s\n",
        );
        write(
            &d,
            "jail.local",
            "[DEFAULT]\nbantme = 2h\n\n[sshd]\nenabeld = true\nmaxretrry = 3\nmaxretry = 5\n",
        );
        let warnings = misspelt_jail_options(&d);
        let local = d.join("jail.local").display().to_string();
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with(&format!("{local}:2: [DEFAULT] bantme ")));
        assert!(
            warnings[0].ends_with("did you mean bantime?"),
            "{}",
            warnings[0]
        );
        assert!(warnings[1].starts_with(&format!("{local}:5: [sshd] enabeld ")));
        assert!(warnings[1].ends_with("did you mean enabled?"));
        assert!(warnings[2].starts_with(&format!("{local}:6: [sshd] maxretrry ")));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A variable that a value, a filter or an action uses is no typo, however
    /// close its name is to an option; nor is a name far from every option.
    #[test]
    fn variables_in_use_and_names_far_from_any_option_pass() {
        let d = tempdir("vars");
        write(
            &d,
            "jail.local",
            "[DEFAULT]\nports = 22,2222\nmy_chain = INPUT\nchains = x\nmailto = root\n\n\
             [sshd]\nenabled = true\nport = %(ports)s\nbanaction = nft[chain=\"%(DEFAULT/chains)s\"]\n",
        );
        write(
            &d,
            "action.d/mail.conf",
            "[Definition]\nactionban = mail <mailto>\n",
        );
        write(
            &d,
            "jail.d/x.local",
            "[sshd]\n_private = 1\nfindtme = %(my_chain)s\n",
        );
        let warnings = misspelt_jail_options(&d);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].contains("[sshd] findtme is not an option"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_misspelt_section_is_named_with_the_section_meant() {
        let d = tempdir("sections");
        write(
            &d,
            "jail.conf",
            "[DEFAULT]\nbantime = 10m\n\n[sshd]\nport = ssh\n\n[sshd-ddos]\nport = ssh\n",
        );
        write(
            &d,
            "jail.local",
            "[default]\nignoreip = 192.0.2.1\n\n[DEFUALT]\nbantime = 1h\n\n[ssh]\nmaxretry = 3\n\n\
             [ sshd ]\nmaxretry = 2\n\n[web]\nenabled = true\n",
        );
        write(&d, "filter.d/app.local", "[Defintion]\nignoreregex = ^ok\n");
        let warnings = misspelt_jail_options(&d);
        let local = d.join("jail.local").display().to_string();
        let expected = [
            (2, "default", "DEFAULT"),
            (5, "DEFUALT", "DEFAULT"),
            (8, "ssh", "sshd"),
            (11, " sshd ", "sshd"),
        ];
        assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
        for (warning, (line, name, meant)) in warnings.iter().zip(expected) {
            assert!(warning.starts_with(&format!("{local}:{line}: [{name}] is not a section")));
            assert!(
                warning.ends_with(&format!("did you mean [{meant}]?")),
                "{warning}"
            );
        }
        let filter = misspelt_filter_options(&[d.join("filter.d/app.local")]);
        assert_eq!(filter.len(), 1, "{filter:#?}");
        assert!(
            filter[0].ends_with("did you mean [Definition]?"),
            "{}",
            filter[0]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_misspelt_filter_option_is_named_but_not_the_filter_s_variables() {
        let d = tempdir("filter");
        write(
            &d,
            "filter.d/app.conf",
            "[Definition]\n_daemon = app\nhost_re = <HOST>\nfailregex = ^%(_daemon)s: bad %(host_re)s\n",
        );
        write(
            &d,
            "filter.d/app.local",
            "[Definition]\nfailregx = ^other <HOST>\n",
        );
        let files = [d.join("filter.d/app.conf"), d.join("filter.d/app.local")];
        let warnings = misspelt_filter_options(&files);
        let local = d.join("filter.d/app.local").display().to_string();
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].starts_with(&format!("{local}:2: [Definition] failregx ")));
        assert!(warnings[0].ends_with("did you mean failregex?"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// No key of `dir`'s jails or of any of its filters looks misspelt.
    fn assert_none_misspelt(dir: &Path) {
        assert_eq!(misspelt_jail_options(dir), Vec::<String>::new());
        let filters: Vec<PathBuf> = std::fs::read_dir(dir.join("filter.d"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        assert!(filters.len() > 20, "{filters:?}");
        for filter in filters {
            let files = [filter.clone()];
            assert_eq!(
                misspelt_filter_options(&files),
                Vec::<String>::new(),
                "{filter:?}"
            );
        }
    }

    /// Debian's own configuration (when the fail2ban package is installed) and
    /// ferroban's have no key that looks misspelt, in their jails or in any filter:
    /// their variables are all in use.
    #[test]
    fn the_shipped_configurations_have_no_misspelt_option() {
        assert_none_misspelt(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config"));
        let debian = Path::new("/etc/fail2ban");
        if !debian.join("jail.conf").is_file() {
            eprintln!(
                "SKIPPED: /etc/fail2ban/jail.conf is not installed (apt-get install fail2ban)"
            );
            return;
        }
        assert_none_misspelt(debian);
    }
}
