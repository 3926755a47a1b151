//! `wharf login` and `wharf logout`: credentials checked against the registry, then kept
//! where podman keeps them (containers-auth.json(5)).
//!
//! The file is the primary auth file ([`auth::primary_auth_file`]) or `--authfile`. An
//! `auths` entry is `{"auth": base64(USER:PASSWORD)}` under the host as typed
//! (`HOST[:PORT]`), as `podman login` writes it; the rest of the file is kept as it is. A
//! credential helper the file names for the host (`credHelpers`, else `credsStore`) stores
//! the secret instead, as docker does. The file is written whole (temp file, fsync, rename)
//! with mode 0600, in a directory created with mode 0700.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::auth::{self, Credentials};
use super::client::{Client, ConnectOptions};
use crate::error::{Error, Result};

/// What [`crate::login`] did (`wharf login`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoginOutcome {
    /// The registry, `HOST[:PORT]`.
    pub registry: String,
    /// The credentials file written (or, when a helper stored the secret, the file that
    /// names the helper).
    pub file: PathBuf,
    /// The credential helper that stored the secret (`docker-credential-NAME`), if any.
    pub helper: Option<String>,
}

/// What [`crate::logout`] did (`wharf logout`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogoutOutcome {
    /// The credentials file.
    pub file: PathBuf,
    /// The `auths` keys removed (and hosts erased from a credential helper).
    pub removed: Vec<String>,
}

fn target(authfile: Option<&Path>) -> PathBuf {
    match authfile {
        Some(p) => p.to_path_buf(),
        None => auth::primary_auth_file().1,
    }
}

fn read_file(path: &Path) -> Result<Map<String, Value>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(Error::Io { action: "read the credentials file", path: path.to_path_buf(), source: e }),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::bad_input(path.display().to_string(), "not a credentials file: not a JSON object")),
        Err(e) => Err(Error::bad_input(path.display().to_string(), format!("not a credentials file: {e}"))),
    }
}

fn write_file(path: &Path, m: &Map<String, Value>) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(Error::io("create the credentials directory", dir))?;
    }
    let mut bytes =
        serde_json::to_vec_pretty(m).map_err(|e| Error::bad_input(path.display().to_string(), e.to_string()))?;
    bytes.push(b'\n');
    let mut tmp = tempfile::Builder::new()
        .prefix(".wharf-tmp-auth")
        .tempfile_in(dir)
        .map_err(Error::io("create a temporary file in", dir))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(Error::io("set the mode of", tmp.path().to_path_buf()))?;
    tmp.write_all(&bytes).map_err(Error::io("write", tmp.path().to_path_buf()))?;
    tmp.as_file().sync_all().map_err(Error::io("fsync", tmp.path().to_path_buf()))?;
    tmp.persist(path).map_err(|e| Error::Io {
        action: "replace the credentials file",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The helper the file names for `host`: its `credHelpers` entry, else `credsStore`.
fn helper_for(m: &Map<String, Value>, host: &str) -> Option<String> {
    let h = m.get("credHelpers").and_then(Value::as_object).and_then(|o| o.get(host)).and_then(Value::as_str);
    h.or_else(|| m.get("credsStore").and_then(Value::as_str)).filter(|s| !s.is_empty()).map(str::to_string)
}

fn run_helper(name: &str, verb: &str, input: &[u8]) -> Result<()> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        return Err(Error::refused(format!("credential helper name `{name}` is not a plain program name")));
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Io { action: "run the credential helper", path: program.clone().into(), source: e })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(Error::io("run the credential helper", &program))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return Err(Error::refused(format!("{program} {verb} failed: {msg}")));
    }
    Ok(())
}

/// Checks `creds` against `host` (a `GET /v2/` through the same Basic/Bearer flow as pull
/// and push), then stores them.
pub fn login(host: &str, creds: &Credentials, connect: &ConnectOptions) -> Result<LoginOutcome> {
    if host.is_empty() || host.contains('/') || host.contains("://") {
        return Err(Error::Usage(format!("login `{host}`: expected HOST[:PORT], e.g. registry.example:5000")));
    }
    let opts = ConnectOptions { creds: Some(creds.clone()), ..connect.clone() };
    Client::new(host, &opts)?.check_login()?;
    let file = target(connect.authfile.as_deref());
    let mut m = read_file(&file)?;
    if let Some(helper) = helper_for(&m, host) {
        let input = serde_json::json!({"ServerURL": host, "Username": creds.username, "Secret": creds.password});
        run_helper(&helper, "store", input.to_string().as_bytes())?;
        return Ok(LoginOutcome {
            registry: host.to_string(),
            file,
            helper: Some(format!("docker-credential-{helper}")),
        });
    }
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.username, creds.password));
    let auths = m.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    let Some(auths) = auths.as_object_mut() else {
        return Err(Error::bad_input(file.display().to_string(), "`auths` is not an object"));
    };
    auths.insert(host.to_string(), serde_json::json!({ "auth": enc }));
    write_file(&file, &m)?;
    Ok(LoginOutcome { registry: host.to_string(), file, helper: None })
}

/// Removes the credentials of `host` (or, with `all`, every `auths` entry) from the file.
/// Nothing to remove for a host is an error, as in podman.
pub fn logout(host: Option<&str>, all: bool, authfile: Option<&Path>) -> Result<LogoutOutcome> {
    super::sysconf::check_root()?;
    let file = target(authfile);
    let mut m = read_file(&file)?;
    let mut removed = Vec::new();
    if all {
        if let Some(a) = m.get_mut("auths").and_then(Value::as_object_mut) {
            removed.extend(a.keys().cloned());
            a.clear();
        }
    } else {
        let Some(host) = host else {
            return Err(Error::Usage("logout: name the registry HOST[:PORT], or pass --all".into()));
        };
        if let Some(helper) = helper_for(&m, host) {
            run_helper(&helper, "erase", host.as_bytes())?;
            removed.push(host.to_string());
        }
        if let Some(a) = m.get_mut("auths").and_then(Value::as_object_mut) {
            let keys: Vec<String> = a
                .keys()
                .filter(|k| {
                    let k = k.strip_prefix("https://").or_else(|| k.strip_prefix("http://")).unwrap_or(k);
                    k.split('/').next() == Some(host)
                })
                .cloned()
                .collect();
            for k in keys {
                a.remove(&k);
                removed.push(k);
            }
        }
        if removed.is_empty() {
            return Err(Error::NotFound {
                what: format!("credentials for {host}"),
                detail: format!("are not in {} (nothing to log out of)", file.display()),
            });
        }
    }
    if (!removed.is_empty() || all) && file.exists() {
        write_file(&file, &m)?;
    }
    Ok(LogoutOutcome { file, removed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_keeps_other_entries_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("sub/auth.json");
        let mut m = Map::new();
        m.insert(
            "auths".into(),
            serde_json::json!({"a:1": {"auth": "eDp5"}, "https://b:2/v1/": {"auth": "eDp5"}, "c": {"auth": "eDp5"}}),
        );
        m.insert("other".into(), serde_json::json!(1));
        write_file(&f, &m).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(f.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        let o = logout(Some("b:2"), false, Some(&f)).unwrap();
        assert_eq!(o.removed, vec!["https://b:2/v1/".to_string()]);
        let back = read_file(&f).unwrap();
        assert_eq!(back["other"], 1);
        assert!(back["auths"].get("a:1").is_some());
        assert!(logout(Some("b:2"), false, Some(&f)).is_err());
        let o = logout(None, true, Some(&f)).unwrap();
        assert_eq!(o.removed.len(), 2);
        assert_eq!(read_file(&f).unwrap()["auths"], serde_json::json!({}));
    }
}
