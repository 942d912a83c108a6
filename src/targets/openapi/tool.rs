//! From one OpenAPI operation to one MCP tool: the flat input schema AgentCore produces, the
//! tool annotations, and the [`CallPlan`] that says where each argument goes.
//!
//! Flattening rule (documented in README "OpenAPI to tools"):
//! - path, query and header parameters, then the JSON body's properties, side by side at the
//!   top level; `required` merged (path parameters always; the body's own `required` only when
//!   the request body itself is required);
//! - a name already taken by an earlier item is exposed as `{location}_{name}` (`query_id`,
//!   `header_id`, `body_id`); if that is taken too the operation is skipped;
//! - a body that is not a plain object schema (array, scalar, `oneOf`/`anyOf`/`allOf` at its
//!   top) is one argument named `body`;
//! - `Accept`, `Content-Type` and `Authorization` header parameters are ignored, as OpenAPI
//!   says, and so are the framing, routing and credential headers of
//!   [`crate::common::headers`] (with a warning; a required one makes the operation
//!   uncallable); cookie parameters are not sent (a required one makes the operation
//!   uncallable).

use serde_json::{Map, Value, json};

use super::schema::SchemaConverter;
use super::{Document, Location, Operation};
use crate::common::headers;
use crate::common::names::HttpMethod;
use crate::targets::http::plan::{Binding, BodyEncoding, CallPlan, Place, Style};

/// What one operation becomes.
#[derive(Debug, Clone)]
pub struct DerivedTool {
    pub input_schema: Value,
    pub annotations: Option<Value>,
    pub plan: CallPlan,
    /// Remarks that did not prevent the tool (e.g. a dropped optional cookie parameter).
    pub warnings: Vec<String>,
}

/// Derives the tool for `op`, or says why the gateway cannot call it.
pub fn derive(doc: &Document, op: &Operation) -> Result<DerivedTool, String> {
    let mut converter = SchemaConverter::new(&doc.root, doc.dialect).drawing_from(&doc.nodes_left);
    let mut properties = Map::new();
    let mut required: Vec<String> = Vec::new();
    let mut bindings = Vec::new();
    let mut warnings = Vec::new();

    let ordered = [Location::Path, Location::Query, Location::Header]
        .into_iter()
        .flat_map(|loc| op.parameters.iter().filter(move |p| p.location == loc));
    for p in ordered {
        if p.location == Location::Header
            && ["accept", "content-type", "authorization"]
                .contains(&p.name.to_ascii_lowercase().as_str())
        {
            continue;
        }
        if p.location == Location::Header && headers::is_forbidden(p.name) {
            if p.required {
                return Err(format!(
                    "required header parameter `{}` is one the gateway does not let arguments set (framing, routing or credentials)",
                    p.name
                ));
            }
            warnings.push(format!(
                "{}: header parameter `{}` is not exposed: arguments may not set framing, routing or credential headers",
                op.label(),
                p.name
            ));
            continue;
        }
        if p.location == Location::Header
            && http::HeaderName::from_bytes(p.name.as_bytes()).is_err()
        {
            return Err(format!(
                "header parameter `{}` is not a valid header name",
                p.name
            ));
        }
        let mut schema = match p.schema {
            Some(s) => converter
                .convert(s)
                .map_err(|e| format!("parameter `{}`: {e}", p.name))?,
            None => json!({}),
        };
        if let (Some(d), Value::Object(s)) = (p.description, &mut schema) {
            s.entry("description").or_insert_with(|| json!(d));
        }
        let arg = free_name(&properties, p.name, p.location.as_str())?;
        let style = style_for(p.location, p.style).ok_or_else(|| {
            format!(
                "parameter `{}` uses style `{}`, which the gateway cannot serialise",
                p.name,
                p.style.unwrap_or("")
            )
        })?;
        let explode = p.explode.unwrap_or(style == Style::Form);
        let accepts_scalar = is_string_schema(&schema);
        properties.insert(arg.clone(), schema);
        if p.required {
            required.push(arg.clone());
        }
        let target = match p.location {
            Location::Path => Place::Path(p.name.to_string()),
            Location::Query => Place::Query(p.name.to_string()),
            Location::Header => Place::Header(p.name.to_string()),
            Location::Cookie => unreachable!("cookies are filtered out above"),
        };
        bindings.push(Binding {
            arg,
            target,
            style,
            explode,
            accepts_scalar,
        });
    }
    for p in op
        .parameters
        .iter()
        .filter(|p| p.location == Location::Cookie)
    {
        if p.required {
            return Err(format!(
                "required cookie parameter `{}` cannot be sent by the gateway",
                p.name
            ));
        }
        warnings.push(format!(
            "{}: optional cookie parameter `{}` is not exposed",
            op.label(),
            p.name
        ));
    }
    if let Some(segment) = op.path.split(['/', '?', '#']).find(|s| is_dot_segment(s)) {
        return Err(format!(
            "path segment `{segment}` is a dot-segment: URL normalisation would send the call to another path"
        ));
    }
    for placeholder in path_placeholders(op.path) {
        if !bindings
            .iter()
            .any(|b| matches!(&b.target, Place::Path(n) if *n == placeholder))
        {
            return Err(format!(
                "path placeholder `{{{placeholder}}}` has no path parameter"
            ));
        }
    }

    let mut body = None;
    if let Some(rb) = op.request_body {
        let body_required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
        match pick_media(rb) {
            Some((encoding, media)) => {
                let schema = match media.get("schema") {
                    Some(s) => converter
                        .convert(s)
                        .map_err(|e| format!("request body: {e}"))?,
                    None => json!({}),
                };
                body = Some(encoding);
                if is_flat_object(&schema) {
                    let body_required_props: Vec<&str> = schema
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                        let arg = free_name(&properties, name, "body")?;
                        properties.insert(arg.clone(), prop.clone());
                        if body_required && body_required_props.contains(&name.as_str()) {
                            required.push(arg.clone());
                        }
                        bindings.push(Binding {
                            arg,
                            target: Place::BodyProperty(name.clone()),
                            style: Style::Simple,
                            explode: false,
                            accepts_scalar: false,
                        });
                    }
                } else {
                    let arg = free_name(&properties, "body", "request")?;
                    properties.insert(arg.clone(), schema);
                    if body_required {
                        required.push(arg.clone());
                    }
                    bindings.push(Binding {
                        arg,
                        target: Place::WholeBody,
                        style: Style::Simple,
                        explode: false,
                        accepts_scalar: false,
                    });
                }
            }
            None => {
                let types: Vec<&String> = rb
                    .get("content")
                    .and_then(Value::as_object)
                    .map(|c| c.keys().collect())
                    .unwrap_or_default();
                let listed = types
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if body_required {
                    return Err(format!(
                        "request body media type {listed} is not supported (JSON and form-urlencoded are)"
                    ));
                }
                warnings.push(format!(
                    "{}: optional request body ({listed}) is not exposed",
                    op.label()
                ));
            }
        }
    }

    let mut input_schema = Map::new();
    input_schema.insert("type".into(), json!("object"));
    input_schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        input_schema.insert("required".into(), json!(required));
    }
    if let Some(defs) = converter.finish()? {
        input_schema.insert("$defs".into(), Value::Object(defs));
    }
    Ok(DerivedTool {
        input_schema: Value::Object(input_schema),
        annotations: annotations(op.method),
        plan: CallPlan {
            method: op.method.to_http(),
            path_template: op.path.to_string(),
            bindings,
            body,
        },
        warnings,
    })
}

/// `{location}_{name}` when `name` is taken; an error when that is taken too.
fn free_name(taken: &Map<String, Value>, name: &str, location: &str) -> Result<String, String> {
    if !taken.contains_key(name) {
        return Ok(name.to_string());
    }
    let alt = format!("{location}_{name}");
    if taken.contains_key(&alt) {
        return Err(format!(
            "argument names `{name}` and `{alt}` are both taken"
        ));
    }
    Ok(alt)
}

/// `.` and `..`, also percent-encoded (`%2e`, `.%2E`, ...): URL parsers resolve all of them.
fn is_dot_segment(segment: &str) -> bool {
    let s = segment.to_ascii_lowercase().replace("%2e", ".");
    s == "." || s == ".."
}

fn path_placeholders(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_string()))
}

/// JSON first (any `application/json` or `+json` type), then form-urlencoded.
fn pick_media(request_body: &Value) -> Option<(BodyEncoding, &Value)> {
    let content = request_body.get("content")?.as_object()?;
    let is_json = |t: &str| {
        let t = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        t == "application/json" || t.ends_with("+json") || t == "*/*"
    };
    if let Some((t, m)) = content.iter().find(|(t, _)| is_json(t)) {
        let content_type = if t == "*/*" {
            "application/json".to_string()
        } else {
            t.clone()
        };
        return Some((BodyEncoding::Json { content_type }, m));
    }
    content
        .iter()
        .find(|(t, _)| t.starts_with("application/x-www-form-urlencoded"))
        .map(|(_, m)| (BodyEncoding::Form, m))
}

/// A schema of type `string` (or `[string, null]`): a parameter that is text on the wire.
fn is_string_schema(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => {
            ts.iter().any(|t| t == "string") && ts.iter().all(|t| t == "string" || t == "null")
        }
        _ => false,
    }
}

/// An object schema whose properties can be spread at the top level.
fn is_flat_object(schema: &Value) -> bool {
    let Some(obj) = schema.as_object() else {
        return false;
    };
    let is_object_type = match obj.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(_) => false,
        None => true,
    };
    is_object_type
        && obj.get("properties").is_some_and(Value::is_object)
        && !["allOf", "anyOf", "oneOf", "not", "if"]
            .iter()
            .any(|k| obj.contains_key(*k))
}

/// MCP tool annotations from the HTTP method's semantics.
fn annotations(method: HttpMethod) -> Option<Value> {
    match method {
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Options => {
            Some(json!({"readOnlyHint": true}))
        }
        HttpMethod::Delete => {
            Some(json!({"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true}))
        }
        HttpMethod::Put => Some(json!({"readOnlyHint": false, "idempotentHint": true})),
        HttpMethod::Post | HttpMethod::Patch => None,
    }
}

/// The style for a parameter in `location`, defaulting as OpenAPI does; `None` when the
/// declared style is not one the gateway can produce there.
fn style_for(location: Location, declared: Option<&str>) -> Option<Style> {
    match (location, declared) {
        (Location::Path | Location::Header, None | Some("simple")) => Some(Style::Simple),
        (Location::Query, None | Some("form")) => Some(Style::Form),
        (Location::Query, Some("spaceDelimited")) => Some(Style::SpaceDelimited),
        (Location::Query, Some("pipeDelimited")) => Some(Style::PipeDelimited),
        (Location::Query, Some("deepObject")) => Some(Style::DeepObject),
        (Location::Cookie, None | Some("form")) => Some(Style::Form),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive_one(doc: Value) -> Result<DerivedTool, String> {
        let doc = Document::from_value(doc).unwrap();
        let (ops, w) = doc.operations();
        assert!(w.is_empty(), "{w:?}");
        derive(&doc, &ops[0])
    }

    #[test]
    fn flattens_parameters_and_body_like_agentcore() {
        let t = derive_one(json!({
            "openapi": "3.0.1",
            "paths": {"/pets/{petId}": {"post": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "boolean"}, "description": "only check"},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    {"name": "Authorization", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                "responses": {"200": {"description": "ok"}}}}},
            "components": {"schemas": {"Pet": {"type": "object", "required": ["type"],
                "properties": {"type": {"type": "string", "enum": ["dog", "cat"]}, "petId": {"type": "integer"}}}}}
        }))
        .unwrap();
        assert_eq!(
            t.input_schema,
            json!({"type": "object", "properties": {
                "petId": {"type": "string"},
                "dryRun": {"type": "boolean", "description": "only check"},
                "X-Trace": {"type": "string"},
                "type": {"type": "string", "enum": ["dog", "cat"]},
                "body_petId": {"type": "integer"}},
                "required": ["petId", "type"]})
        );
        assert_eq!(t.plan.bindings.len(), 5);
        assert!(matches!(&t.plan.bindings[4].target, Place::BodyProperty(n) if n == "petId"));
        assert!(t.annotations.is_none());
    }

    #[test]
    fn non_object_body_is_one_argument() {
        let t = derive_one(json!({
            "openapi": "3.1.0",
            "paths": {"/batch": {"put": {
                "requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}},
                "responses": {}}}}
        }))
        .unwrap();
        assert_eq!(
            t.input_schema["properties"]["body"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert!(t.input_schema.get("required").is_none());
        assert_eq!(
            t.annotations,
            Some(json!({"readOnlyHint": false, "idempotentHint": true}))
        );
    }

    #[test]
    fn compositions_pass_through() {
        let t = derive_one(json!({
            "openapi": "3.0.1",
            "paths": {"/shapes": {"post": {
                "parameters": [{"name": "id", "in": "query", "schema": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "allOf": [{"$ref": "#/components/schemas/A"}, {"type": "object", "properties": {"b": {"type": "string"}}}]}}}},
                "responses": {}}}},
            "components": {"schemas": {"A": {"type": "object", "properties": {"a": {"type": "integer"}}}}}
        }))
        .unwrap();
        assert_eq!(
            t.input_schema["properties"]["id"],
            json!({"oneOf": [{"type": "integer"}, {"type": "string"}]})
        );
        assert_eq!(
            t.input_schema["properties"]["body"],
            json!({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}, {"type": "object", "properties": {"b": {"type": "string"}}}]})
        );
        assert_eq!(t.input_schema["required"], json!(["body"]));
    }

    #[test]
    fn uncallable_operations_say_why() {
        let err = derive_one(json!({"openapi": "3.1.0", "paths": {"/x": {"post": {
            "requestBody": {"required": true, "content": {"application/octet-stream": {}}}}}}}))
        .unwrap_err();
        assert!(err.contains("application/octet-stream"), "{err}");
        let err =
            derive_one(json!({"openapi": "3.1.0", "paths": {"/x/{id}": {"get": {}}}})).unwrap_err();
        assert!(err.contains("{id}"), "{err}");
        for path in ["/a/../b", "/a/./b", "/%2e%2E/b", "/a/.%2e"] {
            let doc = json!({"openapi": "3.1.0", "paths": {path: {"get": {}}}});
            let err = derive_one(doc).unwrap_err();
            assert!(err.contains("dot-segment"), "{path}: {err}");
        }
        assert!(
            derive_one(json!({"openapi": "3.1.0", "paths": {"/a/..b/.well-known": {"get": {}}}}))
                .is_ok()
        );
    }
}
