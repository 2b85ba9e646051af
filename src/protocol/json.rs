//! Order- and byte-preserving edits of a JSON object's top-level fields.
//!
//! A gateway that passes a request through must not change what it does not own: re-serialising a
//! `serde_json::Value` would reorder keys, reformat numbers (`1.0` → `1`) and cost an allocation
//! per node. Here every top-level value stays a borrowed `RawValue`: only the fields the gateway
//! rewrites (model id, stream options, usage) are replaced, the rest are copied byte for byte.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A parsed JSON object whose values are still raw text.
#[derive(Debug, Clone)]
pub struct RawObject<'a> {
    fields: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
}

/// Why a body could not be taken apart as a JSON object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JsonError {
    /// Not valid JSON, or not an object at the top level.
    #[error("{0}")]
    Malformed(String),
}

impl<'a> RawObject<'a> {
    /// Parses `text` as a JSON object, keeping each value's original bytes.
    pub fn parse(text: &'a [u8]) -> Result<Self, JsonError> {
        let mut de = serde_json::Deserializer::from_slice(text);
        let fields = de.deserialize_map(FieldsVisitor).map_err(|e| JsonError::Malformed(describe(&e)))?;
        de.end().map_err(|e| JsonError::Malformed(describe(&e)))?;
        Ok(RawObject { fields })
    }

    /// Parses a request body, or the 400 a client gets for one that is not a JSON object.
    pub fn parse_body(body: &'a [u8]) -> Result<Self, crate::protocol::error::ApiError> {
        RawObject::parse(body).map_err(|e| {
            crate::protocol::error::ApiError::new(
                crate::protocol::error::ErrorClass::InvalidRequest,
                format!("request body is not a valid JSON object: {e}"),
            )
            .with_code("invalid_json")
        })
    }

    /// The request's `model`: a non-empty string, or the 400 naming the field.
    pub fn model(&self) -> Result<String, crate::protocol::error::ApiError> {
        match self.get_str("model") {
            Some(m) if !m.is_empty() => Ok(m.into_owned()),
            _ => Err(missing_model()),
        }
    }

    /// The raw value of a top-level field (the last one when a key repeats, as JSON parsers do).
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// A top-level string field, `None` when absent or not a string.
    pub fn get_str(&self, key: &str) -> Option<Cow<'_, str>> {
        let raw = self.get(key)?;
        serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
    }

    /// A top-level field parsed into `T`; `None` when absent, `Some(Err)` when of the wrong shape.
    pub fn get_as<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<Result<T, serde_json::Error>> {
        self.get(key).map(|raw| serde_json::from_str(raw.get()))
    }

    /// Replaces (or appends) a field with an already-serialised JSON value.
    pub fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        match self.fields.iter_mut().rev().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = Cow::Owned(value),
            None => self.fields.push((Cow::Owned(key.to_owned()), Cow::Owned(value))),
        }
    }

    /// Replaces (or appends) a field with any serialisable value.
    pub fn set<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), serde_json::Error> {
        let raw = serde_json::value::to_raw_value(value)?;
        self.set_raw(key, raw);
        Ok(())
    }

    /// Removes every occurrence of a field; true when one was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.fields.len();
        self.fields.retain(|(k, _)| k != key);
        before != self.fields.len()
    }

    /// Serialises the object again: untouched values keep their exact bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let len: usize = self.fields.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum();
        let mut out = Vec::with_capacity(len + 2);
        out.push(b'{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Keys came from a JSON string; serialising a &str cannot fail.
            let _ = serde_json::to_writer(&mut out, k.as_ref());
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

/// The 400 for a request without a usable `model`.
pub fn missing_model() -> crate::protocol::error::ApiError {
    crate::protocol::error::ApiError::new(crate::protocol::error::ErrorClass::InvalidRequest, "missing required field `model`")
        .with_param("model")
}

/// One line of a serde_json error, without the "at line 1 column N" noise for one-line bodies.
fn describe(e: &serde_json::Error) -> String {
    format!("{e}")
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<(Cow<'de, str>, Cow<'de, RawValue>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, Cow::Borrowed(value)));
        }
        Ok(fields)
    }
}

/// Deserialises a key borrowed from the input when it has no escapes (the common case), so
/// parsing a body allocates nothing per field.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_fields_keep_their_bytes_and_order() {
        let body = br#"{"z":1.0,"model":"a","temperature":0,"seed":0,"x":{"b":1,"a":[1e3]}}"#;
        let mut o = RawObject::parse(body).unwrap();
        o.set("model", "b").unwrap();
        assert_eq!(
            String::from_utf8(o.to_vec()).unwrap(),
            r#"{"z":1.0,"model":"b","temperature":0,"seed":0,"x":{"b":1,"a":[1e3]}}"#
        );
    }

    #[test]
    fn set_appends_and_remove_drops() {
        let mut o = RawObject::parse(br#"{"a":null}"#).unwrap();
        o.set("b", &serde_json::json!({"include_usage":true})).unwrap();
        assert!(o.remove("a"));
        assert_eq!(o.to_vec(), br#"{"b":{"include_usage":true}}"#);
    }

    #[test]
    fn escaped_keys_and_strings() {
        let o = RawObject::parse(br#"{"mo\u0064el":"g\"pt"}"#).unwrap();
        assert_eq!(o.get_str("model").as_deref(), Some("g\"pt"));
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        assert!(RawObject::parse(b"[1]").is_err());
        assert!(RawObject::parse(b"{\"a\":").is_err());
        assert!(RawObject::parse(b"{} x").is_err());
    }
}
