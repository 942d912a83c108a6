//! Shared test helpers: a real HTTP backend that records what it receives, a gateway started
//! on 127.0.0.1:0 from a YAML string, and a small MCP-over-HTTP client.
#![allow(dead_code)]

pub mod idp;
pub mod upstream;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use mcp_gateway::config::{self, MapEnv};
use mcp_gateway::{Gateway, http as gw_http};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// One request as the backend saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query exactly as received.
    pub target: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Clone, Default)]
pub struct Backend {
    pub addr: Option<SocketAddr>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// `/slow` requests whose caller went away before the answer.
    pub abandoned: Arc<std::sync::atomic::AtomicU64>,
}

impl Backend {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr.expect("started"))
    }
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }
    /// Waits until a `/slow` request is abandoned by its caller.
    pub async fn wait_for_disconnect(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.abandoned.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub fn last(&self) -> Seen {
        self.requests()
            .last()
            .cloned()
            .expect("the backend received a request")
    }
}

/// Starts a backend whose behaviour depends on the path:
/// - `/status/{code}`: answers that status with a JSON error body;
/// - `/slow`: waits 1.5 s; `/big`: 2 MB body; `/binary`: non-UTF-8 bytes; `/array`: a JSON array;
/// - anything else: echoes the request as JSON (`method`, `target`, `body`).
pub async fn start_backend() -> Backend {
    let mut backend = Backend::default();
    let app = Router::new().fallback(record).with_state(backend.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    backend.addr = Some(listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    backend
}

async fn record(State(b): State<Backend>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        target: target.clone(),
        headers: parts.headers.clone(),
        body: body.to_vec(),
    };
    b.seen.lock().push(seen);
    let path = parts.uri.path();
    if let Some(code) = path.rsplit_once("/status/").map(|(_, c)| c) {
        let status = StatusCode::from_u16(code.parse().unwrap()).unwrap();
        return (
            status,
            axum::Json(json!({"message": format!("status {code}")})),
        )
            .into_response();
    }
    if path.ends_with("/slow") {
        // Counts the request as abandoned if this future is dropped before it answers.
        struct Abandon(Option<Arc<std::sync::atomic::AtomicU64>>);
        impl Drop for Abandon {
            fn drop(&mut self) {
                if let Some(a) = self.0.take() {
                    a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
        let mut guard = Abandon(Some(b.abandoned.clone()));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        guard.0 = None;
        return "late".into_response();
    }
    if path.ends_with("/big") {
        return "x".repeat(2 * 1024 * 1024).into_response();
    }
    if path.ends_with("/binary") {
        return (
            [(http::header::CONTENT_TYPE, "image/png")],
            vec![0x89u8, 0x50, 0xff, 0xfe],
        )
            .into_response();
    }
    if path.ends_with("/array") {
        return axum::Json(json!([1, 2])).into_response();
    }
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    axum::Json(json!({"method": parts.method.as_str(), "target": target, "body": body_json}))
        .into_response()
}

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub state: std::sync::Arc<gw_http::AppState>,
    pub gateway_warnings: Vec<String>,
    /// The limits from the config the gateway was built with.
    pub gateway_limits: gw_http::Limits,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestGateway {
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Starts a graceful shutdown.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn env(pairs: &[(&str, &str)]) -> MapEnv {
    MapEnv(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Loads `yaml` (relative files from `tests/fixtures`) and builds the gateway, or returns every
/// problem as text.
pub async fn build(yaml: &str, env: &MapEnv) -> Result<Gateway, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let partial = config::load_str_partial(yaml, false, &dir, env).map_err(|e| e.to_string())?;
    Gateway::load(partial, env).await.map_err(|e| e.to_string())
}

/// Starts a gateway from `yaml` on 127.0.0.1:0.
pub async fn start_gateway(yaml: &str, env: &MapEnv) -> TestGateway {
    let gateway = build(yaml, env)
        .await
        .unwrap_or_else(|e| panic!("gateway failed to build:\n{e}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = gateway.state.clone();
    let limits = gw_http::Limits {
        readiness_drain: Duration::ZERO,
        shutdown_grace: Duration::from_secs(5),
        ..gateway.limits()
    };
    gateway.start();
    let tasks = gateway.tasks.clone();
    let done = tokio::spawn(async move {
        let served = gw_http::serve(
            listener,
            state,
            async move {
                let _ = rx.await;
            },
            limits,
        )
        .await;
        tasks.shutdown(Duration::from_secs(5)).await;
        served
    });
    TestGateway {
        addr,
        state: gateway.state.clone(),
        gateway_limits: gateway.limits(),
        gateway_warnings: gateway.warnings,
        shutdown: Some(tx),
        done,
    }
}

/// An HTTP reply from the gateway.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn result(&self) -> &Value {
        &self.body["result"]
    }
    pub fn error_code(&self) -> Option<i64> {
        self.body["error"]["code"].as_i64()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POSTs `body` to `url` with MCP's usual headers plus `extra`.
pub async fn post(url: &str, body: &Value, extra: &[(&str, &str)]) -> Reply {
    let mut req = client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    into_reply(req.send().await.unwrap()).await
}

pub async fn into_reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// A legacy-era request (no session).
pub async fn rpc(url: &str, method: &str, params: Value) -> Reply {
    post(
        url,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        &[],
    )
    .await
}

/// Calls a tool (legacy era, 2025-06-18) and returns the `CallToolResult`.
pub async fn call_tool(url: &str, name: &str, args: Value) -> Value {
    let r = post(
        url,
        &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": args}}),
        &[("mcp-protocol-version", "2025-06-18")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body.get("error").is_none(),
        "unexpected JSON-RPC error: {}",
        r.text
    );
    r.result().clone()
}

/// The names in a `tools/list` reply, in order.
pub fn tool_names(reply: &Reply) -> Vec<String> {
    reply.result()["tools"]
        .as_array()
        .expect("a tools/list result")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The text of the first content item.
pub fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

/// `_meta` of a 2026-07-28 request.
pub fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
           "io.modelcontextprotocol/clientCapabilities": {}})
}

/// Verifies a SigV4 signature the backend received.
pub fn sigv4_ok(
    seen: &Seen,
    host: &str,
    service: &str,
    akid: &str,
    secret: &str,
) -> Result<(), String> {
    let uri = format!("http://{host}{}", seen.target);
    mcp_gateway::auth::sigv4::verify(
        &seen.method,
        &uri,
        &seen.headers,
        &seen.body,
        service,
        |k| (k == akid).then(|| secret.to_string()),
        SystemTime::now(),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// The binary the tests run: `MCP_GATEWAY_BIN` when set (to check a release build, or an
/// older build that a regression test must fail against), else the one cargo built.
pub fn gateway_binary() -> std::path::PathBuf {
    std::env::var_os("MCP_GATEWAY_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_mcp-gateway").into())
}

/// The gateway binary running in a child process (killed when dropped), with every line it
/// logged.
pub struct Binary {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Runs `mcp-gateway serve --listen 127.0.0.1:0 --config CONFIG` with `env` added, and
    /// waits (up to 20 s) for it to say where it listens.
    pub fn serve(config: &Path, env: &[(&str, &str)]) -> Self {
        Self::start(config, env, false)
    }

    /// [`serve`](Self::serve) with only `PATH` and `env` in the environment (no AWS
    /// credentials or profiles of the machine running the tests).
    pub fn serve_isolated(config: &Path, env: &[(&str, &str)]) -> Self {
        Self::start(config, env, true)
    }

    fn start(config: &Path, env: &[(&str, &str)], isolated: bool) -> Self {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(gateway_binary());
        if isolated {
            cmd.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default());
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let all = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("listening on http://") {
                    let url = line[at + "listening on ".len()..].split_whitespace().next();
                    let _ = tx.send(url.unwrap_or_default().to_string());
                }
                all.lock().push(line);
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("the gateway did not start: {:?}", logs.lock());
            }
        };
        Self { child, url, logs }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clients that call tool `t___x` (a GET with query parameter `n`) with a distinct `n` each
/// time, as fast as they are answered, until the gateway stops taking requests, and a few
/// calls of `t___slow` (1.5 s) in flight: used to show that a shutdown loses no request the
/// backend received.
pub struct TrackedLoad {
    answered: Arc<Mutex<std::collections::HashSet<u64>>>,
    clients: Vec<tokio::task::JoinHandle<()>>,
    slow: Vec<tokio::task::JoinHandle<Value>>,
}

impl TrackedLoad {
    pub fn start(url: &str, clients: u64, slow: usize) -> Self {
        let slow = (0..slow)
            .map(|_| {
                let url = url.to_string();
                tokio::spawn(async move { call_tool(&url, "t___slow", json!({})).await })
            })
            .collect();
        let answered = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let clients = (0..clients)
            .map(|w| {
                let (url, answered) = (url.to_string(), answered.clone());
                tokio::spawn(async move {
                    let c = client();
                    for i in 0.. {
                        let n = w * 1_000_000 + i;
                        let body = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                            "params": {"name": "t___x", "arguments": {"n": n}}});
                        let sent = c
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()
                            .await;
                        match sent {
                            Ok(resp) if resp.status() == 200 => {
                                let v: Value = resp.json().await.unwrap();
                                assert_eq!(v["result"]["isError"], false, "{v}");
                                answered.lock().insert(n);
                            }
                            Ok(resp) => panic!("request {n} got HTTP {}", resp.status()),
                            // Refused or closed: the gateway stopped taking requests.
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Self {
            answered,
            clients,
            slow,
        }
    }

    /// Waits for the clients to stop, then checks that the slow calls succeeded and that every
    /// call the backend received was answered (and that there was load to speak of).
    pub async fn assert_nothing_lost(self, backend: &Backend) {
        for s in self.slow {
            assert_eq!(s.await.unwrap()["isError"], false, "in-flight calls finish");
        }
        for c in self.clients {
            c.await.unwrap();
        }
        let answered = self.answered.lock();
        let seen: Vec<u64> = backend
            .requests()
            .iter()
            .filter_map(|s| s.target.strip_prefix("/x?n=").and_then(|n| n.parse().ok()))
            .collect();
        assert!(seen.len() > 50, "there was load: {}", seen.len());
        let lost: Vec<&u64> = seen.iter().filter(|n| !answered.contains(n)).collect();
        assert!(
            lost.is_empty(),
            "{} requests reached the backend but their answer was lost: {lost:?}",
            lost.len()
        );
    }
}
