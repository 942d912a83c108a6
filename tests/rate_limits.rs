//! Rate limits with AgentCore's semantics against a real gateway: per tool, a blocked target,
//! per user from a real OIDC provider's tokens (each user a bucket of their own), the client
//! view of a refusal (429, `Retry-After`, `-32029`), and `Throttles` in the metrics.

mod common;

use common::idp::{Idp, Signer};
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;

fn doc(base: &str) -> String {
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": base}],
        "paths": {"/a": {"get": {"operationId": "a"}}, "/b": {"get": {"operationId": "b"}}}})
    .to_string()
}

async fn call(url: &str, tool: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("mcp-protocol-version", "2025-06-18")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    post(
        url,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}),
        &headers,
    )
    .await
}

#[tokio::test]
async fn limits_by_tool_and_target_refuse_with_429_and_count_throttles() {
    let backend = start_backend().await;
    let yaml = "gateway: {name: gw, authorizerType: NONE}\n\
        targets:\n\
        \x20 - {name: api, targetConfiguration: {mcp: {openApiSchema: {inlinePayload: \"${DOC}\"}}}}\n\
        \x20 - {name: other, targetConfiguration: {mcp: {openApiSchema: {inlinePayload: \"${DOC}\"}}}}\n\
        rateLimits:\n\
        \x20 - rateLimitId: tools\n\
        \x20   dimensionKeys: [targetName, toolName]\n\
        \x20   entries:\n\
        \x20     - {dimensions: {targetName: api, toolName: api___a}, requests: [{rate: 2, period: minute}]}\n\
        \x20     - {dimensions: {targetName: other, toolName: '*'}, requests: [{rate: 0, period: second}]}\n";
    let gw = start_gateway(yaml, &env(&[("DOC", &doc(&backend.url()))])).await;
    let url = gw.url();
    for _ in 0..2 {
        assert_eq!(call(&url, "api___a", None).await.status, 200);
    }
    let r = call(&url, "api___a", None).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.error_code(), Some(-32029));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (20..=30).contains(&retry),
        "a bucket of 2 per minute refills one in 30 s: {retry}"
    );
    assert_eq!(r.body["error"]["data"]["retryAfterSeconds"], retry);
    // No entry matches api___b: not limited. Every tool of `other` is blocked (rate 0).
    for _ in 0..5 {
        assert_eq!(call(&url, "api___b", None).await.status, 200);
    }
    assert_eq!(call(&url, "other___b", None).await.status, 429);
    // Requests whose dimensions do not resolve (tools/list, an unknown tool) pass.
    assert_eq!(rpc(&url, "tools/list", json!({})).await.status, 200);
    assert_eq!(
        call(&url, "nope___x", None).await.error_code(),
        Some(-32602)
    );

    let metrics = client()
        .get(url.replace("/mcp", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"mcp_gateway_throttles_total{method="tools/call",tool="api___a",target="api"} 1"#,
        r#"mcp_gateway_throttles_total{method="tools/call",tool="other___b",target="other"} 1"#,
    ] {
        assert!(metrics.contains(line), "`{line}` not in:\n{metrics}");
    }
    assert_eq!(
        backend.requests().len(),
        7,
        "refused calls never reach the backend"
    );
}

#[tokio::test]
async fn each_user_has_a_bucket_of_their_own() {
    let idp = Idp::start().await;
    let signer = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&signer]);
    let backend = start_backend().await;
    let yaml = format!(
        "gateway:\n\
         \x20 name: gw\n\
         \x20 authorizerType: CUSTOM_JWT\n\
         \x20 authorizerConfiguration: {{customJWTAuthorizer: {{discoveryUrl: \"{}\", allowedClients: [app-1]}}}}\n\
         targets:\n\
         \x20 - {{name: api, targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{DOC}}\"}}}}}}}}\n\
         rateLimits:\n\
         \x20 - rateLimitId: per-user\n\
         \x20   dimensionKeys: [$.context.jwt.sub, $.context.request.header.x-tenant]\n\
         \x20   entries:\n\
         \x20     - {{dimensions: {{$.context.jwt.sub: '*', $.context.request.header.x-tenant: '*'}}, requests: [{{rate: 1, period: minute}}]}}\n\
         \x20     - {{dimensions: {{$.context.jwt.sub: vip, $.context.request.header.x-tenant: '*'}}, requests: [{{rate: 3, period: minute}}]}}\n",
        idp.discovery_url()
    );
    let gw = start_gateway(&yaml, &env(&[("DOC", &doc(&backend.url()))])).await;
    for _ in 0..100 {
        if client()
            .get(format!("{}/ready", gw.base()))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = |sub: &str| signer.sign(&idp.claims(json!({"sub": sub})));
    let with_tenant = |sub: &str, tenant: &'static str| {
        let url = gw.url();
        let token = token(sub);
        async move {
            post(
                &url,
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "api___a", "arguments": {}}}),
                &[
                    ("mcp-protocol-version", "2025-06-18"),
                    ("authorization", &format!("Bearer {token}")),
                    ("x-tenant", tenant),
                ],
            )
            .await
            .status
        }
    };
    assert_eq!(with_tenant("alice", "acme").await, 200);
    assert_eq!(
        with_tenant("alice", "acme").await,
        429,
        "alice's bucket is spent"
    );
    assert_eq!(
        with_tenant("alice", "globex").await,
        200,
        "another tenant, another bucket"
    );
    assert_eq!(
        with_tenant("bob", "acme").await,
        200,
        "bob has his own bucket"
    );
    for _ in 0..3 {
        assert_eq!(
            with_tenant("vip", "acme").await,
            200,
            "the exact entry beats `*`"
        );
    }
    assert_eq!(with_tenant("vip", "acme").await, 429);
    // Without the header the limit does not resolve: it is skipped (AgentCore fails open).
    let r = call(&gw.url(), "api___a", Some(&token("alice"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

fn shared_config(prefix: &str, rate: u32) -> String {
    format!(
        "server: {{rateLimitStore: {{redisUrl: 'redis://127.0.0.1:6379', keyPrefix: {prefix}}}}}\n\
         gateway: {{name: gw, authorizerType: NONE}}\n\
         targets:\n\
         \x20 - {{name: api, targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{DOC}}\"}}}}}}}}\n\
         rateLimits:\n\
         \x20 - rateLimitId: global\n\
         \x20   dimensionKeys: [toolName]\n\
         \x20   entries: [{{dimensions: {{toolName: '*'}}, requests: [{{rate: {rate}, period: minute}}]}}]\n"
    )
}

#[tokio::test]
async fn replicas_sharing_redis_count_one_limit_exactly() {
    let backend = start_backend().await;
    let prefix = format!("mcp-gateway-test-{}-{}", std::process::id(), now_nanos());
    let env = env(&[("DOC", &doc(&backend.url()))]);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(start_gateway(&shared_config(&prefix, 50), &env).await);
    }
    // 300 calls from 30 concurrent callers spread round-robin over the three replicas.
    let urls: Vec<String> = replicas.iter().map(|g| g.url()).collect();
    let calls = (0..300).map(|i| {
        let url = urls[i % 3].clone();
        async move { call(&url, "api___a", None).await.status }
    });
    let mut statuses = Vec::new();
    let mut calls = calls.collect::<Vec<_>>();
    let started = tokio::time::Instant::now();
    while !calls.is_empty() {
        let batch: Vec<_> = calls.drain(..calls.len().min(30)).collect();
        statuses.extend(futures_util::future::join_all(batch).await);
    }
    let elapsed = started.elapsed();
    let passed = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(passed + refused, 300);
    // The bucket holds 50 and refills one every 1.2 s: what passes is exactly that, across
    // the replicas (each counting alone would pass up to 150).
    let refills = (elapsed.as_secs_f64() / 1.2).ceil() as usize;
    eprintln!("shared limit: {passed} of 300 passed in {elapsed:?} (at most 50 + {refills})");
    assert!(
        (50..=50 + refills).contains(&passed),
        "{passed} passed in {elapsed:?} (allowed: 50 + {refills} refills)"
    );
    assert_eq!(backend.requests().len(), passed);
}

#[tokio::test]
async fn an_unreachable_store_stops_the_start_with_its_field() {
    let backend = start_backend().await;
    let yaml = shared_config("x", 1).replace("127.0.0.1:6379", "127.0.0.1:9");
    let e = build(&yaml, &env(&[("DOC", &doc(&backend.url()))]))
        .await
        .err()
        .expect("refused");
    assert!(
        e.contains("server.rateLimitStore.redisUrl: cannot reach the rate-limit store at redis://127.0.0.1:9"),
        "{e}"
    );
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn the_store_passes_the_egress_policy() {
    let backend = start_backend().await;
    let yaml =
        shared_config("x", 1).replace("server: {", "server: {egress: {denyCidrs: [127.0.0.0/8]}, ");
    let e = build(&yaml, &env(&[("DOC", &doc(&backend.url()))]))
        .await
        .err()
        .expect("refused");
    assert!(
        e.contains("server.rateLimitStore.redisUrl: 127.0.0.1:6379 (127.0.0.1) is refused: the address is in server.egress.denyCidrs"),
        "{e}"
    );
}
