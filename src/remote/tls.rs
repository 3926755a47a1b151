//! TLS to a registry as podman, skopeo and docker set it up (containers-certs.d(5)).
//!
//! Roots: the system's trust store (`rustls-native-certs`: `SSL_CERT_FILE`, `SSL_CERT_DIR`,
//! else the distribution's bundle under /etc/ssl), or with `no_system_roots` the Mozilla
//! roots compiled into wharf; to either are added the certificates the user trusts
//! explicitly: `--ca-file`, and the `*.crt` of the registry's certs.d directory (or
//! `--cert-dir`). A `*.cert` with its `*.key` there is a client certificate (mutual TLS).
//!
//! A certificate trusted explicitly that is itself the server's certificate is accepted as
//! go's crypto/x509 accepts it, even when it says `CA:TRUE` (OpenSSL 3 marks the self-signed
//! certificate of docker's recipe so): its host name and validity period are still checked.
//!
//! The handshake runs in [`TlsConnector`], a ureq connector: a server that answers the TLS
//! hello in plain HTTP is reported as [`PLAIN_HTTP`] at once.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport, TransportAdapter,
};

use crate::error::{Error, Result};

/// The `ureq::Error::Tls` text of a server that answered the TLS hello in plain HTTP.
pub const PLAIN_HTTP: &str = "the server answered the TLS hello in plain HTTP";

/// What a registry connection trusts and presents.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// `--ca-file`: PEM certificates added to the roots.
    pub ca_file: Option<PathBuf>,
    /// `--cert-dir`: the certs.d-style directory to use instead of the host's.
    pub cert_dir: Option<PathBuf>,
    /// `--no-system-roots`: the compiled-in Mozilla roots instead of the system store.
    pub no_system_roots: bool,
    /// `--tls-verify=false` (or `insecure` in registries.conf): nothing is verified.
    pub insecure: bool,
}

/// Where the trust of one connection came from, for error messages.
#[derive(Debug, Clone, Default)]
pub struct TrustSummary {
    /// Explicitly trusted certificate files (`--ca-file`, certs.d `*.crt`).
    pub ca_files: Vec<PathBuf>,
    /// The client certificate presented, when there is one.
    pub client_cert: Option<PathBuf>,
    /// The certs.d directory used, when one exists.
    pub cert_dir: Option<PathBuf>,
    /// How many system (or compiled-in) roots were loaded.
    pub roots: usize,
    pub system_roots: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(Error::io("read the certificate file", path))?;
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(&bytes) {
        match c {
            Ok(c) => out.push(c),
            Err(e) => return Err(Error::Usage(format!("{what} {}: not a PEM certificate file: {e}", path.display()))),
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(format!("{what} {}: holds no PEM certificate", path.display())));
    }
    Ok(out)
}

/// The files of a certs.d directory with this extension, sorted by name.
fn files_with_ext(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(Error::Io { action: "read the certificate directory", path: dir.to_path_buf(), source: e });
        }
    };
    for entry in rd {
        let entry = entry.map_err(Error::io("read the certificate directory", dir))?;
        let p = entry.path();
        if p.extension().and_then(|e| e.to_str()) == Some(ext) && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Builds the rustls configuration for the registry `host` (`HOST[:PORT]`): its certs.d
/// CAs and client certificate, and `insecure`. Used only for the registry's own origin.
pub fn client_config(host: &str, opts: &TrustOptions) -> Result<(Arc<ClientConfig>, TrustSummary)> {
    build(Some(host), opts)
}

/// Builds the rustls configuration for every other origin (a redirect target, a CDN, a
/// token realm on another host): the system (or compiled-in) roots and `--ca-file` only,
/// verification always on, no client certificate. Nothing the user set up for the
/// registry (certs.d, its client certificate, `--tls-verify=false`) reaches another host.
pub fn foreign_config(opts: &TrustOptions) -> Result<(Arc<ClientConfig>, TrustSummary)> {
    build(None, &TrustOptions { cert_dir: None, insecure: false, ..opts.clone() })
}

/// `host` is the registry's (certs.d, client certificate, insecure), `None` another origin.
fn build(host: Option<&str>, opts: &TrustOptions) -> Result<(Arc<ClientConfig>, TrustSummary)> {
    let provider = provider();
    let mut summary = TrustSummary { system_roots: !opts.no_system_roots, ..Default::default() };
    let mut roots = RootCertStore::empty();
    if opts.no_system_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        // Unreadable entries of the system store are skipped, as curl and go skip them.
        let loaded = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        let _ = added;
    }
    summary.roots = roots.len();
    let mut pinned = Vec::new();
    if let Some(ca) = &opts.ca_file {
        for c in read_certs(ca, "--ca-file")? {
            let _ = roots.add(c.clone());
            pinned.push(c);
        }
        summary.ca_files.push(ca.clone());
    }
    let dir = match (&opts.cert_dir, host) {
        (_, None) => None,
        (Some(d), Some(_)) => {
            if !d.is_dir() {
                return Err(Error::Usage(format!("--cert-dir {}: not a directory", d.display())));
            }
            Some(d.clone())
        }
        (None, Some(host)) => super::sysconf::cert_dir_for(host)?,
    };
    let mut client = None;
    if let Some(dir) = &dir {
        for crt in files_with_ext(dir, "crt")? {
            for c in read_certs(&crt, "the CA certificate")? {
                let _ = roots.add(c.clone());
                pinned.push(c);
            }
            summary.ca_files.push(crt);
        }
        // The first client certificate, by name, as containers/image takes it.
        if let Some(cert) = files_with_ext(dir, "cert")?.into_iter().next() {
            let key = cert.with_extension("key");
            if !key.is_file() {
                return Err(Error::Usage(format!(
                    "{}: the client certificate has no key beside it (expected {})",
                    cert.display(),
                    key.display()
                )));
            }
            let chain = read_certs(&cert, "the client certificate")?;
            let kb = std::fs::read(&key).map_err(Error::io("read the client key", &key))?;
            let pk = PrivateKeyDer::from_pem_slice(&kb)
                .map_err(|e| Error::Usage(format!("{}: not a PEM private key: {e}", key.display())))?;
            summary.client_cert = Some(cert.clone());
            client = Some((chain, pk));
        }
        summary.cert_dir = Some(dir.clone());
    }
    let inner = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| Error::Usage(format!("the trusted certificates cannot be used: {e}")))?,
        )
    };
    let insecure = opts.insecure && host.is_some();
    let verifier = Arc::new(Verifier { inner, pinned, provider: provider.clone(), insecure });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            Error::Usage(format!(
                "{}: the client certificate and key do not make a usable pair: {e}",
                summary.client_cert.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            ))
        })?,
        None => builder.with_no_client_auth(),
    };
    Ok((Arc::new(config), summary))
}

#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    /// Certificates the user trusts explicitly: one that is the server's own certificate
    /// is accepted as the whole chain.
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
    insecure: bool,
}

impl Verifier {
    fn pinned_leaf(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
        let now = now.as_secs() as i64;
        let v = cert.validity();
        if now < v.not_before.timestamp() {
            return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidYet));
        }
        if now > v.not_after.timestamp() {
            return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired));
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let result = match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
                    self.pinned_leaf(end_entity, server_name, now)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A ureq connector that wraps the chained transport in TLS with wharf's configuration.
#[derive(Debug)]
pub struct TlsConnector {
    pub config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|_| ureq::Error::Tls("invalid TLS server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        if let Err(e) = conn.complete_io(&mut sock) {
            let tls = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()).cloned();
            return Err(match tls {
                Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
                    ureq::Error::Tls(PLAIN_HTTP)
                }
                Some(t) => ureq::Error::Rustls(t),
                None => ureq::Error::Io(e),
            });
        }
        let stream = StreamOwned { conn, sock };
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream })))
    }
}

/// A TLS connection made by [`TlsConnector`].
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> std::result::Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// An agent whose connections go TCP (through a CONNECT proxy when the config names one)
/// and then TLS with `config`.
pub fn agent(config: ureq::config::Config, tls: Arc<ClientConfig>) -> ureq::Agent {
    use ureq::unversioned::transport::{ConnectProxyConnector, TcpConnector};
    let connector =
        ().chain(ConnectProxyConnector::default()).chain(TcpConnector::default()).chain(TlsConnector { config: tls });
    ureq::Agent::with_parts(config, connector, ureq::unversioned::resolver::DefaultResolver::default())
}
