//! Addresses a jail never bans: `ignoreip`, `ignoreself` and `ignorecommand`.
//!
//! Owns matching an address against networks, host names (resolved when the list is
//! built, as Fail2ban does) and this host's own addresses, and running the
//! ignore command with a parsed address only. It does not log; callers report why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferroban_config::ignoreip::{parse_ignore_entry, IgnoreEntry};
use ipnet::IpNet;

/// Why an address is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// It is in `ignoreip` (the entry that matched).
    Listed(String),
    /// It is one of this host's addresses.
    OwnAddress,
    /// A loopback address (127.0.0.0/8, ::1), never banned.
    Loopback,
    /// `ignorecommand` said so.
    Command,
}

/// As Fail2ban's log says it: "Ignore 192.0.2.7 by ip".
impl std::fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IgnoreReason::Listed(_) => "ip",
            IgnoreReason::OwnAddress => "ignoreself rule",
            IgnoreReason::Loopback => "loopback",
            IgnoreReason::Command => "command",
        })
    }
}

impl IgnoreReason {
    /// Why the address is never banned, for the person who asked to ban it.
    pub fn explain(&self) -> String {
        match self {
            IgnoreReason::Listed(entry) => format!("it is in ignoreip ({entry})"),
            IgnoreReason::OwnAddress => "it is an address of this host (ignoreself)".into(),
            IgnoreReason::Loopback => "loopback is never banned".into(),
            IgnoreReason::Command => "ignorecommand said to ignore it".into(),
        }
    }
}

/// The ignore rules of one jail.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    entries: Vec<(String, IpNet)>,
    /// This host's addresses (`ignoreself`), apart by family and without repeats:
    /// every failure's address is looked for in them.
    own_v4: Vec<Ipv4Addr>,
    own_v6: Vec<Ipv6Addr>,
    command: Option<String>,
    /// Host names that did not resolve when the list was made, with why: they
    /// ignore nothing (as in Fail2ban, whose configuration test accepts them), and
    /// are said where the list is used.
    unresolved: Vec<(String, String)>,
}

/// Longest an `ignorecommand` may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

impl IgnoreList {
    /// Build the list. Entries are addresses, networks (`10.0.0.0/8`, `127.0.0.1/8`)
    /// or host names; a name that does not resolve ignores nothing (see
    /// [`IgnoreList::unresolved`]); an entry that is none of the three is an error.
    pub fn new(
        entries: &[String],
        ignoreself: bool,
        command: Option<String>,
    ) -> Result<IgnoreList, String> {
        let mut list = IgnoreList {
            command,
            ..IgnoreList::default()
        };
        for e in entries {
            list.add(e)?;
        }
        if ignoreself {
            for address in own_addresses() {
                match address {
                    IpAddr::V4(v4) if !list.own_v4.contains(&v4) => list.own_v4.push(v4),
                    IpAddr::V6(v6) if !list.own_v6.contains(&v6) => list.own_v6.push(v6),
                    _ => {}
                }
            }
        }
        Ok(list)
    }

    /// Add one entry (also used by `set JAIL addignoreip`).
    pub fn add(&mut self, entry: &str) -> Result<(), String> {
        let shown = shown_entry(entry);
        match parse_entry(entry)? {
            Resolved::Networks(nets) => {
                self.entries
                    .extend(nets.into_iter().map(|net| (shown.clone(), net)));
            }
            Resolved::Not(why) => self.unresolved.push((shown, why)),
        }
        Ok(())
    }

    /// The host names that did not resolve, with why (a DNS server down at boot, a
    /// typo): they ignore nothing until the list is made again (`reload`).
    pub fn unresolved(&self) -> &[(String, String)] {
        &self.unresolved
    }

    /// Remove an entry by its text (either as written or as shown).
    pub fn remove(&mut self, entry: &str) -> bool {
        let shown = shown_entry(entry);
        let before = self.entries.len();
        self.entries.retain(|(e, _)| *e != shown);
        let names = self.unresolved.len();
        self.unresolved.retain(|(e, _)| *e != shown);
        before != self.entries.len() || names != self.unresolved.len()
    }

    /// The entries as Fail2ban shows them (see `shown_entry`).
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let names = self.unresolved.iter().map(|(e, _)| e);
        for e in self.entries.iter().map(|(e, _)| e).chain(names) {
            if !v.contains(e) {
                v.push(e.clone());
            }
        }
        v
    }

    /// Whether `ip` must not be banned, and why. Loopback addresses never are,
    /// whatever the configuration says: banning them cuts the host off from itself.
    pub fn check(&self, ip: IpAddr) -> Option<IgnoreReason> {
        let ip = ip.to_canonical();
        // Fail2ban's order, which its log says: `ignoreself rule` before `ip`
        let own = match ip {
            IpAddr::V4(v4) => self.own_v4.contains(&v4),
            IpAddr::V6(v6) => self.own_v6.contains(&v6),
        };
        if own {
            return Some(IgnoreReason::OwnAddress);
        }
        if !self.entries.is_empty() {
            if let Some(entry) = self.listed(ip) {
                return Some(IgnoreReason::Listed(entry.to_string()));
            }
        }
        if ip.is_loopback() {
            return Some(IgnoreReason::Loopback);
        }
        if let Some(cmd) = &self.command {
            if run_ignore_command(cmd, ip) {
                return Some(IgnoreReason::Command);
            }
        }
        None
    }

    /// The `ignoreip` entry `ip` is in. Out of line: the address is made ready for
    /// network matching only when there are entries (most jails have none).
    #[inline(never)]
    fn listed(&self, ip: IpAddr) -> Option<&str> {
        let (entry, _) = self.entries.iter().find(|(_, net)| net.contains(&ip))?;
        Some(entry)
    }
}

/// An entry as Fail2ban shows it: a network by its network address (`127.0.0.1/8`
/// is `127.0.0.0/8`), a network of one address as that address; addresses and
/// host names as written.
fn shown_entry(entry: &str) -> String {
    let e = entry.trim();
    if let Ok(IgnoreEntry::Network(ip, prefix)) = parse_ignore_entry(e) {
        if let Ok(net) = IpNet::new(ip, prefix).map(|n| n.trunc()) {
            return if net.prefix_len() == net.max_prefix_len() {
                net.addr().to_string()
            } else {
                net.to_string()
            };
        }
    }
    e.to_string()
}

/// What an entry stands for now.
enum Resolved {
    Networks(Vec<IpNet>),
    /// A host name that does not resolve, and why.
    Not(String),
}

/// The networks an entry stands for (a host name's addresses, looked up now).
fn parse_entry(entry: &str) -> Result<Resolved, String> {
    match parse_ignore_entry(entry)? {
        // an IPv4-mapped IPv6 address counts as the IPv4 address
        IgnoreEntry::Address(ip) => Ok(Resolved::Networks(vec![IpNet::from(ip.to_canonical())])),
        IgnoreEntry::Network(ip, prefix) => IpNet::new(ip, prefix)
            .map(|net| Resolved::Networks(vec![net.trunc()]))
            .map_err(|_| format!("ignoreip entry {entry:?}: prefix too long")),
        IgnoreEntry::HostName(name) => Ok(match (name.as_str(), 0).to_socket_addrs() {
            Ok(addrs) => Resolved::Networks(
                addrs
                    .map(|sa| IpNet::from(sa.ip().to_canonical()))
                    .collect(),
            ),
            Err(err) => Resolved::Not(err.to_string()),
        }),
    }
}

fn run_ignore_command(cmd: &str, ip: IpAddr) -> bool {
    // The address is a parsed IpAddr: its text has no shell meaning.
    let script = cmd.replace("<ip>", &ip.to_string());
    let Ok(mut child) = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if start.elapsed() < COMMAND_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// This host's addresses (every interface), plus the loopback ones.
pub fn own_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = vec![
        "127.0.0.1".parse().expect("literal"),
        "::1".parse().expect("literal"),
    ];
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills ifap with a list we free below; we only read it.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: cur points into the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr is a valid sockaddr whose family tells its real type.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: the family is AF_INET, so it is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ));
            } else if family == libc::AF_INET6 {
                // SAFETY: the family is AF_INET6, so it is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn entries_are_shown_as_fail2ban_shows_them() {
        let mut l = IgnoreList::new(
            &[
                "127.0.0.1/8".into(),
                "192.0.2.9/32".into(),
                "2001:db8::1/64".into(),
                "::1".into(),
            ],
            false,
            None,
        )
        .unwrap();
        assert_eq!(
            l.entries(),
            ["127.0.0.0/8", "192.0.2.9", "2001:db8::/64", "::1"]
        );
        assert!(
            l.remove("127.0.0.1/8"),
            "removed by the text it was written with"
        );
        assert!(l.remove("2001:db8::/64"));
        assert_eq!(l.entries(), ["192.0.2.9", "::1"]);
    }

    #[test]
    fn a_name_that_does_not_resolve_ignores_nothing_and_is_said() {
        // `.invalid` never resolves (RFC 2606)
        let mut l = IgnoreList::new(
            &["no-such-host.invalid".into(), "192.0.2.1".into()],
            false,
            None,
        )
        .expect("accepted, as Fail2ban accepts it");
        assert_eq!(l.unresolved().len(), 1);
        assert_eq!(l.unresolved()[0].0, "no-such-host.invalid");
        assert_eq!(l.entries(), ["192.0.2.1", "no-such-host.invalid"]);
        assert!(l.check("192.0.2.1".parse().unwrap()).is_some());
        assert!(l.check("192.0.2.2".parse().unwrap()).is_none());
        assert!(l.remove("no-such-host.invalid"));
        assert!(l.unresolved().is_empty());
    }

    #[test]
    fn addresses_networks_and_names() {
        let l = IgnoreList::new(
            &[
                "127.0.0.1/8".into(),
                "::1".into(),
                "10.1.0.0/255.255.0.0".into(),
                "localhost".into(),
            ],
            false,
            None,
        )
        .unwrap();
        assert!(l.check(ip("127.3.4.5")).is_some());
        assert!(
            l.check(ip("::ffff:127.0.0.9")).is_some(),
            "mapped v4 counts as v4"
        );
        assert!(l.check(ip("10.1.200.1")).is_some());
        assert!(l.check(ip("10.2.0.1")).is_none());
        assert!(l.check(ip("192.0.2.1")).is_none());
        assert!(IgnoreList::new(&["10.0.0.0/40".into()], false, None).is_err());
        assert!(IgnoreList::new(&["not a name!".into()], false, None).is_err());
    }

    #[test]
    fn own_addresses_and_command() {
        let l = IgnoreList::new(&[], true, None).unwrap();
        assert_eq!(l.check(ip("127.0.0.1")), Some(IgnoreReason::OwnAddress));
        for own in own_addresses() {
            assert_eq!(l.check(own), Some(IgnoreReason::OwnAddress), "{own}");
        }
        assert_eq!(l.check(ip("::1")), Some(IgnoreReason::OwnAddress));
        assert_eq!(l.check(ip("198.51.100.77")), None, "not this host's");
        // as Fail2ban, the ignoreself rule is told before an ignoreip entry
        let both = IgnoreList::new(&["127.0.0.1/8".into()], true, None).unwrap();
        assert_eq!(both.check(ip("127.0.0.1")), Some(IgnoreReason::OwnAddress));
        let none = IgnoreList::new(&[], false, None).unwrap();
        assert_eq!(none.check(ip("127.0.0.9")), Some(IgnoreReason::Loopback));
        assert_eq!(
            none.check(ip("::ffff:127.0.0.1")),
            Some(IgnoreReason::Loopback)
        );
        assert_eq!(none.check(ip("::1")), Some(IgnoreReason::Loopback));
        let c = IgnoreList::new(&[], false, Some("test <ip> = 192.0.2.7".into())).unwrap();
        assert_eq!(c.check(ip("192.0.2.7")), Some(IgnoreReason::Command));
        assert_eq!(c.check(ip("192.0.2.8")), None);
    }
}
