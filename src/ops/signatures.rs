//! What `sign`, `verify --key` and the import/pull gate share: key files read as
//! user-named inputs, and the check of one image against its `sha256-<hex>.sig` manifest
//! (wherever its bytes are: a repository, a staging area), on top of the pure rules of
//! [`crate::model::signature`].

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::signature::{self, KeyError, LayerProblem, PrivateKey, PublicKey};
use crate::model::{Digest, Document, MediaKind, RepoName};

/// Reads a key file the user named (a regular file, capped): its bytes.
fn read_key_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = crate::store::files::open_input_file(path)?;
    let mut bytes = Vec::new();
    f.take(signature::MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(Error::io("read", path))?;
    Ok(bytes)
}

fn key_error(path: &Path, e: KeyError) -> Error {
    Error::bad_input(path.display().to_string(), e.to_string())
}

/// Reads a public key file (PEM `PUBLIC KEY`: P-256, RSA or Ed25519).
pub fn load_public_key(path: &Path) -> Result<PublicKey> {
    PublicKey::from_pem(&read_key_file(path)?).map_err(|e| key_error(path, e))
}

/// Reads public key files, in order.
pub fn load_public_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths.iter().map(|p| load_public_key(p)).collect()
}

/// True when the key file is cosign's encrypted format (signing it needs a passphrase).
pub fn key_is_encrypted(path: &Path) -> Result<bool> {
    let bytes = read_key_file(path)?;
    Ok(String::from_utf8_lossy(&bytes).contains("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
        || String::from_utf8_lossy(&bytes).contains("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"))
}

/// Reads a private key file; `passphrase` opens cosign's encrypted format (`None`: such a
/// key is refused with what to do).
pub fn load_private_key(path: &Path, passphrase: Option<&str>) -> Result<PrivateKey> {
    let bytes = read_key_file(path)?;
    let mut pass = || match passphrase {
        Some(p) => Ok(p.to_string()),
        None => Err(KeyError::NoPassphrase(
            "an encrypted cosign key and no passphrase: set COSIGN_PASSWORD (or run on a terminal to be asked)".into(),
        )),
    };
    PrivateKey::from_pem(&bytes, &mut pass).map_err(|e| key_error(path, e))
}

/// A key as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// `ecdsa-p256`, `rsa` or `ed25519`.
    pub algorithm: &'static str,
    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
    pub fingerprint: Digest,
    /// The public key, PEM `PUBLIC KEY` (what `verify --key` takes).
    pub public_key: String,
}

impl KeyReport {
    /// The report of `k`.
    pub fn of(k: &PublicKey) -> KeyReport {
        KeyReport { algorithm: k.algorithm(), fingerprint: k.fingerprint(), public_key: k.to_pem() }
    }
}

/// One reason an image is not vouched for (verify turns each into a finding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `unsigned`, `bad_signature`, `wrong_digest` or `identity_mismatch`.
    pub kind: ProblemKind,
    /// The signature layer concerned (`layers[i]` of the `.sig` manifest), if any.
    pub layer: Option<(usize, Digest)>,
    /// What is wrong.
    pub message: String,
}

/// The kinds of [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// No `.sig` manifest, or one with no signature layer.
    Unsigned,
    /// A signature that does not verify, or a `.sig` manifest wharf cannot read.
    BadSignature,
    /// A valid signature for another manifest.
    WrongDigest,
    /// A valid signature made in another repository.
    IdentityMismatch,
}

/// The outcome of checking one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Signed: the `.sig` manifest's layer `layer` verifies with key `key`.
    Signed { layer: usize, key: usize },
    /// Not vouched for, and why (one problem per signature layer, or one for the whole).
    Rejected(Vec<Problem>),
}

/// Checks `image` (of repository `repo`) against its `.sig` manifest: `sig_manifest` is
/// its bytes (`None`: there is no `.sig` tag), `read_blob` reads a payload by digest and
/// size cap. At least one layer must carry a valid signature by one of `keys` over a
/// payload that names `image` and `repo`.
pub fn check_image(
    keys: &[PublicKey],
    repo: Option<&RepoName>,
    image: &Digest,
    sig_manifest: Option<&[u8]>,
    read_blob: &dyn Fn(&Digest, u64) -> Result<Vec<u8>>,
) -> Outcome {
    let identity = |r: &str| match repo {
        Some(repo) if !signature::identity_matches(r, repo.as_str()) => {
            Err(format!("the repository `{r}`, not `{repo}`"))
        }
        _ => Ok(()),
    };
    check_image_with(keys, &identity, image, sig_manifest, read_blob)
}

/// [`check_image`] with the identity rule given (a containers-policy.json
/// `signedIdentity`, say).
pub fn check_image_with(
    keys: &[PublicKey],
    identity: &dyn Fn(&str) -> std::result::Result<(), String>,
    image: &Digest,
    sig_manifest: Option<&[u8]>,
    read_blob: &dyn Fn(&Digest, u64) -> Result<Vec<u8>>,
) -> Outcome {
    let one = |kind, layer, message: String| Outcome::Rejected(vec![Problem { kind, layer, message }]);
    let tag = signature::sig_tag(image);
    let Some(bytes) = sig_manifest else {
        return one(ProblemKind::Unsigned, None, format!("no signature: the repository has no tag {tag}"));
    };
    let doc = match Document::parse(bytes, crate::model::media::OCI_MANIFEST) {
        Ok(d) if d.kind == MediaKind::Manifest => d,
        Ok(_) => return one(ProblemKind::BadSignature, None, format!("{tag} is not an image manifest")),
        Err(e) => return one(ProblemKind::BadSignature, None, format!("{tag} is not a manifest: {e}")),
    };
    if let Some(s) = &doc.subject
        && &s.digest != image
    {
        return one(
            ProblemKind::WrongDigest,
            None,
            format!("{tag} has the subject {}, not {image}: it belongs to another image", s.digest),
        );
    }
    let layers: Vec<(usize, &crate::model::Descriptor)> =
        doc.layers.iter().enumerate().filter(|(_, l)| l.media_type == signature::SIMPLESIGNING_MEDIA_TYPE).collect();
    if layers.is_empty() {
        return one(ProblemKind::Unsigned, None, format!("{tag} holds no signature layer"));
    }
    if layers.len() > signature::MAX_SIGNATURES {
        return one(
            ProblemKind::BadSignature,
            None,
            format!("{tag} holds {} signatures, over the limit of {}", layers.len(), signature::MAX_SIGNATURES),
        );
    }
    let mut problems = Vec::new();
    for (i, l) in layers {
        let at = Some((i, l.digest.clone()));
        let name = format!("{tag} layers[{i}] ({})", l.digest);
        if l.size > signature::MAX_PAYLOAD_BYTES {
            problems.push(Problem {
                kind: ProblemKind::BadSignature,
                layer: at,
                message: format!(
                    "{name}: the payload is {} bytes, over the limit of {}; not read",
                    l.size,
                    signature::MAX_PAYLOAD_BYTES
                ),
            });
            continue;
        }
        let payload = match read_blob(&l.digest, signature::MAX_PAYLOAD_BYTES) {
            Ok(p) if Digest::of(&p) == l.digest => p,
            Ok(_) => {
                problems.push(Problem {
                    kind: ProblemKind::BadSignature,
                    layer: at,
                    message: format!("{name}: the payload does not hash to its digest"),
                });
                continue;
            }
            Err(e) => {
                problems.push(Problem {
                    kind: ProblemKind::BadSignature,
                    layer: at,
                    message: format!("{name}: the payload cannot be read: {e}"),
                });
                continue;
            }
        };
        let sig = l.annotations.get(signature::SIGNATURE_ANNOTATION).map(String::as_str);
        match signature::check_layer_with(keys, &payload, sig, image, identity) {
            Ok(key) => return Outcome::Signed { layer: i, key },
            Err(p) => {
                let (kind, m) = match p {
                    LayerProblem::BadSignature(m) => (ProblemKind::BadSignature, m),
                    LayerProblem::WrongDigest(m) => (ProblemKind::WrongDigest, m),
                    LayerProblem::IdentityMismatch(m) => (ProblemKind::IdentityMismatch, m),
                };
                problems.push(Problem { kind, layer: at, message: format!("{name}: {m}") });
            }
        }
    }
    Outcome::Rejected(problems)
}

/// The gate of import, pull and sync: content must arrive with a valid signature by one
/// of `keys` (in the same archive or pull), or the whole operation is refused with
/// nothing written. `scope`, when set, limits the gate to repositories whose name it
/// matches (the standing policy's `--scope`).
#[derive(Debug, Clone, Default)]
pub struct SignatureGate {
    /// The keys any one of which must have signed each image.
    pub keys: Vec<PublicKey>,
    /// Repositories the gate applies to (`None`: all).
    pub scope: Option<Regex>,
}

impl SignatureGate {
    /// A gate over every repository with these keys.
    pub fn new(keys: Vec<PublicKey>) -> SignatureGate {
        SignatureGate { keys, scope: None }
    }

    /// Whether the gate applies to `repo`.
    pub fn applies_to(&self, repo: &RepoName) -> bool {
        self.scope.as_ref().is_none_or(|r| r.is_match(repo.as_str()))
    }

    /// The refusal for an image the gate turns away.
    pub(crate) fn refusal(&self, repo: &RepoName, image: &Digest, problems: &[Problem]) -> Error {
        let why: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        Error::refused(format!(
            "{repo}@{image} has no valid signature by the required key(s) ({}): {}; nothing was written. Bring its {} along (sign it where it was built), or drop --require-signed",
            self.keys.iter().map(|k| k.fingerprint().short()).collect::<Vec<_>>().join(", "),
            why.join("; "),
            signature::sig_tag(image)
        ))
    }
}

/// Applies `gate` to an import's or pull's plans before anything is committed: every
/// image (a planned root that is neither a referrer nor a cosign `.sig|.att|.sbom`
/// manifest) going into a repository the gate applies to must come with a plan that tags
/// its `sha256-<hex>.sig` in the same repository, carrying a valid signature by one of
/// the gate's keys. The first image without one refuses the whole operation.
pub(crate) fn gate_plans(gate: &SignatureGate, plans: &[crate::ops::import::Plan]) -> Result<()> {
    if gate.keys.is_empty() {
        return Err(Error::Usage("--require-signed needs at least one public key".into()));
    }
    for p in plans {
        if !gate.applies_to(&p.repo) || p.tags.iter().any(|t| signature::is_cosign_tag(t.as_str())) {
            continue;
        }
        let root = &p.found.root;
        let root_doc = p
            .found
            .blobs
            .get(&root.digest)
            .and_then(|b| b.read_small("a manifest").ok())
            .and_then(|b| Document::parse(&b, &root.media_type).ok());
        if root_doc.as_ref().is_some_and(|d| d.subject.is_some()) {
            continue;
        }
        let tag = signature::sig_tag(&root.digest);
        let sig_plan = plans.iter().find(|q| q.repo == p.repo && q.tags.iter().any(|t| t.as_str() == tag));
        let manifest = match sig_plan {
            Some(q) => {
                let b = q.found.blobs.get(&q.found.root.digest).ok_or_else(|| {
                    Error::refused(format!("{}:{tag}: its manifest did not arrive; nothing was written", p.repo))
                })?;
                Some(b.read_small(&format!("{}:{tag}", p.repo))?)
            }
            None => None,
        };
        let blobs = sig_plan.map(|q| &q.found.blobs);
        let read = |d: &Digest, limit: u64| -> Result<Vec<u8>> {
            let b = blobs.and_then(|m| m.get(d)).ok_or_else(|| Error::NotFound {
                what: format!("the signature payload {d}"),
                detail: "did not arrive with the signature manifest".into(),
            })?;
            if b.size > limit {
                return Err(Error::TooLarge { what: format!("the signature payload {d}"), limit });
            }
            b.read_small("a signature payload")
        };
        if let Outcome::Rejected(problems) =
            check_image(&gate.keys, Some(&p.repo), &root.digest, manifest.as_deref(), &read)
        {
            return Err(gate.refusal(&p.repo, &root.digest, &problems));
        }
    }
    Ok(())
}

/// The gate an import or pull applies: the one it was given, else the registry's standing
/// policy (`wharf config signatures --require`), else none.
pub(crate) fn effective_gate(
    reg: &crate::registry::Registry,
    given: Option<&SignatureGate>,
) -> Result<Option<SignatureGate>> {
    if let Some(g) = given {
        return Ok(Some(g.clone()));
    }
    let policy = &reg.config().signatures;
    if !policy.require {
        return Ok(None);
    }
    let file = reg.state_dir().join(crate::registry::CONFIG_FILE);
    let keys = policy
        .keys
        .iter()
        .map(|pem| {
            PublicKey::from_pem(pem.as_bytes())
                .map_err(|e| Error::corrupt(&file, format!("signatures.keys holds a key wharf cannot read: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let scope = policy
        .scope
        .as_deref()
        .map(|s| anchored(s).map_err(|e| Error::corrupt(&file, format!("signatures.scope: {e}"))))
        .transpose()?;
    Ok(Some(SignatureGate { keys, scope }))
}

/// A repository-name regex, anchored at both ends (as purge's filters are).
pub fn anchored(s: &str) -> std::result::Result<Regex, String> {
    Regex::new(&format!("^(?:{s})$")).map_err(|e| format!("`{s}` is not a regular expression: {e}"))
}

/// A containers-policy.json(5) applied to a pull (`wharf pull --policy FILE|default`).
#[derive(Debug, Clone)]
pub struct PullPolicy {
    /// The parsed policy.
    pub policy: crate::model::policy::Policy,
    /// The file it came from, for messages.
    pub file: PathBuf,
}

impl PullPolicy {
    /// Reads and parses a policy file (a user-named input, capped).
    pub fn load(path: &Path) -> Result<PullPolicy> {
        use crate::model::policy::{MAX_POLICY_BYTES, Policy};
        use std::io::Read;
        let f = crate::store::files::open_input_file(path)?;
        let mut bytes = Vec::new();
        f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes).map_err(Error::io("read", path))?;
        let policy = Policy::parse(&bytes).map_err(|e| Error::bad_input(path.display().to_string(), e))?;
        Ok(PullPolicy { policy, file: path.to_path_buf() })
    }
}

/// Applies `pp` to one pulled image (before anything is committed): every requirement
/// of the most specific matching scope must hold. `sig` is the image's `.sig` manifest
/// as it arrived with the pull.
pub(crate) fn policy_check(
    pp: &PullPolicy,
    pulled: &crate::model::policy::Pulled<'_>,
    image: &Digest,
    sig: Option<&crate::ops::import::Found>,
) -> Result<()> {
    use crate::model::policy::{KeySource, Requirement, identity_satisfies};
    let (scope, reqs) = pp.policy.requirements_for(pulled);
    let shown = format!(
        "{}/{}{}",
        pulled.host,
        pulled.repo,
        pulled.tag.map(|t| format!(":{t}")).or(pulled.digest.map(|d| format!("@{d}"))).unwrap_or_default()
    );
    let file = pp.file.display();
    for r in reqs {
        match r {
            Requirement::Accept => {}
            Requirement::Reject => {
                return Err(Error::refused(format!(
                    "{shown} is rejected by {file} (scope `{scope}`: reject); nothing was written"
                )));
            }
            Requirement::Sigstore { keys, identity } => {
                let keys = keys
                    .iter()
                    .map(|k| match k {
                        KeySource::Path(p) => load_public_key(Path::new(p)),
                        KeySource::Data(d) => PublicKey::from_pem(d)
                            .map_err(|e| Error::bad_input(format!("{file}: keyData"), e.to_string())),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let rule = *identity;
                let judge = |signed: &str| {
                    if identity_satisfies(rule, signed, pulled) {
                        Ok(())
                    } else {
                        Err(format!("`{signed}`, which {} does not accept for {shown}", rule.name()))
                    }
                };
                let manifest = match sig {
                    Some(f) => Some(
                        f.blobs
                            .get(&f.root.digest)
                            .ok_or_else(|| Error::refused(format!("{shown}: its .sig manifest did not arrive")))?
                            .read_small("a signature manifest")?,
                    ),
                    None => None,
                };
                let read = |d: &Digest, limit: u64| -> Result<Vec<u8>> {
                    let b = sig.and_then(|f| f.blobs.get(d)).ok_or_else(|| Error::NotFound {
                        what: format!("the signature payload {d}"),
                        detail: "did not arrive with the signature manifest".into(),
                    })?;
                    if b.size > limit {
                        return Err(Error::TooLarge { what: format!("the signature payload {d}"), limit });
                    }
                    b.read_small("a signature payload")
                };
                if let Outcome::Rejected(problems) = check_image_with(&keys, &judge, image, manifest.as_deref(), &read)
                {
                    let why: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
                    return Err(Error::refused(format!(
                        "{shown}@{image} does not satisfy {file} (scope `{scope}`: sigstoreSigned): {}; nothing was written",
                        why.join("; ")
                    )));
                }
            }
        }
    }
    Ok(())
}
