//! Regression tests of issue 8's CLI, lock, lifecycle and mode defects (B10, B11, D15,
//! E18–E23): each test is named after the defect it pins.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;
use crate::lifecycle_util::*;

const HELLO: &str = "hello.oci-archive.tar";

/// A registry holding `hello:latest` (imported from the committed sample).
fn hello_registry() -> Reg {
    let reg = Reg::new();
    reg.wharf(&["import", testdata(HELLO).to_str().unwrap()]).ok();
    reg
}

/// The digest `REPO:TAG` points at.
fn digest_of(reg: &Reg, repo: &str, tag: &str) -> String {
    let v = reg.json(&["tags", repo]);
    v["tags"].as_array().unwrap().iter().find(|t| t["name"] == tag).expect("tag listed")["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[track_caller]
fn no_panic(r: &Run) {
    assert!(!r.stderr.contains("panicked") && r.code != 101, "wharf panicked:\n{}", r.stderr);
}

// ---------------------------------------------------------------- B10: duration overflow

#[test]
fn duration_overflow_is_a_usage_error_for_every_time_option() {
    let reg = hello_registry();
    reg.wharf(&["config", "soft-delete", "--days", "90"]).ok();
    reg.wharf(&["config", "retention", "--untagged-days", "365"]).ok();
    reg.wharf(&["untag", "hello:latest"]).ok();
    reg.wharf(&["import", "--tag", "again", testdata(HELLO).to_str().unwrap()]).ok();
    let before = reg.snapshot();
    // (arguments, the option the error must name)
    let cases: &[(&[&str], &str)] = &[
        (&["gc", "--grace", "100000000d"], "--grace"),
        (&["gc", "--dry-run", "--grace", "100000000d"], "--grace"),
        (&["gc", "--grace", "99999999999999999999d"], "--grace"),
        (&["gc", "--grace", "106751991167d"], "--grace"),
        (&["gc", "--grace", "1x"], "--grace"),
        (&["--as-of", "0000-01-01", "gc", "--grace", "1s"], "--grace"),
        (&["purge", "--filter", ".*:.*", "--ago", "100000000d"], "--ago"),
        (&["purge", "--filter", ".*:.*", "--ago", "100000000d", "--dry-run"], "--ago"),
        (&["purge", "--filter", ".*:.*", "--ago", "9223372036854775807s"], "--ago"),
        (&["--as-of", "0000-01-01T00:00:00Z", "purge", "--filter", ".*:.*", "--ago", "1d"], "--ago"),
        (&["--as-of", "yesterday", "tags", "hello"], "--as-of"),
        (&["--as-of", "+275760-01-01T00:00:00Z", "tags", "hello"], "--as-of"),
        // Retention counts back from --as-of; soft delete counts forward.
        (&["--as-of", "0000-06-01", "sweep"], "retention"),
        (&["--as-of", "0000-06-01", "sweep", "--dry-run"], "retention"),
        (&["--as-of", "9999-12-31T00:00:00Z", "delete", "hello:again"], "soft-delete"),
        (&["--as-of", "9999-12-31T00:00:00Z", "delete", "hello:again", "--dry-run"], "soft-delete"),
        (&["--as-of", "9999-12-31T00:00:00Z", "purge", "--filter", "hello:.*"], "soft-delete"),
    ];
    for (args, option) in cases {
        let r = reg.wharf(args);
        no_panic(&r);
        assert_eq!(r.code, 2, "{args:?}: exit code\n{}", r.stderr);
        assert!(r.stderr.contains(option), "{args:?}: the error does not name {option}:\n{}", r.stderr);
        assert_eq!(before, reg.snapshot(), "{args:?} changed the registry");
    }
    // The edges that fit still work.
    reg.wharf(&["gc", "--dry-run", "--grace", "700000d"]).ok();
    reg.wharf(&["--as-of", "9999-01-01", "purge", "--filter", "nomatch:.*", "--ago", "3000000d"]).ok();
}

// ---------------------------------------------------------------- B11: broken pipes

/// Runs wharf with stdout on a pipe whose reading end is already closed, so that the
/// first write meets EPIPE (deterministically, with no timing involved).
fn wharf_closed_stdout(root: &Path, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run wharf");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn broken_pipe_ends_quietly_for_every_printing_command() {
    let reg = hello_registry();
    let hello = testdata(HELLO);
    let hello = hello.to_str().unwrap();
    // (arguments, the exit code of the work itself)
    let cases: &[(&[&str], i32)] = &[
        (&["tags", "hello"], 0),
        (&["--json", "tags", "hello"], 0),
        (&["repos"], 0),
        (&["manifests", "hello"], 0),
        (&["show", "hello:latest"], 0),
        (&["import", "--tag", "piped", hello], 0),
        (&["--json", "import", "--tag", "piped-json", hello], 0),
        (&["purge", "--filter", "hello:piped.*", "--dry-run"], 0),
        (&["purge", "--filter", "hello:piped-json"], 0),
        (&["verify"], 0),
        (&["gc", "--grace", "0s"], 0),
        (&["config"], 0),
        // An error still exits 2 (with --json the error object meets the closed pipe).
        (&["--json", "tags", "nosuchrepo"], 2),
    ];
    for (args, code) in cases {
        let r = wharf_closed_stdout(&reg.root, args);
        no_panic(&r);
        assert_eq!(r.code, *code, "{args:?}: exit code\n{}", r.stderr);
        assert!(!r.stderr.contains("failed printing"), "{args:?}:\n{}", r.stderr);
        if *code == 0 {
            assert!(r.stderr.is_empty(), "{args:?}: a closed stdout must end quietly, got:\n{}", r.stderr);
        }
    }
    // The work done while stdout was closed is committed.
    let tags = wharf_tags(&reg, "hello");
    assert!(tags.contains(&"piped".to_string()), "{tags:?}");
    assert!(!tags.contains(&"piped-json".to_string()), "purge ran: {tags:?}");
}

#[test]
fn broken_pipe_through_head_exits_like_the_command() {
    // 2000 tags: every listing is larger than a pipe's 64 KiB buffer, so `head` closes
    // the pipe while wharf is still writing (EPIPE is certain, not a matter of timing).
    let reg = hello_registry();
    let index_path = reg.root.join("hello/index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let entry = index["manifests"][0].clone();
    let entries: Vec<serde_json::Value> = (0..2000)
        .map(|i| {
            let mut e = entry.clone();
            e["annotations"]["org.opencontainers.image.ref.name"] = serde_json::json!(format!("t{i:04}"));
            e
        })
        .collect();
    index["manifests"] = serde_json::Value::Array(entries);
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let w = env!("CARGO_BIN_EXE_wharf");
    let root = reg.root.display().to_string();
    let hello = testdata(HELLO).display().to_string();
    for pipeline in [
        format!("'{w}' --root '{root}' tags hello | head -1"),
        format!("'{w}' --root '{root}' --json tags hello | head -c10"),
        format!("'{w}' --root '{root}' manifests hello | head -1"),
        format!("'{w}' --root '{root}' purge --filter 'hello:t0.*' --dry-run | head -1"),
        format!("'{w}' --root '{root}' purge --filter 'hello:t1.*' | head -1"),
        // Small output: head may read it all first; the closed-pipe test above pins it.
        format!("'{w}' --root '{root}' import --tag via-head '{hello}' | head -1"),
    ] {
        // `set -o pipefail` makes the pipeline's status wharf's.
        let out = Command::new("bash").arg("-c").arg(format!("set -o pipefail; {pipeline}")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{pipeline}: {stderr}");
        assert!(stderr.is_empty(), "{pipeline}: a closed stdout must end quietly: {stderr}");
        assert!(!out.stdout.is_empty(), "{pipeline}: head printed nothing");
    }
    let tags = wharf_tags(&reg, "hello");
    assert!(tags.contains(&"via-head".to_string()) && tags.contains(&"t0999".to_string()), "{}", tags.len());
    assert!(!tags.iter().any(|t| t.starts_with("t1")), "the purge was committed");
}

#[test]
fn broken_pipe_during_export_names_the_output() {
    // A layer larger than export's 1 MiB buffer, so the failed write is the blob copy.
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("big");
    let layer = b.layer(&repo, &"x".repeat(3 << 20));
    let img = b.image(&repo, "big", &[layer], None);
    b.tag(&repo, "1", &img);
    for format in ["oci-archive", "docker-archive"] {
        let r = wharf_closed_stdout(&reg.root, &["export", "big:1", "--format", format, "-o", "-"]);
        no_panic(&r);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("could not write the export to stdout (-o -)"), "{format}:\n{}", r.stderr);
        assert!(!r.stderr.contains("blobs/sha256"), "{format}: the error names the source blob:\n{}", r.stderr);
    }
}

// ---------------------------------------------------------------- D15: read lock by digest

#[test]
fn read_lock_not_bypassed_by_digest() {
    let reg = hello_registry();
    let d = digest_of(&reg, "hello", "latest");
    reg.wharf(&["update", "hello:latest", "--read-enabled", "false"]).ok();
    let out = reg.dir.path().join("out.tar");
    let before = reg.snapshot();
    let by_digest = format!("hello@{d}");
    let pinned = format!("hello:latest@{d}");
    for args in [
        vec!["export", by_digest.as_str(), "-o", out.to_str().unwrap()],
        vec!["export", pinned.as_str(), "-o", out.to_str().unwrap()],
        vec!["export", "hello:latest", "-o", out.to_str().unwrap()],
        vec!["tag", by_digest.as_str(), "hello:copy"],
        vec!["tag", by_digest.as_str(), "other:copy"],
    ] {
        reg.wharf(&args).code(2).stderr_has("the tag hello:latest has read_enabled = false");
        assert!(!out.exists(), "{args:?} wrote the output");
        assert_eq!(before, reg.snapshot(), "{args:?} changed the registry");
    }
    // show is metadata (ACR's read_enabled guards pull, not show): still answers.
    reg.wharf(&["show", &by_digest]).ok();
    // A second, open tag on the same manifest is its own path: it reads.
    reg.wharf(&["update", "hello:latest", "--read-enabled", "true"]).ok();
    reg.wharf(&["tag", "hello:latest", "hello:open"]).ok();
    reg.wharf(&["update", "hello:latest", "--read-enabled", "false"]).ok();
    reg.wharf(&["export", "hello:open", "-o", out.to_str().unwrap()]).ok();
    // But by digest every tag guards it.
    reg.wharf(&["export", &by_digest, "-o", reg.dir.path().join("o2.tar").to_str().unwrap()])
        .code(2)
        .stderr_has("read_enabled = false");
    // A manifest lock guards every path.
    reg.wharf(&["update", "hello:latest", "--read-enabled", "true"]).ok();
    reg.wharf(&["update", &by_digest, "--read-enabled", "false"]).ok();
    reg.wharf(&["export", "hello:open", "-o", reg.dir.path().join("o3.tar").to_str().unwrap()])
        .code(2)
        .stderr_has(&format!("the manifest hello@{d} has read_enabled = false"));
}

#[test]
fn read_lock_of_a_child_guards_its_index() {
    let reg = Reg::new();
    let b = Build::open(&reg.root);
    let repo = b.repo("multi");
    let l = b.layer(&repo, "l");
    let amd = b.image(&repo, "amd", std::slice::from_ref(&l), None);
    let arm = b.image(&repo, "arm", std::slice::from_ref(&l), None);
    let idx = b.index(&repo, &[amd.clone(), arm.clone()]);
    b.tag(&repo, "all", &idx);
    b.tag(&repo, "arm", &arm);
    drop(repo);
    let out = reg.dir.path().join("out");
    let export = |r: &str| reg.wharf(&["export", r, "--format", "oci-layout", "-o", out.to_str().unwrap()]);
    export("multi:all").ok();
    std::fs::remove_dir_all(&out).unwrap();
    // A read-locked tag on a child: the index reads that child, so it is refused.
    reg.wharf(&["update", "multi:arm", "--read-enabled", "false"]).ok();
    let before = reg.snapshot();
    export("multi:all").code(2).stderr_has("the tag multi:arm has read_enabled = false");
    export(&format!("multi@{}", arm.digest)).code(2).stderr_has("multi:arm");
    reg.wharf(&["tag", "multi:all", "multi:copy"]).code(2).stderr_has("multi:arm");
    assert!(!out.exists());
    assert_eq!(before, reg.snapshot());
    // The other child, reached by digest through the index, is not guarded by arm.
    export(&format!("multi@{}", amd.digest)).ok();
    std::fs::remove_dir_all(&out).unwrap();
    // A read-locked index guards its nested children reached by digest.
    reg.wharf(&["update", "multi:arm", "--read-enabled", "true"]).ok();
    reg.wharf(&["update", "multi:all", "--read-enabled", "false"]).ok();
    export(&format!("multi@{}", amd.digest)).code(2).stderr_has("the tag multi:all has read_enabled = false");
    reg.wharf(&["tag", &format!("multi@{}", amd.digest), "multi:amd"]).code(2).stderr_has("multi:all");
}

// ---------------------------------------------------------------- E20: one broken repository

#[test]
fn broken_repository_does_not_block_the_listing() {
    let reg = hello_registry();
    reg.wharf(&["tag", "hello:latest", "broken/app:1"]).ok();
    reg.wharf(&["tag", "hello:latest", "zz:1"]).ok();
    std::fs::write(reg.root.join("broken/app/index.json"), b"{not json").unwrap();
    let before = reg.snapshot();
    let r = reg.wharf(&["repos"]).code(1);
    assert!(r.stdout.contains("hello") && r.stdout.contains("zz"), "healthy ones listed:\n{}", r.stdout);
    assert!(!r.stdout.contains("broken/app"), "{}", r.stdout);
    assert!(r.stderr.contains("broken/app") && r.stderr.contains("index.json"), "{}", r.stderr);
    let r = reg.wharf(&["--json", "repos"]).code(1);
    let v = r.json();
    let names: Vec<&str> = v["repositories"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hello", "zz"]);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(v["errors"][0]["name"], "broken/app");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("index.json"));
    assert!(r.stderr.contains("broken/app"));
    // gc still fails closed.
    reg.wharf(&["gc", "--grace", "0s"]).code(2).stderr_has("nothing deleted");
    assert_eq!(before, reg.snapshot());
    // Healthy: exit 0 and an empty errors array.
    std::fs::remove_dir_all(reg.root.join("broken")).unwrap();
    assert_eq!(reg.json(&["repos"])["errors"], serde_json::json!([]));
}

// ---------------------------------------------------------------- E21: file modes

/// Runs wharf under `umask` (through `sh -c 'umask U; exec wharf …'`).
fn wharf_umask(umask: &str, root: &Path, args: &[&str]) -> Run {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .output()
        .expect("run sh");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn file_modes_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    for (umask, file_mode, dir_mode) in [("022", 0o644, 0o755), ("077", 0o600, 0o700), ("002", 0o664, 0o775)] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("reg");
        let w = |args: &[&str]| wharf_umask(umask, &root, args).ok();
        let oci = testdata(HELLO);
        let docker = testdata("hello.docker-archive.tar");
        w(&["init"]);
        w(&["import", oci.to_str().unwrap()]);
        w(&["import", "--repo", "team/app", "--tag", "d", docker.to_str().unwrap()]);
        w(&["tag", "hello:latest", "other/nested/repo:x"]);
        w(&["config", "soft-delete", "--days", "3"]);
        w(&["tag", "hello:latest", "hello:gone"]);
        w(&["untag", "hello:gone"]);
        w(&["lock", "hello:latest"]);
        let archive = dir.path().join("out.tar");
        let layout = dir.path().join("out-layout");
        w(&["export", "hello:latest", "-o", archive.to_str().unwrap()]);
        w(&["export", "hello:latest", "--format", "oci-layout", "-o", layout.to_str().unwrap()]);
        let mut kinds = std::collections::BTreeSet::new();
        let mut seen = 0;
        for top in [&root, &layout] {
            for e in walkdir::WalkDir::new(top) {
                let e = e.unwrap();
                let mode = e.metadata().unwrap().permissions().mode() & 0o7777;
                let rel = e.path().strip_prefix(top).unwrap().display().to_string();
                let want = if e.file_type().is_dir() { dir_mode } else { file_mode };
                assert_eq!(mode, want, "umask {umask}: {} is {mode:o}, want {want:o}", e.path().display());
                seen += 1;
                for kind in ["blobs/sha256/", "index.json", "oci-layout", "wharf-meta.json", "registry.json", "trash/"]
                {
                    if rel.contains(kind) {
                        kinds.insert(kind);
                    }
                }
            }
        }
        assert_eq!(kinds.len(), 6, "umask {umask}: every kind of file was checked: {kinds:?}");
        assert!(seen > 30, "umask {umask}: only {seen} entries");
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, file_mode, "umask {umask}: the exported archive");
    }
}

// ---------------------------------------------------------------- E22: gc vs new staging areas

/// Waits (bounded) for `path` to exist.
fn wait_for(path: &Path) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "{} never appeared", path.display());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn gc_grace_0_never_removes_a_staging_area_being_created() {
    // Deterministic: the import is held (test hook) exactly in the window between its
    // staging directory's mkdir and its owner flock, and gc --grace 0s runs then.
    let reg = Reg::new();
    let (import, flag, area) = paused_in_staging(&reg, &["import", "--tag", "held", testdata(HELLO).to_str().unwrap()]);
    assert!(area.is_dir() && !area.join("owner").exists(), "paused inside the window: {}", area.display());
    // gc may not act now (it cannot take its lock: --no-wait makes that an exit 2), but
    // whatever it does, it must not take the area.
    let gc = reg.wharf(&["--no-wait", "gc", "--grace", "0s"]);
    no_panic(&gc);
    assert!(area.is_dir(), "gc removed a staging area that was being created:\n{}", gc.stdout);
    std::fs::remove_file(&flag).unwrap();
    let out = import.wait_with_output().unwrap();
    assert!(out.status.success(), "the import failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(wharf_tags(&reg, "hello").contains(&"held".to_string()));
    // A gc that waits for the lock still spares the live area and then finds nothing.
    reg.wharf(&["gc", "--grace", "0s"]).ok();
    assert_sound(&reg.root);
}

#[test]
fn gc_grace_0_loop_does_not_fail_concurrent_imports() {
    // Real processes, bounded: 3 importers × 40 imports against a gc --grace 0s loop.
    // (Before the fix this failed about 0.2–0.9% of imports on a loaded machine; the
    // deterministic test above pins the window itself.)
    let reg = Reg::new();
    let root = reg.root.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gc = {
        let stop = stop.clone();
        let root = root.clone();
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = wharf_at(&root, &["gc", "--grace", "0s"]);
                assert_eq!(r.code, 0, "gc failed: {}", r.stderr);
                runs += 1;
            }
            runs
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                for i in 0..40 {
                    let tag = format!("w{w}-{i}");
                    let r = wharf_at(&root, &["import", "--tag", &tag, testdata(HELLO).to_str().unwrap()]);
                    if r.code != 0 {
                        failures.push(format!("{tag}: {}", r.stderr));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let gc_runs = gc.join().unwrap();
    assert!(gc_runs > 0);
    assert!(
        failures.is_empty(),
        "{} of 120 imports failed under gc --grace 0s:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(wharf_tags(&reg, "hello").len(), 120);
    assert_sound(&reg.root);
}

// ---------------------------------------------------------------- E19: hard links counted once

/// A registry with `big:1` imported (so repository blobs are hard links to the pool):
/// an image whose layer and config hold 3 MiB each, imported from an OCI layout.
fn big_registry() -> (Reg, u64) {
    let (m, c, l) = crate::registry_support::tiny_image(&"y".repeat(3 << 20));
    let layout = tempfile::tempdir().unwrap();
    crate::registry_support::write_layout(
        layout.path(),
        &[&c, &l],
        &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1"))],
    );
    let reg = Reg::new();
    reg.wharf(&["import", "--repo", "big", layout.path().to_str().unwrap()]).ok();
    let distinct: u64 = std::fs::read_dir(reg.root.join("big/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    (reg, distinct)
}

#[test]
fn gc_freed_bytes_counts_hard_links_once() {
    let (reg, distinct) = big_registry();
    assert!(distinct > 3 << 20);
    reg.wharf(&["delete", "big:1"]).ok();
    let dry = reg.json(&["gc", "--dry-run", "--grace", "0s"]);
    let real = reg.json(&["gc", "--grace", "0s"]);
    assert_eq!(real["total_bytes"], 2 * distinct, "total_bytes keeps its meaning (per link): {real:#}");
    assert_eq!(real["freed_bytes"], distinct, "each inode once: {real:#}");
    assert_eq!(dry["freed_bytes"], real["freed_bytes"]);
    let human = reg.wharf(&["gc", "--grace", "0s"]).ok();
    assert!(human.stdout.contains("nothing to collect"), "{}", human.stdout);
}

#[test]
fn gc_freed_bytes_is_zero_while_another_repository_keeps_the_inode() {
    let (reg, distinct) = big_registry();
    reg.wharf(&["tag", "big:1", "keeper:1"]).ok();
    reg.wharf(&["delete", "big:1"]).ok();
    let r = reg.json(&["gc", "--grace", "0s"]);
    assert_eq!(r["total_bytes"], distinct, "big's links go: {r:#}");
    assert_eq!(r["freed_bytes"], 0, "keeper and the pool still hold every inode: {r:#}");
    // Sweep reports the same figure, at the top and in its gc section.
    reg.wharf(&["delete", "keeper:1"]).ok();
    let s = reg.json(&["--as-of", "2999-01-01", "sweep"]);
    assert_eq!(s["freed_bytes"], distinct, "{s:#}");
    assert_eq!(s["gc"]["freed_bytes"], distinct);
    assert_eq!(s["gc"]["total_bytes"], 2 * distinct);
}

// ---------------------------------------------------------------- E18: Docker-typed manifests

#[test]
fn docker_typed_tags_are_reported_and_foreign_tools_indeed_fail() {
    let (Some(skopeo), Some(umoci)) = (tool("skopeo"), tool("umoci")) else { return };
    let reg = hello_registry();
    // skopeo's dir: keeps Docker media types for a docker-archive source (--dest-compress
    // makes the layers the gzip their Docker type says).
    let dir = reg.dir.path().join("dir-source");
    let docker = testdata("hello.docker-archive.tar");
    let (code, _, err) = run_tool(
        &skopeo,
        &[
            "copy",
            "-q",
            "--dest-compress",
            &format!("docker-archive:{}", docker.display()),
            &format!("dir:{}", dir.display()),
        ],
    );
    assert_eq!(code, 0, "skopeo copy: {err}");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("application/vnd.docker.distribution.manifest.v2+json"), "{manifest}");
    reg.wharf(&["import", "--repo", "dock", "--tag", "1", dir.to_str().unwrap()]).ok();
    reg.wharf(&["import", "--repo", "synth", docker.to_str().unwrap()]).ok();

    // verify: one info finding naming the tag and the tools; still exit 0.
    let v = reg.wharf(&["--json", "verify"]).ok().json();
    let findings = v["findings"].as_array().unwrap();
    let docker_findings: Vec<&serde_json::Value> =
        findings.iter().filter(|f| f["kind"] == "docker_media_type").collect();
    assert_eq!(docker_findings.len(), 1, "{findings:#?}");
    let f = docker_findings[0];
    assert_eq!(f["severity"], "info");
    assert_eq!(f["repository"], "dock");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("tag `1`") && msg.contains("skopeo") && msg.contains("umoci"), "{msg}");
    let human = reg.wharf(&["verify", "dock"]).ok();
    assert!(human.stdout.contains("docker_media_type") && human.stdout.contains("1 info"), "{}", human.stdout);

    // show marks it, human and JSON; OCI-typed manifests are not marked.
    let s = reg.json(&["show", "dock:1"]);
    assert_eq!(s["unreadable_by"], serde_json::json!(["skopeo's oci: transport (1.x)", "umoci"]));
    let human = reg.wharf(&["show", "dock:1"]).ok();
    assert!(human.stdout.contains("Docker-typed") && human.stdout.contains("umoci cannot read it"), "{}", human.stdout);
    for r in ["hello:latest", "synth:latest"] {
        assert_eq!(reg.json(&["show", r])["unreadable_by"], serde_json::json!([]), "{r}");
        assert!(!reg.wharf(&["show", r]).ok().stdout.contains("Docker-typed"));
    }

    // The claim is true: the OCI-only tools fail on the Docker-typed tag and read the others.
    let root = reg.root.display().to_string();
    let (code, _, err) = run_tool(&skopeo, &["inspect", &format!("oci:{root}/dock:1")]);
    assert_ne!(code, 0, "skopeo oci: read the Docker-typed tag: the finding would be false");
    assert!(!err.is_empty());
    let (code, _, _) = run_tool(&umoci, &["stat", "--image", &format!("{root}/dock:1")]);
    assert_ne!(code, 0, "umoci read the Docker-typed tag: the finding would be false");
    let (code, _, err) = run_tool(&skopeo, &["inspect", &format!("oci:{root}/hello:latest")]);
    assert_eq!(code, 0, "control: {err}");
    let (code, _, err) = run_tool(&umoci, &["stat", "--image", &format!("{root}/synth:latest")]);
    assert_eq!(code, 0, "control: {err}");
}

// ---------------------------------------------------------------- E23: smaller items

#[test]
fn verify_jobs_capped_at_a_multiple_of_the_cores() {
    let reg = hello_registry();
    let before = reg.snapshot();
    for n in ["65535", "257"] {
        reg.wharf(&["verify", "--jobs", n]).code(2).stderr_has(&format!("--jobs {n} is more than verify can use"));
    }
    assert_eq!(before, reg.snapshot());
    reg.wharf(&["verify", "--jobs", "1"]).ok();
    let cores = std::thread::available_parallelism().unwrap().get();
    reg.wharf(&["verify", "--jobs", &(4 * cores).min(256).to_string()]).ok();
}

#[test]
fn delete_says_when_and_how_gc_frees_the_blobs() {
    let reg = hello_registry();
    let r = reg.wharf(&["delete", "hello:latest"]).ok();
    assert!(
        r.stdout.contains("grace period (1h by default") && r.stdout.contains("`wharf gc --grace 0s` frees them now"),
        "{}",
        r.stdout
    );
    // And it is true: the next plain gc frees nothing, --grace 0s does.
    assert_eq!(reg.json(&["gc"])["total_blobs"], 0);
    assert_eq!(reg.json(&["gc", "--grace", "0s"])["total_blobs"], 6);
}

#[test]
fn manifests_top_0_is_a_usage_error() {
    let reg = hello_registry();
    reg.wharf(&["manifests", "hello", "--top", "0"]).code(2).stderr_has("--top 0");
    let r = reg.wharf(&["manifests", "hello", "--top", "1"]).ok();
    assert!(!r.stdout.contains("has no manifests") && r.stdout.contains("latest"), "{}", r.stdout);
}

#[test]
fn bad_filter_regex_names_the_filter() {
    let reg = hello_registry();
    let before = reg.snapshot();
    for (filter, part) in [("hello:v[", "tag"), ("he(llo:.*", "repository"), ("hello:a{99999999}", "tag")] {
        let r = reg.wharf(&["purge", "--filter", filter, "--dry-run"]).code(2);
        assert!(r.stderr.contains(&format!("--filter `{filter}`")), "{filter}: {}", r.stderr);
        assert!(r.stderr.contains(part) || r.stderr.contains("has no `:`"), "{filter}: {}", r.stderr);
        assert!(!r.stderr.contains("^(?:"), "{filter}: the error shows wharf's anchors: {}", r.stderr);
    }
    assert_eq!(before, reg.snapshot());
}

#[test]
fn config_alone_prints_the_policies() {
    let reg = Reg::new();
    let r = reg.wharf(&["config"]).ok();
    assert_eq!(r.stdout, "retention: off\nsoft delete: off\nsignatures: not required\n");
    reg.wharf(&["config", "retention", "--untagged-days", "7"]).ok();
    reg.wharf(&["config", "soft-delete", "--days", "3"]).ok();
    let v = reg.json(&["config"]);
    assert_eq!(v["retention"]["days"], 7);
    assert_eq!(v["soft_delete"]["days"], 3);
    assert_eq!(
        reg.wharf(&["config"]).ok().stdout,
        "retention: 7 days\nsoft delete: 3 days\nsignatures: not required\n"
    );
}

#[test]
fn docs_links_resolve() {
    // Every relative Markdown link in README.md and docs/ names a file that exists
    // (docs/CLI.md linked a missing IMPORT.md).
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![base.join("README.md")];
    files.extend(std::fs::read_dir(base.join("docs")).unwrap().map(|e| e.unwrap().path()));
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").unwrap();
    let mut checked = 0;
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(f).unwrap();
        for c in link.captures_iter(&text) {
            let target = &c[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let p = f.parent().unwrap().join(target);
            assert!(p.exists(), "{} links to {target}, which does not exist", f.display());
            checked += 1;
        }
    }
    assert!(checked > 5, "only {checked} links checked");
}

/// The staging-race fix holds for every command that stages blobs (they all create
/// their area through `Ctx::create_staging`, under the shared lock): add and attach
/// were found creating theirs without it in review.
#[test]
fn staging_areas_of_add_and_attach_are_never_taken_by_gc() {
    let reg = Reg::new();
    reg.wharf(&["import", testdata(HELLO).to_str().unwrap()]).ok();
    let file = reg.dir.path().join("notes.txt");
    std::fs::write(&file, b"release notes\n").unwrap();
    let f = file.to_str().unwrap();
    let cases: &[&[&str]] =
        &[&["add", "files/notes:1", f], &["attach", "hello:latest", f, "--artifact-type", "text/plain"]];
    for args in cases {
        let (child, flag, area) = paused_in_staging(&reg, args);
        let gc = reg.wharf(&["--no-wait", "gc", "--grace", "0s"]);
        no_panic(&gc);
        assert!(area.is_dir(), "{args:?}: gc removed a staging area being created:\n{}", gc.stdout);
        std::fs::remove_file(&flag).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_sound(&reg.root);
}

/// Starts `wharf ARGS` held by the test hook between its staging directory's mkdir and
/// its owner lock; returns the child, the flag to remove to let it go on, and the area.
fn paused_in_staging(reg: &Reg, args: &[&str]) -> (std::process::Child, std::path::PathBuf, std::path::PathBuf) {
    let flag = reg.dir.path().join("paused");
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(&reg.root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .env("WHARF_TEST_PAUSE_STAGING", &flag)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&flag);
    let area = std::path::PathBuf::from(std::fs::read_to_string(&flag).unwrap());
    (child, flag, area)
}

/// Issue 16 D4: a FIFO or a symbolic link as a repository's index.json or sidecar breaks
/// that repository only: `repos` reports it and lists the others, exit 1 (as for an
/// invalid index.json), and never opens the FIFO.
#[test]
fn special_index_or_sidecar_breaks_one_repository_not_the_listing() {
    let reg = hello_registry();
    reg.wharf(&["tag", "hello:latest", "fifo/app:1"]).ok();
    reg.wharf(&["tag", "hello:latest", "link/app:1"]).ok();
    reg.wharf(&["tag", "hello:latest", "zz:1"]).ok();
    let fifo = reg.root.join("fifo/app/index.json");
    std::fs::remove_file(&fifo).unwrap();
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let sidecar = reg.root.join("link/app/wharf-meta.json");
    let real = reg.dir.path().join("meta-elsewhere.json");
    std::fs::rename(&sidecar, &real).unwrap();
    std::os::unix::fs::symlink(&real, &sidecar).unwrap();
    let r = reg.wharf(&["--json", "repos"]).code(1);
    let v = r.json();
    let names: Vec<&str> = v["repositories"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hello", "zz"], "{v:#}");
    let broken: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(broken, ["fifo/app", "link/app"], "{v:#}");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("index.json"), "{v:#}");
    assert!(v["errors"][1]["message"].as_str().unwrap().contains("wharf-meta.json"), "{v:#}");
}
