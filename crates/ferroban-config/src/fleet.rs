//! The fleet settings: the `[Fleet]` section of `ferroban.local` (or of
//! `fail2ban.local` in a Fail2ban configuration directory), and the jail option
//! `fleet = off | share | publish | apply`.
//!
//! Owns turning that text into typed settings with file/line errors: the engine's
//! URLs, this host's name, one way of logging in, TLS files, the bucket, and the
//! limits on what other hosts may send. It does not connect to anything.

use std::path::{Path, PathBuf};

use crate::{Config, ConfigError};

/// How a jail takes part in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FleetMode {
    /// Not at all (the default).
    #[default]
    Off,
    /// Publish this host's bans and apply the others'.
    Share,
    /// Only publish this host's bans.
    Publish,
    /// Only apply the others' bans.
    Apply,
}

impl FleetMode {
    /// Parse the jail option's value.
    pub fn parse(text: &str) -> Option<FleetMode> {
        match text.trim().to_lowercase().as_str() {
            "" | "off" | "no" | "false" => Some(FleetMode::Off),
            "share" => Some(FleetMode::Share),
            "publish" => Some(FleetMode::Publish),
            "apply" => Some(FleetMode::Apply),
            _ => None,
        }
    }

    /// Whether this host's bans (and failures) of the jail go to the fleet.
    pub fn publishes(self) -> bool {
        matches!(self, FleetMode::Share | FleetMode::Publish)
    }

    /// Whether the fleet's bans (and failure counts) apply to the jail here.
    pub fn applies(self) -> bool {
        matches!(self, FleetMode::Share | FleetMode::Apply)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FleetMode::Off => "off",
            FleetMode::Share => "share",
            FleetMode::Publish => "publish",
            FleetMode::Apply => "apply",
        }
    }
}

/// How this host logs in to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetAuth {
    None,
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// A NATS `.creds` file (JWT and NKey seed).
    Credentials(PathBuf),
}

/// The `[Fleet]` section, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSettings {
    /// `nats://` or `tls://` URLs of the engine's servers.
    pub urls: Vec<String>,
    /// This host's name in the fleet (a subject token: letters, digits, `-`, `_`).
    pub name: String,
    pub auth: FleetAuth,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The KV bucket of bans in force; the failures' stream is named after it.
    pub bucket: String,
    /// Bans applied per second from one origin, on average (bursts of 100 s worth).
    pub hostrate: u32,
    /// Bans applied per second from all origins together (bursts of 100 s worth).
    pub totalrate: u32,
    /// The file that sets `password` or `token` (to warn when others can read it).
    pub secret_file: Option<PathBuf>,
}

const DEFAULT_BUCKET: &str = "ferroban";
/// The options of `[Fleet]`; any other key there is an error (a misspelt
/// `name` would otherwise leave this host under its hostname).
pub const FLEET_OPTIONS: [&str; 12] = [
    "url",
    "name",
    "user",
    "password",
    "token",
    "credentials",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "bucket",
    "hostrate",
    "totalrate",
];
const DEFAULT_HOSTRATE: u32 = 2_000;
const DEFAULT_TOTALRATE: u32 = 20_000;

/// Whether `text` can be one token of a NATS subject and of a KV key.
pub fn is_fleet_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// This machine's host name (the default fleet name).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace('.', "-"))
        .unwrap_or_default()
}

impl FleetSettings {
    /// What to say of a password (or token) in a file other users can read.
    pub fn readable_secret_warning(&self) -> Option<String> {
        // A .creds file holds the NKey seed, this host's secret.
        if let FleetAuth::Credentials(path) = &self.auth {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).ok()?.permissions().mode();
            return (mode & 0o077 != 0).then(|| {
                format!(
                    "[Fleet] credentials = {}: its NKey seed is readable by other users \
                     (mode {:o}): chmod 600 it",
                    path.display(),
                    mode & 0o777
                )
            });
        }
        let file = self.secret_file.as_deref()?;
        crate::secret_file_warning("[Fleet] password (or token)", file)
    }

    /// Read `[Fleet]` under `basedir` (from `fail2ban.*`, then `ferroban.*`, the
    /// latter winning option by option). `Ok(None)` when there is no such section.
    pub fn load(basedir: &Path) -> Result<Option<FleetSettings>, ConfigError> {
        let mut configs = Vec::new();
        for name in ["fail2ban", "ferroban"] {
            if let Some(cfg) = Config::read_named(basedir, name)? {
                if cfg.has_section("Fleet") {
                    configs.push(cfg);
                }
            }
        }
        if configs.is_empty() {
            return Ok(None);
        }
        let reader = SectionReader { configs: &configs };
        reader.settings().map(Some)
    }

    /// The URLs as they may be shown (status, dashboard, log): a URL may carry
    /// `user:password@`, which the dashboard would show to whoever can read it,
    /// so that part becomes `***@`.
    pub fn urls_for_display(&self) -> String {
        let shown: Vec<String> = self.urls.iter().map(|u| without_userinfo(u)).collect();
        shown.join(",")
    }
}

/// Why `url` cannot name a NATS server: the engine's client would refuse it (or
/// try it forever as an unreachable server), so `check` refuses it first.
fn url_problem(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("is not a nats:// or tls:// URL".into());
    };
    if scheme != "nats" && scheme != "tls" {
        return Err(format!("has the scheme {scheme}://, not nats:// or tls://"));
    }
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("holds {c:?}"));
    }
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => {
            let Some((address, after)) = bracketed.split_once(']') else {
                return Err("opens an IPv6 address with [ but never closes it".into());
            };
            if address.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("has {address:?} in brackets, not an IPv6 address"));
            }
            match after {
                "" => (address, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (address, Some(port)),
                    None => return Err(format!("has {after:?} after the address")),
                },
            }
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let name_ok = |h: &str| {
        !h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    if !host_port.starts_with('[') && !name_ok(host) {
        return Err(format!(
            "has {host:?} as its host, which is no host name or address"
        ));
    }
    match port.map(|p| (p, p.parse::<u16>())) {
        Some((p, Ok(0) | Err(_))) => Err(format!("has the port {p:?}: a port is 1 to 65535")),
        _ => Ok(()),
    }
}

/// `url` with its `user:password@` part, if any, replaced by `***@`.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// The `[Fleet]` sections found, the last one that sets an option winning.
struct SectionReader<'a> {
    configs: &'a [Config],
}

impl SectionReader<'_> {
    /// The value of `key` and the configuration it came from.
    fn lookup(&self, key: &str) -> Result<Option<(String, &Config)>, ConfigError> {
        for cfg in self.configs.iter().rev() {
            if let Some(v) = cfg.get("Fleet", key, &[])? {
                return Ok(Some((v.trim().to_string(), cfg)));
            }
        }
        Ok(None)
    }

    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.lookup(key)?.map(|(v, _)| v).filter(|v| !v.is_empty()))
    }

    /// An error at `key`'s line, or, for a key that is not set (no `url`), at the
    /// first line of the last `[Fleet]` section, or at its file when it is empty.
    fn error(&self, key: &str, message: String, hint: &str) -> ConfigError {
        let last = self.configs.last();
        let first_option = || {
            let fleet = last?.section("Fleet")?;
            fleet.iter().next().map(|(_, e)| e.origin.clone())
        };
        let origin = self
            .configs
            .iter()
            .rev()
            .find_map(|c| c.origin("Fleet", key))
            .or_else(first_option);
        let (file, line) = match origin {
            Some(o) => (o.file, o.line),
            None => (
                last.and_then(|c| c.files().last().cloned())
                    .unwrap_or_default(),
                0,
            ),
        };
        ConfigError::at(&file, line, format!("[Fleet] {message}"), hint)
    }

    /// A file the TLS handshake reads: it must be there, or the host could not
    /// connect, which `check` would not have said.
    fn path(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(path) = self.text(key)?.map(PathBuf::from) else {
            return Ok(None);
        };
        let (what, marker) = match key {
            "credentials" => (
                "the NATS credentials file (.creds: JWT and NKey seed)",
                "-----BEGIN NATS USER JWT-----",
            ),
            "tls_key" => ("the PEM file of the private key", "PRIVATE KEY-----"),
            _ => (
                "the PEM file of the certificate",
                "-----BEGIN CERTIFICATE-----",
            ),
        };
        if !path.is_file() {
            return Err(self.error(
                key,
                format!("{key} = {}: no such file", path.display()),
                &format!("give the path of {what}"),
            ));
        }
        // What this user cannot read, the server (root) may: only a file read here
        // is judged by its content.
        if let Ok(text) = std::fs::read(&path) {
            let holds = |m: &str| text.windows(m.len()).any(|w| w == m.as_bytes());
            if !holds(marker) {
                return Err(self.error(
                    key,
                    format!(
                        "{key} = {}: not {what} (no \"{marker}\" in it)",
                        path.display()
                    ),
                    &format!("give the path of {what}"),
                ));
            }
        }
        Ok(Some(path))
    }

    fn rate(&self, key: &str, default: u32) -> Result<u32, ConfigError> {
        match self.text(key)? {
            None => Ok(default),
            Some(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                self.error(
                    key,
                    format!("{key} = {v:?} is not a positive count"),
                    "write bans per second, such as 2000",
                )
            }),
        }
    }

    /// An error for the first key of a `[Fleet]` section that is not one of
    /// [`FLEET_OPTIONS`], at its file and line, naming the closest option.
    fn unknown_keys(&self) -> Result<(), ConfigError> {
        for cfg in self.configs {
            let Some(section) = cfg.section("Fleet") else {
                continue;
            };
            for (key, entry) in section.iter() {
                if FLEET_OPTIONS.contains(&key) {
                    continue;
                }
                let valid = FLEET_OPTIONS.join(", ");
                let hint = match crate::suggest::closest(key, FLEET_OPTIONS) {
                    Some(near) => format!("did you mean {near}? [Fleet] takes {valid}"),
                    None => format!("[Fleet] takes {valid}"),
                };
                return Err(ConfigError::at(
                    &entry.origin.file,
                    entry.origin.line,
                    format!("[Fleet] has no option {key:?}"),
                    hint,
                ));
            }
        }
        Ok(())
    }

    fn settings(&self) -> Result<FleetSettings, ConfigError> {
        self.unknown_keys()?;
        let urls: Vec<String> = self
            .text("url")?
            .unwrap_or_default()
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err(self.error(
                "url",
                "has no url".into(),
                "set url = nats://engine.example:4222 (several: comma-separated)",
            ));
        }
        for url in &urls {
            if let Err(why) = url_problem(url) {
                return Err(self.error(
                    "url",
                    format!("url {:?} {why}", without_userinfo(url)),
                    "write nats://host:4222 or tls://host:4222 (an IPv6 address in \
                     brackets: tls://[2001:db8::1]:4222)",
                ));
            }
        }
        let name = self.text("name")?.unwrap_or_else(hostname);
        if !is_fleet_token(&name) {
            return Err(self.error(
                "name",
                format!("name {name:?} cannot be a fleet host name"),
                "use letters, digits, '-' and '_' only (at most 64)",
            ));
        }
        let bucket = self
            .text("bucket")?
            .unwrap_or_else(|| DEFAULT_BUCKET.into());
        if !is_fleet_token(&bucket) {
            return Err(self.error(
                "bucket",
                format!("bucket {bucket:?} is not a valid bucket name"),
                "use letters, digits, '-' and '_' only",
            ));
        }
        let (tls_cert, tls_key) = (self.path("tls_cert")?, self.path("tls_key")?);
        if tls_cert.is_some() != tls_key.is_some() {
            let (set, missing) = match tls_cert {
                Some(_) => ("tls_cert", "tls_key"),
                None => ("tls_key", "tls_cert"),
            };
            return Err(self.error(
                set,
                format!("{set} is set without {missing}"),
                "a client certificate needs both tls_cert and tls_key",
            ));
        }
        Ok(FleetSettings {
            urls,
            name,
            auth: self.auth()?,
            tls_ca: self.path("tls_ca")?,
            tls_cert,
            tls_key,
            bucket,
            hostrate: self.rate("hostrate", DEFAULT_HOSTRATE)?,
            totalrate: self.rate("totalrate", DEFAULT_TOTALRATE)?,
            secret_file: ["password", "token"].iter().find_map(|key| {
                let mut files = self.configs.iter().rev();
                files.find_map(|c| c.origin("Fleet", key)).map(|o| o.file)
            }),
        })
    }

    fn auth(&self) -> Result<FleetAuth, ConfigError> {
        let user = self.text("user")?;
        let password = self.text("password")?;
        let token = self.text("token")?;
        let creds = self.path("credentials")?;
        let ways = [user.is_some(), token.is_some(), creds.is_some()];
        if ways.iter().filter(|w| **w).count() > 1 {
            let key = if token.is_some() {
                "token"
            } else {
                "credentials"
            };
            return Err(self.error(
                key,
                "sets more than one way of logging in".into(),
                "use user + password, or token, or credentials",
            ));
        }
        match (user, password, token, creds) {
            (Some(user), Some(password), ..) => Ok(FleetAuth::UserPassword { user, password }),
            (Some(_), None, ..) => Err(self.error(
                "user",
                "has a user but no password".into(),
                "set password = … beside user",
            )),
            (None, Some(_), None, None) => Err(self.error(
                "password",
                "has a password but no user".into(),
                "set user = … beside password",
            )),
            (_, _, Some(token), _) => Ok(FleetAuth::Token(token)),
            (_, _, _, Some(path)) => Ok(FleetAuth::Credentials(path)),
            _ => Ok(FleetAuth::None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ferroban-fleetcfg-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn no_section_is_no_fleet() {
        let d = dir("none");
        std::fs::write(d.join("ferroban.local"), "[Definition]\nloglevel = INFO\n").unwrap();
        assert_eq!(FleetSettings::load(&d).unwrap(), None);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn settings_with_defaults_and_fail2ban_local() {
        let d = dir("ok");
        std::fs::write(
            d.join("fail2ban.local"),
            "[Fleet]\nurl = nats://a:4222, tls://b:4222\nname = web1\nuser = web1\npassword = s3cret\n",
        )
        .unwrap();
        let s = FleetSettings::load(&d).unwrap().unwrap();
        assert_eq!(s.urls, vec!["nats://a:4222", "tls://b:4222"]);
        assert_eq!(s.name, "web1");
        assert_eq!(s.bucket, "ferroban");
        assert_eq!(
            s.auth,
            FleetAuth::UserPassword {
                user: "web1".into(),
                password: "s3cret".into()
            }
        );
        std::fs::write(d.join("ferroban.local"), "[Fleet]\nname = web2\n").unwrap();
        assert_eq!(FleetSettings::load(&d).unwrap().unwrap().name, "web2");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn errors_name_file_and_line() {
        let d = dir("bad");
        for (text, line, word) in [
            ("[Fleet]\nname = a\nurl = http://x\n", 3, "nats://"),
            ("[Fleet]\nurl = tls://10.0.0.1:99999\n", 2, "1 to 65535"),
            (
                "[Fleet]\nurl = nats://a:4222, tls://[::1:4222\n",
                2,
                "never closes",
            ),
            (
                "[Fleet]\nurl = tls://engine .example:4222\n",
                2,
                "holds ' '",
            ),
            ("[Fleet]\nurl = nats://:4222\n", 2, "no host name"),
            ("[Fleet]\nurl = nats://[db8::zz]:4222\n", 2, "not an IPv6"),
            ("[Fleet]\nurl = nats://x\nname = web.1\n", 3, "host name"),
            ("[Fleet]\nurl = nats://x\nuser = u\n", 3, "password"),
            (
                "[Fleet]\nurl = nats://x\nuser = u\npassword = p\ntoken = t\n",
                5,
                "more than one",
            ),
            ("[Fleet]\nurl = nats://x\nhostrate = fast\n", 3, "hostrate"),
            (
                "[Fleet]\nurl = tls://x\ntls_ca = /nonexistent/ca.pem\n",
                3,
                "tls_ca = /nonexistent/ca.pem: no such file",
            ),
            (
                "[Fleet]\nurl = tls://x\ntls_ca = /etc/passwd\n",
                3,
                "tls_ca = /etc/passwd: not the PEM file of the certificate",
            ),
            (
                "[Fleet]\nurl = tls://x\ncredentials = /etc/passwd\n",
                3,
                "not the NATS credentials file",
            ),
            // no url: at the section's first line (before, no file at all)
            ("[Definition]\n\n[Fleet]\nname = web1\n", 4, "has no url"),
            ("[Fleet]\n", 0, "has no url"),
        ] {
            std::fs::write(d.join("ferroban.local"), text).unwrap();
            let e = FleetSettings::load(&d).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.file.ends_with("ferroban.local"), "{e}");
            assert!(e.to_string().contains(word), "{e}");
        }
        let cert = d.join("cert.pem");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
        let text = format!("[Fleet]\nurl = tls://x\ntls_cert = {}\n", cert.display());
        std::fs::write(d.join("ferroban.local"), text).unwrap();
        let e = FleetSettings::load(&d).unwrap_err();
        assert!(
            e.to_string().contains("tls_cert is set without tls_key"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn an_unknown_key_is_an_error_at_its_line_naming_the_closest_option() {
        let d = dir("unknown");
        std::fs::write(
            d.join("ferroban.local"),
            "[Fleet]\nurl = nats://x\nnmae = web9\nuser = u\npassword = p\n",
        )
        .unwrap();
        let e = FleetSettings::load(&d).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.file.ends_with("ferroban.local"), "{e}");
        assert_eq!(e.message, "[Fleet] has no option \"nmae\"");
        assert!(
            e.hint
                .starts_with("did you mean name? [Fleet] takes url, name, "),
            "{e}"
        );
        // No option near it: the hint lists them all.
        std::fs::write(
            d.join("ferroban.local"),
            "[Fleet]\nurl = nats://x\nenabled = true\n",
        )
        .unwrap();
        let e = FleetSettings::load(&d).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert_eq!(
            e.hint,
            format!("[Fleet] takes {}", FLEET_OPTIONS.join(", ")),
            "{e}"
        );
        // Found in a file of ferroban.d too, at its own line.
        std::fs::write(d.join("ferroban.local"), "[Fleet]\nurl = nats://x\n").unwrap();
        std::fs::create_dir_all(d.join("ferroban.d")).unwrap();
        std::fs::write(
            d.join("ferroban.d/fleet.local"),
            "[Fleet]\nuser = u\npassword = p\ntls-ca = /etc/ca.pem\n",
        )
        .unwrap();
        let e = FleetSettings::load(&d).unwrap_err();
        assert!(e.file.ends_with("ferroban.d/fleet.local"), "{e}");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.hint.starts_with("did you mean tls_ca?"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn the_password_can_live_in_a_file_of_its_own_in_ferroban_d() {
        let d = dir("secretfile");
        std::fs::write(
            d.join("ferroban.local"),
            "[Fleet]\nurl = nats://x\nname = web1\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.join("ferroban.d")).unwrap();
        std::fs::write(
            d.join("ferroban.d/fleet-secret.local"),
            "[Fleet]\nuser = web1\npassword = s3cret\n",
        )
        .unwrap();
        let s = FleetSettings::load(&d).unwrap().unwrap();
        assert_eq!(s.name, "web1");
        assert_eq!(
            s.auth,
            FleetAuth::UserPassword {
                user: "web1".into(),
                password: "s3cret".into()
            }
        );
        assert_eq!(s.secret_file, Some(d.join("ferroban.d/fleet-secret.local")));
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn modes() {
        assert_eq!(FleetMode::parse("Share"), Some(FleetMode::Share));
        assert_eq!(FleetMode::parse(""), Some(FleetMode::Off));
        assert_eq!(FleetMode::parse("everything"), None);
        assert!(FleetMode::Share.publishes() && FleetMode::Share.applies());
        assert!(FleetMode::Publish.publishes() && !FleetMode::Publish.applies());
        assert!(!FleetMode::Apply.publishes() && FleetMode::Apply.applies());
    }

    #[test]
    fn urls_are_shown_without_their_credentials() {
        let d = dir("userinfo");
        std::fs::write(
            d.join("ferroban.local"),
            "[Fleet]\nurl = nats://web1:s3cret@a:4222, tls://b:4222, nats://tok@c\nname = web1\n",
        )
        .unwrap();
        let s = FleetSettings::load(&d).unwrap().unwrap();
        assert_eq!(
            s.urls_for_display(),
            "nats://***@a:4222,tls://b:4222,nats://***@c"
        );
        std::fs::remove_dir_all(&d).ok();
    }
}
