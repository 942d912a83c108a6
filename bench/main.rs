//! The MCP benchmark: runs each scenario through the gateway and, in the same run, the same
//! load straight to the backend, and prints every figure next to its baseline as a ratio
//! (these machines are shared and noisy; ratios travel, absolute numbers do not).
//!
//! One process holds the load generator and a minimal backend (axum on 127.0.0.1:0); the
//! gateway is the release binary in its own process, so its CPU time (`/proc/<pid>/stat`) and
//! peak RSS (`VmHWM`) are its own. Runs are bounded: `--seconds` per measurement (default 3).
//!
//! Usage: `bench/run.sh [--seconds N] [--quick] [--concurrency N,N] [--only SCENARIO]
//! [--gateway-env K=V]`
//! (builds in release mode, then runs this).

#![forbid(unsafe_code)]

mod aws;
mod federation;
mod ops;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

struct Args {
    seconds: f64,
    quick: bool,
    gateway: PathBuf,
    /// `K=V` pairs set in the gateway's environment only (e.g. `TOKIO_WORKER_THREADS=1`).
    gateway_env: Vec<(String, String)>,
    /// Only the scenarios whose name contains this (for profiling one of them).
    only: Option<String>,
    /// Overrides the concurrency levels (`--concurrency 1,16`).
    concurrency: Option<Vec<usize>>,
    /// `--soak SECONDS`: run the soak test instead of the benchmark.
    soak: Option<f64>,
}

impl Args {
    fn selected(&self, scenario: &str) -> bool {
        self.only.as_deref().is_none_or(|s| scenario.contains(s))
    }
}

fn args() -> Args {
    let mut a = Args {
        seconds: 3.0,
        quick: false,
        gateway: PathBuf::from("target/release/mcp-gateway"),
        gateway_env: Vec::new(),
        only: None,
        concurrency: None,
        soak: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => a.seconds = it.next().and_then(|s| s.parse().ok()).expect("--seconds N"),
            "--quick" => a.quick = true,
            "--soak" => {
                a.soak = Some(
                    it.next()
                        .and_then(|s| s.parse().ok())
                        .expect("--soak SECONDS"),
                )
            }
            "--only" => a.only = Some(it.next().expect("--only SCENARIO")),
            "--concurrency" => {
                let list = it.next().expect("--concurrency N[,N...]");
                a.concurrency = Some(
                    list.split(',')
                        .map(|n| n.parse().expect("--concurrency N[,N...]"))
                        .collect(),
                );
            }
            "--gateway" => a.gateway = PathBuf::from(it.next().expect("--gateway PATH")),
            "--gateway-env" => {
                let kv = it.next().expect("--gateway-env K=V");
                let (k, v) = kv.split_once('=').expect("--gateway-env K=V");
                a.gateway_env.push((k.to_string(), v.to_string()));
            }
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// The backend runs in a process of its own (this program, `--serve-backend JWK`), as a real
/// backend would: the direct baseline then crosses a process boundary just as the gateway's
/// calls do, and neither shares the load generator's threads. So does the relay
/// (`--serve-relay URL`). Returns the server's base URL and the process, which ends when it is
/// dropped.
fn spawn_helper(mode: &str, arg: &str) -> (String, Helper) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([mode, arg])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (line.trim().to_string(), Helper(child))
}

struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Serves `app` on 127.0.0.1:0 in a runtime of its own, prints its URL, and exits when stdin
/// closes (the benchmark ended, however it ended).
fn serve_helper(app: impl FnOnce(&str) -> Router) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        println!("{url}");
        let app = app(&url);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new()))
            .await
            .ok();
    });
}

/// The least any HTTP gateway does: take a request, make one pooled request to the backend
/// (reqwest) and return its body (axum). No MCP, no JSON, no checks. Its latency over the
/// direct baseline is the cost of the second hop on this machine.
fn relay(backend: String) -> Router {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    Router::new().route(
        "/dev/pets/{id}",
        get(
            move |axum::extract::Path(id): axum::extract::Path<String>| async move {
                let reply = client
                    .get(format!("{backend}/dev/pets/{id}"))
                    .header("x-api-key", "bench-api-key")
                    .send()
                    .await
                    .unwrap();
                (
                    [("content-type", "application/json")],
                    reply.bytes().await.unwrap(),
                )
            },
        ),
    )
}

/// The backend: tiny fixed responses, so the figures show the gateway's cost. It also plays
/// the identity provider (discovery and JWKS) for the JWT scenario.
fn backend(url: &str, jwk: Value) -> Router {
    let pet = r#"{"id":7,"type":"cat","price":124.99}"#;
    let discovery = json!({"issuer": format!("{url}/idp"), "jwks_uri": format!("{url}/idp/jwks")});
    let jwks = json!({"keys": [jwk]});
    Router::new()
        .route(
            "/idp/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route("/idp/jwks", get(move || async move { axum::Json(jwks) }))
        .route(
            "/dev/pets/{id}",
            get(move || async move { ([("content-type", "application/json")], pet) }),
        )
        .route(
            "/dev/pets",
            post(|body: axum::body::Bytes| async move {
                ([("content-type", "application/json")], body)
            }),
        )
        // A Lambda function's Invoke and a DynamoDB endpoint (awsJson), for `aws::rows`.
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(move || async move { ([("content-type", "application/json")], pet) }),
        )
        .route(
            "/ddb",
            post(|| async {
                (
                    [("content-type", "application/x-amz-json-1.0")],
                    r#"{"Item":{"id":{"S":"7"},"type":{"S":"cat"}}}"#,
                )
            }),
        )
        .route(
            "/dev/static/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<usize>| async move { "x".repeat(n) }),
        )
}

/// An OpenAPI document with the three benchmark operations and `extra` filler operations.
fn document(backend: &str, extra: usize) -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("/pets/{id}".into(), json!({"get": {"operationId": "getPet", "parameters": [
        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}}));
    paths.insert("/pets".into(), json!({"post": {"operationId": "addPet", "responses": {"200": {"description": "ok"}},
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["type"],
            "properties": {"type": {"type": "string", "enum": ["dog", "cat"]}, "price": {"type": "number"}}}}}}}}));
    for i in 0..extra {
        paths.insert(format!("/filler/{i}/{{id}}"), json!({"get": {"operationId": format!("filler{i:05}"),
            "description": "A filler operation that makes the catalog large.",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                           {"name": "q", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}}}}));
    }
    json!({"openapi": "3.0.3", "info": {"title": "bench", "version": "1"}, "servers": [{"url": format!("{backend}/dev")}], "paths": paths})
}

/// An RSA signing key and its public JWK (kid `bench`), for the JWT scenario.
fn signing_key() -> (jsonwebtoken::EncodingKey, Value) {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use base64::Engine;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = AsDer::<Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::RS256).unwrap(),
    )
    .unwrap();
    jwk["kid"] = json!("bench");
    (key, jwk)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until the gateway's `/ready` answers 200 (the JWT gateway loads its keys first).
async fn wait_ready(mcp_url: &str) {
    let ready = mcp_url.replace("/mcp", "/ready");
    for _ in 0..100 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not become ready");
}

struct Gateway {
    child: Child,
    url: String,
    pid: u32,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts the gateway over `doc`: a target `key` (API key outbound) and, with `with_iam`, a
/// target `iam` (SigV4 outbound) over the same document.
fn start_gateway(
    args: &Args,
    dir: &Path,
    doc: &Value,
    with_iam: bool,
    jwt_issuer: Option<&str>,
) -> (Gateway, Duration) {
    std::fs::write(dir.join("api.json"), doc.to_string()).unwrap();
    let iam = r#"
  - name: iam
    targetConfiguration: {mcp: {openApiSchema: {file: api.json}}}
    credentialProviderConfigurations:
      - {credentialProviderType: GATEWAY_IAM_ROLE, credentialProvider: {iamCredentialProvider: {service: execute-api}}}
"#;
    std::fs::write(
        dir.join("gateway.yaml"),
        format!(
            r#"
server: {{limits: {{maxConcurrentRequests: 4096, toolsListPageSize: 10000}}}}
gateway: {{name: bench, region: us-east-1, {}}}
credentialProviders: {{apiKeys: [{{name: k, apiKeyEnv: BENCH_KEY}}]}}
targets:
  - name: key
    targetConfiguration: {{mcp: {{openApiSchema: {{file: api.json}}}}}}
    credentialProviderConfigurations:
      - {{credentialProviderType: API_KEY, credentialProvider: {{apiKeyCredentialProvider: {{providerArn: k, credentialParameterName: x-api-key}}}}}}
{}"#,
            match jwt_issuer {
                Some(issuer) => format!(
                    "authorizerType: CUSTOM_JWT, authorizerConfiguration: {{customJWTAuthorizer: {{discoveryUrl: \"{issuer}/.well-known/openid-configuration\", allowedClients: [bench]}}}}"
                ),
                None => "authorizerType: NONE".to_string(),
            },
            if with_iam { iam } else { "" }
        ),
    )
    .unwrap();
    launch(args, &dir.join("gateway.yaml"))
}

/// Runs the gateway binary on the config at `config`; returns once it listens.
fn launch(args: &Args, config: &Path) -> (Gateway, Duration) {
    launch_with(args, config, &[])
}

/// [`launch`], with more variables in the gateway's environment.
fn launch_with(args: &Args, config: &Path, env: &[(&str, String)]) -> (Gateway, Duration) {
    let started = Instant::now();
    let mut child = Command::new(&args.gateway)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("BENCH_KEY", "bench-api-key")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .env("RUST_LOG", "warn,mcp_gateway=info")
        .envs(
            args.gateway_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the gateway binary (build it with `cargo build --release`)");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("listening on ") {
            url = line[at + "listening on ".len()..]
                .split_whitespace()
                .next()
                .map(str::to_string);
            break;
        }
    }
    let startup = started.elapsed();
    std::thread::spawn(move || lines.for_each(drop));
    let pid = child.id();
    let url = url.expect("the gateway did not start");
    (Gateway { child, url, pid }, startup)
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

/// Resident and peak resident memory, MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One kind of request.
#[derive(Clone)]
struct Load {
    method: reqwest::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

#[derive(Default, Clone, Copy)]
struct Stats {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    requests: u64,
}

async fn run(load: &Load, concurrency: usize, seconds: f64) -> Stats {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    // Warm the connections.
    let _ = send(&client, load).await;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let load = Arc::new(load.clone());
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let load = load.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(4096);
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if !send(&client, &load).await {
                        errors += 1;
                    }
                    lat.push(t.elapsed().as_micros() as u32);
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
    };
    Stats {
        rps: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
        requests: all.len() as u64,
    }
}

/// Sends one request; true when it succeeded (HTTP 2xx, and no MCP `isError`).
async fn send(client: &reqwest::Client, load: &Load) -> bool {
    let mut req = client.request(load.method.clone(), &load.url);
    for (k, v) in &load.headers {
        req = req.header(*k, v);
    }
    if let Some(b) = &load.body {
        req = req.body(b.clone());
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => match resp.bytes().await {
            Ok(body) => !memchr_is_error(&body),
            Err(_) => false,
        },
        _ => false,
    }
}

/// The size of the response to `load`.
async fn body_len(load: &Load) -> usize {
    let mut req = reqwest::Client::new().request(load.method.clone(), &load.url);
    for (k, v) in &load.headers {
        req = req.header(*k, v);
    }
    if let Some(b) = &load.body {
        req = req.body(b.clone());
    }
    req.send().await.unwrap().bytes().await.unwrap().len()
}

fn memchr_is_error(body: &[u8]) -> bool {
    body.windows(14).any(|w| w == b"\"isError\":true")
        || body.windows(8).any(|w| w == b"\"error\":")
}

fn mcp(
    url: &str,
    body: Value,
    version: &str,
    session: Option<&str>,
    method: &str,
    name: Option<&str>,
) -> Load {
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("accept", "application/json, text/event-stream".to_string()),
        ("mcp-protocol-version", version.to_string()),
    ];
    if let Some(s) = session {
        headers.push(("mcp-session-id", s.to_string()));
    }
    if version == "2026-07-28" {
        headers.push(("mcp-method", method.to_string()));
        if let Some(n) = name {
            headers.push(("mcp-name", n.to_string()));
        }
    }
    Load {
        method: reqwest::Method::POST,
        url: url.to_string(),
        headers,
        body: Some(body.to_string()),
    }
}

/// `tools/list` (2025-06-18, no session) at `url`.
fn tools_list(url: &str) -> Load {
    mcp(
        url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        "2025-06-18",
        None,
        "tools/list",
        None,
    )
}

/// The backend's static body of `len` bytes: the baseline of a page of that size.
fn static_body(backend: &str, len: usize) -> Load {
    Load {
        method: reqwest::Method::GET,
        url: format!("{backend}/dev/static/{len}"),
        headers: vec![],
        body: None,
    }
}

fn call(tool: &str, args: Value, modern: bool) -> Value {
    let mut params = json!({"name": tool, "arguments": args});
    if modern {
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    }
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
}

async fn session(url: &str) -> String {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}).to_string())
        .send()
        .await
        .unwrap();
    resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The four `tools/call` scenarios through the gateway at `url`, `sid` a 2025-06-18 session:
/// GET with an API key (session, then stateless), POST with a JSON body, GET signed with SigV4.
fn call_loads(url: &str, sid: &str) -> Vec<(&'static str, Load)> {
    let session = |tool: &str, args: Value| {
        mcp(
            url,
            call(tool, args, false),
            "2025-06-18",
            Some(sid),
            "tools/call",
            None,
        )
    };
    vec![
        (
            "call GET, API key, 2025-06-18 session",
            session("key___getPet", json!({"id": "7"})),
        ),
        (
            "call GET, API key, 2026-07-28 stateless",
            mcp(
                url,
                call("key___getPet", json!({"id": "7"}), true),
                "2026-07-28",
                None,
                "tools/call",
                Some("key___getPet"),
            ),
        ),
        (
            "call POST JSON body, API key",
            session("key___addPet", json!({"type": "cat", "price": 12.5})),
        ),
        (
            "call GET, SigV4",
            session("iam___getPet", json!({"id": "7"})),
        ),
    ]
}

struct Row {
    scenario: String,
    c: usize,
    gw: Stats,
    base: Stats,
    cpu_us_per_call: f64,
}

/// One row: `direct` to the backend, then `through` the gateway (process `pid`), at `c`.
async fn measure(
    scenario: &str,
    through: &Load,
    direct: &Load,
    c: usize,
    seconds: f64,
    pid: u32,
) -> Row {
    let base = run(direct, c, seconds).await;
    let cpu0 = cpu_seconds(pid);
    let gw = run(through, c, seconds).await;
    let cpu = cpu_seconds(pid) - cpu0;
    Row {
        scenario: scenario.to_string(),
        c,
        gw,
        base,
        cpu_us_per_call: cpu * 1e6 / gw.requests.max(1) as f64,
    }
}

/// Rounds per scenario and concurrency in [`interleaved`]; the median is reported.
const ROUNDS: usize = 4;

/// Measures `scenarios` (name, through the gateway `pid`, direct) in [`ROUNDS`] rounds, the
/// scenarios interleaved (every other round in reverse order) so that drift on a shared
/// machine and the cost of going first fall on all of them alike; each row is the round with
/// the median gateway CPU per call. A scenario may name its own
/// gateway process (`Some(pid)`) when the rows compare two gateways.
async fn interleaved(
    scenarios: &[(&str, Load, Load)],
    concurrencies: &[usize],
    seconds: f64,
    pid: u32,
) -> Vec<Row> {
    let with_pids: Vec<_> = scenarios
        .iter()
        .map(|(n, t, d)| (*n, t.clone(), d.clone(), pid))
        .collect();
    interleaved_on(&with_pids, concurrencies, seconds).await
}

/// [`interleaved`], each scenario through its own gateway process.
async fn interleaved_on(
    scenarios: &[(&str, Load, Load, u32)],
    concurrencies: &[usize],
    seconds: f64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for &c in concurrencies {
        let mut rounds: Vec<Vec<Row>> = scenarios.iter().map(|_| Vec::new()).collect();
        for round in 0..ROUNDS {
            // Every other round runs them backwards: no scenario always goes first.
            let mut order: Vec<usize> = (0..scenarios.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let (name, through, direct, pid) = &scenarios[i];
                rounds[i].push(measure(name, through, direct, c, seconds, *pid).await);
            }
        }
        for mut runs in rounds {
            runs.sort_by(|a, b| a.cpu_us_per_call.total_cmp(&b.cpu_us_per_call));
            rows.push(runs.swap_remove(ROUNDS / 2));
        }
    }
    rows
}

fn print_rows(rows: &[Row]) {
    println!(
        "| scenario | c | gateway req/s | direct req/s | ratio | gateway p50 | direct p50 | added p50 | gateway p99 | direct p99 | errors | gateway CPU/call |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0}% | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {} | {:.0} µs |",
            r.scenario,
            r.c,
            r.gw.rps,
            r.base.rps,
            100.0 * r.gw.rps / r.base.rps.max(1.0),
            r.gw.p50_us,
            r.base.p50_us,
            r.gw.p50_us - r.base.p50_us,
            r.gw.p99_us,
            r.base.p99_us,
            r.gw.errors + r.base.errors,
            r.cpu_us_per_call
        );
    }
}

fn main() {
    let mut argv = std::env::args().skip(1);
    match argv.next().as_deref() {
        Some("--serve-backend") => {
            let jwk = serde_json::from_str(&argv.next().expect("--serve-backend JWK")).unwrap();
            return serve_helper(|url| backend(url, jwk));
        }
        Some("--serve-relay") => {
            let to = argv.next().expect("--serve-relay URL");
            return serve_helper(|_| relay(to));
        }
        Some("--serve-upstream") => {
            let spec = argv
                .next()
                .expect("--serve-upstream MODE,TOOLS,PATHS,CHURN");
            return serve_helper(|_| federation::app(&spec));
        }
        _ => {}
    }
    let code = tokio::runtime::Runtime::new().unwrap().block_on(bench());
    std::process::exit(code);
}

/// Runs the benchmark (or the soak test); the process's exit code.
async fn bench() -> i32 {
    let args = args();
    let (signing_key, jwk) = signing_key();
    let (backend, _backend_process) = spawn_helper("--serve-backend", &jwk.to_string());
    if let Some(seconds) = args.soak {
        return soak(&args, &backend, seconds).await;
    }
    let dir = std::env::temp_dir().join(format!("mcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let concurrencies: &[usize] = match &args.concurrency {
        Some(list) => list,
        None if args.quick => &[1, 16],
        None => &[1, 16, 64],
    };

    // --- tools/call ---------------------------------------------------------------------
    let (gw, startup_small) = start_gateway(&args, &dir, &document(&backend, 0), true, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle_rss, _) = memory_mib(gw.pid);
    let sid = session(&gw.url).await;
    let direct_get = Load {
        method: reqwest::Method::GET,
        url: format!("{backend}/dev/pets/7"),
        headers: vec![("x-api-key", "bench-api-key".into())],
        body: None,
    };
    let direct_post = Load {
        method: reqwest::Method::POST,
        url: format!("{backend}/dev/pets"),
        headers: vec![("content-type", "application/json".into())],
        body: Some(r#"{"type":"cat","price":12.5}"#.into()),
    };
    let directs = [
        direct_get.clone(),
        direct_get.clone(),
        direct_post,
        direct_get.clone(),
    ];
    let scenarios: Vec<(&str, Load, Load)> = call_loads(&gw.url, &sid)
        .into_iter()
        .zip(directs)
        .map(|((name, through), direct)| (name, through, direct))
        .collect();
    let mut rows = Vec::new();
    // The floor: the gateway's HTTP stack alone (`GET /health`) against the backend's
    // handler of a body of the same size.
    let health = Load {
        method: reqwest::Method::GET,
        url: gw.url.replace("/mcp", "/health"),
        headers: vec![],
        body: None,
    };
    let health_direct = Load {
        url: format!("{backend}/dev/static/{}", body_len(&health).await),
        ..health.clone()
    };
    let floor = "HTTP floor: GET /health (no MCP, no backend)";
    if args.selected(floor) {
        for &c in concurrencies {
            rows.push(measure(floor, &health, &health_direct, c, args.seconds, gw.pid).await);
        }
    }
    // The other floor: what a second hop costs on this machine, measured through a relay
    // that does nothing but forward (its CPU time is in the CPU column).
    let relay_floor = "relay floor: GET through a do-nothing axum + reqwest relay (no MCP)";
    if args.selected(relay_floor) {
        let (relay_url, relay) = spawn_helper("--serve-relay", &backend);
        let through = Load {
            url: format!("{relay_url}/dev/pets/7"),
            headers: vec![],
            ..direct_get.clone()
        };
        for &c in concurrencies {
            let row = measure(
                relay_floor,
                &through,
                &direct_get,
                c,
                args.seconds,
                relay.0.id(),
            );
            rows.push(row.await);
        }
    }
    for (name, through, direct) in scenarios.iter().filter(|s| args.selected(s.0)) {
        for &c in concurrencies {
            rows.push(measure(name, through, direct, c, args.seconds, gw.pid).await);
        }
    }
    let (_, peak_small) = memory_mib(gw.pid);
    drop(gw);

    // --- inbound JWT: the same stateless call with a bearer token ---------------------------
    let issuer = format!("{backend}/idp");
    let (gw, _) = start_gateway(&args, &dir, &document(&backend, 0), false, Some(&issuer));
    wait_ready(&gw.url).await;
    let claims =
        json!({"iss": issuer, "sub": "bench", "client_id": "bench", "exp": unix_now() + 3600});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("bench".into());
    let token = jsonwebtoken::encode(&header, &claims, &signing_key).unwrap();
    let mut with_jwt = mcp(
        &gw.url,
        call("key___getPet", json!({"id": "7"}), true),
        "2026-07-28",
        None,
        "tools/call",
        Some("key___getPet"),
    );
    with_jwt
        .headers
        .push(("authorization", format!("Bearer {token}")));
    let direct = scenarios[0].2.clone();
    for &c in concurrencies {
        let name = "call GET, API key, 2026-07-28, inbound JWT (RS256)";
        if !args.selected(name) {
            break;
        }
        rows.push(measure(name, &with_jwt, &direct, c, args.seconds, gw.pid).await);
    }
    drop(gw);

    // --- tools/list ---------------------------------------------------------------------
    let mut list_rows = Vec::new();
    let mut catalog = Vec::new();
    let lists: &[usize] = if args.selected("tools/list") {
        &[10, 1_000, 10_000]
    } else {
        &[]
    };
    for &tools in lists {
        // One target whose document has `tools` operations; one page holds them all.
        let (gw, startup) = start_gateway(&args, &dir, &document(&backend, tools - 2), false, None);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (loaded_rss, _) = memory_mib(gw.pid);
        let list = tools_list(&gw.url);
        let page = body_len(&list).await;
        let direct = static_body(&backend, page);
        for &c in &concurrencies[..concurrencies.len().min(2)] {
            let name = format!("tools/list, {tools} tools ({} KiB page)", page / 1024);
            list_rows.push(measure(&name, &list, &direct, c, args.seconds, gw.pid).await);
        }
        let (rss, peak) = memory_mib(gw.pid);
        catalog.push((tools, startup, loaded_rss, rss, peak));
    }

    let federated = if args.selected("MCP target") {
        federation_rows(&args, &dir, concurrencies, &backend).await
    } else {
        (Vec::new(), Vec::new())
    };
    let aws = if args.selected("AWS") {
        aws::rows(&args, &dir, concurrencies, &backend).await
    } else {
        (Vec::new(), Vec::new())
    };
    let metrics = if args.selected("metrics") {
        ops::metrics_rows(&args, &dir, concurrencies).await
    } else {
        Vec::new()
    };

    println!("\n### tools/call (gateway vs. the same request straight to the backend)\n");
    print_rows(&rows);
    if !federated.0.is_empty() {
        println!(
            "\n### MCP-server targets (gateway vs. the same request straight to the upstream)\n"
        );
        print_rows(&federated.0);
        println!();
        for line in &federated.1 {
            println!("{line}");
        }
    }
    if !aws.0.is_empty() {
        println!("\n### AWS-native targets (gateway vs. the same POST straight to the backend)\n");
        print_rows(&aws.0);
        println!();
        for line in &aws.1 {
            println!("{line}");
        }
    }
    if !metrics.is_empty() {
        println!(
            "\n### Metrics on and off (each gateway vs. the same request straight to the backend)\n"
        );
        print_rows(&metrics);
    }
    println!("\n### tools/list (gateway vs. a backend serving a static body of the same size)\n");
    print_rows(&list_rows);
    println!("\n### Start-up and memory\n");
    println!(
        "| catalog | start-up (to listening) | RSS when loaded | RSS after the runs | peak RSS |"
    );
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| 4 tools (call scenarios) | {:.0} ms | {idle_rss:.1} MiB | — | {peak_small:.1} MiB |",
        startup_small.as_secs_f64() * 1e3
    );
    for (tools, startup, loaded, rss, peak) in catalog {
        println!(
            "| {tools} tools | {:.0} ms | {loaded:.1} MiB | {rss:.1} MiB | {peak:.1} MiB |",
            startup.as_secs_f64() * 1e3
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    0
}

/// The soak test: `SOAK_CONCURRENCY` loops for `seconds` over a mix of calls (session and
/// stateless GETs, a POST, a SigV4 call, `tools/list`), one loop opening a new connection for
/// every request. Samples the gateway's RSS and open file descriptors every second. Passes
/// (exit 0) when no request failed and memory and descriptors stayed flat: the highest RSS in
/// the last fifth of the run is within 5% + 1 MiB of the highest in the second fifth (after
/// warm-up), the open descriptors likewise stay within 8 of their count then, and once the
/// load stops and its clients have gone, no inbound connection is left open in the gateway
/// (its outbound pool keeps idle connections to the backend by design).
async fn soak(args: &Args, backend: &str, seconds: f64) -> i32 {
    const SOAK_CONCURRENCY: usize = 64;
    let dir = std::env::temp_dir().join(format!("mcp-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (gw, _) = start_gateway(args, &dir, &document(backend, 0), true, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let idle_fds = fds(gw.pid);
    let sid = session(&gw.url).await;
    let mut loads: Vec<Load> = call_loads(&gw.url, &sid)
        .into_iter()
        .map(|(_, load)| load)
        .collect();
    loads.push(mcp(
        &gw.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        "2025-06-18",
        Some(&sid),
        "tools/list",
        None,
    ));
    let loads = Arc::new(loads);
    let pooled = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(SOAK_CONCURRENCY)
        .build()
        .unwrap();
    let fresh = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..SOAK_CONCURRENCY)
        .map(|i| {
            let client = if i == 0 {
                fresh.clone()
            } else {
                pooled.clone()
            };
            let loads = loads.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                let mut k = i;
                while Instant::now() < deadline {
                    if send(&client, &loads[k % loads.len()]).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                    k += 1;
                }
                (ok, failed)
            })
        })
        .collect();
    let mut rss = Vec::new();
    let port: u16 = gw
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let mut open = Vec::new();
    let mut inbound_under_load = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss.push(memory_mib(gw.pid).0);
        open.push(fds(gw.pid) as f64);
        inbound_under_load = inbound_connections(gw.pid, port);
    }
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await.unwrap();
        ok += o;
        failed += f;
    }
    drop(pooled);
    drop(fresh);
    // Let the gateway notice the closed connections.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let end_fds = fds(gw.pid);
    let fifth = (rss.len() / 5).max(1);
    let max_of = |w: &[f64]| w.iter().copied().fold(0.0, f64::max);
    let early = max_of(&rss[fifth.min(rss.len() - 1)..(2 * fifth).min(rss.len())]);
    let late = max_of(&rss[rss.len().saturating_sub(fifth)..]);
    let memory_flat = late <= early * 1.05 + 1.0;
    let early_fds = max_of(&open[fifth.min(open.len() - 1)..(2 * fifth).min(open.len())]);
    let late_fds = max_of(&open[open.len().saturating_sub(fifth)..]);
    let fds_flat = late_fds <= early_fds + 8.0;
    let inbound_left = inbound_connections(gw.pid, port);
    let fds_back = inbound_left == 0;
    println!("\n### Soak: c={SOAK_CONCURRENCY}, {seconds:.0} s, mixed calls\n");
    println!(
        "| requests | errors | req/s | RSS after warm-up (max, 2nd fifth) | RSS at the end (max, last fifth) | peak RSS | fds idle / after warm-up / at the end / after | inbound connections under load / left |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {failed} | {:.0} | {early:.1} MiB | {late:.1} MiB | {:.1} MiB | {idle_fds} / {early_fds} / {late_fds} / {end_fds} | {inbound_under_load} / {inbound_left} |",
        ok + failed,
        (ok + failed) as f64 / started.elapsed().as_secs_f64(),
        memory_mib(gw.pid).1
    );
    let every = (rss.len() / 30).max(1);
    println!(
        "\nRSS every {every} s (MiB): {}",
        rss.iter()
            .step_by(every)
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::fs::remove_dir_all(&dir).ok();
    if failed == 0 && memory_flat && fds_flat && fds_back {
        println!("\nsoak: passed");
        0
    } else {
        println!(
            "\nsoak: FAILED (errors: {failed}, memory flat: {memory_flat}, descriptors flat: {fds_flat}, inbound connections closed: {fds_back})"
        );
        1
    }
}

/// Connections the process `pid` holds whose local port is `port` (accepted by the gateway),
/// listening socket excluded: the process's socket inodes matched against `/proc/net/tcp*`.
fn inbound_connections(pid: u32, port: u16) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let port_hex = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address, state (0A = LISTEN), inode
            f.len() > 9 && f[1].ends_with(&port_hex) && f[3] != "0A" && inodes.contains(f[9])
        })
        .count()
}

/// The MCP-server target rows, and the lines of figures that are not rows (memory, swaps).
async fn federation_rows(
    args: &Args,
    dir: &Path,
    concurrencies: &[usize],
    backend: &str,
) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let write = |name: &str, yaml: String| {
        let path = dir.join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    };
    let target = |name: &str, url: &str| {
        format!(
            "  - name: {name}\n    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: \"{url}\"}}}}}}\n"
        )
    };
    let head = "server: {limits: {maxConcurrentRequests: 4096, toolsListPageSize: 10000}}\ngateway: {name: bench-federation, authorizerType: NONE}\ntargets:\n";

    // 1. tools/call through one MCP-server target, against the same call to the upstream.
    let (upstream, _up) = spawn_helper("--serve-upstream", "modern,10,1,steady");
    let (gw, _) = launch(
        args,
        &write(
            "one.yaml",
            format!("{head}{}", target("up", &format!("{upstream}/mcp/0"))),
        ),
    );
    wait_for_tools(&gw.url, 10).await;
    let args_json = json!({"text": "hello"});
    let through = mcp(
        &gw.url,
        call("up___tool_1", args_json.clone(), true),
        "2026-07-28",
        None,
        "tools/call",
        Some("up___tool_1"),
    );
    let direct = mcp(
        &format!("{upstream}/mcp/0"),
        call("tool_1", args_json, true),
        "2026-07-28",
        None,
        "tools/call",
        Some("tool_1"),
    );
    for &c in concurrencies {
        rows.push(
            measure(
                "MCP target: tools/call, Rust upstream (2026-07-28, stateless)",
                &through,
                &direct,
                c,
                args.seconds,
                gw.pid,
            )
            .await,
        );
    }
    // 1a. The same call from a 2026-07-28 client that can answer elicitation: it runs on a
    // task of its own, where it could be held for the client's answers (mcp::held). The
    // baseline is the plain call through the gateway, measured just before.
    let mut asking = call("up___tool_1", json!({"text": "hello"}), true);
    asking["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] =
        json!({"elicitation": {}});
    let held = mcp(
        &gw.url,
        asking,
        "2026-07-28",
        None,
        "tools/call",
        Some("up___tool_1"),
    );
    let c = *concurrencies.iter().max().unwrap_or(&16);
    rows.push(
        measure(
            "MCP target: tools/call from a client that can elicit (vs. one that cannot)",
            &held,
            &through,
            c.min(16),
            args.seconds,
            gw.pid,
        )
        .await,
    );
    // 1b. prompts/get and resources/read, routed to the upstream and put in the client's era.
    let modern_meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let request = |method: &str, params: Value| {
        let mut params = params;
        params["_meta"] = modern_meta.clone();
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    };
    for (label, method, through_params, direct_params, name_through, name_direct) in [
        (
            "MCP target: prompts/get (2026-07-28)",
            "prompts/get",
            json!({"name": "up___greet", "arguments": {"who": "bench"}}),
            json!({"name": "greet", "arguments": {"who": "bench"}}),
            "up___greet",
            "greet",
        ),
        (
            "MCP target: resources/read (2026-07-28)",
            "resources/read",
            json!({"uri": "bench://doc"}),
            json!({"uri": "bench://doc"}),
            "bench://doc",
            "bench://doc",
        ),
    ] {
        let through = mcp(
            &gw.url,
            request(method, through_params),
            "2026-07-28",
            None,
            method,
            Some(name_through),
        );
        let direct = mcp(
            &format!("{upstream}/mcp/0"),
            request(method, direct_params),
            "2026-07-28",
            None,
            method,
            Some(name_direct),
        );
        let c = *concurrencies.iter().max().unwrap_or(&16);
        rows.push(measure(label, &through, &direct, c.min(16), args.seconds, gw.pid).await);
    }
    drop(gw);

    // 2. tools/list across 10 upstreams x 100 tools, from the cached catalog.
    let (many, _many) = spawn_helper("--serve-upstream", "modern,100,10,steady");
    let targets: String = (0..10)
        .map(|i| target(&format!("up{i}"), &format!("{many}/mcp/{i}")))
        .collect();
    let (gw, startup) = launch(args, &write("ten.yaml", format!("{head}{targets}")));
    wait_for_tools(&gw.url, 1000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle_rss, _) = memory_mib(gw.pid);
    let list = tools_list(&gw.url);
    let page = body_len(&list).await;
    // The baseline: a backend serving a static body of the same size.
    let static_page = static_body(backend, page);
    for &c in &concurrencies[..concurrencies.len().min(2)] {
        rows.push(
            measure(
                &format!(
                    "MCP targets: tools/list, 10 upstreams x 100 tools ({} KiB page)",
                    page / 1024
                ),
                &list,
                &static_page,
                c,
                args.seconds,
                gw.pid,
            )
            .await,
        );
    }
    lines.push(format!("- 10 MCP-server targets x 100 tools: start-up to listening {:.0} ms; RSS idle with the 1,000 tools listed {idle_rss:.1} MiB.", startup.as_secs_f64() * 1e3));
    drop(gw);

    // 3. A catalog swap every 100 ms under c=64: zero errors, and readers never wait.
    let (churn, _churn) = spawn_helper("--serve-upstream", "modern,10,1,churn");
    let (gw, _) = launch(
        args,
        &write(
            "churn.yaml",
            format!("{head}{}", target("up", &format!("{churn}/mcp/0"))),
        ),
    );
    wait_for_tools(&gw.url, 10).await;
    let call_churn = mcp(
        &gw.url,
        call("up___tool_1", json!({"text": "x"}), true),
        "2026-07-28",
        None,
        "tools/call",
        Some("up___tool_1"),
    );
    let g0 = generation(&gw.url).await;
    let swapping = run(&call_churn, 64, args.seconds).await;
    let g1 = generation(&gw.url).await;
    let listing = run(&tools_list(&gw.url), 64, args.seconds).await;
    let g2 = generation(&gw.url).await;
    drop(gw);
    let (steady, _steady) = spawn_helper("--serve-upstream", "modern,10,1,steady");
    let (gw, _) = launch(
        args,
        &write(
            "steady.yaml",
            format!("{head}{}", target("up", &format!("{steady}/mcp/0"))),
        ),
    );
    wait_for_tools(&gw.url, 10).await;
    let call_steady = mcp(
        &gw.url,
        call("up___tool_1", json!({"text": "x"}), true),
        "2026-07-28",
        None,
        "tools/call",
        Some("up___tool_1"),
    );
    let still = run(&call_steady, 64, args.seconds).await;
    drop(gw);
    lines.push(format!(
        "- Catalog swaps every 100 ms under c=64: {} swaps during {:.0} s of tools/call and {} during as long of tools/list; errors {} and {}; tools/call {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs while swapping against {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs with no swaps (ratio {:.2}).",
        g1 - g0, args.seconds, g2 - g1, swapping.errors, listing.errors,
        swapping.rps, swapping.p50_us, swapping.p99_us, still.rps, still.p50_us, still.p99_us, swapping.rps / still.rps.max(1.0)
    ));

    // 4. Memory with 1,000 client sessions, each with its own upstream session.
    let (hs, _hs) = spawn_helper("--serve-upstream", "handshake,10,1,steady");
    let (gw, _) = launch(
        args,
        &write(
            "sessions.yaml",
            format!("{head}{}", target("up", &format!("{hs}/mcp/0"))),
        ),
    );
    wait_for_tools(&gw.url, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (before, _) = memory_mib(gw.pid);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url) = (client.clone(), gw.url.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..20 {
                let sid = session(&url).await;
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .header("mcp-protocol-version", "2025-06-18")
                    .header("mcp-session-id", &sid)
                    .body(call("up___tool_1", json!({"text": "s"}), false).to_string())
                    .send()
                    .await
                    .unwrap();
                ok += (resp.status().is_success() && !memchr_is_error(&resp.bytes().await.unwrap()))
                    as usize;
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (after, peak) = memory_mib(gw.pid);
    lines.push(format!(
        "- 1,000 client sessions, each with its own upstream session (handshake-era upstream): {ok} of 1000 calls succeeded; RSS {before:.1} MiB before, {after:.1} MiB after (peak {peak:.1} MiB): {:.1} KiB per client session.",
        (after - before) * 1024.0 / 1000.0
    ));
    (rows, lines)
}

/// Waits until the gateway lists `count` tools.
async fn wait_for_tools(url: &str, count: usize) {
    let list = tools_list(url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    while Instant::now() < deadline {
        let mut req = client.post(url);
        for (k, v) in &list.headers {
            req = req.header(*k, v);
        }
        if let Ok(r) = req.body(list.body.clone().unwrap()).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["result"]["tools"]
                .as_array()
                .is_some_and(|t| t.len() >= count)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway at {url} did not list {count} tools");
}

/// The catalog generation `/ready` reports.
async fn generation(url: &str) -> u64 {
    let v: Value = reqwest::get(url.replace("/mcp", "/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["catalogGeneration"].as_u64().unwrap_or(0)
}
