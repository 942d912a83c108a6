//! Clients that do not take their responses (redteam D1, D5) and bodies announced over the
//! limit (D12), against the real binary on raw sockets: memory stays bounded (measured on
//! the process), stalled connections are closed after `writeStallSeconds`, and the gateway
//! keeps answering everyone else.

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A document whose `tools/list` page is about 2.2 MB (1,000 tools, 2 KB descriptions).
fn big_catalog() -> String {
    let description = "d".repeat(2000);
    let mut paths = serde_json::Map::new();
    for i in 0..1000 {
        paths.insert(
            format!("/op{i}"),
            json!({"get": {"operationId": format!("op{i}"), "description": description}}),
        );
    }
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "http://127.0.0.1:9"}], "paths": paths})
    .to_string()
}

/// The real binary serving [`big_catalog`] with `server` settings.
fn gateway(server: &str) -> (Binary, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "mcp-gw-delivery-{}-{}",
        std::process::id(),
        server.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.json"), big_catalog()).unwrap();
    std::fs::write(
        dir.join("gateway.yaml"),
        format!(
            "server: {{{server}}}\ngateway: {{name: d, authorizerType: NONE}}\ntargets:\n  - name: t\n    targetConfiguration: {{mcp: {{openApiSchema: {{file: big.json}}}}}}\n"
        ),
    )
    .unwrap();
    (Binary::serve(&dir.join("gateway.yaml"), &[]), dir)
}

/// Resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn addr(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string()
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

/// redteam D1: HTTP/2 clients that leave their flow-control window at zero while asking for
/// many large pages. Before: every page was held for as long as the client liked (6
/// connections held 2.65 GB). Now the held bytes are bounded per connection and the
/// connections are closed after `writeStallSeconds`.
#[tokio::test]
async fn http2_clients_with_a_zero_window_are_bounded_then_dropped() {
    let (gw, dir) =
        gateway("limits: {maxUnsentBytesPerConnection: 8388608}, timeouts: {writeStallSeconds: 2}");
    let pid = gw.pid();
    let baseline = rss_mib(pid);
    let mut connections = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..4 {
        let tcp = tokio::net::TcpStream::connect(addr(&gw.url)).await.unwrap();
        let (mut client, conn) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, bytes::Bytes>(tcp)
            .await
            .unwrap();
        // The connection task answers the server's PINGs, as the red team's client did.
        connections.push(tokio::spawn(async move {
            let started = Instant::now();
            let _ = conn.await;
            started.elapsed()
        }));
        for _ in 0..50 {
            let req = http::Request::post("/mcp")
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .body(())
                .unwrap();
            client = client.ready().await.unwrap();
            let (resp, mut send) = client.send_request(req, false).unwrap();
            send.send_data(bytes::Bytes::from_static(LIST.as_bytes()), true)
                .unwrap();
            streams.push(resp);
        }
    }
    // While the pages are (not) being taken: memory stays bounded. Unbounded, 200 pages of
    // 2.2 MB would be ~440 MB; the bound is 4 x 8 MiB plus what is being built.
    let mut peak = 0;
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(1500) {
        peak = peak.max(rss_mib(pid));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("HTTP/2 zero window, 200 x 2.2 MB pages: RSS {baseline} -> {peak} MiB");
    assert!(
        peak < baseline + 120,
        "RSS went from {baseline} MiB to {peak} MiB"
    );
    // Each stalled connection is closed a little after writeStallSeconds.
    for c in connections {
        let held = tokio::time::timeout(Duration::from_secs(10), c)
            .await
            .expect("the gateway closes a connection whose client takes nothing")
            .unwrap();
        assert!(held < Duration::from_secs(8), "held {held:?}");
    }
    drop(streams);
    // The gateway still answers, and what it held is given back.
    assert_eq!(rpc(&gw.url, "tools/list", json!({})).await.status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mib(pid);
    assert!(
        after < baseline + 40,
        "after: {after} MiB (baseline {baseline})"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// redteam D5: HTTP/1 clients that send pipelined requests and never read held every
/// connection slot forever, and `/health` became unreachable. Now they are closed after
/// `writeStallSeconds`.
#[tokio::test]
async fn http1_clients_that_never_read_are_closed() {
    let (gw, dir) = gateway("limits: {maxConnections: 8}, timeouts: {writeStallSeconds: 2}");
    let target = addr(&gw.url);
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{LIST}",
        LIST.len()
    );
    let mut socks = Vec::new();
    for _ in 0..8 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut s = socket.connect(target.parse().unwrap()).await.unwrap();
        s.write_all(request.repeat(3).as_bytes()).await.unwrap();
        socks.push(s);
    }
    let started = Instant::now();
    // Every slot is taken: at first nobody else gets in...
    tokio::time::sleep(Duration::from_millis(500)).await;
    let health = format!("{}/health", gw.url.trim_end_matches("/mcp"));
    let early = client()
        .get(&health)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        early.is_err(),
        "all 8 slots are held by the stalled clients"
    );
    // ...then the stalled connections are closed and the slots are free again.
    let mut answered = None;
    while started.elapsed() < Duration::from_secs(8) {
        if let Ok(r) = client()
            .get(&health)
            .timeout(Duration::from_millis(300))
            .send()
            .await
        {
            answered = Some((r.status().as_u16(), started.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, after) = answered.expect("/health reachable again");
    assert_eq!(status, 200);
    assert!(
        after > Duration::from_secs(1),
        "not before the stall limit: {after:?}"
    );
    // The stalled clients find their connections closed (after what fit in the buffers). Give
    // every one of them the stall limit first: reading would make a client a reader again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for mut s in socks {
        let mut buf = vec![0u8; 1 << 16];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the stalled connection was closed");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// redteam D12: a `Content-Length` over `maxRequestBodyBytes` is refused at once with 413,
/// and `Expect: 100-continue` gets no `100 Continue`.
#[tokio::test]
async fn over_limit_bodies_are_refused_before_they_are_sent() {
    let (gw, dir) = gateway("limits: {maxRequestBodyBytes: 65536}");
    for expect in ["", "Expect: 100-continue\r\n"] {
        let mut s = tokio::net::TcpStream::connect(addr(&gw.url)).await.unwrap();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n{expect}\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
            .await
            .expect("answered without waiting for the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{expect:?}: {answer}");
        assert!(!answer.contains("100 Continue"), "{answer}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// redteam D2: a 9 MB JSON reply of small elements took one call to a 646 MB peak, because
/// `structuredContent` was parsed into a tree. Now it passes through raw: the peak stays
/// within a few times the body.
#[tokio::test]
async fn a_large_json_reply_costs_a_few_times_its_size() {
    let body: String = {
        let mut s = String::with_capacity(9_000_010);
        s.push_str(r#"{"a":["#);
        while s.len() < 9_000_000 {
            s.push_str("0,");
        }
        s.push_str("0]}");
        s
    };
    let elements = body.matches('0').count();
    let body = std::sync::Arc::new(body);
    let app = axum::Router::new().route(
        "/big",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    body.as_str().to_owned(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = std::env::temp_dir().join(format!("mcp-gw-d2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "servers": [{"url": backend}], "paths": {"/big": {"get": {"operationId": "big"}}}});
    std::fs::write(dir.join("api.json"), doc.to_string()).unwrap();
    std::fs::write(
        dir.join("gateway.yaml"),
        "gateway: {name: d2, authorizerType: NONE}\ntargets:\n  - name: t\n    targetConfiguration: {mcp: {openApiSchema: {file: api.json}}}\n",
    )
    .unwrap();
    let gw = Binary::serve(&dir.join("gateway.yaml"), &[]);
    let pid = gw.pid();
    let baseline = rss_mib(pid);
    let url = gw.url.clone();
    let call = tokio::spawn(async move { call_tool(&url, "t___big", json!({})).await });
    let mut peak = 0;
    while !call.is_finished() {
        peak = peak.max(rss_mib(pid));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = call.await.unwrap();
    assert_eq!(r["isError"], false);
    assert_eq!(
        r["structuredContent"]["a"].as_array().unwrap().len(),
        elements
    );
    eprintln!("9 MB JSON reply: RSS {baseline} -> {peak} MiB");
    // Body (9 MB) + its text (9 MB) + its raw structuredContent (9 MB) + transfer buffers.
    assert!(
        peak < baseline + 100,
        "RSS went from {baseline} MiB to {peak} MiB for a 9 MB reply"
    );
    std::fs::remove_dir_all(dir).ok();
}
