//! The identity provider's signing keys: OIDC discovery (`issuer`, `jwks_uri`), then the JWKS.
//!
//! - Loaded in the background at start, retried with backoff until it works (the gateway is
//!   not ready meanwhile), then refreshed every `jwksRefreshSeconds` so a rotation at the
//!   provider is picked up, including the removal of an old key.
//! - A token with an unknown `kid` triggers one refresh: concurrent callers share it
//!   (single-flight), and such refreshes happen at most once per [`UNKNOWN_KID_INTERVAL`], so a
//!   flood of made-up `kid`s cannot hammer the provider.
//! - Only asymmetric keys are kept (a JWKS `oct` key is ignored, so HMAC can never be used);
//!   documents are size-bounded and fetched with a timeout.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use std::time::Duration;

use tokio::time::Instant;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::AuthError;
use crate::common::budget::Budget;

/// Unknown-`kid` refreshes happen at most this often.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(10);
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const MAX_KEYS: usize = 100;

/// One usable key.
pub struct Key {
    pub decoding: DecodingKey,
    jwk: Jwk,
    /// Changes when the key material behind a `kid` changes.
    pub fingerprint: u64,
}

/// The issuer and keys from one successful load.
pub struct KeySet {
    pub issuer: String,
    keys: HashMap<String, Key>,
    /// Keys without a `kid` (used only when the set has exactly one key).
    anonymous: Vec<Key>,
}

impl KeySet {
    /// The key for a token's `kid` (a token without one matches a set of a single key).
    pub fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.keys.get(kid),
            None if self.keys.len() + self.anonymous.len() == 1 => {
                self.keys.values().next().or(self.anonymous.first())
            }
            None => None,
        }
    }
}

/// Algorithms a token may use: asymmetric ones only (never `none`, never HMAC).
pub fn accepted(alg: Algorithm) -> bool {
    !matches!(alg.family(), jsonwebtoken::AlgorithmFamily::Hmac)
}

impl Key {
    /// Whether `alg` may be used with this key: asymmetric, of the key's type and curve, and
    /// equal to the key's own `alg` when it declares one.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        let family_ok = match (&self.jwk.algorithm, alg) {
            (AlgorithmParameters::RSA(_), a) => matches!(
                a,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
                p.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => {
                p.curve == EllipticCurve::P384
            }
            (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
                p.curve == EllipticCurve::Ed25519
            }
            _ => false,
        };
        let declared_ok = self
            .jwk
            .common
            .key_algorithm
            .is_none_or(|declared| declared.to_string() == format!("{alg:?}"));
        family_ok && declared_ok
    }
}

struct Loaded {
    set: Option<Arc<KeySet>>,
    last_error: String,
}

pub struct KeyStore {
    discovery_url: String,
    http: crate::net::Client,
    fetch_timeout: Duration,
    loaded: RwLock<Loaded>,
    /// Serialises loads; holds when the last unknown-`kid` refresh started.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    /// Loads that worked, and loads that failed (for the metrics).
    pub loads: [std::sync::atomic::AtomicU64; 2],
}

impl KeyStore {
    pub fn new(discovery_url: String, http: crate::net::Client, fetch_timeout: Duration) -> Self {
        Self {
            discovery_url,
            http,
            fetch_timeout,
            loaded: RwLock::new(Loaded {
                set: None,
                last_error: "not loaded yet".into(),
            }),
            refresh: tokio::sync::Mutex::new(None),
            loads: Default::default(),
        }
    }

    /// Loads in the background: retries with backoff until the first load works, then
    /// refreshes every `interval`. Ends when the store is dropped.
    pub fn spawn_refresher(self: &Arc<Self>, interval: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                let Some(store) = weak.upgrade() else { return };
                let wait = {
                    let _guard = store.refresh.lock().await;
                    match store.load().await {
                        Ok(()) => interval,
                        Err(_) if store.current().is_ok() => interval,
                        Err(_) => {
                            backoff = (backoff * 2).min(Duration::from_secs(30));
                            backoff
                        }
                    }
                };
                drop(store);
                tokio::time::sleep(wait).await;
            }
        });
    }

    /// The current key set, or why there is none.
    pub fn current(&self) -> Result<Arc<KeySet>, AuthError> {
        let loaded = self.loaded.read();
        loaded
            .set
            .clone()
            .ok_or_else(|| AuthError::Unavailable(loaded.last_error.clone()))
    }

    /// The key set holding `kid`, refreshing once (rate-limited, shared) when it is unknown.
    pub async fn with_key(&self, kid: Option<&str>) -> Result<Arc<KeySet>, AuthError> {
        let set = self.current()?;
        if set.find(kid).is_some() {
            return Ok(set);
        }
        let unknown = || AuthError::InvalidToken {
            check: "kid",
            detail: "the token's key id is not among the identity provider's keys".into(),
        };
        let Some(kid) = kid else {
            return Err(AuthError::InvalidToken {
                check: "kid",
                detail: "the token has no `kid` and the provider has several keys".into(),
            });
        };
        let mut last = self.refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        let latest = self.current()?;
        if !Arc::ptr_eq(&latest, &set) {
            return latest
                .find(Some(kid))
                .is_some()
                .then_some(latest)
                .ok_or_else(unknown);
        }
        if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_INTERVAL) {
            return Err(unknown());
        }
        *last = Some(Instant::now());
        if let Err(e) = self.load().await {
            tracing::warn!(error = %e, "refreshing the identity provider's keys failed");
        }
        let latest = self.current()?;
        latest
            .find(Some(kid))
            .is_some()
            .then_some(latest)
            .ok_or_else(unknown)
    }

    /// Fetches discovery and JWKS and swaps the key set in; keeps the old set on failure.
    async fn load(&self) -> Result<(), String> {
        let result = tokio::time::timeout(self.fetch_timeout, self.fetch())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.fetch_timeout)));
        self.loads[usize::from(result.is_err())].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut loaded = self.loaded.write();
        match result {
            Ok(set) => {
                tracing::info!(issuer = %set.issuer, keys = set.keys.len() + set.anonymous.len(), "loaded the identity provider's keys");
                loaded.set = Some(Arc::new(set));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, url = %self.discovery_url, "cannot load the identity provider's keys");
                loaded.last_error = e.clone();
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let discovery = self.get_json(&self.discovery_url).await?;
        let issuer = discovery
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or("the discovery document has no `issuer`")?
            .to_string();
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("the discovery document has no `jwks_uri`")?;
        let jwks = self.get_json(jwks_uri).await?;
        let items = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no `keys` list")?;
        let mut keys = HashMap::new();
        let mut anonymous = Vec::new();
        for item in items.iter().take(MAX_KEYS) {
            let Ok(jwk) = serde_json::from_value::<Jwk>(item.clone()) else {
                continue; // a key type this gateway does not use
            };
            if matches!(
                jwk.algorithm,
                AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
            ) {
                continue; // symmetric keys never verify tokens here
            }
            let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let fingerprint = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                item.to_string().hash(&mut h);
                h.finish()
            };
            let key = Key {
                decoding,
                jwk: jwk.clone(),
                fingerprint,
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.insert(kid.clone(), key);
                }
                None => anonymous.push(key),
            }
        }
        if keys.is_empty() && anonymous.is_empty() {
            return Err("the JWKS holds no usable signing key".into());
        }
        Ok(KeySet {
            issuer,
            keys,
            anonymous,
        })
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad URL `{url}`: {e}"))?;
        let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(format!("`{url}` must use https"));
        }
        let resp = self
            .http
            .request(http::Method::GET, parsed)
            .map_err(|e| format!("GET {url}: {}", crate::common::error_chain(&e)))?
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", crate::common::error_chain(&e)))?;
        let reply =
            crate::net::read_reply(resp, MAX_DOCUMENT_BYTES, &Budget::new(MAX_DOCUMENT_BYTES))
                .await
                .map_err(|e| format!("GET {url}: {}", crate::common::error_chain(&e)))?;
        if !reply.status.is_success() {
            return Err(format!("GET {url}: HTTP {}", reply.status.as_u16()));
        }
        serde_json::from_slice(&reply.body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}
