//! AWS credentials for SigV4 (`GATEWAY_IAM_ROLE` targets and API Gateway GetExport), from the
//! standard sources in the standard order: the environment (`AWS_ACCESS_KEY_ID`, ...), then,
//! with the `aws-config` feature, the shared config/credentials profile, web identity token
//! file, container and instance metadata.
//!
//! Credentials are cached and refreshed five minutes before they expire; concurrent callers
//! share one refresh.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use tokio::sync::Mutex;

use super::OutboundError;
use crate::config::Env;

const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

pub struct AwsCredentials {
    source: Source,
    cache: Mutex<Option<Credentials>>,
}

enum Source {
    Static(Credentials),
    #[cfg(feature = "aws-config")]
    Chain(aws_credential_types::provider::SharedCredentialsProvider),
    Unavailable,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.source {
            Source::Static(_) => "environment",
            #[cfg(feature = "aws-config")]
            Source::Chain(_) => "default chain",
            Source::Unavailable => "unavailable",
        };
        write!(f, "AwsCredentials({kind})")
    }
}

impl AwsCredentials {
    /// Looks for credentials: `env` first, then the default chain.
    pub async fn discover(env: &dyn Env, region: Option<&str>) -> Self {
        if let Some(creds) = from_env(env) {
            return Self::fixed(creds);
        }
        #[cfg(feature = "aws-config")]
        {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(r) = region {
                loader = loader.region(aws_config::Region::new(r.to_string()));
            }
            if let Some(provider) = loader.load().await.credentials_provider() {
                return Self {
                    source: Source::Chain(provider),
                    cache: Mutex::new(None),
                };
            }
        }
        let _ = region;
        Self {
            source: Source::Unavailable,
            cache: Mutex::new(None),
        }
    }

    /// Always these credentials (tests, embedding).
    pub fn fixed(creds: Credentials) -> Self {
        Self {
            source: Source::Static(creds),
            cache: Mutex::new(None),
        }
    }

    /// Current credentials, refreshed when close to expiry.
    pub async fn get(&self) -> Result<Credentials, OutboundError> {
        match &self.source {
            Source::Static(c) => Ok(c.clone()),
            Source::Unavailable => Err(OutboundError::NoAwsCredentials(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile, web identity or instance role".into(),
            )),
            #[cfg(feature = "aws-config")]
            Source::Chain(provider) => {
                use aws_credential_types::provider::ProvideCredentials;
                let mut cache = self.cache.lock().await;
                if let Some(c) = cache.as_ref()
                    && c.expiry().is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
                {
                    return Ok(c.clone());
                }
                let fresh = provider
                    .provide_credentials()
                    .await
                    .map_err(|e| OutboundError::NoAwsCredentials(e.to_string()))?;
                *cache = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }
}

fn from_env(env: &dyn Env) -> Option<Credentials> {
    let id = env.var("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
    let secret = env.var("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?;
    let token = env.var("AWS_SESSION_TOKEN").filter(|v| !v.is_empty());
    Some(Credentials::new(id, secret, token, None, "environment"))
}

// Keep the imports used when the feature is off.
#[cfg(not(feature = "aws-config"))]
const _: (Duration, fn() -> SystemTime) = (REFRESH_BEFORE_EXPIRY, SystemTime::now);
