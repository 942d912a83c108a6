//! Server-to-client messages: telling clients that the tool list changed.
//! - Handshake era: `GET /mcp` with the session opens a stream on which each catalog rebuild
//!   becomes `notifications/tools/list_changed`. It ends when the session does (expired or
//!   deleted).
//! - 2026-07-28: `subscriptions/listen` with `toolsListChanged` opens the stream; it starts
//!   with `notifications/subscriptions/acknowledged` and every message carries the
//!   subscription id (the listen request's JSON-RPC id) in `_meta`.
//!
//! A [`Listener`] yields the messages as JSON bytes; the HTTP layer frames them as SSE, sends
//! keep-alives, and bounds how many streams are open.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::jsonrpc::{self, Id, RpcError};
use super::session::SessionError;
use super::{McpService, session_header};
use crate::auth::Principal;

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// One open notification stream.
#[derive(Debug)]
pub struct Listener {
    /// Catalog generations; `None` when the client asked for nothing the gateway sends.
    changes: Option<watch::Receiver<u64>>,
    /// The session the stream belongs to (handshake era): it ends with it.
    session: Option<(String, String)>,
    /// The subscription id (2026-07-28).
    subscription: Option<Box<RawValue>>,
    /// Sent before anything else (the acknowledgement).
    first: Option<Vec<u8>>,
}

/// Why no handshake-era stream is opened.
#[derive(Debug)]
pub enum NoStream {
    /// No session: the gateway has nothing to say to a client it cannot address (405).
    NoSession,
    Session(SessionError),
}

impl McpService {
    /// A `GET /mcp` stream for the session in `headers`.
    pub fn listen(
        &self,
        headers: &http::HeaderMap,
        principal: &Principal,
    ) -> Result<Listener, NoStream> {
        let id = session_header(headers)
            .map_err(NoStream::Session)?
            .ok_or(NoStream::NoSession)?;
        self.sessions
            .check(id, &principal.id)
            .map_err(NoStream::Session)?;
        let mut changes = self.catalog.subscribe();
        changes.mark_unchanged();
        Ok(Listener {
            changes: Some(changes),
            session: Some((id.to_string(), principal.id.clone())),
            subscription: None,
            first: None,
        })
    }

    /// `subscriptions/listen` (2026-07-28): the stream, or the error for a bad filter.
    pub(super) fn subscribe(
        &self,
        id: &Id,
        params: &Map<String, Value>,
    ) -> Result<Listener, RpcError> {
        let wanted = params
            .get("notifications")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`notifications` (the filter) is required",
                )
            })?;
        let tools = wanted.get("toolsListChanged") == Some(&Value::Bool(true));
        let subscription = RawValue::from_string(id.as_json().to_string())
            .map_err(|_| RpcError::new(jsonrpc::INVALID_REQUEST, "unreadable id"))?;
        // Only what the gateway honours is acknowledged: tool list changes.
        let honoured = if tools {
            json!({"toolsListChanged": true})
        } else {
            json!({})
        };
        let ack = json!({
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {
                "_meta": {SUBSCRIPTION_ID: subscription},
                "notifications": honoured,
            },
        });
        // Nothing honoured: the stream carries the acknowledgement and keep-alives only.
        let changes = tools.then(|| {
            let mut changes = self.catalog.subscribe();
            changes.mark_unchanged();
            changes
        });
        Ok(Listener {
            changes,
            session: None,
            subscription: Some(subscription),
            first: serde_json::to_vec(&ack).ok(),
        })
    }

    /// The stream's next message; `None` when it is over (its session ended, or the catalog
    /// is gone). Several rebuilds in a row become one message.
    pub async fn next(&self, listener: &mut Listener) -> Option<Vec<u8>> {
        if let Some(first) = listener.first.take() {
            return Some(first);
        }
        match listener.changes.as_mut() {
            Some(changes) => {
                changes.changed().await.ok()?;
                changes.borrow_and_update();
            }
            None => std::future::pending::<()>().await,
        }
        if let Some((id, principal)) = &listener.session {
            self.sessions.check(id, principal).ok()?;
        }
        let mut note = json!({
            "jsonrpc": "2.0",
            "method": "notifications/tools/list_changed",
        });
        if let Some(s) = &listener.subscription {
            note["params"] = json!({"_meta": {SUBSCRIPTION_ID: s}});
        }
        serde_json::to_vec(&note).ok()
    }

    /// Whether the stream may stay open (its session is still valid).
    pub fn still_open(&self, listener: &Listener) -> bool {
        match &listener.session {
            Some((id, principal)) => self.sessions.check(id, principal).is_ok(),
            None => true,
        }
    }
}
