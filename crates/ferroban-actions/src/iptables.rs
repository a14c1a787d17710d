//! Batched iptables and ipset: Fail2ban's stock `iptables-multiport`,
//! `iptables-allports` and `iptables-ipset-proto6[-allports]` actions (and
//! ferroban's own `ipset`) with their bans and unbans done many at a time.
//!
//! Owns only the per-address part: the stock file's own commands still create and
//! remove what a jail needs (its chain `f2b-<name>` or its ipset, and the jump from
//! `<chain>`: a few commands per jail), while bans and unbans go through one
//! `iptables-restore --noflush` (`ip6tables-restore`) or one `ipset restore` per batch
//! instead of one process per address. The entries are the stock ones
//! (`-I f2b-<name> 1 -s <ip> -j <blocktype>`, `add f2b-<name> <ip> timeout …`), so
//! the ruleset is what the stock action would have made.

use ferroban_config::action::ActionDefinition;

use crate::command::{run_with_input, CommandAction};
use crate::tags::substitute_static;
use crate::{Action, BanTicket, Log, Severity};

/// The action file names whose bans this implementation batches.
pub const BATCHED_STOCK: [&str; 6] = [
    "iptables-multiport",
    "iptables-allports",
    "ipset",
    "iptables-ipset",
    "iptables-ipset-proto6",
    "iptables-ipset-proto6-allports",
];

/// What a batch is written for.
enum Target {
    /// Rules in the jail's chain; `-j` targets for IPv4 and IPv6.
    Chain {
        chain: String,
        blocktype: [String; 2],
    },
    /// Entries of the jail's ipsets (IPv4, IPv6), with the stock `timeout`.
    Ipset { sets: [String; 2], timeout: String },
}

/// A stock iptables or ipset action with batched bans.
pub struct IptablesAction {
    commands: CommandAction,
    target: Target,
    dry_run: bool,
}

impl IptablesAction {
    /// The batched form of `def`, if its parameters allow one (an ipset timeout that
    /// is not a plain number is left to the stock commands).
    pub fn new(def: ActionDefinition, dry_run: bool) -> Option<IptablesAction> {
        let get = |key: &str, family: Option<&str>, default: &str| {
            def.get(key, family)
                .and_then(|v| substitute_static(&def, v, family).ok())
                .unwrap_or_else(|| default.to_string())
        };
        let name = get("name", None, "default");
        let target = if def.file.contains("ipset") {
            let timeout = get("ipsettime", None, "0");
            timeout.trim().parse::<u64>().ok()?;
            Target::Ipset {
                sets: [
                    get("ipmset", Some("inet4"), &format!("f2b-{name}")),
                    get("ipmset", Some("inet6"), &format!("f2b-{name}6")),
                ],
                timeout: timeout.trim().to_string(),
            }
        } else {
            Target::Chain {
                chain: format!("f2b-{name}"),
                blocktype: [
                    get(
                        "blocktype",
                        Some("inet4"),
                        "REJECT --reject-with icmp-port-unreachable",
                    ),
                    get(
                        "blocktype",
                        Some("inet6"),
                        "REJECT --reject-with icmp6-port-unreachable",
                    ),
                ],
            }
        };
        Some(IptablesAction {
            commands: CommandAction::new(def, dry_run),
            target,
            dry_run,
        })
    }

    /// The batch for the tickets of one family (`ban` or unban), and the program
    /// that reads it.
    fn batch(
        &self,
        ban: bool,
        tickets: &[&BanTicket],
        v6: bool,
    ) -> Option<(&'static str, &'static [&'static str], String)> {
        let ips: Vec<String> = tickets
            .iter()
            .filter(|t| t.ip.is_ipv6() == v6)
            .map(|t| t.ip.to_string())
            .collect();
        if ips.is_empty() {
            return None;
        }
        let family = usize::from(v6);
        Some(match &self.target {
            Target::Chain { chain, blocktype } => {
                let mut script = String::from("*filter\n");
                for ip in &ips {
                    match ban {
                        true => script
                            .push_str(&format!("-I {chain} 1 -s {ip} -j {}\n", blocktype[family])),
                        false => script
                            .push_str(&format!("-D {chain} -s {ip} -j {}\n", blocktype[family])),
                    }
                }
                script.push_str("COMMIT\n");
                let program = if v6 {
                    "ip6tables-restore"
                } else {
                    "iptables-restore"
                };
                (program, &["-w", "--noflush"][..], script)
            }
            Target::Ipset { sets, timeout } => {
                let set = &sets[family];
                let script: String = ips
                    .iter()
                    .map(|ip| match ban {
                        true => format!("add {set} {ip} timeout {timeout}\n"),
                        false => format!("del {set} {ip}\n"),
                    })
                    .collect();
                ("ipset", &["restore", "-exist"][..], script)
            }
        })
    }

    fn run(&self, batch: (&str, &[&str], String), log: Log) -> Result<(), String> {
        let (program, args, script) = batch;
        if self.dry_run {
            log(
                Severity::Notice,
                format!(
                    "dry-run: {program} {} would read:\n{}",
                    args.join(" "),
                    script.trim_end()
                ),
            );
            return Ok(());
        }
        run_with_input(program, args, &script).map(|_| ())
    }
}

impl IptablesAction {
    /// The stock commands, one address at a time, after a refused batch. If the first
    /// one fails even after the stock check and repair (a full set, say), the rest are
    /// not tried now: they all go back to the runner's retries.
    fn ban_one_by_one(&mut self, tickets: Vec<BanTicket>, log: Log) -> Vec<BanTicket> {
        let Some((first, rest)) = tickets.split_first() else {
            return Vec::new();
        };
        if !self
            .commands
            .ban(std::slice::from_ref(first), log)
            .is_empty()
        {
            return tickets;
        }
        self.commands.ban(rest, log)
    }
}

impl Action for IptablesAction {
    fn name(&self) -> &str {
        self.commands.name()
    }

    fn start(&mut self, log: Log) -> bool {
        self.commands.start(log)
    }

    fn ban(&mut self, tickets: &[BanTicket], log: Log) -> Vec<BanTicket> {
        let mut failed = Vec::new();
        for v6 in [false, true] {
            let group: Vec<&BanTicket> = tickets.iter().filter(|t| t.ip.is_ipv6() == v6).collect();
            let Some(batch) = self.batch(true, &group, v6) else {
                continue;
            };
            // The stock file starts a family on its first ban (its chain or set, its
            // jump).
            let started = group
                .first()
                .is_some_and(|t| self.commands.prepare_for(t, log));
            let done = match started {
                true => self.run(batch, log),
                false => Err("the action did not start".to_string()),
            };
            if let Err(e) = done {
                // The chain or set may be gone: the stock commands check, repair and
                // retry one by one.
                log(
                    Severity::Error,
                    format!(
                        "action {}: batched ban refused ({e}); banning one by one",
                        self.name()
                    ),
                );
                let owned: Vec<BanTicket> = group.into_iter().cloned().collect();
                failed.extend(self.ban_one_by_one(owned, log));
            }
        }
        failed
    }

    fn unban(&mut self, tickets: &[BanTicket], log: Log) {
        for v6 in [false, true] {
            let group: Vec<&BanTicket> = tickets.iter().filter(|t| t.ip.is_ipv6() == v6).collect();
            let Some(batch) = self.batch(false, &group, v6) else {
                continue;
            };
            if self.run(batch, log).is_err() {
                // One entry already gone fails the batch: the stock commands, one by one.
                let owned: Vec<BanTicket> = group.into_iter().cloned().collect();
                self.commands.unban(&owned, log);
            }
        }
    }

    fn stop(&mut self, banned: &[BanTicket], log: Log) {
        self.commands.stop(banned, log);
    }

    fn take_repaired(&mut self) -> bool {
        self.commands.take_repaired()
    }

    /// The stock files' `actioncheck` (`iptables -C INPUT … -j f2b-JAIL`, `ipset
    /// list`) only looks: a flushed ruleset (`iptables -F`, a firewall service's
    /// reload) is found within 30 s, not at the next ban.
    fn verify(&mut self, log: Log) {
        self.commands.verify_started(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_definition as def;

    #[test]
    fn batches_hold_the_stock_entries() {
        let chain = IptablesAction::new(
            def(
                "iptables-multiport",
                &[
                    ("name", "sshd"),
                    ("blocktype", "REJECT --reject-with icmp-port-unreachable"),
                    (
                        "blocktype?family=inet6",
                        "REJECT --reject-with icmp6-port-unreachable",
                    ),
                ],
            ),
            true,
        )
        .unwrap();
        let (a4, b6) = (
            crate::test_ticket("192.0.2.1"),
            crate::test_ticket("2001:db8::1"),
        );
        let (program, _, script) = chain.batch(true, &[&a4, &b6], false).unwrap();
        assert_eq!(program, "iptables-restore");
        assert_eq!(script, "*filter\n-I f2b-sshd 1 -s 192.0.2.1 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n");
        let (program, _, script) = chain.batch(false, &[&a4, &b6], true).unwrap();
        assert_eq!(program, "ip6tables-restore");
        assert_eq!(script, "*filter\n-D f2b-sshd -s 2001:db8::1 -j REJECT --reject-with icmp6-port-unreachable\nCOMMIT\n");
        assert!(chain.batch(true, &[&a4], true).is_none());

        let ipset = IptablesAction::new(
            def(
                "iptables-ipset-proto6",
                &[
                    ("name", "web"),
                    ("ipmset", "f2b-<name>"),
                    ("ipmset?family=inet6", "f2b-<name>6"),
                    ("ipsettime", "0"),
                ],
            ),
            true,
        )
        .unwrap();
        assert_eq!(
            ipset.batch(true, &[&a4, &b6], false).unwrap().2,
            "add f2b-web 192.0.2.1 timeout 0\n"
        );
        assert_eq!(
            ipset.batch(false, &[&a4, &b6], true).unwrap().2,
            "del f2b-web6 2001:db8::1\n"
        );
        // a timeout computed by the shell is left to the stock commands
        assert!(
            IptablesAction::new(def("iptables-ipset", &[("ipsettime", "$(echo 5)")]), true)
                .is_none()
        );
    }
}
