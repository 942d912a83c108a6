//! Server-to-client messages: telling clients that a list changed.
//! - Handshake era: `GET /mcp` with the session opens a stream on which each catalog rebuild
//!   becomes `notifications/tools/list_changed`, `notifications/prompts/list_changed` or
//!   `notifications/resources/list_changed`, for the lists that changed. It ends when the
//!   session does (expired or deleted).
//! - 2026-07-28: `subscriptions/listen` opens the stream for the kinds its filter asks for
//!   (`toolsListChanged`, `promptsListChanged`, `resourcesListChanged`); it starts with
//!   `notifications/subscriptions/acknowledged` naming what is honoured, and every message
//!   carries the subscription id (the listen request's JSON-RPC id) in `_meta`.
//! - Both: `notifications/resources/updated` for the resources the stream's session (or, in
//!   2026-07-28, its `resourceSubscriptions`) subscribed to, filtered from the targets' one
//!   broadcast of updates.
//! - Handshake era: what an MCP server sends the session unbidden on its own stream (a
//!   request for the client, under an id of the gateway's, or a log message), as the
//!   specification lets a server use its `GET` stream.
//!
//! A [`Listener`] yields the messages as JSON bytes; the HTTP layer frames them as SSE, sends
//! keep-alives, and bounds how many streams are open.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use super::jsonrpc::{self, Id, RpcError};
use super::session::SessionError;
use super::{McpService, session_header};
use crate::auth::Principal;
use crate::catalog::Versions;
use crate::targets::Adapter;
use crate::targets::context::Relay;
use crate::targets::mcp_server::McpAdapter;
use crate::targets::surface::ResourceUpdate;

/// Resources one `subscriptions/listen` stream may subscribe to.
const MAX_STREAM_RESOURCES: usize = 100;

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Which lists a stream tells about.
#[derive(Debug, Clone, Copy)]
struct Wants {
    tools: bool,
    prompts: bool,
    resources: bool,
}

/// One open notification stream.
pub struct Listener {
    /// Resource updates from the targets, filtered for this stream.
    updates: Option<broadcast::Receiver<ResourceUpdate>>,
    /// What this stream subscribed to on targets' own streams (2026-07-28
    /// `resourceSubscriptions`): released when it closes.
    watched: Vec<(Arc<McpAdapter>, Arc<str>, String)>,
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
    /// What MCP servers send this session unbidden (requests for the client, log
    /// messages), and the adapters it is attached to (detached when the stream closes).
    unbidden: Option<mpsc::Receiver<Vec<u8>>>,
    attached: Vec<Arc<McpAdapter>>,
    /// The sending side of `unbidden`, which names this stream to the adapters.
    unbidden_tx: Option<mpsc::Sender<Vec<u8>>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("session", &self.session.as_ref().map(|s| &s.0))
            .field("watched", &self.watched.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for (adapter, _, uri) in &self.watched {
            adapter.unwatch(uri);
        }
        if let (Some((id, _)), Some(tx)) = (&self.session, &self.unbidden_tx) {
            let key = crate::targets::CallContext::session_key(id);
            for adapter in &self.attached {
                adapter.detach(&key, tx);
            }
        }
    }
}

/// Messages MCP servers send one listening session unbidden that its stream holds.
const UNBIDDEN: usize = 64;

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
        let session = self
            .sessions
            .check(id, &principal.id)
            .map_err(NoStream::Session)?;
        let mut changes = self.catalog.subscribe();
        let seen = *changes.borrow_and_update();
        // The session's MCP servers may ask it things unbidden: on this stream.
        let key = crate::targets::CallContext::session_key(id);
        let (tx, unbidden) = mpsc::channel(UNBIDDEN);
        let relay = Relay {
            tx: tx.clone(),
            token: None,
            caps: session.client,
            asks: true,
            // Log messages are filtered when they are sent, at the level set by then.
            min_log: None,
            answers: self.answers.clone(),
            owner: principal.id.clone(),
        };
        let attached: Vec<Arc<McpAdapter>> = self
            .catalog
            .targets()
            .iter()
            .filter_map(|t| match &t.adapter {
                Adapter::Mcp(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        for adapter in &attached {
            adapter.attach(key.clone(), relay.clone());
        }
        Ok(Listener {
            updates: Some(self.updates.subscribe()),
            watched: Vec::new(),
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
            unbidden: Some(unbidden),
            attached,
            unbidden_tx: Some(tx),
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
        // Only what the gateway honours is acknowledged.
        // Resource subscriptions are honoured for URIs whose target takes them on the
        // gateway's own stream.
        let catalog = self.catalog.load();
        let mut watched = Vec::new();
        let mut honoured_uris = Vec::new();
        let asked_uris = wanted
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for uri in asked_uris
            .iter()
            .filter_map(Value::as_str)
            .take(MAX_STREAM_RESOURCES)
        {
            let Some(target) = catalog.resource_owner(uri) else {
                continue;
            };
            if let Adapter::Mcp(a) = &target.adapter
                && a.shares_subscriptions()
                && target.caps().is_some_and(|c| c.subscribe)
            {
                a.watch(uri);
                watched.push((a.clone(), Arc::from(target.name.as_str()), uri.to_string()));
                honoured_uris.push(Value::String(uri.to_string()));
            }
        }
        drop(catalog);
        let mut honoured = Map::new();
        if !honoured_uris.is_empty() {
            honoured.insert("resourceSubscriptions".into(), Value::Array(honoured_uris));
        }
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
        let updates = (!watched.is_empty()).then(|| self.updates.subscribe());
        let mut changes = (wants.tools || wants.prompts || wants.resources || updates.is_some())
            .then(|| self.catalog.subscribe());
        let seen = changes
            .as_mut()
            .map(|c| *c.borrow_and_update())
            .unwrap_or_default();
        Ok(Listener {
            updates,
            watched,
            changes,
            wants,
            seen,
            due: VecDeque::new(),
            session: None,
            subscription: Some(subscription),
            first: serde_json::to_vec(&ack).ok(),
            unbidden: None,
            attached: Vec::new(),
            unbidden_tx: None,
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
            let update = async {
                match listener.updates.as_mut() {
                    Some(u) => u.recv().await,
                    None => std::future::pending().await,
                }
            };
            let unbidden = async {
                match listener.unbidden.as_mut() {
                    Some(u) => u.recv().await,
                    None => std::future::pending().await,
                }
            };
            let changed = tokio::select! {
                c = changes.changed() => c,
                Some(message) = unbidden => {
                    if self.wanted_log(listener, &message) {
                        return Some(message);
                    }
                    continue;
                }
                u = update => {
                    match u {
                        Ok(u) => {
                            if let Some(note) = self.update_for(listener, &u) {
                                return Some(note);
                            }
                        }
                        // Missed updates cannot be told apart: the stream goes on.
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => listener.updates = None,
                    }
                    continue;
                }
            };
            changed.ok()?;
            let changes = listener.changes.as_mut()?;
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

    /// Whether an unbidden message may go out on the stream: anything but a log message
    /// below the level its session set (`logging/setLevel`, as set now).
    fn wanted_log(&self, listener: &Listener, message: &[u8]) -> bool {
        #[derive(serde::Deserialize)]
        struct Log {
            method: String,
            params: Params,
        }
        #[derive(serde::Deserialize)]
        struct Params {
            level: String,
        }
        let Ok(log) = serde_json::from_slice::<Log>(message) else {
            return true;
        };
        let Some((id, _)) = &listener.session else {
            return true;
        };
        let key = crate::targets::CallContext::session_key(id);
        let min = self.log_levels.lock().get(&key).copied();
        log.method != "notifications/message"
            || crate::targets::context::log_wanted(min, &log.params.level)
    }

    /// `notifications/resources/updated` for this stream, if it subscribed to what changed.
    fn update_for(&self, listener: &Listener, u: &ResourceUpdate) -> Option<Vec<u8>> {
        let wanted = match &listener.session {
            Some((id, _)) => {
                let key = crate::targets::CallContext::session_key(id);
                u.client.as_ref().is_none_or(|c| *c == key)
                    && self.is_subscribed(&key, &u.target, &u.uri)
            }
            None => {
                u.client.is_none()
                    && listener
                        .watched
                        .iter()
                        .any(|(_, t, uri)| **t == *u.target && *uri == u.uri)
            }
        };
        if !wanted {
            return None;
        }
        let mut note = json!({
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": u.uri},
        });
        if let Some(s) = &listener.subscription {
            note["params"]["_meta"] = json!({SUBSCRIPTION_ID: s});
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
