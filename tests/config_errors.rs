//! Bad configuration: every problem is reported in one run with its path and what was
//! expected; unimplemented AgentCore fields are refused by name; the binary exits non-zero
//! and serves nothing.

mod common;

use std::process::Command;

use common::*;

const DOC: &str = r#"{"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9"}],
  "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "ok"}}}}}}"#;

async fn problems(yaml: &str) -> String {
    build(yaml, &env(&[("DOC", DOC), ("KEY", "k")]))
        .await
        .err()
        .expect("the config must be refused")
}

fn assert_has(all: &str, needles: &[&str]) {
    for n in needles {
        assert!(all.contains(n), "missing `{n}` in:\n{all}");
    }
}

#[tokio::test]
async fn every_problem_is_reported_with_its_path() {
    let all = problems(
        r#"
server: {listen: "not-an-address", limits: {toolsListPageSize: 0}, timeouts: {perTarget: {ghost: 3}}}
gateway:
  name: bad_name
  authorizerType: NONE
  exceptionLevel: VERBOSE
  protocolConfiguration: {mcp: {supportedVersions: ["2024-11-05"], sessionConfiguration: {sessionTimeoutInSeconds: 10}}}
credentialProviders:
  apiKeys: [{name: key1}]
targets:
  - name: my_target
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
  - name: t2
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
    credentialProviderConfigurations:
      - credentialProviderType: API_KEY
        credentialProvider: {apiKeyCredentialProvider: {providerArn: missing-provider}}
  - name: t2
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}", file: x.yaml}}}
  - name: t4
    targetConfiguration: {mcp: {apiGateway: {restApiId: abc, stage: dev, apiGatewayToolConfiguration: {toolFilters: [{filterPath: "pets", methods: [GOT]}]}}}}
  - name: t5
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
    descripton: typo
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "server.listen: must be an address:port",
            "server.limits.toolsListPageSize: must be greater than 0",
            "server.timeouts.perTarget.ghost: no target is named `ghost`",
            "gateway.exceptionLevel: unknown variant `VERBOSE`, expected `DEBUG`",
            "credentialProviders.apiKeys[0]: give exactly one of `apiKeyEnv` or `apiKeyFile`",
            "targets[0].name: `my_target` contains `_`",
            "targets[1].credentialProviderConfigurations[0].credentialProvider.apiKeyCredentialProvider.providerArn: no API key provider named `missing-provider`",
            "targets[2].name: duplicate target name `t2` (also targets[1])",
            "targets[2].targetConfiguration.mcp.openApiSchema: set only one of inlinePayload, file",
            "targets[3].targetConfiguration.mcp.apiGateway.apiGatewayToolConfiguration.toolFilters[0].methods[0]: unknown variant `GOT`",
            "targets[4]: unknown field `descripton`",
        ],
    );
    // The gateway section's enum error stops that section, so its other checks run once fixed;
    // a second pass shows them.
    let all = problems(
        r#"
gateway:
  name: bad_name
  authorizerType: NONE
  protocolConfiguration: {mcp: {supportedVersions: ["2024-11-05"], sessionConfiguration: {sessionTimeoutInSeconds: 10}}}
targets: []
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "gateway.name: `bad_name` must be 1-48 letters, digits and single hyphens",
            "gateway.protocolConfiguration.mcp.supportedVersions[0]: unknown MCP version `2024-11-05`",
            "sessionTimeoutInSeconds: must be between 900 and 28800",
        ],
    );
}

#[tokio::test]
async fn unimplemented_agentcore_fields_are_refused_by_name() {
    let all = problems(
        r#"
gateway:
  name: gw
  roleArn: arn:aws:iam::123456789012:role/r
  authorizerType: NONE
  kmsKeyArn: arn:aws:kms:us-east-1:1:key/k
  interceptorConfigurations: [{interceptor: {lambda: {arn: x}}, interceptionPoints: [REQUEST]}]
  policyEngineConfiguration: {arn: x, mode: ENFORCE}
  protocolConfiguration: {mcp: {searchType: SEMANTIC}}
targets:
  - name: l
    targetConfiguration: {mcp: {lambda: {lambdaArn: x, toolSchema: {inlinePayload: []}}}}
  - name: o
    targetConfiguration: {mcp: {openApiSchema: {s3: {uri: "s3://b/k"}}}}
  - name: h
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
    metadataConfiguration: {allowedRequestHeaders: [x-tenant]}
    credentialProviderConfigurations: [{credentialProviderType: OAUTH, credentialProvider: {oauthCredentialProvider: {providerArn: x, scopes: []}}}]
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "gateway.kmsKeyArn: is not supported yet",
            "gateway.interceptorConfigurations: is not supported yet",
            "gateway.policyEngineConfiguration: is not supported yet",
            "gateway.protocolConfiguration.mcp.searchType: is not supported yet",
            "targets[0].targetConfiguration.mcp.lambda.lambdaArn: `x` is not a Lambda function ARN",
            "targets[1].targetConfiguration.mcp.openApiSchema.s3.uri: `s3://b/k` must be an S3 URI",
            "targets[2].metadataConfiguration: is not supported yet",
            "targets[2].credentialProviderConfigurations[0].credentialProviderType: this credential provider type is not supported yet",
        ],
    );
    let jwt = problems(
        r#"
gateway:
  name: gw
  authorizerType: CUSTOM_JWT
  authorizerConfiguration:
    customJWTAuthorizer:
      discoveryUrl: http://idp.example.com/.well-known/openid-configuration
      allowedScopes: []
      customClaims:
        - {inboundTokenClaimName: groups, inboundTokenClaimValueType: STRING, authorizingClaimMatchValue: {claimMatchValue: {matchValueString: a}, claimMatchOperator: CONTAINS}}
      advertisedScopeMapping: {other: x}
      privateEndpoint: {}
iamCallers: [{accessKeyId: AKID, secretAccessKeyEnv: KEY, principalArn: "arn:aws:iam::1:role/r"}]
"#,
    )
    .await;
    let jwt_path = "gateway.authorizerConfiguration.customJWTAuthorizer";
    assert_has(
        &jwt,
        &[
            &format!("{jwt_path}.discoveryUrl: must be an https URL"),
            &format!("{jwt_path}.allowedScopes: must list at least one value"),
            &format!(
                "{jwt_path}.customClaims[0].authorizingClaimMatchValue: String with Contains is not a valid rule"
            ),
            &format!("{jwt_path}.advertisedScopeMapping.other: `other` is not in allowedScopes"),
            &format!("{jwt_path}.privateEndpoint: is not supported yet"),
            "iamCallers: only applies to authorizerType AWS_IAM",
        ],
    );
    let iam = problems("gateway: {name: gw, authorizerType: AWS_IAM}\niamCallers: [{accessKeyId: AK, principalArn: role}]\n").await;
    assert_has(
        &iam,
        &[
            "iamCallers[0]: give exactly one of `secretAccessKeyEnv` or `secretAccessKeyFile`",
            "iamCallers[0].principalArn: must be an ARN",
            "gateway.region: AWS_IAM needs the gateway's region",
        ],
    );
}

#[tokio::test]
async fn aws_target_problems_are_located() {
    let all = problems(
        r#"
gateway: {name: gw, authorizerType: NONE, region: us-east-1}
targets:
  - name: fn
    targetConfiguration: {mcp: {lambda: {
      lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:weather",
      toolSchema: {inlinePayload: [
        {name: get_weather, description: d, inputSchema: {type: object, properties: {
           city: {type: string, format: email}, when: {type: date}}, required: [city, day]}},
        {name: get_weather, description: "", inputSchema: {type: array}}]}}}}
  - name: fn2
    targetConfiguration: {mcp: {lambda: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:w",
      toolSchema: {inlinePayload: []}}}}
    credentialProviderConfigurations: [{credentialProviderType: API_KEY,
      credentialProvider: {apiKeyCredentialProvider: {providerArn: k}}}]
  - name: sm
    targetConfiguration: {mcp: {smithyModel: {inlinePayload: '{"smithy": "2.0", "shapes": {"ex#S": {"type": "service", "traits": {"aws.protocols#restXml": {}}}}}'}}}
  - name: sm2
    targetConfiguration: {mcp: {smithyModel: {s3: {uri: "s3://ok-bucket/m.json", bucketOwnerAccountId: "12"}}}}
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "targets[0].targetConfiguration.mcp.lambda.toolSchema.inlinePayload[0].inputSchema.properties.city.format: is not allowed",
            "targets[0].targetConfiguration.mcp.lambda.toolSchema.inlinePayload[0].inputSchema.properties.when.type: is required: one of string",
            "targets[0].targetConfiguration.mcp.lambda.toolSchema.inlinePayload[0].inputSchema.required: names `day`",
            "targets[0].targetConfiguration.mcp.lambda.toolSchema.inlinePayload[1].name: `get_weather` is defined twice",
            "targets[0].targetConfiguration.mcp.lambda.toolSchema.inlinePayload[1].description: is required",
            "targets[0].targetConfiguration.mcp.lambda.toolSchema.inlinePayload[1].inputSchema.type: is `array`",
            "targets[1].credentialProviderConfigurations[0].credentialProviderType: Lambda targets are invoked with GATEWAY_IAM_ROLE",
            "targets[2].targetConfiguration.mcp.smithyModel.inlinePayload: the Smithy model defines service ex#S with protocol aws.protocols#restXml, which mcp-gateway does not serve",
            "targets[3].targetConfiguration.mcp.smithyModel.s3.bucketOwnerAccountId: must be a 12-digit AWS account id",
        ],
    );
}

#[tokio::test]
async fn environment_and_documents_are_checked() {
    let all = problems(
        r#"
gateway: {name: gw, authorizerType: NONE, description: "${UNSET_VARIABLE}"}
targets:
  - name: a
    targetConfiguration: {mcp: {openApiSchema: {file: does-not-exist.yaml}}}
  - name: b
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: '{"swagger": "1.2"}'}}}
  - name: c
    targetConfiguration: {mcp: {apiGateway: {restApiId: abc, stage: dev, apiGatewayToolConfiguration: {toolFilters: [{filterPath: /a, methods: [GET]}]}}}}
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "gateway.description: environment variable `UNSET_VARIABLE` is not set",
            "targets[0].targetConfiguration.mcp.openApiSchema.file: cannot read",
            "targets[1].targetConfiguration.mcp.openApiSchema.inlinePayload: the OpenAPI document cannot be used: Swagger version `1.2` is not supported; expected 2.0",
            "targets[2].targetConfiguration.mcp.apiGateway: needs an AWS region",
        ],
    );
}

#[test]
fn the_binary_exits_non_zero_and_names_the_problem() {
    let dir = std::env::temp_dir().join(format!("mcp-gw-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(&file, "gateway: {name: gw, authorizerType: NONE}\ntargets: [{name: a_b, targetConfiguration: {mcp: {}}}]\n").unwrap();
    for cmd in ["validate", "serve"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args([cmd, "--config", file.to_str().unwrap()])
            .env_remove("MCP_GATEWAY_CONFIG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("targets[0].name: `a_b` contains `_`"),
            "{cmd}: {stderr}"
        );
        assert!(
            stderr.contains("targets[0].targetConfiguration.mcp: set one of"),
            "{cmd}: {stderr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args([
            "validate",
            "--config",
            dir.join("missing.yaml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn shipped_configs_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let vars = env(&[("PETSTORE_API_KEY", "k")]);
    for file in [
        "config/gateway.yaml",
        "examples/petstore/gateway.yaml",
        "examples/aws/gateway.yaml",
    ] {
        let (config, problems) =
            mcp_gateway::config::load_file_partial(&root.join(file), &vars).unwrap();
        assert!(problems.is_empty(), "{file}: {problems}");
        assert_eq!(config.unwrap().targets.len(), 2, "{file}");
    }
}

#[tokio::test]
async fn api_keys_come_from_files_too() {
    let backend = start_backend().await;
    let doc = format!(
        r#"{{"openapi": "3.1.0", "info": {{"title": "t", "version": "1"}}, "servers": [{{"url": "{}"}}], "paths": {{"/x": {{"get": {{"operationId": "x"}}}}}}}}"#,
        backend.url()
    );
    let yaml = r#"
gateway: {name: gw, authorizerType: NONE}
credentialProviders: {apiKeys: [{name: filekey, apiKeyFile: api-key.txt}]}
targets:
  - name: t
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
    credentialProviderConfigurations:
      - {credentialProviderType: API_KEY, credentialProvider: {apiKeyCredentialProvider: {providerArn: filekey, credentialParameterName: X-Key}}}
"#;
    let gw = start_gateway(yaml, &env(&[("DOC", &doc)])).await;
    call_tool(&gw.url(), "t___x", serde_json::json!({})).await;
    assert_eq!(
        backend.last().header("x-key"),
        Some("key-from-file"),
        "trailing newline trimmed, no prefix"
    );
}

#[test]
fn an_open_gateway_beyond_loopback_warns_at_start() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("mcp-gw-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("open.yaml");
    std::fs::write(
        &file,
        "gateway: {name: gw, authorizerType: NONE}\ntargets: []\n",
    )
    .unwrap();
    let run = |listen: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args([
                "serve",
                "--listen",
                listen,
                "--config",
                file.to_str().unwrap(),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            let done = line.contains("listening on");
            lines.push(line);
            if done {
                break;
            }
        }
        child.kill().ok();
        child.wait().ok();
        lines.join("\n")
    };
    let open = run("0.0.0.0:0");
    assert!(
        open.contains("authorizerType is NONE and the gateway listens beyond loopback"),
        "{open}"
    );
    let local = run("127.0.0.1:0");
    assert!(!local.contains("beyond loopback"), "{local}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A document without `servers` (or with a relative one) is not a gateway that serves zero
/// tools: it is refused, naming the target and saying why; `serverUrl` makes it usable.
#[tokio::test]
async fn a_target_without_tools_is_refused_and_server_url_fixes_it() {
    let no_servers = r#"{"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
      "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "ok"}}}}}}"#;
    let relative = no_servers.replace(r#""info""#, r#""servers": [{"url": "/v1"}], "info""#);
    let vars = env(&[("NOSERVERS", no_servers), ("RELATIVE", &relative)]);
    let yaml = |server_url: &str| {
        format!(
            "gateway: {{name: gw, authorizerType: NONE}}\ntargets:\n  - name: a\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{NOSERVERS}}\"{server_url}}}}}}}\n  - name: b\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{RELATIVE}}\"{server_url}}}}}}}\n"
        )
    };
    let all = build(&yaml(""), &vars).await.err().expect("refused");
    assert_has(
        &all,
        &[
            "targets[0].targetConfiguration.mcp.openApiSchema: the target has no tools",
            "no `servers` entry",
            "targets[1].targetConfiguration.mcp.openApiSchema: the target has no tools",
            "`/v1` is not an absolute http(s) URL",
            "set `serverUrl` on openApiSchema",
        ],
    );
    let all = build(&yaml(", serverUrl: /relative"), &vars)
        .await
        .err()
        .expect("refused");
    assert_has(
        &all,
        &[
            "targets[0].targetConfiguration.mcp.openApiSchema.serverUrl: must be an absolute http(s) URL",
        ],
    );

    let backend = start_backend().await;
    let gw = start_gateway(
        &yaml(&format!(", serverUrl: \"{}/base\"", backend.url())),
        &vars,
    )
    .await;
    let r = call_tool(&gw.url(), "a___a", serde_json::json!({})).await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(backend.last().target, "/base/a");
}

/// review S14: `{target}___{tool}` is checked against MCP's 128-character limit after
/// joining; an operation whose joined name is too long is left out, saying why.
#[tokio::test]
async fn joined_tool_names_are_length_checked() {
    let target = "t".repeat(90);
    let op = "o".repeat(50);
    let doc = format!(
        r#"{{"openapi": "3.1.0", "info": {{"title": "t", "version": "1"}}, "servers": [{{"url": "http://127.0.0.1:9"}}],
          "paths": {{"/a": {{"get": {{"operationId": "{op}"}}}}, "/b": {{"get": {{"operationId": "b"}}}}}}}}"#
    );
    let yaml = format!(
        "gateway: {{name: gw, authorizerType: NONE}}\ntargets:\n  - name: {target}\n    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: \"${{LONG}}\"}}}}}}\n"
    );
    let gw = build(&yaml, &env(&[("LONG", &doc)])).await.unwrap();
    assert_eq!(gw.catalog().len(), 1);
    let w = gw.warnings.join("\n");
    assert!(
        w.contains("is 143 characters long; MCP allows at most 128"),
        "{w}"
    );
}

/// review S4: a CUSTOM_JWT authorizer that checks neither audience nor client loads (it is
/// AgentCore's shape) but says what it admits.
#[tokio::test]
async fn a_jwt_authorizer_without_audience_or_clients_warns() {
    let yaml = r#"
gateway:
  name: gw
  authorizerType: CUSTOM_JWT
  authorizerConfiguration:
    customJWTAuthorizer: {discoveryUrl: "http://127.0.0.1:9/.well-known/openid-configuration"}
targets:
  - name: a
    targetConfiguration: {mcp: {openApiSchema: {inlinePayload: "${DOC}"}}}
"#;
    let gw = build(yaml, &env(&[("DOC", DOC)])).await.unwrap();
    assert!(
        gw.warnings
            .iter()
            .any(|w| w.contains("neither allowedAudience nor allowedClients")),
        "{:?}",
        gw.warnings
    );
}

#[tokio::test]
async fn rate_limits_are_agentcores_shapes_checked_where_they_are() {
    let all = problems(
        r#"
gateway: {name: gw, authorizerType: NONE}
rateLimits:
  - rateLimitId: per-user
    dimensionKeys: [$.context.jwt.sub, toolName]
    entries:
      - {dimensions: {$.context.jwt.sub: "*", toolName: t___x}, requests: [{rate: 5, period: minute}]}
      - {dimensions: {$.context.jwt.sub: "*"}, requests: [{rate: -1, period: second}]}
      - {dimensions: {sub: a}, requests: [{rate: 1, period: second}], tokens: [{rate: 1, period: second}]}
  - rateLimitId: per-user
    dimensionKeys: [$.context.request.header.x-tenant, qualifiedModelId, colour]
    entries: [{dimensions: {}, requests: [{rate: 1, period: hour}]}]
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "rateLimits[0].entries[0].dimensions: can never match",
            "rateLimits[0].entries[1].requests[0].rate: must be between 0 (blocks) and 10000000",
            "rateLimits[0].entries[2].tokens: is not supported yet",
            "rateLimits[0].entries[2].dimensions.sub: is not one of the limit's dimensionKeys",
            "rateLimits[1].entries[0].requests[0].period: unknown variant `hour`",
        ],
    );
    let all = problems(
        r#"
gateway: {name: gw, authorizerType: NONE}
rateLimits:
  - rateLimitId: per-user
    dimensionKeys: [$.context.jwt.sub]
    entries: [{dimensions: {$.context.jwt.sub: "*"}, requests: [{rate: 1, period: second}]}]
  - rateLimitId: per-user
    dimensionKeys: [$.context.request.header.x-tenant, qualifiedModelId, colour]
    entries: [{dimensions: {}, requests: [{rate: 1, period: second}]}]
"#,
    )
    .await;
    assert_has(
        &all,
        &[
            "rateLimits[1].rateLimitId: `per-user` is used twice",
            "rateLimits[1].dimensionKeys[1]: `qualifiedModelId` is not supported yet",
            "rateLimits[1].dimensionKeys[2]: `colour` is not a dimension key",
            "rateLimits[1].dimensionKeys: a `$.context.request.header.*` or `$.context.request.body.*` key needs a trusted identity key",
        ],
    );
}
