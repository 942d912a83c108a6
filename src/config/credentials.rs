//! Outbound credentials in the config: `credentialProviders.apiKeys` resolved to their
//! secrets, and each target's `credentialProviderConfigurations` checked against what its kind
//! takes (API keys, SigV4 with the service and region the kind decides or the config names).

use std::collections::HashMap;
use std::path::Path;

use super::model::*;
use super::rules::{NOT_YET, read_secret};
use super::{CredentialSettings, Env, Problems, Secret};

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

/// How a kind signs with `GATEWAY_IAM_ROLE`.
pub(super) enum Signing {
    /// `iamCredentialProvider` says (OpenAPI, MCP servers).
    Declared,
    /// The kind decides, as AgentCore does (API Gateway, Lambda).
    Fixed {
        kind: &'static str,
        service: &'static str,
        region: Option<String>,
    },
    /// The Smithy model's `aws.auth#sigv4` name, in the gateway's region, unless
    /// `iamCredentialProvider` says otherwise.
    Model,
}

pub(super) fn credentials(
    spec: &TargetSpec,
    path: &str,
    signing: &Signing,
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
        // AgentCore takes only GATEWAY_IAM_ROLE for Lambda: without a list, that is meant.
        return Some(match signing {
            Signing::Fixed {
                kind: "lambda",
                service,
                region: Some(region),
            } => CredentialSettings::SigV4 {
                service: Some(service.to_string()),
                region: region.clone(),
            },
            _ => CredentialSettings::None,
        });
    };
    if let Signing::Fixed { kind: "lambda", .. } = signing
        && c.credential_provider_type != CredentialProviderType::GatewayIamRole
    {
        problems.push(
            format!("{path}[0].credentialProviderType"),
            "Lambda targets are invoked with GATEWAY_IAM_ROLE (SigV4 for `lambda`) only, as in AgentCore",
        );
        return None;
    }
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
            let iam_path = format!("{path}.credentialProvider.iamCredentialProvider");
            if let Some(iam) = iam
                && (iam.service.is_empty()
                    || iam.service.len() > 64
                    || !iam
                        .service
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
            {
                problems.push(
                    format!("{iam_path}.service"),
                    "must be 1-64 letters, digits, `.`, `_` or `-`",
                );
            }
            let (service, region) = match signing {
                Signing::Fixed {
                    kind,
                    service,
                    region,
                } => {
                    if iam.is_some() {
                        problems.push(
                            iam_path,
                            format!("is not used for {kind} targets (they sign for `{service}`, as AgentCore does); remove it"),
                        );
                    }
                    (Some(service.to_string()), region.clone())
                }
                Signing::Model => (
                    iam.map(|i| i.service.clone()),
                    iam.and_then(|i| i.region.clone())
                        .or_else(|| region.map(str::to_string)),
                ),
                Signing::Declared => {
                    let Some(iam) = iam else {
                        problems.push(
                            format!("{iam_path}.service"),
                            "required for GATEWAY_IAM_ROLE on an OpenAPI or MCP server target: the SigV4 service name, e.g. `execute-api`",
                        );
                        return None;
                    };
                    (
                        Some(iam.service.clone()),
                        iam.region.clone().or_else(|| region.map(str::to_string)),
                    )
                }
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
