//! Validation of the inbound authorizer: `authorizerType` with its `authorizerConfiguration`
//! (`customJWTAuthorizer`, as AgentCore defines it), and the self-hosted `iamCallers` that
//! stand in for IAM when the type is `AWS_IAM` or `AUTHENTICATE_ONLY`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::model::*;
use super::rules::{NOT_YET, read_secret};
use super::{
    AuthorizerSettings, ClaimCheck, ClaimRule, Env, IamCaller, IamSettings, JwtSettings, Problems,
    deserialize_section,
};

/// What the authorizer's validation needs besides the gateway section.
pub(super) struct Inputs<'a> {
    pub iam_callers: Option<&'a Value>,
    pub region: Option<&'a str>,
    pub jwks_refresh: Duration,
    pub jwks_fetch: Duration,
    pub base_dir: &'a Path,
    pub env: &'a dyn Env,
}

pub(super) fn authorizer(
    kind: AuthorizerType,
    config: Option<&AuthorizerConfiguration>,
    inputs: &Inputs<'_>,
    problems: &mut Problems,
) -> Option<AuthorizerSettings> {
    let jwt = config.and_then(|c| c.custom_jwt_authorizer.as_ref());
    if kind != AuthorizerType::CustomJwt && config.is_some() {
        problems.push(
            "gateway.authorizerConfiguration",
            "only applies to authorizerType CUSTOM_JWT; remove it or change authorizerType",
        );
    }
    let iam = matches!(
        kind,
        AuthorizerType::AwsIam | AuthorizerType::AuthenticateOnly
    );
    if !iam && inputs.iam_callers.is_some() {
        problems.push(
            "iamCallers",
            "only applies to authorizerType AWS_IAM or AUTHENTICATE_ONLY",
        );
    }
    match kind {
        AuthorizerType::None => Some(AuthorizerSettings::None),
        AuthorizerType::CustomJwt => match jwt {
            Some(j) => jwt_settings(j, inputs, problems).map(AuthorizerSettings::Jwt),
            None => {
                problems.push(
                    "gateway.authorizerConfiguration.customJWTAuthorizer",
                    "required for CUSTOM_JWT (at least `discoveryUrl`)",
                );
                None
            }
        },
        AuthorizerType::AwsIam | AuthorizerType::AuthenticateOnly => {
            iam_settings(inputs, problems).map(AuthorizerSettings::Iam)
        }
    }
}

fn jwt_settings(
    spec: &CustomJwtAuthorizer,
    inputs: &Inputs<'_>,
    problems: &mut Problems,
) -> Option<JwtSettings> {
    let path = "gateway.authorizerConfiguration.customJWTAuthorizer";
    let mut ok = true;
    let url_ok = url::Url::parse(&spec.discovery_url).is_ok_and(|u| {
        let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        u.path().ends_with("/.well-known/openid-configuration")
            && (u.scheme() == "https" || (u.scheme() == "http" && loopback))
    });
    if !url_ok {
        problems.push(
            format!("{path}.discoveryUrl"),
            "must be an https URL ending in /.well-known/openid-configuration (http only for loopback)",
        );
        ok = false;
    }
    for (field, list) in [
        ("allowedAudience", &spec.allowed_audience),
        ("allowedClients", &spec.allowed_clients),
        ("allowedScopes", &spec.allowed_scopes),
    ] {
        if let Some(list) = list {
            if list.is_empty() {
                problems.push(
                    format!("{path}.{field}"),
                    "must list at least one value (or be left out)",
                );
                ok = false;
            }
            for (i, v) in list.iter().enumerate() {
                if v.is_empty()
                    || v.len() > 255
                    || v.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    problems.push(
                        format!("{path}.{field}[{i}]"),
                        "must be 1-255 characters without spaces",
                    );
                    ok = false;
                }
            }
        }
    }
    let mut claim_rules = Vec::new();
    if let Some(claims) = &spec.custom_claims {
        if claims.is_empty() {
            problems.push(
                format!("{path}.customClaims"),
                "must list at least one rule (or be left out)",
            );
        }
        for (i, c) in claims.iter().enumerate() {
            match claim_rule(c, &format!("{path}.customClaims[{i}]"), problems) {
                Some(rule) => claim_rules.push(rule),
                None => ok = false,
            }
        }
    }
    let mut advertised_scopes = spec.allowed_scopes.clone().unwrap_or_default();
    if let Some(mapping) = &spec.advertised_scope_mapping {
        for (from, to) in mapping {
            match advertised_scopes.iter_mut().find(|s| *s == from) {
                Some(s) => *s = to.clone(),
                None => {
                    problems.push(
                        format!("{path}.advertisedScopeMapping.{from}"),
                        format!("`{from}` is not in allowedScopes"),
                    );
                    ok = false;
                }
            }
        }
    }
    for (field, present) in [
        ("privateEndpoint", spec.private_endpoint.is_some()),
        (
            "privateEndpointOverrides",
            spec.private_endpoint_overrides.is_some(),
        ),
        (
            "allowedWorkloadConfiguration",
            spec.allowed_workload_configuration.is_some(),
        ),
    ] {
        if present {
            problems.push(format!("{path}.{field}"), NOT_YET);
            ok = false;
        }
    }
    ok.then(|| JwtSettings {
        discovery_url: spec.discovery_url.clone(),
        allowed_audience: spec.allowed_audience.clone(),
        allowed_clients: spec.allowed_clients.clone(),
        allowed_scopes: spec.allowed_scopes.clone(),
        claim_rules,
        advertised_scopes,
        refresh_interval: inputs.jwks_refresh,
        fetch_timeout: inputs.jwks_fetch,
    })
}

/// AgentCore's claim rules, resolved: STRING claims are compared (EQUALS) or looked up in a
/// list (CONTAINS_ANY); STRING_ARRAY claims must contain a value (CONTAINS) or one of a list
/// (CONTAINS_ANY).
fn claim_rule(c: &CustomClaim, path: &str, problems: &mut Problems) -> Option<ClaimRule> {
    let name_ok = !c.inbound_token_claim_name.is_empty()
        && c.inbound_token_claim_name.len() <= 255
        && c.inbound_token_claim_name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_.-:".contains(ch));
    if !name_ok {
        problems.push(
            format!("{path}.inboundTokenClaimName"),
            "must be 1-255 of letters, digits, `_`, `.`, `-`, `:`",
        );
        return None;
    }
    let m = &c.authorizing_claim_match_value;
    let value = m.claim_match_value.match_value_string.clone();
    let list = m.claim_match_value.match_value_string_list.clone();
    let check = match (
        c.inbound_token_claim_value_type,
        m.claim_match_operator,
        value,
        list,
    ) {
        (ClaimValueType::String, ClaimMatchOperator::Equals, Some(v), None) => {
            ClaimCheck::Equals(v)
        }
        (ClaimValueType::String, ClaimMatchOperator::ContainsAny, None, Some(l))
            if !l.is_empty() =>
        {
            ClaimCheck::OneOf(l)
        }
        (ClaimValueType::StringArray, ClaimMatchOperator::Contains, Some(v), None) => {
            ClaimCheck::Contains(v)
        }
        (ClaimValueType::StringArray, ClaimMatchOperator::ContainsAny, None, Some(l))
            if !l.is_empty() =>
        {
            ClaimCheck::ContainsAny(l)
        }
        (t, op, _, _) => {
            problems.push(
                format!("{path}.authorizingClaimMatchValue"),
                format!(
                    "{t:?} with {op:?} is not a valid rule; use STRING with EQUALS (matchValueString) or CONTAINS_ANY \
                     (matchValueStringList), or STRING_ARRAY with CONTAINS (matchValueString) or CONTAINS_ANY \
                     (matchValueStringList)"
                ),
            );
            return None;
        }
    };
    Some(ClaimRule {
        claim: c.inbound_token_claim_name.clone(),
        check,
    })
}

fn iam_settings(inputs: &Inputs<'_>, problems: &mut Problems) -> Option<IamSettings> {
    let Some(value) = inputs.iam_callers else {
        problems.push(
            "iamCallers",
            "required for AWS_IAM: the callers allowed to sign requests ([{accessKeyId, secretAccessKeyEnv | secretAccessKeyFile, principalArn}])",
        );
        return None;
    };
    let specs: Vec<IamCallerSpec> = deserialize_section(value, "iamCallers", problems)?;
    if specs.is_empty() {
        problems.push("iamCallers", "must list at least one caller");
    }
    let mut seen = HashSet::new();
    let mut callers = Vec::new();
    for (i, c) in specs.iter().enumerate() {
        let path = format!("iamCallers[{i}]");
        if c.access_key_id.is_empty()
            || !c.access_key_id.chars().all(|ch| ch.is_ascii_alphanumeric())
        {
            problems.push(format!("{path}.accessKeyId"), "must be letters and digits");
        } else if !seen.insert(c.access_key_id.clone()) {
            problems.push(
                format!("{path}.accessKeyId"),
                format!("duplicate access key id `{}`", c.access_key_id),
            );
        }
        if !c.principal_arn.starts_with("arn:") {
            problems.push(
                format!("{path}.principalArn"),
                "must be an ARN (arn:aws:iam::123456789012:role/name)",
            );
        }
        let secret = read_secret(
            ("secretAccessKeyEnv", c.secret_access_key_env.as_ref()),
            ("secretAccessKeyFile", c.secret_access_key_file.as_ref()),
            &path,
            inputs.base_dir,
            inputs.env,
            problems,
        );
        if let Some(secret) = secret {
            callers.push(IamCaller {
                access_key_id: c.access_key_id.clone(),
                secret,
                principal_arn: c.principal_arn.clone(),
            });
        }
    }
    let Some(region) = inputs.region else {
        problems.push("gateway.region", "AWS_IAM needs the gateway's region (callers sign for it): set `gateway.region` or AWS_REGION");
        return None;
    };
    Some(IamSettings {
        region: region.to_string(),
        callers,
    })
}
