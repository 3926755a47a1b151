//! `wharf pull SOURCE...`: images from a registry into the local registry, through
//! import's machinery.
//!
//! Receive: manifests are fetched whole (under import's size cap), checked against the
//! digest the reference or the registry names, and staged; the blobs they list are
//! streamed in parallel (`--jobs`) into this process's flock-owned staging area, hashed
//! while written, and checked against their descriptors; blobs the registry already holds
//! are pinned, not fetched. Referrers come through the referrers API or the
//! `sha256-<hex>` fallback tag. Complete blobs left in the staging area of a dead process
//! (an interrupted pull) are taken from there, re-hashed, rather than downloaded again.
//! Nothing in the registry changes and no lock is held.
//! Commit: import's commit, under the exclusive lock, with its lock and tag checks, blobs
//! first, then index.json. Any error before commit leaves the registry byte-identical.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use super::Ctx;
use super::import::content::{Blob, Content, MAX_JSON, Possession, Sink};
use super::import::{self, Found, Name, Origin, TagOutcome};
use super::progress::Bar;
use crate::error::{Error, Result};
use crate::model::check::MAX_DEPTH;
use crate::model::signature;
use crate::model::{Descriptor, Digest, Document, MediaKind, Platform, RepoName, Role, Tag, media};
use crate::registry::RegistryKind;
use crate::remote::client::{Checked, MAX_ATTEMPTS};
use crate::remote::origin::TIMEOUT_ATTEMPTS;
use crate::remote::{Client, ConnectOptions, RemoteRef};
use crate::store::{BlobStore, Staging};

/// How many referrer links pull follows below an image (a signature of an attestation of
/// an SBOM is 3).
pub const MAX_REFERRER_DEPTH: usize = 16;
/// How many referrers, at all levels, pull takes along with one image.
pub const MAX_REFERRERS: usize = 1000;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub sources: Vec<String>,
    pub repo: Option<RepoName>,
    pub tags: Vec<Tag>,
    pub all_tags: bool,
    pub platforms: Vec<Platform>,
    pub no_referrers: bool,
    pub force: bool,
    pub scoped: bool,
    pub jobs: usize,
    pub connect: ConnectOptions,
    /// Refuse content without a valid signature by the gate's keys arriving with it.
    pub gate: Option<crate::ops::signatures::SignatureGate>,
    /// A containers-policy.json(5) to apply to each pulled image.
    pub policy: Option<crate::ops::signatures::PullPolicy>,
}

/// One image a pull stored.
#[derive(Debug, Serialize)]
pub struct PulledImage {
    /// The remote reference it came from (`HOST/REPO:TAG` or `HOST/REPO@DIGEST`).
    pub source: String,
    /// The local repository it went into.
    pub repository: RepoName,
    /// The root manifest's digest (the registry's, byte for byte).
    pub digest: Digest,
    /// The root manifest's media type.
    pub media_type: String,
    /// How the stored root relates to the remote one (as is, a platform selected out
    /// of an index, or a new index over the selected platforms).
    pub origin: Origin,
    /// Its platforms (`linux/amd64`, …); empty when it declares none.
    pub platforms: Vec<String>,
    /// Tags set; empty means the manifest was stored untagged.
    pub tags: Vec<TagOutcome>,
    /// Referrers pulled along with it.
    pub referrers: Vec<Digest>,
}

/// The report of [`Registry::pull`](crate::Registry::pull) (`wharf pull`).
#[derive(Debug, Serialize)]
pub struct PullReport {
    /// The images stored, in the order of the sources.
    pub images: Vec<PulledImage>,
    /// Manifests committed (roots, children, referrers).
    pub manifests: usize,
    /// Blobs downloaded.
    pub downloaded_blobs: usize,
    /// Their bytes.
    pub downloaded_bytes: u64,
    /// Blobs the registry already held, not fetched.
    pub reused_blobs: usize,
    /// Their bytes.
    pub reused_bytes: u64,
    /// Blobs taken from the staging area of an interrupted pull instead of downloaded.
    pub resumed_blobs: usize,
    /// Requests sent again after a 5xx, 429 (waiting as `Retry-After` asks) or a
    /// connection failure.
    pub retries: u64,
    /// Notes for the user: what was skipped, and why.
    pub notes: Vec<String>,
}

/// A source after the blobs of its image have been received: what import's
/// [`import::oci::select_root`] reads.
struct Received {
    blobs: BTreeMap<Digest, Blob>,
}

impl Content for Received {
    fn label(&self) -> String {
        "registry".to_string()
    }
    fn member(&mut self, _sink: &mut Sink<'_>, _path: &str) -> Result<Option<Blob>> {
        Ok(None)
    }
    fn blob(&mut self, _sink: &mut Sink<'_>, digest: &Digest, size: u64) -> Result<Option<Blob>> {
        let Some(b) = self.blobs.get(digest) else { return Ok(None) };
        if b.size != size {
            return Err(Error::SizeMismatch { what: format!("the blob {digest}"), expected: size, actual: b.size });
        }
        Ok(Some(b.clone()))
    }
    fn small_blobs(&mut self, _sink: &mut Sink<'_>, _max: u64) -> Result<Vec<Blob>> {
        Ok(Vec::new())
    }
}

/// Counters shared by the download workers.
#[derive(Default)]
struct Tally {
    downloaded: AtomicUsize,
    downloaded_bytes: AtomicU64,
    reused: AtomicUsize,
    reused_bytes: AtomicU64,
    resumed: AtomicUsize,
}

/// One image being received from one remote repository.
struct Fetch<'a> {
    client: &'a Client,
    repo: &'a str,
    platforms: &'a [Platform],
    blobs: BTreeMap<Digest, Blob>,
    /// Blobs (configs, layers) still to download: digest → size.
    pending: BTreeMap<Digest, u64>,
    /// Manifests received, in the order met (for referrers).
    manifests: Vec<Digest>,
    tally: &'a Tally,
    /// Blob stores of staging areas whose process died (an interrupted pull or import).
    leftovers: &'a [BlobStore],
}

fn matches_any(sel: &[Platform], p: Option<&Platform>) -> bool {
    sel.is_empty() || p.is_some_and(|p| sel.iter().any(|s| s.matches(p)))
}

impl<'a> Fetch<'a> {
    /// Fetches the manifest `reference`, checks its digest (`claimed`, else the
    /// registry's header), stages it, and walks its children.
    fn manifest(
        &mut self,
        sink: &mut Sink<'_>,
        reference: &str,
        claimed: Option<&Digest>,
        size: Option<u64>,
        depth: usize,
    ) -> Result<Descriptor> {
        let shown = if reference.starts_with("sha256:") {
            format!("{}@{reference}", self.repo)
        } else {
            format!("{}:{reference}", self.repo)
        };
        // Checked before the fetch: an index nested without end costs at most 64
        // requests and 64 stack frames, as import's limit allows.
        if depth > MAX_DEPTH {
            return Err(Error::refused(format!(
                "registry {}: the manifest {shown} is nested deeper than {MAX_DEPTH} levels of indexes; wharf does not follow it further",
                self.client.host
            )));
        }
        let m = self.client.get_manifest(self.repo, reference, MAX_JSON)?.ok_or_else(|| Error::NotFound {
            what: format!("registry {}: the manifest {shown}", self.client.host),
            detail: "does not exist".into(),
        })?;
        let actual = Digest::of(&m.bytes);
        let what = format!("registry {}: the manifest {shown}", self.client.host);
        for want in [claimed, m.header_digest.as_ref()].into_iter().flatten() {
            if want != &actual {
                return Err(Error::DigestMismatch {
                    what: what.clone(),
                    path: None,
                    expected: want.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if let Some(s) = size
            && s != m.bytes.len() as u64
        {
            return Err(Error::SizeMismatch { what, expected: s, actual: m.bytes.len() as u64 });
        }
        let doc = Document::parse(&m.bytes, &m.media_type).map_err(|e| {
            Error::remote(&self.client.host, format!("the manifest {shown}: not a manifest or index: {e}"))
        })?;
        if doc.kind == MediaKind::Schema1 {
            return Err(Error::refused(format!(
                "{what}: a Docker schema 1 manifest; wharf does not pull schema 1 (the registry should serve schema 2)"
            )));
        }
        let media_type = doc
            .media_type
            .clone()
            .filter(|t| MediaKind::of(t).has_children())
            .or_else(|| Some(m.media_type.clone()).filter(|t| MediaKind::of(t).has_children()))
            .unwrap_or_else(|| {
                if doc.kind == MediaKind::Index {
                    media::OCI_INDEX.to_string()
                } else {
                    media::OCI_MANIFEST.to_string()
                }
            });
        let mut r = &m.bytes[..];
        let blob = sink.receive(&mut r, m.bytes.len() as u64, Some(&actual), &what)?;
        self.blobs.insert(actual.clone(), blob);
        self.manifests.push(actual.clone());
        let desc = Descriptor::new(&media_type, actual, m.bytes.len() as u64);
        self.children(sink, &doc, depth)?;
        Ok(desc)
    }

    /// The children of the document at `depth` (the root is 1).
    fn children(&mut self, sink: &mut Sink<'_>, doc: &Document, depth: usize) -> Result<()> {
        let top = depth == 1;
        for child in doc.children() {
            if child.role == Role::Subject {
                continue;
            }
            let Some(d) = child.descriptor else { continue };
            if self.blobs.contains_key(&d.digest) || self.pending.contains_key(&d.digest) {
                continue;
            }
            if d.kind().has_children() {
                // A platform the user did not select is not fetched (import's selection
                // then sees it absent, which it allows for unselected platforms).
                if top && doc.kind == MediaKind::Index && !matches_any(self.platforms, d.platform.as_ref()) {
                    continue;
                }
                self.manifest(sink, &d.digest.to_string(), Some(&d.digest), Some(d.size), depth + 1)?;
            } else if let Some(b) = sink.reuse(&d.digest, d.size)? {
                self.tally.reused.fetch_add(1, Ordering::Relaxed);
                self.tally.reused_bytes.fetch_add(b.size, Ordering::Relaxed);
                self.blobs.insert(d.digest.clone(), b);
            } else {
                self.pending.insert(d.digest.clone(), d.size);
            }
        }
        Ok(())
    }

    /// Downloads the pending blobs, `jobs` at a time, each into its own staged file.
    fn download(&mut self, staging: &Staging, existing: &BlobStore, jobs: usize, bar: &Bar) -> Result<()> {
        let work: Vec<(Digest, u64)> = std::mem::take(&mut self.pending).into_iter().collect();
        bar.inc_total(work.iter().map(|(_, s)| *s).sum());
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Result<Blob>>> = Mutex::new(Vec::new());
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..jobs.clamp(1, 64).min(work.len().max(1)) {
                s.spawn(|| {
                    let mut sink = Sink::new(staging, existing.clone());
                    loop {
                        if failed.load(Ordering::Relaxed) {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((d, size)) = work.get(i) else { return };
                        let r = self.one_blob(&mut sink, d, *size, bar);
                        if let Ok((b, resumed)) = &r {
                            let tally = self.tally;
                            if *resumed {
                                tally.resumed.fetch_add(1, Ordering::Relaxed);
                            } else {
                                tally.downloaded.fetch_add(1, Ordering::Relaxed);
                                tally.downloaded_bytes.fetch_add(b.size, Ordering::Relaxed);
                            }
                        } else {
                            failed.store(true, Ordering::Relaxed);
                        }
                        results.lock().expect("results").push(r.map(|(b, _)| b));
                    }
                });
            }
        });
        let mut errs = Vec::new();
        for r in results.into_inner().expect("results") {
            match r {
                Ok(b) => {
                    self.blobs.insert(b.digest.clone(), b);
                }
                Err(e) => errs.push(e),
            }
        }
        match errs.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// One blob, retried when the transfer breaks (not when the bytes are wrong). A
    /// complete copy left in the staging area of an interrupted pull is taken (re-hashed)
    /// instead of downloading it again.
    /// The bar advances with the bytes as they arrive; the bytes of a broken transfer are
    /// added to its total when the blob is fetched again.
    fn one_blob(&self, sink: &mut Sink<'_>, digest: &Digest, size: u64, bar: &Bar) -> Result<(Blob, bool)> {
        for area in self.leftovers {
            if area.size(digest).ok().flatten() == Some(size)
                && let Ok(f) = area.open(digest)
            {
                let what = format!("{} (left by an interrupted pull)", area.path(digest).display());
                let mut r = std::io::BufReader::with_capacity(super::import::content::CHUNK, f);
                if let Ok(b) = sink.receive(&mut r, size, Some(digest), &what) {
                    bar.inc(size);
                    return Ok((b, true));
                }
            }
        }
        let what = format!("registry {}: the blob {digest} of {}", self.client.host, self.repo);
        let mut attempt = 0;
        loop {
            let body = self.client.get_blob(self.repo, digest)?;
            let mut r =
                Checked { inner: Counting { inner: body, bar, n: 0 }, left: size, failed: false, timed_out: false };
            let got = sink.receive(&mut r, size, Some(digest), &what);
            // A registry that goes silent mid-body is given fewer chances than one that
            // breaks off: each silent attempt costs a whole read timeout.
            let cap = if r.timed_out { TIMEOUT_ATTEMPTS } else { MAX_ATTEMPTS };
            match got {
                Ok(b) => return Ok((b, false)),
                Err(_) if r.failed && attempt + 1 < cap => {
                    bar.inc_total(r.inner.n);
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100 << attempt.min(6)));
                }
                Err(e) if r.failed => {
                    let cause = match e {
                        Error::BadInput { what, .. } => what,
                        other => other.to_string(),
                    };
                    return Err(Error::remote(
                        &self.client.host,
                        format!("the blob {digest} of {}: {cause} (gave up after {cap} attempts)", self.repo),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A reader that advances the progress bar by every byte read.
struct Counting<'b, R> {
    inner: R,
    bar: &'b Bar,
    n: u64,
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.bar.inc(k as u64);
        self.n += k as u64;
        Ok(k)
    }
}

/// `wharf pull`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<PullReport> {
    if opts.sources.is_empty() {
        return Err(Error::Usage("pull needs at least one SOURCE (HOST[:PORT]/REPO[:TAG|@DIGEST])".into()));
    }
    let mut refs: Vec<RemoteRef> = Vec::new();
    for s in &opts.sources {
        refs.push(RemoteRef::parse(s)?);
    }
    let reg = ctx.registry;
    let existing = match reg.kind() {
        RegistryKind::Root => reg.pool().expect("a root has a pool"),
        RegistryKind::Layout(name) => BlobStore::new(reg.repo_dir(name)?.join("blobs")),
    };
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    for r in &refs {
        if !clients.contains_key(&r.host) {
            clients.insert(r.host.clone(), Client::new(&r.host, &opts.connect)?);
        }
    }
    let mut notes = Vec::new();
    if opts.all_tags {
        let mut expanded = Vec::new();
        for r in refs {
            if r.tag.is_some() || r.digest.is_some() {
                return Err(Error::Usage(format!(
                    "--all-tags takes repositories without a tag or digest; `{r}` names one"
                )));
            }
            let client = &clients[&r.host];
            let mut tags = client.tags(&r.repo)?;
            tags.sort();
            for t in tags {
                if signature::sig_tag_subject(&t).is_some() {
                    // cosign's signatures come with the images they sign.
                    continue;
                }
                if is_fallback_tag(&t) {
                    notes.push(format!(
                        "{}/{}:{t} is a referrers fallback tag; its referrers come with their subjects",
                        r.host, r.repo
                    ));
                    continue;
                }
                let tag = Tag::parse(&t)
                    .map_err(|e| Error::remote(&r.host, format!("{} lists the tag `{t}`: {e}", r.repo)))?;
                let mut x = r.clone();
                x.tag = Some(tag.clone());
                x.foreign.tag = Some(tag);
                expanded.push(x);
            }
        }
        refs = expanded;
        if refs.is_empty() {
            return Err(Error::refused("nothing to pull: the repositories have no tags"));
        }
    }
    // registries.conf: a blocked namespace is refused; mirrors are tried before the source.
    let mut sources: Vec<Vec<((String, bool), String)>> = Vec::new();
    let mut source_clients: BTreeMap<(String, bool), Client> = BTreeMap::new();
    for r in &refs {
        let settings = crate::remote::sysconf::registry_settings(&r.host, &r.repo)?;
        if settings.blocked {
            return Err(Error::refused(format!(
                "{}/{} is blocked by {} (blocked = true for `{}`)",
                r.host,
                r.repo,
                settings.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                settings.prefix.as_deref().unwrap_or(&r.host)
            )));
        }
        let mut list = Vec::new();
        for (host, repo, insecure) in crate::remote::sysconf::pull_sources(&settings, &r.host, &r.repo) {
            let key = (host, insecure);
            if !source_clients.contains_key(&key) {
                let mut c = opts.connect.clone();
                c.tls_insecure |= insecure;
                // The user's --creds are for the registries the user named: a mirror from
                // registries.conf finds its own credentials in the auth files, never the
                // source's password.
                if !refs.iter().any(|x| x.host == key.0) {
                    c.creds = None;
                }
                source_clients.insert(key.clone(), Client::new(&key.0, &c)?);
            }
            list.push((key, repo));
        }
        sources.push(list);
    }
    // Areas of dead processes: what an interrupted pull already received.
    let leftovers: Vec<BlobStore> = crate::store::staging::scan(&reg.staging_root())?
        .into_iter()
        .filter(|e| !e.live)
        .map(|e| BlobStore::new(e.dir.join("blobs")))
        .collect();
    let staging = ctx.create_staging()?;
    let possession = Possession::of(reg, ctx.now);
    let mut sink = Sink::new(&staging, existing.clone());
    sink.possession = Some(&possession);
    let tally = Tally::default();
    let bar = Bar::bytes(ctx.progress, "pulling".to_string(), Some(0));
    let import_opts = import::Options {
        sources: opts.sources.clone(),
        repo: opts.repo.clone(),
        tags: opts.tags.clone(),
        platforms: opts.platforms.clone(),
        force: opts.force,
        scoped: opts.scoped,
        gate: None,
    };
    let no_platform = import::Options { platforms: Vec::new(), ..import_opts.clone() };
    // source index → (image, referrers)
    let mut images: Vec<(String, Found, Vec<Found>)> = Vec::new();
    let mut sig_founds: BTreeMap<Digest, Found> = BTreeMap::new();
    for (r, candidates) in refs.iter().zip(&sources) {
        let mut next = 0;
        let (client, repo_used, mut f, desc) = loop {
            let ((host, insecure), repo) = &candidates[next];
            let client = &source_clients[&(host.clone(), *insecure)];
            let mut f = Fetch {
                client,
                repo,
                platforms: &opts.platforms,
                blobs: BTreeMap::new(),
                pending: BTreeMap::new(),
                manifests: Vec::new(),
                tally: &tally,
                leftovers: &leftovers,
            };
            let got = match f.manifest(&mut sink, &r.reference(), r.digest.as_ref(), None, 1) {
                Ok(desc) => f.download(&staging, &existing, opts.jobs, &bar).map(|()| desc),
                Err(e) => Err(e),
            };
            match got {
                Ok(desc) => break (client, repo.as_str(), f, desc),
                Err(e) if next + 1 < candidates.len() => {
                    notes.push(format!("mirror {host}/{repo} failed for {r} ({e}); trying the next source"));
                    next += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let manifests = f.manifests.clone();
        let mut content = Received { blobs: std::mem::take(&mut f.blobs) };
        let names = vec![Name { foreign: Some(r.foreign.clone()), tag: r.tag.clone() }];
        let Some(found) = import::oci::select_root(&mut content, &mut sink, desc, names, &import_opts, &mut notes)?
        else {
            continue;
        };
        let mut referrers = Vec::new();
        if !opts.no_referrers {
            let wanted: Vec<Digest> = manifests.into_iter().filter(|d| found.blobs.contains_key(d)).collect();
            let mut seen: BTreeSet<Digest> = BTreeSet::new();
            // (subject, how many referrer links below the image it is: the image is 0)
            let mut queue: Vec<(Digest, usize)> = wanted.into_iter().map(|d| (d, 0)).collect();
            while let Some((subject, level)) = queue.pop() {
                for d in list_referrers(client, repo_used, &subject, &mut notes)? {
                    if !seen.insert(d.digest.clone()) || found.blobs.contains_key(&d.digest) {
                        continue;
                    }
                    if level + 1 > MAX_REFERRER_DEPTH {
                        return Err(Error::refused(format!(
                            "registry {}: {r} has a chain of referrers (a referrer of a referrer …) longer than {MAX_REFERRER_DEPTH}; wharf does not follow it (--no-referrers pulls the image alone)",
                            r.host
                        )));
                    }
                    if seen.len() > MAX_REFERRERS {
                        return Err(Error::refused(format!(
                            "registry {}: {r} has more than {MAX_REFERRERS} referrers; wharf does not follow more (--no-referrers pulls the image alone)",
                            r.host
                        )));
                    }
                    let mut rf = Fetch {
                        client,
                        repo: repo_used,
                        platforms: &[],
                        blobs: BTreeMap::new(),
                        pending: BTreeMap::new(),
                        manifests: Vec::new(),
                        tally: &tally,
                        leftovers: &leftovers,
                    };
                    let mut desc = rf.manifest(&mut sink, &d.digest.to_string(), Some(&d.digest), Some(d.size), 1)?;
                    if !d.media_type.is_empty() && MediaKind::of(&d.media_type).has_children() {
                        desc.media_type = d.media_type.clone();
                    }
                    desc.artifact_type = d.artifact_type.clone();
                    rf.download(&staging, &existing, opts.jobs, &bar)?;
                    queue.push((d.digest.clone(), level + 1));
                    let mut content = Received { blobs: std::mem::take(&mut rf.blobs) };
                    if let Some(rfound) =
                        import::oci::select_root(&mut content, &mut sink, desc, Vec::new(), &no_platform, &mut notes)?
                    {
                        referrers.push(rfound);
                    }
                }
            }
        }
        // cosign's signature manifest (`sha256-<hex>.sig`), which travels with its image.
        if !opts.no_referrers || opts.gate.is_some() || opts.policy.is_some() {
            let tag = signature::sig_tag(&found.root.digest);
            if client.get_manifest(repo_used, &tag, MAX_JSON)?.is_some() {
                let mut sf = Fetch {
                    client,
                    repo: repo_used,
                    platforms: &[],
                    blobs: BTreeMap::new(),
                    pending: BTreeMap::new(),
                    manifests: Vec::new(),
                    tally: &tally,
                    leftovers: &leftovers,
                };
                let desc = sf.manifest(&mut sink, &tag, None, None, 1)?;
                sf.download(&staging, &existing, opts.jobs, &bar)?;
                let mut content = Received { blobs: std::mem::take(&mut sf.blobs) };
                if let Some(sfound) =
                    import::oci::select_root(&mut content, &mut sink, desc, Vec::new(), &no_platform, &mut notes)?
                {
                    sig_founds.insert(found.root.digest.clone(), sfound);
                }
            }
        }
        if let Some(pp) = &opts.policy {
            let tag = r.tag.as_ref().map(|t| t.to_string());
            let digest = r.digest.as_ref().map(|d| d.to_string());
            let pulled = crate::model::policy::Pulled {
                host: &r.host,
                repo: &r.repo,
                tag: tag.as_deref(),
                digest: digest.as_deref(),
            };
            crate::ops::signatures::policy_check(pp, &pulled, &found.root.digest, sig_founds.get(&found.root.digest))?;
        }
        images.push((r.to_string(), found, referrers));
    }
    bar.finish();
    if images.is_empty() {
        return Err(Error::refused("nothing to pull: no image matches the selected platform(s)"));
    }
    let mut opts_named = import_opts.clone();
    if let (RegistryKind::Layout(own), None) = (reg.kind(), &opts_named.repo) {
        opts_named.repo = Some(own.clone());
    }
    // The checks verify makes run on what was received, as for import: a pull never
    // commits content that `wharf verify` would report as an error.
    for (label, found, refs) in &images {
        notes.extend(import::vet::vet(found, label)?);
        for rf in refs {
            notes.extend(import::vet::vet(rf, label)?);
        }
    }
    let founds: Vec<Found> = images.iter().map(|(_, f, _)| f.clone()).collect();
    let mut plans = import::name_plans(founds, &opts_named)?;
    // Referrers go, untagged, into every repository their subject goes to.
    let mut extra = Vec::new();
    for p in &plans {
        for (_, f, refs) in &images {
            if f.root.digest == p.found.root.digest {
                for rf in refs {
                    extra.push(import::Plan { repo: p.repo.clone(), tags: Vec::new(), found: rf.clone() });
                }
            }
        }
    }
    for p in &plans {
        if let Some(sf) = sig_founds.get(&p.found.root.digest) {
            let tag = Tag::parse(&signature::sig_tag(&p.found.root.digest))?;
            extra.push(import::Plan { repo: p.repo.clone(), tags: vec![tag], found: sf.clone() });
        }
    }
    let mut seen_extra = BTreeSet::new();
    extra.retain(|p| seen_extra.insert((p.repo.clone(), p.found.root.digest.clone())));
    plans.extend(extra);
    if let Some(gate) = crate::ops::signatures::effective_gate(reg, opts.gate.as_ref())? {
        crate::ops::signatures::gate_plans(&gate, &plans)?;
    }
    let mut inner_notes = Vec::new();
    let committed = import::commit(ctx, &existing, &staging, plans, opts.force, &mut inner_notes)?;
    // import's note about untagged imports is about --tag; referrers are untagged by design.
    let referrer_digests: BTreeSet<Digest> = images
        .iter()
        .flat_map(|(_, _, r)| r.iter().map(|f| f.root.digest.clone()))
        .chain(sig_founds.values().map(|f| f.root.digest.clone()))
        .collect();
    notes.extend(inner_notes.into_iter().filter(|n| !referrer_digests.iter().any(|d| n.contains(&d.to_string()))));
    drop(staging);
    let mut out = Vec::new();
    for i in committed.images {
        if referrer_digests.contains(&i.digest) {
            continue;
        }
        let (source, refs) = images
            .iter()
            .find(|(_, f, _)| f.root.digest == i.digest)
            .map(|(s, _, r)| (s.clone(), r.iter().map(|x| x.root.digest.clone()).collect::<Vec<_>>()))
            .unwrap_or_default();
        out.push(PulledImage {
            source,
            repository: i.repository,
            digest: i.digest,
            media_type: i.media_type,
            origin: i.origin,
            platforms: i.platforms,
            tags: i.tags,
            referrers: refs,
        });
    }
    Ok(PullReport {
        images: out,
        manifests: committed.manifests,
        downloaded_blobs: tally.downloaded.load(Ordering::Relaxed),
        downloaded_bytes: tally.downloaded_bytes.load(Ordering::Relaxed),
        reused_blobs: tally.reused.load(Ordering::Relaxed),
        reused_bytes: tally.reused_bytes.load(Ordering::Relaxed),
        resumed_blobs: tally.resumed.load(Ordering::Relaxed),
        retries: clients.values().chain(source_clients.values()).map(Client::retries).sum(),
        notes,
    })
}

/// `sha256-<64 hex>`: a tag of the referrers tag schema.
pub fn is_fallback_tag(t: &str) -> bool {
    t.strip_prefix("sha256-").is_some_and(|h| Digest::from_hex(h).is_some())
}

/// The referrers of `subject`: through the API, else through the fallback tag.
fn list_referrers(client: &Client, repo: &str, subject: &Digest, notes: &mut Vec<String>) -> Result<Vec<Descriptor>> {
    if let Some(list) = client.referrers(repo, subject, MAX_JSON)? {
        return Ok(list);
    }
    let tag = format!("sha256-{}", subject.hex());
    let Some(m) = client.get_manifest(repo, &tag, MAX_JSON)? else { return Ok(Vec::new()) };
    match crate::model::IndexFile::parse(&m.bytes) {
        Ok(i) => Ok(i.manifests),
        Err(e) => {
            notes.push(format!(
                "registry {}: {repo}:{tag} is not an index ({e}); no referrers taken from it",
                client.host
            ));
            Ok(Vec::new())
        }
    }
}

#[cfg(all(test, feature = "cli"))]
mod progress_tests {
    use super::*;

    #[test]
    fn the_bar_moves_with_each_read_not_per_blob() {
        let bar = Bar::bytes(true, "pulling".into(), Some(10_000));
        let data = vec![7u8; 10_000];
        let mut r = Counting { inner: &data[..], bar: &bar, n: 0 };
        let mut buf = [0u8; 1000];
        assert_eq!(std::io::Read::read(&mut r, &mut buf).unwrap(), 1000);
        assert_eq!(bar.position(), 1000, "the bar moved by the bytes read, before the blob ended");
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert_eq!((bar.position(), r.n), (10_000, 10_000));
        bar.finish();
    }
}
