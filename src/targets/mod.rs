//! Targets: one adapter per kind behind one enum. A [`Target`] is what the catalog points
//! each tool at; its [`Adapter`] knows how to call the kind (HTTP operations for OpenAPI and
//! API Gateway, ...), and every call comes back as a [`ToolOutput`] or a classified
//! [`CallError`]. The set of kinds is closed and known at compile time, so dispatch is a
//! `match`: a new kind adds one variant and one module, and the compiler finds every place
//! that must handle it. Kinds whose calls are HTTP requests (OpenAPI, API Gateway, Smithy
//! models, Lambda functions) share one adapter, [`http::HttpAdapter`], and differ in their
//! [`Route`]: how a call becomes a request and a reply becomes a result.
//!
//! Each target publishes the tools it currently offers on a `watch` channel (fixed for an
//! OpenAPI document; live for kinds whose tools change), and its [`Status`] in AgentCore's
//! vocabulary. [`build`] turns the validated config into targets.

pub mod api_gateway;
pub mod aws;
pub mod build;
pub mod class;
pub mod context;
pub mod http;
pub mod lambda;
pub mod mcp_server;
pub mod openapi;
pub mod output;
mod s3;
mod select;
pub mod smithy;
pub mod surface;
pub mod tool;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::{Ended, Outcome};
pub use class::{Class, Fault};
pub use context::CallContext;
pub use output::{ArgProblem, CallError, ToolOutput};
pub use surface::Extras;
pub use tool::{Tool, ToolSet};

/// A target at run time.
#[derive(Debug)]
pub struct Target {
    pub name: String,
    /// How long one call may take, everything included.
    pub timeout: Duration,
    pub adapter: Adapter,
    offer: watch::Sender<Offer>,
    status: ArcSwap<Status>,
}

/// What a target offers now: its tools, and (MCP servers) its prompts and resources.
#[derive(Debug, Clone)]
pub struct Offer {
    pub tools: ToolSet,
    pub extras: Arc<Extras>,
}

/// The kinds of target, each with its own module.
#[derive(Debug)]
pub enum Adapter {
    Http(http::HttpAdapter),
    Mcp(Arc<mcp_server::McpAdapter>),
}

/// Where one tool's calls go, in the terms of its target's kind.
#[derive(Debug)]
pub enum Route {
    Http(http::Route),
    Smithy(smithy::Route),
    Lambda(lambda::Route),
    Mcp(mcp_server::Route),
}

impl Route {
    /// Arguments mirrored in `Mcp-Param-*` headers (2026-07-28 `x-mcp-header`): the header
    /// and the argument's property path. Empty for kinds that have none.
    pub fn header_params(&self) -> &[(::http::HeaderName, Vec<String>)] {
        match self {
            Self::Mcp(r) => &r.params,
            Self::Http(_) | Self::Smithy(_) | Self::Lambda(_) => &[],
        }
    }
}

/// AgentCore's default `resourcePriority`.
pub const DEFAULT_RESOURCE_PRIORITY: u16 = 1000;

/// AgentCore's `TargetStatus` values the gateway reports (the control plane adds the
/// `UPDATING`, `SYNCHRONIZING` and `DELETING` transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Creating,
    Ready,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
        }
    }
}

/// A target's state, with AgentCore's `statusReasons` when it is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub reasons: Vec<String>,
}

impl Status {
    pub fn ready() -> Self {
        Self {
            state: State::Ready,
            reasons: Vec::new(),
        }
    }
}

impl Target {
    pub fn new(name: String, timeout: Duration, adapter: Adapter, tools: ToolSet) -> Self {
        let state = if tools.is_empty() {
            State::Creating
        } else {
            State::Ready
        };
        // An MCP server says what else it offers once it is connected (unless its tools are
        // fixed by `mcpToolSchema`, which stands in for its whole listing).
        let extras = match &adapter {
            Adapter::Mcp(a) if a.fixed_tools().is_none() => Extras::unknown(),
            _ => Extras::none(),
        };
        Self {
            name,
            timeout,
            adapter,
            offer: watch::Sender::new(Offer {
                tools,
                extras: Arc::new(extras),
            }),
            status: ArcSwap::from_pointee(Status {
                state,
                reasons: Vec::new(),
            }),
        }
    }

    /// The tools the target offers now.
    pub fn tools(&self) -> ToolSet {
        self.offer.borrow().tools.clone()
    }

    /// Everything the target offers now.
    pub fn offered(&self) -> Offer {
        self.offer.borrow().clone()
    }

    /// Tells when what the target offers changes.
    pub fn watch_offer(&self) -> watch::Receiver<Offer> {
        self.offer.subscribe()
    }

    /// Replaces the offered tools, keeping the rest (readers of the catalog see it at the
    /// next rebuild).
    pub fn offer(&self, tools: ToolSet) {
        self.offer.send_modify(|o| o.tools = tools);
    }

    /// Replaces everything the target offers.
    pub fn offer_all(&self, tools: ToolSet, extras: Extras) {
        self.offer.send_replace(Offer {
            tools,
            extras: Arc::new(extras),
        });
    }

    /// `resourcePriority`: of two targets that serve one resource URI, the lower wins.
    pub fn resource_priority(&self) -> u16 {
        match &self.adapter {
            Adapter::Mcp(a) => a.settings.resource_priority,
            Adapter::Http(_) => DEFAULT_RESOURCE_PRIORITY,
        }
    }

    pub fn status(&self) -> Arc<Status> {
        self.status.load_full()
    }

    pub fn set_status(&self, status: Status) {
        if *self.status.load().as_ref() != status {
            self.status.store(Arc::new(status));
        }
    }

    /// Whether the target lists its tools live, for each client's first `tools/list` page.
    pub fn is_dynamic(&self) -> bool {
        match &self.adapter {
            Adapter::Mcp(a) => a.is_dynamic(),
            Adapter::Http(_) => false,
        }
    }

    /// Lists the tools again from the target itself, now (a `DYNAMIC` MCP server); a
    /// failure keeps the last list and is reported in the status.
    pub async fn relist(&self) {
        if let Adapter::Mcp(a) = &self.adapter {
            mcp_server::relist(self, a).await;
        }
    }

    /// Upstream sessions held for clients (MCP-server targets only).
    pub fn upstream_sessions(&self) -> Option<usize> {
        match &self.adapter {
            Adapter::Mcp(a) => Some(a.client_sessions()),
            Adapter::Http(_) => None,
        }
    }

    /// Ends what the target keeps for one client (its upstream session), in the background:
    /// the client's gateway session has ended.
    pub fn forget_client(&self, key: &str) {
        if let Adapter::Mcp(a) = &self.adapter {
            a.forget_client(key, self.timeout);
        }
    }

    /// Calls `tool` of this target; `args` is the arguments object. Everything that can wait
    /// runs under `ctx.deadline`. The outcome and the time it took are counted in
    /// `ctx.metrics`.
    pub async fn call(
        &self,
        ctx: &CallContext<'_>,
        tool: &Tool,
        args: &Value,
    ) -> Result<ToolOutput, CallError> {
        let started = Instant::now();
        let result = self.dispatch(ctx, tool, args).await;
        let outcome = match &result {
            Ok(out) if out.is_error => Outcome::tool_error,
            Ok(_) => Outcome::success,
            Err(e) => {
                let class = e.class();
                match class.fault {
                    _ if class.timed_out => Outcome::timeout,
                    Fault::Client => Outcome::client_error,
                    Fault::Target => Outcome::target_error,
                    Fault::Gateway => Outcome::gateway_error,
                }
            }
        };
        ctx.metrics
            .tool_call(&tool.name, &self.name, outcome, started.elapsed());
        // A failure the client sees as an `isError` result is the request's error too (an
        // upstream's JSON-RPC error reaches it as one, and is counted there).
        if let Err(e) = &result
            && !matches!(
                e,
                CallError::Upstream(mcp_server::UpstreamError::Rpc { .. })
            )
        {
            let ended = if e.class().fault == Fault::Client {
                Ended::UserError
            } else {
                Ended::SystemError
            };
            ctx.metrics.tool_failed(&tool.name, &self.name, ended);
        }
        result
    }

    async fn dispatch(
        &self,
        ctx: &CallContext<'_>,
        tool: &Tool,
        args: &Value,
    ) -> Result<ToolOutput, CallError> {
        match (&self.adapter, &tool.route) {
            (Adapter::Http(a), Route::Http(r)) => a.call(ctx, tool, r, args).await,
            (Adapter::Http(a), Route::Smithy(r)) => smithy::call(a, ctx, tool, r, args).await,
            (Adapter::Http(a), Route::Lambda(r)) => lambda::call(a, ctx, tool, r, args).await,
            (Adapter::Mcp(a), Route::Mcp(r)) => {
                within(ctx.deadline, async { Ok(a.call(ctx, r, args).await?) }).await
            }
            // A tool is built by its own target's kind; a mismatch is a gateway bug.
            (Adapter::Http(_), _) | (Adapter::Mcp(_), _) => Err(CallError::Mismatch),
        }
    }
}

impl Target {
    /// Sends an MCP request other than `tools/call` (`prompts/get`, `resources/read`,
    /// `completion/complete`) to this target's upstream, under `ctx.deadline`; `name` is
    /// what `Mcp-Name` carries. Only MCP-server targets take them.
    pub async fn mcp_request<P: serde::Serialize>(
        &self,
        ctx: &CallContext<'_>,
        method: &str,
        params: &P,
        name: Option<&str>,
    ) -> Result<mcp_server::client::Answer, CallError> {
        match &self.adapter {
            Adapter::Mcp(a) => {
                within(ctx.deadline, async {
                    Ok(a.request(ctx, method, params, name).await?)
                })
                .await
            }
            Adapter::Http(_) => Err(CallError::Mismatch),
        }
    }

    /// What the target's upstream said it can do: `None` until it has (or for kinds that
    /// are not MCP servers, which offer nothing beyond tools).
    pub fn caps(&self) -> Option<surface::Caps> {
        match &self.adapter {
            Adapter::Mcp(a) => a.caps(),
            Adapter::Http(_) => None,
        }
    }
}

/// Runs `work` until `deadline`; a call that is still waiting then ends as a timeout.
pub(crate) async fn within<T>(
    deadline: Instant,
    work: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    let started = Instant::now();
    tokio::time::timeout_at(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(CallError::Timeout(
                deadline.saturating_duration_since(started),
            ))
        })
}
