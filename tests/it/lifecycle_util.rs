//! Helpers of the lifecycle tests: build small images through the library, check that a
//! registry is sound (every tagged closure present and re-hashing to its digest), read
//! tags with skopeo, and run wharf as a killable child process.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use sha2::Digest as _;
use wharf::model::media::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST};
use wharf::model::time::parse_timestamp;
use wharf::model::{Descriptor, Digest, RepoName, Tag, Timestamp};
use wharf::registry::{Registry, Repository};

use crate::common::*;

/// The image tags of regclient/testrepo that skopeo reads as images.
pub const TESTREPO_IMAGE_TAGS: [&str; 5] = ["v2", "v3", "b1", "b2", "b3"];

pub fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

/// Writes images into repositories through the library.
pub struct Build {
    pub reg: Registry,
    pub now: Timestamp,
}

impl Build {
    pub fn open(root: &Path) -> Build {
        Build { reg: Registry::open(root).unwrap(), now: t("2026-01-01T00:00:00Z") }
    }

    pub fn repo(&self, name: &str) -> Repository {
        self.reg.open_or_create_repo(&RepoName::parse(name).unwrap(), self.now).unwrap()
    }

    fn put(&self, repo: &Repository, media_type: &str, bytes: &[u8]) -> Descriptor {
        let tmp = self.reg.staging_root();
        std::fs::create_dir_all(&tmp).unwrap();
        let d = repo.blobs.put_bytes(&tmp, bytes).unwrap();
        Descriptor::new(media_type, d, bytes.len() as u64)
    }

    /// A layer blob.
    pub fn layer(&self, repo: &Repository, content: &str) -> Descriptor {
        self.put(repo, OCI_LAYER_TAR, content.as_bytes())
    }

    /// An image manifest with a config made from `seed` and the given layers, optionally
    /// a referrer of `subject`.
    pub fn image(
        &self,
        repo: &Repository,
        seed: &str,
        layers: &[Descriptor],
        subject: Option<&Descriptor>,
    ) -> Descriptor {
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

    pub fn index(&self, repo: &Repository, manifests: &[Descriptor]) -> Descriptor {
        let m = json!({"schemaVersion":2,"mediaType":OCI_INDEX,"manifests":manifests});
        self.put(repo, OCI_INDEX, m.to_string().as_bytes())
    }

    pub fn tag(&self, repo: &mut Repository, tag: &str, desc: &Descriptor) {
        repo.set_tag(&Tag::parse(tag).unwrap(), desc, true, self.now).unwrap();
        repo.save().unwrap();
    }

    pub fn untagged(&self, repo: &mut Repository, desc: &Descriptor) {
        repo.add_untagged(desc, self.now);
        repo.save().unwrap();
    }
}

/// Every problem with the registry at `root`: a blob of a listed manifest's closure that is
/// absent or does not hash to its name. Empty means sound.
pub fn problems(root: &Path) -> Vec<String> {
    let reg = Registry::open(root).unwrap();
    let mut out = Vec::new();
    for name in reg.repo_names().unwrap() {
        let repo = match reg.open_repo(&name, t("2026-01-01")) {
            Ok(r) => r,
            Err(e) => {
                out.push(format!("{name}: {e}"));
                continue;
            }
        };
        for d in repo.manifest_digests() {
            let mt = repo.descriptor_of(&d).unwrap().media_type.clone();
            let closure = match repo.closure(&d, &mt, false) {
                Ok(c) => c,
                Err(e) => {
                    out.push(format!("{name}@{d}: {e}"));
                    continue;
                }
            };
            for b in closure {
                if !b.present {
                    out.push(format!("{name}@{d}: blob {} is missing", b.digest));
                    continue;
                }
                let bytes = std::fs::read(repo.blobs.path(&b.digest)).unwrap();
                if Digest::from_bytes(sha2::Sha256::digest(&bytes).into()) != b.digest {
                    out.push(format!("{name}@{d}: blob {} does not hash to its name", b.digest));
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
