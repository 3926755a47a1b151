//! `wharf add REPO:TAG FILE[:MEDIATYPE]... [--artifact-type T] [--annotation K=V]...
//! [--force]`: `oras push` into the local registry. Each file is streamed once (hashed
//! while it is staged), the OCI 1.1 artifact manifest is written over them (see
//! [`super::artifact`]), and under the exclusive lock the tag is checked (locks, and
//! `--force` to move it) before any blob enters the registry: blobs first, then
//! index.json. A refusal leaves the registry byte-identical.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use super::artifact::{self, FileReport, FileSpec, Staged};
use crate::error::{Error, Result};
use crate::model::{Digest, Reference, RepoName, Tag};
use crate::registry::TagChange;

#[derive(Debug, Clone)]
pub struct Options {
    pub reference: Reference,
    pub files: Vec<FileSpec>,
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
    pub force: bool,
}

/// The report of [`Registry::add`](crate::Registry::add) (`wharf add`).
#[derive(Debug, Serialize)]
pub struct AddReport {
    /// The repository the artifact went into.
    pub repository: RepoName,
    /// The tag it got.
    pub tag: Tag,
    /// The artifact manifest's digest.
    pub digest: Digest,
    /// The artifact's type.
    pub artifact_type: String,
    /// The artifact manifest's size in bytes.
    pub size: u64,
    /// The files stored, one layer each, in the order given.
    pub files: Vec<FileReport>,
    /// What happened to the tag.
    #[serde(flatten)]
    pub change: TagChange,
    /// Blobs the registry did not hold before.
    pub blobs_new: usize,
    /// Their bytes.
    pub bytes_new: u64,
}

/// `wharf add`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<AddReport> {
    let tag = match (&opts.reference.tag, &opts.reference.digest) {
        (Some(t), None) => t.clone(),
        _ => {
            return Err(Error::Usage(format!(
                "`{}`: wharf add needs REPO:TAG (the tag the artifact gets), without a digest",
                opts.reference
            )));
        }
    };
    let reg = ctx.registry;
    let name = opts.reference.repo.clone();
    reg.repo_dir(&name)?;
    let artifact_type = opts.artifact_type.clone().unwrap_or_else(|| artifact::DEFAULT_ARTIFACT_TYPE.to_string());
    // Validated as attach does: the RFC 6838 shape, which also keeps control characters
    // and oversized strings out of the manifest.
    if !artifact::looks_like_media_type(&artifact_type) {
        return Err(Error::Usage(format!(
            "--artifact-type `{}` is not a media type (type/subtype, e.g. application/spdx+json)",
            artifact_type.escape_default().to_string().chars().take(200).collect::<String>()
        )));
    }
    // Receive: no lock, nothing in the registry changes.
    let mut staged = Staged::new(ctx)?;
    let (desc, layers) =
        artifact::stage_artifact(&mut staged, &opts.files, &artifact_type, opts.annotations.clone(), None)?;
    // Commit: check, then blobs, then index.json.
    let _lock = ctx.write_lock()?;
    let mut unchanged = false;
    if reg.repo_exists(&name) {
        let existing = reg.open_repo(&name, ctx.now)?;
        existing.check_set_tag(&tag, &desc.digest, opts.force)?;
        // The same files under the same tag: nothing to write (a locked repository stays
        // untouched, as for `wharf tag R:T R:T`).
        unchanged = existing.tag_digest(&tag) == Some(&desc.digest);
    }
    let (change, blobs_new, bytes_new) = if unchanged {
        (crate::registry::TagChange::Unchanged, 0, 0)
    } else {
        let mut repo = reg.open_or_create_repo(&name, ctx.now)?;
        let (blobs_new, bytes_new) = staged.commit_into(reg, &repo)?;
        let change = repo.set_tag(&tag, &desc, opts.force, ctx.now)?;
        repo.save()?;
        (change, blobs_new, bytes_new)
    };
    Ok(AddReport {
        repository: name,
        tag,
        digest: desc.digest.clone(),
        artifact_type,
        size: desc.size,
        files: layers.iter().map(FileReport::of).collect(),
        change,
        blobs_new,
        bytes_new,
    })
}
