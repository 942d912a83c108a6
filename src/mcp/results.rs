//! The one place that decides what a client sees when something goes wrong or right:
//! - a backend reply becomes a `CallToolResult` (2xx: the body as text, plus
//!   `structuredContent` for a JSON object; otherwise `isError: true` with status and body);
//! - a [`CallError`] becomes an `isError` result: bad arguments are named one by one so the
//!   model can correct itself; gateway and transport failures say only that the call failed,
//!   unless `exceptionLevel: DEBUG`, which adds the detail (also under `_meta.debug`);
//! - an [`RpcError`] gets its HTTP status here.

use base64::Engine;
use serde_json::{Value, json};

use super::jsonrpc::{self, RpcError};
use super::session::SessionError;
use super::version::ProtocolVersion;
use crate::invoke::{CallError, Reply};

/// The `CallToolResult` for one call.
pub fn tool_result(
    tool: &str,
    outcome: Result<Reply, CallError>,
    version: ProtocolVersion,
    debug: bool,
) -> Value {
    let mut result = match outcome {
        Ok(reply) => reply_result(reply, version),
        Err(CallError::InvalidArguments(problems)) => {
            let mut text = format!("Invalid arguments for tool {tool}:");
            for p in &problems {
                if p.arg.is_empty() {
                    text.push_str(&format!("\n- {}", p.message));
                } else {
                    text.push_str(&format!("\n- argument `{}`: {}", p.arg, p.message));
                }
            }
            error_text(text)
        }
        Err(e) => {
            tracing::warn!(tool, error = %e, "tool call failed");
            let generic = match e {
                CallError::Timeout(_) => {
                    format!("Tool {tool} failed: the target did not answer in time.")
                }
                _ => format!(
                    "Tool {tool} failed: an internal error occurred while calling the target."
                ),
            };
            if debug {
                let detail = format!("{generic} Detail: {e}");
                let mut r = error_text(detail.clone());
                r["_meta"] = json!({"debug": {"type": "text", "text": detail}});
                r
            } else {
                error_text(generic)
            }
        }
    };
    if version.has_result_type() {
        result["resultType"] = json!("complete");
    }
    result
}

fn error_text(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

fn reply_result(reply: Reply, version: ProtocolVersion) -> Value {
    let status = reply.status;
    let text = std::str::from_utf8(&reply.body).ok();
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        let body = text
            .map(str::to_string)
            .unwrap_or_else(|| format!("<{} bytes of binary data>", reply.body.len()));
        return error_text(format!("HTTP {} {reason}: {body}", status.as_u16()));
    }
    let mut result = match text {
        Some("") => {
            json!({"content": [{"type": "text", "text": format!("HTTP {} with an empty body", status.as_u16())}]})
        }
        Some(t) => json!({"content": [{"type": "text", "text": t}]}),
        None => {
            let mime = reply
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            let blob = base64::engine::general_purpose::STANDARD.encode(&reply.body);
            json!({"content": [{"type": "resource", "resource": {"uri": "mcp-gateway://response", "mimeType": mime, "blob": blob}}]})
        }
    };
    if version.has_structured_content()
        && let Some(t) = text
        && t.trim_start().starts_with('{')
        && let Ok(obj @ Value::Object(_)) = serde_json::from_str::<Value>(t)
    {
        result["structuredContent"] = obj;
    }
    result["isError"] = json!(false);
    result
}

/// The HTTP status a JSON-RPC error travels with.
pub fn http_status(error: &RpcError, modern: bool) -> http::StatusCode {
    use http::StatusCode;
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

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: http::StatusCode::from_u16(status).unwrap(),
            content_type: Some("application/json".into()),
            body: bytes::Bytes::from(body.to_string()),
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
