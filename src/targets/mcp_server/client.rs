//! The gateway as an MCP client of one upstream server, over streamable HTTP, in both eras:
//! - 2026-07-28: stateless. Every request carries the version and client info in `_meta`,
//!   mirrored in `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` (and `Mcp-Param-*` for
//!   arguments the tool marks with `x-mcp-header`); `server/discover` tells whether the server
//!   speaks it;
//! - 2025-11-25, 2025-06-18, 2025-03-26: `initialize`, then `notifications/initialized`, with
//!   the session id the server may hand out on every later request. A server that hands out
//!   none is never asked for one.
//!
//! A response is JSON or an SSE stream; both are read within the message limit, with every
//! byte borrowed from the gateway's in-flight budget, and under the caller's deadline. What
//! a stream carries before the response (progress, log messages, requests for the client) is
//! handled by [`relay`](super::relay). A request dropped before its answer (the client
//! cancelled it or went away, or its deadline passed) is cancelled at a handshake-era
//! upstream.
//!
//! Requests are built by serde and `http` types ([`wire`](super::wire)), ids are the
//! gateway's own (a counter), and credentials are applied last, to the finished request, as
//! for REST targets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use super::UpstreamError;
use super::sse::Events;
use super::wire::{self, Message, answer_of, rpc_error};
pub use super::wire::{Answer, header_value};
use crate::common::budget::Budget;
use crate::common::version::ProtocolVersion;
use crate::net::{self, NetError};
use crate::outbound::{Credentials, Request};
use crate::targets::context::{ClientCaps, Relay};
use crate::targets::surface::Caps;

/// Messages read from one SSE response before giving up on it (notifications are skipped).
pub(super) const MAX_EVENTS: usize = 10_000;

/// What was agreed with the server: the version, the session when it handed one out, and
/// what it said it can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub version: ProtocolVersion,
    pub session: Option<String>,
    pub caps: Caps,
}

/// Whether a notification says one of the server's lists changed.
pub fn is_list_changed(method: &str) -> bool {
    matches!(
        method,
        "notifications/tools/list_changed"
            | "notifications/prompts/list_changed"
            | "notifications/resources/list_changed"
    )
}

/// One upstream MCP server.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub endpoint: Url,
    client: crate::net::Client,
    credentials: Credentials,
    pub(super) limit: usize,
    pub(super) budget: Budget,
    next_id: Arc<AtomicU64>,
}

/// What a request carries beyond the transport's own: `Mcp-Name`, `Mcp-Param-*`, and the
/// relay of the upstream's messages to the client.
#[derive(Debug, Default)]
pub struct Extra {
    /// The name `Mcp-Name` carries (a tool's upstream name, a prompt, a resource URI).
    pub name: Option<String>,
    pub headers: http::HeaderMap,
    /// The client's side: progress (the upstream gets a token of the gateway's own), log
    /// messages, and requests for the client.
    pub relay: Option<Relay>,
    /// What the client can answer (declared to a 2026-07-28 upstream in `_meta`).
    pub client: ClientCaps,
}

impl Upstream {
    pub fn new(
        endpoint: Url,
        client: crate::net::Client,
        credentials: Credentials,
        limit: usize,
        budget: Budget,
    ) -> Self {
        Self {
            endpoint,
            client,
            credentials,
            limit,
            budget,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Finds out how to talk to the server: `server/discover` for 2026-07-28, else the
    /// handshake, newest version first.
    pub async fn agree(&self, deadline: Instant) -> Result<Agreement, UpstreamError> {
        let modern = Agreement {
            version: ProtocolVersion::V2026_07_28,
            session: None,
            caps: Caps::default(),
        };
        match self
            .request(
                &modern,
                "server/discover",
                &json!({}),
                Extra::default(),
                deadline,
            )
            .await
        {
            Ok(answer) => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Discovered {
                    #[serde(default)]
                    supported_versions: Vec<String>,
                    #[serde(default)]
                    capabilities: Option<Value>,
                }
                let found: Discovered = serde_json::from_str(answer.result.get())
                    .map_err(|_| UpstreamError::Malformed("a server/discover result"))?;
                if found
                    .supported_versions
                    .iter()
                    .any(|v| v == ProtocolVersion::V2026_07_28.as_str())
                {
                    return Ok(Agreement {
                        caps: Caps::of(found.capabilities.as_ref()),
                        ..modern
                    });
                }
            }
            // The credentials or the network fail the same way for the handshake: say so now.
            Err(e @ (UpstreamError::Unauthorized(_) | UpstreamError::Net(_))) => return Err(e),
            Err(UpstreamError::Timeout) => return Err(UpstreamError::Timeout),
            Err(_) => {}
        }
        self.initialize(deadline, ClientCaps::RELAYABLE).await
    }

    /// The handshake: `initialize`, then `notifications/initialized`. `client` is what the
    /// gateway declares it can answer: what its own client declared, for that client's
    /// session; all it can relay for the gateway's own ([`ClientCaps::RELAYABLE`]).
    pub async fn initialize(
        &self,
        deadline: Instant,
        client: ClientCaps,
    ) -> Result<Agreement, UpstreamError> {
        let offered = ProtocolVersion::V2025_11_25;
        let params = json!({
            "protocolVersion": offered.as_str(),
            "capabilities": client.to_json(),
            "clientInfo": {"name": "mcp-gateway", "version": env!("CARGO_PKG_VERSION")},
        });
        let handshake = Agreement {
            version: offered,
            session: None,
            caps: Caps::default(),
        };
        let (answer, session) = self
            .exchange(
                &handshake,
                "initialize",
                &params,
                Extra::default(),
                deadline,
                true,
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Initialized {
            protocol_version: String,
            #[serde(default)]
            capabilities: Option<Value>,
        }
        let init: Initialized = serde_json::from_str(answer.result.get())
            .map_err(|_| UpstreamError::Malformed("an initialize result"))?;
        let version = ProtocolVersion::parse(&init.protocol_version)
            .filter(|v| !v.is_modern())
            .ok_or(UpstreamError::Version)?;
        let agreement = Agreement {
            version,
            session,
            caps: Caps::of(init.capabilities.as_ref()),
        };
        self.notify(&agreement, "notifications/initialized", deadline)
            .await?;
        Ok(agreement)
    }

    /// Sends a notification; the server answers 202.
    pub async fn notify(
        &self,
        agreement: &Agreement,
        method: &str,
        deadline: Instant,
    ) -> Result<(), UpstreamError> {
        self.notify_with(agreement, method, &json!({}), deadline)
            .await
    }

    /// Sends a notification with `params`; the server answers 202.
    async fn notify_with(
        &self,
        agreement: &Agreement,
        method: &str,
        params: &Value,
        deadline: Instant,
    ) -> Result<(), UpstreamError> {
        let body = wire::body(agreement.version.is_modern(), None, method, params)?;
        let resp = tokio::time::timeout_at(
            deadline,
            self.send(agreement, method, body, Extra::default()),
        )
        .await
        .map_err(|_| UpstreamError::Timeout)??;
        check_status(resp.status(), agreement)?;
        Ok(())
    }

    /// Sends a request and reads its result.
    pub async fn request<P: Serialize>(
        &self,
        agreement: &Agreement,
        method: &str,
        params: &P,
        extra: Extra,
        deadline: Instant,
    ) -> Result<Answer, UpstreamError> {
        self.exchange(agreement, method, params, extra, deadline, false)
            .await
            .map(|(answer, _)| answer)
    }

    /// Ends a session (best effort: a server that does not allow it answers 405).
    pub async fn end(&self, agreement: &Agreement, deadline: Instant) {
        let Some(session) = &agreement.session else {
            return;
        };
        let mut req = Request {
            method: http::Method::DELETE,
            url: self.endpoint.clone(),
            headers: http::HeaderMap::new(),
            body: None,
        };
        if let Ok(v) = http::HeaderValue::from_str(session) {
            req.headers.insert("mcp-session-id", v);
        }
        let send = async {
            self.credentials.apply(&mut req).await.ok()?;
            self.client
                .request(req.method, req.url)
                .ok()?
                .headers(req.headers)
                .send()
                .await
                .ok()
        };
        let _ = tokio::time::timeout_at(deadline, send).await;
    }

    /// Opens the stream on which the server sends notifications: `GET` with the session
    /// (handshake era), or `subscriptions/listen` for list changes (2026-07-28). `None` when
    /// the server offers no such stream.
    pub async fn listen(
        &self,
        agreement: &Agreement,
        resources: &[String],
        deadline: Instant,
    ) -> Result<Option<Events>, UpstreamError> {
        let resp = if agreement.version.is_modern() {
            let mut filter = json!({
                "toolsListChanged": true,
                "promptsListChanged": agreement.caps.prompts,
                "resourcesListChanged": agreement.caps.resources,
            });
            if !resources.is_empty() {
                filter["resourceSubscriptions"] = json!(resources);
            }
            let params = json!({ "notifications": filter });
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = wire::body(
                agreement.version.is_modern(),
                Some(id),
                "subscriptions/listen",
                &params,
            )?;
            let send = self.send(agreement, "subscriptions/listen", body, Extra::default());
            tokio::time::timeout_at(deadline, send)
                .await
                .map_err(|_| UpstreamError::Timeout)??
        } else {
            let mut req = Request {
                method: http::Method::GET,
                url: self.endpoint.clone(),
                headers: self.transport_headers(agreement, "", Extra::default()),
                body: None,
            };
            req.headers.insert(
                http::header::ACCEPT,
                http::HeaderValue::from_static("text/event-stream"),
            );
            req.headers.remove("mcp-method");
            self.credentials.apply(&mut req).await?;
            let send = self
                .client
                .request(req.method, req.url)
                .map_err(UpstreamError::Net)?
                .headers(req.headers)
                .send();
            tokio::time::timeout_at(deadline, send)
                .await
                .map_err(|_| UpstreamError::Timeout)?
                .map_err(|e| UpstreamError::Net(NetError::from_reqwest(e)))?
        };
        match resp.status() {
            s if s.is_success() && is_sse(&resp) => Ok(Some(Events::new(resp, self.limit))),
            http::StatusCode::METHOD_NOT_ALLOWED => Ok(None),
            s if s.is_success() => Ok(None),
            s => {
                check_status(s, agreement)?;
                Ok(None)
            }
        }
    }

    /// One request and its response; the session id the server handed out with it, when
    /// `want_session`.
    async fn exchange<P: Serialize>(
        &self,
        agreement: &Agreement,
        method: &str,
        params: &P,
        extra: Extra,
        deadline: Instant,
        want_session: bool,
    ) -> Result<(Answer, Option<String>), UpstreamError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // The request's own id is the progress token the upstream sees.
        let relay = extra.relay.clone().map(|p| (id, p));
        let token = relay.as_ref().filter(|r| r.1.token.is_some()).map(|r| r.0);
        let body = wire::body_with(
            agreement.version.is_modern(),
            Some(id),
            method,
            params,
            token,
            extra.client,
        )?;
        let mut unanswered = Unanswered {
            upstream: self,
            agreement,
            id,
            // `initialize` is never cancelled, as the specification says.
            done: method == "initialize",
        };
        let work = async {
            let resp = self.send(agreement, method, body, extra).await?;
            // A 400 that carries a JSON-RPC error is the server's answer (a capability the
            // client lacks, say): the error, not the status, is what the client should see.
            if resp.status() == http::StatusCode::BAD_REQUEST && !is_sse(&resp) {
                let reply = net::read_reply(resp, self.limit, &self.budget)
                    .await
                    .map_err(UpstreamError::from_net)?;
                return Err(match serde_json::from_slice::<Message>(&reply.body) {
                    Ok(Message { error: Some(e), .. }) => rpc_error(e),
                    _ => UpstreamError::Status(http::StatusCode::BAD_REQUEST),
                });
            }
            check_status(resp.status(), agreement)?;
            let session = want_session
                .then(|| {
                    resp.headers()
                        .get("mcp-session-id")
                        .and_then(|v| v.to_str().ok())
                        .filter(|s| !s.is_empty() && s.len() <= 1024)
                        .map(str::to_string)
                })
                .flatten();
            let reply_agreement = Agreement {
                version: agreement.version,
                session: session.clone().or_else(|| agreement.session.clone()),
                caps: agreement.caps,
            };
            let answer = if is_sse(&resp) {
                self.read_stream(resp, id, &reply_agreement, relay.as_ref())
                    .await?
            } else {
                let reply = net::read_reply(resp, self.limit, &self.budget)
                    .await
                    .map_err(UpstreamError::from_net)?;
                let message: Message = serde_json::from_slice(&reply.body)
                    .map_err(|_| UpstreamError::Malformed("a JSON-RPC response"))?;
                answer_of(message, id, reply.held)?
            };
            Ok((answer, session))
        };
        let done = tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| UpstreamError::Timeout)?;
        unanswered.done = true;
        done
    }

    fn transport_headers(
        &self,
        agreement: &Agreement,
        method: &str,
        extra: Extra,
    ) -> http::HeaderMap {
        let mut h = extra.headers;
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        h.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json, text/event-stream"),
        );
        if method != "initialize" {
            h.insert(
                "mcp-protocol-version",
                http::HeaderValue::from_static(agreement.version.as_str()),
            );
        }
        if let Some(v) = agreement
            .session
            .as_deref()
            .and_then(|s| http::HeaderValue::from_str(s).ok())
        {
            h.insert("mcp-session-id", v);
        }
        if agreement.version.is_modern() && !method.is_empty() {
            if let Ok(v) = http::HeaderValue::from_str(method) {
                h.insert("mcp-method", v);
            }
            if let Some(v) = extra.name.as_deref().map(header_value) {
                h.insert("mcp-name", v);
            }
        }
        h
    }

    /// Sends one POST; the caller bounds it (and what follows) by its deadline.
    pub(super) async fn send(
        &self,
        agreement: &Agreement,
        method: &str,
        body: Vec<u8>,
        extra: Extra,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut req = Request {
            method: http::Method::POST,
            url: self.endpoint.clone(),
            headers: self.transport_headers(agreement, method, extra),
            body: Some(body),
        };
        let send = async {
            self.credentials.apply(&mut req).await?;
            let mut builder = self
                .client
                .request(http::Method::POST, req.url)
                .map_err(UpstreamError::Net)?
                .headers(req.headers);
            if let Some(body) = req.body {
                builder = builder.body(body);
            }
            builder
                .send()
                .await
                .map_err(|e| UpstreamError::Net(NetError::from_reqwest(e)))
        };
        send.await
    }
}

/// A request the upstream may still be working on. Dropped before its exchange ended (the
/// client cancelled it or went away, or its deadline passed), it is cancelled at a
/// handshake-era upstream with `notifications/cancelled`, as the specification asks (a
/// dropped connection is not a cancellation there); a 2026-07-28 upstream takes the closed
/// stream as one.
struct Unanswered<'a> {
    upstream: &'a Upstream,
    agreement: &'a Agreement,
    id: u64,
    done: bool,
}

/// How long the gateway tries to tell an upstream that a request is cancelled.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if self.done || self.agreement.version.is_modern() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (upstream, agreement, id) = (self.upstream.clone(), self.agreement.clone(), self.id);
        runtime.spawn(async move {
            let params = json!({"requestId": id, "reason": "the request was cancelled or timed out at the gateway"});
            let deadline = Instant::now() + CANCEL_WAIT;
            if let Err(e) = upstream
                .notify_with(&agreement, "notifications/cancelled", &params, deadline)
                .await
            {
                tracing::debug!(error = %e, "an upstream was not told of a cancelled request");
            }
        });
    }
}

fn is_sse(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"))
}

fn check_status(status: http::StatusCode, agreement: &Agreement) -> Result<(), UpstreamError> {
    use http::StatusCode;
    match status {
        s if s.is_success() => Ok(()),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(UpstreamError::Unauthorized(status))
        }
        StatusCode::NOT_FOUND if agreement.session.is_some() => Err(UpstreamError::SessionGone),
        s => Err(UpstreamError::Status(s)),
    }
}
