//! The classification of a failed call: who failed (the client, the target or the gateway),
//! whether the same call may succeed later, and whether a deadline passed. Every error of a
//! call says its class once, here in type; `crate::mcp::results` reads it for the client's
//! words and the log level (later the metric label).

/// Who failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller: its arguments or its request. Its own fix.
    Client,
    /// The target: down, slow, too large, or answering nonsense.
    Target,
    /// The gateway: its credentials, its budget, its configuration.
    Gateway,
}

/// The one classification of a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub fault: Fault,
    /// Whether the same call, later, may succeed.
    pub retryable: bool,
    /// A deadline passed (the client hears "did not answer in time").
    pub timed_out: bool,
}

impl Class {
    pub(crate) const fn new(fault: Fault, retryable: bool) -> Self {
        Self {
            fault,
            retryable,
            timed_out: false,
        }
    }

    pub(crate) const fn timeout() -> Self {
        Self {
            fault: Fault::Target,
            retryable: true,
            timed_out: true,
        }
    }
}
