#!/usr/bin/env bash
# Serves DynamoDB and EventBridge Scheduler as MCP tools (their published Smithy models) against
# moto, a local AWS emulator, on this machine: no AWS account. Installs moto into .venv on first
# use, starts it on 127.0.0.1:5000, and the gateway on 127.0.0.1:8080 (MCP at /mcp).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:5000}"
unset AWS_SESSION_TOKEN

cargo build --quiet --release --bin mcp-gateway
.venv/bin/moto_server -H 127.0.0.1 -p 5000 >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -s -o /dev/null "$AWS_ENDPOINT_URL" && break
  sleep 0.2
done
status=0
./target/release/mcp-gateway serve --config examples/aws/gateway.yaml "$@" || status=$?
exit $status
