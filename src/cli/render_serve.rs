//! `wharf serve`: the options, the "listening" note, and the report printed at shutdown.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::output::{self, Human, Outcome};
use crate::error::{Error, Result};
use crate::serve::ServeReport;

/// The command line's options, as given.
pub struct Args<'a> {
    pub addr: &'a str,
    pub tls_cert: &'a Option<PathBuf>,
    pub tls_key: &'a Option<PathBuf>,
    pub htpasswd: &'a Option<PathBuf>,
    pub max_connections: usize,
    pub access_log: &'a Option<PathBuf>,
    pub insecure_listen: bool,
    pub shutdown_grace: &'a str,
}

pub fn run(root: &Path, a: Args<'_>) -> Result<Outcome> {
    let addr = a.addr.parse().map_err(|_| {
        Error::Usage(format!("--addr `{}`: expected IP:PORT, such as 127.0.0.1:5000 or [::1]:5000", a.addr))
    })?;
    let grace = super::duration_arg("--shutdown-grace", a.shutdown_grace)?
        .to_std()
        .map_err(|_| Error::Usage("--shutdown-grace must not be negative".into()))?;
    let opts = crate::ServeOptions {
        addr,
        tls_cert: a.tls_cert.clone(),
        tls_key: a.tls_key.clone(),
        htpasswd: a.htpasswd.clone(),
        max_connections: a.max_connections,
        access_log: a.access_log.clone(),
        insecure_listen: a.insecure_listen,
        shutdown_grace: grace,
        ..Default::default()
    };
    let scheme = if opts.tls_cert.is_some() { "https" } else { "http" };
    let report = crate::Registry::open(root)?.serve_with(&opts, |bound| {
        output::note(&format!("wharf serve: listening on {scheme}://{bound} (read-only; SIGTERM or Ctrl-C stops)"));
    })?;
    Outcome::ok(report)
}

impl Human for ServeReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "stopped serving {}: {} connections, {} requests{}",
            self.address,
            self.connections,
            self.requests,
            if self.cut_at_deadline > 0 {
                format!(", {} connections cut at the shutdown deadline", self.cut_at_deadline)
            } else {
                String::new()
            }
        );
    }
}
