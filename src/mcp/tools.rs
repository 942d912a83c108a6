//! `tools/call`: the call handed to its tool's target with a [`CallContext`], its result (or
//! failure) put in the client's era by [`results`](super::results).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::held::{self, Call, Done, Outcome, Turn, Work};
use super::input::{MAX_ROUNDS, Next, Settled};
use super::jsonrpc::{self, RpcError};
use super::state::Pending;
use super::{Ask, McpService, decode_header_value, header, results};
use crate::catalog::Entry;
use crate::targets::{CallContext, ToolOutput};

impl McpService {
    pub(super) async fn tools_call(
        &self,
        ask: &Ask<'_>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        let (era, headers) = (ask.era, ask.headers);
        let name = params.get("name").and_then(Value::as_str).ok_or_else(|| {
            RpcError::new(
                jsonrpc::INVALID_PARAMS,
                "`name` (the tool name) is required",
            )
        })?;
        let empty = Value::Object(Map::new());
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(a @ Value::Object(_)) => a,
            Some(_) => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`arguments` must be an object",
                ));
            }
        };
        // The snapshot is held for the whole call: a rebuild meanwhile does not change the
        // tool or the target this call runs on.
        let catalog = self.catalog.load_full();
        let entry = catalog.get(name).ok_or_else(|| {
            RpcError::new(jsonrpc::INVALID_PARAMS, format!("Unknown tool: {name}"))
        })?;
        if era.modern {
            check_param_headers(headers, entry.tool.route.header_params(), args)?;
        }
        let subject = format!("tools/call {name}");
        let resumed = self.resume(params, &subject, &ask.principal.id)?;
        let deadline = tokio::time::Instant::now() + entry.target.timeout;
        let mut resume = match resumed {
            // The call held for this client's answers goes on.
            Some((
                resume,
                Pending {
                    held: Some(key), ..
                },
            )) => {
                let held = self.resume_held(ask, &key, &resume)?;
                return self.drive(ask, name, entry, held).await;
            }
            Some((resume, _)) => Some(resume),
            None => None,
        };
        // A 2026-07-28 client of an MCP server that may ask it something mid-call: the call
        // runs where it can be held for the answers.
        if Self::may_hold(ask, &entry.target) {
            let work = Work::Tool {
                entry: entry.clone(),
                args: args.clone(),
            };
            let call = self.start_held(ask, work, resume.take(), deadline);
            return self.drive(ask, name, entry, call).await;
        }
        // A handshake client may ask for a task (2025-11-25), which the target's upstream runs.
        let task = params
            .get("task")
            .filter(|t| t.is_object() && !era.modern)
            .and_then(|t| serde_json::value::to_raw_value(t).ok());
        for _ in 0..MAX_ROUNDS {
            let ctx = CallContext {
                resume: resume.as_ref(),
                task: task.as_deref(),
                deadline,
                ..ask.context(entry.target.timeout)
            };
            let outcome = entry.target.call(&ctx, &entry.tool, args).await;
            match self.settle(ask, name, entry, outcome, deadline).await? {
                Settled::Body(body) => return Ok(body),
                Settled::Retry(next) => resume = Some(next),
            }
        }
        self.needs_input(ask, name, "it kept asking for more input")
    }

    /// Runs a call on its own task until it ends, or until its upstream asks the client
    /// something: the call is then held, and the client gets `input_required`.
    async fn drive(
        &self,
        ask: &Ask<'_>,
        name: &str,
        entry: &Entry,
        mut call: Call,
    ) -> Result<Vec<u8>, RpcError> {
        let deadline = call.deadline();
        match call.next(ask.relay).await {
            Turn::Done(Done::Tool(outcome)) => {
                match self.settle(ask, name, entry, outcome, deadline).await? {
                    Settled::Body(body) => Ok(body),
                    // A 2026-07-28 client is asked, never asked for it.
                    Settled::Retry(_) => {
                        self.needs_input(ask, name, "it asks in a way the gateway cannot relay")
                    }
                }
            }
            Turn::Done(Done::Answer(_)) => Err(held::mismatch()),
            Turn::Asks(requests) => {
                let subject = format!("tools/call {name}");
                self.hold(ask, &subject, call, &requests)
                    .unwrap_or_else(|| {
                        self.needs_input(
                            ask,
                            name,
                            "too many calls are waiting for input at this gateway; retry later",
                        )
                    })
            }
        }
    }

    /// The client's response to a call's outcome, or the resumption to make when the
    /// target asked for input the gateway has gathered (a handshake client's answers).
    async fn settle(
        &self,
        ask: &Ask<'_>,
        name: &str,
        entry: &Entry,
        mut outcome: Outcome,
        deadline: tokio::time::Instant,
    ) -> Result<Settled, RpcError> {
        if let Ok(output) = &mut outcome {
            if let Some(input) = output.input.take() {
                let subject = format!("tools/call {name}");
                return Ok(match self.needed(ask, &subject, input, deadline).await? {
                    Next::Reply(body) => Settled::Body(body),
                    Next::Retry(next) => Settled::Retry(next),
                    Next::Refused(why) => Settled::Body(self.needs_input(ask, name, &why)?),
                });
            }
            if let Some(task) = output.task.take() {
                return self
                    .task_result(ask, &entry.target.name, &task)
                    .map(Settled::Body);
            }
        }
        results::tool_response(
            ask.id,
            name,
            outcome,
            ask.era.version,
            self.settings.debug_errors,
        )
        .map(Settled::Body)
    }

    /// The tool's result when the client cannot give the input it asks for: an error result
    /// saying why.
    fn needs_input(&self, ask: &Ask<'_>, tool: &str, why: &str) -> Result<Vec<u8>, RpcError> {
        let output = ToolOutput::text(format!("Tool {tool} needs input: {why}."), true);
        results::tool_response(
            ask.id,
            tool,
            Ok(output),
            ask.era.version,
            self.settings.debug_errors,
        )
    }
}

/// A 2026-07-28 server that reads the body checks the `Mcp-Param-*` headers of the tool's
/// `x-mcp-header` arguments against it: each argument given must have its header, equal to it
/// once decoded.
fn check_param_headers(
    headers: &http::HeaderMap,
    params: &[(http::HeaderName, Vec<String>)],
    args: &Value,
) -> Result<(), RpcError> {
    for (name, path) in params {
        let Some(expected) = crate::targets::mcp_server::param_value(args, path) else {
            continue;
        };
        let sent = header(headers, name.as_str()).map(decode_header_value);
        if sent != Some(Some(expected)) {
            return Err(RpcError::new(
                jsonrpc::HEADER_MISMATCH,
                format!(
                    "Header mismatch: the {name} header must carry the argument `{}`",
                    path.join(".")
                ),
            ));
        }
    }
    Ok(())
}

/// The `progressToken` of a request's `_meta`: a string or a number.
pub(super) fn progress_token(params: &Map<String, Value>) -> Option<Box<RawValue>> {
    match params.get("_meta")?.get("progressToken")? {
        t @ (Value::String(_) | Value::Number(_)) => serde_json::value::to_raw_value(t).ok(),
        _ => None,
    }
}
