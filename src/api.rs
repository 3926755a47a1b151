//! The library's front door: [`Registry`], one method per operation, each taking an
//! options struct that implements `Default` and returning the operation's report (the
//! same report `wharf --json` prints).
//!
//! Every method takes the registry lock it needs (shared for reads, exclusive for
//! writes), waiting for another process unless [`Registry::no_wait`] was set, and reads
//! the clock once, unless [`Registry::as_of`] fixed the time (verify reads no clock).

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
}

/// Options of [`Registry::gc`].
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Plan only: report what would be removed and change nothing.
    pub dry_run: bool,
    /// Spare anything younger than this (staging areas, temp files, fresh blobs).
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

impl Registry {
    /// Makes `root` a new, empty registry and opens it.
    pub fn init(root: impl AsRef<Path>) -> Result<Registry> {
        ops::init::run(root.as_ref())?;
        Registry::open(root)
    }

    /// Opens an existing registry, or a plain OCI layout as a registry of one repository.
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
        let v = ops::verify::VerifyOptions { jobs: opts.jobs, quick: opts.quick, ..Default::default() };
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

fn import_options(sources: Vec<String>, o: &ImportOptions) -> ops::import::Options {
    ops::import::Options {
        sources,
        repo: o.repo.clone(),
        tags: o.tags.clone(),
        platforms: o.platforms.clone(),
        force: o.force,
        scoped: o.scoped,
    }
}

/// The types the facade's methods take besides options.
pub use crate::model::retention::Filter;
pub use crate::model::time::{parse_duration, parse_timestamp};
pub use crate::ops::export::Format as ExportFormat;
/// A length of time (`Duration::days(30)`); parse `30d`, `1h30m` with [`parse_duration`].
pub use chrono::Duration;
