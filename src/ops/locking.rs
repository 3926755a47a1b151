//! `wharf update`, `wharf lock` and `wharf unlock`: set the four lock attributes of a
//! repository, a tag or a manifest.
//!
//! The object is named by the reference's shape: `REPO` is the repository, `REPO:TAG` the
//! tag, `REPO@DIGEST` the manifest (a top-level entry of index.json), and
//! `REPO:TAG@DIGEST` the tag, after checking that it points at DIGEST (the digest pins the
//! tag, as everywhere else). Changing locks is never refused by locks: it is how they are
//! lifted. Only the sidecar is written, and only when something changed.

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::{Locks, Reference};
use crate::registry::{LockChanges, LockTarget};

/// Which kind of object a lock change applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockObject {
    /// The repository itself (`REPO`).
    Repository,
    /// A tag (`REPO:TAG`).
    Tag,
    /// A manifest (`REPO@DIGEST`).
    Manifest,
}

/// The report of [`Registry::lock`](crate::Registry::lock) (`wharf lock`, `unlock`, `update`).
#[derive(Debug, Serialize)]
pub struct UpdateReport {
    /// The reference as given.
    pub reference: String,
    /// Which kind of object it names.
    pub object: LockObject,
    /// The object's canonical reference (`REPO`, `REPO:TAG` or `REPO@DIGEST`).
    pub target: String,
    /// The attributes before the change.
    pub before: Locks,
    /// The attributes after it.
    pub after: Locks,
    /// False when the attributes already had the values asked for (nothing was written).
    pub changed: bool,
}

/// `wharf update REF [--write-enabled B] …`. At least one attribute must be given.
pub fn update(ctx: &Ctx<'_>, r: &Reference, changes: LockChanges) -> Result<UpdateReport> {
    if changes == LockChanges::default() {
        return Err(Error::Usage(
            "nothing to update: give at least one of --write-enabled, --delete-enabled, --read-enabled, --list-enabled \
             (each true or false)"
                .into(),
        ));
    }
    let _lock = ctx.write_lock()?;
    let mut repo = ctx.registry.open_repo(&r.repo, ctx.now)?;
    let (object, target, label) = match (&r.tag, &r.digest) {
        (None, None) => (LockObject::Repository, LockTarget::Repository, repo.name.to_string()),
        (Some(tag), _) => {
            repo.resolve(r)?;
            (LockObject::Tag, LockTarget::Tag(tag.clone()), format!("{}:{tag}", repo.name))
        }
        (None, Some(d)) => {
            if repo.descriptor_of(d).is_none() {
                let parents = repo.parents_of(d)?;
                if let Some(p) = parents.first() {
                    return Err(Error::refused(format!(
                        "{r} is a manifest inside the index {}@{p}, not an entry of index.json; locks are kept for \
                         top-level manifests: lock the index instead (`wharf lock {}@{p}`)",
                        repo.name, repo.name
                    )));
                }
            }
            repo.resolve(r)?;
            (LockObject::Manifest, LockTarget::Manifest(d.clone()), format!("{}@{d}", repo.name))
        }
    };
    let before = match &target {
        LockTarget::Repository => repo.repo_locks(),
        LockTarget::Tag(t) => repo.tag_locks(t),
        LockTarget::Manifest(d) => repo.manifest_locks(d),
    };
    let after = repo.set_locks(&target, changes)?;
    let changed = before != after;
    // A sidecar reconciled on this load (an adopted layout, a foreign change) is written
    // back too, so later commands find the observed times recorded.
    if changed || repo.meta_dirty {
        repo.save_meta()?;
    }
    Ok(UpdateReport { reference: r.to_string(), object, target: label, before, after, changed })
}

/// `wharf lock REF`: write and delete disabled.
pub fn lock(ctx: &Ctx<'_>, r: &Reference) -> Result<UpdateReport> {
    update(ctx, r, LockChanges { write_enabled: Some(false), delete_enabled: Some(false), ..LockChanges::default() })
}

/// `wharf unlock REF`: write and delete enabled.
pub fn unlock(ctx: &Ctx<'_>, r: &Reference) -> Result<UpdateReport> {
    update(ctx, r, LockChanges { write_enabled: Some(true), delete_enabled: Some(true), ..LockChanges::default() })
}
