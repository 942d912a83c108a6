//! `rateLimits`: AgentCore's `CreateGatewayRateLimit` requests for the file's gateway,
//! checked against the model's rules: an id of 2-64 characters, 1-10 dimension keys of the
//! kinds AgentCore names, 1-1000 entries whose dimensions are those keys (an exact value or
//! `*`), one `requests` rate of 0-10,000,000 per `second` or `minute`. A request header or
//! body dimension is only taken beside a trusted identity dimension (a JWT claim or the IAM
//! principal) in the same limit, as AgentCore requires: a client cannot pick its own bucket.

use std::collections::HashSet;
use std::time::Duration;

use super::model::{RateLimitSpec, RatePeriod};
use super::rules::NOT_YET;
use super::{DimensionKey, LimitEntry, Problems, RateLimitSettings};

const MAX_RATE: f64 = 10_000_000.0;

/// The limits that are valid; `None` items failed to deserialize (already reported).
pub(super) fn rate_limits(
    specs: Vec<Option<RateLimitSpec>>,
    problems: &mut Problems,
) -> Vec<RateLimitSettings> {
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let Some(spec) = spec else { continue };
        let path = format!("rateLimits[{i}]");
        if let Some(limit) = rate_limit(spec, &path, &mut ids, problems) {
            out.push(limit);
        }
    }
    out
}

fn rate_limit(
    spec: RateLimitSpec,
    path: &str,
    ids: &mut HashSet<String>,
    problems: &mut Problems,
) -> Option<RateLimitSettings> {
    let mut ok = true;
    let id = &spec.rate_limit_id;
    let id_ok = (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id.as_bytes()[id.len() - 1].is_ascii_alphanumeric();
    if !id_ok {
        problems.push(
            format!("{path}.rateLimitId"),
            "must be 2-64 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        );
        ok = false;
    } else if !ids.insert(id.clone()) {
        problems.push(
            format!("{path}.rateLimitId"),
            format!("`{id}` is used twice"),
        );
        ok = false;
    }
    if spec.description.as_ref().is_some_and(|d| d.len() > 512) {
        problems.push(
            format!("{path}.description"),
            "must be at most 512 characters",
        );
        ok = false;
    }
    if !(1..=10).contains(&spec.dimension_keys.len()) {
        problems.push(format!("{path}.dimensionKeys"), "must list 1 to 10 keys");
        ok = false;
    }
    let mut keys = Vec::new();
    for (k, key) in spec.dimension_keys.iter().enumerate() {
        match dimension_key(key) {
            Ok(d) if keys.contains(&d) => {
                problems.push(
                    format!("{path}.dimensionKeys[{k}]"),
                    format!("`{key}` is listed twice"),
                );
                ok = false;
            }
            Ok(d) => keys.push(d),
            Err(why) => {
                problems.push(format!("{path}.dimensionKeys[{k}]"), why);
                ok = false;
            }
        }
    }
    let trusted = keys
        .iter()
        .any(|k| matches!(k, DimensionKey::JwtClaim(_) | DimensionKey::IamPrincipal));
    if !trusted
        && keys
            .iter()
            .any(|k| matches!(k, DimensionKey::Header(_) | DimensionKey::Body(_)))
    {
        problems.push(
            format!("{path}.dimensionKeys"),
            "a `$.context.request.header.*` or `$.context.request.body.*` key needs a trusted identity key (`$.context.jwt.<claim>` or `$.context.iam.principal`) in the same limit: otherwise a client picks its own bucket",
        );
        ok = false;
    }
    if !(1..=1000).contains(&spec.entries.len()) {
        problems.push(format!("{path}.entries"), "must list 1 to 1000 entries");
        ok = false;
    }
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for (e, entry) in spec.entries.iter().enumerate() {
        let ep = format!("{path}.entries[{e}]");
        for (name, field) in [
            ("tokens", &entry.tokens),
            ("connections", &entry.connections),
        ] {
            if field.is_some() {
                problems.push(
                    format!("{ep}.{name}"),
                    format!("{NOT_YET}; limit `requests`"),
                );
                ok = false;
            }
        }
        for name in entry.dimensions.keys() {
            if !spec.dimension_keys.contains(name) {
                problems.push(
                    format!("{ep}.dimensions.{name}"),
                    "is not one of the limit's dimensionKeys",
                );
                ok = false;
            }
        }
        let values: Vec<Option<String>> = spec
            .dimension_keys
            .iter()
            .map(|k| match entry.dimensions.get(k).map(String::as_str) {
                None | Some("*") => None,
                Some(v) => Some(v.to_string()),
            })
            .collect();
        if entry
            .dimensions
            .values()
            .any(|v| v.is_empty() || v.len() > 256)
        {
            problems.push(
                format!("{ep}.dimensions"),
                "values must be 1-256 characters (`*` for any)",
            );
            ok = false;
        }
        if let Some(star) = values.iter().position(Option::is_none)
            && values[star..].iter().any(Option::is_some)
        {
            problems.push(
                format!("{ep}.dimensions"),
                "can never match: dimensions fall back to `*` from the last one, so a `*` must not come before an exact value (order dimensionKeys from the most to the least specific)",
            );
            ok = false;
        }
        if !seen.insert(values.clone()) {
            problems.push(
                format!("{ep}.dimensions"),
                "another entry has the same dimensions",
            );
            ok = false;
        }
        let rate = match entry.requests.as_deref() {
            Some([one]) if (0.0..=MAX_RATE).contains(&one.rate) => one,
            Some([_]) => {
                problems.push(
                    format!("{ep}.requests[0].rate"),
                    "must be between 0 (blocks) and 10000000",
                );
                ok = false;
                continue;
            }
            _ => {
                problems.push(
                    format!("{ep}.requests"),
                    "give exactly one rate: [{rate, period: second|minute}]",
                );
                ok = false;
                continue;
            }
        };
        entries.push(LimitEntry {
            values,
            rate: rate.rate,
            period: match rate.period {
                RatePeriod::Second => Duration::from_secs(1),
                RatePeriod::Minute => Duration::from_secs(60),
            },
        });
    }
    ok.then(|| RateLimitSettings {
        id: spec.rate_limit_id,
        keys,
        entries,
    })
}

/// One of AgentCore's dimension keys, or why not.
fn dimension_key(key: &str) -> Result<DimensionKey, String> {
    let name_ok = |n: &str, extra: &[u8]| {
        !n.is_empty()
            && n.len() <= 128
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || extra.contains(&b))
    };
    if key == "targetName" {
        Ok(DimensionKey::TargetName)
    } else if key == "toolName" {
        Ok(DimensionKey::ToolName)
    } else if key == "$.context.iam.principal" {
        Ok(DimensionKey::IamPrincipal)
    } else if let Some(claim) = key.strip_prefix("$.context.jwt.") {
        if name_ok(claim, b"-.") {
            Ok(DimensionKey::JwtClaim(claim.to_string()))
        } else {
            Err(format!(
                "`{key}`: the claim must be a name such as `sub` or `client_id`"
            ))
        }
    } else if let Some(header) = key.strip_prefix("$.context.request.header.") {
        http::HeaderName::from_bytes(header.as_bytes())
            .map(DimensionKey::Header)
            .map_err(|_| format!("`{key}`: `{header}` is not a header name"))
    } else if let Some(body) = key.strip_prefix("$.context.request.body.") {
        let parts: Vec<String> = body.split('.').map(str::to_string).collect();
        if parts.iter().all(|p| name_ok(p, b"-")) {
            Ok(DimensionKey::Body(parts))
        } else {
            Err(format!(
                "`{key}`: the path must be names joined by `.`, such as `params.name`"
            ))
        }
    } else if matches!(key, "qualifiedModelId" | "$.context.iam.sourceIdentity") {
        Err(format!("`{key}` {NOT_YET}"))
    } else {
        Err(format!(
            "`{key}` is not a dimension key: use targetName, toolName, $.context.jwt.<claim>, $.context.iam.principal, $.context.request.header.<name> or $.context.request.body.<path>"
        ))
    }
}
