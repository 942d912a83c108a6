//! One Smithy operation call as an HTTP request, by protocol:
//!
//! - `awsJson1_0` / `awsJson1_1`: `POST /` with `X-Amz-Target: <Service>.<Operation>` and the
//!   input in the body;
//! - `restJson1`: the `http` trait's method and URI, with members bound by `httpLabel`
//!   (greedy `{Key+}` labels keep their `/`), `httpQuery`, `httpQueryParams`, `httpHeader`,
//!   `httpPrefixHeaders` and `httpPayload`; the other members are the JSON body.
//!
//! Every part is produced by an encoder: path segments and query pairs RFC 3986-encoded,
//! header values checked, the body serialised. Modelled headers are fixed by the model
//! (checked at import); only their values come from arguments.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value};

use super::wire::{Field, Table, TimeFormat, Wire, timestamp, to_wire};
use crate::common::encode::{path_segment, push_query_pair};
use crate::common::headers::{is_forbidden_modelled, is_sendable_value};
use crate::outbound::Request;
use crate::targets::output::ArgProblem;

/// How an operation's input goes out.
#[derive(Debug)]
pub enum Call {
    /// `awsJson1_*`: `X-Amz-Target` and the content type of the protocol version.
    Json {
        target: http::HeaderValue,
        content_type: &'static str,
        input: Arc<Wire>,
    },
    Rest(Rest),
}

/// A `restJson1` operation's bindings.
#[derive(Debug)]
pub struct Rest {
    pub method: http::Method,
    pub path: Vec<Segment>,
    /// Literal query pairs of the `http` trait's URI (`?x-id=GetObject`).
    pub query: Vec<(String, String)>,
    pub bound: Vec<Bound>,
    pub payload: Option<Payload>,
    /// Members in the JSON body (none: no body).
    pub body: Vec<Field>,
}

#[derive(Debug)]
pub enum Segment {
    Literal(String),
    Label {
        arg: String,
        greedy: bool,
        time: Option<TimeFormat>,
    },
}

/// A member bound outside the body.
#[derive(Debug)]
pub enum Bound {
    Query {
        arg: String,
        name: String,
        time: Option<TimeFormat>,
    },
    QueryParams {
        arg: String,
    },
    Header {
        arg: String,
        name: http::HeaderName,
        time: Option<TimeFormat>,
    },
    PrefixHeaders {
        arg: String,
        prefix: String,
    },
}

/// The member that is the whole body.
#[derive(Debug)]
pub struct Payload {
    pub arg: String,
    pub kind: PayloadKind,
}

#[derive(Debug)]
pub enum PayloadKind {
    /// A structure, union or document: JSON.
    Json(Arc<Wire>),
    /// A blob: the decoded bytes, with the member's media type.
    Blob(String),
    /// A string: the text, with the member's media type.
    Text(String),
}

/// Builds the request for `args` at `endpoint`.
pub fn build(
    endpoint: &url::Url,
    call: &Call,
    table: &Table,
    args: &Map<String, Value>,
) -> Result<Request, Vec<ArgProblem>> {
    let mut problems = Vec::new();
    let mut url = endpoint.clone();
    let mut headers = http::HeaderMap::new();
    let base = url.path().trim_end_matches('/').to_string();
    let (method, body) = match call {
        Call::Json {
            target,
            content_type,
            input,
        } => {
            headers.insert("x-amz-target", target.clone());
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(content_type),
            );
            url.set_path(if base.is_empty() { "/" } else { &base });
            // Most inputs need no change on the wire: then the arguments are written as they are.
            let body = match &**input {
                Wire::Same => serde_json::to_vec(args).unwrap_or_default(),
                plan => to_wire(plan, table, &Value::Object(args.clone()))
                    .map_err(|e| {
                        vec![ArgProblem {
                            arg: String::new(),
                            message: e.0,
                        }]
                    })?
                    .to_string()
                    .into_bytes(),
            };
            (http::Method::POST, Some(body))
        }
        Call::Rest(rest) => {
            let mut path = base;
            for seg in &rest.path {
                path.push('/');
                match seg {
                    Segment::Literal(l) => path.extend(path_segment(l)),
                    Segment::Label { arg, greedy, time } => {
                        match args.get(arg).and_then(|v| scalar(v, *time)) {
                            Some(v) if !v.is_empty() => {
                                if *greedy {
                                    let parts: Vec<String> =
                                        v.split('/').map(|p| path_segment(p).collect()).collect();
                                    path.push_str(&parts.join("/"));
                                } else {
                                    path.extend(path_segment(&v));
                                }
                            }
                            _ => problems.push(problem(
                                arg,
                                "is required (it is part of the path) and must not be empty",
                            )),
                        }
                    }
                }
            }
            if path.is_empty() {
                path.push('/');
            }
            url.set_path(&path);
            let mut query = String::new();
            for (k, v) in &rest.query {
                push_query_pair(&mut query, k, v);
            }
            let mut named = std::collections::HashSet::new();
            for b in &rest.bound {
                if let Bound::Query { arg, name, time } = b
                    && let Some(v) = args.get(arg)
                {
                    named.insert(name.as_str());
                    for item in items(v) {
                        match scalar(item, *time) {
                            Some(s) => push_query_pair(&mut query, name, &s),
                            None => problems.push(problem(
                                arg,
                                "must be a string, number, boolean or a list of them",
                            )),
                        }
                    }
                }
            }
            for b in &rest.bound {
                match b {
                    Bound::QueryParams { arg } => {
                        if let Some(Value::Object(m)) = args.get(arg) {
                            // `httpQuery` members win over the same name here.
                            for (k, v) in m.iter().filter(|(k, _)| !named.contains(k.as_str())) {
                                for item in items(v) {
                                    match scalar(item, None) {
                                        Some(s) => push_query_pair(&mut query, k, &s),
                                        None => problems.push(problem(
                                            arg,
                                            "must map names to strings or lists of strings",
                                        )),
                                    }
                                }
                            }
                        }
                    }
                    Bound::Header { arg, name, time } => {
                        if let Some(v) = args.get(arg) {
                            let parts: Option<Vec<String>> =
                                items(v).map(|i| scalar(i, *time)).collect();
                            match parts.map(|p| p.join(", ")) {
                                Some(s) if is_sendable_value(&s) => {
                                    if let Ok(hv) = http::HeaderValue::from_str(&s) {
                                        headers.insert(name.clone(), hv);
                                    }
                                }
                                _ => problems.push(problem(
                                    arg,
                                    "cannot be sent as a header value (visible ASCII only)",
                                )),
                            }
                        }
                    }
                    Bound::PrefixHeaders { arg, prefix } => {
                        if let Some(Value::Object(m)) = args.get(arg) {
                            for (k, v) in m {
                                let name = format!("{prefix}{k}");
                                let header = http::HeaderName::from_bytes(name.as_bytes()).ok();
                                let value = v.as_str().filter(|s| is_sendable_value(s));
                                match (header, value) {
                                    (Some(h), Some(v)) if !is_forbidden_modelled(&name) => {
                                        if let Ok(hv) = http::HeaderValue::from_str(v) {
                                            headers.insert(h, hv);
                                        }
                                    }
                                    _ => problems.push(problem(
                                        arg,
                                        &format!("`{k}` cannot be sent as header `{name}`"),
                                    )),
                                }
                            }
                        }
                    }
                    Bound::Query { .. } => {}
                }
            }
            url.set_query((!query.is_empty()).then_some(query.as_str()));
            let body = match &rest.payload {
                Some(p) => payload(p, table, args, &mut headers, &mut problems),
                None if !rest.body.is_empty() => {
                    let mut out = Map::new();
                    for f in &rest.body {
                        let value = match args.get(&f.arg) {
                            Some(v) => {
                                to_wire(&f.plan, table, v).map_err(|e| problem(&f.arg, &e.0))
                            }
                            None if f.token => Ok(crate::common::random::uuid().into()),
                            None => continue,
                        };
                        match value {
                            Ok(v) => {
                                out.insert(f.wire.clone(), v);
                            }
                            Err(p) => problems.push(p),
                        }
                    }
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    Some(Value::Object(out).to_string().into_bytes())
                }
                None => None,
            };
            (rest.method.clone(), body)
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Request {
        method,
        url,
        headers,
        body,
    })
}

fn payload(
    p: &Payload,
    table: &Table,
    args: &Map<String, Value>,
    headers: &mut http::HeaderMap,
    problems: &mut Vec<ArgProblem>,
) -> Option<Vec<u8>> {
    let value = args.get(&p.arg)?;
    let (bytes, media) = match &p.kind {
        PayloadKind::Json(plan) => match to_wire(plan, table, value) {
            Ok(v) => (v.to_string().into_bytes(), "application/json"),
            Err(e) => {
                problems.push(problem(&p.arg, &e.0));
                return None;
            }
        },
        PayloadKind::Blob(media) => {
            let decoded = value
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
            match decoded {
                Some(b) => (b, media.as_str()),
                None => {
                    problems.push(problem(&p.arg, "must be base64 text"));
                    return None;
                }
            }
        }
        PayloadKind::Text(media) => match value.as_str() {
            Some(s) => (s.as_bytes().to_vec(), media.as_str()),
            None => {
                problems.push(problem(&p.arg, "must be a string"));
                return None;
            }
        },
    };
    if let Ok(v) = http::HeaderValue::from_str(media) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    Some(bytes)
}

fn problem(arg: &str, message: &str) -> ArgProblem {
    ArgProblem {
        arg: arg.to_string(),
        message: message.to_string(),
    }
}

/// A list's items, or the value itself.
fn items(v: &Value) -> impl Iterator<Item = &Value> {
    match v {
        Value::Array(a) => a.iter().collect::<Vec<_>>().into_iter(),
        other => vec![other].into_iter(),
    }
}

/// A scalar in its text form; a timestamp member's (given as text or epoch seconds) in its
/// format.
fn scalar(v: &Value, time: Option<TimeFormat>) -> Option<String> {
    if let Some(format) = time {
        return match timestamp(v, format).ok()? {
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        };
    }
    crate::common::encode::scalar_text(v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MODEL: &str = r##"{"smithy": "2.0", "shapes": {
      "ex#Svc": {"type": "service", "version": "1", "operations": [{"target": "ex#Put"}, {"target": "ex#Upload"}],
                 "traits": {"aws.protocols#restJson1": {}, "aws.auth#sigv4": {"name": "exsvc"}}},
      "ex#Put": {"type": "operation", "input": {"target": "ex#PutInput"},
                 "traits": {"smithy.api#http": {"method": "PUT", "uri": "/buckets/{Bucket}/{Key+}?tagging"}}},
      "ex#PutInput": {"type": "structure", "members": {
         "Bucket": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}},
         "Key": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}},
         "Limit": {"target": "smithy.api#Integer", "traits": {"smithy.api#httpQuery": "limit"}},
         "Extra": {"target": "ex#Params", "traits": {"smithy.api#httpQueryParams": {}}},
         "Since": {"target": "smithy.api#Timestamp", "traits": {"smithy.api#httpHeader": "If-Modified-Since"}},
         "Meta": {"target": "ex#Params", "traits": {"smithy.api#httpPrefixHeaders": "x-meta-"}},
         "Note": {"target": "smithy.api#String", "traits": {"smithy.api#jsonName": "note"}},
         "Token": {"target": "smithy.api#String", "traits": {"smithy.api#idempotencyToken": {}}}}},
      "ex#Params": {"type": "map", "key": {"target": "smithy.api#String"}, "value": {"target": "smithy.api#String"}},
      "ex#Upload": {"type": "operation", "input": {"target": "ex#UploadInput"},
                 "traits": {"smithy.api#http": {"method": "POST", "uri": "/up"}}},
      "ex#UploadInput": {"type": "structure", "members": {
         "Data": {"target": "ex#Bytes", "traits": {"smithy.api#httpPayload": {}}},
         "Kind": {"target": "smithy.api#String", "traits": {"smithy.api#httpHeader": "Content-Kind"}}}},
      "ex#Bytes": {"type": "blob", "traits": {"smithy.api#mediaType": "image/png"}}
    }}"##;

    fn request(op: &str, args: Value) -> Result<Request, Vec<ArgProblem>> {
        let imported = crate::targets::smithy::import(MODEL).unwrap();
        let op = imported.operations.iter().find(|o| o.name == op).unwrap();
        let endpoint = url::Url::parse("http://127.0.0.1:1/base").unwrap();
        build(
            &endpoint,
            &op.call,
            &imported.table,
            args.as_object().unwrap(),
        )
    }

    #[test]
    fn rest_json_bindings_go_where_the_model_says() {
        let req = request(
            "Put",
            json!({"Bucket": "b 1", "Key": "dir/a b+c.txt", "Limit": 5,
                   "Extra": {"limit": "ignored", "color": "red"}, "Since": 0,
                   "Meta": {"owner": "me"}, "Note": "hi"}),
        )
        .unwrap();
        assert_eq!(req.method, http::Method::PUT);
        assert_eq!(
            req.url.as_str(),
            "http://127.0.0.1:1/base/buckets/b%201/dir/a%20b%2Bc.txt?tagging=&limit=5&color=red"
        );
        assert_eq!(
            req.headers["if-modified-since"],
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(req.headers["x-meta-owner"], "me");
        let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["note"], "hi", "jsonName on the wire");
        assert_eq!(
            body["Token"].as_str().unwrap().len(),
            36,
            "idempotency token filled"
        );
        assert!(body.get("Bucket").is_none() && body.get("Limit").is_none());
    }

    #[test]
    fn payloads_labels_and_headers_are_checked() {
        let req = request("Upload", json!({"Data": "iVBORw==", "Kind": "png"})).unwrap();
        assert_eq!(req.body.as_deref(), Some(&[0x89, b'P', b'N', b'G'][..]));
        assert_eq!(req.headers["content-type"], "image/png");
        let problems =
            request("Upload", json!({"Data": "not base64!", "Kind": "a\nb"})).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        let problems = request(
            "Put",
            json!({"Bucket": "", "Key": "k", "Meta": {"a b": "x"}}),
        )
        .unwrap_err();
        let args: Vec<&str> = problems.iter().map(|p| p.arg.as_str()).collect();
        assert_eq!(args, ["Bucket", "Meta"], "{problems:?}");
    }
}
