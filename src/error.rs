//! The one error type of the crate. Variants say what went wrong and carry what a user
//! needs to fix it; every I/O error names its path and what was being done. Findings
//! (a corrupt blob seen by verify) are report entries, not errors.
//!
//! A library caller matches on the variants (the enum is `#[non_exhaustive]`, so a match
//! needs a `_` arm) or on [`Error::kind`], the stable name the CLI prints in its `--json`
//! error document. Every error exits the CLI with code 2.

use std::io;
use std::path::PathBuf;

use crate::model::retention::FilterError;
use crate::model::{DigestError, LockAttribute, ReferenceError, time::TimeError};

/// The crate's result type: `Err` is [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in wharf, as data a caller can match on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed; `path` and `action` say on what and while doing what.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What wharf was doing, as a verb phrase ("read", "write the archive to").
        action: &'static str,
        /// The file or directory the action was on (`stdout` for the standard output).
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A reference (`REPO:TAG`, `REPO@DIGEST`) that breaks the grammar.
    #[error(transparent)]
    Reference(#[from] ReferenceError),

    /// A digest that breaks the grammar or names an unsupported algorithm.
    #[error(transparent)]
    Digest(#[from] DigestError),

    /// A timestamp or duration that does not parse or falls outside RFC 3339's years.
    #[error(transparent)]
    Time(#[from] TimeError),

    /// A purge `--filter` that does not parse.
    #[error(transparent)]
    Filter(#[from] FilterError),

    /// A mistake in how the command was called (options that do not go together, a
    /// missing argument): the message says what to pass instead.
    #[error("{0}")]
    Usage(String),

    /// The root is neither a wharf registry nor an OCI image layout.
    #[error(
        "{} is neither a wharf registry nor an OCI image layout (no .wharf/registry.json, no oci-layout): run `wharf --root {} init` to make it a registry, or point --root at a layout",
        path.display(), path.display()
    )]
    NotARegistry {
        /// The root that was given.
        path: PathBuf,
    },

    /// `init` on a directory that already is a registry.
    #[error("{} is already a wharf registry", path.display())]
    AlreadyRegistry {
        /// The root that was given.
        path: PathBuf,
    },

    /// A file of the registry (index.json, a sidecar, a manifest blob, a trash record,
    /// registry.json) that wharf cannot read as what it must be.
    #[error("{}: {what}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it and, where there is one, the way out.
        what: String,
    },

    /// A sidecar (`wharf-meta.json`) written by a newer wharf.
    #[error(
        "{}: sidecar format version {found} is not supported by this wharf (it reads version {supported}); upgrade wharf, or move the file aside to rebuild the metadata from index.json",
        path.display()
    )]
    SidecarVersion {
        /// The sidecar.
        path: PathBuf,
        /// The version the file declares.
        found: u64,
        /// The version this wharf reads.
        supported: u64,
    },

    /// A `registry.json` written by a newer wharf.
    #[error(
        "{}: registry format version {found} is not supported by this wharf (it reads version {supported}); upgrade wharf",
        path.display()
    )]
    RegistryVersion {
        /// The `registry.json` file.
        path: PathBuf,
        /// The version the file declares.
        found: u64,
        /// The version this wharf reads.
        supported: u64,
    },

    /// The named repository does not exist (or is hidden by `list_enabled = false`).
    #[error("repository `{repo}` does not exist (see `wharf repos`)")]
    RepoNotFound {
        /// The repository name.
        repo: String,
    },

    /// The named tag does not exist.
    #[error("tag `{reference}` does not exist (see `wharf tags {repo}`)")]
    TagNotFound {
        /// The reference as given (`REPO:TAG`).
        reference: String,
        /// Its repository.
        repo: String,
    },

    /// The named manifest is not in the repository's index.
    #[error("manifest `{reference}` is not in the repository (see `wharf manifests {repo}`)")]
    ManifestNotFound {
        /// The reference as given (`REPO@DIGEST` or `REPO:TAG@DIGEST`).
        reference: String,
        /// Its repository.
        repo: String,
    },

    /// Something else a command names is not where it looks: a soft-deleted item that is
    /// not in the trash, a manifest, blob or repository a remote registry does not hold.
    #[error("{what} {detail}")]
    NotFound {
        /// What was looked for (a reference, `registry HOST: the manifest REF`, …).
        what: String,
        /// Where it was looked for and what to do next.
        detail: String,
    },

    /// A blob the registry's own index reaches is missing from the repository: the
    /// registry is incomplete (`wharf verify` reports it).
    #[error(
        "{context}, whose blob {digest} is missing from {}: the registry is incomplete (run `wharf verify {repo}`)",
        dir.display()
    )]
    BlobMissing {
        /// What needed the blob (a reference as given).
        context: String,
        /// The missing blob.
        digest: String,
        /// The repository's directory.
        dir: PathBuf,
        /// The repository's name.
        repo: String,
    },

    /// `REPO:TAG@DIGEST` where the tag points at another manifest.
    #[error("`{reference}` points at {actual}, not at the digest {expected} the reference names")]
    TagDigestMismatch {
        /// The reference as given.
        reference: String,
        /// The digest the reference names.
        expected: String,
        /// The digest the tag points at.
        actual: String,
    },

    /// Content whose digest is not the one it was named by: a blob in the registry, a
    /// member of an import source, a document a remote registry sent.
    #[error("{what}: digest mismatch: expected {expected}, computed {actual}")]
    DigestMismatch {
        /// The content, as a user can find it (a blob path, `SOURCE: member NAME`, a URL).
        what: String,
        /// The file holding the bytes that did not match (a blob of the registry, an import
        /// source, an output being written), when there is one: `None` for a stream
        /// (stdin, a remote registry).
        path: Option<PathBuf>,
        /// The digest the content was named by.
        expected: String,
        /// The digest wharf computed.
        actual: String,
    },

    /// Content whose size is not the one its descriptor declares.
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The content.
        what: String,
        /// The size its descriptor declares.
        expected: u64,
        /// The size wharf counted.
        actual: u64,
    },

    /// Content larger than wharf reads (a manifest, an index, an answer from a registry).
    #[error("{what}: larger than the limit of {limit} bytes")]
    TooLarge {
        /// The content.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// A lock attribute on the repository → tag → manifest path forbids the operation.
    #[error(
        "{target} is locked: {object} has {} = false; lift it with `{lift}`{}",
        attribute.name(),
        unlock.as_deref().map(|u| format!(" (or `{u}`, which enables write and delete)")).unwrap_or_default()
    )]
    LockRefused {
        /// What the operation would have done (`untagging app:1`, `exporting app:1`).
        target: String,
        /// The locked object: `the repository R`, `the tag R:T` or `the manifest R@D`.
        object: String,
        /// The attribute that is `false`.
        attribute: LockAttribute,
        /// The command that lifts this attribute (`wharf update R:T --write-enabled true`).
        lift: String,
        /// For `write_enabled` and `delete_enabled` (which `wharf lock` disables together):
        /// the command that lifts both (`wharf unlock R:T`).
        unlock: Option<String>,
    },

    /// `tag`/`import`/`restore` would move an existing tag and `--force` was not given.
    #[error(
        "tag `{reference}` already points at {current}; pass --force to move it (the old manifest stays, untagged)"
    )]
    TagExists {
        /// The tag (`REPO:TAG`).
        reference: String,
        /// The digest it points at now.
        current: String,
    },

    /// The object is still referenced and cannot go first.
    #[error("{what} is referenced by {by}; remove that first")]
    InUse {
        /// The object that was to be removed.
        what: String,
        /// What references it.
        by: String,
    },

    /// An output wharf would write (`export -o`, `inventory -o`, a file of `--format
    /// files`) already exists: wharf never overwrites one.
    #[error("{} already exists; {hint}", path.display())]
    OutputExists {
        /// The output path.
        path: PathBuf,
        /// Which command does not overwrite, and what to do.
        hint: String,
    },

    /// `--no-wait` and another process holds the registry lock.
    #[error("the registry lock {} is held by another process and --no-wait was given", path.display())]
    LockBusy {
        /// The lock file.
        path: PathBuf,
    },

    /// The registry changed under the operation (a concurrent gc, a tag moved by another
    /// process); nothing was changed, and running the command again is the fix.
    #[error("{what}")]
    Concurrent {
        /// What changed and what to do.
        what: String,
    },

    /// An import source (archive, layout, `dir:` directory, Helm chart, bundle) that wharf
    /// cannot read or will not take: not an image archive, truncated, corrupt, hostile
    /// (links or names that escape, a decompression bomb), or inconsistent with itself.
    /// Nothing was written.
    #[error("{input}: {what}")]
    BadInput {
        /// The source as the user named it (a path, `stdin`), possibly followed by the
        /// member or entry at fault.
        input: String,
        /// What is wrong with it.
        what: String,
    },

    /// A remote registry answered 401 or 403: the credentials are missing or wrong.
    #[error(
        "registry {host} refused {action}: {status} {detail}; pass --creds USER[:PASS] (or --password-stdin), or --authfile FILE"
    )]
    RemoteDenied {
        /// The registry host (`HOST[:PORT]`).
        host: String,
        /// What wharf asked for (`pulling library/alpine`).
        action: String,
        /// The HTTP status (401 or 403).
        status: u16,
        /// The status text, the registry's own error detail and which credentials wharf sent.
        detail: String,
    },

    /// A remote registry failed or answered something wharf cannot use (after the
    /// retries): TLS, an unexpected status, a broken body, a token service that fails.
    #[error("registry {host}: {what}")]
    Remote {
        /// The registry host (`HOST[:PORT]`).
        host: String,
        /// What went wrong.
        what: String,
    },

    /// wharf will not do what was asked, for a reason that no other variant names
    /// (content its own verify would reject, a name it does not create, a limit).
    #[error("{reason}")]
    Refused {
        /// Why, and how to get past it.
        reason: String,
    },

    /// A link or special file where wharf expects a regular file or a directory (see
    /// docs/FORMAT.md, "Links and special files").
    #[error("{}: is {} where wharf expects a regular file or directory; {}", path.display(), kind.describe(), kind.advice())]
    SpecialFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: crate::store::safe::FileKind,
    },
}

impl From<crate::model::signature::KeyError> for Error {
    fn from(e: crate::model::signature::KeyError) -> Error {
        Error::bad_input("key", e.to_string())
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
            Error::NotFound { .. } => "not_found",
            Error::BlobMissing { .. } => "blob_missing",
            Error::TagDigestMismatch { .. } => "tag_digest_mismatch",
            Error::DigestMismatch { .. } => "digest_mismatch",
            Error::SizeMismatch { .. } => "size_mismatch",
            Error::TooLarge { .. } => "too_large",
            Error::LockRefused { .. } => "lock_refused",
            Error::TagExists { .. } => "tag_exists",
            Error::InUse { .. } => "in_use",
            Error::OutputExists { .. } => "output_exists",
            Error::LockBusy { .. } => "lock_busy",
            Error::Concurrent { .. } => "concurrent_change",
            Error::BadInput { .. } => "bad_input",
            Error::RemoteDenied { .. } => "remote_denied",
            Error::Remote { .. } => "remote",
            Error::Refused { .. } => "refused",
            Error::SpecialFile { .. } => "special_file",
        }
    }

    /// The exit code the CLI ends with on this error: 2 for every error (1 is for a
    /// report with findings, which is not an error; docs/CLI.md).
    pub fn exit_code(&self) -> u8 {
        2
    }

    /// A `map_err` adapter: the I/O error of `action` on `path`, as [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    /// [`Error::Corrupt`]: the registry file `path` is not what it must be (`what`).
    pub fn corrupt(path: impl Into<PathBuf>, what: impl Into<String>) -> Error {
        Error::Corrupt { path: path.into(), what: what.into() }
    }

    /// [`Error::Refused`] with `reason`.
    pub fn refused(reason: impl Into<String>) -> Error {
        Error::Refused { reason: reason.into() }
    }

    /// [`Error::BadInput`]: the import source `input` is unusable because of `what`.
    pub fn bad_input(input: impl AsRef<str>, what: impl Into<String>) -> Error {
        Error::BadInput { input: input.as_ref().to_string(), what: what.into() }
    }

    /// [`Error::Concurrent`]: the registry changed under the operation (`what`).
    pub fn concurrent(what: impl Into<String>) -> Error {
        Error::Concurrent { what: what.into() }
    }

    /// [`Error::Remote`]: the registry `host` failed with `what`.
    pub fn remote(host: impl Into<String>, what: impl Into<String>) -> Error {
        Error::Remote { host: host.into(), what: what.into() }
    }

    /// [`Error::LockRefused`]: `target` is refused because `object` (named by `object_ref`
    /// in commands) has `attribute` = false.
    pub(crate) fn lock_refused(target: &str, object: String, object_ref: &str, attribute: LockAttribute) -> Error {
        let unlock = match attribute {
            LockAttribute::WriteEnabled | LockAttribute::DeleteEnabled => Some(format!("wharf unlock {object_ref}")),
            LockAttribute::ReadEnabled | LockAttribute::ListEnabled => None,
        };
        Error::LockRefused {
            target: target.to_string(),
            object,
            attribute,
            lift: format!("wharf update {object_ref} {} true", attribute.flag()),
            unlock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::retention::Filter;
    use crate::model::time::parse_timestamp;
    use crate::model::{Digest, RepoName};
    use crate::store::safe::FileKind;

    /// Position of each variant in the table below. The match has no `_` arm, so a new
    /// variant does not compile until it has a row (and a kind name).
    fn position(e: &Error) -> usize {
        match e {
            Error::Io { .. } => 0,
            Error::Reference(_) => 1,
            Error::Digest(_) => 2,
            Error::Time(_) => 3,
            Error::Filter(_) => 4,
            Error::Usage(_) => 5,
            Error::NotARegistry { .. } => 6,
            Error::AlreadyRegistry { .. } => 7,
            Error::Corrupt { .. } => 8,
            Error::SidecarVersion { .. } => 9,
            Error::RegistryVersion { .. } => 10,
            Error::RepoNotFound { .. } => 11,
            Error::TagNotFound { .. } => 12,
            Error::ManifestNotFound { .. } => 13,
            Error::NotFound { .. } => 14,
            Error::BlobMissing { .. } => 15,
            Error::TagDigestMismatch { .. } => 16,
            Error::DigestMismatch { .. } => 17,
            Error::SizeMismatch { .. } => 18,
            Error::TooLarge { .. } => 19,
            Error::LockRefused { .. } => 20,
            Error::TagExists { .. } => 21,
            Error::InUse { .. } => 22,
            Error::OutputExists { .. } => 23,
            Error::LockBusy { .. } => 24,
            Error::Concurrent { .. } => 25,
            Error::BadInput { .. } => 26,
            Error::RemoteDenied { .. } => 27,
            Error::Remote { .. } => 28,
            Error::Refused { .. } => 29,
            Error::SpecialFile { .. } => 30,
        }
    }

    /// Every variant, its stable `kind` and a piece of its message. Kind names are a
    /// public contract (the `--json` error document): a row's name never changes.
    fn table() -> Vec<(Error, &'static str, &'static str)> {
        let p = || PathBuf::from("/r/app/index.json");
        let s = String::from;
        let d = Digest::of(b"x").to_string();
        vec![
            (Error::io("read", p())(io::Error::other("boom")), "io", "could not read /r/app/index.json: boom"),
            (RepoName::parse("Bad").unwrap_err().into(), "bad_reference", "`Bad` is not a repository name"),
            (Digest::parse("sha256:xyz").unwrap_err().into(), "bad_digest", "is not a digest"),
            (parse_timestamp("yesterday").unwrap_err().into(), "bad_time", "is not a timestamp"),
            (Filter::parse("nocolon").unwrap_err().into(), "bad_filter", "--filter `nocolon`"),
            (Error::Usage(s("give REF")), "usage", "give REF"),
            (Error::NotARegistry { path: p() }, "not_a_registry", "wharf --root"),
            (Error::AlreadyRegistry { path: p() }, "already_a_registry", "is already a wharf registry"),
            (Error::corrupt(p(), "not valid JSON"), "corrupt", "/r/app/index.json: not valid JSON"),
            (
                Error::SidecarVersion { path: p(), found: 9, supported: 2 },
                "sidecar_version",
                "sidecar format version 9",
            ),
            (Error::RegistryVersion { path: p(), found: 9, supported: 1 }, "registry_version", "format version 9"),
            (Error::RepoNotFound { repo: s("app") }, "repository_not_found", "repository `app` does not exist"),
            (Error::TagNotFound { reference: s("app:1"), repo: s("app") }, "tag_not_found", "`app:1` does not exist"),
            (
                Error::ManifestNotFound { reference: format!("app@{d}"), repo: s("app") },
                "manifest_not_found",
                "is not in the repository",
            ),
            (
                Error::NotFound { what: s("`app:1`"), detail: s("is not in the trash") },
                "not_found",
                "`app:1` is not in",
            ),
            (
                Error::BlobMissing { context: s("app:1"), digest: d.clone(), dir: p(), repo: s("app") },
                "blob_missing",
                "app:1, whose blob sha256:",
            ),
            (
                Error::TagDigestMismatch { reference: s("app:1@x"), expected: s("x"), actual: s("y") },
                "tag_digest_mismatch",
                "points at y",
            ),
            (
                Error::DigestMismatch { what: s("blob b"), path: Some(p()), expected: s("x"), actual: s("y") },
                "digest_mismatch",
                "blob b: digest mismatch: expected x, computed y",
            ),
            (Error::SizeMismatch { what: s("blob b"), expected: 1, actual: 2 }, "size_mismatch", "expected 1 bytes"),
            (Error::TooLarge { what: s("index"), limit: 5 }, "too_large", "limit of 5 bytes"),
            (
                Error::lock_refused("untagging app:1", s("the tag app:1"), "app:1", LockAttribute::WriteEnabled),
                "lock_refused",
                "untagging app:1 is locked: the tag app:1 has write_enabled = false; lift it with `wharf update app:1 \
                 --write-enabled true` (or `wharf unlock app:1`, which enables write and delete)",
            ),
            (Error::TagExists { reference: s("app:1"), current: d.clone() }, "tag_exists", "pass --force"),
            (Error::InUse { what: s("a"), by: s("b") }, "in_use", "a is referenced by b"),
            (Error::OutputExists { path: p(), hint: s("no") }, "output_exists", "index.json already exists; no"),
            (Error::LockBusy { path: p() }, "lock_busy", "--no-wait"),
            (Error::concurrent("moved; run again"), "concurrent_change", "moved; run again"),
            (Error::bad_input("a.tar", "truncated"), "bad_input", "a.tar: truncated"),
            (
                Error::RemoteDenied { host: s("h"), action: s("pulling a"), status: 401, detail: s("Unauthorized") },
                "remote_denied",
                "registry h refused pulling a: 401 Unauthorized; pass --creds",
            ),
            (Error::remote("h", "too many redirects"), "remote", "registry h: too many redirects"),
            (Error::refused("no"), "refused", "no"),
            (Error::SpecialFile { path: p(), kind: FileKind::Fifo }, "special_file", "where wharf expects"),
        ]
    }

    #[test]
    fn every_variant_has_its_stable_kind_name() {
        let rows = table();
        let mut seen = vec![false; rows.len()];
        let mut names = std::collections::BTreeSet::new();
        for (e, kind, message) in &rows {
            let at = position(e);
            assert!(!seen[at], "two rows for variant {at} ({kind})");
            seen[at] = true;
            assert_eq!(e.kind(), *kind, "{e:?}");
            assert!(names.insert(*kind), "the kind `{kind}` names two variants");
            assert!(kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "`{kind}` is not snake_case");
            assert!(e.to_string().contains(message), "{kind}: `{e}` does not contain `{message}`");
            assert_eq!(e.exit_code(), 2, "{kind}: every error exits 2");
        }
        assert!(seen.iter().all(|s| *s), "a variant has no row");
    }

    /// docs/CLI.md lists every kind a script can meet.
    #[test]
    fn every_kind_is_documented() {
        let doc = include_str!("../docs/CLI.md");
        for (_, kind, _) in table() {
            assert!(doc.contains(&format!("| `{kind}` |")), "docs/CLI.md has no row for the kind `{kind}`");
        }
    }
}
