//! Why an exchange with an upstream MCP server failed, and the class of each failure (a
//! `-32602` is the client's own mistake; a reset is the target's and may pass; refused
//! credentials are the gateway's).

use serde_json::value::RawValue;

use crate::net::NetError;
use crate::outbound::OutboundError;
use crate::targets::class::{Class, Fault};

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the exchange with the upstream failed")]
    Net(#[source] NetError),
    #[error("outbound credentials")]
    Credentials(#[from] OutboundError),
    #[error("the upstream refused the gateway's credentials (HTTP {0})")]
    Unauthorized(http::StatusCode),
    #[error("the upstream answered HTTP {0}")]
    Status(http::StatusCode),
    #[error("the upstream no longer knows the session")]
    SessionGone,
    #[error("the upstream sent {0} that cannot be read")]
    Malformed(&'static str),
    #[error("the upstream's message is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the upstream's stream was cut before the response")]
    Cut,
    #[error("the upstream's stream ended without the response")]
    NoResponse,
    #[error("the upstream speaks no protocol version the gateway does")]
    Version,
    #[error("the upstream did not answer in time")]
    Timeout,
    #[error("the upstream answered with error {code}: {message}")]
    Rpc {
        code: i64,
        message: String,
        data: Option<Box<RawValue>>,
    },
    #[error("the upstream asked for client input (`input_required`), which is not relayed yet")]
    InputRequired,
    #[error("the upstream lists more than {0} items of one kind")]
    TooManyItems(usize),
    #[error("the target has not connected to its upstream yet")]
    NotConnected,
}

impl UpstreamError {
    pub(crate) fn from_net(e: NetError) -> Self {
        match e {
            NetError::TooLarge(n) => Self::TooLarge(n),
            other => Self::Net(other),
        }
    }

    pub fn class(&self) -> Class {
        let (fault, retryable, timed_out) = match self {
            Self::Net(NetError::Overloaded) => (Fault::Gateway, true, false),
            Self::Net(NetError::Egress(_)) => (Fault::Gateway, false, false),
            Self::Net(NetError::ConnectTimeout(_)) | Self::Timeout => (Fault::Target, true, true),
            Self::Net(_) | Self::Cut | Self::NoResponse | Self::NotConnected => {
                (Fault::Target, true, false)
            }
            Self::SessionGone => (Fault::Target, true, false),
            Self::Status(s) => (Fault::Target, s.is_server_error(), false),
            Self::Credentials(_) | Self::Unauthorized(_) => (Fault::Gateway, false, false),
            Self::Malformed(_) | Self::TooLarge(_) | Self::Version | Self::TooManyItems(_) => {
                (Fault::Target, false, false)
            }
            Self::InputRequired => (Fault::Gateway, false, false),
            // Invalid params, invalid request and a missing client capability are about what
            // the client sent.
            Self::Rpc { code, .. } if matches!(*code, -32602 | -32600 | -32021) => {
                (Fault::Client, false, false)
            }
            Self::Rpc { .. } => (Fault::Target, false, false),
        };
        Class {
            fault,
            retryable,
            timed_out,
        }
    }
}
