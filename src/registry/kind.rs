//! The kind of each manifest of a repository (image, index, helm chart, artifact,
//! referrer), for listings; see [`ArtifactKind`].

use rayon::prelude::*;

use super::repository::Repository;
use crate::model::kind::ArtifactKind;
use crate::model::{Descriptor, Digest, Document};

impl Repository {
    /// The kind of the manifest `desc` names: the sidecar's record, else read from the
    /// blob (`unknown` when it cannot be read).
    pub fn kind_of(&self, desc: &Descriptor) -> ArtifactKind {
        if let Some(kind) = self.meta.manifests.get(&desc.digest).and_then(|m| m.kind) {
            return kind;
        }
        self.document_of(desc).map_or(ArtifactKind::Unknown, |d| ArtifactKind::of(&d))
    }

    /// The parsed manifest or index `desc` names, `None` when it cannot be read.
    pub fn document_of(&self, desc: &Descriptor) -> Option<Document> {
        self.read_document(&desc.digest, &desc.media_type).ok()
    }

    /// What the manifest `digest` is and the subject it refers to, read from its blob;
    /// `None` when the blob cannot be read or parsed.
    pub(crate) fn read_facts(&self, digest: &Digest) -> Option<(ArtifactKind, Option<Digest>)> {
        let declared = self.descriptor_of(digest).map_or("", |d| d.media_type.as_str());
        let doc = self.read_document(digest, declared).ok()?;
        Some((ArtifactKind::of(&doc), doc.subject.map(|s| s.digest)))
    }

    /// Records the kind and subject of every manifest whose sidecar entry lacks them,
    /// reading those blobs in parallel (none when every entry has them). Returns true
    /// when anything was learnt.
    pub(crate) fn fill_facts(&mut self) -> bool {
        let missing: Vec<Digest> =
            self.meta.manifests.iter().filter(|(_, m)| m.kind.is_none()).map(|(d, _)| d.clone()).collect();
        if missing.is_empty() {
            return false;
        }
        let read: Vec<(Digest, (ArtifactKind, Option<Digest>))> =
            missing.into_par_iter().filter_map(|d| self.read_facts(&d).map(|f| (d, f))).collect();
        let learnt = !read.is_empty();
        for (d, (kind, subject)) in read {
            if let Some(m) = self.meta.manifests.get_mut(&d) {
                m.kind = Some(kind);
                m.subject = subject;
            }
        }
        learnt
    }

    /// The distinct kinds of the repository's manifests (tagged and untagged), sorted;
    /// from the sidecar, reading in parallel only the blobs it has no record of.
    pub fn kinds(&self) -> Vec<ArtifactKind> {
        let mut kinds: Vec<ArtifactKind> = self.distinct_entries().par_iter().map(|d| self.kind_of(d)).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}
