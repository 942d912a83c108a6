//! `AWS_IAM`: callers sign requests with SigV4 for `bedrock-agentcore` in the gateway's
//! region. Valid signatures from listed callers are admitted as their principal ARN; tampered
//! paths, queries, bodies and signed headers, wrong secrets, stale dates, unknown keys and
//! other regions or services are refused.

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use common::*;
use mcp_gateway::outbound::Request as OutboundRequest;
use mcp_gateway::outbound::sigv4;
use serde_json::json;

const CONFIG: &str = r#"
gateway: {name: iam-gw, authorizerType: AWS_IAM, region: us-east-1}
iamCallers:
  - {accessKeyId: AKIDAGENT, secretAccessKeyEnv: AGENT_SECRET, principalArn: "arn:aws:iam::123456789012:role/agent"}
  - {accessKeyId: AKIDOTHER, secretAccessKeyEnv: OTHER_SECRET, principalArn: "arn:aws:iam::123456789012:role/other"}
targets:
  - name: t
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
"#;

async fn gateway() -> (Backend, TestGateway) {
    gateway_with(CONFIG).await
}

async fn gateway_with(config: &str) -> (Backend, TestGateway) {
    let backend = start_backend().await;
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/x": {"get": {"operationId": "x"}}}})
    .to_string();
    let vars = env(&[
        ("DOC", &doc),
        ("AGENT_SECRET", "agent-secret"),
        ("OTHER_SECRET", "other-secret"),
    ]);
    (backend, start_gateway(config, &vars).await)
}

/// A request to `path` (and query) signed with `key` for `region` and `service` at `at`.
fn signed(
    gw: &TestGateway,
    path: &str,
    body: &str,
    key: (&str, &str),
    region: &str,
    service: &str,
    at: SystemTime,
) -> OutboundRequest {
    let mut req = OutboundRequest {
        method: http::Method::POST,
        url: url::Url::parse(&format!("{}{path}", gw.base())).unwrap(),
        headers: http::HeaderMap::new(),
        body: Some(body.as_bytes().to_vec()),
    };
    req.headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    req.headers.insert(
        "accept",
        http::HeaderValue::from_static("application/json, text/event-stream"),
    );
    let creds = Credentials::new(key.0, key.1, None, None, "test");
    sigv4::sign_at(&mut req, &creds, region, service, at).unwrap();
    req
}

async fn send(req: OutboundRequest) -> Reply {
    let mut b = client().request(req.method, req.url).headers(req.headers);
    if let Some(body) = req.body {
        b = b.body(body);
    }
    into_reply(b.send().await.unwrap()).await
}

const AGENT: (&str, &str) = ("AKIDAGENT", "agent-secret");
const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

fn now() -> SystemTime {
    SystemTime::now()
}

#[tokio::test]
async fn valid_signatures_are_admitted() {
    let (_b, gw) = gateway().await;
    let r = send(signed(
        &gw,
        "/mcp",
        LIST,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.result()["tools"][0]["name"], "t___x");
    let r = send(signed(
        &gw,
        "/mcp?tenant=a&x=1",
        LIST,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    ))
    .await;
    assert_eq!(r.status, 200, "a signed query string: {}", r.text);
}

#[tokio::test]
async fn tampering_and_bad_credentials_are_refused() {
    let (backend, gw) = gateway().await;
    let unsigned = post(
        &gw.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    )
    .await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.text);

    // Signed for another path, sent to /mcp.
    let mut path = signed(
        &gw,
        "/admin",
        LIST,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    );
    path.url.set_path("/mcp");
    let r = send(path).await;
    assert_eq!(r.status, 403, "a tampered path: {}", r.text);
    let mut query = signed(
        &gw,
        "/mcp?tenant=a",
        LIST,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    );
    query.url.set_query(Some("tenant=b"));
    let r = send(query).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("signature does not match"), "{}", r.text);
    let mut body = signed(
        &gw,
        "/mcp",
        LIST,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    );
    body.body = Some(
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t___x"}}"#.to_vec(),
    );
    assert_eq!(send(body).await.status, 403);
    let mut header = signed(
        &gw,
        "/mcp",
        LIST,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    );
    header.headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    assert_eq!(send(header).await.status, 403);

    let cases = [
        (
            ("AKIDAGENT", "wrong-secret"),
            "us-east-1",
            "bedrock-agentcore",
            now(),
            "signature does not match",
        ),
        (
            // review S10: an unknown key id gets the same refusal as a wrong secret.
            ("AKIDNOBODY", "x"),
            "us-east-1",
            "bedrock-agentcore",
            now(),
            "signature does not match",
        ),
        (
            AGENT,
            "us-east-1",
            "bedrock-agentcore",
            now() - Duration::from_secs(600),
            "more than 5 minutes",
        ),
        (
            AGENT,
            "us-east-1",
            "bedrock-agentcore",
            now() + Duration::from_secs(600),
            "more than 5 minutes",
        ),
        (
            AGENT,
            "eu-west-1",
            "bedrock-agentcore",
            now(),
            "signed for region `eu-west-1`",
        ),
        (
            AGENT,
            "us-east-1",
            "execute-api",
            now(),
            "signed for service `execute-api`",
        ),
    ];
    for (key, region, service, at, why) in cases {
        let r = send(signed(&gw, "/mcp", LIST, key, region, service, at)).await;
        assert_eq!(r.status, 403, "{why}: {}", r.text);
        assert!(r.text.contains(why), "{why}: {}", r.text);
        assert!(!r.text.contains("agent-secret"));
    }
    assert!(backend.requests().is_empty());
}

#[tokio::test]
async fn sessions_are_bound_to_the_caller_arn() {
    let (_b, gw) = gateway().await;
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let r = send(signed(
        &gw,
        "/mcp",
        init,
        AGENT,
        "us-east-1",
        "bedrock-agentcore",
        now(),
    ))
    .await;
    let session = r.header("mcp-session-id").unwrap().to_string();
    let with_session = |key: (&'static str, &'static str)| {
        let mut req = signed(
            &gw,
            "/mcp",
            LIST,
            key,
            "us-east-1",
            "bedrock-agentcore",
            now(),
        );
        // The session header is added after signing: SigV4 covers only the headers it signs.
        req.headers.insert(
            "mcp-session-id",
            http::HeaderValue::from_str(&session).unwrap(),
        );
        req
    };
    assert_eq!(send(with_session(AGENT)).await.status, 200);
    assert_eq!(
        send(with_session(("AKIDOTHER", "other-secret")))
            .await
            .status,
        403
    );
}

/// review S10: with `publicUrl`, a signature is valid only for the gateway's public host; a
/// request signed for another endpoint (same key, service and region) is not replayable.
#[tokio::test]
async fn signatures_are_pinned_to_the_public_host() {
    let config = CONFIG.replacen(
        "gateway:",
        "server: {publicUrl: \"https://mcp.example.com\"}\ngateway:",
        1,
    );
    let (_backend, gw) = gateway_with(&config).await;
    let sign_for = |host: &str| {
        let mut req = OutboundRequest {
            method: http::Method::POST,
            url: url::Url::parse(&format!("https://{host}/mcp")).unwrap(),
            headers: http::HeaderMap::new(),
            body: Some(LIST.as_bytes().to_vec()),
        };
        req.headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        let creds = Credentials::new(AGENT.0, AGENT.1, None, None, "test");
        sigv4::sign_at(&mut req, &creds, "us-east-1", "bedrock-agentcore", now()).unwrap();
        // Delivered to this gateway, with the Host it was signed for.
        req.headers
            .insert("host", http::HeaderValue::from_str(host).unwrap());
        req.url = url::Url::parse(&gw.url()).unwrap();
        req
    };
    let r = send(sign_for("mcp.example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(sign_for("other-gateway.example.com")).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("another host"), "{}", r.text);
}
