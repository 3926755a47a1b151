//! Whole-registry bundles (`export --all`, `export REPO`), `--platform`, `--compress`,
//! inventories and delta bundles (`--exclude-present`), read back by wharf, skopeo and
//! umoci.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use crate::shapes::*;

/// Tag → digest of every repository.
fn all_tags(reg: &Reg) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in reg.json(&["repos"])["repositories"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        for t in reg.json(&["tags", name])["tags"].as_array().unwrap() {
            out.insert(format!("{name}:{}", t["name"].as_str().unwrap()), t["digest"].as_str().unwrap().to_string());
        }
    }
    out
}

/// Member names of a tar.
fn members(p: &Path) -> Vec<String> {
    let f = std::fs::File::open(p).unwrap();
    let mut a = tar::Archive::new(f);
    a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect()
}

fn verify_ok(reg: &Reg) {
    let v = reg.wharf(&["--json", "verify"]).ok().json();
    assert_eq!(v["counts"]["errors"], 0, "{v}");
}

/// A registry of images (multi-platform indexes and referrers from regclient's
/// testrepo, two docker-archives), a release artifact with an SBOM attached.
fn populated() -> Option<Reg> {
    let base = fixture("")?;
    let reg = Reg::new();
    reg.json(&["import", "--repo", "testrepo", base.join("regclient/testrepo").to_str().unwrap()]);
    reg.json(&["import", base.join("containers-image/almostempty.tar").to_str().unwrap()]);
    reg.json(&["import", base.join("go-containerregistry/test_link.tar").to_str().unwrap()]);
    let f = reg.dir.path().join("app.bin");
    std::fs::write(&f, vec![7u8; 1 << 20]).unwrap();
    reg.json(&["add", "releases/app:1", f.to_str().unwrap()]);
    let s = reg.dir.path().join("sbom.json");
    std::fs::write(&s, b"{\"spdxVersion\":\"SPDX-2.3\"}").unwrap();
    reg.json(&["attach", "releases/app:1", s.to_str().unwrap(), "--artifact-type", "application/spdx+json"]);
    Some(reg)
}

#[test]
fn export_all_then_import_keeps_every_tag_and_digest_and_foreign_tools_read_it() {
    let Some(reg) = populated() else { return };
    let bundle = reg.dir.path().join("bundle.tar");
    let r = reg.json(&["export", "--all", "-o", bundle.to_str().unwrap()]);
    assert_eq!(r["delta"], false);
    let back = Reg::new();
    back.json(&["import", bundle.to_str().unwrap()]);
    let want = all_tags(&reg);
    assert!(want.len() > 25, "{want:?}");
    assert_eq!(all_tags(&back), want);
    verify_ok(&back);
    // The SBOM came along, untagged, with its subject.
    let refs = back.json(&["referrers", "releases/app:1"]);
    assert_eq!(refs["referrers"][0]["artifact_type"], "application/spdx+json");
    // skopeo reads any REPO:TAG of it; umoci after extracting it.
    let Some(skopeo) = tool("skopeo") else { return };
    for name in ["testrepo:v1", "emptyimage:latest", "releases/app:1"] {
        let (code, out, err) =
            run_tool(&skopeo, &["inspect", "--raw", &format!("oci-archive:{}:{name}", bundle.display())]);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(sha(out.as_bytes()), want[name], "{name}: skopeo sees the same manifest");
    }
    let Some(umoci) = tool("umoci") else { return };
    let dir = reg.dir.path().join("extracted");
    std::fs::create_dir(&dir).unwrap();
    let f = std::fs::File::open(&bundle).unwrap();
    tar::Archive::new(f).unpack(&dir).unwrap();
    let (code, out, err) = run_tool(&umoci, &["ls", "--layout", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "emptyimage:latest"), "{out}");
    let (code, _, err) = run_tool(&umoci, &["stat", "--image", &format!("{}:emptyimage:latest", dir.display())]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn export_repo_takes_every_tag_of_it_and_platform_narrows() {
    let Some(reg) = populated() else { return };
    let out = reg.dir.path().join("one.tar");
    let r = reg.json(&["export", "emptyimage", "releases/app", "-o", out.to_str().unwrap()]);
    let names: Vec<&str> = r["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["emptyimage:latest", "releases/app:1"]);
    // --platform: one of four platforms is that platform's manifest under the tag.
    let b1 = reg.json(&["show", "testrepo:b1"]);
    let amd64 = b1["children"].as_array().unwrap().iter().find(|c| c["platform"] == "linux/amd64").unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let p1 = reg.dir.path().join("p1.tar");
    let r = reg.json(&["export", "testrepo:b1", "--platform", "linux/amd64", "-o", p1.to_str().unwrap()]);
    assert_eq!(r["images"][0]["digest"], amd64.as_str());
    let back = Reg::new();
    back.json(&["import", p1.to_str().unwrap()]);
    assert_eq!(all_tags(&back)["testrepo:b1"], amd64);
    // Two platforms: a new index listing exactly those.
    let p2 = reg.dir.path().join("p2.tar");
    let r = reg.json(&[
        "export",
        "testrepo:b1",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "-o",
        p2.to_str().unwrap(),
    ]);
    let d = r["images"][0]["digest"].as_str().unwrap().to_string();
    let back = Reg::new();
    back.json(&["import", p2.to_str().unwrap()]);
    let shown = back.json(&["show", "testrepo:b1"]);
    assert_eq!(shown["digest"], d.as_str());
    let mut ps: Vec<&str> = shown["platforms"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    ps.sort();
    assert_eq!(ps, ["linux/amd64", "linux/arm64"]);
    verify_ok(&back);
}

#[test]
fn compressed_bundles_import_back() {
    let Some(reg) = populated() else { return };
    for (alg, magic) in [("gzip", &[0x1f, 0x8b][..]), ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..])] {
        let out = reg.dir.path().join(format!("b.{alg}"));
        reg.json(&["export", "--all", "--compress", alg, "-o", out.to_str().unwrap()]);
        assert!(std::fs::read(&out).unwrap().starts_with(magic), "{alg}");
        let back = Reg::new();
        let r = back.json(&["import", out.to_str().unwrap()]);
        assert_eq!(r["sources"][0]["compression"], alg);
        assert_eq!(all_tags(&back), all_tags(&reg), "{alg}");
    }
    reg.wharf(&["export", "--all", "--compress", "brotli", "-o", "/dev/null/x"]).code(2);
}

#[test]
fn delta_of_an_unchanged_registry_is_a_few_kilobytes() {
    let reg = Reg::new();
    let f = reg.dir.path().join("big.bin");
    std::fs::write(&f, vec![1u8; 4 << 20]).unwrap();
    reg.json(&["add", "files/big:1", f.to_str().unwrap()]);
    if let Some(t) = fixture("containers-image/almostempty.tar") {
        reg.json(&["import", t.to_str().unwrap()]);
    }
    let inv = reg.dir.path().join("inv.json");
    let r = reg.json(&["inventory", "-o", inv.to_str().unwrap()]);
    assert!(r["blobs"].as_u64().unwrap() >= 3);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&inv).unwrap()).unwrap();
    assert_eq!(v["wharf_inventory_version"], 1);
    // Without -o the inventory itself goes to stdout; an existing file is never replaced.
    let out: serde_json::Value = serde_json::from_str(&reg.wharf(&["inventory"]).ok().stdout).unwrap();
    assert_eq!(out["blobs"], v["blobs"]);
    reg.wharf(&["inventory", "-o", inv.to_str().unwrap()]).code(2).stderr_has("already exists");
    assert!(v["blobs"].as_array().unwrap().iter().any(|b| b["size"] == 4 << 20));
    let full = reg.dir.path().join("full.tar");
    reg.json(&["export", "--all", "-o", full.to_str().unwrap()]);
    let delta = reg.dir.path().join("delta.tar");
    let r = reg.json(&["export", "--all", "--exclude-present", inv.to_str().unwrap(), "-o", delta.to_str().unwrap()]);
    assert_eq!(r["delta"], true);
    let size = std::fs::metadata(&delta).unwrap().len();
    assert!(size < 16 << 10, "delta of an unchanged registry is {size} bytes");
    assert!(std::fs::metadata(&full).unwrap().len() > 4 << 20);
    // The marker is on index.json.
    let dir = reg.dir.path().join("x");
    tar::Archive::new(std::fs::File::open(&delta).unwrap()).unpack(&dir).unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["annotations"]["io.wharf.bundle.delta"], "true");
    // Importing it where the base is changes no tag and copies nothing.
    let r = reg.json(&["import", delta.to_str().unwrap()]);
    assert_eq!(r["blobs_new"], 0);
}

#[test]
fn delta_after_one_new_tag_carries_only_its_new_blobs_and_links_the_rest() {
    let src = Reg::new();
    let a = src.dir.path().join("a.bin");
    std::fs::write(&a, vec![1u8; 2 << 20]).unwrap();
    src.json(&["add", "files/app:1", a.to_str().unwrap()]);
    // The other site holds the full bundle of last week.
    let full = src.dir.path().join("full.tar");
    src.json(&["export", "--all", "-o", full.to_str().unwrap()]);
    let dst = Reg::new();
    dst.json(&["import", full.to_str().unwrap()]);
    let inv = dst.dir.path().join("inv.json");
    dst.json(&["inventory", "-o", inv.to_str().unwrap()]);
    // This week: one new tag sharing a.bin, with one new file.
    let b = src.dir.path().join("b.bin");
    std::fs::write(&b, vec![2u8; 1 << 20]).unwrap();
    let r = src.json(&["add", "files/app:2", a.to_str().unwrap(), b.to_str().unwrap()]);
    let new_manifest = r["digest"].as_str().unwrap().to_string();
    let delta = src.dir.path().join("delta.tar");
    let r = src.json(&["export", "--all", "--exclude-present", inv.to_str().unwrap(), "-o", delta.to_str().unwrap()]);
    assert!(r["blobs_excluded"].as_u64().unwrap() >= 1);
    let blobs: Vec<String> = members(&delta)
        .into_iter()
        .filter_map(|m| m.strip_prefix("blobs/sha256/").map(|h| format!("sha256:{h}")))
        .filter(|h| h.len() > 7)
        .collect();
    let a_digest = sha(&vec![1u8; 2 << 20]);
    let b_digest = sha(&vec![2u8; 1 << 20]);
    assert!(blobs.contains(&b_digest), "the new file travels");
    assert!(blobs.contains(&new_manifest), "the new manifest travels");
    assert!(!blobs.contains(&a_digest), "the shared file stays home");
    let size = std::fs::metadata(&delta).unwrap().len();
    assert!(size < (1 << 20) + (32 << 10), "delta is {size} bytes");
    // Import on the other site: the tag appears, the old blob is linked, not copied.
    dst.json(&["import", delta.to_str().unwrap()]);
    assert_eq!(all_tags(&dst), all_tags(&src));
    verify_ok(&dst);
    use std::os::unix::fs::MetadataExt;
    let hex = &a_digest[7..];
    let pool = std::fs::metadata(dst.root.join(".wharf/blobs/sha256").join(hex)).unwrap();
    let repo = std::fs::metadata(dst.root.join("files/app/blobs/sha256").join(hex)).unwrap();
    assert_eq!(pool.ino(), repo.ino());
    assert_eq!(pool.nlink(), 2, "one pool entry, one repository link: no copy");
}

#[test]
fn delta_is_refused_on_a_root_lacking_the_base() {
    let src = Reg::new();
    let a = src.dir.path().join("a.bin");
    std::fs::write(&a, vec![3u8; 1 << 20]).unwrap();
    src.json(&["add", "files/app:1", a.to_str().unwrap()]);
    let inv = src.dir.path().join("inv.json");
    src.json(&["inventory", "-o", inv.to_str().unwrap()]);
    let delta = src.dir.path().join("delta.tar");
    src.json(&["export", "--all", "--exclude-present", inv.to_str().unwrap(), "-o", delta.to_str().unwrap()]);
    let empty = Reg::new();
    let before = empty.snapshot();
    let run = empty.wharf(&["import", delta.to_str().unwrap()]).code(2);
    assert!(run.stderr.contains(&sha(&vec![3u8; 1 << 20])), "names the absent blob: {}", run.stderr);
    assert!(run.stderr.contains("delta"), "{}", run.stderr);
    assert_eq!(empty.snapshot(), before, "registry byte-identical");
    // A delta is an oci-archive: other formats are refused.
    for f in ["oci-layout", "docker-archive"] {
        src.wharf(&[
            "export",
            "--all",
            "--format",
            f,
            "--exclude-present",
            inv.to_str().unwrap(),
            "-o",
            src.dir.path().join(f).to_str().unwrap(),
        ])
        .code(2)
        .stderr_has("oci-archive");
    }
    // An inventory that is not one is refused.
    std::fs::write(src.dir.path().join("bad.json"), b"{\"blobs\":[]}").unwrap();
    let bad = src.dir.path().join("bad.json");
    src.wharf(&[
        "export",
        "--all",
        "--exclude-present",
        bad.to_str().unwrap(),
        "-o",
        src.dir.path().join("z.tar").to_str().unwrap(),
    ])
    .code(2)
    .stderr_has("wharf_inventory_version");
}

/// An export carries the image's referrers by default; importing it with `--tag` names
/// the one image (the referrers are not images) and brings the referrers in untagged.
#[test]
fn import_with_tag_of_an_export_that_carries_referrers() {
    let reg = Reg::new();
    reg.wharf(&["import", testdata("hello.oci-archive.tar").to_str().unwrap()]).ok();
    let sbom = reg.dir.path().join("sbom.json");
    std::fs::write(&sbom, b"{\"spdxVersion\":\"SPDX-2.3\"}").unwrap();
    reg.wharf(&["attach", "hello:latest", sbom.to_str().unwrap(), "--artifact-type", "application/spdx+json"]).ok();
    let out = reg.dir.path().join("with-referrers.tar");
    reg.wharf(&["export", "hello:latest", "-o", out.to_str().unwrap()]).ok();
    let fresh = Reg::new();
    fresh.wharf(&["import", "--repo", "x", "--tag", "1", out.to_str().unwrap()]).ok();
    assert_eq!(wharf_tags(&fresh, "x"), vec!["1".to_string()]);
    let r = fresh.json(&["referrers", "x:1"]);
    assert_eq!(r["referrers"].as_array().map(Vec::len), Some(1), "{r:#}");
}
