#!/usr/bin/env bash
# The MCP benchmark: builds the gateway and the driver in release mode, then runs every
# scenario through the gateway and straight to the backend in the same run (see BENCHMARKS.md).
# Options: --seconds N (per measurement, default 3), --quick (c=1 and 16 only),
# --concurrency N,N, --only SCENARIO, --gateway-env K=V; --soak SECONDS runs the soak test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin mcp-gateway --example bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
./target/release/examples/bench "$@"
