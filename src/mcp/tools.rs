//! `tools/call`: the call handed to its tool's target with a [`CallContext`], its result (or
//! failure) put in the client's era by [`results`](super::results).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::input::{MAX_ROUNDS, Next};
use super::jsonrpc::{self, RpcError};
use super::{Ask, McpService, decode_header_value, header, results};
use crate::targets::{CallContext, ToolOutput};

impl McpService {
    pub(super) async fn tools_call(
        &self,
        ask: &Ask<'_>,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        let (id, era, headers) = (ask.id, ask.era, ask.headers);
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
        let mut resume = self
            .resume(params, &subject, &ask.principal.id)?
            .map(|(resume, _)| resume);
        let deadline = tokio::time::Instant::now() + entry.target.timeout;
        for _ in 0..MAX_ROUNDS {
            let ctx = CallContext {
                resume: resume.as_ref(),
                deadline,
                ..ask.context(entry.target.timeout)
            };
            let mut outcome = entry.target.call(&ctx, &entry.tool, args).await;
            if let Ok(output) = &mut outcome {
                if let Some(input) = output.input.take() {
                    match self.needed(ask, &subject, input, deadline).await? {
                        Next::Reply(body) => return Ok(body),
                        Next::Retry(next) => {
                            resume = Some(next);
                            continue;
                        }
                        Next::Refused(why) => return self.needs_input(ask, name, &why),
                    }
                }
                if let Some(task) = output.task.take() {
                    return self.task_result(ask, &entry.target.name, &task);
                }
            }
            return results::tool_response(
                id,
                name,
                outcome,
                era.version,
                self.settings.debug_errors,
            );
        }
        self.needs_input(ask, name, "it kept asking for more input")
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
