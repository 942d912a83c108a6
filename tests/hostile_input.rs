//! Hostile request bodies and headers on `/mcp`: each is refused with the right status (or
//! handled), in bounded time, and the gateway keeps serving.

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::*;
use serde_json::json;

async fn gateway() -> TestGateway {
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9"}],
        "paths": {"/x": {"get": {"operationId": "x"}}}})
    .to_string();
    start_gateway(
        "server: {limits: {maxRequestBodyBytes: 65536}}\ngateway: {name: h, authorizerType: NONE}\ntargets:\n  - name: t\n    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: \"${DOC}\"}}}\n",
        &env(&[("DOC", &doc)]),
    )
    .await
}

async fn raw(gw: &TestGateway, body: Vec<u8>, headers: &[(&str, &[u8])]) -> (u16, String) {
    let mut req = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, http::HeaderValue::from_bytes(v).unwrap());
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn hostile_bodies_are_refused_quickly() {
    let gw = gateway().await;
    let started = Instant::now();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let (status, text) = raw(&gw, deep.into_bytes(), &[]).await;
    assert_eq!(status, 400, "deep nesting: {text}");
    assert!(text.contains("-32700"), "{text}");

    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"{}"}}"#,
        "m".repeat(100_000)
    );
    assert_eq!(
        raw(&gw, huge.into_bytes(), &[]).await.0,
        413,
        "over the body limit"
    );

    let (status, text) = raw(
        &gw,
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, 400, "invalid UTF-8: {text}");

    // Duplicate keys: serde_json keeps the last one; the request is well-defined, not a crash.
    let (status, text) = raw(
        &gw,
        br#"{"jsonrpc":"2.0","id":1,"method":"nope","method":"tools/list"}"#.to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{text}");

    // redteam D8: ids are echoed as written, however large.
    for id in ["1e400", "-1e400", "184467440737095516150"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
        let (status, text) = raw(&gw, body.into_bytes(), &[]).await;
        assert_eq!(status, 200, "id {id}: {text}");
        assert!(text.contains(&format!(r#""id":{id}"#)), "id {id}: {text}");
    }
    let args = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t___x","arguments":{"n":1e999}}}"#;
    assert_eq!(
        raw(&gw, args.as_bytes().to_vec(), &[]).await.0,
        400,
        "out-of-range number"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn odd_headers_are_refused_or_ignored() {
    let gw = gateway().await;
    let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_vec();
    let modern = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": modern_meta()}})).unwrap();
    type Case<'a> = (Vec<u8>, Vec<(&'a str, &'a [u8])>, u16);
    let cases: Vec<Case> = vec![
        (
            list.clone(),
            vec![("mcp-protocol-version", b"\xff\xfe")],
            400,
        ),
        (
            list.clone(),
            vec![("mcp-protocol-version", b"2025-06-18, 2025-11-25")],
            400,
        ),
        // An unreadable session id is an unknown session, not "no session" (redteam).
        (list.clone(), vec![("mcp-session-id", b"\xc3\x28")], 404),
        (list.clone(), vec![("mcp-session-id", &[b'a'; 8000])], 404),
        (list.clone(), vec![("origin", b"null")], 403),
        (list.clone(), vec![("accept", b"*/*;q=0.1, text/html")], 200),
        (
            modern.clone(),
            vec![
                ("mcp-protocol-version", b"2026-07-28"),
                ("mcp-method", b"tools/\tlist"),
            ],
            400,
        ),
        (
            modern,
            vec![
                ("mcp-protocol-version", b"2026-07-28"),
                ("mcp-method", b"tools/list"),
                ("mcp-method", b"tools/call"),
            ],
            200,
        ),
    ];
    for (body, headers, expected) in cases {
        let shown: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v)))
            .collect();
        let (status, text) = raw(&gw, body, &headers).await;
        assert_eq!(status, expected, "{shown:?}: {text}");
    }
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}

/// redteam D9, D10, D12 and the "questionable" framing cases, on raw requests.
#[tokio::test]
async fn framing_findings_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = gateway().await;
    type Case<'a> = (&'a [u8], Vec<(&'a str, &'a [u8])>, u16);
    let cases: Vec<Case> = vec![
        // An invalid notification: an HTTP error, not 200.
        (
            br#"{"jsonrpc":"2.0","method":"notifications/x","params":[1]}"#,
            vec![],
            400,
        ),
        // A response without an id, and a message that is request and response at once.
        (br#"{"jsonrpc":"2.0","result":{}}"#, vec![], 400),
        (
            br#"{"jsonrpc":"2.0","id":1,"result":{},"method":"tools/list"}"#,
            vec![],
            400,
        ),
        // Batches: accepted under 2025-03-26 (the default without a header), not later.
        (
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            vec![],
            200,
        ),
        (br#"[]"#, vec![], 400),
        (
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            vec![("mcp-protocol-version", b"2025-11-25")],
            400,
        ),
        (
            br#"[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]"#,
            vec![],
            200,
        ),
        // A compressed body the gateway cannot read.
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            vec![("content-encoding", b"gzip")],
            415,
        ),
    ];
    for (body, headers, expected) in cases {
        let (status, text) = raw(&gw, body.to_vec(), &headers).await;
        assert_eq!(
            status,
            expected,
            "{}: {text}",
            String::from_utf8_lossy(body)
        );
    }
    // D12: an announced body over the limit is refused before it is sent.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("answered at once")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}
