//! Argument definitions (clap derive). The command line is a public contract: see
//! docs/CLI.md.
//!
//! The `///` comments below are the command line's help text (clap reads them), written
//! in the CLI's own notation (`HOST[:PORT]`), not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

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
    #[command(after_help = "Examples:\n  wharf --root /srv/wharf init\n  WHARF_ROOT=/srv/wharf wharf init")]
    Init,
    /// Import images from archives or layouts (docker-archive, oci-archive, OCI layout, skopeo dir:; gzip/zstd/xz/bzip2; - for stdin) and Helm charts (CHART.tgz, with CHART.tgz.prov beside it).
    #[command(
        after_help = "Examples:\n  wharf import alpine.tar\n  wharf import --repo team/app --tag 1.4 ./out/layout\n  zstd -dc image.tar.zst | wharf import --repo team/app --tag 2 -"
    )]
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
        /// Refuse (exit 2, nothing written) content without a valid cosign signature by
        /// this public key arriving with it (repeatable: any one key will do).
        #[arg(long = "require-signed", value_name = "PUB")]
        require_signed: Vec<PathBuf>,
    },
    /// Export manifests (REPO:TAG, REPO@DIGEST, every tag of REPO, or --all) as an archive,
    /// a layout, or (--format files) the files of one artifact.
    #[command(
        after_help = "Examples:\n  wharf export team/app:1.4 -o app.tar --format docker-archive\n  wharf export --all -o bundle.tar.zst --compress zstd\n  wharf export --all --exclude-present site.json -o delta.tar\n  wharf export releases/app:1.4 --format files -o ./out"
    )]
    Export {
        /// What to export: REPO:TAG, REPO@DIGEST, REPO:TAG@DIGEST, or REPO for every tag of it (repeatable).
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
    #[command(after_help = "Examples:\n  wharf inventory -o site.json\n  wharf inventory | jq '.blobs | length'")]
    Inventory {
        /// Write to FILE (default: stdout).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<String>,
    },
    /// Serve the registry read-only over the OCI distribution API (pull, referrers, listings) until SIGTERM/SIGINT.
    #[command(
        after_help = "Examples:\n  wharf serve\n  wharf serve --addr 0.0.0.0:5443 --tls-cert cert.pem --tls-key key.pem --htpasswd users.htpasswd\n  skopeo copy --src-tls-verify=false docker://127.0.0.1:5000/team/app:1.4 oci:out\n\nEvery read honours the read locks as export does; every write gets 405 naming the wharf command to use."
    )]
    Serve {
        /// Listen on ADDR (port 0 picks a free port; the address is printed on stderr).
        #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDR")]
        addr: String,
        /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Require Basic credentials from this bcrypt htpasswd file (`htpasswd -B`).
        #[arg(long, value_name = "FILE")]
        htpasswd: Option<PathBuf>,
        /// Connections served at once; more wait in the backlog.
        #[arg(long, default_value_t = 256, value_name = "N")]
        max_connections: usize,
        /// Append one line per request to FILE (`-` for stdout).
        #[arg(long, value_name = "FILE|-")]
        access_log: Option<PathBuf>,
        /// Allow plain HTTP on an address that is not loopback.
        #[arg(long)]
        insecure_listen: bool,
        /// How long in-flight responses may finish after SIGTERM/SIGINT.
        #[arg(long, default_value = "10s", value_name = "DURATION")]
        shutdown_grace: String,
    },
    /// Store files as an OCI artifact tagged REPO:TAG (as `oras push`).
    #[command(
        after_help = "Examples:\n  wharf add releases/app:1.4 app-linux-amd64 LICENSE\n  wharf add docs/manual:2 manual.pdf:application/pdf --artifact-type application/vnd.acme.manual\n  wharf add releases/app:1.4 app.tgz --annotation org.opencontainers.image.version=1.4 --force"
    )]
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
    #[command(
        after_help = "Examples:\n  wharf attach team/app:1.4 sbom.spdx.json:application/spdx+json --artifact-type application/spdx+json\n  wharf attach team/app@sha256:<hex> app.sig --artifact-type application/vnd.dev.cosign.artifact.sig.v1+json"
    )]
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
    /// Sign manifests with a key, in cosign's format (a `sha256-<hex>.sig` manifest beside each).
    #[command(
        after_help = "Examples:\n  wharf sign team/app:1.4 --key cosign.key\n  COSIGN_PASSWORD=... wharf sign team/app:1.4 team/web:2 --key cosign.key --annotation build=4711\n  wharf sign team/app:multi --key release.pem --recursive"
    )]
    Sign {
        /// REPO:TAG or REPO@DIGEST of each manifest to sign (repeatable).
        #[arg(required = true, value_name = "REF")]
        references: Vec<String>,
        /// The private key: cosign's encrypted key (passphrase from $COSIGN_PASSWORD, else
        /// asked on the terminal) or a PKCS#8 PEM (P-256, RSA or Ed25519).
        #[arg(long, value_name = "KEY", required = true)]
        key: PathBuf,
        /// A claim KEY=VALUE in the signed payload's `optional` section (repeatable).
        #[arg(long = "annotation", value_name = "K=V")]
        annotations: Vec<String>,
        /// For an index, sign each platform manifest it lists too.
        #[arg(long)]
        recursive: bool,
    },
    /// Pull images from a registry (HOST[:PORT]/REPO[:TAG|@DIGEST]; no host means docker.io).
    #[command(
        after_help = "Examples:\n  wharf pull registry.example.com/team/app:1.4\n  wharf pull docker.io/library/alpine --all-tags --platform linux/amd64\n  wharf pull localhost:5000/app@sha256:<hex> --repo mirror/app --tag pinned --plain-http"
    )]
    Pull {
        /// What to pull: HOST[:PORT]/REPO[:TAG|@DIGEST] (repeatable; no host means docker.io).
        #[arg(required = true, value_name = "SOURCE")]
        sources: Vec<String>,
        /// Put every image into this repository (default: the source's path, host dropped).
        #[arg(long, value_name = "R")]
        repo: Option<String>,
        /// Tag the image with T (repeatable; replaces the source's tag; one image only).
        #[arg(long = "tag", value_name = "T")]
        tags: Vec<String>,
        /// Pull every tag of each SOURCE repository.
        #[arg(long)]
        all_tags: bool,
        /// Pull only these platforms of multi-platform images (repeatable).
        #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
        platforms: Vec<String>,
        /// Do not fetch referrers (signatures, SBOMs) of the pulled manifests.
        #[arg(long)]
        no_referrers: bool,
        /// Move tags that already point at another manifest (the old one stays, untagged).
        #[arg(long)]
        force: bool,
        /// Keep the registry host as the first path component (127.0.0.1:5000/app -> 127.0.0.1-5000/app).
        #[arg(long)]
        scoped: bool,
        /// Parallel blob downloads.
        #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        #[command(flatten)]
        remote: RemoteArgs,
        /// Refuse (exit 2, nothing written) content without a valid cosign signature by
        /// this public key arriving with it (repeatable: any one key will do).
        #[arg(long = "require-signed", value_name = "PUB")]
        require_signed: Vec<PathBuf>,
        /// Apply a containers-policy.json(5) to each image, as podman does for the docker
        /// transport; `default` is /etc/containers/policy.json.
        #[arg(long, value_name = "FILE|default")]
        policy: Option<String>,
    },
    /// Keep images, Helm charts and files in step with a sync file (skopeo's sync YAML, plus `wharf:`).
    #[command(
        after_help = "Examples:\n  wharf sync mirror.yaml --dry-run\n  wharf sync mirror.yaml --platform linux/amd64 --keep-going\n  wharf sync mirror.yaml --prune --json\n\nPlans first (tag lists, one manifest request per tag), prints the plan, then fetches what is new or moved."
    )]
    Sync {
        /// Sync files (YAML; skopeo's `--src yaml` format plus the `wharf:` block).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the plan and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep only these platforms of multi-platform images (repeatable; replaces the file's).
        #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
        platforms: Vec<String>,
        /// Parallel blob downloads per image.
        #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Go on after a failing entry; report every failure and exit 1.
        #[arg(long)]
        keep_going: bool,
        /// Remove local tags, in the repositories the file names, that it no longer selects.
        #[arg(long)]
        prune: bool,
        /// Do not fetch referrers (signatures, SBOMs) of the synced images.
        #[arg(long)]
        no_referrers: bool,
        /// Refuse (that entry fails, nothing of it written) any image or chart without a
        /// valid cosign signature by this public key arriving with it (repeatable).
        #[arg(long = "require-signed", value_name = "PUB")]
        require_signed: Vec<PathBuf>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Push tags to a registry: HOST[:PORT][/PREFIX]/REPO:TAG, bytes unchanged.
    #[command(
        after_help = "Examples:\n  wharf push team/app:1.4 --to registry.internal:5000\n  wharf push --all --to registry.internal/mirror --dry-run\n  echo \"$TOKEN\" | wharf push team/app --to harbor.example.com/proj --creds ci --password-stdin"
    )]
    Push {
        /// REPO (every tag) or REF (REPO:TAG, REPO@DIGEST).
        #[arg(value_name = "REPO|REF")]
        targets: Vec<String>,
        /// Destination registry, optionally with a path prefix.
        #[arg(long, value_name = "HOST[:PORT][/PREFIX]")]
        to: String,
        /// Push every repository.
        #[arg(long)]
        all: bool,
        /// Do not push referrers (signatures, SBOMs) along with their subjects.
        #[arg(long)]
        no_referrers: bool,
        /// Show per tag what would be uploaded, mounted or skipped; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Parallel blob transfers.
        #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List repositories: tags, manifests, size, times.
    #[command(after_help = "Examples:\n  wharf repos\n  wharf --json repos | jq -r '.repositories[].name'")]
    Repos,
    /// List a repository's tags with digest and times.
    #[command(after_help = "Examples:\n  wharf tags library/alpine\n  wharf --json tags team/app")]
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
    #[command(
        after_help = "Examples:\n  wharf manifests team/app\n  wharf manifests team/app --orderby time_desc --top 5"
    )]
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
    #[command(after_help = "Examples:\n  wharf show team/app:1.4\n  wharf --json show team/app@sha256:<hex>")]
    Show {
        /// REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// List the manifests whose subject is REF's manifest (OCI 1.1 referrers).
    #[command(after_help = "Examples:\n  wharf referrers team/app:1.4")]
    Referrers {
        /// REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// Point TARGET (REPO:TAG) at the manifest SOURCE names.
    #[command(
        after_help = "Examples:\n  wharf tag team/app:1.4 team/app:stable\n  wharf tag team/app@sha256:<hex> team/app:rollback --force"
    )]
    Tag {
        /// The manifest to tag: REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        source: String,
        /// The tag to set: REPO:TAG (in the same or another repository).
        target: String,
        /// Move TARGET if it already points at another manifest (the old one stays, untagged).
        #[arg(long)]
        force: bool,
    },
    /// Remove one tag; the manifest stays, untagged, addressable by digest.
    #[command(after_help = "Examples:\n  wharf untag team/app:build-17")]
    Untag {
        /// REPO:TAG
        reference: String,
    },
    /// Delete a manifest and every tag on it (REPO:TAG or REPO@DIGEST), or a repository.
    #[command(
        after_help = "Examples:\n  wharf delete team/app:build-17 --dry-run\n  wharf delete team/app@sha256:<hex>\n  wharf delete --repository team/old"
    )]
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
    #[command(
        after_help = "Examples:\n  wharf update team/app:stable --write-enabled false\n  wharf update team/app --read-enabled false\n  wharf update team/app@sha256:<hex> --delete-enabled true"
    )]
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
    #[command(after_help = "Examples:\n  wharf lock team/app:stable\n  wharf lock team/app")]
    Lock {
        /// REPO, REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// Unlock REF: write and delete enabled (shorthand for update).
    #[command(after_help = "Examples:\n  wharf unlock team/app:stable")]
    Unlock {
        /// REPO, REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST.
        reference: String,
    },
    /// Check integrity: every blob hashed, every descriptor followed, every problem reported.
    #[command(
        after_help = "Examples:\n  wharf verify\n  wharf verify team/app:1.4 --quick\n  wharf verify ./out/layout"
    )]
    Verify(VerifyArgs),
    /// Remove blobs, pool entries, staging areas and temp files nothing needs.
    #[command(after_help = "Examples:\n  wharf gc --dry-run\n  wharf gc --grace 0s")]
    Gc {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Spare anything younger than this (d/h/m/s units, e.g. 1h, 30m, 0s).
        #[arg(long, value_name = "DURATION", default_value = crate::ops::gc::DEFAULT_GRACE)]
        grace: String,
    },
    /// Remove tags (and with --untagged, manifests) matching filters, as acr purge does.
    #[command(
        after_help = "Examples:\n  wharf purge --filter 'team/.*:build-.*' --ago 30d --keep 5 --dry-run\n  wharf purge --filter 'team/app:.*' --untagged-only --ago 7d"
    )]
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
    #[command(after_help = "Examples:\n  wharf sweep --dry-run\n  wharf --as-of 2027-01-01 sweep --dry-run")]
    Sweep {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show (no subcommand: both) or set the registry's lifecycle policies.
    #[command(
        after_help = "Examples:\n  wharf config\n  wharf config retention --untagged-days 7\n  wharf config soft-delete --days 14"
    )]
    Config {
        #[command(subcommand)]
        policy: Option<ConfigCommand>,
    },
    /// List soft-deleted items with their deletion and expiry times.
    #[command(after_help = "Examples:\n  wharf deleted\n  wharf deleted team/app")]
    Deleted {
        /// Only this repository.
        repo: Option<String>,
    },
    /// Bring back a soft-deleted manifest with its tag (and an index with its children).
    #[command(
        after_help = "Examples:\n  wharf restore team/app:1.4\n  wharf restore team/app:1.4 --digest sha256:<hex> --force"
    )]
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
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) on stdout.
    #[command(
        after_help = "Examples:\n  wharf completions bash > /etc/bash_completion.d/wharf\n  wharf completions zsh > \"${fpath[1]}/_wharf\"\n  wharf completions fish > ~/.config/fish/completions/wharf.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages: wharf.1 and one wharf-COMMAND.1 per command.
    #[command(
        after_help = "Examples:\n  wharf man -o /usr/local/share/man/man1\n  wharf man -o ./man && man ./man/wharf-purge.1"
    )]
    Man {
        /// The directory to write the pages into (created if absent).
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: PathBuf,
    },
    /// Check credentials against a registry and keep them where podman keeps them
    /// (auth.json, mode 0600; a credential helper the file names stores them instead).
    #[command(
        after_help = "Examples:\n  wharf login registry.internal --creds ci:secret --authfile ./auth.json\n  echo \"$PASSWORD\" | wharf login registry.internal:5000 -u ci --password-stdin"
    )]
    Login {
        /// The registry, HOST[:PORT].
        #[arg(value_name = "HOST[:PORT]")]
        host: String,
        /// The user name (the password then comes from --password-stdin).
        #[arg(short = 'u', long, value_name = "USER")]
        username: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Remove the credentials of a registry from the credentials file.
    #[command(after_help = "Examples:\n  wharf logout registry.internal:5000\n  wharf logout --all")]
    Logout {
        /// The registry, HOST[:PORT].
        #[arg(value_name = "HOST[:PORT]", required_unless_present = "all")]
        host: Option<String>,
        /// Remove every registry's credentials from the file.
        #[arg(long)]
        all: bool,
        /// The credentials file instead of the default one ($REGISTRY_AUTH_FILE,
        /// $XDG_RUNTIME_DIR/containers/auth.json, /run/containers/$UID/auth.json).
        #[arg(long, value_name = "FILE")]
        authfile: Option<PathBuf>,
    },
}

/// Connection options of `pull` and `push`.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Credentials for the registry (USER or USER:PASS).
    #[arg(long, value_name = "USER[:PASS]")]
    pub creds: Option<String>,
    /// Read the password from stdin (with --creds USER), or USER:PASS (without --creds).
    #[arg(long)]
    pub password_stdin: bool,
    /// Credentials file (auth.json or docker config.json) instead of the default search.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Also trust the CA certificate(s) in this PEM file for the registry's TLS (added to
    /// the system trust store).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// A certs.d-style directory (*.crt CAs, *.cert + *.key client certificate) instead of
    /// the registry's in ~/.config/containers/certs.d, /etc/containers/certs.d, /etc/docker/certs.d.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Trust the Mozilla roots compiled into wharf instead of the system trust store.
    #[arg(long)]
    pub no_system_roots: bool,
    /// Verify the registry's TLS certificate (--tls-verify=false skips it and allows plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    /// Speak plain HTTP to the registry (no TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// Give up on a registry that stays silent this long: connecting, or waiting for the
    /// next bytes of an answer (default 30). A silent request is tried 3 times in all.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: Option<u64>,
}

impl Command {
    /// True for commands whose output is the data asked for (listings, show, verify's
    /// findings, scripts): `--quiet` never hides it. Commands that change the registry or
    /// write files print a summary, which `--quiet` drops on success.
    pub fn prints_data(&self) -> bool {
        match self {
            Command::Repos
            | Command::Tags { .. }
            | Command::Manifests { .. }
            | Command::Show { .. }
            | Command::Referrers { .. }
            | Command::Deleted { .. }
            | Command::Verify(_)
            | Command::Completions { .. }
            | Command::Inventory { .. } => true,
            Command::Config { policy } => matches!(
                policy,
                None | Some(ConfigCommand::Retention { untagged_days: None, disable: false })
                    | Some(ConfigCommand::SoftDelete { days: None, disable: false })
                    | Some(ConfigCommand::Signatures { require: false, disable: false, .. })
            ),
            _ => false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Untagged-manifest retention: `wharf sweep` deletes untagged manifests older than N days.
    #[command(
        after_help = "Examples:\n  wharf config retention\n  wharf config retention --untagged-days 7\n  wharf config retention --disable"
    )]
    Retention {
        /// 0 to 365.
        #[arg(long, value_name = "N", conflicts_with = "disable")]
        untagged_days: Option<u32>,
        /// Keep untagged manifests forever.
        #[arg(long)]
        disable: bool,
    },
    /// Soft delete: deletes go to the trash for N days and can be restored.
    #[command(
        after_help = "Examples:\n  wharf config soft-delete\n  wharf config soft-delete --days 14\n  wharf config soft-delete --disable"
    )]
    SoftDelete {
        /// 1 to 90.
        #[arg(long, value_name = "N", conflicts_with = "disable")]
        days: Option<u32>,
        /// Delete permanently at once.
        #[arg(long)]
        disable: bool,
    },
    /// The standing signature policy: import, pull and sync into matching repositories
    /// refuse content without a valid cosign signature by one of the keys.
    #[command(
        after_help = "Examples:\n  wharf config signatures\n  wharf config signatures --require --key build.pub\n  wharf config signatures --require --key build.pub --scope 'releases/.*'\n  wharf config signatures --disable"
    )]
    Signatures {
        /// Turn the policy on (with --key).
        #[arg(long, requires = "keys", conflicts_with = "disable")]
        require: bool,
        /// A public key (PEM) any one of which must have signed (repeatable); stored in registry.json.
        #[arg(long = "key", value_name = "PUB")]
        keys: Vec<PathBuf>,
        /// Only repositories whose name matches this regex (anchored).
        #[arg(long, value_name = "REGEX", requires = "require")]
        scope: Option<String>,
        /// Turn the policy off.
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
    /// Check cosign signatures with this public key (PEM; repeatable: any one key will do).
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// An image without a valid signature is an error (without it, unsigned is info).
    #[arg(long, requires = "keys")]
    pub require_signed: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and subcommand ends its --help with examples, and every positional
    /// argument says what it is.
    #[test]
    fn every_command_has_examples_and_described_positionals() {
        fn check(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                let leaf = sub.get_subcommands().next().is_none();
                let examples = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
                if !examples.starts_with("Examples:\n  wharf ") && (leaf || path == "wharf") {
                    missing.push(format!("{name}: no examples"));
                }
                for a in sub.get_positionals() {
                    if a.get_help().is_none() {
                        missing.push(format!("{name}: positional {} has no description", a.get_id()));
                    }
                }
                check(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "wharf", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }
}
