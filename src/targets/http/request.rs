//! Builds the outbound HTTP request of a tool call from its [`CallPlan`] and the (already
//! schema-validated) arguments, safely:
//! - path arguments are percent-encoded as one segment each (`/` becomes `%2F`), and the
//!   dot-segments `.` and `..` and empty values are refused, so no argument can move the
//!   request to another path;
//! - query arguments are percent-encoded per RFC 3986 (a space is `%20`; see
//!   [`crate::common::encode`] for why not `+`), so the bytes sent are the bytes SigV4 signs;
//! - only headers the operation declares are sent, never one of the
//!   [forbidden](crate::common::headers) framing, routing or credential headers, and a value
//!   that is not visible ASCII (CR, LF, other control or non-ASCII characters) is refused,
//!   never sanitised;
//! - the body is JSON (or form-urlencoded) produced by serde;
//! - the URL is at most [`MAX_URL_BYTES`]; a longer one is refused naming the argument that
//!   made it long.

use serde_json::{Map, Value};
use url::Url;

use super::plan::{BodyEncoding, CallPlan, Place, Style};
use crate::common::encode::scalar_text as scalar;
use crate::common::{encode, headers as forbidden};
use crate::outbound::Request;
use crate::targets::output::ArgProblem;

/// The longest request URL the gateway sends (many servers refuse more than 8-16 KiB; the
/// HTTP client cannot represent more than 64 KiB).
pub const MAX_URL_BYTES: usize = 32 * 1024;

/// Builds the request for `plan` against `base_url` (scheme, host and base path).
pub fn build(
    base_url: &str,
    plan: &CallPlan,
    args: &Map<String, Value>,
) -> Result<Request, Vec<ArgProblem>> {
    let mut problems = Vec::new();
    let mut lengths: Vec<(&str, usize)> = Vec::new();
    let path = fill_path(plan, args, &mut problems, &mut lengths);
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
    let (query, mut headers) = query_and_headers(plan, args, &mut problems, &mut lengths);
    if !query.is_empty() {
        match url.query().filter(|q| !q.is_empty()) {
            Some(fixed) => url.set_query(Some(&format!("{fixed}&{query}"))),
            None => url.set_query(Some(&query)),
        }
    }
    if url.as_str().len() > MAX_URL_BYTES {
        let longest = lengths
            .iter()
            .max_by_key(|(_, n)| *n)
            .map_or("", |(a, _)| a);
        problems.push(ArgProblem {
            arg: longest.to_string(),
            message: format!(
                "is too long: the request URL would be {} bytes, over the limit of {MAX_URL_BYTES}",
                url.as_str().len()
            ),
        });
    }
    let body = body(plan, args, &mut headers, &mut problems);
    if problems.is_empty() {
        Ok(Request {
            method: plan.method.clone(),
            url,
            headers,
            body,
        })
    } else {
        Err(problems)
    }
}

/// The path template with each placeholder replaced by its encoded argument.
fn fill_path<'p>(
    plan: &'p CallPlan,
    args: &Map<String, Value>,
    problems: &mut Vec<ArgProblem>,
    lengths: &mut Vec<(&'p str, usize)>,
) -> String {
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
            .find(|b| matches!(&b.target, Place::Path(n) if n == name));
        match binding.and_then(|b| args.get(&b.arg).filter(|v| !v.is_null()).map(|v| (b, v))) {
            Some((b, value)) => match scalar_or_joined(value, b.explode, ",") {
                Some(s) if s.is_empty() => {
                    problem(problems, &b.arg, "must not be empty (it is a path segment)")
                }
                Some(s) if s == "." || s == ".." => problem(
                    problems,
                    &b.arg,
                    "`.` and `..` are not allowed as a path segment",
                ),
                Some(s) => {
                    let before = path.len();
                    path.extend(encode::path_segment(&s));
                    lengths.push((&b.arg, path.len() - before));
                }
                None => problem(problems, &b.arg, "cannot be serialised into a path segment"),
            },
            None => problem(
                problems,
                binding.map_or(name, |b| b.arg.as_str()),
                "is required (it is part of the path)",
            ),
        }
        rest = &rest[open + close + 1..];
    }
    path.push_str(rest);
    path
}

/// The encoded query string and the declared headers.
fn query_and_headers<'p>(
    plan: &'p CallPlan,
    args: &Map<String, Value>,
    problems: &mut Vec<ArgProblem>,
    lengths: &mut Vec<(&'p str, usize)>,
) -> (String, http::HeaderMap) {
    let mut query = String::new();
    let mut headers = http::HeaderMap::new();
    for b in &plan.bindings {
        // `null` means "absent" for parameters.
        let Some(value) = args.get(&b.arg).filter(|v| !v.is_null()) else {
            continue;
        };
        match &b.target {
            Place::Query(name) => match query_pairs(name, value, b.style, b.explode) {
                Some(pairs) => {
                    let before = query.len();
                    for (k, v) in pairs {
                        encode::push_query_pair(&mut query, &k, &v);
                    }
                    lengths.push((&b.arg, query.len() - before));
                }
                None => problem(
                    problems,
                    &b.arg,
                    "cannot be serialised into the query string",
                ),
            },
            Place::Header(name) => {
                if forbidden::is_forbidden(name) {
                    // The importer leaves these out; a plan built elsewhere must not send one.
                    problem(
                        problems,
                        &b.arg,
                        "names a header the gateway does not let arguments set",
                    );
                    continue;
                }
                let text = scalar_or_joined(value, b.explode, ",");
                let header = text
                    .as_deref()
                    .filter(|t| forbidden::is_sendable_value(t))
                    .and_then(|t| http::HeaderValue::from_str(t).ok());
                match (http::HeaderName::from_bytes(name.as_bytes()), header) {
                    (Ok(n), Some(v)) => {
                        headers.append(n, v);
                    }
                    _ => problem(
                        problems,
                        &b.arg,
                        "cannot be sent as a header value (control or non-ASCII characters, or a nested object)",
                    ),
                }
            }
            Place::Path(_) | Place::BodyProperty(_) | Place::WholeBody => {}
        }
    }
    (query, headers)
}

/// The encoded body, with its `Content-Type` added to `headers`.
fn body(
    plan: &CallPlan,
    args: &Map<String, Value>,
    headers: &mut http::HeaderMap,
    problems: &mut Vec<ArgProblem>,
) -> Option<Vec<u8>> {
    let encoding = plan.body.as_ref()?;
    let mut props: Option<Map<String, Value>> = None;
    let mut whole = None;
    for b in &plan.bindings {
        // In a JSON body `null` is a value (a nullable field).
        let Some(value) = args.get(&b.arg) else {
            continue;
        };
        match &b.target {
            Place::BodyProperty(name) => {
                props
                    .get_or_insert_with(Map::new)
                    .insert(name.clone(), value.clone());
            }
            Place::WholeBody => whole = Some(value),
            _ => {}
        }
    }
    let has_props = plan
        .bindings
        .iter()
        .any(|b| matches!(b.target, Place::BodyProperty(_)));
    let props = props
        .or_else(|| has_props.then(Map::new))
        .map(Value::Object);
    let value = whole.or(props.as_ref())?;
    match encoding {
        BodyEncoding::Json { content_type } => {
            insert_content_type(headers, content_type);
            Some(serde_json::to_vec(value).expect("a JSON value always serialises"))
        }
        BodyEncoding::Form => {
            insert_content_type(headers, "application/x-www-form-urlencoded");
            match form_body(value) {
                Some(b) => Some(b.into_bytes()),
                None => {
                    problem(
                        problems,
                        "body",
                        "cannot be form-encoded (expected an object)",
                    );
                    None
                }
            }
        }
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
    use crate::targets::http::plan::Binding;
    use serde_json::json;

    fn plan(
        path: &str,
        bindings: Vec<(&str, Place, Style, bool)>,
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
                    accepts_scalar: false,
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
            vec![("id", Place::Path("id".into()), Style::Simple, false)],
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
                ("tags", Place::Query("tags".into()), Style::Form, true),
                ("ids", Place::Query("ids".into()), Style::Form, false),
                ("f", Place::Query("filter".into()), Style::DeepObject, true),
                ("s", Place::Query("s".into()), Style::Form, true),
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
            Some("tags=a&tags=b%20c&ids=1%2C2&filter%5Bk%5D=v%26&s=x%3Dy")
        );
    }

    #[test]
    fn headers_refuse_injection() {
        let p = plan(
            "/h",
            vec![("t", Place::Header("X-Trace".into()), Style::Simple, false)],
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
                    Place::BodyProperty("type".into()),
                    Style::Simple,
                    false,
                ),
                (
                    "body_id",
                    Place::BodyProperty("id".into()),
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
