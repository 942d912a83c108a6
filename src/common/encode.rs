//! Percent-encoding of URL parts, RFC 3986 style: everything but the unreserved characters
//! (`A-Z a-z 0-9 - . _ ~`) is `%XX`-encoded, a space included (`%20`, never `+`).
//!
//! Why not `application/x-www-form-urlencoded` (the `url` crate's `query_pairs_mut`)? It writes
//! a space as `+`. AWS's SigV4 canonicalisation (botocore, the services) takes the query string
//! as sent, where `+` is a literal plus, while other canonicalisers decode `+` to a space: a
//! signature computed over one reading fails verification under the other. With every
//! reserved character encoded there is only one reading, and what is signed is what is sent.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters.
pub const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `key=value` (both encoded) to a query string under construction.
pub fn push_query_pair(query: &mut String, key: &str, value: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    query.extend(utf8_percent_encode(key, UNRESERVED));
    query.push('=');
    query.extend(utf8_percent_encode(value, UNRESERVED));
}

/// A JSON string, number or boolean as the text a path, query or header carries; `None` for
/// other values.
pub fn scalar_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `value` as one encoded path segment (`/` becomes `%2F`).
pub fn path_segment(value: &str) -> impl Iterator<Item = &str> {
    utf8_percent_encode(value, UNRESERVED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_and_reserved_characters_are_percent_encoded() {
        let mut q = String::new();
        push_query_pair(&mut q, "genre", "science fiction");
        push_query_pair(&mut q, "a+b", "x=y&z*~");
        assert_eq!(q, "genre=science%20fiction&a%2Bb=x%3Dy%26z%2A~");
        assert_eq!(path_segment("a b/ü").collect::<String>(), "a%20b%2F%C3%BC");
    }
}
