//! AWS-native targets under load: a Lambda call (`Invoke`, with AgentCore's client context)
//! and a Smithy call (DynamoDB's published model, `awsJson1_0` `GetItem`), each measured
//! against the same POST straight to the backend, beside an OpenAPI POST with SigV4 through
//! the same gateway (the yardstick: the AWS kinds should cost the gateway about as much CPU
//! per call), in interleaved rounds whose median is reported. Also the start-up cost of the
//! 1.1 MB DynamoDB model.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{Args, Load, Row, call, launch_with, mcp, session};

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:pets";

fn config(dir: &Path, with_model: bool) -> std::path::PathBuf {
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/smithy/dynamodb-2012-08-10.json");
    let ddb = format!(
        "  - name: ddb\n    targetConfiguration: {{mcp: {{smithyModel: {{file: {}}}}}}}\n    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]\n",
        model.display()
    );
    let yaml = format!(
        r#"
server: {{limits: {{maxConcurrentRequests: 4096}}}}
gateway: {{name: bench-aws, region: us-east-1, authorizerType: NONE}}
targets:
  - name: iam
    targetConfiguration: {{mcp: {{openApiSchema: {{file: api.json}}}}}}
    credentialProviderConfigurations:
      - {{credentialProviderType: GATEWAY_IAM_ROLE, credentialProvider: {{iamCredentialProvider: {{service: execute-api}}}}}}
  - name: fn
    targetConfiguration:
      mcp:
        lambda:
          lambdaArn: {FUNCTION}
          toolSchema:
            inlinePayload:
              - name: addPet
                description: Adds a pet
                inputSchema: {{type: object, properties: {{type: {{type: string}}, price: {{type: number}}}}, required: [type]}}
    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]
{}"#,
        if with_model { ddb.as_str() } else { "" }
    );
    let path = dir.join(if with_model {
        "aws.yaml"
    } else {
        "aws-small.yaml"
    });
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The rows, and lines about start-up.
pub async fn rows(
    args: &Args,
    dir: &Path,
    concurrencies: &[usize],
    backend: &str,
) -> (Vec<Row>, Vec<String>) {
    // `api.json` is the main benchmark's document, written by its first gateway.
    let env = [
        ("AWS_ENDPOINT_URL_LAMBDA", backend.to_string()),
        ("AWS_ENDPOINT_URL_DYNAMODB", format!("{backend}/ddb")),
    ];
    // Start-up with and without the model, three times each; the medians.
    let mut startups = [Vec::new(), Vec::new()];
    for _ in 0..3 {
        for (i, with_model) in [false, true].into_iter().enumerate() {
            let (gw, took) = launch_with(args, &config(dir, with_model), &env);
            startups[i].push(took);
            drop(gw);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (small, large) = (median(&mut startups[0]), median(&mut startups[1]));
    let lines = vec![format!(
        "Start-up to listening, median of 3: {:.0} ms without the DynamoDB model, {:.0} ms with it (1.1 MB, 57 tools): the model costs {:.0} ms.",
        small.as_secs_f64() * 1e3,
        large.as_secs_f64() * 1e3,
        (large.as_secs_f64() - small.as_secs_f64()) * 1e3
    )];

    let (gw, _) = launch_with(args, &config(dir, true), &env);
    let sid = session(&gw.url).await;
    let through = |tool: &str, args: serde_json::Value| {
        mcp(
            &gw.url,
            call(tool, args, false),
            "2025-06-18",
            Some(&sid),
            "tools/call",
            None,
        )
    };
    let pet = json!({"type": "cat", "price": 12.5});
    let get_item = json!({"TableName": "pets", "Key": {"id": {"S": "7"}}});
    let direct = |url: String, body: &serde_json::Value| Load {
        method: reqwest::Method::POST,
        url,
        headers: vec![("content-type", "application/json".into())],
        body: Some(body.to_string()),
    };
    let scenarios = [
        (
            "call POST JSON body, SigV4 (OpenAPI, the yardstick)",
            through("iam___addPet", pet.clone()),
            direct(format!("{backend}/dev/pets"), &pet),
        ),
        (
            "call Lambda Invoke, SigV4 + client context",
            through("fn___addPet", pet.clone()),
            direct(
                format!("{backend}/2015-03-31/functions/pets/invocations"),
                &pet,
            ),
        ),
        (
            "call Smithy awsJson1_0 (DynamoDB GetItem), SigV4",
            through("ddb___GetItem", get_item.clone()),
            direct(format!("{backend}/ddb"), &get_item),
        ),
    ];
    let rows = super::interleaved(&scenarios, concurrencies, args.seconds, gw.pid).await;
    (rows, lines)
}
