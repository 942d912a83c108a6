"""End to end: prompts, resources, resource templates and completions of upstream MCP servers
(the official Python SDK's server) through the gateway, driven by the official Python SDK
client in both eras. Two upstreams serve the same URIs; `resourcePriority` decides which one
answers.

Run from the repository root after `cargo build --bin mcp-gateway --example petstore-backend`.
"""

import asyncio
import contextlib
import os
import tempfile
import threading
import time

import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from test_mcp_targets import _ready, _upstream
from test_python_sdk import ENV, TARGET, _start


@contextlib.contextmanager
def _gateway(config, upstreams):
    """A gateway on `config`, once every target is READY; at the end it must exit cleanly,
    and the `upstreams` are stopped."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config)
        path = f.name
    gateway, g = _start(
        [str(TARGET / "mcp-gateway"), "serve", "--config", path, "--listen", "127.0.0.1:0"],
        ENV,
        r"listening on (http://\S+/mcp)",
    )
    threading.Thread(target=lambda: [None for _ in gateway.stderr], daemon=True).start()
    url = g.group(1)
    deadline = time.monotonic() + 20
    while not all(t["status"] == "READY" for t in _ready(url)["targets"]):
        assert time.monotonic() < deadline, _ready(url)
        time.sleep(0.1)
    try:
        yield url
    finally:
        gateway.terminate()
        assert gateway.wait(timeout=10) == 0
        for p in upstreams:
            p.terminate()
            p.wait(timeout=10)
        os.unlink(path)


@pytest.fixture(scope="module")
def surface():
    alpha, alpha_url = _upstream("--docs", "alpha", "--stateless", "--json")
    beta, beta_url = _upstream("--docs", "beta")
    tools_only, tools_url = _upstream("--stateless")
    config = f"""
gateway: {{name: surface, authorizerType: NONE, exceptionLevel: DEBUG}}
targets:
  - name: beta
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "{beta_url}"}}}}}}
  - name: alpha
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "{alpha_url}", resourcePriority: 10}}}}}}
  - name: plain
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "{tools_url}"}}}}}}
"""
    with _gateway(config, (alpha, beta, tools_only)) as url:
        yield url


async def _use_everything(url, mode):
    async with Client(url, mode=mode, cache=None) as client:
        caps = client.server_capabilities
        assert caps.prompts is not None and caps.resources is not None
        assert caps.completions is not None

        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"alpha___greet", "beta___greet"}, prompts
        assert [a.name for a in prompts["beta___greet"].arguments] == ["who"]
        got = await client.get_prompt("beta___greet", {"who": "Ann"})
        assert got.messages[0].content.text == "Hello, Ann! (beta)"
        got = await client.get_prompt("alpha___greet", {"who": "Bo"})
        assert got.messages[0].content.text == "Hello, Bo! (alpha)"

        # One entry per URI; the shared one is alpha's (resourcePriority 10 beats 1000).
        resources = [str(r.uri) for r in (await client.list_resources()).resources]
        assert sorted(resources) == ["docs://only/alpha", "docs://only/beta", "docs://shared"]
        shared = await client.read_resource("docs://shared")
        assert shared.contents[0].text == "shared from alpha"
        only = await client.read_resource("docs://only/beta")
        assert only.contents[0].text == "only beta"

        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["docs://pages/{page}"]
        # A URI no one lists is routed by the template, to the target that wins it.
        page = await client.read_resource("docs://pages/intro")
        assert page.contents[0].text == "page intro from alpha"

        done = await client.complete(PromptReference(type="ref/prompt", name="beta___greet"), {"name": "who", "value": "b"})
        assert done.completion.values == ["bob"]
        done = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="docs://pages/{page}"), {"name": "page", "value": "in"}
        )
        assert done.completion.values == ["install", "intro"]

        # Unknown names and URIs are the client's mistake, said as such.
        with pytest.raises(Exception, match="Unknown prompt"):
            await client.get_prompt("nobody___greet", {"who": "x"})
        with pytest.raises(Exception, match="Resource not found"):
            await client.read_resource("elsewhere://nothing")
        return client.protocol_version


def test_prompts_and_resources_handshake_era(surface):
    assert asyncio.run(_use_everything(surface, "legacy")) == "2025-11-25"


def test_prompts_and_resources_2026_07_28(surface):
    assert asyncio.run(_use_everything(surface, "auto")) == "2026-07-28"


def test_prompt_list_changes_reach_listening_clients_in_both_eras(surface):
    async def run():
        heard = asyncio.Event()

        async def on_message(message):
            method = getattr(getattr(message, "root", message), "method", None)
            if method == "notifications/prompts/list_changed":
                heard.set()

        async with Client(surface, mode="auto", cache=None) as modern:
            async with modern.listen(prompts_list_changed=True) as sub:
                async with Client(surface, mode="legacy", message_handler=on_message, cache=None) as old:
                    added = await old.call_tool("beta___add_prompt", {"name": "late"})
                    assert not added.is_error, added
                    # The upstream's list_changed reaches the gateway; its own reaches both clients.
                    await asyncio.wait_for(heard.wait(), timeout=10)
                    event = await asyncio.wait_for(sub.__anext__(), timeout=10)
                    assert "prompt" in repr(event).lower(), event
                    names = {p.name for p in (await old.list_prompts()).prompts}
                    assert "beta___late" in names, names
                    got = await modern.get_prompt("beta___late")
                    assert got.messages[0].content.text == "I am late"

    asyncio.run(run())


def test_resource_updates_reach_a_2026_client_only_for_what_it_subscribed(surface):
    async def run():
        async with Client(surface, mode="auto", cache=None) as client:
            assert client.server_capabilities.resources.subscribe is True
            async with client.listen(resource_subscriptions=["docs://only/alpha"]) as sub:
                assert "docs://only/alpha" in repr(sub.honored), sub.honored

                async def touch():
                    # The gateway reopens its upstream stream with the new URI; touch until the
                    # update arrives, the unsubscribed URI first each time.
                    while True:
                        await client.call_tool("alpha___touch", {"uri": "docs://shared"})
                        await client.call_tool("alpha___touch", {"uri": "docs://only/alpha"})
                        await asyncio.sleep(0.3)

                toucher = asyncio.create_task(touch())
                try:
                    event = await asyncio.wait_for(sub.__anext__(), timeout=10)
                finally:
                    toucher.cancel()
                # Only what it subscribed to is delivered.
                assert "docs://only/alpha" in repr(event) and "shared" not in repr(event), event

    asyncio.run(run())


def test_a_gateway_without_prompt_sources_does_not_advertise_them(gateway_url):
    async def run():
        async with Client(gateway_url, mode="legacy") as client:
            caps = client.server_capabilities
            assert caps.tools is not None
            assert caps.prompts is None and caps.resources is None and caps.completions is None
            with pytest.raises(Exception, match="Method not found"):
                await client.list_prompts()

    asyncio.run(run())


from test_python_sdk import gateway_url  # noqa: E402,F401 - the example's gateway (OpenAPI only)


@pytest.fixture(scope="module")
def asking():
    """A handshake-era upstream with sessions that asks its client things mid-call."""
    upstream, upstream_url = _upstream("--docs", "ask", "--legacy")
    config = f"""
gateway: {{name: asking, authorizerType: NONE}}
targets:
  - name: ask
    targetConfiguration: {{mcp: {{mcpServer: {{endpoint: "{upstream_url}"}}}}}}
"""
    with _gateway(config, (upstream,)) as url:
        yield url


def test_elicitation_sampling_and_logs_are_relayed_to_the_client(asking):
    from mcp.types import CreateMessageResult, ElicitResult, TextContent

    asked, sampled, logged = [], [], []

    async def on_elicit(context, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"name": "Zed"})

    async def on_sample(context, params):
        sampled.append(params.messages[0].content.text)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="tides are slow"), model="test-model"
        )

    async def on_log(params):
        logged.append((params.level, params.data))

    async def run():
        async with Client(
            asking, mode="legacy", elicitation_callback=on_elicit, sampling_callback=on_sample,
            logging_callback=on_log,
        ) as client:
            named = await client.call_tool("ask___ask_name", {})
            assert not named.is_error, named
            assert named.content[0].text == "Hello, Zed!"
            assert asked == ["What is your name?"]

            said = await client.call_tool("ask___sample", {"topic": "the sea"})
            assert said.content[0].text == "sampled: tides are slow (test-model)"
            assert sampled == ["One line on the sea"]

            await client.set_logging_level("warning")
            chatty = await client.call_tool("ask___chatty", {})
            assert chatty.content[0].text == "said three things"
            # Only what the client asked for: warning and above.
            assert [level for level, _ in logged] == ["warning"], logged

    asyncio.run(run())


def test_a_2026_07_28_client_answers_a_handshake_upstream_that_asks_mid_call(asking):
    """The upstream asks mid-call and waits; a 2026-07-28 client gets `input_required`
    instead, while the gateway holds the upstream's call open, and its retry delivers the
    answers to the waiting upstream: elicitation, then sampling."""
    from mcp.types import CreateMessageResult, ElicitResult, TextContent

    asked, sampled = [], []

    async def on_elicit(context, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"name": "Lin"})

    async def on_sample(context, params):
        sampled.append(params.messages[0].content.text)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="dunes shift"), model="m-2026"
        )

    async def run():
        async with Client(
            asking, mode="auto", elicitation_callback=on_elicit, sampling_callback=on_sample, cache=None
        ) as client:
            assert client.protocol_version == "2026-07-28"
            named = await client.call_tool("ask___ask_name", {})
            assert not named.is_error, named
            assert named.content[0].text == "Hello, Lin!"
            assert asked == ["What is your name?"]
            said = await client.call_tool("ask___sample", {"topic": "the desert"})
            assert said.content[0].text == "sampled: dunes shift (m-2026)", said
            assert sampled == ["One line on the desert"]

    asyncio.run(run())


def test_a_prompt_that_asks_mid_get_works_in_both_eras(asking):
    """A handshake-era server's prompt elicits while it is being got: a handshake client is
    asked on the response stream; a 2026-07-28 client gets `input_required` while the gateway
    holds the server's request."""
    from mcp.types import ElicitResult

    async def run(mode, who):
        async def on_elicit(context, params):
            assert params.message == "Whom shall I greet?"
            return ElicitResult(action="accept", content={"name": who})

        async with Client(asking, mode=mode, elicitation_callback=on_elicit, cache=None) as client:
            got = await client.get_prompt("ask___ask_greet", {})
            return got.messages[0].content.text

    assert asyncio.run(run("legacy", "Kay")) == "Hello, Kay! (ask)"
    assert asyncio.run(run("auto", "Lee")) == "Hello, Lee! (ask)"


def test_a_client_that_cannot_elicit_is_never_asked(asking):
    async def run():
        # No elicitation callback: the client declares no elicitation capability.
        async with Client(asking, mode="legacy") as client:
            # The gateway declared the client's capabilities to its upstream session, so the
            # upstream answers with the error the specification prescribes, passed through.
            with pytest.raises(Exception, match="did not declare the form elicitation"):
                await client.call_tool("ask___ask_name", {})

    asyncio.run(run())


def _ask_name(url, mode, who):
    """Calls `alpha___ask_name` as a client in `mode` whose user answers `who`: the protocol
    version agreed, the result, and what the user was asked."""
    from mcp.types import ElicitResult

    asked = []

    async def on_elicit(context, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"name": who})

    async def run():
        async with Client(url, mode=mode, elicitation_callback=on_elicit, cache=None) as client:
            return client.protocol_version, await client.call_tool("alpha___ask_name", {})

    version, named = asyncio.run(run())
    return version, named, asked


def test_input_required_round_trips_through_the_gateway_in_2026_07_28(surface):
    """A 2026-07-28 upstream asks for input with `input_required`; the client answers and
    resumes with the gateway's sealed `requestState`, which no other principal, tool or
    tampering can reuse."""
    version, named, asked = _ask_name(surface, "auto", "Ada")
    assert version == "2026-07-28"
    assert not named.is_error, named
    assert named.content[0].text == "Hello, Ada!"
    assert asked == ["What is your name?"]


def test_a_handshake_client_answers_a_2026_07_28_upstreams_input_required(surface):
    """The upstream speaks 2026-07-28 and asks with `input_required`; a handshake-era client
    is asked on its response stream instead, and the gateway resumes the upstream with the
    answer and the upstream's own state."""
    version, named, asked = _ask_name(surface, "legacy", "Grace")
    assert version == "2025-11-25"
    assert not named.is_error, named
    assert named.content[0].text == "Hello, Grace!"
    assert asked == ["What is your name?"]


def test_forged_or_misused_request_state_is_refused(surface):
    import json as _json
    import urllib.error
    import urllib.request

    def call(params, capabilities):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            **params, "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
                                "io.modelcontextprotocol/clientCapabilities": capabilities}}}
        req = urllib.request.Request(surface, data=_json.dumps(body).encode(), method="POST", headers={
            "content-type": "application/json", "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": params["name"]})
        try:
            with urllib.request.urlopen(req) as r:
                return _json.loads(r.read())
        except urllib.error.HTTPError as e:
            return _json.loads(e.read())

    first = call({"name": "alpha___ask_name", "arguments": {}}, {"elicitation": {}})
    result = first["result"]
    assert result["resultType"] == "input_required", first
    state = result["requestState"]
    (key, request), = result["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    answer = {key: {"action": "accept", "content": {"name": "Eve"}}}
    # Tampered, or presented for another tool: refused as invalid parameters.
    forged = state[:-2] + ("AA" if state[-2:] != "AA" else "BB")
    bad = call({"name": "alpha___ask_name", "arguments": {}, "inputResponses": answer, "requestState": forged}, {"elicitation": {}})
    assert bad["error"]["code"] == -32602 and "requestState" in bad["error"]["message"], bad
    other = call({"name": "beta___ask_name", "arguments": {}, "inputResponses": answer, "requestState": state}, {"elicitation": {}})
    assert other["error"]["code"] == -32602 and "another request" in other["error"]["message"], other
    # The genuine one resumes the call.
    done = call({"name": "alpha___ask_name", "arguments": {}, "inputResponses": answer, "requestState": state}, {"elicitation": {}})
    assert done["result"]["content"][0]["text"] == "Hello, Eve!", done
    # A client that declared no elicitation is never handed the request: the upstream, told
    # the client's capabilities, answers with the error the specification prescribes.
    blind = call({"name": "alpha___ask_name", "arguments": {}}, {})
    assert blind["error"]["code"] == -32021, blind
