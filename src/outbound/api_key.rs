//! API key credentials (`API_KEY` provider type): `{prefix}{key}` in a header, or the key as
//! a query parameter. The header value is marked sensitive so it never appears in debug output.

use crate::config::{Secret, model::CredentialLocation};
use crate::invoke::request::OutboundRequest;

#[derive(Clone)]
pub struct ApiKey {
    location: Location,
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
        Some(Self { location })
    }

    pub fn apply(&self, req: &mut OutboundRequest) {
        match &self.location {
            Location::Header(name, value) => {
                req.headers.insert(name.clone(), value.clone());
            }
            Location::Query(name, value) => {
                // Replace any same-named argument: the credential wins.
                let others: Vec<(String, String)> = req
                    .url
                    .query_pairs()
                    .filter(|(k, _)| k != name)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let mut q = req.url.query_pairs_mut();
                q.clear();
                for (k, v) in &others {
                    q.append_pair(k, v);
                }
                q.append_pair(name, value.expose());
            }
        }
    }
}
