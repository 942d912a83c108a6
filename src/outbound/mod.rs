//! Outbound credentials: what a target's `credentialProviderConfigurations` adds to each
//! request the gateway sends it. API keys go in a header or the query string; SigV4 signs the
//! finished request (after every other header is set, so they are covered by the signature).

mod api_key;
pub mod aws;
mod request;
pub mod sigv4;

use std::sync::Arc;

pub use api_key::ApiKey;
pub use aws::AwsCredentials;
pub use request::Request;

/// Why credentials could not be applied (a gateway-side failure, never the caller's).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("no AWS credentials available: {0}")]
    NoAwsCredentials(String),
    #[error("SigV4 signing failed: {0}")]
    Signing(String),
}

/// The credentials of one target.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    ApiKey(ApiKey),
    SigV4 {
        service: String,
        region: String,
        aws: Arc<AwsCredentials>,
    },
}

impl Credentials {
    /// Takes this target's secrets out of a backend reply (see [`ApiKey::redact`]).
    pub fn redact(&self, body: &mut bytes::Bytes) {
        if let Self::ApiKey(key) = self {
            key.redact(body);
        }
    }

    /// Adds this target's credentials to `req`.
    pub async fn apply(&self, req: &mut Request) -> Result<(), OutboundError> {
        match self {
            Self::None => Ok(()),
            Self::ApiKey(key) => {
                key.apply(req);
                Ok(())
            }
            Self::SigV4 {
                service,
                region,
                aws,
            } => {
                let creds = aws.get().await?;
                sigv4::sign(req, &creds, region, service)
            }
        }
    }
}
