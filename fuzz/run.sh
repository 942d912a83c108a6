#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the three parsers that take untrusted
# input: the MCP request decoder and dispatcher, the OpenAPI importer (on raw text, and
# structure-aware with property checks on the tools and requests it yields) and the config
# loader.
# Usage: fuzz/run.sh [SECONDS per target, default 600] [TARGET...]
# Runs on the stable toolchain (no sanitizer); installs cargo-fuzz if it is missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mcp_request openapi_import openapi_structured config_load)
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz@0.13.2
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzz $t for ${seconds}s"
  log=$(mktemp)
  if ! cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
    # A crash, a hang (-timeout) or too much memory (-rss_limit_mb): show it and fail.
    tail -60 "$log"
    exit 1
  fi
  grep -E '^Done' "$log" || tail -5 "$log"
  rm -f "$log"
done
