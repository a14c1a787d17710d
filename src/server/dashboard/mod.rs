//! The dashboard: a page in the browser showing the jails, the bans, their history
//! and the fleet, served by the HTTP listener when `dashboard = true`.
//!
//! This module routes the dashboard's paths: the page and its assets (in the
//! binary, `assets`), the read-only JSON API (answered on the server thread by
//! `api`), the charts (`chart`, SVG drawn here from `api`'s numbers) and the
//! two writes (`writes`). It holds no server state and never runs anything from a
//! request but the server's own commands.

pub mod activity;
pub mod api;
mod assets;
mod chart;
mod guesses;
mod writes;

use serde_json::{json, Value};

use super::http::{AskError, Request, Response, ServerLink};
use super::log::{Component, Logger};
use ferroban_actions::Severity;

/// What the page may load: its own script, style and images, and nothing inline.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                        connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Data and charts load nothing at all.
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The read-only API's paths.
const READ_PATHS: [&str; 6] = [
    "/api/overview",
    "/api/bans",
    "/api/jail",
    "/api/activity",
    "/api/chart.svg",
    "/api/fleet",
];

/// The token that allows the dashboard's writes (`None`: read-only), shared with
/// the server, whose `reload` puts a changed `dashboard_token` in force at once
/// (a leaked token is revoked without a restart).
pub type Token = std::sync::Arc<std::sync::RwLock<Option<String>>>;

/// The dashboard of one server.
pub struct Dashboard {
    token: Token,
    /// Wrong tokens by source, which lock it out when too many.
    guesses: guesses::Guesses,
    log: Logger,
}

impl Dashboard {
    pub fn new(token: Token, log: Logger) -> Dashboard {
        Dashboard {
            token,
            guesses: guesses::Guesses::default(),
            log,
        }
    }

    /// Answer one request for a dashboard path.
    pub fn handle(&self, request: &Request, server: &ServerLink) -> Response {
        let method = request.method.as_str();
        let path = request.path.as_str();
        if !addressed_by_address(request.header("host")) {
            return Response::text(
                421,
                "the dashboard answers to its address (127.0.0.1:PORT, [::1]:PORT, localhost), \
                 not to a name; behind a proxy, pass the upstream's address as Host\n",
            );
        }
        if let Some(asset) = assets::find(path) {
            return match method {
                "GET" => Response::new(200, asset.content_type, asset.body)
                    .with_header("Content-Security-Policy", PAGE_CSP)
                    .with_header("Cache-Control", "no-cache"),
                _ => not_allowed("GET"),
            };
        }
        match (method, path) {
            ("POST", "/api/ban" | "/api/unban") => writes::write(
                request,
                path == "/api/ban",
                self.token().as_deref(),
                &self.guesses,
                server,
                &self.log,
            ),
            ("POST", "/api/token") => {
                writes::check_token(request, self.token().as_deref(), &self.guesses, &self.log)
            }
            (_, "/api/ban" | "/api/unban" | "/api/token") => {
                self.log.log(
                    Component::Server,
                    Severity::Warning,
                    &format!(
                        "Dashboard write by {} from {} refused: writes are POST only",
                        request.method.escape_debug(),
                        request.peer
                    ),
                );
                not_allowed("POST")
            }
            ("GET", _) => match self.read(request, server) {
                Some(response) => response
                    .with_header("Content-Security-Policy", DATA_CSP)
                    .with_header("Cache-Control", "no-store"),
                None => Response::text(404, "no such page\n"),
            },
            _ if READ_PATHS.contains(&path) => not_allowed("GET"),
            _ => Response::text(404, "no such page\n"),
        }
    }

    /// The token in force now (`None`: read-only).
    fn token(&self) -> Option<String> {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The read-only API; `None` for a path that is not one of it. The answer of
    /// each page's own view says whether this server takes writes at all
    /// (`"writes"`), so that whichever page is opened first asks for no token
    /// where none would do.
    fn read(&self, request: &Request, server: &ServerLink) -> Option<Response> {
        let ask = |words: &[&str]| json_answer(server.ask(words));
        let writes = self.token().is_some();
        let ask_with_writes = |words: &[&str]| {
            json_answer(server.ask(words).map(|mut answer| {
                answer["writes"] = json!(writes);
                answer
            }))
        };
        Some(match request.path.as_str() {
            "/api/overview" => ask_with_writes(&["dashboard", "overview"]),
            "/api/bans" => {
                let search = request.query_value("q").unwrap_or_default();
                let sort = request
                    .query_value("sort")
                    .unwrap_or_else(|| "start".into());
                let order = request
                    .query_value("order")
                    .unwrap_or_else(|| "desc".into());
                ask_with_writes(&["dashboard", "bans", &search, &sort, &order])
            }
            "/api/jail" => {
                let name = request.query_value("name").unwrap_or_default();
                ask_with_writes(&["dashboard", "jail", &name])
            }
            "/api/activity" => {
                let range = request.query_value("range").unwrap_or_default();
                ask(&["dashboard", "activity", &range])
            }
            "/api/chart.svg" => chart(request, server),
            // Without a fleet the answer says `"configured": false`.
            "/api/fleet" => ask_with_writes(&["fleet"]),
            _ => return None,
        })
    }
}

/// Whether the request names the server by an address (or `localhost`): a web
/// site whose name an attacker points at 127.0.0.1 (DNS rebinding) sends its own
/// name as `Host` and so cannot read the page's data from another tab.
fn addressed_by_address(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    if host.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => name,
        _ => host,
    };
    let bracketed = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
        || bracketed.is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
}

/// The server thread's answer as JSON, or its error as `{"error": …}`.
fn json_answer(answer: Result<Value, AskError>) -> Response {
    match answer {
        Ok(v) => Response::json(200, &v),
        Err(e) => Response::json(e.status(), &json!({"error": e.to_string()})),
    }
}

fn not_allowed(allow: &'static str) -> Response {
    Response::text(405, format!("use {allow}\n")).with_header("Allow", allow)
}

/// `/api/chart.svg?range=hour|day|week&kind=failures|bans`.
fn chart(request: &Request, server: &ServerLink) -> Response {
    let kind = request.query_value("kind").unwrap_or_default();
    if kind != "failures" && kind != "bans" {
        return Response::text(400, "kind is failures or bans\n");
    }
    let range = request.query_value("range").unwrap_or_default();
    let data = match server.ask(&["dashboard", "activity", &range]) {
        Ok(v) => v,
        Err(e) => return Response::text(e.status(), format!("{e}\n")),
    };
    let empty = Vec::new();
    let series: Vec<(String, Vec<u64>)> = data["series"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|s| {
            let points = s[kind.as_str()]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_u64().unwrap_or(0)).collect())
                .unwrap_or_default();
            (s["jail"].as_str().unwrap_or_default().to_string(), points)
        })
        .collect();
    let lines: Vec<chart::Series> = series
        .iter()
        .map(|(name, points)| chart::Series { name, points })
        .collect();
    let title = format!(
        "{kind} per jail, {}",
        data["span"].as_str().unwrap_or_default()
    );
    let span = data["span"].as_str().unwrap_or_default();
    Response::new(
        200,
        "image/svg+xml",
        chart::render(&title, span, &lines).into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::addressed_by_address;

    #[test]
    fn only_addresses_and_localhost_are_hosts() {
        for ok in [
            "127.0.0.1:9191",
            "127.0.0.1",
            "[::1]:9191",
            "[::1]",
            "localhost:9191",
            "LOCALHOST",
            "192.0.2.1:80",
        ] {
            assert!(addressed_by_address(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:9191",
            "127.0.0.1.nip.io:9191",
            "localhost.evil.example",
            "::1",
            "",
        ] {
            assert!(!addressed_by_address(Some(bad)), "{bad}");
        }
        assert!(!addressed_by_address(None));
    }
}
