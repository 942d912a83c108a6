//! `tools/call` end to end against a real backend: request building (path encoding, query
//! styles, declared headers only, JSON body), argument validation, result mapping, failures,
//! and outbound credentials (API key in header or query, SigV4).

mod common;

use common::*;
use serde_json::{Value, json};

fn echo_doc(base: &str) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "echo", "version": "1"},
        "servers": [{"url": "{base}/api", "variables": {"base": {"default": base}}}],
        "paths": {
            "/items/{id}": {
                "get": {"operationId": "getItem", "description": "Get one item.", "responses": {"200": {"description": "ok"}},
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                        {"name": "Content-Length", "in": "header", "schema": {"type": "string"}},
                        {"name": "Host", "in": "header", "schema": {"type": "string"}},
                        {"name": "X-Amz-Security-Token", "in": "header", "schema": {"type": "string"}}]},
                "delete": {"operationId": "deleteItem", "responses": {"204": {"description": "gone"}},
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]}
            },
            "/items": {
                "post": {"operationId": "createItem", "summary": "Create an item.", "responses": {"200": {"description": "ok"}},
                    "parameters": [{"name": "dryRun", "in": "query", "schema": {"type": "boolean"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["name"],
                        "properties": {"name": {"type": "string"}, "size": {"type": "integer", "nullable": true}}}}}}}
            },
            "/tree": {
                "post": {"operationId": "tree", "responses": {"200": {"description": "ok"}},
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}
            },
            "/status/{code}": {"get": {"operationId": "status", "responses": {"200": {"description": "ok"}},
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "integer"}}]}},
            "/slow": {"get": {"operationId": "slow", "responses": {"200": {"description": "ok"}}}},
            "/big": {"get": {"operationId": "big", "responses": {"200": {"description": "ok"}}}},
            "/binary": {"get": {"operationId": "binary", "responses": {"200": {"description": "ok"}}}},
            "/array": {"get": {"operationId": "array", "responses": {"200": {"description": "ok"}}}},
            "/noid": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/cookie": {"get": {"operationId": "withCookie", "responses": {"200": {"description": "ok"}},
                "parameters": [{"name": "session", "in": "cookie", "required": true, "schema": {"type": "string"}}]}}
        },
        "components": {"schemas": {"Node": {"type": "object", "properties": {
            "label": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}
    })
}

fn config(extra_gateway: &str, credentials: &str) -> String {
    format!(
        r#"
server:
  limits: {{maxResponseBodyBytes: 1048576}}
  timeouts: {{perTarget: {{echo: 1}}}}
gateway:
  name: test-gw
  authorizerType: NONE
  region: us-east-1
{extra_gateway}
credentialProviders:
  apiKeys:
    - {{name: echo-key, apiKeyEnv: ECHO_KEY}}
targets:
  - name: echo
    targetConfiguration:
      mcp:
        openApiSchema:
          inlinePayload: ${{ECHO_DOC}}
{credentials}
"#
    )
}

async fn setup(extra_gateway: &str, credentials: &str) -> (Backend, TestGateway) {
    let backend = start_backend().await;
    let doc = echo_doc(&backend.url()).to_string();
    let env = env(&[
        ("ECHO_DOC", &doc),
        ("ECHO_KEY", "s3cr3t-key"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-test"),
    ]);
    let gw = start_gateway(&config(extra_gateway, credentials), &env).await;
    (backend, gw)
}

#[tokio::test]
async fn requests_are_built_safely_from_arguments() {
    let (backend, gw) = setup("", "").await;
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": "../../admin?x=1", "tags": ["a", "b c"], "limit": 5, "X-Trace": "t-1", "unknown": "ignored"}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.target,
        "/api/items/..%2F..%2Fadmin%3Fx%3D1?tags=a&tags=b%20c&limit=5"
    );
    assert_eq!(seen.header("x-trace"), Some("t-1"));
    assert_eq!(seen.header("unknown"), None);
    // The echo is a JSON object: structuredContent mirrors it.
    assert_eq!(r["structuredContent"]["target"], seen.target);

    for bad in ["..", "."] {
        let r = call_tool(&gw.url(), "echo___getItem", json!({"id": bad})).await;
        assert_eq!(r["isError"], true);
        assert!(text(&r).contains("argument `id`"), "{r}");
    }
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": "1", "X-Trace": "a\r\nX-Evil: 1"}),
    )
    .await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("argument `X-Trace`"), "{r}");
    assert_eq!(
        backend.requests().len(),
        1,
        "refused calls must not reach the backend"
    );
}

#[tokio::test]
async fn json_bodies_are_assembled_from_flat_arguments() {
    let (backend, gw) = setup("", "").await;
    let r = call_tool(
        &gw.url(),
        "echo___createItem",
        json!({"name": "box", "size": null, "dryRun": true}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/api/items?dryRun=true");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.json(), json!({"name": "box", "size": null}));

    let tree = json!({"label": "root", "children": [{"label": "leaf", "children": []}]});
    let r = call_tool(&gw.url(), "echo___tree", tree.clone()).await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(backend.last().json(), tree);
}

#[tokio::test]
async fn invalid_arguments_are_tool_errors_naming_each_argument() {
    let (backend, gw) = setup("", "").await;
    let r = call_tool(&gw.url(), "echo___createItem", json!({"size": "big"})).await;
    assert_eq!(r["isError"], true);
    let t = text(&r);
    assert!(t.contains("argument `name`: is required"), "{t}");
    assert!(t.contains("argument `size`"), "{t}");
    let r = call_tool(&gw.url(), "echo___getItem", json!({"id": "1", "limit": 0})).await;
    assert!(text(&r).contains("argument `limit`"), "{r}");
    assert!(backend.requests().is_empty());
}

#[tokio::test]
async fn backend_statuses_and_bodies_map_to_results() {
    let (_backend, gw) = setup("", "").await;
    let r = call_tool(&gw.url(), "echo___status", json!({"code": 404})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text(&r), r#"HTTP 404 Not Found: {"message":"status 404"}"#);
    let r = call_tool(&gw.url(), "echo___status", json!({"code": 503})).await;
    assert!(text(&r).starts_with("HTTP 503 Service Unavailable"), "{r}");
    let r = call_tool(&gw.url(), "echo___array", json!({})).await;
    assert_eq!(r["isError"], false);
    assert_eq!(text(&r), "[1,2]");
    assert!(
        r.get("structuredContent").is_none(),
        "arrays are not structuredContent"
    );
    let r = call_tool(&gw.url(), "echo___binary", json!({})).await;
    assert_eq!(r["content"][0]["type"], "resource");
    assert_eq!(r["content"][0]["resource"]["mimeType"], "image/png");
    let r = call_tool(&gw.url(), "echo___deleteItem", json!({"id": "3"})).await;
    assert_eq!(r["isError"], false);
}

#[tokio::test]
async fn timeouts_and_oversized_bodies_are_generic_errors() {
    let (_backend, gw) = setup("", "").await;
    let started = tokio::time::Instant::now();
    let r = call_tool(&gw.url(), "echo___slow", json!({})).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the per-target timeout (1 s) applies"
    );
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("did not answer in time"), "{r}");
    let r = call_tool(&gw.url(), "echo___big", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(
        !text(&r).contains("1048576"),
        "no detail without DEBUG: {r}"
    );
}

#[tokio::test]
async fn unreachable_target_detail_only_with_debug() {
    let backend = start_backend().await;
    // A port that was just free: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let doc = echo_doc(&format!("http://{closed}")).to_string();
    let vars = env(&[("ECHO_DOC", &doc), ("ECHO_KEY", "k")]);
    let gw = start_gateway(&config("", ""), &vars).await;
    let r = call_tool(&gw.url(), "echo___array", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(!r.to_string().contains(&closed.port().to_string()), "{r}");
    assert!(r.get("_meta").is_none());

    let gw = start_gateway(&config("  exceptionLevel: DEBUG", ""), &vars).await;
    let r = call_tool(&gw.url(), "echo___array", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("connect"), "{r}");
    assert!(
        r["_meta"]["debug"]["text"]
            .as_str()
            .unwrap()
            .contains("connect"),
        "{r}"
    );
    drop(backend);
}

#[tokio::test]
async fn api_key_defaults_to_bearer_authorization_header() {
    let creds = r#"    credentialProviderConfigurations:
      - credentialProviderType: API_KEY
        credentialProvider:
          apiKeyCredentialProvider: {providerArn: "arn:aws:bedrock-agentcore:us-east-1:1:token-vault/default/apikeycredentialprovider/echo-key"}"#;
    let (backend, gw) = setup("", creds).await;
    call_tool(&gw.url(), "echo___array", json!({})).await;
    assert_eq!(
        backend.last().header("authorization"),
        Some("Bearer s3cr3t-key")
    );
}

#[tokio::test]
async fn api_key_in_query_parameter_with_prefix() {
    let creds = r#"    credentialProviderConfigurations:
      - credentialProviderType: API_KEY
        credentialProvider:
          apiKeyCredentialProvider: {providerArn: echo-key, credentialLocation: QUERY_PARAMETER, credentialPrefix: "k-"}"#;
    let (backend, gw) = setup("", creds).await;
    call_tool(&gw.url(), "echo___getItem", json!({"id": "1", "limit": 2})).await;
    let seen = backend.last();
    assert_eq!(seen.target, "/api/items/1?limit=2&api_key=k-s3cr3t-key");
    assert_eq!(seen.header("authorization"), None);
    // A same-named argument cannot replace or duplicate the credential, and the backend's
    // echo of the key does not reach the client.
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": "1", "tags": ["a b"]}),
    )
    .await;
    assert_eq!(
        backend.last().target,
        "/api/items/1?tags=a%20b&api_key=k-s3cr3t-key"
    );
    assert!(!r.to_string().contains("s3cr3t-key"), "{r}");
    assert!(text(&r).contains("api_key=k-[REDACTED]"), "{r}");
    assert!(
        r["structuredContent"]["target"]
            .as_str()
            .unwrap()
            .contains("[REDACTED]")
    );
}

#[tokio::test]
async fn numbers_and_booleans_for_string_parameters_are_sent_as_text() {
    // MCP Inspector's CLI sends `--tool-arg id=3` as the number 3.
    let (backend, gw) = setup("", "").await;
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": 3, "X-Trace": true}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    assert_eq!(seen.target, "/api/items/3");
    assert_eq!(seen.header("x-trace"), Some("true"));
    // Not for parameters that are not strings, and not for objects.
    let r = call_tool(&gw.url(), "echo___getItem", json!({"id": {"a": 1}})).await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("argument `id`"), "{r}");
    let r = call_tool(&gw.url(), "echo___createItem", json!({"name": 5})).await;
    assert_eq!(
        r["isError"], true,
        "body properties keep their JSON types: {r}"
    );
}

#[tokio::test]
async fn framing_routing_and_credential_headers_are_not_arguments() {
    let (backend, gw) = setup("", "").await;
    let w = gw.gateway_warnings.join("\n");
    for h in ["Content-Length", "Host", "X-Amz-Security-Token"] {
        assert!(
            w.contains(&format!("header parameter `{h}` is not exposed")),
            "{h}: {w}"
        );
    }
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": "1", "Content-Length": "21", "Host": "evil.example.com", "X-Amz-Security-Token": "forged"}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    assert_eq!(seen.header("content-length"), None);
    assert_eq!(
        seen.header("host"),
        Some(backend.addr.unwrap().to_string().as_str())
    );
    assert_eq!(seen.header("x-amz-security-token"), None);
    // The pooled connection is still in step: the next call gets its own answer.
    let r = call_tool(&gw.url(), "echo___getItem", json!({"id": "2"})).await;
    assert_eq!(r["structuredContent"]["target"], "/api/items/2");
}

#[tokio::test]
async fn non_ascii_header_values_and_overlong_urls_are_argument_errors() {
    let (backend, gw) = setup("", "").await;
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": "1", "X-Trace": "café"}),
    )
    .await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("argument `X-Trace`"), "{r}");
    let r = call_tool(
        &gw.url(),
        "echo___getItem",
        json!({"id": "p".repeat(100_000)}),
    )
    .await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("argument `id`: is too long"), "{r}");
    assert!(backend.requests().is_empty());
}

#[tokio::test]
async fn sigv4_signs_method_path_query_headers_and_body() {
    let creds = r#"    credentialProviderConfigurations:
      - credentialProviderType: GATEWAY_IAM_ROLE
        credentialProvider:
          iamCredentialProvider: {service: execute-api, region: eu-west-1}"#;
    let (backend, gw) = setup("", creds).await;
    let r = call_tool(
        &gw.url(),
        "echo___createItem",
        json!({"name": "n", "dryRun": false}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    let host = backend.addr.unwrap().to_string();
    sigv4_ok(&seen, &host, "execute-api", "AKIDTEST", "aws-secret-test").unwrap();
    assert!(
        seen.header("authorization")
            .unwrap()
            .contains("/eu-west-1/execute-api/aws4_request")
    );
    assert!(sigv4_ok(&seen, &host, "execute-api", "AKIDTEST", "wrong").is_err());
}

#[tokio::test]
async fn only_callable_operations_become_tools() {
    let (_backend, gw) = setup("", "").await;
    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    let names = tool_names(&r);
    assert_eq!(
        names,
        [
            "echo___array",
            "echo___big",
            "echo___binary",
            "echo___createItem",
            "echo___deleteItem",
            "echo___getItem",
            "echo___slow",
            "echo___status",
            "echo___tree"
        ]
    );
    let w = gw.gateway_warnings.join("\n");
    assert!(
        w.contains("GET /noid skipped: it has no operationId"),
        "{w}"
    );
    assert!(w.contains("required cookie parameter `session`"), "{w}");
}

#[tokio::test]
async fn tool_listing_has_flat_schemas_and_annotations() {
    let (_backend, gw) = setup("", "").await;
    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    let tools = r.result()["tools"].as_array().unwrap();
    let get = tools
        .iter()
        .find(|t| t["name"] == "echo___getItem")
        .unwrap();
    assert_eq!(get["description"], "Get one item.");
    assert_eq!(get["annotations"], json!({"readOnlyHint": true}));
    assert_eq!(get["inputSchema"]["required"], json!(["id"]));
    assert_eq!(
        get["inputSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["id", "tags", "limit", "X-Trace"]
    );
    let create = tools
        .iter()
        .find(|t| t["name"] == "echo___createItem")
        .unwrap();
    assert_eq!(create["description"], "Create an item.");
    assert_eq!(
        create["inputSchema"]["properties"]["size"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(create["inputSchema"]["required"], json!(["name"]));
    assert!(create.get("annotations").is_none());
    let del = tools
        .iter()
        .find(|t| t["name"] == "echo___deleteItem")
        .unwrap();
    assert_eq!(del["annotations"]["destructiveHint"], true);
    assert_eq!(
        del["description"], "deleteItem",
        "no description: the tool name, as AgentCore does"
    );
    let tree = tools.iter().find(|t| t["name"] == "echo___tree").unwrap();
    assert_eq!(
        tree["inputSchema"]["properties"]["children"]["items"],
        json!({"$ref": "#/$defs/Node"})
    );
    assert!(tree["inputSchema"]["$defs"]["Node"].is_object());
}
