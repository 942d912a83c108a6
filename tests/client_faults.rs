//! Clients that misbehave or overload: slow headers and bodies, too many connections, more
//! concurrent requests than allowed, disconnects mid-call; and the shutdown sequence.

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(server: &str) -> String {
    format!(
        "server: {{{server}}}\ngateway: {{name: cf, authorizerType: NONE}}\n\
         targets:\n  - name: t\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{DOC}}\"}}}}}}\n"
    )
}

async fn gateway(server: &str) -> (Backend, TestGateway) {
    let backend = start_backend().await;
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/slow": {"get": {"operationId": "slow"}}, "/x": {"get": {"operationId": "x"}}}})
    .to_string();
    let gw = start_gateway(&config(server), &env(&[("DOC", &doc)])).await;
    (backend, gw)
}

/// Reads until the peer closes the connection; returns what it sent and how long it took.
async fn read_until_closed(sock: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection stayed open longer than {limit:?}"),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let (_b, gw) = gateway("timeouts: {headerReadSeconds: 0.5}").await;
    // Slowloris: a request line, then nothing more.
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    // A connection that never sends anything.
    let mut idle = TcpStream::connect(gw.addr).await.unwrap();
    let (_, took) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn silent_or_stalled_http2_connections_are_closed() {
    let (_b, gw) = gateway("timeouts: {headerReadSeconds: 0.5}").await;
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    // A HEADERS frame announcing 100 bytes on stream 1, of which 10 arrive.
    const PARTIAL_HEADERS: [u8; 9] = [0, 0, 100, 1, 0, 0, 0, 0, 1];
    for stall in [&b""[..], &[&PARTIAL_HEADERS[..], &[b'x'; 10]].concat()] {
        let mut sock = TcpStream::connect(gw.addr).await.unwrap();
        sock.write_all(&[PREFACE, &EMPTY_SETTINGS, stall].concat())
            .await
            .unwrap();
        let (_, took) = read_until_closed(&mut sock, Duration::from_secs(8)).await;
        assert!(
            took < Duration::from_secs(4),
            "stall of {} bytes: closed after {took:?}",
            stall.len()
        );
    }
    // A real HTTP/2 client still works.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let resp = h2
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn slow_bodies_time_out() {
    let (_b, gw) = gateway("timeouts: {requestBodySeconds: 0.5}").await;
    let mut sock = TcpStream::connect(gw.addr).await.unwrap();
    sock.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"")
        .await
        .unwrap();
    let (reply, took) = read_until_closed(&mut sock, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let status = reply.lines().next().unwrap_or_default().to_string();
    assert!(
        status.contains(" 408 ") || status.contains(" 400 "),
        "{reply}"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let (_b, gw) = gateway("limits: {maxConnections: 4}").await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        assert!(s.read(&mut buf).await.unwrap() > 0);
        held.push(s);
    }
    let mut extra = TcpStream::connect(gw.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (reply, _) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(
        reply.is_empty(),
        "the fifth connection is closed unanswered: {reply}"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rpc(&gw.url(), "tools/list", json!({})).await.status,
        200,
        "capacity returns"
    );
}

#[tokio::test]
async fn overload_is_shed_with_503_and_retry_after() {
    let (_b, gw) = gateway("limits: {maxConcurrentRequests: 2}").await;
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let url = gw.url();
            tokio::spawn(async move { call_tool(&url, "t___slow", json!({})).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("1"));
    let health = client()
        .get(format!("{}/health", gw.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "probes are not shed");
    for s in slow {
        assert_eq!(s.await.unwrap()["isError"], false);
    }
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_backend_call() {
    let (backend, gw) = gateway("").await;
    let mut sock = TcpStream::connect(gw.addr).await.unwrap();
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t___slow"}})
            .to_string();
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    // Wait until the backend has the request, then hang up.
    for _ in 0..50 {
        if !backend.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(backend.requests().len(), 1);
    drop(sock);
    // The backend sees its connection close before it would have answered (1.5 s).
    let closed = backend.wait_for_disconnect(Duration::from_secs(1)).await;
    assert!(
        closed,
        "the gateway dropped the backend call when the client left"
    );
}

#[tokio::test]
async fn shutdown_turns_ready_off_before_closing_the_listener() {
    let (_b, gw) = gateway("").await;
    let limits = mcp_gateway::http::Limits {
        readiness_drain: Duration::from_millis(600),
        shutdown_grace: Duration::from_secs(5),
        max_connections: 100,
        header_read_timeout: Duration::from_secs(5),
        ..gw.gateway_limits
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(mcp_gateway::http::serve(
        listener,
        gw.state.clone(),
        async move {
            let _ = rx.await;
        },
        limits,
    ));
    let ready = |a: std::net::SocketAddr| async move {
        client()
            .get(format!("http://{a}/ready"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert_eq!(ready(addr).await.unwrap(), 200);
    tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        ready(addr).await.unwrap(),
        503,
        "still accepting, but not ready"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        ready(addr).await.is_err(),
        "the listener is closed after the drain"
    );
    assert!(done.await.unwrap().is_ok());
}

#[tokio::test]
async fn shutdown_under_load_loses_no_accepted_request() {
    let backend = start_backend().await;
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/x": {"get": {"operationId": "x", "parameters": [{"name": "n", "in": "query", "schema": {"type": "integer"}}]}},
                  "/slow": {"get": {"operationId": "slow"}}}})
    .to_string();
    let gw = start_gateway(&config(""), &env(&[("DOC", &doc)])).await;
    let limits = mcp_gateway::http::Limits {
        readiness_drain: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
        max_connections: 1000,
        header_read_timeout: Duration::from_secs(5),
        ..gw.gateway_limits
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mcp_gateway::http::serve(
        listener,
        gw.state.clone(),
        async move {
            let _ = rx.await;
        },
        limits,
    ));

    let load = TrackedLoad::start(&url, 16, 4);
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(()).unwrap();
    assert!(server.await.unwrap().is_ok());
    load.assert_nothing_lost(&backend).await;
}
