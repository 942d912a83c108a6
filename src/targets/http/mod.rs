//! The HTTP adapter, shared by every kind whose calls are HTTP requests (OpenAPI and API
//! Gateway operations here; Smithy operations and Lambda invocations build their own
//! requests and use [`validate`] and [`HttpAdapter::send`]): validate the arguments against the input schema, build the
//! request from the tool's [`CallPlan`] ([`request`]), add the target's credentials, send it
//! over the pooled client, read a bounded reply, and map it to a [`ToolOutput`] ([`reply`]).
//! Everything that can wait runs under the call's one deadline.

pub mod plan;
pub(crate) mod reply;
pub mod request;

use serde_json::{Map, Value};

use super::context::CallContext;
use super::output::{ArgProblem, CallError, ToolOutput};
use super::tool::Tool;
use crate::common::budget::Budget;
use crate::net::{self, NetError};
use crate::outbound::Credentials;
use plan::CallPlan;

/// Where one tool's calls go: the target's base URL (scheme, host and base path) and the plan.
#[derive(Debug)]
pub struct Route {
    pub base_url: String,
    pub plan: CallPlan,
}

/// An HTTP-bound target at run time.
#[derive(Debug)]
pub struct HttpAdapter {
    pub credentials: Credentials,
    pub client: crate::net::Client,
    pub max_response_bytes: usize,
    pub budget: Budget,
}

impl HttpAdapter {
    /// Runs one `tools/call` of an HTTP operation; `args` is the arguments object.
    pub async fn call(
        &self,
        ctx: &CallContext<'_>,
        tool: &Tool,
        route: &Route,
        args: &Value,
    ) -> Result<ToolOutput, CallError> {
        let coerced = coerce_scalars(&route.plan, args);
        let args = coerced.as_ref().unwrap_or(args);
        validate(tool, args)?;
        let empty = Map::new();
        let args = args.as_object().unwrap_or(&empty);
        let req = request::build(&route.base_url, &route.plan, args)
            .map_err(CallError::InvalidArguments)?;
        Ok(reply::output(self.send(ctx, req).await?))
    }

    /// Adds the target's credentials to a finished request, sends it over the pooled client
    /// and reads the bounded reply (the target's secrets taken out), all under the call's
    /// deadline.
    pub async fn send(
        &self,
        ctx: &CallContext<'_>,
        req: crate::outbound::Request,
    ) -> Result<net::Reply, CallError> {
        self.send_limited(ctx, req, self.max_response_bytes).await
    }

    /// [`Self::send`], reading at most `limit` bytes of reply (never more than the gateway's
    /// own limit).
    pub async fn send_limited(
        &self,
        ctx: &CallContext<'_>,
        mut req: crate::outbound::Request,
        limit: usize,
    ) -> Result<net::Reply, CallError> {
        let limit = limit.min(self.max_response_bytes);
        let exchange = async {
            self.credentials.apply(&mut req).await?;
            let mut builder = self
                .client
                .request(req.method, req.url)?
                .headers(req.headers);
            if let Some(body) = req.body {
                builder = builder.body(body);
            }
            let resp = builder.send().await.map_err(NetError::from_reqwest)?;
            let mut reply = net::read_reply(resp, limit, &self.budget).await?;
            self.credentials.redact(&mut reply.body);
            Ok::<_, CallError>(reply)
        };
        super::within(ctx.deadline, exchange).await
    }
}

/// Checks `args` against the tool's input schema; every problem is named.
pub fn validate(tool: &Tool, args: &Value) -> Result<(), CallError> {
    let validator = tool.validator().map_err(CallError::Schema)?;
    let problems: Vec<ArgProblem> = validator
        .iter_errors(args)
        .map(|e| schema_problem(&e))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CallError::InvalidArguments(problems))
    }
}

/// A copy of `args` in which numbers and booleans given for string parameters of the path,
/// query or headers are strings (`3` → `"3"`): on the wire they are the same request. `None`
/// when nothing needed converting (the common case costs no copy).
fn coerce_scalars(plan: &CallPlan, args: &Value) -> Option<Value> {
    let obj = args.as_object()?;
    let needs = |b: &&plan::Binding| {
        b.accepts_scalar && matches!(obj.get(&b.arg), Some(Value::Number(_) | Value::Bool(_)))
    };
    if !plan.bindings.iter().any(|b| needs(&b)) {
        return None;
    }
    let mut copy = obj.clone();
    for b in plan.bindings.iter().filter(needs) {
        if let Some(v) = copy.get_mut(&b.arg) {
            *v = Value::String(match v {
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            });
        }
    }
    Some(Value::Object(copy))
}

/// Names the argument a schema error is about.
fn schema_problem(e: &jsonschema::ValidationError<'_>) -> ArgProblem {
    let path = e.instance_path().to_string();
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let first = segments.next().unwrap_or("");
    let arg = if first.is_empty() {
        // Errors about the arguments object itself (a missing required property).
        match e.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                property.as_str().unwrap_or_default().to_string()
            }
            _ => String::new(),
        }
    } else {
        first.replace("~1", "/").replace("~0", "~")
    };
    let message = match (e.kind(), segments.next()) {
        (jsonschema::error::ValidationErrorKind::Required { .. }, _) if first.is_empty() => {
            "is required".to_string()
        }
        (_, Some(inner)) => format!("at /{inner}: {e}"),
        _ => e.to_string(),
    };
    ArgProblem { arg, message }
}
