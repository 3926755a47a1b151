//! The sync file: skopeo's `--src yaml` format as is (top-level keys are registries, each
//! with `images`, `images-by-tag-regex`, `images-by-semver`, `credentials`, `tls-verify`,
//! `cert-dir`), plus wharf's additions under the top-level key `wharf:` (`platforms`,
//! `repo-prefix`, `latest`, `charts`, `files`). docs/SYNC.md describes the format.
//!
//! Parsed with `serde-saphyr` (maintained, pure Rust, panic-free, with budgets on depth,
//! aliases and events) straight into the typed structs below: an unknown key is an error
//! that names the key and its line; a file larger than [`MAX_SYNC_FILE`] is refused
//! before it is parsed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::error::{Error, Result};
use crate::model::{Platform, RepoName};

/// Largest sync file read.
pub const MAX_SYNC_FILE: u64 = 4 << 20;

/// What `wharf sync` keeps in step: images per source registry, Helm charts and files.
/// Parsed from the YAML file ([`SyncSpec::parse`]) or built in code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncSpec {
    /// The source registries, in the order of the file.
    pub registries: Vec<RegistrySpec>,
    /// Platforms kept of every multi-platform image; empty keeps all.
    pub platforms: Vec<Platform>,
    /// A repository path put in front of every local name (`mirror` stores `REPO` as
    /// `mirror/REPO`).
    pub repo_prefix: Option<RepoName>,
    /// Helm charts.
    pub charts: Vec<ChartSpec>,
    /// Files, stored as `wharf add` stores them.
    pub files: Vec<FileEntry>,
}

/// One source registry (a top-level key of skopeo's format).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistrySpec {
    /// `HOST[:PORT]`, as skopeo writes it (`docker.io`, `registry.example.com:5000`).
    pub host: String,
    /// Its repositories and what of each is kept.
    pub images: Vec<ImageSpec>,
    /// `credentials:` (user name and password) for this registry.
    pub credentials: Option<(String, String)>,
    /// `tls-verify:`; `false` skips certificate verification.
    pub tls_verify: Option<bool>,
    /// `cert-dir:`: a certs.d-style directory: `*.crt` CAs, a `*.cert` + `*.key` client
    /// certificate (as `--cert-dir`).
    pub cert_dir: Option<PathBuf>,
}

/// One repository of a source registry and the tags kept of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    /// The repository path on the registry (`library/nginx`, `busybox`).
    pub repo: String,
    /// Which tags.
    pub select: TagSelector,
    /// Keep only the N highest SemVer tags of what `select` selects (`wharf: latest:`).
    pub latest: Option<usize>,
}

/// Which tags of a repository are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum TagSelector {
    /// Every tag (`images: {REPO: []}`).
    All,
    /// These tags and digests (`images: {REPO: [TAG, sha256:..]}`).
    Refs(Vec<String>),
    /// Tags matching this regular expression (`images-by-tag-regex`).
    TagRegex(String),
    /// Tags that are SemVer versions within this constraint (`images-by-semver`).
    Semver(String),
}

/// A Helm chart source and the versions kept of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    /// Where the chart comes from.
    pub source: ChartSource,
    /// These versions; with `semver` also empty, every version.
    pub versions: Vec<String>,
    /// Versions within this SemVer constraint.
    pub semver: Option<String>,
    /// Also keep the images the chart lists in its `artifacthub.io/images` annotation.
    pub with_images: bool,
}

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartSource {
    /// A classic Helm repository (`index.yaml` at `url`), and the chart's name in it.
    Repo {
        /// The repository's base URL (http or https).
        url: String,
        /// The chart's name.
        name: String,
    },
    /// An OCI registry: `oci://HOST/PATH/NAME`.
    Oci(String),
}

/// A file kept in the registry as `wharf add REF FILE` stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Where the file comes from.
    pub source: FileSource,
    /// Its expected SHA-256 (64 hex digits): a mismatch fails this entry.
    pub sha256: Option<String>,
    /// The `REPO:TAG` it is stored under.
    pub reference: String,
}

/// Where a file comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum FileSource {
    /// An http or https URL.
    Url(String),
    /// A local file (relative paths are relative to the sync file's directory).
    Path(PathBuf),
}

// ---- the YAML shapes ------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRegistry {
    #[serde(default)]
    images: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default)]
    images_by_tag_regex: BTreeMap<String, String>,
    #[serde(default)]
    images_by_semver: BTreeMap<String, String>,
    credentials: Option<RawCredentials>,
    tls_verify: Option<bool>,
    cert_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    username: String,
    password: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawWharf {
    #[serde(default)]
    platforms: Vec<String>,
    repo_prefix: Option<String>,
    #[serde(default)]
    latest: BTreeMap<String, usize>,
    #[serde(default)]
    charts: Vec<RawChart>,
    #[serde(default)]
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawChart {
    repo: Option<String>,
    name: Option<String>,
    oci: Option<String>,
    #[serde(default)]
    versions: Vec<String>,
    semver: Option<String>,
    #[serde(default)]
    with_images: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    url: Option<String>,
    path: Option<PathBuf>,
    sha256: Option<String>,
    #[serde(rename = "ref")]
    reference: String,
}

/// The whole file: registries by host, and `wharf`.
#[derive(Default)]
struct RawFileTop {
    registries: Vec<(String, RawRegistry)>,
    wharf: Option<RawWharf>,
}

impl<'de> Deserialize<'de> for RawFileTop {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFileTop;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of registries (skopeo's sync format), and optionally `wharf:`")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<RawFileTop, E> {
                Ok(RawFileTop::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawFileTop, A::Error> {
                let mut top = RawFileTop::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "wharf" {
                        if top.wharf.is_some() {
                            return Err(de::Error::duplicate_field("wharf"));
                        }
                        top.wharf = Some(map.next_value::<Option<RawWharf>>()?.unwrap_or_default());
                    } else {
                        let r = map.next_value::<Option<RawRegistry>>()?.unwrap_or_default();
                        top.registries.push((key, r));
                    }
                }
                Ok(top)
            }
        }
        d.deserialize_map(V)
    }
}

impl SyncSpec {
    /// Parses a sync file's text; `label` names it in errors, `base` is the directory
    /// that relative `path:` entries are relative to.
    pub fn parse(text: &str, label: &str, base: Option<&std::path::Path>) -> Result<SyncSpec> {
        if text.len() as u64 > MAX_SYNC_FILE {
            return Err(Error::bad_input(label, format!("a sync file larger than {MAX_SYNC_FILE} bytes; refused")));
        }
        let bad = |what: String| Error::bad_input(label, what);
        let raw: RawFileTop = serde_saphyr::from_str(text).map_err(|e| bad(render_yaml_error(&e)))?;
        let mut spec = SyncSpec::default();
        let mut known: Vec<(String, String)> = Vec::new();
        for (host, r) in raw.registries {
            check_host(&host).map_err(|w| bad(format!("the registry key `{host}`: {w}")))?;
            let mut images = Vec::new();
            for (repo, refs) in r.images {
                check_repo(&repo).map_err(|w| bad(format!("{host}: images: `{repo}`: {w}")))?;
                let refs = refs.unwrap_or_default();
                let select = if refs.is_empty() { TagSelector::All } else { TagSelector::Refs(refs) };
                if let TagSelector::Refs(v) = &select {
                    for x in v {
                        check_ref(x).map_err(|w| bad(format!("{host}: images: {repo}: `{x}`: {w}")))?;
                    }
                }
                images.push(ImageSpec { repo, select, latest: None });
            }
            for (repo, re) in r.images_by_tag_regex {
                check_repo(&repo).map_err(|w| bad(format!("{host}: images-by-tag-regex: `{repo}`: {w}")))?;
                regex::Regex::new(&re).map_err(|e| {
                    bad(format!("{host}: images-by-tag-regex: {repo}: `{re}` is not a regular expression: {e}"))
                })?;
                images.push(ImageSpec { repo, select: TagSelector::TagRegex(re), latest: None });
            }
            for (repo, c) in r.images_by_semver {
                check_repo(&repo).map_err(|w| bad(format!("{host}: images-by-semver: `{repo}`: {w}")))?;
                Constraint::parse(&c).map_err(|w| bad(format!("{host}: images-by-semver: {repo}: {w}")))?;
                images.push(ImageSpec { repo, select: TagSelector::Semver(c), latest: None });
            }
            for i in &images {
                known.push((host.clone(), i.repo.clone()));
            }
            spec.registries.push(RegistrySpec {
                host,
                images,
                credentials: r.credentials.map(|c| (c.username, c.password)),
                tls_verify: r.tls_verify,
                cert_dir: r.cert_dir,
            });
        }
        let w = raw.wharf.unwrap_or_default();
        for p in &w.platforms {
            let plat = Platform::parse(p).ok_or_else(|| {
                bad(format!("wharf: platforms: `{p}` is not OS/ARCH[/VARIANT] (e.g. linux/arm64/v8)"))
            })?;
            spec.platforms.push(plat);
        }
        if let Some(p) = &w.repo_prefix {
            spec.repo_prefix = Some(
                RepoName::parse(p)
                    .map_err(|e| bad(format!("wharf: repo-prefix: `{p}` is not a repository path: {e}")))?,
            );
        }
        for (name, n) in &w.latest {
            let mut hit = false;
            for r in &mut spec.registries {
                for i in &mut r.images {
                    if format!("{}/{}", r.host, i.repo) == *name {
                        i.latest = Some(*n);
                        hit = true;
                    }
                }
            }
            if !hit {
                return Err(bad(format!(
                    "wharf: latest: `{name}` names no repository of the file (write HOST/REPO as listed, e.g. {})",
                    known.first().map(|(h, r)| format!("{h}/{r}")).unwrap_or_else(|| "registry.example.com/app".into())
                )));
            }
        }
        for (i, c) in w.charts.into_iter().enumerate() {
            let at = format!("wharf: charts: entry {}", i + 1);
            let source = match (c.repo, c.name, c.oci) {
                (Some(url), Some(name), None) => {
                    check_url(&url).map_err(|w| bad(format!("{at}: repo: {w}")))?;
                    check_repo(&name).map_err(|w| bad(format!("{at}: name `{name}`: {w}")))?;
                    ChartSource::Repo { url, name }
                }
                (None, None, Some(oci)) => {
                    let rest = oci
                        .strip_prefix("oci://")
                        .ok_or_else(|| bad(format!("{at}: oci: `{oci}` must start with oci://")))?;
                    crate::remote::RemoteRef::parse(rest)
                        .ok()
                        .filter(|r| r.tag.is_none() && r.digest.is_none() && rest.contains('/'))
                        .ok_or_else(|| bad(format!("{at}: oci: `{oci}` is not oci://HOST/PATH/NAME")))?;
                    ChartSource::Oci(oci)
                }
                _ => {
                    return Err(bad(format!(
                        "{at}: give either `repo:` and `name:` (a classic Helm repository) or `oci:` (oci://HOST/PATH/NAME)"
                    )));
                }
            };
            if let Some(s) = &c.semver {
                Constraint::parse(s).map_err(|w| bad(format!("{at}: semver: {w}")))?;
            }
            spec.charts.push(ChartSpec { source, versions: c.versions, semver: c.semver, with_images: c.with_images });
        }
        for (i, f) in w.files.into_iter().enumerate() {
            let at = format!("wharf: files: entry {}", i + 1);
            let source = match (f.url, f.path) {
                (Some(u), None) => {
                    check_url(&u).map_err(|w| bad(format!("{at}: url: {w}")))?;
                    FileSource::Url(u)
                }
                (None, Some(p)) => FileSource::Path(match base {
                    Some(b) if p.is_relative() => b.join(p),
                    _ => p,
                }),
                _ => return Err(bad(format!("{at}: give either `url:` or `path:`"))),
            };
            if let Some(h) = &f.sha256
                && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            {
                return Err(bad(format!("{at}: sha256: `{h}` is not 64 lowercase hex digits")));
            }
            let r = crate::model::Reference::parse(&f.reference)
                .map_err(|e| bad(format!("{at}: ref: `{}` is not REPO:TAG: {e}", f.reference)))?;
            if r.tag.is_none() || r.digest.is_some() {
                return Err(bad(format!("{at}: ref: `{}` must be REPO:TAG", f.reference)));
            }
            spec.files.push(FileEntry { source, sha256: f.sha256, reference: f.reference });
        }
        Ok(spec)
    }

    /// Merges another file's entries into this one (several FILEs on the command line).
    pub fn merge(&mut self, other: SyncSpec) -> Result<()> {
        self.registries.extend(other.registries);
        for p in other.platforms {
            if !self.platforms.contains(&p) {
                self.platforms.push(p);
            }
        }
        match (&self.repo_prefix, other.repo_prefix) {
            (Some(a), Some(b)) if *a != b => {
                return Err(Error::Usage(format!(
                    "the sync files give two repo-prefixes (`{a}` and `{b}`); run them separately"
                )));
            }
            (None, Some(b)) => self.repo_prefix = Some(b),
            _ => {}
        }
        self.charts.extend(other.charts);
        self.files.extend(other.files);
        Ok(())
    }
}

/// serde-saphyr's message, which names the key and carries the line and column.
fn render_yaml_error(e: &serde_saphyr::Error) -> String {
    let s = e.to_string();
    let s = s.trim();
    let s = s.strip_prefix("error: ").unwrap_or(s);
    format!("not a valid sync file: {s}")
}

fn check_host(h: &str) -> std::result::Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok { Ok(()) } else { Err("not a registry HOST[:PORT]".into()) }
}

fn check_repo(r: &str) -> std::result::Result<(), String> {
    RepoName::parse(r).map(|_| ()).map_err(|e| format!("not a repository path: {e}"))
}

fn check_ref(x: &str) -> std::result::Result<(), String> {
    if x.starts_with("sha256:") {
        return crate::model::Digest::parse(x).map(|_| ()).map_err(|e| format!("not a digest: {e}"));
    }
    crate::model::Tag::parse(x).map(|_| ()).map_err(|e| format!("not a tag: {e}"))
}

fn check_url(u: &str) -> std::result::Result<(), String> {
    if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() > 4096 || u.chars().any(char::is_whitespace)
    {
        return Err(format!("`{u}` is not an http:// or https:// URL"));
    }
    Ok(())
}

// ---- SemVer constraints, as Masterminds/semver (skopeo, Helm) write them ---------------

/// A SemVer constraint as Masterminds/semver reads it: comparators joined by `,` or
/// spaces (and), alternatives joined by `||` (or); `v` prefixes allowed; a bare version
/// is `=`; `~`, `^`, `x`/`*` wildcards and hyphen ranges (`1.2 - 1.4`) as there.
#[derive(Debug, Clone)]
pub struct Constraint {
    any_of: Vec<semver::VersionReq>,
}

impl Constraint {
    /// Parses a constraint; the error says what is wrong.
    pub fn parse(s: &str) -> std::result::Result<Constraint, String> {
        let mut any_of = Vec::new();
        for alt in s.split("||") {
            let alt = alt.trim();
            if alt.is_empty() {
                return Err(format!("`{s}`: an empty alternative around `||`"));
            }
            // Tokens: operators glued to their versions, commas and spaces as "and".
            let mut toks: Vec<String> = Vec::new();
            let words: Vec<&str> = alt.split([',', ' ', '\t']).filter(|w| !w.is_empty()).collect();
            let mut i = 0;
            while i < words.len() {
                let w = words[i];
                if w == "-" && !toks.is_empty() && i + 1 < words.len() {
                    // Hyphen range: A - B is >= A, <= B.
                    let lo = toks.pop().expect("checked");
                    toks.push(format!(">={lo}"));
                    toks.push(format!("<={}", strip_v(words[i + 1])));
                    i += 2;
                    continue;
                }
                if w.chars().all(|c| "<>=!~^".contains(c)) {
                    let v = words.get(i + 1).ok_or_else(|| format!("`{s}`: `{w}` has no version after it"))?;
                    toks.push(format!("{w}{}", strip_v(v)));
                    i += 2;
                    continue;
                }
                toks.push(w.to_string());
                i += 1;
            }
            let mut parts = Vec::new();
            for t in toks {
                let op_len = t.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(t.len());
                let (op, v) = t.split_at(op_len);
                let v = strip_v(v);
                if op == "!=" {
                    return Err(format!("`{s}`: `!=` is not supported; use a range or a regex instead"));
                }
                // A bare version is exact in Masterminds (caret in Cargo).
                let op = if op.is_empty() && !v.contains(['x', 'X', '*']) { "=" } else { op };
                let op = if op == "~>" { "~" } else { op };
                parts.push(format!("{op}{v}"));
            }
            let req = semver::VersionReq::parse(&parts.join(", "))
                .map_err(|e| format!("`{s}` is not a SemVer constraint (e.g. \">= 1.2.0, < 2\"): {e}"))?;
            any_of.push(req);
        }
        Ok(Constraint { any_of })
    }

    /// True when the tag (`1.2.3`, `v1.2`, `1`) is a version within the constraint.
    pub fn matches(&self, tag: &str) -> bool {
        version_of(tag).is_some_and(|v| self.any_of.iter().any(|r| r.matches(&v)))
    }
}

fn strip_v(s: &str) -> &str {
    s.strip_prefix(['v', 'V']).unwrap_or(s)
}

/// A tag as a SemVer version, as Masterminds' NewVersion reads it: optional `v`, one to
/// three numbers (missing ones are 0), then pre-release and build metadata. Helm's `_`
/// (for `+` in an OCI tag) is read as `+`.
pub fn version_of(tag: &str) -> Option<semver::Version> {
    let t = strip_v(tag).replace('_', "+");
    let end = t.find(['-', '+']).unwrap_or(t.len());
    let (core, rest) = t.split_at(end);
    let nums: Vec<&str> = core.split('.').collect();
    if nums.is_empty() || nums.len() > 3 || nums.iter().any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut full: Vec<&str> = nums.clone();
    while full.len() < 3 {
        full.push("0");
    }
    semver::Version::parse(&format!("{}{rest}", full.join("."))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The YAML example of skopeo-sync(1), as the man page prints it.
    pub const SKOPEO_EXAMPLE: &str = r#"
registry.example.com:
    images:
        busybox: []
        redis:
            - "1.0"
            - "2.0"
            - "sha256:0000000000000000000000000000000011111111111111111111111111111111"
    images-by-tag-regex:
        nginx: ^1\.13\.[12]-alpine-perl$
    credentials:
        username: john
        password: this is a secret
    tls-verify: true
    cert-dir: /home/john/certs
quay.io:
    tls-verify: false
    images:
        coreos/etcd:
            - latest
"#;

    /// The images-by-semver example of skopeo-sync(1) (skopeo 1.15 and later).
    const SKOPEO_SEMVER_EXAMPLE: &str = r#"
registry.example.com:
    images-by-semver:
        alpine: ">= 3.12.0"
"#;

    #[test]
    fn skopeo_documented_examples_parse() {
        let s = SyncSpec::parse(SKOPEO_EXAMPLE, "sync.yml", None).unwrap();
        assert_eq!(s.registries.len(), 2);
        let r = &s.registries[0];
        assert_eq!(r.host, "registry.example.com");
        assert_eq!(r.credentials, Some(("john".into(), "this is a secret".into())));
        assert_eq!(r.tls_verify, Some(true));
        assert_eq!(r.cert_dir.as_deref(), Some(std::path::Path::new("/home/john/certs")));
        let by: BTreeMap<&str, &TagSelector> = r.images.iter().map(|i| (i.repo.as_str(), &i.select)).collect();
        assert_eq!(by["busybox"], &TagSelector::All);
        assert_eq!(
            by["redis"],
            &TagSelector::Refs(vec![
                "1.0".into(),
                "2.0".into(),
                "sha256:0000000000000000000000000000000011111111111111111111111111111111".into()
            ])
        );
        assert_eq!(by["nginx"], &TagSelector::TagRegex(r"^1\.13\.[12]-alpine-perl$".into()));
        assert_eq!(s.registries[1].host, "quay.io");
        assert_eq!(s.registries[1].tls_verify, Some(false));
        assert_eq!(s.registries[1].images[0].select, TagSelector::Refs(vec!["latest".into()]));
        let s = SyncSpec::parse(SKOPEO_SEMVER_EXAMPLE, "sync.yml", None).unwrap();
        assert_eq!(s.registries[0].images[0].select, TagSelector::Semver(">= 3.12.0".into()));
    }

    #[test]
    fn wharf_block_parses() {
        let text = r#"
registry.example.com:
  images:
    library/nginx: []
wharf:
  platforms: [linux/amd64, linux/arm64]
  repo-prefix: mirror
  latest:
    registry.example.com/library/nginx: 3
  charts:
    - repo: https://charts.example.com
      name: podinfo
      versions: ["6.5.4"]
      with-images: true
    - oci: oci://registry.example.com/charts/podinfo
      semver: ">= 6.0.0"
  files:
    - url: https://example.com/install.sh
      sha256: "0000000000000000000000000000000000000000000000000000000000000000"
      ref: tools/install:1.0
    - path: ./notes.txt
      ref: tools/notes:1
"#;
        let s = SyncSpec::parse(text, "f", Some(std::path::Path::new("/base"))).unwrap();
        assert_eq!(s.platforms.len(), 2);
        assert_eq!(s.repo_prefix.as_ref().map(|r| r.as_str()), Some("mirror"));
        assert_eq!(s.registries[0].images[0].latest, Some(3));
        assert_eq!(
            s.charts[0].source,
            ChartSource::Repo { url: "https://charts.example.com".into(), name: "podinfo".into() }
        );
        assert!(s.charts[0].with_images);
        assert_eq!(s.charts[1].source, ChartSource::Oci("oci://registry.example.com/charts/podinfo".into()));
        assert_eq!(s.files[1].source, FileSource::Path("/base/./notes.txt".into()));
        assert_eq!(s.files[0].reference, "tools/install:1.0");
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let text = "registry.example.com:\n  images:\n    a: []\n  imagez:\n    b: []\n";
        let e = SyncSpec::parse(text, "f.yml", None).unwrap_err().to_string();
        assert!(e.contains("imagez") && e.contains("line 4"), "{e}");
        let text = "wharf:\n  platforms: [linux/amd64]\n  chartz: []\n";
        let e = SyncSpec::parse(text, "f.yml", None).unwrap_err().to_string();
        assert!(e.contains("chartz") && e.contains("line 3"), "{e}");
        let text = "wharf:\n  charts:\n    - oci: oci://h/c\n      version: [1]\n";
        let e = SyncSpec::parse(text, "f.yml", None).unwrap_err().to_string();
        assert!(e.contains("version") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn hostile_files_are_bounded() {
        let big = "a".repeat(MAX_SYNC_FILE as usize + 1);
        assert!(SyncSpec::parse(&big, "f", None).unwrap_err().to_string().contains("larger than"));
        // Billion laughs: aliases are budgeted by serde-saphyr.
        let mut lol = String::from("wharf:\n  files: []\nx0: &a0 {images: {r: [\"1\"]}}\n");
        for i in 1..40 {
            lol.push_str(&format!("x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
        }
        assert!(SyncSpec::parse(&lol, "f", None).is_err());
    }

    #[test]
    fn bad_values_are_refused_with_the_entry() {
        for (text, want) in [
            ("r.example:\n  images-by-tag-regex:\n    a: \"([\"\n", "regular expression"),
            ("r.example:\n  images-by-semver:\n    a: \">= one\"\n", "SemVer"),
            ("wharf:\n  platforms: [linux]\n", "OS/ARCH"),
            ("wharf:\n  files:\n    - url: ftp://x/y\n      ref: a:1\n", "http"),
            ("wharf:\n  files:\n    - path: x\n      ref: a\n", "REPO:TAG"),
            ("wharf:\n  charts:\n    - repo: https://x\n", "either"),
            ("wharf:\n  latest:\n    r.example/nope: 2\n", "names no repository"),
        ] {
            let e = SyncSpec::parse(text, "f", None).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn masterminds_constraints() {
        let c = Constraint::parse(">= 1.2.0, < 2").unwrap();
        assert!(c.matches("1.2.0") && c.matches("v1.9.9") && c.matches("1.3"));
        assert!(!c.matches("2.0.0") && !c.matches("1.1.9") && !c.matches("latest") && !c.matches("1.5.0-rc1"));
        let c = Constraint::parse(">=v1.2 <1.4 || 3.0.0").unwrap();
        assert!(c.matches("1.3.7") && c.matches("3.0.0") && !c.matches("1.4.0") && !c.matches("3.0.1"));
        let c = Constraint::parse("1.2 - 1.4.5").unwrap();
        assert!(c.matches("1.4.5") && c.matches("1.2.0") && !c.matches("1.4.6"));
        let c = Constraint::parse("~1.2").unwrap();
        assert!(c.matches("1.2.9") && !c.matches("1.3.0"));
        let c = Constraint::parse("^1.2").unwrap();
        assert!(c.matches("1.9.0") && !c.matches("2.0.0"));
        let c = Constraint::parse("1.2.x").unwrap();
        assert!(c.matches("1.2.7") && !c.matches("1.3.0"));
        assert!(Constraint::parse(">= x.y").is_err());
        assert!(Constraint::parse("").is_err());
        assert_eq!(version_of("6.5.4_build.1").unwrap().build.as_str(), "build.1");
    }
}
