//! Turns OpenAPI schema objects into self-contained JSON Schema 2020-12 (the MCP dialect).
//!
//! - Local `$ref`s (`#/components/...`, any JSON pointer into the document) are inlined, so
//!   clients that cannot follow references still see the whole shape.
//! - A reference back into a schema that is being expanded (a recursive schema) becomes
//!   `{"$ref": "#/$defs/Name"}` and the definition is emitted once under the tool's `$defs`.
//! - OpenAPI 3.0 dialect is normalised: `nullable`, boolean `exclusiveMinimum/Maximum`,
//!   `example`; OpenAPI-only keywords (`discriminator`, `xml`, `externalDocs`, `x-*`) are dropped.
//! - Expansion is bounded (depth, nodes per tool, and nodes per document), so a document
//!   whose references multiply cannot make the gateway allocate without limit, even spread
//!   over many operations.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};

/// OpenAPI 3.0 or 3.1: decides how schemas are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V30,
    V31,
}

const MAX_DEPTH: usize = 64;
/// Schema nodes one tool's input schema may expand to.
const MAX_NODES: usize = 20_000;
/// Schema nodes all the tools of one document may expand to together.
pub const MAX_DOCUMENT_NODES: usize = 2_000_000;

/// Converts the schemas of one operation, collecting shared recursive definitions.
pub struct SchemaConverter<'a> {
    root: &'a Value,
    dialect: Dialect,
    /// pointer -> (def name, converted definition once built)
    defs: BTreeMap<String, (String, Option<Value>)>,
    stack: Vec<String>,
    budget: usize,
    /// What is left of the document's budget.
    document: Option<&'a AtomicUsize>,
}

impl<'a> SchemaConverter<'a> {
    pub fn new(root: &'a Value, dialect: Dialect) -> Self {
        Self {
            root,
            dialect,
            defs: BTreeMap::new(),
            stack: Vec::new(),
            budget: MAX_NODES,
            document: None,
        }
    }

    /// Also draws every node from `left`, the document's budget.
    pub fn drawing_from(mut self, left: &'a AtomicUsize) -> Self {
        self.document = Some(left);
        self
    }

    /// Converts one schema (a parameter's, or a request body's).
    pub fn convert(&mut self, schema: &Value) -> Result<Value, String> {
        self.walk(schema, 0)
    }

    /// The `$defs` needed by the schemas converted so far (builds pending definitions).
    pub fn finish(mut self) -> Result<Option<Map<String, Value>>, String> {
        while let Some(ptr) = self
            .defs
            .iter()
            .find(|(_, (_, built))| built.is_none())
            .map(|(p, _)| p.clone())
        {
            let target = resolve_pointer(self.root, &ptr)?;
            self.stack.push(ptr.clone());
            let built = self.walk(target, 1)?;
            self.stack.pop();
            if let Some(entry) = self.defs.get_mut(&ptr) {
                entry.1 = Some(built);
            }
        }
        if self.defs.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            self.defs
                .into_values()
                .map(|(name, def)| (name, def.unwrap_or(Value::Bool(true))))
                .collect(),
        ))
    }

    fn walk(&mut self, schema: &Value, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("schema nested more than {MAX_DEPTH} levels deep"));
        }
        if self.budget == 0 {
            return Err(format!(
                "schema expands to more than {MAX_NODES} nodes once references are inlined"
            ));
        }
        self.budget -= 1;
        if let Some(left) = self.document
            && left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err()
        {
            return Err(format!(
                "the document's schemas expand to more than {MAX_DOCUMENT_NODES} nodes in all once references are inlined"
            ));
        }
        let obj = match schema {
            Value::Object(obj) => obj,
            Value::Bool(_) => return Ok(schema.clone()),
            _ => return Err("a schema must be an object".into()),
        };
        if let Some(reference) = obj.get("$ref") {
            let reference = reference
                .as_str()
                .ok_or_else(|| "`$ref` must be a string".to_string())?;
            let mut resolved = self.reference(reference, depth)?;
            // 3.1 allows keywords beside `$ref`; keep a description written there.
            if self.dialect == Dialect::V31
                && let (Some(d), Value::Object(r)) = (obj.get("description"), &mut resolved)
            {
                r.insert("description".into(), d.clone());
            }
            return Ok(resolved);
        }
        let mut out = Map::new();
        let mut nullable = false;
        for (key, value) in obj {
            match key.as_str() {
                "properties" | "patternProperties" | "dependentSchemas" => {
                    let map = value
                        .as_object()
                        .ok_or_else(|| format!("`{key}` must be an object"))?;
                    let mut converted = Map::new();
                    for (name, sub) in map {
                        converted.insert(name.clone(), self.walk(sub, depth + 1)?);
                    }
                    out.insert(key.clone(), Value::Object(converted));
                }
                "items" if value.is_array() => {
                    // 3.0 tuple-ish `items: [..]` is not valid there; 2019 form -> prefixItems.
                    out.insert("prefixItems".into(), self.walk_list(value, depth)?);
                }
                "additionalProperties"
                | "items"
                | "not"
                | "if"
                | "then"
                | "else"
                | "contains"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems" => {
                    out.insert(key.clone(), self.walk(value, depth + 1)?);
                }
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                    out.insert(key.clone(), self.walk_list(value, depth)?);
                }
                "nullable" if self.dialect == Dialect::V30 => {
                    nullable = value == &Value::Bool(true)
                }
                "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => {
                    if value == &Value::Bool(true) {
                        let bound = if key == "exclusiveMinimum" {
                            "minimum"
                        } else {
                            "maximum"
                        };
                        if let Some(b) = obj.get(bound) {
                            out.insert(key.clone(), b.clone());
                        }
                    }
                }
                "example" if self.dialect == Dialect::V30 => {
                    out.entry("examples")
                        .or_insert_with(|| json!([value.clone()]));
                }
                "discriminator" | "xml" | "externalDocs" | "$schema" | "$id" | "$defs"
                | "definitions" => {}
                k if k.starts_with("x-") => {}
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        // A boolean exclusive bound replaced its inclusive twin.
        for (ex, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if obj.get(ex) == Some(&Value::Bool(true)) {
                out.remove(bound);
            }
        }
        if nullable {
            make_nullable(&mut out);
        }
        Ok(Value::Object(out))
    }

    fn walk_list(&mut self, value: &Value, depth: usize) -> Result<Value, String> {
        let items = value
            .as_array()
            .ok_or_else(|| "expected a list of schemas".to_string())?;
        items
            .iter()
            .map(|s| self.walk(s, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }

    fn reference(&mut self, reference: &str, depth: usize) -> Result<Value, String> {
        let Some(ptr) = reference.strip_prefix('#') else {
            return Err(format!(
                "`$ref: {reference}` points outside the document; only local references (`#/...`) are supported"
            ));
        };
        if self.stack.iter().any(|p| p == ptr) {
            let name = self.def_name(ptr);
            return Ok(json!({ "$ref": format!("#/$defs/{name}") }));
        }
        let target = resolve_pointer(self.root, ptr)?;
        self.stack.push(ptr.to_string());
        let result = self.walk(target, depth + 1);
        self.stack.pop();
        result
    }

    fn def_name(&mut self, ptr: &str) -> String {
        if let Some((name, _)) = self.defs.get(ptr) {
            return name.clone();
        }
        let last = ptr.rsplit('/').next().unwrap_or("schema");
        let base: String = unescape_pointer_token(last)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = if base.is_empty() {
            "schema".to_string()
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.defs.values().any(|(existing, _)| existing == &name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.defs.insert(ptr.to_string(), (name.clone(), None));
        name
    }
}

fn make_nullable(schema: &mut Map<String, Value>) {
    match schema.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = t.clone();
            schema.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => {
            types.push(json!("null"))
        }
        _ => {}
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

fn unescape_pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Follows a JSON pointer (without the leading `#`) into the document.
pub fn resolve_pointer<'v>(root: &'v Value, ptr: &str) -> Result<&'v Value, String> {
    let decoded = percent_encoding::percent_decode_str(ptr).decode_utf8_lossy();
    root.pointer(&decoded)
        .ok_or_else(|| format!("`$ref: #{ptr}` does not resolve to anything in the document"))
}

/// Follows `$ref` chains on a non-schema object (parameter, request body, path item).
pub fn deref<'v>(root: &'v Value, mut value: &'v Value) -> Result<&'v Value, String> {
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let ptr = reference.strip_prefix('#').ok_or_else(|| {
                    format!("`$ref: {reference}` points outside the document; only local references are supported")
                })?;
                value = resolve_pointer(root, ptr)?;
            }
            None => return Ok(value),
        }
    }
    Err("`$ref` chain longer than 16 hops (a reference loop?)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(doc: Value, schema: Value, dialect: Dialect) -> (Value, Option<Map<String, Value>>) {
        let mut c = SchemaConverter::new(&doc, dialect);
        let out = c.convert(&schema).unwrap();
        (out, c.finish().unwrap())
    }

    #[test]
    fn inlines_refs_and_normalises_30() {
        let doc = json!({"components": {"schemas": {
            "Pet": {"type": "object", "nullable": true, "properties": {"kind": {"$ref": "#/components/schemas/Kind"}}, "x-internal": 1},
            "Kind": {"type": "string", "enum": ["dog", "cat"], "example": "dog"}
        }}});
        let (out, defs) = convert(
            doc,
            json!({"$ref": "#/components/schemas/Pet"}),
            Dialect::V30,
        );
        assert_eq!(
            out,
            json!({"type": ["object", "null"], "properties": {"kind": {"type": "string", "enum": ["dog", "cat"], "examples": ["dog"]}}})
        );
        assert!(defs.is_none());
        // Already nullable: `null` is not added twice.
        for schema in [json!({"type": "null"}), json!({"type": ["string", "null"]})] {
            let mut with_flag = schema.clone();
            with_flag["nullable"] = json!(true);
            let (out, _) = convert(json!({}), with_flag, Dialect::V30);
            assert_eq!(out, schema);
        }
    }

    #[test]
    fn boolean_exclusive_bounds() {
        let (out, _) = convert(
            json!({}),
            json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true, "maximum": 9}),
            Dialect::V30,
        );
        assert_eq!(
            out,
            json!({"type": "integer", "exclusiveMinimum": 1, "maximum": 9})
        );
    }

    #[test]
    fn recursive_schema_becomes_defs() {
        let doc = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}
        }}});
        let (out, defs) = convert(
            doc,
            json!({"$ref": "#/components/schemas/Node"}),
            Dialect::V31,
        );
        assert_eq!(
            out["properties"]["children"]["items"],
            json!({"$ref": "#/$defs/Node"})
        );
        let defs = defs.unwrap();
        assert_eq!(
            defs["Node"]["properties"]["children"]["items"],
            json!({"$ref": "#/$defs/Node"})
        );
    }

    #[test]
    fn exponential_references_are_bounded() {
        let mut schemas = Map::new();
        for i in 0..16 {
            schemas.insert(
                format!("S{i}"),
                json!({"type": "object", "properties": {
                    "a": {"$ref": format!("#/components/schemas/S{}", i + 1)},
                    "b": {"$ref": format!("#/components/schemas/S{}", i + 1)}}}),
            );
        }
        schemas.insert("S16".into(), json!({"type": "string"}));
        let doc = json!({"components": {"schemas": schemas}});
        let mut c = SchemaConverter::new(&doc, Dialect::V30);
        let err = c
            .convert(&json!({"$ref": "#/components/schemas/S0"}))
            .unwrap_err();
        assert!(err.contains("expands to more than"), "{err}");
    }

    /// review S8: a budget per tool alone let many operations expand without limit together.
    #[test]
    fn the_document_budget_is_shared_by_its_tools() {
        let doc = json!({"components": {"schemas": {"S": {"type": "object", "properties": {
            "a": {"type": "string"}, "b": {"type": "string"}}}}}});
        let schema = json!({"$ref": "#/components/schemas/S"});
        let probe = AtomicUsize::new(1000);
        SchemaConverter::new(&doc, Dialect::V31)
            .drawing_from(&probe)
            .convert(&schema)
            .unwrap();
        let each = 1000 - probe.load(Ordering::Relaxed);
        let left = AtomicUsize::new(2 * each + 1);
        for _ in 0..2 {
            let mut c = SchemaConverter::new(&doc, Dialect::V31).drawing_from(&left);
            c.convert(&schema).unwrap();
        }
        let mut c = SchemaConverter::new(&doc, Dialect::V31).drawing_from(&left);
        let err = c.convert(&schema).unwrap_err();
        assert!(err.contains("nodes in all"), "{err}");
    }

    #[test]
    fn external_and_dangling_refs_are_errors() {
        let doc = json!({});
        let mut c = SchemaConverter::new(&doc, Dialect::V30);
        assert!(
            c.convert(&json!({"$ref": "other.yaml#/X"}))
                .unwrap_err()
                .contains("outside the document")
        );
        assert!(
            c.convert(&json!({"$ref": "#/components/schemas/Nope"}))
                .unwrap_err()
                .contains("does not resolve")
        );
    }
}
