//! The syntax of an `ignoreip` entry: an address, a network, or a host name.
//!
//! Owns telling them apart from the text alone, so that `check` can point at a
//! mistyped entry without a DNS query. It does not resolve names or match
//! addresses (the jail's ignore list does, at run time).

use std::net::{IpAddr, Ipv4Addr};

/// What an `ignoreip` entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreEntry {
    /// One address.
    Address(IpAddr),
    /// An address and a prefix length; host bits may be set, as Fail2ban allows
    /// (`127.0.0.1/8`).
    Network(IpAddr, u8),
    /// A host name, resolved when the jail starts.
    HostName(String),
}

/// Read one entry (already split from the list); why it is none of the three.
pub fn parse_ignore_entry(entry: &str) -> Result<IgnoreEntry, String> {
    let e = entry.trim();
    let most = |ip: &IpAddr| if ip.is_ipv4() { 32 } else { 128 };
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Ok(IgnoreEntry::Address(ip));
    }
    if let Some((addr, len)) = e.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("ignoreip entry {e:?}: {addr:?} is not an address"))?;
        // A dotted mask (10.0.0.0/255.0.0.0) is accepted too.
        let prefix = match len.parse::<u8>() {
            Ok(p) => p,
            Err(_) => match len.parse::<Ipv4Addr>() {
                Ok(mask) if ip.is_ipv4() => u32::from(mask).leading_ones() as u8,
                _ => return Err(format!("ignoreip entry {e:?}: bad prefix length {len:?}")),
            },
        };
        if prefix > most(&ip) {
            return Err(format!(
                "ignoreip entry {e:?}: prefix too long (at most /{})",
                most(&ip)
            ));
        }
        return Ok(IgnoreEntry::Network(ip, prefix));
    }
    // Digits and dots only (10.0.0.300), or colons: a mistyped address, not a name
    // (no top-level domain is numeric); it is not looked up.
    let numeric = e.chars().all(|c| c.is_ascii_digit() || c == '.');
    if numeric || e.contains(':') {
        return Err(format!("ignoreip entry {e:?} is not an address"));
    }
    let valid_name = !e.is_empty()
        && e.len() <= 253
        && e.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid_name {
        return Err(format!(
            "ignoreip entry {e:?} is neither an address, a network nor a host name"
        ));
    }
    Ok(IgnoreEntry::HostName(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_networks_and_names_are_told_apart_without_a_lookup() {
        let net = |s: &str| parse_ignore_entry(s).unwrap();
        assert_eq!(
            net("192.0.2.1"),
            IgnoreEntry::Address("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            net("127.0.0.1/8"),
            IgnoreEntry::Network("127.0.0.1".parse().unwrap(), 8)
        );
        assert_eq!(
            net("10.0.0.0/255.0.0.0"),
            IgnoreEntry::Network("10.0.0.0".parse().unwrap(), 8)
        );
        assert_eq!(net("::1"), IgnoreEntry::Address("::1".parse().unwrap()));
        assert_eq!(
            net("2001:db8::/32"),
            IgnoreEntry::Network("2001:db8::".parse().unwrap(), 32)
        );
        assert_eq!(
            net("mail.example.org"),
            IgnoreEntry::HostName("mail.example.org".into())
        );
        for (bad, why) in [
            ("10.0.0.300", "is not an address"),
            ("127.0.0.1/33", "prefix too long (at most /32)"),
            ("::1/129", "prefix too long (at most /128)"),
            ("2001:db8::zz", "is not an address"),
            ("10.0.0.0/x", "bad prefix length"),
            ("bad_name!", "neither an address"),
        ] {
            let said = parse_ignore_entry(bad).unwrap_err();
            assert!(said.contains(why), "{bad}: {said}");
        }
    }
}
