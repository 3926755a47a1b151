//! What a manifest is, for listings: an image, an index, a Helm chart, another artifact,
//! or a referrer (an artifact with a `subject`), decided from the parsed document alone.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::descriptor::Document;
use super::media::{DOCKER_CONFIG, MediaKind, OCI_CONFIG};

/// The config media type of a Helm chart (`helm push`).
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";

/// The KIND column of `repos` and `manifests`, and `show`'s `kind_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A container image: a manifest whose config is an image configuration.
    Image,
    /// An index (or Docker manifest list) over platform manifests.
    Index,
    /// A Helm chart pushed as OCI (`helm push`).
    HelmChart,
    /// Any other OCI artifact (an `artifactType`, or a config that is not an image's).
    Artifact,
    /// A manifest with a `subject`: a signature, SBOM or attestation of another manifest.
    Referrer,
    /// The manifest could not be read (verify says why).
    Unknown,
}

impl ArtifactKind {
    /// Classifies a manifest or index: an index is `index`; a manifest with a `subject`
    /// is a `referrer`; one whose config is Helm's is a `helm chart`; one with an
    /// `artifactType`, or whose config is not an image config, an `artifact`; the rest
    /// `image`.
    pub(crate) fn of(doc: &Document) -> ArtifactKind {
        if doc.kind == MediaKind::Index {
            return ArtifactKind::Index;
        }
        if doc.subject.is_some() {
            return ArtifactKind::Referrer;
        }
        let config = doc.config.as_ref().map(|c| c.media_type.as_str());
        if config == Some(HELM_CONFIG) {
            return ArtifactKind::HelmChart;
        }
        if doc.artifact_type.is_some() || !matches!(config, Some(OCI_CONFIG) | Some(DOCKER_CONFIG) | None) {
            return ArtifactKind::Artifact;
        }
        if doc.kind == MediaKind::Manifest || doc.kind == MediaKind::Schema1 {
            ArtifactKind::Image
        } else {
            ArtifactKind::Unknown
        }
    }

    /// The artifact type as the distribution spec's referrers API reports it:
    /// `artifactType`, else the config's media type (none for indexes and images).
    pub(crate) fn artifact_type(doc: &Document) -> Option<String> {
        doc.artifact_type.clone().or_else(|| {
            doc.config
                .as_ref()
                .map(|c| c.media_type.clone())
                .filter(|m| m.as_str() != OCI_CONFIG && m.as_str() != DOCKER_CONFIG)
        })
    }

    /// The name shown in listings (`image`, `index`, `helm chart`, `artifact`, `referrer`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::Image => "image",
            ArtifactKind::Index => "index",
            ArtifactKind::HelmChart => "helm chart",
            ArtifactKind::Artifact => "artifact",
            ArtifactKind::Referrer => "referrer",
            ArtifactKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_table() {
        let cfg =
            |mt: &str| format!(r#""config":{{"mediaType":"{mt}","digest":"sha256:{}","size":2}}"#, "0".repeat(64));
        let subject = format!(r#""subject":{{"mediaType":"x","digest":"sha256:{}","size":2}}"#, "1".repeat(64));
        let cases: Vec<(&str, String, ArtifactKind, Option<&str>)> = vec![
            ("index", r#"{"schemaVersion":2,"manifests":[]}"#.into(), ArtifactKind::Index, None),
            ("image", format!(r#"{{"schemaVersion":2,{},"layers":[]}}"#, cfg(OCI_CONFIG)), ArtifactKind::Image, None),
            (
                "docker image",
                format!(r#"{{"schemaVersion":2,{},"layers":[]}}"#, cfg(DOCKER_CONFIG)),
                ArtifactKind::Image,
                None,
            ),
            (
                "helm",
                format!(r#"{{"schemaVersion":2,{},"layers":[]}}"#, cfg(HELM_CONFIG)),
                ArtifactKind::HelmChart,
                Some(HELM_CONFIG),
            ),
            (
                "artifact",
                format!(
                    r#"{{"schemaVersion":2,"artifactType":"a/b",{},"layers":[]}}"#,
                    cfg("application/vnd.oci.empty.v1+json")
                ),
                ArtifactKind::Artifact,
                Some("a/b"),
            ),
            (
                "referrer",
                format!(
                    r#"{{"schemaVersion":2,"artifactType":"a/b",{},"layers":[],{subject}}}"#,
                    cfg("application/vnd.oci.empty.v1+json")
                ),
                ArtifactKind::Referrer,
                Some("a/b"),
            ),
        ];
        for (name, json, kind, at) in cases {
            let d = Document::parse(json.as_bytes(), "").unwrap();
            assert_eq!(ArtifactKind::of(&d), kind, "{name}");
            assert_eq!(ArtifactKind::artifact_type(&d).as_deref(), at, "{name}");
        }
        assert_eq!(ArtifactKind::HelmChart.to_string(), "helm chart");
        assert_eq!(serde_json::to_value(ArtifactKind::HelmChart).unwrap(), "helm-chart");
    }
}
