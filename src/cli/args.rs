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
    /// Import images from archives or layouts (docker-archive, oci-archive, OCI layout, skopeo dir:; gzip/zstd/xz/bzip2; - for stdin).
    Import {
        /// Files or directories, detected by content; `-` reads stdin.
        #[arg(required = true, value_name = "SOURCE")]
        sources: Vec<String>,
        /// Put every image into this repository (overrides the names in the source).
        #[arg(long, value_name = "R")]
        repo: Option<String>,
        /// Tag the image with T (repeatable; replaces the source's tags; one image only).
        #[arg(long = "tag", value_name = "T")]
        tags: Vec<String>,
        /// Import only these platforms of multi-platform images (repeatable).
        #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
        platforms: Vec<String>,
        /// Move tags that already point at another manifest (the old one stays, untagged).
        #[arg(long)]
        force: bool,
        /// Keep the registry host as the first path component (localhost:5000/app -> localhost-5000/app).
        #[arg(long)]
        scoped: bool,
    },
    /// Export manifests (REPO:TAG or REPO@DIGEST) as an archive or a layout.
    Export {
        #[arg(required = true, value_name = "REF")]
        refs: Vec<String>,
        /// Output file (or directory for oci-layout); `-` writes an archive to stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: String,
        /// oci-archive, docker-archive or oci-layout.
        #[arg(long, default_value = "oci-archive", value_name = "FORMAT")]
        format: String,
    },
}
