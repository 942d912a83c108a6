//! `CUSTOM_JWT`: a bearer token from the `Authorization` header (never the query string),
//! verified against the identity provider's keys, then AgentCore's claim rules.
//!
//! Verification: the algorithm must be asymmetric (RS/PS 256-512, ES256/384, EdDSA), match
//! the key's type and curve and the key's own `alg`; `alg: none` and HMAC never pass. `exp` is
//! required, `exp` and `nbf` get a 30-second leeway, `iss` must equal the discovery document's
//! issuer.
//!
//! A verified token is remembered (by its SHA-256, never the token itself) until it expires,
//! so a client reusing it does not pay for a signature check on every request. A remembered
//! token is accepted only while it is within `exp`/`nbf` and the key that signed it is still
//! published unchanged, so caching weakens no check.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use jsonwebtoken::Validation;
use serde_json::{Map, Value};

use super::jwks::KeyStore;
use super::{AuthError, Identity, Principal, claims};
use crate::config::JwtSettings;

const LEEWAY_SECS: u64 = 30;
const MAX_TOKEN_BYTES: usize = 16 * 1024;
const CACHE_CAPACITY: usize = 10_000;

pub struct JwtAuthorizer {
    settings: JwtSettings,
    keys: Arc<KeyStore>,
    cache: RwLock<HashMap<[u8; 32], Verified>>,
    /// Full signature verifications performed (cache misses that reached `jsonwebtoken`).
    verifications: std::sync::atomic::AtomicU64,
    /// Tokens admitted from the cache of verified tokens.
    hits: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
struct Verified {
    principal: Principal,
    kid: String,
    fingerprint: u64,
    exp: u64,
    nbf: Option<u64>,
}

impl JwtAuthorizer {
    /// Creates the authorizer and starts loading the provider's keys.
    pub fn start(settings: JwtSettings, http: crate::net::Client) -> Arc<Self> {
        let keys = Arc::new(KeyStore::new(
            settings.discovery_url.clone(),
            http,
            settings.fetch_timeout,
        ));
        keys.spawn_refresher(settings.refresh_interval);
        Arc::new(Self {
            settings,
            keys,
            cache: RwLock::new(HashMap::new()),
            verifications: Default::default(),
            hits: Default::default(),
        })
    }

    pub fn is_ready(&self) -> bool {
        self.keys.current().is_ok()
    }

    /// The issuer from the discovery document, once loaded.
    pub fn issuer(&self) -> Option<String> {
        self.keys.current().ok().map(|s| s.issuer.clone())
    }

    /// The scopes to advertise in challenges and the protected resource metadata.
    pub fn advertised_scopes(&self) -> &[String] {
        &self.settings.advertised_scopes
    }

    /// How many tokens went through a full signature verification.
    pub fn verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Tokens admitted from the cache, tokens verified in full, and the provider's keys
    /// loaded and failed to load, so far.
    pub fn counts(&self) -> crate::metrics::AuthCounts {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        crate::metrics::AuthCounts {
            cache_hits: get(&self.hits),
            verifications: get(&self.verifications),
            jwks_loads: get(&self.keys.loads[0]),
            jwks_failures: get(&self.keys.loads[1]),
        }
    }

    pub async fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, AuthError> {
        let token = bearer_token(headers)?;
        let digest: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
                .as_ref()
                .try_into()
                .expect("32 bytes");
        let now = crate::common::unix_now();
        if let Some(hit) = self.cached(&digest, now)? {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(hit);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid("header", format!("malformed token: {e}")))?;
        if !super::jwks::accepted(header.alg) {
            return Err(invalid(
                "alg",
                format!("algorithm {:?} is not accepted", header.alg),
            ));
        }
        let set = self.keys.with_key(header.kid.as_deref()).await?;
        let key = set
            .find(header.kid.as_deref())
            .ok_or_else(|| invalid("kid", "unknown key id".into()))?;
        if !key.accepts(header.alg) {
            return Err(invalid(
                "alg",
                format!("algorithm {:?} does not match the signing key", header.alg),
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[&set.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            .map_err(classify)?;
        let exp = data.claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let nbf = data.claims.get("nbf").and_then(Value::as_u64);
        let identity = claims::authorize(&self.settings, &set.issuer, data.claims)?;
        // Namespaced, so a `sub` can never equal another token's `client_id`.
        let who = match (&identity.subject, &identity.client_id) {
            (Some(sub), _) => format!("sub:{sub}"),
            (None, Some(client)) => format!("client:{client}"),
            (None, None) => String::new(),
        };
        let principal = Principal {
            id: format!("jwt:{}#{who}", set.issuer),
            identity: Identity::Jwt(identity),
        };
        if let Some(kid) = header.kid {
            self.remember(
                digest,
                Verified {
                    principal: principal.clone(),
                    kid,
                    fingerprint: key.fingerprint,
                    exp,
                    nbf,
                },
                now,
            );
        }
        Ok(principal)
    }

    /// A remembered verification that still holds: times, and the same key still published.
    fn cached(&self, digest: &[u8; 32], now: u64) -> Result<Option<Principal>, AuthError> {
        let Some(hit) = self.cache.read().get(digest).cloned() else {
            return Ok(None);
        };
        let in_time =
            now <= hit.exp + LEEWAY_SECS && hit.nbf.is_none_or(|nbf| nbf <= now + LEEWAY_SECS);
        let set = self.keys.current()?;
        let same_key = set
            .find(Some(&hit.kid))
            .is_some_and(|k| k.fingerprint == hit.fingerprint);
        if in_time && same_key {
            return Ok(Some(hit.principal));
        }
        self.cache.write().remove(digest);
        Ok(None)
    }

    fn remember(&self, digest: [u8; 32], verified: Verified, now: u64) {
        let mut cache = self.cache.write();
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, v| v.exp + LEEWAY_SECS >= now);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(digest, verified);
    }
}

/// The token of an `Authorization: Bearer <token>` header; anything else is refused.
fn bearer_token(headers: &http::HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::MissingToken);
    };
    if values.next().is_some() {
        return Err(invalid(
            "header",
            "more than one Authorization header".into(),
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| invalid("header", "the Authorization header is not ASCII".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| invalid("header", "expected `Authorization: Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid("header", "expected the Bearer scheme".into()));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(invalid(
            "header",
            "the bearer token is empty or too long".into(),
        ));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
        || token.split('.').count() != 3
    {
        return Err(invalid("header", "the bearer token is not a JWT".into()));
    }
    Ok(token)
}

fn invalid(check: &'static str, detail: String) -> AuthError {
    AuthError::InvalidToken { check, detail }
}

fn classify(e: jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => invalid("exp", "the token has expired".into()),
        K::ImmatureSignature => invalid("nbf", "the token is not valid yet (nbf)".into()),
        K::InvalidIssuer => invalid(
            "iss",
            "the token's issuer is not the identity provider's".into(),
        ),
        K::InvalidSignature => invalid("signature", "the signature does not verify".into()),
        K::InvalidAlgorithm => invalid("alg", "the algorithm does not match the key".into()),
        K::MissingRequiredClaim(c) => invalid("claims", format!("the token has no `{c}` claim")),
        _ => invalid("token", format!("the token cannot be decoded: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_header_shapes() {
        assert_eq!(bearer_token(&headers(&[])), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(&headers(&["Bearer a.b.c"])), Ok("a.b.c"));
        assert_eq!(bearer_token(&headers(&["bearer a.b.c"])), Ok("a.b.c"));
        for bad in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer ",
            "Bearer a.b",
            "Bearer a.b.c.d",
            "Bearer a b.c",
            "Bearer a.b.c!",
        ] {
            assert!(
                matches!(
                    bearer_token(&headers(&[bad])),
                    Err(AuthError::InvalidToken { .. })
                ),
                "{bad}"
            );
        }
        assert!(bearer_token(&headers(&["Bearer a.b.c", "Bearer d.e.f"])).is_err());
    }
}
