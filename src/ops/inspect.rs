//! Read-only inspection: `manifests`, `show` and `referrers`.
//!
//! `manifests` lists a repository's top-level manifests (the entries of its index.json)
//! with their tags, times and locks. `show` describes one manifest in full. `referrers`
//! finds the manifests whose `subject` is a given manifest, by scanning the repository
//! and by honouring the OCI referrers tag schema (`sha256-<hex>` tags). All of them take
//! the shared registry lock and change nothing on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;
use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::kind::ArtifactKind;
use crate::model::media::OCI_INDEX;
use crate::model::{Descriptor, Digest, Document, Locks, MediaKind, Platform, Reference, RepoName, Role, Timestamp};
use crate::registry::Repository;
use crate::registry::meta::TimeSource;
use crate::registry::repository::MAX_DOCUMENT_BYTES;

/// How `manifests` orders its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderBy {
    /// Oldest `created` first (ties by digest). The default.
    #[default]
    TimeAsc,
    /// Newest `created` first (ties by digest).
    TimeDesc,
}

impl OrderBy {
    pub fn parse(s: &str) -> Result<OrderBy> {
        match s {
            "time_asc" => Ok(OrderBy::TimeAsc),
            "time_desc" => Ok(OrderBy::TimeDesc),
            other => Err(Error::Usage(format!("--orderby `{other}`: expected time_asc or time_desc"))),
        }
    }
}

/// One row of `wharf manifests`.
#[derive(Debug, Serialize)]
pub struct ManifestInfo {
    pub digest: Digest,
    pub media_type: String,
    /// image, index, helm-chart, artifact or referrer.
    pub kind: ArtifactKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub size: u64,
    /// The manifest's visible tags (tags with list_enabled=false are left out), sorted.
    pub tags: Vec<String>,
    pub created: Timestamp,
    pub created_source: TimeSource,
    /// When the manifest lost its last tag; absent while it is tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged_at: Option<Timestamp>,
    /// The image's build time; shown, never used for purge or retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_created: Option<Timestamp>,
    pub locks: Locks,
}

#[derive(Debug, Serialize)]
pub struct ManifestsReport {
    pub repository: RepoName,
    pub orderby: OrderBy,
    pub manifests: Vec<ManifestInfo>,
}

fn manifest_info(repo: &Repository, desc: &Descriptor, tags: Vec<String>) -> Option<ManifestInfo> {
    let digest = &desc.digest;
    let meta = repo.meta.manifests.get(digest)?;
    Some(ManifestInfo {
        digest: digest.clone(),
        media_type: desc.media_type.clone(),
        kind: repo.kind_of(desc),
        artifact_type: desc.artifact_type.clone(),
        size: desc.size,
        tags,
        created: meta.created,
        created_source: meta.created_source,
        untagged_at: meta.untagged_at,
        image_created: meta.image_created,
        locks: meta.locks,
    })
}

/// The first index.json entry of each distinct manifest, in index.json order.
fn distinct_entries(repo: &Repository) -> Vec<&Descriptor> {
    repo.distinct_entries()
}

/// `wharf manifests REPO [--orderby time_asc|time_desc] [--top N]`: every top-level
/// manifest (tagged or not) whose list_enabled is true. `--top 0` is a usage error: it
/// would list nothing, which is never what was meant.
pub fn manifests(ctx: &Ctx<'_>, repo: &RepoName, orderby: OrderBy, top: Option<usize>) -> Result<ManifestsReport> {
    if top == Some(0) {
        return Err(Error::Usage("--top 0 would list nothing: give N of 1 or more, or leave --top out".into()));
    }
    let _lock = ctx.read_lock()?;
    let repo = ctx.registry.open_repo(repo, ctx.now)?;
    // One pass over the tags (sorted by name), not one per manifest: repositories with
    // tens of thousands of tags list in linear time.
    let mut visible_tags: BTreeMap<&Digest, Vec<String>> = BTreeMap::new();
    for (tag, desc) in repo.tag_entries() {
        if repo.tag_locks(&tag).list_enabled {
            visible_tags.entry(&desc.digest).or_default().push(tag.to_string());
        }
    }
    let mut rows: Vec<ManifestInfo> = distinct_entries(&repo)
        .into_iter()
        .filter(|d| repo.manifest_locks(&d.digest).list_enabled)
        .filter_map(|d| manifest_info(&repo, d, visible_tags.remove(&d.digest).unwrap_or_default()))
        .collect();
    match orderby {
        OrderBy::TimeAsc => rows.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.digest.cmp(&b.digest))),
        OrderBy::TimeDesc => rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.digest.cmp(&b.digest))),
    }
    if let Some(n) = top {
        rows.truncate(n);
    }
    Ok(ManifestsReport { repository: repo.name.clone(), orderby, manifests: rows })
}

/// One outgoing edge of the shown manifest.
#[derive(Debug, Serialize)]
pub struct ChildInfo {
    /// The edge's role (an index's manifest, a config, a layer, a subject).
    pub role: Role,
    /// The digest it names.
    pub digest: Digest,
    /// The media type it declares.
    pub media_type: String,
    /// The size it declares; `None` for schema 1 layers, which declare none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// An index entry's platform (`linux/arm64/v8`); `None` when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// An index entry's `artifactType`; `None` when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// False when the blob is not in the repository (a subject kept elsewhere, a
    /// foreign layer, a partial layout).
    pub present: bool,
}

/// The locks on every object of the shown manifest's path.
#[derive(Debug, Serialize)]
pub struct PathLocks {
    /// The repository's attributes.
    pub repository: Locks,
    /// Per tag on the manifest.
    pub tags: BTreeMap<String, Locks>,
    /// The manifest's own attributes.
    pub manifest: Locks,
}

/// The report of [`Registry::show`](crate::Registry::show) (`wharf show`): one manifest and everything around it.
#[derive(Debug, Serialize)]
pub struct ShowReport {
    /// The repository.
    pub repository: RepoName,
    /// The reference as given.
    pub reference: String,
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The kind its media type declares.
    pub kind: MediaKind,
    /// image, index, helm-chart, artifact or referrer.
    pub artifact_kind: ArtifactKind,
    /// `artifactType`, else the config's media type when it is not an image config
    /// (a Helm chart: `application/vnd.cncf.helm.config.v1+json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest's size in bytes.
    pub size: u64,
    /// False for a manifest that is only a child of a top-level index (it has no tags,
    /// times or locks of its own).
    pub top_level: bool,
    /// An index's children's platforms, or an image manifest's own (from its config).
    pub platforms: Vec<String>,
    /// The tags on it.
    pub tags: Vec<String>,
    /// When the manifest came into the repository; `None` for a child that is not top-level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// Where `created` came from; `None` when `created` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_source: Option<TimeSource>,
    /// When it lost its last tag; `None` while it is tagged (and for a child).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged_at: Option<Timestamp>,
    /// Where `untagged_at` came from; `None` when `untagged_at` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged_source: Option<TimeSource>,
    /// The image's build time (annotation or config `created`); shown, never used for
    /// purge or retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_created: Option<Timestamp>,
    /// The locks on the repository, the tags and the manifest.
    pub locks: PathLocks,
    /// Top-level indexes of the repository that list this manifest.
    pub parents: Vec<Digest>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
    /// Its outgoing edges (an index's manifests, a config, layers, a subject).
    pub children: Vec<ChildInfo>,
    /// Manifests of the repository that refer to it (signatures, SBOMs, attestations).
    pub referrers: Vec<ReferrerInfo>,
    /// Foreign tools that cannot read this manifest from the layout: non-empty for a
    /// Docker-typed manifest or manifest list: skopeo's `oci:` transport (1.x) and umoci.
    pub unreadable_by: Vec<&'static str>,
}

/// The platform of an image manifest, from its config (`Platform::from_config`).
fn config_platform(repo: &Repository, doc: &Document) -> Option<String> {
    let config = doc.config.as_ref()?;
    let bytes = repo.blobs.read(&config.digest, MAX_DOCUMENT_BYTES).ok()?;
    Platform::from_config(&bytes).map(|p| p.to_string())
}

/// `wharf show REF`.
pub fn show(ctx: &Ctx<'_>, r: &Reference) -> Result<ShowReport> {
    let _lock = ctx.read_lock()?;
    let repo = ctx.registry.open_repo(&r.repo, ctx.now)?;
    let (resolved, parents, top_level) = repo.locate(r)?;
    let parents = if top_level { repo.parents_of(&resolved.digest)? } else { parents };
    let desc = resolved.descriptor;
    let digest = desc.digest.clone();
    // size(): a link or FIFO named like the blob is refused as what it is.
    if repo.blobs.size(&digest)?.is_none() {
        return Err(Error::BlobMissing {
            context: r.to_string(),
            digest: digest.to_string(),
            dir: repo.dir.clone(),
            repo: repo.name.to_string(),
        });
    }
    let doc = repo.read_document(&digest, &desc.media_type)?;
    let children: Vec<ChildInfo> = doc
        .children()
        .into_iter()
        .map(|c| {
            let d = c.descriptor.as_ref();
            ChildInfo {
                role: c.role,
                present: repo.blobs.contains(&c.digest),
                platform: d.and_then(|d| d.platform.as_ref()).map(|p| p.to_string()),
                artifact_type: d.and_then(|d| d.artifact_type.clone()),
                digest: c.digest,
                media_type: c.media_type,
                size: c.size,
            }
        })
        .collect();
    let mut platforms: Vec<String> = if doc.kind == MediaKind::Index {
        children.iter().filter_map(|c| c.platform.clone()).collect()
    } else {
        config_platform(&repo, &doc).into_iter().collect()
    };
    platforms.dedup();
    let tag_list = repo.tags_of(&digest);
    let tags: Vec<String> = tag_list.iter().map(|t| t.to_string()).collect();
    let meta = repo.meta.manifests.get(&digest);
    let locks = PathLocks {
        repository: repo.repo_locks(),
        tags: tag_list.iter().map(|t| (t.to_string(), repo.tag_locks(t))).collect(),
        manifest: repo.manifest_locks(&digest),
    };
    let media_type = doc.media_type.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| desc.media_type.clone());
    let docker = crate::model::media::is_docker_v2(&desc.media_type) || crate::model::media::is_docker_v2(&media_type);
    let unreadable_by = if docker { crate::model::media::OCI_ONLY_TOOLS.to_vec() } else { Vec::new() };
    Ok(ShowReport {
        repository: repo.name.clone(),
        reference: r.to_string(),
        kind: doc.kind,
        artifact_kind: ArtifactKind::of(&doc),
        artifact_type: ArtifactKind::artifact_type(&doc).or(desc.artifact_type.clone()),
        size: desc.size,
        top_level,
        platforms,
        tags,
        created: meta.map(|m| m.created),
        created_source: meta.map(|m| m.created_source),
        untagged_at: meta.and_then(|m| m.untagged_at),
        untagged_source: meta.and_then(|m| m.untagged_source),
        image_created: meta.and_then(|m| m.image_created),
        locks,
        parents,
        annotations: doc.annotations.clone(),
        children,
        referrers: find_referrers(&repo, &digest),
        unreadable_by,
        media_type,
        digest,
    })
}

/// How a referrer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// A top-level manifest of the repository whose `subject` is the manifest.
    Subject,
    /// Listed in the index tagged `sha256-<hex>` (the OCI referrers tag schema).
    TagSchema,
}

/// One referrer of a manifest.
#[derive(Debug, Serialize)]
pub struct ReferrerInfo {
    /// The referrer's digest.
    pub digest: Digest,
    /// The referrer's media type.
    pub media_type: String,
    /// Its `artifactType` (or config media type); `None` when it declares neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The referrer manifest's size in bytes.
    pub size: u64,
    /// Tags on the referrer in this repository.
    pub tags: Vec<String>,
    /// The referrer's annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// How it was found (by its `subject`, in the referrers tag schema, or both).
    pub found_by: Vec<FoundBy>,
    /// False when the referrer is listed but its manifest blob is absent.
    pub present: bool,
}

#[derive(Debug, Serialize)]
pub struct ReferrersReport {
    pub repository: RepoName,
    pub reference: String,
    pub digest: Digest,
    /// False when the subject manifest is not in the repository.
    pub subject_present: bool,
    pub referrers: Vec<ReferrerInfo>,
}

/// The name of the referrers-tag-schema tag of `digest`: `sha256-<hex>`.
pub fn tag_schema_name(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm(), digest.hex())
}

/// The referrers of `digest` in `repo`, sorted by digest. A manifest that cannot be read
/// is skipped (verify reports it); this is a listing, not a check.
pub fn find_referrers(repo: &Repository, digest: &Digest) -> Vec<ReferrerInfo> {
    // The sidecar records each manifest's subject: only the referrers it names, and
    // manifests it has no record of, are read. For display only (FORMAT.md §4).
    referrers_among(repo, digest, &|desc| match repo.meta.manifests.get(&desc.digest) {
        Some(m) if m.kind.is_some() => m.subject.as_ref() == Some(digest),
        _ => true,
    })
}

/// Every subject in `repo` with the manifests that refer to it, read from the manifest
/// blobs themselves (one parallel pass; the sidecar's record is not trusted): for
/// operations that act on referrers, such as push, which then ask
/// [`find_referrers_in`] per subject.
pub fn subjects_from_blobs(repo: &Repository) -> HashMap<Digest, BTreeSet<Digest>> {
    let pairs: Vec<(Digest, Digest)> = distinct_entries(repo)
        .into_par_iter()
        .filter(|desc| desc.kind().has_children() || desc.media_type.is_empty())
        .filter_map(|desc| {
            let doc = repo.read_document(&desc.digest, &desc.media_type).ok()?;
            Some((doc.subject?.digest, desc.digest.clone()))
        })
        .collect();
    let mut out: HashMap<Digest, BTreeSet<Digest>> = HashMap::new();
    for (subject, referrer) in pairs {
        out.entry(subject).or_default().insert(referrer);
    }
    out
}

/// [`find_referrers`], with the candidates taken from `subjects` (made by
/// [`subjects_from_blobs`]) instead of the sidecar.
pub fn find_referrers_in(
    repo: &Repository,
    digest: &Digest,
    subjects: &HashMap<Digest, BTreeSet<Digest>>,
) -> Vec<ReferrerInfo> {
    let of = subjects.get(digest);
    referrers_among(repo, digest, &|desc| of.is_some_and(|s| s.contains(&desc.digest)))
}

/// The referrers of `digest` among the manifests `candidate` admits (each is read and
/// checked), plus those the referrers tag schema lists.
fn referrers_among(
    repo: &Repository,
    digest: &Digest,
    candidate: &(dyn Fn(&Descriptor) -> bool + Sync),
) -> Vec<ReferrerInfo> {
    let mut out: BTreeMap<Digest, ReferrerInfo> = BTreeMap::new();
    // Read in parallel; a referrer's bytes must contain the subject's hex digest, so the
    // rest are skipped without parsing.
    let hex = digest.hex();
    let found: Vec<(&Descriptor, Document)> = distinct_entries(repo)
        .into_par_iter()
        .filter(|desc| &desc.digest != digest && (desc.kind().has_children() || desc.media_type.is_empty()))
        .filter(|desc| candidate(desc))
        .filter_map(|desc| {
            let bytes = repo.blobs.read(&desc.digest, MAX_DOCUMENT_BYTES).ok()?;
            if !contains(&bytes, hex.as_bytes()) {
                return None;
            }
            let doc = Document::parse(&bytes, &desc.media_type).ok()?;
            doc.subject.as_ref().is_some_and(|s| &s.digest == digest).then_some((desc, doc))
        })
        .collect();
    let tags_by_digest = tags_by_digest(repo);
    for (desc, doc) in found {
        let d = desc.digest.clone();
        // As the distribution spec's referrers API: artifactType, else the config's
        // media type.
        let artifact_type = doc
            .artifact_type
            .clone()
            .or_else(|| desc.artifact_type.clone())
            .or_else(|| doc.config.as_ref().map(|c| c.media_type.clone()));
        let mut annotations = if doc.annotations.is_empty() { desc.annotations.to_map() } else { doc.annotations };
        annotations.remove(crate::model::media::ANNOTATION_REF_NAME);
        out.insert(
            d.clone(),
            ReferrerInfo {
                tags: tags_by_digest.get(&d).cloned().unwrap_or_default(),
                digest: d,
                media_type: doc.media_type.unwrap_or_else(|| desc.media_type.clone()),
                artifact_type,
                size: desc.size,
                annotations,
                found_by: vec![FoundBy::Subject],
                present: true,
            },
        );
    }
    // The tag schema: an index tagged sha256-<hex> lists the referrers.
    if let Ok(tag) = crate::model::Tag::parse(&tag_schema_name(digest))
        && let Some(idx) = repo.tag_digest(&tag)
        && let Some(idesc) = repo.descriptor_of(idx)
        && (idesc.kind() == MediaKind::Index || idesc.media_type.is_empty() || idesc.media_type == OCI_INDEX)
        && let Ok(doc) = repo.read_document(idx, &idesc.media_type)
        && doc.kind == MediaKind::Index
    {
        for m in &doc.manifests {
            if let Some(existing) = out.get_mut(&m.digest) {
                existing.found_by.push(FoundBy::TagSchema);
                continue;
            }
            out.insert(
                m.digest.clone(),
                ReferrerInfo {
                    digest: m.digest.clone(),
                    media_type: m.media_type.clone(),
                    artifact_type: m.artifact_type.clone(),
                    size: m.size,
                    tags: tags_by_digest.get(&m.digest).cloned().unwrap_or_default(),
                    annotations: m.annotations.to_map(),
                    found_by: vec![FoundBy::TagSchema],
                    present: repo.blobs.contains(&m.digest),
                },
            );
        }
    }
    out.into_values().collect()
}

/// Every tag of the repository, grouped by the digest it points at (tags sorted).
fn tags_by_digest(repo: &Repository) -> BTreeMap<Digest, Vec<String>> {
    let mut out: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for (tag, desc) in repo.tag_entries() {
        out.entry(desc.digest.clone()).or_default().push(tag.to_string());
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `wharf referrers REF`.
pub fn referrers(ctx: &Ctx<'_>, r: &Reference) -> Result<ReferrersReport> {
    let _lock = ctx.read_lock()?;
    let repo = ctx.registry.open_repo(&r.repo, ctx.now)?;
    // Like the distribution API, referrers of a digest are listed even when the subject
    // itself is not in the repository (an artifact pushed before, or without, its image).
    let (digest, subject_present) = match (repo.locate(r), &r.tag, &r.digest) {
        (Ok((resolved, _, _)), _, _) => (resolved.digest, true),
        (Err(Error::ManifestNotFound { .. }), None, Some(d)) => (d.clone(), false),
        (Err(e), _, _) => return Err(e),
    };
    Ok(ReferrersReport {
        repository: repo.name.clone(),
        reference: r.to_string(),
        referrers: find_referrers(&repo, &digest),
        digest,
        subject_present,
    })
}
