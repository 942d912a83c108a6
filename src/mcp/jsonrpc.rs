//! JSON-RPC 2.0 framing: splitting a body into one message or a batch, classifying each
//! (request, notification, response), the error codes MCP uses, and serialising responses.
//!
//! A message is read as an envelope of raw values ([`RawValue`]): the id is echoed back byte
//! for byte (an integer beyond 64 bits stays that integer, not a float), and only `params` is
//! parsed into a tree, with serde_json's nesting limit. Duplicate members: the last wins.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// A rate limit refused the request (the gateway's own code, sent with HTTP 429).
pub const RATE_LIMITED: i64 = -32029;
/// 2026-07-28: HTTP headers do not match the body, or a required header is missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the requested protocol version is not served.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// The most messages one batch may carry (each may be a tool call).
pub const MAX_BATCH: usize = 64;

/// A request id: a string or a number, kept as the client wrote it and echoed back unchanged.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Id(Box<RawValue>);

impl Id {
    /// `Some` for a JSON string or number.
    fn from_raw(raw: &RawValue) -> Option<Self> {
        matches!(
            raw.get().as_bytes().first(),
            Some(b'"' | b'-' | b'0'..=b'9')
        )
        .then(|| Self(raw.to_owned()))
    }

    /// An id from its JSON text (`"a"`, `7`); `None` unless a string or a number.
    pub fn from_json(text: &str) -> Option<Self> {
        Self::from_raw(&serde_json::from_str::<Box<RawValue>>(text).ok()?)
    }

    /// The id as JSON text (`"a"`, `7`).
    pub fn as_json(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// What a POST body holds.
#[derive(Debug)]
pub enum Body<'a> {
    One(&'a RawValue),
    /// A JSON array: a batch (its members are not checked yet).
    Batch(Vec<&'a RawValue>),
}

/// Splits a body into one message or a batch. The error is a parse error.
pub fn parse_body(body: &[u8]) -> Result<Body<'_>, RpcError> {
    let parse_error =
        |e: &dyn fmt::Display| RpcError::new(PARSE_ERROR, format!("Parse error: {e}"));
    let text = std::str::from_utf8(body).map_err(|e| parse_error(&e))?;
    if text.trim_start().starts_with('[') {
        // Nesting is bounded while parsing into a tree, not while skipping raw values: check
        // it once for the whole batch before splitting it.
        serde_json::from_str::<Value>(text).map_err(|e| parse_error(&e))?;
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| parse_error(&e))?;
        return Ok(Body::Batch(items));
    }
    serde_json::from_str::<&RawValue>(text)
        .map(Body::One)
        .map_err(|e| parse_error(&e))
}

/// One incoming message.
#[derive(Debug)]
pub enum Incoming {
    Request {
        id: Id,
        method: String,
        params: Option<Map<String, Value>>,
    },
    Notification {
        method: String,
        params: Option<Map<String, Value>>,
    },
    /// A response from the client: the answer to a request the gateway relayed to it.
    Response(Option<Id>),
}

/// A protocol-level error, as JSON-RPC carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Box<Value>>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(Box::new(data));
        self
    }

    fn to_value(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            e["data"] = (**d).clone();
        }
        e
    }
}

/// The members of a message, unparsed.
#[derive(Default)]
struct Envelope<'a> {
    jsonrpc: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<&'a RawValue>,
    has_result: bool,
    has_error: bool,
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = Envelope::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    match key.as_ref() {
                        "jsonrpc" => env.jsonrpc = Some(value),
                        "id" => env.id = Some(value),
                        "method" => env.method = Some(value),
                        "params" => env.params = Some(value),
                        "result" => env.has_result = true,
                        "error" => env.has_error = true,
                        _ => {}
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(V)
    }
}

/// Classifies one message. The id is returned with the error when one could be read; an
/// error without an id is answered with HTTP 400 (it may have been a notification).
pub fn classify(message: &RawValue) -> Result<Incoming, (Option<Id>, RpcError)> {
    let invalid = |m: &str| RpcError::new(INVALID_REQUEST, m);
    if !message.get().starts_with('{') {
        return Err((None, invalid("a JSON-RPC message must be an object")));
    }
    let env: Envelope<'_> = serde_json::from_str(message.get()).map_err(|e| {
        (
            None,
            RpcError::new(PARSE_ERROR, format!("Parse error: {e}")),
        )
    })?;
    let id = match env.id {
        None => None,
        Some(raw) => match Id::from_raw(raw) {
            Some(id) => Some(id),
            None if raw.get() == "null" && (env.has_result || env.has_error) => None,
            None => return Err((None, invalid("`id` must be a string or a number"))),
        },
    };
    if env.jsonrpc.map(RawValue::get) != Some(r#""2.0""#) {
        return Err((id, invalid("`jsonrpc` must be \"2.0\"")));
    }
    if env.has_result || env.has_error {
        return match (env.method, env.id) {
            (Some(_), _) => Err((
                id,
                invalid("a message cannot be both a request and a response"),
            )),
            (None, None) => Err((None, invalid("a response must carry the `id` it answers"))),
            (None, Some(_)) => Ok(Incoming::Response(id)),
        };
    }
    let method = match env.method {
        Some(raw) => match serde_json::from_str::<String>(raw.get()) {
            Ok(m) => m,
            Err(_) => return Err((id, invalid("`method` must be a string"))),
        },
        None => return Err((id, invalid("missing `method`"))),
    };
    let params = match env.params.map(|p| serde_json::from_str::<Value>(p.get())) {
        None | Some(Ok(Value::Null)) => None,
        Some(Ok(Value::Object(p))) => Some(p),
        Some(Ok(_)) => {
            return Err((
                id,
                RpcError::new(INVALID_PARAMS, "`params` must be an object"),
            ));
        }
        Some(Err(e)) => {
            return Err((id, RpcError::new(PARSE_ERROR, format!("Parse error: {e}"))));
        }
    };
    Ok(match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    })
}

/// `{"jsonrpc":"2.0","id":..,"result":..}` with a pre-serialised result.
pub fn success(id: &Id, result: &impl Serialize) -> Vec<u8> {
    success_sized(id, result, 128)
}

/// [`success`] written into a buffer of `capacity` bytes, for a large result whose size is
/// known in advance (a `tools/list` page): the buffer is not regrown (and copied) on the way.
pub fn success_sized(id: &Id, result: &impl Serialize, capacity: usize) -> Vec<u8> {
    #[derive(Serialize)]
    struct Envelope<'a, R> {
        jsonrpc: &'static str,
        id: &'a Id,
        result: &'a R,
    }
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(
        &mut out,
        &Envelope {
            jsonrpc: "2.0",
            id,
            result,
        },
    )
    .expect("responses serialise");
    out
}

/// `{"jsonrpc":"2.0","id":..,"error":..}`; the id is left out when unknown. (JSON-RPC 2.0
/// says `null`, but MCP's schemas type the id as a string or number: 2025-11-25 and later
/// make it optional, earlier ones have no form for it at all.)
pub fn failure(id: Option<&Id>, error: &RpcError) -> Vec<u8> {
    #[derive(Serialize)]
    struct Envelope<'a> {
        jsonrpc: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Id>,
        error: Value,
    }
    serde_json::to_vec(&Envelope {
        jsonrpc: "2.0",
        id,
        error: error.to_value(),
    })
    .expect("responses serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Incoming, (Option<Id>, RpcError)> {
        classify(&serde_json::from_str::<Box<RawValue>>(text).unwrap())
    }

    #[test]
    fn classification() {
        assert!(matches!(
            one(r#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#),
            Ok(Incoming::Request { method, .. }) if method == "ping"
        ));
        assert!(matches!(
            one(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#),
            Ok(Incoming::Notification { method, .. }) if method == "notifications/initialized"
        ));
        assert!(matches!(
            one(r#"{"jsonrpc": "2.0", "id": 1, "result": {}}"#),
            Ok(Incoming::Response(Some(_)))
        ));
        let (id, e) = one(r#"{"jsonrpc": "1.0", "id": "a", "method": "x"}"#).unwrap_err();
        assert_eq!(id.unwrap().as_json(), r#""a""#);
        assert_eq!(e.code, INVALID_REQUEST);
        let code = |t: &str| one(t).unwrap_err().1.code;
        assert_eq!(code("[1]"), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": {}, "method": "x"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": 1, "method": "x", "params": [1]}"#),
            INVALID_PARAMS
        );
        // Neither a request nor a response.
        assert_eq!(
            code(r#"{"jsonrpc": "2.0", "id": 1, "method": "x", "result": {}}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"jsonrpc": "2.0", "result": {}}"#), INVALID_REQUEST);
        // An invalid notification has no id to answer with.
        let (id, e) = one(r#"{"jsonrpc": "2.0", "method": "n", "params": [1]}"#).unwrap_err();
        assert!(id.is_none());
        assert_eq!(e.code, INVALID_PARAMS);
    }

    #[test]
    fn ids_are_echoed_byte_for_byte() {
        for raw in [
            "123456789012345678901234567890",
            "-9223372036854775809",
            "1.50",
            r#""\u0041""#,
        ] {
            let text = format!(r#"{{"jsonrpc": "2.0", "id": {raw}, "method": "ping"}}"#);
            let Ok(Incoming::Request { id, .. }) = one(&text) else {
                panic!("{text}")
            };
            let out = String::from_utf8(success(&id, &json!({}))).unwrap();
            assert!(out.contains(&format!(r#""id":{raw}"#)), "{out}");
        }
    }

    #[test]
    fn last_duplicate_member_wins() {
        let Ok(Incoming::Request { id, method, .. }) =
            one(r#"{"jsonrpc": "2.0", "id": {}, "id": 2, "method": "a", "method": "b"}"#)
        else {
            panic!()
        };
        assert_eq!((id.as_json(), method.as_str()), ("2", "b"));
    }

    #[test]
    fn bodies_split_into_one_message_or_a_batch() {
        assert!(matches!(parse_body(b" {\"a\":1}"), Ok(Body::One(_))));
        assert!(matches!(parse_body(b"[{}, 1]"), Ok(Body::Batch(v)) if v.len() == 2));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(parse_body(deep.as_bytes()).unwrap_err().code, PARSE_ERROR);
        assert_eq!(parse_body(b"{\"a\":").unwrap_err().code, PARSE_ERROR);
        assert_eq!(parse_body(b"\xff").unwrap_err().code, PARSE_ERROR);
    }
}
