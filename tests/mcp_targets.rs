//! MCP-server targets against upstreams on raw sockets: federation beside an OpenAPI target,
//! faithful pass-through, sessions, both eras, SSE replies with server requests in them, each
//! fault ending as a clear `isError` within the deadline, and an upstream that is down at
//! start coming up later with a `list_changed` to clients.

mod common;

use std::time::Duration;

use common::upstream::{self, Behaviour, Fault};
use common::*;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;

fn yaml(upstream: &str, backend: Option<&str>, extra_server: &str) -> String {
    let mut y = format!(
        "server: {{timeouts: {{targetSeconds: 1}}{extra_server}}}\n\
         gateway: {{name: fed, authorizerType: NONE, exceptionLevel: DEBUG}}\n\
         credentialProviders:\n  apiKeys: [{{name: upkey, apiKeyEnv: UPKEY}}]\n\
         targets:\n\
         \x20 - name: up\n\
         \x20   targetConfiguration: {{mcp: {{mcpServer: {{endpoint: \"{upstream}\"}}}}}}\n\
         \x20   credentialProviderConfigurations:\n\
         \x20     - credentialProviderType: API_KEY\n\
         \x20       credentialProvider: {{apiKeyCredentialProvider: {{providerArn: upkey}}}}\n"
    );
    if let Some(b) = backend {
        y.push_str(&format!(
            "  - name: api\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: '{{\"openapi\":\"3.0.0\",\"info\":{{\"title\":\"t\",\"version\":\"1\"}},\"servers\":[{{\"url\":\"{b}\"}}],\"paths\":{{\"/items\":{{\"get\":{{\"operationId\":\"listItems\",\"responses\":{{\"200\":{{\"description\":\"ok\"}}}}}}}}}}}}'}}}}}}\n"
        ));
    }
    y
}

async fn gateway(upstream: &str, backend: Option<&str>) -> TestGateway {
    start_gateway(
        &yaml(upstream, backend, ""),
        &env(&[("UPKEY", "upstream-secret")]),
    )
    .await
}

/// Waits until `tools/list` names `count` tools.
async fn wait_for_tools(gw: &TestGateway, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = tool_names(&rpc(&gw.url(), "tools/list", json!({})).await);
        if names.len() >= count || Instant::now() > deadline {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A handshake-era session with the gateway.
async fn open_session(gw: &TestGateway) -> String {
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        &[],
    )
    .await;
    assert_eq!(r.result()["capabilities"]["tools"]["listChanged"], true);
    r.header("mcp-session-id").expect("a session").to_string()
}

/// The `data` of each SSE event of `resp`, one at a time.
fn sse_data(resp: reqwest::Response) -> impl AsyncFnMut() -> Value {
    let body = tokio_util::io::StreamReader::new(futures_util::TryStreamExt::map_err(
        resp.bytes_stream(),
        std::io::Error::other,
    ));
    let mut lines = tokio::io::BufReader::new(body).lines();
    async move || -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
                .await
                .expect("a message in time")
                .unwrap()
                .expect("the stream stays open");
            if let Some(d) = line.strip_prefix("data: ") {
                return serde_json::from_str(d).unwrap();
            }
        }
    }
}

async fn call(gw: &TestGateway, version: &str, name: &str, args: Value) -> Reply {
    post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": args}}),
        &[("mcp-protocol-version", version)],
    )
    .await
}

#[tokio::test]
async fn federates_a_handshake_upstream_beside_an_openapi_target() {
    let backend = start_backend().await;
    let up = upstream::start(Behaviour::default()).await;
    let gw = gateway(&up.url, Some(&backend.url())).await;
    // Both pages of the upstream's list, with its names prefixed, beside the REST tool.
    assert_eq!(
        wait_for_tools(&gw, 3).await,
        ["api___listItems", "up___echo", "up___pic"]
    );
    let list = rpc(&gw.url(), "tools/list", json!({})).await;
    let pic = &list.result()["tools"][2];
    assert_eq!(pic["outputSchema"], json!({"type": "object"}), "{pic}");

    let r = call(&gw, "2025-06-18", "up___echo", json!({"text": "héllo"})).await;
    let result = r.result();
    assert_eq!(
        result["content"],
        json!([{"type": "text", "text": "héllo"}])
    );
    assert_eq!(result["structuredContent"], json!({"echoed": "héllo"}));
    assert_eq!(result["isError"], false);
    // The upstream's own `_meta` passes; its protocol keys (its serverInfo) do not.
    assert_eq!(result["_meta"], json!({"example.com/trace": "t-1"}));

    let calls = up.calls("tools/call");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.body["params"]["name"], "echo", "the upstream's own name");
    assert_eq!(c.body["params"]["arguments"], json!({"text": "héllo"}));
    assert_eq!(c.header("mcp-protocol-version"), Some("2025-06-18"));
    assert_eq!(c.header("authorization"), Some("Bearer upstream-secret"));
    // The listing has its session; the caller got its own, made on its first call.
    let listing_session = up.calls("tools/list")[0]
        .header("mcp-session-id")
        .map(str::to_string);
    assert_eq!(listing_session.as_deref(), Some("upstream-session-0"));
    assert_eq!(c.header("mcp-session-id"), Some("upstream-session-1"));
    assert_eq!(up.calls("initialize").len(), 2);
    // A second call of the same client reuses its session.
    call(&gw, "2025-06-18", "up___echo", json!({"text": "again"})).await;
    assert_eq!(
        up.calls("tools/call")[1].header("mcp-session-id"),
        Some("upstream-session-1")
    );
    assert_eq!(up.calls("initialize").len(), 2);
    // A client with its own gateway session gets its own upstream session.
    let session = open_session(&gw).await;
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "up___echo", "arguments": {"text": "mine"}}}),
        &[("mcp-protocol-version", "2025-06-18"), ("mcp-session-id", &session)],
    )
    .await;
    assert_eq!(r.result()["content"][0]["text"], "mine", "{}", r.text);
    assert_eq!(
        up.calls("tools/call")[2].header("mcp-session-id"),
        Some("upstream-session-2")
    );
    // Ending the gateway session ends its upstream session.
    let deleted = client()
        .delete(gw.url())
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !up
        .received
        .lock()
        .iter()
        .any(|r| r.method == "DELETE" && r.header("mcp-session-id") == Some("upstream-session-2"))
    {
        assert!(
            Instant::now() < deadline,
            "the upstream session was not ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every content type passes through as written; a 2025-03-26 client, which has no
    // resource links, gets the link as text.
    let r = call(&gw, "2025-06-18", "up___pic", json!({})).await;
    let content = r.result()["content"].as_array().unwrap().clone();
    assert_eq!(
        content[0],
        json!({"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"})
    );
    assert_eq!(content[1]["type"], "resource_link");
    assert_eq!(content[2]["resource"]["text"], "inline");
    let r = call(&gw, "2025-03-26", "up___pic", json!({})).await;
    assert_eq!(
        r.result()["content"][1],
        json!({"type": "text", "text": "Resource link: a.txt (file:///tmp/a.txt)"})
    );
    // The REST target still works beside it.
    let r = call(&gw, "2025-06-18", "api___listItems", json!({})).await;
    assert_eq!(r.result()["isError"], false, "{}", r.text);

    let ready = client()
        .get(format!("{}/ready", gw.base()))
        .send()
        .await
        .unwrap();
    let ready: Value = ready.json().await.unwrap();
    let up_status = ready["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "up")
        .unwrap()
        .clone();
    assert_eq!(up_status["status"], "READY");
    assert_eq!(up_status["tools"], 2);
}

#[tokio::test]
async fn a_stateless_sse_upstream_of_2026_07_28() {
    let up = upstream::start(Behaviour {
        modern: true,
        sse: true,
        sessions: false,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    assert_eq!(wait_for_tools(&gw, 2).await, ["up___echo", "up___pic"]);
    let r = call(&gw, "2025-11-25", "up___echo", json!({"text": "a b"})).await;
    assert_eq!(r.result()["content"][0]["text"], "a b", "{}", r.text);
    // No handshake, no session; the 2026-07-28 headers and `_meta` on every request.
    assert!(up.calls("initialize").is_empty());
    let c = &up.calls("tools/call")[0];
    assert_eq!(c.header("mcp-protocol-version"), Some("2026-07-28"));
    assert_eq!(c.header("mcp-method"), Some("tools/call"));
    assert_eq!(c.header("mcp-name"), Some("echo"));
    assert!(c.header("mcp-session-id").is_none());
    assert_eq!(
        c.body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
        "2026-07-28"
    );
    // The server's elicitation request on the stream was answered at once with an error.
    let deadline = Instant::now() + Duration::from_secs(3);
    let refusal = loop {
        let found = up
            .received
            .lock()
            .iter()
            .find(|r| r.body["id"] == "srv-1")
            .cloned();
        if let Some(f) = found {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "the server's request was never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refusal.body["error"]["code"], -32601);
}

/// A 2026-07-28 request to the gateway, with its headers, from a client whose capabilities
/// are `caps`.
async fn modern(
    gw: &TestGateway,
    method: &str,
    name: Option<&str>,
    params: Value,
    caps: Value,
) -> Reply {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": caps});
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(n) = name {
        headers.push(("mcp-name", n));
    }
    post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params}),
        &headers,
    )
    .await
}

#[tokio::test]
async fn tasks_are_routed_to_their_target_under_ids_of_the_gateways_own() {
    let up = upstream::start(Behaviour {
        modern: true,
        sessions: false,
        tasks: true,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    // Advertised, because the upstream offers it.
    let found = modern(&gw, "server/discover", None, json!({}), json!({})).await;
    assert!(
        found.result()["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
        "{}",
        found.text
    );
    let made = modern(
        &gw,
        "tools/call",
        Some("up___pic"),
        json!({"name": "up___pic", "arguments": {}}),
        tasks.clone(),
    )
    .await;
    let handle = made.result();
    assert_eq!(handle["resultType"], "task", "{}", made.text);
    assert_eq!(handle["status"], "working");
    let id = handle["taskId"].as_str().unwrap().to_string();
    assert!(id != "up-task-1" && id.len() > 40, "{id}");
    assert!(
        handle.get("_meta").is_none(),
        "the upstream's protocol meta is its own"
    );
    // The upstream was told the client takes tasks.
    let call = &up.calls("tools/call")[0];
    assert!(call.body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]["extensions"]
        ["io.modelcontextprotocol/tasks"].is_object());
    // Polled through the gateway: the upstream sees its own id, the client the gateway's.
    let got = modern(&gw, "tasks/get", None, json!({"taskId": id}), tasks.clone()).await;
    assert_eq!(got.result()["status"], "completed", "{}", got.text);
    assert_eq!(got.result()["taskId"], id.as_str());
    assert_eq!(
        got.result()["result"]["content"][0]["text"],
        "the long job is done"
    );
    assert_eq!(
        up.calls("tasks/get")[0].body["params"]["taskId"],
        "up-task-1"
    );
    let cancelled = modern(
        &gw,
        "tasks/cancel",
        None,
        json!({"taskId": id}),
        tasks.clone(),
    )
    .await;
    assert_eq!(cancelled.result()["status"], "cancelled");
    // The upstream's id, a forged one, or an altered one names no task.
    for bad in ["up-task-1".to_string(), format!("{}x", &id[..id.len() - 1])] {
        let r = modern(
            &gw,
            "tasks/get",
            None,
            json!({"taskId": bad}),
            tasks.clone(),
        )
        .await;
        assert_eq!(r.error_code(), Some(-32602), "{}", r.text);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unknown task")
        );
    }
    assert_eq!(
        up.calls("tasks/get").len(),
        1,
        "no bad id reached the upstream"
    );
}

async fn faulty(fault: Fault) -> (TestGateway, upstream::Upstream) {
    let up = upstream::start(Behaviour::default()).await;
    let gw = start_gateway(
        &yaml(&up.url, None, ", limits: {maxResponseBodyBytes: 65536}"),
        &env(&[("UPKEY", "k")]),
    )
    .await;
    assert_eq!(wait_for_tools(&gw, 2).await.len(), 2);
    up.behaviour.lock().fault = fault;
    (gw, up)
}

/// Calls `up___echo` against a faulty upstream: an `isError` result containing `needle`
/// within the deadline (1 s), and the gateway still answers.
async fn expect_error(fault: Fault, needle: &str) {
    let (gw, _up) = faulty(fault.clone()).await;
    let started = Instant::now();
    let r = call(&gw, "2025-06-18", "up___echo", json!({"text": "x"})).await;
    let took = started.elapsed();
    assert_eq!(r.result()["isError"], true, "{fault:?}: {}", r.text);
    assert!(
        r.result()["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .contains(needle),
        "{fault:?}: expected `{needle}` in {}",
        r.text
    );
    assert!(took < Duration::from_secs(3), "{fault:?} took {took:?}");
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn each_upstream_fault_is_a_clear_error_within_the_deadline() {
    expect_error(Fault::Hang, "did not answer in time").await;
    expect_error(Fault::EndlessSse, "did not answer in time").await;
    expect_error(Fault::Reset, "the exchange with the upstream failed").await;
    expect_error(Fault::Garbage, "cannot be read").await;
    expect_error(Fault::Huge(200_000), "larger than 65536 bytes").await;
    expect_error(
        Fault::Unauthorized,
        "refused the gateway's credentials (HTTP 401)",
    )
    .await;
    expect_error(
        Fault::Rpc(-32603, "boom"),
        "the target answered with error -32603: boom",
    )
    .await;
}

#[tokio::test]
async fn an_upstream_error_about_the_request_reaches_the_client_as_json_rpc() {
    let (gw, _up) = faulty(Fault::Rpc(-32602, "Unknown argument `y`")).await;
    let r = call(&gw, "2025-06-18", "up___echo", json!({"y": 1})).await;
    assert_eq!(r.error_code(), Some(-32602), "{}", r.text);
    assert_eq!(r.body["error"]["message"], "Unknown argument `y`");
}

#[tokio::test]
async fn an_upstream_that_is_down_at_start_joins_later_and_clients_hear_of_it() {
    let backend = start_backend().await;
    // A port nobody listens on yet.
    let parked = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = parked.local_addr().unwrap();
    drop(parked);
    let url = format!("http://{addr}/mcp");
    let gw = gateway(&url, Some(&backend.url())).await;
    // The other target is served; the missing one is FAILED with its reason.
    assert_eq!(wait_for_tools(&gw, 1).await, ["api___listItems"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let up_status = loop {
        let ready: Value = client()
            .get(format!("{}/ready", gw.base()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let s = ready["targets"][0].clone();
        if s["status"] == "FAILED" || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(up_status["name"], "up");
    assert_eq!(up_status["status"], "FAILED", "{up_status}");
    assert!(
        up_status["statusReasons"][0]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{up_status}"
    );

    // A 2026-07-28 client listens for list changes.
    let listen = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(
            json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen",
                   "params": {"_meta": modern_meta(), "notifications": {"toolsListChanged": true}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(listen.status(), 200);
    assert!(
        listen.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut next_data = sse_data(listen);
    let ack = next_data().await;
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );

    // A handshake-era client listens on GET with its session.
    let session = open_session(&gw).await;
    let get = client()
        .get(gw.url())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let mut next_get = sse_data(get);

    // The upstream comes up: its tools join, and both listeners hear of it.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _up = upstream::serve(listener, Behaviour::default()).await;
    assert_eq!(
        next_get().await,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    );
    let changed = next_data().await;
    assert_eq!(changed["method"], "notifications/tools/list_changed");
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    assert_eq!(
        wait_for_tools(&gw, 3).await,
        ["api___listItems", "up___echo", "up___pic"]
    );
}

#[tokio::test]
async fn a_dynamic_target_is_listed_again_for_each_first_page() {
    let up = upstream::start(Behaviour::default()).await;
    let yaml = yaml(&up.url, None, "").replace(
        "mcpServer: {endpoint: ",
        "mcpServer: {listingMode: DYNAMIC, endpoint: ",
    );
    assert!(yaml.contains("DYNAMIC"));
    let gw = start_gateway(&yaml, &env(&[("UPKEY", "k")])).await;
    assert_eq!(wait_for_tools(&gw, 2).await, ["up___echo", "up___pic"]);
    // No list_changed from this upstream: the next first page asks it again.
    up.behaviour.lock().late_tool = true;
    let listed = up.calls("tools/list").len();
    let names = tool_names(&rpc(&gw.url(), "tools/list", json!({})).await);
    assert_eq!(up.calls("tools/list").len(), listed + 2, "{names:?}");
    assert_eq!(
        tool_names(&rpc(&gw.url(), "tools/list", json!({})).await),
        ["up___echo", "up___late", "up___pic"]
    );
}

#[tokio::test]
async fn upstream_progress_reaches_a_client_that_asked_for_it() {
    let up = upstream::start(Behaviour {
        sse: true,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let resp = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
                "name": "up___echo", "arguments": {"text": "p"}, "_meta": {"progressToken": "tok-9"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut next = sse_data(resp);
    let progress = next().await;
    assert_eq!(
        progress,
        json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
            "progressToken": "tok-9", "progress": 0.5, "total": 1, "message": "halfway"}})
    );
    let result = next().await;
    assert_eq!(result["id"], 5);
    assert_eq!(result["result"]["content"][0]["text"], "p");
    // The upstream saw a token of the gateway's, not the client's.
    let sent = &up.calls("tools/call")[0].body["params"]["_meta"]["progressToken"];
    assert!(sent.is_u64(), "{sent}");
    // Without a token, the same call answers with plain JSON.
    let r = call(&gw, "2025-06-18", "up___echo", json!({"text": "q"})).await;
    assert_eq!(r.result()["content"][0]["text"], "q");
}

/// A handshake session whose client can answer elicitation, and a `tools/call` in it whose
/// response is read as SSE.
async fn elicited_call(gw: &TestGateway) -> (String, impl AsyncFnMut() -> Value) {
    let (session, resp) = session_call(gw, json!({"elicitation": {}})).await;
    (session, sse_data(resp))
}

/// A handshake session whose client declared `capabilities`, and the response to a
/// `tools/call` of `up___echo` in it from a client that takes JSON or SSE.
async fn session_call(gw: &TestGateway, capabilities: Value) -> (String, reqwest::Response) {
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": capabilities,
            "clientInfo": {"name": "t", "version": "1"}}}),
        &[],
    )
    .await;
    let session = r.header("mcp-session-id").expect("a session").to_string();
    let resp = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", &session)
        .body(
            json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {
                "name": "up___echo", "arguments": {"text": "x"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    (session, resp)
}

#[tokio::test]
async fn an_upstream_that_cancels_its_request_cancels_it_at_the_client() {
    let up = upstream::start(Behaviour {
        fault: Fault::ElicitThenCancel,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let (_, mut next) = elicited_call(&gw).await;
    let asked = next().await;
    assert_eq!(asked["method"], "elicitation/create");
    let id = asked["id"].as_str().unwrap().to_string();
    // The upstream's cancellation reaches the client under the gateway's id, with its reason.
    let cancelled = next().await;
    assert_eq!(
        cancelled,
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
               "params": {"requestId": id, "reason": "no longer needed"}})
    );
    let result = next().await;
    assert_eq!(
        result["result"]["content"][0]["text"], "went ahead",
        "{result}"
    );
    // Nothing was sent back for the cancelled request.
    assert!(
        up.received
            .lock()
            .iter()
            .all(|r| r.body["id"] != "srv-ask-1"),
        "no answer to a cancelled request"
    );
}

#[tokio::test]
async fn a_client_that_did_not_declare_elicitation_is_never_asked() {
    let up = upstream::start(Behaviour {
        fault: Fault::ElicitAndWait,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let (_, resp) = session_call(&gw, json!({"sampling": {}})).await;
    // Nothing was relayed, so the response did not turn into a stream: it is the call's
    // result alone (the upstream, refused, never answers, so the call times out).
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], 11, "{body}");
    assert_eq!(body["result"]["isError"], true);
    // The upstream was refused under its own id, with the method not found.
    let refusal = up
        .received
        .lock()
        .iter()
        .find(|r| r.body["id"] == "srv-ask-1")
        .cloned()
        .expect("the upstream's request was answered");
    assert_eq!(refusal.body["error"]["code"], -32601);
    // And its upstream session was told what the client can do: sampling, not elicitation.
    let init = &up.calls("initialize");
    let declared = &init.last().unwrap().body["params"]["capabilities"];
    assert!(
        declared["sampling"].is_object() && declared.get("elicitation").is_none(),
        "{declared}"
    );
}

#[tokio::test]
async fn a_relayed_request_ends_cleanly_when_the_upstream_dies_or_the_client_never_answers() {
    for fault in [Fault::ElicitThenDie, Fault::ElicitAndWait] {
        let up = upstream::start(Behaviour {
            fault: fault.clone(),
            ..Behaviour::default()
        })
        .await;
        let gw = gateway(&up.url, None).await;
        wait_for_tools(&gw, 2).await;
        let started = Instant::now();
        let (session, mut next) = elicited_call(&gw).await;
        // The upstream's request reaches the client under an id of the gateway's own.
        let asked = next().await;
        assert_eq!(asked["method"], "elicitation/create", "{fault:?}");
        assert_eq!(asked["params"]["message"], "Your name?");
        let id = asked["id"].as_str().expect("a string id").to_string();
        assert!(id.starts_with("mcp-gateway-") && id.len() > 30, "{id}");
        assert!(!asked.to_string().contains("srv-ask-1"));
        // The client is told the request is void, then gets the call's error: at once when
        // the upstream died, at the target's 1 s timeout when no one answers.
        let cancelled = next().await;
        assert_eq!(cancelled["method"], "notifications/cancelled", "{fault:?}");
        assert_eq!(cancelled["params"]["requestId"], id.as_str());
        let result = next().await;
        assert_eq!(result["id"], 11);
        assert_eq!(result["result"]["isError"], true, "{result}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{fault:?} took {took:?}");
        if fault == Fault::ElicitAndWait {
            assert!(
                result["result"]["content"][0]["text"]
                    .as_str()
                    .unwrap()
                    .contains("did not answer in time"),
                "{result}"
            );
        }
        // A late or forged answer to that id is accepted as a message and goes nowhere.
        let late = client()
            .post(gw.url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("mcp-session-id", &session)
            .body(json!({"jsonrpc": "2.0", "id": id, "result": {"action": "accept", "content": {"name": "Z"}}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(late.status(), 202);
        assert!(
            up.received
                .lock()
                .iter()
                .all(|r| r.body.get("result").is_none()),
            "no answer reached the upstream"
        );
    }
}

#[tokio::test]
async fn x_mcp_header_arguments_are_checked_and_mirrored() {
    let up = upstream::start(Behaviour {
        modern: true,
        sessions: false,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let list = rpc(&gw.url(), "tools/list", json!({})).await;
    assert_eq!(
        list.result()["tools"][0]["inputSchema"]["properties"]["text"]["x-mcp-header"],
        "Text",
        "the annotation is listed as the upstream wrote it"
    );
    let modern_call = async |header: Option<&str>| {
        let mut req = client()
            .post(gw.url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "up___echo");
        if let Some(v) = header {
            req = req.header("mcp-param-text", v);
        }
        let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "_meta": modern_meta(), "name": "up___echo", "arguments": {"text": "Grüße"}}});
        into_reply(req.body(body.to_string()).send().await.unwrap()).await
    };
    // Without the header, or with another value: the transport's HeaderMismatch.
    let r = modern_call(None).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, Some(-32020)),
        "{}",
        r.text
    );
    let r = modern_call(Some("other")).await;
    assert_eq!(r.error_code(), Some(-32020), "{}", r.text);
    // With it (base64, as the value is not ASCII): served, and mirrored to the upstream.
    let encoded = {
        use base64::Engine;
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode("Grüße")
        )
    };
    let r = modern_call(Some(&encoded)).await;
    assert_eq!(r.result()["content"][0]["text"], "Grüße", "{}", r.text);
    let sent = up.calls("tools/call");
    assert_eq!(
        sent.last().unwrap().header("mcp-param-text"),
        Some(encoded.as_str())
    );
}

#[tokio::test]
async fn mcp_server_config_problems_are_located() {
    let yaml = "gateway: {name: g, authorizerType: NONE}\n\
        targets:\n\
        \x20 - name: up\n\
        \x20   targetConfiguration: {mcp: {mcpServer: {endpoint: 'ftp://x/mcp', resourcePriority: 1001, \
        mcpToolSchema: {s3: {uri: 's3://b/k'}}, mcpServerToolConfiguration: {toolFilters: [{toolName: 'a*b*'}], \
        toolOverrides: [{toolName: x, name: 'bad name'}, {toolName: x}]}}}}\n";
    let e = build(yaml, &env(&[])).await.err().expect("refused");
    for needle in [
        "targets[0].targetConfiguration.mcp.mcpServer.endpoint",
        "targets[0].targetConfiguration.mcp.mcpServer.resourcePriority",
        "targets[0].targetConfiguration.mcp.mcpServer.mcpToolSchema.s3",
        "mcpServerToolConfiguration.toolFilters[0].toolName",
        "mcpServerToolConfiguration.toolOverrides[0].name",
        "mcpServerToolConfiguration.toolOverrides[1].toolName",
    ] {
        assert!(e.contains(needle), "`{needle}` not in:\n{e}");
    }
    // A fixed tool list that is not one.
    let yaml = "gateway: {name: g, authorizerType: NONE}\n\
        targets:\n\
        \x20 - name: up\n\
        \x20   targetConfiguration: {mcp: {mcpServer: {endpoint: 'http://127.0.0.1:9/mcp', mcpToolSchema: {inlinePayload: '{\"tools\": 3}'}}}}\n";
    let e = build(yaml, &env(&[])).await.err().expect("refused");
    assert!(
        e.contains("targets[0].targetConfiguration.mcp.mcpServer.mcpToolSchema.inlinePayload"),
        "{e}"
    );
}

#[tokio::test]
async fn a_fixed_tool_schema_is_served_without_asking_the_upstream_for_it() {
    let up = upstream::start(Behaviour::default()).await;
    let tools = r#"[{"name": "echo", "description": "Fixed", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]"#;
    let yaml = yaml(&up.url, None, "").replace(
        "mcpServer: {endpoint: ",
        "mcpServer: {mcpToolSchema: {inlinePayload: '${TOOLS}'}, endpoint: ",
    );
    let gw = start_gateway(&yaml, &env(&[("UPKEY", "k"), ("TOOLS", tools)])).await;
    assert_eq!(wait_for_tools(&gw, 1).await, ["up___echo"]);
    let r = call(&gw, "2025-06-18", "up___echo", json!({"text": "fixed"})).await;
    assert_eq!(r.result()["content"][0]["text"], "fixed", "{}", r.text);
    assert!(
        up.calls("tools/list").is_empty(),
        "the list comes from the config"
    );
}

#[tokio::test]
async fn a_2026_client_is_asked_with_input_required_while_its_call_is_held() {
    let up = upstream::start(Behaviour::default()).await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let caps = json!({"elicitation": {}});
    // `up___echo` from a client that can elicit, with `extra` parameters (a resumption).
    let echo = async |extra: Value| {
        let mut params = json!({"name": "up___echo", "arguments": {"text": "hi"}});
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        modern(&gw, "tools/call", Some("up___echo"), params, caps.clone()).await
    };
    // A call that asks nothing is answered as usual.
    let plain = echo(json!({})).await;
    assert_eq!(plain.result()["content"][0]["text"], "hi", "{}", plain.text);

    // The upstream asks mid-call: the client gets `input_required` under the gateway's id.
    up.behaviour.lock().fault = Fault::ElicitThenCancel;
    let first = echo(json!({})).await;
    let r = first.result();
    assert_eq!(r["resultType"], "input_required", "{}", first.text);
    let asks = r["inputRequests"].as_object().expect("inputRequests");
    let (key, ask) = asks.iter().next().unwrap();
    assert!(key.starts_with("mcp-gateway-"), "{key}");
    assert_eq!(ask["method"], "elicitation/create");
    assert_eq!(ask["params"]["message"], "Your name?");
    assert!(!first.text.contains("srv-ask-1"));
    let state = r["requestState"].as_str().unwrap().to_string();
    // The upstream withdraws its question and answers meanwhile (after 200 ms): the retry
    // gets the result, and the answer to the withdrawn question goes nowhere.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let answers = json!({"inputResponses": {key.clone(): {"action": "accept", "content": {}}},
                         "requestState": state});
    let done = echo(answers.clone()).await;
    assert_eq!(
        done.result()["content"][0]["text"],
        "went ahead",
        "{}",
        done.text
    );
    assert!(
        up.received
            .lock()
            .iter()
            .all(|r| r.body.get("result").is_none())
    );
    // The held call is gone once it ended: the same state again is refused.
    let again = echo(answers).await;
    assert_eq!(again.error_code(), Some(-32602), "{}", again.text);
    assert!(again.text.contains("has ended"), "{}", again.text);

    // A client that never comes back: the held call ends at the target's 1 s deadline.
    up.behaviour.lock().fault = Fault::ElicitAndWait;
    let asked = echo(json!({})).await;
    let r = asked.result();
    let key = r["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let state = r["requestState"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let late = json!({"inputResponses": {key: {"action": "accept", "content": {"name": "Z"}}},
                      "requestState": state});
    let late = echo(late).await;
    assert_eq!(late.error_code(), Some(-32602), "{}", late.text);
    assert!(
        up.received
            .lock()
            .iter()
            .all(|r| r.body.get("result").is_none())
    );
}

#[tokio::test]
async fn a_client_cancels_its_call_and_the_upstream_is_told() {
    let up = upstream::start(Behaviour {
        fault: Fault::Hang,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let session = open_session(&gw).await;
    let in_session = |id: u64| {
        let (url, session) = (gw.url(), session.clone());
        tokio::spawn(async move {
            let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                              "params": {"name": "up___echo", "arguments": {"text": "x"}}});
            let headers = [
                ("mcp-protocol-version", "2025-06-18"),
                ("mcp-session-id", &session),
            ];
            post(&url, &body, &headers).await
        })
    };
    let cancel = |id: u64| {
        let body = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                          "params": {"requestId": id, "reason": "the user gave up"}});
        let session = session.clone();
        let url = gw.url();
        async move {
            let headers = [
                ("mcp-protocol-version", "2025-06-18"),
                ("mcp-session-id", &session),
            ];
            post(&url, &body, &headers).await.status
        }
    };
    let reached = async |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while up.calls("tools/call").len() < n {
            assert!(Instant::now() < deadline, "the call reached the upstream");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let told = async |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while up.calls("notifications/cancelled").len() < n {
            assert!(Instant::now() < deadline, "the upstream was told");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        up.calls("notifications/cancelled").pop().unwrap()
    };
    // The call reaches the upstream, which never answers; the client cancels it.
    let started = Instant::now();
    let call = in_session(11);
    reached(1).await;
    // A cancellation of another id does nothing.
    assert_eq!(cancel(12).await, 202);
    assert_eq!(cancel(11).await, 202);
    // The request ends at once, well before the target's 1 s timeout.
    let ended = call.await.unwrap();
    assert_eq!(ended.body["id"], 11);
    assert_eq!(ended.error_code(), Some(-32800), "{}", ended.text);
    assert!(started.elapsed() < Duration::from_millis(900));
    // The upstream is told, under its own id for the call, in the same upstream session.
    let first = up.calls("tools/call")[0].clone();
    let note = told(1).await;
    assert_eq!(note.body["params"]["requestId"], first.body["id"]);
    assert_eq!(
        note.header("mcp-session-id"),
        first.header("mcp-session-id")
    );

    // A call nobody cancels runs to the target's timeout; the upstream is told then too.
    let call = in_session(13);
    reached(2).await;
    let timed_out = call.await.unwrap();
    assert_eq!(timed_out.result()["isError"], true, "{}", timed_out.text);
    let note = told(2).await;
    assert_eq!(
        note.body["params"]["requestId"],
        up.calls("tools/call")[1].body["id"]
    );
}

#[tokio::test]
async fn what_an_upstream_asks_on_its_own_stream_reaches_the_clients_get_stream() {
    let up = upstream::start(Behaviour {
        asks_on_get: true,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    for (capabilities, answered) in [(json!({"roots": {}}), true), (json!({}), false)] {
        let r = post(
            &gw.url(),
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": capabilities,
                "clientInfo": {"name": "t", "version": "1"}}}),
            &[],
        )
        .await;
        let session = r.header("mcp-session-id").unwrap().to_string();
        let headers = [
            ("mcp-protocol-version", "2025-06-18"),
            ("mcp-session-id", session.as_str()),
        ];
        // The client listens, then makes its first call (which opens its upstream session).
        let get = client()
            .get(gw.url())
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("mcp-session-id", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200);
        let mut next = sse_data(get);
        // The level is set after the stream opened: it still applies to it.
        let level = json!({"jsonrpc": "2.0", "id": 9, "method": "logging/setLevel",
                           "params": {"level": "warning"}});
        assert_eq!(post(&gw.url(), &level, &headers).await.status, 200);
        let before = up.received.lock().len();
        let echo = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "up___echo", "arguments": {"text": "x"}}});
        let called = post(&gw.url(), &echo, &headers).await;
        assert_eq!(
            called.result()["content"][0]["text"],
            "x",
            "{}",
            called.text
        );
        let reply_to_upstream = || {
            up.received.lock()[before..]
                .iter()
                .find(|r| r.body["id"] == "srv-roots-1" && r.body.get("method").is_none())
                .map(|r| r.body.clone())
        };
        // The upstream's log lines reach the listening client at the level it set.
        let logged = next().await;
        assert_eq!(logged["method"], "notifications/message", "{logged}");
        assert_eq!(logged["params"]["level"], "error", "{logged}");
        if answered {
            // The upstream's unbidden roots/list reaches the listening client under an id of
            // the gateway's own; its answer goes back under the upstream's.
            let asked = next().await;
            assert_eq!(asked["method"], "roots/list", "{asked}");
            let id = asked["id"].as_str().unwrap().to_string();
            assert!(id.starts_with("mcp-gateway-"), "{id}");
            let answer = json!({"jsonrpc": "2.0", "id": id,
                                "result": {"roots": [{"uri": "file:///work", "name": "work"}]}});
            assert_eq!(post(&gw.url(), &answer, &headers).await.status, 202);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let reply = loop {
            if let Some(r) = reply_to_upstream() {
                break r;
            }
            assert!(Instant::now() < deadline, "the upstream got an answer");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if answered {
            assert_eq!(
                reply["result"]["roots"][0]["uri"], "file:///work",
                "{reply}"
            );
        } else {
            // A client that cannot answer is never asked; the upstream is refused at once.
            assert_eq!(reply["error"]["code"], -32601, "{reply}");
        }
    }
}

#[tokio::test]
async fn a_2026_client_subscribes_through_the_gateways_own_session_at_a_handshake_upstream() {
    let up = upstream::start(Behaviour {
        resources: true,
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&up.url, None).await;
    wait_for_tools(&gw, 2).await;
    let params = json!({"notifications": {"resourceSubscriptions": ["raw://doc"]},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                  "io.modelcontextprotocol/clientCapabilities": {}}});
    let resp = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(
            json!({"jsonrpc": "2.0", "id": 5, "method": "subscriptions/listen", "params": params})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut next = sse_data(resp);
    let ack = next().await;
    assert_eq!(
        ack["params"]["notifications"]["resourceSubscriptions"],
        json!(["raw://doc"]),
        "{ack}"
    );
    // The gateway subscribed in its own upstream session, and the update it reads there
    // reaches the stream that asked for it.
    let updated = next().await;
    assert_eq!(
        updated["method"], "notifications/resources/updated",
        "{updated}"
    );
    assert_eq!(updated["params"]["uri"], "raw://doc");
    let subscribe = up.calls("resources/subscribe");
    assert_eq!(subscribe.len(), 1);
    let own = up.calls("tools/list")[0]
        .header("mcp-session-id")
        .map(str::to_string);
    assert_eq!(
        subscribe[0].header("mcp-session-id").map(str::to_string),
        own
    );
    // Closing the stream ends the subscription upstream.
    drop(next);
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.calls("resources/unsubscribe").is_empty() {
        assert!(Instant::now() < deadline, "the gateway unsubscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
