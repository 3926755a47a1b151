//! The origin rule and the time limits of the network edge: the one place that decides
//! whether a request may carry the user's credentials, and how long wharf waits for a
//! registry.
//!
//! Credentials are bound to an origin: scheme + host + port (`https://reg.example:443`),
//! never to the host alone. Every URL a request goes to (the registry's own paths, a
//! redirect, an upload `Location`, a tag-list `Link`) passes [`Origin::permit`] first:
//!
//! - the registry's own origin: the request carries the `Authorization` header;
//! - another origin reached over https (a CDN, an object store): it goes without any
//!   credentials, as skopeo and docker do for blob redirects;
//! - `http://` when the registry is https: refused, even on the same host and port. wharf
//!   never downgrades a connection to cleartext.
//!
//! A Bearer token realm ([`Origin::permit_realm`]) is the one place credentials go to
//! another origin: that is the documented token flow. It must be https when the registry
//! is (a plain-HTTP realm is allowed only for a registry reached with `--plain-http`).

use std::time::Duration;

use crate::error::{Error, Result};

/// Default time to wait for a TCP connection (and TLS handshake) to a registry.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to wait for the next bytes of an answer (headers or body) once sent.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts of a request that timed out (a silent registry): at most this many, so that
/// with the defaults a silent registry fails in about 90 seconds.
pub const TIMEOUT_ATTEMPTS: u32 = 3;

/// How long wharf waits for a registry. `--timeout SECS` sets both to SECS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// Silence while waiting for an answer's headers, and between reads of its body.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts { connect: DEFAULT_CONNECT_TIMEOUT, read: DEFAULT_READ_TIMEOUT }
    }
}

impl Timeouts {
    /// Both limits at `d` (`--timeout`).
    pub fn uniform(d: Duration) -> Timeouts {
        Timeouts { connect: d, read: d }
    }

    /// Applies the limits to an agent's configuration. A write that stalls counts as
    /// silence too.
    pub fn apply(
        &self,
        b: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    ) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
        b.timeout_connect(Some(self.connect))
            .timeout_recv_response(Some(self.read))
            .timeout_per_read(Some(self.read))
            .timeout_per_write(Some(self.read))
    }

    /// What wharf was waiting for when ureq's timer `t` ran out, and for how long.
    pub fn describe(&self, t: ureq::Timeout) -> String {
        let (what, d) = match t {
            ureq::Timeout::Connect | ureq::Timeout::Resolve => ("a connection", self.connect),
            ureq::Timeout::SendRequest | ureq::Timeout::SendBody | ureq::Timeout::PerWrite => {
                ("the registry to take the request", self.read)
            }
            ureq::Timeout::RecvResponse => ("the answer's headers", self.read),
            _ => ("the next bytes of the answer", self.read),
        };
        format!("no progress for {} s while waiting for {what}", d.as_secs_f64())
    }
}

/// The scheme, host and port a URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// Lower-case host (an IPv6 address keeps its brackets).
    pub host: String,
    pub port: u16,
}

/// What a request to a URL may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carry {
    /// The registry's origin: the user's credentials (or a token) go along.
    Credentials,
    /// Another origin: nothing of the user's goes along.
    Nothing,
}

impl Origin {
    /// The origin of an absolute `http://` or `https://` URL.
    pub fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        // Userinfo in a URL a registry sent is not honoured; it still names no other host.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return None,
            };
            (format!("[{addr}]"), port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => p.parse().ok()?,
            None if https => 443,
            None => 80,
        };
        Some(Origin { https, host: host.to_ascii_lowercase(), port })
    }

    fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// Whether a request of the registry at `self` may go to `url`, and with what.
    /// `what` names the request for the error.
    pub fn permit(&self, url: &str, what: &str) -> Result<Carry> {
        let Some(target) = Origin::of(url) else {
            return Err(Error::refused(format!(
                "{what}: the registry sent the URL `{}`, which is not an http(s) URL",
                url.chars().take(200).collect::<String>()
            )));
        };
        if self.https && !target.https {
            return Err(Error::refused(format!(
                "{what}: the registry at {self} sent wharf to {target} (plain HTTP); wharf never downgrades https to http"
            )));
        }
        Ok(if &target == self { Carry::Credentials } else { Carry::Nothing })
    }

    /// Whether the user's credentials may go to the token service at `realm`. It may be
    /// on another host (the documented token flow), but never cleartext when the
    /// registry is https.
    pub fn permit_realm(&self, realm: &str) -> Result<()> {
        let Some(target) = Origin::of(realm) else {
            return Err(Error::refused(format!(
                "the registry at {self} names the token service `{}`, which is not an http(s) URL",
                realm.chars().take(200).collect::<String>()
            )));
        };
        if self.https && !target.https {
            return Err(Error::refused(format!(
                "the registry at {self} asks for the credentials at the token service {realm} over plain HTTP; wharf sends credentials in cleartext only to a registry reached with --plain-http"
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme(), self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let reg = Origin::of("https://Reg.Example/v2/").unwrap();
        assert_eq!(reg, Origin { https: true, host: "reg.example".into(), port: 443 });
        let cases: &[(&str, Option<Carry>)] = &[
            ("https://reg.example/v2/a/blobs/x", Some(Carry::Credentials)),
            ("https://reg.example:443/x", Some(Carry::Credentials)),
            ("https://REG.example/x", Some(Carry::Credentials)),
            ("https://reg.example:444/x", Some(Carry::Nothing)),
            ("https://cdn.example/x", Some(Carry::Nothing)),
            ("https://alice@cdn.example/x", Some(Carry::Nothing)),
            ("http://reg.example/x", None),
            ("http://reg.example:443/x", None),
            ("ftp://reg.example/x", None),
            ("reg.example/x", None),
        ];
        for (url, want) in cases {
            assert_eq!(reg.permit(url, "t").ok(), *want, "{url}");
        }
        let plain = Origin::of("http://127.0.0.1:5000").unwrap();
        assert_eq!(plain.permit("http://127.0.0.1:5000/v2/", "t").unwrap(), Carry::Credentials);
        assert_eq!(plain.permit("http://127.0.0.1:5001/v2/", "t").unwrap(), Carry::Nothing);
        assert_eq!(plain.permit("https://127.0.0.1:5000/v2/", "t").unwrap(), Carry::Nothing);
        assert_eq!(Origin::of("http://[::1]:80/x").unwrap().port, 80);
        assert_eq!(Origin::of("http://[::1]/x").unwrap().host, "[::1]");
        assert!(Origin::of("http://h:99999/").is_none());
    }

    #[test]
    fn a_silent_registry_fails_within_two_minutes_by_default() {
        let t = Timeouts::default();
        // Connecting succeeds, then every attempt waits out the read limit once.
        assert!(t.read * TIMEOUT_ATTEMPTS + Duration::from_secs(1) < Duration::from_secs(120));
        assert!(t.connect * TIMEOUT_ATTEMPTS + Duration::from_secs(1) < Duration::from_secs(120));
    }

    #[test]
    fn realms_are_https_on_an_https_registry() {
        let reg = Origin::of("https://reg.example").unwrap();
        assert!(reg.permit_realm("https://auth.example/token").is_ok());
        let e = reg.permit_realm("http://reg.example/token").unwrap_err().to_string();
        assert!(e.contains("plain HTTP") && e.contains("--plain-http"), "{e}");
        assert!(Origin::of("http://127.0.0.1:1").unwrap().permit_realm("http://127.0.0.1:2/t").is_ok());
    }
}
