//! The library's front door: [`Registry`], one method per operation, each taking an
//! options struct that implements `Default` and returning the operation's report (the
//! same report `wharf --json` prints).
//!
//! Every method takes the registry lock it needs (shared for reads, exclusive for
//! writes), waiting for another process unless [`Registry::no_wait`] was set, and reads
//! the clock once, unless [`Registry::as_of`] fixed the time (verify reads no clock).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::model::{Platform, Reference, RepoName, Tag, Timestamp};
use crate::ops::{self, Ctx};
use crate::registry;
use crate::reports::*;

/// A wharf registry (or a plain OCI layout used as a registry of one repository).
///
/// ```
/// # fn main() -> wharf::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let reg = wharf::Registry::init(dir.path().join("registry"))?;
/// assert!(reg.repos()?.repositories.is_empty());
/// # Ok(()) }
/// ```
pub struct Registry {
    inner: registry::Registry,
    root: PathBuf,
    as_of: Option<Timestamp>,
    wait: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("root", &self.root)
            .field("as_of", &self.as_of)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// Options of [`Registry::import`] and [`Registry::import_reader`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Put every image into this repository (overrides the names the source gives).
    pub repo: Option<RepoName>,
    /// Tag the image with these tags instead of the source's (one image only).
    pub tags: Vec<Tag>,
    /// Import only these platforms of multi-platform images (all when empty).
    pub platforms: Vec<Platform>,
    /// Move tags that already point at another manifest (the old one stays, untagged).
    pub force: bool,
    /// Keep the source's registry host as the first path component of the name.
    pub scoped: bool,
    /// The signature gate: refuse (nothing written) any image that does not arrive with a
    /// valid cosign signature by one of its keys. `None` applies the registry's standing
    /// policy, if any (`wharf config signatures`).
    pub require_signed: Option<SignatureGate>,
}

/// Options of [`Registry::export`] and [`Registry::export_writer`].
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The output format (oci-archive by default).
    pub format: ExportFormat,
}

/// Options of [`Registry::tag`].
#[derive(Debug, Clone, Default)]
pub struct TagOptions {
    /// Move the target tag if it already points at another manifest.
    pub force: bool,
}

/// Options of [`Registry::delete`] and [`Registry::delete_repository`].
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Plan only: report what would be deleted and change nothing.
    pub dry_run: bool,
}

/// Options of [`Registry::lock`]: each attribute to set, `None` to leave it as it is.
/// `LockOptions::default()` changes nothing; [`LockOptions::locked`] is `wharf lock`.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    /// Allow or forbid overwrite, re-point, untag and delete.
    pub write_enabled: Option<bool>,
    /// Allow or forbid delete and untag.
    pub delete_enabled: Option<bool>,
    /// Allow or forbid export.
    pub read_enabled: Option<bool>,
    /// Show or hide in listings.
    pub list_enabled: Option<bool>,
}

impl LockOptions {
    /// Write and delete disabled, as `wharf lock` sets them.
    pub fn locked() -> LockOptions {
        LockOptions { write_enabled: Some(false), delete_enabled: Some(false), ..LockOptions::default() }
    }

    /// Write and delete enabled, as `wharf unlock` sets them.
    pub fn unlocked() -> LockOptions {
        LockOptions { write_enabled: Some(true), delete_enabled: Some(true), ..LockOptions::default() }
    }
}

/// Options of [`Registry::verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// What to verify: repositories (`REPO`) or references (`REPO:TAG`, `REPO@DIGEST`);
    /// empty means the whole registry.
    pub targets: Vec<String>,
    /// Check presence, sizes and structure only; hash nothing.
    pub quick: bool,
    /// Hashing threads; `None` is one per core.
    pub jobs: Option<usize>,
    /// Check each selected image's cosign signature with these keys (any one will do);
    /// empty: no signature checks. Findings: `unsigned`, `bad_signature`, `wrong_digest`,
    /// `identity_mismatch`.
    pub keys: Vec<PublicKey>,
    /// With `keys`: an unsigned image is an error, not info.
    pub require_signed: bool,
}

/// Options of [`Registry::sign`].
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// Claims put in the signed payload's `optional` section.
    pub annotations: BTreeMap<String, String>,
    /// For an index, sign each platform manifest it lists too.
    pub recursive: bool,
    /// The passphrase of a cosign encrypted key (`None`: the key must be unencrypted).
    pub passphrase: Option<String>,
}

/// Options of [`Registry::gc`].
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Plan only: report what would be removed and change nothing.
    pub dry_run: bool,
    /// Spare anything younger than this (staging areas, temp files, fresh blobs). The
    /// default is one hour, as for `wharf gc`: a gc with default options right after a
    /// change frees nothing that change left behind; pass `Duration::zero()` to collect
    /// at once (safe only when no other process is importing into the registry).
    pub grace: Duration,
}

impl Default for GcOptions {
    fn default() -> GcOptions {
        GcOptions { dry_run: false, grace: Duration::hours(1) }
    }
}

/// Options of [`Registry::purge`], as `acr purge` takes them.
#[derive(Debug, Clone, Default)]
pub struct PurgeOptions {
    /// `REPO_REGEX:TAG_REGEX` filters, both anchored (parse with [`Filter::parse`]).
    pub filters: Vec<Filter>,
    /// Only tags last updated at least this long ago.
    pub ago: Option<Duration>,
    /// Keep the N most recently updated matching tags of each repository.
    pub keep: usize,
    /// Also delete the manifests left untagged, and old untagged manifests.
    pub untagged: bool,
    /// Delete old untagged manifests only; no tags.
    pub untagged_only: bool,
    /// Also remove tags and manifests locked against delete.
    pub include_locked: bool,
    /// Plan only.
    pub dry_run: bool,
}

/// Options of [`Registry::sweep`].
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Plan only.
    pub dry_run: bool,
}

/// Options of [`Registry::pull`].
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Put every image into this repository (default: the source's path, host dropped).
    pub repo: Option<RepoName>,
    /// Tag the image with these tags instead of the source's (one image only).
    pub tags: Vec<Tag>,
    /// The source names a repository (no tag, no digest): pull every tag of it.
    pub all_tags: bool,
    /// Pull only these platforms of multi-platform images (all when empty).
    pub platforms: Vec<Platform>,
    /// Do not fetch referrers (signatures, SBOMs) of the pulled manifests.
    pub no_referrers: bool,
    /// Move tags that already point at another manifest (the old one stays, untagged).
    pub force: bool,
    /// Keep the registry host as the first path component of the name
    /// (`127.0.0.1:5000/app` becomes `127.0.0.1-5000/app`).
    pub scoped: bool,
    /// Parallel blob downloads (1 to 64; 4 by default).
    pub jobs: usize,
    /// How to reach and authenticate to the registry.
    pub remote: RemoteOptions,
    /// The signature gate (see [`ImportOptions::require_signed`]); the `.sig` manifest of
    /// each image is pulled with it.
    pub require_signed: Option<SignatureGate>,
}

impl Default for PullOptions {
    fn default() -> PullOptions {
        PullOptions {
            repo: None,
            tags: Vec::new(),
            all_tags: false,
            platforms: Vec::new(),
            no_referrers: false,
            force: false,
            scoped: false,
            jobs: 4,
            remote: RemoteOptions::default(),
            require_signed: None,
        }
    }
}

/// Options of [`Registry::sync`].
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Platforms kept of multi-platform images; when not empty, replaces the spec's.
    pub platforms: Vec<Platform>,
    /// Plan only: tag lists and one manifest request per tag; nothing is written.
    pub dry_run: bool,
    /// Go on after a failing entry (each failure is in the report); otherwise stop at
    /// the first, keeping what was committed.
    pub keep_going: bool,
    /// Remove local tags, in the repositories the spec names, that it no longer selects.
    pub prune: bool,
    /// Do not fetch referrers (signatures, SBOMs) of the synced images.
    pub no_referrers: bool,
    /// Parallel blob downloads per image (1 to 64; 4 by default).
    pub jobs: usize,
    /// How to reach and authenticate to the registries (the spec's per-registry
    /// `credentials`, `tls-verify` and `cert-dir` take precedence).
    pub remote: RemoteOptions,
    /// The signature gate (see [`ImportOptions::require_signed`]), applied to every image
    /// and chart sync stores; the standing policy (`config signatures`) applies as well.
    pub require_signed: Option<SignatureGate>,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            platforms: Vec::new(),
            dry_run: false,
            keep_going: false,
            prune: false,
            no_referrers: false,
            jobs: 4,
            remote: RemoteOptions::default(),
            require_signed: None,
        }
    }
}

/// Options of [`Registry::push`].
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Push every repository (then [`Registry::push`] takes no references).
    pub all: bool,
    /// Do not push referrers (signatures, SBOMs) along with their subjects.
    pub no_referrers: bool,
    /// Plan only: HEAD requests, and the report says per tag what would be uploaded,
    /// mounted or skipped; nothing is sent.
    pub dry_run: bool,
    /// Parallel blob transfers (1 to 64; 4 by default).
    pub jobs: usize,
    /// How to reach and authenticate to the registry.
    pub remote: RemoteOptions,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions { all: false, no_referrers: false, dry_run: false, jobs: 4, remote: RemoteOptions::default() }
    }
}

/// How [`Registry::pull`] and [`Registry::push`] reach and authenticate to a remote
/// registry: the command line's `--creds`, `--authfile`, `--ca-file`, `--tls-verify` and
/// `--plain-http` (docs/REGISTRIES.md). `Default` is HTTPS verified against the system
/// trust store and the registry's certs.d directory, with credentials looked up as podman
/// and docker look them up.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// The user name and password to send; `None` looks them up for the host: in
    /// `authfile` if given, else in `$REGISTRY_AUTH_FILE`,
    /// `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json` and
    /// `~/.docker/config.json` (with their credential helpers); anonymous if none is found.
    pub credentials: Option<Credentials>,
    /// The credentials file (auth.json or docker config.json) to search instead of the
    /// default ones; it must exist.
    pub authfile: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file (a private CA, or the registry's own
    /// self-signed certificate), in addition to the system trust store.
    pub ca_file: Option<PathBuf>,
    /// A certs.d-style directory (`*.crt` CAs, `*.cert` with `*.key` a client certificate)
    /// used instead of the registry's own in the certs.d directories (docs/REGISTRIES.md).
    pub cert_dir: Option<PathBuf>,
    /// Trust the Mozilla roots compiled into wharf instead of the system trust store.
    pub no_system_roots: bool,
    /// Do not verify the registry's TLS certificate (`--tls-verify=false`).
    pub tls_insecure: bool,
    /// Speak plain HTTP, without TLS (a registry on localhost, a test registry).
    pub plain_http: bool,
    /// How long a registry may stay silent (connecting, or between the bytes of an
    /// answer) before the request fails (`--timeout`); `None` is the default, 30 s. A
    /// silent request is tried 3 times in all.
    pub timeout: Option<std::time::Duration>,
}

/// A user name and password (or identity token) for a remote registry. `Debug` does
/// not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or identity token.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials { username: username.into(), password: password.into() }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

/// One file for [`Registry::add`] or [`Registry::attach`]: stored as a layer of the
/// artifact with this media type, titled (`org.opencontainers.image.title`) by the
/// file's base name, as `oras push` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// The file to read (a regular file; links to one are followed).
    pub path: PathBuf,
    /// The layer's media type (`type/subtype`).
    pub media_type: String,
}

impl ArtifactFile {
    /// The file at `path`, typed `application/octet-stream` (as `oras push` types it).
    pub fn new(path: impl Into<PathBuf>) -> ArtifactFile {
        ArtifactFile { path: path.into(), media_type: ops::artifact::DEFAULT_FILE_TYPE.to_string() }
    }

    /// The same file with another media type, e.g. `application/spdx+json`.
    pub fn with_media_type(mut self, media_type: impl Into<String>) -> ArtifactFile {
        self.media_type = media_type.into();
        self
    }
}

/// Options of [`Registry::add`].
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// The artifact's type (`None`: `application/vnd.unknown.artifact.v1`, as `oras push`).
    pub artifact_type: Option<String>,
    /// Annotations of the artifact's manifest.
    pub annotations: BTreeMap<String, String>,
    /// Move the tag if it already points at another manifest.
    pub force: bool,
}

/// Options of [`Registry::attach`].
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Annotations of the attached manifest.
    pub annotations: BTreeMap<String, String>,
}

impl Registry {
    /// Makes `root` a new, empty registry and opens it.
    pub fn init(root: impl AsRef<Path>) -> Result<Registry> {
        ops::init::run(root.as_ref())?;
        Registry::open(root)
    }

    /// Opens an existing registry, or a plain OCI layout as a registry of one repository.
    ///
    /// A directory that is neither (no `.wharf/registry.json`, no `oci-layout`) gives
    /// [`Error::NotARegistry`](crate::Error::NotARegistry); a registry written by a newer
    /// wharf gives [`Error::RegistryVersion`](crate::Error::RegistryVersion); a missing
    /// or unreadable directory gives [`Error::Io`](crate::Error::Io).
    pub fn open(root: impl AsRef<Path>) -> Result<Registry> {
        let root = root.as_ref().to_path_buf();
        Ok(Registry { inner: registry::Registry::open(&root)?, root, as_of: None, wait: true })
    }

    /// Acts as if the clock read `now` (previews of a future sweep; reproducible tests).
    pub fn as_of(mut self, now: Timestamp) -> Registry {
        self.as_of = Some(now);
        self
    }

    /// Fails at once, instead of waiting, when another process holds the registry lock.
    pub fn no_wait(mut self) -> Registry {
        self.wait = false;
        self
    }

    /// The registry's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn with_ctx<T>(&self, f: impl FnOnce(&Ctx<'_>) -> Result<T>) -> Result<T> {
        let now = self.as_of.unwrap_or_else(chrono::Utc::now);
        let quiet = |_: &Path| {};
        let mut ctx = Ctx::new(&self.inner, now, &quiet);
        ctx.lock_wait.wait = self.wait;
        f(&ctx)
    }

    /// Imports every image of a docker-archive, oci-archive, OCI layout directory or
    /// skopeo `dir:` directory (tars may be gzip, zstd, xz or bzip2 compressed), detected
    /// by content. Nothing changes unless every image of the source is accepted.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// let archive = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar");
    /// let report = reg.import(archive, &wharf::ImportOptions::default())?;
    /// assert_eq!(report.images[0].repository.as_str(), "hello");
    /// # Ok(()) }
    /// ```
    pub fn import(&self, source: impl AsRef<Path>, opts: &ImportOptions) -> Result<ImportReport> {
        let source = path_arg(source.as_ref())?;
        self.with_ctx(|ctx| ops::import::run(ctx, &import_options(vec![source], opts)))
    }

    /// Imports an archive read from any owned reader (a file, a pipe, a socket, a
    /// decompressor): the same formats as [`Registry::import`] except directories.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.docker-archive.tar")).unwrap();
    /// let opts = wharf::ImportOptions { repo: Some("team/hello".parse()?), tags: vec!["1.0".parse()?], ..Default::default() };
    /// reg.import_reader(file, &opts)?;
    /// assert_eq!(reg.tags(&"team/hello".parse()?)?.tags[0].name, "1.0");
    /// # Ok(()) }
    /// ```
    pub fn import_reader(&self, reader: impl Read + 'static, opts: &ImportOptions) -> Result<ImportReport> {
        self.with_ctx(|ctx| ops::import::run_reader(ctx, Box::new(reader), &import_options(Vec::new(), opts)))
    }

    /// Exports manifests to a file (an archive) or a directory (an OCI layout).
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// let out = dir.path().join("hello.tar");
    /// let opts = wharf::ExportOptions { format: wharf::ExportFormat::DockerArchive };
    /// reg.export(&["hello:latest".parse()?], &out, &opts)?;
    /// assert!(out.is_file());
    /// # Ok(()) }
    /// ```
    pub fn export(&self, refs: &[Reference], output: impl AsRef<Path>, opts: &ExportOptions) -> Result<ExportReport> {
        let output = path_arg(output.as_ref())?;
        let o = ops::export::Options::refs(refs.to_vec(), output, opts.format);
        self.with_ctx(|ctx| ops::export::run(ctx, &o))
    }

    /// Exports manifests as an archive written to any writer.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// let mut bytes = Vec::new();
    /// reg.export_writer(&["hello:latest".parse()?], &mut bytes, &wharf::ExportOptions::default())?;
    /// assert!(bytes.len() > 1024);
    /// # Ok(()) }
    /// ```
    pub fn export_writer(&self, refs: &[Reference], out: impl Write, opts: &ExportOptions) -> Result<ExportReport> {
        let o = ops::export::Options::refs(refs.to_vec(), String::new(), opts.format);
        self.with_ctx(|ctx| ops::export::run_writer(ctx, &o, Box::new(out)))
    }

    /// Points `target` (`REPO:TAG`) at the manifest `source` names.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// reg.tag(&"hello:latest".parse()?, &"hello:stable".parse()?, &wharf::TagOptions::default())?;
    /// reg.untag(&"hello:latest".parse()?)?;
    /// let tags: Vec<String> = reg.tags(&"hello".parse()?)?.tags.into_iter().map(|t| t.name).collect();
    /// assert_eq!(tags, ["stable"]);
    /// # Ok(()) }
    /// ```
    pub fn tag(&self, source: &Reference, target: &Reference, opts: &TagOptions) -> Result<TagReport> {
        self.with_ctx(|ctx| ops::tagging::tag(ctx, source, target, opts.force))
    }

    /// Removes one tag; the manifest stays, untagged, addressable by digest.
    pub fn untag(&self, reference: &Reference) -> Result<UntagReport> {
        self.with_ctx(|ctx| ops::tagging::untag(ctx, reference))
    }

    /// Deletes a manifest and every tag on it (`REPO:TAG` or `REPO@DIGEST`). Its blobs
    /// are freed by a later [`Registry::gc`].
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// let plan = reg.delete(&"hello:latest".parse()?, &wharf::DeleteOptions { dry_run: true })?;
    /// assert_eq!(plan.manifests[0].tags, ["latest"]);
    /// reg.delete(&"hello:latest".parse()?, &Default::default())?;
    /// assert!(reg.tags(&"hello".parse()?)?.tags.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn delete(&self, reference: &Reference, opts: &DeleteOptions) -> Result<DeleteReport> {
        self.with_ctx(|ctx| ops::delete::manifest(ctx, reference, opts.dry_run))
    }

    /// Deletes a whole repository (permanently, even with soft delete on).
    pub fn delete_repository(&self, name: &RepoName, opts: &DeleteOptions) -> Result<DeleteReport> {
        self.with_ctx(|ctx| ops::delete::repository(ctx, name, opts.dry_run))
    }

    /// Sets lock attributes of a repository (`REPO`), a tag (`REPO:TAG`) or a manifest
    /// (`REPO@DIGEST`). An operation a lock forbids returns
    /// [`Error::LockRefused`](crate::Error::LockRefused), whose `lift` is the command that
    /// lifts the lock.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// reg.lock(&wharf::Reference::parse_loose("hello:latest")?, &wharf::LockOptions::locked())?;
    /// match reg.untag(&"hello:latest".parse()?) {
    ///     Err(wharf::Error::LockRefused { lift, .. }) => assert!(lift.starts_with("wharf update hello:latest")),
    ///     other => panic!("expected a lock refusal, got {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn lock(&self, reference: &Reference, opts: &LockOptions) -> Result<UpdateReport> {
        let changes = registry::LockChanges {
            write_enabled: opts.write_enabled,
            delete_enabled: opts.delete_enabled,
            read_enabled: opts.read_enabled,
            list_enabled: opts.list_enabled,
        };
        self.with_ctx(|ctx| ops::locking::update(ctx, reference, changes))
    }

    /// Checks integrity: every blob hashed (unless `quick`), every descriptor followed.
    /// Problems are findings in the report, not errors; see [`VerifyReport::is_clean`].
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// let report = reg.verify(&wharf::VerifyOptions::default())?;
    /// assert!(report.is_clean(), "{:?}", report.findings);
    /// # Ok(()) }
    /// ```
    pub fn verify(&self, opts: &VerifyOptions) -> Result<VerifyReport> {
        let v = ops::verify::VerifyOptions {
            jobs: opts.jobs,
            quick: opts.quick,
            keys: opts.keys.clone(),
            require_signed: opts.require_signed,
            ..Default::default()
        };
        let quiet = |_: &Path| {};
        let wait = registry::LockWait { wait: self.wait, on_wait: &quiet };
        ops::verify::run(&self.root, &opts.targets, &v, &wait)
    }

    /// Removes blobs, staging areas and temp files that nothing needs.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// reg.delete(&"hello:latest".parse()?, &Default::default())?;
    /// let report = reg.gc(&wharf::GcOptions { grace: wharf::Duration::zero(), ..Default::default() })?;
    /// assert!(report.pool_bytes > 0);
    /// # Ok(()) }
    /// ```
    pub fn gc(&self, opts: &GcOptions) -> Result<GcReport> {
        let g = ops::gc::GcOptions { dry_run: opts.dry_run, grace: opts.grace };
        self.with_ctx(|ctx| ops::gc::run(ctx, &g))
    }

    /// Removes tags (and with `untagged`, manifests) matching filters, as `acr purge`.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// let opts = wharf::PurgeOptions { filters: vec![wharf::Filter::parse("hel.*:.*")?], dry_run: true, ..Default::default() };
    /// assert_eq!(reg.purge(&opts)?.total_tags, 1);
    /// # Ok(()) }
    /// ```
    pub fn purge(&self, opts: &PurgeOptions) -> Result<PurgeReport> {
        let p = ops::purge::PurgeOptions {
            filters: opts.filters.clone(),
            ago: opts.ago,
            keep: opts.keep,
            untagged: opts.untagged,
            untagged_only: opts.untagged_only,
            include_locked: opts.include_locked,
            dry_run: opts.dry_run,
        };
        self.with_ctx(|ctx| ops::purge::run(ctx, &p))
    }

    /// Retention, soft-delete expiry and gc in one run, as cron runs `wharf sweep`.
    pub fn sweep(&self, opts: &SweepOptions) -> Result<SweepReport> {
        self.with_ctx(|ctx| ops::sweep::run(ctx, opts.dry_run))
    }

    /// Stores files as an OCI artifact tagged `reference` (`REPO:TAG`), as `oras push`
    /// stores them: each file a layer, an empty config, the OCI 1.1 image manifest. The
    /// repository is created if needed; a tag on another manifest is moved only with
    /// `force`, and locks are honoured. Nothing changes unless every file is stored.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// let notes = dir.path().join("release-notes.md");
    /// std::fs::write(&notes, "# 1.4\n").unwrap();
    /// let files = [wharf::ArtifactFile::new(&notes).with_media_type("text/markdown")];
    /// let opts = wharf::AddOptions { artifact_type: Some("application/vnd.example.notes".into()), ..Default::default() };
    /// let report = reg.add(&"team/notes:1.4".parse()?, &files, &opts)?;
    /// assert_eq!(report.files[0].title, "release-notes.md");
    /// assert_eq!(reg.tags(&"team/notes".parse()?)?.tags[0].digest, report.digest);
    /// # Ok(()) }
    /// ```
    pub fn add(&self, reference: &Reference, files: &[ArtifactFile], opts: &AddOptions) -> Result<AddReport> {
        let o = ops::add::Options {
            reference: reference.clone(),
            files: file_specs(files)?,
            artifact_type: opts.artifact_type.clone(),
            annotations: opts.annotations.clone(),
            force: opts.force,
        };
        self.with_ctx(|ctx| ops::add::run(ctx, &o))
    }

    /// Attaches files to the manifest `subject` (`REPO:TAG` or `REPO@DIGEST`) names, as
    /// `oras attach` does: a new artifact of `artifact_type` whose `subject` is that
    /// manifest, stored untagged in its repository, found among its referrers (and
    /// exported, pushed and pulled along with it). Attaching the same files again
    /// changes nothing.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// let sbom = dir.path().join("sbom.spdx.json");
    /// std::fs::write(&sbom, r#"{"spdxVersion": "SPDX-2.3"}"#).unwrap();
    /// let files = [wharf::ArtifactFile::new(&sbom).with_media_type("application/spdx+json")];
    /// let report = reg.attach(&"hello:latest".parse()?, "application/spdx+json", &files, &Default::default())?;
    /// assert!(report.created);
    /// let shown = reg.show(&"hello:latest".parse()?)?;
    /// assert_eq!(shown.referrers[0].digest, report.digest);
    /// # Ok(()) }
    /// ```
    pub fn attach(
        &self,
        subject: &Reference,
        artifact_type: &str,
        files: &[ArtifactFile],
        opts: &AttachOptions,
    ) -> Result<AttachReport> {
        let o = ops::attach::Options {
            reference: subject.clone(),
            files: file_specs(files)?,
            artifact_type: artifact_type.to_string(),
            annotations: opts.annotations.clone(),
        };
        self.with_ctx(|ctx| ops::attach::run(ctx, &o))
    }

    /// Signs manifests in cosign's format with the private key in `key` (cosign's
    /// encrypted key, opened with `opts.passphrase`, or a PKCS#8 PEM: P-256, RSA or
    /// Ed25519): each gets a simple-signing payload naming its digest and repository,
    /// appended as a layer to the manifest tagged `sha256-<hex>.sig` in its repository.
    /// Signing the same manifest with the same key again adds nothing.
    ///
    /// ```
    /// # fn main() -> wharf::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let reg = wharf::Registry::init(dir.path().join("registry"))?;
    /// # reg.import(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.oci-archive.tar"), &Default::default())?;
    /// # let key = dir.path().join("key.pem");
    /// # std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ\n-----END PRIVATE KEY-----\n").unwrap();
    /// let report = reg.sign(&["hello:latest".parse()?], &key, &Default::default())?;
    /// let public = wharf::PublicKey::from_pem(report.key.public_key.as_bytes())?;
    /// let verified = reg.verify(&wharf::VerifyOptions { keys: vec![public], require_signed: true, ..Default::default() })?;
    /// assert!(verified.is_clean(), "{:?}", verified.findings);
    /// # Ok(()) }
    /// ```
    pub fn sign(&self, references: &[Reference], key: impl AsRef<Path>, opts: &SignOptions) -> Result<SignReport> {
        let key = ops::signatures::load_private_key(key.as_ref(), opts.passphrase.as_deref())?;
        let o = ops::sign::Options {
            references: references.to_vec(),
            key,
            annotations: opts.annotations.clone(),
            recursive: opts.recursive,
        };
        self.with_ctx(|ctx| ops::sign::run(ctx, &o))
    }

    /// Pulls images from a remote registry: `source` is `HOST[:PORT]/REPO[:TAG|@DIGEST]`
    /// (no host means docker.io; no tag means `latest`), or with `all_tags` a repository
    /// whose every tag is pulled. Manifests and blobs are checked against their digests
    /// and staged first (blobs the registry holds are not fetched again); then they are
    /// committed as [`Registry::import`] commits, with its tag and lock checks. Any error
    /// leaves the registry unchanged.
    ///
    /// Not run as a test (`no_run`): it needs a registry server.
    ///
    /// ```no_run
    /// # fn main() -> wharf::Result<()> {
    /// let reg = wharf::Registry::open("/srv/wharf")?;
    /// let remote = wharf::RemoteOptions { plain_http: true, ..Default::default() };
    /// let opts = wharf::PullOptions { repo: Some("mirror/app".parse()?), remote, ..Default::default() };
    /// let report = reg.pull("localhost:5000/team/app:1.4", &opts)?;
    /// println!("{} as {}, {} bytes downloaded", report.images[0].digest, report.images[0].repository, report.downloaded_bytes);
    /// # Ok(()) }
    /// ```
    pub fn pull(&self, source: &str, opts: &PullOptions) -> Result<PullReport> {
        let o = ops::pull::Options {
            sources: vec![source.to_string()],
            repo: opts.repo.clone(),
            tags: opts.tags.clone(),
            all_tags: opts.all_tags,
            platforms: opts.platforms.clone(),
            no_referrers: opts.no_referrers,
            force: opts.force,
            scoped: opts.scoped,
            jobs: opts.jobs,
            connect: connect_options(&opts.remote),
            gate: opts.require_signed.clone(),
            policy: None,
        };
        self.with_ctx(|ctx| ops::pull::run(ctx, &o))
    }

    /// Keeps the images, Helm charts and files of `spec` in step with their sources
    /// (docs/SYNC.md): plans first (tag lists, one manifest request per tag), then pulls
    /// what is new or moved (each image committed atomically, as [`Registry::pull`]
    /// commits it), stores charts as [`Registry::import`] and files as [`Registry::add`].
    /// The report holds the plan and what became of each entry; failures are in it
    /// (`failed`), not an error, unless the spec cannot be planned at all.
    ///
    /// Not run as a test (`no_run`): it needs a registry server.
    ///
    /// ```no_run
    /// # fn main() -> wharf::Result<()> {
    /// let reg = wharf::Registry::open("/srv/wharf")?;
    /// let text = "localhost:5000:\n  images:\n    team/app: []\n";
    /// let spec = wharf::SyncSpec::parse(text, "inline", None)?;
    /// let opts = wharf::SyncOptions {
    ///     remote: wharf::RemoteOptions { plain_http: true, ..Default::default() },
    ///     ..Default::default()
    /// };
    /// let report = reg.sync(&spec, &opts)?;
    /// println!("{} new, {} moved, {} unchanged", report.new, report.moved, report.unchanged);
    /// # Ok(()) }
    /// ```
    pub fn sync(&self, spec: &SyncSpec, opts: &SyncOptions) -> Result<SyncReport> {
        let o = ops::sync::Options {
            spec: spec.clone(),
            platforms: opts.platforms.clone(),
            dry_run: opts.dry_run,
            keep_going: opts.keep_going,
            prune: opts.prune,
            no_referrers: opts.no_referrers,
            jobs: opts.jobs,
            connect: connect_options(&opts.remote),
            gate: opts.require_signed.clone(),
        };
        self.with_ctx(|ctx| ops::sync::run(ctx, &o))
    }

    /// Pushes to a remote registry, byte for byte: each reference is a repository (every
    /// tag of it; a bare name parses with [`Reference::parse_loose`]), `REPO:TAG` or
    /// `REPO@DIGEST`; with `all`, every repository (and no references). `to` is `HOST[:PORT][/PREFIX]`: `team/app:1.4` goes to
    /// `HOST/PREFIX/team/app:1.4`. Blobs the registry has are skipped, blobs another
    /// pushed repository has are mounted; a tag whose remote digest already matches
    /// costs one request. Referrers follow their subjects. Content whose
    /// `read_enabled` is false is refused before anything is sent.
    ///
    /// Not run as a test (`no_run`): it needs a registry server.
    ///
    /// ```no_run
    /// # fn main() -> wharf::Result<()> {
    /// let reg = wharf::Registry::open("/srv/wharf")?;
    /// let remote = wharf::RemoteOptions {
    ///     credentials: Some(wharf::Credentials::new("ci", std::env::var("REGISTRY_TOKEN").unwrap_or_default())),
    ///     ..Default::default()
    /// };
    /// let opts = wharf::PushOptions { remote, ..Default::default() };
    /// let refs = [wharf::Reference::parse_loose("team/app")?, "team/tools:1.4".parse()?];
    /// let report = reg.push(&refs, "registry.example.com/mirror", &opts)?;
    /// println!("{} bytes uploaded, {} blobs mounted", report.uploaded_bytes, report.mounted_blobs);
    /// # Ok(()) }
    /// ```
    pub fn push(&self, refs: &[Reference], to: &str, opts: &PushOptions) -> Result<PushReport> {
        let o = ops::push::Options {
            targets: refs.iter().map(Reference::to_string).collect(),
            to: Some(crate::remote::Destination::parse(to)?),
            all: opts.all,
            no_referrers: opts.no_referrers,
            dry_run: opts.dry_run,
            jobs: opts.jobs,
            connect: connect_options(&opts.remote),
        };
        self.with_ctx(|ctx| ops::push::run(ctx, &o))
    }

    /// The repositories, with tag and manifest counts, sizes and times.
    pub fn repos(&self) -> Result<ReposReport> {
        self.with_ctx(ops::listing::repos)
    }

    /// A repository's tags with digests and times.
    pub fn tags(&self, repo: &RepoName) -> Result<TagsReport> {
        self.with_ctx(|ctx| ops::listing::tags(ctx, repo))
    }

    /// One manifest: digest, media type, platforms, tags, times, locks, children, referrers.
    pub fn show(&self, reference: &Reference) -> Result<ShowReport> {
        self.with_ctx(|ctx| ops::inspect::show(ctx, reference))
    }
}

/// A path for the operations, which take the command line's strings: `-` there means
/// stdin/stdout, so a library caller's file named `-` becomes `./-`; a path that is not
/// UTF-8 is refused rather than silently changed.
fn path_arg(p: &Path) -> Result<String> {
    match p.to_str() {
        Some("-") => Ok("./-".to_string()),
        Some(s) => Ok(s.to_string()),
        None => Err(crate::Error::Usage(format!("{} is not a UTF-8 path, which the library requires", p.display()))),
    }
}

/// The files of an artifact as add and attach take them; each media type is checked here,
/// where the command line's `FILE:MEDIATYPE` parser checks it.
fn file_specs(files: &[ArtifactFile]) -> Result<Vec<ops::artifact::FileSpec>> {
    files
        .iter()
        .map(|f| {
            if !ops::artifact::looks_like_media_type(&f.media_type) {
                return Err(crate::Error::Usage(format!(
                    "{}: `{}` is not a media type (type/subtype, e.g. application/spdx+json)",
                    f.path.display(),
                    f.media_type
                )));
            }
            let title = f.path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                crate::Error::Usage(format!(
                    "{}: not a file name wharf can use as a title (a directory, or not UTF-8)",
                    f.path.display()
                ))
            })?;
            Ok(ops::artifact::FileSpec { path: f.path.clone(), media_type: f.media_type.clone(), title: title.into() })
        })
        .collect()
}

fn connect_options(r: &RemoteOptions) -> crate::remote::ConnectOptions {
    crate::remote::ConnectOptions {
        creds: r
            .credentials
            .as_ref()
            .map(|c| crate::remote::Credentials { username: c.username.clone(), password: c.password.clone() }),
        authfile: r.authfile.clone(),
        ca_file: r.ca_file.clone(),
        cert_dir: r.cert_dir.clone(),
        no_system_roots: r.no_system_roots,
        tls_insecure: r.tls_insecure,
        plain_http: r.plain_http,
        timeouts: r.timeout.map(crate::remote::Timeouts::uniform).unwrap_or_default(),
    }
}

fn import_options(sources: Vec<String>, o: &ImportOptions) -> ops::import::Options {
    ops::import::Options {
        sources,
        repo: o.repo.clone(),
        tags: o.tags.clone(),
        platforms: o.platforms.clone(),
        force: o.force,
        scoped: o.scoped,
        gate: o.require_signed.clone(),
    }
}

/// The types the facade's methods take besides options.
pub use crate::model::retention::Filter;
pub use crate::model::signature::PublicKey;
pub use crate::model::time::{parse_duration, parse_timestamp};
pub use crate::ops::export::Format as ExportFormat;
pub use crate::ops::signatures::SignatureGate;
pub use crate::ops::sync::spec::{
    ChartSource, ChartSpec, FileEntry, FileSource, ImageSpec, RegistrySpec, SyncSpec, TagSelector,
};
/// A length of time (`Duration::days(30)`); parse `30d`, `1h30m` with [`parse_duration`].
pub use chrono::Duration;

/// Options of [`Registry::serve`] (`wharf serve`). The default listens on
/// `127.0.0.1:5000`, plain HTTP, anonymous reads, at most 256 connections.
#[cfg(feature = "serve")]
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on; port 0 picks a free one (see [`Registry::serve_with`]).
    pub addr: std::net::SocketAddr,
    /// A PEM certificate chain: serve HTTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A bcrypt htpasswd file (`htpasswd -B`): every request needs Basic credentials.
    pub htpasswd: Option<PathBuf>,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Append one line per request to this file; `-` is standard output.
    pub access_log: Option<PathBuf>,
    /// Allow plain HTTP on an address that is not loopback.
    pub insecure_listen: bool,
    /// How long in-flight responses may run after SIGTERM or SIGINT.
    pub shutdown_grace: std::time::Duration,
    /// How long a client may take to send its request head, or leave a response unread.
    pub request_timeout: std::time::Duration,
}

#[cfg(feature = "serve")]
impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 5000)),
            tls_cert: None,
            tls_key: None,
            htpasswd: None,
            max_connections: 256,
            access_log: None,
            insecure_listen: false,
            shutdown_grace: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(60),
        }
    }
}

#[cfg(feature = "serve")]
impl Registry {
    /// Serves the registry read-only over the OCI distribution API until the process gets
    /// SIGTERM or SIGINT, then lets in-flight responses finish within
    /// `shutdown_grace` and returns. Every read honours the read locks exactly as
    /// [`export`](Registry::export) does; every write request is answered 405
    /// (docs/SERVE.md). A non-loopback address without TLS is refused unless
    /// `insecure_listen` is set.
    ///
    /// ```no_run
    /// # fn main() -> wharf::Result<()> {
    /// let reg = wharf::Registry::open("/srv/wharf")?;
    /// let report = reg.serve(&wharf::ServeOptions::default())?; // blocks until SIGTERM
    /// println!("served {} requests", report.requests);
    /// # Ok(()) }
    /// ```
    pub fn serve(&self, opts: &ServeOptions) -> Result<ServeReport> {
        self.serve_with(opts, |_| {})
    }

    /// [`Registry::serve`], calling `on_ready` with the bound address once the server
    /// listens (the port chosen when `addr` has port 0).
    pub fn serve_with(
        &self,
        opts: &ServeOptions,
        mut on_ready: impl FnMut(std::net::SocketAddr),
    ) -> Result<ServeReport> {
        let cfg = crate::serve::Config {
            addr: opts.addr,
            tls_cert: opts.tls_cert.clone(),
            tls_key: opts.tls_key.clone(),
            htpasswd: opts.htpasswd.clone(),
            max_connections: opts.max_connections,
            access_log: opts.access_log.clone(),
            insecure_listen: opts.insecure_listen,
            shutdown_grace: opts.shutdown_grace,
            request_timeout: opts.request_timeout,
        };
        crate::serve::run(registry::Registry::open(&self.root)?, &cfg, &mut on_ready)
    }
}

/// Options of [`login`]: how to reach the registry, and (in `remote.authfile`) the
/// credentials file to write instead of the default one.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// How to reach the registry; `credentials` is ignored (they are [`login`]'s argument)
    /// and `authfile` names the file to write.
    pub remote: RemoteOptions,
}

/// Options of [`logout`].
#[derive(Debug, Clone, Default)]
pub struct LogoutOptions {
    /// Remove every registry's credentials (then [`logout`]'s host is ignored).
    pub all: bool,
    /// The credentials file instead of the default one.
    pub authfile: Option<PathBuf>,
}

/// Checks `credentials` against the registry `host` (`HOST[:PORT]`) with the Basic or
/// Bearer flow of pull and push (`GET /v2/`), then keeps them as `podman login` does:
/// an `auths` entry in `opts.remote.authfile`, else in `$REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/$UID/auth.json` (mode
/// 0600), or through the credential helper that file names for the host. A free function:
/// it needs no local registry.
///
/// Not run as a test (`no_run`): it needs a registry server.
///
/// ```no_run
/// # fn main() -> wharf::Result<()> {
/// let report = wharf::login("registry.internal:5000", &wharf::Credentials::new("ci", "s3cret"), &Default::default())?;
/// println!("credentials in {}", report.file.display());
/// # Ok(()) }
/// ```
pub fn login(host: &str, credentials: &Credentials, opts: &LoginOptions) -> Result<crate::reports::LoginReport> {
    let connect = connect_options(&opts.remote);
    let creds =
        crate::remote::Credentials { username: credentials.username.clone(), password: credentials.password.clone() };
    crate::remote::login::login(host, &creds, &connect)
}

/// Removes the credentials of `host` (or, with `opts.all`, of every registry) from the
/// credentials file [`login`] writes (or `opts.authfile`), erasing them from a credential
/// helper the file names. No credentials for `host` is [`crate::Error::NotFound`].
pub fn logout(host: &str, opts: &LogoutOptions) -> Result<crate::reports::LogoutReport> {
    let host = if opts.all { None } else { Some(host) };
    crate::remote::login::logout(host, opts.all, opts.authfile.as_deref())
}
