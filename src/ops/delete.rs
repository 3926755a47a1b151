//! `wharf delete REF | --repository REPO [--dry-run]`.
//!
//! By tag or digest: the manifest and every tag on it leave index.json (to the trash
//! first when soft delete is on); the tags are listed in the report before anything
//! changes. Its blobs go at the next gc. A manifest that another index of the repository
//! lists is refused (delete the index first); any delete lock on the path is refused with
//! the lock named.
//!
//! By repository: the whole layout directory goes, permanently (soft delete covers
//! manifests and tags, not repositories), together with the repository's trash records.
//! It is refused when the repository, or any tag or manifest in it, is locked against
//! delete. The directory is first renamed into `.wharf/staging/` (one atomic step that
//! unlists it), then removed; a crash in between leaves a dead staging area that gc removes.

use serde::Serialize;

use super::Ctx;
use super::trash::{manifest_item, pin};
use crate::error::{Error, Result};
use crate::model::{Action, Digest, Reference, RepoName, Tag, Timestamp};
use crate::registry::RegistryKind;
use crate::registry::trash::TrashReason;
use crate::store::fs::fsync_dir;

/// One manifest a delete removed (or, in a dry run, would remove).
#[derive(Debug, Serialize)]
pub struct DeletedManifest {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// Every tag that pointed at it (they went with it), sorted.
    pub tags: Vec<String>,
}

/// The report of [`Registry::delete`](crate::Registry::delete) and [`Registry::delete_repository`](crate::Registry::delete_repository) (`wharf delete`).
#[derive(Debug, Serialize)]
pub struct DeleteReport {
    /// True for a plan only: nothing was changed.
    pub dry_run: bool,
    /// The repository deleted from (or deleted).
    pub repository: RepoName,
    /// `manifest` or `repository`.
    pub target: &'static str,
    /// The manifests removed; for a repository, every manifest it held.
    pub manifests: Vec<DeletedManifest>,
    /// True when the items went to the trash (restorable until `expires_at`).
    pub soft_deleted: bool,
    /// When the trash record expires (then sweep or gc removes it for good); `None` without soft delete.
    pub expires_at: Option<Timestamp>,
    /// The trash record's id (for `wharf restore`); `None` without soft delete.
    pub trash_id: Option<String>,
}

/// `wharf delete REF [--dry-run]`.
pub fn manifest(ctx: &Ctx<'_>, reference: &Reference, dry_run: bool) -> Result<DeleteReport> {
    let _lock = if dry_run { None } else { Some(ctx.write_lock()?) };
    let _read = if dry_run { ctx.read_lock()? } else { None };
    let mut repo = ctx.registry.open_repo(&reference.repo, ctx.now)?;
    let resolved = repo.resolve(reference)?;
    let entries = repo.plan_remove_manifest(&resolved.digest)?;
    let tags: Vec<String> = entries.iter().filter_map(|e| e.ref_name().map(str::to_string)).collect();
    let planned = DeletedManifest { digest: resolved.digest.clone(), media_type: resolved.descriptor.media_type, tags };
    let soft = ctx.registry.config().soft_delete.days;
    let mut report = DeleteReport {
        dry_run,
        repository: reference.repo.clone(),
        target: "manifest",
        manifests: vec![planned],
        soft_deleted: soft.is_some(),
        expires_at: soft.map(|d| super::trash::soft_delete_expiry(ctx.now, d)).transpose()?,
        trash_id: None,
    };
    if dry_run {
        return Ok(report);
    }
    let item = manifest_item(&repo, &resolved.digest);
    let rec = pin(ctx.registry, &repo.name.clone(), TrashReason::Delete, ctx.now, vec![item])?;
    repo.remove_manifest(&resolved.digest, ctx.now)?;
    repo.save()?;
    report.trash_id = rec.map(|r| r.id);
    Ok(report)
}

/// `wharf delete --repository REPO [--dry-run]`.
pub fn repository(ctx: &Ctx<'_>, name: &RepoName, dry_run: bool) -> Result<DeleteReport> {
    if let RegistryKind::Layout(_) = ctx.registry.kind() {
        return Err(Error::refused(format!(
            "{} is a plain OCI layout, not a registry: wharf does not delete the layout itself; remove the directory if that is what you mean",
            ctx.registry.root().display()
        )));
    }
    let _lock = if dry_run { None } else { Some(ctx.write_lock()?) };
    let _read = if dry_run { ctx.read_lock()? } else { None };
    let repo = ctx.registry.open_repo(name, ctx.now)?;
    let tags: Vec<Tag> = repo.tag_entries().into_iter().map(|(t, _)| t).collect();
    let digests = repo.manifest_digests();
    repo.check(&format!("deleting the repository {name}"), &tags, &digests, Action::Delete)?;
    // Nothing is removed while a link or special file sits anywhere in the directory:
    // the removal would never follow it, but a refusal tells the user before anything
    // changes.
    crate::store::fs::require_no_special(&repo.dir)?;
    // The trash records that go with it, read now: a refusal comes before any change.
    let trash_ids: Vec<String> =
        ctx.registry.trash_records()?.into_iter().filter(|r| r.repository == name.as_str()).map(|r| r.id).collect();
    let manifests = digests
        .iter()
        .map(|d| DeletedManifest {
            digest: d.clone(),
            media_type: repo.descriptor_of(d).map(|e| e.media_type.clone()).unwrap_or_default(),
            tags: repo.tags_of(d).iter().map(|t| t.to_string()).collect(),
        })
        .collect();
    let report = DeleteReport {
        dry_run,
        repository: name.clone(),
        target: "repository",
        manifests,
        soft_deleted: false,
        expires_at: None,
        trash_id: None,
    };
    if dry_run {
        return Ok(report);
    }
    let nested: Vec<RepoName> =
        ctx.registry.repo_names()?.into_iter().filter(|n| n.as_str().starts_with(&format!("{name}/"))).collect();
    let dir = repo.dir.clone();
    drop(repo);
    if nested.is_empty() {
        let staging = ctx.registry.staging_root();
        crate::store::fs::create_dir_all_durable(&staging)?;
        let graveyard =
            staging.join(format!("deleted-{}-{}", std::process::id(), ctx.now.timestamp_nanos_opt().unwrap_or(0)));
        // renameat between parents opened without following links (fsyncs both), then a
        // removal that never descends through a link.
        crate::store::fs::rename_durable(&dir, &graveyard)?;
        crate::store::fs::remove_tree(&graveyard)?;
        fsync_dir(&staging)?;
        remove_empty_parents(ctx.registry.root(), &dir);
    } else {
        // Other repositories live below this one: unlist it first (oci-layout), then
        // remove its own files only.
        if !crate::registry::layout::remove_files(&dir)? {
            return Err(Error::RepoNotFound { repo: name.to_string() });
        }
    }
    for id in &trash_ids {
        ctx.registry.remove_trash(id)?;
    }
    Ok(report)
}

/// Removes now-empty directories between `dir` and `root` (exclusive), so that deleting
/// `team/app` does not leave an empty `team/`.
fn remove_empty_parents(root: &std::path::Path, dir: &std::path::Path) {
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if p == root || !p.starts_with(root) {
            break;
        }
        if crate::store::fs::remove_dir(p).is_err() {
            break;
        }
        if let Some(pp) = p.parent() {
            let _ = fsync_dir(pp);
        }
        cur = p.parent();
    }
}
