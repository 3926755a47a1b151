//! The reads behind each endpoint of `wharf serve`, synchronous (the server runs them on
//! its blocking pool). Every rule comes from the registry layer: a manifest is served only
//! when [`Repository::check_read`] allows it (the check export and push make), and a blob
//! only when a manifest of **that** repository which `check_read` allows references it.
//! Nothing here combines locks itself.
//!
//! Each read takes the registry's shared lock while it resolves (like `wharf export`), and
//! drops it before a body is sent: a blob streams from its open file, so a gc that runs
//! meanwhile deletes the name, never the bytes being sent. The exclusive lock is never
//! taken. index.json and the sidecar are replaced by rename, so a read sees a whole index.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use crate::error::Error;
use crate::model::media::OCI_INDEX;
use crate::model::{Digest, Document, MediaKind, Reference, RepoName, Tag};
use crate::registry::repository::{MAX_DOCUMENT_BYTES, Resolved};
use crate::registry::{LockWait, Registry, Repository};
use crate::store::lock::LockGuard;

/// An error as the distribution spec returns it: an HTTP status and one entry of the
/// `errors` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The spec's error code (`MANIFEST_UNKNOWN`, `DENIED`, …).
    pub code: &'static str,
    /// The message for the client.
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn name_unknown(name: &str) -> ApiError {
        ApiError::new(404, "NAME_UNKNOWN", format!("repository `{name}` is not in this registry"))
    }

    /// Maps an error of the registry layer: what a client may learn, and nothing of the
    /// server's paths for an internal failure (that goes to the server's log).
    fn from_registry(e: Error) -> ApiError {
        match e {
            Error::LockRefused { .. } => ApiError::new(403, "DENIED", e.to_string()),
            Error::RepoNotFound { repo } => ApiError::name_unknown(&repo),
            Error::TagNotFound { reference, .. } | Error::ManifestNotFound { reference, .. } => {
                ApiError::new(404, "MANIFEST_UNKNOWN", format!("manifest `{reference}` is not in this registry"))
            }
            Error::NotFound { .. } | Error::BlobMissing { .. } => {
                ApiError::new(404, "MANIFEST_UNKNOWN", "the manifest is not in this registry")
            }
            other => {
                crate::serve::log_internal(&other);
                ApiError::new(500, "UNKNOWN", "the registry could not read this; the server's log says why")
            }
        }
    }
}

/// A manifest as stored.
#[derive(Debug)]
pub struct Manifest {
    /// The stored bytes, exactly.
    pub bytes: Vec<u8>,
    /// The stored media type.
    pub media_type: String,
    pub digest: Digest,
}

/// An open blob, ready to stream.
#[derive(Debug)]
pub struct BlobFile {
    pub file: File,
    pub size: u64,
    pub digest: Digest,
}

/// The reads of one registry.
#[derive(Debug)]
pub struct Reader {
    registry: Registry,
}

impl Reader {
    pub fn new(registry: Registry) -> Reader {
        Reader { registry }
    }

    /// The registry's shared lock (waiting for a writer to finish), held while a read
    /// resolves.
    fn lock(&self) -> Result<Option<LockGuard>, ApiError> {
        let quiet = |_: &Path| {};
        self.registry.lock_shared(&LockWait { wait: true, on_wait: &quiet }).map_err(ApiError::from_registry)
    }

    fn repo(&self, name: &str) -> Result<Repository, ApiError> {
        let n = RepoName::parse(name)
            .map_err(|e| ApiError::new(400, "NAME_INVALID", format!("`{name}` is not a repository name: {e}")))?;
        if self.registry.repo_dir(&n).is_err() || !self.registry.repo_exists(&n) {
            return Err(ApiError::name_unknown(name));
        }
        self.registry.open_repo(&n, chrono::Utc::now()).map_err(ApiError::from_registry)
    }

    /// `GET /v2/NAME/manifests/REF`: by tag, or by digest (a top-level manifest, or one an
    /// index of the repository lists), if its read locks allow it.
    pub fn manifest(&self, name: &str, reference: &str) -> Result<Manifest, ApiError> {
        let _lock = self.lock()?;
        let repo = self.repo(name)?;
        let unknown = || ApiError::new(404, "MANIFEST_UNKNOWN", format!("manifest `{name}:{reference}` is not here"));
        let r = if reference.contains(':') {
            let d = Digest::parse(reference).map_err(|_| unknown())?;
            Reference::by_digest(repo.name.clone(), d)
        } else {
            Reference::by_tag(repo.name.clone(), Tag::parse(reference).map_err(|_| unknown())?)
        };
        let (resolved, parents, _) = repo.locate(&r).map_err(ApiError::from_registry)?;
        repo.check_read("reading", &resolved, &parents).map_err(ApiError::from_registry)?;
        let bytes = match repo.blobs.read_verified(&resolved.digest, MAX_DOCUMENT_BYTES) {
            Ok(b) => b,
            Err(Error::NotFound { .. } | Error::BlobMissing { .. }) => return Err(unknown()),
            Err(e) => return Err(ApiError::from_registry(e)),
        };
        let media_type = media_type_of(&resolved, &bytes);
        Ok(Manifest { bytes, media_type, digest: resolved.digest })
    }

    /// `GET /v2/NAME/blobs/DIGEST`: the open file, if a manifest of this repository that
    /// may be read (by digest, or by one of its tags) references the blob (or is it).
    pub fn blob(&self, name: &str, digest: &str) -> Result<BlobFile, ApiError> {
        let _lock = self.lock()?;
        let repo = self.repo(name)?;
        let unknown = || ApiError::new(404, "BLOB_UNKNOWN", format!("blob `{digest}` is not in repository `{name}`"));
        let d = Digest::parse(digest)
            .map_err(|e| ApiError::new(400, "DIGEST_INVALID", format!("`{digest}` is not a digest: {e}")))?;
        let mut denied = None;
        let mut found = false;
        for desc in repo.distinct_entries() {
            let Ok(closure) = repo.closure(&desc.digest, &desc.media_type, false) else { continue };
            if !closure.iter().any(|b| b.digest == d) {
                continue;
            }
            // Each way a client reaches the manifest is a path to the blob: by digest
            // (guarded by every tag on it), or by one of its tags (guarded by that tag).
            let mut paths = vec![None];
            paths.extend(repo.tags_of(&desc.digest).into_iter().map(Some));
            for tag in paths {
                let resolved = Resolved { digest: desc.digest.clone(), descriptor: desc.clone(), tag };
                match repo.check_read("reading", &resolved, &[]) {
                    Ok(()) => {
                        found = true;
                        break;
                    }
                    Err(e) => denied = Some(e),
                }
            }
            if found {
                break;
            }
        }
        if !found {
            return Err(match denied {
                // Every manifest that references it is read-locked: say so, as a manifest
                // read would (the blob is not hidden by a lock, only refused).
                Some(e) => ApiError::from_registry(e),
                None => unknown(),
            });
        }
        let file = match repo.blobs.open(&d) {
            Ok(f) => f,
            Err(Error::NotFound { .. } | Error::BlobMissing { .. }) => return Err(unknown()),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Err(unknown()),
            Err(e) => return Err(ApiError::from_registry(e)),
        };
        let size =
            file.metadata().map_err(|e| ApiError::from_registry(Error::io("stat", repo.blobs.path(&d))(e)))?.len();
        Ok(BlobFile { file, size, digest: d })
    }

    /// `GET /v2/NAME/tags/list`: the tags that may be listed, sorted.
    pub fn tags(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let _lock = self.lock()?;
        let repo = self.repo(name)?;
        if !repo.repo_locks().list_enabled {
            return Err(ApiError::name_unknown(name));
        }
        Ok(crate::ops::listing::tag_infos(&repo, false).into_iter().map(|t| t.name).collect())
    }

    /// `GET /v2/_catalog`: the repositories that may be listed, sorted.
    pub fn catalog(&self) -> Result<Vec<String>, ApiError> {
        let _lock = self.lock()?;
        let now = chrono::Utc::now();
        let names = self.registry.repo_names().map_err(ApiError::from_registry)?;
        Ok(names
            .into_iter()
            .filter(|n| self.registry.open_repo(n, now).is_ok_and(|r| r.repo_locks().list_enabled))
            .map(|n| n.to_string())
            .collect())
    }

    /// `GET /v2/NAME/referrers/DIGEST`: an image index of the referrers of the digest
    /// that may be read, with those whose `artifactType` is not `artifact_type` left out.
    pub fn referrers(&self, name: &str, digest: &str, artifact_type: Option<&str>) -> Result<Vec<u8>, ApiError> {
        let _lock = self.lock()?;
        let repo = self.repo(name)?;
        let d = Digest::parse(digest)
            .map_err(|e| ApiError::new(400, "DIGEST_INVALID", format!("`{digest}` is not a digest: {e}")))?;
        // A subject that is here must be readable; one that is not is answered with an
        // empty or partial list, as the spec asks (referrers may come before a subject).
        if let Ok((resolved, parents, _)) = repo.locate(&Reference::by_digest(repo.name.clone(), d.clone())) {
            repo.check_read("reading", &resolved, &parents).map_err(ApiError::from_registry)?;
        }
        let mut manifests = Vec::new();
        let mut seen = BTreeSet::new();
        for r in crate::ops::inspect::find_referrers(&repo, &d) {
            if !r.present || !seen.insert(r.digest.clone()) {
                continue;
            }
            if artifact_type.is_some_and(|want| r.artifact_type.as_deref() != Some(want)) {
                continue;
            }
            let Some(descriptor) = repo.descriptor_of(&r.digest).cloned() else { continue };
            let resolved = Resolved { digest: r.digest.clone(), descriptor, tag: None };
            if repo.check_read("reading", &resolved, &[]).is_err() {
                continue;
            }
            let mut m = serde_json::Map::new();
            m.insert("mediaType".into(), r.media_type.into());
            m.insert("digest".into(), r.digest.to_string().into());
            m.insert("size".into(), r.size.into());
            if let Some(a) = r.artifact_type {
                m.insert("artifactType".into(), a.into());
            }
            if !r.annotations.is_empty() {
                m.insert("annotations".into(), serde_json::to_value(&r.annotations).expect("a string map"));
            }
            manifests.push(serde_json::Value::Object(m));
        }
        let index = serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
        Ok(serde_json::to_vec(&index).expect("JSON serialises"))
    }
}

/// The media type a manifest is served with: the one index.json (or the listing index)
/// declares, else the document's own `mediaType`.
fn media_type_of(resolved: &Resolved, bytes: &[u8]) -> String {
    if !resolved.descriptor.media_type.is_empty() {
        return resolved.descriptor.media_type.clone();
    }
    match Document::parse(bytes, "") {
        Ok(doc) => doc.media_type.unwrap_or_else(|| match doc.kind {
            MediaKind::Index => OCI_INDEX.to_string(),
            _ => crate::model::media::OCI_MANIFEST.to_string(),
        }),
        Err(_) => crate::model::media::OCI_MANIFEST.to_string(),
    }
}
