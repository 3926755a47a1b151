//! Helm charts: `wharf import CHART.tgz` stores a chart as `helm push` does; hostile or
//! invalid charts are refused with the registry byte-identical.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::shapes::*;

const CHART_YAML: &str = "apiVersion: v2
name: podinfo
description: A tiny web app
type: application
version: 6.5.4+meta.1
appVersion: \"6.5.4\"
home: https://example.com/podinfo
sources:
  - https://git.example.com/podinfo
keywords: [web, demo]
maintainers:
  - name: Ada
    email: ada@example.com
annotations:
  category: Demo
";

/// A gzip'd chart tar with these members (raw names).
fn chart_tgz(dir: &Path, file: &str, items: &[(&str, Item)]) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, gzip(&tar_bytes(items))).unwrap();
    p
}

fn good_chart(dir: &Path) -> PathBuf {
    chart_tgz(
        dir,
        "podinfo-6.5.4.tgz",
        &[
            ("podinfo/Chart.yaml", Item::File(CHART_YAML.as_bytes().to_vec())),
            ("podinfo/values.yaml", Item::File(b"replicaCount: 1\n".to_vec())),
            ("podinfo/templates/deployment.yaml", Item::File(b"kind: Deployment\n".to_vec())),
        ],
    )
}

fn blob_json(reg: &Reg, repo: &str, digest: &str) -> Value {
    let p = reg.root.join(repo).join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn chart_is_stored_as_helm_push_writes_it() {
    let reg = Reg::new();
    let tgz = good_chart(reg.dir.path());
    std::fs::write(reg.dir.path().join("podinfo-6.5.4.tgz.prov"), b"-----BEGIN PGP SIGNED MESSAGE-----\n").unwrap();
    let r = reg.json(&["import", tgz.to_str().unwrap()]);
    assert_eq!(r["sources"][0]["format"], "helm-chart");
    assert_eq!(r["images"][0]["repository"], "podinfo");
    assert_eq!(r["images"][0]["tags"][0]["tag"], "6.5.4_meta.1", "+ becomes _ as helm push names it");
    let digest = r["images"][0]["digest"].as_str().unwrap();
    let m = blob_json(&reg, "podinfo", digest);
    assert!(m.get("mediaType").is_none(), "helm writes no mediaType field: {m}");
    assert_eq!(m["config"]["mediaType"], "application/vnd.cncf.helm.config.v1+json");
    let layers = m["layers"].as_array().unwrap();
    let chart =
        layers.iter().find(|l| l["mediaType"] == "application/vnd.cncf.helm.chart.content.v1.tar+gzip").unwrap();
    assert_eq!(chart["digest"], sha(&std::fs::read(&tgz).unwrap()), "the layer is the .tgz byte for byte");
    let prov = layers.iter().find(|l| l["mediaType"] == "application/vnd.cncf.helm.chart.provenance.v1.prov").unwrap();
    assert_eq!(prov["digest"], sha(b"-----BEGIN PGP SIGNED MESSAGE-----\n"));
    let digests: Vec<&str> = layers.iter().map(|l| l["digest"].as_str().unwrap()).collect();
    let mut sorted = digests.clone();
    sorted.sort();
    assert_eq!(digests, sorted, "layers sorted by digest, as helm push does");
    let config = blob_json(&reg, "podinfo", m["config"]["digest"].as_str().unwrap());
    assert_eq!(config["name"], "podinfo");
    assert_eq!(config["version"], "6.5.4+meta.1");
    assert_eq!(config["appVersion"], "6.5.4");
    assert_eq!(config["apiVersion"], "v2");
    assert_eq!(config["description"], "A tiny web app");
    assert_eq!(config["keywords"], serde_json::json!(["web", "demo"]));
    assert_eq!(config["maintainers"][0]["email"], "ada@example.com");
    assert_eq!(config["annotations"]["category"], "Demo");
    let a = &m["annotations"];
    assert_eq!(a["org.opencontainers.image.title"], "podinfo");
    assert_eq!(a["org.opencontainers.image.version"], "6.5.4+meta.1");
    assert_eq!(a["org.opencontainers.image.source"], "https://git.example.com/podinfo");
    assert_eq!(a["org.opencontainers.image.authors"], "Ada (ada@example.com)");
    assert_eq!(a["category"], "Demo");
    assert!(a["org.opencontainers.image.created"].as_str().unwrap().ends_with('Z'));
    // --repo/--tag override the names.
    let r = reg.json(&["import", "--repo", "charts/podinfo", "--tag", "stable", tgz.to_str().unwrap()]);
    assert_eq!(r["images"][0]["digest"], digest);
    assert_eq!(wharf_tags(&reg, "charts/podinfo"), ["stable"]);
    // The chart comes back out byte for byte, named as helm pull names it.
    let out = reg.dir.path().join("out");
    reg.wharf(&["export", "podinfo:6.5.4_meta.1", "--format", "files", "-o", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(out.join("podinfo-6.5.4+meta.1.tgz")).unwrap(), std::fs::read(&tgz).unwrap());
    assert_eq!(
        std::fs::read(out.join("podinfo-6.5.4+meta.1.tgz.prov")).unwrap(),
        b"-----BEGIN PGP SIGNED MESSAGE-----\n"
    );
    let v = reg.wharf(&["--json", "verify"]).ok().json();
    assert_eq!(v["counts"]["errors"], 0, "{v}");
}

#[test]
fn bad_and_hostile_charts_are_refused_leaving_the_registry_unchanged() {
    let yaml = |y: &str| Item::File(y.as_bytes().to_vec());
    type Case<'a> = (&'a str, Vec<(&'a str, Item)>, &'a str);
    let cases: Vec<Case> = vec![
        ("missing name", vec![("c/Chart.yaml", yaml("apiVersion: v2\nversion: 1.0.0\n"))], "no `name`"),
        ("missing version", vec![("c/Chart.yaml", yaml("apiVersion: v2\nname: c\n"))], "no `version`"),
        ("invalid version", vec![("c/Chart.yaml", yaml("apiVersion: v2\nname: c\nversion: latest\n"))], "not SemVer"),
        ("invalid name", vec![("c/Chart.yaml", yaml("apiVersion: v2\nname: My_Chart!\nversion: 1.0.0\n"))], "--repo"),
        (
            "traversal in the tar",
            vec![
                ("c/Chart.yaml", yaml("apiVersion: v2\nname: c\nversion: 1.0.0\n")),
                ("c/../../evil", Item::File(b"x".to_vec())),
            ],
            "climbs out",
        ),
        (
            "absolute symlink",
            vec![
                ("c/Chart.yaml", yaml("apiVersion: v2\nname: c\nversion: 1.0.0\n")),
                ("c/link", Item::Symlink("/etc/passwd".into())),
            ],
            "outside the chart",
        ),
        (
            "missing Chart.yaml",
            vec![("c/values.yaml", yaml("a: 1\n")), ("c/templates/x.yaml", yaml("kind: x\n"))],
            "no c/Chart.yaml",
        ),
    ];
    for (name, items, want) in cases {
        let reg = Reg::new();
        let tgz = chart_tgz(reg.dir.path(), "c.tgz", &items);
        let before = reg.snapshot();
        reg.wharf(&["import", tgz.to_str().unwrap()]).code(2).stderr_has(want);
        assert_eq!(reg.snapshot(), before, "{name}");
        assert!(!reg.dir.path().join("evil").exists(), "{name}");
    }
}

#[test]
fn chart_gzip_bomb_is_refused() {
    let reg = Reg::new();
    // Chart.yaml first, then a member of 200 MiB of zeros (about 200 KiB compressed).
    let p = reg.dir.path().join("bomb.tgz");
    let f = std::fs::File::create(&p).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
    {
        let mut t = tar::Builder::new(&mut gz);
        let y = b"apiVersion: v2\nname: bomb\nversion: 1.0.0\n";
        let mut h = tar::Header::new_ustar();
        h.set_size(y.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "bomb/Chart.yaml", &y[..]).unwrap();
        let big: u64 = 200 << 20;
        let mut h = tar::Header::new_ustar();
        h.set_size(big);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "bomb/zeros", std::io::Read::take(std::io::repeat(0), big)).unwrap();
        t.finish().unwrap();
    }
    gz.finish().unwrap().flush().unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() < 2 << 20);
    let before = reg.snapshot();
    reg.wharf(&["import", p.to_str().unwrap()]).code(2).stderr_has("decompression bomb");
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn gzip_image_archives_are_not_taken_for_charts() {
    let Some(src) = fixture("containers-image/almostempty.tar") else { return };
    let reg = Reg::new();
    let gz = reg.dir.path().join("img.tar.gz");
    std::fs::write(&gz, gzip(&std::fs::read(src).unwrap())).unwrap();
    let r = reg.json(&["import", gz.to_str().unwrap()]);
    assert_eq!(r["sources"][0]["format"], "docker-archive");
}

#[test]
fn show_says_helm_chart() {
    let reg = Reg::new();
    let tgz = good_chart(reg.dir.path());
    reg.json(&["import", tgz.to_str().unwrap()]);
    let s = reg.json(&["show", "podinfo:6.5.4_meta.1"]);
    assert_eq!(s["artifact_kind"], "helm-chart");
    assert_eq!(s["artifact_type"], "application/vnd.cncf.helm.config.v1+json");
    assert!(reg.wharf(&["show", "podinfo:6.5.4_meta.1"]).ok().stdout.contains("kind:        helm chart"));
    assert!(reg.wharf(&["repos"]).ok().stdout.contains("helm chart"));
}

/// Issue 16 D2: a `CHART.tgz.prov` that is a symbolic link (to a secret of the user's) is
/// refused, never followed: the secret is not stored as the provenance layer.
#[test]
fn chart_prov_symlink_is_refused_not_followed() {
    let reg = Reg::new();
    let tgz = good_chart(reg.dir.path());
    let secret = reg.dir.path().join("secret.txt");
    std::fs::write(&secret, b"the user's secret").unwrap();
    std::os::unix::fs::symlink(&secret, reg.dir.path().join("podinfo-6.5.4.tgz.prov")).unwrap();
    let before = reg.snapshot();
    reg.wharf(&["import", tgz.to_str().unwrap()]).code(2).stderr_has("symbolic link");
    assert_eq!(reg.snapshot(), before);
    let stored = crate::common::snapshot(&reg.root);
    assert!(!stored.iter().any(|(_, _, h)| h.ends_with(&sha(b"the user's secret")[7..])), "the secret was stored");
}

/// Issue 16 B6: a chart member whose GNU long name is larger than the 64 KiB that image
/// archives allow is refused before the name is read into memory.
#[test]
fn chart_member_long_name_over_64_kib_is_refused() {
    let reg = Reg::new();
    let p = reg.dir.path().join("longname.tgz");
    let f = std::fs::File::create(&p).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
    {
        let mut t = tar::Builder::new(&mut gz);
        let y = b"apiVersion: v2\nname: longname\nversion: 1.0.0\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(y.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "longname/Chart.yaml", &y[..]).unwrap();
        let name = format!("longname/{}", "a".repeat(1 << 20));
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        t.append_data(&mut h, name, &b"x"[..]).unwrap();
        t.finish().unwrap();
    }
    gz.finish().unwrap().flush().unwrap();
    let before = reg.snapshot();
    reg.wharf(&["import", p.to_str().unwrap()]).code(2).stderr_has("64 KiB");
    assert_eq!(reg.snapshot(), before);
}
