//! The checks of one repository: the oci-layout file, index.json, every descriptor
//! reachable from it (nested indexes, manifests, configs, layers, subjects, referrers),
//! schemas, media types against bytes, diff_ids, the sidecar, strays. It reads small
//! documents itself (and hashes them on the way, so the engine does not read them twice)
//! and hands every other blob file to the engine through [`Pending`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::ImageIndex;

use super::{BlobFile, FileKey, Finding, Kind, Link, Origin, Owner, Pending, Selection, Severity, file_finding};
use crate::error::{Error, Result};
use crate::model::check;
use crate::model::media::OCI_LAYOUT_VERSION;
use crate::model::{Digest, Document, IndexFile, MediaKind, RepoName, Role, Tag};
use crate::registry::Registry;
use crate::registry::layout;
use crate::registry::meta::{META_VERSION, META_VERSIONS_READ, Meta};
use crate::registry::repository::MAX_DOCUMENT_BYTES;
use crate::store::fs::{FileKind, read_limited};

/// A layer whose bytes must agree with its media type, decided on its first bytes. The
/// layer is the blob `owner.blob` of its walk: its media type is the one of the link that
/// first reached it, its path that link's chain (rebuilt only for a finding).
pub(crate) struct LayerCheck {
    pub key: FileKey,
    pub owner: Owner,
}

/// The finding when a layer's first bytes contradict its media type (the shared check,
/// [`check::layer`]); `path` is asked for only then.
pub(crate) fn judge(
    media_type: &str,
    head: &[u8],
    repository: &Option<String>,
    digest: &Digest,
    path: impl FnOnce() -> Vec<Link>,
) -> Option<Finding> {
    let p = check::layer(media_type, head)?;
    Some(Finding {
        severity: p.severity,
        kind: p.kind,
        repository: repository.clone(),
        digest: Some(digest.clone()),
        path: path(),
        file: None,
        message: p.message,
    })
}

/// No parent, no index, not reached (in [`Reach`] and [`Owner::blob`]).
pub(crate) const NONE: u32 = u32::MAX;

/// The link that first reached a blob of a walk, without its chain: the chain is the
/// parent's chain plus this link, rebuilt through `parent` only when a finding needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reach {
    /// The blob (index in the walk's list) whose document named this one; [`NONE`] for
    /// an index.json entry.
    parent: u32,
    role: Role,
    /// Position in the parent's list (or in index.json); [`NONE`] for none.
    index: u32,
    /// Index into [`Chains::media_types`].
    media_type: u32,
}

/// One index.json entry, as much of it as the checks use.
pub(crate) struct Root {
    digest: Digest,
    size: u64,
    media_type: u32,
    tag: Option<Box<str>>,
}

/// What a walk keeps to name, after it, the chain that first reached each of its blobs.
#[derive(Default)]
pub(crate) struct Chains {
    /// The blob files of the repository, sorted by digest.
    pub digests: Vec<Digest>,
    reach: Vec<Option<Reach>>,
    media_types: Vec<Box<str>>,
    roots: Vec<Root>,
}

impl Chains {
    /// The chain of descriptors from index.json that first reached blob `blob` (empty
    /// for [`NONE`] or a blob nothing reached).
    pub fn chain(&self, blob: u32) -> Vec<Link> {
        let mut out = Vec::new();
        let mut at = blob;
        while at != NONE {
            let Some(r) = self.reach.get(at as usize).copied().flatten() else { break };
            let index = (r.index != NONE).then_some(r.index as usize);
            let tag = match (r.parent, index) {
                (NONE, Some(i)) => self.roots.get(i).and_then(|root| root.tag.as_deref().map(str::to_string)),
                _ => None,
            };
            out.push(Link {
                role: r.role,
                index,
                digest: self.digests[at as usize].clone(),
                media_type: self.media_types[r.media_type as usize].to_string(),
                tag,
            });
            at = r.parent;
        }
        out.reverse();
        out
    }

    /// The media type of the link that first reached blob `blob`.
    pub fn media_type(&self, blob: u32) -> &str {
        match self.reach.get(blob as usize).copied().flatten() {
            Some(r) => &self.media_types[r.media_type as usize],
            None => "",
        }
    }

    fn find(&self, digest: &Digest) -> Option<u32> {
        self.digests.binary_search(digest).ok().map(|i| i as u32)
    }
}

/// Reads up to `n` bytes from the start of a file.
pub(crate) fn read_head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    crate::store::fs::open_file(path).map_err(io::Error::other)?.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// The blob files of a blob directory, sorted by digest.
pub(crate) type KeyedBlobs = Vec<(Digest, BlobFile)>;

/// The file of blob `digest` in the blob directory `root` (`root/sha256/<hex>`, the name
/// [`list_keyed`] found it under).
pub(crate) fn blob_path(root: &Path, digest: &Digest) -> PathBuf {
    root.join("sha256").join(digest.hex())
}

/// Lists a blob directory like [`BlobStore::list`](crate::store::BlobStore::list) (the
/// same notion of stray), with one `stat` per file that also yields its identity. The
/// blobs come sorted by digest; their paths are [`blob_path`].
pub(crate) fn list_keyed(root: &Path) -> Result<(KeyedBlobs, Vec<PathBuf>)> {
    let mut blobs = Vec::new();
    let mut strays = Vec::new();
    // Listed without following links: a link (or FIFO) named like a blob is a stray,
    // never a blob, and never opened.
    let Some(dir) = crate::store::fs::read_dir_if_exists(root)? else { return Ok((blobs, strays)) };
    for alg in dir.entries()? {
        if alg.name != "sha256" || alg.kind != FileKind::Dir {
            strays.push(alg.path);
            continue;
        }
        let Some(sub) = dir.open_dir(&alg.name)? else { continue };
        for e in sub.entries()? {
            let Some(meta) = sub.stat(&e.name)? else { continue };
            match e.name_str().and_then(Digest::from_hex) {
                Some(digest) if meta.kind == FileKind::File => {
                    debug_assert_eq!(e.path, blob_path(root, &digest));
                    blobs.push((digest, BlobFile { size: meta.size, key: (meta.dev, meta.ino) }));
                }
                _ => strays.push(e.path),
            }
        }
    }
    strays.sort();
    blobs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok((blobs, strays))
}

/// The walk of one repository.
pub(crate) struct RepoWalk<'a> {
    registry_root: &'a Path,
    repository: Option<String>,
    dir: &'a Path,
    blobs_root: PathBuf,
    quick: bool,
    /// The blob files (sorted by digest, as `chains.digests`), one entry per digest.
    blobs: Vec<BlobFile>,
    /// The blob digests, the link that first reached each blob, index.json's entries.
    chains: Chains,
    /// Media types interned in `chains.media_types`.
    media_ids: HashMap<Box<str>, u32>,
    /// Whether index.json parsed (`chains.roots` is then its entries).
    indexed: bool,
    /// Blobs (by index) visited by the walk.
    visited: Vec<bool>,
    /// (config blob, number of layers) pairs checked.
    configs_checked: BTreeSet<(u32, usize)>,
    /// Blobs some descriptor gives `urls` for (non-distributable layers): absent is allowed.
    foreign: BTreeSet<Digest>,
    /// Layers of artifacts (files pushed by oras or `wharf add`, Helm charts, referrers):
    /// opaque content whose media type says nothing about compression, so the layer
    /// magic check does not apply ([`check::layer_applies`]).
    opaque: BTreeSet<Digest>,
    /// Digests of the documents hashed while read (not --quick).
    hashed: HashMap<FileKey, Digest>,
    /// Layers (blob indexes) whose magic is checked.
    layer_checks: Vec<u32>,
    whole: bool,
    pub findings: Vec<Finding>,
    pub documents: usize,
    pub blob_files: usize,
}

impl<'a> RepoWalk<'a> {
    pub fn new(registry: &'a Registry, name: Option<&RepoName>, dir: &'a Path, quick: bool) -> RepoWalk<'a> {
        RepoWalk {
            registry_root: registry.root(),
            repository: name.map(|n| n.to_string()),
            dir,
            blobs_root: dir.join("blobs"),
            quick,
            blobs: Vec::new(),
            chains: Chains::default(),
            media_ids: HashMap::new(),
            indexed: false,
            visited: Vec::new(),
            configs_checked: BTreeSet::new(),
            foreign: BTreeSet::new(),
            opaque: BTreeSet::new(),
            hashed: HashMap::new(),
            layer_checks: Vec::new(),
            whole: false,
            findings: Vec::new(),
            documents: 0,
            blob_files: 0,
        }
    }

    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(self.registry_root).unwrap_or(p).display().to_string()
    }

    fn push(&mut self, severity: Severity, kind: Kind, digest: Option<Digest>, path: Vec<Link>, message: String) {
        self.findings.push(Finding {
            severity,
            kind,
            repository: self.repository.clone(),
            digest,
            path,
            file: None,
            message,
        });
    }

    fn push_file(&mut self, severity: Severity, kind: Kind, digest: Option<Digest>, file: &Path, message: String) {
        let f = file_finding(severity, kind, self.repository.clone(), digest, self.rel(file), message);
        self.findings.push(f);
    }

    /// Runs every check of the selection. Errors only when a reference of the selection
    /// does not resolve (verify cannot do what was asked).
    pub fn run(&mut self, selection: &Selection) -> Result<()> {
        self.whole = matches!(selection, Selection::All);
        self.check_layout();
        self.list_blobs();
        self.check_index();
        if !self.indexed {
            return Ok(());
        }
        // Checked before the walk (findings are sorted at the end): the sidecar's parse
        // then never coexists with what the walk holds.
        if self.whole {
            self.check_duplicate_tags();
            self.check_sidecar();
        }
        let roots: Vec<usize> = match selection {
            Selection::All => (0..self.chains.roots.len()).collect(),
            Selection::Refs(refs) => {
                let mut out = Vec::new();
                for r in refs {
                    out.push(resolve(&self.chains.roots, r)?);
                }
                out
            }
        };
        for i in roots {
            self.docker_typed(i);
            let link = self.root_link(i);
            self.walk(vec![link], Some(self.chains.roots[i].size));
        }
        if let Selection::Refs(_) = selection {
            self.walk_referrers();
        }
        Ok(())
    }

    /// The interned id of a media type.
    fn media_id(&mut self, media_type: &str) -> u32 {
        if let Some(id) = self.media_ids.get(media_type) {
            return *id;
        }
        let id = self.chains.media_types.len() as u32;
        self.chains.media_types.push(media_type.into());
        self.media_ids.insert(media_type.into(), id);
        id
    }

    /// The chain of index.json entry `i`.
    fn root_link(&self, i: usize) -> Link {
        let r = &self.chains.roots[i];
        Link {
            role: Role::Manifest,
            index: Some(i),
            digest: r.digest.clone(),
            media_type: self.chains.media_types[r.media_type as usize].to_string(),
            tag: r.tag.as_deref().map(str::to_string),
        }
    }

    /// The path of blob `i`.
    fn blob_path(&self, i: u32) -> PathBuf {
        blob_path(&self.blobs_root, &self.chains.digests[i as usize])
    }

    fn check_layout(&mut self) {
        let path = layout::layout_path(self.dir);
        let version = match layout::read_layout_version(self.dir) {
            Ok(v) => v,
            Err(e) => {
                self.push_file(Severity::Error, Kind::LayoutVersion, None, &path, format!("unreadable: {e}"));
                return;
            }
        };
        let message = match version.as_deref() {
            Some(OCI_LAYOUT_VERSION) => return,
            Some(v) => format!("imageLayoutVersion is `{v}`; OCI image layouts are version {OCI_LAYOUT_VERSION}"),
            None => format!("not an oci-layout file: expected {{\"imageLayoutVersion\":\"{OCI_LAYOUT_VERSION}\"}}"),
        };
        self.push_file(Severity::Error, Kind::LayoutVersion, None, &path, message);
    }

    fn list_blobs(&mut self) {
        let root = self.blobs_root.clone();
        let (blobs, strays) = match list_keyed(&root) {
            Ok(l) => l,
            Err(e) => {
                self.push_file(Severity::Error, Kind::Unreadable, None, &root, e.to_string());
                return;
            }
        };
        for s in &strays {
            self.push_file(
                Severity::Warning,
                Kind::StrayFile,
                None,
                s,
                "not a blob (its name is not a sha256 digest); move it out of blobs/ (umoci gc aborts on it)".into(),
            );
        }
        self.blob_files = blobs.len();
        (self.chains.digests, self.blobs) = blobs.into_iter().unzip();
        self.chains.reach = vec![None; self.blobs.len()];
        self.visited = vec![false; self.blobs.len()];
    }

    /// index.json, read raw through the registry's layout reader (not loaded: a broken
    /// index is a finding here, not an error).
    fn check_index(&mut self) {
        let path = layout::index_path(self.dir);
        let bytes = match layout::read_index_bytes(self.dir) {
            Ok(b) => b,
            Err(e) => {
                self.push_file(Severity::Error, Kind::InvalidIndex, None, &path, format!("unreadable: {e}"));
                return;
            }
        };
        match IndexFile::parse(&bytes) {
            Ok(idx) => {
                // Only what the checks use of each entry is kept, and the whole index is
                // dropped before the schema's own parse.
                let schema_version = idx.schema_version;
                let mut roots = Vec::with_capacity(idx.manifests.len());
                for d in idx.manifests {
                    let media_type = self.media_id(&d.media_type);
                    let tag = d.ref_name().map(Box::from);
                    roots.push(Root { digest: d.digest, size: d.size, media_type, tag });
                }
                self.chains.roots = roots;
                self.indexed = true;
                if let Err(e) = serde_json::from_slice::<ImageIndex>(&bytes) {
                    self.push_file(
                        Severity::Error,
                        Kind::InvalidIndex,
                        None,
                        &path,
                        format!("does not follow the OCI image index schema: {e}"),
                    );
                } else if schema_version != 2 {
                    self.push_file(
                        Severity::Error,
                        Kind::InvalidIndex,
                        None,
                        &path,
                        format!("schemaVersion is {schema_version}, not 2"),
                    );
                }
            }
            Err(e) => self.push_file(
                Severity::Error,
                Kind::InvalidIndex,
                None,
                &path,
                format!("not a valid OCI index ({e}); nothing in this repository can be reached"),
            ),
        }
    }

    /// Follows every edge from `chain`'s last link, depth first.
    fn walk(&mut self, chain: Vec<Link>, size: Option<u64>) {
        let mut stack = vec![(chain, size)];
        while let Some((chain, size)) = stack.pop() {
            let link = chain.last().expect("non-empty chain").clone();
            let Some(blob) = self.chains.find(&link.digest) else {
                if self.foreign.contains(&link.digest) {
                    self.push(
                        Severity::Info,
                        Kind::MissingBlob,
                        Some(link.digest.clone()),
                        chain,
                        "non-distributable layer: its descriptor gives `urls` to fetch it from, so it may be absent"
                            .into(),
                    );
                } else if link.role == Role::Subject {
                    self.push(
                        Severity::Info,
                        Kind::SubjectAbsent,
                        Some(link.digest.clone()),
                        chain,
                        "the subject of this referrer is not in the repository (allowed: a referrer may arrive before or without its subject)".into(),
                    );
                } else {
                    self.push(
                        Severity::Error,
                        Kind::MissingBlob,
                        Some(link.digest.clone()),
                        chain,
                        format!("blob {} is missing (referenced as a {})", link.digest, role_name(link.role)),
                    );
                }
                continue;
            };
            let file = self.blobs[blob as usize].clone();
            if self.chains.reach[blob as usize].is_none() {
                // The parent's first chain is this chain without its last link: a
                // document's children are walked only from its first visit.
                let parent = match chain.len() {
                    1 => NONE,
                    n => self.chains.find(&chain[n - 2].digest).expect("a parent is a blob of the walk"),
                };
                let index = link.index.map_or(NONE, |i| u32::try_from(i).expect("fewer than 2^32 descriptors"));
                let media_type = self.media_id(&link.media_type);
                self.chains.reach[blob as usize] = Some(Reach { parent, role: link.role, index, media_type });
            }
            if let Some(want) = size
                && want != file.size
            {
                self.push(
                    Severity::Error,
                    Kind::SizeMismatch,
                    Some(link.digest.clone()),
                    chain.clone(),
                    format!("descriptor declares {want} bytes, the blob has {}", file.size),
                );
            }
            if std::mem::replace(&mut self.visited[blob as usize], true) {
                continue;
            }
            let kind = MediaKind::of(&link.media_type);
            let document = kind.has_children() || (link.media_type.is_empty() && chain.len() == 1);
            // Chains are at most MAX_DEPTH long, so what the walk holds stays linear in
            // the number of blobs however deep a hostile layout nests.
            if document && let Some(p) = check::depth(chain.len()) {
                self.push(p.severity, p.kind, Some(link.digest.clone()), chain, p.message);
                continue;
            }
            if document {
                for (child, size) in self.check_document(&chain, blob, &file) {
                    stack.push((child, size));
                }
            } else if kind == MediaKind::Layer && !self.opaque.contains(&link.digest) {
                self.layer_checks.push(blob);
            }
        }
    }

    /// Reads, hashes and checks a manifest or index; returns the chains of its children
    /// (in reverse, so the depth-first walk visits them in document order).
    fn check_document(&mut self, chain: &[Link], blob: u32, file: &BlobFile) -> Vec<(Vec<Link>, Option<u64>)> {
        let link = chain.last().expect("non-empty chain");
        let Some(bytes) = self.read_small(blob, file, chain) else { return Vec::new() };
        self.documents += 1;
        let checked = check::document(&bytes, &link.media_type);
        for p in checked.problems {
            self.push(p.severity, p.kind, Some(link.digest.clone()), chain.to_vec(), p.message);
        }
        let Some(doc) = checked.doc else { return Vec::new() };
        let opaque_layers = !check::layer_applies(&doc);
        let mut children = Vec::new();
        let (mut mi, mut li) = (0usize, 0usize);
        for c in doc.children() {
            let index = match c.role {
                Role::Manifest => {
                    mi += 1;
                    Some(mi - 1)
                }
                Role::Layer | Role::Blob => {
                    li += 1;
                    Some(li - 1)
                }
                _ => None,
            };
            if c.descriptor
                .as_ref()
                .and_then(|d| d.extra.get("urls"))
                .and_then(|u| serde_json::from_str::<Vec<serde::de::IgnoredAny>>(u.get()).ok())
                .is_some_and(|u| !u.is_empty())
            {
                self.foreign.insert(c.digest.clone());
            }
            if opaque_layers && c.role == Role::Layer {
                self.opaque.insert(c.digest.clone());
            }
            let mut next = chain.to_vec();
            next.push(Link { role: c.role, index, digest: c.digest.clone(), media_type: c.media_type, tag: None });
            children.push((next, c.size));
        }
        if let Some((config, layers)) = &checked.image_config {
            let mut at = chain.to_vec();
            at.push(Link {
                role: Role::Config,
                index: None,
                digest: config.digest.clone(),
                media_type: config.media_type.clone(),
                tag: None,
            });
            self.check_config(&at, *layers);
        }
        children.reverse();
        children
    }

    /// Reads a document-sized blob and, unless --quick, hashes it (the engine will not
    /// read it again). `None` when it is unreadable or too large. Content that does not
    /// match its digest is still checked and followed (every problem is reported); the
    /// mismatch itself is reported when the engine's results are settled.
    fn read_small(&mut self, blob: u32, file: &BlobFile, chain: &[Link]) -> Option<Vec<u8>> {
        let digest = &self.chains.digests[blob as usize].clone();
        let path = self.blob_path(blob);
        let bytes = match read_limited(&path, MAX_DOCUMENT_BYTES) {
            Ok(b) => b,
            Err(Error::TooLarge { limit, .. }) => {
                self.push(
                    Severity::Error,
                    Kind::InvalidDocument,
                    Some(digest.clone()),
                    chain.to_vec(),
                    format!("{} bytes: larger than any manifest, index or config wharf reads ({limit})", file.size),
                );
                return None;
            }
            Err(e) => {
                // Hashing reports it as unreadable; --quick hashes nothing, so report here.
                if self.quick {
                    let f = self.rel(&path);
                    self.findings.push(file_finding(
                        Severity::Error,
                        Kind::Unreadable,
                        self.repository.clone(),
                        Some(digest.clone()),
                        f,
                        format!("could not read the blob: {e}"),
                    ));
                }
                return None;
            }
        };
        if !self.quick {
            self.hashed.insert(file.key, Digest::of(&bytes));
        }
        Some(bytes)
    }

    fn check_config(&mut self, chain: &[Link], layers: usize) {
        let link = chain.last().expect("non-empty chain");
        // A config that is not a blob of the repository is reported by the walk.
        let Some(blob) = self.chains.find(&link.digest) else { return };
        if !self.configs_checked.insert((blob, layers)) {
            return;
        }
        let file = self.blobs[blob as usize].clone();
        let Some(bytes) = self.read_small(blob, &file, chain) else { return };
        for p in check::config(&bytes, layers) {
            self.push(p.severity, p.kind, Some(link.digest.clone()), chain.to_vec(), p.message);
        }
    }

    /// With a reference selection: walks every index.json entry whose subject is in what
    /// was walked so far, until nothing new is added.
    fn walk_referrers(&mut self) {
        let visited = |w: &Self, d: &Digest| w.chains.find(d).is_some_and(|b| w.visited[b as usize]);
        loop {
            let mut added = false;
            for i in 0..self.chains.roots.len() {
                let d = &self.chains.roots[i];
                let Some(blob) = self.chains.find(&d.digest) else { continue };
                if self.visited[blob as usize] {
                    continue;
                }
                let media_type = &self.chains.media_types[d.media_type as usize];
                let Ok(bytes) = read_limited(&self.blob_path(blob), MAX_DOCUMENT_BYTES) else { continue };
                let Ok(doc) = Document::parse(&bytes, media_type) else { continue };
                if doc.subject.as_ref().is_some_and(|s| visited(self, &s.digest)) {
                    let size = d.size;
                    let link = self.root_link(i);
                    self.walk(vec![link], Some(size));
                    added = true;
                }
            }
            if !added {
                return;
            }
        }
    }

    /// An info finding for an index.json entry that foreign OCI-only tools cannot read.
    fn docker_typed(&mut self, i: usize) {
        let link = self.root_link(i);
        if !crate::model::media::is_docker_v2(&link.media_type) {
            return;
        }
        let what = match &link.tag {
            Some(t) => format!("tag `{t}`"),
            None => "this untagged manifest".to_string(),
        };
        let kind = if MediaKind::of(&link.media_type) == MediaKind::Index { "manifest list" } else { "manifest" };
        self.push(
            Severity::Info,
            Kind::DockerMediaType,
            Some(link.digest.clone()),
            vec![link],
            format!(
                "{what} is a Docker v2 schema 2 {kind}, kept byte for byte (its digest survives): wharf, docker-archive exports and registries read it, {} cannot",
                crate::model::media::OCI_ONLY_TOOLS.join(" and ")
            ),
        );
    }

    fn check_duplicate_tags(&mut self) {
        let mut seen: BTreeMap<&str, &Digest> = BTreeMap::new();
        let mut found = Vec::new();
        for d in &self.chains.roots {
            let Some(tag) = d.tag.as_deref() else { continue };
            if let Some(first) = seen.insert(tag, &d.digest) {
                found.push((
                    d.digest.clone(),
                    format!("tag `{tag}` appears more than once in index.json (also on {first}); tools disagree on which wins"),
                ));
            }
        }
        for (digest, message) in found {
            self.push(Severity::Warning, Kind::DuplicateTag, Some(digest), Vec::new(), message);
        }
    }

    /// The sidecar, read raw from disk (loading a repository reconciles it in memory,
    /// which would hide exactly what this checks).
    fn check_sidecar(&mut self) {
        let path = layout::sidecar_path(self.dir);
        let bytes = match layout::read_sidecar_bytes(self.dir) {
            Ok(Some(b)) => b,
            // No sidecar is fine: it is rebuilt from index.json on the next write.
            Ok(None) => return,
            Err(e) => {
                self.push_file(Severity::Error, Kind::InvalidSidecar, None, &path, format!("unreadable: {e}"));
                return;
            }
        };
        let meta = match serde_json::from_slice::<Meta>(&bytes) {
            // A sound sidecar is read straight into its types: a parse through a
            // serde_json::Value holds several times the file's size at once.
            Ok(m) if META_VERSIONS_READ.contains(&m.wharf_meta_version) => Ok(m),
            // Anything else is read again the way that words the finding.
            // Typed reads only, never a Value tree (issue 16 B5): validity, then the version.
            _ => serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                .map_err(|e| format!("not valid JSON: {e}"))
                .and_then(|_| {
                    #[derive(serde::Deserialize)]
                    struct Version {
                        wharf_meta_version: Option<u64>,
                    }
                    let found =
                        serde_json::from_slice::<Version>(&bytes).ok().and_then(|v| v.wharf_meta_version).unwrap_or(0);
                    if !META_VERSIONS_READ.contains(&found) {
                        return Err(format!(
                            "sidecar format version {found}; this wharf reads versions up to {META_VERSION}"
                        ));
                    }
                    serde_json::from_slice::<Meta>(&bytes).map_err(|e| format!("not a valid sidecar: {e}"))
                }),
        };
        drop(bytes);
        let meta = match meta {
            Ok(m) => m,
            Err(message) => {
                self.push_file(Severity::Error, Kind::InvalidSidecar, None, &path, message);
                return;
            }
        };
        let tags: BTreeMap<String, Digest> = self
            .chains
            .roots
            .iter()
            .filter_map(|d| Some((Tag::parse(d.tag.as_deref()?).ok()?.to_string(), d.digest.clone())))
            .collect();
        let digests: BTreeSet<Digest> = self.chains.roots.iter().map(|d| d.digest.clone()).collect();
        for (tag, m) in &meta.tags {
            let locked = if m.locks.is_default() { "" } else { " (its locks are lost with it)" };
            match tags.get(tag) {
                None => self.push_file(
                    Severity::Warning,
                    Kind::SidecarMismatch,
                    Some(m.digest.clone()),
                    &path,
                    format!("the sidecar has tag `{tag}`, which index.json does not list{locked}"),
                ),
                Some(d) if d != &m.digest => self.push_file(
                    Severity::Warning,
                    Kind::SidecarMismatch,
                    Some(d.clone()),
                    &path,
                    format!("the sidecar says tag `{tag}` is {}, index.json says {d}", m.digest),
                ),
                Some(_) => {}
            }
        }
        for (d, m) in &meta.manifests {
            if !digests.contains(d) {
                let locked = if m.locks.is_default() { "" } else { " (its locks are lost with it)" };
                self.push_file(
                    Severity::Warning,
                    Kind::SidecarMismatch,
                    Some(d.clone()),
                    &path,
                    format!("the sidecar has manifest {d}, which index.json does not list{locked}"),
                );
            }
        }
        for (tag, d) in &tags {
            if !meta.tags.contains_key(tag) {
                self.push_file(
                    Severity::Info,
                    Kind::SidecarMismatch,
                    Some(d.clone()),
                    &path,
                    format!("tag `{tag}` has no metadata in the sidecar yet (wharf backfills it on the next write)"),
                );
            }
        }
        for d in digests {
            if !meta.manifests.contains_key(&d) {
                self.push_file(
                    Severity::Info,
                    Kind::SidecarMismatch,
                    Some(d.clone()),
                    &path,
                    format!("manifest {d} has no metadata in the sidecar yet (wharf backfills it on the next write)"),
                );
            }
        }
    }

    /// The digests of the blob files of the repository.
    pub fn blob_digests(&self) -> impl Iterator<Item = Digest> + '_ {
        self.chains.digests.iter().cloned()
    }

    /// Hands the blob files to hash, the results already known, the layer checks and the
    /// unreferenced blobs to the run, with what names their files and chains.
    pub fn into_pending(self, pending: &mut Pending) {
        let origin = u32::try_from(pending.origins.len()).expect("fewer than 2^32 repositories");
        for (i, file) in self.blobs.iter().enumerate() {
            let reached = self.chains.reach[i].is_some();
            if !self.whole && !reached {
                continue;
            }
            let owner = Owner { origin, blob: i as u32, digest: self.chains.digests[i].clone() };
            if self.whole && !reached {
                pending.unreferenced.push(owner.clone());
            }
            pending.files.push((file.key, file.size, owner));
        }
        for (k, v) in self.hashed {
            pending.done.entry(k).or_insert(v);
        }
        for blob in self.layer_checks {
            let owner = Owner { origin, blob, digest: self.chains.digests[blob as usize].clone() };
            pending.layer_checks.push(LayerCheck { key: self.blobs[blob as usize].key, owner });
        }
        pending.origins.push(Origin {
            repository: self.repository,
            registry_root: self.registry_root.to_path_buf(),
            blobs_root: self.blobs_root,
            chains: self.chains,
        });
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manifest => "manifest",
        Role::Config => "config",
        Role::Layer => "layer",
        Role::Subject => "subject",
        Role::Blob => "blob",
    }
}

/// Finds a reference's entry in index.json.
fn resolve(roots: &[Root], r: &crate::model::Reference) -> Result<usize> {
    let by_tag = |t: &Tag| roots.iter().enumerate().find(|(_, d)| d.tag.as_deref() == Some(t.as_str()));
    match (&r.tag, &r.digest) {
        (Some(t), want) => {
            let (i, d) = by_tag(t)
                .ok_or_else(|| Error::TagNotFound { reference: format!("{}:{t}", r.repo), repo: r.repo.to_string() })?;
            if let Some(w) = want
                && w != &d.digest
            {
                return Err(Error::TagDigestMismatch {
                    reference: r.to_string(),
                    expected: w.to_string(),
                    actual: d.digest.to_string(),
                });
            }
            Ok(i)
        }
        (None, Some(want)) => roots.iter().position(|d| &d.digest == want).ok_or_else(|| Error::ManifestNotFound {
            reference: format!("{}@{want}", r.repo),
            repo: r.repo.to_string(),
        }),
        (None, None) => Err(Error::Usage(format!("`{r}` names no tag or digest"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::media;

    #[test]
    fn judge_gzip_label_on_plain_tar_is_an_error() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        let digest = Digest::of(b"x");
        let check = |mt: &str, head: &[u8]| judge(mt, head, &None, &digest, Vec::new);
        let f = check(media::OCI_LAYER_GZIP, &tar).expect("finding");
        assert_eq!((f.severity, f.kind), (Severity::Error, Kind::MediaTypeMismatch));
        assert!(f.message.contains("plain tar"), "{}", f.message);
        assert!(check(media::OCI_LAYER_TAR, &tar).is_none());
        assert!(check(media::DOCKER_LAYER_GZIP, &[0x1f, 0x8b]).is_none());
        assert!(check(media::OCI_LAYER_TAR, &[0x1f, 0x8b]).is_some());
        assert!(check("application/example", b"anything").is_none());
    }
}
