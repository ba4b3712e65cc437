#!/usr/bin/env bash
# The load test: wrk (Debian's `wrk`) against the local gateway's audit route for 30 s at 8
# connections, then the server's bare PutItem ceiling at the same concurrency, in the same run
# and on the same server. Each audited action is one verify (GetItem) and one PutItem, through
# the gateway's authorizer and handler, so the route's ceiling is about half the server's.
#
#   bench/load.sh [ministack|moto]     (builds the release binaries it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--inside" ]; then
  command -v wrk >/dev/null || { echo "load.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
  cargo build --release --quiet -p agentid-local -p agentid-bench --bin put-load --bin agentid-local
  exec python3 infra/localddb.py run "${1:-ministack}" -- bash bench/load.sh --inside
fi

seconds="${AGENTID_LOAD_SECONDS:-30}"
source infra/local_gateway.sh
RUST_LOG=warn start_local_gateway target/release/agentid-local "agentid-load-$$" /dev/null
api PUT /v1/users/govind "${admin}" '{"email": "govind@example.com"}' >/dev/null
AGENTID_LOAD_SECRET="$(api POST /v1/agents "${admin}" '{"name": "load", "ownerUserId": "govind"}' | json_field '["credential"]["secret"]')"
AGENTID_LOAD_OCCURRED_AT="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
export AGENTID_LOAD_SECRET AGENTID_LOAD_OCCURRED_AT
echo "== wrk: POST /v1/audit-events through the gateway, ${seconds} s, 8 connections (${AGENTID_LOCAL_SERVER})"
wrk --threads 2 --connections 8 --duration "${seconds}s" --latency --script bench/audit_load.lua "${base}"
echo "== bare PutItem against the same server, ${seconds} s, 8 in flight"
target/release/put-load --concurrency 8 --seconds "${seconds}"
