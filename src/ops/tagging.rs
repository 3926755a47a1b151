//! `wharf tag` and `wharf untag`.

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::{Digest, Reference, Tag};
use crate::registry::TagChange;

/// The report of [`Registry::tag`](crate::Registry::tag) (`wharf tag`).
#[derive(Debug, Serialize)]
pub struct TagReport {
    /// The source reference as given.
    pub source: String,
    /// The target reference as given.
    pub target: String,
    /// The manifest the target tag now points at.
    pub digest: Digest,
    /// What happened to the target tag.
    #[serde(flatten)]
    pub change: TagChange,
}

/// `wharf tag SOURCE TARGET [--force]`: points TARGET's tag at SOURCE's manifest. Across
/// repositories the manifest's blobs are linked into the target repository first.
pub fn tag(ctx: &Ctx<'_>, source: &Reference, target: &Reference, force: bool) -> Result<TagReport> {
    let target_tag: Tag =
        target.tag.clone().ok_or_else(|| Error::Usage(format!("target `{target}` names no tag: expected REPO:TAG")))?;
    if target.digest.is_some() {
        return Err(Error::Usage(format!("target `{target}` must be REPO:TAG, without a digest")));
    }
    let _lock = ctx.write_lock()?;
    let src_repo = ctx.registry.open_repo(&source.repo, ctx.now)?;
    // The source may be a platform manifest inside a top-level index (by digest); the
    // index's read locks then apply to it as well.
    let (resolved, parents, _) = src_repo.locate(source)?;
    src_repo.check_read(&format!("reading {source}"), &resolved, &parents)?;
    let mut desc = resolved.descriptor.clone();
    desc.annotations.remove(crate::model::media::ANNOTATION_REF_NAME);
    let mut dst_repo = if target.repo == source.repo {
        src_repo
    } else {
        // Refuse before anything is written (the repository created, a blob linked) when
        // the target forbids the change or the tag exists without --force.
        let mut dst = if ctx.registry.repo_exists(&target.repo) {
            let dst = ctx.registry.open_repo(&target.repo, ctx.now)?;
            dst.check_set_tag(&target_tag, &resolved.digest, force)?;
            dst
        } else {
            ctx.registry.open_or_create_repo(&target.repo, ctx.now)?
        };
        ctx.registry.copy_closure(&src_repo, &dst, &resolved.digest, &desc.media_type)?;
        dst.meta_dirty = true;
        dst
    };
    let change = dst_repo.set_tag(&target_tag, &desc, force, ctx.now)?;
    if change != TagChange::Unchanged || dst_repo.meta_dirty {
        dst_repo.save()?;
    }
    Ok(TagReport { source: source.to_string(), target: target.to_string(), digest: resolved.digest, change })
}

/// The report of [`Registry::untag`](crate::Registry::untag) (`wharf untag`).
#[derive(Debug, Serialize)]
pub struct UntagReport {
    /// The reference as given.
    pub reference: String,
    /// The manifest the tag pointed at (it stays, addressable by digest).
    pub digest: Digest,
    /// Tags the manifest still has; empty means it is now untagged.
    pub remaining_tags: Vec<String>,
}

/// `wharf untag REPO:TAG`.
pub fn untag(ctx: &Ctx<'_>, reference: &Reference) -> Result<UntagReport> {
    let tag =
        reference.tag.clone().ok_or_else(|| Error::Usage(format!("`{reference}` names no tag: expected REPO:TAG")))?;
    let _lock = ctx.write_lock()?;
    let mut repo = ctx.registry.open_repo(&reference.repo, ctx.now)?;
    if reference.digest.is_some() {
        repo.resolve(reference)?;
    }
    // Soft delete: pin the tag in the trash before index.json changes. The item is built
    // only after the lock checks that untag itself makes would pass.
    if ctx.registry.config().soft_delete.days.is_some() {
        repo.check_untag(&tag)?;
        let items = super::trash::tag_item(&repo, &tag).into_iter().collect();
        super::trash::pin(ctx.registry, &reference.repo, crate::registry::trash::TrashReason::Untag, ctx.now, items)?;
    }
    let removed = repo.untag(&tag, ctx.now)?;
    repo.save()?;
    let remaining_tags = repo.tags_of(&removed.digest).iter().map(|t| t.to_string()).collect();
    Ok(UntagReport { reference: reference.to_string(), digest: removed.digest, remaining_tags })
}
