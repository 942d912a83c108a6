//! The per-call context: what the MCP layer knows about a `tools/call` that a target may need
//! (who is calling, from which session, with what request id and headers) and the one
//! deadline the whole call must finish by, credentials and connection set-up included.

use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::auth::Principal;

/// Where a call's progress goes: the client's `progressToken`, and the channel that carries
/// each `notifications/progress` (as JSON) to the client's response stream. Sending never
/// waits: a client that reads slowly misses progress, never the result.
#[derive(Debug, Clone)]
pub struct Progress {
    pub token: Box<RawValue>,
    pub tx: mpsc::Sender<Vec<u8>>,
}

impl Progress {
    /// Sends one progress notification with the client's token.
    pub fn send(&self, progress: &RawValue, total: Option<&RawValue>, message: Option<&str>) {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Params<'a> {
            progress_token: &'a RawValue,
            progress: &'a RawValue,
            #[serde(skip_serializing_if = "Option::is_none")]
            total: Option<&'a RawValue>,
            #[serde(skip_serializing_if = "Option::is_none")]
            message: Option<&'a str>,
        }
        #[derive(serde::Serialize)]
        struct Note<'a> {
            jsonrpc: &'static str,
            method: &'static str,
            params: Params<'a>,
        }
        let note = Note {
            jsonrpc: "2.0",
            method: "notifications/progress",
            params: Params {
                progress_token: &self.token,
                progress,
                total,
                message,
            },
        };
        if let Ok(bytes) = serde_json::to_vec(&note) {
            let _ = self.tx.try_send(bytes);
        }
    }
}

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
    /// Set when the client asked for progress and its response can carry it.
    pub progress: Option<&'a Progress>,
}

impl CallContext<'_> {
    /// The key under which per-client state at a target (an upstream session) is kept: the
    /// client's session, else its principal.
    pub fn client_key(&self) -> String {
        match self.session {
            Some(s) => Self::session_key(s),
            None => format!("principal:{}", self.principal.id),
        }
    }

    /// The client key of a gateway session.
    pub fn session_key(session: &str) -> String {
        format!("session:{session}")
    }
}
