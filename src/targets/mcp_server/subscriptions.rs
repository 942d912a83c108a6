//! Resource subscriptions at an upstream: a client subscribes in its own upstream session,
//! whose stream the gateway then reads for it; at an upstream without sessions, on the
//! gateway's own stream, counted per URI. Updates go out on the gateway's update channel,
//! to the client they are for (or to any subscriber of the URI).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use serde_json::json;
use serde_json::value::RawValue;

use super::client::Agreement;
use super::relay::relay_log;
use super::wire::Message;
use super::{MAX_CLIENT_SESSIONS, McpAdapter, UpstreamError};
use crate::targets::context::{CallContext, Relay};
use crate::targets::surface::ResourceUpdate;

/// How long a request the upstream sends unbidden waits for the client's answer.
const UNBIDDEN_WAIT: Duration = Duration::from_secs(300);
/// How long the gateway tries to deliver an answer (or a refusal) to the upstream.
const REPLY_WAIT: Duration = Duration::from_secs(30);

impl McpAdapter {
    /// Subscribes `ctx`'s client to updates of `uri`: in its own upstream session (whose
    /// stream the gateway then reads for it), or, for an upstream without sessions, on the
    /// gateway's own stream.
    pub async fn subscribe(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
        uri: &str,
    ) -> Result<(), UpstreamError> {
        let agreement = self.for_client(ctx).await?;
        if agreement.session.is_none() {
            self.watch(uri);
            return Ok(());
        }
        self.request(
            ctx,
            "resources/subscribe",
            &serde_json::json!({"uri": uri}),
            Some(uri),
        )
        .await?;
        self.stream_for(ctx.client_key(), agreement);
        Ok(())
    }

    /// Ends `ctx`'s client's subscription to `uri`.
    pub async fn unsubscribe(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
        uri: &str,
    ) -> Result<(), UpstreamError> {
        let agreement = self.for_client(ctx).await?;
        if agreement.session.is_none() {
            self.unwatch(uri);
            return Ok(());
        }
        self.request(
            ctx,
            "resources/unsubscribe",
            &serde_json::json!({"uri": uri}),
            Some(uri),
        )
        .await
        .map(|_| ())
    }

    /// Counts a subscriber of `uri` on the gateway's own stream (reopened when the set
    /// changes).
    pub fn watch(&self, uri: &str) {
        let mut watched = self.watched.lock();
        let n = watched.entry(uri.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.resubscribe.notify_one();
        }
    }

    pub fn unwatch(&self, uri: &str) {
        let mut watched = self.watched.lock();
        if let Some(n) = watched.get_mut(uri) {
            *n -= 1;
            if *n == 0 {
                watched.remove(uri);
                self.resubscribe.notify_one();
            }
        }
    }

    /// A client's stream on the gateway (its `GET` in a session) opened: what the upstream
    /// sends unbidden on the client's upstream session (requests, log messages) goes there,
    /// and that session's stream is read for it. Bounded, like the sessions.
    pub fn attach(self: &Arc<Self>, key: String, relay: Relay) {
        {
            let mut attached = self.attached.lock();
            if !attached.contains_key(&key) && attached.len() >= MAX_CLIENT_SESSIONS {
                return;
            }
            attached.insert(key.clone(), relay);
        }
        let session = self
            .clients
            .lock()
            .by_client
            .get(&key)
            .and_then(|(c, _)| c.get().cloned());
        if let Some(agreement) = session {
            self.stream_for(key, Arc::new(agreement));
        }
    }

    /// The client's stream on the gateway that `tx` feeds closed (another one the client
    /// opened since stays attached).
    pub fn detach(&self, key: &str, tx: &tokio::sync::mpsc::Sender<Vec<u8>>) {
        let mut attached = self.attached.lock();
        if attached.get(key).is_some_and(|r| r.tx.same_channel(tx)) {
            attached.remove(key);
        }
    }

    /// Reads the client's own upstream stream (`GET` with its session) until the client is
    /// forgotten or the stream ends: resource updates for it, and what the upstream asks or
    /// logs unbidden for the client's stream on the gateway. One per client.
    pub(super) fn stream_for(self: &Arc<Self>, key: String, agreement: Arc<Agreement>) {
        let mut streams = self.client_streams.lock();
        if streams.contains_key(&key) || streams.len() >= MAX_CLIENT_SESSIONS {
            return;
        }
        let stop = CancellationToken::new();
        streams.insert(key.clone(), stop.clone());
        drop(streams);
        let this = self.clone();
        tokio::spawn(async move {
            let opened = tokio::select! {
                _ = stop.cancelled() => return,
                o = this.upstream.listen(&agreement, &[], Instant::now() + Duration::from_secs(30)) => o,
            };
            if let Ok(Some(mut events)) = opened {
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => break,
                        n = events.next() => n,
                    };
                    match next {
                        Ok(Some(data)) => this.unbidden(&data, &key, &agreement),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            this.client_streams.lock().remove(&key);
        });
    }

    /// One message on a client's upstream stream: a request for the client goes to its
    /// stream on the gateway, if it listens there and declared it can answer, and its answer
    /// back to the upstream (refused at once otherwise, so the upstream does not wait); a log
    /// message goes there too; a resource update is published.
    fn unbidden(&self, data: &[u8], key: &str, agreement: &Arc<Agreement>) {
        let Ok(message) = serde_json::from_slice::<Message>(data) else {
            return;
        };
        let relay = self.attached.lock().get(key).cloned();
        match (message.id, message.method.as_deref()) {
            (Some(id), Some(method)) => {
                let params = message.params;
                self.answer_later(agreement, id, || {
                    let asked = relay
                        .as_ref()
                        .and_then(|r| r.ask(method, params.as_deref()));
                    let refusal = json!({"code": -32601,
                        "message": format!("the gateway's client cannot answer `{method}` now")});
                    async move {
                        match asked {
                            Some(mut asked) => tokio::time::timeout(UNBIDDEN_WAIT, asked.answer())
                                .await
                                .ok()
                                .flatten()
                                .ok_or_else(|| {
                                    json!({"code": -32603,
                                "message": "the client did not answer in time"})
                                }),
                            None => Err(refusal),
                        }
                    }
                });
            }
            (None, Some("notifications/message")) => {
                if let Some(r) = &relay {
                    relay_log(message.params.as_deref(), r);
                }
            }
            _ => self.publish_update(data, Some(key)),
        }
    }

    /// Refuses a request the upstream sends on the gateway's own stream (no one client can
    /// answer it), so that the upstream does not wait for an answer.
    pub(super) fn refuse_request(&self, agreement: &Arc<Agreement>, data: &[u8]) {
        let Ok(Message {
            id: Some(id),
            method: Some(method),
            ..
        }) = serde_json::from_slice::<Message>(data)
        else {
            return;
        };
        let refusal = json!({"code": -32601,
            "message": format!("the gateway's own session cannot answer `{method}`")});
        self.answer_later(agreement, id, || std::future::ready(Err(refusal)));
    }

    /// Answers the upstream's request `id` with what `answer` (called only if there is room)
    /// comes to, off the reader's path: at most [`MAX_UNBIDDEN`](super::MAX_UNBIDDEN) at a
    /// time per target (past it, the request is dropped: an upstream that floods the gateway
    /// waits on itself), each reply within [`REPLY_WAIT`].
    fn answer_later<F>(
        &self,
        agreement: &Arc<Agreement>,
        id: Box<RawValue>,
        answer: impl FnOnce() -> F,
    ) where
        F: Future<Output = Result<Box<RawValue>, serde_json::Value>> + Send + 'static,
    {
        let Ok(permit) = self.unbidden.clone().try_acquire_owned() else {
            tracing::debug!(target = %self.target, "an unbidden upstream request was dropped: too many in flight");
            return;
        };
        let answer = answer();
        let (upstream, agreement) = (self.upstream.clone(), agreement.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let answer = answer.await;
            let _ = tokio::time::timeout(REPLY_WAIT, upstream.reply(&agreement, &id, answer)).await;
        });
    }

    /// Passes on a `notifications/resources/updated` from the upstream (ignores the rest).
    pub(super) fn publish_update(&self, data: &[u8], client: Option<&str>) {
        #[derive(Deserialize)]
        struct Note {
            method: Option<String>,
            params: Option<Params>,
        }
        #[derive(Deserialize)]
        struct Params {
            uri: String,
        }
        if let Ok(Note {
            method: Some(m),
            params: Some(p),
        }) = serde_json::from_slice::<Note>(data)
            && m == "notifications/resources/updated"
        {
            let _ = self.updates.send(ResourceUpdate {
                target: self.target.clone(),
                uri: p.uri,
                client: client.map(str::to_string),
            });
        }
    }
}
