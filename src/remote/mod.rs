//! The client side of the OCI distribution protocol: names of remote images
//! (`HOST[:PORT]/REPO[:TAG|@DIGEST]`), credentials ([`auth`]) and a blocking HTTP client of
//! one registry host ([`client`]). This layer knows nothing of the local registry's
//! repositories, tags or locks; `ops::pull` and `ops::push` join the two.

pub mod auth;
pub mod client;
pub mod login;
pub mod origin;
pub mod proxy;
pub mod sysconf;
pub mod tls;

pub use auth::Credentials;
pub use client::{Client, ConnectOptions};
pub use origin::Timeouts;

use crate::error::{Error, Result};
use crate::model::{Digest, ForeignName, Tag};

/// The registry of names without a host, as docker and podman use it.
pub const DEFAULT_HOST: &str = "docker.io";

/// A remote image: host, repository path on that host, and a tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    pub host: String,
    pub repo: String,
    pub tag: Option<Tag>,
    pub digest: Option<Digest>,
    /// The name as a producer's image name, for import's naming rules.
    pub foreign: ForeignName,
}

impl RemoteRef {
    /// Parses `HOST[:PORT]/REPO[:TAG|@DIGEST]`. No host means docker.io, with `library/`
    /// added to a one-component name.
    pub fn parse(s: &str) -> Result<RemoteRef> {
        let mut f = ForeignName::parse(s).map_err(|e| Error::Usage(format!("`{s}` is not an image name: {e}")))?;
        if f.host.is_none() {
            f.host = Some(DEFAULT_HOST.to_string());
        }
        let host = f.host.clone().expect("set above");
        if host == DEFAULT_HOST && f.repo.components().count() == 1 {
            f.repo = crate::model::RepoName::parse(&format!("library/{}", f.repo))?;
        }
        Ok(RemoteRef { host, repo: f.repo.to_string(), tag: f.tag.clone(), digest: f.digest.clone(), foreign: f })
    }

    /// The reference path component: the digest when given, else the tag, else `latest`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl std::fmt::Display for RemoteRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.repo)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A push destination: `HOST[:PORT][/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    pub prefix: Option<String>,
}

impl Destination {
    pub fn parse(s: &str) -> Result<Destination> {
        let s = s.trim_end_matches('/');
        let (host, prefix) = match s.split_once('/') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let host_ok = !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok || s.contains("://") {
            return Err(Error::Usage(format!(
                "--to `{s}`: expected HOST[:PORT][/PREFIX], e.g. registry.example:5000/mirror"
            )));
        }
        if let Some(p) = prefix {
            crate::model::RepoName::parse(p)
                .map_err(|e| Error::Usage(format!("--to `{s}`: the prefix `{p}` is not a repository path: {e}")))?;
        }
        Ok(Destination { host: host.to_string(), prefix: prefix.map(str::to_string) })
    }

    /// The remote repository for a local one.
    pub fn repo(&self, local: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{local}"),
            None => local.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_refs() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("alpine", "docker.io", "library/alpine", "latest"),
            ("alpine:3.19", "docker.io", "library/alpine", "3.19"),
            ("team/app:1", "docker.io", "team/app", "1"),
            ("127.0.0.1:5000/team/app:1", "127.0.0.1:5000", "team/app", "1"),
            ("localhost/app", "localhost", "app", "latest"),
            ("ghcr.io/o/r:v", "ghcr.io", "o/r", "v"),
        ];
        for (input, host, repo, reference) in cases {
            let r = RemoteRef::parse(input).unwrap();
            assert_eq!(
                (r.host.as_str(), r.repo.as_str(), r.reference().as_str()),
                (*host, *repo, *reference),
                "{input}"
            );
        }
        let d = Digest::of(b"x");
        let r = RemoteRef::parse(&format!("127.0.0.1:1/a@{d}")).unwrap();
        assert_eq!(r.reference(), d.to_string());
        assert!(RemoteRef::parse("127.0.0.1:1/A").is_err());
    }

    #[test]
    fn destinations() {
        let d = Destination::parse("127.0.0.1:5000/mirror/x").unwrap();
        assert_eq!(d.host, "127.0.0.1:5000");
        assert_eq!(d.repo("library/alpine"), "mirror/x/library/alpine");
        assert_eq!(Destination::parse("reg.example").unwrap().repo("a"), "a");
        assert!(Destination::parse("https://reg.example").is_err());
        assert!(Destination::parse("reg.example/Bad").is_err());
    }
}
