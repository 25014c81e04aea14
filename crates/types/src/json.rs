//! Decodes JSON request bodies as Go's encoding/json does: struct field names match case-insensitively,
//! so `{"ttl": "15s"}` (as Patroni sends) fills the same field as `{"TTL": "15s"}`.

use serde::de::{self, value::StringDeserializer, DeserializeOwned, DeserializeSeed, Visitor};
use serde_json::{map, Value};

/// Decodes `bytes` into `T`, matching struct field names without regard to case.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let value: Value = serde_json::from_slice(bytes)?;
    from_value(value)
}

/// Decodes an already-parsed JSON value into `T`, matching struct field names without regard to case.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(CaseInsensitive(value))
}

/// A JSON value whose objects, when read as structs, have their keys matched to field names ignoring case.
struct CaseInsensitive(Value);

impl<'de> de::Deserializer<'de> for CaseInsensitive {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Elements(items.into_iter())),
            Value::Object(object) => visitor.visit_map(Entries::new(object, &[])),
            scalar => de::Deserializer::deserialize_any(scalar, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(object) => visitor.visit_map(Entries::new(object, fields)),
            other => CaseInsensitive(other).deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_enum(self.0, name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct Elements(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Elements {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(CaseInsensitive(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries {
    entries: map::IntoIter,
    fields: &'static [&'static str],
    pending_value: Option<Value>,
}

impl Entries {
    fn new(object: map::Map<String, Value>, fields: &'static [&'static str]) -> Self {
        Entries {
            entries: object.into_iter(),
            fields,
            pending_value: None,
        }
    }

    fn canonical_key(&self, key: String) -> String {
        match self
            .fields
            .iter()
            .find(|field| field.eq_ignore_ascii_case(&key))
        {
            Some(field) => (*field).to_string(),
            None => key,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending_value = Some(value);
        let key = self.canonical_key(key);
        seed.deserialize(StringDeserializer::<serde_json::Error>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self.pending_value.take().unwrap_or(Value::Null);
        seed.deserialize(CaseInsensitive(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        #[serde(rename = "ID")]
        id: String,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Outer {
        #[serde(rename = "TTL")]
        ttl: Option<String>,
        lock_delay: Option<u64>,
        items: Vec<Inner>,
        meta: BTreeMap<String, String>,
    }

    #[test]
    fn matches_field_names_ignoring_case_but_keeps_map_keys() {
        let body = br#"{"ttl":"15s","LOCKDELAY":5,"items":[{"id":"a"}],"meta":{"MixedCase":"v"}}"#;
        let decoded: Outer = from_slice(body).unwrap();
        assert_eq!(decoded.ttl.as_deref(), Some("15s"));
        assert_eq!(decoded.lock_delay, Some(5));
        assert_eq!(decoded.items, vec![Inner { id: "a".into() }]);
        assert_eq!(decoded.meta.get("MixedCase").map(String::as_str), Some("v"));
    }

    #[test]
    fn reports_type_errors() {
        assert!(from_slice::<Outer>(br#"{"LockDelay":"soon","Items":[],"Meta":{}}"#).is_err());
        assert!(from_slice::<Outer>(b"{not json").is_err());
    }
}
