//! A blocking client of one registry host speaking the OCI distribution spec 1.1: manifests
//! (HEAD/GET/PUT), blobs (HEAD/GET, POST+PUT uploads, PATCH chunks where the registry asks,
//! cross-repository mounts), tag lists and the referrers API.
//!
//! It owns transport concerns only: TLS, authentication (anonymous, Basic, Bearer tokens
//! per scope), bounded retries of 5xx/429 and connection failures, and redirects (followed
//! by hand, without the registry's `Authorization` header when they leave the host). It
//! knows nothing of the local registry. Bodies stream: nothing here holds a blob in memory
//! except PATCH chunks a registry demands (bounded by the chunk size).

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::{self, Method, Response, StatusCode};

use super::auth::{self, Challenge, Credentials};
use super::origin::{Carry, Origin, TIMEOUT_ATTEMPTS, Timeouts};
use crate::error::{Error, Result};
use crate::model::{Descriptor, Digest, IndexFile};

/// The Accept header of manifest requests: every manifest and index type wharf keeps.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.artifact.manifest.v1+json";

/// Attempts for a request that meets 5xx, 429 or a connection failure.
pub const MAX_ATTEMPTS: u32 = 5;
const RETRY_BASE: Duration = Duration::from_millis(100);
const MAX_REDIRECTS: usize = 5;

/// How to reach and authenticate to a registry.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub creds: Option<Credentials>,
    pub authfile: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// `--cert-dir`: a certs.d-style directory (`*.crt`, `*.cert` + `*.key`) instead of the
    /// host's (see [`super::tls`]).
    pub cert_dir: Option<PathBuf>,
    /// `--no-system-roots`: the compiled-in Mozilla roots instead of the system store.
    pub no_system_roots: bool,
    /// True with `--tls-verify=false`: certificates are not checked, and a registry that
    /// answers in plain HTTP is spoken to in plain HTTP.
    pub tls_insecure: bool,
    pub plain_http: bool,
    /// How long to wait for the registry (`--timeout`).
    pub timeouts: Timeouts,
}

/// What a request needs access to: `repository:REPO:pull[,push]`, plus pull on `from`
/// for a cross-repository mount.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub repo: String,
    pub push: bool,
    pub from: Option<String>,
}

impl Scope {
    pub fn pull(repo: &str) -> Scope {
        Scope { repo: repo.to_string(), push: false, from: None }
    }
    pub fn push(repo: &str) -> Scope {
        Scope { repo: repo.to_string(), push: true, from: None }
    }
    fn strings(&self) -> Vec<String> {
        if self.repo.is_empty() {
            // The registry itself (`GET /v2/`): a token without a repository scope.
            return Vec::new();
        }
        let mut v = vec![format!("repository:{}:{}", self.repo, if self.push { "pull,push" } else { "pull" })];
        if let Some(f) = &self.from {
            v.push(format!("repository:{f}:pull"));
        }
        v
    }
}

/// A request body that can be produced again for a retry.
#[derive(Clone, Copy)]
pub enum ReqBody<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// A whole file, streamed with its length.
    File(&'a Path),
}

struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<Vec<String>, String>,
}

/// A client of one registry host.
pub struct Client {
    /// The host as the user named it (`127.0.0.1:5000`, `docker.io`).
    pub host: String,
    base: String,
    https: bool,
    /// The registry's origin: the only one the credentials go to (see [`super::origin`]).
    /// It changes once at most: an insecure registry that answers the TLS hello in plain
    /// HTTP is spoken to (and its origin becomes) `http://` on the same host and port.
    origin: Mutex<Origin>,
    timeouts: Timeouts,
    /// `--tls-verify=false` or `insecure = true` in registries.conf.
    insecure: bool,
    trust: super::tls::TrustSummary,
    /// Requests sent again after a 5xx, 429 or a connection failure.
    retries: std::sync::atomic::AtomicU64,
    /// The registry agent: certs.d CAs, the client certificate, `insecure`. Only requests
    /// to the registry's own origin ([`Carry::Credentials`]) go through it.
    agent: ureq::Agent,
    /// The TLS of every other origin (redirect targets, CDNs, a token realm on another
    /// origin): system roots and `--ca-file` only, always verified, no client certificate.
    foreign_tls: std::sync::Arc<rustls::ClientConfig>,
    /// Agents for other origins, by the proxy their host is reached through.
    foreign_agents: Mutex<HashMap<Option<String>, ureq::Agent>>,
    creds: Option<Credentials>,
    /// Where the credentials came from, or where they were looked for.
    creds_source: String,
    state: Mutex<AuthState>,
}

/// The answer to a manifest HEAD.
#[derive(Debug, Clone)]
pub struct ManifestHead {
    pub digest: Option<Digest>,
}

/// A manifest fetched whole (manifests are capped in size).
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// `Docker-Content-Digest`, when the registry sent it.
    pub header_digest: Option<Digest>,
}

/// What a cross-repository mount request did.
pub enum Mount {
    Mounted,
    /// The registry started an ordinary upload instead (at this location).
    Upload(UploadSession),
}

/// An upload in progress.
pub struct UploadSession {
    location: String,
    /// `OCI-Chunk-Min-Length`: the registry wants PATCH chunks of at least this size.
    chunk_min: Option<u64>,
}

/// What a manifest PUT answered.
pub struct PutManifest {
    /// The registry sent `OCI-Subject`: it processed the subject (it has the referrers API).
    pub subject_processed: bool,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `host[:port]` of an absolute URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// The scheme://host of an absolute URL.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once("://")?;
    Some(format!("{scheme}://{}", url_host(url)?))
}

fn header<'a>(r: &'a Response<ureq::Body>, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads at most 4 KiB of an error body and renders the OCI error list when present.
fn error_detail(r: Response<ureq::Body>) -> String {
    let mut buf = Vec::new();
    let _ = r.into_body().into_reader().take(4096).read_to_end(&mut buf);
    #[derive(serde::Deserialize)]
    struct Errs {
        errors: Vec<Err>,
    }
    #[derive(serde::Deserialize)]
    struct Err {
        #[serde(default, deserialize_with = "crate::model::lenient::string")]
        code: Option<String>,
        #[serde(default, deserialize_with = "crate::model::lenient::string")]
        message: Option<String>,
    }
    if let Ok(e) = serde_json::from_slice::<Errs>(&buf) {
        let parts: Vec<String> = e
            .errors
            .iter()
            .map(|v| {
                let code = v.code.as_deref().unwrap_or("");
                let msg = v.message.as_deref().unwrap_or("");
                format!("{code}: {msg}").trim_matches([' ', ':']).to_string()
            })
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    String::from_utf8_lossy(&buf).trim().chars().take(300).collect()
}

/// The configuration of an agent: wharf's time limits, no automatic redirects (each is
/// checked against the origin rule), statuses as answers, and `proxy`.
fn agent_config(timeouts: &Timeouts, proxy: Option<ureq::Proxy>) -> ureq::config::Config {
    timeouts
        .apply(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION"))),
        )
        .proxy(proxy)
        .build()
}

fn is_tls_error(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Tls(m) if *m == super::tls::PLAIN_HTTP => true,
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => true,
        ureq::Error::Io(io) => {
            let s = format!("{io:?}").to_ascii_lowercase();
            s.contains("certificate") || s.contains("rustls") || s.contains("tls") || s.contains("handshake")
        }
        other => {
            let s = other.to_string().to_ascii_lowercase();
            s.contains("certificate") || s.contains("tls")
        }
    }
}

impl Client {
    /// A client of `host`. Credentials: `opts.creds`, else the auth files (see
    /// [`auth::lookup`]).
    pub fn new(host: &str, opts: &ConnectOptions) -> Result<Client> {
        let (creds, creds_source) = match &opts.creds {
            Some(c) => (Some(c.clone()), "the credentials given with --creds/--password-stdin".to_string()),
            None => {
                let f = auth::lookup(host, opts.authfile.as_deref())?;
                match f.credentials {
                    Some(c) => {
                        (Some(c), format!("the credentials found in {}", f.looked.rsplit(", ").next().unwrap_or("")))
                    }
                    None => (None, format!("no credentials (looked in {})", f.looked)),
                }
            }
        };
        let settings = super::sysconf::registry_settings(host, "")?;
        if settings.blocked {
            return Err(Error::refused(format!(
                "the registry {host} is blocked by {} (blocked = true for `{}`)",
                settings.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                settings.prefix.as_deref().unwrap_or(host)
            )));
        }
        let insecure = opts.tls_insecure || settings.insecure;
        let trust_opts = super::tls::TrustOptions {
            ca_file: opts.ca_file.clone(),
            cert_dir: opts.cert_dir.clone(),
            no_system_roots: opts.no_system_roots,
            insecure,
        };
        let (tls, trust) = super::tls::client_config(host, &trust_opts)?;
        let (foreign_tls, _) = super::tls::foreign_config(&trust_opts)?;
        let config = agent_config(&opts.timeouts, super::proxy::for_host(host, !opts.plain_http));
        let api_host = if host == "docker.io" { "registry-1.docker.io" } else { host };
        let https = !opts.plain_http;
        let base = format!("{}://{api_host}", if https { "https" } else { "http" });
        let origin =
            Origin::of(&base).ok_or_else(|| Error::Usage(format!("`{host}` is not a registry host (HOST[:PORT])")))?;
        Ok(Client {
            host: host.to_string(),
            base,
            https,
            origin: Mutex::new(origin),
            timeouts: opts.timeouts,
            insecure,
            trust,
            retries: std::sync::atomic::AtomicU64::new(0),
            agent: super::tls::agent(config, tls),
            foreign_tls,
            foreign_agents: Mutex::new(HashMap::new()),
            creds,
            creds_source,
            state: Mutex::new(AuthState { challenge: None, tokens: HashMap::new() }),
        })
    }

    /// The agent for a request to `url`: the registry agent for the registry's own origin,
    /// else the foreign agent with the proxy chosen for `url`'s host.
    fn agent_for(&self, url: &str, foreign: bool) -> ureq::Agent {
        if !foreign {
            return self.agent.clone();
        }
        let proxy = Origin::of(url).and_then(|o| super::proxy::proxy_url(&format!("{}:{}", o.host, o.port), o.https));
        let mut agents = self.foreign_agents.lock().expect("foreign agents");
        agents
            .entry(proxy.clone())
            .or_insert_with(|| {
                let proxy = proxy.and_then(|p| ureq::Proxy::new(&p).ok());
                super::tls::agent(agent_config(&self.timeouts, proxy), self.foreign_tls.clone())
            })
            .clone()
    }

    /// A transport failure of a request to another origin (`url`): a TLS failure names
    /// what that origin is verified against, which is never the registry's own trust.
    fn foreign_transport_error(&self, e: &ureq::Error, what: &str, url: &str) -> Error {
        if !is_tls_error(e) {
            return self.transport_error(e, what);
        }
        let origin = Origin::of(url).map(|o| o.to_string()).unwrap_or_default();
        Error::remote(
            &self.host,
            format!(
                "TLS failed while {what} at {origin}, which is not the registry's origin: {e}; another origin is verified against the system trust store and --ca-file only, and gets no client certificate, whatever --tls-verify, certs.d or registries.conf say for the registry; pass --ca-file FILE if its certificate comes from a private CA"
            ),
        )
    }

    fn url(&self, path: &str) -> String {
        if !self.origin().https && self.base.starts_with("https://") {
            return format!("{}{path}", self.base.replacen("https://", "http://", 1));
        }
        format!("{}{path}", self.base)
    }

    /// The registry's origin now (see the field).
    fn origin(&self) -> Origin {
        self.origin.lock().expect("origin").clone()
    }

    fn resolve_location(&self, loc: &str, current: &str) -> String {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else if loc.starts_with('/') {
            format!("{}{loc}", url_origin(current).unwrap_or_else(|| self.base.clone()))
        } else {
            format!("{}/{loc}", self.base)
        }
    }

    /// What to try after a TLS failure, naming what was already trusted and not the
    /// flags the user already passed.
    fn tls_hint(&self) -> String {
        let t = &self.trust;
        let mut trusted = Vec::new();
        if t.system_roots {
            trusted.push(format!("the system trust store ({} roots)", t.roots));
        } else {
            trusted.push("the compiled-in Mozilla roots (--no-system-roots)".to_string());
        }
        trusted.extend(t.ca_files.iter().map(|p| p.display().to_string()));
        let mut hint = format!("wharf trusted {}", trusted.join(", "));
        if let Some(c) = &t.client_cert {
            hint.push_str(&format!(" and presented the client certificate {}", c.display()));
        }
        if t.ca_files.is_empty() {
            let dirs: Vec<String> =
                super::sysconf::cert_dirs(&self.host).iter().map(|d| d.display().to_string()).collect();
            hint.push_str(&format!(
                "; if the registry's certificate comes from a private CA pass --ca-file FILE or put it in {} as ca.crt",
                dirs.join(" or ")
            ));
        } else {
            hint.push_str("; check that the certificate the registry presents was issued by one of these, for this host name, and is within its validity period");
        }
        hint.push_str("; --tls-verify=false skips verification");
        hint
    }

    fn denied(&self, status: StatusCode, what: &str, detail: &str) -> Error {
        let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
        Error::RemoteDenied {
            host: self.host.clone(),
            action: what.to_string(),
            status: status.as_u16(),
            detail: format!("{}{detail}; wharf sent {}", status.canonical_reason().unwrap_or(""), self.creds_source),
        }
    }

    fn transport_error(&self, e: &ureq::Error, what: &str) -> Error {
        if matches!(e, ureq::Error::Tls(m) if *m == super::tls::PLAIN_HTTP) {
            return Error::remote(
                &self.host,
                format!(
                    "{} answered in plain HTTP: pass --plain-http (or --tls-verify=false) if that is intended",
                    self.host
                ),
            );
        }
        if let ureq::Error::Timeout(t) = e {
            return Error::remote(
                &self.host,
                format!(
                    "{what}: {} (gave up after {TIMEOUT_ATTEMPTS} attempts; --timeout SECS waits longer)",
                    self.timeouts.describe(*t)
                ),
            );
        }
        if self.https && is_tls_error(e) {
            return Error::remote(&self.host, format!("TLS failed while {what}: {e}; {}", self.tls_hint()));
        }
        Error::remote(&self.host, format!("{what} failed after {MAX_ATTEMPTS} attempts: {e}"))
    }

    /// Whether a request that failed in transport with `e` on attempt `attempt` (from 0)
    /// is tried again: never after a TLS failure, at most [`TIMEOUT_ATTEMPTS`] times in
    /// all after a timeout, at most [`MAX_ATTEMPTS`] times otherwise.
    fn retry_transport(&self, e: &ureq::Error, attempt: u32) -> bool {
        if self.https && is_tls_error(e) {
            return false;
        }
        let cap = if matches!(e, ureq::Error::Timeout(_)) { TIMEOUT_ATTEMPTS } else { MAX_ATTEMPTS };
        attempt + 1 < cap
    }

    /// The Authorization header for `scope`, fetching a token when the registry asked for
    /// Bearer auth.
    fn authorization(&self, scope: &Scope) -> Result<Option<String>> {
        let challenge = self.state.lock().expect("auth state").challenge.clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.creds.as_ref().map(Credentials::basic_header)),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = scope.strings();
                if let Some(t) = self.state.lock().expect("auth state").tokens.get(&key) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let token = self.fetch_token(&realm, service.as_deref(), &key)?;
                self.state.lock().expect("auth state").tokens.insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>, scopes: &[String]) -> Result<String> {
        self.origin().permit_realm(realm)?;
        // A realm on another origin gets the foreign agent: the credentials go there only
        // over a connection verified against the system roots and --ca-file.
        let foreign = Origin::of(realm).as_ref() != Some(&self.origin());
        let agent = self.agent_for(realm, foreign);
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some(s) = service {
            url.push_str(&format!("{sep}service={}", percent_encode(s)));
            sep = '&';
        }
        for s in scopes {
            url.push_str(&format!("{sep}scope={}", percent_encode(s)));
            sep = '&';
        }
        let mut last = None;
        for attempt in 0..MAX_ATTEMPTS {
            let mut req = http::Request::builder().method(Method::GET).uri(&url);
            if let Some(c) = &self.creds {
                req = req.header("Authorization", c.basic_header());
            }
            let req = req.body(()).map_err(|e| Error::remote(&self.host, format!("bad token URL {url}: {e}")))?;
            match agent.run(req) {
                Ok(r) if r.status().is_success() => {
                    let mut buf = Vec::new();
                    r.into_body()
                        .into_reader()
                        .take(1 << 20)
                        .read_to_end(&mut buf)
                        .map_err(|e| Error::remote(&self.host, format!("reading the token from {realm}: {e}")))?;
                    return parse_token(&buf).map_err(|e| {
                        Error::remote(&self.host, format!("the token service {realm} answered no token{e}"))
                    });
                }
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN => {
                    let status = r.status();
                    let detail = error_detail(r);
                    return Err(self.denied(
                        status,
                        &format!("a token for {} (token service {realm})", scopes.join(" ")),
                        &detail,
                    ));
                }
                Ok(r) if r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS => {
                    last = Some(format!("{}", r.status()));
                }
                Ok(r) => {
                    let status = r.status();
                    return Err(Error::remote(
                        &self.host,
                        format!("the token service {realm} answered {status}: {}", error_detail(r)),
                    ));
                }
                Err(e) => {
                    if foreign && is_tls_error(&e) {
                        return Err(self.foreign_transport_error(&e, &format!("fetching a token from {realm}"), realm));
                    }
                    if !self.retry_transport(&e, attempt) {
                        return Err(self.transport_error(&e, &format!("fetching a token from {realm}")));
                    }
                    last = Some(e.to_string());
                }
            }
            backoff(attempt);
            self.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Err(Error::remote(
            &self.host,
            format!("the token service {realm} failed after {MAX_ATTEMPTS} attempts: {}", last.unwrap_or_default()),
        ))
    }

    /// Sends one request with authentication, retries and redirects. Returns any final
    /// response that is not 401/403, 5xx or 429 (those become errors after retries).
    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: ReqBody<'_>,
        scope: &Scope,
        what: &str,
    ) -> Result<Response<ureq::Body>> {
        let mut url = url.to_string();
        let mut authed_retry = false;
        let mut redirects = 0;
        let mut attempt = 0;
        loop {
            // The origin rule: every URL, the registry's own, a redirect's, an upload
            // Location or a tag-list Link, is checked here before anything is sent.
            let foreign = self.origin().permit(&url, what)? == Carry::Nothing;
            let auth = if foreign { None } else { self.authorization(scope)? };
            let agent = self.agent_for(&url, foreign);
            let mut b = http::Request::builder().method(method.clone()).uri(&url);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            if let Some(a) = &auth {
                b = b.header("Authorization", a.as_str());
            }
            let result = match body {
                ReqBody::Empty => {
                    let req =
                        b.body(()).map_err(|e| Error::remote(&self.host, format!("bad request URL {url}: {e}")))?;
                    agent.run(req)
                }
                ReqBody::Bytes(bytes) => {
                    let req =
                        b.body(bytes).map_err(|e| Error::remote(&self.host, format!("bad request URL {url}: {e}")))?;
                    agent.run(req)
                }
                ReqBody::File(path) => {
                    let f = std::fs::File::open(path).map_err(Error::io("open blob", path))?;
                    let req =
                        b.body(f).map_err(|e| Error::remote(&self.host, format!("bad request URL {url}: {e}")))?;
                    agent.run(req)
                }
            };
            let r = match result {
                Ok(r) => r,
                Err(ureq::Error::Tls(m)) if m == super::tls::PLAIN_HTTP && self.insecure && !foreign => {
                    // As podman and skopeo do: an insecure registry may be plain HTTP. Only
                    // the registry's own origin (never a redirect target) switches, and the
                    // origin rule then binds the credentials to `http://` on the same
                    // host and port, and to nothing else.
                    let mut origin = self.origin.lock().expect("origin");
                    if !origin.https {
                        return Err(self.transport_error(&ureq::Error::Tls(m), what));
                    }
                    origin.https = false;
                    drop(origin);
                    url = url.replacen("https://", "http://", 1);
                    continue;
                }
                Err(e) => {
                    if foreign && is_tls_error(&e) {
                        return Err(self.foreign_transport_error(&e, what, &url));
                    }
                    if !self.retry_transport(&e, attempt) {
                        return Err(self.transport_error(&e, what));
                    }
                    backoff(attempt);
                    self.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    attempt += 1;
                    continue;
                }
            };
            let status = r.status();
            if status == StatusCode::UNAUTHORIZED && !foreign {
                let challenge = header(&r, "www-authenticate").and_then(auth::parse_challenge);
                if let Some(c) = challenge
                    && !authed_retry
                {
                    let basic_without_creds = c == Challenge::Basic && self.creds.is_none();
                    if !basic_without_creds {
                        let mut st = self.state.lock().expect("auth state");
                        // A new challenge, or a token that no longer works (expired):
                        // fetch a fresh one for this scope.
                        st.tokens.remove(&scope.strings());
                        st.challenge = Some(c);
                        drop(st);
                        authed_retry = true;
                        continue;
                    }
                }
                let detail = error_detail(r);
                return Err(self.denied(status, what, &detail));
            }
            if status == StatusCode::FORBIDDEN && !foreign {
                let detail = error_detail(r);
                return Err(self.denied(status, what, &detail));
            }
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                if attempt + 1 >= MAX_ATTEMPTS {
                    let detail = error_detail(r);
                    return Err(Error::remote(
                        &self.host,
                        format!(
                            "{what} failed: {status} after {MAX_ATTEMPTS} attempts{}",
                            if detail.is_empty() { String::new() } else { format!(" ({detail})") }
                        ),
                    ));
                }
                // 429 and 503 may say when to come back (seconds or an HTTP date).
                match retry_after(&r)
                    .filter(|_| status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE)
                {
                    Some(wait) => std::thread::sleep(wait),
                    None => backoff(attempt),
                }
                self.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                attempt += 1;
                continue;
            }
            if status.is_redirection()
                && (method == Method::GET || method == Method::HEAD)
                && let Some(loc) = header(&r, "location")
            {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(Error::remote(&self.host, format!("{what}: too many redirects")));
                }
                // The next turn checks the target against the origin rule.
                url = self.resolve_location(loc, &url);
                continue;
            }
            return Ok(r);
        }
    }

    /// Requests this client sent again (after a 5xx, 429 or a connection failure).
    pub fn retries(&self) -> u64 {
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks the credentials: `GET /v2/` through the Basic/Bearer flow of every request
    /// (`wharf login`).
    pub fn check_login(&self) -> Result<()> {
        let url = self.url("/v2/");
        let what = "log in (GET /v2/)";
        let scope = Scope { repo: String::new(), push: false, from: None };
        let r = self.send(Method::GET, &url, &[], ReqBody::Empty, &scope, what)?;
        match r.status() {
            s if s.is_success() => Ok(()),
            s => Err(self.unexpected(s, what, r)),
        }
    }

    /// HEAD a manifest by tag or digest; `None` when absent.
    pub fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<ManifestHead>> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let what = format!("HEAD {repo}:{reference}");
        let r =
            self.send(Method::HEAD, &url, &[("Accept", MANIFEST_ACCEPT)], ReqBody::Empty, &Scope::pull(repo), &what)?;
        match r.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(ManifestHead {
                digest: header(&r, "docker-content-digest").and_then(|d| Digest::parse(d).ok()),
            })),
            s => Err(self.unexpected(s, &what, r)),
        }
    }

    fn unexpected(&self, s: StatusCode, what: &str, r: Response<ureq::Body>) -> Error {
        let detail = error_detail(r);
        Error::remote(
            &self.host,
            format!(
                "{what}: unexpected answer {s}{}",
                if detail.is_empty() { String::new() } else { format!(" ({detail})") }
            ),
        )
    }

    /// GETs a manifest, refusing one larger than `limit`; `None` when absent.
    pub fn get_manifest(&self, repo: &str, reference: &str, limit: u64) -> Result<Option<FetchedManifest>> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let what = format!("GET the manifest {repo}:{reference}");
        let what = what.replace(":sha256:", "@sha256:");
        let r =
            self.send(Method::GET, &url, &[("Accept", MANIFEST_ACCEPT)], ReqBody::Empty, &Scope::pull(repo), &what)?;
        match r.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            s => return Err(self.unexpected(s, &what, r)),
        }
        let too_large = || Error::TooLarge {
            what: format!("registry {}: the manifest {repo}:{reference}", self.host).replace(":sha256:", "@sha256:"),
            limit,
        };
        if header(&r, "content-length").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let media_type = header(&r, "content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
        let header_digest = header(&r, "docker-content-digest").and_then(|d| Digest::parse(d).ok());
        let mut bytes = Vec::new();
        r.into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::remote(&self.host, format!("{what}: the body broke off: {e}")))?;
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(Some(FetchedManifest { bytes, media_type, header_digest }))
    }

    /// HEAD a blob; its size when present.
    pub fn head_blob(&self, repo: &str, digest: &Digest) -> Result<Option<u64>> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let what = format!("HEAD the blob {digest} in {repo}");
        let r = self.send(Method::HEAD, &url, &[], ReqBody::Empty, &Scope::pull(repo), &what)?;
        match r.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(header(&r, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0))),
            s => Err(self.unexpected(s, &what, r)),
        }
    }

    /// GETs a blob as a stream (redirects followed, without credentials off-host).
    pub fn get_blob(&self, repo: &str, digest: &Digest) -> Result<impl Read + Send + 'static> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let what = format!("GET the blob {digest} from {repo}");
        let r = self.send(Method::GET, &url, &[], ReqBody::Empty, &Scope::pull(repo), &what)?;
        match r.status() {
            s if s.is_success() => Ok(r.into_body().into_with_config().limit(u64::MAX).reader()),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("registry {}: the blob {digest}", self.host),
                detail: format!("is not in {repo} (404)"),
            }),
            s => Err(self.unexpected(s, &what, r)),
        }
    }

    /// Asks to mount `digest` from `from` into `repo`.
    pub fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<Mount> {
        let url = self.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount={}&from={}",
            percent_encode(&digest.to_string()),
            percent_encode(from)
        ));
        let scope = Scope { repo: repo.to_string(), push: true, from: Some(from.to_string()) };
        let what = format!("mount the blob {digest} from {from} into {repo}");
        let r = self.send(Method::POST, &url, &[("Content-Length", "0")], ReqBody::Empty, &scope, &what)?;
        match r.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.session(&r, &url, &what)?)),
            s => Err(self.unexpected(s, &what, r)),
        }
    }

    fn session(&self, r: &Response<ureq::Body>, url: &str, what: &str) -> Result<UploadSession> {
        let loc = header(r, "location")
            .ok_or_else(|| Error::remote(&self.host, format!("{what}: the answer has no Location")))?;
        Ok(UploadSession {
            location: self.resolve_location(loc, url),
            chunk_min: header(r, "oci-chunk-min-length").and_then(|v| v.parse().ok()),
        })
    }

    /// Starts an upload into `repo`.
    pub fn start_upload(&self, repo: &str) -> Result<UploadSession> {
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let what = format!("start an upload into {repo}");
        let r = self.send(Method::POST, &url, &[("Content-Length", "0")], ReqBody::Empty, &Scope::push(repo), &what)?;
        match r.status() {
            StatusCode::ACCEPTED | StatusCode::CREATED => self.session(&r, &url, &what),
            s => Err(self.unexpected(s, &what, r)),
        }
    }

    /// Finishes an upload with the file at `path` (`size` bytes, hashing to `digest`): one
    /// PUT streaming the file, or PATCH chunks of the size the registry asks for, then PUT.
    pub fn finish_upload(&self, repo: &str, s: UploadSession, digest: &Digest, path: &Path, size: u64) -> Result<()> {
        let scope = Scope::push(repo);
        let what = format!("upload the blob {digest} into {repo}");
        let mut location = s.location;
        if let Some(min) = s.chunk_min.filter(|m| *m > 0 && *m < size) {
            let chunk = min.max(4 << 20);
            let mut f = std::fs::File::open(path).map_err(Error::io("open blob", path))?;
            let mut offset = 0u64;
            let mut buf = Vec::new();
            while offset < size {
                let n = chunk.min(size - offset);
                buf.clear();
                (&mut f).take(n).read_to_end(&mut buf).map_err(Error::io("read blob", path))?;
                let range = format!("{}-{}", offset, offset + n - 1);
                let len = n.to_string();
                let r = self.send(
                    Method::PATCH,
                    &location,
                    &[
                        ("Content-Type", "application/octet-stream"),
                        ("Content-Range", &range),
                        ("Content-Length", &len),
                    ],
                    ReqBody::Bytes(&buf),
                    &scope,
                    &what,
                )?;
                if r.status() != StatusCode::ACCEPTED {
                    let st = r.status();
                    return Err(self.unexpected(st, &what, r));
                }
                location = self.session(&r, &location, &what)?.location;
                offset += n;
            }
            let url = with_digest(&location, digest);
            let r = self.send(Method::PUT, &url, &[("Content-Length", "0")], ReqBody::Empty, &scope, &what)?;
            return match r.status() {
                StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
                st => Err(self.unexpected(st, &what, r)),
            };
        }
        let url = with_digest(&location, digest);
        let r = self.send(
            Method::PUT,
            &url,
            &[("Content-Type", "application/octet-stream")],
            ReqBody::File(path),
            &scope,
            &what,
        )?;
        match r.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
            st => Err(self.unexpected(st, &what, r)),
        }
    }

    /// PUTs a manifest's bytes as they are, by tag or digest.
    pub fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> Result<PutManifest> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let what = format!("PUT the manifest {repo}:{reference}").replace(":sha256:", "@sha256:");
        let r = self.send(
            Method::PUT,
            &url,
            &[("Content-Type", media_type)],
            ReqBody::Bytes(bytes),
            &Scope::push(repo),
            &what,
        )?;
        match r.status() {
            StatusCode::CREATED | StatusCode::OK | StatusCode::ACCEPTED | StatusCode::NO_CONTENT => {
                Ok(PutManifest { subject_processed: header(&r, "oci-subject").is_some() })
            }
            s => Err(self.unexpected(s, &what, r)),
        }
    }

    /// Every tag of `repo`, following `Link` pagination: each tag once, in the order
    /// listed. Pagination stops at the first page URL seen twice or the first page that
    /// adds no tag (loops); a page larger than [`MAX_TAG_PAGE_BYTES`], more than
    /// [`MAX_TAGS`] distinct tags or more than [`MAX_TAG_PAGES`] pages is an error.
    pub fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let mut url = self.url(&format!("/v2/{repo}/tags/list"));
        let what = format!("list the tags of {repo}");
        let mut out = Vec::new();
        let mut have: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut pages: std::collections::HashSet<String> = std::collections::HashSet::new();
        while pages.insert(url.clone()) {
            let r = self.send(Method::GET, &url, &[], ReqBody::Empty, &Scope::pull(repo), &what)?;
            if r.status() == StatusCode::NOT_FOUND {
                return Err(Error::NotFound {
                    what: format!("registry {}: the repository {repo}", self.host),
                    detail: "does not exist".into(),
                });
            }
            if !r.status().is_success() {
                let s = r.status();
                return Err(self.unexpected(s, &what, r));
            }
            let next = header(&r, "link").and_then(link_next).map(str::to_string);
            let too_large = || Error::TooLarge {
                what: format!("registry {}: a page of the tag list of {repo}", self.host),
                limit: MAX_TAG_PAGE_BYTES,
            };
            if header(&r, "content-length").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > MAX_TAG_PAGE_BYTES)
            {
                return Err(too_large());
            }
            let mut buf = Vec::new();
            r.into_body()
                .into_with_config()
                .limit(u64::MAX)
                .reader()
                .take(MAX_TAG_PAGE_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| Error::remote(&self.host, format!("{what}: {e}")))?;
            if buf.len() as u64 > MAX_TAG_PAGE_BYTES {
                return Err(too_large());
            }
            let tags =
                parse_tag_list(&buf).map_err(|e| Error::remote(&self.host, format!("{what}: not a tag list: {e}")))?;
            let before = out.len();
            for t in tags {
                if !have.contains(&t) {
                    if have.len() >= MAX_TAGS {
                        return Err(Error::remote(
                            &self.host,
                            format!("{what}: more than {MAX_TAGS} tags; wharf does not list more (pull them by name)"),
                        ));
                    }
                    have.insert(t.clone());
                    out.push(t);
                }
            }
            // A page that adds no new tag ends the listing: a registry that links on
            // from it is looping through fresh URLs (a loop through the same URL ends at
            // the `pages` check).
            if out.len() == before {
                return Ok(out);
            }
            if pages.len() >= MAX_TAG_PAGES {
                return Err(Error::remote(
                    &self.host,
                    format!(
                        "{what}: more than {MAX_TAG_PAGES} pages; wharf does not follow more (pull the tags by name)"
                    ),
                ));
            }
            match next {
                Some(n) => url = self.resolve_location(&n, &url),
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The referrers of `digest` through the referrers API; `None` when the registry does
    /// not have the API (404).
    pub fn referrers(&self, repo: &str, digest: &Digest, limit: u64) -> Result<Option<Vec<Descriptor>>> {
        let url = self.url(&format!("/v2/{repo}/referrers/{digest}"));
        let what = format!("list the referrers of {repo}@{digest}");
        let r = self.send(
            Method::GET,
            &url,
            &[("Accept", "application/vnd.oci.image.index.v1+json")],
            ReqBody::Empty,
            &Scope::pull(repo),
            &what,
        )?;
        match r.status() {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST => return Ok(None),
            s if s.is_success() => {}
            s => return Err(self.unexpected(s, &what, r)),
        }
        let ct = header(&r, "content-type").unwrap_or("").to_string();
        let mut buf = Vec::new();
        r.into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::remote(&self.host, format!("{what}: {e}")))?;
        if buf.len() as u64 > limit {
            return Err(Error::TooLarge { what: format!("registry {}: the referrers of {digest}", self.host), limit });
        }
        // A registry without the API may answer 200 with something else (an HTML page).
        if !ct.contains("json") && !ct.is_empty() {
            return Ok(None);
        }
        match IndexFile::parse(&buf) {
            Ok(i) => Ok(Some(i.manifests)),
            Err(_) => Ok(None),
        }
    }
}

/// Bytes of one page of a tag list.
pub const MAX_TAG_PAGE_BYTES: u64 = 4 << 20;
/// Distinct tags of one repository that `tags` lists.
pub const MAX_TAGS: usize = 100_000;
/// Pages of one tag list that `tags` follows (each must add a tag it had not seen).
pub const MAX_TAG_PAGES: usize = 10_000;

/// The target of the `rel="next"` link of a `Link` header (`<URL>; rel="next"`); a
/// header with a single link and no `rel` counts as next, as distribution writes it.
pub fn link_next(header: &str) -> Option<&str> {
    let mut only = None;
    let mut count = 0;
    for part in header.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else { continue };
        let Some((target, params)) = rest.split_once('>') else { continue };
        count += 1;
        let rel = params.split(';').filter_map(|p| p.trim().split_once('=')).find_map(|(k, v)| {
            k.trim().eq_ignore_ascii_case("rel").then(|| v.trim().trim_matches('"').to_ascii_lowercase())
        });
        match rel.as_deref() {
            Some(r) if r.split_whitespace().any(|x| x == "next") => return Some(target),
            None => only = Some(target),
            _ => {}
        }
    }
    if count == 1 { only } else { None }
}

/// The token of a token service's answer (`token`, else `access_token`); the error is
/// a suffix for the message (`: why`, or empty when the answer holds no token).
pub fn parse_token(bytes: &[u8]) -> std::result::Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Tok {
        #[serde(default, deserialize_with = "crate::model::lenient::string")]
        token: Option<String>,
        #[serde(default, deserialize_with = "crate::model::lenient::string")]
        access_token: Option<String>,
    }
    let t: Tok = serde_json::from_slice(bytes).map_err(|e| format!(": {e}"))?;
    t.token.filter(|t| !t.is_empty()).or(t.access_token).filter(|t| !t.is_empty()).ok_or_else(String::new)
}

/// The tags of one tag-list page (`{"name":…,"tags":[…]}`; `tags` may be null).
pub fn parse_tag_list(bytes: &[u8]) -> std::result::Result<Vec<String>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Tags {
        tags: Option<Vec<String>>,
    }
    Ok(serde_json::from_slice::<Tags>(bytes)?.tags.unwrap_or_default())
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", percent_encode(&digest.to_string()))
}

/// The longest `Retry-After` wharf waits for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait a `Retry-After` header asks for (delta-seconds or an HTTP date), at most
/// [`MAX_RETRY_AFTER`].
fn retry_after(r: &Response<ureq::Body>) -> Option<Duration> {
    let v = header(r, "retry-after")?.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

fn backoff(attempt: u32) {
    std::thread::sleep(RETRY_BASE * 2u32.pow(attempt.min(6)));
}

/// A reader that turns an early end (fewer than `size` bytes) into an error, and
/// remembers whether the transport failed, so the caller can retry a broken download.
pub struct Checked<R> {
    pub inner: R,
    pub left: u64,
    pub failed: bool,
    /// The transport failed because the registry went silent (an idle-read timeout).
    pub timed_out: bool,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        match self.inner.read(&mut buf[..want]) {
            Ok(0) => {
                self.failed = true;
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("the body ended {} bytes early", self.left)))
            }
            Ok(n) => {
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed = true;
                self.timed_out |= e.kind() == io::ErrorKind::TimedOut;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts() {
        assert_eq!(url_host("https://a.example:5000/v2/x?y"), Some("a.example:5000"));
        assert_eq!(url_origin("http://127.0.0.1:1/v2/").as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(percent_encode("sha256:ab/c d"), "sha256%3Aab%2Fc%20d");
        let d = Digest::of(b"x");
        assert_eq!(with_digest("http://h/u?_state=1", &d), format!("http://h/u?_state=1&digest=sha256%3A{}", d.hex()));
    }

    #[test]
    fn link_headers() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"</v2/a/tags/list?last=b&n=1>; rel="next""#, Some("/v2/a/tags/list?last=b&n=1")),
            ("</v2/a/tags/list?last=b>", Some("/v2/a/tags/list?last=b")),
            (r#"</p1>; rel="prev", </p3>; rel="next""#, Some("/p3")),
            (r#"</p1>; rel="prev""#, None),
            ("</p1>, </p2>", None),
            ("garbage", None),
            ("<unterminated", None),
        ];
        for (h, want) in cases {
            assert_eq!(link_next(h), *want, "{h}");
        }
        assert_eq!(parse_tag_list(br#"{"name":"a","tags":null}"#).unwrap(), Vec::<String>::new());
        assert_eq!(parse_tag_list(br#"{"name":"a","tags":["1","2"]}"#).unwrap(), vec!["1", "2"]);
        assert!(parse_tag_list(b"[0,0,0]").is_err());
    }

    #[test]
    fn checked_reader_flags_short_body() {
        let mut c = Checked { inner: &b"abc"[..], left: 5, failed: false, timed_out: false };
        let mut out = Vec::new();
        assert!(c.read_to_end(&mut out).is_err());
        assert!(c.failed);
        assert_eq!(out, b"abc");
    }
}
