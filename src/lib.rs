//! mcp-gateway: a self-hosted MCP gateway that speaks Amazon Bedrock AgentCore Gateway's
//! configuration shapes. Agents connect over streamable HTTP MCP; the gateway lists the tools
//! its targets provide (API Gateway stages, OpenAPI APIs) and turns each `tools/call` into an
//! HTTP call on the target, signed with SigV4 or an API key.
//!
//! The modules follow a request: [`http`] (limits, origin, auth) → [`auth`] → [`mcp`]
//! (versions, sessions, dispatch) → [`catalog`] (the live snapshot, tool lookup) →
//! [`targets`] (one adapter per kind: arguments to request, [`outbound`] credentials, [`net`]
//! bounded exchange, output) → [`mcp::results`] (what the client sees). [`config`] and the
//! importers in [`targets`] run when targets are built; [`tasks`] owns what runs in the
//! background.
//! See ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod auth;
pub mod catalog;
pub mod common;
pub mod config;
pub mod http;
pub mod mcp;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod targets;
pub mod tasks;
pub mod telemetry;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use config::{Config, ConfigError, Env, Problems};

/// A gateway ready to serve: the loaded catalog and the HTTP state around it.
pub struct Gateway {
    pub config: Config,
    pub state: Arc<http::AppState>,
    /// Remarks from loading (skipped operations, compatibility notes).
    pub warnings: Vec<String>,
    /// The owner of background tasks; [`Gateway::start`] starts them.
    pub tasks: tasks::Tasks,
}

impl Gateway {
    /// Builds from a partly valid config: the valid targets are still checked against their
    /// documents, so one run reports every problem of the file.
    pub async fn load(partial: config::Partial, env: &dyn Env) -> Result<Self, ConfigError> {
        let (config, mut problems) = partial;
        let Some(config) = config else {
            return Err(problems.into());
        };
        match Self::build(config, env).await {
            Ok(gateway) if problems.is_empty() => Ok(gateway),
            Ok(_) => Err(problems.into()),
            Err(more) => {
                problems.extend(more);
                Err(problems.into())
            }
        }
    }

    /// Builds the targets (reading or fetching their OpenAPI documents) and the catalog.
    pub async fn build(config: Config, env: &dyn Env) -> Result<Self, Problems> {
        let egress = net::Egress::new(config.server.egress.clone());
        let http = net::Client::new(config.server.connect_timeout, egress).map_err(|e| {
            let mut p = Problems::default();
            p.push("", format!("cannot create the HTTP client: {e}"));
            p
        })?;
        let budget = common::budget::Budget::new(config.server.max_in_flight_bytes);
        let (updates, _) = tokio::sync::broadcast::channel(1024);
        let shared = targets::build::Shared {
            client: http.clone(),
            budget: budget.clone(),
            max_response_bytes: config.server.max_response_body_bytes,
            updates: updates.clone(),
        };
        let built = targets::build::build(&config, env, &shared).await?;
        let catalog = Arc::new(catalog::Live::new(
            built.targets.into_iter().map(Arc::new).collect(),
        ));
        let mut warnings = config.warnings.clone();
        warnings.extend(built.warnings);
        let secret = session_key(&config, env, &mut warnings);
        let authorizer = auth::Authorizer::new(
            &config.gateway.authorizer,
            http.clone(),
            config.server.public_url.as_deref(),
        );
        if matches!(
            config.gateway.authorizer,
            config::AuthorizerSettings::Iam(_)
        ) && config.server.public_url.is_none()
            && !config.server.listen.ip().is_loopback()
        {
            warnings.push(
                "AWS_IAM without server.publicUrl: signatures are checked against whatever Host the caller sends, so a request signed for another endpoint with the same key could be replayed here; set publicUrl to pin the host".into(),
            );
        }
        let mut limits = mcp::limits::Limits::new(&config.rate_limits);
        if let Some((url, prefix)) = &config.server.rate_limit_store {
            let refuse = |message: String| {
                let mut p = Problems::default();
                p.push("server.rateLimitStore.redisUrl", message);
                p
            };
            // The store is outbound like any target: its addresses pass the egress policy.
            let host = url::Url::parse(url)
                .ok()
                .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(6379))))
                .unwrap_or_default();
            let addrs = tokio::net::lookup_host(host.as_str())
                .await
                .map_err(|e| refuse(format!("cannot resolve {host}: {e}")))?;
            for addr in addrs {
                if let Some(rule) = http.egress().refusal(addr.ip()) {
                    return Err(refuse(format!("{host} ({}) is refused: {rule}", addr.ip())));
                }
            }
            limits = limits
                .shared(url, prefix)
                .await
                .map_err(|e| refuse(common::error_chain(&e)))?;
        }
        let tasks = tasks::Tasks::new();
        let mcp = mcp::McpService::new(
            catalog,
            config.gateway.clone(),
            &secret,
            config.server.tools_list_page_size,
            updates,
            Arc::new(metrics::Metrics::new(config.server.metrics_enabled)),
            limits,
        );
        let state = Arc::new(http::AppState {
            mcp,
            authorizer,
            gateway_name: config.gateway.name.clone(),
            public_url: config.server.public_url.clone(),
            trust_forwarded_headers: config.server.trust_forwarded_headers,
            allowed_origins: config.server.allowed_origins.clone(),
            ready: AtomicBool::new(true),
            max_request_body_bytes: config.server.max_request_body_bytes,
            max_concurrent_requests: config.server.max_concurrent_requests,
            request_body_timeout: config.server.request_body_timeout,
            budget,
            streams: Arc::new(tokio::sync::Semaphore::new(
                config.server.max_concurrent_requests,
            )),
            closing: tasks.child(),
            requests: Arc::new(tokio::sync::Semaphore::new(
                config.server.max_concurrent_requests,
            )),
        });
        Ok(Self {
            config,
            state,
            warnings,
            tasks,
        })
    }

    /// Starts the background tasks: the catalog rebuilder, and each target's own (an MCP
    /// server's lister and listener).
    pub fn start(&self) {
        let live = self.state.mcp.catalog.clone();
        for target in live.targets() {
            if matches!(target.adapter, targets::Adapter::Mcp(_)) {
                self.tasks
                    .spawn(targets::mcp_server::run(target.clone(), self.tasks.child()));
            }
        }
        self.tasks.spawn(live.run(self.tasks.token()));
    }

    /// The connection limits and shutdown timings from `server:`.
    pub fn limits(&self) -> http::Limits {
        let s = &self.config.server;
        http::Limits {
            max_connections: s.max_connections,
            header_read_timeout: s.header_read_timeout,
            write_stall_timeout: s.write_stall_timeout,
            max_unsent_bytes_per_connection: s.max_unsent_bytes_per_connection,
            readiness_drain: s.readiness_drain,
            shutdown_grace: s.shutdown_grace,
        }
    }

    /// The catalog as it is now.
    pub fn catalog(&self) -> Arc<catalog::Catalog> {
        self.state.mcp.catalog.load_full()
    }
}

/// The session HMAC key: `MCP_GATEWAY_SESSION_KEY`; without it a key derived from the
/// gateway's name while it listens on loopback only, else a random one (see `mcp::session`).
fn session_key(config: &Config, env: &dyn Env, warnings: &mut Vec<String>) -> Vec<u8> {
    if let Some(k) = env.var("MCP_GATEWAY_SESSION_KEY").filter(|k| !k.is_empty()) {
        if k.len() < 32 {
            warnings.push(
                "MCP_GATEWAY_SESSION_KEY is shorter than 32 characters: use 32 random bytes or more (e.g. `openssl rand -base64 32`)".into(),
            );
        }
        return k.into_bytes();
    }
    if config.server.listen.ip().is_loopback() {
        return format!("mcp-gateway:{}", config.gateway.name).into_bytes();
    }
    warnings.push(
        "MCP_GATEWAY_SESSION_KEY is not set and the gateway listens beyond loopback: sessions use a random key, so they end when this process does and are not valid on other replicas; set the variable to share them".into(),
    );
    common::random::key().to_vec()
}
