//! Interop with oras (the PyPI package, oras-py) through distribution 2.8 (issue 11): an
//! artifact made by `wharf add` and pushed by `wharf push` is pulled by oras with the same
//! files, and files oras pushes come back out of `wharf pull` + `export --format files`
//! byte-identical.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{Reg, in_ci, tool};
use super::registry_support::{Auth, Distribution};

/// `python3`, if it can import the `oras` module. Under `CI=true` a missing python3 or
/// module fails the test; elsewhere the test says it was not run and returns.
fn python_with_oras() -> Option<PathBuf> {
    let python = tool("python3")?;
    let ok = Command::new(&python)
        .args(["-c", "import oras.provider"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    match ok {
        true => Some(python),
        false if in_ci() => panic!("the python module oras is required under CI=true (python3 -m pip install oras)"),
        false => {
            eprintln!(
                "NOT RUN: the python module oras is not installed (python3 -m pip install oras); this interop check did not run"
            );
            None
        }
    }
}

/// Runs `script` (written into `dir`) with `python3` in `cwd`, asserting it succeeds.
#[track_caller]
fn run_python(python: &Path, dir: &Path, cwd: &Path, script: &str, args: &[&str]) {
    let file = dir.join("oras_step.py");
    std::fs::write(&file, script).unwrap();
    let o = Command::new(python).arg(&file).args(args).current_dir(cwd).output().expect("run python3");
    assert!(
        o.status.success(),
        "oras script failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

const ORAS_PULL: &str = r#"
import sys, oras.provider
host, target, outdir = sys.argv[1:4]
reg = oras.provider.Registry(hostname=host, insecure=True)
files = reg.pull(target=target, outdir=outdir)
print("\n".join(files))
"#;

const ORAS_PUSH: &str = r#"
import sys, oras.provider
host, target = sys.argv[1:3]
reg = oras.provider.Registry(hostname=host, insecure=True)
reg.push(target=target, files=sys.argv[3:], quiet=True)
"#;

/// The regular files of `dir`, by name.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            assert!(e.file_type().unwrap().is_file(), "{} is not a regular file", e.path().display());
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn oras_pulls_an_artifact_wharf_added_and_pushed_with_identical_files() {
    let Some(python) = python_with_oras() else { return };
    let Some(d) = Distribution::start(Auth::None) else { return };
    let reg = Reg::new();
    let src = reg.dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let bin = crate::common::pseudo_random(1, 300_000);
    let sbom = br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#.to_vec();
    assert_ne!(bin, sbom);
    std::fs::write(src.join("app.bin"), &bin).unwrap();
    std::fs::write(src.join("sbom.spdx.json"), &sbom).unwrap();
    let with_type = format!("{}:application/spdx+json", src.join("sbom.spdx.json").display());
    let added = reg.json(&[
        "add",
        "releases/app:1.0",
        src.join("app.bin").to_str().unwrap(),
        &with_type,
        "--artifact-type",
        "application/vnd.example.release.v1",
    ]);
    let digest = added["digest"].as_str().unwrap_or_else(|| panic!("no digest in {added}")).to_string();
    let pushed = reg.json(&["push", "releases/app:1.0", "--to", &d.host, "--plain-http"]);
    assert_eq!(pushed["uploaded_blobs"], 3, "two files and the empty config: {pushed}");

    // The manifest in the registry is the one wharf holds, custom media type included.
    let out = reg.dir.path().join("oras-out");
    std::fs::create_dir_all(&out).unwrap();
    run_python(
        &python,
        reg.dir.path(),
        reg.dir.path(),
        r#"
import sys, json, oras.provider
host, target, want = sys.argv[1:4]
reg = oras.provider.Registry(hostname=host, insecure=True)
m = reg.get_manifest(target)
types = {l["annotations"]["org.opencontainers.image.title"]: l["mediaType"] for l in m["layers"]}
assert types == {"app.bin": "application/octet-stream", "sbom.spdx.json": "application/spdx+json"}, types
assert m["artifactType"] == "application/vnd.example.release.v1", m
assert reg.get_manifest(target.rsplit(":", 1)[0] + "@" + want) == m
"#,
        &[&d.host, &format!("{}/releases/app:1.0", d.host), &digest],
    );
    run_python(
        &python,
        reg.dir.path(),
        reg.dir.path(),
        ORAS_PULL,
        &[&d.host, &format!("{}/releases/app:1.0", d.host), out.to_str().unwrap()],
    );
    assert_eq!(listing(&out), vec![("app.bin".to_string(), bin), ("sbom.spdx.json".to_string(), sbom)]);
    // oras pulls by digest too: the digest wharf reported is the registry's.
    let by_digest = reg.dir.path().join("oras-by-digest");
    std::fs::create_dir_all(&by_digest).unwrap();
    run_python(
        &python,
        reg.dir.path(),
        reg.dir.path(),
        ORAS_PULL,
        &[&d.host, &format!("{}/releases/app@{digest}", d.host), by_digest.to_str().unwrap()],
    );
    assert_eq!(listing(&by_digest), listing(&out));
}

#[test]
fn wharf_pulls_files_oras_pushed_and_exports_them_byte_identical() {
    let Some(python) = python_with_oras() else { return };
    let Some(d) = Distribution::start(Auth::None) else { return };
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let tool_bin = crate::common::pseudo_random(7, 200_000);
    let notes = b"release notes\n".to_vec();
    std::fs::write(src.join("tool.bin"), &tool_bin).unwrap();
    std::fs::write(src.join("NOTES.txt"), &notes).unwrap();
    // oras-py wants paths relative to its working directory. tool.bin gets oras's default
    // media type, application/vnd.oci.image.layer.v1.tar, on bytes that are not a tar: in
    // an artifact that label says nothing about the bytes, so wharf takes it as opaque.
    run_python(
        &python,
        work.path(),
        &src,
        ORAS_PUSH,
        &[&d.host, &format!("{}/drop/files:v1", d.host), "tool.bin", "NOTES.txt:text/plain"],
    );
    let reg = Reg::new();
    let p = reg.json(&["pull", "--plain-http", &format!("{}/drop/files:v1", d.host)]);
    assert!(p["downloaded_blobs"].as_u64().unwrap() >= 2, "{p}");
    reg.wharf(&["verify"]).ok();
    let out = work.path().join("out");
    reg.wharf(&["export", "drop/files:v1", "--format", "files", "-o", out.to_str().unwrap()]).ok();
    assert_eq!(listing(&out), vec![("NOTES.txt".to_string(), notes), ("tool.bin".to_string(), tool_bin)]);
}
