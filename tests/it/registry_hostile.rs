//! Hostile registries (a fake in this process): wrong digests, truncated bodies, 5xx
//! (retried, then exit 2), cross-host redirects (followed without credentials), oversized
//! manifests, 401 without credentials. Each failure exits 2 with a clear message and
//! leaves the root byte-identical.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;

use super::common::Reg;
use super::registry_support::{Fake, Reply, Request, sha, tiny_image, write_layout};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A registry serving one image `app:1` (manifest, config, layer); `blob` may replace
/// the answer for a blob GET.
fn serve(
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
    blob: impl Fn(&Request, &str) -> Option<Reply> + Send + Sync + 'static,
) -> Fake {
    Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/" {
            return Reply::new(200, b"{}");
        }
        if path == "/v2/app/manifests/1" || path == format!("/v2/app/manifests/{}", sha(&manifest)) {
            return Reply::new(200, &manifest).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            if let Some(r) = blob(req, d) {
                return r;
            }
            for b in [&config, &layer] {
                if d == sha(b) {
                    return Reply::new(200, b);
                }
            }
        }
        Reply::new(404, br#"{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"#)
    })
}

fn pull(reg: &Reg, host: &str, extra: &[&str]) -> super::common::Run {
    let src = format!("{host}/app:1");
    let mut args = vec!["pull", "--plain-http"];
    args.extend_from_slice(extra);
    args.push(&src);
    reg.wharf(&args)
}

#[test]
fn pull_blob_digest_mismatch_names_the_digest_and_commits_nothing() {
    let (m, c, l) = tiny_image("mismatch");
    let want = sha(&l);
    // Other bytes, and more of them than the descriptor declares.
    let tampered = vec![b'x'; l.len() + 10];
    let fake = serve(m, c, l, move |_, d| (d == want).then(|| Reply::new(200, &tampered)));
    let reg = Reg::new();
    let before = reg.snapshot();
    let (_, _, l) = tiny_image("mismatch");
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("digest mismatch") && r.stderr.contains(&sha(&l)), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn pull_blob_same_size_wrong_bytes_is_a_digest_mismatch() {
    let (m, c, l) = tiny_image("same-size");
    let want = sha(&l);
    let mut bad = l.clone();
    bad[0] ^= 0xff;
    let fake = serve(m, c, l.clone(), move |_, d| (d == want).then(|| Reply::new(200, &bad)));
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("digest mismatch") && r.stderr.contains(&sha(&l)), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn pull_manifest_digest_mismatch_names_the_digest() {
    let (m, _, _) = tiny_image("manifest");
    let reg = Reg::new();
    let before = reg.snapshot();
    let claimed = sha(b"some other manifest");
    // The registry answers any manifest request with bytes that hash elsewhere.
    let fake2 = Fake::start(move |req| {
        if req.path.starts_with("/v2/app/manifests/") {
            Reply::new(200, &m).header("Content-Type", OCI_MANIFEST)
        } else {
            Reply::new(404, b"")
        }
    });
    let r = reg.wharf(&["pull", "--plain-http", &format!("{}/app@{claimed}", fake2.host)]).code(2);
    assert!(r.stderr.contains(&claimed) && r.stderr.contains("digest mismatch"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn pull_truncated_blob_is_retried_then_fails() {
    let (m, c, l) = tiny_image("truncated");
    let want = sha(&l);
    let n = l.len();
    let half = l[..n / 2].to_vec();
    let fake = serve(m, c, l, move |_, d| {
        (d == want).then(|| Reply { status: 200, headers: Vec::new(), body: half.clone(), declared: Some(n as u64) })
    });
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    let (_, _, l) = tiny_image("truncated");
    assert!(r.stderr.contains(&sha(&l)) && r.stderr.contains("attempts"), "{}", r.stderr);
    let gets = fake.requests().iter().filter(|q| q.path.ends_with(&sha(&l))).count();
    assert_eq!(gets, 5, "the broken download is retried a bounded number of times");
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn pull_retries_500s_then_succeeds() {
    let (m, c, l) = tiny_image("flaky");
    let want = sha(&l);
    let fails = Arc::new(AtomicUsize::new(0));
    let f2 = fails.clone();
    let fake = serve(m.clone(), c, l, move |_, d| {
        (d == want && f2.fetch_add(1, Ordering::SeqCst) < 2).then(|| Reply::new(500, b"boom"))
    });
    let reg = Reg::new();
    let v = pull(&reg, &fake.host, &["--json"]).ok().json();
    assert_eq!(v["images"][0]["digest"], sha(&m));
    assert_eq!(fails.load(Ordering::SeqCst), 3);
    reg.wharf(&["verify"]).ok();
}

#[test]
fn pull_500_forever_exits_2_after_bounded_retries() {
    let fake = Fake::start(|_| Reply::new(500, br#"{"errors":[{"code":"UNKNOWN","message":"storage down"}]}"#));
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(
        r.stderr.contains("500") && r.stderr.contains("5 attempts") && r.stderr.contains("storage down"),
        "{}",
        r.stderr
    );
    assert_eq!(fake.requests().len(), 5);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn cross_host_redirect_is_followed_without_credentials() {
    let (m, c, l) = tiny_image("redirect");
    let (lc, ll) = (c.clone(), l.clone());
    // The second host (an "object store") serves blobs to anyone.
    let store = Fake::start(move |req| {
        let d = req.path.trim_start_matches('/').split('?').next().unwrap().to_string();
        for b in [&lc, &ll] {
            if d == sha(b) {
                return Reply::new(200, b);
            }
        }
        Reply::new(404, b"")
    });
    let store_host = store.host.clone();
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("u:p"));
    let fake = Fake::start(move |req| {
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::new(401, b"").header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/app/manifests/1" {
            return Reply::new(200, &m).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            return Reply::new(307, b"").header("Location", &format!("http://{store_host}/{d}?sig=x"));
        }
        Reply::new(404, b"")
    });
    let reg = Reg::new();
    pull(&reg, &fake.host, &["--creds", "u:p"]).ok();
    let at_store = store.requests();
    assert_eq!(at_store.len(), 2, "both blobs fetched from the redirect target");
    assert!(at_store.iter().all(|q| q.header("authorization").is_none()), "credentials leaked: {at_store:?}");
    assert!(fake.requests().iter().any(|q| q.header("authorization").is_some()));
    reg.wharf(&["verify"]).ok();
}

#[test]
fn oversized_manifest_is_refused() {
    let fake = Fake::start(|req| {
        if req.path.starts_with("/v2/app/manifests/") {
            let mut r = Reply::new(200, b"{}").header("Content-Type", OCI_MANIFEST);
            r.declared = Some(64 << 20);
            return r;
        }
        Reply::new(404, b"")
    });
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("larger than the limit"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
    // A manifest that streams past the cap without declaring a length is refused too.
    let big = vec![b' '; (16 << 20) + 10];
    let fake2 = Fake::start(move |req| {
        if req.path.starts_with("/v2/app/manifests/") {
            return Reply::new(200, &big).header("Content-Type", OCI_MANIFEST);
        }
        Reply::new(404, b"")
    });
    let r = pull(&reg, &fake2.host, &[]).code(2);
    assert!(r.stderr.contains("larger than the limit"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn malformed_manifest_is_refused() {
    let fake = Fake::start(|req| {
        if req.path.starts_with("/v2/app/manifests/") {
            return Reply::new(200, b"<html>not json</html>").header("Content-Type", OCI_MANIFEST);
        }
        Reply::new(404, b"")
    });
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("not a manifest"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn unauthorized_without_credentials_says_where_it_looked() {
    let fake = Fake::start(|_| Reply::new(401, b"").header("WWW-Authenticate", r#"Basic realm="fake""#));
    let reg = Reg::new();
    let before = reg.snapshot();
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "pull", "--plain-http"])
        .arg(format!("{}/app:1", fake.host))
        .env("HOME", home.path())
        .env("REGISTRY_AUTH_FILE", home.path().join("auth.json"))
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("registry {}", fake.host)) && err.contains("401"), "{err}");
    assert!(err.contains("auth.json (absent)") && err.contains("XDG_RUNTIME_DIR"), "{err}");
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn noop_push_costs_one_manifest_head_per_tag() {
    let (m, c, l) = tiny_image("noop");
    let src = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    super::registry_support::write_layout(
        dir.path(),
        &[&c, &l],
        &[(OCI_MANIFEST, &m, Some("1")), (OCI_MANIFEST, &m, Some("2"))],
    );
    src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    let digest = sha(&m);
    let fake = Fake::start(move |req| {
        if req.method == "HEAD" && req.path.starts_with("/v2/app/manifests/") {
            return Reply::new(200, b"").header("Docker-Content-Digest", &digest).header("Content-Type", OCI_MANIFEST);
        }
        Reply::new(500, b"unexpected")
    });
    let v = src.json(&["push", "app", "--to", &fake.host, "--plain-http"]);
    assert_eq!(v["uploaded_bytes"], 0);
    assert_eq!(v["manifests_pushed"], 0);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs.iter().all(|q| q.method == "HEAD"));
}

/// A registry that demands chunked uploads (`OCI-Chunk-Min-Length`) and keeps what it gets.
#[test]
fn push_uses_patch_chunks_when_the_registry_asks() {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    let (m, c, l) = tiny_image("chunked");
    let src = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    super::registry_support::write_layout(dir.path(), &[&c, &l], &[(OCI_MANIFEST, &m, Some("1"))]);
    src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    let uploads: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let blobs: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let (up, bl) = (uploads.clone(), blobs.clone());
    let fake = Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        match (req.method.as_str(), path) {
            ("HEAD", _) => Reply::new(404, b""),
            ("POST", "/v2/app/blobs/uploads/") => {
                up.lock().unwrap().clear();
                Reply::new(202, b"").header("Location", "/up/1?_state=a").header("OCI-Chunk-Min-Length", "100")
            }
            ("PATCH", "/up/1") => {
                let mut u = up.lock().unwrap();
                let range = req.header("content-range").unwrap_or("");
                let start: usize = range.split('-').next().unwrap().parse().unwrap();
                assert_eq!(start, u.len(), "chunks arrive in order");
                u.extend_from_slice(&req.body);
                Reply::new(202, b"").header("Location", "/up/1?_state=b")
            }
            ("PUT", "/up/1") => {
                let digest = query.split('&').find_map(|kv| kv.strip_prefix("digest=")).unwrap().replace("%3A", ":");
                let mut u = up.lock().unwrap();
                u.extend_from_slice(&req.body);
                if sha(&u) != digest {
                    return Reply::new(400, b"digest invalid");
                }
                bl.lock().unwrap().insert(digest, std::mem::take(&mut *u));
                Reply::new(201, b"")
            }
            ("PUT", "/v2/app/manifests/1") => Reply::new(201, b""),
            _ => Reply::new(405, b""),
        }
    });
    let v = src.json(&["push", "app:1", "--to", &fake.host, "--plain-http", "--jobs", "1"]);
    assert_eq!(v["uploaded_blobs"], 2, "{v}");
    let got = blobs.lock().unwrap().clone();
    assert_eq!(got.get(&sha(&l)), Some(&l));
    assert_eq!(got.get(&sha(&c)), Some(&c));
    let patches = fake.requests().iter().filter(|q| q.method == "PATCH").count();
    assert_eq!(patches, 2, "one chunk per blob (chunks are at least 4 MiB)");
}

#[test]
fn push_500_forever_exits_2_naming_the_registry() {
    let (m, c, l) = tiny_image("push500");
    let src = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    super::registry_support::write_layout(dir.path(), &[&c, &l], &[(OCI_MANIFEST, &m, Some("1"))]);
    src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    let fake = Fake::start(|_| Reply::new(503, b"maintenance"));
    let before = src.snapshot();
    let r = src.wharf(&["push", "app", "--to", &fake.host, "--plain-http"]).code(2);
    assert!(r.stderr.contains(&format!("registry {}", fake.host)) && r.stderr.contains("503"), "{}", r.stderr);
    assert_eq!(fake.requests().len(), 5);
    assert_eq!(src.snapshot(), before);
}

/// A registry with the referrers API (OCI 1.1): push sends referrers without touching a
/// fallback tag (the registry answered OCI-Subject), pull finds them through the API.
#[test]
fn referrers_api_round_trip() {
    use super::registry_support::{artifact, mini_registry, write_layout};
    let (m, c, l) = tiny_image("api");
    let (a, blob) = artifact(&m, "application/spdx+json", "an sbom");
    let src = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l, &blob, b"{}"], &[(OCI_MANIFEST, &m, Some("1")), (OCI_MANIFEST, &a, None)]);
    src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    let fake = mini_registry();
    let v = src.json(&["push", "app", "--to", &fake.host, "--plain-http"]);
    assert_eq!(v["manifests_pushed"], 2, "{v}");
    let fallback = format!("sha256-{}", &sha(&m)[7..]);
    assert!(!fake.requests().iter().any(|q| q.path.contains(&fallback)), "no fallback tag with a referrers API");
    let back = Reg::new();
    let p = back.json(&["pull", "--plain-http", &format!("{}/app:1", fake.host)]);
    assert_eq!(p["images"][0]["referrers"][0], sha(&a), "{p}");
    assert!(fake.requests().iter().any(|q| q.path.contains("/referrers/")));
    back.wharf(&["verify"]).ok();
}

/// A pull killed mid-way, run again, takes what it had received from the staging area it
/// left behind instead of downloading it again.
#[test]
fn interrupted_pull_resumes_from_what_it_received() {
    use std::sync::atomic::AtomicBool;
    let (m, c, l) = tiny_image("resume");
    let served: Arc<std::sync::Mutex<Vec<String>>> = Arc::new(std::sync::Mutex::new(Vec::new()));
    let release = Arc::new(AtomicBool::new(false));
    let (s2, r2) = (served.clone(), release.clone());
    let fake = serve(m.clone(), c.clone(), l.clone(), move |_, d| {
        let mut s = s2.lock().unwrap();
        if s.is_empty() {
            s.push(d.to_string());
            return None; // the first blob is served
        }
        drop(s);
        // The second stalls until the test has killed the puller.
        while !r2.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(Reply::new(500, b""))
    });
    let reg = Reg::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--root", reg.root.to_str().unwrap(), "pull", "--plain-http", "--jobs", "1"])
        .arg(format!("{}/app:1", fake.host))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let staged = |hex: &str| {
        std::fs::read_dir(reg.root.join(".wharf/staging"))
            .map(|rd| rd.flatten().any(|e| e.path().join("blobs/sha256").join(hex).is_file()))
            .unwrap_or(false)
    };
    loop {
        let first = served.lock().unwrap().first().cloned();
        if let Some(d) = &first
            && staged(&d[7..])
            && fake.requests().len() >= 3
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the first blob never reached staging");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    release.store(true, Ordering::SeqCst);
    let first = served.lock().unwrap()[0].clone();
    // The registry now refuses the blob already received: the second run must not need it.
    let refuse = first.clone();
    let fake2 = serve(m.clone(), c, l, move |_, d| (d == refuse).then(|| Reply::new(500, b"")));
    let v = pull(&reg, &fake2.host, &["--json"]).ok().json();
    assert_eq!(v["resumed_blobs"], 1, "{v}");
    assert_eq!(v["downloaded_blobs"], 1, "{v}");
    assert!(!fake2.requests().iter().any(|q| q.path.ends_with(&first)));
    assert_eq!(v["images"][0]["digest"], sha(&m));
    reg.wharf(&["verify"]).ok();
}

#[test]
fn pull_refuses_gzip_labelled_plain_tar_layer_as_verify_would() {
    // A layer labelled tar+gzip whose bytes are a plain tar: `wharf verify` reports this
    // as media_type_mismatch (an error), so pull must refuse it before committing.
    let (_, c, l) = tiny_image("plain-as-gzip");
    assert_ne!(l[..2], [0x1f, 0x8b], "the layer is not gzip");
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        sha(&c),
        c.len(),
        sha(&l),
        l.len()
    )
    .into_bytes();
    let layer_digest = sha(&l);
    let fake = serve(m, c, l, |_, _| None);
    let reg = Reg::new();
    // A root that already holds an image, so "unchanged" covers existing content too.
    let (om, oc, ol) = tiny_image("already-here");
    let layout = tempfile::tempdir().unwrap();
    write_layout(layout.path(), &[&oc, &ol], &[(OCI_MANIFEST, &om, Some("1"))]);
    reg.wharf(&["import", layout.path().to_str().unwrap(), "--repo", "app"]).ok();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("media_type_mismatch"), "{}", r.stderr);
    assert!(r.stderr.contains(&layer_digest), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

// ---- Issue 16 A: credentials never leave their origin, never travel in cleartext ----

const ALICE: &str = "alice:s3cret-pw";

fn alice_basic() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(ALICE))
}

/// No request in `log` carried an Authorization header.
fn assert_no_credentials(log: &[Request], whose: &str) {
    let leaked: Vec<&Request> = log.iter().filter(|q| q.header("authorization").is_some()).collect();
    assert!(leaked.is_empty(), "credentials reached {whose}: {leaked:?}");
}

/// A source registry holding `app:1` for push tests.
fn pushable(seed: &str) -> (Reg, Vec<u8>, Vec<u8>, Vec<u8>) {
    let (m, c, l) = tiny_image(seed);
    let src = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[(OCI_MANIFEST, &m, Some("1"))]);
    src.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "app"]).ok();
    (src, m, c, l)
}

/// A registry that wants alice's Basic credentials on every request and answers the
/// upload POST with `location`; blobs are absent, manifests accepted.
fn upload_redirecting(location: String) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    let expected = alice_basic();
    move |req| {
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::new(401, b"").header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        let path = req.path.split('?').next().unwrap();
        match (req.method.as_str(), path) {
            ("HEAD", _) => Reply::new(404, b""),
            ("POST", "/v2/app/blobs/uploads/") => Reply::new(202, b"").header("Location", &location),
            ("PUT", "/v2/app/manifests/1") => Reply::new(201, b""),
            _ => Reply::new(405, b""),
        }
    }
}

#[test]
fn push_cross_origin_upload_location_goes_without_credentials() {
    let (src, _, c, l) = pushable("a1");
    // The other origin stores whatever is PUT to it, asking for nothing.
    let other = Fake::start(|req| match req.method.as_str() {
        "PUT" => Reply::new(201, b""),
        _ => Reply::new(405, b""),
    });
    let fake = Fake::start(upload_redirecting(format!("http://{}/upload/1?_state=x", other.host)));
    src.wharf(&["push", "app:1", "--to", &fake.host, "--plain-http", "--creds", ALICE]).ok();
    let at_other = other.requests();
    let puts: Vec<&Request> = at_other.iter().filter(|q| q.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "both blobs went to the upload Location: {at_other:?}");
    let bodies: Vec<&[u8]> = puts.iter().map(|q| &q.body[..]).collect();
    assert!(bodies.contains(&&c[..]) && bodies.contains(&&l[..]));
    assert_no_credentials(&at_other, "the other origin of the upload Location");
    assert!(fake.requests().iter().any(|q| q.header("authorization") == Some(alice_basic().as_str())));
}

#[test]
fn pull_all_tags_cross_origin_link_goes_without_credentials() {
    let (m, c, l) = tiny_image("a2");
    let other = Fake::start(|req| {
        if req.path.starts_with("/v2/app/tags/list") {
            return Reply::new(200, br#"{"name":"app","tags":[]}"#).header("Content-Type", "application/json");
        }
        Reply::new(404, b"")
    });
    let link = format!(r#"<http://{}/v2/app/tags/list?last=1&n=1>; rel="next""#, other.host);
    let expected = alice_basic();
    let fake = Fake::start(move |req| {
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::new(401, b"").header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/app/tags/list" {
            return Reply::new(200, br#"{"name":"app","tags":["1"]}"#)
                .header("Content-Type", "application/json")
                .header("Link", &link);
        }
        if path == "/v2/app/manifests/1" {
            return Reply::new(200, &m).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            for b in [&c, &l] {
                if d == sha(b) {
                    return Reply::new(200, b);
                }
            }
        }
        Reply::new(404, b"")
    });
    let reg = Reg::new();
    let v = reg.json(&["pull", "--plain-http", "--creds", ALICE, "--all-tags", &format!("{}/app", fake.host)]);
    assert_eq!(v["images"].as_array().unwrap().len(), 1, "{v}");
    let at_other = other.requests();
    assert_eq!(at_other.len(), 1, "the Link was followed: {at_other:?}");
    assert_no_credentials(&at_other, "the other origin of the tag-list Link");
}

#[test]
fn https_blob_redirect_to_http_on_the_same_port_is_refused() {
    let (m, _, _) = tiny_image("a3");
    let expected = alice_basic();
    let host = Arc::new(std::sync::OnceLock::<String>::new());
    let h2 = host.clone();
    let (fake, certs) = Fake::start_tls(move |req| {
        if !req.tls {
            return Reply::new(200, b"served in cleartext");
        }
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::new(401, b"").header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/app/manifests/1" {
            return Reply::new(200, &m).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            return Reply::new(307, b"").header("Location", &format!("http://{}/cleartext/{d}", h2.get().unwrap()));
        }
        Reply::new(404, b"")
    });
    host.set(fake.host.clone()).unwrap();
    let reg = Reg::new();
    let before = reg.snapshot();
    let ca = certs.path().join("ca.pem");
    let r = reg
        .wharf(&["pull", "--ca-file", ca.to_str().unwrap(), "--creds", ALICE, &format!("{}/app:1", fake.host)])
        .code(2);
    assert!(r.stderr.contains("never downgrades https to http"), "{}", r.stderr);
    let log = fake.requests();
    assert!(log.iter().any(|q| q.tls && q.header("authorization").is_some()), "the registry was reached: {log:?}");
    let plain: Vec<Request> = log.into_iter().filter(|q| !q.tls).collect();
    assert_no_credentials(&plain, "http:// on the registry's host:port");
    assert!(plain.is_empty(), "nothing is sent over http: {plain:?}");
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn https_upload_location_on_http_is_refused() {
    let (src, _, _, _) = pushable("a4");
    let host = Arc::new(std::sync::OnceLock::<String>::new());
    let h2 = host.clone();
    let inner = Arc::new(std::sync::OnceLock::<Box<dyn Fn(&Request) -> Reply + Send + Sync>>::new());
    let i2 = inner.clone();
    let (fake, certs) = Fake::start_tls(move |req| {
        if !req.tls {
            return Reply::new(201, b"");
        }
        i2.get().unwrap()(req)
    });
    host.set(fake.host.clone()).unwrap();
    let _ = inner.set(Box::new(upload_redirecting(format!("http://{}/upload/1?_state=x", h2.get().unwrap()))));
    let ca = certs.path().join("ca.pem");
    let before = src.snapshot();
    let r =
        src.wharf(&["push", "app:1", "--to", &fake.host, "--ca-file", ca.to_str().unwrap(), "--creds", ALICE]).code(2);
    assert!(r.stderr.contains("never downgrades https to http"), "{}", r.stderr);
    let log = fake.requests();
    assert!(log.iter().any(|q| q.tls && q.method == "POST"), "the upload was started: {log:?}");
    let plain: Vec<Request> = log.into_iter().filter(|q| !q.tls).collect();
    assert_no_credentials(&plain, "http:// on the registry's host:port");
    assert!(plain.is_empty(), "no blob PUT over http: {plain:?}");
    assert_eq!(src.snapshot(), before);
}

#[test]
fn https_registry_with_an_http_token_realm_is_refused() {
    let token = Fake::start(|_| Reply::new(200, br#"{"token":"t0k3n"}"#).header("Content-Type", "application/json"));
    let realm = format!(r#"Bearer realm="http://{}/token",service="fake""#, token.host);
    let (fake, certs) = Fake::start_tls(move |req| {
        if req.header("authorization") == Some("Bearer t0k3n") {
            return Reply::new(404, b"");
        }
        Reply::new(401, b"").header("WWW-Authenticate", &realm)
    });
    let reg = Reg::new();
    let before = reg.snapshot();
    let ca = certs.path().join("ca.pem");
    let r = reg
        .wharf(&["pull", "--ca-file", ca.to_str().unwrap(), "--creds", ALICE, &format!("{}/app:1", fake.host)])
        .code(2);
    assert!(r.stderr.contains("token service") && r.stderr.contains("plain HTTP"), "{}", r.stderr);
    let at_token = token.requests();
    assert_no_credentials(&at_token, "the http:// token realm");
    assert!(at_token.is_empty(), "nothing goes to a cleartext realm: {at_token:?}");
    assert_eq!(reg.snapshot(), before);
}

// ---- Issue 16 B: every remote answer is bounded ----

/// The staging area of `reg` holds nothing (no area left behind).
fn assert_staging_clean(reg: &Reg) {
    let left: Vec<_> = std::fs::read_dir(reg.root.join(".wharf/staging"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

#[test]
fn pull_from_a_silent_registry_fails_naming_the_host_and_the_wait() {
    let silent = super::registry_support::Silent::start();
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = reg.wharf(&["pull", "--plain-http", "--timeout", "1", &format!("{}/app:1", silent.host)]).code(2);
    assert!(r.stderr.contains(&format!("registry {}", silent.host)), "{}", r.stderr);
    assert!(r.stderr.contains("waiting for the answer's headers") && r.stderr.contains("--timeout"), "{}", r.stderr);
    assert!(r.stderr.contains("3 attempts"), "{}", r.stderr);
    assert_eq!(silent.connections.load(Ordering::SeqCst), 3, "a bounded number of attempts");
    assert_eq!(reg.snapshot(), before);
    assert_staging_clean(&reg);
}

#[test]
fn push_to_a_silent_registry_fails_naming_the_host_and_the_wait() {
    let (src, _, _, _) = pushable("b4-push");
    let silent = super::registry_support::Silent::start();
    let before = src.snapshot();
    let r = src.wharf(&["push", "app:1", "--to", &silent.host, "--plain-http", "--timeout", "1"]).code(2);
    assert!(r.stderr.contains(&format!("registry {}", silent.host)), "{}", r.stderr);
    assert!(r.stderr.contains("no progress for 1 s while waiting for"), "{}", r.stderr);
    assert_eq!(silent.connections.load(Ordering::SeqCst), 3, "a bounded number of attempts");
    assert_eq!(src.snapshot(), before);
}

#[test]
fn pull_index_nested_without_end_stops_at_64_levels() {
    // 200 indexes, each listing the next; the tag names the outermost.
    let mut docs: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
    let (m, _, _) = tiny_image("deep");
    let mut inner = (OCI_MANIFEST, m.clone());
    for _ in 0..200 {
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"{}","digest":"{}","size":{}}}]}}"#,
            inner.0,
            sha(&inner.1),
            inner.1.len()
        )
        .into_bytes();
        docs.insert(sha(&inner.1), inner.1.clone());
        inner = ("application/vnd.oci.image.index.v1+json", idx);
    }
    let top = inner.1.clone();
    let fake = Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        let Some(reference) = path.strip_prefix("/v2/app/manifests/") else { return Reply::new(404, b"") };
        let body = if reference == "1" { Some(&top) } else { docs.get(reference) };
        match body {
            Some(b) => {
                let mt = if b.windows(9).any(|w| w == b"manifests") {
                    "application/vnd.oci.image.index.v1+json"
                } else {
                    OCI_MANIFEST
                };
                Reply::new(200, b).header("Content-Type", mt)
            }
            None => Reply::new(404, b""),
        }
    });
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("nested deeper than 64 levels"), "{}", r.stderr);
    let gets = fake.requests().iter().filter(|q| q.path.contains("/manifests/")).count();
    assert_eq!(gets, 64, "the depth is checked before each fetch");
    assert_eq!(reg.snapshot(), before);
    assert_staging_clean(&reg);
}

/// A registry with the referrers API where every manifest has one referrer, made on
/// demand: a chain without end.
fn endless_referrers(width: usize) -> Fake {
    use super::registry_support::artifact;
    use std::collections::HashMap;
    use std::sync::Mutex;
    let (m, c, l) = tiny_image("chain");
    let docs: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::new(Mutex::new(HashMap::new()));
    docs.lock().unwrap().insert(sha(&m), m.clone());
    let blobs: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::new(Mutex::new(HashMap::new()));
    for b in [&c, &l, &b"{}".to_vec()] {
        blobs.lock().unwrap().insert(sha(b), b.clone());
    }
    Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/app/manifests/1" {
            return Reply::new(200, &m).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/manifests/") {
            return match docs.lock().unwrap().get(d) {
                Some(b) => Reply::new(200, b).header("Content-Type", OCI_MANIFEST),
                None => Reply::new(404, b""),
            };
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            return match blobs.lock().unwrap().get(d) {
                Some(b) => Reply::new(200, b),
                None => Reply::new(404, b""),
            };
        }
        if let Some(subject) = path.strip_prefix("/v2/app/referrers/") {
            let Some(sbytes) = docs.lock().unwrap().get(subject).cloned() else { return Reply::new(404, b"") };
            let mut entries = Vec::new();
            for i in 0..width {
                let (a, blob) = artifact(&sbytes, "application/x-chain", &format!("{subject} {i}"));
                entries.push(format!(
                    r#"{{"mediaType":"{OCI_MANIFEST}","artifactType":"application/x-chain","digest":"{}","size":{}}}"#,
                    sha(&a),
                    a.len()
                ));
                blobs.lock().unwrap().insert(sha(&blob), blob);
                docs.lock().unwrap().insert(sha(&a), a);
            }
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
                entries.join(",")
            );
            return Reply::new(200, body.as_bytes()).header("Content-Type", "application/vnd.oci.image.index.v1+json");
        }
        Reply::new(404, b"")
    })
}

#[test]
fn pull_endless_referrer_chain_stops_with_a_clear_error_and_clean_staging() {
    let fake = endless_referrers(1);
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("chain of referrers") && r.stderr.contains("longer than 16"), "{}", r.stderr);
    let listed = fake.requests().iter().filter(|q| q.path.contains("/referrers/")).count();
    assert_eq!(listed, 17, "the chain is followed to its cap and no further");
    assert_eq!(reg.snapshot(), before);
    assert_staging_clean(&reg);
    // --no-referrers pulls the image alone.
    pull(&reg, &fake.host, &["--no-referrers"]).ok();
}

#[test]
fn pull_with_too_many_referrers_stops_with_a_clear_error_and_clean_staging() {
    let fake = endless_referrers(1001);
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = pull(&reg, &fake.host, &[]).code(2);
    assert!(r.stderr.contains("more than 1000 referrers"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
    assert_staging_clean(&reg);
}

/// A registry serving `app:1` and tag-list pages from `pages` (query → (body, Link)).
fn tag_pages(pages: Vec<(&'static str, Vec<u8>, Option<String>)>) -> Fake {
    let (m, c, l) = tiny_image("tags");
    Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        if path == "/v2/app/tags/list" {
            for (q, body, link) in &pages {
                if *q == query {
                    let mut r = Reply::new(200, body).header("Content-Type", "application/json");
                    if let Some(link) = link {
                        r = r.header("Link", link);
                    }
                    return r;
                }
            }
            return Reply::new(404, b"");
        }
        if path == "/v2/app/manifests/1" {
            return Reply::new(200, &m).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            for b in [&c, &l] {
                if d == sha(b) {
                    return Reply::new(200, b);
                }
            }
        }
        Reply::new(404, b"")
    })
}

#[test]
fn pull_all_tags_link_loop_stops_at_a_page_seen_twice_and_pulls_each_tag_once() {
    let tags = br#"{"name":"app","tags":["1"]}"#.to_vec();
    let fake = tag_pages(vec![
        ("", tags.clone(), Some(r#"</v2/app/tags/list?p=2>; rel="next""#.into())),
        ("p=2", tags.clone(), Some(r#"</v2/app/tags/list?p=2>; rel="next""#.into())),
    ]);
    let reg = Reg::new();
    let v = reg.json(&["pull", "--plain-http", "--all-tags", &format!("{}/app", fake.host)]);
    assert_eq!(v["images"].as_array().unwrap().len(), 1, "{v}");
    let reqs = fake.requests();
    assert_eq!(reqs.iter().filter(|q| q.path.contains("/tags/list")).count(), 2, "{reqs:?}");
    assert_eq!(reqs.iter().filter(|q| q.path.contains("/blobs/")).count(), 2, "each blob fetched once");
}

/// Each page links to a fresh URL (`?p=N` → `?p=N+1`) and repeats the same tag: no URL is
/// seen twice, so only "a page that adds no tag ends the listing" stops it.
#[test]
fn pull_all_tags_fresh_link_urls_without_new_tags_stop() {
    let (m, c, l) = tiny_image("tags");
    let fake = Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/app/tags/list" {
            let n: u64 = req.path.split_once("?p=").and_then(|(_, n)| n.parse().ok()).unwrap_or(0);
            return Reply::new(200, br#"{"name":"app","tags":["1"]}"#)
                .header("Content-Type", "application/json")
                .header("Link", &format!(r#"</v2/app/tags/list?p={}>; rel="next""#, n + 1));
        }
        if path == "/v2/app/manifests/1" {
            return Reply::new(200, &m).header("Content-Type", OCI_MANIFEST);
        }
        if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
            for b in [&c, &l] {
                if d == sha(b) {
                    return Reply::new(200, b);
                }
            }
        }
        Reply::new(404, b"")
    });
    let reg = Reg::new();
    let v = reg.json(&["pull", "--plain-http", "--all-tags", &format!("{}/app", fake.host)]);
    assert_eq!(v["images"].as_array().unwrap().len(), 1, "{v}");
    let pages = fake.requests().iter().filter(|q| q.path.contains("/tags/list")).count();
    assert_eq!(pages, 2, "the second page added nothing and ended the listing");
}

#[test]
fn pull_all_tags_page_over_the_byte_cap_is_refused() {
    let mut body = br#"{"name":"app","tags":["1"]"#.to_vec();
    body.extend(std::iter::repeat_n(b' ', (4 << 20) + 1));
    body.push(b'}');
    let fake = tag_pages(vec![("", body, None)]);
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = reg.wharf(&["pull", "--plain-http", "--all-tags", &format!("{}/app", fake.host)]).code(2);
    assert!(r.stderr.contains("tag list") && r.stderr.contains("larger than the limit"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

#[test]
fn pull_all_tags_over_the_tag_cap_is_refused() {
    let tags: Vec<String> = (0..100_001).map(|i| format!("\"t{i}\"")).collect();
    let body = format!(r#"{{"name":"app","tags":[{}]}}"#, tags.join(",")).into_bytes();
    let fake = tag_pages(vec![("", body, None)]);
    let reg = Reg::new();
    let before = reg.snapshot();
    let r = reg.wharf(&["pull", "--plain-http", "--all-tags", &format!("{}/app", fake.host)]).code(2);
    assert!(r.stderr.contains("more than 100000 tags"), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}

// ---- Issue 16 C: proof of possession ----

/// A root holding `secret:1` (the image `seed`), read-locked.
fn read_locked(seed: &str) -> (Reg, Vec<u8>, Vec<u8>, Vec<u8>) {
    let (m, c, l) = tiny_image(seed);
    let reg = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[(OCI_MANIFEST, &m, Some("1"))]);
    reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", "secret"]).ok();
    reg.wharf(&["update", "secret:1", "--read-enabled", "false"]).ok();
    (reg, m, c, l)
}

#[test]
fn pull_does_not_reuse_read_locked_blobs_the_registry_did_not_send() {
    let (reg, m, c, l) = read_locked("possession");
    // A new manifest over the locked image's config and layer; the registry lacks their bytes.
    let leak = String::from_utf8(m.clone()).unwrap().replacen('{', r#"{"annotations":{"x":"leak"},"#, 1).into_bytes();
    assert_ne!(sha(&leak), sha(&m));
    let fake = Fake::start(move |req| {
        // Only the tag: pull also asks for the image's cosign signature tag, which this
        // registry does not have.
        if req.path == "/v2/leak/manifests/x" {
            return Reply::new(200, &leak).header("Content-Type", OCI_MANIFEST);
        }
        Reply::new(404, br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"no bytes here"}]}"#)
    });
    let before = reg.snapshot();
    let r = reg.wharf(&["pull", "--plain-http", &format!("{}/leak:x", fake.host)]).code(2);
    assert!(r.stderr.contains("404") || r.stderr.contains("not in leak"), "{}", r.stderr);
    let gets: Vec<String> =
        fake.requests().iter().filter(|q| q.path.contains("/blobs/")).map(|q| q.path.clone()).collect();
    assert!(gets.iter().any(|p| p.ends_with(&sha(&c)) || p.ends_with(&sha(&l))), "the bytes were asked for: {gets:?}");
    assert_eq!(reg.snapshot(), before, "nothing stored");
    reg.wharf(&["export", "leak:x", "-o", reg.dir.path().join("x.tar").to_str().unwrap()]).code(2);
    // Readable content does stand in: unlocked, the same pull reuses the blobs.
    reg.wharf(&["update", "secret:1", "--read-enabled", "true"]).ok();
    let v = reg.json(&["pull", "--plain-http", &format!("{}/leak:x", fake.host)]);
    assert_eq!(v["reused_blobs"], 2, "{v}");
    assert_eq!(v["images"].as_array().map(Vec::len), Some(1), "{v}");
}

#[test]
fn delta_naming_read_locked_digests_is_refused() {
    let (reg, m, _, _) = read_locked("delta-possession");
    // A hand-made delta: index.json only, naming the locked manifest under another name.
    let tar_path = reg.dir.path().join("hand-made-delta.tar");
    let index = format!(
        r#"{{"schemaVersion":2,"annotations":{{"io.wharf.bundle.delta":"true"}},"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"leak:x"}}}}]}}"#,
        sha(&m),
        m.len()
    );
    let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    for (name, body) in [("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]), ("index.json", index.as_bytes())] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, body).unwrap();
    }
    b.finish().unwrap();
    drop(b);
    let before = reg.snapshot();
    let r = reg.wharf(&["import", tar_path.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("read lock") && r.stderr.contains(&sha(&m)), "{}", r.stderr);
    assert_eq!(reg.snapshot(), before);
}
