//! API Gateway targets: the export fetched with a SigV4-signed GetExport (honouring the
//! endpoint override), AgentCore's filter and override rules, the stage invoke URL, and the
//! operations left out.

mod common;

use std::sync::Arc;

use parking_lot::Mutex;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use common::*;
use serde_json::{Value, json};

const EXPORT: &str = include_str!("../examples/petstore/petstore-export.json");

/// A fake API Gateway control plane that serves GetExport only to correctly signed requests.
async fn start_control_plane(export: String) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = (export, seen.clone());
    let app = Router::new()
        .fallback(|State((export, seen)): State<(String, Arc<Mutex<Vec<Seen>>>)>, req: Request| async move {
            let (parts, _) = req.into_parts();
            let s = Seen {
                method: parts.method.to_string(),
                target: parts.uri.path_and_query().unwrap().to_string(),
                headers: parts.headers.clone(),
                body: vec![],
            };
            let host = parts.headers["host"].to_str().unwrap().to_string();
            let verdict = sigv4_ok(&s, &host, "apigateway", "AKIDCTRL", "ctrl-secret");
            seen.lock().push(s.clone());
            if let Err(e) = verdict {
                return (http::StatusCode::FORBIDDEN, format!(r#"{{"message":"{e}"}}"#)).into_response();
            }
            if s.target != "/restapis/abc123defg/stages/dev/exports/oas30?extensions=apigateway" {
                return (http::StatusCode::NOT_FOUND, r#"{"message":"Invalid stage identifier specified"}"#).into_response();
            }
            ([(http::header::CONTENT_TYPE, "application/json")], export).into_response()
        })
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn target(name: &str, filters: &str, overrides: &str, extra: &str) -> String {
    format!(
        r#"
  - name: {name}
    targetConfiguration:
      mcp:
        apiGateway:
          restApiId: abc123defg
          stage: dev
{extra}
          apiGatewayToolConfiguration:
            toolFilters: {filters}
            toolOverrides: {overrides}
"#
    )
}

fn gateway(targets: &str) -> String {
    format!("gateway: {{name: apigw, authorizerType: NONE, region: us-west-2}}\ntargets:{targets}")
}

#[tokio::test]
async fn export_is_fetched_with_signed_get_export() {
    let (control, seen) = start_control_plane(EXPORT.to_string()).await;
    let backend = start_backend().await;
    let yaml = gateway(&target(
        "pets",
        "[{filterPath: /pets/*, methods: [GET, POST]}]",
        "[{name: ListPets, path: /pets, method: GET}]",
        &format!("          invokeUrl: {}/stage-dev", backend.url()),
    ));
    let vars = env(&[
        ("AWS_ENDPOINT_URL_API_GATEWAY", &control),
        ("AWS_ACCESS_KEY_ID", "AKIDCTRL"),
        ("AWS_SECRET_ACCESS_KEY", "ctrl-secret"),
    ]);
    let gw = start_gateway(&yaml, &vars).await;
    assert_eq!(seen.lock().len(), 1);
    assert_eq!(seen.lock()[0].header("accept"), Some("application/json"));

    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    let names = tool_names(&r);
    // `/pets/*` covers /pets and /pets/{petId}; methods GET and POST; the wildcard does not
    // reach /orders; GET /pets has no operationId and is named by its override.
    assert_eq!(
        names,
        ["pets___CreatePet", "pets___GetPet", "pets___ListPets"]
    );

    let r = call_tool(&gw.url(), "pets___GetPet", json!({"petId": "7"})).await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(backend.last().target, "/stage-dev/pets/7");
}

#[tokio::test]
async fn get_export_failures_are_reported_at_the_target() {
    let (control, _) = start_control_plane(EXPORT.to_string()).await;
    let yaml = gateway(&target(
        "pets",
        "[{filterPath: /pets, methods: [GET]}]",
        "[]",
        "",
    ));
    let wrong_secret = env(&[
        ("AWS_ENDPOINT_URL", &control),
        ("AWS_ACCESS_KEY_ID", "AKIDCTRL"),
        ("AWS_SECRET_ACCESS_KEY", "nope"),
    ]);
    let err = build(&yaml, &wrong_secret).await.err().unwrap();
    assert!(
        err.contains("targets[0].targetConfiguration.mcp.apiGateway: GetExport"),
        "{err}"
    );
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(
        !err.contains("nope"),
        "secrets never appear in errors: {err}"
    );
}

#[tokio::test]
async fn the_tutorial_targets_from_an_export_file() {
    let backend = start_backend().await;
    let yaml = format!(
        "{}{}",
        gateway(&target(
            "api-gateway-target-1",
            "[{filterPath: /pets, methods: [GET, POST]}, {filterPath: '/pets/{petId}', methods: [GET]}, {filterPath: /pets, methods: [GET]}]",
            "[{name: List_Pets, path: /pets, method: GET, description: Retrieves all the available Pets.}]",
            &format!(
                "          exportFile: ../../examples/petstore/petstore-export.json\n          invokeUrl: {}/dev",
                backend.url()
            ),
        )),
        target(
            "admin",
            "[{filterPath: /*, methods: [GET]}]",
            "[{name: ListPets, path: /pets, method: GET}]",
            &format!(
                "          exportFile: ../../examples/petstore/petstore-export.json\n          invokeUrl: {}/dev",
                backend.url()
            ),
        )
    );
    let gw = start_gateway(&yaml, &env(&[])).await;
    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    let tools = r.result()["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "admin___GetOrder",
            "admin___GetPet",
            "admin___ListPets",
            "api-gateway-target-1___CreatePet",
            "api-gateway-target-1___GetPet",
            "api-gateway-target-1___List_Pets"
        ],
        "duplicate filters merge; `/*` selects every GET"
    );
    let list = tools
        .iter()
        .find(|t| t["name"] == "api-gateway-target-1___List_Pets")
        .unwrap();
    assert_eq!(list["description"], "Retrieves all the available Pets.");
    assert_eq!(
        list["inputSchema"],
        json!({"type": "object", "properties": {"page": {"type": "string"}, "type": {"type": "string"}}})
    );
    let create = tools
        .iter()
        .find(|t| t["name"] == "api-gateway-target-1___CreatePet")
        .unwrap();
    assert_eq!(create["description"], "CreatePet");
    assert_eq!(
        create["inputSchema"]["properties"]["type"],
        json!({"type": "string", "enum": ["dog", "cat", "fish", "bird", "gecko"]})
    );
    assert_eq!(create["inputSchema"]["required"], json!(["type"]));
    let get = tools
        .iter()
        .find(|t| t["name"] == "admin___GetPet")
        .unwrap();
    assert_eq!(get["description"], "Get a pet by its id.");
}

#[tokio::test]
async fn proxy_resources_and_iam_plus_api_key_methods_are_left_out() {
    let mut export: Value = serde_json::from_str(EXPORT).unwrap();
    export["paths"]["/admin/{proxy+}"] = json!({"get": {"operationId": "Proxy", "responses": {},
        "parameters": [{"name": "proxy", "in": "path", "required": true, "schema": {"type": "string"}}]}});
    export["paths"]["/orders/{orderId}"]["get"]["security"] = json!([{"sigv4": [], "api_key": []}]);
    let (control, _) = start_control_plane(export.to_string()).await;
    let vars = env(&[
        ("AWS_ENDPOINT_URL", &control),
        ("AWS_ACCESS_KEY_ID", "AKIDCTRL"),
        ("AWS_SECRET_ACCESS_KEY", "ctrl-secret"),
    ]);
    let yaml = gateway(&target(
        "all",
        "[{filterPath: /*, methods: [GET]}]",
        "[{name: ListPets, path: /pets, method: GET}]",
        "",
    ));
    let gw = start_gateway(&yaml, &vars).await;
    let r = rpc(&gw.url(), "tools/list", json!({})).await;
    let names = tool_names(&r);
    assert_eq!(names, ["all___GetPet", "all___ListPets"]);
    let w = gw.gateway_warnings.join("\n");
    assert!(w.contains("GET /admin/{proxy+} left out"), "{w}");
    assert!(
        w.contains("GET /orders/{orderId} left out: it requires both IAM and an API key"),
        "{w}"
    );
}

#[tokio::test]
async fn filter_and_override_problems_name_their_paths() {
    let yaml = format!(
        "{}{}",
        gateway(&target(
            "a",
            "[{filterPath: /pets, methods: [GET, DELETE]}, {filterPath: /nothing/*, methods: [GET]}]",
            "[{name: X, path: '/pets/{petId}', method: GET}, {name: Y, path: /nope, method: GET}]",
            "          exportFile: ../../examples/petstore/petstore-export.json",
        )),
        target(
            "b",
            "[{filterPath: /pets, methods: [GET]}]",
            "[]",
            "          exportFile: ../../examples/petstore/petstore-export.json",
        )
    );
    let err = build(&yaml, &env(&[])).await.err().unwrap();
    let tc = "targets[0].targetConfiguration.mcp.apiGateway.apiGatewayToolConfiguration";
    for needle in [
        format!("{tc}.toolFilters[0].methods[1]: no operation DELETE /pets in the export"),
        format!("{tc}.toolFilters[1].filterPath: `/nothing/*` matches no operation"),
        format!("{tc}.toolOverrides[0]: GET /pets/{{petId}} is not selected by any toolFilters entry"),
        format!("{tc}.toolOverrides[1].path: no operation GET /nope in the export"),
        format!("{tc}.toolOverrides: operation GET /pets has no operationId"),
        "targets[1].targetConfiguration.mcp.apiGateway.apiGatewayToolConfiguration.toolOverrides: operation GET /pets has no operationId".to_string(),
    ] {
        assert!(err.contains(&needle), "missing `{needle}` in:\n{err}");
    }
}
