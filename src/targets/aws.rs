//! What the kinds that call AWS APIs share (Lambda functions, Smithy-modelled services, S3
//! reads of documents): the endpoint an AWS SDK would use, the signed GET of a document at
//! start (API Gateway's export, an S3 object), and a service error read from a reply in AWS's
//! JSON error shapes.
//!
//! Endpoints follow the SDKs' rules: `AWS_ENDPOINT_URL_<SERVICE_ID>` (the service's SDK id in
//! upper case, spaces and hyphens as `_`), then `AWS_ENDPOINT_URL`, then the service's regional
//! endpoint.

use std::time::Duration;

use crate::common::budget::Budget;
use crate::common::error_chain;
use crate::config::Env;
use crate::net::{self, NetError, Reply};
use crate::outbound::Request;

use super::class::{Class, Fault};

/// The endpoint the environment names for the service with SDK id `service_id` (`Lambda`,
/// `S3`, `DynamoDB`, `Scheduler`), as the AWS SDKs read it.
pub fn env_endpoint(env: &dyn Env, service_id: &str) -> Option<String> {
    let id: String = service_id
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    env.var(&format!("AWS_ENDPOINT_URL_{id}"))
        .filter(|e| !e.is_empty())
        .or_else(|| env.var("AWS_ENDPOINT_URL").filter(|e| !e.is_empty()))
}

/// `https://<prefix>.<region>.amazonaws.com` (`.com.cn` in the China regions).
pub fn regional_endpoint(prefix: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{prefix}.{region}.{suffix}")
}

/// Why a start-up fetch ([`fetch`]) got no reply; each caller words it for its field.
#[derive(Debug)]
pub enum FetchError {
    /// The request could not be made (its URL, the egress policy): the error chain.
    Build(String),
    /// It could not be sent or answered: the error chain, without the URL.
    Send(String),
    /// The reply could not be read whole.
    Read(NetError),
    Timeout,
}

/// Sends a signed GET of a document at start (API Gateway's export, an S3 object) over the
/// shared client, reading at most `limit` bytes, all within `timeout`.
pub async fn fetch(
    client: &net::Client,
    req: Request,
    limit: usize,
    timeout: Duration,
) -> Result<Reply, FetchError> {
    let exchange = async {
        let resp = client
            .request(req.method, req.url)
            .map_err(|e| FetchError::Build(error_chain(&e)))?
            .headers(req.headers)
            .send()
            .await
            .map_err(|e| FetchError::Send(error_chain(&e.without_url())))?;
        net::read_reply(resp, limit, &Budget::new(limit))
            .await
            .map_err(FetchError::Read)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(FetchError::Timeout))
}

/// An AWS service's error reply: its status, the error's shape name and its message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} answered HTTP {status} {code}: {message}")]
pub struct ServiceError {
    pub service: String,
    pub status: http::StatusCode,
    /// The error shape's name, without its namespace (`ResourceNotFoundException`).
    pub code: String,
    pub message: String,
}

/// Error codes that mean "slow down", whatever the status.
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottledException",
    "SlowDown",
    "EC2ThrottledException",
];

impl ServiceError {
    /// Reads the error of a non-2xx reply: the code from `X-Amzn-ErrorType`, else the body's
    /// `__type` or `code`; the message from the body's `message` (any case) or `errorMessage`.
    pub fn from_reply(service: &str, reply: &Reply) -> Self {
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| body.get(*n).and_then(|v| v.as_str()))
                .map(str::to_string)
        };
        let code = reply
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| field(&["__type", "code", "Code"]))
            .map(|c| short_code(&c).to_string())
            .unwrap_or_else(|| {
                reply
                    .status
                    .canonical_reason()
                    .unwrap_or("UnknownError")
                    .replace(' ', "")
            });
        let message = field(&["message", "Message", "errorMessage"]).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&reply.body);
            text.chars().take(300).collect()
        });
        Self {
            service: service.to_string(),
            status: reply.status,
            code,
            message,
        }
    }

    /// Throttling and server errors pass; a retry later may succeed.
    pub fn retryable(&self) -> bool {
        self.status == http::StatusCode::TOO_MANY_REQUESTS
            || self.status.is_server_error()
            || THROTTLING.contains(&self.code.as_str())
    }

    /// A throttled or failing service is the target's (retryable); a refusal of the gateway's
    /// credentials is the gateway's; anything else the target's, for good.
    pub fn class(&self) -> Class {
        if self.retryable() {
            Class::new(Fault::Target, true)
        } else if matches!(self.status.as_u16(), 401 | 403) {
            Class::new(Fault::Gateway, false)
        } else {
            Class::new(Fault::Target, false)
        }
    }
}

/// `aws.protocoltests#Foo:http://internal...` or `com.amazonaws.x#Foo` → `Foo`.
fn short_code(code: &str) -> &str {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    #[test]
    fn endpoints_follow_the_sdk_variables() {
        let env = MapEnv::from([
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            env_endpoint(&env, "DynamoDB").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            env_endpoint(&env, "Lambda").as_deref(),
            Some("http://127.0.0.1:2")
        );
        let env = MapEnv::from([("AWS_ENDPOINT_URL_API_GATEWAY", "http://x")]);
        assert_eq!(
            env_endpoint(&env, "API Gateway").as_deref(),
            Some("http://x")
        );
        assert_eq!(
            regional_endpoint("lambda", "eu-west-1"),
            "https://lambda.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn error_codes_lose_their_namespace() {
        assert_eq!(
            short_code("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"),
            "ResourceNotFoundException"
        );
        assert_eq!(
            short_code("ValidationException:http://internal.amazon.com/coral/"),
            "ValidationException"
        );
    }
}
