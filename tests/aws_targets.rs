//! AWS-native targets in process, against the recording backend: a user's own Smithy service
//! (restJson1, the self-hosted `endpoint`, no credentials) and its error replies; a Lambda
//! invocation as it leaves the gateway (path, headers, client context, SigV4 for `lambda` in
//! the ARN's region); the published DynamoDB and Scheduler models imported whole. moto and
//! botocore drive the same kinds end to end in `tests/e2e/test_aws_targets.py`.

mod common;

use base64::Engine;
use common::*;
use serde_json::{Value, json};

const OWN_MODEL: &str = r##"{"smithy": "2.0", "shapes": {
  "example.notes#Notes": {"type": "service", "version": "2024-01-01",
     "operations": [{"target": "example.notes#GetNote"}, {"target": "example.notes#Fail"}],
     "traits": {"aws.protocols#restJson1": {}}},
  "example.notes#GetNote": {"type": "operation",
     "input": {"target": "example.notes#GetNoteInput"},
     "traits": {"smithy.api#readonly": {}, "smithy.api#http": {"method": "GET", "uri": "/notes/{id}"},
                "smithy.api#documentation": "<p>Reads <b>one</b> note.</p>"}},
  "example.notes#GetNoteInput": {"type": "structure", "members": {
     "id": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}},
     "since": {"target": "smithy.api#Timestamp", "traits": {"smithy.api#httpQuery": "since"}}}},
  "example.notes#Fail": {"type": "operation",
     "input": {"target": "example.notes#FailInput"},
     "traits": {"smithy.api#http": {"method": "POST", "uri": "/status/{code}"}}},
  "example.notes#FailInput": {"type": "structure", "members": {
     "code": {"target": "smithy.api#Integer", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}}}}
}}"##;

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[tokio::test]
async fn a_users_own_smithy_service_is_called_at_its_endpoint() {
    let backend = start_backend().await;
    let yaml = format!(
        "gateway: {{name: gw, authorizerType: NONE}}\n\
         targets:\n\
         \x20 - name: notes\n\
         \x20   targetConfiguration: {{mcp: {{smithyModel: {{inlinePayload: {}, endpoint: \"{}/v1\"}}}}}}\n",
        yaml_string(OWN_MODEL),
        backend.url()
    );
    let gw = start_gateway(&yaml, &env(&[])).await;
    let list = rpc(&gw.url(), "tools/list", json!({})).await;
    let tools = list.result()["tools"].as_array().unwrap().clone();
    let get = tools
        .iter()
        .find(|t| t["name"] == "notes___GetNote")
        .unwrap();
    assert_eq!(get["description"], "Reads one note.");
    assert_eq!(get["annotations"]["readOnlyHint"], true);
    assert_eq!(get["inputSchema"]["required"], json!(["id"]));

    let r = call_tool(
        &gw.url(),
        "notes___GetNote",
        json!({"id": "a/b", "since": "2024-01-31T12:00:00Z"}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.target,
        "/v1/notes/a%2Fb?since=2024-01-31T12%3A00%3A00Z"
    );
    assert!(
        seen.header("authorization").is_none(),
        "no credentials configured"
    );

    // A modelled refusal is a result naming the error; a 503 is a retryable failure.
    let r = call_tool(&gw.url(), "notes___Fail", json!({"code": 404})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text(&r), "Notes answered NotFound (HTTP 404): status 404");
    let r = call_tool(&gw.url(), "notes___Fail", json!({"code": 503})).await;
    assert_eq!(r["isError"], true);
    assert!(
        text(&r).contains("ServiceUnavailable (HTTP 503): status 503")
            && text(&r).contains("may succeed if retried later"),
        "{r}"
    );
}

#[tokio::test]
async fn a_lambda_invocation_leaves_as_lambda_expects_it() {
    let backend = start_backend().await;
    let yaml = "gateway: {name: my-gateway, authorizerType: NONE, region: us-east-1}\n\
         targets:\n\
         \x20 - name: fn\n\
         \x20   targetConfiguration: {mcp: {lambda: {lambdaArn: 'arn:aws:lambda:eu-west-1:123456789012:function:weather:live',\n\
         \x20     toolSchema: {inlinePayload: [{name: get_weather, description: d, inputSchema: {type: object, properties: {city: {type: string}}}}]}}}}\n";
    let gw = start_gateway(
        yaml,
        &env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA"),
            ("AWS_SECRET_ACCESS_KEY", "lambda-secret"),
            ("AWS_ENDPOINT_URL_LAMBDA", &backend.url()),
        ]),
    )
    .await;
    let r = call_tool(&gw.url(), "fn___get_weather", json!({"city": "Oslo"})).await;
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.target,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aweather%3Alive/invocations"
    );
    assert_eq!(
        seen.json(),
        json!({"city": "Oslo"}),
        "the event is the arguments"
    );
    assert_eq!(
        seen.header("x-amz-invocation-type"),
        Some("RequestResponse")
    );
    let auth = seen.header("authorization").unwrap();
    assert!(auth.contains("/eu-west-1/lambda/aws4_request"), "{auth}");
    let host = seen.header("host").unwrap().to_string();
    sigv4_ok(&seen, &host, "lambda", "AKIDLAMBDA", "lambda-secret").unwrap();
    let context: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(seen.header("x-amz-client-context").unwrap())
            .unwrap(),
    )
    .unwrap();
    let custom = &context["custom"];
    assert_eq!(custom["bedrockAgentCoreToolName"], "fn___get_weather");
    assert_eq!(custom["bedrockAgentCoreGatewayId"], "my-gateway");
    assert_eq!(custom["bedrockAgentCoreTargetId"], "fn");
    assert_eq!(
        custom["bedrockAgentCoreMcpMessageId"], "7",
        "the JSON-RPC id"
    );
    assert_eq!(custom["bedrockAgentCoreMessageVersion"], "1.0");
    // No outputSchema: the payload is the text only.
    assert!(r.get("structuredContent").is_none(), "{r}");
}

#[tokio::test]
async fn published_aws_models_import_whole() {
    let yaml = "gateway: {name: gw, authorizerType: NONE, region: us-east-1}\n\
         targets:\n\
         \x20 - name: ddb\n\
         \x20   targetConfiguration: {mcp: {smithyModel: {file: smithy/dynamodb-2012-08-10.json}}}\n\
         \x20   credentialProviderConfigurations: [{credentialProviderType: GATEWAY_IAM_ROLE}]\n\
         \x20 - name: sched\n\
         \x20   targetConfiguration: {mcp: {smithyModel: {file: smithy/scheduler-2021-06-30.json}}}\n\
         \x20   credentialProviderConfigurations: [{credentialProviderType: GATEWAY_IAM_ROLE}]\n";
    let gw = start_gateway(
        yaml,
        &env(&[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")]),
    )
    .await;
    assert!(gw.gateway_warnings.is_empty(), "{:?}", gw.gateway_warnings);
    let list = rpc(&gw.url(), "tools/list", json!({})).await;
    let names = tool_names(&list);
    let ddb = names.iter().filter(|n| n.starts_with("ddb___")).count();
    let sched = names.iter().filter(|n| n.starts_with("sched___")).count();
    assert_eq!((ddb, sched), (57, 12), "{names:?}");
    // Every schema compiles, and DynamoDB's recursive AttributeValue is one definition.
    for t in list.result()["tools"].as_array().unwrap() {
        jsonschema::draft202012::new(&t["inputSchema"])
            .unwrap_or_else(|e| panic!("{}: {e}", t["name"]));
    }
}
