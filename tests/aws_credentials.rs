//! SigV4 credentials from the standard AWS sources, through the real binary: with no
//! credentials in the environment the gateway finds them in a shared credentials file profile
//! (the aws-config chain), and the backend verifies the signature with that profile's key.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::json;

#[tokio::test]
async fn sigv4_uses_a_shared_credentials_profile() {
    let backend = start_backend().await;
    let dir = std::env::temp_dir().join(format!("mcp-gw-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other\n\n[gateway]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("config"),
        "[profile gateway]\nregion = eu-central-1\n",
    )
    .unwrap();
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/things": {"get": {"operationId": "things"}}}});
    std::fs::write(dir.join("api.json"), doc.to_string()).unwrap();
    std::fs::write(
        dir.join("gateway.yaml"),
        "gateway: {name: gw, authorizerType: NONE}\ntargets:\n  - name: t\n    targetConfiguration: {mcp: {openApiSchema: {file: api.json}}}\n    credentialProviderConfigurations:\n      - credentialProviderType: GATEWAY_IAM_ROLE\n        credentialProvider: {iamCredentialProvider: {service: execute-api}}\n",
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("gateway.yaml"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_PROFILE", "gateway")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-central-1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let _guard = KillOnDrop(child);
    let mut url = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on ".len()..];
            url = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
        seen.push(line);
    }
    let url = url.unwrap_or_else(|| panic!("the gateway did not start: {seen:?}"));
    // Keep draining the gateway's logs so it never writes into a closed or full pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let r = call_tool(&url, "t___things", json!({})).await;
    assert_eq!(r["isError"], false, "{r}");
    let req = backend.last();
    let host = backend.addr.unwrap().to_string();
    sigv4_ok(&req, &host, "execute-api", "AKIDPROFILE", "profile-secret").unwrap();
    assert!(
        req.header("authorization")
            .unwrap()
            .contains("/eu-central-1/execute-api/"),
        "region from the profile"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Stops the gateway process however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A container credential endpoint that answers after `delay`, counting requests.
async fn slow_credential_endpoint(
    delay: std::time::Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/creds",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let expires = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
                let expires = rfc3339(expires);
                axum::Json(
                    json!({"AccessKeyId": "AKIDSLOW", "SecretAccessKey": "slow-secret",
                    "Token": "slow-token", "Expiration": expires}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/creds", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the credential endpoint's `Expiration` format).
fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// redteam D7: a slow credential endpoint must not hold calls past the target's timeout, nor
/// queue them behind each other; one refresh serves every waiting call, and later calls sign
/// with what it fetched.
#[tokio::test]
async fn a_slow_credential_endpoint_stays_inside_the_call_deadline() {
    let backend = start_backend().await;
    let (creds_url, hits) = slow_credential_endpoint(std::time::Duration::from_secs(3)).await;
    let dir = std::env::temp_dir().join(format!("mcp-gw-aws-slow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/things": {"get": {"operationId": "things"}}}});
    std::fs::write(dir.join("api.json"), doc.to_string()).unwrap();
    std::fs::write(
        dir.join("gateway.yaml"),
        "server: {timeouts: {perTarget: {t: 1}}}\ngateway: {name: gw, authorizerType: NONE, region: us-east-1}\ntargets:\n  - name: t\n    targetConfiguration: {mcp: {openApiSchema: {file: api.json}}}\n    credentialProviderConfigurations:\n      - credentialProviderType: GATEWAY_IAM_ROLE\n        credentialProvider: {iamCredentialProvider: {service: execute-api}}\n",
    )
    .unwrap();
    let nothing = dir.join("nothing");
    let gw = Binary::serve_isolated(
        &dir.join("gateway.yaml"),
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &creds_url),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", nothing.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", nothing.to_str().unwrap()),
        ],
    );
    let started = tokio::time::Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let url = gw.url.clone();
            tokio::spawn(async move {
                let r = call_tool(&url, "t___things", json!({})).await;
                (r, started.elapsed())
            })
        })
        .collect();
    for c in calls {
        let (r, took) = c.await.unwrap();
        assert_eq!(r["isError"], true, "{r}");
        assert!(text(&r).contains("did not answer in time"), "{r}");
        assert!(
            took < std::time::Duration::from_millis(2500),
            "each call ends at its 1 s deadline, not queued: {took:?}"
        );
    }
    // The one refresh keeps going after its callers gave up, and later calls use its result.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let r = loop {
        let r = call_tool(&gw.url, "t___things", json!({})).await;
        if r["isError"] == false || tokio::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(r["isError"], false, "{r}");
    let seen = backend.last();
    let host = backend.addr.unwrap().to_string();
    sigv4_ok(&seen, &host, "execute-api", "AKIDSLOW", "slow-secret").unwrap();
    assert_eq!(seen.header("x-amz-security-token"), Some("slow-token"));
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "concurrent callers share one refresh"
    );
    drop(gw);
    std::fs::remove_dir_all(&dir).ok();
}
