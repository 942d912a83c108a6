//! The `requestState` the gateway hands a 2026-07-28 client with an `input_required` result
//! (a multi-round-trip request): which target and tool asked, the upstream's own state, and
//! until when it holds. The client sends it back with its `inputResponses`; the gateway then
//! resumes the call at the same upstream.
//!
//! The state is sealed with AES-256-GCM under a key derived from the session key, with the
//! principal as associated data: a client can neither read the upstream's state nor forge or
//! alter one, and a state issued to one principal does not open for another. It expires
//! after [`STATE_TTL`].

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How long a client has to answer an `input_required` result.
pub const STATE_TTL: std::time::Duration = std::time::Duration::from_secs(900);
/// The longest `requestState` the gateway opens.
const MAX_STATE: usize = 64 * 1024;

/// What a sealed state holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The gateway's name for the tool (`{target}___{tool}`).
    #[serde(rename = "n")]
    pub tool: String,
    /// The upstream's own `requestState`, if it gave one.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Seconds since the epoch after which the state is void.
    #[serde(rename = "e")]
    pub expires: u64,
}

/// Why a `requestState` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("it was not issued by this gateway to this client, or was altered")]
    Invalid,
    #[error("it has expired")]
    Expired,
}

/// Seals and opens request states.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    pub fn new(secret: &[u8]) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            b"mcp-gateway request state v1",
        );
        let key = UnboundKey::new(&AES_256_GCM, derived.as_ref())
            .expect("a 32-byte key is valid for AES-256-GCM");
        Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        }
    }

    /// `pending` sealed for `principal`; `None` only if the system's RNG fails.
    pub fn seal(&self, pending: &Pending, principal: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut data = serde_json::to_vec(pending).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(principal.as_bytes()),
                &mut data,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// The state `text` holds, if this gateway sealed it for `principal` and it has not
    /// expired.
    pub fn open(&self, text: &str, principal: &str) -> Result<Pending, StateError> {
        if text.len() > MAX_STATE {
            return Err(StateError::Invalid);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| StateError::Invalid)?;
        if raw.len() < NONCE_LEN {
            return Err(StateError::Invalid);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StateError::Invalid)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(principal.as_bytes()), &mut sealed)
            .map_err(|_| StateError::Invalid)?;
        let pending: Pending = serde_json::from_slice(plain).map_err(|_| StateError::Invalid)?;
        if crate::common::unix_now() > pending.expires {
            return Err(StateError::Expired);
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_open_only_for_their_principal_unaltered_and_in_time() {
        let s = Sealer::new(b"k");
        let p = Pending {
            tool: "up___ask".into(),
            upstream: Some("upstream secret state".into()),
            expires: crate::common::unix_now() + 60,
        };
        let sealed = s.seal(&p, "alice").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(&sealed, "alice"), Ok(p.clone()));
        assert_eq!(s.open(&sealed, "bob"), Err(StateError::Invalid));
        assert_eq!(
            Sealer::new(b"other").open(&sealed, "alice"),
            Err(StateError::Invalid)
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            s.open(&URL_SAFE_NO_PAD.encode(raw), "alice"),
            Err(StateError::Invalid)
        );
        assert_eq!(s.open("not base64!", "alice"), Err(StateError::Invalid));
        let old = Pending {
            expires: crate::common::unix_now() - 1,
            ..p
        };
        assert_eq!(
            s.open(&s.seal(&old, "alice").unwrap(), "alice"),
            Err(StateError::Expired)
        );
    }
}
