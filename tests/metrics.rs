//! The Prometheus endpoint against a real gateway and backend: AgentCore's metric set by
//! method, tool and target, each failure counted once where it belongs (the caller's, the
//! target's), tool-call outcomes and their time in the target, bounded labels whatever the
//! client sends, the live figures read at scrape, and `enabled: false` serving nothing.

mod common;

use common::*;
use serde_json::json;

fn doc(base: &str) -> String {
    json!({
        "openapi": "3.0.3", "info": {"title": "m", "version": "1"},
        "servers": [{"url": base}],
        "paths": {
            "/items/{id}": {"get": {"operationId": "getItem", "responses": {"200": {"description": "ok"}},
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]}},
            "/status/{code}": {"get": {"operationId": "status", "responses": {"200": {"description": "ok"}},
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}]}}
        }
    })
    .to_string()
}

fn config(metrics: &str) -> String {
    format!(
        "server: {{metrics: {{enabled: {metrics}}}}}\n\
         gateway: {{name: gw, authorizerType: NONE}}\n\
         targets:\n\
         \x20 - name: api\n\
         \x20   targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{API_DOC}}\"}}}}}}\n\
         \x20 - name: down\n\
         \x20   targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{DOWN_DOC}}\"}}}}}}\n"
    )
}

async fn scrape(gw: &TestGateway) -> (u16, String, String) {
    let resp = client()
        .get(gw.url().replace("/mcp", "/metrics"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

/// The value of the sample `line` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn agentcores_metrics_count_each_request_once_where_it_belongs() {
    let backend = start_backend().await;
    let env = env(&[
        ("API_DOC", &doc(&backend.url())),
        ("DOWN_DOC", &doc("http://127.0.0.1:9")),
    ]);
    let gw = start_gateway(&config("true"), &env).await;
    let url = gw.url();
    rpc(&url, "tools/list", json!({})).await;
    for _ in 0..3 {
        let r = call_tool(&url, "api___getItem", json!({"id": 7})).await;
        assert_eq!(r["isError"], false, "{r}");
    }
    // The backend answers 500: a result with isError, the target's own answer.
    let r = call_tool(&url, "api___status", json!({"code": "500"})).await;
    assert_eq!(r["isError"], true);
    // Arguments against the schema: the caller's error, under the tool.
    let r = call_tool(&url, "api___getItem", json!({"id": "seven"})).await;
    assert_eq!(r["isError"], true);
    // A target that refuses connections: a system error.
    let r = call_tool(&url, "down___getItem", json!({"id": 1})).await;
    assert_eq!(r["isError"], true);
    // Unknown tools (JSON-RPC errors), each with another name: one label set for all.
    for i in 0..20 {
        let r = rpc(
            &url,
            "tools/call",
            json!({"name": format!("nope{i}"), "arguments": {}}),
        )
        .await;
        assert_eq!(r.error_code(), Some(-32602));
    }
    rpc(&url, "no/such/method", json!({})).await;

    let (status, content_type, text) = scrape(&gw).await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let get =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no `{series}` in:\n{text}"));
    let call = |tool: &str, target: &str| {
        format!(r#"{{method="tools/call",tool="{tool}",target="{target}"}}"#)
    };
    assert_eq!(
        get(&format!(
            "mcp_gateway_invocations_total{}",
            call("api___getItem", "api")
        )),
        4.0
    );
    assert_eq!(
        get(&format!(
            "mcp_gateway_invocations_total{}",
            call("api___status", "api")
        )),
        1.0
    );
    assert_eq!(
        get(&format!("mcp_gateway_invocations_total{}", call("", ""))),
        20.0
    );
    assert_eq!(
        get(r#"mcp_gateway_invocations_total{method="tools/list",tool="",target=""}"#),
        1.0
    );
    assert_eq!(
        get(r#"mcp_gateway_invocations_total{method="other",tool="",target=""}"#),
        1.0
    );
    assert_eq!(
        get(&format!(
            "mcp_gateway_user_errors_total{}",
            call("api___getItem", "api")
        )),
        1.0
    );
    assert_eq!(
        get(&format!("mcp_gateway_user_errors_total{}", call("", ""))),
        20.0
    );
    assert_eq!(
        get(&format!(
            "mcp_gateway_system_errors_total{}",
            call("down___getItem", "down")
        )),
        1.0
    );
    assert!(
        sample(
            &text,
            &format!(
                "mcp_gateway_system_errors_total{}",
                call("api___status", "api")
            )
        )
        .is_none(),
        "a backend's own error answer is the tool's result, not a system error:\n{text}"
    );
    for (tool, target, outcome, n) in [
        ("api___getItem", "api", "success", 3.0),
        ("api___getItem", "api", "client_error", 1.0),
        ("api___status", "api", "tool_error", 1.0),
        ("down___getItem", "down", "target_error", 1.0),
    ] {
        assert_eq!(
            get(&format!(
                r#"mcp_gateway_tool_calls_total{{tool="{tool}",target="{target}",outcome="{outcome}"}}"#
            )),
            n,
            "{tool} {outcome}"
        );
    }
    assert_eq!(
        get(
            r#"mcp_gateway_target_execution_time_seconds_count{tool="api___getItem",target="api"}"#
        ),
        4.0
    );
    assert_eq!(
        get(r#"mcp_gateway_latency_seconds_count{method="tools/call"}"#),
        26.0
    );
    assert!(get(r#"mcp_gateway_duration_seconds_count{method="POST"}"#) >= 27.0);
    assert_eq!(
        get(r#"mcp_gateway_target_status{target="api",status="READY"}"#),
        1.0
    );
    assert_eq!(get(r#"mcp_gateway_target_tools{target="down"}"#), 2.0);
    assert!(get("mcp_gateway_catalog_generation") >= 1.0);
    assert!(get("mcp_gateway_connections") >= 1.0);
    assert!(!text.contains("nope1"), "input never becomes a label");
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn disabled_metrics_are_not_served() {
    let backend = start_backend().await;
    let env = env(&[
        ("API_DOC", &doc(&backend.url())),
        ("DOWN_DOC", &doc("http://127.0.0.1:9")),
    ]);
    let gw = start_gateway(&config("false"), &env).await;
    call_tool(&gw.url(), "api___getItem", json!({"id": 7})).await;
    let (status, _, _) = scrape(&gw).await;
    assert_eq!(status, 404);
}
