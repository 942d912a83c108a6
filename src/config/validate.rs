//! Static validation: turns the deserialized sections into [`Config`], checking AgentCore's
//! constraints (name patterns, unions with exactly one member, enum-dependent fields), the
//! self-hosted additions, and refusing by name every AgentCore field that is not implemented.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::model::*;
use super::rules::{NOT_YET, agentcore_name, check_description};
use super::{Config, Env, GatewaySettings, Problems, ServerSettings, deserialize_section};
use crate::common::version::ProtocolVersion;

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
        .map(|p| super::credentials::api_key_providers(&p, &base_dir, env, problems))
        .unwrap_or_default();
    let timeouts = server_spec
        .as_ref()
        .map(|s| s.timeouts.clone())
        .unwrap_or_default();
    let auth_inputs = super::authorizer::Inputs {
        iam_callers: file.iam_callers.as_ref(),
        region: None,
        jwks_refresh: secs_to_duration(timeouts.jwks_refresh_seconds)
            .unwrap_or(Duration::from_secs(600)),
        jwks_fetch: secs_to_duration(timeouts.jwks_fetch_seconds)
            .unwrap_or(Duration::from_secs(10)),
        base_dir: &base_dir,
        env,
    };
    let gateway = gateway_spec.and_then(|g| gateway(g, auth_inputs, &mut warnings, problems));
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
        if let Some(t) = super::targets::target(
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
    // Each limit on its own, as targets are: a type error in one hides no other's problems.
    let rate_limits = match &file.rate_limits {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let specs: Vec<Option<RateLimitSpec>> = items
                .iter()
                .enumerate()
                .map(|(i, v)| deserialize_section(v, &format!("rateLimits[{i}]"), problems))
                .collect();
            super::rate_limits::rate_limits(specs, problems)
        }
        Some(_) => {
            problems.push(
                "rateLimits",
                "expected a list of `CreateGatewayRateLimit` requests",
            );
            Vec::new()
        }
    };

    Some(Config {
        server: server?,
        gateway: gateway?,
        targets,
        rate_limits,
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
    if let Some(u) = &spec.public_url
        && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
    {
        problems.push(
            "server.publicUrl",
            "must be an absolute http(s) URL such as https://mcp.example.com",
        );
    }
    let listen: Option<SocketAddr> = match spec.listen.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(
                "server.listen",
                "must be an address:port such as 127.0.0.1:8080",
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
                "must be an origin such as https://app.example.com (scheme, host, optional port)",
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
    let max_connections = limit("maxConnections", l.max_connections);
    // Permits of a semaphore: at most usize::MAX >> 3.
    let max_in_flight_bytes = limit("maxInFlightBytes", l.max_in_flight_bytes).min(1 << 40);
    let max_unsent_bytes_per_connection = limit(
        "maxUnsentBytesPerConnection",
        l.max_unsent_bytes_per_connection,
    )
    .min(1 << 40);
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
    let header_read_timeout = timeout("headerReadSeconds", t.header_read_seconds);
    let request_body_timeout = timeout("requestBodySeconds", t.request_body_seconds);
    let write_stall_timeout = timeout("writeStallSeconds", t.write_stall_seconds);
    // Zero is a valid drain: close the listener at once.
    let readiness_drain = if t.readiness_drain_seconds == 0.0 {
        Duration::ZERO
    } else {
        timeout("readinessDrainSeconds", t.readiness_drain_seconds)
    };
    for (name, secs) in &t.per_target {
        timeout(&format!("perTarget.{name}"), *secs);
    }
    timeout("jwksRefreshSeconds", t.jwks_refresh_seconds);
    timeout("jwksFetchSeconds", t.jwks_fetch_seconds);
    for name in t.per_target.keys() {
        if !target_names.contains(&Some(name.as_str())) {
            problems.push(
                format!("server.timeouts.perTarget.{name}"),
                format!("no target is named `{name}`"),
            );
        }
    }
    let egress = egress(&spec.egress, problems);
    let rate_limit_store = spec.rate_limit_store.as_ref().and_then(|s| {
        let ok = url::Url::parse(&s.redis_url)
            .is_ok_and(|u| u.scheme() == "redis" && u.has_host());
        if !ok {
            problems.push(
                "server.rateLimitStore.redisUrl",
                "must be a redis:// URL such as redis://127.0.0.1:6379 (rediss:// is not supported yet)",
            );
        }
        let prefix = s.key_prefix.clone().unwrap_or_else(|| "mcp-gateway".into());
        if prefix.is_empty() || prefix.len() > 64 || prefix.chars().any(char::is_control) {
            problems.push(
                "server.rateLimitStore.keyPrefix",
                "must be 1-64 characters without control characters",
            );
        }
        ok.then(|| (s.redis_url.clone(), prefix))
    });
    Some(ServerSettings {
        listen: listen?,
        public_url: spec.public_url.map(|u| u.trim_end_matches('/').to_string()),
        allowed_origins: spec.allowed_origins,
        trust_forwarded_headers: spec.trust_forwarded_headers,
        max_request_body_bytes,
        max_response_body_bytes,
        max_schema_bytes,
        tools_list_page_size,
        max_concurrent_requests,
        max_connections,
        max_in_flight_bytes,
        max_unsent_bytes_per_connection,
        connect_timeout,
        header_read_timeout,
        request_body_timeout,
        write_stall_timeout,
        readiness_drain,
        export_timeout,
        shutdown_grace,
        egress,
        metrics_enabled: spec.metrics.enabled,
        rate_limit_store,
    })
}

/// `server.egress`: each CIDR parsed (a bare address is a /32 or /128).
fn egress(spec: &EgressSpec, problems: &mut Problems) -> super::EgressSettings {
    let parse = |list: &[String], field: &str, problems: &mut Problems| -> Vec<ipnet::IpNet> {
        list.iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let parsed = c
                    .parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| c.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
                if parsed.is_none() {
                    problems.push(
                        format!("server.egress.{field}[{i}]"),
                        "must be a CIDR such as 10.0.0.0/8 or fd00::/8, or an address",
                    );
                }
                parsed
            })
            .collect()
    };
    super::EgressSettings {
        allow: parse(&spec.allow_cidrs, "allowCidrs", problems),
        deny: parse(&spec.deny_cidrs, "denyCidrs", problems),
        allow_metadata: spec.allow_metadata_addresses,
        allow_plain_http_credentials: spec.allow_plain_http_credentials,
    }
}

fn gateway(
    spec: GatewaySpec,
    auth_inputs: super::authorizer::Inputs<'_>,
    warnings: &mut Vec<String>,
    problems: &mut Problems,
) -> Option<GatewaySettings> {
    let env = auth_inputs.env;
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
    let region = spec
        .region
        .clone()
        .or_else(|| env.var("AWS_REGION").filter(|r| !r.is_empty()))
        .or_else(|| env.var("AWS_DEFAULT_REGION").filter(|r| !r.is_empty()));
    if let Some(r) = &region
        && !super::rules::is_region(r)
    {
        problems.push("gateway.region", format!("`{r}` is not an AWS region name"));
    }
    let authorizer = super::authorizer::authorizer(
        spec.authorizer_type,
        spec.authorizer_configuration.as_ref(),
        &super::authorizer::Inputs {
            region: region.as_deref(),
            ..auth_inputs
        },
        problems,
    );
    if let Some(super::AuthorizerSettings::Jwt(j)) = &authorizer
        && j.allowed_audience.is_none()
        && j.allowed_clients.is_none()
    {
        // AgentCore accepts this shape, so a pasted config must load; but it admits every
        // token the issuer signs, for any application of that tenant.
        warnings.push(
            "gateway.authorizerConfiguration.customJWTAuthorizer has neither allowedAudience nor allowedClients: any token the issuer signs is accepted, whichever application it was issued to; set one of them".into(),
        );
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
