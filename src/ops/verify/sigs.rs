//! `verify --key`: the cosign signature of each selected image, checked beside the
//! hashing (the caller runs [`check_all`] on the same thread pool, joined with
//! [`super::hash::hash_files`]). Which images: every tagged index.json entry of a
//! repository in scope (not cosign's own `sha256-<hex>.sig|.att|.sbom` tags, not the
//! referrers fallback tags `sha256-<hex>`), or the entries the references name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Finding, Link, Selection, Severity};
use crate::model::check::Kind;
use crate::model::signature::{self, PublicKey};
use crate::model::{Digest, IndexFile, RepoName, Role};
use crate::ops::signatures::{Outcome, ProblemKind, check_image};
use crate::registry::layout;
use crate::registry::repository::MAX_DOCUMENT_BYTES;

/// One image whose signature is checked.
pub(crate) struct SigJob {
    repository: Option<RepoName>,
    blobs_root: PathBuf,
    image: Digest,
    link: Link,
    /// The `.sig` tag's manifest, if the tag exists.
    sig: Option<Digest>,
}

/// The images of one repository (or layout) to check. Errors reading index.json are the
/// walk's findings already; here they mean nothing to check.
pub(crate) fn jobs_of(dir: &Path, name: Option<&RepoName>, selection: &Selection, out: &mut Vec<SigJob>) {
    let Ok(bytes) = layout::read_index_bytes(dir) else { return };
    let Ok(index) = IndexFile::parse(&bytes) else { return };
    let tag_of = |i: usize| index.manifests[i].ref_name();
    // `.sig` tags by the digest they sign: one pass over index.json.
    let sigs: std::collections::HashMap<Digest, Digest> = index
        .manifests
        .iter()
        .filter_map(|m| Some((signature::sig_tag_subject(m.ref_name()?)?, m.digest.clone())))
        .collect();
    let sig_of = |d: &Digest| sigs.get(d).cloned();
    let chosen: Vec<usize> = match selection {
        Selection::All => (0..index.manifests.len())
            .filter(|&i| {
                tag_of(i).is_some_and(|t| !signature::is_cosign_tag(t) && !crate::ops::pull::is_fallback_tag(t))
            })
            .collect(),
        Selection::Refs(refs) => refs
            .iter()
            .filter_map(|r| {
                index.manifests.iter().position(|m| match (&r.tag, &r.digest) {
                    (Some(t), _) => m.ref_name() == Some(t.as_str()),
                    (None, Some(d)) => &m.digest == d,
                    (None, None) => false,
                })
            })
            .filter(|&i| !tag_of(i).is_some_and(signature::is_cosign_tag))
            .collect(),
    };
    let mut seen = BTreeSet::new();
    for i in chosen {
        let m = &index.manifests[i];
        if !seen.insert(m.digest.clone()) {
            continue;
        }
        out.push(SigJob {
            repository: name.cloned(),
            blobs_root: dir.join("blobs"),
            image: m.digest.clone(),
            link: Link {
                role: Role::Manifest,
                index: Some(i),
                digest: m.digest.clone(),
                media_type: m.media_type.clone(),
                tag: m.ref_name().map(str::to_string),
            },
            sig: sig_of(&m.digest),
        });
    }
}

/// Checks every job (in parallel on the current pool); findings per job.
pub(crate) fn check_all(jobs: &[SigJob], keys: &[PublicKey], require_signed: bool) -> Vec<Finding> {
    jobs.par_iter().flat_map_iter(|j| check_one(j, keys, require_signed)).collect()
}

fn check_one(j: &SigJob, keys: &[PublicKey], require_signed: bool) -> Vec<Finding> {
    let read =
        |d: &Digest, limit: u64| crate::store::fs::read_limited(&super::walk::blob_path(&j.blobs_root, d), limit);
    let manifest = match &j.sig {
        Some(d) => match read(d, MAX_DOCUMENT_BYTES) {
            Ok(b) => Some(b),
            Err(e) => {
                return vec![finding(
                    j,
                    Severity::Error,
                    Kind::BadSignature,
                    format!("{} cannot be read: {e}", signature::sig_tag(&j.image)),
                )];
            }
        },
        None => None,
    };
    match check_image(keys, j.repository.as_ref(), &j.image, manifest.as_deref(), &read) {
        Outcome::Signed { .. } => Vec::new(),
        Outcome::Rejected(problems) => problems
            .into_iter()
            .map(|p| {
                let (severity, kind) = match p.kind {
                    ProblemKind::Unsigned if require_signed => (Severity::Error, Kind::Unsigned),
                    ProblemKind::Unsigned => (Severity::Info, Kind::Unsigned),
                    ProblemKind::BadSignature => (Severity::Error, Kind::BadSignature),
                    ProblemKind::WrongDigest => (Severity::Error, Kind::WrongDigest),
                    ProblemKind::IdentityMismatch => (Severity::Error, Kind::IdentityMismatch),
                };
                finding(j, severity, kind, p.message)
            })
            .collect(),
    }
}

fn finding(j: &SigJob, severity: Severity, kind: Kind, message: String) -> Finding {
    Finding {
        severity,
        kind,
        repository: j.repository.as_ref().map(|r| r.to_string()),
        digest: Some(j.image.clone()),
        path: vec![j.link.clone()],
        file: None,
        message,
    }
}
