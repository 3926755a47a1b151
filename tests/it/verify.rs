//! `wharf verify`: each case damages a layout in one way and asserts the exact findings
//! of `--json` and the exit code; sound layouts from real producers (regclient's
//! testrepo, skopeo, umoci, a Docker v2 schema 2 image) verify clean.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::*;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A blob written into a layout.
#[derive(Clone, Debug)]
struct Blob {
    digest: String,
    size: u64,
}

impl Blob {
    fn hex(&self) -> &str {
        &self.digest[7..]
    }
    fn desc(&self, media_type: &str) -> Value {
        json!({"mediaType": media_type, "digest": self.digest, "size": self.size})
    }
}

/// A hand-made OCI image layout.
struct Layout {
    dir: PathBuf,
    index: Vec<Value>,
}

/// One image of a [`Layout`].
#[derive(Clone, Debug)]
struct Image {
    manifest: Blob,
    config: Blob,
    layers: Vec<Blob>,
}

fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let l = Layout { dir: dir.to_path_buf(), index: Vec::new() };
        l.save();
        l
    }

    fn put(&self, bytes: &[u8]) -> Blob {
        let digest = sha(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&digest[7..]), bytes).unwrap();
        Blob { digest, size: bytes.len() as u64 }
    }

    fn blob_path(&self, b: &Blob) -> PathBuf {
        self.dir.join("blobs/sha256").join(b.hex())
    }

    fn save(&self) {
        let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec_pretty(&idx).unwrap()).unwrap();
    }

    /// An image with one gzip layer per entry of `files`; `docker` picks Docker v2
    /// schema 2 media types instead of OCI ones.
    fn image(&self, files: &[&str], docker: bool) -> Image {
        let (mt_manifest, mt_config, mt_layer) = if docker {
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
        } else {
            (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP)
        };
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, content) in files.iter().enumerate() {
            let tar = tar_of(&format!("file{i}"), content.as_bytes());
            diff_ids.push(sha(&tar));
            layers.push(self.put(&gzip(&tar)));
        }
        let config = json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.put(&serde_json::to_vec(&config).unwrap());
        let manifest = json!({
            "schemaVersion": 2, "mediaType": mt_manifest,
            "config": config.desc(mt_config),
            "layers": layers.iter().map(|l| l.desc(mt_layer)).collect::<Vec<_>>(),
        });
        let manifest = self.put(&serde_json::to_vec(&manifest).unwrap());
        Image { manifest, config, layers }
    }

    fn tag(&mut self, tag: &str, blob: &Blob, media_type: &str) {
        let mut d = blob.desc(media_type);
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.index.push(d);
        self.save();
    }
}

/// `wharf --json verify ARGS` against a root that is not a registry (so only PATH
/// arguments work), returning the exit code and the report.
fn verify_path(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "verify"];
    a.extend_from_slice(args);
    let run = wharf_at(Path::new("/nonexistent/wharf-root"), &a);
    assert!(run.code == 0 || run.code == 1, "exit {}\n{}\n{}", run.code, run.stdout, run.stderr);
    (run.code, run.json())
}

fn verify_reg(reg: &Reg, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "verify"];
    a.extend_from_slice(args);
    let run = reg.wharf(&a);
    assert!(run.code == 0 || run.code == 1, "exit {}\n{}\n{}", run.code, run.stdout, run.stderr);
    (run.code, run.json())
}

/// (severity, kind, repository, digest) of every finding.
fn summary(report: &Value) -> Vec<(String, String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
                f["repository"].as_str().unwrap_or("").to_string(),
                f["digest"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn s(sev: &str, kind: &str, repo: &str, digest: &str) -> (String, String, String, String) {
    (sev.into(), kind.into(), repo.into(), digest.into())
}

/// The digests along a finding's path.
fn chain(f: &Value) -> Vec<String> {
    f["path"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
}

/// A temp dir holding a layout named `img` with one tagged two-layer OCI image.
fn simple() -> (tempfile::TempDir, Layout, Image) {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("img"));
    let img = l.image(&["hello", "world"], false);
    l.tag("v1", &img.manifest, OCI_MANIFEST);
    (tmp, l, img)
}

fn dir_arg(l: &Layout) -> String {
    l.dir.display().to_string()
}

#[test]
fn clean_layout_path_verifies_without_a_registry() {
    let (_tmp, l, img) = simple();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 0);
    assert_eq!(r["findings"], json!([]));
    assert_eq!(r["hashed"], true);
    assert_eq!(r["counts"]["repositories"], 1);
    assert_eq!(r["counts"]["blobs_hashed"], 4);
    let bytes: u64 = img.layers.iter().map(|b| b.size).sum::<u64>() + img.config.size + img.manifest.size;
    assert_eq!(r["counts"]["bytes_hashed"], bytes);
    // The layout can also be the root itself.
    let run = wharf_at(&l.dir, &["verify"]).ok();
    assert!(run.stdout.contains("OK: 0 errors, 0 warnings, 0 info"), "{}", run.stdout);
}

#[test]
fn corrupt_then_restore() {
    let (_tmp, l, img) = simple();
    let layer = &img.layers[1];
    let p = l.blob_path(layer);
    let original = std::fs::read(&p).unwrap();
    let mut bad = original.clone();
    bad.push(b'!');
    std::fs::write(&p, &bad).unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(
        summary(&r),
        vec![s("error", "digest_mismatch", "img", &layer.digest), s("error", "size_mismatch", "img", &layer.digest)]
    );
    let f = &r["findings"];
    assert_eq!(f[0]["file"], format!("blobs/sha256/{}", layer.hex()));
    assert!(f[0]["message"].as_str().unwrap().contains(&sha(&bad)), "{}", f[0]["message"]);
    assert_eq!(chain(&f[1]), vec![img.manifest.digest.clone(), layer.digest.clone()]);
    assert_eq!(f[1]["path"][1]["role"], "layer");
    assert_eq!(f[1]["path"][1]["index"], 1);
    assert_eq!(f[1]["path"][0]["tag"], "v1");
    std::fs::write(&p, &original).unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!((code, &r["findings"]), (0, &json!([])));
}

#[test]
fn missing_blob_is_reported_with_its_chain() {
    let (_tmp, l, img) = simple();
    std::fs::remove_file(l.blob_path(&img.layers[0])).unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(summary(&r), vec![s("error", "missing_blob", "img", &img.layers[0].digest)]);
    assert_eq!(chain(&r["findings"][0]), vec![img.manifest.digest.clone(), img.layers[0].digest.clone()]);
}

#[test]
fn dangling_child_of_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("multi"));
    let a = l.image(&["amd64"], false);
    let b = l.image(&["arm64"], false);
    let mut da = a.manifest.desc(OCI_MANIFEST);
    da["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut db = b.manifest.desc(OCI_MANIFEST);
    db["platform"] = json!({"os": "linux", "architecture": "arm64"});
    let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [da, db]});
    let idx = l.put(&serde_json::to_vec(&idx).unwrap());
    l.tag("multi", &idx, OCI_INDEX);
    std::fs::remove_file(l.blob_path(&b.manifest)).unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    // The arm64 manifest is gone; its config and layer are left unreferenced (info).
    assert_eq!(
        summary(&r),
        vec![
            s("error", "missing_blob", "multi", &b.manifest.digest),
            s("info", "unreferenced_blob", "multi", &b.config.digest.clone().min(b.layers[0].digest.clone())),
            s("info", "unreferenced_blob", "multi", &b.config.digest.clone().max(b.layers[0].digest.clone())),
        ]
    );
    let f = &r["findings"][0];
    assert_eq!(chain(f), vec![idx.digest.clone(), b.manifest.digest.clone()]);
    assert_eq!(f["path"][1]["role"], "manifest");
    assert_eq!(f["path"][1]["index"], 1);
}

#[test]
fn tampered_manifest_with_fixed_up_size_is_caught() {
    let (_tmp, mut l, img) = simple();
    let p = l.blob_path(&img.manifest);
    let mut m: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    m["annotations"] = json!({"tampered": "yes"});
    let tampered = serde_json::to_vec(&m).unwrap();
    std::fs::write(&p, &tampered).unwrap();
    // Fix the size in index.json so that a size check alone passes (skopeo misses this).
    l.index[0]["size"] = json!(tampered.len());
    l.save();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(summary(&r), vec![s("error", "digest_mismatch", "img", &img.manifest.digest)]);
    assert_eq!(chain(&r["findings"][0]), vec![img.manifest.digest.clone()]);
    assert!(r["findings"][0]["message"].as_str().unwrap().contains(&sha(&tampered)));
    // skopeo copies it without a word: it never checks an oci: source's top manifest.
    if let Some(skopeo) = tool("skopeo") {
        let out = l.dir.parent().unwrap().join("copied");
        let (c, _, e) = run_tool(
            &skopeo,
            &["copy", "--quiet", &format!("oci:{}:v1", l.dir.display()), &format!("dir:{}", out.display())],
        );
        assert_eq!(c, 0, "skopeo now notices the tampering; update this note: {e}");
    }
}

#[test]
fn blob_under_the_wrong_name() {
    let (_tmp, l, img) = simple();
    let wrong = sha(b"some other content");
    std::fs::rename(l.blob_path(&img.config), l.dir.join("blobs/sha256").join(&wrong[7..])).unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(
        summary(&r),
        vec![s("error", "missing_blob", "img", &img.config.digest), s("error", "digest_mismatch", "img", &wrong)]
    );
    assert_eq!(r["findings"][0]["path"][1]["role"], "config");
    assert!(r["findings"][1]["message"].as_str().unwrap().contains(&img.config.digest));
}

#[test]
fn wrong_layout_version() {
    let (_tmp, l, _img) = simple();
    std::fs::write(l.dir.join("oci-layout"), br#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(summary(&r), vec![s("error", "layout_version", "img", "")]);
    assert_eq!(r["findings"][0]["file"], "oci-layout");
    assert!(r["findings"][0]["message"].as_str().unwrap().contains("`2.0.0`"));
}

#[test]
fn docker_v2_schema2_image_verifies_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("docker"));
    let img = l.image(&["a", "b", "c"], true);
    l.tag("latest", &img.manifest, DOCKER_MANIFEST);
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    // Clean: no error, no warning; only the info that OCI-only tools cannot read the
    // Docker-typed tag (issue 8, E18; DESIGN.md §1).
    assert_eq!(code, 0);
    assert_eq!(summary(&r), vec![s("info", "docker_media_type", "docker", &img.manifest.digest)]);
    assert!(r["findings"][0]["message"].as_str().unwrap().contains("tag `latest`"));
    assert_eq!(r["counts"]["documents"], 1);
}

#[test]
fn regclient_testrepo_with_artifacts_and_subjects_verifies_clean() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    let (code, r) = verify_reg(&reg, &[]);
    assert_eq!((code, &r["findings"]), (0, &json!([])));
    assert_eq!(r["counts"]["blob_files"], 91);
    // One artifact with a subject, by reference: its closure and its subject's.
    let (code, r) = verify_reg(&reg, &["testrepo:a1"]);
    assert_eq!((code, &r["findings"]), (0, &json!([])));
    assert_eq!(r["scope"], json!(["reference testrepo:a1"]));
}

#[test]
fn referrers_whose_subject_lives_elsewhere_are_info() {
    let Some(src) = fixture("regclient/external") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "external");
    let (code, r) = verify_reg(&reg, &["external"]);
    assert_eq!(code, 0, "info findings do not fail verify");
    let subject = "sha256:dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e";
    assert_eq!(
        summary(&r),
        vec![s("info", "subject_absent", "external", subject), s("info", "subject_absent", "external", subject)]
    );
}

#[test]
fn shared_blobs_are_hashed_once() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    reg.wharf(&["tag", "testrepo:v1", "team/app:1"]).ok();
    let files: Vec<_> = std::fs::read_dir(src.join("blobs/sha256")).unwrap().map(|e| e.unwrap().path()).collect();
    let bytes: u64 = files.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let (code, r) = verify_reg(&reg, &[]);
    assert_eq!((code, &r["findings"]), (0, &json!([])));
    assert_eq!(r["counts"]["repositories"], 2);
    let seen = r["counts"]["blob_files"].as_u64().unwrap();
    assert!(seen > files.len() as u64, "team/app holds links too: {seen}");
    // Every file of team/app and of the pool is a hard link to one of testrepo's.
    assert_eq!(r["counts"]["blobs_hashed"], files.len());
    assert_eq!(r["counts"]["bytes_hashed"], bytes);
}

#[test]
fn quick_mode_does_not_hash_and_says_so() {
    let (_tmp, l, img) = simple();
    let p = l.blob_path(&img.layers[0]);
    let mut bytes = std::fs::read(&p).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&p, &bytes).unwrap();
    let (code, r) = verify_path(&["--quick", &dir_arg(&l)]);
    assert_eq!((code, &r["findings"]), (0, &json!([])), "same size, so only hashing can see it");
    assert_eq!(r["hashed"], false);
    assert_eq!(r["counts"]["blobs_hashed"], 0);
    let run = wharf_at(Path::new("/nonexistent"), &["verify", "--quick", &dir_arg(&l)]).ok();
    assert!(run.stdout.contains("no blob was hashed"), "{}", run.stdout);
    let (code, r) = verify_path(&["--jobs", "1", &dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(summary(&r), vec![s("error", "digest_mismatch", "img", &img.layers[0].digest)]);
    assert_eq!(r["jobs"], 1);
}

#[test]
fn structure_findings_mislabelled_layer_diff_ids_strays() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("odd"));
    // A plain tar labelled gzip.
    let tar = tar_of("f", b"plain");
    let layer = l.put(&tar);
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
    let config = l.put(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.desc(OCI_CONFIG), "layers": [layer.desc(OCI_LAYER_GZIP)]});
    let manifest = l.put(&serde_json::to_vec(&manifest).unwrap());
    l.tag("odd", &manifest, OCI_MANIFEST);
    std::fs::write(l.dir.join("blobs/sha256/partial.tmp"), b"x").unwrap();
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(
        summary(&r),
        vec![
            // An error since issue 8 (was a warning): a runtime picks the decompressor by the
            // media type, so the layer cannot be extracted; import refuses it too.
            s("error", "media_type_mismatch", "odd", &layer.digest),
            s("error", "diff_ids_mismatch", "odd", &config.digest),
            s("warning", "stray_file", "odd", ""),
        ]
    );
    assert!(r["findings"][0]["message"].as_str().unwrap().contains("plain tar"));
    assert_eq!(r["findings"][2]["file"], "blobs/sha256/partial.tmp");
}

#[test]
fn broken_index_in_one_repository_does_not_stop_the_others() {
    let reg = Reg::new();
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (Layout::new(&tmp.path().join("a")), Layout::new(&tmp.path().join("b")));
    let ia = a.image(&["a"], false);
    a.tag("1", &ia.manifest, OCI_MANIFEST);
    let ib = b.image(&["b"], false);
    b.tag("1", &ib.manifest, OCI_MANIFEST);
    reg.adopt_layout(&a.dir, "aaa");
    let bdir = reg.adopt_layout(&b.dir, "bbb");
    std::fs::write(bdir.join("index.json"), b"{not json").unwrap();
    // And damage aaa too: both problems are reported.
    std::fs::remove_file(reg.root.join("aaa/blobs/sha256").join(ia.layers[0].hex())).unwrap();
    let before = reg.snapshot();
    let (code, r) = verify_reg(&reg, &[]);
    assert_eq!(code, 1);
    assert_eq!(r["counts"]["repositories"], 2);
    let sum = summary(&r);
    assert_eq!(
        sum[..2],
        [s("error", "missing_blob", "aaa", &ia.layers[0].digest), s("error", "invalid_index", "bbb", "")]
    );
    // bbb's blobs are all unreferenced now that its index cannot be read.
    assert!(sum[2..].iter().all(|f| f.0 == "info" && f.1 == "unreferenced_blob" && f.2 == "bbb"), "{sum:?}");
    assert_eq!(before, reg.snapshot(), "verify changes nothing");
}

#[test]
fn sidecar_that_disagrees_with_index_json() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    reg.wharf(&["tag", "testrepo:v1", "team/app:1"]).ok();
    // Remove the tag from index.json behind wharf's back: the sidecar still has it.
    let p = reg.root.join("team/app/index.json");
    let mut idx: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let digest = idx["manifests"][0]["digest"].as_str().unwrap().to_string();
    idx["manifests"] = json!([]);
    std::fs::write(&p, serde_json::to_vec(&idx).unwrap()).unwrap();
    let (code, r) = verify_reg(&reg, &["team/app"]);
    assert_eq!(code, 1);
    let sum = summary(&r);
    assert_eq!(
        sum.iter().filter(|f| f.0 != "info").cloned().collect::<Vec<_>>(),
        vec![
            s("warning", "sidecar_mismatch", "team/app", &digest),
            s("warning", "sidecar_mismatch", "team/app", &digest)
        ]
    );
    assert!(sum.iter().filter(|f| f.0 == "info").all(|f| f.1 == "unreferenced_blob"));
}

#[test]
fn unknown_repository_and_bad_path_cannot_run() {
    let reg = Reg::new();
    reg.wharf(&["verify", "nope"]).code(2).stderr_has("repository `nope` does not exist");
    reg.wharf(&["verify", "./no/such/layout"]).code(2).stderr_has("no/such/layout");
}

#[test]
fn layouts_made_by_skopeo_and_umoci_verify_clean() {
    let (Some(skopeo), Some(umoci)) = (tool("skopeo"), tool("umoci")) else { return };
    let Some(archive) = fixture("go-containerregistry/test_image_1.tar") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let u = tmp.path().join("umoci");
    let us = u.display().to_string();
    let (c, _, e) = run_tool(&umoci, &["init", "--layout", &us]);
    assert_eq!(c, 0, "{e}");
    let (c, _, e) = run_tool(&umoci, &["new", "--image", &format!("{us}:empty")]);
    assert_eq!(c, 0, "{e}");
    let sk = tmp.path().join("skopeo").display().to_string();
    let (c, _, e) = run_tool(
        &skopeo,
        &["copy", "--quiet", &format!("docker-archive:{}", archive.display()), &format!("oci:{sk}:t")],
    );
    assert_eq!(c, 0, "{e}");
    let (c, _, e) = run_tool(&skopeo, &["copy", "--quiet", &format!("oci:{us}:empty"), &format!("oci:{sk}:empty")]);
    assert_eq!(c, 0, "{e}");
    let (code, r) = verify_path(&[&us, &sk]);
    assert_eq!((code, &r["findings"]), (0, &json!([])));
    assert_eq!(r["counts"]["repositories"], 2);
}

#[test]
fn schema1_manifest_is_reported_as_legacy() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("old"));
    let layer = l.put(&gzip(&tar_of("f", b"v1")));
    let m = json!({"schemaVersion": 1, "name": "old", "tag": "1", "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest}], "history": [{"v1Compatibility": "{}"}]});
    let m = l.put(&serde_json::to_vec(&m).unwrap());
    l.tag("1", &m, "application/vnd.docker.distribution.manifest.v1+prettyjws");
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    assert_eq!(summary(&r), vec![s("warning", "legacy_schema1", "old", &m.digest)]);
    // Its blobSums are still followed: remove the layer and it is missing.
    std::fs::remove_file(l.blob_path(&layer)).unwrap();
    let (_, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(
        summary(&r),
        vec![s("error", "missing_blob", "old", &layer.digest), s("warning", "legacy_schema1", "old", &m.digest)]
    );
}

#[test]
fn registry_pool_strays_and_stale_staging() {
    let Some(src) = fixture("regclient/external") else { return };
    let reg = Reg::new();
    reg.adopt_layout(&src, "external");
    let dead = reg.root.join(".wharf/staging/999-dead");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("owner"), b"").unwrap();
    std::fs::write(reg.root.join(".wharf/blobs/sha256/junk"), b"x").unwrap();
    let orphan = sha(b"orphan");
    std::fs::write(reg.root.join(".wharf/blobs/sha256").join(&orphan[7..]), b"orphan").unwrap();
    let (code, r) = verify_reg(&reg, &[]);
    assert_eq!(code, 1);
    let subject = "sha256:dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e";
    assert_eq!(
        summary(&r),
        vec![
            s("warning", "stray_file", "", ""),
            s("info", "stale_staging", "", ""),
            s("info", "unreferenced_blob", "", &orphan),
            s("info", "subject_absent", "external", subject),
            s("info", "subject_absent", "external", subject),
        ]
    );
    assert_eq!(r["findings"][0]["file"], ".wharf/blobs/sha256/junk");
    assert_eq!(r["findings"][1]["file"], ".wharf/staging/999-dead");
}

#[test]
fn a_reference_includes_its_referrers() {
    let Some(src) = fixture("regclient/testrepo") else { return };
    let reg = Reg::new();
    let dir = reg.adopt_layout(&src, "testrepo");
    // a1 is an SBOM whose subject is v2; damage a blob only a1 reaches.
    let sbom = "sha256:e9c3c1c06f1825ffa801eac2930fc97e8cecf63d41c7f5d92a8bb21d7ed288bc";
    std::fs::write(dir.join("blobs/sha256").join(&sbom[7..]), b"xxxxx").unwrap();
    let (code, r) = verify_reg(&reg, &["testrepo:v2"]);
    assert_eq!(code, 1);
    assert_eq!(summary(&r), vec![s("error", "digest_mismatch", "testrepo", sbom)]);
    let a1 = "sha256:0484e93c23cddf24a8400547119558312023295af241d4cd1eaf1b27145c5026";
    assert_eq!(chain(&r["findings"][0]), vec![a1.to_string(), sbom.to_string()]);
    assert_eq!(r["findings"][0]["path"][0]["tag"], "a1");
    // A reference that does not resolve cannot be verified.
    reg.wharf(&["verify", "testrepo:nope"]).code(2).stderr_has("tag `testrepo:nope` does not exist");
}

#[test]
fn absent_non_distributable_layer_with_urls_is_info() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("win"));
    let tar = tar_of("f", b"base");
    let present = l.put(&gzip(&tar));
    let foreign = sha(b"a windows base layer that lives elsewhere");
    let config = json!({"architecture": "amd64", "os": "windows",
        "rootfs": {"type": "layers", "diff_ids": [sha(b"foreign diff"), sha(&tar)]}});
    let config = l.put(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
    "config": config.desc(DOCKER_CONFIG),
    "layers": [
        {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": foreign,
         "size": 1000, "urls": ["https://example.invalid/layer"]},
        present.desc(DOCKER_LAYER),
    ]});
    let manifest = l.put(&serde_json::to_vec(&manifest).unwrap());
    l.tag("ltsc", &manifest, DOCKER_MANIFEST);
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 0);
    // (Issue 8, E18: a Docker-typed tag is also reported, as info.)
    assert_eq!(
        summary(&r),
        vec![s("info", "missing_blob", "win", &foreign), s("info", "docker_media_type", "win", &manifest.digest)]
    );
}

#[test]
fn documents_that_break_their_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("bad"));
    let img = l.image(&["x"], false);
    // A manifest without `layers`, and one with schemaVersion 3.
    let config = img.config.desc(OCI_CONFIG);
    let no_layers =
        l.put(&serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config})).unwrap());
    let v3 = json!({"schemaVersion": 3, "mediaType": OCI_MANIFEST, "config": config,
        "layers": [img.layers[0].desc(OCI_LAYER_GZIP)]});
    let v3 = l.put(&serde_json::to_vec(&v3).unwrap());
    l.tag("nolayers", &no_layers, OCI_MANIFEST);
    l.tag("v3", &v3, OCI_MANIFEST);
    // The original manifest, labelled as an index in index.json.
    l.tag("mislabelled", &img.manifest, OCI_INDEX);
    let (code, r) = verify_path(&[&dir_arg(&l)]);
    assert_eq!(code, 1);
    let mut got = summary(&r);
    got.sort();
    let mut want = vec![
        // The layer-less manifest also disagrees with its config's one diff_id.
        s("error", "diff_ids_mismatch", "bad", &img.config.digest),
        s("error", "invalid_document", "bad", &no_layers.digest),
        s("error", "invalid_document", "bad", &v3.digest),
        s("warning", "media_type_mismatch", "bad", &img.manifest.digest),
    ];
    want.sort();
    assert_eq!(got, want);
    let msgs: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(msgs.iter().any(|m| m.contains("layers")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("schemaVersion is 3")), "{msgs:?}");
}

#[test]
fn blobs_held_by_soft_deleted_items_are_named_as_such() {
    let reg = Reg::new();
    let sample = testdata("hello.oci-archive.tar");
    reg.wharf(&["import", "--repo", "demo/app", "--tag", "1", sample.to_str().unwrap()]).ok();
    reg.wharf(&["config", "soft-delete", "--days", "7"]).ok();
    reg.wharf(&["delete", "demo/app:1"]).ok();
    let report = reg.wharf(&["--json", "verify"]).code(0).json();
    let findings = report["findings"].as_array().unwrap();
    let kinds: Vec<&str> = findings.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(!kinds.is_empty(), "the deleted image's blobs are noted: {report:#}");
    assert!(kinds.iter().all(|k| *k == "kept_by_trash"), "{report:#}");
    assert!(findings.iter().all(|f| f["severity"] == "info" && f["repository"] == "demo/app"), "{report:#}");
    // Once the item expires and a sweep runs, nothing is left to note.
    reg.wharf(&["--as-of", "2099-01-01", "sweep"]).ok();
    let report = reg.wharf(&["--json", "verify"]).code(0).json();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report:#}");
}
