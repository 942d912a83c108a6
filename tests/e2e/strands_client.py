"""Strands Agents' `MCPClient` against the gateway: list the tools, call one of each kind.

Runs in its own virtual environment (`.venv-strands`: Strands pins an older `mcp` than the
rest of the suite); `test_aws_targets.py` starts it and reads one JSON line from stdout.

    python strands_client.py <gateway MCP URL> <tool> <arguments JSON> [<tool> <arguments JSON> ...]
"""

import json
import sys

from strands.tools.mcp import MCPClient


def main():
    url, calls = sys.argv[1], sys.argv[2:]
    client = MCPClient(url=url)
    with client:
        names = []
        pagination = None
        while True:
            page = client.list_tools_sync(pagination_token=pagination)
            names += [t.tool_name for t in page]
            pagination = page.pagination_token
            if not pagination:
                break
        results = []
        for i in range(0, len(calls), 2):
            r = client.call_tool_sync(f"call-{i}", calls[i], json.loads(calls[i + 1]))
            results.append({
                "status": r["status"],
                "text": [c.get("text") for c in r["content"]],
                "structured": r.get("structuredContent"),
            })
    print(json.dumps({"tools": names, "results": results}))


if __name__ == "__main__":
    main()
