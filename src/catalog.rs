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

/// A tool as the importer produced it, before it joins the catalog.
#[derive(Debug, Clone)]
pub struct ToolDef {
    /// The exposed name, `{target}___{tool}`.
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    pub annotations: Option<Value>,
    pub target: usize,
    pub base_url: String,
    pub plan: CallPlan,
    /// `GET /pets/{petId}`, for `validate` output and logs.
    pub operation: String,
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
    /// Builds the catalog; a tool whose input schema is not valid JSON Schema is returned as a
    /// warning and left out.
    pub fn new(targets: Vec<Target>, mut defs: Vec<ToolDef>) -> (Self, Vec<String>) {
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut warnings = Vec::new();
        let mut tools = Vec::with_capacity(defs.len());
        for def in defs {
            if let Err(e) = jsonschema::meta::validate(&def.input_schema) {
                warnings.push(format!(
                    "tool {} ({}) skipped: its input schema is not valid JSON Schema: {e}",
                    def.name, def.operation
                ));
                continue;
            }
            let mut listing = serde_json::Map::new();
            listing.insert("name".into(), Value::String(def.name.clone()));
            listing.insert("description".into(), Value::String(def.description.clone()));
            listing.insert("inputSchema".into(), def.input_schema);
            if let Some(a) = def.annotations {
                listing.insert("annotations".into(), a);
            }
            let listing = serde_json::value::to_raw_value(&listing).expect("JSON values serialise");
            tools.push(Tool {
                name: def.name,
                description: def.description,
                operation: def.operation,
                target: def.target,
                base_url: def.base_url,
                plan: def.plan,
                listing,
                validator: OnceLock::new(),
            });
        }
        let index = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let targets = targets.into_iter().map(Arc::new).collect();
        (
            Self {
                targets,
                tools,
                index,
            },
            warnings,
        )
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
