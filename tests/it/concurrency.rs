//! Import and gc as real, concurrent processes: an import in flight loses nothing to a gc
//! that runs while it streams, even when the blobs it relies on are ones the registry
//! holds but no repository references any more.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

fn pool_names(reg: &Reg) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(reg.root.join(".wharf/blobs/sha256"))
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn import_streaming_during_gc_loses_nothing() {
    let archive = std::fs::read(testdata("hello.oci-archive.tar")).expect("sample archive");
    let reg = Reg::new();
    // The registry holds the image's blobs, but nothing references them any more.
    reg.wharf(&["import", "--repo", "demo/old", "--tag", "1", testdata("hello.oci-archive.tar").to_str().unwrap()])
        .ok();
    reg.wharf(&["delete", "--repository", "demo/old"]).ok();
    let held = pool_names(&reg);
    assert!(!held.is_empty(), "the pool holds the image's blobs");
    let plan = reg.json(&["gc", "--dry-run", "--grace", "0s"]);
    assert_eq!(
        plan["pool"].as_array().unwrap().len(),
        held.len(),
        "without an import, gc would free them all: {plan:#}"
    );

    // An import of the same image, fed through a pipe: it has read most of the archive
    // (and relied on the registry's copies) when gc runs, and finishes after it.
    let mut import = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "--json", "import", "-", "--repo", "demo/new", "--tag", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import");
    let mut stdin = import.stdin.take().unwrap();
    let cut = archive.len() - 1024;
    stdin.write_all(&archive[..cut]).unwrap();
    stdin.flush().unwrap();
    // Give the importer time to stream what it has; a gc that starts any earlier only
    // makes the test weaker, never wrong.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let gc = reg.json(&["gc", "--grace", "0s"]);
    stdin.write_all(&archive[cut..]).unwrap();
    drop(stdin);
    let out = import.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "import failed after a concurrent gc\nstdout:\n{}\nstderr:\n{}\ngc: {gc:#}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(wharf_tags(&reg, "demo/new"), vec!["1"]);
    reg.wharf(&["verify"]).ok();
    if let Some(skopeo) = tool("skopeo") {
        let image = format!("oci:{}:1", reg.root.join("demo/new").display());
        let (code, _, err) = run_tool(&skopeo, &["inspect", &image]);
        assert_eq!(code, 0, "skopeo inspect {image}: {err}");
    }
}
