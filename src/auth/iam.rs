//! `AWS_IAM` (and `AUTHENTICATE_ONLY`): callers sign their requests with SigV4 for service
//! `bedrock-agentcore` in the gateway's region, as AWS SDKs do for AgentCore. The self-hosted
//! stand-in for IAM is `iamCallers`: each access key id, its secret, and the principal ARN it
//! stands for. A listed caller with a valid signature is admitted as `iam:<arn>`.
//!
//! With `server.publicUrl` set, the signed `Host` must be the public URL's: a request signed
//! for another endpoint with the same key, service and region is not replayable here. An
//! unknown access key and a wrong signature are one refusal, with the same work done (a
//! decoy secret), so key ids cannot be enumerated.

use std::collections::HashMap;
use std::time::SystemTime;

use super::sigv4::{self, SigV4Error};
use super::{AuthError, Identity, Principal, RequestInfo};
use crate::config::{IamSettings, Secret};

/// The SigV4 service name callers sign for.
pub const SERVICE: &str = "bedrock-agentcore";

pub struct IamAuthorizer {
    region: String,
    callers: HashMap<String, (Secret, String)>,
    /// `host[:port]` of `server.publicUrl`.
    pinned_host: Option<String>,
    /// Signs for unknown key ids, so they cost what known ones do.
    decoy: String,
}

/// The refusal for an unknown key and for a signature that does not match.
const NO_MATCH: &str = "signature does not match";

impl IamAuthorizer {
    pub fn new(settings: &IamSettings, public_url: Option<&str>) -> Self {
        let pinned_host = public_url
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| {
                let host = u.host_str()?.to_ascii_lowercase();
                Some(match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                })
            });
        let decoy = crate::common::random::key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            pinned_host,
            decoy,
            region: settings.region.clone(),
            callers: settings
                .callers
                .iter()
                .map(|c| {
                    (
                        c.access_key_id.clone(),
                        (c.secret.clone(), c.principal_arn.clone()),
                    )
                })
                .collect(),
        }
    }

    pub fn authenticate(&self, req: &RequestInfo<'_>) -> Result<Principal, AuthError> {
        if !req.headers.contains_key(http::header::AUTHORIZATION) {
            return Err(AuthError::MissingSignature);
        }
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| AuthError::BadSignature("the request has no Host header".into()))?;
        if let Some(pinned) = &self.pinned_host
            && !host.eq_ignore_ascii_case(pinned)
        {
            return Err(AuthError::BadSignature(
                "the request is addressed to another host than server.publicUrl".into(),
            ));
        }
        let path = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let uri = format!("http://{host}{path}");
        let signer = sigv4::verify(
            req.method.as_str(),
            &uri,
            req.headers,
            req.body,
            SERVICE,
            |akid| {
                Some(
                    self.callers
                        .get(akid)
                        .map_or(self.decoy.clone(), |(secret, _)| {
                            secret.expose().to_string()
                        }),
                )
            },
            SystemTime::now(),
        )
        .map_err(|e| match e {
            SigV4Error::Missing => AuthError::MissingSignature,
            SigV4Error::UnknownKey | SigV4Error::Mismatch => {
                AuthError::BadSignature(NO_MATCH.into())
            }
            other => AuthError::BadSignature(other.to_string()),
        })?;
        let Some((_, arn)) = self.callers.get(&signer.access_key_id) else {
            return Err(AuthError::BadSignature(NO_MATCH.into()));
        };
        if signer.region != self.region {
            return Err(AuthError::BadSignature(format!(
                "signed for region `{}`, the gateway is in `{}`",
                signer.region, self.region
            )));
        }
        Ok(Principal {
            id: format!("iam:{arn}"),
            identity: Identity::Iam {
                arn: arn.clone(),
                access_key_id: signer.access_key_id,
            },
        })
    }
}
