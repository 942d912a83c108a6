//! The OpenAPI importer: reads an OpenAPI 3.0 or 3.1 document (or a Swagger 2.0 one, upgraded
//! by [`swagger2`]; JSON or YAML, including API
//! Gateway exports with their `x-amazon-apigateway-*` extensions) into a list of operations,
//! and derives from each operation an MCP tool: its flat input schema and a call plan.
//!
//! One code path serves both dialects: the document stays a JSON tree (schemas are copied
//! exactly, never re-serialised through a typed model; [`tree`] leaves out what no tool is
//! made of), and dialect differences are handled in [`schema`]. For 3.0 documents each operation is also checked against `openapiv3`'s typed
//! model; an operation that fails that check, or that the gateway cannot call, is skipped with
//! a warning naming it, and the rest of the document still loads.

pub mod schema;
mod swagger2;
pub mod tool;
mod tree;

use serde_json::Value;

use crate::common::names::HttpMethod;
pub use schema::Dialect;

/// Why a document could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("not valid JSON or YAML: {0}")]
    Syntax(String),
    #[error("{0}")]
    Version(String),
    #[error("{0}")]
    Structure(String),
}

/// A parsed document.
#[derive(Debug)]
pub struct Document {
    pub root: Value,
    pub dialect: Dialect,
    /// Schema nodes the document's tools may still expand to (see [`schema`]).
    pub nodes_left: std::sync::atomic::AtomicUsize,
}

/// Where a parameter goes in the HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

impl Location {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "path" => Some(Self::Path),
            "query" => Some(Self::Query),
            "header" => Some(Self::Header),
            "cookie" => Some(Self::Cookie),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
        }
    }
}

/// One parameter, `$ref`s followed. Like [`Operation`], it borrows from the document.
#[derive(Debug, Clone)]
pub struct Parameter<'a> {
    pub name: &'a str,
    pub location: Location,
    pub required: bool,
    pub description: Option<&'a str>,
    /// `None` when the parameter declares no schema (anything goes).
    pub schema: Option<&'a Value>,
    pub style: Option<&'a str>,
    pub explode: Option<bool>,
}

/// One operation of the document. It borrows from the document rather than copying it: a
/// 10,000-operation export is read once, not held twice, while its tools are derived.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    pub method: HttpMethod,
    pub path: &'a str,
    pub operation_id: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub description: Option<&'a str>,
    pub parameters: Vec<Parameter<'a>>,
    /// The request body object, `$ref`s followed.
    pub request_body: Option<&'a Value>,
    /// Effective security requirements (operation's, else the document's).
    pub security: Option<&'a Value>,
    /// Effective `servers` (operation's, else the path item's, else the document's).
    pub servers: Option<&'a Value>,
}

impl Operation<'_> {
    /// `GET /pets/{petId}`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

impl Document {
    /// Parses JSON or YAML text and checks the `openapi` version field.
    pub fn parse(text: &str) -> Result<Self, OpenApiError> {
        let trimmed = text.trim_start();
        let root: Value = if trimmed.starts_with('{') {
            tree::from_json(text).map_err(|e| OpenApiError::Syntax(e.to_string()))?
        } else {
            tree::from_yaml(text).map_err(|e| OpenApiError::Syntax(e.to_string()))?
        };
        Self::from_value(root)
    }

    pub fn from_value(root: Value) -> Result<Self, OpenApiError> {
        if !root.is_object() {
            return Err(OpenApiError::Structure(
                "the document is not a JSON/YAML object".into(),
            ));
        }
        // Beyond AgentCore, which takes only OpenAPI 3: Swagger 2.0 is upgraded first.
        let root = if root.get("swagger").is_some() {
            swagger2::upgrade(root)?
        } else {
            root
        };
        let version = root
            .get("openapi")
            .and_then(Value::as_str)
            .ok_or_else(|| OpenApiError::Version("missing `openapi` version field".into()))?;
        let dialect = if version.starts_with("3.0.") || version == "3.0" {
            Dialect::V30
        } else if version.starts_with("3.1.") || version == "3.1" {
            Dialect::V31
        } else {
            return Err(OpenApiError::Version(format!(
                "OpenAPI version `{version}` is not supported; expected 3.0.x or 3.1.x"
            )));
        };
        match root.get("paths") {
            Some(Value::Object(_)) => {}
            None if dialect == Dialect::V31 => {}
            _ => return Err(OpenApiError::Structure("`paths` must be an object".into())),
        }
        Ok(Self {
            root,
            dialect,
            nodes_left: std::sync::atomic::AtomicUsize::new(schema::MAX_DOCUMENT_NODES),
        })
    }

    /// All operations in document order, plus a warning for each one skipped.
    pub fn operations(&self) -> (Vec<Operation<'_>>, Vec<String>) {
        let mut ops = Vec::new();
        let mut warnings = Vec::new();
        let Some(paths) = self.root.get("paths").and_then(Value::as_object) else {
            return (ops, warnings);
        };
        let doc_security = self.root.get("security");
        let doc_servers = self.root.get("servers");
        for (path, item) in paths {
            if !path.starts_with('/') {
                warnings.push(format!("path `{path}` skipped: paths must start with `/`"));
                continue;
            }
            let item = match schema::deref(&self.root, item) {
                Ok(Value::Object(item)) => item,
                Ok(_) => {
                    warnings.push(format!("path `{path}` skipped: not an object"));
                    continue;
                }
                Err(e) => {
                    warnings.push(format!("path `{path}` skipped: {e}"));
                    continue;
                }
            };
            let common = item.get("parameters");
            for method in HttpMethod::ALL {
                let Some(op) = item.get(method.openapi_key()) else {
                    continue;
                };
                let label = format!("{} {path}", method.as_str());
                match self.operation(method, path, op, common) {
                    Ok(mut operation) => {
                        operation.security = op.get("security").or(doc_security);
                        operation.servers =
                            op.get("servers").or(item.get("servers")).or(doc_servers);
                        ops.push(operation);
                    }
                    Err(e) => warnings.push(format!("operation {label} skipped: {e}")),
                }
            }
        }
        (ops, warnings)
    }

    fn operation<'a>(
        &'a self,
        method: HttpMethod,
        path: &'a str,
        op: &'a Value,
        common: Option<&'a Value>,
    ) -> Result<Operation<'a>, String> {
        if self.dialect == Dialect::V30 {
            serde_path_to_error::deserialize::<_, openapiv3::Operation>(op).map_err(|e| {
                format!(
                    "not a valid OpenAPI 3.0 operation at `{}`: {}",
                    e.path(),
                    e.inner()
                )
            })?;
        }
        let text = |key: &str| op.get(key).and_then(Value::as_str);
        let mut parameters: Vec<Parameter<'a>> = Vec::new();
        // Path-level parameters first; an operation-level one with the same name and location
        // replaces it (OpenAPI's rule).
        for list in [common, op.get("parameters")].into_iter().flatten() {
            let list = list.as_array().ok_or("`parameters` must be a list")?;
            for p in list {
                let p = self.parameter(p)?;
                parameters.retain(|q| !(q.name == p.name && q.location == p.location));
                parameters.push(p);
            }
        }
        let request_body = match op.get("requestBody") {
            Some(b) => Some(schema::deref(&self.root, b)?),
            None => None,
        };
        Ok(Operation {
            method,
            path,
            operation_id: text("operationId"),
            summary: text("summary"),
            description: text("description"),
            parameters,
            request_body,
            security: None,
            servers: None,
        })
    }

    fn parameter<'a>(&'a self, p: &'a Value) -> Result<Parameter<'a>, String> {
        let p = schema::deref(&self.root, p)?;
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a parameter has no `name`")?;
        let location = p
            .get("in")
            .and_then(Value::as_str)
            .and_then(Location::parse)
            .ok_or_else(|| {
                format!("parameter `{name}` has no valid `in` (path, query, header, cookie)")
            })?;
        // `content` instead of `schema`: take the first media type's schema.
        let schema = p.get("schema").or_else(|| {
            p.get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
        });
        Ok(Parameter {
            name,
            location,
            required: location == Location::Path
                || p.get("required").and_then(Value::as_bool).unwrap_or(false),
            description: p.get("description").and_then(Value::as_str),
            schema,
            style: p.get("style").and_then(Value::as_str),
            explode: p.get("explode").and_then(Value::as_bool),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions() {
        assert!(
            matches!(Document::parse(r#"{"swagger": "1.2"}"#), Err(OpenApiError::Version(m)) if m.contains("Swagger version `1.2`"))
        );
        assert!(matches!(
            Document::parse("openapi: 4.0.0\npaths: {}\n"),
            Err(OpenApiError::Version(_))
        ));
        assert_eq!(
            Document::parse("openapi: 3.1.0\n").unwrap().dialect,
            Dialect::V31
        );
        assert!(matches!(
            Document::parse("[1]"),
            Err(OpenApiError::Structure(_))
        ));
        assert!(matches!(Document::parse("{"), Err(OpenApiError::Syntax(_))));
    }

    #[test]
    fn operations_merge_path_parameters_and_skip_broken_ones() {
        let doc = Document::from_value(json!({
            "openapi": "3.0.1",
            "paths": {
                "/pets/{petId}": {
                    "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "string"}},
                                   {"name": "v", "in": "query", "schema": {"type": "string"}}],
                    "get": {"operationId": "GetPet", "responses": {"200": {"description": "ok"}},
                            "parameters": [{"$ref": "#/components/parameters/V"}]},
                    "put": {"operationId": "Broken"}
                }
            },
            "components": {"parameters": {"V": {"name": "v", "in": "query", "required": true, "schema": {"type": "integer"}}}}
        }))
        .unwrap();
        let (ops, warnings) = doc.operations();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].operation_id, Some("GetPet"));
        assert_eq!(ops[0].parameters.len(), 2);
        assert_eq!(
            ops[0].parameters[1].schema,
            Some(&json!({"type": "integer"}))
        );
        assert!(ops[0].parameters[1].required);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("PUT /pets/{petId}"), "{warnings:?}");
        assert!(warnings[0].contains("responses"), "{warnings:?}");
    }
}
