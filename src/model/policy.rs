//! containers-policy.json(5), the part wharf applies to a pull: the `docker` transport's
//! scopes, the global `default`, and the requirements `insecureAcceptAnything`, `reject`
//! and `sigstoreSigned` (`keyPath`, `keyPaths`, `keyData`, `keyDatas`; `signedIdentity`
//! `matchRepoDigestOrExact`, `matchRepository`, `matchExact`). What wharf cannot check
//! (`signedBy` GPG signatures, Fulcio and Rekor, other identity rules) is refused when
//! the file is read, never accepted. Pure: callers pass the bytes and read the key files.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

/// The largest policy file wharf reads.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    default: Vec<Requirement>,
    docker: BTreeMap<String, Vec<Requirement>>,
}

/// One requirement; an image must satisfy every requirement of its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `insecureAcceptAnything`.
    Accept,
    /// `reject`.
    Reject,
    /// `sigstoreSigned`: a cosign signature by one of the keys, whose identity satisfies
    /// the rule.
    Sigstore { keys: Vec<KeySource>, identity: IdentityRule },
}

/// Where a `sigstoreSigned` key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `keyPath` / `keyPaths`: a PEM file.
    Path(String),
    /// `keyData` / `keyDatas`: the PEM bytes (base64-decoded).
    Data(Vec<u8>),
}

/// `signedIdentity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRule {
    /// `matchRepoDigestOrExact`: the signed reference must be the pulled one
    /// (repository and tag); pulled by digest, the repository alone must match. The
    /// default.
    RepoDigestOrExact,
    /// `matchRepository`: the signed reference's repository must be the pulled
    /// repository.
    Repository,
    /// `matchExact`: the signed reference must be the pulled `repository:tag` (a pull by
    /// digest never matches).
    Exact,
}

impl IdentityRule {
    /// The rule's name in the policy file.
    pub fn name(self) -> &'static str {
        match self {
            IdentityRule::RepoDigestOrExact => "matchRepoDigestOrExact",
            IdentityRule::Repository => "matchRepository",
            IdentityRule::Exact => "matchExact",
        }
    }
}

/// The image a pull asks for, as the policy sees it.
#[derive(Debug, Clone)]
pub struct Pulled<'a> {
    /// `HOST[:PORT]`.
    pub host: &'a str,
    /// The repository path on that host.
    pub repo: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("{what} is not a JSON object"))
}

fn only(o: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what}: unknown field `{k}`")),
        None => Ok(()),
    }
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("{what} is not a string"))
}

fn requirements(v: &Value, what: &str) -> Result<Vec<Requirement>, String> {
    let list = v.as_array().ok_or_else(|| format!("{what} is not a list of requirements"))?;
    if list.is_empty() {
        return Err(format!("{what} is empty: a scope needs at least one requirement"));
    }
    list.iter().enumerate().map(|(i, r)| requirement(r, &format!("{what}[{i}]"))).collect()
}

fn requirement(v: &Value, what: &str) -> Result<Requirement, String> {
    let o = obj(v, what)?;
    let kind = string(o.get("type").ok_or_else(|| format!("{what} has no `type`"))?, &format!("{what}.type"))?;
    match kind {
        "insecureAcceptAnything" => {
            only(o, &["type"], what)?;
            Ok(Requirement::Accept)
        }
        "reject" => {
            only(o, &["type"], what)?;
            Ok(Requirement::Reject)
        }
        "signedBy" => Err(format!(
            "{what}: `signedBy` (GPG simple signing) is not supported: wharf checks cosign signatures (`sigstoreSigned` with keyPath or keyData)"
        )),
        "sigstoreSigned" => {
            for unsupported in [
                "fulcio",
                "pki",
                "rekorPublicKeyPath",
                "rekorPublicKeyPaths",
                "rekorPublicKeyData",
                "rekorPublicKeyDatas",
            ] {
                if o.contains_key(unsupported) {
                    return Err(format!(
                        "{what}: `{unsupported}` (keyless signatures, Fulcio and Rekor) is not supported: wharf checks key-based cosign signatures offline"
                    ));
                }
            }
            only(o, &["type", "keyPath", "keyPaths", "keyData", "keyDatas", "signedIdentity"], what)?;
            let mut keys = Vec::new();
            let b64 = |s: &str, w: &str| {
                base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("{w} is not base64: {e}"))
            };
            let list = |v: &Value, w: &str| -> Result<Vec<String>, String> {
                let a = v.as_array().ok_or_else(|| format!("{w} is not a list"))?;
                a.iter().map(|x| string(x, w).map(str::to_string)).collect()
            };
            if let Some(p) = o.get("keyPath") {
                keys.push(KeySource::Path(string(p, &format!("{what}.keyPath"))?.to_string()));
            }
            if let Some(p) = o.get("keyPaths") {
                keys.extend(list(p, &format!("{what}.keyPaths"))?.into_iter().map(KeySource::Path));
            }
            if let Some(d) = o.get("keyData") {
                let w = format!("{what}.keyData");
                keys.push(KeySource::Data(b64(string(d, &w)?, &w)?));
            }
            if let Some(d) = o.get("keyDatas") {
                let w = format!("{what}.keyDatas");
                for s in list(d, &w)? {
                    keys.push(KeySource::Data(b64(&s, &w)?));
                }
            }
            let given = ["keyPath", "keyPaths", "keyData", "keyDatas"].iter().filter(|k| o.contains_key(**k)).count();
            if given != 1 || keys.is_empty() {
                return Err(format!(
                    "{what}: exactly one of keyPath, keyPaths, keyData, keyDatas must name the key(s)"
                ));
            }
            let identity = match o.get("signedIdentity") {
                None => IdentityRule::RepoDigestOrExact,
                Some(v) => {
                    let w = format!("{what}.signedIdentity");
                    let io = obj(v, &w)?;
                    only(io, &["type"], &w)?;
                    match string(io.get("type").ok_or_else(|| format!("{w} has no `type`"))?, &w)? {
                        "matchRepoDigestOrExact" => IdentityRule::RepoDigestOrExact,
                        "matchRepository" => IdentityRule::Repository,
                        "matchExact" => IdentityRule::Exact,
                        other => {
                            return Err(format!(
                                "{w}: `{other}` is not supported: wharf applies matchRepoDigestOrExact, matchRepository and matchExact"
                            ));
                        }
                    }
                }
            };
            Ok(Requirement::Sigstore { keys, identity })
        }
        other => Err(format!("{what}: unknown requirement type `{other}`")),
    }
}

impl Policy {
    /// Parses a policy file, strictly (as containers/image does): unknown fields,
    /// unknown or unsupported requirement types are errors. Only the `docker` transport's
    /// scopes are kept; other transports are checked for shape and otherwise ignored.
    pub fn parse(bytes: &[u8]) -> Result<Policy, String> {
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(format!("larger than {MAX_POLICY_BYTES} bytes"));
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let o = obj(&v, "the policy")?;
        only(o, &["default", "transports"], "the policy")?;
        let default = requirements(o.get("default").ok_or("the policy has no `default`")?, "default")?;
        let mut docker = BTreeMap::new();
        if let Some(t) = o.get("transports") {
            for (name, scopes) in obj(t, "transports")? {
                let scopes = obj(scopes, &format!("transports.{name}"))?;
                if name != "docker" {
                    continue;
                }
                for (scope, reqs) in scopes {
                    docker.insert(scope.clone(), requirements(reqs, &format!("transports.docker[\"{scope}\"]"))?);
                }
            }
        }
        Ok(Policy { default, docker })
    }

    /// The requirements for a pulled image: the most specific `docker` scope that
    /// matches (the reference with its tag or digest, the repository, each enclosing
    /// namespace, the host, `*.domain` wildcards), else the transport's `""`, else
    /// `default`. Returns the scope's name too (`default` for the global default).
    pub fn requirements_for(&self, p: &Pulled<'_>) -> (String, &[Requirement]) {
        let mut candidates = Vec::new();
        let repo = format!("{}/{}", p.host, p.repo);
        if let Some(d) = p.digest {
            candidates.push(format!("{repo}@{d}"));
        }
        if let Some(t) = p.tag {
            candidates.push(format!("{repo}:{t}"));
        }
        let mut ns = repo.as_str();
        loop {
            candidates.push(ns.to_string());
            match ns.rsplit_once('/') {
                Some((parent, _)) => ns = parent,
                None => break,
            }
        }
        let host = p.host.split(':').next().unwrap_or(p.host);
        let mut rest = host;
        while let Some((_, tail)) = rest.split_once('.') {
            candidates.push(format!("*.{tail}"));
            rest = tail;
        }
        candidates.push(String::new());
        for c in candidates {
            if let Some(r) = self.docker.get(&c) {
                return (if c.is_empty() { "transports.docker[\"\"]".to_string() } else { c }, r);
            }
        }
        ("default".to_string(), &self.default)
    }
}

/// The repository of a reference: without a `@digest` and without a `:tag` after the
/// last `/`.
fn repository_of(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(n, _)| n);
    match name.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => name,
    }
}

/// Whether a signature's `docker-reference` satisfies `rule` for the pulled image.
pub fn identity_satisfies(rule: IdentityRule, signed: &str, p: &Pulled<'_>) -> bool {
    let repo = format!("{}/{}", p.host, p.repo);
    let exact = || match p.tag {
        Some(t) if p.digest.is_none() => signed == format!("{repo}:{t}"),
        _ => false,
    };
    match rule {
        IdentityRule::Repository => repository_of(signed) == repo,
        IdentityRule::Exact => exact(),
        IdentityRule::RepoDigestOrExact => {
            if p.digest.is_some() {
                repository_of(signed) == repo
            } else {
                exact()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled<'a>(tag: Option<&'a str>, digest: Option<&'a str>) -> Pulled<'a> {
        Pulled { host: "reg.example:5000", repo: "team/app", tag, digest }
    }

    #[test]
    fn scopes_most_specific_first() {
        let p = Policy::parse(
            br#"{"default":[{"type":"reject"}],"transports":{"docker":{
                "reg.example:5000/team":[{"type":"insecureAcceptAnything"}],
                "reg.example:5000/team/app:1":[{"type":"reject"}],
                "*.example":[{"type":"insecureAcceptAnything"}]},
                "docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
        )
        .unwrap();
        assert_eq!(p.requirements_for(&pulled(Some("1"), None)).1, &[Requirement::Reject]);
        assert_eq!(p.requirements_for(&pulled(Some("2"), None)).1, &[Requirement::Accept]);
        let other = Pulled { host: "x.example", repo: "a", tag: None, digest: None };
        assert_eq!(p.requirements_for(&other).0, "*.example");
        let elsewhere = Pulled { host: "elsewhere", repo: "a", tag: None, digest: None };
        assert_eq!(p.requirements_for(&elsewhere), ("default".to_string(), &[Requirement::Reject][..]));
    }

    #[test]
    fn unsupported_is_refused_not_accepted() {
        for (doc, says) in [
            (r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}"#, "signedBy"),
            (r#"{"default":[{"type":"sigstoreSigned","fulcio":{}}]}"#, "fulcio"),
            (r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","rekorPublicKeyPath":"/r"}]}"#, "rekor"),
            (
                r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"remapIdentity"}}]}"#,
                "remapIdentity",
            ),
            (r#"{"default":[{"type":"sigstoreSigned"}]}"#, "exactly one"),
            (r#"{"default":[{"type":"insecureAcceptAnything","extra":1}]}"#, "unknown field"),
            (r#"{"default":[]}"#, "empty"),
            (r#"{"transports":{}}"#, "no `default`"),
        ] {
            let e = Policy::parse(doc.as_bytes()).unwrap_err();
            assert!(e.to_lowercase().contains(&says.to_lowercase()), "{doc}: {e}");
        }
    }

    #[test]
    fn identity_rules() {
        let by_tag = pulled(Some("1"), None);
        let by_digest = pulled(None, Some("sha256:00"));
        let repo = "reg.example:5000/team/app";
        let tagged = "reg.example:5000/team/app:1";
        use IdentityRule::*;
        assert!(identity_satisfies(Repository, repo, &by_tag));
        assert!(identity_satisfies(Repository, tagged, &by_digest));
        assert!(!identity_satisfies(Repository, "reg.example:5000/team/other", &by_tag));
        assert!(identity_satisfies(Exact, tagged, &by_tag));
        assert!(!identity_satisfies(Exact, repo, &by_tag));
        assert!(!identity_satisfies(Exact, tagged, &by_digest));
        assert!(identity_satisfies(RepoDigestOrExact, tagged, &by_tag));
        assert!(!identity_satisfies(RepoDigestOrExact, repo, &by_tag));
        assert!(identity_satisfies(RepoDigestOrExact, repo, &by_digest));
    }
}
