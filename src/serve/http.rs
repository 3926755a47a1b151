//! Routing, responses and bodies of `wharf serve`: the OCI distribution API's pull side,
//! referrers and listings, error bodies as the spec gives them, and a 405 for every write.

use std::fs::File;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::State;
use super::reads::ApiError;
use crate::error::{Error, Result};

/// A response body: whole bytes, or a blob streaming from its file.
pub type ResBody = BoxBody<Bytes, io::Error>;

/// The bytes a blob is read in; at most two chunks per response are in memory.
const CHUNK: usize = 64 << 10;
/// Largest `n` a listing page honours (a larger one gets this many).
const MAX_PAGE: usize = 10_000;

/// Builds the TLS acceptor from PEM files.
pub fn tls_config(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::Usage(format!("--tls-cert {}: not a PEM certificate chain: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(Error::Usage(format!("--tls-cert {}: holds no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::Usage(format!("--tls-key {}: not a PEM private key: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Usage(format!("--tls-cert/--tls-key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Answers one request, and writes its access-log line.
pub async fn handle(state: Arc<State>, peer: SocketAddr, req: Request<Incoming>) -> Response<ResBody> {
    let started = Instant::now();
    state.requests.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let target = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let (user, mut resp) = match &state.auth {
        None => (None, None),
        Some(_) => {
            let header = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
            // bcrypt is slow on purpose: off the async workers.
            let checked = {
                let state = state.clone();
                tokio::task::spawn_blocking(move || state.auth.as_ref().and_then(|a| a.check(header.as_deref())))
                    .await
                    .ok()
                    .flatten()
            };
            match checked {
                Some(u) => (Some(u), None),
                None => {
                    let mut r = error(&ApiError::new(401, "UNAUTHORIZED", "authentication required"));
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"wharf\""));
                    (None, Some(r))
                }
            }
        }
    };
    if resp.is_none() {
        resp = Some(route(&state, req).await);
    }
    let mut resp = resp.expect("answered");
    resp.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    if let Some(log) = &state.access_log {
        let len = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
        let line = format!(
            "{} {} {} \"{} {}\" {} {} {}ms\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            peer.ip(),
            user.as_deref().unwrap_or("-"),
            method,
            target.escape_debug(),
            resp.status().as_u16(),
            len,
            started.elapsed().as_millis()
        );
        if let Ok(mut w) = log.lock() {
            let _ = w.write_all(line.as_bytes()).and_then(|_| w.flush());
        }
    }
    resp
}

/// What a path under `/v2/` names.
#[derive(Debug, PartialEq, Eq)]
enum Endpoint<'a> {
    Base,
    Catalog,
    Manifest(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Upload(&'a str),
    Tags(&'a str),
    Referrers(&'a str, &'a str),
    Unknown,
}

/// Parses a request path. A repository name may hold `/`, a tag or digest never does,
/// so the last components decide.
fn endpoint(path: &str) -> Endpoint<'_> {
    let Some(rest) = path.strip_prefix("/v2") else { return Endpoint::Unknown };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Endpoint::Base;
    }
    if rest == "_catalog" {
        return Endpoint::Catalog;
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Endpoint::Tags(name);
    }
    if let Some(i) = rest.find("/blobs/uploads") {
        return Endpoint::Upload(&rest[..i]);
    }
    let Some((head, last)) = rest.rsplit_once('/') else { return Endpoint::Unknown };
    if let Some(name) = head.strip_suffix("/manifests") {
        return Endpoint::Manifest(name, last);
    }
    if let Some(name) = head.strip_suffix("/blobs") {
        return Endpoint::Blob(name, last);
    }
    if let Some(name) = head.strip_suffix("/referrers") {
        return Endpoint::Referrers(name, last);
    }
    Endpoint::Unknown
}

/// The 405 of a write: what to run instead.
fn write_refused(ep: &Endpoint<'_>, method: &Method) -> ApiError {
    let instead = match (ep, method) {
        (Endpoint::Manifest(..), &Method::DELETE) => "`wharf untag REPO:TAG` or `wharf delete REPO@DIGEST`",
        (Endpoint::Manifest(..), _) => {
            "`wharf import` (or `wharf add`/`wharf attach` for artifacts, `wharf tag` for tags)"
        }
        (Endpoint::Blob(..), &Method::DELETE) => "`wharf delete` then `wharf gc`",
        (Endpoint::Blob(..) | Endpoint::Upload(_), _) => "`wharf import` (blobs arrive with the images that use them)",
        _ => "the wharf command line",
    };
    ApiError::new(
        405,
        "UNSUPPORTED",
        format!("wharf serve is read-only: {method} is not served; to change the registry use {instead}"),
    )
}

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Response<ResBody> {
    let path = req.uri().path().to_string();
    let ep = endpoint(&path);
    if ep == Endpoint::Unknown {
        return error(&ApiError::new(404, "NOT_FOUND", "wharf serves the OCI distribution API under /v2/"));
    }
    let method = req.method().clone();
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        let mut r = error(&write_refused(&ep, &method));
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let query = parse_query(req.uri().query());
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let st = state.clone();
    let result = match ep {
        Endpoint::Base => Ok(json(StatusCode::OK, b"{}".to_vec(), "application/json")),
        Endpoint::Unknown => unreachable!("answered above"),
        Endpoint::Upload(_) => Err(write_refused(&ep, &method)),
        Endpoint::Catalog => {
            let (n, last) = match page(&q) {
                Ok(p) => p,
                Err(e) => return finish(error(&e), head),
            };
            blocking(move || st.reader.catalog())
                .await
                .map(|all| listing(all, n, last, "/v2/_catalog", |page| serde_json::json!({ "repositories": page })))
        }
        Endpoint::Tags(name) => {
            let (n, last) = match page(&q) {
                Ok(p) => p,
                Err(e) => return finish(error(&e), head),
            };
            let owned = name.to_string();
            let link = format!("/v2/{name}/tags/list");
            blocking(move || st.reader.tags(&owned)).await.map(|all| {
                let name = name.to_string();
                listing(all, n, last, &link, |page| serde_json::json!({ "name": name, "tags": page }))
            })
        }
        Endpoint::Manifest(name, reference) => {
            let (name, reference) = (name.to_string(), reference.to_string());
            blocking(move || st.reader.manifest(&name, &reference)).await.map(|m| {
                let mut r = json(StatusCode::OK, m.bytes, &m.media_type);
                let d = header_value(&m.digest.to_string());
                r.headers_mut().insert("docker-content-digest", d.clone());
                r.headers_mut().insert(header::ETAG, header_value(&format!("\"{}\"", m.digest)));
                r
            })
        }
        Endpoint::Blob(name, digest) => {
            let (name, digest) = (name.to_string(), digest.to_string());
            let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_string);
            let inm = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
            match blocking(move || st.reader.blob(&name, &digest)).await {
                Ok(b) => Ok(blob_response(b, range.as_deref(), inm.as_deref(), head, state.idle)),
                Err(e) => Err(e),
            }
        }
        Endpoint::Referrers(name, digest) => {
            let (name, digest) = (name.to_string(), digest.to_string());
            let filter = q("artifactType");
            let applied = filter.is_some();
            blocking(move || st.reader.referrers(&name, &digest, filter.as_deref())).await.map(|bytes| {
                let mut r = json(StatusCode::OK, bytes, crate::model::media::OCI_INDEX);
                if applied {
                    r.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
                }
                r
            })
        }
    };
    finish(result.unwrap_or_else(|e| error(&e)), head)
}

/// A HEAD answer keeps the headers (Content-Length included) and drops the body.
fn finish(mut r: Response<ResBody>, head: bool) -> Response<ResBody> {
    if head {
        *r.body_mut() = Empty::new().map_err(|e| match e {}).boxed();
    }
    r
}

/// Runs a registry read on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, ApiError> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(500, "UNKNOWN", "the read failed; the server's log says why")),
    }
}

/// `n` and `last` of a listing.
fn page(q: &dyn Fn(&str) -> Option<String>) -> std::result::Result<(Option<usize>, Option<String>), ApiError> {
    let n = match q("n") {
        None => None,
        Some(s) => Some(s.parse::<usize>().map_err(|_| {
            ApiError::new(400, "PAGINATION_NUMBER_INVALID", format!("n=`{s}` is not a non-negative number"))
        })?),
    };
    Ok((n.map(|n| n.min(MAX_PAGE)), q("last")))
}

/// One page of a sorted listing: the entries after `last`, at most `n`, with a `Link` to
/// the next page when entries remain.
fn listing(
    all: Vec<String>,
    n: Option<usize>,
    last: Option<String>,
    path: &str,
    body: impl FnOnce(&[String]) -> serde_json::Value,
) -> Response<ResBody> {
    let start = match &last {
        Some(l) => all.partition_point(|x| x.as_str() <= l.as_str()),
        None => 0,
    };
    let rest = &all[start..];
    let take = n.unwrap_or(rest.len()).min(rest.len());
    let page = &rest[..take];
    let bytes = serde_json::to_vec(&body(page)).expect("JSON serialises");
    let mut r = json(StatusCode::OK, bytes, "application/json");
    if let (Some(n), Some(l)) = (n, page.last())
        && take < rest.len()
    {
        let enc = percent_encoding::utf8_percent_encode(l, percent_encoding::NON_ALPHANUMERIC);
        r.headers_mut().insert(header::LINK, header_value(&format!("<{path}?n={n}&last={enc}>; rel=\"next\"")));
    }
    r
}

/// The query's pairs, percent-decoded.
fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().to_string();
            (dec(k), dec(v))
        })
        .collect()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn json(status: StatusCode, bytes: Vec<u8>, content_type: &str) -> Response<ResBody> {
    let len = bytes.len();
    let mut r = Response::new(Full::new(Bytes::from(bytes)).map_err(|e| match e {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, header_value(content_type));
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// An error body as the distribution spec gives it.
pub fn error(e: &ApiError) -> Response<ResBody> {
    let body = serde_json::json!({ "errors": [{ "code": e.code, "message": e.message, "detail": null }] });
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, serde_json::to_vec(&body).expect("JSON serialises"), "application/json")
}

/// What a `Range` header asks of a blob of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Whole,
    /// Start and length.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range; several ranges, another unit or a malformed header are ignored
/// (the whole blob is sent, as RFC 9110 allows).
fn want(range: Option<&str>, size: u64) -> Want {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else { return Want::Whole };
    if spec.contains(',') {
        return Want::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Want::Whole };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => Want::Unsatisfiable,
            Ok(_) if size == 0 => Want::Unsatisfiable,
            Ok(n) => Want::Part(size - n.min(size), n.min(size)),
            Err(_) => Want::Whole,
        };
    }
    let Ok(start) = a.parse::<u64>() else { return Want::Whole };
    let end = match b {
        "" => None,
        b => match b.parse::<u64>() {
            Ok(e) if e >= start => Some(e),
            _ => return Want::Whole,
        },
    };
    if start >= size {
        return Want::Unsatisfiable;
    }
    let end = end.map_or(size - 1, |e| e.min(size - 1));
    Want::Part(start, end - start + 1)
}

fn blob_response(
    b: super::reads::BlobFile,
    range: Option<&str>,
    if_none_match: Option<&str>,
    head: bool,
    idle: Duration,
) -> Response<ResBody> {
    let etag = format!("\"{}\"", b.digest);
    let mut r = Response::new(Empty::new().map_err(|e| match e {}).boxed());
    let h = r.headers_mut();
    h.insert("docker-content-digest", header_value(&b.digest.to_string()));
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return r;
    }
    let (start, len) = match want(range, b.size) {
        Want::Whole => (0, b.size),
        Want::Part(s, l) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            r.headers_mut().insert(header::CONTENT_RANGE, header_value(&format!("bytes {s}-{}/{}", s + l - 1, b.size)));
            (s, l)
        }
        Want::Unsatisfiable => {
            let mut e = error(&ApiError::new(416, "BLOB_UNKNOWN", "the requested range is not in the blob"));
            e.headers_mut().insert(header::CONTENT_RANGE, header_value(&format!("bytes */{}", b.size)));
            return e;
        }
    };
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if !head && len > 0 {
        *r.body_mut() = FileBody::start(b.file, start, len, idle).boxed();
    }
    r
}

/// A blob's bytes, read from its open file by a task that stays at most one chunk ahead
/// of the client (a slow reader costs two chunks of memory). A client that stops reading
/// for `idle` is cut off. A gc that deletes the blob meanwhile removes its name; the open
/// file keeps the bytes.
struct FileBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    remaining: u64,
}

impl FileBody {
    fn start(file: File, offset: u64, len: u64, idle: Duration) -> FileBody {
        let (tx, rx) = mpsc::channel(1);
        let file = Arc::new(file);
        tokio::spawn(async move {
            let end = offset + len;
            let mut pos = offset;
            while pos < end {
                let n = usize::try_from((end - pos).min(CHUNK as u64)).expect("a chunk fits");
                let f = file.clone();
                // Allocated here, on one of the two workers that also free it once sent:
                // buffers allocated on the blocking threads left each of them holding
                // allocator memory (100 slow streams: 257 MiB of RSS).
                let mut buf = vec![0u8; n];
                let chunk =
                    tokio::task::spawn_blocking(move || f.read_exact_at(&mut buf, pos).map(|_| Bytes::from(buf)))
                        .await
                        .unwrap_or_else(|e| Err(io::Error::other(e)));
                let failed = chunk.is_err();
                match tokio::time::timeout(idle, tx.send(chunk)).await {
                    Ok(Ok(())) if !failed => pos += n as u64,
                    // The client went away, stalled past the deadline, or the read
                    // failed: stop (the body ends short and the connection is closed).
                    _ => return,
                }
            }
        });
        FileBody { rx, remaining: len }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading; the response was cut off",
            )))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_parsed_from_the_last_components() {
        assert_eq!(endpoint("/v2/"), Endpoint::Base);
        assert_eq!(endpoint("/v2"), Endpoint::Base);
        assert_eq!(endpoint("/v2/_catalog"), Endpoint::Catalog);
        assert_eq!(endpoint("/v2/team/app/manifests/1.0"), Endpoint::Manifest("team/app", "1.0"));
        assert_eq!(endpoint("/v2/a/blobs/sha256:ab"), Endpoint::Blob("a", "sha256:ab"));
        assert_eq!(endpoint("/v2/a/b/tags/list"), Endpoint::Tags("a/b"));
        assert_eq!(endpoint("/v2/a/referrers/sha256:ab"), Endpoint::Referrers("a", "sha256:ab"));
        assert_eq!(endpoint("/v2/a/blobs/uploads/"), Endpoint::Upload("a"));
        assert_eq!(endpoint("/v2/a/blobs/uploads/123"), Endpoint::Upload("a"));
        assert_eq!(endpoint("/v2/a/other/x"), Endpoint::Unknown);
        assert_eq!(endpoint("/other"), Endpoint::Unknown);
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(want(None, 10), Want::Whole);
        assert_eq!(want(Some("bytes=0-"), 10), Want::Part(0, 10));
        assert_eq!(want(Some("bytes=2-4"), 10), Want::Part(2, 3));
        assert_eq!(want(Some("bytes=2-100"), 10), Want::Part(2, 8));
        assert_eq!(want(Some("bytes=-3"), 10), Want::Part(7, 3));
        assert_eq!(want(Some("bytes=-30"), 10), Want::Part(0, 10));
        assert_eq!(want(Some("bytes=10-"), 10), Want::Unsatisfiable);
        assert_eq!(want(Some("bytes=-0"), 10), Want::Unsatisfiable);
        assert_eq!(want(Some("bytes=0-1,3-4"), 10), Want::Whole);
        assert_eq!(want(Some("items=0-1"), 10), Want::Whole);
        assert_eq!(want(Some("bytes=4-2"), 10), Want::Whole);
    }

    #[test]
    fn listings_page_with_n_and_last_and_link() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let r = listing(all.clone(), Some(2), None, "/v2/x/tags/list", |p| serde_json::json!(p));
        assert_eq!(r.headers()[header::LINK], "</v2/x/tags/list?n=2&last=b>; rel=\"next\"");
        let r = listing(all.clone(), Some(2), Some("b".into()), "/v2/x/tags/list", |p| serde_json::json!(p));
        assert!(r.headers().get(header::LINK).is_none(), "the last page has no Link");
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "9"); // ["c","d"]
    }
}
