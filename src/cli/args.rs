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
    /// Export manifests (REPO:TAG, REPO@DIGEST, every tag of REPO, or --all) as an archive,
    /// a layout, or (--format files) the files of one artifact.
    Export {
        #[arg(value_name = "REF|REPO", required_unless_present = "all")]
        refs: Vec<String>,
        /// Every tag of every repository (a whole-registry bundle).
        #[arg(long, conflicts_with = "refs")]
        all: bool,
        /// Output file (or directory for oci-layout and files); `-` writes an archive to stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: String,
        /// oci-archive, docker-archive, oci-layout or files.
        #[arg(long, default_value = "oci-archive", value_name = "FORMAT")]
        format: String,
        /// Keep only these platforms of multi-platform images (repeatable).
        #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
        platforms: Vec<String>,
        /// Leave out the referrers (signatures, SBOMs) of the exported manifests.
        #[arg(long)]
        no_referrers: bool,
        /// Leave out the blobs this inventory (`wharf inventory -o FILE` at the other site) lists: a delta.
        #[arg(long, value_name = "INVENTORY")]
        exclude_present: Option<PathBuf>,
        /// Compress the archive: gzip or zstd.
        #[arg(long, value_name = "ALG")]
        compress: Option<String>,
    },
    /// Write a JSON inventory of every blob and manifest the registry holds (for deltas).
    Inventory {
        /// Write to FILE (default: stdout).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<String>,
    },
    /// Store files as an OCI artifact tagged REPO:TAG (as `oras push`).
    Add {
        /// REPO:TAG the artifact gets.
        reference: String,
        /// Files to store, each FILE or FILE:MEDIATYPE (default application/octet-stream).
        #[arg(value_name = "FILE[:MEDIATYPE]")]
        files: Vec<String>,
        /// The artifact's type (default application/vnd.unknown.artifact.v1).
        #[arg(long, value_name = "T")]
        artifact_type: Option<String>,
        /// A manifest annotation KEY=VALUE (repeatable).
        #[arg(long = "annotation", value_name = "K=V")]
        annotations: Vec<String>,
        /// Move REPO:TAG if it already points at another manifest.
        #[arg(long)]
        force: bool,
    },
    /// Attach files to REF's manifest as a referrer (as `oras attach`): stored untagged.
    Attach {
        /// REPO:TAG or REPO@DIGEST of the subject.
        reference: String,
        /// Files to attach, each FILE or FILE:MEDIATYPE.
        #[arg(value_name = "FILE[:MEDIATYPE]")]
        files: Vec<String>,
        /// The attachment's type, e.g. application/spdx+json or application/vnd.dev.sigstore.bundle.v0.3+json.
        #[arg(long, value_name = "T", required = true)]
        artifact_type: String,
        /// A manifest annotation KEY=VALUE (repeatable).
        #[arg(long = "annotation", value_name = "K=V")]
        annotations: Vec<String>,
    },
    /// List repositories: tags, manifests, size, times.
    Repos,
    /// List a repository's tags with digest and times.
    Tags {
        /// Repository name, e.g. library/alpine.
        repo: String,
        /// Order by last update: time_asc (oldest first) or time_desc (default: by name).
        #[arg(long, value_name = "ORDER")]
        orderby: Option<String>,
        /// Show only the first N rows (after ordering).
        #[arg(long, value_name = "N")]
        top: Option<usize>,
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
    /// Delete a manifest and every tag on it (REPO:TAG or REPO@DIGEST), or a repository.
    Delete {
        /// REPO:TAG or REPO@sha256:HEX
        #[arg(required_unless_present = "repository", conflicts_with = "repository")]
        reference: Option<String>,
        /// Delete this whole repository (permanent, even with soft delete on).
        #[arg(long, value_name = "REPO")]
        repository: Option<String>,
        /// Print what would be deleted and change nothing.
        #[arg(long)]
        dry_run: bool,
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
    /// Check integrity: every blob hashed, every descriptor followed, every problem reported.
    Verify(VerifyArgs),
    /// Remove blobs, pool entries, staging areas and temp files nothing needs.
    Gc {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Spare anything younger than this (d/h/m/s units, e.g. 1h, 30m, 0s).
        #[arg(long, value_name = "DURATION", default_value = crate::ops::gc::DEFAULT_GRACE)]
        grace: String,
    },
    /// Remove tags (and with --untagged, manifests) matching filters, as acr purge does.
    Purge {
        /// REPO_REGEX:TAG_REGEX, both anchored; repeatable.
        #[arg(long = "filter", value_name = "REPO_RE:TAG_RE", required = true)]
        filters: Vec<String>,
        /// Only tags last updated at least this long ago (d/h/m units, e.g. 30d, 1d12h).
        #[arg(long, value_name = "DURATION")]
        ago: Option<String>,
        /// Keep the N most recently updated matching tags of each repository.
        #[arg(long, value_name = "N", default_value_t = 0)]
        keep: usize,
        /// Also delete the manifests left untagged, and old untagged manifests.
        #[arg(long, conflicts_with = "untagged_only")]
        untagged: bool,
        /// Delete old untagged manifests only; no tags.
        #[arg(long)]
        untagged_only: bool,
        /// Also remove tags and manifests locked against delete.
        #[arg(long)]
        include_locked: bool,
        /// Print what would be removed and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Retention, soft-delete expiry and gc in one run, for cron.
    Sweep {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show or set the registry's lifecycle policies.
    Config {
        #[command(subcommand)]
        policy: ConfigCommand,
    },
    /// List soft-deleted items with their deletion and expiry times.
    Deleted {
        /// Only this repository.
        repo: Option<String>,
    },
    /// Bring back a soft-deleted manifest with its tag (and an index with its children).
    Restore {
        /// REPO:TAG (or REPO@DIGEST for an untagged manifest)
        reference: String,
        /// Restore the item with this digest (when the tag was deleted more than once).
        #[arg(long, value_name = "DIGEST")]
        digest: Option<String>,
        /// Move tags that now point at another manifest.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Untagged-manifest retention: `wharf sweep` deletes untagged manifests older than N days.
    Retention {
        /// 0 to 365.
        #[arg(long, value_name = "N", conflicts_with = "disable")]
        untagged_days: Option<u32>,
        #[arg(long)]
        disable: bool,
    },
    /// Soft delete: deletes go to the trash for N days and can be restored.
    SoftDelete {
        /// 1 to 90.
        #[arg(long, value_name = "N", conflicts_with = "disable")]
        days: Option<u32>,
        #[arg(long)]
        disable: bool,
    },
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
