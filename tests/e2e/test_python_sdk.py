"""End to end: the official MCP Python SDK (`mcp` 2.x) drives the real gateway binary, which
calls the real example backend (SigV4 for /pets, an API key for /orders), over loopback.

Run from the repository root after `cargo build --bin mcp-gateway --example petstore-backend`:
    python -m pytest tests/e2e
"""

import asyncio
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from mcp import Client

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / os.environ.get("E2E_PROFILE", "debug")
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "AKIDE2ETEST",
    "AWS_SECRET_ACCESS_KEY": "e2e-secret-key",
    "PETSTORE_API_KEY": "e2e-api-key",
    "RUST_LOG": "info",
}
ENV.pop("AWS_SESSION_TOKEN", None)


def _start(cmd, env, pattern, timeout=30.0):
    """Starts `cmd` and waits for a stderr line matching `pattern`; returns (process, match)."""
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return proc, m
    proc.kill()
    raise RuntimeError(f"{cmd[0]} did not start:\n" + "".join(lines))


@pytest.fixture(scope="module")
def gateway_url():
    backend, m = _start(
        [str(TARGET / "examples" / "petstore-backend")],
        {**ENV, "PETSTORE_LISTEN": "127.0.0.1:0"},
        r"listening on (http://\S+)/dev",
    )
    env = {**ENV, "PETSTORE_URL": m.group(1)}
    gateway, g = _start(
        [str(TARGET / "mcp-gateway"), "--log-format", "json", "serve",
         "--config", "examples/petstore/gateway.yaml", "--listen", "127.0.0.1:0"],
        env,
        r"listening on (http://\S+/mcp)",
    )
    # Drain the gateway's logs so it never blocks on a full pipe.
    logs = []

    def drain():
        for line in gateway.stderr:
            logs.append(line)

    import threading

    threading.Thread(target=drain, daemon=True).start()
    yield g.group(1)
    gateway.terminate()
    backend.terminate()
    assert gateway.wait(timeout=10) == 0, "the gateway exits cleanly on SIGTERM"
    backend.wait(timeout=10)
    for secret in ("e2e-secret-key", "e2e-api-key"):
        assert not any(secret in line for line in logs), f"a secret reached the logs: {secret}"


EXPECTED_TOOLS = [
    "api-gateway-target-1___Add_Pet",
    "api-gateway-target-1___GetPetById",
    "api-gateway-target-1___List_Pets",
    "api-gateway-target-2___GetOrderById",
]


async def _session(url, mode):
    async with Client(url, mode=mode) as client:
        info = {"version": client.protocol_version, "instructions": client.instructions}
        listed = await client.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert sorted(tools) == EXPECTED_TOOLS
        assert tools["api-gateway-target-1___GetPetById"].input_schema == {
            "type": "object",
            "properties": {"petId": {"type": "string"}},
            "required": ["petId"],
        }
        assert tools["api-gateway-target-1___List_Pets"].annotations.read_only_hint is True

        pets = await client.call_tool("api-gateway-target-1___List_Pets", {"type": "cat"})
        assert not pets.is_error, pets
        assert json.loads(pets.content[0].text) == [{"id": 2, "type": "cat", "price": 124.99}]

        pet = await client.call_tool("api-gateway-target-1___GetPetById", {"petId": "3"})
        assert not pet.is_error
        assert pet.structured_content == {"id": 3, "type": "fish", "price": 0.99}

        added = await client.call_tool("api-gateway-target-1___Add_Pet", {"type": "gecko", "price": 42})
        assert not added.is_error
        assert added.structured_content["pet"]["type"] == "gecko"

        order = await client.call_tool("api-gateway-target-2___GetOrderById", {"orderId": "2"})
        assert not order.is_error, order.content[0].text
        assert order.structured_content["deliveryDate"] == "2026-12-02"

        missing = await client.call_tool("api-gateway-target-1___GetPetById", {"petId": "999"})
        assert missing.is_error
        assert missing.content[0].text.startswith("HTTP 404 Not Found")

        invalid = await client.call_tool("api-gateway-target-1___Add_Pet", {"type": "dragon"})
        assert invalid.is_error
        assert "argument `type`" in invalid.content[0].text
        return info


def test_handshake_version(gateway_url):
    info = asyncio.run(_session(gateway_url, "legacy"))
    assert info["version"] == "2025-11-25"
    assert "pet store" in info["instructions"]


def test_stateless_2026_07_28(gateway_url):
    info = asyncio.run(_session(gateway_url, "2026-07-28"))
    assert info["version"] == "2026-07-28"


def test_auto_mode_discovers_the_modern_version(gateway_url):
    info = asyncio.run(_session(gateway_url, "auto"))
    assert info["version"] == "2026-07-28"
    assert "pet store" in info["instructions"]


def test_metrics_parse_with_the_official_openmetrics_parser(gateway_url):
    """The Prometheus project's own Python client parses `/metrics` (strict OpenMetrics)
    after the SDK's calls, and the counts are those calls'."""
    import urllib.request

    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    def scrape():
        with urllib.request.urlopen(gateway_url.replace("/mcp", "/metrics")) as resp:
            assert resp.headers["content-type"].startswith("application/openmetrics-text")
            text = resp.read().decode()
        return {f.name: f for f in text_string_to_metric_families(text)}

    def count(families, name, **labels):
        family = families.get(name)  # a family with no samples yet is not exposed
        return sum(
            s.value for s in (family.samples if family else [])
            if s.name == name + "_total" and all(s.labels.get(k) == v for k, v in labels.items())
        )

    tool = "api-gateway-target-1___GetPetById"
    before = scrape()
    calls_before = count(before, "mcp_gateway_invocations", method="tools/call", tool=tool)

    async def calls():
        async with Client(gateway_url, mode="legacy") as client:
            for pet in (1, 2, 3):
                result = await client.call_tool(tool, {"petId": pet})
                assert not result.is_error, result.content[0].text

    asyncio.run(calls())
    after = scrape()
    assert count(after, "mcp_gateway_invocations", method="tools/call", tool=tool) == calls_before + 3
    outcomes = count(after, "mcp_gateway_tool_calls", tool=tool, outcome="success")
    assert outcomes >= 3
    assert after["mcp_gateway_target_execution_time_seconds"].type == "histogram"
    statuses = {s.labels["target"]: s.labels["status"] for s in after["mcp_gateway_target_status"].samples}
    assert statuses == {"api-gateway-target-1": "READY", "api-gateway-target-2": "READY"}
