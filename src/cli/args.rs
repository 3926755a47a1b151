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
    #[arg(long, global = true, value_name = "DIR")]
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
    /// List a repository's manifests (tagged and untagged) with tags, times and locks.
    Manifests {
        /// Repository name.
        repo: String,
        /// Order by creation time: time_asc (oldest first, the default) or time_desc.
        #[arg(long, value_name = "ORDER", default_value = "time_asc")]
        orderby: String,
        /// Show only the first N rows (after ordering).
        #[arg(long, value_name = "N")]
        top: Option<usize>,
    },
    /// Show one manifest: digest, size, media type, platforms, tags, times, locks,
    /// children and referrers.
    Show {
        /// REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// List the manifests whose subject is REF's manifest (OCI 1.1 referrers).
    Referrers {
        /// REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// Set lock attributes of a repository (REPO), a tag (REPO:TAG) or a manifest (REPO@DIGEST).
    Update {
        /// REPO, REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST (the tag, pinned to the digest).
        reference: String,
        /// Allow (true) or forbid (false) overwrite, re-point, untag and delete.
        #[arg(long, value_name = "B", value_parser = clap::value_parser!(bool))]
        write_enabled: Option<bool>,
        /// Allow (true) or forbid (false) delete and untag.
        #[arg(long, value_name = "B", value_parser = clap::value_parser!(bool))]
        delete_enabled: Option<bool>,
        /// Allow (true) or forbid (false) export.
        #[arg(long, value_name = "B", value_parser = clap::value_parser!(bool))]
        read_enabled: Option<bool>,
        /// Show (true) or hide (false) in listings.
        #[arg(long, value_name = "B", value_parser = clap::value_parser!(bool))]
        list_enabled: Option<bool>,
    },
    /// Lock REF: write and delete disabled (shorthand for update).
    Lock {
        /// REPO, REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// Unlock REF: write and delete enabled (shorthand for update).
    Unlock {
        /// REPO, REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
}
