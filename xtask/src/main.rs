//! `cargo run -p xtask -- docs OUTDIR`: write ferroban's man pages (OUTDIR/man) and
//! shell completions for bash, zsh and fish (OUTDIR/completions), all generated from
//! the command-line definition in ferroban-cli, so they cannot drift from `--help`.
//!
//! A separate program so that the generators are not linked into the daemon.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap_complete::Shell;

fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = ferroban_cli::command();
    let mut written = Vec::new();
    let mut page = |cmd: clap::Command, name: String| -> Result<()> {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd.name(name.clone())).render(&mut out)?;
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    for sub in cmd.get_subcommands() {
        page(sub.clone(), format!("ferroban-{}", sub.get_name()))?;
    }
    page(cmd, "ferroban".to_string())?;
    Ok(written)
}

fn write_completions(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = ferroban_cli::command();
        let path = clap_complete::generate_to(shell, &mut cmd, "ferroban", dir)
            .with_context(|| format!("writing {shell} completions to {}", dir.display()))?;
        written.push(path);
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
