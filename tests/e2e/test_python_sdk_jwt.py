"""End to end with inbound CUSTOM_JWT: the official MCP Python SDK sends a bearer token issued
by a small OIDC provider (discovery + JWKS over HTTP on 127.0.0.1, an RSA key made here) to the
real gateway binary, which verifies it and calls the example backend."""

import asyncio
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from test_python_sdk import ENV, ROOT, TARGET, _start

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "e2e-key", "alg": "RS256", "use": "sig"}


class Provider(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        docs = {
            "/.well-known/openid-configuration": {"issuer": base, "jwks_uri": f"{base}/jwks"},
            "/jwks": {"keys": [JWK]},
        }
        doc = docs.get(self.path)
        self.send_response(200 if doc else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(doc or {}).encode())

    def log_message(self, *args):
        pass


def token(issuer, **claims):
    now = int(time.time())
    body = {"iss": issuer, "sub": "e2e-user", "client_id": "e2e-client", "scope": "mcp/invoke", "iat": now, "exp": now + 300}
    body.update(claims)
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "e2e-key", "typ": "at+jwt"})


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    provider = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{provider.server_address[1]}"
    backend, m = _start(
        [str(TARGET / "examples" / "petstore-backend")],
        {**ENV, "PETSTORE_LISTEN": "127.0.0.1:0"},
        r"listening on (http://\S+)/dev",
    )
    config = tmp_path_factory.mktemp("jwt") / "gateway.yaml"
    config.write_text(
        f"""
gateway:
  name: e2e-jwt
  authorizerType: CUSTOM_JWT
  authorizerConfiguration:
    customJWTAuthorizer:
      discoveryUrl: {issuer}/.well-known/openid-configuration
      allowedClients: [e2e-client]
      allowedScopes: [mcp/invoke]
  region: us-west-2
credentialProviders:
  apiKeys: [{{name: key, apiKeyEnv: PETSTORE_API_KEY}}]
targets:
  - name: orders
    targetConfiguration:
      mcp:
        apiGateway:
          restApiId: abc123defg
          stage: dev
          exportFile: {ROOT / "examples/petstore/petstore-export.json"}
          invokeUrl: {m.group(1)}/dev
          apiGatewayToolConfiguration:
            toolFilters: [{{filterPath: "/orders/{{orderId}}", methods: [GET]}}]
    credentialProviderConfigurations:
      - credentialProviderType: API_KEY
        credentialProvider: {{apiKeyCredentialProvider: {{providerArn: key, credentialParameterName: x-api-key}}}}
"""
    )
    gateway, g = _start(
        [str(TARGET / "mcp-gateway"), "--log-format", "json", "serve", "--config", str(config), "--listen", "127.0.0.1:0"],
        ENV,
        r"listening on (http://\S+/mcp)",
    )
    logs = []
    threading.Thread(target=lambda: logs.extend(gateway.stderr), daemon=True).start()
    url = g.group(1)
    ready = url.replace("/mcp", "/ready")
    for _ in range(100):
        try:
            if urllib.request.urlopen(ready).status == 200:
                break
        except OSError:
            time.sleep(0.05)
    yield url, issuer, logs
    gateway.terminate()
    backend.terminate()
    gateway.wait(timeout=10)
    backend.wait(timeout=10)
    provider.shutdown()


async def _call(url, bearer, mode):
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {bearer}"})
    async with http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            assert [t.name for t in tools.tools] == ["orders___GetOrder"]
            result = await client.call_tool("orders___GetOrder", {"orderId": "3"})
            assert not result.is_error, result.content[0].text
            return client.protocol_version, result.structured_content


@pytest.mark.parametrize("mode,version", [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")])
def test_bearer_token_is_verified(secured, mode, version):
    url, issuer, logs = secured
    bearer = token(issuer)
    got_version, order = asyncio.run(_call(url, bearer, mode))
    assert got_version == version
    assert order["deliveryDate"] == "2026-12-03"
    assert not any(bearer in line for line in logs), "the token never reaches the logs"


def test_missing_or_insufficient_tokens_are_refused(secured):
    url, issuer, _ = secured
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    for bearer, status in [(None, 401), (token(issuer, scope="other"), 403), (token(issuer, client_id="intruder"), 401)]:
        req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == status
        assert "resource_metadata=" in err.value.headers["WWW-Authenticate"]
