//! Content digests.
//!
//! A [`Digest`] is valid once constructed ("parse, don't validate"). wharf stores and
//! verifies only SHA-256 content; other registered algorithms (`sha384`, `sha512`) are
//! recognised so that the error can say exactly what was found, but never accepted
//! silently.
//!
//! Grammar (OCI image-spec, descriptor.md), as accepted here:
//!
//! ```text
//! digest    ::= "sha256" ":" hex64
//! hex64     ::= [a-f0-9]{64}
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Why a string is not a digest wharf accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The text is not `sha256:` followed by 64 lowercase hex characters (the text as given).
    #[error("`{0}` is not a digest: expected `sha256:` followed by 64 lowercase hex characters")]
    Malformed(String),
    #[error(
        "`{input}` uses the digest algorithm `{algorithm}`, which wharf recognises but does not support (only sha256)"
    )]
    /// A well-formed digest of another algorithm (`sha512:…`), which wharf does not support.
    UnsupportedAlgorithm {
        /// The digest as given.
        input: String,
        /// The algorithm it names.
        algorithm: String,
    },
}

/// A SHA-256 content digest, `sha256:<64 lowercase hex>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// Builds a digest from a raw SHA-256 output.
    pub fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(bytes)
    }

    /// Parses the hex part alone (a blob file name): exactly 64 lowercase hex characters.
    pub fn from_hex(hex_str: &str) -> Option<Digest> {
        let b = hex_str.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Digest(out))
    }

    /// Parses `sha256:<hex>`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let Some((alg, hex_part)) = s.split_once(':') else {
            return Err(DigestError::Malformed(s.to_string()));
        };
        match alg {
            "sha256" => Digest::from_hex(hex_part).ok_or_else(|| DigestError::Malformed(s.to_string())),
            "sha384" | "sha512" | "blake3" => {
                Err(DigestError::UnsupportedAlgorithm { input: s.to_string(), algorithm: alg.to_string() })
            }
            _ => Err(DigestError::Malformed(s.to_string())),
        }
    }

    /// The algorithm name, always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The 64-character lowercase hex encoding.
    pub fn hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
        out
    }

    /// The first 12 hex characters, for human output.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }

    /// The 32 bytes of the SHA-256 hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The value of one lowercase hex digit (blob names and digests are lowercase only).
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest(sha256:{})", self.hex())
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

    #[test]
    fn grammar_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("canonical", "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4", true),
            ("uppercase hex", "sha256:A3ED95CAEB02FFE68CDD9FD84406680AE93D633CB16422D00E8A7C22955B46D4", false),
            ("short hex", "sha256:a3ed95", false),
            ("long hex", "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d400", false),
            ("no algorithm", "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4", false),
            ("path characters", "sha256:../../etc/passwd", false),
            ("empty", "", false),
            ("unknown algorithm", "md5:abcd", false),
            ("non-hex", "sha256:g3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4", false),
        ];
        for (name, input, ok) in cases {
            assert_eq!(Digest::parse(input).is_ok(), *ok, "case {name}: {input}");
        }
    }

    #[test]
    fn other_algorithms_are_recognised_not_accepted() {
        let err = Digest::parse("sha512:abcd").unwrap_err();
        assert!(matches!(err, DigestError::UnsupportedAlgorithm { ref algorithm, .. } if algorithm == "sha512"));
        assert!(err.to_string().contains("only sha256"));
    }

    #[test]
    fn round_trips_and_hashes() {
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(d.to_string(), format!("sha256:{HEX}"));
        assert_eq!(d.hex(), HEX);
        assert_eq!(d.short(), &HEX[..12]);
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }
}
