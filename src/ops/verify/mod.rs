//! `wharf verify`: every byte hashed, every edge followed, every problem reported.
//!
//! It owns the integrity check of a registry, of some of its repositories or references,
//! or of a plain OCI layout, and returns a [`VerifyReport`] whose findings are data
//! (severity, kind, repository, digest, the chain of descriptors from index.json, a
//! message), never errors: an error (exit 2) means verify could not run at all. It reads
//! only; it never changes a file. The structure and graph checks live in `walk`, the
//! parallel hashing engine in [`hash`] (reusable by other operations).

pub mod hash;
mod sigs;
mod walk;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::progress::Bar;
use crate::error::{Error, Result};
use crate::model::media::OCI_LAYOUT_FILE;
use crate::model::{Digest, Reference, RepoName, Role};
use crate::registry::{CONFIG_FILE, LockWait, Registry, RegistryKind, STATE_DIR};
use crate::store::LockGuard;
use crate::store::fs::FileKind;
pub use hash::IoMode;

/// How much of each blob's head the engine keeps for magic-number checks.
const HEAD_BYTES: usize = 512;

/// Options of one verify run.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Size of the hashing thread pool; `None` uses one thread per core.
    pub jobs: Option<usize>,
    /// Check presence, sizes and structure only; hash nothing.
    pub quick: bool,
    pub io: IoMode,
    /// Draw a progress bar (bytes/s) on stderr.
    pub progress: bool,
    /// Check each selected image's cosign signature against these keys (any one will do);
    /// empty: no signature checks.
    pub keys: Vec<crate::model::signature::PublicKey>,
    /// With `keys`: an unsigned image is an error, not info.
    pub require_signed: bool,
}

pub use crate::model::check::{Kind, Severity};

/// One step of the chain of descriptors from index.json to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// `manifest` for an index.json entry or an index's child; `config`, `layer`,
    /// `subject` for a manifest's edges.
    pub role: Role,
    /// Position in the parent's list (`manifests[i]`, `layers[i]`); none for config and
    /// subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The digest the descriptor names.
    pub digest: Digest,
    /// The media type the descriptor declares.
    pub media_type: String,
    /// The tag of an index.json entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem it is (a stable name).
    pub kind: Kind,
    /// The repository, or none for registry-wide findings (pool, staging).
    pub repository: Option<String>,
    /// The blob concerned; `None` for findings about files that are not blobs.
    pub digest: Option<Digest>,
    /// The chain of descriptors from index.json; empty for a blob nothing references and
    /// for file-level findings.
    pub path: Vec<Link>,
    /// The file concerned, relative to its registry (or layout) root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// What is wrong, and how to fix it.
    pub message: String,
}

/// Counters of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Repositories checked.
    pub repositories: usize,
    /// Manifests and indexes parsed.
    pub documents: usize,
    /// Blob files seen (a file hard-linked into three repositories counts three times).
    pub blob_files: usize,
    /// Distinct files (inodes) hashed; a blob shared through the pool is hashed once.
    pub blobs_hashed: usize,
    /// Bytes hashed.
    pub bytes_hashed: u64,
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Findings of severity info.
    pub info: usize,
}

/// The report of `wharf verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// What was verified, one entry per argument (or the registry root).
    pub scope: Vec<String>,
    /// False with `--quick`: no blob was hashed.
    pub hashed: bool,
    /// How file bytes reached the hasher.
    pub io: IoMode,
    /// Hashing threads used.
    pub jobs: usize,
    /// What was checked, and how many findings of each severity.
    pub counts: Counts,
    /// Wall-clock time of the run, in seconds.
    pub seconds: f64,
    /// Bytes hashed per second of wall-clock time.
    pub bytes_per_second: f64,
    /// The problems found, sorted; empty when the registry is sound.
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// True when verify found no errors and no warnings (info findings are allowed): the
    /// condition under which `wharf verify` exits 0.
    pub fn is_clean(&self) -> bool {
        self.counts.errors == 0 && self.counts.warnings == 0
    }
}

impl VerifyReport {
    /// 1 when there is an error or a warning, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.counts.errors + self.counts.warnings > 0 { 1 } else { 0 }
    }
}

/// Which manifests of a repository to check.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// Everything index.json lists, plus the files-level checks (strays, unreferenced
    /// blobs, sidecar).
    All,
    /// These references' closures and their referrers.
    Refs(Vec<Reference>),
}

/// One repository to check.
struct Unit {
    reg: usize,
    name: Option<RepoName>,
    dir: PathBuf,
    selection: Selection,
}

/// An opened registry (or layout) and whether the whole of it is in scope.
struct OpenReg {
    registry: Registry,
    whole: bool,
    _lock: Option<LockGuard>,
}

/// Identity of a file: the same inode under several names is one file, hashed once.
pub(crate) type FileKey = (u64, u64);

/// A blob file seen somewhere, and who owns it (for findings): blob `blob` of the walk
/// (or pool) `origin`, which names its repository, its file and its chain.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub origin: u32,
    /// The blob's index in its walk ([`walk::NONE`] for the pool: no chain).
    pub blob: u32,
    pub digest: Digest,
}

/// Where owners come from: a repository's walk, or a registry's pool.
pub(crate) struct Origin {
    pub repository: Option<String>,
    pub registry_root: PathBuf,
    /// The `blobs` directory (`blobs/sha256/<hex>` below it).
    pub blobs_root: PathBuf,
    /// The chains that first reached the walk's blobs (empty for the pool).
    pub chains: walk::Chains,
}

impl Origin {
    fn path(&self, digest: &Digest) -> PathBuf {
        walk::blob_path(&self.blobs_root, digest)
    }

    /// The blob's file, relative to its registry (or layout) root.
    fn file(&self, digest: &Digest) -> String {
        let p = self.path(digest);
        p.strip_prefix(&self.registry_root).unwrap_or(&p).display().to_string()
    }

    fn chain(&self, blob: u32) -> Vec<Link> {
        self.chains.chain(blob)
    }
}

/// What the run learned about one file.
enum FileResult {
    /// The digest, and the first bytes when a layer check needs them (`None` if they
    /// could not be read again).
    Hashed(Digest, Option<Vec<u8>>),
    /// `--quick`: only the first bytes were read.
    Head(Vec<u8>),
    Failed(String),
}

/// The file behind a blob of a repository (its path is [`walk::blob_path`]).
#[derive(Debug, Clone)]
pub(crate) struct BlobFile {
    pub size: u64,
    pub key: FileKey,
}

/// What the walk found that only hashing can settle.
#[derive(Default)]
pub(crate) struct Pending {
    /// The walks and pools owners refer to.
    pub origins: Vec<Origin>,
    /// Every blob file seen, with its identity and size, in the order seen: the same file
    /// (identity) under several owners is hashed once, from its first owner's path.
    pub files: Vec<(FileKey, u64, Owner)>,
    /// Results already known (documents hashed while being parsed).
    pub done: HashMap<FileKey, Digest>,
    /// Layers whose bytes must agree with their media type, checked on the head bytes.
    pub layer_checks: Vec<walk::LayerCheck>,
    /// Blobs that are unreferenced, reported as info unless their content is wrong.
    pub unreferenced: Vec<Owner>,
}

/// Runs verify. `root` is the registry root (opened only when an argument needs it);
/// `args` are REPO, REF or PATH arguments (none: the whole registry).
pub fn run(root: &Path, args: &[String], opts: &VerifyOptions, wait: &LockWait<'_>) -> Result<VerifyReport> {
    let started = Instant::now();
    let (regs, units, scope) = match resolve_targets(root, args, wait) {
        Ok(t) => t,
        // The registry cannot even be opened without following a link (registry.json,
        // .wharf, the lock): that is the finding.
        Err(Error::SpecialFile { path, kind }) => return Ok(special_only(root, opts, &path, kind, started)),
        Err(e) => return Err(e),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} hashing threads: {e}", opts.jobs.unwrap_or(0))))?;
    let jobs = pool.current_num_threads();

    let mut findings = Vec::new();
    let mut pending = Pending::default();
    let mut counts = Counts::default();
    let mut seen_units = BTreeSet::new();
    let mut held: Vec<Vec<Digest>> = vec![Vec::new(); regs.len()];
    let mut sig_jobs = Vec::new();
    for unit in &units {
        if !seen_units.insert((unit.reg, unit.dir.clone(), format!("{:?}", unit.selection))) {
            continue;
        }
        let reg = &regs[unit.reg];
        let mut w = walk::RepoWalk::new(&reg.registry, unit.name.as_ref(), &unit.dir, opts.quick);
        w.run(&unit.selection)?;
        counts.repositories += 1;
        counts.documents += w.documents;
        counts.blob_files += w.blob_files;
        findings.append(&mut w.findings);
        if reg.whole && reg.registry.pool().is_some() {
            held[unit.reg].extend(w.blob_digests());
        }
        w.into_pending(&mut pending);
        if !opts.keys.is_empty() {
            sigs::jobs_of(&unit.dir, unit.name.as_ref(), &unit.selection, &mut sig_jobs);
        }
    }
    for h in &mut held {
        h.sort_unstable();
        h.dedup();
    }
    let mut trash_held: BTreeMap<(String, Digest), String> = BTreeMap::new();
    let mut special_roots: BTreeSet<(usize, PathBuf)> = BTreeSet::new();
    for unit in &units {
        special_roots.insert((unit.reg, unit.dir.clone()));
    }
    for (i, reg) in regs.iter().enumerate().filter(|(_, r)| r.whole) {
        special_roots.insert((i, reg.registry.root().to_path_buf()));
    }
    let mut special_seen = BTreeSet::new();
    for (i, dir) in &special_roots {
        special_files(regs[*i].registry.root(), dir, &mut special_seen, &mut findings);
    }
    for (i, reg) in regs.iter().enumerate().filter(|(_, r)| r.whole) {
        registry_checks(&reg.registry, &held[i], &mut findings, &mut pending)?;
        trash_holds(&reg.registry, &mut trash_held);
    }

    // Group the files by identity (stable: each file's owners in the order seen, and
    // its first owner's path is the one read).
    pending.files.sort_by_key(|f| f.0);
    let groups: Vec<std::ops::Range<usize>> = {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=pending.files.len() {
            if i == pending.files.len() || pending.files[i].0 != pending.files[start].0 {
                out.push(start..i);
                start = i;
            }
        }
        out
    };
    let first_path = |g: &std::ops::Range<usize>| {
        let o = &pending.files[g.start].2;
        pending.origins[o.origin as usize].path(&o.digest)
    };

    // Hash every distinct file once, largest first, on the pool.
    let need_head: std::collections::HashSet<FileKey> = pending.layer_checks.iter().map(|c| c.key).collect();
    let mut results: HashMap<FileKey, FileResult> = HashMap::new();
    counts.blobs_hashed = pending.done.len();
    let mut todo: Vec<(FileKey, u64, &std::ops::Range<usize>)> = Vec::new();
    for g in &groups {
        let (key, size, _) = &pending.files[g.start];
        match pending.done.get(key) {
            Some(d) => {
                counts.bytes_hashed += size;
                // A document read by the walk that is also checked as a layer: its head
                // is read again (the walk keeps no bytes).
                let head = need_head.contains(key).then(|| walk::read_head(&first_path(g), HEAD_BYTES).ok()).flatten();
                results.insert(*key, FileResult::Hashed(d.clone(), head));
            }
            None => todo.push((*key, *size, g)),
        }
    }
    if opts.quick {
        findings.append(&mut pool.install(|| sigs::check_all(&sig_jobs, &opts.keys, opts.require_signed)));
        // No hashing: read the first bytes of the layers whose magic is checked.
        for (k, _, g) in todo.iter().filter(|(k, _, _)| need_head.contains(k)) {
            let r = match walk::read_head(&first_path(g), HEAD_BYTES) {
                Ok(head) => FileResult::Head(head),
                Err(e) => FileResult::Failed(e.to_string()),
            };
            results.insert(*k, r);
        }
    } else {
        let total: u64 = todo.iter().map(|(_, size, _)| size).sum();
        let bar = Bar::bytes(opts.progress, "verifying".to_string(), Some(total));
        let tick = |n: u64| bar.inc(n);
        let job_list: Vec<hash::HashJob> = todo
            .iter()
            .map(|(k, size, g)| {
                let head = if need_head.contains(k) { HEAD_BYTES } else { 0 };
                hash::HashJob { path: first_path(g), size: *size, head }
            })
            .collect();
        // Signature checks run beside the hashing, on the same pool.
        let (hashed, mut sig_findings) = pool.install(|| {
            rayon::join(
                || hash::hash_files(&job_list, opts.io, &tick),
                || sigs::check_all(&sig_jobs, &opts.keys, opts.require_signed),
            )
        });
        findings.append(&mut sig_findings);
        drop(job_list);
        bar.finish();
        for ((k, _, _), r) in todo.iter().zip(hashed) {
            let r = match r {
                Ok(fh) => {
                    counts.blobs_hashed += 1;
                    counts.bytes_hashed += fh.len;
                    FileResult::Hashed(fh.digest, Some(fh.head))
                }
                Err(e) => FileResult::Failed(e.to_string()),
            };
            results.insert(*k, r);
        }
    }
    drop(todo);

    // Settle what hashing decides: content digests, layer magic, unreferenced blobs.
    let mut bad_content: BTreeSet<(Option<String>, Digest)> = BTreeSet::new();
    for g in &groups {
        let k = &pending.files[g.start].0;
        let (kind, message) = match results.get(k) {
            Some(FileResult::Hashed(actual, _)) => (
                Kind::DigestMismatch,
                format!(
                    "content hashes to {actual}, not to the digest it is stored under; restore the blob from a good copy or re-import the image"
                ),
            ),
            Some(FileResult::Failed(e)) => (Kind::Unreadable, format!("could not read the blob: {e}")),
            _ => continue,
        };
        for (_, _, o) in &pending.files[g.clone()] {
            if let Some(FileResult::Hashed(actual, _)) = results.get(k)
                && actual == &o.digest
            {
                continue;
            }
            let origin = &pending.origins[o.origin as usize];
            bad_content.insert((origin.repository.clone(), o.digest.clone()));
            findings.push(Finding {
                severity: Severity::Error,
                kind,
                repository: origin.repository.clone(),
                digest: Some(o.digest.clone()),
                path: origin.chain(o.blob),
                file: Some(origin.file(&o.digest)),
                message: message.clone(),
            });
        }
    }
    for check in &pending.layer_checks {
        let head = match results.get(&check.key) {
            Some(FileResult::Hashed(_, Some(head))) | Some(FileResult::Head(head)) => head,
            _ => continue,
        };
        let o = &check.owner;
        let origin = &pending.origins[o.origin as usize];
        if bad_content.contains(&(origin.repository.clone(), o.digest.clone())) {
            continue;
        }
        let media_type = origin.chains.media_type(o.blob);
        if let Some(f) = walk::judge(media_type, head, &origin.repository, &o.digest, || origin.chain(o.blob)) {
            findings.push(f);
        }
    }
    for o in &pending.unreferenced {
        let origin = &pending.origins[o.origin as usize];
        if bad_content.contains(&(origin.repository.clone(), o.digest.clone())) {
            continue;
        }
        let trash = origin.repository.as_ref().and_then(|r| trash_held.get(&(r.clone(), o.digest.clone())));
        let (kind, message) = match trash {
            Some(id) => (
                Kind::KeptByTrash,
                format!(
                    "index.json no longer reaches this blob, but soft-deleted item {id} holds it; `wharf deleted` lists it, `wharf restore` brings it back"
                ),
            ),
            None => (
                Kind::UnreferencedBlob,
                "nothing reachable from index.json references this blob; `wharf gc` removes it".to_string(),
            ),
        };
        findings.push(Finding {
            severity: Severity::Info,
            kind,
            repository: origin.repository.clone(),
            digest: Some(o.digest.clone()),
            path: Vec::new(),
            file: Some(origin.file(&o.digest)),
            message,
        });
    }

    findings.sort_by(|a, b| {
        (a.severity, &a.repository, a.kind, &a.digest, &a.file, a.path.len(), &a.message).cmp(&(
            b.severity,
            &b.repository,
            b.kind,
            &b.digest,
            &b.file,
            b.path.len(),
            &b.message,
        ))
    });
    findings.dedup();
    for f in &findings {
        match f.severity {
            Severity::Error => counts.errors += 1,
            Severity::Warning => counts.warnings += 1,
            Severity::Info => counts.info += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes_per_second = if seconds > 0.0 { counts.bytes_hashed as f64 / seconds } else { 0.0 };
    Ok(VerifyReport { scope, hashed: !opts.quick, io: opts.io, jobs, counts, seconds, bytes_per_second, findings })
}

/// True when `arg` names a directory that is an OCI layout or a wharf registry.
fn is_layout_or_registry(arg: &str) -> bool {
    let p = Path::new(arg);
    p.join(OCI_LAYOUT_FILE).is_file() || p.join(STATE_DIR).join(CONFIG_FILE).is_file()
}

/// Tells PATH arguments from REPO and REF arguments, opens what they need, takes the
/// shared lock of each registry. See docs/VERIFY.md ("Arguments") for the rule.
fn resolve_targets(
    root: &Path,
    args: &[String],
    wait: &LockWait<'_>,
) -> Result<(Vec<OpenReg>, Vec<Unit>, Vec<String>)> {
    let mut regs: Vec<OpenReg> = Vec::new();
    let mut units = Vec::new();
    let mut scope = Vec::new();
    let mut root_idx: Option<usize> = None;
    let open = |path: &Path, whole: bool, regs: &mut Vec<OpenReg>| -> Result<usize> {
        let registry = Registry::open(path)?;
        let lock = registry.lock_shared(wait)?;
        regs.push(OpenReg { registry, whole, _lock: lock });
        Ok(regs.len() - 1)
    };
    let add_whole = |idx: usize, regs: &Vec<OpenReg>, units: &mut Vec<Unit>| -> Result<()> {
        let r = &regs[idx].registry;
        // Links and special files in the tree are findings (special_files), not errors.
        for name in r.scan_tree()?.repositories {
            let dir = r.repo_dir(&name)?;
            units.push(Unit { reg: idx, name: Some(name), dir, selection: Selection::All });
        }
        Ok(())
    };
    if args.is_empty() {
        let idx = open(root, true, &mut regs)?;
        add_whole(idx, &regs, &mut units)?;
        scope.push(format!("registry {}", root.display()));
        return Ok((regs, units, scope));
    }
    for arg in args {
        let explicit_path = arg.starts_with('/') || arg.starts_with('.') || arg.ends_with('/');
        let parsed = if explicit_path { None } else { Reference::parse_loose(arg).ok() };
        let in_root = match &parsed {
            Some(r) => {
                let idx = match root_idx {
                    Some(i) => Some(i),
                    None if Registry::open(root).is_ok() => {
                        let i = open(root, false, &mut regs)?;
                        root_idx = Some(i);
                        Some(i)
                    }
                    None => None,
                };
                idx.filter(|&i| regs[i].registry.repo_exists(&r.repo)).map(|i| (i, r.clone()))
            }
            None => None,
        };
        match in_root {
            Some((idx, r)) => {
                let dir = regs[idx].registry.repo_dir(&r.repo)?;
                let selection = if r.tag.is_none() && r.digest.is_none() {
                    scope.push(format!("repository {}", r.repo));
                    Selection::All
                } else {
                    scope.push(format!("reference {r}"));
                    Selection::Refs(vec![r.clone()])
                };
                units.push(Unit { reg: idx, name: Some(r.repo.clone()), dir, selection });
            }
            None if explicit_path || is_layout_or_registry(arg) => {
                let idx = open(Path::new(arg), true, &mut regs)?;
                add_whole(idx, &regs, &mut units)?;
                scope.push(format!("layout {arg}"));
                if let RegistryKind::Root = regs[idx].registry.kind() {
                    scope.pop();
                    scope.push(format!("registry {arg}"));
                }
            }
            None => {
                return Err(match parsed {
                    Some(r) if root_idx.is_some() => Error::RepoNotFound { repo: r.repo.to_string() },
                    Some(_) => Error::Usage(format!(
                        "`{arg}` is neither a repository of the registry at {} (no registry there) nor a directory holding an OCI layout",
                        root.display()
                    )),
                    None => Error::Usage(format!(
                        "`{arg}` is neither a repository or reference (REPO, REPO:TAG, REPO@DIGEST) nor a directory holding an OCI layout (oci-layout) or a registry"
                    )),
                });
            }
        }
    }
    Ok((regs, units, scope))
}

/// The blobs each soft-deleted item holds, keyed by (repository, digest), with the
/// trash record's id. Best effort: it only refines info findings, so a record or closure
/// that cannot be read holds nothing here.
fn trash_holds(registry: &Registry, out: &mut BTreeMap<(String, Digest), String>) {
    let Ok(records) = registry.trash_records() else { return };
    for rec in records {
        let Ok(name) = rec.repo_name() else { continue };
        let Ok(repo) = registry.open_repo(&name, rec.deleted_at) else { continue };
        for item in &rec.items {
            let Ok(closure) = repo.closure(&item.digest, &item.media_type, true) else { continue };
            for b in closure {
                out.entry((name.to_string(), b.digest)).or_insert_with(|| rec.id.clone());
            }
        }
    }
}

/// Checks of a registry as a whole: the pool (strays, content, blobs no repository
/// holds) and staging areas left by dead processes.
///
/// `held` is every digest some repository of the registry holds.
fn registry_checks(
    registry: &Registry,
    held: &[Digest],
    findings: &mut Vec<Finding>,
    pending: &mut Pending,
) -> Result<()> {
    let Some(pool) = registry.pool() else { return Ok(()) };
    let root = registry.root();
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let (blobs, strays) = match walk::list_keyed(pool.root()) {
        Ok(l) => l,
        Err(e) => {
            findings.push(file_finding(Severity::Error, Kind::Unreadable, None, None, rel(pool.root()), e.to_string()));
            return Ok(());
        }
    };
    for s in &strays {
        findings.push(file_finding(
            Severity::Warning,
            Kind::StrayFile,
            None,
            None,
            rel(s),
            "not a blob (its name is not a sha256 digest); move it out of blobs/".into(),
        ));
    }
    let origin = u32::try_from(pending.origins.len()).expect("fewer than 2^32 registries");
    pending.origins.push(Origin {
        repository: None,
        registry_root: root.to_path_buf(),
        blobs_root: pool.root().to_path_buf(),
        chains: walk::Chains::default(),
    });
    for (digest, b) in blobs {
        let owner = Owner { origin, blob: walk::NONE, digest };
        if held.binary_search(&owner.digest).is_err() {
            pending.unreferenced.push(owner.clone());
        }
        pending.files.push((b.key, b.size, owner));
    }
    // A staging root that is a link is reported by special_files; nothing to scan.
    let staging = crate::store::staging::scan(&registry.staging_root()).unwrap_or_default();
    for s in staging.into_iter().filter(|s| !s.live) {
        findings.push(file_finding(
            Severity::Info,
            Kind::StaleStaging,
            None,
            None,
            rel(&s.dir),
            "staging area of an import whose process is gone; `wharf gc` removes it".into(),
        ));
    }
    Ok(())
}

/// One error finding for every link or special file below `dir` (the directory itself
/// included), walked without following links; `seen` keeps paths reported once.
fn special_files(root: &Path, dir: &Path, seen: &mut BTreeSet<PathBuf>, findings: &mut Vec<Finding>) {
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut found: Vec<(PathBuf, FileKind)> = Vec::new();
    match crate::store::fs::read_dir_if_exists(dir) {
        Ok(Some(d)) => {
            let walked = d.walk(&mut |_, e| {
                if e.kind.is_special() {
                    found.push((e.path.clone(), e.kind));
                }
                Ok(())
            });
            if let Err(Error::SpecialFile { path, kind }) = walked {
                found.push((path, kind));
            }
        }
        Ok(None) => {}
        Err(Error::SpecialFile { path, kind }) => found.push((path, kind)),
        Err(e) => findings.push(file_finding(Severity::Error, Kind::Unreadable, None, None, rel(dir), e.to_string())),
    }
    for (path, kind) in found {
        if seen.insert(path.clone()) {
            findings.push(special_finding(root, &path, kind));
        }
    }
}

fn special_finding(root: &Path, path: &Path, kind: FileKind) -> Finding {
    let rel = path.strip_prefix(root).unwrap_or(path).display().to_string();
    let message = format!("{} where wharf expects a regular file or directory; {}", kind.describe(), kind.advice());
    file_finding(Severity::Error, Kind::SpecialFile, None, None, rel, message)
}

/// The report when the registry itself cannot be opened without following a link.
fn special_only(root: &Path, opts: &VerifyOptions, path: &Path, kind: FileKind, started: Instant) -> VerifyReport {
    let counts = Counts { errors: 1, ..Counts::default() };
    VerifyReport {
        scope: vec![format!("registry {}", root.display())],
        hashed: false,
        io: opts.io,
        jobs: 0,
        counts,
        seconds: started.elapsed().as_secs_f64(),
        bytes_per_second: 0.0,
        findings: vec![special_finding(root, path, kind)],
    }
}

pub(crate) fn file_finding(
    severity: Severity,
    kind: Kind,
    repository: Option<String>,
    digest: Option<Digest>,
    file: String,
    message: String,
) -> Finding {
    Finding { severity, kind, repository, digest, path: Vec::new(), file: Some(file), message }
}
