//! Errors as data (issue 9 §4): the `--json` error document's `kind` for each class of
//! failure a script branches on, and the typed variants a library caller matches through
//! the facade `wharf::Registry`.

use std::path::PathBuf;

use crate::common::*;

/// A registry holding hello:latest (testdata/hello.oci-archive.tar).
fn hello() -> Reg {
    let reg = Reg::new();
    reg.wharf(&["import", testdata("hello.oci-archive.tar").to_str().unwrap()]).ok();
    reg
}

/// The blob file of `digest` (`sha256:…`) in repository `repo`.
fn blob_path(root: &std::path::Path, repo: &str, digest: &str) -> PathBuf {
    root.join(repo).join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

/// hello:latest's manifest digest and its first layer's digest.
fn manifest_and_layer(reg: &Reg) -> (String, String) {
    let manifest = reg.json(&["show", "hello:latest"])["digest"].as_str().unwrap().to_string();
    let bytes = std::fs::read(blob_path(&reg.root, "hello", &manifest)).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layer = doc["layers"][0]["digest"].as_str().unwrap().to_string();
    (manifest, layer)
}

/// Runs `wharf --json ARGS`, expects exit 2, and returns the error object.
#[track_caller]
fn json_error(reg: &Reg, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let v = reg.wharf(&full).code(2).json();
    assert_eq!(v["error"]["exit_code"], 2, "{v:#}");
    v["error"].clone()
}

#[test]
fn json_error_kind_of_a_lock_refusal_names_the_command_that_lifts_it() {
    let reg = hello();
    reg.wharf(&["lock", "hello:latest"]).ok();
    let before = reg.snapshot();
    let e = json_error(&reg, &["untag", "hello:latest"]);
    assert_eq!(e["kind"], "lock_refused", "{e:#}");
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("lift it with `wharf update hello:latest --"), "{m}");
    assert!(m.contains("`wharf unlock hello:latest`"), "{m}");
    assert_eq!(before, reg.snapshot());
}

#[test]
fn json_error_kinds_of_things_not_found() {
    let reg = hello();
    let before = reg.snapshot();
    assert_eq!(json_error(&reg, &["show", "hello:nope"])["kind"], "tag_not_found");
    assert_eq!(json_error(&reg, &["tags", "nope"])["kind"], "repository_not_found");
    let e = json_error(&reg, &["restore", "hello:gone"]);
    assert_eq!(e["kind"], "not_found", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains("is not in the trash"), "{e:#}");
    assert_eq!(before, reg.snapshot());
}

#[test]
fn json_error_kind_of_a_corrupt_manifest_and_index_names_the_file() {
    let reg = hello();
    let (manifest, _) = manifest_and_layer(&reg);
    let blob = blob_path(&reg.root, "hello", &manifest);
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, b"not a manifest").unwrap();
    let e = json_error(&reg, &["show", "hello:latest"]);
    assert_eq!(e["kind"], "corrupt", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains(&blob.display().to_string()), "{e:#}");

    std::fs::write(reg.root.join("hello/index.json"), b"{ broken").unwrap();
    let e = json_error(&reg, &["tags", "hello"]);
    assert_eq!(e["kind"], "corrupt", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains("index.json"), "{e:#}");
}

#[test]
fn json_error_kind_of_a_corrupt_blob_on_export_is_digest_mismatch_naming_the_blob() {
    let reg = hello();
    let (_, layer) = manifest_and_layer(&reg);
    let blob = blob_path(&reg.root, "hello", &layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let out = reg.dir.path().join("out.tar");
    let e = json_error(&reg, &["export", "hello:latest", "-o", out.to_str().unwrap()]);
    assert_eq!(e["kind"], "digest_mismatch", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains(&blob.display().to_string()), "{e:#}");
    assert!(!out.exists(), "a failed export leaves no output");
}

#[test]
fn json_error_kind_of_a_bad_import_source_is_bad_input() {
    let reg = hello();
    let before = reg.snapshot();
    let hostile = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions/import_tar/handmade-traversal-member.tar");
    let e = json_error(&reg, &["import", hostile.to_str().unwrap()]);
    assert_eq!(e["kind"], "bad_input", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains("hostile archive"), "{e:#}");
    let junk = reg.dir.path().join("junk.tar");
    std::fs::write(&junk, b"not an archive at all").unwrap();
    let e = json_error(&reg, &["import", junk.to_str().unwrap()]);
    assert_eq!(e["kind"], "bad_input", "{e:#}");
    assert!(e["message"].as_str().unwrap().starts_with(&format!("{}: ", junk.display())), "{e:#}");
    assert_eq!(before, reg.snapshot());
}

#[test]
fn export_to_an_existing_output_is_output_exists() {
    let reg = hello();
    let out = reg.dir.path().join("there.tar");
    std::fs::write(&out, b"keep me").unwrap();
    let e = json_error(&reg, &["export", "hello:latest", "-o", out.to_str().unwrap()]);
    assert_eq!(e["kind"], "output_exists", "{e:#}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

/// A library caller matches the variant and reads the command that lifts the lock.
#[test]
fn library_caller_matches_lock_refused_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    let reg = wharf::Registry::init(dir.path().join("registry")).unwrap();
    reg.import(testdata("hello.oci-archive.tar"), &wharf::ImportOptions::default()).unwrap();
    let r: wharf::Reference = "hello:latest".parse().unwrap();
    reg.lock(&r, &wharf::LockOptions::locked()).unwrap();
    match reg.untag(&r) {
        Err(wharf::Error::LockRefused { object, attribute, lift, unlock, .. }) => {
            assert_eq!(object, "the tag hello:latest");
            assert_eq!(lift, format!("wharf update hello:latest {} true", attribute.flag()));
            assert_eq!(unlock.as_deref(), Some("wharf unlock hello:latest"));
        }
        other => panic!("expected LockRefused, got {other:?}"),
    }
    // Lifting it with what the error said makes the same call succeed.
    reg.lock(&r, &wharf::LockOptions::unlocked()).unwrap();
    reg.untag(&r).unwrap();
}

/// A digest mismatch carries the file a caller can act on (move aside, re-import).
#[test]
fn library_caller_gets_the_path_of_a_corrupt_blob() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = wharf::Registry::init(&root).unwrap();
    reg.import(testdata("hello.oci-archive.tar"), &wharf::ImportOptions::default()).unwrap();
    let manifest = reg.show(&"hello:latest".parse().unwrap()).unwrap().digest.to_string();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob_path(&root, "hello", &manifest)).unwrap()).unwrap();
    let layer = blob_path(&root, "hello", doc["layers"][0]["digest"].as_str().unwrap());
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&layer, &bytes).unwrap();
    let refs = ["hello:latest".parse().unwrap()];
    match reg.export_writer(&refs, std::io::sink(), &wharf::ExportOptions::default()) {
        Err(e @ wharf::Error::DigestMismatch { .. }) => {
            assert_eq!(e.kind(), "digest_mismatch");
            let wharf::Error::DigestMismatch { path, .. } = e else { unreachable!() };
            assert_eq!(path.as_deref(), Some(layer.as_path()));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

/// Issue 16 B5: an index.json over the 64 MiB wharf reads is refused by `tags` and
/// `repos` before it is read, naming the file and the limit; the registry is unchanged.
#[test]
fn oversized_index_json_is_refused_by_tags_and_repos() {
    let reg = hello();
    let index = reg.root.join("hello/index.json");
    // A sparse file: the size is refused from the file's length, nothing is read.
    let f = std::fs::OpenOptions::new().write(true).open(&index).unwrap();
    f.set_len(200 << 20).unwrap();
    drop(f);
    let before = reg.snapshot();
    let limit = (64u64 << 20).to_string();
    let e = json_error(&reg, &["tags", "hello"]);
    assert_eq!(e["kind"], "too_large", "{e:#}");
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("hello/index.json") && m.contains(&limit), "{m}");
    // `repos` lists what it can and names the repository it could not read (exit 1).
    reg.wharf(&["repos"]).code(1).stderr_has("repository hello: ").stderr_has(&limit);
    assert_eq!(before, reg.snapshot());
}

/// Issue 16 B5: large unknown fields in index.json (top level, an entry, an entry's
/// platform) are read without a tree, listed through, and written back byte for byte
/// when wharf rewrites index.json.
#[test]
fn large_unknown_index_fields_are_kept_verbatim_through_a_rewrite() {
    let reg = hello();
    let index = reg.root.join("hello/index.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
    v["manifests"][0]["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
    let text = serde_json::to_string(&v).unwrap();
    // Unknown values as text with unusual spacing and number forms, 8 MiB of `0,` in one.
    let zeros = format!("[{}0]", "0,".repeat(4 << 20));
    let entry_field = r#"{"k" : [1.50, 2e3 ,"x"]}"#;
    let platform_field = r#"[ true,null ]"#;
    let text = text
        .replacen(r#""schemaVersion":2"#, &format!(r#""schemaVersion":2,"x-top":{zeros}"#), 1)
        .replacen(r#""architecture":"amd64""#, &format!(r#""architecture":"amd64","x-plat":{platform_field}"#), 1)
        .replacen(r#""size":"#, &format!(r#""x-entry":{entry_field},"size":"#), 1);
    std::fs::write(&index, &text).unwrap();
    assert_eq!(wharf_tags(&reg, "hello"), vec!["latest".to_string()]);
    assert!(reg.json(&["repos"]).to_string().contains("hello"));
    reg.wharf(&["tag", "hello:latest", "hello:copy"]).ok();
    let written = String::from_utf8(std::fs::read(&index).unwrap()).unwrap();
    assert!(written.contains(&format!(r#""x-top": {zeros}"#)), "top-level field not kept verbatim");
    assert_eq!(
        written.matches(&format!(r#""x-entry": {entry_field}"#)).count(),
        2,
        "{}",
        &written[written.len().saturating_sub(2000)..]
    );
    assert_eq!(written.matches(&format!(r#""x-plat": {platform_field}"#)).count(), 2);
    let mut tags = wharf_tags(&reg, "hello");
    tags.sort();
    assert_eq!(tags, vec!["copy".to_string(), "latest".to_string()]);
}
