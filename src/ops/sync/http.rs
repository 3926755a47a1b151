//! Plain HTTP(S) downloads for sync's classic Helm repositories and files: GET with a
//! size cap, bodies streamed to a file (hashed while written) or read whole when small.
//! TLS as the registry client does it: the compiled-in roots or `--ca-file`, and
//! `--tls-verify=false`. No credentials are sent.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::remote::ConnectOptions;

/// Largest index.yaml read.
pub const MAX_INDEX_YAML: u64 = 64 << 20;
/// Largest chart .tgz or file downloaded.
pub const MAX_DOWNLOAD: u64 = 8 << 30;
const MAX_REDIRECTS: u32 = 5;

pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new(opts: &ConnectOptions) -> Result<Http> {
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(opts.tls_insecure);
        if let Some(ca) = &opts.ca_file {
            let pem = std::fs::read(ca).map_err(Error::io("read the CA file", ca.clone()))?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::Usage(format!("--ca-file {}: holds no PEM certificate", ca.display())));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_per_read(Some(Duration::from_secs(300)))
            .tls_config(tls.build())
            .build();
        Ok(Http { agent: config.new_agent() })
    }

    fn get(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>> {
        let host = host_of(url);
        let r = self.agent.get(url).call().map_err(|e| Error::remote(host.clone(), format!("GET {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(Error::remote(host, format!("GET {url}: answered {}", r.status())));
        }
        if r.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > MAX_DOWNLOAD)
        {
            return Err(Error::TooLarge { what: url.to_string(), limit: MAX_DOWNLOAD });
        }
        Ok(r)
    }

    /// The body of `url`, at most `limit` bytes.
    pub fn get_small(&self, url: &str, limit: u64) -> Result<Vec<u8>> {
        let r = self.get(url)?;
        let mut buf = Vec::new();
        r.into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::remote(host_of(url), format!("GET {url}: the body broke off: {e}")))?;
        if buf.len() as u64 > limit {
            return Err(Error::TooLarge { what: url.to_string(), limit });
        }
        Ok(buf)
    }

    /// Streams `url` into the new file `dest` (fsynced); returns its size and SHA-256 hex.
    pub fn download(&self, url: &str, dest: &Path) -> Result<(u64, String)> {
        let r = self.get(url)?;
        let mut body = r.into_body().into_with_config().limit(u64::MAX).reader().take(MAX_DOWNLOAD + 1);
        // Through store: root-anchored, no link followed, never an existing file.
        let mut f = crate::store::fs::create_new(dest)?;
        let mut h = sha2::Sha256::new();
        let mut n = 0u64;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let k = body
                .read(&mut buf)
                .map_err(|e| Error::remote(host_of(url), format!("GET {url}: the body broke off: {e}")))?;
            if k == 0 {
                break;
            }
            n += k as u64;
            if n > MAX_DOWNLOAD {
                return Err(Error::TooLarge { what: url.to_string(), limit: MAX_DOWNLOAD });
            }
            h.update(&buf[..k]);
            f.write_all(&buf[..k]).map_err(Error::io("write", dest.to_path_buf()))?;
        }
        f.sync_all().map_err(Error::io("fsync", dest.to_path_buf()))?;
        Ok((n, hex::encode(h.finalize())))
    }
}

/// The host[:port] of a URL, for errors.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    rest.split(['/', '?', '#']).next().unwrap_or(rest).to_string()
}

/// `rel` (an index.yaml `urls:` entry) against the repository URL `base`: absolute URLs
/// as they are, others relative to the repository's directory.
pub fn resolve(base: &str, rel: &str) -> String {
    if rel.starts_with("http://") || rel.starts_with("https://") {
        return rel.to_string();
    }
    if let Some(abs) = rel.strip_prefix('/') {
        let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
        let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
        return format!("{}/{abs}", &base[..host_end]);
    }
    format!("{}/{rel}", base.trim_end_matches('/'))
}

/// SHA-256 hex of a local file, streamed.
pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = crate::store::files::open_input_file(path)?;
    let mut h = sha2::Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(Error::io("read", path.to_path_buf()))?;
    Ok((n, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolves_chart_urls() {
        use super::resolve;
        assert_eq!(resolve("http://h:1/charts", "p-1.0.0.tgz"), "http://h:1/charts/p-1.0.0.tgz");
        assert_eq!(resolve("http://h:1/charts/", "/x/p.tgz"), "http://h:1/x/p.tgz");
        assert_eq!(resolve("http://h:1/charts", "https://o/p.tgz"), "https://o/p.tgz");
    }
}
