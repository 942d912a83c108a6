//! What is counted of each message on its way through: its method, tool and ending for the
//! metrics (AgentCore's Invocations, UserErrors, SystemErrors, Throttles and Latency), and
//! the rate limits it must pass before it is dispatched.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::jsonrpc::{self, Id, RpcError};
use super::{McpService, Outcome, limits};
use crate::auth::Principal;
use crate::metrics::Ended;

/// What the metrics learn of one message while it is dispatched.
#[derive(Default)]
pub(super) struct Seen {
    /// A request's method (empty for one too malformed to have one); `None` for
    /// notifications and responses, which are not counted.
    pub(super) method: Option<String>,
    /// The tool a `tools/call` names.
    pub(super) tool: Option<String>,
    /// The JSON-RPC error code it was answered with.
    pub(super) error: Option<i64>,
}

impl Outcome {
    pub(super) fn throttled(id: &Id, t: &limits::Throttled) -> Self {
        let secs = t.retry_after.as_secs_f64().ceil().max(1.0);
        let mut error = RpcError::new(
            jsonrpc::RATE_LIMITED,
            format!("Rate exceeded: retry in {secs:.0} s"),
        );
        error.data = Some(Box::new(json!({"retryAfterSeconds": secs as u64})));
        Self::Throttled {
            body: jsonrpc::failure(Some(id), &error),
            retry_after: t.retry_after,
        }
    }
}

impl McpService {
    /// One message; `None` for a notification or a response (HTTP 202). Each request is
    /// counted in the metrics by how it ended, with its latency.
    pub(super) async fn message(
        &self,
        headers: &http::HeaderMap,
        message: &RawValue,
        principal: &Principal,
        in_batch: bool,
        stream: Option<&tokio::sync::mpsc::Sender<Vec<u8>>>,
    ) -> Option<Outcome> {
        let started = tokio::time::Instant::now();
        let mut seen = Seen::default();
        let outcome = self
            .dispatch(headers, message, principal, in_batch, stream, &mut seen)
            .await;
        if let Some(method) = &seen.method {
            let ended = match seen.error {
                None => Ended::Ok,
                Some(jsonrpc::INTERNAL_ERROR) => Ended::SystemError,
                Some(jsonrpc::RATE_LIMITED) => Ended::Throttled,
                Some(_) => Ended::UserError,
            };
            let catalog = self.catalog.load();
            let tool = seen.tool.as_deref().and_then(|name| catalog.names(name));
            self.metrics.request(method, tool, ended, started.elapsed());
        }
        outcome
    }

    /// The refusal of the first rate limit the request does not pass, if any.
    pub(super) async fn limited(
        &self,
        seen: &mut Seen,
        principal: &Principal,
        headers: &http::HeaderMap,
        method: &str,
        params: &Map<String, Value>,
        id: &Id,
    ) -> Option<Outcome> {
        if self.limits.is_empty() {
            return None;
        }
        let catalog = self.catalog.load();
        let tool = seen.tool.as_deref().and_then(|name| catalog.names(name));
        let subject = limits::Subject {
            principal,
            headers,
            method,
            params,
            tool,
        };
        let refused = self.limits.check(&subject).await.err()?;
        seen.error = Some(jsonrpc::RATE_LIMITED);
        Some(Outcome::throttled(id, &refused))
    }
}
