//! What the gateway hands 2026-07-28 clients to bring back later, sealed:
//! - the `requestState` of an `input_required` result (a multi-round-trip request): which
//!   request asked, the upstream's own state (or the call the gateway holds open for it), and
//!   until when it holds. The client sends it back with its `inputResponses`; the gateway
//!   then resumes the request at the same upstream;
//! - the `taskId` of a task (the `io.modelcontextprotocol/tasks` extension): which target
//!   owns it, and the upstream's own id.
//!
//! Each is sealed with AES-256-GCM under a key derived from the session key, with its kind
//! and the principal as associated data: a client can neither read what is inside nor forge
//! or alter it, one issued to one principal does not open for another, and a request state
//! does not open as a task id. Both expire.

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
    /// What asked: the method and the gateway's name for its subject (`tools/call
    /// {target}___{tool}`, `prompts/get {target}___{prompt}`, `resources/read {uri}`).
    #[serde(rename = "n")]
    pub subject: String,
    /// The upstream's own `requestState`, if it gave one.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The call the gateway holds open for the answers, when the upstream asked mid-call
    /// (a handshake-era upstream): its key on this gateway.
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// Seconds since the epoch after which the state is void.
    #[serde(rename = "e")]
    pub expires: u64,
}

/// A task, as its client-facing id says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    /// The target that owns the task.
    #[serde(rename = "t")]
    pub target: String,
    /// The upstream's own task id.
    #[serde(rename = "i")]
    pub task: String,
    #[serde(rename = "e")]
    pub expires: u64,
}

/// How long a task id holds.
pub const TASK_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What can be sealed: each kind has its own associated data, so one never opens as another.
pub trait Sealed: Serialize + serde::de::DeserializeOwned {
    const KIND: &'static [u8];
    fn expires(&self) -> u64;
}

impl Sealed for Pending {
    const KIND: &'static [u8] = b"request-state";
    fn expires(&self) -> u64 {
        self.expires
    }
}

impl Sealed for TaskRef {
    const KIND: &'static [u8] = b"task";
    fn expires(&self) -> u64 {
        self.expires
    }
}

/// Why a `requestState` or task id was refused.
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

    /// `value` sealed for `principal`; `None` only if the system's RNG fails.
    pub fn seal<T: Sealed>(&self, value: &T, principal: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut data = serde_json::to_vec(value).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad::<T>(principal)),
                &mut data,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// What `text` holds, if this gateway sealed it as a `T` for `principal` and it has not
    /// expired.
    pub fn open<T: Sealed>(&self, text: &str, principal: &str) -> Result<T, StateError> {
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
            .open_in_place(nonce, Aad::from(aad::<T>(principal)), &mut sealed)
            .map_err(|_| StateError::Invalid)?;
        let value: T = serde_json::from_slice(plain).map_err(|_| StateError::Invalid)?;
        if crate::common::unix_now() > value.expires() {
            return Err(StateError::Expired);
        }
        Ok(value)
    }
}

/// The associated data: the kind, a separator no kind contains, the principal.
fn aad<T: Sealed>(principal: &str) -> Vec<u8> {
    let mut aad = T::KIND.to_vec();
    aad.push(0);
    aad.extend_from_slice(principal.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_open_only_for_their_principal_unaltered_and_in_time() {
        let s = Sealer::new(b"k");
        let p = Pending {
            subject: "tools/call up___ask".into(),
            upstream: Some("upstream secret state".into()),
            held: None,
            expires: crate::common::unix_now() + 60,
        };
        let sealed = s.seal(&p, "alice").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(&sealed, "alice"), Ok(p.clone()));
        // A request state is not a task id.
        assert_eq!(
            s.open::<TaskRef>(&sealed, "alice"),
            Err(StateError::Invalid)
        );
        assert_eq!(s.open::<Pending>(&sealed, "bob"), Err(StateError::Invalid));
        assert_eq!(
            Sealer::new(b"other").open::<Pending>(&sealed, "alice"),
            Err(StateError::Invalid)
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            s.open::<Pending>(&URL_SAFE_NO_PAD.encode(raw), "alice"),
            Err(StateError::Invalid)
        );
        assert_eq!(
            s.open::<Pending>("not base64!", "alice"),
            Err(StateError::Invalid)
        );
        let old = Pending {
            expires: crate::common::unix_now() - 1,
            ..p
        };
        assert_eq!(
            s.open::<Pending>(&s.seal(&old, "alice").unwrap(), "alice"),
            Err(StateError::Expired)
        );
    }
}
