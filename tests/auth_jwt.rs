//! `CUSTOM_JWT` against a real OIDC-style provider on 127.0.0.1:0: every algorithm, every
//! AgentCore rule, the attacks, key rotation, a flood of unknown `kid`s, an unreachable
//! provider, sessions bound to the principal, and the MCP authorization handshake (401/403
//! challenges, RFC 9728 metadata).

mod common;

use common::idp::{Idp, Signer, now, raw_token};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn config(discovery: &str, refresh_secs: u32) -> String {
    format!(
        r#"
server: {{timeouts: {{jwksRefreshSeconds: {refresh_secs}}}}}
gateway:
  name: jwt-gw
  authorizerType: CUSTOM_JWT
  authorizerConfiguration:
    customJWTAuthorizer:
      discoveryUrl: {discovery}
      allowedClients: [app-1, app-2]
      allowedAudience: [gw-api]
      allowedScopes: [gateway/invoke, gateway/admin]
      customClaims:
        - inboundTokenClaimName: tenant
          inboundTokenClaimValueType: STRING
          authorizingClaimMatchValue: {{claimMatchValue: {{matchValueString: acme}}, claimMatchOperator: EQUALS}}
        - inboundTokenClaimName: groups
          inboundTokenClaimValueType: STRING_ARRAY
          authorizingClaimMatchValue: {{claimMatchValue: {{matchValueString: dev}}, claimMatchOperator: CONTAINS}}
        - inboundTokenClaimName: groups
          inboundTokenClaimValueType: STRING_ARRAY
          authorizingClaimMatchValue: {{claimMatchValue: {{matchValueStringList: [ops, sre]}}, claimMatchOperator: CONTAINS_ANY}}
targets:
  - name: t
    targetConfiguration: {{mcp: {{openApiSchema: {{inlinePayload: "${{DOC}}"}}}}}}
"#
    )
}

async fn gateway(idp: &Idp, refresh_secs: u32) -> (Backend, TestGateway) {
    let backend = start_backend().await;
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/x": {"get": {"operationId": "x"}}}})
    .to_string();
    let gw = start_gateway(
        &config(&idp.discovery_url(), refresh_secs),
        &env(&[("DOC", &doc)]),
    )
    .await;
    wait_ready(&gw).await;
    (backend, gw)
}

async fn wait_ready(gw: &TestGateway) -> bool {
    for _ in 0..100 {
        let r = client()
            .get(format!("{}/ready", gw.base()))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

async fn list_with(gw: &TestGateway, authorization: Option<&str>) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    match authorization {
        Some(a) => post(&gw.url(), &body, &[("authorization", a)]).await,
        None => post(&gw.url(), &body, &[]).await,
    }
}

async fn list_with_token(gw: &TestGateway, token: &str) -> Reply {
    list_with(gw, Some(&format!("Bearer {token}"))).await
}

fn assert_refused(r: &Reply, status: u16, check: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["data"]["check"], check, "{}", r.text);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("/.well-known/oauth-protected-resource\""),
        "{challenge}"
    );
    let expected = if status == 401 {
        r#"error="invalid_token""#
    } else {
        r#"error="insufficient_scope""#
    };
    assert!(challenge.contains(expected), "{challenge}");
}

#[tokio::test]
async fn every_asymmetric_algorithm_is_accepted() {
    let idp = Idp::start().await;
    let mut signers = Vec::new();
    for (i, alg) in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ]
    .into_iter()
    .enumerate()
    {
        signers.push(Signer::rsa(&format!("rsa{i}"), alg));
    }
    signers.push(Signer::ec("p256", Algorithm::ES256));
    signers.push(Signer::ec("p384", Algorithm::ES384));
    signers.push(Signer::ed("ed"));
    idp.publish(&signers.iter().collect::<Vec<_>>());
    let (_b, gw) = gateway(&idp, 600).await;
    for s in &signers {
        let r = list_with_token(&gw, &s.sign(&idp.claims(json!({})))).await;
        assert_eq!(r.status, 200, "{:?}: {}", s.alg, r.text);
        assert_eq!(r.result()["tools"][0]["name"], "t___x");
    }
}

#[tokio::test]
async fn missing_credentials_get_the_mcp_challenge_and_metadata() {
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&key]);
    let (_b, gw) = gateway(&idp, 600).await;
    let r = list_with(&gw, None).await;
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer scope="gateway/invoke gateway/admin", resource_metadata="http://{}/.well-known/oauth-protected-resource""#,
            gw.addr
        )
    );
    // The token is only read from the Authorization header.
    let token = key.sign(&idp.claims(json!({})));
    let r = post(
        &format!("{}?access_token={token}", gw.url()),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);

    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let m = client()
            .get(format!("{}{path}", gw.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(m.status().as_u16(), 200);
        let doc: Value = m.json().await.unwrap();
        assert_eq!(doc["resource"], format!("http://{}/mcp", gw.addr));
        assert_eq!(doc["authorization_servers"], json!([idp.issuer]));
        assert_eq!(
            doc["scopes_supported"],
            json!(["gateway/invoke", "gateway/admin"])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    // review S9: X-Forwarded-* is anyone's to send; it counts only when a proxy is trusted.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "mcp.example.com"),
    ];
    let r = post(&gw.url(), &list, &forwarded).await;
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="http://{}/.well-known"#,
            gw.addr
        )),
        "{challenge}"
    );
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9"}],
        "paths": {"/x": {"get": {"operationId": "x"}}}})
    .to_string();
    let trusting = start_gateway(
        &config(&idp.discovery_url(), 600).replacen(
            "server: {",
            "server: {trustForwardedHeaders: true, ",
            1,
        ),
        &env(&[("DOC", &doc)]),
    )
    .await;
    assert!(wait_ready(&trusting).await);
    let r = post(&trusting.url(), &list, &forwarded).await;
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains(r#"resource_metadata="https://mcp.example.com/.well-known"#)
    );
}

#[tokio::test]
async fn each_rule_and_attack_is_refused() {
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    let ec = Signer::ec("e1", Algorithm::ES256);
    idp.publish(&[&key, &ec]);
    let (backend, gw) = gateway(&idp, 600).await;
    let good = idp.claims(json!({}));
    assert_eq!(list_with_token(&gw, &key.sign(&good)).await.status, 200);

    // alg: none, with and without a signature.
    let none = raw_token(
        &json!({"alg": "none", "kid": "k1", "typ": "JWT"}),
        &good,
        b"",
    );
    assert_refused(
        &list_with_token(&gw, &format!("{}x", none.trim_end_matches('.'))).await,
        401,
        "header",
    );
    let r = list_with(&gw, Some(&format!("Bearer {none}"))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // HS256 signed with the provider's public key (algorithm confusion).
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &good,
        &EncodingKey::from_secret(key.public_pem.as_bytes()),
    )
    .unwrap();
    assert_refused(&list_with_token(&gw, &confused).await, 401, "alg");
    // An algorithm that does not match the key behind the kid.
    assert_refused(
        &list_with_token(&gw, &ec.sign_as(Algorithm::ES256, "k1", &good)).await,
        401,
        "alg",
    );
    assert_refused(
        &list_with_token(&gw, &key.sign_as(Algorithm::RS384, "k1", &good)).await,
        401,
        "alg",
    );
    // A key the provider did not publish, under a published kid.
    let impostor = Signer::rsa("k1", Algorithm::RS256);
    assert_refused(
        &list_with_token(&gw, &impostor.sign(&good)).await,
        401,
        "signature",
    );
    // Times and issuer.
    assert_refused(
        &list_with_token(&gw, &key.sign(&idp.claims(json!({"exp": now() - 120})))).await,
        401,
        "exp",
    );
    assert_refused(
        &list_with_token(&gw, &key.sign(&idp.claims(json!({"exp": null})))).await,
        401,
        "claims",
    );
    assert_refused(
        &list_with_token(&gw, &key.sign(&idp.claims(json!({"nbf": now() + 120})))).await,
        401,
        "nbf",
    );
    assert_refused(
        &list_with_token(
            &gw,
            &key.sign(&idp.claims(json!({"iss": "https://evil.example"}))),
        )
        .await,
        401,
        "iss",
    );
    // AgentCore's rules.
    assert_refused(
        &list_with_token(&gw, &key.sign(&idp.claims(json!({"aud": ["other"]})))).await,
        401,
        "aud",
    );
    assert_eq!(
        list_with_token(
            &gw,
            &key.sign(&idp.claims(json!({"aud": ["other", "gw-api"]})))
        )
        .await
        .status,
        200
    );
    assert_refused(
        &list_with_token(&gw, &key.sign(&idp.claims(json!({"client_id": "app-9"})))).await,
        401,
        "client_id",
    );
    assert_refused(
        &list_with_token(&gw, &key.sign(&idp.claims(json!({"client_id": null})))).await,
        401,
        "client_id",
    );
    let r = list_with_token(
        &gw,
        &key.sign(&idp.claims(json!({"scope": "openid profile"}))),
    )
    .await;
    assert_refused(&r, 403, "scope");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains(r#"scope="gateway/invoke gateway/admin""#)
    );
    assert_eq!(
        list_with_token(
            &gw,
            &key.sign(&idp.claims(json!({"scope": null, "scp": ["gateway/admin"]})))
        )
        .await
        .status,
        200
    );
    for (claims, what) in [
        (json!({"tenant": "other"}), "EQUALS"),
        (json!({"tenant": ["acme"]}), "EQUALS on an array"),
        (json!({"groups": ["ops"]}), "CONTAINS"),
        (json!({"groups": ["dev"]}), "CONTAINS_ANY"),
        (json!({"groups": null}), "missing claim"),
    ] {
        let r = list_with_token(&gw, &key.sign(&idp.claims(claims))).await;
        assert_eq!(r.status, 403, "{what}: {}", r.text);
        assert_eq!(r.body["error"]["data"]["check"], "customClaims", "{what}");
    }
    assert_eq!(
        list_with_token(
            &gw,
            &key.sign(&idp.claims(json!({"groups": ["dev", "sre"]})))
        )
        .await
        .status,
        200
    );
    // Malformed tokens and headers.
    for auth in [
        "Bearer",
        "Bearer not-a-jwt",
        "Basic YTpi",
        "Bearer a.b.c",
        "Bearer e30.e30.",
        "Token abc.def.ghi",
    ] {
        let r = list_with(&gw, Some(auth)).await;
        assert_eq!(r.status, 401, "{auth}: {}", r.text);
        assert!(!r.text.contains("e30"), "the token is never echoed");
    }
    let two = client()
        .post(gw.url())
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", key.sign(&good)))
        .header("authorization", "Bearer x.y.z")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(two.status().as_u16(), 401);
    assert!(backend.requests().is_empty());
}

#[tokio::test]
async fn key_rotation_is_picked_up_and_removed_keys_stop_working() {
    let idp = Idp::start().await;
    let old = Signer::rsa("old", Algorithm::RS256);
    let new = Signer::rsa("new", Algorithm::RS256);
    idp.publish(&[&old]);
    let (_b, gw) = gateway(&idp, 1).await;
    let old_token = old.sign(&idp.claims(json!({})));
    let new_token = new.sign(&idp.claims(json!({})));
    assert_eq!(list_with_token(&gw, &old_token).await.status, 200);
    assert_refused(&list_with_token(&gw, &new_token).await, 401, "kid");

    idp.publish(&[&old, &new]);
    let mut accepted = false;
    for _ in 0..60 {
        if list_with_token(&gw, &new_token).await.status == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(accepted, "the new key is used after a refresh");

    idp.publish(&[&new]);
    let mut rejected = false;
    for _ in 0..60 {
        if list_with_token(&gw, &old_token).await.status == 401 {
            rejected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        rejected,
        "a token signed by a removed key stops working, even though it was verified before"
    );
    assert_eq!(list_with_token(&gw, &new_token).await.status, 200);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_triggers_a_bounded_number_of_refreshes() {
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&key]);
    let (_b, gw) = gateway(&idp, 600).await;
    let before = idp.jwks_fetches();
    let claims = idp.claims(json!({}));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let token = key.sign_as(Algorithm::RS256, &format!("bogus-{i}"), &claims);
        let url = gw.url();
        tasks.push(tokio::spawn(async move {
            post(
                &url,
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    let extra = idp.jwks_fetches() - before;
    assert!(extra <= 1, "200 unknown kids caused {extra} JWKS fetches");
}

#[tokio::test]
async fn an_unreachable_provider_means_not_ready_until_it_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let discovery = format!("http://{addr}/realms/test/.well-known/openid-configuration");
    let backend = start_backend().await;
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": backend.url()}],
        "paths": {"/x": {"get": {"operationId": "x"}}}})
    .to_string();
    let gw = start_gateway(&config(&discovery, 600), &env(&[("DOC", &doc)])).await;
    let ready = client()
        .get(format!("{}/ready", gw.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let key = Signer::rsa("k1", Algorithm::RS256);
    let early = key.sign(&json!({"iss": "x", "exp": now() + 300}));
    let r = list_with_token(&gw, &early).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.text
            .contains("has not loaded the identity provider's keys yet"),
        "{}",
        r.text
    );
    assert!(r.header("retry-after").is_some());

    // The provider comes up on that address; the gateway retries and becomes ready.
    let idp = Idp::start_on(tokio::net::TcpListener::bind(addr).await.unwrap()).await;
    idp.publish(&[&key]);
    assert!(wait_ready(&gw).await, "ready once the keys load");
    assert_eq!(
        list_with_token(&gw, &key.sign(&idp.claims(json!({}))))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn sessions_are_bound_to_the_principal() {
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&key]);
    let (_b, gw) = gateway(&idp, 600).await;
    let alice = format!("Bearer {}", key.sign(&idp.claims(json!({}))));
    let bob = format!("Bearer {}", key.sign(&idp.claims(json!({"sub": "bob"}))));
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let r = post(&gw.url(), &init, &[("authorization", &alice)]).await;
    let session = r.header("mcp-session-id").unwrap().to_string();
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    assert_eq!(
        post(
            &gw.url(),
            &list,
            &[("authorization", &alice), ("mcp-session-id", &session)]
        )
        .await
        .status,
        200
    );
    let r = post(
        &gw.url(),
        &list,
        &[("authorization", &bob), ("mcp-session-id", &session)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let del = client()
        .delete(gw.url())
        .header("authorization", &bob)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 403);

    // review S7: `sub` and `client_id` are separate namespaces.
    let sub_x = format!("Bearer {}", key.sign(&idp.claims(json!({"sub": "app-1"}))));
    let client_x = format!(
        "Bearer {}",
        key.sign(&idp.claims(json!({"sub": null, "client_id": "app-1"})))
    );
    let r = post(&gw.url(), &init, &[("authorization", &sub_x)]).await;
    let session = r.header("mcp-session-id").unwrap().to_string();
    let r = post(
        &gw.url(),
        &list,
        &[("authorization", &client_x), ("mcp-session-id", &session)],
    )
    .await;
    assert_eq!(r.status, 403, "client_id x is not sub x: {}", r.text);
}

/// review S3: the door comes before the body. An anonymous client announcing a large body
/// is refused from its headers, without the gateway waiting for (or holding) the body.
#[tokio::test]
async fn the_body_is_not_read_before_authentication() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&key]);
    let (_b, gw) = gateway(&idp, 600).await;
    assert!(wait_ready(&gw).await);
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(
        b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("refused without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn a_verified_token_is_not_verified_again() {
    let idp = Idp::start().await;
    let key = Signer::rsa("k1", Algorithm::RS256);
    idp.publish(&[&key]);
    let (_b, gw) = gateway(&idp, 600).await;
    let jwt = gw.state.authorizer.jwt().unwrap();
    let token = key.sign(&idp.claims(json!({})));
    for _ in 0..5 {
        assert_eq!(list_with_token(&gw, &token).await.status, 200);
    }
    assert_eq!(
        jwt.verifications(),
        1,
        "one full verification for five requests"
    );
    let other = key.sign(&idp.claims(json!({"sub": "bob"})));
    assert_eq!(list_with_token(&gw, &other).await.status, 200);
    assert_eq!(jwt.verifications(), 2);
    // A refused token is never remembered.
    let scoped = key.sign(&idp.claims(json!({"scope": "none"})));
    assert_eq!(list_with_token(&gw, &scoped).await.status, 403);
    assert_eq!(list_with_token(&gw, &scoped).await.status, 403);
    assert_eq!(jwt.verifications(), 4);
}
