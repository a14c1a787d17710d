//! Batched iptables: Fail2ban's stock `iptables-multiport` / `iptables-allports`
//! actions with their bans and unbans done many at a time.
//!
//! Owns only the per-address part: the stock file's own commands still create and
//! remove the jail's chain `f2b-<name>` and the jump from `<chain>` (a few commands per
//! jail), while bans and unbans go through one `iptables-restore --noflush` (and
//! `ip6tables-restore`) per batch instead of one `iptables` process per address. The
//! rules are the stock ones (`-I f2b-<name> 1 -s <ip> -j <blocktype>`), so the
//! ruleset is what the stock action would have made.

use ferroban_config::action::ActionDefinition;

use crate::command::{run_with_input, CommandAction};
use crate::tags::substitute_static;
use crate::{Action, BanTicket, Log, Severity};

/// The action file names whose bans this implementation batches.
pub const BATCHED_IPTABLES: [&str; 2] = ["iptables-multiport", "iptables-allports"];

/// A stock iptables action with batched bans.
pub struct IptablesAction {
    commands: CommandAction,
    chain: String,
    /// `-j` targets for IPv4 and IPv6 (`REJECT --reject-with …`).
    blocktype: [String; 2],
    dry_run: bool,
}

impl IptablesAction {
    pub fn new(def: ActionDefinition, dry_run: bool) -> IptablesAction {
        let get = |key: &str, family: Option<&str>, default: &str| {
            def.get(key, family)
                .and_then(|v| substitute_static(&def, v, family).ok())
                .unwrap_or_else(|| default.to_string())
        };
        let name = get("name", None, "default");
        IptablesAction {
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
            commands: CommandAction::new(def, dry_run),
            dry_run,
        }
    }

    /// `-I`/`-D` lines for the tickets of one family, as an iptables-restore table.
    fn restore_script(&self, verb: &str, tickets: &[&BanTicket], v6: bool) -> Option<String> {
        let target = &self.blocktype[usize::from(v6)];
        let mut script = String::from("*filter\n");
        let mut any = false;
        for t in tickets.iter().filter(|t| t.ip.is_ipv6() == v6) {
            let position = if verb == "-I" { " 1" } else { "" };
            script.push_str(&format!(
                "{verb} {}{position} -s {} -j {target}\n",
                self.chain, t.ip
            ));
            any = true;
        }
        script.push_str("COMMIT\n");
        any.then_some(script)
    }

    fn restore(&self, script: &str, v6: bool, log: Log) -> Result<(), String> {
        let program = if v6 {
            "ip6tables-restore"
        } else {
            "iptables-restore"
        };
        if self.dry_run {
            log(
                Severity::Notice,
                format!(
                    "dry-run: {program} --noflush would read:\n{}",
                    script.trim_end()
                ),
            );
            return Ok(());
        }
        run_with_input(program, &["-w", "--noflush"], script).map(|_| ())
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
            let Some(script) = self.restore_script("-I", &group, v6) else {
                continue;
            };
            // The stock file starts a family on its first ban (its chain, its jump).
            let started = group
                .first()
                .is_some_and(|t| self.commands.prepare_for(t, log));
            let batched = match started {
                true => self.restore(&script, v6, log),
                false => Err("the action did not start".to_string()),
            };
            if let Err(e) = batched {
                // The chain may be gone: the stock commands check, repair and retry
                // one by one.
                log(
                    Severity::Error,
                    format!(
                        "action {}: batched ban refused ({e}); banning one by one",
                        self.name()
                    ),
                );
                let owned: Vec<BanTicket> = group.into_iter().cloned().collect();
                failed.extend(self.commands.ban(&owned, log));
            }
        }
        failed
    }

    fn unban(&mut self, tickets: &[BanTicket], log: Log) {
        for v6 in [false, true] {
            let group: Vec<&BanTicket> = tickets.iter().filter(|t| t.ip.is_ipv6() == v6).collect();
            let Some(script) = self.restore_script("-D", &group, v6) else {
                continue;
            };
            if self.restore(&script, v6, log).is_err() {
                // One rule already gone fails the batch: the stock commands, one by one.
                let owned: Vec<BanTicket> = group.into_iter().cloned().collect();
                self.commands.unban(&owned, log);
            }
        }
    }

    fn stop(&mut self, banned: &[BanTicket], log: Log) {
        self.commands.stop(banned, log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_scripts_use_the_stock_rules() {
        let def = ActionDefinition {
            name: "iptables-multiport".into(),
            file: "iptables-multiport".into(),
            files: vec![],
            options: vec![
                ("name".into(), "sshd".into()),
                (
                    "blocktype".into(),
                    "REJECT --reject-with icmp-port-unreachable".into(),
                ),
                (
                    "blocktype?family=inet6".into(),
                    "REJECT --reject-with icmp6-port-unreachable".into(),
                ),
            ],
        };
        let a = IptablesAction::new(def, true);
        let t = |ip: &str| BanTicket {
            ip: ip.parse().unwrap(),
            failures: 1,
            time: 0.0,
            bantime: 1.0,
            bancount: 1,
            matches: vec![],
            fields: vec![],
            restored: false,
        };
        let (a4, b6) = (t("192.0.2.1"), t("2001:db8::1"));
        assert_eq!(
            a.restore_script("-I", &[&a4, &b6], false).unwrap(),
            "*filter\n-I f2b-sshd 1 -s 192.0.2.1 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n"
        );
        assert_eq!(
            a.restore_script("-D", &[&a4, &b6], true).unwrap(),
            "*filter\n-D f2b-sshd -s 2001:db8::1 -j REJECT --reject-with icmp6-port-unreachable\nCOMMIT\n"
        );
        assert!(a.restore_script("-I", &[&a4], true).is_none());
    }
}
