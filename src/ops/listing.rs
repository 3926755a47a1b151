//! Read-only listings: `repos`, `tags`, `manifests`. Objects whose `list_enabled` is
//! false are hidden, as in ACR.

use serde::Serialize;

use super::Ctx;
use crate::error::Result;
use crate::model::{Digest, Locks, RepoName, Timestamp};
use crate::registry::Repository;
use crate::registry::meta::TimeSource;

/// One repository in [`ReposReport`].
#[derive(Debug, Serialize)]
pub struct RepoSummary {
    /// The repository's name.
    pub name: RepoName,
    /// Its tags.
    pub tags: usize,
    /// Its top-level manifests.
    pub manifests: usize,
    /// Bytes of the distinct blob files in the repository.
    pub size: u64,
    /// When it was made (or first adopted).
    pub created: Timestamp,
    /// When a tag or manifest last changed.
    pub updated: Timestamp,
    /// The repository's lock attributes.
    pub locks: Locks,
    /// The kinds of its manifests (image, index, helm-chart, artifact, referrer).
    pub kinds: Vec<crate::model::kind::ArtifactKind>,
}

/// A repository that could not be listed, and why.
#[derive(Debug, Serialize)]
pub struct RepoError {
    /// The repository's name.
    pub name: RepoName,
    /// Why it could not be read.
    pub message: String,
}

/// The report of [`Registry::repos`](crate::Registry::repos) (`wharf repos`).
#[derive(Debug, Serialize)]
pub struct ReposReport {
    /// The repositories, sorted by name (those with `list_enabled = false` are left out).
    pub repositories: Vec<RepoSummary>,
    /// Repositories that could not be read (a broken index.json, an unsupported
    /// sidecar…): the others are still listed, and the command exits 1.
    pub errors: Vec<RepoError>,
}

/// `wharf repos`. One broken repository does not hide the others: it is reported in
/// `errors` and the listing goes on.
pub fn repos(ctx: &Ctx<'_>) -> Result<ReposReport> {
    let _lock = ctx.read_lock()?;
    let mut repositories = Vec::new();
    let mut errors = Vec::new();
    // A link or special file (a FIFO index.json, a symlinked sidecar) breaks the one
    // repository it is in, reported like an invalid index.json; one outside every
    // repository still fails the listing (wharf cannot see the tree's extent).
    let tree = ctx.registry.scan_tree()?;
    let mut names = tree.repositories.clone();
    let mut broken: std::collections::BTreeMap<RepoName, String> = std::collections::BTreeMap::new();
    for (path, kind) in tree.special {
        let mut owner = None;
        for n in &names {
            if ctx.registry.repo_dir(n).is_ok_and(|d| path.starts_with(&d) && path != d) {
                owner = Some(n.clone());
            }
        }
        if owner.is_none()
            && let Some(parent) = path.parent()
            && let Ok(rel) = parent.strip_prefix(ctx.registry.root())
            && let Some(rel) = rel.to_str()
            && let Ok(n) = RepoName::parse(rel)
            && ctx.registry.repo_dir(&n).is_ok_and(|d| d == parent)
            && path.file_name().is_some_and(|f| f == "index.json" || f == "oci-layout")
        {
            owner = Some(n);
        }
        let Some(owner) = owner else {
            return Err(crate::error::Error::SpecialFile { path, kind });
        };
        let message = crate::error::Error::SpecialFile { path, kind }.to_string();
        broken.entry(owner.clone()).or_insert(message);
        if !names.contains(&owner) {
            names.push(owner);
        }
    }
    names.sort();
    for name in names {
        if let Some(message) = broken.remove(&name) {
            errors.push(RepoError { name, message });
            continue;
        }
        let read = ctx.registry.open_repo(&name, ctx.now).and_then(|repo| {
            let size: u64 = repo.blobs.list()?.blobs.iter().map(|b| b.size).sum();
            Ok((repo, size))
        });
        let (repo, size) = match read {
            Ok(r) => r,
            Err(e) => {
                errors.push(RepoError { name, message: e.to_string() });
                continue;
            }
        };
        if !repo.repo_locks().list_enabled {
            continue;
        }
        repositories.push(RepoSummary {
            name,
            tags: repo.tag_count(),
            manifests: repo.manifest_count(),
            size,
            created: repo.meta.repository.created,
            updated: repo.meta.repository.updated,
            locks: repo.repo_locks(),
            kinds: repo.kinds(),
        });
    }
    Ok(ReposReport { repositories, errors })
}

/// One tag in [`TagsReport`].
#[derive(Debug, Serialize)]
pub struct TagInfo {
    /// The tag.
    pub name: String,
    /// The manifest it points at.
    pub digest: Digest,
    /// That manifest's media type.
    pub media_type: String,
    /// That manifest's size in bytes.
    pub size: u64,
    /// When the tag appeared in this repository (a registry time).
    pub created: Timestamp,
    /// Where `created` came from: `wharf` (wharf made the change) or `observed` (another
    /// tool did; the time wharf first saw it).
    pub created_source: TimeSource,
    /// When the tag was last (re)pointed. Purge's `--ago` counts from here.
    pub updated: Timestamp,
    /// The image's build time (annotation or config `created`); shown, never used for
    /// purge or retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_created: Option<Timestamp>,
    /// The tag's lock attributes.
    pub locks: Locks,
}

/// The report of [`Registry::tags`](crate::Registry::tags) (`wharf tags`).
#[derive(Debug, Serialize)]
pub struct TagsReport {
    /// The repository.
    pub repository: RepoName,
    /// Its tags, sorted by name (those with `list_enabled = false` are left out).
    pub tags: Vec<TagInfo>,
}

pub(crate) fn tag_infos(repo: &Repository, include_hidden: bool) -> Vec<TagInfo> {
    repo.tag_entries()
        .into_iter()
        .filter_map(|(tag, desc)| {
            let meta = repo.meta.tags.get(tag.as_str())?;
            let manifest = repo.meta.manifests.get(&desc.digest);
            let visible = meta.locks.list_enabled && manifest.is_none_or(|m| m.locks.list_enabled);
            (include_hidden || visible).then(|| TagInfo {
                name: tag.to_string(),
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
                size: desc.size,
                created: meta.created,
                created_source: meta.created_source,
                updated: meta.updated,
                image_created: manifest.and_then(|m| m.image_created),
                locks: meta.locks,
            })
        })
        .collect()
}

/// `wharf tags REPO`.
pub fn tags(ctx: &Ctx<'_>, repo: &RepoName) -> Result<TagsReport> {
    let _lock = ctx.read_lock()?;
    let repo = ctx.registry.open_repo(repo, ctx.now)?;
    Ok(TagsReport { repository: repo.name.clone(), tags: tag_infos(&repo, false) })
}

/// `wharf tags REPO --orderby time_asc|time_desc [--top N]`: tags ordered by when they
/// were last updated (ties by name), then the first N.
pub fn tags_ordered(
    ctx: &Ctx<'_>,
    repo: &RepoName,
    orderby: Option<super::inspect::OrderBy>,
    top: Option<usize>,
) -> Result<TagsReport> {
    let mut r = tags(ctx, repo)?;
    match orderby {
        Some(super::inspect::OrderBy::TimeAsc) => {
            r.tags.sort_by(|a, b| a.updated.cmp(&b.updated).then_with(|| a.name.cmp(&b.name)))
        }
        Some(super::inspect::OrderBy::TimeDesc) => {
            r.tags.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.name.cmp(&b.name)))
        }
        None => {}
    }
    if let Some(n) = top {
        r.tags.truncate(n);
    }
    Ok(r)
}
