//! [`Annotations`]: the annotation map of a descriptor.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The annotations of a descriptor: string keys to string values, kept sorted by key so
/// that output is deterministic (as a `BTreeMap` would), stored as one small vector.
/// An index.json entry carries one or two annotations; a `BTreeMap` allocates a node of
/// about 500 bytes for each entry, which at 100,000 tags was the largest single part of
/// a loaded repository (docs/SCALE.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations(Vec<(String, String)>);

impl Annotations {
    /// No annotations.
    pub fn new() -> Annotations {
        Annotations(Vec::new())
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same annotations as a `BTreeMap` (for reports).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl FromIterator<(String, String)> for Annotations {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Annotations {
        let mut a = Annotations::new();
        for (k, v) in iter {
            a.insert(k, v);
        }
        a
    }
}

impl Serialize for Annotations {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Annotations {
    /// A JSON object of strings; a key given twice keeps its last value (as a map does).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Annotations, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Annotations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
                let mut out = Annotations(Vec::with_capacity(map.size_hint().unwrap_or(0).min(64)));
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    // Producers usually write keys sorted: append without a search then.
                    match out.0.last() {
                        Some((last, _)) if *last < k => out.0.push((k, v)),
                        None => out.0.push((k, v)),
                        _ => {
                            out.insert(k, v);
                        }
                    }
                }
                out.0.shrink_to_fit();
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_sorted_map() {
        let mut a = Annotations::new();
        assert_eq!(a.insert("b".into(), "1".into()), None);
        assert_eq!(a.insert("a".into(), "2".into()), None);
        assert_eq!(a.insert("b".into(), "3".into()), Some("1".into()));
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"a":"2","b":"3"}"#);
        assert_eq!(a.remove("a"), Some("2".into()));
        assert!(!a.contains_key("a") && a.get("b").is_some_and(|v| v == "3"));
        assert_eq!(a.to_map().len(), 1);
    }

    #[test]
    fn reads_unsorted_and_repeated_keys_as_a_map_does() {
        let a: Annotations = serde_json::from_str(r#"{"z":"1","a":"2","m":"3","a":"4"}"#).unwrap();
        let m: BTreeMap<String, String> = serde_json::from_str(r#"{"z":"1","a":"2","m":"3","a":"4"}"#).unwrap();
        assert_eq!(a.to_map(), m);
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&m).unwrap());
        assert!(serde_json::from_str::<Annotations>(r#"{"a":1}"#).is_err(), "values are strings");
    }
}
