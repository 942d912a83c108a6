//! `tools/list` and `tools/call`: a page of the live catalog, written from the
//! pre-serialised listings; and a call handed to its tool's target with a [`CallContext`],
//! its result (or failure) put in the client's era by [`results`](super::results).

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::jsonrpc::{self, Id, RpcError};
use super::{Era, LIST_TTL_MS, McpService, decode_header_value, header, results};
use crate::auth::Principal;
use crate::catalog::Cursor;
use crate::targets::CallContext;
use crate::targets::context::Progress;

impl McpService {
    /// The response to `tools/list`: one page, written in one pass from the pre-serialised
    /// listings (a page of 10,000 tools is never parsed or copied).
    pub(super) async fn tools_list(
        &self,
        id: &Id,
        params: &Map<String, Value>,
        era: &Era<'_>,
    ) -> Result<Vec<u8>, RpcError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Page<'a> {
            tools: Vec<&'a RawValue>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_cursor: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            result_type: Option<&'static str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            ttl_ms: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            cache_scope: Option<&'static str>,
        }
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(
                Cursor::decode(c)
                    .ok_or_else(|| RpcError::new(jsonrpc::INVALID_PARAMS, "Invalid cursor"))?,
            ),
            Some(_) => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`cursor` must be a string",
                ));
            }
        };
        // `listingMode: DYNAMIC` targets are listed again for each first page.
        if cursor.is_none() && self.catalog.has_dynamic() {
            self.catalog.refresh_dynamic().await;
        }
        let catalog = self.catalog.load();
        let (tools, next) = catalog.page(cursor.as_ref(), self.page_size);
        // The listings, their commas, and room for the envelope and the page's other fields.
        let size = tools.iter().map(|t| t.get().len() + 1).sum::<usize>() + 512;
        let page = Page {
            next_cursor: next.map(|c| c.encode()),
            tools,
            result_type: era.modern.then_some("complete"),
            ttl_ms: era.modern.then_some(LIST_TTL_MS),
            cache_scope: era.modern.then_some("public"),
        };
        Ok(jsonrpc::success_sized(id, &page, size))
    }

    pub(super) async fn tools_call(
        &self,
        id: &Id,
        params: &Map<String, Value>,
        era: &Era<'_>,
        headers: &http::HeaderMap,
        principal: &Principal,
        progress: Option<&tokio::sync::mpsc::Sender<Vec<u8>>>,
    ) -> Result<Vec<u8>, RpcError> {
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
        // Progress, when the client gave a token and its response can carry notifications.
        let progress = progress
            .zip(progress_token(params))
            .map(|(tx, token)| Progress {
                token,
                tx: tx.clone(),
            });
        let ctx = CallContext {
            principal,
            headers,
            request_id: id.as_json(),
            session: era.session,
            deadline: tokio::time::Instant::now() + entry.target.timeout,
            progress: progress.as_ref(),
        };
        let outcome = entry.target.call(&ctx, &entry.tool, args).await;
        results::tool_response(id, name, outcome, era.version, self.settings.debug_errors)
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
fn progress_token(params: &Map<String, Value>) -> Option<Box<RawValue>> {
    match params.get("_meta")?.get("progressToken")? {
        t @ (Value::String(_) | Value::Number(_)) => serde_json::value::to_raw_value(t).ok(),
        _ => None,
    }
}
