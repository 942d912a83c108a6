//! An OIDC-style identity provider for tests: discovery and JWKS over real HTTP on
//! 127.0.0.1:0, signing keys generated in the test (RSA, P-256, P-384, Ed25519), and a count
//! of JWKS fetches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, KeyPair};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A signing key and its public JWK.
#[derive(Clone)]
pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
    pub jwk: Value,
    /// PEM of the public key (what an HS256 confusion attack would use as the secret).
    pub public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

impl Signer {
    pub fn rsa(kid: &str, alg: Algorithm) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let key = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes()).unwrap();
        let mut jwk =
            serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap())
                .unwrap();
        jwk["kid"] = json!(kid);
        let public =
            AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key()).unwrap();
        Self {
            kid: kid.into(),
            alg,
            key,
            jwk,
            public_pem: pem("PUBLIC KEY", public.as_ref()),
        }
    }

    pub fn ec(kid: &str, alg: Algorithm) -> Self {
        let curve = match alg {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            _ => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(curve, &rng).unwrap();
        let key = EncodingKey::from_ec_der(pkcs8.as_ref());
        let mut jwk =
            serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap())
                .unwrap();
        jwk["kid"] = json!(kid);
        Self {
            kid: kid.into(),
            alg,
            key,
            jwk,
            public_pem: String::new(),
        }
    }

    pub fn ed(kid: &str) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}),
            public_pem: String::new(),
        }
    }

    /// A token with these claims, `typ: at+jwt`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// A token whose header says `alg` and `kid` but is signed by this key.
    pub fn sign_as(&self, alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A hand-assembled token (for headers no library will produce, such as `alg: none`).
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[derive(Clone)]
pub struct Idp {
    pub base: String,
    pub issuer: String,
    keys: Arc<RwLock<Vec<Value>>>,
    jwks_fetches: Arc<AtomicU64>,
}

impl Idp {
    pub async fn start() -> Self {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener) -> Self {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let idp = Self {
            issuer: format!("{base}/realms/test"),
            base,
            keys: Arc::default(),
            jwks_fetches: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/realms/test/.well-known/openid-configuration",
                get(|State(idp): State<Idp>| async move {
                    axum::Json(json!({"issuer": idp.issuer, "jwks_uri": format!("{}/realms/test/jwks", idp.base),
                        "token_endpoint": format!("{}/realms/test/token", idp.base)}))
                }),
            )
            .route(
                "/realms/test/jwks",
                get(|State(idp): State<Idp>| async move {
                    idp.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({"keys": *idp.keys.read()}))
                }),
            )
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Replaces the published keys.
    pub fn publish(&self, signers: &[&Signer]) {
        *self.keys.write() = signers.iter().map(|s| s.jwk.clone()).collect();
    }

    pub fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Standard claims for a token this provider issued, plus `extra`.
    pub fn claims(&self, extra: Value) -> Value {
        let mut c = json!({
            "iss": self.issuer, "sub": "alice", "client_id": "app-1", "aud": "gw-api",
            "scope": "openid gateway/invoke", "groups": ["dev", "ops"], "tenant": "acme",
            "iat": now(), "exp": now() + 300,
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }
}
