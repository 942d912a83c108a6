"""SigV4 against an independent implementation (redteam item 1 of the hardening issue).

The official MCP Python SDK calls tools through the real gateway binary; a recording backend
keeps each request exactly as it arrived on the socket, and botocore's own `SigV4Auth`
recomputes the signature from those bytes. The gateway's verifier shares its canonicalisation
with its signer, so only a check like this one can catch a disagreement with AWS: a space once
went out as `+`, which botocore reads as a literal plus and rejects.

Run from the repository root after `cargo build --bin mcp-gateway`:
    python -m pytest tests/e2e/test_sigv4_botocore.py
"""

import asyncio
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mcp import Client

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / os.environ.get("E2E_PROFILE", "debug")
GATEWAY = Path(os.environ.get("MCP_GATEWAY_BIN", TARGET / "mcp-gateway"))
AKID, SECRET, TOKEN = "AKIDBOTOCORE", "botocore-secret-key", "botocore-session-token"
SERVICE, REGION = "execute-api", "us-west-2"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Keeps every request as received (method, raw target, headers, body); echoes it."""

    seen = []

    def _handle(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        Recorder.seen.append((self.command, self.path, list(self.headers.items()), body))
        out = json.dumps({"target": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _handle

    def log_message(self, *args):
        pass


def botocore_verifies(method, target, headers, body):
    """Recomputes the request's signature with botocore; returns (ours, botocore's)."""
    headers = {k.lower(): v for k, v in headers}
    auth = headers["authorization"]
    signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
    theirs = re.search(r"Signature=([0-9a-f]+)", auth).group(1)
    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{target}",
        headers={name: headers[name] for name in signed},
        data=body,
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(AKID, SECRET, TOKEN), SERVICE, REGION)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return theirs, expected, canonical


@pytest.fixture(scope="module")
def gateway_url():
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{backend.server_address[1]}"
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "books", "version": "1"},
        "servers": [{"url": base + "/prod"}],
        "paths": {
            "/books/{id}": {
                "get": {
                    "operationId": "getBook",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "genre", "in": "query", "schema": {"type": "string"}},
                        {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    ],
                }
            },
            "/books": {
                "post": {
                    "operationId": "addBook",
                    "parameters": [{"name": "dry run", "in": "query", "schema": {"type": "boolean"}}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"title": {"type": "string"}}}}},
                    },
                }
            },
        },
    }
    tmp = Path(tempfile.mkdtemp(prefix="mcp-gw-botocore-"))
    (tmp / "books.json").write_text(json.dumps(doc))
    (tmp / "gateway.yaml").write_text(
        "gateway: {name: books, authorizerType: NONE}\n"
        "targets:\n"
        "  - name: books\n"
        "    targetConfiguration: {mcp: {openApiSchema: {file: books.json}}}\n"
        "    credentialProviderConfigurations:\n"
        "      - credentialProviderType: GATEWAY_IAM_ROLE\n"
        f"        credentialProvider: {{iamCredentialProvider: {{service: {SERVICE}, region: {REGION}}}}}\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": AKID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        "RUST_LOG": "warn,mcp_gateway=info",
    }
    proc = subprocess.Popen(
        [str(GATEWAY), "serve", "--config", str(tmp / "gateway.yaml"), "--listen", "127.0.0.1:0"],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    url = None
    while time.monotonic() < deadline and url is None:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        m = re.search(r"listening on (http://\S+/mcp)", line)
        url = m.group(1) if m else None
    assert url, "the gateway did not start"
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    backend.shutdown()


AWKWARD = [
    "science fiction", "a+b", "ü", "100%", "~tilde", "*star*", "it's", "a;b", "a=b&c",
    "(x)", "!$@:", "[]", "日本", "a/b", "tab\there", "",
]


async def _calls(url):
    async with Client(url, mode="legacy") as client:
        for value in AWKWARD:
            args = {"id": value or "empty", "genre": value, "tags": [value, "x y"], "X-Trace": "t 1"}
            result = await client.call_tool("books___getBook", args)
            assert not result.is_error, (value, result.content[0].text)
        # A number for a string parameter (MCP Inspector's CLI sends `--tool-arg id=3` so).
        result = await client.call_tool("books___getBook", {"id": 3})
        assert not result.is_error, result.content[0].text
        assert result.structured_content["target"] == "/prod/books/3"
        result = await client.call_tool("books___addBook", {"title": "Dune & more", "dry run": True})
        assert not result.is_error, result.content[0].text


def test_botocore_verifies_every_signature(gateway_url):
    Recorder.seen.clear()
    asyncio.run(_calls(gateway_url))
    assert len(Recorder.seen) == len(AWKWARD) + 2
    for method, target, headers, body in Recorder.seen:
        ours, expected, canonical = botocore_verifies(method, target, headers, body)
        assert ours == expected, f"{method} {target}: botocore computes another signature\n{canonical}"
    # What was sent is what was meant: spaces are %20, never `+`.
    method, target, _, _ = Recorder.seen[0]
    assert "genre=science%20fiction" in target, target
    assert unquote(target.split("genre=")[1].split("&")[0]) == "science fiction"
    assert "dry%20run=true" in Recorder.seen[-1][1]
