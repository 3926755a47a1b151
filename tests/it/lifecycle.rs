//! delete, purge, retention sweeps, soft delete with restore, and the policies.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::*;
use crate::lifecycle_util::*;

/// Locks `reference` (`REPO:TAG` or `REPO@DIGEST`) against delete, through the library.
fn lock(root: &std::path::Path, reference: &str) {
    let reg = wharf::Registry::open(root).unwrap().as_of(t("2026-01-01"));
    let opts = wharf::LockOptions { delete_enabled: Some(false), ..Default::default() };
    let r = reg.lock(&reference.parse().unwrap(), &opts).unwrap();
    assert!(r.changed, "{r:?}");
}

fn index_entries(root: &std::path::Path, repo: &str) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(root.join(repo).join("index.json")).unwrap()).unwrap();
    v["manifests"].as_array().unwrap().clone()
}

fn entries_of(root: &std::path::Path, repo: &str, digest: &str) -> BTreeSet<String> {
    index_entries(root, repo).into_iter().filter(|e| e["digest"] == digest).map(|e| e.to_string()).collect()
}

const B1: &str = "sha256:119b4a63feeda91d4874578e7883994fc45772dd912aa49ba380f87507f6ad07";

#[test]
fn delete_by_tag_lists_and_removes_every_tag_of_the_manifest() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["tag", "testrepo:b1", "testrepo:b1-again"]).ok();
    let before = reg.snapshot();
    let dry = reg.json(&["delete", "testrepo:b1", "--dry-run"]);
    assert_eq!(before, reg.snapshot());
    assert_eq!(dry["manifests"][0]["tags"], serde_json::json!(["b1", "b1-again"]));
    let real = reg.json(&["delete", "testrepo:b1"]);
    assert_eq!(plan_of(dry), plan_of(real));
    let tags = wharf_tags(&reg, "testrepo");
    assert!(!tags.contains(&"b1".into()) && !tags.contains(&"b1-again".into()));
    assert!(entries_of(&reg.root, "testrepo", B1).is_empty(), "the manifest is gone, not untagged");
    // By digest, and a digest that is not there.
    let v3 = "sha256:6fe828b32b9b4572f32b16c1c0a4d675660b19ec207d010724309374252c2d6d";
    let r = reg.json(&["delete", &format!("testrepo@{v3}")]);
    assert_eq!(r["manifests"][0]["tags"].as_array().unwrap().len(), 2, "v3 and its .meta tag: {r:#}");
    let before = reg.snapshot();
    reg.wharf(&["delete", &format!("testrepo@{v3}")]).code(2).stderr_has("is not in the repository");
    assert_eq!(before, reg.snapshot());
    assert_sound(&reg.root);
    skopeo_reads(&reg.root, "testrepo", "b2");
}

#[test]
fn delete_refuses_locks_and_children_naming_the_way_out() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let l = b.layer(&repo, "l");
    let img = b.image(&repo, "x", std::slice::from_ref(&l), None);
    let idx = b.index(&repo, std::slice::from_ref(&img));
    b.tag(&repo, "multi", &idx);
    b.tag(&repo, "plat", &img);
    let before = reg.snapshot();
    reg.wharf(&["delete", "app:plat"]).code(2).stderr_has("is referenced by the index app@");
    lock(&reg.root, "app:multi");
    let before_lock = reg.snapshot();
    assert_ne!(before, before_lock);
    reg.wharf(&["delete", "app:multi"]).code(2).stderr_has(
        "the tag app:multi has delete_enabled = false; lift it with `wharf update app:multi --delete-enabled true`",
    );
    reg.wharf(&["delete", "--repository", "app"]).code(2).stderr_has("delete_enabled = false");
    assert_eq!(before_lock, reg.snapshot(), "refusals change nothing");
    // Purge skips the locked tag; the unlocked one only loses its tag (the manifest stays,
    // a child of the index).
    let r = reg.json(&["purge", "--filter", "app:.*", "--untagged"]);
    assert_eq!(r["repositories"][0]["locked_tags"], serde_json::json!(["multi"]));
    assert_eq!(r["total_tags"], 1);
    assert_eq!(r["total_manifests"], 0);
    assert_eq!(wharf_tags(&reg, "app"), vec!["multi"]);
}

#[test]
fn delete_repository_is_permanent_and_spares_nested_repositories() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["tag", "testrepo:b2", "team:1"]).ok();
    reg.wharf(&["tag", "testrepo:b2", "team/app:1"]).ok();
    reg.wharf(&["config", "soft-delete", "--days", "3"]).ok();
    reg.wharf(&["delete", "team:1"]).ok();
    let before = reg.snapshot();
    let dry = reg.json(&["delete", "--repository", "team", "--dry-run"]);
    assert_eq!(before, reg.snapshot());
    let real = reg.json(&["delete", "--repository", "team"]);
    assert_eq!(plan_of(dry), plan_of(real.clone()));
    assert_eq!(real["soft_deleted"], false);
    let repos: Vec<String> = reg.json(&["repos"])["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().into())
        .collect();
    assert_eq!(repos, vec!["team/app", "testrepo"]);
    assert!(reg.json(&["deleted", "team"])["items"].as_array().unwrap().is_empty(), "its trash went with it");
    skopeo_reads(&reg.root, "team/app", "1");
    reg.json(&["delete", "--repository", "team/app"]);
    assert!(!reg.root.join("team").exists(), "empty parent directories go too");
    reg.wharf(&["delete", "--repository", "team/app"]).code(2).stderr_has("does not exist");
    reg.json(&["gc", "--grace", "0s"]);
    assert_sound(&reg.root);
}

#[test]
fn soft_delete_then_restore_gives_byte_identical_entries() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["tag", "testrepo:b1", "testrepo:b1-again"]).ok();
    reg.wharf(&["config", "soft-delete", "--days", "7"]).ok();
    let original = entries_of(&reg.root, "testrepo", B1);
    assert_eq!(original.len(), 2);
    let children: Vec<String> = {
        let idx: Value =
            serde_json::from_slice(&std::fs::read(reg.root.join("testrepo/blobs/sha256").join(&B1[7..])).unwrap())
                .unwrap();
        idx["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()[7..].to_string()).collect()
    };
    let d = reg.json(&["--as-of", "2026-03-01T10:00:00Z", "delete", "testrepo:b1"]);
    assert_eq!(d["soft_deleted"], true);
    assert_eq!(d["expires_at"], "2026-03-08T10:00:00Z");
    let listed = reg.json(&["--as-of", "2026-03-02", "deleted", "testrepo"]);
    let item = &listed["items"][0];
    assert_eq!(item["digest"], B1);
    assert_eq!(item["kind"], "manifest");
    assert_eq!(item["tags"], serde_json::json!(["b1", "b1-again"]));
    assert_eq!(item["deleted_at"], "2026-03-01T10:00:00Z");
    assert_eq!(item["expires_at"], "2026-03-08T10:00:00Z");
    assert_eq!(item["expired"], false);
    // gc keeps the pinned closure, children of the index included.
    reg.json(&["--as-of", "2026-03-02", "gc", "--grace", "0s"]);
    for c in &children {
        assert!(reg.root.join("testrepo/blobs/sha256").join(c).is_file());
    }
    let r = reg.json(&["--as-of", "2026-03-02", "restore", "testrepo:b1"]);
    assert_eq!(r["manifest_restored"], true);
    assert_eq!(r["restored_tags"], serde_json::json!(["b1", "b1-again"]));
    assert_eq!(entries_of(&reg.root, "testrepo", B1), original, "byte-identical index entries");
    assert!(reg.json(&["deleted"])["items"].as_array().unwrap().is_empty());
    assert_sound(&reg.root);
    skopeo_reads(&reg.root, "testrepo", "b1");
    skopeo_reads(&reg.root, "testrepo", "b1-again");
}

#[test]
fn soft_deleted_untag_restores_and_expired_items_go_at_sweep() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["config", "soft-delete", "--days", "2"]).ok();
    let entry = entries_of(&reg.root, "testrepo", B1);
    let u = reg.json(&["--as-of", "2026-03-01", "untag", "testrepo:b1"]);
    assert_eq!(u["remaining_tags"], serde_json::json!([]));
    let listed = reg.json(&["--as-of", "2026-03-01", "deleted"]);
    assert_eq!(listed["items"][0]["kind"], "tag");
    // The tag was re-used meanwhile: restore refuses, --force moves it back.
    reg.wharf(&["--as-of", "2026-03-01", "tag", "testrepo:b2", "testrepo:b1"]).ok();
    let before = reg.snapshot();
    reg.wharf(&["--as-of", "2026-03-02", "restore", "testrepo:b1"]).code(2).stderr_has("pass --force");
    assert_eq!(before, reg.snapshot());
    reg.json(&["--as-of", "2026-03-02", "restore", "testrepo:b1", "--force"]);
    assert_eq!(entries_of(&reg.root, "testrepo", B1), entry);
    // Delete, let it expire, sweep: the record and the blobs go; restore then refuses.
    reg.json(&["--as-of", "2026-03-02", "delete", "testrepo:b1"]);
    let dry = reg.json(&["--as-of", "2099-03-05", "sweep", "--dry-run"]);
    // The untag record emptied when it was restored; the delete's record remains.
    assert_eq!(dry["expired"].as_array().unwrap().len(), 1, "{dry:#}");
    let real = reg.json(&["--as-of", "2099-03-05", "sweep"]);
    assert_eq!(plan_of(dry), plan_of(real));
    assert!(!reg.root.join("testrepo/blobs/sha256").join(&B1[7..]).exists());
    reg.wharf(&["--as-of", "2099-03-05", "restore", "testrepo:b1"]).code(2).stderr_has("is not in the trash");
    assert_sound(&reg.root);
    for tag in ["b2", "b3", "v2"] {
        skopeo_reads(&reg.root, "testrepo", tag);
    }
}

#[test]
fn restore_into_a_write_locked_repository_is_refused() {
    let Some(reg) = with_testrepo() else { return };
    reg.wharf(&["config", "soft-delete", "--days", "7"]).ok();
    // b1 becomes an untagged manifest, then is deleted by digest: its trash item has no tag.
    reg.json(&["--as-of", "2026-03-01", "untag", "testrepo:b1"]);
    reg.json(&["--as-of", "2026-03-01", "delete", &format!("testrepo@{B1}")]);
    reg.wharf(&["update", "testrepo", "--write-enabled", "false"]).ok();
    let before = reg.snapshot();
    reg.wharf(&["--as-of", "2026-03-02", "restore", &format!("testrepo@{B1}")]).code(2).stderr_has("write_enabled");
    assert_eq!(before, reg.snapshot(), "a refused restore wrote something");
    reg.wharf(&["update", "testrepo", "--write-enabled", "true"]).ok();
    let r = reg.json(&["--as-of", "2026-03-02", "restore", &format!("testrepo@{B1}")]);
    assert_eq!(r["manifest_restored"], true);
    assert_sound(&reg.root);
}

#[test]
fn retention_sweep_keeps_locked_children_and_referrer_subjects() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let l = b.layer(&repo, "l");
    let child = b.image(&repo, "child", std::slice::from_ref(&l), None);
    let idx = b.index(&repo, std::slice::from_ref(&child));
    b.tag(&repo, "multi", &idx);
    b.untagged(&repo, &child); // untagged, but a child of a live index
    let old = b.image(&repo, "old", std::slice::from_ref(&l), None);
    b.untagged(&repo, &old);
    let locked = b.image(&repo, "locked", &[], None);
    b.untagged(&repo, &locked);
    let subject = b.image(&repo, "subject", &[], None);
    b.untagged(&repo, &subject);
    let sig = b.image(&repo, "sig", &[], Some(&subject));
    b.tag(&repo, "sig", &sig); // a live referrer keeps its subject
    let sig_of_live = b.image(&repo, "sig-of-live", &[], Some(&idx));
    b.untagged(&repo, &sig_of_live); // an untagged referrer of a live image
    lock(&reg.root, &format!("app@{}", locked.digest));
    // Untagged at 2026-01-01 (Build's clock). Retention 10 days.
    reg.wharf(&["config", "retention", "--untagged-days", "10"]).ok();
    let early = reg.json(&["--as-of", "2026-01-05", "sweep", "--dry-run"]);
    assert!(
        early["retention"]["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["manifests"].as_array().unwrap().is_empty())
    );
    // Far enough ahead that gc's grace period (counted from the blobs' real mtimes) is over.
    let dry = reg.json(&["--as-of", "2099-01-20", "sweep", "--dry-run"]);
    let real = reg.json(&["--as-of", "2099-01-20", "sweep"]);
    assert_eq!(plan_of(dry.clone()), plan_of(real.clone()), "sweep's dry run and real run agree");
    let repo0 = &real["retention"]["repositories"][0];
    assert_eq!(repo0["manifests"], serde_json::json!([old.digest.to_string()]));
    let kept: BTreeSet<(String, String)> = repo0["kept_manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["digest"].as_str().unwrap().into(), k["reason"].as_str().unwrap().into()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        (child.digest.to_string(), "child_or_subject_of_live".to_string()),
        (subject.digest.to_string(), "child_or_subject_of_live".to_string()),
        (locked.digest.to_string(), "locked".to_string()),
        (sig_of_live.digest.to_string(), "referrer_of_live".to_string()),
    ]
    .into();
    assert_eq!(kept, want);
    // old's own blobs (manifest, config) were freed by the sweep's gc; l stays (child uses it).
    assert!(!reg.root.join("app/blobs/sha256").join(old.digest.hex()).exists());
    assert!(reg.root.join("app/blobs/sha256").join(l.digest.hex()).exists());
    assert_sound(&reg.root);
}

/// A registry with 12 tags on 12 manifests in `ci/app`, tag i updated on day i+1, and
/// one tag in `other`.
fn purge_registry() -> Reg {
    let reg = Reg::new();
    let mut b = Build::open(&reg.root);
    let repo = b.repo("ci/app");
    let l = b.layer(&repo, "base");
    let mut last = None;
    for i in 0..12 {
        b.now = t(&format!("2026-01-{:02}T00:00:00Z", i + 1));
        let img = b.image(&repo, &format!("build {i}"), std::slice::from_ref(&l), None);
        b.tag(&repo, &format!("build-{i}"), &img);
        last = Some(img);
    }
    b.tag(&repo, "latest", &last.unwrap());
    let other = b.repo("other");
    let img = b.image(&other, "o", &[], None);
    b.tag(&other, "build-1", &img);
    reg
}

fn purged_tags(r: &Value) -> Vec<String> {
    r["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|repo| {
            let name = repo["repository"].as_str().unwrap().to_string();
            repo["tags"].as_array().unwrap().iter().map(move |t| format!("{name}:{}", t["tag"].as_str().unwrap()))
        })
        .collect()
}

#[test]
fn purge_filters_ago_keep_and_dry_run_agreement() {
    let reg = purge_registry();
    let before = reg.snapshot();
    let args = ["--as-of", "2026-01-20", "purge", "--filter", "ci/.*:build-.*", "--ago", "10d", "--keep", "3"];
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = reg.json(&dry_args);
    assert_eq!(before, reg.snapshot());
    // Cutoff 2026-01-10: build-0..build-9 are old enough; the 3 newest matching (9, 10, 11)
    // are kept; `latest` does not match; `other` is not matched by the repository regex.
    let want: Vec<String> = (0..9).map(|i| format!("ci/app:build-{i}")).collect();
    let mut got = purged_tags(&dry);
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    let real = reg.json(&args);
    assert_eq!(plan_of(dry), plan_of(real.clone()), "item for item");
    assert_eq!(real["total_manifests"], 0, "without --untagged the manifests stay, untagged");
    assert_eq!(wharf_tags(&reg, "ci/app"), vec!["build-10", "build-11", "build-9", "latest"]);
    assert_eq!(wharf_tags(&reg, "other"), vec!["build-1"]);
    // --untagged-only now removes the 9 manifests left untagged (untagged at 2026-01-20).
    let r = reg.json(&["--as-of", "2026-01-21", "purge", "--filter", "ci/app:.*", "--untagged-only", "--ago", "2d"]);
    assert_eq!(r["total_manifests"], 0, "untagged one day ago, not two");
    let r = reg.json(&["--as-of", "2026-01-21", "purge", "--filter", "ci/app:.*", "--untagged-only"]);
    assert_eq!(r["total_manifests"], 9);
    assert_eq!(r["total_tags"], 0);
    reg.json(&["gc", "--grace", "0s"]);
    assert_sound(&reg.root);
    // Bad filters are usage errors that change nothing.
    let before = reg.snapshot();
    reg.wharf(&["purge", "--filter", "nocolon"]).code(2).stderr_has("expected REPO_REGEX:TAG_REGEX");
    reg.wharf(&["purge", "--filter", "a:("]).code(2).stderr_has("bad tag regex");
    reg.wharf(&["purge", "--filter", "a:b", "--ago", "3w"]).code(2).stderr_has("is not a duration");
    assert_eq!(before, reg.snapshot());
}

#[test]
fn purge_untagged_respects_locks_children_and_referrers() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let l = b.layer(&repo, "l");
    let child = b.image(&repo, "child", std::slice::from_ref(&l), None);
    let idx = b.index(&repo, std::slice::from_ref(&child));
    b.tag(&repo, "multi", &idx);
    b.tag(&repo, "child-tag", &child);
    let sig = b.image(&repo, "sig", &[], Some(&idx));
    b.untagged(&repo, &sig);
    let a = b.image(&repo, "a", &[], None);
    b.tag(&repo, "dev-a", &a);
    let locked = b.image(&repo, "locked", &[], None);
    b.tag(&repo, "dev-locked", &locked);
    lock(&reg.root, "app:dev-locked");
    let r = reg.json(&["purge", "--filter", "app:(?:dev-.*|child-tag)", "--untagged"]);
    let mut got = purged_tags(&r);
    got.sort();
    assert_eq!(got, vec!["app:child-tag", "app:dev-a"]);
    assert_eq!(r["repositories"][0]["locked_tags"], serde_json::json!(["dev-locked"]));
    // a's manifest goes; the index's child (now untagged) and the referrer stay.
    assert_eq!(r["repositories"][0]["manifests"], serde_json::json!([a.digest.to_string()]));
    let reasons: BTreeSet<String> = r["repositories"][0]["kept_manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| format!("{}={}", k["digest"].as_str().unwrap(), k["reason"].as_str().unwrap()))
        .collect();
    assert!(reasons.contains(&format!("{}=child_or_subject_of_live", child.digest)), "{reasons:?}");
    assert!(reasons.contains(&format!("{}=referrer_of_live", sig.digest)), "{reasons:?}");
    // --include-locked takes the locked tag too.
    let r = reg.json(&["purge", "--filter", "app:dev-.*", "--untagged", "--include-locked"]);
    assert_eq!(purged_tags(&r), vec!["app:dev-locked"]);
    assert_eq!(wharf_tags(&reg, "app"), vec!["multi"]);
    reg.json(&["gc", "--grace", "0s"]);
    assert_sound(&reg.root);
}

#[test]
fn purge_to_the_trash_restores() {
    let reg = purge_registry();
    reg.wharf(&["config", "soft-delete", "--days", "30"]).ok();
    let entry = entries_of(&reg.root, "ci/app", index_entries(&reg.root, "ci/app")[0]["digest"].as_str().unwrap());
    let r = reg.json(&["--as-of", "2026-02-01", "purge", "--filter", "ci/app:build-0", "--untagged"]);
    assert_eq!(r["soft_deleted"], true);
    assert_eq!(r["total_manifests"], 1);
    reg.json(&["--as-of", "2026-02-01", "gc", "--grace", "0s"]);
    reg.json(&["--as-of", "2026-02-02", "restore", "ci/app:build-0"]);
    let digest =
        serde_json::from_str::<Value>(entry.iter().next().unwrap()).unwrap()["digest"].as_str().unwrap().to_string();
    assert_eq!(entries_of(&reg.root, "ci/app", &digest), entry);
    assert_sound(&reg.root);
}

#[test]
fn policies_are_validated_stored_and_shown() {
    let reg = Reg::new();
    let before = reg.snapshot();
    reg.wharf(&["config", "retention", "--untagged-days", "366"]).code(2).stderr_has("expected 0 to 365");
    reg.wharf(&["config", "soft-delete", "--days", "0"]).code(2).stderr_has("expected 1 to 90");
    reg.wharf(&["config", "soft-delete", "--days", "91"]).code(2).stderr_has("expected 1 to 90");
    reg.wharf(&["config", "soft-delete", "--days", "-1"]).code(2);
    assert_eq!(before, reg.snapshot());
    let r = reg.json(&["config", "retention", "--untagged-days", "0"]);
    assert_eq!((r["enabled"].clone(), r["days"].clone(), r["changed"].clone()), (true.into(), 0.into(), true.into()));
    reg.json(&["config", "soft-delete", "--days", "90"]);
    let cfg: Value = serde_json::from_slice(&std::fs::read(reg.root.join(".wharf/registry.json")).unwrap()).unwrap();
    assert_eq!(cfg["retention"]["untagged_days"], 0);
    assert_eq!(cfg["soft_delete"]["days"], 90);
    assert_eq!(reg.json(&["config", "soft-delete"])["days"], 90);
    reg.json(&["config", "soft-delete", "--disable"]);
    assert_eq!(reg.json(&["config", "soft-delete"])["enabled"], false);
    assert_eq!(reg.json(&["config", "retention"])["days"], 0);
    // A plain layout has no place for policies.
    let Some(src) = fixture("regclient/testrepo") else { return };
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("lay");
    copy_dir(&src, &layout);
    wharf_at(&layout, &["config", "retention", "--untagged-days", "3"]).code(2).stderr_has("plain OCI layout");
}

/// The soundness check the lifecycle and gc tests rely on can fail: it names a missing
/// blob of a listed closure and one that does not hash to its name, and it accepts the
/// sidecar times the builder writes (wharf lists the tag with them, as written).
#[test]
fn soundness_check_finds_missing_and_corrupt_blobs() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("app");
    let l = b.layer(&repo, "l");
    let img = b.image(&repo, "x", std::slice::from_ref(&l), None);
    let idx = b.index(&repo, std::slice::from_ref(&img));
    b.tag(&repo, "1", &idx);
    assert_sound(&reg.root);
    let tags = reg.json(&["tags", "app"]);
    assert_eq!(tags["tags"][0]["updated"], "2026-01-01T00:00:00Z", "{tags:#}");
    assert_eq!(tags["tags"][0]["created_source"], "wharf", "{tags:#}");
    let layer = repo.dir.join("blobs/sha256").join(l.digest.hex());
    std::fs::write(&layer, b"m").unwrap();
    assert_eq!(problems(&reg.root), vec![format!("app: blob {} does not hash to its name", l.digest)]);
    std::fs::remove_file(&layer).unwrap();
    assert_eq!(problems(&reg.root), vec![format!("app: blob {} is missing", l.digest)]);
}
