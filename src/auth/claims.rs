//! AgentCore's rules on a verified token's claims, in AgentCore's order:
//! `allowedClients` against `client_id`, `allowedAudience` against `aud` (a string or an
//! array), `allowedScopes` (at least one of the token's scopes, from `scope` or `scp`), then
//! each `customClaims` rule. Pure functions of the settings and the claims.

use serde_json::{Map, Value};

use super::{AuthError, JwtIdentity};
use crate::config::{ClaimCheck, ClaimRule, JwtSettings};

/// Applies the rules; on success returns what the token says about its bearer.
pub fn authorize(
    settings: &JwtSettings,
    issuer: &str,
    claims: Map<String, Value>,
) -> Result<JwtIdentity, AuthError> {
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(allowed) = &settings.allowed_clients
        && !client_id.as_ref().is_some_and(|c| allowed.contains(c))
    {
        return Err(AuthError::InvalidToken {
            check: "client_id",
            detail: match &client_id {
                Some(_) => "the token's client_id is not in allowedClients".into(),
                None => "the token has no client_id claim and allowedClients is set".into(),
            },
        });
    }
    if let Some(allowed) = &settings.allowed_audience {
        let audiences = strings(claims.get("aud"));
        if !audiences.iter().any(|a| allowed.contains(a)) {
            return Err(AuthError::InvalidToken {
                check: "aud",
                detail: "no audience of the token is in allowedAudience".into(),
            });
        }
    }
    let scopes = token_scopes(&claims);
    if let Some(allowed) = &settings.allowed_scopes
        && !scopes.iter().any(|s| allowed.contains(s))
    {
        return Err(AuthError::InsufficientScope {
            check: "scope",
            detail: "none of the token's scopes is in allowedScopes".into(),
        });
    }
    for rule in &settings.claim_rules {
        check_rule(rule, claims.get(&rule.claim))?;
    }
    Ok(JwtIdentity {
        issuer: issuer.to_string(),
        subject: claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_string),
        client_id,
        scopes,
        claims,
    })
}

/// `scope` (space-separated) or `scp` (an array, or a space-separated string).
pub fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["scope", "scp"] {
        match claims.get(key) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(items)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    out
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn check_rule(rule: &ClaimRule, value: Option<&Value>) -> Result<(), AuthError> {
    let ok = match (&rule.check, value) {
        (ClaimCheck::Equals(expected), Some(Value::String(s))) => s == expected,
        (ClaimCheck::OneOf(list), Some(Value::String(s))) => list.contains(s),
        (ClaimCheck::Contains(expected), Some(Value::Array(items))) => {
            items.iter().any(|i| i.as_str() == Some(expected))
        }
        (ClaimCheck::ContainsAny(list), Some(Value::Array(items))) => items
            .iter()
            .filter_map(Value::as_str)
            .any(|i| list.iter().any(|l| l == i)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::InsufficientScope {
            check: "customClaims",
            detail: format!(
                "claim `{}` does not satisfy its customClaims rule",
                rule.claim
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn settings() -> JwtSettings {
        JwtSettings {
            discovery_url: String::new(),
            allowed_audience: None,
            allowed_clients: None,
            allowed_scopes: None,
            claim_rules: Vec::new(),
            advertised_scopes: Vec::new(),
            refresh_interval: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(1),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn clients_audiences_and_scopes() {
        let mut s = settings();
        s.allowed_clients = Some(vec!["app".into()]);
        s.allowed_audience = Some(vec!["gw".into()]);
        s.allowed_scopes = Some(vec!["tools/call".into()]);
        let ok = authorize(&s, "iss", claims(json!({"sub": "u", "client_id": "app", "aud": ["x", "gw"], "scope": "a tools/call"}))).unwrap();
        assert_eq!(ok.scopes, ["a", "tools/call"]);
        assert_eq!(ok.subject.as_deref(), Some("u"));
        let e = authorize(
            &s,
            "iss",
            claims(json!({"client_id": "other", "aud": "gw", "scope": "tools/call"})),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthError::InvalidToken {
                check: "client_id",
                ..
            }
        ));
        let e = authorize(
            &s,
            "iss",
            claims(json!({"client_id": "app", "aud": "nope", "scope": "tools/call"})),
        )
        .unwrap_err();
        assert!(matches!(e, AuthError::InvalidToken { check: "aud", .. }));
        let e = authorize(
            &s,
            "iss",
            claims(json!({"client_id": "app", "aud": "gw", "scp": ["read"]})),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthError::InsufficientScope { check: "scope", .. }
        ));
        assert!(
            authorize(
                &s,
                "iss",
                claims(json!({"client_id": "app", "aud": "gw", "scp": ["tools/call"]}))
            )
            .is_ok()
        );
    }

    #[test]
    fn custom_claim_operators() {
        let rule = |check| ClaimRule {
            claim: "c".into(),
            check,
        };
        let cases = [
            (ClaimCheck::Equals("a".into()), json!("a"), json!("b")),
            (
                ClaimCheck::OneOf(vec!["a".into(), "b".into()]),
                json!("b"),
                json!("c"),
            ),
            (
                ClaimCheck::Contains("a".into()),
                json!(["x", "a"]),
                json!(["x"]),
            ),
            (
                ClaimCheck::ContainsAny(vec!["a".into(), "b".into()]),
                json!(["b"]),
                json!(["c", "d"]),
            ),
        ];
        for (check, good, bad) in cases {
            let r = rule(check);
            assert!(check_rule(&r, Some(&good)).is_ok(), "{r:?} {good}");
            assert!(check_rule(&r, Some(&bad)).is_err(), "{r:?} {bad}");
            assert!(check_rule(&r, None).is_err(), "{r:?} missing");
        }
        // A string where an array is expected (and the reverse) does not match.
        assert!(check_rule(&rule(ClaimCheck::Contains("a".into())), Some(&json!("a"))).is_err());
        assert!(check_rule(&rule(ClaimCheck::Equals("a".into())), Some(&json!(["a"]))).is_err());
    }
}
