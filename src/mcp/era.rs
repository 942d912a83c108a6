//! Which era and version a request is of, checked before it is dispatched: a handshake-era
//! request names its version in `MCP-Protocol-Version` and belongs to a session (checked,
//! and the principal's); a 2026-07-28 request names it in `_meta`, and its `Mcp-Method` and
//! `Mcp-Name` headers must agree with its body.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::jsonrpc::{self, RpcError};
use super::session::SessionError;
use super::version::ProtocolVersion;
use super::{HEADER_METHOD, HEADER_NAME, HEADER_PROTOCOL_VERSION, HEADER_SESSION_ID, McpService};
use crate::auth::Principal;
use crate::targets::context::ClientCaps;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// Why a request is refused before dispatch.
pub(super) enum Rejection {
    /// A JSON-RPC error; `true` when the request is of the stateless era.
    Rpc(RpcError, bool),
    Session(SessionError),
}

/// How one request is being served.
pub(super) struct Era<'a> {
    pub version: ProtocolVersion,
    pub modern: bool,
    /// The session presented (handshake era), checked.
    pub session: Option<&'a str>,
    /// What the client declared at `initialize` it can answer (handshake era).
    pub client: ClientCaps,
}

impl McpService {
    pub(super) fn supported_list(&self) -> Vec<&'static str> {
        self.settings
            .supported_versions
            .iter()
            .rev()
            .map(|v| v.as_str())
            .collect()
    }

    pub(super) fn unsupported(&self, requested: &str) -> RpcError {
        RpcError::new(
            jsonrpc::UNSUPPORTED_PROTOCOL_VERSION,
            format!("Unsupported protocol version: {requested}"),
        )
        .with_data(json!({"supported": self.supported_list(), "requested": requested}))
    }

    /// Decides the era and version of a non-`initialize` request and checks its headers.
    pub(super) fn era<'h>(
        &self,
        headers: &'h http::HeaderMap,
        method: &str,
        params: &Map<String, Value>,
        principal: &Principal,
    ) -> Result<Era<'h>, Rejection> {
        let served = |v: ProtocolVersion| self.settings.supported_versions.contains(&v);
        // A present but unreadable header is not "absent": it gets the unsupported-version error.
        let header_version = match headers.get(HEADER_PROTOCOL_VERSION).map(|v| v.to_str()) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => {
                return Err(Rejection::Rpc(
                    self.unsupported("(not visible ASCII)"),
                    true,
                ));
            }
        };
        let parsed_header = match header_version {
            Some(h) => match ProtocolVersion::parse(h).filter(|v| served(*v)) {
                Some(v) => Some(v),
                None => return Err(Rejection::Rpc(self.unsupported(h), true)),
            },
            None => None,
        };
        let meta_version = params
            .get("_meta")
            .and_then(|m| m.get(META_VERSION))
            .and_then(Value::as_str);
        // The header decides which checks apply: a 2026-07-28 header cannot be talked down to
        // the handshake era by naming an older version in `_meta` (the body must then match
        // the header, and does not). A stateless `_meta` under a handshake header, or with no
        // header at all, is checked as stateless too, and fails for the missing header.
        let meta_modern =
            meta_version.map(|m| ProtocolVersion::parse(m).is_none_or(ProtocolVersion::is_modern));
        let modern = match parsed_header {
            Some(h) => h.is_modern() || meta_modern == Some(true),
            None => meta_modern == Some(true),
        };
        if modern {
            return self
                .modern_era(headers, method, params, header_version, meta_version)
                .map_err(|e| Rejection::Rpc(e, true));
        }
        // Handshake era: the session, when presented, must be valid and carries the version.
        if let Some(id) = session_header(headers).map_err(Rejection::Session)? {
            let session = self
                .sessions
                .check(id, &principal.id)
                .map_err(Rejection::Session)?;
            // A served version in the header wins: some clients negotiate one version and then
            // label requests with another; neither specification revision forbids it.
            return Ok(Era {
                version: parsed_header.unwrap_or(session.version),
                modern: false,
                session: Some(id),
                client: session.client,
            });
        }
        // No session (as AgentCore allows): the header's version, else 2025-03-26 as the
        // specification says for clients that send none, else the oldest handshake version served.
        let version = parsed_header
            .or_else(|| {
                served(ProtocolVersion::V2025_03_26).then_some(ProtocolVersion::V2025_03_26)
            })
            .or_else(|| {
                self.settings
                    .supported_versions
                    .iter()
                    .copied()
                    .find(|v| !v.is_modern())
            });
        match version {
            Some(version) => Ok(Era {
                version,
                modern: false,
                session: None,
                client: ClientCaps::default(),
            }),
            None => Err(Rejection::Rpc(
                self.unsupported(header_version.unwrap_or("2025-03-26")),
                true,
            )),
        }
    }

    fn modern_era(
        &self,
        headers: &http::HeaderMap,
        method: &str,
        params: &Map<String, Value>,
        header_version: Option<&str>,
        meta_version: Option<&str>,
    ) -> Result<Era<'static>, RpcError> {
        let mismatch = |msg: String| {
            RpcError::new(jsonrpc::HEADER_MISMATCH, format!("Header mismatch: {msg}"))
        };
        let Some(meta) = meta_version else {
            return Err(mismatch(format!(
                "MCP-Protocol-Version is {} but the body's _meta has no `{META_VERSION}`",
                header_version.unwrap_or("")
            )));
        };
        match header_version {
            None => {
                return Err(mismatch(
                    "the MCP-Protocol-Version header is missing".into(),
                ));
            }
            Some(h) if h != meta => {
                return Err(mismatch(format!(
                    "MCP-Protocol-Version header value '{h}' does not match body value '{meta}'"
                )));
            }
            Some(_) => {}
        }
        let version = ProtocolVersion::parse(meta)
            .filter(|v| self.settings.supported_versions.contains(v))
            .ok_or_else(|| self.unsupported(meta))?;
        match header(headers, HEADER_METHOD) {
            None => return Err(mismatch("the Mcp-Method header is missing".into())),
            Some(m) if m != method => {
                return Err(mismatch(format!(
                    "Mcp-Method header value '{m}' does not match body value '{method}'"
                )));
            }
            Some(_) => {}
        }
        if matches!(method, "tools/call" | "prompts/get" | "resources/read") {
            let body_name = params
                .get("name")
                .or_else(|| params.get("uri"))
                .and_then(Value::as_str)
                .unwrap_or("");
            match header(headers, HEADER_NAME).map(decode_header_value) {
                None => return Err(mismatch("the Mcp-Name header is missing".into())),
                Some(None) => {
                    return Err(mismatch("the Mcp-Name header is not valid base64".into()));
                }
                Some(Some(n)) if n != body_name => {
                    return Err(mismatch(format!(
                        "Mcp-Name header value '{n}' does not match body value '{body_name}'"
                    )));
                }
                Some(Some(_)) => {}
            }
        }
        let client = params
            .get("_meta")
            .and_then(|m| m.get(META_CLIENT_CAPABILITIES));
        Ok(Era {
            version,
            modern: true,
            session: None,
            client: ClientCaps::of(client),
        })
    }
}

pub(super) fn header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `Mcp-Session-Id` presented, if any. One that cannot be read (not visible ASCII, or
/// sent twice) is an unknown session, not "no session".
pub(super) fn session_header(headers: &http::HeaderMap) -> Result<Option<&str>, SessionError> {
    let mut presented = headers.get_all(HEADER_SESSION_ID).iter();
    match (presented.next(), presented.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| SessionError::Unknown),
        (Some(_), Some(_)) => Err(SessionError::Unknown),
    }
}

/// Decodes the `=?base64?...?=` sentinel form of `Mcp-Name`; plain values pass through.
pub(super) fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?="),
            Some("Hello, 世界".into())
        );
        assert_eq!(decode_header_value("plain"), Some("plain".into()));
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }
}
