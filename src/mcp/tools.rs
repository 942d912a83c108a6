//! `tools/call`: the call handed to its tool's target with a [`CallContext`], its result (or
//! failure) put in the client's era by [`results`](super::results).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::jsonrpc::{self, RpcError};
use super::{Ask, McpService, decode_header_value, header, results};
use serde::Serialize;

use super::state::{Pending, STATE_TTL};
use crate::targets::context::Resume;
use crate::targets::output::InputRequired;
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
        let resume = self.resume(params, name, &ask.principal.id)?;
        let ctx = CallContext {
            resume: resume.as_ref(),
            ..ask.context(entry.target.timeout)
        };
        let mut outcome = entry.target.call(&ctx, &entry.tool, args).await;
        if let Ok(output) = &mut outcome {
            if let Some(input) = output.input.take() {
                return self.input_required(ask, name, input);
            }
            if let Some(task) = output.task.take() {
                return self.task_result(ask, &entry.target.name, &task);
            }
        }
        results::tool_response(id, name, outcome, era.version, self.settings.debug_errors)
    }

    /// A call the client resumes with `inputResponses` and the `requestState` the gateway
    /// gave it: the state must open for this principal, unexpired, and name this tool.
    fn resume(
        &self,
        params: &Map<String, Value>,
        tool: &str,
        principal: &str,
    ) -> Result<Option<Resume>, RpcError> {
        let responses = params.get("inputResponses");
        let state = match params.get("requestState") {
            None | Some(Value::Null) if responses.is_none() => return Ok(None),
            Some(Value::String(s)) => s,
            _ => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`inputResponses` must come with the `requestState` string it answers",
                ));
            }
        };
        let refused = |why: String| {
            RpcError::new(
                jsonrpc::INVALID_PARAMS,
                format!("Invalid requestState: {why}"),
            )
        };
        let pending: Pending = self
            .sealer
            .open(state, principal)
            .map_err(|e| refused(e.to_string()))?;
        if pending.tool != tool {
            return Err(refused(format!(
                "it was issued for another tool, not {tool}"
            )));
        }
        let responses = match responses {
            None | Some(Value::Null) => None,
            Some(r @ Value::Object(_)) => serde_json::value::to_raw_value(r).ok(),
            Some(_) => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`inputResponses` must be an object",
                ));
            }
        };
        Ok(Some(Resume {
            responses,
            state: pending.upstream,
        }))
    }

    /// The target needs the client's input: a 2026-07-28 client that can give it gets
    /// `input_required` with the gateway's sealed state; any other client gets an `isError`
    /// result saying what was asked.
    fn input_required(
        &self,
        ask: &Ask<'_>,
        tool: &str,
        input: InputRequired,
    ) -> Result<Vec<u8>, RpcError> {
        let methods = input
            .requests
            .as_deref()
            .and_then(|r| serde_json::from_str::<Map<String, Value>>(r.get()).ok())
            .unwrap_or_default();
        let refused = methods.values().find_map(|r| {
            let method = r.get("method").and_then(Value::as_str).unwrap_or("");
            let params = r
                .get("params")
                .and_then(|p| serde_json::value::to_raw_value(p).ok());
            (!ask.era.client.allows(method, params.as_deref())).then(|| method.to_string())
        });
        let problem = if !ask.era.modern {
            Some(
                "the target asks for input in a way only 2026-07-28 clients can answer".to_string(),
            )
        } else {
            refused.map(|m| {
                format!(
                    "the target asks for `{m}`, which this client did not declare it can answer"
                )
            })
        };
        if let Some(problem) = problem {
            let output = ToolOutput::text(format!("Tool {tool} needs input: {problem}."), true);
            return results::tool_response(
                ask.id,
                tool,
                Ok(output),
                ask.era.version,
                self.settings.debug_errors,
            );
        }
        let pending = Pending {
            tool: tool.to_string(),
            upstream: input.state,
            expires: crate::common::unix_now() + STATE_TTL.as_secs(),
        };
        let state = self
            .sealer
            .seal(&pending, &ask.principal.id)
            .ok_or_else(|| {
                RpcError::new(
                    jsonrpc::INTERNAL_ERROR,
                    "the request state could not be sealed",
                )
            })?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Needed<'a> {
            result_type: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            input_requests: Option<&'a RawValue>,
            request_state: String,
        }
        Ok(jsonrpc::success(
            ask.id,
            &Needed {
                result_type: "input_required",
                input_requests: input.requests.as_deref(),
                request_state: state,
            },
        ))
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
