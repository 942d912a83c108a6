//! The per-call context: what the MCP layer knows about a `tools/call` that a target may need
//! (who is calling, from which session, with what request id and headers) and the one
//! deadline the whole call must finish by, credentials and connection set-up included.

use tokio::time::Instant;

use crate::auth::Principal;

/// One call's context, borrowed from the request being served.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    pub principal: &'a Principal,
    /// The inbound request's headers (for propagation; never forwarded wholesale).
    pub headers: &'a http::HeaderMap,
    /// The JSON-RPC id of the client's request, as JSON text.
    pub request_id: &'a str,
    /// The client's session with the gateway, when it has one (handshake era).
    pub session: Option<&'a str>,
    /// When the call must have finished: the target's timeout from the start of the call.
    pub deadline: Instant,
}

impl CallContext<'_> {
    /// The key under which per-client state at a target (an upstream session) is kept: the
    /// client's session, else its principal.
    pub fn client_key(&self) -> String {
        match self.session {
            Some(s) => format!("session:{s}"),
            None => format!("principal:{}", self.principal.id),
        }
    }
}
