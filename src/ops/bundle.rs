//! What `wharf export` puts into an archive beyond the references it names: every tag of
//! a repository (`export REPO`) or of the registry (`export --all`), the referrers of
//! every exported manifest (recursively: the signature of an SBOM too), `--platform`
//! narrowing of multi-platform indexes, and the blobs an inventory says the other side
//! already has (`--exclude-present`). It decides what goes in; export.rs writes it.
//!
//! Untagged manifests in an archive (referrers) carry the annotation
//! [`ANNOTATION_REPOSITORY`] on their index.json entry, so `wharf import` puts them back
//! into the repository they came from, untagged, next to their subject.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::media::{self, ANNOTATION_REF_NAME};
use crate::model::{Descriptor, Digest, Document, MediaKind, Platform, Reference, RepoName};
use crate::registry::{Registry, Repository};

/// The repository an untagged manifest of a wharf archive belongs to.
pub const ANNOTATION_REPOSITORY: &str = "io.wharf.repository";
/// On an archive's index.json: the archive is a delta (blobs listed by an inventory are
/// left out; `wharf import` takes them from the registry it imports into).
pub const ANNOTATION_DELTA: &str = "io.wharf.bundle.delta";

/// What export was asked for, before expansion.
#[derive(Debug, Clone)]
pub enum Target {
    /// `REPO:TAG`, `REPO@DIGEST`, `REPO:TAG@DIGEST`.
    Ref(Reference),
    /// A bare `REPO`: every tag of it.
    Repo(RepoName),
}

/// Expands `--all` and bare repositories into tag references. Repositories and tags
/// whose read is disabled are skipped with a note when they were not named one by one
/// (a named reference that is read-locked is refused later, by the caller's check).
pub fn expand(
    reg: &Registry,
    now: crate::model::Timestamp,
    all: bool,
    targets: &[Target],
    notes: &mut Vec<String>,
) -> Result<Vec<Reference>> {
    let mut out = Vec::new();
    let mut repos: Vec<RepoName> = Vec::new();
    if all {
        repos = reg.repo_names()?;
    }
    for t in targets {
        match t {
            Target::Ref(r) => out.push(r.clone()),
            Target::Repo(name) => {
                if !reg.repo_exists(name) {
                    return Err(Error::RepoNotFound { repo: name.to_string() });
                }
                repos.push(name.clone());
            }
        }
    }
    let mut seen = BTreeSet::new();
    for name in repos {
        if !seen.insert(name.clone()) {
            continue;
        }
        let repo = reg.open_repo(&name, now)?;
        if !repo.readable(&[], &[]) {
            notes.push(format!("skipped the repository {name}: read_enabled = false"));
            continue;
        }
        let tags = repo.tag_entries();
        if tags.is_empty() {
            notes.push(format!("the repository {name} has no tags: nothing of it exported"));
        }
        for (tag, desc) in tags {
            if !repo.readable(std::slice::from_ref(&tag), std::slice::from_ref(&desc.digest)) {
                notes.push(format!("skipped {name}:{tag}: read_enabled = false"));
                continue;
            }
            out.push(Reference::by_tag(name.clone(), tag));
        }
    }
    Ok(out)
}

/// The result of `--platform` on one root.
pub enum Narrowed {
    /// Keep the root as it is.
    Keep,
    /// Nothing of it matches: leave it out.
    Skip(String),
    /// Use this child manifest instead.
    Child(Descriptor, String),
    /// A new index over the selected children (its bytes, not in the registry).
    NewIndex(Descriptor, Vec<u8>, String),
}

fn platform_of_config(repo: &Repository, doc: &Document) -> Option<Platform> {
    let c = doc.config.as_ref().filter(|c| MediaKind::of(&c.media_type) == MediaKind::Config)?;
    let bytes = repo.blobs.read(&c.digest, crate::registry::repository::MAX_DOCUMENT_BYTES).ok()?;
    let c = crate::model::lenient::ConfigFields::parse(&bytes)?;
    let mut p = Platform::parse(&format!("{}/{}", c.os?, c.architecture?))?;
    p.variant = c.variant;
    Some(p)
}

/// Applies `--platform` selectors to the root `desc` of `r`, as import does: every child
/// selected keeps the index; one selected exports that manifest under the tag; several
/// give a new index listing the selected descriptors verbatim and in order. An image
/// whose platform is known and not selected is skipped; one without a platform (an
/// artifact, a Helm chart) is kept.
pub fn narrow(repo: &Repository, r: &Reference, desc: &Descriptor, sel: &[Platform]) -> Result<Narrowed> {
    if sel.is_empty() {
        return Ok(Narrowed::Keep);
    }
    let doc = repo.read_document(&desc.digest, &desc.media_type)?;
    let hit = |p: Option<&Platform>| p.is_some_and(|p| sel.iter().any(|s| s.matches(p)));
    if doc.kind != MediaKind::Index {
        let p = desc.platform.clone().or_else(|| platform_of_config(repo, &doc));
        return Ok(match p {
            Some(p) if !hit(Some(&p)) => Narrowed::Skip(format!("skipped {r} ({p}): not a selected platform")),
            _ => Narrowed::Keep,
        });
    }
    let selected: Vec<&Descriptor> = doc.manifests.iter().filter(|m| hit(m.platform.as_ref())).collect();
    if selected.len() == doc.manifests.len() {
        return Ok(Narrowed::Keep);
    }
    match selected.len() {
        0 => Ok(Narrowed::Skip(format!("skipped {r}: none of its platforms is selected"))),
        1 => {
            let c = selected[0].clone();
            let p = c.platform.as_ref().map(|p| p.to_string()).unwrap_or_default();
            Ok(Narrowed::Child(
                c.clone(),
                format!("{r}: exported only {p} ({}) out of the index {}", c.digest, desc.digest),
            ))
        }
        _ => {
            #[derive(serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            struct NarrowIndex<'a> {
                schema_version: u32,
                media_type: &'a str,
                manifests: Vec<&'a Descriptor>,
            }
            let mt = doc.media_type.clone().unwrap_or_else(|| media::OCI_INDEX.to_string());
            let bytes =
                serde_json::to_vec(&NarrowIndex { schema_version: 2, media_type: &mt, manifests: selected.clone() })
                    .expect("index serialises");
            let nd = Descriptor::new(&mt, Digest::of(&bytes), bytes.len() as u64);
            let ps: Vec<String> = selected.iter().filter_map(|m| m.platform.as_ref().map(|p| p.to_string())).collect();
            let note = format!(
                "{r}: narrowed the index {} to {} as {} (a new index: its digest differs)",
                desc.digest,
                ps.join(", "),
                nd.digest
            );
            Ok(Narrowed::NewIndex(nd, bytes, note))
        }
    }
}

/// subject digest → the top-level manifests of `repo` whose `subject` it is. Every
/// manifest is read once (in parallel), so a repository of many tags is one pass, not
/// one pass per exported manifest. Unreadable manifests are skipped (verify reports them).
pub fn subjects(repo: &Repository) -> BTreeMap<Digest, Vec<Digest>> {
    use rayon::prelude::*;
    let mut seen = BTreeSet::new();
    let entries: Vec<&Descriptor> = repo
        .index()
        .manifests
        .iter()
        .filter(|d| seen.insert(&d.digest) && (d.kind() == MediaKind::Manifest || d.media_type.is_empty()))
        .collect();
    let pairs: Vec<(Digest, Digest)> = entries
        .par_iter()
        .filter_map(|d| {
            let doc = repo.document_of(d)?;
            Some((doc.subject?.digest, d.digest.clone()))
        })
        .collect();
    let mut out: BTreeMap<Digest, Vec<Digest>> = BTreeMap::new();
    for (s, r) in pairs {
        out.entry(s).or_default().push(r);
    }
    out
}

/// The referrers to export with the manifests `exported` of `repo`, recursively (a
/// referrer's referrers too): their index.json entries, untagged and carrying
/// [`ANNOTATION_REPOSITORY`], sorted by digest. Referrers whose read is disabled are
/// skipped with a note.
pub fn referrers(repo: &Repository, exported: &BTreeSet<Digest>, notes: &mut Vec<String>) -> Vec<Descriptor> {
    let by_subject = subjects(repo);
    let mut out: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    let mut todo: Vec<Digest> = exported.iter().cloned().collect();
    let mut visited: BTreeSet<Digest> = BTreeSet::new();
    while let Some(d) = todo.pop() {
        if !visited.insert(d.clone()) {
            continue;
        }
        for r in by_subject.get(&d).into_iter().flatten() {
            if out.contains_key(r) || exported.contains(r) || !repo.blobs.contains(r) {
                continue;
            }
            if !repo.readable(&[], std::slice::from_ref(r)) {
                notes.push(format!("skipped the referrer {}@{r}: read_enabled = false", repo.name));
                continue;
            }
            let Some(entry) = repo.descriptor_of(r) else { continue };
            let mut entry = entry.clone();
            entry.annotations.remove(ANNOTATION_REF_NAME);
            entry.annotations.insert(ANNOTATION_REPOSITORY.to_string(), repo.name.to_string());
            todo.push(r.clone());
            out.insert(r.clone(), entry);
        }
    }
    out.into_values().collect()
}

/// The manifests (and indexes) inside a closure: the digests referrers may point at.
pub fn manifests_in(closure: &[crate::registry::graph::ClosureBlob], root: &Digest) -> BTreeSet<Digest> {
    closure
        .iter()
        .filter(|b| &b.digest == root || MediaKind::of(&b.media_type).has_children())
        .map(|b| b.digest.clone())
        .collect()
}
