//! An upstream MCP server on a raw socket, for the gateway's MCP-server targets: it speaks
//! just enough streamable HTTP (HTTP/1.1, one request per connection) to agree on a version,
//! list two pages of tools and answer `tools/call`, and it misbehaves on `tools/call` as told
//! ([`Fault`]). The raw socket lets a test reset a connection, send garbage or never finish a
//! stream, which no well-behaved server library would do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How `tools/call` misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    None,
    /// Reads the request and never answers.
    Hang,
    /// Sends half a response, then closes the connection.
    Reset,
    /// Answers 200 with a body that is not JSON-RPC.
    Garbage,
    /// Opens an SSE stream and sends keep-alives forever, never the response.
    EndlessSse,
    /// Answers 401.
    Unauthorized,
    /// A response of this many bytes.
    Huge(usize),
    /// A JSON-RPC error.
    Rpc(i64, &'static str),
    /// Opens an SSE stream, asks the client to elicit, then closes the connection.
    ElicitThenDie,
    /// Opens an SSE stream, asks the client to elicit, and waits for the answer forever.
    ElicitAndWait,
    /// Asks the client to elicit, cancels the request, then answers the call.
    ElicitThenCancel,
}

/// How the upstream behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub fault: Fault,
    /// Speaks 2026-07-28 (answers `server/discover`); otherwise only the handshake.
    pub modern: bool,
    /// Answers requests with SSE streams instead of JSON.
    pub sse: bool,
    /// Hands out session ids on `initialize`.
    pub sessions: bool,
    /// Lists a third tool, `late`.
    pub late_tool: bool,
    /// Offers the tasks extension: `tools/call` answers with the task `up-task-1`, which
    /// `tasks/get` reports completed and `tasks/cancel` cancels.
    pub tasks: bool,
    /// Answers a `GET` in a session with an SSE stream that logs a debug and an error line,
    /// asks `roots/list` (id `srv-roots-1`), then stays open.
    pub asks_on_get: bool,
    /// Serves the resource `raw://doc` and takes subscriptions to it: a `GET` in a session
    /// that subscribed carries `notifications/resources/updated` for it every 100 ms.
    pub resources: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            fault: Fault::None,
            modern: false,
            sse: false,
            sessions: true,
            late_tool: false,
            tasks: false,
            asks_on_get: false,
            resources: false,
        }
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct Upstream {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    sessions: Arc<AtomicUsize>,
}

impl Upstream {
    /// Requests whose JSON-RPC method is `method`.
    pub fn calls(&self, method: &str) -> Vec<Received> {
        self.received
            .lock()
            .iter()
            .filter(|r| r.body["method"] == method)
            .cloned()
            .collect()
    }
}

/// Starts an upstream on 127.0.0.1:0.
pub async fn start(behaviour: Behaviour) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, behaviour).await
}

/// Serves on an already bound listener (to bring an upstream up on a port chosen earlier).
pub async fn serve(listener: TcpListener, behaviour: Behaviour) -> Upstream {
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let up = Upstream {
        url,
        received: Arc::default(),
        behaviour: Arc::new(Mutex::new(behaviour)),
        sessions: Arc::default(),
    };
    let state = up.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let _ = handle(stream, state).await;
            });
        }
    });
    up
}

async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let method = lines.next()?.split(' ').next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, headers, body))
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    extra: &str,
    content_type: &str,
    body: &[u8],
) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn handle(mut stream: TcpStream, up: Upstream) -> Option<()> {
    let (method, headers, body) = read_request(&mut stream).await?;
    let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    up.received.lock().push(Received {
        method: method.clone(),
        headers: headers.clone(),
        body: message.clone(),
    });
    let b = up.behaviour.lock().clone();
    if method == "GET" && b.asks_on_get {
        let log = |level: &str| {
            json!({"jsonrpc": "2.0", "method": "notifications/message",
                                       "params": {"level": level, "data": format!("a {level} line")}})
        };
        let ask = json!({"jsonrpc": "2.0", "id": "srv-roots-1", "method": "roots/list"});
        let _ = stream
            .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: message\ndata: {}\n\nevent: message\ndata: {}\n\nevent: message\ndata: {ask}\n\n", log("debug"), log("error")).as_bytes())
            .await;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if stream.write_all(b": idle\n\n").await.is_err() {
                return Some(());
            }
        }
    }
    if method == "GET" && b.resources {
        let session = headers
            .iter()
            .find(|(k, _)| k == "mcp-session-id")
            .map(|(_, v)| v.clone());
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
            )
            .await;
        let updated = json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                             "params": {"uri": "raw://doc"}});
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let subscribed = session.is_some()
                && up
                    .calls("resources/subscribe")
                    .iter()
                    .any(|r| r.header("mcp-session-id") == session.as_deref())
                && up.calls("resources/unsubscribe").is_empty();
            let event = if subscribed {
                format!("event: message\ndata: {updated}\n\n")
            } else {
                ": idle\n\n".to_string()
            };
            if stream.write_all(event.as_bytes()).await.is_err() {
                return Some(());
            }
        }
    }
    if method == "GET" {
        respond(
            &mut stream,
            "405 Method Not Allowed",
            "allow: POST\r\n",
            "text/plain",
            b"",
        )
        .await;
        return Some(());
    }
    if method == "DELETE" {
        respond(&mut stream, "200 OK", "", "text/plain", b"").await;
        return Some(());
    }
    let id = message["id"].clone();
    let rpc = message["method"].as_str().unwrap_or("");
    let version = headers
        .iter()
        .find(|(k, _)| k == "mcp-protocol-version")
        .map(|(_, v)| v.as_str());
    if version == Some("2026-07-28") && !b.modern {
        let e = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Unsupported protocol version"}});
        respond(
            &mut stream,
            "400 Bad Request",
            "",
            "application/json",
            e.to_string().as_bytes(),
        )
        .await;
        return Some(());
    }
    let mut extra = String::new();
    let result = match rpc {
        "server/discover" if b.tasks => json!({"supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}}}),
        "server/discover" => {
            json!({"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}})
        }
        "tools/call" if b.tasks => json!({"resultType": "task", "taskId": "up-task-1",
            "status": "working", "pollIntervalMs": 100,
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "raw-upstream"}}}),
        "tasks/get" | "tasks/cancel" if message["params"]["taskId"] == "up-task-1" => {
            let status = if rpc == "tasks/get" {
                "completed"
            } else {
                "cancelled"
            };
            json!({"resultType": "complete", "taskId": "up-task-1", "status": status,
                   "result": {"content": [{"type": "text", "text": "the long job is done"}]}})
        }
        "initialize" => {
            if b.sessions {
                let n = up.sessions.fetch_add(1, Ordering::SeqCst);
                extra = format!("mcp-session-id: upstream-session-{n}\r\n");
            }
            let caps = if b.resources {
                json!({"tools": {}, "resources": {"subscribe": true}})
            } else {
                json!({"tools": {}})
            };
            json!({"protocolVersion": "2025-06-18", "capabilities": caps,
                   "serverInfo": {"name": "raw-upstream", "version": "1"}})
        }
        "resources/list" if b.resources => {
            json!({"resources": [{"uri": "raw://doc", "name": "doc"}]})
        }
        "resources/subscribe" | "resources/unsubscribe" if b.resources => json!({}),
        "notifications/initialized" => {
            respond(&mut stream, "202 Accepted", "", "text/plain", b"").await;
            return Some(());
        }
        "tools/list" => match message["params"]["cursor"].as_str() {
            None => {
                // A 2026-07-28 server mirrors `text` into `Mcp-Param-Text`.
                let text = if b.modern {
                    json!({"type": "string", "x-mcp-header": "Text"})
                } else {
                    json!({"type": "string"})
                };
                json!({"tools": [{"name": "echo", "description": "Echoes", "inputSchema": {"type": "object", "properties": {"text": text}}}], "nextCursor": "page-2"})
            }
            Some(_) => {
                let mut tools = vec![
                    json!({"name": "pic", "description": "A picture", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}),
                ];
                if b.late_tool {
                    tools.push(json!({"name": "late", "inputSchema": {"type": "object"}}));
                }
                json!({ "tools": tools })
            }
        },
        "tools/call" => match &b.fault {
            Fault::None => call(&message["params"]),
            Fault::Hang => {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                return Some(());
            }
            Fault::Reset => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"jsonrpc\":")
                    .await;
                drop(stream);
                return Some(());
            }
            Fault::Garbage => {
                respond(
                    &mut stream,
                    "200 OK",
                    "",
                    "application/json",
                    b"<html>not json</html>",
                )
                .await;
                return Some(());
            }
            Fault::EndlessSse => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
                    .await;
                loop {
                    if stream.write_all(b": still thinking\n\n").await.is_err() {
                        return Some(());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
            Fault::Unauthorized => {
                respond(
                    &mut stream,
                    "401 Unauthorized",
                    "www-authenticate: Bearer\r\n",
                    "application/json",
                    b"{}",
                )
                .await;
                return Some(());
            }
            Fault::Huge(n) => json!({"content": [{"type": "text", "text": "x".repeat(*n)}]}),
            Fault::ElicitThenCancel => {
                let ask = json!({"jsonrpc": "2.0", "id": "srv-ask-1", "method": "elicitation/create",
                    "params": {"message": "Your name?", "requestedSchema": {"type": "object"}}});
                let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": "srv-ask-1", "reason": "no longer needed"}});
                let done = json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "went ahead"}]}});
                let _ = stream
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: message\ndata: {ask}\n\n").as_bytes())
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let _ = stream
                    .write_all(
                        format!(
                            "event: message\ndata: {cancel}\n\nevent: message\ndata: {done}\n\n"
                        )
                        .as_bytes(),
                    )
                    .await;
                return Some(());
            }
            Fault::ElicitThenDie | Fault::ElicitAndWait => {
                let ask = json!({"jsonrpc": "2.0", "id": "srv-ask-1", "method": "elicitation/create",
                    "params": {"message": "Your name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}});
                let _ = stream
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: message\ndata: {ask}\n\n").as_bytes())
                    .await;
                if b.fault == Fault::ElicitAndWait {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                }
                return Some(());
            }
            Fault::Rpc(code, msg) => {
                let e =
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": msg}});
                respond(
                    &mut stream,
                    "200 OK",
                    "",
                    "application/json",
                    e.to_string().as_bytes(),
                )
                .await;
                return Some(());
            }
        },
        _ => {
            let e = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}});
            respond(
                &mut stream,
                "200 OK",
                "",
                "application/json",
                e.to_string().as_bytes(),
            )
            .await;
            return Some(());
        }
    };
    let reply = json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    if b.sse {
        // A progress notification and a request the gateway must refuse come first.
        let body = format!(
            "event: message\ndata: {}\n\nevent: message\ndata: {}\n\nevent: message\ndata: {reply}\n\n",
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": message["params"]["_meta"]["progressToken"].clone(), "progress": 0.5, "total": 1, "message": "halfway"}}),
            json!({"jsonrpc": "2.0", "id": "srv-1", "method": "elicitation/create", "params": {"message": "?", "requestedSchema": {"type": "object"}}}),
        );
        respond(
            &mut stream,
            "200 OK",
            &extra,
            "text/event-stream",
            body.as_bytes(),
        )
        .await;
    } else {
        respond(
            &mut stream,
            "200 OK",
            &extra,
            "application/json",
            reply.as_bytes(),
        )
        .await;
    }
    Some(())
}

fn call(params: &Value) -> Value {
    match params["name"].as_str() {
        Some("echo") => {
            let text = params["arguments"]["text"]
                .as_str()
                .unwrap_or("")
                .to_string();
            json!({"content": [{"type": "text", "text": text.clone()}],
                   "structuredContent": {"echoed": text},
                   "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "raw-upstream"}, "example.com/trace": "t-1"}})
        }
        Some("pic") => json!({"content": [
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
            {"type": "resource_link", "uri": "file:///tmp/a.txt", "name": "a.txt"},
            {"type": "resource", "resource": {"uri": "mem://x", "text": "inline"}}
        ], "isError": false}),
        _ => json!({"content": [{"type": "text", "text": "no such tool"}], "isError": true}),
    }
}
