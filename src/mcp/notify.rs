//! Server-to-client messages: telling clients that a list changed.
//! - Handshake era: `GET /mcp` with the session opens a stream on which each catalog rebuild
//!   becomes `notifications/tools/list_changed`, `notifications/prompts/list_changed` or
//!   `notifications/resources/list_changed`, for the lists that changed. It ends when the
//!   session does (expired or deleted).
//! - 2026-07-28: `subscriptions/listen` opens the stream for the kinds its filter asks for
//!   (`toolsListChanged`, `promptsListChanged`, `resourcesListChanged`); it starts with
//!   `notifications/subscriptions/acknowledged` naming what is honoured, and every message
//!   carries the subscription id (the listen request's JSON-RPC id) in `_meta`.
//!
//! A [`Listener`] yields the messages as JSON bytes; the HTTP layer frames them as SSE, sends
//! keep-alives, and bounds how many streams are open.

use std::collections::VecDeque;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::jsonrpc::{self, Id, RpcError};
use super::session::SessionError;
use super::{McpService, session_header};
use crate::auth::Principal;
use crate::catalog::Versions;

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Which lists a stream tells about.
#[derive(Debug, Clone, Copy)]
struct Wants {
    tools: bool,
    prompts: bool,
    resources: bool,
}

/// One open notification stream.
#[derive(Debug)]
pub struct Listener {
    /// Catalog versions; `None` when the client asked for nothing the gateway sends.
    changes: Option<watch::Receiver<Versions>>,
    wants: Wants,
    /// The versions last told about.
    seen: Versions,
    /// Notifications due, oldest first.
    due: VecDeque<&'static str>,
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
        let seen = *changes.borrow_and_update();
        Ok(Listener {
            changes: Some(changes),
            wants: Wants {
                tools: true,
                prompts: true,
                resources: true,
            },
            seen,
            due: VecDeque::new(),
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
        let asks = |k: &str| wanted.get(k) == Some(&Value::Bool(true));
        let wants = Wants {
            tools: asks("toolsListChanged"),
            prompts: asks("promptsListChanged"),
            resources: asks("resourcesListChanged"),
        };
        let subscription = RawValue::from_string(id.as_json().to_string())
            .map_err(|_| RpcError::new(jsonrpc::INVALID_REQUEST, "unreadable id"))?;
        // Only what the gateway honours is acknowledged: list changes (not yet resource
        // subscriptions).
        let mut honoured = Map::new();
        for (key, on) in [
            ("toolsListChanged", wants.tools),
            ("promptsListChanged", wants.prompts),
            ("resourcesListChanged", wants.resources),
        ] {
            if on {
                honoured.insert(key.into(), Value::Bool(true));
            }
        }
        let ack = json!({
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {
                "_meta": {SUBSCRIPTION_ID: subscription},
                "notifications": honoured,
            },
        });
        // Nothing honoured: the stream carries the acknowledgement and keep-alives only.
        let mut changes =
            (wants.tools || wants.prompts || wants.resources).then(|| self.catalog.subscribe());
        let seen = changes
            .as_mut()
            .map(|c| *c.borrow_and_update())
            .unwrap_or_default();
        Ok(Listener {
            changes,
            wants,
            seen,
            due: VecDeque::new(),
            session: None,
            subscription: Some(subscription),
            first: serde_json::to_vec(&ack).ok(),
        })
    }

    /// The stream's next message; `None` when it is over (its session ended, or the catalog
    /// is gone). Several rebuilds in a row become one message per list that changed.
    pub async fn next(&self, listener: &mut Listener) -> Option<Vec<u8>> {
        if let Some(first) = listener.first.take() {
            return Some(first);
        }
        while listener.due.is_empty() {
            let Some(changes) = listener.changes.as_mut() else {
                std::future::pending::<()>().await;
                return None;
            };
            changes.changed().await.ok()?;
            let now = *changes.borrow_and_update();
            let (was, wants) = (listener.seen, listener.wants);
            for (changed, wanted, method) in [
                (
                    now.tools != was.tools,
                    wants.tools,
                    "notifications/tools/list_changed",
                ),
                (
                    now.prompts != was.prompts,
                    wants.prompts,
                    "notifications/prompts/list_changed",
                ),
                (
                    now.resources != was.resources,
                    wants.resources,
                    "notifications/resources/list_changed",
                ),
            ] {
                if changed && wanted {
                    listener.due.push_back(method);
                }
            }
            listener.seen = now;
        }
        if let Some((id, principal)) = &listener.session {
            self.sessions.check(id, principal).ok()?;
        }
        let method = listener.due.pop_front()?;
        let mut note = json!({"jsonrpc": "2.0", "method": method});
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
