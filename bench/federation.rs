//! MCP-server targets under load: a Rust upstream (this program, `--serve-upstream`) that
//! serves `paths` MCP endpoints of `tools` tools each, in the 2026-07-28 era (stateless) or
//! the handshake era (with sessions), optionally changing its tool list every 100 ms and
//! saying so on its notification stream. The gateway in front of it is measured against the
//! same request sent straight to the upstream.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// How the upstream behaves: `modern|handshake`, tools per endpoint, endpoints, churn.
#[derive(Clone)]
pub struct Upstream {
    handshake: bool,
    tools: usize,
    churn: bool,
    sessions: Arc<AtomicU64>,
    /// Flips every 100 ms with churn: the list has one tool more when odd.
    epoch: Arc<AtomicU64>,
}

/// `--serve-upstream modern|handshake TOOLS PATHS churn|steady`.
pub fn app(spec: &str) -> Router {
    let parts: Vec<&str> = spec.split(',').collect();
    let up = Upstream {
        handshake: parts[0] == "handshake",
        tools: parts[1].parse().unwrap(),
        churn: parts.get(3) == Some(&"churn"),
        sessions: Arc::default(),
        epoch: Arc::default(),
    };
    if up.churn {
        let epoch = up.epoch.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                epoch.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    Router::new()
        .route("/mcp/{n}", post(handle).get(listen))
        .with_state(up)
}

fn json_response(body: Value, session: Option<String>) -> Response {
    let mut r = ([("content-type", "application/json")], body.to_string()).into_response();
    if let Some(s) = session {
        r.headers_mut().insert("mcp-session-id", s.parse().unwrap());
    }
    r
}

async fn handle(State(up): State<Upstream>, Path(_n): Path<String>, body: Bytes) -> Response {
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = msg["id"].clone();
    let result = match msg["method"].as_str().unwrap_or("") {
        "server/discover" if !up.handshake => {
            json!({"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {"listChanged": up.churn}, "prompts": {}, "resources": {}}})
        }
        "server/discover" => {
            return (
                http::StatusCode::BAD_REQUEST,
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Unsupported protocol version"}}).to_string(),
            )
                .into_response();
        }
        "initialize" => {
            let n = up.sessions.fetch_add(1, Ordering::Relaxed);
            return json_response(
                json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "bench-upstream", "version": "1"}}}),
                Some(format!("s{n}")),
            );
        }
        "notifications/initialized" => return http::StatusCode::ACCEPTED.into_response(),
        "tools/list" => {
            let extra = (up.churn && up.epoch.load(Ordering::Relaxed) % 2 == 1) as usize;
            let tools: Vec<Value> = (0..up.tools + extra)
                .map(|i| json!({"name": format!("tool_{i}"), "description": format!("Tool number {i} of the benchmark upstream"),
                    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}))
                .collect();
            json!({ "tools": tools })
        }
        "tools/call" => {
            let text = msg["params"]["arguments"]["text"].as_str().unwrap_or("");
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        "prompts/list" => json!({"prompts": [{"name": "greet", "arguments": [{"name": "who"}]}]}),
        "prompts/get" => {
            let who = msg["params"]["arguments"]["who"].as_str().unwrap_or("");
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": format!("Hello, {who}")}}]})
        }
        "resources/list" => json!({"resources": [{"uri": "bench://doc", "name": "doc"}]}),
        "resources/templates/list" => json!({"resourceTemplates": []}),
        "resources/read" => {
            let uri = msg["params"]["uri"].as_str().unwrap_or("");
            json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": "a short document"}]})
        }
        "subscriptions/listen" => return notifications(up, Some(id)).await,
        _ => {
            return json_response(
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
                None,
            );
        }
    };
    json_response(json!({"jsonrpc": "2.0", "id": id, "result": result}), None)
}

async fn listen(State(up): State<Upstream>) -> Response {
    if !up.churn {
        return http::StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    notifications(up, None).await
}

/// An SSE stream with `list_changed` at each epoch (the acknowledgement first for
/// `subscriptions/listen`).
async fn notifications(up: Upstream, subscription: Option<Value>) -> Response {
    let ack = subscription.map(|id| {
        json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
               "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": id}, "notifications": {"toolsListChanged": true}}})
    });
    let first = futures_util::stream::iter(
        ack.map(|a| Ok::<_, Infallible>(Bytes::from(format!("event: message\ndata: {a}\n\n")))),
    );
    let ticks = futures_util::stream::unfold(up.epoch.load(Ordering::Relaxed), move |seen| {
        let epoch = up.epoch.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let now = epoch.load(Ordering::Relaxed);
                if now != seen {
                    let note =
                        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"});
                    return Some((
                        Ok(Bytes::from(format!("event: message\ndata: {note}\n\n"))),
                        now,
                    ));
                }
            }
        }
    });
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(futures_util::StreamExt::chain(first, ticks)),
    )
        .into_response()
}
