//! `wharf push [REPO|REF]... --to HOST[:PORT][/PREFIX]`: tags of the local registry to a
//! registry, byte for byte (manifests are sent as stored, never re-serialised).
//!
//! Plan: one manifest HEAD per tag; a tag whose remote digest already matches is skipped
//! (with one HEAD per local referrer, pushed if absent). For the rest, each blob is
//! HEADed in its destination repository and planned as skip, mount (another repository of
//! this push gets it first) or upload. `--dry-run` stops there. Apply: each distinct blob
//! is handled by one worker (`--jobs` at a time): uploaded once, then mounted into the
//! other repositories that need it. Then manifests, children before the index that lists
//! them, the tagged root last; then referrers (after their subject), through the
//! referrers API when the registry processes `subject`, else merged into the
//! `sha256-<hex>` fallback index without dropping entries other clients put there.
//! The shared registry lock is held throughout, so gc cannot take a blob being sent;
//! content whose `read_enabled` is false is refused before anything is sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use super::Ctx;
use super::inspect::{find_referrers_in, subjects_from_blobs};
use super::progress::Bar;
use crate::error::{Error, Result};
use crate::model::{Action, Descriptor, Digest, IndexFile, MediaKind, Reference, RepoName, Tag, media};
use crate::registry::Repository;
use crate::registry::repository::MAX_DOCUMENT_BYTES;
use crate::remote::client::Mount;
use crate::remote::{Client, ConnectOptions, Destination};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `REPO` (every tag) or `REF` (one tag or digest).
    pub targets: Vec<String>,
    pub to: Option<Destination>,
    pub all: bool,
    pub no_referrers: bool,
    pub dry_run: bool,
    pub jobs: usize,
    pub connect: ConnectOptions,
}

/// What a push did with one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Something was uploaded.
    Pushed,
    /// The manifest and every blob were there or mounted: nothing uploaded.
    Mounted,
    /// The destination tag already pointed at this digest.
    Skipped,
}

/// What a push does with one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobAction {
    /// Sent to the registry.
    Upload,
    /// Mounted from another repository of the same registry (nothing sent).
    Mount,
    /// Already in the destination repository.
    Skip,
}

/// One blob of a pushed tag, and what the push did (or, in a dry run, would do) with it.
#[derive(Debug, Serialize)]
pub struct PlannedBlob {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Upload, mount or skip.
    pub action: BlobAction,
}

/// One tag (or manifest by digest) a push handled.
#[derive(Debug, Serialize)]
pub struct PushedTag {
    /// The local reference (`REPO:TAG` or `REPO@DIGEST`).
    pub source: String,
    /// `HOST/REPO:TAG` (or `@DIGEST`).
    pub destination: String,
    /// The manifest's digest (the same on both sides: bytes are sent as stored).
    pub digest: Digest,
    /// Pushed, mounted or skipped.
    pub status: Status,
    /// Its blobs (configs, layers) and what was done with each.
    pub blobs: Vec<PlannedBlob>,
    /// Manifests it takes (the root and, for an index, its children).
    pub manifests: usize,
    /// Referrers pushed along with it.
    pub referrers: Vec<Digest>,
}

/// The report of [`Registry::push`](crate::Registry::push) (`wharf push`).
#[derive(Debug, Serialize)]
pub struct PushReport {
    /// The destination registry host.
    pub registry: String,
    /// True when nothing was sent (a plan).
    pub dry_run: bool,
    /// The tags handled, in order.
    pub tags: Vec<PushedTag>,
    /// Blobs uploaded.
    pub uploaded_blobs: usize,
    /// Their bytes.
    pub uploaded_bytes: u64,
    /// Blobs mounted from another repository.
    pub mounted_blobs: usize,
    /// Blobs already there.
    pub skipped_blobs: usize,
    /// Manifests sent.
    pub manifests_pushed: usize,
    /// Requests sent again after a 5xx, 429 (waiting as `Retry-After` asks) or a
    /// connection failure.
    pub retries: u64,
    /// Notes for the user: what was skipped and why, and where referrers were listed.
    pub notes: Vec<String>,
}

/// One local manifest to push, with what it needs.
struct Target {
    source: String,
    repo: RepoName,
    remote_repo: String,
    /// The tag to set, or none (pushed by digest).
    tag: Option<Tag>,
    root: Descriptor,
    /// Manifests in push order: children before parents, the root last.
    manifests: Vec<Descriptor>,
    /// Blobs (configs, layers): digest → size.
    blobs: BTreeMap<Digest, u64>,
    /// Referrers of the root or of its children: (subject, referrer descriptor, its
    /// manifests in push order, its blobs).
    referrers: Vec<Referrer>,
    skip: bool,
}

struct Referrer {
    subject: Digest,
    desc: Descriptor,
    manifests: Vec<Descriptor>,
    blobs: BTreeMap<Digest, u64>,
}

/// `wharf push`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<PushReport> {
    let to = opts.to.as_ref().ok_or_else(|| Error::Usage("push needs --to HOST[:PORT][/PREFIX]".into()))?;
    if opts.targets.is_empty() && !opts.all {
        return Err(Error::Usage("push needs REPO or REF arguments, or --all".into()));
    }
    if !opts.targets.is_empty() && opts.all {
        return Err(Error::Usage("give either REPO/REF arguments or --all, not both".into()));
    }
    let reg = ctx.registry;
    let _lock = ctx.read_lock()?;
    let mut notes = Vec::new();
    // Local selection.
    let mut wanted: Vec<Reference> = Vec::new();
    let repos_all: Vec<RepoName> = if opts.all { reg.repo_names()? } else { Vec::new() };
    for r in &repos_all {
        wanted.push(Reference { repo: r.clone(), tag: None, digest: None });
    }
    for t in &opts.targets {
        wanted.push(Reference::parse_loose(t)?);
    }
    let mut targets: Vec<Target> = Vec::new();
    let mut opened: BTreeMap<RepoName, Repository> = BTreeMap::new();
    for w in &wanted {
        if !opened.contains_key(&w.repo) {
            opened.insert(w.repo.clone(), reg.open_repo(&w.repo, ctx.now)?);
        }
        let repo = &opened[&w.repo];
        let expanded = w.tag.is_none() && w.digest.is_none();
        let picks: Vec<(Option<Tag>, Descriptor)> = if expanded {
            let mut v = Vec::new();
            for (t, d) in repo.tag_entries() {
                if super::pull::is_fallback_tag(t.as_str()) {
                    notes.push(format!(
                        "{}:{t} is a referrers fallback tag; referrers are pushed with their subjects",
                        w.repo
                    ));
                    continue;
                }
                v.push((Some(t), d.clone()));
            }
            if v.is_empty() {
                notes.push(format!(
                    "{} has no tags; nothing of it pushed (push untagged manifests as REPO@DIGEST)",
                    w.repo
                ));
            }
            v
        } else {
            let res = repo.resolve(w)?;
            let mut d = res.descriptor.clone();
            d.annotations.remove(media::ANNOTATION_REF_NAME);
            vec![(res.tag.clone(), d)]
        };
        let mut subjects = None;
        for (tag, mut desc) in picks {
            desc.annotations.remove(media::ANNOTATION_REF_NAME);
            let source = match &tag {
                Some(t) => format!("{}:{t}", w.repo),
                None => format!("{}@{}", w.repo, desc.digest),
            };
            let readable = repo.check(
                &format!("pushing {source}"),
                tag.as_slice(),
                std::slice::from_ref(&desc.digest),
                Action::Read,
            );
            match readable {
                // A tag taken because its repository (or --all) was named: a read lock
                // skips it with a note, as `export --all` does; one named alone refuses.
                Err(e @ Error::LockRefused { .. }) if expanded => {
                    notes.push(format!("skipped {source}: {e}"));
                    continue;
                }
                other => other?,
            }
            let (manifests, blobs) = closure(repo, &desc, &source)?;
            let mut referrers = Vec::new();
            if !opts.no_referrers {
                // Which manifests refer to which, read from the blobs once per
                // repository (never from the sidecar's display cache).
                let subjects = subjects.get_or_insert_with(|| subjects_from_blobs(repo));
                let mut seen = BTreeSet::new();
                let mut queue: Vec<Digest> = manifests.iter().map(|m| m.digest.clone()).collect();
                while let Some(subject) = queue.pop() {
                    for info in find_referrers_in(repo, &subject, subjects) {
                        if !info.present || !seen.insert(info.digest.clone()) {
                            continue;
                        }
                        let Some(rdesc) = repo.descriptor_of(&info.digest).cloned() else { continue };
                        let mut rdesc = rdesc;
                        rdesc.annotations.remove(media::ANNOTATION_REF_NAME);
                        repo.check(
                            &format!("pushing the referrer {}@{}", w.repo, info.digest),
                            &[],
                            std::slice::from_ref(&info.digest),
                            Action::Read,
                        )?;
                        let (rm, rb) = closure(repo, &rdesc, &format!("{}@{}", w.repo, info.digest))?;
                        queue.push(info.digest.clone());
                        referrers.push(Referrer { subject: subject.clone(), desc: rdesc, manifests: rm, blobs: rb });
                    }
                }
            }
            targets.push(Target {
                source,
                remote_repo: to.repo(w.repo.as_str()),
                repo: w.repo.clone(),
                tag,
                root: desc,
                manifests,
                blobs,
                referrers,
                skip: false,
            });
        }
    }
    let client = Client::new(&to.host, &opts.connect)?;
    let jobs = opts.jobs.clamp(1, 64);
    // Plan: one manifest HEAD per target.
    let heads: Vec<Result<bool>> = par_map(&targets, jobs, |t| {
        let reference = t.tag.as_ref().map_or_else(|| t.root.digest.to_string(), |t| t.to_string());
        Ok(client.head_manifest(&t.remote_repo, &reference)?.and_then(|h| h.digest) == Some(t.root.digest.clone()))
    });
    for (t, h) in targets.iter_mut().zip(heads) {
        t.skip = h?;
    }
    // Referrers of skipped targets: one HEAD each; present ones are dropped.
    for t in targets.iter_mut().filter(|t| t.skip) {
        let present: Vec<Result<bool>> = par_map(&t.referrers, jobs, |r| {
            Ok(client.head_manifest(&t.remote_repo, &r.desc.digest.to_string())?.is_some())
        });
        let mut keep = Vec::new();
        for (r, p) in std::mem::take(&mut t.referrers).into_iter().zip(present) {
            if !p? {
                keep.push(r);
            }
        }
        t.referrers = keep;
    }
    // Blob HEADs, per (remote repository, digest) pair still needed.
    let mut pairs: BTreeSet<(String, Digest)> = BTreeSet::new();
    let mut sizes: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut local_path: BTreeMap<Digest, std::path::PathBuf> = BTreeMap::new();
    for t in &targets {
        let repo = &opened[&t.repo];
        let mut add = |blobs: &BTreeMap<Digest, u64>| {
            for (d, s) in blobs {
                pairs.insert((t.remote_repo.clone(), d.clone()));
                sizes.insert(d.clone(), *s);
                local_path.entry(d.clone()).or_insert_with(|| repo.blobs.path(d));
            }
        };
        if !t.skip {
            add(&t.blobs);
        }
        for r in &t.referrers {
            add(&r.blobs);
        }
    }
    let pair_list: Vec<(String, Digest)> = pairs.into_iter().collect();
    let present: Vec<Result<bool>> = par_map(&pair_list, jobs, |(repo, d)| Ok(client.head_blob(repo, d)?.is_some()));
    let mut action: BTreeMap<(String, Digest), BlobAction> = BTreeMap::new();
    // digest → remote repositories that need it uploaded or mounted, in order.
    let mut needs: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    let mut holders: BTreeMap<Digest, String> = BTreeMap::new();
    for ((repo, d), p) in pair_list.iter().zip(present) {
        if p? {
            action.insert((repo.clone(), d.clone()), BlobAction::Skip);
            holders.entry(d.clone()).or_insert_with(|| repo.clone());
        } else {
            needs.entry(d.clone()).or_default().push(repo.clone());
        }
    }
    for (d, repos) in &needs {
        for (i, r) in repos.iter().enumerate() {
            let a = if i == 0 && !holders.contains_key(d) { BlobAction::Upload } else { BlobAction::Mount };
            action.insert((r.clone(), d.clone()), a);
        }
    }
    let mut report_tags = Vec::new();
    let (mut uploaded_blobs, mut uploaded_bytes, mut mounted_blobs, mut skipped_blobs) = (0usize, 0u64, 0usize, 0usize);
    for (d, a) in action.iter().map(|((_, d), a)| (d, a)) {
        match a {
            BlobAction::Upload => {
                uploaded_blobs += 1;
                uploaded_bytes += sizes[d];
            }
            BlobAction::Mount => mounted_blobs += 1,
            BlobAction::Skip => skipped_blobs += 1,
        }
    }
    let mut manifests_pushed = 0usize;
    if !opts.dry_run {
        // Blobs: one worker per distinct digest, upload once, then mount elsewhere.
        let work: Vec<(&Digest, &Vec<String>)> = needs.iter().collect();
        let total: u64 = work.iter().map(|(d, _)| sizes[*d]).sum();
        let bar = Bar::bytes(ctx.progress, "pushing".to_string(), Some(total));
        let mounted_fallback = AtomicUsize::new(0);
        let uploaded_extra = AtomicU64::new(0);
        let results: Vec<Result<()>> = par_map(&work, jobs, |(d, repos)| {
            let path = &local_path[*d];
            let size = sizes[*d];
            let mut from = holders.get(*d).cloned();
            for r in repos.iter() {
                match &from {
                    Some(f) => match client.mount_blob(r, d, f)? {
                        Mount::Mounted => {}
                        Mount::Upload(session) => {
                            // The registry would not mount (another storage, policy): upload.
                            client.finish_upload(r, session, d, path, size)?;
                            mounted_fallback.fetch_add(1, Ordering::Relaxed);
                            uploaded_extra.fetch_add(size, Ordering::Relaxed);
                        }
                    },
                    None => {
                        let session = client.start_upload(r)?;
                        client.finish_upload(r, session, d, path, size)?;
                        from = Some(r.clone());
                    }
                }
            }
            bar.inc(size);
            Ok(())
        });
        bar.finish();
        for r in results {
            r?;
        }
        let fallback = mounted_fallback.into_inner();
        uploaded_blobs += fallback;
        mounted_blobs -= fallback;
        uploaded_bytes += uploaded_extra.into_inner();
        // Manifests: children first, the root (by tag) last; then referrers.
        let mut done: BTreeMap<(String, Digest), bool> = BTreeMap::new();
        for t in &targets {
            let repo = &opened[&t.repo];
            if !t.skip {
                for m in &t.manifests {
                    let last = m.digest == t.root.digest;
                    let reference = match (&t.tag, last) {
                        (Some(tag), true) => tag.to_string(),
                        _ => m.digest.to_string(),
                    };
                    if !last && done.contains_key(&(t.remote_repo.clone(), m.digest.clone())) {
                        continue;
                    }
                    let bytes = repo.blobs.read_verified(&m.digest, MAX_DOCUMENT_BYTES)?;
                    let put = client.put_manifest(&t.remote_repo, &reference, &m.media_type, &bytes)?;
                    done.insert((t.remote_repo.clone(), m.digest.clone()), put.subject_processed);
                    manifests_pushed += 1;
                }
            }
            manifests_pushed += push_referrers(&client, repo, t, &mut done, &mut notes)?;
        }
    }
    for t in &targets {
        let mut blobs = Vec::new();
        let mut all: BTreeMap<Digest, u64> = if t.skip { BTreeMap::new() } else { t.blobs.clone() };
        for r in &t.referrers {
            all.extend(r.blobs.iter().map(|(d, s)| (d.clone(), *s)));
        }
        for (d, s) in all {
            let a = action.get(&(t.remote_repo.clone(), d.clone())).copied().unwrap_or(BlobAction::Skip);
            blobs.push(PlannedBlob { digest: d, size: s, action: a });
        }
        let status = if t.skip && t.referrers.is_empty() {
            Status::Skipped
        } else if blobs.iter().any(|b| b.action == BlobAction::Upload) {
            Status::Pushed
        } else if t.skip {
            Status::Skipped
        } else {
            Status::Mounted
        };
        let destination = match &t.tag {
            Some(tag) => format!("{}/{}:{tag}", to.host, t.remote_repo),
            None => format!("{}/{}@{}", to.host, t.remote_repo, t.root.digest),
        };
        report_tags.push(PushedTag {
            source: t.source.clone(),
            destination,
            digest: t.root.digest.clone(),
            status,
            manifests: if t.skip { 0 } else { t.manifests.len() },
            blobs,
            referrers: t.referrers.iter().map(|r| r.desc.digest.clone()).collect(),
        });
    }
    Ok(PushReport {
        registry: to.host.clone(),
        dry_run: opts.dry_run,
        tags: report_tags,
        uploaded_blobs,
        uploaded_bytes,
        mounted_blobs,
        skipped_blobs,
        manifests_pushed,
        retries: client.retries(),
        notes,
    })
}

/// Pushes the referrers of a target (after its manifests), then updates the fallback
/// indexes of subjects whose registry did not process `subject`.
fn push_referrers(
    client: &Client,
    repo: &Repository,
    t: &Target,
    done: &mut BTreeMap<(String, Digest), bool>,
    notes: &mut Vec<String>,
) -> Result<usize> {
    let mut pushed = 0;
    let mut fallback: BTreeMap<Digest, Vec<Descriptor>> = BTreeMap::new();
    for r in &t.referrers {
        for m in &r.manifests {
            let key = (t.remote_repo.clone(), m.digest.clone());
            if done.contains_key(&key) {
                continue;
            }
            let bytes = repo.blobs.read_verified(&m.digest, MAX_DOCUMENT_BYTES)?;
            let put = client.put_manifest(&t.remote_repo, &m.digest.to_string(), &m.media_type, &bytes)?;
            done.insert(key, put.subject_processed);
            pushed += 1;
        }
        // A registry that processed `subject` sent OCI-Subject; otherwise the referrer is
        // listed in the fallback index (merging is idempotent across targets).
        let processed = done.get(&(t.remote_repo.clone(), r.desc.digest.clone())).copied().unwrap_or(false);
        if !processed {
            fallback.entry(r.subject.clone()).or_default().push(referrer_entry(repo, &r.desc)?);
        }
    }
    for (subject, entries) in fallback {
        let tag = format!("sha256-{}", subject.hex());
        let mut index = match client.get_manifest(&t.remote_repo, &tag, super::import::content::MAX_JSON)? {
            Some(m) => IndexFile::parse(&m.bytes).map_err(|e| {
                Error::refused(format!(
                    "registry {}: {}:{tag} (the referrers fallback tag) is not an index ({e}); wharf will not overwrite it",
                    client.host, t.remote_repo
                ))
            })?,
            None => IndexFile { schema_version: 2, media_type: Some(media::OCI_INDEX.to_string()), ..IndexFile::default() },
        };
        let before = index.manifests.len();
        for e in entries {
            if !index.manifests.iter().any(|m| m.digest == e.digest) {
                index.manifests.push(e);
            }
        }
        if index.manifests.len() == before {
            continue;
        }
        if index.media_type.is_none() {
            index.media_type = Some(media::OCI_INDEX.to_string());
        }
        let bytes = index.to_bytes();
        client.put_manifest(&t.remote_repo, &tag, media::OCI_INDEX, &bytes)?;
        notes.push(format!(
            "{} has no referrers API: listed {} referrer(s) of {subject} in the fallback tag {}:{tag}",
            client.host,
            index.manifests.len() - before,
            t.remote_repo
        ));
        pushed += 1;
    }
    Ok(pushed)
}

/// The descriptor of a referrer in a fallback index: media type, digest, size,
/// artifactType and annotations, as the referrers API would list it.
fn referrer_entry(repo: &Repository, desc: &Descriptor) -> Result<Descriptor> {
    let doc = repo.read_document(&desc.digest, &desc.media_type)?;
    let mut d = Descriptor::new(doc.media_type.as_deref().unwrap_or(&desc.media_type), desc.digest.clone(), desc.size);
    d.artifact_type = doc.artifact_type.clone().or_else(|| doc.config.as_ref().map(|c| c.media_type.clone()));
    d.annotations = doc.annotations.clone().into_iter().collect();
    Ok(d)
}

/// The manifests of `root`'s closure in push order (children before parents) and its
/// other blobs, every one present locally.
fn closure(repo: &Repository, root: &Descriptor, source: &str) -> Result<(Vec<Descriptor>, BTreeMap<Digest, u64>)> {
    let mut manifests = Vec::new();
    let mut blobs = BTreeMap::new();
    let mut seen = BTreeSet::new();
    visit(repo, root, true, source, &mut seen, &mut manifests, &mut blobs)?;
    Ok((manifests, blobs))
}

fn visit(
    repo: &Repository,
    d: &Descriptor,
    root: bool,
    source: &str,
    seen: &mut BTreeSet<Digest>,
    manifests: &mut Vec<Descriptor>,
    blobs: &mut BTreeMap<Digest, u64>,
) -> Result<()> {
    if !seen.insert(d.digest.clone()) {
        return Ok(());
    }
    let Some(size) = repo.blobs.size(&d.digest)? else {
        return Err(Error::BlobMissing {
            context: source.to_string(),
            digest: d.digest.to_string(),
            dir: repo.dir.clone(),
            repo: repo.name.to_string(),
        });
    };
    if size != d.size && !root {
        return Err(Error::SizeMismatch {
            what: format!("{source}: blob {}", d.digest),
            expected: d.size,
            actual: size,
        });
    }
    if !(root || d.kind().has_children()) {
        blobs.insert(d.digest.clone(), size);
        return Ok(());
    }
    let doc = repo.read_document(&d.digest, &d.media_type)?;
    if doc.kind == MediaKind::Schema1 {
        return Err(Error::refused(format!(
            "{source}: {} is a Docker schema 1 manifest; wharf does not push schema 1",
            d.digest
        )));
    }
    for child in doc.children() {
        if child.role == crate::model::Role::Subject {
            continue;
        }
        if let Some(cd) = child.descriptor {
            visit(repo, &cd, false, source, seen, manifests, blobs)?;
        }
    }
    let mut m = d.clone();
    if let Some(own) = doc.media_type.clone().filter(|t| MediaKind::of(t).has_children()) {
        m.media_type = own;
    } else if m.media_type.is_empty() {
        m.media_type =
            if doc.kind == MediaKind::Index { media::OCI_INDEX.to_string() } else { media::OCI_MANIFEST.to_string() };
    }
    m.size = size;
    manifests.push(m);
    Ok(())
}

/// Runs `f` over `items` on up to `jobs` threads; results in input order.
fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    let r = f(item);
                    out.lock().expect("results").push((i, r));
                }
            });
        }
    });
    let mut v = out.into_inner().expect("results");
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, r)| r).collect()
}
