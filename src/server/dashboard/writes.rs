//! The dashboard's writes: `POST /api/ban` and `POST /api/unban`.
//!
//! Owns who may write and what a write may say. A write needs the same origin
//! (`Origin` equal to the page's own host: no cross-site form or fetch gets
//! through, and no CORS header is ever sent), `Authorization: Bearer TOKEN` with
//! the `dashboard_token`, a JSON body `{"jail": …, "ip": …}` with a valid address,
//! and is logged with its source either way. The ban itself is the server's
//! `set JAIL banip|unbanip` command, so `ignoreip` and every other rule apply as
//! they do for the client.

use std::net::IpAddr;
use std::time::Instant;

use ferroban_actions::Severity;
use serde_json::{json, Value};

use super::super::http::{Request, Response, ServerLink};
use super::super::log::{Component, Logger};
use super::guesses::{Guesses, MAX_WRONG, WINDOW};

/// The longest jail name a write may give.
const MAX_JAIL_NAME: usize = 100;

/// Why a write is refused, and the status that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    /// Seconds after which the source may try again (a lock-out's `Retry-After`).
    pub retry_after: Option<u64>,
}

fn refuse(status: u16, reason: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason: reason.into(),
        retry_after: None,
    }
}

impl Refusal {
    /// The refusal as the API answers it: `WWW-Authenticate` with a 401, and when
    /// to come back with a lock-out.
    fn response(&self, body: &Value) -> Response {
        let refused = Response::json(self.status, body);
        match (self.status, self.retry_after) {
            (401, _) => refused.with_header("WWW-Authenticate", "Bearer"),
            (_, Some(seconds)) => refused.with_header("Retry-After", seconds.to_string()),
            _ => refused,
        }
    }
}

/// [`authorize`] for a source that too many wrong tokens lock out (see
/// [`Guesses`]): a locked-out source is refused before anything is checked (429);
/// a wrong token is counted, and the right one clears the count.
pub fn authorize_counted(
    request: &Request,
    token: Option<&str>,
    guesses: &Guesses,
    log: &Logger,
) -> Result<(), Refusal> {
    let peer = request.peer.ip();
    let now = Instant::now();
    if let Some(left) = guesses.locked_for(peer, now) {
        let seconds = left.as_secs().max(1);
        return Err(Refusal {
            status: 429,
            reason: format!(
                "too many wrong tokens from {peer}: its writes are refused for {seconds} s"
            ),
            retry_after: Some(seconds),
        });
    }
    let checked = authorize(request, token);
    match &checked {
        Ok(()) => guesses.right(peer),
        // a token given, and not the one in force
        Err(r) if r.status == 401 && request.header("authorization").is_some() => {
            if guesses.wrong(peer, now) {
                log.log(
                    Component::Server,
                    Severity::Warning,
                    &format!(
                        "Dashboard: {MAX_WRONG} wrong tokens from {peer} within {} minutes: \
                         its writes are refused until then",
                        WINDOW.as_secs() / 60
                    ),
                );
            }
        }
        Err(_) => {}
    }
    checked
}

/// Whether `request` comes from the dashboard's own page with the token.
pub fn authorize(request: &Request, token: Option<&str>) -> Result<(), Refusal> {
    same_origin(request)?;
    let Some(token) = token else {
        return Err(refuse(403, "writes are off: no dashboard_token is set"));
    };
    // The scheme's name is case-insensitive (RFC 9110, 11.1).
    let given = request.header("authorization").and_then(|v| {
        v.get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
            .and_then(|_| v.get(7..))
            .map(str::trim)
    });
    if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
        return Err(refuse(401, "a valid Authorization: Bearer token is needed"));
    }
    let json = request.header("content-type").is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(refuse(415, "the body must be application/json"));
    }
    Ok(())
}

/// Whether `request` comes from a page of the dashboard's own origin.
///
/// A browser says so itself with `Sec-Fetch-Site: same-origin`, a header no page
/// can set: that is the sign that holds behind a reverse proxy, where the page's
/// origin is the proxy's (`https://dash.example.org`) while `Host` is this
/// listener's. Where it is absent (curl, a browser older than 2023, or a page
/// over plain HTTP on a name, which browsers do not tell), `Origin` must be this
/// listener's own, as `Host` names it.
fn same_origin(request: &Request) -> Result<(), Refusal> {
    let Some(origin) = request.header("origin") else {
        return Err(refuse(
            403,
            "origin-less write refused: the page sends Origin",
        ));
    };
    match request.header("sec-fetch-site") {
        Some("same-origin") => Ok(()),
        Some(site) => Err(refuse(
            403,
            format!("cross-site write refused (the browser says {site:?}, from {origin:?})"),
        )),
        None => {
            let host = request.header("host").unwrap_or("");
            let own = !host.is_empty()
                && (origin == format!("http://{host}") || origin == format!("https://{host}"));
            if own {
                Ok(())
            } else {
                Err(refuse(
                    403,
                    format!(
                        "cross-site write refused: Origin {origin:?} is not this listener's \
                         ({host:?}); behind a proxy, serve the page over HTTPS"
                    ),
                ))
            }
        }
    }
}

/// Compare secrets in time that does not depend on where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

/// The jail and address of a write's body.
pub fn parse_body(body: &[u8]) -> Result<(String, IpAddr), Refusal> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| refuse(400, "the body is not JSON"))?;
    let jail = value["jail"]
        .as_str()
        .ok_or_else(|| refuse(400, "\"jail\" is missing"))?;
    // Jail names are section names: one short line, which the log may quote.
    if jail.is_empty() || jail.len() > MAX_JAIL_NAME || jail.chars().any(char::is_control) {
        return Err(refuse(400, "\"jail\" is not a jail name"));
    }
    let ip = value["ip"]
        .as_str()
        .ok_or_else(|| refuse(400, "\"ip\" is missing"))?;
    let ip = ip
        .trim()
        .parse()
        .map_err(|_| refuse(400, format!("{ip:?} is not an IP address")))?;
    Ok((jail.to_string(), ip))
}

/// Carry out a ban (`ban` true) or an unban asked by `request`, and log it.
pub fn write(
    request: &Request,
    ban: bool,
    token: Option<&str>,
    guesses: &Guesses,
    server: &ServerLink,
    log: &Logger,
) -> Response {
    let what = if ban { "ban" } else { "unban" };
    let source = request.peer;
    let checked =
        authorize_counted(request, token, guesses, log).and_then(|()| parse_body(&request.body));
    let (jail, ip) = match checked {
        Ok(target) => target,
        Err(r) => {
            // What was asked, when the body says it: the log is where an admin
            // looks for who tried to unban whom.
            let target = parse_body(&request.body).map_or(String::new(), |(jail, ip)| {
                format!(" of {ip} in jail {jail:?}")
            });
            log.log(
                Component::Server,
                Severity::Warning,
                &format!(
                    "Dashboard {what}{target} from {source} refused: {}",
                    r.reason
                ),
            );
            return r.response(&json!({"error": r.reason}));
        }
    };
    let ip_text = ip.to_string();
    // a refused ban is told why (`--report-ignored`), as ferroban's own `ban`
    let words: Vec<&str> = match ban {
        true => vec!["set", &jail, "banip", "--report-ignored", &ip_text],
        false => vec!["set", &jail, "unbanip", &ip_text],
    };
    let answer = server.ask(&words).map(changed);
    // The jail name comes from the request: quoted, so it cannot break the log line.
    let outcome = match &answer {
        Ok(a) => match a["message"].as_str() {
            Some(message) => message.to_string(),
            None => format!("{} changed", a["changed"]),
        },
        Err(e) => format!("failed: {e}"),
    };
    log.log(
        Component::Server,
        Severity::Notice,
        &format!("Dashboard {what} of {ip} in jail {jail:?} from {source}: {outcome}"),
    );
    super::json_answer(answer)
}

/// `POST /api/token`: whether the token the page was given is the one in force,
/// asked as a write is (same origin, `Authorization: Bearer`, JSON), so that the
/// page can say at once that a token is wrong or that this server takes no
/// writes. It tells nothing a write would not.
/// A refused check is logged as a refused write is: a wrong token is a failed
/// sign-in.
pub fn check_token(
    request: &Request,
    token: Option<&str>,
    guesses: &Guesses,
    log: &Logger,
) -> Response {
    match authorize_counted(request, token, guesses, log) {
        Ok(()) => Response::json(200, &json!({"writes": true})),
        Err(r) => {
            log.log(
                Component::Server,
                Severity::Warning,
                &format!(
                    "Dashboard token check from {} refused: {}",
                    request.peer, r.reason
                ),
            );
            r.response(&json!({"error": r.reason, "writes": token.is_some()}))
        }
    }
}

/// The API's answer to a write: `changed` is always a count; the server's words
/// when it says more than one (`0 banned; not banned: … (it is in ignoreip …)`)
/// are the `message`.
fn changed(answer: Value) -> Value {
    match answer {
        Value::String(message) => {
            let count: u64 = message
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            json!({"changed": count, "message": message})
        }
        count => json!({"changed": count}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::http::read_request;

    const TOKEN: &str = "0123456789abcdef01234567";

    fn request(headers: &str) -> Request {
        let raw = format!("POST /api/ban HTTP/1.1\r\nHost: 127.0.0.1:9191\r\n{headers}\r\n");
        read_request(&mut raw.as_bytes(), "127.0.0.1:5000".parse().unwrap()).unwrap()
    }

    const GOOD: &str = "Origin: http://127.0.0.1:9191\r\nAuthorization: Bearer 0123456789abcdef01234567\r\nContent-Type: application/json\r\n";

    #[test]
    fn the_page_with_the_token_may_write() {
        assert_eq!(authorize(&request(GOOD), Some(TOKEN)), Ok(()));
        let fetch = format!("{GOOD}Sec-Fetch-Site: same-origin\r\n");
        assert_eq!(authorize(&request(&fetch), Some(TOKEN)), Ok(()));
        let lower = GOOD.replace("Bearer", "bearer");
        assert_eq!(authorize(&request(&lower), Some(TOKEN)), Ok(()));
    }

    #[test]
    fn behind_a_proxy_the_browser_vouches_for_the_origin() {
        // The page is the proxy's (https://dash.example.org), Host the listener's.
        let proxied = GOOD.replace("http://127.0.0.1:9191", "https://dash.example.org");
        let fetch = format!("{proxied}Sec-Fetch-Site: same-origin\r\n");
        assert_eq!(authorize(&request(&fetch), Some(TOKEN)), Ok(()));
        let refused = authorize(&request(&proxied), Some(TOKEN)).unwrap_err();
        assert_eq!(refused.status, 403);
        assert!(
            refused.reason.contains("\"https://dash.example.org\"")
                && refused.reason.contains("serve the page over HTTPS"),
            "{refused:?}"
        );
        let same_site = format!("{proxied}Sec-Fetch-Site: same-site\r\n");
        assert_eq!(
            authorize(&request(&same_site), Some(TOKEN))
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn other_sites_no_origin_and_wrong_tokens_are_refused() {
        let status = |headers: &str, token| authorize(&request(headers), token).unwrap_err().status;
        assert_eq!(status(GOOD, None), 403, "no token configured: read-only");
        let evil = GOOD.replace("http://127.0.0.1:9191", "http://evil.example");
        assert_eq!(status(&evil, Some(TOKEN)), 403);
        let no_origin = GOOD.replace("Origin: http://127.0.0.1:9191\r\n", "");
        assert_eq!(status(&no_origin, Some(TOKEN)), 403);
        let cross = format!("{GOOD}Sec-Fetch-Site: cross-site\r\n");
        assert_eq!(status(&cross, Some(TOKEN)), 403);
        let wrong = GOOD.replace("567\r\n", "568\r\n");
        assert_eq!(status(&wrong, Some(TOKEN)), 401);
        let prefix = GOOD.replace("01234567\r\n", "\r\n");
        assert_eq!(status(&prefix, Some(TOKEN)), 401);
        let none = GOOD.replace("Authorization: Bearer 0123456789abcdef01234567\r\n", "");
        assert_eq!(status(&none, Some(TOKEN)), 401);
        let form = GOOD.replace("application/json", "application/x-www-form-urlencoded");
        assert_eq!(status(&form, Some(TOKEN)), 415);
    }

    #[test]
    fn bodies_need_a_jail_and_a_valid_address() {
        assert_eq!(
            parse_body(br#"{"jail":"sshd","ip":" 192.0.2.1 "}"#).unwrap(),
            ("sshd".to_string(), "192.0.2.1".parse().unwrap())
        );
        for bad in [
            &br#"{"jail":"sshd","ip":"192.0.2.1; rm -rf /"}"#[..],
            br#"{"jail":"","ip":"192.0.2.1"}"#,
            br#"{"jail":"a\nNOTICE [x] Ban 192.0.2.9","ip":"192.0.2.1"}"#,
            br#"{"ip":"192.0.2.1"}"#,
            br#"{"jail":"sshd"}"#,
            b"jail=sshd&ip=192.0.2.1",
        ] {
            assert_eq!(
                parse_body(bad).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn changed_is_always_a_count() {
        assert_eq!(changed(json!(1)), json!({"changed": 1}));
        let refused = "0 banned; not banned: 127.0.0.1 (it is in ignoreip (127.0.0.0/8))";
        assert_eq!(
            changed(json!(refused)),
            json!({"changed": 0, "message": refused})
        );
    }
}
