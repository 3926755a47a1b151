//! `wharf import`: every producer shape, the public fixtures, compression wrappers and
//! stdin, naming, tags and locks, hostile archives, and concurrent imports.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::shapes::*;

const AS_OF: &str = "2026-01-01T00:00:00Z";

/// Imports with --json, expecting success.
fn import(reg: &Reg, args: &[&str]) -> Value {
    let mut a = vec!["--as-of", AS_OF, "import"];
    a.extend_from_slice(args);
    reg.json(&a)
}

fn digests(report: &Value) -> Vec<String> {
    report["images"].as_array().unwrap().iter().map(|i| i["digest"].as_str().unwrap().to_string()).collect()
}

/// Every blob file of a repository hashes to its name (wharf verify is another issue's;
/// this re-hashes directly).
fn assert_rehash(repo_dir: &Path) {
    for e in std::fs::read_dir(repo_dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        assert_eq!(sha(&std::fs::read(e.path()).unwrap()), format!("sha256:{name}"), "{}", e.path().display());
    }
}

/// skopeo and umoci both read `repo:tag` of the registry.
fn assert_readable(reg: &Reg, repo: &str, tag: &str) {
    let Some(skopeo) = tool("skopeo") else { return };
    let Some(umoci) = tool("umoci") else { return };
    let r = format!("{}:{tag}", reg.root.join(repo).display());
    let index = std::fs::read_to_string(reg.root.join(repo).join("index.json")).unwrap();
    let (code, _, err) = run_tool(&skopeo, &["inspect", "--raw", &format!("oci:{r}")]);
    assert_eq!(code, 0, "skopeo inspect oci:{r}: {err}\n{index}");
    let v: Value = serde_json::from_str(&index).unwrap();
    let entry = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    // umoci 0.4 resolves a tag only to a single image manifest ("tag is ambiguous" on an index).
    if entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json" {
        let (code, _, err) = run_tool(&umoci, &["stat", "--image", &r]);
        assert_eq!(code, 0, "umoci stat {r}: {err}");
    }
    assert_rehash(&reg.root.join(repo));
}

/// A umoci-made image and its archives, in a temp dir.
struct Made {
    dir: tempfile::TempDir,
    layout: Layout,
}

impl Made {
    fn new(content: &str) -> Option<Made> {
        tool("skopeo")?;
        let dir = tempfile::tempdir().unwrap();
        let layout = umoci_layout(dir.path(), content)?;
        Some(Made { dir, layout: Layout { dir: layout } })
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn src(&self) -> String {
        format!("oci:{}:t", self.layout.dir.display())
    }
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).unwrap();
        self.path(name).display().to_string()
    }
}

#[test]
fn public_fixtures_import_or_are_refused_as_documented() {
    let Some(base) = fixture("") else { return };
    let reg = Reg::new();
    let ok: &[(&str, &str, &str)] = &[
        ("go-containerregistry/test_image_1.tar", "bazel/v1/tarball", "test_image_1"),
        ("go-containerregistry/test_bundle.tar", "test_image_2", "latest"),
        ("go-containerregistry/test_link.tar", "bazel/v1/tarball", "test_image_3"),
        ("containers-image/almostempty.tar", "emptyimage", "latest"),
    ];
    for (f, repo, tag) in ok {
        import(&reg, &[base.join(f).to_str().unwrap()]);
        assert_readable(&reg, repo, tag);
    }
    // hello-world-v25 names no repository: refused without --repo, imported with it, and
    // the real manifest in the archive is kept (not a synthesised one).
    let hello = base.join("go-containerregistry/hello-world-v25.tar");
    let before = reg.snapshot();
    reg.wharf(&["import", hello.to_str().unwrap()]).code(2).stderr_has("pass --repo");
    assert_eq!(before, reg.snapshot());
    let r = import(&reg, &["--repo", "hello", "--tag", "v25", hello.to_str().unwrap()]);
    assert_eq!(digests(&r), vec!["sha256:411caf340c828657e915a83ed561a79d2b8150dabad4dc079d881cbfe6f86afe"]);
    assert_eq!(r["images"][0]["origin"], "source");
    assert_readable(&reg, "hello", "v25");
    for (f, why) in [
        ("go-containerregistry/null_manifest.tar", "manifest.json is null"),
        ("go-containerregistry/no_manifest.tar", "pre-1.10"),
    ] {
        let before = reg.snapshot();
        reg.wharf(&["import", base.join(f).to_str().unwrap()]).code(2).stderr_has(why);
        assert_eq!(before, reg.snapshot(), "{f}");
    }
    // The regclient layouts: multi-platform indexes, nested index, artifacts, and
    // referrers whose subject is elsewhere.
    let r = import(&reg, &["--repo", "testrepo", base.join("regclient/testrepo").to_str().unwrap()]);
    assert_eq!(r["manifests"], 24);
    assert_readable(&reg, "testrepo", "b1");
    let r = import(&reg, &["--repo", "external", base.join("regclient/external").to_str().unwrap()]);
    assert_eq!(r["tags"], 3);
    assert_rehash(&reg.root.join("external"));
    assert!(std::fs::read_dir(reg.root.join(".wharf/staging")).unwrap().next().is_none(), "staging left behind");
}

#[test]
fn docker_archive_from_skopeo_is_synthesised_deterministically_and_unpacks_the_same() {
    let Some(m) = Made::new("hello from docker-archive\n") else { return };
    let arch = m.path("d.tar");
    skopeo_copy(&m.src(), &format!("docker-archive:{}:docker.io/team/app:1", arch.display()));
    let a = Reg::new();
    let b = Reg::new();
    let ra = import(&a, &[arch.to_str().unwrap()]);
    let rb = import(&b, &[arch.to_str().unwrap()]);
    assert_eq!(digests(&ra), digests(&rb), "same archive, same manifest digest");
    assert_eq!(ra["images"][0]["origin"], "synthesised");
    assert_eq!(ra["images"][0]["repository"], "team/app");
    assert_readable(&a, "team/app", "1");
    let got = unpacked_tree(&format!("{}:1", a.root.join("team/app").display()), m.dir.path());
    let want = unpacked_tree(&format!("{}:t", m.layout.dir.display()), m.dir.path());
    assert_eq!(got, want);
    // Re-import changes nothing and writes no blob.
    let before = a.snapshot();
    let again = import(&a, &[arch.to_str().unwrap()]);
    assert_eq!(again["blobs_new"], 0);
    assert_eq!(before, a.snapshot());
    // --scoped keeps the host.
    let r = import(&b, &["--scoped", arch.to_str().unwrap()]);
    assert_eq!(r["images"][0]["repository"], "docker.io/team/app");
}

#[test]
fn oci_archive_layout_and_dir_keep_the_manifest_digest() {
    let Some(m) = Made::new("hello oci\n") else { return };
    let want = skopeo_digest(&m.src());
    let oa = m.path("o.tar");
    skopeo_copy(&m.src(), &format!("oci-archive:{}:team/app:2", oa.display()));
    let dir = m.path("dir");
    skopeo_copy(&m.src(), &format!("dir:{}", dir.display()));
    let reg = Reg::new();
    let r = import(&reg, &[oa.to_str().unwrap()]);
    assert_eq!(digests(&r), vec![want.clone()]);
    assert_eq!(r["sources"][0]["format"], "oci-archive");
    assert_readable(&reg, "team/app", "2");
    let r = import(&reg, &["--repo", "from/layout", "--tag", "x", m.layout.dir.to_str().unwrap()]);
    assert_eq!(digests(&r), vec![want.clone()]);
    let r = import(&reg, &["--repo", "from/dir", "--tag", "y", dir.to_str().unwrap()]);
    assert_eq!(digests(&r), vec![want.clone()]);
    assert_eq!(r["sources"][0]["format"], "dir");
    assert_readable(&reg, "from/dir", "y");
    let got = unpacked_tree(&format!("{}:2", reg.root.join("team/app").display()), m.dir.path());
    let src = unpacked_tree(&format!("{}:t", m.layout.dir.display()), m.dir.path());
    assert_eq!(got, src);
}

#[test]
fn compressed_wrappers_and_stdin_are_detected_by_content() {
    let Some(m) = Made::new("wrapped\n") else { return };
    let oa = m.path("o.tar");
    skopeo_copy(&m.src(), &format!("oci-archive:{}:wrapped:1", oa.display()));
    let plain = std::fs::read(&oa).unwrap();
    let want = skopeo_digest(&m.src());
    let zst = zstd::encode_all(&plain[..], 1).unwrap();
    let mut xz = Vec::new();
    std::io::Read::read_to_end(&mut xz2::read::XzEncoder::new(&plain[..], 1), &mut xz).unwrap();
    let mut bz = Vec::new();
    std::io::Read::read_to_end(&mut bzip2::read::BzEncoder::new(&plain[..], bzip2::Compression::fast()), &mut bz)
        .unwrap();
    // Misleading names on purpose: detection never looks at them.
    let cases = [("gzip", "a.zip", gzip(&plain)), ("zstd", "b.gz", zst), ("xz", "c.txt", xz), ("bzip2", "d", bz)];
    for (want_wrapper, name, bytes) in cases {
        let reg = Reg::new();
        let r = import(&reg, &[&m.write(name, &bytes)]);
        assert_eq!(r["sources"][0]["compression"], want_wrapper);
        assert_eq!(digests(&r), vec![want.clone()], "{want_wrapper}");
    }
    let reg = Reg::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "--json", "import", "-"])
        .stdin(std::fs::File::open(m.write("s.tgz", &gzip(&plain))).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(digests(&r), vec![want]);
}

#[test]
fn producer_shapes_docker25_podman_crane_nix() {
    let Some(m) = Made::new("shape one\n") else { return };
    let Some(m2) = Made::new("shape two\n") else { return };
    let want = m.layout.manifest_digest();
    // Docker 25+: the real manifest is kept, the name comes from io.containerd.image.name.
    let reg = Reg::new();
    let f = m.write("d25.tar", &docker25(&m.layout, "library/app:25", false));
    let r = import(&reg, &[&f]);
    assert_eq!(digests(&r), vec![want.clone()]);
    assert_eq!(r["sources"][0]["format"], "docker-archive+oci");
    assert_eq!(r["images"][0]["repository"], "library/app");
    assert_readable(&reg, "library/app", "25");
    // Partial index: refused with the missing platform named, imported with --platform.
    let f = m.write("d25p.tar", &docker25(&m.layout, "library/app:partial", true));
    let before = reg.snapshot();
    reg.wharf(&["import", &f]).code(2).stderr_has("linux/arm64").stderr_has("--platform linux/amd64");
    assert_eq!(before, reg.snapshot());
    let r = import(&reg, &["--platform", "linux/amd64", &f]);
    assert_eq!(digests(&r), vec![want.clone()]);
    assert_eq!(r["images"][0]["origin"], "selected");
    // podman save -m: two images in one archive.
    let reg = Reg::new();
    let f = m.write(
        "podman.tar",
        &docker_shape("podman", &[(&m.layout, "localhost/one:1"), (&m2.layout, "localhost/two:1")]),
    );
    let r = import(&reg, &[&f]);
    assert_eq!(r["manifests"], 2, "{r}");
    assert_readable(&reg, "one", "1");
    assert_readable(&reg, "two", "1");
    // crane: gzip layers kept as they are (the layer digests are umoci's gzip blobs).
    let f = m.write("crane.tar", &docker_shape("crane", &[(&m.layout, "crane/app:1")]));
    import(&reg, &[&f]);
    let d = reg.json(&["tags", "crane/app"])["tags"][0]["digest"].as_str().unwrap().to_string();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(reg.root.join("crane/app/blobs/sha256").join(&d[7..])).unwrap()).unwrap();
    let src: Value = m.layout.json(&want);
    assert_eq!(manifest["layers"][0]["digest"], src["layers"][0]["digest"]);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_readable(&reg, "crane/app", "1");
    // nix/jib: manifest.json last.
    let f = m.write("nix.tar", &docker_shape("nix", &[(&m.layout, "nix/app:1")]));
    import(&reg, &[&f]);
    assert_readable(&reg, "nix/app", "1");
}

#[test]
fn naming_tags_force_and_locks() {
    let Some(m) = Made::new("naming\n") else { return };
    let Some(m2) = Made::new("naming two\n") else { return };
    let a = m.path("a.tar");
    let b = m.path("b.tar");
    skopeo_copy(&m.src(), &format!("oci-archive:{}:app:1", a.display()));
    skopeo_copy(&m2.src(), &format!("oci-archive:{}:app:1", b.display()));
    let reg = Reg::new();
    import(&reg, &[a.to_str().unwrap()]);
    let before = reg.snapshot();
    reg.wharf(&["import", b.to_str().unwrap()]).code(2).stderr_has("pass --force");
    assert_eq!(before, reg.snapshot(), "a refused import changes nothing");
    let r = import(&reg, &["--force", b.to_str().unwrap()]);
    assert_eq!(r["images"][0]["tags"][0]["change"], "moved");
    // A write lock on the repository is honoured (set here by editing the sidecar).
    let meta_path = reg.root.join("app/wharf-meta.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["repository"]["locks"] = serde_json::json!({"write_enabled": false});
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let before = reg.snapshot();
    reg.wharf(&["import", "--force", "--tag", "2", a.to_str().unwrap()]).code(2).stderr_has("write_enabled = false");
    assert_eq!(before, reg.snapshot());
    // --tag with two distinct images is a usage error.
    reg.wharf(&["import", "--repo", "x", "--tag", "1", a.to_str().unwrap(), b.to_str().unwrap()])
        .code(2)
        .stderr_has("--tag names one image");
    reg.wharf(&["import", "--platform", "linux", a.to_str().unwrap()]).code(2).stderr_has("OS/ARCH");
}

/// Runs a hostile input and checks the refusal leaves everything as it was.
fn refuse(reg: &Reg, input: &Path, needle: &str) {
    let outside = snapshot(reg.dir.path());
    let before = reg.snapshot();
    reg.wharf(&["import", "--repo", "x", "--tag", "1", input.to_str().unwrap()]).code(2).stderr_has(needle);
    assert_eq!(before, reg.snapshot(), "registry changed after {}", input.display());
    assert_eq!(outside, snapshot(reg.dir.path()), "files appeared outside after {}", input.display());
}

#[test]
fn hostile_archives_are_refused_and_change_nothing() {
    let reg = Reg::new();
    let w = |name: &str, bytes: &[u8]| {
        let p = reg.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let good = b"{}".to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("dotdot", tar_bytes(&[("../evil", Item::File(good.clone()))]), "`..` components"),
        ("absolute", tar_bytes(&[("/etc/evil", Item::File(good.clone()))]), "absolute path"),
        ("symlink", tar_bytes(&[("a/layer.tar", Item::Symlink("../../etc/passwd".into()))]), "escapes the archive"),
        ("symlink-abs", tar_bytes(&[("layer.tar", Item::Symlink("/etc/passwd".into()))]), "absolute path"),
        ("hardlink", tar_bytes(&[("layer.tar", Item::Hardlink("../outside".into()))]), "escapes the archive"),
        (
            "digest-mismatch",
            tar_bytes(&[(&format!("blobs/sha256/{}", "0".repeat(64)), Item::File(good.clone()))]),
            "digest mismatch: expected sha256:0000",
        ),
        (
            "truncated",
            tar_bytes(&[("manifest.json", Item::Short { declared: 4096, data: vec![b'['; 100] })]),
            "truncated",
        ),
        ("not-tar", b"this is not an archive at all, just text".repeat(20), "not a tar archive"),
        ("empty", Vec::new(), "empty"),
        ("no-image", tar_bytes(&[("readme", Item::File(good.clone()))]), "not an image archive"),
        (
            "absurd-size",
            tar_bytes(&[("big", Item::Short { declared: 1 << 60, data: vec![0; 10] })]),
            "more than the",
        ),
        (
            "path-in-digest",
            tar_bytes(&[(
                "index.json",
                Item::File(
                    br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../etc/passwd","size":2}]}"#.to_vec(),
                ),
            )]),
            "not a valid OCI index",
        ),
        (
            "docker-path-escape",
            tar_bytes(&[("manifest.json", Item::File(br#"[{"Config":"../../etc/passwd","RepoTags":["a:1"],"Layers":[]}]"#.to_vec()))]),
            "`..` components",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = w(name, &bytes);
        refuse(&reg, &p, needle);
        std::fs::remove_file(p).unwrap();
    }
    // A gzip bomb: a tar member of zeros far past the expansion limit.
    let mut tar = tar_bytes(&[("zeros", Item::Short { declared: 300 << 20, data: Vec::new() })]);
    tar.resize(tar.len() + (300 << 20), 0);
    let p = w("bomb.tgz", &gzip(&tar));
    drop(tar);
    refuse(&reg, &p, "decompression bomb");
}

#[test]
fn digest_and_diff_id_mismatches_name_both_digests() {
    let Some(m) = Made::new("mismatch\n") else { return };
    let reg = Reg::new();
    // A docker-archive whose layer does not match the config's diff_id.
    let mut tar = docker_shape("podman", &[(&m.layout, "bad/app:1")]);
    let manifest = m.layout.json(&m.layout.manifest_digest());
    let layer = gunzip(&m.layout.blob(manifest["layers"][0]["digest"].as_str().unwrap()));
    let pos = tar.windows(layer.len().min(600)).position(|w| w == &layer[..layer.len().min(600)]).unwrap();
    tar[pos + 100] ^= 0xff;
    let p = m.path("bad.tar");
    std::fs::write(&p, &tar).unwrap();
    let before = reg.snapshot();
    let run = reg.wharf(&["import", p.to_str().unwrap()]).code(2).stderr_has("diff_ids");
    assert!(run.stderr.matches("sha256:").count() >= 2, "{}", run.stderr);
    assert_eq!(before, reg.snapshot());
    // An oci-archive whose blob size differs from its descriptor.
    let oa = m.path("o.tar");
    skopeo_copy(&m.src(), &format!("oci-archive:{}:ok:1", oa.display()));
    let mut idx: Value = m.layout.index();
    idx["manifests"][0]["size"] = Value::from(idx["manifests"][0]["size"].as_u64().unwrap() + 1);
    idx["manifests"][0]["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "1"});
    let mut items = vec![("index.json".to_string(), serde_json::to_vec(&idx).unwrap())];
    for e in std::fs::read_dir(m.layout.dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        items.push((format!("blobs/sha256/{}", e.file_name().to_string_lossy()), std::fs::read(e.path()).unwrap()));
    }
    let refs: Vec<(&str, Item)> = items.iter().map(|(n, b)| (n.as_str(), Item::File(b.clone()))).collect();
    let p = m.path("size.tar");
    std::fs::write(&p, tar_bytes(&refs)).unwrap();
    refuse(&reg, &p, "size mismatch");
}

#[test]
fn two_concurrent_imports_both_succeed() {
    let Some(m) = Made::new("concurrent one\n") else { return };
    let Some(m2) = Made::new("concurrent two\n") else { return };
    let a = m.path("a.tar");
    let b = m.path("b.tar");
    skopeo_copy(&m.src(), &format!("docker-archive:{}:one:1", a.display()));
    skopeo_copy(&m2.src(), &format!("oci-archive:{}:two:1", b.display()));
    let reg = Reg::new();
    let spawn = |p: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["--root", reg.root.to_str().unwrap(), "import", p.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for p in [pa, pb] {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_readable(&reg, "library/one", "1");
    assert_readable(&reg, "two", "1");
    assert!(std::fs::read_dir(reg.root.join(".wharf/staging")).unwrap().next().is_none());
}

#[test]
fn committed_samples_import() {
    let reg = Reg::new();
    let r = import(&reg, &[testdata("hello.oci-archive.tar").to_str().unwrap()]);
    assert_eq!(r["images"][0]["repository"], "hello");
    let r = import(&reg, &["--repo", "hello-docker", testdata("hello.docker-archive.tar").to_str().unwrap()]);
    assert_eq!(r["images"][0]["origin"], "synthesised");
    assert_readable(&reg, "hello", "latest");
}

#[test]
fn a_plain_layout_takes_every_image_into_itself() {
    let Some(umoci) = tool("umoci") else { return };
    let dir = tempfile::tempdir().unwrap();
    let lay = dir.path().join("lay");
    let (code, _, err) = run_tool(&umoci, &["init", "--layout", lay.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let r = wharf_at(&lay, &["--json", "import", testdata("hello.docker-archive.tar").to_str().unwrap()]).ok().json();
    assert_eq!(r["images"][0]["repository"], "lay");
    assert_eq!(r["images"][0]["tags"][0]["tag"], "latest");
    let Some(skopeo) = tool("skopeo") else { return };
    let (code, _, err) = run_tool(&skopeo, &["inspect", &format!("oci:{}:latest", lay.display())]);
    assert_eq!(code, 0, "{err}");
    assert_rehash(&lay);
}

/// A hand-made oci-archive of `layers` (each stored under `blobs/sha256/<name hex>`,
/// normally its own digest), a config and a manifest tagged `1`.
fn oci_archive_of(layers: &[(String, Vec<u8>)]) -> Vec<u8> {
    use sha2::Digest as _;
    let hex = |b: &[u8]| format!("{:x}", sha2::Sha256::digest(b));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(h, _)| format!("sha256:{h}")).collect::<Vec<_>>()}
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", hex(&config)), "size": config.len()},
        "layers": layers.iter().map(|(h, b)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{h}"), "size": b.len()
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", hex(&manifest)),
        "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "1"}
    }]}))
    .unwrap();
    let mut items: Vec<(String, Vec<u8>)> = vec![
        ("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        (format!("blobs/sha256/{}", hex(&config)), config.clone()),
        (format!("blobs/sha256/{}", hex(&manifest)), manifest.clone()),
    ];
    items.extend(layers.iter().map(|(h, b)| (format!("blobs/sha256/{h}"), b.clone())));
    items.push(("index.json".into(), index));
    let refs: Vec<(&str, Item)> = items.iter().map(|(n, b)| (n.as_str(), Item::File(b.clone()))).collect();
    tar_bytes(&refs)
}

/// Layers (tars of one file) of a few MiB of distinct bytes: large enough to be hashed
/// behind the reader.
fn big_layers(n: usize) -> Vec<(String, Vec<u8>)> {
    use sha2::Digest as _;
    (0..n)
        .map(|i| {
            let mut b = vec![0u8; (3 << 20) + i * 4097];
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ i as u64;
            for c in b.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
            }
            let b = tar_bytes(&[("data", Item::File(b))]);
            (format!("{:x}", sha2::Sha256::digest(&b)), b)
        })
        .collect()
}

#[test]
fn large_layers_hashed_on_another_core_are_stored_under_their_digests() {
    let reg = Reg::new();
    let layers = big_layers(4);
    let p = reg.dir.path().join("big.tar");
    std::fs::write(&p, oci_archive_of(&layers)).unwrap();
    let r = import(&reg, &["--repo", "big", p.to_str().unwrap()]);
    assert_eq!(r["images"][0]["repository"], "big", "{r}");
    for (hex, bytes) in &layers {
        let stored = std::fs::read(reg.root.join("big/blobs/sha256").join(hex)).unwrap();
        assert!(stored == *bytes, "layer {hex} stored with other bytes");
    }
    reg.wharf(&["verify"]).ok();
    assert!(std::fs::read_dir(reg.root.join(".wharf/staging")).unwrap().next().is_none());
}

#[test]
fn a_large_member_whose_bytes_differ_from_its_name_is_a_digest_mismatch() {
    let reg = Reg::new();
    let mut layers = big_layers(3);
    // The second layer's bytes change after its name (its claimed digest) was taken.
    layers[1].1[12345] ^= 0xff;
    let claimed = layers[1].0.clone();
    let p = reg.dir.path().join("bad.tar");
    std::fs::write(&p, oci_archive_of(&layers)).unwrap();
    refuse(&reg, &p, &format!("expected sha256:{claimed}"));
}
