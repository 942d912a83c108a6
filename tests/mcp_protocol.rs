//! MCP over streamable HTTP: the handshake era (initialize, sessions, DELETE), the stateless
//! 2026-07-28 era (`_meta`, `server/discover`, header checks, caching hints), version
//! selection, pagination, JSON-RPC errors and HTTP-level rejections.

mod common;

use common::*;
use serde_json::{Value, json};

fn doc(base: &str, n: usize) -> String {
    let mut paths = serde_json::Map::new();
    for i in 0..n {
        paths.insert(
            format!("/op{i}"),
            json!({"get": {"operationId": format!("op{i}"), "responses": {"200": {"description": "ok"}}}}),
        );
    }
    paths.insert(
        "/slow".into(),
        json!({"get": {"operationId": "slow", "responses": {"200": {"description": "ok"}}}}),
    );
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": base}], "paths": paths}).to_string()
}

fn config(mcp: &str, server: &str) -> String {
    format!(
        r#"
server: {{limits: {{maxRequestBodyBytes: 4096{server}}}}}
gateway:
  name: proto-gw
  authorizerType: NONE
  protocolConfiguration:
    mcp: {{instructions: "Use the op tools.", {mcp}}}
targets:
  - name: t
    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: "${{DOC}}"}}}}}}
"#
    )
}

async fn gateway_with(
    mcp: &str,
    server: &str,
    extra_env: &[(&str, &str)],
) -> (Backend, TestGateway) {
    let backend = start_backend().await;
    let doc = doc(&backend.url(), 8);
    let mut vars = vec![("DOC", doc.as_str())];
    vars.extend_from_slice(extra_env);
    let gw = start_gateway(&config(mcp, server), &env(&vars)).await;
    (backend, gw)
}

async fn initialize(url: &str, version: &str) -> Reply {
    post(
        url,
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        &[],
    )
    .await
}

#[tokio::test]
async fn initialize_negotiates_versions_and_mints_sessions() {
    let (_b, gw) = gateway_with("", "", &[]).await;
    let r = initialize(&gw.url(), "2025-06-18").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.result()["protocolVersion"], "2025-06-18");
    assert_eq!(
        r.result()["capabilities"],
        json!({"tools": {"listChanged": true}})
    );
    assert_eq!(r.result()["serverInfo"]["name"], "proto-gw");
    assert_eq!(r.result()["instructions"], "Use the op tools.");
    let session = r
        .header("mcp-session-id")
        .expect("a session id")
        .to_string();
    assert!(session.bytes().all(|b| (0x21..=0x7e).contains(&b)));

    // An unknown version gets the newest handshake version the gateway serves.
    let r = initialize(&gw.url(), "2024-11-05").await;
    assert_eq!(r.result()["protocolVersion"], "2025-11-25");

    let with_session = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &with_session,
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (202, ""));
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        &with_session,
    )
    .await;
    assert_eq!(r.body, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": "x", "result": {}}),
        &with_session,
    )
    .await;
    assert_eq!(r.status, 202, "client responses are acknowledged");
}

#[tokio::test]
async fn sessions_survive_restarts_and_end_with_delete() {
    let key = [("MCP_GATEWAY_SESSION_KEY", "shared-replica-key")];
    let (_b, gw) = gateway_with("", "", &key).await;
    let session = initialize(&gw.url(), "2025-11-25")
        .await
        .header("mcp-session-id")
        .unwrap()
        .to_string();
    drop(gw);

    // Another process with the same key (a restart, or another replica) accepts the session.
    let (_b2, gw2) = gateway_with("", "", &key).await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = post(&gw2.url(), &list, &[("mcp-session-id", &session)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.result()["tools"].as_array().unwrap().len(), 9);

    // A gateway with another key does not; nor does it accept garbage.
    let (_b3, other) = gateway_with("", "", &[("MCP_GATEWAY_SESSION_KEY", "different")]).await;
    assert_eq!(
        post(&other.url(), &list, &[("mcp-session-id", &session)])
            .await
            .status,
        404
    );
    assert_eq!(
        post(&gw2.url(), &list, &[("mcp-session-id", "not-a-session")])
            .await
            .status,
        404
    );

    let delete = |id: Option<String>| {
        let url = gw2.url();
        async move {
            let mut req = client().delete(url);
            if let Some(id) = id {
                req = req.header("mcp-session-id", id);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(delete(None).await, 400);
    assert_eq!(delete(Some(session.clone())).await, 204);
    assert_eq!(
        post(&gw2.url(), &list, &[("mcp-session-id", &session)])
            .await
            .status,
        404
    );
    assert_eq!(delete(Some(session)).await, 404);
}

fn modern(method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = modern_meta();
    json!({"jsonrpc": "2.0", "id": 5, "method": method, "params": params})
}

#[tokio::test]
async fn stateless_2026_07_28_requests() {
    let (backend, gw) = gateway_with("", "", &[]).await;
    let v = ("mcp-protocol-version", "2026-07-28");
    let r = post(
        &gw.url(),
        &modern("server/discover", json!({})),
        &[v, ("mcp-method", "server/discover")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.result()["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert_eq!(r.result()["resultType"], "complete");
    assert_eq!(r.result()["cacheScope"], "public");
    assert!(r.result()["ttlMs"].as_u64().unwrap() > 0);
    assert_eq!(r.result()["instructions"], "Use the op tools.");
    assert_eq!(
        r.result()["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "proto-gw"
    );
    assert!(
        r.header("mcp-session-id").is_none(),
        "no sessions in 2026-07-28"
    );

    let r = post(
        &gw.url(),
        &modern("tools/list", json!({})),
        &[v, ("mcp-method", "tools/list")],
    )
    .await;
    assert_eq!(r.result()["resultType"], "complete");
    assert_eq!(r.result()["cacheScope"], "public");
    assert_eq!(r.result()["tools"].as_array().unwrap().len(), 9);

    let call = modern("tools/call", json!({"name": "t___op1", "arguments": {}}));
    let r = post(
        &gw.url(),
        &call,
        &[v, ("mcp-method", "tools/call"), ("mcp-name", "t___op1")],
    )
    .await;
    assert_eq!(r.result()["resultType"], "complete", "{}", r.text);
    assert_eq!(r.result()["isError"], false);
    assert_eq!(backend.last().target, "/op1");
    // Mcp-Name in its base64 form.
    let r = post(
        &gw.url(),
        &call,
        &[
            v,
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?dF9fX29wMQ==?="),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // `ping` and `initialize`-era methods do not exist in this version: 404 with -32601.
    let r = post(
        &gw.url(),
        &modern("ping", json!({})),
        &[v, ("mcp-method", "ping")],
    )
    .await;
    assert_eq!((r.status, r.error_code()), (404, Some(-32601)));
}

#[tokio::test]
async fn stateless_header_checks() {
    let (backend, gw) = gateway_with("", "", &[]).await;
    let call = modern("tools/call", json!({"name": "t___op1", "arguments": {}}));
    type Case<'a> = (Vec<(&'a str, &'a str)>, i64, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("mcp-method", "tools/call"), ("mcp-name", "t___op1")],
            -32020,
            "MCP-Protocol-Version header is missing",
        ),
        (
            vec![
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-name", "t___op1"),
            ],
            -32020,
            "Mcp-Method header is missing",
        ),
        (
            vec![
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
                ("mcp-name", "t___op1"),
            ],
            -32020,
            "Mcp-Method",
        ),
        (
            vec![
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
            ],
            -32020,
            "Mcp-Name header is missing",
        ),
        (
            vec![
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "t___op2"),
            ],
            -32020,
            "'t___op2'",
        ),
        (
            vec![
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "t___op1"),
            ],
            -32020,
            "does not match body value '2026-07-28'",
        ),
        (
            vec![
                ("mcp-protocol-version", "1999-01-01"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "t___op1"),
            ],
            -32022,
            "1999-01-01",
        ),
    ];
    for (headers, code, needle) in cases {
        let r = post(&gw.url(), &call, &headers).await;
        assert_eq!(
            (r.status, r.error_code()),
            (400, Some(code)),
            "{headers:?}: {}",
            r.text
        );
        assert!(r.text.contains(needle), "{headers:?}: {}", r.text);
    }
    let r = post(&gw.url(), &call, &[("mcp-protocol-version", "1999-01-01")]).await;
    assert_eq!(r.body["error"]["data"]["requested"], "1999-01-01");
    // redteam D4: a 2026-07-28 header cannot be talked down to the handshake era by an older
    // version in `_meta`; the header checks then apply and the body disagrees.
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2025-06-18");
    let sneaky = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "t___op2", "arguments": {}, "_meta": meta}});
    for headers in [
        vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
            ("mcp-name", "t___op1"),
        ],
        vec![("mcp-protocol-version", "2026-07-28")],
    ] {
        let r = post(&gw.url(), &sneaky, &headers).await;
        assert_eq!(
            (r.status, r.error_code()),
            (400, Some(-32020)),
            "{headers:?}: {}",
            r.text
        );
        assert!(
            r.text.contains("does not match body value '2025-06-18'"),
            "{}",
            r.text
        );
    }
    assert!(
        backend.requests().is_empty(),
        "no refused request reached the backend"
    );
}

#[tokio::test]
async fn only_supported_versions_are_served() {
    let (_b, gw) = gateway_with(r#"supportedVersions: ["2025-06-18"]"#, "", &[]).await;
    assert_eq!(
        initialize(&gw.url(), "2025-03-26").await.result()["protocolVersion"],
        "2025-06-18"
    );
    let r = post(
        &gw.url(),
        &modern("server/discover", json!({})),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ],
    )
    .await;
    assert_eq!((r.status, r.error_code()), (400, Some(-32022)));
    assert_eq!(r.body["error"]["data"]["supported"], json!(["2025-06-18"]));
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[("mcp-protocol-version", "2025-11-25")],
    )
    .await;
    assert_eq!((r.status, r.error_code()), (400, Some(-32022)));
    // Without a version header the oldest served handshake version applies.
    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    assert_eq!(r.status, 200);

    let (_b, modern_only) = gateway_with(r#"supportedVersions: ["2026-07-28"]"#, "", &[]).await;
    let r = initialize(&modern_only.url(), "2025-06-18").await;
    assert_eq!((r.status, r.error_code()), (400, Some(-32022)));
    assert_eq!(r.body["error"]["data"]["supported"], json!(["2026-07-28"]));
}

#[tokio::test]
async fn tools_list_pages_in_a_stable_order() {
    let (_b, gw) = gateway_with("", ", toolsListPageSize: 4", &[]).await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let r = rpc(&gw.url(), "tools/list", params).await;
        let page = r.result()["tools"].as_array().unwrap();
        assert!(page.len() <= 4);
        names.extend(page.iter().map(|t| t["name"].as_str().unwrap().to_string()));
        cursor = r.result()["nextCursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 9);
    let r = rpc(&gw.url(), "tools/list", json!({"cursor": "bogus"})).await;
    assert_eq!(r.error_code(), Some(-32602));
}

#[tokio::test]
async fn json_rpc_errors() {
    let (_b, gw) = gateway_with("", "", &[]).await;
    let r = rpc(&gw.url(), "resources/list", json!({})).await;
    assert_eq!((r.status, r.error_code()), (200, Some(-32601)));
    let r = rpc(&gw.url(), "tools/call", json!({"name": "t___nope"})).await;
    assert_eq!(r.error_code(), Some(-32602));
    assert!(r.text.contains("Unknown tool: t___nope"));
    let r = rpc(&gw.url(), "tools/call", json!({})).await;
    assert_eq!(r.error_code(), Some(-32602));
    let r = rpc(
        &gw.url(),
        "tools/call",
        json!({"name": "t___op1", "arguments": [1]}),
    )
    .await;
    assert_eq!(r.error_code(), Some(-32602));

    let raw = |body: &'static str| {
        let url = gw.url();
        async move {
            let resp = client()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            into_reply(resp).await
        }
    };
    let r = raw("{not json").await;
    assert_eq!((r.status, r.error_code()), (400, Some(-32700)));
    assert!(r.body.get("id").is_none());
    let r = raw(r#"{"jsonrpc":"2.0","id":1}"#).await;
    assert_eq!((r.status, r.error_code()), (400, Some(-32600)));
}

/// POSTs raw `body` with `headers`.
async fn raw_post(url: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_reply(req.send().await.unwrap()).await
}

/// redteam D8: an id is echoed as the client wrote it, also beyond 64 bits.
#[tokio::test]
async fn ids_are_echoed_unchanged() {
    let (_b, gw) = gateway_with("", "", &[]).await;
    for id in [
        "123456789012345678901234567890",
        "-9223372036854775809",
        "1.0",
        "\"x\"",
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        let r = raw_post(&gw.url(), &body, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.text.contains(&format!(r#""id":{id}"#)),
            "{id}: {}",
            r.text
        );
    }
}

/// redteam D9 and two questionable cases: a message the gateway cannot accept and cannot
/// answer by id gets an HTTP error status; neither-request-nor-response is refused.
#[tokio::test]
async fn unanswerable_messages_get_http_errors() {
    let (backend, gw) = gateway_with("", "", &[]).await;
    let r = raw_post(
        &gw.url(),
        r#"{"jsonrpc":"2.0","method":"notifications/x","params":[1]}"#,
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, Some(-32602)),
        "{}",
        r.text
    );
    let r = raw_post(&gw.url(), r#"{"jsonrpc":"2.0","result":{}}"#, &[]).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, Some(-32600)),
        "{}",
        r.text
    );
    let r = raw_post(
        &gw.url(),
        r#"{"jsonrpc":"2.0","id":1,"result":{},"method":"tools/call","params":{"name":"t___op1"}}"#,
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, Some(-32600)),
        "{}",
        r.text
    );
    let r = raw_post(
        &gw.url(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 202);
    assert!(backend.requests().is_empty());
}

/// redteam D10: 2025-03-26 requires servers to accept batches; later versions removed them.
#[tokio::test]
async fn batches_under_2025_03_26_only() {
    let (backend, gw) = gateway_with("", "", &[]).await;
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"t___op1","arguments":{}}},
        {"jsonrpc":"2.0","id":3,"method":"nope"},
        {"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}]"#;
    for headers in [vec![], vec![("mcp-protocol-version", "2025-03-26")]] {
        let r = raw_post(&gw.url(), batch, &headers).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let replies = r.body.as_array().expect("an array of responses");
        assert_eq!(replies.len(), 4, "the notification gets none: {}", r.text);
        let by_id = |id: Value| replies.iter().find(|m| m["id"] == id).unwrap();
        assert_eq!(by_id(json!(1))["result"], json!({}));
        assert_eq!(by_id(json!("b"))["result"]["isError"], false);
        assert_eq!(by_id(json!(3))["error"]["code"], -32601);
        assert_eq!(
            by_id(json!(4))["error"]["code"],
            -32600,
            "no initialize in a batch"
        );
    }
    assert_eq!(backend.requests().len(), 2);
    // A session of 2025-03-26 carries its version.
    let init = initialize(&gw.url(), "2025-03-26").await;
    let sid = init.header("mcp-session-id").unwrap().to_string();
    let r = raw_post(
        &gw.url(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        &[("mcp-session-id", &sid)],
    )
    .await;
    assert_eq!(
        (r.status, r.body[0]["id"].clone()),
        (200, json!(1)),
        "{}",
        r.text
    );
    // Only notifications: 202.
    let r = raw_post(
        &gw.url(),
        r#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 202);
    // Refused: later versions, an empty batch, an oversized one.
    for (body, headers) in [
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            vec![("mcp-protocol-version", "2025-06-18")],
        ),
        ("[]", vec![]),
    ] {
        let r = raw_post(&gw.url(), body, &headers).await;
        assert_eq!(
            (r.status, r.error_code()),
            (400, Some(-32600)),
            "{body}: {}",
            r.text
        );
    }
    let big = format!(
        "[{}]",
        vec![r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#; 65].join(",")
    );
    let r = raw_post(&gw.url(), &big, &[]).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, Some(-32600)),
        "{}",
        r.text
    );
    assert!(r.text.contains("at most 64"), "{}", r.text);
}

#[tokio::test]
async fn http_level_rejections() {
    let (_b, gw) = gateway_with("", "", &[]).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let get = client().get(gw.url()).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let r = post(&gw.url(), &list, &[("origin", "https://evil.example")]).await;
    assert_eq!(r.status, 403);
    let r = post(&gw.url(), &list, &[("origin", "http://localhost:6274")]).await;
    assert_eq!(r.status, 200);
    let resp = client()
        .post(gw.url())
        .header("content-type", "text/plain")
        .body(list.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let resp = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(list.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 406);
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "x".repeat(5000)}});
    assert_eq!(post(&gw.url(), &big, &[]).await.status, 413);

    // A client that accepts only SSE gets one `message` event.
    let resp = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(list.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let body = resp.text().await.unwrap();
    let data = body
        .strip_prefix("event: message\ndata: ")
        .unwrap()
        .trim_end();
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap()["result"]["tools"]
            .as_array()
            .unwrap()
            .len(),
        9
    );

    let health = client()
        .get(format!("{}/health", gw.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = client()
        .get(format!("{}/ready", gw.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

/// Questionable cases from the red team, decided: CORS for the origins `/mcp` admits (a
/// browser client on another localhost port), a compressed body is 415, and a session id that
/// cannot be read (non-ASCII, or sent twice) is an unknown session rather than no session.
#[tokio::test]
async fn browsers_encodings_and_unreadable_sessions() {
    let (_b, gw) = gateway_with("", "", &[]).await;
    let preflight = |origin: &'static str| {
        client()
            .request(http::Method::OPTIONS, gw.url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, mcp-protocol-version, mcp-session-id",
            )
            .send()
    };
    let ok = preflight("http://localhost:6274").await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("mcp-session-id"), "{allowed}");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        &[("origin", "http://127.0.0.1:6274")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://127.0.0.1:6274")
    );
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("mcp-session-id"))
    );

    let r = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.text);

    let init = initialize(&gw.url(), "2025-06-18").await;
    let sid = init.header("mcp-session-id").unwrap().to_string();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let twice = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("mcp-session-id", &sid)
        .header("mcp-session-id", "garbage")
        .body(ping.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status().as_u16(), 404);
    let non_ascii = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header(
            "mcp-session-id",
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .body(ping)
        .send()
        .await
        .unwrap();
    assert_eq!(non_ascii.status().as_u16(), 404);
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_calls_finish() {
    let (_b, mut gw) = gateway_with("", "", &[]).await;
    let url = gw.url();
    let call = tokio::spawn(async move { call_tool(&url, "t___slow", json!({})).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    gw.stop();
    let result = call.await.unwrap();
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(text(&result), "late");
    let done = tokio::time::timeout(std::time::Duration::from_secs(5), &mut gw.done).await;
    assert!(
        matches!(done, Ok(Ok(Ok(())))),
        "the server stops after draining: {done:?}"
    );
}
