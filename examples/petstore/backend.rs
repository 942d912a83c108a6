//! The example's backend: a stand-in for the tutorial's PetStore REST API on API Gateway, so the
//! whole example runs on one machine with no AWS account. Like the real stage it checks
//! callers: `/pets` routes need a valid SigV4 signature for `execute-api` (credentials from
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), `/orders` needs `x-api-key` equal to
//! `PETSTORE_API_KEY`. Listens on `PETSTORE_LISTEN` (default 127.0.0.1:9090), stage `/dev`.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

struct Store {
    pets: Mutex<Vec<Value>>,
    access_key_id: String,
    secret_key: String,
    api_key: String,
}

type Shared = Arc<Store>;

#[tokio::main]
async fn main() {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let store = Arc::new(Store {
        pets: Mutex::new(vec![
            json!({"id": 1, "type": "dog", "price": 249.99}),
            json!({"id": 2, "type": "cat", "price": 124.99}),
            json!({"id": 3, "type": "fish", "price": 0.99}),
        ]),
        access_key_id: env("AWS_ACCESS_KEY_ID"),
        secret_key: env("AWS_SECRET_ACCESS_KEY"),
        api_key: env("PETSTORE_API_KEY"),
    });
    let app = Router::new()
        .route("/dev/pets", get(list_pets).post(create_pet))
        .route("/dev/pets/{pet_id}", get(get_pet))
        .route("/dev/orders/{order_id}", get(get_order))
        .layer(axum::middleware::from_fn_with_state(
            store.clone(),
            check_sigv4,
        ))
        .with_state(store);
    let addr = std::env::var("PETSTORE_LISTEN").unwrap_or_else(|_| "127.0.0.1:9090".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind the backend address");
    eprintln!(
        "petstore backend listening on http://{}/dev",
        listener.local_addr().expect("bound")
    );
    axum::serve(listener, app).await.expect("serve");
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"message": text}))).into_response()
}

/// `/dev/pets*` must be SigV4-signed for `execute-api`, as an IAM-authorized method is.
async fn check_sigv4(
    State(store): State<Shared>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with("/dev/pets") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let uri = format!(
        "http://{host}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let secret = |akid: &str| {
        (akid == store.access_key_id && !akid.is_empty()).then(|| store.secret_key.clone())
    };
    let verdict = mcp_gateway::auth::sigv4::verify(
        parts.method.as_str(),
        &uri,
        &parts.headers,
        &bytes,
        "execute-api",
        secret,
        SystemTime::now(),
    );
    if let Err(e) = verdict {
        return message(StatusCode::FORBIDDEN, &format!("SigV4 check failed: {e}"));
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

async fn list_pets(
    State(store): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let pets = store.pets.lock();
    let wanted = q.get("type");
    let list: Vec<&Value> = pets
        .iter()
        .filter(|p| wanted.is_none_or(|t| p["type"] == **t))
        .collect();
    axum::Json(json!(list)).into_response()
}

async fn create_pet(State(store): State<Shared>, body: Bytes) -> Response {
    let Ok(new) = serde_json::from_slice::<Value>(&body) else {
        return message(StatusCode::BAD_REQUEST, "body must be JSON");
    };
    let kind = new["type"].as_str().unwrap_or("");
    if !["dog", "cat", "fish", "bird", "gecko"].contains(&kind) {
        return message(
            StatusCode::BAD_REQUEST,
            "type must be one of dog, cat, fish, bird, gecko",
        );
    }
    let mut pets = store.pets.lock();
    let pet =
        json!({"id": pets.len() + 1, "type": kind, "price": new["price"].as_f64().unwrap_or(0.0)});
    pets.push(pet.clone());
    axum::Json(json!({"pet": pet, "message": "success"})).into_response()
}

async fn get_pet(State(store): State<Shared>, Path(pet_id): Path<String>) -> Response {
    let pets = store.pets.lock();
    match pet_id
        .parse::<u64>()
        .ok()
        .and_then(|id| pets.iter().find(|p| p["id"] == id))
    {
        Some(p) => axum::Json(p.clone()).into_response(),
        None => message(StatusCode::NOT_FOUND, &format!("no pet with id {pet_id}")),
    }
}

async fn get_order(
    State(store): State<Shared>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Response {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if store.api_key.is_empty() || key != store.api_key {
        return message(StatusCode::FORBIDDEN, "Forbidden");
    }
    match order_id.parse::<u64>() {
        Ok(id @ 1..=3) => axum::Json(json!({
            "orderId": order_id, "petId": id, "status": "shipped", "deliveryDate": format!("2026-12-0{id}")
        }))
        .into_response(),
        _ => message(StatusCode::NOT_FOUND, &format!("no order with id {order_id}")),
    }
}
