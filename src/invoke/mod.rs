//! Calling a tool: validate the arguments against the input schema, build the outbound request
//! from the call plan, add the target's credentials, send it over the pooled client within the
//! target's timeout, and read a bounded response. The result is raw ([`Reply`]) or a typed
//! [`CallError`]; `crate::mcp::results` decides what the client sees.

pub mod plan;
pub mod request;

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::catalog::{Target, Tool};
use crate::common::budget::{Budget, Held};
use crate::common::error_chain;
use crate::outbound::OutboundError;
use plan::CallPlan;
use request::ArgProblem;

/// What the backend answered.
#[derive(Debug)]
pub struct Reply {
    pub status: http::StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// The body's bytes, borrowed from the in-flight budget until the reply is dropped.
    pub held: Held,
}

/// Why a call produced no backend reply.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid arguments")]
    InvalidArguments(Vec<ArgProblem>),
    #[error("outbound credentials: {0}")]
    Credentials(#[from] OutboundError),
    #[error("the target did not answer within {0:?}")]
    Timeout(Duration),
    #[error("could not connect to the target: {0}")]
    Connect(String),
    #[error("connecting to the target timed out: {0}")]
    ConnectTimeout(String),
    #[error("the request to the target failed: {0}")]
    Transport(String),
    #[error("the target's response is larger than {0} bytes")]
    ResponseTooLarge(usize),
    #[error("the gateway holds maxInFlightBytes already; the reply was not read")]
    Overloaded,
    #[error("the tool's input schema cannot be compiled: {0}")]
    Schema(String),
}

/// The pooled HTTP client every target call goes through.
#[derive(Clone, Debug)]
pub struct Invoker {
    http: reqwest::Client,
    max_response_bytes: usize,
    budget: Budget,
}

impl Invoker {
    pub fn new(http: reqwest::Client, max_response_bytes: usize, budget: Budget) -> Self {
        Self {
            http,
            max_response_bytes,
            budget,
        }
    }

    /// Runs one `tools/call` against its target; `args` is the arguments object. One deadline,
    /// the target's timeout, covers everything that can wait: credentials (a slow metadata
    /// endpoint), connecting, sending and reading the reply.
    pub async fn call(
        &self,
        target: &Target,
        tool: &Tool,
        args: &Value,
    ) -> Result<Reply, CallError> {
        let validator = tool
            .validator()
            .map_err(|e| CallError::Schema(e.to_string()))?;
        let coerced = coerce_scalars(&tool.plan, args);
        let args = coerced.as_ref().unwrap_or(args);
        let problems: Vec<ArgProblem> = validator
            .iter_errors(args)
            .map(|e| schema_problem(&e))
            .collect();
        if !problems.is_empty() {
            return Err(CallError::InvalidArguments(problems));
        }
        let empty = Map::new();
        let args = args.as_object().unwrap_or(&empty);
        let mut req = request::build(&tool.base_url, &tool.plan, args)
            .map_err(CallError::InvalidArguments)?;
        let limit = self.max_response_bytes;
        let exchange = async {
            target.credentials.apply(&mut req).await?;
            let mut builder = self.http.request(req.method, req.url).headers(req.headers);
            if let Some(body) = req.body {
                builder = builder.body(body);
            }
            let resp = builder.send().await.map_err(classify)?;
            let mut reply = read_reply(resp, limit, &self.budget).await?;
            target.credentials.redact(&mut reply.body);
            Ok(reply)
        };
        tokio::time::timeout(target.timeout, exchange)
            .await
            .map_err(|_| CallError::Timeout(target.timeout))?
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

/// Reads a response, refusing bodies over `limit` bytes without buffering them, and borrowing
/// the bytes from `budget` as they arrive.
pub async fn read_reply(
    mut resp: reqwest::Response,
    limit: usize,
    budget: &Budget,
) -> Result<Reply, CallError> {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(CallError::ResponseTooLarge(limit));
    }
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut held = Held::default();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > limit {
            return Err(CallError::ResponseTooLarge(limit));
        }
        held.merge(budget.take(chunk.len()).ok_or(CallError::Overloaded)?);
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        content_type,
        body: Bytes::from(body),
        held,
    })
}

fn classify(e: reqwest::Error) -> CallError {
    // The URL may carry a query-string API key: never let it into a message.
    let e = e.without_url();
    if e.is_connect() && e.is_timeout() {
        CallError::ConnectTimeout(error_chain(&e))
    } else if e.is_connect() {
        CallError::Connect(error_chain(&e))
    } else {
        CallError::Transport(error_chain(&e))
    }
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
