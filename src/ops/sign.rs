//! `wharf sign REF... --key KEY [--annotation K=V]... [--recursive]`: cosign signatures
//! in the local registry, in cosign's format (docs/SIGNATURES.md). Each manifest gets a
//! simple-signing payload naming its digest and repository, signed with the key; the
//! payload is a layer of the manifest tagged `sha256-<hex>.sig`, its base64 signature in
//! the layer's `dev.cosignproject.cosign/signature` annotation. Signing again appends a
//! layer, as cosign does; the same signature twice is not added again.
//!
//! Crash-safe as `add`: everything is staged without a lock; under the exclusive lock the
//! `.sig` tags are checked (they must not have moved since they were read, and the
//! repository's locks must allow the write) before any blob enters the registry: blobs
//! first, then index.json, one write per repository. A refusal leaves the registry
//! byte-identical. Locks: like `attach`, signing changes neither the image's tag nor its
//! manifest, so a locked release can be signed; a repository with write disabled, or a
//! locked `.sig` tag, takes nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use super::artifact::{ArtifactManifest, Staged};
use super::signatures::KeyReport;
use crate::error::{Error, Result};
use crate::model::media::OCI_MANIFEST;
use crate::model::signature::{self, Payload, PrivateKey};
use crate::model::{Descriptor, Digest, Document, MediaKind, Reference, RepoName, Tag};
use crate::registry::{Registry, RegistryKind, Repository};

/// What to sign, and with what.
#[derive(Debug)]
pub struct Options {
    pub references: Vec<Reference>,
    pub key: PrivateKey,
    pub annotations: BTreeMap<String, String>,
    pub recursive: bool,
}

/// One manifest signed.
#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    /// The repository.
    pub repository: RepoName,
    /// The signed manifest's digest.
    pub digest: Digest,
    /// The tag of its signature manifest (`sha256-<hex>.sig`).
    pub signature_tag: String,
    /// The signature manifest's digest after signing.
    pub signature_manifest: Digest,
    /// The payload's digest (the new layer).
    pub payload: Digest,
    /// Signature layers the manifest now holds.
    pub signatures: usize,
    /// False when the same signature was already there (nothing written for it).
    pub created: bool,
}

/// The report of [`Registry::sign`](crate::Registry::sign) (`wharf sign`).
#[derive(Debug, Serialize)]
pub struct SignReport {
    /// The key that signed.
    pub key: KeyReport,
    /// The manifests signed, in the order of the arguments (an index before its children).
    pub signed: Vec<Signed>,
    /// Blobs the registry did not hold before.
    pub blobs_new: usize,
    /// Their bytes.
    pub bytes_new: u64,
}

struct Target {
    repo: RepoName,
    digest: Digest,
    tag: Tag,
    /// The `.sig` tag's manifest when it was read (`None`: no tag yet).
    before: Option<Digest>,
    desc: Descriptor,
    payload: Digest,
    signatures: usize,
    created: bool,
}

/// `wharf sign`.
pub fn run(ctx: &Ctx<'_>, opts: &Options) -> Result<SignReport> {
    if opts.references.is_empty() {
        return Err(Error::Usage("sign needs at least one REF (REPO:TAG or REPO@DIGEST)".into()));
    }
    let reg = ctx.registry;
    // Read under the shared lock: what each reference names, and its `.sig` manifest.
    let mut wanted: Vec<(RepoName, Digest)> = Vec::new();
    let mut old_sig: BTreeMap<(RepoName, Digest), (Option<Digest>, Vec<Descriptor>)> = BTreeMap::new();
    {
        let _lock = ctx.read_lock()?;
        let mut repos: BTreeMap<RepoName, crate::registry::Repository> = BTreeMap::new();
        for r in &opts.references {
            if !repos.contains_key(&r.repo) {
                repos.insert(r.repo.clone(), reg.open_repo(&r.repo, ctx.now)?);
            }
            let repo = &repos[&r.repo];
            let (resolved, _, _) = repo.locate(r)?;
            if let Some(t) = &resolved.tag
                && signature::is_cosign_tag(t.as_str())
            {
                return Err(Error::Usage(format!(
                    "`{r}` is a cosign signature/attestation tag; sign the image it belongs to"
                )));
            }
            let d = resolved.descriptor;
            let mut list = vec![d.digest.clone()];
            if opts.recursive && d.kind() == MediaKind::Index {
                let doc = repo.read_document(&d.digest, &d.media_type)?;
                list.extend(doc.manifests.iter().filter(|m| m.kind() == MediaKind::Manifest).map(|m| m.digest.clone()));
            }
            for digest in list {
                if !repo.blobs.contains(&digest) {
                    return Err(Error::BlobMissing {
                        context: r.to_string(),
                        digest: digest.to_string(),
                        dir: repo.dir.clone(),
                        repo: r.repo.to_string(),
                    });
                }
                let key = (r.repo.clone(), digest.clone());
                if old_sig.contains_key(&key) {
                    continue;
                }
                let tag = Tag::parse(&signature::sig_tag(&digest))?;
                let existing = match repo.tag_entry(&tag) {
                    Some(e) => {
                        let doc = repo.read_document(&e.digest, &e.media_type)?;
                        if doc.kind != MediaKind::Manifest {
                            return Err(Error::refused(format!(
                                "{}:{tag} is not an image manifest; wharf appends signatures only to cosign's signature manifests",
                                r.repo
                            )));
                        }
                        (Some(e.digest.clone()), doc_layers(&doc))
                    }
                    None => (None, Vec::new()),
                };
                old_sig.insert(key.clone(), existing);
                wanted.push(key);
            }
        }
    }
    // Sign and stage, no lock.
    // One staging area per repository: a repository takes only its own signatures' blobs.
    let mut staged_by_repo: BTreeMap<RepoName, Staged> = BTreeMap::new();
    let mut targets = Vec::new();
    for (repo, digest) in wanted {
        let (before, mut layers) = old_sig.remove(&(repo.clone(), digest.clone())).expect("read above");
        let payload = Payload::new(repo.as_str(), &digest, &opts.annotations).to_bytes();
        let sig = signature::encode_signature(&opts.key.sign(&payload));
        let payload_digest = Digest::of(&payload);
        let tag = Tag::parse(&signature::sig_tag(&digest))?;
        let already = layers.iter().any(|l| {
            l.digest == payload_digest
                && l.annotations.get(signature::SIGNATURE_ANNOTATION).map(String::as_str) == Some(sig.as_str())
        });
        if already {
            let before_d = before.clone().expect("layers come from a manifest");
            let n = layers.iter().filter(|l| l.media_type == signature::SIMPLESIGNING_MEDIA_TYPE).count();
            targets.push(Target {
                repo,
                digest,
                tag,
                desc: Descriptor::new(OCI_MANIFEST, before_d.clone(), 0),
                before,
                payload: payload_digest,
                signatures: n,
                created: false,
            });
            continue;
        }
        if !staged_by_repo.contains_key(&repo) {
            staged_by_repo.insert(repo.clone(), Staged::new(ctx)?);
        }
        let staged = staged_by_repo.get_mut(&repo).expect("inserted");
        stage(staged, &payload)?;
        let mut layer =
            Descriptor::new(signature::SIMPLESIGNING_MEDIA_TYPE, payload_digest.clone(), payload.len() as u64);
        layer.annotations.insert(signature::SIGNATURE_ANNOTATION.into(), sig);
        layers.push(layer);
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.digest.clone()).collect();
        let config = signature::signature_config(&diff_ids);
        let config_digest = stage(staged, &config)?;
        let m = ArtifactManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            artifact_type: None,
            config: Descriptor::new("application/vnd.oci.image.config.v1+json", config_digest, config.len() as u64),
            layers: layers.clone(),
            subject: None,
            annotations: BTreeMap::new(),
        };
        let bytes = m.to_bytes();
        let d = stage(staged, &bytes)?;
        let n = layers.iter().filter(|l| l.media_type == signature::SIMPLESIGNING_MEDIA_TYPE).count();
        targets.push(Target {
            repo,
            digest,
            tag,
            before,
            desc: Descriptor::new(OCI_MANIFEST, d, bytes.len() as u64),
            payload: payload_digest,
            signatures: n,
            created: true,
        });
    }
    // Commit: check every `.sig` tag of a repository, then its blobs, then index.json.
    let _lock = ctx.write_lock()?;
    let mut by_repo: BTreeMap<RepoName, Vec<usize>> = BTreeMap::new();
    for (i, t) in targets.iter().enumerate() {
        by_repo.entry(t.repo.clone()).or_default().push(i);
    }
    let mut plans = Vec::new();
    for (name, idx) in &by_repo {
        let repo = reg.open_repo(name, ctx.now)?;
        for &i in idx {
            let t = &targets[i];
            let now = repo.tag_digest(&t.tag).cloned();
            if now != t.before {
                return Err(Error::concurrent(format!(
                    "{name}:{} changed while signing (another signer?); run the sign again",
                    t.tag
                )));
            }
            if t.created {
                repo.check_set_tag(&t.tag, &t.desc.digest, true)?;
            }
        }
        plans.push((repo, idx));
    }
    let (mut blobs_new, mut bytes_new) = (0, 0);
    for (mut repo, idx) in plans {
        if !idx.iter().any(|&i| targets[i].created) {
            continue;
        }
        let staged = &staged_by_repo[&repo.name];
        let (n, b) = commit_blobs(reg, &repo, staged)?;
        blobs_new += n;
        bytes_new += b;
        for &i in idx {
            let t = &targets[i];
            if t.created {
                repo.set_tag(&t.tag, &t.desc, true, ctx.now)?;
            }
        }
        repo.save()?;
    }
    Ok(SignReport {
        key: KeyReport::of(&opts.key.public()),
        signed: targets
            .into_iter()
            .map(|t| Signed {
                repository: t.repo,
                signature_tag: t.tag.to_string(),
                digest: t.digest,
                signature_manifest: t.desc.digest,
                payload: t.payload,
                signatures: t.signatures,
                created: t.created,
            })
            .collect(),
        blobs_new,
        bytes_new,
    })
}

/// The layers of a `.sig` manifest, kept as they are (other signers' layers too).
fn doc_layers(doc: &Document) -> Vec<Descriptor> {
    doc.layers.clone()
}

/// Stages bytes wharf made without an fsync each: they are flushed one by one at commit,
/// when kept ([`commit_blobs`]), so signing many images costs no disk flush per blob
/// while staging.
fn stage(staged: &mut Staged, bytes: &[u8]) -> Result<Digest> {
    let d = staged.staging.blobs().put_bytes_unsynced(staged.staging.temp_dir(), bytes)?;
    staged.blobs.insert(d.clone(), bytes.len() as u64);
    Ok(d)
}

/// Moves a repository's staged blobs in: flushed together, each new one renamed into the
/// pool (or the layout), the directory flushed once; then hard-linked into the repository, its
/// directory flushed once. Call under the exclusive lock, before index.json is written.
/// Returns (new blobs, new bytes).
fn commit_blobs(reg: &Registry, repo: &Repository, staged: &Staged) -> Result<(usize, u64)> {
    use crate::store::fs::{create_dir_all_durable, fsync_dir, hard_link};
    crate::store::fs::require_no_special(repo.blobs.root())?;
    let from = staged.staging.blobs();
    let target = reg.pool().unwrap_or_else(|| repo.blobs.clone());
    create_dir_all_durable(&target.alg_dir())?;
    let (mut n, mut bytes) = (0usize, 0u64);
    // The staged blobs were written without an fsync each: one syncfs of the staging
    // area's filesystem (the pool's: renames need the same one) makes them durable before
    // they are renamed in.
    crate::store::fs::sync_filesystem(staged.staging.dir())?;
    for (d, size) in &staged.blobs {
        if target.size(d)? != Some(*size) {
            target.adopt(&from, d)?;
            n += 1;
            bytes += size;
        }
    }
    fsync_dir(&target.alg_dir())?;
    if let RegistryKind::Root = reg.kind() {
        create_dir_all_durable(&repo.blobs.alg_dir())?;
        let mut linked = false;
        for d in staged.blobs.keys() {
            if repo.blobs.size(d)?.is_some() {
                continue;
            }
            match hard_link(&target.path(d), &repo.blobs.path(d))? {
                Ok(()) => linked = true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // Links impossible here (another filesystem): the store's own copy.
                Err(_) => repo.blobs.link_from(&target, d, staged.staging.temp_dir())?,
            }
        }
        if linked {
            fsync_dir(&repo.blobs.alg_dir())?;
        }
    }
    Ok((n, bytes))
}
