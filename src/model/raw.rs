//! Fields wharf does not model, kept as the bytes they were written with.
//!
//! A descriptor, a platform or an index.json may carry fields this version does not know
//! (`urls`, `data`, vendor fields). They are kept so that a rewritten index.json keeps
//! them, but never as a `serde_json::Value` tree, which costs many times its input
//! (issue 16 B5: an unknown field of `[0,0,…]` costs ~50 bytes of tree per 2 bytes of
//! JSON). Each value is kept as its original JSON text ([`RawValue`]): memory stays the
//! size of the input, and the text is written back byte for byte.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Unknown JSON object fields, in the order they were read, each value as its original
/// JSON text. Serialises as the fields of the object it is flattened into.
#[derive(Debug, Clone, Default)]
pub struct RawFields(Vec<(String, Box<RawValue>)>);

impl RawFields {
    /// No fields.
    pub fn new() -> RawFields {
        RawFields(Vec::new())
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The JSON text of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| &**v)
    }

    /// Sets field `name` to `value`'s JSON, replacing a field of that name.
    pub fn insert<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), serde_json::Error> {
        let raw = serde_json::value::to_raw_value(value)?;
        self.insert_raw(name.to_string(), raw);
        Ok(())
    }

    /// Removes field `name`, returning its JSON text.
    pub fn remove(&mut self, name: &str) -> Option<Box<RawValue>> {
        let i = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.remove(i).1)
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    pub(crate) fn insert_raw(&mut self, name: String, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl PartialEq for RawFields {
    fn eq(&self, other: &RawFields) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|((a, av), (b, bv))| a == b && av.get() == bv.get())
    }
}

impl Eq for RawFields {}

impl Serialize for RawFields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for RawFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawFields, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields, A::Error> {
                let mut out = RawFields::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v: Box<RawValue> = map.next_value()?;
                    out.insert_raw(k, v);
                }
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
    fn raw_fields_keep_text_and_order() {
        let f: RawFields = serde_json::from_str(r#"{"z": [1, 2.50], "a":{"k" :true},"z":"last"}"#).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f.get("z").unwrap().get(), r#""last""#);
        assert_eq!(f.get("a").unwrap().get(), r#"{"k" :true}"#);
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"z":"last","a":{"k" :true}}"#);
        let mut g = f.clone();
        assert_eq!(f, g);
        g.insert("a", &1).unwrap();
        assert_ne!(f, g);
        assert_eq!(g.remove("a").unwrap().get(), "1");
        assert!(serde_json::from_str::<RawFields>("[1]").is_err());
    }
}
