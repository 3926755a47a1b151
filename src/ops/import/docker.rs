//! docker-archives (`docker save` ≤24 and 25+, `podman save [-m]`, go-containerregistry
//! and crane tarballs, nix dockerTools and jib, which write manifest.json last).
//!
//! A docker-archive has no manifest, so wharf synthesises an OCI image manifest over the
//! config and the layers exactly as the archive holds them (no recompression); the
//! config bytes are kept verbatim. The manifest is deterministic: the same archive always
//! gives the same digest. Each layer is checked against the config's `rootfs.diff_ids`
//! (a compressed layer is decompressed and hashed). When the archive also holds a real
//! manifest for the same config and layers (Docker 25+), that manifest is used instead,
//! byte for byte.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::content::{Blob, Content, Sink};
use super::detect::{BombGuard, Wrapper};
use super::oci::Origin;
use super::{Found, Name, Options};
use crate::error::{Error, Result};
use crate::model::media::{self, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD};
use crate::model::{Descriptor, Digest, Document, ForeignName, MediaKind, Platform, Tag};
use crate::registry::repository::MAX_DOCUMENT_BYTES;

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    rootfs: Option<RootFs>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SynthManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: SynthDescriptor<'a>,
    layers: Vec<SynthDescriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SynthDescriptor<'a> {
    media_type: &'a str,
    digest: String,
    size: u64,
}

/// The synthesised manifest's bytes: compact JSON, fields in a fixed order.
pub fn synthesise(config: &Blob, layers: &[(&'static str, &Blob)]) -> Vec<u8> {
    let m = SynthManifest {
        schema_version: 2,
        media_type: media::OCI_MANIFEST,
        config: SynthDescriptor { media_type: OCI_CONFIG, digest: config.digest.to_string(), size: config.size },
        layers: layers
            .iter()
            .map(|(mt, b)| SynthDescriptor { media_type: mt, digest: b.digest.to_string(), size: b.size })
            .collect(),
    };
    serde_json::to_vec(&m).expect("manifest serialises")
}

/// Reads the images manifest.json describes.
pub fn read(content: &mut dyn Content, sink: &mut Sink<'_>, opts: &Options) -> Result<(Vec<Found>, Vec<String>)> {
    let label = content.label();
    let mj = content.member(sink, "manifest.json")?.expect("checked by the caller");
    let entries: Option<Vec<Entry>> = serde_json::from_slice(&mj.read_small(&format!("{label}: manifest.json"))?)
        .map_err(|e| Error::bad_input(&label, format!("manifest.json is not a docker-archive manifest: {e}")))?;
    let entries = entries.unwrap_or_default();
    if entries.is_empty() {
        return Err(Error::bad_input(&label, "manifest.json is null or empty: the archive describes no image"));
    }
    let mut real: Option<Vec<(Blob, Document)>> = None;
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let what = format!("{label}: manifest.json entry {i}");
        let config = content.member(sink, &e.config)?.ok_or_else(|| {
            Error::bad_input(&what, format!("the config member `{}` is not in the archive", e.config))
        })?;
        let cfg: ImageConfig = serde_json::from_slice(&config.read_small(&what)?).map_err(|err| {
            Error::bad_input(&what, format!("the config `{}` is not an image config: {err}", e.config))
        })?;
        let diff_ids = cfg.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
        let layer_paths = e.layers.clone().unwrap_or_default();
        if layer_paths.len() != diff_ids.len() {
            return Err(Error::bad_input(
                &what,
                format!("{} layers listed but the config has {} rootfs.diff_ids", layer_paths.len(), diff_ids.len()),
            ));
        }
        let mut layers: Vec<(&'static str, Blob)> = Vec::new();
        for (path, diff) in layer_paths.iter().zip(&diff_ids) {
            let b = content
                .member(sink, path)?
                .ok_or_else(|| Error::bad_input(&what, format!("the layer member `{path}` is not in the archive")))?;
            let expected = Digest::parse(diff)
                .map_err(|err| Error::bad_input(&what, format!("the config's diff_id `{diff}`: {err}")))?;
            let mt = check_layer(&b, &expected, &format!("{label}: layer {path}"))?;
            layers.push((mt, b));
        }
        let platform = match (&cfg.os, &cfg.architecture) {
            (Some(os), Some(arch)) => Platform::parse(&format!("{os}/{arch}")).map(|mut p| {
                p.variant = cfg.variant.clone();
                p
            }),
            _ => None,
        };
        if !opts.platforms.is_empty() && !platform.as_ref().is_some_and(|p| opts.platforms.iter().any(|s| s.matches(p)))
        {
            notes.push(format!(
                "skipped manifest.json entry {i} ({}): not a selected platform",
                platform.as_ref().map_or("unknown platform".into(), |p| p.to_string())
            ));
            continue;
        }
        let mut names = Vec::new();
        for rt in e.repo_tags.iter().flatten() {
            let f = ForeignName::parse(rt)
                .map_err(|err| Error::bad_input(&what, format!("RepoTags entry `{rt}`: {err}")))?;
            // RepoTags name tags; a digest there names no tag, and a synthesised manifest
            // would not have that digest anyway.
            if f.digest.is_some() {
                return Err(Error::bad_input(
                    &what,
                    format!(
                        "RepoTags entry `{rt}` carries a digest; RepoTags entries are NAME[:TAG] (import with --repo and --tag to name it)"
                    ),
                ));
            }
            let tag = f.tag.clone().unwrap_or_else(|| Tag::parse("latest").expect("valid tag"));
            names.push(Name { foreign: Some(f), tag: Some(tag) });
        }
        // Docker 25+: the real manifest is in the archive; prefer it to a synthesised one.
        if real.is_none() {
            let mut docs = Vec::new();
            for b in content.small_blobs(sink, 4 << 20)? {
                if b.head.first() == Some(&b'{')
                    && let Ok(bytes) = b.read_small(&what)
                    && let Ok(doc) = Document::parse(&bytes, "")
                    && doc.kind == MediaKind::Manifest
                {
                    docs.push((b, doc));
                }
            }
            real = Some(docs);
        }
        let layer_digests: Vec<&Digest> = layers.iter().map(|(_, b)| &b.digest).collect();
        let existing = real.as_ref().expect("filled").iter().find(|(_, d)| {
            d.config.as_ref().map(|c| &c.digest) == Some(&config.digest)
                && d.layers.iter().map(|l| &l.digest).collect::<Vec<_>>() == layer_digests
        });
        let mut blobs: BTreeMap<Digest, Blob> = BTreeMap::new();
        blobs.insert(config.digest.clone(), config.clone());
        for (_, b) in &layers {
            blobs.insert(b.digest.clone(), b.clone());
        }
        let (root, origin) = match existing {
            Some((b, doc)) => {
                let mt = doc.media_type.clone().unwrap_or_else(|| media::OCI_MANIFEST.to_string());
                blobs.insert(b.digest.clone(), b.clone());
                (Descriptor::new(&mt, b.digest.clone(), b.size), Origin::Source)
            }
            None => {
                let refs: Vec<(&'static str, &Blob)> = layers.iter().map(|(mt, b)| (*mt, b)).collect();
                let bytes = synthesise(&config, &refs);
                if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
                    return Err(Error::bad_input(
                        &what,
                        format!(
                            "the manifest wharf would write for its {} layers is {} bytes, over the {MAX_DOCUMENT_BYTES} bytes wharf reads back; refused",
                            refs.len(),
                            bytes.len()
                        ),
                    ));
                }
                let b = sink.put(&bytes)?;
                blobs.insert(b.digest.clone(), b.clone());
                (Descriptor::new(media::OCI_MANIFEST, b.digest.clone(), b.size), Origin::Synthesised)
            }
        };
        let mut root = root;
        root.platform = platform.clone();
        let platforms = platform.iter().map(|p| p.to_string()).collect();
        found.push(Found { names, root, blobs, platforms, origin });
    }
    Ok((found, notes))
}

/// Checks a layer against its diff_id and returns the OCI media type for its bytes as
/// they are: a plain tar, gzip or zstd. xz and bzip2 layers have no OCI media type.
fn check_layer(b: &Blob, diff_id: &Digest, what: &str) -> Result<&'static str> {
    let wrapper = Wrapper::sniff(&b.head);
    let mt = match wrapper {
        Wrapper::None => OCI_LAYER_TAR,
        Wrapper::Gzip => OCI_LAYER_GZIP,
        Wrapper::Zstd => OCI_LAYER_ZSTD,
        Wrapper::Xz | Wrapper::Bzip2 => {
            return Err(Error::bad_input(
                what,
                format!(
                    "{}-compressed; OCI has no media type for it (recompress the layer with gzip or zstd)",
                    wrapper.name()
                ),
            ));
        }
    };
    let uncompressed = if wrapper == Wrapper::None {
        b.digest.clone()
    } else {
        let f = crate::store::fs::open_file(&b.path)?;
        let r = std::io::BufReader::with_capacity(1 << 16, f);
        let size = b.size;
        let mut dec: Box<dyn Read> = match wrapper {
            Wrapper::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            _ => Box::new(
                zstd::stream::read::Decoder::new(r).map_err(|e| Error::bad_input(what, format!("bad zstd: {e}")))?,
            ),
        };
        let mut guard = BombGuard::new(&mut dec, move || size, what.to_string());
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = guard
                .read(&mut buf)
                .map_err(|e| Error::bad_input(what, format!("could not decompress the layer: {e}")))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Digest::from_bytes(h.finalize().into())
    };
    if &uncompressed != diff_id {
        return Err(Error::DigestMismatch {
            what: format!("{what} (blob {}), uncompressed, against the config's rootfs.diff_ids", b.digest),
            path: None,
            expected: diff_id.to_string(),
            actual: uncompressed.to_string(),
        });
    }
    Ok(mt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesised_manifest_is_stable() {
        let b = |s: &[u8]| Blob {
            digest: Digest::of(s),
            size: s.len() as u64,
            head: Vec::new(),
            path: std::path::PathBuf::new(),
            staged: false,
        };
        let bytes = synthesise(&b(b"cfg"), &[(OCI_LAYER_TAR, &b(b"layer"))]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:"#), "{text}");
        assert_eq!(bytes, synthesise(&b(b"cfg"), &[(OCI_LAYER_TAR, &b(b"layer"))]));
        let doc = Document::parse(&bytes, "").unwrap();
        assert_eq!(doc.layers[0].digest, Digest::of(b"layer"));
    }
}
