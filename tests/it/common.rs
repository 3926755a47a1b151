//! The harness shared by every integration test.
//!
//! - [`Reg`]: a temporary registry and a `wharf` runner bound to it.
//! - [`tool`]: a foreign tool (skopeo, umoci, oci-image-tool). Under `CI=true` a missing
//!   tool fails the test; elsewhere the test says it was not run and returns.
//! - [`fixture`]: a file under ../shared/fixtures/public, with the same rule.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// True when running under CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}

/// The path of a foreign tool, or `None` (with a note) when it is absent outside CI.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()));
    match found {
        Some(p) => Some(p),
        None if in_ci() => panic!("{name} is required under CI=true (apt-get install -y skopeo umoci oci-image-tool)"),
        None => {
            eprintln!("NOT RUN: {name} is not installed; this interop check did not run");
            None
        }
    }
}

/// A shared public fixture, or `None` (with a note) when ../shared is absent outside CI.
pub fn fixture(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/public").join(rel);
    if p.exists() {
        Some(p)
    } else if in_ci() {
        panic!("fixture {} is missing under CI=true", p.display())
    } else {
        eprintln!("NOT RUN: fixture {} is absent; this test did not run", p.display());
        None
    }
}

/// The project's own testdata.
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

/// The result of one wharf run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(self, want: i32) -> Run {
        assert_eq!(self.code, want, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        self.code(0)
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        self
    }
}

/// A temporary registry.
pub struct Reg {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Reg {
    /// A fresh, initialised registry.
    pub fn new() -> Reg {
        let r = Reg::uninit();
        r.wharf(&["init"]).ok();
        r
    }

    /// A temp dir whose `reg/` is not created yet.
    pub fn uninit() -> Reg {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("reg");
        Reg { dir, root }
    }

    /// Runs wharf with `--root` set to this registry.
    pub fn wharf(&self, args: &[&str]) -> Run {
        wharf_at(&self.root, args)
    }

    /// Runs wharf with `--json`, expecting success, and returns the parsed report.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        self.wharf(&a).ok().json()
    }

    /// Copies a layout directory into the registry as repository `name` (a layout
    /// "made by hand").
    pub fn adopt_layout(&self, src: &Path, name: &str) -> PathBuf {
        let dst = self.root.join(name);
        copy_dir(src, &dst);
        dst
    }

    /// A snapshot of every file under the root (path, size, content hash), for "nothing
    /// changed" assertions.
    pub fn snapshot(&self) -> Vec<(String, u64, String)> {
        snapshot(&self.root)
    }
}

/// Runs the wharf binary with `--root ROOT`.
pub fn wharf_at(root: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .output()
        .expect("run wharf");
    Run::from(out)
}

/// Every file under `dir`: relative path, size and SHA-256 of its content, sorted.
/// The lock file is left out (taking a lock creates it).
pub fn snapshot(dir: &Path) -> Vec<(String, u64, String)> {
    use sha2::Digest as _;
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.expect("walk");
        if e.file_type().is_dir() {
            out.push((e.path().strip_prefix(dir).unwrap().display().to_string() + "/", 0, String::new()));
            continue;
        }
        let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
        if rel.ends_with(".wharf/lock") {
            continue;
        }
        let bytes = std::fs::read(e.path()).expect("read");
        out.push((rel, bytes.len() as u64, hex::encode(sha2::Sha256::digest(&bytes))));
    }
    out
}

pub fn copy_dir(src: &Path, dst: &Path) {
    for e in walkdir::WalkDir::new(src) {
        let e = e.expect("walk");
        let target = dst.join(e.path().strip_prefix(src).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
            let mut perm = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&target, perm).unwrap();
        }
    }
}

/// Runs a foreign tool, returning (exit code, stdout, stderr).
pub fn run_tool(program: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(program).args(args).output().expect("run tool");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Tags as `wharf tags --json` lists them.
pub fn wharf_tags(reg: &Reg, repo: &str) -> Vec<String> {
    reg.json(&["tags", repo])["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// Distinct, non-text bytes of length `n` seeded by `seed` (xorshift): a "release
/// binary" for artifact tests.
pub fn pseudo_random(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
