//! Read-only listings: `repos`, `tags`, `manifests`. Objects whose `list_enabled` is
//! false are hidden, as in ACR.

use serde::Serialize;

use super::Ctx;
use crate::error::Result;
use crate::model::{Digest, Locks, RepoName, Timestamp};
use crate::registry::Repository;
use crate::registry::meta::TimeSource;

#[derive(Debug, Serialize)]
pub struct RepoSummary {
    pub name: RepoName,
    pub tags: usize,
    pub manifests: usize,
    /// Bytes of the distinct blob files in the repository.
    pub size: u64,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub locks: Locks,
    /// The kinds of its manifests (image, index, helm-chart, artifact, referrer).
    pub kinds: Vec<crate::model::kind::ArtifactKind>,
}

#[derive(Debug, Serialize)]
pub struct ReposReport {
    pub repositories: Vec<RepoSummary>,
}

/// `wharf repos`.
pub fn repos(ctx: &Ctx<'_>) -> Result<ReposReport> {
    let _lock = ctx.read_lock()?;
    let mut repositories = Vec::new();
    for name in ctx.registry.repo_names()? {
        let repo = ctx.registry.open_repo(&name, ctx.now)?;
        if !repo.repo_locks().list_enabled {
            continue;
        }
        let size = repo.blobs.list()?.blobs.iter().map(|b| b.size).sum();
        repositories.push(RepoSummary {
            name,
            tags: repo.tag_entries().len(),
            manifests: repo.manifest_digests().len(),
            size,
            created: repo.meta.repository.created,
            updated: repo.meta.repository.updated,
            locks: repo.repo_locks(),
            kinds: repo.kinds(),
        });
    }
    Ok(ReposReport { repositories })
}

#[derive(Debug, Serialize)]
pub struct TagInfo {
    pub name: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub created: Timestamp,
    /// Where `created` came from (wharf, annotation, config, mtime, observed).
    pub created_source: TimeSource,
    pub updated: Timestamp,
    pub locks: Locks,
}

#[derive(Debug, Serialize)]
pub struct TagsReport {
    pub repository: RepoName,
    pub tags: Vec<TagInfo>,
}

pub(crate) fn tag_infos(repo: &Repository, include_hidden: bool) -> Vec<TagInfo> {
    repo.tag_entries()
        .into_iter()
        .filter_map(|(tag, desc)| {
            let meta = repo.meta.tags.get(tag.as_str())?;
            let visible = meta.locks.list_enabled && repo.manifest_locks(&desc.digest).list_enabled;
            (include_hidden || visible).then(|| TagInfo {
                name: tag.to_string(),
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
                size: desc.size,
                created: meta.created,
                created_source: meta.created_source,
                updated: meta.updated,
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
