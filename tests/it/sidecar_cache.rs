//! The sidecar's per-manifest `kind` and `subject` are a cache for listings
//! (docs/FORMAT.md §4): a stale, hand-edited or newer-version value there must not change
//! what any command other than a listing decides. Review findings (branch `review`):
//! each test here failed on main at 59cb933.

use super::common::{Reg, testdata};
use super::registry_support::{Auth, Distribution};

/// A registry with `app:1` (the hello image) and one SBOM attached to it; returns the
/// registry and the path of app's sidecar.
fn app_with_sbom() -> (Reg, std::path::PathBuf) {
    let reg = Reg::new();
    let archive = testdata("hello.oci-archive.tar");
    reg.wharf(&["import", archive.to_str().unwrap(), "--repo", "app", "--tag", "1"]).ok();
    let sbom = reg.dir.path().join("sbom.json");
    std::fs::write(&sbom, "{\"sbom\":1}\n").unwrap();
    reg.wharf(&["attach", "app:1", sbom.to_str().unwrap(), "--artifact-type", "application/spdx+json"]).ok();
    let sidecar = reg.root.join("app").join("wharf-meta.json");
    (reg, sidecar)
}

/// Rewrites every manifest entry of the sidecar at `path` with `f`.
fn edit_manifests(path: &std::path::Path, f: impl Fn(&mut serde_json::Map<String, serde_json::Value>)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for (_, m) in v["manifests"].as_object_mut().unwrap().iter_mut() {
        f(m.as_object_mut().unwrap());
    }
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn push_sends_referrers_that_a_stale_sidecar_subject_hides() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (reg, sidecar) = app_with_sbom();
    let to = format!("{}/mirror", d.host);
    let args = ["push", "app:1", "--to", to.as_str(), "--plain-http", "--dry-run"];
    let honest = reg.json(&args);
    // The referrer's blob says it has a subject; the sidecar (a cache) says it has none.
    edit_manifests(&sidecar, |m| {
        if m.get("kind").and_then(|k| k.as_str()) == Some("referrer") {
            m.insert("kind".into(), "artifact".into());
            m.remove("subject");
        }
    });
    let stale = reg.json(&args);
    assert_eq!(honest["tags"][0]["referrers"].as_array().map(Vec::len), Some(1), "{honest}");
    assert_eq!(
        stale["tags"][0]["referrers"], honest["tags"][0]["referrers"],
        "push decided which referrers to send from the sidecar's cached subject: {stale} vs {honest}"
    );
    assert_eq!(stale["uploaded_blobs"], honest["uploaded_blobs"]);
}

#[test]
fn sidecar_kind_unknown_to_this_version_does_not_block_the_repository() {
    let (reg, sidecar) = app_with_sbom();
    // A kind a later wharf may add (the sidecar version stays 2: the field is a cache).
    edit_manifests(&sidecar, |m| {
        m.insert("kind".into(), "wasm-module".into());
    });
    reg.wharf(&["tags", "app"]).ok();
    reg.wharf(&["purge", "--filter", "app:.*", "--dry-run"]).ok();
    reg.wharf(&["delete", "app:1", "--dry-run"]).ok();
}

#[test]
fn trash_record_kind_unknown_to_this_version_does_not_stop_gc() {
    let (reg, _) = app_with_sbom();
    reg.wharf(&["config", "soft-delete", "--days", "7"]).ok();
    reg.wharf(&["delete", "app:1"]).ok();
    let trash = reg.root.join(".wharf").join("trash");
    let record = std::fs::read_dir(&trash)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"));
    let record = record.expect("a trash record");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains("\"kind\": \"image\""), "the record caches the manifest's kind: {text}");
    std::fs::write(&record, text.replace("\"kind\": \"image\"", "\"kind\": \"wasm-module\"")).unwrap();
    // gc (and with it every cron sweep) of the whole registry stops on one cached display field.
    reg.wharf(&["gc", "--dry-run"]).ok();
}

/// An import into an existing repository reuses the repository it planned with (one
/// load, not two); the manifest's build time and kind, which planning could not read
/// before the blobs moved in, are still recorded.
#[test]
fn import_into_an_existing_repository_records_build_time_and_kind() {
    let reg = Reg::new();
    let oci = testdata("hello.oci-archive.tar");
    let docker = testdata("hello.docker-archive.tar");
    reg.wharf(&["import", oci.to_str().unwrap(), "--repo", "app", "--tag", "1"]).ok();
    reg.wharf(&["import", docker.to_str().unwrap(), "--repo", "app", "--tag", "2"]).ok();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.root.join("app").join("wharf-meta.json")).unwrap()).unwrap();
    let manifests = meta["manifests"].as_object().unwrap();
    assert_eq!(manifests.len(), 2, "{meta}");
    for (digest, m) in manifests {
        assert_eq!(m["kind"], "image", "{digest}: {m}");
        assert!(m["image_created"].is_string(), "{digest}: {m}");
    }
}
