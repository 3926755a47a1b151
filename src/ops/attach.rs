//! `wharf attach REF FILE[:MEDIATYPE]... --artifact-type T [--annotation K=V]...`:
//! `oras attach` into the local registry. The new manifest's `subject` is REF's
//! manifest (its media type, digest and size); it is stored untagged in REF's
//! repository, where `wharf referrers REF` finds it.
//!
//! Locks: attaching adds a manifest to the repository and changes neither the tag nor
//! the subject manifest (their bytes and digests stay as they are), so the one object
//! whose `write_enabled` counts is the repository. A locked release can still be
//! signed; a repository with write disabled takes nothing new.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use super::artifact::{self, FileReport, FileSpec, Staged};
use crate::error::{Error, Result};
use crate::model::{Descriptor, Digest, Reference, RepoName};

#[derive(Debug, Clone)]
pub struct Options {
    pub reference: Reference,
    pub files: Vec<FileSpec>,
    pub artifact_type: String,
    pub annotations: BTreeMap<String, String>,
}

/// The report of [`Registry::attach`](crate::Registry::attach) (`wharf attach`).
#[derive(Debug, Serialize)]
pub struct AttachReport {
    /// The repository of the subject, where the attachment is stored untagged.
    pub repository: RepoName,
    /// The subject manifest's digest.
    pub subject: Digest,
    /// The attached manifest's digest.
    pub digest: Digest,
    /// The attachment's artifact type.
    pub artifact_type: String,
    /// The attached manifest's size in bytes.
    pub size: u64,
    /// The files stored, one layer each, in the order given.
    pub files: Vec<FileReport>,
    /// False when the same attachment was already there (same bytes, same digest).
    pub created: bool,
    /// Blobs the registry did not hold before.
    pub blobs_new: usize,
    /// Their bytes.
    pub bytes_new: u64,
}

/// `wharf attach`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<AttachReport> {
    if opts.artifact_type.is_empty() || !artifact::looks_like_media_type(&opts.artifact_type) {
        return Err(Error::Usage(format!(
            "--artifact-type `{}` is not a media type (type/subtype, e.g. application/spdx+json)",
            opts.artifact_type
        )));
    }
    let reg = ctx.registry;
    let name = opts.reference.repo.clone();
    // The subject, read under the shared lock, then staged without any lock.
    let subject = {
        let _lock = ctx.read_lock()?;
        subject_of(ctx, &opts.reference)?
    };
    let mut staged = Staged::new(ctx)?;
    let (desc, layers) = artifact::stage_artifact(
        &mut staged,
        &opts.files,
        &opts.artifact_type,
        opts.annotations.clone(),
        Some(subject.clone()),
    )?;
    let _lock = ctx.write_lock()?;
    // Re-resolve under the exclusive lock: the subject must still be there.
    let now_subject = subject_of(ctx, &opts.reference)?;
    if now_subject.digest != subject.digest {
        return Err(Error::concurrent(format!(
            "{} moved from {} to {} while attaching; run the attach again",
            opts.reference, subject.digest, now_subject.digest
        )));
    }
    let mut repo = reg.open_repo(&name, ctx.now)?;
    let created = repo.check_add_untagged(&format!("attaching to {}", opts.reference), &desc.digest)?;
    // Attached already (the same files, the same subject): nothing to write.
    let (blobs_new, bytes_new) = if created {
        let moved = staged.commit_into(reg, &repo)?;
        repo.add_untagged(&desc, ctx.now);
        repo.save()?;
        moved
    } else {
        (0, 0)
    };
    Ok(AttachReport {
        repository: name,
        subject: subject.digest,
        digest: desc.digest.clone(),
        artifact_type: opts.artifact_type.clone(),
        size: desc.size,
        files: layers.iter().map(FileReport::of).collect(),
        created,
        blobs_new,
        bytes_new,
    })
}

/// REF's manifest as a subject descriptor: media type, digest, size (what oras writes).
fn subject_of(ctx: &Ctx<'_>, r: &Reference) -> Result<Descriptor> {
    let repo = ctx.registry.open_repo(&r.repo, ctx.now)?;
    let (resolved, _, _) = repo.locate(r)?;
    let d = resolved.descriptor;
    if !repo.blobs.contains(&d.digest) {
        return Err(Error::BlobMissing {
            context: r.to_string(),
            digest: d.digest.to_string(),
            dir: repo.dir.clone(),
            repo: r.repo.to_string(),
        });
    }
    Ok(Descriptor::new(&d.media_type, d.digest, d.size))
}
