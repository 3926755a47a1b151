//! The host's container configuration, read where podman and skopeo read it: per-registry
//! certificate directories (containers-certs.d(5)) and registries.conf with its drop-ins
//! (containers-registries.conf(5), containers-registries.conf.d(5)).
//!
//! `WHARF_SYSTEM_ROOT=DIR` moves every such lookup beneath DIR: `/etc/…` is read as
//! `DIR/etc/…`, `/run/…` as `DIR/run/…` and the home directory is `DIR/home`. Tests use it so
//! that nothing reads the machine's own configuration. The TLS trust store itself follows
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`. DIR must be owned by the current user and not writable
//! by its group or others ([`check_root`]), and a warning on stderr says when it is in effect.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that moves /etc, /run and the home directory beneath a root.
pub const ROOT_ENV: &str = "WHARF_SYSTEM_ROOT";

/// `$WHARF_SYSTEM_ROOT` checked once: `Ok(None)` when unset, the directory when it is safe
/// to read trust and credentials from, else why it is refused.
fn checked_root() -> &'static std::result::Result<Option<PathBuf>, String> {
    static ROOT: std::sync::OnceLock<std::result::Result<Option<PathBuf>, String>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let Some(dir) = std::env::var_os(ROOT_ENV).filter(|v| !v.is_empty()).map(PathBuf::from) else {
            return Ok(None);
        };
        validate_root(&dir)?;
        eprintln!(
            "wharf: warning: {ROOT_ENV}={} is in effect: trust (certs.d), credentials and registries.conf are read beneath it instead of /etc, /run and the home directory",
            dir.display()
        );
        Ok(Some(dir))
    })
}

/// A root is accepted only when it is a directory (not a symbolic link) owned by the
/// current user and writable by nobody else: whoever can write it decides which
/// certificates wharf trusts and which credentials it sends.
fn validate_root(dir: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| {
        format!("{ROOT_ENV}={}: {why}; unset {ROOT_ENV} (it is meant for tests) or fix the directory", dir.display())
    };
    let md = std::fs::symlink_metadata(dir).map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if !md.is_dir() {
        return Err(refuse("is not a directory (a symbolic link is not followed)".into()));
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if md.uid() != uid {
        return Err(refuse(format!("is owned by uid {}, not by the current user (uid {uid})", md.uid())));
    }
    if md.mode() & 0o022 != 0 {
        return Err(refuse(format!("is writable by its group or by others (mode {:o})", md.mode() & 0o7777)));
    }
    Ok(())
}

/// Refuses a `$WHARF_SYSTEM_ROOT` that is not owned by the current user or that its group
/// or others can write (exit 2); prints a one-line warning on stderr, once, when a root is
/// in effect. Every entry point that reads trust, credentials or registries.conf calls it.
pub fn check_root() -> Result<()> {
    checked_root().as_ref().map(|_| ()).map_err(|e| Error::Usage(e.clone()))
}

/// The root in effect. A refused root is never used (the lookups stay on the real
/// system); the entry points have already failed through [`check_root`].
fn root() -> Option<PathBuf> {
    checked_root().as_ref().ok().cloned().flatten()
}

/// `/etc/REL`, beneath `$WHARF_SYSTEM_ROOT` when set.
pub fn etc(rel: &str) -> PathBuf {
    match root() {
        Some(r) => r.join("etc").join(rel),
        None => Path::new("/etc").join(rel),
    }
}

/// `/run/REL`, beneath `$WHARF_SYSTEM_ROOT` when set.
pub fn run(rel: &str) -> PathBuf {
    match root() {
        Some(r) => r.join("run").join(rel),
        None => Path::new("/run").join(rel),
    }
}

/// The home directory: `$WHARF_SYSTEM_ROOT/home` when set, else `$HOME`.
pub fn home() -> Option<PathBuf> {
    match root() {
        Some(r) => Some(r.join("home")),
        None => dirs::home_dir(),
    }
}

/// True for a `HOST[:PORT]` that can name a directory: no separators, no `..`.
fn safe_host(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('.')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

/// The certs.d directories searched for `host`, in order: the user's, containers', docker's.
pub fn cert_dirs(host: &str) -> Vec<PathBuf> {
    if !safe_host(host) {
        return Vec::new();
    }
    let mut v = Vec::new();
    if let Some(h) = home() {
        v.push(h.join(".config/containers/certs.d").join(host));
    }
    v.push(etc("containers/certs.d").join(host));
    v.push(etc("docker/certs.d").join(host));
    v
}

/// The first certs.d directory of `host` that exists (as containers/image picks it).
pub fn cert_dir_for(host: &str) -> Result<Option<PathBuf>> {
    check_root()?;
    Ok(cert_dirs(host).into_iter().find(|d| d.is_dir()))
}

/// A mirror of a registry (`[[registry.mirror]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// `HOST[:PORT][/NAMESPACE…]`.
    pub location: String,
    pub insecure: bool,
}

/// The settings of registries.conf that apply to one image name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// The matching `prefix` (or `location`), when a `[[registry]]` table matched.
    pub prefix: Option<String>,
    /// Where the table's location points (the source to pull from instead of the prefix).
    pub location: Option<String>,
    pub insecure: bool,
    pub blocked: bool,
    pub mirrors: Vec<Mirror>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ConfFile {
    #[serde(default)]
    registry: Vec<RegTable>,
    /// Version 1: `[registries.insecure] registries = [...]`, `[registries.block]`.
    #[serde(default)]
    registries: Option<V1>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct V1 {
    #[serde(default)]
    insecure: Option<V1List>,
    #[serde(default)]
    block: Option<V1List>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct V1List {
    #[serde(default)]
    registries: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct RegTable {
    prefix: Option<String>,
    location: Option<String>,
    insecure: Option<bool>,
    blocked: Option<bool>,
    #[serde(default)]
    mirror: Vec<MirrorTable>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct MirrorTable {
    location: String,
    insecure: Option<bool>,
}

impl RegTable {
    fn key(&self) -> Option<String> {
        self.prefix.clone().or_else(|| self.location.clone())
    }
}

/// registries.conf and its drop-ins, in the order containers-registries.conf.d(5) gives:
/// `$CONTAINERS_REGISTRIES_CONF` alone when set; else ~/.config/containers/registries.conf
/// if it exists (then only the user's drop-ins), else /etc/containers/registries.conf and
/// the drop-ins of /etc/containers/registries.conf.d then ~/.config/containers/registries.conf.d.
pub fn registries_conf_files() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let user = home().map(|h| h.join(".config/containers"));
    let dropins = |dir: PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("conf") && p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut out = Vec::new();
    match user.as_ref().map(|u| u.join("registries.conf")).filter(|p| p.is_file()) {
        Some(u) => {
            out.push(u);
        }
        None => {
            let sys = etc("containers/registries.conf");
            if sys.is_file() {
                out.push(sys);
            }
            out.extend(dropins(etc("containers/registries.conf.d")));
        }
    }
    if let Some(u) = user {
        out.extend(dropins(u.join("registries.conf.d")));
    }
    out
}

/// Does `prefix` match the image name `name` (`HOST[:PORT]/REPO`)? Whole path components,
/// or a `*.domain` wildcard on the host.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or("");
        let bare = host.split(':').next().unwrap_or(host);
        return bare.ends_with(&format!(".{domain}"));
    }
    name == prefix
        || (name.starts_with(prefix) && matches!(name.as_bytes().get(prefix.len()), Some(b'/' | b':' | b'@')))
}

/// Where pull takes `host/repo` from, in order: each `[[registry.mirror]]` location, then
/// the table's `location` (the source itself when it has none), with the path below the
/// matched prefix kept, as containers/image rewrites it. Each is `(host, repo, insecure)`;
/// a mirror that does not make a repository name is left out.
pub fn pull_sources(s: &RegistrySettings, host: &str, repo: &str) -> Vec<(String, String, bool)> {
    let name = format!("{host}/{repo}");
    let rest = match &s.prefix {
        Some(p) if !p.starts_with("*.") && name.starts_with(p.as_str()) => name[p.len()..].to_string(),
        _ => format!("/{repo}"),
    };
    let map = |loc: &str| -> Option<(String, String)> {
        let full = format!("{}{rest}", loc.trim_end_matches('/'));
        let (h, r) = full.split_once('/')?;
        (!h.is_empty() && crate::model::RepoName::parse(r).is_ok()).then(|| (h.to_string(), r.to_string()))
    };
    let mut out: Vec<(String, String, bool)> =
        s.mirrors.iter().filter_map(|m| map(&m.location).map(|(h, r)| (h, r, m.insecure))).collect();
    let wildcard = s.prefix.as_deref().is_some_and(|p| p.starts_with("*."));
    let source = s
        .location
        .as_deref()
        .filter(|_| !wildcard)
        .and_then(map)
        .unwrap_or_else(|| (host.to_string(), repo.to_string()));
    out.push((source.0, source.1, s.insecure));
    out
}

/// The settings for the image `host/repo` (repo may be empty: the host alone).
pub fn registry_settings(host: &str, repo: &str) -> Result<RegistrySettings> {
    check_root()?;
    settings_from(&registries_conf_files(), host, repo)
}

fn settings_from(files: &[PathBuf], host: &str, repo: &str) -> Result<RegistrySettings> {
    let name = if repo.is_empty() { host.to_string() } else { format!("{host}/{repo}") };
    let mut tables: Vec<RegTable> = Vec::new();
    let mut v1_insecure = Vec::new();
    let mut v1_block = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(Error::io("read registries.conf", f))?;
        let conf: ConfFile = toml::from_str(&text).map_err(|e| {
            Error::bad_input(
                f.display().to_string(),
                format!("not a registries.conf (containers-registries.conf(5)): {e}"),
            )
        })?;
        for t in conf.registry {
            let Some(k) = t.key() else {
                return Err(Error::bad_input(
                    f.display().to_string(),
                    "a [[registry]] table has neither prefix nor location".to_string(),
                ));
            };
            match tables.iter_mut().find(|o| o.key().as_deref() == Some(k.as_str())) {
                Some(o) => *o = t,
                None => tables.push(t),
            }
        }
        if let Some(v1) = conf.registries {
            v1_insecure.extend(v1.insecure.map(|l| l.registries).unwrap_or_default());
            v1_block.extend(v1.block.map(|l| l.registries).unwrap_or_default());
        }
    }
    let mut s = RegistrySettings { files: files.to_vec(), ..Default::default() };
    let best = tables
        .iter()
        .filter(|t| t.key().is_some_and(|k| prefix_matches(&k, &name)))
        .max_by_key(|t| t.key().map(|k| if k.starts_with("*.") { 0 } else { k.len() }).unwrap_or(0));
    if let Some(t) = best {
        s.prefix = t.key();
        s.location = t.location.clone();
        s.insecure = t.insecure.unwrap_or(false);
        s.blocked = t.blocked.unwrap_or(false);
        s.mirrors = t
            .mirror
            .iter()
            .map(|m| Mirror { location: m.location.clone(), insecure: m.insecure.unwrap_or(false) })
            .collect();
    }
    if v1_insecure.iter().any(|h| h == host) {
        s.insecure = true;
    }
    if v1_block.iter().any(|h| h == host) {
        s.blocked = true;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_components() {
        assert!(prefix_matches("reg.example:5000", "reg.example:5000/a/b"));
        assert!(prefix_matches("reg.example/team", "reg.example/team/app"));
        assert!(!prefix_matches("reg.example/team", "reg.example/teamx/app"));
        assert!(!prefix_matches("reg.example", "reg.example.org/a"));
        assert!(prefix_matches("*.example.com", "a.b.example.com:5000/x"));
        assert!(!prefix_matches("*.example.com", "example.com/x"));
    }

    #[test]
    fn drop_ins_override_and_longest_prefix_wins() {
        let d = tempfile::tempdir().unwrap();
        let main = d.path().join("registries.conf");
        let drop = d.path().join("50-drop.conf");
        std::fs::write(
            &main,
            r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "reg.example:5000"
location = "reg.example:5000"
blocked = true
[[registry]]
location = "reg.example:5000/team"
insecure = true
[[registry.mirror]]
location = "mirror.example/team"
"#,
        )
        .unwrap();
        std::fs::write(&drop, "[[registry]]\nprefix = \"reg.example:5000\"\nlocation = \"reg.example:5000\"\n")
            .unwrap();
        let files = vec![main.clone(), drop.clone()];
        let s = settings_from(&files, "reg.example:5000", "team/app").unwrap();
        assert!(s.insecure);
        assert!(!s.blocked);
        assert_eq!(s.mirrors, vec![Mirror { location: "mirror.example/team".into(), insecure: false }]);
        let s = settings_from(&files[..1], "reg.example:5000", "other/app").unwrap();
        assert!(s.blocked, "{s:?}");
        let s = settings_from(&files, "reg.example:5000", "other/app").unwrap();
        assert!(!s.blocked, "the drop-in replaced the table of the same prefix: {s:?}");
        std::fs::write(&drop, "[[registry]\n").unwrap();
        let e = settings_from(&files, "reg.example:5000", "x").unwrap_err().to_string();
        assert!(e.contains("50-drop.conf"), "{e}");
    }

    #[test]
    fn mirrors_keep_the_path_below_the_prefix() {
        let s = RegistrySettings {
            prefix: Some("reg.example/team".into()),
            location: Some("reg.example/team".into()),
            mirrors: vec![
                Mirror { location: "mirror.example:5000/cache/team".into(), insecure: true },
                Mirror { location: "mirror.example/NotARepo".into(), insecure: false },
            ],
            ..Default::default()
        };
        assert_eq!(
            pull_sources(&s, "reg.example", "team/app"),
            vec![
                ("mirror.example:5000".to_string(), "cache/team/app".to_string(), true),
                ("reg.example".to_string(), "team/app".to_string(), false),
            ]
        );
        assert_eq!(
            pull_sources(&RegistrySettings::default(), "h:1", "a/b"),
            vec![("h:1".to_string(), "a/b".to_string(), false)]
        );
    }

    #[test]
    fn version_1_lists() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("registries.conf");
        std::fs::write(&f, "[registries.insecure]\nregistries = ['a:1']\n[registries.block]\nregistries = ['b']\n")
            .unwrap();
        assert!(settings_from(std::slice::from_ref(&f), "a:1", "x").unwrap().insecure);
        assert!(settings_from(std::slice::from_ref(&f), "b", "x").unwrap().blocked);
    }

    #[test]
    fn hosts_that_are_not_directory_names_have_no_cert_dirs() {
        assert!(cert_dirs("../etc").is_empty());
        assert!(cert_dirs("a/b").is_empty());
        assert_eq!(cert_dirs("reg.example:5000").len(), if home().is_some() { 3 } else { 2 });
    }
}
