//! The HTTP surface: `/mcp` (POST, GET, DELETE), `/health`, `/ready`, `/metrics`
//! (Prometheus), the OAuth protected resource metadata ([`auth`]), and the layers in front of
//! them — body size and read-time limits, a concurrency limit and a byte budget that shed
//! load with 503 instead of queueing (both held until the response has been delivered, see
//! [`flow`]), request tracing with credentials redacted, panics turned into 500s. [`server`]
//! runs the accept loop (connection limits, header and write-stall timeouts, graceful drain)
//! on an already-bound listener, so tests can bind port 0.
//!
//! The door comes before the body: a `POST /mcp` is checked for its Origin and credentials
//! from its headers alone, and an over-limit `Content-Length` is refused, before a byte of
//! the body is read (so no `100 Continue` is sent for it). Only `AWS_IAM`, whose signature
//! covers the body, reads the body first, and only from a request that carries a signature.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

mod auth;
mod flow;
mod server;
mod stream;

pub use server::{Limits, serve};

use crate::auth::{Authorizer, RequestInfo};
use crate::common::budget::{Budget, Held};
use crate::mcp::{self, McpService, jsonrpc};
use flow::{Conn, Outgoing};
use stream::{
    Streaming, accepts_event_stream, notification_stream, outcome_response, wants_sse,
    with_progress,
};

/// Shared state of the HTTP handlers.
pub struct AppState {
    pub mcp: McpService,
    pub authorizer: Authorizer,
    pub gateway_name: String,
    /// `server.publicUrl`: the external base URL, when configured.
    pub public_url: Option<String>,
    /// `server.trustForwardedHeaders`.
    pub trust_forwarded_headers: bool,
    pub allowed_origins: Vec<String>,
    pub ready: AtomicBool,
    pub max_request_body_bytes: usize,
    pub max_concurrent_requests: usize,
    pub request_body_timeout: std::time::Duration,
    /// `maxInFlightBytes`: request bodies, backend replies and unsent responses.
    pub budget: Budget,
    /// Open notification streams (`GET /mcp`, `subscriptions/listen`), at most
    /// `maxConcurrentRequests` of them.
    pub streams: Arc<Semaphore>,
    /// Cancelled when the gateway stops accepting: notification streams end, so the drain
    /// does not wait for them.
    pub closing: tokio_util::sync::CancellationToken,
    /// Requests being served, at most `max_concurrent_requests`: a permit each until its
    /// response is delivered.
    pub requests: Arc<Semaphore>,
}

/// The router with all layers.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = Shedding {
        requests: state.requests.clone(),
        budget: state.budget.clone(),
        metrics: state.mcp.metrics.clone(),
    };
    // Load shedding and the body limits guard /mcp only: probes must answer under overload.
    let mcp = Router::new()
        .route("/mcp", post(mcp_post).get(mcp_get).delete(mcp_delete))
        .layer(RequestBodyTimeoutLayer::new(state.request_body_timeout))
        .layer(middleware::from_fn_with_state(limit, shed_load));
    let browsers = cors(&state.allowed_origins);
    Router::new()
        .merge(mcp)
        .route(auth::METADATA_PATH, get(auth::metadata))
        .route(&format!("{}/mcp", auth::METADATA_PATH), get(auth::metadata))
        .layer(browsers)
        .route("/health", get(|| async { Json::ok(r#"{"status":"ok"}"#) }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            header::PROXY_AUTHORIZATION,
        ]))
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

struct Json;

impl Json {
    fn ok(body: &'static str) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }

    fn with_status(status: StatusCode, body: Vec<u8>) -> Response {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// `/ready`: 200 while the gateway serves (even when some targets are down: the others are
/// served), 503 while it drains or before its authorizer can check tokens. The body lists
/// each target's status in AgentCore's vocabulary, with the reasons when it is not READY.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct TargetStatus<'a> {
        name: &'a str,
        status: &'static str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        status_reasons: Vec<String>,
        tools: usize,
    }
    let serving = state.ready.load(Ordering::SeqCst) && state.authorizer.is_ready();
    let targets: Vec<_> = state
        .mcp
        .catalog
        .targets()
        .iter()
        .map(|t| (t, t.status()))
        .collect();
    let listed: Vec<TargetStatus<'_>> = targets
        .iter()
        .map(|(t, s)| TargetStatus {
            name: &t.name,
            status: s.state.as_str(),
            status_reasons: s.reasons.clone(),
            tools: t.tools().len(),
        })
        .collect();
    let body = serde_json::json!({
        "status": if serving { "ready" } else { "not ready" },
        "catalogGeneration": state.mcp.catalog.load().generation(),
        "targets": listed,
    });
    let status = if serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Json::with_status(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// `/metrics`: the Prometheus exposition (404 when `server.metrics.enabled` is false).
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let m = &state.mcp.metrics;
    if !m.enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let catalog = &state.mcp.catalog;
    let targets = catalog.targets();
    let live = crate::metrics::Live {
        catalog_generation: catalog.load().generation(),
        targets: targets
            .iter()
            .map(|t| (t.name.clone(), t.status().state.as_str(), t.tools().len()))
            .collect(),
        requests_in_flight: state.max_concurrent_requests - state.requests.available_permits(),
        streams: state.max_concurrent_requests - state.streams.available_permits(),
        upstream_sessions: targets
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.upstream_sessions()?)))
            .collect(),
        auth: state.authorizer.counts(),
    };
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        m.render(&live),
    )
        .into_response()
}

/// What [`shed_load`] counts.
#[derive(Clone)]
struct Shedding {
    requests: Arc<Semaphore>,
    budget: Budget,
    metrics: Arc<crate::metrics::Metrics>,
}

fn overloaded(message: &str) -> Response {
    let body = jsonrpc::failure(
        None,
        &jsonrpc::RpcError::new(jsonrpc::INTERNAL_ERROR, message),
    );
    let mut resp = Json::with_status(StatusCode::SERVICE_UNAVAILABLE, body);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// Beyond `max_concurrent_requests` in flight, or with the byte budget spent, answer 503 at
/// once with `Retry-After`. A request counts until its response has been delivered: the
/// permit and the response's bytes travel with the body ([`Outgoing`]).
async fn shed_load(State(limit): State<Shedding>, req: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let Ok(permit) = limit.requests.clone().try_acquire_owned() else {
        limit.metrics.shed("requests");
        return overloaded("Server overloaded: retry later");
    };
    if !limit.budget.has_room() {
        limit.metrics.shed("bytes");
        return overloaded("Server overloaded (bytes in flight): retry later");
    }
    let method = req.method().clone();
    let conn = req.extensions().get::<Arc<Conn>>().cloned();
    let (parts, body) = next.run(req).await.into_parts();
    if parts.extensions.get::<Streaming>().is_some() {
        drop(permit);
        return Response::from_parts(parts, body);
    }
    match Outgoing::new(body, conn, &limit.budget, Some(permit)) {
        Some(body) => {
            let body = if limit.metrics.enabled {
                body.timed(flow::Timed {
                    metrics: limit.metrics.clone(),
                    method,
                    started,
                })
            } else {
                body
            };
            Response::from_parts(parts, Body::new(body))
        }
        None => {
            limit.metrics.shed("unsent_bytes");
            overloaded(
                "Too many response bytes not yet taken by this client or in total: read the responses, then retry",
            )
        }
    }
}

/// DNS-rebinding protection: a browser `Origin` must be loopback or listed. `Some` is the
/// refusal to send.
fn origin_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let origin = headers.get(header::ORIGIN)?;
    (!origin_allowed(origin, &state.allowed_origins)).then(|| {
        refuse(
            StatusCode::FORBIDDEN,
            jsonrpc::INVALID_REQUEST,
            "Forbidden: Origin not allowed",
        )
    })
}

/// Authenticates; `Err` is the response to send.
async fn authenticate(
    state: &AppState,
    req: &RequestInfo<'_>,
) -> Result<crate::auth::Principal, Response> {
    state.authorizer.authenticate(req).await.map_err(|e| {
        tracing::info!(error = %e, "request refused by the authorizer");
        auth::refusal(state, req.headers, &e)
    })
}

/// Checks `Origin` and authenticates from the headers alone.
async fn admit(
    state: &AppState,
    req: &RequestInfo<'_>,
) -> Result<crate::auth::Principal, Response> {
    if let Some(refusal) = origin_refusal(state, req.headers) {
        return Err(refusal);
    }
    authenticate(state, req).await
}

/// CORS for the origins `/mcp` admits (loopback, and `allowedOrigins`): a browser client on
/// another port (MCP Inspector's direct mode) can send MCP's headers and read the session id
/// and the authentication challenge. Other origins get no CORS approval, and their requests
/// are refused with 403 anyway.
fn cors(allowed: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed = allowed.to_vec();
    let name = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin_allowed(origin, &allowed)
        }))
        .allow_methods([http::Method::POST, http::Method::GET, http::Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            name(mcp::HEADER_PROTOCOL_VERSION),
            name(mcp::HEADER_SESSION_ID),
            name(mcp::HEADER_METHOD),
            name(mcp::HEADER_NAME),
            name("last-event-id"),
        ])
        .expose_headers([name(mcp::HEADER_SESSION_ID), header::WWW_AUTHENTICATE])
        .max_age(std::time::Duration::from_secs(600))
}

/// Loopback origins are always allowed; others only when listed (or `*` is listed).
fn origin_allowed(origin: &HeaderValue, allowed: &[String]) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/') == origin)
    {
        return true;
    }
    url::Url::parse(origin).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && matches!(
                u.host(),
                Some(url::Host::Domain("localhost"))
                    | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                    | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
            )
    })
}

fn refuse(status: StatusCode, code: i64, message: &str) -> Response {
    let body = jsonrpc::failure(None, &jsonrpc::RpcError::new(code, message));
    Json::with_status(status, body)
}

/// Reads a request body of at most `limit` bytes (refusing a larger declared length before
/// reading anything) and borrows its size from the budget.
async fn read_body(
    body: Body,
    declared: Option<u64>,
    limit: usize,
    budget: &Budget,
) -> Result<(Bytes, Held), Response> {
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            jsonrpc::INVALID_REQUEST,
            &format!("The request body is larger than maxRequestBodyBytes ({limit})"),
        )
    };
    // An announced body over the limit is refused before it is read (no `100 Continue`);
    // one within it is borrowed before it arrives.
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut held = match declared {
        Some(n) => budget
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .ok_or_else(|| overloaded("Server overloaded (bytes in flight): retry later"))?,
        None => Held::default(),
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let source = std::error::Error::source(&e);
            if source.is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
                return Err(too_large());
            }
            if source.is_some_and(|s| s.is::<tower_http::timeout::TimeoutError>()) {
                return Err(refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    jsonrpc::INVALID_REQUEST,
                    "The request body did not arrive within requestBodySeconds",
                ));
            }
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                jsonrpc::INVALID_REQUEST,
                "The request body could not be read",
            ));
        }
    };
    if declared.is_none() {
        held = budget
            .take(bytes.len())
            .ok_or_else(|| overloaded("Server overloaded (bytes in flight): retry later"))?;
    }
    Ok((bytes, held))
}

async fn mcp_post(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
    let mut info = RequestInfo {
        method,
        uri,
        headers,
        body: &[],
    };
    if let Some(refusal) = origin_refusal(&state, headers) {
        return refusal;
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Only a signature that covers the body needs the body before the door.
    let body_first = state.authorizer.needs_body() && headers.contains_key(header::AUTHORIZATION);
    let mut principal = None;
    if !body_first {
        match authenticate(&state, &info).await {
            Ok(p) => principal = Some(p),
            Err(resp) => return resp,
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            jsonrpc::INVALID_REQUEST,
            "Content-Type must be application/json",
        );
    }
    if headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            jsonrpc::INVALID_REQUEST,
            "Content-Encoding is not supported: send the JSON body uncompressed",
        );
    }
    let Some(sse) = wants_sse(headers) else {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            jsonrpc::INVALID_REQUEST,
            "Accept must include application/json or text/event-stream",
        );
    };
    let (body, _held) =
        match read_body(body, declared, state.max_request_body_bytes, &state.budget).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
    let principal = match principal {
        Some(p) => p,
        None => {
            info.body = &body;
            match authenticate(&state, &info).await {
                Ok(p) => p,
                Err(resp) => return resp,
            }
        }
    };
    // A call that may report progress or relay an upstream's requests, from a client that
    // takes SSE, runs beside its response so those can stream before the result.
    let in_session = headers.contains_key(mcp::HEADER_SESSION_ID);
    if accepts_event_stream(headers)
        && mcp::may_relay(&body, in_session, state.mcp.has_mcp_targets())
    {
        let headers = parts.headers.clone();
        return with_progress(state, headers, body, principal, _held).await;
    }
    let outcome = state
        .mcp
        .handle_post(headers, &body, &principal, None)
        .await;
    outcome_response(&state, outcome, sse)
}

async fn mcp_get(
    State(state): State<Arc<AppState>>,
    method: http::Method,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = origin_refusal(&state, &headers) {
        return refusal;
    }
    let info = RequestInfo {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &[],
    };
    let principal = match admit(&state, &info).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if !accepts_event_stream(&headers) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    match state.mcp.listen(&headers, &principal) {
        Ok(listener) => notification_stream(&state, listener),
        // Without a session there is no one to address: no stream is offered.
        Err(mcp::notify::NoStream::NoSession) => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST, DELETE")],
        )
            .into_response(),
        Err(mcp::notify::NoStream::Session(e)) => mcp::results::session_status(e).into_response(),
    }
}

async fn mcp_delete(
    State(state): State<Arc<AppState>>,
    method: http::Method,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    let info = RequestInfo {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &[],
    };
    match admit(&state, &info).await {
        Ok(principal) => match state.mcp.handle_delete(&headers, &principal) {
            StatusCode::SERVICE_UNAVAILABLE => {
                overloaded("Too many sessions ended recently: retry the DELETE later")
            }
            status => status.into_response(),
        },
        Err(resp) => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let allowed = vec!["https://app.example.com".to_string()];
        let ok = |o: &str| origin_allowed(&HeaderValue::from_str(o).unwrap(), &allowed);
        assert!(ok("http://localhost:6274"));
        assert!(ok("http://127.0.0.1"));
        assert!(ok("http://[::1]:3000"));
        assert!(ok("https://app.example.com"));
        assert!(!ok("https://evil.example.com"));
        assert!(!ok("http://localhost.evil.com"));
        assert!(!ok("null"));
    }

    #[test]
    fn accept_negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            wants_sse(&m)
        };
        assert_eq!(h("application/json, text/event-stream"), Some(false));
        assert_eq!(h("text/event-stream"), Some(true));
        assert_eq!(h("text/html"), None);
        assert_eq!(wants_sse(&HeaderMap::new()), Some(false));
    }
}
