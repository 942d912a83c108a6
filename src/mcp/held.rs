//! Calls held open for a 2026-07-28 client's input (`tools/call`, `prompts/get`,
//! `resources/read`). A handshake-era upstream asks its client
//! mid-call, on the call's stream, and waits; a 2026-07-28 client can only be asked with an
//! `input_required` result, after which it sends a new request. So the gateway runs such a
//! client's call to an MCP-server target on a task of its own: when the upstream asks, the
//! client gets `input_required` (the questions under the gateway's ids, and a sealed state
//! naming the held call), and the call waits here; the client's retry delivers the answers
//! and waits for what comes next (the result, or more questions).
//!
//! A held call lives until its deadline (the target's timeout from the first request), on
//! this gateway only; there are at most [`MAX_HELD`], and a call nobody waits for any more
//! is aborted.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::jsonrpc::{self, RpcError};
use super::state::{Pending, STATE_TTL};
use super::{Ask, McpService};
use crate::auth::Principal;
use crate::catalog::Entry;
use crate::targets::context::{Answers, ClientCaps, Relay, Resume};
use crate::targets::mcp_server::client::Answer;
use crate::targets::{CallContext, CallError, Target, ToolOutput};

/// Calls held open at once, across all clients.
pub const MAX_HELD: usize = 1_000;
/// Messages from the upstream a held call buffers (progress, log messages, questions).
const BUFFERED: usize = 64;

/// What a `tools/call` ends with.
pub type Outcome = Result<ToolOutput, CallError>;

/// What a held call does: a `tools/call`, or another request that may need input
/// (`prompts/get`, `resources/read`) with its upstream parameters written out.
pub enum Work {
    Tool {
        entry: Entry,
        args: Value,
    },
    Request {
        target: Arc<Target>,
        method: &'static str,
        /// A JSON object (it is flattened into the request beside `_meta`, which a raw
        /// value cannot be).
        params: Value,
        name: Option<String>,
    },
}

/// What a held call ended with, by its kind of work.
pub enum Done {
    Tool(Outcome),
    Answer(Result<Answer, CallError>),
}

/// A call running on its own task: the messages its upstream sends for the client, and its
/// outcome. Dropped, the call is aborted.
pub struct Call {
    messages: mpsc::Receiver<Vec<u8>>,
    task: JoinHandle<Done>,
    deadline: Instant,
    /// The gateway's ids of the questions the client was asked and has not answered.
    asked: Vec<String>,
    /// Whether the work is a `tools/call` (what a task that stopped short ends with).
    tool: bool,
}

impl Drop for Call {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the client is to do next.
pub enum Turn {
    /// The call ended.
    Done(Done),
    /// The upstream asks: the client's `inputRequests`, keyed by the gateway's ids.
    Asks(Map<String, Value>),
}

/// Everything a call needs, owned, so that it can outlive the request that started it.
pub struct Start {
    pub work: Work,
    pub principal: Principal,
    pub headers: http::HeaderMap,
    pub request_id: String,
    pub client: ClientCaps,
    pub token: Option<Box<RawValue>>,
    pub resume: Option<Resume>,
    pub deadline: Instant,
    pub answers: Arc<Answers>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Call {
    /// Starts the call on a task of its own, its upstream's messages for the client kept
    /// for [`Call::next`].
    pub fn start(s: Start) -> Self {
        let (tx, messages) = mpsc::channel(BUFFERED);
        let deadline = s.deadline;
        let tool = matches!(s.work, Work::Tool { .. });
        let task = tokio::spawn(async move {
            let relay = Relay {
                tx,
                token: s.token,
                caps: s.client,
                asks: true,
                min_log: None,
                answers: s.answers,
                owner: s.principal.id.clone(),
            };
            let request_id = s.request_id;
            let ctx = CallContext {
                principal: &s.principal,
                headers: &s.headers,
                request_id: &request_id,
                session: None,
                deadline: s.deadline,
                client: s.client,
                resume: s.resume.as_ref(),
                task: None,
                relay: Some(&relay),
                metrics: &s.metrics,
            };
            match s.work {
                Work::Tool { entry, args } => {
                    Done::Tool(entry.target.call(&ctx, &entry.tool, &args).await)
                }
                Work::Request {
                    target,
                    method,
                    params,
                    name,
                } => Done::Answer(
                    target
                        .mcp_request(&ctx, method, &params, name.as_deref())
                        .await,
                ),
            }
        });
        Self {
            messages,
            task,
            deadline,
            asked: Vec::new(),
            tool,
        }
    }

    /// When the call must have ended.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Runs the call until it ends or its upstream asks the client something. Progress
    /// and log messages meanwhile go to `relay` (the client's stream), when there is one.
    pub async fn next(&mut self, relay: Option<&Relay>) -> Turn {
        loop {
            tokio::select! {
                done = &mut self.task => return Turn::Done(self.ended(done)),
                message = self.messages.recv() => {
                    let Some(message) = message else {
                        // Every sender is gone: the call is ending.
                        let done = (&mut self.task).await;
                        return Turn::Done(self.ended(done));
                    };
                    let mut asks = Map::new();
                    self.take(message, &mut asks, relay);
                    // Questions sent together are asked together.
                    while let Ok(more) = self.messages.try_recv() {
                        self.take(more, &mut asks, relay);
                    }
                    if !asks.is_empty() {
                        return Turn::Asks(asks);
                    }
                }
            }
        }
    }

    /// The call's end; a task that stopped short (it panicked) ended with an error of its
    /// kind.
    fn ended(&self, done: Result<Done, tokio::task::JoinError>) -> Done {
        done.unwrap_or(if self.tool {
            Done::Tool(Err(CallError::Aborted))
        } else {
            Done::Answer(Err(CallError::Aborted))
        })
    }

    /// A message for the client: a question is kept for `asks`; anything else is passed on.
    fn take(&mut self, message: Vec<u8>, asks: &mut Map<String, Value>, relay: Option<&Relay>) {
        #[derive(serde::Deserialize)]
        struct Question {
            id: String,
            method: String,
            #[serde(default)]
            params: Option<Value>,
        }
        match serde_json::from_slice::<Question>(&message) {
            Ok(q) => {
                let mut request = json!({"method": q.method});
                if let Some(p) = q.params {
                    request["params"] = p;
                }
                self.asked.push(q.id.clone());
                asks.insert(q.id, request);
            }
            Err(_) => {
                if let Some(r) = relay {
                    let _ = r.tx.try_send(message);
                }
            }
        }
    }

    /// Delivers the client's `inputResponses` to the questions it was asked; one it left
    /// unanswered is answered for it with an error, so the upstream does not wait on it.
    pub fn answer(&mut self, responses: Option<&RawValue>, answers: &Answers, owner: &str) {
        let given: Map<String, Value> = responses
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default();
        for id in self.asked.drain(..) {
            let message = match given.get(&id) {
                Some(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                None => json!({"jsonrpc": "2.0", "id": id, "error": {
                    "code": -32600, "message": "the client gave no answer to this request"}}),
            };
            if let Ok(message) = serde_json::value::to_raw_value(&message) {
                answers.answer(&id, owner, message);
            }
        }
    }
}

/// The calls held for their clients' answers, by a key of the gateway's own.
#[derive(Default)]
pub struct Held {
    calls: Mutex<HashMap<String, (String, Call)>>,
}

impl Held {
    /// Keeps `call` for `owner` until its deadline; its key, or the call back when too many
    /// are held.
    pub fn keep(&self, owner: &str, call: Call) -> Result<String, Call> {
        let mut calls = self.calls.lock();
        if calls.len() >= MAX_HELD {
            let now = Instant::now();
            calls.retain(|_, (_, c)| c.deadline > now && !c.task.is_finished());
        }
        if calls.len() >= MAX_HELD {
            return Err(call);
        }
        let key = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            crate::common::random::key(),
        );
        calls.insert(key.clone(), (owner.to_string(), call));
        Ok(key)
    }

    /// The call held under `key` for `owner`, taken out; `None` if it ended or is not theirs.
    pub fn take(&self, key: &str, owner: &str) -> Option<Call> {
        let mut calls = self.calls.lock();
        let (o, call) = calls.remove(key)?;
        if o != owner {
            calls.insert(key.to_string(), (o, call));
            return None;
        }
        // One past its deadline is dropped, and so aborted.
        (call.deadline > Instant::now()).then_some(call)
    }
}

/// The error for a held call taken by a request of another kind (the sealed state names the
/// subject, so this is a gateway bug).
pub fn mismatch() -> RpcError {
    RpcError::new(
        jsonrpc::INTERNAL_ERROR,
        "the held call is not of this request's kind",
    )
}

impl McpService {
    /// Whether `ask` to `target` runs where it can be held: a 2026-07-28 client that can
    /// answer something, of an MCP server (which may ask it mid-call).
    pub(super) fn may_hold(ask: &Ask<'_>, target: &Target) -> bool {
        ask.era.modern
            && ask.era.client.answers_any()
            && matches!(target.adapter, crate::targets::Adapter::Mcp(_))
    }

    /// Starts `work` for `ask` on a task of its own, resuming with `resume`, to end by
    /// `deadline`. The client's progress token is its relay's (a request with one is served
    /// beside a stream).
    pub(super) fn start_held(
        &self,
        ask: &Ask<'_>,
        work: Work,
        resume: Option<Resume>,
        deadline: Instant,
    ) -> Call {
        Call::start(Start {
            work,
            principal: ask.principal.clone(),
            headers: ask.headers.clone(),
            request_id: ask.id.as_json().to_string(),
            client: ask.era.client,
            token: ask.relay.and_then(|r| r.token.clone()),
            resume,
            deadline,
            answers: self.answers.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// The call held under `key` that a retry continues, with the retry's `inputResponses`
    /// delivered to it.
    pub(super) fn resume_held(
        &self,
        ask: &Ask<'_>,
        key: &str,
        resume: &Resume,
    ) -> Result<Call, RpcError> {
        let mut call = self.held.take(key, &ask.principal.id).ok_or_else(|| {
            RpcError::new(
                jsonrpc::INVALID_PARAMS,
                "Invalid requestState: the request it continues has ended (or another \
                 gateway replica holds it)",
            )
        })?;
        call.answer(
            resume.responses.as_deref(),
            &self.answers,
            &ask.principal.id,
        );
        Ok(call)
    }

    /// Holds `call` for the client's answers to `requests` and gives it `input_required`
    /// naming the held call; `None` when too many are held.
    pub(super) fn hold(
        &self,
        ask: &Ask<'_>,
        subject: &str,
        call: Call,
        requests: &Map<String, Value>,
    ) -> Option<Result<Vec<u8>, RpcError>> {
        let key = self.held.keep(&ask.principal.id, call).ok()?;
        let pending = Pending {
            subject: subject.to_string(),
            upstream: None,
            held: Some(key),
            expires: crate::common::unix_now() + STATE_TTL.as_secs(),
        };
        let requests = serde_json::value::to_raw_value(requests).ok();
        Some(self.input_required(ask, requests.as_deref(), &pending))
    }
}
