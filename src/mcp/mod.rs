//! MCP over one HTTP endpoint, for both eras of the protocol:
//! - handshake versions (2025-03-26, 2025-06-18, 2025-11-25): `initialize` negotiates the
//!   version and mints a session id (see [`session`]); later requests carry it;
//! - 2026-07-28: stateless; every request carries its version and client info in `_meta`,
//!   mirrored in the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers, which are
//!   checked against the body.
//!
//! [`McpService::handle_post`] decides the era and version of a request, checks its headers,
//! and dispatches it: `initialize`, `server/discover`, `ping` and `subscriptions/listen` here;
//! the lists in [`lists`]; `tools/call` in [`tools`]; `prompts/get`, `resources/read` and
//! `completion/complete` in [`forward`]. It knows the live catalog and hands each request to
//! its target with a [`CallContext`], never HTTP routing or a target's kind. Prompts,
//! resources and completions are advertised, and served, only when some target may offer
//! them.

mod accounting;
mod batch;
mod cancel;
mod era;
mod forward;
mod held;
mod input;
pub mod jsonrpc;
pub mod limits;
mod lists;
pub mod notify;
pub mod results;
pub mod session;
mod state;
mod tasks;
mod tools;
pub use crate::common::version;

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::catalog::Live;
use crate::config::GatewaySettings;
use crate::metrics::Metrics;
use crate::targets::CallContext;
use crate::targets::context::{Answers, ClientCaps, Relay};
use accounting::Seen;
use cancel::InFlight;
use era::{Era, Rejection, decode_header_value, header, session_header};
use jsonrpc::{Id, Incoming, RpcError};
use lists::List;
use session::{SessionError, Sessions};
use version::ProtocolVersion;

pub const HEADER_PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub const HEADER_SESSION_ID: &str = "mcp-session-id";
pub const HEADER_METHOD: &str = "mcp-method";
pub const HEADER_NAME: &str = "mcp-name";
/// How long clients may cache `tools/list` and `server/discover` (2026-07-28 `ttlMs`).
const LIST_TTL_MS: u64 = 300_000;

/// What the HTTP layer sends back.
#[derive(Debug)]
pub enum Outcome {
    /// A JSON-RPC response body with its status (and a new session id after `initialize`).
    Reply {
        status: http::StatusCode,
        body: Vec<u8>,
        session_id: Option<String>,
    },
    /// A notification or response was accepted: 202, no body.
    Accepted,
    /// A stream of notifications (`subscriptions/listen`), sent as SSE until it ends.
    Stream(Box<notify::Listener>),
    /// Refused by a rate limit: HTTP 429 with `Retry-After`, and this JSON-RPC error.
    Throttled {
        body: Vec<u8>,
        retry_after: std::time::Duration,
    },
}

impl Outcome {
    fn ok(body: Vec<u8>) -> Self {
        Self::Reply {
            status: http::StatusCode::OK,
            body,
            session_id: None,
        }
    }

    fn error(id: Option<&Id>, error: RpcError, modern: bool) -> Self {
        Self::Reply {
            status: results::http_status(&error, modern, id.is_some()),
            body: jsonrpc::failure(id, &error),
            session_id: None,
        }
    }
}

/// The MCP server the gateway presents.
pub struct McpService {
    pub catalog: Arc<Live>,
    settings: GatewaySettings,
    sessions: Sessions,
    page_size: usize,
    /// Requests relayed to clients, waiting for their answers.
    answers: Arc<Answers>,
    /// Calls held open for 2026-07-28 clients' answers.
    held: held::Held,
    /// Requests handshake-era clients may cancel.
    in_flight: InFlight,
    /// Seals the `requestState` of `input_required` results.
    sealer: state::Sealer,
    /// The log level each client set (`logging/setLevel`), by session (else principal).
    log_levels: parking_lot::Mutex<std::collections::HashMap<String, u8>>,
    /// Resource updates from the targets, for the clients' streams to filter.
    updates: crate::targets::surface::Updates,
    /// The resources each handshake-era session subscribed to: (target, URI).
    subscribed: parking_lot::Mutex<std::collections::HashMap<String, Subscribed>>,
    pub metrics: Arc<Metrics>,
    /// `rateLimits`.
    limits: limits::Limits,
}

/// One session's resource subscriptions.
type Subscribed = std::collections::HashSet<(String, String)>;

/// Resource subscriptions one session may hold, and sessions that may hold any.
const MAX_SUBSCRIPTIONS: usize = 100;
const MAX_SUBSCRIBED_SESSIONS: usize = 10_000;

impl<'a> Ask<'a> {
    /// The context a target gets for this request, with `timeout` from now as its deadline.
    fn context(&self, timeout: std::time::Duration) -> CallContext<'a> {
        CallContext {
            principal: self.principal,
            headers: self.headers,
            request_id: self.id.as_json(),
            session: self.era.session,
            deadline: tokio::time::Instant::now() + timeout,
            client: self.era.client,
            resume: None,
            task: None,
            relay: self.relay,
            metrics: self.metrics,
        }
    }
}

/// Clients whose log level is remembered; past it, all are forgotten (those clients get
/// every level again until they set one).
const MAX_LOG_LEVELS: usize = 10_000;

/// The key of a client's own settings: its session, else its principal.
fn client_key(era: &Era<'_>, principal: &Principal) -> String {
    match era.session {
        Some(s) => CallContext::session_key(s),
        None => format!("principal:{}", principal.id),
    }
}

/// One request being dispatched, and who asks.
struct Ask<'a> {
    id: &'a Id,
    era: &'a Era<'a>,
    headers: &'a http::HeaderMap,
    principal: &'a Principal,
    /// Where an upstream's messages for the client go, when its response can carry them.
    relay: Option<&'a Relay>,
    metrics: &'a Metrics,
}

impl McpService {
    pub fn new(
        catalog: Arc<Live>,
        settings: GatewaySettings,
        session_secret: &[u8],
        page_size: usize,
        updates: crate::targets::surface::Updates,
        metrics: Arc<Metrics>,
        limits: limits::Limits,
    ) -> Self {
        let sessions = Sessions::new(session_secret, settings.session_timeout);
        Self {
            catalog,
            settings,
            sessions,
            page_size: page_size.max(1),
            answers: Arc::new(Answers::default()),
            held: Default::default(),
            in_flight: Default::default(),
            sealer: state::Sealer::new(session_secret),
            log_levels: Default::default(),
            updates,
            subscribed: Default::default(),
            metrics,
            limits,
        }
    }

    /// Handles the body of a `POST /mcp`: one message, or a batch (2025-03-26 only).
    /// `progress`, when given, takes the progress notifications of a `tools/call` that asks
    /// for them (the response then streams them before the result).
    pub async fn handle_post(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        principal: &Principal,
        progress: Option<&tokio::sync::mpsc::Sender<Vec<u8>>>,
    ) -> Outcome {
        match jsonrpc::parse_body(body) {
            Err(e) => Outcome::error(None, e, false),
            Ok(jsonrpc::Body::One(message)) => self
                .message(headers, message, principal, false, progress)
                .await
                .unwrap_or(Outcome::Accepted),
            Ok(jsonrpc::Body::Batch(items)) => self.batch(headers, &items, principal).await,
        }
    }

    async fn dispatch(
        &self,
        headers: &http::HeaderMap,
        message: &RawValue,
        principal: &Principal,
        in_batch: bool,
        stream: Option<&tokio::sync::mpsc::Sender<Vec<u8>>>,
        seen: &mut Seen,
    ) -> Option<Outcome> {
        let (id, method, params) = match jsonrpc::classify(message) {
            Ok(Incoming::Request { id, method, params }) => {
                (id, method, params.unwrap_or_default())
            }
            Ok(Incoming::Response(Some(answered))) => {
                self.take_answer(&answered, message, principal);
                return None;
            }
            Ok(Incoming::Notification { method, params }) => {
                if method == "notifications/cancelled" {
                    self.cancelled(headers, params.as_ref(), principal);
                }
                return None;
            }
            Ok(Incoming::Response(None)) => return None,
            Err((id, e)) => {
                seen.method = Some(String::new());
                seen.error = Some(e.code);
                return Some(Outcome::error(id.as_ref(), e, false));
            }
        };
        seen.method = Some(method.clone());
        if method == "tools/call" {
            seen.tool = params
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if method == "initialize" {
            if in_batch {
                let e = RpcError::new(
                    jsonrpc::INVALID_REQUEST,
                    "`initialize` must not be part of a JSON-RPC batch",
                );
                seen.error = Some(e.code);
                return Some(Outcome::error(Some(&id), e, false));
            }
            return Some(self.initialize(&id, &params, principal));
        }
        let era = match self.era(headers, &method, &params, principal) {
            Ok(era) => era,
            Err(Rejection::Rpc(e, modern)) => {
                seen.error = Some(e.code);
                return Some(Outcome::error(Some(&id), e, modern));
            }
            Err(Rejection::Session(e)) => {
                seen.error = Some(jsonrpc::INVALID_REQUEST);
                let error =
                    RpcError::new(jsonrpc::INVALID_REQUEST, format!("Session rejected: {e}"));
                return Some(Outcome::Reply {
                    status: results::session_status(e),
                    body: jsonrpc::failure(Some(&id), &error),
                    session_id: None,
                });
            }
        };
        if let Some(throttled) = self
            .limited(seen, principal, headers, &method, &params, &id)
            .await
        {
            return Some(throttled);
        }
        let sources = self.catalog.load().sources;
        // The client's side of the request, when its response can carry messages first.
        let relay = stream.map(|tx| Relay {
            tx: tx.clone(),
            token: tools::progress_token(&params),
            caps: era.client,
            asks: !era.modern,
            min_log: self
                .log_levels
                .lock()
                .get(&client_key(&era, principal))
                .copied(),
            answers: self.answers.clone(),
            owner: principal.id.clone(),
        });
        let ask = Ask {
            id: &id,
            era: &era,
            headers,
            principal,
            relay: relay.as_ref(),
            metrics: &self.metrics,
        };
        let result = match (method.as_str(), era.modern) {
            ("tools/list", _) => self.list(&id, &params, &era, List::Tools).await,
            ("prompts/list", _) if sources.prompts => {
                self.list(&id, &params, &era, List::Prompts).await
            }
            ("prompts/get", _) if sources.prompts => {
                self.cancellable(&ask, self.prompts_get(&ask, &params))
                    .await
            }
            ("resources/list", _) if sources.resources => {
                self.list(&id, &params, &era, List::Resources).await
            }
            ("resources/templates/list", _) if sources.resources => {
                self.list(&id, &params, &era, List::Templates).await
            }
            ("resources/read", _) if sources.resources => {
                self.cancellable(&ask, self.resources_read(&ask, &params))
                    .await
            }
            ("completion/complete", _) if sources.completions => {
                self.cancellable(&ask, self.complete(&ask, &params)).await
            }
            ("logging/setLevel", _) if sources.logging => self.set_level(&ask, &params),
            ("resources/subscribe", false) if sources.subscribe => {
                self.subscribe_resource(&ask, &params, true).await
            }
            ("resources/unsubscribe", false) if sources.subscribe => {
                self.subscribe_resource(&ask, &params, false).await
            }
            ("tools/call", _) => self.cancellable(&ask, self.tools_call(&ask, &params)).await,
            ("tasks/get" | "tasks/update" | "tasks/cancel", true) if sources.tasks => {
                self.task_request(&ask, &method, &params).await
            }
            ("tasks/get" | "tasks/result" | "tasks/cancel", false) if sources.task_calls => {
                self.cancellable(&ask, self.task_request(&ask, &method, &params))
                    .await
            }
            ("server/discover", true) => Ok(jsonrpc::success(&id, &self.discover())),
            ("subscriptions/listen", true) => {
                return Some(match self.subscribe(&id, &params) {
                    Ok(listener) => Outcome::Stream(Box::new(listener)),
                    Err(e) => {
                        seen.error = Some(e.code);
                        Outcome::error(Some(&id), e, true)
                    }
                });
            }
            ("ping", false) => Ok(jsonrpc::success(&id, &json!({}))),
            _ => Err(RpcError::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        };
        Some(match result {
            Ok(body) => Outcome::ok(body),
            Err(e) => {
                seen.error = Some(e.code);
                Outcome::error(Some(&id), e, era.modern)
            }
        })
    }

    /// `logging/setLevel`: log messages relayed to this client from then on are of `level`
    /// or above.
    fn set_level(&self, ask: &Ask<'_>, params: &Map<String, Value>) -> Result<Vec<u8>, RpcError> {
        let rank = params
            .get("level")
            .and_then(Value::as_str)
            .and_then(crate::targets::context::log_rank)
            .ok_or_else(|| {
                RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`level` must be one of debug, info, notice, warning, error, critical, alert, emergency",
                )
            })?;
        let mut levels = self.log_levels.lock();
        if levels.len() >= MAX_LOG_LEVELS {
            levels.clear();
        }
        levels.insert(client_key(ask.era, ask.principal), rank);
        let mut result = json!({});
        if ask.era.modern {
            result["resultType"] = json!("complete");
        }
        Ok(jsonrpc::success(ask.id, &result))
    }

    /// Whether any target is an MCP server (whose upstream may send messages mid-call).
    pub fn has_mcp_targets(&self) -> bool {
        self.catalog
            .targets()
            .iter()
            .any(|t| matches!(t.adapter, crate::targets::Adapter::Mcp(_)))
    }

    /// Runs `work` for a request the client may cancel (one in a handshake-era session):
    /// cancelled, it is dropped where it is, and the client gets an error.
    async fn cancellable(
        &self,
        ask: &Ask<'_>,
        work: impl Future<Output = Result<Vec<u8>, RpcError>>,
    ) -> Result<Vec<u8>, RpcError> {
        let registered = ask
            .era
            .session
            .and_then(|s| InFlight::key(&ask.principal.id, s, ask.id.as_json()))
            .and_then(|key| self.in_flight.register(key));
        let Some(mut registered) = registered else {
            return work.await;
        };
        tokio::select! {
            done = work => done,
            () = registered.cancelled() => Err(RpcError::new(
                cancel::REQUEST_CANCELLED,
                "Request cancelled by the client",
            )),
        }
    }

    /// A client's `notifications/cancelled`: its request of that id in the same session
    /// stops, if it is still in flight.
    fn cancelled(
        &self,
        headers: &http::HeaderMap,
        params: Option<&Map<String, Value>>,
        principal: &Principal,
    ) {
        let Ok(Some(session)) = session_header(headers) else {
            return;
        };
        let Some(id) = params.and_then(|p| p.get("requestId")) else {
            return;
        };
        let key = InFlight::key(&principal.id, session, &id.to_string());
        if key.is_some_and(|k| self.in_flight.cancel(&k)) {
            tracing::debug!(request = %id, "a request was cancelled by its client");
        }
    }

    /// Routes a client's response to the relayed request it answers; one that answers
    /// nothing waiting for this principal is dropped.
    fn take_answer(&self, answered: &Id, message: &RawValue, principal: &Principal) {
        let Ok(id) = serde_json::from_str::<String>(answered.as_json()) else {
            return;
        };
        if !self.answers.answer(&id, &principal.id, message.to_owned()) {
            tracing::debug!(id, "a response that answers no relayed request was dropped");
        }
    }

    /// Handles `DELETE /mcp`: ends the session named by `Mcp-Session-Id`.
    pub fn handle_delete(
        &self,
        headers: &http::HeaderMap,
        principal: &Principal,
    ) -> http::StatusCode {
        let Some(id) = header(headers, HEADER_SESSION_ID) else {
            return http::StatusCode::BAD_REQUEST;
        };
        match self.sessions.check(id, &principal.id) {
            Ok(session) => match self.sessions.end(&session) {
                Ok(()) => {
                    // Its upstream sessions and subscriptions end with it.
                    let key = CallContext::session_key(id);
                    let held = self.subscribed.lock().remove(&key).unwrap_or_default();
                    for (target, uri) in held {
                        let owner = self.catalog.targets().iter().find(|t| t.name == target);
                        if let Some(crate::targets::Adapter::Mcp(a)) = owner.map(|t| &t.adapter)
                            && a.sessionless()
                        {
                            a.unwatch(&uri);
                        }
                    }
                    for target in self.catalog.targets() {
                        target.forget_client(&key);
                    }
                    http::StatusCode::NO_CONTENT
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a session could not be ended");
                    http::StatusCode::SERVICE_UNAVAILABLE
                }
            },
            Err(SessionError::WrongPrincipal) => http::StatusCode::FORBIDDEN,
            Err(_) => http::StatusCode::NOT_FOUND,
        }
    }

    fn initialize(&self, id: &Id, params: &Map<String, Value>, principal: &Principal) -> Outcome {
        let handshake: Vec<ProtocolVersion> = self
            .settings
            .supported_versions
            .iter()
            .copied()
            .filter(|v| !v.is_modern())
            .collect();
        let requested = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let version = match ProtocolVersion::parse(requested).filter(|v| handshake.contains(v)) {
            Some(v) => v,
            None => match handshake.last() {
                Some(v) => *v,
                None => return Outcome::error(Some(id), self.unsupported(requested), false),
            },
        };
        let mut result = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.handshake_capabilities(),
            "serverInfo": self.server_info(),
        });
        if let Some(i) = &self.settings.instructions {
            result["instructions"] = json!(i);
        }
        Outcome::Reply {
            status: http::StatusCode::OK,
            body: jsonrpc::success(id, &result),
            session_id: principal.is_identified().then(|| {
                let client = ClientCaps::of(params.get("capabilities"));
                self.sessions.mint(version, &principal.id, client)
            }),
        }
    }

    /// What the gateway can do: tools always; prompts, resources and completions when some
    /// target may offer them (one whose upstream has not said yet counts).
    fn capabilities(&self) -> Value {
        let sources = self.catalog.load().sources;
        let mut caps = Map::new();
        caps.insert("tools".into(), json!({"listChanged": true}));
        if sources.prompts {
            caps.insert("prompts".into(), json!({"listChanged": true}));
        }
        if sources.resources {
            caps.insert(
                "resources".into(),
                json!({"listChanged": true, "subscribe": sources.subscribe}),
            );
        }
        if sources.completions {
            caps.insert("completions".into(), json!({}));
        }
        if sources.logging {
            caps.insert("logging".into(), json!({}));
        }
        Value::Object(caps)
    }

    /// What `initialize` advertises: the capabilities, and task-augmented `tools/call`
    /// (2025-11-25) when some upstream takes it. Tasks are not listed (`tasks/list`): a
    /// list across targets and principals is not one any upstream can give.
    fn handshake_capabilities(&self) -> Value {
        let mut caps = self.capabilities();
        if self.catalog.load().sources.task_calls {
            caps["tasks"] = json!({"cancel": {}, "requests": {"tools": {"call": {}}}});
        }
        caps
    }

    fn server_info(&self) -> Value {
        json!({"name": self.settings.name, "version": env!("CARGO_PKG_VERSION")})
    }

    fn discover(&self) -> Value {
        let mut capabilities = self.capabilities();
        // The tasks extension is a 2026-07-28 one, offered when some upstream offers it.
        if self.catalog.load().sources.tasks {
            capabilities["extensions"] = json!({ crate::targets::surface::TASKS_EXTENSION: {} });
        }
        let mut result = json!({
            "resultType": "complete",
            "supportedVersions": self.supported_list(),
            "capabilities": capabilities,
            "_meta": {"io.modelcontextprotocol/serverInfo": self.server_info()},
            "ttlMs": LIST_TTL_MS,
            "cacheScope": "public",
        });
        if let Some(i) = &self.settings.instructions {
            result["instructions"] = json!(i);
        }
        result
    }
}

/// Whether a request's response may carry messages before its result, so it is served
/// beside a stream (a cheap look at the bytes before any parsing): it asks for progress, or
/// it is a call (or a task's result) in a session of a client that may be asked something
/// by an upstream MCP server.
pub fn may_relay(body: &[u8], in_session: bool, mcp_targets: bool) -> bool {
    let find = |needle: &[u8]| memchr::memmem::find(body, needle).is_some();
    find(b"\"progressToken\"")
        || (in_session
            && mcp_targets
            && (find(b"tools/call")
                || find(b"prompts/get")
                || find(b"resources/read")
                || find(b"tasks/result")))
}
