//! Documents in S3 (`s3: {uri, bucketOwnerAccountId}` of `openApiSchema`, `smithyModel`, a
//! Lambda target's `toolSchema` and `mcpToolSchema`): one SigV4-signed `GetObject`, with
//! `x-amz-expected-bucket-owner` when an owner is named, under AgentCore's 10 MB limit.
//!
//! With `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` set (an emulator, a compatible store) the
//! request is path-style (`<endpoint>/<bucket>/<key>`); otherwise it goes to the bucket's
//! virtual host in the region (path-style at the regional host for dotted bucket names,
//! whose virtual host no certificate covers).

use std::sync::Arc;
use std::time::Duration;

use crate::common::encode::path_segment;
use crate::config::S3Location;
use crate::net;
use crate::outbound::{AwsCredentials, Request, sigv4};

use super::aws::{FetchError, ServiceError, fetch, regional_endpoint};

/// AgentCore's limit for a schema read from S3.
pub const MAX_S3_SCHEMA_BYTES: usize = 10 * 1024 * 1024;

/// What a read needs.
pub(super) struct S3<'a> {
    pub client: &'a crate::net::Client,
    pub aws: &'a Arc<AwsCredentials>,
    pub region: &'a str,
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, when set.
    pub endpoint: Option<&'a str>,
    pub limit: usize,
    pub timeout: Duration,
}

impl S3<'_> {
    /// The object's URL: path-style at a custom endpoint, virtual-hosted at AWS.
    fn url(&self, loc: &S3Location) -> Result<url::Url, String> {
        let (base, path_style) = match self.endpoint {
            Some(e) => (e.trim_end_matches('/').to_string(), true),
            None if loc.bucket.contains('.') => (regional_endpoint("s3", self.region), true),
            None => (
                regional_endpoint("s3", self.region).replacen(
                    "https://",
                    &format!("https://{}.", loc.bucket),
                    1,
                ),
                false,
            ),
        };
        let mut url =
            url::Url::parse(&base).map_err(|e| format!("bad S3 endpoint `{base}`: {e}"))?;
        // Every segment encoded once, RFC 3986 style: S3 signs the path as sent.
        let mut path = url.path().trim_end_matches('/').to_string();
        if path_style {
            path.push('/');
            path.extend(path_segment(&loc.bucket));
        }
        for segment in loc.key.split('/') {
            path.push('/');
            path.extend(path_segment(segment));
        }
        url.set_path(&path);
        Ok(url)
    }

    /// `GetObject`; the object as text, or what went wrong in words.
    pub(super) async fn get(&self, loc: &S3Location) -> Result<String, String> {
        let what = format!("s3://{}/{}", loc.bucket, loc.key);
        let mut req = Request {
            method: http::Method::GET,
            url: self.url(loc)?,
            headers: http::HeaderMap::new(),
            body: None,
        };
        if let Some(owner) = &loc.owner {
            let value = http::HeaderValue::from_str(owner)
                .map_err(|_| "the bucket owner is not a header value".to_string())?;
            req.headers.insert("x-amz-expected-bucket-owner", value);
        }
        let creds = self
            .aws
            .get()
            .await
            .map_err(|e| format!("reading {what}: {e}"))?;
        sigv4::sign_s3(&mut req, &creds, self.region)
            .map_err(|e| format!("reading {what}: {e}"))?;
        let reply = fetch(self.client, req, self.limit, self.timeout)
            .await
            .map_err(|e| match e {
                FetchError::Build(e) | FetchError::Send(e) => format!("reading {what}: {e}"),
                FetchError::Read(net::NetError::TooLarge(n)) => format!(
                    "{what} is larger than {n} bytes (AgentCore's limit for S3 schemas is 10 MB)"
                ),
                FetchError::Read(e) => {
                    format!("reading {what}: {}", crate::common::error_chain(&e))
                }
                FetchError::Timeout => {
                    format!("S3 did not answer within {:?} for {what}", self.timeout)
                }
            })?;
        if !reply.status.is_success() {
            // S3's errors are XML; their first few hundred bytes name the code and message.
            let e = ServiceError::from_reply("S3", &reply);
            return Err(format!("GetObject {what} failed: {e}"));
        }
        String::from_utf8(reply.body.to_vec()).map_err(|_| format!("{what} is not UTF-8 text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(endpoint: Option<&str>, bucket: &str, key: &str) -> String {
        let client = crate::net::Client::new(Duration::from_secs(1), Default::default()).unwrap();
        let aws = Arc::new(AwsCredentials::fixed(
            aws_credential_types::Credentials::new("AKID", "secret", None, None, "test"),
        ));
        let s3 = S3 {
            client: &client,
            aws: &aws,
            region: "eu-west-1",
            endpoint,
            limit: 1,
            timeout: Duration::from_secs(1),
        };
        let loc = S3Location {
            bucket: bucket.into(),
            key: key.into(),
            owner: None,
        };
        s3.url(&loc).unwrap().to_string()
    }

    #[test]
    fn custom_endpoints_are_path_style_and_keys_are_encoded_once() {
        assert_eq!(
            url(
                Some("http://127.0.0.1:5000/"),
                "schemas",
                "v1/open api+x.json"
            ),
            "http://127.0.0.1:5000/schemas/v1/open%20api%2Bx.json"
        );
        assert_eq!(
            url(None, "schemas", "a/b.json"),
            "https://schemas.s3.eu-west-1.amazonaws.com/a/b.json"
        );
        assert_eq!(
            url(None, "my.schemas", "a.json"),
            "https://s3.eu-west-1.amazonaws.com/my.schemas/a.json"
        );
    }
}
