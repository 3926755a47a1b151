//! One repository: a standalone OCI image layout plus its sidecar.
//!
//! Tags are descriptors in index.json carrying `org.opencontainers.image.ref.name`;
//! untagged manifests are descriptors without it, kept and addressable by digest. Every
//! mutation checks the locks of each object on its path (repository → tag → manifest)
//! first, changes the in-memory state, and [`Repository::save`] writes index.json then the
//! sidecar (each atomically), so a crash between the two leaves a sidecar that the next
//! load reconciles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use super::layout;
use super::meta::{IndexView, META_VERSION, META_VERSIONS_READ, ManifestMeta, Meta, TagMeta, TimeSource};
use crate::error::{Error, Result};
use crate::model::media::{ANNOTATION_CREATED, ANNOTATION_REF_NAME, OCI_LAYOUT_VERSION};
use crate::model::time::parse_timestamp;
use crate::model::{
    Action, Descriptor, Digest, Document, IndexFile, Locks, MediaKind, Reference, RepoName, Tag, Timestamp,
};
use crate::store::BlobStore;
use crate::store::fs::create_dir_all_durable;

/// Largest index.json wharf reads: 64 MiB (docs/FORMAT.md §3). 100k tags take about a
/// quarter of it; a larger one is refused before it is read (issue 16 B5: a 200 MiB
/// index.json is refused in `tags`/`repos` without being read, under 256 MiB peak RSS).
pub const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Largest sidecar (`wharf-meta.json`) wharf reads: 256 MiB (docs/FORMAT.md §4). It is
/// parsed into typed maps, never a `Value` tree.
pub const MAX_SIDECAR_BYTES: u64 = 256 << 20;
/// Largest manifest, index or config blob wharf parses.
pub const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

/// A repository loaded into memory.
#[derive(Debug)]
pub struct Repository {
    pub name: RepoName,
    pub dir: PathBuf,
    /// index.json. Private so that every change goes through a method that drops
    /// `lookup`; read it with [`Repository::index`].
    index: IndexFile,
    pub meta: Meta,
    pub blobs: BlobStore,
    /// True when the loaded sidecar differed from index.json (or was absent) and the
    /// reconciled one has not been written yet.
    pub meta_dirty: bool,
    /// Maps over index.json, built on first use and dropped by every change to it.
    lookup: OnceLock<Lookup>,
}

/// The lookups every command needs, built in one pass over index.json so that no
/// per-tag or per-manifest question scans it again.
#[derive(Debug, Default)]
struct Lookup {
    /// Every valid tag with the position of its first entry, sorted by tag.
    tags: BTreeMap<Tag, usize>,
    /// Every distinct manifest digest with the positions of its entries, in index order.
    by_digest: HashMap<Digest, Vec<usize>>,
    /// The valid tags on each digest, sorted.
    tags_by_digest: HashMap<Digest, Vec<Tag>>,
}

impl Lookup {
    fn build(index: &IndexFile) -> Lookup {
        probe::count(probe::Counter::IndexPass, index.manifests.len());
        let mut l = Lookup::default();
        for (i, d) in index.manifests.iter().enumerate() {
            l.by_digest.entry(d.digest.clone()).or_default().push(i);
            if let Some(tag) = d.ref_name().and_then(|n| Tag::parse(n).ok()) {
                l.tags.entry(tag).or_insert(i);
            }
        }
        for (tag, &i) in &l.tags {
            l.tags_by_digest.entry(index.manifests[i].digest.clone()).or_default().push(tag.clone());
        }
        l
    }
}

/// Test-only operation counters: how many index.json entries were visited in full passes
/// and how many map lookups were made, so tests can assert that an operation over N tags
/// does O(N) work without timing anything. Compiled to nothing outside tests.
pub mod probe {
    /// What is counted.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Counter {
        /// Entries of index.json visited by a full pass over it.
        IndexPass = 0,
        /// Lookups in the index maps or the sidecar maps.
        Lookup = 1,
        /// Manifest or index blobs read and parsed ([`super::Repository::read_document`]).
        DocumentRead = 2,
    }

    #[cfg(test)]
    thread_local! {
        static COUNTS: std::cell::Cell<[u64; 3]> = const { std::cell::Cell::new([0; 3]) };
    }

    #[inline]
    pub fn count(c: Counter, n: usize) {
        #[cfg(test)]
        COUNTS.with(|x| {
            let mut v = x.get();
            v[c as usize] += n as u64;
            x.set(v);
        });
        #[cfg(not(test))]
        let _ = (c, n);
    }

    /// Resets the counters of this thread and returns what they held (index passes,
    /// lookups).
    #[cfg(test)]
    pub fn take() -> (u64, u64) {
        let v = COUNTS.with(|x| x.replace([0; 3]));
        (v[0], v[1])
    }

    /// Resets the counters of this thread and returns the documents read.
    #[cfg(test)]
    pub fn take_reads() -> u64 {
        COUNTS.with(|x| x.replace([0; 3]))[2]
    }
}

/// A resolved reference.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub digest: Digest,
    pub descriptor: Descriptor,
    pub tag: Option<Tag>,
}

/// What setting a tag did (in a [`TagReport`](crate::reports::TagReport) or an import's
/// [`TagOutcome`](crate::reports::TagOutcome)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum TagChange {
    /// The tag did not exist; it now points at the manifest.
    Created,
    /// The tag already pointed at the manifest: nothing changed.
    Unchanged,
    /// The tag pointed at another manifest and now points at this one (with `force`).
    Moved {
        /// The manifest the tag pointed at before.
        from: Digest,
    },
}

/// Which object a lock change applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockTarget {
    Repository,
    Tag(Tag),
    Manifest(Digest),
}

/// Requested attribute changes; `None` leaves an attribute as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockChanges {
    pub write_enabled: Option<bool>,
    pub delete_enabled: Option<bool>,
    pub read_enabled: Option<bool>,
    pub list_enabled: Option<bool>,
}

impl LockChanges {
    pub fn apply(&self, l: &mut Locks) {
        if let Some(v) = self.write_enabled {
            l.write_enabled = v;
        }
        if let Some(v) = self.delete_enabled {
            l.delete_enabled = v;
        }
        if let Some(v) = self.read_enabled {
            l.read_enabled = v;
        }
        if let Some(v) = self.list_enabled {
            l.list_enabled = v;
        }
    }
}

impl Repository {
    /// Writes a new, empty layout at `dir`.
    pub fn create(name: RepoName, dir: &Path, now: Timestamp) -> Result<Repository> {
        create_dir_all_durable(&dir.join("blobs").join("sha256"))?;
        let mut repo = Repository::empty(name, dir, now);
        repo.save()?;
        // `oci-layout` last: the directory becomes a repository only once complete, so a
        // crash part-way leaves a directory that nothing lists (and the next create
        // finishes it), never a layout without index.json.
        layout::write_layout_file(dir)?;
        Ok(repo)
    }

    /// An empty repository at `dir`, in memory only (nothing is written): what
    /// [`Repository::create`] would start from.
    pub fn empty(name: RepoName, dir: &Path, now: Timestamp) -> Repository {
        Repository {
            name,
            dir: dir.to_path_buf(),
            index: IndexFile::default(),
            meta: Meta::new(now),
            blobs: BlobStore::new(dir.join("blobs")),
            meta_dirty: true,
            lookup: OnceLock::new(),
        }
    }

    /// Loads the layout at `dir`, reconciling its sidecar with index.json as of `now`.
    pub fn load(name: RepoName, dir: &Path, now: Timestamp) -> Result<Repository> {
        let layout_path = layout::layout_path(dir);
        match layout::read_layout_version(dir)?.as_deref() {
            Some(OCI_LAYOUT_VERSION) => {}
            Some(v) => {
                return Err(Error::corrupt(
                    &layout_path,
                    format!("imageLayoutVersion is `{v}`; wharf reads layouts of version {OCI_LAYOUT_VERSION}"),
                ));
            }
            None => {
                return Err(Error::corrupt(
                    &layout_path,
                    "not an oci-layout file: expected {\"imageLayoutVersion\":\"1.0.0\"}",
                ));
            }
        }
        let index_path = layout::index_path(dir);
        let index = layout::read_index(dir, "restore it from a backup or re-import the repository")?;
        let blobs = BlobStore::new(dir.join("blobs"));
        // Registry times of changes made by other tools: the moment of this load, never
        // earlier than index.json's last change.
        let observed = crate::store::fs::stat(&index_path)?
            .map(|s| crate::model::time::from_system(s.modified))
            .map_or(now, |m| m.max(now));
        let meta_path = layout::sidecar_path(dir);
        let (mut meta, mut dirty) = match layout::read_sidecar_bytes(dir)? {
            Some(bytes) => (parse_meta(&meta_path, &bytes)?, false),
            None => (Meta::new(adopted_repo_time(dir, now)), true),
        };
        let mut repo = Repository {
            name,
            dir: dir.to_path_buf(),
            index,
            meta: Meta::new(now),
            blobs,
            meta_dirty: false,
            lookup: OnceLock::new(),
        };
        dirty |= meta.migrate(observed, &mut |d| repo.image_created(d));
        let l = repo.lookup();
        let view = IndexView {
            tags: l.tags.keys().map(|t| (t.as_str(), &repo.index.manifests[l.tags[t]].digest)).collect(),
            manifests: l.by_digest.keys().collect(),
        };
        dirty |= meta.reconcile(&view, observed, &mut |d| repo.image_created(d));
        drop(view);
        repo.meta = meta;
        // The sidecar will be written by the next write: learn what the manifests it
        // backfilled are now (one parallel pass over those blobs), not on every listing.
        if dirty {
            repo.fill_facts();
        }
        repo.meta_dirty = dirty;
        Ok(repo)
    }

    fn lookup(&self) -> &Lookup {
        self.lookup.get_or_init(|| Lookup::build(&self.index))
    }

    /// index.json as loaded (and changed by this repository's methods).
    pub fn index(&self) -> &IndexFile {
        &self.index
    }

    /// The build time of an image (shown as `image_created`; never a registry time): the
    /// index entry's `org.opencontainers.image.created`, else the config's `created`
    /// (for an index, the newest of its platform manifests').
    fn image_created(&self, digest: &Digest) -> Option<Timestamp> {
        let first = self.lookup().by_digest.get(digest).and_then(|p| p.first()).map(|&i| &self.index.manifests[i]);
        if let Some(t) = first.and_then(|d| d.annotations.get(ANNOTATION_CREATED)).and_then(|s| parse_timestamp(s).ok())
        {
            return Some(t);
        }
        self.config_created(digest)
    }

    /// The config's `created` of an image manifest; for an index, the newest of its
    /// children's (the moment the last platform was built).
    fn config_created(&self, digest: &Digest) -> Option<Timestamp> {
        let doc = self.read_document(digest, "").ok()?;
        if doc.kind == MediaKind::Index {
            return doc
                .manifests
                .iter()
                .filter(|m| m.kind() != MediaKind::Index)
                .filter_map(|m| self.config_created(&m.digest))
                .max();
        }
        if doc.kind != MediaKind::Manifest {
            return None;
        }
        let config = doc.config?;
        let bytes = self.blobs.read(&config.digest, MAX_DOCUMENT_BYTES).ok()?;
        parse_timestamp(&crate::model::lenient::ConfigFields::parse(&bytes)?.created?).ok()
    }

    /// Reads and parses a manifest or index blob of this repository.
    pub fn read_document(&self, digest: &Digest, declared: &str) -> Result<Document> {
        probe::count(probe::Counter::DocumentRead, 1);
        let bytes = self.blobs.read(digest, MAX_DOCUMENT_BYTES)?;
        Document::parse(&bytes, declared).map_err(|e| Error::corrupt(self.blobs.path(digest), e.to_string()))
    }

    /// Writes index.json, then the sidecar.
    pub fn save(&mut self) -> Result<()> {
        // Blobs are read before index.json is written, so the two writes follow each
        // other with nothing slow in between.
        self.fill_facts();
        layout::write_index(&self.dir, &self.index)?;
        self.write_meta()
    }

    /// Writes the sidecar alone (lock changes, backfilled metadata).
    pub fn save_meta(&mut self) -> Result<()> {
        self.fill_facts();
        self.write_meta()
    }

    /// Writes the sidecar as it is in memory (a sidecar of an older wharf has got its
    /// manifests' kinds from [`Repository::fill_facts`] first).
    fn write_meta(&mut self) -> Result<()> {
        layout::write_sidecar(&self.dir, &self.meta)?;
        self.meta_dirty = false;
        Ok(())
    }

    /// Every (tag, descriptor) of index.json whose ref.name is a valid tag, sorted by tag.
    /// A ref.name that is not a valid tag (a full image name, say) is not a tag here.
    /// Built from the index maps: no scan of index.json after the first call.
    pub fn tag_entries(&self) -> Vec<(Tag, &Descriptor)> {
        let l = self.lookup();
        probe::count(probe::Counter::Lookup, l.tags.len());
        l.tags.iter().map(|(t, &i)| (t.clone(), &self.index.manifests[i])).collect()
    }

    /// The number of valid tags.
    pub fn tag_count(&self) -> usize {
        self.lookup().tags.len()
    }

    /// The number of distinct manifests.
    pub fn manifest_count(&self) -> usize {
        self.lookup().by_digest.len()
    }

    /// The distinct manifest digests of index.json, sorted.
    pub fn manifest_digests(&self) -> Vec<Digest> {
        let l = self.lookup();
        probe::count(probe::Counter::Lookup, l.by_digest.len());
        let mut out: Vec<Digest> = l.by_digest.keys().cloned().collect();
        out.sort();
        out
    }

    /// The first index.json entry of each distinct manifest, in index.json order.
    pub fn distinct_entries(&self) -> Vec<&Descriptor> {
        let l = self.lookup();
        probe::count(probe::Counter::Lookup, l.by_digest.len());
        let mut first: Vec<usize> = l.by_digest.values().map(|p| p[0]).collect();
        first.sort_unstable();
        first.into_iter().map(|i| &self.index.manifests[i]).collect()
    }

    /// Every index.json entry of `digest` (several when another tool wrote duplicates,
    /// or one per tag), in index order.
    pub fn entries_of(&self, digest: &Digest) -> Vec<&Descriptor> {
        probe::count(probe::Counter::Lookup, 1);
        self.lookup()
            .by_digest
            .get(digest)
            .map(|p| p.iter().map(|&i| &self.index.manifests[i]).collect())
            .unwrap_or_default()
    }

    /// The index.json descriptor of `digest`, if it is a top-level entry.
    pub fn descriptor_of(&self, digest: &Digest) -> Option<&Descriptor> {
        probe::count(probe::Counter::Lookup, 1);
        self.lookup().by_digest.get(digest).map(|p| &self.index.manifests[p[0]])
    }

    /// The valid tags on `digest`, sorted.
    pub fn tags_of(&self, digest: &Digest) -> Vec<Tag> {
        probe::count(probe::Counter::Lookup, 1);
        self.lookup().tags_by_digest.get(digest).cloned().unwrap_or_default()
    }

    /// The index.json entry of `tag` (its first, when another tool wrote it twice).
    pub fn tag_entry(&self, tag: &Tag) -> Option<&Descriptor> {
        probe::count(probe::Counter::Lookup, 1);
        self.lookup().tags.get(tag).map(|&i| &self.index.manifests[i])
    }

    pub fn tag_digest(&self, tag: &Tag) -> Option<&Digest> {
        self.tag_entry(tag).map(|d| &d.digest)
    }

    pub fn repo_locks(&self) -> Locks {
        self.meta.repository.locks
    }

    pub fn tag_locks(&self, tag: &Tag) -> Locks {
        probe::count(probe::Counter::Lookup, 1);
        self.meta.tags.get(tag.as_str()).map(|m| m.locks).unwrap_or_default()
    }

    pub fn manifest_locks(&self, digest: &Digest) -> Locks {
        probe::count(probe::Counter::Lookup, 1);
        self.meta.manifests.get(digest).map(|m| m.locks).unwrap_or_default()
    }

    /// Replaces the entry of `tag` by `entry` (same tag and digest, other bytes: restore
    /// puts back an entry exactly as it was).
    pub fn replace_tag_entry(&mut self, tag: &Tag, entry: Descriptor) {
        if let Some(slot) = self.index.manifests.iter_mut().find(|d| d.ref_name() == Some(tag.as_str())) {
            *slot = entry;
        }
        self.lookup = OnceLock::new();
    }

    /// Resolves a reference to a top-level manifest of this repository. With both a tag
    /// and a digest, the tag must point at that digest.
    pub fn resolve(&self, r: &Reference) -> Result<Resolved> {
        match (&r.tag, &r.digest) {
            (Some(tag), digest) => {
                let d = self.tag_digest(tag).ok_or_else(|| Error::TagNotFound {
                    reference: format!("{}:{tag}", self.name),
                    repo: self.name.to_string(),
                })?;
                if let Some(want) = digest
                    && want != d
                {
                    return Err(Error::TagDigestMismatch {
                        reference: r.to_string(),
                        expected: want.to_string(),
                        actual: d.to_string(),
                    });
                }
                let descriptor = self.descriptor_of(d).cloned().expect("tagged digest is in the index");
                Ok(Resolved { digest: d.clone(), descriptor, tag: Some(tag.clone()) })
            }
            (None, Some(d)) => {
                let descriptor = self.descriptor_of(d).cloned().ok_or_else(|| Error::ManifestNotFound {
                    reference: format!("{}@{d}", self.name),
                    repo: self.name.to_string(),
                })?;
                Ok(Resolved { digest: d.clone(), descriptor, tag: None })
            }
            (None, None) => Err(Error::Usage(format!("`{r}` names no tag or digest"))),
        }
    }

    /// Like [`Repository::resolve`], but a `REPO@DIGEST` that is not a top-level entry may
    /// also name a manifest listed by a top-level index (a platform manifest of a
    /// multi-arch image). Returns the resolution, the top-level indexes that list a nested
    /// manifest (empty for a top-level one: see [`Repository::parents_of`]), and whether
    /// it is a top-level entry.
    pub fn locate(&self, r: &Reference) -> Result<(Resolved, Vec<Digest>, bool)> {
        if r.tag.is_none()
            && let Some(d) = &r.digest
            && self.descriptor_of(d).is_none()
        {
            let parents = self.parents_of(d)?;
            if let Some(p) = parents.first() {
                let pdesc = self.descriptor_of(p).expect("parent is top-level");
                let doc = self.read_document(p, &pdesc.media_type)?;
                let descriptor = doc.manifests.iter().find(|m| &m.digest == d).cloned().expect("parent lists it");
                return Ok((Resolved { digest: d.clone(), descriptor, tag: None }, parents, false));
            }
        }
        Ok((self.resolve(r)?, Vec::new(), true))
    }

    /// Refuses `action` on `what` if the repository, any of `tags`, or any of `digests`
    /// forbids it. The error names the lock and the command that lifts it.
    pub fn check(&self, what: &str, tags: &[Tag], digests: &[Digest], action: Action) -> Result<()> {
        if let Some(a) = self.repo_locks().forbids(action) {
            let r = self.name.to_string();
            return Err(Error::lock_refused(what, format!("the repository {r}"), &r, a));
        }
        for t in tags {
            if let Some(a) = self.tag_locks(t).forbids(action) {
                let r = format!("{}:{t}", self.name);
                return Err(Error::lock_refused(what, format!("the tag {r}"), &r, a));
            }
        }
        for d in digests {
            if let Some(a) = self.manifest_locks(d).forbids(action) {
                let r = format!("{}@{d}", self.name);
                return Err(Error::lock_refused(what, format!("the manifest {r}"), &r, a));
            }
        }
        Ok(())
    }

    /// True when the repository, every one of `tags` and every one of `digests` allow
    /// reading: [`Repository::check`] for [`Action::Read`], for callers that skip what
    /// they may not read (with a note) rather than refuse.
    pub fn readable(&self, tags: &[Tag], digests: &[Digest]) -> bool {
        self.check("reading", tags, digests, Action::Read).is_ok()
    }

    /// Refuses reading the content of `resolved` (export, or a tag made from it) when a
    /// read lock guards it. `parents` are the top-level indexes that list it when it was
    /// reached as a nested child (see [`Repository::locate`]). The rule
    /// (docs/LIFECYCLE.md, "Read locks"):
    /// - a manifest named by a tag is guarded by that tag; reached by digest, by **every**
    ///   tag that points at it (each is a path to it, and a digest must not be a way
    ///   round a tag's read lock);
    /// - always by its own manifest lock and the repository's;
    /// - a nested child by every index that lists it, with their tags;
    /// - an index by every manifest it lists, at any depth, with their tags (exporting
    ///   an index reads its children).
    pub fn check_read(&self, what: &str, resolved: &Resolved, parents: &[Digest]) -> Result<()> {
        let tags = match &resolved.tag {
            Some(t) => vec![t.clone()],
            None => self.tags_of(&resolved.digest),
        };
        self.check(what, &tags, std::slice::from_ref(&resolved.digest), Action::Read)?;
        for p in parents {
            self.check(what, &self.tags_of(p), std::slice::from_ref(p), Action::Read)?;
        }
        if resolved.descriptor.kind() == MediaKind::Index || resolved.descriptor.media_type.is_empty() {
            for b in self.closure(&resolved.digest, &resolved.descriptor.media_type, false)? {
                let kind = MediaKind::of(&b.media_type);
                if b.digest == resolved.digest || !(kind == MediaKind::Index || kind == MediaKind::Manifest) {
                    continue;
                }
                self.check(what, &self.tags_of(&b.digest), std::slice::from_ref(&b.digest), Action::Read)?;
            }
        }
        Ok(())
    }

    /// Checks, without changing anything, that `tag` may be pointed at `digest`: returns
    /// the digest it points at now (`None` for a new tag). Moving a tag writes the
    /// repository and the tag (write_enabled) and takes a tag away from the manifest it
    /// points at now, which that manifest's locks must allow as they would an untag;
    /// a tag that points elsewhere moves only with `force`. Pointing a tag at the digest
    /// it already has is always allowed (nothing changes).
    pub fn check_set_tag(&self, tag: &Tag, digest: &Digest, force: bool) -> Result<Option<Digest>> {
        let reference = format!("{}:{tag}", self.name);
        let current = self.tag_digest(tag).cloned();
        if current.as_ref() == Some(digest) {
            return Ok(current);
        }
        let what = format!("writing {reference}");
        self.check(&what, std::slice::from_ref(tag), &[], Action::Write)?;
        if let Some(cur) = &current {
            self.check(&what, &[], std::slice::from_ref(cur), Action::Untag)?;
            if !force {
                return Err(Error::TagExists { reference, current: cur.to_string() });
            }
        }
        Ok(current)
    }

    /// Points `tag` at the manifest `desc` (whose blobs must already be present). A tag
    /// that points elsewhere moves only with `force`; the manifest it leaves stays,
    /// untagged, with its `untagged_at` recorded. Checks locks as
    /// [`Repository::check_set_tag`] says.
    pub fn set_tag(&mut self, tag: &Tag, desc: &Descriptor, force: bool, now: Timestamp) -> Result<TagChange> {
        let current = self.check_set_tag(tag, &desc.digest, force)?;
        if current.as_ref() == Some(&desc.digest) {
            return Ok(TagChange::Unchanged);
        }
        // One pass: take out the tag's entries and the manifest's untagged entry (it gains
        // a tag).
        let mut old_entries: Vec<Descriptor> = Vec::new();
        self.index.manifests.retain(|d| {
            if d.ref_name() == Some(tag.as_str()) {
                old_entries.push(d.clone());
                return false;
            }
            !(d.digest == desc.digest && d.ref_name().is_none())
        });
        let mut entry = desc.clone();
        entry.annotations.insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
        self.index.manifests.push(entry);
        self.index_changed();
        self.note_manifest(&desc.digest, now);
        let m = self.meta.manifests.get_mut(&desc.digest).expect("noted");
        m.untagged_at = None;
        m.untagged_source = None;
        // A moved tag keeps its creation time, the source of that time and its locks.
        let (created, created_source) =
            self.meta.tags.get(tag.as_str()).map_or((now, TimeSource::Wharf), |t| (t.created, t.created_source));
        let locks = self.meta.tags.get(tag.as_str()).map(|t| t.locks).unwrap_or_default();
        self.meta.tags.insert(
            tag.to_string(),
            TagMeta { digest: desc.digest.clone(), created, updated: now, created_source, locks },
        );
        for old in old_entries {
            self.keep_untagged_if_orphaned(old, now);
        }
        self.meta.repository.updated = now;
        Ok(match current {
            Some(from) => TagChange::Moved { from },
            None => TagChange::Created,
        })
    }

    /// Checks, without changing anything, that the manifest `digest` may be added
    /// untagged ([`Repository::add_untagged`]): a write to the repository, which its
    /// repository lock must allow. Returns whether it would be added (`false`, and no
    /// check, when it is already in the index: nothing changes).
    pub fn check_add_untagged(&self, what: &str, digest: &Digest) -> Result<bool> {
        if self.descriptor_of(digest).is_some() {
            return Ok(false);
        }
        self.check(what, &[], &[], Action::Write)?;
        Ok(true)
    }

    /// Adds `desc` as an untagged manifest (no-op when it is already in the index).
    pub fn add_untagged(&mut self, desc: &Descriptor, now: Timestamp) {
        if self.descriptor_of(&desc.digest).is_some() {
            return;
        }
        let mut entry = desc.clone();
        entry.annotations.remove(ANNOTATION_REF_NAME);
        self.index.manifests.push(entry);
        self.index_changed();
        self.note_manifest(&desc.digest, now);
        let m = self.meta.manifests.get_mut(&desc.digest).expect("noted");
        m.untagged_at = Some(now);
        m.untagged_source = Some(TimeSource::Wharf);
        self.meta.repository.updated = now;
    }

    /// Reads again what [`Repository::note_manifest`] could not while the manifest's
    /// blobs were not yet in the repository (an import plans its tags before it moves
    /// blobs): the build time, kind and subject it lacks.
    pub(crate) fn renote_manifest(&mut self, digest: &Digest) {
        let Some(m) = self.meta.manifests.get(digest) else { return };
        let (need_time, need_facts) = (m.image_created.is_none(), m.kind.is_none());
        let image_created = if need_time { self.image_created(digest) } else { None };
        let facts = if need_facts { self.read_facts(digest) } else { None };
        let m = self.meta.manifests.get_mut(digest).expect("present above");
        if need_time {
            m.image_created = image_created;
        }
        if let Some((kind, subject)) = facts {
            m.kind = Some(kind);
            m.subject = subject;
        }
    }

    /// Records a manifest wharf adds (its blobs are present, so its build time is read
    /// once here and kept in the sidecar).
    fn note_manifest(&mut self, digest: &Digest, now: Timestamp) {
        if self.meta.manifests.contains_key(digest) {
            return;
        }
        let image_created = self.image_created(digest);
        let (kind, subject) = self.read_facts(digest).map_or((None, None), |(k, s)| (Some(k), s));
        self.meta.manifests.insert(
            digest.clone(),
            ManifestMeta {
                created: now,
                created_source: TimeSource::Wharf,
                untagged_at: None,
                untagged_source: None,
                image_created,
                locks: Locks::default(),
                kind,
                subject,
            },
        );
    }

    /// Drops the index maps after index.json changed in memory.
    fn index_changed(&mut self) {
        self.lookup = OnceLock::new();
    }

    /// After `removed` (an index entry) left index.json: if no other entry names its
    /// manifest, keep the manifest as an untagged entry and record when it lost its tags.
    fn keep_untagged_if_orphaned(&mut self, removed: Descriptor, now: Timestamp) {
        let digest = removed.digest.clone();
        if self.descriptor_of(&digest).is_some() {
            // Still listed: untagged only if no valid tag is left on it.
            if self.tags_of(&digest).is_empty()
                && let Some(m) = self.meta.manifests.get_mut(&digest)
                && m.untagged_at.is_none()
            {
                m.untagged_at = Some(now);
                m.untagged_source = Some(TimeSource::Wharf);
            }
            return;
        }
        let mut entry = removed;
        entry.annotations.remove(ANNOTATION_REF_NAME);
        self.index.manifests.push(entry);
        self.index_changed();
        if let Some(m) = self.meta.manifests.get_mut(&digest) {
            m.untagged_at = Some(now);
            m.untagged_source = Some(TimeSource::Wharf);
        }
    }

    /// Removes one tag; its manifest stays, untagged when this was its last tag. Refused
    /// when the repository, the tag or the manifest forbids untagging
    /// ([`Repository::check_untag`]).
    pub fn untag(&mut self, tag: &Tag, now: Timestamp) -> Result<Descriptor> {
        self.check_untag(tag)?;
        self.untag_unchecked(tag, now)
    }

    /// Checks, without changing anything, that `tag` exists and may be removed: the
    /// repository, the tag and every manifest it names must allow an untag.
    pub fn check_untag(&self, tag: &Tag) -> Result<()> {
        let reference = format!("{}:{tag}", self.name);
        self.tag_digest(tag)
            .ok_or_else(|| Error::TagNotFound { reference: reference.clone(), repo: self.name.to_string() })?;
        let mut digests: Vec<Digest> = self
            .index
            .manifests
            .iter()
            .filter(|d| d.ref_name() == Some(tag.as_str()))
            .map(|d| d.digest.clone())
            .collect();
        digests.sort();
        digests.dedup();
        self.check(&format!("untagging {reference}"), std::slice::from_ref(tag), &digests, Action::Untag)
    }

    /// Removes one tag without checking locks (purge with `--include-locked`; callers
    /// check everything else). The manifest stays, untagged when this was its last tag.
    pub fn untag_unchecked(&mut self, tag: &Tag, now: Timestamp) -> Result<Descriptor> {
        let digest = self.tag_digest(tag).cloned().ok_or_else(|| Error::TagNotFound {
            reference: format!("{}:{tag}", self.name),
            repo: self.name.to_string(),
        })?;
        // index.json written by another tool may carry the same ref.name twice: every
        // entry goes, and every manifest left without an entry is kept untagged.
        let mut entries: Vec<Descriptor> = Vec::new();
        self.index.manifests.retain(|d| {
            let hit = d.ref_name() == Some(tag.as_str());
            if hit {
                entries.push(d.clone());
            }
            !hit
        });
        self.index_changed();
        self.meta.tags.remove(tag.as_str());
        let entry = entries.iter().find(|d| d.digest == digest).cloned().expect("tag found");
        for e in entries {
            self.keep_untagged_if_orphaned(e, now);
        }
        self.meta.repository.updated = now;
        Ok(entry)
    }

    /// The top-level index manifests of this repository that list `digest` as a child.
    pub fn parents_of(&self, digest: &Digest) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for desc in self.distinct_entries().into_iter().filter(|d| seen.insert(&d.digest)) {
            let d = desc.digest.clone();
            if (desc.kind() == MediaKind::Index || desc.media_type.is_empty())
                && let Ok(doc) = self.read_document(&d, &desc.media_type)
                && doc.manifests.iter().any(|m| &m.digest == digest)
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The index entries a delete of `digest` would remove (every tag on it), after
    /// checking the delete locks of the repository, every tag and the manifest, and that
    /// no other top-level index of the repository lists it.
    pub fn plan_remove_manifest(&self, digest: &Digest) -> Result<Vec<Descriptor>> {
        let reference = format!("{}@{digest}", self.name);
        let entries: Vec<Descriptor> = self.entries_of(digest).into_iter().cloned().collect();
        if entries.is_empty() {
            return Err(Error::ManifestNotFound { reference, repo: self.name.to_string() });
        }
        let tags = self.tags_of(digest);
        self.check(&format!("deleting {reference}"), &tags, std::slice::from_ref(digest), Action::Delete)?;
        let parents = self.parents_of(digest)?;
        if !parents.is_empty() {
            let by: Vec<String> = parents.iter().map(|p| format!("the index {}@{p}", self.name)).collect();
            return Err(Error::InUse { what: reference, by: by.join(", ") });
        }
        Ok(entries)
    }

    /// Removes a manifest and every tag on it (see [`Repository::plan_remove_manifest`]).
    pub fn remove_manifest(&mut self, digest: &Digest, now: Timestamp) -> Result<Vec<Descriptor>> {
        let entries = self.plan_remove_manifest(digest)?;
        self.remove_manifest_unchecked(digest, now);
        Ok(entries)
    }

    /// Removes a manifest and every tag on it without checking locks or parents (purge and
    /// retention decide those themselves). Returns the removed index entries.
    pub fn remove_manifest_unchecked(&mut self, digest: &Digest, now: Timestamp) -> Vec<Descriptor> {
        let entries: Vec<Descriptor> = self.entries_of(digest).into_iter().cloned().collect();
        self.index.manifests.retain(|d| &d.digest != digest);
        self.index_changed();
        self.meta.tags.retain(|_, t| &t.digest != digest);
        self.meta.manifests.remove(digest);
        self.meta.repository.updated = now;
        entries
    }

    /// Removes many tags without checking locks, in one pass over index.json (purge over
    /// thousands of tags): each manifest left without a tag stays as an untagged entry with
    /// its `untagged_at` recorded, as [`Repository::untag_unchecked`] does for one.
    pub fn untag_many_unchecked(&mut self, tags: &BTreeSet<String>, now: Timestamp) {
        // Moved out, not cloned: a purge may untag tens of thousands of entries.
        let removed: Vec<Descriptor> =
            self.index.manifests.extract_if(.., |d| d.ref_name().is_some_and(|t| tags.contains(t))).collect();
        self.index_changed();
        for t in tags {
            self.meta.tags.remove(t.as_str());
        }
        let mut listed: BTreeSet<Digest> = self.index.manifests.iter().map(|d| d.digest.clone()).collect();
        for mut entry in removed {
            if !listed.insert(entry.digest.clone()) {
                continue;
            }
            entry.annotations.remove(ANNOTATION_REF_NAME);
            if let Some(m) = self.meta.manifests.get_mut(&entry.digest) {
                m.untagged_at = Some(now);
                m.untagged_source = Some(TimeSource::Wharf);
            }
            self.index.manifests.push(entry);
        }
        self.index_changed();
        self.meta.repository.updated = now;
    }

    /// Removes many manifests (and every tag on them) without checking locks or parents,
    /// in one pass (purge, retention).
    pub fn remove_manifests_unchecked(&mut self, digests: &BTreeSet<Digest>, now: Timestamp) {
        self.index.manifests.retain(|d| !digests.contains(&d.digest));
        self.index_changed();
        self.meta.tags.retain(|_, t| !digests.contains(&t.digest));
        self.meta.manifests.retain(|d, _| !digests.contains(d));
        self.meta.repository.updated = now;
    }

    /// Changes lock attributes. Never refused: this is how locks are lifted.
    pub fn set_locks(&mut self, target: &LockTarget, changes: LockChanges) -> Result<Locks> {
        let locks = match target {
            LockTarget::Repository => &mut self.meta.repository.locks,
            LockTarget::Tag(tag) => {
                let reference = format!("{}:{tag}", self.name);
                &mut self
                    .meta
                    .tags
                    .get_mut(tag.as_str())
                    .ok_or_else(|| Error::TagNotFound { reference, repo: self.name.to_string() })?
                    .locks
            }
            LockTarget::Manifest(d) => {
                let reference = format!("{}@{d}", self.name);
                &mut self
                    .meta
                    .manifests
                    .get_mut(d)
                    .ok_or_else(|| Error::ManifestNotFound { reference, repo: self.name.to_string() })?
                    .locks
            }
        };
        changes.apply(locks);
        Ok(*locks)
    }
}

/// Parses a sidecar, refusing a version this wharf does not know. Deserialised straight
/// into [`Meta`] (no intermediate JSON tree: a 100k-tag sidecar is tens of megabytes).
fn parse_meta(path: &Path, bytes: &[u8]) -> Result<Meta> {
    #[derive(serde::Deserialize)]
    struct Version {
        wharf_meta_version: Option<serde_json::Value>,
    }
    // One pass in the common case; the version alone is read only to explain a sidecar
    // that does not parse (a newer format is not a corrupt file).
    let version_of = |m: Option<u64>| m.filter(|v| META_VERSIONS_READ.contains(v));
    match serde_json::from_slice::<Meta>(bytes) {
        Ok(meta) if version_of(Some(meta.wharf_meta_version)).is_some() => Ok(meta),
        Ok(meta) => Err(Error::SidecarVersion {
            path: path.to_path_buf(),
            found: meta.wharf_meta_version,
            supported: META_VERSION,
        }),
        Err(parse) => {
            let v: Version = serde_json::from_slice(bytes).map_err(|e| {
                Error::corrupt(
                    path,
                    format!("not valid JSON ({e}); move it aside and wharf rebuilds it from index.json"),
                )
            })?;
            let found = v.wharf_meta_version.and_then(|v| v.as_u64()).unwrap_or(0);
            if !META_VERSIONS_READ.contains(&found) {
                return Err(Error::SidecarVersion { path: path.to_path_buf(), found, supported: META_VERSION });
            }
            Err(Error::corrupt(
                path,
                format!("not a valid sidecar ({parse}); move it aside and wharf rebuilds it from index.json"),
            ))
        }
    }
}

fn adopted_repo_time(dir: &Path, now: Timestamp) -> Timestamp {
    match crate::store::fs::stat(&layout::layout_path(dir)) {
        Ok(Some(s)) => Timestamp::from(s.modified),
        _ => now,
    }
}
