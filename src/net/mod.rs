//! Shared outbound HTTP: the one pooled client every outbound call goes through (documents,
//! JWKS, REST calls, MCP upstreams), and bounded reading of what comes back. A body over its
//! limit is refused without being buffered; its bytes are borrowed from the in-flight
//! [`Budget`] as they arrive, so the gateway's memory stays bounded in total, not only per
//! request.
//!
//! Errors keep their source (`reqwest::Error` without its URL, which may carry a query-string
//! API key), so a DNS failure, a refused connection and a reset stay distinguishable to the
//! one place that classifies them.

pub mod egress;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::common::budget::{Budget, Held};
pub use egress::{Egress, EgressError};

/// What a server answered, read in full within its limit.
#[derive(Debug)]
pub struct Reply {
    pub status: http::StatusCode,
    pub content_type: Option<String>,
    /// The reply's headers (AWS kinds read their error type and function error from them).
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// The body's bytes, borrowed from the in-flight budget until the reply is dropped.
    pub held: Held,
}

/// Why no complete reply was read.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("could not connect")]
    Connect(#[source] reqwest::Error),
    #[error("connecting timed out")]
    ConnectTimeout(#[source] reqwest::Error),
    #[error("the exchange failed")]
    Transport(#[source] reqwest::Error),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the gateway holds maxInFlightBytes already; the response was not read")]
    Overloaded,
    #[error("not sent")]
    Egress(#[source] EgressError),
}

impl NetError {
    /// Sorts a client error by where it happened. The URL is dropped first.
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_connect() && e.is_timeout() {
            Self::ConnectTimeout(e)
        } else if e.is_connect() {
            Self::Connect(e)
        } else {
            Self::Transport(e)
        }
    }
}

/// The pooled client every outbound request goes through: no redirects (a redirect could
/// carry credentials elsewhere), bounded connect time, idle connections kept for 90 s, and
/// the egress policy on every address it connects to.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    egress: Arc<Egress>,
}

impl Client {
    pub fn new(connect_timeout: Duration, egress: Egress) -> Result<Self, reqwest::Error> {
        let egress = Arc::new(egress);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(egress::PolicyResolver {
                egress: egress.clone(),
            }))
            .build()?;
        Ok(Self { http, egress })
    }

    /// A request to `url`, refused here when its host is an address the policy forbids
    /// (names are checked when they resolve).
    pub fn request(
        &self,
        method: http::Method,
        url: url::Url,
    ) -> Result<reqwest::RequestBuilder, NetError> {
        self.egress.check_url(&url).map_err(NetError::Egress)?;
        Ok(self.http.request(method, url))
    }

    pub fn egress(&self) -> &Egress {
        &self.egress
    }
}

/// Reads a response, refusing bodies over `limit` bytes without buffering them, and borrowing
/// the bytes from `budget` as they arrive.
pub async fn read_reply(
    mut resp: reqwest::Response,
    limit: usize,
    budget: &Budget,
) -> Result<Reply, NetError> {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(NetError::TooLarge(limit));
    }
    let headers = std::mem::take(resp.headers_mut());
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut held = Held::default();
    while let Some(chunk) = resp.chunk().await.map_err(NetError::from_reqwest)? {
        if body.len() + chunk.len() > limit {
            return Err(NetError::TooLarge(limit));
        }
        held.merge(budget.take(chunk.len()).ok_or(NetError::Overloaded)?);
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        content_type,
        headers,
        body: Bytes::from(body),
        held,
    })
}
