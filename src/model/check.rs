//! The content checks `verify` reports and `import` enforces: one code path, so import
//! never commits what its own verify would call an error (docs/VERIFY.md, "Checks shared
//! with import").
//!
//! Everything here is pure: a function of bytes (a document, a config, the first bytes of
//! a layer) and of what the parent descriptor said. Callers read the bytes and place the
//! problems in their reports: verify as findings with the chain of descriptors, import as
//! a refusal (errors) or a note (warnings).

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use serde::Serialize;

use super::descriptor::{Descriptor, Document};
use super::media::{Compression, MediaKind, OCI_ARTIFACT_MANIFEST, Wrapper, layer_compression};

/// How deep indexes may nest: index.json's entry is depth 1, a manifest under an index
/// under it depth 3. Real images use 1 to 3; wharf refuses (import) or reports (verify)
/// anything deeper than this, and never recurses on the way.
pub const MAX_DEPTH: usize = 64;

/// How bad a finding is. Errors and warnings make verify exit 1; info does not. Import
/// refuses content with an error and accepts (with a note) content with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A defect: the content is wrong or unusable (verify exits 1; import refuses it).
    Error,
    /// Suspicious but usable (verify exits 1; import accepts it with a note).
    Warning,
    /// For information only (verify's exit code is unaffected).
    Info,
}

/// What kind of problem a finding is (a stable, machine-readable name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `oci-layout` is missing, unreadable, or names another version.
    LayoutVersion,
    /// index.json is missing, unreadable or does not follow the schema.
    InvalidIndex,
    /// A descriptor points at a blob that is not in the repository.
    MissingBlob,
    /// A blob's content does not hash to its file name.
    DigestMismatch,
    /// A blob's size differs from the size a descriptor declares.
    SizeMismatch,
    /// A manifest, index or config does not parse or does not follow its schema.
    InvalidDocument,
    /// A media type disagrees with the bytes or with the document it labels.
    MediaTypeMismatch,
    /// A Docker v2 schema 1 manifest: recognised, legacy.
    LegacySchema1,
    /// An image config's diff_ids count differs from the manifest's layer count.
    DiffIdsMismatch,
    /// Two index.json entries carry the same tag.
    DuplicateTag,
    /// wharf-meta.json does not parse.
    InvalidSidecar,
    /// wharf-meta.json disagrees with index.json.
    SidecarMismatch,
    /// A file in blobs/ whose name is not a sha256 digest.
    StrayFile,
    /// A staging area left by an import whose process is gone.
    StaleStaging,
    /// A blob nothing reachable references (gc's job).
    UnreferencedBlob,
    /// A blob index.json no longer reaches that a soft-deleted item still holds
    /// (`wharf restore` brings it back; it goes at the sweep after the item expires).
    KeptByTrash,
    /// A referrer's subject is not in the repository (allowed by OCI 1.1).
    SubjectAbsent,
    /// A blob or file could not be read.
    Unreadable,
    /// Indexes nested deeper than 64 levels.
    TooDeep,
    /// A symbolic link, FIFO, socket or device inside the registry, where wharf expects
    /// a regular file or a directory (wharf never follows or opens it).
    SpecialFile,
    /// A tag (index.json entry) is a Docker v2 schema 2 manifest or manifest list: kept
    /// byte for byte, readable by wharf and registries, but not by the OCI-only tools
    /// (`model::media::OCI_ONLY_TOOLS`). Info.
    DockerMediaType,
    /// `verify --key`: an image with no cosign signature (`sha256-<hex>.sig`); info, an
    /// error with `--require-signed`.
    Unsigned,
    /// `verify --key`: a signature that does not verify with any of the keys (the message
    /// names the `.sig` layer), or a `.sig` manifest or payload wharf cannot read.
    BadSignature,
    /// `verify --key`: a valid signature whose payload (or `.sig` subject) names another
    /// manifest.
    WrongDigest,
    /// `verify --key`: a valid signature for this manifest made in another repository.
    IdentityMismatch,
}

/// One problem of one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub kind: Kind,
    pub message: String,
}

impl Problem {
    fn error(kind: Kind, message: String) -> Problem {
        Problem { severity: Severity::Error, kind, message }
    }
}

/// A manifest or index, parsed and checked.
#[derive(Debug)]
pub struct CheckedDocument {
    /// `None` when the bytes are not a manifest or index at all (then `problems` says why).
    pub doc: Option<Document>,
    pub problems: Vec<Problem>,
    /// For an image manifest (not an artifact): its config descriptor and layer count,
    /// for [`config`].
    pub image_config: Option<(Descriptor, usize)>,
}

/// Checks a manifest or index that a descriptor of media type `declared` points at: it
/// parses, follows the OCI schema of its kind (schemaVersion 2, required fields and their
/// types), and its own `mediaType` agrees with `declared` (a warning when not).
pub fn document(bytes: &[u8], declared: &str) -> CheckedDocument {
    let doc = match Document::parse(bytes, declared) {
        Ok(d) => d,
        Err(e) => {
            return CheckedDocument {
                doc: None,
                problems: vec![Problem::error(Kind::InvalidDocument, format!("not a manifest or index: {e}"))],
                image_config: None,
            };
        }
    };
    let mut problems = Vec::new();
    let artifact_manifest =
        doc.media_type.as_deref() == Some(OCI_ARTIFACT_MANIFEST) || declared == OCI_ARTIFACT_MANIFEST;
    let strict = match doc.kind {
        MediaKind::Schema1 => {
            problems.push(Problem {
                severity: Severity::Warning,
                kind: Kind::LegacySchema1,
                message: "Docker v2 schema 1 manifest: legacy, deprecated by Docker and unsupported by OCI tools; convert it (e.g. skopeo copy --format v2s2)".into(),
            });
            None
        }
        MediaKind::Index => match serde_json::from_slice::<ImageIndex>(bytes) {
            Ok(i) if i.schema_version() != 2 => {
                Some(("image index", format!("schemaVersion is {}, not 2", i.schema_version())))
            }
            Ok(_) => None,
            Err(e) => Some(("image index", e.to_string())),
        },
        _ if artifact_manifest => None,
        _ => match serde_json::from_slice::<ImageManifest>(bytes) {
            Ok(m) if m.schema_version() != 2 => {
                Some(("image manifest", format!("schemaVersion is {}, not 2", m.schema_version())))
            }
            Ok(_) => None,
            Err(e) => Some(("image manifest", e.to_string())),
        },
    };
    if let Some((what, e)) = strict {
        problems.push(Problem::error(Kind::InvalidDocument, format!("does not follow the {what} schema: {e}")));
    }
    if let Some(inner) = &doc.media_type
        && !declared.is_empty()
        && inner != declared
    {
        problems.push(Problem {
            severity: Severity::Warning,
            kind: Kind::MediaTypeMismatch,
            message: format!("descriptor says {declared} but the document says {inner}"),
        });
    }
    let is_image = doc.kind == MediaKind::Manifest
        && !artifact_manifest
        && doc.artifact_type.is_none()
        && doc.layers.iter().all(|l| l.kind() == MediaKind::Layer)
        && doc.config.as_ref().is_some_and(|c| c.kind() == MediaKind::Config);
    let image_config = if is_image { doc.config.clone().map(|c| (c, doc.layers.len())) } else { None };
    CheckedDocument { doc: Some(doc), problems, image_config }
}

/// Checks an image configuration: it follows the OCI schema (`os`, `architecture`,
/// `rootfs` present and well typed, no duplicate keys) and lists one diff_id per layer
/// of the manifest (`layers`).
pub fn config(bytes: &[u8], layers: usize) -> Vec<Problem> {
    match serde_json::from_slice::<ImageConfiguration>(bytes) {
        Err(e) => {
            vec![Problem::error(Kind::InvalidDocument, format!("does not follow the image configuration schema: {e}"))]
        }
        Ok(c) => {
            let n = c.rootfs().diff_ids().len();
            if n == layers {
                Vec::new()
            } else {
                vec![Problem::error(
                    Kind::DiffIdsMismatch,
                    format!("the config lists {n} diff_ids but the manifest has {layers} layers"),
                )]
            }
        }
    }
}

/// How many first bytes of a layer [`layer`] needs (the `ustar` magic sits at 257).
pub const LAYER_HEAD: usize = 512;

/// What a blob's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
    Tar,
    Zeros,
    Unknown,
}

impl Magic {
    pub fn of(head: &[u8]) -> Magic {
        match Wrapper::sniff(head) {
            Wrapper::Gzip => Magic::Gzip,
            Wrapper::Zstd => Magic::Zstd,
            Wrapper::Xz => Magic::Xz,
            Wrapper::Bzip2 => Magic::Bzip2,
            Wrapper::None if head.len() >= 262 && &head[257..262] == b"ustar" => Magic::Tar,
            Wrapper::None if head.iter().all(|b| *b == 0) => Magic::Zeros,
            Wrapper::None => Magic::Unknown,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Magic::Gzip => "gzip data",
            Magic::Zstd => "zstd data",
            Magic::Xz => "xz data",
            Magic::Bzip2 => "bzip2 data",
            Magic::Tar => "a plain tar archive",
            Magic::Zeros => "zero bytes (an empty tar archive)",
            Magic::Unknown => "neither a tar archive nor compressed data",
        }
    }
}

/// Whether the layer magic check ([`layer`]) applies to the layers of `doc`: only to an
/// image's. An artifact's layers (files pushed by oras, whose default media type for a
/// file is `application/vnd.oci.image.layer.v1.tar` whatever its bytes; `wharf add`;
/// Helm charts; referrers such as SBOMs and signatures) are opaque content, checked by
/// digest and size like any blob but not judged by their bytes.
pub fn layer_applies(doc: &Document) -> bool {
    crate::model::kind::ArtifactKind::of(doc) == crate::model::kind::ArtifactKind::Image
}

/// Checks a layer's first bytes ([`LAYER_HEAD`] of them, or the whole blob when shorter)
/// against its media type. An error: a runtime trusts the media type to pick the
/// decompressor, so a mislabelled layer fails to extract.
pub fn layer(media_type: &str, head: &[u8]) -> Option<Problem> {
    let magic = Magic::of(head);
    let ok = match layer_compression(media_type)? {
        Compression::Gzip => magic == Magic::Gzip,
        Compression::Zstd => magic == Magic::Zstd,
        Compression::None => matches!(magic, Magic::Tar | Magic::Zeros),
    };
    (!ok).then(|| {
        Problem::error(
            Kind::MediaTypeMismatch,
            format!("layer is labelled {media_type} but its bytes are {}", magic.describe()),
        )
    })
}

/// The problem of a document at `depth` (index.json's entries are depth 1), if it is
/// deeper than [`MAX_DEPTH`].
pub fn depth(depth: usize) -> Option<Problem> {
    (depth > MAX_DEPTH).then(|| {
        Problem::error(
            Kind::TooDeep,
            format!("nested deeper than {MAX_DEPTH} levels of indexes; wharf does not follow it further"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::media;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn magic_table() {
        let mut tar = vec![0u8; 512];
        tar[0] = b'a';
        tar[257..262].copy_from_slice(b"ustar");
        let cases: &[(&str, &[u8], Magic)] = &[
            ("gzip", &[0x1f, 0x8b, 8, 0], Magic::Gzip),
            ("zstd", &[0x28, 0xb5, 0x2f, 0xfd, 1], Magic::Zstd),
            ("xz", &[0xfd, b'7', b'z', b'X', b'Z', 0], Magic::Xz),
            ("bzip2", b"BZh91AY", Magic::Bzip2),
            ("tar", &tar, Magic::Tar),
            ("empty tar", &[0u8; 1024], Magic::Zeros),
            ("empty file", &[], Magic::Zeros),
            ("text", b"hello world", Magic::Unknown),
        ];
        for (name, head, want) in cases {
            assert_eq!(Magic::of(head), *want, "{name}");
        }
    }

    #[test]
    fn layer_label_table() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        let gz: &[u8] = &[0x1f, 0x8b, 8, 0];
        let zst: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
        let cases: &[(&str, &str, &[u8], bool)] = &[
            ("gzip label on plain tar", media::OCI_LAYER_GZIP, &tar, false),
            ("zstd label on gzip data", media::OCI_LAYER_ZSTD, gz, false),
            ("tar label on junk", media::OCI_LAYER_TAR, b"junk junk junk", false),
            ("tar label on gzip", media::OCI_LAYER_TAR, gz, false),
            ("tar label on tar", media::OCI_LAYER_TAR, &tar, true),
            ("tar label on an empty tar", media::OCI_LAYER_TAR, &[0u8; 1024], true),
            ("docker gzip on gzip", media::DOCKER_LAYER_GZIP, gz, true),
            ("zstd on zstd", media::OCI_LAYER_ZSTD, zst, true),
            ("not a layer type", "application/example", b"anything", true),
        ];
        for (name, mt, head, good) in cases {
            let p = layer(mt, head);
            assert_eq!(p.is_none(), *good, "{name}: {p:?}");
            if let Some(p) = p {
                assert_eq!((p.severity, p.kind), (Severity::Error, Kind::MediaTypeMismatch), "{name}");
            }
        }
    }

    fn manifest(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[{{"mediaType":"{}","digest":"{}","size":3}}]{extra}}}"#,
            media::OCI_MANIFEST,
            media::OCI_CONFIG,
            d(1),
            media::OCI_LAYER_GZIP,
            d(2)
        )
    }

    #[test]
    fn document_table() {
        let index_no_arch = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":3,"platform":{{"os":"linux"}}}}]}}"#,
            media::OCI_INDEX,
            media::OCI_MANIFEST,
            d(3)
        );
        let no_config = format!(r#"{{"schemaVersion":2,"mediaType":"{}","layers":[]}}"#, media::OCI_MANIFEST);
        let cases: &[(&str, String, &str, Option<Kind>)] = &[
            ("good manifest", manifest(""), media::OCI_MANIFEST, None),
            (
                "schemaVersion 3",
                manifest("").replace("\"schemaVersion\":2", "\"schemaVersion\":3"),
                "",
                Some(Kind::InvalidDocument),
            ),
            ("manifest with no config", no_config, "", Some(Kind::InvalidDocument)),
            ("platform without architecture", index_no_arch, "", Some(Kind::InvalidDocument)),
            ("not JSON", "nope".into(), "", Some(Kind::InvalidDocument)),
            ("declared otherwise", manifest(""), media::DOCKER_MANIFEST, Some(Kind::MediaTypeMismatch)),
        ];
        for (name, json, declared, want) in cases {
            let c = document(json.as_bytes(), declared);
            assert_eq!(c.problems.first().map(|p| p.kind), *want, "{name}: {:?}", c.problems);
        }
        let c = document(manifest("").as_bytes(), "");
        assert_eq!(c.image_config.map(|(d, n)| (d.digest.to_string(), n)), Some((d(1), 1)));
    }

    #[test]
    fn config_table() {
        let good = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
        let cases: &[(&str, &str, usize, Option<Kind>)] = &[
            ("good", good, 1, None),
            ("diff_ids count", good, 2, Some(Kind::DiffIdsMismatch)),
            ("empty object", "{}", 0, Some(Kind::InvalidDocument)),
            ("no os/architecture", r#"{"rootfs":{"type":"layers","diff_ids":[]}}"#, 0, Some(Kind::InvalidDocument)),
            (
                "Env of the wrong type",
                r#"{"architecture":"amd64","os":"linux","config":{"Env":"PATH=/bin"},"rootfs":{"type":"layers","diff_ids":[]}}"#,
                0,
                Some(Kind::InvalidDocument),
            ),
            (
                "duplicate rootfs key",
                r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"rootfs":{"type":"layers","diff_ids":[]}}"#,
                0,
                Some(Kind::InvalidDocument),
            ),
        ];
        for (name, json, layers, want) in cases {
            let p = config(json.as_bytes(), *layers);
            assert_eq!(p.first().map(|p| p.kind), *want, "{name}: {p:?}");
        }
    }

    #[test]
    fn depth_limit() {
        assert!(depth(MAX_DEPTH).is_none());
        assert_eq!(depth(MAX_DEPTH + 1).map(|p| p.kind), Some(Kind::TooDeep));
    }
}
