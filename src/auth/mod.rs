//! Inbound authentication: turns a request's credentials into the [`Principal`] every later
//! step sees. One authorizer per gateway (`authorizerType`); `NONE` admits everyone as the
//! anonymous principal. JWT (`CUSTOM_JWT`) and SigV4 (`AWS_IAM`) authorizers plug in here and
//! produce the same type.

pub mod sigv4;

use crate::config::AuthorizerSettings;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A stable identifier: the JWT `sub`, the IAM ARN, or `anonymous`.
    pub id: String,
}

impl Principal {
    pub fn anonymous() -> Self {
        Self {
            id: "anonymous".into(),
        }
    }
}

/// Why a request was not admitted (the HTTP layer turns this into 401/403).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing credentials")]
    Missing,
}

/// The gateway's authorizer.
#[derive(Debug, Clone)]
pub enum Authorizer {
    None,
}

impl Authorizer {
    pub fn new(settings: &AuthorizerSettings) -> Self {
        match settings {
            AuthorizerSettings::None => Self::None,
        }
    }

    /// Authenticates one request from its headers.
    pub async fn authenticate(&self, _headers: &http::HeaderMap) -> Result<Principal, AuthError> {
        match self {
            Self::None => Ok(Principal::anonymous()),
        }
    }

    /// Whether requests are admitted without credentials.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::None)
    }
}
