//! Import at the trust boundary (issue 8, B6–B9, B12, C, D13–D14, E16, E23): hostile
//! and broken sources generated here, member by member, and the rule that a refused
//! import changes nothing (the whole root, pool included, byte-identical).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::*;
use crate::shapes::*;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A real one-file layer tar.
fn layer_tar(content: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "hello", content.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

fn config_for(layers: &[&[u8]]) -> Value {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}})
}

/// An OCI layout being assembled in memory: blobs and index.json entries.
#[derive(Default, Clone)]
struct Src {
    blobs: Vec<(String, Vec<u8>)>,
    index: Vec<Value>,
}

impl Src {
    /// Adds a blob; returns its descriptor with `media_type`.
    fn put(&mut self, bytes: &[u8], media_type: &str) -> Value {
        let d = sha(bytes);
        if !self.blobs.iter().any(|(x, _)| x == &d) {
            self.blobs.push((d.clone(), bytes.to_vec()));
        }
        json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
    }

    fn put_json(&mut self, v: &Value, media_type: &str) -> Value {
        self.put(&serde_json::to_vec(v).unwrap(), media_type)
    }

    /// An image (config + one layer) with the given layer bytes and label; returns the
    /// manifest descriptor.
    fn image(&mut self, layer: &[u8], layer_mt: &str, diff: &[u8]) -> Value {
        let l = self.put(layer, layer_mt);
        let c = self.put_json(&config_for(&[diff]), OCI_CONFIG);
        self.put_json(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": c, "layers": [l]}), OCI_MANIFEST)
    }

    fn entry(&mut self, mut desc: Value, tag: Option<&str>) {
        if let Some(t) = tag {
            desc["annotations"] = json!({REF_NAME: t});
        }
        self.index.push(desc);
    }

    fn index_json(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index})).unwrap()
    }

    fn members(&self) -> Vec<(String, Vec<u8>)> {
        let mut m = vec![("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())];
        for (d, b) in &self.blobs {
            m.push((format!("blobs/sha256/{}", &d[7..]), b.clone()));
        }
        m.push(("index.json".to_string(), self.index_json()));
        m
    }

    fn tar(&self) -> Vec<u8> {
        let m = self.members();
        let items: Vec<(&str, Item)> = m.iter().map(|(n, b)| (n.as_str(), Item::File(b.clone()))).collect();
        tar_bytes(&items)
    }

    fn write_dir(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        for (n, b) in self.members() {
            std::fs::write(dir.join(n), b).unwrap();
        }
        dir.to_path_buf()
    }
}

/// One docker-archive entry: config JSON, layers, RepoTags.
type DockerEntry<'a> = (Vec<u8>, Vec<Vec<u8>>, Vec<&'a str>);

/// A docker-archive of `entries`.
fn docker_archive(entries: &[DockerEntry<'_>]) -> Vec<u8> {
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest = Vec::new();
    for (config, layers, tags) in entries {
        let cname = format!("{}.json", &sha(config)[7..]);
        members.push((cname.clone(), config.clone()));
        let mut paths = Vec::new();
        for l in layers {
            let p = format!("{}/layer.tar", &sha(l)[7..19]);
            members.push((p.clone(), l.clone()));
            paths.push(p);
        }
        manifest.push(json!({"Config": cname, "RepoTags": tags, "Layers": paths}));
    }
    members.push(("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()));
    let items: Vec<(&str, Item)> = members.iter().map(|(n, b)| (n.as_str(), Item::File(b.clone()))).collect();
    tar_bytes(&items)
}

fn docker_image<'a>(content: &str, tags: Vec<&'a str>) -> DockerEntry<'a> {
    let l = layer_tar(content);
    (serde_json::to_vec(&config_for(&[&l])).unwrap(), vec![l], tags)
}

fn write(reg: &Reg, name: &str, bytes: &[u8]) -> PathBuf {
    let p = reg.dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs an import that must be refused (exit 2, `needle` on stderr) and checks the whole
/// root (pool, staging, repositories) is byte-identical afterwards.
#[track_caller]
fn refused(reg: &Reg, args: &[&str], needle: &str) {
    let before = reg.snapshot();
    let mut a = vec!["import"];
    a.extend_from_slice(args);
    reg.wharf(&a).code(2).stderr_has(needle);
    assert_eq!(before, reg.snapshot(), "the registry changed after a refused `wharf {}`", a.join(" "));
}

fn staging_is_empty(reg: &Reg) -> bool {
    std::fs::read_dir(reg.root.join(".wharf/staging")).map(|rd| rd.count() == 0).unwrap_or(true)
}

#[test]
fn oci_manifest_carrying_fs_layers_does_not_panic() {
    let reg = Reg::new();
    let layer = layer_tar("b6");
    let mut s = Src::default();
    let l = s.put(&layer, OCI_TAR);
    let c = s.put_json(&config_for(&[&layer]), OCI_CONFIG);
    let stray = format!("sha256:{}", "e".repeat(64));
    // A valid OCI manifest with an extra `fsLayers`: the extra field is not followed.
    let m = s.put_json(
        &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": c, "layers": [l],
                "fsLayers": [{"blobSum": stray}]}),
        OCI_MANIFEST,
    );
    s.entry(m, Some("1"));
    let p = write(&reg, "b6.tar", &s.tar());
    reg.wharf(&["import", "--repo", "b6", p.to_str().unwrap()]).ok();
    assert!(!reg.root.join("b6/blobs/sha256").join("e".repeat(64)).exists());
    reg.wharf(&["verify"]).ok();
    // An OCI manifest with only `fsLayers` is an OCI manifest without a config: refused.
    let mut s = Src::default();
    let m = s.put_json(
        &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "fsLayers": [{"blobSum": stray}]}),
        OCI_MANIFEST,
    );
    s.entry(m, Some("2"));
    let p = write(&reg, "b6-only.tar", &s.tar());
    refused(&reg, &["--repo", "b6", p.to_str().unwrap()], "image manifest schema");
}

/// index.json → `depth - 1` nested indexes → one image manifest (so the manifest sits at
/// `depth`, index.json's entry being depth 1).
fn nested(depth: usize, tag: &str) -> Src {
    let mut s = Src::default();
    let layer = layer_tar("deep");
    let mut d = s.image(&layer, OCI_TAR, &layer);
    for _ in 1..depth {
        d = s.put_json(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d]}), OCI_INDEX);
    }
    s.entry(d, Some(tag));
    s
}

#[test]
fn deep_nesting_is_refused_by_import_without_crash_or_leftover_staging() {
    let reg = Reg::new();
    // The documented limit is accepted, one more level is refused.
    let ok = write(&reg, "64.tar", &nested(64, "64").tar());
    reg.wharf(&["import", "--repo", "deep", ok.to_str().unwrap()]).ok();
    let over = write(&reg, "65.tar", &nested(65, "65").tar());
    refused(&reg, &["--repo", "deep", over.to_str().unwrap()], "deeper than 64");
    // 3000 levels overflowed the stack (exit 134) and left staging behind.
    let deep = nested(3000, "3000");
    let t = write(&reg, "3000.tar", &deep.tar());
    refused(&reg, &["--repo", "deep", t.to_str().unwrap()], "deeper than 64");
    let dir = deep.write_dir(&reg.dir.path().join("3000-layout"));
    refused(&reg, &["--repo", "deep", dir.to_str().unwrap()], "deeper than 64");
    // A Docker 25+ archive (manifest.json next to a nested index.json) takes the same path.
    let mut members: Vec<(String, Vec<u8>)> = deep.members();
    members.push(("manifest.json".into(), b"[]".to_vec()));
    let items: Vec<(&str, Item)> = members.iter().map(|(n, b)| (n.as_str(), Item::File(b.clone()))).collect();
    let t = write(&reg, "3000-docker.tar", &tar_bytes(&items));
    refused(&reg, &["--repo", "deep", t.to_str().unwrap()], "deeper than 64");
    assert!(staging_is_empty(&reg), "a refused import left its staging area");
}

/// Every command that walks the descriptor graph, on a repository that holds a layout
/// nested 3000 levels deep (written by another tool): none may crash, hang or run out of
/// memory; verify reports the depth as an error.
#[test]
fn deep_nesting_table_over_every_walker() {
    let reg = Reg::new();
    reg.wharf(&["config", "soft-delete", "--days", "7"]).ok();
    let deep = nested(3000, "deep");
    deep.write_dir(&reg.root.join("d"));
    let out = reg.dir.path().join("out.tar");
    let out_s = out.to_str().unwrap().to_string();
    let top = deep.index.last().unwrap()["digest"].as_str().unwrap().to_string();
    let by_digest = format!("d@{top}");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("verify", vec!["verify"]),
        ("verify repo", vec!["verify", "d"]),
        ("verify ref", vec!["verify", "d:deep"]),
        ("show", vec!["show", "d:deep"]),
        ("referrers", vec!["referrers", "d:deep"]),
        ("manifests", vec!["manifests", "d"]),
        ("tags", vec!["tags", "d"]),
        ("export", vec!["export", "d:deep", "-o", &out_s]),
        ("tag copy", vec!["tag", &by_digest, "e:copy"]),
        ("gc dry-run", vec!["gc", "--dry-run", "--grace", "0s"]),
        ("sweep", vec!["sweep"]),
        ("purge dry-run", vec!["purge", "--filter", "d:.*", "--dry-run"]),
        ("delete", vec!["delete", "d:deep"]),
        ("deleted", vec!["deleted"]),
        ("restore", vec!["restore", "d:deep"]),
        ("delete --repository", vec!["delete", "--repository", "e"]),
        ("gc", vec!["gc", "--grace", "0s"]),
    ];
    for (name, args) in cases {
        let r = reg.wharf(&args);
        assert!(
            [0, 1, 2].contains(&r.code),
            "{name}: exit {} (a crash?)\nstdout:\n{}\nstderr:\n{}",
            r.code,
            r.stdout,
            r.stderr
        );
        assert!(!r.stderr.contains("panicked") && !r.stderr.contains("overflow"), "{name}: {}", r.stderr);
        if name.starts_with("verify") {
            assert_eq!(r.code, 1, "{name}: {}", r.stdout);
            assert!(r.stdout.contains("deeper than 64"), "{name}: {}", r.stdout);
        }
    }
    let v = reg.wharf(&["--json", "verify", "d"]).code(1).json();
    let deep_findings: Vec<&Value> =
        v["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "too_deep").collect();
    assert_eq!(deep_findings.len(), 1, "{v}");
    assert_eq!(deep_findings[0]["severity"], "error");
    assert_eq!(deep_findings[0]["path"].as_array().unwrap().len(), 65, "the chain stops at the limit");
}

/// A raw tar header block of `kind` declaring `size` bytes (nothing follows it).
fn raw_header(name: &str, kind: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_size(size);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// An extension member (`L`, `K`, `x`) with its data, padded.
fn ext_member(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = raw_header("././@LongLink", kind, data.len() as u64);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut n = body.len() + 1;
    while format!("{n}{body}").len() != n {
        n += 1;
    }
    format!("{n}{body}").into_bytes()
}

#[test]
fn oversized_pax_header_and_gnu_long_name_are_refused() {
    let reg = Reg::new();
    let huge: u64 = 3 << 29; // 1.5 GiB, declared only: refused before anything is read
    for (name, kind) in [("gnu-long-name", b'L'), ("gnu-long-link", b'K'), ("pax", b'x'), ("pax-global", b'g')] {
        let mut t = raw_header("x", kind, huge);
        t.extend_from_slice(&[0u8; 4096]);
        let p = write(&reg, name, &t);
        refused(&reg, &["--repo", "x", p.to_str().unwrap()], "over the 65536-byte limit");
    }
    // Just over the limit is refused; real long names and PAX paths are read and used.
    let mut t = ext_member(b'L', &vec![b'a'; (64 << 10) + 1]);
    t.extend_from_slice(&[0u8; 1024]);
    let p = write(&reg, "just-over", &t);
    refused(&reg, &["--repo", "x", p.to_str().unwrap()], "over the 65536-byte limit");
}

#[test]
fn long_names_and_pax_paths_within_the_limit_are_honoured() {
    let reg = Reg::new();
    let mut s = Src::default();
    let layer = layer_tar("names");
    let m = s.image(&layer, OCI_TAR, &layer);
    s.entry(m, Some("1"));
    // index.json arrives through a PAX `path`, oci-layout with a PAX `size`, one blob
    // through a GNU long name (its header name is junk); a long-named extra member is
    // ignored.
    let mut out = Vec::new();
    for (name, bytes) in s.members() {
        let body = |out: &mut Vec<u8>, header_name: &str| {
            out.extend(raw_header(header_name, b'0', bytes.len() as u64));
            out.extend_from_slice(&bytes);
            out.resize(out.len().div_ceil(512) * 512, 0);
        };
        if name == "index.json" {
            out.extend(ext_member(b'x', &pax_record("path", "./index.json")));
            body(&mut out, "junk-name-1");
        } else if name == "oci-layout" {
            // The PAX `size` overrides the header's (0 here).
            let mut pax = pax_record("size", &bytes.len().to_string());
            pax.extend(pax_record("mtime", "0"));
            out.extend(ext_member(b'x', &pax));
            out.extend(raw_header("oci-layout", b'0', 0));
            out.extend_from_slice(&bytes);
            out.resize(out.len().div_ceil(512) * 512, 0);
        } else if name.starts_with("blobs/") && out.len() < 4096 {
            out.extend(ext_member(b'L', format!("{name}\0").as_bytes()));
            body(&mut out, "junk-name-2");
        } else {
            body(&mut out, &name);
        }
    }
    let long = format!("docs/{}/readme", "n".repeat(300));
    out.extend(ext_member(b'L', long.as_bytes()));
    out.extend(raw_header("short", b'0', 0));
    out.extend_from_slice(&[0u8; 1024]);
    let p = write(&reg, "names.tar", &out);
    reg.wharf(&["import", "--repo", "names", p.to_str().unwrap()]).ok();
    reg.wharf(&["verify"]).ok();
}

#[test]
fn gnu_sparse_member_is_refused() {
    let reg = Reg::new();
    // A well-formed GNU sparse member (type S): no stored data, one map entry putting a
    // 1 GiB hole before the end; the whole archive gzips to a few hundred bytes.
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..6].copy_from_slice(b"sparse");
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_size(0);
    h.set_entry_type(tar::EntryType::GNUSparse);
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(1 << 30);
        gnu.sparse[0].set_offset(1 << 30);
        gnu.sparse[0].set_length(0);
    }
    h.set_cksum();
    let mut t = h.as_bytes().to_vec();
    t.extend_from_slice(&[0u8; 1024]);
    let p = write(&reg, "sparse.tar.gz", &gzip(&t));
    refused(&reg, &["--repo", "x", p.to_str().unwrap()], "sparse member");
    // PAX-format sparse (GNU.sparse.* keys on a regular member).
    let mut t = ext_member(b'x', &pax_record("GNU.sparse.major", "1"));
    t.extend(raw_header("f", b'0', 0));
    t.extend_from_slice(&[0u8; 1024]);
    let p = write(&reg, "pax-sparse.tar", &t);
    refused(&reg, &["--repo", "x", p.to_str().unwrap()], "sparse member");
}

#[test]
fn docker_archive_whose_synthesised_manifest_exceeds_the_read_cap_is_refused() {
    let reg = Reg::new();
    let layer = layer_tar("many");
    let n = 132_000;
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": vec![sha(&layer); n]}});
    let manifest = json!([{"Config": "c.json", "RepoTags": ["many:1"], "Layers": vec!["l.tar"; n]}]);
    let t = tar_bytes(&[
        ("c.json", Item::File(serde_json::to_vec(&config).unwrap())),
        ("l.tar", Item::File(layer)),
        ("manifest.json", Item::File(serde_json::to_vec(&manifest).unwrap())),
    ]);
    let p = write(&reg, "many.tar", &t);
    refused(&reg, &[p.to_str().unwrap()], "bytes wharf reads back");
}

/// One source per case of issue 8 section C; each is refused by import with the finding
/// kind its verify reports, and for the OCI layouts verify of the source itself reports
/// that kind as an error: one check, two callers.
#[test]
fn import_refuses_what_verify_reports_as_an_error() {
    let reg = Reg::new();
    let layer = layer_tar("c");
    let gz = gzip(&layer);
    let mut oci: Vec<(&str, Src, &str)> = Vec::new();
    let mut s = Src::default();
    let m = s.image(&layer, OCI_GZIP, &layer);
    s.entry(m, Some("1"));
    oci.push(("gzip label on a plain tar", s, "media_type_mismatch"));
    let mut s = Src::default();
    let m = s.image(&gz, OCI_ZSTD, &layer);
    s.entry(m, Some("1"));
    oci.push(("zstd label on gzip data", s, "media_type_mismatch"));
    let mut s = Src::default();
    let l = s.put(&layer, OCI_TAR);
    let c = s.put_json(&config_for(&[&layer, &layer]), OCI_CONFIG);
    let m =
        s.put_json(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": c, "layers": [l]}), OCI_MANIFEST);
    s.entry(m, Some("1"));
    oci.push(("diff_ids count mismatch", s, "diff_ids_mismatch"));
    let mut s = Src::default();
    let l = s.put(&layer, OCI_TAR);
    let m = s.put_json(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [l]}), OCI_MANIFEST);
    s.entry(m, Some("1"));
    oci.push(("manifest with no config", s, "invalid_document"));
    let mut s = Src::default();
    let l = s.put(&layer, OCI_TAR);
    let c = s.put_json(&config_for(&[&layer]), OCI_CONFIG);
    let m =
        s.put_json(&json!({"schemaVersion": 3, "mediaType": OCI_MANIFEST, "config": c, "layers": [l]}), OCI_MANIFEST);
    s.entry(m, Some("1"));
    oci.push(("schemaVersion 3", s, "invalid_document"));
    let mut s = Src::default();
    let mut m = s.image(&layer, OCI_TAR, &layer);
    m["platform"] = json!({"os": "linux"});
    let i = s.put_json(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [m]}), OCI_INDEX);
    s.entry(i, Some("1"));
    oci.push(("platform without architecture", s, "invalid_document"));
    for (name, src, kind) in &oci {
        let dir = src.write_dir(&reg.dir.path().join(name.replace(' ', "-")));
        let v = wharf_at(Path::new("/nonexistent"), &["--json", "verify", dir.to_str().unwrap()]).code(1).json();
        assert!(
            v["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "error" && f["kind"] == *kind),
            "{name}: verify of the source: {v}"
        );
        let p = write(&reg, &format!("{}.tar", name.replace(' ', "-")), &src.tar());
        refused(&reg, &["--repo", "c", p.to_str().unwrap()], kind);
        refused(&reg, &["--repo", "c", dir.to_str().unwrap()], kind);
    }
    let cfg = |v: &str| v.as_bytes().to_vec();
    let good_rootfs = format!(r#"{{"type":"layers","diff_ids":["{}"]}}"#, sha(&layer));
    let docker: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
        (
            "junk docker layer wharf labels tar",
            cfg(r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["JUNK"]}}"#),
            b"not a tar at all, just junk bytes".to_vec(),
            "media_type_mismatch",
        ),
        (
            "docker config without os/architecture",
            cfg(&format!(r#"{{"rootfs":{good_rootfs}}}"#)),
            layer.clone(),
            "invalid_document",
        ),
        ("config {}", cfg("{}"), Vec::new(), "invalid_document"),
        (
            "Env of the wrong type",
            cfg(&format!(
                r#"{{"architecture":"amd64","os":"linux","config":{{"Env":"PATH=/bin"}},"rootfs":{good_rootfs}}}"#
            )),
            layer.clone(),
            "invalid_document",
        ),
        (
            "duplicate rootfs key",
            cfg(&format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{good_rootfs},"rootfs":{good_rootfs}}}"#)),
            layer.clone(),
            "duplicate field",
        ),
    ];
    for (name, config, layer_bytes, needle) in docker {
        let config = String::from_utf8(config).unwrap().replace("JUNK", &sha(&layer_bytes)).into_bytes();
        let layers = if layer_bytes.is_empty() { vec![] } else { vec![layer_bytes] };
        let t = docker_archive(&[(config, layers, vec!["c:1"])]);
        let p = write(&reg, &format!("{}.tar", name.replace(['/', ' ', '{', '}'], "-")), &t);
        refused(&reg, &[p.to_str().unwrap()], needle);
    }
}

#[test]
fn import_refused_by_a_manifest_lock_changes_nothing() {
    let reg = Reg::new();
    let a = write(&reg, "a.tar", &docker_archive(&[docker_image("a", vec!["r:a"])]));
    let other = write(&reg, "other.tar", &docker_archive(&[docker_image("other", vec!["r:a"])]));
    let d = reg.json(&["import", a.to_str().unwrap()])["images"][0]["digest"].as_str().unwrap().to_string();
    // Moving r:a takes the tag away from the manifest it points at: each lock attribute
    // that forbids an untag of that manifest refuses the import, before a blob moves
    // (the snapshot covers the pool and staging too).
    for attr in ["--write-enabled", "--delete-enabled"] {
        reg.wharf(&["update", &format!("r@{d}"), attr, "false"]).ok();
        refused(
            &reg,
            &["--repo", "r", "--tag", "a", "--force", other.to_str().unwrap()],
            attr.trim_start_matches("--").replace('-', "_").as_str(),
        );
        assert!(staging_is_empty(&reg), "{attr}: the refused import left staged blobs");
        reg.wharf(&["update", &format!("r@{d}"), attr, "true"]).ok();
    }
    reg.wharf(&["lock", &format!("r@{d}")]).ok();
    refused(&reg, &["--repo", "r", "--tag", "a", "--force", other.to_str().unwrap()], "locked");
}

#[test]
fn multi_repository_archive_refused_late_changes_nothing() {
    let reg = Reg::new();
    // zzz:1 exists and is locked; the archive names aaa:1 first, then zzz:1.
    let z = write(&reg, "z.tar", &docker_archive(&[docker_image("z0", vec!["zzz:1"])]));
    reg.wharf(&["import", z.to_str().unwrap()]).ok();
    reg.wharf(&["lock", "zzz:1"]).ok();
    let both = write(
        &reg,
        "both.tar",
        &docker_archive(&[docker_image("a", vec!["aaa:1"]), docker_image("z1", vec!["zzz:1"])]),
    );
    refused(&reg, &["--force", both.to_str().unwrap()], "locked");
    // A name wharf does not create, after a good one.
    let bad = write(
        &reg,
        "bad.tar",
        &docker_archive(&[docker_image("a", vec!["aaa:1"]), docker_image("b", vec!["zzz/blobs:1"])]),
    );
    refused(&reg, &[bad.to_str().unwrap()], "component `blobs`");
    // --repo with such a name: no pool blob may stay behind.
    let one = write(&reg, "one.tar", &docker_archive(&[docker_image("one", vec!["one:1"])]));
    refused(&reg, &["--repo", "x/blobs/y", one.to_str().unwrap()], "component `blobs`");
}

#[test]
fn tarred_layout_with_dot_slash_member_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(layout) = umoci_layout(tmp.path(), "dot\n") else { return };
    let want = Layout { dir: layout.clone() }.manifest_digest();
    let reg = Reg::new();
    for (flags, name) in [("-cf", "x.tar"), ("-czf", "x.tar.gz")] {
        let out = tmp.path().join(name);
        let st = std::process::Command::new("tar")
            .args(["-C", layout.to_str().unwrap(), flags, out.to_str().unwrap(), "."])
            .status()
            .unwrap();
        assert!(st.success());
        let r = reg.json(&["import", "--repo", "dot", "--tag", "1", out.to_str().unwrap()]);
        assert_eq!(r["images"][0]["digest"], want, "{name}");
    }
    reg.wharf(&["verify"]).ok();
    // `.` and `./` are the root only as directories: a file so named is still refused.
    let t = tar_bytes(&[("./", Item::File(b"x".to_vec()))]);
    let p = write(&reg, "dot-file.tar", &t);
    refused(&reg, &["--repo", "x", p.to_str().unwrap()], "an empty path");
}

#[test]
fn oci_ref_name_with_dot_dot_is_refused() {
    let reg = Reg::new();
    let mut s = Src::default();
    let layer = layer_tar("ref");
    let m = s.image(&layer, OCI_TAR, &layer);
    s.entry(m, Some("../x:1"));
    let p = write(&reg, "dotdot-ref.tar", &s.tar());
    refused(&reg, &[p.to_str().unwrap()], "../x:1");
}

#[test]
fn repo_tags_entry_with_a_digest_is_refused() {
    let reg = Reg::new();
    let zero = format!("x@sha256:{}", "0".repeat(64));
    let p = write(&reg, "digest-tag.tar", &docker_archive(&[docker_image("d", vec![zero.as_str()])]));
    refused(&reg, &[p.to_str().unwrap()], "carries a digest");
}

/// Many members: each costs its name and a digest (identical members are staged once),
/// with no writer thread or fsync per small member.
#[test]
fn many_empty_members_are_staged_once() {
    let reg = Reg::new();
    let mut s = Src::default();
    let layer = layer_tar("many members");
    let m = s.image(&layer, OCI_TAR, &layer);
    s.entry(m, Some("1"));
    let members = s.members();
    let names: Vec<String> = (0..20_000).map(|i| format!("junk/{i}")).collect();
    let mut items: Vec<(&str, Item)> = names.iter().map(|n| (n.as_str(), Item::File(Vec::new()))).collect();
    items.extend(members.iter().map(|(n, b)| (n.as_str(), Item::File(b.clone()))));
    let p = write(&reg, "many-members.tar", &tar_bytes(&items));
    let r = reg.json(&["import", "--repo", "mm", p.to_str().unwrap()]);
    assert_eq!(r["blobs_new"], 3, "{r}");
    assert!(staging_is_empty(&reg));
}
