//! What unauthenticated or unauthorized callers see, the way MCP clients expect it (MCP
//! authorization, RFC 6750, RFC 9728):
//! - no token: 401 with `WWW-Authenticate: Bearer resource_metadata="…/.well-known/oauth-protected-resource"`
//!   (plus `scope` when scopes are configured);
//! - a bad token: the same with `error="invalid_token"`;
//! - a valid token without a required scope or claim: 403 with `error="insufficient_scope"`;
//! - keys not loaded yet: 503 with `Retry-After`.
//!
//! The body names the check that failed, never the token. Also serves the protected resource
//! metadata document that the challenge points to.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::{AppState, Json};
use crate::auth::AuthError;
use crate::mcp::jsonrpc;

pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The gateway's external base URL: `server.publicUrl`, else from `Host` (and, only with
/// `trustForwardedHeaders`, `X-Forwarded-Proto` / `X-Forwarded-Host`).
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.public_url {
        return u.clone();
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
    };
    let forwarded = |name: &str| state.trust_forwarded_headers.then(|| first(name)).flatten();
    let scheme = forwarded("x-forwarded-proto")
        .filter(|s| s == "https" || s == "http")
        .unwrap_or_else(|| "http".into());
    let host = forwarded("x-forwarded-host")
        .or_else(|| first("host"))
        .unwrap_or_else(|| "localhost".into());
    format!("{scheme}://{host}")
}

/// The response for a refused request.
pub fn refusal(state: &AppState, headers: &HeaderMap, error: &AuthError) -> Response {
    let (status, check) = match error {
        AuthError::MissingToken | AuthError::MissingSignature => {
            (StatusCode::UNAUTHORIZED, "credentials")
        }
        AuthError::InvalidToken { check, .. } => (StatusCode::UNAUTHORIZED, *check),
        AuthError::InsufficientScope { check, .. } => (StatusCode::FORBIDDEN, *check),
        AuthError::BadSignature(_) => (StatusCode::FORBIDDEN, "signature"),
        AuthError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "keys"),
    };
    let label = match status {
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        _ => "Unavailable",
    };
    let rpc = jsonrpc::RpcError::new(jsonrpc::INVALID_REQUEST, format!("{label}: {error}"))
        .with_data(json!({"check": check}));
    let mut resp = Json::with_status(status, jsonrpc::failure(None, &rpc));
    if let Some(challenge) =
        challenge(state, headers, error).and_then(|c| HeaderValue::from_str(&c).ok())
    {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    resp
}

fn challenge(state: &AppState, headers: &HeaderMap, error: &AuthError) -> Option<String> {
    let jwt = state.authorizer.jwt()?;
    let mut parts = Vec::new();
    match error {
        AuthError::InvalidToken { detail, .. } => {
            parts.push(r#"error="invalid_token""#.to_string());
            parts.push(format!(
                r#"error_description="{}""#,
                detail.replace(['"', '\\'], "'")
            ));
        }
        AuthError::InsufficientScope { .. } => {
            parts.push(r#"error="insufficient_scope""#.to_string())
        }
        AuthError::MissingToken => {}
        _ => return None,
    }
    let scopes = jwt.advertised_scopes();
    if !scopes.is_empty() {
        parts.push(format!(r#"scope="{}""#, scopes.join(" ")));
    }
    parts.push(format!(
        r#"resource_metadata="{}{METADATA_PATH}""#,
        base_url(state, headers)
    ));
    Some(format!("Bearer {}", parts.join(", ")))
}

/// RFC 9728 protected resource metadata (at the well-known path, and with `/mcp` appended).
pub async fn metadata(
    State(state): State<std::sync::Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let Some(jwt) = state.authorizer.jwt() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(issuer) = jwt.issuer() else {
        return refusal(
            &state,
            &headers,
            &AuthError::Unavailable("the identity provider has not answered yet".into()),
        );
    };
    let mut doc = json!({
        "resource": format!("{}/mcp", base_url(&state, &headers)),
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": state.gateway_name,
    });
    if !jwt.advertised_scopes().is_empty() {
        doc["scopes_supported"] = json!(jwt.advertised_scopes());
    }
    Json::with_status(
        StatusCode::OK,
        serde_json::to_vec(&doc).expect("JSON serialises"),
    )
}
