//! Smithy model targets: a Smithy JSON AST (an AWS service's model from `aws/api-models-aws`,
//! or a user's own) becomes one tool per operation of its service, named by the operation,
//! described by its `documentation`, with an input schema from its input structure
//! ([`schema`]). A call is serialised by the service's protocol ([`request`], [`wire`]),
//! signed for the model's `aws.auth#sigv4` name by the shared HTTP adapter, and its reply
//! read: a success's JSON is the result; an error names its shape (`X-Amzn-ErrorType` or
//! `__type`) and message.
//!
//! `restJson1`, `awsJson1_0` and `awsJson1_1` are served. Any other protocol is refused by
//! name at start, and so are operations that cannot be served whole (event streams, a
//! modelled header the gateway must not let arguments set), each with a warning.

pub mod model;
pub mod request;
pub mod schema;
pub mod wire;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::aws::ServiceError;
use super::context::CallContext;
use super::http::{HttpAdapter, reply, validate};
use super::output::{CallError, ToolOutput, service_failure};
use super::tool::Tool;
use crate::common::headers::is_forbidden_modelled;
use model::{Model, ModelError, Protocol, Service, local_name, traits};
use request::{Bound, Call, Payload, PayloadKind, Rest, Segment};
use wire::{Compiler, Field, Table, TimeFormat};

/// Tool descriptions are cut to this many characters.
const MAX_DESCRIPTION: usize = 2000;

/// Where one tool's calls go.
#[derive(Debug)]
pub struct Route {
    pub endpoint: url::Url,
    /// The service's SDK id, for messages (`DynamoDB`).
    pub service: Arc<str>,
    pub call: Call,
    pub table: Arc<Table>,
}

/// One operation, ready to become a tool.
#[derive(Debug)]
pub struct Operation {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    /// `readOnlyHint` / `idempotentHint` from the `readonly` and `idempotent` traits.
    pub annotations: Option<Value>,
    pub call: Call,
}

/// A model, imported.
#[derive(Debug)]
pub struct Imported {
    pub service: Service,
    pub operations: Vec<Operation>,
    pub table: Arc<Table>,
    /// Operations left out, and why.
    pub warnings: Vec<String>,
}

/// Reads a model and derives its operations.
pub fn import(text: &str) -> Result<Imported, ModelError> {
    let model = Model::parse(text)?;
    let service = model.service()?;
    let mut schemas = schema::Schemas::new(&model);
    let mut compiler = Compiler::new(&model, service.protocol.is_rest());
    let mut operations = Vec::new();
    let mut warnings = Vec::new();
    let service_name = local_name(&service.id).to_string();
    for id in model.operations(&service.id) {
        let name = local_name(&id).to_string();
        let Some(shape) = model.shape(&id) else {
            continue;
        };
        let op_traits = traits(shape);
        let input = shape
            .get("input")
            .and_then(|i| i.get("target"))
            .and_then(Value::as_str)
            .filter(|i| *i != "smithy.api#Unit");
        if let Some(why) = unservable(&model, input, shape) {
            warnings.push(format!("operation {name} left out: {why}"));
            continue;
        }
        let input_schema = match schemas.input(input) {
            Ok(s) => s,
            Err(e) => {
                warnings.push(format!("operation {name} left out: {e}"));
                continue;
            }
        };
        let call = match service.protocol {
            Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => {
                let target = format!("{service_name}.{name}");
                let Ok(target) = http::HeaderValue::from_str(&target) else {
                    warnings.push(format!(
                        "operation {name} left out: `{target}` is not a header value"
                    ));
                    continue;
                };
                Call::Json {
                    target,
                    content_type: if service.protocol == Protocol::AwsJson1_0 {
                        "application/x-amz-json-1.0"
                    } else {
                        "application/x-amz-json-1.1"
                    },
                    input: match input {
                        Some(i) => compiler.plan(i, &Map::new()),
                        None => Arc::new(wire::Wire::Same),
                    },
                }
            }
            Protocol::RestJson1 => match rest(&model, &mut compiler, input, op_traits) {
                Ok(r) => Call::Rest(r),
                Err(why) => {
                    warnings.push(format!("operation {name} left out: {why}"));
                    continue;
                }
            },
        };
        let description = op_traits
            .get("smithy.api#documentation")
            .and_then(Value::as_str)
            .map(schema::html_to_text)
            .filter(|d| !d.is_empty())
            .map(|d| schema::cut(&d, MAX_DESCRIPTION))
            .unwrap_or_else(|| name.clone());
        let readonly = op_traits.contains_key("smithy.api#readonly");
        let idempotent = op_traits.contains_key("smithy.api#idempotent");
        let annotations = (readonly || idempotent).then(|| {
            let mut a = Map::new();
            if readonly {
                a.insert("readOnlyHint".into(), true.into());
            }
            if idempotent || readonly {
                a.insert("idempotentHint".into(), true.into());
            }
            Value::Object(a)
        });
        operations.push(Operation {
            name,
            description,
            input_schema,
            annotations,
            call,
        });
    }
    Ok(Imported {
        service,
        operations,
        table: Arc::new(compiler.table),
        warnings,
    })
}

/// Why an operation cannot be served whole, if it cannot: event streams either way, or a
/// host prefix (`endpoint` trait) the gateway would not put before the endpoint's host.
fn unservable(model: &Model, input: Option<&str>, shape: &Value) -> Option<String> {
    if let Some(prefix) = traits(shape)
        .get("smithy.api#endpoint")
        .and_then(|e| e.get("hostPrefix"))
        .and_then(Value::as_str)
    {
        return Some(format!(
            "its `endpoint` trait prefixes the host with `{prefix}`, which mcp-gateway does not do"
        ));
    }
    let output = shape
        .get("output")
        .and_then(|o| o.get("target"))
        .and_then(Value::as_str);
    for (which, s) in [("input", input), ("output", output)] {
        let Some(s) = s else { continue };
        for (member, target, _) in model.members(s) {
            if model.type_of(target) == Some("union")
                && model.traits_of(target).contains_key("smithy.api#streaming")
            {
                return Some(format!(
                    "its {which} member `{member}` is an event stream, which MCP tools cannot carry"
                ));
            }
        }
    }
    None
}

/// A `restJson1` operation's bindings, from its `http` trait and its input's member traits.
fn rest(
    model: &Model,
    compiler: &mut Compiler<'_>,
    input: Option<&str>,
    op_traits: &Map<String, Value>,
) -> Result<Rest, String> {
    let http = op_traits
        .get("smithy.api#http")
        .ok_or("it has no `smithy.api#http` trait, which restJson1 needs")?;
    let method = http
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
        .ok_or("its `http` trait has no valid method")?;
    let uri = http
        .get("uri")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with('/'))
        .ok_or("its `http` trait has no URI starting with `/`")?;
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut rest = Rest {
        method,
        path: Vec::new(),
        query: query
            .split('&')
            .filter(|q| !q.is_empty())
            .map(|q| {
                let (k, v) = q.split_once('=').unwrap_or((q, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        bound: Vec::new(),
        payload: None,
        body: Vec::new(),
    };
    let members = input.map(|i| model.members(i)).unwrap_or_default();
    let time = |mt: &Map<String, Value>, target: &str, default: TimeFormat| {
        (model.type_of(target) == Some("timestamp"))
            .then(|| TimeFormat::of(model, mt, target, default))
    };
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(label) => {
                let (name, greedy) = match label.strip_suffix('+') {
                    Some(n) => (n, true),
                    None => (label, false),
                };
                let (_, target, mt) = members
                    .iter()
                    .find(|(n, _, mt)| *n == name && mt.contains_key("smithy.api#httpLabel"))
                    .ok_or_else(|| {
                        format!("its URI label `{{{label}}}` has no httpLabel member")
                    })?;
                rest.path.push(Segment::Label {
                    arg: name.to_string(),
                    greedy,
                    time: time(mt, target, TimeFormat::DateTime),
                });
            }
            None => rest.path.push(Segment::Literal(seg.to_string())),
        }
    }
    for (name, target, mt) in &members {
        let arg = name.to_string();
        if mt.contains_key("smithy.api#httpLabel") {
            continue;
        } else if let Some(q) = mt.get("smithy.api#httpQuery").and_then(Value::as_str) {
            rest.bound.push(Bound::Query {
                arg,
                name: q.to_string(),
                time: time(mt, target, TimeFormat::DateTime),
            });
        } else if mt.contains_key("smithy.api#httpQueryParams") {
            rest.bound.push(Bound::QueryParams { arg });
        } else if let Some(h) = mt.get("smithy.api#httpHeader").and_then(Value::as_str) {
            let header = http::HeaderName::from_bytes(h.as_bytes())
                .ok()
                .filter(|_| !is_forbidden_modelled(h))
                .ok_or_else(|| {
                    format!("member `{name}` is bound to header `{h}`, which arguments may not set")
                })?;
            rest.bound.push(Bound::Header {
                arg,
                name: header,
                time: time(mt, target, TimeFormat::HttpDate),
            });
        } else if let Some(p) = mt
            .get("smithy.api#httpPrefixHeaders")
            .and_then(Value::as_str)
        {
            if is_forbidden_modelled(&format!("{p}x")) {
                return Err(format!(
                    "member `{name}` is bound to headers `{p}*`, which arguments may not set"
                ));
            }
            rest.bound.push(Bound::PrefixHeaders {
                arg,
                prefix: p.to_string(),
            });
        } else if mt.contains_key("smithy.api#httpPayload") {
            let media = model
                .traits_of(target)
                .get("smithy.api#mediaType")
                .and_then(Value::as_str);
            let kind = match model.type_of(target) {
                Some("blob") => {
                    PayloadKind::Blob(media.unwrap_or("application/octet-stream").to_string())
                }
                Some("string" | "enum") => {
                    PayloadKind::Text(media.unwrap_or("text/plain").to_string())
                }
                _ => PayloadKind::Json(compiler.plan(target, mt)),
            };
            rest.payload = Some(Payload { arg, kind });
        } else if !mt.contains_key("smithy.api#httpResponseCode") {
            rest.body.push(Field {
                wire: compiler.wire_name(name, mt),
                plan: compiler.plan(target, mt),
                token: mt.contains_key("smithy.api#idempotencyToken"),
                arg,
            });
        }
    }
    Ok(rest)
}

/// Runs one `tools/call` as an operation call.
pub async fn call(
    adapter: &HttpAdapter,
    ctx: &CallContext<'_>,
    tool: &Tool,
    route: &Route,
    args: &Value,
) -> Result<ToolOutput, CallError> {
    validate(tool, args)?;
    let empty = Map::new();
    let args = args.as_object().unwrap_or(&empty);
    let req = request::build(&route.endpoint, &route.call, &route.table, args)
        .map_err(CallError::InvalidArguments)?;
    let reply = adapter.send(ctx, req).await?;
    if reply.status.is_success() {
        Ok(reply::output(reply))
    } else {
        service_failure(ServiceError::from_reply(&route.service, &reply))
    }
}
