//! `wharf sync FILE`: against Debian's docker-registry (distribution 2.8) started here, a
//! classic Helm repository and files served by a static HTTP server in the test. Every
//! selector kind, platforms, charts of both kinds with their images, file pins, moved
//! tags, --prune, locked tags, --keep-going, --dry-run, the cost of a no-op re-run and
//! the air-gap round trip.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::common::Reg;
use super::registry_support::{Auth, Distribution, Fake, Reply, gzip, sha, tiny_image, write_layout};

/// Stores `content` upstream as `REPO:TAG` (an artifact made by `wharf add` in `src`,
/// then pushed): returns the manifest digest.
fn put(src: &Reg, d: &Distribution, reference: &str, content: &str) -> String {
    let f = src.dir.path().join("content.txt");
    std::fs::write(&f, content).unwrap();
    let v = src.json(&["add", reference, f.to_str().unwrap(), "--force"]);
    let repo = reference.split(':').next().unwrap();
    src.json(&["push", repo, "--to", &d.host, "--plain-http"]);
    v["digest"].as_str().unwrap().to_string()
}

fn write_file(reg: &Reg, name: &str, text: &str) -> String {
    let p = reg.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn tags(reg: &Reg, repo: &str) -> BTreeMap<String, String> {
    let v = reg.json(&["tags", repo]);
    v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["digest"].as_str().unwrap().to_string()))
        .collect()
}

fn names(m: &BTreeMap<String, String>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

fn sync(reg: &Reg, file: &str, extra: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "sync", file, "--plain-http"];
    a.extend_from_slice(extra);
    let r = reg.wharf(&a);
    let code = r.code;
    (code, serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr)))
}

fn tag_entry<'a>(report: &'a Value, repo: &str, reference: &str) -> &'a Value {
    report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["repository"] == repo)
        .flat_map(|r| r["tags"].as_array().unwrap())
        .find(|t| t["reference"] == reference)
        .unwrap_or_else(|| panic!("{repo} {reference} not in {report}"))
}

#[test]
fn sync_selects_by_list_all_regex_semver_latest_and_digest() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    for t in ["a", "b", "c"] {
        put(&src, &d, &format!("sel/list:{t}"), t);
    }
    let b_digest = put(&src, &d, "sel/digest:b", "digest-b");
    put(&src, &d, "sel/digest:other", "digest-other");
    for t in ["x", "y"] {
        put(&src, &d, &format!("sel/all:{t}"), t);
    }
    for t in ["rel-1", "rel-2", "dev-1"] {
        put(&src, &d, &format!("sel/regex:{t}"), t);
    }
    for t in ["1.0.0", "1.2.0", "v1.9.0", "2.0.0", "latest", "1.5.0-rc1"] {
        put(&src, &d, &format!("sel/semver:{t}"), t);
    }
    for t in ["1.0.0", "1.1.0", "1.2.0", "latest"] {
        put(&src, &d, &format!("sel/latest:{t}"), t);
    }
    let dst = Reg::new();
    let file = write_file(
        &dst,
        "sync.yaml",
        &format!(
            r#"{h}:
  images:
    sel/list: [a, c]
    sel/all: []
    sel/latest: []
    sel/digest: ["{b_digest}"]
  images-by-tag-regex:
    sel/regex: ^rel-
  images-by-semver:
    sel/semver: ">= 1.2.0, < 2"
wharf:
  repo-prefix: mirror
  latest:
    {h}/sel/latest: 2
"#,
            h = d.host
        ),
    );
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(names(&tags(&dst, "mirror/sel/list")), ["a", "c"]);
    assert_eq!(names(&tags(&dst, "mirror/sel/all")), ["x", "y"]);
    assert_eq!(names(&tags(&dst, "mirror/sel/regex")), ["rel-1", "rel-2"]);
    assert_eq!(names(&tags(&dst, "mirror/sel/semver")), ["1.2.0", "v1.9.0"]);
    assert_eq!(names(&tags(&dst, "mirror/sel/latest")), ["1.1.0", "1.2.0"]);
    // The digest selector stores that manifest, untagged; nothing else of the repository.
    let m = dst.json(&["manifests", "mirror/sel/digest"]);
    let digests: Vec<&str> = m["manifests"].as_array().unwrap().iter().map(|x| x["digest"].as_str().unwrap()).collect();
    assert_eq!(digests, [b_digest.as_str()], "{m}");
    assert_eq!(v["new"], 11, "{v}");
    assert_eq!(v["failed"], 0);
    assert!(v["downloaded_bytes"].as_u64().unwrap() > 0);
    // The stored content is the registry's, byte for byte.
    assert_eq!(tags(&dst, "mirror/sel/list")["a"], tags(&src, "sel/list")["a"]);
}

#[test]
fn sync_keeps_only_the_selected_platforms_and_reruns_unchanged() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    let (m1, c1, l1) = tiny_image("amd");
    let (m2, c2, l2) = tiny_image("arm");
    let idx = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#,
        sha(&m1),
        m1.len(),
        sha(&m2),
        m2.len()
    )
    .into_bytes();
    let lay = src.dir.path().join("layout");
    write_layout(
        &lay,
        &[&c1, &l1, &c2, &l2, &m1, &m2],
        &[("application/vnd.oci.image.index.v1+json", &idx, Some("1.0"))],
    );
    src.json(&["import", lay.to_str().unwrap(), "--repo", "multi"]);
    src.json(&["push", "multi", "--to", &d.host, "--plain-http"]);
    let dst = Reg::new();
    let file = write_file(
        &dst,
        "s.yaml",
        &format!("{}:\n  images:\n    multi: []\nwharf:\n  platforms: [linux/arm64]\n", d.host),
    );
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{v}");
    // One platform kept of the index: the arm64 manifest itself.
    assert_eq!(tags(&dst, "multi")["1.0"], sha(&m2));
    assert_eq!(tag_entry(&v, "multi", "1.0")["bytes"], c2.len() + l2.len(), "{v}");
    let (code, again) = sync(&dst, &file, &[]);
    assert_eq!(code, 0);
    assert_eq!(tag_entry(&again, "multi", "1.0")["action"], "unchanged", "{again}");
    assert_eq!(again["downloaded_bytes"], 0);
    // --platform on the command line replaces the file's: both platforms, a new index.
    let (code, both) = sync(&dst, &file, &["--platform", "linux/amd64", "--platform", "linux/arm64"]);
    assert_eq!(code, 0, "{both}");
    assert_eq!(tag_entry(&both, "multi", "1.0")["action"], "moved", "{both}");
    assert_eq!(tags(&dst, "multi")["1.0"], sha(&idx));
}

#[test]
fn sync_moves_prunes_respects_locks_and_dry_run_writes_nothing() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    let old1 = put(&src, &d, "app:1", "one");
    put(&src, &d, "app:2", "two");
    put(&src, &d, "app:3", "three");
    let dst = Reg::new();
    let all = write_file(&dst, "all.yaml", &format!("{}:\n  images:\n    app: []\n", d.host));
    let (code, v) = sync(&dst, &all, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(names(&tags(&dst, "app")), ["1", "2", "3"]);
    // Upstream moves 1 and 2; 2 is locked here; the file no longer selects 3.
    let new1 = put(&src, &d, "app:1", "one, again");
    put(&src, &d, "app:2", "two, again");
    let before2 = tags(&dst, "app")["2"].clone();
    dst.wharf(&["lock", "app:2"]).ok();
    let some = write_file(&dst, "some.yaml", &format!("{}:\n  images:\n    app: [\"1\", \"2\"]\n", d.host));
    // --dry-run: the plan, and the root byte-identical.
    let snap = dst.snapshot();
    let (code, plan) = sync(&dst, &some, &["--prune", "--dry-run"]);
    assert_eq!(code, 0, "{plan}");
    assert_eq!(dst.snapshot(), snap, "--dry-run wrote to the registry");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(tag_entry(&plan, "app", "1")["action"], "moved");
    assert_eq!(tag_entry(&plan, "app", "1")["result"], "planned");
    assert!(tag_entry(&plan, "app", "1")["bytes"].as_u64().unwrap() > 0, "{plan}");
    assert_eq!(tag_entry(&plan, "app", "2")["action"], "locked");
    assert_eq!(tag_entry(&plan, "app", "3")["action"], "prune");
    // Apply.
    let (code, v) = sync(&dst, &some, &["--prune"]);
    assert_eq!(code, 0, "{v}");
    let now = tags(&dst, "app");
    assert_eq!(names(&now), ["1", "2"], "3 is pruned");
    assert_eq!(now["1"], new1, "1 moved");
    assert_eq!(now["2"], before2, "2 is locked: not moved");
    assert_eq!(v["locked"], 1);
    assert_eq!(v["moved"], 1);
    assert_eq!(v["pruned"], 1);
    // The manifest 1 left stays, untagged, for retention.
    let m = dst.json(&["manifests", "app"]);
    assert!(m["manifests"].as_array().unwrap().iter().any(|x| x["digest"] == old1.as_str()), "{m}");
}

#[test]
fn sync_failing_entry_stops_or_goes_on_with_keep_going() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    put(&src, &d, "good:1", "good");
    let dst = Reg::new();
    let file = write_file(&dst, "f.yaml", &format!("{}:\n  images:\n    absent/repo: []\n    good: []\n", d.host));
    // Without --keep-going: the failure stops the run; exit 1; nothing else fetched.
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["stopped"], true);
    assert_eq!(v["failed"], 1);
    let absent = v["repositories"].as_array().unwrap().iter().find(|r| r["repository"] == "absent/repo").unwrap();
    assert!(absent["error"].as_str().unwrap().contains("absent/repo"), "{v}");
    assert!(dst.json(&["repos"])["repositories"].as_array().unwrap().is_empty());
    // With it: the good entry is synced, the failure reported, exit 1.
    let (code, v) = sync(&dst, &file, &["--keep-going"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["stopped"], false);
    assert_eq!(v["failed"], 1);
    assert_eq!(names(&tags(&dst, "good")), ["1"]);
}

#[test]
fn sync_noop_rerun_is_tag_lists_and_one_head_per_tag() {
    let Some(d) = Distribution::start_with(Auth::None, true) else { return };
    let src = Reg::new();
    for t in ["1", "2", "3"] {
        put(&src, &d, &format!("n/a:{t}"), &format!("a{t}"));
        put(&src, &d, &format!("n/b:{t}"), &format!("b{t}"));
    }
    let dst = Reg::new();
    let file = write_file(&dst, "n.yaml", &format!("{}:\n  images:\n    n/a: []\n    n/b: [\"1\", \"2\"]\n", d.host));
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["new"], 5);
    let before = d.log().lines().count();
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["unchanged"], 5, "{v}");
    assert_eq!(v["downloaded_bytes"], 0);
    let log = d.log();
    let reqs: Vec<&str> = log.lines().skip(before).filter(|l| l.contains("\"") && l.contains(" /v2/")).collect();
    let count = |pat: &str| reqs.iter().filter(|l| l.contains(pat)).count();
    assert_eq!(count("\"HEAD /v2/n/"), 5, "{reqs:#?}");
    assert_eq!(count("\"GET /v2/n/a/tags/list"), 1, "{reqs:#?}");
    assert_eq!(count("/blobs/"), 0, "{reqs:#?}");
    assert_eq!(count("\"GET /v2/n/"), 1, "only the tag list of n/a: {reqs:#?}");
    // Beyond those, at most the version check of each client (GET /v2/).
    assert!(reqs.len() <= 5 + 1 + 2, "{reqs:#?}");
}

/// A static HTTP server: path → body; every request is logged.
fn static_server(files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>) -> Fake {
    Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap().to_string();
        match files.lock().unwrap().get(&path) {
            Some(b) => Reply::new(200, b),
            None => Reply::new(404, b"not found"),
        }
    })
}

fn chart(name: &str, version: &str, images: &str) -> Vec<u8> {
    let chart_yaml = format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\ndescription: test chart\nannotations:\n  artifacthub.io/images: |\n{}\n",
        images.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
    );
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in [
        (format!("{name}/Chart.yaml"), chart_yaml.into_bytes()),
        (format!("{name}/values.yaml"), b"replicaCount: 1\n".to_vec()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, p, &data[..]).unwrap();
    }
    gzip(&b.into_inner().unwrap())
}

#[test]
fn sync_charts_from_a_classic_repository_and_oci_with_their_images() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    put(&src, &d, "img/web:1.0", "web image");
    put(&src, &d, "img/db:2.0", "db image");
    // An OCI chart: imported from a .tgz, pushed as helm push does.
    let oci_tgz = chart("ocichart", "0.3.0", &format!("- name: db\n  image: {}/img/db:2.0", d.host));
    let p = src.dir.path().join("ocichart-0.3.0.tgz");
    std::fs::write(&p, &oci_tgz).unwrap();
    src.json(&["import", p.to_str().unwrap(), "--repo", "charts/ocichart"]);
    src.json(&["push", "charts/ocichart", "--to", &d.host, "--plain-http"]);
    // A classic repository: index.yaml and two versions.
    let web1 = chart("webapp", "1.0.0", &format!("- name: web\n  image: {}/img/web:1.0", d.host));
    let web2 = chart("webapp", "2.0.0", "- name: none\n  image: nowhere.invalid/x:1");
    let files = Arc::new(Mutex::new(BTreeMap::new()));
    let srv = static_server(files.clone());
    let index = format!(
        "apiVersion: v1\nentries:\n  webapp:\n    - name: webapp\n      version: 2.0.0\n      urls: [charts/webapp-2.0.0.tgz]\n      digest: {}\n    - name: webapp\n      version: 1.0.0\n      urls: [charts/webapp-1.0.0.tgz]\n      digest: {}\n      annotations:\n        artifacthub.io/images: |\n          - name: web\n            image: {}/img/web:1.0\n",
        &sha(&web2)[7..],
        &sha(&web1)[7..],
        d.host
    );
    {
        let mut f = files.lock().unwrap();
        f.insert("/repo/index.yaml".into(), index.into_bytes());
        f.insert("/repo/charts/webapp-1.0.0.tgz".into(), web1.clone());
        f.insert("/repo/charts/webapp-2.0.0.tgz".into(), web2);
    }
    let dst = Reg::new();
    let file = write_file(
        &dst,
        "c.yaml",
        &format!(
            "wharf:\n  charts:\n    - repo: http://{}/repo\n      name: webapp\n      versions: [\"1.0.0\"]\n      with-images: true\n    - oci: oci://{}/charts/ocichart\n      semver: \">= 0.1.0\"\n      with-images: true\n",
            srv.host, d.host
        ),
    );
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{v}");
    // The classic chart is stored as `wharf import chart.tgz` stores it: NAME:VERSION,
    // its .tgz as the chart layer.
    assert_eq!(names(&tags(&dst, "webapp")), ["1.0.0"]);
    let show = dst.json(&["show", "webapp:1.0.0"]);
    assert!(show.to_string().contains(&sha(&web1)), "{show}");
    // The OCI chart, byte for byte.
    assert_eq!(tags(&dst, "charts/ocichart")["0.3.0"], tags(&src, "charts/ocichart")["0.3.0"]);
    // The images the charts list.
    assert_eq!(names(&tags(&dst, "img/web")), ["1.0"]);
    assert_eq!(names(&tags(&dst, "img/db")), ["2.0"]);
    // Again: nothing downloaded, the chart's .tgz not fetched.
    let before = srv.requests().len();
    let (code, again) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["new"], 0, "{again}");
    assert_eq!(again["downloaded_bytes"], 0);
    let paths: Vec<String> = srv.requests()[before..].iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/repo/index.yaml"]);
}

#[test]
fn sync_files_with_good_and_bad_pins() {
    let files = Arc::new(Mutex::new(BTreeMap::new()));
    files.lock().unwrap().insert("/dl/install.sh".to_string(), b"#!/bin/sh\necho hi\n".to_vec());
    let srv = static_server(files.clone());
    let good = &sha(b"#!/bin/sh\necho hi\n")[7..];
    let bad = "0".repeat(64);
    let dst = Reg::new();
    std::fs::write(dst.dir.path().join("notes.txt"), "local notes\n").unwrap();
    let file = write_file(
        &dst,
        "files.yaml",
        &format!(
            "wharf:\n  files:\n    - url: http://{h}/dl/install.sh\n      sha256: \"{good}\"\n      ref: tools/install:1.0\n    - url: http://{h}/dl/install.sh\n      sha256: \"{bad}\"\n      ref: tools/bad:1.0\n    - path: notes.txt\n      ref: tools/notes:1\n",
            h = srv.host
        ),
    );
    let (code, v) = sync(&dst, &file, &["--keep-going"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failed"], 1);
    let fl = v["files"].as_array().unwrap();
    assert_eq!(fl[0]["result"], "done", "{v}");
    assert_eq!(fl[1]["result"], "failed");
    assert!(fl[1]["error"].as_str().unwrap().contains(&bad), "{v}");
    assert_eq!(fl[2]["result"], "done");
    assert!(dst.json(&["repos"]).to_string().contains("tools/notes"));
    assert!(!dst.json(&["repos"]).to_string().contains("tools/bad"));
    // Stored as `wharf add` stores it: one layer, titled by the file's name (which
    // `export --format files` writes it under).
    let show = dst.json(&["show", "tools/install:1.0"]);
    assert!(show.to_string().contains(&format!("sha256:{good}")), "{show}");
    let out = dst.dir.path().join("out");
    dst.json(&["export", "tools/install:1.0", "--format", "files", "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(out.join("install.sh")).unwrap(), b"#!/bin/sh\necho hi\n");
    // A pinned file already stored is not fetched again.
    let before = srv.requests().len();
    let once = write_file(
        &dst,
        "once.yaml",
        &format!(
            "wharf:\n  files:\n    - url: http://{}/dl/install.sh\n      sha256: \"{good}\"\n      ref: tools/install:1.0\n",
            srv.host
        ),
    );
    let r = dst.wharf(&["--json", "sync", &once]).ok().json();
    assert_eq!(r["files"][0]["action"], "unchanged", "{r}");
    assert_eq!(srv.requests().len(), before);
}

#[test]
fn sync_bad_file_names_key_and_line_and_exits_2() {
    let dst = Reg::new();
    let file = write_file(&dst, "bad.yaml", "r.example:\n  images:\n    a: []\n  image-by-tag-regex:\n    b: x\n");
    let snap = dst.snapshot();
    let r = dst.wharf(&["sync", &file]).code(2);
    assert!(r.stderr.contains("image-by-tag-regex") && r.stderr.contains("line 4"), "{}", r.stderr);
    assert_eq!(dst.snapshot(), snap);
}

#[test]
fn sync_air_gap_round_trip() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    put(&src, &d, "ag/app:1", "v1");
    put(&src, &d, "ag/tool:1", "tool v1");
    let connected = Reg::new();
    let file = write_file(&connected, "ag.yaml", &format!("{}:\n  images:\n    ag/app: []\n    ag/tool: []\n", d.host));
    assert_eq!(sync(&connected, &file, &[]).0, 0);
    let first = connected.dir.path().join("first.tar");
    let full = connected.json(&["export", "--all", "-o", first.to_str().unwrap()]);
    let airgap = Reg::new();
    airgap.json(&["import", first.to_str().unwrap()]);
    assert_eq!(tags(&airgap, "ag/app"), tags(&connected, "ag/app"));
    // Upstream changes: a new tag, a moved tag.
    put(&src, &d, "ag/app:2", "v2");
    put(&src, &d, "ag/tool:1", "tool v1, rebuilt");
    let (code, v) = sync(&connected, &file, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!((v["new"].as_u64(), v["moved"].as_u64(), v["unchanged"].as_u64()), (Some(1), Some(1), Some(1)), "{v}");
    // The delta, against what the air-gapped side holds.
    let inv = airgap.dir.path().join("inventory.json");
    airgap.wharf(&["inventory", "-o", inv.to_str().unwrap()]).ok();
    let delta = connected.dir.path().join("delta.tar");
    let d =
        connected.json(&["export", "--all", "--exclude-present", inv.to_str().unwrap(), "-o", delta.to_str().unwrap()]);
    assert_eq!(d["delta"], true, "{d}");
    // What the air-gapped side holds stays behind (app:1's layer, the empty config).
    assert_eq!(d["blobs_excluded"], 2, "{d}");
    assert_eq!(full["delta"], false);
    airgap.json(&["import", delta.to_str().unwrap(), "--force"]);
    assert_eq!(tags(&airgap, "ag/app"), tags(&connected, "ag/app"));
    assert_eq!(tags(&airgap, "ag/tool"), tags(&connected, "ag/tool"));
    airgap.wharf(&["verify"]).ok();
}

#[test]
fn sync_library_takes_a_spec_built_in_code() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    put(&src, &d, "lib/app:1.0.0", "one");
    put(&src, &d, "lib/app:2.0.0", "two");
    let dst = Reg::new();
    let reg = wharf::Registry::open(&dst.root).unwrap();
    let spec = wharf::SyncSpec {
        registries: vec![wharf::RegistrySpec {
            host: d.host.clone(),
            images: vec![wharf::ImageSpec {
                repo: "lib/app".into(),
                select: wharf::TagSelector::Semver("< 2".into()),
                latest: None,
            }],
            ..Default::default()
        }],
        repo_prefix: Some("m".parse().unwrap()),
        ..Default::default()
    };
    let opts = wharf::SyncOptions {
        remote: wharf::RemoteOptions { plain_http: true, ..Default::default() },
        dry_run: true,
        ..Default::default()
    };
    let plan = reg.sync(&spec, &opts).unwrap();
    assert_eq!(plan.new, 1);
    assert_eq!(plan.repositories[0].tags[0].reference, "1.0.0");
    assert!(reg.repos().unwrap().repositories.is_empty(), "a dry run writes nothing");
    let done = reg.sync(&spec, &wharf::SyncOptions { dry_run: false, ..opts }).unwrap();
    assert_eq!(done.failed, 0);
    assert_eq!(done.repositories[0].tags[0].result, wharf::reports::SyncResult::Done);
    assert_eq!(names(&tags(&dst, "m/lib/app")), ["1.0.0"]);
}

#[test]
fn sync_same_file_for_skopeo_and_wharf() {
    let Some(skopeo) = super::common::tool("skopeo") else { return };
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    put(&src, &d, "both/app:1", "one");
    put(&src, &d, "both/app:2", "two");
    let dst = Reg::new();
    let file = write_file(
        &dst,
        "both.yaml",
        &format!("{}:\n  tls-verify: false\n  images:\n    both/app: []\nwharf:\n  repo-prefix: mirror\n", d.host),
    );
    // skopeo takes `wharf` for a registry without images and copies the rest.
    let out = dst.dir.path().join("skopeo-out");
    std::fs::create_dir_all(&out).unwrap();
    let (code, _, err) =
        super::common::run_tool(&skopeo, &["sync", "--src", "yaml", "--dest", "dir", &file, out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let copied: Vec<String> = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() == "manifest.json")
        .map(|e| e.path().parent().unwrap().file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(copied.len(), 2, "{copied:?}");
    assert!(copied.iter().all(|c| c.starts_with("app:")), "{copied:?}");
    let (code, v) = sync(&dst, &file, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(names(&tags(&dst, "mirror/both/app")), ["1", "2"]);
}
