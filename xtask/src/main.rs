//! `cargo run -p xtask -- docs OUTDIR`: write ferroban's man pages (OUTDIR/man) and
//! shell completions for bash, zsh and fish (OUTDIR/completions), all generated from
//! the command-line definition in ferroban-cli, so they cannot drift from `--help`.
//! Completions are also written for the Fail2ban names the binary answers to
//! (`fail2ban-client`, `fail2ban-server`, `fail2ban-regex`), and complete jail names
//! by asking the running server (`ferroban status`).
//!
//! A separate program so that the generators are not linked into the daemon.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Command;
use clap_complete::Shell;

/// Text for roff: backslashes and hyphens escaped, lines not starting with a dot.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('-', "\\-");
    match escaped.strip_prefix('.') {
        Some(rest) => format!("\\&.{rest}"),
        None => escaped,
    }
}

/// The SYNOPSIS of `cmd`, with each option's value name (clap_mangen leaves
/// them out: `[-s ]`).
fn synopsis(cmd: &Command, name: &str) -> String {
    let mut parts = vec![format!("\\fB{}\\fR", roff_text(name))];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| format!(" \\fI{}\\fR", roff_text(v)));
        let takes_value = arg.get_action().takes_values();
        if arg.is_positional() {
            let v = roff_text(
                arg.get_value_names()
                    .and_then(|v| v.first())
                    .map_or(arg.get_id().as_str(), |v| v.as_str()),
            );
            let many = if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
                "..."
            } else {
                ""
            };
            parts.push(if arg.is_required_set() {
                format!("\\fI{v}\\fR{many}")
            } else {
                format!("[\\fI{v}\\fR]{many}")
            });
            continue;
        }
        let flags: Vec<String> = arg
            .get_short()
            .map(|c| format!("\\fB\\-{c}\\fR"))
            .into_iter()
            .chain(
                arg.get_long()
                    .map(|l| format!("\\fB\\-\\-{}\\fR", roff_text(l))),
            )
            .collect();
        let value = if takes_value {
            value.unwrap_or_default()
        } else {
            String::new()
        };
        parts.push(format!("[{}{value}]", flags.join("|")));
    }
    if cmd.has_subcommands() {
        parts.push("\\fICOMMAND\\fR".to_string());
    }
    format!(".SH SYNOPSIS\n{}\n", parts.join(" "))
}

/// The FILES section: where the configuration, socket, database, pid file and log
/// are, for the service and otherwise.
fn files_section() -> String {
    let mut out = String::from(".SH FILES\n");
    for (path, what) in ferroban_cli::files() {
        out.push_str(&format!(
            ".TP\n\\fI{}\\fR\n{}\n",
            roff_text(path),
            roff_text(what)
        ));
    }
    out
}

/// One man page: clap_mangen's sections, with this synopsis and a FILES section.
fn man_page(cmd: Command, name: &str) -> Result<Vec<u8>> {
    let cmd = cmd.name(name.to_string());
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    out.extend(synopsis(&cmd, name).into_bytes());
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().next().is_some() {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    out.extend(files_section().into_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = ferroban_cli::command();
    let mut pages: Vec<(Command, String)> = cmd
        .get_subcommands()
        .map(|sub| (sub.clone(), format!("ferroban-{}", sub.get_name())))
        .collect();
    pages.push((cmd, "ferroban".to_string()));
    let mut written = Vec::new();
    for (cmd, name) in pages {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, man_page(cmd, &name)?)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// The client commands whose first argument is a jail, in ferroban's and in
/// Fail2ban's words.
const JAIL_COMMANDS: &str = "status ban unban get set reload start stop restart";

/// Shell code that completes jail names from the running server, for `program`,
/// appended to clap's completions (whose function for `program` is `clap_fn`).
fn jail_completion(shell: Shell, program: &str, clap_fn: &str) -> String {
    let function = program.replace('-', "_");
    match shell {
        Shell::Bash => format!(
            r#"
# Jail names, from the running server (the -c and -s given on the line count).
_{function}_with_jails() {{
    local i word sub="" server=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in
            -c|-s|--conf|--socket) server+=("$word" "${{COMP_WORDS[i+1]}}"); ((i++)) ;;
            -*) ;;
            *) sub="$word"; break ;;
        esac
    done
    if [[ -n "$sub" && $i -eq $((COMP_CWORD - 1)) && " {JAIL_COMMANDS} " == *" $sub "* ]]; then
        local jails
        jails=$("${{COMP_WORDS[0]}}" "${{server[@]}}" status 2>/dev/null \
            | sed -n 's/.*Jail list:[[:space:]]*//p' | tr -d ',')
        COMPREPLY=( $(compgen -W "$jails" -- "${{COMP_WORDS[COMP_CWORD]}}") )
        return 0
    fi
    {clap_fn} "$@"
}}
complete -F _{function}_with_jails -o nosort -o bashdefault -o default {program}
"#
        ),
        Shell::Fish => format!(
            r#"
# Jail names, from the running server.
function __{function}_jails
    {program} status 2>/dev/null | string replace -rf '.*Jail list:\s*' '' | string split ', '
end
complete -c {program} -n "__fish_seen_subcommand_from {JAIL_COMMANDS}; and test (count (commandline -opc)) -eq 2" -f -a "(__{function}_jails)"
"#
        ),
        _ => String::new(),
    }
}

/// zsh: clap gives jail arguments `_default`; they complete from the server.
fn zsh_with_jails(script: &str, program: &str) -> String {
    let function = format!("_{}_jails", program.replace('-', "_"));
    let helper = format!(
        "\n# Jail names, from the running server.\n{function}() {{\n    local -a jails\n    \
         jails=(${{(s:, :)\"$({program} status 2>/dev/null | sed -n 's/.*Jail list:[[:space:]]*//p')\"}})\n    \
         _describe 'jail' jails\n}}\n"
    );
    let body = script.replace(":jail:_default'", &format!(":jail:{function}'"));
    match body.split_once('\n') {
        Some((compdef, rest)) => format!("{compdef}\n{helper}{rest}"),
        None => body,
    }
}

fn write_completions(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut commands: Vec<Command> = vec![ferroban_cli::command()];
    commands.extend(ferroban_cli::fail2ban_commands());
    let mut written = Vec::new();
    for cmd in commands {
        let program = cmd.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = cmd.clone();
            let path = clap_complete::generate_to(shell, &mut cmd, &program, dir)
                .with_context(|| format!("writing {shell} completions to {}", dir.display()))?;
            let script = std::fs::read_to_string(&path)?;
            let clap_fn = format!("_{}", program.replace('-', "__"));
            // The filter tester takes no jail; every other program talks to the server.
            let script = match shell {
                _ if program == "fail2ban-regex" => script,
                Shell::Zsh => zsh_with_jails(&script, &program),
                _ => script + &jail_completion(shell, &program, &clap_fn),
            };
            std::fs::write(&path, script)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [task, out] if task == "docs" => {
            let out = PathBuf::from(out);
            let mut written = write_man_pages(&out.join("man"))?;
            written.extend(write_completions(&out.join("completions"))?);
            for p in written {
                println!("{}", p.display());
            }
            Ok(())
        }
        _ => bail!("usage: cargo run -p xtask -- docs OUTDIR"),
    }
}
