//! `wharf gc`: mark and sweep, planned first, applied second.
//!
//! **Mark.** Roots are every index.json descriptor of every repository, the manifests of
//! soft-deleted items that have not expired, and what imports in flight hold: every blob
//! in a live staging area (one whose owner lock is held) and every digest a document there
//! names. Every edge is followed (nested indexes, config, layers, subject); unknown media
//! types are leaves. A root that cannot be read or parsed (index.json, a manifest of a
//! known type, a trash record) aborts the gc before anything is deleted.
//!
//! **Sweep.** A repository's blobs that nothing in it reaches; pool entries that no
//! repository keeps; staging areas whose owner is gone; stale `.wharf-tmp-*` files;
//! expired trash records. Everything younger than the grace period stays. An untagged
//! referrer whose subject is gone (not reachable from anything else that stays) is
//! removed from index.json first, as zot's deleteReferrers does (to the trash when soft
//! delete is on); a locked one stays.
//!
//! The mark phase reads index.json raw (`registry::layout::read_index`: no sidecar
//! reconciliation), so it is fast on adopted layouts and changes nothing; it runs across
//! repositories in parallel.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::{Descriptor, Digest, Document, MediaKind, RepoName, Timestamp};
use crate::registry::Registry;
use crate::registry::layout;
use crate::registry::repository::MAX_DOCUMENT_BYTES;
use crate::registry::trash::TrashReason;
use crate::store::fs::{FileKind, TEMP_PREFIX, fsync_dir};
use crate::store::{BlobStore, staging, usage};

/// Default `--grace`.
pub const DEFAULT_GRACE: &str = "1h";

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub dry_run: bool,
    pub grace: chrono::Duration,
}

/// Changes another operation would make first (sweep's dry run): gc plans as if they were
/// already applied, so a dry run and the real run agree.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    /// Top-level digests that will have left each repository's index.json.
    pub removed: BTreeMap<RepoName, BTreeSet<Digest>>,
    /// Manifests that new trash records will pin, per repository.
    pub pinned: BTreeMap<RepoName, BTreeSet<(Digest, String)>>,
    /// Trash record ids that will be gone.
    pub expired: BTreeSet<String>,
}

/// A blob gc removed (or would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreedBlob {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// The inode number, to remove in inode order (far fewer journal and inode-table
    /// writes on ext4 than digest order); not part of the report.
    #[serde(skip)]
    pub(crate) ino: u64,
    /// The device and link count from the same `lstat`, for `freed_bytes` (no second
    /// stat of every blob); not part of the report.
    #[serde(skip)]
    pub(crate) dev: u64,
    #[serde(skip)]
    pub(crate) nlink: u64,
}

impl FreedBlob {
    /// The row [`usage::released`] counts for this link.
    fn inode_link(&self) -> usage::InodeLink {
        (self.dev, self.ino, self.nlink, self.size)
    }
}

/// A referrer whose subject is gone, removed by gc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedReferrer {
    /// The referrer manifest's digest.
    pub digest: Digest,
    /// The digest of the subject it was about (no longer in the repository).
    pub subject: Digest,
    /// True when soft delete put it in the trash (its blobs stay pinned).
    pub trashed: bool,
}

/// What gc frees in one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoGc {
    /// The repository.
    pub repository: RepoName,
    /// Untagged referrers of absent subjects, removed from index.json.
    pub referrers_removed: Vec<RemovedReferrer>,
    /// Blobs no listed manifest reaches, sorted by digest.
    pub blobs: Vec<FreedBlob>,
    /// The sum of their sizes, in bytes.
    pub bytes: u64,
}

/// A staging area or temp file gc removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathFreed {
    /// The path, relative to the registry root.
    pub path: String,
    /// Its size in bytes (a directory: the files in it).
    pub bytes: u64,
}

/// The report of [`Registry::gc`](crate::Registry::gc) (`wharf gc`), also part of [`SweepReport`](crate::reports::SweepReport).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// True for a plan only: nothing was removed.
    pub dry_run: bool,
    /// The grace period, in seconds: anything younger was spared.
    pub grace_seconds: i64,
    /// Repositories with something to free, sorted by name.
    pub repositories: Vec<RepoGc>,
    /// Blobs of the shared pool (`.wharf/blobs`) that no repository links any more.
    pub pool: Vec<FreedBlob>,
    /// The sum of their sizes, in bytes.
    pub pool_bytes: u64,
    /// Staging areas of dead processes.
    pub staging: Vec<PathFreed>,
    /// Temp files left by interrupted writes.
    pub temp_files: Vec<PathFreed>,
    /// Ids of expired trash records removed (their blobs are no longer pinned).
    pub expired_trash: Vec<String>,
    /// Unreachable blobs kept because they are younger than the grace period.
    pub spared_young: usize,
    /// The number of blobs removed (repositories and pool).
    pub total_blobs: usize,
    /// The sum of the sizes of everything listed: a hard-linked file (a repository's
    /// blob and its pool entry share one inode) counts once per link removed.
    pub total_bytes: u64,
    /// Space actually released: the size of each inode (dev, ino) whose last link in the
    /// plan goes, counted once; an inode that keeps a link elsewhere (st_nlink greater
    /// than the links removed) counts nothing.
    pub freed_bytes: u64,
}

impl GcReport {
    /// True when the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.repositories.is_empty()
            && self.pool.is_empty()
            && self.staging.is_empty()
            && self.temp_files.is_empty()
            && self.expired_trash.is_empty()
    }
}

/// `wharf gc [--dry-run] [--grace DURATION]`.
pub fn run(ctx: &Ctx<'_>, opts: &GcOptions) -> Result<GcReport> {
    if opts.dry_run {
        let _lock = ctx.read_lock()?;
        plan(ctx.registry, ctx.now, opts, &Simulation::default())
    } else {
        let _lock = ctx.write_lock()?;
        let report = plan(ctx.registry, ctx.now, opts, &Simulation::default())?;
        apply(ctx.registry, ctx.now, &report)?;
        Ok(report)
    }
}

/// Runs gc under a lock the caller already holds (sweep).
pub fn run_locked(registry: &Registry, now: Timestamp, opts: &GcOptions, sim: &Simulation) -> Result<GcReport> {
    let report = plan(registry, now, opts, sim)?;
    if !opts.dry_run {
        apply(registry, now, &report)?;
    }
    Ok(report)
}

struct RepoPlan {
    gc: RepoGc,
    /// Blob digests that stay in the repository (collected only when there is a pool).
    keep: Vec<Digest>,
    spared: usize,
}

/// Builds the plan; reads only.
pub fn plan(registry: &Registry, now: Timestamp, opts: &GcOptions, sim: &Simulation) -> Result<GcReport> {
    let cutoff = crate::model::time::cutoff(now, opts.grace, "--grace")?;
    let young = |m: Option<SystemTime>| m.is_none_or(|m| crate::model::time::from_system(m) > cutoff);

    // Fail closed: nothing is planned, let alone deleted, while a directory gc reads or
    // deletes in is a link or special file (store::safe never follows it; this says so
    // before any work).
    let state = registry.state_dir();
    let pool_dir = state.join("blobs");
    for dir in [state.clone(), registry.staging_root(), registry.trash_dir(), pool_dir.join("sha256"), pool_dir] {
        crate::store::fs::require_dir_or_absent(&dir)?;
    }
    let records = registry.trash_records()?;
    let mut pins: BTreeMap<RepoName, BTreeSet<(Digest, String)>> = sim.pinned.clone();
    let mut expired_trash = Vec::new();
    for r in &records {
        if r.expired(now) || sim.expired.contains(&r.id) {
            if !sim.expired.contains(&r.id) {
                expired_trash.push(r.id.clone());
            }
            continue;
        }
        let set = pins.entry(r.repo_name()?).or_default();
        for it in &r.items {
            set.insert((it.digest.clone(), it.media_type.clone()));
        }
    }

    let staging_root = registry.staging_root();
    let staging_entries = staging::scan(&staging_root)?;
    let mut in_flight: HashSet<Digest> = HashSet::new();
    for s in staging_entries.iter().filter(|s| s.live) {
        staging::pin_area(&s.dir, MAX_DOCUMENT_BYTES, &mut in_flight)?;
    }

    let names = registry.repo_names()?;
    let soft = registry.config().soft_delete.days.is_some();
    let mut plans: Vec<RepoPlan> = names
        .par_iter()
        .map(|name| {
            let empty_rm = BTreeSet::new();
            let empty_pin = BTreeSet::new();
            plan_repo(
                registry,
                name,
                sim.removed.get(name).unwrap_or(&empty_rm),
                pins.get(name).unwrap_or(&empty_pin),
                &in_flight,
                &young,
                soft,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    plans.sort_by(|a, b| a.gc.repository.cmp(&b.gc.repository));

    let mut pool = Vec::new();
    let mut spared_young: usize = plans.iter().map(|p| p.spared).sum();
    if let Some(store) = registry.pool() {
        let mut keep: HashSet<&Digest> = in_flight.iter().collect();
        for p in &plans {
            keep.extend(p.keep.iter());
        }
        let listing = store.list()?;
        // Fail closed: a link or FIFO in the pool is never a blob, and gc does not
        // decide around it.
        if let Some((path, kind)) = listing.special.into_iter().next() {
            return Err(Error::SpecialFile { path, kind });
        }
        for b in listing.blobs {
            if keep.contains(&b.digest) {
                continue;
            }
            if young(b.modified) {
                spared_young += 1;
                continue;
            }
            pool.push(FreedBlob { digest: b.digest, size: b.size, ino: b.ino, dev: b.dev, nlink: b.nlink });
        }
    }

    let mut staging_freed = Vec::new();
    let mut temp_files = Vec::new();
    for s in staging_entries.iter().filter(|s| !s.live) {
        // A link in the staging root is left alone (verify reports it): gc removes
        // only real directories and its own temp files there.
        let Some(meta) = crate::store::fs::stat(&s.dir)? else { continue };
        if young(Some(meta.modified)) {
            continue;
        }
        let name = s.dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if meta.kind == FileKind::Dir {
            staging_freed.push(PathFreed { path: s.dir.display().to_string(), bytes: usage::dir_bytes(&s.dir)? });
        } else if meta.kind == FileKind::File && name.starts_with(TEMP_PREFIX) {
            temp_files.push(PathFreed { path: s.dir.display().to_string(), bytes: meta.size });
        }
    }
    let mut temp_dirs = vec![registry.state_dir(), registry.trash_dir()];
    for name in &names {
        temp_dirs.push(registry.repo_dir(name)?);
    }
    for dir in temp_dirs {
        let Some(listing) = crate::store::fs::read_dir_if_exists(&dir)? else { continue };
        for e in listing.entries()? {
            if e.kind != FileKind::File || !e.name.to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let Some(meta) = listing.stat(&e.name)? else { continue };
            if !young(Some(meta.modified)) {
                temp_files.push(PathFreed { path: e.path.display().to_string(), bytes: meta.size });
            }
        }
    }
    staging_freed.sort_by(|a, b| a.path.cmp(&b.path));
    temp_files.sort_by(|a, b| a.path.cmp(&b.path));
    temp_files.dedup();
    expired_trash.sort();

    let repositories: Vec<RepoGc> =
        plans.into_iter().map(|p| p.gc).filter(|g| !g.blobs.is_empty() || !g.referrers_removed.is_empty()).collect();
    let pool_bytes = pool.iter().map(|b| b.size).sum();
    let total_blobs = repositories.iter().map(|r| r.blobs.len()).sum::<usize>() + pool.len();
    let total_bytes = repositories.iter().map(|r| r.bytes).sum::<u64>()
        + pool_bytes
        + staging_freed.iter().map(|s| s.bytes).sum::<u64>()
        + temp_files.iter().map(|s| s.bytes).sum::<u64>();
    // Blobs count from the stat the plan already took; only the few staging and temp
    // files are stat'ed by path.
    let mut doomed: Vec<PathBuf> = Vec::new();
    for s in &staging_freed {
        doomed.extend(usage::files_below(Path::new(&s.path)));
    }
    doomed.extend(temp_files.iter().map(|t| PathBuf::from(&t.path)));
    let mut links = usage::inode_links(doomed);
    links.extend(repositories.iter().flat_map(|r| r.blobs.iter()).chain(&pool).map(FreedBlob::inode_link));
    let freed_bytes = usage::released(&links);
    Ok(GcReport {
        dry_run: opts.dry_run,
        grace_seconds: opts.grace.num_seconds(),
        repositories,
        pool,
        pool_bytes,
        staging: staging_freed,
        temp_files,
        expired_trash,
        spared_young,
        total_blobs,
        total_bytes,
        freed_bytes,
    })
}

/// Marks from `roots` in `blobs`, following every edge; returns the subjects seen on
/// roots (for referrer checks) through `subject_of`. Documents of known manifest/index
/// types must parse; an absent blob is a leaf.
fn mark(blobs: &BlobStore, roots: Vec<(Digest, String)>, marked: &mut Marks<'_>) -> Result<()> {
    let mut frontier: Vec<(Digest, String, bool)> = roots.into_iter().map(|(d, m)| (d, m, true)).collect();
    while !frontier.is_empty() {
        let mut todo = Vec::new();
        for (d, m, is_root) in frontier {
            if marked.insert(&d) {
                todo.push((d, m, is_root));
            }
        }
        let present: &Marks<'_> = marked;
        let next: Vec<Vec<(Digest, String, bool)>> = todo
            .par_iter()
            .map(|(d, m, is_root)| -> Result<Vec<(Digest, String, bool)>> {
                Ok(children(blobs, present, d, m, *is_root)?.into_iter().map(|(d, m)| (d, m, false)).collect())
            })
            .collect::<Result<_>>()?;
        frontier = next.into_iter().flatten().collect();
    }
    Ok(())
}

/// The children of one node, or none for a leaf.
fn children(
    blobs: &BlobStore,
    present: &Marks<'_>,
    d: &Digest,
    media_type: &str,
    is_root: bool,
) -> Result<Vec<(Digest, String)>> {
    if !present.is_present(d) {
        return Ok(Vec::new());
    }
    let kind = MediaKind::of(media_type);
    let known = kind.has_children();
    if !(known || (is_root && media_type.is_empty())) {
        return Ok(Vec::new());
    }
    let path = blobs.path(d);
    let bytes = blobs.read(d, MAX_DOCUMENT_BYTES)?;
    match Document::parse(&bytes, media_type) {
        Ok(doc) => Ok(doc.children().into_iter().map(|c| (c.digest, c.media_type)).collect()),
        Err(_) if !known => Ok(Vec::new()),
        Err(e) => {
            Err(Error::corrupt(path, format!("{media_type} does not parse ({e}); gc stopped with nothing deleted")))
        }
    }
}

/// The subject of a top-level entry, if it is a readable manifest or index with one.
fn subject_of(blobs: &BlobStore, present: &Marks<'_>, desc: &Descriptor) -> Result<Option<Digest>> {
    if !present.is_present(&desc.digest) || !(desc.kind().has_children() || desc.media_type.is_empty()) {
        return Ok(None);
    }
    let path = blobs.path(&desc.digest);
    let bytes = blobs.read(&desc.digest, MAX_DOCUMENT_BYTES)?;
    match Document::parse(&bytes, &desc.media_type) {
        Ok(doc) => Ok(doc.subject.map(|s| s.digest)),
        Err(_) if !desc.kind().has_children() => Ok(None),
        Err(e) => Err(Error::corrupt(path, format!("does not parse ({e}); gc stopped with nothing deleted"))),
    }
}

fn plan_repo(
    registry: &Registry,
    name: &RepoName,
    removed: &BTreeSet<Digest>,
    pins: &BTreeSet<(Digest, String)>,
    in_flight: &HashSet<Digest>,
    young: &(dyn Fn(Option<SystemTime>) -> bool + Sync),
    soft: bool,
) -> Result<RepoPlan> {
    // What the repository keeps matters only to the pool's sweep.
    let with_keep = registry.pool().is_some();
    let dir = registry.repo_dir(name)?;
    if !layout::has_layout_file(&dir)? {
        return Err(Error::concurrent(format!("repository {name} vanished during gc; run gc again")));
    }
    let index = layout::read_index(&dir, "gc stopped with nothing deleted")?;
    for d in [dir.join("blobs"), dir.join("blobs").join("sha256")] {
        crate::store::fs::require_dir_or_absent(&d)?;
    }
    let blobs = BlobStore::new(dir.join("blobs"));
    let listing = blobs.list_names()?;
    // Marks are one bit per listed blob (found by binary search in the sorted listing):
    // a million blobs need no set of a million digests.
    let mut marked = Marks::new(&listing);
    let entries: Vec<&Descriptor> = index.manifests.iter().filter(|d| !removed.contains(&d.digest)).collect();
    let tagged: HashSet<&Digest> = entries.iter().filter(|d| d.ref_name().is_some()).map(|d| &d.digest).collect();

    // Untagged referrers are candidates for removal when their subject is gone.
    let mut candidates: BTreeMap<Digest, (Digest, String)> = BTreeMap::new();
    let mut roots: Vec<(Digest, String)> = Vec::new();
    for e in &entries {
        if !tagged.contains(&e.digest)
            && let Some(s) = subject_of(&blobs, &marked, e)?
        {
            candidates.insert(e.digest.clone(), (s, e.media_type.clone()));
            continue;
        }
        roots.push((e.digest.clone(), e.media_type.clone()));
    }
    roots.extend(pins.iter().cloned());
    mark(&blobs, roots, &mut marked)?;
    loop {
        let alive: Vec<Digest> = candidates
            .iter()
            .filter(|(d, (s, _))| marked.contains(s) || marked.contains(d))
            .map(|(d, _)| d.clone())
            .collect();
        if alive.is_empty() {
            break;
        }
        let roots = alive.iter().map(|d| (d.clone(), candidates[d].1.clone())).collect();
        for d in &alive {
            candidates.remove(d);
        }
        mark(&blobs, roots, &mut marked)?;
    }
    let mut referrers_removed = Vec::new();
    if !candidates.is_empty() {
        // Locked referrers stay: read the sidecar only now that it matters.
        let repo = registry.open_repo(name, Timestamp::UNIX_EPOCH)?;
        let repo_protected = repo.repo_locks().protects();
        let mut locked = Vec::new();
        for (d, (s, mt)) in &candidates {
            if repo_protected || repo.manifest_locks(d).protects() {
                locked.push((d.clone(), mt.clone()));
            } else {
                referrers_removed.push(RemovedReferrer { digest: d.clone(), subject: s.clone(), trashed: soft });
                if soft {
                    locked.push((d.clone(), mt.clone()));
                }
            }
        }
        mark(&blobs, locked, &mut marked)?;
    }
    let mut freed = Vec::new();
    let mut keep = Vec::new();
    let mut spared = 0;
    let mut unreachable: Vec<&Digest> = Vec::new();
    for (i, (d, _)) in listing.iter().enumerate() {
        if marked.bits[i] || in_flight.contains(d) {
            if with_keep {
                keep.push(d.clone());
            }
        } else {
            unreachable.push(d);
        }
    }
    // Only unreachable blobs are stat'ed (in parallel): size for the report, mtime for
    // the grace period.
    let stats: Vec<Option<crate::store::blobs::BlobStat>> = match blobs.open_dir()? {
        Some(dir) => unreachable.par_iter().map(|digest| dir.stat(digest)).collect::<Result<_>>()?,
        None => Vec::new(),
    };
    for (digest, meta) in unreachable.into_iter().zip(stats) {
        let Some(meta) = meta else { continue };
        if young(Some(meta.modified)) {
            spared += 1;
            if with_keep {
                keep.push(digest.clone());
            }
        } else {
            freed.push(FreedBlob {
                digest: digest.clone(),
                size: meta.size,
                ino: meta.ino,
                dev: meta.dev,
                nlink: meta.nlink,
            });
        }
    }
    let bytes = freed.iter().map(|b| b.size).sum();
    Ok(RepoPlan { gc: RepoGc { repository: name.clone(), referrers_removed, blobs: freed, bytes }, keep, spared })
}

/// What mark has reached in one repository: each blob of the sorted listing by one bit
/// (found by binary search), and digests named but absent (few) by value.
struct Marks<'a> {
    listing: &'a [(Digest, u64)],
    bits: Vec<bool>,
    absent: HashSet<Digest>,
}

impl<'a> Marks<'a> {
    fn new(listing: &'a [(Digest, u64)]) -> Marks<'a> {
        Marks { listing, bits: vec![false; listing.len()], absent: HashSet::new() }
    }

    fn index(&self, d: &Digest) -> Option<usize> {
        self.listing.binary_search_by(|(x, _)| x.cmp(d)).ok()
    }

    /// True when the blob is in the repository's listing.
    fn is_present(&self, d: &Digest) -> bool {
        self.index(d).is_some()
    }

    /// Marks `d`; true when it was not marked before.
    fn insert(&mut self, d: &Digest) -> bool {
        match self.index(d) {
            Some(i) => !std::mem::replace(&mut self.bits[i], true),
            None => self.absent.insert(d.clone()),
        }
    }

    fn contains(&self, d: &Digest) -> bool {
        match self.index(d) {
            Some(i) => self.bits[i],
            None => self.absent.contains(d),
        }
    }
}

/// Carries out a plan. Order: dangling referrers leave index.json (pinned in the trash
/// first when soft delete is on); expired trash records go; then blobs, pool entries,
/// dead staging and temp files, none of which anything references.
pub fn apply(registry: &Registry, now: Timestamp, report: &GcReport) -> Result<()> {
    for r in report.repositories.iter().filter(|r| !r.referrers_removed.is_empty()) {
        let mut repo = registry.open_repo(&r.repository, now)?;
        let items = r
            .referrers_removed
            .iter()
            .filter(|rr| rr.trashed)
            .map(|rr| super::trash::manifest_item(&repo, &rr.digest))
            .collect();
        super::trash::pin(registry, &r.repository, TrashReason::Gc, now, items)?;
        for rr in &r.referrers_removed {
            repo.remove_manifest_unchecked(&rr.digest, now);
        }
        repo.save()?;
    }
    for id in &report.expired_trash {
        registry.remove_trash(id)?;
    }
    for r in &report.repositories {
        if r.blobs.is_empty() {
            continue;
        }
        let store = BlobStore::new(registry.repo_dir(&r.repository)?.join("blobs"));
        store.remove_many(&freed(&r.blobs))?;
    }
    if let Some(pool) = registry.pool()
        && !report.pool.is_empty()
    {
        pool.remove_many(&freed(&report.pool))?;
    }
    for s in &report.staging {
        crate::store::fs::remove_tree(&PathBuf::from(&s.path))?;
    }
    if !report.staging.is_empty() {
        fsync_dir(&registry.staging_root())?;
    }
    for t in &report.temp_files {
        crate::store::fs::remove_file(&PathBuf::from(&t.path))?;
    }
    Ok(())
}

/// The (digest, inode) pairs of freed blobs, for [`BlobStore::remove_many`].
fn freed(blobs: &[FreedBlob]) -> Vec<(&Digest, u64)> {
    blobs.iter().map(|b| (&b.digest, b.ino)).collect()
}
