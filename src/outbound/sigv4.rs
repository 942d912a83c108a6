//! SigV4 signing of an outbound request with AWS's own `aws-sigv4` crate. Every header already
//! on the request (content type, declared header parameters) is signed, and so is the body.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningInstructions,
    SigningSettings, UriPathNormalizationMode, sign as sigv4_sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::OutboundError;
use super::Request;

/// Signs `req` in place for `service` in `region`.
pub fn sign(
    req: &mut Request,
    creds: &Credentials,
    region: &str,
    service: &str,
) -> Result<(), OutboundError> {
    sign_at(req, creds, region, service, SystemTime::now())
}

/// Signs `req` for S3, whose rules differ: the path is taken as sent (encoded once, not
/// normalised) and the payload hash travels in `x-amz-content-sha256`.
pub fn sign_s3(req: &mut Request, creds: &Credentials, region: &str) -> Result<(), OutboundError> {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    apply(req, creds, region, "s3", SystemTime::now(), settings)
}

/// Signs `req` as if at `time` (tests and tools that need a fixed clock).
pub fn sign_at(
    req: &mut Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), OutboundError> {
    apply(
        req,
        creds,
        region,
        service,
        time,
        SigningSettings::default(),
    )
}

fn apply(
    req: &mut Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<(), OutboundError> {
    let headers = req
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let body = req.body.as_deref().unwrap_or(&[]);
    let (instructions, _signature) = compute(
        req.method.as_str(),
        req.url.as_str(),
        headers,
        body,
        creds,
        region,
        service,
        time,
        settings,
    )
    .map_err(OutboundError::Signing)?;
    for (name, value) in instructions.headers() {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| OutboundError::Signing(e.to_string()))?;
        let mut value = http::HeaderValue::from_str(value)
            .map_err(|e| OutboundError::Signing(e.to_string()))?;
        value.set_sensitive(true);
        req.headers.insert(name, value);
    }
    Ok(())
}

/// SigV4 of one request: the signing instructions (headers to add) and the signature. The one
/// place signing is set up; the verifier (`crate::auth::sigv4`) recomputes with it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compute<'a>(
    method: &'a str,
    uri: &'a str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: &'a [u8],
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<(SigningInstructions, String), String> {
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(method, uri, headers, SignableBody::Bytes(body))
        .map_err(|e| e.to_string())?;
    Ok(sigv4_sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts())
}
