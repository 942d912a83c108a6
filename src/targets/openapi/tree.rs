//! Reads document text (JSON or YAML) into the JSON tree the importer works on, leaving out
//! the parts of each operation that no tool is made of: its `responses` and API Gateway's
//! `x-amazon-apigateway-integration`. In a real API Gateway export those two are most of
//! every operation's bytes, and a JSON tree costs about ten times its text in memory, so a
//! 10,000-operation export is held in a fraction of the space it would otherwise take.
//!
//! An operation's `responses` is kept as an empty object rather than dropped, so the
//! per-operation OpenAPI 3.0 check still sees the required field; its content is not read.
//! Everything else is kept exactly, including key order. Nesting depth stays bounded by the
//! parsers' own recursion limits (the tree is built in the parser's recursion).

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::common::names::HttpMethod;

/// Parses JSON text.
pub fn from_json(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Node(Place::Root).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Parses YAML text.
pub fn from_yaml(text: &str) -> Result<Value, yaml_serde::Error> {
    Node(Place::Root).deserialize(yaml_serde::Deserializer::from_str(text))
}

/// Where a value sits in the document, as far as trimming is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    Paths,
    PathItem,
    Operation,
    Elsewhere,
}

impl Place {
    /// The place of the value under `key` in an object at `self`.
    fn child(self, key: &str) -> Self {
        match self {
            Self::Root if key == "paths" => Self::Paths,
            Self::Paths => Self::PathItem,
            Self::PathItem if HttpMethod::ALL.iter().any(|m| m.openapi_key() == key) => {
                Self::Operation
            }
            _ => Self::Elsewhere,
        }
    }
}

/// What becomes of the value under `key` in an operation.
enum Keep {
    All,
    /// Read past it; keep an empty object in its place.
    Placeholder,
    /// Read past it; keep nothing.
    Nothing,
}

fn keep(place: Place, key: &str) -> Keep {
    match (place, key) {
        (Place::Operation, "responses") => Keep::Placeholder,
        (Place::Operation, "x-amazon-apigateway-integration") => Keep::Nothing,
        _ => Keep::All,
    }
}

/// A value at a given place.
struct Node(Place);

impl<'de> DeserializeSeed<'de> for Node {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(Node(Place::Elsewhere))? {
            items.push(item);
        }
        items.shrink_to_fit();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Gathered first so the object is allocated at its exact size: most objects in a
        // document have one to four keys, and a growing map would reserve room for more.
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let value = match keep(self.0, &key) {
                Keep::All => map.next_value_seed(Node(self.0.child(&key)))?,
                Keep::Placeholder => {
                    map.next_value::<IgnoredAny>()?;
                    Value::Object(Map::new())
                }
                Keep::Nothing => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            entries.push((key, value));
        }
        Ok(Value::Object(entries.into_iter().collect()))
    }
}

/// An object key. YAML allows scalar keys of any type (`200:` in `responses` is an integer);
/// JSON's tree has only strings, so scalars are written as their text.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for Key {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number or boolean key")
    }

    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
        Err(E::custom("an object key is null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_lose_responses_and_integrations_only() {
        let text = r#"{"openapi": "3.0.1",
            "paths": {"/a": {"parameters": [], "get": {"operationId": "A",
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {"type": "http"},
                "x-other": {"responses": 1}}}},
            "components": {"responses": {"R": {"description": "kept"}}}}"#;
        let tree = from_json(text).unwrap();
        assert_eq!(
            tree,
            json!({"openapi": "3.0.1",
                "paths": {"/a": {"parameters": [], "get": {"operationId": "A", "responses": {},
                    "x-other": {"responses": 1}}}},
                "components": {"responses": {"R": {"description": "kept"}}}})
        );
        // Key order is the document's.
        let keys: Vec<&String> = tree["paths"]["/a"]["get"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["operationId", "responses", "x-other"]);
    }

    #[test]
    fn yaml_scalar_keys_become_strings_and_json_errors_say_where() {
        let tree = from_yaml("openapi: 3.0.1\nx: {200: a, true: b, 1.5: c}\n").unwrap();
        assert_eq!(tree["x"], json!({"200": "a", "true": "b", "1.5": "c"}));
        let e = from_json("{\"openapi\": \"3.0.1\",\n \"paths\": [}").unwrap_err();
        assert_eq!(e.line(), 2, "{e}");
        assert!(from_json("{} trailing").is_err());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(
            from_json(&deep)
                .unwrap_err()
                .to_string()
                .contains("recursion")
        );
    }

    #[test]
    fn yaml_alias_bombs_are_refused() {
        // Nine levels of nine aliases each: 387 million strings if expanded.
        let mut text =
            String::from("openapi: 3.0.1\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..9 {
            let prev = format!("*l{}", level - 1);
            let items = [prev.as_str(); 9].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
        let e = from_yaml(&text).unwrap_err();
        assert!(e.to_string().contains("repetition limit"), "{e}");
    }
}
