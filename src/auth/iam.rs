//! `AWS_IAM` (and `AUTHENTICATE_ONLY`): callers sign their requests with SigV4 for service
//! `bedrock-agentcore` in the gateway's region, as AWS SDKs do for AgentCore. The self-hosted
//! stand-in for IAM is `iamCallers`: each access key id, its secret, and the principal ARN it
//! stands for. A listed caller with a valid signature is admitted as `iam:<arn>`.

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
}

impl IamAuthorizer {
    pub fn new(settings: &IamSettings) -> Self {
        Self {
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
        let path = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let uri = format!("http://{host}{path}");
        let signer = sigv4::verify(
            req.method.as_str(),
            &uri,
            req.headers,
            req.body,
            SERVICE,
            |akid| {
                self.callers
                    .get(akid)
                    .map(|(secret, _)| secret.expose().to_string())
            },
            SystemTime::now(),
        )
        .map_err(|e| match e {
            SigV4Error::Missing => AuthError::MissingSignature,
            other => AuthError::BadSignature(other.to_string()),
        })?;
        if signer.region != self.region {
            return Err(AuthError::BadSignature(format!(
                "signed for region `{}`, the gateway is in `{}`",
                signer.region, self.region
            )));
        }
        let (_, arn) = &self.callers[&signer.access_key_id];
        Ok(Principal {
            id: format!("iam:{arn}"),
            identity: Identity::Iam {
                arn: arn.clone(),
                access_key_id: signer.access_key_id,
            },
        })
    }
}
