//! Requests in flight that a handshake-era client may cancel: `notifications/cancelled`
//! with the request's id, POSTed in the same session. A cancelled request stops where it is:
//! its upstream request is dropped (and cancelled at the upstream too, by the MCP-server
//! client), requests relayed to the client for it are cancelled there, and the client gets
//! an error instead of a result it no longer wants.
//!
//! A 2026-07-28 client cancels by closing its request's stream, which drops the request the
//! same way.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::oneshot;

/// Requests that may be cancelled at once, across all sessions; past it, new ones run to
/// the end.
const MAX_IN_FLIGHT: usize = 10_000;

/// JSON-RPC's error for a request its sender cancelled (as LSP numbers it; MCP has none).
pub const REQUEST_CANCELLED: i64 = -32800;

/// The cancellable requests in flight, by principal, session and request id.
#[derive(Default)]
pub struct InFlight {
    /// Each request's canceller, and the number it was registered under (so that a guard
    /// removes only its own entry).
    requests: Mutex<HashMap<String, (u64, oneshot::Sender<()>)>>,
    registered: AtomicU64,
}

impl InFlight {
    /// The key of request `id` (JSON text) in `session`, for `principal`. The id is written
    /// anew, so that `"a"` and `"\u0061"` name the same request.
    pub fn key(principal: &str, session: &str, id: &str) -> Option<String> {
        let id: Value = serde_json::from_str(id).ok()?;
        Some(format!("{principal}\n{session}\n{id}"))
    }

    /// Registers the request `key` until the returned guard is dropped; `None` when a
    /// request with that key is already in flight or too many are.
    pub fn register(&self, key: String) -> Option<Registered<'_>> {
        let mut requests = self.requests.lock();
        if requests.len() >= MAX_IN_FLIGHT {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let number = self.registered.fetch_add(1, Ordering::Relaxed);
        match requests.entry(key.clone()) {
            Entry::Occupied(_) => None,
            Entry::Vacant(v) => {
                v.insert((number, tx));
                Some(Registered {
                    in_flight: self,
                    key,
                    number,
                    rx,
                })
            }
        }
    }

    /// Cancels the request `key`; `false` when none is in flight (it ended, or never was).
    pub fn cancel(&self, key: &str) -> bool {
        self.requests
            .lock()
            .remove(key)
            .is_some_and(|(_, tx)| tx.send(()).is_ok())
    }
}

/// A request registered as cancellable, until dropped.
pub struct Registered<'a> {
    in_flight: &'a InFlight,
    key: String,
    number: u64,
    rx: oneshot::Receiver<()>,
}

impl Registered<'_> {
    /// Completes when the client cancels the request; never otherwise.
    pub async fn cancelled(&mut self) {
        if (&mut self.rx).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut requests = self.in_flight.requests.lock();
        if requests
            .get(&self.key)
            .is_some_and(|(n, _)| *n == self.number)
        {
            requests.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_cancelled_once_by_its_own_key() {
        let f = InFlight::default();
        let a = InFlight::key("p", "s", r#""a""#).unwrap();
        assert_eq!(Some(a.clone()), InFlight::key("p", "s", r#""\u0061""#));
        assert_ne!(Some(a.clone()), InFlight::key("q", "s", r#""a""#));
        let mut reg = f.register(a.clone()).unwrap();
        // The same id twice in flight: the second is not cancellable.
        assert!(f.register(a.clone()).is_none());
        assert!(!f.cancel(&InFlight::key("p", "s", "7").unwrap()));
        assert!(f.cancel(&a));
        assert!(!f.cancel(&a));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(reg.cancelled());
        drop(reg);
        assert!(f.requests.lock().is_empty());
    }
}
