//! `wharf export REF --format files -o DIR`: `oras pull` from the local registry. Each
//! layer of REF's manifest that carries an `org.opencontainers.image.title` is written
//! as `DIR/TITLE`, byte for byte and re-hashed on the way out. Layers without a title are
//! skipped (with a note), as oras does. A Helm chart's layers are written as `helm pull`
//! names them: `NAME-VERSION.tgz` (and `.prov`).
//!
//! Refused before anything is written: a title that is not one plain file name (`/`,
//! `\`, `..`, `.`, NUL, absolute, empty), two layers with one title, a title that
//! already exists in DIR (whatever it is: wharf never replaces, and never writes through
//! a symbolic link). DIR is opened once and every file is created relative to it (see
//! [`crate::store::files::OutDir`]).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::Ctx;
use super::artifact::ANNOTATION_TITLE;
use crate::error::{Error, Result};
use crate::model::kind::HELM_CONFIG;
use crate::model::{Descriptor, Digest, MediaKind, Reference};
use crate::store::files::{OutDir, is_plain_name};

#[derive(Debug, Serialize)]
pub struct FileOut {
    pub title: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct ExportFilesReport {
    pub output: String,
    pub reference: String,
    pub digest: Digest,
    pub files: Vec<FileOut>,
    pub notes: Vec<String>,
}

/// The layers to write, each with its title.
pub type Titled = Vec<(String, Descriptor)>;

/// Checks every title of `layers`; returns the titled ones and notes for the rest.
pub fn plan(layers: &[Descriptor]) -> Result<(Titled, Vec<String>)> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut seen = BTreeSet::new();
    for l in layers {
        let Some(title) = l.annotations.get(ANNOTATION_TITLE) else {
            notes.push(format!("skipped the layer {} ({}): it has no {ANNOTATION_TITLE}", l.digest, l.media_type));
            continue;
        };
        if !is_plain_name(title) {
            return Err(Error::refused(format!(
                "the layer {} is titled `{}`: a title must be one plain file name (no `/`, `\\`, NUL, `..`, \
                 not absolute); refused, nothing written",
                l.digest,
                title.escape_debug()
            )));
        }
        if !seen.insert(title.clone()) {
            return Err(Error::refused(format!(
                "two layers are titled `{title}`; refused, nothing written (export the manifest as an oci-archive instead)"
            )));
        }
        out.push((title.clone(), l.clone()));
    }
    Ok((out, notes))
}

/// A Helm chart's layers carry no title: they are written as `helm pull` names them,
/// `NAME-VERSION.tgz` and `NAME-VERSION.tgz.prov` (name and version from the config).
fn helm_titles(
    repo: &crate::registry::Repository,
    config: &Descriptor,
    layers: &[Descriptor],
) -> Result<Vec<Descriptor>> {
    let bytes = repo.blobs.read(&config.digest, crate::registry::repository::MAX_DOCUMENT_BYTES)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::corrupt(repo.blobs.path(&config.digest), format!("a Helm config that is not JSON: {e}")))?;
    let field = |f: &str| v.get(f).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let base = format!("{}-{}.tgz", field("name"), field("version"));
    Ok(layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            let title = match l.media_type.as_str() {
                crate::ops::import::helm::CHART_MEDIA_TYPE => Some(base.clone()),
                crate::ops::import::helm::PROV_MEDIA_TYPE => Some(format!("{base}.prov")),
                _ => None,
            };
            if let Some(t) = title
                && !l.annotations.contains_key(ANNOTATION_TITLE)
            {
                l.annotations.insert(ANNOTATION_TITLE.to_string(), t);
            }
            l
        })
        .collect())
}

/// `wharf export REF --format files -o DIR`.
pub fn run(ctx: &Ctx<'_>, r: &Reference, output: &str) -> Result<ExportFilesReport> {
    if output == "-" {
        return Err(Error::Usage("--format files writes a directory; -o - is not possible".into()));
    }
    let _lock = ctx.read_lock()?;
    let repo = ctx.registry.open_repo(&r.repo, ctx.now)?;
    let (resolved, parents, _) = repo.locate(r)?;
    // The registry's read rule, as every export applies it (by digest, every tag on the
    // manifest guards it; a nested child, every index that lists it).
    repo.check_read(&format!("exporting {r}"), &resolved, &parents)?;
    let doc = repo.read_document(&resolved.digest, &resolved.descriptor.media_type)?;
    if doc.kind != MediaKind::Manifest {
        return Err(Error::Usage(format!(
            "{r} is {} and has no files; --format files takes an image or artifact manifest (for an index, name one of its manifests by digest)",
            if doc.kind == MediaKind::Index { "an index" } else { "not a manifest" }
        )));
    }
    let layers = match doc.config.as_ref().filter(|c| c.media_type == HELM_CONFIG) {
        Some(c) => helm_titles(&repo, c, &doc.layers)?,
        None => doc.layers.clone(),
    };
    let (files, notes) = plan(&layers)?;
    let dir = OutDir::open(Path::new(output))?;
    for (title, _) in &files {
        if dir.exists(title)? {
            return Err(Error::OutputExists {
                path: dir.path().join(title),
                hint: "wharf export does not overwrite (nor write through links): remove it or choose another -o"
                    .into(),
            });
        }
    }
    let mut out: Vec<FileOut> = Vec::new();
    for (title, l) in files {
        let mut f = repo.blobs.open(&l.digest)?;
        let mut h = Sha256::new();
        let mut n = 0u64;
        let path = repo.blobs.path(&l.digest);
        let mut check = |chunk: Option<&[u8]>| match chunk {
            Some(c) => {
                h.update(c);
                n += c.len() as u64;
                Ok(())
            }
            None => {
                let actual = Digest::from_bytes(std::mem::take(&mut h).finalize().into());
                if actual != l.digest || n != l.size {
                    return Err(Error::DigestMismatch {
                        what: format!("blob {} (corrupt: run `wharf verify`)", path.display()),
                        path: Some(path.to_path_buf()),
                        expected: l.digest.to_string(),
                        actual: actual.to_string(),
                    });
                }
                Ok(())
            }
        };
        if let Err(e) = dir.write_new(&title, &mut f, &mut check) {
            // All or nothing: the files already placed by this export go too.
            for done in &out {
                dir.remove_placed(&done.title);
            }
            return Err(e);
        }
        out.push(FileOut { title, digest: l.digest.clone(), media_type: l.media_type.clone(), size: l.size });
    }
    Ok(ExportFilesReport {
        output: output.to_string(),
        reference: r.to_string(),
        digest: resolved.digest,
        files: out,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(title: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new("application/octet-stream", Digest::of(&[n]), 1);
        if let Some(t) = title {
            d.annotations.insert(ANNOTATION_TITLE.into(), t.into());
        }
        d
    }

    #[test]
    fn titles_table() {
        let cases: &[(&str, &[Option<&str>], bool)] = &[
            ("plain", &[Some("a.txt"), Some("b")], true),
            ("untitled is skipped", &[None, Some("b")], true),
            ("slash", &[Some("a/b")], false),
            ("absolute", &[Some("/etc/passwd")], false),
            ("dot dot", &[Some("..")], false),
            ("dot", &[Some(".")], false),
            ("nul", &[Some("a\0b")], false),
            ("backslash", &[Some("..\\x")], false),
            ("empty", &[Some("")], false),
            ("duplicate", &[Some("a"), Some("a")], false),
        ];
        for (name, titles, ok) in cases {
            let layers: Vec<Descriptor> = titles.iter().enumerate().map(|(i, t)| layer(*t, i as u8)).collect();
            assert_eq!(plan(&layers).is_ok(), *ok, "{name}");
        }
        let (files, notes) = plan(&[layer(None, 0), layer(Some("x"), 1)]).unwrap();
        assert_eq!((files.len(), notes.len()), (1, 1));
    }
}
