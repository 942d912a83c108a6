//! Requests the gateway routes to the one upstream that owns their subject, and answers with
//! the upstream's result as it wrote it:
//! - `prompts/get`: by the prompt's name (`{target}___{prompt}`, sent upstream as `prompt`);
//! - `resources/read`: by URI, as the catalog decides ([`Catalog::resource_owner`]);
//! - `completion/complete`: by the prompt, or by the resource template (or URI) named in
//!   `ref`;
//! - `resources/subscribe` and `resources/unsubscribe` (handshake era): by URI, to a target
//!   that takes subscriptions.
//!
//! `prompts/get` and `resources/read` may need the client's input first, as a `tools/call`
//! may ([`input`](super::input), [`held`](super::held)).
//!
//! The result is put in the client's era: the upstream's era fields (`resultType`, `ttlMs`,
//! `cacheScope`) and the protocol's own `_meta` keys are dropped, and a 2026-07-28 client gets
//! the gateway's. An upstream's JSON-RPC error reaches the client as it was sent.
//!
//! [`Catalog::resource_owner`]: crate::catalog::Catalog::resource_owner

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::held::{self, Call, Done, Turn, Work};
use super::input::{MAX_ROUNDS, Next, Settled};
use super::jsonrpc::{self, RpcError};
use super::state::Pending;
use super::{Ask, MAX_SUBSCRIBED_SESSIONS, MAX_SUBSCRIPTIONS, McpService, results};
use crate::targets::context::Resume;
use crate::targets::mcp_server::client::Answer;
use crate::targets::mcp_server::{input_required, own_meta};
use crate::targets::{CallContext, CallError, Target};

/// A result's fields, as written.
pub(super) type Fields = BTreeMap<String, Box<RawValue>>;

/// MCP's error for a resource no one serves.
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// How the result is cached by a 2026-07-28 client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cache {
    /// No cache fields (`prompts/get`, `completion/complete`).
    None,
    /// `ttlMs` and `cacheScope`, the upstream's when it gave them (`resources/read`).
    Upstream,
}

impl McpService {
    pub(super) async fn prompts_get(
        &self,
        ask: &Ask<'_>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        #[derive(Serialize)]
        struct Params<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            arguments: Option<&'a Value>,
        }
        let name = required_str(params, "name", "the prompt name")?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => None,
            Some(a @ Value::Object(_)) => Some(a),
            Some(_) => {
                return Err(invalid("`arguments` must be an object"));
            }
        };
        let catalog = self.catalog.load_full();
        let prompt = catalog
            .prompts
            .get(name)
            .ok_or_else(|| invalid(format!("Unknown prompt: {name}")))?;
        let upstream = Params {
            name: &prompt.item.upstream,
            arguments,
        };
        let request = Request {
            method: "prompts/get",
            params: &upstream,
            name: Some(&prompt.item.upstream),
            what: format!("Prompt {name}"),
            cache: Cache::None,
            subject: Some(format!("prompts/get {name}")),
        };
        self.forward(ask, &prompt.target, request, params).await
    }

    pub(super) async fn resources_read(
        &self,
        ask: &Ask<'_>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        let uri = required_str(params, "uri", "the resource URI")?;
        let catalog = self.catalog.load_full();
        let target = catalog.resource_owner(uri).ok_or_else(|| not_found(uri))?;
        let request = Request {
            method: "resources/read",
            params: &json!({"uri": uri}),
            name: Some(uri),
            what: format!("Resource {uri}"),
            cache: Cache::Upstream,
            subject: Some(format!("resources/read {uri}")),
        };
        self.forward(ask, target, request, params).await
    }

    pub(super) async fn complete(
        &self,
        ask: &Ask<'_>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        let reference = params
            .get("ref")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("`ref` (a prompt or resource reference) is required"))?;
        let argument = params
            .get("argument")
            .filter(|a| a.is_object())
            .ok_or_else(|| invalid("`argument` ({name, value}) is required"))?;
        let catalog = self.catalog.load_full();
        let (target, upstream_ref): (&Arc<Target>, Value) =
            match reference.get("type").and_then(Value::as_str) {
                Some("ref/prompt") => {
                    let name = required_str(reference, "name", "the prompt name")
                        .map_err(|_| invalid("`ref.name` (the prompt name) is required"))?;
                    let prompt = catalog
                        .prompts
                        .get(name)
                        .ok_or_else(|| invalid(format!("Unknown prompt: {name}")))?;
                    let mut r = reference.clone();
                    r.insert("name".into(), json!(prompt.item.upstream));
                    (&prompt.target, Value::Object(r))
                }
                Some("ref/resource") => {
                    let uri = required_str(reference, "uri", "the resource URI")
                        .map_err(|_| invalid("`ref.uri` (a URI or URI template) is required"))?;
                    let target = match catalog.templates.get(uri) {
                        Some(t) => &t.target,
                        None => catalog.resource_owner(uri).ok_or_else(|| not_found(uri))?,
                    };
                    (target, Value::Object(reference.clone()))
                }
                _ => {
                    return Err(invalid(
                        "`ref.type` must be \"ref/prompt\" or \"ref/resource\"",
                    ));
                }
            };
        // An upstream that offers no completions has none to give.
        if target.caps().is_some_and(|c| !c.completions) {
            let mut result = json!({"completion": {"values": [], "hasMore": false}});
            if ask.era.modern {
                result["resultType"] = json!("complete");
            }
            return Ok(jsonrpc::success(ask.id, &result));
        }
        let mut upstream = Map::new();
        upstream.insert("ref".into(), upstream_ref);
        upstream.insert("argument".into(), argument.clone());
        if let Some(c) = params.get("context").filter(|c| c.is_object()) {
            upstream.insert("context".into(), c.clone());
        }
        let request = Request {
            method: "completion/complete",
            params: &upstream,
            name: None,
            what: "Completion".to_string(),
            cache: Cache::None,
            subject: None,
        };
        self.forward(ask, target, request, params).await
    }

    /// `resources/subscribe` (or, with `on` false, `resources/unsubscribe`) in a
    /// handshake-era session: passed to the target that serves the URI, which must take
    /// subscriptions; the session's stream then carries that URI's updates.
    pub(super) async fn subscribe_resource(
        &self,
        ask: &Ask<'_>,
        params: &Map<String, Value>,
        on: bool,
    ) -> Result<Vec<u8>, RpcError> {
        let uri = required_str(params, "uri", "the resource URI")?;
        let Some(session) = ask.era.session else {
            return Err(RpcError::new(
                jsonrpc::INVALID_REQUEST,
                "resource subscriptions belong to a session: initialize first",
            ));
        };
        let catalog = self.catalog.load_full();
        let target = catalog.resource_owner(uri).ok_or_else(|| not_found(uri))?;
        let crate::targets::Adapter::Mcp(adapter) = &target.adapter else {
            return Err(not_found(uri));
        };
        if !target.caps().is_some_and(|c| c.subscribe) {
            return Err(RpcError::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!("The target serving {uri} takes no resource subscriptions"),
            ));
        }
        let key = CallContext::session_key(session);
        let entry = (target.name.clone(), uri.to_string());
        if on {
            let mut subscribed = self.subscribed.lock();
            if !subscribed.contains_key(&key) && subscribed.len() >= MAX_SUBSCRIBED_SESSIONS {
                return Err(RpcError::new(
                    jsonrpc::INTERNAL_ERROR,
                    "Too many sessions hold subscriptions: retry later",
                ));
            }
            let mine = subscribed.entry(key.clone()).or_default();
            if !mine.contains(&entry) && mine.len() >= MAX_SUBSCRIPTIONS {
                return Err(invalid(format!(
                    "A session may subscribe to at most {MAX_SUBSCRIPTIONS} resources"
                )));
            }
        }
        let ctx = CallContext {
            relay: None,
            ..ask.context(target.timeout)
        };
        let what = format!("Subscription to {uri}");
        let debug = self.settings.debug_errors;
        let done = if on {
            adapter.subscribe(&ctx, uri).await
        } else {
            adapter.unsubscribe(&ctx, uri).await
        };
        done.map_err(|e| results::forwarded_failure(&what, &CallError::Upstream(e), debug))?;
        let mut subscribed = self.subscribed.lock();
        if on {
            subscribed.entry(key).or_default().insert(entry);
        } else if let Some(mine) = subscribed.get_mut(&key) {
            mine.remove(&entry);
        }
        Ok(jsonrpc::success(ask.id, &json!({})))
    }

    /// Whether the session `key` subscribed to `uri` at `target`.
    pub(super) fn is_subscribed(&self, key: &str, target: &str, uri: &str) -> bool {
        self.subscribed
            .lock()
            .get(key)
            .is_some_and(|s| s.contains(&(target.to_string(), uri.to_string())))
    }

    /// Sends `request` to `target` for the client and writes the client's response. A
    /// request that may need input (`subject` set) resumes with the `inputResponses` the
    /// client's `params` carry, and asks for input as [`input`](super::input) says; for a
    /// 2026-07-28 client that can answer, it runs where it can be held
    /// ([`held`](super::held)), as a `tools/call` does.
    async fn forward<P: Serialize>(
        &self,
        ask: &Ask<'_>,
        target: &Arc<Target>,
        request: Request<'_, P>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        let resumed = match &request.subject {
            Some(subject) => self.resume(params, subject, &ask.principal.id)?,
            None => None,
        };
        let mut resume = match resumed {
            // The request held for this client's answers goes on.
            Some((
                resume,
                Pending {
                    held: Some(key), ..
                },
            )) => {
                let held = self.resume_held(ask, &key, &resume)?;
                return self.drive_request(ask, &request, held).await;
            }
            Some((resume, _)) => Some(resume),
            None => None,
        };
        let deadline = tokio::time::Instant::now() + target.timeout;
        if request.subject.is_some() && Self::may_hold(ask, target) {
            let written = serde_json::to_value(Resumed::of(request.params, resume.as_ref()))
                .map_err(|_| invalid("the request's parameters cannot be written"))?;
            let work = Work::Request {
                target: target.clone(),
                method: request.method,
                params: written,
                name: request.name.map(str::to_string),
            };
            // The resumption is in the written parameters.
            let call = self.start_held(ask, work, None, deadline);
            return self.drive_request(ask, &request, call).await;
        }
        for _ in 0..MAX_ROUNDS {
            let ctx = CallContext {
                deadline,
                ..ask.context(target.timeout)
            };
            let answer = target
                .mcp_request(
                    &ctx,
                    request.method,
                    &Resumed::of(request.params, resume.as_ref()),
                    request.name,
                )
                .await;
            match self.settle_answer(ask, &request, answer, deadline).await? {
                Settled::Body(body) => return Ok(body),
                Settled::Retry(next) => resume = Some(next),
            }
        }
        Err(RpcError::new(
            jsonrpc::INTERNAL_ERROR,
            format!("{} needs input: it kept asking for more", request.what),
        ))
    }

    /// Runs a request on its own task until it ends or its upstream asks the client
    /// something, when it is held and the client gets `input_required`.
    async fn drive_request<P>(
        &self,
        ask: &Ask<'_>,
        request: &Request<'_, P>,
        mut call: Call,
    ) -> Result<Vec<u8>, RpcError> {
        let deadline = call.deadline();
        match call.next(ask.relay).await {
            Turn::Done(Done::Answer(answer)) => {
                match self.settle_answer(ask, request, answer, deadline).await? {
                    Settled::Body(body) => Ok(body),
                    Settled::Retry(_) => Err(RpcError::new(
                        results::MISSING_REQUIRED_CLIENT_CAPABILITY,
                        format!("{} needs input the gateway cannot relay", request.what),
                    )),
                }
            }
            Turn::Done(Done::Tool(_)) => Err(held::mismatch()),
            Turn::Asks(requests) => {
                let subject = request.subject.as_deref().unwrap_or_default();
                self.hold(ask, subject, call, &requests).unwrap_or_else(|| {
                    Err(RpcError::new(
                        jsonrpc::INTERNAL_ERROR,
                        "Too many requests are waiting for input at this gateway: retry later",
                    ))
                })
            }
        }
    }

    /// The client's response to the upstream's `answer`, or the resumption to make when it
    /// asked for input the gateway has gathered (a handshake client's answers).
    async fn settle_answer<P>(
        &self,
        ask: &Ask<'_>,
        request: &Request<'_, P>,
        answer: Result<Answer, CallError>,
        deadline: tokio::time::Instant,
    ) -> Result<Settled, RpcError> {
        let debug = self.settings.debug_errors;
        let what = &request.what;
        let failed = |e: &CallError| results::forwarded_failure(what, e, debug);
        let answer = answer.map_err(|e| failed(&e))?;
        if let Some(subject) = &request.subject
            && let Some(input) =
                input_required(&answer.result).map_err(|e| failed(&CallError::Upstream(e)))?
        {
            return match self.needed(ask, subject, input, deadline).await? {
                Next::Reply(body) => Ok(Settled::Body(body)),
                Next::Retry(next) => Ok(Settled::Retry(next)),
                Next::Refused(why) => Err(RpcError::new(
                    results::MISSING_REQUIRED_CLIENT_CAPABILITY,
                    format!("{what} needs input: {why}"),
                )),
            };
        }
        let result =
            in_era(&answer.result, ask.era.modern, request.cache).map_err(|e| failed(&e))?;
        let size = answer.result.get().len() + 256;
        Ok(Settled::Body(jsonrpc::success_sized(ask.id, &result, size)))
    }
}

/// A request's upstream parameters, with the input it resumes with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resumed<'a, P> {
    #[serde(flatten)]
    params: &'a P,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_responses: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_state: Option<&'a str>,
}

impl<'a, P> Resumed<'a, P> {
    fn of(params: &'a P, resume: Option<&'a Resume>) -> Self {
        Self {
            params,
            input_responses: resume.and_then(|r| r.responses.as_deref()),
            request_state: resume.and_then(|r| r.state.as_deref()),
        }
    }
}

/// A request routed to the upstream that owns its subject.
struct Request<'a, P> {
    method: &'static str,
    params: &'a P,
    /// What `Mcp-Name` carries.
    name: Option<&'a str>,
    /// How errors name what was asked for ("Prompt x").
    what: String,
    cache: Cache,
    /// What input the upstream asks for is about (the method and the gateway's name), for
    /// requests that may need input; `None` for those that may not.
    subject: Option<String>,
}

/// The upstream's result with its era fields replaced by the client's.
fn in_era(result: &RawValue, modern: bool, cache: Cache) -> Result<Fields, CallError> {
    use crate::targets::mcp_server::UpstreamError;
    let mut fields: Fields = serde_json::from_str(result.get())
        .map_err(|_| CallError::Upstream(UpstreamError::Malformed("a result")))?;
    let result_type = fields.remove("resultType");
    if result_type
        .as_deref()
        .is_some_and(|t| t.get() == r#""input_required""#)
    {
        return Err(CallError::Upstream(UpstreamError::InputRequired));
    }
    let ttl = fields.remove("ttlMs");
    let scope = fields.remove("cacheScope");
    strip_protocol_meta(&mut fields);
    if modern {
        let raw = |text: &str| RawValue::from_string(text.to_string()).ok();
        fields.extend(raw(r#""complete""#).map(|r| ("resultType".to_string(), r)));
        if cache == Cache::Upstream {
            let ttl = ttl.filter(|t| t.get().parse::<u64>().is_ok());
            let scope = scope.filter(|s| matches!(s.get(), r#""public""# | r#""private""#));
            // Without the upstream's word: stale at once, and for this principal only.
            fields.extend(ttl.or_else(|| raw("0")).map(|r| ("ttlMs".to_string(), r)));
            fields.extend(
                scope
                    .or_else(|| raw(r#""private""#))
                    .map(|r| ("cacheScope".to_string(), r)),
            );
        }
    }
    Ok(fields)
}

/// `text` as a JSON string.
pub(super) fn raw_string(text: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(text)
        .unwrap_or_else(|_| RawValue::from_string("\"\"".into()).unwrap_or_default())
}

/// Drops the protocol's own `_meta` keys (they describe the upstream's hop).
pub(super) fn strip_protocol_meta(fields: &mut Fields) {
    if let Some(meta) = fields.remove("_meta")
        && let Some(own) = own_meta(&meta)
    {
        fields.insert("_meta".into(), own);
    }
}

pub(super) fn required_str<'p>(
    params: &'p Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<&'p str, RpcError> {
    params
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("`{key}` ({what}) is required")))
}

pub(super) fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::new(jsonrpc::INVALID_PARAMS, message)
}

fn not_found(uri: &str) -> RpcError {
    RpcError::new(RESOURCE_NOT_FOUND, format!("Resource not found: {uri}"))
        .with_data(json!({"uri": uri}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_put_in_the_clients_era() {
        let upstream = RawValue::from_string(
            r#"{"contents":[{"uri":"a://x","text":"hi"}],"resultType":"complete","ttlMs":5000,"cacheScope":"public","_meta":{"io.modelcontextprotocol/serverInfo":{},"k":1}}"#.into(),
        )
        .unwrap();
        let old = serde_json::to_value(in_era(&upstream, false, Cache::Upstream).unwrap()).unwrap();
        assert_eq!(
            old,
            json!({"contents": [{"uri": "a://x", "text": "hi"}], "_meta": {"k": 1}})
        );
        let new = serde_json::to_value(in_era(&upstream, true, Cache::Upstream).unwrap()).unwrap();
        assert_eq!(new["ttlMs"], 5000);
        assert_eq!(new["cacheScope"], "public");
        assert_eq!(new["resultType"], "complete");
        let plain = RawValue::from_string(r#"{"messages":[]}"#.into()).unwrap();
        let new = serde_json::to_value(in_era(&plain, true, Cache::Upstream).unwrap()).unwrap();
        assert_eq!(
            new,
            json!({"messages": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        );
        let pending = RawValue::from_string(r#"{"resultType":"input_required"}"#.into()).unwrap();
        assert!(in_era(&pending, true, Cache::None).is_err());
    }
}
