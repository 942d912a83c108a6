//! Sessions for the handshake versions (2025-03-26 to 2025-11-25) that any replica can check
//! without shared state: the `Mcp-Session-Id` is a token carrying the negotiated version, the
//! issue time and a digest of the principal, authenticated with HMAC-SHA256.
//!
//! The HMAC key comes from `MCP_GATEWAY_SESSION_KEY` (share it across replicas); without it a
//! key derived from the gateway name is used, so sessions still survive restarts, but anyone
//! who knows the name can mint ids. That grants nothing beyond what the caller's own
//! credentials allow (the principal digest is checked on every request), yet setting the key
//! is recommended. `DELETE` ends a session on the replica that receives it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_lc_rs::{digest, hmac, rand::SecureRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::version::ProtocolVersion;

const TAG_LEN: usize = 16;
const PAYLOAD_LEN: usize = 1 + 8 + 16 + 8;
const MAX_ENDED: usize = 100_000;

/// What a valid session id says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub version: ProtocolVersion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("unknown session id")]
    Unknown,
    #[error("the session has expired")]
    Expired,
    #[error("the session has been ended")]
    Ended,
    #[error("the session belongs to another principal")]
    WrongPrincipal,
}

pub struct Sessions {
    key: hmac::Key,
    timeout: Duration,
    rng: aws_lc_rs::rand::SystemRandom,
    ended: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    pub fn new(secret: &[u8], timeout: Duration) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            b"mcp-gateway session key v1",
        );
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            timeout,
            rng: aws_lc_rs::rand::SystemRandom::new(),
            ended: Mutex::new(HashMap::new()),
        }
    }

    /// A new session id for `principal` speaking `version`.
    pub fn mint(&self, version: ProtocolVersion, principal: &str) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = version as u8;
        payload[1..9].copy_from_slice(&crate::unix_now().to_be_bytes());
        payload[9..25].copy_from_slice(&principal_digest(principal));
        // A failed RNG only makes two ids of the same second look alike; they stay valid.
        let _ = self.rng.fill(&mut payload[25..]);
        let tag = hmac::sign(&self.key, &payload);
        let mut token = payload.to_vec();
        token.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// Checks an id presented by `principal`.
    pub fn check(&self, id: &str, principal: &str) -> Result<Session, SessionError> {
        let raw = URL_SAFE_NO_PAD
            .decode(id)
            .map_err(|_| SessionError::Unknown)?;
        if raw.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(SessionError::Unknown);
        }
        let (payload, tag) = raw.split_at(PAYLOAD_LEN);
        let full = hmac::sign(&self.key, payload);
        if !constant_time_eq(&full.as_ref()[..TAG_LEN], tag) {
            return Err(SessionError::Unknown);
        }
        let version = ProtocolVersion::ALL
            .get(payload[0] as usize)
            .copied()
            .ok_or(SessionError::Unknown)?;
        let issued = u64::from_be_bytes(payload[1..9].try_into().expect("8 bytes"));
        if crate::unix_now().saturating_sub(issued) > self.timeout.as_secs() {
            return Err(SessionError::Expired);
        }
        if !constant_time_eq(&payload[9..25], &principal_digest(principal)) {
            return Err(SessionError::WrongPrincipal);
        }
        if self.ended.lock().expect("not poisoned").contains_key(id) {
            return Err(SessionError::Ended);
        }
        Ok(Session { version })
    }

    /// Ends a session (after [`check`](Self::check) accepted it).
    pub fn end(&self, id: &str) {
        let now = crate::unix_now();
        let mut ended = self.ended.lock().expect("not poisoned");
        if ended.len() >= MAX_ENDED {
            let timeout = self.timeout.as_secs();
            ended.retain(|_, at| now.saturating_sub(*at) <= timeout);
        }
        if ended.len() < MAX_ENDED {
            ended.insert(id.to_string(), now);
        }
    }
}

fn principal_digest(principal: &str) -> [u8; 16] {
    let d = digest::digest(&digest::SHA256, principal.as_bytes());
    d.as_ref()[..16].try_into().expect("16 bytes")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_bind_to_principal() {
        let s = Sessions::new(b"k", Duration::from_secs(60));
        let id = s.mint(ProtocolVersion::V2025_06_18, "alice");
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(
            s.check(&id, "alice"),
            Ok(Session {
                version: ProtocolVersion::V2025_06_18
            })
        );
        assert_eq!(s.check(&id, "bob"), Err(SessionError::WrongPrincipal));
        // Another replica with the same key accepts it; a different key does not.
        assert!(
            Sessions::new(b"k", Duration::from_secs(60))
                .check(&id, "alice")
                .is_ok()
        );
        assert_eq!(
            Sessions::new(b"other", Duration::from_secs(60)).check(&id, "alice"),
            Err(SessionError::Unknown)
        );
        let mut tampered = URL_SAFE_NO_PAD.decode(&id).unwrap();
        tampered[0] ^= 1;
        assert_eq!(
            s.check(&URL_SAFE_NO_PAD.encode(tampered), "alice"),
            Err(SessionError::Unknown)
        );
        assert_eq!(s.check("garbage!", "alice"), Err(SessionError::Unknown));
        s.end(&id);
        assert_eq!(s.check(&id, "alice"), Err(SessionError::Ended));
    }

    #[test]
    fn expiry() {
        let s = Sessions::new(b"k", Duration::from_secs(0));
        let mut raw = URL_SAFE_NO_PAD
            .decode(s.mint(ProtocolVersion::V2025_03_26, "a"))
            .unwrap();
        raw[1..9].copy_from_slice(&(crate::unix_now() - 10).to_be_bytes());
        let tag = hmac::sign(&s.key, &raw[..PAYLOAD_LEN]);
        raw[PAYLOAD_LEN..].copy_from_slice(&tag.as_ref()[..TAG_LEN]);
        assert_eq!(
            s.check(&URL_SAFE_NO_PAD.encode(raw), "a"),
            Err(SessionError::Expired)
        );
    }
}
