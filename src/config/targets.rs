//! Validation of `targets:`: AgentCore's target unions (OpenAPI, API Gateway, Smithy, Lambda,
//! MCP servers), their documents' sources (inline, file, S3), the API Gateway tool
//! configuration's static rules; each target's credentials are checked by
//! [`super::credentials`].

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::credentials::{Signing, credentials};
use super::model::*;
use super::rules::{NOT_YET, agentcore_name, check_description, is_region, one_of};
use super::{
    DocumentSource, LambdaSettings, McpServerSettings, Problems, S3Location, Secret, TargetKind,
    TargetSettings,
};

pub(super) fn target(
    spec: TargetSpec,
    path: String,
    timeout: Duration,
    region: Option<&str>,
    api_keys: &HashMap<String, Secret>,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<TargetSettings> {
    if spec.name.contains('_') {
        problems.push(
            format!("{path}.name"),
            format!("`{}` contains `_`: target names cannot, because tool names are `{{target}}___{{tool}}`", spec.name),
        );
    } else if !agentcore_name(&spec.name, 100) {
        problems.push(
            format!("{path}.name"),
            format!("`{}` must be 1-100 letters, digits and single hyphens, starting with a letter or digit", spec.name),
        );
    }
    check_description(
        spec.description.as_deref(),
        &format!("{path}.description"),
        problems,
    );
    if spec.metadata_configuration.is_some() {
        problems.push(format!("{path}.metadataConfiguration"), NOT_YET);
    }
    if spec.private_endpoint.is_some() {
        problems.push(format!("{path}.privateEndpoint"), NOT_YET);
    }
    let kind = target_kind(&spec.target_configuration, &path, base_dir, problems);
    let signing = match &kind {
        Some(TargetKind::ApiGateway { .. }) => {
            if region.is_none() {
                problems.push(
                    format!("{path}.targetConfiguration.mcp.apiGateway"),
                    "needs an AWS region: set `gateway.region`, AWS_REGION or AWS_DEFAULT_REGION",
                );
            }
            Signing::Fixed {
                kind: "apiGateway",
                service: "execute-api",
                region: region.map(str::to_string),
            }
        }
        Some(TargetKind::Lambda(l)) => Signing::Fixed {
            kind: "lambda",
            service: "lambda",
            region: Some(l.region.clone()),
        },
        Some(TargetKind::Smithy { .. }) => Signing::Model,
        _ => Signing::Declared,
    };
    let credentials = credentials(&spec, &path, &signing, region, api_keys, problems);
    Some(TargetSettings {
        name: spec.name,
        description: spec.description,
        path,
        kind: kind?,
        credentials: credentials?,
        timeout,
    })
}

fn target_kind(
    config: &TargetConfiguration,
    path: &str,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<TargetKind> {
    let path = format!("{path}.targetConfiguration");
    let top = one_of(
        &[
            ("mcp", config.mcp.is_some()),
            ("http", config.http.is_some()),
            ("inference", config.inference.is_some()),
        ],
        &path,
        problems,
    )?;
    if top != "mcp" {
        problems.push(format!("{path}.{top}"), NOT_YET);
        return None;
    }
    let mcp = config.mcp.as_ref()?;
    let path = format!("{path}.mcp");
    let member = one_of(
        &[
            ("openApiSchema", mcp.open_api_schema.is_some()),
            ("apiGateway", mcp.api_gateway.is_some()),
            ("smithyModel", mcp.smithy_model.is_some()),
            ("lambda", mcp.lambda.is_some()),
            ("mcpServer", mcp.mcp_server.is_some()),
            ("connector", mcp.connector.is_some()),
        ],
        &path,
        problems,
    )?;
    match member {
        "openApiSchema" => {
            let s = mcp.open_api_schema.as_ref()?;
            let path = format!("{path}.openApiSchema");
            let source = document_source(
                s.inline_payload
                    .as_ref()
                    .map(|t| DocumentSource::Inline(t.clone())),
                s.file.as_deref(),
                s.s3.as_ref(),
                &path,
                base_dir,
                problems,
            )?;
            if let Some(u) = &s.server_url
                && !is_http_url(u)
            {
                problems.push(
                    format!("{path}.serverUrl"),
                    "must be an absolute http(s) URL such as https://api.example.com/v1",
                );
                return None;
            }
            Some(TargetKind::OpenApi {
                source,
                server_url: s.server_url.clone(),
            })
        }
        "apiGateway" => api_gateway(
            mcp.api_gateway.as_ref()?,
            &format!("{path}.apiGateway"),
            base_dir,
            problems,
        ),
        "mcpServer" => mcp_server(
            mcp.mcp_server.as_ref()?,
            &format!("{path}.mcpServer"),
            base_dir,
            problems,
        ),
        "lambda" => lambda(
            mcp.lambda.as_ref()?,
            &format!("{path}.lambda"),
            base_dir,
            problems,
        ),
        "smithyModel" => {
            let s = mcp.smithy_model.as_ref()?;
            let path = format!("{path}.smithyModel");
            let endpoint = match &s.endpoint {
                None => None,
                Some(e) => match url::Url::parse(e) {
                    Ok(u) if is_http_url(e) && u.query().is_none() && u.fragment().is_none() => {
                        Some(u)
                    }
                    _ => {
                        problems.push(
                            format!("{path}.endpoint"),
                            "must be an absolute http(s) URL such as https://api.example.com, without query or fragment",
                        );
                        return None;
                    }
                },
            };
            let source = document_source(
                s.inline_payload
                    .as_ref()
                    .map(|t| DocumentSource::Inline(t.clone())),
                s.file.as_deref(),
                s.s3.as_ref(),
                &path,
                base_dir,
                problems,
            )?;
            Some(TargetKind::Smithy { source, endpoint })
        }
        other => {
            problems.push(
                format!("{path}.{other}"),
                format!("target type `{other}` {NOT_YET}"),
            );
            None
        }
    }
}

fn mcp_server(
    spec: &McpServerSpec,
    path: &str,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<TargetKind> {
    let mut ok = true;
    let endpoint = match url::Url::parse(&spec.endpoint) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https") && u.has_host() && u.fragment().is_none() =>
        {
            Some(u)
        }
        _ => {
            problems.push(
                format!("{path}.endpoint"),
                "must be an absolute http(s) URL of the server's MCP endpoint, such as https://mcp.example.com/mcp",
            );
            None
        }
    };
    let tool_schema = match &spec.mcp_tool_schema {
        None => None,
        Some(s) => {
            let source = document_source(
                s.inline_payload
                    .as_ref()
                    .map(|t| DocumentSource::Inline(t.clone())),
                s.file.as_deref(),
                s.s3.as_ref(),
                &format!("{path}.mcpToolSchema"),
                base_dir,
                problems,
            );
            ok &= source.is_some();
            source
        }
    };
    let resource_priority = match spec.resource_priority {
        None => 1000,
        Some(p @ 0..=1000) => p as u16,
        Some(_) => {
            problems.push(
                format!("{path}.resourcePriority"),
                "must be between 0 and 1000",
            );
            ok = false;
            1000
        }
    };
    let tc = spec
        .mcp_server_tool_configuration
        .clone()
        .unwrap_or_default();
    let tc_path = format!("{path}.mcpServerToolConfiguration");
    let filters = tc.tool_filters.map(|filters| {
        if filters.is_empty() {
            problems.push(
                format!("{tc_path}.toolFilters"),
                "must list at least one tool (filters are an allow-list; leave it out to serve every tool)",
            );
            ok = false;
        }
        filters
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let body = f.tool_name.strip_suffix('*').unwrap_or(&f.tool_name);
                if body.contains('*') || f.tool_name.is_empty() || f.tool_name.len() > 128 {
                    problems.push(
                        format!("{tc_path}.toolFilters[{i}].toolName"),
                        "must be a tool name, or a prefix followed by `*`",
                    );
                    ok = false;
                }
                f.tool_name
            })
            .collect()
    });
    let mut seen = std::collections::HashSet::new();
    for (i, o) in tc.tool_overrides.iter().enumerate() {
        let op = format!("{tc_path}.toolOverrides[{i}]");
        if !seen.insert(o.tool_name.as_str()) {
            problems.push(
                format!("{op}.toolName"),
                format!("`{}` is overridden twice", o.tool_name),
            );
            ok = false;
        }
        if let Some(n) = &o.name
            && !crate::common::names::valid_tool_name(n)
        {
            problems.push(
                format!("{op}.name"),
                "must be 1-128 letters, digits, `_`, `-` or `.`",
            );
            ok = false;
        }
        check_description(
            o.description.as_deref(),
            &format!("{op}.description"),
            problems,
        );
    }
    let endpoint = endpoint?;
    ok.then(|| {
        TargetKind::McpServer(McpServerSettings {
            endpoint,
            tool_schema,
            listing_mode: spec.listing_mode.unwrap_or_default(),
            resource_priority,
            filters,
            overrides: tc.tool_overrides,
        })
    })
}

/// An absolute `http` or `https` URL with a host.
fn is_http_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Exactly one of `inlinePayload`, `file` or `s3`, as a [`DocumentSource`].
fn document_source(
    inline: Option<DocumentSource>,
    file: Option<&str>,
    s3: Option<&S3Spec>,
    path: &str,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<DocumentSource> {
    let which = one_of(
        &[
            ("inlinePayload", inline.is_some()),
            ("file", file.is_some()),
            ("s3", s3.is_some()),
        ],
        path,
        problems,
    )?;
    match which {
        "inlinePayload" => inline,
        "file" => Some(DocumentSource::File(base_dir.join(file?))),
        _ => s3_location(s3?, &format!("{path}.s3"), problems).map(DocumentSource::S3),
    }
}

/// `s3: {uri: s3://bucket/key, bucketOwnerAccountId}`, checked.
fn s3_location(spec: &S3Spec, path: &str, problems: &mut Problems) -> Option<S3Location> {
    let parsed = spec
        .uri
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| valid_bucket(bucket) && !key.is_empty() && key.len() <= 1024);
    let Some((bucket, key)) = parsed else {
        problems.push(
            format!("{path}.uri"),
            format!(
                "`{}` must be an S3 URI such as s3://my-bucket/path/to/schema.json (a bucket name of 3-63 lower-case letters, digits, `.` or `-`, and a key)",
                spec.uri
            ),
        );
        return None;
    };
    if let Some(owner) = &spec.bucket_owner_account_id
        && !(owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
    {
        problems.push(
            format!("{path}.bucketOwnerAccountId"),
            "must be a 12-digit AWS account id",
        );
        return None;
    }
    Some(S3Location {
        bucket: bucket.to_string(),
        key: key.to_string(),
        owner: spec.bucket_owner_account_id.clone(),
    })
}

/// S3's bucket naming rules (the ones that matter for addressing).
fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.as_bytes()[0].is_ascii_alphanumeric()
        && b.as_bytes()[b.len() - 1].is_ascii_alphanumeric()
}

/// `lambda: {lambdaArn, toolSchema}`.
fn lambda(
    spec: &LambdaSpec,
    path: &str,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<TargetKind> {
    let region = lambda_region(&spec.lambda_arn);
    if region.is_none() {
        problems.push(
            format!("{path}.lambdaArn"),
            format!(
                "`{}` is not a Lambda function ARN such as arn:aws:lambda:us-east-1:123456789012:function:my-function",
                spec.lambda_arn
            ),
        );
    }
    let ts = &spec.tool_schema;
    let tp = format!("{path}.toolSchema");
    let inline = match &ts.inline_payload {
        None => None,
        Some(v @ serde_json::Value::Array(_)) => Some(DocumentSource::Inline(v.to_string())),
        // A JSON text of the list is taken too, as `mcpToolSchema` takes one.
        Some(serde_json::Value::String(t)) => Some(DocumentSource::Inline(t.clone())),
        Some(_) => {
            problems.push(
                format!("{tp}.inlinePayload"),
                "must be a list of tool definitions ({name, description, inputSchema, outputSchema?})",
            );
            return None;
        }
    };
    let tools = document_source(
        inline,
        ts.file.as_deref(),
        ts.s3.as_ref(),
        &tp,
        base_dir,
        problems,
    )?;
    Some(TargetKind::Lambda(LambdaSettings {
        function_arn: spec.lambda_arn.clone(),
        region: region?,
        tools,
    }))
}

/// The region of `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
fn lambda_region(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let name_ok = |n: &str| {
        (1..=64).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let qualifier_ok = |q: &str| {
        q == "$LATEST"
            || ((1..=128).contains(&q.len())
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    let ok = matches!(parts.len(), 7 | 8)
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && is_region(parts[3])
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "function"
        && name_ok(parts[6])
        && parts.get(7).is_none_or(|q| qualifier_ok(q));
    ok.then(|| parts[3].to_string())
}

fn api_gateway(
    spec: &ApiGatewaySpec,
    path: &str,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<TargetKind> {
    let mut ok = true;
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !ident(&spec.rest_api_id) {
        problems.push(
            format!("{path}.restApiId"),
            "must be an API Gateway REST API id (letters and digits)",
        );
        ok = false;
    }
    if !ident(&spec.stage) {
        problems.push(
            format!("{path}.stage"),
            "must be a stage name (letters, digits, `-`, `_`)",
        );
        ok = false;
    }
    let tc = &spec.api_gateway_tool_configuration;
    let tc_path = format!("{path}.apiGatewayToolConfiguration");
    if tc.tool_filters.is_empty() {
        problems.push(
            format!("{tc_path}.toolFilters"),
            "must list at least one filter (filters are an allow-list)",
        );
        ok = false;
    }
    for (i, f) in tc.tool_filters.iter().enumerate() {
        let fp = format!("{tc_path}.toolFilters[{i}]");
        let body = f.filter_path.strip_suffix("/*").unwrap_or(&f.filter_path);
        if !f.filter_path.starts_with('/') || body.contains('*') {
            problems.push(
                format!("{fp}.filterPath"),
                format!("`{}` must be an exact path such as /pets/{{petId}} or a prefix wildcard such as /pets/*", f.filter_path),
            );
            ok = false;
        }
        if f.methods.is_empty() {
            problems.push(format!("{fp}.methods"), "must list at least one method");
            ok = false;
        }
    }
    for (i, o) in tc.tool_overrides.iter().enumerate() {
        let op = format!("{tc_path}.toolOverrides[{i}]");
        if !o.path.starts_with('/') || o.path.contains('*') {
            problems.push(
                format!("{op}.path"),
                format!(
                    "`{}` must be an exact resource path such as /pets (no wildcards)",
                    o.path
                ),
            );
            ok = false;
        }
        if !crate::common::names::valid_tool_name(&o.name) {
            problems.push(
                format!("{op}.name"),
                format!(
                    "`{}` must be 1-128 letters, digits, `_`, `-` or `.`",
                    o.name
                ),
            );
            ok = false;
        }
        check_description(
            o.description.as_deref(),
            &format!("{op}.description"),
            problems,
        );
    }
    if let Some(u) = &spec.invoke_url
        && !is_http_url(u)
    {
        problems.push(
            format!("{path}.invokeUrl"),
            "must be an absolute http(s) URL",
        );
        ok = false;
    }
    let source = match &spec.export_file {
        Some(f) => DocumentSource::File(base_dir.join(f)),
        None => DocumentSource::ApiGatewayExport,
    };
    ok.then(|| TargetKind::ApiGateway {
        rest_api_id: spec.rest_api_id.clone(),
        stage: spec.stage.clone(),
        source,
        invoke_url: spec.invoke_url.clone(),
        filters: tc.tool_filters.clone(),
        overrides: tc.tool_overrides.clone(),
    })
}
