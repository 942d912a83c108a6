//! AWS credentials for SigV4 (`GATEWAY_IAM_ROLE` targets and API Gateway GetExport), from the
//! standard sources in the standard order: the environment (`AWS_ACCESS_KEY_ID`, ...), then,
//! with the `aws-config` feature, the shared config/credentials profile, web identity token
//! file, container and instance metadata.
//!
//! Credentials are cached behind an [`ArcSwapOption`]: a call with fresh credentials reads
//! them without a lock. Five minutes before they expire one background refresh starts, while
//! calls keep signing with the cached ones; only when there are none (first use, or after
//! expiry) do calls wait, and then for the one refresh in flight, never queued behind each
//! other. The wait is bounded by the caller: the call's deadline covers it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
#[cfg(feature = "aws-config")]
use std::sync::atomic::Ordering;
#[cfg(feature = "aws-config")]
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use tokio::sync::Notify;

use super::OutboundError;
use crate::config::Env;

#[cfg(feature = "aws-config")]
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

#[cfg_attr(not(feature = "aws-config"), allow(dead_code))]
pub struct AwsCredentials {
    source: Source,
    cache: ArcSwapOption<Credentials>,
    /// A refresh task is running.
    refreshing: AtomicBool,
    /// Woken when a refresh ends, whatever its outcome.
    refreshed: Notify,
    /// Why the last refresh failed (cleared by a success).
    last_error: parking_lot::Mutex<Option<String>>,
}

enum Source {
    Static(Arc<Credentials>),
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
    fn with_source(source: Source) -> Self {
        Self {
            source,
            cache: ArcSwapOption::empty(),
            refreshing: AtomicBool::new(false),
            refreshed: Notify::new(),
            last_error: parking_lot::Mutex::new(None),
        }
    }

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
                return Self::with_source(Source::Chain(provider));
            }
        }
        let _ = region;
        Self::with_source(Source::Unavailable)
    }

    /// Always these credentials (tests, embedding).
    pub fn fixed(creds: Credentials) -> Self {
        Self::with_source(Source::Static(Arc::new(creds)))
    }

    /// Current credentials. Cancel-safe: a caller that gives up (its deadline passed) leaves
    /// the refresh running for the next one.
    pub async fn get(self: &Arc<Self>) -> Result<Arc<Credentials>, OutboundError> {
        match &self.source {
            Source::Static(c) => Ok(Arc::clone(c)),
            Source::Unavailable => Err(unavailable()),
            #[cfg(feature = "aws-config")]
            Source::Chain(provider) => self.cached(provider).await,
        }
    }

    #[cfg(feature = "aws-config")]
    async fn cached(
        self: &Arc<Self>,
        provider: &aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Result<Arc<Credentials>, OutboundError> {
        let mut waited = false;
        loop {
            let now = SystemTime::now();
            if let Some(c) = self.cache.load_full() {
                match c.expiry() {
                    Some(e) if e <= now => {}
                    Some(e) if e <= now + REFRESH_BEFORE_EXPIRY => {
                        self.refresh(provider);
                        return Ok(c);
                    }
                    _ => return Ok(c),
                }
            }
            if waited {
                let why = self.last_error.lock().clone();
                return Err(OutboundError::NoAwsCredentials(
                    why.unwrap_or_else(|| "the credential refresh returned none".into()),
                ));
            }
            // Registered before the refresh can end, so its wake-up is not missed.
            let refreshed = self.refreshed.notified();
            tokio::pin!(refreshed);
            refreshed.as_mut().enable();
            let usable = |c: &Credentials| c.expiry().is_none_or(|e| e > now);
            if self.cache.load().as_deref().is_some_and(usable) {
                continue;
            }
            self.refresh(provider);
            refreshed.await;
            waited = true;
        }
    }

    /// Starts a refresh unless one is running.
    #[cfg(feature = "aws-config")]
    fn refresh(
        self: &Arc<Self>,
        provider: &aws_credential_types::provider::SharedCredentialsProvider,
    ) {
        use aws_credential_types::provider::ProvideCredentials;
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        let provider = provider.clone();
        tokio::spawn(async move {
            match provider.provide_credentials().await {
                Ok(fresh) => {
                    this.cache.store(Some(Arc::new(fresh)));
                    *this.last_error.lock() = None;
                }
                Err(e) => {
                    *this.last_error.lock() = Some(crate::common::error_chain(&e));
                }
            }
            this.refreshing.store(false, Ordering::Release);
            this.refreshed.notify_waiters();
        });
    }
}

fn unavailable() -> OutboundError {
    OutboundError::NoAwsCredentials(
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile, web identity or instance role".into(),
    )
}

fn from_env(env: &dyn Env) -> Option<Credentials> {
    let id = env.var("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
    let secret = env.var("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?;
    let token = env.var("AWS_SESSION_TOKEN").filter(|v| !v.is_empty());
    Some(Credentials::new(id, secret, token, None, "environment"))
}
