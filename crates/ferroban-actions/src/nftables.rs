//! Native nftables: the ruleset Fail2ban's stock `nftables` action makes, built and
//! changed in batches, without a process per address.
//!
//! Owns the layout (`table inet f2b-table`, a set per jail and family, chain
//! `f2b-chain` on hook input at priority `filter - 1`, a rule per jail and protocol
//! matching the jail's ports and set) and talking to the kernel: in-process through
//! libnftables when the library is there (one call per batch, no process at all),
//! else through one `nft -f -` per batch. A failed batch is repaired (the layout is
//! put back) and tried once more; what still fails is reported to the runner, which
//! retries. In dry-run mode the scripts are logged instead.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use ferroban_config::action::ActionDefinition;

use crate::command::run_with_input;
use crate::tags::substitute_static;
use crate::{Action, BanTicket, Log, Severity};

/// Addresses per `add element` statement (one transaction holds many statements).
const ELEMENTS_PER_STATEMENT: usize = 4096;

/// How nftables commands are run.
pub enum Backend {
    /// libnftables, loaded at run time.
    Library(Library),
    /// `nft -f -`, one process per batch.
    Process,
    /// Only log the scripts.
    DryRun,
}

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type CtxBuffer = unsafe extern "C" fn(*mut c_void) -> c_int;
type CtxGetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type CtxSetFlags = unsafe extern "C" fn(*mut c_void, u32);
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// `NFT_CTX_OUTPUT_HANDLE`: listings show rule handles.
const OUTPUT_HANDLE: u32 = 1 << 3;

/// An open libnftables context.
pub struct Library {
    ctx: *mut c_void,
    free: CtxFree,
    output: CtxGetBuffer,
    error: CtxGetBuffer,
    run: RunCmd,
}

// SAFETY: the context is used by one thread at a time (the jail's action thread owns
// it); libnftables keeps no thread-local state.
unsafe impl Send for Library {}

impl Library {
    /// Load libnftables and make a context; `None` when the library is missing.
    pub fn open() -> Option<Library> {
        // SAFETY: dlopen/dlsym with valid C strings; each symbol is cast to its
        // documented C signature (libnftables(3)).
        unsafe {
            let handle = libc::dlopen(
                c"libnftables.so.1".as_ptr(),
                libc::RTLD_NOW | libc::RTLD_LOCAL,
            );
            if handle.is_null() {
                return None;
            }
            let sym = |name: &CStr| {
                let p = libc::dlsym(handle, name.as_ptr());
                (!p.is_null()).then_some(p)
            };
            let new: CtxNew = std::mem::transmute(sym(c"nft_ctx_new")?);
            let free: CtxFree = std::mem::transmute(sym(c"nft_ctx_free")?);
            let buffer_output: CtxBuffer = std::mem::transmute(sym(c"nft_ctx_buffer_output")?);
            let buffer_error: CtxBuffer = std::mem::transmute(sym(c"nft_ctx_buffer_error")?);
            let output: CtxGetBuffer = std::mem::transmute(sym(c"nft_ctx_get_output_buffer")?);
            let error: CtxGetBuffer = std::mem::transmute(sym(c"nft_ctx_get_error_buffer")?);
            let set_flags: CtxSetFlags = std::mem::transmute(sym(c"nft_ctx_output_set_flags")?);
            let run: RunCmd = std::mem::transmute(sym(c"nft_run_cmd_from_buffer")?);
            let ctx = new(0);
            if ctx.is_null() {
                return None;
            }
            buffer_output(ctx);
            buffer_error(ctx);
            set_flags(ctx, OUTPUT_HANDLE);
            Some(Library {
                ctx,
                free,
                output,
                error,
                run,
            })
        }
    }

    fn run(&mut self, script: &str) -> Result<String, String> {
        let c = CString::new(script).map_err(|_| "script contains a NUL byte".to_string())?;
        // SAFETY: ctx is a live context; the buffers it returns are valid C strings
        // until the next command, and are copied before that.
        unsafe {
            let rc = (self.run)(self.ctx, c.as_ptr());
            let text = |p: *const c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            let out = text((self.output)(self.ctx));
            let err = text((self.error)(self.ctx));
            if rc == 0 {
                Ok(out)
            } else {
                Err(err.trim().to_string())
            }
        }
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: ctx came from nft_ctx_new and is freed once.
        unsafe { (self.free)(self.ctx) }
    }
}

impl Backend {
    /// libnftables if it loads, else the `nft` program.
    pub fn detect(dry_run: bool) -> Backend {
        if dry_run {
            return Backend::DryRun;
        }
        Library::open().map_or(Backend::Process, Backend::Library)
    }

    fn run(&mut self, script: &str, log: Log) -> Result<String, String> {
        match self {
            Backend::Library(lib) => lib.run(script),
            Backend::Process => run_nft_process(script),
            Backend::DryRun => {
                log(
                    Severity::Notice,
                    format!("dry-run: nft would run:\n{}", script.trim_end()),
                );
                Ok(String::new())
            }
        }
    }
}

fn run_nft_process(script: &str) -> Result<String, String> {
    run_with_input("nft", &["-a", "-f", "-"], script)
}

/// Remove from the tables of the native nftables actions `defs` (every jail of the
/// configuration the server starts with) the sets of the stock layout
/// (`addr-set-JAIL`, `addr6-set-JAIL`) of the jails in `former` (the jails this
/// server's database holds bans of) that none of `defs` uses, with the rules that
/// match them. A jail removed from the configuration while the server was down (a
/// crash, `kill -9`) left its set and rule behind: its addresses stayed blocked,
/// and no command of this server could see or lift them. Sets of jails this server
/// never banned in are left alone: they may be another daemon's (Fail2ban's own
/// nftables action uses the same table). Each removal is logged with its number of
/// addresses.
pub fn remove_unused_sets(defs: &[&ActionDefinition], former: &[String], log: Log) {
    let mut tables: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for def in defs {
        let a = NftAction::new(def, Backend::DryRun);
        let kept = tables.entry((a.table_family, a.table)).or_default();
        kept.extend([a.v4.set, a.v6.set]);
    }
    for ((tf, t), kept) in tables {
        let mut backend = Backend::detect(false);
        // no such table: nothing was left behind
        let Ok(listing) = backend.run(&format!("list table {tf} {t}\n"), log) else {
            continue;
        };
        let unused = unused_sets(&listing, &kept, former);
        if unused.is_empty() {
            continue;
        }
        let script = removal_script(&listing, &tf, &t, &unused);
        let names = unused
            .iter()
            .map(|(set, n)| match n {
                1 => format!("{set} (1 address)"),
                n => format!("{set} ({n} addresses)"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        match backend.run(&script, log) {
            Ok(_) => log(
                Severity::Notice,
                format!(
                    "nftables: removed from {tf} {t} the sets no jail uses, with their \
                     rules (left by a jail removed while the server was down): {names}"
                ),
            ),
            Err(e) => log(
                Severity::Warning,
                format!(
                    "nftables: {tf} {t} holds sets no jail uses, and removing them failed \
                     ({e}); their addresses stay blocked until you run: nft delete set \
                     {tf} {t} NAME (after deleting the rules that name it): {names}"
                ),
            ),
        }
    }
}

/// The sets of the stock layout of the jails `former` in a `list table` output
/// that are not in `kept`, each with how many addresses it holds.
fn unused_sets(listing: &str, kept: &[String], former: &[String]) -> Vec<(String, usize)> {
    listed_sets(listing)
        .into_iter()
        .filter(|(name, _)| {
            let jail = (name.strip_prefix("addr-set-")).or_else(|| name.strip_prefix("addr6-set-"));
            let former_jail = jail.is_some_and(|j| former.iter().any(|f| f == j));
            former_jail && !kept.iter().any(|k| k == name)
        })
        .map(|(name, elements)| (name, elements.len()))
        .collect()
}

/// The sets of a `list table` output, each with its elements as listed.
fn listed_sets(listing: &str) -> Vec<(String, Vec<String>)> {
    let mut sets: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_set = false;
    let mut in_elements = false;
    for line in listing.lines().map(str::trim) {
        if let Some(name) = block_name(line, "set ") {
            sets.push((name.to_string(), Vec::new()));
            in_set = true;
            in_elements = false;
            continue;
        }
        let Some((_, elements)) = sets.last_mut().filter(|_| in_set) else {
            continue;
        };
        // `elements = { a, b,` and maybe more lines of `c, d }`
        let items = match line.strip_prefix("elements = {") {
            Some(rest) => rest,
            None if in_elements => line,
            None => {
                in_set = line != "}";
                continue;
            }
        };
        let (items, closed) = match items.strip_suffix('}') {
            Some(items) => (items, true),
            None => (items, false),
        };
        let listed = items.split(',').map(str::trim).filter(|a| !a.is_empty());
        elements.extend(listed.map(str::to_string));
        in_elements = !closed;
    }
    sets
}

/// The addresses the sets of the native nftables actions `defs` hold now: for
/// each set that holds any, the index of its action in `defs`, the set
/// (`inet f2b-table addr-set-sshd`) and its addresses. Each table is listed once;
/// sets (or tables) that do not exist hold nothing. Read before the jails start,
/// which empties them: what this server did not put there is another daemon's
/// (Fail2ban's nftables action uses the same table and set names).
pub fn addresses_in_sets(defs: &[&ActionDefinition]) -> Vec<(usize, String, Vec<String>)> {
    let actions: Vec<NftAction> = (defs.iter())
        .map(|def| NftAction::new(def, Backend::DryRun))
        .collect();
    let mut tables: Vec<(&str, &str)> = (actions.iter())
        .map(|a| (a.table_family.as_str(), a.table.as_str()))
        .collect();
    tables.sort();
    tables.dedup();
    let mut backend = Backend::detect(false);
    let mut found = Vec::new();
    for (tf, t) in tables {
        let Ok(listing) = backend.run(&format!("list table {tf} {t}\n"), &|_, _| {}) else {
            continue;
        };
        for (name, elements) in listed_sets(&listing) {
            let owner = actions.iter().position(|a| {
                (a.table_family.as_str(), a.table.as_str()) == (tf, t)
                    && (a.v4.set == name || a.v6.set == name)
            });
            if let Some(i) = owner.filter(|_| !elements.is_empty()) {
                found.push((i, format!("{tf} {t} {name}"), elements));
            }
        }
    }
    found
}

/// The name of a listing's block line `KIND NAME {` (`# handle N` may follow).
fn block_name<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    let (name, rest) = line.strip_prefix(kind)?.split_once(" {")?;
    let rest = rest.trim();
    (rest.is_empty() || rest.starts_with('#')).then_some(name)
}

/// The rules that match the sets `unused` (by handle, in the chain that holds
/// them), then the sets.
fn removal_script(listing: &str, tf: &str, t: &str, unused: &[(String, usize)]) -> String {
    let mut script = String::new();
    let mut chain = "";
    for line in listing.lines().map(str::trim) {
        if let Some(name) = block_name(line, "chain ") {
            chain = name;
            continue;
        }
        let matches_unused = unused
            .iter()
            .any(|(set, _)| line.contains(&format!("@{set} ")));
        if let Some((_, handle)) = line.rsplit_once("# handle ").filter(|_| matches_unused) {
            script.push_str(&format!(
                "delete rule {tf} {t} {chain} handle {}\n",
                handle.trim()
            ));
        }
    }
    for (set, _) in unused {
        script.push_str(&format!("delete set {tf} {t} {set}\n"));
    }
    script
}

/// What nft says against the table, chain, sets and rules of `def` (a native
/// nftables action), checked without applying them (`nft --check`): `None` when
/// nft accepts them, and where nft could not check them at all (no nf_tables in
/// this kernel, no right to ask): the server says that when it starts.
pub(crate) fn refused_layout(def: &ActionDefinition) -> Option<String> {
    let action = NftAction::new(def, Backend::DryRun);
    let mut script = action.base_script();
    for f in action.families() {
        script.push_str(&action.rules_script(f));
    }
    // an error in the script is reported at its line of standard input
    run_with_input("nft", &["--check", "-f", "-"], &script)
        .err()
        .filter(|why| why.contains("/dev/stdin:"))
}

/// One jail's sets and rules.
struct Family {
    set: String,
    addr_type: &'static str,
    addr_family: &'static str,
}

/// The native nftables action of one jail.
pub struct NftAction {
    name: String,
    backend: Backend,
    table: String,
    table_family: String,
    chain: String,
    chain_spec: String,
    /// One match per protocol (`tcp dport { 80, 443 }`), or `meta l4proto { tcp }`.
    matches: Vec<String>,
    blocktype: String,
    v4: Family,
    v6: Family,
    /// Whether the table, sets and the jail's rules were last put in place
    /// without an error. Until they are, a ban into a set that exists already
    /// (from before a reload) would block nothing: each ban tries the layout
    /// first, and counts as failed (to be retried) while it is refused.
    laid_out: bool,
    /// The layout was put back after nftables refused a ban (see
    /// [`Action::take_repaired`]).
    repaired: bool,
}

fn option(def: &ActionDefinition, key: &str, family: Option<&str>, default: &str) -> String {
    def.get(key, family)
        .and_then(|v| substitute_static(def, v, family).ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

impl NftAction {
    /// The native form of a stock `nftables` action definition (its `[Init]`
    /// parameters and the jail's `port`, `protocol`, `blocktype`, … are honoured).
    pub fn new(def: &ActionDefinition, backend: Backend) -> NftAction {
        let get = |k: &str, d: &str| option(def, k, None, d);
        let name = get("name", "default");
        let kind = match def.file.as_str() {
            "nftables-allports" => "allports".to_string(),
            _ => get("type", "multiport"),
        };
        let protocols: Vec<String> = get("protocol", "tcp")
            .split([',', ' '])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let ports = get("port", "0:65535").replace(':', "-");
        let matches = if kind == "allports" {
            vec![format!("meta l4proto {{ {} }}", protocols.join(", "))]
        } else {
            protocols
                .iter()
                .map(|p| format!("{p} dport {{ {ports} }}"))
                .collect()
        };
        let priority = get("chain_priority", "-1");
        NftAction {
            backend,
            table: get("table", "f2b-table"),
            table_family: get("table_family", "inet"),
            chain: get("chain", "f2b-chain"),
            chain_spec: format!(
                "{{ type {} hook {} priority {priority}; policy accept; }}",
                get("chain_type", "filter"),
                get("chain_hook", "input")
            ),
            matches,
            blocktype: get("blocktype", "reject"),
            v4: Family {
                set: option(def, "addr_set", Some("inet4"), &format!("addr-set-{name}")),
                addr_type: "ipv4_addr",
                addr_family: "ip",
            },
            v6: Family {
                set: option(def, "addr_set", Some("inet6"), &format!("addr6-set-{name}")),
                addr_type: "ipv6_addr",
                addr_family: "ip6",
            },
            name: def.name.clone(),
            laid_out: false,
            repaired: false,
        }
    }

    fn families(&self) -> [&Family; 2] {
        [&self.v4, &self.v6]
    }

    /// Table, chain and sets (adding what exists already changes nothing), then the
    /// jail's rules where they are missing.
    fn ensure_layout(&mut self, log: Log) -> Result<(), String> {
        let (t, tf, c) = (&self.table, &self.table_family, &self.chain);
        self.backend.run(&self.base_script(), log)?;
        let listing = self
            .backend
            .run(&format!("list chain {tf} {t} {c}\n"), log)?;
        let mut rules = String::new();
        for f in self.families() {
            if matches!(self.backend, Backend::DryRun) || !listing.contains(&format!("@{} ", f.set))
            {
                rules.push_str(&self.rules_script(f));
            }
        }
        if !rules.is_empty() {
            self.backend.run(&rules, log)?;
        }
        Ok(())
    }

    /// Empty the jail's sets, at start: the server then bans every address in force
    /// again, so that what a crash left behind (a ban that ended while the server
    /// was down) does not stay in the kernel, where no command could lift it.
    fn empty_sets(&mut self, log: Log) -> Result<(), String> {
        if matches!(self.backend, Backend::DryRun) {
            return Ok(());
        }
        let (t, tf) = (&self.table, &self.table_family);
        let script: String = self
            .families()
            .iter()
            .map(|f| format!("flush set {tf} {t} {}\n", f.set))
            .collect();
        self.backend.run(&script, log).map(drop)
    }

    /// The table, the chain and the sets.
    fn base_script(&self) -> String {
        let (t, tf, c) = (&self.table, &self.table_family, &self.chain);
        let mut script = format!(
            "add table {tf} {t}\nadd chain {tf} {t} {c} {}\n",
            self.chain_spec
        );
        for f in self.families() {
            script.push_str(&format!(
                "add set {tf} {t} {} {{ type {}; }}\n",
                f.set, f.addr_type
            ));
        }
        script
    }

    /// The jail's rules for the set of family `f`.
    fn rules_script(&self, f: &Family) -> String {
        let (t, tf, c) = (&self.table, &self.table_family, &self.chain);
        self.matches
            .iter()
            .map(|m| {
                format!(
                    "add rule {tf} {t} {c} {m} {} saddr @{} {}\n",
                    f.addr_family, f.set, self.blocktype
                )
            })
            .collect()
    }

    fn elements_script(&self, verb: &str, tickets: &[&BanTicket]) -> String {
        let mut script = String::new();
        for f in self.families() {
            let v6 = f.addr_type == "ipv6_addr";
            let ips: Vec<String> = tickets
                .iter()
                .filter(|t| t.ip.is_ipv6() == v6)
                .map(|t| t.ip.to_string())
                .collect();
            for chunk in ips.chunks(ELEMENTS_PER_STATEMENT) {
                script.push_str(&format!(
                    "{verb} element {} {} {} {{ {} }}\n",
                    self.table_family,
                    self.table,
                    f.set,
                    chunk.join(", ")
                ));
            }
        }
        script
    }
}

impl Action for NftAction {
    fn name(&self) -> &str {
        &self.name
    }

    fn start(&mut self, log: Log) -> bool {
        self.laid_out = false;
        match self.ensure_layout(log).and_then(|()| self.empty_sets(log)) {
            Ok(()) => {
                self.laid_out = true;
                true
            }
            Err(e) => {
                log(
                    Severity::Error,
                    format!("action {} (native nftables) did not start: {e}", self.name),
                );
                false
            }
        }
    }

    fn ban(&mut self, tickets: &[BanTicket], log: Log) -> Vec<BanTicket> {
        let all: Vec<&BanTicket> = tickets.iter().collect();
        let script = self.elements_script("add", &all);
        if script.is_empty() {
            return Vec::new();
        }
        if !self.laid_out {
            if let Err(e) = self.ensure_layout(log) {
                log(
                    Severity::Error,
                    format!(
                        "action {}: the jail's rule is not in place, so these bans would \
                         block nothing: {e}",
                        self.name
                    ),
                );
                return tickets.to_vec();
            }
            self.laid_out = true;
        }
        let first = self.backend.run(&script, log);
        let Err(e) = first else { return Vec::new() };
        // Someone may have flushed the ruleset: put the layout back, try once more.
        log(
            Severity::Error,
            format!(
                "action {}: nftables refused the bans ({e}); repairing the ruleset",
                self.name
            ),
        );
        let repaired = self.ensure_layout(log);
        self.repaired |= repaired.is_ok();
        match repaired.and_then(|_| self.backend.run(&script, log)) {
            Ok(_) => Vec::new(),
            Err(e) => {
                log(
                    Severity::Error,
                    format!("action {}: nftables still refuses the bans: {e}", self.name),
                );
                tickets.to_vec()
            }
        }
    }

    fn take_repaired(&mut self) -> bool {
        std::mem::take(&mut self.repaired)
    }

    /// One `list chain`: the jail's rules are there, or the layout is put back.
    fn verify(&mut self, log: Log) {
        if !self.laid_out || matches!(self.backend, Backend::DryRun) {
            return;
        }
        let (t, tf, c) = (&self.table, &self.table_family, &self.chain);
        let listing = self.backend.run(&format!("list chain {tf} {t} {c}\n"), log);
        let rules_in_place = listing.is_ok_and(|listing| {
            self.families()
                .iter()
                .all(|f| listing.contains(&format!("@{} ", f.set)))
        });
        if rules_in_place {
            return;
        }
        match self.ensure_layout(log) {
            Ok(()) => self.repaired = true,
            Err(e) => {
                // the next ban tries again, and is retried while it fails
                self.laid_out = false;
                log(
                    Severity::Error,
                    format!(
                        "action {}: the jail's rules are gone from nftables and cannot be \
                         put back: {e}",
                        self.name
                    ),
                );
            }
        }
    }

    fn unban(&mut self, tickets: &[BanTicket], log: Log) {
        let all: Vec<&BanTicket> = tickets.iter().collect();
        let script = self.elements_script("delete", &all);
        if script.is_empty() || self.backend.run(&script, log).is_ok() {
            return;
        }
        // One address not in the set fails the whole batch: delete one by one.
        for t in &all {
            let _ = self.backend.run(
                &self.elements_script("delete", std::slice::from_ref(t)),
                log,
            );
        }
    }

    fn stop(&mut self, _banned: &[BanTicket], log: Log) {
        let (t, tf, c) = (
            self.table.clone(),
            self.table_family.clone(),
            self.chain.clone(),
        );
        let mut script = String::new();
        if let Ok(listing) = self.backend.run(&format!("list chain {tf} {t} {c}\n"), log) {
            for line in listing.lines() {
                let ours = self
                    .families()
                    .iter()
                    .any(|f| line.contains(&format!("@{} ", f.set)));
                if let Some(handle) = line
                    .rsplit_once("# handle ")
                    .map(|(_, h)| h.trim())
                    .filter(|_| ours)
                {
                    script.push_str(&format!("delete rule {tf} {t} {c} handle {handle}\n"));
                }
            }
        }
        for f in self.families() {
            script.push_str(&format!("delete set {tf} {t} {}\n", f.set));
        }
        if let Err(e) = self.backend.run(&script, log) {
            log(
                Severity::Warning,
                format!(
                    "action {}: removing the jail's rules and sets: {e}",
                    self.name
                ),
            );
        }
        // The table goes when no jail uses it any more; a dry run cannot list it,
        // so it says on what condition.
        if matches!(self.backend, Backend::DryRun) {
            log(
                Severity::Notice,
                format!(
                    "dry-run: nft would run, once no other jail's set is in {tf} {t}:\n\
                     delete table {tf} {t}"
                ),
            );
            return;
        }
        if let Ok(listing) = self.backend.run(&format!("list table {tf} {t}\n"), log) {
            if !listing.lines().any(|l| l.trim_start().starts_with("set ")) {
                let _ = self.backend.run(&format!("delete table {tf} {t}\n"), log);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_definition as def;

    #[test]
    fn layout_of_the_stock_action() {
        let a = NftAction::new(
            &def(
                "nftables",
                &[("name", "wordpress-auth"), ("port", "http,https")],
            ),
            Backend::DryRun,
        );
        assert_eq!(a.v4.set, "addr-set-wordpress-auth");
        assert_eq!(a.v6.set, "addr6-set-wordpress-auth");
        assert_eq!(a.matches, vec!["tcp dport { http,https }"]);
        assert_eq!(
            a.chain_spec,
            "{ type filter hook input priority -1; policy accept; }"
        );
        let all = NftAction::new(
            &def(
                "nftables-allports",
                &[("name", "x"), ("protocol", "tcp,udp")],
            ),
            Backend::DryRun,
        );
        assert_eq!(all.matches, vec!["meta l4proto { tcp, udp }"]);
        let ranges = NftAction::new(
            &def("nftables", &[("name", "x"), ("port", "1000:2000")]),
            Backend::DryRun,
        );
        assert_eq!(ranges.matches, vec!["tcp dport { 1000-2000 }"]);
    }

    /// A dry run cannot list the table, so it never says it would delete it
    /// outright (another jail may still use it): it says on what condition.
    #[test]
    fn a_dry_run_stop_deletes_the_table_only_on_condition() {
        let mut a = NftAction::new(&def("nftables", &[("name", "web")]), Backend::DryRun);
        let said = std::sync::Mutex::new(Vec::new());
        let log = |_: Severity, text: String| said.lock().unwrap().push(text);
        a.stop(&[], &log);
        let said = said.into_inner().unwrap();
        assert!(said
            .iter()
            .any(|s| s.contains("delete set inet f2b-table addr-set-web")));
        let table: Vec<&String> = said.iter().filter(|s| s.contains("delete table")).collect();
        assert_eq!(table.len(), 1, "{said:?}");
        assert!(table[0].contains("once no other jail's set is in inet f2b-table"));
    }

    /// What `nft -a list table` prints after a crash: the set of a jail since
    /// removed (three addresses over two lines), a set of another name, and one
    /// of a jail this server never banned in (another daemon's, kept).
    #[test]
    fn sets_no_jail_uses_are_removed_with_their_rules() {
        let listing = "table inet f2b-table { # handle 7
\tset addr-set-sshd { # handle 1
\t\ttype ipv4_addr
\t\telements = { 192.0.2.1 }
\t}
\tset addr-set-recidive { # handle 2
\t\ttype ipv4_addr
\t\telements = { 198.18.2.2, 198.18.2.3,
\t\t\t     203.0.113.8 }
\t}
\tset addr6-set-recidive { # handle 3
\t\ttype ipv6_addr
\t}
\tset my-own { # handle 4
\t\ttype ipv4_addr
\t}
\tset addr-set-fail2bans { # handle 6
\t\ttype ipv4_addr
\t\telements = { 192.0.2.200 }
\t}
\tchain f2b-chain { # handle 5
\t\ttype filter hook input priority filter - 1; policy accept;
\t\ttcp dport { 22 } ip saddr @addr-set-sshd reject # handle 8
\t\tmeta l4proto tcp ip saddr @addr-set-recidive reject # handle 9
\t\tmeta l4proto tcp ip6 saddr @addr6-set-recidive reject # handle 10
\t}
}
";
        let kept = ["addr-set-sshd".to_string(), "addr6-set-sshd".to_string()];
        // `recidive` banned here before; `my-own` is no jail's
        let former = ["sshd".to_string(), "recidive".to_string()];
        let unused = unused_sets(listing, &kept, &former);
        assert_eq!(
            unused,
            [
                ("addr-set-recidive".to_string(), 3),
                ("addr6-set-recidive".to_string(), 0)
            ]
        );
        assert_eq!(
            removal_script(listing, "inet", "f2b-table", &unused),
            "delete rule inet f2b-table f2b-chain handle 9
delete rule inet f2b-table f2b-chain handle 10
delete set inet f2b-table addr-set-recidive
delete set inet f2b-table addr6-set-recidive
"
        );
    }

    #[test]
    fn bans_are_batched_per_family() {
        let a = NftAction::new(&def("nftables", &[("name", "web")]), Backend::DryRun);
        let t = crate::test_ticket;
        let tickets = [t("192.0.2.1"), t("2001:db8::1"), t("192.0.2.2")];
        let refs: Vec<&BanTicket> = tickets.iter().collect();
        assert_eq!(
            a.elements_script("add", &refs),
            "add element inet f2b-table addr-set-web { 192.0.2.1, 192.0.2.2 }\nadd element inet f2b-table addr6-set-web { 2001:db8::1 }\n"
        );
    }
}
