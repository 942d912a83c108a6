#!/usr/bin/env bash
# Runs the whole example on this machine: the PetStore backend on 127.0.0.1:9090 and the gateway
# on 127.0.0.1:8080 (MCP at http://127.0.0.1:8080/mcp). No AWS account needed: the demo
# credentials below sign requests that the local backend verifies. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIDPETSTOREDEMO}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-petstore-demo-secret}"
export PETSTORE_API_KEY="${PETSTORE_API_KEY:-petstore-demo-api-key}"
export PETSTORE_LISTEN="${PETSTORE_LISTEN:-127.0.0.1:9090}"
export PETSTORE_URL="${PETSTORE_URL:-http://$PETSTORE_LISTEN}"
unset AWS_SESSION_TOKEN

cargo build --quiet --release --bin mcp-gateway --example petstore-backend
./target/release/examples/petstore-backend &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT
exec_status=0
./target/release/mcp-gateway serve --config examples/petstore/gateway.yaml "$@" || exec_status=$?
exit $exec_status
