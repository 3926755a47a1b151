//! Registries for the pull/push tests: Debian's `docker-registry` (distribution 2.8)
//! started on a free 127.0.0.1 port with a temporary config (plain HTTP, TLS from a test
//! CA with htpasswd basic auth, or Bearer tokens from a token server in this process),
//! stopped when the guard drops; and a fake registry (a std TcpListener thread) that
//! answers whatever a test tells it to, for hostile cases. Nothing leaves 127.0.0.1.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;

use super::common::in_ci;

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The registry binary, or `None` (with a note) outside CI when it is absent.
pub fn registry_bin() -> Option<PathBuf> {
    let p = PathBuf::from(REGISTRY_BIN);
    if p.is_file() {
        return Some(p);
    }
    if in_ci() {
        panic!("{REGISTRY_BIN} is required under CI=true (apt-get install -y docker-registry)");
    }
    eprintln!("NOT RUN: {REGISTRY_BIN} is not installed; this registry test did not run");
    None
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// How a test registry authenticates.
pub enum Auth {
    None,
    /// TLS from a fresh CA, htpasswd with this user and password.
    TlsBasic {
        user: String,
        password: String,
    },
    /// Plain HTTP, Bearer tokens from a token server in this process that accepts this
    /// user and password.
    Token {
        user: String,
        password: String,
    },
    /// TLS with this certificate and key (PEM), no authentication; with `client_ca`,
    /// clients must present a certificate issued by it (`http.tls.clientcas`).
    Tls {
        cert: String,
        key: String,
        client_ca: Option<String>,
    },
}

/// A running distribution registry; killed and its storage removed on drop.
pub struct Distribution {
    pub host: String,
    pub dir: tempfile::TempDir,
    /// The test CA's certificate (PEM), for `--ca-file`, when TLS is on.
    pub ca_file: Option<PathBuf>,
    child: Child,
    _token: Option<TokenServer>,
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Distribution {
    pub fn start(auth: Auth) -> Option<Distribution> {
        Distribution::start_with(auth, false)
    }

    /// As [`Distribution::start`], with the access log on (one line per request in
    /// [`Distribution::log`]), for tests that count requests.
    pub fn start_with(auth: Auth, access_log: bool) -> Option<Distribution> {
        let bin = registry_bin()?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {}\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            !access_log,
            storage.display()
        );
        let mut ca_file = None;
        let mut token = None;
        match &auth {
            Auth::None => {}
            Auth::TlsBasic { user, password } => {
                let (ca_pem, cert_pem, key_pem) = tls_material();
                let ca = dir.path().join("ca.pem");
                std::fs::write(&ca, ca_pem).unwrap();
                std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
                std::fs::write(dir.path().join("key.pem"), key_pem).unwrap();
                let hash = bcrypt::hash_with_result(password, 4).unwrap().format_for_version(bcrypt::Version::TwoY);
                std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
                config.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                    dir.path().join("cert.pem").display(),
                    dir.path().join("key.pem").display(),
                    dir.path().join("htpasswd").display()
                ));
                ca_file = Some(ca);
            }
            Auth::Tls { cert, key, client_ca } => {
                std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
                std::fs::write(dir.path().join("key.pem"), key).unwrap();
                config.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    dir.path().join("cert.pem").display(),
                    dir.path().join("key.pem").display(),
                ));
                if let Some(ca) = client_ca {
                    std::fs::write(dir.path().join("clientca.pem"), ca).unwrap();
                    config
                        .push_str(&format!("    clientcas:\n      - {}\n", dir.path().join("clientca.pem").display()));
                }
            }
            Auth::Token { user, password } => {
                let t = TokenServer::start(user, password);
                let bundle = dir.path().join("token-signer.pem");
                std::fs::write(&bundle, &t.cert_pem).unwrap();
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: http://{}/token\n    service: wharf-test-registry\n    issuer: wharf-test-issuer\n    rootcertbundle: {}\n",
                    t.host,
                    bundle.display()
                ));
                token = Some(t);
            }
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let d = Distribution { host, dir, ca_file, child, _token: token };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&d.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {}: {}",
                d.host,
                std::fs::read_to_string(d.dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(d)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

/// A CA, and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) PEMs.
pub fn tls_material() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "wharf test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A token server for distribution's `auth: token`: answers `GET /token` with an ES256
/// JWT (x5c header: its self-signed certificate, which is the registry's root bundle)
/// granting the scopes asked for, when the Basic credentials match.
pub struct TokenServer {
    pub host: String,
    pub cert_pem: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

impl TokenServer {
    pub fn start(user: &str, password: &str) -> TokenServer {
        use rcgen::{CertificateParams, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["wharf-test-issuer".to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "wharf-test-issuer");
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().to_vec();
        let pkcs8 = key.serialize_der();
        let rng = ring::rand::SystemRandom::new();
        let signer =
            ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
                .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let expected =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (req_log, stop2) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let Some(req) = read_request(&mut conn) else { continue };
                req_log.lock().unwrap().push(req.path.clone());
                let authorized = req.header("authorization") == Some(expected.as_str());
                if !authorized {
                    let _ = respond(
                        &mut conn,
                        401,
                        &[("Content-Type", "application/json")],
                        br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
                        None,
                    );
                    continue;
                }
                let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
                let mut access = Vec::new();
                for kv in query.split('&') {
                    if let Some(v) = kv.strip_prefix("scope=") {
                        let v = percent_decode(v);
                        let parts: Vec<&str> = v.split(':').collect();
                        if parts.len() == 3 {
                            access.push(serde_json::json!({
                                "type": parts[0], "name": parts[1],
                                "actions": parts[2].split(',').collect::<Vec<_>>()
                            }));
                        }
                    }
                }
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
                let header = serde_json::json!({
                    "typ": "JWT", "alg": "ES256",
                    "x5c": [base64::engine::general_purpose::STANDARD.encode(&der)]
                });
                let claims = serde_json::json!({
                    "iss": "wharf-test-issuer", "sub": "tester", "aud": "wharf-test-registry",
                    "exp": now + 600, "nbf": now - 60, "iat": now - 60, "jti": format!("{now}-{}", access.len()),
                    "access": access
                });
                let signing_input = format!(
                    "{}.{}",
                    b64(&serde_json::to_vec(&header).unwrap()),
                    b64(&serde_json::to_vec(&claims).unwrap())
                );
                let sig = signer.sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes()).unwrap();
                let jwt = format!("{signing_input}.{}", b64(sig.as_ref()));
                let body = serde_json::to_vec(&serde_json::json!({"token": jwt})).unwrap();
                let _ = respond(&mut conn, 200, &[("Content-Type", "application/json")], &body, None);
            }
        });
        TokenServer { host, cert_pem: cert.pem(), requests, stop }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One HTTP request as a fake server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// It came over TLS (a [`Fake::start_tls`] server answers both on one port).
    pub tls: bool,
    /// The TLS client presented a certificate (only a server that asks for one, see
    /// [`Fake::start_tls_asking_client_cert`], can see one).
    pub client_cert: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one request (headers and a Content-Length body).
pub fn read_request(conn: &mut TcpStream) -> Option<Request> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    read_request_from(&mut BufReader::new(conn.try_clone().ok()?))
}

/// Reads one request from any stream (plain or TLS).
pub fn read_request_from(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body, tls: false, client_cert: false })
}

/// Writes a response and closes. `declared` overrides Content-Length (a truncated body).
pub fn respond(
    conn: &mut (impl Write + ?Sized),
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    declared: Option<u64>,
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", declared.unwrap_or(body.len() as u64)));
    conn.write_all(out.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

/// What a fake registry answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Declare this Content-Length instead of the body's (to truncate).
    pub declared: Option<u64>,
}

impl Reply {
    pub fn new(status: u16, body: &[u8]) -> Reply {
        Reply { status, headers: Vec::new(), body: body.to_vec(), declared: None }
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A fake registry: every request is logged and answered by the handler.
pub struct Fake {
    pub host: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

impl Fake {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, stop2) = (requests.clone(), stop.clone());
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let (log, handler) = (log.clone(), handler.clone());
                std::thread::spawn(move || {
                    let Some(req) = read_request(&mut conn) else { return };
                    log.lock().unwrap().push(req.clone());
                    let reply = handler(&req);
                    let headers: Vec<(&str, &str)> =
                        reply.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let body = if req.method == "HEAD" { &[][..] } else { &reply.body[..] };
                    let declared = reply.declared.or(Some(reply.body.len() as u64));
                    let _ = respond(&mut conn, reply.status, &headers, body, declared);
                });
            }
        });
        Fake { host, requests, stop }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// A fake registry serving TLS (a certificate for 127.0.0.1 from a fresh CA, written
    /// to the returned PEM file) and, on the same port, plain HTTP: a connection whose
    /// first byte is not a TLS handshake is answered in cleartext and logged with
    /// `tls: false`, so a test sees any request that was downgraded to http://.
    pub fn start_tls(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> (Fake, tempfile::TempDir) {
        Fake::start_tls_with(handler, None)
    }

    /// As [`Fake::start_tls`], and the server asks every TLS client for a certificate
    /// issued by `client_ca` (PEM) without requiring one; each request records whether
    /// one was presented ([`Request::client_cert`]).
    pub fn start_tls_asking_client_cert(
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
        client_ca: &str,
    ) -> (Fake, tempfile::TempDir) {
        Fake::start_tls_with(handler, Some(client_ca))
    }

    fn start_tls_with(
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
        client_ca: Option<&str>,
    ) -> (Fake, tempfile::TempDir) {
        use rustls::pki_types::pem::PemObject;
        let (ca_pem, cert_der, key_der) = tls_material_der();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots.add(c.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .allow_unauthenticated()
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(cert_der)],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, stop2) = (requests.clone(), stop.clone());
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (log, handler, config) = (log.clone(), handler.clone(), config.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut first = [0u8; 1];
                    if conn.peek(&mut first).ok() != Some(1) {
                        return;
                    }
                    let serve = |stream: &mut dyn ReadWrite, tls: bool, client_cert: bool| {
                        let mut r = BufReader::new(&mut *stream);
                        let Some(mut req) = read_request_from(&mut r) else { return };
                        drop(r);
                        req.tls = tls;
                        req.client_cert = client_cert;
                        log.lock().unwrap().push(req.clone());
                        let reply = handler(&req);
                        let headers: Vec<(&str, &str)> =
                            reply.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        let body = if req.method == "HEAD" { &[][..] } else { &reply.body[..] };
                        let declared = reply.declared.or(Some(reply.body.len() as u64));
                        let _ = respond(stream, reply.status, &headers, body, declared);
                    };
                    if first[0] == 0x16 {
                        let Ok(server) = rustls::ServerConnection::new(config) else { return };
                        let mut tls = rustls::StreamOwned::new(server, conn);
                        while tls.conn.is_handshaking() {
                            if tls.conn.complete_io(&mut tls.sock).is_err() {
                                return;
                            }
                        }
                        let client_cert = tls.conn.peer_certificates().is_some_and(|c| !c.is_empty());
                        serve(&mut tls, true, client_cert);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    } else {
                        let mut conn = conn;
                        serve(&mut conn, false, false);
                    }
                });
            }
        });
        (Fake { host, requests, stop }, dir)
    }
}

/// A stream a fake answers on.
pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A CA (PEM), and a certificate for 127.0.0.1 signed by it and its PKCS#8 key (DER).
pub fn tls_material_der() -> (String, Vec<u8>, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "wharf test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.der().to_vec(), key.serialize_der())
}

/// A server that accepts connections and reads requests but never answers (until
/// dropped): every connection is counted.
pub struct Silent {
    pub host: String,
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stop2) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                if let Ok(c) = conn {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    held.push(c);
                }
            }
        });
        Silent { host, connections, stop }
    }
}

/// A tiny OCI image made in the test: (manifest bytes, config bytes, layer bytes).
pub fn tiny_image(seed: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let layer = tar_layer(seed);
    let config = format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{}},"seed":"{seed}"}}"#, sha(&layer)).into_bytes();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        sha(&config),
        config.len(),
        sha(&layer),
        layer.len()
    )
    .into_bytes();
    (manifest, config, layer)
}

/// A real (uncompressed) tar holding one file whose content is `seed`.
pub fn tar_layer(seed: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let data = format!("content of {seed}\n");
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "file.txt", data.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

/// Gzip of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes an OCI layout at `dir` holding `blobs`, with index.json listing `entries`
/// (media type, bytes, ref.name).
pub fn write_layout(dir: &Path, blobs: &[&[u8]], entries: &[(&str, &[u8], Option<&str>)]) {
    let b = dir.join("blobs/sha256");
    std::fs::create_dir_all(&b).unwrap();
    for blob in blobs.iter().copied().chain(entries.iter().map(|e| e.1)) {
        std::fs::write(b.join(&sha(blob)[7..]), blob).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(mt, bytes, name)| {
            let mut v = serde_json::json!({"mediaType": mt, "digest": sha(bytes), "size": bytes.len()});
            if let Some(n) = name {
                v["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": n});
            }
            v
        })
        .collect();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": manifests})).unwrap(),
    )
    .unwrap();
}

/// An artifact manifest (an SBOM, a signature) whose subject is `subject` (an OCI image
/// manifest's bytes): (manifest bytes, its blob).
pub fn artifact(subject: &[u8], artifact_type: &str, content: &str) -> (Vec<u8>, Vec<u8>) {
    let blob = content.as_bytes().to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"{artifact_type}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2,"data":"e30="}},"layers":[{{"mediaType":"text/plain","digest":"{}","size":{}}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}}}}}"#,
        sha(b"{}"),
        sha(&blob),
        blob.len(),
        sha(subject),
        subject.len()
    )
    .into_bytes();
    (manifest, blob)
}

/// An in-memory registry with the referrers API (OCI 1.1): manifests, blobs, uploads,
/// mounts, tag lists, referrers; `OCI-Subject` on manifest PUTs with a subject.
pub fn mini_registry() -> Fake {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct State {
        blobs: BTreeMap<String, Vec<u8>>,
        manifests: BTreeMap<(String, String), (String, Vec<u8>)>,
        uploads: BTreeMap<String, Vec<u8>>,
    }
    let st = Arc::new(Mutex::new(State::default()));
    Fake::start(move |req| {
        let mut s = st.lock().unwrap();
        let path = req.path.split('?').next().unwrap().to_string();
        let query = req.path.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
        let param = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{k}="))).map(percent_decode);
        if path == "/v2/" {
            return Reply::new(200, b"{}");
        }
        if let Some(id) = path.strip_prefix("/upload/") {
            let id = id.to_string();
            let mut data = s.uploads.remove(&id).unwrap_or_default();
            data.extend_from_slice(&req.body);
            let digest = param("digest").unwrap();
            if sha(&data) != digest {
                return Reply::new(400, br#"{"errors":[{"code":"DIGEST_INVALID"}]}"#);
            }
            s.blobs.insert(digest, data);
            return Reply::new(201, b"");
        }
        let rest = path.strip_prefix("/v2/").unwrap_or("");
        let (repo, kind, reference) = match ["/manifests/", "/blobs/uploads/", "/blobs/", "/referrers/", "/tags/list"]
            .iter()
            .find_map(|k| rest.find(k).map(|i| (&rest[..i], *k, &rest[i + k.len()..])))
        {
            Some(x) => x,
            None => return Reply::new(404, b""),
        };
        let repo = repo.to_string();
        match (req.method.as_str(), kind) {
            ("HEAD" | "GET", "/manifests/") => {
                let key = (repo.clone(), reference.to_string());
                match s.manifests.get(&key) {
                    Some((mt, b)) => {
                        Reply::new(200, b).header("Content-Type", mt).header("Docker-Content-Digest", &sha(b))
                    }
                    None => Reply::new(404, b""),
                }
            }
            ("PUT", "/manifests/") => {
                let mt = req.header("content-type").unwrap_or("").to_string();
                let digest = sha(&req.body);
                s.manifests.insert((repo.clone(), reference.to_string()), (mt.clone(), req.body.clone()));
                s.manifests.insert((repo.clone(), digest.clone()), (mt, req.body.clone()));
                let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                let mut r = Reply::new(201, b"").header("Docker-Content-Digest", &digest);
                if let Some(sd) = v["subject"]["digest"].as_str() {
                    r = r.header("OCI-Subject", sd);
                }
                r
            }
            ("HEAD" | "GET", "/blobs/") => match s.blobs.get(reference) {
                Some(b) => Reply::new(200, b),
                None => Reply::new(404, b""),
            },
            ("POST", "/blobs/uploads/") => {
                if let (Some(d), Some(_)) = (param("mount"), param("from"))
                    && s.blobs.contains_key(&d)
                {
                    return Reply::new(201, b"");
                }
                let id = format!("{}", s.uploads.len() + s.blobs.len() + 1);
                s.uploads.insert(id.clone(), Vec::new());
                Reply::new(202, b"").header("Location", &format!("/upload/{id}"))
            }
            ("GET", "/tags/list") => {
                let tags: Vec<&String> = s
                    .manifests
                    .keys()
                    .filter(|(r, t)| r == &repo && !t.starts_with("sha256:"))
                    .map(|(_, t)| t)
                    .collect();
                Reply::new(200, &serde_json::to_vec(&serde_json::json!({"name": repo, "tags": tags})).unwrap())
            }
            ("GET", "/referrers/") => {
                let mut list = Vec::new();
                for ((r, key), (mt, b)) in &s.manifests {
                    if r != &repo || !key.starts_with("sha256:") {
                        continue;
                    }
                    let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                    if v["subject"]["digest"].as_str() == Some(reference) {
                        list.push(serde_json::json!({"mediaType": mt, "digest": key, "size": b.len(), "artifactType": v["artifactType"]}));
                    }
                }
                let body = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": list})).unwrap();
                Reply::new(200, &body).header("Content-Type", "application/vnd.oci.image.index.v1+json")
            }
            _ => Reply::new(405, b""),
        }
    })
}
