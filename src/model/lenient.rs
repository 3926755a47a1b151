//! Typed reading of the few fields wharf takes from documents it otherwise does not
//! interpret (an image config's `os`, its `created` time, a registry's error list): a
//! field of the wrong type reads as absent, and everything else in the document is
//! skipped without being built in memory. Never `serde_json::Value`, whose tree costs
//! many times the input (issue 16 B5: a 16 MiB config cost 1.22 GB).

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Deserializes a string field; any other JSON value reads as `None` (skipped, not
/// built). Use with `#[serde(default, deserialize_with = "lenient::string")]`.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// The fields of an image configuration wharf reads: platform and creation time.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConfigFields {
    #[serde(default, deserialize_with = "string")]
    pub os: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub architecture: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub variant: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub created: Option<String>,
}

impl ConfigFields {
    /// The fields of a config blob; `None` when it is not a JSON object.
    pub fn parse(bytes: &[u8]) -> Option<ConfigFields> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_read_as_absent() {
        let c = ConfigFields::parse(br#"{"os":"linux","architecture":["x",{"a":1}],"variant":7,"rootfs":{}}"#).unwrap();
        assert_eq!(c.os.as_deref(), Some("linux"));
        assert_eq!(c.architecture, None);
        assert_eq!(c.variant, None);
        assert!(ConfigFields::parse(b"[1,2]").is_none() || ConfigFields::parse(b"[1,2]").unwrap().os.is_none());
        assert!(ConfigFields::parse(b"not json").is_none());
    }
}
