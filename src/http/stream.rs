//! Responses that are streams: SSE framing, the `Accept` negotiation between JSON and SSE,
//! a `tools/call` that streams its progress before its result ([`with_progress`]), and the
//! long-lived notification streams of `GET /mcp` and `subscriptions/listen`
//! ([`notification_stream`]), which hold a stream permit instead of a request permit.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{AppState, Json, overloaded};
use crate::common::budget::Held;
use crate::mcp::{self, Outcome};

/// Marks a response whose body is a long-lived stream: it holds a stream permit, not a
/// request permit, and is not counted as bytes owed.
#[derive(Clone, Copy)]
pub(super) struct Streaming;

/// How often an idle stream sends a comment, so proxies keep it and a closed session is
/// noticed.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// What the client gets for an outcome: 202, the JSON-RPC body (as JSON, or as one SSE
/// event for a client that takes only SSE), or a notification stream.
pub(super) fn outcome_response(state: &Arc<AppState>, outcome: Outcome, sse: bool) -> Response {
    match outcome {
        Outcome::Accepted => StatusCode::ACCEPTED.into_response(),
        Outcome::Stream(listener) => notification_stream(state, *listener),
        Outcome::Throttled { body, retry_after } => {
            let mut resp = Json::with_status(StatusCode::TOO_MANY_REQUESTS, body);
            let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
        Outcome::Reply {
            status,
            body,
            session_id,
        } => {
            let mut resp = if sse {
                let mut r = (status, Body::from(sse_event(&body))).into_response();
                drop(body);
                event_stream_headers(r.headers_mut());
                r
            } else {
                Json::with_status(status, body)
            };
            if let Some(id) = session_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                resp.headers_mut().insert(mcp::HEADER_SESSION_ID, id);
            }
            resp
        }
    }
}

/// One SSE `message` event carrying `data`.
fn sse_event(data: &[u8]) -> Vec<u8> {
    let mut event = Vec::with_capacity(data.len() + 24);
    event.extend_from_slice(b"event: message\ndata: ");
    event.extend_from_slice(data);
    event.extend_from_slice(b"\n\n");
    event
}

fn event_stream_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// The media types of the request's `Accept` headers, without their parameters.
fn accepted(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim())
}

/// Whether the client takes an SSE response (it may prefer JSON too).
pub(super) fn accepts_event_stream(headers: &HeaderMap) -> bool {
    accepted(headers).any(|t| matches!(t, "text/event-stream" | "text/*" | "*/*"))
}

/// Runs the request in a task of its own (aborted if the client goes away) and answers with
/// what comes first: the outcome, answered as usual; or a progress notification, after
/// which the response is an SSE stream of the progress and then the result.
pub(super) async fn with_progress(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Bytes,
    principal: crate::auth::Principal,
    held: Held,
) -> Response {
    /// Aborts the request's task when the response is dropped.
    struct Running(tokio::task::JoinHandle<Outcome>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let run = state.clone();
    let mut running = Running(tokio::spawn(async move {
        let _held = held;
        run.mcp
            .handle_post(&headers, &body, &principal, Some(&tx))
            .await
    }));
    let first = tokio::select! {
        biased;
        note = rx.recv() => note,
        done = &mut running.0 => {
            return match done {
                Ok(outcome) => outcome_response(&state, outcome, false),
                Err(_) => overloaded("The request was cut short: retry"),
            };
        }
    };
    let Some(first) = first else {
        // The sender is gone: the outcome is ready.
        return match (&mut running.0).await {
            Ok(outcome) => outcome_response(&state, outcome, false),
            Err(_) => overloaded("The request was cut short: retry"),
        };
    };
    enum Step {
        Notes(Running, tokio::sync::mpsc::Receiver<Vec<u8>>),
        Done,
    }
    let head = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(Bytes::from(sse_event(&first)))
    });
    let rest = futures_util::stream::unfold(Step::Notes(running, rx), |step| async move {
        let Step::Notes(mut running, mut rx) = step else {
            return None;
        };
        match rx.recv().await {
            Some(note) => Some((Ok(Bytes::from(sse_event(&note))), Step::Notes(running, rx))),
            // Every note is out: the result is last.
            None => match (&mut running.0).await {
                Ok(Outcome::Reply { body, .. } | Outcome::Throttled { body, .. }) => {
                    Some((Ok(Bytes::from(sse_event(&body))), Step::Done))
                }
                _ => None,
            },
        }
    });
    let mut resp = (
        StatusCode::OK,
        Body::from_stream(futures_util::StreamExt::chain(head, rest)),
    )
        .into_response();
    event_stream_headers(resp.headers_mut());
    resp
}

/// `Some(false)`: answer JSON; `Some(true)`: the client takes only SSE; `None`: neither.
pub(super) fn wants_sse(headers: &HeaderMap) -> Option<bool> {
    let types: Vec<&str> = accepted(headers).collect();
    if types.is_empty()
        || types
            .iter()
            .any(|t| matches!(*t, "application/json" | "application/*" | "*/*"))
    {
        Some(false)
    } else if types.contains(&"text/event-stream") {
        Some(true)
    } else {
        None
    }
}
/// An SSE response that carries the listener's messages until it ends, the gateway stops,
/// or the client goes away; a comment every [`KEEP_ALIVE`] while idle.
pub(super) fn notification_stream(
    state: &Arc<AppState>,
    listener: mcp::notify::Listener,
) -> Response {
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return overloaded("Too many notification streams open: retry later");
    };
    struct Open {
        state: Arc<AppState>,
        listener: mcp::notify::Listener,
        _permit: tokio::sync::OwnedSemaphorePermit,
    }
    let open = Open {
        state: state.clone(),
        listener,
        _permit: permit,
    };
    let events = futures_util::stream::unfold(Some(open), |open| async move {
        let mut open = open?;
        let state = open.state.clone();
        tokio::select! {
            () = state.closing.cancelled() => None,
            next = state.mcp.next(&mut open.listener) => {
                let data = next?;
                Some((Ok::<_, std::convert::Infallible>(Bytes::from(sse_event(&data))), Some(open)))
            }
            () = tokio::time::sleep(KEEP_ALIVE) => {
                if !state.mcp.still_open(&open.listener) {
                    return None;
                }
                Some((Ok(Bytes::from_static(b": keep-alive\n\n")), Some(open)))
            }
        }
    });
    let mut resp = (StatusCode::OK, Body::from_stream(events)).into_response();
    event_stream_headers(resp.headers_mut());
    resp.extensions_mut().insert(Streaming);
    resp
}
