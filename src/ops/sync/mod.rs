//! `wharf sync FILE...`: keeps a declared set of images, Helm charts and files in step
//! with their sources (docs/SYNC.md).
//!
//! Plan, then apply. The plan resolves every entry: it lists tags (one request per
//! repository), filters them, and asks for each selected tag's manifest digest (one HEAD;
//! one GET instead when platforms are selected, since the stored root is then not the
//! registry's), and compares with the local tag: new, moved, unchanged, locked (a move
//! or prune the locks refuse), prune (with `--prune`). For new and moved tags it reads
//! the manifests to count the bytes to download (blobs the registry already holds are
//! not counted). `--dry-run` stops there.
//!
//! Apply: new and moved images are pulled by [`super::pull::run`] (with pull's checks,
//! referrers and resume), a repository's together in one atomic commit, falling back to
//! one image per commit when that fails (so each failure is the image's own); tags move
//! with `force` (the old manifest stays, untagged). Classic Helm charts are downloaded and stored by
//! import's chart reader (`NAME:VERSION`, as `wharf import chart.tgz`), files by
//! [`super::add::run`]. A failing entry stops the run (what was committed stays) unless
//! `keep_going`, which reports every failure and goes on.

pub mod http;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::{Digest, Document, MediaKind, Platform, RepoName, Role, Tag};
use crate::registry::TagChange;
use crate::remote::client::Client;
use crate::remote::{ConnectOptions, Credentials, RemoteRef};
use crate::store::BlobStore;
use spec::{ChartSource, Constraint, FileSource, SyncSpec, TagSelector, version_of};

/// The annotation a chart lists its images in (Artifact Hub's).
pub const IMAGES_ANNOTATION: &str = "artifacthub.io/images";
/// Manifests read while counting the bytes of one tag (an index and its children).
const MAX_PLAN_MANIFESTS: usize = 256;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub spec: SyncSpec,
    /// Platforms that replace the file's `wharf: platforms:` when not empty.
    pub platforms: Vec<Platform>,
    pub dry_run: bool,
    pub keep_going: bool,
    pub prune: bool,
    pub no_referrers: bool,
    pub jobs: usize,
    pub connect: ConnectOptions,
    /// The signature gate (`--require-signed`): every image, OCI chart and classic chart
    /// is refused unless it arrives with a valid signature by one of its keys.
    pub gate: Option<crate::ops::signatures::SignatureGate>,
}

/// What the plan says of one tag, digest or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncAction {
    /// Not in the local registry: fetched.
    New,
    /// Points at another manifest upstream: fetched and moved (the old one stays, untagged).
    Moved,
    /// The same upstream and here: nothing fetched.
    Unchanged,
    /// A local tag the file no longer selects (`--prune`): removed.
    Prune,
    /// Would move or be pruned, but its locks forbid it: left as it is.
    Locked,
    /// A file without a `sha256:` pin: fetched and compared with the local one.
    Check,
}

/// What became of a plan entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncResult {
    /// Planned (`--dry-run`), or nothing to do.
    Planned,
    /// Done.
    Done,
    /// Failed (the error is in `error`).
    Failed,
    /// Not attempted: the run stopped at an earlier failure.
    Skipped,
}

/// Whether a repository holds images or charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// Container images (and OCI artifacts).
    Image,
    /// Helm charts.
    Chart,
}

/// One tag (or digest) of a synced repository.
#[derive(Debug, Clone, Serialize)]
pub struct SyncTag {
    /// The tag, or the digest for a digest selector.
    pub reference: String,
    /// What the plan says.
    pub action: SyncAction,
    /// The upstream manifest digest (the registry's; for a classic chart, the .tgz's).
    pub upstream: Option<Digest>,
    /// The local manifest the tag points at before the sync.
    pub local: Option<Digest>,
    /// Bytes to download for it (blobs the registry already holds, or another tag of
    /// this plan downloads, are not counted).
    pub bytes: u64,
    /// What became of it.
    pub result: SyncResult,
    /// Why it failed, or why it is locked.
    pub error: Option<String>,
}

/// One local repository the sync keeps, and its tags.
#[derive(Debug, Clone, Serialize)]
pub struct SyncRepo {
    /// Where it comes from: `HOST/REPO`, or a classic Helm repository's URL and the
    /// chart's name (`URL#NAME`).
    pub source: String,
    /// The local repository.
    pub repository: RepoName,
    /// Images or charts.
    pub kind: SyncKind,
    /// Its tags, in order.
    pub tags: Vec<SyncTag>,
    /// Bytes to download for it.
    pub bytes_to_download: u64,
    /// Why the repository could not be planned (its tags are then unknown).
    pub error: Option<String>,
}

/// One file entry.
#[derive(Debug, Clone, Serialize)]
pub struct SyncFile {
    /// Where it comes from (the URL or the path).
    pub source: String,
    /// The `REPO:TAG` it is stored under.
    pub reference: String,
    /// What the plan says.
    pub action: SyncAction,
    /// The artifact manifest's digest once stored.
    pub digest: Option<Digest>,
    /// What became of it.
    pub result: SyncResult,
    /// Why it failed.
    pub error: Option<String>,
}

/// The report of [`Registry::sync`](crate::Registry::sync) (`wharf sync`): the plan,
/// and with it what was done.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// Plan only: nothing was written.
    pub dry_run: bool,
    /// The repositories, images and charts, in the order of the files.
    pub repositories: Vec<SyncRepo>,
    /// The files.
    pub files: Vec<SyncFile>,
    /// Tags new upstream.
    pub new: usize,
    /// Tags moved upstream.
    pub moved: usize,
    /// Tags unchanged.
    pub unchanged: usize,
    /// Tags pruned (planned to be, with `dry_run`).
    pub pruned: usize,
    /// Tags left alone because they are locked.
    pub locked: usize,
    /// Entries that failed.
    pub failed: usize,
    /// Bytes the plan downloads (known from the manifests; classic charts and files
    /// not counted).
    pub bytes_to_download: u64,
    /// Bytes downloaded.
    pub downloaded_bytes: u64,
    /// The run stopped at the first failure (no `keep_going`); later entries skipped.
    pub stopped: bool,
    /// Notes for the user.
    pub notes: Vec<String>,
}

/// A repository to plan: where, what, and how it is stored.
struct Work {
    host: String,
    repo: String,
    local: RepoName,
    kind: SyncKind,
    selectors: Vec<(TagSelector, Option<usize>)>,
    connect: ConnectOptions,
}

/// A planned repository and what apply needs of it.
struct Planned {
    work_index: usize,
    report: SyncRepo,
    /// Classic chart download URLs by tag.
    chart_urls: BTreeMap<String, String>,
}

/// Reads and merges sync files (each at most [`spec::MAX_SYNC_FILE`] bytes); relative
/// `path:` entries are relative to their file's directory.
pub fn load(paths: &[PathBuf]) -> Result<SyncSpec> {
    let mut spec = SyncSpec::default();
    for p in paths {
        let f = crate::store::files::open_input_file(p)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, spec::MAX_SYNC_FILE + 1), &mut text)
            .map_err(|e| Error::bad_input(p.display().to_string(), format!("not a UTF-8 text file: {e}")))?;
        let base = p.parent().map(|d| if d.as_os_str().is_empty() { std::path::Path::new(".") } else { d });
        spec.merge(SyncSpec::parse(&text, &p.display().to_string(), base)?)?;
    }
    Ok(spec)
}

/// `wharf sync`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<SyncReport> {
    run_with(ctx, opts, &mut |_| {})
}

/// `wharf sync`, calling `on_plan` with the plan before anything is fetched (the CLI
/// prints it there).
pub fn run_with(ctx: &Ctx<'_>, opts: &Options, on_plan: &mut dyn FnMut(&SyncReport)) -> Result<SyncReport> {
    let spec = &opts.spec;
    let platforms: Vec<Platform> =
        if opts.platforms.is_empty() { spec.platforms.clone() } else { opts.platforms.clone() };
    let reg = ctx.registry;
    let pool = match reg.kind() {
        crate::registry::RegistryKind::Root => reg.pool().expect("a root has a pool"),
        crate::registry::RegistryKind::Layout(_) => {
            return Err(Error::Usage(
                "wharf sync keeps many repositories: run it on a wharf registry root, not a plain OCI layout".into(),
            ));
        }
    };
    let mut report = SyncReport {
        dry_run: opts.dry_run,
        repositories: Vec::new(),
        files: Vec::new(),
        new: 0,
        moved: 0,
        unchanged: 0,
        pruned: 0,
        locked: 0,
        failed: 0,
        bytes_to_download: 0,
        downloaded_bytes: 0,
        stopped: false,
        notes: Vec::new(),
    };
    // Per-registry connection settings of the file over the command line's.
    let connect_for = |host: &str| -> Result<ConnectOptions> {
        let mut c = opts.connect.clone();
        if let Some(r) = spec.registries.iter().find(|r| r.host == host) {
            if let Some((u, p)) = &r.credentials {
                c.creds = Some(Credentials { username: u.clone(), password: p.clone() });
            }
            if r.tls_verify == Some(false) {
                c.tls_insecure = true;
            }
            // skopeo's cert-dir is a certs.d-style directory: `*.crt` CAs and a
            // `*.cert` + `*.key` client certificate, read as `--cert-dir` reads it.
            if let Some(dir) = &r.cert_dir {
                c.cert_dir = Some(dir.clone());
            }
        }
        Ok(c)
    };
    let local_name = |repo: &str| -> Result<RepoName> {
        let full = match &spec.repo_prefix {
            Some(p) => format!("{p}/{repo}"),
            None => repo.to_string(),
        };
        RepoName::parse(&full)
            .map_err(|e| Error::Usage(format!("the local name `{full}` is not a repository path: {e}")))
    };
    // The work: image repositories of the file, merged per HOST/REPO.
    let mut works: Vec<Work> = Vec::new();
    let add_work = |works: &mut Vec<Work>, host: &str, repo: &str, kind: SyncKind, sel: TagSelector, latest| {
        if let Some(w) = works.iter_mut().find(|w| w.host == host && w.repo == repo) {
            w.selectors.push((sel, latest));
            return Ok(());
        }
        let r = RemoteRef::parse(&format!("{host}/{repo}"))?;
        works.push(Work {
            host: r.host.clone(),
            repo: r.repo.clone(),
            local: local_name(&r.repo)?,
            kind,
            selectors: vec![(sel, latest)],
            connect: connect_for(host)?,
        });
        Ok::<(), Error>(())
    };
    for r in &spec.registries {
        for i in &r.images {
            add_work(&mut works, &r.host, &i.repo, SyncKind::Image, i.select.clone(), i.latest)?;
        }
    }
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    let http = http::Http::new(&opts.connect)?;
    let mut planned: Vec<Planned> = Vec::new();
    let mut failures_left = true;
    // Charts: classic repositories are planned here; OCI charts become work.
    let mut chart_images: Vec<String> = Vec::new();
    let mut oci_with_images: BTreeSet<usize> = BTreeSet::new();
    for c in &spec.charts {
        let versions = chart_selector(c);
        match &c.source {
            ChartSource::Oci(oci) => {
                let rest = oci.trim_start_matches("oci://");
                let r = RemoteRef::parse(rest)?;
                add_work(&mut works, &r.host, &r.repo, SyncKind::Chart, versions, None)?;
                if c.with_images
                    && let Some(i) = works.iter().position(|w| w.host == r.host && w.repo == r.repo)
                {
                    oci_with_images.insert(i);
                }
            }
            ChartSource::Repo { url, name } => {
                let local = local_name(name)?;
                let source = format!("{url}#{name}");
                match plan_classic_chart(ctx, &http, url, name, &local, &versions) {
                    Ok((repo, urls, images)) => {
                        if c.with_images {
                            chart_images.extend(images);
                        }
                        planned.push(Planned { work_index: usize::MAX, report: repo, chart_urls: urls });
                    }
                    Err(e) => {
                        report.failed += 1;
                        planned.push(Planned {
                            work_index: usize::MAX,
                            report: SyncRepo {
                                source,
                                repository: local,
                                kind: SyncKind::Chart,
                                tags: Vec::new(),
                                bytes_to_download: 0,
                                error: Some(e.to_string()),
                            },
                            chart_urls: BTreeMap::new(),
                        });
                        if !opts.keep_going {
                            failures_left = false;
                        }
                    }
                }
            }
        }
    }
    // Plan the registry repositories (images, OCI charts), then the images charts name.
    let mut seen_blobs: BTreeSet<Digest> = BTreeSet::new();
    let mut wi = 0;
    let mut images_added = false;
    loop {
        while wi < works.len() && failures_left {
            let w = &works[wi];
            if !clients.contains_key(&w.host) {
                clients.insert(w.host.clone(), Client::new(&w.host, &w.connect)?);
            }
            let client = &clients[&w.host];
            let mut found_images = Vec::new();
            let with_images = oci_with_images.contains(&wi);
            match plan_repo(
                ctx,
                client,
                w,
                &platforms,
                &pool,
                &mut seen_blobs,
                opts.prune,
                with_images,
                &mut found_images,
            ) {
                Ok(r) => {
                    chart_images.extend(found_images);
                    planned.push(Planned { work_index: wi, report: r, chart_urls: BTreeMap::new() });
                }
                Err(e) => {
                    report.failed += 1;
                    planned.push(Planned {
                        work_index: wi,
                        report: SyncRepo {
                            source: format!("{}/{}", w.host, w.repo),
                            repository: w.local.clone(),
                            kind: w.kind,
                            tags: Vec::new(),
                            bytes_to_download: 0,
                            error: Some(e.to_string()),
                        },
                        chart_urls: BTreeMap::new(),
                    });
                    if !opts.keep_going {
                        failures_left = false;
                    }
                }
            }
            wi += 1;
        }
        if images_added || chart_images.is_empty() || !failures_left {
            break;
        }
        images_added = true;
        for image in std::mem::take(&mut chart_images) {
            match RemoteRef::parse(&image) {
                Ok(r) => {
                    let sel = TagSelector::Refs(vec![
                        r.digest.as_ref().map(|d| d.to_string()).unwrap_or_else(|| r.reference()),
                    ]);
                    let host = r.host.clone();
                    let repo = r.repo.clone();
                    if let Err(e) = add_work(&mut works, &host, &repo, SyncKind::Image, sel, None) {
                        report.notes.push(format!("a chart lists the image `{image}`, which is not usable: {e}"));
                    }
                }
                Err(e) => {
                    report.notes.push(format!("a chart lists the image `{image}`, which is not an image name: {e}"))
                }
            }
        }
    }
    // Files: the plan is local.
    let files_plan = plan_files(ctx, spec)?;
    report.files = files_plan;
    // The plan's totals.
    for p in &planned {
        report.bytes_to_download += p.report.bytes_to_download;
    }
    if opts.dry_run || !failures_left {
        if !failures_left {
            report.stopped = true;
            mark_skipped(&mut planned, &mut report.files);
        }
        report.repositories = planned.into_iter().map(|p| p.report).collect();
        count(&mut report);
        return Ok(report);
    }
    {
        let mut shown = report.clone();
        shown.repositories = planned.iter().map(|p| p.report.clone()).collect();
        count(&mut shown);
        on_plan(&shown);
    }
    // Apply.
    let mut stop = false;
    for p in &mut planned {
        if stop {
            break;
        }
        let pulled_source = |tag: &str| -> Option<(String, ConnectOptions)> {
            let w = works.get(p.work_index)?;
            let s = if tag.starts_with("sha256:") {
                format!("{}/{}@{tag}", w.host, w.repo)
            } else {
                format!("{}/{}:{tag}", w.host, w.repo)
            };
            Some((s, w.connect.clone()))
        };
        let repo_name = p.report.repository.clone();
        let pull_opts = |sources: Vec<String>, connect: ConnectOptions| super::pull::Options {
            sources,
            repo: Some(repo_name.clone()),
            tags: Vec::new(),
            all_tags: false,
            platforms: if p.report.kind == SyncKind::Chart { Vec::new() } else { platforms.clone() },
            no_referrers: opts.no_referrers,
            force: true,
            scoped: false,
            jobs: opts.jobs.max(1),
            connect,
            gate: opts.gate.clone(),
            policy: None,
        };
        // Fast path: the repository's new and moved images in one pull (one commit, all
        // or nothing); on failure, image by image below, so that each failure is its own.
        let batch: Vec<(String, ConnectOptions)> = if p.chart_urls.is_empty() {
            p.report
                .tags
                .iter()
                .filter(|t| matches!(t.action, SyncAction::New | SyncAction::Moved))
                .filter_map(|t| pulled_source(&t.reference))
                .collect()
        } else {
            Vec::new()
        };
        let mut batched = false;
        if batch.len() > 1 {
            let connect = batch[0].1.clone();
            let o = pull_opts(batch.into_iter().map(|b| b.0).collect(), connect);
            if let Ok(pr) = super::pull::run(ctx, &o) {
                report.downloaded_bytes += pr.downloaded_bytes;
                batched = true;
            }
        }
        let mut prune_tags = Vec::new();
        for t in &mut p.report.tags {
            if stop {
                break;
            }
            match t.action {
                SyncAction::New | SyncAction::Moved if batched => {
                    t.result = SyncResult::Done;
                    continue;
                }
                SyncAction::New | SyncAction::Moved => {}
                SyncAction::Prune => {
                    prune_tags.push(t.reference.clone());
                    continue;
                }
                _ => continue,
            }
            let r = if let Some(url) = p.chart_urls.get(&t.reference) {
                store_classic_chart(ctx, &http, url, t, &repo_name, opts.gate.as_ref())
            } else if let Some((source, connect)) = pulled_source(&t.reference) {
                // apply: one image, committed atomically by pull (a signature gate
                // would be passed through here).
                let o = pull_opts(vec![source], connect);
                super::pull::run(ctx, &o).map(|pr| pr.downloaded_bytes)
            } else {
                Err(Error::refused(format!("{}: no source for {}", p.report.source, t.reference)))
            };
            match r {
                Ok(bytes) => {
                    report.downloaded_bytes += bytes;
                    t.result = SyncResult::Done;
                }
                Err(e) => {
                    t.result = SyncResult::Failed;
                    t.error = Some(e.to_string());
                    report.failed += 1;
                    if !opts.keep_going {
                        stop = true;
                    }
                }
            }
        }
        if !prune_tags.is_empty() && !stop {
            match prune(ctx, &repo_name, &prune_tags) {
                Ok(()) => {
                    for t in p.report.tags.iter_mut().filter(|t| t.action == SyncAction::Prune) {
                        t.result = SyncResult::Done;
                    }
                }
                Err(e) => {
                    for t in p.report.tags.iter_mut().filter(|t| t.action == SyncAction::Prune) {
                        t.result = SyncResult::Failed;
                        t.error = Some(e.to_string());
                    }
                    report.failed += 1;
                    if !opts.keep_going {
                        stop = true;
                    }
                }
            }
        }
    }
    if !stop {
        for f in &mut report.files {
            if stop {
                f.result = SyncResult::Skipped;
                continue;
            }
            match store_file(ctx, &http, spec, f) {
                Ok(()) => {}
                Err(e) => {
                    f.result = SyncResult::Failed;
                    f.error = Some(e.to_string());
                    report.failed += 1;
                    if !opts.keep_going {
                        stop = true;
                    }
                }
            }
        }
    }
    if stop {
        report.stopped = true;
        mark_skipped(&mut planned, &mut report.files);
    }
    report.repositories = planned.into_iter().map(|p| p.report).collect();
    count(&mut report);
    Ok(report)
}

fn mark_skipped(planned: &mut [Planned], files: &mut [SyncFile]) {
    for p in planned {
        for t in &mut p.report.tags {
            if t.result == SyncResult::Planned
                && matches!(t.action, SyncAction::New | SyncAction::Moved | SyncAction::Prune)
            {
                t.result = SyncResult::Skipped;
            }
        }
    }
    for f in files {
        if f.result == SyncResult::Planned && f.action != SyncAction::Unchanged {
            f.result = SyncResult::Skipped;
        }
    }
}

fn count(r: &mut SyncReport) {
    for t in r.repositories.iter().flat_map(|p| &p.tags) {
        match t.action {
            SyncAction::New => r.new += 1,
            SyncAction::Moved => r.moved += 1,
            SyncAction::Unchanged => r.unchanged += 1,
            SyncAction::Prune => r.pruned += 1,
            SyncAction::Locked => r.locked += 1,
            SyncAction::Check => {}
        }
    }
    for f in &r.files {
        match f.action {
            SyncAction::New => r.new += 1,
            SyncAction::Moved => r.moved += 1,
            SyncAction::Unchanged => r.unchanged += 1,
            SyncAction::Locked => r.locked += 1,
            _ => {}
        }
    }
}

fn chart_selector(c: &spec::ChartSpec) -> TagSelector {
    match (&c.semver, c.versions.is_empty()) {
        (Some(s), _) => TagSelector::Semver(s.clone()),
        (None, false) => TagSelector::Refs(c.versions.iter().map(|v| v.replace('+', "_")).collect()),
        (None, true) => TagSelector::All,
    }
}

/// The tags `selectors` keep of `listed` (upstream tags), in order; and the digests.
fn select(listed: &[String], selectors: &[(TagSelector, Option<usize>)]) -> Result<(Vec<String>, Vec<Digest>)> {
    let mut tags: BTreeSet<String> = BTreeSet::new();
    let mut digests = Vec::new();
    for (sel, latest) in selectors {
        let mut these: Vec<String> = match sel {
            TagSelector::All => listed.to_vec(),
            TagSelector::Refs(v) => {
                for x in v.iter().filter(|x| x.starts_with("sha256:")) {
                    digests.push(Digest::parse(x).map_err(|e| Error::Usage(format!("`{x}`: {e}")))?);
                }
                v.iter().filter(|x| !x.starts_with("sha256:")).cloned().collect()
            }
            TagSelector::TagRegex(re) => {
                let re = regex::Regex::new(re).map_err(|e| Error::Usage(format!("`{re}`: {e}")))?;
                listed.iter().filter(|t| re.is_match(t)).cloned().collect()
            }
            TagSelector::Semver(c) => {
                let c = Constraint::parse(c).map_err(Error::Usage)?;
                listed.iter().filter(|t| c.matches(t)).cloned().collect()
            }
        };
        if let Some(n) = latest {
            let mut v: Vec<(semver::Version, String)> =
                these.iter().filter_map(|t| version_of(t).map(|v| (v, t.clone()))).collect();
            v.sort();
            these = v.into_iter().rev().take(*n).map(|(_, t)| t).collect();
        }
        tags.extend(these);
    }
    let mut tags: Vec<String> = tags.into_iter().collect();
    tags.retain(|t| !super::pull::is_fallback_tag(t));
    digests.sort();
    digests.dedup();
    Ok((tags, digests))
}

fn needs_listing(selectors: &[(TagSelector, Option<usize>)]) -> bool {
    selectors.iter().any(|(s, l)| !matches!(s, TagSelector::Refs(_)) || l.is_some())
}

/// Plans one registry repository.
#[allow(clippy::too_many_arguments)]
fn plan_repo(
    ctx: &Ctx<'_>,
    client: &Client,
    w: &Work,
    platforms: &[Platform],
    pool: &BlobStore,
    seen: &mut BTreeSet<Digest>,
    prune: bool,
    with_images: bool,
    images: &mut Vec<String>,
) -> Result<SyncRepo> {
    let listed = if needs_listing(&w.selectors) { client.tags(&w.repo)? } else { Vec::new() };
    let (tags, digests) = select(&listed, &w.selectors)?;
    let reg = ctx.registry;
    let local = {
        let _shared = ctx.read_lock()?;
        if reg.repo_exists(&w.local) { Some(reg.open_repo(&w.local, ctx.now)?) } else { None }
    };
    let platforms: &[Platform] = if w.kind == SyncKind::Chart { &[] } else { platforms };
    let mut out = SyncRepo {
        source: format!("{}/{}", w.host, w.repo),
        repository: w.local.clone(),
        kind: w.kind,
        tags: Vec::new(),
        bytes_to_download: 0,
        error: None,
    };
    for t in &tags {
        let tag = Tag::parse(t).map_err(|e| Error::remote(&w.host, format!("{} lists the tag `{t}`: {e}", w.repo)))?;
        let here = local.as_ref().and_then(|r| r.tag_entry(&tag).cloned());
        // One request per tag: a HEAD, or a GET when the stored root may differ.
        let (upstream, fetched) = if platforms.is_empty() && !with_images {
            let h = client.head_manifest(&w.repo, t)?.ok_or_else(|| Error::NotFound {
                what: format!("registry {}: the manifest {}:{t}", w.host, w.repo),
                detail: "does not exist".into(),
            })?;
            match h.digest {
                Some(d) => (d, None),
                None => {
                    let m = get_manifest(client, &w.repo, t)?;
                    (Digest::of(&m.0), Some(m))
                }
            }
        } else {
            let m = get_manifest(client, &w.repo, t)?;
            (Digest::of(&m.0), Some(m))
        };
        let mut same = here.as_ref().is_some_and(|d| d.digest == upstream);
        if !same
            && let (Some(here), Some((bytes, mt))) = (&here, &fetched)
            && !platforms.is_empty()
            && let Ok(doc) = Document::parse(bytes, mt)
            && doc.kind == MediaKind::Index
        {
            let selected: BTreeSet<Digest> = doc
                .manifests
                .iter()
                .filter(|d| d.platform.as_ref().is_some_and(|p| platforms.iter().any(|s| s.matches(p))))
                .map(|d| d.digest.clone())
                .collect();
            if selected.len() == 1 && selected.contains(&here.digest) {
                same = true;
            } else if MediaKind::of(&here.media_type) == MediaKind::Index
                && let Some(r) = &local
                && let Ok(ld) = r.read_document(&here.digest, &here.media_type)
            {
                let mine: BTreeSet<Digest> = ld.manifests.iter().map(|d| d.digest.clone()).collect();
                same = mine == selected;
            }
        }
        if with_images {
            let ann = match (&fetched, same, &here, &local) {
                (_, true, Some(h), Some(r)) => r.read_document(&h.digest, &h.media_type).ok().map(|d| d.annotations),
                (Some((b, mt)), _, _, _) => Document::parse(b, mt).ok().map(|d| d.annotations),
                _ => None,
            };
            if let Some(v) = ann.as_ref().and_then(|a| a.get(IMAGES_ANNOTATION)) {
                images.extend(parse_images_annotation(v));
            }
        }
        let mut entry = SyncTag {
            reference: t.clone(),
            action: if same {
                SyncAction::Unchanged
            } else if here.is_some() {
                SyncAction::Moved
            } else {
                SyncAction::New
            },
            upstream: Some(upstream.clone()),
            local: here.as_ref().map(|d| d.digest.clone()),
            bytes: 0,
            result: SyncResult::Planned,
            error: None,
        };
        if entry.action != SyncAction::Unchanged
            && let Some(r) = &local
            && let Err(e) = r.check_set_tag(&tag, &upstream, true)
        {
            entry.action = SyncAction::Locked;
            entry.error = Some(e.to_string());
        }
        if matches!(entry.action, SyncAction::New | SyncAction::Moved) {
            let m = match fetched {
                Some(m) => m,
                None => get_manifest(client, &w.repo, t)?,
            };
            entry.bytes = bytes_needed(client, &w.repo, &m.0, &m.1, platforms, pool, seen)?;
            out.bytes_to_download += entry.bytes;
        }
        out.tags.push(entry);
    }
    for d in &digests {
        let have = local.as_ref().is_some_and(|r| r.descriptor_of(d).is_some());
        let mut entry = SyncTag {
            reference: d.to_string(),
            action: if have { SyncAction::Unchanged } else { SyncAction::New },
            upstream: Some(d.clone()),
            local: if have { Some(d.clone()) } else { None },
            bytes: 0,
            result: SyncResult::Planned,
            error: None,
        };
        if !have {
            let m = get_manifest(client, &w.repo, &d.to_string())?;
            entry.bytes = bytes_needed(client, &w.repo, &m.0, &m.1, platforms, pool, seen)?;
            out.bytes_to_download += entry.bytes;
        }
        out.tags.push(entry);
    }
    if prune && let Some(r) = &local {
        let keep: BTreeSet<&str> = tags.iter().map(String::as_str).collect();
        for (tag, d) in r.tag_entries() {
            if keep.contains(tag.as_str()) || super::pull::is_fallback_tag(tag.as_str()) {
                continue;
            }
            let mut entry = SyncTag {
                reference: tag.to_string(),
                action: SyncAction::Prune,
                upstream: None,
                local: Some(d.digest.clone()),
                bytes: 0,
                result: SyncResult::Planned,
                error: None,
            };
            if let Err(e) = r.check_untag(&tag) {
                entry.action = SyncAction::Locked;
                entry.error = Some(e.to_string());
            }
            out.tags.push(entry);
        }
    }
    Ok(out)
}

fn get_manifest(client: &Client, repo: &str, reference: &str) -> Result<(Vec<u8>, String)> {
    let m = client.get_manifest(repo, reference, super::import::content::MAX_JSON)?.ok_or_else(|| Error::NotFound {
        what: format!("registry {}: the manifest {repo}:{reference}", client.host).replace(":sha256:", "@sha256:"),
        detail: "does not exist".into(),
    })?;
    Ok((m.bytes, m.media_type))
}

/// Bytes of the blobs `manifest` needs that the pool lacks and the plan has not counted.
fn bytes_needed(
    client: &Client,
    repo: &str,
    bytes: &[u8],
    media_type: &str,
    platforms: &[Platform],
    pool: &BlobStore,
    seen: &mut BTreeSet<Digest>,
) -> Result<u64> {
    let mut total = 0u64;
    let mut queue: Vec<(Vec<u8>, String, bool)> = vec![(bytes.to_vec(), media_type.to_string(), true)];
    let mut reads = 0;
    while let Some((b, mt, top)) = queue.pop() {
        let doc = Document::parse(&b, &mt)
            .map_err(|e| Error::remote(&client.host, format!("{repo}: not a manifest or index: {e}")))?;
        for child in doc.children() {
            if child.role == Role::Subject {
                continue;
            }
            let Some(d) = child.descriptor else { continue };
            if d.kind().has_children() {
                if top && doc.kind == MediaKind::Index && !platforms.is_empty() {
                    let ok = d.platform.as_ref().is_some_and(|p| platforms.iter().any(|s| s.matches(p)));
                    if !ok {
                        continue;
                    }
                }
                reads += 1;
                if reads > MAX_PLAN_MANIFESTS {
                    return Err(Error::remote(
                        &client.host,
                        format!("{repo}: an index of more than {MAX_PLAN_MANIFESTS} manifests; refused"),
                    ));
                }
                let m = get_manifest(client, repo, &d.digest.to_string())?;
                let mt = if m.1.is_empty() { d.media_type.clone() } else { m.1 };
                queue.push((m.0, mt, false));
            } else if !seen.contains(&d.digest) && !pool.contains(&d.digest) {
                seen.insert(d.digest.clone());
                total += d.size;
            }
        }
    }
    Ok(total)
}

/// Images of an `artifacthub.io/images` annotation (a YAML list of `{name, image}`).
pub fn parse_images_annotation(v: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Img {
        image: String,
    }
    if v.len() > 1 << 20 {
        return Vec::new();
    }
    serde_saphyr::from_str::<Vec<Img>>(v).map(|l| l.into_iter().map(|i| i.image).collect()).unwrap_or_default()
}

// ---- classic Helm repositories --------------------------------------------------------

#[derive(serde::Deserialize)]
struct HelmIndex {
    #[serde(default)]
    entries: BTreeMap<String, Vec<HelmEntry>>,
}

#[derive(serde::Deserialize)]
struct HelmEntry {
    version: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

type ClassicPlan = (SyncRepo, BTreeMap<String, String>, Vec<String>);

fn plan_classic_chart(
    ctx: &Ctx<'_>,
    http: &http::Http,
    url: &str,
    name: &str,
    local_name: &RepoName,
    sel: &TagSelector,
) -> Result<ClassicPlan> {
    let index_url = format!("{}/index.yaml", url.trim_end_matches('/'));
    let bytes = http.get_small(&index_url, http::MAX_INDEX_YAML)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::bad_input(&index_url, "not UTF-8 text"))?;
    // A large public repository's index holds millions of nodes: a budget above the
    // default, still bounded (the text itself is capped at MAX_INDEX_YAML).
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_events: 16_000_000, max_nodes: 8_000_000 },
    };
    let index: HelmIndex = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| Error::bad_input(&index_url, format!("not a Helm repository index: {e}")))?;
    let entries = index.entries.get(name).ok_or_else(|| Error::NotFound {
        what: format!("the chart {name} in {index_url}"),
        detail: "the index has no such chart".into(),
    })?;
    let versions: Vec<String> = entries.iter().map(|e| e.version.replace('+', "_")).collect();
    let (tags, _) = select(&versions, &[(sel.clone(), None)])?;
    let reg = ctx.registry;
    let local = {
        let _shared = ctx.read_lock()?;
        if reg.repo_exists(local_name) { Some(reg.open_repo(local_name, ctx.now)?) } else { None }
    };
    let mut out = SyncRepo {
        source: format!("{url}#{name}"),
        repository: local_name.clone(),
        kind: SyncKind::Chart,
        tags: Vec::new(),
        bytes_to_download: 0,
        error: None,
    };
    if let TagSelector::Refs(want) = sel {
        for v in want {
            if !tags.contains(v) {
                return Err(Error::NotFound {
                    what: format!("the chart {name} version {v} in {index_url}"),
                    detail: "the index has no such version".into(),
                });
            }
        }
    }
    let mut urls = BTreeMap::new();
    let mut images = Vec::new();
    for t in &tags {
        let e = entries.iter().find(|e| e.version.replace('+', "_") == *t).expect("selected from these");
        let upstream = e.digest.as_deref().and_then(Digest::from_hex);
        let tag = Tag::parse(t).map_err(|err| Error::bad_input(&index_url, format!("{name} version `{t}`: {err}")))?;
        let here = local.as_ref().and_then(|r| r.tag_entry(&tag).cloned());
        let same = match (&here, &upstream, &local) {
            (Some(h), Some(up), Some(r)) => r
                .read_document(&h.digest, &h.media_type)
                .map(|d| d.layers.iter().any(|l| l.digest == *up))
                .unwrap_or(false),
            (Some(_), None, _) => true,
            _ => false,
        };
        let mut entry = SyncTag {
            reference: t.clone(),
            action: if same {
                SyncAction::Unchanged
            } else if here.is_some() {
                SyncAction::Moved
            } else {
                SyncAction::New
            },
            upstream,
            local: here.as_ref().map(|d| d.digest.clone()),
            bytes: 0,
            result: SyncResult::Planned,
            error: None,
        };
        if entry.action == SyncAction::Moved
            && let Some(r) = &local
            && let Err(err) = r.check_untag(&tag)
        {
            entry.action = SyncAction::Locked;
            entry.error = Some(err.to_string());
        }
        let first = e.urls.first().ok_or_else(|| {
            Error::bad_input(&index_url, format!("{name} {}: the entry lists no download URL", e.version))
        })?;
        let u = http::resolve(url, first);
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(Error::bad_input(&index_url, format!("{name} {}: `{first}` is not an http(s) URL", e.version)));
        }
        urls.insert(t.clone(), u);
        if let Some(v) = e.annotations.get(IMAGES_ANNOTATION) {
            images.extend(parse_images_annotation(v));
        }
        out.tags.push(entry);
    }
    Ok((out, urls, images))
}

fn store_classic_chart(
    ctx: &Ctx<'_>,
    http: &http::Http,
    url: &str,
    t: &SyncTag,
    repo: &RepoName,
    gate: Option<&crate::ops::signatures::SignatureGate>,
) -> Result<u64> {
    let staging = ctx.create_staging()?;
    let safe: String = t
        .reference
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let path = staging.temp_dir().join(format!("chart-{safe}.tgz"));
    let (n, hex) = http.download(url, &path)?;
    if let Some(up) = &t.upstream
        && up.hex() != hex
    {
        return Err(Error::DigestMismatch {
            what: format!("the chart {url}"),
            path: None,
            expected: up.to_string(),
            actual: format!("sha256:{hex}"),
        });
    }
    let o = super::import::Options {
        sources: vec![path.display().to_string()],
        repo: Some(repo.clone()),
        tags: vec![Tag::parse(&t.reference)?],
        platforms: Vec::new(),
        force: true,
        scoped: false,
        gate: gate.cloned(),
    };
    super::import::run(ctx, &o)?;
    drop(staging);
    Ok(n)
}

fn prune(ctx: &Ctx<'_>, name: &RepoName, tags: &[String]) -> Result<()> {
    let _lock = ctx.write_lock()?;
    let mut repo = ctx.registry.open_repo(name, ctx.now)?;
    let mut changed = false;
    for t in tags {
        let tag = Tag::parse(t)?;
        if repo.tag_digest(&tag).is_some() {
            repo.untag(&tag, ctx.now)?;
            changed = true;
        }
    }
    if changed {
        repo.save()?;
    }
    Ok(())
}

// ---- files ----------------------------------------------------------------------------

fn plan_files(ctx: &Ctx<'_>, spec: &SyncSpec) -> Result<Vec<SyncFile>> {
    let mut out = Vec::new();
    let reg = ctx.registry;
    for f in &spec.files {
        let r = crate::model::Reference::parse(&f.reference)?;
        let tag = r.tag.clone().expect("checked at parse");
        let here = {
            let _shared = ctx.read_lock()?;
            if reg.repo_exists(&r.repo) {
                let repo = reg.open_repo(&r.repo, ctx.now)?;
                repo.tag_entry(&tag).cloned().map(|d| {
                    let layers = repo.read_document(&d.digest, &d.media_type).map(|x| x.layers).unwrap_or_default();
                    let locked = repo.check_set_tag(&tag, &Digest::of(b""), true).err().map(|e| e.to_string());
                    (d.digest, layers, locked)
                })
            } else {
                None
            }
        };
        let (action, error) = match (&here, &f.sha256) {
            (None, _) => (SyncAction::New, None),
            (Some((_, layers, _)), Some(pin)) if layers.len() == 1 && layers[0].digest.hex() == *pin => {
                (SyncAction::Unchanged, None)
            }
            (Some((_, _, Some(locked))), _) => (SyncAction::Locked, Some(locked.clone())),
            (Some(_), Some(_)) => (SyncAction::Moved, None),
            (Some(_), None) => (SyncAction::Check, None),
        };
        out.push(SyncFile {
            source: match &f.source {
                FileSource::Url(u) => u.clone(),
                FileSource::Path(p) => p.display().to_string(),
            },
            reference: f.reference.clone(),
            action,
            digest: here.map(|h| h.0),
            result: SyncResult::Planned,
            error,
        });
    }
    Ok(out)
}

fn store_file(ctx: &Ctx<'_>, http: &http::Http, spec: &SyncSpec, f: &mut SyncFile) -> Result<()> {
    if matches!(f.action, SyncAction::Unchanged | SyncAction::Locked) {
        return Ok(());
    }
    let entry = spec.files.iter().find(|x| x.reference == f.reference).expect("planned from the spec");
    let staging = ctx.create_staging()?;
    let (path, title) = match &entry.source {
        FileSource::Url(u) => {
            let base = u.split(['?', '#']).next().unwrap_or(u).rsplit('/').next().unwrap_or("");
            let title: String = base
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
                .collect();
            let title = if title.is_empty() || title.starts_with('.') { "file".to_string() } else { title };
            let path = staging.temp_dir().join(format!("download-{title}"));
            let (_, hex) = http.download(u, &path)?;
            check_pin(&entry.sha256, &hex, u)?;
            (path, title)
        }
        FileSource::Path(p) => {
            let (_, hex) = http::sha256_file(p)?;
            check_pin(&entry.sha256, &hex, &p.display().to_string())?;
            let title = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "file".into());
            (p.clone(), title)
        }
    };
    let o = super::add::Options {
        reference: crate::model::Reference::parse(&entry.reference)?,
        files: vec![super::artifact::FileSpec {
            path,
            media_type: super::artifact::DEFAULT_FILE_TYPE.to_string(),
            title,
        }],
        artifact_type: None,
        annotations: BTreeMap::new(),
        force: true,
    };
    let r = super::add::run(ctx, &o)?;
    drop(staging);
    f.digest = Some(r.digest);
    f.result = SyncResult::Done;
    if f.action == SyncAction::Check {
        f.action = match r.change {
            TagChange::Unchanged => SyncAction::Unchanged,
            TagChange::Moved { .. } => SyncAction::Moved,
            TagChange::Created => SyncAction::New,
        };
    }
    Ok(())
}

fn check_pin(pin: &Option<String>, hex: &str, what: &str) -> Result<()> {
    match pin {
        Some(p) if p != hex => Err(Error::DigestMismatch {
            what: what.to_string(),
            path: None,
            expected: format!("sha256:{p}"),
            actual: format!("sha256:{hex}"),
        }),
        _ => Ok(()),
    }
}
