//! Builds the outbound HTTP request of a tool call from its [`CallPlan`] and the (already
//! schema-validated) arguments, safely:
//! - path arguments are percent-encoded as one segment each (`/` becomes `%2F`), and the
//!   dot-segments `.` and `..` and empty values are refused, so no argument can move the
//!   request to another path;
//! - query arguments are form-encoded by the `url` crate;
//! - only headers the operation declares are sent, and a value that is not a valid header
//!   value (CR, LF, other control or non-ASCII characters) is refused, never sanitised;
//! - the body is JSON (or form-urlencoded) produced by serde.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};
use url::Url;

use super::plan::{ArgTarget, BodyEncoding, CallPlan, Style};

/// Everything but RFC 3986 unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The request, ready to be signed and sent.
#[derive(Debug)]
pub struct OutboundRequest {
    pub method: http::Method,
    pub url: Url,
    pub headers: http::HeaderMap,
    pub body: Option<Vec<u8>>,
}

/// One argument that cannot be put into the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgProblem {
    pub arg: String,
    pub message: String,
}

/// Builds the request for `plan` against `base_url` (scheme, host and base path).
pub fn build(
    base_url: &str,
    plan: &CallPlan,
    args: &Map<String, Value>,
) -> Result<OutboundRequest, Vec<ArgProblem>> {
    let mut problems = Vec::new();
    let mut path = String::with_capacity(plan.path_template.len() + 16);
    let mut rest = plan.path_template.as_str();
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            path.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let name = &rest[open + 1..open + close];
        let binding = plan
            .bindings
            .iter()
            .find(|b| matches!(&b.target, ArgTarget::Path(n) if n == name));
        match binding.and_then(|b| args.get(&b.arg).filter(|v| !v.is_null()).map(|v| (b, v))) {
            Some((b, value)) => match scalar_or_joined(value, b.explode, ",") {
                Some(s) if s.is_empty() => problem(
                    &mut problems,
                    &b.arg,
                    "must not be empty (it is a path segment)",
                ),
                Some(s) if s == "." || s == ".." => problem(
                    &mut problems,
                    &b.arg,
                    "`.` and `..` are not allowed as a path segment",
                ),
                Some(s) => path.extend(utf8_percent_encode(&s, SEGMENT)),
                None => problem(
                    &mut problems,
                    &b.arg,
                    "cannot be serialised into a path segment",
                ),
            },
            None => problem(
                &mut problems,
                binding.map_or(name, |b| b.arg.as_str()),
                "is required (it is part of the path)",
            ),
        }
        rest = &rest[open + close + 1..];
    }
    path.push_str(rest);

    let mut url = match Url::parse(&format!("{}{path}", base_url.trim_end_matches('/'))) {
        Ok(u) => u,
        Err(e) => {
            problems.push(ArgProblem {
                arg: String::new(),
                message: format!("the request URL is invalid: {e}"),
            });
            return Err(problems);
        }
    };
    let mut headers = http::HeaderMap::new();
    let mut body_props = Map::new();
    let mut whole_body = None;
    {
        let mut query = url.query_pairs_mut();
        for b in &plan.bindings {
            // `null` means "absent" for parameters; in a JSON body it is a value (a nullable field).
            let in_body = matches!(b.target, ArgTarget::BodyProperty(_) | ArgTarget::WholeBody);
            let Some(value) = args.get(&b.arg).filter(|v| in_body || !v.is_null()) else {
                continue;
            };
            match &b.target {
                ArgTarget::Path(_) => {}
                ArgTarget::Query(name) => match query_pairs(name, value, b.style, b.explode) {
                    Some(pairs) => {
                        for (k, v) in pairs {
                            query.append_pair(&k, &v);
                        }
                    }
                    None => problem(
                        &mut problems,
                        &b.arg,
                        "cannot be serialised into the query string",
                    ),
                },
                ArgTarget::Header(name) => {
                    let text = scalar_or_joined(value, b.explode, ",");
                    let header = text
                        .as_deref()
                        .and_then(|t| http::HeaderValue::from_str(t).ok());
                    match (http::HeaderName::from_bytes(name.as_bytes()), header) {
                        (Ok(n), Some(v)) => {
                            headers.append(n, v);
                        }
                        _ => problem(
                            &mut problems,
                            &b.arg,
                            "cannot be sent as a header value (control or non-ASCII characters, or a nested object)",
                        ),
                    }
                }
                ArgTarget::BodyProperty(name) => {
                    body_props.insert(name.clone(), value.clone());
                }
                ArgTarget::WholeBody => whole_body = Some(value.clone()),
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let has_props = plan
        .bindings
        .iter()
        .any(|b| matches!(b.target, ArgTarget::BodyProperty(_)));
    let body_value = whole_body.or_else(|| has_props.then_some(Value::Object(body_props)));
    let body = match (&plan.body, body_value) {
        (Some(BodyEncoding::Json { content_type }), Some(v)) => {
            insert_content_type(&mut headers, content_type);
            Some(serde_json::to_vec(&v).expect("a JSON value always serialises"))
        }
        (Some(BodyEncoding::Form), Some(v)) => {
            insert_content_type(&mut headers, "application/x-www-form-urlencoded");
            match form_body(&v) {
                Some(b) => Some(b.into_bytes()),
                None => {
                    problem(
                        &mut problems,
                        "body",
                        "cannot be form-encoded (expected an object)",
                    );
                    None
                }
            }
        }
        _ => None,
    };
    if problems.is_empty() {
        Ok(OutboundRequest {
            method: plan.method.clone(),
            url,
            headers,
            body,
        })
    } else {
        Err(problems)
    }
}

fn problem(problems: &mut Vec<ArgProblem>, arg: &str, message: &str) {
    problems.push(ArgProblem {
        arg: arg.to_string(),
        message: message.to_string(),
    });
}

fn insert_content_type(headers: &mut http::HeaderMap, content_type: &str) {
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Simple-style serialisation: scalars as is, arrays joined, objects as `k,v` or `k=v` pairs.
fn scalar_or_joined(value: &Value, explode: bool, sep: &str) -> Option<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(sep)),
        Value::Object(map) => {
            let mut parts = Vec::new();
            for (k, v) in map {
                let v = scalar(v)?;
                if explode {
                    parts.push(format!("{k}={v}"));
                } else {
                    parts.push(k.clone());
                    parts.push(v);
                }
            }
            Some(parts.join(sep))
        }
        other => scalar(other),
    }
}

fn query_pairs(
    name: &str,
    value: &Value,
    style: Style,
    explode: bool,
) -> Option<Vec<(String, String)>> {
    match (value, style) {
        (Value::Array(items), Style::Form) if explode => items
            .iter()
            .map(|v| scalar(v).map(|s| (name.to_string(), s)))
            .collect(),
        (Value::Array(_), Style::SpaceDelimited) => Some(vec![(
            name.to_string(),
            scalar_or_joined(value, false, " ")?,
        )]),
        (Value::Array(_), Style::PipeDelimited) => Some(vec![(
            name.to_string(),
            scalar_or_joined(value, false, "|")?,
        )]),
        (Value::Object(map), Style::DeepObject) => map
            .iter()
            .map(|(k, v)| scalar(v).map(|s| (format!("{name}[{k}]"), s)))
            .collect(),
        (Value::Object(map), Style::Form) if explode => map
            .iter()
            .map(|(k, v)| scalar(v).map(|s| (k.clone(), s)))
            .collect(),
        _ => Some(vec![(
            name.to_string(),
            scalar_or_joined(value, false, ",")?,
        )]),
    }
}

fn form_body(value: &Value) -> Option<String> {
    let map = value.as_object()?;
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in map {
        match v {
            Value::Array(items) => {
                for item in items {
                    out.append_pair(k, &scalar(item).unwrap_or_else(|| item.to_string()));
                }
            }
            Value::Null => {}
            other => {
                out.append_pair(k, &scalar(other).unwrap_or_else(|| other.to_string()));
            }
        }
    }
    Some(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoke::plan::Binding;
    use serde_json::json;

    fn plan(
        path: &str,
        bindings: Vec<(&str, ArgTarget, Style, bool)>,
        body: Option<BodyEncoding>,
    ) -> CallPlan {
        CallPlan {
            method: http::Method::GET,
            path_template: path.into(),
            bindings: bindings
                .into_iter()
                .map(|(arg, target, style, explode)| Binding {
                    arg: arg.into(),
                    target,
                    style,
                    explode,
                })
                .collect(),
            body,
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn path_arguments_cannot_escape_their_segment() {
        let p = plan(
            "/pets/{id}/toys",
            vec![("id", ArgTarget::Path("id".into()), Style::Simple, false)],
            None,
        );
        let r = build(
            "http://h/dev",
            &p,
            &args(json!({"id": "../../admin?x=1#f"})),
        )
        .unwrap();
        assert_eq!(
            r.url.as_str(),
            "http://h/dev/pets/..%2F..%2Fadmin%3Fx%3D1%23f/toys"
        );
        for bad in ["..", ".", ""] {
            let e = build("http://h/dev", &p, &args(json!({"id": bad}))).unwrap_err();
            assert_eq!(e[0].arg, "id");
        }
        let r = build("http://h/", &p, &args(json!({"id": 7}))).unwrap();
        assert_eq!(r.url.path(), "/pets/7/toys");
        let e = build("http://h", &p, &args(json!({}))).unwrap_err();
        assert!(e[0].message.contains("required"));
    }

    #[test]
    fn query_styles() {
        let p = plan(
            "/q",
            vec![
                ("tags", ArgTarget::Query("tags".into()), Style::Form, true),
                ("ids", ArgTarget::Query("ids".into()), Style::Form, false),
                (
                    "f",
                    ArgTarget::Query("filter".into()),
                    Style::DeepObject,
                    true,
                ),
                ("s", ArgTarget::Query("s".into()), Style::Form, true),
            ],
            None,
        );
        let r = build(
            "http://h",
            &p,
            &args(json!({"tags": ["a", "b c"], "ids": [1, 2], "f": {"k": "v&"}, "s": "x=y"})),
        )
        .unwrap();
        assert_eq!(
            r.url.query(),
            Some("tags=a&tags=b+c&ids=1%2C2&filter%5Bk%5D=v%26&s=x%3Dy")
        );
    }

    #[test]
    fn headers_refuse_injection() {
        let p = plan(
            "/h",
            vec![(
                "t",
                ArgTarget::Header("X-Trace".into()),
                Style::Simple,
                false,
            )],
            None,
        );
        let e = build("http://h", &p, &args(json!({"t": "a\r\nX-Evil: 1"}))).unwrap_err();
        assert_eq!(e[0].arg, "t");
        let r = build("http://h", &p, &args(json!({"t": "abc"}))).unwrap();
        assert_eq!(r.headers["x-trace"], "abc");
    }

    #[test]
    fn json_body_from_properties() {
        let p = plan(
            "/pets",
            vec![
                (
                    "type",
                    ArgTarget::BodyProperty("type".into()),
                    Style::Simple,
                    false,
                ),
                (
                    "body_id",
                    ArgTarget::BodyProperty("id".into()),
                    Style::Simple,
                    false,
                ),
            ],
            Some(BodyEncoding::Json {
                content_type: "application/json".into(),
            }),
        );
        let r = build("http://h", &p, &args(json!({"type": "dog", "body_id": 3}))).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body.unwrap()).unwrap(),
            json!({"type": "dog", "id": 3})
        );
        assert_eq!(r.headers["content-type"], "application/json");
    }
}
