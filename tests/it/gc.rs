//! `wharf gc`: what it removes, what it never removes, and that it is safe against
//! corrupt roots, concurrent imports, concurrent writers and kill -9.

use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;
use wharf::{Digest, GcOptions};

use crate::common::*;
use crate::lifecycle_util::*;

fn blob_names(dir: &std::path::Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir.join("blobs/sha256")) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect(),
        Err(_) => BTreeSet::new(),
    }
}

#[test]
fn dry_run_and_real_run_agree_then_nothing_is_left() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["tag", "testrepo:v2", "other/app:1"]).ok();
    reg.wharf(&["delete", "testrepo:v2"]).ok();
    reg.wharf(&["delete", "testrepo:b1"]).ok();
    garbage(&reg.root.join("testrepo/blobs"), 20, "repo");
    garbage(&reg.root.join(".wharf/blobs"), 5, "pool");
    std::fs::create_dir_all(reg.root.join(".wharf/staging/999-dead")).unwrap();
    std::fs::write(reg.root.join(".wharf/staging/999-dead/owner"), b"").unwrap();
    std::fs::write(reg.root.join("testrepo/.wharf-tmp-stale"), b"half").unwrap();
    let before = reg.snapshot();
    let dry = reg.json(&["gc", "--dry-run", "--grace", "0s"]);
    assert_eq!(before, reg.snapshot(), "a dry run changes nothing");
    assert_eq!(dry["dry_run"], true);
    let real = reg.json(&["gc", "--grace", "0s"]);
    assert_eq!(plan_of(dry.clone()), plan_of(real.clone()), "dry run and real run agree item for item");
    let repos: Vec<&str> =
        real["repositories"].as_array().unwrap().iter().map(|r| r["repository"].as_str().unwrap()).collect();
    assert_eq!(repos, vec!["testrepo"]);
    // 20 garbage blobs + b1's and v2's own index blobs (their children are shared or gone).
    assert!(real["repositories"][0]["blobs"].as_array().unwrap().len() >= 22, "{real:#}");
    assert_eq!(real["pool"].as_array().unwrap().len(), 5);
    assert_eq!(real["staging"].as_array().unwrap().len(), 1);
    assert_eq!(real["temp_files"].as_array().unwrap().len(), 1);
    assert!(!reg.root.join(".wharf/staging/999-dead").exists());
    assert!(!reg.root.join("testrepo/.wharf-tmp-stale").exists());
    assert_sound(&reg.root);
    for tag in ["v3", "b2", "b3"] {
        skopeo_reads(&reg.root, "testrepo", tag);
    }
    skopeo_reads(&reg.root, "other/app", "1");
    let again = reg.json(&["gc", "--grace", "0s"]);
    assert_eq!(again["total_blobs"], 0, "a second gc plans nothing: {again:#}");
    assert!(again["repositories"].as_array().unwrap().is_empty());
}

#[test]
fn grace_spares_young_blobs_and_as_of_ages_them() {
    let Some(reg) = with_testrepo() else { return };
    garbage(&reg.root.join("testrepo/blobs"), 3, "young");
    let r = reg.json(&["gc"]);
    assert_eq!(r["total_blobs"], 0);
    assert_eq!(r["spared_young"], 3);
    assert_eq!(r["grace_seconds"], 3600);
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = reg.json(&["--as-of", &later, "gc"]);
    assert_eq!(r["total_blobs"], 3);
    reg.wharf(&["gc", "--grace", "soon"]).code(2).stderr_has("is not a duration");
}

#[test]
fn corrupt_root_aborts_with_nothing_deleted() {
    let Some(reg) = with_testrepo() else { return };
    garbage(&reg.root.join("testrepo/blobs"), 3, "x");
    // a-docker's manifest blob becomes unparsable: gc must stop before deleting anything.
    let manifest =
        reg.root.join("testrepo/blobs/sha256/43089316cfeec5c2f7897591f5925167afda21932cf71a1a1264684930e7b40a");
    std::fs::write(&manifest, b"{not json").unwrap();
    let before = reg.snapshot();
    reg.wharf(&["gc", "--grace", "0s"]).code(2).stderr_has("gc stopped with nothing deleted");
    assert_eq!(before, reg.snapshot());
    // So does an unparsable index.json, and an unreadable trash record.
    std::fs::write(&manifest, b"{}").unwrap();
    let index = reg.root.join("testrepo/index.json");
    let saved = std::fs::read(&index).unwrap();
    std::fs::write(&index, b"[").unwrap();
    let before = reg.snapshot();
    reg.wharf(&["gc", "--grace", "0s"]).code(2).stderr_has("index.json");
    assert_eq!(before, reg.snapshot());
    std::fs::write(&index, saved).unwrap();
    std::fs::create_dir_all(reg.root.join(".wharf/trash")).unwrap();
    std::fs::write(reg.root.join(".wharf/trash/x.json"), b"{").unwrap();
    let before = reg.snapshot();
    reg.wharf(&["gc", "--grace", "0s"]).code(2).stderr_has("trash record");
    assert_eq!(before, reg.snapshot());
}

#[test]
fn unknown_media_types_are_leaves_and_stay() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let hidden = b.layer(&repo, "only named inside the unknown document");
    // A JSON document of an unknown type that looks like a manifest: kept, not followed.
    let doc = serde_json::json!({"schemaVersion":2,"config":hidden,"layers":[]}).to_string();
    let desc = b.put(&repo, "application/vnd.example.thing+json", doc.as_bytes());
    b.tag(&repo, "thing", &desc);
    let r = reg.json(&["gc", "--grace", "0s"]);
    assert_eq!(r["repositories"][0]["blobs"][0]["digest"], hidden.digest.to_string());
    assert!(repo.has_blob(&desc.digest));
}

#[test]
fn shared_base_layers_across_repositories_and_the_pool() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let base = b.repo("base");
    let l0 = b.layer(&base, "base layer");
    let l1 = b.layer(&base, "app layer");
    let img = b.image(&base, "app", &[l0.clone(), l1.clone()], None);
    let other = b.image(&base, "other", std::slice::from_ref(&l0), None);
    let idx = b.index(&base, &[img.clone(), other.clone()]);
    b.tag(&base, "multi", &idx);
    for n in 0..3 {
        reg.wharf(&["tag", "base:multi", &format!("team/r{n}:1")]).ok();
    }
    let pool_l0 = reg.root.join(".wharf/blobs/sha256").join(l0.digest.hex());
    assert!(pool_l0.is_file());
    reg.wharf(&["delete", "base:multi"]).ok();
    reg.wharf(&["delete", "team/r0:1"]).ok();
    let r = reg.json(&["gc", "--grace", "0s"]);
    assert!(r["pool"].as_array().unwrap().is_empty(), "r1 and r2 still use the shared layers: {r:#}");
    assert!(pool_l0.is_file());
    assert!(blob_names(&reg.root.join("base")).is_empty());
    assert!(blob_names(&reg.root.join("team/r0")).is_empty());
    assert_sound(&reg.root);
    reg.wharf(&["delete", "team/r1:1"]).ok();
    reg.wharf(&["delete", "team/r2:1"]).ok();
    let r = reg.json(&["gc", "--grace", "0s"]);
    assert_eq!(r["pool"].as_array().unwrap().len(), 7, "index, 2 manifests, 2 configs, 2 layers leave the pool");
    assert!(blob_names(&reg.root.join(".wharf")).is_empty());
}

#[test]
fn dangling_referrers_go_live_ones_stay() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let l = b.layer(&repo, "l");
    let plat = b.image(&repo, "amd64", std::slice::from_ref(&l), None);
    let idx = b.index(&repo, std::slice::from_ref(&plat));
    b.tag(&repo, "1", &idx);
    // A signature of the platform manifest (a child, not top-level): live.
    let sig_child = b.image(&repo, "sig-child", &[], Some(&plat));
    b.untagged(&repo, &sig_child);
    // An image that will be deleted, with a signature and a signature of the signature.
    let gone = b.image(&repo, "gone", std::slice::from_ref(&l), None);
    b.tag(&repo, "old", &gone);
    let sig = b.image(&repo, "sig", &[], Some(&gone));
    b.untagged(&repo, &sig);
    let sig2 = b.image(&repo, "sig2", &[], Some(&sig));
    b.untagged(&repo, &sig2);
    // A tagged referrer whose subject is gone stays: tags are intent.
    let tagged_sig = b.image(&repo, "tagged-sig", &[], Some(&gone));
    b.tag(&repo, "sig-tag", &tagged_sig);
    reg.wharf(&["delete", "app:old"]).ok();
    let r = reg.json(&["gc", "--grace", "0s"]);
    let removed = removed_referrers(&r);
    // The tagged referrer keeps `gone` reachable through its subject edge, so sig and sig2
    // stay live as referrers of a reachable manifest.
    assert!(removed.is_empty(), "{r:#}");
    reg.wharf(&["delete", "app:sig-tag"]).ok();
    let r = reg.json(&["gc", "--grace", "0s"]);
    let removed = removed_referrers(&r);
    assert_eq!(removed, [sig.digest.to_string(), sig2.digest.to_string()].into_iter().collect());
    assert!(repo.listed(&sig_child.digest), "the child's signature stays");
    assert!(!repo.has_blob(&gone.digest) && !repo.has_blob(&sig.digest));
    assert!(repo.has_blob(&plat.digest) && repo.has_blob(&l.digest));
    assert_sound(&reg.root);
}

#[test]
fn locked_and_soft_deleted_dangling_referrers() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let img = b.image(&repo, "img", &[], None);
    b.tag(&repo, "1", &img);
    let locked_sig = b.image(&repo, "locked-sig", &[], Some(&img));
    b.untagged(&repo, &locked_sig);
    let sig = b.image(&repo, "sig", &[], Some(&img));
    b.untagged(&repo, &sig);
    let lock = wharf::LockOptions { write_enabled: Some(false), ..Default::default() };
    let locked =
        wharf::Registry::open(&reg.root).unwrap().lock(&format!("app@{}", locked_sig.digest).parse().unwrap(), &lock);
    assert!(locked.unwrap().changed);
    reg.wharf(&["config", "soft-delete", "--days", "5"]).ok();
    reg.wharf(&["delete", "app:1"]).ok();
    // While img is restorable its referrers stay, so that a restore finds them.
    let r = reg.json(&["gc", "--grace", "0s"]);
    assert!(removed_referrers(&r).is_empty(), "{r:#}");
    // Once it has expired, the unlocked referrer goes (to the trash: soft delete is on).
    let later = (chrono::Utc::now() + chrono::Duration::days(6)).to_rfc3339();
    let r = reg.json(&["--as-of", &later, "gc", "--grace", "0s"]);
    let rr = &r["repositories"][0]["referrers_removed"];
    assert_eq!(rr.as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(rr[0]["digest"], sig.digest.to_string());
    assert_eq!(rr[0]["trashed"], true);
    assert_eq!(r["expired_trash"].as_array().unwrap().len(), 1);
    assert!(repo.listed(&locked_sig.digest), "a locked referrer stays");
    assert!(!repo.listed(&sig.digest));
    // sig is pinned by its trash record; img by the locked referrer's subject edge.
    assert!(repo.has_blob(&img.digest) && repo.has_blob(&sig.digest));
    let reasons: Vec<String> = reg.json(&["--as-of", &later, "deleted"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap().into())
        .collect();
    assert_eq!(reasons, vec!["gc"]);
    assert_sound(&reg.root);
}

fn removed_referrers(r: &serde_json::Value) -> BTreeSet<String> {
    r["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|repo| repo["referrers_removed"].as_array().unwrap().iter())
        .map(|x| x["digest"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn live_staging_and_what_it_names_survive_a_gc_process() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let l = b.layer(&repo, "shared");
    let img = b.image(&repo, "x", std::slice::from_ref(&l), None);
    b.tag(&repo, "1", &img);
    reg.wharf(&["tag", "app:1", "copy:1"]).ok();
    reg.wharf(&["delete", "app:1"]).ok();
    reg.wharf(&["delete", "copy:1"]).ok();
    // An import in flight in this process: its staging area (docs/FORMAT.md: an `owner`
    // file this process holds flock'd) holds a new layer and a manifest that reuses the
    // pool's copy of `l` (now referenced by no repository).
    let staging = reg.root.join(format!(".wharf/staging/{}-live", std::process::id()));
    std::fs::create_dir_all(staging.join("blobs/sha256")).unwrap();
    let owner = std::fs::File::create(staging.join("owner")).unwrap();
    owner.lock().unwrap();
    let put = |bytes: &[u8]| {
        let d = Digest::of(bytes);
        std::fs::write(staging.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        d
    };
    let new_layer = put(b"new layer");
    let m = serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
        "config":{"mediaType":OCI_CONFIG,"digest":img.digest.to_string(),"size":1},
        "layers":[l, {"mediaType":OCI_LAYER_TAR,"digest":new_layer.to_string(),"size":9}]});
    put(m.to_string().as_bytes());
    // A dead import's leftovers.
    let dead = reg.root.join(".wharf/staging/1-dead");
    std::fs::create_dir_all(dead.join("blobs/sha256")).unwrap();
    std::fs::write(dead.join("owner"), b"").unwrap();
    let pool_l = reg.root.join(".wharf/blobs/sha256").join(l.digest.hex());
    assert!(pool_l.is_file());
    let status = spawn_wharf(&reg.root, &["gc", "--grace", "0s"]).wait().unwrap();
    assert!(status.success());
    assert!(staging.join("blobs/sha256").join(new_layer.hex()).is_file(), "the staged blob survives");
    assert!(pool_l.is_file(), "the pool blob the in-flight manifest names survives");
    assert!(!dead.exists(), "dead staging goes");
    // The import ends: its area goes, and its lock with it.
    std::fs::remove_dir_all(&staging).unwrap();
    drop(owner);
    let r = reg.json(&["gc", "--grace", "0s"]);
    assert!(!pool_l.exists(), "once the import is gone, so is the pool blob: {r:#}");
}

#[test]
fn gc_and_writers_as_concurrent_processes() {
    let Some(reg) = with_testrepo() else { return };
    let root = reg.root.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..12 {
            let t = format!("c{i}");
            wharf_at(&root, &["tag", "testrepo:v2", &format!("copy/a:{t}")]).ok();
            wharf_at(&root, &["tag", "testrepo:b2", &format!("testrepo:{t}")]).ok();
            if i % 3 == 0 {
                wharf_at(&root, &["delete", &format!("copy/a:{t}")]).ok();
            }
            wharf_at(&root, &["untag", &format!("testrepo:{t}")]).ok();
        }
    });
    for _ in 0..8 {
        reg.wharf(&["gc", "--grace", "0s"]).ok();
    }
    writer.join().unwrap();
    reg.wharf(&["gc", "--grace", "0s"]).ok();
    assert_sound(&reg.root);
    // Every copy/a tag points at one manifest, and a delete takes all its tags: only those
    // made after the last delete remain.
    assert_eq!(wharf_tags(&reg, "copy/a"), vec!["c10", "c11"]);
    skopeo_reads(&reg.root, "copy/a", "c11");
    for tag in TESTREPO_IMAGE_TAGS {
        skopeo_reads(&reg.root, "testrepo", tag);
    }
}

#[test]
fn kill_9_at_many_points_of_gc_delete_and_sweep() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["config", "retention", "--untagged-days", "0"]).ok();
    reg.wharf(&["config", "soft-delete", "--days", "1"]).ok();
    let far = "2099-01-01T00:00:00Z";
    let mut delay_us = 0u64;
    let mut killed = 0;
    for round in 0..18 {
        reg.wharf(&["tag", "testrepo:v3", &format!("copy/k:{round}")]).ok();
        garbage(&reg.root.join("testrepo/blobs"), 400, &format!("r{round}"));
        garbage(&reg.root.join(".wharf/blobs"), 200, &format!("p{round}"));
        let args: Vec<String> = match round % 3 {
            0 => vec!["gc".into(), "--grace".into(), "0s".into()],
            1 => vec!["delete".into(), format!("copy/k:{round}")],
            _ => vec!["--as-of".into(), far.into(), "sweep".into()],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = spawn_wharf(&reg.root, &args);
        std::thread::sleep(Duration::from_micros(delay_us));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if std::os::unix::process::ExitStatusExt::signal(&status).is_some() {
            killed += 1;
        }
        delay_us = (delay_us + 1_700) % 30_000;
        assert_sound(&reg.root);
        reg.json(&["tags", "testrepo"]);
        skopeo_reads(&reg.root, "testrepo", TESTREPO_IMAGE_TAGS[round % TESTREPO_IMAGE_TAGS.len()]);
    }
    // Informational (timing is never asserted): how many runs the kill interrupted.
    eprintln!("kill -9 interrupted {killed} of 18 runs");
    // The registry stays usable: a full gc completes and every image still reads.
    reg.wharf(&["gc", "--grace", "0s"]).ok();
    assert_sound(&reg.root);
    for tag in TESTREPO_IMAGE_TAGS {
        skopeo_reads(&reg.root, "testrepo", tag);
    }
}

#[test]
fn plain_layouts_made_by_umoci_and_skopeo() {
    let Some(umoci) = tool("umoci") else { return };
    let Some(skopeo) = tool("skopeo") else { return };
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("img");
    let l = layout.to_str().unwrap();
    assert_eq!(run_tool(&umoci, &["init", "--layout", l]).0, 0);
    assert_eq!(run_tool(&umoci, &["new", "--image", &format!("{l}:a")]).0, 0);
    assert_eq!(run_tool(&umoci, &["config", "--image", &format!("{l}:a"), "--config.env", "X=1"]).0, 0);
    assert_eq!(run_tool(&umoci, &["config", "--image", &format!("{l}:a"), "--config.env", "Y=2", "--tag", "b"]).0, 0);
    // `a` was re-pointed by the second config: its first manifest is garbage for umoci.
    let before = snapshot(&layout);
    let dry = wharf_at(&layout, &["--json", "gc", "--dry-run", "--grace", "0s"]).ok().json();
    assert_eq!(before, snapshot(&layout), "a dry run on a plain layout writes nothing, not even .wharf/");
    let real = wharf_at(&layout, &["--json", "gc", "--grace", "0s"]).ok().json();
    assert_eq!(plan_of(dry), plan_of(real.clone()));
    assert!(real["total_blobs"].as_u64().unwrap() >= 2, "{real:#}");
    // umoci finds nothing more to collect, and both tools read both tags.
    let names = blob_names(&layout);
    assert_eq!(run_tool(&umoci, &["gc", "--layout", l]).0, 0);
    assert_eq!(names, blob_names(&layout), "umoci gc removes nothing after wharf gc");
    for tag in ["a", "b"] {
        let (code, _, err) = run_tool(&skopeo, &["inspect", &format!("oci:{l}:{tag}")]);
        assert_eq!(code, 0, "{err}");
    }
    // A layout skopeo wrote: gc keeps it whole.
    let sk = dir.path().join("sk");
    let src = format!("oci:{l}:b");
    let dst = format!("oci:{}:c", sk.display());
    assert_eq!(run_tool(&skopeo, &["copy", &src, &dst]).0, 0);
    let r = wharf_at(&sk, &["--json", "gc", "--grace", "0s"]).ok().json();
    assert_eq!(r["total_blobs"], 0, "{r:#}");
    assert_eq!(run_tool(&skopeo, &["inspect", &dst]).0, 0);
}

/// A random descriptor graph: layers, images (some referrers), indexes; a random subset
/// of them is listed in index.json (tagged or not); the rest is garbage.
#[derive(Debug, Clone)]
struct Spec {
    layers: usize,
    images: Vec<(Vec<usize>, Option<usize>)>,
    indexes: Vec<Vec<usize>>,
    roots: Vec<(bool, usize)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..6, 1usize..7, 0usize..3).prop_flat_map(|(layers, images, indexes)| {
        let image = (proptest::collection::vec(0..layers, 0..3), proptest::option::weighted(0.3, 0..images));
        (
            Just(layers),
            proptest::collection::vec(image, images),
            proptest::collection::vec(proptest::collection::vec(0..images, 1..3), indexes),
            proptest::collection::vec((any::<bool>(), 0..(images + indexes)), 0..5),
        )
            .prop_map(|(layers, images, indexes, roots)| Spec { layers, images, indexes, roots })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    #[test]
    fn gc_on_random_graphs(s in spec()) {
        let reg = Reg::new();
        let b = Build::open(&reg.root);
        let repo = b.repo("r");
        let layers: Vec<Desc> = (0..s.layers).map(|i| b.layer(&repo, &format!("layer {i}"))).collect();
        let mut images: Vec<Desc> = Vec::new();
        let mut subjects: Vec<Option<usize>> = Vec::new();
        for (i, (ls, subject)) in s.images.iter().enumerate() {
            // A subject must exist before its referrer: only earlier images qualify.
            let subject = subject.filter(|j| *j < i);
            let ls: Vec<Desc> = ls.iter().map(|j| layers[*j].clone()).collect();
            images.push(b.image(&repo, &format!("img {i}"), &ls, subject.map(|j| &images[j])));
            subjects.push(subject);
        }
        let indexes: Vec<Desc> = s.indexes.iter().map(|m| {
            let ms: Vec<Desc> = m.iter().map(|j| images[*j].clone()).collect();
            b.index(&repo, &ms)
        }).collect();
        let node = |n: usize| if n < images.len() { images[n].clone() } else { indexes[n - images.len()].clone() };
        for (k, (tagged, n)) in s.roots.iter().enumerate() {
            if *tagged { b.tag(&repo, &format!("t{k}"), &node(*n)); } else { b.untagged(&repo, &node(*n)); }
        }
        // Expected: the model of gc's rules, computed independently.
        let top: Vec<(Digest, bool)> = repo.entries().iter().map(|e| {
            (e["digest"].as_str().unwrap().parse().unwrap(), !e["annotations"]["org.opencontainers.image.ref.name"].is_null())
        }).collect();
        let n_of = |d: &Digest| (0..images.len() + indexes.len()).find(|n| &node(*n).digest == d).unwrap();
        let mut reach: BTreeSet<usize> = BTreeSet::new();
        fn visit(n: usize, imgs: usize, s: &Spec, subjects: &[Option<usize>], reach: &mut BTreeSet<usize>) {
            if !reach.insert(n) { return; }
            if n < imgs {
                if let Some(j) = subjects[n] { visit(j, imgs, s, subjects, reach); }
            } else {
                for j in &s.indexes[n - imgs] { visit(*j, imgs, s, subjects, reach); }
            }
        }
        let mut candidates = Vec::new();
        for (d, tagged) in &top {
            let n = n_of(d);
            if !tagged && n < images.len() && subjects[n].is_some() { candidates.push(n); } else { visit(n, images.len(), &s, &subjects, &mut reach); }
        }
        loop {
            let alive: Vec<usize> = candidates.iter().copied().filter(|c| reach.contains(c) || reach.contains(&subjects[*c].unwrap())).collect();
            if alive.is_empty() { break; }
            candidates.retain(|c| !alive.contains(c));
            for a in alive { visit(a, images.len(), &s, &subjects, &mut reach); }
        }
        let mut expected: BTreeSet<Digest> = BTreeSet::new();
        for n in &reach {
            let d = node(*n);
            expected.insert(d.digest.clone());
            if *n < images.len() {
                // An image's config and layers (never its subject), from its manifest.
                let doc: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(repo.dir.join("blobs/sha256").join(d.digest.hex())).unwrap()).unwrap();
                let config = std::iter::once(&doc["config"]);
                expected.extend(config.chain(doc["layers"].as_array().unwrap()).map(|c| c["digest"].as_str().unwrap().parse::<Digest>().unwrap()));
            }
        }
        // Run gc in process, through the library.
        let registry = wharf::Registry::open(&reg.root).unwrap().as_of(chrono::Utc::now() + chrono::Duration::minutes(1));
        registry.gc(&GcOptions { dry_run: false, grace: wharf::Duration::zero() }).unwrap();
        let present: BTreeSet<Digest> = blob_names(&reg.root.join("r")).iter().map(|n| Digest::from_hex(n).unwrap()).collect();
        prop_assert_eq!(&present, &expected);
        let second = registry.gc(&GcOptions { dry_run: true, grace: wharf::Duration::zero() }).unwrap();
        prop_assert!(second.is_empty(), "second gc plans nothing: {:?}", second);
        prop_assert!(problems(&reg.root).is_empty());
    }
}
