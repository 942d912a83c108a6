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
