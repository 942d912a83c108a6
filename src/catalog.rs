//! The catalog: an immutable snapshot of every tool the gateway serves, built once from the
//! targets. Tools are sorted by name (a deterministic `tools/list` order and stable cursors),
//! found by name in O(1), and each tool's listing JSON is serialised once, up front, so a
//! `tools/list` page is written from ready bytes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::invoke::plan::CallPlan;
use crate::outbound;

/// A target at run time: where its tools' requests go and how they are authenticated.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    pub credentials: outbound::Credentials,
    pub timeout: Duration,
}

/// A tool as the importer produced it, before it joins the catalog. Its listing is checked
/// and serialised as soon as the tool is derived ([`ToolDef::new`]), so a large import holds
/// compact bytes rather than JSON trees while the rest of the document is read.
#[derive(Debug)]
pub struct ToolDef {
    /// The exposed name, `{target}___{tool}`.
    pub name: String,
    /// `GET /pets/{petId}`, for `validate` output and logs.
    pub operation: String,
    pub description: String,
    pub target: usize,
    pub base_url: String,
    pub plan: CallPlan,
    listing: Box<RawValue>,
}

/// Where a tool's requests go and how its arguments are placed: what [`ToolDef::new`] needs
/// besides the listing fields.
#[derive(Debug)]
pub struct Route {
    pub target: usize,
    pub base_url: String,
    pub plan: CallPlan,
    pub operation: String,
}

impl ToolDef {
    /// Checks `input_schema` against the JSON Schema meta-schema and serialises the tool's
    /// listing (`name`, `description`, `inputSchema`, `annotations`). The error says why the
    /// schema is not valid JSON Schema.
    pub fn new(
        name: String,
        description: String,
        input_schema: Value,
        annotations: Option<Value>,
        route: Route,
    ) -> Result<Self, String> {
        jsonschema::meta::validate(&input_schema)
            .map_err(|e| format!("its input schema is not valid JSON Schema: {e}"))?;
        let mut listing = serde_json::Map::new();
        listing.insert("name".into(), Value::String(name.clone()));
        listing.insert("description".into(), Value::String(description.clone()));
        listing.insert("inputSchema".into(), input_schema);
        if let Some(a) = annotations {
            listing.insert("annotations".into(), a);
        }
        let listing = serde_json::value::to_raw_value(&listing).map_err(|e| e.to_string())?;
        Ok(Self {
            name,
            operation: route.operation,
            description,
            target: route.target,
            base_url: route.base_url,
            plan: route.plan,
            listing,
        })
    }
}

/// A tool in the catalog. Its input schema lives only in the pre-serialised listing; the
/// validator is compiled from it on the tool's first call (a catalog of 10,000 tools does not
/// hold 10,000 compiled validators).
pub struct Tool {
    pub name: String,
    pub description: String,
    /// `GET /pets/{petId}`.
    pub operation: String,
    pub target: usize,
    pub base_url: String,
    pub plan: CallPlan,
    listing: Box<RawValue>,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// The argument validator, compiled on first use.
    pub fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        self.validator
            .get_or_init(|| {
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Listing {
                    input_schema: Value,
                }
                let listing: Listing =
                    serde_json::from_str(self.listing.get()).map_err(|e| e.to_string())?;
                jsonschema::draft202012::new(&listing.input_schema).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

#[derive(Debug, Default)]
pub struct Catalog {
    targets: Vec<Arc<Target>>,
    tools: Vec<Tool>,
    index: HashMap<String, usize>,
}

impl Catalog {
    /// Builds the catalog from tools with distinct names.
    pub fn new(targets: Vec<Target>, mut defs: Vec<ToolDef>) -> Self {
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        let tools: Vec<Tool> = defs
            .into_iter()
            .map(|def| Tool {
                name: def.name,
                description: def.description,
                operation: def.operation,
                target: def.target,
                base_url: def.base_url,
                plan: def.plan,
                listing: def.listing,
                validator: OnceLock::new(),
            })
            .collect();
        let index = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let targets = targets.into_iter().map(Arc::new).collect();
        Self {
            targets,
            tools,
            index,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.index.get(name).map(|&i| &self.tools[i])
    }

    pub fn target(&self, index: usize) -> &Arc<Target> {
        &self.targets[index]
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The listing JSON of tools `[start, start + count)`, and whether more follow.
    pub fn page(&self, start: usize, count: usize) -> (Vec<&RawValue>, bool) {
        let end = start.saturating_add(count).min(self.tools.len());
        let page = self.tools[start.min(end)..end]
            .iter()
            .map(|t| t.listing.as_ref())
            .collect();
        (page, end < self.tools.len())
    }
}

/// MCP's tool name rule: 1-128 of `A-Z a-z 0-9 _ - .`.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Replaces characters MCP does not allow in tool names with `_`.
pub fn sanitize_tool_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route() -> Route {
        Route {
            target: 0,
            base_url: "http://127.0.0.1:1".into(),
            plan: CallPlan {
                method: http::Method::GET,
                path_template: "/".into(),
                bindings: Vec::new(),
                body: None,
            },
            operation: "GET /".into(),
        }
    }

    #[test]
    fn a_tool_is_listed_from_its_checked_serialised_schema() {
        let schema = json!({"type": "object", "properties": {"id": {"type": "string"}}});
        let def = ToolDef::new("t___a".into(), "A".into(), schema.clone(), None, route()).unwrap();
        let catalog = Catalog::new(Vec::new(), vec![def]);
        let tool = catalog.get("t___a").unwrap();
        let (page, more) = catalog.page(0, 10);
        assert!(!more);
        let listed: Value = serde_json::from_str(page[0].get()).unwrap();
        assert_eq!(
            listed,
            json!({"name": "t___a", "description": "A", "inputSchema": schema})
        );
        let validator = tool.validator().unwrap();
        assert!(validator.is_valid(&json!({"id": "7"})));
        assert!(!validator.is_valid(&json!({"id": 7})));
    }

    #[test]
    fn a_schema_that_is_not_json_schema_is_refused_with_the_reason() {
        let schema = json!({"type": "object", "properties": {"id": {"type": "strin"}}});
        let e = ToolDef::new("t___a".into(), "A".into(), schema, None, route()).unwrap_err();
        assert!(e.contains("not valid JSON Schema"), "{e}");
        assert!(e.contains("strin"), "{e}");
    }
}
