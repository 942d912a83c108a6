//! Structure-aware fuzzing of the OpenAPI importer and the request builder. Instead of raw
//! bytes (most of which fail JSON parsing), the fuzzer drives a small OpenAPI grammar:
//! operations with path templates, parameters of every location and style, request bodies of
//! several media types, and schemas with `$ref`s (recursive ones too), combinators, enums,
//! nullable and type arrays, over a name table full of collisions and odd characters. Then it
//! checks properties, not only the absence of panics:
//! - every tool the importer derives has an input schema that is valid JSON Schema;
//! - building a request from arbitrary arguments never escapes the base URL: the URL keeps
//!   the server's origin and base path, and no path segment is `.` or `..`.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use mcp_gateway::targets::Route;
use mcp_gateway::targets::http::{self, request};
use mcp_gateway::targets::openapi::{Document, tool};
use mcp_gateway::targets::tool::{Listing, Tool};
use serde_json::{Map, Value, json};

const NAMES: &[&str] = &[
    "id",
    "q",
    "body",
    "name",
    "Accept",
    "Content-Type",
    "x-api-key",
    "a b",
    "ü",
    "..",
    ".",
    "%2e%2e",
    "",
    "{id}",
    "query_id",
    "body_id",
    "$ref",
    "a/b",
    "Authorization",
];
const BASE: &str = "http://127.0.0.1:9/base/v1";

fn name(i: u8) -> &'static str {
    NAMES[i as usize % NAMES.len()]
}

#[derive(Arbitrary, Debug)]
enum Schema {
    String {
        format: Option<u8>,
        max_length: Option<u8>,
    },
    Integer {
        minimum: Option<i64>,
    },
    Number(f64),
    Boolean,
    Null,
    Array(Box<Schema>),
    Object {
        properties: Vec<(u8, Schema)>,
        required: Vec<u8>,
        additional: Option<bool>,
    },
    Ref(u8),
    AllOf(Vec<Schema>),
    OneOf(Vec<Schema>),
    AnyOf(Vec<Schema>),
    Enum(Vec<u8>),
    Nullable(Box<Schema>),
    TypeArray(bool),
    Const(u8),
    Empty,
}

impl Schema {
    fn json(&self, depth: u8) -> Value {
        if depth > 6 {
            return json!({});
        }
        let d = depth + 1;
        match self {
            Schema::String { format, max_length } => {
                let mut s = json!({"type": "string"});
                if let Some(f) = format {
                    let format = ["date-time", "uuid", "byte", "weird"][*f as usize % 4];
                    s["format"] = json!(format);
                }
                if let Some(m) = max_length {
                    s["maxLength"] = json!(m);
                }
                s
            }
            Schema::Integer { minimum } => match minimum {
                Some(m) => json!({"type": "integer", "minimum": m}),
                None => json!({"type": "integer"}),
            },
            Schema::Number(x) if x.is_finite() => json!({"type": "number", "maximum": x}),
            Schema::Number(_) => json!({"type": "number"}),
            Schema::Boolean => json!({"type": "boolean"}),
            Schema::Null => json!({"type": "null"}),
            Schema::Array(items) => json!({"type": "array", "items": items.json(d)}),
            Schema::Object {
                properties,
                required,
                additional,
            } => {
                let props: Map<String, Value> = properties
                    .iter()
                    .map(|(n, s)| (name(*n).to_string(), s.json(d)))
                    .collect();
                let mut names: Vec<&str> = required.iter().map(|r| name(*r)).collect();
                names.sort_unstable();
                names.dedup();
                let mut o = json!({"type": "object", "properties": props, "required": names});
                if let Some(a) = additional {
                    o["additionalProperties"] = json!(a);
                }
                o
            }
            Schema::Ref(i) => json!({"$ref": format!("#/components/schemas/S{}", i % 4)}),
            // The document is valid: combinators and enums have at least one member.
            Schema::AllOf(v) if !v.is_empty() => json!({"allOf": list(v, d)}),
            Schema::OneOf(v) if !v.is_empty() => json!({"oneOf": list(v, d)}),
            Schema::AnyOf(v) if !v.is_empty() => json!({"anyOf": list(v, d)}),
            Schema::Enum(v) if !v.is_empty() => {
                json!({"enum": v.iter().map(|i| name(*i)).collect::<Vec<_>>()})
            }
            Schema::AllOf(_) | Schema::OneOf(_) | Schema::AnyOf(_) | Schema::Enum(_) => json!({}),
            Schema::Nullable(s) => {
                let mut v = s.json(d);
                if let Value::Object(m) = &mut v {
                    m.insert("nullable".into(), json!(true));
                }
                v
            }
            Schema::TypeArray(with_null) => match with_null {
                true => json!({"type": ["string", "null"]}),
                false => json!({"type": ["integer", "string"]}),
            },
            Schema::Const(i) => json!({"const": name(*i)}),
            Schema::Empty => json!({}),
        }
    }
}

fn list(schemas: &[Schema], depth: u8) -> Vec<Value> {
    schemas.iter().map(|s| s.json(depth)).collect()
}

#[derive(Arbitrary, Debug)]
struct Param {
    name: u8,
    location: u8,
    required: bool,
    schema: Schema,
    style: Option<u8>,
    explode: Option<bool>,
}

#[derive(Arbitrary, Debug)]
struct Body {
    media: u8,
    required: bool,
    schema: Schema,
}

#[derive(Arbitrary, Debug)]
enum Segment {
    Literal(u8),
    Variable(u8),
}

#[derive(Arbitrary, Debug)]
struct Op {
    segments: Vec<Segment>,
    method: u8,
    params: Vec<Param>,
    body: Option<Body>,
}

/// An argument value.
#[derive(Arbitrary, Debug)]
enum Arg {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<String>),
    Obj(Vec<(u8, String)>),
}

impl Arg {
    fn json(&self) -> Value {
        match self {
            Arg::Str(s) => json!(s),
            Arg::Int(i) => json!(i),
            Arg::Float(f) => json!(f),
            Arg::Bool(b) => json!(b),
            Arg::Null => Value::Null,
            Arg::List(v) => json!(v),
            Arg::Obj(v) => Value::Object(
                v.iter()
                    .map(|(k, s)| (name(*k).to_string(), json!(s)))
                    .collect(),
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    v31: bool,
    ops: Vec<Op>,
    components: [Schema; 4],
    args: Vec<Arg>,
}

fn document(input: &Input) -> Value {
    let mut paths = Map::new();
    for (k, op) in input.ops.iter().enumerate() {
        let mut path = String::new();
        for s in &op.segments {
            match s {
                Segment::Literal(i) => path.push_str(&format!("/{}", name(*i))),
                Segment::Variable(i) => path.push_str(&format!("/{{{}}}", name(*i))),
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let params: Vec<Value> = op
            .params
            .iter()
            .map(|p| {
                let location = ["path", "query", "header", "cookie"][p.location as usize % 4];
                let mut v = json!({"name": name(p.name),
                    "in": location,
                    "required": p.required, "schema": p.schema.json(0)});
                if let Some(s) = p.style {
                    let style = [
                        "simple",
                        "form",
                        "label",
                        "matrix",
                        "spaceDelimited",
                        "pipeDelimited",
                        "deepObject",
                    ][s as usize % 7];
                    v["style"] = json!(style);
                }
                if let Some(e) = p.explode {
                    v["explode"] = json!(e);
                }
                v
            })
            .collect();
        let mut operation = json!({"operationId": format!("op{k}"), "parameters": params,
            "responses": {"200": {"description": "ok"}}});
        if let Some(b) = &op.body {
            let media = [
                "application/json",
                "application/x-www-form-urlencoded",
                "application/xml",
                "application/merge-patch+json",
            ][b.media as usize % 4];
            operation["requestBody"] = json!({"required": b.required,
                "content": {media: {"schema": b.schema.json(0)}}});
        }
        let method =
            ["get", "put", "post", "delete", "patch", "head", "options"][op.method as usize % 7];
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = operation;
    }
    let schemas: Map<String, Value> = input
        .components
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("S{i}"), s.json(0)))
        .collect();
    json!({"openapi": if input.v31 { "3.1.0" } else { "3.0.3" },
        "info": {"title": "fuzz", "version": "1"},
        "servers": [{"url": BASE}],
        "paths": paths,
        "components": {"schemas": schemas}})
}

fuzz_target!(|input: Input| {
    let text = document(&input).to_string();
    let Ok(doc) = Document::parse(&text) else {
        return;
    };
    let (ops, _warnings) = doc.operations();
    for op in &ops {
        let Ok(derived) = tool::derive(&doc, op) else {
            continue;
        };
        let properties: Vec<String> = derived.input_schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let route = Route::Http(http::Route {
            base_url: BASE.to_string(),
            plan: derived.plan.clone(),
        });
        let listing = Listing {
            description: "d".into(),
            input_schema: derived.input_schema.clone(),
            extra: Default::default(),
        };
        if let Err(e) = Tool::new("t___op".into(), op.label(), listing, route) {
            panic!(
                "{}: derived an invalid input schema: {e}\n{}\nfrom {text}",
                op.label(),
                derived.input_schema
            );
        }
        let args: Map<String, Value> = properties
            .iter()
            .zip(input.args.iter())
            .map(|(p, a)| (p.clone(), a.json()))
            .collect();
        if let Ok(req) = request::build(BASE, &derived.plan, &args) {
            assert_eq!(req.url.origin().ascii_serialization(), "http://127.0.0.1:9");
            assert!(
                req.url.path().starts_with("/base/v1/") || req.url.path() == "/base/v1",
                "{} escaped the base path: {}",
                op.label(),
                req.url
            );
            assert!(
                req.url
                    .path_segments()
                    .into_iter()
                    .flatten()
                    .all(|s| s != "." && s != ".."),
                "{}: dot segment in {}",
                op.label(),
                req.url
            );
        }
    }
});
