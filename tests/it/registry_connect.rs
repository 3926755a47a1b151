//! Connecting as podman and docker do (issue 17), against distribution 2.8 started by each
//! test: the system trust store through SSL_CERT_FILE, --ca-file adding to it, certs.d
//! directories under WHARF_SYSTEM_ROOT, docker's self-signed openssl recipe, mutual TLS
//! with clientcas, plain HTTP answering a TLS hello, --tls-verify=false reaching a plain
//! registry, registries.conf (insecure, blocked), login/logout interoperating with skopeo
//! and podman, and a CONNECT proxy that alone resolves the registry's name.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use super::common::{Reg, run_tool, tool};
use super::registry_support::{Auth, Distribution, Fake, Reply, sha, tiny_image, write_layout};

/// A registry with one image (`REPO:1`); returns it and the manifest.
fn image_reg(seed: &str, repo: &str) -> (Reg, Vec<u8>) {
    let reg = Reg::new();
    let (m, c, l) = tiny_image(seed);
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &[&c, &l], &[("application/vnd.oci.image.manifest.v1+json", &m, Some("1"))]);
    reg.wharf(&["import", dir.path().to_str().unwrap(), "--repo", repo]).ok();
    (reg, m)
}

/// Runs wharf on `reg` with a clean environment for connections: a fresh, empty
/// WHARF_SYSTEM_ROOT unless `env` names one, no proxies, no auth-file variables, then `env`.
fn wharf_env(reg: &Reg, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let empty_root = tempfile::tempdir().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.args(["--root", reg.root.to_str().unwrap()]).args(args);
    for k in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CONTAINERS_REGISTRIES_CONF",
    ] {
        c.env_remove(k);
    }
    c.env("WHARF_SYSTEM_ROOT", empty_root.path());
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Pushes `team/app:1` to `host`, trusting `ca`; returns the manifest.
fn seed(host: &str, ca: &Path, extra: &[&str]) -> Vec<u8> {
    let (reg, m) = image_reg(host, "team/app");
    let mut args = vec!["push", "team/app", "--to", host, "--ca-file", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = wharf_env(&reg, &args, &[], None);
    assert!(o.status.success(), "seeding push failed: {}", stderr(&o));
    m
}

fn pull(host: &str, args: &[&str], env: &[(&str, &str)]) -> (Output, Reg) {
    let back = Reg::new();
    let src = format!("{host}/team/app:1");
    let mut a = vec!["pull", src.as_str()];
    a.extend_from_slice(args);
    (wharf_env(&back, &a, env, None), back)
}

fn assert_pulled(o: &Output, back: &Reg, m: &[u8]) {
    assert!(o.status.success(), "pull failed: {}", stderr(o));
    let v = back.json(&["tags", "team/app"]);
    assert_eq!(v["tags"][0]["digest"], sha(m), "{v}");
}

/// A CA and a server certificate it signed for `names` (DNS names or IP addresses), plus
/// the CA's key pair for issuing more: (ca pem, cert pem, key pem, issuer).
fn ca_and_server(names: &[&str]) -> (String, String, String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "wharf connect test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    for n in names {
        match n.parse::<std::net::IpAddr>() {
            Ok(ip) => params.subject_alt_names.push(SanType::IpAddress(ip)),
            Err(_) => params.subject_alt_names.push(SanType::DnsName((*n).try_into().unwrap())),
        }
    }
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem(), issuer)
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

#[test]
fn system_trust_store_comes_from_ssl_cert_file_and_ca_file_adds_to_it() {
    let (ca, cert, key, _) = ca_and_server(&["127.0.0.1"]);
    let Some(d) = Distribution::start(Auth::Tls { cert, key, client_ca: None }) else { return };
    let t = tempfile::tempdir().unwrap();
    let ca_file = write(&t.path().join("ca.pem"), &ca);
    let m = seed(&d.host, &ca_file, &[]);
    // The CA installed in the "system" store (SSL_CERT_FILE): no flag needed.
    let (o, back) = pull(&d.host, &[], &[("SSL_CERT_FILE", ca_file.to_str().unwrap())]);
    assert_pulled(&o, &back, &m);
    // --no-system-roots: the compiled-in roots only, which do not hold the test CA.
    let (o, _) = pull(&d.host, &["--no-system-roots"], &[("SSL_CERT_FILE", ca_file.to_str().unwrap())]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("UnknownIssuer") && stderr(&o).contains("--ca-file"), "{}", stderr(&o));
    // --ca-file adds to the roots: with --no-system-roots too.
    let (o, back) = pull(&d.host, &["--no-system-roots", "--ca-file", ca_file.to_str().unwrap()], &[]);
    assert_pulled(&o, &back, &m);
    // Without the CA anywhere, the error names the store and the certs.d places.
    let other = write(&t.path().join("other.pem"), &ca_and_server(&["127.0.0.1"]).0);
    let (o, _) = pull(&d.host, &[], &[("SSL_CERT_FILE", other.to_str().unwrap())]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("system trust store") && e.contains(&format!("containers/certs.d/{}", d.host)), "{e}");
}

#[test]
fn certs_d_directories_under_the_system_root_are_trusted() {
    let (ca, cert, key, _) = ca_and_server(&["127.0.0.1"]);
    let Some(d) = Distribution::start(Auth::Tls { cert, key, client_ca: None }) else { return };
    let t = tempfile::tempdir().unwrap();
    let ca_file = write(&t.path().join("ca.pem"), &ca);
    let m = seed(&d.host, &ca_file, &[]);
    for place in ["etc/containers/certs.d", "etc/docker/certs.d", "home/.config/containers/certs.d"] {
        let root = tempfile::tempdir().unwrap();
        write(&root.path().join(place).join(&d.host).join("ca.crt"), &ca);
        let (o, back) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())]);
        assert_pulled(&o, &back, &m);
    }
    // A directory for another port is not used.
    let root = tempfile::tempdir().unwrap();
    write(&root.path().join("etc/containers/certs.d/127.0.0.1:1/ca.crt"), &ca);
    let (o, _) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())]);
    assert!(!o.status.success());
    // --cert-dir names one explicitly.
    let dir = t.path().join("certs");
    write(&dir.join("ca.crt"), &ca);
    let (o, back) = pull(&d.host, &["--cert-dir", dir.to_str().unwrap()], &[]);
    assert_pulled(&o, &back, &m);
}

#[test]
fn dockers_self_signed_openssl_recipe_is_accepted_when_trusted() {
    let Some(openssl) = tool("openssl") else { return };
    let t = tempfile::tempdir().unwrap();
    let mk = |name: &str, san: &str| {
        let key = t.path().join(format!("{name}.key"));
        let crt = t.path().join(format!("{name}.crt"));
        let (code, _, err) = run_tool(
            &openssl,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-keyout",
                key.to_str().unwrap(),
                "-addext",
                &format!("subjectAltName = {san}"),
                "-x509",
                "-days",
                "365",
                "-subj",
                "/CN=wharf-test",
                "-out",
                crt.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{err}");
        (std::fs::read_to_string(&crt).unwrap(), std::fs::read_to_string(&key).unwrap(), crt)
    };
    let (cert, key, crt) = mk("domain", "IP:127.0.0.1");
    // OpenSSL 3 marks it CA:TRUE: the case webpki alone refuses (CaUsedAsEndEntity).
    let (_, text, _) = run_tool(&openssl, &["x509", "-in", crt.to_str().unwrap(), "-noout", "-text"]);
    assert!(text.contains("CA:TRUE"), "{text}");
    let Some(d) = Distribution::start(Auth::Tls { cert, key, client_ca: None }) else { return };
    let m = seed(&d.host, &crt, &[]);
    let (o, back) = pull(&d.host, &["--ca-file", crt.to_str().unwrap()], &[]);
    assert_pulled(&o, &back, &m);
    // As a certs.d ca.crt too.
    let root = tempfile::tempdir().unwrap();
    write(
        &root.path().join("etc/docker/certs.d").join(&d.host).join("ca.crt"),
        &std::fs::read_to_string(&crt).unwrap(),
    );
    let (o, back) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())]);
    assert_pulled(&o, &back, &m);
    // The host name is still checked: the same recipe for another address is refused, and
    // the error does not tell the user to pass the --ca-file they passed.
    let (cert2, key2, crt2) = mk("wrong", "IP:10.11.12.13");
    let Some(d2) = Distribution::start(Auth::Tls { cert: cert2, key: key2, client_ca: None }) else { return };
    let (o, _) = pull(&d2.host, &["--ca-file", crt2.to_str().unwrap()], &[]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("not valid for name") && !e.contains("pass --ca-file"), "{e}");
    assert!(e.contains(crt2.to_str().unwrap()), "the error names what was trusted: {e}");
}

#[test]
fn mutual_tls_client_certificate_from_cert_dir_and_certs_d() {
    use rcgen::{CertificateParams, KeyPair};
    let (ca, cert, key, issuer) = ca_and_server(&["127.0.0.1"]);
    // The client CA, and a client certificate it issued.
    let (client_ca, _, _, client_issuer) = ca_and_server(&["unused.invalid"]);
    let ck = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
    cp.distinguished_name.push(rcgen::DnType::CommonName, "wharf client");
    let client_cert = cp.signed_by(&ck, &client_issuer).unwrap();
    drop(issuer);
    let Some(d) = Distribution::start(Auth::Tls { cert, key, client_ca: Some(client_ca) }) else { return };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("certs");
    write(&dir.join("ca.crt"), &ca);
    // No client certificate: the registry refuses the handshake.
    let back = Reg::new();
    let o =
        wharf_env(&back, &["pull", &format!("{}/team/app:1", d.host), "--cert-dir", dir.to_str().unwrap()], &[], None);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("TLS"), "{}", stderr(&o));
    write(&dir.join("client.cert"), &client_cert.pem());
    write(&dir.join("client.key"), &ck.serialize_pem());
    let m = seed(&d.host, &dir.join("ca.crt"), &["--cert-dir", dir.to_str().unwrap()]);
    let (o, back) = pull(&d.host, &["--cert-dir", dir.to_str().unwrap()], &[]);
    assert_pulled(&o, &back, &m);
    // A skopeo sync file's `cert-dir:` is read the same way, client certificate included.
    let sync_file = write(
        &t.path().join("sync.yaml"),
        &format!("{}:\n  cert-dir: {}\n  images:\n    team/app: [\"1\"]\n", d.host, dir.display()),
    );
    let back = Reg::new();
    let o = wharf_env(&back, &["sync", sync_file.to_str().unwrap()], &[], None);
    assert_pulled(&o, &back, &m);
    let root = tempfile::tempdir().unwrap();
    let hd = root.path().join("etc/containers/certs.d").join(&d.host);
    write(&hd.join("ca.crt"), &ca);
    write(&hd.join("client.cert"), &client_cert.pem());
    write(&hd.join("client.key"), &ck.serialize_pem());
    let (o, back) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())]);
    assert_pulled(&o, &back, &m);
    // A .cert without its .key is a clear usage error.
    std::fs::remove_file(hd.join("client.key")).unwrap();
    let (o, _) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("client.key"), "{}", stderr(&o));
}

#[test]
fn plain_http_answer_to_tls_is_named_at_once_and_tls_verify_false_reaches_it() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (reg, m) = image_reg("plain-detect", "team/app");
    let o = wharf_env(&reg, &["push", "team/app", "--to", &d.host, "--plain-http"], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let (o, _) = pull(&d.host, &[], &[]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains(&format!(
            "{} answered in plain HTTP: pass --plain-http (or --tls-verify=false) if that is intended",
            d.host
        )),
        "{e}"
    );
    assert!(!e.contains("attempts"), "no retries: {e}");
    let (o, back) = pull(&d.host, &["--tls-verify=false"], &[]);
    assert_pulled(&o, &back, &m);
}

#[test]
fn registries_conf_insecure_and_blocked() {
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (reg, m) = image_reg("conf", "team/app");
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    // insecure = true in a drop-in: reached over plain HTTP without flags.
    write(&root.path().join("etc/containers/registries.conf"), "unqualified-search-registries = [\"docker.io\"]\n");
    write(
        &root.path().join("etc/containers/registries.conf.d/50-test.conf"),
        &format!("[[registry]]\nlocation = \"{}\"\ninsecure = true\n", d.host),
    );
    let o = wharf_env(&reg, &["push", "team/app", "--to", &d.host], &[("WHARF_SYSTEM_ROOT", r)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let (o, back) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", r)]);
    assert_pulled(&o, &back, &m);
    // A later drop-in for the same location blocks it.
    let blocker = write(
        &root.path().join("etc/containers/registries.conf.d/60-block.conf"),
        &format!("[[registry]]\nlocation = \"{}\"\nblocked = true\n", d.host),
    );
    let (o, back) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", r)]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("blocked") && e.contains(blocker.to_str().unwrap()), "{e}");
    assert!(back.json(&["repos"])["repositories"].as_array().unwrap().is_empty());
    // A broken file is named.
    write(&blocker, "[[registry]\n");
    let (o, _) = pull(&d.host, &[], &[("WHARF_SYSTEM_ROOT", r)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("60-block.conf"), "{}", stderr(&o));
}

#[test]
fn login_writes_podmans_auth_json_which_skopeo_reads_and_logout_removes_it() {
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "alice".into(), password: "s3cret".into() }) else {
        return;
    };
    let ca = d.ca_file.clone().unwrap();
    let ca_s = ca.to_str().unwrap();
    let run = tempfile::tempdir().unwrap();
    let xdg = run.path().to_str().unwrap();
    let reg = Reg::new();
    // Wrong password: refused, nothing written.
    let o = wharf_env(
        &reg,
        &["login", &d.host, "-u", "alice", "--password-stdin", "--ca-file", ca_s],
        &[("XDG_RUNTIME_DIR", xdg)],
        Some("wrong\n"),
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));
    let file = run.path().join("containers/auth.json");
    assert!(!file.exists());
    let o = wharf_env(
        &reg,
        &["login", &d.host, "-u", "alice", "--password-stdin", "--ca-file", ca_s],
        &[("XDG_RUNTIME_DIR", xdg)],
        Some("s3cret\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["auths"][&d.host]["auth"].is_string(), "{v}");
    // wharf push uses it with no credential flags.
    let (src, m) = image_reg("login", "team/app");
    let o =
        wharf_env(&src, &["push", "team/app", "--to", &d.host, "--ca-file", ca_s], &[("XDG_RUNTIME_DIR", xdg)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    // skopeo finds the file where wharf wrote it, with no credential flags.
    if let Some(skopeo) = tool("skopeo") {
        let out = Command::new(skopeo)
            .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/team/app:1", d.host)])
            .env("XDG_RUNTIME_DIR", xdg)
            .env_remove("REGISTRY_AUTH_FILE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sha(&out.stdout), sha(&m));
    }
    let o = wharf_env(&reg, &["logout", &d.host], &[("XDG_RUNTIME_DIR", xdg)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["auths"].get(&d.host).is_none(), "{v}");
    let o = wharf_env(&reg, &["logout", &d.host], &[("XDG_RUNTIME_DIR", xdg)], None);
    assert!(!o.status.success(), "logging out twice is an error");
    // Without XDG_RUNTIME_DIR, root's primary file is /run/containers/$UID/auth.json.
    let root = tempfile::tempdir().unwrap();
    let o = wharf_env(
        &reg,
        &["login", &d.host, "--creds", "alice:s3cret", "--ca-file", ca_s],
        &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    assert!(root.path().join(format!("run/containers/{}/auth.json", uid.trim())).is_file());
}

#[test]
fn wharf_reads_what_podman_login_wrote() {
    let Some(podman) = tool("podman") else { return };
    let Some(d) = Distribution::start(Auth::TlsBasic { user: "bob".into(), password: "pw-of-bob".into() }) else {
        return;
    };
    let ca = d.ca_file.clone().unwrap();
    let (src, m) = image_reg("podman-login", "team/app");
    let o = wharf_env(
        &src,
        &["push", "team/app", "--to", &d.host, "--ca-file", ca.to_str().unwrap(), "--creds", "bob:pw-of-bob"],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tempfile::tempdir().unwrap();
    let storage = tempfile::tempdir().unwrap();
    let out = Command::new(podman)
        .args([
            "--root",
            storage.path().join("root").to_str().unwrap(),
            "--runroot",
            storage.path().join("runroot").to_str().unwrap(),
            "login",
            "--tls-verify=false",
            "-u",
            "bob",
            "--password-stdin",
            &d.host,
        ])
        .env("XDG_RUNTIME_DIR", run.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"pw-of-bob\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "podman login: {}", String::from_utf8_lossy(&out.stderr));
    let (o, back) =
        pull(&d.host, &["--ca-file", ca.to_str().unwrap()], &[("XDG_RUNTIME_DIR", run.path().to_str().unwrap())]);
    assert_pulled(&o, &back, &m);
}

#[test]
fn login_with_bearer_tokens_checks_the_password() {
    let Some(d) = Distribution::start(Auth::Token { user: "carol".into(), password: "tok-pw".into() }) else {
        return;
    };
    let reg = Reg::new();
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("auth.json");
    let f = file.to_str().unwrap();
    let o = wharf_env(&reg, &["login", &d.host, "--plain-http", "--creds", "carol:nope", "--authfile", f], &[], None);
    assert!(!o.status.success());
    assert!(!file.exists());
    let o = wharf_env(
        &reg,
        &["--json", "login", &d.host, "--plain-http", "--creds", "carol:tok-pw", "--authfile", f],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["registry"], d.host.as_str());
    assert_eq!(v["file"], f);
    let (src, _) = image_reg("bearer-login", "team/app");
    let o = wharf_env(&src, &["push", "team/app", "--to", &d.host, "--plain-http", "--authfile", f], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A CONNECT proxy on 127.0.0.1 that alone knows `name` (it connects there to 127.0.0.1);
/// any other target is refused. It records the targets asked for.
struct Proxy {
    addr: String,
    targets: Arc<Mutex<Vec<String>>>,
}

fn start_proxy(name: &'static str) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = targets.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let mut parts = line.split_whitespace();
                let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_string());
                seen.lock().unwrap().push(format!("{method} {target}"));
                let (host, port) = target.rsplit_once(':').unwrap_or((&target, "443"));
                if method != "CONNECT" || host != name {
                    let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
                let Ok(upstream) = TcpStream::connect(format!("127.0.0.1:{port}")) else {
                    let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                    return;
                };
                let _ = conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let mut up_r = upstream.try_clone().unwrap();
                let mut up_w = upstream;
                let mut down_w = conn;
                // Bytes the reader buffered past the headers go upstream first.
                let buffered = reader.buffer().to_vec();
                let _ = up_w.write_all(&buffered);
                let mut down_r = reader.into_inner();
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_r, &mut down_w);
                    let _ = down_w.shutdown(std::net::Shutdown::Both);
                });
                let _ = std::io::copy(&mut down_r, &mut up_w);
                let _ = up_w.shutdown(std::net::Shutdown::Both);
                let _ = t.join();
            });
        }
    });
    Proxy { addr, targets }
}

#[test]
fn https_proxy_carries_the_connection_to_a_name_only_the_proxy_resolves() {
    const NAME: &str = "registry.wharf-proxy.test";
    let (ca, cert, key, _) = ca_and_server(&[NAME, "127.0.0.1"]);
    let Some(d) = Distribution::start(Auth::Tls { cert, key, client_ca: None }) else { return };
    let t = tempfile::tempdir().unwrap();
    let ca_file = write(&t.path().join("ca.pem"), &ca);
    let m = seed(&d.host, &ca_file, &[]);
    let port = d.host.rsplit_once(':').unwrap().1;
    let named = format!("{NAME}:{port}");
    let proxy = start_proxy(NAME);
    let purl = format!("http://{}", proxy.addr);
    let ca_s = ca_file.to_str().unwrap();
    let (o, back) = pull(&named, &["--ca-file", ca_s], &[("HTTPS_PROXY", &purl)]);
    assert_pulled(&o, &back, &m);
    assert!(proxy.targets.lock().unwrap().iter().any(|t| t == &format!("CONNECT {named}")), "{:?}", proxy.targets);
    // The lower-case form too.
    let (o, back) = pull(&named, &["--ca-file", ca_s], &[("https_proxy", &purl)]);
    assert_pulled(&o, &back, &m);
    // NO_PROXY (a domain suffix) sends it direct, where the name does not resolve.
    let before = proxy.targets.lock().unwrap().len();
    let (o, _) = pull(&named, &["--ca-file", ca_s], &[("HTTPS_PROXY", &purl), ("NO_PROXY", "wharf-proxy.test")]);
    assert!(!o.status.success());
    assert_eq!(proxy.targets.lock().unwrap().len(), before, "NO_PROXY bypassed the proxy");
    // HTTP_PROXY is for plain http only: an https pull does not use it.
    let (o, _) = pull(&named, &["--ca-file", ca_s], &[("HTTP_PROXY", &purl)]);
    assert!(!o.status.success());
    assert_eq!(proxy.targets.lock().unwrap().len(), before);
}

#[test]
fn http_proxy_carries_plain_http() {
    const NAME: &str = "plain.wharf-proxy.test";
    let Some(d) = Distribution::start(Auth::None) else { return };
    let (reg, m) = image_reg("proxy-plain", "team/app");
    let o = wharf_env(&reg, &["push", "team/app", "--to", &d.host, "--plain-http"], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let port = d.host.rsplit_once(':').unwrap().1;
    let named = format!("{NAME}:{port}");
    let proxy = start_proxy(NAME);
    let purl = format!("http://{}", proxy.addr);
    let (o, back) = pull(&named, &["--plain-http"], &[("HTTP_PROXY", &purl)]);
    assert_pulled(&o, &back, &m);
    assert!(proxy.targets.lock().unwrap().iter().any(|t| t == &format!("CONNECT {named}")), "{:?}", proxy.targets);
}

#[test]
fn registries_conf_mirror_is_tried_first_then_the_source() {
    let Some(mirror) = Distribution::start(Auth::None) else { return };
    let Some(source) = Distribution::start(Auth::None) else { return };
    // The mirror holds team/app under cache/; the source port is dead for the first pull.
    let (reg, m) = image_reg("mirror", "cache/team/app");
    let o = wharf_env(&reg, &["push", "cache/team/app", "--to", &mirror.host, "--plain-http"], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let dead = format!("127.0.0.1:{}", super::registry_support::free_port());
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let conf = |src: &str| {
        write(
            &root.path().join("etc/containers/registries.conf"),
            &format!(
                "[[registry]]\nprefix = \"{src}/team\"\nlocation = \"{src}/team\"\ninsecure = true\n\n[[registry.mirror]]\nlocation = \"{}/cache/team\"\ninsecure = true\n",
                mirror.host
            ),
        )
    };
    conf(&dead);
    let (o, back) = pull(&dead, &[], &[("WHARF_SYSTEM_ROOT", r)]);
    assert_pulled(&o, &back, &m);
    // The mirror lacks source's image: pull falls back to the source and says so.
    let (src_reg, m2) = image_reg("mirror-fallback", "team/app");
    let o = wharf_env(&src_reg, &["push", "team/app", "--to", &source.host, "--plain-http"], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(mirror.dir.path().join("storage/docker")).unwrap();
    conf(&source.host);
    let back = Reg::new();
    let o = wharf_env(
        &back,
        &["--json", "pull", &format!("{}/team/app:1", source.host)],
        &[("WHARF_SYSTEM_ROOT", r)],
        None,
    );
    assert_pulled(&o, &back, &m2);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["notes"].to_string().contains(&format!("mirror {}/cache/team/app failed", mirror.host)), "{v}");
    // A blocked namespace is refused before anything is sent.
    write(
        &root.path().join("etc/containers/registries.conf.d/90-block.conf"),
        &format!(
            "[[registry]]\nprefix = \"{}/team\"\nlocation = \"{}/team\"\nblocked = true\n",
            source.host, source.host
        ),
    );
    let (o, _) = pull(&source.host, &[], &[("WHARF_SYSTEM_ROOT", r)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("blocked"), "{}", stderr(&o));
}

#[test]
fn retry_after_is_honoured_and_every_retry_counted_in_json() {
    use super::registry_support::{Fake, Reply};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (m, c, l) = tiny_image("retry-after");
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    let (mc, cc, lc) = (m.clone(), c.clone(), l.clone());
    let fake = Fake::start(move |req| {
        let path = req.path.split('?').next().unwrap();
        if path == "/v2/team/app/manifests/1" && req.method == "GET" {
            return match g.fetch_add(1, Ordering::SeqCst) {
                0 => Reply::new(429, b"").header("Retry-After", "1"),
                1 => Reply::new(503, b"").header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
                _ => Reply::new(200, &mc)
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    .header("Docker-Content-Digest", &sha(&mc)),
            };
        }
        for b in [&cc, &lc] {
            if path == format!("/v2/team/app/blobs/{}", sha(b)) {
                return Reply::new(200, b);
            }
        }
        Reply::new(404, b"")
    });
    let back = Reg::new();
    let started = std::time::Instant::now();
    let o = wharf_env(&back, &["--json", "pull", "--plain-http", &format!("{}/team/app:1", fake.host)], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    // The 429 asked for one second: wharf waited at least that (a lower bound only).
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["retries"], 2, "{v}");
    assert_eq!(gets.load(Ordering::SeqCst), 3);
    assert_eq!(back.json(&["tags", "team/app"])["tags"][0]["digest"], sha(&m));
}

/// A registries.conf mirror never receives the password the user gave for the source:
/// the mirror answers every request with a Basic challenge and logs what it got; pull
/// falls back to the source, and the mirror's log has no `Authorization` header.
#[test]
fn registries_conf_mirror_never_gets_the_sources_credentials() {
    let Some(source) = Distribution::start(Auth::None) else { return };
    let (src_reg, m) = image_reg("mirror-creds", "team/app");
    let o = wharf_env(&src_reg, &["push", "team/app", "--to", &source.host, "--plain-http"], &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    // The mirror speaks TLS (its CA trusted through certs.d), so a leak would be the
    // password itself, not a cleartext accident.
    let (mirror, ca_dir) =
        Fake::start_tls(|_| Reply::new(401, b"").header("WWW-Authenticate", r#"Basic realm="mirror""#));
    let root = tempfile::tempdir().unwrap();
    let certs = root.path().join("etc/containers/certs.d").join(&mirror.host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(ca_dir.path().join("ca.pem"), certs.join("ca.crt")).unwrap();
    write(
        &root.path().join("etc/containers/registries.conf"),
        &format!(
            "[[registry]]\nprefix = \"{src}/team\"\nlocation = \"{src}/team\"\ninsecure = true\n\n[[registry.mirror]]\nlocation = \"{}/cache/team\"\n",
            mirror.host,
            src = source.host
        ),
    );
    let (o, back) =
        pull(&source.host, &["--creds", "alice:s3cret-pw"], &[("WHARF_SYSTEM_ROOT", root.path().to_str().unwrap())]);
    assert_pulled(&o, &back, &m);
    let reqs = mirror.requests();
    assert!(!reqs.is_empty(), "the mirror was never asked");
    for q in &reqs {
        assert!(q.header("authorization").is_none(), "the mirror got credentials: {q:?}");
    }
}

// ---- Review M5: the registry's TLS settings stay with the registry's origin ----

#[test]
fn insecure_registry_does_not_lend_its_insecurity_to_a_token_realm_on_another_origin() {
    // The token service: https on another port, with a certificate from a CA nobody trusts.
    let (token, token_certs) =
        Fake::start_tls(|_| Reply::new(200, br#"{"token":"t0k3n"}"#).header("Content-Type", "application/json"));
    let realm = format!(r#"Bearer realm="https://{}/token",service="fake""#, token.host);
    let (fake, _certs) = Fake::start_tls(move |req| {
        if req.header("authorization") == Some("Bearer t0k3n") {
            return Reply::new(404, br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#);
        }
        Reply::new(401, b"").header("WWW-Authenticate", &realm)
    });
    let back = Reg::new();
    let before = back.snapshot();
    let src = format!("{}/app:1", fake.host);
    let o = wharf_env(&back, &["pull", "--tls-verify=false", "--creds", "alice:s3cret-pw", &src], &[], None);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("TLS failed") && e.contains("fetching a token") && e.contains("not the registry's origin"),
        "{e}"
    );
    assert!(fake.requests().iter().any(|q| q.tls), "the insecure registry was reached");
    // The handshake failed: the realm never read a request, so never an Authorization.
    let at_token = token.requests();
    assert!(at_token.is_empty(), "the untrusted realm received {at_token:?}");
    assert_eq!(back.snapshot(), before);
    // Trusting the realm's CA with --ca-file lets the token flow run, with the password.
    let ca = token_certs.path().join("ca.pem");
    let o = wharf_env(
        &back,
        &["pull", "--tls-verify=false", "--ca-file", ca.to_str().unwrap(), "--creds", "alice:s3cret-pw", &src],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "the fake has no manifest: {}", stderr(&o));
    let at_token = token.requests();
    assert!(
        at_token.iter().any(|q| q.tls && q.header("authorization").is_some_and(|a| a.starts_with("Basic "))),
        "the trusted realm was asked for a token: {at_token:?}"
    );
}

#[test]
fn client_certificate_goes_to_the_registry_and_never_to_a_redirect_target() {
    use rcgen::{CertificateParams, KeyPair};
    let (client_ca, _, _, client_issuer) = ca_and_server(&["unused.invalid"]);
    let ck = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
    cp.distinguished_name.push(rcgen::DnType::CommonName, "wharf client");
    let client_cert = cp.signed_by(&ck, &client_issuer).unwrap();
    let (m, c, l) = tiny_image("mtls-redirect");
    let (lc, ll, mm) = (c.clone(), l.clone(), m.clone());
    // The CDN asks every client for a certificate from the client CA.
    let (cdn, cdn_certs) = Fake::start_tls_asking_client_cert(
        move |req| {
            let d = req.path.trim_start_matches("/blob/").split('?').next().unwrap().to_string();
            for b in [&lc, &ll] {
                if d == sha(b) {
                    return Reply::new(200, b);
                }
            }
            Reply::new(404, b"")
        },
        &client_ca,
    );
    let cdn_host = cdn.host.clone();
    let (registry, _certs) = Fake::start_tls_asking_client_cert(
        move |req| {
            let path = req.path.split('?').next().unwrap();
            if path == "/v2/" {
                return Reply::new(200, b"{}");
            }
            if path == "/v2/app/manifests/1" || path == format!("/v2/app/manifests/{}", sha(&mm)) {
                return Reply::new(200, &mm).header("Content-Type", "application/vnd.oci.image.manifest.v1+json");
            }
            if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
                return Reply::new(307, b"").header("Location", &format!("https://{cdn_host}/blob/{d}?sig=x"));
            }
            Reply::new(404, b"")
        },
        &client_ca,
    );
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("certs");
    write(&dir.join("client.cert"), &client_cert.pem());
    write(&dir.join("client.key"), &ck.serialize_pem());
    let back = Reg::new();
    let ca = cdn_certs.path().join("ca.pem");
    let src = format!("{}/app:1", registry.host);
    let args = ["pull", "--tls-verify=false", "--ca-file", ca.to_str().unwrap(), "--cert-dir", dir.to_str().unwrap()];
    let mut args = args.to_vec();
    args.push(&src);
    let o = wharf_env(&back, &args, &[], None);
    assert!(o.status.success(), "pull failed: {}", stderr(&o));
    let v = back.json(&["tags", "app"]);
    assert_eq!(v["tags"][0]["digest"], sha(&m), "{v}");
    let at_registry = registry.requests();
    assert!(!at_registry.is_empty() && at_registry.iter().all(|q| q.tls && q.client_cert), "{at_registry:?}");
    let at_cdn = cdn.requests();
    assert_eq!(at_cdn.len(), 2, "both blobs came from the redirect target: {at_cdn:?}");
    let offered: Vec<_> = at_cdn.iter().filter(|q| q.client_cert).collect();
    assert!(offered.is_empty(), "the client certificate was presented to the redirect target: {offered:?}");
}

// ---- Review L2: WHARF_SYSTEM_ROOT is refused unless only the user can write it ----

#[test]
fn system_root_writable_by_others_is_refused_and_a_safe_one_is_announced() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let back = Reg::new();
    let before = back.snapshot();
    // Nothing listens on port 1: a root that is accepted gets as far as connecting.
    let o = wharf_env(&back, &["pull", "--timeout", "2", "127.0.0.1:1/team/app:1"], &[("WHARF_SYSTEM_ROOT", r)], None);
    let e = stderr(&o);
    assert!(e.contains("warning: WHARF_SYSTEM_ROOT=") && e.contains("in effect"), "{e}");
    assert!(!e.contains("writable"), "{e}");
    for mode in [0o777, 0o775, 0o757] {
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let o =
            wharf_env(&back, &["pull", "--timeout", "2", "127.0.0.1:1/team/app:1"], &[("WHARF_SYSTEM_ROOT", r)], None);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(
            e.contains("WHARF_SYSTEM_ROOT") && e.contains("writable by its group or by others"),
            "mode {mode:o}: {e}"
        );
        assert!(!e.contains("in effect"), "{e}");
        assert_eq!(back.snapshot(), before);
    }
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // A symbolic link to a safe directory is not followed.
    let link = tempfile::tempdir().unwrap();
    let l = link.path().join("root");
    std::os::unix::fs::symlink(root.path(), &l).unwrap();
    let o = wharf_env(&back, &["pull", "127.0.0.1:1/team/app:1"], &[("WHARF_SYSTEM_ROOT", l.to_str().unwrap())], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
}
