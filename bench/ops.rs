//! What operating the gateway costs: the same call through gateways that differ only in
//! `server.metrics.enabled`, and in a rate limit that applies to every call (per process, and
//! in Redis at 127.0.0.1:6379), measured in interleaved rounds (the issue's target for
//! metrics: within run-to-run noise at c=16).

use std::path::Path;

use serde_json::json;

use super::{Args, Load, Row, call, interleaved_on, launch, mcp};

pub async fn metrics_rows(args: &Args, dir: &Path, concurrencies: &[usize]) -> Vec<Row> {
    // `api.json` is the main benchmark's document, written by its first gateway.
    let config = |enabled: bool, limits: &str| {
        let path = dir.join(format!("metrics-{enabled}-{}.yaml", limits.len()));
        std::fs::write(
            &path,
            format!(
                r#"
server: {{limits: {{maxConcurrentRequests: 4096}}, metrics: {{enabled: {enabled}}}{store}}}
gateway: {{name: bench-metrics, authorizerType: NONE}}
credentialProviders: {{apiKeys: [{{name: k, apiKeyEnv: BENCH_KEY}}]}}
targets:
  - name: key
    targetConfiguration: {{mcp: {{openApiSchema: {{file: api.json}}}}}}
    credentialProviderConfigurations:
      - {{credentialProviderType: API_KEY, credentialProvider: {{apiKeyCredentialProvider: {{providerArn: k, credentialParameterName: x-api-key}}}}}}
{limits}"#,
                store = if limits.contains("redis") {
                    ", rateLimitStore: {redisUrl: 'redis://127.0.0.1:6379', keyPrefix: mcp-gateway-bench}"
                } else {
                    ""
                },
                limits = limits.replace("# redis", ""),
            ),
        )
        .unwrap();
        path
    };
    // A limit that applies to every call and never refuses one: its cost, not its refusals.
    let limit = "rateLimits:\n  - {rateLimitId: all, dimensionKeys: [toolName], entries: [{dimensions: {toolName: '*'}, requests: [{rate: 10000000, period: second}]}]}\n";
    let (on, _) = launch(args, &config(true, ""));
    let (off, _) = launch(args, &config(false, ""));
    let (local, _) = launch(args, &config(true, limit));
    let (shared, _) = launch(args, &config(true, &format!("{limit}# redis")));
    let api = std::fs::read_to_string(dir.join("api.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&api).unwrap();
    let backend = doc["servers"][0]["url"].as_str().unwrap().to_string();
    let direct = Load {
        method: reqwest::Method::GET,
        url: format!("{backend}/pets/7"),
        headers: vec![("x-api-key", "bench-api-key".into())],
        body: None,
    };
    let through = |url: &str| {
        mcp(
            url,
            call("key___getPet", json!({"id": "7"}), true),
            "2026-07-28",
            None,
            "tools/call",
            Some("key___getPet"),
        )
    };
    let scenarios = [
        (
            "call GET, API key, 2026-07-28, metrics on",
            through(&on.url),
            direct.clone(),
            on.pid,
        ),
        (
            "call GET, API key, 2026-07-28, metrics off",
            through(&off.url),
            direct.clone(),
            off.pid,
        ),
        (
            "call GET, API key, 2026-07-28, metrics on, a rate limit (per process)",
            through(&local.url),
            direct.clone(),
            local.pid,
        ),
        (
            "call GET, API key, 2026-07-28, metrics on, a rate limit (Redis)",
            through(&shared.url),
            direct,
            shared.pid,
        ),
    ];
    interleaved_on(&scenarios, concurrencies, args.seconds).await
}
