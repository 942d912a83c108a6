//! Input schemas from Smithy shapes: an operation's input structure as a JSON Schema 2020-12
//! object. Structures and unions are objects (a union sets exactly one member), lists and
//! sets arrays, maps objects of values, enums and intEnums `enum`s, timestamps RFC 3339 text
//! or epoch seconds, blobs base64 text, documents anything; `required` (and every
//! `httpLabel`), `range`, `length`, `pattern`, `uniqueItems` and defaults carry over, and
//! `documentation` (HTML reduced to text) becomes `description`.
//!
//! Shapes are inlined, except those that contain themselves: each of those is defined once in
//! `$defs` and referred to by `$ref`, so DynamoDB's `AttributeValue` is a finite schema. The
//! number of nodes per tool is bounded; a model that would expand past it is refused for that
//! operation rather than held in memory.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::model::{Model, local_name, trait_of};

/// The most schema nodes one tool's input may expand to.
pub const MAX_NODES: usize = 20_000;
/// Descriptions of members are cut to this many characters (a model's docs run to pages).
const MAX_MEMBER_DESCRIPTION: usize = 600;

/// Why an input schema could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("its input expands to more than {MAX_NODES} schema nodes")]
    TooLarge,
    #[error("shape `{0}` is not in the model")]
    Missing(String),
}

/// Members bound to the HTTP response or to the host are not inputs.
const NOT_INPUT: &[&str] = &["smithy.api#httpResponseCode", "smithy.api#hostLabel"];

/// Builds input schemas against one model, remembering which shapes are recursive.
pub struct Schemas<'m> {
    model: &'m Model,
    recursive: HashSet<String>,
    /// Shapes fully searched for cycles.
    searched: HashSet<String>,
    /// Whether each `pattern` seen compiles in the validator's regex dialect.
    patterns: HashMap<String, bool>,
}

impl<'m> Schemas<'m> {
    pub fn new(model: &'m Model) -> Self {
        Self {
            model,
            recursive: HashSet::new(),
            searched: HashSet::new(),
            patterns: HashMap::new(),
        }
    }

    /// The input schema of an operation whose input structure is `input` (`None`: no input).
    pub fn input(&mut self, input: Option<&str>) -> Result<Value, SchemaError> {
        let Some(input) = input.filter(|i| *i != "smithy.api#Unit") else {
            return Ok(json!({"type": "object", "properties": {}, "additionalProperties": false}));
        };
        self.find_cycles(input, &mut Vec::new());
        let mut build = Build {
            model: self.model,
            recursive: &self.recursive,
            defs: BTreeMap::new(),
            def_names: HashMap::new(),
            nodes: 0,
            patterns: &mut self.patterns,
        };
        let mut schema = build.shape(input)?;
        if !build.defs.is_empty()
            && let Value::Object(o) = &mut schema
        {
            let defs: Map<String, Value> = build.defs.into_iter().collect();
            o.insert("$defs".into(), Value::Object(defs));
        }
        Ok(schema)
    }

    /// Marks every shape that a path from `id` reaches again (the target of a back edge):
    /// breaking those breaks every cycle.
    fn find_cycles(&mut self, id: &str, stack: &mut Vec<String>) {
        if stack.iter().any(|s| s == id) {
            self.recursive.insert(id.to_string());
            return;
        }
        if self.searched.contains(id) {
            return;
        }
        stack.push(id.to_string());
        for child in children(self.model, id) {
            self.find_cycles(&child, stack);
        }
        stack.pop();
        self.searched.insert(id.to_string());
    }
}

/// The shapes a shape refers to.
pub fn children(model: &Model, id: &str) -> Vec<String> {
    match model.type_of(id) {
        Some("structure" | "union") => model
            .members(id)
            .into_iter()
            .map(|(_, t, _)| t.to_string())
            .collect(),
        Some("list" | "set") => model
            .child(id, "member")
            .map(|(t, _)| vec![t.to_string()])
            .unwrap_or_default(),
        Some("map") => model
            .child(id, "value")
            .map(|(t, _)| vec![t.to_string()])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

struct Build<'a> {
    model: &'a Model,
    recursive: &'a HashSet<String>,
    defs: BTreeMap<String, Value>,
    def_names: HashMap<String, String>,
    nodes: usize,
    patterns: &'a mut HashMap<String, bool>,
}

impl Build<'_> {
    fn count(&mut self) -> Result<(), SchemaError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            Err(SchemaError::TooLarge)
        } else {
            Ok(())
        }
    }

    /// A reference to a shape: `$ref` for a recursive one (defined once), else inline.
    fn refer(&mut self, id: &str) -> Result<Value, SchemaError> {
        if !self.recursive.contains(id) {
            return self.shape(id);
        }
        self.count()?;
        let name = match self.def_names.get(id) {
            Some(n) => n.clone(),
            None => {
                let mut name = local_name(id).to_string();
                if self.defs.contains_key(&name) {
                    name = id.replace(['#', '.'], "_");
                }
                self.def_names.insert(id.to_string(), name.clone());
                self.defs.insert(name.clone(), Value::Bool(true));
                let schema = self.shape(id)?;
                self.defs.insert(name.clone(), schema);
                name
            }
        };
        Ok(json!({"$ref": format!("#/$defs/{name}")}))
    }

    fn shape(&mut self, id: &str) -> Result<Value, SchemaError> {
        self.count()?;
        let model = self.model;
        let ty = model
            .type_of(id)
            .ok_or_else(|| SchemaError::Missing(id.to_string()))?;
        let traits = model.traits_of(id);
        let mut s = Map::new();
        match ty {
            "structure" | "union" => {
                s.insert("type".into(), "object".into());
                let mut props = Map::new();
                let mut required = Vec::new();
                for (name, target, mt) in model.members(id) {
                    if NOT_INPUT.iter().any(|t| mt.contains_key(*t)) {
                        continue;
                    }
                    let mut p = self.refer(target)?;
                    if let Value::Object(o) = &mut p {
                        member_facets(model, mt, target, o, self.patterns);
                    }
                    let token = mt.contains_key("smithy.api#idempotencyToken");
                    if ty == "structure"
                        && !token
                        && (mt.contains_key("smithy.api#required")
                            || mt.contains_key("smithy.api#httpLabel"))
                        && !mt.contains_key("smithy.api#default")
                    {
                        required.push(Value::String(name.to_string()));
                    }
                    props.insert(name.to_string(), p);
                }
                s.insert("properties".into(), Value::Object(props));
                if !required.is_empty() {
                    s.insert("required".into(), Value::Array(required));
                }
                s.insert("additionalProperties".into(), false.into());
                if ty == "union" {
                    s.insert("minProperties".into(), 1.into());
                    s.insert("maxProperties".into(), 1.into());
                }
            }
            "list" | "set" => {
                s.insert("type".into(), "array".into());
                if let Some((t, _)) = model.child(id, "member") {
                    let items = self.refer(t)?;
                    s.insert("items".into(), items);
                }
                if ty == "set" || traits.contains_key("smithy.api#uniqueItems") {
                    s.insert("uniqueItems".into(), true.into());
                }
            }
            "map" => {
                s.insert("type".into(), "object".into());
                if let Some((t, _)) = model.child(id, "value") {
                    let values = self.refer(t)?;
                    s.insert("additionalProperties".into(), values);
                }
            }
            "string" => {
                s.insert("type".into(), "string".into());
                // Smithy 1's `enum` trait on a string.
                if let Some(Value::Array(values)) = traits.get("smithy.api#enum") {
                    let vals: Vec<Value> = values
                        .iter()
                        .filter_map(|v| v.get("value").cloned())
                        .collect();
                    s.insert("enum".into(), Value::Array(vals));
                }
            }
            "enum" | "intEnum" => {
                let vals: Vec<Value> = model
                    .members(id)
                    .into_iter()
                    .map(|(name, _, mt)| {
                        mt.get("smithy.api#enumValue")
                            .cloned()
                            .unwrap_or_else(|| Value::String(name.to_string()))
                    })
                    .collect();
                let t = if ty == "enum" { "string" } else { "integer" };
                s.insert("type".into(), t.into());
                s.insert("enum".into(), Value::Array(vals));
            }
            "boolean" => {
                s.insert("type".into(), "boolean".into());
            }
            "byte" | "short" | "integer" | "long" | "bigInteger" => {
                s.insert("type".into(), "integer".into());
            }
            "float" | "double" | "bigDecimal" => {
                s.insert("type".into(), "number".into());
            }
            "timestamp" => {
                s.insert("type".into(), json!(["string", "number"]));
                s.insert(
                    "description".into(),
                    "A date and time: RFC 3339 text (2024-01-31T12:00:00Z) or epoch seconds."
                        .into(),
                );
            }
            "blob" => {
                s.insert("type".into(), "string".into());
                s.insert("contentEncoding".into(), "base64".into());
            }
            // `document`: any JSON value.
            _ => {}
        }
        constraints(traits, &mut s, self.patterns);
        Ok(Value::Object(s))
    }
}

/// What a member adds to its target's schema: its documentation, its own constraints, its
/// default.
fn member_facets(
    model: &Model,
    member: &Map<String, Value>,
    target: &str,
    s: &mut Map<String, Value>,
    patterns: &mut HashMap<String, bool>,
) {
    if let Some(doc) =
        trait_of(model, member, target, "smithy.api#documentation").and_then(Value::as_str)
    {
        let text = html_to_text(doc);
        if !text.is_empty() {
            s.insert(
                "description".into(),
                Value::String(cut(&text, MAX_MEMBER_DESCRIPTION)),
            );
        }
    }
    if s.contains_key("$ref") {
        return;
    }
    constraints(member, s, patterns);
    if let Some(d) = member.get("smithy.api#default")
        && !d.is_null()
    {
        s.insert("default".into(), d.clone());
    }
}

/// `length`, `range` and `pattern`, in the JSON Schema words for the schema's type. A pattern
/// the validator's regex dialect cannot compile (AWS models write Java's surrogate ranges,
/// `\uD800\uDC00-\uDBFF\uDFFF`) is left out: the service still checks it.
fn constraints(
    traits: &Map<String, Value>,
    s: &mut Map<String, Value>,
    patterns: &mut HashMap<String, bool>,
) {
    let ty = s
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ty = ty.as_str();
    if let Some(l) = traits.get("smithy.api#length") {
        let (min, max) = match ty {
            "string" => ("minLength", "maxLength"),
            "array" => ("minItems", "maxItems"),
            "object" => ("minProperties", "maxProperties"),
            _ => ("", ""),
        };
        if !min.is_empty() {
            if let Some(v) = l.get("min").filter(|v| v.is_u64()) {
                s.insert(min.into(), v.clone());
            }
            if let Some(v) = l.get("max").filter(|v| v.is_u64()) {
                s.insert(max.into(), v.clone());
            }
        }
    }
    if let Some(r) = traits.get("smithy.api#range")
        && matches!(ty, "integer" | "number")
    {
        if let Some(v) = r.get("min").filter(|v| v.is_number()) {
            s.insert("minimum".into(), v.clone());
        }
        if let Some(v) = r.get("max").filter(|v| v.is_number()) {
            s.insert("maximum".into(), v.clone());
        }
    }
    if let Some(p) = traits.get("smithy.api#pattern").and_then(Value::as_str)
        && ty == "string"
        && *patterns.entry(p.to_string()).or_insert_with(|| {
            jsonschema::draft202012::new(&json!({"type": "string", "pattern": p})).is_ok()
        })
    {
        s.insert("pattern".into(), p.into());
    }
}

/// `text` cut to `max` characters at most, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((i, _)) => format!("{}…", text[..i].trim_end()),
    }
}

/// A `documentation` trait's HTML (`<p>`, `<code>`, `<ul><li>`, `<a>`, entities) reduced to
/// plain text: tags dropped, paragraphs and list items on lines of their own, the common
/// entities decoded, runs of white space folded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // Line breaks in the source are white space, as in HTML; only blocks break lines.
    let text =
        |out: &mut String, t: &str| out.extend(t.chars().map(|c| if c == '\n' { ' ' } else { c }));
    while let Some(lt) = rest.find('<') {
        text(&mut out, &rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            text(&mut out, &rest[lt..]);
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        match name {
            // A block inside a list item that was just opened stays on the bullet's line.
            "p" | "br" | "ul" | "ol" | "dl" | "dt" | "dd" | "h1" | "h2" | "h3" | "h4"
                if !out.trim_end_matches(' ').ends_with("\n-") =>
            {
                out.push('\n')
            }
            "li" if !rest[lt + 1..].starts_with('/') => out.push_str("\n- "),
            _ => {}
        }
        rest = &rest[lt + gt + 1..];
    }
    text(&mut out, rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    // Fold white space within lines; keep single line breaks between blocks.
    let lines: Vec<String> = decoded
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_html_becomes_text() {
        assert_eq!(
            html_to_text(
                "<p>Creates a <code>Table</code> &amp;\n more.</p> <ul><li> <p>One</p></li><li>Two</li></ul>"
            ),
            "Creates a Table & more.\n- One\n- Two"
        );
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn recursive_shapes_are_defined_once() {
        let model = Model::parse(
            r##"{"smithy": "2.0", "shapes": {
              "ex#Input": {"type": "structure", "members": {
                 "item": {"target": "ex#Value", "traits": {"smithy.api#required": {}}},
                 "when": {"target": "smithy.api#Timestamp"}}},
              "ex#Value": {"type": "union", "members": {
                 "S": {"target": "smithy.api#String"},
                 "L": {"target": "ex#List"},
                 "M": {"target": "ex#Map"}}},
              "ex#List": {"type": "list", "member": {"target": "ex#Value"},
                          "traits": {"smithy.api#length": {"max": 5}}},
              "ex#Map": {"type": "map", "key": {"target": "smithy.api#String"}, "value": {"target": "ex#Value"}}
            }}"##,
        )
        .unwrap();
        let schema = Schemas::new(&model).input(Some("ex#Input")).unwrap();
        assert_eq!(schema["required"], json!(["item"]));
        assert_eq!(schema["properties"]["item"]["$ref"], "#/$defs/Value");
        let value = &schema["$defs"]["Value"];
        assert_eq!(value["maxProperties"], 1);
        assert_eq!(value["properties"]["L"]["items"]["$ref"], "#/$defs/Value");
        assert_eq!(value["properties"]["L"]["maxItems"], 5);
        assert_eq!(
            value["properties"]["M"]["additionalProperties"]["$ref"],
            "#/$defs/Value"
        );
        jsonschema::meta::validate(&schema).unwrap();
        let v = jsonschema::draft202012::new(&schema).unwrap();
        assert!(v.is_valid(&json!({"item": {"L": [{"S": "x"}, {"M": {"k": {"S": "y"}}}]}})));
        assert!(
            !v.is_valid(&json!({"item": {"S": "x", "L": []}})),
            "a union sets one member"
        );
        assert!(!v.is_valid(&json!({"item": {"S": 1}})));
    }
}
