//! A Lambda target's tools: AgentCore's `ToolDefinition` list (`name`, `description`,
//! `inputSchema`, `outputSchema?`), whose schemas are AgentCore's restricted `SchemaDefinition`:
//! `type` (one of six, required), `properties`, `required`, `items` and `description`, nothing
//! else, with an `object` at the top. Anything else is refused with its location in the list,
//! so a definition AgentCore would reject does not start here either.

use serde_json::{Map, Value};

use crate::common::names::valid_tool_name;

/// One tool definition, checked.
#[derive(Debug, Clone)]
pub struct Definition {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
}

/// A problem in the list, located by a path inside it (`[2].inputSchema.properties.city.format`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub at: String,
    pub message: String,
}

/// At most this many tools per target (AgentCore's quota).
pub const MAX_TOOLS: usize = 1000;
/// Nesting deeper than this is refused (the schemas are for a model to read).
const MAX_DEPTH: usize = 32;
const TYPES: [&str; 6] = ["string", "number", "object", "array", "boolean", "integer"];

/// Parses and checks the list; every problem is returned, not just the first.
pub fn definitions(text: &str) -> Result<Vec<Definition>, Vec<Located>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![Located {
            at: String::new(),
            message: format!("is not JSON: {e}"),
        }]
    })?;
    let Value::Array(items) = value else {
        return Err(vec![Located {
            at: String::new(),
            message: "must be a list of tool definitions".into(),
        }]);
    };
    let mut problems = Vec::new();
    if items.len() > MAX_TOOLS {
        problems.push(Located {
            at: String::new(),
            message: format!(
                "lists {} tools; at most {MAX_TOOLS} are allowed",
                items.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("[{i}]");
        let Value::Object(mut def) = item else {
            problems.push(Located {
                at,
                message: "must be an object {name, description, inputSchema}".into(),
            });
            continue;
        };
        for key in def.keys() {
            if !matches!(
                key.as_str(),
                "name" | "description" | "inputSchema" | "outputSchema"
            ) {
                problems.push(Located {
                    at: format!("{at}.{key}"),
                    message: "is not a field of a tool definition (name, description, inputSchema, outputSchema)".into(),
                });
            }
        }
        let name = match def.remove("name") {
            Some(Value::String(n)) if valid_tool_name(&n) => Some(n),
            _ => {
                problems.push(Located {
                    at: format!("{at}.name"),
                    message: "must be a tool name of 1-128 letters, digits, `_`, `-` or `.`".into(),
                });
                None
            }
        };
        if let Some(n) = &name
            && !seen.insert(n.clone())
        {
            problems.push(Located {
                at: format!("{at}.name"),
                message: format!("`{n}` is defined twice"),
            });
        }
        let description = match def.remove("description") {
            Some(Value::String(d)) if !d.is_empty() => Some(d),
            _ => {
                problems.push(Located {
                    at: format!("{at}.description"),
                    message: "is required: a non-empty string".into(),
                });
                None
            }
        };
        let input = def.remove("inputSchema");
        match &input {
            Some(s) => check(s, &format!("{at}.inputSchema"), 0, &mut problems),
            None => problems.push(Located {
                at: format!("{at}.inputSchema"),
                message: "is required".into(),
            }),
        }
        let output = def.remove("outputSchema");
        if let Some(s) = &output {
            check(s, &format!("{at}.outputSchema"), 0, &mut problems);
        }
        if let (Some(name), Some(description), Some(input_schema)) = (name, description, input) {
            out.push(Definition {
                name,
                description,
                input_schema,
                output_schema: output,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Checks one `SchemaDefinition` (recursively).
fn check(schema: &Value, at: &str, depth: usize, problems: &mut Vec<Located>) {
    let mut push = |at: String, message: String| problems.push(Located { at, message });
    let Value::Object(s) = schema else {
        push(at.into(), "must be a schema object".into());
        return;
    };
    if depth > MAX_DEPTH {
        push(at.into(), format!("nests deeper than {MAX_DEPTH} levels"));
        return;
    }
    for key in s.keys() {
        if !matches!(
            key.as_str(),
            "type" | "properties" | "required" | "items" | "description"
        ) {
            push(
                format!("{at}.{key}"),
                "is not allowed: AgentCore's tool schemas take only type, properties, required, items and description".into(),
            );
        }
    }
    let ty = s.get("type").and_then(Value::as_str);
    match ty {
        Some(t) if TYPES.contains(&t) => {
            if depth == 0 && t != "object" {
                push(
                    format!("{at}.type"),
                    format!("is `{t}`; a tool's schema must be an `object`"),
                );
            }
        }
        _ => push(
            format!("{at}.type"),
            format!("is required: one of {}", TYPES.join(", ")),
        ),
    }
    if let Some(d) = s.get("description")
        && !d.is_string()
    {
        push(format!("{at}.description"), "must be a string".into());
    }
    let properties = s.get("properties");
    match properties {
        None => {}
        Some(Value::Object(props)) if ty == Some("object") => {
            for (name, p) in props {
                check(p, &format!("{at}.properties.{name}"), depth + 1, problems);
            }
        }
        Some(Value::Object(_)) => problems.push(Located {
            at: format!("{at}.properties"),
            message: "is only allowed on an `object`".into(),
        }),
        Some(_) => problems.push(Located {
            at: format!("{at}.properties"),
            message: "must map property names to schemas".into(),
        }),
    }
    if let Some(required) = s.get("required") {
        let empty = Map::new();
        let props = properties.and_then(Value::as_object).unwrap_or(&empty);
        match required.as_array() {
            Some(names) if names.iter().all(Value::is_string) => {
                for n in names.iter().filter_map(Value::as_str) {
                    if !props.contains_key(n) {
                        problems.push(Located {
                            at: format!("{at}.required"),
                            message: format!("names `{n}`, which is not in `properties`"),
                        });
                    }
                }
            }
            _ => problems.push(Located {
                at: format!("{at}.required"),
                message: "must be a list of property names".into(),
            }),
        }
    }
    if let Some(items) = s.get("items") {
        if ty == Some("array") {
            check(items, &format!("{at}.items"), depth + 1, problems);
        } else {
            problems.push(Located {
                at: format!("{at}.items"),
                message: "is only allowed on an `array`".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agentcore_definitions_are_taken() {
        let defs = definitions(
            r#"[{"name": "get_weather", "description": "Weather for a city",
                 "inputSchema": {"type": "object", "properties": {
                     "city": {"type": "string", "description": "the city"},
                     "days": {"type": "array", "items": {"type": "integer"}}},
                   "required": ["city"]},
                 "outputSchema": {"type": "object", "properties": {"temp": {"type": "number"}}}}]"#,
        )
        .unwrap();
        assert_eq!(defs.len(), 1);
        assert_eq!(defs[0].name, "get_weather");
        assert!(defs[0].output_schema.is_some());
    }

    #[test]
    fn everything_beyond_the_restricted_schema_is_refused_where_it_is() {
        let problems = definitions(
            r#"[{"name": "a", "description": "d", "inputSchema": {"type": "object",
                   "properties": {"x": {"type": "string", "format": "email"},
                                  "y": {"type": "date"}, "z": {"type": "string", "items": {"type": "string"}}},
                   "required": ["x", "w"]}},
                {"name": "a", "description": "", "inputSchema": {"type": "array"}, "extra": 1}]"#,
        )
        .unwrap_err();
        let at: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.at.as_str(), p.message.as_str()))
            .collect();
        let has = |path: &str| at.iter().any(|(a, _)| *a == path);
        assert!(has("[0].inputSchema.properties.x.format"), "{at:?}");
        assert!(has("[0].inputSchema.properties.y.type"), "{at:?}");
        assert!(has("[0].inputSchema.properties.z.items"), "{at:?}");
        assert!(has("[0].inputSchema.required"), "{at:?}");
        assert!(has("[1].name"), "duplicate: {at:?}");
        assert!(has("[1].description"), "{at:?}");
        assert!(
            has("[1].inputSchema.type"),
            "top level must be object: {at:?}"
        );
        assert!(has("[1].extra"), "{at:?}");
    }
}
