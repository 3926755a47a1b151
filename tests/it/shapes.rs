//! Builders for import inputs: small images made with umoci and converted with skopeo
//! (the real producers available offline here), and the archive shapes of producers that
//! need a daemon (Docker 25+, `podman save -m`, crane, nix/jib) assembled member by
//! member from them, plus raw tar writing for hostile archives.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::*;

pub fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A tar member to write.
pub enum Item {
    File(Vec<u8>),
    Symlink(String),
    Hardlink(String),
    /// A regular file whose header declares `declared` bytes but only `data` follows.
    Short {
        declared: u64,
        data: Vec<u8>,
    },
}

/// Writes a tar with raw member names (so hostile names survive).
pub fn tar_bytes(items: &[(&str, Item)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, item) in items {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            let n = name.as_bytes();
            old.name[..n.len()].copy_from_slice(n);
        }
        h.set_mode(0o644);
        h.set_mtime(0);
        match item {
            Item::File(d) => {
                h.set_size(d.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
            }
            Item::Symlink(t) | Item::Hardlink(t) => {
                h.set_size(0);
                h.set_entry_type(if matches!(item, Item::Symlink(_)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                let old = h.as_old_mut();
                old.linkname[..t.len()].copy_from_slice(t.as_bytes());
            }
            Item::Short { declared, .. } => {
                h.set_size(*declared);
                h.set_entry_type(tar::EntryType::Regular);
            }
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        match item {
            Item::File(d) => {
                out.extend_from_slice(d);
                out.resize(out.len().div_ceil(512) * 512, 0);
            }
            Item::Short { data, .. } => {
                out.extend_from_slice(data);
                return out; // truncated: no padding, no end marker
            }
            _ => {}
        }
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// A small image made by umoci: a layout at `dir` with tag `t`, holding a file
/// `/hello` with `content`. Returns None when umoci is absent (outside CI).
pub fn umoci_layout(dir: &Path, content: &str) -> Option<PathBuf> {
    let umoci = tool("umoci")?;
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    let l = layout.to_str().unwrap();
    let run = |args: &[&str]| {
        let (code, out, err) = run_tool(&umoci, args);
        assert_eq!(code, 0, "umoci {args:?}: {out}{err}");
    };
    run(&["init", "--layout", l]);
    run(&["new", "--image", &format!("{l}:t")]);
    run(&["unpack", "--rootless", "--image", &format!("{l}:t"), bundle.to_str().unwrap()]);
    std::fs::write(bundle.join("rootfs/hello"), content).unwrap();
    run(&["repack", "--image", &format!("{l}:t"), bundle.to_str().unwrap()]);
    run(&["config", "--image", &format!("{l}:t"), "--config.cmd", "/hello"]);
    Some(layout)
}

/// `skopeo copy SRC DST`, asserting success.
pub fn skopeo_copy(src: &str, dst: &str) {
    let skopeo = tool("skopeo").expect("skopeo checked by the caller");
    let (code, out, err) = run_tool(&skopeo, &["copy", "-q", src, dst]);
    assert_eq!(code, 0, "skopeo copy {src} {dst}: {out}{err}");
}

/// The manifest digest skopeo sees at `reference`.
pub fn skopeo_digest(reference: &str) -> String {
    let skopeo = tool("skopeo").expect("skopeo");
    let (code, out, err) = run_tool(&skopeo, &["inspect", "--raw", reference]);
    assert_eq!(code, 0, "skopeo inspect {reference}: {err}");
    sha(out.as_bytes())
}

/// Reads a layout's files: (index.json, blob by digest).
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn index(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap()).unwrap()
    }
    pub fn blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(self.dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
    }
    pub fn json(&self, digest: &str) -> Value {
        serde_json::from_slice(&self.blob(digest)).unwrap()
    }
    /// The first manifest of index.json.
    pub fn manifest_digest(&self) -> String {
        self.index()["manifests"][0]["digest"].as_str().unwrap().to_string()
    }
}

fn blob_member(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// A Docker 25+ `docker save`: the OCI layout plus manifest.json, index entries named
/// with io.containerd.image.name and typed as Docker v2 manifests, an extra unreferenced
/// blob. With `missing_platform`, the top entry is an index that also lists an arm64
/// manifest whose blobs are absent.
pub fn docker25(src: &Layout, name: &str, missing_platform: bool) -> Vec<u8> {
    let m = src.manifest_digest();
    let manifest = src.json(&m);
    let cfg = manifest["config"]["digest"].as_str().unwrap().to_string();
    let layers: Vec<String> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect();
    let mut items: Vec<(String, Item)> =
        vec![("oci-layout".into(), Item::File(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()))];
    for d in std::iter::once(&m).chain(std::iter::once(&cfg)).chain(layers.iter()) {
        items.push((blob_member(d), Item::File(src.blob(d))));
    }
    let extra = b"{\"id\":\"legacy v1 json\"}".to_vec();
    items.push((blob_member(&sha(&extra)), Item::File(extra)));
    let top = if missing_platform {
        let mbytes = src.blob(&m);
        let idx = json!({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":m,"size":mbytes.len(),"platform":{"architecture":"amd64","os":"linux"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":sha(b"absent"),"size":6,"platform":{"architecture":"arm64","os":"linux"}}]});
        let b = serde_json::to_vec(&idx).unwrap();
        let d = sha(&b);
        items.push((blob_member(&d), Item::File(b.clone())));
        json!({"mediaType":"application/vnd.oci.image.index.v1+json","digest":d,"size":b.len()})
    } else {
        json!({"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":m,"size":src.blob(&m).len()})
    };
    let mut top = top;
    let tag = name.rsplit_once(':').unwrap().1;
    top["annotations"] =
        json!({"io.containerd.image.name": format!("docker.io/{name}"), "org.opencontainers.image.ref.name": tag});
    let index = json!({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[top]});
    items.push(("index.json".into(), Item::File(serde_json::to_vec(&index).unwrap())));
    let mj = json!([{"Config": blob_member(&cfg), "RepoTags":[name], "Layers": layers.iter().map(|l| blob_member(l)).collect::<Vec<_>>()}]);
    items.push(("manifest.json".into(), Item::File(serde_json::to_vec(&mj).unwrap())));
    let refs: Vec<(&str, Item)> = items.iter().map(|(n, i)| (n.as_str(), clone_item(i))).collect();
    tar_bytes(&refs)
}

fn clone_item(i: &Item) -> Item {
    match i {
        Item::File(d) => Item::File(d.clone()),
        Item::Symlink(t) => Item::Symlink(t.clone()),
        Item::Hardlink(t) => Item::Hardlink(t.clone()),
        Item::Short { declared, data } => Item::Short { declared: *declared, data: data.clone() },
    }
}

/// Uncompressed layers and configs of `srcs` in the docker-archive shape of each
/// producer: `podman` (`<hex>.tar` layers, `<hex>.json` configs, several images in one
/// manifest.json), `crane` (`<hex>.tar.gz` gzip layers, config named `sha256:<hex>`),
/// `nix` (manifest.json as the LAST member, layers under `<hex>/layer.tar`).
pub fn docker_shape(shape: &str, srcs: &[(&Layout, &str)]) -> Vec<u8> {
    let mut items: Vec<(String, Item)> = Vec::new();
    let mut entries = Vec::new();
    for (src, name) in srcs {
        let m = src.json(&src.manifest_digest());
        let cfg = m["config"]["digest"].as_str().unwrap().to_string();
        let cfg_hex = cfg.trim_start_matches("sha256:").to_string();
        let cfg_member = match shape {
            "crane" => cfg.clone(),
            _ => format!("{cfg_hex}.json"),
        };
        items.push((cfg_member.clone(), Item::File(src.blob(&cfg))));
        let mut layers = Vec::new();
        for l in m["layers"].as_array().unwrap() {
            let d = l["digest"].as_str().unwrap();
            let gz = src.blob(d); // umoci layers are gzip
            let hex = d.trim_start_matches("sha256:");
            let (member, bytes) = match shape {
                "crane" => (format!("{hex}.tar.gz"), gz),
                "podman" => (format!("{hex}.tar"), gunzip(&gz)),
                _ => (format!("{hex}/layer.tar"), gunzip(&gz)),
            };
            items.push((member.clone(), Item::File(bytes)));
            layers.push(member);
        }
        entries.push(json!({"Config": cfg_member, "RepoTags": [name], "Layers": layers}));
    }
    let mj = (String::from("manifest.json"), Item::File(serde_json::to_vec(&entries).unwrap()));
    if shape == "nix" {
        items.push(mj);
    } else {
        items.insert(0, mj);
    }
    let refs: Vec<(&str, Item)> = items.iter().map(|(n, i)| (n.as_str(), clone_item(i))).collect();
    tar_bytes(&refs)
}

pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).unwrap();
    out
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Files of an image unpacked by umoci (path → content), for tree comparisons.
pub fn unpacked_tree(layout_ref: &str, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let umoci = tool("umoci").expect("umoci");
    let bundle = dir.join(format!("unpack-{}", hex::encode(sha2::Sha256::digest(layout_ref.as_bytes()))));
    let (code, out, err) = run_tool(&umoci, &["unpack", "--rootless", "--image", layout_ref, bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "umoci unpack {layout_ref}: {out}{err}");
    let root = bundle.join("rootfs");
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            files.push((e.path().strip_prefix(&root).unwrap().display().to_string(), std::fs::read(e.path()).unwrap()));
        }
    }
    files
}
