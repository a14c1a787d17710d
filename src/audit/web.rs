//! `web-secret-files`: does the web server hand out secrets that scanners ask for?
//!
//! For each `--url` (default `http://127.0.0.1/` when something listens on port
//! 80), asks for the paths the guide's scanners asked for, with curl, and never
//! follows a redirect. A site named by host name is still reached on this host
//! (curl's `--connect-to` sends the request to 127.0.0.1 with the name in the
//! Host header and TLS SNI); an address that is not this host's is refused.

use std::net::IpAddr;

use super::{run_program, Finding, Scope, Status};

/// What scanners ask for (the guide's access log).
const SECRET_PATHS: [&str; 5] = [
    ".env",
    ".git/config",
    "wp-config.php.bak",
    ".aws/credentials",
    "docker-compose.yml",
];

/// The nginx locations deny every path in [`SECRET_PATHS`] (dot-files and
/// dot-directories, Docker Compose files, backups) but keep `/.well-known/`
/// reachable, where Let's Encrypt's HTTP challenge is answered.
const FIX: &str = concat!(
    "answer 403 or 404 for dot-files and backups in the web server itself, not a redirect \
     or an error of the application behind it (the Apache rules in ",
    hardening_guide!(),
    "; nginx, before other \
                   regex locations: `location ~ /\\.(?!well-known/) { deny all; }` and \
                   `location ~* (?:docker-compose\\.ya?ml|\\.bak|~)$ { deny all; }`, which \
                   keep /.well-known/ reachable for Let's Encrypt)"
);

/// The parts of a URL the check needs.
#[derive(Debug, PartialEq)]
pub struct Site {
    scheme: String,
    host: String,
    /// Everything after the host, ending in `/`.
    base: String,
}

/// Read `url` (`http://` or `https://`, a host, an optional port and path).
pub fn parse_url(url: &str) -> Result<Site, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("expected http://HOST/ or https://HOST/")?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("scheme {scheme} is not http or https"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() || authority.contains('@') {
        return Err("no host, or credentials in the URL".into());
    }
    let mut base = format!("{scheme}://{authority}{path}");
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(Site {
        scheme: scheme.to_string(),
        host: host.to_string(),
        base,
    })
}

pub fn secret_files(ctx: &Scope) -> Finding {
    let urls = if ctx.urls.is_empty() {
        if !listens_on_port_80() {
            return Finding::skip("nothing listens on port 80 and no --url was given");
        }
        vec!["http://127.0.0.1/".to_string()]
    } else {
        ctx.urls.clone()
    };
    let mut worst = Status::Pass;
    let mut seen = Vec::new();
    for url in &urls {
        let site = match parse_url(url) {
            Ok(s) => s,
            Err(e) => return Finding::skip(format!("{url}: {e}")),
        };
        match probe_site(&site) {
            Ok(results) => {
                for (path, status, text) in results {
                    worst = worst.max(status);
                    seen.push(format!("{}{path}: {text}", site.base));
                }
            }
            Err(e) => {
                worst = worst.max(Status::Skip);
                seen.push(format!("{url}: {e}"));
            }
        }
    }
    let seen = seen.join("; ");
    match worst {
        Status::Pass => Finding::pass(seen),
        Status::Skip => Finding::skip(seen),
        Status::Warn => Finding::warn(seen, FIX),
        Status::Fail => Finding::fail(seen, FIX),
    }
}

/// What a site answered for one path: the status code, the redirect target,
/// and the body's length and hash (to tell a page served for every path).
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    code: u16,
    location: String,
    length: u64,
    hash: u64,
}

/// Where curl's `--write-out` starts, after the body on stdout.
const WRITE_OUT_MARK: &str = "\nferroban-audit-write-out ";

/// Ask for every secret path of `site`: (path, status, what was answered). A
/// path that cannot exist is asked first: when it answers 2xx too, the site
/// answers every path (a catch-all `try_files $uri /index.html`), and a secret
/// path answering the same page is not served.
fn probe_site(site: &Site) -> Result<Vec<(&'static str, Status, String)>, String> {
    let connect_to = match site.host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() || ferroban_jail::ignore::own_addresses().contains(&ip) => None,
        Ok(ip) => return Err(format!("{ip} is not an address of this host")),
        // A name: reach it on this host, whatever it resolves to.
        Err(_) => Some("::127.0.0.1:".to_string()),
    };
    let nowhere = nonexistent_path();
    let catch_all = Some(fetch(site, &nowhere, connect_to.as_deref())?)
        .filter(|a| (200..=299).contains(&a.code))
        .map(|a| (nowhere, a));
    let mut results = Vec::new();
    for path in SECRET_PATHS {
        let answer = fetch(site, path, connect_to.as_deref())?;
        let catch_all = catch_all.as_ref().map(|(p, a)| (p.as_str(), a));
        let (status, text) = judge(&answer, catch_all);
        results.push((path, status, text));
    }
    Ok(results)
}

/// A path no site has: `ferroban-audit-<random hex>.txt`.
fn nonexistent_path() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("ferroban-audit-{:016x}.txt", h.finish())
}

/// Ask `site` for `path` with curl, never following a redirect.
fn fetch(site: &Site, path: &str, connect_to: Option<&str>) -> Result<Answer, String> {
    let url = format!("{}{path}", site.base);
    let write_out = format!("{WRITE_OUT_MARK}%{{http_code}} %{{size_download}} %{{redirect_url}}");
    let mut args = vec![
        "--silent",
        "--show-error",
        "--output",
        "-",
        "--max-time",
        "5",
        "--write-out",
        &write_out,
    ];
    if site.scheme == "https" {
        // The certificate is not what this check is about.
        args.push("--insecure");
    }
    if let Some(c) = connect_to {
        args.extend(["--connect-to", c]);
    }
    args.push(&url);
    let out = run_program("curl", &args)?;
    let (body, written) = out
        .stdout
        .rsplit_once(WRITE_OUT_MARK)
        .unwrap_or(("", &out.stdout));
    let mut fields = written.splitn(3, ' ');
    let code: u16 = fields.next().unwrap_or("").trim().parse().unwrap_or(0);
    if code == 0 {
        return Err(format!("no answer: {}", out.stderr.trim()));
    }
    let length = fields.next().unwrap_or("").trim().parse().unwrap_or(0);
    let location = fields.next().unwrap_or("").trim().to_string();
    Ok(Answer {
        code,
        location,
        length,
        hash: hash(body),
    })
}

fn hash(body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// The status and text for `answer`; `catch_all` is the path that cannot exist
/// and its answer, when that was 2xx.
fn judge(answer: &Answer, catch_all: Option<(&str, &Answer)>) -> (Status, String) {
    let code = answer.code;
    if let Some((nowhere, page)) = catch_all {
        if (200..=299).contains(&code) && answer.length == page.length && answer.hash == page.hash {
            return (
                Status::Pass,
                format!(
                    "{code} with the same page as /{nowhere}: the site answers every path with \
                     the same page, the file is not served"
                ),
            );
        }
    }
    (classify(code), describe(code, &answer.location))
}

fn classify(code: u16) -> Status {
    match code {
        200..=299 => Status::Fail,
        300..=399 | 500..=599 => Status::Warn,
        _ => Status::Pass,
    }
}

fn describe(code: u16, location: &str) -> String {
    match code {
        200..=299 => format!("{code}, the file is served"),
        300..=399 => format!("{code} to {location}: the redirect tells a scanner the path exists"),
        _ => code.to_string(),
    }
}

fn listens_on_port_80() -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|p| {
        std::fs::read_to_string(p).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[3] == "0A" && f[1].ends_with(":0050")
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_or_refused() {
        let s = parse_url("https://example.org:8443/blog").unwrap();
        assert_eq!(s.host, "example.org");
        assert_eq!(s.base, "https://example.org:8443/blog/");
        assert_eq!(parse_url("http://[::1]/").unwrap().host, "::1");
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://user:pw@x/").is_err());
        assert!(parse_url("example.org").is_err());
    }

    #[test]
    fn answers_are_judged_as_the_guide_does() {
        assert_eq!(classify(200), Status::Fail);
        assert_eq!(classify(301), Status::Warn);
        assert_eq!(classify(403), Status::Pass);
        assert_eq!(classify(404), Status::Pass);
        assert!(describe(301, "https://x/.env").contains("https://x/.env"));
    }

    #[test]
    fn a_site_answering_every_path_with_the_same_page_does_not_serve_the_file() {
        let page = Answer {
            code: 200,
            location: String::new(),
            length: 512,
            hash: hash("<html>app</html>"),
        };
        let catch_all = Some(("ferroban-audit-0123456789abcdef.txt", &page));
        let (status, text) = judge(&page, catch_all);
        assert_eq!(status, Status::Pass, "{text}");
        assert!(
            text.contains("200 with the same page as /ferroban-audit-0123456789abcdef.txt"),
            "{text}"
        );
        assert!(
            text.contains("answers every path with the same page"),
            "{text}"
        );
        let secret = Answer {
            hash: hash("APP_KEY=secret"),
            ..page.clone()
        };
        assert_eq!(judge(&secret, catch_all).0, Status::Fail);
        let longer = Answer {
            length: 513,
            ..page.clone()
        };
        assert_eq!(judge(&longer, catch_all).0, Status::Fail);
        // Without a catch-all, the status rules are the guide's.
        assert_eq!(judge(&page, None).0, Status::Fail);
        let moved = Answer {
            code: 301,
            location: "https://x/.env".into(),
            ..page.clone()
        };
        assert_eq!(judge(&moved, catch_all).0, Status::Warn);
        let random = nonexistent_path();
        assert!(random.starts_with("ferroban-audit-") && random.ends_with(".txt"));
        assert_ne!(random, nonexistent_path());
    }

    #[test]
    fn the_nginx_fix_keeps_well_known_and_covers_every_probed_path() {
        assert!(
            FIX.contains("location ~ /\\.(?!well-known/) { deny all; }"),
            "{FIX}"
        );
        assert!(
            FIX.contains("location ~* (?:docker-compose\\.ya?ml|\\.bak|~)$ { deny all; }"),
            "{FIX}"
        );
        assert!(!FIX.contains("location ~ /\\. {"), "{FIX}");
    }

    #[test]
    fn an_address_of_another_host_is_never_probed() {
        let site = parse_url("http://192.0.2.1/").unwrap();
        assert!(probe_site(&site)
            .unwrap_err()
            .contains("not an address of this host"));
    }
}
