//! References: `REPO:TAG`, `REPO@sha256:HEX` and `REPO:TAG@sha256:HEX`.
//!
//! Names follow the distribution-spec grammar; a value of [`RepoName`] or [`Tag`] is valid
//! once constructed. A bad reference is a usage error whose message names the grammar it
//! broke.
//!
//! ```text
//! reference  ::= repo [ ":" tag ] [ "@" digest ]      (at least one of tag, digest where required)
//! repo       ::= component ( "/" component )*          (at most 255 characters)
//! component  ::= [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        ::= [A-Za-z0-9_] [A-Za-z0-9._-]{0,127}
//! ```

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Serialize, Serializer};

use super::digest::{Digest, DigestError};

pub const REPO_GRAMMAR: &str =
    "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*, at most 255 characters";
pub const TAG_GRAMMAR: &str = "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}";

static COMPONENT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$").expect("valid regex"));
static TAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$").expect("valid regex"));

/// Why a string is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The text is not a repository name (the text as given).
    #[error("`{0}` is not a repository name: expected {REPO_GRAMMAR}")]
    BadRepo(String),
    /// The text is not a tag (the text as given).
    #[error("`{0}` is not a tag: expected {TAG_GRAMMAR}")]
    BadTag(String),
    /// The digest part of a reference is not a digest.
    #[error("bad digest in reference `{reference}`: {source}")]
    BadDigest {
        /// The reference as given.
        reference: String,
        /// Why its digest is not one.
        source: DigestError,
    },
    /// The reference names neither a tag nor a digest where one is required.
    #[error("`{0}` names no tag or digest: expected REPO:TAG, REPO@sha256:HEX or REPO:TAG@sha256:HEX")]
    Incomplete(String),
    /// The reference starts with a registry host, which local references never carry.
    #[error("`{0}` includes a registry host; wharf references are local: drop the host (e.g. `library/alpine:3`)")]
    HasHost(String),
}

/// A repository name, e.g. `library/alpine`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoName(String);

impl RepoName {
    /// Parses a repository name (lowercase path components separated by `/`).
    pub fn parse(s: &str) -> Result<RepoName, ReferenceError> {
        if s.is_empty() || s.len() > 255 || !s.split('/').all(|c| COMPONENT_RE.is_match(c)) {
            return Err(ReferenceError::BadRepo(s.to_string()));
        }
        Ok(RepoName(s.to_string()))
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The path components, each guaranteed to be a plain directory name
    /// (no `.`, `..`, separators or leading dot).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RepoName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A tag, e.g. `3.19`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    /// Parses a tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    pub fn parse(s: &str) -> Result<Tag, ReferenceError> {
        if TAG_RE.is_match(s) { Ok(Tag(s.to_string())) } else { Err(ReferenceError::BadTag(s.to_string())) }
    }
    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A reference to a manifest in a repository: by tag, by digest, or both (the digest
/// then pins what the tag must point at).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The repository.
    pub repo: RepoName,
    /// The tag; `None` for a reference by digest alone (or a repository alone, where a repository is accepted).
    pub tag: Option<Tag>,
    /// The digest; `None` for a reference by tag alone. With a tag too, the digest the tag must point at.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `REPO:TAG`, `REPO@DIGEST` or `REPO:TAG@DIGEST`; a bare `REPO` is refused.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let r = Reference::parse_loose(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            return Err(ReferenceError::Incomplete(s.to_string()));
        }
        Ok(r)
    }

    /// Like [`Reference::parse`] but also accepts a bare repository name.
    pub fn parse_loose(s: &str) -> Result<Reference, ReferenceError> {
        let (name, digest) = match s.split_once('@') {
            Some((name, d)) => {
                let digest = Digest::parse(d)
                    .map_err(|source| ReferenceError::BadDigest { reference: s.to_string(), source })?;
                (name, Some(digest))
            }
            None => (s, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repo, tag) = match name[last_slash..].find(':') {
            Some(i) => {
                let colon = last_slash + i;
                (&name[..colon], Some(Tag::parse(&name[colon + 1..])?))
            }
            None => (name, None),
        };
        if repo.contains(':') || looks_like_host(repo) {
            return Err(ReferenceError::HasHost(s.to_string()));
        }
        Ok(Reference { repo: RepoName::parse(repo)?, tag, digest })
    }

    /// `REPO:TAG`.
    pub fn by_tag(repo: RepoName, tag: Tag) -> Reference {
        Reference { repo, tag: Some(tag), digest: None }
    }

    /// `REPO@DIGEST`.
    pub fn by_digest(repo: RepoName, digest: Digest) -> Reference {
        Reference { repo, tag: None, digest: Some(digest) }
    }
}

fn looks_like_host(repo: &str) -> bool {
    match repo.split_once('/') {
        Some((first, _)) => first == "localhost" || first.contains(':'),
        None => false,
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repo)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A reference as producers write it (`docker.io/library/alpine:3`,
/// `localhost:5000/team/app:1`, `alpine`), split into an optional registry host and the
/// rest. Used by import to name repositories; see DESIGN.md §5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignName {
    pub host: Option<String>,
    pub repo: RepoName,
    pub tag: Option<Tag>,
    pub digest: Option<Digest>,
}

impl ForeignName {
    /// Parses a producer's image name. The first component is a host when it contains a
    /// `.` or `:` or is `localhost` (the docker convention).
    pub fn parse(s: &str) -> Result<ForeignName, ReferenceError> {
        let (host, rest) = match s.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                if !is_host(first) {
                    return Err(ReferenceError::BadRepo(s.to_string()));
                }
                (Some(first.to_string()), rest)
            }
            _ => (None, s),
        };
        let r = Reference::parse_loose(rest)?;
        Ok(ForeignName { host, repo: r.repo, tag: r.tag, digest: r.digest })
    }

    /// The local repository name: the host dropped, or with `scoped` kept as the first
    /// component with `:` replaced by `-` (`localhost:5000/app` → `localhost-5000/app`).
    pub fn local_repo(&self, scoped: bool) -> Result<RepoName, ReferenceError> {
        match (&self.host, scoped) {
            (Some(h), true) => RepoName::parse(&format!("{}/{}", h.to_ascii_lowercase().replace(':', "-"), self.repo)),
            _ => Ok(self.repo.clone()),
        }
    }
}

/// `"team/app".parse::<RepoName>()`, the same as [`RepoName::parse`].
impl std::str::FromStr for RepoName {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<RepoName, ReferenceError> {
        RepoName::parse(s)
    }
}

/// `"1.4".parse::<Tag>()`, the same as [`Tag::parse`].
impl std::str::FromStr for Tag {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Tag, ReferenceError> {
        Tag::parse(s)
    }
}

/// `"team/app:1.4".parse::<Reference>()`, the same as [`Reference::parse`] (a bare
/// repository name is refused; use [`Reference::parse_loose`] for lock targets).
impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

/// A registry host as image names carry it: dot-separated labels of letters, digits and
/// inner `-`, with an optional numeric `:port` (`registry.example.com:5000`,
/// `localhost`). `..`, `.` or an empty label is not a host.
fn is_host(s: &str) -> bool {
    let (name, port) = match s.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    name.split('.').all(label_ok) && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_name_host_table() {
        // Regression (issue 8, E23): `../x:1` read `..` as a host and imported as `x:1`.
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("../x:1", None),
            ("./x:1", None),
            (".../x:1", None),
            ("a..b/x:1", None),
            ("host:/x:1", None),
            ("-h.io/x:1", None),
            ("registry.example.com:5000/team/app:1", Some(("registry.example.com:5000", "team/app"))),
            ("localhost/app:1", Some(("localhost", "app"))),
            ("library/alpine:3", Some(("", "library/alpine"))),
        ];
        for (input, want) in cases {
            let got = ForeignName::parse(input).ok();
            let got = got.as_ref().map(|f| (f.host.as_deref().unwrap_or(""), f.repo.to_string()));
            let got = got.as_ref().map(|(h, r)| (*h, r.as_str()));
            assert_eq!(got, *want, "{input}");
        }
    }

    const D: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

    #[test]
    fn repo_grammar_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("single component", "alpine", true),
            ("nested", "library/alpine", true),
            ("deeply nested", "a/b/c/d", true),
            ("separators", "my.app_x__y--z", true),
            ("uppercase", "Alpine", false),
            ("leading separator", "-alpine", false),
            ("trailing separator", "alpine-", false),
            ("double dot", "a..b", false),
            ("dot dot component", "library/../etc", false),
            ("leading dot", ".wharf", false),
            ("empty component", "library//alpine", false),
            ("trailing slash", "library/", false),
            ("absolute", "/etc", false),
            ("triple underscore", "a___b", false),
            ("empty", "", false),
        ];
        for (name, input, ok) in cases {
            assert_eq!(RepoName::parse(input).is_ok(), *ok, "case {name}: {input}");
        }
        assert!(RepoName::parse(&"a".repeat(256)).is_err(), "too long");
    }

    #[test]
    fn tag_grammar_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("plain", "latest", true),
            ("dotted", "3.19.1", true),
            ("underscore start", "_x", true),
            ("mixed case", "V1-rc_2", true),
            ("leading dot", ".hidden", false),
            ("leading dash", "-x", false),
            ("slash", "a/b", false),
            ("colon", "a:b", false),
            ("empty", "", false),
        ];
        for (name, input, ok) in cases {
            assert_eq!(Tag::parse(input).is_ok(), *ok, "case {name}: {input}");
        }
        assert!(Tag::parse(&"a".repeat(128)).is_ok(), "128 chars");
        assert!(Tag::parse(&"a".repeat(129)).is_err(), "129 chars");
    }

    #[test]
    fn reference_table() {
        let r = Reference::parse("library/alpine:3.19").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.tag.as_ref().map(Tag::as_str), r.digest.is_none()),
            ("library/alpine", Some("3.19"), true)
        );
        let r = Reference::parse(&format!("app@{D}")).unwrap();
        assert_eq!((r.repo.as_str(), r.tag.is_none(), r.digest.unwrap().to_string()), ("app", true, D.to_string()));
        let r = Reference::parse(&format!("team/app:1@{D}")).unwrap();
        assert_eq!(r.to_string(), format!("team/app:1@{D}"));

        let bad: &[(&str, &str)] = &[
            ("bare repo", "alpine"),
            ("bad tag", "alpine:-x"),
            ("bad digest", "alpine@sha256:xyz"),
            ("sha512", "alpine@sha512:abcd"),
            ("host with port", "localhost:5000/app:1"),
            ("localhost", "localhost/app:1"),
            ("uppercase", "Alpine:1"),
            ("empty tag", "alpine:"),
            ("traversal", "../x:1"),
        ];
        for (name, input) in bad {
            assert!(Reference::parse(input).is_err(), "case {name}: {input}");
        }
        assert!(matches!(Reference::parse("alpine"), Err(ReferenceError::Incomplete(_))));
        assert!(Reference::parse_loose("alpine").is_ok());
        let e = Reference::parse("alpine:-x").unwrap_err().to_string();
        assert!(e.contains(TAG_GRAMMAR), "{e}");
    }

    #[test]
    fn foreign_names() {
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>);
        let cases: &[Case] = &[
            ("docker.io/library/alpine:3", Some("docker.io"), "library/alpine", Some("3")),
            ("localhost:5000/team/app:1", Some("localhost:5000"), "team/app", Some("1")),
            ("alpine", None, "alpine", None),
            ("bazel/v1/tarball:test_image_1", None, "bazel/v1/tarball", Some("test_image_1")),
        ];
        for (input, host, repo, tag) in cases {
            let f = ForeignName::parse(input).unwrap();
            assert_eq!(f.host.as_deref(), *host, "{input}");
            assert_eq!(f.repo.as_str(), *repo, "{input}");
            assert_eq!(f.tag.as_ref().map(Tag::as_str), *tag, "{input}");
        }
        let f = ForeignName::parse("localhost:5000/team/app:1").unwrap();
        assert_eq!(f.local_repo(true).unwrap().as_str(), "localhost-5000/team/app");
        assert_eq!(f.local_repo(false).unwrap().as_str(), "team/app");
    }
}
