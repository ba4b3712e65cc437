#!/usr/bin/env bash
# The load test: wrk (Debian's `wrk`) against the local gateway's audit route for 30 s at 8
# connections, then the server's bare PutItem ceiling at the same concurrency, in the same run
# and on the same server. Each audited action is one verify (GetItem) and one PutItem, through
# the gateway's authorizer and handler, so the route's ceiling is about half the server's.
#
#   bench/load.sh [ministack|moto]     (builds the release binaries it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
server="${1:-ministack}"
seconds="${AGENTID_LOAD_SECONDS:-30}"
command -v wrk >/dev/null || { echo "load.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet -p agentid-local -p agentid-bench --bin put-load --bin agentid-local
exec python3 infra/localddb.py run "${server}" -- bash -c '
set -euo pipefail
seconds="$1"
port="$(python3 -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")"
base="http://127.0.0.1:${port}"
state="$(mktemp -d)"
RUST_LOG=warn target/release/agentid-local --port "${port}" --table "agentid-load-$$" \
  --sweep-every 0 --state-dir "${state}" >/dev/null 2>&1 &
gateway=$!
trap "kill ${gateway} 2>/dev/null || true; rm -rf ${state}" EXIT
for _ in $(seq 1 100); do curl -fsS "${base}/_local/health" >/dev/null 2>&1 && break; sleep 0.2; done
post() { curl -fsS -X "$1" "${base}$2" -H "content-type: application/json" ${3:+-H "authorization: Bearer $3"} -d "$4"; }
field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
admin="$(post POST /_local/token "" "{\"sub\": \"load-admin\", \"admin\": true}" | field "[\"token\"]")"
post PUT /v1/users/govind "${admin}" "{\"email\": \"govind@example.com\"}" >/dev/null
export AGENTID_LOAD_SECRET="$(post POST /v1/agents "${admin}" "{\"name\": \"load\", \"ownerUserId\": \"govind\"}" | field "[\"credential\"][\"secret\"]")"
export AGENTID_LOAD_OCCURRED_AT="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
echo "== wrk: POST /v1/audit-events through the gateway, ${seconds} s, 8 connections (${AGENTID_LOCAL_SERVER})"
wrk --threads 2 --connections 8 --duration "${seconds}s" --latency --script bench/audit_load.lua "${base}"
echo "== bare PutItem against the same server, ${seconds} s, 8 in flight"
target/release/put-load --concurrency 8 --seconds "${seconds}"
' load "${seconds}"
