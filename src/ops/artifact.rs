//! What `wharf add` and `wharf attach` share: the `FILE[:MEDIATYPE]` and `K=V`
//! arguments, streaming files into a staging area (hashed once, memory bounded), the OCI
//! 1.1 artifact manifest as `oras push` writes it, in canonical JSON, and the commit of
//! staged blobs into the registry (pool first, then the repository, then index.json).
//! It must not decide tags or locks: its callers do, under the registry lock.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::media::{OCI_EMPTY, OCI_MANIFEST};
use crate::model::{Descriptor, Digest};
use crate::registry::{Registry, RegistryKind, Repository};
use crate::store::{BlobStore, Staging};

/// The layer title annotation (`oras push` names files by it).
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// The media type of a file given without one (as `oras push`).
pub const DEFAULT_FILE_TYPE: &str = "application/octet-stream";
/// The artifact type of `wharf add` without `--artifact-type` (as `oras push`).
pub const DEFAULT_ARTIFACT_TYPE: &str = "application/vnd.unknown.artifact.v1";
/// The empty JSON object `{}`, the config (and lone layer) of an artifact.
pub const EMPTY_JSON: &[u8] = b"{}";
/// Its digest.
pub const EMPTY_DIGEST: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// One `FILE[:MEDIATYPE]` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: PathBuf,
    pub media_type: String,
    /// The file's base name: the layer's `org.opencontainers.image.title`.
    pub title: String,
}

/// True when `s` has the shape of a media type (RFC 6838: `type/subtype`, each a
/// restricted name of letters, digits and `!#$&-^_.+`, the first a letter or digit).
pub fn looks_like_media_type(s: &str) -> bool {
    let name = |p: &str| {
        !p.is_empty()
            && p.len() <= 127
            && p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match s.split_once('/') {
        Some((t, sub)) => name(t) && name(sub),
        None => false,
    }
}

/// Parses `FILE[:MEDIATYPE]`. A path may itself contain `:`, so the argument is split at
/// its last `:` only when what follows looks like a media type (`type/subtype`), and a
/// trailing `:` is dropped (so `odd:name/x:` is the file `odd:name/x` with the default
/// type). `exists` decides the one ambiguous case: when the whole argument names an
/// existing file and the part before the last `:` does not, it is the file.
pub fn parse_file_arg(arg: &str, exists: &dyn Fn(&Path) -> bool) -> Result<FileSpec> {
    let (path, media_type) = match arg.rsplit_once(':') {
        Some((p, "")) => (p, DEFAULT_FILE_TYPE),
        Some(("", mt)) if looks_like_media_type(mt) => ("", mt),
        Some((p, mt)) if looks_like_media_type(mt) => {
            if exists(Path::new(arg)) && !exists(Path::new(p)) {
                (arg, DEFAULT_FILE_TYPE)
            } else {
                (p, mt)
            }
        }
        _ => (arg, DEFAULT_FILE_TYPE),
    };
    if path.is_empty() {
        return Err(Error::Usage(format!("`{arg}`: no file name (expected FILE[:MEDIATYPE])")));
    }
    let p = PathBuf::from(path);
    let title = p.file_name().and_then(|n| n.to_str()).map(str::to_string).ok_or_else(|| {
        Error::Usage(format!("`{path}`: not a file name wharf can use as a title (a directory, or not UTF-8)"))
    })?;
    Ok(FileSpec { path: p, media_type: media_type.to_string(), title })
}

/// Parses repeated `--annotation K=V` flags; a key given twice is refused.
pub fn parse_annotations(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Error::Usage(format!("--annotation `{a}`: expected KEY=VALUE")))?;
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Error::Usage(format!("--annotation `{k}` is given twice")));
        }
    }
    Ok(out)
}

/// The empty-JSON descriptor, with its bytes inline (`data`), as oras writes it.
pub fn empty_descriptor() -> Descriptor {
    let mut d = Descriptor::new(OCI_EMPTY, Digest::parse(EMPTY_DIGEST).expect("valid digest"), 2);
    d.extra.insert("data", "e30=").expect("a string serialises");
    d
}

/// An OCI 1.1 image manifest, fields in the order oras writes them. Annotation maps are
/// `BTreeMap`s, so the bytes (and the digest) depend on the content only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactManifest {
    pub schema_version: u32,
    pub media_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ArtifactManifest {
    /// Compact JSON (no trailing newline), as oras and registries write manifests.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serialises")
    }
}

/// Blobs staged for one write: a staging area owned by this process and what is in it.
pub struct Staged {
    pub staging: Staging,
    pub blobs: BTreeMap<Digest, u64>,
}

impl Staged {
    pub fn new(ctx: &super::Ctx<'_>) -> Result<Staged> {
        Ok(Staged { staging: ctx.create_staging()?, blobs: BTreeMap::new() })
    }

    fn store(&self) -> BlobStore {
        self.staging.blobs()
    }

    /// Streams `r` into the staging area, hashing as it writes (1 MiB buffer).
    pub fn put_reader(&mut self, r: &mut dyn Read, what: &Path) -> Result<(Digest, u64)> {
        let mut w = self.store().writer(self.staging.temp_dir())?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io { action: "read", path: what.to_path_buf(), source: e }),
            };
            w.write_all(&buf[..n]).map_err(Error::io("write a staged blob for", what))?;
        }
        let size = w.written();
        let d = w.finish(None)?;
        self.blobs.insert(d.clone(), size);
        Ok((d, size))
    }

    /// Stages bytes wharf made (a manifest, a config).
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<Digest> {
        let d = self.store().put_bytes(self.staging.temp_dir(), bytes)?;
        self.blobs.insert(d.clone(), bytes.len() as u64);
        Ok(d)
    }

    /// Stages a file given on the command line as a layer titled by its base name.
    pub fn put_file(&mut self, spec: &FileSpec) -> Result<Descriptor> {
        let f = crate::store::files::open_input_file(&spec.path)?;
        let mut r = f;
        let (d, size) = self.put_reader(&mut r, &spec.path)?;
        let mut desc = Descriptor::new(&spec.media_type, d, size);
        desc.annotations.insert(ANNOTATION_TITLE.into(), spec.title.clone());
        Ok(desc)
    }

    /// Moves every staged blob into the registry: into the pool (a hard link from the
    /// staging area, a copy across filesystems) and linked into `repo`; for a plain-layout
    /// registry straight into the layout. Call under the exclusive lock, after every
    /// check, before index.json is written. Returns (new blobs, new bytes).
    pub fn commit_into(&self, reg: &Registry, repo: &Repository) -> Result<(usize, u64)> {
        // A link or special file in the repository's blob store is refused before any
        // blob moves, so the refusal changes nothing (as import does).
        crate::store::fs::require_no_special(repo.blobs.root())?;
        let store = self.store();
        let temp = self.staging.temp_dir();
        let (mut n, mut bytes) = (0usize, 0u64);
        for (d, size) in &self.blobs {
            match reg.kind() {
                RegistryKind::Root => {
                    let pool = reg.pool().expect("a root has a pool");
                    if pool.size(d)? != Some(*size) {
                        pool.link_from(&store, d, temp)?;
                        n += 1;
                        bytes += size;
                    }
                    repo.blobs.link_from(&pool, d, temp)?;
                }
                RegistryKind::Layout(_) => {
                    if repo.blobs.size(d)? != Some(*size) {
                        repo.blobs.link_from(&store, d, temp)?;
                        n += 1;
                        bytes += size;
                    }
                }
            }
        }
        Ok((n, bytes))
    }
}

/// A file added as a layer, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file's base name (the layer's `org.opencontainers.image.title`).
    pub title: String,
    /// The layer's media type.
    pub media_type: String,
    /// The file's digest.
    pub digest: Digest,
    /// The file's size in bytes.
    pub size: u64,
}

impl FileReport {
    pub(crate) fn of(d: &Descriptor) -> FileReport {
        FileReport {
            title: d.annotations.get(ANNOTATION_TITLE).cloned().unwrap_or_default(),
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
        }
    }
}

/// Stages the files and the manifest over them. Duplicate titles are refused (a pull
/// could not write both).
pub fn stage_artifact(
    staged: &mut Staged,
    files: &[FileSpec],
    artifact_type: &str,
    annotations: BTreeMap<String, String>,
    subject: Option<Descriptor>,
) -> Result<(Descriptor, Vec<Descriptor>)> {
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        if !seen.insert(&f.title) {
            return Err(Error::Usage(format!(
                "two files are titled `{}`: every file of an artifact needs its own base name",
                f.title
            )));
        }
    }
    let mut layers = Vec::new();
    for f in files {
        layers.push(staged.put_file(f)?);
    }
    staged.put_bytes(EMPTY_JSON)?;
    let manifest_layers = if layers.is_empty() { vec![empty_descriptor()] } else { layers.clone() };
    let m = ArtifactManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        artifact_type: Some(artifact_type.to_string()),
        config: empty_descriptor(),
        layers: manifest_layers,
        subject,
        annotations,
    };
    let bytes = m.to_bytes();
    let d = staged.put_bytes(&bytes)?;
    let mut desc = Descriptor::new(OCI_MANIFEST, d, bytes.len() as u64);
    desc.artifact_type = Some(artifact_type.to_string());
    Ok((desc, layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_arg_table() {
        let none = |_: &Path| false;
        let cases: &[(&str, &str, &str, &str)] = &[
            ("plain file", "sbom.json", "sbom.json", DEFAULT_FILE_TYPE),
            ("with type", "sbom.json:application/spdx+json", "sbom.json", "application/spdx+json"),
            ("path with dirs", "out/bin/app:application/x-elf", "out/bin/app", "application/x-elf"),
            ("colon in name, no type", "a:b", "a:b", DEFAULT_FILE_TYPE),
            ("colon in name and a type", "a:b:text/plain", "a:b", "text/plain"),
            ("suffix is a path, not a type", "dir:x/y.txt/z", "dir:x/y.txt/z", DEFAULT_FILE_TYPE),
            ("trailing colon", "a:b/c:", "a:b/c", DEFAULT_FILE_TYPE),
            (
                "vendor type",
                "f:application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "f",
                "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            ),
        ];
        for (name, arg, path, mt) in cases {
            let s = parse_file_arg(arg, &none).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.path, PathBuf::from(path), "{name}");
            assert_eq!(s.media_type, *mt, "{name}");
        }
        // The whole argument is an existing file and its prefix is not: it is the file.
        let only_whole = |p: &Path| p == Path::new("x:text/plain");
        let s = parse_file_arg("x:text/plain", &only_whole).unwrap();
        assert_eq!((s.path, s.media_type.as_str()), (PathBuf::from("x:text/plain"), DEFAULT_FILE_TYPE));
        assert_eq!(parse_file_arg("dir/app:text/plain", &none).unwrap().title, "app");
        assert!(parse_file_arg(":text/plain", &none).is_err());
    }

    #[test]
    fn annotations_parse_and_refuse_duplicates() {
        let a = parse_annotations(&["b=2".into(), "a=x=y".into()]).unwrap();
        assert_eq!(a.into_iter().collect::<Vec<_>>(), vec![("a".into(), "x=y".into()), ("b".into(), "2".into())]);
        assert!(parse_annotations(&["noequals".into()]).is_err());
        assert!(parse_annotations(&["=v".into()]).is_err());
        assert!(parse_annotations(&["k=1".into(), "k=2".into()]).is_err());
    }

    #[test]
    fn empty_digest_is_the_digest_of_empty_json() {
        assert_eq!(Digest::of(EMPTY_JSON).to_string(), EMPTY_DIGEST);
    }

    #[test]
    fn manifest_json_is_canonical() {
        let mut ann = BTreeMap::new();
        ann.insert("z".to_string(), "1".to_string());
        ann.insert("a".to_string(), "2".to_string());
        let m = ArtifactManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            artifact_type: Some("application/x-test".into()),
            config: empty_descriptor(),
            layers: vec![empty_descriptor()],
            subject: None,
            annotations: ann,
        };
        let s = String::from_utf8(m.to_bytes()).unwrap();
        assert!(s.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-test","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#), "{s}");
        assert!(s.ends_with(r#""annotations":{"a":"2","z":"1"}}"#), "{s}");
    }
}
