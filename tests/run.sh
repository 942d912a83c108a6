#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests (real sockets on 127.0.0.1), then the
# end-to-end tests in which the official MCP Python and TypeScript SDKs drive the gateway binary,
# the example backend and upstream MCP servers built on those SDKs, then a short soak under load.
# Installs the Python packages it needs into .venv on first use, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
# Strands Agents pins an older `mcp` than the rest of the suite: it gets its own environment.
if [ ! -x .venv-strands/bin/python ]; then
  python3 -m venv .venv-strands
fi
.venv-strands/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements-strands.txt
# The TypeScript SDK client and its reference server (server-everything), pinned by the lock file.
(cd tests/e2e/ts && npm ci --silent --no-audit --no-fund)

cargo test --all-targets
cargo build --bin mcp-gateway --example petstore-backend --example bench
.venv/bin/python -m pytest tests/e2e -q
# A short soak (c=64, mixed calls, 20 s, debug build): zero errors, flat memory and
# descriptors, no inbound connection left behind. `bench/run.sh --soak 300` is the long one.
target/debug/examples/bench --soak 20 --gateway target/debug/mcp-gateway
