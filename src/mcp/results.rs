//! The one place that decides what a client sees when something goes wrong or right:
//! - a [`ToolOutput`] becomes a `CallToolResult`, shaped for the client's protocol version
//!   (`structuredContent` from 2025-06-18 on, `resultType` for 2026-07-28);
//! - a [`CallError`] becomes an `isError` result: bad arguments are named one by one so the
//!   model can correct itself; target and gateway failures say only that the call failed (or
//!   timed out), unless `exceptionLevel: DEBUG`, which adds the detail (also under
//!   `_meta.debug`). The error's [`Class`] decides the words and the log level;
//! - an [`RpcError`] gets its HTTP status here.
//!
//! A result is serialised straight from borrowed parts into the response buffer: a backend's
//! body is the text (escaped once) and, for a JSON object, the `structuredContent` as it came
//! (checked when the output was made, never parsed into a tree). A 9 MB reply costs about
//! three times its size, not the seventy times a `serde_json::Value` of small elements takes.

use base64::Engine;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::jsonrpc::{self, Id, RpcError};
use super::session::SessionError;
use super::version::ProtocolVersion;
use crate::common::error_chain;
use crate::targets::mcp_server::UpstreamError;
use crate::targets::output::{Content, Text};
use crate::targets::{CallError, Class, Fault, ToolOutput};

/// A `CallToolResult` with borrowed parts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult<'a> {
    content: Vec<Item<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    structured_content: Option<&'a RawValue>,
    is_error: bool,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<Meta<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Meta<'a> {
    Passed(&'a RawValue),
    Debug(Value),
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Typed(Typed<'a>),
    Raw(&'a RawValue),
    /// A passed-through item this client's version has no type for, as text.
    Described(Described),
}

#[derive(Serialize)]
struct Described {
    r#type: &'static str,
    text: String,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Typed<'a> {
    Text { text: &'a str },
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
    fn of(output: &'a ToolOutput, version: ProtocolVersion) -> Self {
        let content = output
            .content
            .iter()
            .map(|c| match c {
                Content::Text(t) => Item::Typed(Typed::Text { text: t.as_str() }),
                Content::Blob {
                    uri,
                    mime_type,
                    data,
                } => Item::Typed(Typed::Resource {
                    resource: Blob {
                        uri,
                        mime_type,
                        blob: base64::engine::general_purpose::STANDARD.encode(data),
                    },
                }),
                Content::Raw(r) if !version.has_resource_links() => described(r),
                Content::Raw(r) => Item::Raw(r),
            })
            .collect();
        let structured_content = output
            .structured
            .as_ref()
            .filter(|_| version.has_structured_content())
            .and_then(|j| serde_json::from_str::<&RawValue>(j.as_str()).ok());
        Self {
            content,
            structured_content,
            is_error: output.is_error,
            meta: output.meta.as_deref().map(Meta::Passed),
            result_type: version.has_result_type().then_some("complete"),
        }
    }

    /// The size to reserve for the serialised result.
    fn size_hint(output: &ToolOutput) -> usize {
        let content: usize = output
            .content
            .iter()
            .map(|c| match c {
                Content::Text(t) => t.as_str().len() + t.as_str().len() / 8,
                Content::Blob { data, .. } => data.len() * 4 / 3 + 64,
                Content::Raw(r) => r.get().len(),
            })
            .sum();
        content + output.structured.as_ref().map_or(0, |s| s.as_str().len()) + 256
    }
}

/// A passed-through item for a client of 2025-03-26: a `resource_link` (which that version
/// does not have) becomes a text item naming the link; anything else passes as written.
fn described(raw: &RawValue) -> Item<'_> {
    #[derive(serde::Deserialize)]
    struct Link {
        r#type: String,
        #[serde(default)]
        uri: String,
        #[serde(default)]
        name: String,
    }
    match serde_json::from_str::<Link>(raw.get()) {
        Ok(l) if l.r#type == "resource_link" => Item::Described(Described {
            r#type: "text",
            text: format!("Resource link: {} ({})", l.name, l.uri),
        }),
        _ => Item::Raw(raw),
    }
}

/// The JSON-RPC response to one `tools/call`.
pub fn tool_response(
    id: &Id,
    tool: &str,
    outcome: Result<ToolOutput, CallError>,
    version: ProtocolVersion,
    debug: bool,
) -> Result<Vec<u8>, RpcError> {
    let output = match outcome {
        Ok(output) => output,
        Err(e) => {
            if let Some(rpc) = passed_through(&e) {
                return Err(rpc);
            }
            failure(tool, &e, debug)
        }
    };
    let mut result = ToolResult::of(&output, version);
    if debug
        && output.is_error
        && output.meta.is_none()
        && let Some(Content::Text(t)) = output.content.first()
        && t.as_str().contains(" Detail: ")
    {
        result.meta = Some(Meta::Debug(
            json!({"debug": {"type": "text", "text": t.as_str()}}),
        ));
    }
    Ok(jsonrpc::success_sized(
        id,
        &result,
        ToolResult::size_hint(&output),
    ))
}

/// An upstream MCP server's JSON-RPC error that is about the client's own request (invalid
/// parameters, an invalid request, a capability it did not declare) or needs the client to
/// act (URL elicitation required):
/// the client gets it as a JSON-RPC error, as it would from the upstream itself.
fn passed_through(e: &CallError) -> Option<RpcError> {
    let CallError::Upstream(UpstreamError::Rpc {
        code,
        message,
        data,
    }) = e
    else {
        return None;
    };
    if !matches!(
        *code,
        jsonrpc::INVALID_PARAMS
            | jsonrpc::INVALID_REQUEST
            | URL_ELICITATION_REQUIRED
            | MISSING_REQUIRED_CLIENT_CAPABILITY
    ) {
        return None;
    }
    Some(upstream_rpc(*code, message, data.as_deref()))
}

/// An upstream's JSON-RPC error, as it sent it.
fn upstream_rpc(code: i64, message: &str, data: Option<&RawValue>) -> RpcError {
    let rpc = RpcError::new(code, message);
    match data.and_then(|d| serde_json::from_str::<Value>(d.get()).ok()) {
        Some(d) => rpc.with_data(d),
        None => rpc,
    }
}

/// The JSON-RPC error for a forwarded request that failed (`what` names it: "Prompt x",
/// "Resource y"): the upstream's own JSON-RPC error as it sent it (the client asked the
/// upstream, through the gateway); otherwise the words of a failed call, as a JSON-RPC
/// internal error.
pub fn forwarded_failure(what: &str, e: &CallError, debug: bool) -> RpcError {
    if let CallError::Upstream(UpstreamError::Rpc {
        code,
        message,
        data,
    }) = e
    {
        return upstream_rpc(*code, message, data.as_deref());
    }
    let class = e.class();
    log_failure(what, e, class);
    let generic = if class.timed_out {
        format!("{what} failed: the target did not answer in time.")
    } else if let Some(said) = target_said(e) {
        format!("{what} failed: {said}")
    } else {
        format!("{what} failed: an internal error occurred while calling the target.")
    };
    let message = if debug {
        format!("{generic} Detail: {}", error_chain(e))
    } else {
        generic
    };
    RpcError::new(jsonrpc::INTERNAL_ERROR, message)
}

/// MCP's `URLElicitationRequiredError`.
const URL_ELICITATION_REQUIRED: i64 = -32042;
/// MCP's error for a request the client's declared capabilities cannot serve (2026-07-28).
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;

/// The `isError` output for a failed call: named argument problems for the client's own
/// mistakes; otherwise a generic sentence, with the detail only under DEBUG.
fn failure(tool: &str, e: &CallError, debug: bool) -> ToolOutput {
    if let CallError::InvalidArguments(problems) = e {
        let mut text = format!("Invalid arguments for tool {tool}:");
        for p in problems {
            if p.arg.is_empty() {
                text.push_str(&format!("\n- {}", p.message));
            } else {
                text.push_str(&format!("\n- argument `{}`: {}", p.arg, p.message));
            }
        }
        return ToolOutput::text(text, true);
    }
    let class = e.class();
    if class.fault == Fault::Client {
        tracing::debug!(tool, error = error_chain(e), "tool call refused");
    } else {
        log_failure(tool, e, class);
    }
    let generic = if class.timed_out {
        format!("Tool {tool} failed: the target did not answer in time.")
    } else if let Some(said) = target_said(e) {
        format!("Tool {tool} failed: {said}")
    } else {
        format!("Tool {tool} failed: an internal error occurred while calling the target.")
    };
    if debug {
        ToolOutput::text(
            Text::Owned(format!("{generic} Detail: {}", error_chain(e))),
            true,
        )
    } else {
        ToolOutput::text(generic, true)
    }
}

/// What a failure may tell the model without DEBUG: what the target itself said (an
/// upstream's JSON-RPC error message, as a REST target's error body is shown), and that the
/// target refused the gateway's credentials. Never the gateway's own internals.
fn target_said(e: &CallError) -> Option<String> {
    match e {
        CallError::Upstream(UpstreamError::Rpc { code, message, .. }) => {
            Some(format!("the target answered with error {code}: {message}"))
        }
        CallError::Upstream(UpstreamError::Unauthorized(status)) => Some(format!(
            "the target refused the gateway's credentials (HTTP {}).",
            status.as_u16()
        )),
        CallError::Aws(e) => Some(format!(
            "{} answered {} (HTTP {}): {}{}",
            e.service,
            e.code,
            e.status.as_u16(),
            e.message,
            if e.retryable() {
                " The call may succeed if retried later."
            } else {
                ""
            }
        )),
        _ => None,
    }
}

/// One WARN line per tool per 10 s at most (a backend that is down would otherwise log one
/// per call); the rest go to DEBUG, and the next WARN says how many it stood for. `true`
/// when this one was a WARN.
fn log_failure(tool: &str, e: &CallError, class: Class) -> bool {
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
    let now = crate::common::unix_now();
    let last = slot.last.load(Ordering::Relaxed);
    if now >= last + EVERY_SECS
        && slot
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = slot.suppressed.swap(0, Ordering::Relaxed);
        let error = error_chain(e);
        tracing::warn!(tool, error, fault = ?class.fault, retryable = class.retryable, similar_since_last = suppressed, "tool call failed");
        true
    } else {
        slot.suppressed.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(tool, error = error_chain(e), "tool call failed");
        false
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
    use crate::net::{NetError, Reply};
    use crate::targets::ArgProblem;
    use crate::targets::http::reply::output;

    /// The `result` of the response `tool_response` writes.
    fn tool_result(
        tool: &str,
        outcome: Result<ToolOutput, CallError>,
        version: ProtocolVersion,
        debug: bool,
    ) -> Value {
        let id = Id::from_json("1").unwrap();
        let body = tool_response(&id, tool, outcome, version, debug).unwrap();
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        v["result"].take()
    }

    fn reply(status: u16, body: &str) -> ToolOutput {
        output(Reply {
            status: http::StatusCode::from_u16(status).unwrap(),
            content_type: Some("application/json".into()),
            headers: Default::default(),
            body: bytes::Bytes::from(body.to_string()),
            held: Default::default(),
        })
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
        )
        .unwrap();
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
        assert!(r.get("structuredContent").is_none());
    }

    #[test]
    fn binary_bodies_are_embedded_resources() {
        let out = output(Reply {
            status: http::StatusCode::OK,
            content_type: Some("image/png".into()),
            headers: Default::default(),
            body: bytes::Bytes::from_static(&[0x89, 0xff, 0x00]),
            held: Default::default(),
        });
        let r = tool_result("t", Ok(out), ProtocolVersion::V2025_06_18, false);
        assert_eq!(
            r["content"][0],
            json!({"type": "resource", "resource": {"uri": "mcp-gateway://response", "mimeType": "image/png", "blob": "if8A"}})
        );
    }

    #[test]
    fn failure_detail_only_with_debug() {
        let e = || Err(CallError::Net(NetError::TooLarge(123_456)));
        let r = tool_result("t", e(), ProtocolVersion::V2025_06_18, false);
        assert_eq!(
            r["content"][0]["text"],
            "Tool t failed: an internal error occurred while calling the target."
        );
        assert!(!r.to_string().contains("123456"));
        assert!(r.get("_meta").is_none());
        let r = tool_result("t", e(), ProtocolVersion::V2025_06_18, true);
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("123456"), "{text}");
        assert_eq!(r["_meta"]["debug"]["text"], text);
        let r = tool_result(
            "t",
            Err(CallError::Timeout(std::time::Duration::from_secs(1))),
            ProtocolVersion::V2025_06_18,
            false,
        );
        assert_eq!(
            r["content"][0]["text"],
            "Tool t failed: the target did not answer in time."
        );
    }

    #[test]
    fn failed_calls_warn_once_per_tool_per_interval() {
        let e = CallError::Net(NetError::Overloaded);
        let c = e.class();
        assert!(log_failure("throttle-a", &e, c));
        assert!(
            !log_failure("throttle-a", &e, c),
            "the second within 10 s is DEBUG"
        );
        assert!(!log_failure("throttle-a", &e, c));
        // Another tool has its own slot (unless the two hash alike: 1 in 64).
        let other = (0..100)
            .map(|i| format!("throttle-b{i}"))
            .find(|t| log_failure(t, &e, c));
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
