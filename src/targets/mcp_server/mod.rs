//! Remote MCP servers as targets (`targetConfiguration.mcp.mcpServer`): the gateway is a
//! client of each upstream ([`client`]), lists its tools as `{target}___{tool}` (every page,
//! curated by the self-hosted `mcpServerToolConfiguration`), and passes `tools/call` through
//! faithfully: every content item, `structuredContent`, `isError` and `_meta` as the upstream
//! wrote them.
//!
//! One task per target ([`run`], in [`lister`]) agrees on a protocol version, lists the tools, publishes
//! them, and then listens for `notifications/tools/list_changed` to list them again. When the
//! upstream is down or broken, the task marks the target `FAILED` with the reason and tries
//! again with jittered backoff; the rest of the gateway keeps serving.
//!
//! Where the upstream has sessions, each client (its gateway session, else its principal)
//! gets its own upstream session, created on its first call and replaced when the upstream
//! forgets it; upstream state is never shared between two clients. A stateless upstream is
//! never asked for a session.

pub mod client;
mod curate;
pub mod error;
mod lister;
mod relay;
mod results;
pub mod sse;
mod subscriptions;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::context::{CallContext, Relay};
use super::output::ToolOutput;
use super::surface::{Caps, Extras};
use super::tool::ToolSet;
use crate::config::McpServerSettings;
use client::{Agreement, Extra, Upstream};
pub use curate::Curation;
pub use error::UpstreamError;
pub use lister::{relist, run};
use results::output;
pub use results::{input_required, own_meta};

/// Pages of `tools/list` read from one upstream before giving up.
const MAX_PAGES: usize = 100;
/// Tools one upstream may offer.
pub const MAX_TOOLS: usize = 10_000;
/// Client sessions one upstream keeps at once; the least recently used goes first.
const MAX_CLIENT_SESSIONS: usize = 10_000;
/// Unbidden upstream requests being answered at once, per target.
pub(super) const MAX_UNBIDDEN: usize = 256;

/// Everything one upstream offers, curated, and why anything was left out.
#[derive(Debug)]
pub struct Listed {
    pub tools: ToolSet,
    pub extras: Extras,
    pub reasons: Vec<String>,
}

/// How to call one upstream tool.
#[derive(Debug)]
pub struct Route {
    /// The upstream's own name for the tool.
    pub name: String,
    /// Arguments the tool marks with `x-mcp-header`: the header and the property path.
    pub params: Vec<(http::HeaderName, Vec<String>)>,
}

/// An MCP-server target at run time.
#[derive(Debug)]
pub struct McpAdapter {
    pub upstream: Upstream,
    pub settings: McpServerSettings,
    curation: Curation,
    /// How the gateway itself talks to the upstream (listing, and calls when the upstream
    /// has no sessions).
    agreement: ArcSwapOption<Agreement>,
    connecting: tokio::sync::Mutex<()>,
    clients: Mutex<ClientSessions>,
    /// Fixed tools from `mcpToolSchema`, when configured.
    fixed: Option<Vec<Value>>,
    /// Wakes the target's task to list the tools again (a call saw `list_changed`).
    relist: tokio::sync::Notify,
    /// Resource URIs clients subscribed to through the gateway's own stream (an upstream
    /// without sessions), with how many subscribed to each.
    watched: Mutex<std::collections::BTreeMap<String, usize>>,
    /// Wakes the listener to open its stream again with the new `resourceSubscriptions`.
    resubscribe: tokio::sync::Notify,
    /// Where resource updates go, and the per-client streams that carry them (an upstream
    /// with sessions sends a client's updates on that client's own session).
    updates: super::surface::Updates,
    client_streams: Mutex<HashMap<String, CancellationToken>>,
    /// The streams of clients listening on the gateway (`GET` in their session), by client
    /// key: what the upstream sends unbidden on that client's upstream session goes there.
    attached: Mutex<HashMap<String, Relay>>,
    /// Answers to what the upstream sends unbidden, in flight at once; past it, such a
    /// request is dropped (an upstream that floods the gateway waits on itself).
    unbidden: Arc<tokio::sync::Semaphore>,
    target: Arc<str>,
}

#[derive(Debug, Default)]
struct ClientSessions {
    by_client: HashMap<String, (Arc<OnceCell<Agreement>>, Instant)>,
}

impl McpAdapter {
    pub fn new(
        upstream: Upstream,
        settings: McpServerSettings,
        target: &str,
        fixed: Option<Vec<Value>>,
        updates: super::surface::Updates,
    ) -> Self {
        let curation = Curation::new(target, &settings);
        Self {
            watched: Mutex::default(),
            resubscribe: tokio::sync::Notify::new(),
            updates,
            client_streams: Mutex::default(),
            attached: Mutex::default(),
            unbidden: Arc::new(tokio::sync::Semaphore::new(MAX_UNBIDDEN)),
            target: Arc::from(target),
            upstream,
            settings,
            curation,
            agreement: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(()),
            clients: Mutex::new(ClientSessions::default()),
            fixed,
            relist: tokio::sync::Notify::new(),
        }
    }

    /// `listingMode: DYNAMIC` (and the tools are not fixed by `mcpToolSchema`).
    pub fn is_dynamic(&self) -> bool {
        self.settings.listing_mode == crate::config::model::ListingMode::Dynamic
            && self.fixed.is_none()
    }

    /// The tools of `mcpToolSchema`, curated; the reasons for any left out.
    pub fn fixed_tools(&self) -> Option<(ToolSet, Vec<String>)> {
        let fixed = self.fixed.as_ref()?;
        Some(self.curation.tools(fixed.iter().cloned()))
    }

    /// The agreement with the upstream, made now if there is none yet.
    async fn agreement(&self, deadline: Instant) -> Result<Arc<Agreement>, UpstreamError> {
        if let Some(a) = self.agreement.load_full() {
            return Ok(a);
        }
        let _one = self.connecting.lock().await;
        if let Some(a) = self.agreement.load_full() {
            return Ok(a);
        }
        let a = Arc::new(self.upstream.agree(deadline).await?);
        self.agreement.store(Some(a.clone()));
        Ok(a)
    }

    /// Forgets the agreement (the upstream restarted, or forgot the session).
    fn forget(&self) {
        self.agreement.store(None);
    }

    /// Lists everything the upstream offers (every page of its tools, and of its prompts,
    /// resources and resource templates when it has them) and curates it.
    pub async fn list(&self, target: &str, deadline: Instant) -> Result<Listed, UpstreamError> {
        let agreement = self.agreement(deadline).await?;
        match self.list_with(target, &agreement, deadline).await {
            Err(UpstreamError::SessionGone) => {
                self.forget();
                let agreement = self.agreement(deadline).await?;
                self.list_with(target, &agreement, deadline).await
            }
            other => other,
        }
    }

    async fn list_with(
        &self,
        target: &str,
        agreement: &Agreement,
        deadline: Instant,
    ) -> Result<Listed, UpstreamError> {
        let caps = agreement.caps;
        let tools = self
            .pages(agreement, "tools/list", "tools", deadline)
            .await?;
        let (tools, mut reasons) = self.curation.tools(tools.into_iter());
        let mut more = |found: Result<Vec<Value>, UpstreamError>, what: &str| match found {
            Ok(items) => items,
            // The tools are served even when the rest cannot be listed.
            Err(e) => {
                reasons.push(format!(
                    "listing the upstream's {what} failed: {}",
                    crate::common::error_chain(&e)
                ));
                Vec::new()
            }
        };
        let prompts = if caps.prompts {
            more(
                self.pages(agreement, "prompts/list", "prompts", deadline)
                    .await,
                "prompts",
            )
        } else {
            Vec::new()
        };
        let (resources, templates) = if caps.resources {
            (
                more(
                    self.pages(agreement, "resources/list", "resources", deadline)
                        .await,
                    "resources",
                ),
                more(
                    self.pages(
                        agreement,
                        "resources/templates/list",
                        "resourceTemplates",
                        deadline,
                    )
                    .await,
                    "resource templates",
                ),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let (extras, left_out) = Extras::from_upstream(target, caps, prompts, resources, templates);
        reasons.extend(left_out);
        Ok(Listed {
            tools,
            extras,
            reasons,
        })
    }

    /// Every page of one of the upstream's lists: the items under `field`.
    async fn pages(
        &self,
        agreement: &Agreement,
        method: &str,
        field: &str,
        deadline: Instant,
    ) -> Result<Vec<Value>, UpstreamError> {
        let mut all: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => serde_json::json!({ "cursor": c }),
                None => serde_json::json!({}),
            };
            let answer = self
                .upstream
                .request(agreement, method, &params, Extra::default(), deadline)
                .await?;
            let mut page: serde_json::Map<String, Value> =
                serde_json::from_str(answer.result.get())
                    .map_err(|_| UpstreamError::Malformed("a list result"))?;
            match page.remove(field) {
                Some(Value::Array(items)) => all.extend(items),
                None | Some(Value::Null) => {}
                Some(_) => return Err(UpstreamError::Malformed("a list result")),
            }
            if all.len() > MAX_TOOLS {
                return Err(UpstreamError::TooManyItems(MAX_TOOLS));
            }
            match page.remove("nextCursor") {
                Some(Value::String(c)) if !c.is_empty() && Some(&c) != cursor.as_ref() => {
                    cursor = Some(c);
                }
                _ => return Ok(all),
            }
        }
        Err(UpstreamError::Malformed(
            "a list that pages on past the page limit",
        ))
    }

    /// The agreement under which `ctx`'s client calls: the gateway's own when the upstream
    /// has no sessions, else the client's own session.
    async fn for_client(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
    ) -> Result<Arc<Agreement>, UpstreamError> {
        let shared = self.agreement(ctx.deadline).await?;
        if shared.session.is_none() {
            return Ok(shared);
        }
        let key = ctx.client_key();
        let cell = {
            let mut clients = self.clients.lock();
            let now = Instant::now();
            if !clients.by_client.contains_key(&key)
                && clients.by_client.len() >= MAX_CLIENT_SESSIONS
                && let Some(oldest) = clients
                    .by_client
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k.clone())
            {
                clients.by_client.remove(&oldest);
            }
            let entry = clients
                .by_client
                .entry(key.clone())
                .or_insert_with(|| (Arc::new(OnceCell::new()), now));
            entry.1 = now;
            entry.0.clone()
        };
        let mut created = false;
        let agreement = cell
            .get_or_try_init(|| {
                created = true;
                self.upstream.initialize(ctx.deadline, ctx.client)
            })
            .await?;
        let agreement = Arc::new(agreement.clone());
        // A client listening on its own stream hears what the upstream sends on this one.
        if created && self.attached.lock().contains_key(&key) {
            self.stream_for(key, agreement.clone());
        }
        Ok(agreement)
    }

    fn drop_client(&self, ctx: &CallContext<'_>) {
        self.clients.lock().by_client.remove(&ctx.client_key());
    }

    /// Upstream sessions held for clients now.
    pub fn client_sessions(&self) -> usize {
        self.clients.lock().by_client.len()
    }

    /// Forgets a client's upstream session and ends it at the upstream (`DELETE`, best
    /// effort, within `timeout`, off the caller's path).
    pub fn forget_client(self: &Arc<Self>, key: &str, timeout: Duration) {
        if let Some(stream) = self.client_streams.lock().remove(key) {
            stream.cancel();
        }
        let Some((cell, _)) = self.clients.lock().by_client.remove(key) else {
            return;
        };
        let Some(agreement) = cell.get().cloned() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            this.upstream
                .end(&agreement, Instant::now() + timeout)
                .await;
        });
    }

    /// Runs one `tools/call` on the upstream.
    pub async fn call(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
        route: &Route,
        args: &Value,
    ) -> Result<ToolOutput, UpstreamError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Params<'a> {
            name: &'a str,
            arguments: &'a Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            input_responses: Option<&'a RawValue>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request_state: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            task: Option<&'a RawValue>,
        }
        let params = Params {
            name: &route.name,
            arguments: args,
            input_responses: ctx.resume.and_then(|r| r.responses.as_deref()),
            request_state: ctx.resume.and_then(|r| r.state.as_deref()),
            task: ctx.task,
        };
        let extra = |agreement: &Agreement| {
            let mut extra = Extra {
                name: Some(route.name.clone()),
                headers: http::HeaderMap::new(),
                relay: ctx.relay.cloned(),
                client: ctx.client,
            };
            if agreement.version.is_modern() {
                for (header, path) in &route.params {
                    if let Some(v) = param_value(args, path) {
                        extra
                            .headers
                            .insert(header.clone(), client::header_value(&v));
                    }
                }
            }
            extra
        };
        output(self.forward(ctx, "tools/call", &params, extra).await?)
    }

    /// Sends `method` for a client (`prompts/get`, `resources/read`, `completion/complete`);
    /// `name` is what `Mcp-Name` carries. The result is as the upstream wrote it.
    pub async fn request<P: Serialize>(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
        method: &str,
        params: &P,
        name: Option<&str>,
    ) -> Result<client::Answer, UpstreamError> {
        let extra = |_: &Agreement| Extra {
            name: name.map(str::to_string),
            headers: http::HeaderMap::new(),
            relay: ctx.relay.cloned(),
            client: ctx.client,
        };
        self.forward(ctx, method, params, extra).await
    }

    /// One request under the client's upstream session; a session the upstream forgot is
    /// replaced once.
    async fn forward<P: Serialize>(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
        method: &str,
        params: &P,
        extra: impl Fn(&Agreement) -> Extra,
    ) -> Result<client::Answer, UpstreamError> {
        let agreement = self.for_client(ctx).await?;
        match self
            .send(&agreement, ctx, method, params, extra(&agreement))
            .await
        {
            Err(UpstreamError::SessionGone) => {
                // The upstream restarted or expired the session: a new one, once.
                if agreement.session
                    == self
                        .agreement
                        .load()
                        .as_ref()
                        .and_then(|a| a.session.clone())
                {
                    self.forget();
                }
                self.drop_client(ctx);
                let agreement = self.for_client(ctx).await?;
                self.send(&agreement, ctx, method, params, extra(&agreement))
                    .await
            }
            other => other,
        }
    }

    async fn send<P: Serialize>(
        &self,
        agreement: &Agreement,
        ctx: &CallContext<'_>,
        method: &str,
        params: &P,
        extra: Extra,
    ) -> Result<client::Answer, UpstreamError> {
        let answer = self
            .upstream
            .request(agreement, method, params, extra, ctx.deadline)
            .await?;
        if answer.lists_changed {
            self.relist.notify_one();
        }
        Ok(answer)
    }

    /// Whether the gateway's own agreement with the upstream has no session (so a
    /// subscription is made on the gateway's own stream, for any client).
    pub fn sessionless(&self) -> bool {
        self.agreement
            .load()
            .as_ref()
            .is_some_and(|a| a.session.is_none())
    }

    /// Whether clients without a session of their own (2026-07-28) can subscribe to
    /// resources here, through the gateway's own stream: a 2026-07-28 upstream takes
    /// `resourceSubscriptions` on it; a handshake-era one with sessions takes
    /// `resources/subscribe` in the gateway's own session.
    pub fn shares_subscriptions(&self) -> bool {
        self.agreement
            .load()
            .as_ref()
            .is_some_and(|a| a.version.is_modern() || a.session.is_some())
    }

    /// What the upstream said it can do, once connected.
    pub fn caps(&self) -> Option<Caps> {
        self.agreement.load().as_ref().map(|a| a.caps)
    }
}

/// An argument's value for its `Mcp-Param-*` header: strings as they are, integers and
/// booleans as text; absent, `null` or any other type sends no header.
pub fn param_value(args: &Value, path: &[String]) -> Option<String> {
    let mut v = args;
    for key in path {
        v = v.get(key)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The tools a tool list (a `tools/list` result or an array) holds, for `mcpToolSchema`.
pub fn parse_tool_schema(text: &str) -> Result<Vec<Value>, serde_json::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Schema {
        List(Vec<Value>),
        Result { tools: Vec<Value> },
    }
    Ok(match serde_json::from_str::<Schema>(text)? {
        Schema::List(t) | Schema::Result { tools: t } => t,
    })
}
