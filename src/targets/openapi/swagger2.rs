//! Swagger 2.0 documents, upgraded to the OpenAPI 3.0 form the importer reads (AgentCore
//! takes only OpenAPI 3; many APIs still publish 2.0). The rules are the specification's own
//! correspondences:
//!
//! - `schemes` + `host` + `basePath` become `servers` (https first when listed; without a
//!   host the base path is a relative server, which `serverUrl` completes);
//! - `definitions` and `parameters` move under `components`, and every `$ref` follows;
//! - a `body` parameter becomes the `requestBody` in the operation's (or the document's)
//!   `consumes` media types; `formData` parameters become a form body's properties
//!   (`multipart/form-data` when a file is among them or `consumes` says so);
//! - other parameters get their `type`, `format`, `items`, `enum` and limits as a `schema`,
//!   and `collectionFormat` as `style`/`explode`.
//!
//! Responses are not read by the importer (see `tree`), so they are left as they are.

use serde_json::{Map, Value, json};

use super::OpenApiError;

/// Keys of a 2.0 parameter that belong to its schema in 3.0.
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
];
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// The document in OpenAPI 3.0 form.
pub fn upgrade(mut root: Value) -> Result<Value, OpenApiError> {
    let version = root.get("swagger").and_then(Value::as_str).unwrap_or("");
    if version != "2.0" {
        return Err(OpenApiError::Version(format!(
            "Swagger version `{version}` is not supported; expected 2.0"
        )));
    }
    rewrite_refs(&mut root);
    let Value::Object(doc) = &mut root else {
        return Err(OpenApiError::Structure(
            "the document is not an object".into(),
        ));
    };
    doc.remove("swagger");
    doc.insert("openapi".into(), "3.0.3".into());
    let host = doc.remove("host");
    let base = doc
        .remove("basePath")
        .and_then(|b| b.as_str().map(str::to_string))
        .unwrap_or_default();
    let schemes: Vec<String> = doc
        .remove("schemes")
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let scheme = if schemes.is_empty() || schemes.iter().any(|s| s == "https") {
        "https"
    } else {
        schemes[0].as_str()
    };
    let url = match host.as_ref().and_then(Value::as_str) {
        Some(h) => format!("{scheme}://{h}{base}"),
        None => base,
    };
    if !url.is_empty() {
        doc.insert("servers".into(), json!([{ "url": url }]));
    }
    let consumes = doc.remove("consumes");
    doc.remove("produces");
    let global_params = doc.remove("parameters").unwrap_or_default();
    let mut components = Map::new();
    if let Some(defs) = doc.remove("definitions") {
        components.insert("schemas".into(), defs);
    }
    doc.remove("securityDefinitions");
    doc.remove("responses");
    if !components.is_empty() {
        doc.insert("components".into(), Value::Object(components));
    }
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for item in paths.values_mut() {
            if let Value::Object(item) = item {
                upgrade_path(item, &global_params, consumes.as_ref());
            }
        }
    }
    Ok(root)
}

/// `#/definitions/X` → `#/components/schemas/X` everywhere. (Parameter references are
/// resolved into place instead, below: a body parameter has no 3.0 counterpart to point to.)
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(rest) = r.strip_prefix("#/definitions/")
            {
                *r = format!("#/components/schemas/{rest}");
            }
            m.values_mut().for_each(rewrite_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn upgrade_path(item: &mut Map<String, Value>, globals: &Value, consumes: Option<&Value>) {
    let shared: Vec<Value> = item
        .remove("parameters")
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|p| resolve(p, globals))
        .collect();
    for method in METHODS {
        let Some(Value::Object(op)) = item.get_mut(*method) else {
            continue;
        };
        let own: Vec<Value> = op
            .remove("parameters")
            .and_then(|p| p.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|p| resolve(p, globals))
            .collect();
        // The operation's parameters override the path's of the same name and place.
        let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
        let mut params: Vec<Value> = shared
            .iter()
            .filter(|s| !own.iter().any(|o| key(o) == key(s)))
            .cloned()
            .collect();
        params.extend(own);
        let consumes: Vec<String> = op
            .remove("consumes")
            .or_else(|| consumes.cloned())
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        op.remove("produces");
        op.remove("schemes");
        let mut out = Vec::new();
        let mut form = Map::new();
        let mut form_required = Vec::new();
        let mut has_file = false;
        for p in params {
            match p.get("in").and_then(Value::as_str) {
                Some("body") => {
                    let media = if consumes.is_empty() {
                        vec!["application/json".to_string()]
                    } else {
                        consumes.clone()
                    };
                    let schema = p.get("schema").cloned().unwrap_or(json!({}));
                    let content: Map<String, Value> = media
                        .into_iter()
                        .map(|m| (m, json!({ "schema": schema })))
                        .collect();
                    let mut body = Map::new();
                    if let Some(d) = p.get("description") {
                        body.insert("description".into(), d.clone());
                    }
                    body.insert(
                        "required".into(),
                        p.get("required").cloned().unwrap_or(false.into()),
                    );
                    body.insert("content".into(), Value::Object(content));
                    op.insert("requestBody".into(), Value::Object(body));
                }
                Some("formData") => {
                    let Some(name) = p.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let mut schema = schema_of(&p);
                    if schema.get("type").and_then(Value::as_str) == Some("file") {
                        has_file = true;
                        schema = json!({"type": "string", "format": "binary"});
                    }
                    if p.get("required").and_then(Value::as_bool) == Some(true) {
                        form_required.push(Value::String(name.to_string()));
                    }
                    form.insert(name.to_string(), schema);
                }
                _ => out.push(parameter(p)),
            }
        }
        if !form.is_empty() {
            let media = if has_file || consumes.iter().any(|c| c == "multipart/form-data") {
                "multipart/form-data"
            } else {
                "application/x-www-form-urlencoded"
            };
            let mut schema = json!({"type": "object", "properties": form});
            if !form_required.is_empty() {
                schema["required"] = Value::Array(form_required);
            }
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {media: {"schema": schema}}}),
            );
        }
        if !out.is_empty() {
            op.insert("parameters".into(), Value::Array(out));
        }
    }
}

/// A `#/parameters/X` reference, resolved (a missing one is left for the importer to report).
fn resolve(p: &Value, globals: &Value) -> Value {
    match p
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/parameters/"))
        .and_then(|name| globals.get(name))
    {
        Some(found) => found.clone(),
        None => p.clone(),
    }
}

/// The schema part of a 2.0 parameter (or of its `items`, recursively).
fn schema_of(p: &Value) -> Value {
    let mut schema = Map::new();
    if let Value::Object(m) = p {
        for k in SCHEMA_KEYS {
            if let Some(v) = m.get(*k) {
                let v = if *k == "items" {
                    schema_of(v)
                } else {
                    v.clone()
                };
                schema.insert((*k).to_string(), v);
            }
        }
    }
    Value::Object(schema)
}

/// A 2.0 path, query or header parameter in 3.0 form.
fn parameter(p: Value) -> Value {
    let Value::Object(m) = &p else {
        return p;
    };
    if m.contains_key("$ref") {
        return p;
    }
    let mut out = Map::new();
    for k in ["name", "in", "description", "required", "allowEmptyValue"] {
        if let Some(v) = m.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("schema".into(), schema_of(&p));
    let place = m.get("in").and_then(Value::as_str).unwrap_or("");
    let (style, explode) = match m.get("collectionFormat").and_then(Value::as_str) {
        Some("multi") => (Some("form"), true),
        Some("ssv") => (Some("spaceDelimited"), false),
        Some("pipes") => (Some("pipeDelimited"), false),
        _ if m.get("type").and_then(Value::as_str) == Some("array") => (
            Some(if place == "query" { "form" } else { "simple" }),
            false,
        ),
        _ => (None, false),
    };
    if let Some(style) = style {
        out.insert("style".into(), style.into());
        out.insert("explode".into(), explode.into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swagger_documents_become_openapi_3() {
        let doc = json!({
            "swagger": "2.0", "host": "api.example.com", "basePath": "/v2", "schemes": ["http", "https"],
            "consumes": ["application/json"],
            "parameters": {"Limit": {"name": "limit", "in": "query", "type": "integer", "maximum": 50}},
            "definitions": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "paths": {"/pets/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
                "post": {"operationId": "updatePet",
                         "parameters": [{"in": "body", "name": "pet", "required": true, "schema": {"$ref": "#/definitions/Pet"}},
                                        {"$ref": "#/parameters/Limit"},
                                        {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"}],
                         "responses": {}},
                "put": {"operationId": "uploadPhoto", "consumes": ["multipart/form-data"],
                        "parameters": [{"in": "formData", "name": "photo", "type": "file", "required": true},
                                       {"in": "formData", "name": "caption", "type": "string"}],
                        "responses": {}}}}
        });
        let up = upgrade(doc).unwrap();
        assert_eq!(up["openapi"], "3.0.3");
        assert_eq!(up["servers"][0]["url"], "https://api.example.com/v2");
        assert!(up["components"]["schemas"]["Pet"].is_object());
        let post = &up["paths"]["/pets/{id}"]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Pet"
        );
        assert_eq!(post["requestBody"]["required"], true);
        let params = post["parameters"].as_array().unwrap();
        assert_eq!(params[0]["name"], "id");
        assert_eq!(params[0]["schema"], json!({"type": "string"}));
        assert_eq!(
            params[1]["schema"],
            json!({"type": "integer", "maximum": 50})
        );
        assert_eq!(params[2]["style"], "form");
        assert_eq!(params[2]["explode"], true);
        let put = &up["paths"]["/pets/{id}"]["put"];
        let form = &put["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert_eq!(form["required"], json!(["photo"]));
        assert_eq!(form["properties"]["photo"]["format"], "binary");
        assert!(upgrade(json!({"swagger": "1.2"})).is_err());
    }
}
