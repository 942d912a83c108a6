//! What an upstream's SSE reply carries for the client while a request runs, on its way
//! through the gateway: progress (with the client's own token), log messages (at the level
//! the client set), and requests for the client (elicitation, sampling, roots), relayed under
//! ids of the gateway's own and answered back under the upstream's ([`Waiting`]).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::UpstreamError;
use super::client::{Agreement, Answer, Extra, MAX_EVENTS, Upstream, is_list_changed};
use super::sse::Events;
use super::wire::{Message, answer_of};
use crate::common::budget::Held;
use crate::net::NetError;
use crate::targets::context::{Relay, log_wanted};

/// Passes an upstream's progress on to the client, with the client's own token, when it is
/// about the request the gateway made (its token is that request's id).
pub(super) fn relay_progress(params: &RawValue, token: u64, sink: &Relay) {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Upstream<'a> {
        #[serde(borrow)]
        progress_token: &'a RawValue,
        #[serde(borrow)]
        progress: &'a RawValue,
        #[serde(default, borrow)]
        total: Option<&'a RawValue>,
        #[serde(default)]
        message: Option<String>,
    }
    let Ok(p) = serde_json::from_str::<Upstream<'_>>(params.get()) else {
        return;
    };
    if p.progress_token.get().trim() == token.to_string() {
        sink.progress(p.progress, p.total, p.message.as_deref());
    }
}

/// Passes an upstream's log message on to the client when its level is one the client wants.
pub(super) fn relay_log(params: Option<&RawValue>, sink: &Relay) {
    #[derive(Deserialize)]
    struct Params {
        level: String,
    }
    let Some(params) = params else {
        return;
    };
    let Ok(p) = serde_json::from_str::<Params>(params.get()) else {
        return;
    };
    if log_wanted(sink.min_log, &p.level) {
        sink.send(&json!({
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": params,
        }));
    }
}

/// A relayed request's gateway id and upstream id, and the client's response (or why there
/// is none).
type Answered = (String, Box<RawValue>, Result<Box<RawValue>, Value>);

/// The upstream's requests relayed to the client during one exchange, until answered.
#[derive(Default)]
pub(super) struct Waiting {
    answers:
        futures_util::stream::FuturesUnordered<futures_util::future::BoxFuture<'static, Answered>>,
    /// The requests relayed and not yet answered (the gateway's id, the upstream's id as
    /// JSON text), and the relay they went through.
    ids: Vec<(String, String)>,
    relay: Option<Relay>,
}

impl Drop for Waiting {
    /// However the exchange ends (answered, failed, timed out, cancelled), requests still
    /// unanswered will not be: their ids leave the registry, and the client is told to stop
    /// working on them.
    fn drop(&mut self) {
        if let Some(r) = &self.relay {
            for (id, _) in self.ids.drain(..) {
                r.cancel(&id, "the request it was part of has ended");
            }
        }
    }
}

impl Waiting {
    /// Relays the upstream's request to the client, if it can answer it; `None` if not.
    pub(super) fn relay(
        &mut self,
        relay: &Relay,
        upstream_id: &RawValue,
        method: &str,
        params: Option<&RawValue>,
    ) -> Option<()> {
        if !relay.asks || !relay.caps.allows(method, params) || self.ids.len() >= MAX_RELAYED {
            return None;
        }
        let (id, rx) = relay.answers.expect(&relay.owner)?;
        relay.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let upstream_id_text = upstream_id.get().trim().to_string();
        let upstream_id = upstream_id.to_owned();
        let gateway_id = id.clone();
        self.answers.push(Box::pin(async move {
            let answer = rx.await.map_err(
                |_| json!({"code": -32603, "message": "the client's request ended before it answered"}),
            );
            (gateway_id, upstream_id, answer)
        }));
        self.ids.push((id, upstream_id_text));
        self.relay.get_or_insert_with(|| relay.clone());
        Some(())
    }

    /// The upstream cancelled a request it had asked the client (`notifications/cancelled`):
    /// the client is told under the gateway's id, and no answer goes back.
    pub(super) fn cancelled(&mut self, params: &RawValue) {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Params<'a> {
            #[serde(borrow)]
            request_id: &'a RawValue,
            #[serde(default)]
            reason: Option<String>,
        }
        let Ok(p) = serde_json::from_str::<Params<'_>>(params.get()) else {
            return;
        };
        let Some(at) = self
            .ids
            .iter()
            .position(|(_, up)| up == p.request_id.get().trim())
        else {
            return;
        };
        let (id, _) = self.ids.remove(at);
        if let Some(r) = &self.relay {
            r.cancel(
                &id,
                p.reason.as_deref().unwrap_or("the server cancelled it"),
            );
        }
    }

    /// The next answer that arrived (its upstream id and content); pending forever while
    /// nothing waits.
    pub(super) async fn next(&mut self) -> Option<(Box<RawValue>, Result<Box<RawValue>, Value>)> {
        use futures_util::StreamExt;
        if self.answers.is_empty() {
            return std::future::pending().await;
        }
        // Answers to requests the upstream cancelled meanwhile are not passed on.
        while let Some((gateway_id, upstream_id, answer)) = self.answers.next().await {
            if let Some(at) = self.ids.iter().position(|(id, _)| *id == gateway_id) {
                self.ids.remove(at);
                return Some((upstream_id, answer));
            }
        }
        std::future::pending().await
    }
}

impl Upstream {
    /// Reads an SSE response until the message that answers `id` (inside an exchange, under
    /// its deadline). On the way, progress and log messages go to the client, and a request
    /// for the client (elicitation, sampling, roots) is relayed with an id of the gateway's
    /// own when the client declared it can answer; its answer goes back to the upstream with
    /// the upstream's id. Anything else the server asks is refused at once, so it does not
    /// wait for an answer that cannot come.
    pub(super) async fn read_stream(
        &self,
        resp: reqwest::Response,
        id: u64,
        agreement: &Agreement,
        relay: Option<&(u64, Relay)>,
    ) -> Result<Answer, UpstreamError> {
        let mut events = Events::new(resp, self.limit);
        let mut held = Held::default();
        let mut lists_changed = false;
        let mut waiting = Waiting::default();
        for _ in 0..MAX_EVENTS {
            let data = tokio::select! {
                next = events.next() => match next? {
                    Some(data) => data,
                    None => return Err(UpstreamError::NoResponse),
                },
                Some((upstream_id, answer)) = waiting.next() => {
                    self.reply(agreement, &upstream_id, answer).await;
                    continue;
                }
            };
            held.merge(
                self.budget
                    .take(data.len())
                    .ok_or(UpstreamError::Net(NetError::Overloaded))?,
            );
            let Ok(message) = serde_json::from_slice::<Message>(&data) else {
                return Err(UpstreamError::Malformed(
                    "an SSE event that is not JSON-RPC",
                ));
            };
            match (&message.id, &message.method) {
                (Some(request_id), Some(method)) => {
                    let relayed = relay.and_then(|(_, r)| {
                        waiting.relay(r, request_id, method, message.params.as_deref())
                    });
                    if relayed.is_none() {
                        let refusal = Err(json!({
                            "code": -32601,
                            "message": format!("the gateway's client cannot answer `{method}`"),
                        }));
                        self.reply(agreement, request_id, refusal).await;
                    }
                }
                (Some(_), None) => {
                    let mut answer = answer_of(message, id, held)?;
                    answer.lists_changed = lists_changed;
                    return Ok(answer);
                }
                (None, Some(m)) if is_list_changed(m) => lists_changed = true,
                (None, Some(m)) if m == "notifications/progress" => {
                    if let (Some((token, sink)), Some(params)) = (relay, &message.params) {
                        relay_progress(params, *token, sink);
                    }
                }
                (None, Some(m)) if m == "notifications/message" => {
                    if let Some((_, sink)) = relay {
                        relay_log(message.params.as_deref(), sink);
                    }
                }
                // The upstream no longer needs an answer it asked the client for.
                (None, Some(m)) if m == "notifications/cancelled" => {
                    if let Some(params) = &message.params {
                        waiting.cancelled(params);
                    }
                }
                (None, _) => {}
            }
        }
        Err(UpstreamError::NoResponse)
    }

    /// Answers a server's request (inside an exchange, under its deadline, or on a stream
    /// of its own, bounded by its caller): `Ok` is the
    /// client's whole response message (its `result` or `error` is passed on), `Err` an
    /// error object of the gateway's.
    pub(super) async fn reply(
        &self,
        agreement: &Agreement,
        id: &RawValue,
        answer: Result<Box<RawValue>, Value>,
    ) {
        #[derive(Deserialize)]
        struct Response {
            #[serde(default)]
            result: Option<Box<RawValue>>,
            #[serde(default)]
            error: Option<Box<RawValue>>,
        }
        #[derive(Serialize)]
        struct Reply<'a> {
            jsonrpc: &'static str,
            id: &'a RawValue,
            #[serde(skip_serializing_if = "Option::is_none")]
            result: Option<Box<RawValue>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<Value>,
        }
        let (result, error) = match answer {
            Err(e) => (None, Some(e)),
            Ok(message) => match serde_json::from_str::<Response>(message.get()) {
                Ok(Response {
                    result: Some(r), ..
                }) => (Some(r), None),
                Ok(Response { error: Some(e), .. }) => (None, serde_json::from_str(e.get()).ok()),
                _ => (
                    None,
                    Some(
                        json!({"code": -32603, "message": "the client's answer could not be read"}),
                    ),
                ),
            },
        };
        let body = serde_json::to_vec(&Reply {
            jsonrpc: "2.0",
            id,
            result,
            error,
        });
        if let Ok(body) = body {
            let _ = self.send(agreement, "", body, Extra::default()).await;
        }
    }
}

/// Requests one exchange may relay to the client.
const MAX_RELAYED: usize = 64;
