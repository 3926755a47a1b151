//! OCI sources: oci-archives, OCI layout directories, the OCI layout inside a Docker 25+
//! `docker save`, and skopeo `dir:` directories. Manifests and indexes are kept byte for
//! byte; every blob a descriptor names is checked (digest and size) before anything
//! refers to it; subjects are not followed (an artifact's subject need not be in the
//! source); `--platform` narrows indexes.

use std::collections::BTreeMap;

use super::content::{Blob, Content, Sink};
use super::{Found, Name, Options};
use crate::error::{Error, Result};
use crate::model::check;
use crate::model::media::{self, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::model::{Descriptor, Digest, Document, ForeignName, IndexFile, MediaKind, Platform, Role, Tag};
use crate::registry::repository::MAX_DOCUMENT_BYTES;

/// The name an index.json entry gives its manifest.
pub fn entry_name(d: &Descriptor) -> Result<Option<Name>> {
    if let Some(full) = d.annotations.get(ANNOTATION_CONTAINERD_NAME) {
        let f = ForeignName::parse(full).map_err(|e| {
            Error::bad_input(
                format!("the index entry {}", d.digest),
                format!("named `{full}` ({ANNOTATION_CONTAINERD_NAME}), which is not an image name: {e}"),
            )
        })?;
        let tag = f.tag.clone().or_else(|| d.ref_name().and_then(|r| Tag::parse(r).ok()));
        return Ok(Some(Name { foreign: Some(f), tag }));
    }
    let Some(r) = d.ref_name() else {
        // An untagged manifest of a wharf archive (a referrer) names its repository.
        return match d.annotations.get(crate::ops::bundle::ANNOTATION_REPOSITORY) {
            Some(repo) => {
                let repo = crate::model::RepoName::parse(repo).map_err(|e| {
                    Error::bad_input(
                        format!("the index entry {}", d.digest),
                        format!("has {} `{repo}`: {e}", crate::ops::bundle::ANNOTATION_REPOSITORY),
                    )
                })?;
                Ok(Some(Name { foreign: Some(ForeignName { host: None, repo, tag: None, digest: None }), tag: None }))
            }
            None => Ok(None),
        };
    };
    if let Ok(t) = Tag::parse(r) {
        return Ok(Some(Name { foreign: None, tag: Some(t) }));
    }
    let f = ForeignName::parse(r).map_err(|e| {
        Error::bad_input(
            format!("the index entry {}", d.digest),
            format!("has {ANNOTATION_REF_NAME} `{r}`, which is neither a tag nor an image name: {e}"),
        )
    })?;
    let tag = f.tag.clone();
    Ok(Some(Name { foreign: Some(f), tag }))
}

/// Reads an OCI layout (`index.json` and `blobs/`) from `content`.
pub fn read_layout(
    content: &mut dyn Content,
    sink: &mut Sink<'_>,
    opts: &Options,
) -> Result<(Vec<Found>, Vec<String>)> {
    let label = content.label();
    if let Some(b) = content.member(sink, "oci-layout")? {
        let bytes = b.read_small(&format!("{label}: oci-layout"))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_input(&label, format!("oci-layout is not JSON: {e}")))?;
        let version = v.get("imageLayoutVersion").and_then(|s| s.as_str()).unwrap_or("");
        if version != media::OCI_LAYOUT_VERSION {
            return Err(Error::bad_input(
                &label,
                format!(
                    "oci-layout says imageLayoutVersion `{version}`; wharf reads version {}",
                    media::OCI_LAYOUT_VERSION
                ),
            ));
        }
    }
    let idx_blob = content
        .member(sink, "index.json")?
        .ok_or_else(|| Error::bad_input(&label, "no index.json: not an OCI layout"))?;
    let index = IndexFile::parse(&idx_blob.read_small(&format!("{label}: index.json"))?)
        .map_err(|e| Error::bad_input(&label, format!("index.json is not a valid OCI index: {e}")))?;
    // Group entries by manifest: one image per digest, with every name it carries.
    let mut order: Vec<Digest> = Vec::new();
    let mut by_digest: BTreeMap<Digest, (Descriptor, Vec<Name>)> = BTreeMap::new();
    for d in &index.manifests {
        let name = entry_name(d)?;
        let e = by_digest.entry(d.digest.clone()).or_insert_with(|| {
            order.push(d.digest.clone());
            let mut clean = d.clone();
            clean.annotations.remove(ANNOTATION_REF_NAME);
            clean.annotations.remove(ANNOTATION_CONTAINERD_NAME);
            clean.annotations.remove(crate::ops::bundle::ANNOTATION_REPOSITORY);
            (clean, Vec::new())
        });
        if let Some(n) = name {
            e.1.push(n);
        }
    }
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for digest in order {
        let (desc, names) = by_digest.remove(&digest).expect("grouped");
        if let Some(f) = select_root(content, sink, desc, names, opts, &mut notes)? {
            found.push(f);
        }
    }
    Ok((found, notes))
}

/// Reads a skopeo `dir:` directory: `manifest.json` is the root (an image manifest or,
/// with `--all`, an index whose children are `<hex>.manifest.json`).
pub fn read_skopeo_dir(
    content: &mut dyn Content,
    sink: &mut Sink<'_>,
    opts: &Options,
) -> Result<(Vec<Found>, Vec<String>)> {
    let label = content.label();
    let version = content.member(sink, "version")?.map(|b| b.read_small("version")).transpose()?.unwrap_or_default();
    if !version.starts_with(b"Directory Transport Version: 1.") {
        return Err(Error::bad_input(
            &label,
            "the version file does not say `Directory Transport Version: 1.x`; not a skopeo dir: directory wharf reads",
        ));
    }
    let root = content
        .member(sink, "manifest.json")?
        .ok_or_else(|| Error::bad_input(&label, "no manifest.json (was it removed while wharf read the directory?)"))?;
    let bytes = root.read_small(&format!("{label}: manifest.json"))?;
    let doc = Document::parse(&bytes, "")
        .map_err(|e| Error::bad_input(&label, format!("manifest.json is not a manifest: {e}")))?;
    let mt = doc.media_type.clone().unwrap_or_else(|| {
        if doc.kind == MediaKind::Index { media::OCI_INDEX.to_string() } else { media::OCI_MANIFEST.to_string() }
    });
    let desc = Descriptor::new(&mt, root.digest.clone(), root.size);
    let mut notes = Vec::new();
    let found = select_root(content, sink, desc, Vec::new(), opts, &mut notes)?;
    Ok((found.into_iter().collect(), notes))
}

/// Blobs of one closure, and what is missing from it.
#[derive(Default)]
struct Closure {
    blobs: BTreeMap<Digest, Blob>,
    missing: Vec<String>,
}

/// Receives `desc` and, for manifests and indexes, everything they point at (not the
/// subject), without recursion. Absent blobs are recorded, not errors; mismatches are
/// errors, and so is nesting deeper than [`check::MAX_DEPTH`]. `depth` is the depth of
/// `desc` (an index.json entry is 1).
fn collect(
    content: &mut dyn Content,
    sink: &mut Sink<'_>,
    desc: &Descriptor,
    root: bool,
    depth: usize,
    out: &mut Closure,
) -> Result<()> {
    let mut stack = vec![(desc.clone(), depth)];
    while let Some((desc, depth)) = stack.pop() {
        if out.blobs.contains_key(&desc.digest) {
            continue;
        }
        let Some(blob) = content.blob(sink, &desc.digest, desc.size)? else {
            out.missing.push(format!(
                "{} ({})",
                desc.digest,
                if desc.media_type.is_empty() { "blob" } else { &desc.media_type }
            ));
            continue;
        };
        let kind = desc.kind();
        let document = kind.has_children() || (root && depth == 1 && desc.media_type.is_empty());
        out.blobs.insert(desc.digest.clone(), blob.clone());
        if !document {
            continue;
        }
        let what = format!("{}: {} ({})", content.label(), desc.digest, desc.media_type);
        if let Some(p) = check::depth(depth) {
            return Err(Error::bad_input(&what, format!("{}; refused", p.message)));
        }
        let doc = Document::parse(&blob.read_small(&what)?, &desc.media_type)
            .map_err(|e| Error::bad_input(&what, format!("not a manifest or index: {e}")))?;
        if doc.kind == MediaKind::Schema1 {
            return Err(Error::bad_input(
                &what,
                "a Docker schema 1 manifest; wharf does not import schema 1 (convert it with `skopeo copy --format v2s2`)",
            ));
        }
        let mut children = Vec::new();
        for child in doc.children() {
            if child.role == Role::Subject {
                continue;
            }
            let d = child
                .descriptor
                .ok_or_else(|| Error::bad_input(&what, format!("an edge to {} without a descriptor", child.digest)))?;
            children.push((d, depth + 1));
        }
        children.reverse();
        stack.extend(children);
    }
    Ok(())
}

fn platform_of(d: &Descriptor) -> String {
    d.platform.as_ref().map_or_else(|| "unknown platform".to_string(), |p| p.to_string())
}

fn matches_any(sel: &[Platform], p: Option<&Platform>) -> bool {
    p.is_some_and(|p| sel.iter().any(|s| s.matches(p)))
}

/// The platform of an image manifest from its config (`Platform::from_config`).
fn config_platform(blobs: &BTreeMap<Digest, Blob>, root: &Blob, what: &str) -> Option<Platform> {
    let doc = Document::parse(&root.read_small(what).ok()?, "").ok()?;
    let cfg = blobs.get(&doc.config?.digest)?;
    Platform::from_config(&cfg.read_small(what).ok()?)
}

/// Decides what of the top-level entry `desc` is imported: all of it, the platforms
/// `--platform` selects (one manifest, or a narrowed index), or nothing (with a note).
pub fn select_root(
    content: &mut dyn Content,
    sink: &mut Sink<'_>,
    desc: Descriptor,
    names: Vec<Name>,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<Option<Found>> {
    let label = content.label();
    let Some(root_blob) = content.blob(sink, &desc.digest, desc.size)? else {
        return Err(Error::bad_input(
            &label,
            format!("the source names the manifest {} ({}) but does not hold it", desc.digest, desc.media_type),
        ));
    };
    let what = format!("{label}: {}", desc.digest);
    let doc = Document::parse(&root_blob.read_small(&what)?, &desc.media_type)
        .map_err(|e| Error::bad_input(&what, format!("not a manifest or index: {e}")))?;
    // The document's own mediaType wins over the entry's (Docker 25+ types OCI manifests
    // as Docker v2 in index.json, which hides them from skopeo's oci: transport).
    let mut desc = desc;
    // A Docker v2 manifest always carries its mediaType; one without it, with an OCI
    // config, is an OCI manifest.
    let own = doc.media_type.clone().or_else(|| {
        (desc.media_type == media::DOCKER_MANIFEST
            && doc.config.as_ref().is_some_and(|c| c.media_type == media::OCI_CONFIG))
        .then(|| media::OCI_MANIFEST.to_string())
    });
    if let Some(own) = &own
        && own != &desc.media_type
        && MediaKind::of(own).has_children()
    {
        notes.push(format!(
            "{}: the index entry said {}, the manifest itself says {own}; recorded as {own}",
            desc.digest, desc.media_type
        ));
        desc.media_type = own.clone();
    }
    if doc.kind != MediaKind::Index {
        let mut c = Closure::default();
        collect(content, sink, &desc, true, 1, &mut c)?;
        if !c.missing.is_empty() {
            return Err(Error::bad_input(
                &label,
                format!("the manifest {} is incomplete; missing: {}", desc.digest, c.missing.join(", ")),
            ));
        }
        if !opts.platforms.is_empty() {
            let p = desc.platform.clone().or_else(|| config_platform(&c.blobs, &root_blob, &what));
            if !matches_any(&opts.platforms, p.as_ref()) {
                notes.push(format!(
                    "skipped {} ({}): not a selected platform",
                    desc.digest,
                    p.map_or("unknown platform".into(), |p| p.to_string())
                ));
                return Ok(None);
            }
        }
        let platforms = desc.platform.iter().map(|p| p.to_string()).collect();
        return Ok(Some(Found { names, root: desc, blobs: c.blobs, platforms, origin: Origin::Source }));
    }
    // An index: look at each child on its own.
    let mut children: Vec<(Descriptor, Closure)> = Vec::new();
    for child in &doc.manifests {
        let mut c = Closure::default();
        collect(content, sink, child, false, 2, &mut c)?;
        children.push((child.clone(), c));
    }
    let selected: Vec<usize> = if opts.platforms.is_empty() {
        (0..children.len()).collect()
    } else {
        (0..children.len()).filter(|i| matches_any(&opts.platforms, children[*i].0.platform.as_ref())).collect()
    };
    let missing: Vec<String> = selected
        .iter()
        .filter(|i| !children[**i].1.missing.is_empty())
        .map(|i| format!("{} {}", platform_of(&children[*i].0), children[*i].0.digest))
        .collect();
    if !missing.is_empty() {
        let present: Vec<String> = children
            .iter()
            .filter(|(d, c)| c.missing.is_empty() && d.platform.is_some())
            .map(|(d, _)| platform_of(d))
            .collect();
        let hint = if present.is_empty() {
            "no platform of it is complete".to_string()
        } else {
            format!(
                "import the platforms that are present with {}",
                present.iter().map(|p| format!("--platform {p}")).collect::<Vec<_>>().join(" ")
            )
        };
        return Err(Error::bad_input(
            &label,
            format!(
                "the index {} lists platforms whose blobs the source does not hold: {}; {hint}",
                desc.digest,
                missing.join(", ")
            ),
        ));
    }
    if selected.is_empty() {
        notes.push(format!("skipped the index {}: none of its platforms is selected", desc.digest));
        return Ok(None);
    }
    if selected.len() == children.len() {
        let mut blobs = BTreeMap::new();
        blobs.insert(desc.digest.clone(), root_blob);
        let mut platforms = Vec::new();
        for (d, c) in children {
            if d.platform.is_some() {
                platforms.push(platform_of(&d));
            }
            blobs.extend(c.blobs);
        }
        return Ok(Some(Found { names, root: desc, blobs, platforms, origin: Origin::Source }));
    }
    if selected.len() == 1 {
        let (d, c) = children.swap_remove(selected[0]);
        notes.push(format!("took {} {} out of the index {}", platform_of(&d), d.digest, desc.digest));
        let platforms = vec![platform_of(&d)];
        let mut root = d;
        root.annotations.remove(ANNOTATION_REF_NAME);
        return Ok(Some(Found { names, root, blobs: c.blobs, platforms, origin: Origin::Selected }));
    }
    // Several but not all: a new index over the selected descriptors, verbatim and in order.
    let mut blobs = BTreeMap::new();
    let mut manifests = Vec::new();
    let mut platforms = Vec::new();
    for (i, (d, c)) in children.into_iter().enumerate() {
        if selected.contains(&i) {
            platforms.push(platform_of(&d));
            manifests.push(d);
            blobs.extend(c.blobs);
        }
    }
    let mt = doc.media_type.clone().unwrap_or_else(|| media::OCI_INDEX.to_string());
    let narrowed = NarrowIndex { schema_version: 2, media_type: &mt, manifests: &manifests };
    let bytes = serde_json::to_vec(&narrowed).expect("index serialises");
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::bad_input(
            &label,
            format!(
                "the narrowed index of {} would be {} bytes, over the {MAX_DOCUMENT_BYTES} bytes wharf reads back; refused",
                desc.digest,
                bytes.len()
            ),
        ));
    }
    let b = sink.put(&bytes)?;
    notes.push(format!(
        "narrowed the index {} to {} as {} (a new index: its digest differs from the source's)",
        desc.digest,
        platforms.join(", "),
        b.digest
    ));
    let root = Descriptor::new(&mt, b.digest.clone(), b.size);
    blobs.insert(b.digest.clone(), b);
    Ok(Some(Found { names, root, blobs, platforms, origin: Origin::Narrowed }))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NarrowIndex<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: &'a [Descriptor],
}

/// Where the imported root manifest came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Stored byte for byte as the source holds it.
    Source,
    /// A child manifest taken out of an index by `--platform`.
    Selected,
    /// A new index over the platforms `--platform` selected.
    Narrowed,
    /// Synthesised over a docker-archive's config and layers.
    Synthesised,
    /// A Helm chart's manifest, made as `helm push` makes it.
    Chart,
}
