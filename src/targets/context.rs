//! The per-call context: what the MCP layer knows about a `tools/call` that a target may need
//! (who is calling, from which session, with what request id and headers), the one deadline
//! the whole call must finish by, credentials and connection set-up included, and the
//! [`Relay`] that carries an upstream's messages for the client (progress, log messages,
//! elicitation, sampling and roots requests) to the client's response stream, and the
//! client's answers back.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::auth::Principal;

/// What a client said at `initialize` it can answer, so the gateway relays to it only the
/// requests it declared (and an upstream is told the client cannot, otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCaps {
    pub elicitation_form: bool,
    pub elicitation_url: bool,
    pub sampling: bool,
    pub roots: bool,
    /// The `io.modelcontextprotocol/tasks` extension (2026-07-28).
    pub tasks: bool,
}

impl ClientCaps {
    /// What the gateway declares for its own upstream sessions (the one it lists with, and
    /// calls through when the upstream has no sessions): everything it can relay, so that a
    /// server that offers tools only to clients that can answer them (elicitation,
    /// sampling, roots) lists them. Each client's own session declares only what that client
    /// declared; the gateway relays a request only to a client that declared it.
    pub const RELAYABLE: Self = Self {
        elicitation_form: true,
        elicitation_url: true,
        sampling: true,
        roots: true,
        tasks: false,
    };

    /// The `capabilities` of an `initialize` request. `elicitation: {}` means form mode only,
    /// as the specification says.
    pub fn of(capabilities: Option<&Value>) -> Self {
        let get = |k: &str| {
            capabilities
                .and_then(|c| c.get(k))
                .filter(|v| v.is_object())
        };
        let elicitation = get("elicitation");
        let modes = elicitation.map(|e| (e.get("form").is_some(), e.get("url").is_some()));
        let (form, url) = match modes {
            None => (false, false),
            Some((false, false)) => (true, false),
            Some(m) => m,
        };
        Self {
            elicitation_form: form,
            elicitation_url: url,
            sampling: get("sampling").is_some(),
            roots: get("roots").is_some(),
            tasks: get("extensions")
                .and_then(|e| e.get(crate::targets::surface::TASKS_EXTENSION))
                .is_some_and(Value::is_object),
        }
    }

    /// Whether the client can answer any request an upstream may send it.
    pub fn answers_any(self) -> bool {
        self.elicitation_form || self.elicitation_url || self.sampling || self.roots
    }

    pub fn bits(self) -> u8 {
        u8::from(self.elicitation_form)
            | u8::from(self.elicitation_url) << 1
            | u8::from(self.sampling) << 2
            | u8::from(self.roots) << 3
            | u8::from(self.tasks) << 4
    }

    pub fn from_bits(b: u8) -> Self {
        Self {
            elicitation_form: b & 1 != 0,
            elicitation_url: b & 2 != 0,
            sampling: b & 4 != 0,
            roots: b & 8 != 0,
            tasks: b & 16 != 0,
        }
    }

    /// The capabilities object the gateway declares for this client to an upstream.
    pub fn to_json(self) -> Value {
        let mut caps = serde_json::Map::new();
        if self.elicitation_form || self.elicitation_url {
            let mut modes = serde_json::Map::new();
            if self.elicitation_form {
                modes.insert("form".into(), json!({}));
            }
            if self.elicitation_url {
                modes.insert("url".into(), json!({}));
            }
            caps.insert("elicitation".into(), Value::Object(modes));
        }
        if self.sampling {
            caps.insert("sampling".into(), json!({}));
        }
        if self.roots {
            caps.insert("roots".into(), json!({}));
        }
        if self.tasks {
            caps.insert(
                "extensions".into(),
                json!({ crate::targets::surface::TASKS_EXTENSION: {} }),
            );
        }
        Value::Object(caps)
    }

    /// Whether the client can answer the server request `method` with these `params`.
    pub fn allows(self, method: &str, params: Option<&RawValue>) -> bool {
        match method {
            "elicitation/create" => {
                let url_mode = params.is_some_and(|p| {
                    serde_json::from_str::<Value>(p.get())
                        .ok()
                        .and_then(|v| v.get("mode").and_then(Value::as_str).map(|m| m == "url"))
                        .unwrap_or(false)
                });
                if url_mode {
                    self.elicitation_url
                } else {
                    self.elicitation_form
                }
            }
            "sampling/createMessage" => self.sampling,
            "roots/list" => self.roots,
            _ => false,
        }
    }
}

/// A call resumed after `input_required`: the client's `inputResponses`, and the upstream's
/// own `requestState` (opened from the gateway's sealed one).
#[derive(Debug, Clone)]
pub struct Resume {
    pub responses: Option<Box<RawValue>>,
    pub state: Option<String>,
}

/// The client's side of a call: the channel to its response stream, its progress token,
/// what it can answer, and where its answers come back. Sending never waits: a client that
/// reads slowly misses progress and log messages, never the result.
#[derive(Debug, Clone)]
pub struct Relay {
    pub tx: mpsc::Sender<Vec<u8>>,
    /// The client's `progressToken`, when it gave one.
    pub token: Option<Box<RawValue>>,
    pub caps: ClientCaps,
    /// Whether requests for the client may go on this stream: a handshake-era session's
    /// response. A 2026-07-28 client is asked through `input_required` instead.
    pub asks: bool,
    /// The lowest log level the client wants (`logging/setLevel`), as a severity rank;
    /// `None` relays every level.
    pub min_log: Option<u8>,
    pub answers: Arc<Answers>,
    /// Who may answer a relayed request: the caller's principal.
    pub owner: String,
}

impl Relay {
    /// Sends one progress notification with the client's token (none without a token).
    pub fn progress(&self, progress: &RawValue, total: Option<&RawValue>, message: Option<&str>) {
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
        let Some(token) = &self.token else {
            return;
        };
        let note = json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": Params { progress_token: token, progress, total, message },
        });
        self.send(&note);
    }

    /// Passes on a message to the client (a notification, or a request whose id is the
    /// gateway's own), if its stream has room.
    pub fn send(&self, message: &impl serde::Serialize) {
        if let Ok(bytes) = serde_json::to_vec(message) {
            let _ = self.tx.try_send(bytes);
        }
    }

    /// Sends the client a request of the gateway's own (`method` with `params`), if it
    /// declared it can answer it, its stream is still open, and not too many are waiting.
    pub fn ask(&self, method: &str, params: Option<&RawValue>) -> Option<Asked> {
        if !self.asks || !self.caps.allows(method, params) || self.tx.is_closed() {
            return None;
        }
        let (id, rx) = self.answers.expect(&self.owner)?;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        Some(Asked {
            id,
            rx: Some(rx),
            relay: self.clone(),
        })
    }

    /// Tells the client to stop working on the request `id` the gateway sent it, which will
    /// not be answered now, and forgets it.
    pub fn cancel(&self, id: &str, reason: &str) {
        self.answers.forget(id);
        self.send(&json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": id, "reason": reason},
        }));
    }
}

/// A request sent to the client, until it answers. Dropped unanswered (its call ended, or
/// its deadline passed), it is cancelled at the client.
#[derive(Debug)]
pub struct Asked {
    pub id: String,
    rx: Option<oneshot::Receiver<Box<RawValue>>>,
    relay: Relay,
}

impl Asked {
    /// The client's response (the whole JSON-RPC message); `None` if it can no longer come.
    pub async fn answer(&mut self) -> Option<Box<RawValue>> {
        let answer = self.rx.as_mut()?.await.ok();
        self.rx = None;
        answer
    }
}

impl Drop for Asked {
    fn drop(&mut self) {
        if self.rx.is_some() {
            self.relay
                .cancel(&self.id, "the request it was part of has ended");
        }
    }
}

/// The severity rank of a log level (RFC 5424 order, `debug` lowest); `None` if unknown.
pub fn log_rank(level: &str) -> Option<u8> {
    const LEVELS: [&str; 8] = [
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ];
    LEVELS.iter().position(|l| *l == level).map(|i| i as u8)
}

/// Whether a log message at `level` goes to a client that wants `min` and above (`None`:
/// every level); an unknown level goes only to a client that set none.
pub fn log_wanted(min: Option<u8>, level: &str) -> bool {
    match (min, log_rank(level)) {
        (None, _) => true,
        (Some(min), Some(rank)) => rank >= min,
        (Some(_), None) => false,
    }
}

/// Requests relayed to clients and not yet answered: the gateway's id for each, who may
/// answer it, and where the answer goes. Bounded; an id is unguessable and used once.
#[derive(Debug, Default)]
pub struct Answers {
    waiting: Mutex<HashMap<String, Waiter>>,
}

/// Who may answer a relayed request, and where the answer goes.
type Waiter = (String, oneshot::Sender<Box<RawValue>>);

/// Relayed requests waiting for an answer, across all clients.
const MAX_WAITING: usize = 10_000;

impl Answers {
    /// A fresh id for a request relayed to `owner`, and where its answer will arrive;
    /// `None` when too many are waiting.
    pub fn expect(&self, owner: &str) -> Option<(String, oneshot::Receiver<Box<RawValue>>)> {
        let mut waiting = self.waiting.lock();
        if waiting.len() >= MAX_WAITING {
            return None;
        }
        let key = crate::common::random::key();
        let id = format!(
            "mcp-gateway-{}",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &key[..18]
            )
        );
        let (tx, rx) = oneshot::channel();
        waiting.insert(id.clone(), (owner.to_string(), tx));
        Some((id, rx))
    }

    /// Delivers a client's response (the whole JSON-RPC message) to the request `id` it
    /// answers; `false` when no such request waits for `owner`.
    pub fn answer(&self, id: &str, owner: &str, response: Box<RawValue>) -> bool {
        let mut waiting = self.waiting.lock();
        match waiting.get(id) {
            Some((o, _)) if o == owner => {}
            _ => return false,
        }
        waiting
            .remove(id)
            .is_some_and(|(_, tx)| tx.send(response).is_ok())
    }

    /// Forgets a request that will not be answered (its call ended first).
    pub fn forget(&self, id: &str) {
        self.waiting.lock().remove(id);
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
    /// What the client declared it can answer (handshake era, from its session).
    pub client: ClientCaps,
    /// The client's answers to an earlier `input_required` result, to resume the call with.
    pub resume: Option<&'a Resume>,
    /// The client asks for the call to run as a task (2025-11-25 `task`: `{ttl}`); a target
    /// that cannot run it so answers as usual.
    pub task: Option<&'a RawValue>,
    /// Set when the client's response can carry messages from the target before the result
    /// (progress, log messages, requests for the client).
    pub relay: Option<&'a Relay>,
    /// Where the call's outcome and its time in the target are counted.
    pub metrics: &'a crate::metrics::Metrics,
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
