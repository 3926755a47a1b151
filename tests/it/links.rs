//! Issue 8 §A and defect 5: wharf never follows a symbolic link inside a registry root
//! and never opens (or blocks on) anything but a regular file or directory.
//!
//! Two tables cover the class: every place in a registry where a link or a FIFO can sit
//! ([`PLACES`]) × every command ([`COMMANDS`]). Each cell runs on a fresh copy of one
//! template registry, under a watchdog (a hang is a failure, whatever the time). Adding
//! a place or a command is one row. The four reproductions of the issue have their own
//! regression tests, named after the defect.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// A child that runs longer than this is hung: it is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs wharf with `--root ROOT` under the watchdog.
fn wharf_bounded(root: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("WHARF_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wharf");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("wharf {args:?} hung (killed after {WATCHDOG:?})\nstdout:\n{stdout}\nstderr:\n{stderr}");
    };
    Run { code: status.code().unwrap_or(-1), stdout, stderr }
}

/// Everything under `dir`, never following a link: (path, what it is). Files carry
/// their content hash, links their target.
fn lsnapshot(dir: &Path) -> Vec<(String, String)> {
    use sha2::Digest as _;
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("list").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let ft = m.file_type();
            if ft.is_symlink() {
                out.push((rel, format!("link -> {}", std::fs::read_link(&p).unwrap().display())));
            } else if ft.is_dir() {
                out.push((rel, "dir".into()));
                walk(base, &p, out);
            } else if ft.is_file() {
                let bytes = std::fs::read(&p).expect("read");
                out.push((rel, format!("file {}", hex::encode(sha2::Sha256::digest(&bytes)))));
            } else {
                out.push((rel, "special".into()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

fn mkfifo(p: &Path) {
    rustix::fs::mknodat(rustix::fs::CWD, p, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0)
        .expect("mkfifo");
}

/// Copies a tree, keeping links as links (the template may hold none, but a copy must
/// never follow one).
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&s, &d);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&s).unwrap(), &d).unwrap();
        } else {
            std::fs::copy(&s, &d).unwrap();
        }
    }
}

fn archive() -> String {
    testdata("hello.oci-archive.tar").to_str().unwrap().to_string()
}

/// The template registry: `hello:1` and `team/app:1` (the same image), soft delete on
/// and one trash record (from `hello:2`, another image). Built once per test binary.
fn template() -> &'static Path {
    static T: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &T.get_or_init(|| {
        let reg = Reg::new();
        reg.wharf(&["import", "--repo", "hello", "--tag", "1", &archive()]).ok();
        reg.wharf(&["import", "--repo", "team/app", "--tag", "1", &archive()]).ok();
        reg.wharf(&["config", "soft-delete", "--days", "7"]).ok();
        let docker = testdata("hello.docker-archive.tar");
        reg.wharf(&["import", "--repo", "hello", "--tag", "2", docker.to_str().unwrap()]).ok();
        reg.wharf(&["delete", "hello:2"]).ok();
        assert!(reg.root.join(".wharf/trash").is_dir(), "the template has a trash record");
        let root = reg.root.clone();
        (reg.dir, root)
    })
    .1
}

/// The manifest of `repo:1` and its first layer, hex.
fn blob_hexes(root: &Path, repo: &str) -> (String, String) {
    let dir = root.join(repo);
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(&m)).unwrap()).unwrap();
    (m, manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string())
}

/// `rel` with `{layer}`, `{manifest}` and `{trash}` (the trash record's file name)
/// filled in from the registry at `root`.
fn resolve(root: &Path, repo: &str, rel: &str) -> String {
    let (manifest, layer) = blob_hexes(root, repo);
    let trash = std::fs::read_dir(root.join(".wharf/trash"))
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).find(|n| n.ends_with(".json")))
        .ok()
        .flatten()
        .unwrap_or_default();
    rel.replace("{layer}", &layer).replace("{manifest}", &manifest).replace("{trash}", &trash)
}

/// One place in a registry where a link or a FIFO can be planted.
struct Place {
    /// Path relative to the root; `{layer}` is the first layer's hex.
    rel: &'static str,
    /// The repository the place belongs to (commands address it).
    repo: &'static str,
    /// Commands that must refuse (exit 2, naming the place) rather than carry on.
    refuse: &'static [&'static str],
}

const ALL: &[&str] = &["gc", "sweep", "delete", "import", "tag", "export", "repos", "tags", "purge"];

/// Every place. Commands not listed under `refuse` do not use the place; they may
/// succeed (and must still leave it, and what it points at, alone) or refuse.
const PLACES: &[Place] = &[
    Place { rel: ".wharf", repo: "hello", refuse: ALL },
    Place { rel: ".wharf/registry.json", repo: "hello", refuse: ALL },
    Place { rel: ".wharf/lock", repo: "hello", refuse: ALL },
    Place { rel: ".wharf/blobs", repo: "hello", refuse: &["gc", "sweep", "import"] },
    Place { rel: ".wharf/blobs/sha256", repo: "hello", refuse: &["gc", "sweep", "import"] },
    Place { rel: ".wharf/blobs/sha256/{layer}", repo: "hello", refuse: &["gc", "sweep", "import"] },
    Place { rel: ".wharf/staging", repo: "hello", refuse: &["gc", "sweep", "delete", "import"] },
    Place { rel: ".wharf/trash", repo: "hello", refuse: &["gc", "sweep", "delete"] },
    Place { rel: ".wharf/trash/{trash}", repo: "hello", refuse: &["gc", "sweep", "delete"] },
    Place { rel: "hello", repo: "hello", refuse: ALL },
    Place { rel: "team", repo: "team/app", refuse: ALL },
    Place { rel: "hello/oci-layout", repo: "hello", refuse: ALL },
    Place { rel: "hello/index.json", repo: "hello", refuse: ALL },
    Place { rel: "hello/wharf-meta.json", repo: "hello", refuse: ALL },
    Place {
        rel: "hello/blobs",
        repo: "hello",
        refuse: &["gc", "sweep", "delete", "import", "export", "repos", "purge"],
    },
    Place { rel: "hello/blobs/sha256", repo: "hello", refuse: &["gc", "sweep", "delete", "import", "export"] },
    Place { rel: "hello/blobs/sha256/{layer}", repo: "hello", refuse: &["gc", "sweep", "delete", "import", "export"] },
    Place {
        rel: "hello/blobs/sha256/{manifest}",
        repo: "hello",
        // `tag` within one repository rewrites index.json only: it may go ahead.
        refuse: &["gc", "sweep", "delete", "import", "export"],
    },
];

/// The commands, with `{repo}` the place's repository and `{out}` a fresh output path.
const COMMANDS: &[(&str, &[&str])] = &[
    ("verify", &["--json", "verify"]),
    ("gc", &["gc", "--grace", "0s"]),
    ("sweep", &["sweep"]),
    ("delete", &["delete", "--repository", "{repo}"]),
    ("import", &["import", "--repo", "{repo}", "--tag", "new", "{archive}"]),
    ("tag", &["tag", "{repo}:1", "{repo}:copy"]),
    ("export", &["export", "{repo}:1", "-o", "{out}"]),
    ("repos", &["repos"]),
    ("tags", &["tags", "{repo}"]),
    ("purge", &["purge", "--filter", "{repo}:.*"]),
];

/// A fresh registry from the template, and the place resolved in it.
struct Cell {
    _dir: tempfile::TempDir,
    root: PathBuf,
    place: PathBuf,
    rel: String,
    out: PathBuf,
}

fn cell(place: &Place) -> Cell {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("reg");
    copy_tree(template(), &root);
    let rel = resolve(&root, place.repo, place.rel);
    let out = dir.path().join("out.tar");
    Cell { place: root.join(&rel), root, rel, out, _dir: dir }
}

fn args_for(args: &[&str], place: &Place, c: &Cell) -> Vec<String> {
    args.iter()
        .map(|a| {
            a.replace("{repo}", place.repo).replace("{archive}", &archive()).replace("{out}", c.out.to_str().unwrap())
        })
        .collect()
}

/// Moves what is at `p` to `outside` (a directory outside the root) and leaves a link to
/// it, so that following the link would reach real, writable registry content.
fn plant_link(p: &Path, outside: &Path) -> PathBuf {
    let target = outside.join("moved");
    std::fs::rename(p, &target).expect("move the original out");
    std::os::unix::fs::symlink(&target, p).unwrap();
    target
}

/// Replaces what is at `p` with a FIFO.
fn plant_fifo(p: &Path) {
    if std::fs::symlink_metadata(p).unwrap().is_dir() {
        std::fs::remove_dir_all(p).unwrap();
    } else {
        std::fs::remove_file(p).unwrap();
    }
    mkfifo(p);
}

/// Verify names the place as a special-file finding and exits 1.
#[track_caller]
fn assert_verify_reports(r: &Run, rel: &str, what: &str) {
    assert_eq!(r.code, 1, "verify exits 1 on {rel}\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("verify --json");
    let hit = v["findings"].as_array().unwrap().iter().any(|f| {
        f["kind"] == "special_file"
            && f["severity"] == "error"
            && f["file"].as_str() == Some(rel)
            && f["message"].as_str().unwrap_or("").contains(what)
    });
    assert!(hit, "verify names {rel} as {what}: {}", v["findings"]);
}

/// The cell's outcome: a refusal names the place and what it is; a success left it be.
#[track_caller]
fn assert_outcome(r: &Run, place: &Place, cmd: &str, c: &Cell, what: &str) {
    let must = place.refuse.contains(&cmd);
    let where_ = format!("{cmd} with {what} at {}", c.rel);
    match r.code {
        2 => {
            assert!(r.stderr.contains(what), "{where_}: the refusal says what is wrong ({what})\nstderr:\n{}", r.stderr)
        }
        // `repos` lists the other repositories and reports the broken one (exit 1).
        1 if cmd == "repos" => {
            assert!(r.stderr.contains(what), "{where_}: the report says what is wrong ({what})\nstderr:\n{}", r.stderr);
            let named = r.stderr.contains(c.place.to_str().unwrap()) || r.stderr.contains(&c.rel);
            assert!(named, "{where_}: the report names the path\nstderr:\n{}", r.stderr);
        }
        0 if !must => {}
        code => panic!(
            "{where_}: exit {code}, expected {}\nstdout:\n{}\nstderr:\n{}",
            if must { "2" } else { "0 or 2" },
            r.stdout,
            r.stderr
        ),
    }
    if r.code == 2 {
        let named = r.stderr.contains(c.place.to_str().unwrap()) || r.stderr.contains(&c.rel);
        assert!(named, "{where_}: the refusal names the path\nstderr:\n{}", r.stderr);
    }
}

#[test]
fn symlink_class_every_place_every_command() {
    let mut cells = 0;
    for place in PLACES {
        for (cmd, args) in COMMANDS {
            let c = cell(place);
            let outside = tempfile::tempdir().unwrap();
            let target = plant_link(&c.place, outside.path());
            let before = lsnapshot(outside.path());
            let mut reg_before = lsnapshot(&c.root);
            let r = wharf_bounded(&c.root, &args_for(args, place, &c).iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(before, lsnapshot(outside.path()), "{cmd} with a link at {}: the outside is untouched", c.rel);
            assert_eq!(
                std::fs::read_link(&c.place).ok().as_deref(),
                Some(target.as_path()),
                "{cmd}: the link at {} is still there, still pointing where it did",
                c.rel
            );
            if *cmd == "verify" {
                assert_verify_reports(&r, &c.rel, "symbolic link");
            } else {
                assert_outcome(&r, place, cmd, &c, "symbolic link");
                if r.code != 0 {
                    // A refusal (or `repos` reporting a broken repository) changes nothing
                    // (the lock file may appear).
                    let mut after = lsnapshot(&c.root);
                    after.retain(|(p, _)| p != ".wharf/lock");
                    reg_before.retain(|(p, _)| p != ".wharf/lock");
                    assert_eq!(reg_before, after, "{cmd} refused with a link at {}: nothing changed", c.rel);
                }
            }
            cells += 1;
        }
    }
    assert_eq!(cells, PLACES.len() * COMMANDS.len());
}

#[test]
fn fifo_class_every_place_every_command() {
    for place in PLACES {
        for (cmd, args) in COMMANDS {
            let c = cell(place);
            plant_fifo(&c.place);
            let r = wharf_bounded(&c.root, &args_for(args, place, &c).iter().map(String::as_str).collect::<Vec<_>>());
            let m = std::fs::symlink_metadata(&c.place).expect("the FIFO is still there");
            assert!(std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()), "{cmd}: the FIFO at {} stays", c.rel);
            if *cmd == "verify" {
                assert_verify_reports(&r, &c.rel, "FIFO");
            } else {
                assert_outcome(&r, place, cmd, &c, "FIFO");
            }
        }
    }
}

/// A FIFO inside a source layout (a blob, index.json, oci-layout) is refused by import,
/// which neither hangs nor writes anything.
#[test]
fn fifo_in_a_source_layout_is_refused_by_import() {
    let src_reg = template();
    for rel in ["index.json", "oci-layout", "blobs/sha256/{layer}"] {
        let reg = Reg::new();
        let work = tempfile::tempdir().unwrap();
        let layout = work.path().join("layout");
        copy_tree(&src_reg.join("hello"), &layout);
        let _ = std::fs::remove_file(layout.join("wharf-meta.json"));
        let rel = resolve(src_reg, "hello", rel);
        plant_fifo(&layout.join(&rel));
        let before = reg.snapshot();
        let r = wharf_bounded(&reg.root, &["import", "--repo", "x", "--tag", "1", layout.to_str().unwrap()]);
        assert_eq!(r.code, 2, "import with a FIFO at {rel}\nstderr:\n{}", r.stderr);
        if rel != "oci-layout" {
            assert!(r.stderr.contains("FIFO"), "the refusal says FIFO: {}", r.stderr);
        } else {
            // Without a regular oci-layout file the directory is not a layout at all.
            assert!(r.stderr.contains("no oci-layout file"), "{}", r.stderr);
        }
        assert_eq!(before, reg.snapshot(), "a refused import changes nothing");
    }
}

/// A directory with a few subdirectories and files, as a user's other disk would hold.
fn other_dir() -> tempfile::TempDir {
    let other = tempfile::tempdir().unwrap();
    for d in ["a", "b", "sha256"] {
        std::fs::create_dir_all(other.path().join(d)).unwrap();
        std::fs::write(other.path().join(d).join("keep"), b"precious").unwrap();
    }
    for i in 0..3 {
        let name = format!("{:064x}", i + 1);
        std::fs::write(other.path().join("sha256").join(name), b"precious blob").unwrap();
    }
    // Old enough for any grace period: following a link, gc would take all of it.
    let old = std::time::SystemTime::now() - Duration::from_secs(3 * 86400);
    let mut stack = vec![other.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            std::fs::File::open(&p).unwrap().set_modified(old).unwrap();
        }
    }
    other
}

/// Reproduction 1: `rm -r R/.wharf/staging; ln -s /other R/.wharf/staging; wharf gc`
/// removed every old subdirectory of /other.
#[test]
fn symlink_staging_not_followed_by_gc() {
    let c = cell(&PLACES[PLACES.iter().position(|p| p.rel == ".wharf/staging").unwrap()]);
    let other = other_dir();
    std::fs::remove_dir_all(c.root.join(".wharf/staging")).unwrap();
    std::os::unix::fs::symlink(other.path(), c.root.join(".wharf/staging")).unwrap();
    let before = lsnapshot(other.path());
    let r = wharf_bounded(&c.root, &["gc", "--grace", "0s"]);
    assert_eq!(before, lsnapshot(other.path()), "gc left /other alone");
    assert_eq!(r.code, 2, "gc fails closed: {}", r.stderr);
    assert!(r.stderr.contains(".wharf/staging") && r.stderr.contains("symbolic link"), "{}", r.stderr);
}

/// Reproduction 2: `ln -s /other R/hello/blobs` (or `blobs/sha256`, or `.wharf/blobs`),
/// then `wharf sweep` unlinked every 64-hex file of /other/sha256/.
#[test]
fn symlink_blobs_not_followed_by_sweep() {
    for rel in ["hello/blobs", "hello/blobs/sha256", ".wharf/blobs", ".wharf/blobs/sha256"] {
        let c = cell(&PLACES[0]);
        let other = other_dir();
        let p = c.root.join(rel);
        std::fs::remove_dir_all(&p).unwrap();
        let target = if rel.ends_with("sha256") { other.path().join("sha256") } else { other.path().to_path_buf() };
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let before = lsnapshot(other.path());
        let r = wharf_bounded(&c.root, &["sweep"]);
        assert_eq!(before, lsnapshot(other.path()), "sweep with {rel} linked left /other alone");
        assert_eq!(r.code, 2, "sweep with {rel} linked fails closed: {}", r.stderr);
        assert!(r.stderr.contains(rel) && r.stderr.contains("symbolic link"), "{}", r.stderr);
    }
}

/// Reproduction 3: `ln -s /other R/team; wharf delete --repository team/app` deleted
/// /other/app.
#[test]
fn symlink_repo_parent_not_followed_by_delete() {
    let c = cell(&PLACES[0]);
    let other = other_dir();
    std::fs::rename(c.root.join("team"), other.path().join("team")).unwrap();
    std::fs::rename(other.path().join("team/app"), other.path().join("app")).unwrap();
    std::os::unix::fs::symlink(other.path(), c.root.join("team")).unwrap();
    assert!(other.path().join("app/oci-layout").is_file(), "/other/app is a layout");
    let before = lsnapshot(other.path());
    let r = wharf_bounded(&c.root, &["delete", "--repository", "team/app"]);
    assert_eq!(before, lsnapshot(other.path()), "delete left /other/app alone");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("reg/team") && r.stderr.contains("symbolic link"), "{}", r.stderr);
}

/// Reproduction 4: `ln -s /other R/evil; wharf import --repo evil --tag x a.tar`
/// rewrote /other/index.json and wrote blobs there.
#[test]
fn symlink_repo_not_followed_by_import() {
    let c = cell(&PLACES[0]);
    let other = other_dir();
    copy_tree(&c.root.join("hello"), other.path());
    std::os::unix::fs::symlink(other.path(), c.root.join("evil")).unwrap();
    let before = lsnapshot(other.path());
    let reg_before = snapshot(&c.root.join(".wharf/blobs"));
    let docker = testdata("hello.docker-archive.tar");
    let r = wharf_bounded(&c.root, &["import", "--repo", "evil", "--tag", "x", docker.to_str().unwrap()]);
    assert_eq!(before, lsnapshot(other.path()), "import left /other alone");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("reg/evil") && r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(reg_before, snapshot(&c.root.join(".wharf/blobs")), "nothing reached the pool either");
}

/// The root path itself may be a link (a registry on a bigger disk), and so may a plain
/// layout given as the root.
#[test]
fn a_linked_root_is_followed() {
    let c = cell(&PLACES[0]);
    let link = c._dir.path().join("via-link");
    std::os::unix::fs::symlink(&c.root, &link).unwrap();
    wharf_bounded(&link, &["tags", "hello"]).ok();
    wharf_bounded(&link, &["verify"]).ok();
    wharf_bounded(&link, &["gc", "--grace", "0s"]).ok();
    let layout_link = c._dir.path().join("layout-link");
    std::os::unix::fs::symlink(c.root.join("hello"), &layout_link).unwrap();
    wharf_bounded(&layout_link, &["tags", "hello"]).ok();
    wharf_bounded(&layout_link, &["verify"]).ok();
}
