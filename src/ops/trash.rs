//! Soft delete: pinning removed items in the trash, `wharf deleted` and `wharf restore`.
//!
//! Every removing operation (delete, untag, purge, retention, gc's referrer cleanup)
//! builds its [`TrashItem`]s from the repository *before* changing it, writes them with
//! [`pin`] when soft delete is on, and only then rewrites index.json ("pin first").

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::media::ANNOTATION_REF_NAME;
use crate::model::{Digest, Reference, RepoName, Tag, Timestamp};
use crate::registry::meta::TimeSource;
use crate::registry::trash::{TRASH_VERSION, TrashItem, TrashReason, TrashRecord};
use crate::registry::{Registry, Repository};

/// The item for removing manifest `digest` with every index entry (tag) it has.
pub fn manifest_item(repo: &Repository, digest: &Digest) -> TrashItem {
    manifest_items(repo, std::slice::from_ref(digest)).pop().expect("one item per digest")
}

/// The items for removing many manifests (one pass over index.json).
pub fn manifest_items(repo: &Repository, digests: &[Digest]) -> Vec<TrashItem> {
    let wanted: std::collections::BTreeSet<&Digest> = digests.iter().collect();
    let mut entries: BTreeMap<&Digest, Vec<crate::model::Descriptor>> = BTreeMap::new();
    for d in &wanted {
        entries.insert(d, repo.entries_of(d).into_iter().cloned().collect());
    }
    digests
        .iter()
        .map(|d| {
            let entries = entries.remove(d).unwrap_or_default();
            let tags = entries
                .iter()
                .filter_map(|e| e.ref_name())
                .filter_map(|t| repo.meta.tags.get(t).map(|m| (t.to_string(), m.clone())))
                .collect();
            TrashItem {
                digest: d.clone(),
                media_type: entries.first().map(|e| e.media_type.clone()).unwrap_or_default(),
                entries,
                tags,
                manifest: repo.meta.manifests.get(d).cloned(),
            }
        })
        .collect()
}

/// The items for removing many tags (one pass over index.json).
pub fn tag_items(repo: &Repository, tags: &std::collections::BTreeSet<String>) -> Vec<TrashItem> {
    repo.index()
        .manifests
        .iter()
        .filter(|e| e.ref_name().is_some_and(|t| tags.contains(t)))
        .map(|e| {
            let t = e.ref_name().expect("filtered");
            TrashItem {
                digest: e.digest.clone(),
                media_type: e.media_type.clone(),
                entries: vec![e.clone()],
                tags: repo.meta.tags.get(t).map(|m| (t.to_string(), m.clone())).into_iter().collect(),
                manifest: None,
            }
        })
        .collect()
}

/// The item for removing one tag (its manifest stays).
pub fn tag_item(repo: &Repository, tag: &Tag) -> Option<TrashItem> {
    let entry = repo.tag_entry(tag)?.clone();
    let mut tags = BTreeMap::new();
    if let Some(m) = repo.meta.tags.get(tag.as_str()) {
        tags.insert(tag.to_string(), m.clone());
    }
    Some(TrashItem {
        digest: entry.digest.clone(),
        media_type: entry.media_type.clone(),
        entries: vec![entry],
        tags,
        manifest: None,
    })
}

/// When a record written at `now` expires under a soft-delete policy of `days`.
pub(crate) fn soft_delete_expiry(now: Timestamp, days: u32) -> Result<Timestamp> {
    Ok(crate::model::time::expiry(
        now,
        chrono::Duration::days(i64::from(days)),
        "the soft-delete policy (config soft-delete --days)",
    )?)
}

/// Writes one trash record for `items` when soft delete is on (nothing otherwise, and
/// nothing for no items). Returns the record written.
pub fn pin(
    registry: &Registry,
    repo: &RepoName,
    reason: TrashReason,
    now: Timestamp,
    items: Vec<TrashItem>,
) -> Result<Option<TrashRecord>> {
    let Some(days) = registry.config().soft_delete.days else { return Ok(None) };
    if items.is_empty() {
        return Ok(None);
    }
    let rec = TrashRecord {
        wharf_trash_version: TRASH_VERSION,
        id: registry.new_trash_id(now),
        repository: repo.to_string(),
        reason,
        deleted_at: now,
        expires_at: soft_delete_expiry(now, days)?,
        items,
    };
    registry.write_trash(&rec)?;
    Ok(Some(rec))
}

#[derive(Debug, Serialize)]
pub struct DeletedItem {
    pub id: String,
    pub repository: String,
    pub digest: Digest,
    /// `manifest` (the manifest and its tags went) or `tag` (only the tag went).
    pub kind: &'static str,
    pub tags: Vec<String>,
    pub reason: TrashReason,
    pub deleted_at: Timestamp,
    pub expires_at: Timestamp,
    pub expired: bool,
}

#[derive(Debug, Serialize)]
pub struct DeletedReport {
    pub soft_delete_days: Option<u32>,
    pub items: Vec<DeletedItem>,
}

/// `wharf deleted [REPO]`: every soft-deleted item, oldest first per repository.
pub fn deleted(ctx: &Ctx<'_>, repo: Option<&RepoName>) -> Result<DeletedReport> {
    let _lock = ctx.read_lock()?;
    let mut items = Vec::new();
    for rec in ctx.registry.trash_records()? {
        if repo.is_some_and(|r| r.as_str() != rec.repository) {
            continue;
        }
        for it in &rec.items {
            items.push(DeletedItem {
                id: rec.id.clone(),
                repository: rec.repository.clone(),
                digest: it.digest.clone(),
                kind: if it.manifest.is_some() { "manifest" } else { "tag" },
                tags: it.tag_names(),
                reason: rec.reason,
                deleted_at: rec.deleted_at,
                expires_at: rec.expires_at,
                expired: rec.expired(ctx.now),
            });
        }
    }
    Ok(DeletedReport { soft_delete_days: ctx.registry.config().soft_delete.days, items })
}

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub repository: RepoName,
    pub digest: Digest,
    pub restored_tags: Vec<String>,
    /// Tags of the item that now point at another manifest and were left alone (no --force).
    pub skipped_tags: Vec<String>,
    /// True when the manifest itself came back (it had been deleted, not just untagged).
    pub manifest_restored: bool,
    pub trash_id: String,
}

/// `wharf restore REPO:TAG [--digest D] [--force]` (also `REPO@DIGEST` for an untagged
/// manifest): the newest unexpired item that matches comes back with byte-identical index
/// entries and its sidecar metadata; the children of an index come back with it (their
/// blobs were pinned). The named tag, if it now points elsewhere, moves only with --force;
/// the item's other tags that point elsewhere are skipped unless --force.
pub fn restore(ctx: &Ctx<'_>, reference: &Reference, digest: Option<&Digest>, force: bool) -> Result<RestoreReport> {
    if let (Some(a), Some(b)) = (digest, reference.digest.as_ref())
        && a != b
    {
        return Err(Error::Usage(format!("`{reference}` and --digest {a} name different manifests")));
    }
    let want_digest = digest.or(reference.digest.as_ref());
    let _lock = ctx.write_lock()?;
    let mut found: Option<(TrashRecord, usize)> = None;
    for rec in ctx.registry.trash_records()? {
        if rec.repository != reference.repo.as_str() || rec.expired(ctx.now) {
            continue;
        }
        for (i, it) in rec.items.iter().enumerate() {
            let tag_ok = reference.tag.as_ref().is_none_or(|t| it.tag_names().iter().any(|n| n == t.as_str()));
            let digest_ok = want_digest.is_none_or(|d| d == &it.digest);
            if tag_ok && digest_ok && found.as_ref().is_none_or(|(r, _)| r.deleted_at <= rec.deleted_at) {
                found = Some((rec.clone(), i));
            }
        }
    }
    let Some((mut rec, idx)) = found else {
        return Err(Error::NotFound {
            what: format!("`{reference}`{}", digest.map(|d| format!(" with digest {d}")).unwrap_or_default()),
            detail: format!(
                "is not in the trash (or its soft-delete period has expired); see `wharf deleted {}`",
                reference.repo
            ),
        });
    };
    let item = rec.items[idx].clone();
    let mut repo = ctx.registry.open_repo(&reference.repo, ctx.now)?;
    for b in repo.closure(&item.digest, &item.media_type, false)? {
        if !b.present {
            return Err(Error::BlobMissing {
                context: format!("{}@{} (in the trash)", reference.repo, item.digest),
                digest: b.digest.to_string(),
                dir: repo.dir.clone(),
                repo: reference.repo.to_string(),
            });
        }
    }
    let mut restored_tags = Vec::new();
    let mut skipped_tags = Vec::new();
    let manifest_restored = repo.descriptor_of(&item.digest).is_none();
    let mut tag_entries = Vec::new();
    for e in &item.entries {
        match e.ref_name().map(Tag::parse) {
            Some(Ok(tag)) => {
                // The named tag is checked as any tag move is (locks, then --force); the
                // item's other tags that point elsewhere are skipped without --force.
                if reference.tag.as_ref() == Some(&tag) {
                    repo.check_set_tag(&tag, &item.digest, force)?;
                } else if !force && repo.tag_digest(&tag).is_some_and(|d| d != &item.digest) {
                    skipped_tags.push(tag.to_string());
                    continue;
                }
                tag_entries.push((tag, e.clone()));
            }
            _ => {
                if manifest_restored
                    && repo.check_add_untagged(&format!("restoring into {}", reference.repo), &e.digest)?
                {
                    repo.add_untagged(e, ctx.now);
                }
            }
        }
    }
    for (tag, e) in &tag_entries {
        let mut desc = e.clone();
        desc.annotations.remove(ANNOTATION_REF_NAME);
        repo.set_tag(tag, &desc, true, ctx.now)?;
        // set_tag rebuilds the entry from the descriptor: put back the exact bytes.
        repo.replace_tag_entry(tag, e.clone());
        if let Some(m) = item.tags.get(tag.as_str()) {
            let mut m = m.clone();
            // A record pinned by a version-1 wharf may carry an image build time as the
            // tag's registry time: the restore is the registry event then.
            if m.created_source.is_image_time() {
                (m.created, m.updated, m.created_source) = (ctx.now, ctx.now, TimeSource::Wharf);
            }
            repo.meta.tags.insert(tag.to_string(), m);
        }
        restored_tags.push(tag.to_string());
    }
    if manifest_restored && let Some(m) = &item.manifest {
        let mut m = m.clone();
        if m.created_source.is_image_time() {
            if m.created_source != TimeSource::Mtime {
                m.image_created = m.image_created.or(Some(m.created));
            }
            (m.created, m.created_source) = (ctx.now, TimeSource::Wharf);
        }
        if !tag_entries.is_empty() {
            m.untagged_at = None;
            m.untagged_source = None;
        }
        repo.meta.manifests.insert(item.digest.clone(), m);
    }
    repo.meta.repository.updated = ctx.now;
    repo.save()?;
    rec.items.remove(idx);
    ctx.registry.write_trash(&rec)?;
    Ok(RestoreReport {
        repository: reference.repo.clone(),
        digest: item.digest,
        restored_tags,
        skipped_tags,
        manifest_restored,
        trash_id: rec.id,
    })
}
