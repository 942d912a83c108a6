//! Backends that misbehave at the TCP and HTTP level: each fault ends as an `isError` result
//! within the target's timeout, and the gateway keeps serving.

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A raw TCP server: for each connection, reads the request head, then runs `behave`.
async fn raw_server<F, Fut>(behave: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let behave = std::sync::Arc::new(behave);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let behave = behave.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                behave(sock).await;
            });
        }
    });
    url
}

async fn gateway_for(base: &str, extra: &str) -> TestGateway {
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": base}],
        "paths": {"/x": {"get": {"operationId": "x"}}}})
    .to_string();
    let yaml = format!(
        "server: {{limits: {{maxResponseBodyBytes: 65536}}, timeouts: {{targetSeconds: 1{extra}}}}}\n\
         gateway: {{name: faults, authorizerType: NONE, exceptionLevel: DEBUG}}\n\
         targets:\n  - name: t\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{DOC}}\"}}}}}}\n"
    );
    start_gateway(&yaml, &env(&[("DOC", &doc)])).await
}

/// Calls the tool and checks it fails within the timeout with a message containing `needle`.
async fn expect_error(gw: &TestGateway, needle: &str) {
    let started = Instant::now();
    let r = call_tool(&gw.url(), "t___x", json!({})).await;
    let took = started.elapsed();
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains(needle), "expected `{needle}` in {r}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // The gateway still answers.
    assert_eq!(rpc(&gw.url(), "tools/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn connection_reset_mid_response() {
    let url = raw_server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            .await;
        // Linger zero makes the close a TCP reset (and does not block: nothing waits to be sent).
        #[allow(deprecated)]
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    expect_error(&gateway_for(&url, "").await, "request to the target failed").await;
}

#[tokio::test]
async fn a_backend_that_never_answers() {
    let url = raw_server(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    expect_error(&gateway_for(&url, "").await, "did not answer in time").await;
}

#[tokio::test]
async fn a_backend_that_trickles_bytes() {
    let url = raw_server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .await;
        for _ in 0..100 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    expect_error(&gateway_for(&url, "").await, "did not answer in time").await;
}

#[tokio::test]
async fn huge_and_endless_bodies_are_cut_off() {
    let declared = raw_server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n")
            .await;
        let _ = s.write_all(&vec![b'x'; 1 << 20]).await;
    })
    .await;
    expect_error(&gateway_for(&declared, "").await, "larger than 65536 bytes").await;
    let endless = raw_server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 4096, "y".repeat(4096));
        while s.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    expect_error(&gateway_for(&endless, "").await, "larger than 65536 bytes").await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let url = raw_server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let gw = gateway_for(&url, "").await;
    let r = call_tool(&gw.url(), "t___x", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).starts_with("HTTP 302 Found"), "{r}");
}

#[tokio::test]
async fn invalid_json_is_returned_as_text() {
    let url = raw_server(|mut s| async move {
        let body = "{not json";
        let _ = s
            .write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
            .await;
    })
    .await;
    let gw = gateway_for(&url, "").await;
    let r = call_tool(&gw.url(), "t___x", json!({})).await;
    assert_eq!(r["isError"], false);
    assert_eq!(text(&r), "{not json");
    assert!(r.get("structuredContent").is_none());
}

#[tokio::test]
async fn a_tls_failure_is_a_tool_error() {
    // https to a server that answers in plain HTTP at once: the TLS handshake fails.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let gw = gateway_for(&format!("https://{addr}"), "").await;
    let started = Instant::now();
    let r = call_tool(&gw.url(), "t___x", json!({})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        !text(&r).contains("did not answer in time"),
        "a handshake failure, not a timeout: {r}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}
