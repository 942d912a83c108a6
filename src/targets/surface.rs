//! What a target offers besides tools: the prompts, resources and resource templates of an
//! MCP server, and the capabilities behind them. Other kinds offer none.
//!
//! Prompts are renamed `{target}___{prompt}`, as tools are. Resources and templates keep
//! their URIs, as AgentCore does: a URI names the same thing whoever serves it, and when two
//! targets serve one, the catalog picks by `resourcePriority`. Each listing is kept as the
//! upstream wrote it (only a prompt's name is rewritten), serialised once, so a page is
//! written without parsing it again.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::common::names::tool_name;
use crate::common::uri_template::UriTemplate;

/// Prompts, resources or templates one target may offer.
pub const MAX_ITEMS: usize = 10_000;

/// What an upstream said it can do (its `capabilities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub prompts: bool,
    pub resources: bool,
    /// `resources.subscribe`.
    pub subscribe: bool,
    pub completions: bool,
    pub logging: bool,
    /// The `io.modelcontextprotocol/tasks` extension (2026-07-28).
    pub tasks: bool,
    /// Task-augmented `tools/call` (2025-11-25 `tasks.requests.tools.call`).
    pub task_calls: bool,
}

/// The tasks extension's identifier.
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

impl Caps {
    /// The capabilities object of an `initialize` or `server/discover` result.
    pub fn of(capabilities: Option<&Value>) -> Self {
        let has = |k: &str| {
            capabilities
                .and_then(|c| c.get(k))
                .is_some_and(Value::is_object)
        };
        Self {
            prompts: has("prompts"),
            resources: has("resources"),
            subscribe: capabilities
                .and_then(|c| c.pointer("/resources/subscribe"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            completions: has("completions"),
            logging: has("logging"),
            tasks: capabilities
                .and_then(|c| c.get("extensions"))
                .and_then(|e| e.get(TASKS_EXTENSION))
                .is_some_and(Value::is_object),
            task_calls: capabilities
                .and_then(|c| c.pointer("/tasks/requests/tools/call"))
                .is_some_and(Value::is_object),
        }
    }
}

/// An upstream said a resource changed (`notifications/resources/updated`).
#[derive(Debug, Clone)]
pub struct ResourceUpdate {
    pub target: Arc<str>,
    pub uri: String,
    /// The client whose upstream session it came on; `None` when it came on the target's
    /// own stream (for every client that subscribed).
    pub client: Option<String>,
}

/// Where resource updates go: every listening client stream filters them.
pub type Updates = tokio::sync::broadcast::Sender<ResourceUpdate>;

/// One prompt: the gateway's name for it, the upstream's, and its listing.
#[derive(Debug)]
pub struct Prompt {
    pub name: String,
    pub upstream: String,
    pub listing: Box<RawValue>,
}

/// One resource, listed as the upstream wrote it.
#[derive(Debug)]
pub struct Resource {
    pub uri: String,
    pub listing: Box<RawValue>,
}

/// One resource template; `pattern` is `None` when the template cannot be parsed (it is
/// still listed, but no URI is routed by it).
#[derive(Debug)]
pub struct Template {
    pub uri_template: String,
    pub pattern: Option<UriTemplate>,
    pub listing: Box<RawValue>,
}

/// Everything but the tools.
#[derive(Debug, Default)]
pub struct Extras {
    pub prompts: Vec<Arc<Prompt>>,
    pub resources: Vec<Arc<Resource>>,
    pub templates: Vec<Arc<Template>>,
    /// `None` until the upstream has said (an MCP target that has not connected yet).
    pub caps: Option<Caps>,
}

impl Extras {
    /// A target that offers nothing but tools, and is known to.
    pub fn none() -> Self {
        Self {
            caps: Some(Caps::default()),
            ..Self::default()
        }
    }

    /// An MCP target whose upstream has not said yet what it offers.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// The served items among an upstream's listings, and why any were left out.
    pub fn from_upstream(
        target: &str,
        caps: Caps,
        prompts: Vec<Value>,
        resources: Vec<Value>,
        templates: Vec<Value>,
    ) -> (Self, Vec<String>) {
        let mut reasons = Vec::new();
        let mut names = HashSet::new();
        let prompts = prompts
            .into_iter()
            .filter_map(|p| {
                let mut p = object(p, "prompt", &mut reasons)?;
                let upstream = string_field(&p, "name", "prompt", &mut reasons)?;
                let name = tool_name(target, &upstream);
                if !names.insert(name.clone()) {
                    reasons.push(format!(
                        "prompt `{upstream}` is listed twice; the first is served"
                    ));
                    return None;
                }
                p.insert("name".into(), Value::String(name.clone()));
                Some(Arc::new(Prompt {
                    name,
                    upstream,
                    listing: serde_json::value::to_raw_value(&p).ok()?,
                }))
            })
            .collect();
        let resources = resources
            .into_iter()
            .filter_map(|r| {
                let r = object(r, "resource", &mut reasons)?;
                let uri = string_field(&r, "uri", "resource", &mut reasons)?;
                string_field(&r, "name", "resource", &mut reasons)?;
                Some(Arc::new(Resource {
                    uri,
                    listing: serde_json::value::to_raw_value(&r).ok()?,
                }))
            })
            .collect();
        let templates = templates
            .into_iter()
            .filter_map(|t| {
                let t = object(t, "resource template", &mut reasons)?;
                let uri_template = string_field(&t, "uriTemplate", "resource template", &mut reasons)?;
                string_field(&t, "name", "resource template", &mut reasons)?;
                let pattern = UriTemplate::parse(&uri_template);
                if pattern.is_none() {
                    reasons.push(format!(
                        "resource template `{uri_template}` is not an RFC 6570 template: it is listed, but no URI is routed by it"
                    ));
                }
                Some(Arc::new(Template {
                    uri_template,
                    pattern,
                    listing: serde_json::value::to_raw_value(&t).ok()?,
                }))
            })
            .collect();
        let extras = Self {
            prompts,
            resources,
            templates,
            caps: Some(caps),
        };
        (extras, reasons)
    }
}

fn object(v: Value, what: &str, reasons: &mut Vec<String>) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        _ => {
            reasons.push(format!("a {what} that is not an object was left out"));
            None
        }
    }
}

fn string_field(
    m: &Map<String, Value>,
    key: &str,
    what: &str,
    reasons: &mut Vec<String>,
) -> Option<String> {
    match m.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            reasons.push(format!("a {what} without a `{key}` string was left out"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prompts_are_renamed_and_bad_items_left_out_with_reasons() {
        let caps = Caps::of(Some(
            &json!({"prompts": {}, "resources": {"subscribe": true}}),
        ));
        assert!(caps.prompts && caps.resources && caps.subscribe && !caps.completions);
        let (extras, reasons) = Extras::from_upstream(
            "docs",
            caps,
            vec![
                json!({"name": "greet", "arguments": [{"name": "who"}]}),
                json!({"name": "greet"}),
                json!(3),
            ],
            vec![
                json!({"uri": "file:///a", "name": "a"}),
                json!({"uri": "file:///b"}),
            ],
            vec![
                json!({"uriTemplate": "file:///{path}", "name": "f"}),
                json!({"uriTemplate": "x://{", "name": "bad"}),
            ],
        );
        assert_eq!(extras.prompts.len(), 1);
        assert_eq!(extras.prompts[0].name, "docs___greet");
        assert_eq!(extras.prompts[0].upstream, "greet");
        let listed: Value = serde_json::from_str(extras.prompts[0].listing.get()).unwrap();
        assert_eq!(
            listed,
            json!({"name": "docs___greet", "arguments": [{"name": "who"}]})
        );
        assert_eq!(extras.resources.len(), 1);
        assert_eq!(extras.templates.len(), 2);
        assert!(extras.templates[1].pattern.is_none());
        assert_eq!(reasons.len(), 4, "{reasons:?}");
    }
}
