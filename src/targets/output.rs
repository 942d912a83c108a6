//! What a target call produces, whatever the kind of target: a [`ToolOutput`] (content items,
//! structured content, `isError`) or a [`CallError`] saying why there is none. The error's
//! [`Class`] (who failed, and whether a retry can help) is decided here, once, and read by
//! `crate::mcp::results` for the client view and the log level (later the metric label).
//!
//! Outputs own their bytes and borrow from nothing: a 9 MB backend body is held once, as
//! [`Bytes`], and serialised straight from there as text and, for a JSON object, as
//! `structuredContent`.

use std::time::Duration;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::aws::ServiceError;
use super::class::{Class, Fault};
use super::mcp_server::error::UpstreamError;
use super::tool::SchemaError;
use crate::common::budget::Held;
use crate::net::NetError;
use crate::outbound::OutboundError;

/// A `CallToolResult`, before version shaping.
#[derive(Debug, Default)]
pub struct ToolOutput {
    pub content: Vec<Content>,
    /// A JSON object, checked to be well-formed and within the nesting limit.
    pub structured: Option<Json>,
    pub is_error: bool,
    /// The target's own `_meta`, passed through.
    pub meta: Option<Box<RawValue>>,
    /// Bytes borrowed from the in-flight budget until the output is dropped.
    pub held: Held,
    /// The target needs the client's input before it can answer (2026-07-28
    /// `input_required`); the rest of the output is then empty.
    pub input: Option<InputRequired>,
    /// The target answered with a task instead of a result (`resultType: "task"`, the
    /// tasks extension): the result as it wrote it; the rest of the output is then empty.
    pub task: Option<Box<RawValue>>,
}

/// An MCP server's `input_required` result: what it asks the client, and its own state to
/// resume from.
#[derive(Debug)]
pub struct InputRequired {
    pub requests: Option<Box<RawValue>>,
    pub state: Option<String>,
}

/// One content item.
#[derive(Debug)]
pub enum Content {
    Text(Text),
    /// Binary data, as an embedded resource with a blob.
    Blob {
        uri: &'static str,
        mime_type: String,
        data: Bytes,
    },
    /// An item passed through as the target wrote it (an MCP server's image, audio,
    /// resource link or embedded resource), checked to be an object with a `type`.
    Raw(Box<RawValue>),
}

/// Text content: composed by the adapter, or a slice of the target's reply.
#[derive(Debug)]
pub enum Text {
    Owned(String),
    /// Bytes checked to be UTF-8 when the output was made.
    Shared(Bytes),
}

impl Text {
    /// `bytes` as text, when it is UTF-8.
    pub fn shared(bytes: Bytes) -> Option<Self> {
        std::str::from_utf8(&bytes).ok()?;
        Some(Self::Shared(bytes))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Owned(s) => s,
            // Checked in `shared`; an empty string is the impossible fallback.
            Self::Shared(b) => std::str::from_utf8(b).unwrap_or_default(),
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self::Owned(s)
    }
}

/// A JSON value held as text.
#[derive(Debug)]
pub enum Json {
    Raw(Box<RawValue>),
    /// Bytes checked to be one well-formed JSON value.
    Shared(Bytes),
}

impl Json {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Raw(r) => r.get(),
            Self::Shared(b) => std::str::from_utf8(b).unwrap_or("null"),
        }
    }
}

impl ToolOutput {
    /// One text item.
    pub fn text(text: impl Into<Text>, is_error: bool) -> Self {
        Self {
            content: vec![Content::Text(text.into())],
            is_error,
            ..Self::default()
        }
    }
}

/// One argument that cannot be put into the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgProblem {
    /// The argument's name; empty for a problem with the arguments as a whole.
    pub arg: String,
    pub message: String,
}

/// Why a call produced no output.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid arguments")]
    InvalidArguments(Vec<ArgProblem>),
    #[error("the tool's input schema cannot be used")]
    Schema(#[source] SchemaError),
    #[error("outbound credentials")]
    Credentials(#[from] OutboundError),
    #[error("the target did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the request to the target failed")]
    Net(#[from] NetError),
    #[error("the call to the upstream MCP server failed")]
    Upstream(#[from] UpstreamError),
    #[error("the AWS service refused the call")]
    Aws(#[source] ServiceError),
    #[error("the tool's route does not belong to its target's kind")]
    Mismatch,
    #[error("the call stopped before it finished")]
    Aborted,
}

impl CallError {
    pub fn class(&self) -> Class {
        match self {
            Self::InvalidArguments(_) => Class::new(Fault::Client, false),
            Self::Schema(_) => Class::new(Fault::Gateway, false),
            Self::Credentials(_) => Class::new(Fault::Gateway, true),
            Self::Timeout(_) => Class::timeout(),
            Self::Net(NetError::ConnectTimeout(_)) => Class::timeout(),
            Self::Net(NetError::Connect(_) | NetError::Transport(_)) => {
                Class::new(Fault::Target, true)
            }
            Self::Net(NetError::TooLarge(_)) => Class::new(Fault::Target, false),
            Self::Net(NetError::Overloaded) => Class::new(Fault::Gateway, true),
            Self::Net(NetError::Egress(_)) => Class::new(Fault::Gateway, false),
            Self::Upstream(e) => e.class(),
            Self::Aws(e) => e.class(),
            Self::Mismatch | Self::Aborted => Class::new(Fault::Gateway, false),
        }
    }
}

/// An AWS service's error reply as the call's outcome. A refusal of the request that a retry
/// will not change (a missing resource, a failed validation) is an `isError` result naming the
/// error shape and its message, as a REST target's 4xx body is shown; throttling, server
/// errors and a refusal of the gateway's credentials are classified [`CallError::Aws`]s.
pub fn service_failure(e: ServiceError) -> Result<ToolOutput, CallError> {
    let class = e.class();
    if class.fault == Fault::Target && !class.retryable {
        Ok(ToolOutput::text(
            format!(
                "{} answered {} (HTTP {}): {}",
                e.service,
                e.code,
                e.status.as_u16(),
                e.message
            ),
            true,
        ))
    } else {
        Err(CallError::Aws(e))
    }
}

/// Whether `text` is one JSON object, well-formed and nested no deeper than serde_json's
/// limit (128), checked in a pass that builds nothing.
pub fn is_json_object(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    Shape::deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Accepts any JSON value and keeps nothing of it; its visitor recurses through arrays and
/// objects, so the deserializer's nesting limit applies.
struct Shape;

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                while seq.next_element::<Shape>()?.is_some() {}
                Ok(Shape)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                while map.next_entry::<Shape, Shape>()?.is_some() {}
                Ok(Shape)
            }
        }
        d.deserialize_any(V)
    }
}
