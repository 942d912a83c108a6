//! SigV4 verification: recomputes a request's signature with AWS's own `aws-sigv4` crate
//! (over the method, path, query, the headers the caller signed and the payload) and compares
//! it in constant time. Used by the `AWS_IAM` authorizer, the example backend and the tests.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;

/// Largest accepted difference between the signature's time and ours.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// Who signed a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("missing SigV4 Authorization header")]
    Missing,
    #[error("malformed SigV4 Authorization header")]
    Malformed,
    #[error("missing or malformed X-Amz-Date")]
    BadDate,
    #[error("request time is more than 5 minutes from the server's clock")]
    Skewed,
    #[error("unknown access key id")]
    UnknownKey,
    #[error("signed for service `{0}`, expected `{1}`")]
    WrongService(String, String),
    #[error("a signed header is missing from the request")]
    MissingSignedHeader,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies `headers`' SigV4 signature for a request to `uri` (`http://host/path?query`).
/// `secret_for` maps an access key id to its secret (and session token, if any).
pub fn verify(
    method: &str,
    uri: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    expected_service: &str,
    secret_for: impl Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Result<Signer, SigV4Error> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(SigV4Error::Missing)?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or(SigV4Error::Malformed)?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(SigV4Error::Malformed)?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return Err(SigV4Error::Malformed),
        }
    }
    let (credential, signed, signature) = match (credential, signed, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => return Err(SigV4Error::Malformed),
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, _date, region, service, "aws4_request"] = scope[..] else {
        return Err(SigV4Error::Malformed);
    };
    if service != expected_service {
        return Err(SigV4Error::WrongService(
            service.into(),
            expected_service.into(),
        ));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or(SigV4Error::BadDate)?;
    let time = parse_amz_date(amz_date).ok_or(SigV4Error::BadDate)?;
    let skew = now
        .duration_since(time)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(SigV4Error::Skewed);
    }
    let secret = secret_for(akid).ok_or(SigV4Error::UnknownKey)?;
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut signed_headers = Vec::new();
    for name in signed.split(';') {
        if name == "host" {
            continue;
        }
        let value = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(SigV4Error::MissingSignedHeader)?;
        if name != "authorization" {
            signed_headers.push((name, value));
        }
    }
    let creds = Credentials::new(akid, secret, token, None, "verify");
    let (_, expected) = crate::outbound::sigv4::compute(
        method,
        uri,
        signed_headers.into_iter(),
        body,
        &creds,
        region,
        service,
        time,
        Default::default(),
    )
    .map_err(|_| SigV4Error::Malformed)?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), signature.as_bytes())
        .is_err()
    {
        return Err(SigV4Error::Mismatch);
    }
    Ok(Signer {
        access_key_id: akid.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

/// `20261121T070000Z` to a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    let dt =
        aws_smithy_types::DateTime::from_str(&iso, aws_smithy_types::date_time::Format::DateTime)
            .ok()?;
    SystemTime::try_from(dt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Request as OutboundRequest;
    use crate::outbound::sigv4 as signer;

    #[test]
    fn temporary_credentials_verify() {
        let mut req = OutboundRequest {
            method: http::Method::GET,
            url: url::Url::parse("http://h/x").unwrap(),
            headers: http::HeaderMap::new(),
            body: None,
        };
        let creds = Credentials::new(
            "ASIATEMP",
            "secret",
            Some("session-token".into()),
            None,
            "test",
        );
        signer::sign(&mut req, &creds, "us-west-2", "execute-api").unwrap();
        assert!(req.headers.get("x-amz-security-token").is_some());
        let ok = verify(
            "GET",
            "http://h/x",
            &req.headers,
            b"",
            "execute-api",
            |_| Some("secret".into()),
            SystemTime::now(),
        );
        assert!(ok.is_ok(), "{ok:?}");
        req.headers.insert(
            "x-amz-security-token",
            http::HeaderValue::from_static("other-token"),
        );
        let bad = verify(
            "GET",
            "http://h/x",
            &req.headers,
            b"",
            "execute-api",
            |_| Some("secret".into()),
            SystemTime::now(),
        );
        assert_eq!(bad, Err(SigV4Error::Mismatch));
    }

    fn signed(body: &str) -> OutboundRequest {
        let mut req = OutboundRequest {
            method: http::Method::POST,
            url: url::Url::parse("http://127.0.0.1:9090/dev/pets?page=1").unwrap(),
            headers: http::HeaderMap::new(),
            body: Some(body.as_bytes().to_vec()),
        };
        req.headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        signer::sign(&mut req, &creds, "us-west-2", "execute-api").unwrap();
        req
    }

    fn check(req: &OutboundRequest, uri: &str, body: &str) -> Result<Signer, SigV4Error> {
        let secrets = |k: &str| (k == "AKIDEXAMPLE").then(|| "secret".to_string());
        verify(
            req.method.as_str(),
            uri,
            &req.headers,
            body.as_bytes(),
            "execute-api",
            secrets,
            SystemTime::now(),
        )
    }

    #[test]
    fn accepts_what_the_signer_signed_and_nothing_else() {
        let req = signed("{}");
        let uri = "http://127.0.0.1:9090/dev/pets?page=1";
        assert_eq!(check(&req, uri, "{}").unwrap().region, "us-west-2");
        assert_eq!(
            check(&req, "http://127.0.0.1:9090/dev/pets?page=2", "{}"),
            Err(SigV4Error::Mismatch)
        );
        assert_eq!(
            check(&req, "http://127.0.0.1:9090/dev/admin?page=1", "{}"),
            Err(SigV4Error::Mismatch)
        );
        assert_eq!(check(&req, uri, "{\"x\":1}"), Err(SigV4Error::Mismatch));
        let mut tampered = signed("{}");
        tampered
            .headers
            .insert("content-type", http::HeaderValue::from_static("text/plain"));
        assert_eq!(check(&tampered, uri, "{}"), Err(SigV4Error::Mismatch));
        let secrets = |_: &str| Some("wrong".to_string());
        assert_eq!(
            verify(
                "POST",
                uri,
                &req.headers,
                b"{}",
                "execute-api",
                secrets,
                SystemTime::now()
            ),
            Err(SigV4Error::Mismatch)
        );
        let later = SystemTime::now() + Duration::from_secs(600);
        assert_eq!(
            verify(
                "POST",
                uri,
                &req.headers,
                b"{}",
                "execute-api",
                |_| Some("secret".into()),
                later
            ),
            Err(SigV4Error::Skewed)
        );
    }
}
