//! The outbound request as credentials see it: method, URL, headers and body, finished except
//! for authentication. Each target kind builds one; [`super::Credentials::apply`] adds the key
//! or signature last, so a signature covers every other header.

use url::Url;

/// The request, ready to be signed and sent. `Debug` leaves out the query string, which may
/// carry a query-parameter API key.
pub struct Request {
    pub method: http::Method,
    pub url: Url,
    pub headers: http::HeaderMap,
    pub body: Option<Vec<u8>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.url.clone();
        url.set_query(None);
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &url.as_str())
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}
