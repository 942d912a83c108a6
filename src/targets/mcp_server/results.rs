//! An upstream's results as the gateway reads them: a `CallToolResult` as a [`ToolOutput`]
//! (passed through faithfully), a task handle, or an `input_required` result; and the
//! upstream's `_meta` without the protocol's own keys.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{UpstreamError, client};
use crate::targets::output::{Content, InputRequired, Json, ToolOutput, is_json_object};

/// A `CallToolResult` as the upstream wrote it, as a [`ToolOutput`].
pub(super) fn output(answer: client::Answer) -> Result<ToolOutput, UpstreamError> {
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
        /// A 2025-11-25 `CreateTaskResult`'s task.
        #[serde(default)]
        task: Option<Box<RawValue>>,
    }
    let r: Result_ = serde_json::from_str(answer.result.get())
        .map_err(|_| UpstreamError::Malformed("a tools/call result"))?;
    let created = r.task.as_deref().is_some_and(|t| is_json_object(t.get()));
    if r.result_type.as_deref() == Some("task") || created {
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
