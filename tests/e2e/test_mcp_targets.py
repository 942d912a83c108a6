"""End to end: the gateway federates upstream MCP servers built on the official Python SDK
(stateful with sessions and a bearer token and paged tool lists; stateless with JSON replies;
one that predates 2026-07-28) beside the example's API Gateway target, and the official Python
SDK client drives it in both eras.

Run from the repository root after `cargo build --bin mcp-gateway --example petstore-backend`.
"""

import asyncio
import subprocess
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from mcp import Client

from test_python_sdk import ENV, ROOT, TARGET, _start

UPSTREAM = ROOT / "tests" / "e2e" / "upstream_mcp.py"


def _upstream(*flags):
    proc, m = _start(
        [sys.executable, str(UPSTREAM), *flags], ENV, r"listening on (http://\S+/mcp)"
    )
    return proc, m.group(1)


@pytest.fixture(scope="module")
def federation():
    procs = []
    backend, m = _start(
        [str(TARGET / "examples" / "petstore-backend")],
        {**ENV, "PETSTORE_LISTEN": "127.0.0.1:0"},
        r"listening on (http://\S+)/dev",
    )
    procs.append(backend)
    petstore = m.group(1)
    stateful, stateful_url = _upstream("--page-size", "3", "--token", "up-token")
    stateless, stateless_url = _upstream("--stateless", "--json")
    legacy, legacy_url = _upstream("--legacy")
    procs += [stateful, stateless, legacy]
    export = ROOT / "examples" / "petstore" / "petstore-export.json"
    config = f"""
gateway:
  name: federation
  authorizerType: NONE
  region: us-west-2
  protocolConfiguration: {{mcp: {{supportedVersions: ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]}}}}
credentialProviders:
  apiKeys: [{{name: upstream-token, apiKeyEnv: UPSTREAM_TOKEN}}]
targets:
  - name: pets
    targetConfiguration:
      mcp:
        apiGateway:
          restApiId: abc123defg
          stage: dev
          exportFile: {export}
          invokeUrl: {petstore}/dev
          apiGatewayToolConfiguration:
            toolFilters: [{{filterPath: /pets, methods: [GET]}}]
            toolOverrides: [{{name: List_Pets, path: /pets, method: GET}}]
    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]
  - name: py
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "{stateful_url}"}}}}}}
    credentialProviderConfigurations:
      - credentialProviderType: API_KEY
        credentialProvider: {{apiKeyCredentialProvider: {{providerArn: upstream-token}}}}
  - name: pyless
    targetConfiguration:
      mcp:
        mcpServer:
          endpoint: "{stateless_url}"
          mcpServerToolConfiguration:
            toolFilters: [{{toolName: echo}}, {{toolName: "ad*"}}]
            toolOverrides: [{{toolName: echo, name: say, description: Says it back}}]
  - name: old
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "{legacy_url}"}}}}}}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config)
        path = f.name
    env = {**ENV, "UPSTREAM_TOKEN": "up-token"}
    gateway, g = _start(
        [str(TARGET / "mcp-gateway"), "--log-format", "json", "serve", "--config", path,
         "--listen", "127.0.0.1:0"],
        env,
        r"listening on (http://\S+/mcp)",
    )
    logs = []
    threading.Thread(target=lambda: [logs.append(l) for l in gateway.stderr], daemon=True).start()
    url = g.group(1)
    yield url
    gateway.terminate()
    assert gateway.wait(timeout=10) == 0, "the gateway exits cleanly on SIGTERM"
    for p in procs:
        p.terminate()
        p.wait(timeout=10)
    os.unlink(path)
    assert not any("up-token" in line for line in logs), "the upstream token reached the logs"


def _ready(url):
    import urllib.request

    with urllib.request.urlopen(url.replace("/mcp", "/ready")) as r:
        return json.loads(r.read())


async def _wait_for(client, name, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        names = {t.name for t in (await client.list_tools()).tools}
        if name in names or time.monotonic() > deadline:
            return names
        await asyncio.sleep(0.1)


async def _federated(url, mode):
    async with Client(url, mode=mode, cache=None) as client:
        names = await _wait_for(client, "old___echo")
        names |= await _wait_for(client, "py___add")
        names |= await _wait_for(client, "pyless___say")
        for expected in [
            "pets___List_Pets",
            "py___add", "py___echo", "py___fail", "py___grow", "py___image", "py___slow", "py___whoami",
            "pyless___say", "pyless___add",
            "old___echo", "old___whoami",
        ]:
            assert expected in names, (expected, sorted(names), _ready(url))
        # The allow-list leaves the rest of pyless out.
        assert "pyless___image" not in names

        added = await client.call_tool("py___add", {"a": 2, "b": 3})
        assert not added.is_error, added
        assert added.structured_content == {"sum": 5}

        said = await client.call_tool("pyless___say", {"text": "héllo wörld"})
        assert said.content[0].text == "héllo wörld"

        image = await client.call_tool("py___image", {})
        assert image.content[0].text == "a picture"
        assert image.content[1].type == "image" and image.content[1].mime_type == "image/png"

        failed = await client.call_tool("py___fail", {})
        assert failed.is_error
        assert "fail" in failed.content[0].text

        # The stateful upstream got the bearer token; the legacy one its own session.
        who = json.loads((await client.call_tool("py___whoami", {})).content[0].text)
        assert who["authorization"] == "Bearer up-token"
        old = json.loads((await client.call_tool("old___whoami", {})).content[0].text)
        assert old["mcp-protocol-version"] in ("2025-11-25", "2025-06-18")
        assert old.get("mcp-session-id")

        pets = await client.call_tool("pets___List_Pets", {})
        assert not pets.is_error, pets.content[0].text
        return client.protocol_version


def test_federation_handshake_client(federation):
    assert asyncio.run(_federated(federation, "legacy")) == "2025-11-25"


def test_federation_auto_client(federation):
    assert asyncio.run(_federated(federation, "auto")) == "2026-07-28"


def test_list_changed_reaches_a_listening_client(federation):
    async def run():
        heard = asyncio.Event()

        async def on_message(message):
            method = getattr(getattr(message, "root", message), "method", None)
            if method == "notifications/tools/list_changed":
                heard.set()

        async with Client(federation, mode="legacy", message_handler=on_message, cache=None) as client:
            await _wait_for(client, "py___grow")
            grown = await client.call_tool("py___grow", {"name": "late_tool"})
            assert not grown.is_error, grown
            await asyncio.wait_for(heard.wait(), timeout=10)
            names = await _wait_for(client, "py___late_tool")
            assert "py___late_tool" in names
            late = await client.call_tool("py___late_tool", {})
            assert late.content[0].text == "I am late_tool"

    asyncio.run(run())


TS = ROOT / "tests" / "e2e" / "ts"


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def everything():
    """The TypeScript SDK's reference server (`server-everything`) behind the gateway."""
    port = _free_port()
    server = subprocess.Popen(
        ["node", "--import", "./loopback.mjs",
         "node_modules/@modelcontextprotocol/server-everything/dist/index.js", "streamableHttp"],
        cwd=TS, env={**ENV, "PORT": str(port)}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if "listening on port" in line:
            break
    else:
        server.kill()
        raise RuntimeError("server-everything did not start")
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    config = f"""
gateway: {{name: everything-gw, authorizerType: NONE}}
targets:
  - name: everything
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "http://127.0.0.1:{port}/mcp"}}}}}}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config)
        path = f.name
    gateway, g = _start(
        [str(TARGET / "mcp-gateway"), "serve", "--config", path, "--listen", "127.0.0.1:0"],
        ENV,
        r"listening on (http://\S+/mcp)",
    )
    threading.Thread(target=lambda: [None for _ in gateway.stderr], daemon=True).start()
    yield g.group(1)
    gateway.terminate()
    assert gateway.wait(timeout=10) == 0
    server.terminate()
    server.wait(timeout=10)
    os.unlink(path)


def _wait_ready(url, target, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = {t["name"]: t for t in _ready(url)["targets"]}
        if status[target]["status"] == "READY":
            return status[target]
        time.sleep(0.1)
    raise AssertionError(_ready(url))


def test_typescript_client_through_the_gateway_to_the_reference_server(everything):
    status = _wait_ready(everything, "everything")
    assert status["tools"] >= 10, status
    done = subprocess.run(
        ["node", "client.mjs", everything], cwd=TS, env=ENV, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "everything___echo" in out["tools"] and "everything___get-sum" in out["tools"]
    assert out["echo"]["content"][0]["text"] == "Echo: hello from TS"
    assert "42" in out["sum"]["content"][0]["text"]
    image = [c for c in out["image"]["content"] if c["type"] == "image"][0]
    assert image["mimeType"] == "image/png" and len(image["data"]) > 100
    assert out["structured"]["structuredContent"]["conditions"], out["structured"]
    links = [c for c in out["links"]["content"] if c["type"] == "resource_link"]
    assert len(links) == 2, out["links"]
    # The reference server's prompts, resources, templates and completions.
    assert {"prompts", "resources", "completions"} <= set(out["capabilities"]), out["capabilities"]
    assert {"everything___simple-prompt", "everything___args-prompt"} <= set(out["prompts"]), out["prompts"]
    assert out["prompt"]["messages"][0]["content"]["text"] == "What's weather in Oslo?"
    assert out["promptCompletion"]["completion"]["values"] == ["Engineering"]
    assert "demo://resource/static/document/architecture.md" in out["resources"], out["resources"]
    assert out["firstResource"]["contents"][0]["uri"] == out["resources"][0]
    assert "demo://resource/dynamic/text/{resourceId}" in out["templates"], out["templates"]
    assert out["dynamic"]["contents"][0]["uri"] == "demo://resource/dynamic/text/7"
    assert "7" in out["dynamic"]["contents"][0]["text"]
    assert out["templateCompletion"]["completion"]["values"] == ["12"]
    assert out["capabilities"]["resources"]["subscribe"] is True
    assert "demo://resource/static/document/architecture.md" in out["updated"], out["updated"]


def test_python_client_through_the_gateway_to_the_reference_server(everything):
    _wait_ready(everything, "everything")

    async def run():
        async with Client(everything, mode="legacy") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert tools["everything___get-structured-content"].output_schema is not None
            r = await client.call_tool("everything___get-structured-content", {"location": "New York"})
            assert r.structured_content["temperature"] is not None
            seen = []

            async def on_progress(progress, total, message):
                seen.append((progress, total))

            r = await client.call_tool(
                "everything___trigger-long-running-operation", {"duration": 1, "steps": 2},
                progress_callback=on_progress,
            )
            assert not r.is_error, r
            # The reference server's progress, relayed through the gateway.
            assert seen and seen[-1][1] == 2, seen

    asyncio.run(run())


def test_a_tool_runs_as_a_task_through_the_gateway_at_the_reference_server(everything):
    """2025-11-25 tasks: the gateway advertises task-augmented `tools/call` because the
    reference server takes it, and the TypeScript SDK client creates, polls, fetches and
    cancels tasks through it, under task ids of the gateway's own."""
    _wait_ready(everything, "everything")
    done = subprocess.run(
        ["node", "tasks.mjs", everything], cwd=TS, env=ENV, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["capabilities"]["tasks"]["requests"]["tools"]["call"] == {}, out["capabilities"]
    assert "list" not in out["capabilities"]["tasks"]
    assert out["execution"] == {"taskSupport": "required"}
    created = out["created"]
    # The id is the gateway's: long, sealed, and not the upstream's (a UUID).
    assert len(created["taskId"]) > 60 and created["status"] == "working", created
    assert "error" not in out, out
    report = out["result"]["content"][0]["text"]
    assert "Research Report: tides" in report, report
    # The result names its task by the gateway's id; the upstream's is nowhere.
    assert out["result"]["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": created["taskId"]}
    assert out["after"]["status"] == "completed" and out["after"]["taskId"] == created["taskId"]
    assert out["cancelled"]["status"] == "cancelled", out["cancelled"]
    assert out["cancelled"]["taskId"] == out["second"]["taskId"] != created["taskId"]
    assert "Unknown task" in out["forged"], out["forged"]
    # The task that asked: the question reached the client, its answer shaped the report.
    assert len(out["asked"]) == 1 and "python" in out["asked"][0], out
    assert "Clarification**: programming" in out["clarified"]["content"][0]["text"], out


def test_the_reference_servers_elicitation_sampling_and_roots_tools_work_through_the_gateway(everything):
    """server-everything offers its elicitation, sampling and roots tools only to clients that
    can answer them; the gateway lists them (its own session declares what it can relay) and
    relays the server's requests to a Python SDK client that answers them."""
    from mcp.types import CreateMessageResult, ElicitResult, ListRootsResult, Root, TextContent

    _wait_ready(everything, "everything")
    asked = []

    async def on_elicit(context, params):
        asked.append("elicit")
        return ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True})

    async def on_sample(context, params):
        asked.append("sample")
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="a gateway passes it on"), model="m-1"
        )

    async def on_roots(context):
        asked.append("roots")
        return ListRootsResult(roots=[Root(uri="file:///srv/project", name="project")])

    async def run():
        async with Client(
            everything, mode="legacy", elicitation_callback=on_elicit, sampling_callback=on_sample,
            list_roots_callback=on_roots, logging_callback=on_log,
        ) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            for tool in ("trigger-elicitation-request", "trigger-sampling-request", "get-roots-list"):
                assert f"everything___{tool}" in names, names
            r = await client.call_tool("everything___trigger-elicitation-request", {})
            text = " ".join(c.text for c in r.content)
            assert "User provided the requested information" in text and "Ada Lovelace" in text, text
            r = await client.call_tool("everything___trigger-sampling-request", {"prompt": "hi", "maxTokens": 20})
            assert "a gateway passes it on" in r.content[0].text, r
            r = await client.call_tool("everything___get-roots-list", {})
            assert "file:///srv/project" in r.content[0].text, r
            assert {"elicit", "sample", "roots"} <= set(asked), asked
            # The server's log messages, sent unbidden on its own stream of this client's
            # session, reach the client's GET stream (one at once, then one every 5 s).
            simulated = lambda: [m for m in logged if "SessionId" in m]  # noqa: E731
            await client.call_tool("everything___toggle-simulated-logging", {})
            for _ in range(80):
                if simulated():
                    break
                await asyncio.sleep(0.1)
            await client.call_tool("everything___toggle-simulated-logging", {})
            assert simulated(), logged

    logged = []

    async def on_log(params):
        logged.append(str(params.data))

    asyncio.run(run())


def test_a_2026_client_answers_the_reference_servers_questions_through_held_calls(everything):
    """The same tools from a 2026-07-28 client: the handshake-era server asks mid-call, the
    gateway holds the call and asks the client with `input_required`."""
    from mcp.types import CreateMessageResult, ElicitResult, TextContent

    _wait_ready(everything, "everything")

    async def on_elicit(context, params):
        return ElicitResult(action="accept", content={"name": "Grace Hopper", "check": True})

    async def on_sample(context, params):
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="held and resumed"), model="m-2"
        )

    async def run():
        async with Client(
            everything, mode="auto", elicitation_callback=on_elicit, sampling_callback=on_sample, cache=None
        ) as client:
            assert client.protocol_version == "2026-07-28"
            r = await client.call_tool("everything___trigger-elicitation-request", {})
            text = " ".join(c.text for c in r.content)
            assert "Grace Hopper" in text, text
            r = await client.call_tool("everything___trigger-sampling-request", {"prompt": "hi", "maxTokens": 20})
            assert "held and resumed" in r.content[0].text, r

    asyncio.run(run())
