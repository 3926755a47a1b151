//! The checks of one repository: the oci-layout file, index.json, every descriptor
//! reachable from it (nested indexes, manifests, configs, layers, subjects, referrers),
//! schemas, media types against bytes, diff_ids, the sidecar, strays. It reads small
//! documents itself (and hashes them on the way, so the engine does not read them twice)
//! and hands every other blob file to the engine through [`Pending`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::image::ImageIndex;

use super::{BlobFile, FileKey, Finding, Kind, Link, Owner, Pending, Selection, Severity, file_finding};
use crate::error::{Error, Result};
use crate::model::check;
use crate::model::media::OCI_LAYOUT_VERSION;
use crate::model::{Descriptor, Digest, Document, IndexFile, MediaKind, RepoName, Role, Tag};
use crate::registry::Registry;
use crate::registry::layout;
use crate::registry::meta::{META_VERSION, META_VERSIONS_READ, Meta};
use crate::registry::repository::MAX_DOCUMENT_BYTES;
use crate::store::fs::{FileKind, read_limited};

/// A layer whose bytes must agree with its media type, decided on its first bytes.
pub(crate) struct LayerCheck {
    pub key: FileKey,
    pub repository: Option<String>,
    pub digest: Digest,
    pub media_type: String,
    pub path: Arc<[Link]>,
}

impl LayerCheck {
    /// The finding when the layer's first bytes contradict its media type (the shared
    /// check, [`check::layer`]).
    pub fn judge(&self, head: &[u8]) -> Option<Finding> {
        let p = check::layer(&self.media_type, head)?;
        Some(Finding {
            severity: p.severity,
            kind: p.kind,
            repository: self.repository.clone(),
            digest: Some(self.digest.clone()),
            path: self.path.to_vec(),
            file: None,
            message: p.message,
        })
    }
}

/// Reads up to `n` bytes from the start of a file.
pub(crate) fn read_head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    crate::store::fs::open_file(path).map_err(io::Error::other)?.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Lists a blob directory like [`BlobStore::list`](crate::store::BlobStore::list) (the
/// same notion of stray), with one `stat` per file that also yields its identity.
pub(crate) fn list_keyed(root: &Path) -> Result<(BTreeMap<Digest, BlobFile>, Vec<PathBuf>)> {
    let mut blobs = BTreeMap::new();
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
                    blobs.insert(digest, BlobFile { path: e.path, size: meta.size, key: (meta.dev, meta.ino) });
                }
                _ => strays.push(e.path),
            }
        }
    }
    strays.sort();
    Ok((blobs, strays))
}

/// The walk of one repository.
pub(crate) struct RepoWalk<'a> {
    registry_root: &'a Path,
    repository: Option<String>,
    dir: &'a Path,
    quick: bool,
    blobs: BTreeMap<Digest, BlobFile>,
    index: Option<IndexFile>,
    /// The first chain that reached each referenced blob.
    reached: BTreeMap<Digest, Arc<[Link]>>,
    visited: BTreeSet<Digest>,
    configs_checked: BTreeSet<(Digest, usize)>,
    /// Blobs some descriptor gives `urls` for (non-distributable layers): absent is allowed.
    foreign: BTreeSet<Digest>,
    /// Layers of artifacts (files pushed by oras or `wharf add`, Helm charts, referrers):
    /// opaque content whose media type says nothing about compression, so the layer
    /// magic check does not apply ([`check::layer_applies`]).
    opaque: BTreeSet<Digest>,
    hashed: HashMap<FileKey, (Digest, Vec<u8>)>,
    layer_checks: Vec<LayerCheck>,
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
            quick,
            blobs: BTreeMap::new(),
            index: None,
            reached: BTreeMap::new(),
            visited: BTreeSet::new(),
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
        let Some(index) = self.index.clone() else { return Ok(()) };
        let roots: Vec<(usize, &Descriptor)> = match selection {
            Selection::All => index.manifests.iter().enumerate().collect(),
            Selection::Refs(refs) => {
                let mut out = Vec::new();
                for r in refs {
                    out.push(resolve(&index, r)?);
                }
                out
            }
        };
        for (i, d) in &roots {
            self.docker_typed(*i, d);
            self.walk(vec![root_link(*i, d)], Some(d.size));
        }
        if let Selection::Refs(_) = selection {
            self.walk_referrers(&index);
        }
        if self.whole {
            self.check_duplicate_tags(&index);
            self.check_sidecar(&index);
        }
        Ok(())
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
        let root = self.dir.join("blobs");
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
        self.blobs = blobs;
        self.blob_files = self.blobs.len();
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
                if let Err(e) = serde_json::from_slice::<ImageIndex>(&bytes) {
                    self.push_file(
                        Severity::Error,
                        Kind::InvalidIndex,
                        None,
                        &path,
                        format!("does not follow the OCI image index schema: {e}"),
                    );
                } else if idx.schema_version != 2 {
                    self.push_file(
                        Severity::Error,
                        Kind::InvalidIndex,
                        None,
                        &path,
                        format!("schemaVersion is {}, not 2", idx.schema_version),
                    );
                }
                self.index = Some(idx);
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
            let Some(file) = self.blobs.get(&link.digest).cloned() else {
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
            let shared = self.reached.entry(link.digest.clone()).or_insert_with(|| chain.clone().into()).clone();
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
            if !self.visited.insert(link.digest.clone()) {
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
                for (child, size) in self.check_document(&chain, &file) {
                    stack.push((child, size));
                }
            } else if kind == MediaKind::Layer && !self.opaque.contains(&link.digest) {
                self.layer_checks.push(LayerCheck {
                    key: file.key,
                    repository: self.repository.clone(),
                    digest: link.digest.clone(),
                    media_type: link.media_type.clone(),
                    path: shared,
                });
            }
        }
    }

    /// Reads, hashes and checks a manifest or index; returns the chains of its children
    /// (in reverse, so the depth-first walk visits them in document order).
    fn check_document(&mut self, chain: &[Link], file: &BlobFile) -> Vec<(Vec<Link>, Option<u64>)> {
        let link = chain.last().expect("non-empty chain");
        let Some(bytes) = self.read_small(&link.digest, file, chain) else { return Vec::new() };
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
                .and_then(|u| u.as_array())
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
    fn read_small(&mut self, digest: &Digest, file: &BlobFile, chain: &[Link]) -> Option<Vec<u8>> {
        let bytes = match read_limited(&file.path, MAX_DOCUMENT_BYTES) {
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
                    let f = self.rel(&file.path);
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
            let actual = Digest::of(&bytes);
            self.hashed.insert(file.key, (actual, bytes[..bytes.len().min(super::HEAD_BYTES)].to_vec()));
        }
        Some(bytes)
    }

    fn check_config(&mut self, chain: &[Link], layers: usize) {
        let link = chain.last().expect("non-empty chain");
        if !self.configs_checked.insert((link.digest.clone(), layers)) {
            return;
        }
        let Some(file) = self.blobs.get(&link.digest).cloned() else { return };
        let Some(bytes) = self.read_small(&link.digest, &file, chain) else { return };
        for p in check::config(&bytes, layers) {
            self.push(p.severity, p.kind, Some(link.digest.clone()), chain.to_vec(), p.message);
        }
    }

    /// With a reference selection: walks every index.json entry whose subject is in what
    /// was walked so far, until nothing new is added.
    fn walk_referrers(&mut self, index: &IndexFile) {
        loop {
            let mut added = false;
            for (i, d) in index.manifests.iter().enumerate() {
                if self.visited.contains(&d.digest) {
                    continue;
                }
                let Some(file) = self.blobs.get(&d.digest) else { continue };
                let Ok(bytes) = read_limited(&file.path, MAX_DOCUMENT_BYTES) else { continue };
                let Ok(doc) = Document::parse(&bytes, &d.media_type) else { continue };
                if doc.subject.as_ref().is_some_and(|s| self.visited.contains(&s.digest)) {
                    self.walk(vec![root_link(i, d)], Some(d.size));
                    added = true;
                }
            }
            if !added {
                return;
            }
        }
    }

    /// An info finding for an index.json entry that foreign OCI-only tools cannot read.
    fn docker_typed(&mut self, i: usize, d: &Descriptor) {
        if !crate::model::media::is_docker_v2(&d.media_type) {
            return;
        }
        let what = match d.ref_name() {
            Some(t) => format!("tag `{t}`"),
            None => "this untagged manifest".to_string(),
        };
        let kind = if MediaKind::of(&d.media_type) == MediaKind::Index { "manifest list" } else { "manifest" };
        self.push(
            Severity::Info,
            Kind::DockerMediaType,
            Some(d.digest.clone()),
            vec![root_link(i, d)],
            format!(
                "{what} is a Docker v2 schema 2 {kind}, kept byte for byte (its digest survives): wharf, docker-archive exports and registries read it, {} cannot",
                crate::model::media::OCI_ONLY_TOOLS.join(" and ")
            ),
        );
    }

    fn check_duplicate_tags(&mut self, index: &IndexFile) {
        let mut seen: BTreeMap<&str, &Digest> = BTreeMap::new();
        for d in &index.manifests {
            let Some(tag) = d.ref_name() else { continue };
            if let Some(first) = seen.insert(tag, &d.digest) {
                self.push(
                    Severity::Warning,
                    Kind::DuplicateTag,
                    Some(d.digest.clone()),
                    Vec::new(),
                    format!("tag `{tag}` appears more than once in index.json (also on {first}); tools disagree on which wins"),
                );
            }
        }
    }

    /// The sidecar, read raw from disk (loading a repository reconciles it in memory,
    /// which would hide exactly what this checks).
    fn check_sidecar(&mut self, index: &IndexFile) {
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
        let meta = serde_json::from_slice::<serde_json::Value>(&bytes)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| {
                let found = v.get("wharf_meta_version").and_then(|v| v.as_u64()).unwrap_or(0);
                if !META_VERSIONS_READ.contains(&found) {
                    return Err(format!(
                        "sidecar format version {found}; this wharf reads versions up to {META_VERSION}"
                    ));
                }
                serde_json::from_value::<Meta>(v).map_err(|e| format!("not a valid sidecar: {e}"))
            });
        let meta = match meta {
            Ok(m) => m,
            Err(message) => {
                self.push_file(Severity::Error, Kind::InvalidSidecar, None, &path, message);
                return;
            }
        };
        let tags: BTreeMap<String, Digest> = index
            .manifests
            .iter()
            .filter_map(|d| Some((Tag::parse(d.ref_name()?).ok()?.to_string(), d.digest.clone())))
            .collect();
        let digests: BTreeSet<&Digest> = index.manifests.iter().map(|d| &d.digest).collect();
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
            if !meta.manifests.contains_key(d) {
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
        self.blobs.keys().cloned()
    }

    /// Hands the blob files to hash, the results already known, the layer checks and the
    /// unreferenced blobs to the run.
    pub fn into_pending(self, pending: &mut Pending) {
        let rel = |p: &Path| p.strip_prefix(self.registry_root).unwrap_or(p).display().to_string();
        for (digest, file) in &self.blobs {
            let reached = self.reached.get(digest);
            if !self.whole && reached.is_none() {
                continue;
            }
            let owner = Owner {
                repository: self.repository.clone(),
                digest: digest.clone(),
                file: rel(&file.path),
                path: reached.cloned().unwrap_or_else(|| Arc::from(Vec::new())),
            };
            if self.whole && reached.is_none() {
                pending.unreferenced.push(owner.clone());
            }
            let entry: &mut (PathBuf, u64, Vec<Owner>) =
                pending.files.entry(file.key).or_insert_with(|| (file.path.clone(), file.size, Vec::new()));
            entry.2.push(owner);
        }
        for (k, v) in self.hashed {
            pending.done.entry(k).or_insert(v);
        }
        pending.layer_checks.extend(self.layer_checks);
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

fn root_link(i: usize, d: &Descriptor) -> Link {
    Link {
        role: Role::Manifest,
        index: Some(i),
        digest: d.digest.clone(),
        media_type: d.media_type.clone(),
        tag: d.ref_name().map(str::to_string),
    }
}

/// Finds a reference's entry in index.json.
fn resolve<'i>(index: &'i IndexFile, r: &crate::model::Reference) -> Result<(usize, &'i Descriptor)> {
    let by_tag = |t: &Tag| index.manifests.iter().enumerate().find(|(_, d)| d.ref_name() == Some(t.as_str()));
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
            Ok((i, d))
        }
        (None, Some(want)) => index.manifests.iter().enumerate().find(|(_, d)| &d.digest == want).ok_or_else(|| {
            Error::ManifestNotFound { reference: format!("{}@{want}", r.repo), repo: r.repo.to_string() }
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
        let check = |mt: &str| LayerCheck {
            key: (0, 0),
            repository: None,
            digest: Digest::of(b"x"),
            media_type: mt.to_string(),
            path: Arc::from(Vec::new()),
        };
        let f = check(media::OCI_LAYER_GZIP).judge(&tar).expect("finding");
        assert_eq!((f.severity, f.kind), (Severity::Error, Kind::MediaTypeMismatch));
        assert!(f.message.contains("plain tar"), "{}", f.message);
        assert!(check(media::OCI_LAYER_TAR).judge(&tar).is_none());
        assert!(check(media::DOCKER_LAYER_GZIP).judge(&[0x1f, 0x8b]).is_none());
        assert!(check(media::OCI_LAYER_TAR).judge(&[0x1f, 0x8b]).is_some());
        assert!(check("application/example").judge(b"anything").is_none());
    }
}
