//! `wharf serve`: the registry, read-only, over the OCI distribution API (pull side,
//! referrers, listings). Every write stays a wharf command; every write request gets
//! `405 UNSUPPORTED` naming that command (docs/SERVE.md).
//!
//! The stack is hyper 1 (HTTP/1.1) on tokio, with tokio-rustls for TLS. The reads
//! themselves ([`reads`]) are synchronous calls into the registry layer, run on the
//! blocking pool; a blob streams from its open file in bounded chunks, so a slow client
//! holds at most two chunks of memory and is cut off when it stops reading.

mod auth;
mod http;
pub mod reads;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::error::{Error, Result};
use crate::registry::Registry;

/// How to serve (the facade's `ServeOptions`, checked).
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub htpasswd: Option<PathBuf>,
    pub max_connections: usize,
    /// A file to append one line per request to; `-` is standard output.
    pub access_log: Option<PathBuf>,
    pub insecure_listen: bool,
    /// How long in-flight responses may run after SIGTERM or SIGINT.
    pub shutdown_grace: Duration,
    /// How long a client may take to send its request headers, or stall a response.
    pub request_timeout: Duration,
}

/// The report of [`Registry::serve`](crate::Registry::serve) (`wharf serve`), made once
/// the server has stopped.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ServeReport {
    /// The address it listened on (`127.0.0.1:5000`).
    pub address: String,
    /// Whether it served HTTPS.
    pub tls: bool,
    /// Connections accepted.
    pub connections: u64,
    /// Requests answered.
    pub requests: u64,
    /// Connections still open at the shutdown deadline, closed then.
    pub cut_at_deadline: u64,
}

/// Largest request head (request line and headers) a client may send.
const MAX_HEAD_BYTES: usize = 16 << 10;

/// The shared state of a running server.
pub(crate) struct State {
    reader: reads::Reader,
    auth: Option<auth::Htpasswd>,
    access_log: Option<std::sync::Mutex<Box<dyn std::io::Write + Send>>>,
    requests: AtomicU64,
    idle: Duration,
}

/// Logs an internal failure (an I/O error, a corrupt file) on standard error: the client
/// gets a generic 500 that names no server path.
pub(crate) fn log_internal(e: &Error) {
    eprintln!("wharf serve: error: {e}");
}

/// Checks the configuration, binds, calls `on_ready` with the bound address, and serves
/// until SIGTERM or SIGINT; then stops accepting and lets in-flight responses finish
/// within `shutdown_grace`.
pub fn run(registry: Registry, cfg: &Config, on_ready: &mut dyn FnMut(SocketAddr)) -> Result<ServeReport> {
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(http::tls_config(c, k)?),
        (None, None) => None,
        _ => return Err(Error::Usage("--tls-cert and --tls-key go together: pass both, or neither".into())),
    };
    if tls.is_none() && !loopback(cfg.addr.ip()) && !cfg.insecure_listen {
        return Err(Error::Usage(format!(
            "--addr {} is not a loopback address and no TLS is configured: pass --tls-cert and --tls-key, or \
             --insecure-listen to serve plain HTTP to the network anyway",
            cfg.addr
        )));
    }
    if cfg.max_connections == 0 {
        return Err(Error::Usage("--max-connections must be at least 1".into()));
    }
    let auth = cfg.htpasswd.as_deref().map(auth::Htpasswd::load).transpose()?;
    let access_log: Option<Box<dyn std::io::Write + Send>> = match &cfg.access_log {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
        Some(p) => {
            Some(Box::new(std::fs::OpenOptions::new().create(true).append(true).open(p).map_err(Error::io("open", p))?))
        }
    };
    let std_listener = std::net::TcpListener::bind(cfg.addr).map_err(|e| Error::Io {
        action: "listen on",
        path: PathBuf::from(cfg.addr.to_string()),
        source: e,
    })?;
    std_listener.set_nonblocking(true).map_err(Error::io("listen on", cfg.addr.to_string()))?;
    let addr = std_listener.local_addr().map_err(Error::io("listen on", cfg.addr.to_string()))?;
    let state = Arc::new(State {
        reader: reads::Reader::new(registry),
        auth,
        access_log: access_log.map(std::sync::Mutex::new),
        requests: AtomicU64::new(0),
        idle: cfg.request_timeout,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .map_err(|e| Error::Io { action: "start", path: PathBuf::from("the server's runtime"), source: e })?;
    let max = cfg.max_connections;
    let result = runtime.block_on(async {
        let listener = TcpListener::from_std(std_listener).map_err(Error::io("listen on", addr.to_string()))?;
        on_ready(addr);
        serve(listener, state.clone(), tls, max, cfg).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    let (connections, cut_at_deadline) = result?;
    Ok(ServeReport {
        address: addr.to_string(),
        tls: cfg.tls_cert.is_some(),
        connections,
        requests: state.requests.load(Ordering::Relaxed),
        cut_at_deadline,
    })
}

fn loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// The accept loop: one task per connection, at most `max` at once (further clients
/// wait in the listen backlog). Returns the connections served and those cut at the
/// shutdown deadline.
async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    max: usize,
    cfg: &Config,
) -> Result<(u64, u64)> {
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = 0u64;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a
                    // moment and go on; the server stays up.
                    eprintln!("wharf serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        connections += 1;
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        let stop_rx = stop_rx.clone();
        let timeout = cfg.request_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(TokioIo::new(stream), peer, state, stop_rx, timeout).await,
                Some(acceptor) => {
                    // A failed or stalled handshake has nothing to answer over.
                    if let Ok(Ok(s)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        connection(TokioIo::new(s), peer, state, stop_rx, timeout).await
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let cut = match tokio::time::timeout(cfg.shutdown_grace, slots.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => (max - slots.available_permits()) as u64,
    };
    Ok((connections, cut))
}

/// Serves one connection until the client closes it, or the server stops (then the
/// response in flight finishes and the connection closes).
async fn connection<I>(io: I, peer: SocketAddr, state: Arc<State>, mut stop: watch::Receiver<bool>, timeout: Duration)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, std::convert::Infallible>(http::handle(state, peer, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .keep_alive(true)
        .serve_connection(io, svc);
    tokio::pin!(conn);
    let stopping = async {
        let _ = stop.wait_for(|s| *s).await;
    };
    let stopped = tokio::select! {
        _ = conn.as_mut() => false,
        _ = stopping => true,
    };
    if stopped {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
