//! Interop: after wharf changes a repository, the real skopeo and umoci see exactly the
//! tags `wharf tags` lists (and nothing wharf untagged); layouts umoci and skopeo made
//! are adopted and listed as those tools list them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

struct Tools {
    skopeo: PathBuf,
    umoci: PathBuf,
}

fn tools() -> Option<Tools> {
    Some(Tools { skopeo: tool("skopeo")?, umoci: tool("umoci")? })
}

#[track_caller]
fn ok_tool(program: &Path, args: &[&str]) -> String {
    let (code, out, err) = run_tool(program, args);
    assert_eq!(code, 0, "{} {args:?} failed:\n{out}\n{err}", program.display());
    out
}

/// A layout made by umoci: t1 (a new image with one inserted file), t2 (t1's config
/// changed), t3 (t1 unpacked and repacked with another file).
fn umoci_layout(t: &Tools, dir: &Path) -> PathBuf {
    let layout = dir.join("umoci-layout");
    let l = layout.to_str().unwrap();
    let work = dir.join("umoci-work");
    std::fs::create_dir_all(&work).unwrap();
    let file = work.join("hello.txt");
    std::fs::write(&file, b"hello from umoci\n").unwrap();
    ok_tool(&t.umoci, &["init", "--layout", l]);
    ok_tool(&t.umoci, &["new", "--image", &format!("{l}:t1")]);
    ok_tool(&t.umoci, &["insert", "--rootless", "--image", &format!("{l}:t1"), file.to_str().unwrap(), "/hello.txt"]);
    ok_tool(&t.umoci, &["config", "--image", &format!("{l}:t1"), "--tag", "t2", "--config.env", "A=1"]);
    let bundle = work.join("bundle");
    ok_tool(&t.umoci, &["unpack", "--rootless", "--image", &format!("{l}:t1"), bundle.to_str().unwrap()]);
    std::fs::write(bundle.join("rootfs/extra.txt"), b"repacked\n").unwrap();
    ok_tool(&t.umoci, &["repack", "--image", &format!("{l}:t3"), bundle.to_str().unwrap()]);
    layout
}

/// Tag → digest as wharf lists them.
fn wharf_view(reg_root: &Path, repo: &str) -> BTreeMap<String, String> {
    let r = wharf_at(reg_root, &["--json", "tags", repo]).ok().json();
    r["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["digest"].as_str().unwrap().to_string()))
        .collect()
}

/// Tag → digest as umoci (the tag list) and skopeo (each tag's digest) see them; each
/// tag must also be readable by `umoci stat`.
fn foreign_view(t: &Tools, dir: &Path) -> BTreeMap<String, String> {
    let d = dir.to_str().unwrap();
    let tags = ok_tool(&t.umoci, &["ls", "--layout", d]);
    tags.lines()
        .filter(|l| !l.is_empty())
        .map(|tag| {
            let inspect: Value =
                serde_json::from_str(&ok_tool(&t.skopeo, &["inspect", &format!("oci:{d}:{tag}")])).unwrap();
            ok_tool(&t.umoci, &["stat", "--image", &format!("{d}:{tag}")]);
            (tag.to_string(), inspect["Digest"].as_str().unwrap().to_string())
        })
        .collect()
}

#[track_caller]
fn assert_agree(t: &Tools, reg_root: &Path, repo: &str, repo_dir: &Path, want_tags: &[&str]) {
    let wharf = wharf_view(reg_root, repo);
    assert_eq!(wharf.keys().map(String::as_str).collect::<Vec<_>>(), want_tags, "wharf tags");
    assert_eq!(foreign_view(t, repo_dir), wharf, "skopeo/umoci see what wharf lists");
}

#[track_caller]
fn assert_gone(t: &Tools, dir: &Path, tag: &str) {
    let d = dir.to_str().unwrap();
    let (code, _, _) = run_tool(&t.skopeo, &["inspect", &format!("oci:{d}:{tag}")]);
    assert_ne!(code, 0, "skopeo still sees {tag}");
    let (code, _, _) = run_tool(&t.umoci, &["stat", "--image", &format!("{d}:{tag}")]);
    assert_ne!(code, 0, "umoci still sees {tag}");
}

#[test]
fn foreign_tools_see_what_wharf_lists_after_each_change() {
    let Some(t) = tools() else { return };
    let reg = Reg::new();
    let layout = umoci_layout(&t, reg.dir.path());
    let repo_dir = reg.adopt_layout(&layout, "team/app");
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["t1", "t2", "t3"]);

    // A new tag on an existing manifest.
    reg.json(&["tag", "team/app:t1", "team/app:extra"]);
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["extra", "t1", "t2", "t3"]);
    // A tag moved: the old manifest stays, untagged, invisible to the tools by tag.
    let moved = reg.json(&["tag", "team/app:t2", "team/app:t1", "--force"]);
    assert_eq!(moved["change"], "moved");
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["extra", "t1", "t2", "t3"]);
    // Untag: gone for everyone.
    reg.json(&["untag", "team/app:extra"]);
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["t1", "t2", "t3"]);
    assert_gone(&t, &repo_dir, "extra");
    reg.json(&["untag", "team/app:t3"]);
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["t1", "t2"]);
    assert_gone(&t, &repo_dir, "t3");
    // Locks live in the sidecar: index.json is untouched and the tools see the same.
    let index_before = std::fs::read(repo_dir.join("index.json")).unwrap();
    reg.json(&["lock", "team/app:t1"]);
    reg.json(&["lock", "team/app"]);
    assert_eq!(index_before, std::fs::read(repo_dir.join("index.json")).unwrap());
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["t1", "t2"]);
    reg.wharf(&["untag", "team/app:t1"]).code(2).stderr_has("is locked");
    assert_agree(&t, &reg.root, "team/app", &repo_dir, &["t1", "t2"]);

    // skopeo copies what wharf tagged, bit for bit.
    let other = reg.dir.path().join("other");
    let d = repo_dir.to_str().unwrap();
    ok_tool(&t.skopeo, &["copy", &format!("oci:{d}:t1"), &format!("oci:{}:t1", other.display())]);
    let copied: Value =
        serde_json::from_str(&ok_tool(&t.skopeo, &["inspect", &format!("oci:{}:t1", other.display())])).unwrap();
    assert_eq!(copied["Digest"].as_str().unwrap(), wharf_view(&reg.root, "team/app")["t1"]);

    // umoci gc keeps what wharf keeps untagged (every index.json entry is a root).
    let untagged: Vec<String> = reg.json(&["manifests", "team/app"])["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["tags"].as_array().unwrap().is_empty())
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(untagged.len(), 2, "old t1 and t3 stay, untagged");
    ok_tool(&t.umoci, &["gc", "--layout", d]);
    for u in &untagged {
        reg.json(&["show", &format!("team/app@{u}")]);
    }
}

#[test]
fn a_repository_wharf_creates_is_read_by_foreign_tools() {
    let Some(t) = tools() else { return };
    let reg = Reg::new();
    let layout = umoci_layout(&t, reg.dir.path());
    reg.adopt_layout(&layout, "src");
    reg.json(&["tag", "src:t3", "mirror/app:v1"]);
    reg.json(&["tag", "src:t2", "mirror/app:v2"]);
    let dir = reg.root.join("mirror/app");
    assert_agree(&t, &reg.root, "mirror/app", &dir, &["v1", "v2"]);
    assert_eq!(wharf_view(&reg.root, "mirror/app")["v1"], wharf_view(&reg.root, "src")["t3"]);
    let out = reg.dir.path().join("out.tar");
    ok_tool(&t.skopeo, &["copy", &format!("oci:{}:v1", dir.display()), &format!("oci-archive:{}", out.display())]);
    // The blobs are shared with the source repository through the pool.
    let layer_inode = |repo: &str, tag: &str| -> u64 {
        let s = reg.json(&["show", &format!("{repo}:{tag}")]);
        let c = s["children"].as_array().unwrap().iter().find(|c| c["role"] == "layer").unwrap()["digest"].clone();
        let p = reg.root.join(repo).join("blobs/sha256").join(c.as_str().unwrap().trim_start_matches("sha256:"));
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap())
    };
    assert_eq!(layer_inode("src", "t3"), layer_inode("mirror/app", "v1"));
}

#[test]
fn umoci_and_skopeo_layouts_are_adopted_and_listed() {
    let Some(t) = tools() else { return };
    let reg = Reg::new();
    let layout = umoci_layout(&t, reg.dir.path());
    let l = layout.display().to_string();
    // skopeo writes layouts straight into the registry: oci: → oci:, and via an oci-archive.
    std::fs::create_dir_all(reg.root.join("skopeo")).unwrap();
    let sk = reg.root.join("skopeo/copied");
    ok_tool(&t.skopeo, &["copy", &format!("oci:{l}:t1"), &format!("oci:{}:c1", sk.display())]);
    ok_tool(&t.skopeo, &["copy", &format!("oci:{l}:t2"), &format!("oci:{}:c2", sk.display())]);
    let archive = reg.dir.path().join("a.tar");
    ok_tool(&t.skopeo, &["copy", &format!("oci:{l}:t3"), &format!("oci-archive:{}:ar", archive.display())]);
    let ar = reg.root.join("skopeo/from-archive");
    ok_tool(&t.skopeo, &["copy", &format!("oci-archive:{}", archive.display()), &format!("oci:{}:x", ar.display())]);
    let um = reg.adopt_layout(&layout, "umoci/made");

    let repos: Vec<String> = reg.json(&["repos"])["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(repos, vec!["skopeo/copied", "skopeo/from-archive", "umoci/made"]);
    assert_agree(&t, &reg.root, "skopeo/copied", &sk, &["c1", "c2"]);
    assert_agree(&t, &reg.root, "skopeo/from-archive", &ar, &["x"]);
    assert_agree(&t, &reg.root, "umoci/made", &um, &["t1", "t2", "t3"]);
    // Registry times are when wharf first saw the layouts; the image's build time comes
    // from the config umoci wrote, as does the platform.
    let s = reg.json(&["show", "umoci/made:t1"]);
    assert_eq!(s["created_source"], "observed");
    let config_created = {
        let cfg = s["children"].as_array().unwrap().iter().find(|c| c["role"] == "config").unwrap()["digest"].clone();
        let p = um.join("blobs/sha256").join(cfg.as_str().unwrap().trim_start_matches("sha256:"));
        let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["created"].as_str().unwrap().to_string()
    };
    assert_eq!(s["image_created"].as_str().unwrap()[..19], config_created[..19]);
    assert_eq!(s["platforms"].as_array().unwrap().len(), 1);
    assert_eq!(reg.json(&["show", "skopeo/from-archive:x"])["digest"], reg.json(&["show", "umoci/made:t3"])["digest"]);
    // Every other command works on them too.
    assert_eq!(reg.json(&["referrers", "umoci/made:t1"])["referrers"], serde_json::json!([]));
    assert_eq!(reg.json(&["manifests", "skopeo/copied", "--top", "1"])["manifests"].as_array().unwrap().len(), 1);
    reg.json(&["lock", "skopeo/copied:c1"]);
    reg.wharf(&["untag", "skopeo/copied:c1"]).code(2).stderr_has("is locked");
    reg.json(&["unlock", "skopeo/copied:c1"]);
    reg.json(&["update", "skopeo/from-archive", "--list-enabled", "false"]);
    assert_eq!(reg.json(&["repos"])["repositories"].as_array().unwrap().len(), 2);
    reg.json(&["tag", "skopeo/copied:c1", "skopeo/from-archive:y"]);
    reg.json(&["untag", "skopeo/copied:c1"]);
    assert_agree(&t, &reg.root, "skopeo/copied", &sk, &["c2"]);
    assert_agree(&t, &reg.root, "skopeo/from-archive", &ar, &["x", "y"]);
}

#[test]
fn umoci_layout_used_directly_as_a_registry() {
    let Some(t) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let layout = umoci_layout(&t, dir.path());
    let before = snapshot(&layout);
    let repo =
        wharf_at(&layout, &["--json", "repos"]).ok().json()["repositories"][0]["name"].as_str().unwrap().to_string();
    assert_eq!(repo, "umoci-layout");
    assert_agree(&t, &layout, &repo, &layout, &["t1", "t2", "t3"]);
    assert_eq!(before, snapshot(&layout), "reading a plain layout writes nothing");
    wharf_at(&layout, &["untag", "umoci-layout:t2"]).ok();
    assert_agree(&t, &layout, &repo, &layout, &["t1", "t3"]);
    assert_gone(&t, &layout, "t2");
    // umoci still manages the layout wharf wrote into (its .wharf/ and sidecar included).
    ok_tool(&t.umoci, &["gc", "--layout", layout.to_str().unwrap()]);
    ok_tool(
        &t.umoci,
        &["config", "--image", &format!("{}:t1", layout.display()), "--tag", "t4", "--config.env", "B=2"],
    );
    assert_agree(&t, &layout, &repo, &layout, &["t1", "t3", "t4"]);
    // A foreign removal is followed too (locks are wharf's, not umoci's).
    wharf_at(&layout, &["lock", "umoci-layout:t3"]).ok();
    ok_tool(&t.umoci, &["rm", "--image", &format!("{}:t3", layout.display())]);
    assert_agree(&t, &layout, &repo, &layout, &["t1", "t4"]);
    let m = wharf_at(&layout, &["--json", "manifests", "umoci-layout"]).ok().json();
    assert!(m["manifests"].as_array().unwrap().iter().all(|m| !m["tags"].as_array().unwrap().contains(&"t3".into())));
}

#[test]
fn regclient_fixture_tags_agree_with_umoci() {
    let Some(t) = tools() else { return };
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    let dir = reg.adopt_layout(&src, "testrepo");
    let listed = ok_tool(&t.umoci, &["ls", "--layout", dir.to_str().unwrap()]);
    let mut umoci_tags: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
    umoci_tags.sort();
    umoci_tags.dedup();
    let wharf = wharf_view(&reg.root, "testrepo");
    assert_eq!(wharf.keys().map(String::as_str).collect::<Vec<_>>(), umoci_tags);
    // After wharf untags an image tag, umoci no longer lists it; skopeo agrees on v1.
    reg.json(&["untag", "testrepo:b3"]);
    let listed = ok_tool(&t.umoci, &["ls", "--layout", dir.to_str().unwrap()]);
    assert!(!listed.lines().any(|l| l == "b3"));
    let d = dir.to_str().unwrap();
    let v1: Value = serde_json::from_str(&ok_tool(&t.skopeo, &["inspect", "--raw", &format!("oci:{d}:v1")])).unwrap();
    assert_eq!(v1["mediaType"], "application/vnd.oci.image.index.v1+json");
    let (code, _, _) = run_tool(&t.skopeo, &["inspect", "--raw", &format!("oci:{d}:b3")]);
    assert_ne!(code, 0);
}

#[test]
fn fresh_tags_of_reproducible_images_are_not_purged_as_old() {
    // Regression (issue 8, defect 17): a tag skopeo had just written, of an image whose
    // config says `created: 1970` (buildah --timestamp 0, ko, nix, bazel, jib), was
    // dated 1970 and `purge --ago 30d` deleted it at once. Registry times now come from
    // registry events only; the build time is shown as image_created.
    let Some(skopeo) = tool("skopeo") else { return };
    let reg = Reg::new();
    let src = tempfile::tempdir().unwrap();
    let lay = src.path().join("build");
    let mut h = crate::foundation::Hand::new(&lay);
    let img = h.image("reproducible", Some("1970-01-01T00:00:00Z"));
    h.entry(&img, crate::foundation::OCI_MANIFEST, Some("v1"), None);
    let archive = src.path().join("repro.tar");
    ok_tool(&skopeo, &["copy", &format!("oci:{}:v1", lay.display()), &format!("oci-archive:{}", archive.display())]);
    std::fs::create_dir_all(reg.root.join("team")).unwrap();
    let dest = reg.root.join("team/repro");
    ok_tool(
        &skopeo,
        &["copy", &format!("oci-archive:{}", archive.display()), &format!("oci:{}:latest", dest.display())],
    );
    let before = reg.snapshot();
    let dry = reg.json(&["purge", "--dry-run", "--ago", "30d", "--filter", "team/repro:.*"]);
    assert_eq!(dry["total_tags"], 0, "{dry}");
    assert_eq!(before, reg.snapshot(), "a dry run writes nothing");
    let p = reg.json(&["purge", "--ago", "30d", "--untagged", "--filter", "team/repro:.*"]);
    assert_eq!((p["total_tags"].as_u64(), p["total_manifests"].as_u64()), (Some(0), Some(0)), "{p}");
    assert_eq!(wharf_tags(&reg, "team/repro"), vec!["latest"]);
    let t = reg.json(&["tags", "team/repro"]);
    assert_eq!(t["tags"][0]["created_source"], "observed");
    assert_eq!(t["tags"][0]["image_created"], "1970-01-01T00:00:00Z");
    assert!(t["tags"][0]["updated"].as_str().unwrap() > "2026-01-01", "dated when wharf saw it: {t}");
    let s = reg.json(&["show", "team/repro:latest"]);
    assert_eq!(s["image_created"], "1970-01-01T00:00:00Z");
    let m = reg.json(&["manifests", "team/repro"]);
    assert_eq!(m["manifests"][0]["image_created"], "1970-01-01T00:00:00Z");
    let human = reg.wharf(&["show", "team/repro:latest"]).ok().stdout;
    assert!(human.contains("image created: 1970-01-01T00:00:00Z"), "{human}");
    // The tag still ages by registry time: 31 days on, the same purge takes it.
    let later = reg.json(&[
        "--as-of",
        "2099-01-01T00:00:00Z",
        "purge",
        "--dry-run",
        "--ago",
        "30d",
        "--filter",
        "team/repro:.*",
    ]);
    assert_eq!(later["total_tags"], 1, "{later}");
}
