//! `listening-without-jail`: which services listen on public addresses, and does
//! an enabled jail watch each of them?
//!
//! Reads the listening TCP sockets from `/proc/net/tcp` and `/proc/net/tcp6`,
//! keeps those not bound to loopback, and names the well-known services among
//! them. A jail covers a well-known port when its `port` option names it (by
//! number or by its name in /etc/services; a range over nearly every port, as
//! recidive's, does not count) or when its name or filter is one known for that
//! service. Any other public port is covered only by a jail whose `port` names
//! it, and warns otherwise: the check cannot tell what listens there, so it does
//! not pass it. sshd's own ports come from `sshd -T`, so that sshd moved to 2222
//! is named as such. A database listening publicly fails whatever the jails: it
//! should not be reachable at all.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferroban_config::jail::JailConfig;

use super::{Finding, Scope};

/// A well-known service: its ports, its name, the jail or filter names that watch
/// it (a trailing `*` matches any suffix), and whether it is a database.
struct Service {
    ports: &'static [u16],
    name: &'static str,
    jails: &'static [&'static str],
    database: bool,
}

const WEB: &[&str] = &[
    "apache-*",
    "nginx-*",
    "wordpress-*",
    "lighttpd-*",
    "haproxy-*",
    "traefik-*",
    "php-url-fopen",
    "roundcube-*",
    "phpmyadmin-*",
    "gitlab",
    "grafana",
    "bitwarden",
    "guacamole",
];
const MAIL: &[&str] = &["postfix*", "exim*", "sendmail-*", "courier-smtp", "dovecot"];
const MAILBOX: &[&str] = &["dovecot", "courier-auth", "sieve"];

const SERVICES: &[Service] = &[
    Service {
        ports: &[21],
        name: "ftp",
        jails: &["vsftpd", "proftpd", "pure-ftpd"],
        database: false,
    },
    Service {
        ports: &[22],
        name: "ssh",
        jails: &["sshd", "dropbear", "selinux-ssh"],
        database: false,
    },
    Service {
        ports: &[25, 465, 587],
        name: "smtp",
        jails: MAIL,
        database: false,
    },
    Service {
        ports: &[53],
        name: "dns",
        jails: &["named-refused"],
        database: false,
    },
    Service {
        ports: &[80, 443],
        name: "http",
        jails: WEB,
        database: false,
    },
    Service {
        ports: &[110, 143, 993, 995],
        name: "imap/pop3",
        jails: MAILBOX,
        database: false,
    },
    Service {
        ports: &[4190],
        name: "sieve",
        jails: &["sieve", "dovecot"],
        database: false,
    },
    Service {
        ports: &[3128],
        name: "squid",
        jails: &["squid"],
        database: false,
    },
    Service {
        ports: &[10000],
        name: "webmin",
        jails: &["webmin-auth"],
        database: false,
    },
    Service {
        ports: &[3306],
        name: "mysql",
        jails: &["mysqld-auth"],
        database: true,
    },
    Service {
        ports: &[5432],
        name: "postgresql",
        jails: &[],
        database: true,
    },
    Service {
        ports: &[6379],
        name: "redis",
        jails: &[],
        database: true,
    },
    Service {
        ports: &[27017],
        name: "mongodb",
        jails: &["mongodb-auth"],
        database: true,
    },
];

pub fn listening_without_jail(ctx: &Scope) -> Finding {
    let mut listening = BTreeSet::new();
    for (path, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        match std::fs::read_to_string(path) {
            Ok(text) => listening.extend(public_listeners(&text)),
            // No IPv6 in this kernel: nothing listens there.
            Err(_) if v6 => {}
            Err(e) => return Finding::skip(format!("cannot read {path}: {e}")),
        }
    }
    let jails = match ctx.jails() {
        Ok(j) => j,
        Err(skip) => return skip,
    };
    let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
    // Ports the list does not know; sshd's own port is among them when it moved
    // off 22, and only sshd can say which it is.
    let unknown: Vec<u16> = listening
        .iter()
        .copied()
        .filter(|p| !SERVICES.iter().any(|s| s.ports.contains(p)))
        .collect();
    let sshd_ports = if unknown.is_empty() {
        Ok(Vec::new())
    } else {
        super::sshd::ports(ctx)
    };
    let mut seen = Vec::new();
    let mut fixes = Vec::new();
    let mut unwatched = Vec::new();
    // a jail to enable for each service of `unwatched`, for the fix
    let mut examples: Vec<String> = Vec::new();
    let mut public_databases = Vec::new();
    let mut nobody = Vec::new();
    for port in &listening {
        let named_by = |j: &&JailConfig| {
            j.options
                .get("port")
                .is_some_and(|p| port_option_names(p, *port, &services))
        };
        if let Some(service) = SERVICES.iter().find(|s| s.ports.contains(port)) {
            let watching: Vec<&str> = jails
                .iter()
                .filter(|j| covers(j, service, *port, &services))
                .map(|j| j.name.as_str())
                .collect();
            let label = format!("{port} ({})", service.name);
            if service.database {
                public_databases.push(label.clone());
            }
            if watching.is_empty() {
                seen.push(format!("{label}: no enabled jail"));
                unwatched.push(label);
                if let Some(jail) = service.jails.first().filter(|_| !service.database) {
                    // a pattern's jail by its plain name (`postfix*`: [postfix])
                    let enable = format!("[{}] enabled = true", jail.trim_end_matches(['*', '-']));
                    if !examples.contains(&enable) {
                        examples.push(enable);
                    }
                }
            } else {
                seen.push(format!("{label}: jail {}", watching.join(", ")));
            }
            continue;
        }
        // Any other port is watched only by a jail that names it in `port`: that
        // is where its bans apply. A jail matched by name (an sshd jail with
        // `port = ssh` while sshd listens on 2222) bans on the wrong port.
        let watching: Vec<&str> = jails
            .iter()
            .filter(named_by)
            .map(|j| j.name.as_str())
            .collect();
        let is_sshd = sshd_ports.as_ref().is_ok_and(|p| p.contains(port));
        let label = if is_sshd {
            format!("{port} (ssh, from sshd -T)")
        } else {
            port.to_string()
        };
        if !watching.is_empty() {
            seen.push(format!("{label}: jail {}", watching.join(", ")));
        } else if is_sshd {
            seen.push(format!("{label}: no enabled jail names this port"));
            fixes.push(format!(
                "set `port = {port}` in the [sshd] jail (its bans apply only to the ports \
                 it names)"
            ));
        } else {
            nobody.push(port.to_string());
        }
    }
    if !nobody.is_empty() {
        let mut text = format!(
            "other public ports that no enabled jail names in `port`: {}",
            nobody.join(", ")
        );
        if let Err(why) = &sshd_ports {
            text.push_str(&format!(" (sshd's own port is not known: {why})"));
        }
        seen.push(text);
        fixes.push(format!(
            "find what listens (`ss -ltnp`); stop it listening publicly, or enable a jail for \
             it with `port = {}`",
            nobody.join(",")
        ));
    }
    if seen.is_empty() {
        seen.push("nothing listens on a public address".to_string());
    }
    let seen = seen.join("; ");
    // A public database needs binding elsewhere, not a jail; the other ports'
    // advice still holds beside it.
    unwatched.retain(|label| !public_databases.contains(label));
    if !unwatched.is_empty() {
        fixes.insert(
            0,
            format!(
                "enable a jail for {} in jail.local (e.g. {}), or stop listening publicly",
                unwatched.join(", "),
                examples.join(", ")
            ),
        );
    }
    if !public_databases.is_empty() {
        fixes.insert(
            0,
            format!(
                "bind {} to 127.0.0.1 (or a private address) and firewall it; a database \
                 should never face the Internet",
                public_databases.join(", ")
            ),
        );
        return Finding::fail(seen, fixes.join("; "));
    }
    if fixes.is_empty() {
        Finding::pass(seen)
    } else {
        Finding::warn(seen, fixes.join("; "))
    }
}

/// Whether `jail` watches `service` on `port`.
fn covers(jail: &JailConfig, service: &Service, port: u16, services: &str) -> bool {
    let named = |pattern: &&str| {
        let matches = |name: &str| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *pattern,
        };
        matches(&jail.name) || matches(&jail.filter.name)
    };
    service.jails.iter().any(named)
        || jail
            .options
            .get("port")
            .is_some_and(|p| port_option_names(p, port, services))
}

/// Whether a jail's `port` option (`ssh`, `http,https`, `25,465`, `1000:2000`)
/// names `port`. Ranges over nearly every port (recidive's `0:65535`) do not count:
/// they say where a ban applies, not what the jail watches.
fn port_option_names(option: &str, port: u16, services: &str) -> bool {
    option
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .any(|p| match p.split_once(':') {
            Some((lo, hi)) => match (lo.parse::<u32>(), hi.parse::<u32>()) {
                (Ok(lo), Ok(hi)) => {
                    hi.saturating_sub(lo) < 60_000 && (lo..=hi).contains(&(port as u32))
                }
                _ => false,
            },
            None => p.parse::<u16>().ok().or_else(|| service_port(services, p)) == Some(port),
        })
}

/// The TCP port of a service name in /etc/services' text.
fn service_port(services: &str, name: &str) -> Option<u16> {
    services.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut fields = l.split_whitespace();
        let first = fields.next()?;
        let (port, proto) = fields.next()?.split_once('/')?;
        let aliases: Vec<&str> = fields.collect();
        (proto == "tcp" && (first == name || aliases.contains(&name)))
            .then(|| port.parse().ok())
            .flatten()
    })
}

/// The ports of the sockets in `/proc/net/tcp{,6}` text that listen on an address
/// other than loopback.
fn public_listeners(text: &str) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            if state != "0A" {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            let ip = parse_proc_address(addr)?;
            let loopback = match ip {
                IpAddr::V6(a) => {
                    a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback())
                }
                IpAddr::V4(a) => a.is_loopback(),
            };
            (!loopback)
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect()
}

/// An address as the kernel prints it in /proc/net/tcp{,6}: 32-bit words, each
/// printed as a number in host (little-endian) byte order.
fn parse_proc_address(hex: &str) -> Option<IpAddr> {
    if !hex.is_ascii() || !hex.len().is_multiple_of(8) {
        return None;
    }
    let mut bytes = Vec::with_capacity(16);
    for i in 0..hex.len() / 8 {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0101A8C0:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 0101A8C0:0016 0201A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
";
    const TCP6: &str =
        "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 0
   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 0
";

    #[test]
    fn listening_sockets_off_loopback_are_found() {
        // 127.0.0.1:25 is loopback, 0.0.0.0:22 and 192.168.1.1:3306 are public, the
        // established socket is not listening.
        assert_eq!(public_listeners(TCP), vec![22, 3306]);
        // ::1:80 and ::ffff:127.0.0.1:8080 are loopback; [::]:443 is public.
        assert_eq!(public_listeners(TCP6), vec![443]);
        assert_eq!(
            parse_proc_address("0101A8C0"),
            Some("192.168.1.1".parse().unwrap())
        );
        assert_eq!(parse_proc_address("zz"), None);
    }

    #[test]
    fn port_options_name_ports_by_number_name_or_narrow_range() {
        let services = "ssh\t\t22/tcp\nsubmission\t587/tcp\nhttp\t\t80/tcp\t\twww # WWW\n";
        assert!(port_option_names("ssh", 22, services));
        assert!(port_option_names("smtp,submission", 587, services));
        assert!(port_option_names("www", 80, services));
        assert!(port_option_names("8000:8100", 8080, services));
        assert!(!port_option_names("0:65535", 22, services));
        assert!(!port_option_names("http,https", 22, services));
    }
}
