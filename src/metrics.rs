//! Prometheus metrics: the set AgentCore's gateway publishes to CloudWatch, and what an
//! operator needs beside it.
//!
//! - `mcp_gateway_invocations_total`, `_user_errors_total`, `_system_errors_total`,
//!   `_throttles_total` by `method`, `tool`, `target` (AgentCore's `Invocations`,
//!   `UserErrors`, `SystemErrors`, `Throttles` with their `Method` and `Name` dimensions);
//! - `mcp_gateway_latency_seconds` by `method` (AgentCore's `Latency`: until the response is
//!   ready), `mcp_gateway_duration_seconds` by HTTP method (`Duration`: until its last byte
//!   was taken), `mcp_gateway_target_execution_time_seconds` by `tool`, `target`
//!   (`TargetExecutionTime`);
//! - `mcp_gateway_tool_calls_total` by `tool`, `target`, `outcome` (the call's class);
//! - load shed and open connections; and, read at each scrape from the live state, the
//!   catalog generation, each target's status and tool count, requests and streams in
//!   flight, upstream sessions, JWKS loads and verified-token cache hits.
//!
//! Label values are bounded: methods are the protocol's (anything else is `other`), tool and
//! target names come from the catalog (a call to a tool that does not exist has empty ones),
//! outcomes and reasons are fixed words. This module is a leaf: callers say what happened,
//! in its own vocabulary.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The MCP methods that get a label of their own.
const METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
    "tasks/get",
    "tasks/result",
    "tasks/update",
    "tasks/cancel",
];

/// `method` as a label value: itself if the protocol has it, else `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// How a request ended, as AgentCore counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Ok,
    /// The caller's mistake (AgentCore's 4xx except 429).
    UserError,
    /// The gateway's or a target's failure (5xx).
    SystemError,
    /// Refused by a rate limit (429).
    Throttled,
}

/// How a tool call ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelValue,
)]
#[allow(non_camel_case_types)]
pub enum Outcome {
    /// The target answered, and not with an error.
    success,
    /// The target answered with an error result (`isError` from its own reply).
    tool_error,
    /// The arguments or the request were wrong.
    client_error,
    /// The target failed: unreachable, broken, too large.
    target_error,
    /// The gateway failed: its credentials, its budget, its configuration.
    gateway_error,
    /// A deadline passed.
    timeout,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    method: &'static str,
    tool: String,
    target: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Method {
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Tool {
    tool: String,
    target: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolCall {
    tool: String,
    target: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verdict {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetStatus {
    target: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Target {
    target: String,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

/// 0.5 ms to about 16 s, doubling.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The gateway's metrics. With `enabled` false, recording does nothing and nothing is served.
pub struct Metrics {
    pub enabled: bool,
    registry: Registry,
    invocations: Family<Request, Counter>,
    user_errors: Family<Request, Counter>,
    system_errors: Family<Request, Counter>,
    throttles: Family<Request, Counter>,
    latency: Timings<Method>,
    duration: Timings<Method>,
    target_time: Timings<Tool>,
    tool_calls: Family<ToolCall, Counter>,
    load_shed: Family<Reason, Counter>,
    connections: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// What is read from the live state at each scrape.
#[derive(Debug, Default)]
pub struct Live {
    pub catalog_generation: u64,
    /// Name, AgentCore status (`READY`, ...), tools offered.
    pub targets: Vec<(String, &'static str, usize)>,
    /// Requests being served (until their responses are delivered).
    pub requests_in_flight: usize,
    /// Open notification streams.
    pub streams: usize,
    /// Per MCP-server target, the upstream sessions held for clients.
    pub upstream_sessions: Vec<(String, usize)>,
    /// `CUSTOM_JWT` only.
    pub auth: Option<AuthCounts>,
}

/// What a JWT authorizer has done so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthCounts {
    pub cache_hits: u64,
    pub verifications: u64,
    pub jwks_loads: u64,
    pub jwks_failures: u64,
}

impl Metrics {
    pub fn new(enabled: bool) -> Self {
        let mut registry = Registry::with_prefix("mcp_gateway");
        let m = Self {
            enabled,
            invocations: Family::default(),
            user_errors: Family::default(),
            system_errors: Family::default(),
            throttles: Family::default(),
            latency: Timings::new_with_constructor(seconds),
            duration: Timings::new_with_constructor(seconds),
            target_time: Timings::new_with_constructor(seconds),
            tool_calls: Family::default(),
            load_shed: Family::default(),
            connections: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "invocations",
            "MCP requests (AgentCore Invocations)",
            m.invocations.clone(),
        );
        r.register(
            "user_errors",
            "Requests that failed by the caller's mistake (AgentCore UserErrors)",
            m.user_errors.clone(),
        );
        r.register(
            "system_errors",
            "Requests that failed in the gateway or a target (AgentCore SystemErrors)",
            m.system_errors.clone(),
        );
        r.register(
            "throttles",
            "Requests refused by a rate limit (AgentCore Throttles)",
            m.throttles.clone(),
        );
        r.register(
            "latency_seconds",
            "Time until the response was ready (AgentCore Latency)",
            m.latency.clone(),
        );
        r.register(
            "duration_seconds",
            "Time until the response's last byte was taken, by HTTP method (AgentCore Duration)",
            m.duration.clone(),
        );
        r.register(
            "target_execution_time_seconds",
            "Time spent in the target per tool call (AgentCore TargetExecutionTime)",
            m.target_time.clone(),
        );
        r.register("tool_calls", "Tool calls by outcome", m.tool_calls.clone());
        r.register(
            "load_shed",
            "Requests refused with 503 because the gateway was at a limit",
            m.load_shed.clone(),
        );
        r.register(
            "connections",
            "Open inbound connections",
            m.connections.clone(),
        );
        Self { registry, ..m }
    }

    /// One request handled: counted by how it ended, its latency observed. `tool` is the
    /// catalog's tool and target, for `tools/call` of a tool that exists.
    pub fn request(
        &self,
        method: &str,
        tool: Option<(&str, &str)>,
        ended: Ended,
        latency: Duration,
    ) {
        if !self.enabled {
            return;
        }
        let method = method_label(method);
        let (tool, target) = tool.unwrap_or_default();
        let labels = Request {
            method,
            tool: tool.to_string(),
            target: target.to_string(),
        };
        self.invocations.get_or_create(&labels).inc();
        match ended {
            Ended::Ok => {}
            Ended::UserError => {
                self.user_errors.get_or_create(&labels).inc();
            }
            Ended::SystemError => {
                self.system_errors.get_or_create(&labels).inc();
            }
            Ended::Throttled => {
                self.throttles.get_or_create(&labels).inc();
            }
        }
        self.latency
            .get_or_create(&Method { method })
            .observe(latency.as_secs_f64());
    }

    /// A tool call's failure that reached the client as a result (not a JSON-RPC error):
    /// counted with the request's errors, under its tool.
    pub fn tool_failed(&self, tool: &str, target: &str, ended: Ended) {
        if !self.enabled || ended == Ended::Ok {
            return;
        }
        let labels = Request {
            method: "tools/call",
            tool: tool.to_string(),
            target: target.to_string(),
        };
        let family = match ended {
            Ended::UserError => &self.user_errors,
            Ended::Throttled => &self.throttles,
            _ => &self.system_errors,
        };
        family.get_or_create(&labels).inc();
    }

    /// A call that went to its target: its outcome and the time it took there.
    pub fn tool_call(&self, tool: &str, target: &str, outcome: Outcome, took: Duration) {
        if !self.enabled {
            return;
        }
        self.target_time
            .get_or_create(&Tool {
                tool: tool.to_string(),
                target: target.to_string(),
            })
            .observe(took.as_secs_f64());
        self.tool_calls
            .get_or_create(&ToolCall {
                tool: tool.to_string(),
                target: target.to_string(),
                outcome,
            })
            .inc();
    }

    /// A response delivered (or abandoned) after `took`, for an HTTP `method`.
    pub fn delivered(&self, method: &http::Method, took: Duration) {
        if !self.enabled {
            return;
        }
        let method = match *method {
            http::Method::POST => "POST",
            http::Method::GET => "GET",
            http::Method::DELETE => "DELETE",
            _ => "other",
        };
        self.duration
            .get_or_create(&Method { method })
            .observe(took.as_secs_f64());
    }

    /// A request refused at a limit: `requests`, `bytes` or `unsent_bytes`.
    pub fn shed(&self, reason: &'static str) {
        if self.enabled {
            self.load_shed.get_or_create(&Reason { reason }).inc();
        }
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connection(&self, delta: i64) {
        self.connections.inc_by(delta);
    }

    /// The text exposition: everything recorded, and `live` read now.
    pub fn render(&self, live: &Live) -> String {
        let mut now = Registry::with_prefix("mcp_gateway");
        let generation: Gauge = Gauge::default();
        generation.set(i64::try_from(live.catalog_generation).unwrap_or(i64::MAX));
        now.register(
            "catalog_generation",
            "The catalog snapshot's generation (grows by one per rebuild)",
            generation,
        );
        let status = Family::<TargetStatus, Gauge>::default();
        let tools = Family::<Target, Gauge>::default();
        for (target, state, count) in &live.targets {
            status
                .get_or_create(&TargetStatus {
                    target: target.clone(),
                    status: state,
                })
                .set(1);
            tools
                .get_or_create(&Target {
                    target: target.clone(),
                })
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        now.register(
            "target_status",
            "1 for each target's current AgentCore status",
            status,
        );
        now.register("target_tools", "Tools each target offers now", tools);
        let in_flight: Gauge = Gauge::default();
        in_flight.set(i64::try_from(live.requests_in_flight).unwrap_or(i64::MAX));
        now.register(
            "requests_in_flight",
            "Requests being served, until their responses are delivered",
            in_flight,
        );
        let streams: Gauge = Gauge::default();
        streams.set(i64::try_from(live.streams).unwrap_or(i64::MAX));
        now.register("streams", "Open notification streams", streams);
        let sessions = Family::<Target, Gauge>::default();
        for (target, n) in &live.upstream_sessions {
            sessions
                .get_or_create(&Target {
                    target: target.clone(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        now.register(
            "upstream_sessions",
            "Sessions held with each MCP-server target for clients",
            sessions,
        );
        if let Some(a) = live.auth {
            let tokens = Family::<Verdict, Counter>::default();
            tokens
                .get_or_create(&Verdict { result: "hit" })
                .inc_by(a.cache_hits);
            tokens
                .get_or_create(&Verdict { result: "miss" })
                .inc_by(a.verifications);
            now.register(
                "token_cache",
                "Bearer tokens admitted from the verified-token cache (hit) or verified in full (miss)",
                tokens,
            );
            let loads = Family::<Verdict, Counter>::default();
            loads
                .get_or_create(&Verdict { result: "ok" })
                .inc_by(a.jwks_loads);
            loads
                .get_or_create(&Verdict { result: "failed" })
                .inc_by(a.jwks_failures);
            now.register(
                "jwks_loads",
                "Loads of the identity provider's discovery document and keys",
                loads,
            );
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &now);
        let _ = encode_eof(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_agentcores_names_and_bounded_labels() {
        let m = Metrics::new(true);
        let took = Duration::from_millis(3);
        m.request("tools/call", Some(("t___get", "t")), Ended::Ok, took);
        m.request("tools/call", None, Ended::UserError, took);
        m.request("no/such/method", None, Ended::UserError, took);
        m.tool_call("t___get", "t", Outcome::timeout, took);
        m.tool_failed("t___get", "t", Ended::SystemError);
        let text = m.render(&Live {
            catalog_generation: 4,
            targets: vec![("t".into(), "READY", 1)],
            ..Live::default()
        });
        for line in [
            r#"mcp_gateway_invocations_total{method="tools/call",tool="t___get",target="t"} 1"#,
            r#"mcp_gateway_user_errors_total{method="tools/call",tool="",target=""} 1"#,
            r#"mcp_gateway_user_errors_total{method="other",tool="",target=""} 1"#,
            r#"mcp_gateway_system_errors_total{method="tools/call",tool="t___get",target="t"} 1"#,
            r#"mcp_gateway_tool_calls_total{tool="t___get",target="t",outcome="timeout"} 1"#,
            r#"mcp_gateway_target_status{target="t",status="READY"} 1"#,
            "mcp_gateway_catalog_generation 4",
            "# EOF",
        ] {
            assert!(text.contains(line), "`{line}` not in:\n{text}");
        }
        assert_eq!(text.matches("# EOF").count(), 1);
        let off = Metrics::new(false);
        off.request("tools/call", None, Ended::Ok, took);
        assert!(!off.render(&Live::default()).contains("invocations_total{"));
    }
}
