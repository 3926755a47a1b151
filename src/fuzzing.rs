//! Entry points for the cargo-fuzz targets in `fuzz/` and for their regression inputs in
//! `tests/fuzz-regressions/` (run by `cargo test`): one function per target, each taking
//! raw bytes and running the real code path the CLI runs on them.
//!
//! Contract: bad input gives `Err`, never a panic. A panic is a defect, and so is a broken
//! property: where a function can state one (a reference that parses displays as itself,
//! a repository name is a safe directory path, an index.json re-read after writing is the
//! same index, purge selects only what its filters match) it asserts it, so the fuzzers
//! and the regression tests check the same thing. Not part of wharf's API: hidden from
//! the docs and free to change.

use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::model::descriptor::{Child, Document, DocumentError, IndexFile, Platform};
use crate::model::media::{self, MediaKind};
use crate::model::reference::{ForeignName, Reference, ReferenceError, RepoName, Tag};
use crate::model::retention::Filter;
use crate::model::time::{format_timestamp, parse_duration, parse_timestamp};
use crate::model::{Digest, Timestamp};
use crate::ops::Ctx;
use crate::ops::import::{self, ImportReport};
use crate::ops::purge::{self, PurgeOptions, PurgeReport};
use crate::registry::Registry;

/// The fixed "now" of every fuzzed operation (a fuzz run must be reproducible).
fn now() -> Timestamp {
    parse_timestamp("2026-06-01T00:00:00Z").expect("valid timestamp")
}

fn no_wait(_: &Path) {}

fn temp_dir() -> Result<tempfile::TempDir> {
    let base = std::env::temp_dir();
    tempfile::Builder::new()
        .prefix("wharf-fuzz-")
        .tempdir_in(&base)
        .map_err(Error::io("create a temporary directory in", base))
}

/// Target `import_tar`: `data` is an import SOURCE file (a tar, possibly compressed),
/// imported into a fresh registry with `wharf import FILE`, as the CLI does. On success
/// the imported repositories must be listable.
pub fn import_archive(data: &[u8]) -> Result<ImportReport> {
    let tmp = temp_dir()?;
    let root = tmp.path().join("root");
    let source = tmp.path().join("source");
    std::fs::write(&source, data).map_err(Error::io("write", source.clone()))?;
    let registry = Registry::init(&root)?;
    let ctx = Ctx::new(&registry, now(), &no_wait);
    let opts = import::Options { sources: vec![source.to_string_lossy().into_owned()], ..Default::default() };
    let report = import::run(&ctx, &opts)?;
    let listed = crate::ops::listing::repos(&ctx)?;
    for image in &report.images {
        assert!(
            listed.repositories.iter().any(|r| r.name == image.repository),
            "imported repository {} is not listed",
            image.repository
        );
        // A repository name becomes directories under the root: it must stay inside it.
        assert_safe_repo(&image.repository);
    }
    Ok(report)
}

/// Target `import_layout`: a structure-aware import. `data` is a list of blobs separated
/// by `\n--\n` (at most 16); in blob `i`, `$D<j>` and `$S<j>` (`j < i`, one digit) stand
/// for the digest and size of blob `j`, so a fuzzer can write manifests whose descriptors
/// are right. The blobs become an oci-archive whose index.json names the last blob
/// `fuzz/app:1` (with the last blob's own `mediaType`, else the OCI manifest type), then
/// [`import_archive`] imports it. This reaches the manifest, index and config checks that
/// a digest mismatch stops on byte-level mutations of a tar.
pub fn import_layout(data: &[u8]) -> Result<ImportReport> {
    import_archive(&layout_archive(data))
}

/// The oci-archive [`import_layout`] imports.
pub fn layout_archive(data: &[u8]) -> Vec<u8> {
    let mut blobs: Vec<(Digest, Vec<u8>)> = Vec::new();
    for part in split_blobs(data).into_iter().take(16) {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            let token = part.get(i..i + 3).and_then(|t| {
                let j = usize::from(t[2].wrapping_sub(b'0'));
                (t[0] == b'$' && j < blobs.len()).then_some((t[1], j))
            });
            match token {
                Some((b'D', j)) => out.extend_from_slice(blobs[j].0.to_string().as_bytes()),
                Some((b'S', j)) => out.extend_from_slice(blobs[j].1.len().to_string().as_bytes()),
                _ => {
                    out.push(part[i]);
                    i += 1;
                    continue;
                }
            }
            i += 3;
        }
        blobs.push((Digest::of(&out), out));
    }
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, body: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, body).expect("appending to a Vec does not fail");
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for (d, body) in &blobs {
        add(&format!("blobs/sha256/{}", d.hex()), body);
    }
    if let Some((d, body)) = blobs.last() {
        let media_type = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| media::OCI_MANIFEST.to_string());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type,
                "digest": d.to_string(),
                "size": body.len(),
                "annotations": {media::ANNOTATION_REF_NAME: "fuzz/app:1"}
            }]
        });
        add("index.json", index.to_string().as_bytes());
    }
    tar.into_inner().expect("a Vec-backed tar finishes")
}

fn split_blobs(data: &[u8]) -> Vec<&[u8]> {
    const SEP: &[u8] = b"\n--\n";
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEP.len()).position(|w| w == SEP) {
        out.push(&rest[..at]);
        rest = &rest[at + SEP.len()..];
    }
    out.push(rest);
    out
}

/// Target `document`: `data` is a manifest, an index or an image configuration. Parses it
/// as each of the shapes wharf reads (the lenient graph `Document` under several declared
/// media types, index.json, the strict `oci-spec` types verify uses), walks its children
/// and names its index entries as import does. Returns the number of children of the
/// parse with no declared type.
pub fn document(data: &[u8]) -> std::result::Result<usize, DocumentError> {
    for declared in [
        media::OCI_MANIFEST,
        media::OCI_INDEX,
        media::DOCKER_MANIFEST,
        media::DOCKER_MANIFEST_LIST,
        media::DOCKER_SCHEMA1,
    ] {
        if let Ok(doc) = Document::parse(data, declared) {
            walk(&doc);
        }
    }
    if let Ok(index) = IndexFile::parse(data) {
        let again = IndexFile::parse(&index.to_bytes()).expect("an index wharf wrote reads back");
        assert_eq!(again, index, "index.json changes when written and read back");
        for d in &index.manifests {
            if let Ok(Some(name)) = import::oci::entry_name(d)
                && let Some(f) = &name.foreign
            {
                for scoped in [false, true] {
                    if let Ok(r) = f.local_repo(scoped) {
                        assert_safe_repo(&r);
                    }
                }
            }
            let _ = d.kind();
            if let Some(p) = &d.platform {
                let _ = p.to_string();
            }
        }
    }
    let _ = serde_json::from_slice::<oci_spec::image::ImageManifest>(data);
    let _ = serde_json::from_slice::<oci_spec::image::ImageIndex>(data);
    let _ = serde_json::from_slice::<oci_spec::image::ImageConfiguration>(data);
    let doc = Document::parse(data, "")?;
    Ok(walk(&doc).len())
}

fn walk(doc: &Document) -> Vec<Child> {
    let children = doc.children();
    if !doc.kind.has_children() {
        assert!(children.is_empty(), "a {:?} has no children", doc.kind);
    }
    for c in &children {
        let _ = MediaKind::of(&c.media_type);
        let _ = media::layer_compression(&c.media_type);
        assert_eq!(Digest::parse(&c.digest.to_string()).as_ref(), Ok(&c.digest), "a digest reads back");
        if let Some(p) = c.descriptor.as_ref().and_then(|d| d.platform.as_ref()) {
            let _ = p.to_string();
        }
    }
    children
}

/// Target `reference`: `data` (as UTF-8) through every user-facing grammar: references,
/// repository names, tags, digests, producers' image names, platforms, durations and
/// timestamps. Whatever parses must display as itself and parse again to the same value.
/// Returns the result of [`Reference::parse`].
pub fn reference(data: &[u8]) -> std::result::Result<Reference, ReferenceError> {
    let s = std::str::from_utf8(data).map_err(|_| ReferenceError::BadRepo(String::from_utf8_lossy(data).into()))?;
    if let Ok(r) = Reference::parse_loose(s) {
        assert_eq!(r.to_string(), s, "a reference displays as written");
        assert_eq!(Reference::parse_loose(&r.to_string()).as_ref(), Ok(&r), "a reference reads back");
        assert_safe_repo(&r.repo);
    }
    if let Ok(n) = RepoName::parse(s) {
        assert_eq!(n.as_str(), s);
        assert_safe_repo(&n);
    }
    if let Ok(t) = Tag::parse(s) {
        assert_eq!(t.as_str(), s);
        assert!(!t.as_str().contains(['/', ':', '@']) && t.as_str().len() <= 128, "tag {t}");
    }
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(d.to_string(), s, "a digest displays as written");
    }
    if let Ok(f) = ForeignName::parse(s) {
        assert_safe_repo(&f.repo);
        for scoped in [false, true] {
            if let Ok(r) = f.local_repo(scoped) {
                assert_safe_repo(&r);
            }
        }
    }
    if let Some(p) = Platform::parse(s) {
        assert_eq!(p.to_string(), s, "a platform displays as written");
        assert_eq!(Platform::parse(&p.to_string()).as_ref(), Some(&p));
        assert!(p.matches(&p));
    }
    if let Ok(d) = parse_duration(s) {
        assert!(d >= chrono::Duration::zero(), "a duration is never negative: {s}");
    }
    if let Ok(t) = parse_timestamp(s) {
        let shown = format_timestamp(&t);
        let again = parse_timestamp(&shown).unwrap_or_else(|e| panic!("{shown} (from {s}) does not read back: {e}"));
        assert_eq!(format_timestamp(&again), shown, "a timestamp reads back");
    }
    Reference::parse(s)
}

/// Target `purge_filter`: each line of `data` is a `--filter`, except `ago=D`, `keep=N`,
/// `untagged`, `untagged-only` and `include-locked`, which set those options. Runs
/// `wharf purge --dry-run` with them on a small fixed registry and checks that every tag
/// it selects matches a filter.
pub fn purge_filters(data: &[u8]) -> Result<PurgeReport> {
    let text = String::from_utf8_lossy(data);
    let mut opts = PurgeOptions {
        filters: Vec::new(),
        ago: None,
        keep: 0,
        untagged: false,
        untagged_only: false,
        include_locked: false,
        dry_run: true,
    };
    for line in text.lines().take(16) {
        if let Some(d) = line.strip_prefix("ago=") {
            opts.ago = Some(parse_duration(d)?);
        } else if let Some(n) = line.strip_prefix("keep=") {
            opts.keep = n.parse().map_err(|_| Error::Usage(format!("keep={n}: not a number")))?;
        } else if line == "untagged" {
            opts.untagged = true;
        } else if line == "untagged-only" {
            opts.untagged_only = true;
        } else if line == "include-locked" {
            opts.include_locked = true;
        } else {
            opts.filters.push(Filter::parse(line)?);
        }
    }
    let registry = purge_registry()?;
    let ctx = Ctx::new(registry, now(), &no_wait);
    let report = purge::run(&ctx, &opts)?;
    for repo in &report.repositories {
        for t in &repo.tags {
            assert!(
                opts.filters.iter().any(|f| f.repo.is_match(repo.repository.as_str()) && f.tag.is_match(&t.tag)),
                "purge selected {}:{} which no filter matches",
                repo.repository,
                t.tag
            );
            if let Some(c) = report.cutoff {
                assert!(t.updated <= c, "purge selected {}:{} updated after the cutoff", repo.repository, t.tag);
            }
        }
    }
    Ok(report)
}

/// The registry purge runs on: built once per process from testdata's oci-archive, with
/// tags written at different times, one of them locked. Purge only ever runs dry on it.
fn purge_registry() -> Result<&'static Registry> {
    static REG: OnceLock<(tempfile::TempDir, Registry)> = OnceLock::new();
    if let Some((_, r)) = REG.get() {
        return Ok(r);
    }
    let tmp = temp_dir()?;
    let root = tmp.path().join("root");
    let source = tmp.path().join("hello.oci-archive.tar");
    std::fs::write(&source, include_bytes!("../testdata/hello.oci-archive.tar"))
        .map_err(Error::io("write", source.clone()))?;
    let registry = Registry::init(&root)?;
    let rows: &[(&str, &str, &str)] = &[
        ("team/app", "v1", "2026-01-01T00:00:00Z"),
        ("team/app", "v2", "2026-03-01T00:00:00Z"),
        ("team/app", "build-7", "2026-05-30T00:00:00Z"),
        ("library/hello", "latest", "2026-02-01T00:00:00Z"),
        ("library/hello", "1.0", "2026-05-01T00:00:00Z"),
        ("x", "a_b", "2025-01-01T00:00:00Z"),
    ];
    for (repo, tag, at) in rows {
        let at = parse_timestamp(at).expect("valid timestamp");
        let ctx = Ctx::new(&registry, at, &no_wait);
        let opts = import::Options {
            sources: vec![source.to_string_lossy().into_owned()],
            repo: Some(RepoName::parse(repo)?),
            tags: vec![Tag::parse(tag)?],
            ..Default::default()
        };
        import::run(&ctx, &opts)?;
    }
    let ctx = Ctx::new(&registry, now(), &no_wait);
    crate::ops::locking::lock(&ctx, &Reference::parse("team/app:v2")?)?;
    let (_, r) = REG.get_or_init(|| (tmp, registry));
    Ok(r)
}

/// Target `state_file`: the first byte chooses the file, the rest is its content.
/// Even: a repository's sidecar `wharf-meta.json`, then `wharf tags` and `wharf manifests`
/// on that repository. Odd: `.wharf/registry.json`, then opening the registry.
pub fn state_file(data: &[u8]) -> Result<()> {
    let Some((&which, content)) = data.split_first() else {
        return Err(Error::Usage("empty input".into()));
    };
    let tmp = temp_dir()?;
    let root = tmp.path().join("root");
    let registry = Registry::init(&root)?;
    if which % 2 == 1 {
        let path = root.join(crate::registry::STATE_DIR).join(crate::registry::CONFIG_FILE);
        std::fs::write(&path, content).map_err(Error::io("write", path.clone()))?;
        let reg = Registry::open(&root)?;
        let _ = serde_json::to_vec(reg.config()).expect("a registry config serialises");
        return Ok(());
    }
    let name = RepoName::parse("app")?;
    let repo = registry.open_or_create_repo(&name, now())?;
    drop(repo);
    let path = registry.repo_dir(&name)?.join(crate::registry::meta::META_FILE);
    std::fs::write(&path, content).map_err(Error::io("write", path.clone()))?;
    let ctx = Ctx::new(&registry, now(), &no_wait);
    crate::ops::listing::tags(&ctx, &name)?;
    crate::ops::inspect::manifests(&ctx, &name, crate::ops::inspect::OrderBy::parse("time_desc")?, None)?;
    crate::ops::listing::repos(&ctx)?;
    Ok(())
}

/// A repository name is a relative path of plain directory names below the root.
fn assert_safe_repo(r: &RepoName) {
    for c in r.components() {
        assert!(
            !c.is_empty() && !c.starts_with('.') && !c.contains(['/', '\\', '\0']),
            "repository name {r} has an unsafe component `{c}`"
        );
    }
}

/// Target `remote_answer`: the first byte chooses which parser of a registry's answer
/// gets the rest: a `WWW-Authenticate` challenge, a `Link` header, a tag-list page, a
/// token answer, a referrers answer (an index), a manifest or index, or a URL judged by
/// the origin rule against an https and a plain-HTTP registry.
///
/// Properties: a `Link` target is a part of the header; a Bearer challenge has a realm;
/// the origin rule never lets credentials go to another origin, nor anything from an
/// https registry to an http URL.
pub fn remote_answer(data: &[u8]) -> Result<usize> {
    use crate::remote::origin::{Carry, Origin};
    let Some((&which, body)) = data.split_first() else {
        return Err(Error::Usage("empty input".into()));
    };
    let text = String::from_utf8_lossy(body);
    let bad = |what: &str| Error::Usage(format!("not {what}"));
    match which % 7 {
        0 => match crate::remote::auth::parse_challenge(&text) {
            Some(crate::remote::auth::Challenge::Bearer { realm, .. }) => {
                assert!(!realm.is_empty() || text.contains("realm"), "a Bearer challenge without a realm");
                Ok(realm.len())
            }
            Some(_) => Ok(0),
            None => Err(bad("a challenge")),
        },
        1 => match crate::remote::client::link_next(&text) {
            Some(t) => {
                assert!(text.contains(t), "a Link target that is not in the header");
                Ok(t.len())
            }
            None => Err(bad("a Link with a next page")),
        },
        2 => crate::remote::client::parse_tag_list(body).map(|t| t.len()).map_err(|_| bad("a tag list")),
        3 => crate::remote::client::parse_token(body).map(|t| t.len()).map_err(|_| bad("a token answer")),
        4 => IndexFile::parse(body).map(|i| i.manifests.len()).map_err(|_| bad("a referrers answer")),
        5 => {
            let mut n = 0;
            for mt in [media::OCI_MANIFEST, media::OCI_INDEX, ""] {
                if let Ok(d) = Document::parse(body, mt) {
                    n += d.children().len();
                }
            }
            Ok(n)
        }
        _ => {
            let mut n = 0;
            for base in ["https://reg.example:5000", "http://127.0.0.1:5000"] {
                let registry = Origin::of(base).expect("a valid origin");
                match registry.permit(&text, "fuzz") {
                    Ok(Carry::Credentials) => {
                        assert_eq!(Origin::of(&text).as_ref(), Some(&registry), "credentials to another origin");
                        n += 1;
                    }
                    Ok(Carry::Nothing) => {
                        let target = Origin::of(&text).expect("a permitted URL has an origin");
                        assert!(!registry.https || target.https, "an https registry sent to http");
                        assert_ne!(target, registry);
                    }
                    Err(_) => {}
                }
                if registry.permit_realm(&text).is_ok() {
                    assert!(!registry.https || Origin::of(&text).is_some_and(|o| o.https), "a cleartext realm");
                }
            }
            Ok(n)
        }
    }
}

/// Target `inventory`: the bytes as an inventory file (`export --exclude-present`'s
/// input), loaded as `Inventory::load` does: a clean `Err` for anything that is not an
/// inventory, whatever its size or shape.
pub fn inventory(data: &[u8]) -> Result<usize> {
    let tmp = temp_dir()?;
    let path = tmp.path().join("inventory.json");
    std::fs::write(&path, data).map_err(Error::io("write", path.clone()))?;
    let inv = crate::ops::inventory::Inventory::load(&path)?;
    Ok(inv.sizes().len())
}
