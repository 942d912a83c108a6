//! Names shared by the config, the importers and the catalog: MCP's tool-name rule and the
//! HTTP methods AgentCore's `RestApiMethod` enum allows. A leaf, so that validating a config
//! and importing a document need not reach into the run-time catalog.

use serde::Deserialize;

/// MCP's tool name rule: 1-128 of `A-Z a-z 0-9 _ - .`.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.chars().all(tool_name_char)
}

/// Replaces characters MCP does not allow in tool names with `_`.
pub fn sanitize_tool_name(name: &str) -> String {
    name.chars()
        .map(|c| if tool_name_char(c) { c } else { '_' })
        .collect()
}

fn tool_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The separator between a target's name and its tool's name, as AgentCore writes it.
pub const TOOL_SEPARATOR: &str = "___";

/// `{target}___{tool}`.
pub fn tool_name(target: &str, tool: &str) -> String {
    let mut s = String::with_capacity(target.len() + TOOL_SEPARATOR.len() + tool.len());
    s.push_str(target);
    s.push_str(TOOL_SEPARATOR);
    s.push_str(tool);
    s
}

/// The methods AgentCore's `RestApiMethod` enum allows.
#[derive(
    Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Delete,
    Head,
    Options,
    Patch,
    Put,
    Post,
}

impl HttpMethod {
    pub const ALL: [HttpMethod; 7] = [
        Self::Get,
        Self::Delete,
        Self::Head,
        Self::Options,
        Self::Patch,
        Self::Put,
        Self::Post,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Patch => "PATCH",
            Self::Put => "PUT",
            Self::Post => "POST",
        }
    }

    /// The lower-case key an OpenAPI path item uses for this method.
    pub fn openapi_key(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Delete => "delete",
            Self::Head => "head",
            Self::Options => "options",
            Self::Patch => "patch",
            Self::Put => "put",
            Self::Post => "post",
        }
    }

    pub fn to_http(self) -> http::Method {
        match self {
            Self::Get => http::Method::GET,
            Self::Delete => http::Method::DELETE,
            Self::Head => http::Method::HEAD,
            Self::Options => http::Method::OPTIONS,
            Self::Patch => http::Method::PATCH,
            Self::Put => http::Method::PUT,
            Self::Post => http::Method::POST,
        }
    }
}
