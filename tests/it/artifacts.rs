//! Artifacts: `wharf add` (oras push), `wharf attach` (oras attach), `wharf export
//! --format files` (oras pull), referrers that travel with exports.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::*;
use crate::shapes::*;

/// Writes `files` (name → bytes) into `dir` and returns their paths.
fn files(dir: &Path, files: &[(&str, &[u8])]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(n, b)| {
            let p = dir.join(n);
            std::fs::write(&p, b).unwrap();
            p
        })
        .collect()
}

fn blob(reg: &Reg, repo: &str, digest: &str) -> Vec<u8> {
    std::fs::read(reg.root.join(repo).join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
}

fn manifest(reg: &Reg, repo: &str, digest: &str) -> Value {
    serde_json::from_slice(&blob(reg, repo, digest)).unwrap()
}

#[test]
fn add_then_export_files_gives_the_files_back_byte_identical() {
    let reg = Reg::new();
    let bin = pseudo_random(1, 3 << 20);
    let src = reg.dir.path().join("src");
    let p = files(
        &src,
        &[
            ("app-linux-amd64", &bin),
            ("LICENSE", b"Apache-2.0\n"),
            ("sbom.spdx.json", b"{\"spdxVersion\":\"SPDX-2.3\"}"),
        ],
    );
    let r = reg.json(&[
        "add",
        "releases/app:1.0",
        p[0].to_str().unwrap(),
        p[1].to_str().unwrap(),
        &format!("{}:application/spdx+json", p[2].display()),
        "--artifact-type",
        "application/vnd.example.release.v1",
        "--annotation",
        "org.opencontainers.image.version=1.0",
    ]);
    let digest = r["digest"].as_str().unwrap().to_string();
    assert_eq!(r["change"], "created");
    let m = manifest(&reg, "releases/app", &digest);
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["artifactType"], "application/vnd.example.release.v1");
    assert_eq!(
        m["config"],
        json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2, "data": "e30="})
    );
    assert_eq!(
        blob(&reg, "releases/app", "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
        b"{}"
    );
    let layers = m["layers"].as_array().unwrap();
    let titles: Vec<&str> =
        layers.iter().map(|l| l["annotations"]["org.opencontainers.image.title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["app-linux-amd64", "LICENSE", "sbom.spdx.json"]);
    assert_eq!(layers[0]["mediaType"], "application/octet-stream");
    assert_eq!(layers[0]["digest"], sha(&bin));
    assert_eq!(layers[2]["mediaType"], "application/spdx+json");
    assert_eq!(m["annotations"], json!({"org.opencontainers.image.version": "1.0"}));
    // The pool holds one copy, the repository links to it.
    use std::os::unix::fs::MetadataExt;
    let hex = sha(&bin)[7..].to_string();
    let a = std::fs::metadata(reg.root.join(".wharf/blobs/sha256").join(&hex)).unwrap();
    let b = std::fs::metadata(reg.root.join("releases/app/blobs/sha256").join(&hex)).unwrap();
    assert_eq!(a.ino(), b.ino());

    let out = reg.dir.path().join("out");
    let r = reg.json(&["export", "releases/app:1.0", "--format", "files", "-o", out.to_str().unwrap()]);
    assert_eq!(r["files"].as_array().unwrap().len(), 3);
    for (name, src) in [("app-linux-amd64", &p[0]), ("LICENSE", &p[1]), ("sbom.spdx.json", &p[2])] {
        assert_eq!(std::fs::read(out.join(name)).unwrap(), std::fs::read(src).unwrap(), "{name}");
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["LICENSE", "app-linux-amd64", "sbom.spdx.json"], "no temp file left");
    assert_sound_registry(&reg);
}

fn assert_sound_registry(reg: &Reg) {
    let v = reg.wharf(&["--json", "verify"]).ok().json();
    assert_eq!(v["counts"]["errors"], 0, "{v}");
    assert_eq!(v["counts"]["warnings"], 0, "{v}");
}

#[test]
fn add_is_deterministic_and_moves_a_tag_only_with_force() {
    let a = Reg::new();
    let b = Reg::new();
    let p = files(&a.dir.path().join("f"), &[("notes.txt", b"hello")]);
    let arg = p[0].to_str().unwrap();
    let da = a.json(&["add", "x:1", arg, "--annotation", "b=2", "--annotation", "a=1"])["digest"].clone();
    let db = b.json(&["add", "x:1", arg, "--annotation", "a=1", "--annotation", "b=2"])["digest"].clone();
    assert_eq!(da, db, "same files and annotations give the same manifest digest");
    // Adding the same again leaves the tag unchanged.
    assert_eq!(a.json(&["add", "x:1", arg, "--annotation", "b=2", "--annotation", "a=1"])["change"], "unchanged");
    // Different content under the same tag: refused without --force, registry unchanged.
    let q = files(&a.dir.path().join("g"), &[("notes.txt", b"other")]);
    let before = a.snapshot();
    a.wharf(&["add", "x:1", q[0].to_str().unwrap()]).code(2).stderr_has("--force");
    assert_eq!(a.snapshot(), before);
    let r = a.json(&["add", "x:1", q[0].to_str().unwrap(), "--force"]);
    assert_eq!(r["change"], "moved");
    // A repository with write disabled refuses, byte-identical.
    a.wharf(&["update", "x", "--write-enabled", "false"]).ok();
    let before = a.snapshot();
    a.wharf(&["add", "x:2", arg]).code(2).stderr_has("write_enabled");
    assert_eq!(a.snapshot(), before);
    // A missing file: exit 2, nothing changed.
    a.wharf(&["add", "y:1", "/nonexistent/file"]).code(2);
    assert_eq!(a.snapshot(), before);
    // Two files with one base name cannot be pulled apart: refused.
    let d1 = files(&a.dir.path().join("d1"), &[("same", b"1")]);
    let d2 = files(&a.dir.path().join("d2"), &[("same", b"2")]);
    a.wharf(&["add", "y:1", d1[0].to_str().unwrap(), d2[0].to_str().unwrap()]).code(2).stderr_has("titled `same`");
    assert_eq!(a.snapshot(), before);
}

#[test]
fn file_argument_with_colons_in_the_path() {
    let reg = Reg::new();
    let dir = reg.dir.path().join("f");
    let p = files(&dir, &[("a:b", b"colon"), ("c", b"plain")]);
    let r = reg.json(&["add", "x:1", p[0].to_str().unwrap(), &format!("{}:text/plain", p[1].display())]);
    let fs = r["files"].as_array().unwrap();
    assert_eq!(fs[0]["title"], "a:b");
    assert_eq!(fs[0]["media_type"], "application/octet-stream");
    assert_eq!(fs[1]["title"], "c");
    assert_eq!(fs[1]["media_type"], "text/plain");
}

/// An image to attach things to.
fn with_image() -> Option<Reg> {
    let base = fixture("containers-image/almostempty.tar")?;
    let reg = Reg::new();
    reg.json(&["import", base.to_str().unwrap()]);
    Some(reg)
}

#[test]
fn attach_lists_referrers_and_they_travel_with_the_subject() {
    let Some(reg) = with_image() else { return };
    let p = files(&reg.dir.path().join("f"), &[("sbom.json", b"{\"sbom\":true}"), ("sbom.sig", b"signature")]);
    let subject = reg.json(&["tags", "emptyimage"])["tags"][0]["digest"].as_str().unwrap().to_string();
    let sbom = reg.json(&[
        "attach",
        "emptyimage:latest",
        &format!("{}:application/spdx+json", p[0].display()),
        "--artifact-type",
        "application/spdx+json",
    ]);
    let sbom_digest = sbom["digest"].as_str().unwrap().to_string();
    let m = manifest(&reg, "emptyimage", &sbom_digest);
    assert_eq!(m["subject"]["digest"], subject.as_str());
    assert_eq!(m["subject"]["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    // A signature of the SBOM.
    let sig = reg.json(&[
        "attach",
        &format!("emptyimage@{sbom_digest}"),
        p[1].to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.sig",
    ]);
    let sig_digest = sig["digest"].as_str().unwrap().to_string();
    let refs = reg.json(&["referrers", "emptyimage:latest"]);
    let list = refs["referrers"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], sbom_digest.as_str());
    assert_eq!(list[0]["artifact_type"], "application/spdx+json");
    // Untagged: no tag was added.
    assert_eq!(wharf_tags(&reg, "emptyimage"), ["latest"]);
    // Exporting the subject brings both, recursively; import on a fresh root keeps them.
    let out = reg.dir.path().join("img.tar");
    let r = reg.json(&["export", "emptyimage:latest", "-o", out.to_str().unwrap()]);
    assert_eq!(r["referrers"].as_array().unwrap().len(), 2);
    let back = Reg::new();
    back.json(&["import", out.to_str().unwrap()]);
    assert_eq!(wharf_tags(&back, "emptyimage"), ["latest"]);
    let refs = back.json(&["referrers", "emptyimage:latest"]);
    assert_eq!(refs["referrers"][0]["digest"], sbom_digest.as_str());
    let refs = back.json(&["referrers", &format!("emptyimage@{sbom_digest}")]);
    assert_eq!(refs["referrers"][0]["digest"], sig_digest.as_str());
    assert_sound_registry(&back);
    // --no-referrers leaves them out.
    let out2 = reg.dir.path().join("bare.tar");
    let r = reg.json(&["export", "emptyimage:latest", "--no-referrers", "-o", out2.to_str().unwrap()]);
    assert!(r["referrers"].as_array().unwrap().is_empty());
    let bare = Reg::new();
    bare.json(&["import", out2.to_str().unwrap()]);
    assert!(bare.json(&["referrers", "emptyimage:latest"])["referrers"].as_array().unwrap().is_empty());
    // skopeo reads the archive with referrers in it.
    let Some(skopeo) = tool("skopeo") else { return };
    let (code, _, err) =
        run_tool(&skopeo, &["inspect", "--raw", &format!("oci-archive:{}:emptyimage:latest", out.display())]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn attach_is_refused_by_a_write_disabled_repository_but_not_by_a_locked_tag() {
    let Some(reg) = with_image() else { return };
    let p = files(&reg.dir.path().join("f"), &[("sig", b"s")]);
    reg.wharf(&["lock", "emptyimage:latest"]).ok();
    reg.json(&[
        "attach",
        "emptyimage:latest",
        p[0].to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.sig",
    ]);
    reg.wharf(&["update", "emptyimage", "--write-enabled", "false"]).ok();
    let q = files(&reg.dir.path().join("g"), &[("sig2", b"t")]);
    let before = reg.snapshot();
    reg.wharf(&[
        "attach",
        "emptyimage:latest",
        q[0].to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.sig",
    ])
    .code(2)
    .stderr_has("the repository emptyimage has write_enabled = false");
    assert_eq!(reg.snapshot(), before);
    // Attach needs an artifact type that is a media type, and a subject that exists.
    reg.wharf(&["attach", "emptyimage:latest", q[0].to_str().unwrap()]).code(2);
    reg.wharf(&["attach", "emptyimage:nope", q[0].to_str().unwrap(), "--artifact-type", "a/b"]).code(2);
    assert_eq!(reg.snapshot(), before);
}

/// A layout whose one manifest has layers with the given titles.
fn layout_with_titles(dir: &Path, titles: &[&str]) -> PathBuf {
    let l = dir.join("hostile-layout");
    std::fs::create_dir_all(l.join("blobs/sha256")).unwrap();
    let put = |b: &[u8]| {
        std::fs::write(l.join("blobs/sha256").join(&sha(b)[7..]), b).unwrap();
        sha(b)
    };
    put(b"{}");
    let layers: Vec<Value> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let b = format!("content {i}").into_bytes();
            json!({"mediaType": "application/octet-stream", "digest": put(&b), "size": b.len(), "annotations": {"org.opencontainers.image.title": t}})
        })
        .collect();
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/x-test",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(b"{}"), "size": 2},
        "layers": layers,
    }))
    .unwrap();
    let md = put(&m);
    std::fs::write(l.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let idx = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len(), "annotations": {"org.opencontainers.image.ref.name": "1"}}]});
    std::fs::write(l.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    l
}

#[test]
fn export_files_refuses_hostile_titles_and_writes_nothing() {
    let cases: &[(&str, &[&str])] = &[
        ("traversal", &["ok.txt", "../escape"]),
        ("slash", &["ok.txt", "sub/file"]),
        ("absolute", &["/tmp/abs"]),
        ("dot dot", &[".."]),
        ("duplicate", &["same", "same"]),
    ];
    for (name, titles) in cases {
        let reg = Reg::new();
        let l = layout_with_titles(reg.dir.path(), titles);
        reg.json(&["import", "--repo", "hostile", l.to_str().unwrap()]);
        let out = reg.dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let before = snapshot(reg.dir.path());
        reg.wharf(&["export", "hostile:1", "--format", "files", "-o", out.to_str().unwrap()]).code(2);
        assert_eq!(snapshot(reg.dir.path()), before, "{name}: nothing written anywhere");
    }
}

#[test]
fn export_files_by_digest_honours_the_tags_read_lock() {
    let reg = Reg::new();
    let p = files(&reg.dir.path().join("f"), &[("a.txt", b"payload")]);
    let d = reg.json(&["add", "x:1", p[0].to_str().unwrap()])["digest"].as_str().unwrap().to_string();
    reg.wharf(&["update", "x:1", "--read-enabled", "false"]).ok();
    let out = reg.dir.path().join("out");
    // By digest, every tag on the manifest guards it: a digest is no way round a tag's
    // read lock (as for `export` in the other formats).
    for r in ["x:1".to_string(), format!("x@{d}")] {
        reg.wharf(&["export", &r, "--format", "files", "-o", out.to_str().unwrap()])
            .code(2)
            .stderr_has("the tag x:1 has read_enabled = false");
        assert!(!out.exists(), "{r}: nothing written");
    }
}

#[test]
fn export_files_never_writes_through_a_symlink_in_the_directory() {
    let reg = Reg::new();
    let p = files(&reg.dir.path().join("f"), &[("a.txt", b"payload")]);
    reg.json(&["add", "x:1", p[0].to_str().unwrap()]);
    let out = reg.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = reg.dir.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("a.txt")).unwrap();
    reg.wharf(&["export", "x:1", "--format", "files", "-o", out.to_str().unwrap()])
        .code(2)
        .stderr_has("already exists");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(std::fs::symlink_metadata(out.join("a.txt")).unwrap().file_type().is_symlink());
    // A dangling link is refused as well (O_EXCL | O_NOFOLLOW would never follow it).
    std::fs::remove_file(out.join("a.txt")).unwrap();
    std::os::unix::fs::symlink(reg.dir.path().join("nowhere"), out.join("a.txt")).unwrap();
    reg.wharf(&["export", "x:1", "--format", "files", "-o", out.to_str().unwrap()]).code(2);
    assert!(!reg.dir.path().join("nowhere").exists());
}

#[test]
fn listings_show_the_kind_and_tags_order_by_time() {
    let Some(reg) = with_image() else { return };
    let p = files(&reg.dir.path().join("f"), &[("a", b"1"), ("sbom.json", b"{}")]);
    reg.json(&["--as-of", "2026-01-03T00:00:00Z", "add", "files/app:old", p[0].to_str().unwrap()]);
    reg.json(&["--as-of", "2026-01-01T00:00:00Z", "add", "files/app:new", p[1].to_str().unwrap()]);
    reg.json(&["--as-of", "2026-01-05T00:00:00Z", "add", "files/app:old", p[1].to_str().unwrap(), "--force"]);
    reg.json(&["attach", "files/app:new", p[1].to_str().unwrap(), "--artifact-type", "application/spdx+json"]);
    let names = |v: &Value| -> Vec<String> {
        v["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&reg.json(&["tags", "files/app"])), ["new", "old"], "by name without --orderby");
    assert_eq!(names(&reg.json(&["tags", "files/app", "--orderby", "time_desc"])), ["old", "new"]);
    assert_eq!(names(&reg.json(&["tags", "files/app", "--orderby", "time_asc", "--top", "1"])), ["new"]);
    reg.wharf(&["tags", "files/app", "--orderby", "size"]).code(2);
    // KIND in repos and manifests; show reports the artifact type.
    let repos = reg.json(&["repos"]);
    let kinds = |name: &str| -> Vec<String> {
        repos["repositories"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds("emptyimage"), ["image"]);
    assert_eq!(kinds("files/app"), ["artifact", "referrer"]);
    let human = reg.wharf(&["repos"]).ok().stdout;
    assert!(human.lines().next().unwrap().contains("KIND"), "{human}");
    assert!(human.contains("artifact,referrer"), "{human}");
    let m = reg.json(&["manifests", "files/app"]);
    let mut ks: Vec<&str> = m["manifests"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap()).collect();
    ks.sort();
    assert_eq!(ks, ["artifact", "artifact", "referrer"]);
    assert!(reg.wharf(&["manifests", "files/app"]).ok().stdout.contains("referrer"));
    let s = reg.json(&["show", "files/app:new"]);
    assert_eq!(s["artifact_kind"], "artifact");
    assert_eq!(s["artifact_type"], "application/vnd.unknown.artifact.v1");
    let s = reg.json(&["show", "emptyimage:latest"]);
    assert_eq!(s["artifact_kind"], "image");
    assert!(s.get("artifact_type").is_none(), "an image has no artifact type: {s}");
}

/// oras labels a pushed file `application/vnd.oci.image.layer.v1.tar` by default,
/// whatever its bytes. In an artifact (artifactType, empty config) the layers are opaque
/// content: import and verify check their digest and size but do not judge their bytes
/// by that label; in an image the same mislabelled layer is still refused.
#[test]
fn artifact_layers_with_oras_default_media_type_are_opaque() {
    use crate::registry_support::{sha, write_layout};
    let file = b"\x7fELF not a tar at all, an installer".to_vec();
    let empty = b"{}".to_vec();
    let artifact = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.acme.installer","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2,"data":"e30="}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.title":"setup.bin"}}}}]}}"#,
        sha(&empty),
        sha(&file),
        file.len()
    )
    .into_bytes();
    let layout = tempfile::tempdir().unwrap();
    write_layout(
        layout.path(),
        &[&empty, &file],
        &[("application/vnd.oci.image.manifest.v1+json", &artifact, Some("1"))],
    );
    let reg = Reg::new();
    reg.wharf(&["import", "--repo", "tools/setup", layout.path().to_str().unwrap()]).ok();
    reg.wharf(&["verify"]).ok();
    let out = reg.dir.path().join("out");
    reg.wharf(&["export", "tools/setup:1", "--format", "files", "-o", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(out.join("setup.bin")).unwrap(), file);

    // The same bytes as a layer of an image (an image config) are refused, as before.
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha(&file)
    )
    .into_bytes();
    let image = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        sha(&config),
        config.len(),
        sha(&file),
        file.len()
    )
    .into_bytes();
    let layout2 = tempfile::tempdir().unwrap();
    write_layout(
        layout2.path(),
        &[&config, &file],
        &[("application/vnd.oci.image.manifest.v1+json", &image, Some("1"))],
    );
    let before = reg.snapshot();
    reg.wharf(&["import", "--repo", "tools/image", layout2.path().to_str().unwrap()])
        .code(2)
        .stderr_has("media_type_mismatch");
    assert_eq!(before, reg.snapshot());
}

/// Review findings on add and attach: a refusal changes nothing (a FIFO in the
/// repository's blob store is found before any blob moves); writing what is already
/// there writes nothing, so a locked repository keeps its files; a FIFO given as a file
/// is refused without blocking.
#[test]
fn add_and_attach_refuse_cleanly_and_write_nothing_when_nothing_changes() {
    use std::os::unix::fs::MetadataExt;
    let reg = Reg::new();
    let one = reg.dir.path().join("one.txt");
    std::fs::write(&one, b"one\n").unwrap();
    reg.wharf(&["add", "files/a:1", one.to_str().unwrap()]).ok();
    reg.wharf(&["attach", "files/a:1", one.to_str().unwrap(), "--artifact-type", "text/plain"]).ok();
    // Nothing new, on a write-locked repository: both succeed and write nothing.
    reg.wharf(&["lock", "files/a"]).ok();
    let index = reg.root.join("files/a/index.json");
    let meta = reg.root.join("files/a/wharf-meta.json");
    let ids = || (std::fs::metadata(&index).unwrap().ino(), std::fs::metadata(&meta).unwrap().ino());
    let before = ids();
    reg.wharf(&["add", "files/a:1", one.to_str().unwrap()]).ok();
    reg.wharf(&["attach", "files/a:1", one.to_str().unwrap(), "--artifact-type", "text/plain"]).ok();
    assert_eq!(ids(), before, "a locked repository was rewritten");
    reg.wharf(&["unlock", "files/a"]).ok();
    // A FIFO where the new blob would go: refused, and the pool gains nothing.
    let two = reg.dir.path().join("two.txt");
    std::fs::write(&two, b"two\n").unwrap();
    let hex = crate::registry_support::sha(b"two\n").trim_start_matches("sha256:").to_string();
    let fifo = reg.root.join("files/a/blobs/sha256").join(&hex);
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // (The harness's snapshot would read the FIFO; the pool listing and index.json say it.)
    let pool = || {
        let mut v: Vec<_> =
            std::fs::read_dir(reg.root.join(".wharf/blobs/sha256")).unwrap().map(|e| e.unwrap().file_name()).collect();
        v.sort();
        v
    };
    let (pool_before, index_before) = (pool(), std::fs::read(&index).unwrap());
    reg.wharf(&["add", "files/a:2", two.to_str().unwrap()]).code(2).stderr_has("FIFO");
    assert_eq!(pool(), pool_before, "the pool gained a blob");
    assert_eq!(std::fs::read(&index).unwrap(), index_before);
    std::fs::remove_file(&fifo).unwrap();
    // A FIFO named as the file to add: refused at once, not read.
    let pipe = reg.dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    reg.wharf(&["add", "files/b:1", pipe.to_str().unwrap()]).code(2).stderr_has("not a regular file");
}

/// `export --format files` is all or nothing: a corrupt later layer leaves no earlier
/// file behind in the output directory.
#[test]
fn export_files_is_all_or_nothing() {
    let reg = Reg::new();
    let (a, b) = (reg.dir.path().join("a.txt"), reg.dir.path().join("b.txt"));
    std::fs::write(&a, b"first file\n").unwrap();
    std::fs::write(&b, b"second file\n").unwrap();
    reg.wharf(&["add", "files/two:1", a.to_str().unwrap(), b.to_str().unwrap()]).ok();
    // Corrupt one blob in place (same size), as a disk fault would.
    for hex in [b"first file\n".as_slice(), b"second file\n".as_slice()]
        .map(|b| crate::registry_support::sha(b).trim_start_matches("sha256:").to_string())
    {
        for dir in [".wharf/blobs/sha256", "files/two/blobs/sha256"] {
            let p = reg.root.join(dir).join(&hex);
            let n = std::fs::metadata(&p).unwrap().len() as usize;
            std::fs::remove_file(&p).unwrap();
            std::fs::write(&p, vec![b'x'; n]).unwrap();
        }
        let out = reg.dir.path().join(format!("out-{}", &hex[..8]));
        reg.wharf(&["export", "files/two:1", "--format", "files", "-o", out.to_str().unwrap()]).code(2);
        let left: Vec<_> =
            std::fs::read_dir(&out).map(|r| r.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "a failed export left {left:?}");
    }
}

/// Issue 16 D3: `add --artifact-type` is validated as `attach` validates it (RFC 6838),
/// so neither a non-media-type, a control character nor 100 KiB gets into a manifest.
#[test]
fn add_refuses_an_artifact_type_that_is_not_a_media_type() {
    let reg = Reg::new();
    let p = files(&reg.dir.path().join("f"), &[("notes.txt", b"hello")]);
    let before = reg.snapshot();
    let long = format!("application/{}", "x".repeat(100 << 10));
    for bad in ["not a media type", "application/x\u{1b}[31m", long.as_str(), "a/", "/b"] {
        reg.wharf(&["add", "x:1", p[0].to_str().unwrap(), "--artifact-type", bad])
            .code(2)
            .stderr_has("is not a media type");
        assert_eq!(reg.snapshot(), before, "{bad:?}");
    }
    reg.json(&["add", "x:1", p[0].to_str().unwrap(), "--artifact-type", "application/vnd.example.notes"]);
}

/// Issue 16 D1: strings from outside (here a layer title and an annotation carrying a
/// terminal escape) are printed escaped by the human output of `show`, `referrers` and
/// `export --format files`; the JSON keeps them exact.
#[test]
fn terminal_escapes_are_escaped_in_human_output_only() {
    let reg = Reg::new();
    let p = files(&reg.dir.path().join("f"), &[("evil\u{1b}]0;pwned\u{7}.txt", b"hello")]);
    reg.json(&["add", "x:1", p[0].to_str().unwrap(), "--annotation", "note=\u{1b}[2Jcleared"]);
    let raw = |s: &str| s.contains('\u{1b}') || s.contains('\u{7}');
    for args in [vec!["show", "x:1"], vec!["manifests", "x"]] {
        let r = reg.wharf(&args).ok();
        assert!(!raw(&r.stdout) && !raw(&r.stderr), "{args:?} printed a raw escape:\n{}", r.stdout.escape_debug());
    }
    let out = reg.dir.path().join("files-out");
    let r = reg.wharf(&["export", "x:1", "--format", "files", "-o", out.to_str().unwrap()]);
    assert!(!raw(&r.stdout) && !raw(&r.stderr), "{}", r.stdout.escape_debug());
    let v = reg.json(&["show", "x:1"]);
    assert!(v.to_string().contains("\\u001b"), "the JSON keeps the exact string: {v}");
}
