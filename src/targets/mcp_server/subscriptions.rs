//! Resource subscriptions at an upstream: a client subscribes in its own upstream session,
//! whose stream the gateway then reads for it; at an upstream without sessions, on the
//! gateway's own stream, counted per URI. Updates go out on the gateway's update channel,
//! to the client they are for (or to any subscriber of the URI).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::Agreement;
use super::{MAX_CLIENT_SESSIONS, McpAdapter, UpstreamError};
use crate::targets::context::CallContext;
use crate::targets::surface::ResourceUpdate;

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
    pub async fn unsubscribe(&self, ctx: &CallContext<'_>, uri: &str) -> Result<(), UpstreamError> {
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

    /// Reads the client's own upstream stream (`GET` with its session) for resource updates,
    /// until the client is forgotten or the stream ends. One per client.
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
                        Ok(Some(data)) => this.publish_update(&data, Some(&key)),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            this.client_streams.lock().remove(&key);
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
