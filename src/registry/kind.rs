//! The kind of each manifest of a repository (image, index, helm chart, artifact,
//! referrer), for listings; see [`ArtifactKind`].

use rayon::prelude::*;

use super::repository::Repository;
use crate::model::kind::ArtifactKind;
use crate::model::{Descriptor, Document};

impl Repository {
    /// The kind of the manifest `desc` names (`unknown` when it cannot be read).
    pub fn kind_of(&self, desc: &Descriptor) -> ArtifactKind {
        self.document_of(desc).map_or(ArtifactKind::Unknown, |d| ArtifactKind::of(&d))
    }

    /// The parsed manifest or index `desc` names, `None` when it cannot be read.
    pub fn document_of(&self, desc: &Descriptor) -> Option<Document> {
        self.read_document(&desc.digest, &desc.media_type).ok()
    }

    /// The distinct kinds of the repository's manifests (tagged and untagged), sorted;
    /// read in parallel.
    pub fn kinds(&self) -> Vec<ArtifactKind> {
        let mut seen = std::collections::BTreeSet::new();
        let distinct: Vec<&Descriptor> = self.index().manifests.iter().filter(|d| seen.insert(&d.digest)).collect();
        let mut kinds: Vec<ArtifactKind> = distinct.par_iter().map(|d| self.kind_of(d)).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}
