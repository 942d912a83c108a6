//! The process lifecycle of the real binary: SIGTERM during load. `/ready` turns 503 while
//! the listener still accepts, in-flight calls finish, no request the backend received loses
//! its answer, and the process exits 0 within its grace period.

mod common;

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use common::*;
use serde_json::json;

#[tokio::test]
async fn sigterm_under_load_drains_and_loses_no_accepted_request() {
    let backend = start_backend().await;
    let dir = std::env::temp_dir().join(format!("mcp-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/x": {"get": {"operationId": "x", "parameters": [{"name": "n", "in": "query", "schema": {"type": "integer"}}]}},
                  "/slow": {"get": {"operationId": "slow"}}}});
    std::fs::write(dir.join("api.json"), doc.to_string()).unwrap();
    std::fs::write(
        dir.join("gateway.yaml"),
        "server: {timeouts: {readinessDrainSeconds: 0.5, shutdownGraceSeconds: 10}}\n\
         gateway: {name: lc, authorizerType: NONE}\n\
         targets:\n  - name: t\n    targetConfiguration: {mcp: {openApiSchema: {file: api.json}}}\n",
    )
    .unwrap();
    let mut gw = Binary::serve(&dir.join("gateway.yaml"), &[]);
    let url = gw.url.clone();
    let ready_url = url.replace("/mcp", "/ready");

    // /ready, every 20 ms: 200 before, then 503 while still accepting, then refused.
    let readiness = Arc::new(Mutex::new(Vec::<(Instant, Option<u16>)>::new()));
    let poller = {
        let (readiness, ready_url) = (readiness.clone(), ready_url.clone());
        tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            loop {
                let status = c
                    .get(&ready_url)
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status().as_u16());
                readiness.lock().push((Instant::now(), status));
                if status.is_none() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let load = TrackedLoad::start(&url, 16, 4);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());

    poller.await.unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = gw.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    let status = status.expect("the gateway exits within its grace period");
    assert!(status.success(), "exit status {status}");

    let readiness = readiness.lock().clone();
    let first_503 = readiness
        .iter()
        .find(|(_, s)| *s == Some(503))
        .map(|(t, _)| *t)
        .expect("/ready answered 503 during the drain");
    let refused = readiness.last().unwrap();
    assert_eq!(refused.1, None, "the listener closed in the end");
    assert!(first_503 >= signalled && first_503 < refused.0);
    assert!(
        readiness
            .iter()
            .filter(|(t, _)| *t < signalled)
            .all(|(_, s)| *s == Some(200)),
        "ready before the signal"
    );
    assert!(
        refused.0 - first_503 >= Duration::from_millis(300),
        "the listener stayed open while /ready was 503 (drain 0.5 s): {:?}",
        refused.0 - first_503
    );

    load.assert_nothing_lost(&backend).await;
    std::fs::remove_dir_all(&dir).ok();
}
