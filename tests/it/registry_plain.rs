//! pull and push against distribution 2.8 over plain HTTP: round trips with the same
//! digests (read back by skopeo), multi-arch indexes, Docker manifest lists, referrers
//! through the fallback tag, mounts, no-op pushes, dry runs and locks.

use super::common::{Reg, run_tool, tool};
use super::lifecycle_util::with_testrepo;
use super::registry_support::{Auth, Distribution, artifact, gzip, sha, tar_layer, tiny_image, write_layout};

fn skopeo_digest(skopeo: &std::path::Path, host: &str, image: &str) -> String {
    let (code, out, err) =
        run_tool(skopeo, &["inspect", "--raw", "--tls-verify=false", &format!("docker://{host}/{image}")]);
    assert_eq!(code, 0, "skopeo inspect {image}: {err}");
    sha(out.as_bytes())
}

fn tag_digest(reg: &Reg, repo: &str, tag: &str) -> String {
    let v = reg.json(&["tags", repo]);
    v["tags"].as_array().unwrap().iter().find(|t| t["name"] == tag).unwrap_or_else(|| panic!("{repo}:{tag} absent"))
        ["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn push_then_pull_round_trip_keeps_digests_and_referrers() {
    let Some(src) = with_testrepo() else { return };
    let Some(d) = Distribution::start(Auth::None) else { return };
    let to = format!("{}/mirror", d.host);
    let v = src.json(&["push", "testrepo", "--to", &to, "--plain-http"]);
    assert!(v["uploaded_blobs"].as_u64().unwrap() > 0, "{v}");
    assert!(v["uploaded_bytes"].as_u64().unwrap() > 0, "{v}");
    assert!(v["tags"].as_array().unwrap().iter().all(|t| t["status"] == "pushed"), "{v}");
    // skopeo reads every pushed tag with the digest wharf holds (multi-arch indexes,
    // Docker manifests and artifacts alike).
    if let Some(skopeo) = tool("skopeo") {
        for t in ["v1", "v2", "v3", "b1", "a-docker", "a-docker-oci", "a1", "ai", "loop"] {
            assert_eq!(
                skopeo_digest(&skopeo, &d.host, &format!("mirror/testrepo:{t}")),
                tag_digest(&src, "testrepo", t),
                "{t}"
            );
        }
        // The subject of v2's referrers: distribution 2.8 has no referrers API, so the
        // fallback tag lists them.
        let v2 = tag_digest(&src, "testrepo", "v2");
        let (code, out, err) = run_tool(
            &skopeo,
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{}/mirror/testrepo:sha256-{}", d.host, &v2[7..]),
            ],
        );
        assert_eq!(code, 0, "{err}");
        let idx: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(idx["manifests"].as_array().unwrap().len(), 2, "{idx}");
    }
    // A second push uploads nothing.
    let again = src.json(&["push", "testrepo", "--to", &to, "--plain-http"]);
    assert_eq!(again["uploaded_bytes"], 0, "{again}");
    assert_eq!(again["uploaded_blobs"], 0);
    assert_eq!(again["manifests_pushed"], 0);
    assert!(again["tags"].as_array().unwrap().iter().all(|t| t["status"] == "skipped"), "{again}");

    // Pull back into a fresh root: same digests, referrers, a sound registry.
    let dst = Reg::new();
    let sources: Vec<String> =
        ["v2", "v3", "b1", "a-docker", "loop"].iter().map(|t| format!("{}/mirror/testrepo:{t}", d.host)).collect();
    let mut args = vec!["pull", "--plain-http"];
    args.extend(sources.iter().map(String::as_str));
    let p = dst.json(&args);
    assert!(p["downloaded_blobs"].as_u64().unwrap() > 0, "{p}");
    for t in ["v2", "v3", "b1", "a-docker", "loop"] {
        assert_eq!(tag_digest(&dst, "mirror/testrepo", t), tag_digest(&src, "testrepo", t), "{t}");
    }
    let refs = dst.json(&["referrers", "mirror/testrepo:v2"]);
    let got: Vec<&str> = refs["referrers"].as_array().unwrap().iter().map(|r| r["digest"].as_str().unwrap()).collect();
    let want = src.json(&["referrers", "testrepo:v2"]);
    let want: Vec<&str> = want["referrers"].as_array().unwrap().iter().map(|r| r["digest"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    assert_eq!(got.len(), 2);
    dst.wharf(&["verify"]).ok();
    if let Some(skopeo) = tool("skopeo") {
        let layout = format!("oci:{}:v2", dst.root.join("mirror/testrepo").display());
        let (code, _, err) = run_tool(&skopeo, &["inspect", "--raw", &layout]);
        assert_eq!(code, 0, "{err}");
    }
    // Pulling again downloads nothing: every blob is already there.
    let p2 = dst.json(&["pull", "--plain-http", &sources[0]]);
    assert_eq!(p2["downloaded_blobs"], 0, "{p2}");
    // --platform narrows an index as import does: one platform is stored as its manifest,
    // and only its blobs are fetched.
    let one = Reg::new();
    let p = one.json(&["pull", "--plain-http", "--platform", "linux/arm64", &sources[0]]);
    assert_eq!(p["images"][0]["origin"], "selected", "{p}");
    assert_eq!(p["images"][0]["platforms"], serde_json::json!(["linux/arm64"]));
    assert!(p["downloaded_blobs"].as_u64().unwrap() < p2["reused_blobs"].as_u64().unwrap(), "{p}");
    one.wharf(&["verify"]).ok();
}

#[test]
fn push_mounts_blobs_shared_between_repositories() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let reg = Reg::new();
    let (m, c, l) = tiny_image("shared");
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1"))]);
    for repo in ["team/a", "team/b", "team/c"] {
        reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", repo]).ok();
    }
    let plan = reg.json(&["push", "--all", "--to", &d.host, "--plain-http", "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["uploaded_blobs"], 2, "{plan}");
    assert_eq!(plan["mounted_blobs"], 4, "{plan}");
    // The dry run sent nothing.
    let v = reg.json(&["push", "--all", "--to", &d.host, "--plain-http"]);
    assert_eq!(v["uploaded_blobs"], 2, "{v}");
    assert_eq!(v["uploaded_bytes"], (c.len() + l.len()) as u64);
    assert_eq!(v["mounted_blobs"], 4, "{v}");
    assert_eq!(v["manifests_pushed"], 3);
    let statuses: Vec<&str> = v["tags"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pushed", "mounted", "mounted"]);
    let human = reg.wharf(&["push", "--all", "--to", &d.host, "--plain-http"]).ok();
    let last = human.stdout.lines().last().unwrap();
    assert!(last.starts_with("pushed 0 tag(s)") && last.contains("3 already there"), "{}", human.stdout);
}

#[test]
fn docker_manifest_list_round_trip() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let reg = Reg::new();
    let tar = tar_layer("docker");
    let layer = gzip(&tar);
    let config =
        format!(r#"{{"architecture":"arm64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#, sha(&tar))
            .into_bytes();
    let manifest = format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n   \"config\": {{\"mediaType\": \"application/vnd.docker.container.image.v1+json\", \"size\": {}, \"digest\": \"{}\"}},\n   \"layers\": [{{\"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": {}, \"digest\": \"{}\"}}]\n}}",
        config.len(),
        sha(&config),
        layer.len(),
        sha(&layer)
    )
    .into_bytes();
    let list = format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n   \"manifests\": [{{\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"size\": {}, \"digest\": \"{}\", \"platform\": {{\"architecture\": \"arm64\", \"os\": \"linux\"}}}}]\n}}",
        manifest.len(),
        sha(&manifest)
    )
    .into_bytes();
    let dir = tempfile::tempdir().unwrap();
    write_layout(
        dir.path(),
        &[&config, &layer, &manifest],
        &[("application/vnd.docker.distribution.manifest.list.v2+json", &list, Some("multi"))],
    );
    reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "dock/list"]).ok();
    reg.json(&["push", "dock/list:multi", "--to", &d.host, "--plain-http"]);
    if let Some(skopeo) = tool("skopeo") {
        assert_eq!(skopeo_digest(&skopeo, &d.host, "dock/list:multi"), sha(&list));
    }
    let back = Reg::new();
    back.json(&["pull", "--plain-http", &format!("{}/dock/list:multi", back_host(&d))]);
    assert_eq!(tag_digest(&back, "dock/list", "multi"), sha(&list));
    back.wharf(&["verify"]).ok();
}

fn back_host(d: &Distribution) -> &str {
    &d.host
}

#[test]
fn pull_what_skopeo_pushed() {
    let Some(skopeo) = tool("skopeo") else { return };
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (m, c, l) = tiny_image("from-skopeo");
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1"))]);
    let (code, _, err) = run_tool(
        &skopeo,
        &[
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:1", dir.path().display()),
            &format!("docker://{}/sk/app:1", d.host),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let reg = Reg::new();
    let v = reg.json(&["pull", "--plain-http", &format!("{}/sk/app:1", d.host)]);
    assert_eq!(v["downloaded_blobs"], 2, "{v}");
    assert_eq!(v["downloaded_bytes"], (c.len() + l.len()) as u64);
    assert_eq!(tag_digest(&reg, "sk/app", "1"), sha(&m));
    // --scoped keeps the host; --repo/--tag rename.
    reg.json(&["pull", "--plain-http", "--scoped", &format!("{}/sk/app:1", d.host)]);
    let scoped = format!("127.0.0.1-{}/sk/app", d.host.rsplit(':').next().unwrap());
    assert_eq!(tag_digest(&reg, &scoped, "1"), sha(&m));
    reg.json(&["pull", "--plain-http", "--repo", "renamed", "--tag", "x", &format!("{}/sk/app:1", d.host)]);
    assert_eq!(tag_digest(&reg, "renamed", "x"), sha(&m));
    // By digest: untagged, addressable.
    reg.json(&["pull", "--plain-http", "--repo", "bydigest", &format!("{}/sk/app@{}", d.host, sha(&m))]);
    reg.json(&["show", &format!("bydigest@{}", sha(&m))]);
    // --all-tags.
    let all = Reg::new();
    let v = all.json(&["pull", "--plain-http", "--all-tags", &format!("{}/sk/app", d.host)]);
    assert_eq!(v["images"].as_array().unwrap().len(), 1, "{v}");
}

#[test]
fn pull_into_write_locked_tag_is_refused_and_root_unchanged() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let src = Reg::new();
    for (seed, tag) in [("one", "1"), ("two", "2")] {
        let (m, c, l) = tiny_image(seed);
        let dir = tempfile::tempdir().unwrap();
        write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some(tag))]);
        src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    }
    src.json(&["push", "app", "--to", &d.host, "--plain-http"]);
    let reg = Reg::new();
    reg.json(&["pull", "--plain-http", &format!("{}/app:1", d.host)]);
    reg.wharf(&["lock", "app:1"]).ok();
    let before = reg.snapshot();
    let r = reg.wharf(&["pull", "--plain-http", "--force", "--tag", "1", &format!("{}/app:2", d.host)]).code(2);
    assert!(r.stderr.contains("locked") && r.stderr.contains("write_enabled"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn push_of_read_disabled_content_is_refused() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let reg = Reg::new();
    let (m, c, l) = tiny_image("secret");
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1"))]);
    reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    reg.wharf(&["update", "app:1", "--read-enabled", "false"]).ok();
    let before = reg.snapshot();
    let r = reg.wharf(&["push", "app:1", "--to", &d.host, "--plain-http"]).code(2);
    assert!(r.stderr.contains("read_enabled"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
    // Nothing reached the registry.
    let other = Reg::new();
    other.wharf(&["pull", "--plain-http", &format!("{}/app:1", d.host)]).code(2);
    // Named through its repository (or --all), a read-locked tag is skipped with a note,
    // as `export --all` does, and the rest is pushed: one lock does not block a mirror.
    let (m2, c2, l2) = tiny_image("public");
    let dir2 = tempfile::tempdir().unwrap();
    write_layout(dir2.path(), &[&c2, &l2], &[("application/vnd.oci.image.manifest.v1+json", &m2, Some("2"))]);
    reg.wharf(&["import", dir2.path().to_str().unwrap(), "--repo", "app"]).ok();
    let v = reg.json(&["push", "--all", "--to", &d.host, "--plain-http"]);
    let notes = v["notes"].to_string();
    assert!(notes.contains("skipped app:1"), "{v:#}");
    other.wharf(&["pull", "--plain-http", &format!("{}/app:2", d.host)]).ok();
    other.wharf(&["pull", "--plain-http", &format!("{}/app:1", d.host)]).code(2);
}

#[test]
fn interrupted_push_resumes_by_skipping_what_is_there() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let reg = Reg::new();
    let (m1, c1, l1) = tiny_image("first");
    let (m2, c2, l2) = tiny_image("second");
    let dir = tempfile::tempdir().unwrap();
    write_layout(
        dir.path(),
        &[&c1, &l1, &c2, &l2],
        &[
            ("application/vnd.oci.image.manifest.v1+json", &m1, Some("1")),
            ("application/vnd.oci.image.manifest.v1+json", &m2, Some("2")),
        ],
    );
    reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    // The first run "stopped" after tag 1.
    reg.json(&["push", "app:1", "--to", &d.host, "--plain-http"]);
    let v = reg.json(&["push", "app", "--to", &d.host, "--plain-http"]);
    assert_eq!(v["uploaded_blobs"], 2, "{v}");
    assert_eq!(v["uploaded_bytes"], (c2.len() + l2.len()) as u64);
    let statuses: Vec<&str> = v["tags"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["skipped", "pushed"]);
    let pulled = Reg::new();
    let out = pulled.wharf(&["pull", "--plain-http", &format!("{}/app:2", d.host)]).ok();
    let last = out.stdout.lines().last().unwrap();
    assert!(last.starts_with("pulled 1 image(s)") && last.contains("downloaded 2 blob(s)"), "{}", out.stdout);
    let _ = m1;
}

/// Two clients each attach a referrer to the same image on a registry without the
/// referrers API: the fallback index ends up listing both.
#[test]
fn fallback_index_keeps_other_clients_referrers() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (m, c, l) = tiny_image("subject");
    let mut digests = Vec::new();
    for (ty, content) in
        [("application/spdx+json", "sbom one"), ("application/vnd.dev.cosign.simplesigning.v1+json", "sig two")]
    {
        let (a, blob) = artifact(&m, ty, content);
        digests.push(sha(&a));
        let reg = Reg::new();
        let dir = tempfile::tempdir().unwrap();
        write_layout(
            dir.path(),
            &[&c, &l, &blob, b"{}"],
            &[
                ("application/vnd.oci.image.manifest.v1+json", &m, Some("1")),
                ("application/vnd.oci.image.manifest.v1+json", &a, None),
            ],
        );
        reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
        let v = reg.json(&["push", "app", "--to", &d.host, "--plain-http"]);
        assert_eq!(v["tags"][0]["referrers"][0], sha(&a), "{v}");
    }
    let back = Reg::new();
    back.json(&["pull", "--plain-http", &format!("{}/app:1", d.host)]);
    let refs = back.json(&["referrers", "app:1"]);
    let mut got: Vec<String> =
        refs["referrers"].as_array().unwrap().iter().map(|r| r["digest"].as_str().unwrap().to_string()).collect();
    got.sort();
    digests.sort();
    assert_eq!(got, digests);
    back.wharf(&["verify"]).ok();
}
