//! The JSON-RPC messages the gateway exchanges with an upstream MCP server: request bodies
//! (with the 2026-07-28 `_meta`, or a progress token), the messages it reads back, the
//! answer a response carries, and header values in the transport's encoding.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::UpstreamError;
use crate::common::budget::Held;
use crate::targets::context::ClientCaps;

/// A JSON-RPC message as the server writes it; only what the client needs is kept.
#[derive(Deserialize)]
pub(super) struct Message {
    #[serde(default)]
    pub id: Option<Box<RawValue>>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub result: Option<Box<RawValue>>,
    #[serde(default)]
    pub error: Option<WireError>,
    #[serde(default)]
    pub params: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
pub(super) struct WireError {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// A result, with the bytes it holds in the budget.
#[derive(Debug)]
pub struct Answer {
    pub result: Box<RawValue>,
    pub held: Held,
    /// The server said one of its lists changed on the way (see
    /// [`is_list_changed`](super::client::is_list_changed)).
    pub lists_changed: bool,
}

/// A request body: `params` serialised as given, with `_meta` added for 2026-07-28.
#[derive(Serialize)]
struct Outgoing<'a, P: Serialize> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    method: &'a str,
    params: WithMeta<'a, P>,
}

#[derive(Serialize)]
struct WithMeta<'a, P: Serialize> {
    #[serde(flatten)]
    params: &'a P,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<Meta>,
}

/// The `_meta` of a request: the 2026-07-28 fields, written once, or built for this request.
#[derive(Serialize)]
#[serde(untagged)]
enum Meta {
    Static(#[serde(serialize_with = "raw")] &'static str),
    Built(Value),
}

fn raw<S: serde::Serializer>(text: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(r) => r.serialize(s),
        Err(e) => Err(serde::ser::Error::custom(e)),
    }
}

/// What 2026-07-28 requests carry in `_meta`, as JSON text.
const MODERN_META: &str = concat!(
    r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","#,
    r#""io.modelcontextprotocol/clientInfo":{"name":"mcp-gateway","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""},"io.modelcontextprotocol/clientCapabilities":{}}"#
);

pub(super) fn body<P: Serialize>(
    modern: bool,
    id: Option<u64>,
    method: &str,
    params: &P,
) -> Result<Vec<u8>, UpstreamError> {
    body_with(modern, id, method, params, None, ClientCaps::default())
}

/// The body, with `progressToken` in `_meta` when progress is relayed, and (2026-07-28)
/// the capabilities of the client the request is made for.
pub(super) fn body_with<P: Serialize>(
    modern: bool,
    id: Option<u64>,
    method: &str,
    params: &P,
    progress_token: Option<u64>,
    client: ClientCaps,
) -> Result<Vec<u8>, UpstreamError> {
    let plain = client == ClientCaps::default();
    let meta = match (modern, progress_token) {
        (false, None) => None,
        (true, None) if plain => Some(Meta::Static(MODERN_META)),
        (modern, token) => {
            let mut m = if modern {
                let mut m: Value = serde_json::from_str(MODERN_META).unwrap_or_else(|_| json!({}));
                m["io.modelcontextprotocol/clientCapabilities"] = client.to_json();
                m
            } else {
                json!({})
            };
            if let Some(token) = token {
                m["progressToken"] = json!(token);
            }
            Some(Meta::Built(m))
        }
    };
    serde_json::to_vec(&Outgoing {
        jsonrpc: "2.0",
        id,
        method,
        params: WithMeta { params, meta },
    })
    .map_err(|_| UpstreamError::Malformed("the request's parameters"))
}

/// An upstream's JSON-RPC error, its message cut to 2 KiB.
pub(super) fn rpc_error(e: WireError) -> UpstreamError {
    UpstreamError::Rpc {
        code: e.code,
        message: e.message.chars().take(2048).collect(),
        data: e.data,
    }
}

/// The answer a response message carries for request `id`.
pub(super) fn answer_of(message: Message, id: u64, held: Held) -> Result<Answer, UpstreamError> {
    let answers = message
        .id
        .as_deref()
        .is_some_and(|i| i.get().trim() == id.to_string());
    if !answers {
        return Err(UpstreamError::Malformed(
            "a response whose id is not the request's",
        ));
    }
    match (message.result, message.error) {
        (Some(result), None) => Ok(Answer {
            result,
            held,
            lists_changed: false,
        }),
        (None, Some(e)) => Err(rpc_error(e)),
        _ => Err(UpstreamError::Malformed(
            "a response with neither or both of result and error",
        )),
    }
}

/// A header value for `Mcp-Name` or `Mcp-Param-*`: as is when it is plain visible ASCII,
/// else in the `=?base64?...?=` form the transport defines.
pub fn header_value(value: &str) -> http::HeaderValue {
    let sentinel = value.starts_with("=?base64?") && value.ends_with("?=");
    let plain = !value.is_empty()
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !sentinel;
    let text = if plain {
        value.to_string()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    };
    http::HeaderValue::from_str(&text).unwrap_or_else(|_| http::HeaderValue::from_static(""))
}
