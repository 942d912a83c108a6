//! Input an upstream asks of the client before it can answer a request (2026-07-28's
//! `input_required`, the multi-round-trip requests), in whichever era the client speaks:
//! - a 2026-07-28 client gets `input_required` with the gateway's sealed `requestState`
//!   ([`Pending`]) and resumes with its `inputResponses`; the gateway opens the state and
//!   resumes the upstream with its own;
//! - a handshake client is asked on its response stream, as if the upstream had asked
//!   mid-call; the gateway collects the answers and resumes the upstream itself.
//!
//! A client that did not declare it can answer what is asked is never asked: the request
//! ends with a clear error instead.

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::jsonrpc::{self, RpcError};
use super::state::{Pending, STATE_TTL};
use super::{Ask, McpService};
use crate::targets::context::{Relay, Resume};
use crate::targets::output::InputRequired;

/// Rounds of input one request may ask before the gateway gives up on it.
pub(super) const MAX_ROUNDS: usize = 8;
/// Requests one round may ask a handshake client.
const MAX_ASKED: usize = 16;

/// What to do after an upstream asked for input.
pub(super) enum Next {
    /// Answer the client now (a 2026-07-28 client's `input_required`).
    Reply(Vec<u8>),
    /// Resume the upstream with the client's answers (a handshake client answered).
    Retry(Resume),
    /// The client cannot give what is asked: why.
    Refused(String),
}

/// What becomes of a request's outcome.
pub(super) enum Settled {
    /// The client's response.
    Body(Vec<u8>),
    /// Resume the request with the input gathered from the client.
    Retry(Resume),
}

impl McpService {
    /// The resumption a 2026-07-28 client asks for with `inputResponses` and the
    /// `requestState` the gateway gave it: the state must open for this principal, unexpired,
    /// and name this `subject`. `None` when the request resumes nothing.
    pub(super) fn resume(
        &self,
        params: &Map<String, Value>,
        subject: &str,
        principal: &str,
    ) -> Result<Option<(Resume, Pending)>, RpcError> {
        let responses = params.get("inputResponses");
        let state = match params.get("requestState") {
            None | Some(Value::Null) if responses.is_none() => return Ok(None),
            Some(Value::String(s)) => s,
            _ => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`inputResponses` must come with the `requestState` string it answers",
                ));
            }
        };
        let refused = |why: String| {
            RpcError::new(
                jsonrpc::INVALID_PARAMS,
                format!("Invalid requestState: {why}"),
            )
        };
        let pending: Pending = self
            .sealer
            .open(state, principal)
            .map_err(|e| refused(e.to_string()))?;
        if pending.subject != subject {
            return Err(refused("it was issued for another request".to_string()));
        }
        let responses = match responses {
            None | Some(Value::Null) => None,
            Some(r @ Value::Object(_)) => serde_json::value::to_raw_value(r).ok(),
            Some(_) => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`inputResponses` must be an object",
                ));
            }
        };
        let resume = Resume {
            responses,
            state: pending.upstream.clone(),
        };
        Ok(Some((resume, pending)))
    }

    /// The upstream asked for `input` before it answers the request about `subject`.
    pub(super) async fn needed(
        &self,
        ask: &Ask<'_>,
        subject: &str,
        input: InputRequired,
        deadline: Instant,
    ) -> Result<Next, RpcError> {
        let requests = input
            .requests
            .as_deref()
            .and_then(|r| serde_json::from_str::<Map<String, Value>>(r.get()).ok())
            .unwrap_or_default();
        if !ask.era.modern {
            let Some(relay) = ask.relay.filter(|r| r.asks) else {
                return Ok(Next::Refused(
                    "it asks for input, and this client's request has no stream to be asked on"
                        .to_string(),
                ));
            };
            return Ok(match ask_client(relay, &requests, deadline).await {
                Ok(responses) => Next::Retry(Resume {
                    responses: Some(responses),
                    state: input.state,
                }),
                Err(why) => Next::Refused(why),
            });
        }
        if let Some(method) = refused(ask, &requests) {
            return Ok(Next::Refused(format!(
                "it asks for `{method}`, which this client did not declare it can answer"
            )));
        }
        let pending = Pending {
            subject: subject.to_string(),
            upstream: input.state,
            held: None,
            expires: crate::common::unix_now() + STATE_TTL.as_secs(),
        };
        Ok(Next::Reply(self.input_required(
            ask,
            input.requests.as_deref(),
            &pending,
        )?))
    }

    /// A 2026-07-28 client's `input_required` result: what is asked, and `pending` sealed
    /// for its principal as the `requestState`.
    pub(super) fn input_required(
        &self,
        ask: &Ask<'_>,
        requests: Option<&RawValue>,
        pending: &Pending,
    ) -> Result<Vec<u8>, RpcError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Needed<'a> {
            result_type: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            input_requests: Option<&'a RawValue>,
            request_state: String,
        }
        let state = self
            .sealer
            .seal(pending, &ask.principal.id)
            .ok_or_else(|| {
                RpcError::new(
                    jsonrpc::INTERNAL_ERROR,
                    "the request state could not be sealed",
                )
            })?;
        Ok(jsonrpc::success(
            ask.id,
            &Needed {
                result_type: "input_required",
                input_requests: requests,
                request_state: state,
            },
        ))
    }
}

/// The first method asked that the client did not declare it can answer.
fn refused(ask: &Ask<'_>, requests: &Map<String, Value>) -> Option<String> {
    requests.values().find_map(|r| {
        let method = r.get("method").and_then(Value::as_str).unwrap_or("");
        let params = r
            .get("params")
            .and_then(|p| serde_json::value::to_raw_value(p).ok());
        (!ask.era.client.allows(method, params.as_deref())).then(|| method.to_string())
    })
}

/// Asks a handshake client, on its response stream, each of `requests` (keyed by the
/// upstream), and gathers its results under the same keys, by `deadline`. Requests still
/// unanswered when it fails are cancelled at the client.
async fn ask_client(
    relay: &Relay,
    requests: &Map<String, Value>,
    deadline: Instant,
) -> Result<Box<RawValue>, String> {
    if requests.len() > MAX_ASKED {
        return Err(format!(
            "it asks for {} inputs at once, more than {MAX_ASKED}",
            requests.len()
        ));
    }
    let mut asked = Vec::with_capacity(requests.len());
    for (key, request) in requests {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let params = request
            .get("params")
            .and_then(|p| serde_json::value::to_raw_value(p).ok());
        let sent = relay.ask(method, params.as_deref()).ok_or_else(|| {
            format!("it asks for `{method}`, which this client did not declare it can answer")
        })?;
        asked.push((key, method, sent));
    }
    let answers = join_all(asked.iter_mut().map(|(_, _, a)| a.answer()));
    let answers = tokio::time::timeout_at(deadline, answers)
        .await
        .map_err(|_| "the client did not answer in time".to_string())?;
    let mut responses = Map::new();
    for ((key, method, _), answer) in asked.iter().zip(answers) {
        #[derive(serde::Deserialize)]
        struct Response {
            #[serde(default)]
            result: Option<Value>,
            #[serde(default)]
            error: Option<Value>,
        }
        let answer = answer.ok_or("the client's request ended before it answered")?;
        let response: Response = serde_json::from_str(answer.get())
            .map_err(|_| format!("the client's answer to `{method}` is not a response"))?;
        match (response.result, response.error) {
            (Some(result), None) => {
                responses.insert((*key).clone(), result);
            }
            (_, Some(error)) => {
                let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                return Err(format!(
                    "the client answered `{method}` with an error: {message}"
                ));
            }
            (None, None) => {
                return Err(format!("the client's answer to `{method}` has no result"));
            }
        }
    }
    serde_json::value::to_raw_value(&responses).map_err(|_| "unencodable answers".to_string())
}
