//! Which upstream tools a target serves, and how: the allow-list and overrides of
//! `mcpServerToolConfiguration`, the `{target}___{tool}` name, and the checks a client must
//! make of a tool definition before offering it (a name MCP allows, an input schema that is
//! JSON Schema, `x-mcp-header` annotations that follow the 2026-07-28 transport's rules).
//! A tool that fails a check is left out with a reason; the others are served.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::Route;
use crate::common::names::{sanitize_tool_name, tool_name, valid_tool_name};
use crate::config::McpServerSettings;
use crate::config::model::McpToolOverride;
use crate::targets::tool::{Listing, Tool, ToolSet};

/// The curation rules of one target.
#[derive(Debug)]
pub struct Curation {
    target: String,
    filters: Option<Vec<String>>,
    overrides: HashMap<String, McpToolOverride>,
}

impl Curation {
    pub fn new(target: &str, settings: &McpServerSettings) -> Self {
        Self {
            target: target.to_string(),
            filters: settings.filters.clone(),
            overrides: settings
                .overrides
                .iter()
                .map(|o| (o.tool_name.clone(), o.clone()))
                .collect(),
        }
    }

    fn allowed(&self, name: &str) -> bool {
        match &self.filters {
            None => true,
            Some(filters) => filters.iter().any(|f| match f.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => f == name,
            }),
        }
    }

    /// The served tools among `upstream`'s definitions, and why any were left out.
    pub fn tools(&self, upstream: impl Iterator<Item = Value>) -> (ToolSet, Vec<String>) {
        let mut tools = Vec::new();
        let mut reasons = Vec::new();
        let mut names = HashSet::new();
        let mut overridden = HashSet::new();
        for def in upstream {
            let Value::Object(mut def) = def else {
                reasons.push("a tool definition that is not an object was left out".into());
                continue;
            };
            let Some(Value::String(upstream_name)) = def.remove("name") else {
                reasons.push("a tool definition without a name was left out".into());
                continue;
            };
            if !self.allowed(&upstream_name) {
                continue;
            }
            match self.tool(&upstream_name, def, &mut names) {
                Ok(tool) => {
                    if self.overrides.contains_key(&upstream_name) {
                        overridden.insert(upstream_name);
                    }
                    tools.push(Arc::new(tool));
                }
                Err(reason) => reasons.push(format!("tool `{upstream_name}` left out: {reason}")),
            }
        }
        for name in self.overrides.keys() {
            if !overridden.contains(name) {
                reasons.push(format!(
                    "toolOverrides names `{name}`, which the upstream does not offer (or the filters leave out)"
                ));
            }
        }
        (tools.into(), reasons)
    }

    fn tool(
        &self,
        upstream_name: &str,
        mut def: Map<String, Value>,
        names: &mut HashSet<String>,
    ) -> Result<Tool, String> {
        let over = self.overrides.get(upstream_name);
        let mut name = over
            .and_then(|o| o.name.clone())
            .unwrap_or_else(|| upstream_name.to_string());
        if !valid_tool_name(&name) {
            name = sanitize_tool_name(&name);
        }
        let full = tool_name(&self.target, &name);
        if !valid_tool_name(&full) {
            return Err(format!(
                "`{full}` is longer than the 128 characters MCP allows"
            ));
        }
        if !names.insert(full.clone()) {
            return Err(format!("`{full}` is already served by another tool"));
        }
        let input_schema = match def.remove("inputSchema") {
            Some(s @ Value::Object(_)) => s,
            _ => return Err("it has no inputSchema object".into()),
        };
        let params = header_params(&input_schema)?;
        let upstream_description = match def.remove("description") {
            Some(Value::String(d)) => Some(d),
            _ => None,
        };
        let description = over
            .and_then(|o| o.description.clone())
            .or(upstream_description)
            .unwrap_or_default();
        let listing = Listing {
            description,
            input_schema,
            extra: def,
        };
        let route = crate::targets::Route::Mcp(Route {
            name: upstream_name.to_string(),
            params,
        });
        Tool::new(full, upstream_name.to_string(), listing, route).map_err(|e| e.to_string())
    }
}

/// The `x-mcp-header` annotations of an input schema: for each, the `Mcp-Param-{name}` header
/// and the chain of `properties` keys that leads to it. An annotation that breaks a rule of
/// the transport (not a token, used twice, on a non-primitive, or not statically reachable)
/// makes the whole tool invalid, as the transport requires of clients.
fn header_params(schema: &Value) -> Result<Vec<(http::HeaderName, Vec<String>)>, String> {
    let mut found = Vec::new();
    walk(schema, &mut Vec::new(), true, &mut found)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, path) in found {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(format!("x-mcp-header `{name}` is used twice"));
        }
        let header = http::HeaderName::from_bytes(format!("mcp-param-{name}").as_bytes())
            .map_err(|_| format!("x-mcp-header `{name}` is not an HTTP token"))?;
        out.push((header, path));
    }
    Ok(out)
}

fn walk(
    schema: &Value,
    path: &mut Vec<String>,
    reachable: bool,
    found: &mut Vec<(String, Vec<String>)>,
) -> Result<(), String> {
    const MAX_DEPTH: usize = 64;
    let Value::Object(obj) = schema else {
        return Ok(());
    };
    if path.len() > MAX_DEPTH {
        return Err("its input schema nests too deeply".into());
    }
    if let Some(h) = obj.get("x-mcp-header") {
        let Value::String(name) = h else {
            return Err("an x-mcp-header value is not a string".into());
        };
        if !reachable || path.is_empty() {
            return Err(format!(
                "x-mcp-header `{name}` is not on a property reachable through `properties` alone"
            ));
        }
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!("x-mcp-header `{name}` is not an HTTP token"));
        }
        let primitive = matches!(
            obj.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "boolean")
        );
        if !primitive {
            return Err(format!(
                "x-mcp-header `{name}` is on a property that is not a string, integer or boolean"
            ));
        }
        found.push((name.clone(), path.clone()));
    }
    for (key, value) in obj {
        match (key.as_str(), value) {
            ("properties", Value::Object(props)) => {
                for (prop, sub) in props {
                    path.push(prop.clone());
                    let r = walk(sub, path, reachable, found);
                    path.pop();
                    r?;
                }
            }
            // Anything else that holds schemas: annotations there are not statically reachable.
            (_, Value::Object(_)) => walk(value, path, false, found)?,
            (_, Value::Array(items)) => {
                for item in items {
                    walk(item, path, false, found)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn header_params_follow_the_transport_rules() {
        let ok = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "nested": {"type": "object", "properties": {"id": {"type": "integer", "x-mcp-header": "Id"}}}
        }});
        let params = header_params(&ok).unwrap();
        assert_eq!(params.len(), 2);
        assert!(
            params
                .iter()
                .any(|(h, p)| h == "mcp-param-region" && p == &["region"])
        );
        assert!(
            params
                .iter()
                .any(|(h, p)| h == "mcp-param-id" && p == &["nested", "id"])
        );
        for bad in [
            json!({"type": "object", "properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "A b"}}}),
            json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}}),
            json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"type": "object", "oneOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
        ] {
            assert!(header_params(&bad).is_err(), "{bad}");
        }
    }

    fn settings(filters: Option<Vec<&str>>, overrides: Vec<McpToolOverride>) -> McpServerSettings {
        McpServerSettings {
            endpoint: url::Url::parse("http://127.0.0.1:1/mcp").unwrap(),
            tool_schema: None,
            listing_mode: Default::default(),
            resource_priority: 1000,
            filters: filters.map(|f| f.into_iter().map(String::from).collect()),
            overrides,
        }
    }

    #[test]
    fn filters_overrides_and_left_out_tools() {
        let c = Curation::new(
            "up",
            &settings(
                Some(vec!["get_*", "echo"]),
                vec![McpToolOverride {
                    tool_name: "echo".into(),
                    name: Some("say".into()),
                    description: Some("Says it back".into()),
                }],
            ),
        );
        let defs = vec![
            json!({"name": "echo", "description": "Echo", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}}),
            json!({"name": "get_a", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}),
            json!({"name": "delete_all", "inputSchema": {"type": "object"}}),
            json!({"name": "get_b"}),
        ];
        let (tools, reasons) = c.tools(defs.into_iter());
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["up___say", "up___get_a"]);
        let say: Value = serde_json::from_str(tools[0].listing().get()).unwrap();
        assert_eq!(say["description"], "Says it back");
        assert_eq!(say["annotations"], json!({"readOnlyHint": true}));
        let get_a: Value = serde_json::from_str(tools[1].listing().get()).unwrap();
        assert_eq!(get_a["outputSchema"], json!({"type": "object"}));
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("get_b") && reasons[0].contains("inputSchema"));
    }
}
