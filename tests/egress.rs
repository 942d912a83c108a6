//! The egress policy on every outbound connection: address literals are checked before
//! sending, names when they resolve (so a name pointing at a refused address is refused at
//! connect time), cloud metadata addresses are refused by default, and credentials do not
//! travel over plain http beyond loopback.

mod common;

use common::*;
use serde_json::json;

fn doc(server: &str) -> String {
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": server}],
        "paths": {"/x": {"get": {"operationId": "x", "responses": {"200": {"description": "ok"}}}}}})
    .to_string()
}

fn yaml(egress: &str, credentials: &str) -> String {
    format!(
        "server: {{egress: {{{egress}}}, timeouts: {{targetSeconds: 2}}}}\n\
         gateway: {{name: egress, authorizerType: NONE, exceptionLevel: DEBUG}}\n\
         credentialProviders:\n  apiKeys: [{{name: k, apiKeyEnv: KEY}}]\n\
         targets:\n  - name: t\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{DOC}}\"}}}}}}\n{credentials}"
    )
}

const API_KEY: &str = "    credentialProviderConfigurations:\n      - credentialProviderType: API_KEY\n        credentialProvider: {apiKeyCredentialProvider: {providerArn: k}}\n";

async fn refused(server: &str, egress: &str, needle: &str) {
    let gw = start_gateway(
        &yaml(egress, ""),
        &env(&[("DOC", &doc(server)), ("KEY", "v")]),
    )
    .await;
    let r = call_tool(&gw.url(), "t___x", json!({})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains(needle), "expected `{needle}` in {r}");
}

#[tokio::test]
async fn literal_and_resolved_addresses_are_checked() {
    let backend = start_backend().await;
    let port = backend.addr.unwrap().port();
    // Allowed by default: loopback.
    let gw = start_gateway(
        &yaml("", ""),
        &env(&[("DOC", &doc(&backend.url())), ("KEY", "v")]),
    )
    .await;
    assert_eq!(
        call_tool(&gw.url(), "t___x", json!({})).await["isError"],
        false
    );
    let before = backend.requests().len();
    // A literal in a denied network: refused before sending.
    refused(
        &backend.url(),
        "denyCidrs: [127.0.0.0/8]",
        "the egress policy refuses 127.0.0.1 (127.0.0.1): the address is in server.egress.denyCidrs",
    )
    .await;
    // A name that resolves into the denied network: refused at connect time.
    refused(
        &format!("http://localhost:{port}"),
        "denyCidrs: [127.0.0.0/8, '::1']",
        "the egress policy refuses localhost",
    )
    .await;
    // Outside the allow-list.
    refused(
        &backend.url(),
        "allowCidrs: [10.0.0.0/8]",
        "not in server.egress.allowCidrs",
    )
    .await;
    // Cloud metadata, by default.
    refused(
        "http://169.254.169.254/latest",
        "",
        "cloud metadata addresses are refused",
    )
    .await;
    assert_eq!(
        backend.requests().len(),
        before,
        "nothing refused reached the backend"
    );
}

#[tokio::test]
async fn credentials_over_plain_http_beyond_loopback_are_a_config_problem() {
    let e = build(
        &yaml("", API_KEY),
        &env(&[("DOC", &doc("http://api.example.com/v1")), ("KEY", "v")]),
    )
    .await
    .err()
    .expect("refused");
    assert!(
        e.contains("targets[0].credentialProviderConfigurations[0]")
            && e.contains("plain http to api.example.com"),
        "{e}"
    );
    // Allowed when the operator says so, and always to loopback or over https.
    for (server, egress) in [
        (
            "http://api.example.com/v1",
            "allowPlainHttpCredentials: true",
        ),
        ("http://127.0.0.1:9/v1", ""),
        ("https://api.example.com/v1", ""),
    ] {
        build(
            &yaml(egress, API_KEY),
            &env(&[("DOC", &doc(server)), ("KEY", "v")]),
        )
        .await
        .unwrap_or_else(|e| panic!("{server}: {e}"));
    }
}

#[tokio::test]
async fn a_bad_cidr_is_a_located_problem() {
    let e = build(
        &yaml("denyCidrs: [10.0.0.0/33]", ""),
        &env(&[("DOC", &doc("http://127.0.0.1:9")), ("KEY", "v")]),
    )
    .await
    .err()
    .expect("refused");
    assert!(e.contains("server.egress.denyCidrs[0]"), "{e}");
}
