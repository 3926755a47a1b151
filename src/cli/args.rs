//! Argument definitions (clap derive). The command line is a public contract: see
//! docs/CLI.md.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "wharf", version, about = "An offline container-image registry that lives in a directory")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The registry root (or a plain OCI layout). Default: $WHARF_ROOT, else ~/.local/share/wharf.
    #[arg(long, global = true, env = "WHARF_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print less: no progress, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Act as if the clock read TIMESTAMP (RFC 3339 or YYYY-MM-DD).
    #[arg(long, global = true, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,
    /// Fail at once instead of waiting when another process holds the registry lock.
    #[arg(long, global = true)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make the root directory a registry.
    Init,
    /// List repositories: tags, manifests, size, times.
    Repos,
    /// List a repository's tags with digest and times.
    Tags {
        /// Repository name, e.g. library/alpine.
        repo: String,
    },
    /// Point TARGET (REPO:TAG) at the manifest SOURCE names.
    Tag {
        source: String,
        target: String,
        /// Move TARGET if it already points at another manifest (the old one stays, untagged).
        #[arg(long)]
        force: bool,
    },
    /// Remove one tag; the manifest stays, untagged, addressable by digest.
    Untag {
        /// REPO:TAG
        reference: String,
    },
    /// Check integrity: every blob hashed, every descriptor followed, every problem reported.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// What to verify: REPO, REPO:TAG, REPO@DIGEST, or the PATH of an OCI layout or a
    /// registry (an argument starting with `/` or `.` is always a path). None: the whole
    /// registry.
    #[arg(value_name = "REPO|REF|PATH")]
    pub targets: Vec<String>,
    /// Hashing threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Check presence, sizes and structure only; hash nothing.
    #[arg(long)]
    pub quick: bool,
    /// How blob bytes are read: `auto` (mmap for files of 1 MiB and more, the default),
    /// `read` (1 MiB reads) or `mmap`; for benchmarks.
    #[arg(long, value_name = "MODE", default_value = "auto", hide = true)]
    pub io: String,
}
