//! API key credentials (`API_KEY` provider type): `{prefix}{key}` in a header, or the key as
//! a query parameter. The header value is marked sensitive so it never appears in debug output.

use super::Request;
use crate::common::encode;
use crate::config::{Secret, model::CredentialLocation};

#[derive(Clone)]
pub struct ApiKey {
    location: Location,
    /// The forms in which the key may come back in a backend's echo of the request: as sent
    /// in a header, and percent-encoded as sent in a query string.
    echoes: Vec<Secret>,
}

#[derive(Clone)]
enum Location {
    Header(http::HeaderName, http::HeaderValue),
    Query(String, Secret),
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Location::Header(n, _) => write!(f, "ApiKey(header {n})"),
            Location::Query(n, _) => write!(f, "ApiKey(query {n})"),
        }
    }
}

impl ApiKey {
    /// Validated by config loading; `None` only if the name or value is not representable.
    pub fn new(
        location: CredentialLocation,
        name: &str,
        prefix: &str,
        key: &Secret,
    ) -> Option<Self> {
        let location = match location {
            CredentialLocation::Header => {
                let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
                let mut value =
                    http::HeaderValue::from_str(&format!("{prefix}{}", key.expose())).ok()?;
                value.set_sensitive(true);
                Location::Header(name, value)
            }
            CredentialLocation::QueryParameter => Location::Query(
                name.to_string(),
                Secret::new(format!("{prefix}{}", key.expose())),
            ),
        };
        let raw = key.expose();
        let encoded: String = encode::path_segment(raw).collect();
        let mut echoes = vec![Secret::new(raw.to_string())];
        if encoded != raw {
            echoes.push(Secret::new(encoded));
        }
        Some(Self { location, echoes })
    }

    /// Replaces every occurrence of the key in `body` (a backend that echoes the request, in
    /// an error page say) with `[REDACTED]`: the gateway's own credential never reaches the
    /// client. Keys shorter than 4 bytes are not searched for (they would match anywhere).
    pub fn redact(&self, body: &mut bytes::Bytes) {
        for echo in &self.echoes {
            let needle = echo.expose().as_bytes();
            if needle.len() < 4 || memchr::memmem::find(body, needle).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(body.len());
            let mut last = 0;
            for at in memchr::memmem::find_iter(body, needle) {
                if at < last {
                    continue;
                }
                out.extend_from_slice(&body[last..at]);
                out.extend_from_slice(b"[REDACTED]");
                last = at + needle.len();
            }
            out.extend_from_slice(&body[last..]);
            *body = bytes::Bytes::from(out);
        }
    }

    pub fn apply(&self, req: &mut Request) {
        match &self.location {
            Location::Header(name, value) => {
                req.headers.insert(name.clone(), value.clone());
            }
            Location::Query(name, value) => {
                // Replace any same-named argument: the credential wins. The other pairs keep
                // the bytes the request builder encoded.
                let mut query: String = req
                    .url
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|pair| {
                        let key = pair.split('=').next().unwrap_or("");
                        !pair.is_empty()
                            && percent_encoding::percent_decode_str(key).decode_utf8_lossy()
                                != name.as_str()
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                encode::push_query_pair(&mut query, name, value.expose());
                req.url.set_query(Some(&query));
            }
        }
    }
}
