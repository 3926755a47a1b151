//! Helpers of the lifecycle tests: build small images by hand in the on-disk format
//! (docs/FORMAT.md: blobs, index.json, the `wharf-meta.json` sidecar, as of a fixed
//! clock), check that a registry is sound (every listed closure present and re-hashing to
//! its digest, judged from the files alone), read tags with skopeo, and run wharf as a
//! killable child process.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use sha2::Digest as _;
use wharf::{Digest, Timestamp};

use crate::common::*;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The image tags of regclient/testrepo that skopeo reads as images.
pub const TESTREPO_IMAGE_TAGS: [&str; 5] = ["v2", "v3", "b1", "b2", "b3"];

pub fn t(s: &str) -> Timestamp {
    wharf::parse_timestamp(s).unwrap()
}

fn time(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An OCI descriptor, as the test writes it into documents and index.json.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Desc {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// A repository made by [`Build::repo`]: its name and directory.
pub struct Repo {
    pub name: String,
    pub dir: PathBuf,
}

impl Repo {
    fn read(&self, file: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join(file)).unwrap()).unwrap()
    }

    fn write(&self, file: &str, v: &Value) {
        std::fs::write(self.dir.join(file), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    /// The index.json entries.
    pub fn entries(&self) -> Vec<Value> {
        self.read("index.json")["manifests"].as_array().unwrap().clone()
    }

    /// True when index.json lists the manifest (tagged or not).
    pub fn listed(&self, d: &Digest) -> bool {
        self.entries().iter().any(|e| e["digest"] == d.to_string())
    }

    /// True when the blob file is in the repository.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.dir.join("blobs/sha256").join(d.hex()).is_file()
    }
}

/// Writes images into repositories of an initialised registry, as wharf itself would
/// have written them at `now`: every manifest and tag has its sidecar times (source
/// `wharf`), so no time is backfilled from the clock of a later command.
pub struct Build {
    pub root: PathBuf,
    pub now: Timestamp,
}

impl Build {
    pub fn open(root: &Path) -> Build {
        Build { root: root.to_path_buf(), now: t("2026-01-01T00:00:00Z") }
    }

    /// A new, empty repository.
    pub fn repo(&self, name: &str) -> Repo {
        let repo = Repo { name: name.to_string(), dir: self.root.join(name) };
        assert!(!repo.dir.exists(), "{name} exists already");
        std::fs::create_dir_all(repo.dir.join("blobs/sha256")).unwrap();
        std::fs::write(repo.dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        repo.write("index.json", &json!({"schemaVersion": 2, "manifests": []}));
        let now = time(self.now);
        repo.write(
            "wharf-meta.json",
            &json!({"wharf_meta_version": 2, "repository": {"created": now, "updated": now}, "tags": {}, "manifests": {}}),
        );
        repo
    }

    /// Stores `bytes` as a blob of the repository.
    pub fn put(&self, repo: &Repo, media_type: &str, bytes: &[u8]) -> Desc {
        let digest = Digest::of(bytes);
        std::fs::write(repo.dir.join("blobs/sha256").join(digest.hex()), bytes).unwrap();
        Desc { media_type: media_type.to_string(), digest, size: bytes.len() as u64 }
    }

    /// A layer blob.
    pub fn layer(&self, repo: &Repo, content: &str) -> Desc {
        self.put(repo, OCI_LAYER_TAR, content.as_bytes())
    }

    /// An image manifest with a config made from `seed` and the given layers, optionally
    /// a referrer of `subject`.
    pub fn image(&self, repo: &Repo, seed: &str, layers: &[Desc], subject: Option<&Desc>) -> Desc {
        let config = self.put(
            repo,
            OCI_CONFIG,
            json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"seed":seed}}})
                .to_string()
                .as_bytes(),
        );
        let mut m = json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,"config":config,"layers":layers});
        if let Some(s) = subject {
            m["subject"] = serde_json::to_value(s).unwrap();
            m["artifactType"] = json!("application/vnd.example.sig");
        }
        self.put(repo, OCI_MANIFEST, m.to_string().as_bytes())
    }

    pub fn index(&self, repo: &Repo, manifests: &[Desc]) -> Desc {
        let m = json!({"schemaVersion":2,"mediaType":OCI_INDEX,"manifests":manifests});
        self.put(repo, OCI_INDEX, m.to_string().as_bytes())
    }

    /// Points a new tag at `desc` (its untagged entry, if any, gains the tag).
    pub fn tag(&self, repo: &Repo, tag: &str, desc: &Desc) {
        let now = time(self.now);
        let mut index = repo.read("index.json");
        let entries = index["manifests"].as_array_mut().unwrap();
        assert!(!entries.iter().any(|e| e["annotations"][REF_NAME] == tag), "{}:{tag} exists already", repo.name);
        entries.retain(|e| !(e["digest"] == desc.digest.to_string() && e["annotations"][REF_NAME].is_null()));
        let mut entry = serde_json::to_value(desc).unwrap();
        entry["annotations"] = json!({ REF_NAME: tag });
        entries.push(entry);
        repo.write("index.json", &index);
        let mut meta = repo.read("wharf-meta.json");
        let d = desc.digest.to_string();
        let m = meta["manifests"].as_object_mut().unwrap().entry(d.clone()).or_insert(json!({}));
        if m.get("created").is_none() {
            *m = json!({"created": now, "created_source": "wharf"});
        }
        m.as_object_mut().unwrap().remove("untagged_at");
        m.as_object_mut().unwrap().remove("untagged_source");
        meta["tags"][tag] = json!({"digest": d, "created": now, "updated": now, "created_source": "wharf"});
        meta["repository"]["updated"] = json!(now);
        repo.write("wharf-meta.json", &meta);
    }

    /// Lists `desc` in index.json without a tag (untagged since `now`); nothing when it
    /// is listed already.
    pub fn untagged(&self, repo: &Repo, desc: &Desc) {
        if repo.listed(&desc.digest) {
            return;
        }
        let now = time(self.now);
        let mut index = repo.read("index.json");
        index["manifests"].as_array_mut().unwrap().push(serde_json::to_value(desc).unwrap());
        repo.write("index.json", &index);
        let mut meta = repo.read("wharf-meta.json");
        meta["manifests"][desc.digest.to_string()] =
            json!({"created": now, "created_source": "wharf", "untagged_at": now, "untagged_source": "wharf"});
        meta["repository"]["updated"] = json!(now);
        repo.write("wharf-meta.json", &meta);
    }
}

/// The repositories under a registry root: every directory holding an `oci-layout`,
/// outside `.wharf/` and `blobs/`, by its path relative to the root.
fn repositories(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir != root && dir.join("oci-layout").is_file() {
            out.push(dir.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if e.file_type().unwrap().is_dir() && name != ".wharf" && name != "blobs" {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The descriptors a document's bytes point at (an index's manifests; a manifest's
/// config and layers; an artifact manifest's blobs; a schema 1 manifest's fsLayers),
/// never its subject; `None` when they are not a JSON object.
fn children(bytes: &[u8]) -> Option<Vec<(Digest, String)>> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.as_object()?;
    let mut out = Vec::new();
    let desc = |d: &Value| {
        (Digest::parse(d["digest"].as_str().unwrap_or("")), d["mediaType"].as_str().unwrap_or("").to_string())
    };
    for key in ["manifests", "layers", "blobs"] {
        for d in v[key].as_array().into_iter().flatten() {
            out.push(desc(d));
        }
    }
    if v["config"].is_object() {
        out.push(desc(&v["config"]));
    }
    for l in v["fsLayers"].as_array().into_iter().flatten() {
        out.push((Digest::parse(l["blobSum"].as_str().unwrap_or("")), String::new()));
    }
    out.into_iter().map(|(d, mt)| d.ok().map(|d| (d, mt))).collect()
}

fn has_children(media_type: &str) -> bool {
    media_type.ends_with("manifest.v1+json")
        || media_type.ends_with("index.v1+json")
        || media_type.starts_with("application/vnd.docker.distribution.manifest.")
}

/// Every problem with the registry at `root`: a blob of a listed manifest's closure that is
/// absent or does not hash to its name, or a document of it that does not parse. Judged
/// from the files alone (no wharf code). Empty means sound.
pub fn problems(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for name in repositories(root) {
        let dir = root.join(&name);
        let index: Value = match std::fs::read(dir.join("index.json")).map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(v)) => v,
            other => {
                out.push(format!("{name}: index.json does not read: {other:?}"));
                continue;
            }
        };
        let mut seen: BTreeSet<Digest> = BTreeSet::new();
        let mut stack: Vec<(Digest, String)> = Vec::new();
        for e in index["manifests"].as_array().into_iter().flatten() {
            match Digest::parse(e["digest"].as_str().unwrap_or("")) {
                Ok(d) => stack.push((d, e["mediaType"].as_str().unwrap_or("").to_string())),
                Err(err) => out.push(format!("{name}: index.json entry {e}: {err}")),
            }
        }
        while let Some((d, media_type)) = stack.pop() {
            if !seen.insert(d.clone()) {
                continue;
            }
            let Ok(bytes) = std::fs::read(dir.join("blobs/sha256").join(d.hex())) else {
                out.push(format!("{name}: blob {d} is missing"));
                continue;
            };
            if Digest::from_bytes(sha2::Sha256::digest(&bytes).into()) != d {
                out.push(format!("{name}: blob {d} does not hash to its name"));
                continue;
            }
            if has_children(&media_type) {
                match children(&bytes) {
                    Some(c) => stack.extend(c),
                    None => out.push(format!("{name}: document {d} ({media_type}) does not parse")),
                }
            }
        }
    }
    out
}

#[track_caller]
pub fn assert_sound(root: &Path) {
    let p = problems(root);
    assert!(p.is_empty(), "registry {} is not sound:\n{}", root.display(), p.join("\n"));
}

/// Reads `repo:tag` with skopeo (config and manifest); panics with skopeo's message.
#[track_caller]
pub fn skopeo_reads(root: &Path, repo: &str, tag: &str) {
    let Some(skopeo) = tool("skopeo") else { return };
    let target = format!("oci:{}:{tag}", root.join(repo).display());
    let (code, _, err) = run_tool(&skopeo, &["inspect", &target]);
    assert_eq!(code, 0, "skopeo inspect {target}: {err}");
}

/// Starts wharf as a child process (for kill -9 and concurrency tests).
pub fn spawn_wharf(root: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn wharf")
}

/// Writes `n` unreferenced blobs of a few bytes into `store_dir/sha256/` and returns them.
pub fn garbage(store_dir: &Path, n: usize, seed: &str) -> Vec<PathBuf> {
    let dir = store_dir.join("sha256");
    std::fs::create_dir_all(&dir).unwrap();
    (0..n)
        .map(|i| {
            let bytes = format!("garbage {seed} {i}");
            let p = dir.join(hex::encode(sha2::Sha256::digest(bytes.as_bytes())));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

/// The registry's testrepo, adopted from the shared fixture.
pub fn with_testrepo() -> Option<Reg> {
    let src = fixture("regclient/testrepo")?;
    let reg = Reg::new();
    reg.adopt_layout(&src, "testrepo");
    Some(reg)
}

/// A gc report with the run-specific flag removed, for dry-run/real-run comparisons.
pub fn plan_of(mut v: serde_json::Value) -> serde_json::Value {
    v.as_object_mut().unwrap().remove("dry_run");
    if let Some(gc) = v.get_mut("gc").and_then(|g| g.as_object_mut()) {
        gc.remove("dry_run");
    }
    v
}
