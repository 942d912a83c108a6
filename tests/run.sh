#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests (real sockets on 127.0.0.1), then the
# end-to-end test in which the official MCP Python SDK drives the gateway binary and the
# example backend, then a short soak under load. Installs the Python packages it needs into .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt

cargo test --all-targets
cargo build --bin mcp-gateway --example petstore-backend --example bench
.venv/bin/python -m pytest tests/e2e -q
# A short soak (c=64, mixed calls, 20 s, debug build): zero errors, flat memory and
# descriptors, no inbound connection left behind. `bench/run.sh --soak 300` is the long one.
target/debug/examples/bench --soak 20 --gateway target/debug/mcp-gateway
