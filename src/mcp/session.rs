//! Sessions for the handshake versions (2025-03-26 to 2025-11-25) that any replica can check
//! without shared state: the `Mcp-Session-Id` is a token carrying the negotiated version, the
//! issue time, a digest of the principal and the capabilities the client declared (which
//! server-to-client requests it can answer), authenticated with HMAC-SHA256.
//!
//! The HMAC key comes from `MCP_GATEWAY_SESSION_KEY` (share it across replicas). Without it,
//! a gateway that listens on loopback only derives the key from its name (sessions survive a
//! restart; only local processes can reach it), and any other gateway draws a random key at
//! start (sessions end with the process) and warns: a key anyone can derive must not guard
//! sessions that later waves attach state to.
//!
//! `DELETE` ends a session on the replica that receives it, always or not at all: the id's
//! tag goes into a set of ended sessions, kept until the session would have expired anyway.
//! The set is sharded (a check locks one shard for a hash lookup, and none while nothing has
//! been ended), expired entries leave it bucket by bucket, and when it is full the `DELETE`
//! is refused with 503 instead of answered 204 without effect.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lc_rs::{digest, hmac, rand::SecureRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;

use super::version::ProtocolVersion;
use crate::targets::context::ClientCaps;

const TAG_LEN: usize = 16;
/// Version, issue time, principal digest, random, the client's capabilities.
const PAYLOAD_LEN: usize = 1 + 8 + 16 + 8 + 1;
const SHARDS: usize = 16;
/// Ended sessions remembered at most (about 50 bytes each), per shard.
const MAX_ENDED_PER_SHARD: usize = 1 << 16;
/// Expiry buckets are this many seconds wide.
const BUCKET_SECS: u64 = 60;
/// How far in the future an issue time may lie (clock skew between replicas).
const MAX_SKEW_SECS: u64 = 60;

/// What a valid session id says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub version: ProtocolVersion,
    /// What the client said at `initialize` it can answer.
    pub client: ClientCaps,
    tag: [u8; TAG_LEN],
    expires: u64,
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

/// The set of ended sessions is full: the session could not be ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sessions ended recently to record one more; retry later")]
pub struct EndedFull;

#[derive(Default)]
struct Shard {
    /// Tag → expiry (seconds since the epoch).
    ended: HashMap<[u8; TAG_LEN], u64>,
    /// Expiry bucket → the tags that expire in it.
    buckets: BTreeMap<u64, Vec<[u8; TAG_LEN]>>,
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        while let Some(entry) = self.buckets.first_entry() {
            if (*entry.key() + 1) * BUCKET_SECS > now {
                break;
            }
            for tag in entry.remove() {
                self.ended.remove(&tag);
            }
        }
    }
}

pub struct Sessions {
    key: hmac::Key,
    timeout: Duration,
    rng: aws_lc_rs::rand::SystemRandom,
    shards: [Mutex<Shard>; SHARDS],
    max_per_shard: usize,
    /// Entries across all shards (lets checks skip the locks while nothing has been ended).
    ended: AtomicUsize,
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
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            max_per_shard: MAX_ENDED_PER_SHARD,
            ended: AtomicUsize::new(0),
        }
    }

    /// A new session id for `principal` speaking `version`, whose client can answer `client`.
    pub fn mint(&self, version: ProtocolVersion, principal: &str, client: ClientCaps) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = version as u8;
        payload[1..9].copy_from_slice(&crate::common::unix_now().to_be_bytes());
        payload[9..25].copy_from_slice(&principal_digest(principal));
        // A failed RNG only makes two ids of the same second look alike; they stay valid.
        let _ = self.rng.fill(&mut payload[25..33]);
        payload[33] = client.bits();
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
        let now = crate::common::unix_now();
        if issued > now + MAX_SKEW_SECS {
            return Err(SessionError::Unknown);
        }
        if now.saturating_sub(issued) > self.timeout.as_secs() {
            return Err(SessionError::Expired);
        }
        if !constant_time_eq(&payload[9..25], &principal_digest(principal)) {
            return Err(SessionError::WrongPrincipal);
        }
        let tag: [u8; TAG_LEN] = tag.try_into().expect("16 bytes");
        if self.ended.load(Ordering::Acquire) > 0
            && self.shard(&tag).lock().ended.contains_key(&tag)
        {
            return Err(SessionError::Ended);
        }
        Ok(Session {
            version,
            client: ClientCaps::from_bits(payload[33]),
            tag,
            expires: issued.saturating_add(self.timeout.as_secs()),
        })
    }

    /// Ends a session that [`check`](Self::check) accepted. Either it is ended for good (every
    /// later check says [`SessionError::Ended`] until it would have expired) or `Err` says
    /// it could not be recorded.
    pub fn end(&self, session: &Session) -> Result<(), EndedFull> {
        let now = crate::common::unix_now();
        let mut shard = self.shard(&session.tag).lock();
        let before = shard.ended.len();
        shard.sweep(now);
        self.ended
            .fetch_sub(before - shard.ended.len(), Ordering::AcqRel);
        if shard.ended.len() >= self.max_per_shard && !shard.ended.contains_key(&session.tag) {
            return Err(EndedFull);
        }
        if shard.ended.insert(session.tag, session.expires).is_none() {
            shard
                .buckets
                .entry(session.expires / BUCKET_SECS)
                .or_default()
                .push(session.tag);
            self.ended.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    fn shard(&self, tag: &[u8; TAG_LEN]) -> &Mutex<Shard> {
        &self.shards[tag[0] as usize % SHARDS]
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
        let id = s.mint(ProtocolVersion::V2025_06_18, "alice", ClientCaps::default());
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(
            s.check(&id, "alice").map(|s| s.version),
            Ok(ProtocolVersion::V2025_06_18)
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
        let session = s.check(&id, "alice").unwrap();
        s.end(&session).unwrap();
        assert_eq!(s.check(&id, "alice"), Err(SessionError::Ended));
        // Another id of the same principal is unaffected.
        let other = s.mint(ProtocolVersion::V2025_06_18, "alice", ClientCaps::default());
        assert!(s.check(&other, "alice").is_ok());
    }

    /// Re-signs `id` with a different issue time.
    fn reissued(s: &Sessions, id: &str, issued: u64) -> String {
        let mut raw = URL_SAFE_NO_PAD.decode(id).unwrap();
        raw[1..9].copy_from_slice(&issued.to_be_bytes());
        let tag = hmac::sign(&s.key, &raw[..PAYLOAD_LEN]);
        raw[PAYLOAD_LEN..].copy_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    #[test]
    fn future_issue_times_are_refused() {
        let s = Sessions::new(b"k", Duration::from_secs(60));
        let id = s.mint(ProtocolVersion::V2025_06_18, "a", ClientCaps::default());
        let forged = reissued(&s, &id, u64::MAX);
        assert_eq!(s.check(&forged, "a"), Err(SessionError::Unknown));
    }

    /// redteam D6: a full set of ended sessions used to answer 204 and record nothing.
    #[test]
    fn ending_always_takes_effect_or_says_it_did_not() {
        let mut s = Sessions::new(b"k", Duration::from_secs(3600));
        s.max_per_shard = 64;
        let mut refused = 0;
        let mut ended = Vec::new();
        for _ in 0..(SHARDS * 64 + 5000) {
            let id = s.mint(ProtocolVersion::V2025_06_18, "a", ClientCaps::default());
            let session = s.check(&id, "a").unwrap();
            match s.end(&session) {
                Ok(()) => {
                    if ended.len() < 1000 {
                        ended.push(id);
                    }
                }
                Err(EndedFull) => {
                    refused += 1;
                    assert!(
                        s.check(&id, "a").is_ok(),
                        "refused: the session stays valid"
                    );
                }
            }
        }
        assert!(refused >= 5000, "{refused}");
        assert_eq!(s.ended.load(Ordering::Acquire), SHARDS * 64);
        for id in &ended {
            assert_eq!(s.check(id, "a"), Err(SessionError::Ended));
        }
        // Entries leave once their sessions would have expired anyway.
        let mut shard = s.shards[0].lock();
        let before = shard.ended.len();
        shard.sweep(crate::common::unix_now() + 3600 + 2 * BUCKET_SECS);
        assert!(before > 0 && shard.ended.is_empty() && shard.buckets.is_empty());
    }

    #[test]
    fn expiry() {
        let s = Sessions::new(b"k", Duration::from_secs(0));
        let id = s.mint(ProtocolVersion::V2025_03_26, "a", ClientCaps::default());
        let old = reissued(&s, &id, crate::common::unix_now() - 10);
        assert_eq!(s.check(&old, "a"), Err(SessionError::Expired));
    }
}
