//! No secret in any log line or client-visible error: the real binary runs at debug level
//! with an API key, AWS credentials and a JWT authorizer, serves good and failing calls, and
//! its whole stderr and every response are searched for the secrets in use.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::idp::{Idp, Signer};
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;

const API_KEY: &str = "sk-live-4f9a1c0e7b2d";
const AWS_SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRET";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";

#[tokio::test]
async fn secrets_never_reach_logs_or_results() {
    let backend = start_backend().await;
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&key]);
    let dir = std::env::temp_dir().join(format!("mcp-gw-leaks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let doc = |base: &str| {
        json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": base}],
            "paths": {"/x": {"get": {"operationId": "x"}}, "/status/{code}": {"get": {"operationId": "status",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "integer"}}]}}}})
        .to_string()
    };
    std::fs::write(dir.join("up.json"), doc(&backend.url())).unwrap();
    std::fs::write(dir.join("down.json"), doc(&format!("http://{closed}"))).unwrap();
    std::fs::write(
        dir.join("gateway.yaml"),
        format!(
            r#"
server: {{timeouts: {{targetSeconds: 2}}}}
gateway:
  name: leaks
  authorizerType: CUSTOM_JWT
  exceptionLevel: DEBUG
  region: us-east-1
  authorizerConfiguration: {{customJWTAuthorizer: {{discoveryUrl: "{}"}}}}
credentialProviders: {{apiKeys: [{{name: k, apiKeyEnv: LEAK_KEY}}]}}
targets:
  - name: key
    targetConfiguration: {{mcp: {{openApiSchema: {{file: up.json}}}}}}
    credentialProviderConfigurations:
      - {{credentialProviderType: API_KEY, credentialProvider: {{apiKeyCredentialProvider: {{providerArn: k, credentialLocation: QUERY_PARAMETER}}}}}}
  - name: down
    targetConfiguration: {{mcp: {{openApiSchema: {{file: down.json}}}}}}
    credentialProviderConfigurations:
      - {{credentialProviderType: API_KEY, credentialProvider: {{apiKeyCredentialProvider: {{providerArn: k, credentialLocation: QUERY_PARAMETER}}}}}}
  - name: iam
    targetConfiguration: {{mcp: {{openApiSchema: {{file: up.json}}}}}}
    credentialProviderConfigurations:
      - {{credentialProviderType: GATEWAY_IAM_ROLE, credentialProvider: {{iamCredentialProvider: {{service: execute-api}}}}}}
"#,
            idp.discovery_url()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("gateway.yaml"))
        .env("RUST_LOG", "debug")
        .env("LEAK_KEY", API_KEY)
        .env("AWS_ACCESS_KEY_ID", "AKIDLEAKTEST")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(all.clone());
        }
    });
    let url = loop {
        let logs = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the gateway starts");
        if let Some(at) = logs.find("listening on http://") {
            break logs[at + "listening on ".len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
    };
    let token = key.sign(&idp.claims(json!({})));
    let bearer = format!("Bearer {token}");
    let mut visible = String::new();
    // Wait for the keys, then exercise success and every failure path.
    for _ in 0..100 {
        if client()
            .get(url.replace("/mcp", "/ready"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // (Only non-echoing backend routes: what a backend puts in its own body is its business.)
    for (name, args) in [
        ("key___status", json!({"code": 200})),
        ("key___status", json!({"code": 500})),
        ("down___x", json!({})),
        ("iam___status", json!({"code": 200})),
        ("iam___status", json!({"code": 403})),
        ("key___status", json!({"code": "not-a-number"})),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": args}});
        let r = post(&url, &body, &[("authorization", &bearer)]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        visible.push_str(&r.text);
    }
    for auth in [
        format!("Bearer {token}x"),
        "Bearer a.b.c".into(),
        String::new(),
    ] {
        let r = post(
            &url,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            &[("authorization", &auth)],
        )
        .await;
        visible.push_str(&r.text);
        visible.push_str(r.header("www-authenticate").unwrap_or_default());
    }
    assert!(
        backend
            .requests()
            .iter()
            .any(|s| s.target.contains(API_KEY)),
        "the key was really used"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().ok();
    child.wait().ok();
    let mut logs = String::new();
    while let Ok(more) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
        logs = more;
    }
    assert!(logs.contains("DEBUG"), "debug logging was on");
    for (what, secret) in [
        ("API key", API_KEY),
        ("AWS secret", AWS_SECRET),
        ("session token", SESSION_TOKEN),
        ("bearer token", token.as_str()),
        ("token signature", token.rsplit('.').next().unwrap()),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
        assert!(
            !visible.contains(secret),
            "the {what} appears in a response"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
