//! An HTTP reply as a tool result: a 2xx body is the text (and, when it is a JSON object,
//! also the structured content); any other status is `isError: true` with the status and the
//! body, so the model can correct itself. A body that is not UTF-8 becomes an embedded
//! resource with a base64 blob.

use crate::net::Reply;
use crate::targets::output::{Content, Json, Text, ToolOutput, is_json_object};

pub(crate) fn output(reply: Reply) -> ToolOutput {
    let status = reply.status;
    let held = reply.held;
    let text = Text::shared(reply.body.clone());
    let mut out = if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        let body = match &text {
            Some(t) => t.as_str().to_string(),
            None => format!("<{} bytes of binary data>", reply.body.len()),
        };
        ToolOutput::text(format!("HTTP {} {reason}: {body}", status.as_u16()), true)
    } else {
        match text {
            Some(t) if t.as_str().is_empty() => ToolOutput::text(
                format!("HTTP {} with an empty body", status.as_u16()),
                false,
            ),
            Some(t) => {
                let structured = is_json_object(t.as_str()).then(|| Json::Shared(reply.body));
                ToolOutput {
                    content: vec![Content::Text(t)],
                    structured,
                    ..ToolOutput::default()
                }
            }
            None => ToolOutput {
                content: vec![Content::Blob {
                    uri: "mcp-gateway://response",
                    mime_type: reply
                        .content_type
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    data: reply.body,
                }],
                ..ToolOutput::default()
            },
        }
    };
    out.held = held;
    out
}
