"""An upstream MCP server for the gateway's tests, built on the official Python SDK (`mcp` 2.x).

    python tests/e2e/upstream_mcp.py [--stateless] [--json] [--token T] [--page-size N]

Prints `listening on http://127.0.0.1:PORT/mcp` on stderr once it accepts connections.
- `--stateless`: no sessions (the SDK's stateless streamable HTTP); otherwise sessions.
- `--json`: JSON responses instead of SSE streams.
- `--token T`: every request needs `Authorization: Bearer T` (401 otherwise).
- `--page-size N`: `tools/list` pages of N tools (the SDK lists all in one page otherwise).
- `--legacy`: refuse 2026-07-28 requests, as a server that predates that version does, so
  clients fall back to the `initialize` handshake.

Tools: `echo`, `add` (structured output), `image`, `fail` (isError), `slow`, `whoami` (what
the request carried), `grow` (adds a tool and announces `list_changed`), and fillers
`filler_0..K` with `--fillers K`.

With `--docs LABEL`, also prompts, resources, a resource template and completions, each
saying LABEL so a test can tell which upstream answered: the prompt `greet(who)`, the
resources `docs://shared` and `docs://only/LABEL`, the template `docs://pages/{page}`,
completions of `who` and `page`, the tool `add_prompt` (adds a prompt and announces
`notifications/prompts/list_changed`), and tools that ask the client for something mid-call:
`ask_name` (elicitation), `sample` (sampling), `chatty` (log messages), and `touch`
(announces `notifications/resources/updated` for a URI).
"""

import argparse
import asyncio
import base64
import socket
import sys

import uvicorn
from pydantic import BaseModel
from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.server.mcpserver.prompts import Prompt
from mcp.types import Completion, ImageContent, ListToolsResult, TextContent
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

class Sum(BaseModel):
    sum: int


LAST_HEADERS = {}
# Sessions that listed the tools: `grow` tells each of them (tools are global here).
LISTENERS = []


class Paged(MCPServer):
    """Lists tools `page_size` at a time, with the offset as the cursor."""

    page_size = 0

    async def _handle_list_tools(self, ctx, params):
        if ctx.session not in LISTENERS:
            LISTENERS.append(ctx.session)
        tools = await self.list_tools()
        if not self.page_size:
            return ListToolsResult(tools=tools)
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + self.page_size
        nxt = str(end) if end < len(tools) else None
        return ListToolsResult(tools=tools[start:end], next_cursor=nxt)


def docs(server: MCPServer, label: str) -> None:
    """Prompts, resources, a template and completions that say `label`."""

    @server.prompt(description="Greets someone")
    def greet(who: str) -> str:
        return f"Hello, {who}! ({label})"

    @server.resource("docs://shared", name="shared", mime_type="text/plain")
    def shared() -> str:
        return f"shared from {label}"

    @server.resource(f"docs://only/{label}", name=f"only-{label}", mime_type="text/plain")
    def only() -> str:
        return f"only {label}"

    @server.resource("docs://pages/{page}", name="page", mime_type="text/plain")
    def page(page: str) -> str:
        return f"page {page} from {label}"

    @server.tool(description="Adds a prompt and announces that the prompt list changed")
    async def add_prompt(name: str, ctx: Context) -> str:
        server.add_prompt(Prompt.from_function(lambda: f"I am {name}", name=name, description=f"Added: {name}"))
        try:
            await ctx.notify_prompts_changed()
        except Exception:  # noqa: BLE001 - older sessions have no subscription bus
            pass
        for session in [*LISTENERS, ctx.request_context.session]:
            try:
                await session.send_prompt_list_changed()
            except Exception:  # noqa: BLE001 - a stateless or closed session has no stream
                pass
        return f"added {name}"

    class Name(BaseModel):
        name: str

    def ask() -> Elicit[Name]:
        return Elicit("What is your name?", Name)

    if label == "ask":

        @server.prompt(description="Asks the user whom to greet (elicitation mid-get)")
        async def ask_greet(ctx: Context) -> str:
            answer = await ctx.elicit("Whom shall I greet?", Name)
            who = answer.data.name if answer.action == "accept" and answer.data else "nobody"
            return f"Hello, {who}! ({label})"

    # Mid-call in the handshake era; `input_required` and a retry in 2026-07-28.
    @server.tool(description="Asks the client's user for a name (elicitation)")
    async def ask_name(name: Annotated[Name, Resolve(ask)]) -> str:
        return f"Hello, {name.name}!"

    @server.tool(description="Asks the client's model for a sentence (sampling)")
    async def sample(topic: str, ctx: Context) -> str:
        from mcp.types import SamplingMessage

        done = await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text=f"One line on {topic}"))],
            max_tokens=50,
            related_request_id=ctx.request_id,
        )
        return f"sampled: {done.content.text} ({done.model})"

    @server.tool(description="Says that a resource changed (to its subscribers)")
    async def touch(uri: str, ctx: Context) -> str:
        await ctx.notify_resource_updated(uri)
        try:
            await ctx.session.send_resource_updated(uri)
        except Exception:  # noqa: BLE001 - a stateless session has no stream
            pass
        return f"touched {uri}"

    @server.tool(description="Logs at debug, info and warning, then answers")
    async def chatty(ctx: Context) -> str:
        await ctx.debug("a debug line")
        await ctx.info("an info line")
        await ctx.warning("a warning line")
        return "said three things"

    @server.completion()
    async def complete(ref, argument, context):
        choices = {"who": ["alice", "bob", "carol"], "page": ["install", "intro", "usage"]}
        values = [v for v in choices.get(argument.name, []) if v.startswith(argument.value)]
        return Completion(values=values, total=len(values), has_more=False)


def build(page_size: int, fillers: int, label: str = "") -> MCPServer:
    server = Paged("upstream-test", version="1.0")
    server.page_size = page_size
    if label:
        docs(server, label)

    @server.tool(description="Echoes the text back")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Adds two integers")
    def add(a: int, b: int) -> Sum:
        return Sum(sum=a + b)

    @server.tool(description="Returns a tiny PNG")
    def image() -> list:
        return [
            TextContent(type="text", text="a picture"),
            ImageContent(type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png"),
        ]

    @server.tool(description="Always fails")
    def fail() -> str:
        raise ValueError("this tool always fails")

    @server.tool(description="Sleeps for the given seconds")
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @server.tool(description="What the last request carried")
    def whoami() -> dict:
        return dict(LAST_HEADERS)

    @server.tool(description="Adds a tool and announces that the list changed")
    async def grow(name: str, ctx: Context) -> str:
        def grown() -> str:
            return f"I am {name}"

        server.add_tool(grown, name=name, description=f"Grown at run time: {name}")
        try:
            await ctx.notify_tools_changed()
        except Exception:  # noqa: BLE001 - older sessions have no subscription bus
            pass
        for session in [*LISTENERS, ctx.request_context.session]:
            try:
                await session.send_tool_list_changed()
            except Exception:  # noqa: BLE001 - a stateless or closed session has no stream
                pass
        return f"added {name}"

    for i in range(fillers):
        server.add_tool(lambda i=i: f"filler {i}", name=f"filler_{i}", description=f"Filler {i}")
    return server


class Bearer(BaseHTTPMiddleware):
    def __init__(self, app, token, legacy):
        super().__init__(app)
        self.token = token
        self.legacy = legacy

    async def dispatch(self, request, call_next):
        LAST_HEADERS.clear()
        for k in ("authorization", "mcp-protocol-version", "mcp-session-id", "mcp-method", "mcp-name", "x-api-key"):
            if k in request.headers:
                LAST_HEADERS[k] = request.headers[k]
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if self.legacy and request.headers.get("mcp-protocol-version") == "2026-07-28":
            # As a server that predates 2026-07-28 answers: the version is not one it knows.
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Unsupported protocol version"}},
                status_code=400,
            )
        return await call_next(request)


def serve(app) -> None:
    """Serves `app` on 127.0.0.1 (a free port), saying where on stderr once it accepts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    async def run():
        task = asyncio.create_task(srv.serve(sockets=[sock]))
        while not srv.started:
            await asyncio.sleep(0.02)
        print(f"listening on http://127.0.0.1:{port}/mcp", file=sys.stderr, flush=True)
        await task

    asyncio.run(run())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--stateless", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--token", default="")
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--fillers", type=int, default=0)
    p.add_argument("--legacy", action="store_true", help="refuse 2026-07-28, as an older server does")
    p.add_argument("--docs", default="", metavar="LABEL", help="serve prompts and resources too")
    a = p.parse_args()
    server = build(a.page_size, a.fillers, a.docs)
    app = server.streamable_http_app(stateless_http=a.stateless, json_response=a.json)
    app.add_middleware(Bearer, token=a.token, legacy=a.legacy)
    serve(app)

if __name__ == "__main__":
    main()
