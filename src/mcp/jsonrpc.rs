//! JSON-RPC 2.0 framing: classifying an incoming message (request, notification, response),
//! the error codes MCP uses, and serialising responses.

use serde::Serialize;
use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// 2026-07-28: HTTP headers do not match the body, or a required header is missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the requested protocol version is not served.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A request id: string or number, echoed back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Id {
    Number(serde_json::Number),
    String(String),
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
    },
    /// A response from the client (the gateway sends no requests, so it is only acknowledged).
    Response,
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

/// Classifies a parsed JSON body. The id is returned with the error when one could be read.
pub fn classify(body: Value) -> Result<Incoming, (Option<Id>, RpcError)> {
    let Value::Object(mut obj) = body else {
        let msg = if body.is_array() {
            "JSON-RPC batches are not supported: send one message per POST"
        } else {
            "a JSON-RPC message must be an object"
        };
        return Err((None, RpcError::new(INVALID_REQUEST, msg)));
    };
    let id = match obj.remove("id") {
        None => None,
        Some(Value::String(s)) => Some(Id::String(s)),
        Some(Value::Number(n)) => Some(Id::Number(n)),
        Some(_) => {
            return Err((
                None,
                RpcError::new(INVALID_REQUEST, "`id` must be a string or a number"),
            ));
        }
    };
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err((
            id,
            RpcError::new(INVALID_REQUEST, "`jsonrpc` must be \"2.0\""),
        ));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => {
            return Err((
                id,
                RpcError::new(INVALID_REQUEST, "`method` must be a string"),
            ));
        }
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Ok(Incoming::Response);
        }
        None => return Err((id, RpcError::new(INVALID_REQUEST, "missing `method`"))),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            return Err((
                id,
                RpcError::new(INVALID_PARAMS, "`params` must be an object"),
            ));
        }
    };
    Ok(match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method },
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

/// `{"jsonrpc":"2.0","id":..,"error":..}`; the id is omitted when unknown.
pub fn failure(id: Option<&Id>, error: &RpcError) -> Vec<u8> {
    let mut v = json!({"jsonrpc": "2.0", "error": error.to_value()});
    if let Some(id) = id {
        v["id"] = serde_json::to_value(id).expect("ids serialise");
    }
    serde_json::to_vec(&v).expect("responses serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
            Ok(Incoming::Request { method, .. }) if method == "ping"
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Ok(Incoming::Notification { .. })
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": 1, "result": {}})),
            Ok(Incoming::Response)
        ));
        let (id, e) = classify(json!({"jsonrpc": "1.0", "id": "a", "method": "x"})).unwrap_err();
        assert_eq!(id, Some(Id::String("a".into())));
        assert_eq!(e.code, INVALID_REQUEST);
        assert_eq!(classify(json!([1])).unwrap_err().1.code, INVALID_REQUEST);
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": {}, "method": "x"}))
                .unwrap_err()
                .1
                .code,
            INVALID_REQUEST
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": 1, "method": "x", "params": [1]}))
                .unwrap_err()
                .1
                .code,
            INVALID_PARAMS
        );
    }
}
