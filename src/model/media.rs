//! Media types of the OCI image-spec and of Docker's v2 schema 2 (and schema 1, which is
//! recognised and reported as legacy), what kind of object each names, and the magic bytes
//! that tell a compressed stream from the rest.

pub const OCI_LAYOUT_FILE: &str = "oci-layout";
pub const OCI_LAYOUT_VERSION: &str = "1.0.0";

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_ND_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_ND_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_ND_ZSTD: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
pub const OCI_ARTIFACT_MANIFEST: &str = "application/vnd.oci.artifact.manifest.v1+json";

pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The foreign tools that read only OCI-typed manifests out of an OCI layout: a tag whose
/// index.json entry is a Docker v2 schema 2 manifest or manifest list (kept byte for byte,
/// so its digest survives) is invisible to them (DESIGN.md §1). Checked by the interop
/// test `docker_typed_tags_are_reported_and_foreign_tools_indeed_fail`.
pub const OCI_ONLY_TOOLS: [&str; 2] = ["skopeo's oci: transport (1.x)", "umoci"];

/// True for a Docker v2 schema 2 manifest or manifest list: see [`OCI_ONLY_TOOLS`].
pub fn is_docker_v2(media_type: &str) -> bool {
    matches!(media_type, DOCKER_MANIFEST | DOCKER_MANIFEST_LIST)
}

/// Annotation keys wharf reads and writes.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// What a media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// An OCI image index or a Docker manifest list: points at manifests.
    Index,
    /// An OCI image manifest (images and artifacts) or a Docker v2 schema 2 manifest.
    Manifest,
    /// A Docker v2 schema 1 manifest: legacy, recognised but not supported.
    Schema1,
    /// An image configuration.
    Config,
    /// A filesystem layer.
    Layer,
    /// Anything else (artifact payloads, empty descriptors, unknown types): a leaf.
    Other,
}

impl MediaKind {
    /// The kind a media type declares; unknown media types are [`MediaKind::Other`].
    pub fn of(media_type: &str) -> MediaKind {
        match media_type {
            OCI_INDEX | DOCKER_MANIFEST_LIST => MediaKind::Index,
            OCI_MANIFEST | DOCKER_MANIFEST | OCI_ARTIFACT_MANIFEST => MediaKind::Manifest,
            DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => MediaKind::Schema1,
            OCI_CONFIG | DOCKER_CONFIG => MediaKind::Config,
            OCI_LAYER_TAR | OCI_LAYER_GZIP | OCI_LAYER_ZSTD | OCI_LAYER_ND_TAR | OCI_LAYER_ND_GZIP
            | OCI_LAYER_ND_ZSTD | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN => MediaKind::Layer,
            _ => MediaKind::Other,
        }
    }

    /// True for the kinds whose blobs are JSON documents with children.
    pub fn has_children(self) -> bool {
        matches!(self, MediaKind::Index | MediaKind::Manifest | MediaKind::Schema1)
    }
}

/// How a layer's bytes are said to be compressed, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER_TAR | OCI_LAYER_ND_TAR => Some(Compression::None),
        OCI_LAYER_GZIP | OCI_LAYER_ND_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN => Some(Compression::Gzip),
        OCI_LAYER_ZSTD | OCI_LAYER_ND_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

/// A compression wrapper, by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wrapper {
    /// Not compressed (a plain tar).
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// xz.
    Xz,
    /// bzip2.
    Bzip2,
}

impl Wrapper {
    /// The wrapper `head` (the first bytes of a stream) starts with.
    pub fn sniff(head: &[u8]) -> Wrapper {
        if head.starts_with(&[0x1f, 0x8b]) {
            Wrapper::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Wrapper::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Wrapper::Xz
        } else if head.starts_with(b"BZh") {
            Wrapper::Bzip2
        } else {
            Wrapper::None
        }
    }

    /// The name shown in reports (`none`, `gzip`, `zstd`, `xz`, `bzip2`).
    pub fn name(self) -> &'static str {
        match self {
            Wrapper::None => "none",
            Wrapper::Gzip => "gzip",
            Wrapper::Zstd => "zstd",
            Wrapper::Xz => "xz",
            Wrapper::Bzip2 => "bzip2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_table() {
        let cases: &[(&str, MediaKind)] = &[
            (OCI_INDEX, MediaKind::Index),
            (DOCKER_MANIFEST_LIST, MediaKind::Index),
            (OCI_MANIFEST, MediaKind::Manifest),
            (DOCKER_MANIFEST, MediaKind::Manifest),
            (DOCKER_SCHEMA1_SIGNED, MediaKind::Schema1),
            (OCI_CONFIG, MediaKind::Config),
            (DOCKER_CONFIG, MediaKind::Config),
            (OCI_LAYER_ZSTD, MediaKind::Layer),
            (DOCKER_LAYER_GZIP, MediaKind::Layer),
            (OCI_EMPTY, MediaKind::Other),
            ("application/spdx+json", MediaKind::Other),
        ];
        for (mt, kind) in cases {
            assert_eq!(MediaKind::of(mt), *kind, "{mt}");
        }
        assert_eq!(layer_compression(DOCKER_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(layer_compression(OCI_LAYER_TAR), Some(Compression::None));
        assert_eq!(layer_compression(OCI_CONFIG), None);
    }
}
