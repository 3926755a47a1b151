//! Walking the descriptor graph of a repository (closures, and the protection graph
//! purge and retention decide on), and moving a manifest's closure between
//! repositories through the dedupe pool.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Registry;
use super::repository::{MAX_DOCUMENT_BYTES, Repository};
use crate::error::{Error, Result};
use crate::model::retention::GraphNode;
use crate::model::{Digest, Document, MediaKind, Role};

/// One blob of a closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosureBlob {
    pub digest: Digest,
    /// The size a parent declared (`None` for the root and for schema 1 layers).
    pub size: Option<u64>,
    pub media_type: String,
    /// False when the blob file is absent from the repository.
    pub present: bool,
}

impl Repository {
    /// The blobs that readable content of this repository holds: the closures of the
    /// top-level manifests that [`Repository::check_read`] allows reading (no read lock on
    /// the repository, the manifest, any tag on it, or, for an index, any manifest it
    /// lists). Proof of possession (docs/FORMAT.md): only these may stand in for bytes a
    /// source did not send. A manifest whose closure cannot be walked proves nothing.
    pub fn readable_blobs(&self) -> BTreeSet<Digest> {
        let mut out = BTreeSet::new();
        for entry in self.distinct_entries() {
            let resolved =
                super::repository::Resolved { digest: entry.digest.clone(), descriptor: entry.clone(), tag: None };
            if self.check_read("reading", &resolved, &[]).is_err() {
                continue;
            }
            if let Ok(blobs) = self.closure(&entry.digest, &entry.media_type, false) {
                out.extend(blobs.into_iter().filter(|b| b.present).map(|b| b.digest));
            }
        }
        out
    }

    /// Every blob reachable from `root` inside this repository: the root itself, nested
    /// indexes and manifests, configs, layers, and with `follow_subject` the subject
    /// chain. Unknown media types are leaves. A manifest that cannot be parsed is an
    /// error (callers that must fail closed rely on it); an absent blob is listed with
    /// `present: false`. Sorted by digest.
    pub fn closure(&self, root: &Digest, root_media_type: &str, follow_subject: bool) -> Result<Vec<ClosureBlob>> {
        let mut seen: BTreeMap<Digest, ClosureBlob> = BTreeMap::new();
        let mut stack = vec![(root.clone(), None, root_media_type.to_string())];
        while let Some((digest, size, media_type)) = stack.pop() {
            if seen.contains_key(&digest) {
                continue;
            }
            // A link or FIFO named like the blob is an error naming it, not "absent".
            let present = self.blobs.size(&digest)?.is_some();
            let kind = MediaKind::of(&media_type);
            let maybe_document = kind.has_children() || (media_type.is_empty() && &digest == root);
            seen.insert(
                digest.clone(),
                ClosureBlob { digest: digest.clone(), size, media_type: media_type.clone(), present },
            );
            if !present || !maybe_document {
                continue;
            }
            let doc = self.read_document(&digest, &media_type)?;
            for child in doc.children() {
                if child.role == Role::Subject && !follow_subject {
                    continue;
                }
                stack.push((child.digest, child.size, child.media_type));
            }
        }
        Ok(seen.into_values().collect())
    }
}

impl Repository {
    /// The protection graph of a repository: for each top-level manifest, the manifest-level
    /// digests it reaches (nested manifests and indexes, subjects) and its own subject.
    /// A document of a known type that does not parse is an error (fail closed).
    pub fn retention_graph(&self) -> Result<BTreeMap<Digest, GraphNode>> {
        let repo = self;
        // Boxed: a map value is stored inline, and most entries (a plain image has no
        // edges) are None; an inline Document would cost ~600 bytes each.
        let mut docs: HashMap<Digest, Option<Box<Document>>> = HashMap::new();
        let read = |d: &Digest,
                    mt: &str,
                    docs: &mut HashMap<Digest, Option<Box<Document>>>|
         -> Result<Option<Box<Document>>> {
            if let Some(doc) = docs.get(d) {
                return Ok(doc.clone());
            }
            let kind = MediaKind::of(mt);
            let doc = if (kind.has_children() || mt.is_empty()) && repo.blobs.contains(d) {
                let bytes = repo.blobs.read(d, MAX_DOCUMENT_BYTES)?;
                match Document::parse(&bytes, mt) {
                    // Only the edges matter here (nested manifests, subject): a document with
                    // none is not kept, so memory grows with the graph's edges, not with the
                    // number of images.
                    Ok(doc) if doc.manifests.is_empty() && doc.subject.is_none() => None,
                    Ok(doc) => Some(Box::new(doc)),
                    Err(_) if !kind.has_children() => None,
                    Err(e) => return Err(Error::corrupt(repo.blobs.path(d), e.to_string())),
                }
            } else {
                None
            };
            docs.insert(d.clone(), doc.clone());
            Ok(doc)
        };
        let mut types: BTreeMap<&Digest, &str> = BTreeMap::new();
        for e in &repo.index().manifests {
            types.entry(&e.digest).or_insert(&e.media_type);
        }
        let mut nodes = BTreeMap::new();
        for d in repo.manifest_digests() {
            let mt = types.get(&d).copied().unwrap_or_default().to_string();
            let root = read(&d, &mt, &mut docs)?;
            let subject = root.as_ref().and_then(|doc| doc.subject.as_ref().map(|s| s.digest.clone()));
            let mut reaches = BTreeSet::new();
            let mut stack: Vec<Box<Document>> = root.into_iter().collect();
            while let Some(doc) = stack.pop() {
                let edges = doc.manifests.iter().chain(doc.subject.iter());
                for e in edges {
                    if e.digest != d
                        && reaches.insert(e.digest.clone())
                        && let Some(child) = read(&e.digest, &e.media_type, &mut docs)?
                    {
                        stack.push(child);
                    }
                }
            }
            nodes.insert(d, GraphNode { reaches, subject });
        }
        Ok(nodes)
    }
}

impl Registry {
    /// Makes every present blob of `root`'s closure in `src` present in `dst` as well:
    /// linked through the pool (one inode for all), copied where links fail. The subject
    /// of an artifact is not copied along (it need not be present).
    pub fn copy_closure(&self, src: &Repository, dst: &Repository, root: &Digest, media_type: &str) -> Result<usize> {
        let blobs = src.closure(root, media_type, false)?;
        let temp = self.state_dir().join("staging");
        crate::store::fs::create_dir_all_durable(&temp)?;
        let mut linked = 0;
        for b in blobs.iter().filter(|b| b.present) {
            if dst.blobs.contains(&b.digest) {
                continue;
            }
            match self.pool() {
                Some(pool) => {
                    pool.link_from(&src.blobs, &b.digest, &temp)?;
                    dst.blobs.link_from(&pool, &b.digest, &temp)?;
                }
                None => dst.blobs.link_from(&src.blobs, &b.digest, &temp)?,
            }
            linked += 1;
        }
        if !dst.blobs.contains(root) {
            return Err(Error::BlobMissing {
                context: format!("{}@{root}", src.name),
                digest: root.to_string(),
                dir: src.dir.clone(),
                repo: src.name.to_string(),
            });
        }
        Ok(linked)
    }
}
