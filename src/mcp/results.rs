//! The one place that decides what a client sees when something goes wrong or right:
//! - a backend reply becomes a `CallToolResult` (2xx: the body as text, plus
//!   `structuredContent` for a JSON object; otherwise `isError: true` with status and body);
//! - a [`CallError`] becomes an `isError` result: bad arguments are named one by one so the
//!   model can correct itself; gateway and transport failures say only that the call failed,
//!   unless `exceptionLevel: DEBUG`, which adds the detail (also under `_meta.debug`);
//! - an [`RpcError`] gets its HTTP status here.
//!
//! A result is serialised straight from borrowed parts into the response buffer: the
//! backend's body is the text (escaped once) and, for a JSON object, the `structuredContent`
//! as it came (checked, never parsed into a tree). A 9 MB reply costs about three times its
//! size, not the seventy times a `serde_json::Value` of small elements takes.

use std::borrow::Cow;

use base64::Engine;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::jsonrpc::{self, Id, RpcError};
use super::session::SessionError;
use super::version::ProtocolVersion;
use crate::invoke::{CallError, Reply};

/// A `CallToolResult` with borrowed parts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult<'a> {
    content: [Content<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    structured_content: Option<&'a RawValue>,
    is_error: bool,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Content<'a> {
    Text { text: Cow<'a, str> },
    Resource { resource: Blob<'a> },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    uri: &'static str,
    mime_type: &'a str,
    blob: String,
}

impl<'a> ToolResult<'a> {
    fn text(text: impl Into<Cow<'a, str>>, is_error: bool) -> Self {
        Self {
            content: [Content::Text { text: text.into() }],
            structured_content: None,
            is_error,
            meta: None,
            result_type: None,
        }
    }
}

/// The JSON-RPC response to one `tools/call`.
pub fn tool_response(
    id: &Id,
    tool: &str,
    outcome: Result<Reply, CallError>,
    version: ProtocolVersion,
    debug: bool,
) -> Vec<u8> {
    let reply;
    let mut result = match outcome {
        Ok(r) => {
            reply = r;
            reply_result(&reply, version)
        }
        Err(CallError::InvalidArguments(problems)) => {
            let mut text = format!("Invalid arguments for tool {tool}:");
            for p in &problems {
                if p.arg.is_empty() {
                    text.push_str(&format!("\n- {}", p.message));
                } else {
                    text.push_str(&format!("\n- argument `{}`: {}", p.arg, p.message));
                }
            }
            ToolResult::text(text, true)
        }
        Err(e) => {
            log_failure(tool, &e);
            let generic = match e {
                CallError::Timeout(_) | CallError::ConnectTimeout(_) => {
                    format!("Tool {tool} failed: the target did not answer in time.")
                }
                _ => format!(
                    "Tool {tool} failed: an internal error occurred while calling the target."
                ),
            };
            if debug {
                let detail = format!("{generic} Detail: {e}");
                let mut r = ToolResult::text(detail.clone(), true);
                r.meta = Some(json!({"debug": {"type": "text", "text": detail}}));
                r
            } else {
                ToolResult::text(generic, true)
            }
        }
    };
    if version.has_result_type() {
        result.result_type = Some("complete");
    }
    let size = match &result.content[0] {
        Content::Text { text } => text.len() + text.len() / 8,
        Content::Resource { resource } => resource.blob.len(),
    } + result.structured_content.map_or(0, |s| s.get().len())
        + 256;
    jsonrpc::success_sized(id, &result, size)
}

/// One WARN line per tool per 10 s at most (a backend that is down would otherwise log one
/// per call); the rest go to DEBUG, and the next WARN says how many it stood for. `true`
/// when this one was a WARN.
fn log_failure(tool: &str, e: &CallError) -> bool {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    struct Slot {
        last: AtomicU64,
        suppressed: AtomicU64,
    }
    const EVERY_SECS: u64 = 10;
    static SLOTS: [Slot; 64] = [const {
        Slot {
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }; 64];
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(tool);
    let slot = &SLOTS[(hash % 64) as usize];
    let now = crate::unix_now();
    let last = slot.last.load(Ordering::Relaxed);
    if now >= last + EVERY_SECS
        && slot
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = slot.suppressed.swap(0, Ordering::Relaxed);
        tracing::warn!(tool, error = %e, similar_since_last = suppressed, "tool call failed");
        true
    } else {
        slot.suppressed.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(tool, error = %e, "tool call failed");
        false
    }
}

fn reply_result(reply: &Reply, version: ProtocolVersion) -> ToolResult<'_> {
    let status = reply.status;
    let text = std::str::from_utf8(&reply.body).ok();
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        let body = text
            .map(Cow::Borrowed)
            .unwrap_or_else(|| format!("<{} bytes of binary data>", reply.body.len()).into());
        return ToolResult::text(format!("HTTP {} {reason}: {body}", status.as_u16()), true);
    }
    let mut result = match text {
        Some("") => ToolResult::text(
            format!("HTTP {} with an empty body", status.as_u16()),
            false,
        ),
        Some(t) => ToolResult::text(t, false),
        None => ToolResult {
            content: [Content::Resource {
                resource: Blob {
                    uri: "mcp-gateway://response",
                    mime_type: reply
                        .content_type
                        .as_deref()
                        .unwrap_or("application/octet-stream"),
                    blob: base64::engine::general_purpose::STANDARD.encode(&reply.body),
                },
            }],
            ..ToolResult::text("", false)
        },
    };
    if version.has_structured_content()
        && let Some(t) = text
    {
        result.structured_content = json_object(t);
    }
    result
}

/// `text` as a raw JSON object, when it is one: well-formed, nested no deeper than
/// serde_json's limit (128), checked in a pass that builds nothing.
fn json_object(text: &str) -> Option<&RawValue> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    Shape::deserialize(&mut de).ok()?;
    de.end().ok()?;
    serde_json::from_str::<&RawValue>(text).ok()
}

/// Accepts any JSON value and keeps nothing of it; its visitor recurses through arrays and
/// objects, so the deserializer's nesting limit applies.
struct Shape;

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                while seq.next_element::<Shape>()?.is_some() {}
                Ok(Shape)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                while map.next_entry::<Shape, Shape>()?.is_some() {}
                Ok(Shape)
            }
        }
        d.deserialize_any(V)
    }
}

/// The HTTP status a JSON-RPC error travels with. An error that answers no id (the message
/// could not be read, or was a notification) is a 400: the transport says a message the
/// server cannot accept gets an HTTP error status.
pub fn http_status(error: &RpcError, modern: bool, has_id: bool) -> http::StatusCode {
    use http::StatusCode;
    if !has_id {
        return StatusCode::BAD_REQUEST;
    }
    match error.code {
        jsonrpc::PARSE_ERROR | jsonrpc::INVALID_REQUEST => StatusCode::BAD_REQUEST,
        jsonrpc::HEADER_MISMATCH | jsonrpc::UNSUPPORTED_PROTOCOL_VERSION => StatusCode::BAD_REQUEST,
        jsonrpc::METHOD_NOT_FOUND if modern => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// The HTTP status for a refused session id: 404 tells the client to initialize again (as the
/// specification says); a session of another principal is forbidden.
pub fn session_status(e: SessionError) -> http::StatusCode {
    match e {
        SessionError::WrongPrincipal => http::StatusCode::FORBIDDEN,
        SessionError::Unknown | SessionError::Expired | SessionError::Ended => {
            http::StatusCode::NOT_FOUND
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoke::request::ArgProblem;

    /// The `result` of the response `tool_response` writes.
    fn tool_result(
        tool: &str,
        outcome: Result<Reply, CallError>,
        version: ProtocolVersion,
        debug: bool,
    ) -> Value {
        let id = Id::from_json("1").unwrap();
        let body = tool_response(&id, tool, outcome, version, debug);
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        v["result"].take()
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: http::StatusCode::from_u16(status).unwrap(),
            content_type: Some("application/json".into()),
            body: bytes::Bytes::from(body.to_string()),
            held: Default::default(),
        }
    }

    #[test]
    fn success_and_structured_content() {
        let r = tool_result(
            "t",
            Ok(reply(200, r#"{"id":1}"#)),
            ProtocolVersion::V2025_06_18,
            false,
        );
        assert_eq!(
            r,
            json!({"content": [{"type": "text", "text": "{\"id\":1}"}], "structuredContent": {"id": 1}, "isError": false})
        );
        let r = tool_result(
            "t",
            Ok(reply(200, "[1]")),
            ProtocolVersion::V2026_07_28,
            false,
        );
        assert!(r.get("structuredContent").is_none());
        assert_eq!(r["resultType"], "complete");
        let r = tool_result(
            "t",
            Ok(reply(200, r#"{"id":1}"#)),
            ProtocolVersion::V2025_03_26,
            false,
        );
        assert!(r.get("structuredContent").is_none());
        // Not an object, malformed, or nested past the limit: text only.
        for body in [
            r#"{"a":"#,
            r#"{"a":1} x"#,
            &format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200)),
        ] {
            let r = tool_result(
                "t",
                Ok(reply(200, body)),
                ProtocolVersion::V2025_06_18,
                false,
            );
            assert!(r.get("structuredContent").is_none(), "{body}");
            assert_eq!(r["content"][0]["text"], body);
        }
        // Passed through as written (a number beyond 64 bits stays itself).
        let id = Id::from_json("1").unwrap();
        let out = tool_response(
            &id,
            "t",
            Ok(reply(200, r#"{"n": 123456789012345678901234567890}"#)),
            ProtocolVersion::V2025_06_18,
            false,
        );
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains(r#""structuredContent":{"n": 123456789012345678901234567890}"#),
            "{out}"
        );
    }

    #[test]
    fn http_errors_carry_status_and_body() {
        let r = tool_result(
            "t",
            Ok(reply(404, r#"{"message":"no pet"}"#)),
            ProtocolVersion::V2025_06_18,
            false,
        );
        assert_eq!(r["isError"], true);
        assert_eq!(
            r["content"][0]["text"],
            "HTTP 404 Not Found: {\"message\":\"no pet\"}"
        );
    }

    #[test]
    fn transport_detail_only_with_debug() {
        let r = tool_result(
            "t",
            Err(CallError::Connect("refused at 10.0.0.1".into())),
            ProtocolVersion::V2025_06_18,
            false,
        );
        assert!(!r.to_string().contains("10.0.0.1"));
        let r = tool_result(
            "t",
            Err(CallError::Connect("refused at 10.0.0.1".into())),
            ProtocolVersion::V2025_06_18,
            true,
        );
        assert!(
            r["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("10.0.0.1")
        );
        assert!(
            r["_meta"]["debug"]["text"]
                .as_str()
                .unwrap()
                .contains("10.0.0.1")
        );
    }

    #[test]
    fn failed_calls_warn_once_per_tool_per_interval() {
        let e = CallError::Connect("refused".into());
        assert!(log_failure("throttle-a", &e));
        assert!(
            !log_failure("throttle-a", &e),
            "the second within 10 s is DEBUG"
        );
        assert!(!log_failure("throttle-a", &e));
        // Another tool has its own slot (unless the two hash alike: 1 in 64).
        let other = (0..100)
            .map(|i| format!("throttle-b{i}"))
            .find(|t| log_failure(t, &e));
        assert!(other.is_some());
    }

    #[test]
    fn argument_problems_are_named() {
        let problems = vec![ArgProblem {
            arg: "petId".into(),
            message: "is required".into(),
        }];
        let r = tool_result(
            "t",
            Err(CallError::InvalidArguments(problems)),
            ProtocolVersion::V2025_06_18,
            false,
        );
        assert_eq!(
            r["content"][0]["text"],
            "Invalid arguments for tool t:\n- argument `petId`: is required"
        );
        assert_eq!(r["isError"], true);
    }
}
