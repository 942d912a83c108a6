//! Remote MCP servers as targets (`targetConfiguration.mcp.mcpServer`): the gateway is a
//! client of each upstream ([`client`]), lists its tools as `{target}___{tool}` (every page,
//! curated by the self-hosted `mcpServerToolConfiguration`), and passes `tools/call` through
//! faithfully: every content item, `structuredContent`, `isError` and `_meta` as the upstream
//! wrote them.
//!
//! One task per target ([`run`]) agrees on a protocol version, lists the tools, publishes
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
mod relay;
pub mod sse;

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

use super::context::CallContext;
use super::output::{Content, InputRequired, Json, ToolOutput, is_json_object};
use super::surface::{Caps, Extras};
use super::tool::ToolSet;
use super::{State, Status, Target};
use crate::config::McpServerSettings;
use client::{Agreement, Extra, Upstream};
pub use curate::Curation;
pub use error::UpstreamError;

/// Pages of `tools/list` read from one upstream before giving up.
const MAX_PAGES: usize = 100;
/// Tools one upstream may offer.
pub const MAX_TOOLS: usize = 10_000;
/// Client sessions one upstream keeps at once; the least recently used goes first.
const MAX_CLIENT_SESSIONS: usize = 10_000;

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
    async fn for_client(&self, ctx: &CallContext<'_>) -> Result<Arc<Agreement>, UpstreamError> {
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
                .entry(key)
                .or_insert_with(|| (Arc::new(OnceCell::new()), now));
            entry.1 = now;
            entry.0.clone()
        };
        let agreement = cell
            .get_or_try_init(|| self.upstream.initialize(ctx.deadline, ctx.client))
            .await?;
        Ok(Arc::new(agreement.clone()))
    }

    fn drop_client(&self, ctx: &CallContext<'_>) {
        self.clients.lock().by_client.remove(&ctx.client_key());
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
        &self,
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
        }
        let params = Params {
            name: &route.name,
            arguments: args,
            input_responses: ctx.resume.and_then(|r| r.responses.as_deref()),
            request_state: ctx.resume.and_then(|r| r.state.as_deref()),
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
        &self,
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
        &self,
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

    /// Subscribes `ctx`'s client to updates of `uri`: in its own upstream session (whose
    /// stream the gateway then reads for it), or, for an upstream without sessions, on the
    /// gateway's own stream.
    pub async fn subscribe(
        self: &Arc<Self>,
        ctx: &CallContext<'_>,
        uri: &str,
    ) -> Result<(), UpstreamError> {
        let agreement = self.for_client(ctx).await?;
        if agreement.session.is_none() {
            self.watch(uri);
            return Ok(());
        }
        self.request(
            ctx,
            "resources/subscribe",
            &serde_json::json!({"uri": uri}),
            Some(uri),
        )
        .await?;
        self.stream_for(ctx.client_key(), agreement);
        Ok(())
    }

    /// Ends `ctx`'s client's subscription to `uri`.
    pub async fn unsubscribe(&self, ctx: &CallContext<'_>, uri: &str) -> Result<(), UpstreamError> {
        let agreement = self.for_client(ctx).await?;
        if agreement.session.is_none() {
            self.unwatch(uri);
            return Ok(());
        }
        self.request(
            ctx,
            "resources/unsubscribe",
            &serde_json::json!({"uri": uri}),
            Some(uri),
        )
        .await
        .map(|_| ())
    }

    /// Counts a subscriber of `uri` on the gateway's own stream (reopened when the set
    /// changes).
    pub fn watch(&self, uri: &str) {
        let mut watched = self.watched.lock();
        let n = watched.entry(uri.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.resubscribe.notify_one();
        }
    }

    pub fn unwatch(&self, uri: &str) {
        let mut watched = self.watched.lock();
        if let Some(n) = watched.get_mut(uri) {
            *n -= 1;
            if *n == 0 {
                watched.remove(uri);
                self.resubscribe.notify_one();
            }
        }
    }

    /// Reads the client's own upstream stream (`GET` with its session) for resource updates,
    /// until the client is forgotten or the stream ends. One per client.
    fn stream_for(self: &Arc<Self>, key: String, agreement: Arc<Agreement>) {
        let mut streams = self.client_streams.lock();
        if streams.contains_key(&key) || streams.len() >= MAX_CLIENT_SESSIONS {
            return;
        }
        let stop = CancellationToken::new();
        streams.insert(key.clone(), stop.clone());
        drop(streams);
        let this = self.clone();
        tokio::spawn(async move {
            let opened = tokio::select! {
                _ = stop.cancelled() => return,
                o = this.upstream.listen(&agreement, &[], Instant::now() + Duration::from_secs(30)) => o,
            };
            if let Ok(Some(mut events)) = opened {
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => break,
                        n = events.next() => n,
                    };
                    match next {
                        Ok(Some(data)) => this.publish_update(&data, Some(&key)),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            this.client_streams.lock().remove(&key);
        });
    }

    /// Passes on a `notifications/resources/updated` from the upstream (ignores the rest).
    fn publish_update(&self, data: &[u8], client: Option<&str>) {
        #[derive(Deserialize)]
        struct Note {
            method: Option<String>,
            params: Option<Params>,
        }
        #[derive(Deserialize)]
        struct Params {
            uri: String,
        }
        if let Ok(Note {
            method: Some(m),
            params: Some(p),
        }) = serde_json::from_slice::<Note>(data)
            && m == "notifications/resources/updated"
        {
            let _ = self.updates.send(super::surface::ResourceUpdate {
                target: self.target.clone(),
                uri: p.uri,
                client: client.map(str::to_string),
            });
        }
    }

    /// Whether the gateway's own agreement with the upstream has no session (so a
    /// subscription is made on the gateway's own stream, for any client).
    pub fn sessionless(&self) -> bool {
        self.agreement
            .load()
            .as_ref()
            .is_some_and(|a| a.session.is_none())
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

/// A `CallToolResult` as the upstream wrote it, as a [`ToolOutput`].
fn output(answer: client::Answer) -> Result<ToolOutput, UpstreamError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Result_ {
        #[serde(default)]
        content: Vec<Box<RawValue>>,
        #[serde(default)]
        structured_content: Option<Box<RawValue>>,
        #[serde(default)]
        is_error: Option<bool>,
        #[serde(rename = "_meta", default)]
        meta: Option<Box<RawValue>>,
        #[serde(default)]
        result_type: Option<String>,
    }
    let r: Result_ = serde_json::from_str(answer.result.get())
        .map_err(|_| UpstreamError::Malformed("a tools/call result"))?;
    if r.result_type.as_deref() == Some("task") {
        return Ok(ToolOutput {
            task: Some(answer.result),
            held: answer.held,
            ..ToolOutput::default()
        });
    }
    if r.result_type.as_deref() == Some("input_required") {
        return Ok(ToolOutput {
            input: input_required(&answer.result)?,
            held: answer.held,
            ..ToolOutput::default()
        });
    }
    let content = r
        .content
        .into_iter()
        .filter(|c| c.get().trim_start().starts_with('{'))
        .map(Content::Raw)
        .collect();
    let structured = r
        .structured_content
        .filter(|s| is_json_object(s.get()))
        .map(Json::Raw);
    Ok(ToolOutput {
        content,
        structured,
        is_error: r.is_error.unwrap_or(false),
        meta: r.meta.and_then(|m| own_meta(&m)),
        held: answer.held,
        input: None,
        task: None,
    })
}

/// What an upstream's result asks of the client before it answers, when it is
/// `input_required` (2026-07-28); `None` for any other result.
pub fn input_required(result: &RawValue) -> Result<Option<InputRequired>, UpstreamError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Needed<'a> {
        #[serde(default, borrow)]
        result_type: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        input_requests: Option<Box<RawValue>>,
        #[serde(default)]
        request_state: Option<String>,
    }
    let n: Needed<'_> =
        serde_json::from_str(result.get()).map_err(|_| UpstreamError::Malformed("a result"))?;
    if n.result_type.as_deref() != Some("input_required") {
        return Ok(None);
    }
    if n.input_requests.is_none() && n.request_state.is_none() {
        return Err(UpstreamError::Malformed(
            "an input_required result with neither inputRequests nor requestState",
        ));
    }
    Ok(Some(InputRequired {
        requests: n.input_requests,
        state: n.request_state,
    }))
}

/// The upstream's `_meta` without the protocol's own keys (`io.modelcontextprotocol/...`,
/// such as the upstream's `serverInfo`): those describe the hop from the upstream to the
/// gateway, not the result, and the gateway's client has its own.
pub fn own_meta(meta: &RawValue) -> Option<Box<RawValue>> {
    const PROTOCOL: &str = "io.modelcontextprotocol/";
    let mut map: serde_json::Map<String, Value> = serde_json::from_str(meta.get()).ok()?;
    if !map.keys().any(|k| k.starts_with(PROTOCOL)) {
        return Some(meta.to_owned());
    }
    map.retain(|k, _| !k.starts_with(PROTOCOL));
    if map.is_empty() {
        return None;
    }
    serde_json::value::to_raw_value(&map).ok()
}

/// Publishes a listing: the target offers it and is `READY` (with the reasons for anything
/// left out).
fn publish(target: &Target, listed: Listed) {
    tracing::info!(
        target = %target.name,
        tools = listed.tools.len(),
        prompts = listed.extras.prompts.len(),
        resources = listed.extras.resources.len(),
        templates = listed.extras.templates.len(),
        "upstream listed"
    );
    target.offer_all(listed.tools, listed.extras);
    target.set_status(Status {
        state: State::Ready,
        reasons: listed.reasons,
    });
}

fn failed(target: &Target, reason: String) {
    target.set_status(Status {
        state: State::Failed,
        reasons: vec![reason],
    });
}

/// Lists `target`'s offer now and publishes it; a failure keeps the last one.
pub async fn relist(target: &Target, adapter: &McpAdapter) {
    match adapter
        .list(&target.name, Instant::now() + target.timeout)
        .await
    {
        Ok(listed) => publish(target, listed),
        Err(e) => {
            let reason = crate::common::error_chain(&e);
            tracing::warn!(target = %target.name, error = %reason, "listing the upstream failed");
            failed(target, reason);
        }
    }
}

/// Keeps a target's offer current until `cancel`: agree, list, publish, listen for
/// `list_changed`; on failure, `FAILED` with the reason and a jittered retry.
pub async fn run(target: Arc<Target>, cancel: CancellationToken) {
    let super::Adapter::Mcp(adapter) = &target.adapter else {
        return;
    };
    // Fixed tools were offered when the target was built; only their reasons are reported.
    if let Some((_, left_out)) = adapter.fixed_tools() {
        target.set_status(Status {
            state: State::Ready,
            reasons: left_out,
        });
        return;
    }
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
    loop {
        let deadline = Instant::now() + target.timeout;
        match adapter.list(&target.name, deadline).await {
            Ok(listed) => {
                backoff.reset();
                publish(&target, listed);
                // Until the stream ends: a list_changed lists again.
                if listen(&target, adapter, &cancel).await.is_break() {
                    return;
                }
            }
            Err(e) => {
                let reason = crate::common::error_chain(&e);
                tracing::warn!(target = %target.name, error = %reason, "upstream MCP server unavailable; retrying");
                adapter.forget();
                failed(&target, reason);
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff.next()) => {}
        }
    }
}

/// Reads the upstream's notification stream, listing again on each `list_changed`.
/// `Break` when cancelled or when the upstream has no stream (nothing left to do).
async fn listen(
    target: &Target,
    adapter: &McpAdapter,
    cancel: &CancellationToken,
) -> std::ops::ControlFlow<()> {
    use std::ops::ControlFlow::{Break, Continue};
    let Some(agreement) = adapter.agreement.load_full() else {
        return Continue(());
    };
    let mut events = match open_stream(target, adapter, &agreement, cancel).await {
        Break(()) => return Break(()),
        Continue(events) => events,
    };
    loop {
        // Without a stream, only a `list_changed` seen on a call's response wakes this.
        let next = async {
            match events.as_mut() {
                Some(e) => e.next().await,
                None => std::future::pending().await,
            }
        };
        let changed = tokio::select! {
            _ = cancel.cancelled() => return Break(()),
            _ = adapter.relist.notified() => true,
            // The subscribed URIs changed: the stream is opened again with them.
            _ = adapter.resubscribe.notified() => {
                events = match open_stream(target, adapter, &agreement, cancel).await {
                    Break(()) => return Break(()),
                    Continue(events) => events,
                };
                continue;
            }
            n = next => match n {
                Ok(Some(data)) => {
                    adapter.publish_update(&data, None);
                    #[derive(Deserialize)]
                    struct Note {
                        method: Option<String>,
                    }
                    serde_json::from_slice::<Note>(&data)
                        .ok()
                        .and_then(|n| n.method)
                        .is_some_and(|m| client::is_list_changed(&m))
                }
                // The stream ended or broke: list again (lists may have changed meanwhile).
                Ok(None) | Err(_) => return Continue(()),
            },
        };
        if changed {
            let deadline = Instant::now() + target.timeout;
            match adapter.list(&target.name, deadline).await {
                Ok(listed) => publish(target, listed),
                Err(e) => {
                    tracing::warn!(target = %target.name, error = %crate::common::error_chain(&e), "listing the changed upstream failed");
                    return Continue(());
                }
            }
        }
    }
}

/// Opens the upstream's notification stream, with the resource URIs clients subscribed to
/// (2026-07-28); `Continue(None)` when it offers none.
async fn open_stream(
    target: &Target,
    adapter: &McpAdapter,
    agreement: &Agreement,
    cancel: &CancellationToken,
) -> std::ops::ControlFlow<(), Option<sse::Events>> {
    use std::ops::ControlFlow::{Break, Continue};
    let watched: Vec<String> = adapter.watched.lock().keys().cloned().collect();
    let opened = tokio::select! {
        _ = cancel.cancelled() => return Break(()),
        o = adapter.upstream.listen(agreement, &watched, Instant::now() + target.timeout) => o,
    };
    Continue(match opened {
        Ok(events) => events,
        Err(e) => {
            tracing::debug!(target = %target.name, error = %crate::common::error_chain(&e), "no notification stream");
            None
        }
    })
}

/// Exponential backoff with jitter (each wait is between half and all of the ceiling), so
/// replicas that fail together retry apart.
struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let r = u64::from_le_bytes(
            crate::common::random::key()[..8]
                .try_into()
                .unwrap_or([0; 8]),
        );
        let ms = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(ms / 2 + r % (ms / 2 + 1))
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
