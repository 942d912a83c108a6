//! Validation of `targets:` and `credentialProviders:`: AgentCore's target unions, the
//! API Gateway tool configuration's static rules, and each target's outbound credentials
//! (resolving API key providers to their secrets).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::model::*;
use super::rules::{NOT_YET, agentcore_name, check_description, one_of, read_secret};
use super::{
    CredentialSettings, DocumentSource, Env, McpServerSettings, Problems, Secret, TargetKind,
    TargetSettings,
};

/// Resolves `credentialProviders.apiKeys` to their secret values.
pub(super) fn api_key_providers(
    spec: &CredentialProvidersSpec,
    base_dir: &Path,
    env: &dyn Env,
    problems: &mut Problems,
) -> HashMap<String, Secret> {
    let mut out = HashMap::new();
    for (i, p) in spec.api_keys.iter().enumerate() {
        let path = format!("credentialProviders.apiKeys[{i}]");
        if p.name.is_empty()
            || p.name.len() > 128
            || !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(
                format!("{path}.name"),
                "must be 1-128 letters, digits, `-` or `_`",
            );
        }
        let value = read_secret(
            ("apiKeyEnv", p.api_key_env.as_ref()),
            ("apiKeyFile", p.api_key_file.as_ref()),
            &path,
            base_dir,
            env,
            problems,
        );
        if let Some(v) = value
            && out.insert(p.name.clone(), v).is_some()
        {
            problems.push(
                format!("{path}.name"),
                format!("duplicate provider name `{}`", p.name),
            );
        }
    }
    out
}

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
    let is_api_gateway = matches!(kind, Some(TargetKind::ApiGateway { .. }));
    if is_api_gateway && region.is_none() {
        problems.push(
            format!("{path}.targetConfiguration.mcp.apiGateway"),
            "needs an AWS region: set `gateway.region`, AWS_REGION or AWS_DEFAULT_REGION",
        );
    }
    let credentials = credentials(&spec, &path, is_api_gateway, region, api_keys, problems);
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
            let which = one_of(
                &[
                    ("inlinePayload", s.inline_payload.is_some()),
                    ("file", s.file.is_some()),
                    ("s3", s.s3.is_some()),
                ],
                &path,
                problems,
            )?;
            let source = match which {
                "inlinePayload" => DocumentSource::Inline(s.inline_payload.clone()?),
                "file" => DocumentSource::File(base_dir.join(s.file.as_ref()?)),
                _ => {
                    problems.push(
                        format!("{path}.s3"),
                        format!("{NOT_YET}; use `file` or `inlinePayload`"),
                    );
                    return None;
                }
            };
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
            let sp = format!("{path}.mcpToolSchema");
            let which = one_of(
                &[
                    ("inlinePayload", s.inline_payload.is_some()),
                    ("file", s.file.is_some()),
                    ("s3", s.s3.is_some()),
                ],
                &sp,
                problems,
            );
            match which {
                Some("inlinePayload") => s.inline_payload.clone().map(DocumentSource::Inline),
                Some("file") => s
                    .file
                    .as_ref()
                    .map(|f| DocumentSource::File(base_dir.join(f))),
                Some(_) => {
                    problems.push(
                        format!("{sp}.s3"),
                        format!("{NOT_YET}; use `file` or `inlinePayload`"),
                    );
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            }
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

fn credentials(
    spec: &TargetSpec,
    path: &str,
    is_api_gateway: bool,
    region: Option<&str>,
    api_keys: &HashMap<String, Secret>,
    problems: &mut Problems,
) -> Option<CredentialSettings> {
    let list = &spec.credential_provider_configurations;
    let path = format!("{path}.credentialProviderConfigurations");
    if list.len() > 1 {
        problems.push(
            &path,
            "AgentCore takes exactly one credential provider per target",
        );
        return None;
    }
    let Some(c) = list.first() else {
        return Some(CredentialSettings::None);
    };
    let path = format!("{path}[0]");
    let provider = c.credential_provider.as_ref();
    match c.credential_provider_type {
        CredentialProviderType::ApiKey => {
            let Some(p) = provider.and_then(|p| p.api_key_credential_provider.as_ref()) else {
                problems.push(
                    format!("{path}.credentialProvider.apiKeyCredentialProvider"),
                    "required for API_KEY",
                );
                return None;
            };
            let pp = format!("{path}.credentialProvider.apiKeyCredentialProvider");
            // An ARN's last segment (`.../apikeycredentialprovider/NAME`) names the provider too.
            let name = p.provider_arn.rsplit('/').next().unwrap_or(&p.provider_arn);
            let key = api_keys.get(&p.provider_arn).or_else(|| api_keys.get(name));
            if key.is_none() {
                problems.push(
                    format!("{pp}.providerArn"),
                    format!("no API key provider named `{name}` in credentialProviders.apiKeys"),
                );
            }
            let location = p.credential_location.unwrap_or(CredentialLocation::Header);
            // AgentCore's defaults: `Authorization: Bearer <key>` in a header, `api_key=<key>` in
            // the query; a custom header name gets no prefix unless one is given.
            let default_name = match location {
                CredentialLocation::Header => "Authorization",
                CredentialLocation::QueryParameter => "api_key",
            };
            let parameter_name = p
                .credential_parameter_name
                .clone()
                .unwrap_or_else(|| default_name.to_string());
            let default_prefix = if location == CredentialLocation::Header
                && parameter_name.eq_ignore_ascii_case("authorization")
            {
                "Bearer "
            } else {
                ""
            };
            let valid_name = match location {
                CredentialLocation::Header => {
                    http::HeaderName::from_bytes(parameter_name.as_bytes()).is_ok()
                }
                CredentialLocation::QueryParameter => !parameter_name.is_empty(),
            };
            if !valid_name || parameter_name.len() > 64 {
                problems.push(
                    format!("{pp}.credentialParameterName"),
                    format!(
                        "`{parameter_name}` is not a valid 1-64 character name for that location"
                    ),
                );
            }
            let prefix = p
                .credential_prefix
                .clone()
                .unwrap_or_else(|| default_prefix.to_string());
            if prefix.len() > 64 || prefix.chars().any(|c| c.is_control()) {
                problems.push(
                    format!("{pp}.credentialPrefix"),
                    "must be at most 64 characters without control characters",
                );
            }
            if let Some(k) = key
                && location == CredentialLocation::Header
                && http::HeaderValue::from_str(&format!("{prefix}{}", k.expose())).is_err()
            {
                problems.push(format!("{pp}.providerArn"), format!("the key of provider `{name}` cannot be sent in a header (control characters?)"));
            }
            Some(CredentialSettings::ApiKey {
                provider: name.to_string(),
                key: key?.clone(),
                parameter_name,
                prefix,
                location,
            })
        }
        CredentialProviderType::GatewayIamRole => {
            let iam = provider.and_then(|p| p.iam_credential_provider.as_ref());
            let (service, region) = if is_api_gateway {
                if iam.is_some() {
                    problems.push(
                        format!("{path}.credentialProvider.iamCredentialProvider"),
                        "is not used for apiGateway targets (they sign for `execute-api` in the gateway's region); remove it",
                    );
                }
                ("execute-api".to_string(), region.map(str::to_string))
            } else {
                let Some(iam) = iam else {
                    problems.push(
                        format!("{path}.credentialProvider.iamCredentialProvider.service"),
                        "required for GATEWAY_IAM_ROLE on an OpenAPI target: the SigV4 service name, e.g. `execute-api`",
                    );
                    return None;
                };
                if iam.service.is_empty()
                    || iam.service.len() > 64
                    || !iam
                        .service
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    problems.push(
                        format!("{path}.credentialProvider.iamCredentialProvider.service"),
                        "must be 1-64 letters, digits, `.`, `_` or `-`",
                    );
                }
                (
                    iam.service.clone(),
                    iam.region.clone().or_else(|| region.map(str::to_string)),
                )
            };
            let Some(region) = region else {
                problems.push(&path, "SigV4 needs a region: set `iamCredentialProvider.region`, `gateway.region`, AWS_REGION or AWS_DEFAULT_REGION");
                return None;
            };
            Some(CredentialSettings::SigV4 { service, region })
        }
        CredentialProviderType::Oauth
        | CredentialProviderType::CallerIamCredentials
        | CredentialProviderType::JwtPassthrough => {
            problems.push(
                format!("{path}.credentialProviderType"),
                format!("this credential provider type {NOT_YET}"),
            );
            None
        }
    }
}
