//! `wharf serve` (issue 20): real clients (skopeo, podman, oras-py, plain HTTP) against a
//! `wharf serve` the test starts on a free loopback port (`--addr 127.0.0.1:0`, the bound
//! address read from its stderr) and stops with SIGTERM.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Digest as _;

use super::common::{Reg, in_ci, testdata, tool};
use super::registry_support::{sha, tls_material};

/// A running `wharf serve`; SIGTERM and wait on drop.
pub struct Server {
    pub addr: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(root: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("--root")
            .arg(root)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env_remove("WHARF_ROOT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start wharf serve");
        // Owned by the guard at once: a failed start still stops the child.
        let mut server = Server { addr: String::new(), child, log, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&server.log).unwrap_or_default();
            if let Some(i) = text.find("listening on ") {
                let rest = &text[i + "listening on ".len()..];
                let url = rest.split_whitespace().next().unwrap();
                server.addr = url.split("://").nth(1).unwrap().to_string();
                return server;
            }
            assert!(Instant::now() < deadline, "wharf serve did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM and waits: the exit status and stderr.
    pub fn stop(mut self) -> (i32, String) {
        self.term();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        (code, std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    fn term(&self) {
        // SAFETY: kill(2) on the pid of a child this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.term();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP client that returns every status as a response.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// GET (or another method) `url`: status, headers as (lowercase name, value), body.
pub fn fetch(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let a = agent();
    let mut resp = match method {
        "GET" => {
            let mut r = a.get(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        "HEAD" => {
            let mut r = a.head(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        "DELETE" => a.delete(url).call(),
        "PUT" => a.put(url).content_type("application/vnd.oci.image.manifest.v1+json").send(&b"{}"[..]),
        "POST" => a.post(url).send_empty(),
        "PATCH" => a.patch(url).send(&b"x"[..]),
        _ => unreachable!(),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let hs =
        resp.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = resp.body_mut().with_config().limit(1 << 31).read_to_vec().unwrap_or_default();
    (status, hs, body)
}

pub fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The `code` of the first error of a spec error body.
pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    v["errors"][0]["code"].as_str().unwrap_or_else(|| panic!("no error code in {v}")).to_string()
}

/// A registry with `team/app:1.0` (the hello image); returns it and the manifest digest.
fn hello_registry() -> (Reg, String) {
    let reg = Reg::new();
    reg.wharf(&["import", "--repo", "team/app", "--tag", "1.0", testdata("hello.oci-archive.tar").to_str().unwrap()])
        .ok();
    let digest = reg.json(&["show", "team/app:1.0"])["digest"].as_str().unwrap().to_string();
    (reg, digest)
}

/// The config and layer digests of the manifest at `url`.
fn blobs_of(manifest: &[u8]) -> Vec<String> {
    let m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let mut out = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    out.extend(m["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()));
    out
}

#[test]
fn serve_manifests_and_blobs_as_stored_with_range_and_etag() {
    let (reg, digest) = hello_registry();
    let s = Server::start(&reg.root, &[]);
    let (st, hs, body) = fetch("GET", &s.url("/v2/"), &[]);
    assert_eq!((st, body.as_slice()), (200, &b"{}"[..]));
    assert_eq!(header(&hs, "docker-distribution-api-version"), Some("registry/2.0"));

    let (st, hs, manifest) = fetch("GET", &s.url("/v2/team/app/manifests/1.0"), &[]);
    assert_eq!(st, 200);
    assert_eq!(sha(&manifest), digest, "the stored bytes exactly");
    let stored = std::fs::read(reg.root.join("team/app/blobs/sha256").join(&digest[7..])).unwrap();
    assert_eq!(manifest, stored);
    assert_eq!(header(&hs, "docker-content-digest"), Some(digest.as_str()));
    assert_eq!(header(&hs, "content-type"), Some("application/vnd.oci.image.manifest.v1+json"));
    assert_eq!(header(&hs, "content-length"), Some(manifest.len().to_string().as_str()));
    let (st, hs, body) = fetch("HEAD", &s.url(&format!("/v2/team/app/manifests/{digest}")), &[]);
    assert_eq!((st, body.len()), (200, 0));
    assert_eq!(header(&hs, "content-length"), Some(manifest.len().to_string().as_str()));

    let layer = blobs_of(&manifest).pop().unwrap();
    let url = s.url(&format!("/v2/team/app/blobs/{layer}"));
    let (st, hs, whole) = fetch("GET", &url, &[]);
    assert_eq!(st, 200);
    assert_eq!(sha(&whole), layer);
    let etag = format!("\"{layer}\"");
    assert_eq!(header(&hs, "etag"), Some(etag.as_str()));
    let (st, hs, part) = fetch("GET", &url, &[("Range", "bytes=10-19")]);
    assert_eq!(st, 206);
    assert_eq!(part, whole[10..20]);
    assert_eq!(header(&hs, "content-range"), Some(format!("bytes 10-19/{}", whole.len()).as_str()));
    let (st, _, tail) = fetch("GET", &url, &[("Range", "bytes=-5")]);
    assert_eq!((st, tail.as_slice()), (206, &whole[whole.len() - 5..]));
    let (st, hs, _) = fetch("GET", &url, &[("Range", &format!("bytes={}-", whole.len()))]);
    assert_eq!(st, 416);
    assert_eq!(header(&hs, "content-range"), Some(format!("bytes */{}", whole.len()).as_str()));
    let (st, _, body) = fetch("GET", &url, &[("If-None-Match", &etag)]);
    assert_eq!((st, body.len()), (304, 0));

    let (st, _, body) = fetch("GET", &s.url("/v2/team/app/manifests/2.0"), &[]);
    assert_eq!((st, error_code(&body).as_str()), (404, "MANIFEST_UNKNOWN"));
    let (st, _, body) = fetch("GET", &s.url("/v2/team/none/tags/list"), &[]);
    assert_eq!((st, error_code(&body).as_str()), (404, "NAME_UNKNOWN"));
    let (code, stderr) = s.stop();
    assert_eq!(code, 0, "SIGTERM stops it cleanly: {stderr}");
}

#[test]
fn serve_read_locks_deny_by_tag_digest_and_repository() {
    let (reg, digest) = hello_registry();
    reg.wharf(&["tag", "team/app:1.0", "team/app:open"]).ok();
    let s = Server::start(&reg.root, &[]);
    let (_, _, manifest) = fetch("GET", &s.url("/v2/team/app/manifests/1.0"), &[]);
    let layer = blobs_of(&manifest).pop().unwrap();
    let denied = |path: &str| {
        let (st, _, body) = fetch("GET", &s.url(path), &[]);
        assert_eq!((st, error_code(&body).as_str()), (403, "DENIED"), "{path}");
    };
    let served = |path: &str| assert_eq!(fetch("GET", &s.url(path), &[]).0, 200, "{path}");

    // A read lock on one tag: that tag, and the digest it points at (a digest is no way
    // round a tag's lock). Another tag on the manifest is its own path, and so are the
    // blobs through it, until that tag goes too.
    reg.wharf(&["update", "team/app:1.0", "--read-enabled", "false"]).ok();
    denied("/v2/team/app/manifests/1.0");
    denied(&format!("/v2/team/app/manifests/{digest}"));
    served("/v2/team/app/manifests/open");
    served(&format!("/v2/team/app/blobs/{layer}"));
    reg.wharf(&["untag", "team/app:open"]).ok();
    denied(&format!("/v2/team/app/blobs/{layer}"));
    reg.wharf(&["tag", "team/app:1.0", "team/app:open"]).code(2).stderr_has("read");
    reg.wharf(&["update", "team/app:1.0", "--read-enabled", "true"]).ok();
    reg.wharf(&["tag", "team/app:1.0", "team/app:open"]).ok();
    served("/v2/team/app/manifests/open");

    // On the manifest.
    reg.wharf(&["update", &format!("team/app@{digest}"), "--read-enabled", "false"]).ok();
    denied("/v2/team/app/manifests/open");
    denied(&format!("/v2/team/app/blobs/{layer}"));
    reg.wharf(&["update", &format!("team/app@{digest}"), "--read-enabled", "true"]).ok();

    // On the repository.
    reg.wharf(&["update", "team/app", "--read-enabled", "false"]).ok();
    denied("/v2/team/app/manifests/1.0");
    denied(&format!("/v2/team/app/blobs/{layer}"));
    reg.wharf(&["update", "team/app", "--read-enabled", "true"]).ok();
    served("/v2/team/app/manifests/1.0");
    served(&format!("/v2/team/app/blobs/{layer}"));
}

#[test]
fn serve_blob_scope_is_the_repository() {
    let (reg, _) = hello_registry();
    let src = reg.dir.path().join("notes.txt");
    std::fs::write(&src, b"release notes, repository other only\n").unwrap();
    reg.json(&["add", "other/notes:1", src.to_str().unwrap()]);
    let notes = sha(b"release notes, repository other only\n");
    let s = Server::start(&reg.root, &[]);
    let (_, _, manifest) = fetch("GET", &s.url("/v2/team/app/manifests/1.0"), &[]);
    let layer = blobs_of(&manifest).pop().unwrap();
    assert_eq!(fetch("GET", &s.url(&format!("/v2/team/app/blobs/{layer}")), &[]).0, 200);
    assert_eq!(fetch("GET", &s.url(&format!("/v2/other/notes/blobs/{notes}")), &[]).0, 200);
    // The pool holds both, but neither is reached through the other repository's path.
    for path in [format!("/v2/other/notes/blobs/{layer}"), format!("/v2/team/app/blobs/{notes}")] {
        let (st, _, body) = fetch("GET", &s.url(&path), &[]);
        assert_eq!((st, error_code(&body).as_str()), (404, "BLOB_UNKNOWN"), "{path}");
    }
    // Untagged and unreferenced after a delete: no longer served, before any gc.
    reg.wharf(&["delete", "other/notes:1"]).ok();
    let (st, _, _) = fetch("GET", &s.url(&format!("/v2/other/notes/blobs/{notes}")), &[]);
    assert_eq!(st, 404);
}

#[test]
fn serve_list_enabled_hides_tags_and_repositories() {
    let (reg, _) = hello_registry();
    for t in ["a", "b", "c", "d"] {
        reg.wharf(&["tag", "team/app:1.0", &format!("team/app:{t}")]).ok();
    }
    reg.wharf(&["tag", "team/app:1.0", "hidden/app:1.0"]).ok();
    reg.wharf(&["tag", "team/app:1.0", "shown/app:1.0"]).ok();
    reg.wharf(&["update", "team/app:b", "--list-enabled", "false"]).ok();
    reg.wharf(&["update", "hidden/app", "--list-enabled", "false"]).ok();
    let s = Server::start(&reg.root, &[]);
    let list = |path: &str| {
        let (st, hs, body) = fetch("GET", &s.url(path), &[]);
        assert_eq!(st, 200, "{path}");
        (serde_json::from_slice::<serde_json::Value>(&body).unwrap(), header(&hs, "link").map(str::to_string))
    };
    let (v, link) = list("/v2/team/app/tags/list");
    assert_eq!(v, serde_json::json!({ "name": "team/app", "tags": ["1.0", "a", "c", "d"] }));
    assert_eq!(link, None);
    let (v, link) = list("/v2/team/app/tags/list?n=2");
    assert_eq!(v["tags"], serde_json::json!(["1.0", "a"]));
    assert_eq!(link.as_deref(), Some("</v2/team/app/tags/list?n=2&last=a>; rel=\"next\""));
    let (v, link) = list("/v2/team/app/tags/list?n=2&last=a");
    assert_eq!((v["tags"].clone(), link), (serde_json::json!(["c", "d"]), None));
    let (v, _) = list("/v2/_catalog");
    assert_eq!(v, serde_json::json!({ "repositories": ["shown/app", "team/app"] }));
    let (v, link) = list("/v2/_catalog?n=1");
    assert_eq!(v["repositories"], serde_json::json!(["shown/app"]));
    assert_eq!(link.as_deref(), Some("</v2/_catalog?n=1&last=shown%2Fapp>; rel=\"next\""));
    // Hidden is not unreadable: a client that knows the name still pulls it.
    assert_eq!(fetch("GET", &s.url("/v2/team/app/manifests/b"), &[]).0, 200);
    assert_eq!(fetch("GET", &s.url("/v2/hidden/app/manifests/1.0"), &[]).0, 200);
}

#[test]
fn serve_refuses_every_write_with_405_naming_the_command() {
    let (reg, digest) = hello_registry();
    let before = reg.snapshot();
    let s = Server::start(&reg.root, &[]);
    let cases = [
        ("PUT", "/v2/team/app/manifests/2.0".to_string(), "wharf import"),
        ("DELETE", format!("/v2/team/app/manifests/{digest}"), "wharf delete"),
        ("POST", "/v2/team/app/blobs/uploads/".to_string(), "wharf import"),
        ("PATCH", "/v2/team/app/blobs/uploads/123".to_string(), "wharf import"),
        ("PUT", "/v2/team/app/blobs/uploads/123?digest=sha256:00".to_string(), "wharf import"),
        ("DELETE", format!("/v2/team/app/blobs/{digest}"), "wharf gc"),
    ];
    for (method, path, command) in cases {
        let (st, hs, body) = fetch(method, &s.url(&path), &[]);
        assert_eq!((st, error_code(&body).as_str()), (405, "UNSUPPORTED"), "{method} {path}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let message = v["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(command), "{method} {path}: {message}");
        assert_eq!(header(&hs, "allow"), Some("GET, HEAD"));
    }
    drop(s);
    assert_eq!(reg.snapshot(), before, "nothing changed");
}

#[test]
fn serve_refuses_plain_http_off_loopback_and_bad_options() {
    let (reg, _) = hello_registry();
    let r = reg.wharf(&["serve", "--addr", "0.0.0.0:0"]).code(2);
    assert!(r.stderr.contains("--insecure-listen"), "{}", r.stderr);
    let bad = reg.dir.path().join("htpasswd");
    std::fs::write(&bad, "alice:{SHA}abc\n").unwrap();
    let r = reg.wharf(&["serve", "--addr", "127.0.0.1:0", "--htpasswd", bad.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("htpasswd -B"), "{}", r.stderr);
}

/// skopeo on a registry served plainly, then over TLS with htpasswd credentials.
#[test]
fn serve_skopeo_inspect_and_copy_plain_and_tls_with_htpasswd() {
    let Some(skopeo) = tool("skopeo") else { return };
    let (reg, digest) = hello_registry();
    let work = tempfile::tempdir().unwrap();
    let copy = |args: &[&str], dest: &Path| {
        let mut a = vec!["--insecure-policy", "copy"];
        a.extend_from_slice(args);
        let d = format!("oci:{}:x", dest.display());
        a.push(&d);
        let (code, out, err) = super::common::run_tool(&skopeo, &a);
        assert_eq!(code, 0, "skopeo {a:?}\n{out}\n{err}");
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"][0]["digest"], digest.as_str(), "the copy is wharf's manifest, byte for byte");
    };

    let s = Server::start(&reg.root, &[]);
    let src = format!("docker://{}/team/app:1.0", s.addr);
    let (code, out, err) = super::common::run_tool(&skopeo, &["inspect", "--tls-verify=false", &src]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], digest.as_str());
    copy(&["--src-tls-verify=false", &src], &work.path().join("plain"));
    drop(s);

    let (ca, cert, key) = tls_material();
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ca.crt"), ca).unwrap();
    std::fs::write(work.path().join("cert.pem"), cert).unwrap();
    std::fs::write(work.path().join("key.pem"), key).unwrap();
    let hash = bcrypt::hash_with_result("pw-42", 4).unwrap().format_for_version(bcrypt::Version::TwoY);
    std::fs::write(work.path().join("htpasswd"), format!("reader:{hash}\n")).unwrap();
    let p = |n: &str| work.path().join(n).to_str().unwrap().to_string();
    let s = Server::start(
        &reg.root,
        &["--tls-cert", &p("cert.pem"), "--tls-key", &p("key.pem"), "--htpasswd", &p("htpasswd")],
    );
    let src = format!("docker://{}/team/app:1.0", s.addr);
    let cert_dir = format!("--cert-dir={}", certs.display());
    let (code, _, err) = super::common::run_tool(&skopeo, &["inspect", &cert_dir, &src]);
    assert_ne!(code, 0, "no credentials, no manifest");
    assert!(err.contains("401") || err.to_lowercase().contains("unauthorized"), "{err}");
    let (code, _, _) = super::common::run_tool(&skopeo, &["inspect", &cert_dir, "--creds", "reader:wrong", &src]);
    assert_ne!(code, 0, "a wrong password, no manifest");
    let (code, out, err) = super::common::run_tool(&skopeo, &["inspect", &cert_dir, "--creds", "reader:pw-42", &src]);
    assert_eq!(code, 0, "{out}{err}");
    let src_cert_dir = format!("--src-cert-dir={}", certs.display());
    copy(&[&src_cert_dir, "--src-creds", "reader:pw-42", &src], &work.path().join("tls"));
}

/// podman pulls into a temporary store (vfs); the image's digest is wharf's.
#[test]
fn serve_podman_pull() {
    let Some(podman) = tool("podman") else { return };
    let (reg, digest) = hello_registry();
    let s = Server::start(&reg.root, &[]);
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("none.conf"), "").unwrap();
    let root = store.path().join("root");
    let runroot = store.path().join("runroot");
    let base = [
        "--root".to_string(),
        root.display().to_string(),
        "--runroot".to_string(),
        runroot.display().to_string(),
        "--storage-driver".to_string(),
        "vfs".to_string(),
    ];
    let run = |args: &[&str]| {
        let o = Command::new(&podman)
            .args(&base)
            .args(args)
            .env("CONTAINERS_REGISTRIES_CONF", store.path().join("none.conf"))
            .env("XDG_CONFIG_HOME", store.path().join("config"))
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let image = format!("{}/team/app:1.0", s.addr);
    let (code, out, err) = run(&["pull", "--tls-verify=false", &image]);
    assert_eq!(code, 0, "podman pull\n{out}\n{err}");
    let (code, out, err) = run(&["image", "inspect", "--format", "{{.Digest}}", &image]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), digest);
}

fn python_with_oras() -> Option<PathBuf> {
    let python = tool("python3")?;
    let ok = Command::new(&python).args(["-c", "import oras.provider"]).output().map(|o| o.status.success());
    match ok {
        Ok(true) => Some(python),
        _ if in_ci() => panic!("the python module oras is required under CI=true (python3 -m pip install oras)"),
        _ => {
            eprintln!("NOT RUN: the python module oras is not installed; this interop check did not run");
            None
        }
    }
}

/// oras-py pulls an artifact's files byte for byte; the referrers API lists the SBOM
/// attached to it, with the artifactType filter applied.
#[test]
fn serve_oras_pulls_files_and_referrers_list_the_sbom() {
    let Some(python) = python_with_oras() else { return };
    let reg = Reg::new();
    let src = reg.dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let bin = super::common::pseudo_random(7, 200_000);
    std::fs::write(src.join("app.bin"), &bin).unwrap();
    let added = reg.json(&["add", "releases/app:1.0", src.join("app.bin").to_str().unwrap()]);
    let digest = added["digest"].as_str().unwrap().to_string();
    std::fs::write(src.join("sbom.json"), br#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
    let with_type = format!("{}:application/spdx+json", src.join("sbom.json").display());
    let attached = reg.json(&["attach", "releases/app:1.0", &with_type, "--artifact-type", "application/spdx+json"]);
    let sbom = attached["digest"].as_str().unwrap_or_else(|| panic!("{attached}")).to_string();
    let s = Server::start(&reg.root, &[]);

    let out = reg.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = reg.dir.path().join("pull.py");
    std::fs::write(
        &script,
        "import sys, oras.provider\nhost, target, outdir = sys.argv[1:4]\nreg = oras.provider.Registry(hostname=host, insecure=True)\nprint(reg.pull(target=target, outdir=outdir))\n",
    )
    .unwrap();
    let o = Command::new(&python)
        .arg(&script)
        .args([&s.addr, &format!("{}/releases/app:1.0", s.addr), out.to_str().unwrap()])
        .current_dir(reg.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("app.bin")).unwrap(), bin);

    let url = s.url(&format!("/v2/releases/app/referrers/{digest}"));
    let (st, hs, body) = fetch("GET", &url, &[]);
    assert_eq!(st, 200);
    assert_eq!(header(&hs, "content-type"), Some("application/vnd.oci.image.index.v1+json"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["manifests"][0]["digest"], sbom.as_str());
    assert_eq!(v["manifests"][0]["artifactType"], "application/spdx+json");
    let (_, hs, body) = fetch("GET", &format!("{url}?artifactType=application%2Fspdx%2Bjson"), &[]);
    assert_eq!(header(&hs, "oci-filters-applied"), Some("artifactType"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["manifests"].as_array().unwrap().len(), 1);
    let (_, _, body) = fetch("GET", &format!("{url}?artifactType=application/vnd.other"), &[]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["manifests"], serde_json::json!([]));
    // A read-locked referrer is not listed.
    reg.wharf(&["update", &format!("releases/app@{sbom}"), "--read-enabled", "false"]).ok();
    let (_, _, body) = fetch("GET", &url, &[]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["manifests"], serde_json::json!([]));
}

/// A blob already streaming when gc deletes it is sent whole, from the open file.
#[test]
fn serve_streaming_blob_survives_gc_deleting_it() {
    let reg = Reg::new();
    let big = super::common::pseudo_random(3, 48 << 20);
    let file = reg.dir.path().join("big.bin");
    std::fs::write(&file, &big).unwrap();
    reg.json(&["add", "big/blob:1", file.to_str().unwrap()]);
    let digest = sha(&big);
    drop(big);
    let s = Server::start(&reg.root, &[]);
    let mut resp = agent().get(&s.url(&format!("/v2/big/blob/blobs/{digest}"))).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut reader = resp.body_mut().with_config().limit(1 << 31).reader();
    let mut first = vec![0u8; 1 << 20];
    reader.read_exact(&mut first).unwrap();
    reg.wharf(&["delete", "big/blob:1"]).ok();
    reg.wharf(&["gc", "--grace", "0s"]).ok();
    assert!(!reg.root.join("big/blob/blobs/sha256").join(&digest[7..]).exists(), "gc removed it");
    let mut hasher = sha2::Sha256::new();
    hasher.update(&first);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    hasher.update(&rest);
    assert_eq!(format!("sha256:{}", hex::encode(hasher.finalize())), digest, "every byte, as stored");
    let (st, _, _) = fetch("GET", &s.url(&format!("/v2/big/blob/blobs/{digest}")), &[]);
    assert_eq!(st, 404, "gone for the next request");
}

/// 20 parallel pulls while a loop imports, purges and collects: every pull gets the right
/// bytes or a clean 404, never anything else.
#[test]
fn serve_concurrent_pulls_during_import_purge_and_gc() {
    let (reg, _) = hello_registry();
    let s = Server::start(&reg.root, &[]);
    let addr = s.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pullers = Vec::new();
    for i in 0..20 {
        let addr = addr.clone();
        let stop = stop.clone();
        pullers.push(std::thread::spawn(move || {
            let (mut ok, mut gone) = (0u32, 0u32);
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || round < 2 {
                round += 1;
                let tag = if (i + round) % 2 == 0 { "1.0" } else { "moving" };
                match pull_once(&addr, "team/app", tag) {
                    Pull::Ok => ok += 1,
                    Pull::Gone => gone += 1,
                }
            }
            (ok, gone)
        }));
    }
    let archive = testdata("hello.oci-archive.tar");
    for round in 0..4u64 {
        // A new artifact under `moving` each round (new blobs), an import, then purge
        // with --untagged and gc remove what the last round left.
        let f = reg.dir.path().join(format!("round-{round}.bin"));
        std::fs::write(&f, super::common::pseudo_random(100 + round, 3 << 20)).unwrap();
        reg.wharf(&["add", "team/app:moving", f.to_str().unwrap(), "--force"]).ok();
        reg.wharf(&["import", "--repo", "team/app", "--tag", "imported", "--force", archive.to_str().unwrap()]).ok();
        std::thread::sleep(Duration::from_millis(200));
        reg.wharf(&["purge", "--filter", "team/app:moving", "--untagged"]).ok();
        reg.wharf(&["gc", "--grace", "0s"]).ok();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for p in pullers {
        let (ok, gone) = p.join().expect("no pull saw a wrong byte or an unclean error");
        total += ok;
        let _ = gone;
    }
    assert!(total >= 20, "pulls of the tag that stays succeed ({total})");
}

enum Pull {
    Ok,
    Gone,
}

/// Pulls a manifest and its blobs, checking each digest. Panics on anything but the
/// right bytes or a spec 404.
fn pull_once(addr: &str, repo: &str, tag: &str) -> Pull {
    let base = format!("http://{addr}/v2/{repo}");
    let (st, hs, manifest) = fetch("GET", &format!("{base}/manifests/{tag}"), &[]);
    if st == 404 {
        assert_eq!(error_code(&manifest), "MANIFEST_UNKNOWN");
        return Pull::Gone;
    }
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&manifest));
    assert_eq!(header(&hs, "docker-content-digest"), Some(sha(&manifest).as_str()));
    for b in blobs_of(&manifest) {
        let (st, _, body) = fetch("GET", &format!("{base}/blobs/{b}"), &[]);
        if st == 404 {
            assert_eq!(error_code(&body), "BLOB_UNKNOWN");
            return Pull::Gone;
        }
        assert_eq!(st, 200);
        assert_eq!(sha(&body), b, "never a wrong byte");
    }
    Pull::Ok
}

/// containerd's `ctr images pull --plain-http`, against a containerd the test starts with
/// a temporary config, root, state and socket (its CRI plugin off, the native snapshotter).
#[test]
fn serve_containerd_ctr_pull() {
    let (Some(containerd), Some(ctr)) = (tool("containerd"), tool("ctr")) else { return };
    let (reg, digest) = hello_registry();
    let s = Server::start(&reg.root, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sock = d.join("c.sock");
    std::fs::write(
        d.join("config.toml"),
        format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{}\"\n[ttrpc]\n  address = \"{}\"\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            d.join("root").display(),
            d.join("state").display(),
            sock.display(),
            d.join("t.sock").display()
        ),
    )
    .unwrap();
    let mut daemon = Command::new(containerd)
        .arg("--config")
        .arg(d.join("config.toml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("containerd.log")).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut daemon);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "{}", std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    let address = sock.to_str().unwrap();
    let image = format!("{}/team/app:1.0", s.addr);
    let (code, out, err) = super::common::run_tool(
        &ctr,
        &["--address", address, "-n", "wharftest", "images", "pull", "--plain-http", "--snapshotter", "native", &image],
    );
    assert_eq!(code, 0, "ctr pull\n{out}\n{err}");
    let (code, out, err) = super::common::run_tool(&ctr, &["--address", address, "-n", "wharftest", "images", "ls"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with(&image)).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&digest), "ctr holds wharf's digest: {line}");
}
