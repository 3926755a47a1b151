//! `wharf completions SHELL` and `wharf man -o DIR`: the command line describes itself
//! from the same clap definitions that parse it, so completions and man pages never drift
//! from the real arguments.

use std::path::Path;

use clap::CommandFactory;
use serde::Serialize;

use super::args::Cli;
use super::output::Human;
use crate::error::{Error, Result};
use crate::store::fs::{atomic_write, create_dir_all_durable};

/// A completion script (`wharf completions SHELL`).
#[derive(Debug, Serialize)]
pub struct Completions {
    pub shell: String,
    pub script: String,
}

impl Human for Completions {
    fn human(&self, out: &mut String) {
        out.push_str(&self.script);
    }
}

/// Renders the completion script for `shell` (in memory: the printer writes it, so a
/// closed stdout is handled like every other report's).
pub fn completions(shell: clap_complete::Shell) -> Result<Completions> {
    let mut cmd = Cli::command();
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wharf", &mut bytes);
    let script =
        String::from_utf8(bytes).map_err(|_| Error::Usage(format!("the {shell} completion script is not UTF-8")))?;
    Ok(Completions { shell: shell.to_string(), script })
}

/// The man pages written by `wharf man`.
#[derive(Debug, Serialize)]
pub struct ManReport {
    pub directory: String,
    pub pages: Vec<String>,
}

impl Human for ManReport {
    fn human(&self, out: &mut String) {
        for p in &self.pages {
            out.push_str(&format!("{}/{p}\n", self.directory));
        }
    }
}

/// Writes `wharf.1` and one `wharf-COMMAND.1` per command (`wharf-config-retention.1` for
/// nested ones) into `dir`, creating it if needed.
pub fn man_pages(dir: &Path) -> Result<ManReport> {
    create_dir_all_durable(dir)?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = Vec::new();
    write_page(dir, &cmd, "wharf", &mut pages)?;
    pages.sort();
    Ok(ManReport { directory: dir.display().to_string(), pages })
}

fn write_page(dir: &Path, cmd: &clap::Command, name: &str, pages: &mut Vec<String>) -> Result<()> {
    let page = cmd.clone().name(name.to_string());
    let mut bytes = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut bytes)
        .map_err(Error::io("render the man page", dir.join(format!("{name}.1"))))?;
    let file = format!("{name}.1");
    atomic_write(&dir.join(&file), &bytes)?;
    pages.push(file);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_page(dir, sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}
