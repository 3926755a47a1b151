//! The one error type of the crate. Variants say what went wrong and carry what a user
//! needs to fix it; every I/O error names its path and what was being done. Findings
//! (a corrupt blob seen by verify) are report entries, not errors.

use std::io;
use std::path::PathBuf;

use crate::model::retention::FilterError;
use crate::model::{DigestError, LockAttribute, ReferenceError, time::TimeError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("could not {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },

    #[error(transparent)]
    Reference(#[from] ReferenceError),

    #[error(transparent)]
    Digest(#[from] DigestError),

    #[error(transparent)]
    Time(#[from] TimeError),

    #[error(transparent)]
    Filter(#[from] FilterError),

    #[error("{0}")]
    Usage(String),

    #[error(
        "{} is neither a wharf registry nor an OCI image layout (no .wharf/registry.json, no oci-layout): run `wharf --root {} init` to make it a registry, or point --root at a layout",
        path.display(), path.display()
    )]
    NotARegistry { path: PathBuf },

    #[error("{} is already a wharf registry", path.display())]
    AlreadyRegistry { path: PathBuf },

    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },

    #[error(
        "{}: sidecar format version {found} is not supported by this wharf (it reads version {supported}); upgrade wharf, or move the file aside to rebuild the metadata from index.json",
        path.display()
    )]
    SidecarVersion { path: PathBuf, found: u64, supported: u64 },

    #[error(
        "{}: registry format version {found} is not supported by this wharf (it reads version {supported}); upgrade wharf",
        path.display()
    )]
    RegistryVersion { path: PathBuf, found: u64, supported: u64 },

    #[error("repository `{repo}` does not exist (see `wharf repos`)")]
    RepoNotFound { repo: String },

    #[error("tag `{reference}` does not exist (see `wharf tags {repo}`)")]
    TagNotFound { reference: String, repo: String },

    #[error("manifest `{reference}` is not in the repository (see `wharf manifests {repo}`)")]
    ManifestNotFound { reference: String, repo: String },

    #[error("`{reference}` points at {actual}, not at the digest {expected} the reference names")]
    TagDigestMismatch { reference: String, expected: String, actual: String },

    #[error("{what}: digest mismatch: expected {expected}, computed {actual}")]
    DigestMismatch { what: String, expected: String, actual: String },

    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch { what: String, expected: u64, actual: u64 },

    #[error("{what}: larger than the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },

    #[error(
        "{target} is locked: {object} has {} = false; lift it with `wharf update {object_ref} {} true`{}",
        attribute.name(), attribute.flag(), unlock_hint(*attribute, object_ref)
    )]
    Locked { target: String, object: String, object_ref: String, attribute: LockAttribute },

    #[error(
        "tag `{reference}` already points at {current}; pass --force to move it (the old manifest stays, untagged)"
    )]
    TagExists { reference: String, current: String },

    #[error("{what} is referenced by {by}; remove that first")]
    InUse { what: String, by: String },

    #[error("the registry lock {} is held by another process and --no-wait was given", path.display())]
    LockBusy { path: PathBuf },

    #[error("{0}")]
    Invalid(String),

    /// A link or special file where wharf expects a regular file or a directory (see
    /// docs/FORMAT.md, "Links and special files").
    #[error("{}: is {} where wharf expects a regular file or directory; {}", path.display(), kind.describe(), kind.advice())]
    SpecialFile { path: PathBuf, kind: crate::store::safe::FileKind },
}

/// `wharf lock` disables write and delete together; lifting one of them alone then meets
/// the other, so a refusal on either also names `wharf unlock`.
fn unlock_hint(attribute: LockAttribute, object_ref: &str) -> String {
    match attribute {
        LockAttribute::WriteEnabled | LockAttribute::DeleteEnabled => {
            format!(" (or `wharf unlock {object_ref}`, which enables write and delete)")
        }
        LockAttribute::ReadEnabled | LockAttribute::ListEnabled => String::new(),
    }
}

impl Error {
    /// A stable, machine-readable name of what went wrong: the `kind` of the `--json`
    /// error document (docs/CLI.md). Names are never reused for another meaning.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Reference(_) => "bad_reference",
            Error::Digest(_) => "bad_digest",
            Error::Time(_) => "bad_time",
            Error::Filter(_) => "bad_filter",
            Error::Usage(_) => "usage",
            Error::NotARegistry { .. } => "not_a_registry",
            Error::AlreadyRegistry { .. } => "already_a_registry",
            Error::Corrupt { .. } => "corrupt",
            Error::SidecarVersion { .. } => "sidecar_version",
            Error::RegistryVersion { .. } => "registry_version",
            Error::RepoNotFound { .. } => "repository_not_found",
            Error::TagNotFound { .. } => "tag_not_found",
            Error::ManifestNotFound { .. } => "manifest_not_found",
            Error::TagDigestMismatch { .. } => "tag_digest_mismatch",
            Error::DigestMismatch { .. } => "digest_mismatch",
            Error::SizeMismatch { .. } => "size_mismatch",
            Error::TooLarge { .. } => "too_large",
            Error::Locked { .. } => "lock_refused",
            Error::TagExists { .. } => "tag_exists",
            Error::InUse { .. } => "in_use",
            Error::LockBusy { .. } => "lock_busy",
            Error::Invalid(_) => "refused",
            Error::SpecialFile { .. } => "special_file",
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::Corrupt { path: path.into(), reason: reason.into() }
    }
}
