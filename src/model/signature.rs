//! cosign's signature format (sigstore/cosign specs/SIGNATURE_SPEC.md), pure: the
//! simple-signing payload, the `sha256-<hex>.sig` tag, public and private keys (PEM), the
//! encrypted private key cosign writes (scrypt + NaCl secretbox around PKCS#8), signing,
//! and the check of one signature layer. Every primitive comes from a maintained crate
//! (p256, rsa, ed25519-dalek, scrypt, crypto_secretbox, pem, pkcs8, spki); nothing here
//! reads a file: callers pass the bytes, and the passphrase through a callback.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// The media type of a signature layer: the simple-signing payload.
pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign signature payload.
pub const COSIGN_TYPE: &str = "cosign container image signature";
/// The largest payload wharf reads (cosign's are about 250 bytes; annotations add some).
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024;
/// The longest base64 signature wharf decodes (an RSA-8192 signature is 1,368 characters).
pub const MAX_SIGNATURE_CHARS: usize = 8 * 1024;
/// The most signature layers wharf reads from one `.sig` manifest.
pub const MAX_SIGNATURES: usize = 1024;
/// The largest key file wharf reads.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// The most memory an encrypted key's scrypt parameters may ask for (128·r·N bytes):
/// cosign's default is 32 MiB; more is refused rather than allocated.
pub const MAX_SCRYPT_BYTES: u64 = 256 * 1024 * 1024;

/// The tag cosign stores the signatures of `digest` under: `sha256-<hex>.sig`.
pub fn sig_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// True for cosign's tags (`sha256-<hex>.sig`, `.att`, `.sbom`): they are not images to
/// be signed or checked themselves.
pub fn is_cosign_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else { return false };
    match rest.split_once('.') {
        Some((hex, "sig" | "att" | "sbom")) => Digest::from_hex(hex).is_some(),
        _ => false,
    }
}

/// The digest a `sha256-<hex>.sig` tag names, if it is one.
pub fn sig_tag_subject(tag: &str) -> Option<Digest> {
    tag.strip_prefix("sha256-")?.strip_suffix(".sig").and_then(Digest::from_hex)
}

/// The simple-signing payload (containers-signature(5), with cosign's `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// What the signature vouches for.
    pub critical: Critical,
    /// Claims the signer added (`--annotation K=V`); `null` when none, as cosign writes.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// `critical`: the identity, the image and the type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    /// `identity`.
    pub identity: Identity,
    /// `image`.
    pub image: Image,
    /// `type`: [`COSIGN_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The repository the signer signed the image in.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The signed manifest's digest (`sha256:<hex>`). The spec's example spells the key
    /// `Docker-manifest-digest`; both spellings are read, one is written.
    #[serde(rename = "docker-manifest-digest", alias = "Docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl Payload {
    /// The payload cosign writes for `digest` signed in `repository`.
    pub fn new(repository: &str, digest: &Digest, annotations: &BTreeMap<String, String>) -> Payload {
        Payload {
            critical: Critical {
                identity: Identity { docker_reference: repository.to_string() },
                image: Image { docker_manifest_digest: digest.to_string() },
                kind: COSIGN_TYPE.to_string(),
            },
            optional: if annotations.is_empty() {
                None
            } else {
                Some(annotations.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect())
            },
        }
    }

    /// Compact JSON, fields in cosign's order.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("payload serialises")
    }

    /// Parses a payload: capped at [`MAX_PAYLOAD_BYTES`], typed (a missing or mistyped
    /// field, or a key given twice, is an error).
    pub fn parse(bytes: &[u8]) -> Result<Payload, String> {
        if bytes.len() as u64 > MAX_PAYLOAD_BYTES {
            return Err(format!("the payload is {} bytes, over the limit of {MAX_PAYLOAD_BYTES}", bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("the payload is not a simple-signing document: {e}"))
    }
}

/// Whether a payload's `docker-reference` names the repository `repo`: the same name, or
/// a name that ends with `/<repo>` (a registry host or namespace in front, as a pull from
/// `HOST/REPO` signs it), ignoring a tag or digest.
pub fn identity_matches(docker_reference: &str, repo: &str) -> bool {
    let name = docker_reference.split_once('@').map_or(docker_reference, |(n, _)| n);
    let name = match name.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => name,
    };
    !repo.is_empty() && (name == repo || name.ends_with(&format!("/{repo}")))
}

/// What went wrong with a key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not a key wharf reads: the message says what it is and what would do.
    Invalid(String),
    /// An encrypted key whose passphrase is wrong.
    WrongPassphrase,
    /// An encrypted key and no passphrase could be had.
    NoPassphrase(String),
}

impl std::error::Error for KeyError {}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Invalid(m) => f.write_str(m),
            KeyError::WrongPassphrase => {
                f.write_str("the passphrase does not decrypt this key (wrong COSIGN_PASSWORD, or a damaged key file)")
            }
            KeyError::NoPassphrase(m) => f.write_str(m),
        }
    }
}

fn one_pem(bytes: &[u8]) -> Result<pem::Pem, KeyError> {
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyError::Invalid(format!("larger than {MAX_KEY_FILE_BYTES} bytes: not a key file")));
    }
    let all = pem::parse_many(bytes).map_err(|e| KeyError::Invalid(format!("not a PEM file ({e})")))?;
    match all.len() {
        0 => Err(KeyError::Invalid("no PEM block (-----BEGIN ...-----): not a key file".into())),
        1 => Ok(all.into_iter().next().expect("one")),
        n => Err(KeyError::Invalid(format!("{n} PEM blocks: a key file holds exactly one key"))),
    }
}

/// A public key that verifies cosign signatures.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ECDSA over P-256 with SHA-256, ASN.1 DER signatures (cosign's default).
    P256(p256::ecdsa::VerifyingKey),
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rsa(Box<rsa::RsaPublicKey>),
    /// Ed25519 over the payload itself.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (PKIX SubjectPublicKeyInfo): P-256, RSA or Ed25519.
    pub fn from_pem(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let p = one_pem(bytes)?;
        if p.tag() != "PUBLIC KEY" {
            return Err(KeyError::Invalid(format!(
                "a PEM `{}`, not a `PUBLIC KEY`: pass the public key (cosign.pub, or `openssl pkey -pubout`)",
                p.tag()
            )));
        }
        PublicKey::from_der(p.contents())
    }

    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        use p256::pkcs8::DecodePublicKey;
        let spki = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| KeyError::Invalid(format!("not a SubjectPublicKeyInfo ({e})")))?;
        let oid = spki.algorithm.oid;
        let bad = |e: String| KeyError::Invalid(format!("a damaged public key: {e}"));
        match oid.to_string().as_str() {
            "1.2.840.10045.2.1" => {
                p256::ecdsa::VerifyingKey::from_public_key_der(der).map(PublicKey::P256).map_err(|_| {
                    KeyError::Invalid("an elliptic-curve key on a curve other than P-256: cosign keys are P-256".into())
                })
            }
            "1.2.840.113549.1.1.1" => {
                let k = rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| bad(e.to_string()))?;
                Ok(PublicKey::Rsa(Box::new(k)))
            }
            "1.3.101.112" => ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map(PublicKey::Ed25519)
                .map_err(|e| bad(e.to_string())),
            other => Err(KeyError::Invalid(format!(
                "a public key of algorithm {other}: wharf verifies ECDSA P-256, RSA and Ed25519"
            ))),
        }
    }

    /// `ecdsa-p256`, `rsa` or `ed25519`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ecdsa-p256",
            PublicKey::Rsa(_) => "rsa",
            PublicKey::Ed25519(_) => "ed25519",
        }
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_der(&self) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey;
        let der = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
        };
        der.expect("a parsed key encodes").into_vec()
    }

    /// The PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.to_der()))
    }

    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo: how reports name a key.
    pub fn fingerprint(&self) -> Digest {
        Digest::of(&self.to_der())
    }

    /// True when `signature` (raw bytes, base64-decoded) signs `payload` under this key.
    pub fn verify(&self, payload: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        match self {
            PublicKey::P256(k) => {
                // cosign writes ASN.1 DER; a high-S signature is as valid as its low-S twin.
                let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else { return false };
                let sig = sig.normalize_s().unwrap_or(sig);
                k.verify(payload, &sig).is_ok()
            }
            PublicKey::Rsa(k) => {
                let v = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new((**k).clone());
                let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else { return false };
                v.verify(payload, &sig).is_ok()
            }
            PublicKey::Ed25519(k) => {
                let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else { return false };
                k.verify_strict(payload, &sig).is_ok()
            }
        }
    }
}

/// A private key that makes cosign signatures.
pub enum PrivateKey {
    /// ECDSA P-256 (SHA-256, DER signatures).
    P256(p256::ecdsa::SigningKey),
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
    /// Ed25519.
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public().algorithm())
    }
}

/// The JSON inside cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` PEM (go-securesystemslib's
/// `encrypted` format).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Opens cosign's encrypted key: scrypt(passphrase, salt, N, r, p) → a 32-byte key, then
/// NaCl secretbox (XSalsa20-Poly1305) → PKCS#8 DER.
pub fn decrypt_cosign_key(json: &[u8], passphrase: &[u8]) -> Result<Vec<u8>, KeyError> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let bad = |m: String| KeyError::Invalid(format!("an encrypted cosign key that wharf cannot read: {m}"));
    let env: Envelope = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    if env.kdf.name != "scrypt" {
        return Err(bad(format!("key derivation `{}` (cosign uses scrypt)", env.kdf.name)));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(bad(format!("cipher `{}` (cosign uses nacl/secretbox)", env.cipher.name)));
    }
    let KdfParams { n, r, p } = env.kdf.params;
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || p > 16 {
        return Err(bad(format!("scrypt parameters N={n} r={r} p={p} are not valid")));
    }
    if 128u64.saturating_mul(r as u64).saturating_mul(n) > MAX_SCRYPT_BYTES {
        return Err(bad(format!("scrypt parameters N={n} r={r} ask for more than {} MiB", MAX_SCRYPT_BYTES >> 20)));
    }
    let salt = B64.decode(&env.kdf.salt).map_err(|e| bad(format!("salt: {e}")))?;
    let nonce = B64.decode(&env.cipher.nonce).map_err(|e| bad(format!("nonce: {e}")))?;
    let ciphertext = B64.decode(&env.ciphertext).map_err(|e| bad(format!("ciphertext: {e}")))?;
    if nonce.len() != 24 {
        return Err(bad(format!("the nonce is {} bytes, not 24", nonce.len())));
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32).map_err(|e| bad(e.to_string()))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase, &salt, &params, &mut key).map_err(|e| bad(e.to_string()))?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| KeyError::WrongPassphrase)
}

impl PrivateKey {
    /// Reads a private key: a PKCS#8 `PRIVATE KEY` (as `openssl genpkey` writes it), a
    /// SEC1 `EC PRIVATE KEY`, or cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` /
    /// `ENCRYPTED COSIGN PRIVATE KEY`, for which `passphrase` is called (once).
    pub fn from_pem(
        bytes: &[u8],
        passphrase: &mut dyn FnMut() -> Result<String, KeyError>,
    ) -> Result<PrivateKey, KeyError> {
        let p = one_pem(bytes)?;
        match p.tag() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8(p.contents()),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(p.contents())
                .map(|k| PrivateKey::P256(k.into()))
                .map_err(|_| KeyError::Invalid("an EC private key that is not on P-256".into())),
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
                let pass = passphrase()?;
                let der = decrypt_cosign_key(p.contents(), pass.as_bytes())?;
                PrivateKey::from_pkcs8(&der)
            }
            "PUBLIC KEY" => Err(KeyError::Invalid(
                "a public key: signing needs the private key (cosign.key, or a PKCS#8 `PRIVATE KEY`)".into(),
            )),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Invalid(
                "a PKCS#8 key encrypted by openssl: decrypt it (`openssl pkey -in KEY -out PLAIN`) or use cosign's encrypted format".into(),
            )),
            other => Err(KeyError::Invalid(format!(
                "a PEM `{other}`: wharf signs with a PKCS#8 `PRIVATE KEY` or cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`"
            ))),
        }
    }

    /// Reads a DER PKCS#8 PrivateKeyInfo of a P-256, RSA or Ed25519 key.
    pub fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, KeyError> {
        use p256::pkcs8::DecodePrivateKey;
        let info = p256::pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|e| KeyError::Invalid(format!("not a PKCS#8 private key ({e})")))?;
        let bad = |e: String| KeyError::Invalid(format!("a damaged private key: {e}"));
        match info.algorithm.oid.to_string().as_str() {
            "1.2.840.10045.2.1" => p256::ecdsa::SigningKey::from_pkcs8_der(der)
                .map(PrivateKey::P256)
                .map_err(|_| KeyError::Invalid("an elliptic-curve key on a curve other than P-256".into())),
            "1.2.840.113549.1.1.1" => {
                let k = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| bad(e.to_string()))?;
                Ok(PrivateKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(k))))
            }
            "1.3.101.112" => ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map(|k| PrivateKey::Ed25519(Box::new(k)))
                .map_err(|e| bad(e.to_string())),
            other => Err(KeyError::Invalid(format!(
                "a private key of algorithm {other}: wharf signs with ECDSA P-256, RSA and Ed25519"
            ))),
        }
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::Rsa(k) => {
                let pk: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                PublicKey::Rsa(Box::new(pk.to_public_key()))
            }
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// Signs `payload` (deterministically: RFC 6979 for ECDSA, PKCS#1 v1.5, Ed25519);
    /// the raw signature bytes (DER for ECDSA).
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::{SignatureEncoding, Signer};
        match self {
            PrivateKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(payload);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::Rsa(k) => k.sign(payload).to_vec(),
            PrivateKey::Ed25519(k) => k.sign(payload).to_bytes().to_vec(),
        }
    }
}

/// Why one signature layer does not vouch for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerProblem {
    /// The signature is missing, not base64, or not by any of the keys; or the signed
    /// payload is not a cosign simple-signing document.
    BadSignature(String),
    /// A valid signature over a payload that names another manifest.
    WrongDigest(String),
    /// A valid signature for this manifest made in another repository.
    IdentityMismatch(String),
}

/// Checks one signature layer: its base64 `signature` (the annotation, if any) over
/// `payload` by one of `keys`, then the payload names `image` and `repo` (`None`: a plain
/// layout, which has no repository name to compare). Returns the index of the key that
/// signed. (The library checks through [`check_layer_with`]; this form is the tests'.)
#[cfg(test)]
pub fn check_layer(
    keys: &[PublicKey],
    payload: &[u8],
    signature: Option<&str>,
    image: &Digest,
    repo: Option<&str>,
) -> Result<usize, LayerProblem> {
    let identity = |r: &str| match repo {
        Some(repo) if !identity_matches(r, repo) => Err(format!("the repository `{r}`, not `{repo}`")),
        _ => Ok(()),
    };
    check_layer_with(keys, payload, signature, image, &identity)
}

/// [`check_layer`] with the identity rule given: `identity` judges the payload's
/// `docker-reference` (`Err` says what it names instead).
pub fn check_layer_with(
    keys: &[PublicKey],
    payload: &[u8],
    signature: Option<&str>,
    image: &Digest,
    identity: &dyn Fn(&str) -> Result<(), String>,
) -> Result<usize, LayerProblem> {
    let bad = LayerProblem::BadSignature;
    let sig_b64 = signature.ok_or_else(|| bad(format!("no `{SIGNATURE_ANNOTATION}` annotation")))?;
    if sig_b64.len() > MAX_SIGNATURE_CHARS {
        return Err(bad(format!(
            "the signature is {} characters, over the limit of {MAX_SIGNATURE_CHARS}",
            sig_b64.len()
        )));
    }
    let sig = B64.decode(sig_b64.trim()).map_err(|e| bad(format!("the signature is not base64 ({e})")))?;
    let key = keys
        .iter()
        .position(|k| k.verify(payload, &sig))
        .ok_or_else(|| bad("the signature does not verify with any of the given keys".to_string()))?;
    let p = Payload::parse(payload).map_err(bad)?;
    if p.critical.kind != COSIGN_TYPE {
        return Err(bad(format!("the payload's critical.type is `{}`, not `{COSIGN_TYPE}`", p.critical.kind)));
    }
    let named = &p.critical.image.docker_manifest_digest;
    if Digest::parse(named).ok().as_ref() != Some(image) {
        return Err(LayerProblem::WrongDigest(format!("the signed payload names {named}, not {image}")));
    }
    identity(&p.critical.identity.docker_reference)
        .map_err(|m| LayerProblem::IdentityMismatch(format!("the signed payload names {m}")))?;
    Ok(key)
}

/// The config of a signature manifest, as cosign (go-containerregistry) writes it: an
/// empty image whose diff_ids are the payloads' digests, one per layer.
pub fn signature_config(payloads: &[Digest]) -> Vec<u8> {
    let zero = "0001-01-01T00:00:00Z";
    let v = serde_json::json!({
        "architecture": "",
        "created": zero,
        "history": payloads.iter().map(|_| serde_json::json!({"created": zero})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": payloads.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "config": {},
    });
    serde_json::to_vec(&v).expect("config serialises")
}

/// Base64 (standard, padded) of a signature, as the annotation holds it.
pub fn encode_signature(sig: &[u8]) -> String {
    B64.encode(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let d = Digest::of(b"x");
        assert_eq!(sig_tag(&d), format!("sha256-{}.sig", d.hex()));
        assert!(is_cosign_tag(&sig_tag(&d)));
        assert!(is_cosign_tag(&format!("sha256-{}.att", d.hex())));
        assert!(!is_cosign_tag(&format!("sha256-{}", d.hex())));
        assert!(!is_cosign_tag("sha256-abc.sig"));
        assert_eq!(sig_tag_subject(&sig_tag(&d)), Some(d));
    }

    #[test]
    fn payload_bytes_are_cosigns() {
        let d = Digest::of(b"x");
        let p = Payload::new("team/app", &d, &BTreeMap::new());
        let s = String::from_utf8(p.to_bytes()).unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"team/app"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        assert_eq!(Payload::parse(s.as_bytes()).unwrap(), p);
        let upper = s.replace("docker-manifest-digest", "Docker-manifest-digest");
        assert_eq!(Payload::parse(upper.as_bytes()).unwrap(), p);
        let twice = s.replace(r#""type":"#, &format!(r#""image":{{"docker-manifest-digest":"{d}"}},"type":"#));
        assert!(Payload::parse(twice.as_bytes()).is_err(), "a key given twice is refused");
        assert!(Payload::parse(&vec![b' '; MAX_PAYLOAD_BYTES as usize + 1]).is_err());
    }

    #[test]
    fn identity_rule() {
        assert!(identity_matches("team/app", "team/app"));
        assert!(identity_matches("127.0.0.1:5000/team/app", "team/app"));
        assert!(identity_matches("127.0.0.1:5000/team/app:1.0", "team/app"));
        assert!(identity_matches("host/team/app@sha256:00", "team/app"));
        assert!(!identity_matches("team/other", "team/app"));
        assert!(!identity_matches("team/myapp", "app"));
        assert!(!identity_matches("", "app"));
    }

    #[test]
    fn sign_and_check_each_algorithm() {
        use p256::pkcs8::EncodePrivateKey;
        let d = Digest::of(b"image");
        let payload = Payload::new("app", &d, &BTreeMap::new()).to_bytes();
        let p256_der = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap().to_pkcs8_der().unwrap();
        let ed_der = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).to_pkcs8_der().unwrap();
        for der in [p256_der.as_bytes(), ed_der.as_bytes()] {
            let k = PrivateKey::from_pkcs8(der).unwrap();
            let sig = encode_signature(&k.sign(&payload));
            let pk = PublicKey::from_pem(k.public().to_pem().as_bytes()).unwrap();
            assert_eq!(check_layer(std::slice::from_ref(&pk), &payload, Some(&sig), &d, Some("app")), Ok(0));
            let other = Digest::of(b"other");
            assert!(matches!(
                check_layer(std::slice::from_ref(&pk), &payload, Some(&sig), &other, Some("app")),
                Err(LayerProblem::WrongDigest(_))
            ));
            assert!(matches!(
                check_layer(std::slice::from_ref(&pk), &payload, Some(&sig), &d, Some("else")),
                Err(LayerProblem::IdentityMismatch(_))
            ));
            assert!(matches!(
                check_layer(std::slice::from_ref(&pk), &payload, Some("AAAA"), &d, Some("app")),
                Err(LayerProblem::BadSignature(_))
            ));
            assert!(matches!(
                check_layer(&[pk], &payload, Some("%%"), &d, Some("app")),
                Err(LayerProblem::BadSignature(_))
            ));
        }
    }

    #[test]
    fn key_files_that_are_not_keys() {
        let mut never = || -> Result<String, KeyError> { panic!("no passphrase needed") };
        assert!(PublicKey::from_pem(b"hello").is_err());
        assert!(PublicKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
        assert!(
            PrivateKey::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", &mut never)
                .is_err()
        );
    }
}
