//! Inbound authentication: turns a request's credentials into the [`Principal`] every later
//! step sees. One authorizer per gateway (`authorizerType`):
//! - `NONE` admits everyone as the anonymous principal;
//! - `CUSTOM_JWT` ([`jwt`]) checks a bearer token against the OIDC provider's keys and
//!   AgentCore's rules on its claims ([`claims`]);
//! - `AWS_IAM` / `AUTHENTICATE_ONLY` ([`iam`]) checks a SigV4 signature ([`sigv4`]) against the
//!   configured callers.
//!
//! Failures are typed ([`AuthError`]); the HTTP layer turns them into 401/403/503 with the
//! `WWW-Authenticate` challenge MCP clients expect.

pub mod claims;
pub mod iam;
pub mod jwks;
pub mod jwt;
pub mod sigv4;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::AuthorizerSettings;

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// A stable identifier: `jwt:<issuer>#sub:<subject>` (or `#client:<client_id>` for a
    /// token without a subject; `#` alone for one with neither), `iam:<arn>`, or `anonymous`.
    pub id: String,
    pub identity: Identity,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    Anonymous,
    Jwt(JwtIdentity),
    Iam { arn: String, access_key_id: String },
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtIdentity {
    pub issuer: String,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    /// Every claim of the token.
    pub claims: Map<String, Value>,
}

impl Principal {
    pub fn anonymous() -> Self {
        Self {
            id: "anonymous".into(),
            identity: Identity::Anonymous,
        }
    }

    /// Whether the id names one caller: a token with neither `sub` nor `client_id` is
    /// admitted, but it shares its id with every such token of the issuer, so nothing (a
    /// session) is bound to it.
    pub fn is_identified(&self) -> bool {
        !self.id.ends_with('#')
    }
}

/// The parts of a request an authorizer may look at (SigV4 signs the body too).
pub struct RequestInfo<'a> {
    pub method: &'a http::Method,
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials at all: 401 with a bare challenge.
    #[error("missing credentials: send `Authorization: Bearer <token>`")]
    MissingToken,
    /// A token that is malformed, badly signed, expired or not meant for this gateway: 401
    /// `invalid_token`. `check` names the check that failed.
    #[error("invalid token ({check}): {detail}")]
    InvalidToken { check: &'static str, detail: String },
    /// A valid token without a required scope or claim: 403 `insufficient_scope`.
    #[error("insufficient scope ({check}): {detail}")]
    InsufficientScope { check: &'static str, detail: String },
    /// SigV4: missing signature (401) or a signature that does not verify (403).
    #[error("missing SigV4 signature")]
    MissingSignature,
    #[error("SigV4 signature rejected: {0}")]
    BadSignature(String),
    /// The authorizer cannot decide yet (the provider's keys are not loaded): 503.
    #[error("the JWT authorizer has not loaded the identity provider's keys yet: {0}")]
    Unavailable(String),
}

/// The gateway's authorizer.
#[derive(Clone)]
pub enum Authorizer {
    None,
    Jwt(Arc<jwt::JwtAuthorizer>),
    Iam(Arc<iam::IamAuthorizer>),
}

impl Authorizer {
    /// Builds the authorizer; a JWT authorizer starts loading the provider's keys in the
    /// background (the gateway is not ready until they load).
    /// `public_url` pins the host SigV4 callers must have signed for.
    pub fn new(
        settings: &AuthorizerSettings,
        http: crate::net::Client,
        public_url: Option<&str>,
    ) -> Self {
        match settings {
            AuthorizerSettings::None => Self::None,
            AuthorizerSettings::Jwt(s) => Self::Jwt(jwt::JwtAuthorizer::start(s.clone(), http)),
            AuthorizerSettings::Iam(s) => {
                Self::Iam(Arc::new(iam::IamAuthorizer::new(s, public_url)))
            }
        }
    }

    /// Authenticates one request.
    pub async fn authenticate(&self, req: &RequestInfo<'_>) -> Result<Principal, AuthError> {
        match self {
            Self::None => Ok(Principal::anonymous()),
            Self::Jwt(j) => j.authenticate(req.headers).await,
            Self::Iam(i) => i.authenticate(req),
        }
    }

    /// Whether the credentials cover the body (SigV4), so it must be read before deciding.
    pub fn needs_body(&self) -> bool {
        matches!(self, Self::Iam(_))
    }

    /// Whether requests are admitted without credentials.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::None)
    }

    /// What a JWT authorizer has counted (token cache, key loads), for the metrics.
    pub fn counts(&self) -> Option<crate::metrics::AuthCounts> {
        match self {
            Self::Jwt(j) => Some(j.counts()),
            _ => None,
        }
    }

    /// Whether the authorizer can decide (a JWT authorizer needs the provider's keys).
    pub fn is_ready(&self) -> bool {
        match self {
            Self::Jwt(j) => j.is_ready(),
            _ => true,
        }
    }

    /// The JWT authorizer, for the protected resource metadata and challenges.
    pub fn jwt(&self) -> Option<&jwt::JwtAuthorizer> {
        match self {
            Self::Jwt(j) => Some(j),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identified_principals_get_state() {
        let p = |id: &str| Principal {
            id: id.into(),
            identity: Identity::Anonymous,
        };
        assert!(p("jwt:https://idp#sub:alice").is_identified());
        assert!(p("jwt:https://idp#client:app").is_identified());
        assert!(!p("jwt:https://idp#").is_identified());
        assert!(Principal::anonymous().is_identified());
    }
}
