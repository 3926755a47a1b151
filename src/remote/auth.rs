//! Credentials for a registry host, found as podman and docker find them, and the
//! `WWW-Authenticate` challenges a registry answers with.
//!
//! Lookup order when the user gives none (containers-auth.json(5)): `$REGISTRY_AUTH_FILE`,
//! else `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/$UID/auth.json`;
//! then `~/.config/containers/auth.json`, `~/.docker/config.json`. In each file a `credHelpers` entry for the host wins, then an
//! `auths` entry (base64 `user:password`), then the file's `credsStore`; helpers are the
//! `docker-credential-NAME` programs (`get`, host on stdin, JSON on stdout). The first file
//! that yields credentials ends the search. This module reads files and runs helpers; it
//! never sends anything over the network.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::error::{Error, Result};

/// A user name and password (or identity token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// Parses `--creds USER[:PASS]`.
    pub fn parse(s: &str) -> Credentials {
        match s.split_once(':') {
            Some((u, p)) => Credentials { username: u.to_string(), password: p.to_string() },
            None => Credentials { username: s.to_string(), password: String::new() },
        }
    }

    /// The value of a Basic `Authorization` header.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Credentials found for a host, and a description of where they were looked for (for
/// the message of a 401/403).
#[derive(Debug, Clone)]
pub struct Found {
    pub credentials: Option<Credentials>,
    pub looked: String,
}

/// The primary (read/write) credentials file, where `wharf login` writes as `podman login`
/// does: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
/// `/run/containers/$UID/auth.json` (containers-auth.json(5)).
pub fn primary_auth_file() -> (String, PathBuf) {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        return ("$REGISTRY_AUTH_FILE (in place of $XDG_RUNTIME_DIR/containers/auth.json)".to_string(), p);
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        return (
            "$XDG_RUNTIME_DIR/containers/auth.json ($REGISTRY_AUTH_FILE unset)".to_string(),
            d.join("containers").join("auth.json"),
        );
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    (
        format!("/run/containers/{uid}/auth.json ($REGISTRY_AUTH_FILE and $XDG_RUNTIME_DIR unset)"),
        super::sysconf::run(&format!("containers/{uid}/auth.json")),
    )
}

/// The files searched, in order, when no `--authfile` is given: the primary file (see
/// [`primary_auth_file`]), `$XDG_CONFIG_HOME/containers/auth.json` (usually
/// `~/.config/containers/auth.json`), `~/.docker/config.json`.
pub fn default_auth_files() -> Vec<(String, Option<PathBuf>)> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = super::sysconf::home();
    let (label, primary) = primary_auth_file();
    let config = env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
    vec![
        (label, Some(primary)),
        ("~/.config/containers/auth.json".to_string(), config.map(|c| c.join("containers").join("auth.json"))),
        ("~/.docker/config.json".to_string(), home.as_ref().map(|h| h.join(".docker").join("config.json"))),
    ]
}

/// Finds credentials for `host` (as the user typed it, `HOST[:PORT]`).
pub fn lookup(host: &str, authfile: Option<&Path>) -> Result<Found> {
    super::sysconf::check_root()?;
    let files: Vec<(String, Option<PathBuf>)> = match authfile {
        Some(p) => vec![(format!("--authfile {}", p.display()), Some(p.to_path_buf()))],
        None => default_auth_files(),
    };
    let mut looked = Vec::new();
    for (label, path) in files {
        let Some(path) = path else {
            looked.push(format!("{label} (unset)"));
            continue;
        };
        let shown = if label.contains(&path.display().to_string()) {
            label.clone()
        } else {
            format!("{label} = {}", path.display())
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if authfile.is_some() {
                    return Err(Error::Usage(format!("--authfile {}: no such file", path.display())));
                }
                looked.push(format!("{shown} (absent)"));
                continue;
            }
            Err(e) => return Err(Error::Io { action: "read the credentials file", path, source: e }),
        };
        looked.push(shown);
        let file: AuthFile = serde_json::from_slice(&bytes).map_err(|e| {
            Error::bad_input(
                path.display().to_string(),
                format!("not a credentials file (auth.json / config.json): {e}"),
            )
        })?;
        if let Some(c) = file.credentials_for(host, &path)? {
            return Ok(Found { credentials: Some(c), looked: looked.join(", ") });
        }
    }
    Ok(Found { credentials: None, looked: looked.join(", ") })
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// The host part of an `auths` key: `https://index.docker.io/v1/` → `docker.io`.
fn normalise_key(key: &str) -> String {
    let k = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    normalise_host(k)
}

fn normalise_host(h: &str) -> String {
    match h {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        other => other.to_ascii_lowercase(),
    }
}

impl AuthFile {
    fn credentials_for(&self, host: &str, path: &Path) -> Result<Option<Credentials>> {
        let want = normalise_host(host);
        if let Some((_, helper)) = self.cred_helpers.iter().find(|(k, _)| normalise_key(k) == want) {
            return run_helper(helper, host);
        }
        if let Some((key, e)) = self.auths.iter().find(|(k, _)| normalise_key(k) == want) {
            if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
                let raw = base64::engine::general_purpose::STANDARD.decode(a.trim()).map_err(|e| {
                    Error::bad_input(path.display().to_string(), format!("auths.\"{key}\".auth is not base64: {e}"))
                })?;
                let s = String::from_utf8(raw).map_err(|_| {
                    Error::bad_input(
                        path.display().to_string(),
                        format!("auths.\"{key}\".auth is not UTF-8 user:password"),
                    )
                })?;
                let Some((u, p)) = s.split_once(':') else {
                    return Err(Error::bad_input(
                        path.display().to_string(),
                        format!("auths.\"{key}\".auth does not decode to user:password"),
                    ));
                };
                return Ok(Some(Credentials { username: u.to_string(), password: p.to_string() }));
            }
            if let (Some(u), Some(p)) = (&e.username, &e.password) {
                return Ok(Some(Credentials { username: u.clone(), password: p.clone() }));
            }
            if let Some(t) = &e.identity_token {
                return Ok(Some(Credentials { username: "<token>".into(), password: t.clone() }));
            }
        }
        if let Some(store) = &self.creds_store {
            return run_helper(store, host);
        }
        Ok(None)
    }
}

#[derive(serde::Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-NAME get` with `host` on stdin. A helper that is not installed
/// or knows no credentials for the host yields none.
fn run_helper(name: &str, host: &str) -> Result<Option<Credentials>> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        return Err(Error::refused(format!("credential helper name `{name}` is not a plain program name")));
    }
    let program = format!("docker-credential-{name}");
    let child =
        Command::new(&program).arg("get").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Io { action: "run the credential helper", path: program.into(), source: e }),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let out = child.wait_with_output().map_err(Error::io("run the credential helper", &program))?;
    if !out.status.success() {
        return Ok(None);
    }
    let h: HelperOutput = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::refused(format!("{program} get printed something that is not its JSON answer: {e}")))?;
    Ok(Some(Credentials { username: h.username, password: h.secret }))
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

/// Parses `Basic realm="x"` or `Bearer realm="…",service="…",scope="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    Some(Challenge::Bearer { realm: get("realm")?, service: get("service"), scope: get("scope") })
}

/// `k="v", k2=v2` pairs; quoted values may contain commas.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(c) = chars.peek().copied() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next().is_none() || key.is_empty() {
            return out;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        out.push((key.trim().to_string(), val.trim().to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_table() {
        let cases: &[(&str, &str, Option<Challenge>)] = &[
            ("basic", r#"Basic realm="Registry Realm""#, Some(Challenge::Basic)),
            (
                "bearer with scope containing commas",
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
                Some(Challenge::Bearer {
                    realm: "https://auth.example/token".into(),
                    service: Some("registry.example".into()),
                    scope: Some("repository:a/b:pull,push".into()),
                }),
            ),
            (
                "bearer without service",
                r#"Bearer realm="http://127.0.0.1:1/t""#,
                Some(Challenge::Bearer { realm: "http://127.0.0.1:1/t".into(), service: None, scope: None }),
            ),
            ("bearer without realm", r#"Bearer service="x""#, None),
            ("unknown scheme", "Negotiate abc", None),
        ];
        for (name, header, want) in cases {
            assert_eq!(&parse_challenge(header), want, "{name}");
        }
    }

    #[test]
    fn auth_file_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        let enc = base64::engine::general_purpose::STANDARD.encode("alice:s3cr:et");
        std::fs::write(
            &p,
            format!(
                r#"{{"auths":{{"https://127.0.0.1:5000/v1/":{{"auth":"{enc}"}},"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
                base64::engine::general_purpose::STANDARD.encode("bob:pw")
            ),
        )
        .unwrap();
        let f = lookup("127.0.0.1:5000", Some(&p)).unwrap();
        assert_eq!(f.credentials, Some(Credentials { username: "alice".into(), password: "s3cr:et".into() }));
        let f = lookup("docker.io", Some(&p)).unwrap();
        assert_eq!(f.credentials.unwrap().username, "bob");
        let f = lookup("127.0.0.1:5001", Some(&p)).unwrap();
        assert!(f.credentials.is_none());
        assert!(f.looked.contains("auth.json"), "{}", f.looked);
    }

    #[test]
    fn missing_helper_yields_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"credsStore":"wharf-test-no-such-helper"}"#).unwrap();
        assert!(lookup("127.0.0.1:5000", Some(&p)).unwrap().credentials.is_none());
        std::fs::write(&p, r#"{"credHelpers":{"127.0.0.1:5000":"../evil"}}"#).unwrap();
        assert!(lookup("127.0.0.1:5000", Some(&p)).is_err());
    }
}
