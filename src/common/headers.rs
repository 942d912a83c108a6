//! The one list of header names that neither a tool argument nor (later) header propagation
//! may set on an outbound request. The HTTP client owns framing and routing; the gateway's
//! credentials own authentication. A declared header parameter with one of these names is
//! left out at import (with a warning), and the request builder refuses them again at send.
//!
//! - hop-by-hop and framing (RFC 9110 §7.6.1, RFC 9112): `Connection`, `Keep-Alive`, `TE`,
//!   `Trailer`, `Transfer-Encoding`, `Upgrade`, `Content-Length`, `Expect`,
//!   `Proxy-Connection`;
//! - routing: `Host` (virtual-host switching on a shared ingress), `Forwarded`,
//!   `X-Forwarded-*`, `X-Real-IP`, `Via`;
//! - credentials: `Authorization`, `Proxy-Authorization`, `Proxy-Authenticate`, `Cookie`,
//!   `Set-Cookie`, and everything `X-Amz-*` (SigV4's date, token and content hash), plus the
//!   target's own API key header (checked by the caller, which knows its name).
//!
//! `Accept` and `Content-Type` are not forbidden, but OpenAPI says to ignore them as
//! parameters; the importer does.

/// Exact names (lower case).
const FORBIDDEN: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "cookie",
    "expect",
    "forwarded",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "x-real-ip",
];

/// Name prefixes (lower case).
const FORBIDDEN_PREFIXES: &[&str] = &["x-amz-", "x-forwarded-", "proxy-"];

/// Whether `name` (any case) must never be set from request data.
pub fn is_forbidden(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    FORBIDDEN.contains(&lower.as_str()) || FORBIDDEN_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Headers a Smithy model may bind members to: the forbidden ones, except that AWS services
/// model their own `X-Amz-*` headers (`X-Amz-Invocation-Type`); SigV4's own stay refused.
pub fn is_forbidden_modelled(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    match lower.strip_prefix("x-amz-") {
        Some(rest) => matches!(
            rest,
            "date" | "security-token" | "content-sha256" | "target" | "user-agent"
        ),
        None => is_forbidden(&lower),
    }
}

/// Whether `value` may go out as a header value: visible ASCII, space and tab only. (`http`
/// also accepts obs-text bytes 0x80-0xFF, which receivers read differently and which SigV4
/// cannot sign.)
pub fn is_sendable_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_routing_and_credential_headers_are_forbidden() {
        for name in [
            "Host",
            "Content-Length",
            "TRANSFER-ENCODING",
            "Connection",
            "X-Amz-Security-Token",
            "x-amz-date",
            "X-Forwarded-Host",
            "Cookie",
            "Proxy-Foo",
        ] {
            assert!(is_forbidden(name), "{name}");
        }
        for name in ["X-Trace", "If-Match", "X-Request-Id", "Accept-Language"] {
            assert!(!is_forbidden(name), "{name}");
        }
    }

    #[test]
    fn only_visible_ascii_values_are_sendable() {
        assert!(is_sendable_value("abc def\tghi"));
        assert!(!is_sendable_value("café"));
        assert!(!is_sendable_value("a\r\nb"));
        assert!(!is_sendable_value("a\u{7f}"));
    }
}
