//! The task that keeps an MCP-server target's offer current: it agrees on a protocol
//! version, lists the upstream's tools, prompts and resources, publishes them, and then
//! listens on the upstream's stream for `list_changed` (and resource updates) to list again.
//! When the upstream is down or broken, the target is `FAILED` with the reason and the task
//! tries again with jittered backoff; the rest of the gateway keeps serving.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{self, Agreement, Extra};
use super::{Listed, McpAdapter, sse};
use crate::targets::{Adapter, State, Status, Target};

/// Publishes a listing: the target offers it and is `READY` (with the reasons for anything
/// left out).
pub(super) fn publish(target: &Target, listed: Listed) {
    tracing::info!(
        target = %target.name,
        tools = listed.tools.len(),
        prompts = listed.extras.prompts.len(),
        resources = listed.extras.resources.len(),
        templates = listed.extras.templates.len(),
        "upstream listed"
    );
    target.offer_all(listed.tools, listed.extras);
    target.set_status(Status {
        state: State::Ready,
        reasons: listed.reasons,
    });
}

pub(super) fn failed(target: &Target, reason: String) {
    target.set_status(Status {
        state: State::Failed,
        reasons: vec![reason],
    });
}

/// Lists `target`'s offer now and publishes it; a failure keeps the last one.
pub async fn relist(target: &Target, adapter: &McpAdapter) {
    match adapter
        .list(&target.name, Instant::now() + target.timeout)
        .await
    {
        Ok(listed) => publish(target, listed),
        Err(e) => {
            let reason = crate::common::error_chain(&e);
            tracing::warn!(target = %target.name, error = %reason, "listing the upstream failed");
            failed(target, reason);
        }
    }
}

/// Keeps a target's offer current until `cancel`: agree, list, publish, listen for
/// `list_changed`; on failure, `FAILED` with the reason and a jittered retry.
pub async fn run(target: Arc<Target>, cancel: CancellationToken) {
    let Adapter::Mcp(adapter) = &target.adapter else {
        return;
    };
    // Fixed tools were offered when the target was built; only their reasons are reported.
    if let Some((_, left_out)) = adapter.fixed_tools() {
        target.set_status(Status {
            state: State::Ready,
            reasons: left_out,
        });
        return;
    }
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
    loop {
        let deadline = Instant::now() + target.timeout;
        match adapter.list(&target.name, deadline).await {
            Ok(listed) => {
                backoff.reset();
                publish(&target, listed);
                // Until the stream ends: a list_changed lists again.
                if listen(&target, adapter, &cancel).await.is_break() {
                    return;
                }
            }
            Err(e) => {
                let reason = crate::common::error_chain(&e);
                tracing::warn!(target = %target.name, error = %reason, "upstream MCP server unavailable; retrying");
                adapter.forget();
                failed(&target, reason);
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff.next()) => {}
        }
    }
}

/// Reads the upstream's notification stream, listing again on each `list_changed`.
/// `Break` when cancelled or when the upstream has no stream (nothing left to do).
async fn listen(
    target: &Target,
    adapter: &McpAdapter,
    cancel: &CancellationToken,
) -> std::ops::ControlFlow<()> {
    use std::ops::ControlFlow::{Break, Continue};
    let Some(agreement) = adapter.agreement.load_full() else {
        return Continue(());
    };
    // In the gateway's own session (a handshake-era upstream), the URIs subscribed to.
    let mut subscribed = BTreeSet::new();
    subscribe_shared(target, adapter, &agreement, &mut subscribed).await;
    let mut events = match open_stream(target, adapter, &agreement, cancel).await {
        Break(()) => return Break(()),
        Continue(events) => events,
    };
    loop {
        // Without a stream, only a `list_changed` seen on a call's response wakes this.
        let next = async {
            match events.as_mut() {
                Some(e) => e.next().await,
                None => std::future::pending().await,
            }
        };
        let changed = tokio::select! {
            _ = cancel.cancelled() => return Break(()),
            _ = adapter.relist.notified() => true,
            // The subscribed URIs changed: subscribed to in the gateway's session, or the
            // stream is opened again with them (2026-07-28).
            _ = adapter.resubscribe.notified() => {
                if agreement.session.is_some() {
                    subscribe_shared(target, adapter, &agreement, &mut subscribed).await;
                    continue;
                }
                events = match open_stream(target, adapter, &agreement, cancel).await {
                    Break(()) => return Break(()),
                    Continue(events) => events,
                };
                continue;
            }
            n = next => match n {
                Ok(Some(data)) => {
                    adapter.refuse_request(&agreement, &data);
                    adapter.publish_update(&data, None);
                    #[derive(Deserialize)]
                    struct Note {
                        method: Option<String>,
                    }
                    serde_json::from_slice::<Note>(&data)
                        .ok()
                        .and_then(|n| n.method)
                        .is_some_and(|m| client::is_list_changed(&m))
                }
                // The stream ended or broke: list again (lists may have changed meanwhile).
                Ok(None) | Err(_) => return Continue(()),
            },
        };
        if changed {
            let deadline = Instant::now() + target.timeout;
            match adapter.list(&target.name, deadline).await {
                Ok(listed) => publish(target, listed),
                Err(e) => {
                    tracing::warn!(target = %target.name, error = %crate::common::error_chain(&e), "listing the changed upstream failed");
                    return Continue(());
                }
            }
        }
    }
}

/// Brings the gateway's own session's resource subscriptions (`subscribed`) in line with
/// the URIs clients watch, at a handshake-era upstream with sessions; nothing for others
/// (a 2026-07-28 upstream takes the URIs on the stream). A failed request is logged and
/// tried again at the next change.
async fn subscribe_shared(
    target: &Target,
    adapter: &McpAdapter,
    agreement: &Agreement,
    subscribed: &mut BTreeSet<String>,
) {
    if agreement.session.is_none() || agreement.version.is_modern() {
        return;
    }
    let watched: BTreeSet<String> = adapter.watched.lock().keys().cloned().collect();
    let changes = watched
        .difference(subscribed)
        .map(|u| (u.clone(), true))
        .chain(subscribed.difference(&watched).map(|u| (u.clone(), false)))
        .collect::<Vec<_>>();
    for (uri, on) in changes {
        let method = if on {
            "resources/subscribe"
        } else {
            "resources/unsubscribe"
        };
        let deadline = Instant::now() + target.timeout;
        let params = serde_json::json!({"uri": uri});
        match adapter
            .upstream
            .request(agreement, method, &params, Extra::default(), deadline)
            .await
        {
            Ok(_) if on => {
                subscribed.insert(uri);
            }
            Ok(_) => {
                subscribed.remove(&uri);
            }
            Err(e) => {
                tracing::warn!(target = %target.name, %uri, error = %crate::common::error_chain(&e), "{method} in the gateway's session failed");
            }
        }
    }
}

/// Opens the upstream's notification stream, with the resource URIs clients subscribed to
/// (2026-07-28); `Continue(None)` when it offers none.
async fn open_stream(
    target: &Target,
    adapter: &McpAdapter,
    agreement: &Agreement,
    cancel: &CancellationToken,
) -> std::ops::ControlFlow<(), Option<sse::Events>> {
    use std::ops::ControlFlow::{Break, Continue};
    let watched: Vec<String> = adapter.watched.lock().keys().cloned().collect();
    let opened = tokio::select! {
        _ = cancel.cancelled() => return Break(()),
        o = adapter.upstream.listen(agreement, &watched, Instant::now() + target.timeout) => o,
    };
    Continue(match opened {
        Ok(events) => events,
        Err(e) => {
            tracing::debug!(target = %target.name, error = %crate::common::error_chain(&e), "no notification stream");
            None
        }
    })
}

/// Exponential backoff with jitter (each wait is between half and all of the ceiling), so
/// replicas that fail together retry apart.
struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let r = u64::from_le_bytes(
            crate::common::random::key()[..8]
                .try_into()
                .unwrap_or([0; 8]),
        );
        let ms = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(ms / 2 + r % (ms / 2 + 1))
    }
}
