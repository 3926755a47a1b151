//! Complexity guards (issue 12): operations over a repository of N tags do O(N) index
//! and map work. Counted with `registry::repository::probe` (compiled into tests only),
//! never timed: each operation runs on N and 4N tags and its counts may grow at most
//! 4.5× (a quadratic one grows 16×), and stay under a small multiple of N.

use std::path::Path;

use super::Ctx;
use crate::model::retention::Filter;
use crate::model::time::parse_timestamp;
use crate::model::{Digest, Reference, RepoName, Timestamp};
use crate::registry::Registry;
use crate::registry::repository::probe;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Writes a blob into a layout's store; returns its digest.
fn blob(dir: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::of(bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    d
}

/// A registry with one repository `app` of `n` tags, each on its own manifest (as
/// `benches/gc_gen.py tags` makes them), adopted by a first write so the sidecar exists.
fn registry(root: &Path, n: usize, now: Timestamp) -> Registry {
    let reg = Registry::init(root).unwrap();
    let dir = root.join("app");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}").unwrap();
    let layer = blob(&dir, b"shared layer");
    let mut entries = Vec::new();
    for i in 0..n {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","seed":{i}}}"#);
        let c = blob(&dir, config.as_bytes());
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{c}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":12}}]}}"#,
            config.len()
        );
        let d = blob(&dir, m.as_bytes());
        let name = if i % 2 == 1 { format!("keep-{i}") } else { format!("build-{i}") };
        entries.push(format!(
            r#"{{"mediaType":"{MANIFEST}","digest":"{d}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{name}"}}}}"#,
            m.len()
        ));
    }
    let index = format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, entries.join(","));
    std::fs::write(dir.join("index.json"), index).unwrap();
    let ctx = Ctx::new(&reg, now, &|_| {});
    super::locking::unlock(&ctx, &Reference::parse_loose("app").unwrap()).unwrap();
    reg
}

/// (index entries visited in full passes, map lookups) of `op` on a fresh registry of
/// `n` tags.
fn counts(n: usize, op: &dyn Fn(&Ctx<'_>)) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let now = parse_timestamp("2026-06-01").unwrap();
    let reg = registry(dir.path(), n, now);
    let ctx = Ctx::new(&reg, now, &|_| {});
    probe::take();
    op(&ctx);
    probe::take()
}

#[track_caller]
fn assert_linear(what: &str, op: &dyn Fn(&Ctx<'_>)) {
    let (n, big) = (100, 400);
    let (p1, l1) = counts(n, op);
    let (p4, l4) = counts(big, op);
    assert!(p1 + l1 > 0, "{what}: nothing counted: the probe is not wired");
    for (kind, a, b) in [("index passes", p1, p4), ("lookups", l1, l4)] {
        assert!(b * 2 <= a * 9, "{what}: {kind} grew from {a} to {b} for 4x the tags (more than 4.5x: not linear)");
        assert!(b <= 20 * big as u64, "{what}: {b} {kind} for {big} tags (more than 20 per tag)");
    }
}

fn app() -> RepoName {
    RepoName::parse("app").unwrap()
}

#[test]
fn listing_is_linear_in_tags() {
    assert_linear("tags", &|ctx| {
        let r = super::listing::tags(ctx, &app()).unwrap();
        assert_eq!(r.tags.len() % 100, 0);
    });
    assert_linear("manifests", &|ctx| {
        super::inspect::manifests(ctx, &app(), super::inspect::OrderBy::TimeAsc, None).unwrap();
    });
    assert_linear("repos", &|ctx| {
        super::listing::repos(ctx).unwrap();
    });
}

#[test]
fn show_is_linear_in_tags() {
    assert_linear("show", &|ctx| {
        let r = super::inspect::show(ctx, &Reference::parse("app:keep-1").unwrap()).unwrap();
        assert_eq!(r.tags, vec!["keep-1".to_string()]);
    });
}

#[test]
fn one_tag_writes_are_linear_in_tags() {
    assert_linear("tag", &|ctx| {
        let src = Reference::parse("app:keep-1").unwrap();
        super::tagging::tag(ctx, &src, &Reference::parse("app:new").unwrap(), false).unwrap();
    });
    assert_linear("untag", &|ctx| {
        super::tagging::untag(ctx, &Reference::parse("app:keep-1").unwrap()).unwrap();
    });
    assert_linear("delete", &|ctx| {
        super::delete::manifest(ctx, &Reference::parse("app:build-0").unwrap(), false).unwrap();
    });
}

#[test]
fn purge_dry_run_is_linear_in_tags() {
    assert_linear("purge --dry-run", &|ctx| {
        let opts = super::purge::PurgeOptions {
            filters: vec![Filter::parse("app:build-.*").unwrap()],
            ago: None,
            keep: 0,
            untagged: true,
            untagged_only: false,
            include_locked: false,
            dry_run: true,
        };
        let r = super::purge::run(ctx, &opts).unwrap();
        assert!(r.total_tags > 0);
    });
}

/// The sidecar records each manifest's kind and subject (docs/FORMAT.md §4), so listings
/// and `show` read a constant number of manifest blobs, not one per manifest. Rayon's
/// worker threads count on their own thread-locals, so the listing runs in a one-thread
/// pool here to count every read.
#[test]
fn listings_read_no_manifest_the_sidecar_knows() {
    let dir = tempfile::tempdir().unwrap();
    let now = parse_timestamp("2026-06-01").unwrap();
    let reg = registry(dir.path(), 300, now);
    let meta = std::fs::read_to_string(dir.path().join("app/wharf-meta.json")).unwrap();
    assert_eq!(meta.matches("\"kind\": \"image\"").count(), 300, "the first write records every manifest's kind");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build().unwrap();
    pool.install(|| {
        let ctx = Ctx::new(&reg, now, &|_| {});
        probe::take_reads();
        let r = super::inspect::manifests(&ctx, &app(), super::inspect::OrderBy::TimeAsc, None).unwrap();
        assert_eq!(r.manifests.len(), 300);
        assert!(r.manifests.iter().all(|m| m.kind == crate::model::kind::ArtifactKind::Image));
        assert_eq!(probe::take_reads(), 0, "manifests reads no manifest blob");
        super::listing::repos(&ctx).unwrap();
        assert_eq!(probe::take_reads(), 0, "repos reads no manifest blob");
        let s = super::inspect::show(&ctx, &Reference::parse("app:keep-1").unwrap()).unwrap();
        assert!(s.referrers.is_empty());
        let reads = probe::take_reads();
        assert!(reads <= 2, "show read {reads} manifests: only its own (and its config's platform)");
    });
}
