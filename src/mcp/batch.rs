//! JSON-RPC batches, which only protocol version 2025-03-26 has (it requires servers to
//! accept them; later versions removed them). A batch's messages go through the same
//! [`McpService::message`] as single ones, concurrently, and their responses are joined into
//! one array.

use futures_util::future::join_all;
use serde_json::value::RawValue;

use super::jsonrpc::{self, RpcError};
use super::version::ProtocolVersion;
use super::{HEADER_PROTOCOL_VERSION, McpService, Outcome, header, session_header};
use crate::auth::Principal;

impl McpService {
    /// A JSON-RPC batch: its messages run concurrently and their responses come back as one
    /// array (202 when none needs one). Only 2025-03-26 has batches; the version is the
    /// header's, else the session's, else 2025-03-26 (what a client that names none speaks).
    pub(super) async fn batch(
        &self,
        headers: &http::HeaderMap,
        items: &[&RawValue],
        principal: &Principal,
    ) -> Outcome {
        let refuse =
            |msg: String| Outcome::error(None, RpcError::new(jsonrpc::INVALID_REQUEST, msg), false);
        let version = match header(headers, HEADER_PROTOCOL_VERSION) {
            Some(h) => ProtocolVersion::parse(h),
            None => match session_header(headers) {
                Ok(Some(sid)) => self
                    .sessions
                    .check(sid, &principal.id)
                    .ok()
                    .map(|s| s.version),
                Ok(None) => Some(ProtocolVersion::V2025_03_26),
                Err(_) => None,
            },
        };
        let batches = ProtocolVersion::V2025_03_26;
        if version != Some(batches) || !self.settings.supported_versions.contains(&batches) {
            return refuse(
                "JSON-RPC batches are accepted only under protocol version 2025-03-26 (later versions removed them): send one message per POST".into(),
            );
        }
        if items.is_empty() {
            return refuse("the JSON-RPC batch is empty".into());
        }
        if items.len() > jsonrpc::MAX_BATCH {
            return refuse(format!(
                "a JSON-RPC batch may hold at most {} messages",
                jsonrpc::MAX_BATCH
            ));
        }
        let replies = join_all(
            items
                .iter()
                .map(|m| self.message(headers, m, principal, true, None)),
        )
        .await;
        let bodies: Vec<Vec<u8>> = replies
            .into_iter()
            .filter_map(|r| match r {
                Some(Outcome::Reply { body, .. } | Outcome::Throttled { body, .. }) => Some(body),
                // Streams are of 2026-07-28, which has no batches.
                Some(Outcome::Accepted | Outcome::Stream(_)) | None => None,
            })
            .collect();
        if bodies.is_empty() {
            return Outcome::Accepted;
        }
        let mut out = Vec::with_capacity(bodies.iter().map(|b| b.len() + 1).sum::<usize>() + 1);
        out.push(b'[');
        for (i, b) in bodies.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b);
        }
        out.push(b']');
        Outcome::ok(out)
    }
}
