"""The MCP conformance suite's expected resources, served by the official Python SDK's server,
for `tests/conformance.sh` to put behind the gateway: `test://static-text`,
`test://static-binary` and the template `test://template/{id}/data`, with the contents the
suite's resource scenarios check.

    python tests/e2e/conformance_fixture.py

Prints `listening on http://127.0.0.1:PORT/mcp` on stderr once it accepts connections.
"""

from mcp.server.mcpserver import MCPServer

from upstream_mcp import serve

server = MCPServer("conformance-fixture", version="1.0")


@server.resource("test://static-text", name="static-text", mime_type="text/plain")
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="static-binary", mime_type="image/png")
def static_binary() -> bytes:
    # A 1x1 PNG.
    return bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6364f8cf50000004010101a40b3a7d0000000049454e44ae426082"
    )


@server.resource("test://template/{id}/data", name="template", mime_type="application/json")
def template(id: str) -> str:
    return '{"id": "%s", "templateTest": true, "data": "Data for ID: %s"}' % (id, id)


@server.tool(description="A tool, so the fixture is a complete server")
def echo(text: str) -> str:
    return text


if __name__ == "__main__":
    serve(server.streamable_http_app())
