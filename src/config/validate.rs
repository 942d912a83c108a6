//! Static validation: turns the deserialized sections into [`Config`], checking AgentCore's
//! constraints (name patterns, unions with exactly one member, enum-dependent fields), the
//! self-hosted additions, and refusing by name every AgentCore field that is not implemented.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::model::*;
use super::{
    AuthorizerSettings, Config, CredentialSettings, DocumentSource, Env, GatewaySettings, Problems,
    Secret, ServerSettings, TargetKind, TargetSettings, deserialize_section,
};
use crate::mcp::version::ProtocolVersion;

const NOT_YET: &str = "is not supported yet by mcp-gateway; remove it (it would not be enforced)";

pub(super) fn validate(
    file: FileSpec,
    base_dir: PathBuf,
    env: &dyn Env,
    problems: &mut Problems,
) -> Option<Config> {
    let mut warnings = Vec::new();
    let server_spec: Option<ServerSpec> = match &file.server {
        Some(v) => deserialize_section(v, "server", problems),
        None => Some(ServerSpec::default()),
    };
    let providers: Option<CredentialProvidersSpec> = match &file.credential_providers {
        Some(v) => deserialize_section(v, "credentialProviders", problems),
        None => Some(CredentialProvidersSpec::default()),
    };
    let gateway_spec: Option<GatewaySpec> = match &file.gateway {
        Some(v) => deserialize_section(v, "gateway", problems),
        None => {
            problems.push(
                "gateway",
                "required: the `create_gateway` fields (at least `name` and `authorizerType`)",
            );
            None
        }
    };
    let target_values = match &file.targets {
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            problems.push(
                "targets",
                "expected a list of `create_gateway_target` requests",
            );
            Vec::new()
        }
        None => Vec::new(),
    };
    let target_specs: Vec<Option<TargetSpec>> = target_values
        .iter()
        .enumerate()
        .map(|(i, v)| deserialize_section(v, &format!("targets[{i}]"), problems))
        .collect();

    let api_keys = providers
        .map(|p| api_key_providers(&p, &base_dir, env, problems))
        .unwrap_or_default();
    let gateway = gateway_spec.and_then(|g| gateway(g, env, &mut warnings, problems));
    let region = gateway.as_ref().and_then(|g| g.region.clone());
    let target_names: Vec<Option<&str>> = target_specs
        .iter()
        .map(|t| t.as_ref().map(|t| t.name.as_str()))
        .collect();
    let server = server_spec
        .clone()
        .and_then(|s| server(s, &target_names, problems));

    let mut seen = HashMap::new();
    let mut targets = Vec::new();
    for (i, spec) in target_specs.into_iter().enumerate() {
        let Some(spec) = spec else { continue };
        let path = format!("targets[{i}]");
        if let Some(first) = seen.insert(spec.name.clone(), i) {
            problems.push(
                format!("{path}.name"),
                format!(
                    "duplicate target name `{}` (also targets[{first}])",
                    spec.name
                ),
            );
        }
        let timeout = target_timeout(server_spec.as_ref(), &spec.name);
        if let Some(t) = target(
            spec,
            path,
            timeout,
            region.as_deref(),
            &api_keys,
            &base_dir,
            problems,
        ) {
            targets.push(t);
        }
    }
    if target_values.is_empty() && file.targets.is_some() {
        warnings.push("`targets` is empty: the gateway will serve no tools".into());
    }

    Some(Config {
        server: server?,
        gateway: gateway?,
        targets,
        base_dir,
        warnings,
    })
}

/// The target's call timeout: its `perTarget` entry, else `targetSeconds` (invalid values are
/// reported by [`server`]).
fn target_timeout(server: Option<&ServerSpec>, target: &str) -> Duration {
    let default = TimeoutsSpec::default();
    let t = server.map_or(&default, |s| &s.timeouts);
    let secs = t
        .per_target
        .get(target)
        .copied()
        .unwrap_or(t.target_seconds);
    secs_to_duration(secs).unwrap_or(Duration::from_secs(30))
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0 && secs <= 86_400.0).then(|| Duration::from_secs_f64(secs))
}

fn server(
    spec: ServerSpec,
    target_names: &[Option<&str>],
    problems: &mut Problems,
) -> Option<ServerSettings> {
    let listen: Option<SocketAddr> = match spec.listen.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(
                "server.listen",
                format!(
                    "`{}` is not an address:port such as 127.0.0.1:8080",
                    spec.listen
                ),
            );
            None
        }
    };
    for (i, origin) in spec.allowed_origins.iter().enumerate() {
        let ok = url::Url::parse(origin)
            .ok()
            .is_some_and(|u| u.origin().ascii_serialization() == origin.trim_end_matches('/'));
        if !ok && origin != "*" {
            problems.push(
                format!("server.allowedOrigins[{i}]"),
                format!("`{origin}` is not an origin such as https://app.example.com (scheme, host, optional port)"),
            );
        }
    }
    let l = &spec.limits;
    let mut limit = |name: &str, v: u64| -> usize {
        if v == 0 {
            problems.push(format!("server.limits.{name}"), "must be greater than 0");
        }
        usize::try_from(v).unwrap_or(usize::MAX)
    };
    let max_request_body_bytes = limit("maxRequestBodyBytes", l.max_request_body_bytes);
    let max_response_body_bytes = limit("maxResponseBodyBytes", l.max_response_body_bytes);
    let max_schema_bytes = limit("maxSchemaBytes", l.max_schema_bytes);
    let tools_list_page_size = limit("toolsListPageSize", l.tools_list_page_size);
    let max_concurrent_requests = limit("maxConcurrentRequests", l.max_concurrent_requests);
    let t = &spec.timeouts;
    let mut timeout = |name: &str, secs: f64| -> Duration {
        secs_to_duration(secs).unwrap_or_else(|| {
            problems.push(
                format!("server.timeouts.{name}"),
                "must be a number of seconds greater than 0 and at most 86400",
            );
            Duration::from_secs(1)
        })
    };
    timeout("targetSeconds", t.target_seconds);
    let connect_timeout = timeout("connectSeconds", t.connect_seconds);
    let export_timeout = timeout("exportSeconds", t.export_seconds);
    let shutdown_grace = timeout("shutdownGraceSeconds", t.shutdown_grace_seconds);
    for (name, secs) in &t.per_target {
        timeout(&format!("perTarget.{name}"), *secs);
    }
    for name in t.per_target.keys() {
        if !target_names.contains(&Some(name.as_str())) {
            problems.push(
                format!("server.timeouts.perTarget.{name}"),
                format!("no target is named `{name}`"),
            );
        }
    }
    Some(ServerSettings {
        listen: listen?,
        allowed_origins: spec.allowed_origins,
        max_request_body_bytes,
        max_response_body_bytes,
        max_schema_bytes,
        tools_list_page_size,
        max_concurrent_requests,
        connect_timeout,
        export_timeout,
        shutdown_grace,
    })
}

fn gateway(
    spec: GatewaySpec,
    env: &dyn Env,
    warnings: &mut Vec<String>,
    problems: &mut Problems,
) -> Option<GatewaySettings> {
    if !agentcore_name(&spec.name, 48) {
        problems.push(
            "gateway.name",
            format!(
                "`{}` must be 1-48 letters, digits and single hyphens, starting with a letter or digit (no `_`)",
                spec.name
            ),
        );
    }
    check_description(spec.description.as_deref(), "gateway.description", problems);
    let refuse = [
        ("kmsKeyArn", spec.kms_key_arn.is_some()),
        (
            "interceptorConfigurations",
            spec.interceptor_configurations.is_some(),
        ),
        (
            "policyEngineConfiguration",
            spec.policy_engine_configuration.is_some(),
        ),
        ("webAclArn", spec.web_acl_arn.is_some()),
        ("wafConfiguration", spec.waf_configuration.is_some()),
        (
            "customTransformConfiguration",
            spec.custom_transform_configuration.is_some(),
        ),
    ];
    for (field, present) in refuse {
        if present {
            problems.push(format!("gateway.{field}"), NOT_YET);
        }
    }
    if spec.role_arn.is_some() {
        warnings.push(
            "gateway.roleArn is accepted for compatibility but not assumed: outbound SigV4 uses the \
             standard AWS credential chain of the gateway's own environment"
                .into(),
        );
    }
    let mcp = spec
        .protocol_configuration
        .and_then(|p| p.mcp)
        .unwrap_or_default();
    let supported_versions = match &mcp.supported_versions {
        None => ProtocolVersion::ALL.to_vec(),
        Some(list) if list.is_empty() => {
            problems.push(
                "gateway.protocolConfiguration.mcp.supportedVersions",
                "must list at least one version (omit it to serve all)",
            );
            Vec::new()
        }
        Some(list) => {
            let mut out = BTreeSet::new();
            for (i, v) in list.iter().enumerate() {
                match ProtocolVersion::parse(v) {
                    Some(p) => {
                        out.insert(p);
                    }
                    None => problems.push(
                        format!("gateway.protocolConfiguration.mcp.supportedVersions[{i}]"),
                        format!(
                            "unknown MCP version `{v}`; expected one of {}",
                            ProtocolVersion::ALL
                                .map(|p| format!("`{}`", p.as_str()))
                                .join(", ")
                        ),
                    ),
                }
            }
            out.into_iter().collect()
        }
    };
    if let Some(i) = &mcp.instructions
        && (i.is_empty() || i.chars().count() > 2048)
    {
        problems.push(
            "gateway.protocolConfiguration.mcp.instructions",
            "must be 1 to 2048 characters",
        );
    }
    if mcp.search_type.is_some() {
        problems.push("gateway.protocolConfiguration.mcp.searchType", NOT_YET);
    }
    if mcp
        .streaming_configuration
        .as_ref()
        .and_then(|s| s.get("enableResponseStreaming"))
        .is_some_and(|v| v != &Value::Bool(false))
    {
        problems.push(
            "gateway.protocolConfiguration.mcp.streamingConfiguration.enableResponseStreaming",
            NOT_YET,
        );
    }
    let session_timeout = match mcp.session_configuration {
        None => Duration::from_secs(3600),
        Some(s) => {
            if !(900..=28_800).contains(&s.session_timeout_in_seconds) {
                problems.push(
                    "gateway.protocolConfiguration.mcp.sessionConfiguration.sessionTimeoutInSeconds",
                    "must be between 900 and 28800 (AgentCore's range)",
                );
            }
            Duration::from_secs(s.session_timeout_in_seconds)
        }
    };
    let authorizer = match spec.authorizer_type {
        AuthorizerType::None => {
            if spec.authorizer_configuration.is_some() {
                problems.push(
                    "gateway.authorizerConfiguration",
                    "only applies to authorizerType CUSTOM_JWT; remove it or change authorizerType",
                );
            }
            Some(AuthorizerSettings::None)
        }
        other => {
            let name = match other {
                AuthorizerType::CustomJwt => "CUSTOM_JWT",
                AuthorizerType::AwsIam => "AWS_IAM",
                AuthorizerType::AuthenticateOnly => "AUTHENTICATE_ONLY",
                AuthorizerType::None => unreachable!(),
            };
            problems.push(
                "gateway.authorizerType",
                format!("`{name}` is not supported yet by mcp-gateway; only `NONE` is available"),
            );
            None
        }
    };
    let region = spec
        .region
        .clone()
        .or_else(|| env.var("AWS_REGION").filter(|r| !r.is_empty()))
        .or_else(|| env.var("AWS_DEFAULT_REGION").filter(|r| !r.is_empty()));
    if let Some(r) = &region
        && !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        problems.push("gateway.region", format!("`{r}` is not an AWS region name"));
    }
    Some(GatewaySettings {
        name: spec.name,
        description: spec.description,
        instructions: mcp.instructions,
        supported_versions,
        session_timeout,
        authorizer: authorizer?,
        debug_errors: spec.exception_level == Some(ExceptionLevel::Debug),
        region,
    })
}

/// AgentCore's name pattern `([0-9a-zA-Z][-]?){1,max}`.
fn agentcore_name(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    let mut groups = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            return false;
        }
        groups += 1;
        i += 1;
        if i < bytes.len() && bytes[i] == b'-' {
            i += 1;
        }
    }
    groups >= 1 && groups <= max
}

fn check_description(d: Option<&str>, path: &str, problems: &mut Problems) {
    if let Some(d) = d
        && (d.is_empty() || d.chars().count() > 200)
    {
        problems.push(path, "must be 1 to 200 characters");
    }
}

/// Resolves `credentialProviders.apiKeys` to their secret values.
fn api_key_providers(
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
        let value = match (&p.api_key_env, &p.api_key_file) {
            (Some(var), None) => match env.var(var) {
                Some(v) if !v.is_empty() => Some(v),
                _ => {
                    problems.push(
                        format!("{path}.apiKeyEnv"),
                        format!("environment variable `{var}` is not set"),
                    );
                    None
                }
            },
            (None, Some(file)) => {
                let full = base_dir.join(file);
                match std::fs::read_to_string(&full) {
                    Ok(v) if !v.trim().is_empty() => {
                        Some(v.trim_end_matches(['\r', '\n']).to_string())
                    }
                    Ok(_) => {
                        problems.push(
                            format!("{path}.apiKeyFile"),
                            format!("{} is empty", full.display()),
                        );
                        None
                    }
                    Err(e) => {
                        problems.push(
                            format!("{path}.apiKeyFile"),
                            format!("cannot read {}: {e}", full.display()),
                        );
                        None
                    }
                }
            }
            _ => {
                problems.push(path.clone(), "give exactly one of `apiKeyEnv` or `apiKeyFile` (the key is never written in the config itself)");
                None
            }
        };
        if let Some(v) = value
            && out.insert(p.name.clone(), Secret::new(v)).is_some()
        {
            problems.push(
                format!("{path}.name"),
                format!("duplicate provider name `{}`", p.name),
            );
        }
    }
    out
}

fn target(
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

/// Checks that exactly one member of an AgentCore union is set; returns its name.
fn one_of<'a>(members: &[(&'a str, bool)], path: &str, problems: &mut Problems) -> Option<&'a str> {
    let set: Vec<&str> = members
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    match set.as_slice() {
        [one] => Some(one),
        [] => {
            let names: Vec<String> = members.iter().map(|(n, _)| format!("`{n}`")).collect();
            problems.push(path, format!("set one of {}", names.join(", ")));
            None
        }
        many => {
            problems.push(
                path,
                format!("set only one of {} (this is a union)", many.join(", ")),
            );
            None
        }
    }
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
            Some(TargetKind::OpenApi { source })
        }
        "apiGateway" => api_gateway(
            mcp.api_gateway.as_ref()?,
            &format!("{path}.apiGateway"),
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
        if !crate::catalog::valid_tool_name(&o.name) {
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
        && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
    {
        problems.push(
            format!("{path}.invokeUrl"),
            format!("`{u}` is not an http(s) URL"),
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

#[cfg(test)]
mod tests {
    use super::agentcore_name;

    #[test]
    fn agentcore_name_pattern() {
        assert!(agentcore_name("api-gateway-target-1", 100));
        assert!(agentcore_name("a", 100));
        assert!(!agentcore_name("a--b", 100));
        assert!(!agentcore_name("-a", 100));
        assert!(!agentcore_name("a_b", 100));
        assert!(!agentcore_name("", 100));
        assert!(agentcore_name("a-", 100));
    }
}
