//! Descriptors, index.json, and the descriptor graph.
//!
//! These types are deliberately lenient readers that preserve what they do not know: an
//! index.json written by another tool keeps every unknown field and annotation when wharf
//! rewrites it, and annotation maps are ordered (`Annotations`, sorted by key) so output
//! is deterministic.
//! Strict schema checks (for `verify`) use the `oci-spec` types instead.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::annotations::Annotations;
use super::digest::Digest;
use super::media::{self, MediaKind};
use super::raw::RawFields;

/// An OCI content descriptor. Deserialised by hand (see the `Deserialize` impl below):
/// serde's `flatten` buffers every field of every entry, which made reading a 100k-entry
/// index.json several times slower and larger than it needs to be.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty", deserialize_with = "null_as_default")]
    pub annotations: Annotations,
    /// Fields this version does not model (`urls`, `data`, vendor fields), kept verbatim
    /// as their original JSON text (never a `Value` tree: issue 16 B5).
    #[serde(flatten)]
    pub extra: RawFields,
}

impl<'de> Deserialize<'de> for Descriptor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Descriptor, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        /// A key, matched without allocating for the known ones.
        enum Field {
            MediaType,
            Digest,
            Size,
            Platform,
            ArtifactType,
            Annotations,
            Other(String),
        }
        impl<'de> Deserialize<'de> for Field {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
                struct F;
                impl Visitor<'_> for F {
                    type Value = Field;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: Error>(self, v: &str) -> Result<Field, E> {
                        Ok(match v {
                            "mediaType" => Field::MediaType,
                            "digest" => Field::Digest,
                            "size" => Field::Size,
                            "platform" => Field::Platform,
                            "artifactType" => Field::ArtifactType,
                            "annotations" => Field::Annotations,
                            other => Field::Other(other.to_string()),
                        })
                    }
                }
                d.deserialize_identifier(F)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Descriptor;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OCI descriptor (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Descriptor, A::Error> {
                let mut media_type: Option<String> = None;
                let mut digest: Option<Digest> = None;
                let mut size: Option<u64> = None;
                let mut platform: Option<Option<Platform>> = None;
                let mut artifact_type: Option<Option<String>> = None;
                let mut annotations: Option<Annotations> = None;
                let mut extra = RawFields::new();
                fn once<T, E: Error>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), E> {
                    if slot.replace(v).is_some() {
                        return Err(E::duplicate_field(name));
                    }
                    Ok(())
                }
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::MediaType => once(&mut media_type, map.next_value()?, "mediaType")?,
                        Field::Digest => once(&mut digest, map.next_value()?, "digest")?,
                        Field::Size => once(&mut size, map.next_value()?, "size")?,
                        Field::Platform => once(&mut platform, map.next_value()?, "platform")?,
                        Field::ArtifactType => once(&mut artifact_type, map.next_value()?, "artifactType")?,
                        Field::Annotations => {
                            let v: Option<Annotations> = map.next_value()?;
                            once(&mut annotations, v.unwrap_or_default(), "annotations")?
                        }
                        Field::Other(name) => {
                            let v: Box<serde_json::value::RawValue> = map.next_value()?;
                            extra.insert_raw(name, v);
                        }
                    }
                }
                Ok(Descriptor {
                    media_type: media_type.unwrap_or_default(),
                    digest: digest.ok_or_else(|| A::Error::missing_field("digest"))?,
                    size: size.ok_or_else(|| A::Error::missing_field("size"))?,
                    platform: platform.flatten(),
                    artifact_type: artifact_type.flatten(),
                    annotations: annotations.unwrap_or_default(),
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            platform: None,
            artifact_type: None,
            annotations: Annotations::new(),
            extra: RawFields::new(),
        }
    }

    /// The tag this descriptor carries in an index.json (`org.opencontainers.image.ref.name`).
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(media::ANNOTATION_REF_NAME).map(String::as_str)
    }

    pub fn kind(&self) -> MediaKind {
        MediaKind::of(&self.media_type)
    }
}

/// A platform, as in an index entry. Deserialised by hand (below) so that its unknown
/// fields are kept as text, never buffered as a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    /// The CPU architecture, as Go's `GOARCH` names it (`amd64`, `arm64`, …); empty when the source gave none.
    #[serde(default)]
    pub architecture: String,
    /// The operating system, as Go's `GOOS` names it (`linux`, `windows`, …); empty when the source gave none.
    #[serde(default)]
    pub os: String,
    /// `os.version` (Windows builds mostly); `None` when absent.
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// `os.features`; `None` when absent.
    #[serde(rename = "os.features", default, skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    /// The CPU variant (`v7`, `v8`); `None` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Any other fields of the platform object, kept as they were written (their JSON text).
    #[serde(flatten)]
    pub extra: RawFields,
}

impl Platform {
    /// Parses `OS/ARCH[/VARIANT]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let arch = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next().map(str::to_string);
        if parts.next().is_some() || variant.as_deref() == Some("") {
            return None;
        }
        Some(Platform::of(os, arch, variant))
    }

    /// A platform of `os`, `architecture` and `variant` alone.
    fn of(os: &str, arch: &str, variant: Option<String>) -> Platform {
        Platform {
            architecture: arch.to_string(),
            os: os.to_string(),
            os_version: None,
            os_features: None,
            variant,
            extra: RawFields::new(),
        }
    }

    /// The platform an image config blob declares (its `os`, `architecture` and
    /// `variant`), or `None` when the bytes are not JSON or either of `os` and
    /// `architecture` is missing or empty. An empty `variant` is no variant. The one
    /// derivation of a platform from a config, for `show` and for import's `--platform`.
    pub fn from_config(config: &[u8]) -> Option<Platform> {
        let c = super::lenient::ConfigFields::parse(config)?;
        let os = c.os.filter(|s| !s.is_empty())?;
        let arch = c.architecture.filter(|s| !s.is_empty())?;
        let variant = c.variant.filter(|s| !s.is_empty());
        Some(Platform::of(&os, &arch, variant))
    }

    /// True when `self` (a selector such as `linux/arm64`) matches `other`; a selector
    /// without a variant matches every variant.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The `index.json` at the top of an OCI layout. `"manifests": null` (Docker 25's
/// `docker save` of an untagged image) reads as an empty list.
///
/// Deserialised by hand (below): unknown top-level fields are kept as their JSON text,
/// and the entries are read straight from the input, never buffered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexFile {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: RawFields,
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Platform, D::Error> {
        use serde::de::{DeserializeOwned, Error};
        // A platform object is small; reading it as raw fields first and typing the known
        // ones keeps the unknown ones as text.
        let mut extra = RawFields::deserialize(d)?;
        fn take<T: DeserializeOwned, E: Error>(f: &mut RawFields, name: &str) -> Result<Option<T>, E> {
            match f.remove(name) {
                None => Ok(None),
                Some(raw) => serde_json::from_str(raw.get())
                    .map(Some)
                    .map_err(|e| E::custom(format_args!("platform field `{name}`: {e}"))),
            }
        }
        Ok(Platform {
            architecture: take(&mut extra, "architecture")?.unwrap_or_default(),
            os: take(&mut extra, "os")?.unwrap_or_default(),
            os_version: take::<Option<String>, _>(&mut extra, "os.version")?.flatten(),
            os_features: take::<Option<Vec<String>>, _>(&mut extra, "os.features")?.flatten(),
            variant: take::<Option<String>, _>(&mut extra, "variant")?.flatten(),
            extra,
        })
    }
}

impl<'de> Deserialize<'de> for IndexFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IndexFile, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IndexFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OCI index (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IndexFile, A::Error> {
                let mut schema_version: Option<u32> = None;
                let mut media_type: Option<Option<String>> = None;
                let mut manifests: Option<Vec<Descriptor>> = None;
                let mut annotations: Option<BTreeMap<String, String>> = None;
                let mut extra = RawFields::new();
                fn once<T, E: Error>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), E> {
                    if slot.replace(v).is_some() {
                        return Err(E::duplicate_field(name));
                    }
                    Ok(())
                }
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "schemaVersion" => once(&mut schema_version, map.next_value()?, "schemaVersion")?,
                        "mediaType" => once(&mut media_type, map.next_value()?, "mediaType")?,
                        "manifests" => {
                            let v: Option<Vec<Descriptor>> = map.next_value()?;
                            once(&mut manifests, v.unwrap_or_default(), "manifests")?
                        }
                        "annotations" => {
                            let v: Option<BTreeMap<String, String>> = map.next_value()?;
                            once(&mut annotations, v.unwrap_or_default(), "annotations")?
                        }
                        _ => {
                            let v: Box<serde_json::value::RawValue> = map.next_value()?;
                            extra.insert_raw(key, v);
                        }
                    }
                }
                Ok(IndexFile {
                    schema_version: schema_version.ok_or_else(|| A::Error::missing_field("schemaVersion"))?,
                    media_type: media_type.flatten(),
                    manifests: manifests.unwrap_or_default(),
                    annotations: annotations.unwrap_or_default(),
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl Default for IndexFile {
    fn default() -> Self {
        IndexFile {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.to_string()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
            extra: RawFields::new(),
        }
    }
}

impl IndexFile {
    pub fn parse(bytes: &[u8]) -> Result<IndexFile, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Pretty JSON with a trailing newline, stable for the same content.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("index serialises");
        out.push(b'\n');
        out
    }

    /// The length of [`IndexFile::to_bytes`], counted without building it (a 100k-tag
    /// index.json is tens of megabytes).
    pub fn serialized_len(&self) -> u64 {
        struct Count(u64);
        impl std::io::Write for Count {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0 += b.len() as u64;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut c = Count(1);
        serde_json::to_writer_pretty(&mut c, self).expect("index serialises");
        c.0
    }
}

/// The role of an edge in the descriptor graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An index's entry (`manifests[i]`), or an index.json entry.
    Manifest,
    /// A manifest's `config`.
    Config,
    /// A manifest's `layers[i]`.
    Layer,
    /// A referrer's `subject`: the manifest it is about.
    Subject,
    /// An artifact manifest's `blobs[i]`.
    Blob,
}

/// One outgoing edge of a manifest or index.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    pub role: Role,
    pub digest: Digest,
    /// The size the parent declares; `None` for schema 1 `fsLayers`, which declare none.
    pub size: Option<u64>,
    pub media_type: String,
    pub descriptor: Option<Descriptor>,
}

/// Why a manifest or index could not be read as one.
// Reachable only through the doc(hidden) `wharf::fuzzing::document`; not part of the API.
#[allow(unnameable_types)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not a manifest or index: it has neither `manifests` nor `config`/`layers` nor `fsLayers`")]
    Unrecognised,
}

/// A parsed manifest or index: only the fields the graph and the registry need.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: MediaKind,
    /// The `mediaType` field inside the document, if any.
    pub media_type: Option<String>,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: BTreeMap<String, String>,
    /// Schema 1 `fsLayers[].blobSum`.
    pub schema1_layers: Vec<Digest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default, deserialize_with = "null_as_default")]
    layers: Vec<Descriptor>,
    #[serde(default, deserialize_with = "null_as_default")]
    blobs: Vec<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    fs_layers: Option<Vec<Schema1Layer>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Schema1Layer {
    blob_sum: Digest,
}

impl Document {
    /// Parses a manifest or index. `declared` is the media type of the descriptor that
    /// pointed at it; the document's own `mediaType` wins, then its shape decides.
    ///
    /// The document is read as the kind it declares and nothing else: the fields of other
    /// kinds it happens to carry (an OCI manifest with `fsLayers`, an index with
    /// `layers`) are ignored, never followed, so every edge of an index or a manifest has
    /// a descriptor and every edge of a schema 1 manifest is a blobSum.
    pub fn parse(bytes: &[u8], declared: &str) -> Result<Document, DocumentError> {
        let raw: RawDocument = serde_json::from_slice(bytes).map_err(|e| DocumentError::Json(e.to_string()))?;
        let _ = raw.schema_version;
        let by_type = raw.media_type.as_deref().map(MediaKind::of).filter(|k| k.has_children());
        let kind = by_type
            .or_else(|| Some(MediaKind::of(declared)).filter(|k| k.has_children()))
            .or(if raw.manifests.is_some() {
                Some(MediaKind::Index)
            } else if raw.config.is_some() || !raw.layers.is_empty() || !raw.blobs.is_empty() {
                Some(MediaKind::Manifest)
            } else if raw.fs_layers.is_some() {
                Some(MediaKind::Schema1)
            } else {
                None
            })
            .ok_or(DocumentError::Unrecognised)?;
        let mut doc = Document {
            kind,
            media_type: raw.media_type,
            artifact_type: raw.artifact_type,
            config: None,
            layers: Vec::new(),
            manifests: Vec::new(),
            subject: None,
            annotations: raw.annotations,
            schema1_layers: Vec::new(),
        };
        match kind {
            MediaKind::Index => {
                doc.manifests = raw.manifests.unwrap_or_default();
                doc.subject = raw.subject;
            }
            MediaKind::Schema1 => {
                doc.schema1_layers = raw.fs_layers.unwrap_or_default().into_iter().map(|l| l.blob_sum).collect();
            }
            _ => {
                doc.config = raw.config;
                doc.layers = raw.layers;
                doc.layers.extend(raw.blobs);
                doc.subject = raw.subject;
            }
        }
        Ok(doc)
    }

    /// Every outgoing edge: an index's manifests; a manifest's config, layers (and an
    /// artifact manifest's blobs); the subject of either; a schema 1 manifest's blobSums.
    pub fn children(&self) -> Vec<Child> {
        let mut out = Vec::new();
        let mut push = |role: Role, d: &Descriptor| {
            out.push(Child {
                role,
                digest: d.digest.clone(),
                size: Some(d.size),
                media_type: d.media_type.clone(),
                descriptor: Some(d.clone()),
            })
        };
        for m in &self.manifests {
            push(Role::Manifest, m);
        }
        if let Some(c) = &self.config {
            push(Role::Config, c);
        }
        for l in &self.layers {
            push(Role::Layer, l);
        }
        if let Some(s) = &self.subject {
            push(Role::Subject, s);
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.schema1_layers {
            if seen.insert(d.clone()) {
                out.push(Child {
                    role: Role::Layer,
                    digest: d.clone(),
                    size: None,
                    media_type: String::new(),
                    descriptor: None,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn platform_from_config_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("os and architecture", r#"{"os":"linux","architecture":"amd64"}"#, Some("linux/amd64")),
            ("with a variant", r#"{"os":"linux","architecture":"arm","variant":"v7"}"#, Some("linux/arm/v7")),
            ("an empty variant is none", r#"{"os":"linux","architecture":"arm64","variant":""}"#, Some("linux/arm64")),
            ("no os", r#"{"architecture":"amd64"}"#, None),
            ("an empty architecture", r#"{"os":"linux","architecture":""}"#, None),
            ("os not a string", r#"{"os":1,"architecture":"amd64"}"#, None),
            ("not JSON", "{", None),
        ];
        for (name, bytes, want) in cases {
            let got = Platform::from_config(bytes.as_bytes()).map(|p| p.to_string());
            assert_eq!(got.as_deref(), *want, "{name}");
        }
    }

    #[test]
    fn index_with_null_manifests_reads_empty() {
        let idx = IndexFile::parse(br#"{"schemaVersion":2,"manifests":null}"#).unwrap();
        assert!(idx.manifests.is_empty());
    }

    #[test]
    fn index_round_trip_keeps_unknown_fields() {
        let src = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":7,"urls":["u"],"annotations":{{"z":"1","a":"2"}}}}],"vendor":{{"k":true}}}}"#,
            media::OCI_INDEX,
            media::OCI_MANIFEST,
            d(1)
        );
        let idx = IndexFile::parse(src.as_bytes()).unwrap();
        assert_eq!(idx.serialized_len(), idx.to_bytes().len() as u64);
        let again = IndexFile::parse(&idx.to_bytes()).unwrap();
        assert_eq!(idx, again);
        assert_eq!(again.extra.get("vendor").map(|v| v.get()), Some(r#"{"k":true}"#));
        assert_eq!(again.manifests[0].extra.get("urls").map(|v| v.get()), Some(r#"["u"]"#));
    }

    #[test]
    fn children_of_each_shape() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{c}","digest":"{d1}","size":1}},"layers":[{{"mediaType":"{l}","digest":"{d2}","size":2}}],"subject":{{"mediaType":"{m}","digest":"{d3}","size":3}}}}"#,
            c = media::OCI_CONFIG,
            l = media::OCI_LAYER_GZIP,
            m = media::OCI_MANIFEST,
            d1 = d(1),
            d2 = d(2),
            d3 = d(3)
        );
        let doc = Document::parse(manifest.as_bytes(), media::OCI_MANIFEST).unwrap();
        assert_eq!(doc.kind, MediaKind::Manifest);
        let roles: Vec<Role> = doc.children().iter().map(|c| c.role).collect();
        assert_eq!(roles, vec![Role::Config, Role::Layer, Role::Subject]);

        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":9}}]}}"#,
            media::OCI_MANIFEST,
            d(4)
        );
        let doc = Document::parse(index.as_bytes(), "").unwrap();
        assert_eq!(doc.kind, MediaKind::Index);
        assert_eq!(doc.children()[0].digest.to_string(), d(4));

        let schema1 =
            format!(r#"{{"schemaVersion":1,"fsLayers":[{{"blobSum":"{}"}},{{"blobSum":"{}"}}]}}"#, d(5), d(5));
        let doc = Document::parse(schema1.as_bytes(), "").unwrap();
        assert_eq!(doc.kind, MediaKind::Schema1);
        assert_eq!(doc.children().len(), 1, "duplicate blobSums are one edge");
        assert_eq!(doc.children()[0].size, None);

        assert_eq!(Document::parse(b"{}", ""), Err(DocumentError::Unrecognised));
        assert!(matches!(Document::parse(b"nope", ""), Err(DocumentError::Json(_))));
    }

    #[test]
    fn fields_of_another_kind_are_not_followed() {
        // Regression (issue 8, B6): an OCI manifest that also carries `fsLayers` made import
        // panic on a schema 1 edge without a descriptor.
        let layer = format!(r#"{{"mediaType":"{}","digest":"{}","size":2}}"#, media::OCI_LAYER_GZIP, d(2));
        let cases: &[(&str, String, MediaKind, usize)] = &[
            (
                "oci manifest with fsLayers",
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{}","layers":[{layer}],"fsLayers":[{{"blobSum":"{}"}}]}}"#,
                    media::OCI_MANIFEST,
                    d(9)
                ),
                MediaKind::Manifest,
                1,
            ),
            (
                "index with layers and fsLayers",
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[],"layers":[{layer}],"config":{layer},"fsLayers":[{{"blobSum":"{}"}}]}}"#,
                    media::OCI_INDEX,
                    d(9)
                ),
                MediaKind::Index,
                0,
            ),
            (
                "schema 1 with layers and manifests",
                format!(
                    r#"{{"schemaVersion":1,"mediaType":"{}","manifests":[{layer}],"layers":[{layer}],"fsLayers":[{{"blobSum":"{}"}}]}}"#,
                    media::DOCKER_SCHEMA1,
                    d(9)
                ),
                MediaKind::Schema1,
                1,
            ),
        ];
        for (name, json, kind, edges) in cases {
            let doc = Document::parse(json.as_bytes(), "").unwrap();
            assert_eq!(doc.kind, *kind, "{name}");
            assert_eq!(doc.children().len(), *edges, "{name}");
            for c in doc.children() {
                match kind {
                    MediaKind::Schema1 => assert!(c.descriptor.is_none() && c.digest.to_string() == d(9), "{name}"),
                    _ => assert!(c.descriptor.is_some() && c.digest.to_string() != d(9), "{name}: {c:?}"),
                }
            }
        }
    }

    #[test]
    fn platform_parse_and_match() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux/arm64").unwrap().matches(&p));
        assert!(!Platform::parse("linux/amd64").unwrap().matches(&p));
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("linux/arm/v7/x").is_none());
        assert!(Platform::parse("linux//").is_none());
    }
}
