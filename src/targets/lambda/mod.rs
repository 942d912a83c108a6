//! Lambda function targets: each tool call is one synchronous `Invoke`
//! (`POST /2015-03-31/functions/<arn>/invocations`), signed with SigV4 for `lambda` in the
//! function's region by the shared HTTP adapter, as AgentCore's gateway invokes it:
//!
//! - the event is the arguments object, as it came;
//! - `X-Amz-Client-Context` carries `custom` with AgentCore's keys
//!   (`bedrockAgentCoreToolName` = `target___tool`, the gateway and target ids, the MCP
//!   message id, a request id, message version `1.0`), so a function written for AgentCore
//!   reads `context.client_context.custom` unchanged;
//! - a function error (`X-Amz-Function-Error`, handled or not) is an `isError` result with
//!   its type and message; a JSON payload is the text, and the structured content when the
//!   tool declares an output schema;
//! - Lambda's own errors are [`ServiceError`]s: throttling and 5xx are retryable target
//!   errors, a refused signature the gateway's, a missing function an `isError` result.
//!
//! Payloads are bounded both ways by Lambda's 6 MB synchronous limit (and the gateway's own
//! response limit). Why not `aws-sdk-lambda`: it brings a second HTTP client stack and its
//! own connection pool, outside the gateway's egress policy, budgets and deadline; one
//! signed POST needs only `aws-sigv4` and the shared client.

pub mod tools;

use base64::Engine;
use serde_json::Value;

use super::aws::ServiceError;
use super::context::CallContext;
use super::http::{HttpAdapter, validate};
use super::output::{
    ArgProblem, CallError, Content, Json, Text, ToolOutput, is_json_object, service_failure,
};
use super::tool::Tool;
use crate::outbound::Request;

/// Lambda's limit for a synchronous invocation's request and response payloads.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's limit for the base64 client context.
const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

/// Where one tool's calls go.
#[derive(Debug)]
pub struct Route {
    /// The function's `Invoke` URL.
    pub url: url::Url,
    /// `target___tool`, as `bedrockAgentCoreToolName`.
    pub tool_name: String,
    pub gateway_id: std::sync::Arc<str>,
    pub target_id: std::sync::Arc<str>,
    /// The tool declares an output schema: a JSON object payload is also structured content.
    pub structured: bool,
}

/// The `Invoke` URL of `function` (an ARN, a qualifier included) at `endpoint`.
pub fn invoke_url(endpoint: &str, function: &str) -> Result<url::Url, String> {
    let mut url =
        url::Url::parse(endpoint).map_err(|e| format!("bad Lambda endpoint `{endpoint}`: {e}"))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "bad Lambda endpoint `{endpoint}`: not an http(s) URL"
        ));
    }
    let mut path = url.path().trim_end_matches('/').to_string();
    path.push_str("/2015-03-31/functions/");
    path.extend(crate::common::encode::path_segment(function));
    path.push_str("/invocations");
    url.set_path(&path);
    Ok(url)
}

/// Runs one `tools/call` as an `Invoke`.
pub async fn call(
    adapter: &HttpAdapter,
    ctx: &CallContext<'_>,
    tool: &Tool,
    route: &Route,
    args: &Value,
) -> Result<ToolOutput, CallError> {
    validate(tool, args)?;
    let body = args.to_string().into_bytes();
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(CallError::InvalidArguments(vec![ArgProblem {
            arg: String::new(),
            message: format!(
                "the arguments are {} bytes; a Lambda function takes at most {MAX_PAYLOAD_BYTES}",
                body.len()
            ),
        }]));
    }
    let mut req = Request {
        method: http::Method::POST,
        url: route.url.clone(),
        headers: http::HeaderMap::new(),
        body: Some(body),
    };
    let h = &mut req.headers;
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amz-invocation-type",
        http::HeaderValue::from_static("RequestResponse"),
    );
    if let Some(cc) = client_context(ctx, route) {
        h.insert("x-amz-client-context", cc);
    }
    let reply = adapter.send_limited(ctx, req, MAX_PAYLOAD_BYTES).await?;
    if !reply.status.is_success() {
        return service_failure(ServiceError::from_reply("Lambda", &reply));
    }
    Ok(output(reply, route.structured))
}

/// `{"custom": {...AgentCore's keys}}`, base64, within Lambda's limit. The names in it are
/// bounded by the config; only the client's JSON-RPC id is not, and an id too long to fit is
/// sent empty rather than failing the call.
fn client_context(ctx: &CallContext<'_>, route: &Route) -> Option<http::HeaderValue> {
    // The JSON-RPC id as the client sent it: a string's value, a number's digits.
    let message_id = serde_json::from_str::<Value>(ctx.request_id)
        .ok()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_default();
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Custom<'a> {
        bedrock_agent_core_message_version: &'a str,
        bedrock_agent_core_aws_request_id: &'a str,
        bedrock_agent_core_mcp_message_id: &'a str,
        bedrock_agent_core_gateway_id: &'a str,
        bedrock_agent_core_target_id: &'a str,
        bedrock_agent_core_tool_name: &'a str,
    }
    #[derive(serde::Serialize)]
    struct ClientContext<'a> {
        custom: Custom<'a>,
    }
    let request_id = crate::common::random::uuid();
    let encode = |message_id: &str| {
        let context = ClientContext {
            custom: Custom {
                bedrock_agent_core_message_version: "1.0",
                bedrock_agent_core_aws_request_id: &request_id,
                bedrock_agent_core_mcp_message_id: message_id,
                bedrock_agent_core_gateway_id: &route.gateway_id,
                bedrock_agent_core_target_id: &route.target_id,
                bedrock_agent_core_tool_name: &route.tool_name,
            },
        };
        let json = serde_json::to_string(&context).ok()?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        (encoded.len() <= MAX_CLIENT_CONTEXT_BYTES).then_some(encoded)
    };
    let encoded = encode(&message_id).or_else(|| encode(""))?;
    http::HeaderValue::from_str(&encoded).ok()
}

/// An `Invoke` reply (HTTP 200) as a tool result.
fn output(reply: crate::net::Reply, structured: bool) -> ToolOutput {
    let held = reply.held;
    let function_error = reply
        .headers
        .get("x-amz-function-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut out = match (function_error, Text::shared(reply.body.clone())) {
        (Some(kind), text) => {
            // `{"errorMessage", "errorType", "stackTrace"}`; the stack stays in the function's logs.
            let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
            let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
            let message = field("errorMessage").unwrap_or_else(|| {
                text.map(|t| t.as_str().chars().take(1000).collect())
                    .unwrap_or_default()
            });
            let text = match field("errorType") {
                Some(ty) => format!("The Lambda function failed ({kind}): {ty}: {message}"),
                None => format!("The Lambda function failed ({kind}): {message}"),
            };
            ToolOutput::text(text, true)
        }
        (None, Some(text)) => {
            let structured =
                (structured && is_json_object(text.as_str())).then(|| Json::Shared(reply.body));
            ToolOutput {
                content: vec![Content::Text(text)],
                structured,
                ..ToolOutput::default()
            }
        }
        (None, None) => ToolOutput::text(
            format!(
                "The Lambda function returned {} bytes that are not UTF-8 JSON",
                reply.body.len()
            ),
            true,
        ),
    };
    out.held = held;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_urls_encode_the_arn_as_one_segment() {
        let url = invoke_url(
            "http://127.0.0.1:9000/",
            "arn:aws:lambda:us-east-1:123456789012:function:weather:live",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aweather%3Alive/invocations"
        );
    }
}
