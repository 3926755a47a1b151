//! `wharf export`: the three formats read by skopeo and umoci, blobs byte-identical,
//! several references in one archive, the round trip import(export(x)), and refusals.

use serde_json::Value;

use crate::common::*;
use crate::shapes::*;

fn setup() -> Option<Reg> {
    let base = fixture("")?;
    tool("skopeo")?;
    let reg = Reg::new();
    reg.json(&["import", "--repo", "testrepo", base.join("regclient/testrepo").to_str().unwrap()]);
    reg.json(&["import", base.join("containers-image/almostempty.tar").to_str().unwrap()]);
    reg.json(&["import", base.join("go-containerregistry/test_link.tar").to_str().unwrap()]);
    Some(reg)
}

fn tag_digest(reg: &Reg, repo: &str, tag: &str) -> String {
    let tags = reg.json(&["tags", repo]);
    tags["tags"].as_array().unwrap().iter().find(|t| t["name"] == tag).unwrap()["digest"].as_str().unwrap().to_string()
}

#[test]
fn oci_archive_round_trip_keeps_digests_and_bytes() {
    let Some(reg) = setup() else { return };
    let out = reg.dir.path().join("out.tar");
    let r = reg.json(&["export", "testrepo:v1", "testrepo:b1", "emptyimage:latest", "-o", out.to_str().unwrap()]);
    assert_eq!(r["images"].as_array().unwrap().len(), 3);
    let skopeo = tool("skopeo").unwrap();
    for name in ["testrepo:v1", "emptyimage:latest"] {
        let (code, _, err) = run_tool(&skopeo, &["inspect", "--raw", &format!("oci-archive:{}:{name}", out.display())]);
        assert_eq!(code, 0, "{name}: {err}");
    }
    let back = Reg::new();
    let r = back.json(&["import", out.to_str().unwrap()]);
    assert_eq!(r["manifests"], 3);
    for (repo, tag) in [("testrepo", "v1"), ("testrepo", "b1"), ("emptyimage", "latest")] {
        assert_eq!(tag_digest(&back, repo, tag), tag_digest(&reg, repo, tag), "{repo}:{tag}");
    }
    for e in std::fs::read_dir(back.root.join("testrepo/blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let orig = reg.root.join("testrepo/blobs/sha256").join(e.file_name());
        assert_eq!(std::fs::read(e.path()).unwrap(), std::fs::read(orig).unwrap(), "byte-identical blob");
    }
}

#[test]
fn docker_archive_is_read_by_skopeo_and_round_trips() {
    let Some(reg) = setup() else { return };
    let out = reg.dir.path().join("d.tar");
    reg.json(&[
        "export",
        "--format",
        "docker-archive",
        "emptyimage:latest",
        "bazel/v1/tarball:test_image_1",
        "bazel/v1/tarball:test_image_3",
        "-o",
        out.to_str().unwrap(),
    ]);
    let skopeo = tool("skopeo").unwrap();
    let dst = reg.dir.path().join("via-skopeo");
    let (code, _, err) = run_tool(
        &skopeo,
        &[
            "copy",
            &format!("docker-archive:{}:bazel/v1/tarball:test_image_3", out.display()),
            &format!("oci:{}:x", dst.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let back = Reg::new();
    back.json(&["import", out.to_str().unwrap()]);
    for (repo, tag) in [("emptyimage", "latest"), ("bazel/v1/tarball", "test_image_3")] {
        assert_eq!(tag_digest(&back, repo, tag), tag_digest(&reg, repo, tag), "{repo}:{tag}");
    }
    // A multi-platform index has no docker-archive form; one platform of it does.
    let before = snapshot(reg.dir.path());
    let out2 = reg.dir.path().join("d2.tar");
    let run = reg.wharf(&["export", "--format", "docker-archive", "testrepo:v1", "-o", out2.to_str().unwrap()]).code(2);
    let run = run.stderr_has("multi-platform index");
    assert_eq!(before, snapshot(reg.dir.path()));
    let child = run.stderr.split("export one of ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    reg.json(&["export", "--format", "docker-archive", &child, "-o", out2.to_str().unwrap()]);
    let (code, _, err) = run_tool(&skopeo, &["inspect", &format!("docker-archive:{}", out2.display())]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn oci_layout_is_read_by_umoci_and_skopeo() {
    let Some(reg) = setup() else { return };
    let Some(umoci) = tool("umoci") else { return };
    let out = reg.dir.path().join("layout");
    reg.json(&["export", "--format", "oci-layout", "emptyimage:latest", "-o", out.to_str().unwrap()]);
    let (code, _, err) = run_tool(&umoci, &["stat", "--image", &format!("{}:emptyimage:latest", out.display())]);
    assert_eq!(code, 0, "{err}");
    let idx: Value = serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "emptyimage:latest");
    for e in std::fs::read_dir(out.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        assert_eq!(sha(&std::fs::read(e.path()).unwrap()), format!("sha256:{}", e.file_name().to_string_lossy()));
    }
    // An existing output is never overwritten.
    reg.wharf(&["export", "--format", "oci-layout", "emptyimage:latest", "-o", out.to_str().unwrap()])
        .code(2)
        .stderr_has("already exists");
}

#[test]
fn read_lock_refuses_export() {
    let Some(reg) = setup() else { return };
    let meta_path = reg.root.join("emptyimage/wharf-meta.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["tags"]["latest"]["locks"] = serde_json::json!({"read_enabled": false});
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let before = snapshot(reg.dir.path());
    let out = reg.dir.path().join("x.tar");
    reg.wharf(&["export", "emptyimage:latest", "-o", out.to_str().unwrap()]).code(2).stderr_has("read_enabled = false");
    assert_eq!(before, snapshot(reg.dir.path()), "nothing written");
    // One platform of a read-locked index is refused too.
    let meta_path = reg.root.join("testrepo/wharf-meta.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["tags"]["b1"]["locks"] = serde_json::json!({"read_enabled": false});
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let b1 = tag_digest(&reg, "testrepo", "b1");
    let index: Value =
        serde_json::from_slice(&std::fs::read(reg.root.join("testrepo/blobs/sha256").join(&b1[7..])).unwrap()).unwrap();
    let child = format!("testrepo@{}", index["manifests"][0]["digest"].as_str().unwrap());
    let before = snapshot(reg.dir.path());
    reg.wharf(&["export", &child, "-o", out.to_str().unwrap()])
        .code(2)
        .stderr_has("testrepo:b1 has read_enabled = false");
    assert_eq!(before, snapshot(reg.dir.path()));
}

#[test]
fn export_to_stdout_streams_the_archive() {
    let Some(reg) = setup() else { return };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "export", "emptyimage:latest", "-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = reg.dir.path().join("s.tar");
    std::fs::write(&p, &out.stdout).unwrap();
    let back = Reg::new();
    back.json(&["import", p.to_str().unwrap()]);
    assert_eq!(tag_digest(&back, "emptyimage", "latest"), tag_digest(&reg, "emptyimage", "latest"));
}

/// Under a terminal (a pty from script(1)) export draws a progress bar on stderr; piped,
/// or with -q, it draws nothing.
#[test]
fn export_shows_progress_only_on_a_terminal() {
    let Some(script) = crate::common::tool("script") else { return };
    let reg = crate::common::Reg::new();
    let archive = crate::common::testdata("hello.oci-archive.tar");
    reg.wharf(&["import", archive.to_str().unwrap()]).ok();
    let bin = env!("CARGO_BIN_EXE_wharf");
    let run = |extra: &str, out: &str| {
        let cmd = format!(
            "{bin} --root {} {extra} export hello:latest -o {}",
            reg.root.display(),
            reg.dir.path().join(out).display()
        );
        let o = std::process::Command::new(&script).args(["-qec", &cmd, "/dev/null"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(run("", "a.tar").contains("exporting"), "a terminal gets a bar");
    assert!(!run("-q", "b.tar").contains("exporting"), "-q draws no bar");
    let piped = reg.wharf(&["export", "hello:latest", "-o", reg.dir.path().join("c.tar").to_str().unwrap()]).ok();
    assert!(!piped.stderr.contains("exporting"), "{}", piped.stderr);
}
