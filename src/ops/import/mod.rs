//! `wharf import SOURCE...`: docker-archives, oci-archives, OCI layout directories and
//! skopeo `dir:` directories (tars possibly wrapped in gzip, zstd, xz or bzip2, or `-` for
//! stdin), detected by content.
//!
//! Two phases. Receive: every blob streams, hashed, into this process's staging area
//! (flock-owned, so gc never takes it) and is checked against its descriptor, then every
//! image passes verify's own content checks ([`vet`]); nothing in the registry changes
//! and no lock is held. Commit: under the exclusive registry lock, every repository and
//! tag is planned first (the registry's own tag and lock checks, run in memory, and the
//! index.json size cap), then staged blobs are flushed and renamed into the pool and
//! hard-linked into each repository, then index.json is written (blobs first, then
//! index.json). Any error before the blobs move leaves the registry byte-identical;
//! dropping the staging area removes what was received.

pub mod content;
pub mod delta;
pub mod detect;
pub mod docker;
pub mod helm;
pub mod oci;
pub mod paths;
pub mod tarstream;
pub mod vet;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Ctx;
use super::progress::Bar;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::model::{Descriptor, Digest, ForeignName, Platform, RepoName, Tag};
use crate::registry::repository::{MAX_INDEX_BYTES, Repository};
use crate::registry::{RegistryKind, TagChange};
use crate::store::fs::{create_dir_all_durable, fsync_dir};
use crate::store::{BlobStore, Staging};
use content::{Blob, Content, DirContent, Sink};
use detect::{Opened, Wrapper};
pub use oci::Origin;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub sources: Vec<String>,
    pub repo: Option<RepoName>,
    pub tags: Vec<Tag>,
    pub platforms: Vec<Platform>,
    pub force: bool,
    pub scoped: bool,
    /// Refuse content without a valid signature by the gate's keys arriving with it.
    pub gate: Option<crate::ops::signatures::SignatureGate>,
}

/// A name a source gives an image: a producer's image name and/or a tag.
#[derive(Debug, Clone)]
pub struct Name {
    pub foreign: Option<ForeignName>,
    pub tag: Option<Tag>,
}

/// One image (a root manifest or index) found in a source, with every blob of it.
#[derive(Debug, Clone)]
pub struct Found {
    pub names: Vec<Name>,
    pub root: Descriptor,
    pub blobs: BTreeMap<Digest, Blob>,
    pub platforms: Vec<String>,
    pub origin: Origin,
}

/// One source an import read.
#[derive(Debug, Serialize)]
pub struct SourceReport {
    /// The source as given (a path, or `-` for a reader).
    pub source: String,
    /// `docker-archive`, `oci-archive`, `oci-layout`, `docker-archive+oci` (Docker 25+
    /// archives read through their OCI index) or `dir`.
    pub format: String,
    /// The compression wrapper found around the archive (by its magic bytes).
    pub compression: Wrapper,
    /// Images found in it.
    pub images: usize,
}

/// One tag an import set.
#[derive(Debug, Serialize)]
pub struct TagOutcome {
    /// The tag.
    pub tag: Tag,
    /// Whether it was created, already there, or moved (with `force`).
    #[serde(flatten)]
    pub change: TagChange,
}

/// One image (a root manifest or index) an import stored.
#[derive(Debug, Serialize)]
pub struct ImageReport {
    /// The repository it went into.
    pub repository: RepoName,
    /// The root manifest's digest.
    pub digest: Digest,
    /// The root manifest's media type.
    pub media_type: String,
    /// The root manifest's size in bytes.
    pub size: u64,
    /// How the root manifest relates to the source (stored as is, selected, narrowed, synthesised).
    pub origin: Origin,
    /// Its platforms (`linux/amd64`, …); empty when it declares none.
    pub platforms: Vec<String>,
    /// Tags set; empty means the manifest was imported untagged.
    pub tags: Vec<TagOutcome>,
    /// Blobs in its closure (manifests, configs, layers).
    pub blobs: usize,
}

/// The report of [`Registry::import`](crate::Registry::import) and [`Registry::import_reader`](crate::Registry::import_reader) (`wharf import`).
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// The sources read, in the order given.
    pub sources: Vec<SourceReport>,
    /// The images stored.
    pub images: Vec<ImageReport>,
    /// Distinct repositories written to.
    pub repositories: usize,
    /// Tags set.
    pub tags: usize,
    /// Manifests stored.
    pub manifests: usize,
    /// Blobs written that the registry did not hold.
    pub blobs_new: usize,
    /// Blobs the registry already held (linked, not copied).
    pub blobs_reused: usize,
    /// Bytes of the new blobs.
    pub bytes_new: u64,
    /// Bytes of the reused blobs.
    pub bytes_reused: u64,
    /// Notes for the user (warnings accepted, things skipped).
    pub notes: Vec<String>,
}

/// One planned change: an image into a repository, with its tags.
pub(crate) struct Plan {
    pub(crate) repo: RepoName,
    pub(crate) tags: Vec<Tag>,
    pub(crate) found: Found,
}

/// `wharf import`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<ImportReport> {
    run_inner(ctx, opts, None)
}

/// Imports an archive from a caller's reader (the library's `import_reader`); it is
/// reported as the source `reader`.
pub fn run_reader(ctx: &Ctx<'_>, reader: Box<dyn std::io::Read>, opts: &Options) -> Result<ImportReport> {
    let opts = Options { sources: vec![READER_SOURCE.to_string()], ..opts.clone() };
    run_inner(ctx, &opts, Some(reader))
}

/// The label of a caller's reader in reports and errors.
const READER_SOURCE: &str = "reader";

fn run_inner(ctx: &Ctx<'_>, opts: &Options, mut reader: Option<Box<dyn std::io::Read>>) -> Result<ImportReport> {
    if opts.sources.is_empty() {
        return Err(Error::Usage("import needs at least one SOURCE (a file, a directory, or - for stdin)".into()));
    }
    if opts.sources.iter().filter(|s| *s == "-").count() > 1 {
        return Err(Error::Usage("stdin (-) can be given only once".into()));
    }
    let reg = ctx.registry;
    let existing = match reg.kind() {
        RegistryKind::Root => reg.pool().expect("a root has a pool"),
        RegistryKind::Layout(name) => BlobStore::new(reg.repo_dir(name)?.join("blobs")),
    };
    let staging = ctx.create_staging()?;
    let possession = content::Possession::of(reg, ctx.now);
    let mut sink = Sink::new(&staging, existing.clone());
    sink.possession = Some(&possession);
    let mut sources = Vec::new();
    let mut founds: Vec<Found> = Vec::new();
    let mut notes = Vec::new();
    for src in &opts.sources {
        // A Helm chart (a gzip'd tar under one directory holding Chart.yaml); a caller's
        // reader is never taken for a path.
        if src != "-"
            && reader.is_none()
            && let helm::Sniffed::Chart { chart_yaml, .. } = helm::sniff(std::path::Path::new(src))?
        {
            let (f, mut n) = helm::read(std::path::Path::new(src), &chart_yaml, &mut sink)?;
            n.extend(vet::vet(&f, src)?);
            sources.push(SourceReport {
                source: src.clone(),
                format: "helm-chart".into(),
                compression: Wrapper::Gzip,
                images: 1,
            });
            founds.push(f);
            notes.append(&mut n);
            continue;
        }
        let (format, wrapper, mut f, mut n) = receive_source(ctx, src, reader.take(), &mut sink, opts)?;
        let label = if src == "-" { "stdin" } else { src.as_str() };
        for found in &f {
            n.extend(vet::vet(found, label)?);
        }
        sources.push(SourceReport { source: src.clone(), format, compression: wrapper, images: f.len() });
        founds.append(&mut f);
        notes.append(&mut n);
    }
    if founds.is_empty() {
        return Err(Error::refused("nothing to import: no image in the source(s) matches the selected platform(s)"));
    }
    // A plain OCI layout used as a registry has one repository: everything goes there.
    let mut opts = opts.clone();
    if let (RegistryKind::Layout(own), None) = (reg.kind(), &opts.repo) {
        opts.repo = Some(own.clone());
    }
    let referrers = delta::referrer_roots(&founds);
    let plans = name_plans(founds, &opts)?;
    if let Some(gate) = crate::ops::signatures::effective_gate(reg, opts.gate.as_ref())? {
        crate::ops::signatures::gate_plans(&gate, &plans)?;
    }
    let report = commit(ctx, &existing, &staging, plans, opts.force, &mut notes)?;
    delta::quiet_referrer_notes(&referrers, &mut notes);
    drop(staging);
    Ok(ImportReport { sources, notes, ..report })
}

type Received = (String, Wrapper, Vec<Found>, Vec<String>);

fn receive_source(
    ctx: &Ctx<'_>,
    src: &str,
    reader: Option<Box<dyn std::io::Read>>,
    sink: &mut Sink<'_>,
    opts: &Options,
) -> Result<Received> {
    let label = if src == "-" { "stdin" } else { src };
    let bar = Bar::bytes(ctx.progress, format!("importing {label}"), None);
    let opened = match reader {
        Some(r) => detect::open_stream(src, r, None, &bar)?,
        None => detect::open(src, &bar)?,
    };
    let out = match opened {
        Opened::LayoutDir(dir) => {
            let mut c = DirContent::new(&dir, false);
            let (f, n) = oci::read_layout(&mut c, sink, opts)?;
            ("oci-layout".to_string(), Wrapper::None, f, n)
        }
        Opened::SkopeoDir(dir) => {
            let mut c = DirContent::new(&dir, true);
            let (f, n) = oci::read_skopeo_dir(&mut c, sink, opts)?;
            ("dir".to_string(), Wrapper::None, f, n)
        }
        Opened::Tar { reader, wrapper, input_size } => {
            if let Some(n) = input_size {
                bar.set_total(n);
            }
            let label = if src == "-" { "stdin".to_string() } else { src.to_string() };
            let mut c = tarstream::receive(reader, sink, &label)?;
            let (format, f, n) = read_tar_content(&mut c, sink, opts)?;
            (format, wrapper, f, n)
        }
    };
    bar.finish();
    Ok(out)
}

/// Decides what a received tar holds, by its members.
fn read_tar_content(
    c: &mut content::TarContent,
    sink: &mut Sink<'_>,
    opts: &Options,
) -> Result<(String, Vec<Found>, Vec<String>)> {
    let label = c.label();
    let has_manifest_json = c.member(sink, "manifest.json")?.is_some();
    let index = match c.member(sink, "index.json")? {
        Some(b) => Some(
            crate::model::IndexFile::parse(&b.read_small(&format!("{label}: index.json"))?)
                .map_err(|e| Error::bad_input(&label, format!("index.json is not a valid OCI index: {e}")))?,
        ),
        None => None,
    };
    let index_lists = index.as_ref().is_some_and(|i| !i.manifests.is_empty());
    if index_lists {
        let is_delta = index.as_ref().is_some_and(|i| i.annotations.contains_key(super::bundle::ANNOTATION_DELTA));
        let (f, n) = if is_delta { delta::read_layout(c, sink, opts)? } else { oci::read_layout(c, sink, opts)? };
        let format = if has_manifest_json { "docker-archive+oci" } else { "oci-archive" };
        return Ok((format.to_string(), f, n));
    }
    if has_manifest_json {
        let (f, n) = docker::read(c, sink, opts)?;
        return Ok(("docker-archive".to_string(), f, n));
    }
    if c.member(sink, "index.json")?.is_some() {
        return Err(Error::bad_input(
            &label,
            "index.json lists no manifests and there is no manifest.json: the archive holds no image",
        ));
    }
    if c.member(sink, "repositories")?.is_some() {
        return Err(Error::bad_input(
            &label,
            "a docker-archive without manifest.json (the pre-1.10 `docker save` format) is not supported; save it again with Docker 1.10 or later",
        ));
    }
    Err(Error::bad_input(
        &label,
        "a tar archive but not an image archive: it has neither index.json (oci-archive) nor manifest.json (docker-archive)",
    ))
}

/// Applies --repo, --tag and --scoped to what the sources named.
pub(crate) fn name_plans(founds: Vec<Found>, opts: &Options) -> Result<Vec<Plan>> {
    // Referrers (signatures, SBOMs that travel with an export) are not images: --tag
    // names the one image, and they go in untagged beside it.
    let referrers = delta::referrer_roots(&founds);
    if !opts.tags.is_empty() {
        let roots: BTreeSet<&Digest> =
            founds.iter().map(|f| &f.root.digest).filter(|d| !referrers.contains(*d)).collect();
        if roots.len() > 1 {
            let list: Vec<String> = roots.iter().map(|d| d.to_string()).collect();
            return Err(Error::Usage(format!(
                "--tag names one image, but the source(s) hold {} ({}); import them separately or drop --tag",
                roots.len(),
                list.join(", ")
            )));
        }
    }
    let mut plans: Vec<Plan> = Vec::new();
    for found in founds {
        // repository → tags
        let mut targets: BTreeMap<RepoName, Vec<Tag>> = BTreeMap::new();
        let mut untagged_repos: BTreeSet<RepoName> = BTreeSet::new();
        for n in &found.names {
            let repo = match (&opts.repo, &n.foreign) {
                (Some(r), _) => r.clone(),
                (None, Some(f)) => f.local_repo(opts.scoped)?,
                (None, None) => continue,
            };
            let e = targets.entry(repo).or_default();
            if opts.tags.is_empty()
                && let Some(t) = &n.tag
                && !e.contains(t)
            {
                e.push(t.clone());
            }
        }
        if targets.is_empty() {
            match &opts.repo {
                Some(r) => {
                    untagged_repos.insert(r.clone());
                }
                None => {
                    let tags: Vec<String> =
                        found.names.iter().filter_map(|n| n.tag.as_ref().map(|t| t.to_string())).collect();
                    let what = if tags.is_empty() {
                        "no name".to_string()
                    } else {
                        format!("only the tag(s) {}", tags.join(", "))
                    };
                    return Err(Error::Usage(format!(
                        "the image {} in the source carries {what} and no repository; pass --repo NAME (and --tag TAG) to name it",
                        found.root.digest
                    )));
                }
            }
        }
        if !opts.tags.is_empty() && !referrers.contains(&found.root.digest) {
            for tags in targets.values_mut() {
                *tags = opts.tags.clone();
            }
            for r in std::mem::take(&mut untagged_repos) {
                targets.insert(r, opts.tags.clone());
            }
        }
        for r in untagged_repos {
            targets.entry(r).or_default();
        }
        for (repo, tags) in targets {
            plans.push(Plan { repo, tags, found: Found { names: Vec::new(), ..found.clone() } });
        }
    }
    // One tag, one manifest.
    let mut seen: BTreeMap<(RepoName, Tag), Digest> = BTreeMap::new();
    for p in &plans {
        for t in &p.tags {
            if let Some(other) = seen.insert((p.repo.clone(), t.clone()), p.found.root.digest.clone())
                && other != p.found.root.digest
            {
                return Err(Error::Usage(format!(
                    "the source(s) name {}:{t} for two different manifests ({other} and {}); import them separately or rename with --repo/--tag",
                    p.repo, p.found.root.digest
                )));
            }
        }
    }
    Ok(plans)
}

pub(crate) fn commit(
    ctx: &Ctx<'_>,
    existing: &BlobStore,
    staging: &Staging,
    plans: Vec<Plan>,
    force: bool,
    notes: &mut Vec<String>,
) -> Result<ImportReport> {
    let reg = ctx.registry;
    let _lock = ctx.write_lock()?;
    let mut by_repo: BTreeMap<RepoName, Vec<Plan>> = BTreeMap::new();
    for p in plans {
        by_repo.entry(p.repo.clone()).or_default().push(p);
    }
    // 1. Plan every repository and tag of every source before anything moves: each
    // repository is opened (or checked as it would be created) and changed in memory by
    // the very calls step 3 makes, so a lock, a tag that would move without --force, a
    // name wharf does not create or an index.json over the size wharf reads refuses the
    // whole import with nothing written.
    // An import into one existing repository (the build system's case) keeps its planned
    // state for step 3 instead of loading the repository again (at 100k tags a load is
    // most of the import's time); the write lock is held throughout, so it cannot change.
    // Imports into many repositories plan and commit one at a time, to bound memory.
    let mut planned: Option<(Repository, Vec<ImageReport>, Vec<String>)> = None;
    let keep_plan = by_repo.len() == 1;
    for (name, plans) in &by_repo {
        let mut repo = reg.plan_repo(name, ctx.now)?;
        let exists = reg.repo_exists(name);
        // A link or special file in its blob store is refused now, before anything moves.
        if exists {
            crate::store::fs::require_no_special(repo.blobs.root())?;
        }
        let mut plan_notes = Vec::new();
        let images = apply(&mut repo, plans, force, ctx.now, &mut plan_notes)?;
        let size = repo.index().serialized_len();
        if size > MAX_INDEX_BYTES {
            return Err(Error::refused(format!(
                "importing into {name} would make its index.json {size} bytes, over the {MAX_INDEX_BYTES} bytes wharf reads; refused before writing anything"
            )));
        }
        if keep_plan && exists {
            planned = Some((repo, images, plan_notes));
        }
    }
    // 2. Blobs into the pool (or the layout): staged files are renamed, present ones reused.
    let mut all: BTreeMap<Digest, &Blob> = BTreeMap::new();
    for plans in by_repo.values() {
        for p in plans {
            for (d, b) in &p.found.blobs {
                all.entry(d.clone()).or_insert(b);
            }
        }
    }
    let (mut blobs_new, mut blobs_reused, mut bytes_new, mut bytes_reused) = (0usize, 0usize, 0u64, 0u64);
    create_dir_all_durable(&existing.alg_dir())?;
    for (d, b) in &all {
        if existing.size(d)? == Some(b.size) {
            blobs_reused += 1;
            bytes_reused += b.size;
            continue;
        }
        if !b.staged {
            return Err(Error::concurrent(format!(
                "blob {d} left {} while this import ran (a concurrent gc?); run the import again",
                existing.root().display()
            )));
        }
        // Small staged blobs were written without fsync: flush each one kept.
        let staged = staging.blobs();
        staged.sync(d)?;
        existing.adopt(&staged, d)?;
        blobs_new += 1;
        bytes_new += b.size;
    }
    fsync_dir(&existing.alg_dir())?;
    // 3. Per repository: link the blobs in, then tags, then index.json.
    let temp = reg.staging_root();
    let mut images = Vec::new();
    for (name, plans) in by_repo {
        let (mut repo, applied) = match planned.take() {
            Some((repo, imgs, n)) => (repo, Some((imgs, n))),
            None => (reg.open_or_create_repo(&name, ctx.now)?, None),
        };
        if let RegistryKind::Root = reg.kind() {
            for p in &plans {
                for d in p.found.blobs.keys() {
                    repo.blobs.link_from(existing, d, &temp)?;
                }
            }
        }
        match applied {
            Some((imgs, n)) => {
                // Planned before the blobs were here: read their build time and kind now.
                for p in &plans {
                    repo.renote_manifest(&p.found.root.digest);
                }
                images.extend(imgs);
                notes.extend(n);
            }
            None => images.extend(apply(&mut repo, &plans, force, ctx.now, notes)?),
        }
        repo.save()?;
    }
    let repositories = images.iter().map(|i| &i.repository).collect::<BTreeSet<_>>().len();
    let tags = images.iter().map(|i| i.tags.len()).sum();
    let manifests = images.iter().map(|i| (&i.repository, &i.digest)).collect::<BTreeSet<_>>().len();
    Ok(ImportReport {
        sources: Vec::new(),
        images,
        repositories,
        tags,
        manifests,
        blobs_new,
        blobs_reused,
        bytes_new,
        bytes_reused,
        notes: Vec::new(),
    })
}

/// Tags (or adds untagged) the images of `plans` in `repo`, in memory, with the
/// registry's own lock and tag checks ([`Repository::set_tag`]). Planning and commit
/// both call it, so what the plan allowed is exactly what the commit does.
fn apply(
    repo: &mut Repository,
    plans: &[Plan],
    force: bool,
    now: Timestamp,
    notes: &mut Vec<String>,
) -> Result<Vec<ImageReport>> {
    let name = repo.name.clone();
    let mut images = Vec::new();
    for p in plans {
        let mut tags = Vec::new();
        for t in &p.tags {
            // cosign's `.sig` tags move without --force: a signature manifest grows as
            // signers append to it, and the newer one holds the older's layers.
            let sig = crate::model::signature::sig_tag_subject(t.as_str()).is_some();
            let change = repo.set_tag(t, &p.found.root, force || sig, now)?;
            if let TagChange::Moved { from } = &change {
                notes.push(format!("moved {name}:{t} from {from} (the old manifest stays, untagged)"));
            }
            tags.push(TagOutcome { tag: t.clone(), change });
        }
        if p.tags.is_empty() {
            if repo.check_add_untagged(&format!("importing into {name}"), &p.found.root.digest)? {
                notes.push(format!(
                    "{name}@{} was imported untagged; pass --tag to tag it, or `wharf tag {name}@{} {name}:TAG`",
                    p.found.root.digest, p.found.root.digest
                ));
            }
            repo.add_untagged(&p.found.root, now);
        }
        images.push(ImageReport {
            repository: name.clone(),
            digest: p.found.root.digest.clone(),
            media_type: p.found.root.media_type.clone(),
            size: p.found.root.size,
            origin: p.found.origin,
            platforms: p.found.platforms.clone(),
            tags,
            blobs: p.found.blobs.len(),
        });
    }
    Ok(images)
}
